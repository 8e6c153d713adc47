/* A multiboot v1 test kernel, 32-bit and freestanding (no kit: the kit is
 * 64-bit). It checks what the loader gives it, the way a kernel written
 * for QEMU's -kernel would read it: the magic, the information flags,
 * memory sizes and map, the command line, each module's contents and
 * string, the boot loader name; and QEMU's fw_cfg (signature, CPU count,
 * RAM size). Ends through isa-debug-exit: 0x2a (status 85) when every
 * check passed, 1 (status 3) otherwise. Expects --cpus 1, the modules
 * mod0.txt and mod1.txt in that order with strings holding "alpha=1" and
 * "beta=two,three", and "mbtest=1" on the command line. The same image
 * boots under qemu-system-x86_64 -kernel (README.md). Keep it short:
 * every instruction here is ring 0, emulated under PVM. */
#include <stdint.h>

#define MB_BOOT_MAGIC 0x2BADB002u
#define DEBUG_EXIT_PORT 0x501
#define COM1 0x3f8

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

struct mb_mod {
	uint32_t start, end, string, reserved;
};

extern char __image_end[];

static const char *const mod_text[2] = {
	"first module: alpha\n",
	"second module: beta, a little longer than the first\n",
};
static const char *const mod_key[2] = { "alpha=1", "beta=two,three" };

static unsigned tests, failures;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void putu(uint32_t v)
{
	char b[11];
	int i = 10;

	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts(b + i);
}

static uint32_t slen(const char *s)
{
	uint32_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int has(const char *s, const char *w)
{
	uint32_t n = slen(w);

	for (; *s; s++) {
		uint32_t i = 0;

		while (i < n && s[i] == w[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

static void report(int ok, const char *what)
{
	tests++;
	if (!ok)
		failures++;
	puts(ok ? "PASS: " : "FAIL: ");
	puts(what);
	putc('\n');
}

/* fw_cfg: select an item, read n bytes of it (n <= 8), little-endian. */
static uint64_t fwcfg(uint16_t key, unsigned n)
{
	uint64_t v = 0;

	outw(0x510, key);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)inb(0x511) << (8 * i);
	return v;
}

static void check_mmap(const struct mb_info *mi)
{
	uint32_t p = mi->mmap_addr, end = mi->mmap_addr + mi->mmap_length;
	int sane = mi->mmap_length >= 24, low = 0, image = 0;

	while (sane && p < end) {
		uint32_t size = *(const uint32_t *)p;
		uint64_t base = *(const uint64_t *)(p + 4);
		uint64_t len = *(const uint64_t *)(p + 12);
		uint32_t type = *(const uint32_t *)(p + 20);

		if (size < 20)
			sane = 0;
		if (type == 1 && base == 0 && len >= 0x9f000)
			low = 1;
		if (type == 1 && base <= 0x100000 && base + len >= (uintptr_t)__image_end)
			image = 1;
		p += size + 4;
	}
	report(sane && p == end, "memory map entries well formed");
	report(low, "memory map: RAM from 0");
	report(image, "memory map: the kernel's image is in RAM");
}

static void check_mods(const struct mb_info *mi)
{
	const struct mb_mod *m = (const struct mb_mod *)mi->mods_addr;
	uint32_t prev_end = (uint32_t)(uintptr_t)__image_end;

	report(mi->mods_count == 2, "two modules");
	for (uint32_t i = 0; i < mi->mods_count && i < 2; i++) {
		const char *want = mod_text[i], *got = (const char *)m[i].start;
		uint32_t n = slen(want), same = m[i].end - m[i].start == n;

		for (uint32_t k = 0; same && k < n; k++)
			same = got[k] == want[k];
		puts("module ");
		putu(i);
		puts(": ");
		puts(m[i].string ? (const char *)m[i].string : "(no string)");
		putc('\n');
		report(!(m[i].start & 0xfff), "module page-aligned");
		report(m[i].start >= prev_end, "module after the kernel and the one before");
		report(same, "module contents");
		report(m[i].string && has((const char *)m[i].string, mod_key[i]),
		       "module string");
		prev_end = m[i].end;
	}
}

void mb_main(uint32_t magic, const struct mb_info *mi)
{
	const uint32_t want = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 9;
	uint64_t ram;

	puts("multiboot test kernel\n");
	report(magic == MB_BOOT_MAGIC, "EAX holds the multiboot magic");
	if (magic != MB_BOOT_MAGIC)
		goto out;
	report((mi->flags & want) == want, "info flags: memory, cmdline, mods, mmap, loader name");
	puts("mem_lower ");
	putu(mi->mem_lower);
	puts(" KiB, mem_upper ");
	putu(mi->mem_upper);
	puts(" KiB\ncmdline: ");
	puts(mi->cmdline ? (const char *)mi->cmdline : "(none)");
	puts("\nloader: ");
	puts(mi->boot_loader_name ? (const char *)mi->boot_loader_name : "(none)");
	putc('\n');
	report(mi->mem_lower >= 600 && mi->mem_lower <= 640, "mem_lower");
	report(mi->cmdline && has((const char *)mi->cmdline, "mbtest=1"), "command line");
	report(mi->boot_loader_name && *(const char *)mi->boot_loader_name, "boot loader name");
	check_mmap(mi);
	check_mods(mi);
	report(fwcfg(0x00, 4) == 0x554d4551, "fw_cfg signature QEMU");
	report(fwcfg(0x05, 2) == 1, "fw_cfg: one CPU");
	report(fwcfg(0x0f, 2) >= 1, "fw_cfg: max CPUs");
	ram = fwcfg(0x03, 8);
	/* mem_upper: RAM from 1 MiB to the first hole, in KiB. */
	report(ram >= (1 << 20) && mi->mem_upper <= (ram >> 10) - 1024 &&
	       mi->mem_upper + 1024 >= (ram >> 10) - 1024, "mem_upper agrees with fw_cfg's RAM size");
out:
	puts("SUMMARY: ");
	putu(tests);
	puts(" tests, ");
	putu(failures);
	puts(" failures\n");
	outb(DEBUG_EXIT_PORT, failures ? 1 : 0x2a);
}
