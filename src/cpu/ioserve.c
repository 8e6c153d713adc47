/* Forwarded device accesses served on a thread of their own (ioserve.h).
 *
 * Locking: s->lock guards the slots, the ring of vCPUs waiting, the EOI
 * set and the stop flag. The serving thread copies what it takes out
 * under the lock and serves it with the lock dropped, so the receive
 * thread never waits for a device. */
#include "cpu/ioserve.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/confine.h"

struct slot {
	bool busy;
	unsigned from;
	struct net_io_req q;
};

struct ioserve {
	struct ioserve_ops ops;
	void *opaque;
	unsigned nr_vcpus;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, joined;
	pthread_t thread;

	struct slot *slots;	/* one per vCPU */
	unsigned *ring;		/* vCPUs with a slot taken, oldest first */
	unsigned head, count, peak;
	uint64_t eoi[4];	/* vectors with an EOI pending */
};

static void *serve(void *arg)
{
	struct ioserve *s = arg;

	confine_thread(CONFINE_IOSERVE, 0);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t eoi[4];
		struct slot one;
		bool have_io = false, have_eoi = false;

		while (!s->stopping && !s->count && !(s->eoi[0] | s->eoi[1] | s->eoi[2] | s->eoi[3]))
			pthread_cond_wait(&s->cond, &s->lock);
		/* EOIs queued before the access go first; the access is copied
		 * out and its slot freed (its vCPU sends no other until the
		 * reply). */
		memcpy(eoi, s->eoi, sizeof(eoi));
		memset(s->eoi, 0, sizeof(s->eoi));
		have_eoi = eoi[0] | eoi[1] | eoi[2] | eoi[3];
		if (s->count) {
			unsigned v = s->ring[s->head];

			one = s->slots[v];
			s->slots[v].busy = false;
			s->head = (s->head + 1) % s->nr_vcpus;
			s->count--;
			have_io = true;
		}
		if (!have_io && !have_eoi && s->stopping)
			break;
		pthread_mutex_unlock(&s->lock);
		for (unsigned v = 0; have_eoi && v < 256; v++)
			if (eoi[v / 64] & (1ull << (v % 64)))
				s->ops.eoi(s->opaque, (uint8_t)v);
		if (have_io)
			s->ops.io(s->opaque, one.from, &one.q);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int ioserve_new(struct ioserve **out, unsigned nr_vcpus, const struct ioserve_ops *ops,
		void *opaque)
{
	struct ioserve *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s || !nr_vcpus)
		goto fail;
	s->ops = *ops;
	s->opaque = opaque;
	s->nr_vcpus = nr_vcpus;
	s->slots = calloc(nr_vcpus, sizeof(*s->slots));
	s->ring = calloc(nr_vcpus, sizeof(*s->ring));
	if (!s->slots || !s->ring)
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	err = -pthread_create(&s->thread, NULL, serve, s);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		goto fail;
	}
	*out = s;
	return 0;

fail:
	if (s) {
		free(s->slots);
		free(s->ring);
	}
	free(s);
	return nr_vcpus ? err : -EINVAL;
}

void ioserve_stop(struct ioserve *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!s->joined) {
		pthread_join(s->thread, NULL);
		s->joined = true;
	}
}

void ioserve_free(struct ioserve *s)
{
	if (!s)
		return;
	ioserve_stop(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->slots);
	free(s->ring);
	free(s);
}

int ioserve_io(struct ioserve *s, unsigned from, const struct net_io_req *q)
{
	int err = 0;

	if (q->vcpu >= s->nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		err = -ESHUTDOWN;
	} else if (s->slots[q->vcpu].busy) {
		err = -EBUSY;
	} else {
		s->slots[q->vcpu] = (struct slot){ .busy = true, .from = from, .q = *q };
		s->ring[(s->head + s->count) % s->nr_vcpus] = q->vcpu;
		if (++s->count > s->peak)
			s->peak = s->count;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

void ioserve_eoi(struct ioserve *s, uint8_t vector)
{
	pthread_mutex_lock(&s->lock);
	if (!s->stopping) {
		s->eoi[vector / 64] |= 1ull << (vector % 64);
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

unsigned ioserve_peak(struct ioserve *s)
{
	unsigned p;

	pthread_mutex_lock(&s->lock);
	p = s->peak;
	pthread_mutex_unlock(&s->lock);
	return p;
}
