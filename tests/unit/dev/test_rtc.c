/* CMOS RTC: clock formats, status registers, NVRAM and the memory size
 * bytes, against a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "portio.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "dev/rtc.h"
#include "hw/iobus.h"

#define NS	1000000000LL
#define MIB	(1ULL << 20)
#define GIB	(1ULL << 30)

struct fixture {
	struct iobus *bus;
	struct rtc *rtc;
	int64_t now;	/* fake UTC, ns */
};

static int64_t fake_clock(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

/* 2024-02-29 13:45:56.5 UTC, a Thursday. */
static int64_t leap_day(void)
{
	struct tm tm = { .tm_year = 124, .tm_mon = 1, .tm_mday = 29,
			 .tm_hour = 13, .tm_min = 45, .tm_sec = 56 };
	return timegm(&tm) * NS + NS / 2;
}

static struct fixture *make(uint64_t below, uint64_t above)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rtc_config cfg = {
		.mem_below_4g = below, .mem_above_4g = above,
		.clock = fake_clock, .clock_opaque = f,
	};

	assert_non_null(f);
	f->now = leap_day();
	f->bus = iobus_new();
	assert_non_null(f->bus);
	f->rtc = rtc_new(&cfg);
	assert_non_null(f->rtc);
	assert_int_equal(rtc_register(f->rtc, f->bus), 0);
	return f;
}

static int setup(void **state)
{
	*state = make(3 * GIB, 2 * GIB);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rtc_free(f->rtc);
	iobus_free(f->bus);
	free(f);
	return 0;
}

static uint8_t cmos_read(struct fixture *f, uint8_t index)
{
	bus_out8(f->bus, 0x70, index);
	return bus_in8(f->bus, 0x71);
}

static void cmos_write(struct fixture *f, uint8_t index, uint8_t v)
{
	bus_out8(f->bus, 0x70, index);
	bus_out8(f->bus, 0x71, v);
}

static void test_bcd_24h(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, 0x0b), 0x02);	/* BCD, 24h */
	assert_int_equal(cmos_read(f, 0x00), 0x56);
	assert_int_equal(cmos_read(f, 0x02), 0x45);
	assert_int_equal(cmos_read(f, 0x04), 0x13);
	assert_int_equal(cmos_read(f, 0x06), 0x05);	/* Thursday */
	assert_int_equal(cmos_read(f, 0x07), 0x29);
	assert_int_equal(cmos_read(f, 0x08), 0x02);
	assert_int_equal(cmos_read(f, 0x09), 0x24);
	assert_int_equal(cmos_read(f, 0x32), 0x20);
}

static void test_binary_and_12h(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, 0x0b, 0x06);	/* binary, 24h */
	assert_int_equal(cmos_read(f, 0x00), 56);
	assert_int_equal(cmos_read(f, 0x04), 13);
	assert_int_equal(cmos_read(f, 0x09), 24);
	assert_int_equal(cmos_read(f, 0x32), 20);

	cmos_write(f, 0x0b, 0x04);	/* binary, 12h: 1 PM */
	assert_int_equal(cmos_read(f, 0x04), 0x80 | 1);
	cmos_write(f, 0x0b, 0x00);	/* BCD, 12h */
	assert_int_equal(cmos_read(f, 0x04), 0x81);

	f->now -= 13 * 3600 * NS;	/* midnight is 12 AM */
	assert_int_equal(cmos_read(f, 0x04), 0x12);
	f->now += 12 * 3600 * NS;	/* noon is 12 PM */
	assert_int_equal(cmos_read(f, 0x04), 0x92);
	f->now += 11 * 3600 * NS;	/* 23:xx is 11 PM */
	assert_int_equal(cmos_read(f, 0x04), 0x91);
}

static void test_clock_follows_host(void **state)
{
	struct fixture *f = *state;

	f->now += 4 * NS;	/* 13:46:00.5 */
	assert_int_equal(cmos_read(f, 0x00), 0x00);
	assert_int_equal(cmos_read(f, 0x02), 0x46);
	f->now += 10LL * 3600 * NS + 14 * 60 * NS;	/* next day, March 1st */
	assert_int_equal(cmos_read(f, 0x07), 0x01);
	assert_int_equal(cmos_read(f, 0x08), 0x03);
	assert_int_equal(cmos_read(f, 0x06), 0x06);
}

static void test_uip_window(void **state)
{
	struct fixture *f = *state;
	int64_t second = f->now - NS / 2;

	assert_int_equal(cmos_read(f, 0x0a), 0x26);
	f->now = second + NS - 100000;		/* 100 us before the update */
	assert_int_equal(cmos_read(f, 0x0a), 0x80 | 0x26);
	f->now = second + NS - 2228000;		/* start of the window */
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0x80);
	f->now = second + NS - 2228001;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	f->now = second + NS;			/* update done */
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	assert_int_equal(cmos_read(f, 0x00), 0x57);

	/* UIP is read-only and never set while the clock is stopped. */
	cmos_write(f, 0x0a, 0xa6);
	assert_int_equal(cmos_read(f, 0x0a), 0x26);
	cmos_write(f, 0x0b, 0x82);
	f->now = second + NS - 100000;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
}

static void test_reg_c_read_clears_and_d(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, 0x0d), 0x80);
	cmos_write(f, 0x0a, 0x20);	/* no periodic rate */
	cmos_read(f, 0x0c);
	assert_int_equal(cmos_read(f, 0x0c), 0);

	f->now += NS;			/* an update happened */
	assert_int_equal(cmos_read(f, 0x0c), 0x10);
	assert_int_equal(cmos_read(f, 0x0c), 0);

	cmos_write(f, 0x0b, 0x02 | 0x10);	/* UIE: IRQF too */
	f->now += NS;
	assert_int_equal(cmos_read(f, 0x0c), 0x80 | 0x10);
	assert_int_equal(cmos_read(f, 0x0c), 0);

	cmos_write(f, 0x0a, 0x26);	/* 1024 Hz periodic flag */
	f->now += NS / 1024 + 1;
	assert_int_equal(cmos_read(f, 0x0c), 0x40);
	assert_int_equal(cmos_read(f, 0x0c), 0);

	/* C and D ignore writes. */
	cmos_write(f, 0x0c, 0xff);
	cmos_write(f, 0x0d, 0x00);
	assert_int_equal(cmos_read(f, 0x0c), 0);
	assert_int_equal(cmos_read(f, 0x0d), 0x80);
}

static void test_nvram(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0x38; i < 0x80; i++)
		cmos_write(f, i, i ^ 0xa5);
	for (unsigned i = 0x38; i < 0x80; i++)
		assert_int_equal(cmos_read(f, i), i ^ 0xa5);
	/* Bit 7 of the index is the NMI mask: same register. */
	cmos_write(f, 0x80 | 0x40, 0x11);
	assert_int_equal(cmos_read(f, 0x40), 0x11);
	/* Alarm registers are storage. */
	cmos_write(f, 0x01, 0x30);
	assert_int_equal(cmos_read(f, 0x01), 0x30);
	/* Port 0x70 is write-only. */
	assert_int_equal(bus_in8(f->bus, 0x70), 0xff);
}

static unsigned word(struct fixture *f, uint8_t lo)
{
	return cmos_read(f, lo) | cmos_read(f, lo + 1) << 8;
}

static void check_checksum(struct fixture *f)
{
	unsigned sum = 0;

	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += cmos_read(f, i);
	assert_int_equal(cmos_read(f, 0x2e) << 8 | cmos_read(f, 0x2f),
			 sum & 0xffff);
}

static void test_memory_size_large(void **state)
{
	struct fixture *f = *state;	/* 3 GiB below 4G, 2 GiB above */

	assert_int_equal(word(f, 0x15), 640);
	assert_int_equal(word(f, 0x17), 0xffff);
	assert_int_equal(word(f, 0x30), 0xffff);
	assert_int_equal(word(f, 0x34), (3 * GIB - 16 * MIB) / 65536);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 |
			 cmos_read(f, 0x5d) << 16, 2 * GIB / 65536);
	check_checksum(f);
}

static void test_memory_size_small(void **state)
{
	struct fixture *f = make(8 * MIB, 0);

	*state = f;
	assert_int_equal(word(f, 0x15), 640);
	assert_int_equal(word(f, 0x17), 7 * 1024);
	assert_int_equal(word(f, 0x30), 7 * 1024);
	assert_int_equal(word(f, 0x34), 0);
	assert_int_equal(cmos_read(f, 0x5b), 0);
	assert_int_equal(cmos_read(f, 0x5c), 0);
	assert_int_equal(cmos_read(f, 0x5d), 0);
	check_checksum(f);
}

static void test_set_time(void **state)
{
	struct fixture *f = *state;

	/* The Linux way: SET, write, clear SET. */
	cmos_write(f, 0x0b, 0x82);
	f->now += 5 * NS;			/* frozen meanwhile */
	assert_int_equal(cmos_read(f, 0x00), 0x56);
	cmos_write(f, 0x04, 0x07);
	cmos_write(f, 0x02, 0x30);
	cmos_write(f, 0x00, 0x00);
	cmos_write(f, 0x09, 0x30);
	cmos_write(f, 0x0b, 0x02);
	assert_int_equal(cmos_read(f, 0x04), 0x07);
	assert_int_equal(cmos_read(f, 0x02), 0x30);
	assert_int_equal(cmos_read(f, 0x09), 0x30);
	assert_int_equal(cmos_read(f, 0x06), 0x06);	/* 2030-02-29 is... */
	assert_int_equal(cmos_read(f, 0x08), 0x03);	/* ...March 1st */
	f->now += 61 * NS;
	assert_int_equal(cmos_read(f, 0x00), 0x01);
	assert_int_equal(cmos_read(f, 0x02), 0x31);

	/* Without SET a write applies at once. */
	cmos_write(f, 0x04, 0x22);
	assert_int_equal(cmos_read(f, 0x04), 0x22);
	assert_int_equal(cmos_read(f, 0x02), 0x31);
}

static void test_nvram_set(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rtc_nvram_set(f->rtc, 0x00, 1), -EINVAL);
	assert_int_equal(rtc_nvram_set(f->rtc, 0x0d, 1), -EINVAL);
	assert_int_equal(rtc_nvram_set(f->rtc, 0x32, 1), -EINVAL);
	assert_int_equal(rtc_nvram_set(f->rtc, 0x80, 1), -EINVAL);
	assert_int_equal(rtc_nvram_set(f->rtc, 0x14, 0x06), 0);
	assert_int_equal(cmos_read(f, 0x14), 0x06);
	check_checksum(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_bcd_24h),
		T(test_binary_and_12h),
		T(test_clock_follows_host),
		T(test_uip_window),
		T(test_reg_c_read_clears_and_d),
		T(test_nvram),
		T(test_memory_size_large),
		cmocka_unit_test_teardown(test_memory_size_small, teardown),
		T(test_set_time),
		T(test_nvram_set),
#undef T
	};
	return cmocka_run_group_tests_name("dev-rtc", tests, NULL, NULL);
}
