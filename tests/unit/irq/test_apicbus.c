/* Unit tests for the APIC bus with real lapics: who receives what. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "irq/apicbus.h"
#include "irq/lapic.h"

#define N 4

static struct apicbus *bus;
static struct lapic *cpu[N];
static int kicks[N];

static void op_kick(void *o)
{
	__atomic_fetch_add(&kicks[(intptr_t)o], 1, __ATOMIC_RELAXED);
}
static void op_send(void *o, const struct apic_msg *m) { apicbus_send(bus, m); }

static const struct lapic_ops ops = { .kick = op_kick, .send = op_send };

static int setup(void **state)
{
	bus = apicbus_new(N + 1);	/* slot N stays empty: a remote vCPU */
	memset(kicks, 0, sizeof(kicks));
	for (int i = 0; i < N; i++) {
		/* No .index: attaching binds it. */
		struct lapic_config cfg = { .apic_id = i, .bsp = i == 0 };
		uint32_t svr = 0x1ff, ldr = (1u << i) << 24;

		cpu[i] = lapic_new(&cfg, &ops, (void *)(intptr_t)i);
		lapic_mmio(cpu[i], 0xf0, &svr, 4, true);
		lapic_mmio(cpu[i], 0xd0, &ldr, 4, true);	/* flat */
		assert_int_equal(apicbus_attach(bus, i, cpu[i]), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < N; i++)
		lapic_free(cpu[i]);
	apicbus_free(bus);
	return 0;
}

static uint32_t irr_word(int i, unsigned vector)
{
	uint32_t v;

	lapic_mmio(cpu[i], 0x200 + (vector / 32) * 0x10, &v, 4, false);
	return v;
}

static bool has(int i, unsigned vector)
{
	return irr_word(i, vector) >> (vector % 32) & 1;
}

static void test_attach_bounds(void **state)
{
	assert_int_equal(apicbus_attach(bus, N + 1, cpu[0]), -EINVAL);
}

static void test_physical_and_broadcast(void **state)
{
	struct apic_msg m = { .dest = 2, .vector = 0x40, .source = -1 };

	assert_int_equal(apicbus_send(bus, &m), 1);
	assert_true(has(2, 0x40));
	assert_false(has(1, 0x40));
	assert_int_equal(kicks[2], 1);
	m.dest = 9;
	assert_int_equal(apicbus_send(bus, &m), 0);
	m.dest = 0xff;
	m.vector = 0x41;
	assert_int_equal(apicbus_send(bus, &m), N);
}

static void test_logical_multicast(void **state)
{
	struct apic_msg m = { .dest = 0x0a, .dest_logical = 1, .vector = 0x50,
			      .source = -1 };

	assert_int_equal(apicbus_send(bus, &m), 2);
	assert_true(has(1, 0x50) && has(3, 0x50));
	assert_false(has(0, 0x50) || has(2, 0x50));
}

static void test_lowest_priority(void **state)
{
	struct apic_msg m = { .dest = 0x0e, .dest_logical = 1, .vector = 0x60,
			      .delivery = APIC_DM_LOWEST, .source = -1 };
	uint32_t tpr = 0x80;
	int hits[N] = { 0 };

	/* cpu1 and cpu3 busy: cpu2 has the lowest priority. */
	lapic_mmio(cpu[1], 0x80, &tpr, 4, true);
	lapic_mmio(cpu[3], 0x80, &tpr, 4, true);
	assert_int_equal(apicbus_send(bus, &m), 1);
	assert_true(has(2, 0x60));
	assert_false(has(1, 0x60) || has(3, 0x60));
	/* Equal priorities share the load. */
	tpr = 0;
	lapic_mmio(cpu[1], 0x80, &tpr, 4, true);
	lapic_mmio(cpu[3], 0x80, &tpr, 4, true);
	for (int k = 0; k < 30; k++) {
		int before[N];
		for (int i = 0; i < N; i++)
			before[i] = kicks[i];
		assert_int_equal(apicbus_send(bus, &m), 1);
		for (int i = 0; i < N; i++)
			hits[i] += kicks[i] - before[i];
	}
	assert_int_equal(hits[0], 0);
	assert_true(hits[1] > 0 && hits[2] > 0 && hits[3] > 0);
}

static void test_ipi_through_icr(void **state)
{
	uint32_t hi = 0, lo = 0x000c0070;	/* all excluding self */

	lapic_mmio(cpu[1], 0x310, &hi, 4, true);
	lapic_mmio(cpu[1], 0x300, &lo, 4, true);
	assert_true(has(0, 0x70) && has(2, 0x70) && has(3, 0x70));
	assert_false(has(1, 0x70));
	lo = 0x00040071;			/* self */
	lapic_mmio(cpu[1], 0x300, &lo, 4, true);
	assert_true(has(1, 0x71));
	assert_false(has(0, 0x71));
	/* INIT then SIPI to cpu 3 by physical destination. */
	struct lapic_events ev;
	hi = 3u << 24;
	lapic_mmio(cpu[0], 0x310, &hi, 4, true);
	lo = 0x00004500;
	lapic_mmio(cpu[0], 0x300, &lo, 4, true);
	lo = 0x00004608;
	lapic_mmio(cpu[0], 0x300, &lo, 4, true);
	lapic_poll(cpu[3], 0, &ev);
	assert_int_equal(ev.flags, LAPIC_EV_INIT | LAPIC_EV_SIPI);
	assert_int_equal(ev.sipi_vector, 0x08);
	lapic_poll(cpu[2], 0, &ev);
	assert_int_equal(ev.flags, 0);
}

/* Senders on other threads race the owner's ack and EOI: every message
 * must land. Each sender waits until its previous interrupt was handled,
 * so the IRR never legitimately merges two of its messages. */
#define ROUNDS 3000
static unsigned handled[256];

struct sender { uint8_t vector; };

static void *send_loop(void *arg)
{
	struct sender *s = arg;
	struct apic_msg m = { .dest = 0, .vector = s->vector, .source = 1 };

	for (unsigned i = 0; i < ROUNDS; i++) {
		while (__atomic_load_n(&handled[s->vector], __ATOMIC_ACQUIRE) < i)
			sched_yield();
		apicbus_send(bus, &m);
	}
	return NULL;
}

static void test_concurrent_delivery(void **state)
{
	struct sender s[2] = { { 0x41 }, { 0x92 } };
	pthread_t t[2];
	unsigned total = 0;
	uint32_t eoi = 0;

	memset(handled, 0, sizeof(handled));
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, send_loop, &s[i]);
	while (total < 2 * ROUNDS) {
		int v = lapic_get_interrupt(cpu[0]);
		if (v < 0) {
			sched_yield();
			continue;
		}
		lapic_ack(cpu[0], v);
		lapic_mmio(cpu[0], 0xb0, &eoi, 4, true);
		__atomic_fetch_add(&handled[v], 1, __ATOMIC_RELEASE);
		total++;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(handled[0x41], ROUNDS);
	assert_int_equal(handled[0x92], ROUNDS);
	assert_int_equal(lapic_get_interrupt(cpu[0]), -1);
	struct lapic_stats st;
	lapic_stats(cpu[0], &st);
	assert_int_equal(st.irqs_accepted, 2 * ROUNDS);
	assert_int_equal(st.eois, 2 * ROUNDS);
}

static int fwd_target = -2, fwd_count;

static uint64_t fwd_covers;

static uint64_t on_forward(void *o, const struct apic_msg *m, int target)
{
	fwd_target = target;
	fwd_count++;
	return target < 0 ? fwd_covers : 1ULL << target;
}

/* Slot N is a vCPU on another node whose APIC id (from x86/topo.h) is not
 * its index: a physical destination naming that id leaves the node for
 * vCPU N, and the id N itself (now nobody's) goes nowhere. */
static void test_remote_by_apic_id(void **state)
{
	struct apic_msg m = { .dest = 8, .vector = 0x70, .source = -1 };

	apicbus_set_forward(bus, on_forward, NULL);
	assert_int_equal(apicbus_set_remote(bus, N, true), 0);
	assert_int_equal(apicbus_set_apic_id(bus, N, 8), 0);
	assert_int_equal(apicbus_set_apic_id(bus, N, 255), -EINVAL);
	fwd_count = 0;
	assert_int_equal(apicbus_send(bus, &m), 1);
	assert_int_equal(fwd_count, 1);
	assert_int_equal(fwd_target, N);
	m.dest = N;
	assert_int_equal(apicbus_send(bus, &m), 0);
	assert_int_equal(fwd_count, 1);
	for (int i = 0; i < N; i++)
		assert_false(has(i, 0x70));
}

/* A vCPU that leaves: its lapic refuses deliveries from the moment its
 * state is copied out, and the bus sends what it refused after it; a
 * broadcast reaches every vCPU once, here or through the forwarder. */
static void test_departed_reroutes(void **state)
{
	struct apic_msg m = { .dest = 1, .vector = 0x71, .source = -1 };
	struct lapic_state st;

	apicbus_set_forward(bus, on_forward, NULL);
	fwd_count = 0;
	fwd_covers = 0;
	lapic_depart(cpu[1], 0, &st);
	assert_int_equal(apicbus_send(bus, &m), 1);
	assert_int_equal(fwd_count, 1);
	assert_int_equal(fwd_target, 1);
	assert_false(has(1, 0x71));

	/* Physical broadcast: vCPU 2 is covered by the forwarder (it runs
	 * elsewhere as far as the forwarder knows), vCPU 1 has left: both
	 * must not get it here; vCPU 1 gets its own targeted forward. */
	m.dest = 0xff;
	m.vector = 0x72;
	fwd_count = 0;
	fwd_covers = 1ULL << 2;
	assert_int_equal(apicbus_set_remote(bus, 2, true), 0);
	apicbus_send(bus, &m);
	assert_int_equal(fwd_count, 2);		/* the broadcast, vCPU 1 */
	assert_int_equal(fwd_target, 1);
	assert_true(has(0, 0x72));
	assert_false(has(1, 0x72));
	assert_false(has(2, 0x72));

	/* Back: the state comes home, with what it held. */
	st.irr[0x71 / 32] |= 1u << (0x71 % 32);
	lapic_arrive(cpu[1], 0, &st);
	assert_true(has(1, 0x71));
	m.dest = 1;
	m.vector = 0x73;
	fwd_count = 0;
	apicbus_send(bus, &m);
	assert_int_equal(fwd_count, 0);
	assert_true(has(1, 0x73));
}

/* Lowest priority to a logical set whose members all run on other nodes
 * (vCPUs 2 and 3, on two different ones): exactly one message, targeted
 * at one of them, by the routing registers this node's copies hold; none
 * broadcast. A set with a member here goes to it, with no message. */
static void test_lowest_across_nodes(void **state)
{
	struct apic_msg m = { .dest = 0xc, .dest_logical = 1, .vector = 0x74,
			      .delivery = APIC_DM_LOWEST, .source = -1 };
	struct lapic_route r;
	int got[N] = { 0 };

	apicbus_set_forward(bus, on_forward, NULL);
	fwd_covers = 0;
	for (int i = 2; i < N; i++) {
		struct lapic_state st;

		lapic_depart(cpu[i], 0, &st);
		assert_int_equal(apicbus_set_remote(bus, i, true), 0);
	}
	/* Where vCPU 3 runs now, its guest moved its LDR to bit 4; node 2's
	 * notice reached this copy. */
	lapic_route_get(cpu[3], &r);
	r.ldr = 0x10u << 24;
	lapic_route_set(cpu[3], &r);
	fwd_count = 0;
	for (int k = 0; k < 8; k++) {
		fwd_target = -2;
		assert_int_equal(apicbus_send(bus, &m), 1);
		assert_true(fwd_target == 2);	/* bit 3 is nobody's now */
		got[fwd_target]++;
	}
	assert_int_equal(fwd_count, 8);
	m.dest = 0x14;				/* vCPUs 2 and 3, as they are */
	fwd_count = 0;
	memset(got, 0, sizeof(got));
	for (int k = 0; k < 8; k++) {
		assert_int_equal(apicbus_send(bus, &m), 1);
		assert_true(fwd_target == 2 || fwd_target == 3);
		got[fwd_target]++;
	}
	assert_int_equal(fwd_count, 8);
	assert_true(got[2] && got[3]);		/* in turn */
	m.dest = 0x16;				/* and vCPU 1, here */
	fwd_count = 0;
	assert_int_equal(apicbus_send(bus, &m), 1);
	assert_int_equal(fwd_count, 0);
	assert_true(has(1, 0x74));
	/* A software-disabled taker here ranks below an enabled one
	 * elsewhere. */
	{
		uint32_t svr = 0xff;

		lapic_mmio(cpu[1], 0xf0, &svr, 4, true);
		m.dest = 0x06;
		m.vector = 0x75;
		for (int k = 0; k < 4; k++) {
			assert_int_equal(apicbus_send(bus, &m), 1);
			assert_int_equal(fwd_target, 2);
		}
		assert_int_equal(fwd_count, 4);
		assert_false(has(1, 0x75));
	}
	/* Nobody's, as far as this node's copies say (one may not be current
	 * yet): every node is asked to match against its own. */
	m.dest = 0x20;
	fwd_count = 0;
	apicbus_send(bus, &m);
	assert_int_equal(fwd_count, 1);
	assert_int_equal(fwd_target, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_attach_bounds),
		T(test_physical_and_broadcast),
		T(test_logical_multicast),
		T(test_lowest_priority),
		T(test_ipi_through_icr),
		T(test_concurrent_delivery),
		T(test_remote_by_apic_id),
		T(test_departed_reroutes),
		T(test_lowest_across_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
