/* A node's budget for copies of other nodes' pages: which of them it
 * holds, how many, and which to give up next. Pure bookkeeping, no
 * protocol and no memory: the memory plane tells it what its actions did
 * (a copy installed, touched, dropped) and asks it for a victim when a
 * new copy would not fit.
 *
 * Budget. Resident guest pages on a node = its own home range's pages it
 * holds + cached pages (copies homed elsewhere). Only the latter are
 * limited: a home never gives up its own range (it is the backing store of
 * last resort, dsm.h), so the budget is home range + limit. A request in
 * flight for a page homed elsewhere holds a reservation: its copy arrives
 * later, on the receive thread, and must find room without anything to
 * evict then. A request is reserved when it is sent and released when it
 * is answered, so held + reserved <= limit is what the plane keeps before
 * every new request.
 *
 * Victims: a clock (second chance) over the cached pages, as a FIFO of
 * page numbers. A page enters at install with its reference bit set; a
 * later fault on it (an upgrade, or the read that comes back after a
 * write-protect) sets the bit again. The hand takes the oldest page: a
 * page with the bit set loses it and goes to the back, a page with a
 * request outstanding (busy()) goes to the back untouched, a page no
 * longer held (dropped by an invalidation meanwhile) leaves the FIFO, and
 * the first page found held and unreferenced is the victim. Nothing of
 * this runs on the fault path: the bits are set where the plane already
 * works on the page (install, upgrade), the hand moves only when room is
 * needed. There are no hardware access bits here (userfaultfd does not
 * report accesses to mapped pages), so "referenced" means "faulted on
 * since the hand last passed": a page that is read often but never
 * faults looks cold. That is the price of a free fault path.
 *
 * Space: one byte per guest page and one 8-byte FIFO slot per page homed
 * elsewhere (each page is in the FIFO at most once). Not thread-safe: the
 * memory plane calls it under its lock.
 */
#ifndef AMALGAM_MEMPLANE_CACHE_H
#define AMALGAM_MEMPLANE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct cache {
	uint64_t nr_pages;
	uint64_t home_first, home_end;	/* never cached */
	uint64_t limit;			/* pages; UINT64_MAX: no limit */
	uint64_t held, reserved;
	uint8_t *flags;			/* per page, CACHE_* in cache.c */
	uint64_t *fifo;			/* the clock's pages, oldest at head */
	uint64_t cap, head, len;
	uint64_t over;			/* times a new request found no victim */
};

/* Home range [home_first, home_end) of nr_pages; limit in pages. 0 or
 * -EINVAL / -ENOMEM. */
int cache_init(struct cache *c, uint64_t nr_pages, uint64_t home_first,
	       uint64_t home_end, uint64_t limit);
void cache_free(struct cache *c);

/* False for the home range and for pages out of range: they are not
 * counted and every call below ignores them. */
bool cache_counts(const struct cache *c, uint64_t page);

/* A copy of page is now held here (installed, or preloaded). */
void cache_add(struct cache *c, uint64_t page);
/* The copy was used again (a fault on it): second chance. */
void cache_touch(struct cache *c, uint64_t page);
/* The copy is gone (invalidated, evicted). */
void cache_drop(struct cache *c, uint64_t page);
bool cache_held(const struct cache *c, uint64_t page);

/* A request for page went out / was answered. At most one reservation
 * per page; release of an unreserved page does nothing. */
void cache_reserve(struct cache *c, uint64_t page);
void cache_release(struct cache *c, uint64_t page);
bool cache_reserved(const struct cache *c, uint64_t page);

/* Would one more copy (a new request) exceed the limit? */
bool cache_full(const struct cache *c);

/* The next victim by the clock, skipping pages for which busy(arg, page)
 * is true; -1 if every cached page is busy or none is cached. The victim
 * stays counted as held until cache_drop (the plane drops it when the
 * protocol's INVALIDATE for it is carried out). */
int64_t cache_victim(struct cache *c, bool (*busy)(void *arg, uint64_t page),
		     void *arg);

#endif
