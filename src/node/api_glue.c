/* Node 0's side of the control plane (api/server.h): the main thread
 * takes each request the API's threads queued, checks it against the
 * VM's state and answers from what this node knows, at once and without
 * blocking. What another node alone knows (its vCPUs' run states, its
 * pages, its counters) comes from its last report (reports.c), at most
 * ~100 ms old; until a node's first report it is unknown (null), never
 * guessed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/events.h"
#include "api/metrics.h"
#include "api/reply.h"
#include "api/server.h"
#include "cluster/cluster.h"
#include "cpu/forward.h"
#include "hw/iobus.h"
#include "memplane/memplane.h"
#include "util/lathist.h"
#include "node/config.h"
#include "node/node_int.h"
#include "util/confine.h"
#include "util/log.h"
#include "vmm/board.h"
#include "vmm/vcpu.h"

static unsigned where(struct node *n, unsigned vcpu)
{
	unsigned node = n->p.place[vcpu];

	if (n->fwd)
		forward_where(n->fwd, vcpu, &node);
	return n->fwd ? node : n->p.self;
}

int node_api_start(struct node *n, const struct config *cfg)
{
	struct api_server_config ac = {
		.sock_path = cfg->api_sock, .listen = cfg->api_listen,
		.token_file = cfg->api_token,
	};
	char err[256];
	int r;

	n->kernel = cfg->kernel;
	n->started_ns = vcpu_now_ns();
	memcpy(n->api_place, n->p.place, sizeof(n->api_place));
	if (!cfg->api_sock && !cfg->api_listen && !cfg->api_token)
		return 0;
	r = api_server_start(&n->api, &ac, err, sizeof(err));
	if (r) {
		fprintf(stderr, "amalgam: %s\n", err);
		n->api = NULL;
		return r;
	}
	if (cfg->api_sock)
		pr_info("API on unix:%s", cfg->api_sock);
	if (cfg->api_listen)
		fprintf(stderr, "amalgam: API on http://%s (port %d), bearer token required\n",
			cfg->api_listen, api_server_port(n->api));
	return 0;
}

void node_api_stop(struct node *n)
{
	if (n->api && vm_stopping(&n->vm)) {
		api_event_vm(api_server_events(n->api), "stopping", n->vm.stop_reason);
		if (n->vm.exit_status != 0)
			api_event_error(api_server_events(n->api), n->vm.stop_reason);
	}
	api_server_stop(n->api);
	n->api = NULL;
}

/* The serial tee: the UART writes into a pipe; this thread copies every
 * byte to stdout (as without the API) and to the API's serial ring. */
static void *serial_copy(void *arg)
{
	struct node *n = arg;
	char buf[4096];

	confine_thread(CONFINE_SERIAL, 0);
	for (;;) {
		struct pollfd p = { .fd = n->serial_pipe[0], .events = POLLIN };
		ssize_t r;

		poll(&p, 1, 50);
		r = read(n->serial_pipe[0], buf, sizeof(buf));
		if (r > 0) {
			for (ssize_t off = 0; off < r;) {
				ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(r - off));

				if (w <= 0 && errno != EINTR)
					break;	/* stdout gone: the API still gets it */
				off += w > 0 ? w : 0;
			}
			api_event_serial(api_server_events(n->api), buf, (size_t)r);
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR) ||
		    __atomic_load_n(&n->serial_stop, __ATOMIC_ACQUIRE))
			break;
	}
	return NULL;
}

int node_serial_start(struct node *n, const struct config *cfg)
{
	if (!cfg->api_sock && !cfg->api_listen)
		return STDOUT_FILENO;
	if (pipe2(n->serial_pipe, O_CLOEXEC | O_NONBLOCK))
		return STDOUT_FILENO;
	/* The UART's writes block as a terminal's would; only the reader
	 * polls. */
	fcntl(n->serial_pipe[1], F_SETFL, 0);
	if (pthread_create(&n->serial_thread, NULL, serial_copy, n)) {
		close(n->serial_pipe[0]);
		close(n->serial_pipe[1]);
		return STDOUT_FILENO;
	}
	n->serial_on = true;
	return n->serial_pipe[1];
}

void node_serial_stop(struct node *n)
{
	if (!n->serial_on)
		return;
	if (n->board)
		board_flush(n->board);
	__atomic_store_n(&n->serial_stop, 1, __ATOMIC_RELEASE);
	pthread_join(n->serial_thread, NULL);
	close(n->serial_pipe[0]);
	n->serial_on = false;
	/* The write end stays open for the board until teardown. */
}

/* A node is silent when its reports stop for this long (ten of them):
 * the peer timeout may declare it lost later, this says it sooner. */
#define NODE_SILENT_NS (1000 * 1000 * 1000ull)

/* Node events from the reports' ages: up at the first report and when
 * they come again, silent when they stop. */
static void node_events(struct node *n, struct api_events *ev)
{
	char why[96];

	for (unsigned i = 1; i < n->p.nr_nodes && i < CLUSTER_MAX_NODES; i++) {
		uint64_t age;
		uint8_t now;

		if (!node_report_age(n, i, &age))
			continue;
		now = age > NODE_SILENT_NS ? 2 : 1;
		if (now == n->api_node_state[i])
			continue;
		if (now == 2)
			snprintf(why, sizeof(why), "no report for %.1f s", (double)age / 1e9);
		else
			snprintf(why, sizeof(why), "%s", n->api_node_state[i] ? "reports again"
								: "first report");
		api_event_node(ev, i, now == 2 ? "silent" : "up", why);
		n->api_node_state[i] = now;
	}
}

/* Every tick (20 ms), on the main thread: what changed becomes events. */
void node_api_tick(struct node *n)
{
	struct api_events *ev = api_server_events(n->api);

	if (!ev)
		return;
	if (n->p.self == 0 && n->p.nr_nodes > 1)
		node_events(n, ev);
	for (unsigned i = 0; i < n->p.cpus; i++) {
		unsigned now = where(n, i);

		if (now != n->api_place[i]) {
			api_event_vcpu(ev, i, n->api_place[i], now,
				       n->fwd ? forward_moves(n->fwd, i) : 0);
			n->api_place[i] = (uint8_t)now;
		}
	}
}

static enum api_vm_state vm_state(struct node *n)
{
	if (vm_stopping(&n->vm))
		return API_VM_STOPPING;
	return n->paused ? API_VM_PAUSED : API_VM_RUNNING;
}

static void get_vm(struct node *n, struct api_reply *r)
{
	static const char *const migrate[] = { "auto", "off", "shuffle" };

	r->vm.state = vm_state(n);
	r->vm.vcpus = n->p.cpus;
	r->vm.nodes = n->p.nr_nodes;
	r->vm.memory = n->p.memory;
	snprintf(r->vm.kernel, sizeof(r->vm.kernel), "%s", n->kernel ? n->kernel : "");
	snprintf(r->vm.migrate, sizeof(r->vm.migrate), "%s",
		 n->p.migrate < 3 ? migrate[n->p.migrate] : "?");
	r->vm.uptime_s = (double)(vcpu_now_ns() - n->started_ns) / 1e9;
	if (r->vm.state == API_VM_STOPPING)
		snprintf(r->vm.stop_reason, sizeof(r->vm.stop_reason), "%s", n->vm.stop_reason);
}

/* Every other node's last report, copied once per answer (the receive
 * thread replaces them as they come). */
struct reports {
	bool known[CLUSTER_MAX_NODES];
	uint64_t age_ns[CLUSTER_MAX_NODES];
	struct node_report r[CLUSTER_MAX_NODES];
	bool all;		/* every other node has reported */
};

static struct reports *reports_get(struct node *n)
{
	struct reports *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->all = true;
	for (unsigned i = 0; i < n->p.nr_nodes && i < CLUSTER_MAX_NODES; i++) {
		if (i == n->p.self)
			continue;
		rs->known[i] = node_report_get(n, i, &rs->r[i], &rs->age_ns[i]);
		rs->all &= rs->known[i];
	}
	return rs;
}

static const struct report_vcpu *reported_vcpu(const struct reports *rs, unsigned node,
					       unsigned vcpu)
{
	const struct node_report *r;

	if (!rs || node >= CLUSTER_MAX_NODES || !rs->known[node])
		return NULL;
	r = &rs->r[node];
	for (unsigned i = 0; i < r->nr_vcpus; i++)
		if (r->v[i].vcpu == vcpu)
			return &r->v[i];
	return NULL;
}

static void node_view(struct node *n, const struct reports *rs, unsigned id,
		      struct api_node_view *v)
{
	uint64_t pages = n->p.nr_nodes > 1 ? n->layout.end[id] - dsm_range_first(&n->layout, id)
					   : n->vm.mem.size / 4096;

	memset(v, 0, sizeof(*v));
	v->id = id;
	if (id && n->cluster)
		snprintf(v->addr, sizeof(v->addr), "%s", cluster_addr(n->cluster, id));
	v->state = vm_stopping(&n->vm) ? "stopping" : "up";
	v->memory = pages * 4096;
	pthread_mutex_lock(&n->aff_lock);
	if (id == n->p.self) {
		v->cpus_known = n->cpus > 0;
		v->load_known = n->aff_on && n->sched_ok;
		v->cpus = n->cpus;
		v->load = v->load_known ? n->last_load : 0;
	} else if (n->peer[id].known) {
		v->cpus_known = v->load_known = true;
		v->cpus = n->peer[id].cpus;
		v->load = n->peer[id].load;
	}
	pthread_mutex_unlock(&n->aff_lock);
	/* Without the cost model no LOAD comes: the report says the CPUs,
	 * and the load where it was measured. */
	if (id != n->p.self && !v->cpus_known && rs && id < CLUSTER_MAX_NODES &&
	    rs->known[id]) {
		v->cpus_known = true;
		v->load_known = rs->r[id].load_known;
		v->cpus = rs->r[id].cpus_milli / 1000.0;
		v->load = rs->r[id].load_milli / 1000.0;
	}
	for (unsigned i = 0; i < n->p.cpus; i++)
		v->vcpus += where(n, i) == id;
	v->nr_sent = n->p.nr_nodes;
	if (id == n->p.self) {
		v->resident_known = true;
		v->resident_pages = node_resident_pages(n);
		if (n->mem) {
			struct lathist h;

			memplane_lat_hist(n->mem, -1, &h);
			v->faults_known = v->sent_known = true;
			v->faults = h.n;
			v->fault_wait_ns = h.sum;
			for (unsigned p = 0; p < n->p.nr_nodes && p < API_MAX_NODES; p++)
				v->pages_sent[p] = p == id ? 0 :
					__atomic_load_n(&n->pages_to[p], __ATOMIC_RELAXED);
		}
		return;
	}
	v->rtt_known = cluster_link_rtt(n->cluster, id, &v->rtt_ns);
	if (n->mem) {
		v->pages_known = true;
		v->pages_from_0 = __atomic_load_n(&n->pages_to[id], __ATOMIC_RELAXED);
		v->pages_to_0 = __atomic_load_n(&n->pages_from[id], __ATOMIC_RELAXED);
	}
	if (rs && id < CLUSTER_MAX_NODES && rs->known[id]) {
		const struct node_report *r = &rs->r[id];

		v->resident_known = v->faults_known = v->sent_known = v->age_known = true;
		v->resident_pages = r->resident_pages;
		v->faults = r->fault_count;
		v->fault_wait_ns = r->fault_wait_ns;
		v->report_age_ns = rs->age_ns[id];
		if (!vm_stopping(&n->vm) && rs->age_ns[id] > NODE_SILENT_NS)
			v->state = "silent";
		for (unsigned i = 0; i < r->nr_peers; i++)
			if (r->p[i].node < API_MAX_NODES)
				v->pages_sent[r->p[i].node] = r->p[i].sent;
	}
}

static void vcpu_view(struct node *n, const struct reports *rs, unsigned i,
		      struct api_vcpu_view *v)
{
	struct vcpu *vc = n->vm.vcpus[i];
	const struct report_vcpu *rv;
	bool here = vcpu_here(vc);

	memset(v, 0, sizeof(*v));
	v->id = i;
	v->node = where(n, i);
	v->state = "remote";
	if (here) {
		v->state = vcpu_state_name(__atomic_load_n(&vc->state, __ATOMIC_RELAXED));
	} else {
		/* Its state from the node node 0 believes runs it, if that
		 * node's report says so too (a move may be under way). */
		rv = reported_vcpu(rs, v->node, i);
		if (rv && rv->here)
			v->state = vcpu_state_name(rv->state);
	}
	v->moves = n->fwd ? forward_moves(n->fwd, i) : 0;
	v->movable = n->fwd && forward_movable(i) && vcpu_state_max(vc) > 0;
	v->wait_ns = __atomic_load_n(&n->page_wait_ns[i], __ATOMIC_RELAXED);
	v->exits = vc->stats.exits;
	v->wait_known = v->exits_known = n->p.nr_nodes == 1 || (rs && rs->all);
	for (unsigned k = 0; rs && k < n->p.nr_nodes && k < CLUSTER_MAX_NODES; k++) {
		rv = k == n->p.self ? NULL : reported_vcpu(rs, k, i);
		if (rv) {
			v->wait_ns += rv->wait_ns;
			v->exits += rv->exits;
		}
	}
}

static void move_vcpu(struct node *n, const struct api_cmd *c, struct api_reply *r)
{
	unsigned from;
	int e;

	if (c->vcpu >= n->p.cpus) {
		api_reply_error(r, 404, API_REJ_RANGE, "no vCPU %u (the VM has %u)", c->vcpu,
				n->p.cpus);
		return;
	}
	if (c->node >= n->p.nr_nodes) {
		api_reply_error(r, 400, API_REJ_RANGE, "no node %u (the VM has %u)", c->node,
				n->p.nr_nodes);
		return;
	}
	if (!n->fwd || !vcpu_state_max(n->vm.vcpus[0])) {
		api_reply_error(r, 409, API_REJ_STATE, "vCPUs cannot move: the VM runs on one node");
		return;
	}
	if (!forward_movable(c->vcpu)) {
		api_reply_error(r, 409, API_REJ_STATE, "vCPU %u stays on node 0, where the "
				"legacy PIC's wire reaches it", c->vcpu);
		return;
	}
	from = where(n, c->vcpu);
	if (from == c->node) {
		api_reply_error(r, 409, API_REJ_STATE, "vCPU %u already runs on node %u",
				c->vcpu, c->node);
		return;
	}
	e = forward_request_move(n->fwd, c->vcpu, c->node);
	if (e) {
		api_reply_error(r, 503, API_REJ_BUSY, "cannot ask for the move: %s",
				strerror(-e));
		return;
	}
	pr_info("API: moving vCPU %u from node %u to node %u", c->vcpu, from, c->node);
	r->status = 202;
	r->move.vcpu = c->vcpu;
	r->move.from = from;
	r->move.to = c->node;
}

static void vm_action(struct node *n, const struct api_cmd *c, struct api_reply *r)
{
	switch (c->action) {
	case API_ACTION_PAUSE:
	case API_ACTION_RESUME:
		n->paused = c->action == API_ACTION_PAUSE;
		if (n->fwd)
			forward_pause_all(n->fwd, n->paused);
		else
			vm_pause(&n->vm, n->paused);
		pr_info("API: %s", n->paused ? "paused" : "resumed");
		api_event_vm(api_server_events(n->api), n->paused ? "paused" : "running",
			     "through the API");
		break;
	case API_ACTION_POWEROFF:
		vm_stop(&n->vm, 0, "powered off through the API");
		break;
	case API_ACTION_RESET:
		/* As a reset by the guest itself: the VMM ends with status 0. */
		vm_stop(&n->vm, 0, "reset through the API");
		break;
	}
	r->action.action = c->action;
	r->action.state = vm_state(n);
}

/* Node 0's own counters, from the metrics' collection: the unlabelled
 * ones (the per-vCPU and per-type ones are in the metrics). */
static void own_counters(struct node *n, struct api_counters *cs)
{
	struct metrics_out *o = metrics_out_new(n->p.self);
	const struct metric *m;
	uint64_t rejected = 0;

	cs->node = n->p.self;
	if (!o)
		return;
	node_collect(n, o);
	for (unsigned i = 0; (m = metrics_at(o, i)); i++) {
		if (m->kind == METRIC_COUNTER && !strcmp(m->name, "api_rejected"))
			rejected += (uint64_t)m->value;
		else if (!m->label && m->value >= 0)
			api_counter_add(cs, m->name, (uint64_t)m->value);
	}
	api_counter_add(cs, "api_rejected", rejected);
	metrics_out_free(o);
}

static void list_devices(struct node *n, struct api_reply *r)
{
	static const char *const spaces[IO_NR_SPACES] = { "pio", "mmio" };
	struct iobus_range ir;

	for (unsigned s = 0; s < IO_NR_SPACES; s++)
		for (unsigned i = 0; r->devices.nr < API_MAX_DEVICES &&
				     iobus_range_at(n->vm.iobus, s, i, &ir); i++) {
			struct api_device_view *d = &r->devices.d[r->devices.nr++];

			snprintf(d->name, sizeof(d->name), "%s", ir.name ? ir.name : "?");
			d->space = spaces[s];
			d->base = ir.base;
			d->size = ir.len;
			d->node = n->p.self;
		}
}

static void other_counters(struct node *n, const struct reports *rs, struct api_reply *r)
{
	for (unsigned i = 0; rs && i < n->p.nr_nodes && i < API_MAX_NODES; i++) {
		const struct node_report *rep = &rs->r[i];
		struct api_counters *cs;

		if (i == n->p.self || !rs->known[i])
			continue;
		r->stats.reported[r->stats.nr_reported].age_ns = rs->age_ns[i];
		cs = &r->stats.reported[r->stats.nr_reported++].c;
		cs->node = i;
		for (unsigned s = 0; s < rep->nr_counters; s++)
			api_counter_add(cs, report_counter_name(s), rep->counters[s]);
	}
}

static void answer(struct node *n, const struct api_cmd *c, struct api_reply *r)
{
	struct reports *rs = NULL;

	if (api_legal(c, vm_state(n), r))
		return;
	if (n->p.nr_nodes > 1 && (c->kind == API_GET_NODES || c->kind == API_GET_VCPUS ||
				  c->kind == API_GET_VCPU || c->kind == API_GET_STATS))
		rs = reports_get(n);	/* NULL: what only reports say is null */
	switch (c->kind) {
	case API_GET_VM:
		get_vm(n, r);
		break;
	case API_GET_NODES:
		r->nodes.nr = n->p.nr_nodes;
		for (unsigned i = 0; i < n->p.nr_nodes && i < API_MAX_NODES; i++)
			node_view(n, rs, i, &r->nodes.n[i]);
		break;
	case API_GET_VCPUS:
		r->vcpus.nr = n->p.cpus;
		for (unsigned i = 0; i < n->p.cpus && i < API_MAX_VCPUS; i++)
			vcpu_view(n, rs, i, &r->vcpus.v[i]);
		break;
	case API_GET_VCPU:
		if (c->vcpu >= n->p.cpus) {
			api_reply_error(r, 404, API_REJ_RANGE, "no vCPU %u (the VM has %u)",
					c->vcpu, n->p.cpus);
			break;
		}
		r->vcpus.nr = 1;
		vcpu_view(n, rs, c->vcpu, &r->vcpus.v[0]);
		break;
	case API_MOVE_VCPU:
		move_vcpu(n, c, r);
		break;
	case API_VM_ACTION:
		vm_action(n, c, r);
		break;
	case API_GET_STATS:
		own_counters(n, &r->stats.self);
		r->stats.nr_nodes = n->p.nr_nodes;
		for (unsigned i = 0; i < n->p.nr_nodes && i < API_MAX_NODES; i++)
			node_view(n, rs, i, &r->stats.n[i]);
		other_counters(n, rs, r);
		break;
	case API_GET_DEVICES:
		list_devices(n, r);
		break;
	default:
		api_reply_error(r, 404, API_REJ_NOT_FOUND, "unknown command");
	}
	free(rs);
}

void node_api_serve(struct node *n)
{
	struct api_req *q;

	if (!n->api)
		return;
	while ((q = api_server_take(n->api))) {
		answer(n, api_req_cmd(q), api_req_reply(q));
		api_req_done(n->api, q);
	}
}
