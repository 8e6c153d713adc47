/* Benchmark guest for `scripts/bench mmio`: what a device access costs on
 * the devices' node and forwarded from another. bench/mmio runs it as
 *
 *   amalgam run --nodes 2 --cpus 2 --place 0,1 ...
 *
 * so vCPU 0 shares node 0 with the devices (its accesses are local exits)
 * and vCPU 1 is on node 1, which has no devices: each of its accesses goes
 * to node 0 and back (src/cpu/forward.c). Each times, in ring 3 (native
 * speed under PVM; every page is a User page and userio.h opens the port),
 * n accesses of each kind with the TSC:
 *
 *   mmio_read   IOAPIC IOWIN (0xfec00010) with IOREGSEL on the version
 *               register: a real MMIO register of node 0 that node 1
 *               forwards, with no side effect; checked against the value
 *               vCPU 0 read first;
 *   mmio_write  IOAPIC IOREGSEL (0xfec00000), the version register again:
 *               changes nothing;
 *   pio_read    UART scratch register (port 0x3ff), checked;
 *   pio_write   the same, the same value.
 *
 * Batches alternate between the two vCPUs (the other one halted), so that
 * a slow spell of the busy host hits both alike. Each vCPU keeps its
 * samples and figures on pages of its own and copies its job before the
 * loop: no page it touches while timing is written by the other, or the
 * memory plane would move it between nodes inside the measurement.
 *
 * Command line: n=N accesses of each kind per batch (default 500),
 * batches=B (default 7, at most BSTAT_MAX_BATCHES), warmup=W untimed
 * accesses of each kind first (default 20).
 *
 * Printed: one line per batch, then per vCPU and kind
 *   RESULT mmio cpu=C kind=K n=N batches=B bad=X p50_ns= p90_ns= p99_ns=
 *          max_ns= min_ns= mean_ns= batch_p50_ns= batch_mean_ns= samples=
 * (bstat.h); bench/mmio parses these. Exit status 0 when every value read
 * was right. */
#include "libguest.h"

#include "bstat.h"
#include "userio.h"

#define MAX_SAMPLES 16384
#define UART_SCR 0x3ff
#define SCR_VALUE 0x5a

enum kind { MMIO_READ, MMIO_WRITE, PIO_READ, PIO_WRITE, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	[MMIO_READ] = "mmio_read", [MMIO_WRITE] = "mmio_write",
	[PIO_READ] = "pio_read", [PIO_WRITE] = "pio_write",
};

struct job {
	uint64_t n, first;	/* n accesses of each kind, samples from first */
	uint32_t ioapic_ver;	/* what mmio_read must see */
	bool record;		/* false: warm-up, nothing recorded */
};

/* One per vCPU, written only by its vCPU; the type's alignment gives each
 * whole pages of its own. */
struct __attribute__((aligned(4096))) side {
	uint32_t lat[NR_KINDS][MAX_SAMPLES];
	struct bstat s[NR_KINDS];
	uint64_t bad[NR_KINDS];
	uint64_t total[NR_KINDS];	/* TSC cycles of the last batch's loop */
	uint64_t n, batches;		/* for summarize_user */
};
static struct side side[USERIO_CPUS] __attribute__((section(".noinit.mmio")));

static uint64_t batch_user(uint64_t arg)
{
	const struct job j = *(const struct job *)arg;
	struct side *me = &side[smp_id()];
	volatile uint32_t *iowin = (volatile uint32_t *)(IOAPIC_BASE + 0x10);
	volatile uint32_t *regsel = (volatile uint32_t *)IOAPIC_BASE;

	for (unsigned k = 0; k < NR_KINDS; k++) {
		uint32_t *lat = me->lat[k] + j.first;
		uint64_t bad = 0, begin = bstat_tsc();

		for (uint64_t i = 0; i < j.n; i++) {
			uint64_t t0 = bstat_tsc(), t1;

			switch (k) {
			case MMIO_READ:
				bad += *iowin != j.ioapic_ver;
				break;
			case MMIO_WRITE:
				*regsel = IOAPIC_REG_VER;
				break;
			case PIO_READ:
				bad += inb(UART_SCR) != SCR_VALUE;
				break;
			case PIO_WRITE:
				outb(UART_SCR, SCR_VALUE);
				break;
			}
			t1 = bstat_tsc();
			if (j.record)
				lat[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX
							      : (uint32_t)(t1 - t0);
		}
		me->total[k] = bstat_tsc() - begin;
		me->bad[k] += bad;
	}
	return 0;
}

/* Zero this vCPU's counters and fault its sample pages in, on its node. */
static uint64_t prepare_user(uint64_t unused)
{
	struct side *me = &side[smp_id()];

	(void)unused;
	for (unsigned k = 0; k < NR_KINDS; k++) {
		me->bad[k] = 0;
		for (uint64_t i = 0; i < MAX_SAMPLES; i += 1024)
			me->lat[k][i] = 0;
	}
	return 0;
}

static uint64_t summarize_user(uint64_t unused)
{
	struct side *me = &side[smp_id()];

	(void)unused;
	for (unsigned k = 0; k < NR_KINDS; k++)
		bstat_batches(&me->s[k], me->lat[k], me->n, (unsigned)me->batches);
	return 0;
}

/* on_cpu work, on the vCPU concerned. */
static void setup_cpu(void *ok)
{
	*(volatile bool *)ok = userio_allow(UART_SCR, 1);
	run_user(prepare_user, 0);
}

static void batch_cpu(void *job)
{
	run_user(batch_user, (uint64_t)job);
}

static void summarize_cpu(void *unused)
{
	run_user(summarize_user, 0);
}

/* Run fn on cpu and wait for it (a forwarded batch takes a while). */
static bool on(unsigned cpu, work_fn fn, void *arg)
{
	on_cpu_async(cpu, fn, arg);
	return on_cpu_wait(cpu, 60000);
}

int main(void)
{
	long n = cmdline_int("n", 500), batches = cmdline_int("batches", 7);
	long warmup = cmdline_int("warmup", 20);
	bool ok[USERIO_CPUS] = { false };
	uint32_t ver;
	unsigned cpus;

	if (n < 1 || batches < 1 || batches > BSTAT_MAX_BATCHES || warmup < 0 ||
	    n * batches > MAX_SAMPLES) {
		report(false, "bad arguments: n=%ld batches=%ld warmup=%ld (n * "
		       "batches <= %d)", n, batches, warmup, MAX_SAMPLES);
		return report_summary();
	}
	cpus = smp_init(5000);
	report(cpus == nr_cpus && cpus >= USERIO_CPUS, "%u of %u CPUs online "
	       "(need %d)", cpus, nr_cpus, USERIO_CPUS);
	if (cpus != nr_cpus || cpus < USERIO_CPUS)
		return report_summary();
	/* Leaves IOREGSEL on the version register for the whole run. */
	ver = ioapic_read(IOAPIC_REG_VER);
	outb(UART_SCR, SCR_VALUE);
	for (unsigned c = 0; c < USERIO_CPUS; c++)
		on(c, setup_cpu, &ok[c]);
	report(ok[0] && ok[1], "UART scratch port open to ring 3 on cpus 0, 1");
	if (!ok[0] || !ok[1])
		return report_summary();
	report_info("TSC %lu kHz (%s); IOAPIC version %#x; %ld batches of %ld "
		    "accesses of each kind, %ld warm-up", tsc_khz, tsc_source,
		    ver, batches, n, warmup);

	for (unsigned c = 0; c < USERIO_CPUS; c++) {
		struct job j = { .n = (uint64_t)warmup, .ioapic_ver = ver };

		on(c, batch_cpu, &j);
	}
	for (long i = 0; i < batches; i++)
		for (unsigned o = 0; o < USERIO_CPUS; o++) {
			unsigned c = (unsigned)(i + o) % USERIO_CPUS;
			struct job j = { .n = (uint64_t)n, .first = (uint64_t)(i * n),
					 .ioapic_ver = ver, .record = true };
			bool done = on(c, batch_cpu, &j);

			printf("batch %ld cpu %u:", i + 1, c);
			for (unsigned k = 0; k < NR_KINDS; k++)
				printf(" %s %lu ns", kind_name[k],
				       bstat_ns(side[c].total[k] / (uint64_t)n));
			printf("%s\n", done ? "" : " (TIMED OUT)");
			if (!done) {
				report(false, "cpu %u finished batch %ld", c, i + 1);
				return report_summary();
			}
		}

	for (unsigned c = 0; c < USERIO_CPUS; c++) {
		side[c].n = (uint64_t)n;
		side[c].batches = (uint64_t)batches;
		on(c, summarize_cpu, NULL);
	}
	report(tsc_khz != 0, "TSC frequency known (%s)", tsc_source);
	for (unsigned c = 0; c < USERIO_CPUS; c++)
		for (unsigned k = 0; k < NR_KINDS; k++) {
			const struct side *s = &side[c];

			if (k == MMIO_READ || k == PIO_READ)
				report(!s->bad[k], "cpu %u %s: every value right "
				       "(%lu wrong)", c, kind_name[k], s->bad[k]);
			printf("RESULT mmio cpu=%u kind=%s n=%ld batches=%ld bad=%lu",
			       c, kind_name[k], n, batches, s->bad[k]);
			bstat_print(&s->s[k]);
			printf("\n");
		}
	return report_summary();
}
