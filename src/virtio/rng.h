/* virtio-rng (virtio 1.2, section 5.4): one request queue; each chain's
 * device-writable buffers are filled from the hosting node's getrandom(2)
 * (the kernel's CSPRNG, the same source /dev/urandom reads), at most
 * RNG_MAX_REQUEST bytes a chain (the spec lets a device write fewer bytes
 * than the buffers hold; Linux's hwrng asks again).
 *
 * Served by one pool thread (virtio/vpool.h), never on a vCPU thread:
 * filling the buffers may fault their pages in from another node, and
 * getrandom may block until the host's pool is initialised at boot.
 * A chain with no writable buffer is answered with 0 bytes and counted; a
 * broken ring marks the device DEVICE_NEEDS_RESET. */
#ifndef AMALGAM_VIRTIO_RNG_H
#define AMALGAM_VIRTIO_RNG_H

#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_RNG_ID 4
#define RNG_MAX_REQUEST 4096

struct pci_bus;
struct vrng;

struct vrng_config {
	virtq_map_fn map;	/* guest RAM through this node's memory plane */
	void *map_opaque;
	void (*msi_send)(void *opaque, uint64_t address, uint32_t data);
	void *msi_opaque;
};

/* -errno and a one-line reason in err. */
int vrng_new(struct pci_bus *bus, const struct vrng_config *cfg, struct vrng **out,
	     char *err, unsigned errlen);
void vrng_free(struct vrng *r);

struct vrng_stats {
	uint64_t requests, bytes;
	uint64_t empty;		/* chains with nowhere to write */
	uint64_t errors;	/* getrandom failures (answered with 0 bytes) */
	uint64_t broken;	/* times the ring was found broken */
};
void vrng_stats(struct vrng *r, struct vrng_stats *out);

#endif
