#include "dev/uart.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "util/outfd.h"
#include "hw/iobus.h"

/* Register offsets. */
enum {
	REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
	REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_ERBFI	0x01	/* received data available */
#define IER_ETBEI	0x02	/* THR empty */
#define IER_ELSI	0x04	/* receiver line status */
#define IER_EDSSI	0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NONE	0x01
#define IIR_MSR		0x00
#define IIR_THRE	0x02
#define IIR_RDA		0x04
#define IIR_RLS		0x06
#define IIR_TIMEOUT	0x0c
#define IIR_FIFO_ON	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_KEEP	0xc9	/* enable, DMA mode, trigger level */

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

#define RX_FIFO		16
#define OBUF_SIZE	256
#define IDLE_FLUSH_MS	10
#define IDLE_FLUSH_NS	(IDLE_FLUSH_MS * 1000000LL)

struct uart {
	pthread_mutex_t lock;	/* everything below */
	struct uart_config cfg;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t lsr_err;	/* latched OE, cleared by an LSR read */
	uint8_t msr_delta;	/* MSR bits 0-3, cleared by an MSR read */
	uint8_t rbr;		/* last byte handed to the guest */
	bool thre_pending;
	int irq_level;

	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;

	char obuf[OBUF_SIZE];
	unsigned olen;
	int64_t obuf_since;	/* CLOCK_MONOTONIC ns of obuf[0] */
	struct outfd out;	/* cfg.out_fd, bounded (util/outfd.h) */

	/* The service thread reads in_fd while the FIFO has room and flushes
	 * idle output; wake_fd tells it that either may have changed. */
	pthread_t thread;
	bool thread_started;
	bool stop;
	bool in_open;
	int wake_fd;

	struct uart_stats stats;
};

static bool fifo_on(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned rx_cap(const struct uart *u)
{
	return fifo_on(u) ? RX_FIFO : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };
	return fifo_on(u) ? level[u->fcr >> 6] : 1;
}

static void wake_thread(struct uart *u)
{
	uint64_t one = 1;

	if (u->thread_started && write(u->wake_fd, &one, sizeof(one)) < 0)
		pr_debug("%s: wake: %s", u->cfg.name, strerror(errno));
}

/* Highest-priority pending and enabled source, as IIR bits 3:0. */
static uint8_t pending(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && u->lsr_err)
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return u->rx_count >= rx_trigger(u) ? IIR_RDA : IIR_TIMEOUT;
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && u->msr_delta)
		return IIR_MSR;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	int level = pending(u) != IIR_NONE && (u->mcr & MCR_OUT2) &&
		    !(u->mcr & MCR_LOOP);

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (level)
		u->stats.irqs++;
	irq_line_set(&u->cfg.irq, level);
}

static void flush_locked(struct uart *u)
{
	if (!u->olen)
		return;
	/* util/outfd.h: at most OUTFD_STALL_MS, then dropped and counted. */
	u->stats.tx_dropped += outfd_write(&u->out, u->obuf, u->olen);
	u->olen = 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void transmit(struct uart *u, uint8_t b)
{
	u->stats.tx_bytes++;
	u->obuf[u->olen++] = b;
	if (b == '\n' || u->olen == OBUF_SIZE) {
		flush_locked(u);
	} else if (u->olen == 1) {
		u->obuf_since = mono_ns();
		wake_thread(u);	/* start the flush clock */
	}
}

static void rx_clear(struct uart *u)
{
	bool was_full = u->rx_count >= rx_cap(u);

	u->rx_head = u->rx_count = 0;
	if (was_full)
		wake_thread(u);
}

/* Returns false if the FIFO is full. */
static bool rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_count >= rx_cap(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = b;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart *u)
{
	if (!u->rx_count)
		return u->rbr;
	if (u->rx_count == rx_cap(u))
		wake_thread(u);
	u->rbr = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % RX_FIFO;
	u->rx_count--;
	return u->rbr;
}

/* Modem input lines as MSR bits 7:4. */
static uint8_t modem_lines(uint8_t mcr)
{
	uint8_t s = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (mcr & MCR_RTS)
		s |= MSR_CTS;
	if (mcr & MCR_DTR)
		s |= MSR_DSR;
	if (mcr & MCR_OUT1)
		s |= MSR_RI;
	if (mcr & MCR_OUT2)
		s |= MSR_DCD;
	return s;
}

static void write_mcr(struct uart *u, uint8_t v)
{
	uint8_t old = modem_lines(u->mcr), new = modem_lines(v & MCR_MASK);
	uint8_t changed = old ^ new;
	bool left_loop = (u->mcr & MCR_LOOP) && !(v & MCR_LOOP);

	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
	if ((old & MSR_RI) && !(new & MSR_RI))
		u->msr_delta |= MSR_TERI;
	u->mcr = v & MCR_MASK;
	if (left_loop)
		wake_thread(u);	/* host input may flow again */
}

static void write_fcr(struct uart *u, uint8_t v)
{
	/* Toggling the FIFO enable resets both FIFOs, like the chip. */
	if ((v ^ u->fcr) & FCR_ENABLE || (v & FCR_CLEAR_RX))
		rx_clear(u);
	u->fcr = v & FCR_KEEP;
}

static void reg_write(struct uart *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab) {
			u->dll = v;
		} else if (u->mcr & MCR_LOOP) {
			if (!rx_push(u, v)) {
				u->lsr_err |= LSR_OE;
				u->stats.rx_overruns++;
			}
			u->thre_pending = true;
		} else {
			transmit(u, v);
			/* The byte leaves at once: THR is empty again. */
			u->thre_pending = true;
		}
		break;
	case REG_IER:
		if (dlab) {
			u->dlm = v;
			break;
		}
		if (!(u->ier & IER_ETBEI) && (v & IER_ETBEI))
			u->thre_pending = true;
		u->ier = v & IER_MASK;
		flush_locked(u);
		break;
	case REG_IIR_FCR:
		write_fcr(u, v);
		flush_locked(u);
		break;
	case REG_LCR:
		u->lcr = v;
		flush_locked(u);
		break;
	case REG_MCR:
		write_mcr(u, v);
		flush_locked(u);
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default:	/* LSR, MSR: factory test writes, ignored */
		break;
	}
}

static uint8_t reg_read(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR:
		return dlab ? u->dll : rx_pop(u);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		v = pending(u);
		if (v == IIR_THRE)
			u->thre_pending = false;
		return v | (fifo_on(u) ? IIR_FIFO_ON : 0);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | u->lsr_err | (u->rx_count ? LSR_DR : 0);
		u->lsr_err = 0;
		return v;
	case REG_MSR:
		v = modem_lines(u->mcr) | u->msr_delta;
		u->msr_delta = 0;
		return v;
	default:
		return u->scr;
	}
}

static int uart_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		   void *data, unsigned len, bool is_write)
{
	struct uart *u = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&u->lock);
	/* A wide access is a run of byte accesses, as on the ISA bus. */
	for (unsigned i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (reg >= UART_NR_PORTS) {
			if (!is_write)
				b[i] = 0xff;
		} else if (is_write) {
			reg_write(u, reg, b[i]);
		} else {
			b[i] = reg_read(u, reg);
		}
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* Reads whatever fits into the FIFO. Called with the lock held; the read
 * cannot block because poll() said in_fd is readable. */
static void take_input(struct uart *u)
{
	uint8_t buf[RX_FIFO];
	unsigned room = rx_cap(u) - u->rx_count;
	ssize_t n;

	if (!room || (u->mcr & MCR_LOOP))
		return;
	n = read(u->cfg.in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		pr_debug("%s: input closed%s%s", u->cfg.name, n ? ": " : "",
			 n ? strerror(errno) : "");
		u->in_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		rx_push(u, buf[i]);
	u->stats.rx_bytes += n;
	update_irq(u);
}

static void *service_thread(void *arg)
{
	struct uart *u = arg;

	confine_thread(CONFINE_DEVICE, 0);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = u->wake_fd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		int timeout, r;

		pthread_mutex_lock(&u->lock);
		if (u->stop) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		if (u->in_open && !(u->mcr & MCR_LOOP) &&
		    u->rx_count < rx_cap(u))
			pfd[1].fd = u->cfg.in_fd;
		timeout = -1;
		if (u->olen) {
			int64_t left = u->obuf_since + IDLE_FLUSH_NS - mono_ns();
			timeout = left > 0 ? (int)(left / 1000000) + 1 : 0;
		}
		pthread_mutex_unlock(&u->lock);

		r = poll(pfd, 2, timeout);
		if (r < 0 && errno != EINTR) {
			pr_err("%s: poll: %s", u->cfg.name, strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			if (read(u->wake_fd, &v, sizeof(v)) < 0)
				pr_debug("%s: wake read: %s", u->cfg.name,
					 strerror(errno));
		}

		pthread_mutex_lock(&u->lock);
		if (u->olen && mono_ns() - u->obuf_since >= IDLE_FLUSH_NS)
			flush_locked(u);
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			take_input(u);
		else if (pfd[1].revents & POLLNVAL)
			u->in_open = false;
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

struct uart *uart_new(const struct uart_config *cfg)
{
	struct uart *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	u->cfg = *cfg;
	if (!u->cfg.name)
		u->cfg.name = "uart";
	u->out = (struct outfd){ .fd = cfg->out_fd, .name = u->cfg.name };
	u->in_open = cfg->in_fd >= 0;
	u->dll = 12;	/* 9600 baud, what firmware leaves behind */
	pthread_mutex_init(&u->lock, NULL);

	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0) {
		err = errno;
		goto fail;
	}
	err = pthread_create(&u->thread, NULL, service_thread, u);
	if (err)
		goto fail_fd;
	u->thread_started = true;
	return u;

fail_fd:
	close(u->wake_fd);
fail:
	pthread_mutex_destroy(&u->lock);
	free(u);
	errno = err;
	return NULL;
}

void uart_free(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	wake_thread(u);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);

	uart_flush(u);
	close(u->wake_fd);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int uart_register(struct uart *u, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, u->cfg.base, UART_NR_PORTS,
			      uart_io, u, u->cfg.name);
}

void uart_flush(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_get_stats(struct uart *u, struct uart_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}
