/* The listening sockets of the control plane's HTTP servers (the API's
 * TCP side, the metrics): "HOST:PORT" or "[V6]:PORT", port 0 for any. */
#ifndef AMALGAM_API_LISTEN_H
#define AMALGAM_API_LISTEN_H

#include <stddef.h>

/* A listening socket, its port in *port; or -errno with the reason in
 * err, naming the flag. */
int api_tcp_listen(const char *addr, const char *flag, int *port, char *err, size_t errlen);

#endif
