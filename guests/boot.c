/* The boot ABI (README.md): entry state (64-bit, CS 0x10, data 0x18,
 * interrupts off, paging on with amalgam's tables at 0x9000-0xefff, RSI =
 * a zero page in low RAM), the command line from --append, and an e820 map whose
 * RAM matches --memory (64 MiB: 0-0x9fc00 and 1 MiB up) with the image
 * inside it. */
#include "libguest.h"

extern char __image_start[], __image_end[];

int main(void)
{
	const struct entry_state *e = &entry_state;
	uint64_t ram = e820_ram(), low = 0, high = 0;
	bool image_in_ram = false;

	report(e->cs == 0x10 && e->ds == 0x18 && e->es == 0x18 && e->ss == 0x18,
	       "entry selectors CS %#x DS %#x ES %#x SS %#x", e->cs, e->ds,
	       e->es, e->ss);
	report(!(e->rflags & 0x200), "entered with interrupts off (RFLAGS %#lx)",
	       e->rflags);
	report((e->cr0 & 0x80000001) == 0x80000001 && (e->cr4 & 0x20) &&
	       (e->efer & 0x500) == 0x500,
	       "long mode with paging (CR0 %#lx CR4 %#lx EFER %#lx)", e->cr0,
	       e->cr4, e->efer);
	report((e->cr3 & ~0xfffull) >= 0x9000 && (e->cr3 & ~0xfffull) <= 0xe000,
	       "CR3 %#lx: amalgam's tables at 0x9000-0xefff", e->cr3);
	report(e->rsi && e->rsi < 0x9fc00 && !(e->rsi & 0xfff),
	       "RSI %#lx: a page in low RAM (the zero page)", e->rsi);

	report(!strcmp(cmdline(), "answer=42 flag word=x"),
	       "command line \"%s\"", cmdline());
	report(cmdline_int("answer", 0) == 42 && cmdline_has("flag") &&
	       cmdline_has("word") && !cmdline_has("fla"),
	       "command line parsed");

	for (unsigned i = 0; i < e820_count(); i++) {
		const struct e820_entry *r = &e820_table()[i];

		report_info("e820 %016lx-%016lx type %u", r->addr,
			    r->addr + r->size - 1, r->type);
		if (r->type != 1)
			continue;
		if (r->addr == 0)
			low = r->size;
		if (r->addr == 0x100000)
			high = r->size;
		if (r->addr <= (uintptr_t)__image_start &&
		    (uintptr_t)__image_end <= r->addr + r->size)
			image_in_ram = true;
	}
	report(low == 0x9fc00 && high == (64ull << 20) - 0x100000,
	       "e820 RAM 0-0x9fc00 and 1 MiB-64 MiB (%lu KiB in all)",
	       ram >> 10);
	report(image_in_ram, "the image %p-%p is in e820 RAM",
	       (void *)__image_start, (void *)__image_end);
	return report_summary();
}
