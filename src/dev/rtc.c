#include "dev/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "hw/iobus.h"

enum {
	REG_SEC = 0x00, REG_MIN = 0x02, REG_HOUR = 0x04, REG_WDAY = 0x06,
	REG_MDAY = 0x07, REG_MON = 0x08, REG_YEAR = 0x09,
	REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
	REG_CENTURY = 0x32,
};

#define A_UIP		0x80
#define A_RS		0x0f
#define B_SET		0x80
#define B_PIE		0x40
#define B_AIE		0x20
#define B_UIE		0x10
#define B_DM_BINARY	0x04
#define B_24H		0x02
#define C_IRQF		0x80
#define C_PF		0x40
#define C_UF		0x10
#define D_VRT		0x80
#define HOUR_PM		0x80

#define NS_PER_SEC	1000000000LL
/* UIP leads the update by 244 us; the update itself takes up to 1984 us. */
#define UIP_WINDOW_NS	(244000LL + 1984000LL)

#define CKSUM_FIRST	0x10
#define CKSUM_LAST	0x2d
#define CKSUM_HI	0x2e
#define CKSUM_LO	0x2f

struct rtc {
	pthread_mutex_t lock;	/* everything below */
	struct rtc_config cfg;
	uint8_t index;
	uint8_t cmos[RTC_NVRAM_SIZE];	/* time registers valid while SET */
	int64_t offset;		/* guest time - host time, in seconds */
	int64_t c_read_ns;	/* host time of the last read of register C */
};

static int64_t host_ns(const struct rtc *r)
{
	struct timespec ts;

	if (r->cfg.clock)
		return r->cfg.clock(r->cfg.clock_opaque);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static bool binary(const struct rtc *r)
{
	return r->cmos[REG_B] & B_DM_BINARY;
}

static uint8_t enc(const struct rtc *r, unsigned v)
{
	return binary(r) ? v : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned dec(const struct rtc *r, uint8_t v)
{
	return binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static bool is_time_reg(unsigned i)
{
	return i == REG_SEC || i == REG_MIN || i == REG_HOUR ||
	       (i >= REG_WDAY && i <= REG_YEAR) || i == REG_CENTURY;
}

/* Format the guest's current time into the time registers. */
static void snapshot(struct rtc *r, int64_t now_ns)
{
	time_t t = floor_div(now_ns, NS_PER_SEC) + r->offset;
	struct tm tm;
	unsigned year, hour;

	gmtime_r(&t, &tm);
	year = tm.tm_year + 1900;
	r->cmos[REG_SEC] = enc(r, tm.tm_sec);
	r->cmos[REG_MIN] = enc(r, tm.tm_min);
	if (r->cmos[REG_B] & B_24H) {
		r->cmos[REG_HOUR] = enc(r, tm.tm_hour);
	} else {
		hour = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
		r->cmos[REG_HOUR] = enc(r, hour) |
				    (tm.tm_hour >= 12 ? HOUR_PM : 0);
	}
	r->cmos[REG_WDAY] = enc(r, tm.tm_wday + 1);
	r->cmos[REG_MDAY] = enc(r, tm.tm_mday);
	r->cmos[REG_MON] = enc(r, tm.tm_mon + 1);
	r->cmos[REG_YEAR] = enc(r, year % 100);
	r->cmos[REG_CENTURY] = enc(r, year / 100);
}

/* Make the time in the registers the guest's current time. */
static void commit(struct rtc *r, int64_t now_ns)
{
	struct tm tm = { 0 };
	uint8_t h = r->cmos[REG_HOUR];
	unsigned century = dec(r, r->cmos[REG_CENTURY]);
	time_t t;

	if (century < 19 || century > 99)
		century = 20;
	tm.tm_sec = dec(r, r->cmos[REG_SEC]);
	tm.tm_min = dec(r, r->cmos[REG_MIN]);
	if (r->cmos[REG_B] & B_24H)
		tm.tm_hour = dec(r, h);
	else
		tm.tm_hour = dec(r, h & ~HOUR_PM) % 12 + (h & HOUR_PM ? 12 : 0);
	tm.tm_mday = dec(r, r->cmos[REG_MDAY]);
	tm.tm_mon = dec(r, r->cmos[REG_MON]) - 1;
	tm.tm_year = century * 100 + dec(r, r->cmos[REG_YEAR]) - 1900;
	t = timegm(&tm);	/* normalizes out-of-range fields */
	if (t != (time_t)-1)
		r->offset = t - floor_div(now_ns, NS_PER_SEC);
}

static uint8_t read_c(struct rtc *r, int64_t now)
{
	unsigned rs = r->cmos[REG_A] & A_RS;
	uint8_t c = 0, b = r->cmos[REG_B];

	if (!(b & B_SET) &&
	    floor_div(now, NS_PER_SEC) != floor_div(r->c_read_ns, NS_PER_SEC))
		c |= C_UF;
	if (rs) {
		/* RS 1 and 2 repeat RS 8 and 9 with a 32.768 kHz time base. */
		int64_t period = NS_PER_SEC / (65536 >> (rs < 3 ? rs + 7 : rs));
		if (floor_div(now, period) != floor_div(r->c_read_ns, period))
			c |= C_PF;
	}
	if (((c & C_UF) && (b & B_UIE)) || ((c & C_PF) && (b & B_PIE)))
		c |= C_IRQF;
	r->c_read_ns = now;
	return c;
}

static uint8_t reg_read(struct rtc *r, unsigned i)
{
	int64_t now = host_ns(r);
	bool set = r->cmos[REG_B] & B_SET;

	if (is_time_reg(i)) {
		if (!set)
			snapshot(r, now);
		return r->cmos[i];
	}
	switch (i) {
	case REG_A:
		if (!set && now - floor_div(now, NS_PER_SEC) * NS_PER_SEC >=
			    NS_PER_SEC - UIP_WINDOW_NS)
			return r->cmos[REG_A] | A_UIP;
		return r->cmos[REG_A];
	case REG_C:
		return read_c(r, now);
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[i];
	}
}

static void reg_write(struct rtc *r, unsigned i, uint8_t v)
{
	int64_t now = host_ns(r);
	bool set = r->cmos[REG_B] & B_SET;

	if (is_time_reg(i)) {
		if (!set)
			snapshot(r, now);
		r->cmos[i] = v;
		if (!set)
			commit(r, now);
		return;
	}
	switch (i) {
	case REG_A:
		r->cmos[REG_A] = v & ~A_UIP;
		break;
	case REG_B:
		if (!set && (v & B_SET))
			snapshot(r, now);	/* freeze what the guest sees */
		if (v & B_SET)
			v &= ~B_UIE;
		r->cmos[REG_B] = v;
		if (set && !(v & B_SET))
			commit(r, now);
		break;
	case REG_C:
	case REG_D:
		break;	/* read-only */
	default:
		r->cmos[i] = v;
	}
}

static int rtc_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		  void *data, unsigned len, bool is_write)
{
	struct rtc *r = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port == 0 && is_write)
			r->index = b[i] & 0x7f;	/* bit 7: NMI mask, ignored */
		else if (port == 1 && is_write)
			reg_write(r, r->index, b[i]);
		else if (port == 1)
			b[i] = reg_read(r, r->index);
		else if (!is_write)
			b[i] = 0xff;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void put16(uint8_t *p, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	p[0] = v;
	p[1] = v >> 8;
}

static void update_checksum(struct rtc *r)
{
	unsigned sum = 0;

	for (unsigned i = CKSUM_FIRST; i <= CKSUM_LAST; i++)
		sum += r->cmos[i];
	r->cmos[CKSUM_HI] = sum >> 8;
	r->cmos[CKSUM_LO] = sum;
}

static void fill_memory_size(struct rtc *r)
{
	uint64_t lo = r->cfg.mem_below_4g, hi = r->cfg.mem_above_4g;
	uint64_t base_kib = lo / 1024 < 640 ? lo / 1024 : 640;
	uint64_t ext_kib = lo > (1 << 20) ? (lo - (1 << 20)) / 1024 : 0;
	uint64_t blk16 = lo > (16 << 20) ? (lo - (16 << 20)) / 65536 : 0;
	uint64_t blk4g = hi / 65536;

	put16(&r->cmos[0x15], base_kib);
	put16(&r->cmos[0x17], ext_kib);
	put16(&r->cmos[0x30], ext_kib);
	put16(&r->cmos[0x34], blk16);
	if (blk4g > 0xffffff)
		blk4g = 0xffffff;
	r->cmos[0x5b] = blk4g;
	r->cmos[0x5c] = blk4g >> 8;
	r->cmos[0x5d] = blk4g >> 16;
	update_checksum(r);
}

struct rtc *rtc_new(const struct rtc_config *cfg)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *cfg;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[REG_A] = 0x26;	/* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[REG_B] = B_24H;	/* BCD, 24-hour: what PC firmware leaves */
	r->c_read_ns = host_ns(r);
	fill_memory_size(r);
	return r;
}

void rtc_free(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rtc_register(struct rtc *r, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, RTC_BASE, RTC_NR_PORTS, rtc_io, r,
			      "rtc");
}

int rtc_nvram_set(struct rtc *r, unsigned index, uint8_t val)
{
	if (index <= REG_D || index >= RTC_NVRAM_SIZE || is_time_reg(index))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->cmos[index] = val;
	if (index >= CKSUM_FIRST && index <= CKSUM_LAST)
		update_checksum(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}
