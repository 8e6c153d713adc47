/* libFuzzer target: message sequences into the page-coherence protocol
 * (src/dsm, the pure state machine) on a simulated 3-node cluster.
 *
 * The input is a schedule. Its first byte picks the cluster: links FIFO
 * or only FIFO per page (what dsm.h asks for), a cache bound that makes
 * nodes evict, one of four home layouts (some with a node that is home
 * to nothing), and whether the peers are honest; its second whether the
 * boot image's pages start preloaded on node 0. Then two bytes per step:
 * a vCPU's read or write (faulting if its node's copy does not allow it),
 * a woken vCPU running, the next message of one link delivered, a random
 * one delivered, a copy evicted.
 *
 * Honest peers (tests/unit/dsm/harness.c carries out every action as
 * the memory plane would): after every step, one writer or many readers
 * per page, every copy holding the latest write, the directory matching
 * every node once a page is quiet, no vCPU waiting for a page nobody
 * brings; at the end every message is delivered, every access completes
 * and every page read once more returns its latest write (no lost
 * write). Any failure aborts with the harness's reason.
 *
 * A hostile peer (the key holder the protocol trusts gone bad): steps may
 * also deliver a forged message (any type, flags, ids, page, version) to
 * a node. Coherence then is the peer's to break, but the machine must
 * answer every message with 0, -EINVAL or -EPROTO (or -ENOMEM), and every
 * action it emits must stay in range (a page of guest RAM, a SEND from
 * itself to another existing node): the memory plane carries them out on
 * guest memory. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/dsm/harness.h"
#include "dsm/dsm.h"

#define NN 3
#define NV 2
#define NP 6
#define DRAIN_STEPS 200000
#define LINK_CAP 64

static const uint64_t layouts[4][NN] = {
	{ 2, 4, 6 },	/* even */
	{ 4, 6, 6 },	/* node 2 home to nothing */
	{ 0, 3, 6 },	/* node 0 home to nothing */
	{ 1, 2, 6 },
};

static void die(const char *what, const struct harness *h)
{
	fprintf(stderr, "fuzz_dsm: %s: %s\n", what, h ? h->err : "");
	abort();
}

/* ---- honest peers: the harness and its invariants ---------------------- */

static void honest(const uint8_t *data, size_t size, const struct dsm_layout *l)
{
	static struct harness h;
	uint8_t cfg = data[0];

	if (h_init(&h, NN, NP, l, NV, 1 + data[1]))
		die("h_init", &h);
	h.page_fifo = cfg & 1;
	h.cache_pages = (cfg >> 2) & 3;
	if (data[1] & 1 && h_preload(&h, 0, 2, 0))
		die("preload", &h);
	for (size_t i = 2; i + 1 < size; i += 2) {
		unsigned kind = data[i] & 7, p = (data[i] >> 3) % NP, a = data[i + 1];
		unsigned node = a % NN, v = (a / NN) % NV, to = (a / NN) % NN;
		struct h_vcpu *c = &h.vcpu[node][v];
		int r = 0;

		h.step++;
		switch (kind) {
		case 0:
		case 1:
			if (c->state == V_IDLE)
				r = h_vcpu_start(&h, node, v, p, kind == 1);
			else if (c->state == V_RUN)
				r = h_vcpu_run(&h, node, v);
			break;
		case 2:
			if (c->state == V_RUN)
				r = h_vcpu_run(&h, node, v);
			break;
		case 3:
		case 4:
			if (node != to && h_queued(&h, node, to))
				r = h_deliver(&h, node, to);
			break;
		case 5:
			r = h_evict(&h, node, p);
			if (r == -EBUSY || r == -ENOENT || r == -EINVAL)
				r = 0;
			break;
		default:
			h.rng ^= a;
			r = h_deliver_random(&h) < 0 ? -1 : 0;
			break;
		}
		if (r || h_pressure(&h) || h_check(&h))
			die("invariant", &h);
	}
	if (h_drain(&h, DRAIN_STEPS) || h_final_check(&h))
		die("drain", &h);
	h_free(&h);
}

/* ---- a hostile peer: the machine alone, its outputs checked ------------ */

struct link {
	struct dsm_msg q[LINK_CAP];
	unsigned head, n;
};

static struct dsm_node *nodes[NN];
static struct link links[NN][NN];

/* The caller's half of the contract, as far as memory safety goes: every
 * action in range; sends queued (a full link drops: delivery is not what
 * is checked here). */
static void carry_out(unsigned node)
{
	size_t cnt;
	const struct dsm_action *a = dsm_actions(nodes[node], &cnt);

	for (size_t i = 0; i < cnt; i++) {
		if (a[i].page >= NP || a[i].type > DSM_ACT_FAULT_DONE ||
		    a[i].src > DSM_SRC_MSG) {
			fprintf(stderr, "node %u: action %u page %llu src %u\n", node, a[i].type,
				(unsigned long long)a[i].page, a[i].src);
			die("action out of range", NULL);
		}
		if (a[i].type == DSM_ACT_SEND) {
			const struct dsm_msg *m = &a[i].msg;
			struct link *l;

			if (m->from != node || m->to >= NN || m->to == node || m->page != a[i].page ||
			    !m->type || m->type >= DSM_MSG_TYPES) {
				fprintf(stderr, "node %u: SEND type %u from %u to %u page %llu\n",
					node, m->type, m->from, m->to, (unsigned long long)m->page);
				die("send out of range", NULL);
			}
			l = &links[node][m->to];
			if (l->n < LINK_CAP)
				l->q[(l->head + l->n++) % LINK_CAP] = *m;
		}
	}
	dsm_actions_clear(nodes[node]);
}

static void check_ret(int r, const char *what)
{
	if (r && r != -EINVAL && r != -EPROTO && r != -ENOMEM && r != -EBUSY && r != -ENOENT) {
		fprintf(stderr, "%s returned %d\n", what, r);
		die("unexpected return", NULL);
	}
}

static void deliver(unsigned from, unsigned to)
{
	struct link *l = &links[from][to];
	struct dsm_msg m;

	if (!l->n)
		return;
	m = l->q[l->head];
	l->head = (l->head + 1) % LINK_CAP;
	l->n--;
	check_ret(dsm_receive(nodes[to], &m), "dsm_receive");
	carry_out(to);
}

static void hostile(const uint8_t *data, size_t size, const struct dsm_layout *l)
{
	memset(links, 0, sizeof(links));
	for (unsigned n = 0; n < NN; n++)
		if (dsm_node_new(&nodes[n], n, l))
			die("dsm_node_new", NULL);
	if (data[1] & 1)
		for (unsigned n = 0; n < NN; n++)
			check_ret(dsm_preload(nodes[n], 0, 2, 0), "dsm_preload");
	for (size_t i = 2; i + 1 < size; i += 2) {
		unsigned kind = data[i] & 7, p = (data[i] >> 3) % NP, a = data[i + 1];
		unsigned node = a % NN, to = (a / NN) % NN;

		switch (kind) {
		case 0:
		case 1:
			check_ret(dsm_fault(nodes[node], p, kind == 1, NULL), "dsm_fault");
			carry_out(node);
			break;
		case 2:
		case 3:
		case 4:
			if (node != to)
				deliver(node, to);
			break;
		case 5:
			check_ret(dsm_evict(nodes[node], p), "dsm_evict");
			carry_out(node);
			break;
		default: {
			/* A forged message: 8 more bytes, each field raw (ids
			 * and pages a little past the end too). */
			struct dsm_msg m = { 0 };

			if (i + 10 > size)
				break;
			m.type = data[i + 2] % (DSM_MSG_TYPES + 2);
			m.flags = data[i + 3];
			m.from = data[i + 4] % (NN + 2);
			m.to = data[i + 7] & 0x40 ? data[i + 7] % (NN + 2) : to;
			m.requester = data[i + 5] % (NN + 2);
			m.page = data[i + 6] % (NP + 2);
			if (data[i + 7] == 0xff)
				m.page = UINT64_MAX - data[i + 8];
			m.version = data[i + 8] | (uint32_t)data[i + 9] << 24;
			check_ret(dsm_receive(nodes[to], &m), "dsm_receive (forged)");
			carry_out(to);
			i += 8;
			break;
		}
		}
	}
	/* Whatever is left is delivered, each link in turn, boundedly. */
	for (unsigned round = 0; round < 64; round++)
		for (unsigned f = 0; f < NN; f++)
			for (unsigned t = 0; t < NN; t++)
				if (f != t)
					deliver(f, t);
	for (unsigned n = 0; n < NN; n++) {
		dsm_node_free(nodes[n]);
		nodes[n] = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsm_layout l = { .nr_nodes = NN };

	if (size < 2)
		return 0;
	memcpy(l.end, layouts[(data[0] >> 4) & 3], sizeof(layouts[0]));
	if (data[0] & 2)
		hostile(data, size, &l);
	else
		honest(data, size, &l);
	return 0;
}
