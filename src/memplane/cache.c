/* The clock over cached pages (cache.h). */
#include "memplane/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HELD	0x1	/* a copy is held here */
#define REF	0x2	/* faulted on since the hand last passed */
#define QUEUED	0x4	/* in the FIFO */
#define RESERVED 0x8	/* a request is outstanding */

int cache_init(struct cache *c, uint64_t nr_pages, uint64_t home_first,
	       uint64_t home_end, uint64_t limit)
{
	memset(c, 0, sizeof(*c));
	if (home_first > home_end || home_end > nr_pages)
		return -EINVAL;
	c->nr_pages = nr_pages;
	c->home_first = home_first;
	c->home_end = home_end;
	c->limit = limit;
	c->cap = nr_pages - (home_end - home_first);
	c->flags = calloc(nr_pages ? nr_pages : 1, 1);
	c->fifo = calloc(c->cap ? c->cap : 1, sizeof(*c->fifo));
	if (!c->flags || !c->fifo) {
		cache_free(c);
		return -ENOMEM;
	}
	return 0;
}

void cache_free(struct cache *c)
{
	free(c->flags);
	free(c->fifo);
	c->flags = NULL;
	c->fifo = NULL;
}

bool cache_counts(const struct cache *c, uint64_t page)
{
	return page < c->nr_pages && (page < c->home_first || page >= c->home_end);
}

static void push(struct cache *c, uint64_t page)
{
	/* Never full: each counted page is queued at most once. */
	c->fifo[(c->head + c->len) % c->cap] = page;
	c->len++;
}

static uint64_t pop(struct cache *c)
{
	uint64_t page = c->fifo[c->head];

	c->head = (c->head + 1) % c->cap;
	c->len--;
	return page;
}

void cache_add(struct cache *c, uint64_t page)
{
	uint8_t *f;

	if (!cache_counts(c, page))
		return;
	f = &c->flags[page];
	if (!(*f & HELD))
		c->held++;
	*f |= HELD | REF;
	if (!(*f & QUEUED)) {
		*f |= QUEUED;
		push(c, page);
	}
}

void cache_touch(struct cache *c, uint64_t page)
{
	if (cache_counts(c, page) && c->flags[page] & HELD)
		c->flags[page] |= REF;
}

void cache_drop(struct cache *c, uint64_t page)
{
	/* It stays in the FIFO; the hand removes it when it passes. */
	if (cache_counts(c, page) && c->flags[page] & HELD) {
		c->flags[page] &= (uint8_t)~(HELD | REF);
		c->held--;
	}
}

bool cache_held(const struct cache *c, uint64_t page)
{
	return cache_counts(c, page) && c->flags[page] & HELD;
}

void cache_reserve(struct cache *c, uint64_t page)
{
	if (cache_counts(c, page) && !(c->flags[page] & RESERVED)) {
		c->flags[page] |= RESERVED;
		c->reserved++;
	}
}

void cache_release(struct cache *c, uint64_t page)
{
	if (cache_counts(c, page) && c->flags[page] & RESERVED) {
		c->flags[page] &= (uint8_t)~RESERVED;
		c->reserved--;
	}
}

bool cache_reserved(const struct cache *c, uint64_t page)
{
	return cache_counts(c, page) && c->flags[page] & RESERVED;
}

bool cache_full(const struct cache *c)
{
	return c->limit != UINT64_MAX && c->held + c->reserved + 1 > c->limit;
}

int64_t cache_victim(struct cache *c, bool (*busy)(void *arg, uint64_t page),
		     void *arg)
{
	/* Two passes at most: the first clears every reference bit. */
	uint64_t budget = 2 * c->len + 1;

	while (c->len && budget--) {
		uint64_t page = pop(c);
		uint8_t *f = &c->flags[page];

		if (!(*f & HELD)) {
			*f &= (uint8_t)~QUEUED;
			budget++;	/* a stale slot costs no pass */
			continue;
		}
		if (*f & REF) {
			*f &= (uint8_t)~REF;
			push(c, page);
			continue;
		}
		if (busy && busy(arg, page)) {
			push(c, page);
			continue;
		}
		*f &= (uint8_t)~QUEUED;
		return (int64_t)page;
	}
	return -1;
}
