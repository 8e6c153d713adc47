/* Cluster membership and the control conversation between nodes.
 *
 * Forming a cluster (all over the authenticated transport):
 *   1. Each joining node (`amalgam node --listen ADDR`) listens with the
 *      reserved id CLUSTER_JOINER_ID.
 *   2. The coordinator (node 0, `amalgam run`) dials each join address in
 *      turn, sends JOIN with the cluster parameters (which carry the
 *      node's id), waits for its READY, and hangs up.
 *   3. The joiner re-listens on the same address under its real id and
 *      dials every lower-numbered joiner; the coordinator dials everyone.
 *      Every pair then has one connection.
 *   4. Each node builds its VM and sends READY; the coordinator loads the
 *      guest and sends START with the boot state; each node starts its
 *      memory plane and answers READY(started); then the guest runs.
 *   5. Any node's stop (guest exit, crash, a peer lost) is broadcast as
 *      STOP with the exit status and reason; every node stops.
 * Every wait is bounded; a node that does not answer in time is named. */
#ifndef AMALGAM_CLUSTER_CLUSTER_H
#define AMALGAM_CLUSTER_CLUSTER_H

#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/params.h"
#include "net/auth.h"
#include "net/wire.h"

#define CLUSTER_JOINER_ID (NET_MAX_NODES - 1)

struct cluster;

struct cluster_handlers {
	/* A DSM message (receive thread; must not block). */
	int (*dsm)(void *opaque, unsigned from, const struct net_msg *msg);
	/* A CPU message, whichever its op (receive thread; must not block
	 * but for the sends it makes). */
	int (*cpu)(void *opaque, unsigned from, const struct net_msg *msg);
	/* A REPORT for node 0's API (receive thread; must not block). The
	 * wire checked its length only: the handler checks the rest. */
	void (*report)(void *opaque, unsigned from, const struct net_msg *msg);
	/* Stop the local guest: a peer asked (STOP) or was lost. Any thread. */
	void (*stop)(void *opaque, int status, const char *reason);
};

/* Coordinator: p->nr_nodes, addr[1..], cpus, memory, place and what was
 * given of node_mem filled; p->self = 0. Asks every joiner what RAM it
 * contributes (its --memory), settles the contributions
 * (params_settle_memory: node_mem and memory may change), assigns ids,
 * connects every node. -EINVAL with one line in err when the
 * contributions do not add up (bad input). */
int cluster_coordinate(struct cluster_params *p, const struct auth_key *key,
		       struct cluster **out, char *err, size_t errlen);
/* Joiner: wait (up to timeout_s; 0 = forever) for a coordinator, offer it
 * *offer bytes of RAM (NULL: let it decide), then join; a JOIN that gives
 * this node another contribution is refused. If port_fd >= 0 the bound
 * port is written to it as text first. */
int cluster_join(const char *listen, const struct auth_key *key, int port_fd,
		 const uint64_t *offer, unsigned timeout_s, struct cluster **out,
		 struct cluster_params *p, char *err, size_t errlen);
void cluster_free(struct cluster *c);

void cluster_set_handlers(struct cluster *c, const struct cluster_handlers *h,
			  void *opaque);
/* Delay every DSM message this node sends by us (latency tests). */
int cluster_inject_delay(struct cluster *c, uint32_t us);
unsigned cluster_self(struct cluster *c);
unsigned cluster_nodes(struct cluster *c);

/* Node k -> coordinator: READY (stage 0: VM built, with the port of its
 * raw-TCP echo server (rtt.h) or 0; stage 1: started). */
int cluster_send_ready(struct cluster *c, unsigned stage, int rtt_port);
int cluster_rtt_port(struct cluster *c, unsigned node);
const char *cluster_addr(struct cluster *c, unsigned node);
/* Coordinator: wait for READY(stage) from every node. */
int cluster_wait_ready(struct cluster *c, unsigned stage, unsigned timeout_s,
		       char *err, size_t errlen);
/* Coordinator -> all: START. */
int cluster_send_start(struct cluster *c, const struct net_start *s);
/* Node: wait for START (checked by the wire only) and copy it into *s. */
int cluster_wait_start(struct cluster *c, struct net_start *s,
		       unsigned timeout_s, char *err, size_t errlen);

int cluster_send(struct cluster *c, unsigned node, const struct net_msg *msg);
/* The link's round trip to node, for the API: a PING carrying this
 * node's clock, which the peer's transport echoes as a PONG (the same
 * sealed link as every other frame). Any thread. */
int cluster_ping(struct cluster *c, unsigned node);
/* The last round trip measured to node, in ns; false if none yet. */
bool cluster_link_rtt(struct cluster *c, unsigned node, uint64_t *ns);
/* PONGs refused: a token never sent, a time in the future or too old. */
uint64_t cluster_bad_pongs(struct cluster *c);
/* Broadcast STOP once (later calls do nothing). */
void cluster_stop_all(struct cluster *c, int status, const char *reason);
/* Mark the cluster as shutting down: peers vanishing is expected now. */
void cluster_quiesce(struct cluster *c);
void cluster_print_stats(struct cluster *c, FILE *f);
/* The transport's counters (any thread). */
struct transport_stats;
void cluster_net_stats(struct cluster *c, struct transport_stats *out);

#endif
