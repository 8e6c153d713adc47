/* Per-CPU state, descriptor tables, interrupt dispatch and ring 3.
 *
 * Conventions: kit and test code in ring 0 runs with interrupts off (IF=0);
 * interrupts are taken only inside safe_halt() (wait_until(), the AP idle
 * loop) and while in ring 3 (run_user() enters ring 3 with IF=1).
 * Handlers run in ring 0 with IF=0 and must EOI the LAPIC themselves. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "layout.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

typedef void (*work_fn)(void *arg);

struct percpu {
	struct tss *tss;		/* PERCPU_TSS, used by entry.S */
	uint64_t ustack_top;		/* PERCPU_USTACK_TOP */
	unsigned cpu;
	uint32_t apic_id;
	volatile bool online;
	/* Mailbox for on_cpu(): written by the requester while work_seq ==
	 * done_seq, then work_seq is bumped and the CPU woken. */
	work_fn work;
	void *work_arg;
	unsigned work_from;
	volatile uint32_t work_seq, done_seq;
	volatile uint32_t wakeups;	/* VEC_WAKE interrupts taken */
	volatile bool kit_timer_fired;
	bool in_exception;
};

extern struct percpu percpu[MAX_CPUS];

/* Works on any kit stack, in ring 0 and in ring 3. */
static inline struct percpu *this_cpu(void)
{
	uint64_t sp;

	__asm__("mov %%rsp, %0" : "=r"(sp));
	return *(struct percpu **)(sp & ~(uint64_t)(STACK_SIZE - 1));
}

static inline unsigned smp_id(void)
{
	return this_cpu()->cpu;
}

/* Saved by the entry stubs. For interrupts (vector >= 32) the callee-saved
 * fields (rbx, rbp, r12-r15) are not saved and hold garbage. */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler)(struct irq_frame *f);

/* Install a handler for a vector (0-255). An exception vector with a
 * handler is "expected": the handler may change f->rip to skip the
 * faulting instruction. Unhandled exceptions and interrupts print a report
 * and end the test with status 1. */
void irq_set_handler(unsigned vector, irq_handler h);

/* Run fn(arg) in ring 3 on this CPU's user stack with IF=1; returns fn's
 * result. fn must not do port I/O or anything privileged (no printf).
 * Not reentrant: fn must not call run_user. */
uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg);

/* Write status to the exit device (port 0xf4) and stop. */
noreturn void exit(int status);

/* Per-CPU setup: TSS, stack pointers to percpu. Called by the kit. */
void cpu_prepare(unsigned cpu);
void cpu_load(unsigned cpu);

/* Provided by the test. */
int main(void);

#endif
