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
#define CLUSTER_MAX_DISKS 16
#define CLUSTER_DISK_PATH_MAX 200
#define CLUSTER_DISK_QUEUES_MAX 8	/* BLK_MAX_QUEUES (virtio/blk.h) */
#define CLUSTER_MAX_NICS 8
#define CLUSTER_TAP_NAME_MAX 16

static_assert(CLUSTER_MAX_NODES == NET_JOIN_NODES &&
	      CLUSTER_MAX_VCPUS == NET_JOIN_VCPUS &&
	      CLUSTER_ADDR_MAX == NET_ADDR_MAX && CLUSTER_MAX_DISKS == NET_JOIN_DISKS &&
	      CLUSTER_DISK_PATH_MAX == NET_DISK_PATH_MAX &&
	      CLUSTER_MAX_NICS == NET_JOIN_NICS && CLUSTER_TAP_NAME_MAX == NET_TAP_NAME_MAX,
	      "JOIN carries struct cluster_params whole");

/* A virtio disk (--disk): every node builds the same PCI slots from the
 * list, in order; only node `node` opens the image, a path on its host. */
struct cluster_disk {
	char path[CLUSTER_DISK_PATH_MAX];
	uint8_t node;
	bool readonly;
	uint8_t queues;			/* 0: one per vCPU */
	uint64_t fail_from;		/* fault injection (tests); 0: none */
};

/* A virtio-net card (--net), likewise: node `node` opens the tap, a name
 * on its host. */
struct cluster_nic {
	char tap[CLUSTER_TAP_NAME_MAX];
	uint8_t mac[6];			/* all zero: the default */
	uint8_t node;
};

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
	/* Bytes of guest RAM each node contributes: node i is home to the
	 * i-th range of that size, and they sum to memory. A node may
	 * contribute nothing (CPUs only). */
	uint64_t node_mem[CLUSTER_MAX_NODES];
	struct cluster_disk disks[CLUSTER_MAX_DISKS];
	unsigned nr_disks;
	struct cluster_nic nics[CLUSTER_MAX_NICS];
	unsigned nr_nics;
	/* The coordinator's inputs to params_settle_memory, not sent:
	 * bit i set when node_mem[i] was given (--node-memory, or node i's
	 * own --memory), and whether --memory was given. */
	uint32_t mem_given;
	bool memory_given;
};

/* Spread vCPUs evenly: vCPU i on node i * nodes / cpus (blocks). */
void params_place_even(struct cluster_params *p);
/* "0,0,1,1": one node id per vCPU. 0 or -EINVAL with a message. */
int params_parse_place(struct cluster_params *p, const char *s, char *err, size_t errlen);
/* --join "host:port,host:port,...": the joiners' addresses into addr[1..]
 * and nr_nodes (1 + their number). 0 or -EINVAL with a message. */
int params_parse_join(struct cluster_params *p, const char *s, char *err, size_t errlen);
/* --node-memory "512M,0,1G": one size per node into node_mem, each
 * marked given; *count gets how many. 0 or -EINVAL with a message. */
int params_parse_node_mem(struct cluster_params *p, const char *s, unsigned *count,
			  char *err, size_t errlen);
/* Decide node_mem and memory from what was given: with every node's
 * contribution given, memory is their sum (and must equal --memory if
 * that was given too); otherwise what memory leaves is split evenly,
 * in pages, over the nodes not given (lower ids take the remainder).
 * The sum must lie in [CLUSTER_MEM_MIN, CLUSTER_MEM_MAX]. 0 or -EINVAL with one line in err. */
int params_settle_memory(struct cluster_params *p, char *err, size_t errlen);
/* A size for messages: the largest unit that divides it exactly ("512M",
 * "1536K"), never a rounded "1.5G". */
const char *params_size_str(uint64_t v, char *buf, size_t len);
/* Consistency: ids in range, every node has an address, placement valid,
 * contributions in whole pages summing to memory, every disk on a node
 * that exists. */
int params_check(const struct cluster_params *p, char *err, size_t errlen);

/* p as JOIN's payload (every spare byte zero). */
void params_to_wire(const struct cluster_params *p, struct net_join *j);
/* Back from JOIN, then params_check: 0, or -EINVAL with a message. */
int params_from_wire(struct cluster_params *p, const struct net_join *j,
		     char *err, size_t errlen);

#endif
