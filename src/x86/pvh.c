#include "x86/pvh.h"

#include <errno.h>
#include <string.h>

int64_t pvh_start_info(uint8_t *buf, const struct boot_map_entry *map,
		       unsigned nr_map, uint64_t rsdp, const char *cmdline,
		       const struct img_module *mods, unsigned nr_mods)
{
	/* Layout: the start info, the memory map, the module list, then the
	 * strings. */
	size_t mm = 64, ml = mm + nr_map * sizeof(struct hvm_memmap_table_entry);
	size_t pos = ml + nr_mods * sizeof(struct hvm_modlist_entry);
	struct hvm_start_info si = {
		.magic = PVH_START_MAGIC, .version = 1, .nr_modules = nr_mods,
		.modlist_paddr = nr_mods ? PVH_INFO_ADDR + ml : 0,
		.rsdp_paddr = rsdp,
		.memmap_paddr = PVH_INFO_ADDR + mm, .memmap_entries = nr_map,
	};
	size_t cl = strlen(cmdline ? cmdline : "") + 1;

	if (pos > PVH_INFO_MAX)
		return -E2BIG;
	memset(buf, 0, pos);
	for (unsigned i = 0; i < nr_map; i++) {
		struct hvm_memmap_table_entry e = { map[i].addr, map[i].size, map[i].type, 0 };

		memcpy(buf + mm + i * sizeof(e), &e, sizeof(e));
	}
	for (unsigned i = 0; i < nr_mods; i++) {
		struct hvm_modlist_entry e = { mods[i].addr, mods[i].size, 0, 0 };

		if (mods[i].cmdline) {
			size_t n = strlen(mods[i].cmdline) + 1;

			if (pos + n > PVH_INFO_MAX)
				return -E2BIG;
			memcpy(buf + pos, mods[i].cmdline, n);
			e.cmdline_paddr = PVH_INFO_ADDR + pos;
			pos += n;
		}
		memcpy(buf + ml + i * sizeof(e), &e, sizeof(e));
	}
	if (pos + cl > PVH_INFO_MAX)
		return -E2BIG;
	memcpy(buf + pos, cmdline ? cmdline : "", cl);
	si.cmdline_paddr = PVH_INFO_ADDR + pos;
	memcpy(buf, &si, sizeof(si));
	return (int64_t)PVH_INFO_ADDR;
}
