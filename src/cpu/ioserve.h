/* Forwarded device accesses served off the receive thread.
 *
 * On the devices' node, the port and MMIO accesses that other nodes'
 * vCPUs forward (IO_REQ) and their EOIs are device emulation: a device
 * may take its time (a UART flush waits up to 100 ms for a full terminal,
 * a disk's reset waits for its workers). Served inline they would stop
 * the transport's receive thread, and with it every page, interrupt and
 * heartbeat from every peer. So the receive thread only queues them
 * (ioserve_io, ioserve_eoi: never block) and one thread of their own
 * serves them, in the order they came.
 *
 * The queue is bounded without ever dropping what a well-behaved peer
 * sends: a vCPU waits for the answer to its access before it makes
 * another, so there is one slot per vCPU, and the slots taken are served
 * first come, first served (replies stay in order per vCPU: there is
 * never more than one). A second access for a vCPU whose first is still
 * queued is a peer's fault: refused (-EBUSY), counted by the caller. EOIs
 * are kept as a set of vectors: an EOI is an acknowledgement, and two of
 * one vector cannot both be pending (the second comes from an interrupt
 * that the first's service delivered), so the set loses nothing. EOIs
 * queued before an access are served before it. */
#ifndef AMALGAM_CPU_IOSERVE_H
#define AMALGAM_CPU_IOSERVE_H

#include <stdint.h>

#include "net/wire.h"

struct ioserve;

struct ioserve_ops {
	/* On the serving thread: one access from node 'from'. */
	void (*io)(void *opaque, unsigned from, const struct net_io_req *q);
	/* On the serving thread: an EOI of vector. */
	void (*eoi)(void *opaque, uint8_t vector);
};

/* A server for vCPUs 0..nr_vcpus-1, its thread started. 0 or -errno. */
int ioserve_new(struct ioserve **out, unsigned nr_vcpus, const struct ioserve_ops *ops,
		void *opaque);
/* Stop the thread once it has served what it holds (what is queued after
 * is dropped), and join it. Idempotent; then ioserve_free. */
void ioserve_stop(struct ioserve *s);
void ioserve_free(struct ioserve *s);

/* From the receive thread; never block. 0; -EBUSY when q->vcpu already
 * has an access queued; -EINVAL for a vCPU out of range; -ESHUTDOWN once
 * stopped. */
int ioserve_io(struct ioserve *s, unsigned from, const struct net_io_req *q);
void ioserve_eoi(struct ioserve *s, uint8_t vector);

/* The most accesses that were ever queued at once (for --stats). */
unsigned ioserve_peak(struct ioserve *s);

#endif
