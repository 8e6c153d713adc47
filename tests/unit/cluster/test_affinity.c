/* The page-or-vCPU cost model (cpu/affinity.h), driven with a
 * synthetic clock: what moves a vCPU, and what must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "cpu/affinity.h"

#define MS 1000000ull

static struct affinity A;

static int setup(void **state)
{
	return affinity_init(&A, &affinity_defaults, 4, 3);
}

/* n faults of vCPU v (on node here) from node from, one every gap ns,
 * each waited for wait ns, starting at *t; returns the first decision to
 * move, or -1. */
static int waits(unsigned v, unsigned here, unsigned from, unsigned n, uint64_t gap,
		 uint64_t wait, uint64_t *t)
{
	int to = -1;

	for (unsigned i = 0; i < n && to < 0; i++) {
		to = affinity_fault(&A, v, here, from, -1, false, true, wait, *t);
		*t += gap;
	}
	return to;
}

/* The same, each waited for half the gap, repeat or not. */
static int faults(unsigned v, unsigned here, unsigned from, bool repeat, unsigned n,
		  uint64_t gap, uint64_t *t)
{
	int to = -1;

	for (unsigned i = 0; i < n && to < 0; i++) {
		to = affinity_fault(&A, v, here, from, -1, false, repeat, gap / 2, *t);
		*t += gap;
	}
	return to;
}

static void test_bad_config(void **state)
{
	struct affinity a;
	struct affinity_config c = affinity_defaults;

	assert_int_equal(affinity_init(&a, &c, 0, 2), -EINVAL);
	assert_int_equal(affinity_init(&a, &c, 65, 2), -EINVAL);
	assert_int_equal(affinity_init(&a, &c, 2, 0), -EINVAL);
	c.window_ns = 0;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.wait_pct = 0;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.gain_pct = 0;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.share_pct = 101;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.busy_demand = 0;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.slack_cpus = -1;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	c = affinity_defaults;
	c.fresh_pages = 0;
	assert_int_equal(affinity_init(&a, &c, 2, 2), -EINVAL);
	/* Out-of-range calls decide nothing. */
	assert_int_equal(affinity_fault(&A, 4, 0, 1, -1, false, true, MS, 0), -1);
	assert_int_equal(affinity_fault(&A, 0, 3, 1, -1, false, true, MS, 0), -1);
	assert_int_equal(affinity_fault(&A, 0, 1, 1, -1, false, true, MS, 0), -1);
}

/* Sustained sharing with one node (half the time waiting for it) moves the
 * vCPU there, but only once it has been where it is for the stay time,
 * and from the faults after that: about 50 ms of them. */
static void test_sharing_moves(void **state)
{
	uint64_t t = 1000 * MS;
	int to = faults(1, 1, 0, true, 1000, 1 * MS, &t);

	assert_int_equal(to, 0);
	assert_true(t - 1000 * MS >= affinity_defaults.stay_ns + affinity_defaults.sustain_ns +
				    40 * MS);
	assert_true(t - 1000 * MS <= affinity_defaults.stay_ns + affinity_defaults.sustain_ns +
				    100 * MS);
}

/* A burst of repeat faults right after it came (its working set coming
 * after it), however long, moves nothing; the same waiting later does. */
static void test_arrival_burst_does_not(void **state)
{
	uint64_t t = 0;

	affinity_arrived(&A, 1, 1, t);
	/* 190 ms of waiting 90% of the time. */
	assert_int_equal(waits(1, 1, 0, 190, MS, 9 * MS / 10, &t), -1);
	/* Then nothing for the rest of the stay and a while: stays. */
	t += 300 * MS;
	assert_int_equal(waits(1, 1, 0, 300, MS, MS / 100, &t), -1);
	/* The same waiting now, for longer than a burst, is sharing. */
	assert_int_equal(waits(1, 1, 0, 1000, MS, 9 * MS / 10, &t), 0);
}

/* Bursts of waiting with quiet between (a thread woken at a barrier, a
 * program starting: seen in the lab, bench/scale's triad, pulled by the
 * burst as its timed part began) move nothing, however often; the same
 * waiting held for sustain_ns does. */
static void test_bursts_do_not(void **state)
{
	uint64_t t = 0;

	affinity_arrived(&A, 1, 1, t);
	t += 300 * MS;
	for (unsigned k = 0; k < 5; k++) {
		assert_int_equal(waits(1, 1, 0, 300, MS, 9 * MS / 10, &t), -1);
		t += 200 * MS;
	}
	assert_int_equal(waits(1, 1, 0, 1000, MS, 9 * MS / 10, &t), 0);
}

/* Pages fetched once (a move of data, not sharing) never move a vCPU,
 * however many. */
static void test_one_time_faults_do_not(void **state)
{
	uint64_t t = 0;

	assert_int_equal(faults(1, 1, 0, false, 5000, 100000, &t), -1);
}

/* Many repeat faults that cost little of the vCPU's time (a fast
 * network) never add up: the waiting decays. */
static void test_little_waiting_does_not(void **state)
{
	uint64_t t = 0;

	/* 30 us waits, one every 200 us: 15% of the time. */
	assert_int_equal(waits(2, 2, 0, 20000, 200000, 30000, &t), -1);
}

/* The same rule moves a vCPU on the fast network once waiting is most of
 * its time. */
static void test_fast_network_moves(void **state)
{
	uint64_t t = 0;

	assert_int_equal(waits(2, 2, 0, 20000, 50000, 30000, &t), 0);
}

/* Never up: a vCPU on node 0 waiting on node 1 stays. */
static void test_never_up(void **state)
{
	uint64_t t = 0;

	assert_int_equal(faults(2, 0, 1, true, 4000, MS / 4, &t), -1);
}

/* Faults split between two other nodes: moving to either would leave
 * half of them remote, so the vCPU stays. */
static void test_split_does_not(void **state)
{
	uint64_t t = 0;
	int to = -1;

	for (unsigned i = 0; i < 2000 && to < 0; i++) {
		to = affinity_fault(&A, 3, 2, i & 1, -1, false, true, MS / 4, t);
		t += MS / 2;
	}
	assert_int_equal(to, -1);
}

/* After a move to node 0 the pages the vCPU left behind on node 1 come
 * after it, repeatedly if node 1 still uses them: that never sends it back
 * up. */
static void test_no_bounce(void **state)
{
	uint64_t t = 0;
	int to = faults(1, 1, 0, true, 4000, MS / 4, &t);

	assert_int_equal(to, 0);
	affinity_left(&A, 1);
	assert_int_equal(faults(1, 0, 1, true, 4000, MS / 4, &t), -1);
}

/* Two vCPUs on nodes 1 and 2 writing the same pages, each node deciding
 * for its own (two models): only one moves, and they end together. */
static void test_partners_do_not_swap(void **state)
{
	struct affinity n1, n2;
	unsigned where1 = 1, where2 = 2, moves = 0;
	uint64_t t = 0;

	assert_int_equal(affinity_init(&n1, &affinity_defaults, 4, 3), 0);
	assert_int_equal(affinity_init(&n2, &affinity_defaults, 4, 3), 0);
	for (unsigned i = 0; i < 20000 && where1 != where2; i++, t += MS / 4) {
		struct affinity *m1 = where1 == 1 ? &n1 : &n2, *m2 = where2 == 1 ? &n1 : &n2;
		int to1 = affinity_fault(m1, 1, where1, where2, -1, false, true, MS / 8, t);
		int to2 = affinity_fault(m2, 2, where2, where1, -1, false, true, MS / 8, t);

		if (to1 >= 0) {
			affinity_left(m1, 1);
			where1 = (unsigned)to1;
			moves++;
		}
		if (to2 >= 0) {
			affinity_left(m2, 2);
			where2 = (unsigned)to2;
			moves++;
		}
	}
	assert_int_equal(where1, 1);
	assert_int_equal(where2, 1);
	assert_int_equal(moves, 1);
}

/* ---- the CPU rule ---- */

#define POOL_A 0xa
#define POOL_B 0xb
#define ALL_BUT_0 0xeull	/* vCPUs 1-3 may move */

/* Every 100 ms from *t for ms: vCPUs in mask (all on node here) want
 * frac of a CPU each, and node here publishes its load (pool, cpus). */
static void busy(unsigned here, uint64_t mask, double frac, uint64_t pool, double cpus,
		 unsigned ms, uint64_t *t)
{
	for (unsigned k = 0; k < ms / 100; k++, *t += 100 * MS) {
		for (unsigned i = 0; i < 4; i++)
			if (mask >> i & 1)
				affinity_demand(&A, i, here, frac, *t);
		affinity_own_load(&A, here, pool, cpus);
	}
}

/* Four busy vCPUs on a node of 2 CPUs, another host with 2 idle: two of
 * them go there (one per decision), then the rule is content. */
static void test_crowded_node_spreads(void **state)
{
	uint64_t t = 0;
	unsigned v1, v2, v3;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 0), 0);
	busy(0, 0xf, 1.0, POOL_A, 2, 100, &t);
	/* Not before the vCPUs have stayed their time. */
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v1), -1);
	busy(0, 0xf, 1.0, POOL_A, 2, 300, &t);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v1), 1);
	assert_true(v1 >= 1 && v1 <= 3);
	affinity_left(&A, v1);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v2), 1);
	assert_true(v2 >= 1 && v2 <= 3 && v2 != v1);
	affinity_left(&A, v2);
	/* Now 2 wanted of 2 here, and node 1 full: nothing more. */
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v3), -1);
	busy(0, 0xf & ~(1u << v1) & ~(1u << v2), 1.0, POOL_A, 2, 500, &t);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 2), 0);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v3), -1);
}

/* Nodes of one host share its CPUs: moving between them gains nothing. */
static void test_same_host_stays(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 1, POOL_A, 2, 0), 0);
	busy(0, 0xf, 1.0, POOL_A, 2, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), -1);
}

/* A node whose last word was impossible is unknown again: no destination,
 * though what it said before had room. */
static void test_bad_report_forgets(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 2, POOL_B, 2, 0), 0);
	busy(0, 0xf, 1.0, POOL_A, 2, 1000, &t);
	assert_int_equal(affinity_node_load(&A, 2, POOL_B, 1e9, 0), -EINVAL);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), -1);
	assert_int_equal(affinity_node_load(&A, 2, POOL_B, 2, 0), 0);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), 2);
}

/* vCPUs that want little (mostly halted or waiting) do not move, however
 * many; nor does the BSP, the only busy one here. */
static void test_idle_or_unmovable_stay(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 4, 0), 0);
	busy(0, 0xe, 0.4, POOL_A, 1, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), -1);
	busy(0, 0x1, 1.0, POOL_A, 1, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), -1);
}

/* A busy vCPU that also spends much of its time waiting for pages shared
 * here stays with them; a purely computing one goes. */
static void test_tied_by_pages_stays(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 2, POOL_B, 2, 0), 0);
	/* vCPU 2 is the busier: without the tie it would be the one. */
	for (unsigned k = 0; k < 10; k++) {
		affinity_demand(&A, 1, 1, 0.8, t);
		busy(1, 0x4, 1.0, POOL_A, 1, 100, &t);
		/* vCPU 2 waits half of each 100 ms for node 2's pages (up:
		 * the page rule leaves it). */
		for (unsigned f = 0; f < 10; f++)
			assert_int_equal(affinity_fault(&A, 2, 1, 2, -1, false, true, 5 * MS,
							t - 100 * MS + f * 10 * MS), -1);
	}
	assert_int_equal(affinity_balance(&A, 1, ALL_BUT_0, t, &v), 2);
	assert_int_equal(v, 1);
}

/* The page rule does not pull a vCPU into a pool it would overload, and
 * does once there is room (or the pool is this node's own). */
static void test_page_rule_needs_room(void **state)
{
	uint64_t t = 0;

	/* Waiting half its time, it runs the other half. */
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 2), 0);
	busy(1, 0x2, 0.5, POOL_B, 2, 300, &t);
	assert_int_equal(faults(1, 1, 0, true, 2000, MS, &t), -1);
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1), 0);
	assert_int_equal(faults(1, 1, 0, true, 2000, MS, &t), 0);
	affinity_left(&A, 1);
	/* Full, but the same host: pages decide alone. */
	assert_int_equal(affinity_node_load(&A, 0, POOL_B, 2, 2), 0);
	busy(2, 0x4, 0.5, POOL_B, 2, 300, &t);
	assert_int_equal(faults(2, 2, 0, true, 2000, MS, &t), 0);
}

/* A vCPU starved by remote pages wants little CPU now, and would want
 * much more with its pages local: that is what it would take from the
 * pool it joins (affinity.h, "Weighing"). */
static void test_page_rule_needs_a_whole_cpu(void **state)
{
	uint64_t t = 0;

	/* Half its time waiting, a third of a CPU running; there, 1.8 of 2
	 * CPUs wanted: the two pools would do 2.0 instead of 2.1. */
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.8), 0);
	busy(1, 0x2, 0.3, POOL_B, 2, 300, &t);
	assert_int_equal(faults(1, 1, 0, true, 2000, MS, &t), -1);
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.0), 0);
	assert_int_equal(faults(1, 1, 0, true, 2000, MS, &t), 0);
}

/* A vCPU that runs little and waits little for the other node's pages
 * (halted in an idle guest, or fetching its own data back once: faults
 * that are not repeats) is not pulled into that node's pool for the room
 * there: it would want there what it wants here, plus what it waits for
 * that node (the lab's triad: 0.14 of a CPU, 2% waiting, pulled away
 * from its arrays when it counted as a whole CPU). One that waits most of
 * the rest of its time is. */
static void test_idle_not_pulled(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 1, 0.45), 0);
	busy(1, 0x2, 0.14, POOL_B, 1, 300, &t);
	/* 2% of its time: one 20 us fault a millisecond. */
	assert_int_equal(waits(1, 1, 0, 3000, MS, 20000, &t), -1);
	assert_int_equal(faults(1, 1, 0, false, 3000, MS, &t), -1);
	assert_int_equal(waits(1, 1, 0, 3000, MS, 700000, &t), 0);
}

/* Into a pool with some room: a vCPU waiting half its time gains little
 * by it (2.0 of the pools' CPUs used instead of 1.9); one waiting 90% of
 * its time gains half a CPU (2.0 instead of 1.5). Into a full pool,
 * neither: it would only take CPU time from others. */
static void test_starving_moves_into_some_room(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.4), 0);
	busy(1, 0x2, 0.5, POOL_B, 2, 300, &t);
	assert_int_equal(waits(1, 1, 0, 2000, MS, MS / 2, &t), -1);
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 2.0), 0);
	busy(1, 0x2, 0.1, POOL_B, 2, 300, &t);
	assert_int_equal(waits(1, 1, 0, 2000, MS, 9 * MS / 10, &t), -1);
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.4), 0);
	assert_int_equal(waits(1, 1, 0, 2000, MS, 9 * MS / 10, &t), 0);
}

/* A computing vCPU on a host of its own whose only remote pages are a
 * few percent of its time (the guest kernel's timekeeping) stays there,
 * even where the other host has a CPU to spare: it gains little. */
static void test_computing_stays(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 1, 1.0), 0);
	busy(1, 0x2, 1.0, POOL_B, 1, 300, &t);
	/* 8% waiting, one 80 us fault a millisecond. */
	assert_int_equal(waits(1, 1, 0, 5000, MS, 80000, &t), -1);
	/* And with a CPU to spare on node 0 as well, still too little. */
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.0), 0);
	assert_int_equal(waits(1, 1, 0, 5000, MS, 80000, &t), -1);
}

/* An idle vCPU (a twentieth of a CPU) that wakes now and then and waits a
 * fifth of its time for the other node's kernel pages stays, though that
 * node is idle too and the move would gain 0.4: with its pages local it
 * would still want a quarter of a CPU, and its waiting delays nothing but
 * its wake-ups. Pulled between two programs (bench/scale in the lab), it
 * took the next program's memory where it was. Waiting half its time,
 * it wants more than half a CPU, and goes. */
static void test_idle_stays_home(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 1, 0.05), 0);
	busy(1, 0x2, 0.05, POOL_B, 1, 300, &t);
	assert_int_equal(waits(1, 1, 0, 3000, MS, 210000, &t), -1);
	assert_int_equal(waits(1, 1, 0, 3000, MS, 500000, &t), 0);
}

/* Sent away for CPUs, a vCPU that then waits for its pages is not pulled
 * back while its old pool is as loaded as it was (two nodes, each its own
 * model, the loads each publishes). */
static void test_no_push_pull_cycle(void **state)
{
	struct affinity n0, n1;
	uint64_t t = 0;
	unsigned v;
	int to = -1;

	assert_int_equal(affinity_init(&n0, &affinity_defaults, 4, 2), 0);
	assert_int_equal(affinity_init(&n1, &affinity_defaults, 4, 2), 0);
	for (; t < 400 * MS; t += 100 * MS) {
		for (unsigned i = 0; i < 3; i++)
			affinity_demand(&n0, i, 0, 0.85, t);
		assert_int_equal(affinity_node_load(&n1, 0, POOL_A, 2,
						    affinity_own_load(&n0, 0, POOL_A, 2)), 0);
		assert_int_equal(affinity_node_load(&n0, 1, POOL_B, 2,
						    affinity_own_load(&n1, 1, POOL_B, 2)), 0);
	}
	assert_int_equal(affinity_balance(&n0, 0, 0x6, t, &v), 1);
	affinity_left(&n0, v);
	/* On node 1 it waits for node 0's pages 30% of the time and wants
	 * a fifth of a CPU; node 0's other two still want 0.85 each. */
	for (unsigned k = 0; k < 50 && to < 0; k++, t += 100 * MS) {
		for (unsigned i = 0; i < 3; i++)
			if (i != v)
				affinity_demand(&n0, i, 0, 0.85, t);
		affinity_demand(&n1, v, 1, 0.2, t);
		assert_int_equal(affinity_node_load(&n1, 0, POOL_A, 2,
						    affinity_own_load(&n0, 0, POOL_A, 2)), 0);
		assert_int_equal(affinity_node_load(&n0, 1, POOL_B, 2,
						    affinity_own_load(&n1, 1, POOL_B, 2)), 0);
		for (unsigned f = 0; f < 100 && to < 0; f++)
			to = affinity_fault(&n1, v, 1, 0, -1, false, true, 300 * 1000, t + f * MS);
	}
	assert_int_equal(to, -1);
}

/* vCPU 1, sent from node 0 to node 1, comes back after away_ms, having
 * waited there a share 'waited' of its time for node 0's pages (0: sent
 * back for CPUs): the CPU rule sends it again only once it has stayed
 * stay_ms on node 0. */
static void back_and_sent_again(unsigned away_ms, double waited, unsigned stay_ms,
				uint64_t *t)
{
	unsigned v;

	busy(0, 0xd, 1.0, POOL_A, 2, away_ms, t);
	affinity_came(&A, 1, 0, 1, waited, *t);
	busy(0, 0xf, 1.0, POOL_A, 2, stay_ms - 100, t);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 0), 0);
	assert_int_equal(affinity_balance(&A, 0, 0x2, *t, &v), -1);
	busy(0, 0xf, 1.0, POOL_A, 2, 100, t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, *t, &v), 1);
	assert_int_equal(v, 1);
	affinity_left(&A, 1);
}

/* Sent away for CPUs and pulled back by its pages, again and again: each
 * quick return doubles the stay the CPU rule waits for before sending it
 * again; a return within 30 s counts (the lab's came 4 to 25 s after
 * the push), one long after starts over. */
static void test_returns_back_off(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 0), 0);
	busy(0, 0xf, 1.0, POOL_A, 2, 400, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), 1);
	affinity_left(&A, 1);
	/* Pulled back 300 ms later, twice: the stay doubles each time. */
	back_and_sent_again(300, 0.05, 400, &t);
	back_and_sent_again(300, 0.05, 800, &t);
	/* Pulled back after 3 s: still a return (the lab's were 4 to 25 s),
	 * the stay at its longest. */
	back_and_sent_again(3000, 0.05, 1600, &t);
	/* Pulled back after 40 s: the plain stay again. */
	back_and_sent_again(40000, 0.05, 200, &t);
	/* Sent back for CPUs 300 ms later: not a return either. */
	back_and_sent_again(300, 0.05, 400, &t);
	back_and_sent_again(300, 0, 200, &t);
}

/* Sent away for CPUs, a vCPU carries nothing: when the loads turn, the
 * node it came to sends it back as soon as its stay allows, the other
 * idle vCPUs' turn not held up by it (measured work is only for vCPUs
 * pulled by their pages). */
static void test_pushed_goes_back_when_loads_turn(void **state)
{
	uint64_t t = 0;
	unsigned v;

	/* Node 0 (2 CPUs) has 3 busy vCPUs, node 1 (2 CPUs) none: vcpu 1
	 * goes to node 1, and node 1 learns of it as node 1 would. */
	double w;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 0), 0);
	busy(0, 0x7, 1.0, POOL_A, 2, 400, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x6, t, &v), 1);
	w = affinity_waited_for(&A, v, 1, t);
	assert_true(w == 0);
	assert_int_equal(setup(state), 0);
	affinity_own_load(&A, 1, POOL_B, 2);
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 3.0), 0);
	affinity_came(&A, v, 1, 0, w, t);
	/* Now node 1 has it and two more busy ones, node 0 only 0.5. */
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 0.5), 0);
	busy(1, 0x2 | 0x4 | 0x8, 1.0, POOL_B, 2, 300, &t);
	assert_int_equal(affinity_balance(&A, 1, 0xe, t, &v), 0);
}

/* vCPU 1 comes from node 1 (1 CPU) to node 0 (1 CPU), where vCPU 0 wants
 * 'partner' of a CPU; node 1 said it wanted 'there' with it (< 0: node 1
 * has not reported since a move was booked there), and it waited a share
 * 'waited' of its time there for node 0's pages. Then both want 'demand'
 * here: the CPU rule keeps it for kept_ms and sends it back to node 1 by
 * sent_ms. */
static void pulled_in_kept_then_sent(double partner, double there, double waited,
				     double demand, unsigned kept_ms, unsigned sent_ms,
				     uint64_t *t)
{
	unsigned v;

	busy(0, 0x1, partner, POOL_A, 1, 500, t);
	if (there >= 0)
		assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, there), 0);
	affinity_came(&A, 1, 0, 1, waited, *t);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	busy(0, 0x3, demand, POOL_A, 1, kept_ms, t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, *t, &v), -1);
	busy(0, 0x3, demand, POOL_A, 1, sent_ms - kept_ms, t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, *t, &v), 1);
	assert_int_equal(v, 1);
}

/* Pulled in by its pages, having waited 70% of its time for them on node
 * 1, a vCPU sharing node 0's one CPU with another busy one is not pushed
 * back to node 1's free CPU while that is remembered: there it would do
 * 0.3 of a CPU's work and make its partner here wait as much (0.6 in all,
 * against 1.0 shared here). The memory fades: 10 s later it goes, as a
 * vCPU that waited 5% there goes at once (the seventeen round trips of
 * bench/scale's EP in the lab, affinity.h). */
static void test_pulled_in_not_pushed_back(void **state)
{
	uint64_t t = 0;
	unsigned v;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	affinity_came(&A, 1, 0, 1, 0.7, t);
	busy(0, 0x3, 1.0, POOL_A, 1, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), -1);
	busy(0, 0x3, 1.0, POOL_A, 1, 2000, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), -1);
	busy(0, 0x3, 1.0, POOL_A, 1, 7000, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), 1);
	assert_int_equal(v, 1);
	/* Pulled back half a second later, waiting as much (node 1 has not
	 * reported since the push: the pools' work before it came is not
	 * measured, the estimate alone weighs): the memory now lasts twice as
	 * long (6 s later a 5 s memory would have let it go:
	 * w 0.21, a gain of 0.58; with 10 s, w 0.38, 0.23). */
	affinity_left(&A, 1);
	pulled_in_kept_then_sent(1.0, -1, 0.7, 1.0, 6000, 18000, &t);

	/* Barely waiting there: sent at once. */
	assert_int_equal(setup(state), 0);
	t = 0;
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	affinity_came(&A, 1, 0, 1, 0.05, t);
	busy(0, 0x3, 1.0, POOL_A, 1, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), 1);
}

/* What a vCPU carries when it moves: pulled by the page rule, what it
 * waited for the pages of the node it goes to; sent by the CPU rule,
 * nothing, whatever it waited. */
static void test_what_it_carries(void **state)
{
	uint64_t t = 0;
	unsigned v;
	int to = -1;

	affinity_arrived(&A, 2, 2, 0);
	for (unsigned i = 0; i < 1000 && to < 0; i++, t += MS)
		to = affinity_fault(&A, 2, 2, 1, -1, false, true, MS / 2, 300 * MS + t);
	assert_int_equal(to, 1);
	assert_true(affinity_waited_for(&A, 2, 1, 300 * MS + t) > 0.3);
	assert_true(affinity_waited_for(&A, 2, 0, 300 * MS + t) == 0);
	assert_int_equal(setup(state), 0);
	t = 0;
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 0), 0);
	busy(0, 0xf, 1.0, POOL_A, 2, 400, &t);
	for (unsigned i = 0; i < 100; i++)
		affinity_fault(&A, 1, 0, 1, -1, false, true, MS / 10, t + i * MS);
	t += 100 * MS;
	busy(0, 0xf, 1.0, POOL_A, 2, 100, &t);
	assert_int_equal(affinity_balance(&A, 0, 0x2, t, &v), 1);
	assert_true(affinity_waited_for(&A, 1, 1, t) == 0);
}

/* Pulled in waiting only a quarter of its time, by a partner it held up
 * (a barrier every sweep): apart, the two pools did 0.59 of a CPU's work,
 * measured; together on node 0's one CPU they do 1.0. Its own small
 * waiting alone would let it go within 3 s (the stencil's eight round
 * trips in 35 s in the lab); the measured work keeps it while that is
 * remembered, and it still goes once it has faded. */
static void test_held_up_partner_keeps_it(void **state)
{
	uint64_t t = 0;

	pulled_in_kept_then_sent(0.33, 0.26, 0.25, 0.85, 5000, 12000, &t);
}

/* A vCPU waiting 60% of its time for node 0's pages, both pools
 * short of work: pulled (affinity.h, "Weighing"), but not while it takes
 * new memory here (its thread first touching its arrays, a page every
 * millisecond), nor while node 0 says its vCPUs take new memory there
 * (vcpu 1 waiting at the barrier while the other threads first touch
 * theirs); at once when both stop (affinity.h, "New memory"). */
static void test_new_memory_holds(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 1, 0.2), 0);
	busy(1, 0x2, 0.3, POOL_B, 1, 300, &t);
	for (unsigned i = 0; i < 3000; i++, t += MS) {
		affinity_fresh(&A, 1, 1, t);
		assert_int_equal(affinity_fault(&A, 1, 1, 0, -1, false, true, 600000, t), -1);
	}
	affinity_node_fresh(&A, 0, 100);
	assert_int_equal(waits(1, 1, 0, 3000, MS, 600000, &t), -1);
	/* A few a window: background, not a first touch. */
	affinity_node_fresh(&A, 0, 3);
	assert_int_equal(waits(1, 1, 0, 1000, MS, 600000, &t), 0);
	/* Its own new pages decay with the window, and it says them. */
	assert_int_equal(setup(state), 0);
	t = 0;
	affinity_fresh(&A, 1, 1, t);	/* not known here yet: not counted */
	assert_true(affinity_own_fresh(&A, 1, t) == 0);
	affinity_arrived(&A, 1, 1, t);
	for (unsigned i = 0; i < 100; i++, t += MS)
		affinity_fresh(&A, 1, 1, t);
	assert_true(affinity_own_fresh(&A, 1, t) > 50);
	assert_true(affinity_own_fresh(&A, 1, t + 1000 * MS) < 1);
	assert_true(affinity_own_fresh(&A, 0, t) == 0);
}

/* A vCPU that has just come counts as a whole CPU in its node's load
 * until its demand is sampled. */
static void test_arrived_counts_whole(void **state)
{
	affinity_arrived(&A, 1, 1, 0);
	affinity_arrived(&A, 2, 1, 0);
	assert_true(affinity_own_load(&A, 1, POOL_B, 2) == 2.0);
	affinity_demand(&A, 1, 1, 0.25, 100 * MS);
	assert_true(affinity_own_load(&A, 1, POOL_B, 2) == 1.25);
	affinity_left(&A, 2);
	assert_true(affinity_own_load(&A, 1, POOL_B, 2) == 0.25);
}

/* Two vCPUs pulled by their pages into one pool in the same interval: the
 * first is booked as a whole CPU, so the second no longer fits. */
static void test_pulls_book_whole_cpus(void **state)
{
	uint64_t t = 0, t2;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 1.0), 0);
	/* Both starved: a fifth of a CPU each where they are. */
	busy(1, 0x6, 0.2, POOL_B, 2, 300, &t);
	t2 = t;
	assert_int_equal(faults(1, 1, 0, true, 2000, MS, &t), 0);
	assert_int_equal(faults(2, 1, 0, true, 2000, MS, &t2), -1);
}

/* n faults of vCPU v on node here, from node from, one every millisecond,
 * each waited for wait ns, on pages of page_home's range (-1: none),
 * fresh (never written) or not; first fetches, not repeats. The first
 * decision to move, or -1. */
static int home_faults(unsigned v, unsigned here, unsigned from, int page_home, bool fresh,
		       unsigned n, uint64_t wait, uint64_t *t)
{
	int to = -1;

	for (unsigned i = 0; i < n && to < 0; i++, *t += MS)
		to = affinity_fault(&A, v, here, from, page_home, fresh, false, wait, *t);
	return to;
}

/* The lab's triad: vcpu 1 (home node 1) was pulled to node 0 while the
 * guest was idle; the next program's thread first-touches its arrays,
 * memory the guest takes from node 1's range. Waiting for it, the vCPU
 * goes home, although node 1 is higher and the faults are first fetches,
 * which the page rule never counts; and it carries that waiting. Fresh
 * memory (never written) counts after the stay; pages written before
 * only after home_stay_ns (1 s): until then they may be its working set
 * following it. The same faults move nothing for another range, for a
 * vCPU whose home is not known, nor at home. */
static void test_goes_home_for_its_memory(void **state)
{
	uint64_t t = 0, t0;

	affinity_set_home(&A, 1, 1);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	assert_int_equal(affinity_node_load(&A, 2, POOL_B + 1, 1, 0), 0);
	busy(0, 0x7, 0.1, POOL_A, 1, 500, &t);
	assert_int_equal(home_faults(1, 0, 1, 1, false, 450, 9 * MS / 10, &t), -1);
	assert_int_equal(home_faults(1, 0, 2, 2, true, 2000, 9 * MS / 10, &t), -1);
	assert_int_equal(home_faults(2, 0, 1, 1, true, 2000, 9 * MS / 10, &t), -1);
	t0 = t;
	assert_int_equal(home_faults(1, 0, 1, 1, true, 2000, 9 * MS / 10, &t), 1);
	assert_true(t - t0 < 200 * MS);
	assert_true(affinity_waited_for(&A, 1, 1, t) > 0.3);
	affinity_left(&A, 1);
	affinity_came(&A, 1, 1, 0, 0, t);
	assert_int_equal(home_faults(1, 1, 0, 1, true, 2000, 9 * MS / 10, &t), -1);

	/* Pages written before: only after a second away. */
	assert_int_equal(setup(state), 0);
	t = 0;
	affinity_set_home(&A, 1, 1);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	busy(0, 0x3, 0.1, POOL_A, 1, 100, &t);
	assert_int_equal(home_faults(1, 0, 1, 1, false, 900, 9 * MS / 10, &t), -1);
	assert_int_equal(home_faults(1, 0, 1, 1, false, 2000, 9 * MS / 10, &t), 1);
	assert_true(t < 1300 * MS);
}

/* A fault that waited longer than the vCPU has been here began before it
 * came (left open when it last left): not counted, however long. */
static void test_wait_from_before_not_counted(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 0.3), 0);
	affinity_came(&A, 1, 1, 0, 0, t);
	busy(1, 0x2, 0.3, POOL_B, 1, 300, &t);
	assert_int_equal(affinity_fault(&A, 1, 1, 0, 0, false, true, 400 * MS, t), -1);
	assert_int_equal(affinity_fault(&A, 1, 1, 0, 0, false, true, 400 * MS, t + MS), -1);
	assert_int_equal(waits(1, 1, 0, 3000, MS, 6 * MS / 10, &t), 0);
}

/* Away from home on a crowded node, a vCPU that waits only 10% of its
 * time for its memory stays for the home rule (the room at home is the
 * CPU rule's business); waiting 60%, it goes. */
static void test_home_needs_waiting(void **state)
{
	uint64_t t = 0;

	affinity_set_home(&A, 1, 1);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	busy(0, 0x3, 0.9, POOL_A, 1, 500, &t);
	assert_int_equal(home_faults(1, 0, 1, 1, true, 3000, MS / 10, &t), -1);
	assert_int_equal(home_faults(1, 0, 1, 1, true, 3000, 6 * MS / 10, &t), 1);
}

/* Its home must account for most of its waiting: a vCPU that waits 45%
 * of its time for fresh memory at home (going home would gain 0.45 of a
 * CPU) and as much for pages node 2 keeps taking stays (node 2 is
 * higher: the page rule does not move it there either). */
static void test_home_needs_most_of_its_waiting(void **state)
{
	uint64_t t = 0;
	int to = -1;

	affinity_set_home(&A, 1, 1);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	busy(0, 0x3, 0.1, POOL_A, 1, 500, &t);
	for (unsigned i = 0; i < 3000 && to < 0; i++, t += MS)
		to = i % 2 ? affinity_fault(&A, 1, 0, 2, -1, false, true, 9 * MS / 10, t) :
			     affinity_fault(&A, 1, 0, 1, 1, true, false, 9 * MS / 10, t);
	assert_int_equal(to, -1);
}

/* vCPU 1 (home 1) came to node here from the other node, carrying
 * carried, and here's vCPUs in mask want demand each: attempt (faults of
 * vCPU 1 from *t) moves nothing while that is remembered, and moves it
 * to the other node 20 s later. */
static void kept_while_remembered(unsigned here, uint64_t mask, double demand, double carried,
				  int (*attempt)(uint64_t *t))
{
	uint64_t t = 0;

	affinity_set_home(&A, 1, 1);
	affinity_came(&A, 1, here, 1 - here, carried, t);
	busy(here, mask, demand, here ? POOL_B : POOL_A, 1, 300, &t);
	assert_int_equal(attempt(&t), -1);
	busy(here, mask, demand, here ? POOL_B : POOL_A, 1, 20000, &t);
	assert_int_equal(attempt(&t), (int)(1 - here));
}

static int half_for_home(uint64_t *t)
{
	return home_faults(1, 0, 1, 1, true, 2000, MS / 2, t);
}

static int quarter_for_node0(uint64_t *t)
{
	return waits(1, 1, 0, 3000, MS, MS / 4, t);
}

/* Pulled in from home, having waited 70% of its time there for node 0's
 * pages, a vCPU that now waits half its time for its new memory stays
 * while that is remembered (at home it would wait for node 0 again, and
 * its partner for it), and goes once the memory has faded. */
static void test_home_weighs_why_it_came(void **state)
{
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	kept_while_remembered(0, 0x3, 0.4, 0.7, half_for_home);
}

/* Pulled in from home having waited half its time there for node 0's
 * pages, a vCPU that now waits 80% of its time for its memory goes home
 * at once (after home_stay_ns): its memory costs it more here than the
 * pages it came for did there. */
static int most_for_home(uint64_t *t)
{
	return home_faults(1, 0, 1, 1, false, 3000, 4 * MS / 5, t);
}

static void test_home_outweighs_why_it_came(void **state)
{
	uint64_t t = 0;

	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	affinity_set_home(&A, 1, 1);
	affinity_came(&A, 1, 0, 1, 0.5, t);
	busy(0, 0x3, 0.3, POOL_A, 1, 300, &t);
	assert_int_equal(most_for_home(&t), 1);
	assert_true(t <= affinity_defaults.home_stay_ns + 200 * MS);
}

/* Sent home for its memory, having waited 80% of its time for it, a vCPU
 * that waits a quarter of its time at home for node 0's pages is not
 * pulled straight back: there it would wait for its memory again. Once
 * that is forgotten, the page rule pulls it as before. */
static void test_page_rule_weighs_home(void **state)
{
	assert_int_equal(affinity_node_load(&A, 0, POOL_A, 2, 0.3), 0);
	kept_while_remembered(1, 0x2, 0.5, 0.8, quarter_for_node0);
}

/* Sent away from home by the CPU rule, a vCPU whose new memory the guest
 * still takes at home is not sent home for it while the push is
 * remembered (it would undo the push), and is once it is forgotten. */
static void test_pushed_from_home_stays(void **state)
{
	uint64_t t = 0;

	affinity_set_home(&A, 1, 1);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 1, 0), 0);
	affinity_came(&A, 1, 0, 1, 0, t);
	busy(0, 0x3, 0.1, POOL_A, 1, 500, &t);
	assert_int_equal(home_faults(1, 0, 1, 1, true, 4000, 9 * MS / 10, &t), -1);
	busy(0, 0x3, 0.1, POOL_A, 1, 1000, &t);
	assert_int_equal(home_faults(1, 0, 1, 1, true, 2000, 9 * MS / 10, &t), 1);
}

/* Two nodes, each its own model, the loads each publishes: a vCPU of a
 * job sharing pages every step (a stencil: at home on node 1 it waits a
 * quarter of its time for node 0's pages), whose slice (pages of its
 * home's range written before) follows it for 3 s at 90% of its time
 * each time it comes to node 0, and whose job took 1 s of fresh memory at
 * the start. The page rule pulls it to node 0; the home rule sends it
 * home for its memory, and for its slice after the home stay; each quick
 * return from home doubles that stay, until the slice no longer outlasts
 * it: the vCPU then stays with its partner. A helper's simulation of the
 * same with no home stay and no doubling: 115 moves in 120 s. */
static void test_home_and_pages_settle(void **state)
{
	static struct affinity nm[2];
	unsigned where = 1, moves = 0, v;
	uint64_t t = 0, arrived = 0;

	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(affinity_init(&nm[i], &affinity_defaults, 2, 2), 0);
		affinity_set_home(&nm[i], 0, 0);
		affinity_set_home(&nm[i], 1, 1);
	}
	for (unsigned ms = 0; ms < 120000; ms++, t += MS) {
		struct affinity *a = &nm[where];
		bool slice = t - arrived < 3000 * MS;
		int to = -1;

		if (ms % 100 == 0) {
			double l0, l1;

			affinity_demand(a, 1, where, where == 1 ? 0.5 : slice ? 0.1 : 0.8, t);
			affinity_demand(&nm[0], 0, 0, 0.5, t);
			l0 = affinity_own_load(&nm[0], 0, POOL_A, 2);
			l1 = affinity_own_load(&nm[1], 1, POOL_B, 2);
			assert_int_equal(affinity_node_load(&nm[0], 1, POOL_B, 2, l1), 0);
			assert_int_equal(affinity_node_load(&nm[1], 0, POOL_A, 2, l0), 0);
			to = affinity_balance(a, where, 0x2, t, &v);
		}
		if (to < 0 && where == 1 && ms % 4 == 0)
			to = affinity_fault(a, 1, 1, 0, -1, false, true, MS, t);
		else if (to < 0 && where == 0 && slice)
			to = affinity_fault(a, 1, 0, 1, 1, ms < 1000, false, 9 * MS / 10, t);
		if (to >= 0) {
			double w = affinity_waited_for(a, 1, (unsigned)to, t);

			affinity_left(a, 1);
			affinity_came(&nm[to], 1, (unsigned)to, where, w, t);
			where = (unsigned)to;
			arrived = t;
			moves++;
		}
	}
	assert_int_equal(where, 0);
	assert_true(moves >= 1 && moves <= 5);
}

/* What a peer says of itself is checked: a load no node can have is
 * refused and changes nothing. */
static void test_node_load_checked(void **state)
{
	uint64_t t = 0;
	unsigned v;
	double nan = __builtin_nan("");

	assert_int_equal(affinity_node_load(&A, 3, POOL_B, 2, 0), -EINVAL);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 0, 0), -EINVAL);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, -1), -EINVAL);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, 5), -EINVAL);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, nan, 0), -EINVAL);
	assert_int_equal(affinity_node_load(&A, 1, POOL_B, 2, nan), -EINVAL);
	busy(0, 0xf, 1.0, POOL_A, 2, 1000, &t);
	assert_int_equal(affinity_balance(&A, 0, ALL_BUT_0, t, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bad_config, setup),
		cmocka_unit_test_setup(test_sharing_moves, setup),
		cmocka_unit_test_setup(test_arrival_burst_does_not, setup),
		cmocka_unit_test_setup(test_bursts_do_not, setup),
		cmocka_unit_test_setup(test_one_time_faults_do_not, setup),
		cmocka_unit_test_setup(test_little_waiting_does_not, setup),
		cmocka_unit_test_setup(test_fast_network_moves, setup),
		cmocka_unit_test_setup(test_never_up, setup),
		cmocka_unit_test_setup(test_split_does_not, setup),
		cmocka_unit_test_setup(test_no_bounce, setup),
		cmocka_unit_test_setup(test_partners_do_not_swap, setup),
		cmocka_unit_test_setup(test_crowded_node_spreads, setup),
		cmocka_unit_test_setup(test_same_host_stays, setup),
		cmocka_unit_test_setup(test_bad_report_forgets, setup),
		cmocka_unit_test_setup(test_idle_or_unmovable_stay, setup),
		cmocka_unit_test_setup(test_tied_by_pages_stays, setup),
		cmocka_unit_test_setup(test_page_rule_needs_room, setup),
		cmocka_unit_test_setup(test_page_rule_needs_a_whole_cpu, setup),
		cmocka_unit_test_setup(test_idle_not_pulled, setup),
		cmocka_unit_test_setup(test_starving_moves_into_some_room, setup),
		cmocka_unit_test_setup(test_computing_stays, setup),
		cmocka_unit_test_setup(test_idle_stays_home, setup),
		cmocka_unit_test_setup(test_no_push_pull_cycle, setup),
		cmocka_unit_test_setup(test_returns_back_off, setup),
		cmocka_unit_test_setup(test_pulled_in_not_pushed_back, setup),
		cmocka_unit_test_setup(test_what_it_carries, setup),
		cmocka_unit_test_setup(test_held_up_partner_keeps_it, setup),
		cmocka_unit_test_setup(test_new_memory_holds, setup),
		cmocka_unit_test_setup(test_pushed_goes_back_when_loads_turn, setup),
		cmocka_unit_test_setup(test_arrived_counts_whole, setup),
		cmocka_unit_test_setup(test_pulls_book_whole_cpus, setup),
		cmocka_unit_test_setup(test_goes_home_for_its_memory, setup),
		cmocka_unit_test_setup(test_home_needs_most_of_its_waiting, setup),
		cmocka_unit_test_setup(test_home_needs_waiting, setup),
		cmocka_unit_test_setup(test_wait_from_before_not_counted, setup),
		cmocka_unit_test_setup(test_home_weighs_why_it_came, setup),
		cmocka_unit_test_setup(test_home_outweighs_why_it_came, setup),
		cmocka_unit_test_setup(test_page_rule_weighs_home, setup),
		cmocka_unit_test_setup(test_pushed_from_home_stays, setup),
		cmocka_unit_test_setup(test_home_and_pages_settle, setup),
		cmocka_unit_test_setup(test_node_load_checked, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
