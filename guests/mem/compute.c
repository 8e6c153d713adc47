/* CPUs that compute and share nothing: each runs steps= (default 10^9)
 * steps of x = A x + C (mod 2^64) from a seed of its own, in ring 3, all
 * at once. The BSP checks every result against the same map raised to
 * the steps-th power by repeated squaring, so a vCPU that moved while it
 * computed must still land on the one right value.
 * With more busy vCPUs than a node offers CPUs (amalgam --node-cpus),
 * amalgam moves some of them to a node with CPUs to spare (the CPU rule,
 * cpu/affinity.h); where they end is checked from outside (run-test),
 * and each CPU's time is reported. */
#include "memtest.h"

#define A 6364136223846793005ull
#define C 1442695040888963407ull

struct affine {
	uint64_t a, c;			/* x -> a x + c */
};

static uint64_t steps;

static uint64_t seed(uint64_t cpu)
{
	return 0x9e3779b97f4a7c15ull * (cpu + 1);
}

/* g after f. */
static struct affine then(struct affine f, struct affine g)
{
	return (struct affine){ g.a * f.a, g.a * f.c + g.c };
}

static uint64_t expected(uint64_t cpu)
{
	struct affine acc = { 1, 0 }, p = { A, C };

	for (uint64_t n = steps; n; n >>= 1) {
		if (n & 1)
			acc = then(acc, p);
		p = then(p, p);
	}
	return acc.a * seed(cpu) + acc.c;
}

static uint64_t cycles[MAX_CPUS] __attribute__((section(".noinit.mem")));

static uint64_t compute_user(uint64_t cpu)
{
	uint64_t x = seed(cpu), t0 = rdtsc();

	for (uint64_t i = 0; i < steps; i++)
		x = A * x + C;
	cycles[cpu] = rdtsc() - t0;
	return x;
}

int main(void)
{
	unsigned wrong = 0;

	steps = (uint64_t)cmdline_int("steps", 1000000000);
	if (!mem_start(30000))
		return report_summary();
	if (!mem_phase("compute", compute_user, 600000))
		return report_summary();
	for (unsigned c = 0; c < mem_cpus; c++) {
		bool ok = mem_result[c] == expected(c);

		wrong += !ok;
		if (!ok)
			report_info("cpu %u: %#lx, expected %#lx", c, mem_result[c],
				    expected(c));
		report_info("cpu %u: %lu steps in %lu ms", c, steps,
			    tsc_to_us(cycles[c]) / 1000);
	}
	report(!wrong, "%u CPUs computed %lu steps each: %u wrong results", mem_cpus,
	       steps, wrong);
	return report_summary();
}
