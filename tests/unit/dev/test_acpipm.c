/* ACPI PM1a blocks: the PM1_CNT bits Linux reads and writes on the way to
 * S5, the event registers, and accesses of every width and offset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "portio.h"

#include <stdlib.h>

#include "dev/acpipm.h"
#include "hw/iobus.h"

#define STS	(ACPIPM_BASE + 0)
#define EN	(ACPIPM_BASE + 2)
#define CNT	(ACPIPM_BASE + 4)

#define SCI_EN		0x0001
#define BM_RLD		0x0002
#define GBL_RLS		0x0004
#define SLP_EN		0x2000
#define SLP_TYP(t)	((t) << 10)
#define WAK_STS		0x8000

struct fixture {
	struct iobus *bus;
	struct acpipm *pm;
	int poweroffs;
};

static void poweroff_cb(void *opaque)
{
	((struct fixture *)opaque)->poweroffs++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct acpipm_config cfg;

	assert_non_null(f);
	cfg = (struct acpipm_config){
		.poweroff = poweroff_cb, .poweroff_opaque = f,
	};
	f->bus = iobus_new();
	assert_non_null(f->bus);
	f->pm = acpipm_new(&cfg);
	assert_non_null(f->pm);
	assert_int_equal(acpipm_register(f->pm, f->bus), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	acpipm_free(f->pm);
	iobus_free(f->bus);
	free(f);
	return 0;
}

/* inw/outw/inl/outl: the data is little-endian in the buffer. */
static void out_n(struct iobus *bus, uint16_t port, uint32_t v, unsigned len)
{
	uint8_t b[4] = { v, v >> 8, v >> 16, v >> 24 };

	assert_int_equal(iobus_access(bus, IO_PIO, NULL, port, b, len, true), 0);
}

static uint32_t in_n(struct iobus *bus, uint16_t port, unsigned len)
{
	uint8_t b[4] = { 0 };

	assert_int_equal(iobus_access(bus, IO_PIO, NULL, port, b, len, false), 0);
	return b[0] | b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void test_sci_en_reads_one(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in_n(f->bus, CNT, 2), SCI_EN);
	out_n(f->bus, CNT, 0, 2);		/* cannot leave ACPI mode */
	assert_int_equal(in_n(f->bus, CNT, 2), SCI_EN);
}

static void test_storage_bits(void **state)
{
	struct fixture *f = *state;

	out_n(f->bus, CNT, SLP_TYP(5) | BM_RLD, 2);
	assert_int_equal(in_n(f->bus, CNT, 2), SLP_TYP(5) | BM_RLD | SCI_EN);
	out_n(f->bus, CNT, SLP_TYP(2), 2);
	assert_int_equal(in_n(f->bus, CNT, 2), SLP_TYP(2) | SCI_EN);
	/* Write-only and reserved bits read 0. */
	out_n(f->bus, CNT, GBL_RLS | 0xc3f8, 2);
	assert_int_equal(in_n(f->bus, CNT, 2), SCI_EN);
	assert_int_equal(f->poweroffs, 0);
}

static void test_s5_powers_off(void **state)
{
	struct fixture *f = *state;
	struct acpipm_stats st;

	/* What ACPICA does: SLP_TYP alone, then SLP_TYP with SLP_EN. */
	out_n(f->bus, CNT, SLP_TYP(ACPIPM_SLP_TYP_S5) | SCI_EN, 2);
	assert_int_equal(f->poweroffs, 0);
	out_n(f->bus, CNT, SLP_TYP(ACPIPM_SLP_TYP_S5) | SLP_EN | SCI_EN, 2);
	assert_int_equal(f->poweroffs, 1);
	/* SLP_EN is write-only. */
	assert_int_equal(in_n(f->bus, CNT, 2),
			 SLP_TYP(ACPIPM_SLP_TYP_S5) | SCI_EN);
	acpipm_get_stats(f->pm, &st);
	assert_int_equal(st.poweroffs, 1);
	assert_int_equal(st.unsupported_sleeps, 0);
}

static void test_unsupported_sleep_ignored(void **state)
{
	struct fixture *f = *state;
	struct acpipm_stats st;

	out_n(f->bus, CNT, SLP_TYP(3) | SLP_EN, 2);
	out_n(f->bus, CNT, SLP_TYP(3) | SLP_EN, 2);	/* warned only once */
	assert_int_equal(f->poweroffs, 0);
	assert_int_equal(in_n(f->bus, CNT, 2), SLP_TYP(3) | SCI_EN);
	acpipm_get_stats(f->pm, &st);
	assert_int_equal(st.unsupported_sleeps, 2);
	assert_int_equal(st.poweroffs, 0);
}

static void test_event_block(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in_n(f->bus, STS, 2), 0);	/* nothing ever happens */
	out_n(f->bus, STS, 0xffff, 2);			/* W1C of nothing */
	assert_int_equal(in_n(f->bus, STS, 2), 0);
	out_n(f->bus, STS, WAK_STS, 2);
	assert_int_equal(in_n(f->bus, STS, 2), 0);

	assert_int_equal(in_n(f->bus, EN, 2), 0);
	out_n(f->bus, EN, 0x0121, 2);		/* PWRBTN, GBL, TMR */
	assert_int_equal(in_n(f->bus, EN, 2), 0x0121);
	out_n(f->bus, EN, 0x0100, 2);
	assert_int_equal(in_n(f->bus, EN, 2), 0x0100);
	/* Writing STS leaves EN alone. */
	out_n(f->bus, STS, 0xffff, 2);
	assert_int_equal(in_n(f->bus, EN, 2), 0x0100);
}

static void test_byte_accesses(void **state)
{
	struct fixture *f = *state;

	/* PM1_EN a byte at a time; each byte leaves the other alone. */
	bus_out8(f->bus, EN + 1, 0x01);
	bus_out8(f->bus, EN, 0x20);
	assert_int_equal(in_n(f->bus, EN, 2), 0x0120);
	assert_int_equal(bus_in8(f->bus, EN + 1), 0x01);

	/* Low byte of PM1_CNT keeps SLP_TYP; high byte keeps BM_RLD. */
	out_n(f->bus, CNT, SLP_TYP(2), 2);
	bus_out8(f->bus, CNT, BM_RLD);
	assert_int_equal(in_n(f->bus, CNT, 2), SLP_TYP(2) | BM_RLD | SCI_EN);
	assert_int_equal(bus_in8(f->bus, CNT), BM_RLD | SCI_EN);
	assert_int_equal(bus_in8(f->bus, CNT + 1), SLP_TYP(2) >> 8);

	/* SLP_TYP 5 | SLP_EN in the high byte alone. */
	bus_out8(f->bus, CNT + 1, 0x34);
	assert_int_equal(f->poweroffs, 1);
	assert_int_equal(bus_in8(f->bus, CNT + 1), 0x14);
	assert_int_equal(bus_in8(f->bus, CNT), BM_RLD | SCI_EN);
}

static void test_wide_accesses(void **state)
{
	struct fixture *f = *state;

	/* 32 bits at +0: STS in the low half, EN in the high half. */
	out_n(f->bus, STS, 0x01210000, 4);
	assert_int_equal(in_n(f->bus, STS, 4), 0x01210000);

	/* 32 bits at +2: EN and CNT together, S5 included. */
	out_n(f->bus, EN, (uint32_t)(SLP_TYP(5) | SLP_EN) << 16 | 0x0100, 4);
	assert_int_equal(f->poweroffs, 1);
	assert_int_equal(in_n(f->bus, EN, 4),
			 (uint32_t)(SLP_TYP(5) | SCI_EN) << 16 | 0x0100);

	/* 16 bits across EN's high byte and CNT's low byte. */
	assert_int_equal(in_n(f->bus, EN + 1, 2), 0x01 | SCI_EN << 8);
}

static void test_out_of_block_bytes(void **state)
{
	struct fixture *f = *state;

	/* 32 bits at +4 reach two ports past the block. */
	assert_int_equal(in_n(f->bus, CNT, 4), 0xffff0000 | SCI_EN);
	out_n(f->bus, CNT, 0xffff0000 | BM_RLD, 4);
	assert_int_equal(in_n(f->bus, CNT, 4), 0xffff0000 | BM_RLD | SCI_EN);
	/* 16 bits at +5: PM1_CNT's high byte, then one port past. */
	out_n(f->bus, CNT + 1, 0xff00 | SLP_TYP(4) >> 8, 2);
	assert_int_equal(in_n(f->bus, CNT + 1, 2), 0xff00 | SLP_TYP(4) >> 8);
	assert_int_equal(f->poweroffs, 0);
	/* And the port after the block is not ours. */
	assert_string_equal(iobus_owner(f->bus, IO_PIO, ACPIPM_BASE), "acpipm");
	assert_null(iobus_owner(f->bus, IO_PIO, ACPIPM_BASE + ACPIPM_NR_PORTS));
}

static void test_no_callback_is_fine(void **state)
{
	struct acpipm_config cfg = { 0 };
	struct acpipm *pm = acpipm_new(&cfg);
	struct iobus *bus = iobus_new();
	struct acpipm_stats st;

	(void)state;
	assert_non_null(pm);
	assert_non_null(bus);
	assert_int_equal(acpipm_register(pm, bus), 0);
	out_n(bus, CNT, SLP_TYP(ACPIPM_SLP_TYP_S5) | SLP_EN, 2);
	acpipm_get_stats(pm, &st);
	assert_int_equal(st.poweroffs, 1);
	acpipm_free(pm);
	iobus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_sci_en_reads_one),
		T(test_storage_bits),
		T(test_s5_powers_off),
		T(test_unsupported_sleep_ignored),
		T(test_event_block),
		T(test_byte_accesses),
		T(test_wide_accesses),
		T(test_out_of_block_bytes),
		cmocka_unit_test(test_no_callback_is_fine),
#undef T
	};
	return cmocka_run_group_tests_name("dev-acpipm", tests, NULL, NULL);
}
