/* Other nodes' device accesses served off the receive thread
 * (src/cpu/ioserve.h): a device that blocks does not block the queueing
 * side; accesses are served in the order they came, EOIs queued before an
 * access before it; one slot per vCPU (a second access refused), EOIs of
 * one vector merged; a stop serves what was queued and refuses the rest. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/ioserve.h"

#define LOG_MAX 64

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_open;		/* the device blocks until this is set */
	bool in_device;		/* the serving thread is inside the device */
	/* What was served, in order: vCPU id, or 1000 + vector for an EOI. */
	unsigned log[LOG_MAX], n;
	unsigned from[LOG_MAX];
};

static void io(void *opaque, unsigned from, const struct net_io_req *q)
{
	struct fake *f = opaque;

	pthread_mutex_lock(&f->lock);
	f->in_device = true;
	pthread_cond_broadcast(&f->cond);
	while (!f->gate_open)
		pthread_cond_wait(&f->cond, &f->lock);
	if (f->n < LOG_MAX) {
		f->from[f->n] = from;
		f->log[f->n++] = q->vcpu;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void eoi(void *opaque, uint8_t vector)
{
	struct fake *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (f->n < LOG_MAX)
		f->log[f->n++] = 1000 + vector;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static const struct ioserve_ops ops = { .io = io, .eoi = eoi };

static struct net_io_req req(unsigned vcpu)
{
	struct net_io_req q;

	memset(&q, 0, sizeof(q));
	q.vcpu = vcpu;
	q.len = 1;
	return q;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
}

/* Wait (bounded by the test's timeout) until pred holds. */
static void wait_until(struct fake *f, bool (*pred)(struct fake *, unsigned), unsigned arg)
{
	pthread_mutex_lock(&f->lock);
	while (!pred(f, arg))
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static bool entered(struct fake *f, unsigned arg)
{
	(void)arg;
	return f->in_device;
}

static bool served(struct fake *f, unsigned count)
{
	return f->n >= count;
}

static void open_gate(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->gate_open = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void test_slow_device_does_not_block_the_queue(void **state)
{
	struct fake f;
	struct ioserve *s;
	struct net_io_req q;

	(void)state;
	fake_init(&f);
	assert_int_equal(ioserve_new(&s, 4, &ops, &f), 0);
	q = req(0);
	assert_int_equal(ioserve_io(s, 1, &q), 0);
	wait_until(&f, entered, 0);
	/* The device is stuck in vCPU 0's access: queueing goes on. */
	q = req(3);
	assert_int_equal(ioserve_io(s, 2, &q), 0);
	/* vCPU 3's access is still queued: a second one is the peer's fault. */
	assert_int_equal(ioserve_io(s, 2, &q), -EBUSY);
	ioserve_eoi(s, 0x30);
	ioserve_eoi(s, 0x30);
	ioserve_eoi(s, 0x31);
	q = req(1);
	assert_int_equal(ioserve_io(s, 1, &q), 0);
	q = req(2);
	assert_int_equal(ioserve_io(s, 2, &q), 0);
	q = req(4);
	assert_int_equal(ioserve_io(s, 1, &q), -EINVAL);
	/* vCPU 0's left the queue as the device took it: 3 wait. */
	assert_int_equal(ioserve_peak(s), 3);
	open_gate(&f);
	wait_until(&f, served, 6);
	/* vCPU 0 first (it was in the device), then the EOIs queued before
	 * the next access (0x30 once), then the accesses in arrival order. */
	assert_int_equal(f.n, 6);
	assert_int_equal(f.log[0], 0);
	assert_int_equal(f.log[1], 1000 + 0x30);
	assert_int_equal(f.log[2], 1000 + 0x31);
	assert_int_equal(f.log[3], 3);
	assert_int_equal(f.from[3], 2);
	assert_int_equal(f.log[4], 1);
	assert_int_equal(f.log[5], 2);
	/* Served, its slot is free again. */
	q = req(3);
	assert_int_equal(ioserve_io(s, 2, &q), 0);
	wait_until(&f, served, 7);
	assert_int_equal(f.log[6], 3);
	ioserve_free(s);
}

static void test_stop_serves_what_was_queued(void **state)
{
	struct fake f;
	struct ioserve *s;
	struct net_io_req q;

	(void)state;
	fake_init(&f);
	assert_int_equal(ioserve_new(&s, 2, &ops, &f), 0);
	q = req(0);
	assert_int_equal(ioserve_io(s, 0, &q), 0);
	wait_until(&f, entered, 0);
	q = req(1);
	assert_int_equal(ioserve_io(s, 0, &q), 0);
	open_gate(&f);
	ioserve_stop(s);
	assert_int_equal(f.n, 2);
	assert_int_equal(ioserve_io(s, 0, &q), -ESHUTDOWN);
	ioserve_eoi(s, 0x40);
	ioserve_stop(s);
	assert_int_equal(f.n, 2);
	ioserve_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_device_does_not_block_the_queue),
		cmocka_unit_test(test_stop_serves_what_was_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
