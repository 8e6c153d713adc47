/* Internals shared by the participant side (node.c) and the home side
 * (dir.c) of one dsm_node. Not for use outside src/dsm/. */
#ifndef AMALGAM_DSM_DSM_INT_H
#define AMALGAM_DSM_DSM_INT_H

#include "dsm/dsm.h"

/* This node's copy of a page. */
struct page_local {
	uint8_t state;		/* enum dsm_state */
	uint8_t flags;		/* PL_* */
	uint16_t evicting;	/* EVICTs sent, EVICT_ACKs not yet back */
	uint32_t version;	/* of the copy held; meaningless when Invalid */
};
#define PL_PEND_READ	0x1	/* READ_REQ outstanding */
#define PL_PEND_WRITE	0x2	/* WRITE_REQ outstanding */
#define PL_WANT_WRITE	0x4	/* a write fault waits for the pending read */
#define PL_ZERO		0x8	/* Shared copy granted as ZERO: never written */
#define PL_PENDING	(PL_PEND_READ | PL_PEND_WRITE)

/* Directory entry of a page homed here. All zero = never written, nobody
 * holds a copy, no transaction: what calloc gives. */
struct dir_entry {
	uint64_t copyset;
	uint32_t version;
	uint8_t flags;		/* DIR_* */
	uint8_t pad[3];
};
#define DIR_EXCL	0x1	/* the one node in copyset holds it Exclusive */
#define DIR_WRITTEN	0x2	/* ownership was granted once: may be non-zero */
#define DIR_BUSY	0x4	/* a struct txn exists for the page */

/* Where the data of a write grant comes from. */
enum wsrc { WSRC_NONE, WSRC_ZERO, WSRC_HOME, WSRC_FWD };

struct qreq {
	uint16_t type;		/* DSM_READ_REQ or DSM_WRITE_REQ */
	uint16_t from;
	uint16_t flags;
	uint32_t version;
};

/* A busy page at its home: the transaction in flight and the requests
 * queued behind it. Lives in a hash table keyed by page while DIR_BUSY. */
struct txn {
	struct txn *next;
	uint64_t page;
	uint64_t waiting;	/* nodes whose INV_ACK is still expected */
	uint16_t kind;		/* DSM_READ_REQ or DSM_WRITE_REQ */
	uint16_t requester;
	uint8_t src;		/* enum wsrc, write transactions */
	uint8_t fwd;		/* forward target (write: when src == WSRC_FWD) */
	bool fwd_sent;		/* a FWD_* went to fwd in this transaction */
	bool wait_done;		/* ends on DONE from the requester */
	bool wait_nack;		/* ends on FWD_NACK from fwd (it had evicted) */
	bool fwd_evicted;	/* read: fwd evicted, its NACK may follow */
	unsigned qhead, qlen;
	struct qreq q[];	/* nr_nodes slots: one request per node */
};

#define SELF_Q 8

struct dsm_node {
	unsigned id, nr_nodes;
	struct dsm_layout layout;
	uint64_t nr_pages;
	uint64_t home_first, home_end;	/* this node's home range */
	struct page_local *local;	/* nr_pages entries */
	struct dir_entry *dir;		/* home_end - home_first entries */

	struct txn **buckets;		/* nbuckets is a power of two */
	unsigned nbuckets, ntxn;
	struct txn *free_txn;		/* spare records, so that a request
					 * never fails halfway */

	struct dsm_action *act;
	size_t nact, act_cap;

	/* Messages from this node's participant side to its own home side,
	 * delivered in order before the current call returns. */
	struct dsm_msg self_q[SELF_Q];
	unsigned self_head, self_n;

	struct dsm_stats st;
	int broken;		/* sticky -errno after an internal failure */
	struct dsm_action scratch;	/* sink for actions that found no room */
};

/* node.c */
void dsm__emit(struct dsm_node *n, unsigned type, uint64_t page,
	       unsigned src);
void dsm__send(struct dsm_node *n, struct dsm_msg *m);
/* The same, the SEND action's contents from src (DSM_SRC_MSG: those
 * received with the current message). */
void dsm__send_src(struct dsm_node *n, struct dsm_msg *m, unsigned src);
void dsm__proto_error(struct dsm_node *n, const struct dsm_msg *m,
		      const char *why);
/* The home side changing the home's own copy. */
void dsm__local_downgrade(struct dsm_node *n, uint64_t page);
void dsm__local_drop(struct dsm_node *n, uint64_t page);

static inline struct page_local *dsm__local(struct dsm_node *n, uint64_t page)
{
	return &n->local[page];
}

static inline bool dsm__is_home(const struct dsm_node *n, uint64_t page)
{
	return page >= n->home_first && page < n->home_end;
}

/* dir.c */
int dsm__dir_init(struct dsm_node *n);
void dsm__dir_free(struct dsm_node *n);
/* Make sure one transaction record is at hand: -ENOMEM otherwise. */
int dsm__dir_reserve(struct dsm_node *n);
int dsm__dir_request(struct dsm_node *n, const struct dsm_msg *m);
/* The home's part of dsm_preload() on [first, end) of its own range. */
int dsm__dir_preload(struct dsm_node *n, uint64_t first, uint64_t end,
		     unsigned owner, bool apply);
int dsm__dir_inv_ack(struct dsm_node *n, const struct dsm_msg *m);
int dsm__dir_done(struct dsm_node *n, const struct dsm_msg *m);
int dsm__dir_evict(struct dsm_node *n, const struct dsm_msg *m);
int dsm__dir_nack(struct dsm_node *n, const struct dsm_msg *m);
/* node.c: the home's own pending read of a page it now holds is over. */
void dsm__local_read_done(struct dsm_node *n, uint64_t page);
/* node.c: the home takes written-back contents as its Shared copy. */
void dsm__local_install(struct dsm_node *n, uint64_t page, uint32_t version);

#endif
