/* Page coherence for guest RAM: a directory protocol written as a pure state
 * machine. Inputs are local faults and received messages; outputs are
 * actions the caller carries out (send a message, map, write-protect or drop
 * a page, wake vCPUs). No sockets, ioctls, threads, clocks or page memory in
 * here, so the whole protocol runs under a simulated network in the tests.
 *
 * Design note
 * -----------
 * Pages. A page is a 4 KiB page of the guest RAM memfd, numbered by its
 * offset / 4096 (not by guest-physical address: RAM has holes). RAM is split
 * into one contiguous range of pages per node; a page's *home* is the node
 * whose range holds it (dsm_home()). The home keeps the page's directory
 * entry: copyset (bitmask of nodes holding a copy), whether the single
 * member of the copyset holds it Exclusive (the owner), a version, and
 * whether the page was ever written (never-written pages are zero). Every
 * page starts never written and Invalid everywhere, except those placed
 * with dsm_preload() (boot images loaded before the guest starts).
 *
 * Copies. Each node's copy of each page is Invalid, Shared (mapped
 * read-only) or Exclusive (mapped writable). One writer or many readers,
 * never both, at every instant: a node is granted Exclusive only after every
 * other copy is gone, and a node downgrades or drops its Exclusive copy
 * before its contents leave it. A node has at most one request outstanding
 * per page; further faults on the page wait for it (a write fault arriving
 * while a read is outstanding turns into an upgrade once the read is done).
 *
 * Messages (struct dsm_msg; "home" is the page's home node):
 *   READ_REQ   requester -> home   wants a Shared copy
 *   WRITE_REQ  requester -> home   wants Exclusive (write miss or upgrade)
 *   FWD_READ   home -> holder      send your copy to msg.requester, keep a
 *                                  Shared copy (an owner downgrades)
 *   FWD_WRITE  home -> holder      send your copy to msg.requester with
 *                                  ownership, then drop yours
 *   INV        home -> sharer      drop your Shared copy
 *   INV_ACK    sharer -> home      dropped
 *   DATA       home/holder -> req  the page (flag DATA: contents attached;
 *                                  flag ZERO: all zeros, nothing attached),
 *                                  granting Shared, or Exclusive with EXCL
 *   GRANT      home -> requester   Exclusive without data: your Shared copy
 *                                  is the current one (upgrade)
 *   DONE       requester -> home   the DATA that came from a third node is
 *                                  installed; ends the transaction
 *   EVICT      holder -> home      I dropped my copy (dsm_evict): its
 *                                  contents attached (DATA), or ZERO for a
 *                                  Shared copy of a never-written page;
 *                                  EXCL if it was the owner's (a write-back)
 *   EVICT_ACK  home -> holder      your EVICT is settled: every INV or FWD
 *                                  about the page sent before it has arrived
 *   FWD_NACK   holder -> home      a FWD found the copy already evicted (the
 *                                  EVICT went first on our link): serve the
 *                                  requester yourself
 *
 * Transactions. The home runs one transaction per page at a time; requests
 * that arrive meanwhile wait in a FIFO queue for that page and are started,
 * in order, when the current one ends. A transaction starts from a settled
 * directory (it matches every node's state, see below) and decides from the
 * directory alone, never from what the request claims:
 *  - Read. Never written: DATA+ZERO from the home. Home holds a copy
 *    (downgrading itself if it is the owner): DATA from the home. Otherwise
 *    FWD_READ to the owner, or to one sharer, which sends DATA to the
 *    requester and (an owner) drops to Shared; the requester sends DONE.
 *  - Write. Every copy except the requester's, the home's and the forward
 *    target's gets INV; when all INV_ACKs are in, the grant goes out with the
 *    new version (version + 1): GRANT if the requester is in the copyset
 *    (its copy is current: no data moves), DATA+ZERO if the page was never
 *    written, DATA from the home if the home holds a copy (the home then
 *    drops it), else FWD_WRITE to the owner or to the one sharer kept back
 *    from invalidation, which sends DATA+EXCL and drops its copy; the
 *    requester sends DONE.
 * A transaction ends when every message that brings a node to its new state
 * is ahead, on a FIFO link, of anything the home sends next: at once when the
 * home itself sent the DATA or GRANT (the home's next INV or FWD to that
 * node travels behind it on the same link), or on DONE when the data came
 * from a third node (its DATA and the home's next message use different
 * links). That is why the directory is settled whenever a transaction
 * starts: a forward always finds its target holding the page, an INV always
 * finds a Shared copy, and a DATA never arrives stale.
 *
 * Races, and how each is resolved.
 *  - A request racing an invalidation: node A holds Shared and sends an
 *    upgrade while the home is invalidating A for B's write. A drops its
 *    copy and acks; its WRITE_REQ waits in the queue; when it starts, A is no
 *    longer in the copyset, so the home serves it as a write miss with data.
 *    Nothing is retried on the wire and nothing is lost (counted in
 *    dsm_stats.retries).
 *  - A read racing an invalidation: the data for a forwarded read and the
 *    home's next INV to the same reader could overtake each other, so the
 *    home holds the next transaction until the reader's DONE.
 *  - Two writers at once, and a request arriving while ownership moves: the
 *    home serializes them; each starts from the settled directory, so a
 *    forward goes to whoever owns the page now.
 *  - The home as a participant: it faults on its own pages like anyone. Its
 *    requests and DONEs to itself go through a local FIFO drained before
 *    dsm_fault()/dsm_receive() return; the directory changes the home's own
 *    copy directly (downgrade, drop, grant) in the same call.
 *
 * Eviction: a guest larger than any one host.
 * A node keeps copies of other nodes' pages in a bounded cache; to make
 * room it evicts a copy (dsm_evict()). The copy is dropped at once and the
 * home told with EVICT, which carries the contents whatever the copy's
 * state: a Shared copy may be the last one left (its owner downgraded
 * while sending it to a reader, and the home never held it), so dropping
 * it silently could lose the latest write. Only a Shared copy of a page
 * never written travels as ZERO. The home takes the contents as its own
 * Shared copy unless it holds one already or the page is being handed to
 * a writer (then they are not needed, or go straight to the writer, see
 * below): a written-back page is held by its home from then on. A home
 * never evicts its own range (dsm_evict() refuses), so the home's copy is
 * the backing store of last resort. A copy with a request outstanding is
 * not evicted (-EBUSY): an eviction never races its own node's upgrade.
 * The evicting node counts its EVICTs until their EVICT_ACKs come back;
 * while any is outstanding, every INV or FWD it receives for the page was
 * sent before the home saw the EVICT (anything sent after travels behind
 * the EVICT_ACK on the same link), so it is stale. The races:
 *  - An eviction crossing an invalidation: the home, collecting INV_ACKs
 *    for a write, gets EVICT from a node it invalidates. The EVICT counts
 *    as that node's INV_ACK (its contents are not needed: the writer gets
 *    them from elsewhere); the stale INV that arrives later is ignored.
 *  - An eviction crossing a forward (read): the home sent FWD_READ to the
 *    node, which had already evicted. The EVICT reaches the home first
 *    (same link as the NACK that follows); the home keeps the contents as
 *    its copy; the node answers the stale FWD with FWD_NACK and the home
 *    serves the reader itself. Had the node served the forward before
 *    evicting, the reader's DONE ends the transaction and no NACK comes.
 *    When the reader is the home itself, the forwarded DATA would have
 *    preceded the EVICT on the same link, so an EVICT from the target
 *    means it did not serve: the EVICT's contents are the home's read.
 *  - An eviction crossing a forward (write): FWD_WRITE went to the owner,
 *    which had evicted. The owner left the copyset when the grant was
 *    decided, so its EVICT finds it outside: the home hands the written-
 *    back contents to the writer at once (DATA+EXCL from the home, src
 *    MSG: the received contents pass through) and waits for the FWD_NACK
 *    to end the transaction. If the EVICT comes while the home still
 *    collects INV_ACKs, before the FWD_WRITE left, the home takes the
 *    contents and serves the writer itself (no forward at all).
 *  - An eviction crossing an upgrade: a node that upgrades holds a
 *    request outstanding and does not evict; another node's EVICT during
 *    that upgrade is the invalidation case above.
 *  - A second eviction: a node evicts, fetches the page again and evicts
 *    again before the first EVICT_ACK: the count covers both; the EVICTs
 *    reach the home in order, each finding the copy the node then held.
 *    Two nodes evicting the same Shared page at once: each EVICT removes
 *    its node; the home keeps whichever contents come when it holds none.
 *
 * Links must be reliable, and the messages about one page from one node to
 * another must arrive in the order they were sent; one TCP connection per
 * pair of nodes gives that and more. A lost link is a node failure, which
 * this machine does not handle.
 *
 * Contract with the caller
 * ------------------------
 *  - Calls on one node are serialized by the caller (no locking inside).
 *  - After each dsm_fault() or dsm_receive(), drain the actions
 *    (dsm_actions(), then dsm_actions_clear()) and carry them out in order,
 *    before the next call on that node.
 *  - A SEND captures what it sends at its place in the list, but the
 *    messages of one list leave only once the whole list is carried out
 *    (queue them, flush at the end). An owner handing its page over emits
 *    WRITE_PROTECT, SEND(DATA), INVALIDATE: the contents are read between
 *    the first and the last, and the new owner must not be able to write
 *    while the old copy is still mapped.
 *  - SEND with msg.flags & DSM_F_DATA: read the page's contents through the
 *    hypervisor view at that point of the list and attach them (4 KiB).
 *    The machine has write-protected a writable copy earlier in the list.
 *    With src DSM_SRC_MSG instead attach the contents received with the
 *    current message (a write-back the home passes on to a writer).
 *  - Receiving a message with DSM_F_DATA: keep its contents until the
 *    actions of that dsm_receive() are carried out. MAP_* with src
 *    DSM_SRC_MSG means "install those contents"; DSM_SRC_ZERO means "install
 *    zeros" (e.g. UFFDIO_ZEROPAGE); DSM_SRC_LOCAL means "the local contents
 *    are current, only change the protection".
 *  - WRITE_PROTECT must be effective (no guest write can still land) when the
 *    action completes. INVALIDATE drops the local copy so that the next guest
 *    access faults.
 *  - FAULT_DONE(page): wake every vCPU waiting on the page. A vCPU whose
 *    access is still not allowed faults again and calls dsm_fault() again.
 *  - Never SEND to oneself: the machine never asks for it.
 *  - Messages may be delivered with any delay as long as those about one
 *    page from one sender keep their order. A caller may therefore hold an
 *    INV or FWD_* (and whatever follows it about that page from that
 *    sender) for a page it just mapped, for a moment, before calling
 *    dsm_receive(), so that woken vCPUs get to use the page before it moves
 *    on: under heavy write sharing a page can otherwise leave before the
 *    vCPU that asked for it has run. The machine has no clock and leaves
 *    that policy out.
 */
#ifndef AMALGAM_DSM_DSM_H
#define AMALGAM_DSM_DSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DSM_MAX_NODES 64
#define DSM_PAGE_SIZE 4096

/* Node i's home range is [i ? end[i - 1] : 0, end[i]); ranges may be empty
 * (a node that contributes CPUs only). end[nr_nodes - 1] is the number of
 * pages of guest RAM. */
struct dsm_layout {
	unsigned nr_nodes;
	uint64_t end[DSM_MAX_NODES];
};

/* Split nr_pages as evenly as possible, lower nodes taking the remainder. */
int dsm_layout_even(struct dsm_layout *l, unsigned nr_nodes, uint64_t nr_pages);
/* 0 if nr_nodes is 1..DSM_MAX_NODES and the ends never decrease. */
int dsm_layout_check(const struct dsm_layout *l);
uint64_t dsm_layout_pages(const struct dsm_layout *l);
/* The first page of node's home range (its end is end[node]). */
uint64_t dsm_range_first(const struct dsm_layout *l, unsigned node);
/* Home node of page, or -1 if page is past the end of RAM. */
int dsm_home(const struct dsm_layout *l, uint64_t page);

enum dsm_state {
	DSM_INVALID,
	DSM_SHARED,
	DSM_EXCLUSIVE,
};

enum dsm_msg_type {
	DSM_READ_REQ = 1,
	DSM_WRITE_REQ,
	DSM_FWD_READ,
	DSM_FWD_WRITE,
	DSM_INV,
	DSM_INV_ACK,
	DSM_DATA,
	DSM_GRANT,
	DSM_DONE,
	DSM_EVICT,
	DSM_EVICT_ACK,
	DSM_FWD_NACK,
	DSM_MSG_TYPES		/* one past the last type */
};

/* msg.flags */
#define DSM_F_DATA	0x1	/* page contents travel with the message */
#define DSM_F_ZERO	0x2	/* the page is all zeros; no contents travel */
#define DSM_F_EXCL	0x4	/* DATA grants Exclusive */
#define DSM_F_HAVE_COPY	0x8	/* WRITE_REQ: sender held Shared when asking */
#define DSM_F_ALL	0xf

/* Plain fixed-width fields; the wire encoding lives in src/net/. The page
 * contents of a DSM_F_DATA message are not part of this struct. */
struct dsm_msg {
	uint64_t page;
	uint32_t version;	/* version of the copy carried or expected */
	uint16_t type;		/* enum dsm_msg_type */
	uint16_t flags;		/* DSM_F_* */
	uint16_t from;
	uint16_t to;
	uint16_t requester;	/* node the transaction is for */
	uint16_t reserved;
};
_Static_assert(sizeof(struct dsm_msg) == 24, "dsm_msg has no padding");

enum dsm_action_type {
	DSM_ACT_SEND,		/* send .msg to .msg.to */
	DSM_ACT_MAP_READONLY,	/* map .page read-only, contents from .src */
	DSM_ACT_MAP_WRITABLE,	/* map .page writable, contents from .src */
	DSM_ACT_WRITE_PROTECT,	/* writable -> read-only, contents stay */
	DSM_ACT_INVALIDATE,	/* drop the local copy of .page */
	DSM_ACT_FAULT_DONE,	/* wake vCPUs waiting on .page */
};

enum dsm_src {
	DSM_SRC_NONE,
	DSM_SRC_LOCAL,		/* local contents are current */
	DSM_SRC_ZERO,		/* fill with zeros */
	DSM_SRC_MSG,		/* contents received with the current message */
};

struct dsm_action {
	uint8_t type;		/* enum dsm_action_type */
	uint8_t src;		/* enum dsm_src, for MAP_* */
	uint64_t page;
	struct dsm_msg msg;	/* for SEND */
};

/* Counters of one node, both roles (participant and home). Messages to
 * itself are not counted as sent or received. */
struct dsm_stats {
	uint64_t read_miss;	/* faults that sent a READ_REQ */
	uint64_t write_miss;	/* faults that sent a WRITE_REQ without a copy */
	uint64_t upgrade;	/* faults that sent a WRITE_REQ holding Shared */
	uint64_t fault_joined;	/* faults that waited for an outstanding request */
	uint64_t fault_spurious; /* faults on a page already accessible */
	uint64_t msgs_sent[DSM_MSG_TYPES];
	uint64_t msgs_recv[DSM_MSG_TYPES];
	uint64_t inv_sent;
	uint64_t inv_recv;
	uint64_t invalidations;	/* local copies dropped, for any reason */
	uint64_t downgrades;	/* local Exclusive -> Shared */
	uint64_t data_sent;	/* pages of contents sent */
	uint64_t data_recv;
	uint64_t zero_grants;	/* grants of never-written pages (no data) */
	uint64_t upgrade_grants; /* GRANTs: ownership without data */
	uint64_t fwd_sent;
	uint64_t fwd_recv;
	uint64_t retries;	/* upgrades overtaken by an invalidation, served
				 * as write misses */
	uint64_t queued;	/* requests that waited behind another one */
	uint64_t evictions;	/* copies this node evicted (dsm_evict) */
	uint64_t writebacks;	/* of them Exclusive: written back to the home */
	uint64_t evicts_recv;	/* EVICTs taken as a home */
	uint64_t evict_races;	/* stale INV/FWD ignored or NACKed, EVICTs that
				 * crossed an INV or a forward at the home */
	uint64_t bad_msgs;	/* malformed messages, rejected */
	uint64_t proto_errors;	/* messages impossible in the current state */
};

struct dsm_node;

/* Creates node node_id of layout->nr_nodes. Every page starts Invalid
 * everywhere and never written. Returns 0 or -EINVAL/-ENOMEM. */
int dsm_node_new(struct dsm_node **out, unsigned node_id,
		 const struct dsm_layout *layout);
void dsm_node_free(struct dsm_node *n);

/* Make room: drop this node's copy of page (not of its own home range) and
 * tell the home; an Exclusive copy's contents are written back (actions
 * WRITE_PROTECT, SEND(EVICT with the contents), INVALIDATE), a Shared
 * one's sent too (it may be the last). Returns 0; -EINVAL (page out of
 * range or homed here: a home never evicts its own range), -ENOENT (no
 * copy held), -EBUSY (a request for the page is outstanding: pick
 * another victim), -ENOMEM (nothing changed). */
int dsm_evict(struct dsm_node *n, uint64_t page);

/* Boot-time placement, before any fault or message on any node: pages
 * [first, first + count) are held Exclusive by owner, their contents already
 * in owner's memory (what node 0 loaded through its hypervisor view before
 * the guest started). Call it with the same arguments on every node; each
 * records its part (the home its directory entries, the owner its copies)
 * and nothing is emitted. Returns 0, -EINVAL, or -EBUSY (nothing changed)
 * if a page has already been used. */
int dsm_preload(struct dsm_node *n, uint64_t first, uint64_t count,
		unsigned owner);

/* What one fault turned out to be, as counted in struct dsm_stats. A miss
 * or an upgrade at the page's home may be settled without any message
 * (the home's own unshared page): look for a SEND among the actions. */
enum dsm_fault_kind {
	DSM_FAULT_READ_MISS,	/* requested the page for reading */
	DSM_FAULT_WRITE_MISS,	/* requested it for writing, holding no copy */
	DSM_FAULT_UPGRADE,	/* requested ownership of a Shared copy */
	DSM_FAULT_JOINED,	/* waits for a request already outstanding */
	DSM_FAULT_SPURIOUS,	/* the page was accessible already */
	DSM_FAULT_KINDS
};

/* A vCPU (or a device) on this node needs page for reading or writing and
 * the local copy does not allow it. Returns 0 and, if kind is not NULL,
 * what kind of fault it was; -EINVAL (page out of range) or -ENOMEM
 * (nothing changed; call again later), *kind then unset. */
int dsm_fault(struct dsm_node *n, uint64_t page, bool write,
	      enum dsm_fault_kind *kind);

/* A message for this node arrived. Returns 0; -EINVAL for a malformed
 * message (nothing changed); -EPROTO for a message impossible in the
 * current state (ignored, counted, a bug somewhere); -ENOMEM (nothing
 * changed; deliver it again later). */
int dsm_receive(struct dsm_node *n, const struct dsm_msg *msg);

/* Actions appended since the last dsm_actions_clear(), oldest first. */
const struct dsm_action *dsm_actions(const struct dsm_node *n, size_t *count);
void dsm_actions_clear(struct dsm_node *n);

/* Introspection, for metrics and tests. */
unsigned dsm_node_id(const struct dsm_node *n);
enum dsm_state dsm_page_state(const struct dsm_node *n, uint64_t page);
uint32_t dsm_page_version(const struct dsm_node *n, uint64_t page);
/* True while this node has a request outstanding for page. */
bool dsm_page_pending(const struct dsm_node *n, uint64_t page);
/* True while an EVICT of page from this node awaits its EVICT_ACK. */
bool dsm_page_evicting(const struct dsm_node *n, uint64_t page);

struct dsm_dir_info {
	uint64_t copyset;
	int owner;		/* node holding Exclusive, or -1 */
	uint32_t version;
	bool written;		/* false: the page is still all zeros */
	bool busy;		/* a transaction is in flight */
	unsigned queued;	/* requests waiting behind it */
};
/* Directory entry of a page homed on this node; -EINVAL otherwise. */
int dsm_dir_get(const struct dsm_node *n, uint64_t page,
		struct dsm_dir_info *out);

void dsm_stats_get(const struct dsm_node *n, struct dsm_stats *out);

const char *dsm_msg_type_name(unsigned type);
const char *dsm_action_name(unsigned type);

#endif
