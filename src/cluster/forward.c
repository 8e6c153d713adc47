#include "cluster/forward.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster.h"
#include "irq/apicbus.h"
#include "irq/ioapic.h"
#include "irq/lapic.h"
#include "util/log.h"
#include "vmm/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define IO_SLICE_MS 100
#define IO_GIVE_UP_MS 10000

/* One outstanding forwarded access per vCPU (a vCPU waits for its own). */
struct io_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t tag;
	bool done;
	struct net_io_reply reply;
};

struct forward {
	struct vm *vm;
	struct cluster *c;
	uint8_t place[VM_MAX_VCPUS];
	unsigned self, nodes;
	uint64_t vcpu_nodes;	/* bit n: node n runs some vCPU */
	uint64_t seq;
	struct io_wait io[VM_MAX_VCPUS];
	struct forward_stats st;
};

#define COUNT(f, field) __atomic_add_fetch(&(f)->st.field, 1, __ATOMIC_RELAXED)

/* ---- interrupts ---------------------------------------------------------- */

static void to_net(const struct apic_msg *a, int target, struct net_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_IRQ;
	m->u.irq.dest = a->dest;
	m->u.irq.source = a->source;
	m->u.irq.vector = a->vector;
	m->u.irq.delivery = a->delivery;
	m->u.irq.dest_logical = a->dest_logical;
	m->u.irq.shorthand = a->shorthand;
	m->u.irq.level = a->level;
	m->u.irq.trigger_level = a->trigger_level;
	m->u.irq.x2apic = a->x2apic;
	m->u.irq.target_vcpu = target;
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

/* apicbus forward callback: any thread. */
static void irq_out(void *opaque, const struct apic_msg *a, int target)
{
	struct forward *f = opaque;
	struct net_msg m;

	to_net(a, target, &m);
	if (target >= 0) {
		COUNT(f, irq_sent);
		if (cluster_send(f->c, f->place[target], &m))
			pr_warn("IPI for vcpu %d on node %u lost: node unreachable", target,
				f->place[target]);
		return;
	}
	for (unsigned n = 0; n < f->nodes; n++) {
		if (n == f->self || !(f->vcpu_nodes & (1ULL << n)))
			continue;
		COUNT(f, irq_sent);
		cluster_send(f->c, n, &m);
	}
}

static void irq_in(struct forward *f, const struct net_irq *q)
{
	struct apic_msg a;
	int t = q->target_vcpu;

	from_net(q, &a);
	COUNT(f, irq_received);
	if (t < 0) {
		apicbus_deliver_local(f->vm->apicbus, &a);
		return;
	}
	if ((unsigned)t >= f->vm->nr_vcpus)
		return;
	if (f->vm->local[t]) {
		lapic_deliver(f->vm->vcpus[t]->lapic, &a);
		return;
	}
	/* Not ours (any more): pass it on, at most a few times. */
	if (q->hops < 4) {
		struct net_msg m;
		to_net(&a, t, &m);
		m.u.irq.hops = q->hops + 1;
		cluster_send(f->c, f->place[t], &m);
	}
}

static void eoi_out(void *opaque, uint8_t vector)
{
	struct forward *f = opaque;
	struct net_msg m = { .type = NET_MSG_CONTROL };

	m.u.control.op = NET_CTL_EOI;
	m.u.control.code = vector;
	COUNT(f, eoi_sent);
	cluster_send(f->c, FORWARD_DEVICE_NODE, &m);
}

/* ---- device access -------------------------------------------------------- */

static int io_out(void *opaque, struct vcpu *vcpu, enum io_space space,
		  uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct forward *f = opaque;
	struct io_wait *w;
	struct net_msg m = { .type = NET_MSG_IO_REQ };
	struct timespec ts;
	unsigned waited = 0;
	int err;

	if (!vcpu || vcpu->index >= VM_MAX_VCPUS || len > NET_IO_DATA_MAX)
		return -EINVAL;
	w = &f->io[vcpu->index];
	pthread_mutex_lock(&w->lock);
	w->tag = __atomic_add_fetch(&f->seq, 1, __ATOMIC_RELAXED);
	w->done = false;
	pthread_mutex_unlock(&w->lock);

	m.u.io_req.tag = w->tag;
	m.u.io_req.addr = addr;
	m.u.io_req.vcpu = vcpu->index;
	m.u.io_req.space = space == IO_PIO ? NET_IO_PIO : NET_IO_MMIO;
	m.u.io_req.len = (uint8_t)len;
	m.u.io_req.is_write = is_write;
	if (is_write)
		memcpy(m.u.io_req.data, data, len);
	COUNT(f, io_sent);
	err = cluster_send(f->c, FORWARD_DEVICE_NODE, &m);
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
		vm_stop(f->vm, 1, "device access %#lx forwarded by vcpu %u got no answer from node %d",
			(unsigned long)addr, vcpu->index, FORWARD_DEVICE_NODE);
	}
	if (!err)
		return 0;
fail:
	if (!is_write)
		memset(data, 0xff, len);
	return err;
}

/* On the devices' node, from the receive thread. */
static void io_serve(struct forward *f, unsigned from, const struct net_io_req *q)
{
	struct net_msg m = { .type = NET_MSG_IO_REPLY };
	struct vcpu *v = q->vcpu < f->vm->nr_vcpus ? f->vm->vcpus[q->vcpu] : NULL;
	uint8_t data[NET_IO_DATA_MAX] = { 0 };
	int err;

	if (q->is_write)
		memcpy(data, q->data, q->len);
	err = iobus_access(f->vm->iobus, q->space == NET_IO_PIO ? IO_PIO : IO_MMIO, v,
			   q->addr, data, q->len, q->is_write);
	COUNT(f, io_served);
	m.u.io_reply.tag = q->tag;
	m.u.io_reply.vcpu = q->vcpu;
	m.u.io_reply.len = q->len;
	m.u.io_reply.status = err < 0 && err >= -4095 ? err : 0;
	if (!q->is_write)
		memcpy(m.u.io_reply.data, data, q->len);
	cluster_send(f->c, from, &m);
}

static void io_reply(struct forward *f, const struct net_io_reply *r)
{
	struct io_wait *w;

	if (r->vcpu >= VM_MAX_VCPUS)
		return;
	w = &f->io[r->vcpu];
	pthread_mutex_lock(&w->lock);
	/* A reply for an access that timed out, or a forged tag, is dropped. */
	if (w->tag && w->tag == r->tag && !w->done) {
		w->reply = *r;
		w->done = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

int forward_receive(struct forward *f, unsigned from, const struct net_msg *m)
{
	switch (m->type) {
	case NET_MSG_IRQ:
		irq_in(f, &m->u.irq);
		return 0;
	case NET_MSG_IO_REQ:
		if (f->self != FORWARD_DEVICE_NODE)
			return -EPROTO;
		io_serve(f, from, &m->u.io_req);
		return 0;
	case NET_MSG_IO_REPLY:
		io_reply(f, &m->u.io_reply);
		return 0;
	case NET_MSG_CONTROL:
		if (m->u.control.op == NET_CTL_EOI && f->self == FORWARD_DEVICE_NODE &&
		    m->u.control.code >= 0 && m->u.control.code < 256) {
			COUNT(f, eoi_received);
			ioapic_eoi(f->vm->ioapic, (uint8_t)m->u.control.code);
			return 0;
		}
		return -EPROTO;
	default:
		return -EPROTO;
	}
}

int forward_new(struct forward **out, struct vm *vm, struct cluster *c,
		const uint8_t *place)
{
	struct forward *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	if (!f)
		return -ENOMEM;
	f->vm = vm;
	f->c = c;
	f->self = cluster_self(c);
	f->nodes = cluster_nodes(c);
	memcpy(f->place, place, vm->nr_vcpus);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		f->vcpu_nodes |= 1ULL << place[i];
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		pthread_mutex_init(&f->io[i].lock, NULL);
		pthread_cond_init(&f->io[i].cond, &ca);
	}
	pthread_condattr_destroy(&ca);
	apicbus_set_forward(vm->apicbus, irq_out, f);
	if (f->self != FORWARD_DEVICE_NODE) {
		iobus_set_fallback(vm->iobus, io_out, f);
		vm->eoi_opaque = f;
		vm->eoi_hook = eoi_out;
	}
	*out = f;
	return 0;
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		pthread_mutex_destroy(&f->io[i].lock);
		pthread_cond_destroy(&f->io[i].cond);
	}
	free(f);
}

void forward_stats(struct forward *f, struct forward_stats *out)
{
	*out = f->st;
}
