/* Constants shared by the kit's assembly and C. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define MAX_CPUS 16
/* Every stack (kernel, user, IST) is STACK_SIZE bytes, STACK_SIZE aligned;
 * its lowest word points to the owning CPU's struct percpu (this_cpu()). */
#define STACK_SIZE 16384
#define STACK_SHIFT 14

/* GDT selectors. 0x10/0x18 match amalgam's boot GDT. */
#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UDATA 0x23
#define SEL_UCODE 0x2b
#define SEL_TSS0 0x30		/* + 16 * cpu */
#define GDT_ENTRIES (6 + 2 * MAX_CPUS)

/* Where the AP real-mode trampoline is copied (SIPI vector 0x08). */
#define TRAMPOLINE_ADDR 0x8000

/* Vectors the kit owns; tests use 0x30-0xdf. */
#define VEC_KIT_TIMER 0xef	/* wakes wait_until() at its deadline */
#define VEC_WAKE 0xf0		/* "look at your mailbox" IPI */
#define VEC_SPURIOUS 0xff

#define XAPIC_BASE 0xfee00000

/* struct percpu fields used by entry.S (checked in cpu.c). */
#define PERCPU_TSS 0
#define PERCPU_USTACK_TOP 8

#endif
