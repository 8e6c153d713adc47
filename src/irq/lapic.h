/* User-space local APIC, one per vCPU: xAPIC MMIO at 0xFEE00000 and x2APIC
 * MSRs, timer in one-shot, periodic and TSC-deadline modes, fixed, lowest
 * priority, NMI, INIT and SIPI delivery.
 *
 * Threading contract: registers are read and written only by the owning
 * vCPU's thread (lapic_mmio, lapic_msr_*, lapic_poll, lapic_get_interrupt,
 * lapic_ack, lapic_has_work, lapic_reset). lapic_deliver, lapic_match,
 * lapic_set_lint, lapic_arb_priority, lapic_id, lapic_is_x2apic and
 * lapic_stats may be called from any thread (other vCPUs, the IOAPIC, the
 * PIC, the network): they touch the IRR, TMR and pending-event word only
 * under the lapic's own lock, and read the few routing registers (ID, LDR,
 * DFR, mode, TPR, SVR, LVT LINTn) with atomic loads.
 * After lapic_deliver the lapic calls ops->kick so the owner notices. */
#ifndef AMALGAM_IRQ_LAPIC_H
#define AMALGAM_IRQ_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "irq/apic_msg.h"
#include "x86/msr.h"

#define LAPIC_BASE_DEFAULT 0xFEE00000ULL
#define LAPIC_MMIO_SIZE 0x1000

struct lapic;

/* What decides which messages a lapic takes (lapic_match, and lowest
 * priority arbitration): every node keeps it for every vCPU, so that a
 * sender can pick one target among vCPUs on any node. */
struct lapic_route {
	uint64_t apic_base;
	uint32_t id, ldr, dfr, svr;
};

struct lapic_ops {
	/* Something became pending: make the owning vCPU look (signal it out
	 * of KVM_RUN or wake it from halt). Any thread. */
	void (*kick)(void *opaque);
	/* Arm the vCPU's timer for an absolute CLOCK_MONOTONIC deadline in ns;
	 * 0 disarms. Owner thread. When it expires the vCPU calls lapic_poll. */
	void (*arm_timer)(void *opaque, uint64_t deadline_ns);
	/* An ICR write: route this message (the bus). Owner thread. */
	void (*send)(void *opaque, const struct apic_msg *msg);
	/* EOI of a level-triggered vector: tell the IOAPIC. Owner thread. */
	void (*eoi)(void *opaque, uint8_t vector);
	/* Optional time sources, NULL for the real ones (CLOCK_MONOTONIC ns
	 * and the host TSC). Tests set them to drive a synthetic clock; they
	 * must agree with the now_ns given to lapic_poll. Owner thread. */
	uint64_t (*clock_ns)(void *opaque);
	uint64_t (*host_tsc)(void *opaque);
	/* Optional: the guest's TSC as the CPU shows it now (0: unknown).
	 * Preferred over host TSC + offset, which stops being exact when the
	 * host kernel adjusts the offset itself (KVM does on hosts whose TSC
	 * it finds unstable). Owner thread. */
	uint64_t (*guest_tsc)(void *opaque);
	/* Optional: the routing registers changed (ID, LDR, DFR, SVR, APIC
	 * base; by the guest or a reset). Owner thread. */
	void (*route_changed)(void *opaque, const struct lapic_route *r);
	/* Optional: where guest RAM [gpa, gpa + len) is in this process, by
	 * the view the coherence protocol covers (an access may wait for the
	 * page like the guest's own), or NULL if it is not all RAM. Without
	 * it the guest cannot turn on paravirtual EOI. Any thread. */
	void *(*guest_ptr)(void *opaque, uint64_t gpa, unsigned len);
};

struct lapic_config {
	uint32_t apic_id;
	bool bsp;
	uint64_t tsc_khz;	/* guest TSC frequency, for TSC-deadline mode */
	int64_t tsc_offset;	/* guest TSC = host rdtsc + tsc_offset */
	uint32_t timer_hz;	/* APIC timer input clock (bus clock), e.g. 1 GHz;
				 * 0 means 1 GHz */
	int32_t index;		/* vCPU index: apic_msg.source of our IPIs;
				 * apicbus_attach() sets it too */
};

struct lapic *lapic_new(const struct lapic_config *cfg,
			const struct lapic_ops *ops, void *opaque);
void lapic_free(struct lapic *l);

/* Architectural reset (power-on or INIT): registers to reset values. */
void lapic_reset(struct lapic *l, bool init_only);

/* xAPIC MMIO; offset within the 4 KiB page. Returns 0 or -errno. Accesses
 * while in x2APIC mode read as zero / are ignored. */
int lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned len,
	       bool is_write);

/* MSRs handled: IA32_APIC_BASE, IA32_TSC_DEADLINE, 0x800-0x8ff and
 * MSR_KVM_PV_EOI_EN.
 * Return 0, -ENOENT if the MSR is not the lapic's, or -EINVAL if the access
 * must raise #GP (e.g. x2APIC MSR while not in x2APIC mode, reserved). */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val);

/* Does this message target this lapic (destination, mode, shorthand)?
 * my_index is this lapic's vCPU index, compared with msg->source for the
 * SELF and OTHERS shorthands. Any thread. */
bool lapic_match(struct lapic *l, const struct apic_msg *msg, int my_index);

/* Accept a message already matched to this lapic. Any thread. false if
 * the lapic's vCPU has left this node (lapic_depart): the caller must send
 * the message after it. */
bool lapic_deliver(struct lapic *l, const struct apic_msg *msg);

/* Events the vCPU must act on, returned (and cleared) by lapic_poll. */
enum {
	LAPIC_EV_NMI = 1 << 0,
	LAPIC_EV_INIT = 1 << 1,
	LAPIC_EV_SIPI = 1 << 2,
	LAPIC_EV_EXTINT = 1 << 3,	/* ask the PIC for the vector */
};
struct lapic_events {
	unsigned flags;
	uint8_t sipi_vector;
};

/* An edge or level change on LINT0/LINT1 (pin 0 or 1), handled as the
 * LVT LINT entry says (mask, delivery mode). The PIC's INTR output goes to
 * the BSP's LINT0. While the lapic is globally disabled the pins act as on a
 * processor without APIC: LINT0 is INTR (ExtINT), LINT1 is NMI. Any thread. */
void lapic_set_lint(struct lapic *l, int pin, int level);

/* Owner thread: fire an expired timer (now_ns CLOCK_MONOTONIC) and collect
 * pending NMI/INIT/SIPI events. */
void lapic_poll(struct lapic *l, uint64_t now_ns, struct lapic_events *ev);

/* Highest fixed vector deliverable now (above PPR, not masked by software
 * disable), or -1. Owner thread. */
int lapic_get_interrupt(struct lapic *l);
/* The vCPU injected 'vector': IRR -> ISR. Owner thread. */
void lapic_ack(struct lapic *l, int vector);
/* True if anything would wake a halted vCPU (deliverable vector or event). */
bool lapic_has_work(struct lapic *l, uint64_t now_ns);

/* Paravirtual EOI (KVM_FEATURE_PV_EOI, KVM's protocol). Each interrupt
 * costs the guest an EOI write, and with the lapic in user space every
 * such write is an exit to us: with the TSC-deadline write and the kick
 * that brought the interrupt, three a timer tick (in the lab each costs
 * about 150 us of the vCPU's time). The guest names a flag in its memory
 * (MSR_KVM_PV_EOI_EN); while the flag is set it clears it instead of
 * writing the EOI register, and we retire the vector at its next exit.
 *  - lapic_pv_eoi_enter, right before the vCPU enters the guest: sets
 *    the flag when the EOI the guest owes next may be skipped: nothing
 *    waits in the IRR (an EOI then would let it in at once, and no exit
 *    would come to inject it) and the in-service vector is edge-triggered
 *    (a level one's EOI must reach the IOAPIC now);
 *  - lapic_pv_eoi_exit, right after KVM_RUN returns, before anything
 *    looks at the lapic: the guest cleared the flag, so it retired the
 *    vector: so do we; or it did not, and the flag is cleared, so that its
 *    next EOI is a real one (the state between the two calls is the only
 *    one where the flag may be set, so a vCPU that moves carries none).
 * Owner thread. The flag is in the guest's per-CPU data: these calls may
 * wait for that page like any access of the guest's. */
void lapic_pv_eoi_enter(struct lapic *l);
void lapic_pv_eoi_exit(struct lapic *l);

/* CR8 is TPR[7:4]: KVM reports the guest's CR8 in kvm_run->cr8 and takes
 * ours back, since without an in-kernel lapic it keeps no TPR. Owner. */
uint8_t lapic_get_cr8(struct lapic *l);
void lapic_set_cr8(struct lapic *l, uint8_t cr8);

/* Bind the lapic to its vCPU index, the apic_msg.source of its IPIs and
 * what SELF/OTHERS shorthands compare with. apicbus_attach calls it. */
void lapic_set_index(struct lapic *l, int32_t index);

/* The VM's TSC offset changed (a node adopting the cluster's TSC).
 * Owner thread, or before the vCPU runs. */
void lapic_set_tsc_offset(struct lapic *l, int64_t tsc_offset);
uint32_t lapic_id(struct lapic *l);
/* Priority for lowest-priority arbitration: the TPR, or 0x100 when the
 * lapic is software-disabled (it would drop the interrupt). Any thread. */
unsigned lapic_arb_priority(struct lapic *l);
bool lapic_is_x2apic(struct lapic *l);

/* A vCPU moving to another node takes its lapic along as this state.
 * Fixed layout, little-endian: it travels inside the vCPU blob. */
struct lapic_state {
	uint64_t apic_base;
	uint32_t id, ldr, dfr, tpr, svr;
	uint32_t lvt[6];
	uint32_t irr[8], tmr[8], isr[8];
	uint32_t esr, esr_pending, icr_lo, icr_hi, timer_icr, timer_dcr;
	uint32_t events;
	uint8_t sipi_vector;
	uint8_t lint_level[2];
	uint8_t pad[5];
	uint64_t timer_left_ns;		/* one-shot/periodic: time to the next
					 * expiry (hosts' clocks differ), 0 none */
	uint64_t period_ns;
	uint64_t tsc_deadline;		/* guest TSC: one TSC everywhere */
	uint64_t pv_eoi_msr;		/* MSR_KVM_PV_EOI_EN as written */
};

/* Owner thread, vCPU stopped for good here: copy the state out, disarm
 * the timer, and refuse deliveries from now on (lapic_deliver returns
 * false), atomically with respect to them: nothing is accepted after the
 * copy. */
void lapic_depart(struct lapic *l, uint64_t now_ns, struct lapic_state *s);
/* Adopt a moved vCPU's state (its thread not running yet; any thread).
 * Deliveries accepted meanwhile are merged in; deliveries are accepted
 * again. Then, on the owner thread, lapic_resume arms the timer. */
void lapic_arrive(struct lapic *l, uint64_t now_ns, const struct lapic_state *s);
void lapic_resume(struct lapic *l);
/* A vCPU that starts elsewhere: this copy refuses deliveries. Any thread. */
void lapic_set_departed(struct lapic *l, bool departed);
/* The routing registers now. Any thread. */
void lapic_route_get(struct lapic *l, struct lapic_route *r);
/* This node's copy of a vCPU that runs elsewhere takes its routing
 * registers as they are there (its thread not running here; any thread). */
void lapic_route_set(struct lapic *l, const struct lapic_route *r);

struct lapic_stats {
	uint64_t ipis_sent, irqs_accepted, timer_fires, eois;
	uint64_t pv_eois;		/* of eois, by the guest's flag */
	uint64_t timer_coalesced;	/* periodic ticks missed and merged */
	uint64_t irqs_dropped;		/* fixed while software-disabled */
	uint64_t errors;		/* ESR bits raised */
};
void lapic_stats(struct lapic *l, struct lapic_stats *out);

#endif
