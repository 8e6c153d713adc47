#include "memplane/faultlat.h"

#include <stddef.h>
#include <stdlib.h>

static unsigned slot(uint64_t page, unsigned i)
{
	return ((unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 40) + i) &
	       (FAULTLAT_SLOTS - 1);
}

void faultlat_start(struct faultlat *l, uint64_t page, unsigned kind, uint64_t t)
{
	if (kind >= FAULTLAT_KINDS)
		return;
	for (unsigned i = 0; i < FAULTLAT_PROBE; i++) {
		unsigned s = slot(page, i);

		if (!l->pend[s].key || l->pend[s].key == page + 1) {
			l->pend[s].key = page + 1;
			l->pend[s].t_ns = t;
			l->pend[s].kind = kind;
			return;
		}
	}
}

/* Every probe slot is looked at, so emptying one never hides another. */
void faultlat_done(struct faultlat *l, uint64_t page, uint64_t now)
{
	for (unsigned i = 0; i < FAULTLAT_PROBE; i++) {
		unsigned s = slot(page, i);
		struct faultlat_ring *r;
		uint64_t d;

		if (l->pend[s].key != page + 1)
			continue;
		r = &l->ring[l->pend[s].kind];
		d = now - l->pend[s].t_ns;
		r->v[r->n++ % FAULTLAT_RING] = d;
		if (d > r->max)
			r->max = d;
		l->pend[s].key = 0;
		return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void faultlat_summary(struct faultlat_ring *r, uint64_t *p50, uint64_t *p99)
{
	size_t n = r->n < FAULTLAT_RING ? (size_t)r->n : FAULTLAT_RING;

	*p50 = *p99 = 0;
	if (!n)
		return;
	qsort(r->v, n, sizeof(r->v[0]), cmp_u64);
	*p50 = r->v[(n - 1) / 2];
	*p99 = r->v[(n - 1) * 99 / 100];
}
