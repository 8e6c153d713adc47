#include "boot.h"

#include <stddef.h>

#include "kstring.h"
#include "x86.h"

#define BP_E820_ENTRIES 0x1e8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128

void *boot_params;
/* Written by _start before .bss is zeroed, so it must not be in .bss. */
struct entry_state entry_state __attribute__((section(".data")));

_Static_assert(offsetof(struct entry_state, efer) == 40, "entry.S");
_Static_assert(offsetof(struct entry_state, cs) == 48, "entry.S");
_Static_assert(offsetof(struct entry_state, ss) == 54, "entry.S");
extern char __image_end[];
static uint64_t heap_next;

unsigned e820_count(void)
{
	unsigned n = *((uint8_t *)boot_params + BP_E820_ENTRIES);

	return n > E820_MAX ? E820_MAX : n;
}

const struct e820_entry *e820_table(void)
{
	return (const struct e820_entry *)((char *)boot_params + BP_E820_TABLE);
}

uint64_t e820_ram(void)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < e820_count(); i++)
		if (e820_table()[i].type == 1)
			sum += e820_table()[i].size;
	return sum;
}

/* The whole line amalgam passed: "[KIT OPTIONS --] TEST ARGS". The runner
 * puts the kit's own options (timescale=N) before a "--" word, so that a
 * test sees exactly the arguments its manifest gave it. */
static const char *raw_cmdline(void)
{
	uint32_t p = *(uint32_t *)((char *)boot_params + BP_CMD_LINE_PTR);

	return p ? (const char *)(uintptr_t)p : "";
}

/* Start of the "--" word, or NULL. */
static const char *separator(void)
{
	const char *s = raw_cmdline();

	while (*s) {
		while (*s == ' ')
			s++;
		if (s[0] == '-' && s[1] == '-' && (s[2] == ' ' || s[2] == '\0'))
			return s;
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
}

const char *cmdline(void)
{
	const char *sep = separator();

	if (!sep)
		return raw_cmdline();
	sep += 2;
	while (*sep == ' ')
		sep++;
	return sep;
}

/* Start of the word key (followed by '=', space or end) in [s, end), or
 * NULL. */
static const char *find_in(const char *s, const char *end, const char *key)
{
	size_t n = strlen(key);

	while (*s && s < end) {
		while (*s == ' ')
			s++;
		if (s >= end)
			break;
		if (!strncmp(s, key, n) &&
		    (s[n] == '=' || s[n] == ' ' || s[n] == '\0'))
			return s;
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
}

static const char *find(const char *key)
{
	const char *s = cmdline();

	return find_in(s, s + strlen(s), key);
}

bool cmdline_has(const char *word)
{
	return find(word) != NULL;
}

static long parse_int(const char *s, const char *key, long def)
{
	unsigned base = 10;
	long v = 0;

	if (!s || s[strlen(key)] != '=')
		return def;
	s += strlen(key) + 1;
	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			break;
		v = v * (long)base + (long)d;
	}
	return v;
}

long cmdline_int(const char *key, long def)
{
	return parse_int(find(key), key, def);
}

long kit_option_int(const char *key, long def)
{
	const char *sep = separator();

	if (!sep)
		return def;
	return parse_int(find_in(raw_cmdline(), sep, key), key, def);
}

static bool is_ram(uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < e820_count(); i++) {
		const struct e820_entry *e = &e820_table()[i];

		if (e->type == 1 && e->addr <= start && end <= e->addr + e->size)
			return true;
	}
	return false;
}

void *alloc(size_t size, size_t align)
{
	uint64_t p, next;

	if (!heap_next)
		heap_next = (uintptr_t)__image_end;
	if (align < 16)
		align = 16;
	p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
	next = p + size;
	if (!is_ram(p, next))
		return NULL;
	heap_next = next;
	return (void *)(uintptr_t)p;
}
