/* The one typed configuration of a run, filled by the command line
 * (cli/config.c) and later by the API. Everything the user can set lives
 * here; it sits with the node, which it configures, so that every front end
 * above can fill it. */
#ifndef AMALGAM_NODE_CONFIG_H
#define AMALGAM_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "vmm/pcibus.h"
#include "x86/boot.h"

#define CONFIG_DEFAULT_MEMORY (256ULL << 20)
#define CONFIG_MAX_NODE_CPUS 4096
#define CONFIG_MIN_CACHE (1ULL << 20)	/* memplane.h: MEMPLANE_CACHE_MIN */

struct config {
	unsigned cpus;
	uint64_t memory;
	int memory_given;	/* --memory was on the command line */
	const char *node_memory;	/* --node-memory "512M,0,1G"; NULL: even */
	const char *kernel;
	/* --initrd PATH[,cmdline=STR], in order: Linux's initrd, or the
	 * modules of a multiboot or PVH kernel with their strings. */
	struct boot_module modules[BOOT_MAX_MODULES];
	unsigned nr_modules;
	const char *append;
	/* --device isa-debug-exit[,iobase=N][,iosize=N] (QEMU's). */
	int debug_exit;
	uint16_t debug_exit_iobase;
	uint8_t debug_exit_iosize;
	/* --disk PATH[,readonly][,node=N][,queues=N], in order: vda, vdb... */
	struct pcibus_disk disks[PCIBUS_MAX_DISKS];
	unsigned nr_disks;
	/* --net tap=NAME[,mac=MAC][,node=N], in order: net0, net1... */
	struct pcibus_net nets[PCIBUS_MAX_NETS];
	unsigned nr_nets;
	int rng;		/* --rng: virtio-rng */
	int console;		/* --console: virtio-console (hvc0) */
	const char *console_path;	/* --console file=PATH; NULL: stdout */
	enum log_level log_level;
	int stats;		/* print counters at exit */
	unsigned stats_every_ms;	/* a sample line every so often; 0 none */

	/* Several nodes: either spawn 'nodes' local node processes, or join
	 * the nodes listening at 'join' (comma-separated host:port list). */
	unsigned nodes;
	const char *join;
	const char *key_file;
	const char *node_key_file;	/* --node-key, with trust_file */
	const char *trust_file;		/* --trust */
	int insecure_network;	/* links in clear after the handshake */
	unsigned peer_timeout_ms;	/* 0: CLUSTER_PEER_TIMEOUT_MS */
	const char *place;	/* "0,0,1,1"; NULL spreads evenly */
	int start_all;		/* every vCPU starts at the entry point */
	unsigned net_delay_us;	/* injected interconnect latency (tests) */
	unsigned rtt_samples;	/* measure the raw TCP baseline first (bench) */
	int migrate;		/* enum cluster_migrate (cluster/params.h) */
	int no_linux_tuning;	/* --linux-tuning off (x86/linuxargs.h) */
	unsigned node_cpus;	/* CPUs each node offers; 0: its host's */
	uint64_t cache;		/* --cache bytes on every node; 0: default */
	int read_ahead;		/* --read-ahead pages on every node; -1: default */

	/* The control plane (src/api/): where node 0 serves its API. */
	const char *api_sock;	/* Unix socket path */
	const char *api_listen;	/* TCP host:port, with api_token */
	const char *api_token;	/* file holding the bearer token */
	const char *metrics_listen; /* Prometheus on HOST:PORT (local nodes +i) */

	/* Confinement (util/confine.h): --no-seccomp leaves the filters off
	 * (debugging); --confine-selftest KIND makes that kind of thread make
	 * one forbidden call (tests), kept as the kind + 1, 0 for none. */
	int no_seccomp;
	int confine_selftest;
};

/* The PCI devices of a run, as the board takes them. */
static inline struct pcibus_devices config_pci_devices(const struct config *cfg)
{
	return (struct pcibus_devices){
		.disks = cfg->disks, .nr_disks = cfg->nr_disks,
		.nets = cfg->nets, .nr_nets = cfg->nr_nets,
		.rng = cfg->rng, .console = cfg->console, .console_path = cfg->console_path,
	};
}

#endif
