/* The pages that fault remotely most often, in constant space: a
 * direct-mapped table of counters where a colliding page wears the
 * incumbent down before taking its slot (heavy hitters survive, one-off
 * faults do not). For the statistics, and for the cost model that
 * decides between moving a page and moving a vCPU (a page fetched again
 * and again is shared, not just moving once). Not thread-safe: the
 * caller serializes. */
#ifndef AMALGAM_MEMPLANE_HOTPAGES_H
#define AMALGAM_MEMPLANE_HOTPAGES_H

#include <stdint.h>

#define HOTPAGES_SLOTS 4096

struct hot_entry {
	uint64_t page;
	uint64_t count;
};

struct hotpages {
	struct hot_entry slot[HOTPAGES_SLOTS];
};

/* Count a remote fault on page; returns the page's count now (0 if it
 * only wore down another page's slot). */
uint64_t hotpages_add(struct hotpages *h, uint64_t page);
/* The n hottest pages, hottest first; returns how many were filled. */
unsigned hotpages_top(const struct hotpages *h, struct hot_entry *out, unsigned n);

#endif
