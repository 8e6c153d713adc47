/* The TSC echo (cluster/rtt.h) over 127.0.0.1: a client with the cluster
 * key gets TSC probes that agree with its own TSC (one host, one TSC), a
 * client without it gets nothing but the challenge, an idle connection
 * (a stranger's or a key holder's) does not hold up another client, and a
 * forged reply is refused. Every wait is bounded by the sockets' timeouts. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "cluster/rtt.h"
#include "util/log.h"

#define PROBES 16

static struct auth_key key_a, key_b;

static int setup(void **state)
{
	static const char hex[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *why;

	log_init(0, LOG_ERROR);
	assert_int_equal(auth_key_parse(hex, 64, &key_a, &why), 0);
	key_b = key_a;
	key_b.k[5] ^= 1;
	return 0;
}

static int raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Everything the server sends until it hangs up (bounded by 5 s). */
static size_t drain(int fd)
{
	char buf[8192];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += (size_t)n;
	return total;
}

static void test_probe(void **state)
{
	struct tsc_probe p[PROBES];
	struct rtt_server *s;
	struct rtt_result r;

	assert_int_equal(rtt_server_start("127.0.0.1", &key_a, &s), 0);
	assert_int_equal(rtt_tsc_probe("127.0.0.1", rtt_server_port(s), &key_a, PROBES, p), 0);
	/* One host, one TSC: the server read it between our two reads. */
	for (int i = 0; i < PROBES; i++) {
		assert_true(p[i].t_send <= p[i].peer_tsc);
		assert_true(p[i].peer_tsc <= p[i].t_recv);
	}
	assert_int_equal(rtt_measure("127.0.0.1", rtt_server_port(s), &key_a, 50, &r), 0);
	assert_int_equal(r.samples, 50);
	assert_true(r.min_us > 0);
	rtt_server_stop(s);
}

/* Without the cluster key: refused, whatever the client sends; a stranger
 * receives the 32-byte challenge and not one byte more. */
static void test_stranger_gets_nothing(void **state)
{
	struct tsc_probe p[PROBES];
	struct rtt_server *s;
	struct rtt_result r;
	char req[RTT_REQ_BYTES] = { RTT_TSC_PROBE };
	int fd, port;

	assert_int_equal(rtt_server_start("127.0.0.1", &key_a, &s), 0);
	port = rtt_server_port(s);
	assert_true(rtt_tsc_probe("127.0.0.1", port, &key_b, PROBES, p) < 0);
	assert_true(rtt_measure("127.0.0.1", port, &key_b, 10, &r) < 0);
	/* The old protocol's probe: requests straight away. */
	fd = raw_connect(port);
	for (int i = 0; i < 4; i++)
		assert_int_equal(send(fd, req, sizeof(req), MSG_NOSIGNAL), (ssize_t)sizeof(req));
	assert_int_equal(drain(fd), RTT_CHALLENGE_BYTES);
	close(fd);
	/* Silence: the server hangs up after RTT_HELLO_MS. */
	fd = raw_connect(port);
	assert_int_equal(drain(fd), RTT_CHALLENGE_BYTES);
	close(fd);
	/* The server still serves its cluster. */
	assert_int_equal(rtt_tsc_probe("127.0.0.1", port, &key_a, PROBES, p), 0);
	rtt_server_stop(s);
}

/* A key holder's connection left open and idle, and a stranger's, do not
 * hold up the next client (one thread per client: the old server served
 * one connection at a time, so this probe waited out the idle one's 5 s
 * timeout and failed); the idle key holder is still served afterwards. */
static void test_concurrent(void **state)
{
	struct tsc_probe p[PROBES];
	uint8_t c[RTT_CHALLENGE_BYTES], k[crypto_generichash_BYTES], proof[crypto_generichash_BYTES];
	char req[RTT_REQ_BYTES] = { RTT_TSC_PROBE }, reply[RTT_REQ_BYTES];
	crypto_generichash_state st;
	struct rtt_server *s;
	int idle, stranger, port;
	size_t got = 0;

	assert_int_equal(rtt_server_start("127.0.0.1", &key_a, &s), 0);
	port = rtt_server_port(s);
	stranger = raw_connect(port);
	idle = raw_connect(port);
	assert_int_equal(recv(idle, c, sizeof(c), MSG_WAITALL), (ssize_t)sizeof(c));
	/* The answer to the challenge, as rtt.h defines it. */
	crypto_generichash(k, sizeof(k), (const uint8_t *)"AMLG-echo-v1", 12, key_a.k,
			   sizeof(key_a.k));
	crypto_generichash_init(&st, k, sizeof(k), sizeof(proof));
	crypto_generichash_update(&st, (const uint8_t *)"hello", 5);
	crypto_generichash_update(&st, c, sizeof(c));
	crypto_generichash_final(&st, proof, sizeof(proof));
	assert_int_equal(send(idle, proof, sizeof(proof), 0), (ssize_t)sizeof(proof));

	assert_int_equal(rtt_tsc_probe("127.0.0.1", port, &key_a, PROBES, p), 0);
	assert_int_equal(rtt_tsc_probe("127.0.0.1", port, &key_a, PROBES, p), 0);

	assert_int_equal(send(idle, req, sizeof(req), 0), (ssize_t)sizeof(req));
	while (got < sizeof(reply)) {
		ssize_t n = recv(idle, reply + got, sizeof(reply) - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
	close(idle);
	close(stranger);
	rtt_server_stop(s);
}

/* A server without the key (or someone on the path) answering our probes:
 * its stamps' MACs are wrong, and the probe says so. */
struct fake {
	int lfd;
};

static void *fake_server(void *arg)
{
	struct fake *f = arg;
	uint8_t c[RTT_CHALLENGE_BYTES] = { 1, 2, 3 }, hello[crypto_generichash_BYTES];
	char req[RTT_REQ_BYTES], reply[RTT_REQ_BYTES] = { 0 };
	struct rtt_stamp stamp = { .tsc_in = 1000, .tsc_out = 1001 };
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (send(fd, c, sizeof(c), 0) == (ssize_t)sizeof(c) &&
	    recv(fd, hello, sizeof(hello), MSG_WAITALL) == (ssize_t)sizeof(hello)) {
		while (recv(fd, req, sizeof(req), MSG_WAITALL) == (ssize_t)sizeof(req)) {
			memcpy(reply, &stamp, sizeof(stamp));
			if (send(fd, reply, sizeof(reply), MSG_NOSIGNAL) != (ssize_t)sizeof(reply))
				break;
		}
	}
	close(fd);
	return NULL;
}

static void test_forged_reply(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct tsc_probe p[PROBES];
	struct fake f = { 0 };
	pthread_t th;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	f.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f.lfd, 1), 0);
	assert_int_equal(getsockname(f.lfd, (struct sockaddr *)&a, &al), 0);
	pthread_create(&th, NULL, fake_server, &f);
	assert_int_equal(rtt_tsc_probe("127.0.0.1", ntohs(a.sin_port), &key_a, PROBES, p),
			 -EBADMSG);
	pthread_join(th, NULL);
	close(f.lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_stranger_gets_nothing),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_forged_reply),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
