/* The memory plane of one node at run time: the coherence protocol
 * (dsm.h) driven by guest faults (pager.h) and by messages from the other
 * nodes, with the protocol's actions carried out on the local copies and
 * its messages handed to the transport.
 *
 * Life cycle (one control thread):
 *   memplane_new -> memplane_preload* -> memplane_start -> ... ->
 *   memplane_stop -> memplane_free
 * Every node calls memplane_preload with the same arguments, before start.
 * memplane_start drops every local page the protocol says this node does
 * not hold (what the boot loader wrote on another node, or anything else
 * in the memfd), makes the preloaded pages it owns local and writable
 * (holes become zero pages), registers the guest view with userfaultfd and
 * starts the threads. From then on a guest access to a page not held
 * faults into the protocol.
 *
 * Wire encoding (NET_MSG_DSM, struct net_dsm): op = enum dsm_msg_type,
 * flags = DSM_F_*, src = requester, gfn = page number as in dsm.h (memfd
 * offset / 4096, not gpa >> 12), version = version, node = sending node;
 * req_id, count and arg are zero. The page travels as the 4096-byte data
 * iff flags has DSM_F_DATA. The receiver checks all of it before the
 * protocol sees the message.
 *
 * Threads and locking
 * -------------------
 * One mutex (the plane lock) covers the dsm_node and everything the plane
 * keeps about pages. Three kinds of threads take it:
 *  - the pager's fault thread: ops->fault -> dsm_fault();
 *  - the transport's receive thread(s): memplane_receive() -> dsm_receive();
 *  - the plane's sender thread: releases held messages (below) and takes
 *    the outbound queue.
 * The actions of each dsm call are carried out in order under the lock.
 * Pager calls are local ioctls (a few microseconds); a SEND is not sent
 * there but appended to an outbound FIFO, with the page copied from the
 * hypervisor view at that point of the list (a later INVALIDATE in the same
 * list drops it). The list's messages join the FIFO only after the whole
 * list is carried out, as dsm.h requires. One thread at a time drains
 * the FIFO and calls ops->send, in FIFO order, without the lock: the
 * thread whose dsm call queued the messages (fault or receive thread) when
 * nobody is draining, else the sender thread, which takes over what is
 * queued meanwhile. Since the FIFO is in action order the per-page and
 * per-pair order the protocol needs is kept.
 * Received page contents are installed straight from msg->data. Zero
 * pages never travel: a DATA with DSM_F_ZERO installs a zero page.
 *
 * Starvation window. Under heavy write sharing a page can leave a node
 * before the vCPU woken for it has run (dsm.h). When a page was mapped here
 * less than hold_ns ago (default MEMPLANE_HOLD_NS), an incoming INV,
 * FWD_READ, FWD_WRITE, or (at the home) READ_REQ or WRITE_REQ for it is
 * held until the window ends; every later message about that page from
 * that sender is held behind it, so the order the protocol relies on is
 * kept. The sender thread releases held messages when due (timed wait on
 * CLOCK_MONOTONIC). Messages that arrive before memplane_start are held the
 * same way and processed once the plane runs.
 *
 * Fatal errors (a pager call failing, the pager thread dying, a failed
 * send, the protocol out of memory) are logged where they happen and
 * reported once through ops->fatal from the sender thread; the plane keeps
 * going as best it can until the node stops it.
 */
#ifndef AMALGAM_MEMPLANE_MEMPLANE_H
#define AMALGAM_MEMPLANE_MEMPLANE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "dsm/dsm.h"

struct guest_mem;
struct net_msg;
struct memplane;

#define MEMPLANE_HOLD_NS 100000ULL

struct memplane_ops {
	/* Send one DSM message (msg->type NET_MSG_DSM, the page in
	 * msg->data if data_len is 4096) to node 'to'. Called by one thread
	 * at a time (the sender thread, or a fault or receive thread that
	 * drains inline), in order, without the plane lock; must return in
	 * bounded time (memplane_stop waits for it). 0 or -errno; an error is
	 * fatal. */
	int (*send)(void *opaque, unsigned to, const struct net_msg *msg);
	/* The node must stop the guest: why says what happened. Called at
	 * most once, on the plane's sender thread (or in memplane_stop), never
	 * with the plane lock held; it may send, but must not call
	 * memplane_stop or memplane_free. */
	void (*fatal)(void *opaque, const char *why);
	/* Optional: thread tid's remote fault on page was resolved by node
	 * 'from' (the node that sent it or the grant) after wait_ns; repeat:
	 * this node has fetched the page MEMPLANE_REPEAT times or more, so it
	 * is shared, not merely moving once; fresh: nobody had ever written
	 * it (its home sent zeros): memory the guest has just taken.
	 * Returns a tag for the page (1..MEMPLANE_TAGS-1: which vCPU took
	 * it, for memplane_give_back; 0: none). For the cost model that may move
	 * the vCPU to the data instead. Called with the plane's lock held: it
	 * must not call into the plane, nor block. */
	unsigned (*remote_fault)(void *opaque, pid_t tid, uint64_t page, unsigned from,
				 bool repeat, bool fresh, uint64_t wait_ns);
	/* Optional: thread tid took a page of this node's own range that
	 * nobody had ever written (the guest giving a thread new memory
	 * here). Same rules as remote_fault. */
	void (*local_fresh)(void *opaque, pid_t tid);
};

#define MEMPLANE_REPEAT 3

/* Node self of layout; layout's pages must be exactly mem's pages. mem
 * must outlive the plane. 0, -EINVAL or -ENOMEM. */
int memplane_new(struct memplane **out, struct guest_mem *mem, unsigned self,
		 const struct dsm_layout *layout,
		 const struct memplane_ops *ops, void *opaque);

/* Before start, same arguments on every node: pages [first, first+count)
 * were written by node owner through its hypervisor view. 0, -EINVAL,
 * -EBUSY (pages already placed, or the plane is started), -ENOMEM. */
int memplane_preload(struct memplane *mp, uint64_t first, uint64_t count,
		     unsigned owner);

/* Before start: at most pages copies of pages homed on other nodes are
 * held here at once (the budget is the home range plus this; default no
 * limit). When a fault needs a new copy and the cache is full, the plane
 * evicts first: it picks a victim by a clock over the cached pages
 * (cache.h), asks the protocol to evict it (dsm_evict: a Shared copy
 * dropped and the home told, an Exclusive copy written back to its home)
 * and punches it out of the memfd, so its memory is freed and the next
 * guest access faults again. A request in flight holds a slot until it
 * is answered. 0; -EINVAL below MEMPLANE_CACHE_MIN; -EBUSY once started. */
#define MEMPLANE_CACHE_MIN 256	/* pages: 1 MiB, room for the requests
				 * of many vCPUs in flight at once */
int memplane_set_cache(struct memplane *mp, uint64_t pages);

/* Before start: how long a just-mapped page is kept from leaving (see
 * above); 0 turns the window off. */
void memplane_set_hold_ns(struct memplane *mp, uint64_t ns);

/* How many pages to ask for ahead of a thread's sequential faults on
 * other nodes' pages (memplane.c says when); 0 turns read-ahead off.
 * Default MEMPLANE_READAHEAD (off), at most MEMPLANE_READAHEAD_MAX. Off
 * by default because a guess can take a page another node's vCPU is
 * writing (a review found it; the lab's counter tests vary too much, 76
 * to 713 s for guest-mem-counter-4n, to measure what it costs them),
 * while a scan of another node's pages ran 3.4-3.8 times faster (bench
 * bigmem). Any time. */
#define MEMPLANE_READAHEAD 0
#define MEMPLANE_READAHEAD_SCAN 32	/* what bench bigmem measured */
#define MEMPLANE_READAHEAD_MAX 256
void memplane_set_readahead(struct memplane *mp, unsigned pages);

/* A vCPU whose faults the remote_fault op tagged tag (1..MEMPLANE_TAGS-1)
 * left this node for good reason, and what it took here of node home's
 * range is its own memory (its NUMA node's): give back to home every
 * copy of that range held here that a fault of tag brought last (a
 * Shared copy dropped, an Exclusive one written back: as an eviction),
 * so that the vCPU finds it there, instead of one fault at a time. Done
 * on the sender thread, MEMPLANE_GIVE_BATCH copies at a time and a
 * millisecond apart (a batch holds the plane lock while it copies and
 * punches its pages: a review measured 13-23 us a page); a page with a
 * request in flight stays. home -1 cancels (the vCPU is back). Any
 * thread but the plane's own callbacks; nothing before start or after
 * stop. */
#define MEMPLANE_TAGS 256
#define MEMPLANE_GIVE_BATCH 32
void memplane_give_back(struct memplane *mp, unsigned tag, int home);

/* Prepare the local memory, register the pager, start the fault and
 * sender threads. 0 or -errno (pager_new's errors among them); on failure
 * nothing runs. -EBUSY if started already. */
int memplane_start(struct memplane *mp);

/* A message from node 'from', on the transport's receive thread. Never
 * blocks on the network. 0: consumed (possibly held for later). -EPROTO:
 * malformed or impossible in the current state; counted, logged, dropped,
 * and the caller may drop the peer. -ESHUTDOWN after memplane_stop. */
int memplane_receive(struct memplane *mp, unsigned from,
		     const struct net_msg *msg);

/* Stop the threads and release every thread blocked on a guest fault: the
 * guest view becomes plain memory (holes read as zeros). Bounded: waits
 * for one ops->fault and one ops->send call at most. Idempotent. */
void memplane_stop(struct memplane *mp);
/* Stops if needed, then frees. NULL is fine. */
void memplane_free(struct memplane *mp);

/* Remote fault latency, by what the fault asked the protocol for. */
enum memplane_lat {
	MEMPLANE_LAT_READ,	/* read miss */
	MEMPLANE_LAT_WRITE,	/* write miss */
	MEMPLANE_LAT_UPGRADE,	/* write to a Shared copy */
	MEMPLANE_LAT_KINDS
};

struct memplane_stats {
	unsigned node;
	uint64_t home_pages;	/* pages of this node's home range */
	/* The protocol's counters: faults by kind (read_miss, write_miss,
	 * upgrade, joined, spurious), INVs sent and received, copies dropped,
	 * downgrades, zero and upgrade grants, refused messages, ... */
	struct dsm_stats proto;
	uint64_t faults;		/* ops->fault calls */
	uint64_t local_resolved;	/* requests settled without a message
					 * (the home's own unshared pages) */
	/* Messages, payload bytes (48-byte struct + page) and pages, as
	 * handed to and received from the transport. */
	uint64_t msgs_sent, msgs_recv;
	uint64_t bytes_sent, bytes_recv;
	uint64_t pages_sent, pages_recv;
	uint64_t held;			/* messages held (window, pre-start) */
	uint64_t out_queue_max;		/* deepest outbound FIFO seen */
	uint64_t bad_msgs;		/* refused before the protocol saw them
					 * (those it refused: proto.bad_msgs) */
	uint64_t send_errors;
	uint64_t remote_faults;		/* faults that sent a request */
	uint64_t prefetched;		/* requests memplane_prefetch sent */
	uint64_t given_back;		/* copies memplane_give_back gave up */
	uint64_t read_ahead;		/* requests sent ahead of sequential
					 * faults */
	/* The budget: the cache's limit (UINT64_MAX: none), copies of other
	 * nodes' pages held now and requests holding a slot, pages the
	 * memfd holds (its allocated blocks: home pages, cached pages and
	 * anything else), and requests that found every cached page busy
	 * (the cache then overflows by the copies in flight). Evictions and
	 * write-backs are in proto. */
	uint64_t cache_limit, cached, reserved, resident;
	uint64_t over_budget;
	/* Fault -> wake of remote requests issued by a fault, ns: samples,
	 * maximum and percentiles (within 1/16, util/lathist.h) since start. */
	uint64_t lat_samples[MEMPLANE_LAT_KINDS];
	uint64_t lat_p50[MEMPLANE_LAT_KINDS];
	uint64_t lat_p99[MEMPLANE_LAT_KINDS];
	uint64_t lat_max[MEMPLANE_LAT_KINDS];
	/* Every fault, fault -> page mapped or woken (any kind, local too;
	 * a page's first pending fault counts), ns. */
	uint64_t fault_samples, fault_p50, fault_p99;
};

/* A device on this node is about to read (write false) or write pages
 * [first, first + count) (at most MEMPLANE_PREFETCH_MAX of them): ask for
 * every one not held as needed, without waiting, so that the device's
 * accesses wait about one round trip for all of them instead of one per
 * page (a 64 KiB receive chain is 16 pages). Why here and not in the
 * device: only the plane knows what is held, and the requests must go
 * through the protocol like a fault's (the device's access then faults
 * and joins the request, or finds the page in). The pages are queued for
 * the sender thread, which asks for them: the caller only takes the
 * plane lock (a device thread may not reach the pager or the links).
 * Any thread; a no-op before start and after stop. What does not fit
 * the queue is left to the device's own faults. */
#define MEMPLANE_PREFETCH_MAX 64
void memplane_prefetch(struct memplane *mp, uint64_t first, uint64_t count, bool write);

/* Safe from any thread, also after memplane_stop. */
void memplane_stats(struct memplane *mp, struct memplane_stats *out);
/* One readable block, node id in its first line. */
void memplane_print_stats(struct memplane *mp, FILE *f);

/* For counters sampled over time (--stats-every): the remote faults
 * since start, and up to n of the pages that faulted remotely most often
 * since the last call (guest-physical address and count, hottest first;
 * returns how many). Each call starts a new window. Any thread. */
struct memplane_hot {
	uint64_t gpa, count;
};
unsigned memplane_window(struct memplane *mp, uint64_t *remote_faults,
			 struct memplane_hot *out, unsigned n);

/* Cheap enough for every sample: pages the memfd holds (fstat), copies
 * of other nodes' pages held, and the cache's limit (UINT64_MAX: none).
 * Any thread. */
void memplane_pages(struct memplane *mp, uint64_t *resident, uint64_t *cached,
		    uint64_t *limit);

const char *memplane_lat_name(enum memplane_lat kind);
/* A copy of one latency histogram (ns): remote faults of kind
 * (enum memplane_lat), or every fault for kind -1. Any thread. */
struct lathist;
void memplane_lat_hist(struct memplane *mp, int kind, struct lathist *out);

#endif
