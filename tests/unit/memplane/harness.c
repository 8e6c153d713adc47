/* The in-process cluster of the memory plane tests; see harness.h. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/wire.h"

struct tnode nodes[MAX_NODES];
unsigned nr_nodes;
struct dsm_layout layout;
atomic_bool abort_all;

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

/* ---- the network: one FIFO and thread per ordered pair ---- */

struct frame {
	struct frame *next;
	size_t len;
	uint8_t buf[];
};

struct link {
	unsigned from, to;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct frame *head, **tail;
	bool stop, paused, running;
	pthread_t th;
};

static struct link links[MAX_NODES][MAX_NODES];
static atomic_uint rx_errors;

static void *link_main(void *arg)
{
	struct link *l = arg;
	struct net_msg msg;
	struct frame *f;
	int ret;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->stop && (!l->head || l->paused))
			pthread_cond_wait(&l->cond, &l->lock);
		if (l->stop)
			break;
		f = l->head;
		l->head = f->next;
		if (!l->head)
			l->tail = &l->head;
		pthread_mutex_unlock(&l->lock);
		ret = wire_decode(f->buf, f->len, &msg, NULL);
		if (ret == 0)
			ret = memplane_receive(nodes[l->to].mp, l->from, &msg);
		if (ret && ret != -ESHUTDOWN) {
			print_message("link %u->%u: %s\n", l->from, l->to,
				      strerror(-ret));
			atomic_fetch_add(&rx_errors, 1);
		}
		free(f);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static int net_send(void *opaque, unsigned to, const struct net_msg *msg)
{
	struct tnode *n = opaque;
	struct link *l;
	size_t size = wire_frame_size(msg);
	struct frame *f;
	ssize_t len;

	if (to >= nr_nodes || to == n->id || !size)
		return -EINVAL;
	if (atomic_load(&n->fail_sends))
		return -EPIPE;
	f = malloc(sizeof(*f) + size);
	if (!f)
		return -ENOMEM;
	len = wire_encode(msg, f->buf, size);
	if (len < 0) {
		free(f);
		return (int)len;
	}
	f->len = (size_t)len;
	f->next = NULL;
	l = &links[n->id][to];
	pthread_mutex_lock(&l->lock);
	*l->tail = f;
	l->tail = &f->next;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static void net_fatal(void *opaque, const char *why)
{
	struct tnode *n = opaque;

	snprintf(n->why, sizeof(n->why), "%s", why);
	atomic_fetch_add(&n->fatal, 1);
}

static unsigned worker_tag(pid_t tid);

/* A remote fault's page gets the tag of the worker that faulted (its
 * node's fault_tag when it was spawned), as a node tags it with its
 * vCPU. */
static unsigned net_remote_fault(void *opaque, pid_t tid, uint64_t page, unsigned from,
				 bool repeat, bool fresh, uint64_t wait_ns)
{
	return worker_tag(tid);
}

static const struct memplane_ops ops = {
	.send = net_send,
	.fatal = net_fatal,
	.remote_fault = net_remote_fault,
};

void link_pause(unsigned from, unsigned to, bool paused)
{
	struct link *l = &links[from][to];

	pthread_mutex_lock(&l->lock);
	l->paused = paused;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

unsigned link_errors(void)
{
	return atomic_load(&rx_errors);
}

/* ---- workers ---- */

#define MAX_WORKERS 32
static struct worker *workers[MAX_WORKERS];
static atomic_uint nr_workers;	/* entries below it are set */

static unsigned worker_tag(pid_t tid)
{
	unsigned n = atomic_load(&nr_workers);

	for (unsigned i = 0; i < n; i++)
		if (atomic_load(&workers[i]->tid) == tid)
			return workers[i]->tag;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	atomic_store(&w->tid, (int)gettid());
	w->fn(w);
	atomic_store(&w->done, 1);
	return NULL;
}

struct worker *spawn(unsigned node, work_fn fn, uint64_t a, uint64_t b,
		     uint64_t c)
{
	struct worker *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	assert_true(nr_workers < MAX_WORKERS);
	w->node = node;
	w->fn = fn;
	w->a = a;
	w->b = b;
	w->c = c;
	w->tag = atomic_load(&nodes[node].fault_tag);
	workers[atomic_load(&nr_workers)] = w;
	atomic_fetch_add(&nr_workers, 1);
	assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
	return w;
}

void worker_fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	atomic_store(&w->failed, 1);
}

void join(struct worker *w, int ms)
{
	double end = now_us() + ms * 1000.0;

	while (!atomic_load(&w->done) && now_us() < end)
		sleep_ms(1);
	if (!atomic_load(&w->done))
		fail_msg("worker on node %u still running after %d ms",
			 w->node, ms);
	if (atomic_load(&w->failed))
		fail_msg("worker on node %u: %s", w->node, w->msg);
}

/* ---- cluster ---- */

uint64_t home_page(unsigned node, uint64_t idx)
{
	uint64_t first = node ? layout.end[node - 1] : 0;

	assert_true(first + idx < layout.end[node]);
	return first + idx;
}

volatile uint8_t *gview(unsigned node, uint64_t page)
{
	return nodes[node].mem.guest_view + page * PG;
}

uint8_t *hview(unsigned node, uint64_t page)
{
	return nodes[node].mem.hyp_view + page * PG;
}

void cluster_create(unsigned n)
{
	assert_true(n >= 1 && n <= MAX_NODES);
	nr_nodes = 0;
	nr_workers = 0;
	atomic_store(&abort_all, false);
	atomic_store(&rx_errors, 0);
	assert_int_equal(dsm_layout_even(&layout, n, NR_PAGES), 0);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			struct link *l = &links[i][j];

			memset(l, 0, sizeof(*l));
			l->from = i;
			l->to = j;
			l->tail = &l->head;
			pthread_mutex_init(&l->lock, NULL);
			pthread_cond_init(&l->cond, NULL);
		}
	/* nr_nodes counts what the teardown must undo. */
	for (unsigned i = 0; i < n; i++) {
		struct tnode *t = &nodes[i];

		memset(t, 0, sizeof(*t));
		t->id = i;
		t->mem.fd = -1;
		nr_nodes = i + 1;
		assert_int_equal(guest_mem_init(&t->mem, MEM_SIZE), 0);
		assert_int_equal(memplane_new(&t->mp, &t->mem, i, &layout,
					      &ops, t), 0);
		/* The tests count single faults; test_read_ahead turns it on. */
		memplane_set_readahead(t->mp, 0);
	}
}

void cluster_start_links(void)
{
	for (unsigned i = 0; i < nr_nodes; i++)
		for (unsigned j = 0; j < nr_nodes; j++) {
			if (i == j)
				continue;
			assert_int_equal(pthread_create(&links[i][j].th, NULL,
							link_main,
							&links[i][j]), 0);
			links[i][j].running = true;
		}
}

void node_start(unsigned node)
{
	int err = memplane_start(nodes[node].mp);

	if (err)
		print_message("memplane_start: %s (userfaultfd unavailable?)\n",
			      strerror(-err));
	assert_int_equal(err, 0);
}

void cluster_start(void)
{
	cluster_start_links();
	for (unsigned i = 0; i < nr_nodes; i++)
		node_start(i);
}

void cluster_check(void)
{
	for (unsigned i = 0; i < nr_nodes; i++)
		if (atomic_load(&nodes[i].fatal))
			fail_msg("node %u reported a fatal error: %s", i,
				 nodes[i].why);
	if (link_errors())
		fail_msg("%u messages refused by a receiver", link_errors());
}

int cluster_teardown(void **state)
{
	if (!nr_nodes)
		return 0;
	atomic_store(&abort_all, true);
	for (unsigned i = 0; i < nr_nodes; i++)
		memplane_stop(nodes[i].mp);
	/* Released workers see abort_all (or plain memory) and leave. */
	for (unsigned i = 0; i < nr_workers; i++) {
		double end = now_us() + JOIN_MS * 1000.0;

		while (!atomic_load(&workers[i]->done) && now_us() < end)
			sleep_ms(1);
		if (atomic_load(&workers[i]->done))
			pthread_join(workers[i]->th, NULL);
		else
			print_message("worker %u did not finish\n", i);
		free(workers[i]);
	}
	nr_workers = 0;
	for (unsigned i = 0; i < nr_nodes; i++)
		for (unsigned j = 0; j < nr_nodes; j++) {
			struct link *l = &links[i][j];
			struct frame *f, *next;

			pthread_mutex_lock(&l->lock);
			l->stop = true;
			pthread_cond_signal(&l->cond);
			pthread_mutex_unlock(&l->lock);
			if (l->running)
				pthread_join(l->th, NULL);
			for (f = l->head; f; f = next) {
				next = f->next;
				free(f);
			}
			pthread_mutex_destroy(&l->lock);
			pthread_cond_destroy(&l->cond);
		}
	for (unsigned i = 0; i < nr_nodes; i++) {
		memplane_free(nodes[i].mp);
		guest_mem_destroy(&nodes[i].mem);
	}
	nr_nodes = 0;
	return 0;
}
