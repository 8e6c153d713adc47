/* Fixture shared by the pager tests: guest RAM and a pager, a queue of
 * the faults it reports, and "guest" accesses on their own threads. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* ---- fault queue: what ops->fault enqueues ---- */

#define QLEN 65536
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fault_ev ev[QLEN];
	unsigned head, tail;
	unsigned overflow;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void on_fault(void *opaque, uint64_t page, bool write, bool wp,
		     pid_t tid)
{
	pthread_mutex_lock(&q.lock);
	if (q.tail - q.head < QLEN) {
		q.ev[q.tail++ % QLEN] = (struct fault_ev){ page, write, wp, tid };
		pthread_cond_signal(&q.cond);
	} else {
		q.overflow++;
	}
	pthread_mutex_unlock(&q.lock);
}

const struct pager_ops ops = { .fault = on_fault };

bool pop(struct fault_ev *e, int ms)
{
	struct timespec dl;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q.lock);
	while (q.head == q.tail && ok)
		ok = pthread_cond_timedwait(&q.cond, &q.lock, &dl) == 0 ||
		     q.head != q.tail;
	if (q.head != q.tail)
		*e = q.ev[q.head++ % QLEN];
	else
		ok = false;
	pthread_mutex_unlock(&q.lock);
	return ok;
}

unsigned queued(void)
{
	unsigned n;

	pthread_mutex_lock(&q.lock);
	n = q.tail - q.head;
	pthread_mutex_unlock(&q.lock);
	return n;
}

unsigned fault_overflow(void)
{
	return q.overflow;
}

/* ---- fixture ---- */

struct guest_mem mem;
struct pager *pg;

/* All accesses are joined in pager_teardown, after pager_free has
 * released any still blocked. */
#define MAX_ACCESSES 64
static struct access *accesses[MAX_ACCESSES];
static unsigned nr_accesses;

static void *access_fn(void *arg)
{
	struct access *a = arg;
	volatile uint8_t *ptr = mem.guest_view + a->page * PG + a->offset;

	atomic_store(&a->tid, gettid());
	if (a->write)
		*ptr = a->val;
	else
		a->got = *ptr;
	atomic_store(&a->done, 1);
	return NULL;
}

struct access *start_access(uint64_t page, bool write, uint8_t val)
{
	struct access *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	assert_true(nr_accesses < MAX_ACCESSES);
	a->page = page;
	a->offset = 8;
	a->write = write;
	a->val = val;
	assert_int_equal(pthread_create(&a->th, NULL, access_fn, a), 0);
	accesses[nr_accesses++] = a;
	while (!atomic_load(&a->tid))
		sched_yield();
	return a;
}

bool wait_done(struct access *a, int ms)
{
	double end = now_us() + ms * 1000.0;

	while (!atomic_load(&a->done) && now_us() < end)
		sleep_ms(1);
	return atomic_load(&a->done);
}

uint8_t touch_nofault(uint64_t page, bool write, uint8_t val)
{
	struct access *a = start_access(page, write, val);

	if (!wait_done(a, TIMEOUT_MS))
		fail_msg("access to page %lu (%s) blocked", (unsigned long)page,
			 write ? "write" : "read");
	assert_int_equal(queued(), 0);
	return a->got;
}

void expect_fault(uint64_t page, bool write, bool wp, struct access *a)
{
	struct fault_ev e;

	if (!pop(&e, TIMEOUT_MS))
		fail_msg("no fault for page %lu", (unsigned long)page);
	assert_int_equal(e.page, page);
	assert_int_equal(e.write, write);
	assert_int_equal(e.wp, wp);
	if (a)
		assert_int_equal(e.tid, atomic_load(&a->tid));
}

void expect_blocked(struct access *a)
{
	sleep_ms(30);
	assert_false(atomic_load(&a->done));
}

uint8_t hyp(uint64_t page, unsigned off)
{
	return mem.hyp_view[page * PG + off];
}

uint8_t *filled(uint8_t v)
{
	static uint8_t buf[PG];

	memset(buf, v, sizeof(buf));
	return buf;
}

int pager_setup(void **state)
{
	int err;

	assert_int_equal(guest_mem_init(&mem, MEM_SIZE), 0);
	err = pager_new(&pg, &mem, &ops, NULL);
	if (err)
		print_message("pager_new: %s (userfaultfd unavailable?)\n",
			      strerror(-err));
	assert_int_equal(err, 0);
	assert_int_equal(pager_start(pg), 0);
	q.head = q.tail = q.overflow = 0;
	nr_accesses = 0;
	return 0;
}

int pager_teardown(void **state)
{
	pager_free(pg);
	pg = NULL;
	for (unsigned i = 0; i < nr_accesses; i++) {
		pthread_join(accesses[i]->th, NULL);
		free(accesses[i]);
	}
	nr_accesses = 0;
	guest_mem_destroy(&mem);
	return 0;
}
