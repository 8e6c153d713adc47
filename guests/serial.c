/* COM1 8250: a 64-line block of known text the runner finds verbatim in
 * amalgam's stdout (serial.expect), then register behaviour: LSR (THRE and
 * TEMT set, no data ready), scratch register, divisor latch, IIR with no
 * interrupt enabled, FIFO enable bits in IIR, and loopback (MCR bits
 * reflected in MSR, a byte written in loopback read back with LSR.DR). */
#include "libguest.h"

#define THR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

static void block(void)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[65];

	puts("serial block begin");
	for (unsigned i = 0; i < 64; i++) {
		for (unsigned j = 0; j < 64; j++)
			line[j] = abc[(i + j) % 64];
		line[64] = '\0';
		printf("serial %02u %s\n", i, line);
	}
	puts("serial block end");
}

int main(void)
{
	uint8_t lsr, v, msr, msr2;
	bool ok;
	uint64_t t0 = rdtsc();

	block();
	report_info("block of 4.7 KB written in %lu us", tsc_to_us(rdtsc() - t0));

	lsr = inb(LSR);
	report((lsr & 0x60) == 0x60, "LSR %#x: THRE and TEMT set", lsr);
	report(!(lsr & 0x01), "LSR: no data ready (stdin is empty)");
	outb(THR, '\n');
	report((inb(LSR) & 0x60) == 0x60, "LSR: THR empty again right after a write");

	outb(SCR, 0x5a);
	v = inb(SCR);
	outb(SCR, 0xa5);
	report(v == 0x5a && inb(SCR) == 0xa5, "scratch register keeps its value");

	/* No printing while DLAB or loopback is on: it would not go out. */
	outb(LCR, 0x83);	/* DLAB */
	outb(COM1 + 0, 0x0c);	/* 9600 baud */
	outb(COM1 + 1, 0x00);
	v = inb(COM1 + 0);
	ok = v == 0x0c && inb(COM1 + 1) == 0 && inb(LCR) == 0x83;
	outb(COM1 + 0, 0x01);	/* 115200 */
	outb(LCR, 0x03);
	report(ok, "divisor latch reads back with DLAB set");
	report(inb(IER) == 0 && inb(LCR) == 0x03, "IER and LCR back with DLAB clear");

	report((inb(IIR) & 0x0f) == 0x01, "IIR: no interrupt pending with IER 0");
	outb(IIR, 0x07);	/* FCR: enable and clear FIFOs */
	v = inb(IIR);
	outb(IIR, 0x00);
	report((v & 0xc0) == 0xc0 && (inb(IIR) & 0xc0) == 0,
	       "IIR FIFO bits follow FCR enable (%#x)", v);

	outb(MCR, 0x1f);	/* loop, OUT2, OUT1, RTS, DTR */
	inb(MSR);		/* clear deltas */
	msr = inb(MSR);
	outb(MCR, 0x10);
	msr2 = inb(MSR);
	outb(THR, 'Z');
	lsr = inb(LSR);
	v = inb(THR);
	ok = !(inb(LSR) & 0x01);
	outb(MCR, 0x03);
	report((msr & 0xf0) == 0xf0 && (msr2 & 0xf0) == 0,
	       "loopback: MCR lines show in MSR (%#x, %#x)", msr, msr2);
	report((lsr & 0x01) && v == 'Z' && ok,
	       "loopback: byte written comes back (LSR %#x, RBR %#x)", lsr, v);
	return report_summary();
}
