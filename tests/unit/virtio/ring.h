/* A test driver for split virtqueues: guest RAM as a flat buffer, the
 * rings laid out in it as a driver would, and helpers to post chains and
 * read used entries. Shared by the virtio unit tests. */
#ifndef AMALGAM_TESTS_VIRTIO_RING_H
#define AMALGAM_TESTS_VIRTIO_RING_H

#include <stdint.h>
#include <string.h>

#include "virtio/virtq.h"

#define RAM_SIZE (1u << 20)
#define DESC_GPA 0x1000
#define AVAIL_GPA 0x3000
#define USED_GPA 0x4000
#define DATA_GPA 0x10000
#define QSZ 16		/* every test queue's size */

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static inline void *ram_map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	return ram + gpa;
}

static inline struct virtq_desc *ring_desc(void)
{
	return (struct virtq_desc *)(ram + DESC_GPA);
}

static inline uint16_t *ring_avail(void)
{
	return (uint16_t *)(ram + AVAIL_GPA);
}

static inline uint8_t *ring_used(void)
{
	return ram + USED_GPA;
}

static inline void ring_init(struct virtq *q, uint16_t size)
{
	memset(ram, 0, sizeof(ram));
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	q->map = ram_map;
}

static inline void ring_desc_set(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			  uint16_t next)
{
	ring_desc()[i] = (struct virtq_desc){ addr, len, flags, next };
}

/* Make descriptor 'head' available (the driver's avail->idx++). */
static inline void ring_post(uint16_t size, uint16_t head)
{
	uint16_t *a = ring_avail();

	a[2 + a[1] % size] = head;
	__atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
}

static inline uint16_t ring_used_idx(void)
{
	uint16_t v;

	memcpy(&v, ring_used() + 2, 2);
	return v;
}

static inline void ring_used_entry(uint16_t size, uint16_t i, uint32_t *id, uint32_t *len)
{
	memcpy(id, ring_used() + 4 + 8 * (i % size), 4);
	memcpy(len, ring_used() + 8 + 8 * (i % size), 4);
}

#endif
