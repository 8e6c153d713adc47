#include "report.h"

#include <stdarg.h>
#include <stdint.h>

#include "print.h"
#include "x86.h"

static volatile uint32_t tests, failures, skipped;

static void line(const char *tag, const char *fmt, va_list ap)
{
	print_lock();
	printf("%s: ", tag);
	vprintf(fmt, ap);
	serial_putc('\n');
	print_unlock();
}

void report(bool pass, const char *fmt, ...)
{
	va_list ap;

	atomic_inc(&tests);
	if (!pass)
		atomic_inc(&failures);
	va_start(ap, fmt);
	line(pass ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
}

void report_skip(const char *fmt, ...)
{
	va_list ap;

	atomic_inc(&skipped);
	va_start(ap, fmt);
	line("SKIP", fmt, ap);
	va_end(ap);
}

void report_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line("INFO", fmt, ap);
	va_end(ap);
}

extern volatile uint32_t sti_shadow_breaks;	/* cpu.c */

int report_summary(void)
{
	if (sti_shadow_breaks)
		report_info("platform: %u interrupts taken inside an STI shadow, "
			    "resumed after their HLT (cpu.c)", sti_shadow_breaks);
	print_lock();
	printf("SUMMARY: %u tests, %u failures", tests, failures);
	if (skipped)
		printf(", %u skipped", skipped);
	serial_putc('\n');
	print_unlock();
	return failures || !tests ? 1 : 0;
}
