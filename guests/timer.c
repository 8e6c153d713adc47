/* LAPIC timer: one-shot (divide 1 and 128), current-count readout, masked
 * LVT, periodic at 1 kHz over 200 ms (200 +- 30%, the lower bound scaled
 * to the time the host let the vCPU run), and TSC-deadline
 * (fires once at or after the deadline, MSR cleared on expiry, disarm by
 * writing 0, a deadline in the past fires at once, 20 back-to-back).
 * The CPU waits in ring 3 (native) while ring 0 takes the interrupts; all
 * timestamps are ring-0 TSC reads. Bounds are generous: the host is noisy
 * and every ring-0 instruction is emulated. */
#include "libguest.h"

#define VEC_TIMER 0x41

static volatile uint32_t ticks;
static volatile uint64_t first_tsc, last_tsc;

static void timer_handler(struct irq_frame *f)
{
	uint64_t t = rdtsc();

	if (!ticks)
		first_tsc = t;
	last_tsc = t;
	ticks++;
	apic_eoi();
}

static void reset(void)
{
	ticks = 0;
	first_tsc = last_tsc = 0;
}

/* One-shot of ms milliseconds at the given divider: one interrupt, not
 * early, at most slack_ms late beyond the time the host kept the vCPU
 * descheduled. */
static void oneshot(unsigned ms, uint32_t tdcr, unsigned div, unsigned slack_ms)
{
	uint64_t count = ms * apic_timer_khz / div, t0, lat, stolen;

	reset();
	t0 = rdtsc();
	apic_timer_start(APIC_TIMER_ONESHOT | VEC_TIMER, tdcr, (uint32_t)count);
	spin_user_while(&ticks, 0, ms_to_tsc(4 * (ms + slack_ms)));
	stolen = tsc_to_us(spin_user_stolen());
	spin_user(ms_to_tsc(ms));	/* a second one would show up here */
	lat = ticks ? tsc_to_us(first_tsc - t0) : 0;
	report(ticks == 1 && lat >= ms * 990 &&
	       lat <= (ms + slack_ms) * 1000 + stolen,
	       "one-shot %u ms, divide %u: %u interrupt(s), fired after %lu us "
	       "(%lu us descheduled)", ms, div, ticks, lat, stolen);
	report(apic_read(APIC_TMCCT) == 0, "one-shot current count 0 after expiry");
	apic_timer_stop();
}

static void current_count(void)
{
	uint32_t c0, c1;
	uint64_t t0, t1, rate;

	apic_timer_start(APIC_LVT_MASKED | VEC_TIMER, APIC_TDCR_128, 0xffffffff);
	t0 = rdtsc();
	c0 = apic_read(APIC_TMCCT);
	spin_user(ms_to_tsc(5));
	t1 = rdtsc();
	c1 = apic_read(APIC_TMCCT);
	rate = tsc_to_us(t1 - t0) ? (uint64_t)(c0 - c1) * 128 * 1000 /
					    tsc_to_us(t1 - t0)
				  : 0;
	report(c1 < c0 && rate >= apic_timer_khz * 8 / 10 &&
	       rate <= apic_timer_khz * 12 / 10,
	       "current count runs down at %lu kHz (expected %lu kHz +-20%%)",
	       rate, apic_timer_khz);
	apic_write(APIC_TMICT, 0);
	report(apic_read(APIC_TMCCT) == 0, "writing initial count 0 stops it");
	apic_timer_stop();
}

static void masked(void)
{
	reset();
	apic_timer_start(APIC_LVT_MASKED | APIC_TIMER_ONESHOT | VEC_TIMER,
			 APIC_TDCR_1, (uint32_t)(2 * apic_timer_khz));
	spin_user(ms_to_tsc(20));
	report(ticks == 0 && apic_read(APIC_TMCCT) == 0,
	       "masked one-shot expires without an interrupt");
	apic_timer_stop();
}

/* Periodic at 1 kHz for 200 ms. Ticks due while the host had this vCPU
 * descheduled are merged into one (amalgam, like KVM, does not replay
 * them), so the lower bound scales with the time the vCPU really ran; a
 * window where the host left the vCPU under a fifth of it is retried. */
static void periodic(void)
{
	const unsigned hz = 1000, ms = 200, want = hz * ms / 1000;
	uint64_t t0, stolen = 0, ran_ms = 0;
	uint32_t n = 0;
	int tries;

	for (tries = 1; tries <= 5; tries++) {
		reset();
		t0 = rdtsc();
		apic_timer_start(APIC_TIMER_PERIODIC | VEC_TIMER, APIC_TDCR_1,
				 (uint32_t)(apic_timer_khz * 1000 / hz));
		stolen = spin_user(ms_to_tsc(ms));
		apic_timer_stop();
		/* A tick that became pending before the stop may still be
		 * delivered once interrupts are on again, as on hardware:
		 * let it land before counting. */
		spin_user(ms_to_tsc(2));
		n = ticks;
		ran_ms = ms - tsc_to_us(stolen) / 1000;
		if (ran_ms >= ms / 5)
			break;
		report_info("periodic: host took %lu of %u ms, retrying",
			    ms - ran_ms, ms);
	}
	if (ran_ms < ms / 5) {
		report_skip("periodic: host too busy to measure");
		return;
	}
	report(n >= ran_ms * hz / 1000 * 7 / 10 && n <= want * 13 / 10 + 1,
	       "periodic %u Hz for %u ms (%lu ms not descheduled): %u interrupts "
	       "(expected %lu..%u)", hz, ms, ran_ms, n,
	       ran_ms * hz / 1000 * 7 / 10, want * 13 / 10 + 1);
	if (n > 1)
		report_info("periodic: first after %lu us, mean interval %lu us",
			    tsc_to_us(first_tsc - t0),
			    tsc_to_us((last_tsc - first_tsc) / (n - 1)));
	spin_user(ms_to_tsc(10));
	report(ticks == n, "periodic timer stops when the initial count is 0");
}

static void tsc_deadline(void)
{
	uint64_t deadline, msr, stolen;
	unsigned late = 0, missed = 0;

	if (!(cpuid(1, 0).c & (1u << 24))) {
		report_skip("TSC-deadline mode not in CPUID");
		return;
	}
	apic_write(APIC_LVTT, APIC_TIMER_TSCDEADLINE | VEC_TIMER);

	reset();
	deadline = rdtsc() + ms_to_tsc(10);
	wrmsr(MSR_TSC_DEADLINE, deadline);
	msr = rdmsr(MSR_TSC_DEADLINE);
	spin_user_while(&ticks, 0, ms_to_tsc(200));
	stolen = spin_user_stolen();
	spin_user(ms_to_tsc(10));
	report(msr == deadline, "TSC deadline MSR reads back while armed");
	report(ticks == 1 && first_tsc >= deadline &&
	       first_tsc - deadline <= ms_to_tsc(50) + stolen,
	       "TSC deadline +10 ms: %u interrupt(s), %lu us after the deadline "
	       "(%lu us descheduled)", ticks,
	       ticks ? tsc_to_us(first_tsc - deadline) : 0, tsc_to_us(stolen));
	report(rdmsr(MSR_TSC_DEADLINE) == 0, "deadline MSR is 0 after firing");

	reset();
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + ms_to_tsc(20));
	wrmsr(MSR_TSC_DEADLINE, 0);
	spin_user(ms_to_tsc(40));
	report(ticks == 0, "writing 0 disarms the deadline");

	reset();
	deadline = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, deadline - 1);
	spin_user_while(&ticks, 0, ms_to_tsc(50));
	report(ticks == 1, "a deadline in the past fires at once (%lu us)",
	       ticks ? tsc_to_us(first_tsc - deadline) : 0);

	for (int i = 0; i < 20; i++) {
		reset();
		deadline = rdtsc() + ms_to_tsc(2);
		wrmsr(MSR_TSC_DEADLINE, deadline);
		if (!spin_user_while(&ticks, 0, ms_to_tsc(200)))
			missed++;
		else if (first_tsc < deadline)
			late = ~0u;	/* early: always wrong */
		else if (late != ~0u && first_tsc - deadline >
					 ms_to_tsc(20) + spin_user_stolen())
			late++;
	}
	report(!missed && late != ~0u && late <= 2,
	       "20 back-to-back 2 ms deadlines: %u missed, %s, %u > 20 ms late "
	       "(beyond host descheduling)",
	       missed, late == ~0u ? "some EARLY" : "none early",
	       late == ~0u ? 0 : late);
	wrmsr(MSR_TSC_DEADLINE, 0);
	apic_timer_stop();
}

int main(void)
{
	timing_kit_timer(false);
	irq_set_handler(VEC_TIMER, timer_handler);
	report_info("TSC %lu kHz (%s), LAPIC timer %lu kHz (%s)", tsc_khz,
		    tsc_source, apic_timer_khz, apic_timer_source);
	report(tsc_khz && apic_timer_khz, "TSC and LAPIC timer rates known");
	if (!tsc_khz || !apic_timer_khz)
		return report_summary();

	oneshot(10, APIC_TDCR_1, 1, 50);
	oneshot(10, APIC_TDCR_128, 128, 50);
	current_count();
	masked();
	periodic();
	tsc_deadline();
	return report_summary();
}
