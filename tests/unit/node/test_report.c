/* The report every node sends node 0 (node/report.h): what goes out comes
 * back the same, and every way a peer can get it wrong is refused with
 * its own reason, before anything in it is used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/report.h"
#include "vmm/vcpu.h"

static const struct report_limits lim = {
	.from = 2, .nr_nodes = 3, .nr_vcpus = 4, .guest_pages = 16384,
};

static struct node_report sample(void)
{
	struct node_report r;

	memset(&r, 0, sizeof(r));
	r.node = 2;
	r.seq = 7;
	r.resident_pages = 100;
	r.fault_count = 50;
	r.fault_wait_ns = 5000000;
	r.cpus_milli = 2000;
	r.load_known = true;
	r.load_milli = 1500;
	r.nr_counters = report_counter_slots();
	for (unsigned i = 0; i < r.nr_counters; i++)
		r.counters[i] = 10 + i;
	r.nr_vcpus = 2;
	r.v[0] = (struct report_vcpu){ 1, VCPU_AWAY, false, 30, 1000 };
	r.v[1] = (struct report_vcpu){ 3, VCPU_HALTED, true, 40, 2000 };
	r.nr_peers = 2;
	r.p[0] = (struct report_peer){ 0, 5, 6 };
	r.p[1] = (struct report_peer){ 1, 7, 8 };
	return r;
}

static uint8_t buf[NET_REPORT_MAX];

/* Field by field: the structs' padding is not the codec's. */
static void assert_same(const struct node_report *a, const struct node_report *b)
{
	assert_int_equal(a->node, b->node);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->resident_pages, b->resident_pages);
	assert_int_equal(a->fault_count, b->fault_count);
	assert_int_equal(a->fault_wait_ns, b->fault_wait_ns);
	assert_int_equal(a->cpus_milli, b->cpus_milli);
	assert_int_equal(a->load_known, b->load_known);
	assert_int_equal(a->load_milli, b->load_milli);
	assert_int_equal(a->nr_counters, b->nr_counters);
	assert_memory_equal(a->counters, b->counters, sizeof(a->counters));
	assert_int_equal(a->nr_vcpus, b->nr_vcpus);
	for (unsigned i = 0; i < a->nr_vcpus; i++) {
		assert_int_equal(a->v[i].vcpu, b->v[i].vcpu);
		assert_int_equal(a->v[i].state, b->v[i].state);
		assert_int_equal(a->v[i].here, b->v[i].here);
		assert_int_equal(a->v[i].exits, b->v[i].exits);
		assert_int_equal(a->v[i].wait_ns, b->v[i].wait_ns);
	}
	assert_int_equal(a->nr_peers, b->nr_peers);
	for (unsigned i = 0; i < a->nr_peers; i++) {
		assert_int_equal(a->p[i].node, b->p[i].node);
		assert_int_equal(a->p[i].sent, b->p[i].sent);
		assert_int_equal(a->p[i].received, b->p[i].received);
	}
}

static size_t encode(const struct node_report *r)
{
	memset(buf, 0, sizeof(buf));
	return report_to_wire(r, buf, sizeof(buf));
}

/* The reason a payload is refused for, or -1 if it is taken. */
static int refused(size_t len, const struct node_report *prev)
{
	struct node_report out;
	enum report_reject why = REPORT_REJ_NR;

	if (report_from_wire(buf, len, &lim, prev, &out, &why) == 0)
		return -1;
	assert_true(why < REPORT_REJ_NR);
	return (int)why;
}

static void test_round_trip(void **state)
{
	struct node_report r = sample(), out;
	enum report_reject why;
	size_t len = encode(&r);

	assert_int_equal(len, sizeof(struct net_report) + 2 * sizeof(struct net_report_vcpu) +
			 2 * sizeof(struct net_report_peer));
	assert_int_equal(report_from_wire(buf, len, &lim, NULL, &out, &why), 0);
	assert_same(&r, &out);
	/* The next one, with everything grown, is taken after it. */
	r.seq++;
	r.fault_count++;
	r.v[1].exits++;
	r.p[0].sent++;
	len = encode(&r);
	assert_int_equal(report_from_wire(buf, len, &lim, &out, &out, &why), 0);
	assert_int_equal(out.v[1].exits, 41);
	/* Without a load measured, none travels. */
	r.load_known = false;
	r.load_milli = 999;
	len = encode(&r);
	assert_int_equal(report_from_wire(buf, len, &lim, NULL, &out, &why), 0);
	assert_false(out.load_known);
	assert_int_equal(out.load_milli, 0);
}

static void test_header_refusals(void **state)
{
	struct node_report r = sample(), prev = sample();
	size_t len = encode(&r);
	struct net_report *h = (struct net_report *)buf;

	assert_int_equal(refused(len, NULL), -1);
	assert_int_equal(refused(10, NULL), REPORT_REJ_LENGTH);
	assert_int_equal(refused(len - 1, NULL), REPORT_REJ_LENGTH);
	h->nr_vcpus = 3;	/* says more than it carries */
	assert_int_equal(refused(len, NULL), REPORT_REJ_LENGTH);
	encode(&r);
	h->version = NET_REPORT_VERSION + 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_VERSION);
	encode(&r);
	h->node = 1;		/* not the link's */
	assert_int_equal(refused(len, NULL), REPORT_REJ_SENDER);
	r.node = 0;
	encode(&r);
	assert_int_equal(refused(len, NULL), REPORT_REJ_SENDER);
	r = sample();
	encode(&r);
	assert_int_equal(refused(len, &prev), REPORT_REJ_STALE);	/* the same seq again */
	h->reserved[1] = 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->reserved2 = 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->flags = 2;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->flags = 0;		/* a load it says it did not measure */
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->nr_counters = (uint8_t)(report_counter_slots() + 1);
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->nr_counters = 1;	/* the slots past it must be zero */
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	h->resident_pages = lim.guest_pages + 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_RANGE);
	encode(&r);
	h->cpus_milli = REPORT_CPUS_MAX_MILLI + 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_RANGE);
	encode(&r);
	h->load_milli = lim.nr_vcpus * 1000 + 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_RANGE);
}

static void test_entry_refusals(void **state)
{
	struct node_report r = sample();
	size_t len = encode(&r);
	struct net_report_vcpu *v = (struct net_report_vcpu *)(buf + sizeof(struct net_report));
	struct net_report_peer *p = (struct net_report_peer *)(v + 2);

	v[0].state = VCPU_PAUSED + 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	v[1].here = 2;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	v[1].reserved[4] = 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	encode(&r);
	v[1].vcpu = 4;		/* the guest has 4 */
	assert_int_equal(refused(len, NULL), REPORT_REJ_VCPU);
	encode(&r);
	v[1].vcpu = 1;		/* twice */
	assert_int_equal(refused(len, NULL), REPORT_REJ_VCPU);
	encode(&r);
	p[0].node = 3;		/* the cluster has 3 */
	assert_int_equal(refused(len, NULL), REPORT_REJ_PEER);
	encode(&r);
	p[1].node = 2;		/* the sender itself */
	assert_int_equal(refused(len, NULL), REPORT_REJ_PEER);
	encode(&r);
	p[1].node = 0;		/* out of order */
	assert_int_equal(refused(len, NULL), REPORT_REJ_PEER);
	encode(&r);
	p[0].reserved[0] = 1;
	assert_int_equal(refused(len, NULL), REPORT_REJ_FIELD);
	/* More entries than the cluster or the guest has. */
	r.nr_vcpus = 5;
	for (unsigned i = 0; i < 5; i++)
		r.v[i] = (struct report_vcpu){ i, VCPU_RUNNING, false, 0, 0 };
	len = encode(&r);
	assert_int_equal(refused(len, NULL), REPORT_REJ_VCPU);
	r = sample();
	r.nr_peers = 3;
	r.p[2] = (struct report_peer){ 2, 0, 0 };
	len = encode(&r);
	assert_int_equal(refused(len, NULL), REPORT_REJ_PEER);
}

/* Counters only grow: a report that says less than the last is refused,
 * whichever counter it is. */
static void test_backwards(void **state)
{
	struct node_report prev = sample(), r;

	prev.seq = 1;
	r = sample();
	r.fault_wait_ns--;
	assert_int_equal(refused(encode(&r), &prev), REPORT_REJ_BACKWARDS);
	r = sample();
	r.counters[5]--;
	assert_int_equal(refused(encode(&r), &prev), REPORT_REJ_BACKWARDS);
	r = sample();
	r.v[0].wait_ns--;
	assert_int_equal(refused(encode(&r), &prev), REPORT_REJ_BACKWARDS);
	r = sample();
	r.p[1].received--;
	assert_int_equal(refused(encode(&r), &prev), REPORT_REJ_BACKWARDS);
	/* A vCPU the last report did not list may start anywhere. */
	r = sample();
	prev.nr_vcpus = 1;
	r.v[1].exits = 0;
	assert_int_equal(refused(encode(&r), &prev), -1);
}

static void test_bounds_and_names(void **state)
{
	struct node_report r = sample();

	r.nr_vcpus = NET_REPORT_VCPUS + 1;
	assert_int_equal(report_to_wire(&r, buf, sizeof(buf)), 0);
	r = sample();
	assert_int_equal(report_to_wire(&r, buf, sizeof(struct net_report)), 0);
	assert_true(report_counter_slots() > 0 && report_counter_slots() <= NET_REPORT_COUNTERS);
	for (unsigned i = 0; i < report_counter_slots(); i++) {
		assert_non_null(report_counter_name(i));
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(report_counter_name(i), report_counter_name(k));
	}
	assert_null(report_counter_name(report_counter_slots()));
	for (unsigned i = 0; i < REPORT_REJ_NR; i++)
		assert_string_not_equal(report_reject_name(i), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_entry_refusals),
		cmocka_unit_test(test_backwards),
		cmocka_unit_test(test_bounds_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
