#include "dev/pit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "hw/iobus.h"

#define NS_PER_SEC	1000000000LL
#define REFRESH_NS	15085	/* port 0x61 bit 4 half-period */

#define RW_LATCH	0
#define RW_LSB		1
#define RW_MSB		2
#define RW_WORD		3

#define PORTB_GATE2	0x01
#define PORTB_RW	0x0f
#define PORTB_REFRESH	0x10
#define PORTB_OUT2	0x20

struct channel {
	uint8_t mode, rw;
	bool bcd;
	uint32_t n;		/* count in effect: 1..65536 (1..10000 BCD) */
	bool loaded;		/* a count was written after the control word */
	bool wr_msb_next;	/* LSB-then-MSB write: LSB is in wr_lsb */
	uint8_t wr_lsb;
	bool rd_msb_next;	/* LSB-then-MSB read flip-flop */
	bool count_latched, status_latched;
	uint16_t latch;
	uint8_t status;
	bool null_count;
	bool gate;
	bool triggered;		/* modes 1 and 5: a gate edge started it */
	int64_t start;		/* clock when counting (re)started */
	uint64_t frozen;	/* ticks counted before start */
	uint64_t fired;		/* output edges already delivered */
};

struct pit {
	pthread_mutex_t lock;	/* everything below but the thread fields */
	struct pit_config cfg;
	struct channel ch[3];
	uint8_t portb;		/* bits 0-3 as written */
	struct pit_stats stats;
	int64_t last_irq;	/* when channel 0 last pulsed; 0: never */

	pthread_t thread;
	bool thread_started;
	int timer_fd, stop_fd;
};

static int64_t now_ns(const struct pit *p)
{
	struct timespec ts;

	if (p->cfg.clock)
		return p->cfg.clock(p->cfg.clock_opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static uint64_t ns_to_ticks(int64_t ns)
{
	return ns <= 0 ? 0 : (unsigned __int128)ns * PIT_HZ / NS_PER_SEC;
}

static int64_t ticks_to_ns(uint64_t t)
{
	return ((unsigned __int128)t * NS_PER_SEC + PIT_HZ - 1) / PIT_HZ;
}

static bool gated_by_edge(const struct channel *c)
{
	return c->mode == 1 || c->mode == 5;
}

static bool running(const struct channel *c)
{
	return c->loaded && (gated_by_edge(c) ? c->triggered : c->gate);
}

/* Ticks counted since the count was loaded (or retriggered). */
static uint64_t elapsed(const struct channel *c, int64_t now)
{
	return c->frozen + (running(c) ? ns_to_ticks(now - c->start) : 0);
}

static uint32_t modulus(const struct channel *c)
{
	return c->bcd ? 10000 : 65536;
}

/* Counting-element value, binary, before any BCD conversion. */
static uint32_t count_value(const struct channel *c, int64_t now)
{
	uint64_t t = elapsed(c, now), m = modulus(c), n = c->n;
	uint64_t half, phase;

	if (!c->loaded || (gated_by_edge(c) && !c->triggered))
		return c->n % m;
	switch (c->mode) {
	case 2:
		return n - t % n;
	case 3:
		half = (n + 1) / 2;
		phase = t % n;
		if (phase >= half)
			phase -= half;
		return ((n & ~1ULL) - 2 * phase) % m;
	default:	/* 0, 1, 4, 5 count down and wrap */
		return (n + m - t % m) % m;
	}
}

static bool output(const struct channel *c, int64_t now)
{
	uint64_t t = elapsed(c, now), n = c->n;

	if (!c->loaded)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
		return t >= n;
	case 1:
		return !c->triggered || t >= n;
	case 2:
		return !c->gate || t % n != n - 1;
	case 3:
		return !c->gate || t % n < (n + 1) / 2;
	default:	/* 4, 5: one tick low at terminal count */
		return (c->mode == 5 && !c->triggered) || t != n;
	}
}

/* Tick at which a one-shot mode's output rises: at terminal count in
 * modes 0 and 1, one tick after the strobe in modes 4 and 5. */
static uint64_t one_shot_edge(const struct channel *c)
{
	return c->mode >= 4 ? c->n + 1ULL : c->n;
}

/* Rising edges of the output within the first t ticks. */
static uint64_t edges(const struct channel *c, uint64_t t)
{
	if (c->mode == 2 || c->mode == 3)
		return t / c->n;
	return t >= one_shot_edge(c);
}

static uint8_t to_bcd(uint32_t v)
{
	return (v / 10 % 10) << 4 | v % 10;
}

static uint16_t encode(const struct channel *c, uint32_t v)
{
	if (!c->bcd)
		return v;	/* 65536 never appears: values are mod 2^16 */
	return to_bcd(v / 100) << 8 | to_bcd(v % 100);
}

static uint32_t decode(const struct channel *c, uint16_t raw)
{
	uint32_t v = raw;

	if (c->bcd)
		v = (raw >> 12 & 0xf) * 1000 + (raw >> 8 & 0xf) * 100 +
		    (raw >> 4 & 0xf) * 10 + (raw & 0xf);
	return v ? v : modulus(c);
}

/* Time of channel 0's next interrupt, or PIT_NO_DEADLINE. */
static int64_t deadline(const struct pit *p)
{
	const struct channel *c = &p->ch[0];
	uint64_t next;

	if (!running(c))
		return PIT_NO_DEADLINE;
	if (c->mode == 2 || c->mode == 3)
		next = (c->fired + 1) * (uint64_t)c->n;
	else if (c->fired)
		return PIT_NO_DEADLINE;
	else
		next = one_shot_edge(c);
	if (next <= c->frozen)
		return c->start;
	return c->start + ticks_to_ns(next - c->frozen);
}

/* When to wake next: channel 0's deadline, but a periodic channel no
 * sooner than PIT_MIN_PERIOD_NS after its last pulse, like the LAPIC
 * timer's floor. A guest that programs a count of 1 (838 ns) would
 * otherwise wake this thread over a million times a second, each wake a
 * network frame when the interrupt goes to a vCPU on another node; the
 * periods in between are merged and counted (stats.coalesced), as a
 * late host would merge them anyway. */
static int64_t next_wake(const struct pit *p)
{
	const struct channel *c = &p->ch[0];
	int64_t d = deadline(p);

	if (d != PIT_NO_DEADLINE && p->last_irq && (c->mode == 2 || c->mode == 3) &&
	    d < p->last_irq + PIT_MIN_PERIOD_NS)
		d = p->last_irq + PIT_MIN_PERIOD_NS;
	return d;
}

static void rearm(struct pit *p)
{
	struct itimerspec its = { 0 };
	int64_t d;

	if (!p->thread_started)
		return;
	d = next_wake(p);
	if (d != PIT_NO_DEADLINE) {
		if (d <= 0)
			d = 1;	/* zero would disarm */
		its.it_value.tv_sec = d / NS_PER_SEC;
		its.it_value.tv_nsec = d % NS_PER_SEC;
	}
	if (timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		pr_err("pit: timerfd_settime: %s", strerror(errno));
}

static int64_t poll_locked(struct pit *p)
{
	struct channel *c = &p->ch[0];
	uint64_t total;

	if (running(c)) {
		int64_t now = now_ns(p);

		total = edges(c, elapsed(c, now));
		if (total > c->fired && p->last_irq &&
		    now < p->last_irq + PIT_MIN_PERIOD_NS &&
		    (c->mode == 2 || c->mode == 3))
			total = c->fired;	/* too soon: merged into the next */
		if (total > c->fired) {
			p->stats.coalesced += total - c->fired - 1;
			p->stats.irqs++;
			c->fired = total;
			p->last_irq = now;
			irq_line_pulse(&p->cfg.irq0);
		}
	}
	return next_wake(p);
}

static void set_gate(struct channel *c, bool gate, int64_t now)
{
	if (gate == c->gate)
		return;
	if (!gate) {
		if (!gated_by_edge(c))	/* 0, 2, 3, 4 stop counting */
			c->frozen = elapsed(c, now);
		c->gate = false;
		return;
	}
	c->gate = true;
	c->start = now;
	if (c->mode == 2 || c->mode == 3 || gated_by_edge(c)) {
		/* Rising gate reloads (2, 3) or triggers (1, 5) the count. */
		c->frozen = 0;
		c->fired = 0;
		c->triggered = c->loaded;
	}
}

static void load(struct channel *c, uint16_t raw, int64_t now)
{
	c->n = decode(c, raw);
	c->loaded = true;
	c->null_count = false;
	c->start = now;
	c->frozen = 0;
	c->fired = 0;
	c->triggered = false;
}

static void write_counter(struct pit *p, unsigned i, uint8_t v, int64_t now)
{
	struct channel *c = &p->ch[i];

	switch (c->rw) {
	case RW_LSB:
		load(c, v, now);
		break;
	case RW_MSB:
		load(c, v << 8, now);
		break;
	default:
		if (!c->wr_msb_next) {
			c->wr_lsb = v;
			c->wr_msb_next = true;
			c->null_count = true;
		} else {
			c->wr_msb_next = false;
			load(c, c->wr_lsb | v << 8, now);
		}
	}
}

static uint8_t read_counter(struct pit *p, unsigned i, int64_t now)
{
	struct channel *c = &p->ch[i];
	uint16_t v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->count_latched ? c->latch : encode(c, count_value(c, now));
	switch (c->rw) {
	case RW_LSB:
		msb = false;
		c->count_latched = false;
		break;
	case RW_MSB:
		msb = true;
		c->count_latched = false;
		break;
	default:
		msb = c->rd_msb_next;
		c->rd_msb_next = !msb;
		if (msb)
			c->count_latched = false;
	}
	return msb ? v >> 8 : v & 0xff;
}

static void latch_count(struct channel *c, int64_t now)
{
	if (!c->count_latched) {
		c->latch = encode(c, count_value(c, now));
		c->count_latched = true;
	}
}

static void latch_status(struct channel *c, int64_t now)
{
	if (!c->status_latched) {
		c->status = output(c, now) << 7 | c->null_count << 6 |
			    c->rw << 4 | c->mode << 1 | c->bcd;
		c->status_latched = true;
	}
}

static void write_control(struct pit *p, uint8_t v, int64_t now)
{
	unsigned sel = v >> 6, rw = v >> 4 & 3, mode = v >> 1 & 7;
	struct channel *c;

	if (sel == 3) {		/* read-back */
		for (unsigned i = 0; i < 3; i++) {
			if (!(v & 2 << i))
				continue;
			if (!(v & 0x20))
				latch_count(&p->ch[i], now);
			if (!(v & 0x10))
				latch_status(&p->ch[i], now);
		}
		return;
	}
	c = &p->ch[sel];
	if (rw == RW_LATCH) {
		latch_count(c, now);
		return;
	}
	c->mode = mode > 5 ? mode - 4 : mode;
	c->rw = rw;
	c->bcd = v & 1;
	c->loaded = false;
	c->wr_msb_next = c->rd_msb_next = false;
	c->count_latched = c->status_latched = false;
	c->null_count = true;
	c->triggered = false;
	c->frozen = c->fired = 0;
}

static int pit_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		  void *data, unsigned len, bool is_write)
{
	struct pit *p = opaque;
	uint8_t *b = data;
	int64_t now;

	pthread_mutex_lock(&p->lock);
	now = now_ns(p);
	for (unsigned i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port >= PIT_NR_PORTS) {
			if (!is_write)
				b[i] = 0xff;
		} else if (port == 3) {
			if (is_write)
				write_control(p, b[i], now);
			else
				b[i] = 0xff;	/* the control word is write-only */
		} else if (is_write) {
			write_counter(p, port, b[i], now);
		} else {
			b[i] = read_counter(p, port, now);
		}
	}
	if (is_write)
		rearm(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int portb_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		    void *data, unsigned len, bool is_write)
{
	struct pit *p = opaque;
	uint8_t *b = data;
	int64_t now;

	pthread_mutex_lock(&p->lock);
	now = now_ns(p);
	if (is_write) {
		p->portb = b[0] & PORTB_RW;
		set_gate(&p->ch[2], b[0] & PORTB_GATE2, now);
	} else {
		b[0] = p->portb;
		if (now / REFRESH_NS & 1)
			b[0] |= PORTB_REFRESH;
		if (output(&p->ch[2], now))
			b[0] |= PORTB_OUT2;
		for (unsigned i = 1; i < len; i++)
			b[i] = 0xff;	/* 0x62.. are not ours */
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int64_t pit_poll(struct pit *p)
{
	int64_t d;

	pthread_mutex_lock(&p->lock);
	d = poll_locked(p);
	rearm(p);
	pthread_mutex_unlock(&p->lock);
	return d;
}

static void *timer_thread(void *arg)
{
	struct pit *p = arg;

	confine_thread(CONFINE_DEVICE, 0);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = p->timer_fd, .events = POLLIN },
			{ .fd = p->stop_fd, .events = POLLIN },
		};
		uint64_t expirations;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("pit: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (read(p->timer_fd, &expirations, sizeof(expirations)) < 0 &&
		    errno != EAGAIN)
			pr_debug("pit: timerfd read: %s", strerror(errno));
		pit_poll(p);
	}
	return NULL;
}

struct pit *pit_new(const struct pit_config *cfg)
{
	struct pit *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->timer_fd = p->stop_fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	for (unsigned i = 0; i < 3; i++) {
		p->ch[i].gate = i != 2;	/* 0 and 1 tied high; 2 is port B */
		p->ch[i].n = 65536;
	}
	if (cfg->clock)
		return p;

	p->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_CLOEXEC | TFD_NONBLOCK);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->timer_fd < 0 || p->stop_fd < 0) {
		err = errno;
		goto fail;
	}
	err = pthread_create(&p->thread, NULL, timer_thread, p);
	if (err)
		goto fail;
	p->thread_started = true;
	return p;

fail:
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
	errno = err;
	return NULL;
}

void pit_free(struct pit *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (p->thread_started) {
		if (write(p->stop_fd, &one, sizeof(one)) < 0)
			pr_err("pit: stop: %s", strerror(errno));
		pthread_join(p->thread, NULL);
		close(p->timer_fd);
		close(p->stop_fd);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pit_register(struct pit *p, struct iobus *bus)
{
	int r = iobus_register(bus, IO_PIO, PIT_BASE, PIT_NR_PORTS, pit_io, p,
			       "pit");
	if (r)
		return r;
	return iobus_register(bus, IO_PIO, PIT_PORT_B, 1, portb_io, p,
			      "port-b");
}

void pit_get_stats(struct pit *p, struct pit_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}
