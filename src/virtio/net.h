/* virtio-net (virtio 1.2, section 5.1) on a host tap (virtio/tap.h): one
 * receive and one transmit queue, a MAC address and link status in the
 * configuration, every frame preceded by virtio_net_hdr_v1 (12 bytes).
 *
 * Offloads: the guest may hand partially checksummed and segmentation
 * offloaded (TSO4/TSO6/ECN) frames to the device (VIRTIO_NET_F_CSUM,
 * HOST_TSO4/6, HOST_ECN): the header goes to the tap as it is and the
 * host kernel finishes the checksum or segments. The guest is offered
 * GUEST_CSUM and GUEST_TSO4/6/ECN only if the tap accepts TUNSETOFFLOAD
 * for them, and the tap is set to what the driver accepted when it
 * starts the device, so the host never sends a frame the guest cannot
 * take. No mergeable receive buffers: each frame goes into one chain (a
 * driver that takes GSO frames posts 64 KiB chains, as Linux does), and a
 * frame larger than the chain is dropped and counted. One queue pair (no
 * control queue, no multiqueue yet).
 *
 * Threads: one host thread per queue pair does all the device's host I/O
 * and touches its rings; it waits in epoll on the tap fd and on an
 * eventfd that queue notifications write. Why not the vCPU thread that
 * notifies: the chain's pages may have to come from another node through
 * the memory plane (a vCPU thread, or node 0's receive thread for a vCPU
 * elsewhere, must not wait for that), and a frame from the tap arrives
 * when no vCPU is exiting at all. Why not the disk's worker pool: the
 * receive side is driven by the tap's readiness, not by the driver, and a
 * single consumer per queue keeps frames in order. While the guest has no
 * receive buffers the thread stops polling the tap (frames wait in the
 * tap's queue, which the host kernel bounds) until the driver posts more.
 *
 * Bad input: a transmit chain with no room for the header, with
 * device-writable buffers or over 64 KiB, or one the tap refuses (a
 * header the kernel finds invalid), is dropped and counted; a broken ring
 * marks the device DEVICE_NEEDS_RESET. A tap that disappears or fails
 * (deleted, its fd in a bad state) is reported once, the link goes down
 * (VIRTIO_NET_S_LINK_UP cleared) and the device is marked
 * DEVICE_NEEDS_RESET; it refuses to start again, and the node goes on.
 *
 * A driver's reset never waits for the thread: if it is inside the
 * queues, it completes the reset (vpci_reset_done) as it leaves them.
 *
 * Locking: the device's lock guards running, busy, reset_pending and the
 * dead flag; the rings belong to the thread. Order: device → vpci's. */
#ifndef AMALGAM_VIRTIO_NET_H
#define AMALGAM_VIRTIO_NET_H

#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_NET_ID 1

struct pci_bus;
struct vnet;

struct vnet_config {
	const char *tap;	/* the host tap's name */
	uint8_t mac[6];
	virtq_map_fn map;	/* guest RAM through this node's memory plane */
	void *map_opaque;
	void (*msi_send)(void *opaque, uint64_t address, uint32_t data);
	void *msi_opaque;
	const char *name;	/* "net0" ... for the log */
};

/* Opens the tap and starts the queue pair's thread. -errno and a one-line
 * reason in err. */
int vnet_new(struct pci_bus *bus, const struct vnet_config *cfg, struct vnet **out,
	     char *err, unsigned errlen);
void vnet_free(struct vnet *n);
/* The PCI function of a card that node 'host' runs (vpci_shadow_new):
 * no tap, no thread. Freed with vpci_free. */
struct vpci;
int vnet_shadow_new(struct pci_bus *bus, const struct vnet_config *cfg, unsigned host,
		    struct vpci **out);

struct vnet_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_too_big;	/* frames larger than the chain offered */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_bad;	/* malformed transmit chains, dropped */
	uint64_t tx_refused;	/* frames the tap refused (bad header, down) */
	uint64_t broken;	/* rings found broken */
	uint64_t tap_failed;	/* 1 once the tap is gone */
	uint64_t offloads;	/* TUN_F_* flags set on the tap now */
};
void vnet_stats(struct vnet *n, struct vnet_stats *out);

#endif
