/* The PVH start info (Xen public arch-x86/hvm/start_info.h) turned into
 * the few zero-page fields the kit reads (boot.c): the command line
 * pointer and the e820 table. Runs before _start, hence before .bss is
 * zeroed: everything it writes lives in .data. */
#include "pvh.h"

#include <stddef.h>

/* Zero-page offsets, as in boot.c. */
#define BP_E820_ENTRIES 0x1e8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128

struct e820 {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "ABI");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "ABI");

uint64_t pvh_start_info __attribute__((section(".data")));
static uint8_t zero_page[4096]
	__attribute__((aligned(4096), section(".data")));

void *pvh_boot_params(uint64_t start_info)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info;
	const struct hvm_memmap_entry *m;
	struct e820 *e = (struct e820 *)(zero_page + BP_E820_TABLE);
	unsigned n;

	pvh_start_info = start_info;
	if (!si || si->magic != HVM_START_MAGIC)
		return zero_page;	/* no command line, empty map */
	if (si->cmdline_paddr >> 32 == 0)
		*(uint32_t *)(zero_page + BP_CMD_LINE_PTR) =
			(uint32_t)si->cmdline_paddr;
	if (si->version < 1 || !si->memmap_paddr)
		return zero_page;
	m = (const void *)(uintptr_t)si->memmap_paddr;
	n = si->memmap_entries < E820_MAX ? si->memmap_entries : E820_MAX;
	for (unsigned i = 0; i < n; i++) {
		e[i].addr = m[i].addr;
		e[i].size = m[i].size;
		e[i].type = m[i].type;
	}
	zero_page[BP_E820_ENTRIES] = (uint8_t)n;
	return zero_page;
}
