/* virtio-console (virtio 1.2, section 5.3), one port and no features:
 * Linux's hvc0, a second console beside the UART. What the guest writes
 * to its transmit queue goes to a file or to the node's stdout, bounded
 * and counted as the UART's output is (util/outfd.h: a full fd holds the
 * writer at most 100 ms, then output is dropped and counted until it
 * drains). There is no input: the receive queue's buffers stay with the
 * device, unused (a driver must keep some posted anyway).
 *
 * The transmit queue is served by one pool thread (virtio/vpool.h), never
 * on a vCPU thread: the output's pages may fault in from another node and
 * the fd may be slow. A broken ring marks the device DEVICE_NEEDS_RESET. */
#ifndef AMALGAM_VIRTIO_CONSOLE_H
#define AMALGAM_VIRTIO_CONSOLE_H

#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_CONSOLE_ID 3

struct pci_bus;
struct vcon;

struct vcon_config {
	const char *path;	/* created or truncated; NULL: stdout */
	virtq_map_fn map;	/* guest RAM through this node's memory plane */
	void *map_opaque;
	void (*msi_send)(void *opaque, uint64_t address, uint32_t data);
	void *msi_opaque;
};

/* -errno and a one-line reason in err (a file that cannot be opened). */
int vcon_new(struct pci_bus *bus, const struct vcon_config *cfg, struct vcon **out,
	     char *err, unsigned errlen);
void vcon_free(struct vcon *c);

struct vcon_stats {
	uint64_t tx_bytes;	/* what the guest wrote */
	uint64_t tx_dropped;	/* of those, lost to a stalled or failing fd */
	uint64_t broken;	/* times a ring was found broken */
};
void vcon_stats(struct vcon *c, struct vcon_stats *out);

#endif
