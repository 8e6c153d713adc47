/* What node 0 tells every other node in START, once the guest is loaded:
 * the BSP's entry state, one TSC and one kvmclock for every vCPU (node 0's,
 * with how far each host's TSC is from node 0's), and the page ranges the
 * loader wrote (which every node treats as held by node 0). Carried in
 * START (struct net_start, net/wire.h); how each node adopts the clock is
 * here too, through the VM's KVM ioctls. */
#ifndef AMALGAM_NODE_START_H
#define AMALGAM_NODE_START_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/auth.h"
#include "node/startwire.h"

struct cluster;
struct guest_mem;
struct vm;

/* Node 0: sample its kvmclock and TSC for the others. 0 or -errno. */
int start_clock_sample(struct vm *vm, struct boot_text *b);
/* Node 0: how far each joiner's host TSC is from ours, by round trips to
 * its echo server (cluster/rtt.h). A node that cannot be probed falls back
 * to the realtime clocks (start_clock_adopt). */
void start_tsc_probe(struct cluster *c, const struct auth_key *key, unsigned nr_nodes,
		     struct boot_text *b);
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
