/* An interrupt line as a device sees it: one callback and a GSI number.
 * Devices never know whether the line ends in the PIC, the IOAPIC or a
 * message to another node. */
#ifndef AMALGAM_IRQ_IRQLINE_H
#define AMALGAM_IRQ_IRQLINE_H

struct irq_line {
	void (*set)(void *opaque, unsigned gsi, int level);
	void *opaque;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l && l->set)
		l->set(l->opaque, l->gsi, level);
}

/* Edge: raise then lower. */
static inline void irq_line_pulse(const struct irq_line *l)
{
	irq_line_set(l, 1);
	irq_line_set(l, 0);
}

#endif
