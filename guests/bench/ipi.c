/* Benchmark guest for `scripts/bench ipi`: the round trip of a fixed IPI
 * from vCPU 0 to vCPU k and a fixed IPI back, for every k >= 1. bench/ipi
 * places the vCPUs so that some targets share vCPU 0's node and some do
 * not (amalgam run --nodes 2 --cpus 3 --place 0,0,1): one VM, the same
 * code and the same host load for both, batches alternating between them.
 *
 * vCPU 0 runs the loop in ring 3 (native speed under PVM; every page is a
 * User page, so ring 3 can write the xAPIC's ICR): read the TSC, write
 * the ICR (vector PING to k), spin until its PONG handler has bumped a
 * counter, read the TSC. vCPU k sits in the kit's idle loop (halted); its
 * PING handler writes vCPU 0's PONG into its ICR and EOIs. The handlers
 * are three and six instructions of assembly on IDT gates of their own,
 * not the kit's C dispatch: interrupts run in ring 0, which PVM emulates at
 * ~1.8 us an instruction, and the kit's path (several dozen instructions
 * a side) would swamp what crosses the wire.
 *
 * Nothing is shared but by IPIs: the PONG counter is alone on a page only
 * vCPU 0 writes and reads, the samples are vCPU 0's, the handlers touch
 * their own stacks; the pages both read (code, IDT, the kit's per-CPU
 * data) are not written while the batches run. A page written by both
 * would bounce between nodes through the memory plane and be measured
 * instead of the IPIs.
 *
 * Command line: n=N round trips per batch (default 200), batches=B
 * (default 11, at most BSTAT_MAX_BATCHES), warmup=W untimed round trips
 * per target first (default 20).
 *
 * Printed: one line per batch, then per target
 *   RESULT ipi cpu=K n=N batches=B lost=L p50_ns= p90_ns= p99_ns= max_ns=
 *          min_ns= mean_ns= batch_p50_ns= batch_mean_ns= samples=
 * (bstat.h: percentiles over every round trip, and the medians over the
 * batches of each batch's median and mean); bench/ipi parses these. Exit
 * status 0 when every PING got its PONG. */
#include "libguest.h"

#include "bstat.h"

#define VEC_PING 0x50
#define VEC_PONG 0x51
#define MAX_TARGETS 3
#define MAX_SAMPLES 32768
/* A round trip this long is a lost IPI. On a small, overloaded host a
 * vCPU thread (niced, see src/vmm/vcpu.c) can wait more than a second for a
 * core, so this is no tight bound. */
#define LOST_MS 10000

/* vCPU 0's alone, bumped by its PONG handler (pong_stub). Aligning the
 * type pads it to a whole page: nothing else may share it. */
static struct {
	volatile uint64_t n;
} __attribute__((aligned(4096))) pongs __attribute__((used));

static uint32_t lat[MAX_TARGETS][MAX_SAMPLES]
	__attribute__((section(".noinit.ipi"), aligned(4096)));

/* The handlers (see above). The EOI and ICR writes are moffs stores: the
 * xAPIC's 32-bit address does not fit a sign-extended displacement, and
 * what EAX holds does not matter to the EOI register. The ICR's
 * destination (ICR2) was set once to vCPU 0; delivery is fixed,
 * physical. */
void pong_stub(void);
void ping_stub(void);
__asm__(".text\n"
	".p2align 4\n"
	"pong_stub:\n"
	"	incq pongs(%rip)\n"
	"	movabs %eax, 0xfee000b0\n"
	"	iretq\n"
	".p2align 4\n"
	"ping_stub:\n"
	"	pushq %rax\n"
	"	movl $0x51, %eax\n"
	"	movabs %eax, 0xfee00300\n"
	"	movabs %eax, 0xfee000b0\n"
	"	popq %rax\n"
	"	iretq\n");
_Static_assert(VEC_PONG == 0x51, "ping_stub sends 0x51");

/* An interrupt gate straight to stub, bypassing the kit's dispatch. */
static void set_gate(unsigned vec, void (*stub)(void))
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;
	uint64_t a = (uintptr_t)stub, *g;

	__asm__ __volatile__("sidt %0" : "=m"(idtr));
	g = (uint64_t *)(uintptr_t)(idtr.base + 16 * vec);
	g[0] = (a & 0xffff) | (uint64_t)SEL_KCODE << 16 |
	       (uint64_t)0x8e << 40 | (a >> 16 & 0xffff) << 48;
	g[1] = a >> 32;
}

/* On each target: its answers go to vCPU 0. */
static void point_icr2_at_bsp(void *arg)
{
	apic_write(APIC_ICR2, percpu[0].apic_id << 24);
}

struct batch {
	uint32_t dest;		/* APIC ID of the target */
	uint64_t n, lost_cycles, lost;
	uint64_t total;		/* TSC cycles of the whole loop */
	uint32_t *lat;		/* NULL: warm-up, not recorded */
};

static uint64_t batch_user(uint64_t arg)
{
	struct batch *b = (struct batch *)arg;
	volatile uint32_t *icr = (volatile uint32_t *)(XAPIC_BASE + APIC_ICR);
	uint64_t begin = rdtsc();

	mmio_write32(XAPIC_BASE + APIC_ICR2, b->dest << 24);
	for (uint64_t i = 0; i < b->n; i++) {
		uint64_t old = pongs.n, t0 = rdtsc(), t1 = t0;

		*icr = VEC_PING;
		while (pongs.n == old) {
			pause();
			t1 = rdtsc();
			if (t1 - t0 > b->lost_cycles) {
				b->lost++;
				return 1;
			}
		}
		t1 = rdtsc();
		if (b->lat)
			b->lat[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX
							 : (uint32_t)(t1 - t0);
	}
	b->total = rdtsc() - begin;
	return 0;
}

struct summary {
	struct bstat s[MAX_TARGETS];
	unsigned targets;
	uint64_t n;
	unsigned batches;
};

static uint64_t summarize_user(uint64_t arg)
{
	struct summary *m = (struct summary *)arg;

	for (unsigned t = 0; t < m->targets; t++)
		bstat_batches(&m->s[t], lat[t], m->n, m->batches);
	return 0;
}

/* Fault the sample buffers in before anything is timed. */
static uint64_t touch_user(uint64_t unused)
{
	(void)unused;
	for (unsigned t = 0; t < MAX_TARGETS; t++)
		for (uint64_t i = 0; i < MAX_SAMPLES; i += 1024)
			lat[t][i] = 0;
	return 0;
}

int main(void)
{
	static struct summary m;
	long n = cmdline_int("n", 200), batches = cmdline_int("batches", 11);
	long warmup = cmdline_int("warmup", 20);
	uint64_t lost[MAX_TARGETS] = { 0 }, lost_all = 0;
	unsigned cpus, targets;

	if (n < 1 || batches < 1 || batches > BSTAT_MAX_BATCHES || warmup < 0 ||
	    n * batches > MAX_SAMPLES) {
		report(false, "bad arguments: n=%ld batches=%ld warmup=%ld (n * "
		       "batches <= %d)", n, batches, warmup, MAX_SAMPLES);
		return report_summary();
	}
	set_gate(VEC_PING, ping_stub);
	set_gate(VEC_PONG, pong_stub);
	cpus = smp_init(5000);
	report(cpus == nr_cpus && cpus >= 2, "%u of %u CPUs online (need 2+)",
	       cpus, nr_cpus);
	if (cpus != nr_cpus || cpus < 2)
		return report_summary();
	targets = cpus - 1 < MAX_TARGETS ? cpus - 1 : MAX_TARGETS;
	for (unsigned t = 0; t < targets; t++)
		on_cpu(1 + t, point_icr2_at_bsp, NULL);
	report_info("TSC %lu kHz (%s); %u targets, %ld batches of %ld round "
		    "trips, %ld warm-up", tsc_khz, tsc_source, targets, batches,
		    n, warmup);
	run_user(touch_user, 0);

	/* Warm-up: code, stacks and IDT fetched on each node. */
	for (unsigned t = 0; t < targets; t++) {
		struct batch b = { .dest = percpu[1 + t].apic_id,
				   .n = (uint64_t)warmup,
				   .lost_cycles = ms_to_tsc(LOST_MS) };

		run_user(batch_user, (uint64_t)&b);
		lost[t] += b.lost;
		lost_all += b.lost;
	}
	/* Batches alternate between the targets, the order rotating, so
	 * that a slow spell of the host hits them alike. A lost IPI ends the
	 * run: the rest would only wait for it. */
	for (long i = 0; i < batches && !lost_all; i++)
		for (unsigned j = 0; j < targets && !lost_all; j++) {
			unsigned t = (unsigned)(i + j) % targets;
			struct batch b = { .dest = percpu[1 + t].apic_id,
					   .n = (uint64_t)n,
					   .lost_cycles = ms_to_tsc(LOST_MS),
					   .lat = lat[t] + i * n };

			run_user(batch_user, (uint64_t)&b);
			lost[t] += b.lost;
			lost_all += b.lost;
			printf("batch %ld cpu %u: %lu ns/round trip%s\n", i + 1,
			       1 + t, bstat_ns(b.total / (uint64_t)n),
			       b.lost ? " (LOST an IPI)" : "");
		}

	m.targets = targets;
	m.n = (uint64_t)n;
	m.batches = (unsigned)batches;
	run_user(summarize_user, (uint64_t)&m);
	report(tsc_khz != 0, "TSC frequency known (%s)", tsc_source);
	for (unsigned t = 0; t < targets; t++) {
		report(!lost[t], "cpu %u: every PING got its PONG (%lu lost)",
		       1 + t, lost[t]);
		printf("RESULT ipi cpu=%u n=%ld batches=%ld lost=%lu", 1 + t, n,
		       batches, lost[t]);
		bstat_print(&m.s[t]);
		printf("\n");
	}
	return report_summary();
}
