/* Page or vCPU? The cost model that decides when a vCPU should move to
 * the node that keeps taking its pages away (DESIGN.md, "CPU plane").
 *
 * A remote fault costs a round trip, and a page that two nodes keep
 * writing costs one at every turn, for as long as they share it. Moving
 * the vCPU costs one transfer of its state (a few KB, a round trip) and
 * then a round trip for each page of its own that it left behind, once.
 * So a vCPU moves when its faults show sharing rather than a passing move
 * of data, and cost it much of its time:
 *  - only repeat faults count: pages this node has fetched several times
 *    (memplane.h, MEMPLANE_REPEAT). A page fetched once, or read and then
 *    written, is a move of data that moving the vCPU would not save;
 *  - what counts is the time the vCPU spent waiting for them, decayed with
 *    time constant window_ns: the share of its recent time lost to pages
 *    that go back and forth. Counting time rather than faults makes the
 *    rule the same on a fast network and a slow one (the lab's remote
 *    fault is near a millisecond, real hardware's tens of microseconds);
 *  - one node must account for most of that time (share_pct), or moving
 *    there would only trade one remote partner for another;
 *  - a vCPU moves only to a lower-numbered node. Each node decides for
 *    its own vCPUs, so two vCPUs on two nodes writing the same pages would
 *    otherwise both decide to move, trade places, and do it again; going
 *    down only, moves end (node 0, where the BSP and the devices are, is
 *    where shared kernel data tends to gather anyway);
 *  - after a move the vCPU stays at least stay_ns before the next one.
 * Pure: the caller supplies the time and serializes the calls. */
#ifndef AMALGAM_CLUSTER_AFFINITY_H
#define AMALGAM_CLUSTER_AFFINITY_H

#include <stdbool.h>
#include <stdint.h>

#define AFFINITY_MAX_VCPUS 64
#define AFFINITY_MAX_NODES 64

struct affinity_config {
	uint64_t window_ns;
	unsigned wait_pct;	/* share of the window spent waiting on one node */
	unsigned share_pct;	/* that node's share of all such waiting */
	uint64_t stay_ns;
};

/* The defaults: a vCPU that spent a fifth or more of the last 100 ms or
 * so waiting for shared pages, three quarters of that time on one node,
 * and has been where it is for 200 ms. */
extern const struct affinity_config affinity_defaults;

struct affinity_vcpu {
	double wait[AFFINITY_MAX_NODES];	/* decayed ns waited, by node */
	double total;
	uint64_t last_ns;	/* of the last decay */
	uint64_t since_ns;	/* when it started running where it is */
	int where;		/* node it ran on at its last fault, -1 */
};

struct affinity {
	struct affinity_config cfg;
	unsigned nr_vcpus, nr_nodes;
	struct affinity_vcpu v[AFFINITY_MAX_VCPUS];
};

/* -EINVAL for counts out of range or a config that cannot work. */
int affinity_init(struct affinity *a, const struct affinity_config *cfg,
		  unsigned nr_vcpus, unsigned nr_nodes);
/* vCPU vcpu, running on node here, had a remote fault resolved by node
 * from at now_ns after waiting wait_ns; repeat as memplane.h says.
 * Returns the node to move the vCPU to, or -1 to leave it. */
int affinity_fault(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   bool repeat, uint64_t wait_ns, uint64_t now_ns);
/* The vCPU is leaving: if it ever comes back, it starts afresh. */
void affinity_left(struct affinity *a, unsigned vcpu);

#endif
