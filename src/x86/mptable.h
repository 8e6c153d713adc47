/* Intel MultiProcessor Specification 1.4 tables: the floating pointer and
 * the configuration table, listing every vCPU of the cluster, the ISA bus,
 * the IOAPIC and the ISA IRQ routing. With the MP table alone Linux brings
 * up exactly the processors listed, so every vCPU is listed. */
#ifndef AMALGAM_X86_MPTABLE_H
#define AMALGAM_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

struct topo;

#define MPTABLE_BASE 0xF0000ULL
#define MPTABLE_MAX 0x10000

/* Build into buf (guest-physical address 'gpa') for the vCPUs and APIC
 * ids of t. Returns bytes used or -ENOSPC. */
int mptable_build(void *buf, size_t size, uint64_t gpa, const struct topo *t,
		  uint64_t ioapic_base);

#endif
