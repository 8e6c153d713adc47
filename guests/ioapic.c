/* IOAPIC-routed device interrupt: the UART's IRQ 4 (COM1 THR-empty
 * interrupt, IER bit 1, gated by MCR OUT2) through the IOAPIC pin the MP
 * table names for ISA IRQ 4.
 *  - edge: one interrupt when THRE is enabled, one more per transmitted
 *    byte, none after IER is cleared; also routed to cpu 1;
 *  - level: remote IRR set while in service, the line still asserted at
 *    EOI re-delivers, clearing the source then EOI ends it; masked pins
 *    hold the interrupt until unmasked.
 * Nothing is printed while the UART interrupt is enabled (printing would
 * raise it). */
#include "libguest.h"

#define VEC_UART 0x42
#define UART_IER (COM1 + 1)
#define UART_IIR (COM1 + 2)
#define UART_MCR (COM1 + 4)
#define MCR_OUT2 0x08

static unsigned pin;
static volatile uint32_t irqs[MAX_CPUS];
static volatile uint8_t last_iir;
static volatile bool level_mode, remote_irr_in_service, tmr_in_service;

/* The count is bumped last: cpu 0 may look at it any time, and must not
 * see an interrupt whose IIR read has not happened yet. */
static void uart_handler(struct irq_frame *f)
{
	unsigned c = smp_id();
	uint32_t n = irqs[c] + 1;

	if (!level_mode) {
		last_iir = inb(UART_IIR);	/* acknowledges THRE */
	} else if (n == 1) {
		/* Leave the line asserted: EOI must re-deliver. */
		remote_irr_in_service = ioapic_redir_get(pin) & IOAPIC_REMOTE_IRR;
		tmr_in_service = apic_read(APIC_TMR + VEC_UART / 32 * 0x10) &
				 (1u << (VEC_UART % 32));
	} else {
		outb(UART_IER, 0);	/* deassert, then EOI */
	}
	barrier();
	irqs[c] = n;
	apic_eoi();
	if (c)
		wake_cpu(0);
}

static uint32_t total(void)
{
	uint32_t t = 0;

	for (unsigned c = 0; c < nr_cpus; c++)
		t += irqs[c];
	return t;
}

static void clear(void)
{
	for (unsigned c = 0; c < MAX_CPUS; c++)
		irqs[c] = 0;
	last_iir = 0;
}

static void route(unsigned cpu, uint64_t flags)
{
	ioapic_redir_set(pin, VEC_UART | flags | IOAPIC_DEST(percpu[cpu].apic_id));
}

static void edge(unsigned cpu)
{
	uint32_t first, second, after, other;
	uint64_t t0, waited;
	uint8_t iir;

	clear();
	level_mode = false;
	route(cpu, 0);
	t0 = rdtsc();
	outb(UART_IER, 0x02);
	wait_until(irqs[cpu] >= 1, 1000);
	waited = tsc_to_us(rdtsc() - t0);
	first = irqs[cpu];
	other = total() - first;
	iir = last_iir;
	outb(COM1, '\n');	/* THR empties again: one more */
	wait_until(irqs[cpu] >= 2, 1000);
	second = irqs[cpu];
	outb(UART_IER, 0);
	msleep(20);
	after = total();
	route(cpu, IOAPIC_MASKED);
	report(first == 1 && !other && (iir & 0x0f) == 0x02,
	       "edge, to cpu %u: THRE interrupt on enabling IER (IIR %#x, "
	       "%u elsewhere, after %lu us)", cpu, iir, other, waited);
	report(second == 2, "edge, to cpu %u: one more after a byte is sent", cpu);
	report(after == 2 && irqs[cpu] == 2,
	       "edge, to cpu %u: exactly 2 interrupts in all (%u)", cpu, after);
}

static void level(void)
{
	uint32_t n;
	uint64_t redir;

	clear();
	level_mode = true;
	route(0, IOAPIC_LEVEL);
	outb(UART_IER, 0x02);
	wait_until(irqs[0] >= 2, 1000);
	msleep(20);
	n = irqs[0];
	redir = ioapic_redir_get(pin);
	report(remote_irr_in_service, "level: remote IRR set while in service");
	report(tmr_in_service, "level: LAPIC TMR bit set for the vector");
	report(n == 2, "level: EOI with the line asserted re-delivers, "
	       "clearing the source ends it (%u interrupts)", n);
	report(!(redir & IOAPIC_REMOTE_IRR), "level: remote IRR clear after EOI");

	/* Masked while asserted: held, delivered on unmask. */
	clear();
	route(0, IOAPIC_LEVEL | IOAPIC_MASKED);
	outb(UART_IER, 0x02);
	msleep(20);
	n = irqs[0];
	route(0, IOAPIC_LEVEL);
	wait_until(irqs[0] >= 2, 1000);
	msleep(20);
	route(0, IOAPIC_MASKED);
	outb(UART_IER, 0);
	report(n == 0, "level: nothing delivered while masked");
	report(irqs[0] == 2, "level: delivered on unmask (%u interrupts)", irqs[0]);
	level_mode = false;
}

int main(void)
{
	uint32_t ver = ioapic_read(IOAPIC_REG_VER);
	uint32_t id = ioapic_read(IOAPIC_REG_ID) >> 24 & 0xf;

	report(mp.nr_ioapics == 1 && mp.ioapic_addr == IOAPIC_BASE,
	       "MP table: %u IOAPIC at %#x", mp.nr_ioapics, mp.ioapic_addr);
	report(id == mp.ioapic_id, "IOAPIC ID %u matches the MP table (%u)",
	       id, mp.ioapic_id);
	report((ver >> 16 & 0xff) == 23, "IOAPIC has %u pins",
	       (ver >> 16 & 0xff) + 1);
	report(mp.isa_irq_pin[4] >= 0, "ISA IRQ 4 routed to pin %d",
	       mp.isa_irq_pin[4]);
	if (mp.isa_irq_pin[4] < 0)
		return report_summary();
	pin = (unsigned)mp.isa_irq_pin[4];
	report(ioapic_redir_get(pin) & IOAPIC_MASKED,
	       "pin %u masked at reset", pin);

	irq_set_handler(VEC_UART, uart_handler);
	outb(UART_IER, 0);
	outb(UART_MCR, MCR_OUT2 | 0x03);
	edge(0);
	if (smp_init(5000) >= 2)
		edge(1);
	else
		report(false, "cpu 1 online for routing to another CPU");
	level();
	outb(UART_MCR, 0x03);
	return report_summary();
}
