#include "startall.h"

#include <stdnoreturn.h>

#include "apic.h"
#include "cpu.h"
#include "layout.h"
#include "print.h"
#include "report.h"
#include "smp.h"

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* What the waiting vCPUs read in entry.S (go first, at offset 0) and then
 * here. Alone on its page and in .data, not .bss: the others spin on it
 * from their first instruction, while the BSP zeroes .bss and writes the
 * rest of the kit's state. */
struct start_all_page {
	volatile uint32_t go;
	void (*fn)(unsigned cpu);
	char pad[4096 - 16];
};
_Static_assert(sizeof(struct start_all_page) == 4096, "one page");
struct start_all_page start_all_page
	__attribute__((section(".data.start_all"), aligned(4096)));

uint32_t wait_spin_us = 50, wait_nap_us = 50, wait_nap_max_us = 800;

/* APs that entered fn / returned from it. */
static volatile uint32_t started, finished;

extern uint64_t gdt[GDT_ENTRIES];
extern const struct desc_ptr idt_desc;
static const struct desc_ptr gdt_desc = { GDT_ENTRIES * 8 - 1, (uintptr_t)gdt };
void load_gdt(const struct desc_ptr *gdtr);
noreturn void start_all_ap(unsigned cpu);

/* #UD: user_nap()'s trap, or a real one (reported like the kit's
 * unexpected exceptions). */
static void ud_handler(struct irq_frame *f)
{
	uint64_t count;

	if (f->rip != (uintptr_t)user_nap || (f->cs & 3) != 3) {
		print_lock();
		printf("UNEXPECTED EXCEPTION: vector 6 (#UD) on cpu %u, "
		       "RIP=%016lx CS=%04lx RSP=%016lx\n", smp_id(), f->rip,
		       f->cs, f->rsp);
		report(false, "no unexpected exception or interrupt");
		exit(report_summary());
	}
	count = (f->rdi ? f->rdi : 1) * apic_timer_khz / 1000;
	if (count > 0xffffffffu)
		count = 0xffffffffu;
	this_cpu()->kit_timer_fired = false;
	apic_timer_start(VEC_KIT_TIMER, APIC_TDCR_1, (uint32_t)count);
	while (!READ_ONCE(this_cpu()->kit_timer_fired))
		safe_halt();
	f->rip += 2;
}

/* From entry.S, on this CPU's kernel stack, still on amalgam's boot GDT. */
noreturn void start_all_ap(unsigned cpu)
{
	uint64_t cr4 = read_cr4();

	/* As on the BSP: every page is a User page. */
	if (cr4 & (3u << 20))
		__asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4 & ~(3ull << 20)));
	load_gdt(&gdt_desc);
	__asm__ __volatile__("lidt %0" : : "m"(idt_desc));
	cpu_load(cpu);
	apic_init_cpu();
	percpu[cpu].apic_id = apic_id();
	WRITE_ONCE(percpu[cpu].online, true);
	atomic_inc(&started);
	start_all_page.fn(cpu);
	atomic_inc(&finished);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

unsigned start_all(void (*fn)(unsigned cpu), unsigned timeout_ms)
{
	for (unsigned c = 1; c < nr_cpus; c++)
		cpu_prepare(c);
	irq_set_handler(6, ud_handler);
	start_all_page.fn = fn;
	barrier();
	WRITE_ONCE(start_all_page.go, 1);
	poll_until(READ_ONCE(started) == nr_cpus - 1, timeout_ms);
	return start_all_started();
}

unsigned start_all_started(void)
{
	return READ_ONCE(started) + 1;
}

bool start_all_wait(unsigned timeout_ms)
{
	return poll_until(READ_ONCE(finished) == READ_ONCE(started), timeout_ms);
}

void ubarrier_init(struct ubarrier *b)
{
	b->count = 0;
	b->gen = 0;
}

bool ubarrier_wait(struct ubarrier *b, unsigned n, unsigned ms)
{
	/* The generation cannot move before we arrive: read it first. */
	uint32_t gen = b->gen;

	if (atomic_inc(&b->count) == n) {
		b->count = 0;
		WRITE_ONCE(b->gen, gen + 1);
		return true;
	}
	return wait_user(READ_ONCE(b->gen) != gen, ms);
}
