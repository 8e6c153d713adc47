/* What the VMM answers an API command with, as typed views that the
 * node fills on its main thread (node/api_glue.c), and their JSON
 * (docs/openapi.yaml gives every schema). Values a node does not know
 * (another node's vCPU states, for one) are "unknown" flags here and
 * null in the JSON, never a made-up number. */
#ifndef AMALGAM_API_REPLY_H
#define AMALGAM_API_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "api/request.h"

#define API_MAX_NODES 16
#define API_MAX_VCPUS 64
#define API_MAX_COUNTERS 128
#define API_MAX_DEVICES 32
#define API_NAME_MAX 48

/* The VM's state: which commands are legal follows from it (api_legal). */
enum api_vm_state {
	API_VM_RUNNING = 1,
	API_VM_PAUSED,
	API_VM_STOPPING,	/* vm_stop was called: only GETs from here on */
	API_VM_NR
};

struct api_vm_view {
	enum api_vm_state state;
	unsigned vcpus, nodes;
	uint64_t memory;
	char kernel[256];
	char migrate[16];	/* off, auto, shuffle */
	double uptime_s;
	char stop_reason[160];	/* when STOPPING */
};

struct api_node_view {
	unsigned id;
	char addr[64];		/* as node 0 reached it; "" for node 0 */
	const char *state;	/* "up", "silent" or "stopping" (static string) */
	bool cpus_known;	/* node 0's own, a LOAD or a report from it */
	bool load_known;	/* measured: the cost model's CPU rule runs */
	double cpus, load;	/* CPUs its pool offers; what its vCPUs want */
	uint64_t memory;	/* bytes of guest RAM it is home to */
	bool resident_known;
	uint64_t resident_pages; /* pages it holds now */
	unsigned vcpus;		/* vCPUs running there, as node 0 knows */
	/* Pages node 0 sent it and received from it (not for node 0). */
	bool pages_known;
	uint64_t pages_from_0, pages_to_0;
	/* Its row of the page-traffic matrix: pages it sent each node
	 * (index: node id; its own entry 0), from its report. */
	bool sent_known;
	unsigned nr_sent;
	uint64_t pages_sent[API_MAX_NODES];
	/* Its faults and their time from fault to page, summed. */
	bool faults_known;
	uint64_t faults, fault_wait_ns;
	/* The last round trip of node 0's link to it (not for node 0). */
	bool rtt_known;
	uint64_t rtt_ns;
	/* How old what node 0 knows of it is: its last report's age (not
	 * for node 0, whose view is live). */
	bool age_known;
	uint64_t report_age_ns;
};

struct api_vcpu_view {
	unsigned id, node;
	const char *state;	/* vcpu state name where it runs (node 0's own, or
				 * the report of the node it runs on); "remote"
				 * until that node has reported it there */
	unsigned moves;
	bool movable;
	/* Summed over every node it ran on: node 0's own count and the
	 * others' last reports; known once every node has reported. */
	bool wait_known;
	uint64_t wait_ns;	/* time waiting for remote pages */
	bool exits_known;
	uint64_t exits;
};

struct api_counter {
	const char *name;	/* snake_case, static */
	uint64_t value;
};

struct api_counters {
	unsigned node, nr;
	struct api_counter c[API_MAX_COUNTERS];
};

struct api_device_view {
	char name[API_NAME_MAX];
	const char *space;	/* "pio" or "mmio" */
	uint64_t base, size;
	unsigned node;
};

struct api_reply {
	int status;		/* 200, 202; 4xx/5xx with why and err */
	enum api_reject why;
	char err[200];
	union {
		struct api_vm_view vm;
		struct {
			unsigned nr;
			struct api_node_view n[API_MAX_NODES];
		} nodes;
		struct {
			unsigned nr;
			struct api_vcpu_view v[API_MAX_VCPUS];
		} vcpus;		/* API_GET_VCPU: nr == 1 */
		struct {
			struct api_counters self;
			/* what node 0 heard from the others (LOAD) */
			unsigned nr_nodes;
			struct api_node_view n[API_MAX_NODES];
			/* the other nodes' counters, from their reports */
			unsigned nr_reported;
			struct {
				uint64_t age_ns;
				struct api_counters c;
			} reported[API_MAX_NODES];
		} stats;
		struct {
			unsigned nr;
			struct api_device_view d[API_MAX_DEVICES];
		} devices;
		struct {
			unsigned vcpu, from, to;
		} move;
		struct {
			enum api_action action;
			enum api_vm_state state;
		} action;
	};
};

const char *api_vm_state_name(enum api_vm_state s);
/* Is the command legal in state s? 0, or 409 with the reason in r. */
int api_legal(const struct api_cmd *c, enum api_vm_state s, struct api_reply *r);
/* Set r to an error reply. Returns status. */
int api_reply_error(struct api_reply *r, int status, enum api_reject why,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Add a counter to a set (dropped past API_MAX_COUNTERS). */
void api_counter_add(struct api_counters *cs, const char *name, uint64_t value);
/* The reply's JSON body, malloc'd (NULL: out of memory). */
char *api_reply_json(const struct api_cmd *c, const struct api_reply *r);
/* An error body alone {"error": ..., "reason": ...}, malloc'd. */
char *api_error_json(enum api_reject why, const char *msg);

#endif
