/* 8250/16550A UART, as a PC's COM port: eight consecutive I/O ports.
 *
 * Guest contract:
 * - Registers (offset from base): 0 RBR/THR (DLL when LCR.DLAB), 1 IER (DLM
 *   when DLAB), 2 IIR on read / FCR on write, 3 LCR, 4 MCR, 5 LSR, 6 MSR,
 *   7 SCR. IER keeps its low four bits only; with FCR bit 0 set IIR reads
 *   0xC0 in its top bits, so Linux's autoconfig finds a 16550A (scratch
 *   register, loopback MSR test and FIFO IIR all behave like the chip).
 * - Transmission is instantaneous: LSR always reports THRE|TEMT, and a THR
 *   write goes to the output fd (or, in loopback, to the receive FIFO).
 * - Interrupt sources, highest first: receiver line status (overrun),
 *   received data (RDA, or character timeout below the FIFO trigger level),
 *   THR empty, modem status. THRE is latched when a THR write empties the
 *   holding register (that is, at once) and when IER.ETBEI goes 0 -> 1; it
 *   is cleared by an IIR read that reports it, by a THR write, or by
 *   clearing ETBEI.
 * - The IRQ line is level: high while an enabled source is pending and
 *   MCR.OUT2 is set and loopback is off (a PC gates COM interrupts with
 *   OUT2; Linux sets it), low otherwise. IIR reports pending sources
 *   whatever OUT2 says.
 * - Outside loopback, MSR reports CTS, DSR and DCD asserted (a null modem
 *   with the host); loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD
 *   and sets the delta bits.
 * - Receive FIFO of 16 bytes (1 byte with FIFOs off). Host input never
 *   overruns: the input thread waits for room instead. Only a loopback
 *   write into a full FIFO sets LSR.OE.
 *
 * Host side:
 * - Output is buffered and written to out_fd on a newline, when the buffer
 *   fills, when the guest reprograms IER/FCR/LCR/MCR (Linux's console and tty
 *   code do this when they go idle), at most ~10 ms after it was written, on
 *   uart_flush() and on uart_free(). Writes happen with the device lock held
 *   and wait while the fd is full, but at most 100 ms (a slow reader slows
 *   the guest down rather than losing output); an fd full for longer is
 *   stalled: output is dropped and counted, without waiting, until the fd
 *   takes bytes again (so a stopped terminal or pipe never hangs the node).
 *   Write errors drop the data and are counted. The caller should ignore
 *   SIGPIPE.
 * - If in_fd >= 0 a thread reads it into the receive FIFO. EOF or an error
 *   on in_fd ends input quietly. Putting a terminal into raw mode is the
 *   caller's business.
 *
 * Locking: one mutex per device; the iobus handler runs on any vCPU thread.
 * irq->set() is called with that mutex held and must not call back into
 * the UART. */
#ifndef AMALGAM_DEV_UART_H
#define AMALGAM_DEV_UART_H

#include <stdint.h>

#include "irq/irqline.h"

struct iobus;
struct uart;

#define UART_COM1_BASE	0x3f8
#define UART_COM1_IRQ	4
#define UART_NR_PORTS	8

struct uart_config {
	uint16_t base;		/* first of 8 ports, e.g. UART_COM1_BASE */
	struct irq_line irq;	/* e.g. gsi UART_COM1_IRQ; set may be NULL */
	int out_fd;		/* guest output; -1 discards it */
	int in_fd;		/* guest input, or -1 for none */
	const char *name;	/* iobus name, e.g. "com1"; must outlive dev */
};

struct uart_stats {
	uint64_t tx_bytes;	/* bytes the guest wrote to THR (not loopback) */
	uint64_t tx_dropped;	/* of those, lost to write errors on out_fd
				 * or to an out_fd that stalled */
	uint64_t rx_bytes;	/* bytes taken from in_fd into the FIFO */
	uint64_t rx_overruns;	/* loopback bytes lost to a full FIFO */
	uint64_t irqs;		/* low -> high transitions of the IRQ line */
};

/* NULL with errno set on failure. The fds stay owned by the caller and
 * must stay open until uart_free(). */
struct uart *uart_new(const struct uart_config *cfg);
/* Stops the input thread, flushes output, frees. NULL is a no-op. */
void uart_free(struct uart *u);
int uart_register(struct uart *u, struct iobus *bus);

/* Write buffered output now (e.g. before the VMM exits). */
void uart_flush(struct uart *u);
void uart_get_stats(struct uart *u, struct uart_stats *out);

#endif
