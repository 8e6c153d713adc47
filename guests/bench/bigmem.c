/* Benchmark guest for `scripts/bench bigmem`: sequential write and read
 * throughput over a working set, one vCPU in ring 3 (native speed under
 * PVM), timed with the TSC. The set is mib= MiB of guest-physical memory
 * from start= MiB (defaults 64 and 64): bench/bigmem places it in a
 * remote node's home range, larger than node 0's budget, or runs the
 * same guest on one node where it fits in local memory.
 *
 * A first write pass touches every page (never-written pages cost less
 * than written ones: a zero grant, no data), then passes= times (default
 * 2): a write pass (every word of every page, a new pattern each time:
 * word i holds i * MIX + pass) and a read pass that checks every word.
 * Printed, one line per measured pass, then the exit status (0: every
 * word right):
 *   RESULT bigmem op=write|read pass=P bytes=B ns=T mib_per_s=R bad=W */
#include "libguest.h"

#define MIX 0x9e3779b97f4a7c15ull
#define WORDS (4096 / 8)

static struct {
	volatile uint64_t *base;
	uint64_t pages, seed, bad, cycles;
} cur;

static uint64_t write_user(uint64_t unused)
{
	uint64_t t0 = rdtsc(), n = cur.pages * WORDS;

	for (uint64_t i = 0; i < n; i++)
		cur.base[i] = i * MIX + cur.seed;
	cur.cycles = rdtsc() - t0;
	return 0;
}

static uint64_t read_user(uint64_t unused)
{
	uint64_t t0 = rdtsc(), n = cur.pages * WORDS, bad = 0;

	for (uint64_t i = 0; i < n; i++)
		bad += cur.base[i] != i * MIX + cur.seed;
	cur.cycles = rdtsc() - t0;
	cur.bad = bad;
	return 0;
}

static void result(const char *op, unsigned pass, uint64_t bad)
{
	uint64_t bytes = cur.pages * 4096, us = tsc_to_us(cur.cycles);

	printf("RESULT bigmem op=%s pass=%u bytes=%lu ns=%lu mib_per_s=%lu bad=%lu\n",
	       op, pass, bytes, us * 1000, us ? bytes * 1000000 / us >> 20 : 0, bad);
}

int main(void)
{
	uint64_t start = (uint64_t)cmdline_int("start", 64);
	uint64_t mib = (uint64_t)cmdline_int("mib", 64);
	unsigned passes = (unsigned)cmdline_int("passes", 2);
	bool ok = true;

	cur.base = (volatile uint64_t *)(uintptr_t)(start << 20);
	cur.pages = mib << 8;
	report_info("bigmem: %lu MiB from %lu MiB, %u passes", mib, start, passes);
	cur.seed = 0;
	run_user(write_user, 0);
	for (unsigned p = 1; p <= passes; p++) {
		cur.seed = p;
		run_user(write_user, 0);
		result("write", p, 0);
		run_user(read_user, 0);
		result("read", p, cur.bad);
		ok &= !cur.bad;
	}
	report(ok, "bigmem: every word read back right in %u passes", passes);
	return report_summary();
}
