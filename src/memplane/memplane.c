/* The memory plane of one node at run time: carrying out the protocol's
 * actions, guest faults, the sender thread and the life cycle. Contract,
 * wire encoding and threading are in memplane.h; messages in and the
 * starvation window in receive.c, statistics in stats.c, the pending
 * faults in faults.c; the protocol itself is in src/dsm/, the userfaultfd
 * mechanism in pager.c. */
#include "memplane/memplane_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memplane/pager.h"
#include "net/wire.h"
#include "util/confine.h"
#include "util/log.h"
#include "hw/mem.h"

/* A fatal error. Called with the lock held, or on the sender thread. The
 * first one is reported through ops->fatal by the sender thread (or by
 * memplane_stop), never under the lock: the node's handler may well send
 * on the network. */
void memplane__fail(struct memplane *mp, const char *what, uint64_t page, int err)
{
	char why[sizeof(mp->why)];

	snprintf(why, sizeof(why), "memory plane: %s (page %#llx): %s", what,
		 (unsigned long long)page, strerror(err < 0 ? -err : err));
	if (atomic_exchange(&mp->failed, true)) {
		pr_debug("%s", why);
		return;
	}
	pr_err("%s", why);
	memcpy(mp->why, why, sizeof(why));
	atomic_store(&mp->fatal_due, true);
	pthread_cond_signal(&mp->cond);
}

/* Sender thread or control thread, without the lock. */
static void report_fatal(struct memplane *mp)
{
	if (atomic_exchange(&mp->fatal_due, false))
		mp->ops.fatal(mp->opaque, mp->why);
}

/* ---- outbound ---- */

/* The SEND action: the page is read here, at the action's place in the
 * list, while this node still holds it (dsm.h: an owner handing over
 * emits WRITE_PROTECT, SEND, INVALIDATE); or, src DSM_SRC_MSG, taken
 * from the message being received (a write-back the home passes on). */
static struct outmsg *make_out(struct memplane *mp, const struct dsm_msg *m,
			       unsigned src, const void *rx)
{
	bool data = m->flags & DSM_F_DATA;
	struct outmsg *o = malloc(sizeof(*o) + (data ? PG : 0));

	if (!o)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->to = m->to;
	o->msg.type = NET_MSG_DSM;
	o->msg.u.dsm = (struct net_dsm){
		.op = m->type,
		.flags = m->flags,
		.src = m->requester,
		.gfn = m->page,
		.version = m->version,
		.node = mp->self,
	};
	if (data && src == DSM_SRC_MSG && !rx) {
		free(o);
		return NULL;	/* the machine never does this */
	}
	if (data) {
		memcpy(o->page, src == DSM_SRC_MSG ? rx :
		       mp->mem->hyp_view + m->page * PG, PG);
		o->msg.data = o->page;
		o->msg.data_len = PG;
	}
	return o;
}

/* ---- carrying out actions (lock held) ---- */

static int map(struct memplane *mp, const struct dsm_action *a,
	       const void *data)
{
	bool writable = a->type == DSM_ACT_MAP_WRITABLE;
	int err;

	switch (a->src) {
	case DSM_SRC_MSG:
		if (!data)
			return -EPROTO;	/* the machine never does this */
		return pager_install(mp->pager, a->page, data, writable);
	case DSM_SRC_ZERO:
		return pager_install(mp->pager, a->page, NULL, writable);
	case DSM_SRC_LOCAL:
		if (writable)
			return pager_upgrade(mp->pager, a->page);
		err = pager_downgrade(mp->pager, a->page);
		return err ? err : pager_wake(mp->pager, a->page);
	}
	return -EINVAL;
}

/* A page was mapped or woken (from: the node that sent it or the grant,
 * -1 none): close the fault that waited for it, if any (its latency), and
 * for a remote one tell who waited and how long. */
static void fault_resolved(struct memplane *mp, uint64_t page, int from, bool fresh,
			   uint64_t now)
{
	struct fault_entry e;

	if (!faults_done(&mp->faults, page, now, &e))
		return;
	if (!e.remote) {
		if (fresh && from < 0 && mp->ops.local_fresh)
			mp->ops.local_fresh(mp->opaque, e.tid);
		return;
	}
	if (from >= 0 && mp->ops.remote_fault) {
		unsigned tag = mp->ops.remote_fault(mp->opaque, e.tid, page, (unsigned)from,
						    e.repeat, fresh,
						    now > e.t_ns ? now - e.t_ns : 0);

		mp->taker[page] = tag < MEMPLANE_TAGS ? (uint8_t)tag : 0;
	}
}

/* Carry out the actions of the last dsm call, in order; data: contents
 * of the message being received, if it had any, and from: its sender (-1
 * for a local fault). The list's messages join the outbound FIFO at the
 * end, all together. */
void memplane__run_actions(struct memplane *mp, const void *data, int from)
{
	struct outmsg *head = NULL, **tail = &head;
	uint64_t woken = UINT64_MAX, len = 0;
	const struct dsm_action *act;
	size_t n;

	act = dsm_actions(mp->dsm, &n);
	for (size_t i = 0; i < n; i++) {
		const struct dsm_action *a = &act[i];
		struct recent *r = recent_of(mp, a->page);
		struct outmsg *o;
		uint64_t t;
		int err = 0;

		switch (a->type) {
		case DSM_ACT_SEND:
			o = make_out(mp, &a->msg, a->src, data);
			if (!o) {
				err = -ENOMEM;
				break;
			}
			*tail = o;
			tail = &o->next;
			len++;
			break;
		case DSM_ACT_MAP_READONLY:
		case DSM_ACT_MAP_WRITABLE:
			err = map(mp, a, data);
			if (a->src == DSM_SRC_LOCAL)
				cache_touch(&mp->cache, a->page);
			else
				cache_add(&mp->cache, a->page);
			if (!dsm_page_pending(mp->dsm, a->page))
				cache_release(&mp->cache, a->page);
			/* Installs and upgrades wake the page's waiters. */
			woken = a->page;
			t = now_ns();
			*r = (struct recent){ page_key(a->page), t };
			fault_resolved(mp, a->page, from, a->src == DSM_SRC_ZERO, t);
			break;
		case DSM_ACT_WRITE_PROTECT:
			err = pager_downgrade(mp->pager, a->page);
			break;
		case DSM_ACT_INVALIDATE:
			err = pager_invalidate(mp->pager, a->page);
			cache_drop(&mp->cache, a->page);
			mp->taker[a->page] = 0;	/* gone: nobody's any more */
			if (r->key == page_key(a->page))
				r->key = 0;
			if (woken == a->page)
				woken = UINT64_MAX;
			break;
		case DSM_ACT_FAULT_DONE:
			if (woken != a->page)
				err = pager_wake(mp->pager, a->page);
			if (!dsm_page_pending(mp->dsm, a->page))
				cache_release(&mp->cache, a->page);
			fault_resolved(mp, a->page, from, false, now_ns());
			break;
		default:
			err = -EINVAL;
		}
		if (err)
			memplane__fail(mp, dsm_action_name(a->type), a->page, err);
	}
	dsm_actions_clear(mp->dsm);
	if (!head)
		return;
	*mp->out_tail = head;
	mp->out_tail = tail;
	mp->out_len += len;
	if (mp->out_len > GET(mp, out_queue_max))
		atomic_store_explicit(&mp->c.out_queue_max, mp->out_len,
				      memory_order_relaxed);
	/* The sender thread only when nobody can drain inline right now. */
	if (mp->draining)
		pthread_cond_signal(&mp->cond);
}

static void send_batch(struct memplane *mp, struct outmsg *o);

/* Take the whole outbound queue and send it with the lock dropped; only
 * one thread at a time (mp->draining), so batches leave in queue order.
 * Called and returns with the lock held. */
static void send_queue(struct memplane *mp)
{
	struct outmsg *batch = mp->out_head;

	mp->out_head = NULL;
	mp->out_tail = &mp->out_head;
	mp->out_len = 0;
	mp->draining = true;
	pthread_mutex_unlock(&mp->lock);
	send_batch(mp, batch);
	pthread_mutex_lock(&mp->lock);
	mp->draining = false;
}

/* Send what the actions just queued from the calling thread (the pager's
 * fault thread or the transport's receive thread) instead of waking the
 * sender thread: two thread hand-offs fewer on every remote fault. Only
 * one thread drains at a time and batches leave in queue order, so the
 * per-page and per-pair order the protocol needs is kept; the sender
 * thread takes over whatever is queued while another drains. Called and
 * returns with the lock held. */
void memplane__drain_inline(struct memplane *mp)
{
	while (mp->out_head && !mp->draining && !atomic_load(&mp->stopping))
		send_queue(mp);
	if (mp->out_head)
		pthread_cond_signal(&mp->cond);
}

/* ---- the budget (lock held) ---- */

static bool victim_busy(void *arg, uint64_t page)
{
	struct memplane *mp = arg;

	return page == mp->room_for || dsm_page_pending(mp->dsm, page);
}

/* Evict by the clock until held + reserved + extra fit the limit. Each
 * eviction's actions (WRITE_PROTECT, SEND(EVICT), INVALIDATE) are carried
 * out at once: the INVALIDATE punches the page out of the memfd, so the
 * memory is free before the new copy comes, and the guest's next access
 * to the evicted page faults MISSING again. Called where no other dsm
 * call's actions are waiting to be carried out. */
static void trim(struct memplane *mp, uint64_t extra)
{
	struct cache *c = &mp->cache;

	while (c->limit != UINT64_MAX && c->held + c->reserved + extra > c->limit) {
		int64_t v = cache_victim(c, victim_busy, mp);
		int err;

		if (v < 0) {
			/* Asking ahead never overflows: ask_for gives up. */
			if (mp->speculating)
				return;
			/* Every cached page has a request in flight: the copy
			 * comes anyway; counted, and the next request trims. */
			INC(mp, over_budget, 1);
			c->over++;
			return;
		}
		err = dsm_evict(mp->dsm, (uint64_t)v);
		if (err == -ENOENT) {
			cache_drop(c, (uint64_t)v);	/* not held after all */
			continue;
		}
		if (err) {
			cache_add(c, (uint64_t)v);	/* back on the clock */
			memplane__fail(mp, "evicting", (uint64_t)v, err);
			return;
		}
		memplane__run_actions(mp, NULL, -1);
	}
}

/* Give back what the asked-for tags took (memplane_give_back): up to
 * MEMPLANE_GIVE_BATCH copies and a bounded scan per call, on the sender
 * thread, under the lock. Each is evicted as trim() evicts, so the
 * protocol sees nothing new: an EVICT to the home, the page punched out
 * here. */
#define GIVE_SCAN 16384
#define GIVE_PAUSE_NS 1000000ull
static void give_some(struct memplane *mp)
{
	unsigned given = 0, scanned = 0;

	for (unsigned tag = 1; tag < MEMPLANE_TAGS && mp->nr_giving && !atomic_load(&mp->failed);
	     tag++) {
		struct give_back *g = &mp->give[tag];

		for (; g->next < g->end && given < MEMPLANE_GIVE_BATCH && scanned < GIVE_SCAN;
		     g->next++, scanned++) {
			uint64_t page = g->next;
			int err;

			if (mp->taker[page] != tag || !cache_held(&mp->cache, page) ||
			    victim_busy(mp, page))
				continue;
			err = dsm_evict(mp->dsm, page);
			if (err == -ENOENT) {
				cache_drop(&mp->cache, page);	/* not held after all */
				continue;
			}
			if (err == -EBUSY)
				continue;
			if (err) {
				memplane__fail(mp, "giving back", page, err);
				break;
			}
			memplane__run_actions(mp, NULL, -1);
			given++;
		}
		if (g->next >= g->end && g->end) {
			g->next = g->end = 0;
			mp->nr_giving--;
		}
	}
	INC(mp, given_back, given);
}

void memplane_give_back(struct memplane *mp, unsigned tag, int home)
{
	struct give_back *g;

	if (!tag || tag >= MEMPLANE_TAGS || home >= (int)mp->nr_nodes)
		return;
	pthread_mutex_lock(&mp->lock);
	g = &mp->give[tag];
	if (!atomic_load(&mp->stopping) && mp->started && !atomic_load(&mp->failed)) {
		bool was = g->next < g->end;
		uint64_t first = home >= 0 ? dsm_range_first(&mp->layout, (unsigned)home) : 0;
		uint64_t end = home >= 0 ? mp->layout.end[home] : 0;

		/* Its own range is never cached here (trim: a home never
		 * evicts its own); an empty range has nothing. */
		if (home == (int)mp->self || first >= end)
			first = end = 0;
		g->next = first;
		g->end = end;
		mp->nr_giving += (first < end) - was;
		if (first < end)
			pthread_cond_signal(&mp->cond);
	}
	pthread_mutex_unlock(&mp->lock);
}

/* A fault on page that will send a request (a miss, or an upgrade,
 * which may turn into a miss if an invalidation overtakes it) needs room
 * for one more copy. */
static void make_room(struct memplane *mp, uint64_t page, bool write)
{
	enum dsm_state st;

	if (!cache_counts(&mp->cache, page) || dsm_page_pending(mp->dsm, page))
		return;
	st = dsm_page_state(mp->dsm, page);
	if (st == DSM_INVALID || (st == DSM_SHARED && write)) {
		mp->room_for = page;	/* an upgrade's own copy stays */
		trim(mp, 1);
		mp->room_for = UINT64_MAX;
	}
}

/* ---- faults (pager thread) ---- */

/* A fault on a page the protocol says is accessible: normally a fault
 * message read after the page was resolved, but make sure the local copy
 * really is what the protocol says, or the vCPU would fault for ever: a
 * hole becomes a zero page (its contents), a writable copy loses a stale
 * write protection. */
static void repair(struct memplane *mp, uint64_t page, bool wp)
{
	enum dsm_state st = dsm_page_state(mp->dsm, page);
	int err = 0, res;

	if (wp) {
		if (st == DSM_EXCLUSIVE)
			err = pager_upgrade(mp->pager, page);
	} else {
		res = pager_resident(mp->pager, page);
		if (res == 0) {
			pr_warn("memory plane: page %#llx held %s but absent; "
				"mapping zeros", (unsigned long long)page,
				st == DSM_EXCLUSIVE ? "Exclusive" : "Shared");
			err = pager_populate_local(mp->pager, page,
						   st == DSM_EXCLUSIVE);
		} else if (res < 0) {
			err = res;
		}
	}
	if (err)
		memplane__fail(mp, "repairing a held page", page, err);
}

/* Is page held here as an access for write (or reading) needs, or asked
 * for already? Then a device's access will not wait, or waits for that
 * request. Under the lock. */
static bool held_or_asked(struct memplane *mp, uint64_t page, bool write)
{
	enum dsm_state st = dsm_page_state(mp->dsm, page);

	return st == DSM_EXCLUSIVE || (st == DSM_SHARED && !write) ||
	       dsm_page_pending(mp->dsm, page);
}

/* Ask for page the way a fault would, less the waiting thread: room
 * first, then the request; an access later faults and joins it
 * (DSM_FAULT_JOINED), or finds the page in. Under the lock; the caller
 * sends the queue. A guess must never cost the budget: no request when
 * an eighth of the cache is already reserved by requests in flight, or
 * when no copy could be evicted to make room (a fault would then
 * overflow; a guess gives up). 1 asked (a message went), 0 nothing to
 * ask (held already, or asked for), -1 stop asking (the budget, or the
 * protocol out of memory). */
static int ask_for(struct memplane *mp, uint64_t page, bool write)
{
	struct cache *c = &mp->cache;
	enum dsm_fault_kind kind = DSM_FAULT_KINDS;
	bool sent = false;
	const struct dsm_action *act;
	size_t n;

	if (held_or_asked(mp, page, write))
		return 0;
	if (c->limit != UINT64_MAX && c->reserved >= c->limit / 8)
		return -1;
	mp->speculating = true;
	make_room(mp, page, write);
	mp->speculating = false;
	if (cache_counts(c, page) && c->limit != UINT64_MAX && c->held + c->reserved + 1 > c->limit)
		return -1;
	if (dsm_fault(mp->dsm, page, write, &kind))
		return -1;
	if (kind < (enum dsm_fault_kind)MEMPLANE_LAT_KINDS && dsm_page_pending(mp->dsm, page))
		cache_reserve(c, page);
	act = dsm_actions(mp->dsm, &n);
	for (size_t i = 0; i < n && !sent; i++)
		sent = act[i].type == DSM_ACT_SEND;
	memplane__run_actions(mp, NULL, -1);
	return sent;
}

/* Read-ahead. A thread that faults on the pages of another node's range
 * in order (a scan of a set larger than this node's budget, a sort's
 * pass, a copy) would otherwise wait one round trip a page: after two
 * sequential faults the next mp->readahead pages are asked for at once, for
 * reading or writing as the fault was, and again as the thread's faults
 * reach the end of what was asked. "Sequential" allows for the pages
 * that came ahead and did not fault: the next fault lands past them.
 * Only pages this node caches (never its own range: asking there would
 * only fill the memfd with zero pages the guest may never touch). Why
 * per thread: two vCPUs scanning at once must not break each other's
 * runs. Only after a fault that sent a request of its own (not one
 * that joined a request asked ahead, or a device's faults would read on
 * past its chain). Under the lock, on the fault thread, once the
 * fault's own request has been sent. */
static void read_ahead(struct memplane *mp, uint64_t page, bool write, pid_t tid)
{
	struct stream *s = &mp->streams[(unsigned)tid % READAHEAD_STREAMS];
	uint64_t from, to;
	unsigned window;

	if (s->tid == tid && page > s->last && page <= (s->asked_to > s->last + 1 ?
							 s->asked_to : s->last + 1))
		s->run++;
	else
		*s = (struct stream){ .tid = tid };
	s->last = page;
	/* At most a quarter of the cache ahead: the window must not evict
	 * what the thread is still using. */
	window = mp->readahead;
	if (mp->cache.limit != UINT64_MAX && window > mp->cache.limit / 4)
		window = (unsigned)(mp->cache.limit / 4);
	if (s->run < 2 || !window)
		return;
	from = page + 1 > s->asked_to ? page + 1 : s->asked_to;
	to = page + 1 + window;
	/* Ask again only when the thread is halfway through the window. */
	if (from > page + window / 2)
		return;
	for (uint64_t p = from; p < to; p++) {
		int r;

		if (p >= mp->nr_pages || !cache_counts(&mp->cache, p))
			break;
		r = ask_for(mp, p, write);
		if (r < 0)
			break;
		INC(mp, read_ahead, (uint64_t)r);
	}
	s->asked_to = to;
}

static void on_fault(void *opaque, uint64_t page, bool write, bool wp,
		     pid_t tid)
{
	struct memplane *mp = opaque;
	enum dsm_fault_kind kind = DSM_FAULT_KINDS;
	const struct dsm_action *act;
	uint64_t t = now_ns();
	bool remote = false;
	int err;
	size_t n;

	INC(mp, faults, 1);
	pthread_mutex_lock(&mp->lock);
	if (atomic_load(&mp->stopping))
		goto out;	/* pager_free will release the thread */
	/* Room for the copy this fault may ask for, before asking: it
	 * arrives on the receive thread, where nothing can wait. */
	cache_touch(&mp->cache, page);
	make_room(mp, page, write);
	err = dsm_fault(mp->dsm, page, write, &kind);
	if (!err && kind < (enum dsm_fault_kind)MEMPLANE_LAT_KINDS &&
	    dsm_page_pending(mp->dsm, page))
		cache_reserve(&mp->cache, page);
	if (err) {
		memplane__fail(mp, "protocol fault", page, err);
	} else {
		struct fault_entry e = { .t_ns = t, .tid = tid, .kind = (uint8_t)kind };

		if (kind < (enum dsm_fault_kind)MEMPLANE_LAT_KINDS) {
			act = dsm_actions(mp->dsm, &n);
			for (size_t i = 0; i < n && !e.remote; i++)
				e.remote = act[i].type == DSM_ACT_SEND;
			remote = e.remote;
			if (e.remote) {
				e.repeat = hotpages_add(&mp->hot, page) >= MEMPLANE_REPEAT;
				hotpages_add(&mp->window, page);
				INC(mp, remote_faults, 1);
			} else
				INC(mp, local_resolved, 1);
		} else if (kind == DSM_FAULT_SPURIOUS) {
			repair(mp, page, wp);
		}
		/* Before the actions: they may resolve it at once. */
		faults_start(&mp->faults, page, &e);
	}
	memplane__run_actions(mp, NULL, -1);
	/* The fault's own request leaves first, then the guesses. */
	memplane__drain_inline(mp);
	if (!err && remote && !atomic_load(&mp->stopping) && cache_counts(&mp->cache, page)) {
		read_ahead(mp, page, write, tid);
		memplane__drain_inline(mp);
	}
out:
	pthread_mutex_unlock(&mp->lock);
}

void memplane_prefetch(struct memplane *mp, uint64_t first, uint64_t count, bool write)
{
	bool queued = false;

	if (count > MEMPLANE_PREFETCH_MAX)
		count = MEMPLANE_PREFETCH_MAX;
	pthread_mutex_lock(&mp->lock);
	if (atomic_load(&mp->stopping) || !mp->started) {
		pthread_mutex_unlock(&mp->lock);
		return;
	}
	for (uint64_t page = first; page < first + count && page < mp->nr_pages; page++) {
		if (held_or_asked(mp, page, write))
			continue;
		if (mp->nr_ahead == PREFETCH_QUEUE)
			break;
		mp->ahead[mp->nr_ahead++] = (struct prefetch){ page, write };
		queued = true;
	}
	if (queued)
		pthread_cond_signal(&mp->cond);
	pthread_mutex_unlock(&mp->lock);
}

/* On the sender thread, under the lock: request what devices asked for
 * ahead, as a fault would less the waiting thread: room first, then the
 * request; the device's own access faults later and joins it
 * (DSM_FAULT_JOINED), or finds the page in. The messages leave together
 * (the caller sends the queue), so the device waits about one round trip
 * for all of them. */
static void ask_ahead(struct memplane *mp)
{
	uint64_t asked = 0;

	for (unsigned i = 0; i < mp->nr_ahead; i++) {
		uint64_t page = mp->ahead[i].page;
		int r = ask_for(mp, page, mp->ahead[i].write);

		/* The budget or -ENOMEM: the device's faults ask. */
		if (r < 0)
			break;
		asked += (uint64_t)r;
	}
	mp->nr_ahead = 0;
	INC(mp, prefetched, asked);
}

static void on_pager_error(void *opaque, int err)
{
	struct memplane *mp = opaque;

	pthread_mutex_lock(&mp->lock);
	memplane__fail(mp, "userfaultfd thread died", 0, err);
	pthread_mutex_unlock(&mp->lock);
}

static const struct pager_ops pager_ops = {
	.fault = on_fault,
	.error = on_pager_error,
};

/* ---- sender thread ---- */


static void wait_until(struct memplane *mp, uint64_t deadline)
{
	struct timespec ts;

	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&mp->cond, &mp->lock);
		return;
	}
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	pthread_cond_timedwait(&mp->cond, &mp->lock, &ts);
}

static void send_batch(struct memplane *mp, struct outmsg *o)
{
	struct outmsg *next;
	int err;

	for (; o; o = next) {
		next = o->next;
		if (!atomic_load(&mp->stopping)) {
			err = mp->ops.send(mp->opaque, o->to, &o->msg);
			if (err) {
				INC(mp, send_errors, 1);
				memplane__fail(mp, "send", o->msg.u.dsm.gfn, err);
			} else {
				INC(mp, msgs_sent, 1);
				INC(mp, bytes_sent, sizeof(struct net_dsm) +
				    o->msg.data_len);
				if (o->msg.data_len)
					INC(mp, pages_sent, 1);
			}
		}
		free(o);
	}
}

static void *sender_main(void *arg)
{
	struct memplane *mp = arg;

	confine_thread(CONFINE_MEMSEND, 0);
	pthread_mutex_lock(&mp->lock);
	while (!atomic_load(&mp->stopping)) {
		uint64_t next = UINT64_MAX;

		if (atomic_load(&mp->fatal_due)) {
			pthread_mutex_unlock(&mp->lock);
			report_fatal(mp);
			pthread_mutex_lock(&mp->lock);
			continue;
		}
		if (mp->held_head)
			next = memplane__release(mp, now_ns(), false);
		if (mp->nr_ahead)
			ask_ahead(mp);
		/* A batch, then a millisecond for the faults and messages
		 * that wait for the lock (a batch holds it while it copies
		 * and punches its pages). */
		if (mp->nr_giving && !mp->out_head && now_ns() >= mp->give_due) {
			give_some(mp);
			mp->give_due = now_ns() + GIVE_PAUSE_NS;
		}
		if (!mp->out_head || mp->draining) {
			if (mp->nr_giving && mp->give_due < next)
				next = mp->give_due;
			wait_until(mp, mp->draining && next == UINT64_MAX ?
				   now_ns() + 1000000 : next);
			continue;
		}
		send_queue(mp);
	}
	pthread_mutex_unlock(&mp->lock);
	return NULL;
}

/* ---- life cycle ---- */

int memplane_new(struct memplane **out, struct guest_mem *mem, unsigned self,
		 const struct dsm_layout *layout,
		 const struct memplane_ops *ops, void *opaque)
{
	struct memplane *mp;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!mem || !layout || !ops || !ops->send || !ops->fatal ||
	    dsm_layout_check(layout) || self >= layout->nr_nodes ||
	    layout->nr_nodes > NET_MAX_NODES ||
	    dsm_layout_pages(layout) != mem->size / PG)
		return -EINVAL;
	mp = calloc(1, sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	err = dsm_node_new(&mp->dsm, self, layout);
	if (!err)
		err = cache_init(&mp->cache, mem->size / PG,
				 dsm_range_first(layout, self),
				 layout->end[self], UINT64_MAX);
	if (!err) {
		mp->taker = calloc(mem->size / PG ? mem->size / PG : 1, 1);
		if (!mp->taker) {
			cache_free(&mp->cache);
			err = -ENOMEM;
		}
	}
	if (err) {
		dsm_node_free(mp->dsm);
		free(mp);
		return err;
	}
	mp->mem = mem;
	mp->layout = *layout;
	mp->self = self;
	mp->nr_nodes = layout->nr_nodes;
	mp->nr_pages = mem->size / PG;
	mp->home_pages = layout->end[self] - dsm_range_first(layout, self);
	mp->ops = *ops;
	mp->opaque = opaque;
	mp->hold_ns = MEMPLANE_HOLD_NS;
	mp->readahead = MEMPLANE_READAHEAD;
	mp->room_for = UINT64_MAX;
	mp->out_tail = &mp->out_head;
	mp->held_tail = &mp->held_head;
	pthread_mutex_init(&mp->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mp->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = mp;
	return 0;
}

int memplane_preload(struct memplane *mp, uint64_t first, uint64_t count,
		     unsigned owner)
{
	struct range *r;
	int err = 0;

	pthread_mutex_lock(&mp->lock);
	if (mp->started || mp->stopped) {
		err = -EBUSY;
	} else if (owner == mp->self && count) {
		r = realloc(mp->own, (mp->nr_own + 1) * sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		mp->own = r;
		err = dsm_preload(mp->dsm, first, count, owner);
		if (!err)
			mp->own[mp->nr_own++] = (struct range){ first, count };
	} else {
		err = dsm_preload(mp->dsm, first, count, owner);
	}
out:
	pthread_mutex_unlock(&mp->lock);
	return err;
}

int memplane_set_cache(struct memplane *mp, uint64_t pages)
{
	int err = 0;

	if (pages < MEMPLANE_CACHE_MIN)
		return -EINVAL;
	pthread_mutex_lock(&mp->lock);
	if (mp->started || mp->stopped)
		err = -EBUSY;
	else
		mp->cache.limit = pages;
	pthread_mutex_unlock(&mp->lock);
	return err;
}

void memplane_set_hold_ns(struct memplane *mp, uint64_t ns)
{
	pthread_mutex_lock(&mp->lock);
	mp->hold_ns = ns;
	pthread_mutex_unlock(&mp->lock);
}

void memplane_set_readahead(struct memplane *mp, unsigned pages)
{
	pthread_mutex_lock(&mp->lock);
	mp->readahead = pages < MEMPLANE_READAHEAD_MAX ? pages : MEMPLANE_READAHEAD_MAX;
	pthread_mutex_unlock(&mp->lock);
}

/* Make the memfd match the protocol: every page with contents that this
 * node does not hold is punched out (a loader's output on another node,
 * stale data), and the preloaded pages it owns become writable local
 * copies (holes among them zero pages: a hole would fault for ever). */
static int prepare_memory(struct memplane *mp, struct pager *p)
{
	int64_t pg;
	int err;

	for (pg = pager_next_resident(p, 0); pg >= 0;
	     pg = pager_next_resident(p, (uint64_t)pg + 1)) {
		if (dsm_page_state(mp->dsm, (uint64_t)pg) != DSM_INVALID)
			continue;
		err = pager_invalidate(p, (uint64_t)pg);
		if (err)
			return err;
	}
	if (pg != -ENXIO)
		return (int)pg;
	for (size_t i = 0; i < mp->nr_own; i++) {
		err = pager_populate_local_range(p, mp->own[i].first,
						 mp->own[i].count, true);
		if (err)
			return err;
		/* What the loader put in other nodes' ranges is cached here. */
		for (uint64_t k = 0; k < mp->own[i].count; k++)
			cache_add(&mp->cache, mp->own[i].first + k);
	}
	return 0;
}

int memplane_start(struct memplane *mp)
{
	sigset_t all, old;
	struct pager *p;
	int err;

	if (mp->started || mp->stopped)
		return -EBUSY;
	err = pager_new(&p, mp->mem, &pager_ops, mp);
	if (err)
		return err;
	pthread_mutex_lock(&mp->lock);
	err = prepare_memory(mp, p);
	if (!err) {
		mp->pager = p;
		mp->started = true;
		/* A boot image larger than the cache: the excess goes home
		 * now (sent once the sender thread runs). */
		trim(mp, 0);
	}
	pthread_mutex_unlock(&mp->lock);
	if (err) {
		pr_err("memory plane: preparing guest memory: %s",
		       strerror(-err));
		pager_free(p);
		return err;
	}
	/* Signals (vCPU kicks, the node's own) are for other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&mp->sender, NULL, sender_main, mp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto undo;
	mp->sender_running = true;
	/* It names itself "mem-send" as it confines itself (util/confine.h):
	 * a name set from here would race with that one. */
	err = pager_start(p);
	if (err)
		goto undo;
	pr_debug("memory plane: node %u started, %llu pages, window %llu ns",
		 mp->self, (unsigned long long)mp->nr_pages,
		 (unsigned long long)mp->hold_ns);
	return 0;
undo:
	pr_err("memory plane: start: %s", strerror(-err));
	memplane_stop(mp);
	return err;
}

void memplane_stop(struct memplane *mp)
{
	struct outmsg *o, *on;
	struct held *h, *hn;
	struct pager *p;

	if (mp->stopped)
		return;
	pthread_mutex_lock(&mp->lock);
	/* From here on no thread calls the pager or the protocol. */
	atomic_store(&mp->stopping, true);
	p = mp->pager;
	pthread_cond_broadcast(&mp->cond);
	pthread_mutex_unlock(&mp->lock);
	if (p) {
		pager_stop(p);
		pthread_mutex_lock(&mp->lock);
		mp->pager = NULL;
		pthread_mutex_unlock(&mp->lock);
		/* Unregistering releases every thread blocked on a fault. */
		pager_free(p);
	}
	if (mp->sender_running) {
		pthread_join(mp->sender, NULL);
		mp->sender_running = false;
	}
	report_fatal(mp);	/* if the sender thread had no time to */
	pthread_mutex_lock(&mp->lock);
	for (o = mp->out_head; o; o = on) {
		on = o->next;
		free(o);
	}
	mp->out_head = NULL;
	mp->out_tail = &mp->out_head;
	for (h = mp->held_head; h; h = hn) {
		hn = h->next;
		free(h);
	}
	mp->held_head = NULL;
	mp->held_tail = &mp->held_head;
	mp->nr_held = 0;
	pthread_mutex_unlock(&mp->lock);
	mp->stopped = true;
}

void memplane_free(struct memplane *mp)
{
	if (!mp)
		return;
	memplane_stop(mp);
	dsm_node_free(mp->dsm);
	cache_free(&mp->cache);
	free(mp->taker);
	free(mp->own);
	pthread_cond_destroy(&mp->cond);
	pthread_mutex_destroy(&mp->lock);
	free(mp);
}
