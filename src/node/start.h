/* What node 0 tells every other node in START, once the guest is loaded:
 * the BSP's entry state, one TSC and one kvmclock for every vCPU (node 0's,
 * with how far each host's TSC is from node 0's), and the page ranges the
 * loader wrote (which every node treats as held by node 0). Carried as one
 * line of text; how each node adopts the clock is here too, through the
 * VM's KVM ioctls. */
#ifndef AMALGAM_NODE_START_H
#define AMALGAM_NODE_START_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/params.h"
#include "x86/regs.h"

struct cluster;
struct guest_mem;
struct vm;

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

/* The text of b into buf (NUL-terminated): 0, or -ENOSPC. */
int start_format(const struct boot_text *b, char *buf, size_t len);
/* Back from text: 0, or -EINVAL. */
int start_parse(const char *s, struct boot_text *b);

/* Node 0: sample its kvmclock and TSC for the others. 0 or -errno. */
int start_clock_sample(struct vm *vm, struct boot_text *b);
/* Node 0: how far each joiner's host TSC is from ours, by round trips to
 * its echo server (cluster/rtt.h). A node that cannot be probed falls back
 * to the realtime clocks (start_clock_adopt). */
void start_tsc_probe(struct cluster *c, unsigned nr_nodes, struct boot_text *b);
/* Node k: adopt node 0's kvmclock and TSC. On the same host (same boot
 * id) the host TSC is shared, so the offset carries over exactly and the
 * kvmclock is set with the shared realtime clock. Across hosts the guest
 * TSC is rebased by node 0's round trips, else by the realtime elapsed
 * since node 0's sample (cpu/tscsync.h): exact only as far as the hosts'
 * clocks agree. 0 or -errno (with the reason printed). */
int start_clock_adopt(struct vm *vm, unsigned self, const struct boot_text *b);
/* Pages the loader wrote: the memfd's data extents (the rest are holes).
 * 0, or -ENOSPC if there are too many ranges to tell. */
int start_loaded_ranges(const struct guest_mem *mem, struct boot_text *b);

#endif
