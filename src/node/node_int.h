/* Inside a node (src/node/ only): what one node owns while the guest runs,
 * shared by its lifecycle (node.c), the cost model's glue (cpus.c) and the
 * statistics it prints (stats.c). */
#ifndef AMALGAM_NODE_NODE_INT_H
#define AMALGAM_NODE_NODE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cluster/params.h"
#include "cpu/affinity.h"
#include "dsm/dsm.h"
#include "net/auth.h"
#include "node/report.h"
#include "vmm/board.h"
#include "vmm/vm.h"

struct net_load;
struct api_server;
struct metrics_server;

/* Everything one node owns while the guest runs. */
struct node {
	struct cluster_params p;
	struct vm vm;
	bool vm_ok;
	struct board *board;
	struct board_options board_opt;	/* node 0: from the configuration */
	/* The PCI devices, as every node builds them from p.disks and p.nics:
	 * on node 0 in the board, elsewhere in pci (NULL without either). */
	struct pcibus_disk disks[PCIBUS_MAX_DISKS];
	struct pcibus_net nets[PCIBUS_MAX_NETS];
	struct pcibus_links pci_links;
	struct pcibus *pci;
	int console_fd;			/* node 0: where the UART writes */
	struct cluster *cluster;
	struct memplane *mem;
	struct dsm_layout layout;	/* home ranges, also the guest's NUMA nodes */
	struct forward *fwd;
	struct auth_key key;
	struct auth_ident ident;	/* key.ident when --trust */
	bool stats;
	unsigned stats_every_ms;
	uint64_t cache;			/* --cache bytes; 0: from MemAvailable */
	int read_ahead;			/* --read-ahead pages; -1: the default */
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
	unsigned long home_moves;		/* of the page moves, the home rule's */
	unsigned long balances;			/* node_balance_cpus calls */
	uint64_t sched_ns[VM_MAX_VCPUS], sched_at[VM_MAX_VCPUS];
	bool load_warned[CLUSTER_MAX_NODES];
	/* Each peer's last LOAD, under aff_lock (the API shows it). */
	struct { bool known; double cpus, load; } peer[CLUSTER_MAX_NODES];
	/* Pages sent to and received from each peer (atomic). */
	uint64_t pages_to[CLUSTER_MAX_NODES], pages_from[CLUSTER_MAX_NODES];
	/* Time each vCPU waited for remote pages on this node (atomic). */
	uint64_t page_wait_ns[VM_MAX_VCPUS];

	/* Reports for node 0's API (reports.c). Every other node: the last
	 * seq it sent (main thread). Node 0: each node's last good report,
	 * when it came, and what was taken and refused, under report_lock. */
	uint64_t report_seq;
	pthread_mutex_t report_lock;
	struct node_report report[CLUSTER_MAX_NODES];
	bool report_known[CLUSTER_MAX_NODES], report_warned[CLUSTER_MAX_NODES];
	uint64_t report_at[CLUSTER_MAX_NODES];
	uint64_t reports_taken, report_rejects[REPORT_REJ_NR];

	/* Node 0's control plane (api_glue.c): the API server, when asked
	 * for; its state is the VM's as the API sees it. */
	struct api_server *api;
	struct metrics_server *metrics;	/* --metrics-listen, every node */
	bool paused;
	uint64_t started_ns;
	const char *kernel;
	uint8_t api_place[VM_MAX_VCPUS];	/* where the events last said */
	/* Each node's state as the events last said: 0 not heard yet, 1 up,
	 * 2 silent (main thread). */
	uint8_t api_node_state[CLUSTER_MAX_NODES];
	/* The guest's serial output through a pipe, copied to stdout and to
	 * the API (console.c), when node 0 serves the API. */
	int serial_pipe[2];
	pthread_t serial_thread;
	bool serial_on;
	int serial_stop;
};

/* api_glue.c: node 0's API. Start it (0, or -errno with the reason
 * printed), answer every waiting request (the main thread, when the
 * server's eventfd is readable), stop it. */
struct config;
int node_api_start(struct node *n, const struct config *cfg);
void node_api_serve(struct node *n);
void node_api_stop(struct node *n);
/* Node 0 with the API: the fd the UART writes to (a pipe copied to
 * stdout and the API, or stdout itself), and the copier's end. */
int node_serial_start(struct node *n, const struct config *cfg);
void node_serial_stop(struct node *n);
/* Every tick: vCPUs that moved become events. */
void node_api_tick(struct node *n);

/* counters.c: every counter of this node as metrics (api/metrics.h's
 * collect callback; any thread). */
struct metrics_out;
void node_collect(void *opaque, struct metrics_out *o);

/* cpus.c: the page-or-vCPU cost model fed from this node's host. */
/* Once, after the VM: the CPUs this node offers, its pool, whether the
 * kernel reports threads' demand. */
void node_cpus_init(struct node *n);
/* memplane_ops.local_fresh: a vCPU here took new memory of this node's
 * range. */
void node_local_fresh(void *opaque, pid_t tid);
/* memplane_ops.remote_fault: a vCPU here waited for a page from node
 * 'from'; should it rather move there, or home for its memory? Tags the
 * page with the vCPU (its index + 1), for giving it back. */
unsigned node_remote_fault(void *opaque, pid_t tid, uint64_t page, unsigned from,
			   bool repeat, bool fresh, uint64_t wait_ns);
/* vCPU vcpu's home (its NUMA node: where it was placed), -1 for a node
 * without memory. */
int node_vcpu_home(const struct node *n, unsigned vcpu);
/* struct forward_model: a peer's CPUs and load (NET_CPU_LOAD), and a vCPU
 * come from node from, with the share of its time it waited there for
 * this node's pages. */
void node_on_load(void *opaque, unsigned from, const struct net_load *l);
void node_on_arrive(void *opaque, unsigned vcpu, unsigned from, double waited);
/* The share of its recent time vCPU vcpu waited here for node 'of''s
 * pages: what it carries there when it moves. */
double node_waited_for(struct node *n, unsigned vcpu, unsigned of);
/* Every 100 ms, on the main thread: the CPU rule. */
void node_balance_cpus(struct node *n);

/* reports.c: what every node tells node 0 for the API (report.h). */
/* Every 100 ms on the main thread of every node but node 0. */
void node_report_send(struct node *n);
/* cluster_handlers.report, node 0's receive thread: check, keep or count. */
void node_on_report(void *opaque, unsigned from, const struct net_msg *msg);
/* Node 0: a copy of node id's last good report and its age; false if
 * none came yet. */
bool node_report_get(struct node *n, unsigned id, struct node_report *out,
		     uint64_t *age_ns);
/* Node 0: how old node id's last good report is; false if none came. */
bool node_report_age(struct node *n, unsigned id, uint64_t *age_ns);
/* Node 0: reports taken and refused by reason. */
void node_report_stats(struct node *n, uint64_t *taken, uint64_t rejects[REPORT_REJ_NR]);
/* The pages this node's memfd holds now. */
uint64_t node_resident_pages(struct node *n);

/* stats.c: what a node prints. */
void node_print_stats(struct node *n);
/* One line of sampled counters (--stats-every). */
void node_print_sample(struct node *n);
/* One line saying where every vCPU runs. */
void node_print_placement(const struct cluster_params *p, const uint8_t *place,
			  const char *when);
/* Where the vCPUs ended, when any moved. */
void node_print_final_placement(struct node *n);
/* One line saying what RAM each node contributes (its home range). */
void node_print_memory(const struct cluster_params *p);
/* Node 0: the raw TCP baseline to nodes 1..N-1, for the benchmarks. */
void node_measure_rtt(struct node *n, unsigned samples);

#endif
