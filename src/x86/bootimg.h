/* What the boot protocols share (boot.c, multiboot.c, pvh.c): a kernel
 * image as the segments to copy into guest RAM, parsed from an in-memory
 * buffer (ELF32 or ELF64, checked against the buffer's length and against
 * each other); the guest's RAM map; where modules go. The parsers touch
 * no guest memory, so the unit tests run them on buffers
 * (tests/unit/vmm/test_bootimg.c). */
#ifndef AMALGAM_X86_BOOTIMG_H
#define AMALGAM_X86_BOOTIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define IMG_MAX_SEGS 16

/* One piece of the image: filesz bytes from offset in the file to paddr,
 * then zeros up to memsz. */
struct img_seg {
	uint64_t paddr, offset, filesz, memsz;
};

struct img_layout {
	unsigned nr;
	struct img_seg seg[IMG_MAX_SEGS];
	uint64_t entry;
	uint64_t end;		/* highest paddr + memsz over the segments */
	bool elf32;
};

/* The PT_LOAD segments of an x86 ELF32 or ELF64 image (loaded at p_paddr).
 * 0, or -ENOEXEC with the reason (no file name) in err: not x86 ELF,
 * header or segment table truncated, a segment past the file's end, too
 * many segments, two segments overlapping, filesz > memsz. */
int elfimg_parse(const uint8_t *img, size_t len, struct img_layout *out,
		 char *err, size_t errlen);

/* The PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY, note type 18 of owner
 * "Xen", 4- or 8-byte value) of an ELF image that elfimg_parse accepted.
 * 1 and *entry, 0 if it has no such note, -ENOEXEC (reason in err) for a
 * note that is truncated or points above 4 GiB. */
int elfimg_pvh_entry(const uint8_t *img, size_t len, uint32_t *entry,
		     char *err, size_t errlen);

/* Every segment must lie in RAM from 1 MiB to low_size (below the 32-bit
 * hole, where a 32-bit entry can reach it). 0 or -EFBIG, reason in err. */
int img_check_ram(const struct img_layout *l, uint64_t low_size, char *err,
		  size_t errlen);

/* Copy the segments (already checked) into guest RAM. */
void img_copy(struct guest_mem *mem, const struct img_layout *l,
	      const uint8_t *img);

/* The guest's RAM map, as e820 entries (type 1 RAM, 2 reserved): the
 * same for every boot protocol. Returns the count (at most BOOT_MAP_MAX). */
#define BOOT_MAP_MAX 4
#define BOOT_MAP_RAM 1
#define BOOT_MAP_RESERVED 2
struct boot_map_entry {
	uint64_t addr, size;
	uint32_t type;
};
unsigned boot_ram_map(const struct guest_mem *mem, struct boot_map_entry *out);

/* A module (multiboot) or initrd as loaded: where, how long, its string. */
struct img_module {
	uint64_t addr, size;
	const char *cmdline;	/* may be NULL */
};

/* Load the files of mods[0..n) into guest RAM, each page-aligned, the
 * first at or above start, in order, all below low_size. 0, or -errno
 * with "cannot read"/"does not fit" and the file in err. */
struct boot_module;
int img_load_modules(struct guest_mem *mem, const struct boot_module *mods,
		     unsigned n, uint64_t start, struct img_module *out,
		     char *err, size_t errlen);

/* Read a whole file. 0, or -errno with "cannot open/read 'path'" in err. */
int img_read_file(const char *path, uint8_t **buf, size_t *len, char *err,
		  size_t errlen);

#endif
