#include "memplane/faults.h"

#include <stddef.h>

static unsigned slot(uint64_t page, unsigned i)
{
	return ((unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 40) + i) &
	       (FAULTS_SLOTS - 1);
}

void faults_start(struct faults *f, uint64_t page, unsigned kind, uint64_t t,
		  pid_t tid, bool repeat)
{
	struct fault_entry *free_e = NULL;

	if (kind >= FAULTS_KINDS)
		return;
	/* The whole probe run is looked at, so that a page never has two
	 * entries even after an earlier one in its run was emptied. */
	for (unsigned i = 0; i < FAULTS_PROBE; i++) {
		struct fault_entry *e = &f->pend[slot(page, i)];

		if (e->key == page + 1) {
			free_e = e;
			break;
		}
		if (!e->key && !free_e)
			free_e = e;
	}
	if (free_e)
		*free_e = (struct fault_entry){ page + 1, t, tid, (uint8_t)kind, repeat };
}

bool faults_done(struct faults *f, uint64_t page, uint64_t now,
		 struct fault_entry *out)
{
	for (unsigned i = 0; i < FAULTS_PROBE; i++) {
		struct fault_entry *e = &f->pend[slot(page, i)];

		if (e->key != page + 1)
			continue;
		lathist_add(&f->lat[e->kind], now > e->t_ns ? now - e->t_ns : 0);
		*out = *e;
		e->key = 0;
		return true;
	}
	return false;
}
