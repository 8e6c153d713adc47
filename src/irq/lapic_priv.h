/* Private to the lapic's three files: lapic.c (registers, MMIO and MSR
 * decoding, reset, moves), lapic_irq.c (acceptance, matching, priorities)
 * and lapic_timer.c. The lapic's state, the register bits more than one of
 * them needs, and the few calls between them. Nothing outside src/irq
 * includes this. */
#ifndef AMALGAM_IRQ_LAPIC_PRIV_H
#define AMALGAM_IRQ_LAPIC_PRIV_H

#include <pthread.h>

#include "irq/lapic.h"

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
       NR_LVT };

#define LVT_MASKED	(1u << 16)
#define LVT_LEVEL	(1u << 15)
#define LVT_DM(v)	(((v) >> 8) & 7)

#define SVR_ENABLE	(1u << 8)

#define BASE_BSP	(1ull << 8)
#define BASE_EXTD	(1ull << 10)
#define BASE_EN		(1ull << 11)

#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)

/* Periodic timers faster than this are clamped: a guest programming a tiny
 * period would otherwise keep its vCPU busy taking timer exits only. */
#define MIN_PERIOD_NS	100000ull
#define TIMER_MODE(v)	(((v) >> 17) & 3)
enum { TIMER_ONESHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE };

/* Locking: 'lock' guards irr, tmr, events, sipi_vector and esr_pending,
 * the state that other threads change when they deliver. Everything else
 * belongs to the owning vCPU thread. The registers other threads read to
 * route a message or act on a LINT pin (apic_base, id, ldr, dfr, tpr, svr,
 * lvt[]) are stored by the owner and loaded by others with relaxed atomics
 * (LD/ST): a message racing a reprogramming sees the old or the new value,
 * as on hardware. No callback is ever made with the lock held. */
struct lapic {
	struct lapic_config cfg;
	struct lapic_ops ops;
	void *opaque;

	pthread_mutex_t lock;
	uint32_t irr[8], tmr[8];	/* under lock */
	unsigned events;		/* under lock: LAPIC_EV_* */
	uint8_t sipi_vector;		/* under lock */
	uint32_t esr_pending;		/* under lock: errors since ESR write */
	bool departed;			/* under lock: the vCPU runs elsewhere */

	int32_t index;			/* atomic: set by apicbus_attach */

	/* Owner writes, others load atomically. */
	uint64_t apic_base;
	uint32_t id, ldr, dfr, tpr, svr;
	uint32_t lvt[NR_LVT];
	int lint_level[2];		/* last level seen on LINT0/1 */

	/* Owner only. */
	uint32_t isr[8];
	uint32_t esr, icr_lo, icr_hi;
	uint32_t timer_icr, timer_dcr;
	uint64_t deadline_ns;		/* next expiry, 0 when not running */
	uint64_t period_ns;
	uint64_t tsc_deadline;		/* IA32_TSC_DEADLINE as written */
	uint64_t armed_ns;		/* last deadline given to arm_timer */
	bool warned_base;
	struct lapic_route route_last;	/* as last told to route_changed */
	uint64_t pv_eoi_msr;		/* MSR_KVM_PV_EOI_EN as written */
	uint8_t *pv_eoi;		/* the guest's flag, NULL: PV EOI off */
	bool pv_eoi_set;		/* we set it before the vCPU entered */

	struct lapic_stats st;		/* relaxed atomic counters */
};

#define LD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define COUNT(l, f, n)	__atomic_fetch_add(&(l)->st.f, (n), __ATOMIC_RELAXED)

enum lapic_mode { MODE_DISABLED, MODE_XAPIC, MODE_X2APIC };

static inline enum lapic_mode mode_of(uint64_t base)
{
	if (!(base & BASE_EN))
		return MODE_DISABLED;
	return base & BASE_EXTD ? MODE_X2APIC : MODE_XAPIC;
}

/* Any thread: the base is loaded atomically. */
static inline enum lapic_mode cur_mode(struct lapic *l)
{
	return mode_of(LD(l->apic_base));
}

/* lapic_irq.c: what the register writes in lapic.c set in motion.
 *
 * Raise a local (edge) interrupt from the owner thread: timer, self IPI. */
void lapic_local_irq(struct lapic *l, unsigned vector);
/* Record an error in the ESR (and raise the error LVT); takes the lock. */
void lapic_error(struct lapic *l, uint32_t bits);
/* The LVT a LINT pin obeys now (the no-APIC wiring while disabled). */
uint32_t lapic_lint_lvt(struct lapic *l, int pin);
/* Re-evaluate a LINT pin at level through lvt; rising: it just went high.
 * Takes the lock; returns whether the owner needs a kick. */
bool lapic_lint_apply(struct lapic *l, int pin, uint32_t lvt, int level,
		      bool rising);
/* Processor and arbitration priority (PPR, APR), owner thread. */
uint32_t lapic_ppr(struct lapic *l);
uint32_t lapic_apr(struct lapic *l);
/* The guest's EOI: retire the highest in-service vector, owner thread. */
void lapic_eoi(struct lapic *l);

/* lapic_timer.c, all on the owner thread. */
uint64_t lapic_clock_now(struct lapic *l);
void lapic_timer_reset(struct lapic *l);
void lapic_timer_write_icr(struct lapic *l, uint32_t count);
void lapic_timer_write_dcr(struct lapic *l, uint32_t dcr);
uint32_t lapic_timer_ccr(struct lapic *l);
/* The LVT timer entry is about to change from old to new. */
void lapic_timer_lvt_write(struct lapic *l, uint32_t old, uint32_t new);
uint64_t lapic_timer_read_tsc_deadline(struct lapic *l);
void lapic_timer_write_tsc_deadline(struct lapic *l, uint64_t val);
bool lapic_timer_due(struct lapic *l, uint64_t now_ns);
/* Fire the timer if due at now_ns and re-arm it. */
void lapic_timer_poll(struct lapic *l, uint64_t now_ns);

#endif
