/* The PVH boot ABI (Xen's docs/misc/pvh.pandoc and
 * xen/include/public/arch-x86/hvm/start_info.h), as QEMU's -kernel and
 * Firecracker give it: an ELF kernel with a XEN_ELFNOTE_PHYS32_ENTRY note
 * (an uncompressed vmlinux, or our guests linked with guests/lib/pvh.ld)
 * is loaded by its segments and entered at the note's address in 32-bit
 * protected mode, paging off, flat segments, with EBX = the physical
 * address of an hvm_start_info (version 1): command line, modules (each
 * with its own string), the ACPI RSDP and the memory map. */
#ifndef AMALGAM_X86_PVH_H
#define AMALGAM_X86_PVH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/bootimg.h"

#define PVH_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

static_assert(sizeof(struct hvm_start_info) == 56, "start info ABI");
static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "start info ABI");
static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist ABI");
static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap ABI");

/* Where amalgam puts the start info and what it points to (below 1 MiB,
 * the same place as the multiboot information). */
#define PVH_INFO_ADDR 0x30000ULL
#define PVH_INFO_MAX 0x10000

/* Build the start info in buf (guest address PVH_INFO_ADDR, PVH_INFO_MAX
 * bytes). Returns its guest address or -E2BIG. */
int64_t pvh_start_info(uint8_t *buf, const struct boot_map_entry *map,
		       unsigned nr_map, uint64_t rsdp, const char *cmdline,
		       const struct img_module *mods, unsigned nr_mods);

#endif
