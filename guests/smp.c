/* SMP bring-up: every vCPU in the MP table comes up by INIT/SIPI/SIPI,
 * reports its APIC ID from its own LAPIC, and each ID is seen exactly
 * once. Command line: ncpus=N, the vCPU count amalgam was given. */
#include "libguest.h"

static uint32_t seen_id[MAX_CPUS];
static volatile uint32_t reports;

static void report_in(void *arg)
{
	seen_id[smp_id()] = apic_id();
	atomic_inc(&reports);
}

int main(void)
{
	long want = cmdline_int("ncpus", -1);
	unsigned up, dup = 0, missing = 0;
	uint64_t t0;

	report(mp.found && mp.checksums_ok,
	       "MP table at %#x (config table %#x), checksums valid",
	       mp.fps_addr, mp.table_addr);
	report(want < 0 || mp.nr_cpus_listed == (unsigned)want,
	       "MP table lists %u processors (command line ncpus=%ld)",
	       mp.nr_cpus_listed, want);
	report(nr_cpus == mp.nr_cpus_listed && percpu[0].apic_id == 0,
	       "BSP is APIC ID %u, %u CPUs usable", percpu[0].apic_id, nr_cpus);

	t0 = rdtsc();
	up = smp_init(5000);
	report(up == nr_cpus, "%u of %u CPUs online after INIT/SIPI (%lu us)",
	       up, nr_cpus, tsc_to_us(rdtsc() - t0));

	seen_id[0] = apic_id();
	for (unsigned c = 1; c < nr_cpus; c++)
		if (percpu[c].online)
			on_cpu_async(c, report_in, NULL);
	wait_until(reports == up - 1, 5000);
	for (unsigned c = 1; c < nr_cpus; c++)
		on_cpu_wait(c, 1000);
	report(reports == up - 1, "%u APs ran work and reported in", reports);

	/* Every ID from the MP table exactly once. */
	for (unsigned c = 0; c < nr_cpus; c++) {
		unsigned n = 0;

		for (unsigned d = 0; d < nr_cpus; d++)
			n += seen_id[d] == percpu[c].apic_id;
		if (n > 1)
			dup++;
		if (n == 0)
			missing++;
		report_info("cpu %u: MP APIC ID %u, LAPIC reports %u", c,
			    percpu[c].apic_id, seen_id[c]);
	}
	report(!dup && !missing, "each APIC ID seen exactly once "
	       "(%u duplicated, %u missing)", dup, missing);
	return report_summary();
}
