/* The memory plane's statistics: its counters, the protocol's, the
 * latency histograms and the hottest pages, read from any thread. */
#include "memplane/memplane_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/mem.h"

static const char *const lat_names[MEMPLANE_LAT_KINDS] = {
	[MEMPLANE_LAT_READ] = "read miss",
	[MEMPLANE_LAT_WRITE] = "write miss",
	[MEMPLANE_LAT_UPGRADE] = "upgrade",
};

const char *memplane_lat_name(enum memplane_lat kind)
{
	return (unsigned)kind < MEMPLANE_LAT_KINDS ? lat_names[kind] : "?";
}

void memplane_lat_hist(struct memplane *mp, int kind, struct lathist *out)
{
	pthread_mutex_lock(&mp->lock);
	if (kind < 0)
		*out = mp->faults.all;
	else if (kind < MEMPLANE_LAT_KINDS)
		*out = mp->faults.remote[kind];
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&mp->lock);
}

void memplane_pages(struct memplane *mp, uint64_t *resident, uint64_t *cached,
		    uint64_t *limit)
{
	struct stat sb;

	/* The memfd's allocated blocks: what this node really holds, read
	 * without counting anything on the fault path. */
	*resident = fstat(mp->mem->fd, &sb) ? 0 : (uint64_t)sb.st_blocks * 512 / PG;
	pthread_mutex_lock(&mp->lock);
	*cached = mp->cache.held;
	*limit = mp->cache.limit;
	pthread_mutex_unlock(&mp->lock);
}

void memplane_stats(struct memplane *mp, struct memplane_stats *out)
{
	struct lathist *lat = malloc(sizeof(mp->faults.remote) + sizeof(mp->faults.all));

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&mp->lock);
	dsm_stats_get(mp->dsm, &out->proto);
	out->reserved = mp->cache.reserved;
	if (lat) {
		memcpy(lat, mp->faults.remote, sizeof(mp->faults.remote));
		lat[FAULTS_KINDS] = mp->faults.all;
	}
	pthread_mutex_unlock(&mp->lock);
	/* The percentiles walk the buckets: not under the lock the faults
	 * need. */
	for (unsigned k = 0; lat && k < MEMPLANE_LAT_KINDS; k++) {
		out->lat_samples[k] = lat[k].n;
		out->lat_max[k] = lat[k].max;
		out->lat_p50[k] = lathist_pct(&lat[k], 50);
		out->lat_p99[k] = lathist_pct(&lat[k], 99);
	}
	if (lat) {
		out->fault_samples = lat[FAULTS_KINDS].n;
		out->fault_p50 = lathist_pct(&lat[FAULTS_KINDS], 50);
		out->fault_p99 = lathist_pct(&lat[FAULTS_KINDS], 99);
	}
	free(lat);
	out->node = mp->self;
	out->home_pages = mp->home_pages;
#define COPY(f) out->f = GET(mp, f);
	COUNTERS(COPY)
#undef COPY
	memplane_pages(mp, &out->resident, &out->cached, &out->cache_limit);
}

#define U(x) ((unsigned long long)(x))

/* The memfd's page index -> guest-physical address (RAM above 4 GiB
 * follows the low part in the memfd). */
static uint64_t gpa_of(const struct memplane *mp, uint64_t page)
{
	uint64_t off = page * 4096;

	return off < mp->mem->low_size ? off : off - mp->mem->low_size + MEM_HIGH_BASE;
}

unsigned memplane_window(struct memplane *mp, uint64_t *remote_faults,
			 struct memplane_hot *out, unsigned n)
{
	struct hot_entry top[32];
	unsigned got;

	if (n > 32)
		n = 32;
	pthread_mutex_lock(&mp->lock);
	got = hotpages_top(&mp->window, top, n);
	memset(&mp->window, 0, sizeof(mp->window));
	pthread_mutex_unlock(&mp->lock);
	*remote_faults = GET(mp, remote_faults);
	for (unsigned i = 0; i < got; i++)
		out[i] = (struct memplane_hot){ .gpa = gpa_of(mp, top[i].page),
						.count = top[i].count };
	return got;
}

void memplane_print_stats(struct memplane *mp, FILE *f)
{
	struct memplane_stats s;
	const struct dsm_stats *p = &s.proto;

	memplane_stats(mp, &s);
	fprintf(f, "memory plane, node %u:\n"
		"  faults %llu: read miss %llu, write miss %llu, upgrade %llu, "
		"joined %llu, spurious %llu, settled locally %llu; asked ahead for devices %llu, read ahead %llu, "
		"given back %llu\n"
		"  sent %llu msgs (%llu pages, %llu bytes), received %llu msgs "
		"(%llu pages, %llu bytes), held %llu, queue max %llu\n"
		"  INV sent %llu, received %llu; copies dropped %llu, downgrades "
		"%llu; zero grants %llu, upgrade grants %llu\n", s.node,
		U(s.faults), U(p->read_miss), U(p->write_miss), U(p->upgrade),
		U(p->fault_joined), U(p->fault_spurious), U(s.local_resolved), U(s.prefetched), U(s.read_ahead),
		U(s.given_back),
		U(s.msgs_sent), U(s.pages_sent), U(s.bytes_sent),
		U(s.msgs_recv), U(s.pages_recv), U(s.bytes_recv), U(s.held),
		U(s.out_queue_max), U(p->inv_sent), U(p->inv_recv),
		U(p->invalidations), U(p->downgrades), U(p->zero_grants),
		U(p->upgrade_grants));
	for (unsigned k = 0; k < MEMPLANE_LAT_KINDS; k++)
		fprintf(f, "  %-10s %6llu remote, p50 %8.1f us, p99 %8.1f us, "
			"max %8.1f us\n", lat_names[k], U(s.lat_samples[k]),
			s.lat_p50[k] / 1e3, s.lat_p99[k] / 1e3,
			s.lat_max[k] / 1e3);
	{
		char lim[32] = "no limit";

		if (s.cache_limit != UINT64_MAX)
			snprintf(lim, sizeof(lim), "limit %llu", U(s.cache_limit));
		/* What this node's memfd really holds, against its budget
		 * (home range + cache), and the protocol's evictions. */
		fprintf(f, "  pages: resident %llu (memfd), home range %llu, cached %llu (%s), "
			"over budget %llu; evictions %llu (write-backs %llu), evictions taken "
			"as home %llu, eviction races %llu\n",
			U(s.resident), U(s.home_pages), U(s.cached), lim, U(s.over_budget),
			U(p->evictions), U(p->writebacks), U(p->evicts_recv), U(p->evict_races));
	}
	fprintf(f, "  all faults %llu resolved, p50 %.1f us, p99 %.1f us\n"
		"  errors: bad messages %llu, protocol %llu, send %llu\n",
		U(s.fault_samples), s.fault_p50 / 1e3, s.fault_p99 / 1e3,
		U(s.bad_msgs + p->bad_msgs), U(p->proto_errors),
		U(s.send_errors));
	{
		struct hot_entry top[16];
		unsigned n;

		pthread_mutex_lock(&mp->lock);
		n = hotpages_top(&mp->hot, top, 16);
		pthread_mutex_unlock(&mp->lock);
		if (n)
			fprintf(f, "  hottest pages (guest-physical, remote faults):");
		for (unsigned i = 0; i < n; i++)
			fprintf(f, " %#llx:%llu", U(gpa_of(mp, top[i].page)), U(top[i].count));
		if (n)
			fputc('\n', f);
	}
}
