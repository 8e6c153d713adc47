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
#include <stdbool.h>
#include <unistd.h>
#include <x86intrin.h>

#include <sodium.h>

#include "util/confine.h"
#include "util/lathist.h"
#include "util/log.h"

struct rtt_server {
	int lfd;
	int port;
	int stop_pipe[2];	/* written once at stop; every thread polls it */
	pthread_t thread;
	uint8_t k[crypto_generichash_BYTES];	/* k_echo */
	pthread_mutex_t lock;
	pthread_cond_t idle;	/* clients dropped to 0 */
	unsigned clients;
};

struct client {
	struct rtt_server *s;
	int fd;
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

static const char echo_label[] = "AMLG-echo-v1";

static void echo_key(const struct auth_key *key, uint8_t k[crypto_generichash_BYTES])
{
	crypto_generichash(k, crypto_generichash_BYTES, (const uint8_t *)echo_label,
			   sizeof(echo_label) - 1, key->k, sizeof(key->k));
}

/* The answer to challenge c. */
static void hello_proof(const uint8_t *k, const uint8_t c[RTT_CHALLENGE_BYTES],
			uint8_t out[crypto_generichash_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k, crypto_generichash_BYTES, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)"hello", 5);
	crypto_generichash_update(&st, c, RTT_CHALLENGE_BYTES);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

/* The MAC of reply number n on the connection with challenge c. */
static void stamp_mac(const uint8_t *k, const uint8_t c[RTT_CHALLENGE_BYTES], uint64_t n,
		      struct rtt_stamp *st)
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, k, crypto_generichash_BYTES, RTT_MAC_BYTES);
	crypto_generichash_update(&h, c, RTT_CHALLENGE_BYTES);
	crypto_generichash_update(&h, (const uint8_t *)&n, sizeof(n));
	crypto_generichash_update(&h, (const uint8_t *)&st->tsc_in, sizeof(st->tsc_in));
	crypto_generichash_update(&h, (const uint8_t *)&st->tsc_out, sizeof(st->tsc_out));
	crypto_generichash_final(&h, st->mac, RTT_MAC_BYTES);
}

/* Read len bytes within ms, giving up at once when the server stops:
 * 0, -ETIMEDOUT, -ECANCELED or -ECONNRESET. */
static int read_within(struct rtt_server *s, int fd, void *buf, size_t len, int ms)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		int r = poll(p, 2, ms);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (p[1].revents)
			return -ECANCELED;
		n = recv(fd, (char *)buf + off, len - off, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

/* One client: the challenge, then echoes until it hangs up. */
static void *serve_client(void *arg)
{
	struct client *cl = arg;
	struct rtt_server *s = cl->s;
	uint8_t c[RTT_CHALLENGE_BYTES], want[crypto_generichash_BYTES],
		got[crypto_generichash_BYTES];
	char req[RTT_REQ_BYTES], reply[RTT_REPLY_BYTES] = { 0 };
	int fd = cl->fd;

	free(cl);
	randombytes_buf(c, sizeof(c));
	hello_proof(s->k, c, want);
	if (full_io(fd, c, sizeof(c), 1) ||
	    read_within(s, fd, got, sizeof(got), RTT_HELLO_MS) ||
	    sodium_memcmp(want, got, sizeof(want)))
		goto out;	/* no key, no answer: the prober saw only c */
	for (uint64_t n = 0;; n++) {
		struct rtt_stamp st;
		size_t len = sizeof(reply);

		if (read_within(s, fd, req, sizeof(req), RTT_IO_TIMEOUT_S * 1000))
			break;
		st.tsc_in = __rdtsc();
		if (req[0] == RTT_TSC_PROBE)
			len = RTT_REQ_BYTES;
		st.tsc_out = __rdtsc();
		stamp_mac(s->k, c, n, &st);
		memcpy(reply, &st, sizeof(st));
		if (full_io(fd, reply, len, 1))
			break;
	}
out:
	close(fd);
	pthread_mutex_lock(&s->lock);
	if (--s->clients == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The accept loop: each client on a thread of its own, at most
 * RTT_MAX_CLIENTS at once (more are closed at once), so an idle or hostile
 * connection never keeps the coordinator's probes waiting. */
static void *serve(void *arg)
{
	struct rtt_server *s = arg;

	confine_thread(CONFINE_ECHO, 0);
	for (;;) {
		struct pollfd p[2] = { { s->lfd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		pthread_attr_t at;
		struct client *cl;
		pthread_t th;
		bool full;
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->lock);
		full = s->clients >= RTT_MAX_CLIENTS;
		if (!full)
			s->clients++;
		pthread_mutex_unlock(&s->lock);
		cl = full ? NULL : malloc(sizeof(*cl));
		if (!cl) {
			close(fd);
			if (!full)
				goto undo;
			continue;
		}
		set_timeouts(fd);
		*cl = (struct client){ s, fd };
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (!pthread_create(&th, &at, serve_client, cl)) {
			pthread_attr_destroy(&at);
			continue;
		}
		pthread_attr_destroy(&at);
		close(fd);
		free(cl);
undo:
		pthread_mutex_lock(&s->lock);
		if (--s->clients == 0)
			pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int rtt_server_start(const char *host, const struct auth_key *key, struct rtt_server **out)
{
	struct rtt_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int err;

	if (!s)
		return -ENOMEM;
	if (sodium_init() < 0) {
		free(s);
		return -ENOSYS;
	}
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		a.sin_addr.s_addr = htonl(INADDR_ANY);
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, RTT_MAX_CLIENTS) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0 ||
	    pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		err = -errno;
		goto fail;
	}
	s->port = ntohs(a.sin_port);
	echo_key(key, s->k);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	err = -pthread_create(&s->thread, NULL, serve, s);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->idle);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	for (int i = 0; i < 2; i++)
		if (s->stop_pipe[i] >= 0)
			close(s->stop_pipe[i]);
	sodium_memzero(s->k, sizeof(s->k));
	free(s);
	return err;
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
	/* Each client thread sees the pipe within one poll, or its send
	 * times out (RTT_IO_TIMEOUT_S). */
	pthread_mutex_lock(&s->lock);
	while (s->clients)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	sodium_memzero(s->k, sizeof(s->k));
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

/* dial, then answer the server's challenge (into c); the fd or -errno. */
static int dial_auth(const char *host, int port, const uint8_t *k,
		     uint8_t c[RTT_CHALLENGE_BYTES])
{
	uint8_t proof[crypto_generichash_BYTES];
	int fd = dial(host, port), err;

	if (fd < 0)
		return fd;
	err = full_io(fd, c, RTT_CHALLENGE_BYTES, 0);
	if (!err) {
		hello_proof(k, c, proof);
		err = full_io(fd, proof, sizeof(proof), 1);
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int rtt_measure(const char *host, int port, const struct auth_key *key, unsigned n,
		struct rtt_result *out)
{
	static char req[RTT_REQ_BYTES], reply[RTT_REPLY_BYTES];
	uint8_t k[crypto_generichash_BYTES], c[RTT_CHALLENGE_BYTES];
	struct lathist *h;
	uint64_t min = UINT64_MAX;
	int fd, err = 0;

	if (!n)
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOSYS;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	echo_key(key, k);
	fd = dial_auth(host, port, k, c);
	sodium_memzero(k, sizeof(k));
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

int rtt_tsc_probe(const char *host, int port, const struct auth_key *key, unsigned n,
		  struct tsc_probe *out)
{
	char req[RTT_REQ_BYTES] = { RTT_TSC_PROBE }, reply[RTT_REQ_BYTES];
	uint8_t k[crypto_generichash_BYTES], c[RTT_CHALLENGE_BYTES];
	int fd, err = 0;

	if (sodium_init() < 0)
		return -ENOSYS;
	echo_key(key, k);
	fd = dial_auth(host, port, k, c);
	if (fd < 0) {
		sodium_memzero(k, sizeof(k));
		return fd;
	}
	for (unsigned i = 0; i < n + 10; i++) {
		struct rtt_stamp st, want;
		struct tsc_probe p;

		p.t_send = __rdtsc();
		err = full_io(fd, req, sizeof(req), 1);
		if (!err)
			err = full_io(fd, reply, sizeof(reply), 0);
		p.t_recv = __rdtsc();
		if (err)
			break;
		memcpy(&st, reply, sizeof(st));
		want = st;
		stamp_mac(k, c, i, &want);
		if (sodium_memcmp(want.mac, st.mac, RTT_MAC_BYTES) || st.tsc_out < st.tsc_in) {
			err = -EBADMSG;
			break;
		}
		p.peer_tsc = st.tsc_in + (st.tsc_out - st.tsc_in) / 2;
		if (i >= 10)	/* warm-up */
			out[i - 10] = p;
	}
	sodium_memzero(k, sizeof(k));
	close(fd);
	return err;
}
