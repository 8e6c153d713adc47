/* User-space local APIC (xAPIC and x2APIC): the register file as the guest
 * sees it, through MMIO and the x2APIC MSRs, with the writes that change
 * the mode, reset it, or send an IPI; creation, routing registers and the
 * state a vCPU takes along when it moves. On the owner thread, except
 * what lapic.h says any thread may call: the routing registers of a copy
 * whose vCPU runs elsewhere, and a vCPU's arrival.
 *
 * What a register write sets in motion elsewhere lives in its own file, so
 * that this one stays the decoder: interrupt acceptance, destination
 * matching and priorities in lapic_irq.c (the part other threads call),
 * the timer in lapic_timer.c. The locking rules are with struct lapic in
 * lapic_priv.h. */
#include "irq/lapic_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Offsets in the xAPIC page; the x2APIC MSR of a register is 0x800 + off/16. */
enum {
	REG_ID = 0x20, REG_VER = 0x30, REG_TPR = 0x80, REG_APR = 0x90,
	REG_PPR = 0xa0, REG_EOI = 0xb0, REG_RRD = 0xc0, REG_LDR = 0xd0,
	REG_DFR = 0xe0, REG_SVR = 0xf0, REG_ISR = 0x100, REG_TMR = 0x180,
	REG_IRR = 0x200, REG_ESR = 0x280, REG_ICR = 0x300, REG_ICR2 = 0x310,
	REG_LVT_TIMER = 0x320, REG_LVT_ERROR = 0x370, REG_TIMER_ICR = 0x380,
	REG_TIMER_CCR = 0x390, REG_TIMER_DCR = 0x3e0, REG_SELF_IPI = 0x3f0,
};

/* Writable bits of each LVT entry: delivery status and remote IRR are
 * read-only; the timer has no delivery mode but a 2-bit timer mode. */
static const uint32_t lvt_writable[NR_LVT] = {
	0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff,
};

#define APIC_VERSION	0x00050014u	/* version 0x14, max LVT entry 5 */
#define SVR_WRITABLE	0x3ffu		/* vector, enable, focus disable */
#define BASE_ADDR	0x000ffffffffff000ull
#define BASE_RESERVED	(~(BASE_ADDR | BASE_BSP | BASE_EXTD | BASE_EN))

#define ICR_WRITABLE	0x000ccfffu	/* delivery status is read-only */
#define ICR_X2_RESERVED	0xfff33000ull	/* x2APIC: #GP if any is set */

static uint32_t x2apic_ldr(uint32_t id)
{
	return (id >> 4) << 16 | 1u << (id & 0xf);
}

/* ---- register writes (owner) ---- */

static void write_lvt(struct lapic *l, unsigned idx, uint32_t v)
{
	uint32_t old = l->lvt[idx];

	v &= lvt_writable[idx];
	if (!(l->svr & SVR_ENABLE))
		v |= LVT_MASKED;
	if (idx == LVT_TIMER)
		lapic_timer_lvt_write(l, old, v);
	ST(l->lvt[idx], v);
	if (idx == LVT_LINT0 || idx == LVT_LINT1) {
		/* Unmasking ExtINT with INTR already high makes it pending;
		 * masking it withdraws a pending one. */
		int pin = idx - LVT_LINT0;
		lapic_lint_apply(l, pin, v, LD(l->lint_level[pin]), false);
	}
}

static void write_svr(struct lapic *l, uint32_t v)
{
	v &= SVR_WRITABLE;
	ST(l->svr, v);
	if (v & SVR_ENABLE)
		return;
	/* Software disable masks every LVT, withdrawing a pending ExtINT. */
	for (int i = 0; i < NR_LVT; i++)
		ST(l->lvt[i], l->lvt[i] | LVT_MASKED);
	for (int pin = 0; pin < 2; pin++)
		lapic_lint_apply(l, pin, l->lvt[LVT_LINT0 + pin],
			   LD(l->lint_level[pin]), false);
}

static void send_icr(struct lapic *l, uint32_t lo, uint32_t dest, bool x2)
{
	struct apic_msg m = {
		.dest = dest,
		.source = LD(l->index),
		.vector = lo & 0xff,
		.delivery = (lo >> 8) & 7,
		.dest_logical = (lo >> 11) & 1,
		.shorthand = (lo >> 18) & 3,
		.level = (lo >> 14) & 1,
		.trigger_level = (lo >> 15) & 1,
		.x2apic = x2,
	};

	if ((m.delivery == APIC_DM_FIXED || m.delivery == APIC_DM_LOWEST) &&
	    m.vector < 16) {
		lapic_error(l, ESR_SEND_ILLEGAL);
		return;
	}
	COUNT(l, ipis_sent, 1);
	if (l->ops.send)
		l->ops.send(l->opaque, &m);
}

/* Registers shared by MMIO (x2 false, 32-bit) and MSRs (x2 true). Returns
 * -EINVAL where an x2APIC access must #GP; xAPIC oddities are ignored. */
static int reg_read(struct lapic *l, unsigned off, bool x2, uint64_t *out)
{
	uint32_t v = 0;

	switch (off) {
	case REG_ID:	v = x2 ? l->id : l->id << 24; break;
	case REG_VER:	v = APIC_VERSION; break;
	case REG_TPR:	v = l->tpr; break;
	case REG_PPR:	v = lapic_ppr(l); break;
	case REG_LDR:	v = l->ldr; break;
	case REG_SVR:	v = l->svr; break;
	case REG_ESR:	v = l->esr; break;
	case REG_TIMER_ICR: v = l->timer_icr; break;
	case REG_TIMER_CCR: v = lapic_timer_ccr(l); break;
	case REG_TIMER_DCR: v = l->timer_dcr; break;
	case REG_LVT_TIMER ... REG_LVT_ERROR:
		v = l->lvt[(off - REG_LVT_TIMER) >> 4];
		break;
	case REG_ISR ... REG_ISR + 0x70:
		v = l->isr[(off - REG_ISR) >> 4];
		break;
	case REG_TMR ... REG_TMR + 0x70:
	case REG_IRR ... REG_IRR + 0x70:
		pthread_mutex_lock(&l->lock);
		v = off >= REG_IRR ? l->irr[(off - REG_IRR) >> 4]
				   : l->tmr[(off - REG_TMR) >> 4];
		pthread_mutex_unlock(&l->lock);
		break;
	case REG_ICR:
		if (x2) {
			*out = (uint64_t)l->icr_hi << 32 | l->icr_lo;
			return 0;
		}
		v = l->icr_lo;
		break;
	/* Present in xAPIC only. */
	case REG_APR:	if (x2) return -EINVAL; v = lapic_apr(l); break;
	case REG_DFR:	if (x2) return -EINVAL; v = l->dfr; break;
	case REG_ICR2:	if (x2) return -EINVAL; v = l->icr_hi; break;
	default:
		/* Reserved, write-only (EOI, SELF IPI) or RRD. */
		if (x2)
			return -EINVAL;
		break;
	}
	*out = v;
	return 0;
}

static int reg_write(struct lapic *l, unsigned off, uint64_t val, bool x2)
{
	uint32_t v = val;

	/* Only the ICR has 64 bits; elsewhere the upper half is reserved. */
	if (x2 && off != REG_ICR && val >> 32)
		return -EINVAL;
	switch (off) {
	case REG_TPR:
		ST(l->tpr, v & 0xff);
		break;
	case REG_EOI:
		if (x2 && v)
			return -EINVAL;
		lapic_eoi(l);
		break;
	case REG_SVR:
		write_svr(l, v);
		break;
	case REG_ESR:
		if (x2 && v)
			return -EINVAL;
		pthread_mutex_lock(&l->lock);
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		pthread_mutex_unlock(&l->lock);
		break;
	case REG_ICR:
		if (x2) {
			if (val & ICR_X2_RESERVED)
				return -EINVAL;
			l->icr_lo = val & ICR_WRITABLE;
			l->icr_hi = val >> 32;
			send_icr(l, l->icr_lo, l->icr_hi, true);
		} else {
			l->icr_lo = v & ICR_WRITABLE;
			send_icr(l, l->icr_lo, l->icr_hi >> 24, false);
		}
		break;
	case REG_LVT_TIMER ... REG_LVT_ERROR:
		write_lvt(l, (off - REG_LVT_TIMER) >> 4, v);
		break;
	case REG_TIMER_ICR:
		lapic_timer_write_icr(l, v);
		break;
	case REG_TIMER_DCR:
		lapic_timer_write_dcr(l, v);
		break;
	/* Writable in xAPIC mode only (read-only or absent in x2APIC). */
	case REG_ID:
		if (x2)
			return -EINVAL;
		ST(l->id, v >> 24);
		break;
	case REG_LDR:
		if (x2)
			return -EINVAL;
		ST(l->ldr, v & 0xff000000u);
		break;
	case REG_DFR:
		if (x2)
			return -EINVAL;
		ST(l->dfr, v | 0x0fffffffu);
		break;
	case REG_ICR2:
		if (x2)
			return -EINVAL;
		l->icr_hi = v & 0xff000000u;
		break;
	case REG_SELF_IPI:
		if (!x2)
			break;		/* reserved in xAPIC */
		if (v & ~0xffu)
			return -EINVAL;
		COUNT(l, ipis_sent, 1);
		lapic_local_irq(l, v);
		break;
	default:
		/* Read-only or reserved. */
		if (x2)
			return -EINVAL;
		break;
	}
	return 0;
}

/* ---- reset and mode changes ---- */

/* The register state common to RESET, INIT and the global disable; ID,
 * APIC base and (in x2APIC mode) the derived LDR are the caller's. */
static void reset_regs(struct lapic *l, bool clear_events)
{
	ST(l->tpr, 0);
	ST(l->dfr, 0xffffffffu);
	ST(l->svr, 0xff);
	for (int i = 0; i < NR_LVT; i++)
		ST(l->lvt[i], LVT_MASKED);
	memset(l->isr, 0, sizeof(l->isr));
	l->esr = l->icr_lo = l->icr_hi = 0;
	lapic_timer_reset(l);

	pthread_mutex_lock(&l->lock);
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->esr_pending = 0;
	/* On INIT the vCPU is acting on events it already collected; a SIPI
	 * that arrived meanwhile must survive the reset it triggered. */
	if (clear_events) {
		l->events = 0;
		l->sipi_vector = 0;
	}
	pthread_mutex_unlock(&l->lock);
	/* The LINT pins now obey masked LVTs, or the no-APIC wiring when
	 * globally disabled: re-evaluate what a high INTR means. */
	for (int pin = 0; pin < 2; pin++)
		lapic_lint_apply(l, pin, lapic_lint_lvt(l, pin), LD(l->lint_level[pin]),
			   false);
}

static void route_check(struct lapic *l);

static void reset(struct lapic *l, bool init_only)
{
	if (!init_only) {
		ST(l->apic_base, LAPIC_BASE_DEFAULT | BASE_EN |
				 (l->cfg.bsp ? BASE_BSP : 0));
		/* The xAPIC ID is the low byte of the initial x2APIC ID. */
		ST(l->id, l->cfg.apic_id & 0xff);
	}
	/* INIT keeps the mode and the ID; in x2APIC mode the LDR derives
	 * from the ID and so survives too. */
	ST(l->ldr, cur_mode(l) == MODE_X2APIC ? x2apic_ldr(l->id) : 0);
	reset_regs(l, !init_only);
	/* A processor coming up (Linux's CPU bring-up) names its flag again. */
	l->pv_eoi_msr = 0;
	l->pv_eoi = NULL;
	l->pv_eoi_set = false;
}

void lapic_reset(struct lapic *l, bool init_only)
{
	reset(l, init_only);
	route_check(l);
}

static int write_apic_base(struct lapic *l, uint64_t val)
{
	uint64_t old = l->apic_base;
	enum lapic_mode from = mode_of(old), to = mode_of(val);

	if (val & BASE_RESERVED)
		return -EINVAL;
	/* EN=0 with EXTD=1 is the invalid state; x2APIC may only be left by
	 * disabling, and only entered from xAPIC mode (SDM state diagram). */
	if ((val & BASE_EXTD) && !(val & BASE_EN))
		return -EINVAL;
	if (from == MODE_X2APIC && to == MODE_XAPIC)
		return -EINVAL;
	if (from == MODE_DISABLED && to == MODE_X2APIC)
		return -EINVAL;
	if ((val & BASE_ADDR) != LAPIC_BASE_DEFAULT && !l->warned_base) {
		pr_warn("lapic %u: guest moves the APIC base to %#llx; only "
			"the default %#llx is supported, ignored", l->cfg.apic_id,
			(unsigned long long)(val & BASE_ADDR), LAPIC_BASE_DEFAULT);
		l->warned_base = true;
	}
	/* The BSP flag is the platform's, not the guest's. */
	ST(l->apic_base, LAPIC_BASE_DEFAULT | (old & BASE_BSP) |
			 (val & (BASE_EN | BASE_EXTD)));
	if (from == to)
		return 0;
	if (to == MODE_DISABLED) {
		/* Re-enabling later finds power-up register state. */
		reset_regs(l, false);
		ST(l->ldr, 0);
	} else if (to == MODE_XAPIC) {
		/* Back from disabled: the xAPIC view of the ID. */
		ST(l->id, l->id & 0xff);
	} else {
		ST(l->id, l->cfg.apic_id);
		ST(l->ldr, x2apic_ldr(l->cfg.apic_id));
	}
	return 0;
}

/* ---- public entry points ---- */

struct lapic *lapic_new(const struct lapic_config *cfg,
			const struct lapic_ops *ops, void *opaque)
{
	struct lapic *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cfg = *cfg;
	if (ops)
		l->ops = *ops;
	l->opaque = opaque;
	l->index = cfg->index;
	pthread_mutex_init(&l->lock, NULL);
	reset(l, false);
	lapic_route_get(l, &l->route_last);	/* every node starts alike */
	return l;
}

void lapic_free(struct lapic *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void lapic_route_get(struct lapic *l, struct lapic_route *r)
{
	*r = (struct lapic_route){
		.apic_base = LD(l->apic_base), .id = LD(l->id), .ldr = LD(l->ldr),
		.dfr = LD(l->dfr), .svr = LD(l->svr),
	};
}

void lapic_route_set(struct lapic *l, const struct lapic_route *r)
{
	/* Only the bits a guest can set; the rest is ours. */
	ST(l->apic_base, LAPIC_BASE_DEFAULT | (r->apic_base & (BASE_BSP | BASE_EN | BASE_EXTD)));
	ST(l->id, r->id);
	ST(l->ldr, r->ldr);
	ST(l->dfr, r->dfr | 0x0fffffffu);
	ST(l->svr, r->svr & 0x3ff);
	lapic_route_get(l, &l->route_last);
}

static int lapic_mmio_access(struct lapic *l, uint64_t offset, void *data, unsigned len,
			     bool is_write);

/* After anything that may change the routing registers, on the owner
 * thread: tell the CPU plane if they did. */
static void route_check(struct lapic *l)
{
	struct lapic_route r;

	lapic_route_get(l, &r);
	if (!memcmp(&r, &l->route_last, sizeof(r)))
		return;
	l->route_last = r;
	if (l->ops.route_changed)
		l->ops.route_changed(l->opaque, &r);
}

int lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned len,
	       bool is_write)
{
	int r = lapic_mmio_access(l, offset, data, len, is_write);

	if (is_write)
		route_check(l);
	return r;
}

static int lapic_mmio_access(struct lapic *l, uint64_t offset, void *data, unsigned len,
			     bool is_write)
{
	unsigned reg = offset & ~0xfull, byte = offset & 0xf;
	uint64_t v = 0;
	uint32_t v32;

	if (!len || len > 8 || offset + len > LAPIC_MMIO_SIZE)
		return -EINVAL;
	if (cur_mode(l) != MODE_XAPIC) {
		if (!is_write)
			memset(data, 0, len);
		return 0;
	}
	if (!is_write) {
		/* Registers are 32 bits at 16-byte strides; narrower reads of
		 * them are harmless, the rest of the stride reads as zero. */
		memset(data, 0, len);
		reg_read(l, reg, false, &v);
		if (byte < 4) {
			v32 = (uint32_t)v >> (byte * 8);
			memcpy(data, &v32, len < 4 - byte ? len : 4 - byte);
		}
		return 0;
	}
	/* Anything but an aligned 32-bit write is undefined: drop it. */
	if (byte || len != 4) {
		pr_debug("lapic %u: %u-byte write at %#x dropped",
			 l->cfg.apic_id, len, (unsigned)offset);
		return 0;
	}
	memcpy(&v32, data, 4);
	return reg_write(l, reg, v32, false);
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	switch (msr) {
	case MSR_IA32_APICBASE:
		*val = l->apic_base;
		return 0;
	case MSR_IA32_TSC_DEADLINE:
		*val = lapic_timer_read_tsc_deadline(l);
		return 0;
	case MSR_KVM_PV_EOI_EN:
		*val = l->pv_eoi_msr;
		return 0;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
		return -ENOENT;
	if (cur_mode(l) != MODE_X2APIC)
		return -EINVAL;
	return reg_read(l, (msr - MSR_X2APIC_FIRST) << 4, true, val);
}

static int msr_write(struct lapic *l, uint32_t msr, uint64_t val);

/* Bit 0 turns PV EOI on; the rest is the flag's guest-physical address,
 * 4-byte aligned (as KVM wants), in RAM. Anything else is a #GP and
 * leaves it as it was. */
static uint8_t *pv_eoi_flag(struct lapic *l, uint64_t val)
{
	uint64_t gpa = val & ~1ull;

	if (!(val & 1) || (gpa & 3) || !l->ops.guest_ptr)
		return NULL;
	return l->ops.guest_ptr(l->opaque, gpa, 1);
}

static int write_pv_eoi(struct lapic *l, uint64_t val)
{
	uint8_t *flag = pv_eoi_flag(l, val);

	if ((val & 1) && !flag)
		return -EINVAL;
	l->pv_eoi_msr = val;
	l->pv_eoi = flag;
	l->pv_eoi_set = false;
	return 0;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	int r = msr_write(l, msr, val);

	route_check(l);
	return r;
}

static int msr_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	switch (msr) {
	case MSR_IA32_APICBASE:
		return write_apic_base(l, val);
	case MSR_IA32_TSC_DEADLINE:
		lapic_timer_write_tsc_deadline(l, val);
		return 0;
	case MSR_KVM_PV_EOI_EN:
		return write_pv_eoi(l, val);
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
		return -ENOENT;
	if (cur_mode(l) != MODE_X2APIC)
		return -EINVAL;
	return reg_write(l, (msr - MSR_X2APIC_FIRST) << 4, val, true);
}

uint8_t lapic_get_cr8(struct lapic *l)
{
	return (l->tpr >> 4) & 0xf;
}

void lapic_set_cr8(struct lapic *l, uint8_t cr8)
{
	ST(l->tpr, (uint32_t)(cr8 & 0xf) << 4);
}

void lapic_set_index(struct lapic *l, int32_t index)
{
	ST(l->index, index);
}

uint32_t lapic_id(struct lapic *l)
{
	return LD(l->id);
}

bool lapic_is_x2apic(struct lapic *l)
{
	return cur_mode(l) == MODE_X2APIC;
}

void lapic_stats(struct lapic *l, struct lapic_stats *out)
{
	out->ipis_sent = LD(l->st.ipis_sent);
	out->irqs_accepted = LD(l->st.irqs_accepted);
	out->timer_fires = LD(l->st.timer_fires);
	out->eois = LD(l->st.eois);
	out->pv_eois = LD(l->st.pv_eois);
	out->timer_coalesced = LD(l->st.timer_coalesced);
	out->irqs_dropped = LD(l->st.irqs_dropped);
	out->errors = LD(l->st.errors);
}

/* ---- moving to another node ---- */

void lapic_depart(struct lapic *l, uint64_t now_ns, struct lapic_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&l->lock);
	l->departed = true;
	memcpy(s->irr, l->irr, sizeof(s->irr));
	memcpy(s->tmr, l->tmr, sizeof(s->tmr));
	s->events = l->events;
	s->sipi_vector = l->sipi_vector;
	s->esr_pending = l->esr_pending;
	/* What was pending goes with the vCPU; left here, it would come back
	 * as a second delivery if the vCPU ever returns. */
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->events = 0;
	l->esr_pending = 0;
	pthread_mutex_unlock(&l->lock);
	s->apic_base = LD(l->apic_base);
	s->id = LD(l->id);
	s->ldr = LD(l->ldr);
	s->dfr = LD(l->dfr);
	s->tpr = LD(l->tpr);
	s->svr = LD(l->svr);
	for (int i = 0; i < NR_LVT; i++)
		s->lvt[i] = LD(l->lvt[i]);
	s->lint_level[0] = (uint8_t)LD(l->lint_level[0]);
	s->lint_level[1] = (uint8_t)LD(l->lint_level[1]);
	memcpy(s->isr, l->isr, sizeof(s->isr));
	s->esr = l->esr;
	s->icr_lo = l->icr_lo;
	s->icr_hi = l->icr_hi;
	s->timer_icr = l->timer_icr;
	s->timer_dcr = l->timer_dcr;
	/* Monotonic clocks differ between hosts: the time left travels. */
	if (l->deadline_ns)
		s->timer_left_ns = l->deadline_ns > now_ns ? l->deadline_ns - now_ns : 1;
	s->period_ns = l->period_ns;
	s->tsc_deadline = l->tsc_deadline;
	s->pv_eoi_msr = l->pv_eoi_msr;	/* the flag is clear: lapic.h */
	l->pv_eoi_msr = 0;
	l->pv_eoi = NULL;
	/* This copy stops counting; the vCPU's timer goes with it. */
	l->deadline_ns = 0;
	if (l->armed_ns) {
		l->armed_ns = 0;
		if (l->ops.arm_timer)
			l->ops.arm_timer(l->opaque, 0);
	}
}

void lapic_arrive(struct lapic *l, uint64_t now_ns, const struct lapic_state *s)
{
	ST(l->apic_base, s->apic_base);
	ST(l->id, s->id);
	ST(l->ldr, s->ldr);
	ST(l->dfr, s->dfr);
	ST(l->tpr, s->tpr);
	ST(l->svr, s->svr);
	for (int i = 0; i < NR_LVT; i++)
		ST(l->lvt[i], s->lvt[i]);
	ST(l->lint_level[0], s->lint_level[0]);
	ST(l->lint_level[1], s->lint_level[1]);
	memcpy(l->isr, s->isr, sizeof(l->isr));
	l->esr = s->esr;
	l->icr_lo = s->icr_lo;
	l->icr_hi = s->icr_hi;
	l->timer_icr = s->timer_icr;
	l->timer_dcr = s->timer_dcr;
	l->deadline_ns = s->timer_left_ns ? now_ns + s->timer_left_ns : 0;
	/* The same floor as a period the guest programs here. */
	l->period_ns = s->period_ns && s->period_ns < MIN_PERIOD_NS ? MIN_PERIOD_NS :
		       s->period_ns;
	l->tsc_deadline = s->tsc_deadline;
	/* Valid where it was written; the same RAM here. */
	l->pv_eoi_msr = s->pv_eoi_msr;
	l->pv_eoi = pv_eoi_flag(l, s->pv_eoi_msr);
	if ((s->pv_eoi_msr & 1) && !l->pv_eoi)
		l->pv_eoi_msr = 0;	/* no such RAM here: off */
	l->pv_eoi_set = false;
	l->armed_ns = 0;	/* lapic_resume arms it on the owner thread */
	pthread_mutex_lock(&l->lock);
	/* Whatever reached this copy while the vCPU was away is kept. */
	for (int i = 0; i < 8; i++) {
		l->irr[i] |= s->irr[i];
		l->tmr[i] = (l->tmr[i] & ~s->irr[i]) | s->tmr[i];
	}
	l->events |= s->events;
	if (s->events & LAPIC_EV_SIPI)
		l->sipi_vector = s->sipi_vector;
	l->esr_pending |= s->esr_pending;
	l->departed = false;
	pthread_mutex_unlock(&l->lock);
	/* Every node has these already: they were sent as they changed. */
	lapic_route_get(l, &l->route_last);
}

void lapic_resume(struct lapic *l)
{
	l->armed_ns = 0;
	if (l->deadline_ns && l->ops.arm_timer) {
		l->armed_ns = l->deadline_ns;
		l->ops.arm_timer(l->opaque, l->deadline_ns);
	}
}

void lapic_set_departed(struct lapic *l, bool departed)
{
	pthread_mutex_lock(&l->lock);
	l->departed = departed;
	pthread_mutex_unlock(&l->lock);
}
