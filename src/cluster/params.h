/* What every node of a cluster must agree on before the VM exists: node
 * count and ids, where each node listens, the machine's shape and where
 * each vCPU runs. The coordinator sends it to a joining node in JOIN
 * (struct net_join): the conversions both ways are pure and strict. */
#ifndef AMALGAM_CLUSTER_PARAMS_H
#define AMALGAM_CLUSTER_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire.h"

#define CLUSTER_MAX_NODES 16
#define CLUSTER_MAX_VCPUS 64
#define CLUSTER_ADDR_MAX 64
/* Guest RAM a JOIN may ask for: hw/mem.h's bounds (node.c checks that
 * they agree), in whole pages. */
#define CLUSTER_MEMORY_MIN (16ULL << 20)
#define CLUSTER_MEMORY_MAX (1ULL << 40)
#define CLUSTER_PEER_TIMEOUT_MS 4000	/* default: lost within 5 s */
#define CLUSTER_PEER_TIMEOUT_MIN 400
#define CLUSTER_PEER_TIMEOUT_MAX 600000

static_assert(CLUSTER_MAX_NODES == NET_JOIN_NODES &&
	      CLUSTER_MAX_VCPUS == NET_JOIN_VCPUS &&
	      CLUSTER_ADDR_MAX == NET_ADDR_MAX, "JOIN carries struct cluster_params whole");

/* Whether vCPUs move between nodes (--migrate). */
enum cluster_migrate {
	MIGRATE_AUTO,		/* when the cost model says so (affinity.h) */
	MIGRATE_OFF,		/* never */
	MIGRATE_SHUFFLE,	/* all the time, round the nodes: a stress test */
	MIGRATE_NR
};
/* "auto", "off", "shuffle" -> the mode, or -1. */
int params_migrate_mode(const char *name);
const char *params_migrate_name(unsigned mode);

struct cluster_params {
	unsigned nr_nodes;
	unsigned self;			/* this node's id */
	unsigned cpus;
	uint64_t memory;
	bool start_all;			/* every vCPU starts at the entry point */
	uint32_t net_delay_us;		/* injected latency on every DSM send */
	uint8_t migrate;		/* enum cluster_migrate */
	uint32_t peer_timeout_ms;	/* a node heard nothing from this long
					 * is lost (--peer-timeout) */
	uint8_t place[CLUSTER_MAX_VCPUS];	/* vCPU -> node */
	char addr[CLUSTER_MAX_NODES][CLUSTER_ADDR_MAX];	/* [0] unused */
};

/* Spread vCPUs evenly: vCPU i on node i * nodes / cpus (blocks). */
void params_place_even(struct cluster_params *p);
/* "0,0,1,1": one node id per vCPU. 0 or -EINVAL with a message. */
int params_parse_place(struct cluster_params *p, const char *s, char *err, size_t errlen);
/* --join "host:port,host:port,...": the joiners' addresses into addr[1..]
 * and nr_nodes (1 + their number). 0 or -EINVAL with a message. */
int params_parse_join(struct cluster_params *p, const char *s, char *err, size_t errlen);
/* Consistency: ids in range, every node has an address, placement valid. */
int params_check(const struct cluster_params *p, char *err, size_t errlen);

/* p as JOIN's payload (every spare byte zero). */
void params_to_wire(const struct cluster_params *p, struct net_join *j);
/* Back from JOIN, then params_check: 0, or -EINVAL with a message. */
int params_from_wire(struct cluster_params *p, const struct net_join *j,
		     char *err, size_t errlen);

#endif
