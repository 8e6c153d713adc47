#include "memplane/faultlat.h"


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
		if (l->pend[s].key != page + 1)
			continue;
		lathist_add(&l->lat[l->pend[s].kind], now - l->pend[s].t_ns);
		l->pend[s].key = 0;
		return;
	}
}
