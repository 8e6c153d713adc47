/* A virtio device's queues served by a pool of host threads: the part
 * that virtio-blk, virtio-rng and virtio-console share. A queue
 * notification (on a vCPU thread, which must not block: the chain's pages
 * may have to come from another node, and host I/O may wait) only marks
 * the queue and wakes a worker. A worker takes one chain (under the
 * queue's lock: one consumer at a time), marks the queue again so that
 * another worker may look for more, hands the chain to the device's
 * serve callback with no lock held, gives it back as used and sends the
 * queue's interrupt when the driver wants one. A ring the driver broke
 * marks the device DEVICE_NEEDS_RESET (virtio/vpci.h).
 *
 * A driver's reset never waits for the workers (it runs on a vCPU's or a
 * receive thread, which a worker's page fault may need): vpool_reset says
 * whether a worker is still inside a queue, and then the last one to
 * leave completes the reset (vpci_reset_done).
 *
 * Locking: a queue's lock guards its ring (pop and push); the pool's lock
 * guards the pending marks, the running flag and the in-flight count.
 * Order: pool → none; queue → vpci's lock (interrupts). serve is called
 * with no lock held. */
#ifndef AMALGAM_VIRTIO_VPOOL_H
#define AMALGAM_VIRTIO_VPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VPOOL_MAX_QUEUES 16

struct vpci;
struct vpool;

struct vpool_config {
	struct vpci *vp;
	unsigned nqueues;	/* the device's queues, <= VPOOL_MAX_QUEUES */
	uint32_t served;	/* bit i: the pool serves queue i (others are the
				 * device's own business, e.g. a console's input) */
	unsigned nthreads;	/* 1 .. 64 */
	/* Serve one chain of queue q; returns the bytes written into its
	 * device-writable buffers. */
	uint32_t (*serve)(void *opaque, unsigned q, const struct virtq_elem *e);
	void *opaque;
	const char *name;	/* for the log */
};

/* -errno (bad configuration, no memory, no threads). */
int vpool_new(const struct vpool_config *cfg, struct vpool **out);
/* Stops the workers (a chain being served is finished first). */
void vpool_free(struct vpool *p);

/* The device's start: every queue the pool serves that the driver
 * enabled is looked at once (the driver may have posted before
 * DRIVER_OK). */
void vpool_start(struct vpool *p);
/* Queue q was notified. */
void vpool_notify(struct vpool *p, unsigned q);
/* The device's reset: true when no worker is inside a queue; else the
 * last one out calls vpci_reset_done. */
bool vpool_reset(struct vpool *p);
/* Times a worker found a ring broken. */
uint64_t vpool_broken(struct vpool *p);

#endif
