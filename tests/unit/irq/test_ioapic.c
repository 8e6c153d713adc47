/* Unit tests for the IOAPIC; the APIC bus is replaced by a recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "irq/apicbus.h"
#include "irq/ioapic.h"

static struct apic_msg sent[16];
static int nsent;

/* The bus, as the IOAPIC sees it. */
int apicbus_send(struct apicbus *bus, const struct apic_msg *msg)
{
	if (nsent < 16)
		sent[nsent] = *msg;
	nsent++;
	return 1;
}

static struct ioapic *io;

static int setup(void **state)
{
	nsent = 0;
	memset(sent, 0, sizeof(sent));
	io = ioapic_new(NULL, 4);
	return io ? 0 : -1;
}

static int teardown(void **state)
{
	ioapic_free(io);
	return 0;
}

static void mmio_wr(uint64_t off, uint32_t v)
{
	assert_int_equal(ioapic_mmio(io, NULL, off, &v, 4, true), 0);
}

static uint32_t mmio_rd(uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	assert_int_equal(ioapic_mmio(io, NULL, off, &v, 4, false), 0);
	return v;
}

static uint32_t reg_rd(unsigned idx)
{
	mmio_wr(0x00, idx);
	return mmio_rd(0x10);
}

static void reg_wr(unsigned idx, uint32_t v)
{
	mmio_wr(0x00, idx);
	mmio_wr(0x10, v);
}

static void rte_wr(unsigned pin, uint64_t v)
{
	reg_wr(0x11 + 2 * pin, v >> 32);
	reg_wr(0x10 + 2 * pin, (uint32_t)v);
}

static uint64_t rte_rd(unsigned pin)
{
	return (uint64_t)reg_rd(0x11 + 2 * pin) << 32 | reg_rd(0x10 + 2 * pin);
}

static void test_registers(void **state)
{
	assert_int_equal(reg_rd(0x00), 4u << 24);
	assert_int_equal(reg_rd(0x01), 0x00170011);
	assert_int_equal(reg_rd(0x02), 4u << 24);
	reg_wr(0x00, 9u << 24);
	assert_int_equal(reg_rd(0x00), 9u << 24);
	reg_wr(0x01, 0);			/* read-only */
	assert_int_equal(reg_rd(0x01), 0x00170011);
	assert_int_equal(mmio_rd(0x00), 0x01);	/* IOREGSEL reads back */
	/* All entries start masked. */
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(rte_rd(pin), 0x10000);
	/* Delivery status and remote IRR are read-only. */
	rte_wr(5, 0xab000000000fffffull);
	assert_int_equal(rte_rd(5), 0xab000000000fafffull);
	assert_int_equal(reg_rd(0x40), 0);	/* beyond entry 23 */
	assert_int_equal(nsent, 0);
}

static void test_edge(void **state)
{
	struct ioapic_stats st;

	rte_wr(1, 0x0200000000000931ull);	/* dest 2, logical, lowest */
	ioapic_set_irq(io, 1, 1);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].vector, 0x31);
	assert_int_equal(sent[0].dest, 2);
	assert_int_equal(sent[0].dest_logical, 1);
	assert_int_equal(sent[0].delivery, APIC_DM_LOWEST);
	assert_int_equal(sent[0].trigger_level, 0);
	assert_int_equal(sent[0].source, -1);
	assert_int_equal(sent[0].x2apic, 0);
	/* Only the rising edge counts. */
	ioapic_set_irq(io, 1, 1);
	assert_int_equal(nsent, 1);
	ioapic_set_irq(io, 1, 0);
	ioapic_set_irq(io, 1, 1);
	assert_int_equal(nsent, 2);
	/* No remote IRR, so EOIs do nothing. */
	ioapic_eoi(io, 0x31);
	assert_int_equal(nsent, 2);
	/* A masked edge is lost, and unmasking does not revive it. */
	ioapic_set_irq(io, 1, 0);
	rte_wr(1, 0x10031);
	ioapic_set_irq(io, 1, 1);
	rte_wr(1, 0x31);
	assert_int_equal(nsent, 2);
	ioapic_stats(io, &st);
	assert_int_equal(st.masked_edges, 1);
	assert_int_equal(st.irqs_sent, 2);
}

static void test_level(void **state)
{
	struct ioapic_stats st;

	rte_wr(9, 0x0100000000008041ull);	/* level, physical dest 1 */
	ioapic_set_irq(io, 9, 1);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].trigger_level, 1);
	assert_int_equal(sent[0].dest, 1);
	assert_true(rte_rd(9) & (1u << 14));	/* remote IRR */
	/* Held until EOI, however the line moves. */
	ioapic_set_irq(io, 9, 0);
	ioapic_set_irq(io, 9, 1);
	assert_int_equal(nsent, 1);
	/* EOI of another vector changes nothing. */
	ioapic_eoi(io, 0x42);
	assert_int_equal(nsent, 1);
	/* EOI while still asserted: delivered again. */
	ioapic_eoi(io, 0x41);
	assert_int_equal(nsent, 2);
	assert_true(rte_rd(9) & (1u << 14));
	/* De-asserted before EOI: EOI just clears remote IRR. */
	ioapic_set_irq(io, 9, 0);
	ioapic_eoi(io, 0x41);
	assert_int_equal(nsent, 2);
	assert_false(rte_rd(9) & (1u << 14));
	/* Asserted while masked: delivered on unmask. */
	rte_wr(9, 0x18041);
	ioapic_set_irq(io, 9, 1);
	assert_int_equal(nsent, 2);
	rte_wr(9, 0x8041);
	assert_int_equal(nsent, 3);
	/* The EOI register (offset 0x40) works like a lapic EOI. */
	mmio_wr(0x40, 0x41);
	assert_int_equal(nsent, 4);
	/* Flipping to edge clears a stuck remote IRR (Linux's fallback). */
	rte_wr(9, 0x18041);
	assert_true(rte_rd(9) & (1u << 14));
	rte_wr(9, 0x10041);
	rte_wr(9, 0x18041);
	assert_false(rte_rd(9) & (1u << 14));
	ioapic_stats(io, &st);
	assert_int_equal(st.redelivered, 2);
	assert_int_equal(st.eois, 3);
}

static void test_polarity_is_not_inversion(void **state)
{
	/* Active-low level (a PCI pin): idle stays idle. */
	rte_wr(16, 0xa051);
	assert_int_equal(nsent, 0);
	ioapic_set_irq(io, 16, 1);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].vector, 0x51);
	assert_int_equal(rte_rd(16) & 0xffff, 0xe051);
}

static void test_bad_pins(void **state)
{
	ioapic_set_irq(io, IOAPIC_PINS, 1);
	ioapic_set_irq(io, 1000, 1);
	assert_int_equal(nsent, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_registers),
		T(test_edge),
		T(test_level),
		T(test_polarity_is_not_inversion),
		T(test_bad_pins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
