/* 82093AA-style IOAPIC with 24 pins at 0xFEC00000: indirect register
 * access (IOREGSEL/IOWIN), redirection table, edge and level trigger with
 * remote IRR, EOI from the lapics. Thread-safe (own lock). */
#ifndef AMALGAM_IRQ_IOAPIC_H
#define AMALGAM_IRQ_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_BASE_DEFAULT 0xFEC00000ULL
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_PINS 24

struct apicbus;
struct vcpu;
struct ioapic;

struct ioapic *ioapic_new(struct apicbus *bus, uint8_t id);
void ioapic_free(struct ioapic *io);
/* An io_fn (hw/iobus.h) for its MMIO page; opaque is the ioapic. */
int ioapic_mmio(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		unsigned len, bool is_write);
/* level is logical, as in irqline.h: 1 while the device requests service.
 * The entry's polarity bit is kept for the guest but does not invert it.
 * Any thread. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* A lapic EOI'd a level-triggered vector: clear remote IRR of the pins
 * using it and deliver again those still asserted. Any thread. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

struct ioapic_stats {
	uint64_t irqs_sent;	/* messages to the APIC bus */
	uint64_t eois;		/* remote IRRs cleared */
	uint64_t redelivered;	/* level pins still asserted at EOI */
	uint64_t masked_edges;	/* edges lost on masked pins */
};
void ioapic_stats(struct ioapic *io, struct ioapic_stats *out);

#endif
