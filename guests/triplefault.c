/* Negative test: the guest triple-faults (an empty IDT, then a #GP from a
 * non-canonical load: #GP -> #DF -> shutdown). amalgam must stop with a
 * non-zero status and a register dump (containing "RIP") on stderr. */
#include "libguest.h"

int main(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	report_info("empty IDT, then a fault: expect a triple fault");
	__asm__ __volatile__("lidt %0" : : "m"(empty));
	(void)*(volatile uint64_t *)0x8000000000000000ull;
	report(false, "still running after the triple fault");
	return report_summary();
}
