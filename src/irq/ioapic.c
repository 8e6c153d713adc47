/* 82093AA-style IOAPIC: 24 redirection entries, edge and level pins with
 * remote IRR, messages to the APIC bus.
 *
 * Locking: 'lock' guards every field. Messages are built under the lock
 * and sent after dropping it: apicbus_send -> lapic_deliver -> ops->kick
 * would be safe under it today, but a forwarder to another node may block
 * or come back (a remote EOI) and must not find the IOAPIC held. Remote IRR
 * is set before the lock is dropped, so a level pin still never has two
 * messages in flight.
 *
 * Input levels are logical (1 = the device requests service), as irqline.h
 * defines them. The polarity bit is stored for the guest to read back but
 * does not invert anything: it describes the wire to the device, which
 * this model does not have, and inverting a logical level would make every
 * active-low (PCI) pin look asserted while its device is idle. */
#include "irq/ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "irq/apicbus.h"
#include "irq/apic_msg.h"
#include "util/log.h"

#define IOAPIC_VERSION	0x00170011u	/* 24 entries (max index 0x17), v0x11 */

enum { REG_ID = 0x00, REG_VER = 0x01, REG_ARB = 0x02, REG_REDIR = 0x10 };
enum { MMIO_REGSEL = 0x00, MMIO_WIN = 0x10, MMIO_EOI = 0x40 };

#define RTE_DM(r)	(((r) >> 8) & 7)
#define RTE_LOGICAL	(1ull << 11)
#define RTE_DELIVS	(1ull << 12)
#define RTE_POL_LOW	(1ull << 13)
#define RTE_REMOTE_IRR	(1ull << 14)
#define RTE_LEVEL	(1ull << 15)
#define RTE_MASKED	(1ull << 16)
#define RTE_RO		(RTE_DELIVS | RTE_REMOTE_IRR)

struct ioapic {
	pthread_mutex_t lock;
	struct apicbus *bus;
	uint8_t id;
	uint32_t regsel;
	uint64_t rte[IOAPIC_PINS];
	uint32_t asserted;		/* input pins currently high */
	struct ioapic_stats st;
};

/* Messages collected under the lock, sent after it is dropped. */
struct outbox {
	unsigned n;
	struct apic_msg m[IOAPIC_PINS];
};

/* Raise pin's interrupt: queue its message; a level pin now awaits EOI. */
static void fire_locked(struct ioapic *io, unsigned pin, struct outbox *out)
{
	uint64_t r = io->rte[pin];

	out->m[out->n++] = (struct apic_msg){
		.dest = r >> 56,
		.source = -1,
		.vector = r & 0xff,
		.delivery = RTE_DM(r),
		.dest_logical = !!(r & RTE_LOGICAL),
		.shorthand = APIC_SH_NONE,
		.level = 1,
		.trigger_level = !!(r & RTE_LEVEL),
	};
	if (r & RTE_LEVEL)
		io->rte[pin] |= RTE_REMOTE_IRR;
	io->st.irqs_sent++;
}

/* A level pin is delivered while asserted, unmasked and not awaiting EOI. */
static bool level_wants_service(struct ioapic *io, unsigned pin)
{
	uint64_t r = io->rte[pin];

	return (r & RTE_LEVEL) && !(r & (RTE_MASKED | RTE_REMOTE_IRR)) &&
	       (io->asserted >> pin & 1);
}

static void flush(struct ioapic *io, struct outbox *out)
{
	for (unsigned i = 0; i < out->n; i++)
		if (apicbus_send(io->bus, &out->m[i]) == 0)
			pr_debug("ioapic: vector %#x for dest %#x reached nobody",
				 out->m[i].vector, out->m[i].dest);
}

struct ioapic *ioapic_new(struct apicbus *bus, uint8_t id)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	pthread_mutex_init(&io->lock, NULL);
	io->bus = bus;
	io->id = id;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASKED;
	return io;
}

void ioapic_free(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	struct outbox out = { 0 };
	bool was;

	if (pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	was = io->asserted >> pin & 1;
	if (level)
		io->asserted |= 1u << pin;
	else
		io->asserted &= ~(1u << pin);
	if (io->rte[pin] & RTE_LEVEL) {
		if (level_wants_service(io, pin))
			fire_locked(io, pin, &out);
	} else if (level && !was) {
		/* An edge on a masked pin is lost, as on the 82093AA. */
		if (io->rte[pin] & RTE_MASKED)
			io->st.masked_edges++;
		else
			fire_locked(io, pin, &out);
	}
	pthread_mutex_unlock(&io->lock);
	flush(io, &out);
}

static void eoi_locked(struct ioapic *io, uint8_t vector, struct outbox *out)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t r = io->rte[pin];

		if ((r & 0xff) != vector || !(r & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		io->st.eois++;
		/* Still asserted: the device wants service again. */
		if (level_wants_service(io, pin)) {
			fire_locked(io, pin, out);
			io->st.redelivered++;
		}
	}
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct outbox out = { 0 };

	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector, &out);
	pthread_mutex_unlock(&io->lock);
	flush(io, &out);
}

static uint32_t read_reg_locked(struct ioapic *io)
{
	unsigned sel = io->regsel, pin;

	switch (sel) {
	case REG_ID:
	case REG_ARB:
		return (uint32_t)io->id << 24;
	case REG_VER:
		return IOAPIC_VERSION;
	}
	if (sel < REG_REDIR || sel >= REG_REDIR + 2 * IOAPIC_PINS)
		return 0;
	pin = (sel - REG_REDIR) / 2;
	return sel & 1 ? io->rte[pin] >> 32 : (uint32_t)io->rte[pin];
}

static void write_reg_locked(struct ioapic *io, uint32_t v, struct outbox *out)
{
	unsigned sel = io->regsel, pin;
	uint64_t r;

	if (sel == REG_ID) {
		io->id = v >> 24;
		return;
	}
	if (sel < REG_REDIR || sel >= REG_REDIR + 2 * IOAPIC_PINS)
		return;		/* version, arbitration, reserved: read-only */
	pin = (sel - REG_REDIR) / 2;
	r = io->rte[pin];
	if (sel & 1)
		r = (r & 0xffffffffull) | (uint64_t)v << 32;
	else
		r = (r & ~0xffffffffull) | (r & RTE_RO) | (v & ~RTE_RO);
	/* Remote IRR has no meaning for edge pins. Linux relies on this to
	 * clear a stuck remote IRR without an EOI register: it flips the pin
	 * to edge and back. */
	if (!(r & RTE_LEVEL))
		r &= ~RTE_REMOTE_IRR;
	io->rte[pin] = r;
	/* Unmasking an asserted level pin delivers it now. */
	if (level_wants_service(io, pin))
		fire_locked(io, pin, out);
}

int ioapic_mmio(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		unsigned len, bool is_write)
{
	struct ioapic *io = opaque;
	struct outbox out = { 0 };
	uint32_t v = 0;

	if (!len || len > 8)
		return -EINVAL;
	if (!is_write)
		memset(data, 0, len);
	/* Registers are 32-bit at 16-byte strides; narrower accesses to the
	 * low bytes of IOREGSEL are common and fine. */
	if (offset & 3 || len > 4)
		return 0;
	if (is_write)
		memcpy(&v, data, len);

	pthread_mutex_lock(&io->lock);
	switch (offset) {
	case MMIO_REGSEL:
		if (is_write)
			io->regsel = v & 0xff;
		else
			v = io->regsel;
		break;
	case MMIO_WIN:
		if (is_write)
			write_reg_locked(io, v, &out);
		else
			v = read_reg_locked(io);
		break;
	case MMIO_EOI:
		/* The directed-EOI register of version 0x20 parts; harmless
		 * to offer, and Linux only uses it when the version says so. */
		if (is_write)
			eoi_locked(io, v & 0xff, &out);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write)
		memcpy(data, &v, len);
	flush(io, &out);
	return 0;
}

void ioapic_stats(struct ioapic *io, struct ioapic_stats *out)
{
	pthread_mutex_lock(&io->lock);
	*out = io->st;
	pthread_mutex_unlock(&io->lock);
}
