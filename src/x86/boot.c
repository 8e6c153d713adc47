#include "x86/boot.h"

#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/mem.h"
#include "util/log.h"
#include "x86/acpi.h"
#include "x86/bootimg.h"
#include "x86/mptable.h"
#include "x86/multiboot.h"
#include "x86/pvh.h"
#include "x86/topo.h"

/* Offsets in the zero page (Documentation/arch/x86/zero-page.rst) and in
 * the setup header (boot.rst). */
#define ZP_ACPI_RSDP_ADDR 0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_SETUP_SECTS 0x1f1
#define ZP_JUMP 0x200
#define ZP_HEADER 0x202
#define ZP_VERSION 0x206
#define ZP_TYPE_OF_LOADER 0x210
#define ZP_LOADFLAGS 0x211
#define ZP_RAMDISK_IMAGE 0x218
#define ZP_RAMDISK_SIZE 0x21c
#define ZP_HEAP_END_PTR 0x224
#define ZP_CMD_LINE_PTR 0x228
#define ZP_INITRD_ADDR_MAX 0x22c
#define ZP_KERNEL_ALIGNMENT 0x230
#define ZP_RELOCATABLE 0x234
#define ZP_XLOADFLAGS 0x236
#define ZP_CMDLINE_SIZE 0x238
#define ZP_PREF_ADDRESS 0x258
#define ZP_INIT_SIZE 0x260
#define ZP_E820_TABLE 0x2d0
#define E820_MAX 128

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01

#define E820_RAM 1
#define E820_RESERVED 2

struct e820 {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct e820) == 20, "e820 entry is 20 bytes");

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* RAM and the reserved areas; with a PCI host bridge also its ECAM, as
 * firmware reserves MMCONFIG (Linux accepts the region if the e820 map or
 * an ACPI motherboard resource reserves it; we do both). */
static void build_e820(struct guest_mem *mem, const struct boot_board *board, uint8_t *zp)
{
	struct boot_map_entry map[BOOT_MAP_MAX];
	unsigned n = boot_ram_map(mem, map);
	struct e820 e;

	for (unsigned i = 0; i < n; i++) {
		e = (struct e820){ map[i].addr, map[i].size, map[i].type };
		memcpy(zp + ZP_E820_TABLE + i * sizeof(e), &e, sizeof(e));
	}
	if (board->pci_ecam_size) {
		e = (struct e820){ board->pci_ecam_base, board->pci_ecam_size, E820_RESERVED };
		memcpy(zp + ZP_E820_TABLE + n++ * sizeof(e), &e, sizeof(e));
	}
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
}

static int build_acpi(struct guest_mem *mem, const struct boot_config *cfg, uint8_t *zp)
{
	struct acpi_mem_range ranges[2 * ACPI_MAX_NODES];
	bool numa = cfg->nr_nodes > 1 && cfg->node_end;
	struct acpi_config ac = {
		.topo = cfg->topo,
		.nr_nodes = numa ? cfg->nr_nodes : 1,
		.ioapic_base = cfg->ioapic_base,
		.sci_irq = cfg->board.sci_irq,
		.pm1_base = cfg->board.pm1_base,
		.slp_typ_s5 = cfg->board.slp_typ_s5,
		.reset_port = cfg->board.reset_port,
		.reset_value = cfg->board.reset_value,
		.pci_ecam_base = cfg->board.pci_ecam_base,
		.pci_ecam_size = cfg->board.pci_ecam_size,
		.pci_mmio_base = cfg->board.pci_mmio_base,
		.pci_mmio_size = cfg->board.pci_mmio_size,
		.pci_intx_gsi_base = cfg->board.pci_intx_gsi_base,
	};
	int r;

	if (numa) {
		ac.mem = ranges;
		ac.nr_mem = acpi_node_ranges(mem->size, mem->low_size, cfg->node_end,
					      cfg->nr_nodes, ranges, 2 * ACPI_MAX_NODES);
	}
	r = acpi_build(guest_mem_hva(mem, ACPI_BASE, ACPI_MAX), ACPI_MAX, ACPI_BASE, &ac);
	if (r >= 0)
		put64(zp + ZP_ACPI_RSDP_ADDR, ACPI_BASE);
	return r;
}

/* GDT: null, null, code at 0x10 (64-bit, or 32-bit for a 32-bit entry),
 * data at 0x18 (Linux boot selectors). */
static void build_gdt(struct guest_mem *mem, enum boot_mode mode)
{
	uint64_t *gdt = guest_mem_hva(mem, BOOT_GDT_ADDR, 4 * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = mode == BOOT_MODE_LONG64 ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL;
	gdt[3] = 0x00cf93000000ffffULL;
}

/* Identity map of the first 4 GiB with 2 MiB pages, User bit set so test
 * guests may run ring-3 code on it directly. */
static void build_page_tables(struct guest_mem *mem)
{
	uint64_t *pml4 = guest_mem_hva(mem, BOOT_PML4_ADDR, 6 * 4096);
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pdpt + 512;

	memset(pml4, 0, 6 * 4096);
	pml4[0] = (BOOT_PML4_ADDR + 0x1000) | 7;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PML4_ADDR + 0x2000 + i * 0x1000) | 7;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x87;
}

/* One of our ELF64 test guests: its segments, entered in long mode. */
static int load_elf64(struct guest_mem *mem, const uint8_t *img, size_t len,
		      uint64_t *entry, uint64_t *end, char *err, size_t errlen,
		      const char *path)
{
	struct img_layout l;
	char why[256];
	int r = elfimg_parse(img, len, &l, why, sizeof(why));

	if (!r && l.elf32) {
		snprintf(why, sizeof(why),
			 "an ELF32 image needs a multiboot header or a PVH note");
		r = -ENOEXEC;
	}
	if (!r)
		r = img_check_ram(&l, mem->low_size, why, sizeof(why));
	if (r) {
		set_err("'%s': %s", path, why);
		return r;
	}
	img_copy(mem, &l, img);
	*entry = l.entry;
	*end = l.end;
	return 0;
}

static int load_bzimage(struct guest_mem *mem, const uint8_t *img, size_t len,
			uint8_t *zp, uint64_t *entry, char *err, size_t errlen,
			const char *path)
{
	unsigned setup_sects, hdr_end;
	uint16_t version;
	uint64_t load, kernel_len, init_size;
	uint8_t *dst;

	if (len < 0x1000 || memcmp(img + ZP_HEADER, "HdrS", 4) != 0 ||
	    get16(img + 0x1fe) != 0xaa55) {
		set_err("'%s' is not a Linux bzImage, a multiboot or PVH kernel, or an ELF64 guest",
			path);
		return -ENOEXEC;
	}
	version = get16(img + ZP_VERSION);
	if (version < 0x20c || !(get16(img + ZP_XLOADFLAGS) & XLF_KERNEL_64)) {
		set_err("'%s': boot protocol %x.%02x has no 64-bit entry (need >= 2.12)",
			path, version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	setup_sects = img[ZP_SETUP_SECTS] ? img[ZP_SETUP_SECTS] : 4;
	if ((setup_sects + 1) * 512u >= len) {
		set_err("'%s' is truncated", path);
		return -ENOEXEC;
	}
	/* Copy the setup header into the zero page, as a boot loader does. */
	hdr_end = 0x202 + img[ZP_JUMP + 1];
	if (hdr_end > 0x290)
		hdr_end = 0x290;
	memcpy(zp + ZP_SETUP_SECTS, img + ZP_SETUP_SECTS, hdr_end - ZP_SETUP_SECTS);

	kernel_len = len - (setup_sects + 1) * 512u;
	init_size = get32(img + ZP_INIT_SIZE);
	load = 0x100000;
	if (img[ZP_RELOCATABLE]) {
		uint64_t pref = get64(img + ZP_PREF_ADDRESS);
		uint32_t align = get32(img + ZP_KERNEL_ALIGNMENT);
		if (pref && (!align || pref % align == 0))
			load = pref;
	}
	if (load + (init_size > kernel_len ? init_size : kernel_len) > mem->low_size) {
		set_err("'%s' needs %lu MiB of low memory: give the guest more --memory",
			path, (unsigned long)((load + init_size) >> 20) + 1);
		return -EFBIG;
	}
	dst = guest_mem_hva(mem, load, kernel_len);
	memcpy(dst, img + (setup_sects + 1) * 512u, kernel_len);

	zp[ZP_TYPE_OF_LOADER] = 0xff;
	zp[ZP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put16(zp + ZP_HEAP_END_PTR, 0xfe00);
	put32(zp + 0x214, (uint32_t)load);	/* code32_start */
	*entry = load + 0x200;			/* 64-bit entry point */
	return 0;
}

static int load_initrd(struct guest_mem *mem, const char *path, uint8_t *zp,
		       bool is_linux, uint64_t kernel_top, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	uint64_t max, addr;
	int r = img_read_file(path, &buf, &len, err, errlen);

	if (r)
		return r;
	max = is_linux ? get32(zp + ZP_INITRD_ADDR_MAX) : 0x7fffffff;
	if (!max || max >= mem->low_size)
		max = mem->low_size - 1;
	addr = ((max + 1) - len) & ~0xfffULL;
	if (len > max || addr < kernel_top) {
		set_err("initrd '%s' (%zu bytes) does not fit in guest memory", path, len);
		free(buf);
		return -EFBIG;
	}
	memcpy(guest_mem_hva(mem, addr, len), buf, len);
	free(buf);
	put32(zp + ZP_RAMDISK_IMAGE, (uint32_t)addr);
	put32(zp + ZP_RAMDISK_SIZE, (uint32_t)len);
	put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
	put32(zp + ZP_EXT_RAMDISK_SIZE, 0);
	return 0;
}

/* The command line a Linux kernel gets: what the VMM adds, then the
 * user's or the default (first: whatever follows a " -- " in the user's
 * goes to init, and the additions leave out what the user sets). NULL if
 * it does not fit. */
static char *linux_cmdline(const struct boot_config *cfg)
{
	const char *base = cfg->cmdline;
	char *s = malloc(BOOT_CMDLINE_MAX);

	if (!s)
		return NULL;
	if (!base) {
		base = BOOT_LINUX_DEFAULT_CMDLINE;
		pr_info("no --append: the Linux kernel gets \"%s\"", base);
	}
	if (snprintf(s, BOOT_CMDLINE_MAX, "%s%s%s", cfg->linux_extra ? cfg->linux_extra : "",
		     cfg->linux_extra && *cfg->linux_extra && *base ? " " : "",
		     base) >= BOOT_CMDLINE_MAX) {
		free(s);
		return NULL;
	}
	return s;
}

/* A multiboot or PVH kernel: segments, modules after it, the boot
 * information, a 32-bit entry. */
static int load_mb_pvh(struct guest_mem *mem, const struct boot_config *cfg,
		       const uint8_t *img, const struct img_layout *l, bool pvh,
		       struct boot_entry *entry, char *err, size_t errlen)
{
	struct img_module mods[BOOT_MAX_MODULES];
	struct boot_map_entry map[BOOT_MAP_MAX];
	unsigned nr_map = boot_ram_map(mem, map);
	uint8_t *info = guest_mem_hva(mem, MB_INFO_ADDR, MB_INFO_MAX);
	char why[320];
	int64_t at;
	int r;

	static_assert(MB_INFO_ADDR == PVH_INFO_ADDR && MB_INFO_MAX == PVH_INFO_MAX,
		      "one place for the boot information");
	r = img_check_ram(l, mem->low_size, why, sizeof(why));
	if (r) {
		set_err("'%s': %s", cfg->kernel, why);
		return r;
	}
	if (l->entry < 0x100000 || l->entry >= mem->low_size) {
		set_err("'%s': entry point %#llx is outside the kernel's RAM", cfg->kernel,
			(unsigned long long)l->entry);
		return -ENOEXEC;
	}
	img_copy(mem, l, img);
	r = img_load_modules(mem, cfg->modules, cfg->nr_modules, l->end, mods, err, errlen);
	if (r)
		return r;
	if (pvh) {
		at = pvh_start_info(info, map, nr_map, ACPI_BASE, cfg->cmdline, mods,
				    cfg->nr_modules);
	} else {
		/* As QEMU (and GRUB) give it: the kernel's command line starts
		 * with its file name, and a module without a string of its own
		 * gets its file name. */
		char *kcmd = NULL;

		for (unsigned i = 0; i < cfg->nr_modules; i++)
			if (!mods[i].cmdline)
				mods[i].cmdline = cfg->modules[i].path;
		if (asprintf(&kcmd, "%s%s%s", cfg->kernel, cfg->cmdline ? " " : "",
			     cfg->cmdline ? cfg->cmdline : "") < 0)
			return -ENOMEM;
		at = multiboot_info(info, map, nr_map, mem->low_size, kcmd, mods,
				    cfg->nr_modules);
		free(kcmd);
	}
	if (at < 0) {
		set_err("the command line and module strings are too long (%d KiB at most together)",
			MB_INFO_MAX / 1024);
		return -E2BIG;
	}
	*entry = (struct boot_entry){
		.mode = BOOT_MODE_PROT32, .rip = l->entry,
		.eax = pvh ? 0 : MULTIBOOT_BOOT_MAGIC, .ebx = (uint32_t)at,
	};
	pr_info("'%s': %s kernel, entry %#llx (32-bit), %u module(s)", cfg->kernel,
		pvh ? "PVH" : "multiboot", (unsigned long long)l->entry, cfg->nr_modules);
	return 0;
}

/* Which protocol the image speaks, in QEMU's order: Linux's setup header,
 * a PVH note, a multiboot header, else our ELF64 guests. */
enum proto { PROTO_LINUX, PROTO_PVH, PROTO_MULTIBOOT, PROTO_ELF64 };

static int detect(const uint8_t *img, size_t len, struct img_layout *l,
		  enum proto *p, char *why, size_t whylen)
{
	bool elf = len >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0;
	uint32_t pvh_entry;
	int r;

	if (len >= 0x206 && memcmp(img + ZP_HEADER, "HdrS", 4) == 0) {
		*p = PROTO_LINUX;
		return 0;
	}
	if (elf) {
		r = elfimg_pvh_entry(img, len, &pvh_entry, why, whylen);
		if (r < 0)
			return r;
		if (r == 1) {
			r = elfimg_parse(img, len, l, why, whylen);
			l->entry = pvh_entry;
			*p = PROTO_PVH;
			return r;
		}
	}
	r = multiboot_parse(img, len, l, why, whylen);
	if (r < 0)
		return r;
	if (r == 1) {
		*p = PROTO_MULTIBOOT;
		return 0;
	}
	*p = elf ? PROTO_ELF64 : PROTO_LINUX;
	return 0;
}

int boot_load(struct guest_mem *mem, const struct boot_config *cfg,
	      struct boot_entry *entry, char *err, size_t errlen)
{
	uint8_t *img = NULL, *zp;
	struct img_layout l;
	const char *cmdline = cfg->cmdline;
	char *lcmd = NULL, why[256];
	uint64_t end = 0x100000;
	enum proto proto;
	size_t len, cl;
	int r;

	set_err("boot failed");
	memset(entry, 0, sizeof(*entry));
	if (mem->low_size < 2 * 1024 * 1024) {
		set_err("guest memory too small");
		return -EINVAL;
	}
	if (cfg->nr_modules > BOOT_MAX_MODULES) {
		set_err("too many modules: %u (at most %d)", cfg->nr_modules, BOOT_MAX_MODULES);
		return -E2BIG;
	}
	r = img_read_file(cfg->kernel, &img, &len, err, errlen);
	if (r)
		return r;
	r = detect(img, len, &l, &proto, why, sizeof(why));
	if (r) {
		set_err("'%s': %s", cfg->kernel, why);
		goto out;
	}
	zp = guest_mem_hva(mem, BOOT_ZEROPAGE_ADDR, 4096);
	memset(zp, 0, 4096);
	if (proto == PROTO_PVH || proto == PROTO_MULTIBOOT) {
		r = load_mb_pvh(mem, cfg, img, &l, proto == PROTO_PVH, entry, err, errlen);
		if (r)
			goto out;
		goto tables;
	}

	/* Linux and our ELF64 guests: the 64-bit boot protocol. */
	if (cfg->nr_modules > 1 ||
	    (cfg->nr_modules == 1 && cfg->modules[0].cmdline)) {
		set_err("'%s' takes one --initrd without a string (several, or cmdline=, are for multiboot and PVH kernels)",
			cfg->kernel);
		r = -EINVAL;
		goto out;
	}
	if (proto == PROTO_ELF64)
		r = load_elf64(mem, img, len, &entry->rip, &end, err, errlen, cfg->kernel);
	else
		r = load_bzimage(mem, img, len, zp, &entry->rip, err, errlen, cfg->kernel);
	if (r)
		goto out;
	if (proto == PROTO_LINUX) {
		lcmd = linux_cmdline(cfg);
		if (!lcmd) {
			set_err("kernel command line too long");
			r = -E2BIG;
			goto out;
		}
		cmdline = lcmd;
	}
	cl = cmdline ? strlen(cmdline) : 0;
	if (proto == PROTO_LINUX && get32(zp + ZP_CMDLINE_SIZE) &&
	    cl > get32(zp + ZP_CMDLINE_SIZE)) {
		set_err("kernel command line is %zu bytes; this kernel takes at most %u",
			cl, get32(zp + ZP_CMDLINE_SIZE));
		r = -E2BIG;
		goto out;
	}
	if (cl >= BOOT_CMDLINE_MAX) {
		set_err("kernel command line too long (%zu bytes)", cl);
		r = -E2BIG;
		goto out;
	}
	memcpy(guest_mem_hva(mem, BOOT_CMDLINE_ADDR, cl + 1), cmdline ? cmdline : "", cl + 1);
	put32(zp + ZP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);
	if (cfg->nr_modules) {
		r = load_initrd(mem, cfg->modules[0].path, zp, proto == PROTO_LINUX,
				proto == PROTO_LINUX ? 0x100000 + len : end, err, errlen);
		if (r)
			goto out;
	}
	build_e820(mem, &cfg->board, zp);
	build_page_tables(mem);
	entry->mode = BOOT_MODE_LONG64;
	entry->rsi = BOOT_ZEROPAGE_ADDR;
	entry->cr3 = BOOT_PML4_ADDR;
	if (proto == PROTO_LINUX)
		pr_info("'%s': Linux kernel, command line \"%s\"", cfg->kernel, cmdline);

tables:
	build_gdt(mem, entry->mode);
	entry->gdt_base = BOOT_GDT_ADDR;
	entry->gdt_limit = 4 * 8 - 1;
	r = mptable_build(guest_mem_hva(mem, MPTABLE_BASE, MPTABLE_MAX), MPTABLE_MAX,
			  MPTABLE_BASE, cfg->topo, cfg->ioapic_base);
	if (r < 0) {
		set_err("cannot build the MP table for %u vCPUs", cfg->topo->nr_cpus);
		goto out;
	}
	r = build_acpi(mem, cfg, zp);
	if (r < 0) {
		set_err("cannot build the ACPI tables for %u vCPUs on %u nodes",
			cfg->topo->nr_cpus, cfg->nr_nodes);
		goto out;
	}
	r = 0;
	err[0] = '\0';
out:
	free(img);
	free(lcmd);
	return r;
}
