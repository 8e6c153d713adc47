/* Multiboot version 1 (the GNU Multiboot Specification 0.6.96), as QEMU's
 * -kernel gives it: the image's header (magic 0x1BADB002 in its first
 * 8 KiB, 4-byte aligned, with flags and checksum) says how to load it,
 * either as ELF (ELF32, or ELF64 with an entry below 4 GiB) or through the
 * "a.out kludge" addresses (flag 16). The loader puts the modules
 * page-aligned after the kernel, builds the information structure (memory
 * sizes, the memory map, command line, modules, boot loader name) below
 * 1 MiB, and enters at the entry point in 32-bit protected mode, paging
 * off, flat segments, with EAX = 0x2BADB002 and EBX = the structure. */
#ifndef AMALGAM_X86_MULTIBOOT_H
#define AMALGAM_X86_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "x86/bootimg.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH 8192

/* Header flags: 0 page-align modules, 1 memory info, 2 video mode (not
 * given: no framebuffer), 16 the a.out kludge addresses are valid. Bits
 * 0-15 are requirements: a loader that does not know one must refuse. */
#define MB_HDR_ALIGN (1u << 0)
#define MB_HDR_MEMINFO (1u << 1)
#define MB_HDR_VIDEO (1u << 2)
#define MB_HDR_AOUT (1u << 16)

/* Info flags (which fields of the information structure are valid). */
#define MB_INFO_MEM (1u << 0)
#define MB_INFO_BOOTDEV (1u << 1)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MMAP (1u << 6)
#define MB_INFO_LOADER (1u << 9)

/* Field offsets of the information structure. */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_BOOT_DEVICE 12
#define MBI_CMDLINE 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR 24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_LOADER_NAME 64
#define MBI_SIZE 88		/* up to and including the VBE fields */

/* Where amalgam puts the structure and what it points to (below 1 MiB,
 * clear of the boot GDT, the zero page, the command line at 0x20000, the
 * ACPI and MP tables). */
#define MB_INFO_ADDR 0x30000ULL
#define MB_INFO_MAX 0x10000

/* Parse the image in img: 1 and its layout if it has a multiboot header,
 * 0 if it has none (not multiboot: try another format), -ENOEXEC with
 * the reason (no file name) in err for a header that is there but wrong
 * (checksum, flags asking for what amalgam does not give, kludge
 * addresses inconsistent or past the file's end, a bad ELF). */
int multiboot_parse(const uint8_t *img, size_t len, struct img_layout *out,
		    char *err, size_t errlen);

/* Build the information structure in buf (guest address MB_INFO_ADDR,
 * MB_INFO_MAX bytes) from the RAM map, the command line and the modules
 * already in guest RAM (their cmdline strings may be NULL). Returns the
 * guest address of the structure, or -E2BIG if the strings do not fit. */
struct img_module;
int64_t multiboot_info(uint8_t *buf, const struct boot_map_entry *map,
		       unsigned nr_map, uint64_t low_size, const char *cmdline,
		       const struct img_module *mods, unsigned nr_mods);

#endif
