/* The memory plane (src/memplane/memplane.c) across two or three nodes in one
 * process: guest threads on each node touch their guest views and see one
 * coherent memory. One behaviour per test; the last one prints the remote
 * fault latencies over the in-memory network (medians here, 2 shared
 * host CPUs: 50-110 us a remote fault, every hop a thread switch). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "net/wire.h"

#define DEADLINE_US 15e6	/* a worker loop gives up after this */

static uint8_t pattern_byte(uint64_t seed, uint64_t page, unsigned i)
{
	return (uint8_t)(seed * 31 + page * 7 + i * 13 + (i >> 8));
}

static void pattern(uint8_t *buf, uint64_t seed, uint64_t page)
{
	for (unsigned i = 0; i < PG; i++)
		buf[i] = pattern_byte(seed, page, i);
}

/* ---- workers: a = first page, b = seed, c = pages ---- */

static void fill_fn(struct worker *w)
{
	uint8_t buf[PG];

	for (uint64_t p = w->a; p < w->a + w->c; p++) {
		pattern(buf, w->b, p);
		memcpy((void *)gview(w->node, p), buf, PG);
	}
}

/* seed 0: expect zeros. */
static void check_fn(struct worker *w)
{
	uint8_t buf[PG];

	for (uint64_t p = w->a; p < w->a + w->c; p++) {
		if (w->b)
			pattern(buf, w->b, p);
		else
			memset(buf, 0, PG);
		if (memcmp((const void *)gview(w->node, p), buf, PG)) {
			worker_fail(w, "page %#lx: wrong contents",
				    (unsigned long)p);
			return;
		}
	}
}

static void read_byte_fn(struct worker *w)
{
	w->out = 0;
	for (uint64_t p = w->a; p < w->a + w->c; p++)
		w->out += *gview(w->node, p);
}

static void write_byte_fn(struct worker *w)
{
	for (uint64_t p = w->a; p < w->a + w->c; p++) {
		if (*gview(w->node, p) != 0)
			worker_fail(w, "fresh page %#lx not zero",
				    (unsigned long)p);
		*gview(w->node, p) = (uint8_t)w->b;
	}
}

static uint64_t *u64_at(unsigned node, uint64_t page, unsigned off)
{
	return (uint64_t *)(gview(node, page) + off);
}

static void run(unsigned node, work_fn fn, uint64_t a, uint64_t b,
		uint64_t c)
{
	join(spawn(node, fn, a, b, c), JOIN_MS);
}

static struct memplane_stats stats(unsigned node)
{
	struct memplane_stats s;

	memplane_stats(nodes[node].mp, &s);
	return s;
}

/* ---- tests ---- */

static void test_read_written_elsewhere(void **state)
{
	uint64_t a, b;
	struct memplane_stats s0, s1;

	cluster_create(2);
	cluster_start();
	a = home_page(0, 5);	/* home is the writer */
	b = home_page(1, 7);	/* home is the reader: forwarded */
	run(0, fill_fn, a, 11, 1);
	run(0, fill_fn, b, 12, 1);
	run(1, check_fn, a, 11, 1);
	run(1, check_fn, b, 12, 1);
	/* The writer keeps a Shared copy with the same contents. */
	run(0, check_fn, a, 11, 1);
	run(0, check_fn, b, 12, 1);
	s0 = stats(0);
	s1 = stats(1);
	assert_int_equal(s1.pages_recv, 2);
	assert_int_equal(s0.pages_sent, 2);
	assert_int_equal(s1.proto.read_miss, 2);
	assert_int_equal(s0.proto.write_miss, 2);
	cluster_check();
}

/* Two nodes take turns incrementing one counter: each waits for its
 * parity (a = page, b = parity, c = rounds). */
static void pingpong_fn(struct worker *w)
{
	uint64_t *ctr = u64_at(w->node, w->a, 0);
	double end = now_us() + DEADLINE_US;

	for (uint64_t r = 0; r < w->c; r++) {
		uint64_t v;

		while ((v = __atomic_load_n(ctr, __ATOMIC_SEQ_CST)) % 2 !=
		       w->b) {
			if (atomic_load(&abort_all) || now_us() > end) {
				worker_fail(w, "stuck at %llu, round %llu",
					    (unsigned long long)v,
					    (unsigned long long)r);
				return;
			}
			sched_yield();
		}
		__atomic_store_n(ctr, v + 1, __ATOMIC_SEQ_CST);
	}
}

static void test_pingpong(void **state)
{
	const uint64_t rounds = 200;
	struct worker *w0, *w1, *r;
	uint64_t page;
	double t0;

	cluster_create(2);
	cluster_start();
	page = home_page(1, 0);
	t0 = now_us();
	w0 = spawn(0, pingpong_fn, page, 0, rounds);
	w1 = spawn(1, pingpong_fn, page, 1, rounds);
	join(w0, JOIN_MS);
	join(w1, JOIN_MS);
	t0 = now_us() - t0;
	r = spawn(0, read_byte_fn, page, 0, 1);
	join(r, JOIN_MS);
	assert_int_equal(*u64_at(0, page, 0), 2 * rounds);
	print_message("pingpong: %llu rounds in %.0f ms; node 0 held %llu, "
		      "node 1 held %llu messages\n", (unsigned long long)rounds,
		      t0 / 1000,
		      (unsigned long long)stats(0).held,
		      (unsigned long long)stats(1).held);
	cluster_check();
}

static atomic_int gate;	/* workers that start together wait for it */
static unsigned yield_every;	/* increments between two sched_yield() */

static void wait_gate(void)
{
	while (!atomic_load(&gate) && !atomic_load(&abort_all))
		sched_yield();
}

/* a = page, b = slot, c = increments: a locked add on the shared
 * counter and a plain increment of the worker's own slot of the page. */
static void increment_fn(struct worker *w)
{
	uint64_t *ctr = u64_at(w->node, w->a, 0);
	volatile uint64_t *slot = u64_at(w->node, w->a, 64 + 8 * w->b);

	wait_gate();
	for (uint64_t i = 0; i < w->c; i++) {
		if (atomic_load(&abort_all)) {
			worker_fail(w, "aborted after %llu",
				    (unsigned long long)i);
			return;
		}
		__atomic_fetch_add(ctr, 1, __ATOMIC_SEQ_CST);
		*slot = *slot + 1;
		/* Let the other threads in (2 host CPUs). */
		if (i % yield_every == yield_every - 1)
			sched_yield();
	}
}

static void locked_increments(uint64_t hold_ns, uint64_t n, unsigned yield)
{
	const unsigned per_node = 2;
	struct worker *w[MAX_NODES * 2];
	struct memplane_stats s[3];
	unsigned nw = 0;
	uint64_t page, moves = 0;
	double t0;

	cluster_create(3);
	for (unsigned i = 0; i < 3; i++)
		memplane_set_hold_ns(nodes[i].mp, hold_ns);
	cluster_start();
	page = home_page(2, 3);
	yield_every = yield;
	atomic_store(&gate, 0);
	for (unsigned node = 0; node < 3; node++)
		for (unsigned i = 0; i < per_node; i++, nw++)
			w[nw] = spawn(node, increment_fn, page, nw, n);
	sleep_ms(10);
	t0 = now_us();
	atomic_store(&gate, 1);
	for (unsigned i = 0; i < nw; i++)
		join(w[i], JOIN_MS);
	t0 = now_us() - t0;
	run(1, read_byte_fn, page, 0, 1);
	assert_int_equal(*u64_at(1, page, 0), nw * n);
	for (unsigned i = 0; i < nw; i++)
		assert_int_equal(*u64_at(1, page, 64 + 8 * i), n);
	for (unsigned i = 0; i < 3; i++) {
		s[i] = stats(i);
		moves += s[i].proto.write_miss + s[i].proto.upgrade;
	}
	print_message("%u threads on 3 nodes, window %llu us: %llu increments "
		      "in %.0f ms, %llu ownership moves, messages held "
		      "%llu/%llu/%llu\n", nw, (unsigned long long)hold_ns / 1000,
		      (unsigned long long)(nw * n), t0 / 1000,
		      (unsigned long long)moves,
		      (unsigned long long)s[0].held,
		      (unsigned long long)s[1].held,
		      (unsigned long long)s[2].held);
	assert_true(moves >= 3);
	cluster_check();
}

static void test_locked_increments(void **state)
{
	locked_increments(MEMPLANE_HOLD_NS, 20000, 64);
}

/* Without the window pages move far more often: the protocol's races. */
static void test_locked_increments_no_window(void **state)
{
	locked_increments(0, 1000, 1);
}

static void test_preloaded(void **state)
{
	uint64_t first, count = 8, hole, stray;
	uint8_t buf[PG];

	cluster_create(3);
	/* Spans the homes of node 0 and node 1. */
	first = layout.end[0] - 4;
	hole = first + 5;
	stray = home_page(2, 100);
	for (uint64_t p = first; p < first + count; p++) {
		if (p == hole)
			continue;	/* never written by the loader */
		pattern(buf, 21, p);
		memcpy(hview(0, p), buf, PG);
	}
	/* Stale contents elsewhere must not survive start. */
	memset(hview(1, first + 1), 0xee, PG);
	memset(hview(1, stray), 0xee, PG);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(memplane_preload(nodes[i].mp, first, count,
						  0), 0);
	cluster_start();
	assert_int_equal(memplane_preload(nodes[0].mp, 0, 1, 0), -EBUSY);

	for (unsigned node = 0; node < 3; node++) {
		run(node, check_fn, first, 21, hole - first);
		run(node, check_fn, hole, 0, 1);
		run(node, check_fn, hole + 1, 21, first + count - hole - 1);
	}
	/* The owner's copies were local and writable from the start. */
	assert_int_equal(stats(0).faults, 0);
	run(1, check_fn, stray, 0, 1);
	/* And they stay coherent afterwards. */
	run(2, fill_fn, first, 22, 1);
	run(1, check_fn, first, 22, 1);
	run(0, check_fn, first, 22, 1);
	cluster_check();
}

static void test_zero_pages_stay_home(void **state)
{
	uint64_t base;
	struct memplane_stats s;

	cluster_create(3);
	cluster_start();
	base = home_page(0, 200);
	run(1, check_fn, base, 0, 16);		/* read misses */
	run(2, write_byte_fn, base + 8, 5, 16);	/* write misses, 8 shared */
	for (unsigned i = 0; i < 3; i++) {
		s = stats(i);
		assert_int_equal(s.pages_sent, 0);
		assert_int_equal(s.pages_recv, 0);
		assert_true(s.bytes_sent < 48 * 100);
	}
	assert_int_equal(stats(0).proto.zero_grants, 32);
	assert_int_equal(stats(1).proto.inv_recv, 8);
	/* A written page does travel, once. */
	run(0, read_byte_fn, base + 8, 0, 1);
	assert_int_equal(*gview(0, base + 8), 5);
	assert_int_equal(stats(2).pages_sent, 1);
	assert_int_equal(stats(0).pages_recv, 1);
	cluster_check();
}

static void test_stop_releases_blocked(void **state)
{
	struct worker *w[3];
	struct memplane_stats s;

	cluster_create(2);
	cluster_start();
	link_pause(1, 0, true);	/* node 1's requests never arrive */
	for (unsigned i = 0; i < 3; i++)
		w[i] = spawn(1, i == 2 ? write_byte_fn : read_byte_fn,
			     home_page(0, 40 + i), 9, 1);
	sleep_ms(50);
	for (unsigned i = 0; i < 3; i++)
		assert_false(atomic_load(&w[i]->done));
	memplane_stop(nodes[1].mp);
	for (unsigned i = 0; i < 3; i++)
		join(w[i], 2000);
	assert_int_equal(w[0]->out, 0);	/* plain memory: a hole */
	s = stats(1);
	assert_true(s.faults >= 3);
	assert_int_equal(s.proto.read_miss + s.proto.write_miss, 3);
}

/* A send that fails is fatal: reported once, outside the plane lock. */
static void test_send_error_is_fatal(void **state)
{
	struct worker *w;
	double end;

	cluster_create(2);
	cluster_start();
	atomic_store(&nodes[1].fail_sends, true);
	w = spawn(1, read_byte_fn, home_page(0, 50), 0, 2);
	end = now_us() + 2e6;
	while (!atomic_load(&nodes[1].fatal) && now_us() < end)
		sleep_ms(1);
	assert_int_equal(atomic_load(&nodes[1].fatal), 1);
	assert_non_null(strstr(nodes[1].why, "send"));
	assert_int_equal(stats(1).send_errors, 1);
	/* The vCPU stays blocked until the node stops the plane. */
	assert_false(atomic_load(&w->done));
	memplane_stop(nodes[1].mp);
	join(w, 2000);
	assert_int_equal(atomic_load(&nodes[1].fatal), 1);
	assert_int_equal(atomic_load(&nodes[0].fatal), 0);
}

/* A node's requests may reach a peer that has not started yet: they wait
 * there, and are served once it has. */
static void test_messages_before_start(void **state)
{
	struct worker *w;

	cluster_create(2);
	cluster_start_links();
	node_start(1);
	w = spawn(1, fill_fn, home_page(0, 77), 61, 1);
	sleep_ms(30);
	assert_false(atomic_load(&w->done));
	assert_int_equal(stats(0).held, 1);
	node_start(0);
	join(w, JOIN_MS);
	run(0, check_fn, home_page(0, 77), 61, 1);
	cluster_check();
}

static void test_window_holds_a_just_mapped_page(void **state)
{
	const uint64_t hold_ms = 50;
	uint64_t page;
	double t0, took;

	cluster_create(2);
	memplane_set_hold_ns(nodes[1].mp, hold_ms * 1000000);
	cluster_start();
	page = home_page(0, 9);
	run(0, fill_fn, page, 31, 1);
	sleep_ms(1);
	t0 = now_us();
	run(1, check_fn, page, 31, 1);		/* node 1 maps it Shared */
	run(0, fill_fn, page, 32, 1);
	took = (now_us() - t0) / 1000;
	print_message("write after a remote read: %.1f ms (window %llu ms)\n",
		      took, (unsigned long long)hold_ms);
	assert_true(took >= hold_ms * 0.8);
	assert_int_equal(stats(1).held, 1);
	assert_int_equal(stats(0).held, 0);
	run(1, check_fn, page, 32, 1);
	cluster_check();
}

static void test_bad_messages(void **state)
{
	struct memplane *mp;
	struct net_msg m;
	uint8_t page[PG] = { 0 };
	uint64_t mine;
	struct memplane_stats s;

	cluster_create(2);
	cluster_start();
	mp = nodes[0].mp;
	mine = home_page(1, 3);	/* node 0 holds no copy of it */
#define RESET() do { memset(&m, 0, sizeof(m)); m.type = NET_MSG_DSM; \
	m.u.dsm.op = DSM_INV; m.u.dsm.node = 1; m.u.dsm.src = 1; \
	m.u.dsm.gfn = mine; } while (0)
	RESET();
	m.type = NET_MSG_PING;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.node = 0;			/* not the sender */
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	assert_int_equal(memplane_receive(mp, 0, &m), -EPROTO); /* self */
	RESET();
	assert_int_equal(memplane_receive(mp, 7, &m), -EPROTO);
	RESET();
	m.u.dsm.gfn = NR_PAGES;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.version = 1ULL << 32;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.arg = 1;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.op = DSM_DATA;
	m.u.dsm.flags = DSM_F_DATA;		/* without the page */
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.data = page;				/* a page without DATA */
	m.data_len = PG;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.op = 0;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.op = 200;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	/* Well formed, impossible: an INV for a copy node 0 does not hold,
	 * and a DATA nobody asked for. */
	RESET();
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
	RESET();
	m.u.dsm.op = DSM_DATA;
	m.u.dsm.src = 0;
	m.u.dsm.flags = DSM_F_DATA;
	m.data = page;
	m.data_len = PG;
	assert_int_equal(memplane_receive(mp, 1, &m), -EPROTO);
#undef RESET
	s = stats(0);
	assert_int_equal(s.bad_msgs, 10);
	assert_int_equal(s.proto.bad_msgs, 1);	/* op 0 */
	assert_int_equal(s.proto.proto_errors, 2);
	/* Still working. */
	run(0, fill_fn, mine, 41, 1);
	run(1, check_fn, mine, 41, 1);
	cluster_check();
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* a = first page, c = pages (at most 256): read each (b = 0), write each
 * (b = 1), or read then write each (b = 2); out = the median time of one
 * access as the thread sees it, in ns. */
static void access_fn(struct worker *w)
{
	double t[256];
	uint64_t n = w->c < 256 ? w->c : 256;

	for (uint64_t i = 0; i < n; i++) {
		volatile uint8_t *x = gview(w->node, w->a + i);
		double t0 = now_us();

		if (w->b != 1)
			(void)*x;
		if (w->b != 0)
			*x = 1;
		t[i] = now_us() - t0;
	}
	qsort(t, n, sizeof(t[0]), cmp_double);
	w->out = (uint64_t)(t[n / 2] * 1000);
}

static void test_latency(void **state)
{
	const uint64_t k = 200;
	struct memplane_stats s;
	struct worker *w;
	uint64_t base, seen[3];

	cluster_create(2);
	cluster_start();
	base = home_page(0, 1000);
	run(0, fill_fn, base, 51, 3 * k);
	sleep_ms(5);	/* past node 0's window */
	for (unsigned b = 0; b < 3; b++) {
		w = spawn(1, access_fn, base + b * k, b, k);
		join(w, JOIN_MS);
		seen[b] = w->out;
	}
	s = stats(1);
	assert_int_equal(s.lat_samples[MEMPLANE_LAT_READ], 2 * k);
	assert_int_equal(s.lat_samples[MEMPLANE_LAT_WRITE], k);
	assert_int_equal(s.lat_samples[MEMPLANE_LAT_UPGRADE], k);
	for (unsigned i = 0; i < MEMPLANE_LAT_KINDS; i++)
		assert_true(s.lat_p50[i] > 0 && s.lat_p99[i] >= s.lat_p50[i]);
	/* The one table of pending faults times every fault, remote or not. */
	assert_true(s.fault_samples >= 4 * k && s.fault_samples <= s.faults);
	assert_true(s.fault_p50 > 0 && s.fault_p99 >= s.fault_p50);
	print_message("remote fault -> wake over the in-memory network, "
		      "node 1 (%llu each):\n", (unsigned long long)k);
	for (unsigned i = 0; i < MEMPLANE_LAT_KINDS; i++)
		print_message("  %-10s p50 %7.1f us  p99 %7.1f us  max %7.1f us\n",
			      memplane_lat_name(i), s.lat_p50[i] / 1e3,
			      s.lat_p99[i] / 1e3, s.lat_max[i] / 1e3);
	print_message("  one access as the thread sees it, median: read "
		      "%.1f us, write %.1f us, read+upgrade %.1f us\n",
		      seen[0] / 1e3, seen[1] / 1e3, seen[2] / 1e3);
	memplane_print_stats(nodes[0].mp, stdout);
	memplane_print_stats(nodes[1].mp, stdout);
	cluster_check();
}

/* ---- the budget (--cache) ---- */

/* Half a page: a = first page, b = seed, c = pages; the half is w->node
 * % 2 (the other writer fills the other half at the same time). */
static void fill_half_fn(struct worker *w)
{
	unsigned half = w->node % 2;

	for (uint64_t p = w->a; p < w->a + w->c; p++)
		for (unsigned i = half * PG / 2; i < (half + 1) * PG / 2; i++)
			gview(w->node, p)[i] = pattern_byte(w->b, p, i);
}

static void assert_within(unsigned node, uint64_t limit)
{
	struct memplane_stats s = stats(node);

	assert_int_equal(s.cache_limit, limit);
	assert_true(s.cached <= limit);
	assert_int_equal(s.over_budget, 0);
}

/* One node writes, then reads back, four times its cache of pages homed
 * on the other: it evicts (writing back) to stay within, nothing is lost
 * there or at the home, and what it holds at the end is its cache. */
static void test_budget_one_writer(void **state)
{
	const uint64_t n = 4 * MEMPLANE_CACHE_MIN;
	uint64_t first;
	struct memplane_stats s0;

	cluster_create(2);
	assert_int_equal(memplane_set_cache(nodes[0].mp, MEMPLANE_CACHE_MIN - 1), -EINVAL);
	assert_int_equal(memplane_set_cache(nodes[0].mp, MEMPLANE_CACHE_MIN), 0);
	cluster_start();
	assert_int_equal(memplane_set_cache(nodes[0].mp, MEMPLANE_CACHE_MIN), -EBUSY);
	first = home_page(1, 0);
	run(0, fill_fn, first, 5, n);
	assert_within(0, MEMPLANE_CACHE_MIN);
	run(0, check_fn, first, 5, n);
	assert_within(0, MEMPLANE_CACHE_MIN);
	run(1, check_fn, first, 5, n);
	s0 = stats(0);
	assert_true(s0.proto.evictions >= 2 * n - 2 * MEMPLANE_CACHE_MIN);
	assert_true(s0.proto.writebacks >= n - MEMPLANE_CACHE_MIN);
	/* Node 0's own range is untouched: all it holds is its cache. */
	assert_true(s0.resident <= MEMPLANE_CACHE_MIN);
	assert_true(stats(1).proto.evicts_recv == s0.proto.evictions);
	cluster_check();
}

/* Two nodes with a cache each write halves of the same pages, homed on a
 * third, at once, four times their caches: every page bounces between
 * the writers and out of both caches, and every byte must survive. */
static void test_budget_two_writers(void **state)
{
	const uint64_t n = 4 * MEMPLANE_CACHE_MIN;
	struct worker *w0, *w1;
	uint64_t first;
	uint8_t buf[PG];

	cluster_create(3);
	assert_int_equal(memplane_set_cache(nodes[0].mp, MEMPLANE_CACHE_MIN), 0);
	assert_int_equal(memplane_set_cache(nodes[1].mp, MEMPLANE_CACHE_MIN), 0);
	cluster_start();
	first = home_page(2, 0);
	w0 = spawn(0, fill_half_fn, first, 9, n);
	w1 = spawn(1, fill_half_fn, first, 9, n);
	join(w0, JOIN_MS);
	join(w1, JOIN_MS);
	assert_within(0, MEMPLANE_CACHE_MIN);
	assert_within(1, MEMPLANE_CACHE_MIN);
	run(0, check_fn, first, 9, n);
	run(1, check_fn, first, 9, n);
	run(2, check_fn, first, 9, n);
	for (uint64_t p = first; p < first + n; p += n / 8) {
		pattern(buf, 9, p);
		assert_memory_equal(hview(2, p), buf, PG);
	}
	/* Which writer evicts a page depends on who wrote it last; together
	 * they wrote back every page neither cache could hold at the end. */
	assert_true(stats(0).proto.writebacks + stats(1).proto.writebacks >=
		    n - 2 * MEMPLANE_CACHE_MIN);
	cluster_check();
}

/* Wait (bounded) until node has received 'pages' pages in all. */
static void wait_pages_recv(unsigned node, uint64_t pages)
{
	double end = now_us() + DEADLINE_US;

	while (stats(node).pages_recv < pages) {
		assert_true(now_us() < end);
		sched_yield();
	}
}

/* A device asks ahead (memplane_prefetch) for a chain's pages: the
 * requests go out together, the pages arrive with nobody faulting, and
 * the device's accesses then find them in. Pages held already are not
 * asked for again; a write prefetch takes the pages Exclusive, and the
 * writes made afterwards are what the home reads back. */
static void test_prefetch(void **state)
{
	uint64_t a = home_page(0, 40);
	struct memplane_stats s1;

	cluster_create(2);
	cluster_start();
	run(0, fill_fn, a, 21, 16);
	memplane_prefetch(nodes[1].mp, a, 16, false);
	wait_pages_recv(1, 16);
	s1 = stats(1);
	assert_int_equal(s1.prefetched, 16);
	assert_int_equal(s1.proto.read_miss, 16);
	assert_int_equal(s1.faults, 0);
	/* The device's reads: the written contents, and no request of
	 * their own (one may fault and join the last install). */
	run(1, check_fn, a, 21, 16);
	s1 = stats(1);
	assert_int_equal(s1.remote_faults, 0);
	assert_int_equal(s1.proto.read_miss, 16);
	/* Held now: nothing more to ask for reading. */
	memplane_prefetch(nodes[1].mp, a, 16, false);
	assert_int_equal(stats(1).prefetched, 16);
	/* For writing: upgrades, the pages become Exclusive here; the
	 * writes land and the home reads them back. */
	memplane_prefetch(nodes[1].mp, a, 16, true);
	{
		double end = now_us() + DEADLINE_US;

		while (stats(1).proto.upgrade < 16) {
			assert_true(now_us() < end);
			sched_yield();
		}
	}
	/* (A grant still on its way: the write faults and joins it.) */
	run(1, fill_fn, a, 22, 16);
	run(0, check_fn, a, 22, 16);
	assert_int_equal(stats(1).prefetched, 32);
	/* Past the end of RAM and the per-call cap: ignored, not a crash. */
	memplane_prefetch(nodes[1].mp, NR_PAGES - 2, 1000, false);
	cluster_check();
}

/* Pages a + 2 * (c - 1), ..., a + 2, a: pattern b. */
static void strided_back_fn(struct worker *w)
{
	uint8_t buf[PG];

	for (uint64_t i = w->c; i-- > 0;) {
		uint64_t p = w->a + 2 * i;

		pattern(buf, w->b, p);
		if (memcmp((const void *)gview(w->node, p), buf, PG)) {
			worker_fail(w, "page %#lx: wrong contents", (unsigned long)p);
			return;
		}
	}
}

/* A thread reading another node's pages in order: after two sequential
 * faults the plane asks for the next pages ahead, so far fewer faults
 * send a request than there are pages, and every page is right. A
 * scattered reader gets no read-ahead. */
static void test_read_ahead(void **state)
{
	uint64_t a = home_page(0, 100), b = home_page(0, 400);
	struct memplane_stats s1;

	cluster_create(2);
	memplane_set_readahead(nodes[1].mp, MEMPLANE_READAHEAD_SCAN);
	cluster_start();
	run(0, fill_fn, a, 31, 256);
	run(1, check_fn, a, 31, 256);
	s1 = stats(1);
	assert_true(s1.read_ahead >= 200);
	assert_true(s1.remote_faults < 64);
	assert_int_equal(s1.proto.read_miss, s1.remote_faults + s1.read_ahead);
	/* Every other page, backwards, in one thread: no run, nothing
	 * asked ahead. */
	run(0, fill_fn, b, 32, 64);
	run(1, strided_back_fn, b, 32, 32);
	assert_int_equal(stats(1).read_ahead, s1.read_ahead);
	assert_int_equal(stats(1).remote_faults, s1.remote_faults + 32);
	cluster_check();
}

/* Read-ahead within a small budget: a scan of twice node 1's cache with
 * the largest window; the guesses never push the node over its budget
 * (none counted over budget, cached + reserved within the limit) and
 * every page is right. */
static void test_read_ahead_budget(void **state)
{
	uint64_t a = home_page(0, 100);
	struct memplane_stats s1;

	cluster_create(2);
	assert_int_equal(memplane_set_cache(nodes[1].mp, MEMPLANE_CACHE_MIN), 0);
	memplane_set_readahead(nodes[1].mp, MEMPLANE_READAHEAD_MAX);
	cluster_start();
	run(0, fill_fn, a, 41, 2 * MEMPLANE_CACHE_MIN);
	run(1, check_fn, a, 41, 2 * MEMPLANE_CACHE_MIN);
	s1 = stats(1);
	assert_true(s1.read_ahead > MEMPLANE_CACHE_MIN);
	assert_int_equal(s1.over_budget, 0);
	assert_true(s1.cached + s1.reserved <= s1.cache_limit);
	cluster_check();
}

/* A vCPU of node 0's range (its home) leaves node 1: node 1 gives back,
 * as evictions, the copies of node 0's range that this vCPU's faults
 * brought (memplane_give_back); node 0 then reads them without a remote
 * fault, every byte the vCPU wrote there with them. What another vCPU's
 * faults brought stays on node 1. The tags are per thread, as a node's
 * are per vCPU. */
static void test_give_back(void **state)
{
	const uint64_t n = 2 * MEMPLANE_GIVE_BATCH + 8;
	uint64_t first = home_page(0, 0), r0;
	double end;

	cluster_create(2);
	cluster_start();
	atomic_store(&nodes[1].fault_tag, 1);
	run(1, fill_fn, first, 7, n);
	atomic_store(&nodes[1].fault_tag, 2);
	run(1, fill_fn, first + n, 8, 16);
	assert_int_equal(stats(1).cached, n + 16);
	memplane_give_back(nodes[1].mp, 1, 0);
	end = now_us() + DEADLINE_US;
	while (stats(1).given_back < n || stats(0).proto.evicts_recv < n) {
		assert_true(now_us() < end);
		usleep(1000);
	}
	assert_int_equal(stats(1).given_back, n);
	assert_int_equal(stats(1).cached, 16);
	r0 = stats(0).remote_faults;
	run(0, check_fn, first, 7, n);
	assert_int_equal(stats(0).remote_faults, r0);
	run(0, check_fn, first + n, 8, 16);
	assert_true(stats(0).remote_faults > r0);
	cluster_check();
}

int main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, cluster_teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_written_elsewhere),
		T(test_pingpong),
		T(test_locked_increments),
		T(test_locked_increments_no_window),
		T(test_preloaded),
		T(test_zero_pages_stay_home),
		T(test_stop_releases_blocked),
		T(test_send_error_is_fatal),
		T(test_messages_before_start),
		T(test_window_holds_a_just_mapped_page),
		T(test_bad_messages),
		T(test_latency),
		T(test_budget_one_writer),
		T(test_budget_two_writers),
		T(test_prefetch),
		T(test_read_ahead),
		T(test_read_ahead_budget),
		T(test_give_back),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
