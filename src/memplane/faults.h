/* The memory plane's one table of pending faults: for each page a vCPU
 * here faulted on and the protocol sent a request for, when it faulted,
 * which thread waits, what kind of fault it was (dsm_fault's kind) and
 * whether the page keeps coming back (hotpages.h). The page being mapped
 * closes the entry: its latency goes into that kind's histogram, and the
 * entry tells the cost model who waited and for how long.
 *
 * Open addressing with a short probe: the faults in flight at once are
 * bounded by the threads that can fault, so a full probe run (the sample
 * then not taken) means something else is wrong. Not thread-safe: the
 * memory plane calls it under its lock. */
#ifndef AMALGAM_MEMPLANE_FAULTS_H
#define AMALGAM_MEMPLANE_FAULTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/lathist.h"

#define FAULTS_KINDS 3		/* read miss, write miss, upgrade */
#define FAULTS_SLOTS 1024
#define FAULTS_PROBE 16

struct fault_entry {
	uint64_t key;		/* page + 1; 0: empty */
	uint64_t t_ns;		/* when the fault was taken */
	pid_t tid;		/* the faulting thread */
	uint8_t kind;		/* < FAULTS_KINDS */
	bool repeat;		/* the page was fetched MEMPLANE_REPEAT times */
};

struct faults {
	struct fault_entry pend[FAULTS_SLOTS];
	struct lathist lat[FAULTS_KINDS];	/* fault -> mapped, ns */
};

/* A fault on page sent a request at time t. A page already pending keeps
 * one entry, the newest fault's. */
void faults_start(struct faults *f, uint64_t page, unsigned kind, uint64_t t,
		  pid_t tid, bool repeat);
/* Page was mapped at now: if a fault waited for it, take its latency,
 * close its entry and return true with the entry in *out. */
bool faults_done(struct faults *f, uint64_t page, uint64_t now,
		 struct fault_entry *out);

#endif
