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
#include "x86/acpi.h"
#include "x86/mptable.h"
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

static int read_file(const char *path, uint8_t **buf, size_t *len,
		     char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t off = 0;

	if (fd < 0) {
		int e = errno;
		set_err("cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err("'%s' is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, st.st_size - off);
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			set_err("cannot read '%s': %s", path, strerror(e));
			free(*buf);
			close(fd);
			return -e;
		}
		off += n;
	}
	close(fd);
	*len = off;
	return 0;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void build_e820(struct guest_mem *mem, uint8_t *zp)
{
	struct e820 e[5];
	int n = 0;

	e[n++] = (struct e820){ 0, BOOT_EBDA_ADDR, E820_RAM };
	e[n++] = (struct e820){ BOOT_EBDA_ADDR, 0x100000 - BOOT_EBDA_ADDR, E820_RESERVED };
	e[n++] = (struct e820){ 0x100000, mem->low_size - 0x100000, E820_RAM };
	if (mem->size > mem->low_size)
		e[n++] = (struct e820){ MEM_HIGH_BASE, mem->size - mem->low_size, E820_RAM };
	memcpy(zp + ZP_E820_TABLE, e, n * sizeof(e[0]));
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

/* GDT: null, null, code64 at 0x10, data at 0x18 (Linux boot selectors). */
static void build_gdt(struct guest_mem *mem)
{
	uint64_t *gdt = guest_mem_hva(mem, BOOT_GDT_ADDR, 4 * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffULL;
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

static int load_elf(struct guest_mem *mem, const uint8_t *img, size_t len,
		    uint64_t *entry, char *err, size_t errlen, const char *path)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;

	if (len < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff > len || eh->e_phnum > (len - eh->e_phoff) / sizeof(Elf64_Phdr)) {
		set_err("'%s' is an ELF file but not a valid x86-64 ELF64 guest", path);
		return -ENOEXEC;
	}
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff) + i;
		uint8_t *dst;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > len ||
		    ph->p_filesz > len - ph->p_offset || ph->p_paddr < 0x100000) {
			set_err("'%s': bad ELF segment %d (below 1 MiB or truncated)", path, i);
			return -ENOEXEC;
		}
		dst = guest_mem_hva(mem, ph->p_paddr, ph->p_memsz);
		if (!dst) {
			set_err("'%s': segment %d at %#lx does not fit in guest RAM", path,
				i, (unsigned long)ph->p_paddr);
			return -EFBIG;
		}
		memcpy(dst, img + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	*entry = eh->e_entry;
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
		set_err("'%s' is not a Linux bzImage or an ELF64 guest", path);
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
	int r = read_file(path, &buf, &len, err, errlen);

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

int boot_load(struct guest_mem *mem, const struct boot_config *cfg,
	      struct boot_entry *entry, char *err, size_t errlen)
{
	uint8_t *img = NULL, *zp;
	size_t len, cl;
	bool is_elf;
	int r;

	set_err("boot failed");
	if (mem->low_size < 2 * 1024 * 1024) {
		set_err("guest memory too small");
		return -EINVAL;
	}
	r = read_file(cfg->kernel, &img, &len, err, errlen);
	if (r)
		return r;
	zp = guest_mem_hva(mem, BOOT_ZEROPAGE_ADDR, 4096);
	memset(zp, 0, 4096);
	is_elf = len >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0;
	if (is_elf)
		r = load_elf(mem, img, len, &entry->rip, err, errlen, cfg->kernel);
	else
		r = load_bzimage(mem, img, len, zp, &entry->rip, err, errlen, cfg->kernel);
	free(img);
	if (r)
		return r;

	cl = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	if (!is_elf && get32(zp + ZP_CMDLINE_SIZE) && cl > get32(zp + ZP_CMDLINE_SIZE)) {
		set_err("kernel command line is %zu bytes; this kernel takes at most %u",
			cl, get32(zp + ZP_CMDLINE_SIZE));
		return -E2BIG;
	}
	if (cl >= BOOT_CMDLINE_MAX) {
		set_err("kernel command line too long (%zu bytes)", cl);
		return -E2BIG;
	}
	{
		char *dst = guest_mem_hva(mem, BOOT_CMDLINE_ADDR, cl + 1);
		memcpy(dst, cfg->cmdline ? cfg->cmdline : "", cl + 1);
		put32(zp + ZP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);
	}
	if (cfg->initrd) {
		r = load_initrd(mem, cfg->initrd, zp, !is_elf, 0x100000 + len, err, errlen);
		if (r)
			return r;
	}
	build_e820(mem, zp);
	build_gdt(mem);
	build_page_tables(mem);
	r = mptable_build(guest_mem_hva(mem, MPTABLE_BASE, MPTABLE_MAX), MPTABLE_MAX,
			  MPTABLE_BASE, cfg->topo, cfg->ioapic_base);
	if (r < 0) {
		set_err("cannot build the MP table for %u vCPUs", cfg->topo->nr_cpus);
		return r;
	}
	r = build_acpi(mem, cfg, zp);
	if (r < 0) {
		set_err("cannot build the ACPI tables for %u vCPUs on %u nodes",
			cfg->topo->nr_cpus, cfg->nr_nodes);
		return r;
	}
	entry->rsi = BOOT_ZEROPAGE_ADDR;
	entry->cr3 = BOOT_PML4_ADDR;
	entry->gdt_base = BOOT_GDT_ADDR;
	entry->gdt_limit = 4 * 8 - 1;
	err[0] = '\0';
	return 0;
}
