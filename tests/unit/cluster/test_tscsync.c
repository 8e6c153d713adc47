/* The cross-host TSC agreement, by simulation: two (or more) hosts whose
 * TSCs started at different times, whose realtime clocks disagree by a
 * bounded error, join at random instants; every vCPU's guest TSC must then
 * agree with node 0's within that error times the frequency, and keep
 * agreeing as time goes on. Also the exact same-host case and the
 * frequency check. */
#include <errno.h>
#include <setjmp.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cluster/params.h"
#include "cpu/tscsync.h"

/* A simulated host: true time t (ns) -> its host TSC and realtime. */
struct host {
	uint64_t tsc_at_zero;	/* TSC value when true time was 0 */
	uint64_t khz;
	int64_t rt_error_ns;	/* its realtime clock minus true time */
};

static uint64_t host_tsc(const struct host *h, uint64_t t_ns)
{
	return h->tsc_at_zero + (uint64_t)((__int128)t_ns * h->khz / 1000000);
}

static uint64_t host_rt(const struct host *h, uint64_t t_ns)
{
	return (uint64_t)((int64_t)(1700000000ull * 1000000000ull + t_ns) + h->rt_error_ns);
}

static uint64_t rnd(uint64_t n)
{
	return ((uint64_t)random() << 31 ^ (uint64_t)random()) % n;
}

static void test_simulated_hosts(void **state)
{
	const uint64_t khz = 2445426;

	srandom(42);
	for (int trial = 0; trial < 10000; trial++) {
		struct host h0 = { rnd(1ull << 50), khz, (int64_t)rnd(2000000) - 1000000 };
		struct host hk = { rnd(1ull << 50), khz, (int64_t)rnd(2000000) - 1000000 };
		uint64_t t0 = rnd(1ull << 40), tk = t0 + rnd(5000000000ull);
		int64_t o0 = -(int64_t)host_tsc(&h0, rnd(1ull << 38));
		struct tsc_sample s = { host_tsc(&h0, t0), o0, host_rt(&h0, t0), khz };
		int64_t ok = tscsync_offset(&s, host_tsc(&hk, tk), host_rt(&hk, tk));
		/* Later, at the same true instant, both guests read the TSC. */
		uint64_t later = tk + rnd(86400ull * 1000000000ull);
		int64_t g0 = (int64_t)(host_tsc(&h0, later) + (uint64_t)o0);
		int64_t gk = (int64_t)(host_tsc(&hk, later) + (uint64_t)ok);
		int64_t err = gk - g0;
		/* The bound: realtime disagreement in ticks, plus rounding. */
		int64_t rt_skew = hk.rt_error_ns - h0.rt_error_ns;
		int64_t expect = (int64_t)((__int128)rt_skew * (__int128)khz / 1000000);

		assert_true(llabs(err - expect) <= 2);
		assert_true(llabs(err) <= (int64_t)(2000000ull * khz / 1000000) + 2);
	}
}

static void test_same_host_is_exact(void **state)
{
	/* One host, two processes: same TSC, same realtime clock. */
	struct host h = { 123456789, 2445426, 0 };
	uint64_t t0 = 5000000000ull, tk = t0 + 300000000ull;
	struct tsc_sample s = { host_tsc(&h, t0), -1000, host_rt(&h, t0), h.khz };
	int64_t ok = tscsync_offset(&s, host_tsc(&h, tk), host_rt(&h, tk));

	assert_true(llabs(ok - (-1000)) <= 1);
}

static void test_clock_behind(void **state)
{
	/* The joiner's realtime is behind node 0's sample: still exact. */
	struct host h0 = { 0, 1000000, 0 }, hk = { 777, 1000000, -5000000 };
	uint64_t t = 10000000000ull;
	struct tsc_sample s = { host_tsc(&h0, t), 0, host_rt(&h0, t), 1000000 };
	int64_t ok = tscsync_offset(&s, host_tsc(&hk, t + 1000), host_rt(&hk, t + 1000));
	int64_t gk = (int64_t)(host_tsc(&hk, t + 1000) + (uint64_t)ok);
	int64_t g0 = (int64_t)host_tsc(&h0, t + 1000);

	assert_int_equal(gk - g0, -5000000);	/* exactly the clock error */
}

static void test_rate_check(void **state)
{
	assert_true(tscsync_same_rate(2445426, 2445426));
	assert_true(tscsync_same_rate(2445426, 2445400));
	assert_false(tscsync_same_rate(2445426, 2000000));
	assert_false(tscsync_same_rate(0, 2445426));
}

/* JOIN's payload both ways; what the wire cannot know (ranges, the
 * placement's consistency) is refused on the way back. */
static void test_params_roundtrip(void **state)
{
	struct cluster_params p = { .nr_nodes = 3, .self = 2, .cpus = 4,
				    .memory = 1ull << 30, .start_all = true,
				    .net_delay_us = 200, .migrate = MIGRATE_SHUFFLE,
				    .peer_timeout_ms = 1500, .place = { 0, 1, 2, 2 },
				    .node_mem = { 256ull << 20, 0, 768ull << 20 } }, q;
	struct net_join j, k;
	char err[256];

	strcpy(p.addr[1], "10.0.0.2:7000");
	strcpy(p.addr[2], "[::1]:7001");
	p.nr_disks = 2;
	strcpy(p.disks[0].path, "/var/lib/root.img");
	p.disks[1] = (struct cluster_disk){ .path = "d.img", .node = 2, .readonly = true,
					    .queues = 3, .fail_from = 77 };
	p.nr_nics = 2;
	strcpy(p.nics[0].tap, "tap0");
	p.nics[1] = (struct cluster_nic){ .tap = "fifteen-chars-x", .node = 1,
					  .mac = { 0x52, 0x54, 0, 1, 2, 3 } };
	params_to_wire(&p, &j);
	assert_int_equal(j.addr[2][10], 0);
	assert_int_equal(j.addr[2][NET_ADDR_MAX - 1], 0);
	assert_int_equal(params_from_wire(&q, &j, err, sizeof(err)), 0);
	assert_int_equal(q.nr_nodes, 3);
	assert_int_equal(q.self, 2);
	assert_int_equal(q.cpus, 4);
	assert_int_equal(q.memory, 1ull << 30);
	assert_true(q.start_all);
	assert_int_equal(q.net_delay_us, 200);
	assert_int_equal(q.migrate, MIGRATE_SHUFFLE);
	assert_int_equal(q.peer_timeout_ms, 1500);
	assert_memory_equal(q.place, p.place, 4);
	assert_int_equal(q.node_mem[0], 256ull << 20);
	assert_int_equal(q.node_mem[1], 0);
	assert_int_equal(q.node_mem[2], 768ull << 20);
	assert_string_equal(q.addr[2], "[::1]:7001");
	assert_int_equal(q.nr_disks, 2);
	assert_string_equal(q.disks[0].path, "/var/lib/root.img");
	assert_int_equal(q.disks[0].node, 0);
	assert_string_equal(q.disks[1].path, "d.img");
	assert_int_equal(q.disks[1].node, 2);
	assert_true(q.disks[1].readonly);
	assert_int_equal(q.disks[1].queues, 3);
	assert_int_equal(q.disks[1].fail_from, 77);
	assert_int_equal(q.nr_nics, 2);
	assert_string_equal(q.nics[0].tap, "tap0");
	assert_int_equal(q.nics[0].node, 0);
	assert_string_equal(q.nics[1].tap, "fifteen-chars-x");
	assert_int_equal(q.nics[1].node, 1);
	assert_memory_equal(q.nics[1].mac, p.nics[1].mac, 6);
	/* Back to the wire: the same bytes. */
	params_to_wire(&q, &k);
	assert_memory_equal(&j, &k, sizeof(j));

	/* Out of range or inconsistent parameters are refused. */
	k = j;
	k.self = 5;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	/* A disk on a node that does not exist, too many disks or queues. */
	k = j;
	k.disks[1].node = 3;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "node=3 names no node (the nodes are 0 to 2)"));
	k = j;
	k.nics[1].node = 3;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--net tap=fifteen-chars-x: node=3 names no node"));
	k = j;
	k.nr_nics = CLUSTER_MAX_NICS + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.nr_disks = CLUSTER_MAX_DISKS + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.disks[0].queues = CLUSTER_DISK_QUEUES_MAX + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.nr_nodes = CLUSTER_MAX_NODES + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.cpus = CLUSTER_MAX_VCPUS + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.place[1] = 3;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.place[4] = 1;		/* past cpus */
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.memory = CLUSTER_MEMORY_MAX + 4096;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.memory = (64ULL << 20) + 1;	/* not whole pages */
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.peer_timeout_ms = CLUSTER_PEER_TIMEOUT_MIN - 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.peer_timeout_ms = CLUSTER_PEER_TIMEOUT_MAX + 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.migrate = MIGRATE_NR;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.addr[1][0] = 0;	/* a node without an address */
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	memset(k.addr[1], 'a', NET_ADDR_MAX);	/* unterminated */
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.node_mem[1] = 4096;	/* contributions summing past memory */
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.node_mem[0] += 1;	/* not whole pages */
	k.node_mem[2] -= 1;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	k = j;
	k.node_mem[3] = 4096;	/* past nr_nodes */
	k.node_mem[2] -= 4096;
	assert_int_equal(params_from_wire(&q, &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_migrate_mode("off"), MIGRATE_OFF);
	assert_int_equal(params_migrate_mode("sometimes"), -1);
}

/* Contributions: parsed, checked, the rest split evenly. */
static void test_node_memory(void **state)
{
	struct cluster_params p = { .nr_nodes = 3, .memory = 256ull << 20 };
	char err[256];
	unsigned n;

	assert_int_equal(params_parse_node_mem(&p, "512M,0,1G", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p.mem_given, 7);
	/* All given: the sum is the guest's RAM, whatever the default was. */
	assert_int_equal(params_settle_memory(&p, err, sizeof(err)), 0);
	assert_int_equal(p.memory, (512ull + 1024) << 20);
	/* --memory given and disagreeing: one line naming both. */
	p.memory = 1ull << 30;
	p.memory_given = true;
	assert_int_equal(params_settle_memory(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--memory is 1G but the nodes contribute 1536M"));

	/* Only node 1 given (its own --memory): the rest split evenly. */
	memset(&p, 0, sizeof(p));
	p.nr_nodes = 3;
	p.memory = (64ull << 20) + 3 * 4096;
	p.node_mem[1] = 32ull << 20;
	p.mem_given = 2;
	assert_int_equal(params_settle_memory(&p, err, sizeof(err)), 0);
	assert_int_equal(p.node_mem[0], (16ull << 20) + 2 * 4096);
	assert_int_equal(p.node_mem[2], (16ull << 20) + 4096);
	p.node_mem[1] = 128ull << 20;	/* more than the whole guest */
	assert_int_equal(params_settle_memory(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "exceed --memory"));

	/* Too little in all, and bad lists. */
	memset(&p, 0, sizeof(p));
	p.nr_nodes = 2;
	assert_int_equal(params_parse_node_mem(&p, "8M,0", &n, err, sizeof(err)), 0);
	assert_int_equal(params_settle_memory(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "would be 8M"));
	assert_int_equal(params_parse_node_mem(&p, "8M,", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse_node_mem(&p, "", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse_node_mem(&p, "1000", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse_node_mem(&p, "1G,,1G", &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse_node_mem(&p, "-1G", &n, err, sizeof(err)), -EINVAL);
}

/* Round trips between two simulated hosts with random, asymmetric delays:
 * the offset from the fastest trip makes the joiner's guest TSC agree with
 * node 0's within the bound tscsync_delta reports, which is half the
 * fastest trip; and that bound holds the true error. */
static void test_round_trips(void **state)
{
	for (int trial = 0; trial < 200; trial++) {
		struct host h0 = { .tsc_at_zero = rnd(1ull << 50), .khz = 2400000 };
		struct host hk = { .tsc_at_zero = rnd(1ull << 50), .khz = 2400000 };
		struct tsc_probe p[16];
		int64_t o0 = (int64_t)rnd(1ull << 40) - (int64_t)h0.tsc_at_zero;
		int64_t delta, ok, diff;
		uint64_t err, t = 1000000000ull + rnd(1000000000ull);

		for (unsigned i = 0; i < 16; i++) {
			uint64_t there = 5000 + rnd(200000), back = 5000 + rnd(200000);

			p[i].t_send = host_tsc(&h0, t);
			p[i].peer_tsc = host_tsc(&hk, t + there);
			p[i].t_recv = host_tsc(&h0, t + there + back);
			t += there + back + rnd(100000);
		}
		assert_int_equal(tscsync_delta(p, 16, &delta, &err), 0);
		ok = tscsync_offset_from_delta(o0, delta);
		/* Later, both guests read their TSC at one instant. */
		t += rnd(10000000000ull);
		diff = (int64_t)(host_tsc(&hk, t) + (uint64_t)ok) -
		       (int64_t)(host_tsc(&h0, t) + (uint64_t)o0);
		assert_true((uint64_t)(diff < 0 ? -diff : diff) <= err + 1);
		/* The bound is half the fastest trip: at most (5 + 200) us. */
		assert_true(err <= 205ull * 2400 / 2 * 2);
	}
	{
		struct tsc_probe bad = { .t_send = 10, .peer_tsc = 5, .t_recv = 9 };
		int64_t d;
		uint64_t e;

		assert_int_equal(tscsync_delta(&bad, 1, &d, &e), -EINVAL);
		assert_int_equal(tscsync_delta(&bad, 0, &d, &e), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulated_hosts),
		cmocka_unit_test(test_same_host_is_exact),
		cmocka_unit_test(test_clock_behind),
		cmocka_unit_test(test_rate_check),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_params_roundtrip),
		cmocka_unit_test(test_node_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
