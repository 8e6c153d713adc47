#include "cluster/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/auth.h"

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)
#define REAP_TIMEOUT_MS 5000

struct spawn {
	unsigned count;
	pid_t pid[CLUSTER_MAX_NODES];
	char dir[64];
	char key[96];
	int own_key;
	char trust[96];
	char node_key[CLUSTER_MAX_NODES][96];
	unsigned nr_node_keys;
};

const char *spawn_key_file(struct spawn *s)
{
	return s->key;
}

const char *spawn_node_key_file(struct spawn *s)
{
	return s->node_key[0];
}

const char *spawn_trust_file(struct spawn *s)
{
	return s->trust;
}

/* A key pair for node 0 (us) and each child, and the trust file naming
 * them, in s->dir. */
static int make_identities(struct spawn *s, unsigned count, char *err, size_t errlen)
{
	char pk[IDENT_HEX_BYTES];
	FILE *f;
	int r = 0;

	snprintf(s->trust, sizeof(s->trust), "%s/trust", s->dir);
	f = fopen(s->trust, "wx");
	if (!f) {
		set_err("cannot create %s: %s", s->trust, strerror(errno));
		return -errno;
	}
	fprintf(f, "# local nodes of one 'amalgam run --nodes'\n");
	for (unsigned i = 0; i <= count && !r; i++) {
		snprintf(s->node_key[i], sizeof(s->node_key[i]), "%s/node%u.key", s->dir, i);
		r = ident_generate(s->node_key[i], pk);
		if (r) {
			set_err("cannot create a node key: %s", strerror(-r));
			break;
		}
		s->nr_node_keys = i + 1;
		fprintf(f, "%u %s\n", i, pk);
	}
	if (fclose(f) && !r) {
		set_err("cannot write %s", s->trust);
		r = -EIO;
	}
	return r;
}

static int read_port(int fd, int *port)
{
	char buf[16];
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	/* A child that cannot start closes the pipe without a port. */
	while (got < sizeof(buf) - 1) {
		ssize_t n;
		if (poll(&p, 1, 20000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	*port = atoi(buf);
	return *port > 0 ? 0 : -EIO;
}

/* Node i's metrics address: the same host, port P + i (any port for 0). */
static int metrics_addr_for(const char *base, unsigned i, char *out, size_t len)
{
	const char *colon = strrchr(base, ':');
	unsigned long port;
	char *end;

	if (!colon)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535 || (port && port + i > 65535))
		return -EINVAL;
	snprintf(out, len, "%.*s:%lu", (int)(colon - base), base, port ? port + i : 0);
	return 0;
}

int spawn_nodes(struct spawn **out, unsigned count, const char *key_file,
		const struct spawn_opts *o,
		char (*addrs)[CLUSTER_ADDR_MAX], char *err, size_t errlen)
{
	struct spawn *s = calloc(1, sizeof(*s));
	char self[PATH_MAX];
	ssize_t l;
	int r;

	if (!s)
		return -ENOMEM;
	*out = s;
	l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l < 0) {
		set_err("cannot find my own executable: %s", strerror(errno));
		return -errno;
	}
	self[l] = '\0';
	strcpy(s->dir, "/tmp/amalgam-XXXXXX");
	if (!mkdtemp(s->dir)) {
		s->dir[0] = '\0';
		set_err("cannot create a temporary directory: %s", strerror(errno));
		return -errno;
	}
	r = make_identities(s, count, err, errlen);
	if (r)
		return r;
	if (key_file) {
		snprintf(s->key, sizeof(s->key), "%s", key_file);
	} else {
		snprintf(s->key, sizeof(s->key), "%s/cluster.key", s->dir);
		r = auth_key_generate(s->key);
		if (r) {
			set_err("cannot create a cluster key: %s", strerror(-r));
			return r;
		}
		s->own_key = 1;
	}
	for (unsigned i = 0; i < count; i++) {
		int fds[2], port;
		char fdarg[16];
		char *v = o->level >= LOG_DEBUG ? "-vv" : "-v";
		char cpus[16], every[16], cache[24], ahead[16], metrics[CLUSTER_ADDR_MAX + 8];
		pid_t pid;

		if (pipe2(fds, O_CLOEXEC) < 0)
			return -errno;
		pid = fork();
		if (pid < 0) {
			set_err("cannot start node %u: %s", i + 1, strerror(errno));
			return -errno;
		}
		if (pid == 0) {
			/* The child keeps only the write end, as fd 3. */
			dup2(fds[1], 3);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			snprintf(fdarg, sizeof(fdarg), "%d", 3);
			{
				char *argv[34] = { self, "node", "--listen", "127.0.0.1:0",
						   "--key", s->key, "--port-fd", fdarg,
						   "--timeout", "60", "--node-key", s->node_key[i + 1],
						   "--trust", s->trust };
				int k = 14;
				if (o->level >= LOG_INFO)
					argv[k++] = v;
				if (o->stats)
					argv[k++] = "--stats";
				if (o->stats_every_ms) {
					snprintf(every, sizeof(every), "%u", o->stats_every_ms);
					argv[k++] = "--stats-every";
					argv[k++] = every;
				}
				if (o->insecure)
					argv[k++] = "--insecure-network";
				if (o->no_seccomp)
					argv[k++] = "--no-seccomp";
				if (o->node_cpus) {
					snprintf(cpus, sizeof(cpus), "%u", o->node_cpus);
					argv[k++] = "--node-cpus";
					argv[k++] = cpus;
				}
				if (o->cache) {
					snprintf(cache, sizeof(cache), "%lluK",
						 (unsigned long long)(o->cache >> 10));
					argv[k++] = "--cache";
					argv[k++] = cache;
				}
				if (o->read_ahead >= 0) {
					snprintf(ahead, sizeof(ahead), "%d", o->read_ahead);
					argv[k++] = "--read-ahead";
					argv[k++] = ahead;
				}
				if (o->metrics_listen &&
				    !metrics_addr_for(o->metrics_listen, i + 1, metrics,
						      sizeof(metrics))) {
					argv[k++] = "--metrics-listen";
					argv[k++] = metrics;
				}
				argv[k] = NULL;
				execv(self, argv);
			}
			_exit(127);
		}
		close(fds[1]);
		s->pid[s->count++] = pid;
		r = read_port(fds[0], &port);
		close(fds[0]);
		if (r) {
			set_err("node %u did not start", i + 1);
			return r;
		}
		snprintf(addrs[i], CLUSTER_ADDR_MAX, "127.0.0.1:%d", port);
	}
	return 0;
}

void spawn_reap(struct spawn *s, int kill_now)
{
	struct timespec t0, t;

	if (!s)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < s->count; i++) {
		if (kill_now)
			kill(s->pid[i], SIGKILL);
		for (;;) {
			int st;
			pid_t p = waitpid(s->pid[i], &st, WNOHANG | WUNTRACED);
			if (p == s->pid[i] && WIFSTOPPED(st)) {
				/* A stopped node (the lost one, most likely)
				 * will not exit by itself. */
				kill(s->pid[i], SIGKILL);
				waitpid(s->pid[i], &st, 0);
				break;
			}
			if (p == s->pid[i] || p < 0)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
			    REAP_TIMEOUT_MS) {
				kill(s->pid[i], SIGKILL);
				waitpid(s->pid[i], &st, 0);
				break;
			}
			usleep(10000);
		}
	}
	if (s->own_key)
		unlink(s->key);
	for (unsigned i = 0; i < s->nr_node_keys; i++)
		unlink(s->node_key[i]);
	if (s->trust[0])
		unlink(s->trust);
	if (s->dir[0])
		rmdir(s->dir);
	free(s);
}
