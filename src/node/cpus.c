/* A node's side of the page-or-vCPU cost model (cpu/affinity.h): what
 * this node's host offers and what its vCPUs want, fed from the memory
 * plane's remote faults, the peers' LOAD messages and the scheduler's
 * figures every 100 ms, and the moves it decides. Everything in n->aff is
 * under n->aff_lock; the memory plane calls node_remote_fault and
 * node_local_fresh under its own lock, so nothing here takes the plane's. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cluster/cluster.h"
#include "cpu/forward.h"
#include "cpu/hostcpu.h"
#include "memplane/memplane.h"
#include "node/node_int.h"
#include "util/log.h"
#include "vmm/vcpu.h"

/* node_balance_cpus hands the model one bit per vCPU. */
static_assert(VM_MAX_VCPUS <= AFFINITY_MAX_VCPUS && AFFINITY_MAX_VCPUS <= 64,
	      "movable vCPUs fit in a uint64_t mask");
/* A page's tag is its vCPU's index + 1 (memplane_give_back). */
static_assert(VM_MAX_VCPUS < MEMPLANE_TAGS, "every vCPU has a tag");

/* The vCPU whose thread is tid, NULL for none (a device's thread). */
static struct vcpu *vcpu_of_thread(struct node *n, pid_t tid)
{
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++)
		if (__atomic_load_n(&n->vm.vcpus[i]->tid, __ATOMIC_ACQUIRE) == tid)
			return n->vm.vcpus[i];
	return NULL;
}

/* A vCPU here waited for a page from node 'from': should it rather
 * move there, or home for its memory there (pages of its home's range)? */
unsigned node_remote_fault(void *opaque, pid_t tid, uint64_t page, unsigned from,
			   bool repeat, bool fresh, uint64_t wait_ns)
{
	struct node *n = opaque;
	struct vcpu *v = vcpu_of_thread(n, tid);
	int to;
	double wait = 0, gain = 0;
	bool home = false;
	char why[128] = "";

	if (!v)
		return 0;
	/* For the API and metrics: each vCPU's time waiting for pages here. */
	__atomic_add_fetch(&n->page_wait_ns[v->index], wait_ns, __ATOMIC_RELAXED);
	if (!n->aff_on || !forward_movable(v->index) || !vcpu_here(v) || vcpu_moving(v))
		return v->index + 1;
	pthread_mutex_lock(&n->aff_lock);
	to = affinity_fault(&n->aff, v->index, n->p.self, from, dsm_home(&n->layout, page),
			    fresh, repeat, wait_ns, vcpu_now_ns());
	if (to >= 0) {
		const struct affinity *f = &n->aff;

		affinity_left(&n->aff, v->index);
		n->page_moves++;
		n->home_moves += f->last_home;
		wait = f->last_wait_to;
		gain = f->last_gain;
		home = f->last_home;
		/* The figures the gain was weighed on, for whoever wonders
		 * why a vCPU went where it did. */
		snprintf(why, sizeof(why), "there %.2f of %.2f CPUs wanted, here %.2f of %.2f, "
			 "by this vCPU %.2f", f->last_load[1], f->last_cpus[1], f->last_load[0],
			 f->last_cpus[0], f->last_demand);
	}
	pthread_mutex_unlock(&n->aff_lock);
	if (to < 0)
		return v->index + 1;
	if (home)
		pr_info("vcpu %u waits for its own memory on node %d, its home (%.0f%% of its "
			"time): going home gains %.2f CPUs (%s)", v->index, to, wait * 100, gain,
			why);
	else
		pr_info("vcpu %u keeps waiting for pages from node %d (%.0f%% of its time): "
			"moving it there gains %.2f CPUs (%s)", v->index, to, wait * 100, gain,
			why);
	vcpu_request_move(v, to);
	return v->index + 1;
}

/* A vCPU here took new memory of this node's range: it is placing data
 * here, which a pull would leave behind (affinity.h, "New memory"). */
void node_local_fresh(void *opaque, pid_t tid)
{
	struct node *n = opaque;
	struct vcpu *v = n->aff_on ? vcpu_of_thread(n, tid) : NULL;

	if (!v || !vcpu_here(v) || vcpu_moving(v))
		return;
	pthread_mutex_lock(&n->aff_lock);
	affinity_fresh(&n->aff, v->index, n->p.self, vcpu_now_ns());
	pthread_mutex_unlock(&n->aff_lock);
}

int node_vcpu_home(const struct node *n, unsigned vcpu)
{
	unsigned h;

	if (vcpu >= n->p.cpus)
		return -1;
	h = n->p.place[vcpu];
	return n->layout.end[h] > dsm_range_first(&n->layout, h) ? (int)h : -1;
}

/* A peer's CPUs and load, for the CPU rule (affinity.h). */
void node_on_load(void *opaque, unsigned from, const struct net_load *l)
{
	struct node *n = opaque;
	bool first;
	int r;

	if (from == n->p.self || from >= CLUSTER_MAX_NODES)
		return;
	pthread_mutex_lock(&n->aff_lock);
	/* What the API shows of the other nodes, whatever the model does. */
	n->peer[from].known = true;
	n->peer[from].cpus = l->cpus_milli / 1000.0;
	n->peer[from].load = l->load_milli / 1000.0;
	if (!n->aff_on) {
		pthread_mutex_unlock(&n->aff_lock);
		return;
	}
	first = !n->aff.node[from].known;
	r = affinity_node_load(&n->aff, from, l->pool, l->cpus_milli / 1000.0,
			       l->load_milli / 1000.0);
	if (!r)
		affinity_node_fresh(&n->aff, from, l->fresh);
	pthread_mutex_unlock(&n->aff_lock);
	if (!r && first)
		pr_info("node %u offers %u.%03u CPUs, %s", from, l->cpus_milli / 1000,
			l->cpus_milli % 1000, l->pool == n->pool ?
			"shared with this node (one host)" : "of its own");
	if (r && !n->load_warned[from]) {
		n->load_warned[from] = true;
		pr_warn("node %u says its vCPUs want %u.%03u CPUs of %u.%03u, which "
			"cannot be: its loads are ignored", from, l->load_milli / 1000,
			l->load_milli % 1000, l->cpus_milli / 1000, l->cpus_milli % 1000);
	}
}

void node_on_arrive(void *opaque, unsigned vcpu, unsigned from, double waited)
{
	struct node *n = opaque;

	/* Back: what it took here before is its own again. */
	if (n->mem)
		memplane_give_back(n->mem, vcpu + 1, -1);
	if (!n->aff_on)
		return;
	pthread_mutex_lock(&n->aff_lock);
	affinity_came(&n->aff, vcpu, n->p.self, from, waited, vcpu_now_ns());
	pthread_mutex_unlock(&n->aff_lock);
}

double node_waited_for(struct node *n, unsigned vcpu, unsigned of)
{
	double w;

	if (!n->aff_on)
		return 0;
	pthread_mutex_lock(&n->aff_lock);
	w = affinity_waited_for(&n->aff, vcpu, of, vcpu_now_ns());
	pthread_mutex_unlock(&n->aff_lock);
	return w;
}

void node_cpus_init(struct node *n)
{
	uint64_t ns;

	n->cpus = n->offered ? n->offered : hostcpu_count();
	if (!hostcpu_pool(&n->pool)) {
		/* Not knowing the host must not merge it with others. */
		n->pool = (uint64_t)getpid() << 20 ^ __rdtsc();
		if (n->aff_on && !n->offered)
			pr_warn("cannot read this host's boot id: node %u counts its CPUs "
				"as its own, even if other nodes run on this host", n->p.self);
	}
	/* CPUs given explicitly are this node's alone. */
	if (n->offered)
		n->pool ^= 0x9e3779b97f4a7c15ull * (n->p.self + 1);
	n->sched_ok = hostcpu_thread_demand_ns(getpid(), &ns);
	if (n->aff_on && !n->sched_ok)
		pr_info("this kernel does not report threads' run time "
			"(/proc/PID/task/TID/schedstat): vCPUs will not move for CPUs");
	/* This node's own pool is known from the start, for the page rule's
	 * room check, even if its load never is. */
	if (n->aff_on)
		affinity_own_load(&n->aff, n->p.self, n->pool, n->cpus);
}

static void publish_load(struct node *n, double load, double fresh)
{
	struct net_msg m = { .type = NET_MSG_CPU };

	m.u.cpu.op = NET_CPU_LOAD;
	m.u.cpu.load = (struct net_load){
		.pool = n->pool,
		.cpus_milli = (uint32_t)(n->cpus * 1000),
		.load_milli = (uint32_t)(load * 1000 + 0.5),
		.fresh = fresh < UINT32_MAX ? (uint32_t)(fresh + 0.5) : UINT32_MAX,
	};
	for (unsigned i = 0; i < n->p.nr_nodes; i++)
		if (i != n->p.self)
			cluster_send(n->cluster, i, &m);
}

/* Every 100 ms: sample what each vCPU here wanted, tell the other nodes
 * this node's load, and move a vCPU if this host's CPUs are oversubscribed
 * and another's have room (affinity.h, the CPU rule). */
void node_balance_cpus(struct node *n)
{
	uint64_t now = vcpu_now_ns(), movable = 0, ns[VM_MAX_VCPUS];
	bool ok[VM_MAX_VCPUS], gone[VM_MAX_VCPUS], describe;
	char why[VM_MAX_VCPUS][200];
	double wanted, cpus, load, fresh;
	unsigned vi = 0;
	int to;

	/* The scheduler's figures first: file reads are not for under the
	 * lock the receive thread and the memory plane's callback take. A
	 * vCPU asked to move is on its way out: neither sampled nor sent. */
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu *v = n->vm.vcpus[i];
		pid_t tid = __atomic_load_n(&v->tid, __ATOMIC_ACQUIRE);

		gone[i] = !vcpu_here(v);
		ok[i] = !gone[i] && !vcpu_moving(v) && tid > 0 &&
			hostcpu_thread_demand_ns(tid, &ns[i]);
	}
	pthread_mutex_lock(&n->aff_lock);
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		/* A vCPU that has left is not this node's load, even if a
		 * sample taken while it was leaving (its thread has taken the
		 * request, and is sending its state) counted it here again:
		 * seen in the lab, a vCPU pushed away went on counting 0.36 of
		 * node 0's CPU, and the page rule weighed every pull into node
		 * 0 against that phantom load. */
		if (gone[i] && !vcpu_here(n->vm.vcpus[i]))	/* not back since */
			affinity_left(&n->aff, i);
		if (!ok[i]) {
			n->sched_at[i] = 0;
			continue;
		}
		if (!n->sched_at[i])
			affinity_arrived(&n->aff, i, n->p.self, now);
		else if (now > n->sched_at[i] && ns[i] >= n->sched_ns[i])
			affinity_demand(&n->aff, i, n->p.self,
					(double)(ns[i] - n->sched_ns[i]) /
					(double)(now - n->sched_at[i]), now);
		n->sched_ns[i] = ns[i];
		n->sched_at[i] = now;
		if (forward_movable(i) && i < 64)
			movable |= 1ull << i;
	}
	wanted = affinity_own_load(&n->aff, n->p.self, n->pool, n->cpus);
	cpus = n->cpus;
	to = affinity_balance(&n->aff, n->p.self, movable, now, &vi);
	if (to >= 0) {
		affinity_left(&n->aff, vi);
		n->cpu_moves++;
	}
	/* With the vCPU just sent away already counted where it goes. */
	load = n->aff.node[n->p.self].load;
	fresh = affinity_own_fresh(&n->aff, n->p.self, now);
	n->last_load = wanted;
	/* Once a second at debug level, why each vCPU here stays (printed
	 * after the lock). */
	describe = log_get_level() >= LOG_DEBUG && !(n->balances++ % 10);
	for (unsigned i = 0; describe && i < n->vm.nr_vcpus; i++)
		if (!ok[i] || affinity_describe(&n->aff, i, now, why[i], sizeof(why[i])) <= 0)
			why[i][0] = 0;
	pthread_mutex_unlock(&n->aff_lock);
	for (unsigned i = 0; describe && i < n->vm.nr_vcpus; i++)
		if (why[i][0])
			pr_debug("vcpu %u on node %u: %s; node %u wants %.2f of %.0f CPUs", i,
				 n->p.self, why[i], n->p.self, wanted, cpus);
	publish_load(n, load, fresh);
	if (to < 0) {
		if (wanted > cpus)
			pr_debug("the vCPUs on node %u want %.2f CPUs of %.0f; none moves",
				 n->p.self, wanted, cpus);
		return;
	}
	pr_info("the vCPUs on node %u want %.1f CPUs of %.0f: moving vcpu %u to node %d, "
		"which has CPUs to spare", n->p.self, wanted, cpus, vi, to);
	vcpu_request_move(n->vm.vcpus[vi], to);
}
