/* The CPU and I/O planes across nodes: what leaves a node when a vCPU's
 * interrupt, EOI or device access concerns another node.
 *  - An APIC message for a vCPU elsewhere becomes an IRQ message to its
 *    node (or, for logical/broadcast destinations, to every node, which
 *    matches it against its own lapics).
 *  - An EOI of a level-triggered vector goes to the devices' node, where
 *    the IOAPIC is.
 *  - A port or MMIO access no local device claims goes to the devices'
 *    node as IO_REQ; the vCPU waits for the IO_REPLY (bounded, and
 *    released when the guest stops).
 * Devices live on node 0 (FORWARD_DEVICE_NODE). */
#ifndef AMALGAM_CLUSTER_FORWARD_H
#define AMALGAM_CLUSTER_FORWARD_H

#include <stdint.h>

#include "net/wire.h"

#define FORWARD_DEVICE_NODE 0

struct vm;
struct cluster;
struct forward;

int forward_new(struct forward **out, struct vm *vm, struct cluster *c,
		const uint8_t *place);
void forward_free(struct forward *f);

/* Messages for this plane, from the cluster's receive thread. */
int forward_receive(struct forward *f, unsigned from, const struct net_msg *m);

struct forward_stats {
	uint64_t irq_sent, irq_received, eoi_sent, eoi_received;
	uint64_t io_sent, io_served, io_timeouts;
};
void forward_stats(struct forward *f, struct forward_stats *out);

#endif
