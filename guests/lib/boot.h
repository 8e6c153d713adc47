/* What amalgam hands the guest: the Linux zero page (boot_params) with the
 * command line (--append) and the e820 map; and a bump allocator over the
 * RAM after the image. */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern void *boot_params;

/* Registers as amalgam handed them to _start (offsets used by entry.S). */
struct entry_state {
	uint64_t rsi, rflags, cr0, cr3, cr4, efer;
	uint16_t cs, ds, es, ss;
};
extern struct entry_state entry_state;

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;		/* 1 = RAM */
} __attribute__((packed));

unsigned e820_count(void);
const struct e820_entry *e820_table(void);
/* Bytes of usable RAM in the e820 map. */
uint64_t e820_ram(void);

/* The test's command line ("" if none): what follows the kit's options
 * and their "--", or the whole line if there is no "--". */
const char *cmdline(void);
/* Is word present as a whole word, alone or as "word=..."? */
bool cmdline_has(const char *word);
/* The value of "key=N" (decimal or 0x hex), or def. */
long cmdline_int(const char *key, long def);
/* The value of the kit's option "key=N", before the "--", or def. */
long kit_option_int(const char *key, long def);

/* Memory after the image, not zeroed, never freed. Checked against e820;
 * returns NULL when out of RAM. Ring 0 or ring 3 callers alike. */
void *alloc(size_t size, size_t align);

#endif
