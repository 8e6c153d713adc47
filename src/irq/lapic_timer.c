/* The lapic timer: one-shot and periodic counting at timer_hz / divide,
 * and TSC-deadline. Nothing counts: the timer is a deadline in
 * CLOCK_MONOTONIC ns, handed to the vCPU through ops->arm_timer, and the
 * current count is derived from the time left. All on the owner thread. */
#include <time.h>
#include <x86intrin.h>

#include "irq/lapic_priv.h"

#define NSEC_PER_SEC	1000000000ull

uint64_t lapic_clock_now(struct lapic *l)
{
	struct timespec ts;

	if (l->ops.clock_ns)
		return l->ops.clock_ns(l->opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static uint64_t guest_tsc(struct lapic *l)
{
	uint64_t exact = l->ops.guest_tsc ? l->ops.guest_tsc(l->opaque) : 0;
	uint64_t host;

	if (exact)
		return exact;
	host = l->ops.host_tsc ? l->ops.host_tsc(l->opaque) : __rdtsc();
	return host + (uint64_t)l->cfg.tsc_offset;
}

/* Divide configuration bits 3,1,0: 000 is /2 ... 110 is /128, 111 is /1. */
static unsigned divisor(struct lapic *l)
{
	unsigned v = (l->timer_dcr & 3) | ((l->timer_dcr >> 1) & 4);

	return v == 7 ? 1 : 2u << v;
}

static uint64_t timer_hz(struct lapic *l)
{
	return l->cfg.timer_hz ? l->cfg.timer_hz : NSEC_PER_SEC;
}

static uint64_t ticks_to_ns(struct lapic *l, uint64_t ticks)
{
	return (unsigned __int128)ticks * divisor(l) * NSEC_PER_SEC /
	       timer_hz(l);
}

static uint64_t ns_to_ticks(struct lapic *l, uint64_t ns)
{
	return (unsigned __int128)ns * timer_hz(l) /
	       ((uint64_t)divisor(l) * NSEC_PER_SEC);
}

static unsigned mode(struct lapic *l)
{
	return TIMER_MODE(l->lvt[LVT_TIMER]);
}

/* deadline_ns 0 means stopped, so a real deadline is never 0. */
static uint64_t nonzero(uint64_t t)
{
	return t ? t : 1;
}

/* Tell the vCPU when to call lapic_poll next, only when that changed. */
static void sync_timer(struct lapic *l)
{
	if (l->deadline_ns == l->armed_ns)
		return;
	l->armed_ns = l->deadline_ns;
	if (l->ops.arm_timer)
		l->ops.arm_timer(l->opaque, l->deadline_ns);
}

static uint64_t count_period(struct lapic *l)
{
	uint64_t p = ticks_to_ns(l, l->timer_icr);

	if (mode(l) == TIMER_PERIODIC && p < MIN_PERIOD_NS)
		p = MIN_PERIOD_NS;
	return p;
}

void lapic_timer_reset(struct lapic *l)
{
	l->timer_icr = l->timer_dcr = 0;
	l->deadline_ns = l->period_ns = l->tsc_deadline = 0;
	sync_timer(l);
}

/* Writing the initial count (re)starts one-shot and periodic counting;
 * 0 stops it. */
void lapic_timer_write_icr(struct lapic *l, uint32_t count)
{
	if (mode(l) == TIMER_TSC_DEADLINE)
		return;		/* ignored in TSC-deadline mode (SDM) */
	l->timer_icr = count;
	l->deadline_ns = 0;
	if (count) {
		l->period_ns = count_period(l);
		l->deadline_ns = nonzero(lapic_clock_now(l) + l->period_ns);
	}
	sync_timer(l);
}

static uint32_t ccr_at(struct lapic *l, uint64_t now)
{
	uint64_t rem, c;

	if (mode(l) == TIMER_TSC_DEADLINE || !l->deadline_ns)
		return 0;
	if (now < l->deadline_ns)
		rem = l->deadline_ns - now;
	else if (mode(l) == TIMER_PERIODIC)	/* expired, not polled yet */
		rem = l->period_ns - (now - l->deadline_ns) % l->period_ns;
	else
		return 0;
	c = ns_to_ticks(l, rem);
	return c > l->timer_icr ? l->timer_icr : c;
}

uint32_t lapic_timer_ccr(struct lapic *l)
{
	return ccr_at(l, lapic_clock_now(l));
}

/* A divide change while counting keeps the current count and goes on at
 * the new rate. */
void lapic_timer_write_dcr(struct lapic *l, uint32_t dcr)
{
	uint64_t now = lapic_clock_now(l);
	bool running = l->deadline_ns && mode(l) != TIMER_TSC_DEADLINE;
	uint32_t ccr = running ? ccr_at(l, now) : 0;

	l->timer_dcr = dcr & 0xb;
	if (!running)
		return;
	l->period_ns = count_period(l);
	l->deadline_ns = nonzero(now + ticks_to_ns(l, ccr));
	sync_timer(l);
}

void lapic_timer_lvt_write(struct lapic *l, uint32_t old, uint32_t new)
{
	/* A timer mode change disarms the timer (SDM). */
	if (TIMER_MODE(old) == TIMER_MODE(new))
		return;
	l->deadline_ns = 0;
	l->tsc_deadline = 0;
	sync_timer(l);
}

uint64_t lapic_timer_read_tsc_deadline(struct lapic *l)
{
	return mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
}

void lapic_timer_write_tsc_deadline(struct lapic *l, uint64_t val)
{
	uint64_t now, gtsc, ns = 0;

	if (mode(l) != TIMER_TSC_DEADLINE)
		return;		/* ignored outside TSC-deadline mode (SDM) */
	l->tsc_deadline = val;
	l->deadline_ns = 0;
	if (val) {
		/* Sample both clocks back to back and convert the distance:
		 * ns = ticks * 1e6 / tsc_khz. The guest's TSC first: reading it
		 * may be an ioctl, and the thread can be descheduled in
		 * between. Sampled this way round, such a gap makes the
		 * interrupt late by the gap; the other way round it made it
		 * early, which a guest may rightly treat as a bug (seen in CI
		 * on a busy host). A deadline already passed fires at the
		 * next poll. */
		gtsc = guest_tsc(l);
		now = lapic_clock_now(l);
		if (val > gtsc && l->cfg.tsc_khz)	/* rounded up */
			ns = ((unsigned __int128)(val - gtsc) * 1000000 +
			      l->cfg.tsc_khz - 1) / l->cfg.tsc_khz;
		l->deadline_ns = nonzero(now + ns);
	}
	sync_timer(l);
}

bool lapic_timer_due(struct lapic *l, uint64_t now_ns)
{
	return l->deadline_ns && now_ns >= l->deadline_ns;
}

void lapic_timer_poll(struct lapic *l, uint64_t now_ns)
{
	uint32_t lvt = l->lvt[LVT_TIMER];
	uint64_t missed;

	if (!lapic_timer_due(l, now_ns))
		return;
	if (TIMER_MODE(lvt) == TIMER_PERIODIC && l->period_ns) {
		/* The next tick follows the previous deadline, not now_ns, so
		 * late polls never accumulate drift; ticks missed while the
		 * vCPU was away are merged into this one rather than replayed
		 * as a burst. */
		missed = (now_ns - l->deadline_ns) / l->period_ns;
		if (missed)
			COUNT(l, timer_coalesced, missed);
		l->deadline_ns += (missed + 1) * l->period_ns;
	} else {
		l->deadline_ns = 0;
		l->tsc_deadline = 0;
	}
	/* A masked timer still expires; it just raises nothing. */
	if (!(lvt & LVT_MASKED)) {
		lapic_local_irq(l, lvt & 0xff);
		COUNT(l, timer_fires, 1);
	}
	sync_timer(l);
}

void lapic_set_tsc_offset(struct lapic *l, int64_t tsc_offset)
{
	l->cfg.tsc_offset = tsc_offset;
}
