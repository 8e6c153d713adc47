/* `amalgam run --nodes K`: start K-1 local node processes (this same
 * binary, `amalgam node --listen 127.0.0.1:0`) with a fresh cluster key,
 * a fresh node key each and a trust file listing them all (so local
 * clusters run with node identity, net/ident.h), learn their ports, and
 * reap them at the end. */
#ifndef AMALGAM_CLUSTER_SPAWN_H
#define AMALGAM_CLUSTER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/params.h"
#include "util/log.h"

struct spawn;

/* What every spawned node is told on its command line. */
struct spawn_opts {
	enum log_level level;
	bool stats;
	unsigned stats_every_ms;	/* --stats-every, 0 none */
	unsigned node_cpus;		/* --node-cpus, 0 none */
	uint64_t cache;			/* --cache bytes, 0 none */
	int read_ahead;			/* --read-ahead pages, -1 none */
	bool insecure;			/* --insecure-network */
	bool no_seccomp;		/* --no-seccomp */
	/* --metrics-listen HOST:P+i to node i (HOST:0 to each for P 0), or
	 * NULL for none. */
	const char *metrics_listen;
};

/* key_file: use it, or NULL to generate a temporary one; o: the options
 * each node gets. addrs[i] gets "127.0.0.1:PORT" of node i+1. */
int spawn_nodes(struct spawn **out, unsigned count, const char *key_file,
		const struct spawn_opts *o,
		char (*addrs)[CLUSTER_ADDR_MAX],
		char *err, size_t errlen);
const char *spawn_key_file(struct spawn *s);
/* Node 0's generated node key and the trust file every node got. */
const char *spawn_node_key_file(struct spawn *s);
const char *spawn_trust_file(struct spawn *s);
/* Wait for the children (bounded; killed if they do not exit), remove the
 * generated keys. kill_now: SIGKILL them first. NULL is fine. */
void spawn_reap(struct spawn *s, int kill_now);

#endif
