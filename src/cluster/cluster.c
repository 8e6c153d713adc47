#include "cluster/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/addr.h"
#include "net/transport.h"
#include "util/log.h"

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)

#define CONNECT_RETRY_S 15
#define STAGE_JOIN_ACK 2

struct cluster {
	struct transport *t;
	const struct auth_key *key;
	struct cluster_params p;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool got_join;
	struct net_join join;
	uint64_t ready[3];		/* bit per node, per stage */
	int rtt_port[NET_MAX_NODES];	/* each node's raw-TCP echo port */
	bool got_start;
	struct net_start start;
	uint64_t down;			/* peers lost */
	bool stop_sent;
	bool quiescing;
	/* The RAM offer: what a joiner sends when the coordinator connects,
	 * and what the coordinator got from the joiner it talks to. */
	bool joiner, has_offer;
	uint64_t offer;
	bool got_offer;

	struct cluster_handlers h;
	void *hop;

	/* Link round trips (atomic): the last PING token sent, each peer's
	 * last round trip in ns (0: none yet), PONGs refused. */
	uint64_t ping_token;
	uint64_t rtt_ns[NET_MAX_NODES];
	uint64_t bad_pongs;
};

/* A PONG older than this is not a round trip worth showing. */
#define PONG_MAX_AGE_NS (60ull * 1000000000)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void deadline_ts(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* ---- transport callbacks (receive thread) -------------------------------- */

static void on_control(struct cluster *c, int peer, const struct net_msg *m)
{
	const struct net_control *ctl = &m->u.control;
	char reason[NET_CONTROL_DATA_MAX + 64];

	pthread_mutex_lock(&c->lock);
	switch (ctl->op) {
	case NET_CTL_READY:
		if (ctl->arg < 3 && peer < 64)
			c->ready[ctl->arg] |= 1ULL << peer;
		if (ctl->arg == 0 && peer < NET_MAX_NODES) {
			if (ctl->code >= 0 && ctl->code <= 65535)
				c->rtt_port[peer] = ctl->code;
			else
				pr_warn("node %d: READY with port %d ignored", peer,
					ctl->code);
		}
		break;
	case NET_CTL_OFFER:
		if (peer == CLUSTER_JOINER_ID && !c->joiner) {
			c->got_offer = true;
			c->has_offer = ctl->code == 1;
			c->offer = ctl->arg;
		}
		break;
	case NET_CTL_STOP:
		/* A peer stopped: stop here too, but do not re-broadcast. */
		c->stop_sent = true;
		snprintf(reason, sizeof(reason), "node %d stopped: %.*s", peer,
			 (int)m->data_len, m->data ? (const char *)m->data : "");
		pthread_mutex_unlock(&c->lock);
		if (c->h.stop)
			c->h.stop(c->hop, ctl->code, reason);
		pthread_mutex_lock(&c->lock);
		break;
	default:
		pr_debug("control op %u from node %d ignored", ctl->op, peer);
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* JOIN and START: taken once, from node 0 only. The wire checked the
 * payload's length and closed sets; the data may sit at any alignment. */
static void on_join_start(struct cluster *c, int peer, const struct net_msg *m)
{
	pthread_mutex_lock(&c->lock);
	if (peer != 0) {
		pr_warn("%s from node %d ignored: only node 0 sends it",
			wire_type_name(m->type), peer);
	} else if (m->type == NET_MSG_JOIN && !c->got_join) {
		memcpy(&c->join, m->data, sizeof(c->join));
		c->got_join = true;
	} else if (m->type == NET_MSG_START && !c->got_start) {
		memcpy(&c->start, m->data, sizeof(c->start));
		c->got_start = true;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The echo of a PING this node sent (cluster_ping): its time is this
 * node's own clock, but the peer could have sent anything, so only a
 * token that was sent and a time in the last minute count. */
static void on_pong(struct cluster *c, int peer, const struct net_ping *p)
{
	uint64_t now = now_ns();

	if (peer < 0 || peer >= NET_MAX_NODES || !p->token ||
	    p->token > __atomic_load_n(&c->ping_token, __ATOMIC_RELAXED) ||
	    p->time_ns > now || now - p->time_ns > PONG_MAX_AGE_NS) {
		__atomic_add_fetch(&c->bad_pongs, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&c->rtt_ns[peer], now - p->time_ns ? now - p->time_ns : 1,
			 __ATOMIC_RELAXED);
}

static void on_msg(void *opaque, int peer, const struct net_msg *m)
{
	struct cluster *c = opaque;

	switch (m->type) {
	case NET_MSG_CONTROL:
		on_control(c, peer, m);
		break;
	case NET_MSG_JOIN:
	case NET_MSG_START:
		on_join_start(c, peer, m);
		break;
	case NET_MSG_DSM:
		if (c->h.dsm && c->h.dsm(c->hop, (unsigned)peer, m) < 0)
			pr_warn("bad DSM message from node %d dropped", peer);
		break;
	case NET_MSG_CPU:
		if (c->h.cpu && c->h.cpu(c->hop, (unsigned)peer, m) < 0)
			pr_warn("unexpected CPU %s from node %d dropped",
				wire_cpu_op_name(m->u.cpu.op), peer);
		break;
	case NET_MSG_PONG:
		on_pong(c, peer, &m->u.ping);
		break;
	case NET_MSG_REPORT:
		if (c->h.report)
			c->h.report(c->hop, (unsigned)peer, m);
		break;
	default:
		pr_debug("message type %u from node %d not handled yet", m->type, peer);
	}
}

static int send_control(struct cluster *c, int peer, uint16_t op, int32_t code,
			uint64_t arg, const char *text);

/* A joiner tells each coordinator that connects before JOIN what it
 * contributes; the coordinator asks everyone before it decides. */
static void on_peer_up(void *opaque, int peer)
{
	struct cluster *c = opaque;
	bool offer;

	pthread_mutex_lock(&c->lock);
	offer = c->joiner && peer == 0 && !c->got_join;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pr_info("node %d connected", peer);
	if (offer)
		send_control(c, 0, NET_CTL_OFFER, c->has_offer, c->has_offer ? c->offer : 0,
			     NULL);
}

static void on_peer_down(void *opaque, int peer, int err)
{
	struct cluster *c = opaque;
	bool member = peer != CLUSTER_JOINER_ID && c->h.stop && !c->quiescing;
	char reason[160];

	pthread_mutex_lock(&c->lock);
	if (peer < 64 && peer != CLUSTER_JOINER_ID)
		c->down |= 1ULL << peer;
	member = member && !c->stop_sent;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (!member)
		return;
	/* Every page that node held, and every vCPU it ran, is gone: the
	 * guest cannot go on correctly, so stop it and say why. */
	snprintf(reason, sizeof(reason), "lost node %d (%s): its vCPUs and the pages it held are gone",
		 peer, transport_down_reason(err));
	c->h.stop(c->hop, 1, reason);
}

static const struct transport_ops ops = {
	.on_msg = on_msg,
	.on_peer_up = on_peer_up,
	.on_peer_down = on_peer_down,
};

/* ---- helpers ------------------------------------------------------------ */

static struct cluster *alloc_cluster(const struct auth_key *key)
{
	struct cluster *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (!c)
		return NULL;
	c->key = key;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	return c;
}

static int start_transport(struct cluster *c, uint32_t id, const char *listen)
{
	struct transport_cfg cfg = {
		.node_id = id,
		.key = c->key,
		.listen = listen,
		/* Before JOIN (a joiner's first transport): the default. */
		.dead_peer_ms = c->p.peer_timeout_ms ?: CLUSTER_PEER_TIMEOUT_MS,
		.ops = &ops,
		.opaque = c,
	};

	return transport_new(&cfg, &c->t);
}

static int send_control(struct cluster *c, int peer, uint16_t op, int32_t code,
			uint64_t arg, const char *text)
{
	struct net_msg m = { .type = NET_MSG_CONTROL };

	m.u.control.op = op;
	m.u.control.code = code;
	m.u.control.arg = arg;
	if (text) {
		m.data = text;
		m.data_len = (uint32_t)strlen(text);
	}
	return transport_send(c->t, peer, &m);
}

/* Dial addr until it answers as expect (or the deadline passes). */
static int dial(struct cluster *c, const char *addr, int expect, unsigned secs)
{
	uint64_t end = now_ms() + secs * 1000ull;
	int r;

	for (;;) {
		r = transport_connect(c->t, addr, expect);
		if (r >= 0 || r == -EALREADY)
			return 0;
		/* -EPERM: a joiner still answering under its old id; retry. */
		if (r == -EACCES || r == -EINVAL || r == -EPROTONOSUPPORT ||
		    r == -EKEYREJECTED || now_ms() >= end)
			return r;
		usleep(100000);
	}
}

/* Wait under c->lock until pred(c, arg) or timeout. */
static int wait_for(struct cluster *c, bool (*pred)(struct cluster *, uint64_t),
		    uint64_t arg, unsigned ms)
{
	struct timespec ts;
	int r = 0;

	deadline_ts(&ts, ms);
	pthread_mutex_lock(&c->lock);
	while (!pred(c, arg) && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	r = pred(c, arg) ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&c->lock);
	return r;
}

static bool peer_is_up(struct cluster *c, uint64_t peer)
{
	return transport_peer_up(c->t, (int)peer);
}

static bool peer_is_down(struct cluster *c, uint64_t peer)
{
	return !transport_peer_up(c->t, (int)peer);
}

static bool all_ready(struct cluster *c, uint64_t stage)
{
	uint64_t want = 0;

	for (unsigned i = 1; i < c->p.nr_nodes; i++)
		want |= 1ULL << i;
	return (c->ready[stage] & want) == want || (c->down & want);
}

static bool have_join(struct cluster *c, uint64_t unused)
{
	return c->got_join;
}

static bool have_start(struct cluster *c, uint64_t unused)
{
	return c->got_start || (c->down & 1);
}

static bool got_offer(struct cluster *c, uint64_t unused)
{
	return c->got_offer;
}

/* Why dialing a joiner failed, for the one line the user sees. */
static const char *dial_error(int r)
{
	return r == -EACCES ? "it does not hold our cluster key (or its node key's signature is bad)" :
	       r == -EPROTONOSUPPORT ?
	       "one of us runs with --insecure-network or --trust, the other not" :
	       r == -EKEYREJECTED ? "its node key is not the one our --trust file lists for that node" :
	       strerror(-r);
}

/* With node keys (--trust): a joiner answers under CLUSTER_JOINER_ID, and
 * must hold the key of the node it is about to become (-1: of none). */
static void expect_joiner(struct cluster *c, int as)
{
	if (c->key->ident)
		__atomic_store_n(&c->key->ident->joiner_as, as, __ATOMIC_RELEASE);
}

/* Ask every joiner what RAM it contributes, then settle the layout. */
static int collect_offers(struct cluster *c, struct cluster_params *p, char *err,
			  size_t errlen)
{
	char a[32], b[32];
	int r;

	for (unsigned i = 1; i < p->nr_nodes; i++) {
		pthread_mutex_lock(&c->lock);
		c->got_offer = false;
		pthread_mutex_unlock(&c->lock);
		expect_joiner(c, (int)i);
		r = dial(c, p->addr[i], CLUSTER_JOINER_ID, CONNECT_RETRY_S);
		expect_joiner(c, -1);
		if (r) {
			set_err("cannot join node at %s: %s", p->addr[i], dial_error(r));
			return r == -EINVAL ? -EIO : r;
		}
		r = wait_for(c, got_offer, 0, 5000);
		transport_disconnect(c->t, CLUSTER_JOINER_ID);
		wait_for(c, peer_is_down, CLUSTER_JOINER_ID, 5000);
		if (r) {
			set_err("node at %s did not say what memory it contributes", p->addr[i]);
			return -EIO;
		}
		if (!c->has_offer)
			continue;
		if (p->mem_given & (1u << i) && p->node_mem[i] != c->offer) {
			set_err("node %u at %s contributes %s (its --memory) but --node-memory gives it %s",
				i, p->addr[i], params_size_str(c->offer, a, sizeof(a)),
				params_size_str(p->node_mem[i], b, sizeof(b)));
			return -EINVAL;
		}
		p->node_mem[i] = c->offer;
		p->mem_given |= 1u << i;
	}
	return params_settle_memory(p, err, errlen);
}

static bool joiner_acked(struct cluster *c, uint64_t unused)
{
	return c->ready[STAGE_JOIN_ACK] & (1ULL << CLUSTER_JOINER_ID);
}

static int wait_all_peers(struct cluster *c, unsigned secs, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->p.nr_nodes; i++) {
		if (i == c->p.self)
			continue;
		if (wait_for(c, peer_is_up, i, secs * 1000)) {
			set_err("node %u did not connect to node %u within %u s", i,
				c->p.self, secs);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* Dial joiners 1..upto-1 (each pair is dialled by its higher id, node 0
 * dials all), then wait until every other node is connected. */
static int connect_mesh(struct cluster *c, unsigned upto, char *err, size_t errlen)
{
	for (unsigned i = 1; i < upto; i++) {
		int r = dial(c, c->p.addr[i], (int)i, CONNECT_RETRY_S);
		if (r) {
			set_err("cannot reach node %u at %s: %s", i, c->p.addr[i], dial_error(r));
			return r;
		}
	}
	return wait_all_peers(c, CONNECT_RETRY_S, err, errlen);
}

/* ---- coordinator --------------------------------------------------------- */

int cluster_coordinate(struct cluster_params *p, const struct auth_key *key,
		       struct cluster **out, char *err, size_t errlen)
{
	struct cluster *c = alloc_cluster(key);
	struct net_join join;
	struct net_msg m = { .type = NET_MSG_JOIN, .data = &join,
			     .data_len = sizeof(join) };
	int r;

	if (!c)
		return -ENOMEM;
	c->p = *p;
	c->p.self = 0;
	r = start_transport(c, 0, NULL);
	if (r) {
		set_err("cannot start the transport: %s", strerror(-r));
		goto fail;
	}
	r = collect_offers(c, p, err, errlen);
	if (r)
		goto fail;
	c->p = *p;
	c->p.self = 0;
	for (unsigned i = 1; i < p->nr_nodes; i++) {
		struct cluster_params pi = c->p;

		pi.self = i;
		expect_joiner(c, (int)i);
		r = dial(c, p->addr[i], CLUSTER_JOINER_ID, CONNECT_RETRY_S);
		expect_joiner(c, -1);
		if (r) {
			set_err("cannot join node at %s: %s", p->addr[i], dial_error(r));
			goto fail;
		}
		params_to_wire(&pi, &join);
		c->ready[STAGE_JOIN_ACK] &= ~(1ULL << CLUSTER_JOINER_ID);
		r = transport_send(c->t, CLUSTER_JOINER_ID, &m);
		if (!r)
			r = wait_for(c, joiner_acked, 0, 5000);
		if (r) {
			set_err("node at %s did not accept the cluster parameters", p->addr[i]);
			goto fail;
		}
		transport_disconnect(c->t, CLUSTER_JOINER_ID);
		wait_for(c, peer_is_down, CLUSTER_JOINER_ID, 5000);
	}
	/* Give the joiners a moment to come back under their real ids, so the
	 * first dials do not reach the old listeners. */
	usleep(200000);
	r = connect_mesh(c, p->nr_nodes, err, errlen);
	if (r)
		goto fail;
	*out = c;
	return 0;
fail:
	cluster_free(c);
	return r ? r : -EIO;
}

/* ---- joiner -------------------------------------------------------------- */

/* "host:port" with the port replaced. */
static void with_port(const char *addr, int port, char *out, size_t len)
{
	char host[CLUSTER_ADDR_MAX];

	addr_host(addr, host, sizeof(host));
	snprintf(out, len, "%s:%d", host, port);
}

int cluster_join(const char *listen, const struct auth_key *key, int port_fd,
		 const uint64_t *offer, unsigned timeout_s, struct cluster **out,
		 struct cluster_params *p, char *err, size_t errlen)
{
	struct cluster *c = alloc_cluster(key);
	char addr[CLUSTER_ADDR_MAX + 16];
	int r, port;

	if (!c)
		return -ENOMEM;
	c->joiner = true;
	c->has_offer = offer != NULL;
	c->offer = offer ? *offer : 0;
	{
		struct net_addr na;
		const char *why = "";

		/* Checked here so that a typo gets one line saying what is wrong. */
		r = addr_parse(listen, true, &na, &why);
		if (r) {
			set_err("bad listen address '%s': %s", listen, why);
			goto fail;
		}
	}
	r = start_transport(c, CLUSTER_JOINER_ID, listen);
	if (r) {
		set_err("cannot listen on %s: %s", listen, strerror(-r));
		goto fail;
	}
	port = transport_port(c->t);
	if (port_fd >= 0) {
		dprintf(port_fd, "%d\n", port);
		close(port_fd);
	}
	pr_info("waiting for a coordinator on port %d", port);
	r = wait_for(c, have_join, 0, timeout_s ? timeout_s * 1000 : 0x7fffffff);
	if (r) {
		set_err("no coordinator joined within %u s", timeout_s);
		goto fail;
	}
	r = params_from_wire(&c->p, &c->join, err, errlen);
	if (!r && offer && c->p.node_mem[c->p.self] != *offer) {
		char a[32], b[32];

		set_err("the coordinator gives this node %s of RAM, but it offered %s (--memory)",
			params_size_str(c->p.node_mem[c->p.self], a, sizeof(a)),
			params_size_str(*offer, b, sizeof(b)));
		r = -EINVAL;
	}
	if (!r && c->key->ident && (!c->key->ident->trusted[c->p.self] ||
				    memcmp(c->key->ident->trust[c->p.self],
						  c->key->ident->pk, NET_PUBKEY_BYTES))) {
		set_err("the coordinator makes this node node %u, but the --trust file lists "
			"another key for node %u", c->p.self, c->p.self);
		r = -EINVAL;
	}
	if (r) {
		send_control(c, 0, NET_CTL_SHUTDOWN, -EINVAL, 0, err);
		goto fail;
	}
	log_init((int)c->p.self, log_get_level());
	send_control(c, 0, NET_CTL_READY, 0, STAGE_JOIN_ACK, NULL);
	/* The coordinator hangs up; then come back under our real id. */
	wait_for(c, peer_is_down, 0, 5000);
	transport_free(c->t);
	c->t = NULL;
	c->down = 0;	/* that hang-up was the plan, not a lost node */
	with_port(listen, port, addr, sizeof(addr));
	for (int tries = 0;; tries++) {
		r = start_transport(c, c->p.self, addr);
		if (!r || tries > 50)
			break;
		usleep(100000);
	}
	if (r) {
		set_err("cannot listen again on %s: %s", addr, strerror(-r));
		goto fail;
	}
	r = connect_mesh(c, c->p.self, err, errlen);
	if (r)
		goto fail;
	*p = c->p;
	*out = c;
	return 0;
fail:
	cluster_free(c);
	return r ? r : -EIO;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	if (c->t)
		transport_free(c->t);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

void cluster_set_handlers(struct cluster *c, const struct cluster_handlers *h,
			  void *opaque)
{
	pthread_mutex_lock(&c->lock);
	c->hop = opaque;
	c->h = *h;
	pthread_mutex_unlock(&c->lock);
}

int cluster_inject_delay(struct cluster *c, uint32_t us)
{
	if (!us)
		return 0;
	return transport_fault(c->t, NET_MSG_DSM, NET_FAULT_DELAY, us, 0);
}

unsigned cluster_self(struct cluster *c) { return c->p.self; }
unsigned cluster_nodes(struct cluster *c) { return c->p.nr_nodes; }

int cluster_send_ready(struct cluster *c, unsigned stage, int rtt_port)
{
	return send_control(c, 0, NET_CTL_READY, rtt_port, stage, NULL);
}

int cluster_rtt_port(struct cluster *c, unsigned node)
{
	return node < NET_MAX_NODES ? c->rtt_port[node] : 0;
}

const char *cluster_addr(struct cluster *c, unsigned node)
{
	return node < CLUSTER_MAX_NODES ? c->p.addr[node] : "";
}

int cluster_wait_ready(struct cluster *c, unsigned stage, unsigned timeout_s,
		       char *err, size_t errlen)
{
	int r = wait_for(c, all_ready, stage, timeout_s * 1000);

	if (!r && !(c->down & ~1ULL))
		return 0;
	for (unsigned i = 1; i < c->p.nr_nodes; i++)
		if (!(c->ready[stage] & (1ULL << i))) {
			set_err("node %u %s", i, (c->down & (1ULL << i)) ?
				"disconnected while starting" : "did not become ready in time");
			return -ETIMEDOUT;
		}
	return 0;
}

int cluster_send_start(struct cluster *c, const struct net_start *s)
{
	struct net_msg m = { .type = NET_MSG_START, .data = s, .data_len = sizeof(*s) };

	for (unsigned i = 1; i < c->p.nr_nodes; i++) {
		int r = transport_send(c->t, (int)i, &m);
		if (r)
			return r;
	}
	return 0;
}

int cluster_wait_start(struct cluster *c, struct net_start *s,
		       unsigned timeout_s, char *err, size_t errlen)
{
	int r = wait_for(c, have_start, 0, timeout_s * 1000);

	if (r || !c->got_start) {
		set_err("the coordinator did not start the guest");
		return -ETIMEDOUT;
	}
	*s = c->start;
	return 0;
}

int cluster_send(struct cluster *c, unsigned node, const struct net_msg *msg)
{
	return transport_send(c->t, (int)node, msg);
}

int cluster_ping(struct cluster *c, unsigned node)
{
	struct net_msg m = { .type = NET_MSG_PING };

	/* Token 0 is the transport's heartbeat, which is not answered. */
	m.u.ping.token = __atomic_add_fetch(&c->ping_token, 1, __ATOMIC_RELAXED);
	m.u.ping.time_ns = now_ns();
	return transport_send(c->t, (int)node, &m);
}

bool cluster_link_rtt(struct cluster *c, unsigned node, uint64_t *ns)
{
	if (!c || node >= NET_MAX_NODES)
		return false;
	*ns = __atomic_load_n(&c->rtt_ns[node], __ATOMIC_RELAXED);
	return *ns != 0;
}

uint64_t cluster_bad_pongs(struct cluster *c)
{
	return __atomic_load_n(&c->bad_pongs, __ATOMIC_RELAXED);
}

void cluster_stop_all(struct cluster *c, int status, const char *reason)
{
	bool send;

	pthread_mutex_lock(&c->lock);
	send = !c->stop_sent;
	c->stop_sent = true;
	pthread_mutex_unlock(&c->lock);
	if (!send)
		return;
	for (unsigned i = 0; i < c->p.nr_nodes; i++)
		if (i != c->p.self && transport_peer_up(c->t, (int)i))
			send_control(c, (int)i, NET_CTL_STOP, status, 0, reason);
}

void cluster_quiesce(struct cluster *c)
{
	pthread_mutex_lock(&c->lock);
	c->quiescing = true;
	pthread_mutex_unlock(&c->lock);
}

void cluster_net_stats(struct cluster *c, struct transport_stats *out)
{
	transport_stats(c->t, out);
}

void cluster_print_stats(struct cluster *c, FILE *f)
{
	struct transport_stats s;

	transport_stats(c->t, &s);
	fprintf(f,
		"amalgam[%u] net: connected=%lu accepted=%lu auth_failures=%lu bad_frames=%lu disconnects=%lu\n",
		c->p.self, (unsigned long)s.connected, (unsigned long)s.accepted,
		(unsigned long)s.auth_failures, (unsigned long)s.bad_frames,
		(unsigned long)s.disconnects);
}
