#include "cluster/rtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "util/confine.h"
#include "util/lathist.h"
#include "util/log.h"

struct rtt_server {
	int lfd;
	int port;
	int stop_pipe[2];
	pthread_t thread;
};

static int full_io(int fd, void *buf, size_t len, int write_it)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write_it ? send(fd, (char *)buf + off, len - off, MSG_NOSIGNAL)
				     : recv(fd, (char *)buf + off, len - off, 0);
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = RTT_IO_TIMEOUT_S };
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *serve(void *arg)
{
	struct rtt_server *s = arg;
	static char req[RTT_REQ_BYTES], reply[RTT_REPLY_BYTES];

	confine_thread(CONFINE_ECHO, 0);
	for (;;) {
		struct pollfd p[2] = { { s->lfd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		set_timeouts(fd);
		for (;;) {
			uint64_t tsc;
			size_t len = sizeof(reply);

			if (full_io(fd, req, sizeof(req), 0))
				break;
			tsc = __rdtsc();
			memcpy(reply, &tsc, sizeof(tsc));
			if (req[0] == RTT_TSC_PROBE)
				len = RTT_REQ_BYTES;
			if (full_io(fd, reply, len, 1))
				break;
		}
		close(fd);
	}
	return NULL;
}

int rtt_server_start(const char *host, struct rtt_server **out)
{
	struct rtt_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int err;

	if (!s)
		return -ENOMEM;
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		a.sin_addr.s_addr = htonl(INADDR_ANY);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, 1) < 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0 ||
	    pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		err = -errno;
		if (s->lfd >= 0)
			close(s->lfd);
		free(s);
		return err;
	}
	s->port = ntohs(a.sin_port);
	err = pthread_create(&s->thread, NULL, serve, s);
	if (err) {
		close(s->lfd);
		free(s);
		return -err;
	}
	*out = s;
	return 0;
}

int rtt_server_port(struct rtt_server *s)
{
	return s->port;
}

void rtt_server_stop(struct rtt_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0)
		pr_warn("rtt: cannot stop the echo server");
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	free(s);
}

/* A connected, Nagle-free socket to host:port, or -errno. */
static int dial(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, err;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	set_timeouts(fd);
	return fd;
}

int rtt_measure(const char *host, int port, unsigned n, struct rtt_result *out)
{
	static char req[RTT_REQ_BYTES], reply[RTT_REPLY_BYTES];
	struct lathist *h;
	uint64_t min = UINT64_MAX;
	int fd, err = 0;

	if (!n)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	fd = dial(host, port);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	for (unsigned i = 0; i < n + 100; i++) {
		struct timespec t0, t1;
		uint64_t ns;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = full_io(fd, req, sizeof(req), 1);
		if (!err)
			err = full_io(fd, reply, sizeof(reply), 0);
		if (err)
			goto out;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (i < 100)	/* warm-up */
			continue;
		ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
				(t1.tv_nsec - t0.tv_nsec));
		lathist_add(h, ns);
		if (ns < min)
			min = ns;
	}
	out->samples = n;
	out->min_us = min / 1e3;
	out->p50_us = lathist_pct(h, 50) / 1e3;
	out->p99_us = lathist_pct(h, 99) / 1e3;
out:
	if (fd >= 0)
		close(fd);
	free(h);
	return err;
}

int rtt_tsc_probe(const char *host, int port, unsigned n, struct tsc_probe *out)
{
	char req[RTT_REQ_BYTES] = { RTT_TSC_PROBE }, reply[RTT_REQ_BYTES];
	int fd = dial(host, port), err = 0;

	if (fd < 0)
		return fd;
	for (unsigned i = 0; i < n + 10; i++) {
		struct tsc_probe p;

		p.t_send = __rdtsc();
		err = full_io(fd, req, sizeof(req), 1);
		if (!err)
			err = full_io(fd, reply, sizeof(reply), 0);
		p.t_recv = __rdtsc();
		if (err)
			break;
		memcpy(&p.peer_tsc, reply, sizeof(p.peer_tsc));
		if (i >= 10)	/* warm-up */
			out[i - 10] = p;
	}
	close(fd);
	return err;
}
