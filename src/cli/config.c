#include "cli/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/params.h"
#include "memplane/memplane.h"
#include "util/confine.h"
#include "util/parse.h"
#include "hw/mem.h"
#include "virtio/blk.h"
#include "vmm/vm.h"

void config_usage_run(void)
{
	printf(
"Usage: amalgam run --kernel FILE [options]\n"
"\n"
"Boot a guest. Its serial console (COM1) is on stdout; amalgam exits 0 when\n"
"the guest powers off or resets, with the guest's status when a test guest\n"
"writes one to port 0xf4, and non-zero when the guest crashes.\n"
"\n"
"Options:\n"
"  -k, --kernel FILE   Linux bzImage (boot protocol >= 2.12), ELF kernel with a\n"
"                      PVH note (e.g. vmlinux), multiboot v1 kernel (ELF32,\n"
"                      ELF64 or a.out kludge), or ELF64 test guest\n"
"  -i, --initrd FILE[,cmdline=STR]\n"
"                      initial ramdisk; for multiboot and PVH kernels a module,\n"
"                      repeatable (up to %d, in order), each with its own\n"
"                      string (everything after ',cmdline=')\n"
"  -a, --append STR    kernel command line (a Linux kernel without one gets\n"
"                      \"" BOOT_LINUX_DEFAULT_CMDLINE "\", its console on the serial port; -v shows it)\n"
"      --device isa-debug-exit[,iobase=N][,iosize=N]\n"
"                      QEMU's debug exit port (default iobase 0x501, iosize 2):\n"
"                      writing v ends the run with status (v << 1) | 1\n"
"      --disk FILE[,readonly][,node=N][,queues=N]\n"
"                      a raw disk image as a virtio-blk PCI disk (vda, vdb, ...\n"
"                      in order; repeatable, up to %d); readonly refuses\n"
"                      writes; node=N is the node that hosts it and opens\n"
"                      the file (default 0); queues defaults to one per\n"
"                      vCPU (max %d);\n"
"                      fail-from=SECTOR makes I/O at or past SECTOR fail\n"
"                      with EIO (fault injection for tests)\n"
"      --net tap=NAME[,mac=MAC][,node=N]\n"
"                      a virtio-net card on host tap NAME (attached if it\n"
"                      exists, else created; needs CAP_NET_ADMIN); repeatable,\n"
"                      up to %d (net0, net1, ...); MAC default\n"
"                      52:54:00:12:34:56 + index; node=N: the node that hosts it\n"
"      --rng           a virtio-rng device: entropy from the host's getrandom\n"
"      --console stdout|file=PATH\n"
"                      a virtio-console (the guest's hvc0): its output on\n"
"                      stdout or in PATH (created or truncated)\n"
"  -c, --cpus N        number of vCPUs, 1..%d (default 1)\n"
"  -m, --memory SIZE   guest RAM, e.g. 512M, 2G (default 256M, or the nodes'\n"
"                      contributions summed; min 16M)\n"
"\n"
"Several nodes (one VM across node processes or hosts):\n"
"  -n, --nodes K       spawn K node processes on this host (loopback)\n"
"  -j, --join LIST     join nodes started with 'amalgam node', host:port,...\n"
"      --key FILE      cluster key file (required with --join; see 'amalgam key')\n"
"      --node-key FILE this node's own key (see 'amalgam key --node'), with\n"
"      --trust FILE    the nodes' public keys, one 'ID KEY' line each: a peer\n"
"                      must prove it holds the key listed for its node id\n"
"      --insecure-network\n"
"                      links between nodes in clear after the handshake (no\n"
"                      encryption): only on a private fabric; every node must\n"
"                      say so\n"
"      --peer-timeout MS\n"
"                      a node heard nothing from for MS ms (stopped, hung, cut\n"
"                      off) is lost and the VM stops, naming it (default 4000)\n"
"  -p, --place LIST    node of each vCPU, e.g. 0,0,1,1 (default: even blocks)\n"
"      --start MODE    bsp (default: APs wait for INIT/SIPI) or all (every vCPU\n"
"                      starts at the entry point; for memory tests)\n"
"      --net-delay US  delay every page-protocol message by US microseconds\n"
"                      (latency injection for tests)\n"
"      --linux-tuning on|off  on (default): a Linux guest whose vCPUs span nodes\n"
"                      gets nohz_full, rcu_nocbs and numa_balancing=disable\n"
"                      for every CPU but the first, unless its command line\n"
"                      sets them (README, \"Linux across nodes\"); off: not\n"
"      --migrate MODE  auto (default): a vCPU that keeps waiting for pages\n"
"                      another node holds moves there, and busy vCPUs move\n"
"                      off a host whose CPUs they oversubscribe to one with\n"
"                      CPUs to spare; off: vCPUs stay where placed; shuffle:\n"
"                      every vCPU but the first moves to the next node every\n"
"                      50 ms (a stress test)\n"
"      --node-cpus N   CPUs each node offers the VM (default: all its host's\n"
"                      CPUs, shared by the nodes of one host)\n"
"      --cache SIZE    each node keeps at most SIZE of copies of other nodes'\n"
"                      pages (its budget: its own range + SIZE), evicting the\n"
"                      least recently faulted first (default: the host's\n"
"                      MemAvailable at start less a margin, printed)\n"
"      --read-ahead PAGES  pages each node asks for ahead of a vCPU's\n"
"                      sequential faults on other nodes' pages (default %d:\n"
"                      off; at most %d; 32 helps a scan of memory larger\n"
"                      than a node, and may hurt pages shared by writers)\n"
"      --node-memory S0,S1,...\n"
"                      RAM each node contributes, node 0 first (0: CPUs only);\n"
"                      node i is home to the i-th range of that size and the\n"
"                      guest's RAM is the sum (a joined node may instead say\n"
"                      its own with 'amalgam node --memory'; default: --memory\n"
"                      split evenly)\n"
"      --measure-rtt N time N raw TCP round trips (64 B -> 4 KiB) to each node\n"
"                      before booting: the baseline for fault latencies\n"
"\n"
"Control (the HTTP API on this node, driven by 'amalgam ctl'):\n"
"      --api-sock PATH   serve the API on a Unix socket (mode 0600)\n"
"      --api-listen ADDR also serve it on TCP HOST:PORT, to clients with the token\n"
"      --api-token FILE  the bearer token for --api-listen (its first line)\n"
"      --metrics-listen ADDR  Prometheus metrics at http://HOST:PORT/metrics on\n"
"                      this node (local --nodes: PORT+i on node i; 0: any port)\n"
"\n"
"Confinement (every node drops its capabilities and sets no_new_privs once\n"
"started; each kind of thread runs under a seccomp filter of its own):\n"
"      --no-seccomp    no seccomp filters, on every node (for debugging; a call\n"
"                      outside a filter otherwise stops the node naming the\n"
"                      thread and the call)\n"
"      --confine-selftest KIND\n"
"                      (tests) threads of KIND (vcpu, net-rx, api, main, ...)\n"
"                      make one call outside their filter once confined\n"
"\n"
"  -v, --verbose       more log output (repeat for debug)\n"
"  -q, --quiet         errors only\n"
"      --stats         print counters at exit\n"
"      --stats-every MS every node prints one line of sampled counters every MS\n"
"                      ms (remote faults, the hottest pages since the last line,\n"
"                      the guest's TSC): for benchmarks\n"
"  -h, --help          this text\n", BOOT_MAX_MODULES, PCIBUS_MAX_DISKS, BLK_MAX_QUEUES, PCIBUS_MAX_NETS,
	VM_MAX_VCPUS, MEMPLANE_READAHEAD, MEMPLANE_READAHEAD_MAX);
}

int config_parse_node_cpus(const char *s, unsigned *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(s, 1, CONFIG_MAX_NODE_CPUS, &v)) {
		snprintf(err, errlen, "--node-cpus must be a number from 1 to %d, not '%s'",
			 CONFIG_MAX_NODE_CPUS, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int config_parse_cache(const char *s, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(s, &v) || v < CONFIG_MIN_CACHE || v > (1ULL << 40) || (v & 0xfff)) {
		snprintf(err, errlen, "--cache must be a size from 1M to 1T in whole pages (e.g. 64M, 2G), not '%s'",
			 s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int config_parse_read_ahead(const char *s, int *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(s, 0, MEMPLANE_READAHEAD_MAX, &v)) {
		snprintf(err, errlen, "--read-ahead takes a number of pages from 0 (off) to %d, not '%s'",
			 MEMPLANE_READAHEAD_MAX, s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int config_parse_selftest(const char *s, int *out, char *err, size_t errlen)
{
	int kind;

	if (confine_parse_kind(s, &kind)) {
		snprintf(err, errlen, "--confine-selftest must name a kind of thread (vcpu, net-rx, "
			 "api, main, ...), not '%s'", s);
		return -EINVAL;
	}
	*out = kind + 1;
	return 0;
}

int config_parse_stats_every(const char *s, unsigned *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_uint(s, 10, 3600 * 1000, &v)) {
		snprintf(err, errlen, "--stats-every must be milliseconds from 10 to 3600000, not '%s'", s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* A number for --device: decimal or 0x hex, whole string, in [min, max]. */
static int parse_num(const char *s, unsigned long min, unsigned long max,
		     unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --device NAME[,key=value...]: only QEMU's isa-debug-exit for now. */
static int parse_device(struct config *cfg, char *arg, char *err, size_t errlen)
{
	char *save = NULL, *tok = strtok_r(arg, ",", &save);
	unsigned long v;

	if (!tok || strcmp(tok, "isa-debug-exit")) {
		snprintf(err, errlen, "--device knows only 'isa-debug-exit', not '%s'",
			 tok ? tok : "");
		return -EINVAL;
	}
	cfg->debug_exit = 1;
	cfg->debug_exit_iobase = 0x501;
	cfg->debug_exit_iosize = 2;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "iobase=", 7) && !parse_num(tok + 7, 0, 0xffff, &v)) {
			cfg->debug_exit_iobase = (uint16_t)v;
		} else if (!strncmp(tok, "iosize=", 7) && !parse_num(tok + 7, 1, 4, &v) &&
			   v != 3) {
			cfg->debug_exit_iosize = (uint8_t)v;
		} else {
			snprintf(err, errlen,
				 "--device isa-debug-exit takes iobase=N (0-0xffff) and iosize=1, 2 or 4, not '%s'",
				 tok);
			return -EINVAL;
		}
	}
	if (cfg->debug_exit_iobase + cfg->debug_exit_iosize > 0x10000) {
		snprintf(err, errlen, "--device isa-debug-exit: ports past 0xffff");
		return -EINVAL;
	}
	return 0;
}

/* --disk PATH[,readonly][,node=N][,queues=N]. A comma ends the path:
 * image paths with commas are not supported. */
static int add_disk(struct config *cfg, char *arg, char *err, size_t errlen)
{
	struct pcibus_disk *d = &cfg->disks[cfg->nr_disks];
	char *save = NULL, *opt;
	uint64_t v;

	if (cfg->nr_disks == PCIBUS_MAX_DISKS) {
		snprintf(err, errlen, "too many --disk: at most %d", PCIBUS_MAX_DISKS);
		return -EINVAL;
	}
	*d = (struct pcibus_disk){ .path = strtok_r(arg, ",", &save) };
	if (!d->path || arg[0] == ',') {
		snprintf(err, errlen, "--disk needs a file name (a raw image)");
		return -EINVAL;
	}
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "readonly")) {
			d->readonly = true;
		} else if (!strncmp(opt, "node=", 5)) {
			if (parse_uint(opt + 5, 0, 15, &v)) {
				snprintf(err, errlen, "--disk %s: node=N takes a node number, not '%s'",
					 d->path, opt + 5);
				return -EINVAL;
			}
			/* Checked against the node count once it is known
			 * (cluster/params.c). */
			d->node = (unsigned)v;
		} else if (!strncmp(opt, "queues=", 7)) {
			if (parse_uint(opt + 7, 1, BLK_MAX_QUEUES, &v)) {
				snprintf(err, errlen, "--disk %s: queues=N takes 1 to %d, not '%s'",
					 d->path, BLK_MAX_QUEUES, opt + 7);
				return -EINVAL;
			}
			d->queues = (unsigned)v;
		} else if (!strncmp(opt, "fail-from=", 10)) {
			if (parse_uint(opt + 10, 1, UINT64_MAX >> 9, &v)) {
				snprintf(err, errlen, "--disk %s: fail-from=SECTOR takes a sector number above 0, not '%s'",
					 d->path, opt + 10);
				return -EINVAL;
			}
			d->fail_from = v;
		} else {
			snprintf(err, errlen,
				 "--disk %s: unknown option '%s' (readonly, node=N, queues=N)",
				 d->path, opt);
			return -EINVAL;
		}
	}
	cfg->nr_disks++;
	return 0;
}

/* "52:54:00:12:34:56": six hex pairs; a unicast, non-zero address. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int used = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &used) != 6 || s[used] || used != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* --net tap=NAME[,mac=MAC][,node=N]. */
static int add_net(struct config *cfg, char *arg, char *err, size_t errlen)
{
	struct pcibus_net *d = &cfg->nets[cfg->nr_nets];
	char *save = NULL, *opt;
	uint64_t v;

	if (cfg->nr_nets == PCIBUS_MAX_NETS) {
		snprintf(err, errlen, "too many --net: at most %d", PCIBUS_MAX_NETS);
		return -EINVAL;
	}
	*d = (struct pcibus_net){ 0 };
	for (opt = strtok_r(arg, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "tap=", 4)) {
			if (!opt[4] || strlen(opt + 4) > 15) {
				snprintf(err, errlen, "--net: tap=NAME takes an interface name of 1 to 15 characters, not '%s'",
					 opt + 4);
				return -EINVAL;
			}
			d->tap = opt + 4;
		} else if (!strncmp(opt, "mac=", 4)) {
			if (parse_mac(opt + 4, d->mac)) {
				snprintf(err, errlen, "--net: mac=MAC takes a unicast address like 52:54:00:12:34:56, not '%s'",
					 opt + 4);
				return -EINVAL;
			}
		} else if (!strncmp(opt, "node=", 5)) {
			if (parse_uint(opt + 5, 0, 15, &v)) {
				snprintf(err, errlen, "--net: node=N takes a node number, not '%s'", opt + 5);
				return -EINVAL;
			}
			d->node = (unsigned)v;
		} else {
			snprintf(err, errlen, "--net: unknown option '%s' (tap=NAME, mac=MAC, node=N)", opt);
			return -EINVAL;
		}
	}
	if (!d->tap) {
		snprintf(err, errlen, "--net needs tap=NAME (the host tap device)");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		/* One card a tap: two would steal each other's frames. */
		if (!strcmp(cfg->nets[i].tap, d->tap) && cfg->nets[i].node == d->node) {
			snprintf(err, errlen, "--net: tap %s on node %u given twice", d->tap, d->node);
			return -EINVAL;
		}
	}
	cfg->nr_nets++;
	return 0;
}

/* --console stdout|file=PATH. */
static int parse_console(struct config *cfg, const char *arg, char *err, size_t errlen)
{
	if (cfg->console) {
		snprintf(err, errlen, "--console given twice (one virtio console)");
		return -EINVAL;
	}
	if (!strncmp(arg, "file=", 5) && arg[5]) {
		cfg->console_path = arg + 5;
	} else if (strcmp(arg, "stdout")) {
		snprintf(err, errlen, "--console takes 'stdout' or 'file=PATH', not '%s'", arg);
		return -EINVAL;
	}
	cfg->console = 1;
	return 0;
}

/* --initrd PATH[,cmdline=STR]: the string is everything after the first
 * ",cmdline=", commas included. Splits arg in place (it is argv's). */
static int add_module(struct config *cfg, char *arg, char *err, size_t errlen)
{
	char *cl = strstr(arg, ",cmdline=");

	if (cfg->nr_modules == BOOT_MAX_MODULES) {
		snprintf(err, errlen, "too many --initrd modules: at most %d", BOOT_MAX_MODULES);
		return -EINVAL;
	}
	if (cl) {
		*cl = '\0';
		cl += strlen(",cmdline=");
	}
	if (!*arg) {
		snprintf(err, errlen, "--initrd needs a file name");
		return -EINVAL;
	}
	cfg->modules[cfg->nr_modules++] = (struct boot_module){ arg, cl };
	return 0;
}

/* Long-only options, past every character. */
enum { OPT_API_SOCK = 1000, OPT_API_LISTEN, OPT_API_TOKEN, OPT_METRICS, OPT_CACHE,
       OPT_NODE_KEY, OPT_TRUST, OPT_NO_SECCOMP, OPT_CONFINE_SELFTEST, OPT_NET, OPT_RNG,
       OPT_CONSOLE, OPT_READ_AHEAD };

int config_parse_run(struct config *cfg, int argc, char **argv, char *err,
		     size_t errlen)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "stats", no_argument, NULL, 's' },
		{ "stats-every", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "join", required_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'K' },
		{ "insecure-network", no_argument, NULL, 'X' },
		{ "peer-timeout", required_argument, NULL, 'T' },
		{ "place", required_argument, NULL, 'p' },
		{ "start", required_argument, NULL, 'S' },
		{ "net-delay", required_argument, NULL, 'D' },
		{ "measure-rtt", required_argument, NULL, 'R' },
		{ "migrate", required_argument, NULL, 'M' },
		{ "linux-tuning", required_argument, NULL, 'L' },
		{ "node-cpus", required_argument, NULL, 'N' },
		{ "node-memory", required_argument, NULL, 'Y' },
		{ "device", required_argument, NULL, 'd' },
		{ "disk", required_argument, NULL, 'B' },
		/* The control plane: long options only. */
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "api-listen", required_argument, NULL, OPT_API_LISTEN },
		{ "api-token", required_argument, NULL, OPT_API_TOKEN },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS },
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "read-ahead", required_argument, NULL, OPT_READ_AHEAD },
		{ "node-key", required_argument, NULL, OPT_NODE_KEY },
		{ "trust", required_argument, NULL, OPT_TRUST },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "confine-selftest", required_argument, NULL, OPT_CONFINE_SELFTEST },
		{ "net", required_argument, NULL, OPT_NET },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ 0 }
	};
	uint64_t v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory = CONFIG_DEFAULT_MEMORY;
	cfg->log_level = LOG_WARN;
	cfg->read_ahead = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:i:a:c:m:vqhn:j:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg->kernel = optarg; break;
		case 'i':
			if (add_module(cfg, optarg, err, errlen))
				return -EINVAL;
			break;
		case 'd':
			if (parse_device(cfg, optarg, err, errlen))
				return -EINVAL;
			break;
		case 'B':
			if (add_disk(cfg, optarg, err, errlen))
				return -EINVAL;
			break;
		case 'a': cfg->append = optarg; break;
		case 'c':
			if (parse_uint(optarg, 1, VM_MAX_VCPUS, &v)) {
				snprintf(err, errlen, "--cpus must be a number from 1 to %d, not '%s'",
					 VM_MAX_VCPUS, optarg);
				return -EINVAL;
			}
			cfg->cpus = (unsigned)v;
			break;
		case 'm':
			if (parse_size(optarg, &v) || v < MEM_MIN_SIZE || v > MEM_MAX_SIZE ||
			    (v & 0xfff)) {
				snprintf(err, errlen,
					 "--memory must be a size from 16M to 1T in whole pages (e.g. 512M, 2G), not '%s'",
					 optarg);
				return -EINVAL;
			}
			cfg->memory = v;
			cfg->memory_given = 1;
			break;
		case 'Y': cfg->node_memory = optarg; break;
		case 'v':
			if (cfg->log_level < LOG_DEBUG)
				cfg->log_level++;
			break;
		case 'q': cfg->log_level = LOG_ERROR; break;
		case 's': cfg->stats = 1; break;
		case 'E':
			if (config_parse_stats_every(optarg, &cfg->stats_every_ms, err, errlen))
				return -EINVAL;
			break;
		case 'n':
			if (parse_uint(optarg, 1, 16, &v)) {
				snprintf(err, errlen, "--nodes must be a number from 1 to 16, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->nodes = (unsigned)v;
			break;
		case 'j': cfg->join = optarg; break;
		case 'K': cfg->key_file = optarg; break;
		case 'X': cfg->insecure_network = 1; break;
		case 'T':
			if (parse_uint(optarg, CLUSTER_PEER_TIMEOUT_MIN,
				       CLUSTER_PEER_TIMEOUT_MAX, &v)) {
				snprintf(err, errlen, "--peer-timeout must be milliseconds (%u-%u), not '%s'",
					 CLUSTER_PEER_TIMEOUT_MIN, CLUSTER_PEER_TIMEOUT_MAX, optarg);
				return -EINVAL;
			}
			cfg->peer_timeout_ms = (unsigned)v;
			break;
		case OPT_API_SOCK: cfg->api_sock = optarg; break;
		case OPT_API_LISTEN: cfg->api_listen = optarg; break;
		case OPT_API_TOKEN: cfg->api_token = optarg; break;
		case OPT_METRICS: cfg->metrics_listen = optarg; break;
		case OPT_CACHE:
			if (config_parse_cache(optarg, &cfg->cache, err, errlen))
				return -EINVAL;
			break;
		case OPT_READ_AHEAD:
			if (config_parse_read_ahead(optarg, &cfg->read_ahead, err, errlen))
				return -EINVAL;
			break;
		case OPT_NODE_KEY: cfg->node_key_file = optarg; break;
		case OPT_TRUST: cfg->trust_file = optarg; break;
		case OPT_NO_SECCOMP: cfg->no_seccomp = 1; break;
		case OPT_CONFINE_SELFTEST:
			if (config_parse_selftest(optarg, &cfg->confine_selftest, err, errlen))
				return -EINVAL;
			break;
		case OPT_NET:
			if (add_net(cfg, optarg, err, errlen))
				return -EINVAL;
			break;
		case OPT_RNG: cfg->rng = 1; break;
		case OPT_CONSOLE:
			if (parse_console(cfg, optarg, err, errlen))
				return -EINVAL;
			break;
		case 'p': cfg->place = optarg; break;
		case 'R':
			if (parse_uint(optarg, 1, 1000000, &v)) {
				snprintf(err, errlen, "--measure-rtt takes a sample count, not '%s'", optarg);
				return -EINVAL;
			}
			cfg->rtt_samples = (unsigned)v;
			break;
		case 'D':
			if (parse_uint(optarg, 0, 1000000, &v)) {
				snprintf(err, errlen, "--net-delay must be microseconds (0-1000000), not '%s'", optarg);
				return -EINVAL;
			}
			cfg->net_delay_us = (unsigned)v;
			break;
		case 'M':
			cfg->migrate = params_migrate_mode(optarg);
			if (cfg->migrate < 0) {
				snprintf(err, errlen, "--migrate must be 'auto', 'off' or 'shuffle', not '%s'",
					 optarg);
				return -EINVAL;
			}
			break;
		case 'L':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				snprintf(err, errlen, "--linux-tuning must be 'on' or 'off', not '%s'", optarg);
				return -EINVAL;
			}
			cfg->no_linux_tuning = !strcmp(optarg, "off");
			break;
		case 'N':
			if (config_parse_node_cpus(optarg, &cfg->node_cpus, err, errlen))
				return -EINVAL;
			break;
		case 'S':
			if (strcmp(optarg, "all") && strcmp(optarg, "bsp")) {
				snprintf(err, errlen, "--start must be 'bsp' or 'all', not '%s'", optarg);
				return -EINVAL;
			}
			cfg->start_all = !strcmp(optarg, "all");
			break;
		case 'h':
			config_usage_run();
			return 1;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option '%s' (see 'amalgam run --help')",
				 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see 'amalgam run --help')",
			 argv[optind]);
		return -EINVAL;
	}
	if (cfg->nodes && cfg->join) {
		snprintf(err, errlen, "--nodes and --join cannot be combined");
		return -EINVAL;
	}
	if (cfg->join && !cfg->key_file) {
		snprintf(err, errlen, "--join needs --key FILE (the cluster key every node holds)");
		return -EINVAL;
	}
	if (!cfg->node_key_file != !cfg->trust_file) {
		snprintf(err, errlen, "--node-key FILE and --trust FILE go together");
		return -EINVAL;
	}
	if (cfg->node_key_file && !cfg->join) {
		snprintf(err, errlen, "--node-key and --trust are for --join (local nodes from --nodes get generated node keys)");
		return -EINVAL;
	}
	if (!cfg->kernel) {
		snprintf(err, errlen, "no kernel given: use --kernel FILE");
		return -EINVAL;
	}
	return 0;
}
