/* Architectural vCPU register states that the VMM sets up: the 64-bit
 * boot-protocol entry of the BSP and the real-mode start of an AP after
 * SIPI. */
#ifndef AMALGAM_X86_REGS_H
#define AMALGAM_X86_REGS_H

#include <stdint.h>

/* Selectors of the boot GDT built by boot.c (Linux boot protocol values). */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

struct boot_entry {
	uint64_t rip;
	uint64_t rsi;		/* boot_params */
	uint64_t cr3;
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

/* Long mode, paging on, flat segments, interrupts off. */
int regs_set_boot64(int vcpu_fd, const struct boot_entry *e);
/* Real mode at vector:0000 as after INIT then SIPI. */
int regs_set_sipi(int vcpu_fd, uint8_t vector);

#endif
