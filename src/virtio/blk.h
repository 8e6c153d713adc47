/* virtio-blk (virtio 1.2, section 5.2) on a raw image file: read, write,
 * flush (fsync: the write reaches the host's disk before the guest hears
 * OK), discard (a hole punched), write-zeroes (a zeroed range, a hole
 * when the driver allows unmapping), get-id; several queues; read-only
 * disks (VIRTIO_BLK_F_RO, and writes refused with an I/O error).
 *
 * Host I/O runs on the disk's own pool of worker threads (virtio/vpool.h),
 * never on a vCPU thread: a notification only marks the queue and wakes a
 * worker, which takes a chain, does the I/O with preadv/pwritev straight
 * between the file and the guest's buffers, gives the chain back and
 * interrupts. Several workers serve one queue at once, so a driver with
 * many requests in flight gets them served in parallel. Why threads and
 * not io_uring: the same code runs on every kernel we support and inside
 * the lab (io_uring may be disabled or filtered by seccomp, and liburing
 * would be one more dependency), blocking calls keep each request's code
 * straight, and the pool's size bounds what one disk costs the host.
 *
 * A failing backing file (EIO, ENOSPC, a short transfer) gives the
 * request VIRTIO_BLK_S_IOERR; the node goes on. A ring the driver broke
 * makes the device DEVICE_NEEDS_RESET (virtio/vpci.h).
 *
 * A driver's reset never waits for the workers (virtio/vpool.h says why).
 * Locking: the pool's (virtio/vpool.h); the disk's own state is fixed
 * after vblk_new but for its counters, which are atomic. */
#ifndef AMALGAM_VIRTIO_BLK_H
#define AMALGAM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_BLK_ID 2
#define BLK_MAX_QUEUES 8
#define BLK_DEFAULT_WORKERS 4

struct pci_bus;
struct vblk;

struct vblk_config {
	const char *path;
	bool readonly;
	unsigned queues;	/* 1 .. BLK_MAX_QUEUES */
	unsigned workers;	/* host threads; 0: BLK_DEFAULT_WORKERS */
	virtq_map_fn map;	/* guest RAM through this node's memory plane */
	void *map_opaque;
	void (*msi_send)(void *opaque, uint64_t address, uint32_t data);
	void *msi_opaque;
	const char *name;	/* "vda" ... for the log and the serial */
	/* Fault injection for tests: when set, called before each host I/O
	 * with the request type; a non-zero return is the errno the I/O
	 * fails with. */
	int (*inject)(void *opaque, uint32_t type, uint64_t sector);
	void *inject_opaque;
};

/* Opens the file (read-write unless readonly), adds the PCI function.
 * -errno and a one-line reason in err. */
int vblk_new(struct pci_bus *bus, const struct vblk_config *cfg, struct vblk **out,
	     char *err, unsigned errlen);
/* Stops the workers (in-flight requests finish) and closes the file. */
void vblk_free(struct vblk *b);

/* The PCI function of a disk that node 'host' runs (vpci_shadow_new),
 * built by the same code as vblk_new's so that every node's config image
 * agrees: no file, no workers. Freed with vpci_free. Only cfg->queues and
 * cfg->readonly count. */
struct vpci;
int vblk_shadow_new(struct pci_bus *bus, const struct vblk_config *cfg, unsigned host,
		    struct vpci **out);

struct vblk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, other;
	uint64_t read_bytes, write_bytes;
	uint64_t io_errors;	/* requests answered IOERR */
	uint64_t unsupported;	/* requests answered UNSUPP */
	uint64_t bad_requests;	/* malformed (no header, no status byte) */
	uint64_t broken;	/* times a ring was found broken */
};
void vblk_stats(struct vblk *b, struct vblk_stats *out);

#endif
