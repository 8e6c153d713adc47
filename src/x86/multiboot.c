#include "x86/multiboot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)

/* Requirement bits (0-15) amalgam honours; any other one set makes the
 * image unbootable here, as the specification asks. */
#define MB_HDR_KNOWN (MB_HDR_ALIGN | MB_HDR_MEMINFO | MB_HDR_VIDEO)

#define LOADER_NAME "amalgam"

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* The a.out kludge: one segment from the header's addresses. */
static int parse_aout(const uint8_t *img, size_t len, size_t hdr, struct img_layout *out,
		      char *err, size_t errlen)
{
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
	uint64_t off, filesz, memsz;

	if (hdr + 32 > len) {
		set_err("multiboot header is truncated (the a.out kludge fields are missing)");
		return -ENOEXEC;
	}
	header_addr = rd32(img + hdr + 12);
	load_addr = rd32(img + hdr + 16);
	load_end = rd32(img + hdr + 20);
	bss_end = rd32(img + hdr + 24);
	entry = rd32(img + hdr + 28);
	if (header_addr < load_addr || header_addr - load_addr > hdr) {
		set_err("multiboot header_addr %#x and load_addr %#x do not match the header's place in the file",
			header_addr, load_addr);
		return -ENOEXEC;
	}
	off = hdr - (header_addr - load_addr);
	if (load_end == 0) {
		filesz = len - off;
	} else {
		if (load_end < load_addr) {
			set_err("multiboot load_end_addr %#x is below load_addr %#x", load_end, load_addr);
			return -ENOEXEC;
		}
		filesz = load_end - load_addr;
		if (filesz > len - off) {
			set_err("image is truncated: the multiboot header loads %llu bytes from offset %llu, the file has %zu",
				(unsigned long long)filesz, (unsigned long long)off, len);
			return -ENOEXEC;
		}
	}
	memsz = filesz;
	if (bss_end) {
		if (bss_end < load_addr + filesz) {
			set_err("multiboot bss_end_addr %#x is below the end of the loaded data", bss_end);
			return -ENOEXEC;
		}
		memsz = bss_end - load_addr;
	}
	if (!memsz) {
		set_err("multiboot header loads nothing");
		return -ENOEXEC;
	}
	memset(out, 0, sizeof(*out));
	out->nr = 1;
	out->seg[0] = (struct img_seg){ load_addr, off, filesz, memsz };
	out->entry = entry;
	out->end = (uint64_t)load_addr + memsz;
	return 0;
}

int multiboot_parse(const uint8_t *img, size_t len, struct img_layout *out,
		    char *err, size_t errlen)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	size_t hdr;
	uint32_t flags;
	int r;

	for (hdr = 0; hdr + 4 <= limit; hdr += 4)
		if (rd32(img + hdr) == MULTIBOOT_HEADER_MAGIC)
			break;
	if (hdr + 4 > limit)
		return 0;
	if (hdr + 12 > len) {
		set_err("multiboot header is truncated");
		return -ENOEXEC;
	}
	flags = rd32(img + hdr + 4);
	if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + flags + rd32(img + hdr + 8)) != 0) {
		set_err("multiboot header checksum is wrong (magic + flags + checksum must be 0)");
		return -ENOEXEC;
	}
	if (flags & 0xffff & ~MB_HDR_KNOWN) {
		set_err("multiboot header asks for features amalgam does not give (flags %#x)", flags);
		return -ENOEXEC;
	}
	if (flags & MB_HDR_AOUT) {
		r = parse_aout(img, len, hdr, out, err, errlen);
	} else if (len >= 4 && memcmp(img, "\177ELF", 4) == 0) {
		r = elfimg_parse(img, len, out, err, errlen);
	} else {
		set_err("multiboot image is neither ELF nor has the a.out kludge addresses (flag 16)");
		return -ENOEXEC;
	}
	if (r)
		return r;
	if (out->entry > 0xffffffffULL) {
		set_err("multiboot entry point %#llx is above 4 GiB", (unsigned long long)out->entry);
		return -ENOEXEC;
	}
	return 1;
}

/* Append a NUL-terminated string at *pos in buf; its guest address, or 0
 * if it does not fit. */
static uint32_t put_str(uint8_t *buf, size_t *pos, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t at = (uint32_t)(MB_INFO_ADDR + *pos);

	if (*pos + n > MB_INFO_MAX)
		return 0;
	memcpy(buf + *pos, s, n);
	*pos += n;
	return at;
}

int64_t multiboot_info(uint8_t *buf, const struct boot_map_entry *map,
		       unsigned nr_map, uint64_t low_size, const char *cmdline,
		       const struct img_module *mods, unsigned nr_mods)
{
	/* Layout: the structure, the memory map, the module list, then the
	 * strings. */
	size_t mmap = 128, modl = mmap + nr_map * 24, pos = modl + nr_mods * 16;
	uint32_t lower = 0, upper = 0;

	if (pos > MB_INFO_MAX)
		return -E2BIG;
	memset(buf, 0, pos);
	for (unsigned i = 0; i < nr_map; i++) {
		uint8_t *e = buf + mmap + i * 24;

		/* Each entry starts with its size, which does not count itself. */
		wr32(e, 20);
		wr64(e + 4, map[i].addr);
		wr64(e + 12, map[i].size);
		wr32(e + 20, map[i].type);
		if (map[i].type == BOOT_MAP_RAM && map[i].addr == 0)
			lower = (uint32_t)(map[i].size >> 10);
	}
	/* mem_upper: KiB of RAM from 1 MiB up to the first hole. */
	upper = (uint32_t)((low_size - 0x100000) >> 10);
	wr32(buf + MBI_MEM_LOWER, lower);
	wr32(buf + MBI_MEM_UPPER, upper);
	/* No BIOS disk: "the boot device is not a BIOS disk" as QEMU says. */
	wr32(buf + MBI_BOOT_DEVICE, 0x8000ffff);
	wr32(buf + MBI_MMAP_LENGTH, nr_map * 24);
	wr32(buf + MBI_MMAP_ADDR, (uint32_t)(MB_INFO_ADDR + mmap));
	wr32(buf + MBI_MODS_COUNT, nr_mods);
	wr32(buf + MBI_MODS_ADDR, (uint32_t)(MB_INFO_ADDR + modl));
	for (unsigned i = 0; i < nr_mods; i++) {
		uint8_t *m = buf + modl + i * 16;
		uint32_t s = put_str(buf, &pos, mods[i].cmdline ? mods[i].cmdline : "");

		if (!s)
			return -E2BIG;
		wr32(m, (uint32_t)mods[i].addr);
		wr32(m + 4, (uint32_t)(mods[i].addr + mods[i].size));
		wr32(m + 8, s);
		wr32(m + 12, 0);
	}
	{
		uint32_t c = put_str(buf, &pos, cmdline ? cmdline : "");
		uint32_t n = put_str(buf, &pos, LOADER_NAME);

		if (!c || !n)
			return -E2BIG;
		wr32(buf + MBI_CMDLINE, c);
		wr32(buf + MBI_LOADER_NAME, n);
	}
	wr32(buf + MBI_FLAGS, MB_INFO_MEM | MB_INFO_BOOTDEV | MB_INFO_CMDLINE |
	     MB_INFO_MODS | MB_INFO_MMAP | MB_INFO_LOADER);
	return (int64_t)MB_INFO_ADDR;
}
