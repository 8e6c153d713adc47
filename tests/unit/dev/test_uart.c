/* UART register semantics as Linux's 8250 driver observes them, through
 * the iobus like a vCPU exit would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/uart.h"
#include "hw/iobus.h"

#define BASE	UART_COM1_BASE
#define RBR	0
#define THR	0
#define DLL	0
#define IER	1
#define DLM	1
#define IIR	2
#define FCR	2
#define LCR	3
#define MCR	4
#define LSR	5
#define MSR	6
#define SCR	7

struct irq_probe {
	int level;
	int raises;
};

static void probe_set(void *opaque, unsigned gsi, int level)
{
	struct irq_probe *p = opaque;

	assert_int_equal(gsi, UART_COM1_IRQ);
	if (level && !p->level)
		p->raises++;
	p->level = level;
}

struct fixture {
	struct iobus *bus;
	struct uart *uart;
	struct irq_probe irq;
	int out[2];	/* guest output: uart writes out[1], test reads out[0] */
	int in[2];	/* guest input: test writes in[1] */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct uart_config cfg;

	assert_non_null(f);
	assert_int_equal(pipe2(f->out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->in, O_CLOEXEC), 0);
	assert_int_equal(fcntl(f->out[0], F_SETFL, O_NONBLOCK), 0);
	cfg = (struct uart_config){
		.base = BASE,
		.irq = { .set = probe_set, .opaque = &f->irq,
			 .gsi = UART_COM1_IRQ },
		.out_fd = f->out[1],
		.in_fd = f->in[0],
		.name = "com1",
	};
	f->bus = iobus_new();
	assert_non_null(f->bus);
	f->uart = uart_new(&cfg);
	assert_non_null(f->uart);
	assert_int_equal(uart_register(f->uart, f->bus), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart_free(f->uart);
	iobus_free(f->bus);
	for (int i = 0; i < 2; i++) {
		close(f->out[i]);
		if (f->in[i] >= 0)
			close(f->in[i]);
	}
	free(f);
	return 0;
}

static void out8(struct fixture *f, unsigned reg, uint8_t v)
{
	assert_int_equal(iobus_access(f->bus, IO_PIO, NULL, BASE + reg, &v, 1,
				      true), 0);
}

static uint8_t in8(struct fixture *f, unsigned reg)
{
	uint8_t v = 0;

	assert_int_equal(iobus_access(f->bus, IO_PIO, NULL, BASE + reg, &v, 1,
				      false), 0);
	return v;
}

/* Reads what reached the output pipe, waiting up to timeout_ms for it. */
static size_t drain(struct fixture *f, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = f->out[0], .events = POLLIN };
	size_t n = 0;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	for (;;) {
		ssize_t r = read(f->out[0], buf + n, cap - n);
		if (r <= 0)
			break;
		n += r;
	}
	return n;
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in8(f, IER), 0);
	assert_int_equal(in8(f, IIR), 0x01);
	assert_int_equal(in8(f, LSR), 0x60);
	assert_int_equal(in8(f, MSR) & 0xf0, 0xb0);
	assert_int_equal(f->irq.level, 0);
}

static void test_scratch_and_divisor(void **state)
{
	struct fixture *f = *state;

	out8(f, SCR, 0x5a);
	assert_int_equal(in8(f, SCR), 0x5a);
	out8(f, SCR, 0xa5);
	assert_int_equal(in8(f, SCR), 0xa5);

	out8(f, IER, 0x05);
	out8(f, LCR, 0x83);	/* DLAB, 8N1 */
	out8(f, DLL, 0x01);
	out8(f, DLM, 0x02);
	assert_int_equal(in8(f, DLL), 0x01);
	assert_int_equal(in8(f, DLM), 0x02);
	out8(f, LCR, 0x03);
	assert_int_equal(in8(f, IER), 0x05);
	assert_int_equal(in8(f, LCR), 0x03);
}

/* The order of probes in Linux's serial8250 autoconfig() and
 * autoconfig_16550a(): each must give the 16550A answer. */
static void test_linux_autoconfig_finds_16550a(void **state)
{
	struct fixture *f = *state;
	uint8_t save_ier, save_mcr, save_lcr, s1, s2;

	/* Existence test: IER keeps exactly its low four bits. */
	save_ier = in8(f, IER);
	out8(f, IER, 0);
	s1 = in8(f, IER) & 0x0f;
	out8(f, IER, 0x0f);
	s2 = in8(f, IER) & 0x0f;
	out8(f, IER, save_ier);
	assert_int_equal(s1, 0);
	assert_int_equal(s2, 0x0f);

	/* Loopback test: RTS and OUT2 come back as CTS and DCD. */
	save_mcr = in8(f, MCR);
	save_lcr = in8(f, LCR);
	out8(f, MCR, 0x10 | 0x0a);
	s1 = in8(f, MSR) & 0xf0;
	out8(f, MCR, save_mcr);
	assert_int_equal(s1, 0x90);

	/* FIFO type from IIR bits 7:6 after enabling the FIFO. */
	out8(f, LCR, 0xbf);
	out8(f, FCR, 0);	/* EFR on chips that have one */
	out8(f, LCR, 0);
	out8(f, FCR, 0x01);
	assert_int_equal(in8(f, IIR) >> 6, 3);

	/* No EFR behind LCR 0x80 or 0xbf (ST16C650 / TI16C752 probes). */
	out8(f, LCR, 0x80);
	assert_int_not_equal(in8(f, IIR), 0);
	out8(f, LCR, 0xbf);
	assert_int_not_equal(in8(f, IIR), 0);

	/* Not an NS SuperIO: "EXCR1" does not follow MCR.LOOP. */
	out8(f, LCR, 0);
	s1 = in8(f, MCR);
	out8(f, LCR, 0xe0);
	s2 = in8(f, IIR);
	assert_int_equal((s1 ^ s2) & 0x10, 0);
	out8(f, LCR, 0);
	out8(f, MCR, s1 ^ 0x10);
	out8(f, LCR, 0xe0);
	s2 = in8(f, IIR);
	out8(f, LCR, 0);
	out8(f, MCR, s1);
	assert_int_equal((s2 ^ s1) & 0x10, 0);

	/* Not a TI16750: no 64-byte FIFO bit with or without DLAB. */
	out8(f, FCR, 0x01 | 0x20);
	s1 = in8(f, IIR) & 0x20;
	out8(f, FCR, 0);
	out8(f, LCR, 0x80);
	out8(f, FCR, 0x01 | 0x20);
	s2 = in8(f, IIR) & 0x20;
	out8(f, FCR, 0);
	out8(f, LCR, 0);
	assert_false(s1 == 0 && s2 == 0x20);

	/* Not an XScale: IER bit 6 (UUE) does not stick. */
	save_ier = in8(f, IER);
	out8(f, IER, save_ier | 0x40);
	assert_int_equal(in8(f, IER) & 0x40, 0);
	out8(f, IER, save_ier);

	out8(f, LCR, save_lcr);
}

/* serial8250_do_startup(): enabling THRI must raise THRE at once, an IIR
 * read clears it, and re-enabling raises it again. */
static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;
	uint8_t iir1, iir2;

	out8(f, FCR, 0x07);
	out8(f, MCR, 0x0b);	/* DTR, RTS, OUT2 */
	assert_int_equal(f->irq.level, 0);

	out8(f, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	iir1 = in8(f, IIR);
	assert_int_equal(iir1, 0xc2);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(in8(f, IIR), 0xc1);
	out8(f, IER, 0);
	out8(f, IER, 0x02);
	iir2 = in8(f, IIR);
	assert_int_equal(iir2, 0xc2);

	/* A THR write leaves THR empty again at once: THRE pending again. */
	out8(f, THR, 'x');
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(in8(f, LSR) & 0x60, 0x60);
	/* Clearing ETBEI drops the line. */
	out8(f, IER, 0);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.raises, 3);
}

static void test_irq_needs_out2(void **state)
{
	struct fixture *f = *state;

	out8(f, MCR, 0x03);
	out8(f, IER, 0x02);
	assert_int_equal(in8(f, IIR) & 0x0f, 0x02);	/* pending... */
	out8(f, IER, 0);
	out8(f, IER, 0x02);
	assert_int_equal(f->irq.level, 0);		/* ...but gated */
	out8(f, MCR, 0x0b);
	assert_int_equal(f->irq.level, 1);
}

static void test_output_reaches_fd(void **state)
{
	struct fixture *f = *state;
	const char *line = "Linux version 6.1\r\n";
	char buf[256];
	struct uart_stats st;
	size_t n;

	for (const char *p = line; *p; p++)
		out8(f, THR, *p);
	n = drain(f, buf, sizeof(buf), 1000);
	assert_int_equal(n, strlen(line));
	assert_memory_equal(buf, line, n);

	/* A prompt without a newline goes out on uart_flush()... */
	out8(f, THR, '#');
	uart_flush(f->uart);
	n = drain(f, buf, sizeof(buf), 0);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], '#');

	/* ...or by itself shortly after. */
	out8(f, THR, '$');
	out8(f, THR, ' ');
	n = drain(f, buf, sizeof(buf), 2000);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "$ ", 2);

	uart_get_stats(f->uart, &st);
	assert_int_equal(st.tx_bytes, strlen(line) + 3);
	assert_int_equal(st.tx_dropped, 0);
}

/* Nobody reads the output (a stopped terminal, a full pipe): the guest's
 * writes do not hang, what cannot go out is dropped and counted, and once
 * the pipe drains output flows again. */
static void test_output_stall_bounded(void **state)
{
	struct fixture *f = *state;
	static char junk[1 << 16], buf[1 << 17];
	const char *line = "lost line\n";
	struct uart_stats st;
	int fl = fcntl(f->out[1], F_GETFL);
	size_t n;

	/* Fill the pipe, then make its write end blocking again. */
	fcntl(f->out[1], F_SETFL, fl | O_NONBLOCK);
	while (write(f->out[1], junk, sizeof(junk)) > 0)
		;
	fcntl(f->out[1], F_SETFL, fl & ~O_NONBLOCK);
	for (int i = 0; i < 3; i++)
		for (const char *p = line; *p; p++)
			out8(f, THR, *p);
	uart_get_stats(f->uart, &st);
	assert_int_equal(st.tx_dropped, 3 * strlen(line));

	/* The reader comes back. */
	fcntl(f->out[0], F_SETFL, fcntl(f->out[0], F_GETFL) | O_NONBLOCK);
	while (read(f->out[0], buf, sizeof(buf)) > 0)
		;
	for (const char *p = "back\n"; *p; p++)
		out8(f, THR, *p);
	n = drain(f, buf, sizeof(buf), 1000);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "back\n", 5);
	uart_get_stats(f->uart, &st);
	assert_int_equal(st.tx_dropped, 3 * strlen(line));
}

static void test_output_order_large_burst(void **state)
{
	struct fixture *f = *state;
	char buf[2048];
	size_t n = 0;

	for (int i = 0; i < 1000; i++)
		out8(f, THR, 'a' + i % 26);
	uart_flush(f->uart);
	n = drain(f, buf, sizeof(buf), 1000);
	assert_int_equal(n, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf[i], 'a' + i % 26);
}

static bool wait_lsr(struct fixture *f, uint8_t mask)
{
	for (int i = 0; i < 2000; i++) {
		if (in8(f, LSR) & mask)
			return true;
		usleep(1000);
	}
	return false;
}

static void test_input_rda(void **state)
{
	struct fixture *f = *state;
	struct uart_stats st;

	out8(f, FCR, 0x01);	/* FIFO on, trigger level 1 */
	out8(f, MCR, 0x0b);
	out8(f, IER, 0x01);
	assert_int_equal(write(f->in[1], "ok", 2), 2);
	assert_true(wait_lsr(f, 0x01));
	/* The thread may not have both bytes yet; RDA is pending either way. */
	assert_int_equal(in8(f, IIR), 0xc4);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(in8(f, RBR), 'o');
	assert_true(wait_lsr(f, 0x01));
	assert_int_equal(in8(f, RBR), 'k');
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	assert_int_equal(in8(f, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);

	uart_get_stats(f->uart, &st);
	assert_int_equal(st.rx_bytes, 2);

	/* EOF on input is quiet and final. */
	close(f->in[1]);
	f->in[1] = -1;
	usleep(20000);
	assert_int_equal(in8(f, LSR) & 0x01, 0);
}

/* More input than the FIFO holds is delivered in full, never overrun. */
static void test_input_flow_control(void **state)
{
	struct fixture *f = *state;
	char msg[100];

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = ' ' + i % 90;
	out8(f, FCR, 0x01);
	assert_int_equal(write(f->in[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	for (unsigned i = 0; i < sizeof(msg); i++) {
		assert_true(wait_lsr(f, 0x01));
		assert_int_equal(in8(f, RBR), (uint8_t)msg[i]);
	}
	assert_int_equal(in8(f, LSR) & 0x02, 0);	/* no overrun */
}

/* IIR priority with every source pending at once, in loopback. */
static void test_iir_priority(void **state)
{
	struct fixture *f = *state;
	char buf[16];

	out8(f, FCR, 0);		/* 1-byte receiver */
	out8(f, MCR, 0x10);		/* loopback: modem lines drop */
	out8(f, IER, 0x0f);
	out8(f, THR, 'a');
	out8(f, THR, 'b');		/* overruns */

	assert_int_equal(in8(f, IIR), 0x06);	/* RLS */
	assert_int_equal(in8(f, LSR), 0x60 | 0x02 | 0x01);
	assert_int_equal(in8(f, IIR), 0x04);	/* RDA */
	assert_int_equal(in8(f, RBR), 'a');
	assert_int_equal(in8(f, IIR), 0x02);	/* THRE, cleared by this read */
	assert_int_equal(in8(f, IIR), 0x00);	/* MSR deltas */
	assert_int_equal(in8(f, MSR), 0x0b);	/* DCTS, DDSR, DDCD */
	assert_int_equal(in8(f, IIR), 0x01);
	/* In loopback the IRQ output is disconnected, and nothing leaves. */
	assert_int_equal(f->irq.raises, 0);
	assert_int_equal(drain(f, buf, sizeof(buf), 50), 0);
}

static void test_loopback_modem_lines(void **state)
{
	struct fixture *f = *state;

	out8(f, MCR, 0x10 | 0x04);	/* OUT1 -> RI */
	assert_int_equal(in8(f, MSR) & 0xf0, 0x40);
	out8(f, MCR, 0x10);		/* RI trailing edge -> TERI */
	assert_int_equal(in8(f, MSR), 0x04);
	out8(f, MCR, 0x10 | 0x01);	/* DTR -> DSR */
	assert_int_equal(in8(f, MSR), 0x20 | 0x02);
	out8(f, MCR, 0);
	assert_int_equal(in8(f, MSR) & 0xf0, 0xb0);
}

static void test_fifo_trigger_and_timeout(void **state)
{
	struct fixture *f = *state;

	out8(f, FCR, 0x41);	/* FIFO on, trigger level 4 */
	out8(f, MCR, 0x10);
	out8(f, IER, 0x01);
	out8(f, THR, '1');
	out8(f, THR, '2');
	assert_int_equal(in8(f, IIR), 0xcc);	/* below trigger: timeout */
	out8(f, THR, '3');
	out8(f, THR, '4');
	assert_int_equal(in8(f, IIR), 0xc4);
	out8(f, FCR, 0x43);	/* clear RX FIFO */
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	assert_int_equal(in8(f, IIR), 0xc1);
}

static void test_wide_access(void **state)
{
	struct fixture *f = *state;
	uint16_t v = 0x0b01;
	uint32_t r = 0;

	/* outw to base+3 writes LCR then MCR, like two outb on the ISA bus. */
	assert_int_equal(iobus_access(f->bus, IO_PIO, NULL, BASE + LCR, &v, 2,
				      true), 0);
	assert_int_equal(in8(f, LCR), 0x01);
	assert_int_equal(in8(f, MCR), 0x0b);
	/* A read running past the last register sees ones there. */
	assert_int_equal(iobus_access(f->bus, IO_PIO, NULL, BASE + SCR, &r, 4,
				      false), 0);
	assert_int_equal(r >> 8, 0xffffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reset_state),
		T(test_scratch_and_divisor),
		T(test_linux_autoconfig_finds_16550a),
		T(test_thre_interrupt),
		T(test_irq_needs_out2),
		T(test_output_reaches_fd),
		T(test_output_stall_bounded),
		T(test_output_order_large_burst),
		T(test_input_rda),
		T(test_input_flow_control),
		T(test_iir_priority),
		T(test_loopback_modem_lines),
		T(test_fifo_trigger_and_timeout),
		T(test_wide_access),
#undef T
	};
	return cmocka_run_group_tests_name("dev-uart", tests, NULL, NULL);
}
