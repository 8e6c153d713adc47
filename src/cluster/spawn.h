/* `amalgam run --nodes K`: start K-1 local node processes (this same
 * binary, `amalgam node --listen 127.0.0.1:0`) with a fresh cluster key,
 * learn their ports, and reap them at the end. */
#ifndef AMALGAM_CLUSTER_SPAWN_H
#define AMALGAM_CLUSTER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/params.h"
#include "util/log.h"

struct spawn;

/* key_file: use it, or NULL to generate a temporary one. node_cpus, if
 * not 0, is passed on as --node-cpus; metrics_listen HOST:P, if not
 * NULL, as --metrics-listen HOST:P+i to node i (HOST:0 to each for P 0).
 * addrs[i] gets
 * "127.0.0.1:PORT" of node i+1. */
int spawn_nodes(struct spawn **out, unsigned count, const char *key_file,
		enum log_level level, bool stats, unsigned node_cpus,
		const char *metrics_listen,
		char (*addrs)[CLUSTER_ADDR_MAX],
		char *err, size_t errlen);
const char *spawn_key_file(struct spawn *s);
/* Wait for the children (bounded; killed if they do not exit), remove a
 * generated key. kill_now: SIGKILL them first. NULL is fine. */
void spawn_reap(struct spawn *s, int kill_now);

#endif
