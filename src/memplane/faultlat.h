/* Remote-fault latency, from the fault to the page being mapped, by kind
 * of fault: which pages have a timed request outstanding, and a histogram
 * of each kind (util/lathist.h). Not thread-safe: the memory plane calls
 * it under its lock. */
#ifndef AMALGAM_MEMPLANE_FAULTLAT_H
#define AMALGAM_MEMPLANE_FAULTLAT_H

#include <stdint.h>

#include "util/lathist.h"

#define FAULTLAT_KINDS 3
#define FAULTLAT_SLOTS 1024
#define FAULTLAT_PROBE 16

struct faultlat {
	struct {
		uint64_t key;		/* page + 1; 0: empty */
		uint64_t t_ns;		/* when the fault was taken */
		unsigned kind;
	} pend[FAULTLAT_SLOTS];
	struct lathist lat[FAULTLAT_KINDS];
};

/* A fault on page sent a request at time t. */
void faultlat_start(struct faultlat *l, uint64_t page, unsigned kind, uint64_t t);
/* Page was mapped at now: if its request was timed, take the sample. */
void faultlat_done(struct faultlat *l, uint64_t page, uint64_t now);
#endif
