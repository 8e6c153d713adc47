#include "virtio/vpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/confine.h"
#include "util/log.h"
#include "virtio/vpci.h"

struct pqueue {
	pthread_mutex_t lock;	/* the ring: one consumer at a time */
	struct virtq *q;
	bool pending;		/* under the pool's lock: may have work */
};

struct vpool {
	struct vpool_config cfg;

	pthread_mutex_t plock;	/* pending, running, stop, inflight, reset_pending */
	pthread_cond_t work;
	bool running, stop;
	bool reset_pending;	/* the driver reset us with chains in flight */
	unsigned inflight;	/* workers inside a queue now */
	struct pqueue q[VPOOL_MAX_QUEUES];

	pthread_t *threads;
	unsigned nthreads;
	uint64_t broken;	/* atomic */
};

static bool served(struct vpool *p, unsigned i)
{
	return i < p->cfg.nqueues && (p->cfg.served >> i & 1);
}

/* With the pool's lock held: a queue marked pending, round robin. */
static int next_pending(struct vpool *p, unsigned *rr)
{
	unsigned nq = p->cfg.nqueues;

	if (!p->running)
		return -1;
	for (unsigned k = 0; k < nq; k++) {
		unsigned i = (*rr + k) % nq;

		if (p->q[i].pending) {
			*rr = i + 1;
			return (int)i;
		}
	}
	return -1;
}

static void mark_pending(struct vpool *p, unsigned i)
{
	pthread_mutex_lock(&p->plock);
	if (p->running) {
		p->q[i].pending = true;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->plock);
}

/* One turn on queue i: take a chain and serve it, or arm the
 * notification when the ring is empty. */
static void turn(struct vpool *p, unsigned i, struct virtq_elem *e)
{
	struct pqueue *pq = &p->q[i];
	int r;

	pthread_mutex_lock(&pq->lock);
	r = virtq_pop(pq->q, e);
	if (r == 1) {
		uint32_t written;
		bool notify;

		pthread_mutex_unlock(&pq->lock);
		/* There may be more: let another worker look. */
		mark_pending(p, i);
		written = p->cfg.serve(p->cfg.opaque, i, e);
		pthread_mutex_lock(&pq->lock);
		virtq_push(pq->q, e->head, written);
		notify = virtq_should_notify(pq->q);
		pthread_mutex_unlock(&pq->lock);
		if (notify)
			vpci_interrupt(p->cfg.vp, i);
	} else if (r == 0) {
		bool more = virtq_arm_notify(pq->q);

		pthread_mutex_unlock(&pq->lock);
		if (more)
			mark_pending(p, i);
	} else {
		const char *why = pq->q->why;

		pthread_mutex_unlock(&pq->lock);
		__atomic_add_fetch(&p->broken, 1, __ATOMIC_RELAXED);
		vpci_needs_reset(p->cfg.vp, why);
	}
}

static void *worker(void *arg)
{
	struct vpool *p = arg;
	struct virtq_elem *e;
	unsigned rr = 0;

	/* The disks' file I/O, the rng's getrandom, the console's writes. */
	confine_thread(CONFINE_DISK, 0);
	e = malloc(sizeof(*e));
	if (!e) {
		pr_err("%s: a worker has no memory for a request", p->cfg.name);
		return NULL;
	}
	pthread_mutex_lock(&p->plock);
	for (;;) {
		int i;

		while (!p->stop && (i = next_pending(p, &rr)) < 0)
			pthread_cond_wait(&p->work, &p->plock);
		if (p->stop)
			break;
		p->q[i].pending = false;
		p->inflight++;
		pthread_mutex_unlock(&p->plock);
		turn(p, (unsigned)i, e);
		pthread_mutex_lock(&p->plock);
		/* The last one out finishes a reset the driver began. */
		if (!--p->inflight && p->reset_pending) {
			p->reset_pending = false;
			pthread_mutex_unlock(&p->plock);
			vpci_reset_done(p->cfg.vp);
			pthread_mutex_lock(&p->plock);
		}
	}
	pthread_mutex_unlock(&p->plock);
	free(e);
	return NULL;
}

void vpool_start(struct vpool *p)
{
	pthread_mutex_lock(&p->plock);
	for (unsigned i = 0; i < p->cfg.nqueues; i++) {
		p->q[i].q = vpci_queue(p->cfg.vp, i);
		p->q[i].pending = served(p, i) && !p->q[i].q->broken;
	}
	p->running = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->plock);
}

void vpool_notify(struct vpool *p, unsigned i)
{
	if (served(p, i))
		mark_pending(p, i);
}

bool vpool_reset(struct vpool *p)
{
	bool done;

	pthread_mutex_lock(&p->plock);
	p->running = false;
	for (unsigned i = 0; i < p->cfg.nqueues; i++)
		p->q[i].pending = false;
	done = !p->inflight;
	p->reset_pending = !done;
	pthread_mutex_unlock(&p->plock);
	return done;
}

uint64_t vpool_broken(struct vpool *p)
{
	return __atomic_load_n(&p->broken, __ATOMIC_RELAXED);
}

int vpool_new(const struct vpool_config *cfg, struct vpool **out)
{
	struct vpool *p;
	int r = 0;

	if (!cfg->nqueues || cfg->nqueues > VPOOL_MAX_QUEUES || !cfg->nthreads ||
	    cfg->nthreads > 64 || !cfg->serve)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	pthread_mutex_init(&p->plock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (unsigned i = 0; i < VPOOL_MAX_QUEUES; i++)
		pthread_mutex_init(&p->q[i].lock, NULL);
	p->threads = calloc(cfg->nthreads, sizeof(*p->threads));
	if (!p->threads) {
		r = -ENOMEM;
		goto fail;
	}
	for (; p->nthreads < cfg->nthreads; p->nthreads++) {
		r = -pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (r)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	vpool_free(p);
	return r;
}

void vpool_free(struct vpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->plock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->plock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	for (unsigned i = 0; i < VPOOL_MAX_QUEUES; i++)
		pthread_mutex_destroy(&p->q[i].lock);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->plock);
	free(p);
}
