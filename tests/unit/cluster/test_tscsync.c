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
#include "cluster/tscsync.h"

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

static void test_params_roundtrip(void **state)
{
	struct cluster_params p = { .nr_nodes = 3, .self = 2, .cpus = 4,
				    .memory = 1ull << 30, .start_all = true,
				    .net_delay_us = 200,
				    .place = { 0, 1, 2, 2 } }, q;
	char text[1100], err[256];
	int n;

	strcpy(p.addr[1], "10.0.0.2:7000");
	strcpy(p.addr[2], "[::1]:7001");
	n = params_format(&p, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(params_parse(&q, text, (size_t)n, err, sizeof(err)), 0);
	assert_int_equal(q.nr_nodes, 3);
	assert_int_equal(q.self, 2);
	assert_int_equal(q.cpus, 4);
	assert_int_equal(q.memory, 1ull << 30);
	assert_true(q.start_all);
	assert_int_equal(q.net_delay_us, 200);
	assert_memory_equal(q.place, p.place, 4);
	assert_string_equal(q.addr[2], "[::1]:7001");
	/* Malformed or inconsistent parameters are refused. */
	assert_int_equal(params_parse(&q, "v=1 nodes=2 self=5 cpus=1 place=0", 34,
				      err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse(&q, "nodes=2", 7, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse(&q, "v=1 nodes=2 self=1 cpus=2 place=0,3 addr1=a:1",
				      45, err, sizeof(err)), -EINVAL);
	assert_int_equal(params_parse(&q, "v=1 bogus=1", 11, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulated_hosts),
		cmocka_unit_test(test_same_host_is_exact),
		cmocka_unit_test(test_clock_behind),
		cmocka_unit_test(test_rate_check),
		cmocka_unit_test(test_params_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
