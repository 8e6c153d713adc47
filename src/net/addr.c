#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_port(const char *s, bool passive, uint16_t *port,
		      const char **why)
{
	unsigned long v = 0;

	if (!*s) {
		*why = "missing port after ':'";
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			*why = "port is not a decimal number";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535) {
			*why = "port out of range (0-65535)";
			return -EINVAL;
		}
	}
	if (v == 0 && !passive) {
		*why = "port 0 is only valid for listening";
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

int addr_parse(const char *s, bool passive, struct net_addr *out,
	       const char **why)
{
	char host[256], port_str[8];
	const char *colon, *port_s;
	struct addrinfo hints = { 0 }, *res;
	uint16_t port;
	size_t hlen;
	int err;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!s || !*s) {
		*why = "empty address (expected host:port)";
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close) {
			*why = "missing ']' after IPv6 address";
			return -EINVAL;
		}
		if (close[1] != ':') {
			*why = "missing ':port' after ']'";
			return -EINVAL;
		}
		hlen = (size_t)(close - s - 1);
		port_s = close + 2;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "missing port (expected host:port or [ipv6]:port)";
			return -EINVAL;
		}
		if (memchr(s, ':', (size_t)(colon - s))) {
			*why = "IPv6 address must be in brackets: [addr]:port";
			return -EINVAL;
		}
		hlen = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hlen >= sizeof(host)) {
		*why = "host name too long";
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = 0;
	err = parse_port(port_s, passive, &port, why);
	if (err)
		return err;

	if (!hlen) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

		if (!passive) {
			*why = "missing host (only a listen address may omit it)";
			return -EINVAL;
		}
		/* Dual-stack wildcard; addr_listen falls back to IPv4 where
		 * IPv6 is unavailable. */
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons(port);
		out->len = sizeof(*a6);
		out->wildcard = true;
		return 0;
	}

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port_str, sizeof(port_str), "%u", port);
	err = getaddrinfo(host, port_str, &hints, &res);
	if (err) {
		*why = gai_strerror(err);
		return -EHOSTUNREACH;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void addr_format(const struct sockaddr *sa, char buf[ADDR_STR_MAX])
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, ADDR_STR_MAX, "%s:%u", ip, ntohs(a->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, ADDR_STR_MAX, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		snprintf(buf, ADDR_STR_MAX, "(family %d)", sa->sa_family);
	}
}

static int listen_on(const struct sockaddr *sa, socklen_t len, int backlog,
		     bool dual)
{
	int one = 1, zero = 0;
	int fd, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int addr_listen(const struct net_addr *a, int backlog)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	int fd;

	fd = listen_on((const struct sockaddr *)&a->ss, a->len, backlog,
		       a->wildcard);
	if (fd >= 0 || !a->wildcard || fd != -EAFNOSUPPORT)
		return fd;
	a4.sin_port = ((const struct sockaddr_in6 *)&a->ss)->sin6_port;
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	return listen_on((const struct sockaddr *)&a4, sizeof(a4), backlog, false);
}

int addr_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int addr_connect(const struct net_addr *a, unsigned timeout_ms)
{
	struct pollfd pfd;
	int64_t deadline, left;
	socklen_t elen = sizeof(int);
	int fd, err = 0, soerr = 0, r;

	if (a->wildcard)
		return -EINVAL;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		deadline = now_ms() + timeout_ms;
		do {
			left = deadline - now_ms();
			r = poll(&pfd, 1, left > 0 ? (int)left : 0);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			err = -errno;
			goto fail;
		}
		if (r == 0) {
			err = -ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
			soerr = errno;
		if (soerr) {
			err = -soerr;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

void addr_host(const char *s, char *host, size_t len)
{
	const char *colon = strrchr(s, ':');
	int n = colon ? (int)(colon - s) : (int)strlen(s);

	snprintf(host, len, "%.*s", n, s);
}
