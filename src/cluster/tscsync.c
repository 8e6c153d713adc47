#include "cluster/tscsync.h"

int64_t tscsync_offset(const struct tsc_sample *s, uint64_t my_host_tsc,
		       uint64_t my_realtime_ns)
{
	/* Elapsed realtime in TSC ticks; 128-bit so that days of uptime at
	 * GHz rates cannot overflow. A joiner whose clock is behind node 0's
	 * sample gets a negative elapsed time, which is just as valid. */
	__int128 elapsed_ns = (__int128)my_realtime_ns - (__int128)s->realtime_ns;
	__int128 ticks = elapsed_ns * (__int128)s->khz / 1000000;
	__int128 guest_now = (__int128)s->host_tsc + s->offset + ticks;

	return (int64_t)(guest_now - (__int128)my_host_tsc);
}

bool tscsync_same_rate(uint64_t a, uint64_t b)
{
	uint64_t d = a > b ? a - b : b - a;

	return a && b && d * 10000 <= (a > b ? a : b);
}
