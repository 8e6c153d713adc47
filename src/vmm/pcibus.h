/* The board's PCI side: the host bridge and the virtio disks on it, wired
 * to this VM: MSI-X messages become APIC messages on the VM's interrupt
 * bus (which forwards them to the node where the target vCPU runs now),
 * INTx goes to the IOAPIC, and the disks reach guest RAM through the guest
 * view of this node's memory, so that every access goes through the
 * memory plane (a page held by another node faults in, for reading or for
 * writing, as a vCPU's access would) and never reads a stale copy. */
#ifndef AMALGAM_VMM_PCIBUS_H
#define AMALGAM_VMM_PCIBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm;
struct pcibus;

#define PCIBUS_MAX_DISKS 16

struct pcibus_disk {
	const char *path;
	bool readonly;
	unsigned queues;	/* 0: one per vCPU, at most BLK_MAX_QUEUES */
	/* Fault injection for tests: reads, writes, flushes and ranges at or
	 * past this sector fail with EIO as a dying disk's would (0: none). */
	uint64_t fail_from;
};

/* -errno and a one-line reason in err. */
int pcibus_create(struct vm *vm, const struct pcibus_disk *disks, unsigned nr,
		  struct pcibus **out, char *err, size_t errlen);
void pcibus_destroy(struct pcibus *p);
void pcibus_print_stats(struct pcibus *p, FILE *f);

#endif
