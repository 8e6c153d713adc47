/* Ring 3: workloads run at native speed and give the right results.
 *  - code really runs at CPL 3;
 *  - 100M steps of a 64-bit LCG (checked in ring 0 by composing the affine
 *    map in log2(N) steps), with a 1 kHz LAPIC timer interrupting it;
 *  - a weighted checksum over a 16 MiB buffer filled in ring 3, checked
 *    against its closed form;
 *  - privileged instructions in ring 3 raise #GP with CPL 3 in the frame.
 * Times are reported in TSC cycles; nothing asserts on speed. */
#include "libguest.h"

#define VEC_TICK 0x43
#define LCG_A 6364136223846793005ull
#define LCG_C 1442695040888963407ull
#define STEPS 100000000ull
#define BUF_BYTES (16u << 20)

static volatile uint32_t ticks;
static volatile uint32_t gp_from_user;
static volatile uint64_t gp_error;

struct job {
	uint64_t n, seed, result, cycles;
	uint64_t *buf;
};

static void tick(struct irq_frame *f)
{
	ticks++;
	apic_eoi();
}

static void gp(struct irq_frame *f)
{
	if ((f->cs & 3) != 3) {
		report(false, "#GP in ring 0 at %#lx", f->rip);
		exit(report_summary());
	}
	gp_from_user++;
	gp_error = f->error;
	f->rip += 1;	/* cli, hlt */
}

static uint64_t cpl(uint64_t unused)
{
	return read_cs() & 3;
}

static uint64_t lcg_user(uint64_t arg)
{
	struct job *j = (struct job *)arg;
	uint64_t t0 = rdtsc(), x = j->seed;

	for (uint64_t i = 0; i < j->n; i++)
		x = x * LCG_A + LCG_C;
	j->cycles = rdtsc() - t0;
	j->result = x;
	return 0;
}

/* x -> a x + c, composed n times, by squaring. */
static uint64_t lcg_jump(uint64_t x, uint64_t n)
{
	uint64_t a = LCG_A, c = LCG_C, ra = 1, rc = 0;

	for (; n; n >>= 1) {
		if (n & 1) {
			ra *= a;
			rc = rc * a + c;
		}
		c = c * (a + 1);
		a *= a;
	}
	return x * ra + rc;
}

#define MIX 0x9e3779b97f4a7c15ull

static uint64_t checksum_user(uint64_t arg)
{
	struct job *j = (struct job *)arg;
	uint64_t t0 = rdtsc(), sum = 0;

	for (uint64_t i = 0; i < j->n; i++)
		j->buf[i] = i * MIX + j->seed;
	for (uint64_t i = 0; i < j->n; i++)
		sum += j->buf[i] * (2 * i + 1);
	j->cycles = rdtsc() - t0;
	j->result = sum;
	return 0;
}

/* sum over i < n of (i * MIX + seed) * (2i + 1)
 * = MIX * (2 S2 + S1) + seed * n^2, with S1 = sum i, S2 = sum i^2. */
static uint64_t checksum_expected(uint64_t n, uint64_t seed)
{
	uint64_t a = n - 1, b = n, c = 2 * n - 1, s1, s2;

	s1 = n % 2 ? n * ((n - 1) / 2) : (n / 2) * (n - 1);
	if (a % 2 == 0)
		a /= 2;
	else
		b /= 2;
	if (a % 3 == 0)
		a /= 3;
	else if (b % 3 == 0)
		b /= 3;
	else
		c /= 3;
	s2 = a * b * c;
	return MIX * (2 * s2 + s1) + seed * n * n;
}

static uint64_t privileged_user(uint64_t arg)
{
	__asm__ __volatile__("cli");
	__asm__ __volatile__("hlt");
	return 42;
}

int main(void)
{
	struct job j = { .n = STEPS, .seed = 12345 };
	uint64_t want, t0, r0_cycles;
	uint64_t x = j.seed;
	uint64_t sum = 0;

	report(cpl(0) == 0 && run_user(cpl, 0) == 3, "run_user runs at CPL 3");

	irq_set_handler(VEC_TICK, tick);
	apic_timer_start(APIC_TIMER_PERIODIC | VEC_TICK, APIC_TDCR_1,
			 (uint32_t)apic_timer_khz);
	run_user(lcg_user, (uint64_t)&j);
	apic_timer_stop();
	want = lcg_jump(j.seed, j.n);
	report(j.result == want, "100M LCG steps in ring 3: %#lx (expected %#lx)",
	       j.result, want);
	report_info("ring 3: %lu cycles, %lu cycles per 1000 steps, %lu us; "
		    "%u timer interrupts taken meanwhile",
		    j.cycles, j.cycles / (j.n / 1000), tsc_to_us(j.cycles), ticks);
	report(ticks > 0 || tsc_to_us(j.cycles) < 5000,
	       "ring-3 state survives interrupts (%u ticks)", ticks);

	t0 = rdtsc();
	for (unsigned i = 0; i < 10000; i++) {
		x = x * LCG_A + LCG_C;
		barrier();
	}
	r0_cycles = rdtsc() - t0;
	report(x == lcg_jump(j.seed, 10000), "10k LCG steps in ring 0");
	report_info("ring 0 (emulated): %lu cycles per 1000 steps, %lux ring 3",
		    r0_cycles / 10, j.cycles ? r0_cycles / 10 * (j.n / 1000) /
						       j.cycles : 0);

	j.buf = alloc(BUF_BYTES, 4096);
	report(j.buf != NULL, "16 MiB buffer at %p", (void *)j.buf);
	if (j.buf) {
		j.n = BUF_BYTES / 8;
		j.seed = 777;
		run_user(checksum_user, (uint64_t)&j);
		want = checksum_expected(j.n, j.seed);
		report(j.result == want,
		       "16 MiB buffer checksum in ring 3: %#lx (expected %#lx)",
		       j.result, want);
		for (uint64_t i = 0; i < j.n; i += j.n / 16)
			sum += j.buf[i] == i * MIX + j.seed;
		report(sum == 16, "buffer filled in ring 3 reads back in ring 0");
		report_info("16 MiB fill + checksum in ring 3: %lu cycles (%lu us)",
			    j.cycles, tsc_to_us(j.cycles));
	}

	irq_set_handler(13, gp);
	/* Not int $n through a DPL-0 gate: PVM raises #UD for any software
	 * interrupt from ring 3 instead of #GP. */
	x = run_user(privileged_user, 0);
	report(x == 42 && gp_from_user == 2 && gp_error == 0,
	       "cli and hlt in ring 3 raise #GP(0) (%u)", gp_from_user);
	irq_set_handler(13, NULL);
	return report_summary();
}
