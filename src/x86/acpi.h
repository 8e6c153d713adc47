/* ACPI tables describing the machine to the guest, as firmware would:
 *  - RSDP (found by the guest's scan of 0xE0000-0xFFFFF, or from the zero
 *    page), RSDT and XSDT;
 *  - FADT with a FACS and a DSDT: the PM1a event and control blocks of the
 *    acpipm device, a reset register, and the \_S5 sleep type, so that a
 *    guest can power off;
 *  - MADT: every vCPU of the cluster, the IOAPIC, the PC's ISA interrupt
 *    overrides and the LINT1 NMI;
 *  - with a PCI host bridge, MCFG and the root bridge in the DSDT;
 *  - with more than one node, SRAT and SLIT: which NUMA node each vCPU and
 *    each range of RAM belongs to, and how far the nodes are from each
 *    other. A guest that knows its nodes allocates node-local memory,
 *    keeps per-node slab pages apart and balances tasks across nodes less
 *    eagerly, which is what keeps pages from bouncing between the hosts.
 * Pure: builds into a buffer, no guest or KVM access. */
#ifndef AMALGAM_X86_ACPI_H
#define AMALGAM_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_BASE 0xE0000ULL
#define ACPI_MAX 0x10000

/* SLIT distances: 10 is a node to itself by definition. A remote page
 * here costs a network round trip, a hundred times a local access, but
 * SLIT values are relative and small; what matters to Linux is that 40 is
 * above its RECLAIM_DISTANCE (30), so its scheduler stops waking and
 * forking tasks across nodes and only idle balancing moves them. */
#define ACPI_LOCAL_DISTANCE 10
#define ACPI_REMOTE_DISTANCE 40

#define ACPI_MAX_NODES 16

struct topo;

struct acpi_mem_range {
	uint64_t base, size;	/* guest-physical */
	unsigned node;
};

struct acpi_config {
	const struct topo *topo;	/* vCPUs, APIC ids, nodes, IOAPIC id */
	unsigned nr_nodes;		/* > 1 adds SRAT and SLIT */
	const struct acpi_mem_range *mem;	/* for SRAT */
	unsigned nr_mem;
	uint64_t ioapic_base;
	uint8_t sci_irq;		/* ISA IRQ of the SCI */
	uint16_t pm1_base;		/* PM1a_EVT (4 ports), PM1a_CNT at +4 */
	uint8_t slp_typ_s5;		/* the SLP_TYP that means soft off */
	uint16_t reset_port;		/* FADT reset register (I/O port) */
	uint8_t reset_value;
	/* A PCI host bridge (pci/pci.h), when pci_ecam_size is not 0: an
	 * MCFG for its ECAM, and in the DSDT the root bridge \_SB.PCI0
	 * (PNP0A08) with its resources (bus 0, ports 0xCF8-0xCFF and the
	 * rest of the port space, the BAR window) and a _PRT routing INTx of
	 * slot s pin p to GSI pci_intx_gsi_base + (s + p) % 4, and a
	 * motherboard resource (PNP0C02) reserving the ECAM, without which
	 * Linux refuses MMCONFIG. */
	uint64_t pci_ecam_base, pci_ecam_size;	/* 1 MiB a bus from bus 0 */
	uint32_t pci_mmio_base, pci_mmio_size;
	uint8_t pci_intx_gsi_base;
};

/* The guest-physical RAM ranges of each node, for cfg.mem: node i holds
 * RAM bytes [node_end[i-1], node_end[i]) * 4096 counted from 0 without
 * the MMIO hole (the memory plane's home ranges). RAM below low_size sits
 * at its own address, the rest from MEM_HIGH_BASE, so a node's share may
 * be two ranges. Returns the number of ranges written (at most max). */
unsigned acpi_node_ranges(uint64_t ram_size, uint64_t low_size, const uint64_t *node_end,
			  unsigned nr_nodes, struct acpi_mem_range *out, unsigned max);

/* Build into buf, which the guest sees at 'gpa' (16-byte aligned; the
 * RSDP is at its start). Returns bytes used, -EINVAL for a config it
 * cannot describe, -ENOSPC if buf is too small. */
int acpi_build(void *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg);

#endif
