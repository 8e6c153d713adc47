/* Benchmark guest for `scripts/bench fault`: what a remote page fault
 * costs, by kind, seen from inside the guest. Runs with two vCPUs in
 * start-all mode, CPU 1 on the remote node:
 *
 *   amalgam run --nodes 2 --cpus 2 --start all --place 0,1 ...
 *
 * CPU 1 first writes every page the measured phases use, all homed on node
 * 1 (the remote one, seen from CPU 0), so that node 1 holds them Exclusive
 * and with data, signals, and halts for good (cli; hlt): during the
 * measured phases it neither runs nor touches memory. CPU 0 then runs the
 * phases one after the other, in ring 3 (native speed under PVM), timing
 * every access with the TSC (lfence'd rdtsc on both sides, both in ring 3):
 *
 *   stream   reads one word of each of stream= pages: read misses, and the
 *            wall time of the whole loop gives pages per second;
 *   read     reads each of pages= other pages once: read misses; node 1
 *            drops to Shared;
 *   upgrade  writes each of those pages: upgrades (CPU 0 holds them
 *            Shared);
 *   write    writes each of pages= pages it never read: write misses with
 *            the data (node 1 wrote them);
 *   local    writes each of pages= untouched pages homed on node 0: faults
 *            settled locally (userfaultfd and KVM, no network): the floor.
 *
 * stream runs first so that the VMM's read-miss percentiles (over its last
 * 1024 samples of a kind) come from read alone; keep pages= >= 1024 for
 * that. Every value read is checked against what CPU 1 wrote.
 *
 * Command line: pages=N (default 2048), stream=N (default 8192), nodes=K
 * (default 2; the split of RAM among homes, as amalgam makes it).
 *
 * Printed, one line per phase, then the exit status (0: every value right):
 *   RESULT fault phase=P n=N p50_ns= p90_ns= p99_ns= max_ns= min_ns=
 *          mean_ns= total_ns= bad=B
 * and for stream also pages_per_s=; bench/fault parses these lines. */
#include "libguest.h"

#include "bstat.h"

#define MAX_PAGES 32768
#define PAGE 4096ull
#define WAIT_PREP_MS 300000

enum phase { STREAM, READ, UPGRADE, WRITE, LOCAL, NR_PHASES };

static const char *const phase_name[NR_PHASES] = {
	[STREAM] = "stream", [READ] = "read", [UPGRADE] = "upgrade",
	[WRITE] = "write", [LOCAL] = "local",
};

/* Set by CPU 0 before start_all, read by both: a page of its own that
 * nobody writes afterwards. */
static struct {
	uint64_t base[NR_PHASES];	/* first page of each phase's range */
	uint64_t n[NR_PHASES];
} __attribute__((aligned(4096))) cfg;

/* CPU 1 sets it once its pages are written. Alone on its page. */
static struct {
	volatile uint32_t ready;
	uint64_t prep_cycles;
} __attribute__((aligned(4096))) prep;

struct result {
	uint64_t n, bad, total;		/* total: TSC cycles of the loop */
	uint64_t min, p50, p90, p99, max, mean;
};

/* CPU 0's alone, on pages CPU 1 never touches. */
static struct result res[NR_PHASES] __attribute__((aligned(4096)));
static uint32_t lat[MAX_PAGES] __attribute__((section(".noinit.fault"),
					      aligned(4096)));

/* What CPU 1 writes into the first two words of a page. */
static inline uint64_t pattern(uint64_t addr)
{
	return addr ^ 0xa5a5f00dc0de0000ull;
}

static inline volatile uint64_t *page_word(enum phase p, uint64_t i)
{
	return (volatile uint64_t *)(uintptr_t)(cfg.base[p] + i * PAGE);
}

/* ---- CPU 1 --------------------------------------------------------------- */

static uint64_t prep_user(uint64_t unused)
{
	static const enum phase mine[] = { STREAM, READ, WRITE };
	uint64_t t0 = rdtsc();

	(void)unused;
	for (unsigned k = 0; k < ARRAY_SIZE(mine); k++)
		for (uint64_t i = 0; i < cfg.n[mine[k]]; i++) {
			volatile uint64_t *w = page_word(mine[k], i);

			w[0] = pattern((uintptr_t)w);
			w[1] = pattern((uintptr_t)w);
		}
	prep.prep_cycles = rdtsc() - t0;
	__asm__ __volatile__("mfence" ::: "memory");
	WRITE_ONCE(prep.ready, 1);
	return 0;
}

/* start_all's fn: CPU 1 prepares and halts (start_all_ap: cli; hlt). */
static void remote_cpu(unsigned cpu)
{
	if (cpu == 1)
		run_user(prep_user, 0);
}

/* ---- CPU 0, ring 3 ------------------------------------------------------- */

static void summarize(struct result *r, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += lat[i];
	bstat_sort32(lat, n);
	r->n = n;
	r->mean = n ? sum / n : 0;
	r->min = n ? lat[0] : 0;
	r->p50 = n ? lat[n / 2] : 0;
	r->p90 = n ? lat[n * 90 / 100] : 0;
	r->p99 = n ? lat[n * 99 / 100] : 0;
	r->max = n ? lat[n - 1] : 0;
}

static uint64_t phase_user(uint64_t arg)
{
	enum phase p = (enum phase)arg;
	/* Reads and writes the same range: upgrade is read's second pass. */
	enum phase range = p == UPGRADE ? READ : p;
	uint64_t n = cfg.n[range], bad = 0, begin, t0, t1;
	bool write = p == UPGRADE || p == WRITE || p == LOCAL;

	begin = bstat_tsc();
	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *w = page_word(range, i);
		uint64_t v = 0;

		if (write) {
			t0 = bstat_tsc();
			w[0] = i;
			__asm__ __volatile__("mfence" ::: "memory");
			t1 = bstat_tsc();
		} else {
			t0 = bstat_tsc();
			v = w[0];
			t1 = bstat_tsc();
		}
		lat[i] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
		if (p == LOCAL)
			bad += w[1] != 0;
		else
			bad += (write ? w[1] : v) != pattern((uintptr_t)w);
	}
	res[p].total = bstat_tsc() - begin;
	res[p].bad = bad;
	summarize(&res[p], n);
	return 0;
}

/* Fault the sample buffer in before anything is timed. */
static uint64_t touch_user(uint64_t unused)
{
	(void)unused;
	for (uint64_t i = 0; i < MAX_PAGES; i += PAGE / sizeof(lat[0]))
		lat[i] = 0;
	return 0;
}

/* ---- CPU 0, ring 0 ------------------------------------------------------- */

static uint64_t ram_pages(void)
{
	uint64_t top = 0;

	/* Below 4 GiB guest RAM is the start of the memory file. */
	for (unsigned i = 0; i < e820_count(); i++) {
		const struct e820_entry *e = &e820_table()[i];

		if (e->type == 1 && e->addr + e->size <= (1ull << 32) &&
		    e->addr + e->size > top)
			top = e->addr + e->size;
	}
	return top / PAGE;
}

/* [*first, *end) in pages: the home range of node, as amalgam splits RAM. */
static void home_range(unsigned node, unsigned nodes, uint64_t *first,
		       uint64_t *end)
{
	uint64_t pages = ram_pages();

	*first = 0;
	for (unsigned i = 0; i < node; i++)
		*first += pages / nodes + (i < pages % nodes);
	*end = *first + pages / nodes + (node < pages % nodes);
}

static bool layout(uint64_t pages, uint64_t stream, unsigned nodes)
{
	extern char __image_end[];
	uint64_t first, end, local_first, local_end;

	home_range(1, nodes, &first, &end);
	home_range(0, nodes, &local_first, &local_end);
	if (pages < 1 || pages > MAX_PAGES || stream > MAX_PAGES ||
	    end - first < 2 * pages + stream ||
	    local_end - pages < ((uintptr_t)__image_end + PAGE - 1) / PAGE) {
		printf("fault: pages=%lu stream=%lu do not fit (node 1 homes "
		       "pages %#lx-%#lx, at most %u per phase)\n", pages, stream,
		       first, end, MAX_PAGES);
		return false;
	}
	/* From the top of node 1's range down: never touched by the image or
	 * the kit. */
	cfg.n[STREAM] = stream;
	cfg.base[STREAM] = (end - stream) * PAGE;
	cfg.n[READ] = cfg.n[UPGRADE] = pages;
	cfg.base[READ] = cfg.base[UPGRADE] = (end - stream - pages) * PAGE;
	cfg.n[WRITE] = pages;
	cfg.base[WRITE] = (end - stream - 2 * pages) * PAGE;
	cfg.n[LOCAL] = pages;
	cfg.base[LOCAL] = (local_end - pages) * PAGE;
	return true;
}

static uint64_t to_ns(uint64_t cycles)
{
	return tsc_khz ? cycles * 1000000 / tsc_khz : 0;
}

static void print_result(enum phase p)
{
	const struct result *r = &res[p];

	printf("RESULT fault phase=%s n=%lu p50_ns=%lu p90_ns=%lu p99_ns=%lu "
	       "max_ns=%lu min_ns=%lu mean_ns=%lu total_ns=%lu bad=%lu",
	       phase_name[p], r->n, to_ns(r->p50), to_ns(r->p90),
	       to_ns(r->p99), to_ns(r->max), to_ns(r->min), to_ns(r->mean),
	       to_ns(r->total), r->bad);
	if (p == STREAM)
		printf(" pages_per_s=%lu",
		       r->total ? r->n * tsc_khz * 1000 / r->total : 0);
	printf("\n");
}

int main(void)
{
	uint64_t pages = (uint64_t)cmdline_int("pages", 2048);
	uint64_t stream = (uint64_t)cmdline_int("stream", 8192);
	long nodes = cmdline_int("nodes", 2);
	uint64_t bad = 0, deadline;
	unsigned up;

	printf("fault: tsc_khz=%lu (%s) pages=%lu stream=%lu nodes=%ld "
	       "cpus=%u\n", tsc_khz, tsc_source, pages, stream, nodes, nr_cpus);
	if (nodes < 2 || nr_cpus < 2 || !tsc_khz) {
		printf("fault: needs 2+ nodes, 2+ vCPUs (CPU 1 on node 1) and "
		       "a known TSC rate\n");
		return 1;
	}
	if (!layout(pages, stream, (unsigned)nodes))
		return 1;
	for (unsigned p = 0; p < NR_PHASES; p++)
		printf("fault: %-7s %6lu pages at %#lx\n", phase_name[p],
		       cfg.n[p], cfg.base[p]);
	run_user(touch_user, 0);

	up = start_all(remote_cpu, 60000);
	if (up < 2) {
		printf("fault: only %u vCPU running: run with --start all\n", up);
		return 1;
	}
	/* Halting in between: ring 0 is slow, and CPU 1 needs the host. */
	deadline = rdtsc() + ms_to_tsc(WAIT_PREP_MS);
	while (!READ_ONCE(prep.ready) && rdtsc() < deadline)
		msleep(10);
	if (!READ_ONCE(prep.ready)) {
		printf("fault: CPU 1 did not write its pages in %u ms\n",
		       WAIT_PREP_MS);
		return 1;
	}
	printf("fault: CPU 1 wrote %lu pages in %lu ms\n",
	       2 * pages + stream, tsc_to_us(prep.prep_cycles) / 1000);

	for (unsigned p = 0; p < NR_PHASES; p++) {
		run_user(phase_user, p);
		bad += res[p].bad;
	}
	for (unsigned p = 0; p < NR_PHASES; p++)
		print_result(p);
	printf("fault: %s\n", bad ? "WRONG VALUES READ" : "all values right");
	return bad ? 1 : 0;
}
