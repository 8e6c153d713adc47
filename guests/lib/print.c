#include "print.h"

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "kstring.h"
#include "x86.h"

#define UART_THR 0
#define UART_LSR 5
#define LSR_THRE 0x20

/* 0 = free, else holder's cpu + 1. */
static volatile uint32_t lock_owner;
static unsigned lock_depth;

void print_lock(void)
{
	uint32_t me = smp_id() + 1;

	if (READ_ONCE(lock_owner) == me) {
		lock_depth++;
		return;
	}
	for (;;) {
		uint32_t expected = 0;

		__asm__ __volatile__("lock cmpxchgl %2, %1"
				     : "+a"(expected), "+m"(lock_owner)
				     : "r"(me)
				     : "memory");
		if (expected == 0)
			break;
		pause();
	}
	lock_depth = 1;
}

void print_unlock(void)
{
	if (--lock_depth == 0)
		WRITE_ONCE(lock_owner, 0);
}

void serial_init(void)
{
	/* amalgam's UART needs no setup; program 8N1 anyway for real ones. */
	outb(COM1 + 1, 0x00);	/* IER: no interrupts */
	outb(COM1 + 3, 0x03);	/* LCR: 8N1, DLAB off */
}

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		pause();
	outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	while (n--)
		serial_putc(*s++);
}

/* ---- formatter ---- */

struct out {
	char *buf;
	size_t size, len;	/* len counts every char, even those cut off */
	bool to_serial;
};

static void emit(struct out *o, char c)
{
	if (o->to_serial)
		serial_putc(c);
	else if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void emit_padded(struct out *o, const char *s, size_t n, int width,
			bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left)
		while (fill-- > 0)
			emit(o, pad);
	while (n--)
		emit(o, *s++);
	if (left)
		while (fill-- > 0)
			emit(o, ' ');
}

static void format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		char tmp[24], *p;
		bool left = false, neg = false, alt = false;
		char pad = ' ';
		int width = 0, prec = -1, lng = 0;
		unsigned base = 10;
		uint64_t v;
		const char *digits = "0123456789abcdef";

		if (*fmt != '%') {
			emit(o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '#')
				alt = true;
			else if (*fmt == '0')
				pad = '0';
			else
				break;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + (*fmt - '0');
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		switch (*fmt) {
		case '\0':
			return;
		case '%':
			emit(o, '%');
			continue;
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			emit_padded(o, tmp, 1, width, left, ' ');
			continue;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n;

			if (!s)
				s = "(null)";
			n = strlen(s);
			if (prec >= 0 && (size_t)prec < n)
				n = (size_t)prec;
			emit_padded(o, s, n, width, left, ' ');
			continue;
		}
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			base = 16;
			emit(o, '0');
			emit(o, 'x');
			break;
		case 'd':
		case 'i': {
			int64_t s = lng ? va_arg(ap, long) : va_arg(ap, int);

			neg = s < 0;
			v = neg ? -(uint64_t)s : (uint64_t)s;
			break;
		}
		case 'X':
			digits = "0123456789ABCDEF";
			/* fall through */
		case 'x':
			base = 16;
			/* fall through */
		case 'o':
			if (*fmt == 'o')
				base = 8;
			/* fall through */
		case 'u':
			v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			break;
		default:
			emit(o, '%');
			emit(o, *fmt);
			continue;
		}
		p = tmp + sizeof(tmp);
		do {
			*--p = digits[v % base];
			v /= base;
		} while (v);
		if (neg || (alt && base == 16)) {
			const char *pre = neg ? "-" : "0x";

			if (pad == '0') {
				for (; *pre; pre++, width--)
					emit(o, *pre);
			} else {
				p -= strlen(pre);
				memcpy(p, pre, strlen(pre));
			}
		}
		emit_padded(o, p, (size_t)(tmp + sizeof(tmp) - p), width, left,
			    pad);
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size };

	format(&o, fmt, ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	struct out o = { .to_serial = true };

	print_lock();
	format(&o, fmt, ap);
	print_unlock();
	return (int)o.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *s)
{
	size_t n = strlen(s);

	print_lock();
	serial_write(s, n);
	serial_putc('\n');
	print_unlock();
	return (int)n + 1;
}
