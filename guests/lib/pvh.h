/* The PVH entry path (lib/pvh.S, link with lib/pvh.ld): lets a test guest
 * boot under QEMU's -kernel too. The kit then runs as under amalgam, with
 * a zero page made from the PVH start info (command line, memory map). */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578

/* Xen public arch-x86/hvm/start_info.h, version 1. */
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr;		/* version >= 1 */
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;	/* type: e820 numbering */
};

/* Physical address of the hvm_start_info when the guest was entered
 * through PVH, 0 when amalgam entered it at _start. */
extern uint64_t pvh_start_info;

/* Called by pvh.S in long mode, before _start: returns the zero page. */
void *pvh_boot_params(uint64_t start_info);

#endif
