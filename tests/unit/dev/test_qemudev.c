/* Unit tests for the devices QEMU-targeted kernels poke: fw_cfg (read
 * through its ports as a guest does), isa-debug-exit and the reset
 * control register at 0xCF9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dev/debugexit.h"
#include "dev/fwcfg.h"
#include "dev/rstcnt.h"
#include "portio.h"

static uint64_t read_item(struct iobus *bus, uint16_t key, unsigned n)
{
	uint64_t v = 0;
	uint16_t k = key;

	assert_int_equal(iobus_access(bus, IO_PIO, NULL, FWCFG_PORT_SEL, &k, 2, true), 0);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)bus_in8(bus, FWCFG_PORT_DATA) << (8 * i);
	return v;
}

static void test_fwcfg(void **state)
{
	struct fwcfg_config cfg = { .nr_cpus = 3, .max_cpus = 3, .ram_size = 64 << 20 };
	struct iobus *bus = iobus_new();
	struct fwcfg *f = fwcfg_new(&cfg);

	assert_int_equal(fwcfg_register(f, bus), 0);
	assert_int_equal(read_item(bus, FW_CFG_SIGNATURE, 4), 0x554d4551);	/* "QEMU" */
	assert_int_equal(read_item(bus, FW_CFG_ID, 4), 1);
	assert_int_equal(read_item(bus, FW_CFG_NB_CPUS, 2), 3);
	assert_int_equal(read_item(bus, FW_CFG_MAX_CPUS, 2), 3);
	assert_int_equal(read_item(bus, FW_CFG_RAM_SIZE, 8), 64 << 20);
	assert_int_equal(read_item(bus, FW_CFG_FILE_DIR, 4), 0);
	/* Past the item's end, and an unknown item: zeros. */
	assert_int_equal(read_item(bus, FW_CFG_NB_CPUS, 4), 3);
	assert_int_equal(read_item(bus, 0x4242, 4), 0);
	/* Reselecting starts over; writes to the data port change nothing. */
	bus_out8(bus, FWCFG_PORT_DATA, 0x55);
	assert_int_equal(read_item(bus, FW_CFG_SIGNATURE, 2), 0x4551);
	fwcfg_free(f);
	iobus_free(bus);
}

static int exit_status = -1, resets;

static void on_exit_fn(void *opaque, int status) { exit_status = status; }
static void on_reset(void *opaque) { resets++; }

static void test_debugexit(void **state)
{
	struct iobus *bus = iobus_new();
	struct debugexit *d = debugexit_new(0x501, 2, on_exit_fn, NULL);
	struct debugexit *clash = debugexit_new(0x502, 1, on_exit_fn, NULL);
	uint16_t v = 0x2a;

	assert_int_equal(debugexit_register(d, bus), 0);
	assert_int_not_equal(debugexit_register(clash, bus), 0);
	bus_out8(bus, 0x501, 0);
	assert_int_equal(exit_status, 1);
	assert_int_equal(iobus_access(bus, IO_PIO, NULL, 0x501, &v, 2, true), 0);
	assert_int_equal(exit_status, 85);
	bus_out8(bus, 0x502, 0x80);	/* (0x80 << 1) | 1, low 8 bits, as exit() keeps */
	assert_int_equal(exit_status, 1);
	assert_int_equal(bus_in8(bus, 0x501), 0);
	assert_int_equal(debugexit_status(3), 7);
	debugexit_free(d);
	debugexit_free(clash);
	iobus_free(bus);
}

static void test_rstcnt(void **state)
{
	struct iobus *bus = iobus_new();
	struct rstcnt *r = rstcnt_new(on_reset, NULL);

	assert_int_equal(rstcnt_register(r, bus), 0);
	bus_out8(bus, RSTCNT_PORT, 0x02);
	assert_int_equal(resets, 0);
	assert_int_equal(bus_in8(bus, RSTCNT_PORT), 0x02);
	bus_out8(bus, RSTCNT_PORT, RSTCNT_RESET_VALUE);
	assert_int_equal(resets, 1);
	bus_out8(bus, RSTCNT_PORT, 0x06);
	assert_int_equal(resets, 2);
	rstcnt_free(r);
	iobus_free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fwcfg),
		cmocka_unit_test(test_debugexit),
		cmocka_unit_test(test_rstcnt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
