#include "cpu/tscsync.h"

#include <errno.h>
#include <stddef.h>

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

int tscsync_delta(const struct tsc_probe *p, unsigned n, int64_t *delta,
		  uint64_t *err_ticks)
{
	const struct tsc_probe *best = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (p[i].t_recv < p[i].t_send)
			continue;
		if (!best || p[i].t_recv - p[i].t_send < best->t_recv - best->t_send)
			best = &p[i];
	}
	if (!best)
		return -EINVAL;
	/* The midpoint without overflow: both reads are near each other. */
	{
		uint64_t mid = best->t_send + (best->t_recv - best->t_send) / 2;

		*delta = (int64_t)(best->peer_tsc - mid);
		*err_ticks = (best->t_recv - best->t_send + 1) / 2;
	}
	return 0;
}

int64_t tscsync_offset_from_delta(int64_t offset0, int64_t delta)
{
	/* guest = H0 + O0 = (Hk - delta) + O0, so Ok = O0 - delta. */
	return (int64_t)((uint64_t)offset0 - (uint64_t)delta);
}
