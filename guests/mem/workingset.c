/* A working set of pages= pages (default 4096: 16 MiB), spread round-robin
 * over the home ranges of all nodes, that every CPU reads in full:
 *  1. CPU 0 writes every word of every page; all CPUs read every word;
 *  2. the last CPU (on another node) rewrites every page, so every other
 *     copy must be invalidated; all CPUs read again;
 *  3. each CPU rewrites its share (page p by CPU p mod n); all read again.
 * Each write pass uses a new pattern (word i of the set holds
 * mem_pattern(i, seed)), so a stale page cannot pass. Every reader must find no
 * wrong word and the checksum the pattern gives. */
#include "memtest.h"

#define WORDS (4096 / 8)

static struct {
	uint64_t **page;	/* the set's pages */
	uint32_t pages;
	uint64_t seed;
	unsigned writer;	/* CPU that writes, or ~0u: every CPU its share */
	bool stagger;		/* readers start at different pages */
} cur;

struct cpu_res {
	uint64_t bad_pages, first_bad, sum, cycles;
} __attribute__((aligned(4096)));

static struct cpu_res res[MAX_CPUS] __attribute__((section(".noinit.mem")));

/* The checksum readers must get: sum of word * (2i + 1). */
static uint64_t expected_user(uint64_t seed)
{
	uint64_t sum = 0, n = (uint64_t)cur.pages * WORDS;

	for (uint64_t i = 0; i < n; i++)
		sum += mem_pattern(i, seed) * (2 * i + 1);
	return sum;
}

static uint64_t write_user(uint64_t cpu)
{
	uint64_t t0 = rdtsc();

	for (uint32_t p = 0; p < cur.pages; p++) {
		uint64_t *w = cur.page[p];

		if (cur.writer == ~0u ? p % mem_cpus != cpu : cur.writer != cpu)
			continue;
		for (unsigned j = 0; j < WORDS; j++)
			w[j] = mem_pattern((uint64_t)p * WORDS + j, cur.seed);
	}
	res[cpu].cycles = rdtsc() - t0;
	return 0;
}

static uint64_t read_user(uint64_t cpu)
{
	uint64_t bad = 0, first = ~0ull, sum = 0, t0 = rdtsc();
	uint32_t start = cur.stagger ? (uint32_t)(cur.pages / mem_cpus * cpu) : 0;

	for (uint32_t q = 0; q < cur.pages; q++) {
		uint32_t p = (start + q) % cur.pages;
		const volatile uint64_t *w = cur.page[p];
		bool wrong = false;

		for (unsigned j = 0; j < WORDS; j++) {
			uint64_t i = (uint64_t)p * WORDS + j, v = w[j];

			wrong |= v != mem_pattern(i, cur.seed);
			sum += v * (2 * i + 1);
		}
		if (wrong) {
			bad++;
			if (first == ~0ull)
				first = p;
		}
	}
	res[cpu].cycles = rdtsc() - t0;
	res[cpu].bad_pages = bad;
	res[cpu].first_bad = first;
	res[cpu].sum = sum;
	return 0;
}

static uint64_t slowest(void)
{
	uint64_t max = 0;

	for (unsigned c = 0; c < mem_cpus; c++)
		if (res[c].cycles > max)
			max = res[c].cycles;
	return max;
}

static bool pass(const char *what, unsigned writer, uint64_t seed)
{
	uint64_t want, t;
	bool all = true;

	cur.seed = seed;
	cur.writer = writer;
	if (!mem_phase(what, write_user, 120000))
		return false;
	t = slowest();
	report_info("%s: written in %lu ms (%lu us a page)", what,
		    tsc_to_us(t) / 1000, tsc_to_us(t) / cur.pages);
	want = run_user(expected_user, seed);
	if (!mem_phase(what, read_user, 120000))
		return false;
	cur.stagger = !cur.stagger;
	for (unsigned c = 0; c < mem_cpus; c++) {
		if (res[c].bad_pages || res[c].sum != want) {
			all = false;
			report_info("cpu %u: %lu pages wrong (first: page %ld at "
				    "%p), checksum %#lx", c, res[c].bad_pages,
				    (long)res[c].first_bad,
				    res[c].first_bad < cur.pages ?
					    (void *)cur.page[res[c].first_bad] :
					    NULL,
				    res[c].sum);
		}
	}
	report(all, "%s: %u CPUs read all %u pages right (checksum %#lx)",
	       what, mem_cpus, cur.pages, want);
	t = slowest();
	report_info("%s: read by all in %lu ms (slowest CPU: %lu us a page)",
		    what, tsc_to_us(t) / 1000, tsc_to_us(t) / cur.pages);
	return all;
}

int main(void)
{
	cur.pages = (uint32_t)cmdline_int("pages", 4096);
	cur.page = mem_spread_pages(cur.pages);
	if (!cur.page) {
		report(false, "%u pages over %u homes do not fit in RAM",
		       cur.pages, mem_nodes());
		return report_summary();
	}
	report_info("%u pages (%u MiB) over the homes of %u nodes", cur.pages,
		    cur.pages / 256, mem_nodes());
	if (!mem_start(30000))
		return report_summary();
	if (!pass("written by cpu 0", 0, 1))
		return report_summary();
	if (!pass("rewritten by the last cpu", mem_cpus - 1, 2))
		return report_summary();
	pass("rewritten in shares by all", ~0u, 3);
	return report_summary();
}
