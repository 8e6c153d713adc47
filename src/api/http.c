/* The HTTP servers' shared parts (http.h). */
#include "api/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/confine.h"

int api_tcp_listen(const char *addr, const char *flag, int *port, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int fd = -1, one = 1, r;

	if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= sizeof(host)) {
		snprintf(err, errlen, "%s must be HOST:PORT, not '%s'", flag, addr);
		return -EINVAL;
	}
	hl = (size_t)(colon - addr);
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r) {
		snprintf(err, errlen, "%s %s: %s", flag, addr, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		int e = errno;

		snprintf(err, errlen, "cannot listen on %s %s: %s", flag, addr, strerror(e));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -e;
	}
	freeaddrinfo(res);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}


enum MHD_Result api_queue(struct MHD_Connection *c, unsigned status, const char *type,
			  struct MHD_Response *r)
{
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result api_respond(struct MHD_Connection *c, unsigned status, const char *type,
			    char *body)
{
	struct MHD_Response *r;

	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	return api_queue(c, status, type, r);
}

struct http_start {
	unsigned flags, conn_limit, timeout_s;
	int fd;
	MHD_AccessHandlerCallback handler;
	MHD_RequestCompletedCallback notify;
	void *cls;
	struct MHD_Daemon *d;
};

static int start_daemon(void *arg)
{
	struct http_start *h = arg;

	h->d = MHD_start_daemon(h->flags, 0, NULL, NULL, h->handler, h->cls,
				MHD_OPTION_LISTEN_SOCKET, h->fd,
				MHD_OPTION_CONNECTION_LIMIT, h->conn_limit,
				MHD_OPTION_CONNECTION_TIMEOUT, h->timeout_s,
				MHD_OPTION_NOTIFY_COMPLETED, h->notify, h->cls,
				MHD_OPTION_END);
	return 0;
}

struct MHD_Daemon *api_http_start(unsigned flags, int fd, MHD_AccessHandlerCallback handler,
				  void *cls, unsigned conn_limit, unsigned timeout_s,
				  MHD_RequestCompletedCallback notify)
{
	struct http_start h = {
		.flags = flags, .conn_limit = conn_limit, .timeout_s = timeout_s, .fd = fd,
		.handler = handler, .notify = notify, .cls = cls,
	};

	return confine_run_as(CONFINE_API, start_daemon, &h) ? NULL : h.d;
}
