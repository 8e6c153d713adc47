/* Interconnect addresses: "host:port" strings to sockets, with errors a
 * user can act on, and TCP connect with a deadline.
 *
 * Accepted forms:  192.0.2.7:7000   [2001:db8::7]:7000   node3.lan:7000
 *                  :7000  (listen only: every address, IPv6 and IPv4)
 * An IPv6 address must be in brackets; the port is always required (0 is
 * allowed for listening: the kernel picks one, see addr_local_port). */
#ifndef AMALGAM_NET_ADDR_H
#define AMALGAM_NET_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool wildcard;		/* ":port": listen on all addresses */
};

#define ADDR_STR_MAX 80

/* Parse (and resolve a host name, the first result wins). 0 or -EINVAL
 * (syntax; *why says what is wrong) / -EHOSTUNREACH (name did not resolve;
 * *why is the resolver's message). why is static text. */
int addr_parse(const char *s, bool passive, struct net_addr *out,
	       const char **why);

/* The host part of "host:port" or "[v6]:port" (brackets kept), or "" for
 * ":port". Truncated to len. */
void addr_host(const char *s, char *host, size_t len);

/* "127.0.0.1:7000" or "[::1]:7000". */
void addr_format(const struct sockaddr *sa, char buf[ADDR_STR_MAX]);

/* A listening TCP socket (SO_REUSEADDR, close-on-exec). fd or -errno. */
int addr_listen(const struct net_addr *a, int backlog);
/* The port a socket is bound to, or -errno. */
int addr_local_port(int fd);
/* A connected TCP socket, blocking, close-on-exec, within timeout_ms.
 * fd, or -errno (-ETIMEDOUT, -ECONNREFUSED, ...). */
int addr_connect(const struct net_addr *a, unsigned timeout_ms);

#endif
