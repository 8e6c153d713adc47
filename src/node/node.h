/* The life of one node process: build the VM, join the memory plane and
 * the cluster, run the vCPUs placed here, stop together with the others.
 * `amalgam run` is node 0 (the coordinator, which loads the guest and hosts
 * the devices); `amalgam node` is every other node. */
#ifndef AMALGAM_NODE_NODE_H
#define AMALGAM_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/config.h"

/* Run as coordinator with the configuration of `amalgam run`. Returns the
 * process exit status (2 for bad input, with the reason printed). */
int node_run(const struct config *cfg);

struct node_args {
	const char *listen;
	const char *key_file;
	const char *node_key_file;	/* --node-key, with trust_file */
	const char *trust_file;		/* --trust */
	int port_fd;		/* write the bound port here, or -1 */
	unsigned timeout_s;	/* wait for a coordinator; 0 = forever */
	enum log_level log_level;
	bool stats;
	unsigned stats_every_ms;	/* as struct config's */
	unsigned node_cpus;	/* CPUs offered; 0: the host's */
	uint64_t cache;		/* --cache bytes; 0: default */
	int read_ahead;		/* --read-ahead pages; -1: default */
	bool insecure;		/* --insecure-network */
	bool has_memory;	/* --memory given: offer memory bytes of RAM */
	uint64_t memory;
	const char *metrics_listen; /* Prometheus metrics on HOST:PORT, or NULL */
	bool no_seccomp;	/* as struct config's */
	int confine_selftest;	/* as struct config's */
};

/* Run as a joining node. Returns the process exit status. */
int node_join(const struct node_args *a);

#endif
