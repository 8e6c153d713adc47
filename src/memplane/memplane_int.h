/* The memory plane's insides, shared by its files: memplane.c (actions,
 * faults, the sender thread, the life cycle), receive.c (messages in and
 * the starvation window) and stats.c. Nothing outside src/memplane/
 * includes it. Locking: see memplane.h; "lock" below is the plane lock. */
#ifndef AMALGAM_MEMPLANE_MEMPLANE_INT_H
#define AMALGAM_MEMPLANE_MEMPLANE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "memplane/cache.h"
#include "memplane/faults.h"
#include "memplane/hotpages.h"
#include "memplane/memplane.h"
#include "memplane/pager.h"
#include "net/wire.h"

#define PG DSM_PAGE_SIZE
/* Pages mapped lately, for the starvation window: direct-mapped, a
 * collision only forgets a page early (it then leaves sooner). Not part
 * of the table of pending faults: faults.h says why. */
#define RECENT_SLOTS 1024
/* Held messages after start; past this, all are released at once (order
 * kept). Before start they are bounded by the peers' vCPUs. */
#define HELD_MAX 65536

static_assert(PG == NET_PAGE_SIZE, "a DSM page is a wire page");
static_assert(FAULTS_KINDS == MEMPLANE_LAT_KINDS, "one latency histogram per kind");
/* The latency kinds are the protocol's first fault kinds, in its order. */
static_assert((int)MEMPLANE_LAT_READ == (int)DSM_FAULT_READ_MISS &&
	      (int)MEMPLANE_LAT_WRITE == (int)DSM_FAULT_WRITE_MISS &&
	      (int)MEMPLANE_LAT_UPGRADE == (int)DSM_FAULT_UPGRADE,
	      "memplane_lat follows dsm_fault_kind");

/* A message waiting for the sender thread. */
struct outmsg {
	struct outmsg *next;
	unsigned to;
	struct net_msg msg;
	uint8_t page[];		/* PG bytes iff msg.data_len */
};

/* A received message held back (window, or before start). */
struct held {
	struct held *next;
	uint64_t due_ns;
	struct dsm_msg m;
	bool has_data;
	uint8_t page[];		/* PG bytes iff has_data */
};

struct recent {
	uint64_t key;		/* page + 1; 0: empty */
	uint64_t t_ns;		/* when it was mapped */
};

struct range {
	uint64_t first, count;
};

#define PREFETCH_QUEUE 256	/* pages; more are left to the device's faults */
#define READAHEAD_STREAMS 16

/* Named as in struct memplane_stats. Relaxed atomics: updated from any
 * thread, lock or not. */
#define COUNTERS(X) X(faults) X(local_resolved) X(msgs_sent) X(msgs_recv) \
	X(bytes_sent) X(bytes_recv) X(pages_sent) X(pages_recv) X(held) \
	X(out_queue_max) X(bad_msgs) X(send_errors) X(remote_faults) \
	X(over_budget) X(prefetched) X(read_ahead) X(given_back)
#define DECLARE(f) _Atomic uint64_t f;
struct counters {
	COUNTERS(DECLARE)
};

struct memplane {
	struct guest_mem *mem;
	struct dsm_layout layout;
	unsigned self, nr_nodes;
	uint64_t nr_pages;
	uint64_t home_pages;	/* the size of this node's home range */
	struct memplane_ops ops;
	void *opaque;
	uint64_t hold_ns;	/* set before start; the floor of the window */
	atomic_bool failed;	/* a fatal error happened */
	atomic_bool fatal_due;	/* ... and ops->fatal was not called yet */
	char why[160];		/* the first fatal error, set once */
	atomic_bool stopping;	/* written under lock, read anywhere */

	/* Control thread only. */
	bool stopped;
	bool sender_running;
	bool draining;		/* someone (sender or inline) is sending a batch */
	struct hotpages hot;	/* remotely faulting pages, under the lock */
	struct hotpages window;	/* the same since the last memplane_window */
	pthread_t sender;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* sender: queue, due message, stopping */
	/* Everything below is under lock. */
	struct dsm_node *dsm;
	struct pager *pager;	/* from start to stop */
	bool started;
	struct range *own;	/* preloaded ranges owned by this node */
	size_t nr_own;
	struct outmsg *out_head, **out_tail;
	uint64_t out_len;
	struct held *held_head, **held_tail;
	size_t nr_held;
	struct recent recent[RECENT_SLOTS];
	struct faults faults;	/* remote faults pending, their latency */
	struct cache cache;	/* copies of pages homed elsewhere: the budget */
	/* Pages devices asked for ahead (memplane_prefetch), for the sender
	 * thread to request: a device's thread may not touch the pager or
	 * the links (its seccomp filter), and must not wait for them. */
	struct prefetch {
		uint64_t page;
		bool write;
	} ahead[PREFETCH_QUEUE];
	unsigned nr_ahead;
	unsigned readahead;	/* pages; memplane_set_readahead */
	bool speculating;	/* trim for a guess: never over budget */
	/* Read-ahead (memplane.c, read_ahead): a faulting thread's
	 * sequential run, per slot tid % READAHEAD_STREAMS. */
	struct stream {
		pid_t tid;
		uint64_t last;		/* its last fault */
		uint64_t asked_to;	/* pages before this are asked for */
		unsigned run;		/* faults in a row that were sequential */
	} streams[READAHEAD_STREAMS];
	uint64_t room_for;	/* the page a trim makes room for: no victim */
	/* Per page, the tag of the fault that last brought it here (0:
	 * none), and the give-backs asked for (memplane_give_back), by tag:
	 * the next page of the home's range to look at, and its end. */
	uint8_t *taker;
	struct give_back {
		uint64_t next, end;
	} give[MEMPLANE_TAGS];
	unsigned nr_giving;	/* tags with next < end */
	uint64_t give_due;	/* the next batch not before (sender thread) */

	struct counters c;
};

#define INC(mp, f, n) atomic_fetch_add_explicit(&(mp)->c.f, (n), \
						memory_order_relaxed)
#define GET(mp, f) atomic_load_explicit(&(mp)->c.f, memory_order_relaxed)

static inline uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static inline unsigned hash(uint64_t page)
{
	return (unsigned)((page * 0x9E3779B97F4A7C15ULL) >> 40);
}

static inline uint64_t page_key(uint64_t page)
{
	return page + 1;
}

static inline struct recent *recent_of(struct memplane *mp, uint64_t page)
{
	return &mp->recent[hash(page) & (RECENT_SLOTS - 1)];
}

/* A fatal error (memplane.c): lock held, or on the sender thread. */
void memplane__fail(struct memplane *mp, const char *what, uint64_t page, int err);
/* Carry out the last dsm call's actions; lock held (memplane.c). */
void memplane__run_actions(struct memplane *mp, const void *data, int from);
/* Send what the actions queued from this thread; lock held (memplane.c). */
void memplane__drain_inline(struct memplane *mp);
/* Deliver the held messages that are due (all: every one); lock held.
 * Returns the earliest due time left, UINT64_MAX if none (receive.c). */
uint64_t memplane__release(struct memplane *mp, uint64_t now, bool all);

#endif
