/* False sharing: every CPU increments its own counter with plain
 * (unlocked) read-modify-writes, all counters in one page, which the
 * memory plane therefore moves between the nodes all the time. No write
 * may get lost: each counter ends exactly at the number of increments its
 * CPU made. Every 16 increments each CPU also reads the others' counters
 * and checks that none ever goes backwards (a stale copy).
 * iters= increments per CPU (default 1000000), each followed by a random
 * pause of 0..2*gap= microseconds (default 5) so that the page changes
 * hands often, stopping early after ms= (default 1500) of the CPU's own
 * time; twice: counters 8 bytes apart (one cache line), then 256 bytes
 * apart. The page is homed on node home=. */
#include "memtest.h"

static struct {
	volatile uint64_t *slot[MAX_CPUS];
	uint64_t iters, ms, gap_us;
} cur;

struct cpu_res {
	uint64_t done;		/* increments made */
	uint64_t backwards;	/* another counter seen lower than before */
	uint64_t changes;	/* another counter seen higher than before */
	uint64_t cycles;
} __attribute__((aligned(4096)));

static struct cpu_res res[MAX_CPUS] __attribute__((section(".noinit.mem")));

static uint64_t inc_user(uint64_t cpu)
{
	volatile uint64_t *mine = cur.slot[cpu];
	uint64_t seen[MAX_CPUS] = { 0 }, backwards = 0, changes = 0, i, t0, end;
	uint64_t seed = cpu + 1;

	if (!mem_sync())
		return 1;
	t0 = rdtsc();
	end = t0 + ms_to_tsc(cur.ms);
	for (i = 0; i < cur.iters; i++) {
		*mine = *mine + 1;
		if (cur.gap_us)
			mem_delay_us(mem_rand(&seed) % (2 * cur.gap_us + 1));
		if (i % 16)
			continue;
		for (unsigned c = 0; c < mem_cpus; c++) {
			uint64_t v = *cur.slot[c];

			backwards += v < seen[c];
			changes += c != cpu && v > seen[c];
			seen[c] = v;
		}
		if (rdtsc() > end) {
			i++;
			break;
		}
	}
	res[cpu].cycles = rdtsc() - t0;
	res[cpu].done = i;
	res[cpu].backwards = backwards;
	res[cpu].changes = changes;
	return 0;
}

static bool run(unsigned stride, unsigned index)
{
	char *page = home_page(mem_home(), index);
	uint64_t total = 0, lost = 0, backwards = 0, changes = 0;
	bool exact = true;

	if (!page) {
		report(false, "no page");
		return false;
	}
	for (unsigned c = 0; c < mem_cpus; c++)
		cur.slot[c] = (volatile uint64_t *)(page + c * stride);
	if (!mem_phase("falseshare", inc_user, 60000))
		return false;
	for (unsigned c = 0; c < mem_cpus; c++) {
		uint64_t v = *cur.slot[c];

		if (mem_result[c]) {
			report(false, "%u-byte stride: cpu %u timed out at the "
			       "start", stride, c);
			return false;
		}
		if (v != res[c].done) {
			exact = false;
			lost += res[c].done > v ? res[c].done - v : 0;
			report_info("cpu %u: counter %lu after %lu increments",
				    c, v, res[c].done);
		}
		total += res[c].done;
		backwards += res[c].backwards;
		changes += res[c].changes;
	}
	report(exact, "%u-byte stride: every counter exact (%lu increments "
	       "in all, %lu lost)", stride, total, lost);
	report(!backwards, "%u-byte stride: no counter ever went backwards "
	       "(%lu times)", stride, backwards);
	report_info("%u-byte stride: %lu ms, %lu increments per ms per CPU; "
		    "others' counters seen moving %lu times", stride,
		    tsc_to_us(mem_phase_cycles) / 1000,
		    total / mem_cpus * 1000 / (tsc_to_us(mem_phase_cycles) + 1),
		    changes);
	return true;
}

int main(void)
{
	cur.iters = (uint64_t)cmdline_int("iters", 1000000);
	cur.ms = (uint64_t)cmdline_int("ms", 1500);
	cur.gap_us = (uint64_t)cmdline_int("gap", 5);
	if (!mem_start(30000))
		return report_summary();
	if (run(8, 0))
		run(256, 1);
	return report_summary();
}
