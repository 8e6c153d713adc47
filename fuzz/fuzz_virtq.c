/* libFuzzer target for the split virtqueue's device side (src/virtio/
 * virtq.c): the input is guest RAM as a driver left it (descriptor table,
 * available ring, indirect tables, anything), plus a few header bytes
 * choosing the queue size, the features and where the rings are. Whatever
 * the bytes, the device must only ever hand out buffers inside RAM, stop
 * at a bounded number of chains, and either take chains or break the
 * queue with a reason; never read or write outside RAM, never loop.
 *
 * Build and run: see fuzz/meson.build. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio/virtq.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)
#define RAM 65536

static uint8_t ram[RAM] __attribute__((aligned(4096)));

static void *map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	if (gpa > RAM || len > RAM - gpa)
		return NULL;
	return ram + gpa;
}

static bool inside(const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= ram && b <= ram + RAM && len <= (size_t)(ram + RAM - b);
}

static struct virtq_elem e;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq q = { 0 };
	uint8_t scratch[64];

	if (size < 8)
		return 0;
	/* Header: size exponent, features, three ring addresses (in 16-byte
	 * units, so most land aligned). */
	q.size = (uint16_t)(1u << (data[0] % 9));	/* 1 .. 256 */
	q.event_idx = data[1] & 1;
	q.indirect = data[1] & 2;
	q.desc_gpa = (uint64_t)(data[2] | data[3] << 8) * 16 % RAM;
	q.avail_gpa = (uint64_t)(data[4] | data[5] << 8) * 2 % RAM;
	q.used_gpa = (uint64_t)(data[6] | data[7] << 8) * 4 % RAM;
	q.map = map;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 8, size - 8 < RAM ? size - 8 : RAM);
	if (virtq_start(&q))
		return 0;
	/* The available index bounds what the device may take before it
	 * sees nothing new: at most one queue's worth. */
	for (unsigned n = 0; n <= q.size; n++) {
		int r = virtq_pop(&q, &e);

		if (r == 0)
			break;
		if (r < 0) {
			CHECK(q.broken && q.why);
			CHECK(virtq_pop(&q, &e) < 0);
			return 0;
		}
		CHECK(n < q.size);
		CHECK(e.head < q.size);
		CHECK(e.n_out + e.n_in <= VIRTQ_MAX_SEGS);
		for (unsigned i = 0; i < e.n_out + e.n_in; i++)
			CHECK(inside(e.iov[i].iov_base, e.iov[i].iov_len));
		/* Touch every byte the device was given, both ways. */
		for (uint64_t off = 0; off < e.out_len; off += sizeof(scratch))
			CHECK(virtq_elem_read(&e, off, scratch, sizeof(scratch)) > 0);
		memset(scratch, 0xee, sizeof(scratch));
		for (uint64_t off = 0; off < e.in_len; off += sizeof(scratch))
			CHECK(virtq_elem_write(&e, off, scratch, sizeof(scratch)) > 0);
		virtq_push(&q, e.head, (uint32_t)e.in_len);
		(void)virtq_should_notify(&q);
	}
	(void)virtq_arm_notify(&q);
	return 0;
}
