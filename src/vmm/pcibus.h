/* The board's PCI side: the host bridge and the virtio devices on it
 * (disks, network cards, the entropy source, a second console), wired
 * to this VM.
 *
 * A disk's or a network card's hosting node is a property of the device
 * (pcibus_disk.node, pcibus_net.node; the rng and the console live on
 * node 0): every node builds the same disk and card slots (the first
 * ones) in the same order, the host with the device itself, the others
 * with a shadow of its PCI function (vpci_shadow_new: same config image,
 * built by the same code) whose BAR accesses leave through
 * links->bar_out to the host. Config space is reached on node 0 only
 * (links->bridge): it tells every other node each write to a disk's or
 * card's function (links->cfg_out, applied with pcibus_cfg_in), so that
 * every node decodes their BARs alike; an access no device on a node
 * claims goes to node 0 anyway, which has every other device. A device's
 * host runs its queues against its own memory plane and sends its MSI-X
 * messages on its own interrupt bus; its INTx, on a node without the
 * IOAPIC, leaves through links->intx_out.
 *
 * On the device's node: MSI-X messages become APIC messages on the VM's interrupt
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
struct vcpu;
struct pcibus;

#define PCIBUS_MAX_DISKS 16
#define PCIBUS_MAX_NETS 8

struct pcibus_disk {
	const char *path;
	unsigned node;		/* the node that hosts it (opens the image) */
	bool readonly;
	unsigned queues;	/* 0: one per vCPU, at most BLK_MAX_QUEUES */
	/* Fault injection for tests: reads, writes, flushes and ranges at or
	 * past this sector fail with EIO as a dying disk's would (0: none). */
	uint64_t fail_from;
};

struct pcibus_net {
	const char *tap;	/* the host tap's name, on its node's host */
	unsigned node;		/* the node that hosts it (opens the tap) */
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

/* How the bus reaches the other nodes (the node wires these to the CPU
 * plane); NULL for a node alone: every device here, config space too. */
struct pcibus_links {
	unsigned self;		/* this node */
	bool bridge;		/* the guest reaches config space here */
	/* A BAR access to a device on 'node', on the accessing vCPU's
	 * thread: forwarded, the vCPU waits for the answer. */
	int (*bar_out)(void *opaque, struct vcpu *v, unsigned node, uint64_t addr,
		       void *data, unsigned len, bool is_write);
	/* On the bridge's node, under the bridge's lock: a config write's
	 * result, for every other node (only sends). */
	void (*cfg_out)(void *opaque, unsigned slot, unsigned off, const void *val,
			unsigned len);
	/* A device's INTx level where this node has no IOAPIC. */
	void (*intx_out)(void *opaque, unsigned gsi, int level);
	void *opaque;
};

/* Does the board need a PCI bus at all? */
bool pcibus_wanted(const struct pcibus_devices *d);
/* -errno and a one-line reason in err. links: copied. */
int pcibus_create(struct vm *vm, const struct pcibus_devices *d,
		  const struct pcibus_links *links, struct pcibus **out, char *err,
		  size_t errlen);
void pcibus_destroy(struct pcibus *p);
/* A config write node 0 told (links->cfg_out there): 0 or -EINVAL. */
int pcibus_cfg_in(struct pcibus *p, unsigned slot, unsigned off, const void *val,
		  unsigned len);
void pcibus_print_stats(struct pcibus *p, FILE *f);

#endif
