/* The memory plane of one node at run time. Contract, wire encoding and
 * threading are in memplane.h; the protocol itself is in dir.c and node.c,
 * the userfaultfd mechanism in pager.c. */
#include "memplane/memplane.h"
#include "memplane/faultlat.h"
#include "memplane/hotpages.h"

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
#include "util/log.h"
#include "hw/mem.h"

#define PG DSM_PAGE_SIZE
/* Pages mapped lately, for the starvation window: direct-mapped, a
 * collision only forgets a page early (it then leaves sooner). */
#define RECENT_SLOTS 1024
/* Remote requests in flight, for the latency by kind: bounded by the
 * threads that can fault; a sample that finds no slot is not taken. */
/* Held messages after start; past this, all are released at once (order
 * kept). Before start they are bounded by the peers' vCPUs. */
#define HELD_MAX 65536

static_assert(PG == NET_PAGE_SIZE, "a DSM page is a wire page");
static_assert(FAULTLAT_KINDS == MEMPLANE_LAT_KINDS, "one latency ring per kind");
/* The latency kinds are the protocol's first fault kinds, in its order. */
static_assert((int)MEMPLANE_LAT_READ == (int)DSM_FAULT_READ_MISS &&
	      (int)MEMPLANE_LAT_WRITE == (int)DSM_FAULT_WRITE_MISS &&
	      (int)MEMPLANE_LAT_UPGRADE == (int)DSM_FAULT_UPGRADE,
	      "memplane_lat follows dsm_fault_kind");

/* A message waiting for the sender thread. */
struct outmsg {
	struct outmsg *next;
	unsigned to;
	struct net_msg msg;
	uint8_t page[];		/* PG bytes iff msg.data_len */
};

/* A received message held back (window, or before start). */
struct held {
	struct held *next;
	uint64_t due_ns;
	struct dsm_msg m;
	bool has_data;
	uint8_t page[];		/* PG bytes iff has_data */
};

struct recent {
	uint64_t key;		/* page + 1; 0: empty */
	uint64_t t_ns;		/* when it was mapped */
};

struct range {
	uint64_t first, count;
};

/* Who waits for a remote fault's page, for ops->remote_fault:
 * direct-mapped; a collision only loses one report. */
#define WAITER_SLOTS 1024
struct waiter {
	uint64_t key;		/* page + 1; 0: empty */
	uint64_t t_ns;		/* when it faulted */
	pid_t tid;
	bool repeat;
};

/* Named as in struct memplane_stats. Relaxed atomics: updated from any
 * thread, lock or not. */
#define COUNTERS(X) X(faults) X(local_resolved) X(msgs_sent) X(msgs_recv) \
	X(bytes_sent) X(bytes_recv) X(pages_sent) X(pages_recv) X(held) \
	X(out_queue_max) X(bad_msgs) X(send_errors)
#define DECLARE(f) _Atomic uint64_t f;
struct counters {
	COUNTERS(DECLARE)
};

struct memplane {
	struct guest_mem *mem;
	unsigned self, nr_nodes;
	uint64_t nr_pages;
	struct memplane_ops ops;
	void *opaque;
	uint64_t hold_ns;	/* set before start; the floor of the window */
	atomic_bool failed;	/* a fatal error happened */
	atomic_bool fatal_due;	/* ... and ops->fatal was not called yet */
	char why[160];		/* the first fatal error, set once */
	atomic_bool stopping;	/* written under lock, read anywhere */

	/* Control thread only. */
	bool stopped;
	bool sender_running;
	bool draining;		/* someone (sender or inline) is sending a batch */
	struct hotpages hot;	/* remotely faulting pages, under the lock */
	pthread_t sender;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* sender: queue, due message, stopping */
	/* Everything below is under lock. */
	struct dsm_node *dsm;
	struct pager *pager;	/* from start to stop */
	bool started;
	struct range *own;	/* preloaded ranges owned by this node */
	size_t nr_own;
	struct outmsg *out_head, **out_tail;
	uint64_t out_len;
	struct held *held_head, **held_tail;
	size_t nr_held;
	struct recent recent[RECENT_SLOTS];
	struct waiter waiters[WAITER_SLOTS];
	struct faultlat lat;	/* under the lock */
	bool have_final;
	struct pager_stats final;	/* the pager's, when it was freed */

	struct counters c;
};

#define INC(mp, f, n) atomic_fetch_add_explicit(&(mp)->c.f, (n), \
						memory_order_relaxed)
#define GET(mp, f) atomic_load_explicit(&(mp)->c.f, memory_order_relaxed)

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* A fatal error. Called with the lock held, or on the sender thread. The
 * first one is reported through ops->fatal by the sender thread (or by
 * memplane_stop), never under the lock: the node's handler may well send
 * on the network. */
static void fail(struct memplane *mp, const char *what, uint64_t page, int err)
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

static unsigned hash(uint64_t page)
{
	return (unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 40);
}

/* ---- outbound ---- */

/* The SEND action: the page is read here, at the action's place in the
 * list, while this node still holds it (dsm.h: an owner handing over
 * emits WRITE_PROTECT, SEND, INVALIDATE). */
static struct outmsg *make_out(struct memplane *mp, const struct dsm_msg *m)
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
	if (data) {
		memcpy(o->page, mp->mem->hyp_view + m->page * PG, PG);
		o->msg.data = o->page;
		o->msg.data_len = PG;
	}
	return o;
}

/* ---- carrying out actions (lock held) ---- */

static uint64_t page_key(uint64_t page)
{
	return page + 1;
}

static struct recent *recent_of(struct memplane *mp, uint64_t page)
{
	return &mp->recent[hash(page) & (RECENT_SLOTS - 1)];
}

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

/* A page came in (from: the node that sent it or the grant, -1 none):
 * if a remote fault was waiting for it, tell who waited and how long. */
static void report_remote(struct memplane *mp, uint64_t page, int from, uint64_t now)
{
	struct waiter *w = &mp->waiters[hash(page) & (WAITER_SLOTS - 1)];

	if (w->key != page_key(page))
		return;
	w->key = 0;
	if (from >= 0 && mp->ops.remote_fault)
		mp->ops.remote_fault(mp->opaque, w->tid, (unsigned)from, w->repeat,
				     now > w->t_ns ? now - w->t_ns : 0);
}

/* Carry out the actions of the last dsm call, in order; data: contents
 * of the message being received, if it had any, and from: its sender (-1
 * for a local fault). The list's messages join the outbound FIFO at the
 * end, all together. */
static void run_actions(struct memplane *mp, const void *data, int from)
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
			o = make_out(mp, &a->msg);
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
			/* Installs and upgrades wake the page's waiters. */
			woken = a->page;
			t = now_ns();
			*r = (struct recent){ page_key(a->page), t };
			faultlat_done(&mp->lat, a->page, t);
			report_remote(mp, a->page, from, t);
			break;
		case DSM_ACT_WRITE_PROTECT:
			err = pager_downgrade(mp->pager, a->page);
			break;
		case DSM_ACT_INVALIDATE:
			err = pager_invalidate(mp->pager, a->page);
			if (r->key == page_key(a->page))
				r->key = 0;
			if (woken == a->page)
				woken = UINT64_MAX;
			break;
		case DSM_ACT_FAULT_DONE:
			if (woken != a->page)
				err = pager_wake(mp->pager, a->page);
			break;
		default:
			err = -EINVAL;
		}
		if (err)
			fail(mp, dsm_action_name(a->type), a->page, err);
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
static void drain_inline(struct memplane *mp)
{
	while (mp->out_head && !mp->draining && !atomic_load(&mp->stopping))
		send_queue(mp);
	if (mp->out_head)
		pthread_cond_signal(&mp->cond);
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
		fail(mp, "repairing a held page", page, err);
}

static void on_fault(void *opaque, uint64_t page, bool write, bool wp,
		     pid_t tid)
{
	struct memplane *mp = opaque;
	enum dsm_fault_kind kind = DSM_FAULT_KINDS;
	const struct dsm_action *act;
	uint64_t t = now_ns();
	int err;
	size_t n;

	INC(mp, faults, 1);
	pthread_mutex_lock(&mp->lock);
	if (atomic_load(&mp->stopping))
		goto out;	/* pager_free will release the thread */
	err = dsm_fault(mp->dsm, page, write, &kind);
	if (err)
		fail(mp, "protocol fault", page, err);
	else if (kind < (enum dsm_fault_kind)MEMPLANE_LAT_KINDS) {
		bool remote = false;

		act = dsm_actions(mp->dsm, &n);
		for (size_t i = 0; i < n && !remote; i++)
			remote = act[i].type == DSM_ACT_SEND;
		if (remote) {
			struct waiter *w = &mp->waiters[hash(page) & (WAITER_SLOTS - 1)];

			faultlat_start(&mp->lat, page, (unsigned)kind, t);
			*w = (struct waiter){ page_key(page), t, tid,
					      hotpages_add(&mp->hot, page) >= MEMPLANE_REPEAT };
		}
		else
			INC(mp, local_resolved, 1);
	} else if (kind == DSM_FAULT_SPURIOUS) {
		repair(mp, page, wp);
	}
	run_actions(mp, NULL, -1);
	drain_inline(mp);
out:
	pthread_mutex_unlock(&mp->lock);
}

static void on_pager_error(void *opaque, int err)
{
	struct memplane *mp = opaque;

	pthread_mutex_lock(&mp->lock);
	fail(mp, "userfaultfd thread died", 0, err);
	pthread_mutex_unlock(&mp->lock);
}

static const struct pager_ops pager_ops = {
	.fault = on_fault,
	.error = on_pager_error,
};

/* ---- receiving ---- */

/* Check everything the protocol's own validation cannot see (the wire
 * fields wider than dsm_msg's, the encoding conventions, the page) and
 * fill m. */
static int decode(const struct memplane *mp, unsigned from,
		  const struct net_msg *msg, struct dsm_msg *m)
{
	const struct net_dsm *d = &msg->u.dsm;
	bool data = d->flags & DSM_F_DATA;

	if (msg->type != NET_MSG_DSM || from >= mp->nr_nodes ||
	    from == mp->self || d->node != from || d->src >= mp->nr_nodes ||
	    d->version > UINT32_MAX || d->req_id || d->count || d->arg ||
	    d->gfn >= mp->nr_pages || d->op >= DSM_MSG_TYPES)
		return -EPROTO;
	if (data ? msg->data_len != PG || !msg->data : msg->data_len != 0)
		return -EPROTO;
	*m = (struct dsm_msg){
		.page = d->gfn,
		.version = (uint32_t)d->version,
		.type = d->op,
		.flags = d->flags,
		.from = (uint16_t)from,
		.to = (uint16_t)mp->self,
		.requester = (uint16_t)d->src,
	};
	return 0;
}

/* Hand m to the protocol and carry out what it says. */
static int deliver(struct memplane *mp, const struct dsm_msg *m,
		   const void *data)
{
	int ret = dsm_receive(mp->dsm, m);

	run_actions(mp, data, m->from);
	if (ret == -EINVAL || ret == -EPROTO)
		return -EPROTO;	/* logged and counted by the protocol */
	if (ret)
		fail(mp, "protocol receive", m->page, ret);
	return ret;
}

/* Is a message about this page from this sender held? Then m waits
 * behind it (until the same time). */
static bool held_pair(const struct memplane *mp, const struct dsm_msg *m,
		      uint64_t *due)
{
	bool found = false;

	for (const struct held *h = mp->held_head; h; h = h->next)
		if (h->m.page == m->page && h->m.from == m->from) {
			*due = h->due_ns;
			found = true;
		}
	return found;
}

/* The starvation window: a page mapped here lately stays a moment. */
static bool in_window(struct memplane *mp, const struct dsm_msg *m,
		      uint64_t *due)
{
	const struct recent *r = recent_of(mp, m->page);
	uint64_t hold = mp->hold_ns;

	switch (m->type) {
	case DSM_INV:
	case DSM_FWD_READ:
	case DSM_FWD_WRITE:
	case DSM_READ_REQ:
	case DSM_WRITE_REQ:
		break;
	default:
		return false;
	}
	if (!mp->hold_ns || r->key != page_key(m->page) ||
	    now_ns() - r->t_ns >= hold)
		return false;
	*due = r->t_ns + hold;
	return true;
}

static int hold(struct memplane *mp, const struct dsm_msg *m,
		const void *data, uint64_t due)
{
	struct held *h = malloc(sizeof(*h) + (data ? PG : 0));

	if (!h)
		return -ENOMEM;
	h->next = NULL;
	h->due_ns = due;
	h->m = *m;
	h->has_data = data;
	if (data)
		memcpy(h->page, data, PG);
	*mp->held_tail = h;
	mp->held_tail = &h->next;
	mp->nr_held++;
	INC(mp, held, 1);
	pthread_cond_signal(&mp->cond);
	return 0;
}

/* Deliver the held messages that are due (all: every one), in arrival
 * order. Returns the earliest due time left, UINT64_MAX if none. */
static uint64_t release(struct memplane *mp, uint64_t now, bool all)
{
	struct held **pp = &mp->held_head, *h;
	uint64_t next = UINT64_MAX;

	while ((h = *pp)) {
		if (!all && h->due_ns > now) {
			if (h->due_ns < next)
				next = h->due_ns;
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		if (!*pp)
			mp->held_tail = pp;
		mp->nr_held--;
		deliver(mp, &h->m, h->has_data ? h->page : NULL);
		free(h);
	}
	return next;
}

int memplane_receive(struct memplane *mp, unsigned from,
		     const struct net_msg *msg)
{
	struct dsm_msg m;
	uint64_t due = 0;
	int ret;

	if (decode(mp, from, msg, &m)) {
		INC(mp, bad_msgs, 1);
		pr_warn("memory plane: malformed DSM message from node %u "
			"(op %u, page %#llx, %u data bytes)", from,
			msg->u.dsm.op, (unsigned long long)msg->u.dsm.gfn,
			msg->data_len);
		return -EPROTO;
	}
	INC(mp, msgs_recv, 1);
	INC(mp, bytes_recv, sizeof(struct net_dsm) + msg->data_len);
	if (msg->data_len)
		INC(mp, pages_recv, 1);
	pthread_mutex_lock(&mp->lock);
	if (atomic_load(&mp->stopping)) {
		ret = -ESHUTDOWN;
		goto out;
	}
	if (mp->started && mp->nr_held >= HELD_MAX)
		release(mp, 0, true);	/* order kept, windows cut short */
	if (!mp->started || held_pair(mp, &m, &due) ||
	    in_window(mp, &m, &due)) {
		ret = hold(mp, &m, msg->data, due);
		if (ret)
			fail(mp, "holding a message", m.page, ret);
	} else {
		ret = deliver(mp, &m, msg->data);
		drain_inline(mp);
	}
out:
	pthread_mutex_unlock(&mp->lock);
	return ret;
}

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
				fail(mp, "send", o->msg.u.dsm.gfn, err);
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
			next = release(mp, now_ns(), false);
		if (!mp->out_head || mp->draining) {
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
	if (err) {
		free(mp);
		return err;
	}
	mp->mem = mem;
	mp->self = self;
	mp->nr_nodes = layout->nr_nodes;
	mp->nr_pages = mem->size / PG;
	mp->ops = *ops;
	mp->opaque = opaque;
	mp->hold_ns = MEMPLANE_HOLD_NS;
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

void memplane_set_hold_ns(struct memplane *mp, uint64_t ns)
{
	pthread_mutex_lock(&mp->lock);
	mp->hold_ns = ns;
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
	pthread_setname_np(mp->sender, "memplane-tx");
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
		pager_get_stats(p, &mp->final);
		mp->have_final = true;
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
	free(mp->own);
	pthread_cond_destroy(&mp->cond);
	pthread_mutex_destroy(&mp->lock);
	free(mp);
}

/* ---- statistics ---- */

static const char *const lat_names[MEMPLANE_LAT_KINDS] = {
	[MEMPLANE_LAT_READ] = "read miss",
	[MEMPLANE_LAT_WRITE] = "write miss",
	[MEMPLANE_LAT_UPGRADE] = "upgrade",
};

const char *memplane_lat_name(enum memplane_lat kind)
{
	return (unsigned)kind < MEMPLANE_LAT_KINDS ? lat_names[kind] : "?";
}

void memplane_stats(struct memplane *mp, struct memplane_stats *out)
{
	struct lathist *lat = malloc(sizeof(mp->lat.lat));
	struct pager_stats ps = { 0 };

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&mp->lock);
	dsm_stats_get(mp->dsm, &out->proto);
	if (mp->pager)
		pager_get_stats(mp->pager, &ps);
	else if (mp->have_final)
		ps = mp->final;
	if (lat)
		memcpy(lat, mp->lat.lat, sizeof(mp->lat.lat));
	pthread_mutex_unlock(&mp->lock);
	for (unsigned k = 0; lat && k < MEMPLANE_LAT_KINDS; k++) {
		out->lat_samples[k] = lat[k].n;
		out->lat_max[k] = lat[k].max;
		out->lat_p50[k] = lathist_pct(&lat[k], 50);
		out->lat_p99[k] = lathist_pct(&lat[k], 99);
	}
	free(lat);
	out->node = mp->self;
#define COPY(f) out->f = GET(mp, f);
	COUNTERS(COPY)
#undef COPY
	out->fault_samples = ps.lat.n;
	out->fault_p50 = lathist_pct(&ps.lat, 50);
	out->fault_p99 = lathist_pct(&ps.lat, 99);
}

#define U(x) ((unsigned long long)(x))

void memplane_print_stats(struct memplane *mp, FILE *f)
{
	struct memplane_stats s;
	const struct dsm_stats *p = &s.proto;

	memplane_stats(mp, &s);
	fprintf(f, "memory plane, node %u:\n"
		"  faults %llu: read miss %llu, write miss %llu, upgrade %llu, "
		"joined %llu, spurious %llu, settled locally %llu\n"
		"  sent %llu msgs (%llu pages, %llu bytes), received %llu msgs "
		"(%llu pages, %llu bytes), held %llu, queue max %llu\n"
		"  INV sent %llu, received %llu; copies dropped %llu, downgrades "
		"%llu; zero grants %llu, upgrade grants %llu\n", s.node,
		U(s.faults), U(p->read_miss), U(p->write_miss), U(p->upgrade),
		U(p->fault_joined), U(p->fault_spurious), U(s.local_resolved),
		U(s.msgs_sent), U(s.pages_sent), U(s.bytes_sent),
		U(s.msgs_recv), U(s.pages_recv), U(s.bytes_recv), U(s.held),
		U(s.out_queue_max), U(p->inv_sent), U(p->inv_recv),
		U(p->invalidations), U(p->downgrades), U(p->zero_grants),
		U(p->upgrade_grants));
	for (unsigned k = 0; k < MEMPLANE_LAT_KINDS; k++)
		fprintf(f, "  %-10s %6llu remote, p50 %8.1f us, p99 %8.1f us, "
			"max %8.1f us\n", lat_names[k], U(s.lat_samples[k]),
			s.lat_p50[k] / 1e3, s.lat_p99[k] / 1e3,
			s.lat_max[k] / 1e3);
	fprintf(f, "  all faults %llu resolved, p50 %.1f us, p99 %.1f us\n"
		"  errors: bad messages %llu, protocol %llu, send %llu\n",
		U(s.fault_samples), s.fault_p50 / 1e3, s.fault_p99 / 1e3,
		U(s.bad_msgs + p->bad_msgs), U(p->proto_errors),
		U(s.send_errors));
	{
		struct hot_entry top[16];
		unsigned n;

		pthread_mutex_lock(&mp->lock);
		n = hotpages_top(&mp->hot, top, 16);
		pthread_mutex_unlock(&mp->lock);
		if (n)
			fprintf(f, "  hottest pages (guest-physical, remote faults):");
		for (unsigned i = 0; i < n; i++) {
			uint64_t off = top[i].page * 4096;
			uint64_t gpa = off < mp->mem->low_size ? off :
				       off - mp->mem->low_size + MEM_HIGH_BASE;
			fprintf(f, " %#llx:%llu", U(gpa), U(top[i].count));
		}
		if (n)
			fputc('\n', f);
	}
}
