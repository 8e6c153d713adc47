/* amalgam: command line entry. Only main() decides to exit; everything
 * below returns errors. Exit status 2 is for bad input (flags, files,
 * host setup), 1 for a guest that crashed or a cluster that broke,
 * otherwise the guest's own. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/ctl.h"
#include "node/node.h"
#include "net/auth.h"
#include "util/log.h"
#include "util/parse.h"
#include "vmm/kvmprobe.h"
#include "vmm/vcpu.h"

#define EXIT_USAGE 2

static void usage(void)
{
	printf(
"Usage: amalgam COMMAND [options]\n"
"\n"
"Amalgam runs one virtual x86-64 machine across several KVM hosts.\n"
"\n"
"Commands:\n"
"  run       boot a guest, on this host or across nodes ('amalgam run --help')\n"
"  node      serve as a node of a cluster ('amalgam node --help')\n"
"  key FILE  create a cluster key file (copy it to every host)\n"
"  key --node FILE\n"
"            create this node's key pair: the secret key in FILE (mode 0600),\n"
"            the public key on stdout (for every node's --trust file)\n"
"  probe     check that KVM runs a guest on this host, and how fast it exits\n"
"  ctl       ask a running VM and steer it through its API ('amalgam ctl --help')\n"
"\n"
"Options:\n"
"  -h, --help     this text\n"
"  --version      print the version\n");
}

static void node_usage(void)
{
	printf(
"Usage: amalgam node --listen ADDR --key FILE [options]\n"
"\n"
"Wait for a coordinator ('amalgam run --join ADDR,... --key FILE' on another\n"
"host) and become one node of its VM: this host's CPUs and memory join the\n"
"guest. Exits with the guest's status when the guest stops.\n"
"\n"
"  -l, --listen ADDR   address to listen on, host:port ([v6]:port, port 0 = any)\n"
"      --key FILE      the cluster key (see 'amalgam key'); peers without it are refused\n"
"      --node-key FILE this node's own key (see 'amalgam key --node'), with\n"
"      --trust FILE    the nodes' public keys, one 'ID KEY' line each: a peer\n"
"                      must prove it holds the key listed for its node id\n"
"      --insecure-network\n"
"                      links in clear after the handshake: only on a private\n"
"                      fabric, and only if every node says so\n"
"      --timeout S     give up if no coordinator comes within S seconds (default: wait)\n"
"      --port-fd N     write the bound port to file descriptor N (for scripts)\n"
"      --stats         print counters at exit (also on SIGUSR1)\n"
"      --stats-every MS one line of sampled counters every MS ms (see 'run --help')\n"
"      --node-cpus N   CPUs this node offers the VM (default: all of this host's,\n"
"                      shared with other nodes on it)\n"
"  -m, --memory SIZE   RAM this node contributes to the guest, e.g. 512M, 0 for\n"
"                      CPUs only (default: the coordinator decides)\n"
"      --cache SIZE    copies of other nodes' pages kept here at most (default:\n"
"                      MemAvailable at start less a margin)\n"
"      --read-ahead PAGES  see 'run --help'\n"
"      --metrics-listen ADDR  Prometheus metrics at http://HOST:PORT/metrics\n"
"      --no-seccomp    no seccomp filters (debugging; see 'run --help')\n"
"      --confine-selftest KIND  (tests) see 'run --help'\n"
"  -v, --verbose       more log output (repeat for debug)\n"
"  -q, --quiet         errors only\n"
"  -h, --help          this text\n");
}

/* Long-only options, past every character. */
enum { OPT_NODE_KEY = 1000, OPT_TRUST, OPT_NO_SECCOMP, OPT_CONFINE_SELFTEST, OPT_READ_AHEAD };

static int cmd_node(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'K' },
		{ "insecure-network", no_argument, NULL, 'X' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "port-fd", required_argument, NULL, 'P' },
		{ "stats", no_argument, NULL, 's' },
		{ "stats-every", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "node-cpus", required_argument, NULL, 'N' },
		{ "memory", required_argument, NULL, 'm' },
		{ "metrics-listen", required_argument, NULL, 'M' },
		{ "cache", required_argument, NULL, 'C' },
		{ "read-ahead", required_argument, NULL, OPT_READ_AHEAD },
		{ "node-key", required_argument, NULL, OPT_NODE_KEY },
		{ "trust", required_argument, NULL, OPT_TRUST },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "confine-selftest", required_argument, NULL, OPT_CONFINE_SELFTEST },
		{ 0 }
	};
	struct node_args a = { .port_fd = -1, .log_level = LOG_WARN, .read_ahead = -1 };
	uint64_t v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:m:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': a.listen = optarg; break;
		case 'm':
			if (parse_size(optarg, &v) || v > (1ULL << 40) || (v & 0xfff)) {
				fprintf(stderr, "amalgam: --memory must be a size up to 1T in whole pages (e.g. 512M, 0), not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			a.has_memory = true;
			a.memory = v;
			break;
		case 'K': a.key_file = optarg; break;
		case OPT_NODE_KEY: a.node_key_file = optarg; break;
		case OPT_TRUST: a.trust_file = optarg; break;
		case 'X': a.insecure = true; break;
		case 'T':
			if (parse_uint(optarg, 0, 86400, &v)) {
				fprintf(stderr, "amalgam: --timeout must be seconds (0-86400), not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			a.timeout_s = (unsigned)v;
			break;
		case 'P':
			if (parse_uint(optarg, 0, 1 << 20, &v)) {
				fprintf(stderr, "amalgam: --port-fd must be a file descriptor, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			a.port_fd = (int)v;
			break;
		case 'N': {
			char err[128];

			if (config_parse_node_cpus(optarg, &a.node_cpus, err, sizeof(err))) {
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case 'M': a.metrics_listen = optarg; break;
		case 'C': {
			char err[128];

			if (config_parse_cache(optarg, &a.cache, err, sizeof(err))) {
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_READ_AHEAD: {
			char err[128];

			if (config_parse_read_ahead(optarg, &a.read_ahead, err, sizeof(err))) {
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_NO_SECCOMP: a.no_seccomp = true; break;
		case OPT_CONFINE_SELFTEST: {
			char err[128];

			if (config_parse_selftest(optarg, &a.confine_selftest, err, sizeof(err))) {
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case 's': a.stats = true; break;
		case 'E': {
			char err[128];

			if (config_parse_stats_every(optarg, &a.stats_every_ms, err, sizeof(err))) {
				fprintf(stderr, "amalgam: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case 'v': if (a.log_level < LOG_DEBUG) a.log_level++; break;
		case 'q': a.log_level = LOG_ERROR; break;
		case 'h': node_usage(); return 0;
		case ':':
			fprintf(stderr, "amalgam: option '%s' needs a value\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "amalgam: unknown option '%s' (see 'amalgam node --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "amalgam: unexpected argument '%s' (see 'amalgam node --help')\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (!a.listen || !a.key_file) {
		fprintf(stderr, "amalgam: node needs --listen ADDR and --key FILE\n");
		return EXIT_USAGE;
	}
	if (!a.node_key_file != !a.trust_file) {
		fprintf(stderr, "amalgam: --node-key FILE and --trust FILE go together\n");
		return EXIT_USAGE;
	}
	log_init(-1, a.log_level);
	if (vcpu_global_init()) {
		fprintf(stderr, "amalgam: cannot set up signals\n");
		return 1;
	}
	return node_join(&a);
}

static int cmd_run(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	int r;

	r = config_parse_run(&cfg, argc, argv, err, sizeof(err));
	if (r == 1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "amalgam: %s\n", err);
		return EXIT_USAGE;
	}
	log_init(0, cfg.log_level);
	if (access(cfg.kernel, R_OK) != 0) {
		fprintf(stderr, "amalgam: cannot read kernel '%s': %s\n", cfg.kernel,
			strerror(errno));
		return EXIT_USAGE;
	}
	for (unsigned i = 0; i < cfg.nr_modules; i++) {
		if (access(cfg.modules[i].path, R_OK) != 0) {
			fprintf(stderr, "amalgam: cannot read initrd '%s': %s\n",
				cfg.modules[i].path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (vcpu_global_init()) {
		fprintf(stderr, "amalgam: cannot set up signals\n");
		return 1;
	}
	return node_run(&cfg);
}

/* "amalgam key FILE": a cluster key. "amalgam key --node FILE": this
 * node's key pair; the secret stays in FILE, the public key goes to stdout
 * for every node's trust file. */
static int cmd_key(int argc, char **argv)
{
	char pk[IDENT_HEX_BYTES];
	bool node = argc == 3 && !strcmp(argv[1], "--node");
	const char *path = node ? argv[2] : argv[1];
	int r;

	if ((argc != 2 && !node) || path[0] == '-') {
		fprintf(stderr, "amalgam: usage: amalgam key FILE (a cluster key) or "
			"amalgam key --node FILE (a node key pair)\n");
		return EXIT_USAGE;
	}
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "amalgam: cannot create key file '%s': it already exists\n",
			path);
		return EXIT_USAGE;
	}
	/* Any other failure is reported, with the file, by the generator. */
	r = node ? ident_generate(path, pk) : auth_key_generate(path);
	if (r)
		return EXIT_USAGE;
	if (node)
		printf("%s\n", pk);
	return 0;
}

/* One line either way; status 0 only when a vCPU really ran. */
static int cmd_probe(int argc, char **argv)
{
	struct kvm_probe p;

	if (argc != 1) {
		fprintf(stderr, "amalgam: usage: amalgam probe (no arguments)\n");
		return EXIT_USAGE;
	}
	if (kvm_probe(&p)) {
		printf("amalgam: KVM does not work here: %s: %s\n", p.step,
		       strerror(-p.err));
		return 1;
	}
	printf("amalgam: KVM works here: %s, exit round trip %.1f us (median of %u)\n",
	       kvm_flavor_name(p.flavor), p.exit_us, p.exits);
	return 0;
}

/* A closed stdin/stdout/stderr would let the next open() take its number:
 * the console would then read from, or write into, whatever that is. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
			if (n >= 0 && n != fd) {
				dup2(n, fd);
				close(n);
			}
		}
}

int main(int argc, char **argv)
{
	sigset_t set;

	ensure_std_fds();

	/* Only vCPU threads take the kick signal; a closed console must not
	 * kill the VMM. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IONBF, 0);

	if (argc < 2) {
		fprintf(stderr, "amalgam: no command given (see 'amalgam --help')\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("amalgam 0.1.0\n");
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "node"))
		return cmd_node(argc - 1, argv + 1);
	if (!strcmp(argv[1], "key"))
		return cmd_key(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return ctl_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 1, argv + 1);
	fprintf(stderr, "amalgam: unknown command '%s' (see 'amalgam --help')\n", argv[1]);
	return EXIT_USAGE;
}
