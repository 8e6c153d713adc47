/* Unit tests for the split virtqueue's device side: chains as Linux
 * builds them (direct and indirect), used entries, event index and
 * notification suppression, and every kind of garbage a guest can put in
 * the rings, each of which must break the queue, never crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ring.h"


static struct virtq q;
static struct virtq_elem e;

static void start(bool event_idx, bool indirect)
{
	ring_init(&q, QSZ);
	q.event_idx = event_idx;
	q.indirect = indirect;
	assert_int_equal(virtq_start(&q), 0);
}

static void test_chain(void **state)
{
	uint8_t hdr[16] = "header-bytes-16";
	uint8_t got[16];
	uint32_t id, len;

	start(false, false);
	assert_int_equal(virtq_pop(&q, &e), 0);	/* empty */
	memcpy(ram + DATA_GPA, hdr, 16);
	ring_desc_set(3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 7);
	ring_desc_set(7, DATA_GPA + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 9);
	ring_desc_set(9, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	ring_post(QSZ, 3);
	assert_int_equal(virtq_pop(&q, &e), 1);
	assert_int_equal(e.head, 3);
	assert_int_equal(e.n_out, 1);
	assert_int_equal(e.n_in, 2);
	assert_int_equal(e.out_len, 16);
	assert_int_equal(e.in_len, 513);
	assert_int_equal(virtq_elem_read(&e, 0, got, 16), 16);
	assert_memory_equal(got, hdr, 16);
	/* Writes land across the in buffers in order. */
	memset(got, 0x77, sizeof(got));
	assert_int_equal(virtq_elem_write(&e, 510, got, 3), 3);
	assert_int_equal(ram[DATA_GPA + 0x1000 + 511], 0x77);
	assert_int_equal(ram[DATA_GPA + 0x2000], 0x77);
	assert_int_equal(virtq_elem_write(&e, 512, got, 16), 1);	/* clipped */
	assert_int_equal(virtq_pop(&q, &e), 0);
	virtq_push(&q, 3, 513);
	assert_int_equal(ring_used_idx(), 1);
	ring_used_entry(QSZ, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 513);
	/* Without event index, NO_INTERRUPT suppresses. */
	assert_true(virtq_should_notify(&q));
	ring_avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_false(virtq_should_notify(&q));
	/* Zero-length buffers are skipped, not mapped. */
	ring_desc_set(0, 0xfffffff0, 0, VIRTQ_DESC_F_NEXT, 1);
	ring_desc_set(1, DATA_GPA, 8, 0, 0);
	ring_post(QSZ, 0);
	assert_int_equal(virtq_pop(&q, &e), 1);
	assert_int_equal(e.n_out, 1);
}

static void test_wraparound(void **state)
{
	/* 3 * 65536 / QSZ chains through a 16-entry ring: indices wrap. */
	start(true, false);
	ring_desc_set(0, DATA_GPA, 4, 0, 0);
	for (unsigned i = 0; i < 70000; i++) {
		uint32_t id, len;

		ring_post(QSZ, 0);
		assert_int_equal(virtq_pop(&q, &e), 1);
		virtq_push(&q, e.head, (uint32_t)i);
		ring_used_entry(QSZ, (uint16_t)i, &id, &len);
		assert_int_equal(len, i);
	}
	assert_int_equal(ring_used_idx(), (uint16_t)70000);
	assert_int_equal(virtq_pop(&q, &e), 0);
	assert_false(q.broken);
}

static void test_indirect(void **state)
{
	struct virtq_desc *t = (struct virtq_desc *)(ram + 0x8000);

	start(false, true);
	t[0] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2 };
	t[2] = (struct virtq_desc){ DATA_GPA + 0x100, 4096,
				    VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0 };
	ring_desc_set(5, 0x8000, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 5);
	assert_int_equal(virtq_pop(&q, &e), 1);
	assert_int_equal(e.head, 5);
	assert_int_equal(e.n_out, 1);
	assert_int_equal(e.n_in, 2);
	assert_int_equal(e.in_len, 4097);
}

static void test_event_idx(void **state)
{
	uint16_t *used_event;

	start(true, false);
	used_event = &ring_avail()[2 + QSZ];
	ring_desc_set(0, DATA_GPA, 4, 0, 0);
	/* The first push always interrupts. */
	ring_post(QSZ, 0);
	virtq_pop(&q, &e);
	virtq_push(&q, 0, 0);
	assert_true(virtq_should_notify(&q));
	/* The driver wants an interrupt when used idx passes 3 (used_event
	 * = 3): entries 2 and 3 are quiet, entry 4 interrupts. */
	*used_event = 3;
	for (unsigned i = 1; i <= 4; i++) {
		ring_post(QSZ, 0);
		assert_int_equal(virtq_pop(&q, &e), 1);
		virtq_push(&q, 0, 0);
		assert_int_equal(virtq_should_notify(&q), i == 3);
	}
	/* A batch crossing the event interrupts once. */
	*used_event = 6;
	for (unsigned i = 0; i < 3; i++) {
		ring_post(QSZ, 0);
		virtq_pop(&q, &e);
		virtq_push(&q, 0, 0);
	}
	assert_true(virtq_should_notify(&q));
	assert_false(virtq_should_notify(&q));
	/* arm: avail_event says where we are; false while nothing new,
	 * true once the driver posted meanwhile. */
	assert_false(virtq_arm_notify(&q));
	{
		uint16_t ae;

		memcpy(&ae, ring_used() + 4 + 8 * QSZ, 2);
		assert_int_equal(ae, q.last_avail);
	}
	ring_post(QSZ, 0);
	assert_true(virtq_arm_notify(&q));
}

/* Garbage: each case breaks the queue with a reason, and a broken queue
 * stays broken. */
static void expect_broken(const char *what)
{
	assert_int_equal(virtq_pop(&q, &e), -EBADMSG);
	assert_true(q.broken);
	assert_non_null(q.why);
	assert_int_equal(virtq_pop(&q, &e), -EBADMSG);
	(void)what;
}

static void test_garbage(void **state)
{
	struct virtq_desc *t = (struct virtq_desc *)(ram + 0x8000);

	/* Head index past the queue. */
	start(false, true);
	ring_post(QSZ, QSZ);
	expect_broken("head");
	/* Next index past the queue. */
	start(false, true);
	ring_desc_set(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 200);
	ring_post(QSZ, 0);
	expect_broken("next");
	/* A loop: 0 -> 1 -> 0. */
	start(false, true);
	ring_desc_set(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	ring_desc_set(1, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	ring_post(QSZ, 0);
	expect_broken("loop");
	/* A self loop. */
	start(false, true);
	ring_desc_set(2, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	ring_post(QSZ, 2);
	expect_broken("self loop");
	/* Buffer outside RAM, absurd length, wrapping address. */
	start(false, true);
	ring_desc_set(0, RAM_SIZE + 0x1000, 4, 0, 0);
	ring_post(QSZ, 0);
	expect_broken("outside");
	start(false, true);
	ring_desc_set(0, DATA_GPA, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	ring_post(QSZ, 0);
	expect_broken("length");
	start(false, true);
	ring_desc_set(0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	ring_post(QSZ, 0);
	expect_broken("wrap");
	/* Readable after writable. */
	start(false, true);
	ring_desc_set(0, DATA_GPA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	ring_desc_set(1, DATA_GPA, 4, 0, 0);
	ring_post(QSZ, 0);
	expect_broken("order");
	/* Available index more than a queue ahead. */
	start(false, true);
	ring_avail()[1] = QSZ + 1;
	expect_broken("avail idx");
	/* Indirect: not negotiated; nested; with NEXT; bad lengths; outside
	 * RAM; a loop inside the table. */
	start(false, false);
	ring_desc_set(0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect not negotiated");
	start(false, true);
	t[0] = (struct virtq_desc){ 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0 };
	ring_desc_set(0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("nested");
	start(false, true);
	ring_desc_set(0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	ring_post(QSZ, 0);
	expect_broken("indirect+next");
	start(false, true);
	ring_desc_set(0, 0x8000, 17, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect len");
	start(false, true);
	ring_desc_set(0, 0x8000, 0, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect empty");
	start(false, true);
	ring_desc_set(0, RAM_SIZE - 16, 64, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect outside");
	start(false, true);
	t[0] = (struct virtq_desc){ DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 0 };
	ring_desc_set(0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect loop");
	start(false, true);
	t[0] = (struct virtq_desc){ DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 5 };
	ring_desc_set(0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("indirect index");
	/* More buffers than VIRTQ_MAX_SEGS, through a long indirect table. */
	start(false, true);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		t[i] = (struct virtq_desc){ DATA_GPA, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1) };
	t[VIRTQ_MAX_SEGS - 1].flags = 0;
	ring_desc_set(0, 0x8000, VIRTQ_MAX_SEGS * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	assert_int_equal(virtq_pop(&q, &e), 1);	/* exactly the limit is fine */
	assert_int_equal(e.n_out, VIRTQ_MAX_SEGS);
	ring_desc_set(0, 0x8000, (VIRTQ_MAX_SEGS + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_post(QSZ, 0);
	expect_broken("too many");
}

static void test_bad_rings(void **state)
{
	ring_init(&q, 12);	/* not a power of two */
	assert_int_equal(virtq_start(&q), -EINVAL);
	ring_init(&q, 0);
	assert_int_equal(virtq_start(&q), -EINVAL);
	ring_init(&q, 2048);
	assert_int_equal(virtq_start(&q), -EINVAL);
	ring_init(&q, QSZ);
	q.used_gpa = RAM_SIZE - 8;
	assert_int_equal(virtq_start(&q), -EFAULT);
	assert_true(q.broken);
	ring_init(&q, QSZ);
	q.desc_gpa = DESC_GPA + 8;
	assert_int_equal(virtq_start(&q), -EFAULT);
	assert_int_equal(virtq_pop(&q, &e), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_bad_rings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
