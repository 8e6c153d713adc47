/* Unit tests for the 8259A pair, driven through its port handlers the way
 * Linux programs it. The iobus is replaced by a recorder of the ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "irq/pic.h"
#include "hw/iobus.h"

struct range { uint64_t base, len; io_fn fn; void *opaque; };
static struct range ranges[4];
static int nranges;

int iobus_register(struct iobus *bus, enum io_space space, uint64_t base,
		   uint64_t len, io_fn fn, void *opaque, const char *name)
{
	assert_int_equal(space, IO_PIO);
	ranges[nranges++] = (struct range){ base, len, fn, opaque };
	return 0;
}

static struct pic *pic;
static int intr_level, intr_calls;

static void intr(void *opaque, int level)
{
	intr_level = level;
	intr_calls++;
}

static void outb(uint16_t port, uint8_t v)
{
	for (int i = 0; i < nranges; i++)
		if (port >= ranges[i].base && port < ranges[i].base + ranges[i].len) {
			assert_int_equal(ranges[i].fn(ranges[i].opaque, NULL,
						      port - ranges[i].base,
						      &v, 1, true), 0);
			return;
		}
	fail_msg("port %#x not registered", port);
}

static uint8_t inb(uint16_t port)
{
	uint8_t v = 0;

	for (int i = 0; i < nranges; i++)
		if (port >= ranges[i].base && port < ranges[i].base + ranges[i].len) {
			assert_int_equal(ranges[i].fn(ranges[i].opaque, NULL,
						      port - ranges[i].base,
						      &v, 1, false), 0);
			return v;
		}
	fail_msg("port %#x not registered", port);
	return 0;
}

/* Linux's init_8259A(): vectors 0x30/0x38, cascade on IR2. */
static void linux_init(bool auto_eoi)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	outb(0x20, 0x11);
	outb(0x21, 0x30);
	outb(0x21, 0x04);
	outb(0x21, auto_eoi ? 0x03 : 0x01);
	outb(0xa0, 0x11);
	outb(0xa1, 0x38);
	outb(0xa1, 0x02);
	outb(0xa1, 0x01);
	outb(0x21, 0x00);
	outb(0xa1, 0x00);
}

static int setup(void **state)
{
	nranges = 0;
	intr_level = intr_calls = 0;
	pic = pic_new(intr, NULL);
	assert_non_null(pic);
	assert_int_equal(pic_register(pic, NULL), 0);
	assert_int_equal(nranges, 3);
	return 0;
}

static int teardown(void **state)
{
	pic_free(pic);
	return 0;
}

static void test_probe(void **state)
{
	/* probe_8259A(): the IMR reads back what was written. */
	outb(0xa1, 0xff);
	outb(0x21, 0xfb);
	assert_int_equal(inb(0x21), 0xfb);
	assert_int_equal(inb(0xa1), 0xff);
	outb(0x21, 0x5a);
	assert_int_equal(inb(0x21), 0x5a);
}

static void test_init_and_vectors(void **state)
{
	linux_init(false);
	assert_int_equal(inb(0x21), 0);
	assert_int_equal(pic_ack(pic), -1);
	pic_set_irq(pic, 1, 1);
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x31);
	assert_int_equal(intr_level, 0);
	pic_set_irq(pic, 1, 0);
	outb(0x20, 0x20);
	assert_int_equal(pic_ack(pic), -1);
	/* ICW1 resets the IMR and forgets pending edges. */
	pic_set_irq(pic, 4, 1);
	outb(0x20, 0x11);
	outb(0x21, 0x40);
	outb(0x21, 0x04);
	outb(0x21, 0x01);
	assert_int_equal(inb(0x21), 0);
	assert_int_equal(pic_ack(pic), -1);
	/* The line is still high: no new request without a new edge. */
	pic_set_irq(pic, 4, 1);
	assert_int_equal(pic_ack(pic), -1);
	pic_set_irq(pic, 4, 0);
	pic_set_irq(pic, 4, 1);
	assert_int_equal(pic_ack(pic), 0x44);
}

static void test_priority_and_eoi(void **state)
{
	linux_init(false);
	pic_set_irq(pic, 3, 1);
	pic_set_irq(pic, 5, 1);
	pic_set_irq(pic, 3, 0);		/* edge stays latched */
	pic_set_irq(pic, 5, 0);
	outb(0x20, 0x0a);		/* OCW3: read IRR */
	assert_int_equal(inb(0x20), 0x28);
	assert_int_equal(pic_ack(pic), 0x33);
	/* IR5 is blocked by IR3 in service, IR1 is not. */
	assert_int_equal(intr_level, 0);
	pic_set_irq(pic, 1, 1);
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x31);
	outb(0x20, 0x0b);		/* OCW3: read ISR */
	assert_int_equal(inb(0x20), 0x0a);
	/* Non-specific EOI retires the highest priority in service. */
	outb(0x20, 0x20);
	assert_int_equal(inb(0x20), 0x08);
	assert_int_equal(intr_level, 0);
	/* Specific EOI for IR3 lets IR5 through. */
	outb(0x20, 0x63);
	assert_int_equal(inb(0x20), 0x00);
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x35);
	/* Masked requests stay in IRR but do not interrupt. */
	outb(0x20, 0x65);
	outb(0x21, 0x80);
	pic_set_irq(pic, 7, 1);
	assert_int_equal(intr_level, 0);
	outb(0x20, 0x0a);
	assert_int_equal(inb(0x20) & 0x80, 0x80);
	outb(0x21, 0x00);
	assert_int_equal(pic_ack(pic), 0x37);
}

static void test_cascade(void **state)
{
	struct pic_stats st;

	linux_init(false);
	pic_set_irq(pic, 12, 1);
	pic_set_irq(pic, 12, 0);
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x3c);
	outb(0x20, 0x0b);
	outb(0xa0, 0x0b);
	assert_int_equal(inb(0x20), 0x04);
	assert_int_equal(inb(0xa0), 0x10);
	/* IRQ8 outranks IRQ12 on the slave, but the master's IR2 is in
	 * service, so it waits for the master's EOI. */
	pic_set_irq(pic, 8, 1);
	assert_int_equal(intr_level, 0);
	outb(0xa0, 0x64);		/* Linux: slave specific EOI ... */
	outb(0x20, 0x62);		/* ... then the cascade on the master */
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x38);
	/* Masking IR2 on the master hides the whole slave. */
	outb(0xa0, 0x60);
	outb(0x20, 0x62);
	outb(0x21, 0x04);
	pic_set_irq(pic, 8, 0);
	pic_set_irq(pic, 9, 1);
	assert_int_equal(intr_level, 0);
	outb(0x21, 0x00);
	assert_int_equal(pic_ack(pic), 0x39);
	outb(0xa0, 0x61);
	outb(0x20, 0x62);
	/* A level request that vanishes after the master latched the
	 * cascade gives the spurious IRQ15 vector, slave ISR untouched. */
	outb(0x4d1, 0x08);		/* IRQ11 level */
	pic_set_irq(pic, 11, 1);
	pic_set_irq(pic, 11, 0);
	assert_int_equal(pic_ack(pic), 0x3f);
	outb(0xa0, 0x0b);
	assert_int_equal(inb(0xa0), 0);
	pic_stats(pic, &st);
	assert_int_equal(st.spurious, 1);
}

static void test_elcr_level(void **state)
{
	linux_init(false);
	/* IRQ0-2, 8 and 13 cannot be level. */
	outb(0x4d0, 0xff);
	outb(0x4d1, 0xff);
	assert_int_equal(inb(0x4d0), 0xf8);
	assert_int_equal(inb(0x4d1), 0xde);
	outb(0x4d0, 0x20);		/* IRQ5 level */
	outb(0x4d1, 0x00);
	pic_set_irq(pic, 5, 1);
	assert_int_equal(pic_ack(pic), 0x35);
	/* Still asserted: requested again once EOI'd. */
	assert_int_equal(intr_level, 0);
	outb(0x20, 0x20);
	assert_int_equal(intr_level, 1);
	pic_set_irq(pic, 5, 0);		/* the device was serviced */
	assert_int_equal(intr_level, 0);
	assert_int_equal(pic_ack(pic), -1);
	outb(0x20, 0x0a);
	assert_int_equal(inb(0x20), 0);
}

static void test_auto_eoi_reasserts(void **state)
{
	linux_init(true);
	pic_set_irq(pic, 3, 1);
	pic_set_irq(pic, 4, 1);
	int calls = intr_calls;
	assert_int_equal(pic_ack(pic), 0x33);
	/* Nothing in service, IR4 still pending: INTR re-asserted. */
	assert_int_equal(intr_calls, calls + 1);
	assert_int_equal(intr_level, 1);
	outb(0x20, 0x0b);
	assert_int_equal(inb(0x20), 0);
	assert_int_equal(pic_ack(pic), 0x34);
	assert_int_equal(intr_level, 0);
}

static void test_rotation_and_poll(void **state)
{
	linux_init(false);
	/* Set priority: IR3 lowest, so IR4 is now the highest. */
	outb(0x20, 0xc3);
	pic_set_irq(pic, 1, 1);
	pic_set_irq(pic, 6, 1);
	assert_int_equal(pic_ack(pic), 0x36);
	outb(0x20, 0x20);
	/* Poll: a read of the command port acknowledges. */
	outb(0x20, 0x0c);
	assert_int_equal(inb(0x20), 0x81);
	outb(0x20, 0x0b);
	assert_int_equal(inb(0x20), 0x02);
	outb(0x20, 0x20);
	outb(0x20, 0x0c);
	assert_int_equal(inb(0x20), 0x00);
}

static void test_special_mask(void **state)
{
	linux_init(false);
	pic_set_irq(pic, 2 + 1, 1);
	assert_int_equal(pic_ack(pic), 0x33);
	/* In service IR3 blocks IR6... */
	pic_set_irq(pic, 6, 1);
	assert_int_equal(intr_level, 0);
	/* ...until IR3 is masked in special mask mode. */
	outb(0x21, 0x08);
	outb(0x20, 0x68);
	assert_int_equal(intr_level, 1);
	assert_int_equal(pic_ack(pic), 0x36);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_probe),
		T(test_init_and_vectors),
		T(test_priority_and_eoi),
		T(test_cascade),
		T(test_elcr_level),
		T(test_auto_eoi_reasserts),
		T(test_rotation_and_poll),
		T(test_special_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
