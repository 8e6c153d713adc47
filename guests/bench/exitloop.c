/* Benchmark guest for `scripts/bench exit`: the round trip of a port-I/O
 * exit (guest `out` -> VMM -> guest), timed with the TSC in ring 3, where
 * code runs natively even under PVM. The same ELF boots under amalgam
 * (64-bit entry at _start) and under QEMU -kernel (PVH entry, lib/pvh.S).
 *
 * Command line:
 *   n=N        outs per batch (default 20000)
 *   batches=B  timed batches (default 7, at most MAX_BATCHES)
 *   port=P     the port written (default 0x520: no device claims it in
 *              amalgam or in QEMU's pc and q35 machines, so each out is a
 *              plain exit to the VMM's user space and back)
 *
 * Each batch times N outs and N iterations of the same loop without the
 * out (the baseline); a batch's figure is (outs - baseline) / N. Printed:
 * one line per batch, then
 *   RESULT exit cycles=C raw=R base=B tsc_khz=K ps=P n=N batches=B
 *          entry=amalgam|pvh tsc_source=...
 * with medians over the batches and P = C in picoseconds; bench/exit
 * parses that line. Exit status 0 when every check passed. */
#include "bstat.h"
#include "libguest.h"
#include "pvh.h"
#include "userio.h"

#define MAX_BATCHES 31

struct batch {
	uint64_t n;
	uint16_t port;
	uint64_t outs, empty;	/* TSC cycles */
};

static uint64_t batch_user(uint64_t arg)
{
	struct batch *b = (struct batch *)arg;
	uint64_t n = b->n, t0, t1, t2;
	uint16_t port = b->port;

	outb(port, 0);		/* first exit outside the timing */
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		outb(port, (uint8_t)i);
	t1 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		__asm__ __volatile__("" : : "a"((uint8_t)i), "Nd"(port));
	t2 = rdtsc();
	b->outs = t1 - t0;
	b->empty = t2 - t1;
	return 0;
}

/* Cycles per iteration in hundredths. */
static uint64_t per100(uint64_t cycles, uint64_t n)
{
	return n ? cycles * 100 / n : 0;
}

int main(void)
{
	static uint64_t net[MAX_BATCHES], raw[MAX_BATCHES], base[MAX_BATCHES];
	long n = cmdline_int("n", 20000);
	long batches = cmdline_int("batches", 7);
	long port = cmdline_int("port", 0x520);
	uint64_t c, r, e, ps;

	if (n < 1 || batches < 1 || batches > MAX_BATCHES || port < 0 ||
	    port > 0xffff || port == 0xf4) {
		report(false, "bad arguments: n=%ld batches=%ld port=%#lx", n,
		       batches, port);
		return report_summary();
	}
	/* Nothing may interrupt ring 3 but the odd host event: mask the
	 * 8259s a firmware may have left open (QEMU); the kit masked the
	 * LAPIC timer. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	report_info("entry %s, TSC %lu kHz (%s), %ld batches of %ld outs to "
		    "port %#lx", pvh_start_info ? "pvh" : "amalgam", tsc_khz,
		    tsc_source, batches, n, port);
	report_info("e820: %u entries, %lu KiB of RAM; command line '%s'",
		    e820_count(), e820_ram() >> 10, cmdline());
	if (!userio_allow((uint16_t)port, 1)) {
		report(false, "cannot open port %#lx to ring 3", port);
		return report_summary();
	}
	for (long i = 0; i < batches; i++) {
		struct batch b = { .n = (uint64_t)n, .port = (uint16_t)port };

		run_user(batch_user, (uint64_t)&b);
		raw[i] = per100(b.outs, b.n);
		base[i] = per100(b.empty, b.n);
		net[i] = raw[i] > base[i] ? raw[i] - base[i] : 0;
		printf("batch %ld: %lu.%02lu cycles/exit (loop %lu.%02lu)\n",
		       i + 1, net[i] / 100, net[i] % 100, base[i] / 100,
		       base[i] % 100);
	}
	report(tsc_khz != 0, "TSC frequency known (%s)", tsc_source);
	c = bstat_median64(net, (unsigned)batches);
	r = bstat_median64(raw, (unsigned)batches);
	e = bstat_median64(base, (unsigned)batches);
	report(c > 0, "an exit costs more than an empty iteration");
	/* c is in hundredths of a cycle: ps = c / 100 * 1e9 / tsc_khz. */
	ps = tsc_khz ? c * 10000000 / tsc_khz : 0;
	printf("RESULT exit cycles=%lu.%02lu raw=%lu.%02lu base=%lu.%02lu "
	       "tsc_khz=%lu ps=%lu n=%ld batches=%ld entry=%s tsc_source=%s\n",
	       c / 100, c % 100, r / 100, r % 100, e / 100, e % 100, tsc_khz,
	       ps, n, batches, pvh_start_info ? "pvh" : "amalgam", tsc_source);
	return report_summary();
}
