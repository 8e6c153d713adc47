/* The home side of the coherence protocol: directory entries for the pages
 * homed on this node, and the one transaction per page that changes them.
 * The flows and the reasons for their order are in the note in dsm.h. */
#include "dsm/dsm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define INIT_BUCKETS 64

static struct dir_entry *dent(struct dsm_node *n, uint64_t page)
{
	return &n->dir[page - n->home_first];
}

static uint64_t bit(unsigned node)
{
	return 1ULL << node;
}

static unsigned lowest(uint64_t set)
{
	return __builtin_ctzll(set);
}

/* ---- busy pages: hash table of transactions ---- */

static unsigned hash(const struct dsm_node *n, uint64_t page)
{
	return (unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 32) &
		(n->nbuckets - 1);
}

static size_t txn_size(const struct dsm_node *n)
{
	return sizeof(struct txn) + n->nr_nodes * sizeof(struct qreq);
}

int dsm__dir_init(struct dsm_node *n)
{
	n->nbuckets = INIT_BUCKETS;
	n->buckets = calloc(n->nbuckets, sizeof(*n->buckets));
	return n->buckets ? 0 : -ENOMEM;
}

void dsm__dir_free(struct dsm_node *n)
{
	struct txn *t, *next;

	for (unsigned i = 0; n->buckets && i < n->nbuckets; i++)
		for (t = n->buckets[i]; t; t = next) {
			next = t->next;
			free(t);
		}
	for (t = n->free_txn; t; t = next) {
		next = t->next;
		free(t);
	}
	free(n->buckets);
}

int dsm__dir_reserve(struct dsm_node *n)
{
	struct txn *t;

	if (n->free_txn || n->home_first == n->home_end)
		return 0;
	t = malloc(txn_size(n));
	if (!t)
		return -ENOMEM;
	t->next = NULL;
	n->free_txn = t;
	return 0;
}

static struct txn *lookup(const struct dsm_node *n, uint64_t page)
{
	struct txn *t;

	for (t = n->buckets[hash(n, page)]; t; t = t->next)
		if (t->page == page)
			return t;
	return NULL;
}

/* Best effort: a table that cannot grow only gets longer chains. */
static void grow(struct dsm_node *n)
{
	unsigned nb = n->nbuckets * 2, old = n->nbuckets;
	struct txn **b = calloc(nb, sizeof(*b)), **ob = n->buckets;

	if (!b)
		return;
	n->buckets = b;
	n->nbuckets = nb;
	for (unsigned i = 0; i < old; i++) {
		struct txn *t, *next;
		for (t = ob[i]; t; t = next) {
			unsigned h = hash(n, t->page);
			next = t->next;
			t->next = b[h];
			b[h] = t;
		}
	}
	free(ob);
}

/* Takes the record dsm__dir_reserve() set aside. */
static struct txn *txn_open(struct dsm_node *n, uint64_t page)
{
	struct txn *t = n->free_txn;
	unsigned h;

	n->free_txn = t->next;
	memset(t, 0, txn_size(n));
	t->page = page;
	if (n->ntxn >= 2 * n->nbuckets)
		grow(n);
	h = hash(n, page);
	t->next = n->buckets[h];
	n->buckets[h] = t;
	n->ntxn++;
	dent(n, page)->flags |= DIR_BUSY;
	return t;
}

static void txn_close(struct dsm_node *n, struct txn *t)
{
	struct txn **pp = &n->buckets[hash(n, t->page)];

	while (*pp != t)
		pp = &(*pp)->next;
	*pp = t->next;
	n->ntxn--;
	dent(n, t->page)->flags &= ~DIR_BUSY;
	/* Keep one spare; the rest go back to the allocator. */
	if (!n->free_txn) {
		t->next = NULL;
		n->free_txn = t;
	} else {
		free(t);
	}
}

static bool in_flight(const struct txn *t)
{
	return t->waiting || t->wait_done || t->wait_nack;
}

/* ---- transactions ---- */

static void send_to(struct dsm_node *n, unsigned type, unsigned flags,
		    uint64_t page, uint32_t version, unsigned to,
		    unsigned requester)
{
	struct dsm_msg m = {
		.type = type,
		.flags = flags,
		.page = page,
		.version = version,
		.to = to,
		.requester = requester,
	};

	dsm__send(n, &m);
}

static void start_read(struct dsm_node *n, struct txn *t, uint64_t page)
{
	struct dir_entry *d = dent(n, page);
	unsigned r = t->requester, target;

	if (!(d->flags & DIR_WRITTEN)) {
		d->copyset |= bit(r);
		n->st.zero_grants++;
		send_to(n, DSM_DATA, DSM_F_ZERO, page, d->version, r, r);
		return;
	}
	if (d->copyset & bit(n->id)) {
		/* The home holds the current contents: serve them itself. */
		dsm__local_downgrade(n, page);
		d->flags &= ~DIR_EXCL;
		d->copyset |= bit(r);
		send_to(n, DSM_DATA, DSM_F_DATA, page, d->version, r, r);
		return;
	}
	if (!d->copyset) {
		struct dsm_msg m = { .type = DSM_READ_REQ, .page = page,
				     .from = r, .version = d->version };
		dsm__proto_error(n, &m, "written page held by nobody");
		return;
	}
	/* The owner, or any sharer: all hold the current version. */
	target = lowest(d->copyset);
	d->flags &= ~DIR_EXCL;
	d->copyset |= bit(r);
	t->wait_done = true;
	t->fwd = target;
	t->fwd_sent = true;
	send_to(n, DSM_FWD_READ, 0, page, d->version, target, r);
}

static void finish_write(struct dsm_node *n, struct txn *t)
{
	struct dir_entry *d = dent(n, t->page);
	unsigned r = t->requester;
	uint32_t v = d->version + 1;
	bool home_copy = r != n->id && d->copyset & bit(n->id);

	d->copyset = bit(r);
	d->flags |= DIR_EXCL | DIR_WRITTEN;
	d->version = v;
	/* The home's own copy goes before the grant leaves, like every other
	 * copy; only when it is the data source is it read first (the caller
	 * captures SEND contents in list order, see dsm.h). */
	switch (t->src) {
	case WSRC_NONE:
		if (home_copy)
			dsm__local_drop(n, t->page);
		n->st.upgrade_grants++;
		send_to(n, DSM_GRANT, 0, t->page, v, r, r);
		break;
	case WSRC_ZERO:
		if (home_copy)
			dsm__local_drop(n, t->page);
		n->st.zero_grants++;
		send_to(n, DSM_DATA, DSM_F_ZERO | DSM_F_EXCL, t->page, v, r, r);
		break;
	case WSRC_HOME:
		dsm__local_downgrade(n, t->page);
		send_to(n, DSM_DATA, DSM_F_DATA | DSM_F_EXCL, t->page, v, r, r);
		dsm__local_drop(n, t->page);
		break;
	case WSRC_FWD:
		t->wait_done = true;
		t->fwd_sent = true;
		send_to(n, DSM_FWD_WRITE, 0, t->page, v, t->fwd, r);
		break;
	}
}

static void start_write(struct dsm_node *n, struct txn *t, uint64_t page,
			const struct qreq *q)
{
	struct dir_entry *d = dent(n, page);
	unsigned r = t->requester;
	uint64_t inv;

	if (d->copyset & bit(r)) {
		t->src = WSRC_NONE;
	} else {
		if (q->flags & DSM_F_HAVE_COPY)
			n->st.retries++;
		if (!(d->flags & DIR_WRITTEN)) {
			t->src = WSRC_ZERO;
		} else if (d->copyset & bit(n->id)) {
			t->src = WSRC_HOME;
		} else if (d->copyset) {
			t->src = WSRC_FWD;
			t->fwd = lowest(d->copyset);
		} else {
			struct dsm_msg m = { .type = DSM_WRITE_REQ, .page = page,
					     .from = r, .version = d->version };
			dsm__proto_error(n, &m, "written page held by nobody");
			return;
		}
	}
	inv = d->copyset & ~bit(r) & ~bit(n->id);
	if (t->src == WSRC_FWD)
		inv &= ~bit(t->fwd);
	t->waiting = inv;
	for (; inv; inv &= inv - 1)
		send_to(n, DSM_INV, 0, page, d->version, lowest(inv), r);
	if (!t->waiting)
		finish_write(n, t);
}

static void start(struct dsm_node *n, struct txn *t, const struct qreq *q)
{
	struct dir_entry *d = dent(n, t->page);
	struct dsm_msg m = { .type = q->type, .page = t->page, .from = q->from,
			     .version = q->version };

	t->kind = q->type;
	t->requester = q->from;
	t->waiting = 0;
	t->wait_done = false;
	t->wait_nack = false;
	t->fwd_sent = false;
	t->fwd_evicted = false;
	if (q->type == DSM_READ_REQ) {
		if (q->from == n->id && d->copyset & bit(n->id)) {
			/* A write-back made the home a holder while its own
			 * read waited in the queue: nothing to fetch. */
			dsm__local_read_done(n, t->page);
			return;
		}
		if (d->copyset & bit(q->from)) {
			dsm__proto_error(n, &m, "read by a holder");
			return;
		}
		start_read(n, t, t->page);
	} else {
		if (d->flags & DIR_EXCL && d->copyset == bit(q->from)) {
			dsm__proto_error(n, &m, "write by the owner");
			return;
		}
		start_write(n, t, t->page, q);
	}
}

/* Start queued requests until one has to wait for messages, or none is
 * left and the page is no longer busy. */
static void run(struct dsm_node *n, struct txn *t)
{
	while (!in_flight(t)) {
		struct qreq q;

		if (!t->qlen) {
			txn_close(n, t);
			return;
		}
		q = t->q[t->qhead];
		t->qhead = (t->qhead + 1) % n->nr_nodes;
		t->qlen--;
		start(n, t, &q);
	}
}

int dsm__dir_request(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dir_entry *d = dent(n, m->page);
	struct qreq q = { .type = m->type, .from = m->from,
			  .flags = m->flags, .version = m->version };
	struct txn *t;

	if (!(d->flags & DIR_BUSY)) {
		t = txn_open(n, m->page);
		start(n, t, &q);
		run(n, t);
		return 0;
	}
	t = lookup(n, m->page);
	/* A node has one request per page outstanding: the queue cannot hold
	 * more than one per node. */
	for (unsigned i = 0; i < t->qlen; i++)
		if (t->q[(t->qhead + i) % n->nr_nodes].from == m->from) {
			dsm__proto_error(n, m, "second request from one node");
			return -EPROTO;
		}
	/* Waiting only for a NACK, the requester has its page already. */
	if ((t->waiting || t->wait_done) && t->requester == m->from) {
		dsm__proto_error(n, m, "request while its own is in flight");
		return -EPROTO;
	}
	t->q[(t->qhead + t->qlen++) % n->nr_nodes] = q;
	n->st.queued++;
	return 0;
}

int dsm__dir_inv_ack(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dir_entry *d = dent(n, m->page);
	struct txn *t = d->flags & DIR_BUSY ? lookup(n, m->page) : NULL;

	if (!t || !(t->waiting & bit(m->from)) || m->version != d->version) {
		dsm__proto_error(n, m, "INV_ACK not expected");
		return -EPROTO;
	}
	t->waiting &= ~bit(m->from);
	if (!t->waiting) {
		finish_write(n, t);
		run(n, t);
	}
	return 0;
}

int dsm__dir_done(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dir_entry *d = dent(n, m->page);
	struct txn *t = d->flags & DIR_BUSY ? lookup(n, m->page) : NULL;

	if (!t || !t->wait_done || t->requester != m->from ||
	    m->version != d->version) {
		dsm__proto_error(n, m, "DONE not expected");
		return -EPROTO;
	}
	t->wait_done = false;
	run(n, t);
	return 0;
}

/* ---- eviction (the races are in dsm.h) ---- */

/* The home keeps written-back contents as its own Shared copy. */
static void take_copy(struct dsm_node *n, struct dir_entry *d, uint64_t page)
{
	dsm__local_install(n, page, d->version);
	d->copyset |= bit(n->id);
}

int dsm__dir_evict(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dir_entry *d = dent(n, m->page);
	struct txn *t = d->flags & DIR_BUSY ? lookup(n, m->page) : NULL;
	unsigned a = m->from;
	bool data = m->flags & DSM_F_DATA;
	bool written = d->flags & DIR_WRITTEN;

	uint64_t old_copyset = d->copyset;
	uint8_t old_flags = d->flags;

	n->st.evicts_recv++;
	if (!(d->copyset & bit(a))) {
		/* Only the owner a FWD_WRITE is on its way to has left the
		 * copyset with its copy still held: pass the contents on. */
		if (!t || t->kind != DSM_WRITE_REQ || t->src != WSRC_FWD ||
		    t->fwd != a || !t->fwd_sent || !t->wait_done || !data ||
		    m->version + 1 != d->version) {
			dsm__proto_error(n, m, "EVICT from a node holding no copy");
			return -EPROTO;
		}
		n->st.evict_races++;
		dsm__send_src(n, &(struct dsm_msg){
			.type = DSM_DATA, .flags = DSM_F_DATA | DSM_F_EXCL,
			.page = m->page, .version = d->version,
			.to = t->requester, .requester = t->requester },
			DSM_SRC_MSG);
		t->wait_done = false;
		t->wait_nack = true;
		goto ack;
	}
	if (m->version != d->version || data != written) {
		dsm__proto_error(n, m, "EVICT of a copy that is not the current one");
		return -EPROTO;
	}
	d->copyset &= ~bit(a);
	d->flags &= ~DIR_EXCL;
	if (t && t->kind == DSM_WRITE_REQ && (t->waiting || t->wait_done)) {
		if (t->waiting & bit(a)) {
			/* Crossed our INV: it is the INV_ACK. */
			n->st.evict_races++;
			t->waiting &= ~bit(a);
			if (!t->waiting) {
				finish_write(n, t);
				run(n, t);
			}
		} else if (t->src == WSRC_FWD && t->fwd == a && !t->fwd_sent) {
			/* The data source left before the forward did: the
			 * home serves the writer itself. */
			n->st.evict_races++;
			take_copy(n, d, m->page);
			t->src = t->requester == n->id ? WSRC_NONE : WSRC_HOME;
		} else {
			d->copyset = old_copyset;	/* nothing changed */
			d->flags = old_flags;
			dsm__proto_error(n, m, "EVICT the write did not expect");
			return -EPROTO;
		}
		goto ack;
	}
	if (t && t->kind == DSM_READ_REQ && t->wait_done && t->fwd == a &&
	    t->fwd_sent) {
		n->st.evict_races++;
		if (t->requester == n->id) {
			/* Its DATA to us would have come before the EVICT on
			 * this link: it did not serve, and the EVICT's
			 * contents are our read. Its NACK ends it. */
			dsm__send(n, &(struct dsm_msg){
				.type = DSM_DATA, .flags = DSM_F_DATA,
				.page = m->page, .version = d->version,
				.to = n->id, .requester = n->id });
			t->wait_done = false;
			t->wait_nack = true;
			goto ack;
		}
		t->fwd_evicted = true;
	}
	if (data && dsm_page_state(n, m->page) == DSM_INVALID &&
	    !(t && t->requester == n->id))
		take_copy(n, d, m->page);
ack:
	send_to(n, DSM_EVICT_ACK, 0, m->page, m->version, a, a);
	return 0;
}

int dsm__dir_nack(struct dsm_node *n, const struct dsm_msg *m)
{
	struct dir_entry *d = dent(n, m->page);
	struct txn *t = d->flags & DIR_BUSY ? lookup(n, m->page) : NULL;

	if (!t || t->fwd != m->from || !t->fwd_sent) {
		dsm__proto_error(n, m, "FWD_NACK not expected");
		return -EPROTO;
	}
	if (t->wait_nack) {
		t->wait_nack = false;
	} else if (t->kind == DSM_READ_REQ && t->fwd_evicted && t->wait_done &&
		   d->copyset & bit(n->id)) {
		/* The reader's data never left the evicted target: the
		 * home holds the written-back copy now. */
		send_to(n, DSM_DATA, DSM_F_DATA, t->page, d->version,
			t->requester, t->requester);
		t->wait_done = false;
	} else {
		dsm__proto_error(n, m, "FWD_NACK not expected");
		return -EPROTO;
	}
	run(n, t);
	return 0;
}

/* Checks (apply false), then sets (apply true): all or nothing. */
int dsm__dir_preload(struct dsm_node *n, uint64_t first, uint64_t end,
		     unsigned owner, bool apply)
{
	for (uint64_t p = first; p < end; p++) {
		struct dir_entry *d = dent(n, p);

		if (!apply) {
			if (d->flags || d->copyset)
				return -EBUSY;
			continue;
		}
		d->copyset = bit(owner);
		d->flags = DIR_EXCL | DIR_WRITTEN;
		d->version = 1;
	}
	return 0;
}

int dsm_dir_get(const struct dsm_node *n, uint64_t page,
		struct dsm_dir_info *out)
{
	const struct dir_entry *d;
	const struct txn *t;

	if (!dsm__is_home(n, page))
		return -EINVAL;
	d = &n->dir[page - n->home_first];
	memset(out, 0, sizeof(*out));
	out->copyset = d->copyset;
	out->owner = d->flags & DIR_EXCL ? (int)lowest(d->copyset) : -1;
	out->version = d->version;
	out->written = d->flags & DIR_WRITTEN;
	out->busy = d->flags & DIR_BUSY;
	if (out->busy) {
		t = lookup(n, page);
		out->queued = t->qlen;
	}
	return 0;
}
