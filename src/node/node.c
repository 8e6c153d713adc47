/* The life of one node: build the VM and the planes, join the cluster,
 * load or adopt the guest, run the vCPUs placed here, stop with the others,
 * tear down. The planes' glue is below; the cost model's side is cpus.c,
 * the START contents start.c, what is printed stats.c. */
#include "node/node.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/server.h"
#include "cluster/cluster.h"
#include "cluster/params.h"
#include "cluster/rtt.h"
#include "cluster/spawn.h"
#include "hw/mem.h"
#include "cpu/forward.h"
#include "cpu/hostcpu.h"
#include "hw/mem.h"
#include "memplane/memplane.h"
#include "net/addr.h"
#include "net/auth.h"
#include "node/node_int.h"
#include "node/policy.h"
#include "node/start.h"
#include "util/confine.h"
#include "util/log.h"
#include "vmm/board.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "x86/boot.h"
#include "x86/linuxargs.h"
#include "x86/topo.h"

#define EXIT_USAGE 2

static_assert(CLUSTER_MEMORY_MIN == MEM_MIN_SIZE && CLUSTER_MEMORY_MAX == MEM_MAX_SIZE,
	      "the cluster checks the guest's RAM as hw/mem does");
#define START_TIMEOUT_S 60
#define TICK_NS (20 * 1000 * 1000ull)	/* the main thread's periodic work */

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

	/* The API's page-traffic matrix: pages (messages with data) by peer. */
	if (msg->data_len && to < CLUSTER_MAX_NODES)
		__atomic_add_fetch(&n->pages_to[to], 1, __ATOMIC_RELAXED);
	return cluster_send(n->cluster, to, msg);
}

static void mem_fatal(void *opaque, const char *why)
{
	struct node *n = opaque;

	vm_stop(&n->vm, 1, "memory plane: %s", why);
}

static const struct memplane_ops mem_ops = {
	.send = mem_send,
	.fatal = mem_fatal,
	.remote_fault = node_remote_fault,
	.local_fresh = node_local_fresh,
};

static int on_dsm(void *opaque, unsigned from, const struct net_msg *msg)
{
	struct node *n = opaque;
	int r;

	if (!n->mem)
		return -EPROTO;
	if (msg->data_len && from < CLUSTER_MAX_NODES)
		__atomic_add_fetch(&n->pages_from[from], 1, __ATOMIC_RELAXED);
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

static void on_cluster_stop(void *opaque, int status, const char *reason)
{
	struct node *n = opaque;

	vm_stop(&n->vm, status, "%s", reason);
}

static const struct cluster_handlers cluster_h = {
	.dsm = on_dsm,
	.cpu = on_cpu,
	.report = node_on_report,
	.stop = on_cluster_stop,
};

/* The local guest stopped (exit port, reset, crash): tell every node. */
static void on_vm_stop(void *opaque, int status, const char *reason)
{
	struct node *n = opaque;

	if (n->cluster)
		cluster_stop_all(n->cluster, status, reason);
}

/* The VM's hooks into the CPU plane. The VM has them from its creation,
 * the plane only from forward_new (it needs the VM): until then, and on a
 * node alone, there is nothing to reach (the guest does not run yet). */
static int vm_move_out(void *opaque, struct vcpu *v, unsigned node)
{
	struct node *n = opaque;
	int home = node_vcpu_home(n, v->index), r;
	bool give = n->mem && home >= 0 && home != (int)n->p.self;

	if (!n->fwd)
		return -EOPNOTSUPP;
	/* Leaving a node not its home: what it took here of its home's
	 * range is its memory, which the guest keeps taking there for it
	 * (its NUMA node): back home with it, in bulk, not a fault at a time
	 * wherever it runs next. Asked before the state leaves, so that its
	 * arrival back here (which cancels) cannot come first. */
	if (give)
		memplane_give_back(n->mem, v->index + 1, home);
	r = forward_move_out(n->fwd, v, node, node_waited_for(n, v->index, node));
	if (r && give)
		memplane_give_back(n->mem, v->index + 1, -1);
	return r;
}

static void vm_route_changed(void *opaque, struct vcpu *v, const struct lapic_route *r)
{
	struct node *n = opaque;

	if (n->fwd)
		forward_route_out(n->fwd, v, r);
}

/* A device's buffer (vm_hooks.prefetch): one range inside RAM, so its
 * memfd pages are contiguous. */
static void vm_prefetch(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	struct node *n = opaque;
	struct memplane *mp = __atomic_load_n(&n->mem, __ATOMIC_ACQUIRE);
	int64_t off = guest_mem_offset(&n->vm.mem, gpa);

	if (!mp || off < 0 || !len)
		return;
	memplane_prefetch(mp, (uint64_t)off >> 12,
			  (((uint64_t)off + len - 1) >> 12) - ((uint64_t)off >> 12) + 1, write);
}

static uint64_t vm_irq_out(void *opaque, const struct apic_msg *a, int target)
{
	struct node *n = opaque;

	return n->fwd ? forward_irq_out(n->fwd, a, target) : 0;
}

static int vm_io_out(void *opaque, struct vcpu *v, enum io_space space, uint64_t addr,
		     void *data, unsigned len, bool is_write)
{
	struct node *n = opaque;

	if (n->fwd)
		return forward_io_out(n->fwd, v, space, addr, data, len, is_write);
	if (!is_write)
		memset(data, 0xff, len);
	return -ENODEV;
}

static void vm_eoi(void *opaque, uint8_t vector)
{
	struct node *n = opaque;

	if (n->fwd)
		forward_eoi_out(n->fwd, vector);
}

/* The PCI devices' links to the other nodes (vmm/pcibus.h). */
static int pci_bar_out(void *opaque, struct vcpu *v, unsigned node, uint64_t addr,
		       void *data, unsigned len, bool is_write)
{
	struct node *n = opaque;

	if (n->fwd)
		return forward_io_to(n->fwd, v, node, IO_MMIO, addr, data, len, is_write);
	if (!is_write)
		memset(data, 0xff, len);
	return -ENODEV;
}

static void pci_cfg_out(void *opaque, unsigned slot, unsigned off, const void *val,
			unsigned len)
{
	struct node *n = opaque;

	if (n->fwd)
		forward_pci_cfg_out(n->fwd, slot, off, val, len);
}

static void pci_intx_out(void *opaque, unsigned gsi, int level)
{
	struct node *n = opaque;

	if (n->fwd)
		forward_intx_out(n->fwd, gsi, level);
}

static int pci_cfg_in(void *opaque, unsigned slot, unsigned off, const void *val,
		      unsigned len)
{
	struct node *n = opaque;

	return pcibus_cfg_in(n->pci, slot, off, val, len);
}

/* Every node builds the same PCI slots from the cluster's disk and
 * network card lists. */
static void pci_wire(struct node *n)
{
	for (unsigned i = 0; i < n->p.nr_disks; i++) {
		const struct cluster_disk *d = &n->p.disks[i];

		n->disks[i] = (struct pcibus_disk){
			.path = d->path, .node = d->node, .readonly = d->readonly,
			.queues = d->queues, .fail_from = d->fail_from,
		};
	}
	for (unsigned i = 0; i < n->p.nr_nics; i++) {
		const struct cluster_nic *c = &n->p.nics[i];

		n->nets[i] = (struct pcibus_net){ .tap = c->tap, .node = c->node };
		memcpy(n->nets[i].mac, c->mac, sizeof(c->mac));
	}
	n->pci_links = (struct pcibus_links){
		.self = n->p.self, .bridge = n->p.self == FORWARD_DEVICE_NODE,
		.bar_out = pci_bar_out, .cfg_out = pci_cfg_out, .intx_out = pci_intx_out,
		.opaque = n,
	};
}

static const struct vm_hooks solo_hooks = {
	.stopped = on_vm_stop,
};

static const struct vm_hooks cluster_hooks = {
	.stopped = on_vm_stop,
	.move_out = vm_move_out,
	.route_changed = vm_route_changed,
	.prefetch = vm_prefetch,
	.irq_out = vm_irq_out,
	.io_out = vm_io_out,
	.eoi = vm_eoi,
};

/* --migrate may move vCPUs: several nodes, and a vCPU's state can travel. */
static bool can_move(const struct node *n)
{
	return n->fwd && vcpu_state_max(n->vm.vcpus[0]) > 0;
}

/* ---- building and running ----------------------------------------------- */

/* MemAvailable from /proc/meminfo, bytes; 0 if unknown. */
static uint64_t mem_available(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* Bytes for a person: "512M", "18.7G". */
static const char *human(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ULL << 30))
		snprintf(buf, len, "%.1fG", (double)v / (1ULL << 30));
	else
		snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
	return buf;
}

/* The budget: --cache, or what the host can spare now. The default
 * leaves a margin (an eighth of what is available, and 256M more) for
 * the host and for this process, less the home range, which this node
 * holds in full in the worst case. Several nodes on one host each take
 * the whole default: give --cache there. Printed on every node. */
static int set_cache(struct node *n)
{
	uint64_t home = (n->layout.end[n->p.self] -
			 dsm_range_first(&n->layout, n->p.self)) * 4096;
	uint64_t avail = 0, margin = 0, bytes = n->cache;
	char a[32], b[32], c[32], h[32];
	int r;

	if (!bytes) {
		avail = mem_available();
		margin = avail / 8 + (256ULL << 20);
		bytes = avail > margin + home ? avail - margin - home : 0;
		bytes &= ~4095ULL;
		if (bytes < CONFIG_MIN_CACHE)
			bytes = CONFIG_MIN_CACHE;
	}
	r = memplane_set_cache(n->mem, bytes / 4096);
	if (r) {
		fprintf(stderr, "amalgam[%u]: cannot set the cache to %llu bytes: %s\n",
			n->p.self, (unsigned long long)bytes, strerror(-r));
		return r;
	}
	human(bytes, c, sizeof(c));
	human(home, h, sizeof(h));
	if (n->cache)
		fprintf(stderr, "amalgam[%u]: cache %s for other nodes' pages (--cache); "
			"budget: home range %s + cache\n", n->p.self, c, h);
	else
		fprintf(stderr, "amalgam[%u]: cache %s for other nodes' pages (MemAvailable %s "
			"less a margin of %s and the home range %s; --cache sets it)\n",
			n->p.self, c, human(avail, a, sizeof(a)), human(margin, b, sizeof(b)), h);
	return 0;
}

static int build_vm(struct node *n)
{
	struct vm_config vc = {
		.nr_vcpus = n->p.cpus,
		.mem_size = n->p.memory,
		.self = n->p.self,
		.place = n->p.place,
		.remote_devices = n->p.self != FORWARD_DEVICE_NODE,
		.hide_kvmclock = n->p.nr_nodes > 1 && !hostcpu_clock_is_tsc(),
	};
	int r;

	pthread_mutex_init(&n->report_lock, NULL);
	r = vm_create(&n->vm, &vc, n->p.nr_nodes > 1 ? &cluster_hooks : &solo_hooks, n);
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
	pci_wire(n);
	/* The legacy devices live on one node; the others forward to it. */
	if (n->p.self == FORWARD_DEVICE_NODE) {
		n->board_opt.with_pit = n->p.nr_nodes > 1;
		/* The disks and cards as the cluster knows them (with their
		 * nodes). */
		n->board_opt.pci.disks = n->disks;
		n->board_opt.pci.nr_disks = n->p.nr_disks;
		n->board_opt.pci.nets = n->nets;
		n->board_opt.pci.nr_nets = n->p.nr_nics;
		n->board_opt.pci_links = n->p.nr_nodes > 1 ? &n->pci_links : NULL;
		char err[256];

		n->board = board_create(&n->vm, n->console_fd, STDIN_FILENO, &n->board_opt,
					err, sizeof(err));
		if (!n->board) {
			fprintf(stderr, "amalgam: %s\n", err);
			return -EINVAL;
		}
	}
	if (n->p.nr_nodes > 1) {
		/* Node i is home to the i-th range, of the size it contributes. */
		memset(&n->layout, 0, sizeof(n->layout));
		n->layout.nr_nodes = n->p.nr_nodes;
		for (unsigned i = 0, end = 0; i < n->p.nr_nodes; i++) {
			end += n->p.node_mem[i] / 4096;
			n->layout.end[i] = end;
		}
		r = memplane_new(&n->mem, &n->vm.mem, n->p.self, &n->layout, &mem_ops, n);
		if (r) {
			fprintf(stderr, "amalgam: cannot start the memory plane: %s\n", strerror(-r));
			return r;
		}
		r = set_cache(n);
		if (r)
			return r;
		if (n->read_ahead >= 0)
			memplane_set_readahead(n->mem, (unsigned)n->read_ahead);
		if (hostcpu_ept_ad())
			pr_warn("kvm_intel has eptad=Y: guest page-table walks count as "
				"writes and page tables will bounce between nodes; "
				"load kvm_intel with eptad=0");
		r = forward_new(&n->fwd, &n->vm, n->cluster, n->p.place,
				&(struct forward_model){ .on_load = node_on_load,
							 .on_arrive = node_on_arrive,
							 .opaque = n });
		if (r)
			return r;
		pthread_mutex_init(&n->aff_lock, NULL);
		n->aff_on = n->p.migrate == MIGRATE_AUTO && can_move(n) &&
			    affinity_init(&n->aff, &affinity_defaults, n->p.cpus,
					  n->p.nr_nodes) == 0;
		/* Each vCPU's NUMA node, as the guest was told (the home rule);
		 * none for a node without memory (Linux gives its CPUs the
		 * nearest node's). */
		for (unsigned i = 0; n->aff_on && i < n->p.cpus; i++) {
			int home = node_vcpu_home(n, i);

			if (home >= 0)
				affinity_set_home(&n->aff, i, (unsigned)home);
		}
		node_cpus_init(n);
		if (n->p.self != FORWARD_DEVICE_NODE && (n->p.nr_disks || n->p.nr_nics)) {
			char err[256];

			r = pcibus_create(&n->vm, &(struct pcibus_devices){
						.disks = n->disks, .nr_disks = n->p.nr_disks,
						.nets = n->nets, .nr_nets = n->p.nr_nics },
					  &n->pci_links, &n->pci, err, sizeof(err));
			if (r) {
				fprintf(stderr, "amalgam[%u]: %s\n", n->p.self, err);
				return r;
			}
			forward_set_pci_cfg(n->fwd, pci_cfg_in, n);
		}
		cluster_set_handlers(n->cluster, &cluster_h, n);
		cluster_inject_delay(n->cluster, n->p.net_delay_us);
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
		r = vcpu_boot(v, &b->entry);
		if (r)
			return r;
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
	uint64_t next;
	uint64_t next_sample = 0;
	int status;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* Ctrl-C or a timeout's SIGTERM stops the guest on every node, with
	 * the usual report, instead of killing this node silently. */
	sigemptyset(&st.sa_mask);
	sigaction(SIGINT, &st, NULL);
	sigaction(SIGTERM, &st, NULL);
	/* Start-up is over: from here the main thread only waits, answers
	 * and tears down (util/confine.h). */
	confine_thread(CONFINE_MAIN, 0);
	next = vcpu_now_ns();
	while (!vm_stopping(&n->vm)) {
		struct pollfd pfd = { .fd = n->api ? api_server_fd(n->api) : -1,
				      .events = POLLIN };
		uint64_t now = vcpu_now_ns();
		int ms = now >= next ? 0 : (int)((next - now + 999999) / 1000000);

		/* API requests are answered as they come; the periodic work
		 * keeps its 20 ms pace whatever they do. */
		if (poll(&pfd, 1, ms) > 0)
			node_api_serve(n);
		if (vcpu_now_ns() < next)
			continue;
		next += TICK_NS;
		if (next < vcpu_now_ns())
			next = vcpu_now_ns();
		++ticks;
		if (n->p.migrate == MIGRATE_SHUFFLE && can_move(n) && ticks % 3 == 0 &&
		    !n->paused)
			shuffle(n);
		if (n->aff_on && n->sched_ok && ticks % 5 == 0)
			node_balance_cpus(n);
		/* Node 0's API shows every node from these (reports.c), and
		 * its links' round trips. */
		if (n->p.self != 0 && ticks % 5 == 0)
			node_report_send(n);
		if (n->p.self == 0 && n->cluster && ticks % 25 == 0)
			for (unsigned i = 1; i < n->p.nr_nodes; i++)
				cluster_ping(n->cluster, i);
		node_api_tick(n);
		if (stop_signal)
			vm_stop(&n->vm, 128 + stop_signal, "interrupted by signal %d on node %u",
				(int)stop_signal, n->p.self);
		if (stats_requested) {
			stats_requested = 0;
			node_print_stats(n);
		}
		if (n->stats_every_ms && n->mem && vcpu_now_ns() >= next_sample) {
			node_print_sample(n);
			next_sample = vcpu_now_ns() + n->stats_every_ms * 1000000ull;
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
 * then the planes, then the devices and the VM they point into. The
 * memory plane is stopped early but freed after the devices: their
 * threads map buffers until they are freed, and each map asks the plane
 * ahead (vm_prefetch), which a stopped plane ignores. */
static void teardown(struct node *n)
{
	/* The control plane first: its threads read every plane. */
	metrics_stop(n->metrics);
	n->metrics = NULL;
	if (n->mem)
		memplane_stop(n->mem);
	/* Its serving thread answers through the cluster. */
	forward_stop(n->fwd);
	if (n->cluster)
		cluster_free(n->cluster);
	n->cluster = NULL;
	forward_free(n->fwd);
	n->fwd = NULL;
	if (n->board)
		board_destroy(n->board);
	n->board = NULL;
	pcibus_destroy(n->pci);
	n->pci = NULL;
	memplane_free(n->mem);
	n->mem = NULL;
	if (n->console_fd != STDOUT_FILENO)
		close(n->console_fd);
	n->console_fd = STDOUT_FILENO;
	if (n->vm_ok)
		vm_destroy(&n->vm);
	n->vm_ok = false;
	rtt_server_stop(n->rtt);
	n->rtt = NULL;
	auth_key_wipe(&n->key);
	ident_wipe(&n->ident);
}

/* Give up on starting: say why (msg NULL: the failing step said it), tell
 * the other nodes, free everything built. */
static void give_up(struct node *n, int status, const char *msg)
{
	if (msg)
		fprintf(stderr, "amalgam: %s\n", msg);
	if (n->vm_ok && n->cluster)
		vm_stop(&n->vm, status, "%s", msg ? msg : "start failed");
	teardown(n);
}

/* --metrics-listen: after the VM, which the metrics read. */
static int start_metrics(struct node *n, const char *listen)
{
	char err[256];
	int r;

	if (!listen)
		return 0;
	r = metrics_start(&n->metrics, listen, n->p.self, node_collect, n, err, sizeof(err));
	if (r) {
		fprintf(stderr, "amalgam: %s\n", err);
		n->metrics = NULL;
		return r;
	}
	fprintf(stderr, "amalgam[%u]: metrics on http://%.*s:%d/metrics\n", n->p.self,
		(int)(strrchr(listen, ':') - listen), listen, metrics_port(n->metrics));
	return 0;
}

/* ---- coordinator --------------------------------------------------------- */

/* The command line's configuration as the cluster's parameters: 0, or
 * -EINVAL with the reason in err. */
static int params_from_config(struct cluster_params *p, const struct config *cfg,
			      char *err, size_t errlen)
{
	struct topo t;
	int r = 0;

	p->cpus = cfg->cpus;
	p->memory = cfg->memory;
	p->memory_given = cfg->memory_given;
	p->nr_disks = cfg->nr_disks;
	for (unsigned i = 0; i < cfg->nr_disks && i < CLUSTER_MAX_DISKS; i++) {
		const struct pcibus_disk *d = &cfg->disks[i];

		if (strlen(d->path) >= CLUSTER_DISK_PATH_MAX) {
			snprintf(err, errlen, "--disk %.40s...: a path of at most %d bytes",
				 d->path, CLUSTER_DISK_PATH_MAX - 1);
			return -EINVAL;
		}
		strcpy(p->disks[i].path, d->path);
		p->disks[i].node = (uint8_t)d->node;
		p->disks[i].readonly = d->readonly;
		p->disks[i].queues = (uint8_t)d->queues;
		p->disks[i].fail_from = d->fail_from;
	}
	/* add_net took names of at most 15 bytes. */
	p->nr_nics = cfg->nr_nets;
	for (unsigned i = 0; i < cfg->nr_nets && i < CLUSTER_MAX_NICS; i++) {
		const struct pcibus_net *c = &cfg->nets[i];

		snprintf(p->nics[i].tap, sizeof(p->nics[i].tap), "%s", c->tap);
		memcpy(p->nics[i].mac, c->mac, sizeof(c->mac));
		p->nics[i].node = (uint8_t)c->node;
	}
	p->start_all = cfg->start_all;
	p->net_delay_us = cfg->net_delay_us;
	p->migrate = (uint8_t)cfg->migrate;
	p->peer_timeout_ms = cfg->peer_timeout_ms ?: CLUSTER_PEER_TIMEOUT_MS;
	p->nr_nodes = cfg->nodes ? cfg->nodes : 1;
	if (cfg->join)
		r = params_parse_join(p, cfg->join, err, errlen);
	if (!r && cfg->place)
		r = params_parse_place(p, cfg->place, err, errlen);
	else if (!r)
		params_place_even(p);
	if (!r && p->nr_nodes > 1 && !cfg->join) {
		/* Local nodes get loopback placeholders until they report ports. */
		for (unsigned i = 1; i < p->nr_nodes; i++)
			strcpy(p->addr[i], "127.0.0.1:0");
	}
	if (!r && cfg->node_memory) {
		unsigned count;

		r = params_parse_node_mem(p, cfg->node_memory, &count, err, errlen);
		if (!r && count != p->nr_nodes) {
			snprintf(err, errlen, "--node-memory lists %u nodes but there are %u",
				 count, p->nr_nodes);
			r = -EINVAL;
		}
	}
	/* Joined nodes may still say what they contribute: settled again then. */
	if (!r)
		r = params_settle_memory(p, err, errlen);
	if (!r)
		r = params_check(p, err, errlen);
	/* One package per node, its size a power of two: a lopsided
	 * placement over many nodes can run out of 8-bit APIC ids. */
	if (!r && topo_init(&t, p->cpus, p->place)) {
		snprintf(err, errlen, "this --place needs APIC ids past 254 "
			 "(each node's vCPUs take a power-of-two block of ids): "
			 "put fewer vCPUs on the busiest node");
		r = -EINVAL;
	}
	return r;
}

/* Node 0: load the guest. -errno with the reason in err (bad input). */
static int load_guest(struct node *n, const struct config *cfg, struct boot_text *b,
		      char *err, size_t errlen)
{
	int r;
	char extra[256];
	struct linux_args la = { .cpus = n->p.cpus };
	struct boot_config bc = {
		.kernel = cfg->kernel, .cmdline = cfg->append,
		.modules = cfg->modules, .nr_modules = cfg->nr_modules,
		.topo = &n->vm.topo, .ioapic_base = 0xFEC00000ULL,
		.nr_nodes = n->p.nr_nodes,
		.node_end = n->p.nr_nodes > 1 ? n->layout.end : NULL,
	};

	{
		struct pcibus_devices d = config_pci_devices(cfg);

		board_boot_facts(&bc.board, pcibus_wanted(&d));
	}
	/* What a Linux guest is told on its command line when its vCPUs span
	 * nodes, and the TSC's frequency when kvmclock is hidden: the reasons
	 * are in x86/linuxargs.h. */
	for (unsigned i = 1; i < n->p.cpus && !cfg->no_linux_tuning; i++)
		la.spans |= n->p.place[i] != n->p.place[0];
	if (n->vm.hide_kvmclock)
		la.tsc_khz = n->vm.tsc_khz;
	if (linux_args_build(&la, cfg->append ? cfg->append : BOOT_LINUX_DEFAULT_CMDLINE,
			     extra, sizeof(extra))) {
		snprintf(err, errlen, "the command line additions do not fit");
		return -ENOSPC;
	}
	bc.linux_extra = extra;
	r = boot_load(&n->vm.mem, &bc, &b->entry, err, errlen);
	if (!r && n->p.start_all && b->entry.mode != BOOT_MODE_LONG64) {
		snprintf(err, errlen, "--start all needs a guest entered in 64-bit mode, not a multiboot or PVH kernel");
		r = -EINVAL;
	}
	return r;
}

/* Node 0 with other nodes: tell them how to start (START) and wait until
 * every memory plane runs. -errno, the reason in err if one is known. */
static int start_nodes(struct node *n, struct boot_text *b, char *err, size_t errlen)
{
	struct net_start s;
	int r;

	start_tsc_probe(n->cluster, &n->key, n->p.nr_nodes, b);
	if (start_clock_sample(&n->vm, b) || start_loaded_ranges(&n->vm.mem, b)) {
		snprintf(err, errlen, "the loaded guest is too fragmented to describe");
		return -ENOSPC;
	}
	start_to_wire(b, &s);
	r = cluster_send_start(n->cluster, &s);
	if (!r)
		r = preload_and_start_mem(n, b);
	if (!r)
		r = cluster_wait_ready(n->cluster, 1, START_TIMEOUT_S, err, errlen);
	return r;
}

static_assert(CLUSTER_MEMORY_MIN == MEM_MIN_SIZE && CLUSTER_MEMORY_MAX == MEM_MAX_SIZE,
	      "a JOIN's memory is what --memory allows");

/* No new privileges and each kind of thread's filter, before the first
 * thread (util/confine.h; the lists are policy.c's). 0, or -1 said. */
static int confine_start(bool seccomp, int selftest)
{
	struct confine_options o = { .seccomp = seccomp, .selftest = selftest - 1 };
	bool sanitized = false;
	char err[256];

#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizers' runtime makes calls no filter lists (an alternate
	 * signal stack for every thread, LeakSanitizer's ptrace at exit):
	 * the sanitized build (scripts/test's build/asan) runs without the
	 * filters, the rest of the confinement on. */
	sanitized = seccomp;
	o.seccomp = seccomp = false;
#endif
	node_policy(&o);
	if (confine_setup(&o, err, sizeof(err))) {
		fprintf(stderr, "amalgam: cannot confine this node: %s\n", err);
		return -1;
	}
	if (sanitized)
		pr_info("a sanitizer build: this node's threads run without seccomp filters");
	else if (!seccomp)
		pr_warn("--no-seccomp: this node's threads run without seccomp filters");
	return 0;
}

/* How this node's links to the others travel (net/seal.h). */
static void link_policy(struct node *n, bool insecure)
{
	n->key.insecure = insecure;
	if (insecure)
		pr_warn("--insecure-network: links to other nodes are NOT encrypted or "
			"authenticated after the handshake; anyone on the path can read and "
			"change guest memory. Use only on a private fabric.");
}

/* Node identity (net/ident.h), when a node key and a trust file are
 * given. The coordinator is node 0: the trust file must say so; a joiner
 * checks its own entry once JOIN told it its id (cluster.c). 0 or -errno,
 * the reason printed. */
static int load_identity(struct node *n, const char *node_key, const char *trust,
			 bool coordinator)
{
	char hex[IDENT_HEX_BYTES];
	int r;

	if (!node_key)
		return 0;
	r = ident_load(&n->ident, node_key, trust, CLUSTER_MAX_NODES);
	if (r)
		return r;
	if (coordinator && (!n->ident.trusted[0] ||
			    memcmp(n->ident.trust[0], n->ident.pk, NET_PUBKEY_BYTES))) {
		ident_pubkey_hex(n->ident.pk, hex);
		pr_err("trust file %s: node 0 is this node (the coordinator), whose public key "
		       "is %s, but the file lists %s for node 0", trust, hex,
		       n->ident.trusted[0] ? "another key" : "no key");
		ident_wipe(&n->ident);
		return -EINVAL;
	}
	n->ident.joiner_id = CLUSTER_JOINER_ID;
	n->key.ident = &n->ident;
	return 0;
}

/* Setup unwinds through one exit: a step that fails sets status and msg
 * (NULL when it printed its reason itself) and jumps to fail, which undoes
 * what was built in reverse order (teardown; every part may be absent). */
int node_run(const struct config *cfg)
{
	struct node *n = calloc(1, sizeof(*n));
	struct spawn *sp = NULL;
	struct boot_text b;
	char err[512] = "";
	const char *msg = err;
	const char *key_file = cfg->key_file;
	const char *node_key = cfg->node_key_file, *trust = cfg->trust_file;
	int status = 1, r;

	if (!n)
		return 1;
	n->stats = cfg->stats;
	n->stats_every_ms = cfg->stats_every_ms;
	n->cache = cfg->cache;
	n->read_ahead = cfg->read_ahead;
	n->offered = cfg->node_cpus;
	n->console_fd = STDOUT_FILENO;
	if (params_from_config(&n->p, cfg, err, sizeof(err))) {
		status = EXIT_USAGE;
		goto fail;
	}
	if (confine_start(!cfg->no_seccomp, cfg->confine_selftest)) {
		msg = NULL;
		goto fail;
	}
	if (n->p.nr_nodes > 1) {
		if (!cfg->join) {
			if (spawn_nodes(&sp, n->p.nr_nodes - 1, cfg->key_file,
					&(struct spawn_opts){
						.level = cfg->log_level, .stats = cfg->stats,
						.stats_every_ms = cfg->stats_every_ms,
						.node_cpus = cfg->node_cpus,
						.cache = cfg->cache,
						.read_ahead = cfg->read_ahead,
						.insecure = cfg->insecure_network,
						.no_seccomp = cfg->no_seccomp,
						.metrics_listen = cfg->metrics_listen,
					}, n->p.addr + 1, err, sizeof(err)))
				goto fail;
			key_file = spawn_key_file(sp);
			node_key = spawn_node_key_file(sp);
			trust = spawn_trust_file(sp);
		}
		/* auth_key_load and ident_load say which file and what is
		 * wrong with it. */
		if (auth_key_load(key_file, &n->key) ||
		    load_identity(n, node_key, trust, true)) {
			status = EXIT_USAGE;
			msg = NULL;
			goto fail;
		}
		link_policy(n, cfg->insecure_network);
		r = cluster_coordinate(&n->p, &n->key, &n->cluster, err, sizeof(err));
		if (r) {
			if (r == -EINVAL)
				status = EXIT_USAGE;
			goto fail;
		}
	}
	/* Requests wait (API_WAIT_MS at most) until the guest runs. */
	if (node_api_start(n, cfg)) {
		status = EXIT_USAGE;
		msg = NULL;
		goto fail;
	}
	n->console_fd = node_serial_start(n, cfg);
	n->board_opt = (struct board_options){
		.debug_exit = cfg->debug_exit,
		.debug_exit_iobase = cfg->debug_exit_iobase,
		.debug_exit_iosize = cfg->debug_exit_iosize,
		.pci = config_pci_devices(cfg),
	};
	if (build_vm(n)) {
		status = EXIT_USAGE;
		msg = NULL;
		goto fail;
	}
	if (start_metrics(n, cfg->metrics_listen)) {
		status = EXIT_USAGE;
		msg = NULL;
		goto fail;
	}
	if (n->p.nr_nodes > 1) {
		node_print_placement(&n->p, n->p.place, "");
		node_print_memory(&n->p);
	}
	if (n->cluster &&
	    cluster_wait_ready(n->cluster, 0, START_TIMEOUT_S, err, sizeof(err)))
		goto fail;
	if (n->cluster && cfg->rtt_samples)
		node_measure_rtt(n, cfg->rtt_samples);
	if (load_guest(n, cfg, &b, err, sizeof(err))) {
		status = EXIT_USAGE;
		goto fail;
	}
	if (n->cluster && start_nodes(n, &b, err, sizeof(err))) {
		if (!err[0])
			msg = "cannot start the memory plane";
		goto fail;
	}
	if (start_vcpus(n, &b)) {
		msg = "cannot start the vCPUs";
		goto fail;
	}

	status = wait_guest(n);
	node_serial_stop(n);
	node_api_stop(n);
	if (n->fwd)
		node_print_final_placement(n);
	if (status != 0 || log_get_level() >= LOG_INFO)
		pr_info("stopped: %s", n->vm.stop_reason);
	if (status != 0 && !strstr(n->vm.stop_reason, "test guest exited"))
		fprintf(stderr, "amalgam: %s\n", n->vm.stop_reason);
	if (n->stats)
		node_print_stats(n);
	teardown(n);
	spawn_reap(sp, 0);
	free(n);
	return status;

fail:
	node_serial_stop(n);
	node_api_stop(n);
	/* The local nodes are killed first, as they always were. */
	spawn_reap(sp, 1);
	give_up(n, status, msg);
	free(n);
	return status;
}

/* ---- joiner -------------------------------------------------------------- */

int node_join(const struct node_args *a)
{
	struct node *n = calloc(1, sizeof(*n));
	struct boot_text b;
	struct net_start s;
	char err[512] = "", host[CLUSTER_ADDR_MAX];
	const char *msg = err;
	int status = 1, r;

	if (!n)
		return 1;
	n->stats = a->stats;
	n->stats_every_ms = a->stats_every_ms;
	n->cache = a->cache;
	n->read_ahead = a->read_ahead;
	n->offered = a->node_cpus;
	n->console_fd = STDOUT_FILENO;
	if (confine_start(!a->no_seccomp, a->confine_selftest)) {
		msg = NULL;
		goto fail;
	}
	/* auth_key_load and ident_load say which file and what is wrong
	 * with it. */
	if (auth_key_load(a->key_file, &n->key) ||
	    load_identity(n, a->node_key_file, a->trust_file, false)) {
		status = EXIT_USAGE;
		msg = NULL;
		goto fail;
	}
	link_policy(n, a->insecure);
	/* The TSC echo, from the start: it answers only the cluster key's
	 * holders (cluster/rtt.h), so it may be reachable before JOIN. */
	addr_host(a->listen, host, sizeof(host));
	if (rtt_server_start(host, &n->key, &n->rtt))
		n->rtt = NULL;
	else
		pr_info("TSC echo on %s port %d", host, rtt_server_port(n->rtt));
	r = cluster_join(a->listen, &n->key, a->port_fd, a->has_memory ? &a->memory : NULL,
			 a->timeout_s, &n->cluster,
			 &n->p, err, sizeof(err));
	if (r) {
		status = r == -EINVAL ? EXIT_USAGE : 1;
		goto fail;
	}
	if (build_vm(n)) {
		cluster_stop_all(n->cluster, 1, "a node could not build its VM");
		msg = NULL;
		goto fail;
	}
	if (start_metrics(n, a->metrics_listen)) {
		cluster_stop_all(n->cluster, 1, "a node could not serve its metrics");
		status = EXIT_USAGE;
		msg = NULL;
		goto fail;
	}
	if (cluster_send_ready(n->cluster, 0, n->rtt ? rtt_server_port(n->rtt) : 0) ||
	    cluster_wait_start(n->cluster, &s, START_TIMEOUT_S, err, sizeof(err)) ||
	    start_from_wire(&s, &b) || start_clock_adopt(&n->vm, n->p.self, &b) ||
	    preload_and_start_mem(n, &b) || cluster_send_ready(n->cluster, 1, 0) ||
	    start_vcpus(n, &b)) {
		/* A node lost meanwhile (node 0 killed as this one started)
		 * is the reason to give, not the step it broke. */
		if (!err[0])
			msg = vm_stopping(&n->vm) ? n->vm.stop_reason : "cannot start";
		goto fail;
	}
	status = wait_guest(n);
	pr_info("stopped: %s", n->vm.stop_reason);
	/* A failure (a node lost, ours or one another node saw) is said
	 * here too, not only by node 0: node 0 may be the one lost. */
	if (status != 0 && !strstr(n->vm.stop_reason, "test guest exited"))
		fprintf(stderr, "amalgam[%u]: %s\n", n->p.self, n->vm.stop_reason);
	if (n->stats)
		node_print_stats(n);
	teardown(n);
	free(n);
	return status;

fail:
	give_up(n, status, msg);
	free(n);
	return status;
}
