/* A whole virtio device under test, driven as a driver would: its BAR
 * through the I/O registry, its queues' rings in ring.h's RAM (queue 0 at
 * ring.h's addresses, queue 1 above). Shared by the device tests. */
#ifndef AMALGAM_TESTS_VIRTIO_DEVICE_H
#define AMALGAM_TESTS_VIRTIO_DEVICE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/iobus.h"
#include "ring.h"

static struct iobus *io;
static uint64_t bar0;	/* the device's BAR 0, where the test placed it */

static inline void wr(uint64_t off, uint64_t v, unsigned len)
{
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar0 + off, &v, len, true), 0);
}

static inline uint64_t rd(uint64_t off, unsigned len)
{
	uint64_t v = 0;

	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar0 + off, &v, len, false), 0);
	return v;
}

static inline uint64_t qbase(unsigned q) { return q ? 0x5000 : 0; }
static inline struct virtq_desc *qdesc(unsigned q) { return (void *)(ram + DESC_GPA + qbase(q)); }
static inline uint16_t *qavail(unsigned q) { return (void *)(ram + AVAIL_GPA + qbase(q)); }
static inline uint16_t qused_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)(ram + USED_GPA + qbase(q) + 2), __ATOMIC_ACQUIRE);
}

/* Queues 0..n-1 at those places, QSZ entries each, enabled (the common
 * config's queue_select, size, rings and enable). */
static inline void setup_queues(unsigned n)
{
	for (unsigned q = 0; q < n; q++) {
		wr(0x16, q, 2);
		wr(0x18, QSZ, 2);
		wr(0x20, DESC_GPA + qbase(q), 8);
		wr(0x28, AVAIL_GPA + qbase(q), 8);
		wr(0x30, USED_GPA + qbase(q), 8);
		wr(0x1c, 1, 2);
	}
}

#endif
