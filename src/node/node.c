#include "node/node.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <time.h>
#include <x86intrin.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/affinity.h"
#include "cluster/cluster.h"
#include "cpu/forward.h"
#include "cpu/hostcpu.h"
#include "cluster/params.h"
#include "cluster/rtt.h"
#include "cpu/tscsync.h"
#include "cluster/spawn.h"
#include "dsm/dsm.h"
#include "memplane/memplane.h"
#include "irq/lapic.h"
#include "net/addr.h"
#include "net/auth.h"
#include "util/log.h"
#include "vmm/board.h"
#include "hw/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "x86/boot.h"
#include "x86/regs.h"
#include "x86/topo.h"

#define EXIT_USAGE 2
#define START_TIMEOUT_S 60

/* balance_cpus hands the model one bit per vCPU. */
static_assert(VM_MAX_VCPUS <= AFFINITY_MAX_VCPUS && AFFINITY_MAX_VCPUS <= 64,
	      "movable vCPUs fit in a uint64_t mask");

/* Everything one node owns while the guest runs. */
struct node {
	struct cluster_params p;
	struct vm vm;
	bool vm_ok;
	struct board *board;
	struct cluster *cluster;
	struct memplane *mem;
	struct dsm_layout layout;	/* home ranges, also the guest's NUMA nodes */
	struct forward *fwd;
	struct auth_key key;
	bool stats;
	struct rtt_server *rtt;
	/* The page-or-vCPU model for this node's vCPUs, under aff_lock: the
	 * memory plane's remote_fault callback, peers' LOAD messages and the
	 * CPU balance every 100 ms all use it. */
	struct affinity aff;
	pthread_mutex_t aff_lock;
	bool aff_on;
	/* The CPUs this node offers (--node-cpus, or its host's) and the pool
	 * they belong to (the host's boot id; a pool of its own if given). */
	unsigned offered;
	double cpus;
	uint64_t pool;
	bool sched_ok;		/* the kernel reports threads' run and wait time */
	double last_load;	/* what the vCPUs here wanted at the last sample */
	unsigned long cpu_moves, page_moves;	/* vCPUs sent away by each rule */
	uint64_t sched_ns[VM_MAX_VCPUS], sched_at[VM_MAX_VCPUS];
	bool load_warned[CLUSTER_MAX_NODES];
};

static volatile sig_atomic_t stats_requested, stop_signal;

static void on_sigusr1(int sig)
{
	stats_requested = 1;
}

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* ---- glue between the planes ---------------------------------------------- */

static int mem_send(void *opaque, unsigned to, const struct net_msg *msg)
{
	struct node *n = opaque;

	return cluster_send(n->cluster, to, msg);
}

static void mem_fatal(void *opaque, const char *why)
{
	struct node *n = opaque;

	vm_stop(&n->vm, 1, "memory plane: %s", why);
}

/* A vCPU here waited for a page from node 'from': should it rather
 * move there? */
static void mem_remote_fault(void *opaque, pid_t tid, unsigned from, bool repeat,
			     uint64_t wait_ns)
{
	struct node *n = opaque;
	struct vcpu *v = NULL;
	int to;

	if (!n->aff_on)
		return;
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++)
		if (n->vm.vcpus[i]->tid == tid) {
			v = n->vm.vcpus[i];
			break;
		}
	if (!v || !forward_movable(v->index) || !vcpu_here(v) || vcpu_moving(v))
		return;
	pthread_mutex_lock(&n->aff_lock);
	to = affinity_fault(&n->aff, v->index, n->p.self, from, repeat, wait_ns,
			    vcpu_now_ns());
	if (to >= 0) {
		affinity_left(&n->aff, v->index);
		n->page_moves++;
		pr_debug("page rule: node %d %s, wants %.2f of %.2f CPUs; this node %s",
			 to, n->aff.node[to].known ? "known" : "unknown",
			 n->aff.node[to].load, n->aff.node[to].cpus,
			 n->aff.node[n->p.self].known ? "known" : "unknown");
	}
	pthread_mutex_unlock(&n->aff_lock);
	if (to < 0)
		return;
	pr_info("vcpu %u keeps waiting for pages from node %d: moving it there",
		v->index, to);
	vcpu_request_move(v, to);
}

static const struct memplane_ops mem_ops = {
	.send = mem_send,
	.fatal = mem_fatal,
	.remote_fault = mem_remote_fault,
};

static int on_dsm(void *opaque, unsigned from, const struct net_msg *msg)
{
	struct node *n = opaque;
	int r;

	if (!n->mem)
		return -EPROTO;
	/* A page message still on its way when the guest stopped is not the
	 * sender's fault: drop it without a warning. */
	r = memplane_receive(n->mem, from, msg);
	return r == -ESHUTDOWN ? 0 : r;
}

static int on_cpu(void *opaque, unsigned from, const struct net_msg *msg)
{
	struct node *n = opaque;

	return n->fwd ? forward_receive(n->fwd, from, msg) : -EPROTO;
}

/* A peer's CPUs and load, for the CPU rule (affinity.h). */
static void on_load(void *opaque, unsigned from, const struct net_load *l)
{
	struct node *n = opaque;
	bool first;
	int r;

	if (!n->aff_on || from == n->p.self || from >= CLUSTER_MAX_NODES)
		return;
	pthread_mutex_lock(&n->aff_lock);
	first = !n->aff.node[from].known;
	r = affinity_node_load(&n->aff, from, l->pool, l->cpus_milli / 1000.0,
			       l->load_milli / 1000.0);
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

static void on_cluster_stop(void *opaque, int status, const char *reason)
{
	struct node *n = opaque;

	vm_stop(&n->vm, status, "%s", reason);
}

static const struct cluster_handlers cluster_h = {
	.dsm = on_dsm,
	.cpu = on_cpu,
	.stop = on_cluster_stop,
	.load = on_load,
};

/* The local guest stopped (exit port, reset, crash): tell every node. */
static void on_vm_stop(void *opaque, int status, const char *reason)
{
	struct node *n = opaque;

	if (n->cluster)
		cluster_stop_all(n->cluster, status, reason);
}

static void print_stats(struct node *n)
{
	struct iobus_stats io;

	iobus_stats(n->vm.iobus, &io);
	fprintf(stderr, "amalgam[%u] stats: pio=%lu (unclaimed %lu) mmio=%lu (unclaimed %lu)\n",
		n->p.self,
		(unsigned long)io.accesses[IO_PIO], (unsigned long)io.unclaimed[IO_PIO],
		(unsigned long)io.accesses[IO_MMIO], (unsigned long)io.unclaimed[IO_MMIO]);
	/* A running vCPU exits at the kick and records where it was; one
	 * blocked on a remote page keeps the RIP of its previous sample. */
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++)
		if (n->vm.local[i] && !vm_stopping(&n->vm))
			vcpu_sample_rip(n->vm.vcpus[i]);
	if (!vm_stopping(&n->vm))
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu_stats *s;
		struct lapic_stats ls;

		/* Those that ran here, now or before they moved. */
		if (!vcpu_here(n->vm.vcpus[i]) && !n->vm.vcpus[i]->stats.exits)
			continue;
		s = &n->vm.vcpus[i]->stats;
		lapic_stats(n->vm.vcpus[i]->lapic, &ls);
		fprintf(stderr,
			"amalgam[%u]   vcpu %u: exits=%lu io=%lu mmio=%lu msr=%lu hlt=%lu irqwin=%lu kicks=%lu"
			" injected=%lu ipis_sent=%lu irqs=%lu timer=%lu rip=%#llx\n", n->p.self, i,
			(unsigned long)s->exits, (unsigned long)s->io_exits,
			(unsigned long)s->mmio_exits, (unsigned long)s->msr_exits,
			(unsigned long)s->hlt_exits, (unsigned long)s->irq_window_exits,
			(unsigned long)s->intr_exits, (unsigned long)s->injected,
			(unsigned long)ls.ipis_sent, (unsigned long)ls.irqs_accepted,
			(unsigned long)ls.timer_fires,
			(unsigned long long)vcpu_sampled_rip(n->vm.vcpus[i]));
	}
	if (n->fwd) {
		struct forward_stats f;

		forward_stats(n->fwd, &f);
		fprintf(stderr,
			"amalgam[%u] cross-node: interrupts sent %lu received %lu, EOIs sent %lu received %lu,"
			" device accesses forwarded %lu served %lu timed out %lu,"
			" vCPUs moved out %lu in %lu\n", n->p.self,
			(unsigned long)f.irq_sent, (unsigned long)f.irq_received,
			(unsigned long)f.eoi_sent, (unsigned long)f.eoi_received,
			(unsigned long)f.io_sent, (unsigned long)f.io_served,
			(unsigned long)f.io_timeouts, (unsigned long)f.moved_out,
			(unsigned long)f.moved_in);
	}
	if (n->aff_on) {
		pthread_mutex_lock(&n->aff_lock);
		fprintf(stderr,
			"amalgam[%u] cost model: vCPUs sent to their pages %lu, to spare CPUs %lu;"
			" CPUs offered %.0f (%s), wanted at the last sample %.2f\n", n->p.self,
			n->page_moves, n->cpu_moves, n->cpus,
			n->offered ? "its own" : "its host's, shared with any node there",
			n->sched_ok ? n->last_load : 0.0);
		pthread_mutex_unlock(&n->aff_lock);
	}
	if (n->mem)
		memplane_print_stats(n->mem, stderr);
	if (n->cluster)
		cluster_print_stats(n->cluster);
}

/* The first word of a one-line kernel file (sysfs, procfs) into out;
 * false if it cannot be read. */
static bool read_word(const char *path, char *out, size_t len)
{
	char fmt[16];
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f || len < 2) {
		if (f)
			fclose(f);
		return false;
	}
	snprintf(fmt, sizeof(fmt), "%%%zus", len - 1);
	ok = fscanf(f, fmt, out) == 1;
	fclose(f);
	return ok;
}

/* With accessed and dirty flags for EPT (kvm_intel eptad=Y), every read of
 * a guest page-table entry by the page walker counts as a write to its page
 * (Intel SDM, "EPT Violations"). Shared copies of page tables then turn
 * into write faults on every TLB refill, and the page tables of a guest
 * running on several nodes bounce between them without end. QEMU's TCG
 * does the same through AMD nested paging, which is why the lab loads
 * kvm_amd npt=0 for runs across nodes. */
static void warn_paging_walks(void)
{
	char v[8];

	if (read_word("/sys/module/kvm_intel/parameters/eptad", v, sizeof(v)) &&
	    v[0] == 'Y')
		pr_warn("kvm_intel has eptad=Y: guest page-table walks count as "
			"writes and page tables will bounce between nodes; "
			"load kvm_intel with eptad=0");
}

/* Can KVM keep a master clock here? It needs the host's clocksource to be
 * the TSC. With it, KVM writes a vCPU's kvmclock structure when the guest
 * enables it and at rare clock events; without it, at every vCPU load.
 * Linux keeps every CPU's structure in one page, so across nodes kvmclock
 * is shown only with a master clock, else that page would bounce between
 * the nodes at every vCPU load (the guest then runs on the invariant TSC).
 * Each node decides for its own host. */
static bool host_clock_is_tsc(void)
{
	char cs[32];

	return read_word("/sys/devices/system/clocksource/clocksource0/current_clocksource",
			 cs, sizeof(cs)) && strcmp(cs, "tsc") == 0;
}

/* ---- CPUs: what this node has, and what its vCPUs want ------------------- */

static void init_cpus(struct node *n)
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

static void publish_load(struct node *n, double load)
{
	struct net_load l = {
		.pool = n->pool,
		.cpus_milli = (uint32_t)(n->cpus * 1000),
		.load_milli = (uint32_t)(load * 1000 + 0.5),
	};
	struct net_msg m = { .type = NET_MSG_CONTROL, .data = &l, .data_len = sizeof(l) };

	m.u.control.op = NET_CTL_LOAD;
	for (unsigned i = 0; i < n->p.nr_nodes; i++)
		if (i != n->p.self)
			cluster_send(n->cluster, i, &m);
}

/* Every 100 ms: sample what each vCPU here wanted, tell the other nodes
 * this node's load, and move a vCPU if this host's CPUs are oversubscribed
 * and another's have room (affinity.h, the CPU rule). */
static void balance_cpus(struct node *n)
{
	uint64_t now = vcpu_now_ns(), movable = 0, ns[VM_MAX_VCPUS];
	bool ok[VM_MAX_VCPUS];
	double wanted, cpus, load;
	unsigned vi = 0;
	int to;

	/* The scheduler's figures first: file reads are not for under the
	 * lock the receive thread and the memory plane's callback take. A
	 * vCPU asked to move is on its way out: neither sampled nor sent. */
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu *v = n->vm.vcpus[i];

		ok[i] = vcpu_here(v) && !vcpu_moving(v) && v->tid > 0 &&
			hostcpu_thread_demand_ns(v->tid, &ns[i]);
	}
	pthread_mutex_lock(&n->aff_lock);
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
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
	n->last_load = wanted;
	pthread_mutex_unlock(&n->aff_lock);
	publish_load(n, load);
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

/* ---- building and running ----------------------------------------------- */

static int build_vm(struct node *n)
{
	struct vm_config vc = {
		.nr_vcpus = n->p.cpus,
		.mem_size = n->p.memory,
		.self = n->p.self,
		.place = n->p.place,
		.remote_devices = n->p.self != FORWARD_DEVICE_NODE,
		.hide_kvmclock = n->p.nr_nodes > 1 && !host_clock_is_tsc(),
	};
	int r = vm_create(&n->vm, &vc);

	if (r) {
		switch (r) {
		case -ENOENT:
			fprintf(stderr, "amalgam: /dev/kvm does not exist: is KVM enabled (kvm_intel/kvm_amd loaded)?\n");
			break;
		case -EACCES:
		case -EPERM:
			fprintf(stderr, "amalgam: no permission to open /dev/kvm: run as root or join the 'kvm' group\n");
			break;
		default:
			fprintf(stderr, "amalgam: cannot create the VM: %s\n", strerror(-r));
		}
		return r;
	}
	n->vm_ok = true;
	n->vm.on_stop = on_vm_stop;
	n->vm.on_stop_opaque = n;
	/* The devices live on one node; the others forward to it. */
	if (n->p.self == FORWARD_DEVICE_NODE) {
		n->board = board_create(&n->vm, STDOUT_FILENO, STDIN_FILENO,
					n->p.nr_nodes > 1);
		if (!n->board)
			return -ENOMEM;
	}
	if (n->p.nr_nodes > 1) {
		dsm_layout_even(&n->layout, n->p.nr_nodes, n->vm.mem.size / 4096);
		r = memplane_new(&n->mem, &n->vm.mem, n->p.self, &n->layout, &mem_ops, n);
		if (r) {
			fprintf(stderr, "amalgam: cannot start the memory plane: %s\n", strerror(-r));
			return r;
		}
		warn_paging_walks();
		r = forward_new(&n->fwd, &n->vm, n->cluster, n->p.place);
		if (r)
			return r;
		pthread_mutex_init(&n->aff_lock, NULL);
		n->aff_on = n->p.migrate == MIGRATE_AUTO && n->vm.move_out &&
			    affinity_init(&n->aff, &affinity_defaults, n->p.cpus,
					  n->p.nr_nodes) == 0;
		init_cpus(n);
		cluster_set_handlers(n->cluster, &cluster_h, n);
		cluster_inject_delay(n->cluster, n->p.net_delay_us);
	}
	return 0;
}

/* The boot text node 0 sends in START: the BSP's entry state and the page
 * ranges it loaded (which every node must treat as held by node 0). */
struct boot_text {
	struct boot_entry entry;
	/* One TSC and one kvmclock for every vCPU: node 0's, adopted by all. */
	int64_t tsc_offset;
	uint64_t kvmclock, realtime_ns, host_tsc, tsc_khz;
	uint32_t clock_flags;
	char boot_id[40];
	/* Node i's host TSC minus node 0's, from round trips (tscsync.h). */
	bool has_delta[CLUSTER_MAX_NODES];
	int64_t tsc_delta[CLUSTER_MAX_NODES];
	unsigned nr_nodes;
	unsigned nr_ranges;
	uint64_t first[64], count[64];
};

static int format_boot(const struct boot_text *b, char *buf, size_t len)
{
	size_t off;
	int k = snprintf(buf, len, "rip=%" PRIx64 " rsi=%" PRIx64 " cr3=%" PRIx64
			 " gdt=%" PRIx64 " gdtlim=%x tsc=%" PRIx64 " clk=%" PRIx64
			 " rt=%" PRIx64 " htsc=%" PRIx64 " khz=%" PRIx64 " cf=%x boot=%s td=",
			 b->entry.rip, b->entry.rsi, b->entry.cr3, b->entry.gdt_base,
			 b->entry.gdt_limit, (uint64_t)b->tsc_offset, b->kvmclock,
			 b->realtime_ns, b->host_tsc, b->tsc_khz, b->clock_flags, b->boot_id);

	if (k < 0 || (size_t)k >= len)
		return -ENOSPC;
	off = (size_t)k;
	/* One delta per node, node 0's first (always 0), "x" if unknown. */
	for (unsigned i = 0; i < b->nr_nodes; i++) {
		if (b->has_delta[i])
			k = snprintf(buf + off, len - off, "%s%" PRId64, i ? "," : "",
				     b->tsc_delta[i]);
		else
			k = snprintf(buf + off, len - off, "%sx", i ? "," : "");
		if (k < 0 || off + k >= len)
			return -ENOSPC;
		off += k;
	}
	k = snprintf(buf + off, len - off, " pre=");
	if (k < 0 || off + k >= len)
		return -ENOSPC;
	off += k;
	for (unsigned i = 0; i < b->nr_ranges; i++) {
		k = snprintf(buf + off, len - off, "%s%" PRIx64 ":%" PRIx64, i ? "," : "",
			     b->first[i], b->count[i]);
		if (k < 0 || off + k >= len)
			return -ENOSPC;
		off += k;
	}
	return 0;
}

static int parse_boot(const char *s, struct boot_text *b)
{
	unsigned lim;
	int used = 0;
	const char *c;

	memset(b, 0, sizeof(*b));
	uint64_t tsc;

	if (sscanf(s, "rip=%" SCNx64 " rsi=%" SCNx64 " cr3=%" SCNx64 " gdt=%" SCNx64
		   " gdtlim=%x tsc=%" SCNx64 " clk=%" SCNx64 " rt=%" SCNx64 " htsc=%" SCNx64
		   " khz=%" SCNx64 " cf=%x boot=%39s td=%n", &b->entry.rip, &b->entry.rsi,
		   &b->entry.cr3, &b->entry.gdt_base, &lim, &tsc, &b->kvmclock,
		   &b->realtime_ns, &b->host_tsc, &b->tsc_khz, &b->clock_flags, b->boot_id,
		   &used) != 12 || !used)
		return -EINVAL;
	b->tsc_offset = (int64_t)tsc;
	b->entry.gdt_limit = (uint16_t)lim;
	c = s + used;
	for (;;) {
		int k = 0;

		if (b->nr_nodes >= CLUSTER_MAX_NODES)
			return -EINVAL;
		if (*c == 'x') {
			c++;
		} else if (sscanf(c, "%" SCNd64 "%n", &b->tsc_delta[b->nr_nodes], &k) == 1 && k) {
			b->has_delta[b->nr_nodes] = true;
			c += k;
		} else {
			return -EINVAL;
		}
		b->nr_nodes++;
		if (*c != ',')
			break;
		c++;
	}
	if (strncmp(c, " pre=", 5) != 0)
		return -EINVAL;
	c += 5;
	while (*c) {
		int k = 0;
		if (b->nr_ranges >= 64 ||
		    sscanf(c, "%" SCNx64 ":%" SCNx64 "%n", &b->first[b->nr_ranges],
			   &b->count[b->nr_ranges], &k) != 2 || !k)
			return -EINVAL;
		b->nr_ranges++;
		c += k;
		if (*c == ',')
			c++;
		else if (*c)
			return -EINVAL;
	}
	return 0;
}

static void read_boot_id(char *out, size_t len)
{
	if (!hostcpu_boot_id(out, len))
		snprintf(out, len, "unknown");
}

/* Node 0: sample its kvmclock and TSC for the others. */
static int clock_sample(struct node *n, struct boot_text *b)
{
	struct kvm_clock_data cd = { 0 };

	if (ioctl(n->vm.vm_fd, KVM_GET_CLOCK, &cd) < 0)
		return -errno;
	b->kvmclock = cd.clock;
	b->clock_flags = cd.flags;
	b->realtime_ns = cd.realtime;
	b->host_tsc = cd.host_tsc;
	/* KVM fills in the host TSC and the realtime clock read with the
	 * kvmclock only when the host's clocksource is the TSC. Otherwise
	 * take the pair ourselves, back to back: a joining node on another
	 * host rebases the guest TSC on it (and would otherwise be decades
	 * off). */
	if ((cd.flags & (KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME)) !=
	    (KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME)) {
		struct timespec ts;

		b->host_tsc = __rdtsc();
		clock_gettime(CLOCK_REALTIME, &ts);
		b->realtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		b->clock_flags &= ~(KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME);
	}
	b->tsc_khz = n->vm.tsc_khz;
	b->tsc_offset = n->vm.tsc_offset;
	read_boot_id(b->boot_id, sizeof(b->boot_id));
	return 0;
}

/* Node 0: how far each joiner's host TSC is from ours, by round trips to
 * its echo server. A node that cannot be probed falls back to the realtime
 * clocks (clock_adopt). */
#define TSC_PROBES 32
static void tsc_probe_nodes(struct node *n, struct boot_text *b)
{
	b->nr_nodes = n->p.nr_nodes;
	b->has_delta[0] = true;
	b->tsc_delta[0] = 0;
	for (unsigned i = 1; i < n->p.nr_nodes; i++) {
		struct tsc_probe p[TSC_PROBES];
		char host[CLUSTER_ADDR_MAX];
		int port = cluster_rtt_port(n->cluster, i);
		uint64_t err;

		b->has_delta[i] = false;
		addr_host(cluster_addr(n->cluster, i), host, sizeof(host));
		if (!port || rtt_tsc_probe(host, port, TSC_PROBES, p) ||
		    tscsync_delta(p, TSC_PROBES, &b->tsc_delta[i], &err)) {
			pr_warn("node %u: cannot compare TSCs by round trips; "
				"it will use the realtime clocks", i);
			continue;
		}
		b->has_delta[i] = true;
		pr_info("node %u: host TSC %+" PRId64 " ticks from ours, within %" PRIu64,
			i, b->tsc_delta[i], err);
	}
}

/* Node k: adopt node 0's kvmclock and TSC. On the same host (same boot
 * id) the host TSC is shared, so the offset carries over exactly and the
 * kvmclock is set with the shared realtime clock. Across hosts the guest
 * TSC is rebased by the realtime elapsed since node 0's sample
 * (cpu/tscsync.h): exact only as far as the hosts' clocks agree. */
static int clock_adopt(struct node *n, const struct boot_text *b)
{
	struct kvm_clock_data cd = { .clock = b->kvmclock };
	char my_boot[40];
	int64_t off = b->tsc_offset;
	int r;

	if (!tscsync_same_rate(b->tsc_khz, n->vm.tsc_khz)) {
		fprintf(stderr, "amalgam: this node's TSC runs at %lu kHz, node 0's at %lu kHz: "
			"every node needs the same TSC frequency\n",
			(unsigned long)n->vm.tsc_khz, (unsigned long)b->tsc_khz);
		return -EINVAL;
	}
	read_boot_id(my_boot, sizeof(my_boot));
	if (strcmp(my_boot, b->boot_id) != 0) {
		struct tsc_sample ts0 = {
			.host_tsc = b->host_tsc, .offset = b->tsc_offset,
			.realtime_ns = b->realtime_ns, .khz = b->tsc_khz,
		};
		struct timespec ts;
		uint64_t my_tsc = __rdtsc();
		unsigned me = n->p.self;

		if (me < b->nr_nodes && b->has_delta[me]) {
			off = tscsync_offset_from_delta(b->tsc_offset, b->tsc_delta[me]);
			pr_info("node on another host: TSC agreed by round trips to node 0");
		} else {
			clock_gettime(CLOCK_REALTIME, &ts);
			off = tscsync_offset(&ts0, my_tsc,
					     (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec);
			pr_warn("node on another host: TSC agreed through the realtime clocks");
		}
	}
	r = vm_set_tsc_offset(&n->vm, off);
	if (r)
		return r;
	if (b->clock_flags & KVM_CLOCK_REALTIME) {
		cd.flags = KVM_CLOCK_REALTIME;
		cd.realtime = b->realtime_ns;
	}
	if (ioctl(n->vm.vm_fd, KVM_SET_CLOCK, &cd) < 0)
		return -errno;
	return 0;
}

/* Pages the loader wrote are the memfd's data extents (the rest are holes). */
static int loaded_ranges(struct node *n, struct boot_text *b)
{
	off_t pos = 0, end = (off_t)n->vm.mem.size;

	b->nr_ranges = 0;
	while (pos < end) {
		off_t data = lseek(n->vm.mem.fd, pos, SEEK_DATA);
		off_t hole;

		if (data < 0)
			break;
		hole = lseek(n->vm.mem.fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		if (b->nr_ranges >= 64)
			return -ENOSPC;
		b->first[b->nr_ranges] = (uint64_t)data / 4096;
		b->count[b->nr_ranges] = ((uint64_t)hole - (uint64_t)data + 4095) / 4096;
		b->nr_ranges++;
		pos = hole;
	}
	return 0;
}

static int start_vcpus(struct node *n, const struct boot_text *b)
{
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu *v = n->vm.vcpus[i];
		int r;

		if (!n->vm.local[i] || (i != 0 && !n->p.start_all))
			continue;
		r = regs_set_boot64(v->fd, &b->entry);
		if (r)
			return r;
		v->state = VCPU_RUNNABLE;
	}
	return vm_start(&n->vm);
}

static int preload_and_start_mem(struct node *n, const struct boot_text *b)
{
	int r;

	if (!n->mem)
		return 0;
	for (unsigned i = 0; i < b->nr_ranges; i++) {
		r = memplane_preload(n->mem, b->first[i], b->count[i], 0);
		if (r)
			return r;
	}
	return memplane_start(n->mem);
}

/* --migrate shuffle: every vCPU here that may move moves on to the next
 * node (a stress test of moving: state, interrupts in flight, timers). */
static void shuffle(struct node *n)
{
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++)
		if (forward_movable(i) && vcpu_here(n->vm.vcpus[i]))
			vcpu_request_move(n->vm.vcpus[i], (int)((n->p.self + 1) % n->p.nr_nodes));
}

/* Wait for the guest to stop, printing stats on SIGUSR1 meanwhile. */
static int wait_guest(struct node *n)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct sigaction st = { .sa_handler = on_stop_signal };
	unsigned ticks = 0;
	int status;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* Ctrl-C or a timeout's SIGTERM stops the guest on every node, with
	 * the usual report, instead of killing this node silently. */
	sigemptyset(&st.sa_mask);
	sigaction(SIGINT, &st, NULL);
	sigaction(SIGTERM, &st, NULL);
	while (!vm_stopping(&n->vm)) {
		usleep(20000);
		++ticks;
		if (n->p.migrate == MIGRATE_SHUFFLE && n->vm.move_out && ticks % 3 == 0)
			shuffle(n);
		if (n->aff_on && n->sched_ok && ticks % 5 == 0)
			balance_cpus(n);
		if (stop_signal)
			vm_stop(&n->vm, 128 + stop_signal, "interrupted by signal %d on node %u",
				(int)stop_signal, n->p.self);
		if (stats_requested) {
			stats_requested = 0;
			print_stats(n);
		}
	}
	status = vm_wait_stopped(&n->vm);
	if (n->cluster)
		cluster_quiesce(n->cluster);
	if (n->board)
		board_flush(n->board);
	/* vCPUs blocked on a missing page only return once the pager lets go. */
	if (n->mem)
		memplane_stop(n->mem);
	vm_join(&n->vm);
	return status;
}

/* Order matters: first the network (no more callbacks into the planes),
 * then the planes, then the devices and the VM they point into. */
static void teardown(struct node *n)
{
	if (n->mem)
		memplane_stop(n->mem);
	if (n->cluster)
		cluster_free(n->cluster);
	n->cluster = NULL;
	memplane_free(n->mem);
	n->mem = NULL;
	forward_free(n->fwd);
	n->fwd = NULL;
	if (n->board)
		board_destroy(n->board);
	n->board = NULL;
	if (n->vm_ok)
		vm_destroy(&n->vm);
	n->vm_ok = false;
	rtt_server_stop(n->rtt);
	n->rtt = NULL;
	auth_key_wipe(&n->key);
}

/* Give up on starting: say why, tell the other nodes, free everything. */
static int fail(struct node *n, int status, const char *msg)
{
	if (msg)
		fprintf(stderr, "amalgam: %s\n", msg);
	if (n->vm_ok && n->cluster)
		vm_stop(&n->vm, status, "%s", msg ? msg : "start failed");
	teardown(n);
	free(n);
	return status;
}

/* ---- coordinator --------------------------------------------------------- */

static bool is_elf(const char *path)
{
	char magic[4] = { 0 };
	FILE *f = fopen(path, "rb");

	if (f) {
		if (fread(magic, 1, 4, f) != 4)
			magic[0] = 0;
		fclose(f);
	}
	return !memcmp(magic, "\177ELF", 4);
}

/* One line saying where every vCPU runs, e.g. for the demo. */
static void print_placement(const struct cluster_params *p, const uint8_t *place,
			    const char *when)
{
	char line[1024];
	size_t off = 0;

	off += snprintf(line, sizeof(line), "amalgam: %u nodes, %u vCPUs%s:", p->nr_nodes,
			p->cpus, when);
	for (unsigned node = 0; node < p->nr_nodes && off < sizeof(line); node++) {
		bool first = true;

		off += snprintf(line + off, sizeof(line) - off, " node %u [", node);
		for (unsigned i = 0; i < p->cpus && off < sizeof(line); i++)
			if (place[i] == node) {
				off += snprintf(line + off, sizeof(line) - off, "%s%u",
						first ? "" : " ", i);
				first = false;
			}
		if (off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off, "]");
	}
	fprintf(stderr, "%s\n", line);
}

/* Where the vCPUs ended, when any moved. */
static void print_final_placement(struct node *n)
{
	uint8_t place[CLUSTER_MAX_VCPUS];
	struct forward_stats f;
	unsigned node;
	bool moved = false;

	forward_stats(n->fwd, &f);
	for (unsigned i = 0; i < n->p.cpus; i++) {
		place[i] = forward_where(n->fwd, i, &node) ? (uint8_t)node : n->p.place[i];
		moved |= place[i] != n->p.place[i];
	}
	if (moved || f.moved_out || f.moved_in)
		print_placement(&n->p, place, " at the end (vCPUs moved to their data or to spare CPUs)");
}

/* The raw TCP baseline to node 1..N-1, printed for the benchmarks. */
static void measure_rtt(struct node *n, unsigned samples)
{
	for (unsigned i = 1; i < n->p.nr_nodes; i++) {
		struct rtt_result r;
		char host[CLUSTER_ADDR_MAX];
		int port = cluster_rtt_port(n->cluster, i);

		addr_host(cluster_addr(n->cluster, i), host, sizeof(host));
		if (!port || rtt_measure(host, port, samples, &r)) {
			fprintf(stderr, "amalgam[0] rtt: node %u: cannot measure\n", i);
			continue;
		}
		fprintf(stderr, "amalgam[0] rtt: node %u: raw TCP 64 B -> 4 KiB round trip over %u samples: "
			"p50 %.1f us, p99 %.1f us, min %.1f us\n", i, r.samples, r.p50_us,
			r.p99_us, r.min_us);
	}
}

int node_run(const struct config *cfg)
{
	struct node *n = calloc(1, sizeof(*n));
	struct spawn *sp = NULL;
	struct boot_config bc;
	struct boot_text b;
	char err[512] = "", text[NET_CONTROL_DATA_MAX + 1], cmdline[4096];
	int r, status;

	if (!n)
		return 1;
	n->stats = cfg->stats;
	n->p.cpus = cfg->cpus;
	n->p.memory = cfg->memory;
	n->p.start_all = cfg->start_all;
	n->p.net_delay_us = cfg->net_delay_us;
	n->p.migrate = (uint8_t)cfg->migrate;
	n->offered = cfg->node_cpus;
	n->p.nr_nodes = cfg->nodes ? cfg->nodes : 1;
	if (cfg->join) {
		const char *c = cfg->join;
		n->p.nr_nodes = 1;
		while (*c) {
			const char *e = strchr(c, ',');
			size_t l = e ? (size_t)(e - c) : strlen(c);
			if (!l || l >= CLUSTER_ADDR_MAX || n->p.nr_nodes >= CLUSTER_MAX_NODES) {
				snprintf(err, sizeof(err), "--join takes host:port,host:port,... (at most %d)",
					 CLUSTER_MAX_NODES - 1);
				free(n);
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			memcpy(n->p.addr[n->p.nr_nodes], c, l);
			{
				struct net_addr na;
				const char *why = "";

				if (addr_parse(n->p.addr[n->p.nr_nodes], false, &na, &why)) {
					fprintf(stderr, "amalgam: bad --join address '%s': %s\n",
						n->p.addr[n->p.nr_nodes], why);
					free(n);
					return EXIT_USAGE;
				}
			}
			n->p.nr_nodes++;
			c = e ? e + 1 : c + l;
		}
	}
	if (cfg->place) {
		r = params_parse_place(&n->p, cfg->place, err, sizeof(err));
	} else {
		params_place_even(&n->p);
		r = 0;
	}
	if (!r && n->p.nr_nodes > 1 && !cfg->join) {
		/* Local nodes get loopback placeholders until they report ports. */
		for (unsigned i = 1; i < n->p.nr_nodes; i++)
			strcpy(n->p.addr[i], "127.0.0.1:0");
	}
	if (!r)
		r = params_check(&n->p, err, sizeof(err));
	if (!r) {
		struct topo t;

		/* One package per node, its size a power of two: a lopsided
		 * placement over many nodes can run out of 8-bit APIC ids. */
		if (topo_init(&t, n->p.cpus, n->p.place)) {
			snprintf(err, sizeof(err), "this --place needs APIC ids past 254 "
				 "(each node's vCPUs take a power-of-two block of ids): "
				 "put fewer vCPUs on the busiest node");
			r = -EINVAL;
		}
	}
	if (r) {
		free(n);
		fprintf(stderr, "amalgam: %s\n", err);
		return EXIT_USAGE;
	}

	if (n->p.nr_nodes > 1) {
		const char *key_file = cfg->key_file;

		if (!cfg->join) {
			r = spawn_nodes(&sp, n->p.nr_nodes - 1, cfg->key_file, cfg->log_level,
					cfg->stats, cfg->node_cpus, n->p.addr + 1, err,
					sizeof(err));
			if (r) {
				free(n);
				fprintf(stderr, "amalgam: %s\n", err);
				return 1;
			}
			key_file = spawn_key_file(sp);
		}
		/* auth_key_load says which file and what is wrong with it. */
		if (auth_key_load(key_file, &n->key)) {
			spawn_reap(sp, 1);
			free(n);
			return EXIT_USAGE;
		}
		r = cluster_coordinate(&n->p, &n->key, &n->cluster, err, sizeof(err));
		if (r) {
			spawn_reap(sp, 1);
			return fail(n, 1, err);
		}
	}
	if (build_vm(n)) {
		spawn_reap(sp, 1);
		return fail(n, EXIT_USAGE, NULL);
	}
	if (n->p.nr_nodes > 1)
		print_placement(&n->p, n->p.place, "");
	if (n->cluster &&
	    cluster_wait_ready(n->cluster, 0, START_TIMEOUT_S, err, sizeof(err))) {
		spawn_reap(sp, 1);
		return fail(n, 1, err);
	}

	if (n->cluster && cfg->rtt_samples)
		measure_rtt(n, cfg->rtt_samples);

	bc = (struct boot_config){
		.kernel = cfg->kernel, .initrd = cfg->initrd, .cmdline = cfg->append,
		.topo = &n->vm.topo, .ioapic_base = 0xFEC00000ULL,
		.nr_nodes = n->p.nr_nodes,
		.node_end = n->p.nr_nodes > 1 ? n->layout.end : NULL,
	};
	board_boot_facts(&bc.board);
	/* Without kvmclock a Linux guest would calibrate the TSC against the
	 * PIT, which fails when exits are slow (nested virtualization): tell
	 * it the frequency, as firmware tables would. */
	if (n->vm.hide_kvmclock && n->vm.tsc_khz && !is_elf(cfg->kernel)) {
		snprintf(cmdline, sizeof(cmdline), "%s%stsc_early_khz=%lu",
			 cfg->append ? cfg->append : "", cfg->append ? " " : "",
			 (unsigned long)n->vm.tsc_khz);
		bc.cmdline = cmdline;
	}
	r = boot_load(&n->vm.mem, &bc, &b.entry, err, sizeof(err));
	if (r) {
		spawn_reap(sp, 1);
		return fail(n, EXIT_USAGE, err);
	}
	if (n->cluster) {
		tsc_probe_nodes(n, &b);
		if (clock_sample(n, &b) || loaded_ranges(n, &b) ||
		    format_boot(&b, text, sizeof(text))) {
			spawn_reap(sp, 1);
			return fail(n, 1, "the loaded guest is too fragmented to describe");
		}
		r = cluster_send_start(n->cluster, text);
		if (!r)
			r = preload_and_start_mem(n, &b);
		if (!r)
			r = cluster_wait_ready(n->cluster, 1, START_TIMEOUT_S, err, sizeof(err));
		if (r) {
			spawn_reap(sp, 1);
			return fail(n, 1, err[0] ? err : "cannot start the memory plane");
		}
	}
	r = start_vcpus(n, &b);
	if (r) {
		spawn_reap(sp, 1);
		return fail(n, 1, "cannot start the vCPUs");
	}
	status = wait_guest(n);
	if (n->fwd)
		print_final_placement(n);
	if (status != 0 || log_get_level() >= LOG_INFO)
		pr_info("stopped: %s", n->vm.stop_reason);
	if (status != 0 && !strstr(n->vm.stop_reason, "test guest exited"))
		fprintf(stderr, "amalgam: %s\n", n->vm.stop_reason);
	if (n->stats)
		print_stats(n);
	teardown(n);
	spawn_reap(sp, 0);
	free(n);
	return status;
}

/* ---- joiner -------------------------------------------------------------- */

int node_join(const struct node_args *a)
{
	struct node *n = calloc(1, sizeof(*n));
	struct boot_text b;
	char err[512] = "", text[NET_CONTROL_DATA_MAX + 1];
	int r, status;

	if (!n)
		return 1;
	n->stats = a->stats;
	n->offered = a->node_cpus;
	/* auth_key_load says which file and what is wrong with it. */
	if (auth_key_load(a->key_file, &n->key)) {
		free(n);
		return EXIT_USAGE;
	}
	r = cluster_join(a->listen, &n->key, a->port_fd, a->timeout_s, &n->cluster,
			 &n->p, err, sizeof(err));
	if (r)
		return fail(n, r == -EINVAL ? EXIT_USAGE : 1, err);
	if (build_vm(n)) {
		cluster_stop_all(n->cluster, 1, "a node could not build its VM");
		return fail(n, 1, NULL);
	}
	{
		char host[CLUSTER_ADDR_MAX];

		addr_host(a->listen, host, sizeof(host));
		if (rtt_server_start(host, &n->rtt))
			n->rtt = NULL;
	}
	if (cluster_send_ready(n->cluster, 0, n->rtt ? rtt_server_port(n->rtt) : 0) ||
	    cluster_wait_start(n->cluster, text, sizeof(text), START_TIMEOUT_S, err, sizeof(err)) ||
	    parse_boot(text, &b) || clock_adopt(n, &b) || preload_and_start_mem(n, &b) ||
	    cluster_send_ready(n->cluster, 1, 0) || start_vcpus(n, &b)) {
		return fail(n, 1, err[0] ? err : "cannot start");
	}
	status = wait_guest(n);
	pr_info("stopped: %s", n->vm.stop_reason);
	if (n->stats)
		print_stats(n);
	teardown(n);
	free(n);
	return status;
}
