#include "harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t h_rand(struct harness *h)
{
	/* splitmix64: deterministic per seed, good enough for schedules. */
	uint64_t z = (h->rng += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

int h_fail(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (h->failed)
		return -1;
	h->failed = true;
	len = snprintf(h->err, sizeof(h->err), "step %llu: ",
		       (unsigned long long)h->step);
	va_start(ap, fmt);
	vsnprintf(h->err + len, sizeof(h->err) - len, fmt, ap);
	va_end(ap);
	return -1;
}

int h_init(struct harness *h, unsigned nn, uint64_t np,
	   const struct dsm_layout *layout, unsigned nvcpu, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->rng = seed;
	if (nn > H_MAX_NODES || np > H_MAX_PAGES || nvcpu > H_MAX_VCPUS)
		return h_fail(h, "harness too small");
	h->nn = nn;
	h->np = np;
	h->nvcpu = nvcpu;
	if (layout)
		h->layout = *layout;
	else
		dsm_layout_even(&h->layout, nn, np);
	if (h->layout.nr_nodes != nn || dsm_layout_pages(&h->layout) != np)
		return h_fail(h, "layout does not match the cluster");
	for (unsigned i = 0; i < nn; i++) {
		int ret = dsm_node_new(&h->node[i], i, &h->layout);
		if (ret)
			return h_fail(h, "dsm_node_new(%u) = %d", i, ret);
	}
	return 0;
}

void h_free(struct harness *h)
{
	for (unsigned i = 0; i < H_MAX_NODES; i++) {
		dsm_node_free(h->node[i]);
		h->node[i] = NULL;
		for (unsigned j = 0; j < H_MAX_NODES; j++)
			free(h->link[i][j].q);
	}
}

int h_preload(struct harness *h, uint64_t first, uint64_t count,
	      unsigned owner)
{
	for (unsigned n = 0; n < h->nn; n++) {
		int ret = dsm_preload(h->node[n], first, count, owner);
		if (ret)
			return h_fail(h, "dsm_preload on node %u = %d", n, ret);
	}
	for (uint64_t p = first; p < first + count; p++) {
		h->truth[p] = (1 << 8) | owner;
		h->mem[owner][p] = h->truth[p];
		h->map[owner][p] = H_RW;
	}
	return 0;
}

/* ---- links ---- */

static void link_push(struct h_link *l, const struct h_msg *m)
{
	if (l->head + l->n == l->cap) {
		if (l->head) {
			memmove(l->q, l->q + l->head, l->n * sizeof(*l->q));
			l->head = 0;
		}
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 16;
			l->q = realloc(l->q, l->cap * sizeof(*l->q));
			if (!l->q)
				abort();
		}
	}
	l->q[l->head + l->n++] = *m;
}

static struct h_msg link_take(struct h_link *l, unsigned idx)
{
	struct h_msg m = l->q[l->head + idx];

	if (!idx) {
		l->head++;
	} else {
		memmove(l->q + l->head + idx, l->q + l->head + idx + 1,
			(l->n - idx - 1) * sizeof(*l->q));
	}
	if (!--l->n)
		l->head = 0;
	return m;
}

unsigned h_queued(const struct harness *h, unsigned from, unsigned to)
{
	return h->link[from][to].n;
}

const struct dsm_msg *h_peek(const struct harness *h, unsigned from,
			     unsigned to, unsigned idx)
{
	const struct h_link *l = &h->link[from][to];

	return idx < l->n ? &l->q[l->head + idx].m : NULL;
}

unsigned h_total_queued(const struct harness *h)
{
	unsigned t = 0;

	for (unsigned i = 0; i < h->nn; i++)
		for (unsigned j = 0; j < h->nn; j++)
			t += h->link[i][j].n;
	return t;
}

/* ---- carrying out actions ---- */

static void wake(struct harness *h, unsigned node, uint64_t page)
{
	for (unsigned v = 0; v < h->nvcpu; v++) {
		struct h_vcpu *c = &h->vcpu[node][v];
		if (c->state == V_WAIT && c->page == page)
			c->state = V_RUN;
	}
}

static bool never_written(struct harness *h, uint64_t p)
{
	struct dsm_dir_info d;

	dsm_dir_get(h->node[dsm_home(&h->layout, p)], p, &d);
	return !d.written;
}

/* Carry out node's actions in order, the caller's half of the contract in
 * dsm.h. cur is the message being received, if any. Sends are captured in
 * list order and reach the links once the list is done. */
static int apply(struct harness *h, unsigned node, const struct h_msg *cur)
{
	size_t cnt;
	const struct dsm_action *act = dsm_actions(h->node[node], &cnt);
	struct h_msg out[256];
	unsigned nout = 0;

	for (size_t i = 0; i < cnt && !h->failed; i++) {
		const struct dsm_action *a = &act[i];
		uint64_t p = a->page;
		uint8_t *map = &h->map[node][p];
		uint64_t *mem = &h->mem[node][p];

		if (p >= h->np)
			return h_fail(h, "node %u: action on page %llu", node,
				      (unsigned long long)p);
		switch (a->type) {
		case DSM_ACT_SEND:
			if (a->msg.from != node || a->msg.to >= h->nn ||
			    a->msg.to == node || a->msg.page != p)
				return h_fail(h, "node %u: bad SEND %s to %u",
					      node, dsm_msg_type_name(a->msg.type),
					      a->msg.to);
			if (nout == sizeof(out) / sizeof(out[0]))
				return h_fail(h, "too many sends in one step");
			out[nout].m = a->msg;
			out[nout].payload = 0;
			if (a->msg.flags & DSM_F_DATA && a->src == DSM_SRC_MSG) {
				/* A write-back passed on: the received
				 * contents, which must be the latest. */
				if (!cur || !(cur->m.flags & DSM_F_DATA) ||
				    cur->m.page != p)
					return h_fail(h, "node %u: passes on page "
						      "%llu from a message without it",
						      node, (unsigned long long)p);
				if (cur->payload != h->truth[p])
					return h_fail(h, "node %u passes on a stale "
						      "page %llu", node,
						      (unsigned long long)p);
				out[nout].payload = cur->payload;
			} else if (a->msg.flags & DSM_F_DATA) {
				if (*map != H_RO)
					return h_fail(h, "node %u sends page %llu "
						      "while %s", node,
						      (unsigned long long)p,
						      *map == H_RW ? "writable" :
						      "not held");
				if (*mem != h->truth[p])
					return h_fail(h, "node %u sends stale "
						      "page %llu", node,
						      (unsigned long long)p);
				/* No page of zeros crosses the wire. */
				if (never_written(h, p))
					return h_fail(h, "node %u sends page "
						      "%llu, never written, as "
						      "data", node,
						      (unsigned long long)p);
				out[nout].payload = *mem;
			}
			nout++;
			break;
		case DSM_ACT_MAP_READONLY:
		case DSM_ACT_MAP_WRITABLE:
			if (a->src == DSM_SRC_MSG) {
				if (!cur || !(cur->m.flags & DSM_F_DATA) ||
				    cur->m.page != p)
					return h_fail(h, "node %u: map page %llu "
						      "from a message without it",
						      node, (unsigned long long)p);
				*mem = cur->payload;
			} else if (a->src == DSM_SRC_ZERO) {
				*mem = 0;
			} else if (a->src == DSM_SRC_LOCAL) {
				if (*map != H_RO)
					return h_fail(h, "node %u: remap page "
						      "%llu it does not hold",
						      node, (unsigned long long)p);
			} else {
				return h_fail(h, "node %u: map without source",
					      node);
			}
			if (a->src != DSM_SRC_LOCAL && *map != H_NONE)
				return h_fail(h, "node %u: page %llu mapped "
					      "over a copy it holds", node,
					      (unsigned long long)p);
			*map = a->type == DSM_ACT_MAP_WRITABLE ? H_RW : H_RO;
			break;
		case DSM_ACT_WRITE_PROTECT:
			if (*map != H_RW)
				return h_fail(h, "node %u: write-protect page "
					      "%llu not writable", node,
					      (unsigned long long)p);
			*map = H_RO;
			break;
		case DSM_ACT_INVALIDATE:
			if (*map == H_NONE)
				return h_fail(h, "node %u: drop page %llu "
					      "not held", node,
					      (unsigned long long)p);
			*map = H_NONE;
			*mem = H_POISON;
			break;
		case DSM_ACT_FAULT_DONE:
			wake(h, node, p);
			break;
		default:
			return h_fail(h, "node %u: unknown action %u", node,
				      a->type);
		}
	}
	dsm_actions_clear(h->node[node]);
	for (unsigned i = 0; i < nout; i++) {
		struct h_msg *m = &out[i];

		if (h->mut.drop_at && h->deliveries >= h->mut.drop_at &&
		    m->m.type == (h->mut.drop_type ? h->mut.drop_type :
				  DSM_INV_ACK)) {
			h->mut.drop_at = 0;
			continue;
		}
		if (h->mut.corrupt_at && h->deliveries >= h->mut.corrupt_at &&
		    m->m.flags & DSM_F_DATA) {
			h->mut.corrupt_at = 0;
			m->payload ^= 1ULL << 8;
		}
		h->inflight[m->m.page]++;
		link_push(&h->link[node][m->m.to], m);
	}
	return h->failed ? -1 : 0;
}

/* The counter of each kind of fault (struct dsm_stats). */
static uint64_t kind_count(const struct dsm_stats *s, enum dsm_fault_kind k)
{
	switch (k) {
	case DSM_FAULT_READ_MISS: return s->read_miss;
	case DSM_FAULT_WRITE_MISS: return s->write_miss;
	case DSM_FAULT_UPGRADE: return s->upgrade;
	case DSM_FAULT_JOINED: return s->fault_joined;
	case DSM_FAULT_SPURIOUS: return s->fault_spurious;
	default: return 0;
	}
}

/* Every fault of every run checks the kind the protocol reports against
 * its counters: exactly that kind's went up by one, no other moved. */
int h_fault(struct harness *h, unsigned node, uint64_t page, bool write)
{
	enum dsm_fault_kind kind = DSM_FAULT_KINDS;
	struct dsm_stats b, a;
	int ret;

	dsm_stats_get(h->node[node], &b);
	ret = dsm_fault(h->node[node], page, write, &kind);
	if (ret)
		return h_fail(h, "dsm_fault(%u, %llu, %d) = %d", node,
			      (unsigned long long)page, write, ret);
	dsm_stats_get(h->node[node], &a);
	if (kind >= DSM_FAULT_KINDS)
		return h_fail(h, "dsm_fault(%u, %llu, %d): no kind reported", node,
			      (unsigned long long)page, write);
	for (unsigned k = 0; k < DSM_FAULT_KINDS; k++) {
		uint64_t d = kind_count(&a, k) - kind_count(&b, k);

		if (d != (k == kind))
			return h_fail(h, "dsm_fault(%u, %llu, %d) said kind %u, "
				      "but counter %u moved by %llu", node,
				      (unsigned long long)page, write, kind, k,
				      (unsigned long long)d);
	}
	h->fault_kinds[kind]++;
	return apply(h, node, NULL);
}

/* Index of a random message of l that no earlier message about the same
 * page precedes. */
static unsigned page_fifo_pick(struct harness *h, const struct h_link *l)
{
	unsigned cand[64], nc = 0;

	for (unsigned i = 0; i < l->n && nc < 64; i++) {
		bool first = true;
		for (unsigned j = 0; j < i && first; j++)
			first = l->q[l->head + j].m.page !=
				l->q[l->head + i].m.page;
		if (first)
			cand[nc++] = i;
	}
	return cand[h_below(h, nc)];
}

int h_deliver(struct harness *h, unsigned from, unsigned to)
{
	struct h_link *l = &h->link[from][to];
	struct h_msg m;
	unsigned idx = 0;
	int ret;

	if (!l->n)
		return h_fail(h, "nothing queued %u -> %u", from, to);
	if (h->mut.reorder)
		idx = h_below(h, l->n);
	else if (h->page_fifo)
		idx = page_fifo_pick(h, l);
	m = link_take(l, idx);
	h->inflight[m.m.page]--;
	h->deliveries++;
	ret = dsm_receive(h->node[to], &m.m);
	if (ret)
		return h_fail(h, "dsm_receive(%u, %s from %u page %llu v%u "
			      "req %u flags %#x) = %d", to,
			      dsm_msg_type_name(m.m.type), m.m.from,
			      (unsigned long long)m.m.page, m.m.version,
			      m.m.requester, m.m.flags, ret);
	return apply(h, to, &m);
}

int h_deliver_random(struct harness *h)
{
	unsigned total = 0, r;

	for (unsigned i = 0; i < h->nn; i++)
		for (unsigned j = 0; j < h->nn; j++)
			if (h->link[i][j].n)
				total += h->speed[i][j] ? h->speed[i][j] : 1;
	if (!total)
		return 0;
	r = h_below(h, total);
	for (unsigned i = 0; i < h->nn; i++)
		for (unsigned j = 0; j < h->nn; j++) {
			unsigned w = h->speed[i][j] ? h->speed[i][j] : 1;
			if (!h->link[i][j].n)
				continue;
			if (r < w)
				return h_deliver(h, i, j) ? -1 : 1;
			r -= w;
		}
	return h_fail(h, "link pick out of range");
}

/* ---- eviction ---- */

int h_evict(struct harness *h, unsigned node, uint64_t page)
{
	int ret = dsm_evict(h->node[node], page);

	if (ret == -EBUSY || ret == -ENOENT || ret == -EINVAL)
		return ret;
	if (ret)
		return h_fail(h, "dsm_evict(%u, %llu) = %d", node,
			      (unsigned long long)page, ret);
	h->evictions++;
	return apply(h, node, NULL);
}

/* Whether a vCPU of node was just woken for page and has not run yet:
 * the plane's hold window keeps such a page (else a page under pressure
 * could leave before its vCPU ever ran, and the drain need not end). */
static bool just_mapped(const struct harness *h, unsigned node, uint64_t page)
{
	for (unsigned v = 0; v < h->nvcpu; v++)
		if (h->vcpu[node][v].state == V_RUN &&
		    h->vcpu[node][v].page == page)
			return true;
	return false;
}

int h_pressure(struct harness *h)
{
	if (!h->cache_pages)
		return 0;
	for (unsigned n = 0; n < h->nn; n++) {
		uint64_t held[H_MAX_PAGES];
		unsigned nh = 0;

		for (uint64_t p = 0; p < h->np; p++)
			if (dsm_home(&h->layout, p) != (int)n &&
			    dsm_page_state(h->node[n], p) != DSM_INVALID)
				held[nh++] = p;
		while (nh > h->cache_pages) {
			unsigned i = h_below(h, nh);
			uint64_t p = held[i];
			int ret = 0;

			held[i] = held[--nh];
			if (just_mapped(h, n, p))
				continue;
			ret = h_evict(h, n, p);
			if (ret && ret != -EBUSY)
				return -1;
		}
	}
	return h->failed ? -1 : 0;
}

/* ---- the guest ---- */

bool h_access(struct harness *h, unsigned node, uint64_t page, bool write)
{
	uint8_t map = h->map[node][page];
	uint64_t *mem = &h->mem[node][page];

	if (map == H_NONE || (write && map != H_RW))
		return false;
	if (*mem != h->truth[page]) {
		h_fail(h, "node %u %s page %llu: holds %#llx, latest write "
		       "is %#llx", node, write ? "writes" : "reads",
		       (unsigned long long)page, (unsigned long long)*mem,
		       (unsigned long long)h->truth[page]);
		return false;
	}
	if (write) {
		h->truth[page] = (((h->truth[page] >> 8) + 1) << 8) | node;
		*mem = h->truth[page];
		h->writes++;
	} else {
		h->reads++;
	}
	return true;
}

int h_vcpu_start(struct harness *h, unsigned node, unsigned v, uint64_t page,
		 bool write)
{
	struct h_vcpu *c = &h->vcpu[node][v];

	if (c->state != V_IDLE)
		return h_fail(h, "vcpu %u.%u busy", node, v);
	if (h_access(h, node, page, write) || h->failed)
		return h->failed ? -1 : 0;
	c->state = V_WAIT;
	c->page = page;
	c->write = write;
	c->since = h->step;
	h->faults++;
	return h_fault(h, node, page, write);
}

int h_vcpu_run(struct harness *h, unsigned node, unsigned v)
{
	struct h_vcpu *c = &h->vcpu[node][v];

	if (c->state != V_RUN)
		return h_fail(h, "vcpu %u.%u not runnable", node, v);
	if (h_access(h, node, c->page, c->write)) {
		c->state = V_IDLE;
		if (h->step - c->since > h->max_wait)
			h->max_wait = h->step - c->since;
		return 0;
	}
	if (h->failed)
		return -1;
	/* Woken, but the page moved on before this vCPU ran. */
	c->state = V_WAIT;
	h->refaults++;
	return h_fault(h, node, c->page, c->write);
}

/* ---- invariants ---- */

static const uint8_t map_of[] = {
	[DSM_INVALID] = H_NONE, [DSM_SHARED] = H_RO, [DSM_EXCLUSIVE] = H_RW,
};

static int check_page(struct harness *h, uint64_t p)
{
	struct dsm_dir_info d;
	unsigned rw = 0, ro = 0, home = dsm_home(&h->layout, p);
	int holder = -1;
	bool quiet;

	if (dsm_dir_get(h->node[home], p, &d))
		return h_fail(h, "page %llu: no directory at home %u",
			      (unsigned long long)p, home);
	for (unsigned n = 0; n < h->nn; n++) {
		enum dsm_state st = dsm_page_state(h->node[n], p);
		uint8_t map = h->map[n][p];

		if (map_of[st] != map)
			return h_fail(h, "page %llu node %u: state %d but "
				      "mapped %d", (unsigned long long)p, n,
				      st, map);
		if (map == H_NONE)
			continue;
		rw += map == H_RW;
		ro += map == H_RO;
		/* Every readable copy is the latest write. */
		if (h->mem[n][p] != h->truth[p])
			return h_fail(h, "page %llu node %u holds %#llx, latest "
				      "write %#llx", (unsigned long long)p, n,
				      (unsigned long long)h->mem[n][p],
				      (unsigned long long)h->truth[p]);
		if (holder >= 0 && dsm_page_version(h->node[n], p) !=
		    dsm_page_version(h->node[holder], p))
			return h_fail(h, "page %llu: nodes %d and %u hold "
				      "versions %u and %u",
				      (unsigned long long)p, holder, n,
				      dsm_page_version(h->node[holder], p),
				      dsm_page_version(h->node[n], p));
		holder = n;
	}
	/* One writer or many readers, at every step, transient or not. */
	if (rw > 1 || (rw && ro))
		return h_fail(h, "page %llu: %u writable and %u read-only "
			      "copies", (unsigned long long)p, rw, ro);
	if (!d.written && h->truth[p])
		return h_fail(h, "page %llu written but marked zero",
			      (unsigned long long)p);
	if (d.owner >= 0 && d.copyset != 1ULL << d.owner)
		return h_fail(h, "page %llu: owner %d, copyset %#llx",
			      (unsigned long long)p, d.owner,
			      (unsigned long long)d.copyset);
	/* Stable: no transaction at the home and no message about the page
	 * on any link. Then the directory matches every node exactly and no
	 * node still waits for an answer. */
	quiet = !d.busy && !h->inflight[p];
	if (!quiet)
		return 0;
	for (unsigned n = 0; n < h->nn; n++) {
		enum dsm_state st = dsm_page_state(h->node[n], p);
		bool in = d.copyset >> n & 1;

		if ((st != DSM_INVALID) != in ||
		    (st == DSM_EXCLUSIVE) != (d.owner == (int)n))
			return h_fail(h, "page %llu stable, node %u state %d, "
				      "directory copyset %#llx owner %d",
				      (unsigned long long)p, n, st,
				      (unsigned long long)d.copyset, d.owner);
		if (in && dsm_page_version(h->node[n], p) != d.version)
			return h_fail(h, "page %llu stable, node %u version %u,"
				      " directory %u", (unsigned long long)p,
				      n, dsm_page_version(h->node[n], p),
				      d.version);
		if (dsm_page_pending(h->node[n], p))
			return h_fail(h, "page %llu stable, node %u still waits "
				      "for its request (lost)",
				      (unsigned long long)p, n);
	}
	return 0;
}

int h_check(struct harness *h)
{
	if (h->failed)
		return -1;
	for (unsigned n = 0; n < h->nn; n++) {
		struct dsm_stats s;

		dsm_stats_get(h->node[n], &s);
		if (s.proto_errors || s.bad_msgs)
			return h_fail(h, "node %u: %llu protocol errors, %llu "
				      "bad messages", n,
				      (unsigned long long)s.proto_errors,
				      (unsigned long long)s.bad_msgs);
		for (unsigned v = 0; v < h->nvcpu; v++) {
			struct h_vcpu *c = &h->vcpu[n][v];
			if (c->state == V_WAIT &&
			    !dsm_page_pending(h->node[n], c->page))
				return h_fail(h, "vcpu %u.%u waits on page %llu "
					      "that nobody will bring", n, v,
					      (unsigned long long)c->page);
		}
	}
	for (uint64_t p = 0; p < h->np; p++)
		if (check_page(h, p))
			return -1;
	return 0;
}

static bool runnable(struct harness *h, unsigned *node, unsigned *v)
{
	for (unsigned n = 0; n < h->nn; n++)
		for (unsigned i = 0; i < h->nvcpu; i++)
			if (h->vcpu[n][i].state == V_RUN) {
				*node = n;
				*v = i;
				return true;
			}
	return false;
}

int h_drain(struct harness *h, uint64_t max_steps)
{
	for (uint64_t i = 0; i < max_steps; i++) {
		unsigned n, v;
		int ret;

		h->step++;
		/* A woken vCPU runs before the next message: bounded progress
		 * once new faults stop. */
		if (runnable(h, &n, &v))
			ret = h_vcpu_run(h, n, v);
		else if ((ret = h_deliver_random(h)) == 0)
			break;
		if (ret < 0 || h_pressure(h) || h_check(h))
			return -1;
	}
	if (h_total_queued(h))
		return h_fail(h, "still %u messages after %llu drain steps",
			      h_total_queued(h), (unsigned long long)max_steps);
	for (unsigned n = 0; n < h->nn; n++)
		for (unsigned v = 0; v < h->nvcpu; v++) {
			struct h_vcpu *c = &h->vcpu[n][v];
			if (c->state != V_IDLE)
				return h_fail(h, "vcpu %u.%u never completed its "
					      "%s of page %llu (since step %llu)",
					      n, v, c->write ? "write" : "read",
					      (unsigned long long)c->page,
					      (unsigned long long)c->since);
		}
	for (uint64_t p = 0; p < h->np; p++) {
		struct dsm_dir_info d;
		dsm_dir_get(h->node[dsm_home(&h->layout, p)], p, &d);
		if (d.busy)
			return h_fail(h, "page %llu still busy at its home",
				      (unsigned long long)p);
	}
	return 0;
}

int h_final_check(struct harness *h)
{
	/* A lost write shows as a value below the latest write: every page
	 * is read once more, wherever it now lives. */
	for (uint64_t p = 0; p < h->np; p++) {
		unsigned n = h_below(h, h->nn);

		if (!h_access(h, n, p, false)) {
			if (h->failed || h_fault(h, n, p, false))
				return -1;
			while (h_total_queued(h))
				if (h_deliver_random(h) < 0 || h_check(h))
					return -1;
			if (!h_access(h, n, p, false))
				return h_fail(h, "final read of page %llu on "
					      "node %u did not complete",
					      (unsigned long long)p, n);
		}
	}
	return h->failed ? -1 : 0;
}
