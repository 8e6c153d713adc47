/* Shared counters incremented by vCPUs on different nodes end exact.
 * Every CPU does iters= (default 10000) increments of each kind, in ring 3,
 * all CPUs at once, with a random pause of 0..2*gap= microseconds
 * (default 0) after each, so that the counter pages change hands often
 * rather than once per memory-plane hold window:
 *  - lock xadd on a word in the image (home: node 0). The old values the
 *    CPUs get back are all different: they add up to 0 + 1 + ... + T-1
 *    (T increments in all), and rise on each CPU;
 *  - lock inc on a word of a page homed on node home= (default the last);
 *  - a lock cmpxchg loop on another page of that home (failed attempts are
 *    counted, not judged);
 *  - lock inc on a word split across two pages, the last of node 0's home
 *    range and the first of node 1's (a split lock: both pages must be
 *    writable here at once; see split_word()); splits= increments per CPU
 *    (default iters=): when a page transfer takes longer than the memory
 *    plane's hold window, the nodes keep taking one of the two pages from
 *    each other and this gets slow;
 *  - xadd, inc and cmpxchg at once, interleaved, on their three pages;
 *  - lock xadd in ring 0 (iters0=, default 1000, no pauses), on another
 *    page of home=: under PVM the instruction is emulated, so the access
 *    is KVM's own, which must wait for the memory plane like the CPU's.
 *    (Not a split lock in ring 0: KVM's emulator performs a locked access
 *    that crosses pages as a plain write, so it is not atomic even on one
 *    node under PVM.)
 * Timings are reported per operation, nothing asserts on speed. */
#include "memtest.h"

struct cpu_res {
	uint64_t sum;		/* of the old values xadd returned */
	uint64_t not_rising;	/* xadd returned <= the previous old value */
	uint64_t handovers;	/* xadd returned > the previous old value + 1 */
	uint64_t cas_failed;
	uint64_t cycles;
} __attribute__((aligned(4096)));

static struct {
	volatile uint32_t v;
} __attribute__((aligned(4096))) image_ctr;
static volatile uint32_t *inc_ctr, *cas_ctr, *split_ctr, *ring0_ctr;
static struct cpu_res res[MAX_CPUS] __attribute__((section(".noinit.mem")));
static uint32_t iters, iters0, splits, gap_us;

static inline uint32_t xadd(volatile uint32_t *p, uint32_t v)
{
	__asm__ __volatile__("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

static inline void lock_inc(volatile uint32_t *p)
{
	__asm__ __volatile__("lock incl %0" : "+m"(*p) : : "memory");
}

static inline bool cas(volatile uint32_t *p, uint32_t old, uint32_t new)
{
	uint32_t prev = old;

	__asm__ __volatile__("lock cmpxchgl %2, %1"
			     : "+a"(prev), "+m"(*p) : "r"(new) : "memory");
	return prev == old;
}

static uint64_t cas_inc(volatile uint32_t *p)
{
	uint64_t failed = 0;

	for (;;) {
		uint32_t old = *p;

		if (cas(p, old, old + 1))
			return failed;
		failed++;
	}
}

enum kind { XADD, INC, CAS, SPLIT, ALL };

static enum kind kind;

static uint64_t count_user(uint64_t cpu)
{
	struct cpu_res *r = &res[cpu];
	uint64_t sum = 0, not_rising = 0, handovers = 0, failed = 0, t0;
	uint64_t seed = cpu + 1;
	uint32_t prev = 0;

	if (!mem_sync())
		return 1;
	t0 = rdtsc();
	for (uint32_t i = 0; i < (kind == SPLIT ? splits : iters); i++) {
		if (kind == XADD || kind == ALL) {
			uint32_t old = xadd(&image_ctr.v, 1);

			sum += old;
			not_rising += i && old <= prev;
			handovers += i && old > prev + 1;
			prev = old;
		}
		if (kind == INC || kind == ALL)
			lock_inc(inc_ctr);
		if (kind == CAS || kind == ALL)
			failed += cas_inc(cas_ctr);
		if (kind == SPLIT)
			lock_inc(split_ctr);
		if (gap_us)
			mem_delay_us(mem_rand(&seed) % (2 * gap_us + 1));
	}
	r->cycles = rdtsc() - t0;
	r->sum = sum;
	r->not_rising = not_rising;
	r->handovers = handovers;
	r->cas_failed = failed;
	return 0;
}

/* Ring 0. No start barrier (the ring-3 one naps, which ring 0 cannot):
 * the CPUs start within a millisecond or two of each other, and each
 * emulated increment takes microseconds. */
static uint64_t ring0_user(uint64_t cpu)
{
	struct cpu_res *r = &res[cpu];
	uint64_t sum = 0, not_rising = 0, t0 = rdtsc();
	uint32_t prev = 0;

	for (uint32_t i = 0; i < iters0; i++) {
		uint32_t old = xadd(ring0_ctr, 1);

		sum += old;
		not_rising += i && old <= prev;
		prev = old;
	}
	r->cycles = rdtsc() - t0;
	r->sum = sum;
	r->not_rising = not_rising;
	return 0;
}

/* A word across the boundary of the home ranges of nodes b and b + 1,
 * the first of which holds none of the other counters; else (one node, or
 * two with home=0) across pages 4 and 3 of home=, which nothing else uses. */
static volatile uint32_t *split_word(void)
{
	unsigned b = mem_home() == 0 ? 1 : 0;
	char *p = b + 1 < mem_nodes() ? home_page(b, 0) : home_page(mem_home(), 4);

	return p ? (volatile uint32_t *)(p + 4094) : NULL;
}

static void info_times(const char *what)
{
	uint64_t max = 0, n = kind == SPLIT ? splits : iters;

	for (unsigned c = 0; c < mem_cpus; c++)
		if (res[c].cycles > max)
			max = res[c].cycles;
	report_info("%s: slowest CPU %lu ms, %lu ns per increment and CPU "
		    "(pauses included)", what, tsc_to_us(max) / 1000,
		    tsc_to_us(max * 1000 / (n ? n : 1)));
}

static bool run(enum kind k, const char *name)
{
	kind = k;
	if (!mem_phase(name, count_user, 120000))
		return false;
	for (unsigned c = 0; c < mem_cpus; c++)
		if (mem_result[c]) {
			report(false, "%s: cpu %u timed out at the start barrier",
			       name, c);
			return false;
		}
	info_times(name);
	return true;
}

int main(void)
{
	uint64_t t, want_sum, sum = 0, not_rising = 0, failed = 0, handovers = 0;
	uint32_t base;

	iters = (uint32_t)cmdline_int("iters", 10000);
	iters0 = (uint32_t)cmdline_int("iters0", 1000);
	splits = (uint32_t)cmdline_int("splits", iters);
	gap_us = (uint32_t)cmdline_int("gap", 0);
	inc_ctr = home_page(mem_home(), 0);
	cas_ctr = home_page(mem_home(), 1);
	ring0_ctr = home_page(mem_home(), 2);
	split_ctr = split_word();
	report_info("%u increments per CPU and kind; inc/cmpxchg pages %p, %p "
		    "(home node %u of %u)", iters, (void *)inc_ctr,
		    (void *)cas_ctr, mem_home(), mem_nodes());
	if (!inc_ctr || !cas_ctr || !split_ctr || !ring0_ctr ||
	    !mem_start(30000))
		return report_summary();
	t = (uint64_t)mem_cpus * iters;

	if (!run(XADD, "lock xadd"))
		return report_summary();
	for (unsigned c = 0; c < mem_cpus; c++) {
		sum += res[c].sum;
		not_rising += res[c].not_rising;
		handovers += res[c].handovers;
	}
	want_sum = t * (t - 1) / 2;
	report_info("lock xadd: another CPU got in between %lu times", handovers);
	report(image_ctr.v == t, "lock xadd: counter %u, expected %lu",
	       image_ctr.v, t);
	report(sum == want_sum, "lock xadd: old values sum to %lu, expected %lu "
	       "(each value seen once)", sum, want_sum);
	report(!not_rising, "lock xadd: old values rise on every CPU "
	       "(%lu did not)", not_rising);

	if (!run(INC, "lock inc"))
		return report_summary();
	report(*inc_ctr == t, "lock inc: counter %u, expected %lu", *inc_ctr, t);

	if (!run(CAS, "lock cmpxchg"))
		return report_summary();
	for (unsigned c = 0; c < mem_cpus; c++)
		failed += res[c].cas_failed;
	report(*cas_ctr == t, "lock cmpxchg: counter %u, expected %lu (%lu "
	       "attempts failed)", *cas_ctr, t, failed);

	if (!run(SPLIT, "split lock inc"))
		return report_summary();
	report(*split_ctr == (uint64_t)mem_cpus * splits,
	       "split lock inc at %p: counter %u, expected %lu",
	       (void *)split_ctr, *split_ctr, (uint64_t)mem_cpus * splits);

	base = image_ctr.v;
	if (!run(ALL, "all three interleaved"))
		return report_summary();
	sum = not_rising = 0;
	for (unsigned c = 0; c < mem_cpus; c++) {
		sum += res[c].sum;
		not_rising += res[c].not_rising;
	}
	want_sum = t * base + t * (t - 1) / 2;
	report(image_ctr.v == base + t && *inc_ctr == 2 * t &&
	       *cas_ctr == 2 * t && sum == want_sum && !not_rising,
	       "interleaved: counters %u %u %u, expected %lu %lu %lu; xadd "
	       "sum %s, %s", image_ctr.v, *inc_ctr, *cas_ctr, base + t, 2 * t,
	       2 * t, sum == want_sum ? "exact" : "WRONG",
	       not_rising ? "NOT RISING" : "rising");

	if (!mem_phase_ring0("ring-0 lock xadd", ring0_user, 120000))
		return report_summary();
	sum = not_rising = 0;
	for (unsigned c = 0; c < mem_cpus; c++) {
		sum += res[c].sum;
		not_rising += res[c].not_rising;
	}
	t = (uint64_t)mem_cpus * iters0;
	want_sum = t * (t - 1) / 2;
	report(*ring0_ctr == t && sum == want_sum && !not_rising,
	       "ring-0 (emulated) lock xadd: counter %u, expected %lu; old "
	       "values sum %s, %s", *ring0_ctr, t,
	       sum == want_sum ? "exact" : "WRONG",
	       not_rising ? "NOT RISING" : "rising");
	report_info("ring-0 lock xadd: cpu 0 took %lu ms for %u",
		    tsc_to_us(res[0].cycles) / 1000, iters0);
	return report_summary();
}
