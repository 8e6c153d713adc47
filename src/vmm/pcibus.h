/* The board's PCI side: the host bridge and the virtio devices on it
 * (disks, network cards, the entropy source, a second console), wired
 * to this VM: MSI-X messages become APIC messages on the VM's interrupt
 * bus (which forwards them to the node where the target vCPU runs now),
 * INTx goes to the IOAPIC, and the devices reach guest RAM through the guest
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
#define PCIBUS_MAX_NETS 8

struct pcibus_disk {
	const char *path;
	bool readonly;
	unsigned queues;	/* 0: one per vCPU, at most BLK_MAX_QUEUES */
	/* Fault injection for tests: reads, writes, flushes and ranges at or
	 * past this sector fail with EIO as a dying disk's would (0: none). */
	uint64_t fail_from;
};

struct pcibus_net {
	const char *tap;	/* the host tap's name */
	uint8_t mac[6];		/* all zero: 52:54:00:12:34:56 + its index */
};

/* Every PCI device a run asks for, in slot order: disks, network cards,
 * the rng, the console. */
struct pcibus_devices {
	const struct pcibus_disk *disks;
	unsigned nr_disks;
	const struct pcibus_net *nets;
	unsigned nr_nets;
	bool rng;		/* virtio-rng */
	bool console;		/* virtio-console (hvc0) */
	const char *console_path;	/* its output file; NULL: stdout */
};

/* Does the board need a PCI bus at all? */
bool pcibus_wanted(const struct pcibus_devices *d);
/* -errno and a one-line reason in err. */
int pcibus_create(struct vm *vm, const struct pcibus_devices *d, struct pcibus **out,
		  char *err, size_t errlen);
void pcibus_destroy(struct pcibus *p);
void pcibus_print_stats(struct pcibus *p, FILE *f);

#endif
