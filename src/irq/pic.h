/* A pair of cascaded 8259A PICs, as far as Linux needs them: the ICW/OCW
 * programming sequences, IMR, IRR/ISR reads, edge/level (ELCR at
 * 0x4d0/0x4d1), auto-EOI, and the INTR output as ExtINT to the BSP's LINT0.
 * Thread-safe (own lock). */
#ifndef AMALGAM_IRQ_PIC_H
#define AMALGAM_IRQ_PIC_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct pic;

/* intr(opaque, level) is called when the INTR output changes, and again
 * with level 1 whenever a new request comes up while it is high (after an
 * INTA that leaves a request behind, say): each call with 1 means "INTA
 * me". It runs with the PIC's lock held and must not call into the PIC. */
struct pic *pic_new(void (*intr)(void *opaque, int level), void *opaque);
void pic_free(struct pic *p);
/* io_fn (hw/iobus.h) for ports 0x20-0x21, 0xa0-0xa1 and 0x4d0-0x4d1:
 * register each range with the same opaque; the handler uses 'offset' plus
 * the range, so register through pic_register(). */
struct iobus;
int pic_register(struct pic *p, struct iobus *bus);
void pic_set_irq(struct pic *p, unsigned irq, int level);
/* INTA cycle: the vector to inject, or -1 if no request is left (INTR
 * went low meanwhile; hardware would answer IRQ7's vector, we inject
 * nothing). A slave request that vanished after the master latched it
 * gives the slave's IRQ15 vector without setting its ISR, as hardware. */
int pic_ack(struct pic *p);

struct pic_stats {
	uint64_t acks;		/* INTA cycles that produced a vector */
	uint64_t spurious;	/* INTA with nothing (or slave) to answer */
};
void pic_stats(struct pic *p, struct pic_stats *out);

#endif
