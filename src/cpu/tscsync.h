/* Agreeing on one guest TSC across nodes (pure arithmetic, no clocks read
 * here, so that it can be tested by simulation).
 *
 * Node 0 samples, at one instant: its host TSC (H0), the guest TSC offset
 * it gave its vCPUs (O0: guest TSC = host TSC + O0) and the realtime clock
 * (R0). A joining node, at a later instant, reads its own host TSC (Hk) and
 * realtime clock (Rk). If both hosts' realtime clocks agree, the guest TSC
 * at that instant must be H0 + O0 + (Rk - R0) * f, f the TSC frequency, so
 * the joining node's offset is that minus Hk. Its error is the realtime
 * disagreement times f (NTP keeps it to ~0.1-1 ms, i.e. 10^5-10^6 ticks:
 * enough for time of day, not for Linux's TSC warp check, which is why on
 * one host the offset is copied exactly instead). Both hosts must run the
 * TSC at the same frequency: KVM here cannot scale it. */
#ifndef AMALGAM_CPU_TSCSYNC_H
#define AMALGAM_CPU_TSCSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/rtt.h"

struct tsc_sample {
	uint64_t host_tsc;	/* H0 */
	int64_t offset;		/* O0 */
	uint64_t realtime_ns;	/* R0 */
	uint64_t khz;		/* f */
};

/* The joining node's offset, given its own host TSC and realtime now. */
int64_t tscsync_offset(const struct tsc_sample *s, uint64_t my_host_tsc,
		       uint64_t my_realtime_ns);

/* Better, when node 0 can reach the joining node: round trips. Node 0
 * reads its host TSC (t_send), asks, the peer answers with its host TSC
 * (peer_tsc), node 0 reads its TSC again (t_recv). If the two halves of the
 * trip took as long, the peer's TSC minus node 0's at one instant is
 * peer_tsc - (t_send + t_recv) / 2, wrong by at most half the round trip:
 * microseconds on a LAN, against milliseconds for the realtime clocks.
 * The probes (struct tsc_probe) are taken by cluster/rtt.h. */

/* From n probes, the delta (peer host TSC - node 0's) of the fastest
 * round trip, and its error bound (half that trip, in ticks). -EINVAL if
 * no probe is usable (none, or a clock that ran backwards). */
int tscsync_delta(const struct tsc_probe *p, unsigned n, int64_t *delta,
		  uint64_t *err_ticks);
/* The joining node's offset from node 0's offset O0 and the delta. */
int64_t tscsync_offset_from_delta(int64_t offset0, int64_t delta);

/* Same frequency within 1/10000 (KVM_GET_TSC_KHZ rounds). */
bool tscsync_same_rate(uint64_t khz_a, uint64_t khz_b);

#endif
