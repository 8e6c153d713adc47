/* A node's report to node 0 (NET_MSG_REPORT, net/wire.h) both ways:
 * pure code, no KVM and no sockets, so that the decoder can be fuzzed
 * alone (fuzz/fuzz_payload.c) and tested without a cluster.
 *
 * Every node but node 0 sends one every 100 ms on its link to node 0
 * (node/reports.c), which keeps the last good one per node for its API:
 * the states of the vCPUs running there, their exits and page waits, the
 * node's resident pages, fault latency, page traffic with each peer, and
 * the counters named in report.c's table. Nothing in a report is trusted
 * before report_from_wire has checked all of it against what node 0
 * knows (the cluster's size, the guest's) and against the same node's
 * previous report (counters never go back); a report that fails is
 * counted by reason and dropped, and the previous one stays. */
#ifndef AMALGAM_NODE_REPORT_H
#define AMALGAM_NODE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire.h"

struct report_vcpu {
	unsigned vcpu;
	unsigned state;		/* enum vcpu_state on the sender */
	bool here;		/* it runs on the sender */
	uint64_t exits, wait_ns;
};

struct report_peer {
	unsigned node;
	uint64_t sent, received;	/* pages of contents */
};

struct node_report {
	unsigned node;
	uint64_t seq;
	uint64_t resident_pages, fault_count, fault_wait_ns;
	uint32_t cpus_milli;	/* CPUs it offers, x1000 */
	bool load_known;
	uint32_t load_milli;	/* CPUs its vCPUs want, x1000 (0 unless known) */
	unsigned nr_counters;
	uint64_t counters[NET_REPORT_COUNTERS];	/* report_counter_name(i) */
	unsigned nr_vcpus;
	struct report_vcpu v[NET_REPORT_VCPUS];	/* by increasing vcpu */
	unsigned nr_peers;
	struct report_peer p[NET_REPORT_NODES];	/* by increasing node */
};

/* What the receiver knows that bounds a report. */
struct report_limits {
	unsigned from;		/* the link's node id */
	unsigned nr_nodes;	/* the cluster's */
	unsigned nr_vcpus;	/* the guest's */
	uint64_t guest_pages;	/* the guest's RAM in pages */
};

/* What a node may say it offers (as a LOAD may, cpu/affinity.h). */
#define REPORT_CPUS_MAX_MILLI	(4096u * 1000)

enum report_reject {
	REPORT_REJ_LENGTH,	/* the length does not match the counts */
	REPORT_REJ_VERSION,	/* another NET_REPORT_VERSION */
	REPORT_REJ_SENDER,	/* node is not the link's, or is node 0 */
	REPORT_REJ_STALE,	/* seq not above the last one taken */
	REPORT_REJ_FIELD,	/* a reserved byte, a flag, a state out of its set */
	REPORT_REJ_VCPU,	/* no such vCPU, or out of order */
	REPORT_REJ_PEER,	/* no such node, the sender itself, or out of order */
	REPORT_REJ_RANGE,	/* more resident pages than the guest has, more
				 * CPUs than a node can offer, more load than
				 * one CPU per vCPU */
	REPORT_REJ_BACKWARDS,	/* a counter smaller than in the last report */
	REPORT_REJ_NR
};

const char *report_reject_name(enum report_reject why);

/* The counters a report carries, by slot: their names are those of the
 * node's metrics (node/counters.c). NULL past the table. */
const char *report_counter_name(unsigned slot);
unsigned report_counter_slots(void);

/* r as a REPORT payload in buf: the bytes written, or 0 if r's counts do
 * not fit the wire's bounds or cap. Spare bytes are zero. */
size_t report_to_wire(const struct node_report *r, void *buf, size_t cap);
/* Check and decode a REPORT payload: 0 and *out, or -EBADMSG with *why
 * (and *out undefined: decode into a scratch, keep the last good one).
 * prev (may be NULL) is the last report taken from the same node. */
int report_from_wire(const void *data, size_t len, const struct report_limits *lim,
		     const struct node_report *prev, struct node_report *out,
		     enum report_reject *why);

#endif
