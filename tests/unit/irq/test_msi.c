/* Unit tests for MSI decoding: what Linux writes into an MSI-X entry
 * (physical and logical destinations, the extended destination id bits)
 * becomes the APIC message the interrupt bus delivers; addresses outside
 * the interrupt window and delivery modes an MSI may not use are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "irq/msi.h"

static void test_physical(void **state)
{
	struct apic_msg m;

	assert_int_equal(msi_decode(0xfee03000, 0x41, &m), 0);
	assert_int_equal(m.dest, 3);
	assert_int_equal(m.vector, 0x41);
	assert_int_equal(m.delivery, APIC_DM_FIXED);
	assert_int_equal(m.dest_logical, 0);
	assert_int_equal(m.trigger_level, 0);
	assert_int_equal(m.source, -1);
	assert_int_equal(m.level, 1);
	assert_int_equal(m.x2apic, 0);
}

static void test_logical_lowest_level(void **state)
{
	struct apic_msg m;

	/* Destination 0x0f logical (bit 2), lowest priority, level trigger. */
	assert_int_equal(msi_decode(0xfee0f004, 0x80000000u | 0x8100 | 0x33, &m), 0);
	assert_int_equal(m.dest, 0x0f);
	assert_int_equal(m.dest_logical, 1);
	assert_int_equal(m.delivery, APIC_DM_LOWEST);
	assert_int_equal(m.trigger_level, 1);
	assert_int_equal(m.vector, 0x33);
}

static void test_extended_dest(void **state)
{
	struct apic_msg m;

	/* APIC id 0x1234: low 8 bits in 19:12, the next 7 in 11:5. */
	assert_int_equal(msi_decode(0xfee00000 | 0x34 << 12 | 0x12 << 5, 0x50, &m), 0);
	assert_int_equal(m.dest, 0x1234);
	assert_int_equal(m.x2apic, 1);
}

static void test_refused(void **state)
{
	struct apic_msg m;

	assert_int_equal(msi_decode(0, 0x41, &m), -EINVAL);
	assert_int_equal(msi_decode(0xfec00000, 0x41, &m), -EINVAL);
	assert_int_equal(msi_decode(0x1fee00000ULL, 0x41, &m), -EINVAL);
	assert_int_equal(msi_decode(0xfee00000, 0x600, &m), -EINVAL);	/* SIPI */
	assert_int_equal(msi_decode(0xfee00000, 0x300, &m), -EINVAL);	/* reserved */
	assert_int_equal(msi_decode(0xfee00000, 0x400 | 2, &m), 0);	/* NMI is fine */
	assert_int_equal(m.delivery, APIC_DM_NMI);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_physical),
		cmocka_unit_test(test_logical_lowest_level),
		cmocka_unit_test(test_extended_dest),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
