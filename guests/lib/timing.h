/* Time base and waiting.
 *
 * timing_init() learns the TSC and LAPIC timer frequencies from CPUID
 * (0x40000010, else 0x15, else 0x16), else kvmclock, else calibrates
 * against the CMOS RTC; the LAPIC timer is calibrated against the TSC when
 * CPUID does not give it.
 *
 * wait_until(cond, ms) halts (sti; hlt) until cond holds or ms pass; it
 * arms the LAPIC timer one-shot (VEC_KIT_TIMER) for the deadline unless a
 * test owns the timer (timing_kit_timer(false)). Whoever makes cond true
 * on another CPU should wake the waiter (wake_cpu()). */
#ifndef GUEST_TIMING_H
#define GUEST_TIMING_H

#include <stdbool.h>
#include <stdint.h>

extern uint64_t tsc_khz;	/* TSC ticks per ms */
extern uint64_t apic_timer_khz;	/* LAPIC timer input ticks per ms (divide 1) */
extern const char *tsc_source, *apic_timer_source;

/* How much slower than native hardware KVM this platform is declared to
 * be: the runner measures it (guests/run-test, from 'amalgam probe''s exit
 * round trip: 1 on hardware KVM, 2 on PVM, about 9-22 in the lab,
 * QEMU/TCG with nested KVM) and passes timescale=N among the kit's options (boot.h). Every
 * timeout of the kit and the tests (wait_until, poll_until, spin_until,
 * wait_user, and what they build on) is multiplied by it; durations that
 * are measured or slept (msleep, spin_user) are not. 1..100. */
extern uint32_t time_scale;
static inline uint64_t timeout_to_tsc(uint64_t ms)
{
	return ms * time_scale * tsc_khz;
}

void timing_init(void);

static inline uint64_t ms_to_tsc(uint64_t ms) { return ms * tsc_khz; }
static inline uint64_t us_to_tsc(uint64_t us) { return us * tsc_khz / 1000; }
static inline uint64_t tsc_to_us(uint64_t t)
{
	return tsc_khz ? t * 1000 / tsc_khz : 0;
}

/* Allow (default) or forbid the kit's use of the LAPIC timer in waits. */
void timing_kit_timer(bool allowed);

struct waiter {
	uint64_t deadline;
	bool timer;
};
/* Waits until ms (a timeout: scaled by time_scale) have passed. */
void wait_begin(struct waiter *w, uint64_t ms);
bool wait_step(struct waiter *w);	/* false once the deadline passed */
void wait_end(struct waiter *w);

#define wait_until(cond, ms)                                              \
	({                                                                \
		struct waiter __w;                                        \
		bool __ok;                                                \
		wait_begin(&__w, (ms));                                   \
		while (!(__ok = (cond)) && wait_step(&__w))               \
			;                                                 \
		wait_end(&__w);                                           \
		__ok;                                                     \
	})

/* Sleep ms in ring 0 with interrupts enabled (halting). */
void msleep(uint64_t ms);
/* Spin in ring 3 for a number of TSC cycles with interrupts enabled: a
 * busy CPU that takes interrupts at native speed. Only durations cross
 * the ring boundary, so ring-0 and ring-3 TSC offsets need not agree.
 * Returns the cycles the CPU spent away from ring 3 in stretches longer
 * than STOLEN_GAP_US: the host running something else (this vCPU thread
 * descheduled), as opposed to the guest's own short interrupt handlers.
 * Timing tests use it to scale expectations on a busy host. */
#define STOLEN_GAP_US 500
uint64_t spin_user(uint64_t cycles);
/* Same, but stop early once *p != v; returns true if it changed. */
bool spin_user_while(const volatile uint32_t *p, uint32_t v, uint64_t cycles);
/* The stolen cycles of this CPU's last spin_user/spin_user_while. */
uint64_t spin_user_stolen(void);

#endif
