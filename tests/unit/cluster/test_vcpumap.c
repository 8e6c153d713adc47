/* The CPU plane's acceptance rules (cpu/vcpumap.h): each range check and
 * each "only from the node that runs it" rule refuses what it must, and a
 * simulated cluster whose vCPUs move at random, with notices delayed per
 * link, never has a legitimate message refused and ends with every node
 * knowing where every vCPU runs; device accesses made by a vCPU's node,
 * the vCPU then waiting, are always taken by the devices' node. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/vcpumap.h"

static const uint8_t place4[4] = { 0, 1, 2, 0 };	/* vCPU i on node place4[i] */

/* Node `self` of 3, vCPUs placed as place4. */
static void map_at(struct vcpumap *m, unsigned self)
{
	assert_int_equal(vcpumap_init(m, self, 3, 4, place4), 0);
}

static void test_init_ranges(void **state)
{
	struct vcpumap m;
	uint8_t bad[4] = { 0, 3, 0, 0 }, boot_away[4] = { 1, 0, 0, 0 };
	const char *why = NULL;

	(void)state;
	assert_int_equal(vcpumap_init(&m, 0, 3, 4, bad), -EINVAL);
	/* The boot vCPU may be placed anywhere; it only never moves. */
	assert_int_equal(vcpumap_init(&m, 0, 3, 4, boot_away), 0);
	assert_int_equal(vcpumap_state(&m, 1, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_route(&m, 1, 0, 0, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_route(&m, 2, 0, 0, 2, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_init(&m, 3, 3, 4, place4), -EINVAL);
	assert_int_equal(vcpumap_init(&m, 0, 3, VCPUMAP_MAX + 1, place4), -EINVAL);
	assert_int_equal(vcpumap_init(&m, 0, 0, 0, place4), -EINVAL);
}

static void test_moved(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 0);
	/* vCPU 1 runs on node 1; it moves to node 2: node 2 says so. */
	assert_int_equal(vcpumap_moved(&m, 2, 1, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(m.place[1], 2);
	/* The same notice again, or an older one: stale. */
	assert_int_equal(vcpumap_moved(&m, 1, 1, 1, &why), VCPUMAP_STALE);
	assert_int_equal(m.place[1], 2);
	/* UINT32_MAX would pin its routing to the sender forever. */
	why = NULL;
	assert_int_equal(vcpumap_moved(&m, 1, 1, UINT32_MAX, &why), VCPUMAP_REFUSE);
	assert_non_null(why);
	assert_int_equal(vcpumap_moved(&m, 1, 1, 1 + VCPUMAP_AHEAD + 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(m.place[1], 2);
	assert_int_equal(m.moves[1], 1);
	/* A few notices overtaken on other links: fine. */
	assert_int_equal(vcpumap_moved(&m, 1, 1, 1 + VCPUMAP_AHEAD, &why), VCPUMAP_TAKE);
	assert_int_equal(m.place[1], 1);
	/* Its next move is not to where it is. */
	assert_int_equal(vcpumap_moved(&m, 1, 1, 2 + VCPUMAP_AHEAD, &why), VCPUMAP_REFUSE);
	/* The boot vCPU never moves; no such vCPU; no such sender. */
	assert_int_equal(vcpumap_moved(&m, 1, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(m.place[0], 0);
	assert_int_equal(vcpumap_moved(&m, 1, 4, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_moved(&m, 1, UINT32_MAX, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_moved(&m, 3, 2, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_moved(&m, 0, 2, 1, &why), VCPUMAP_REFUSE);
	/* vCPU 3 runs here: nobody else may claim it. */
	assert_int_equal(vcpumap_moved(&m, 1, 3, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(m.place[3], 0);
	assert_int_equal(m.moves[3], 0);
}

static void test_route(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 0);
	/* vCPU 2 runs on node 2: its registers from node 2, in order. */
	assert_int_equal(vcpumap_route(&m, 2, 2, 0, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_route(&m, 2, 2, 0, 3, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_route(&m, 2, 2, 0, 2, &why), VCPUMAP_STALE);
	/* From node 1, which does not run it. */
	why = NULL;
	assert_int_equal(vcpumap_route(&m, 1, 2, 0, 9, &why), VCPUMAP_REFUSE);
	assert_non_null(why);
	/* A move count its node has not announced. */
	assert_int_equal(vcpumap_route(&m, 2, 2, UINT32_MAX, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(m.route_seen[2], 3);
	/* It moves to node 1: node 2's older registers are stale, node 1's new. */
	assert_int_equal(vcpumap_moved(&m, 1, 2, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_route(&m, 2, 2, 0, 4, &why), VCPUMAP_STALE);
	assert_int_equal(vcpumap_route(&m, 2, 2, 1, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_route(&m, 1, 2, 1, 1, &why), VCPUMAP_TAKE);
	/* About a vCPU that runs here, or the boot vCPU from elsewhere. */
	assert_int_equal(vcpumap_route(&m, 1, 3, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_route(&m, 1, 0, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_route(&m, 1, 64, 0, 1, &why), VCPUMAP_REFUSE);
}

static void test_state(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 0);
	/* vCPU 1 runs on node 1: its state from node 2 is a forgery. */
	assert_int_equal(vcpumap_state(&m, 2, 1, 1, &why), VCPUMAP_REFUSE);
	/* From node 1 with a count that is not the next: node 1 let it go. */
	assert_int_equal(vcpumap_state(&m, 1, 1, 5, &why), VCPUMAP_BROKEN);
	assert_int_equal(vcpumap_state(&m, 1, 1, UINT32_MAX, &why), VCPUMAP_BROKEN);
	assert_int_equal(vcpumap_state(&m, 1, 1, 0, &why), VCPUMAP_BROKEN);
	assert_int_equal(vcpumap_state(&m, 1, 1, 1, &why), VCPUMAP_TAKE);
	/* The boot vCPU's state, from anywhere; one that runs here; none. */
	assert_int_equal(vcpumap_state(&m, 1, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_state(&m, 1, 3, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_state(&m, 1, 4, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_state(&m, 7, 1, 1, &why), VCPUMAP_REFUSE);
	vcpumap_arrived(&m, 1, 1);
	assert_int_equal(m.place[1], 0);
	/* Arrived: nobody else's to send now. */
	assert_int_equal(vcpumap_state(&m, 1, 1, 2, &why), VCPUMAP_REFUSE);
	/* It leaves for node 2 and comes back from there with the next count. */
	assert_int_equal(vcpumap_leave(&m, 1, 2), 2);
	assert_int_equal(vcpumap_state(&m, 1, 1, 3, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_state(&m, 2, 1, 3, &why), VCPUMAP_TAKE);
	/* Its own node's MOVED(2) comes back to the node it left: stale. */
	assert_int_equal(vcpumap_moved(&m, 2, 1, 2, &why), VCPUMAP_STALE);
}

static void test_io_reply(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 1);
	assert_int_equal(vcpumap_io_reply(&m, 0, 0, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_io_reply(&m, 2, 0, 1, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_io_reply(&m, 0, 0, 4, &why), VCPUMAP_REFUSE);
}

static void test_io_req(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 0);
	assert_int_equal(vcpumap_io_req(&m, 1, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_io_req(&m, 2, 2, &why), VCPUMAP_TAKE);
	/* vCPU 1 runs on node 1: node 2 may not act in its name. */
	why = NULL;
	assert_int_equal(vcpumap_io_req(&m, 2, 1, &why), VCPUMAP_REFUSE);
	assert_non_null(why);
	/* Nor for vCPUs running here, nor for ones that do not exist. */
	assert_int_equal(vcpumap_io_req(&m, 1, 0, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_io_req(&m, 1, 4, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_io_req(&m, 3, 1, &why), VCPUMAP_REFUSE);
	/* After vCPU 1 moved to node 2 (and node 0 heard so), the other way. */
	assert_int_equal(vcpumap_moved(&m, 2, 1, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_io_req(&m, 2, 1, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_io_req(&m, 1, 1, &why), VCPUMAP_REFUSE);
}

static void test_control(void **state)
{
	struct vcpumap m;
	const char *why = NULL;

	(void)state;
	map_at(&m, 1);
	assert_int_equal(vcpumap_control(&m, 0, 0, true, 0, 0, &why), VCPUMAP_TAKE);
	why = NULL;
	assert_int_equal(vcpumap_control(&m, 2, 0, true, 0, 0, &why), VCPUMAP_REFUSE);
	assert_non_null(why);
	/* A move request may be passed on by any node, but must name a
	 * movable vCPU and an existing node. */
	assert_int_equal(vcpumap_control(&m, 2, 0, false, 1, 0, &why), VCPUMAP_TAKE);
	assert_int_equal(vcpumap_control(&m, 0, 0, false, 0, 2, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_control(&m, 0, 0, false, 4, 2, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_control(&m, 0, 0, false, 1, 3, &why), VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_control(&m, 0, 0, false, 1, UINT32_MAX, &why),
			 VCPUMAP_REFUSE);
	assert_int_equal(vcpumap_control(&m, 7, 0, false, 1, 0, &why), VCPUMAP_REFUSE);
}

/* ---- a cluster of N nodes, vCPUs moving at random --------------------- */

#define N 4
#define V 8
#define QCAP 4096

enum { M_MOVED, M_ROUTE, M_STATE, M_IO };
struct sim_msg {
	int type;
	uint32_t vcpu, moves, seq;
};
/* One FIFO per directed link, as TCP gives. */
struct link {
	struct sim_msg q[QCAP];
	unsigned head, tail;
};
static struct link links[N][N];
static struct vcpumap maps[N];
static int in_flight[V];	/* a vCPU whose state is on a link: -1 else node */
static bool io_wait[V];		/* its access is on its way to node 0 */

static void send(unsigned from, unsigned to, struct sim_msg m)
{
	struct link *l = &links[from][to];

	assert_true(l->tail - l->head < QCAP);
	l->q[l->tail++ % QCAP] = m;
}

static void broadcast(unsigned from, struct sim_msg m)
{
	for (unsigned n = 0; n < N; n++)
		if (n != from)
			send(from, n, m);
}

static void deliver(unsigned from, unsigned to)
{
	struct link *l = &links[from][to];
	struct sim_msg m = l->q[l->head++ % QCAP];
	const char *why = NULL;
	enum vcpumap_verdict v;

	switch (m.type) {
	case M_MOVED:
		v = vcpumap_moved(&maps[to], from, m.vcpu, m.moves, &why);
		break;
	case M_ROUTE:
		v = vcpumap_route(&maps[to], from, m.vcpu, m.moves, m.seq, &why);
		break;
	case M_IO:
		v = vcpumap_io_req(&maps[to], from, m.vcpu, &why);
		io_wait[m.vcpu] = false;	/* as if answered at once */
		break;
	default:
		v = vcpumap_state(&maps[to], from, m.vcpu, m.moves, &why);
		if (v == VCPUMAP_TAKE) {
			vcpumap_arrived(&maps[to], m.vcpu, m.moves);
			in_flight[m.vcpu] = -1;
			/* As forward.c: MOVED leaves before any ROUTE. */
			broadcast(to, (struct sim_msg){ M_MOVED, m.vcpu, m.moves, 0 });
		}
		break;
	}
	if (v == VCPUMAP_REFUSE || v == VCPUMAP_BROKEN)
		fail_msg("node %u refused type %d vcpu %u moves %u from node %u: %s", to,
			 m.type, m.vcpu, m.moves, from, why);
}

static unsigned runs_on(unsigned vcpu)
{
	for (unsigned n = 0; n < N; n++)
		if (maps[n].place[vcpu] == n)
			return n;
	return N;
}

static void test_sim(void **state)
{
	uint8_t place[V];
	unsigned moved = 0, ios = 0;

	(void)state;
	srandom(16);
	for (unsigned i = 0; i < V; i++) {
		place[i] = i ? (uint8_t)(random() % N) : 0;
		in_flight[i] = -1;
	}
	for (unsigned n = 0; n < N; n++)
		assert_int_equal(vcpumap_init(&maps[n], n, N, V, place), 0);
	for (unsigned step = 0; step < 300000; step++) {
		unsigned r = (unsigned)random() % 14, vcpu = 1 + (unsigned)random() % (V - 1);
		unsigned at = runs_on(vcpu), a = (unsigned)random() % N, b = (unsigned)random() % N;

		if (r == 0 && at < N && in_flight[vcpu] < 0 && !io_wait[vcpu]) {
			/* It moves. */
			unsigned to = (at + 1 + (unsigned)random() % (N - 1)) % N;
			uint32_t moves = vcpumap_leave(&maps[at], vcpu, to);

			in_flight[vcpu] = (int)to;
			moved++;
			send(at, to, (struct sim_msg){ M_STATE, vcpu, moves, 0 });
		} else if (r == 1 && at < N) {
			struct sim_msg m = { M_ROUTE, vcpu, 0, 0 };

			vcpumap_route_next(&maps[at], vcpu, &m.moves, &m.seq);
			broadcast(at, m);
		} else if (r == 3 && at < N && at != 0 && !io_wait[vcpu]) {
			/* Its thread makes a device access and waits. */
			io_wait[vcpu] = true;
			ios++;
			send(at, 0, (struct sim_msg){ M_IO, vcpu, 0, 0 });
		} else if (a != b && links[a][b].head != links[a][b].tail) {
			/* Links run at their own pace: a random one delivers. */
			deliver(a, b);
		}
	}
	assert_true(moved > 5000);
	assert_true(ios > 5000);
	/* The network drains (an arrival sends MOVED, so until nothing is
	 * left): every node knows where every vCPU runs. */
	for (bool more = true; more;) {
		more = false;
		for (unsigned a = 0; a < N; a++)
			for (unsigned b = 0; b < N; b++)
				while (links[a][b].head != links[a][b].tail) {
					deliver(a, b);
					more = true;
				}
	}
	for (unsigned i = 0; i < V; i++) {
		unsigned at = runs_on(i);

		assert_true(at < N);
		for (unsigned n = 0; n < N; n++) {
			assert_int_equal(maps[n].place[i], at);
			assert_int_equal(maps[n].moves[i], maps[at].moves[i]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_ranges),
		cmocka_unit_test(test_moved),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_io_reply),
		cmocka_unit_test(test_io_req),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_sim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
