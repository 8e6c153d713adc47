/* Two cascaded 8259A PICs (master at 0x20, slave at 0xa0 on the master's
 * IR2) and the PIIX edge/level control registers at 0x4d0/0x4d1.
 *
 * Locking: 'lock' guards both chips. The INTR callback is made with the
 * lock held, so that level changes reach the lapic in the order they
 * happened; it must not call back into the PIC (lapic_set_lint does not). */
#include "irq/pic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"
#include "hw/iobus.h"

#define CASCADE_IRQ	2

struct chip {
	uint8_t irr, imr, isr;
	uint8_t line;		/* input levels, for edge detection */
	uint8_t elcr, elcr_mask;
	uint8_t base;		/* ICW2: vector of IR0 */
	uint8_t icw3;
	uint8_t init_step;	/* 0 ready, else the ICW expected next (2-4) */
	uint8_t lowest;		/* lowest-priority IR; lowest + 1 is highest */
	bool icw4_needed, single;
	bool auto_eoi, rotate_aeoi, sfnm;
	bool special_mask, read_isr, poll;
};

struct pic {
	pthread_mutex_t lock;
	struct chip c[2];	/* master, slave */
	void (*intr)(void *opaque, int level);
	void *opaque;
	int out;		/* master's output IR as last signalled, or -1 */
	struct pic_stats st;
};

/* ---- one chip ---- */

/* Rank of an IR in the current rotation: 0 is the highest priority. */
static unsigned rank(const struct chip *c, unsigned irq)
{
	return (irq - c->lowest - 1) & 7;
}

static int first_by_priority(const struct chip *c, uint8_t bits)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned irq = (c->lowest + 1 + i) & 7;
		if (bits >> irq & 1)
			return irq;
	}
	return -1;
}

/* The IR the chip asks the CPU (or the master) to service, or -1. */
static int chip_output(const struct chip *c, bool master)
{
	uint8_t isr = c->isr;
	int req, ins;

	if (c->init_step)
		return -1;
	req = first_by_priority(c, c->irr & ~c->imr);
	if (req < 0)
		return -1;
	/* Special mask mode: a masked level in service blocks nobody. */
	if (c->special_mask)
		isr &= ~c->imr;
	/* Special fully nested: the slave may interrupt its own service. */
	if (master && c->sfnm && !c->single)
		isr &= ~(1u << CASCADE_IRQ);
	ins = first_by_priority(c, isr);
	if (ins >= 0 && rank(c, ins) <= rank(c, req))
		return -1;
	return req;
}

/* Edge IRs latch on a rising input and stay requested until acknowledged;
 * level IRs follow the input. */
static void chip_set_input(struct chip *c, unsigned irq, int level)
{
	uint8_t m = 1u << irq;

	if (level && !(c->line & m) && !(c->elcr & m))
		c->irr |= m;
	if (level)
		c->line |= m;
	else
		c->line &= ~m;
	if (c->elcr & m)
		c->irr = (c->irr & ~m) | (c->line & m);
}

/* INTA (or poll) on one chip: the request moves into service. */
static void chip_accept(struct chip *c, unsigned irq)
{
	uint8_t m = 1u << irq;

	if (!(c->elcr & m))
		c->irr &= ~m;
	if (!c->auto_eoi)
		c->isr |= m;
	else if (c->rotate_aeoi)
		c->lowest = irq;
}

static void chip_icw1(struct chip *c, uint8_t v)
{
	/* LTIM (bit 3) is ignored: on PIIX-style chipsets ELCR decides. */
	c->icw4_needed = v & 1;
	c->single = v & 2;
	c->init_step = 2;
	c->imr = 0;
	c->isr = 0;
	/* The edge sense is reset: a high edge input must go low and high
	 * again before it requests. */
	c->irr = c->line & c->elcr;
	c->lowest = 7;
	c->special_mask = c->read_isr = c->poll = false;
	c->rotate_aeoi = false;
	if (!c->icw4_needed)
		c->auto_eoi = c->sfnm = false;
}

static void chip_data_write(struct chip *c, uint8_t v)
{
	switch (c->init_step) {
	case 2:
		c->base = v & 0xf8;
		c->init_step = !c->single ? 3 : c->icw4_needed ? 4 : 0;
		break;
	case 3:
		c->icw3 = v;
		c->init_step = c->icw4_needed ? 4 : 0;
		break;
	case 4:
		if (!(v & 1))
			pr_warn("pic: ICW4 selects MCS-80/85 mode; "
				"treated as 8086 mode");
		c->auto_eoi = v & 2;
		c->sfnm = v & 0x10;
		c->init_step = 0;
		break;
	default:
		c->imr = v;	/* OCW1 */
		break;
	}
}

static void chip_ocw2(struct chip *c, uint8_t v)
{
	unsigned lvl = v & 7;
	int irq;

	switch (v >> 5) {
	case 0: c->rotate_aeoi = false; break;
	case 4: c->rotate_aeoi = true; break;
	case 1:		/* non-specific EOI */
	case 5:		/* rotate on non-specific EOI */
		irq = first_by_priority(c, c->isr);
		if (irq < 0)
			break;
		c->isr &= ~(1u << irq);
		if (v >> 5 == 5)
			c->lowest = irq;
		break;
	case 3:		/* specific EOI */
		c->isr &= ~(1u << lvl);
		break;
	case 7:		/* rotate on specific EOI */
		c->isr &= ~(1u << lvl);
		c->lowest = lvl;
		break;
	case 6:		/* set priority */
		c->lowest = lvl;
		break;
	default:	/* 2: no operation */
		break;
	}
}

static void chip_ocw3(struct chip *c, uint8_t v)
{
	if (v & 0x04)
		c->poll = true;
	if (v & 0x02)
		c->read_isr = v & 1;
	if (v & 0x40)
		c->special_mask = v & 0x20;
}

/* ---- the pair ---- */

/* The slave's INT drives the master's IR2 input; recompute it after
 * anything that may change the slave's output. */
static void update_cascade(struct pic *p)
{
	chip_set_input(&p->c[0], CASCADE_IRQ, chip_output(&p->c[1], false) >= 0);
}

/* Signal INTR when it changes and re-assert it whenever a new request
 * comes up while high: each INTA consumes the lapic's pending ExtINT. */
static void update_intr(struct pic *p, bool after_ack)
{
	int out = chip_output(&p->c[0], true);
	bool changed = (out >= 0) != (p->out >= 0);

	bool again = out >= 0 && (out != p->out || after_ack);

	p->out = out;
	if ((changed || again) && p->intr)
		p->intr(p->opaque, out >= 0);
}

static void update(struct pic *p)
{
	update_cascade(p);
	update_intr(p, false);
}

struct pic *pic_new(void (*intr)(void *opaque, int level), void *opaque)
{
	struct pic *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->intr = intr;
	p->opaque = opaque;
	p->out = -1;
	for (int i = 0; i < 2; i++) {
		/* Power-on state is undefined; masked and ready keeps a guest
		 * that never programs the PIC from seeing stray vectors. */
		p->c[i].imr = 0xff;
		p->c[i].lowest = 7;
	}
	/* IRQ0-2 (timer, keyboard, cascade) and IRQ8, IRQ13 are edge-only. */
	p->c[0].elcr_mask = 0xf8;
	p->c[1].elcr_mask = 0xde;
	return p;
}

void pic_free(struct pic *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	pthread_mutex_lock(&p->lock);
	chip_set_input(&p->c[irq >> 3], irq & 7, level);
	update(p);
	pthread_mutex_unlock(&p->lock);
}

int pic_ack(struct pic *p)
{
	struct chip *m = &p->c[0], *s = &p->c[1];
	int irq, sirq, vec;

	pthread_mutex_lock(&p->lock);
	irq = chip_output(m, true);
	if (irq < 0) {
		/* Hardware would answer IRQ7's vector; the CPU only got here
		 * because INTR was high a moment ago, so inject nothing. */
		p->st.spurious++;
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	chip_accept(m, irq);
	if (irq == CASCADE_IRQ && !m->single) {
		sirq = chip_output(s, false);
		if (sirq < 0) {
			/* The slave's request went away after the master
			 * latched it: spurious IRQ15, no slave ISR bit. */
			p->st.spurious++;
			vec = s->base + 7;
		} else {
			chip_accept(s, sirq);
			vec = s->base + sirq;
		}
	} else {
		vec = m->base + irq;
	}
	p->st.acks++;
	update_cascade(p);
	update_intr(p, true);
	pthread_mutex_unlock(&p->lock);
	return vec;
}

/* Poll command: the next read of the command port is an INTA on this chip
 * alone, reported as 0x80 | IR (0 if nothing). */
static uint8_t chip_poll(struct pic *p, struct chip *c)
{
	int irq = chip_output(c, c == &p->c[0]);

	c->poll = false;
	if (irq < 0)
		return 0;
	chip_accept(c, irq);
	return 0x80 | irq;
}

static uint8_t port_read(struct pic *p, struct chip *c, unsigned port)
{
	if (port == 1)
		return c->imr;
	if (c->poll)
		return chip_poll(p, c);
	return c->read_isr ? c->isr : c->irr;
}

static void port_write(struct chip *c, unsigned port, uint8_t v)
{
	if (port == 1)
		chip_data_write(c, v);
	else if (v & 0x10)
		chip_icw1(c, v);
	else if (v & 0x08)
		chip_ocw3(c, v);
	else
		chip_ocw2(c, v);
}

/* Each byte of a wider access goes to the next port, as the chipset's
 * port decoding does for outw to 0x20 or 0x4d0. */
static int chip_io(struct pic *p, unsigned which, uint64_t offset,
		   uint8_t *data, unsigned len, bool is_write)
{
	struct chip *c = &p->c[which];

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned port = offset + i;
		if (port > 1) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			port_write(c, port, data[i]);
		else
			data[i] = port_read(p, c, port);
	}
	update(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int master_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		     void *data, unsigned len, bool is_write)
{
	return chip_io(opaque, 0, offset, data, len, is_write);
}

static int slave_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		    void *data, unsigned len, bool is_write)
{
	return chip_io(opaque, 1, offset, data, len, is_write);
}

static int elcr_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		   void *data, unsigned len, bool is_write)
{
	struct pic *p = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < len; i++) {
		struct chip *c;

		if (offset + i > 1) {
			if (!is_write)
				b[i] = 0xff;
			continue;
		}
		c = &p->c[offset + i];
		if (!is_write) {
			b[i] = c->elcr;
			continue;
		}
		c->elcr = b[i] & c->elcr_mask;
		/* Level IRs now follow their inputs. */
		c->irr = (c->irr & ~c->elcr) | (c->line & c->elcr);
	}
	update(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int pic_register(struct pic *p, struct iobus *bus)
{
	int r;

	r = iobus_register(bus, IO_PIO, 0x20, 2, master_io, p, "pic-master");
	if (!r)
		r = iobus_register(bus, IO_PIO, 0xa0, 2, slave_io, p,
				   "pic-slave");
	if (!r)
		r = iobus_register(bus, IO_PIO, 0x4d0, 2, elcr_io, p, "elcr");
	if (r)
		pr_err("pic: cannot register its ports: %d", r);
	return r;
}

void pic_stats(struct pic *p, struct pic_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}
