/* The CPU and I/O planes across nodes: what leaves a node when a vCPU's
 * interrupt, EOI or device access concerns another node, and vCPUs
 * moving between nodes.
 *  - An APIC message for a vCPU elsewhere becomes an IRQ message to its
 *    node (or, for logical/broadcast destinations, to every node that
 *    runs vCPUs, each told which vCPUs are its to match).
 *  - A vCPU moves at an exit of its own: its state (vcpu_save) goes to the
 *    new node as VCPU_STATE, which restores it and tells every node
 *    (MOVED). Messages that still reach a node it left are sent on.
 *  - An EOI of a level-triggered vector goes to the devices' node, where
 *    the IOAPIC is.
 *  - Every vCPU's routing registers follow it to every node (ROUTE).
 *  - What another node says of its CPUs and load (LOAD) goes up to the
 *    node's cost model.
 *  - What node 0's API asks (CONTROL): a vCPU moved by hand, every vCPU
 *    paused or resumed.
 *  - A port or MMIO access no local device claims goes to the devices'
 *    node as IO_REQ; the vCPU waits for the IO_REPLY (bounded, and
 *    released when the guest stops). There the receive thread only
 *    queues it: a thread of its own serves accesses and EOIs into the
 *    devices (ioserve.h), so a slow device cannot stop the node from
 *    reading its peers. A BAR access to a PCI device that another node
 *    hosts goes to that node the same way (forward_io_to), and is served
 *    there on that node's serving thread.
 *  - Devices on any node (vmm/pcibus.h): node 0, where config space is,
 *    tells every node each config write (PCI_CFG); a device's INTx goes
 *    to node 0's IOAPIC (INTX).
 * All of it is one message type, NET_MSG_CPU, one op per message above.
 * The legacy devices, the IOAPIC and config space live on node 0
 * (FORWARD_DEVICE_NODE); a PCI device lives on the node that hosts it. */
#ifndef AMALGAM_CPU_FORWARD_H
#define AMALGAM_CPU_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/iobus.h"
#include "net/wire.h"

#define FORWARD_DEVICE_NODE 0

struct vm;
struct vcpu;
struct cluster;
struct forward;
struct apic_msg;
struct lapic_route;

/* What the cost model hears through the plane, on the receive thread
 * (must not block): a peer's LOAD (values unchecked), and a vCPU that has
 * come from node from, having waited there the share waited (0..1) of
 * its time for this node's pages. */
struct forward_model {
	void (*on_load)(void *opaque, unsigned from, const struct net_load *load);
	void (*on_arrive)(void *opaque, unsigned vcpu, unsigned from, double waited);
	void *opaque;
};

int forward_new(struct forward **out, struct vm *vm, struct cluster *c,
		const uint8_t *place, const struct forward_model *model);
/* Stop serving other nodes' device accesses (the devices' node), before
 * the cluster they answer through goes. Idempotent. */
void forward_stop(struct forward *f);
void forward_free(struct forward *f);

/* The plane's side of struct vm_hooks (vmm/vm.h), which the node wires
 * to these: move_out (on v's thread: save it and send it to 'node' under
 * the plane's lock; -EOPNOTSUPP where vCPUs cannot move), route_changed,
 * irq_out (any thread), and on nodes without the devices io_out and eoi
 * (on the vCPU's thread; io_out waits for the answer). */
int forward_move_out(struct forward *f, struct vcpu *v, unsigned node, double waited);
void forward_route_out(struct forward *f, struct vcpu *v, const struct lapic_route *r);
uint64_t forward_irq_out(struct forward *f, const struct apic_msg *a, int target);
int forward_io_out(struct forward *f, struct vcpu *v, enum io_space space,
		   uint64_t addr, void *data, unsigned len, bool is_write);
/* The same to the node that hosts the device (not this one). */
int forward_io_to(struct forward *f, struct vcpu *v, unsigned node, enum io_space space,
		  uint64_t addr, void *data, unsigned len, bool is_write);

/* Node 0: a config write's result, to every other node (any thread; it
 * only sends). Elsewhere, from the receive thread, each goes to fn: 0, or
 * -EINVAL for a function that does not exist here (refused, counted). */
void forward_pci_cfg_out(struct forward *f, unsigned slot, unsigned off, const void *val,
			 unsigned len);
typedef int forward_pci_cfg_fn(void *opaque, unsigned slot, unsigned off, const void *val,
			       unsigned len);
void forward_set_pci_cfg(struct forward *f, forward_pci_cfg_fn *fn, void *opaque);
/* A device's INTx level, to node 0's IOAPIC. */
void forward_intx_out(struct forward *f, unsigned gsi, int level);
void forward_eoi_out(struct forward *f, uint8_t vector);

/* NET_MSG_CPU messages, from the cluster's receive thread: 0, or -EPROTO
 * for one this node does not take (an op for the devices' node elsewhere). */
int forward_receive(struct forward *f, unsigned from, const struct net_msg *m);

/* Whether vCPU vcpu may move at all: vCPU 0 stays on the devices' node,
 * where the legacy PIC's INTR wire reaches its LINT0. */
bool forward_movable(unsigned vcpu);
/* Where vCPU vcpu runs, as this node knows it. */
bool forward_where(struct forward *f, unsigned vcpu, unsigned *node);

/* How many times vCPU vcpu has moved, as this node knows. */
uint32_t forward_moves(struct forward *f, unsigned vcpu);
/* The API's requests (NET_CPU_CONTROL), on node 0: move vCPU vcpu to
 * node 'node' wherever it runs now (0, -EINVAL for a vCPU that may not
 * move or a bad id, -errno if it cannot be sent), and pause or resume
 * every node's vCPUs. */
int forward_request_move(struct forward *f, unsigned vcpu, unsigned node);
void forward_pause_all(struct forward *f, bool paused);

struct forward_stats {
	uint64_t irq_sent, irq_received, eoi_sent, eoi_received;
	uint64_t io_sent, io_served, io_timeouts;
	uint64_t io_queue_peak;	/* most accesses queued at once (ioserve.h) */
	uint64_t moved_out, moved_in;
	uint64_t refused;	/* peers' messages not theirs to send (vcpumap.h) */
};
void forward_stats(struct forward *f, struct forward_stats *out);

#endif
