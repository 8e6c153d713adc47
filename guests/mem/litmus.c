/* Litmus tests across nodes: never an outcome x86-TSO forbids.
 *
 *   MP    a: x = r; y = r             b: r1 = y; r2 = x
 *         forbidden: r1 new, r2 old
 *   LB    a: r1 = x; y = r            b: r2 = y; x = r
 *         forbidden: r1 new, r2 new
 *   SB    a: x = r; r1 = y            b: y = r; r2 = x
 *         r1 old, r2 old is allowed by TSO (store buffers): counted only
 *   IRIW  0: x = r   1: y = r   2: r1 = x; r2 = y   3: r3 = y; r4 = x
 *         forbidden: r1 new, r2 old, r3 new, r4 old (the readers disagree
 *         on the order of the two writes)
 *
 * Round r (1..rounds=, default 200) writes the value r: "new" is r, "old"
 * is r - 1, and no reset is needed between rounds; any other value read is
 * a failure in itself. Every CPU meets at a barrier before each round and
 * waits a random 0..jitter= microseconds (default 100) before its part, to
 * vary the interleavings; then it runs its part on slots= (default 4)
 * independent sets of variables in turn, so that a round (whose barrier
 * costs several page transfers) tests several instances. The two-CPU tests
 * run on pairs (0,1), (2,3), ... at once, each pair on its own variables:
 * place the CPUs of a pair on different nodes. IRIW needs 4 CPUs.
 *
 * Each test runs twice: x and y on different pages (homes home= and the
 * next node), and x and y on the same page (separate cache lines).
 *
 * MP stream: no rounds. CPU a writes x = v; y = v for v = 1..writes=
 * (default 2000); CPU b waits for y to change, then reads y and x, until it
 * has seen y = writes; x < y is forbidden, and y must never go backwards.
 *
 * Command-line words mp, lb, sb, iriw, stream, split, same select a subset
 * (default: all). */
#include "memtest.h"

enum test { MP, LB, SB, IRIW, MPS, NR_TESTS };
static const char *const test_names[NR_TESTS] = {
	"MP", "LB", "SB", "IRIW", "MP stream"
};
static const char *const test_words[NR_TESTS] = {
	"mp", "lb", "sb", "iriw", "stream"
};

#define MAX_PAIRS (MAX_CPUS / 2)
#define MAX_SLOTS 16
/* Bits of a CPU's observation of one instance: which reads saw r. */
#define FIRST_NEW 1
#define SECOND_NEW 2
#define TIMED_OUT (~0ull)

/* The phase's parameters, written by the BSP before it. */
static struct {
	enum test test;
	unsigned pairs, slots;
	uint32_t rounds, jitter_us, stream;
	volatile uint32_t *x[MAX_PAIRS][MAX_SLOTS], *y[MAX_PAIRS][MAX_SLOTS];
} cur;
/* Per CPU, one byte an instance (index r * slots + s); own pages. */
static uint8_t *obs[MAX_CPUS];
/* MP stream readers' findings, per CPU. */
static uint64_t stream_forbidden[MAX_CPUS], stream_seen[MAX_CPUS];
static unsigned next_page[MAX_CPUS];

struct tally {
	uint64_t outcome[16];	/* index: a CPU's bits, or two CPUs' */
	uint64_t forbidden, relaxed;
};

static bool active(unsigned cpu)
{
	if (cur.test == IRIW)
		return cpu < 4;
	return cpu / 2 < cur.pairs;
}

/* One CPU's part of instance (x, y) of round r; returns its bits. */
static unsigned part(unsigned cpu, volatile uint32_t *x, volatile uint32_t *y,
		     uint32_t r, uint64_t *bad)
{
	bool a = cpu % 2 == 0;
	uint32_t v1 = r, v2 = r;

	switch (cur.test) {
	case MP:
		if (a) {
			*x = r;
			*y = r;
		} else {
			v1 = *y;
			v2 = *x;
		}
		break;
	case LB:
		if (a) {
			v1 = *x;
			*y = r;
		} else {
			v1 = *y;
			*x = r;
		}
		break;
	case SB:
		if (a) {
			*x = r;
			v1 = *y;
		} else {
			*y = r;
			v1 = *x;
		}
		break;
	case IRIW:
		if (cpu == 0) {
			*x = r;
		} else if (cpu == 1) {
			*y = r;
		} else if (cpu == 2) {
			v1 = *x;
			v2 = *y;
		} else {
			v1 = *y;
			v2 = *x;
		}
		break;
	default:
		break;
	}
	*bad += (v1 != r && v1 != r - 1) + (v2 != r && v2 != r - 1);
	return (v1 == r ? FIRST_NEW : 0) | (v2 == r ? SECOND_NEW : 0);
}

static uint64_t rounds_user(uint64_t cpu)
{
	unsigned pair = cur.test == IRIW ? 0 : cpu / 2 % MAX_PAIRS;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (cpu + 1) + cur.test, bad = 0;
	bool on = active(cpu);
	uint8_t *o = obs[cpu];

	for (uint32_t r = 1; r <= cur.rounds; r++) {
		if (!mem_sync())
			return TIMED_OUT;
		if (!on)
			continue;
		if (cur.jitter_us)
			mem_delay_us(mem_rand(&seed) % (cur.jitter_us + 1));
		for (unsigned s = 0; s < cur.slots; s++)
			o[r * cur.slots + s] = (uint8_t)part(cpu, cur.x[pair][s],
							     cur.y[pair][s], r,
							     &bad);
	}
	return bad;
}

static uint64_t stream_user(uint64_t cpu)
{
	volatile uint32_t *x = cur.x[cpu / 2 % MAX_PAIRS][0];
	volatile uint32_t *y = cur.y[cpu / 2 % MAX_PAIRS][0];
	uint64_t seed = cpu + 1, bad = 0, forbidden = 0, seen = 0;
	uint32_t last = 0;

	if (!mem_sync())
		return TIMED_OUT;
	if (!active(cpu))
		return 0;
	if (cpu % 2 == 0) {
		for (uint32_t v = 1; v <= cur.stream; v++) {
			*x = v;
			*y = v;
			if (cur.jitter_us)
				mem_delay_us(mem_rand(&seed) % (cur.jitter_us + 1));
		}
		return 0;
	}
	while (last < cur.stream) {
		uint32_t v1, v2;

		if (!wait_user(*y != last, 20000))
			return TIMED_OUT;
		v1 = *y;
		v2 = *x;
		forbidden += v2 < v1;
		bad += v1 < last || v1 > cur.stream;
		seen++;
		last = v1;
	}
	stream_forbidden[cpu] = forbidden;
	stream_seen[cpu] = seen;
	return bad;
}

/* In ring 3 on the BSP (arg: struct tally *): classify every instance. */
static uint64_t tally_user(uint64_t arg)
{
	struct tally *t = (struct tally *)arg;
	uint32_t first = cur.slots, end = (cur.rounds + 1) * cur.slots;

	for (uint32_t i = first; i < end; i++) {
		if (cur.test == IRIW) {
			unsigned r2 = obs[2][i], r3 = obs[3][i];

			t->outcome[r2 | r3 << 2]++;
			t->forbidden += r2 == FIRST_NEW && r3 == FIRST_NEW;
			continue;
		}
		for (unsigned p = 0; p < cur.pairs; p++) {
			unsigned oa = obs[2 * p][i] & FIRST_NEW;
			unsigned ob = obs[2 * p + 1][i];

			switch (cur.test) {
			case MP:	/* b: r1 = y (first), r2 = x (second) */
				t->outcome[ob]++;
				t->forbidden += ob == FIRST_NEW;
				break;
			case LB:
				t->outcome[oa | (ob & FIRST_NEW) << 1]++;
				t->forbidden += oa && (ob & FIRST_NEW);
				break;
			case SB:
				t->outcome[oa | (ob & FIRST_NEW) << 1]++;
				t->relaxed += !oa && !(ob & FIRST_NEW);
				break;
			default:
				break;
			}
		}
	}
	return 0;
}

static volatile uint32_t *page(unsigned node)
{
	return home_page(node, next_page[node]++);
}

static void tally_info(enum test test, const char *layout,
		       const struct tally *t)
{
	switch (test) {
	case MP:
		report_info("MP, %s: (r1,r2) old,old %lu  old,new %lu  "
			    "new,old %lu  new,new %lu", layout, t->outcome[0],
			    t->outcome[SECOND_NEW], t->outcome[FIRST_NEW],
			    t->outcome[3]);
		break;
	case LB:
	case SB:
		report_info("%s, %s: (r1,r2) old,old %lu  new,old %lu  "
			    "old,new %lu  new,new %lu", test_names[test], layout,
			    t->outcome[0], t->outcome[1], t->outcome[2],
			    t->outcome[3]);
		break;
	case IRIW:
		report_info("IRIW, %s: readers saw both writes %lu, neither "
			    "%lu, other %lu", layout, t->outcome[15],
			    t->outcome[0], cur.rounds * cur.slots -
					   t->outcome[15] - t->outcome[0]);
		break;
	default:
		break;
	}
}

static bool run(enum test test, bool same)
{
	unsigned hx = mem_home(), hy = (hx + 1) % mem_nodes();
	const char *layout = same ? "one page" : "two pages";
	const char *name = test_names[test];
	unsigned n = test == MPS ? 1 : cur.slots;
	uint64_t bad = 0, forbidden = 0, seen = 0;
	struct tally t = { 0 };

	cur.test = test;
	cur.pairs = test == IRIW ? 1 : mem_cpus / 2;
	for (unsigned p = 0; p < cur.pairs; p++) {
		for (unsigned s = 0; s < n; s++) {
			cur.x[p][s] = page(hx);
			cur.y[p][s] = same ? cur.x[p][s] + 16 : page(hy);
			if (!cur.x[p][s] || !cur.y[p][s]) {
				report(false, "%s, %s: no pages for the "
				       "variables", name, layout);
				return false;
			}
		}
	}
	if (!mem_phase(name, test == MPS ? stream_user : rounds_user, 300000))
		return false;
	for (unsigned c = 0; c < mem_cpus; c++) {
		if (mem_result[c] == TIMED_OUT) {
			report(false, "%s, %s: cpu %u timed out waiting",
			       name, layout, c);
			return false;
		}
		bad += mem_result[c];
	}
	if (test == MPS) {
		for (unsigned p = 0; p < cur.pairs; p++) {
			forbidden += stream_forbidden[2 * p + 1];
			seen += stream_seen[2 * p + 1];
		}
		report(!bad, "MP stream, %s: y never went backwards (%lu times)",
		       layout, bad);
		report(!forbidden, "MP stream, %s: %u writes x %u pairs, %lu "
		       "reads of a new y: x < y seen %lu times", layout,
		       cur.stream, cur.pairs, seen, forbidden);
		report_info("MP stream, %s: %lu us per write", layout,
			    tsc_to_us(mem_phase_cycles) / cur.stream);
		return true;
	}
	run_user(tally_user, (uintptr_t)&t);
	tally_info(test, layout, &t);
	report(!bad, "%s, %s: every value read is this round's or the last's "
	       "(%lu others)", name, layout, bad);
	if (test == SB)
		report(true, "SB, %s: %u rounds x %u slots x %u pairs; TSO "
		       "store-buffer outcome seen %lu times", layout,
		       cur.rounds, cur.slots, cur.pairs, t.relaxed);
	else
		report(!t.forbidden, "%s, %s: %u rounds x %u slots x %u %s, "
		       "forbidden outcome seen %lu times", name, layout,
		       cur.rounds, cur.slots, cur.pairs,
		       test == IRIW ? "quads" : "pairs", t.forbidden);
	report_info("%s, %s: %lu us per round", name, layout,
		    tsc_to_us(mem_phase_cycles) / cur.rounds);
	return true;
}

int main(void)
{
	bool any_test = false, want_split, want_same;

	cur.rounds = (uint32_t)cmdline_int("rounds", 200);
	cur.slots = (unsigned)cmdline_int("slots", 4);
	cur.jitter_us = (uint32_t)cmdline_int("jitter", 100);
	cur.stream = (uint32_t)cmdline_int("writes", 2000);
	if (cur.slots < 1 || cur.slots > MAX_SLOTS)
		cur.slots = 4;
	for (unsigned i = 0; i < NR_TESTS; i++)
		any_test |= cmdline_has(test_words[i]);
	want_split = cmdline_has("split") || !cmdline_has("same");
	want_same = cmdline_has("same") || !cmdline_has("split");
	if (!mem_start(30000))
		return report_summary();
	if (mem_cpus < 2) {
		report(false, "litmus tests need 2 CPUs or more");
		return report_summary();
	}
	for (unsigned c = 0; c < mem_cpus; c++) {
		obs[c] = alloc((cur.rounds + 1) * cur.slots, 4096);
		if (!obs[c]) {
			report(false, "no memory for %u rounds", cur.rounds);
			return report_summary();
		}
	}
	for (unsigned i = 0; i < NR_TESTS; i++) {
		if (any_test && !cmdline_has(test_words[i]))
			continue;
		if (i == IRIW && mem_cpus < 4) {
			report_skip("IRIW needs 4 CPUs");
			continue;
		}
		if (want_split && !run(i, false))
			break;
		if (want_same && !run(i, true))
			break;
	}
	return report_summary();
}
