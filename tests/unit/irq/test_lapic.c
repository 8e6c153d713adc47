/* Unit tests for the user-space lapic: registers, x2APIC MSRs, matching,
 * priorities, EOI, LINT pins and the timer under a synthetic clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "irq/lapic.h"

/* ---- fake vCPU around one lapic ---- */

struct env {
	struct lapic *l;
	uint64_t now, host_tsc;
	uint64_t armed;
	int arms, kicks, nsent, neoi;
	struct apic_msg sent[8];
	uint8_t eoi[8];
};
static struct env E;

static void op_kick(void *o) { ((struct env *)o)->kicks++; }
static void op_arm(void *o, uint64_t d)
{
	struct env *e = o;
	e->armed = d;
	e->arms++;
}
static void op_send(void *o, const struct apic_msg *m)
{
	struct env *e = o;
	if (e->nsent < 8)
		e->sent[e->nsent] = *m;
	e->nsent++;
}
static void op_eoi(void *o, uint8_t v)
{
	struct env *e = o;
	if (e->neoi < 8)
		e->eoi[e->neoi] = v;
	e->neoi++;
}
static uint64_t op_clock(void *o) { return ((struct env *)o)->now; }
/* Guest RAM, for PV EOI's flag: 64 bytes at gpa 0x1000. */
static uint8_t ram[64];
static void *op_guest_ptr(void *o, uint64_t gpa, unsigned len)
{
	(void)o;
	return gpa >= 0x1000 && gpa + len <= 0x1000 + sizeof(ram) ? ram + (gpa - 0x1000) : NULL;
}
static uint64_t op_tsc(void *o) { return ((struct env *)o)->host_tsc; }

static const struct lapic_ops ops = {
	.kick = op_kick, .arm_timer = op_arm, .send = op_send, .eoi = op_eoi,
	.clock_ns = op_clock, .host_tsc = op_tsc, .guest_ptr = op_guest_ptr,
};

#define TSC_KHZ 2000000		/* 2 GHz */
#define TSC_OFFSET 1000

static struct lapic *make(uint32_t id, bool bsp)
{
	struct lapic_config cfg = {
		.apic_id = id, .bsp = bsp, .tsc_khz = TSC_KHZ,
		.tsc_offset = TSC_OFFSET, .timer_hz = 1000000000, .index = 0,
	};
	return lapic_new(&cfg, &ops, &E);
}

static int setup(void **state)
{
	memset(&E, 0, sizeof(E));
	E.now = 1000000000ull;
	E.host_tsc = 5000000000ull;
	E.l = make(3, true);
	return E.l ? 0 : -1;
}

static int teardown(void **state)
{
	lapic_free(E.l);
	return 0;
}

static uint32_t rd(uint32_t off)
{
	uint32_t v = 0xdeadbeef;
	assert_int_equal(lapic_mmio(E.l, off, &v, 4, false), 0);
	return v;
}

static void wr(uint32_t off, uint32_t v)
{
	assert_int_equal(lapic_mmio(E.l, off, &v, 4, true), 0);
}

static uint64_t msr(uint32_t idx)
{
	uint64_t v = 0;
	assert_int_equal(lapic_msr_read(E.l, idx, &v), 0);
	return v;
}

static void enable_sw(void) { wr(0xf0, 0x1ff); }

static void to_x2apic(void)
{
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 LAPIC_BASE_DEFAULT | 0xd00), 0);
	assert_true(lapic_is_x2apic(E.l));
}

static struct apic_msg fixed(uint8_t vector, bool level)
{
	return (struct apic_msg){ .vector = vector, .delivery = APIC_DM_FIXED,
				  .trigger_level = level, .level = 1,
				  .source = -1 };
}

/* ---- registers ---- */

static void test_reset_values(void **state)
{
	assert_int_equal(rd(0x20), 3u << 24);
	assert_int_equal(rd(0x30), 0x50014);
	assert_int_equal(rd(0xf0), 0xff);
	assert_int_equal(rd(0xe0), 0xffffffff);
	for (uint32_t off = 0x320; off <= 0x370; off += 0x10)
		assert_int_equal(rd(off), 0x10000);
	assert_int_equal(msr(MSR_IA32_APICBASE), 0xfee00900);
	assert_false(lapic_is_x2apic(E.l));
	assert_int_equal(lapic_id(E.l), 3);
}

static void test_register_masks(void **state)
{
	wr(0x80, 0x1234);
	assert_int_equal(rd(0x80), 0x34);
	wr(0xd0, 0x12345678);
	assert_int_equal(rd(0xd0), 0x12000000);
	wr(0xe0, 0x01234567);
	assert_int_equal(rd(0xe0), 0x0fffffff);
	wr(0x310, 0xffffffff);
	assert_int_equal(rd(0x310), 0xff000000);
	/* Read-only registers ignore writes. */
	wr(0x30, 0);
	assert_int_equal(rd(0x30), 0x50014);
	/* Software-disabled: LVT writes keep the mask bit. */
	wr(0x350, 0x700);
	assert_int_equal(rd(0x350), 0x10700);
	enable_sw();
	wr(0x350, 0x700);
	assert_int_equal(rd(0x350), 0x700);
	/* Remote IRR and delivery status are read-only. */
	wr(0x360, 0x5400 | 0x1000 | 0x4000);
	assert_int_equal(rd(0x360), 0x400);
	wr(0x320, 0xffffffff);
	assert_int_equal(rd(0x320), 0x700ff);
	/* Disabling again masks every LVT. */
	wr(0xf0, 0xff);
	assert_int_equal(rd(0x350), 0x10700);
	/* Narrow read of the ID's top byte. */
	uint8_t b = 0;
	assert_int_equal(lapic_mmio(E.l, 0x23, &b, 1, false), 0);
	assert_int_equal(b, 3);
}

static void test_priorities(void **state)
{
	struct apic_msg m;

	enable_sw();
	m = fixed(0x51, false);
	lapic_deliver(E.l, &m);
	assert_int_equal(E.kicks, 1);
	assert_int_equal(rd(0x200 + 0x20), 1u << (0x51 - 0x40));
	wr(0x80, 0x50);		/* same class as the vector: blocked */
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	assert_int_equal(rd(0x90), 0x50);	/* APR: TPR holds */
	wr(0x80, 0x4f);
	assert_int_equal(lapic_get_interrupt(E.l), 0x51);
	lapic_ack(E.l, 0x51);
	assert_int_equal(rd(0x100 + 0x20), 1u << (0x51 - 0x40));
	assert_int_equal(rd(0x200 + 0x20), 0);
	assert_int_equal(rd(0xa0), 0x50);	/* PPR = ISRV class */
	m = fixed(0x5f, false);
	lapic_deliver(E.l, &m);
	assert_int_equal(lapic_get_interrupt(E.l), -1);	/* same class */
	assert_int_equal(rd(0x90), 0x50);
	m = fixed(0x61, false);
	lapic_deliver(E.l, &m);
	assert_int_equal(lapic_get_interrupt(E.l), 0x61);
	assert_int_equal(rd(0x90), 0x60);	/* APR = IRRV class */
	wr(0x80, 0x70);
	assert_int_equal(rd(0xa0), 0x70);
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	/* CR8 is the TPR's priority class. */
	assert_int_equal(lapic_get_cr8(E.l), 7);
	lapic_set_cr8(E.l, 2);
	assert_int_equal(rd(0x80), 0x20);
	assert_int_equal(lapic_get_interrupt(E.l), 0x61);
}

static void test_eoi(void **state)
{
	struct apic_msg m;

	enable_sw();
	m = fixed(0x40, true);
	lapic_deliver(E.l, &m);
	assert_int_equal(rd(0x180 + 0x20), 1);	/* TMR bit of 0x40 */
	lapic_ack(E.l, lapic_get_interrupt(E.l));	/* 0x40 */
	m = fixed(0x80, false);
	lapic_deliver(E.l, &m);
	assert_int_equal(lapic_get_interrupt(E.l), 0x80);
	lapic_ack(E.l, 0x80);			/* nests above 0x40 */
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	wr(0xb0, 0);		/* EOIs the highest: 0x80, edge */
	assert_int_equal(E.neoi, 0);
	assert_int_equal(rd(0x100 + 0x40), 0);
	wr(0xb0, 0);		/* 0x40, level: tell the IOAPIC */
	assert_int_equal(E.neoi, 1);
	assert_int_equal(E.eoi[0], 0x40);
	wr(0xb0, 0);		/* nothing in service: no-op */
	struct lapic_stats st;
	lapic_stats(E.l, &st);
	assert_int_equal(st.eois, 2);
	assert_int_equal(st.irqs_accepted, 2);
}

static void test_sw_disabled_accepts_only_events(void **state)
{
	struct apic_msg m = fixed(0x40, false);
	struct lapic_events ev;

	lapic_deliver(E.l, &m);
	assert_int_equal(rd(0x200 + 0x20), 0);
	m.delivery = APIC_DM_NMI;
	lapic_deliver(E.l, &m);
	m.delivery = APIC_DM_INIT;
	m.trigger_level = 1;
	m.level = 0;		/* de-assert: ignored */
	lapic_deliver(E.l, &m);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_NMI);
	m.level = 1;
	lapic_deliver(E.l, &m);
	m.delivery = APIC_DM_SIPI;
	m.vector = 0x9a;
	lapic_deliver(E.l, &m);
	assert_true(lapic_has_work(E.l, E.now));
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_INIT | LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x9a);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, 0);
	assert_false(lapic_has_work(E.l, E.now));
	struct lapic_stats st;
	lapic_stats(E.l, &st);
	assert_int_equal(st.irqs_dropped, 1);
}

static void test_icr_send_and_esr(void **state)
{
	enable_sw();
	wr(0x310, 0x07000000);
	wr(0x300, 0x000c4831);	/* others, logical, assert, fixed 0x31 */
	assert_int_equal(E.nsent, 1);
	assert_int_equal(E.sent[0].dest, 7);
	assert_int_equal(E.sent[0].vector, 0x31);
	assert_int_equal(E.sent[0].delivery, APIC_DM_FIXED);
	assert_int_equal(E.sent[0].dest_logical, 1);
	assert_int_equal(E.sent[0].shorthand, APIC_SH_OTHERS);
	assert_int_equal(E.sent[0].level, 1);
	assert_int_equal(E.sent[0].source, 0);
	assert_false(E.sent[0].x2apic);
	assert_int_equal(rd(0x300), 0x000c4831);
	wr(0x300, 0x00008500);	/* INIT level de-assert goes out too */
	assert_int_equal(E.nsent, 2);
	assert_int_equal(E.sent[1].delivery, APIC_DM_INIT);
	assert_int_equal(E.sent[1].trigger_level, 1);
	assert_int_equal(E.sent[1].level, 0);
	/* A fixed IPI with vector < 16 is a send error, not a message. */
	wr(0x300, 0x00000005);
	assert_int_equal(E.nsent, 2);
	assert_int_equal(rd(0x280), 0);		/* not latched until written */
	wr(0x280, 0);
	assert_int_equal(rd(0x280), 0x20);
	wr(0x280, 0);
	assert_int_equal(rd(0x280), 0);
	/* Receiving an illegal vector, with the error LVT unmasked. */
	wr(0x370, 0xee);
	struct apic_msg m = fixed(3, false);
	lapic_deliver(E.l, &m);
	wr(0x280, 0);
	assert_int_equal(rd(0x280), 0x40);
	assert_int_equal(lapic_get_interrupt(E.l), 0xee);
}

/* ---- x2APIC ---- */

static void test_x2apic_msrs(void **state)
{
	uint64_t v;

	lapic_free(E.l);
	E.l = make(0x123, false);
	/* Not in x2APIC mode yet: #GP, and the lapic's MSR range only. */
	assert_int_equal(lapic_msr_read(E.l, 0x802, &v), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x10, &v), -ENOENT);
	assert_int_equal(rd(0x20), 0x23u << 24);	/* low byte in xAPIC */
	to_x2apic();
	assert_int_equal(msr(MSR_IA32_APICBASE), 0xfee00c00);
	assert_int_equal(msr(0x802), 0x123);
	assert_int_equal(msr(0x803), 0x50014);
	assert_int_equal(msr(0x80d), (0x12u << 16) | (1u << 3));
	/* Read-only, absent and write-only registers #GP. */
	assert_int_equal(lapic_msr_write(E.l, 0x802, 1), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x80d, 1), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x80e, &v), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x809, &v), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x831, &v), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x80b, &v), -EINVAL);
	assert_int_equal(lapic_msr_read(E.l, 0x83f, &v), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x80b, 1), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x828, 1), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x808, 1ull << 32), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x83f, 0x100), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, 0x82f, 0), -EINVAL);
	/* The xAPIC page is dead in x2APIC mode. */
	assert_int_equal(rd(0x20), 0);
	wr(0x80, 0x20);
	assert_int_equal(msr(0x808), 0);
	/* Plain registers work. */
	assert_int_equal(lapic_msr_write(E.l, 0x808, 0x20), 0);
	assert_int_equal(msr(0x808), 0x20);
	assert_int_equal(lapic_msr_write(E.l, 0x80f, 0x1ff), 0);
	assert_int_equal(lapic_msr_write(E.l, 0x80b, 0), 0);
	/* ICR: one 64-bit write sends. */
	assert_int_equal(lapic_msr_write(E.l, 0x830,
					 0x0000123400000000ull | 0x4fd), 0);
	assert_int_equal(E.nsent, 1);
	assert_int_equal(E.sent[0].dest, 0x1234);
	assert_int_equal(E.sent[0].vector, 0xfd);
	assert_int_equal(E.sent[0].delivery, APIC_DM_NMI);
	assert_true(E.sent[0].x2apic);
	assert_int_equal(msr(0x830), 0x00001234000004fdull);
	assert_int_equal(lapic_msr_write(E.l, 0x830, 1ull << 13), -EINVAL);
	assert_int_equal(E.nsent, 1);
	/* SELF IPI lands in our own IRR. */
	assert_int_equal(lapic_msr_write(E.l, 0x83f, 0x99), 0);
	assert_int_equal(msr(0x824), 1u << (0x99 - 0x80));
	assert_int_equal(lapic_get_interrupt(E.l), 0x99);
}

static void test_apic_base_transitions(void **state)
{
	uint64_t base = LAPIC_BASE_DEFAULT | 0x100;

	/* EN=0, EXTD=1 is invalid; reserved bits #GP. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 base | 0x400), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 base | 0x800 | 0x200), -EINVAL);
	to_x2apic();
	/* x2APIC -> xAPIC directly is illegal. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 base | 0x800), -EINVAL);
	/* x2APIC -> disabled is fine, disabled -> x2APIC is not. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE, base), 0);
	assert_int_equal(msr(MSR_IA32_APICBASE), base);
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 base | 0xc00), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 base | 0x800), 0);
	assert_int_equal(rd(0xf0), 0xff);
	/* A move of the base is ignored (logged). BSP is not writable. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 0xfed00800ull), 0);
	assert_int_equal(msr(MSR_IA32_APICBASE), 0xfee00900);
	/* INIT keeps the mode and ID, resets the rest. */
	to_x2apic();
	assert_int_equal(lapic_msr_write(E.l, 0x808, 0x30), 0);
	lapic_reset(E.l, true);
	assert_true(lapic_is_x2apic(E.l));
	assert_int_equal(msr(0x808), 0);
	assert_int_equal(msr(0x802), 3);
	assert_int_equal(msr(0x80d), 1u << 3);
}

/* ---- destination matching ---- */

static bool match(uint32_t dest, bool logical, bool x2, unsigned sh,
		  int source)
{
	struct apic_msg m = {
		.dest = dest, .dest_logical = logical, .x2apic = x2,
		.shorthand = sh, .source = source,
	};
	return lapic_match(E.l, &m, 2);
}

static void test_match_xapic(void **state)
{
	/* Physical: own ID or broadcast. */
	assert_true(match(3, false, false, 0, -1));
	assert_false(match(4, false, false, 0, -1));
	assert_true(match(0xff, false, false, 0, -1));
	/* Flat logical. */
	wr(0xd0, 0x24000000);
	assert_true(match(0x04, true, false, 0, -1));
	assert_true(match(0x21, true, false, 0, -1));
	assert_false(match(0x42, true, false, 0, -1));
	assert_true(match(0xff, true, false, 0, -1));
	/* Cluster logical: cluster 2, member bit 2. */
	wr(0xe0, 0x0fffffff);
	assert_true(match(0x24, true, false, 0, -1));
	assert_true(match(0x2f, true, false, 0, -1));
	assert_false(match(0x22, true, false, 0, -1));
	assert_false(match(0x34, true, false, 0, -1));
	/* Shorthands are about the sender, whatever the destination. */
	assert_true(match(0, false, false, APIC_SH_SELF, 2));
	assert_false(match(3, false, false, APIC_SH_SELF, 1));
	assert_true(match(0, false, false, APIC_SH_ALL, 2));
	assert_true(match(0, false, false, APIC_SH_OTHERS, 1));
	assert_false(match(3, false, false, APIC_SH_OTHERS, 2));
	/* A globally disabled lapic is off the bus. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 LAPIC_BASE_DEFAULT | 0x100), 0);
	assert_false(match(0xff, false, false, 0, -1));
	assert_false(match(0, false, false, APIC_SH_ALL, 1));
}

static void test_match_x2apic(void **state)
{
	lapic_free(E.l);
	E.l = make(0x35, false);	/* cluster 3, bit 5 */
	to_x2apic();
	assert_true(match(0x35, false, true, 0, -1));
	assert_false(match(0x36, false, true, 0, -1));
	assert_true(match(0xffffffff, false, true, 0, -1));
	assert_false(match(0xff, false, true, 0, -1));
	assert_true(match(0xff, false, false, 0, -1));	/* xAPIC broadcast */
	assert_true(match(0x30020, true, true, 0, -1));
	assert_true(match(0x3ffff, true, true, 0, -1));
	assert_false(match(0x30010, true, true, 0, -1));
	assert_false(match(0x20020, true, true, 0, -1));
	assert_true(match(0xffffffff, true, true, 0, -1));
}

/* ---- LINT pins ---- */

static void test_lint(void **state)
{
	struct lapic_events ev;

	enable_sw();
	/* Masked ExtINT: INTR high is remembered, not acted on. */
	wr(0x350, 0x10700);
	lapic_set_lint(E.l, 0, 1);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, 0);
	/* Unmasking with INTR high makes it pending. */
	wr(0x350, 0x700);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_EXTINT);
	/* Each assert re-arms it; a de-assert withdraws it. */
	lapic_set_lint(E.l, 0, 1);
	lapic_set_lint(E.l, 0, 0);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, 0);
	/* LINT1 as NMI fires on the rising edge only. */
	wr(0x360, 0x400);
	lapic_set_lint(E.l, 1, 1);
	lapic_set_lint(E.l, 1, 1);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_NMI);
	lapic_set_lint(E.l, 1, 0);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, 0);
	/* Fixed edge on LINT0. */
	wr(0x350, 0x00045);
	lapic_set_lint(E.l, 0, 0);
	lapic_set_lint(E.l, 0, 1);
	assert_int_equal(lapic_get_interrupt(E.l), 0x45);
	/* Globally disabled: LINT0 is plain INTR. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_APICBASE,
					 LAPIC_BASE_DEFAULT | 0x100), 0);
	lapic_set_lint(E.l, 0, 0);
	lapic_set_lint(E.l, 0, 1);
	lapic_poll(E.l, E.now, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_EXTINT);
}

static void test_init_keeps_late_sipi(void **state)
{
	struct lapic_events ev;
	struct apic_msg m = { .delivery = APIC_DM_SIPI, .vector = 0x10 };

	enable_sw();
	wr(0x350, 0x700);
	lapic_set_lint(E.l, 0, 1);
	/* The vCPU handles INIT while a SIPI is already on its way. */
	lapic_deliver(E.l, &m);
	lapic_reset(E.l, true);
	assert_int_equal(rd(0xf0), 0xff);
	lapic_poll(E.l, E.now, &ev);
	/* The SIPI survives; the ExtINT went with the masked LINT0. */
	assert_int_equal(ev.flags, LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x10);
}

/* ---- timer ---- */

static void poll_at(uint64_t t, struct lapic_events *ev)
{
	E.now = t;
	lapic_poll(E.l, t, ev);
}

static void test_timer_oneshot(void **state)
{
	struct lapic_events ev;
	uint64_t t0 = E.now;

	enable_sw();
	wr(0x3e0, 0xb);			/* divide by 1: 1 tick = 1 ns */
	wr(0x320, 0x30);		/* one-shot, vector 0x30 */
	wr(0x380, 1000);
	assert_int_equal(E.armed, t0 + 1000);
	E.now = t0 + 400;
	assert_int_equal(rd(0x390), 600);
	poll_at(t0 + 999, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	assert_false(lapic_has_work(E.l, t0 + 999));
	assert_true(lapic_has_work(E.l, t0 + 1000));
	poll_at(t0 + 1000, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), 0x30);
	assert_int_equal(E.armed, 0);
	assert_int_equal(rd(0x390), 0);
	assert_int_equal(rd(0x380), 1000);
	/* Divide by 2 doubles the time; writing 0 stops. */
	wr(0x3e0, 0x0);
	wr(0x380, 100);
	assert_int_equal(E.armed, E.now + 200);
	wr(0x380, 0);
	assert_int_equal(E.armed, 0);
	/* Divide change mid-count keeps the count, changes the rate. */
	wr(0x3e0, 0xb);
	wr(0x380, 1000);
	E.now += 500;
	wr(0x3e0, 0x1);			/* divide by 4 */
	assert_int_equal(rd(0x390), 500);
	assert_int_equal(E.armed, E.now + 2000);
	struct lapic_stats st;
	lapic_stats(E.l, &st);
	assert_int_equal(st.timer_fires, 1);
}

static void test_timer_periodic(void **state)
{
	const uint64_t p = 1000000;	/* 1 ms */
	struct lapic_events ev;
	struct lapic_stats st;
	uint64_t t0 = E.now;

	enable_sw();
	wr(0x3e0, 0xb);
	wr(0x320, 0x20031);		/* periodic, vector 0x31 */
	wr(0x380, (uint32_t)p);
	assert_int_equal(E.armed, t0 + p);
	/* A late poll does not push the next tick back: no drift. */
	poll_at(t0 + p + 300000, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), 0x31);
	lapic_ack(E.l, 0x31);
	wr(0xb0, 0);
	assert_int_equal(E.armed, t0 + 2 * p);
	assert_int_equal(rd(0x390), 700000);
	/* Away for 3.5 periods: one interrupt, the missed ticks merged. */
	poll_at(t0 + 5 * p + 500000, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), 0x31);
	assert_int_equal(E.armed, t0 + 6 * p);
	lapic_stats(E.l, &st);
	assert_int_equal(st.timer_fires, 2);
	assert_int_equal(st.timer_coalesced, 3);
	/* Expired but not yet polled: the count already wrapped. */
	E.now = t0 + 6 * p + 250000;
	assert_int_equal(rd(0x390), 750000);
	/* Masked: keeps ticking, raises nothing. */
	lapic_ack(E.l, 0x31);
	wr(0xb0, 0);
	wr(0x320, 0x30031);
	poll_at(t0 + 6 * p, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	assert_int_equal(E.armed, t0 + 7 * p);
	/* Absurdly short periods are clamped. */
	wr(0x380, 10);
	assert_int_equal(E.armed, E.now + 100000);
	/* Changing the mode disarms. */
	wr(0x320, 0x10031);
	assert_int_equal(E.armed, 0);
}

/* When KVM moves the guest's TSC offset by itself (a host TSC it does not
 * trust), host TSC + our offset runs ahead of the guest's TSC; the
 * deadline must be measured from the TSC the guest really reads, or it
 * fires early, again and again. */
static uint64_t E_guest_tsc;
static uint64_t op_guest_tsc(void *o) { (void)o; return E_guest_tsc; }

static void test_timer_tsc_deadline_guest_tsc(void **state)
{
	struct lapic_ops o2 = ops;
	struct lapic_config cfg = {
		.apic_id = 4, .tsc_khz = TSC_KHZ, .tsc_offset = TSC_OFFSET,
		.timer_hz = 1000000000,
	};
	struct lapic *l;

	(void)state;
	o2.guest_tsc = op_guest_tsc;
	E_guest_tsc = E.host_tsc + TSC_OFFSET - 50000000;	/* 25 ms behind */
	l = lapic_new(&cfg, &o2, &E);
	assert_non_null(l);
	{
		uint32_t v = 0x1FF;	/* software enable */

		assert_int_equal(lapic_mmio(l, 0xF0, &v, 4, true), 0);
		v = 0x40032;		/* TSC-deadline, vector 0x32 */
		assert_int_equal(lapic_mmio(l, 0x320, &v, 4, true), 0);
	}
	E.arms = 0;
	/* 1 ms after the guest's own TSC: armed 1 ms from now, not in the past. */
	assert_int_equal(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE,
					 E_guest_tsc + 2000000), 0);
	assert_int_equal(E.arms, 1);
	assert_int_equal(E.armed, E.now + 1000000);
	/* Unknown (0): back to host TSC + offset, where this deadline passed. */
	E_guest_tsc = 0;
	assert_int_equal(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE,
					 E.host_tsc + TSC_OFFSET - 48000000), 0);
	assert_int_equal(E.armed, E.now);
	lapic_free(l);
}

/* Reading the guest's TSC is an ioctl; the thread may be descheduled
 * for milliseconds around it. The gap may make the interrupt late, never
 * early: a guest that checks its TSC in the handler would see time run
 * backwards (it did, in CI). Here the read itself takes 3 ms. */
static uint64_t op_slow_guest_tsc(void *o)
{
	struct env *e = o;

	e->now += 3000000;
	e->host_tsc += 6000000;		/* 3 ms at 2 GHz */
	return e->host_tsc + TSC_OFFSET;
}

static void test_timer_tsc_deadline_slow_read(void **state)
{
	struct lapic_ops o2 = ops;
	struct lapic_config cfg = {
		.apic_id = 4, .tsc_khz = TSC_KHZ, .tsc_offset = TSC_OFFSET,
		.timer_hz = 1000000000,
	};
	uint64_t t0 = E.now, deadline = E.host_tsc + TSC_OFFSET + 4000000;
	struct lapic *l;
	uint32_t v = 0x1FF;

	(void)state;
	o2.guest_tsc = op_slow_guest_tsc;
	l = lapic_new(&cfg, &o2, &E);
	assert_non_null(l);
	assert_int_equal(lapic_mmio(l, 0xF0, &v, 4, true), 0);
	v = 0x40032;
	assert_int_equal(lapic_mmio(l, 0x320, &v, 4, true), 0);
	/* Due 2 ms after t0 on the guest's TSC; the read ends at t0 + 3 ms,
	 * past it: armed for then, not for t0. */
	assert_int_equal(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, deadline), 0);
	assert_int_equal(E.armed, t0 + 3000000);
	/* 4 ms ahead of the read's end: armed 4 ms after it. */
	deadline = E.host_tsc + TSC_OFFSET + 8000000 + 6000000;
	t0 = E.now;
	assert_int_equal(lapic_msr_write(l, MSR_IA32_TSC_DEADLINE, deadline), 0);
	assert_true(E.armed >= t0 + 3000000 + 4000000);
	lapic_free(l);
}

/* The routing registers are told to the CPU plane when they change, and
 * only then; a copy takes another node's and matches by them. */
static int E_routes;
static struct lapic_route E_route;
static void op_route(void *o, const struct lapic_route *r)
{
	(void)o;
	E_routes++;
	E_route = *r;
}

static void test_route_changes(void **state)
{
	struct lapic_ops o2 = ops;
	struct lapic_config cfg = { .apic_id = 5, .timer_hz = 1000000000 };
	struct apic_msg m = { .dest = 0x20, .dest_logical = 1, .vector = 0x40,
			      .source = -1 };
	struct lapic *l, *copy;
	struct lapic_route r;
	uint32_t v;

	(void)state;
	o2.route_changed = op_route;
	E_routes = 0;
	l = lapic_new(&cfg, &o2, &E);
	copy = lapic_new(&cfg, &o2, &E);
	assert_non_null(l);
	assert_non_null(copy);
	assert_int_equal(E_routes, 0);		/* every node starts alike */
	v = 0x30;				/* TPR: not routing */
	assert_int_equal(lapic_mmio(l, 0x80, &v, 4, true), 0);
	assert_int_equal(E_routes, 0);
	v = 0x20u << 24;			/* LDR */
	assert_int_equal(lapic_mmio(l, 0xd0, &v, 4, true), 0);
	assert_int_equal(E_routes, 1);
	assert_int_equal(E_route.ldr, 0x20u << 24);
	assert_int_equal(lapic_mmio(l, 0xd0, &v, 4, true), 0);
	assert_int_equal(E_routes, 1);		/* same value: nothing new */
	v = 0x1ff;				/* SVR: software enable */
	assert_int_equal(lapic_mmio(l, 0xf0, &v, 4, true), 0);
	assert_int_equal(E_routes, 2);
	/* The copy does not match until it has the registers. */
	assert_false(lapic_match(copy, &m, 1));
	lapic_route_get(l, &r);
	lapic_route_set(copy, &r);
	assert_true(lapic_match(copy, &m, 1));
	assert_int_equal(E_routes, 2);		/* a copy tells nobody */
	/* x2APIC: the APIC base changes, and the LDR with it. */
	assert_int_equal(lapic_msr_write(l, MSR_IA32_APICBASE,
					 0xfee00000ull | (1 << 11) | (1 << 10)), 0);
	assert_int_equal(E_routes, 3);
	assert_true(E_route.apic_base & (1 << 10));
	/* INIT in x2APIC mode resets the SVR. */
	lapic_reset(l, true);
	assert_int_equal(E_routes, 4);
	assert_int_equal(E_route.svr, 0xff);
	lapic_free(l);
	lapic_free(copy);
}

static void test_timer_tsc_deadline(void **state)
{
	struct lapic_events ev;
	uint64_t gtsc = E.host_tsc + TSC_OFFSET;
	uint64_t t0 = E.now;

	enable_sw();
	/* Ignored outside TSC-deadline mode. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_TSC_DEADLINE,
					 gtsc + 100), 0);
	assert_int_equal(msr(MSR_IA32_TSC_DEADLINE), 0);
	assert_int_equal(E.arms, 0);
	wr(0x320, 0x40032);		/* TSC-deadline, vector 0x32 */
	/* The initial count register is ignored in this mode. */
	wr(0x380, 1000);
	assert_int_equal(rd(0x380), 0);
	assert_int_equal(E.arms, 0);
	/* 2,000,000 ticks at 2 GHz = 1 ms. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_TSC_DEADLINE,
					 gtsc + 2000000), 0);
	assert_int_equal(msr(MSR_IA32_TSC_DEADLINE), gtsc + 2000000);
	assert_int_equal(E.armed, t0 + 1000000);
	poll_at(t0 + 999999, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), -1);
	poll_at(t0 + 1000000, &ev);
	assert_int_equal(lapic_get_interrupt(E.l), 0x32);
	assert_int_equal(msr(MSR_IA32_TSC_DEADLINE), 0);
	assert_int_equal(E.armed, 0);
	/* A deadline in the past fires at the next poll. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_TSC_DEADLINE, 1), 0);
	assert_int_equal(E.armed, E.now);
	/* Zero disarms. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_TSC_DEADLINE, 0), 0);
	assert_int_equal(E.armed, 0);
	/* Leaving the mode disarms and clears the deadline. */
	assert_int_equal(lapic_msr_write(E.l, MSR_IA32_TSC_DEADLINE,
					 gtsc + 4000000), 0);
	wr(0x320, 0x32);
	assert_int_equal(E.armed, 0);
	wr(0x320, 0x40032);
	assert_int_equal(msr(MSR_IA32_TSC_DEADLINE), 0);
}

/* Paravirtual EOI: the flag is set only when the coming EOI may be
 * skipped, a cleared flag retires the vector at the exit, a flag still
 * set is taken back, and the MSR moves with the vCPU. */
static void in_service(uint8_t vector, bool level)
{
	struct apic_msg m = fixed(vector, level);

	lapic_deliver(E.l, &m);
	assert_int_equal(lapic_get_interrupt(E.l), vector);
	lapic_ack(E.l, vector);
}

static bool isr_has(uint8_t vector)
{
	return rd(0x100 + (vector / 32) * 0x10) >> (vector % 32) & 1;
}

static void test_pv_eoi(void **state)
{
	struct lapic_stats st;
	struct lapic_state s;
	struct lapic *other;

	memset(ram, 0, sizeof(ram));
	enable_sw();
	/* Refused: unaligned, not RAM; off is always fine. */
	assert_int_equal(lapic_msr_write(E.l, MSR_KVM_PV_EOI_EN, 0x1002 | 1), -EINVAL);
	assert_int_equal(lapic_msr_write(E.l, MSR_KVM_PV_EOI_EN, 0x9000 | 1), -EINVAL);
	assert_int_equal(msr(MSR_KVM_PV_EOI_EN), 0);
	assert_int_equal(lapic_msr_write(E.l, MSR_KVM_PV_EOI_EN, 0), 0);
	/* Off: nothing is ever set. */
	in_service(0x30, false);
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 0);
	wr(0xb0, 0);
	assert_int_equal(lapic_msr_write(E.l, MSR_KVM_PV_EOI_EN, 0x1008 | 1), 0);
	assert_int_equal(msr(MSR_KVM_PV_EOI_EN), 0x1009);

	/* Nothing in service: no EOI is owed, no flag. */
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 0);
	/* An edge vector in service, nothing waiting: set; the guest clears
	 * it (its EOI) and the exit retires the vector. */
	in_service(0x30, false);
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 1);
	ram[8] = 0;
	lapic_pv_eoi_exit(E.l);
	assert_false(isr_has(0x30));
	lapic_stats(E.l, &st);
	assert_int_equal(st.pv_eois, 1);
	assert_int_equal(st.eois, 2);
	/* The guest did not get to it: the flag is taken back and the vector
	 * stays in service until the guest writes the register. */
	in_service(0x31, false);
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 1);
	lapic_pv_eoi_exit(E.l);
	assert_int_equal(ram[8], 0);
	assert_true(isr_has(0x31));
	lapic_pv_eoi_exit(E.l);		/* nothing set: nothing happens */
	assert_true(isr_has(0x31));
	wr(0xb0, 0);
	assert_false(isr_has(0x31));
	/* Something waiting in the IRR: its EOI must be seen at once. */
	in_service(0x32, false);
	{
		struct apic_msg m = fixed(0x20, false);
		lapic_deliver(E.l, &m);
	}
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 0);
	wr(0xb0, 0);
	lapic_ack(E.l, lapic_get_interrupt(E.l));	/* 0x20 */
	wr(0xb0, 0);
	/* A level vector's EOI goes to the IOAPIC: never skipped. */
	in_service(0x40, true);
	lapic_pv_eoi_enter(E.l);
	assert_int_equal(ram[8], 0);
	wr(0xb0, 0);
	assert_int_equal(E.neoi, 1);

	/* It moves with the vCPU, and works where it arrives. */
	lapic_depart(E.l, E.now, &s);
	assert_int_equal(s.pv_eoi_msr, 0x1009);
	other = make(3, true);
	assert_non_null(other);
	lapic_arrive(other, E.now, &s);
	{
		uint64_t v = 0;
		assert_int_equal(lapic_msr_read(other, MSR_KVM_PV_EOI_EN, &v), 0);
		assert_int_equal(v, 0x1009);
	}
	{
		struct apic_msg m = fixed(0x50, false);
		uint32_t svr = 0x1ff;
		assert_int_equal(lapic_mmio(other, 0xf0, &svr, 4, true), 0);
		lapic_deliver(other, &m);
		lapic_ack(other, lapic_get_interrupt(other));
	}
	lapic_pv_eoi_enter(other);
	assert_int_equal(ram[8], 1);
	ram[8] = 0;
	lapic_pv_eoi_exit(other);
	lapic_stats(other, &st);
	assert_int_equal(st.pv_eois, 1);
	/* INIT forgets it: a processor coming up names its flag again. */
	lapic_reset(other, true);
	{
		uint64_t v = 1;
		assert_int_equal(lapic_msr_read(other, MSR_KVM_PV_EOI_EN, &v), 0);
		assert_int_equal(v, 0);
	}
	lapic_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_reset_values),
		T(test_register_masks),
		T(test_priorities),
		T(test_eoi),
		T(test_sw_disabled_accepts_only_events),
		T(test_icr_send_and_esr),
		T(test_x2apic_msrs),
		T(test_apic_base_transitions),
		T(test_match_xapic),
		T(test_match_x2apic),
		T(test_lint),
		T(test_init_keeps_late_sipi),
		T(test_timer_oneshot),
		T(test_timer_periodic),
		T(test_timer_tsc_deadline),
		T(test_timer_tsc_deadline_guest_tsc),
		T(test_timer_tsc_deadline_slow_read),
		T(test_route_changes),
		T(test_pv_eoi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
