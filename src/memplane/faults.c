#include "memplane/faults.h"

#include <stddef.h>

static unsigned slot(uint64_t page, unsigned i)
{
	return ((unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 40) + i) &
	       (FAULTS_SLOTS - 1);
}

void faults_start(struct faults *f, uint64_t page, const struct fault_entry *in)
{
	struct fault_entry *free_e = NULL, *stale = NULL;

	/* The whole probe run is looked at, so that a page never has two
	 * entries even after an earlier one in its run was emptied. */
	for (unsigned i = 0; i < FAULTS_PROBE; i++) {
		struct fault_entry *e = &f->pend[slot(page, i)];

		if (e->key == page + 1)
			return;
		if (!e->key && !free_e)
			free_e = e;
		if (e->key && !stale && in->t_ns - e->t_ns > FAULTS_STALE_NS)
			stale = e;
	}
	if (!free_e) {
		f->dropped++;
		if (!stale)
			return;
		free_e = stale;
	}
	*free_e = *in;
	free_e->key = page + 1;
}

bool faults_done(struct faults *f, uint64_t page, uint64_t now,
		 struct fault_entry *out)
{
	for (unsigned i = 0; i < FAULTS_PROBE; i++) {
		struct fault_entry *e = &f->pend[slot(page, i)];
		uint64_t d;

		if (e->key != page + 1)
			continue;
		d = now > e->t_ns ? now - e->t_ns : 0;
		lathist_add(&f->all, d);
		if (e->remote && e->kind < FAULTS_KINDS)
			lathist_add(&f->remote[e->kind], d);
		*out = *e;
		e->key = 0;
		return true;
	}
	return false;
}
