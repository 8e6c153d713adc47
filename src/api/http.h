/* What the control plane's two HTTP servers (the API, the metrics)
 * share: their TCP listening sockets ("HOST:PORT" or "[V6]:PORT", port 0
 * for any) and how an answer is queued. */
#ifndef AMALGAM_API_HTTP_H
#define AMALGAM_API_HTTP_H

#include <microhttpd.h>
#include <stddef.h>

/* A listening socket, its port in *port; or -errno with the reason in
 * err, naming the flag. */
int api_tcp_listen(const char *addr, const char *flag, int *port, char *err, size_t errlen);

/* MHD_start_daemon on fd, from a thread confined as an API thread
 * (util/confine.h), so that libmicrohttpd's threads, which it starts, are
 * confined alike. flags: MHD_USE_*; notify (may be NULL) is called as
 * each request completes. NULL if it cannot start. */
struct MHD_Daemon *api_http_start(unsigned flags, int fd, MHD_AccessHandlerCallback handler,
				  void *cls, unsigned conn_limit, unsigned timeout_s,
				  MHD_RequestCompletedCallback notify);

/* Queue a complete answer: body (malloc'd, taken; NULL fails) with its
 * Content-Type, never cached. */
enum MHD_Result api_respond(struct MHD_Connection *c, unsigned status, const char *type,
			    char *body);
/* Queue response r (not taken) with its Content-Type, never cached. */
enum MHD_Result api_queue(struct MHD_Connection *c, unsigned status, const char *type,
			  struct MHD_Response *r);

#endif
