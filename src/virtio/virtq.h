/* The device side of a split virtqueue (virtio 1.x, section 2.7): take
 * the chains the driver made available, give them back as used, and say
 * when the driver wants an interrupt. With VIRTIO_F_EVENT_IDX (used_event
 * and avail_event) and VIRTIO_F_INDIRECT_DESC.
 *
 * Pure: no threads, no I/O. Guest memory is reached only through the
 * map callback, which the device's node implements through its memory
 * plane (virtio/vpci.h says how); tests and the fuzzer map a buffer.
 *
 * The driver is not trusted. Every index, length, flag and address is
 * read once, copied, then checked; a ring that breaks the rules (a
 * descriptor index past the queue, a chain longer than the queue or one
 * that loops, an indirect table inside an indirect table or of a length
 * not a multiple of 16, a device-readable buffer after a device-writable
 * one, an address outside RAM, more than VIRTQ_MAX_SEGS buffers, the
 * available index running more than a queue ahead) makes virtq_pop return
 * -EBADMSG and sets q->broken: the transport then marks the device
 * DEVICE_NEEDS_RESET. Nothing the driver writes can make this code read
 * or write outside what map returned.
 *
 * Concurrency: one thread at a time per queue (the device's queue
 * worker); the driver runs concurrently on vCPUs, so ring fields are read
 * with acquire and written with release ordering. */
#ifndef AMALGAM_VIRTIO_VIRTQ_H
#define AMALGAM_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_MAX_SEGS 256

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor is 16 bytes");

/* Host pointer to guest-physical [gpa, gpa + len), to read (write false)
 * or write; NULL if any of it is not RAM. The pointer stays valid while
 * the VM exists. */
typedef void *(*virtq_map_fn)(void *opaque, uint64_t gpa, uint64_t len, bool write);

struct virtq {
	/* Set by the transport when the driver enables the queue. */
	uint16_t size;			/* power of two, <= VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx, indirect;	/* features the driver accepted */
	virtq_map_fn map;
	void *map_opaque;

	/* Device state. */
	uint16_t last_avail;		/* next available entry to take */
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled_used;	/* used_idx when we last interrupted */
	bool signalled_valid;
	bool broken;
	const char *why;		/* what broke it, for the log */

	/* Ring pointers, set by virtq_start. */
	struct virtq_desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[size], used_event */
	volatile uint16_t *used;	/* flags, idx, then {u32 id, u32 len}[size], avail_event */
};

/* One chain: out (device-readable) buffers first, then in (device-writable). */
struct virtq_elem {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_len, in_len;	/* bytes in each direction */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Map the three rings (sizes from 2.7: 16*size, 6+2*size, 6+8*size).
 * -EINVAL for a size that is not a power of two or is too big, -EFAULT
 * for rings outside RAM (q->broken set). */
int virtq_start(struct virtq *q);
/* 1 with a chain in e, 0 when nothing is available, -EBADMSG for a
 * broken ring (q->broken, q->why). */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* Give chain 'head' back, 'written' bytes written into its in buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* After pushes: does the driver want an interrupt now? (used_event with
 * EVENT_IDX, else the NO_INTERRUPT flag). */
bool virtq_should_notify(struct virtq *q);
/* Before the worker sleeps: ask the driver to notify for what comes after
 * what we took (avail_event, else clear NO_NOTIFY); true if something
 * arrived meanwhile (then pop again rather than sleep). */
bool virtq_arm_notify(struct virtq *q);

/* Copy between a chain's buffers and flat memory: from the out side at
 * byte 'off', or into the in side at byte 'off'. Return bytes copied. */
uint64_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *buf, uint64_t len);
uint64_t virtq_elem_write(const struct virtq_elem *e, uint64_t off, const void *buf,
			  uint64_t len);

#endif
