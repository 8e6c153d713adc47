/* Specific interleavings of the coherence protocol, each driven message by
 * message, with every invariant of the harness checked after each step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "harness.h"

#define H_OK(h, expr) do {						\
	if ((expr) || h_check(h))					\
		fail_msg("%s", (h)->err);				\
} while (0)

static struct harness *setup(unsigned nn, uint64_t np)
{
	struct harness *h = malloc(sizeof(*h));

	assert_non_null(h);
	if (h_init(h, nn, np, NULL, 1, 42))
		fail_msg("%s", h->err);
	return h;
}

static void teardown(struct harness *h)
{
	h_free(h);
	free(h);
}

static void deliver(struct harness *h, unsigned from, unsigned to,
		    unsigned type)
{
	const struct dsm_msg *m = h_peek(h, from, to, 0);

	if (!m)
		fail_msg("expected %s %u->%u, link empty",
			 dsm_msg_type_name(type), from, to);
	if (m->type != type)
		fail_msg("expected %s %u->%u, got %s", dsm_msg_type_name(type),
			 from, to, dsm_msg_type_name(m->type));
	H_OK(h, h_deliver(h, from, to));
}

static void pump(struct harness *h)
{
	while (h_total_queued(h))
		H_OK(h, h_deliver_random(h) < 0);
}

/* Get access through the protocol (whatever the schedule) and use it. */
static void access_page(struct harness *h, unsigned node, uint64_t page,
			bool write)
{
	if (!h_access(h, node, page, write)) {
		H_OK(h, h_fault(h, node, page, write));
		pump(h);
		if (!h_access(h, node, page, write))
			fail_msg("node %u: %s of page %llu not granted %s", node,
				 write ? "write" : "read",
				 (unsigned long long)page, h->err);
	}
	H_OK(h, 0);
}

static void assert_state(struct harness *h, unsigned node, uint64_t page,
			 enum dsm_state st)
{
	if (dsm_page_state(h->node[node], page) != st)
		fail_msg("node %u page %llu: state %d, expected %d", node,
			 (unsigned long long)page,
			 dsm_page_state(h->node[node], page), st);
}

static struct dsm_stats stats(struct harness *h, unsigned node)
{
	struct dsm_stats s;

	dsm_stats_get(h->node[node], &s);
	return s;
}

static uint64_t data_sent(struct harness *h)
{
	uint64_t t = 0;

	for (unsigned n = 0; n < h->nn; n++)
		t += stats(h, n).data_sent;
	return t;
}

static struct dsm_dir_info dir(struct harness *h, uint64_t page)
{
	struct dsm_dir_info d;

	assert_int_equal(dsm_dir_get(h->node[dsm_home(&h->layout, page)],
				     page, &d), 0);
	return d;
}

static void test_layout(void **state)
{
	struct dsm_layout l = { .nr_nodes = 4, .end = { 10, 10, 25, 30 } };

	assert_int_equal(dsm_layout_check(&l), 0);
	assert_int_equal(dsm_home(&l, 0), 0);
	assert_int_equal(dsm_home(&l, 9), 0);
	assert_int_equal(dsm_home(&l, 10), 2);	/* node 1's range is empty */
	assert_int_equal(dsm_home(&l, 24), 2);
	assert_int_equal(dsm_home(&l, 29), 3);
	assert_int_equal(dsm_home(&l, 30), -1);
	l.end[1] = 5;
	assert_int_equal(dsm_layout_check(&l), -EINVAL);
	assert_int_equal(dsm_layout_even(&l, 3, 10), 0);
	assert_int_equal(l.end[0], 4);
	assert_int_equal(l.end[1], 7);
	assert_int_equal(l.end[2], 10);
	assert_int_equal(dsm_layout_even(&l, 65, 10), -EINVAL);
}

/* Untouched pages are zero at home: a flag travels, never 4 KiB of zeros. */
static void test_zero_pages(void **state)
{
	struct harness *h = setup(2, 2);	/* page 0 homed on 0 */
	const struct dsm_msg *m;

	H_OK(h, h_fault(h, 1, 0, false));
	deliver(h, 1, 0, DSM_READ_REQ);
	m = h_peek(h, 0, 1, 0);
	assert_non_null(m);
	assert_int_equal(m->type, DSM_DATA);
	assert_int_equal(m->flags, DSM_F_ZERO);
	deliver(h, 0, 1, DSM_DATA);
	assert_state(h, 1, 0, DSM_SHARED);
	assert_true(h_access(h, 1, 0, false));
	/* The home reads it too (locally), node 1 upgrades (no data: its
	 * copy is current), node 0 write-misses on page 1 (zero again). */
	access_page(h, 0, 0, false);
	access_page(h, 1, 0, true);
	access_page(h, 0, 1, true);
	assert_int_equal(data_sent(h), 0);
	assert_int_equal(stats(h, 0).zero_grants + stats(h, 1).zero_grants, 3);
	/* Once granted for writing a page is no longer known to be zero:
	 * now its contents travel. */
	access_page(h, 1, 1, false);
	assert_int_equal(data_sent(h), 1);
	teardown(h);
}

/* Node 1's read is forwarded to the owner 2; node 3's write arrives at the
 * home while 2's DATA to 1 is still on the wire. The home must not send its
 * INV to 1 before 1 has installed that DATA. */
static void test_read_racing_invalidation(void **state)
{
	struct harness *h = setup(4, 4);	/* page 0 homed on 0 */

	access_page(h, 2, 0, true);
	H_OK(h, h_fault(h, 1, 0, false));
	H_OK(h, h_fault(h, 3, 0, true));
	deliver(h, 1, 0, DSM_READ_REQ);
	deliver(h, 0, 2, DSM_FWD_READ);
	assert_state(h, 2, 0, DSM_SHARED);
	deliver(h, 3, 0, DSM_WRITE_REQ);
	assert_int_equal(h_queued(h, 0, 1), 0);
	assert_int_equal(h_queued(h, 0, 2), 0);
	assert_true(dir(h, 0).busy);
	assert_int_equal(dir(h, 0).queued, 1);
	deliver(h, 2, 1, DSM_DATA);
	assert_true(h_access(h, 1, 0, false));	/* sees 2's write */
	deliver(h, 1, 0, DSM_DONE);
	/* Now the write: the lowest sharer (1) supplies the data, 2 is
	 * invalidated first. */
	deliver(h, 0, 2, DSM_INV);
	deliver(h, 2, 0, DSM_INV_ACK);
	deliver(h, 0, 1, DSM_FWD_WRITE);
	assert_state(h, 1, 0, DSM_INVALID);
	deliver(h, 1, 3, DSM_DATA);
	deliver(h, 3, 0, DSM_DONE);
	assert_true(h_access(h, 3, 0, true));
	assert_int_equal(h->truth[0] >> 8, 2);
	assert_false(dir(h, 0).busy);
	teardown(h);
}

/* Nodes 1 and 2 hold Shared copies and both upgrade. The loser's copy is
 * invalidated while its upgrade waits at the home; its request is then
 * served as a write miss, with the winner's data. */
static void test_upgrade_racing_invalidation(void **state)
{
	struct harness *h = setup(3, 3);

	access_page(h, 0, 0, true);
	access_page(h, 1, 0, false);
	access_page(h, 2, 0, false);
	H_OK(h, h_fault(h, 1, 0, true));
	H_OK(h, h_fault(h, 2, 0, true));
	deliver(h, 1, 0, DSM_WRITE_REQ);
	/* Home and 2 hold copies: 2 gets INV, the home drops its own. */
	deliver(h, 2, 0, DSM_WRITE_REQ);
	deliver(h, 0, 2, DSM_INV);
	assert_state(h, 2, 0, DSM_INVALID);
	assert_true(dsm_page_pending(h->node[2], 0));
	deliver(h, 2, 0, DSM_INV_ACK);
	deliver(h, 0, 1, DSM_GRANT);
	assert_true(h_access(h, 1, 0, true));
	/* 2's upgrade: its copy is gone, so the owner forwards the data. */
	deliver(h, 0, 1, DSM_FWD_WRITE);
	deliver(h, 1, 2, DSM_DATA);
	deliver(h, 2, 0, DSM_DONE);
	assert_true(h_access(h, 2, 0, true));
	assert_int_equal(h->truth[0] >> 8, 3);
	assert_int_equal(stats(h, 0).retries, 1);
	assert_int_equal(stats(h, 0).upgrade_grants, 1);
	teardown(h);
}

/* Two write misses at once, in both arrival orders. */
static void test_two_writers(void **state)
{
	for (unsigned first = 1; first <= 2; first++) {
		struct harness *h = setup(3, 3);
		unsigned second = 3 - first;

		H_OK(h, h_fault(h, 1, 0, true));
		H_OK(h, h_fault(h, 2, 0, true));
		deliver(h, first, 0, DSM_WRITE_REQ);
		deliver(h, second, 0, DSM_WRITE_REQ);
		deliver(h, 0, first, DSM_DATA);
		assert_true(h_access(h, first, 0, true));
		deliver(h, 0, first, DSM_FWD_WRITE);
		assert_state(h, first, 0, DSM_INVALID);
		deliver(h, first, second, DSM_DATA);
		deliver(h, second, 0, DSM_DONE);
		assert_true(h_access(h, second, 0, true));
		assert_int_equal(h->truth[0], (2 << 8) | second);
		teardown(h);
	}
}

/* Node 1 upgrades while node 2's read is on its way to the home, in both
 * orders. */
static void test_upgrade_while_read_in_flight(void **state)
{
	/* Read first: the home forwards it to sharer 1 (which serves it even
	 * with its own upgrade outstanding), then runs the upgrade, which
	 * invalidates 2 and grants without data. */
	struct harness *h = setup(4, 4);
	uint64_t sent;

	access_page(h, 3, 0, true);
	access_page(h, 1, 0, false);
	H_OK(h, h_fault(h, 2, 0, false));
	H_OK(h, h_fault(h, 1, 0, true));
	deliver(h, 2, 0, DSM_READ_REQ);
	deliver(h, 1, 0, DSM_WRITE_REQ);
	deliver(h, 0, 1, DSM_FWD_READ);
	deliver(h, 1, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, false));
	deliver(h, 2, 0, DSM_DONE);
	sent = data_sent(h);
	deliver(h, 0, 2, DSM_INV);
	deliver(h, 0, 3, DSM_INV);
	deliver(h, 3, 0, DSM_INV_ACK);
	deliver(h, 2, 0, DSM_INV_ACK);
	deliver(h, 0, 1, DSM_GRANT);
	assert_int_equal(data_sent(h), sent);	/* the grant moved no data */
	assert_true(h_access(h, 1, 0, true));
	teardown(h);

	/* Upgrade first: the read waits, then goes to the new owner, which
	 * drops to Shared and sends its fresh value. */
	h = setup(4, 4);
	access_page(h, 3, 0, true);
	access_page(h, 1, 0, false);
	H_OK(h, h_fault(h, 2, 0, false));
	H_OK(h, h_fault(h, 1, 0, true));
	deliver(h, 1, 0, DSM_WRITE_REQ);
	deliver(h, 2, 0, DSM_READ_REQ);
	deliver(h, 0, 3, DSM_INV);
	deliver(h, 3, 0, DSM_INV_ACK);
	deliver(h, 0, 1, DSM_GRANT);
	assert_true(h_access(h, 1, 0, true));
	deliver(h, 0, 1, DSM_FWD_READ);
	assert_state(h, 1, 0, DSM_SHARED);
	deliver(h, 1, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, false));
	assert_int_equal(h->mem[2][0], (2ULL << 8) | 1);
	deliver(h, 2, 0, DSM_DONE);
	teardown(h);
}

/* Ownership moves 1 -> 2 while node 3's read waits at the home: the read
 * must go to the new owner, never the old one. */
static void test_forward_while_ownership_moves(void **state)
{
	struct harness *h = setup(4, 4);

	access_page(h, 1, 0, true);
	H_OK(h, h_fault(h, 2, 0, true));
	H_OK(h, h_fault(h, 3, 0, false));
	deliver(h, 2, 0, DSM_WRITE_REQ);
	deliver(h, 3, 0, DSM_READ_REQ);
	assert_int_equal(dir(h, 0).owner, 2);	/* decided, not yet done */
	deliver(h, 0, 1, DSM_FWD_WRITE);
	assert_int_equal(h_queued(h, 0, 2), 0);
	deliver(h, 1, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, true));
	deliver(h, 2, 0, DSM_DONE);
	assert_int_equal(h_queued(h, 0, 1), 0);
	deliver(h, 0, 2, DSM_FWD_READ);
	deliver(h, 2, 3, DSM_DATA);
	assert_true(h_access(h, 3, 0, false));
	assert_int_equal(h->mem[3][0], (2ULL << 8) | 2);
	deliver(h, 3, 0, DSM_DONE);
	teardown(h);
}

/* The home reading, upgrading, serving and losing its own page. */
static void test_home_as_requester(void **state)
{
	struct harness *h = setup(3, 3);	/* page 0 homed on 0 */

	/* A zero page: entirely local, nothing on the wire. */
	H_OK(h, h_fault(h, 0, 0, false));
	assert_int_equal(h_total_queued(h), 0);
	assert_true(h_access(h, 0, 0, false));

	/* Node 1 writes; the home reads it back through a forward, and its
	 * DONE to itself never reaches the wire. */
	access_page(h, 1, 0, true);
	H_OK(h, h_fault(h, 0, 0, false));
	deliver(h, 0, 1, DSM_FWD_READ);
	deliver(h, 1, 0, DSM_DATA);
	assert_int_equal(h_total_queued(h), 0);
	assert_false(dir(h, 0).busy);
	assert_true(h_access(h, 0, 0, false));

	/* The home upgrades: 1 is invalidated, the grant is local. */
	H_OK(h, h_fault(h, 0, 0, true));
	deliver(h, 0, 1, DSM_INV);
	deliver(h, 1, 0, DSM_INV_ACK);
	assert_true(h_access(h, 0, 0, true));

	/* Node 2 reads: the home serves from its copy, downgrading. */
	H_OK(h, h_fault(h, 2, 0, false));
	deliver(h, 2, 0, DSM_READ_REQ);
	assert_state(h, 0, 0, DSM_SHARED);
	deliver(h, 0, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, false));

	/* Node 1 writes: the home sends its data and drops its copy. */
	H_OK(h, h_fault(h, 1, 0, true));
	deliver(h, 1, 0, DSM_WRITE_REQ);
	deliver(h, 0, 2, DSM_INV);
	deliver(h, 2, 0, DSM_INV_ACK);
	assert_state(h, 0, 0, DSM_INVALID);
	deliver(h, 0, 1, DSM_DATA);
	assert_true(h_access(h, 1, 0, true));

	/* A home write fault joining its own outstanding read becomes an
	 * upgrade as soon as the read is done. */
	H_OK(h, h_fault(h, 0, 0, false));
	H_OK(h, h_fault(h, 0, 0, true));
	assert_int_equal(stats(h, 0).fault_joined, 1);
	deliver(h, 0, 1, DSM_FWD_READ);
	deliver(h, 1, 0, DSM_DATA);
	deliver(h, 0, 1, DSM_INV);
	deliver(h, 1, 0, DSM_INV_ACK);
	assert_true(h_access(h, 0, 0, true));
	assert_int_equal(h->truth[0] >> 8, 4);
	teardown(h);
}

/* Pages loaded before boot: owned where they were loaded, whatever their
 * home, and served from there. */
static void test_preload(void **state)
{
	struct harness *h = setup(3, 3);

	H_OK(h, h_preload(h, 0, 3, 0));
	assert_int_equal(dsm_preload(h->node[1], 1, 1, 2), -EBUSY);
	assert_int_equal(dsm_preload(h->node[1], 2, 2, 0), -EINVAL);
	assert_true(h_access(h, 0, 1, true));	/* no fault: it is local */
	H_OK(h, h_fault(h, 2, 1, false));
	deliver(h, 2, 1, DSM_READ_REQ);
	deliver(h, 1, 0, DSM_FWD_READ);
	deliver(h, 0, 2, DSM_DATA);
	assert_true(h_access(h, 2, 1, false));
	deliver(h, 2, 1, DSM_DONE);
	assert_int_equal(h->mem[2][1], (2 << 8) | 0);
	access_page(h, 1, 0, true);
	assert_int_equal(h->mem[1][0], (2 << 8) | 1);
	teardown(h);
}

/* The protocol says what each fault was: a read miss, then a fault on the
 * same page before the data came (joined), then a write to the Shared
 * copy (upgrade), a write miss elsewhere, and a fault on a page already
 * writable (spurious). h_fault checks each against the counters. */
static void test_fault_kinds(void **state)
{
	struct harness *h = setup(2, 4);

	H_OK(h, h_fault(h, 1, 0, false));
	H_OK(h, h_fault(h, 1, 0, false));
	assert_int_equal(h->fault_kinds[DSM_FAULT_READ_MISS], 1);
	assert_int_equal(h->fault_kinds[DSM_FAULT_JOINED], 1);
	pump(h);
	access_page(h, 1, 0, true);
	assert_int_equal(h->fault_kinds[DSM_FAULT_UPGRADE], 1);
	access_page(h, 0, 1, true);
	assert_int_equal(h->fault_kinds[DSM_FAULT_WRITE_MISS], 1);
	H_OK(h, h_fault(h, 0, 1, true));
	assert_int_equal(h->fault_kinds[DSM_FAULT_SPURIOUS], 1);
	pump(h);
	teardown(h);
}

static void test_spurious_fault(void **state)
{
	struct harness *h = setup(2, 2);
	enum dsm_fault_kind kind;
	size_t n;
	const struct dsm_action *a;

	access_page(h, 1, 0, true);
	kind = DSM_FAULT_KINDS;
	assert_int_equal(dsm_fault(h->node[1], 0, false, &kind), 0);
	assert_int_equal(kind, DSM_FAULT_SPURIOUS);
	a = dsm_actions(h->node[1], &n);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].type, DSM_ACT_FAULT_DONE);
	dsm_actions_clear(h->node[1]);
	assert_int_equal(stats(h, 1).fault_spurious, 1);
	teardown(h);
}

static void test_bad_messages(void **state)
{
	struct harness *h = setup(3, 3);
	struct dsm_msg m = { .type = DSM_READ_REQ, .page = 0, .from = 1,
			     .to = 0, .requester = 1 };
	size_t n;

	/* Malformed: rejected, nothing changes. */
	m.page = 99;
	assert_int_equal(dsm_receive(h->node[0], &m), -EINVAL);
	m.page = 1;		/* homed on 1, not 0 */
	assert_int_equal(dsm_receive(h->node[0], &m), -EINVAL);
	m.page = 0;
	m.type = 77;
	assert_int_equal(dsm_receive(h->node[0], &m), -EINVAL);
	m.type = DSM_INV;	/* INV from a node that is not the home */
	m.to = 2;
	assert_int_equal(dsm_receive(h->node[2], &m), -EINVAL);
	assert_int_equal(stats(h, 0).bad_msgs, 3);
	assert_int_equal(stats(h, 2).bad_msgs, 1);
	/* Well-formed but impossible: an INV_ACK nobody asked for, an INV
	 * for a copy node 2 does not hold. */
	m = (struct dsm_msg){ .type = DSM_INV_ACK, .page = 0, .from = 1,
			      .to = 0, .requester = 1 };
	assert_int_equal(dsm_receive(h->node[0], &m), -EPROTO);
	m = (struct dsm_msg){ .type = DSM_INV, .page = 0, .from = 0,
			      .to = 2, .requester = 1 };
	assert_int_equal(dsm_receive(h->node[2], &m), -EPROTO);
	dsm_actions(h->node[2], &n);
	assert_int_equal(n, 0);
	assert_int_equal(stats(h, 0).proto_errors, 1);
	assert_int_equal(stats(h, 2).proto_errors, 1);
	teardown(h);
}

/* Many pages busy at one home at once (beyond the harness's size): drive
 * the raw API through one global FIFO, a valid schedule of FIFO links. */
struct gq {
	struct dsm_msg *m;
	size_t head, n, cap;
};

static void gq_drain_actions(struct gq *q, struct dsm_node *node)
{
	size_t cnt;
	const struct dsm_action *a = dsm_actions(node, &cnt);

	for (size_t i = 0; i < cnt; i++) {
		if (a[i].type != DSM_ACT_SEND)
			continue;
		if (q->head + q->n == q->cap) {
			q->cap = q->cap ? 2 * q->cap : 64;
			q->m = realloc(q->m, q->cap * sizeof(*q->m));
			assert_non_null(q->m);
		}
		q->m[q->head + q->n++] = a[i].msg;
	}
	dsm_actions_clear(node);
}

static void test_many_busy_pages(void **state)
{
	enum { NP = 3000, NR = 1000 };
	struct dsm_layout l = { .nr_nodes = 3, .end = { NP, NP, NP } };
	struct dsm_node *node[3];
	struct gq q = { 0 };
	unsigned busy = 0;

	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(dsm_node_new(&node[i], i, &l), 0);
	/* Node 1 owns NR pages; node 2 then reads them all, so that the
	 * home has NR forwards in flight. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t p = 0; p < NR; p++) {
			unsigned who = pass ? 2 : 1;
			enum dsm_fault_kind kind;

			assert_int_equal(dsm_fault(node[who], p * 3, !pass, &kind), 0);
			assert_int_equal(kind, pass ? DSM_FAULT_READ_MISS :
					 DSM_FAULT_WRITE_MISS);
			gq_drain_actions(&q, node[who]);
		}
		while (q.n) {
			struct dsm_msg m = q.m[q.head++];
			struct dsm_dir_info d;

			q.n--;
			assert_int_equal(dsm_receive(node[m.to], &m), 0);
			gq_drain_actions(&q, node[m.to]);
			if (pass && m.type == DSM_FWD_READ && !busy) {
				/* Every read arrived before any forward. */
				for (uint64_t p = 0; p < NR; p++) {
					dsm_dir_get(node[0], p * 3, &d);
					busy += d.busy;
				}
			}
		}
	}
	assert_int_equal(busy, NR);
	for (uint64_t p = 0; p < NR; p++) {
		struct dsm_dir_info d;

		assert_int_equal(dsm_page_state(node[2], p * 3), DSM_SHARED);
		assert_int_equal(dsm_page_state(node[1], p * 3), DSM_SHARED);
		dsm_dir_get(node[0], p * 3, &d);
		assert_false(d.busy);
		assert_int_equal(d.copyset, 6);
	}
	free(q.m);
	for (unsigned i = 0; i < 3; i++)
		dsm_node_free(node[i]);
}


/* ---- eviction (dsm.h, "Eviction") ---- */

static void evict_ok(struct harness *h, unsigned node, uint64_t page)
{
	int r = h_evict(h, node, page);

	if (r)
		fail_msg("dsm_evict(%u, %llu) = %d %s", node,
			 (unsigned long long)page, r, h->err);
	H_OK(h, 0);
}

/* Written page 0 (home 0), owned by node 1, then read by node 2: both
 * hold it Shared and the home holds nothing. */
static struct harness *two_sharers(void)
{
	struct harness *h = setup(3, 3);

	access_page(h, 1, 0, true);
	access_page(h, 2, 0, false);
	assert_state(h, 1, 0, DSM_SHARED);
	assert_state(h, 0, 0, DSM_INVALID);
	return h;
}

/* The basics: a home never evicts its own range; a Shared copy that may
 * be the last goes home with its contents, and the home then holds it;
 * an Exclusive copy is written back. */
static void test_evict_basic(void **state)
{
	struct harness *h = two_sharers();

	assert_int_equal(dsm_evict(h->node[0], 0), -EINVAL);
	assert_int_equal(dsm_evict(h->node[0], 1), -ENOENT);
	evict_ok(h, 2, 0);
	evict_ok(h, 1, 0);	/* the last copy */
	pump(h);
	assert_state(h, 0, 0, DSM_SHARED);
	assert_int_equal(dir(h, 0).copyset, 1);
	access_page(h, 2, 0, true);
	evict_ok(h, 2, 0);
	assert_true(dsm_page_evicting(h->node[2], 0));
	pump(h);
	assert_false(dsm_page_evicting(h->node[2], 0));
	assert_state(h, 0, 0, DSM_SHARED);
	assert_int_equal(stats(h, 2).writebacks, 1);
	assert_int_equal(stats(h, 0).evicts_recv, 3);
	/* A request outstanding: not a victim. */
	H_OK(h, h_fault(h, 1, 0, false));
	H_OK(h, h_fault(h, 2, 0, false));
	deliver(h, 1, 0, DSM_READ_REQ);
	deliver(h, 0, 1, DSM_DATA);
	H_OK(h, h_fault(h, 1, 0, true));
	assert_int_equal(dsm_evict(h->node[1], 0), -EBUSY);
	pump(h);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* An eviction crossing an invalidation: the EVICT is the INV_ACK, the INV
 * that arrives after it is ignored. */
static void test_evict_crosses_inv(void **state)
{
	struct harness *h = two_sharers();

	access_page(h, 0, 0, false);		/* the home holds it too */
	H_OK(h, h_fault(h, 0, 0, true));	/* the home upgrades: INV to 1, 2 */
	evict_ok(h, 1, 0);
	deliver(h, 0, 1, DSM_INV);		/* stale: no ack */
	assert_int_equal(h_queued(h, 1, 0), 1);
	deliver(h, 1, 0, DSM_EVICT);
	deliver(h, 0, 2, DSM_INV);
	deliver(h, 2, 0, DSM_INV_ACK);
	pump(h);
	assert_state(h, 0, 0, DSM_EXCLUSIVE);
	assert_true(h_access(h, 0, 0, true));
	assert_true(stats(h, 1).evict_races >= 1 && stats(h, 0).evict_races >= 1);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* An eviction crossing a read forward: the NACK makes the home serve. */
static void test_evict_crosses_fwd_read(void **state)
{
	struct harness *h = setup(3, 3);

	access_page(h, 1, 0, true);		/* owner 1 */
	H_OK(h, h_fault(h, 2, 0, false));
	deliver(h, 2, 0, DSM_READ_REQ);		/* FWD_READ to 1 queued */
	evict_ok(h, 1, 0);			/* write-back */
	deliver(h, 0, 1, DSM_FWD_READ);		/* stale: NACK */
	deliver(h, 1, 0, DSM_EVICT);		/* the home holds it now */
	assert_state(h, 0, 0, DSM_SHARED);
	deliver(h, 1, 0, DSM_FWD_NACK);
	deliver(h, 0, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, false));
	pump(h);
	assert_false(dir(h, 0).busy);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* The home's own read crossing the eviction of the page's owner: the
 * EVICT's contents are the read. */
static void test_evict_crosses_home_read(void **state)
{
	struct harness *h = setup(3, 3);

	access_page(h, 1, 0, true);
	H_OK(h, h_fault(h, 0, 0, false));	/* FWD_READ to 1 queued */
	evict_ok(h, 1, 0);
	deliver(h, 0, 1, DSM_FWD_READ);
	deliver(h, 1, 0, DSM_EVICT);
	assert_true(h_access(h, 0, 0, false));
	deliver(h, 1, 0, DSM_FWD_NACK);
	pump(h);
	assert_false(dir(h, 0).busy);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* An eviction crossing a write forward: the home passes the written-back
 * contents to the writer, and the NACK ends the transaction. */
static void test_evict_crosses_fwd_write(void **state)
{
	struct harness *h = setup(3, 3);

	access_page(h, 1, 0, true);
	H_OK(h, h_fault(h, 2, 0, true));
	deliver(h, 2, 0, DSM_WRITE_REQ);	/* FWD_WRITE to 1 queued */
	evict_ok(h, 1, 0);
	deliver(h, 1, 0, DSM_EVICT);		/* DATA+EXCL to 2 from home */
	deliver(h, 0, 2, DSM_DATA);
	assert_true(h_access(h, 2, 0, true));
	assert_true(dir(h, 0).busy);
	deliver(h, 0, 1, DSM_FWD_WRITE);	/* stale: NACK */
	deliver(h, 1, 0, DSM_FWD_NACK);
	pump(h);
	assert_false(dir(h, 0).busy);
	assert_state(h, 0, 0, DSM_INVALID);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* The forward's target evicts while the home still collects INV_ACKs:
 * the home takes the contents and serves the writer itself. */
static void test_evict_before_fwd_write(void **state)
{
	struct harness *h;

	h = setup(4, 4);			/* page 0 homed on 0 */
	/* Node 1 owns, node 2 reads: node 1 is the forward target of the
	 * write node 3 asks for, node 2 the one invalidated. */
	access_page(h, 1, 0, true);
	access_page(h, 2, 0, false);		/* copyset {1, 2} */
	H_OK(h, h_fault(h, 3, 0, true));
	deliver(h, 3, 0, DSM_WRITE_REQ);	/* INV to 2, FWD later to 1 */
	assert_int_equal(h_queued(h, 0, 1), 0);
	evict_ok(h, 1, 0);
	deliver(h, 1, 0, DSM_EVICT);		/* home takes it */
	deliver(h, 0, 2, DSM_INV);
	deliver(h, 2, 0, DSM_INV_ACK);		/* DATA+EXCL 0 -> 3 */
	deliver(h, 0, 3, DSM_DATA);
	assert_true(h_access(h, 3, 0, true));
	pump(h);
	assert_false(dir(h, 0).busy);
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

/* A second eviction before the first EVICT_ACK: both are counted, and
 * the INV sent for the copy in between is stale. */
static void test_second_eviction(void **state)
{
	struct harness *h = two_sharers();	/* 1 and 2 Shared */

	evict_ok(h, 1, 0);
	deliver(h, 1, 0, DSM_EVICT);		/* home takes a copy; ACK queued */
	H_OK(h, h_fault(h, 2, 0, true));	/* upgrade: home's copy dropped */
	deliver(h, 2, 0, DSM_WRITE_REQ);
	deliver(h, 0, 2, DSM_GRANT);
	assert_int_equal(h_queued(h, 0, 1), 1);	/* the ACK, still held */
	H_OK(h, h_fault(h, 1, 0, false));
	deliver(h, 1, 0, DSM_READ_REQ);		/* FWD_READ to 2 */
	deliver(h, 0, 2, DSM_FWD_READ);
	deliver(h, 2, 1, DSM_DATA);		/* 1 holds it, ACK not back */
	assert_true(dsm_page_evicting(h->node[1], 0));
	evict_ok(h, 1, 0);			/* the second */
	pump(h);
	assert_false(dsm_page_evicting(h->node[1], 0));
	H_OK(h, h_drain(h, 1000) || h_final_check(h));
	teardown(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_zero_pages),
		cmocka_unit_test(test_read_racing_invalidation),
		cmocka_unit_test(test_upgrade_racing_invalidation),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_upgrade_while_read_in_flight),
		cmocka_unit_test(test_forward_while_ownership_moves),
		cmocka_unit_test(test_home_as_requester),
		cmocka_unit_test(test_preload),
		cmocka_unit_test(test_spurious_fault),
		cmocka_unit_test(test_fault_kinds),
		cmocka_unit_test(test_bad_messages),
		cmocka_unit_test(test_many_busy_pages),
		cmocka_unit_test(test_evict_basic),
		cmocka_unit_test(test_evict_crosses_inv),
		cmocka_unit_test(test_evict_crosses_fwd_read),
		cmocka_unit_test(test_evict_crosses_home_read),
		cmocka_unit_test(test_evict_crosses_fwd_write),
		cmocka_unit_test(test_evict_before_fwd_write),
		cmocka_unit_test(test_second_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
