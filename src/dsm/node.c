/* The participant side of the coherence protocol: a node's own copies, its
 * faults and the messages addressed to a page holder or requester. Also the
 * node's lifecycle, the layout helpers and the action list. The home side
 * (directory, transactions) is in dir.c. */
#include "dsm/dsm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* ---- layout ---- */

int dsm_layout_check(const struct dsm_layout *l)
{
	if (!l || !l->nr_nodes || l->nr_nodes > DSM_MAX_NODES)
		return -EINVAL;
	for (unsigned i = 1; i < l->nr_nodes; i++)
		if (l->end[i] < l->end[i - 1])
			return -EINVAL;
	return 0;
}

int dsm_layout_even(struct dsm_layout *l, unsigned nr_nodes, uint64_t nr_pages)
{
	uint64_t end = 0;

	if (!nr_nodes || nr_nodes > DSM_MAX_NODES)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->nr_nodes = nr_nodes;
	for (unsigned i = 0; i < nr_nodes; i++) {
		end += nr_pages / nr_nodes + (i < nr_pages % nr_nodes);
		l->end[i] = end;
	}
	return 0;
}

uint64_t dsm_layout_pages(const struct dsm_layout *l)
{
	return l->end[l->nr_nodes - 1];
}

uint64_t dsm_range_first(const struct dsm_layout *l, unsigned node)
{
	return node ? l->end[node - 1] : 0;
}

int dsm_home(const struct dsm_layout *l, uint64_t page)
{
	unsigned lo = 0, hi = l->nr_nodes;

	if (page >= dsm_layout_pages(l))
		return -1;
	/* First node whose end is above page; empty ranges are skipped since
	 * their end equals the previous one. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (l->end[mid] > page)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* ---- names ---- */

static const char *const msg_names[DSM_MSG_TYPES] = {
	[DSM_READ_REQ] = "READ_REQ",	[DSM_WRITE_REQ] = "WRITE_REQ",
	[DSM_FWD_READ] = "FWD_READ",	[DSM_FWD_WRITE] = "FWD_WRITE",
	[DSM_INV] = "INV",		[DSM_INV_ACK] = "INV_ACK",
	[DSM_DATA] = "DATA",		[DSM_GRANT] = "GRANT",
	[DSM_DONE] = "DONE",		[DSM_EVICT] = "EVICT",
	[DSM_EVICT_ACK] = "EVICT_ACK",	[DSM_FWD_NACK] = "FWD_NACK",
};

static const char *const act_names[] = {
	[DSM_ACT_SEND] = "SEND",
	[DSM_ACT_MAP_READONLY] = "MAP_READONLY",
	[DSM_ACT_MAP_WRITABLE] = "MAP_WRITABLE",
	[DSM_ACT_WRITE_PROTECT] = "WRITE_PROTECT",
	[DSM_ACT_INVALIDATE] = "INVALIDATE",
	[DSM_ACT_FAULT_DONE] = "FAULT_DONE",
};

const char *dsm_msg_type_name(unsigned type)
{
	return type < DSM_MSG_TYPES && msg_names[type] ? msg_names[type] : "?";
}

const char *dsm_action_name(unsigned type)
{
	return type < sizeof(act_names) / sizeof(act_names[0]) ?
		act_names[type] : "?";
}

/* ---- lifecycle ---- */

/* Actions one call can produce: it concerns one page, on which at most one
 * request per node is queued at the home; each transaction started in the
 * call emits at most an INV per node plus a handful of other actions. */
static size_t act_bound(unsigned nr_nodes)
{
	return (size_t)(nr_nodes + 2) * (nr_nodes + 8) + 16;
}

int dsm_node_new(struct dsm_node **out, unsigned node_id,
		 const struct dsm_layout *layout)
{
	struct dsm_node *n;

	if (dsm_layout_check(layout) || node_id >= layout->nr_nodes)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->id = node_id;
	n->nr_nodes = layout->nr_nodes;
	n->layout = *layout;
	n->nr_pages = dsm_layout_pages(layout);
	n->home_first = node_id ? layout->end[node_id - 1] : 0;
	n->home_end = layout->end[node_id];
	n->act_cap = act_bound(n->nr_nodes);
	/* Large zeroed arrays come from mmap: untouched pages cost nothing. */
	n->local = calloc(n->nr_pages ? n->nr_pages : 1, sizeof(*n->local));
	n->dir = calloc(n->home_end - n->home_first + 1, sizeof(*n->dir));
	n->act = calloc(n->act_cap, sizeof(*n->act));
	if (!n->local || !n->dir || !n->act || dsm__dir_init(n)) {
		dsm_node_free(n);
		return -ENOMEM;
	}
	*out = n;
	return 0;
}

void dsm_node_free(struct dsm_node *n)
{
	if (!n)
		return;
	dsm__dir_free(n);
	free(n->local);
	free(n->dir);
	free(n->act);
	free(n);
}

/* ---- actions ---- */

const struct dsm_action *dsm_actions(const struct dsm_node *n, size_t *count)
{
	*count = n->nact;
	return n->act;
}

void dsm_actions_clear(struct dsm_node *n)
{
	n->nact = 0;
}

/* Room for everything one call can emit, reserved before the call changes
 * any state, so that an allocation failure never leaves a half transition. */
static int reserve_actions(struct dsm_node *n)
{
	size_t want = n->nact + act_bound(n->nr_nodes);
	struct dsm_action *a;

	if (want <= n->act_cap)
		return 0;
	a = realloc(n->act, want * sizeof(*a));
	if (!a)
		return -ENOMEM;
	n->act = a;
	n->act_cap = want;
	return 0;
}

static struct dsm_action *push(struct dsm_node *n)
{
	if (n->nact == n->act_cap) {
		/* reserve_actions() makes this unreachable; if it ever is not,
		 * the node is broken and says so through its return values. */
		pr_err("dsm: action list overflow, node %u", n->id);
		n->broken = -ENOBUFS;
		return &n->scratch;
	}
	return &n->act[n->nact++];
}

void dsm__emit(struct dsm_node *n, unsigned type, uint64_t page, unsigned src)
{
	struct dsm_action *a = push(n);

	memset(a, 0, sizeof(*a));
	a->type = type;
	a->src = src;
	a->page = page;
}

static int part_data(struct dsm_node *n, const struct dsm_msg *m);
static int part_grant(struct dsm_node *n, const struct dsm_msg *m);

/* Send m from this node. Messages to itself never become actions: grants
 * from the home side reach the participant side at once (the home already
 * settled its directory for them), while requests, acks and DONEs for the
 * home side wait in the local FIFO until the current step is finished. */
void dsm__send(struct dsm_node *n, struct dsm_msg *m)
{
	struct dsm_action *a;

	m->from = n->id;
	if (m->to == n->id) {
		if (m->type == DSM_DATA) {
			part_data(n, m);
		} else if (m->type == DSM_GRANT) {
			part_grant(n, m);
		} else {
			if (n->self_n == SELF_Q) {
				/* Unreachable: one step queues at most a
				 * request, a DONE and an upgrade. */
				pr_err("dsm: local queue overflow, node %u", n->id);
				n->broken = -ENOBUFS;
				return;
			}
			n->self_q[(n->self_head + n->self_n++) % SELF_Q] = *m;
		}
		return;
	}
	a = push(n);
	memset(a, 0, sizeof(*a));
	a->type = DSM_ACT_SEND;
	a->page = m->page;
	a->msg = *m;
	n->st.msgs_sent[m->type]++;
	if (m->flags & DSM_F_DATA)
		n->st.data_sent++;
	if (m->type == DSM_INV)
		n->st.inv_sent++;
	if (m->type == DSM_FWD_READ || m->type == DSM_FWD_WRITE)
		n->st.fwd_sent++;
}

void dsm__send_src(struct dsm_node *n, struct dsm_msg *m, unsigned src)
{
	size_t before = n->nact;

	dsm__send(n, m);
	if (n->nact > before)
		n->act[n->nact - 1].src = (uint8_t)src;
}

void dsm__proto_error(struct dsm_node *n, const struct dsm_msg *m,
		      const char *why)
{
	n->st.proto_errors++;
	pr_warn("dsm: %s from %u page %#llx v%u: %s", dsm_msg_type_name(m->type),
		m->from, (unsigned long long)m->page, m->version, why);
}

/* ---- the home side changing its own copy ---- */

void dsm__local_downgrade(struct dsm_node *n, uint64_t page)
{
	struct page_local *pl = dsm__local(n, page);

	if (pl->state != DSM_EXCLUSIVE)
		return;
	dsm__emit(n, DSM_ACT_WRITE_PROTECT, page, DSM_SRC_NONE);
	pl->state = DSM_SHARED;
	n->st.downgrades++;
}

void dsm__local_drop(struct dsm_node *n, uint64_t page)
{
	struct page_local *pl = dsm__local(n, page);

	if (pl->state == DSM_INVALID)
		return;
	dsm__emit(n, DSM_ACT_INVALIDATE, page, DSM_SRC_NONE);
	pl->state = DSM_INVALID;
	n->st.invalidations++;
}

void dsm__local_install(struct dsm_node *n, uint64_t page, uint32_t version)
{
	struct page_local *pl = dsm__local(n, page);

	pl->state = DSM_SHARED;
	pl->version = version;
	pl->flags &= ~PL_ZERO;
	dsm__emit(n, DSM_ACT_MAP_READONLY, page, DSM_SRC_MSG);
	/* vCPUs waiting to read may go on; writers fault again and wait. */
	dsm__emit(n, DSM_ACT_FAULT_DONE, page, DSM_SRC_NONE);
}

static enum dsm_fault_kind request(struct dsm_node *n, uint64_t page, bool write);

void dsm__local_read_done(struct dsm_node *n, uint64_t page)
{
	struct page_local *pl = dsm__local(n, page);
	bool upgrade = pl->flags & PL_WANT_WRITE;

	pl->flags &= ~(PL_PEND_READ | PL_WANT_WRITE);
	dsm__emit(n, DSM_ACT_FAULT_DONE, page, DSM_SRC_NONE);
	if (upgrade)
		request(n, page, true);
}

/* ---- participant side ---- */

static int home_of(const struct dsm_node *n, uint64_t page)
{
	return dsm_home(&n->layout, page);
}

/* Returns what kind of miss the request is, for dsm_fault's caller. */
static enum dsm_fault_kind request(struct dsm_node *n, uint64_t page, bool write)
{
	enum dsm_fault_kind kind;
	struct page_local *pl = dsm__local(n, page);
	struct dsm_msg m = {
		.page = page,
		.to = home_of(n, page),
		.requester = n->id,
	};

	if (write) {
		m.type = DSM_WRITE_REQ;
		if (pl->state == DSM_SHARED) {
			m.flags = DSM_F_HAVE_COPY;
			m.version = pl->version;
			n->st.upgrade++;
			kind = DSM_FAULT_UPGRADE;
		} else {
			n->st.write_miss++;
			kind = DSM_FAULT_WRITE_MISS;
		}
		pl->flags = (pl->flags & ~PL_WANT_WRITE) | PL_PEND_WRITE;
	} else {
		m.type = DSM_READ_REQ;
		n->st.read_miss++;
		kind = DSM_FAULT_READ_MISS;
		pl->flags |= PL_PEND_READ;
	}
	dsm__send(n, &m);
	return kind;
}

/* A DATA for our outstanding request: from the home, or from the holder the
 * home forwarded it to (then the home waits for our DONE). */
static int part_data(struct dsm_node *n, const struct dsm_msg *m)
{
	struct page_local *pl = dsm__local(n, m->page);
	bool excl = m->flags & DSM_F_EXCL;
	unsigned src = m->flags & DSM_F_ZERO ? DSM_SRC_ZERO : DSM_SRC_MSG;

	if (!(pl->flags & (excl ? PL_PEND_WRITE : PL_PEND_READ)) ||
	    pl->state != DSM_INVALID) {
		dsm__proto_error(n, m, "DATA not asked for");
		return -EPROTO;
	}
	if (m->flags & DSM_F_DATA && m->from != n->id)
		n->st.data_recv++;
	pl->state = excl ? DSM_EXCLUSIVE : DSM_SHARED;
	pl->version = m->version;
	pl->flags &= ~(PL_PENDING | PL_ZERO);
	if (!excl && src == DSM_SRC_ZERO)
		pl->flags |= PL_ZERO;
	dsm__emit(n, excl ? DSM_ACT_MAP_WRITABLE : DSM_ACT_MAP_READONLY,
		  m->page, src);
	if (m->from != home_of(n, m->page)) {
		struct dsm_msg done = {
			.type = DSM_DONE,
			.page = m->page,
			.version = m->version,
			.to = home_of(n, m->page),
			.requester = n->id,
		};
		dsm__send(n, &done);
	}
	dsm__emit(n, DSM_ACT_FAULT_DONE, m->page, DSM_SRC_NONE);
	if (pl->flags & PL_WANT_WRITE && pl->state == DSM_SHARED)
		request(n, m->page, true);
	pl->flags &= ~PL_WANT_WRITE;
	return 0;
}

static int part_grant(struct dsm_node *n, const struct dsm_msg *m)
{
	struct page_local *pl = dsm__local(n, m->page);

	if (!(pl->flags & PL_PEND_WRITE) || pl->state != DSM_SHARED ||
	    pl->version + 1 != m->version) {
		dsm__proto_error(n, m, "GRANT without a current Shared copy");
		return -EPROTO;
	}
	pl->state = DSM_EXCLUSIVE;
	pl->version = m->version;
	pl->flags &= ~(PL_PENDING | PL_WANT_WRITE | PL_ZERO);
	dsm__emit(n, DSM_ACT_MAP_WRITABLE, m->page, DSM_SRC_LOCAL);
	dsm__emit(n, DSM_ACT_FAULT_DONE, m->page, DSM_SRC_NONE);
	return 0;
}

static int part_inv(struct dsm_node *n, const struct dsm_msg *m)
{
	struct page_local *pl = dsm__local(n, m->page);
	struct dsm_msg ack = {
		.type = DSM_INV_ACK,
		.page = m->page,
		.version = m->version,
		.to = m->from,
		.requester = m->requester,
	};

	n->st.inv_recv++;
	if (pl->evicting) {
		/* Sent before the home saw our EVICT, which acks it. */
		n->st.evict_races++;
		return 0;
	}
	if (pl->state != DSM_SHARED || pl->version != m->version) {
		/* A writable copy holds data nobody else has: never drop it
		 * on a message that cannot be right. */
		dsm__proto_error(n, m, "INV for a copy not held Shared");
		return -EPROTO;
	}
	dsm__local_drop(n, m->page);
	dsm__send(n, &ack);
	return 0;
}

/* The home picked us to supply requester with our copy. */
static int part_fwd(struct dsm_node *n, const struct dsm_msg *m)
{
	struct page_local *pl = dsm__local(n, m->page);
	bool write = m->type == DSM_FWD_WRITE;
	struct dsm_msg data = {
		.type = DSM_DATA,
		.page = m->page,
		.flags = DSM_F_DATA | (write ? DSM_F_EXCL : 0),
		.version = m->version,
		.to = m->requester,
		.requester = m->requester,
	};

	n->st.fwd_recv++;
	if (pl->evicting) {
		/* Our EVICT went ahead of this on the link: the home has
		 * the contents and serves the requester once told. */
		struct dsm_msg nack = {
			.type = DSM_FWD_NACK,
			.page = m->page,
			.version = m->version,
			.to = m->from,
			.requester = m->requester,
		};

		n->st.evict_races++;
		dsm__send(n, &nack);
		return 0;
	}
	/* FWD_READ names the current version, FWD_WRITE the next one. */
	if (pl->state == DSM_INVALID ||
	    pl->version + write != m->version) {
		dsm__proto_error(n, m, "forward for a copy not held");
		return -EPROTO;
	}
	/* Stop writes before the contents are read for sending. */
	dsm__local_downgrade(n, m->page);
	dsm__send(n, &data);
	if (write)
		dsm__local_drop(n, m->page);
	return 0;
}

static int part_evict_ack(struct dsm_node *n, const struct dsm_msg *m)
{
	struct page_local *pl = dsm__local(n, m->page);

	if (!pl->evicting) {
		dsm__proto_error(n, m, "EVICT_ACK without an EVICT");
		return -EPROTO;
	}
	pl->evicting--;
	return 0;
}

/* ---- entry points ---- */

static int drain_self(struct dsm_node *n)
{
	int ret = 0, r;

	while (n->self_n) {
		struct dsm_msg m = n->self_q[n->self_head];

		n->self_head = (n->self_head + 1) % SELF_Q;
		n->self_n--;
		switch (m.type) {
		case DSM_READ_REQ:
		case DSM_WRITE_REQ:
			r = dsm__dir_request(n, &m);
			break;
		case DSM_DONE:
			r = dsm__dir_done(n, &m);
			break;
		default:
			dsm__proto_error(n, &m, "unexpected message to self");
			r = -EPROTO;
		}
		if (r && !ret)
			ret = r;
	}
	return ret;
}

static int prepare(struct dsm_node *n)
{
	int ret = n->broken ? n->broken : reserve_actions(n);

	return ret ? ret : dsm__dir_reserve(n);
}

int dsm_fault(struct dsm_node *n, uint64_t page, bool write,
	      enum dsm_fault_kind *kind)
{
	enum dsm_fault_kind dummy;
	struct page_local *pl;
	int ret;

	if (!kind)
		kind = &dummy;
	if (page >= n->nr_pages)
		return -EINVAL;
	ret = prepare(n);
	if (ret)
		return ret;
	pl = dsm__local(n, page);
	if (pl->state == DSM_EXCLUSIVE || (pl->state == DSM_SHARED && !write)) {
		/* Raced with our own grant: the vCPU just needs waking. */
		n->st.fault_spurious++;
		*kind = DSM_FAULT_SPURIOUS;
		dsm__emit(n, DSM_ACT_FAULT_DONE, page, DSM_SRC_NONE);
		return 0;
	}
	if (pl->flags & PL_PENDING) {
		n->st.fault_joined++;
		*kind = DSM_FAULT_JOINED;
		if (write && pl->flags & PL_PEND_READ)
			pl->flags |= PL_WANT_WRITE;
		return 0;
	}
	*kind = request(n, page, write);
	ret = drain_self(n);
	return n->broken ? n->broken : ret;
}

int dsm_evict(struct dsm_node *n, uint64_t page)
{
	struct page_local *pl;
	struct dsm_msg m = {
		.type = DSM_EVICT,
		.page = page,
		.requester = n->id,
	};
	int ret;

	if (page >= n->nr_pages || dsm__is_home(n, page))
		return -EINVAL;
	ret = prepare(n);
	if (ret)
		return ret;
	pl = dsm__local(n, page);
	if (pl->state == DSM_INVALID)
		return -ENOENT;
	if (pl->flags & PL_PENDING || pl->evicting == UINT16_MAX)
		return -EBUSY;
	m.to = home_of(n, page);
	m.version = pl->version;
	if (pl->state == DSM_EXCLUSIVE) {
		/* Stop writes before the contents are read for sending. */
		m.flags = DSM_F_DATA | DSM_F_EXCL;
		dsm__local_downgrade(n, page);
		n->st.writebacks++;
	} else {
		m.flags = pl->flags & PL_ZERO ? DSM_F_ZERO : DSM_F_DATA;
	}
	dsm__send(n, &m);
	dsm__local_drop(n, page);
	pl->flags &= ~PL_ZERO;
	pl->evicting++;
	n->st.evictions++;
	return n->broken;
}

int dsm_preload(struct dsm_node *n, uint64_t first, uint64_t count,
		unsigned owner)
{
	uint64_t end = first + count;
	uint64_t hf = first > n->home_first ? first : n->home_first;
	uint64_t he = end < n->home_end ? end : n->home_end;
	int ret;

	if (owner >= n->nr_nodes || end < first || end > n->nr_pages)
		return -EINVAL;
	if (hf < he) {
		ret = dsm__dir_preload(n, hf, he, owner, false);
		if (ret)
			return ret;
	}
	if (owner == n->id)
		for (uint64_t p = first; p < end; p++)
			if (n->local[p].state != DSM_INVALID ||
			    n->local[p].flags)
				return -EBUSY;
	if (hf < he)
		dsm__dir_preload(n, hf, he, owner, true);
	if (owner == n->id)
		for (uint64_t p = first; p < end; p++) {
			n->local[p].state = DSM_EXCLUSIVE;
			n->local[p].version = 1;
		}
	return 0;
}

/* Everything about m that can be checked without looking at any state. */
static int validate(const struct dsm_node *n, const struct dsm_msg *m)
{
	int home;

	if (m->type < DSM_READ_REQ || m->type >= DSM_MSG_TYPES ||
	    m->page >= n->nr_pages || m->to != n->id ||
	    m->from >= n->nr_nodes || m->from == n->id ||
	    m->requester >= n->nr_nodes || m->flags & ~DSM_F_ALL)
		return -EINVAL;
	home = home_of(n, m->page);
	switch (m->type) {
	case DSM_READ_REQ:
	case DSM_WRITE_REQ:
	case DSM_DONE:
		return home == (int)n->id && m->requester == m->from ?
			0 : -EINVAL;
	case DSM_INV_ACK:
	case DSM_FWD_NACK:
		return home == (int)n->id ? 0 : -EINVAL;
	case DSM_EVICT:
		/* Contents or zero, and nothing but whether it was owned. */
		return home == (int)n->id && m->requester == m->from &&
			!(m->flags & DSM_F_DATA) != !(m->flags & DSM_F_ZERO) &&
			!(m->flags & DSM_F_HAVE_COPY) ? 0 : -EINVAL;
	case DSM_INV:
	case DSM_GRANT:
	case DSM_EVICT_ACK:
		return m->from == home ? 0 : -EINVAL;
	case DSM_FWD_READ:
	case DSM_FWD_WRITE:
		return m->from == home && m->requester != n->id ? 0 : -EINVAL;
	case DSM_DATA:
		/* Exactly one of contents and zero. */
		return !(m->flags & DSM_F_DATA) != !(m->flags & DSM_F_ZERO) &&
			m->requester == n->id ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int dsm_receive(struct dsm_node *n, const struct dsm_msg *m)
{
	int ret, r;

	if (validate(n, m)) {
		n->st.bad_msgs++;
		pr_warn("dsm: malformed %s from %u page %#llx",
			dsm_msg_type_name(m->type), m->from,
			(unsigned long long)m->page);
		return -EINVAL;
	}
	ret = prepare(n);
	if (ret)
		return ret;
	n->st.msgs_recv[m->type]++;
	switch (m->type) {
	case DSM_READ_REQ:
	case DSM_WRITE_REQ:
		ret = dsm__dir_request(n, m);
		break;
	case DSM_INV_ACK:
		ret = dsm__dir_inv_ack(n, m);
		break;
	case DSM_DONE:
		ret = dsm__dir_done(n, m);
		break;
	case DSM_INV:
		ret = part_inv(n, m);
		break;
	case DSM_FWD_READ:
	case DSM_FWD_WRITE:
		ret = part_fwd(n, m);
		break;
	case DSM_DATA:
		ret = part_data(n, m);
		break;
	case DSM_GRANT:
		ret = part_grant(n, m);
		break;
	case DSM_EVICT:
		ret = dsm__dir_evict(n, m);
		break;
	case DSM_FWD_NACK:
		ret = dsm__dir_nack(n, m);
		break;
	case DSM_EVICT_ACK:
		ret = part_evict_ack(n, m);
		break;
	}
	r = drain_self(n);
	if (n->broken)
		return n->broken;
	return ret ? ret : r;
}

/* ---- introspection ---- */

unsigned dsm_node_id(const struct dsm_node *n)
{
	return n->id;
}

enum dsm_state dsm_page_state(const struct dsm_node *n, uint64_t page)
{
	return page < n->nr_pages ? n->local[page].state : DSM_INVALID;
}

uint32_t dsm_page_version(const struct dsm_node *n, uint64_t page)
{
	return page < n->nr_pages ? n->local[page].version : 0;
}

bool dsm_page_pending(const struct dsm_node *n, uint64_t page)
{
	return page < n->nr_pages && n->local[page].flags & PL_PENDING;
}

bool dsm_page_evicting(const struct dsm_node *n, uint64_t page)
{
	return page < n->nr_pages && n->local[page].evicting;
}

void dsm_stats_get(const struct dsm_node *n, struct dsm_stats *out)
{
	*out = n->st;
}
