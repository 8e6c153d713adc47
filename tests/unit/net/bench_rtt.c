/* Round trip over loopback through the whole transport: a DSM request
 * (72-byte frame) answered by a DSM reply carrying a page (4168-byte frame),
 * the shape of a remote page fault. The requester blocks on a semaphore
 * the receive thread posts, as a vCPU thread waiting for its page would.
 *
 *   bench_net_rtt [iterations]        (default 10000; run under
 *                                      taskset -c 0 for the one-CPU case) */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/transport.h"
#include "util/log.h"

static uint8_t page[NET_PAGE_SIZE];
static struct transport *server, *client;
static sem_t got_reply;
static uint64_t expect_req;
static int bad_replies;

static void server_msg(void *opaque, int peer, const struct net_msg *msg)
{
	struct net_msg reply = *msg;

	reply.u.dsm.op = 2;
	reply.data = page;
	reply.data_len = NET_PAGE_SIZE;
	if (transport_send(server, peer, &reply))
		fprintf(stderr, "reply failed\n");
}

static void client_msg(void *opaque, int peer, const struct net_msg *msg)
{
	if (msg->type != NET_MSG_DSM || msg->u.dsm.req_id != expect_req ||
	    msg->data_len != NET_PAGE_SIZE)
		bad_replies++;
	sem_post(&got_reply);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct transport_ops sops = { .on_msg = server_msg };
	static const struct transport_ops cops = { .on_msg = client_msg };
	static const char hex[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
	struct transport_cfg cfg = { .node_id = 0, .listen = "127.0.0.1:0" };
	struct auth_key key;
	struct timespec deadline;
	struct net_msg req;
	uint64_t *rtt, t0;
	const char *why;
	char addr[32];

	if (iters < 10)
		iters = 10;
	log_init(0, LOG_WARN);
	if (auth_key_parse(hex, 64, &key, &why))
		return 1;
	sem_init(&got_reply, 0, 0);
	rtt = calloc(iters, sizeof(*rtt));

	cfg.key = &key;
	cfg.ops = &sops;
	if (transport_new(&cfg, &server))
		return 1;
	cfg.node_id = 1;
	cfg.listen = NULL;
	cfg.ops = &cops;
	if (transport_new(&cfg, &client))
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", transport_port(server));
	if (transport_connect(client, addr, 0) != 0)
		return 1;

	memset(&req, 0, sizeof(req));
	req.type = NET_MSG_DSM;
	req.u.dsm.op = 1;
	for (unsigned i = 0; i < iters + iters / 10; i++) {
		unsigned k = i < iters / 10 ? 0 : i - iters / 10;	/* warm-up first */

		expect_req = req.u.dsm.req_id = i;
		req.u.dsm.gfn = i * 7;
		t0 = now_ns();
		if (transport_send(client, 0, &req)) {
			fprintf(stderr, "send failed\n");
			return 1;
		}
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 5;
		if (sem_timedwait(&got_reply, &deadline)) {
			fprintf(stderr, "no reply within 5 s\n");
			return 1;
		}
		rtt[k] = now_ns() - t0;
	}
	qsort(rtt, iters, sizeof(*rtt), cmp_u64);
	printf("net-rtt: %u round trips, 72 B request -> 4168 B reply (frames)\n", iters);
	printf("  min %.1f us  median %.1f us  p90 %.1f us  p99 %.1f us  max %.1f us\n",
	       rtt[0] / 1e3, rtt[iters / 2] / 1e3, rtt[iters * 9 / 10] / 1e3,
	       rtt[iters * 99 / 100] / 1e3, rtt[iters - 1] / 1e3);
	transport_free(client);
	transport_free(server);
	free(rtt);
	return bad_replies ? 1 : 0;
}
