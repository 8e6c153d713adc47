#include "cpu/forward.h"

#include <assert.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster.h"
#include "cpu/ioserve.h"
#include "cpu/vcpumap.h"
#include "irq/apicbus.h"
#include "irq/ioapic.h"
#include "irq/lapic.h"
#include "util/log.h"
#include "hw/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "x86/vcpustate.h"

#define IO_SLICE_MS 100
#define IO_GIVE_UP_MS 10000
/* A message chasing a vCPU that keeps moving gives up after this many
 * hops (each hop is a node that had it and knows where it went). */
#define MAX_HOPS 16

/* One outstanding forwarded access per vCPU (a vCPU waits for its own). */
struct io_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t tag;
	unsigned node;		/* where it went: only that node answers */
	bool done;
	struct net_io_reply reply;
};

struct forward {
	struct vm *vm;
	struct cluster *c;
	unsigned self, nodes;
	uint64_t seq;

	/* Where each vCPU runs, as far as this node knows, and how often it
	 * has moved (a newer notice wins). A vCPU leaving or arriving here
	 * changes its entry and the bus's remote flag together under the
	 * lock, and every message that reads the map to leave this node holds
	 * it while sending: a message is sent either before a leaving vCPU's
	 * state (and was delivered into its lapic before the copy) or after
	 * it, on the same link, so it reaches the vCPU wherever it went. */
	pthread_mutex_t lock;
	struct vcpumap map;	/* which peer may say what (cpu/vcpumap.h) */
	uint8_t *blob;		/* a vCPU's state on its way out, under lock */
	size_t blob_cap;

	struct io_wait io[VM_MAX_VCPUS];
	/* On the devices' node: other nodes' accesses and EOIs, served on
	 * a thread of their own (ioserve.h), not on the receive thread. */
	struct ioserve *ios;
	struct forward_stats st;

	struct forward_model model;
	forward_pci_cfg_fn *on_pci_cfg;
	void *pci_opaque;

	/* Refused messages are logged at most once a second; the lines held
	 * back are counted in the next. */
	pthread_mutex_t log_lock;
	struct timespec log_last;
	unsigned log_quiet;
};

static_assert(VCPUMAP_MAX >= VM_MAX_VCPUS, "the map holds every vCPU");

#define COUNT(f, field) __atomic_add_fetch(&(f)->st.field, 1, __ATOMIC_RELAXED)

/* A peer's message about a vCPU that was not the peer's to send, or out of
 * range: counted, logged rate-limited, otherwise ignored. */
static void refuse(struct forward *f, unsigned from, const char *what, uint32_t vcpu,
		   const char *why)
{
	struct timespec now;
	unsigned quiet;

	COUNT(f, refused);
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&f->log_lock);
	if (f->log_last.tv_sec && now.tv_sec - f->log_last.tv_sec < 1 &&
	    !(now.tv_sec - f->log_last.tv_sec == 1 && now.tv_nsec >= f->log_last.tv_nsec)) {
		f->log_quiet++;
		pthread_mutex_unlock(&f->log_lock);
		return;
	}
	quiet = f->log_quiet;
	f->log_quiet = 0;
	f->log_last = now;
	pthread_mutex_unlock(&f->log_lock);
	pr_warn("%s from node %u for vcpu %u refused: %s (%u more refusals not logged)",
		what, from, vcpu, why, quiet);
}

/* ---- interrupts ---------------------------------------------------------- */

/* A CPU message of op, everything else zero (as the wire wants). */
static void cpu_msg(struct net_msg *m, enum net_cpu_op op)
{
	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_CPU;
	m->u.cpu.op = op;
}

static void to_net(const struct apic_msg *a, int target, struct net_msg *m)
{
	struct net_irq *q = &m->u.cpu.irq;

	cpu_msg(m, NET_CPU_IRQ);
	q->dest = a->dest;
	q->source = a->source;
	q->vector = a->vector;
	q->delivery = a->delivery;
	q->dest_logical = a->dest_logical;
	q->shorthand = a->shorthand;
	q->level = a->level;
	q->trigger_level = a->trigger_level;
	q->x2apic = a->x2apic;
	q->target_vcpu = target;
}

static void from_net(const struct net_irq *q, struct apic_msg *a)
{
	memset(a, 0, sizeof(*a));
	a->dest = q->dest;
	a->source = q->source;
	a->vector = q->vector;
	a->delivery = q->delivery;
	a->dest_logical = q->dest_logical;
	a->shorthand = q->shorthand;
	a->level = q->level;
	a->trigger_level = q->trigger_level;
	a->x2apic = q->x2apic;
}

/* A message for vCPU t, wherever it runs: delivered here if it is here
 * (and its lapic takes it), else sent to its node. hops: how often it was
 * passed on already. */
static void to_vcpu(struct forward *f, const struct apic_msg *a, unsigned t,
		    unsigned hops)
{
	struct net_msg m;
	unsigned node;

	/* A vCPU arriving here between the look and the delivery: look
	 * again (twice is plenty: each round a whole move happened). */
	for (int tries = 0; tries < 3; tries++) {
		if (vcpu_here(f->vm->vcpus[t]) && lapic_deliver(f->vm->vcpus[t]->lapic, a))
			return;
		pthread_mutex_lock(&f->lock);
		node = f->map.place[t];
		if (node != f->self) {
			if (hops >= MAX_HOPS) {
				pthread_mutex_unlock(&f->lock);
				pr_warn("IPI vector %#x for vcpu %u dropped: it moved %u times on the way",
					a->vector, t, hops);
				return;
			}
			to_net(a, (int)t, &m);
			m.u.cpu.irq.hops = (uint8_t)hops;
			COUNT(f, irq_sent);
			if (cluster_send(f->c, node, &m))
				pr_warn("IPI for vcpu %u on node %u lost: node unreachable",
					t, node);
			pthread_mutex_unlock(&f->lock);
			return;
		}
		pthread_mutex_unlock(&f->lock);
	}
	pr_warn("IPI vector %#x for vcpu %u dropped: its lapic refuses it here", a->vector, t);
}

uint64_t forward_irq_out(struct forward *f, const struct apic_msg *a, int target)
{
	uint64_t covered = 0, mask;
	struct net_msg m;

	if (target >= 0) {
		if ((unsigned)target < f->vm->nr_vcpus)
			to_vcpu(f, a, (unsigned)target, 0);
		return 1ULL << target;
	}
	/* Each node is told which vCPUs it is to deliver to: those this
	 * node's map puts there. A vCPU that left one of them is passed on by
	 * that node, and one that arrived there after the map was read is not
	 * its to serve: every vCPU gets the message once. */
	to_net(a, -1, &m);
	pthread_mutex_lock(&f->lock);
	for (unsigned n = 0; n < f->nodes; n++) {
		if (n == f->self)
			continue;
		mask = 0;
		for (unsigned i = 0; i < f->vm->nr_vcpus; i++)
			if (f->map.place[i] == n)
				mask |= 1ULL << i;
		if (!mask)
			continue;
		m.u.cpu.irq.mask = mask;
		covered |= mask;
		COUNT(f, irq_sent);
		cluster_send(f->c, n, &m);
	}
	pthread_mutex_unlock(&f->lock);
	return covered;
}

static void irq_in(struct forward *f, unsigned from, const struct net_irq *q)
{
	struct apic_msg a;
	int t = q->target_vcpu;

	from_net(q, &a);
	COUNT(f, irq_received);
	if (t < 0) {
		apicbus_deliver_mask(f->vm->apicbus, &a, q->mask);
		return;
	}
	if ((unsigned)t >= f->vm->nr_vcpus) {
		refuse(f, from, "interrupt", (uint32_t)t, "no such vCPU");
		return;
	}
	to_vcpu(f, &a, (unsigned)t, q->hops + 1u);
}

/* ---- moving vCPUs ---------------------------------------------------------- */

bool forward_movable(unsigned vcpu)
{
	return vcpumap_movable(vcpu);
}

int forward_move_out(struct forward *f, struct vcpu *v, unsigned node, double waited)
{
	struct net_msg m;
	size_t len = 0;
	int err;

	if (!f->blob)
		return -EOPNOTSUPP;
	if (node >= f->nodes || node == f->self || v->index >= f->vm->nr_vcpus)
		return -EINVAL;
	if (!forward_movable(v->index))
		return -EPERM;
	pthread_mutex_lock(&f->lock);
	/* From here, the bus sends what is for v to the forwarder, which
	 * waits for the lock: after the state, on the same link. */
	apicbus_set_remote(f->vm->apicbus, v->index, true);
	err = vcpu_save(v, f->blob, f->blob_cap, &len);
	if (err) {
		apicbus_set_remote(f->vm->apicbus, v->index, false);
		pthread_mutex_unlock(&f->lock);
		return err;
	}
	cpu_msg(&m, NET_CPU_STATE);
	m.u.cpu.vcpu.vcpu = v->index;
	m.u.cpu.vcpu.moves = vcpumap_leave(&f->map, v->index, node);
	m.u.cpu.vcpu.format = VCPUSTATE_FORMAT;
	m.u.cpu.vcpu.waited_milli = !(waited > 0) ? 0 : waited >= 1 ? 1000 :
				    (uint32_t)(waited * 1000 + 0.5);
	m.data = f->blob;
	m.data_len = (uint32_t)len;
	err = cluster_send(f->c, node, &m);
	pthread_mutex_unlock(&f->lock);
	if (err) {
		vm_stop(f->vm, 1, "vcpu %u could not move to node %u: %s", v->index, node,
			strerror(-err));
		return err;
	}
	COUNT(f, moved_out);
	pr_info("vcpu %u moved to node %u: state saved in %llu us, %zu bytes", v->index,
		node, (unsigned long long)v->stats.last_save_ns / 1000, len);
	return 0;
}

static void vcpu_in(struct forward *f, unsigned from, const struct net_msg *msg)
{
	const struct net_vcpu_state *s = &msg->u.cpu.vcpu;
	struct net_msg moved;
	const char *why = NULL;
	struct vcpu *v;
	int err;

	pthread_mutex_lock(&f->lock);
	switch (vcpumap_state(&f->map, from, s->vcpu, s->moves, &why)) {
	case VCPUMAP_TAKE:
		break;
	case VCPUMAP_BROKEN:
		/* The vCPU's node has let it go: refusing it must stop the
		 * machine (with the reason), never leave it parked. */
		pthread_mutex_unlock(&f->lock);
		vm_stop(f->vm, 1, "vCPU state from node %u for vcpu %u refused: %s",
			from, s->vcpu, why);
		return;
	default:
		/* Not from the node that runs it: the vCPU still runs there. */
		pthread_mutex_unlock(&f->lock);
		refuse(f, from, "vCPU state", s->vcpu, why);
		return;
	}
	v = f->vm->vcpus[s->vcpu];
	if (s->format != VCPUSTATE_FORMAT || vcpu_here(v)) {
		pthread_mutex_unlock(&f->lock);
		vm_stop(f->vm, 1, "vCPU state from node %u for vcpu %u refused: %s", from,
			s->vcpu, vcpu_here(v) ? "it runs here" : "unknown format");
		return;
	}
	err = vcpu_arrive(v, msg->data, msg->data_len);
	if (err) {
		pthread_mutex_unlock(&f->lock);
		vm_stop(f->vm, 1, "vcpu %u from node %u could not be restored here: %s",
			s->vcpu, from, strerror(-err));
		return;
	}
	apicbus_set_remote(f->vm->apicbus, s->vcpu, false);
	vcpumap_arrived(&f->map, s->vcpu, s->moves);
	/* Everyone else sends to it here from now on; until they know, the
	 * nodes it passed through send it on. Under the lock, so that this
	 * notice leaves before any ROUTE the vCPU sends from here (peers
	 * check a ROUTE against it). */
	cpu_msg(&moved, NET_CPU_MOVED);
	moved.u.cpu.moved.vcpu = s->vcpu;
	moved.u.cpu.moved.moves = s->moves;
	for (unsigned n = 0; n < f->nodes; n++)
		if (n != f->self)
			cluster_send(f->c, n, &moved);
	pthread_mutex_unlock(&f->lock);
	COUNT(f, moved_in);
	if (f->model.on_arrive)
		f->model.on_arrive(f->model.opaque, s->vcpu, from, s->waited_milli / 1000.0);
	pr_debug("vcpu %u arrived from node %u (%u bytes of state)", s->vcpu, from,
		msg->data_len);
}

/* Every other node's copy of a vCPU's routing registers follows, so that
 * its bus can pick a lowest-priority target among all vCPUs (apicbus.c).
 * Under the lock, so that the notice is ordered with a move of the vCPU
 * like any other message. */
void forward_route_out(struct forward *f, struct vcpu *v, const struct lapic_route *r)
{
	struct net_msg m;
	struct net_route *d = &m.u.cpu.route;

	if (v->index >= f->vm->nr_vcpus)
		return;
	cpu_msg(&m, NET_CPU_ROUTE);
	*d = (struct net_route){
		.vcpu = v->index, .id = r->id, .ldr = r->ldr, .dfr = r->dfr,
		.svr = r->svr, .apic_base = r->apic_base,
	};
	pthread_mutex_lock(&f->lock);
	vcpumap_route_next(&f->map, v->index, &d->moves, &d->seq);
	for (unsigned n = 0; n < f->nodes; n++)
		if (n != f->self && cluster_send(f->c, n, &m))
			pr_warn("routing registers of vcpu %u not sent to node %u: node unreachable",
				v->index, n);
	pthread_mutex_unlock(&f->lock);
}

/* Another node's vCPU changed its routing registers: taken from the node
 * that runs it (cpu/vcpumap.h). The vCPU's own node sends them in order,
 * and its state (which has them) follows them on the same link when it
 * moves. */
static void route_in(struct forward *f, unsigned from, const struct net_route *d)
{
	struct lapic_route r;
	const char *why = NULL;
	enum vcpumap_verdict verdict;

	r = (struct lapic_route){ .apic_base = d->apic_base, .id = d->id, .ldr = d->ldr,
				  .dfr = d->dfr, .svr = d->svr };
	pthread_mutex_lock(&f->lock);
	verdict = vcpumap_route(&f->map, from, d->vcpu, d->moves, d->seq, &why);
	if (verdict == VCPUMAP_TAKE && !vcpu_here(f->vm->vcpus[d->vcpu]))
		lapic_route_set(f->vm->vcpus[d->vcpu]->lapic, &r);
	pthread_mutex_unlock(&f->lock);
	if (verdict == VCPUMAP_REFUSE)
		refuse(f, from, "routing registers", d->vcpu, why);
}

static void moved_in(struct forward *f, unsigned from, const struct net_moved *c)
{
	const char *why = NULL;
	enum vcpumap_verdict verdict;

	pthread_mutex_lock(&f->lock);
	verdict = vcpumap_moved(&f->map, from, c->vcpu, c->moves, &why);
	pthread_mutex_unlock(&f->lock);
	if (verdict == VCPUMAP_REFUSE)
		refuse(f, from, "move notice", c->vcpu, why);
}

bool forward_where(struct forward *f, unsigned vcpu, unsigned *node)
{
	if (vcpu >= f->vm->nr_vcpus)
		return false;
	pthread_mutex_lock(&f->lock);
	*node = f->map.place[vcpu];
	pthread_mutex_unlock(&f->lock);
	return true;
}

uint32_t forward_moves(struct forward *f, unsigned vcpu)
{
	uint32_t m;

	if (vcpu >= f->vm->nr_vcpus)
		return 0;
	pthread_mutex_lock(&f->lock);
	m = f->map.moves[vcpu];
	pthread_mutex_unlock(&f->lock);
	return m;
}

/* ---- the API's requests (NET_CPU_CONTROL) --------------------------------- */

#define CONTROL_HOPS_MAX 16

/* Ask for the move here if the vCPU runs here, else send the request on
 * to where it runs (a vCPU that left meanwhile is chased, boundedly). */
static int control_move(struct forward *f, const struct net_cpu_control *c)
{
	struct net_msg m;
	unsigned where;
	int r = 0;

	if (c->vcpu >= f->vm->nr_vcpus || c->node >= f->nodes || !forward_movable(c->vcpu))
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	where = f->map.place[c->vcpu];
	if (where == f->self && vcpu_here(f->vm->vcpus[c->vcpu])) {
		if (c->node != f->self)
			vcpu_request_move(f->vm->vcpus[c->vcpu], (int)c->node);
	} else if (c->hops < CONTROL_HOPS_MAX && where != f->self) {
		cpu_msg(&m, NET_CPU_CONTROL);
		m.u.cpu.control = *c;
		m.u.cpu.control.hops = c->hops + 1;
		r = cluster_send(f->c, where, &m);
	} else {
		r = -EAGAIN;	/* arriving here right now, or chased too far */
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int forward_request_move(struct forward *f, unsigned vcpu, unsigned node)
{
	struct net_cpu_control c = { .what = NET_CPU_CTL_MOVE, .vcpu = vcpu, .node = node };

	return control_move(f, &c);
}

void forward_pause_all(struct forward *f, bool paused)
{
	struct net_msg m;

	cpu_msg(&m, NET_CPU_CONTROL);
	m.u.cpu.control.what = paused ? NET_CPU_CTL_PAUSE : NET_CPU_CTL_RESUME;
	for (unsigned n = 0; n < f->nodes; n++)
		if (n != f->self)
			cluster_send(f->c, n, &m);
	vm_pause(f->vm, paused);
}

static void control_in(struct forward *f, unsigned from, const struct net_cpu_control *c)
{
	bool pause_all = c->what != NET_CPU_CTL_MOVE;
	const char *why = NULL;

	/* The API runs on the coordinator, node 0, like the devices. */
	if (vcpumap_control(&f->map, from, FORWARD_DEVICE_NODE, pause_all, c->vcpu, c->node,
			    &why) != VCPUMAP_TAKE) {
		refuse(f, from, pause_all ? "pause or resume" : "move request", c->vcpu, why);
		return;
	}
	switch (c->what) {
	case NET_CPU_CTL_MOVE:
		if (control_move(f, c))
			pr_warn("cannot pass on node %u's request to move vCPU %u to node %u",
				from, c->vcpu, c->node);
		break;
	case NET_CPU_CTL_PAUSE:
	case NET_CPU_CTL_RESUME:
		vm_pause(f->vm, c->what == NET_CPU_CTL_PAUSE);
		break;
	}
}

void forward_eoi_out(struct forward *f, uint8_t vector)
{
	struct net_msg m;

	cpu_msg(&m, NET_CPU_EOI);
	m.u.cpu.eoi.vector = vector;
	COUNT(f, eoi_sent);
	cluster_send(f->c, FORWARD_DEVICE_NODE, &m);
}

/* ---- device access -------------------------------------------------------- */

int forward_io_out(struct forward *f, struct vcpu *vcpu, enum io_space space,
		   uint64_t addr, void *data, unsigned len, bool is_write)
{
	return forward_io_to(f, vcpu, FORWARD_DEVICE_NODE, space, addr, data, len, is_write);
}

int forward_io_to(struct forward *f, struct vcpu *vcpu, unsigned node, enum io_space space,
		  uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct io_wait *w;
	struct net_msg m;
	struct net_io_req *q = &m.u.cpu.io_req;
	struct timespec ts;
	unsigned waited = 0;
	int err;

	if (!vcpu || vcpu->index >= VM_MAX_VCPUS || !len || len > NET_IO_DATA_MAX ||
	    node >= f->nodes || node == f->self)
		return -EINVAL;
	w = &f->io[vcpu->index];
	pthread_mutex_lock(&w->lock);
	w->tag = __atomic_add_fetch(&f->seq, 1, __ATOMIC_RELAXED);
	w->node = node;
	w->done = false;
	pthread_mutex_unlock(&w->lock);

	cpu_msg(&m, NET_CPU_IO_REQ);
	q->tag = w->tag;
	q->addr = addr;
	q->vcpu = vcpu->index;
	q->space = space == IO_PIO ? NET_IO_PIO : NET_IO_MMIO;
	q->len = (uint8_t)len;
	q->is_write = is_write;
	if (is_write)
		memcpy(q->data, data, len);
	COUNT(f, io_sent);
	err = cluster_send(f->c, node, &m);
	if (err)
		goto fail;

	pthread_mutex_lock(&w->lock);
	while (!w->done && !vm_stopping(f->vm) && waited < IO_GIVE_UP_MS) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += IO_SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			waited += IO_SLICE_MS;
	}
	if (w->done) {
		if (!is_write)
			memcpy(data, w->reply.data, len);
		err = w->reply.status;
	} else {
		err = -ETIMEDOUT;
	}
	w->tag = 0;
	pthread_mutex_unlock(&w->lock);
	if (err == -ETIMEDOUT && !vm_stopping(f->vm)) {
		COUNT(f, io_timeouts);
		vm_stop(f->vm, 1, "device access %#lx forwarded by vcpu %u got no answer from node %u",
			(unsigned long)addr, vcpu->index, node);
	}
	if (!err)
		return 0;
fail:
	if (!is_write)
		memset(data, 0xff, len);
	return err;
}

/* On the node that has the device, on its serving thread (ioserve.h). A
 * node other than the devices' serves only what a device here claims (a
 * PCI device it hosts): anything else would go on to a third node, and
 * no node waits on a node that may be waiting on it. */
static void io_serve(void *opaque, unsigned from, const struct net_io_req *q)
{
	struct forward *f = opaque;
	struct net_msg m;
	struct net_io_reply *r = &m.u.cpu.io_reply;
	struct vcpu *v = q->vcpu < f->vm->nr_vcpus ? f->vm->vcpus[q->vcpu] : NULL;
	uint8_t data[NET_IO_DATA_MAX] = { 0 };
	enum io_space space = q->space == NET_IO_PIO ? IO_PIO : IO_MMIO;
	int err;

	if (q->is_write)
		memcpy(data, q->data, q->len);
	if (f->self != FORWARD_DEVICE_NODE && !iobus_owner(f->vm->iobus, space, q->addr)) {
		refuse(f, from, "device access", q->vcpu, "no device here claims it");
		memset(data, 0xff, sizeof(data));
		err = -ENODEV;
	} else {
		err = iobus_access(f->vm->iobus, space, v, q->addr, data, q->len,
				   q->is_write);
	}
	COUNT(f, io_served);
	cpu_msg(&m, NET_CPU_IO_REPLY);
	r->tag = q->tag;
	r->vcpu = q->vcpu;
	r->len = q->len;
	r->status = err < 0 && err >= -4095 ? err : 0;
	if (!q->is_write)
		memcpy(r->data, data, q->len);
	cluster_send(f->c, from, &m);
}

/* Only the node that runs the vCPU may make an access in its name: the
 * map is read under f->lock, as the MOVED that changes it is applied.
 * The access then waits for the I/O serving thread (ioserve.h). */
static void io_in(struct forward *f, unsigned from, const struct net_io_req *q)
{
	enum vcpumap_verdict verdict;
	const char *why = NULL;

	pthread_mutex_lock(&f->lock);
	verdict = vcpumap_io_req(&f->map, from, q->vcpu, &why);
	pthread_mutex_unlock(&f->lock);
	if (verdict != VCPUMAP_TAKE) {
		refuse(f, from, "device access", q->vcpu, why);
		return;
	}
	/* A vCPU waits for its answer before its next access. */
	if (ioserve_io(f->ios, from, q) == -EBUSY)
		refuse(f, from, "device access", q->vcpu,
		       "that vCPU's previous access is still queued");
}

static void eoi_serve(void *opaque, uint8_t vector)
{
	struct forward *f = opaque;

	ioapic_eoi(f->vm->ioapic, vector);
}

static void io_reply(struct forward *f, unsigned from, const struct net_io_reply *r)
{
	const char *why = NULL;
	struct io_wait *w;
	unsigned node;

	if (r->vcpu >= f->vm->nr_vcpus) {
		refuse(f, from, "device access reply", r->vcpu, "no such vCPU");
		return;
	}
	w = &f->io[r->vcpu];
	pthread_mutex_lock(&w->lock);
	node = w->tag ? w->node : FORWARD_DEVICE_NODE;
	if (vcpumap_io_reply(&f->map, from, node, r->vcpu, &why) != VCPUMAP_TAKE) {
		pthread_mutex_unlock(&w->lock);
		refuse(f, from, "device access reply", r->vcpu, why);
		return;
	}
	/* A reply for an access that timed out, or a forged tag, is dropped. */
	if (w->tag && w->tag == r->tag && !w->done) {
		w->reply = *r;
		w->done = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* ---- devices on any node (vmm/pcibus.h) ----------------------------------- */

void forward_set_pci_cfg(struct forward *f, forward_pci_cfg_fn *fn, void *opaque)
{
	f->pci_opaque = opaque;
	f->on_pci_cfg = fn;
}

void forward_pci_cfg_out(struct forward *f, unsigned slot, unsigned off, const void *val,
			 unsigned len)
{
	struct net_msg m;
	struct net_pci_cfg *c = &m.u.cpu.pci_cfg;

	if (slot > 255 || off >= 4096 || !len || len > 4)
		return;
	cpu_msg(&m, NET_CPU_PCI_CFG);
	c->slot = (uint8_t)slot;
	c->off = (uint16_t)off;
	c->len = (uint8_t)len;
	memcpy(c->data, val, len);
	/* A node that cannot be told is lost, and the guest stops with it. */
	for (unsigned n = 0; n < f->nodes; n++)
		if (n != f->self && cluster_send(f->c, n, &m))
			pr_warn("config write to PCI slot %u not sent to node %u: node unreachable",
				slot, n);
}

static void pci_cfg_in(struct forward *f, unsigned from, const struct net_pci_cfg *c)
{
	if (from != FORWARD_DEVICE_NODE) {
		refuse(f, from, "PCI config write", 0, "only node 0 has config space");
		return;
	}
	if (!f->on_pci_cfg || f->on_pci_cfg(f->pci_opaque, c->slot, c->off, c->data, c->len))
		refuse(f, from, "PCI config write", 0, "no such PCI function here");
}

void forward_intx_out(struct forward *f, unsigned gsi, int level)
{
	struct net_msg m;

	cpu_msg(&m, NET_CPU_INTX);
	m.u.cpu.intx.gsi = gsi;
	m.u.cpu.intx.level = level != 0;
	if (cluster_send(f->c, FORWARD_DEVICE_NODE, &m))
		pr_warn("INTx level of GSI %u not sent to node %d: node unreachable", gsi,
			FORWARD_DEVICE_NODE);
}

static void intx_in(struct forward *f, unsigned from, const struct net_intx *q)
{
	/* The IOAPIC's pins, the PCI ones (16-23) being the only sensible. */
	if (q->gsi < 16 || q->gsi >= 24) {
		refuse(f, from, "INTx level", 0, "not a PCI interrupt pin");
		return;
	}
	vm_set_irq(f->vm, q->gsi, q->level);
}

/* The one dispatch of a CPU message: the wire has checked its op, its
 * length and the op's closed sets; ranges known only here are checked by
 * each handler. */
int forward_receive(struct forward *f, unsigned from, const struct net_msg *m)
{
	const struct net_cpu *c = &m->u.cpu;

	if (m->type != NET_MSG_CPU)
		return -EPROTO;
	switch (c->op) {
	case NET_CPU_IRQ:
		irq_in(f, from, &c->irq);
		return 0;
	case NET_CPU_IO_REQ:
		io_in(f, from, &c->io_req);
		return 0;
	case NET_CPU_IO_REPLY:
		io_reply(f, from, &c->io_reply);
		return 0;
	case NET_CPU_STATE:
		vcpu_in(f, from, m);
		return 0;
	case NET_CPU_EOI:
		if (f->self != FORWARD_DEVICE_NODE)
			return -EPROTO;
		COUNT(f, eoi_received);
		ioserve_eoi(f->ios, c->eoi.vector);
		return 0;
	case NET_CPU_MOVED:
		moved_in(f, from, &c->moved);
		return 0;
	case NET_CPU_ROUTE:
		route_in(f, from, &c->route);
		return 0;
	case NET_CPU_LOAD:
		if (f->model.on_load)
			f->model.on_load(f->model.opaque, from, &c->load);
		return 0;
	case NET_CPU_CONTROL:
		/* Only the coordinator's API asks, or a node passing it on. */
		control_in(f, from, &c->control);
		return 0;
	case NET_CPU_PCI_CFG:
		pci_cfg_in(f, from, &c->pci_cfg);
		return 0;
	case NET_CPU_INTX:
		if (f->self != FORWARD_DEVICE_NODE)
			return -EPROTO;
		intx_in(f, from, &c->intx);
		return 0;
	default:
		return -EPROTO;
	}
}

int forward_new(struct forward **out, struct vm *vm, struct cluster *c,
		const uint8_t *place, const struct forward_model *model)
{
	struct forward *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	if (!f)
		return -ENOMEM;
	f->vm = vm;
	f->c = c;
	f->self = cluster_self(c);
	f->nodes = cluster_nodes(c);
	if (model)
		f->model = *model;
	if (vcpumap_init(&f->map, f->self, f->nodes, vm->nr_vcpus, place)) {
		free(f);
		return -EINVAL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->log_lock, NULL);
	f->blob_cap = vm->nr_vcpus ? vcpu_state_max(vm->vcpus[0]) : 0;
	if (f->blob_cap) {
		f->blob = malloc(f->blob_cap);
		if (!f->blob) {
			free(f);
			return -ENOMEM;
		}
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		pthread_mutex_init(&f->io[i].lock, NULL);
		pthread_cond_init(&f->io[i].cond, &ca);
	}
	pthread_condattr_destroy(&ca);
	/* Every node may host a device (a disk with node=N): every node
	 * serves the accesses other nodes forward on a thread of its own. */
	{
		int err = ioserve_new(&f->ios, vm->nr_vcpus,
				      &(struct ioserve_ops){ .io = io_serve, .eoi = eoi_serve }, f);

		if (err) {
			forward_free(f);
			return err;
		}
	}
	*out = f;
	return 0;
}

void forward_stop(struct forward *f)
{
	if (f)
		ioserve_stop(f->ios);
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	ioserve_free(f->ios);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		pthread_mutex_destroy(&f->io[i].lock);
		pthread_cond_destroy(&f->io[i].cond);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->log_lock);
	free(f->blob);
	free(f);
}

void forward_stats(struct forward *f, struct forward_stats *out)
{
	*out = f->st;
	out->io_queue_peak = f->ios ? ioserve_peak(f->ios) : 0;
}
