#include "memplane/hotpages.h"

#include <string.h>

static unsigned slot_of(uint64_t page)
{
	/* Spread neighbouring pages (a hot array) over the table. */
	return (unsigned)((page * 0x9E3779B97F4A7C15ull) >> 52) % HOTPAGES_SLOTS;
}

uint64_t hotpages_add(struct hotpages *h, uint64_t page)
{
	struct hot_entry *e = &h->slot[slot_of(page)];

	if (e->count && e->page != page) {
		e->count--;
		return 0;
	}
	e->page = page;
	return ++e->count;
}

unsigned hotpages_top(const struct hotpages *h, struct hot_entry *out, unsigned n)
{
	unsigned got = 0;

	for (unsigned i = 0; i < HOTPAGES_SLOTS; i++) {
		const struct hot_entry *e = &h->slot[i];
		unsigned k;

		if (!e->count)
			continue;
		/* Insertion into the small sorted output. */
		for (k = got; k > 0 && out[k - 1].count < e->count; k--)
			if (k < n)
				out[k] = out[k - 1];
		if (k < n) {
			out[k] = *e;
			if (got < n)
				got++;
		}
	}
	return got;
}
