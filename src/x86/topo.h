/* The CPU topology the guest sees: one package (socket) per node, one core
 * per vCPU, no SMT threads. As on real hardware the APIC id encodes it:
 *
 *     apic_id = package << shift | rank of the vCPU among its node's vCPUs
 *
 * Packages are numbered in the order their nodes first appear from vCPU 0
 * on, so the BSP (vCPU 0) has APIC id 0 wherever it runs, as guests that
 * tell the BSP by its id expect; the SRAT maps ids to nodes. The guest's
 * package and last-level-cache ids (apic_id >> shift) are thereby one per
 * node, and its scheduler never treats two vCPUs on different hosts as
 * cache siblings (Linux warns, and balances between them as if they shared
 * a cache, when a cache spans NUMA nodes). shift is at least 3 with more
 * than one node, because AMD family 17h models up to 0x1f derive the LLC
 * from apic_id >> 3 whatever CPUID says.
 *
 * With one node, apic_id = vCPU index and shift = order(vCPUs), as before
 * NUMA existed here. CPUID, the MP table, the MADT/SRAT and the APIC bus
 * all take their ids from here. Pure. */
#ifndef AMALGAM_X86_TOPO_H
#define AMALGAM_X86_TOPO_H

#include <stdint.h>

#define TOPO_MAX_CPUS 64
#define TOPO_MAX_NODES 16
#define TOPO_NO_CPU 0xff

struct topo {
	unsigned nr_cpus;
	unsigned shift;			/* APIC id bits below the package */
	uint8_t apic_id[TOPO_MAX_CPUS];
	uint8_t node[TOPO_MAX_CPUS];
	uint8_t package[TOPO_MAX_CPUS];
	uint8_t cores[TOPO_MAX_CPUS];	/* vCPUs in this vCPU's package */
	uint8_t ioapic_id;		/* first id above every vCPU's */
	uint8_t index_of[256];		/* APIC id -> vCPU, or TOPO_NO_CPU */
};

/* node[i] is vCPU i's node (NULL: all on node 0). 0, or -EINVAL when the
 * ids would not fit in 8 bits: even placements always fit, a lopsided one
 * over many nodes may not (60 vCPUs on one node and one on each of four
 * others: blocks of 64 ids, package 4 would start at 256). */
int topo_init(struct topo *t, unsigned nr_cpus, const uint8_t *node);

#endif
