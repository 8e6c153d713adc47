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
#ifndef AMALGAM_CLUSTER_TSCSYNC_H
#define AMALGAM_CLUSTER_TSCSYNC_H

#include <stdbool.h>
#include <stdint.h>

struct tsc_sample {
	uint64_t host_tsc;	/* H0 */
	int64_t offset;		/* O0 */
	uint64_t realtime_ns;	/* R0 */
	uint64_t khz;		/* f */
};

/* The joining node's offset, given its own host TSC and realtime now. */
int64_t tscsync_offset(const struct tsc_sample *s, uint64_t my_host_tsc,
		       uint64_t my_realtime_ns);

/* Same frequency within 1/10000 (KVM_GET_TSC_KHZ rounds). */
bool tscsync_same_rate(uint64_t khz_a, uint64_t khz_b);

#endif
