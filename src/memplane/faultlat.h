/* Remote-fault latency, from the fault to the page being mapped, by kind
 * of fault: which pages have a timed request outstanding, the last
 * FAULTLAT_RING samples of each kind for percentiles. Not thread-safe:
 * the memory plane calls it under its lock. */
#ifndef AMALGAM_MEMPLANE_FAULTLAT_H
#define AMALGAM_MEMPLANE_FAULTLAT_H

#include <stdint.h>

#define FAULTLAT_KINDS 3
#define FAULTLAT_RING 1024
#define FAULTLAT_SLOTS 1024
#define FAULTLAT_PROBE 16

struct faultlat_ring {
	uint64_t v[FAULTLAT_RING];	/* ns */
	uint64_t n;			/* samples ever taken */
	uint64_t max;
};

struct faultlat {
	struct {
		uint64_t key;		/* page + 1; 0: empty */
		uint64_t t_ns;		/* when the fault was taken */
		unsigned kind;
	} pend[FAULTLAT_SLOTS];
	struct faultlat_ring ring[FAULTLAT_KINDS];
};

/* A fault on page sent a request at time t. */
void faultlat_start(struct faultlat *l, uint64_t page, unsigned kind, uint64_t t);
/* Page was mapped at now: if its request was timed, take the sample. */
void faultlat_done(struct faultlat *l, uint64_t page, uint64_t now);
/* p50 and p99 of a ring (sorted in place: give it a copy). */
void faultlat_summary(struct faultlat_ring *r, uint64_t *p50, uint64_t *p99);

#endif
