/* The memory plane's one table of pending faults: for each page a vCPU
 * here faulted on, when the first fault was taken, which thread took it,
 * what kind of fault the protocol said it was (dsm_fault's kind), whether
 * a request left this node for it and whether the page keeps coming back
 * (hotpages.h). The page being mapped or woken closes the entry: every
 * fault's latency goes into one histogram, a remote fault's also into its
 * kind's, and the entry tells the cost model who waited and how long.
 *
 * Open addressing with a short probe: the faults in flight at once are
 * bounded by the threads that can fault. An entry nothing closed for
 * FAULTS_STALE_NS (a fault message read after its page was resolved, the
 * page never woken again) may be taken over; a full probe run, or a
 * takeover, counts as dropped. Not thread-safe: the memory plane calls it
 * under its lock.
 *
 * The starvation window's table of pages mapped lately (struct recent in
 * memplane_int.h) is also keyed by page but is not a table of faults, and
 * stays apart on purpose. An entry here lives from a fault to the page's
 * mapping; one there from the mapping until the window ends or the page is
 * invalidated, and is written for every mapping, awaited or not. The two
 * overlap (a page mapped read-only a moment ago, now faulting for write).
 * Losing an entry here loses a latency and a signal to the cost model, so
 * this table probes and counts what it drops; losing one there only ends a
 * window early, so that one is a direct-mapped cache where a collision
 * simply forgets. One table would make lapsed mappings compete with
 * pending faults for the same slots. */
#ifndef AMALGAM_MEMPLANE_FAULTS_H
#define AMALGAM_MEMPLANE_FAULTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/lathist.h"

#define FAULTS_KINDS 3		/* remote kinds: read miss, write miss, upgrade */
#define FAULTS_SLOTS 1024
#define FAULTS_PROBE 16
#define FAULTS_STALE_NS (10ULL * 1000000000ULL)

struct fault_entry {
	uint64_t key;		/* page + 1; 0: empty */
	uint64_t t_ns;		/* when the first fault was taken */
	pid_t tid;		/* the thread that took it */
	uint8_t kind;		/* enum dsm_fault_kind */
	bool remote;		/* a request left this node; kind < FAULTS_KINDS */
	bool repeat;		/* the page was fetched MEMPLANE_REPEAT times */
};

struct faults {
	struct fault_entry pend[FAULTS_SLOTS];
	struct lathist remote[FAULTS_KINDS];	/* remote fault -> mapped, ns */
	struct lathist all;			/* any fault -> woken, ns */
	uint64_t dropped;
};

/* A fault on page at time t. The page's first pending fault counts: a
 * later one (joined) leaves the entry as it is. */
void faults_start(struct faults *f, uint64_t page, const struct fault_entry *e);
/* Page was mapped or woken at now: if a fault waited for it, take its
 * latency, close its entry and return true with the entry in *out. */
bool faults_done(struct faults *f, uint64_t page, uint64_t now,
		 struct fault_entry *out);

#endif
