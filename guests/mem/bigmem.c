/* A working set larger than any node's budget (amalgam run --cache): the
 * nodes must evict copies (Shared ones dropped, Exclusive ones written
 * back to their homes) to stay within it, and not one write may be lost.
 *
 * pages=N pages spread round-robin over the home ranges of all nodes
 * (home_page, from the top of each range), shared=S of them written by
 * every CPU (word j by CPU j mod n: the page bounces between the writers'
 * nodes, false sharing), the others each by one CPU (round-robin). Three
 * rounds, each with a new pattern (word i of the set holds mem_pattern(i,
 * seed)) and the CPUs' shares rotated, so a page that comes back from an
 * old copy or from an eviction that lost the write cannot pass. Round 0
 * is CPU 0's alone (the whole set written and read from one node), then
 * rounds 1 and 2 (rounds=N: up to N - 1) are every CPU's:
 *   write: every CPU writes its words, in order;
 *   read:  every CPU reads every word of the set, starting at different
 *          pages, and checks each one.
 * The budget itself is checked from outside (tests/cluster/bigmem.sh
 * reads every node's resident pages in its --stats-every samples). */
#include "memtest.h"

#define WORDS (4096 / 8)

static struct {
	uint64_t **page;
	uint32_t pages, shared;
	uint64_t seed;
	unsigned shift;		/* rotates the writers' shares each round */
	bool solo;		/* this round is CPU 0's alone */
} cur;

struct cpu_res {
	uint64_t bad_words, first_bad, words;
} __attribute__((aligned(4096)));

static struct cpu_res res[MAX_CPUS] __attribute__((section(".noinit.mem")));

/* Who writes word j of page p this round. */
static inline unsigned writer(uint32_t p, unsigned j)
{
	unsigned n = mem_cpus;

	if (cur.solo)
		return 0;
	if (p < cur.shared)
		return (j + cur.shift) % n;
	return (p - cur.shared + cur.shift) % n;
}

static uint64_t write_user(uint64_t cpu)
{
	if (cur.solo && cpu)
		return 0;
	for (uint32_t p = 0; p < cur.pages; p++) {
		uint64_t *w = cur.page[p];

		if (p >= cur.shared && writer(p, 0) != cpu)
			continue;
		for (unsigned j = 0; j < WORDS; j++)
			if (writer(p, j) == cpu)
				w[j] = mem_pattern((uint64_t)p * WORDS + j, cur.seed);
	}
	return 0;
}

static uint64_t read_user(uint64_t cpu)
{
	uint64_t bad = 0, first = ~0ull, words = 0;
	uint32_t start = (uint32_t)(cur.pages / mem_cpus * cpu);

	if (cur.solo && cpu) {
		res[cpu] = (struct cpu_res){ .first_bad = ~0ull };
		return 0;
	}

	for (uint32_t q = 0; q < cur.pages; q++) {
		uint32_t p = (start + q) % cur.pages;
		const volatile uint64_t *w = cur.page[p];

		for (unsigned j = 0; j < WORDS; j++, words++) {
			if (w[j] == mem_pattern((uint64_t)p * WORDS + j, cur.seed))
				continue;
			if (!bad++)
				first = (uint64_t)p * WORDS + j;
		}
	}
	res[cpu].bad_words = bad;
	res[cpu].first_bad = first;
	res[cpu].words = words;
	return 0;
}

static bool round_(unsigned r)
{
	uint64_t want = (uint64_t)cur.pages * WORDS;
	char what[48];
	bool all = true;

	cur.seed = 0x1000 + r;
	cur.shift = r;
	cur.solo = r == 0;
	snprintf(what, sizeof(what), "round %u (%s)", r,
		 cur.solo ? "cpu 0 alone" : "every cpu");
	if (!mem_phase(what, write_user, 300000))
		return false;
	report_info("%s: written in %lu ms", what,
		    tsc_to_us(mem_phase_cycles) / 1000);
	if (!mem_phase(what, read_user, 300000))
		return false;
	for (unsigned c = 0; c < (cur.solo ? 1 : mem_cpus); c++) {
		if (!res[c].bad_words && res[c].words == want)
			continue;
		all = false;
		report_info("cpu %u: %lu of %lu words wrong, first word %ld "
			    "(page %p)", c, res[c].bad_words, res[c].words,
			    (long)res[c].first_bad,
			    res[c].first_bad != ~0ull ?
				    (void *)cur.page[res[c].first_bad / WORDS] :
				    NULL);
	}
	report(all, "%s: %u CPUs read every word of %u pages (%u shared) right",
	       what, cur.solo ? 1 : mem_cpus, cur.pages, cur.shared);
	report_info("%s: read by all in %lu ms", what,
		    tsc_to_us(mem_phase_cycles) / 1000);
	return all;
}

int main(void)
{
	unsigned rounds;

	cur.pages = (uint32_t)cmdline_int("pages", 4096);
	cur.shared = (uint32_t)cmdline_int("shared", 0);
	rounds = (unsigned)cmdline_int("rounds", 3);
	if (cur.shared > cur.pages)
		cur.shared = cur.pages;
	cur.page = mem_spread_pages(cur.pages);
	if (!cur.page) {
		report(false, "%u pages over %u homes do not fit in RAM",
		       cur.pages, mem_nodes());
		return report_summary();
	}
	report_info("%u pages (%u MiB) over the homes of %u nodes, %u shared",
		    cur.pages, cur.pages / 256, mem_nodes(), cur.shared);
	if (!mem_start(30000))
		return report_summary();
	for (unsigned r = 0; r < rounds && round_(r); r++)
		;
	return report_summary();
}
