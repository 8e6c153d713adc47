/* The lapic as a receiver: what other threads do to it (accept a message,
 * change a LINT pin's level, ask whether a message is for it) and what its
 * owner asks of it before an injection (the highest pending vector above
 * the processor priority, INTA, EOI, pending events). Every entry point
 * that other threads call is in this file, which is why everything here
 * that touches the IRR, TMR or the event word takes the lapic's lock and
 * every register it reads that the owner may be rewriting is an atomic
 * load (lapic_priv.h). The registers themselves are decoded in lapic.c. */
#include "irq/lapic_priv.h"

#include "util/log.h"

static void set_bit(uint32_t *v, unsigned n) { v[n >> 5] |= 1u << (n & 31); }
static void clr_bit(uint32_t *v, unsigned n) { v[n >> 5] &= ~(1u << (n & 31)); }
static bool test_bit(const uint32_t *v, unsigned n)
{
	return v[n >> 5] >> (n & 31) & 1;
}

static int highest_bit(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

/* ---- interrupt acceptance (any thread, lock held) ---- */

/* An error is reported through the ESR and, if unmasked, the error LVT. */
static void record_error_locked(struct lapic *l, uint32_t bits)
{
	uint32_t lvt = LD(l->lvt[LVT_ERROR]);

	l->esr_pending |= bits;
	COUNT(l, errors, 1);
	/* An illegal error vector would raise another error: drop it. */
	if (!(lvt & LVT_MASKED) && (lvt & 0xff) >= 16) {
		set_bit(l->irr, lvt & 0xff);
		clr_bit(l->tmr, lvt & 0xff);
	}
}

void lapic_error(struct lapic *l, uint32_t bits)
{
	pthread_mutex_lock(&l->lock);
	record_error_locked(l, bits);
	pthread_mutex_unlock(&l->lock);
}

static bool accept_fixed_locked(struct lapic *l, unsigned vector, bool level)
{
	/* Vectors 0-15 are exceptions and cannot arrive as interrupts. */
	if (vector < 16) {
		record_error_locked(l, ESR_RECV_ILLEGAL);
		return false;
	}
	set_bit(l->irr, vector);
	if (level)
		set_bit(l->tmr, vector);
	else
		clr_bit(l->tmr, vector);
	return true;
}

/* A local source (timer, error, self IPI) on the owner thread: no kick. */
void lapic_local_irq(struct lapic *l, unsigned vector)
{
	pthread_mutex_lock(&l->lock);
	if (accept_fixed_locked(l, vector, false))
		COUNT(l, irqs_accepted, 1);
	pthread_mutex_unlock(&l->lock);
}

static void kick(struct lapic *l)
{
	if (l->ops.kick)
		l->ops.kick(l->opaque);
}

bool lapic_deliver(struct lapic *l, const struct apic_msg *msg)
{
	bool wake = false;

	pthread_mutex_lock(&l->lock);
	if (l->departed) {
		pthread_mutex_unlock(&l->lock);
		return false;
	}
	switch (msg->delivery) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		/* A software-disabled lapic does not accept fixed interrupts
		 * (only NMI, INIT, SIPI); the sender's message is lost. */
		if (!(LD(l->svr) & SVR_ENABLE)) {
			COUNT(l, irqs_dropped, 1);
			break;
		}
		wake = accept_fixed_locked(l, msg->vector, msg->trigger_level);
		if (wake)
			COUNT(l, irqs_accepted, 1);
		break;
	case APIC_DM_NMI:
		l->events |= LAPIC_EV_NMI;
		wake = true;
		break;
	case APIC_DM_INIT:
		/* The level de-assert INIT only synchronised arbitration IDs on
		 * old parts; it does nothing to the target. */
		if (msg->trigger_level && !msg->level)
			break;
		l->events |= LAPIC_EV_INIT;
		wake = true;
		break;
	case APIC_DM_SIPI:
		l->events |= LAPIC_EV_SIPI;
		l->sipi_vector = msg->vector;
		wake = true;
		break;
	case APIC_DM_EXTINT:
		l->events |= LAPIC_EV_EXTINT;
		wake = true;
		break;
	default:
		pr_debug("lapic %u: delivery mode %u ignored", l->cfg.apic_id,
			 msg->delivery);
		break;
	}
	pthread_mutex_unlock(&l->lock);
	if (wake)
		kick(l);
	return true;
}

/* Apply a LINT pin's level through its LVT entry (or the no-APIC wiring). */
bool lapic_lint_apply(struct lapic *l, int pin, uint32_t lvt, int level,
		      bool rising)
{
	bool extint = LVT_DM(lvt) == APIC_DM_EXTINT && !(lvt & LVT_MASKED);
	bool wake = false;

	pthread_mutex_lock(&l->lock);
	/* INTR (on LINT0) is a level: ExtINT is pending while it is high and
	 * the LVT lets it through, and withdrawn as soon as either stops.
	 * The PIC re-asserts after each INTA that leaves a request behind. */
	if (pin == 0 && !(extint && level))
		l->events &= ~LAPIC_EV_EXTINT;
	switch (LVT_DM(lvt)) {
	case APIC_DM_EXTINT:
		if (extint && level) {
			l->events |= LAPIC_EV_EXTINT;
			wake = true;
		}
		break;
	case APIC_DM_NMI:
		if (rising && !(lvt & LVT_MASKED)) {
			l->events |= LAPIC_EV_NMI;
			wake = true;
		}
		break;
	case APIC_DM_INIT:
		if (rising && !(lvt & LVT_MASKED)) {
			l->events |= LAPIC_EV_INIT;
			wake = true;
		}
		break;
	case APIC_DM_FIXED:
		if (lvt & LVT_MASKED || !(LD(l->svr) & SVR_ENABLE))
			break;
		if (lvt & LVT_LEVEL ? level : rising)
			wake = accept_fixed_locked(l, lvt & 0xff,
						   lvt & LVT_LEVEL);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return wake;
}

/* The LVT a LINT pin obeys: while globally disabled the processor behaves
 * as one without APIC, LINT0 being INTR and LINT1 being NMI. */
uint32_t lapic_lint_lvt(struct lapic *l, int pin)
{
	if (cur_mode(l) == MODE_DISABLED)
		return pin ? APIC_DM_NMI << 8 : APIC_DM_EXTINT << 8;
	return LD(l->lvt[LVT_LINT0 + pin]);
}

void lapic_set_lint(struct lapic *l, int pin, int level)
{
	int old;

	if (pin < 0 || pin > 1)
		return;
	level = !!level;
	old = __atomic_exchange_n(&l->lint_level[pin], level, __ATOMIC_RELAXED);
	if (lapic_lint_apply(l, pin, lapic_lint_lvt(l, pin), level, level && !old))
		kick(l);
}

/* ---- destination matching (any thread) ---- */

bool lapic_match(struct lapic *l, const struct apic_msg *msg, int my_index)
{
	enum lapic_mode mode = cur_mode(l);
	uint32_t bcast = msg->x2apic ? 0xffffffffu : 0xffu;
	uint32_t ldr;

	if (mode == MODE_DISABLED)
		return false;
	switch (msg->shorthand) {
	case APIC_SH_SELF:
		return msg->source == my_index;
	case APIC_SH_ALL:
		return true;
	case APIC_SH_OTHERS:
		return msg->source != my_index;
	}
	/* An xAPIC-format 0xff is broadcast to x2APIC targets too (an
	 * IOAPIC or a not yet switched sender talking to switched cpus). */
	if (msg->dest == bcast)
		return true;
	if (!msg->dest_logical)
		return msg->dest == LD(l->id);

	ldr = LD(l->ldr);
	if (mode == MODE_X2APIC)
		return (msg->dest >> 16) == (ldr >> 16) &&
		       (msg->dest & ldr & 0xffff);

	uint8_t mda = msg->dest, lid = ldr >> 24;
	if ((LD(l->dfr) >> 28) == 0xf)		/* flat */
		return mda & lid;
	return (mda >> 4) == (lid >> 4) && (mda & lid & 0xf);	/* cluster */
}

unsigned lapic_arb_priority(struct lapic *l)
{
	if (!(LD(l->svr) & SVR_ENABLE))
		return 0x100;
	return LD(l->tpr) & 0xff;
}

/* ---- priorities (owner) ---- */

static unsigned isrv(struct lapic *l)
{
	int v = highest_bit(l->isr);
	return v < 0 ? 0 : v;
}

uint32_t lapic_ppr(struct lapic *l)
{
	uint32_t tpr = l->tpr & 0xff, isv = isrv(l);

	return (tpr >> 4) >= (isv >> 4) ? tpr : isv & 0xf0;
}

uint32_t lapic_apr(struct lapic *l)
{
	uint32_t tpr = l->tpr & 0xff, isv = isrv(l), irv, m;
	int v;

	pthread_mutex_lock(&l->lock);
	v = highest_bit(l->irr);
	pthread_mutex_unlock(&l->lock);
	irv = v < 0 ? 0 : v;
	if ((tpr >> 4) >= (irv >> 4) && (tpr >> 4) > (isv >> 4))
		return tpr;
	m = tpr > isv ? tpr : isv;
	m = m > irv ? m : irv;
	return m & 0xf0;
}

int lapic_get_interrupt(struct lapic *l)
{
	int v;

	if (cur_mode(l) == MODE_DISABLED || !(l->svr & SVR_ENABLE))
		return -1;
	pthread_mutex_lock(&l->lock);
	v = highest_bit(l->irr);
	pthread_mutex_unlock(&l->lock);
	if (v < 0 || (unsigned)(v & 0xf0) <= (lapic_ppr(l) & 0xf0))
		return -1;
	return v;
}

void lapic_ack(struct lapic *l, int vector)
{
	if (vector < 0 || vector > 255)
		return;
	pthread_mutex_lock(&l->lock);
	clr_bit(l->irr, vector);
	pthread_mutex_unlock(&l->lock);
	set_bit(l->isr, vector);
}

void lapic_eoi(struct lapic *l)
{
	int v = highest_bit(l->isr);
	bool level;

	if (v < 0)
		return;
	clr_bit(l->isr, v);
	COUNT(l, eois, 1);
	pthread_mutex_lock(&l->lock);
	level = test_bit(l->tmr, v);
	pthread_mutex_unlock(&l->lock);
	if (level && l->ops.eoi)
		l->ops.eoi(l->opaque, v);
}

/* ---- paravirtual EOI (lapic.h) ---- */

static bool irr_empty(struct lapic *l)
{
	for (int i = 0; i < 8; i++)
		if (l->irr[i])
			return false;
	return true;
}

void lapic_pv_eoi_enter(struct lapic *l)
{
	int v = highest_bit(l->isr);
	bool ok;

	if (!l->pv_eoi || v < 0)
		return;
	pthread_mutex_lock(&l->lock);
	ok = irr_empty(l) && !test_bit(l->tmr, v);
	pthread_mutex_unlock(&l->lock);
	if (!ok)
		return;
	__atomic_store_n(l->pv_eoi, 1, __ATOMIC_RELAXED);
	l->pv_eoi_set = true;
}

void lapic_pv_eoi_exit(struct lapic *l)
{
	if (!l->pv_eoi_set)
		return;
	l->pv_eoi_set = false;
	/* Still set: the guest has not done that EOI; it will write the
	 * register. Clear: it has; retire the vector it was for. */
	if (__atomic_load_n(l->pv_eoi, __ATOMIC_RELAXED) & 1) {
		__atomic_store_n(l->pv_eoi, 0, __ATOMIC_RELAXED);
		return;
	}
	COUNT(l, pv_eois, 1);
	lapic_eoi(l);
}

/* ---- handing over to the owner ---- */

void lapic_poll(struct lapic *l, uint64_t now_ns, struct lapic_events *ev)
{
	lapic_timer_poll(l, now_ns);
	pthread_mutex_lock(&l->lock);
	ev->flags = l->events;
	ev->sipi_vector = l->sipi_vector;
	l->events = 0;
	pthread_mutex_unlock(&l->lock);
}

bool lapic_has_work(struct lapic *l, uint64_t now_ns)
{
	unsigned events;

	if (lapic_timer_due(l, now_ns))
		return true;
	pthread_mutex_lock(&l->lock);
	events = l->events;
	pthread_mutex_unlock(&l->lock);
	return events || lapic_get_interrupt(l) >= 0;
}
