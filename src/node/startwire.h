/* START's payload both ways (struct net_start, net/wire.h): pure code,
 * no KVM, so that the decoder can be fuzzed alone (fuzz/fuzz_payload.c). */
#ifndef AMALGAM_NODE_STARTWIRE_H
#define AMALGAM_NODE_STARTWIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/params.h"
#include "net/wire.h"
#include "x86/regs.h"

/* What node 0 sends in START: the BSP's entry state and the page ranges
 * it loaded (which every node must treat as held by node 0). */
struct boot_text {
	struct boot_entry entry;
	/* One TSC and one kvmclock for every vCPU: node 0's, adopted by all. */
	int64_t tsc_offset;
	uint64_t kvmclock, realtime_ns, host_tsc, tsc_khz;
	uint32_t clock_flags;
	char boot_id[NET_BOOT_ID_MAX];
	/* Node i's host TSC minus node 0's, from round trips (tscsync.h). */
	bool has_delta[CLUSTER_MAX_NODES];
	int64_t tsc_delta[CLUSTER_MAX_NODES];
	unsigned nr_nodes;
	unsigned nr_ranges;
	uint64_t first[NET_START_RANGES], count[NET_START_RANGES];
};

static_assert(CLUSTER_MAX_NODES == NET_START_NODES, "START has a TSC delta per node");

/* b as START's payload (every spare byte zero). */
void start_to_wire(const struct boot_text *b, struct net_start *s);
/* Back from START: 0, or -EINVAL for counts beyond boot_text's arrays. */
int start_from_wire(const struct net_start *s, struct boot_text *b);

#endif
