/* An in-process cluster for the coherence protocol: N dsm_nodes joined by
 * reliable FIFO links (one queue per ordered pair, like one TCP connection
 * per pair), a model of each node's page mappings and contents, vCPUs that
 * read and write pages, and the invariant checker.
 *
 * Page contents are one 64-bit value: (number of writes << 8 | last writer),
 * 0 for a page never written. A write is "the node holding the page writable
 * increments it"; truth[] is the value of the latest write. */
#ifndef AMALGAM_TESTS_DSM_HARNESS_H
#define AMALGAM_TESTS_DSM_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "dsm/dsm.h"

#define H_MAX_NODES 8
#define H_MAX_PAGES 32
#define H_MAX_VCPUS 4
#define H_POISON 0xdeaddeaddeaddeadULL

enum h_map { H_NONE, H_RO, H_RW };
enum h_vcpu_state { V_IDLE, V_WAIT, V_RUN };

struct h_msg {
	struct dsm_msg m;
	uint64_t payload;	/* contents, when m.flags & DSM_F_DATA */
};

struct h_link {
	struct h_msg *q;
	unsigned head, n, cap;
};

struct h_vcpu {
	uint8_t state;		/* enum h_vcpu_state */
	bool write;
	uint64_t page;
	uint64_t since;		/* step of the first fault of this access */
};

/* Deliberate breakage, to show that the checker can fail. */
struct h_mutation {
	bool reorder;		/* links deliver any queued message, not FIFO */
	uint64_t drop_at;	/* drop the first INV_ACK sent at or after this
				 * many deliveries (0: never) */
	uint64_t corrupt_at;	/* same, flip the payload of a DATA */
	uint16_t drop_type;	/* what drop_at drops: 0 is INV_ACK */
};

struct harness {
	unsigned nn, nvcpu;
	uint64_t np;
	struct dsm_layout layout;
	struct dsm_node *node[H_MAX_NODES];
	struct h_link link[H_MAX_NODES][H_MAX_NODES];
	/* Relative delivery rate of each link (0 counts as 1): slow links
	 * hold their messages long while others race ahead. */
	uint8_t speed[H_MAX_NODES][H_MAX_NODES];
	uint64_t truth[H_MAX_PAGES];
	uint64_t mem[H_MAX_NODES][H_MAX_PAGES];
	uint8_t map[H_MAX_NODES][H_MAX_PAGES];
	unsigned inflight[H_MAX_PAGES];	/* messages about the page on links */
	struct h_vcpu vcpu[H_MAX_NODES][H_MAX_VCPUS];
	uint64_t rng;
	struct h_mutation mut;
	/* Weaker links: a message may overtake others on its link unless they
	 * are about the same page (the order dsm.h says it needs). */
	bool page_fifo;
	/* Eviction pressure: each node keeps at most this many copies of
	 * other nodes' pages (0: no limit), evicting random ones. */
	unsigned cache_pages;

	uint64_t deliveries, reads, writes, faults, refaults, max_wait, evictions;
	uint64_t fault_kinds[DSM_FAULT_KINDS];	/* h_fault's, as reported */
	uint64_t step;
	bool failed;
	char err[1024];
};

/* layout == NULL: split np pages evenly. Returns 0 or -1 (see h->err). */
int h_init(struct harness *h, unsigned nn, uint64_t np,
	   const struct dsm_layout *layout, unsigned nvcpu, uint64_t seed);
void h_free(struct harness *h);

uint64_t h_rand(struct harness *h);
static inline unsigned h_below(struct harness *h, unsigned n)
{
	return (unsigned)(h_rand(h) % n);
}

/* Record the first failure; always returns -1. */
int h_fail(struct harness *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* dsm_preload() on every node; the owner's copy gets a fresh non-zero
 * value, as if loaded before boot. */
int h_preload(struct harness *h, uint64_t first, uint64_t count,
	      unsigned owner);

/* Protocol inputs, with their actions carried out. */
int h_fault(struct harness *h, unsigned node, uint64_t page, bool write);
int h_deliver(struct harness *h, unsigned from, unsigned to);
unsigned h_queued(const struct harness *h, unsigned from, unsigned to);
/* The idx-th queued message on a link (0 = next to arrive). */
const struct dsm_msg *h_peek(const struct harness *h, unsigned from,
			     unsigned to, unsigned idx);
/* Deliver a random queued message (the head of a link picked in proportion
 * to its speed). -1 on failure, 0 if there was none, 1 if one was
 * delivered. */
int h_deliver_random(struct harness *h);
unsigned h_total_queued(const struct harness *h);

/* dsm_evict with its actions carried out: 0, -1 on failure, or the
 * refusals -EBUSY, -ENOENT, -EINVAL (nothing happened). */
int h_evict(struct harness *h, unsigned node, uint64_t page);
/* Evict random copies (not one a woken vCPU still waits to use) until
 * every node is within cache_pages. 0 or -1. */
int h_pressure(struct harness *h);

/* The guest's view: true and the access done (a read checks the value, a
 * write increments it) if the mapping allows it, false if it would fault.
 * Failures set h->failed. */
bool h_access(struct harness *h, unsigned node, uint64_t page, bool write);

/* vCPU model: start an access (faulting if needed), or retry a woken one. */
int h_vcpu_start(struct harness *h, unsigned node, unsigned v, uint64_t page,
		 bool write);
int h_vcpu_run(struct harness *h, unsigned node, unsigned v);

/* Every invariant; 0 or -1. */
int h_check(struct harness *h);
/* Deliver everything, letting woken vCPUs run first, until nothing moves;
 * then check that nothing is left waiting. */
int h_drain(struct harness *h, uint64_t max_steps);
/* Read every page on some node through the protocol and compare with the
 * latest write. */
int h_final_check(struct harness *h);

#endif
