/* Console output on COM1 (0x3f8), polled, and a small printf.
 * Formats: %d %i %u %x %X %o %c %s %p %% with flags '-', '0', width,
 * precision for %s, and length modifiers l, ll, z.
 * Ring 0 only (port I/O). Whole printf calls are serialized across CPUs. */
#ifndef GUEST_PRINT_H
#define GUEST_PRINT_H

#include <stdarg.h>
#include <stddef.h>

#define COM1 0x3f8

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);	/* writes s and a newline */

/* The console lock, for callers that print several pieces as one unit.
 * Recursive for the holder so an exception while printing still reports. */
void print_lock(void);
void print_unlock(void);

#endif
