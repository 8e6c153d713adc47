/* A PVH test kernel: the kit's guest with the PVH entry (lib/pvh.S), so
 * amalgam sees its XEN_ELFNOTE_PHYS32_ENTRY note and enters it as PVH
 * specifies (32-bit, EBX = hvm_start_info), as QEMU's -kernel does. It
 * checks the start info itself: magic, version, the command line, each
 * module's contents and string, the memory map and the RSDP. Ends through
 * isa-debug-exit: 0x2a (status 85) when every check passed, 1 (status 3)
 * otherwise. Expects the modules mod0.txt and mod1.txt in order, with
 * strings holding "alpha=1" and "beta=two,three", and "pvhtest=1" on the
 * command line. */
#include "libguest.h"
#include "pvh.h"

#define DEBUG_EXIT_PORT 0x501

extern char __image_end[];

static const char *const mod_text[2] = {
	"first module: alpha\n",
	"second module: beta, a little longer than the first\n",
};
static const char *const mod_key[2] = { "alpha=1", "beta=two,three" };

static int has(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; *s; s++)
		if (!memcmp(s, w, n))
			return 1;
	return 0;
}

static void check_modules(const struct hvm_start_info *si)
{
	const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
	uint64_t prev_end = (uintptr_t)__image_end;

	report(si->nr_modules == 2, "two modules (got %u)", si->nr_modules);
	for (unsigned i = 0; i < si->nr_modules && i < 2; i++) {
		const char *s = (const char *)(uintptr_t)m[i].cmdline_paddr;
		size_t n = strlen(mod_text[i]);

		report_info("module %u at %#lx, %lu bytes, string \"%s\"", i,
			    (unsigned long)m[i].paddr, (unsigned long)m[i].size, s ? s : "");
		report(m[i].paddr >= prev_end, "module %u after the kernel and the one before", i);
		report(m[i].size == n && !memcmp((const void *)(uintptr_t)m[i].paddr,
						 mod_text[i], n), "module %u contents", i);
		report(s && has(s, mod_key[i]), "module %u string", i);
		prev_end = m[i].paddr + m[i].size;
	}
}

static void check_memmap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
	int low = 0, image = 0;

	report(si->memmap_paddr && si->memmap_entries >= 2, "memory map given (%u entries)",
	       si->memmap_entries);
	for (unsigned i = 0; si->memmap_paddr && i < si->memmap_entries; i++) {
		if (e[i].type == 1 && e[i].addr == 0 && e[i].size >= 0x9f000)
			low = 1;
		if (e[i].type == 1 && e[i].addr <= 0x100000 &&
		    e[i].addr + e[i].size >= (uintptr_t)__image_end)
			image = 1;
	}
	report(low, "memory map: RAM from 0");
	report(image, "memory map: the kernel's image is in RAM");
}

int main(void)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)pvh_start_info;
	const char *cl;
	int status;

	report(si != NULL, "entered through PVH (EBX = start info)");
	if (!si)
		goto out;
	report(si->magic == HVM_START_MAGIC, "start info magic");
	report(si->version >= 1, "start info version %u", si->version);
	cl = (const char *)(uintptr_t)si->cmdline_paddr;
	report_info("cmdline: %s", cl ? cl : "(none)");
	report(cl && has(cl, "pvhtest=1"), "command line");
	report(si->rsdp_paddr && !memcmp((const void *)(uintptr_t)si->rsdp_paddr,
					 "RSD PTR ", 8), "RSDP");
	check_memmap(si);
	check_modules(si);
out:
	status = report_summary();
	outb(DEBUG_EXIT_PORT, status ? 1 : 0x2a);
	return status;
}
