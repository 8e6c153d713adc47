/* Unit tests for the boot image parsers (x86/bootimg.h, multiboot.h,
 * pvh.h) on in-memory images built here, and for the boot information
 * they build, read back as a guest would. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "x86/bootimg.h"
#include "x86/multiboot.h"
#include "x86/pvh.h"

static uint8_t img[16384];
static char err[256];

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* An ELF32 image: n PT_LOAD segments of 0x100 bytes at paddr[i], data at
 * 0x1000 + i * 0x100; a multiboot header at 0x1000 if mb_flags >= 0. */
static size_t elf32(unsigned n, const uint32_t *paddr, long mb_flags)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)img;

	memset(img, 0, sizeof(img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_machine = EM_386;
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phoff = sizeof(*eh);
	eh->e_phnum = n;
	eh->e_entry = 0x100010;
	for (unsigned i = 0; i < n; i++) {
		Elf32_Phdr *ph = (Elf32_Phdr *)(img + sizeof(*eh)) + i;

		*ph = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000 + i * 0x100,
				    .p_paddr = paddr[i], .p_filesz = 0x100, .p_memsz = 0x200 };
	}
	if (mb_flags >= 0) {
		uint32_t h[3] = { MULTIBOOT_HEADER_MAGIC, (uint32_t)mb_flags,
				  -(MULTIBOOT_HEADER_MAGIC + (uint32_t)mb_flags) };
		memcpy(img + 0x1000, h, sizeof(h));
	}
	return 0x2000;
}

static void test_elf32(void **state)
{
	struct img_layout l;
	uint32_t pa[2] = { 0x100000, 0x200000 };

	assert_int_equal(elfimg_parse(img, elf32(2, pa, -1), &l, err, sizeof(err)), 0);
	assert_int_equal(l.nr, 2);
	assert_true(l.elf32);
	assert_int_equal(l.entry, 0x100010);
	assert_int_equal(l.end, 0x200200);
	assert_int_equal(l.seg[1].offset, 0x1100);
	assert_int_equal(img_check_ram(&l, 64 << 20, err, sizeof(err)), 0);
	assert_int_equal(img_check_ram(&l, 2 << 20, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "outside guest RAM"));
}

static void test_elf_bad(void **state)
{
	struct img_layout l;
	uint32_t pa[2] = { 0x100000, 0x100100 };	/* second overlaps the first's bss */
	size_t len = elf32(2, pa, -1);

	assert_int_equal(elfimg_parse(img, len, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "overlap"));
	pa[1] = 0x200000;
	len = elf32(2, pa, -1);
	assert_int_equal(elfimg_parse(img, 0x1150, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(elfimg_parse(img, 40, &l, err, sizeof(err)), -ENOEXEC);
	((Elf32_Ehdr *)img)->e_phnum = 1000;
	assert_int_equal(elfimg_parse(img, len, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "program header"));
	len = elf32(1, pa, -1);
	pa[0] = 0x80000;
	elf32(1, pa, -1);
	assert_int_equal(elfimg_parse(img, len, &l, err, sizeof(err)), 0);
	assert_int_equal(img_check_ram(&l, 64 << 20, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "below 1 MiB"));
}

static void test_multiboot_elf(void **state)
{
	struct img_layout l;
	uint32_t pa[1] = { 0x100000 };
	size_t len = elf32(1, pa, MB_HDR_ALIGN | MB_HDR_MEMINFO);

	assert_int_equal(multiboot_parse(img, len, &l, err, sizeof(err)), 1);
	assert_int_equal(l.entry, 0x100010);
	img[0x1008] ^= 1;
	assert_int_equal(multiboot_parse(img, len, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "checksum"));
	elf32(1, pa, 1 << 5);	/* a requirement we do not know */
	assert_int_equal(multiboot_parse(img, len, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "features"));
	elf32(1, pa, -1);
	assert_int_equal(multiboot_parse(img, len, &l, err, sizeof(err)), 0);
}

static void test_multiboot_aout(void **state)
{
	struct img_layout l;
	uint32_t f = MB_HDR_AOUT | MB_HDR_ALIGN;
	/* Header at file offset 0x40 = address 0x100040: load at 0x100000 from
	 * offset 0, 0x800 bytes, bss to 0x101000. */
	uint32_t h[8] = { MULTIBOOT_HEADER_MAGIC, f, -(MULTIBOOT_HEADER_MAGIC + f),
			  0x100040, 0x100000, 0x100800, 0x101000, 0x100080 };

	memset(img, 0x90, sizeof(img));
	memcpy(img + 0x40, h, sizeof(h));
	assert_int_equal(multiboot_parse(img, 0x1000, &l, err, sizeof(err)), 1);
	assert_int_equal(l.nr, 1);
	assert_int_equal(l.seg[0].paddr, 0x100000);
	assert_int_equal(l.seg[0].offset, 0);
	assert_int_equal(l.seg[0].filesz, 0x800);
	assert_int_equal(l.seg[0].memsz, 0x1000);
	assert_int_equal(l.entry, 0x100080);
	/* load_end past the file's end. */
	assert_int_equal(multiboot_parse(img, 0x400, &l, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "truncated"));
	/* header_addr inconsistent with where the header is. */
	h[3] = 0x100100;
	memcpy(img + 0x40, h, sizeof(h));
	assert_int_equal(multiboot_parse(img, 0x1000, &l, err, sizeof(err)), -ENOEXEC);
	/* No header in the first 8 KiB: not multiboot. */
	memset(img, 0, sizeof(img));
	memcpy(img + 8192, h, sizeof(h));
	assert_int_equal(multiboot_parse(img, sizeof(img), &l, err, sizeof(err)), 0);
}

static void test_multiboot_info(void **state)
{
	static uint8_t buf[MB_INFO_MAX];
	struct boot_map_entry map[2] = {
		{ 0, 0x9fc00, BOOT_MAP_RAM }, { 0x100000, 0x3f00000, BOOT_MAP_RAM },
	};
	struct img_module mods[2] = { { 0x200000, 10, "one a=1" }, { 0x201000, 5, NULL } };
	int64_t at = multiboot_info(buf, map, 2, 64 << 20, "k x=1", mods, 2);
	const uint8_t *mod;

	assert_int_equal(at, MB_INFO_ADDR);
	assert_int_equal(rd32(buf + MBI_FLAGS) & (MB_INFO_MEM | MB_INFO_MODS | MB_INFO_MMAP |
						  MB_INFO_CMDLINE | MB_INFO_LOADER),
			 MB_INFO_MEM | MB_INFO_MODS | MB_INFO_MMAP | MB_INFO_CMDLINE | MB_INFO_LOADER);
	assert_int_equal(rd32(buf + MBI_MEM_LOWER), 639);
	assert_int_equal(rd32(buf + MBI_MEM_UPPER), 63 * 1024);
	assert_string_equal((char *)buf + rd32(buf + MBI_CMDLINE) - MB_INFO_ADDR, "k x=1");
	assert_string_equal((char *)buf + rd32(buf + MBI_LOADER_NAME) - MB_INFO_ADDR, "amalgam");
	assert_int_equal(rd32(buf + MBI_MMAP_LENGTH), 48);
	assert_int_equal(rd32(buf + rd32(buf + MBI_MMAP_ADDR) - MB_INFO_ADDR), 20);
	assert_int_equal(rd32(buf + MBI_MODS_COUNT), 2);
	mod = buf + rd32(buf + MBI_MODS_ADDR) - MB_INFO_ADDR;
	assert_int_equal(rd32(mod), 0x200000);
	assert_int_equal(rd32(mod + 4), 0x20000a);
	assert_string_equal((char *)buf + rd32(mod + 8) - MB_INFO_ADDR, "one a=1");
	assert_string_equal((char *)buf + rd32(mod + 24) - MB_INFO_ADDR, "");
}

/* A PVH note in a PT_NOTE segment of the ELF32 image. */
static size_t with_note(uint32_t descsz, uint64_t value)
{
	uint32_t pa[2] = { 0x100000, 0 };
	size_t len = elf32(2, pa, -1);
	Elf32_Phdr *ph = (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr)) + 1;
	uint32_t hdr[3] = { 4, descsz, 18 };

	*ph = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = 0x1800, .p_filesz = 20 + 8 };
	memcpy(img + 0x1800, hdr, 12);
	memcpy(img + 0x180c, "Xen", 4);
	memcpy(img + 0x1810, &value, 8);
	return len;
}

static void test_pvh_note(void **state)
{
	uint32_t entry = 0;
	size_t len = with_note(4, 0x100abc);
	uint32_t pa[1] = { 0x100000 };

	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), 1);
	assert_int_equal(entry, 0x100abc);
	len = with_note(8, 0x100abcULL);
	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), 1);
	len = with_note(8, 0x100000000ULL);
	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), -ENOEXEC);
	len = with_note(3, 1);
	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), -ENOEXEC);
	len = with_note(64, 1);		/* runs past its segment */
	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "truncated"));
	len = elf32(1, pa, -1);
	assert_int_equal(elfimg_pvh_entry(img, len, &entry, err, sizeof(err)), 0);
}

static void test_pvh_start_info(void **state)
{
	static uint8_t buf[PVH_INFO_MAX];
	struct boot_map_entry map[1] = { { 0x100000, 0x100000, BOOT_MAP_RAM } };
	struct img_module mods[2] = { { 0x200000, 10, "m0" }, { 0x201000, 5, NULL } };
	struct hvm_start_info si;
	struct hvm_modlist_entry m[2];
	struct hvm_memmap_table_entry e;

	assert_int_equal(pvh_start_info(buf, map, 1, 0xe0000, "c=1", mods, 2), PVH_INFO_ADDR);
	memcpy(&si, buf, sizeof(si));
	assert_int_equal(si.magic, PVH_START_MAGIC);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.nr_modules, 2);
	assert_int_equal(si.rsdp_paddr, 0xe0000);
	assert_string_equal((char *)buf + si.cmdline_paddr - PVH_INFO_ADDR, "c=1");
	memcpy(m, buf + si.modlist_paddr - PVH_INFO_ADDR, sizeof(m));
	assert_int_equal(m[0].paddr, 0x200000);
	assert_int_equal(m[1].size, 5);
	assert_string_equal((char *)buf + m[0].cmdline_paddr - PVH_INFO_ADDR, "m0");
	assert_int_equal(m[1].cmdline_paddr, 0);
	assert_int_equal(si.memmap_entries, 1);
	memcpy(&e, buf + si.memmap_paddr - PVH_INFO_ADDR, sizeof(e));
	assert_int_equal(e.addr, 0x100000);
	assert_int_equal(e.type, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_elf_bad),
		cmocka_unit_test(test_multiboot_elf),
		cmocka_unit_test(test_multiboot_aout),
		cmocka_unit_test(test_multiboot_info),
		cmocka_unit_test(test_pvh_note),
		cmocka_unit_test(test_pvh_start_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
