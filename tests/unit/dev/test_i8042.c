/* i8042: the controller commands Linux's probe uses, and the reset line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "portio.h"

#include <stdlib.h>

#include "dev/i8042.h"
#include "hw/iobus.h"

#define DATA	0x60
#define CMD	0x64

#define OBF	0x01
#define SYS	0x04
#define CMDBIT	0x08
#define AUXDATA	0x20

struct fixture {
	struct iobus *bus;
	struct i8042 *kbc;
	int resets;
	int level[16];
};

static void reset_cb(void *opaque)
{
	((struct fixture *)opaque)->resets++;
}

static void irq_set(void *opaque, unsigned gsi, int level)
{
	((struct fixture *)opaque)->level[gsi] = level;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct i8042_config cfg;

	assert_non_null(f);
	cfg = (struct i8042_config){
		.kbd_irq = { irq_set, f, I8042_KBD_IRQ },
		.aux_irq = { irq_set, f, I8042_AUX_IRQ },
		.reset = reset_cb, .reset_opaque = f,
	};
	f->bus = iobus_new();
	assert_non_null(f->bus);
	f->kbc = i8042_new(&cfg);
	assert_non_null(f->kbc);
	assert_int_equal(i8042_register(f->kbc, f->bus), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	i8042_free(f->kbc);
	iobus_free(f->bus);
	free(f);
	return 0;
}

/* Like Linux's i8042_command(): command, optional parameter, one reply. */
static uint8_t command(struct fixture *f, uint8_t cmd)
{
	bus_out8(f->bus, CMD, cmd);
	assert_int_equal(bus_in8(f->bus, CMD) & OBF, OBF);
	return bus_in8(f->bus, DATA);
}

static void test_status_after_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t s = bus_in8(f->bus, CMD);

	assert_int_equal(s & (OBF | 0x02 | AUXDATA), 0);	/* nothing, not busy */
	assert_int_equal(s & SYS, SYS);
	assert_int_equal(bus_in8(f->bus, DATA), 0);	/* empty reads are harmless */
}

static void test_self_test_and_interface_tests(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(command(f, 0xaa), 0x55);
	assert_int_equal(bus_in8(f->bus, CMD) & (OBF | CMDBIT), CMDBIT);
	assert_int_equal(command(f, 0xab), 0x00);
	assert_int_equal(command(f, 0xa9), 0x00);
	assert_int_equal(command(f, 0xa4), 0xf1);
}

static void test_command_byte(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(command(f, 0x20), 0x45);
	bus_out8(f->bus, CMD, 0x60);
	bus_out8(f->bus, DATA, 0x74);
	assert_int_equal(bus_in8(f->bus, CMD) & (OBF | SYS | CMDBIT), SYS);
	assert_int_equal(command(f, 0x20), 0x74);

	bus_out8(f->bus, CMD, 0xa8);		/* aux on: bit 5 clear */
	assert_int_equal(command(f, 0x20) & 0x20, 0);
	bus_out8(f->bus, CMD, 0xa7);
	assert_int_equal(command(f, 0x20) & 0x20, 0x20);
	bus_out8(f->bus, CMD, 0xae);		/* keyboard on: bit 4 clear */
	assert_int_equal(command(f, 0x20) & 0x10, 0);
	bus_out8(f->bus, CMD, 0xad);
	assert_int_equal(command(f, 0x20) & 0x10, 0x10);

	/* The system flag in the status register follows the command byte. */
	bus_out8(f->bus, CMD, 0x60);
	bus_out8(f->bus, DATA, 0x00);
	assert_int_equal(bus_in8(f->bus, CMD) & SYS, 0);
}

/* Linux's AUX probe: loop bytes come back as aux data, unchanged, so there
 * is an aux port but no active multiplexer. */
static void test_aux_loop(void **state)
{
	struct fixture *f = *state;
	const uint8_t seq[] = { 0x5a, 0xf0, 0x56, 0xa4 };

	for (unsigned i = 0; i < sizeof(seq); i++) {
		bus_out8(f->bus, CMD, 0xd3);
		bus_out8(f->bus, DATA, seq[i]);
		assert_int_equal(bus_in8(f->bus, CMD) & (OBF | AUXDATA), OBF | AUXDATA);
		assert_int_equal(bus_in8(f->bus, DATA), seq[i]);
	}
	bus_out8(f->bus, CMD, 0xd2);
	bus_out8(f->bus, DATA, 0x12);
	assert_int_equal(bus_in8(f->bus, CMD) & (OBF | AUXDATA), OBF);
	assert_int_equal(bus_in8(f->bus, DATA), 0x12);
}

static void test_irq_lines(void **state)
{
	struct fixture *f = *state;

	/* Keyboard interrupt enabled by default: a reply raises IRQ 1. */
	bus_out8(f->bus, CMD, 0x20);
	assert_int_equal(f->level[I8042_KBD_IRQ], 1);
	assert_int_equal(f->level[I8042_AUX_IRQ], 0);
	bus_in8(f->bus, DATA);
	assert_int_equal(f->level[I8042_KBD_IRQ], 0);

	/* Aux data needs bit 1. */
	bus_out8(f->bus, CMD, 0xd3);
	bus_out8(f->bus, DATA, 0xa5);
	assert_int_equal(f->level[I8042_AUX_IRQ], 0);
	bus_in8(f->bus, DATA);
	bus_out8(f->bus, CMD, 0x60);
	bus_out8(f->bus, DATA, 0x47);
	bus_out8(f->bus, CMD, 0xd3);
	bus_out8(f->bus, DATA, 0xa5);
	assert_int_equal(f->level[I8042_AUX_IRQ], 1);
	assert_int_equal(f->level[I8042_KBD_IRQ], 0);
	bus_in8(f->bus, DATA);
	assert_int_equal(f->level[I8042_AUX_IRQ], 0);

	/* Polled mode: no interrupt bits, no interrupts. */
	bus_out8(f->bus, CMD, 0x60);
	bus_out8(f->bus, DATA, 0x44);
	assert_int_equal(command(f, 0xaa), 0x55);
	assert_int_equal(f->level[I8042_KBD_IRQ], 0);
}

static void test_absent_devices_stay_silent(void **state)
{
	struct fixture *f = *state;
	struct i8042_stats st;

	bus_out8(f->bus, DATA, 0xf2);		/* keyboard GET ID */
	bus_out8(f->bus, CMD, 0xd4);		/* mouse GET ID */
	bus_out8(f->bus, DATA, 0xf2);
	assert_int_equal(bus_in8(f->bus, CMD) & OBF, 0);
	bus_out8(f->bus, CMD, 0x01);		/* unknown: ignored */
	assert_int_equal(bus_in8(f->bus, CMD) & OBF, 0);
	i8042_get_stats(f->kbc, &st);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.unknown_commands, 1);
	assert_int_equal(f->resets, 0);
}

static void test_reset_pulse(void **state)
{
	struct fixture *f = *state;
	struct i8042_stats st;

	bus_out8(f->bus, CMD, 0xff);		/* pulses nothing */
	assert_int_equal(f->resets, 0);
	bus_out8(f->bus, CMD, 0xfe);
	assert_int_equal(f->resets, 1);
	i8042_get_stats(f->kbc, &st);
	assert_int_equal(st.resets, 1);
}

static void test_output_port(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(command(f, 0xd0) & 0x03, 0x03);
	bus_out8(f->bus, CMD, 0xd1);
	bus_out8(f->bus, DATA, 0xdd);		/* A20 off, reset line high */
	assert_int_equal(f->resets, 0);
	assert_int_equal(command(f, 0xd0) & 0x03, 0x01);
	bus_out8(f->bus, CMD, 0xdf);		/* A20 on */
	assert_int_equal(command(f, 0xd0) & 0x03, 0x03);
	bus_out8(f->bus, CMD, 0xd1);
	bus_out8(f->bus, DATA, 0xfe);		/* reset line low */
	assert_int_equal(f->resets, 1);
}

static void test_no_callback_is_fine(void **state)
{
	struct i8042_config cfg = { 0 };
	struct i8042 *k = i8042_new(&cfg);
	struct iobus *bus = iobus_new();
	uint8_t v = 0xfe;

	assert_non_null(k);
	assert_int_equal(i8042_register(k, bus), 0);
	assert_int_equal(iobus_access(bus, IO_PIO, NULL, CMD, &v, 1, true), 0);
	/* 0x61-0x63 are left to other devices. */
	assert_null(iobus_owner(bus, IO_PIO, 0x61));
	i8042_free(k);
	iobus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_status_after_reset),
		T(test_self_test_and_interface_tests),
		T(test_command_byte),
		T(test_aux_loop),
		T(test_irq_lines),
		T(test_absent_devices_stay_silent),
		T(test_reset_pulse),
		T(test_output_port),
		cmocka_unit_test(test_no_callback_is_fine),
#undef T
	};
	return cmocka_run_group_tests_name("dev-i8042", tests, NULL, NULL);
}
