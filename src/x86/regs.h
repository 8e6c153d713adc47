/* Architectural vCPU register states that the VMM sets up: the 64-bit
 * boot-protocol entry of the BSP and the real-mode start of an AP after
 * SIPI. */
#ifndef AMALGAM_X86_REGS_H
#define AMALGAM_X86_REGS_H

#include <stdint.h>

/* Selectors of the boot GDT built by boot.c (Linux boot protocol values). */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* How the BSP starts: in long mode like Linux's 64-bit boot protocol, or
 * in 32-bit protected mode with paging off (multiboot, PVH). */
enum boot_mode {
	BOOT_MODE_LONG64 = 0,
	BOOT_MODE_PROT32 = 1,
};

struct boot_entry {
	uint64_t rip;
	uint64_t rsi;		/* LONG64: boot_params */
	uint64_t cr3;		/* LONG64 only */
	uint32_t eax, ebx;	/* PROT32 only: magic and boot information */
	uint8_t mode;		/* enum boot_mode */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

/* LONG64: long mode, paging on, flat segments, interrupts off.
 * PROT32: 32-bit protected mode, paging off, flat 4 GiB code (BOOT_CS,
 * from the GDT at gdt_base) and data (BOOT_DS) segments, a 32-bit TSS in
 * TR (PVH asks for one), interrupts off, EAX and EBX as given. */
int regs_set_boot(int vcpu_fd, const struct boot_entry *e);
/* Real mode at vector:0000 as after INIT then SIPI. */
int regs_set_sipi(int vcpu_fd, uint8_t vector);

#endif
