/* Loading a guest, whichever boot protocol its image speaks (tried in
 * QEMU's order):
 * - a Linux bzImage (x86 boot protocol >= 2.12, 64-bit entry) with initrd
 *   and command line;
 * - an ELF kernel with a PVH entry note (x86/pvh.h), with modules;
 * - a multiboot v1 kernel (x86/multiboot.h), with modules;
 * - one of our ELF64 test guests, entered like Linux (guests/README.md).
 * Builds the zero page with the e820 map (or the protocol's own boot
 * information), the boot GDT, the identity-mapped page tables, the MP
 * table and the ACPI tables, all through the hypervisor view. */
#ifndef AMALGAM_X86_BOOT_H
#define AMALGAM_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "x86/regs.h"

struct guest_mem;
struct topo;

/* Fixed low-memory layout (below 1 MiB). */
#define BOOT_GDT_ADDR 0x1000ULL
#define BOOT_ZEROPAGE_ADDR 0x7000ULL
#define BOOT_PML4_ADDR 0x9000ULL	/* PML4, PDPT, 4 PDs: 0x9000-0xEFFF */
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000
#define BOOT_EBDA_ADDR 0x9FC00ULL

/* At most this many modules (--initrd): a Linux kernel or an ELF64 test
 * guest takes one, multiboot and PVH kernels up to all. */
#define BOOT_MAX_MODULES 16

/* A Linux kernel's command line when none is given (--append): its console
 * on COM1, as kvmtool does, so that a first boot is not silent. */
#define BOOT_LINUX_DEFAULT_CMDLINE "console=ttyS0"

struct boot_module {
	const char *path;
	const char *cmdline;	/* the module's string (multiboot, PVH); may be NULL */
};

/* What the ACPI tables say of the board's devices: the FADT's SCI, its PM1
 * block and its reset register. The board fills it (board_boot_facts in
 * vmm/board.h): x86/ sits below the devices and does not know them. */
struct boot_board {
	uint8_t sci_irq;
	uint16_t pm1_base;
	uint8_t slp_typ_s5;
	uint16_t reset_port;
	uint8_t reset_value;
	/* The PCI host bridge, if the board has one (pci_ecam_size != 0):
	 * see struct acpi_config. */
	uint64_t pci_ecam_base, pci_ecam_size;
	uint32_t pci_mmio_base, pci_mmio_size;
	uint8_t pci_intx_gsi_base;
};

struct boot_config {
	const char *kernel;
	const struct boot_module *modules;	/* nr_modules of them, in order */
	unsigned nr_modules;
	const char *cmdline;	/* may be NULL: Linux gets the default */
	const char *linux_extra;	/* put before a Linux command line; may be NULL */
	const struct topo *topo;	/* vCPUs, APIC ids and their nodes */
	uint64_t ioapic_base;
	/* NUMA shape for the ACPI SRAT/SLIT: node i's RAM is pages
	 * [node_end[i-1], node_end[i]) of the guest's RAM counted from 0
	 * without the MMIO hole (the memory plane's home ranges).
	 * nr_nodes <= 1 (node_end NULL): one node, no SRAT. */
	unsigned nr_nodes;
	const uint64_t *node_end;
	struct boot_board board;
};

/* Returns 0 and the BSP entry state, or -errno with a one-line reason in
 * err (for the user: which file, what is wrong). */
int boot_load(struct guest_mem *mem, const struct boot_config *cfg,
	      struct boot_entry *entry, char *err, size_t errlen);

#endif
