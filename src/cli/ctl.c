/* amalgam ctl (ctl.h). */
#include "cli/ctl.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server.h"
#include "util/parse.h"

#define EXIT_USAGE 2
#define CTL_TIMEOUT_S 10
#define RESP_MAX (1 << 20)

struct ctl {
	const char *sock, *url;
	char token[256];
	bool json;
	unsigned count;		/* watch: rounds, 0 = until interrupted */
};

struct buf {
	char *p;
	size_t len;
	bool overflow;
};

static size_t on_data(char *data, size_t size, size_t n, void *opaque)
{
	struct buf *b = opaque;
	size_t len = size * n;
	char *p;

	if (b->len + len > RESP_MAX) {
		b->overflow = true;
		return 0;
	}
	p = realloc(b->p, b->len + len + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
	p[b->len] = 0;
	return len;
}

static const char *where(const struct ctl *c)
{
	static char s[300];

	snprintf(s, sizeof(s), "%s%s", c->sock ? "unix:" : "", c->sock ? c->sock : c->url);
	return s;
}

/* One request. The answer's JSON (owned by the caller), or NULL with one
 * line printed: unreachable, refused (the API's own reason), or garbled. */
static json_t *call(const struct ctl *c, const char *method, const char *path,
		    const char *body)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct buf b = { 0 };
	char url[512], auth[300];
	long code = 0;
	json_t *j = NULL;
	json_error_t je;
	CURLcode rc;

	if (!h) {
		fprintf(stderr, "amalgam ctl: cannot initialise libcurl\n");
		return NULL;
	}
	if (c->sock) {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
	} else {
		size_t n = strlen(c->url);

		snprintf(url, sizeof(url), "%.*s%s", (int)(n && c->url[n - 1] == '/' ? n - 1 : n),
			 c->url, path);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		hdr = curl_slist_append(hdr, auth);
	}
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)CTL_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		fprintf(stderr, "amalgam ctl: cannot reach the VM at %s: %s\n", where(c),
			b.overflow ? "answer too long" : curl_easy_strerror(rc));
		goto out;
	}
	j = b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
	if (code >= 400) {
		const char *e = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "amalgam ctl: the VM refused (%ld): %s\n", code,
			e ? e : "no reason given");
		json_decref(j);
		j = NULL;
		goto out;
	}
	if (!j)
		fprintf(stderr, "amalgam ctl: the answer from %s is not JSON (HTTP %ld)\n",
			where(c), code);
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(b.p);
	return j;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* A number or "-" when null. */
static const char *num(const json_t *v, const char *fmt, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, fmt, json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

static int show_status(const struct ctl *c)
{
	json_t *j = call(c, "GET", "/api/v1/vm", NULL);
	const char *reason;

	if (!j)
		return 1;
	if (c->json) {
		print_json(j);
	} else {
		printf("state    %s\n", json_string_value(json_object_get(j, "state")));
		printf("vcpus    %lld\n", (long long)json_integer_value(json_object_get(j, "vcpus")));
		printf("memory   %lld MiB\n",
		       (long long)(json_integer_value(json_object_get(j, "memory")) >> 20));
		printf("nodes    %lld\n", (long long)json_integer_value(json_object_get(j, "nodes")));
		printf("migrate  %s\n", json_string_value(json_object_get(j, "migrate")));
		printf("kernel   %s\n", json_string_value(json_object_get(j, "kernel")));
		printf("uptime   %.1f s\n", json_number_value(json_object_get(j, "uptime_s")));
		reason = json_string_value(json_object_get(j, "stop_reason"));
		if (reason)
			printf("stopping %s\n", reason);
	}
	json_decref(j);
	return 0;
}

static void nodes_table(const json_t *arr)
{
	size_t i, k;
	json_t *n, *row;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];

	printf("%-4s %-21s %-5s %5s %5s %10s %8s %5s %7s %9s %7s\n", "NODE", "ADDRESS", "STATE",
	       "CPUS", "LOAD", "MEMORY", "RESIDENT", "VCPUS", "FAULTS", "FAULT us", "RTT us");
	json_array_foreach(arr, i, n) {
		const char *addr = json_string_value(json_object_get(n, "addr"));
		json_t *f = json_object_get(n, "faults"), *rtt = json_object_get(n, "rtt_ms");
		double wait = json_number_value(json_object_get(n, "fault_wait_ms"));

		/* The link's round trip in us, where measured. */
		if (json_is_number(rtt))
			snprintf(b6, sizeof(b6), "%.0f", json_number_value(rtt) * 1000);
		else
			snprintf(b6, sizeof(b6), "-");
		/* The mean time from a fault to its page, where known. */
		if (json_is_integer(f) && json_integer_value(f) > 0)
			snprintf(b5, sizeof(b5), "%.1f", wait * 1000 / (double)json_integer_value(f));
		else
			snprintf(b5, sizeof(b5), "-");
		printf("%-4lld %-21s %-5s %5s %5s %6lld MiB %8s %5lld %7s %9s %7s\n",
		       (long long)json_integer_value(json_object_get(n, "id")),
		       addr && *addr ? addr : "(this)",
		       json_string_value(json_object_get(n, "state")),
		       num(json_object_get(n, "cpus"), "%.1f", b1, sizeof(b1)),
		       num(json_object_get(n, "load"), "%.2f", b2, sizeof(b2)),
		       (long long)(json_integer_value(json_object_get(n, "memory")) >> 20),
		       num(json_object_get(n, "resident_pages"), "%.0f", b3, sizeof(b3)),
		       (long long)json_integer_value(json_object_get(n, "vcpus")),
		       num(f, "%.0f", b4, sizeof(b4)), b5, b6);
	}
	/* The page-traffic matrix: each row what that node says it sent. */
	if (json_array_size(arr) < 2)
		return;
	printf("\npages sent (row to column):\n%-6s", "");
	json_array_foreach(arr, i, n)
		printf(" %9s%lld", "node ", (long long)json_integer_value(json_object_get(n, "id")));
	printf("\n");
	json_array_foreach(arr, i, n) {
		row = json_object_get(n, "pages_sent");
		printf("node %-2lld", (long long)json_integer_value(json_object_get(n, "id")));
		for (k = 0; k < json_array_size(arr); k++)
			printf(" %10s", k == i ? "-" : num(json_array_get(row, k), "%.0f", b1,
							   sizeof(b1)));
		printf("\n");
	}
}

static int show_nodes(const struct ctl *c)
{
	json_t *j = call(c, "GET", "/api/v1/nodes", NULL);

	if (!j)
		return 1;
	if (c->json)
		print_json(j);
	else
		nodes_table(json_object_get(j, "nodes"));
	json_decref(j);
	return 0;
}

static void vcpus_table(const json_t *arr)
{
	size_t i;
	json_t *v;
	char b1[32], b2[32];

	printf("%-5s %-5s %-10s %6s %8s %14s %10s\n", "VCPU", "NODE", "STATE", "MOVES",
	       "MOVABLE", "PAGE WAIT ms", "EXITS");
	json_array_foreach(arr, i, v)
		printf("%-5lld %-5lld %-10s %6lld %8s %14s %10s\n",
		       (long long)json_integer_value(json_object_get(v, "id")),
		       (long long)json_integer_value(json_object_get(v, "node")),
		       json_string_value(json_object_get(v, "state")),
		       (long long)json_integer_value(json_object_get(v, "moves")),
		       json_is_true(json_object_get(v, "movable")) ? "yes" : "no",
		       num(json_object_get(v, "page_wait_ms"), "%.1f", b1, sizeof(b1)),
		       num(json_object_get(v, "exits"), "%.0f", b2, sizeof(b2)));
}

static int show_vcpus(const struct ctl *c)
{
	json_t *j = call(c, "GET", "/api/v1/vcpus", NULL);

	if (!j)
		return 1;
	if (c->json)
		print_json(j);
	else
		vcpus_table(json_object_get(j, "vcpus"));
	json_decref(j);
	return 0;
}

/* One column per node: node 0's counters and each other node's, as its
 * last report gave them ("-" for a counter it does not report). */
static int show_stats(const struct ctl *c)
{
	json_t *j = call(c, "GET", "/api/v1/stats", NULL), *self, *rep, *r, *val;
	const char *key;
	size_t i;

	if (!j)
		return 1;
	if (c->json) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	self = json_object_get(j, "self");
	rep = json_object_get(j, "reported");
	printf("%-24s %14s%lld", "COUNTER", "node ",
	       (long long)json_integer_value(json_object_get(self, "node")));
	json_array_foreach(rep, i, r)
		printf(" %14s%lld", "node ", (long long)json_integer_value(json_object_get(r, "node")));
	printf("\n");
	json_object_foreach(json_object_get(self, "counters"), key, val) {
		printf("%-24s %15lld", key, (long long)json_integer_value(val));
		json_array_foreach(rep, i, r) {
			json_t *o = json_object_get(json_object_get(r, "counters"), key);
			char b[32];

			printf(" %15s", num(o, "%.0f", b, sizeof(b)));
		}
		printf("\n");
	}
	json_array_foreach(rep, i, r)
		printf("(node %lld's report is %.0f ms old)\n",
		       (long long)json_integer_value(json_object_get(r, "node")),
		       json_number_value(json_object_get(r, "report_age_ms")));
	printf("\n");
	nodes_table(json_object_get(j, "nodes"));
	json_decref(j);
	return 0;
}

static int do_action(const struct ctl *c, const char *action)
{
	char body[64];
	json_t *j;

	snprintf(body, sizeof(body), "{\"action\":\"%s\"}", action);
	j = call(c, "POST", "/api/v1/vm/actions", body);
	if (!j)
		return 1;
	if (c->json)
		print_json(j);
	else
		printf("%s: the VM is %s\n", action,
		       json_string_value(json_object_get(j, "state")));
	json_decref(j);
	return 0;
}

static int do_move(const struct ctl *c, const char *vcpu, const char *node)
{
	char path[64], body[64];
	uint64_t v, n;
	json_t *j;

	if (parse_uint(vcpu, 0, 255, &v) || parse_uint(node, 0, 255, &n)) {
		fprintf(stderr, "amalgam ctl: usage: move VCPU NODE (numbers), not '%s %s'\n",
			vcpu, node);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/api/v1/vcpus/%u/move", (unsigned)v);
	snprintf(body, sizeof(body), "{\"node\":%u}", (unsigned)n);
	j = call(c, "POST", path, body);
	if (!j)
		return 1;
	if (c->json)
		print_json(j);
	else
		printf("moving vCPU %lld from node %lld to node %lld\n",
		       (long long)json_integer_value(json_object_get(j, "vcpu")),
		       (long long)json_integer_value(json_object_get(j, "from")),
		       (long long)json_integer_value(json_object_get(j, "to")));
	json_decref(j);
	return 0;
}

static volatile sig_atomic_t watch_stop;

static void on_int(int sig)
{
	watch_stop = 1;
}

/* Every second, one line per vCPU that changed node or state (all of
 * them the first time); --count N rounds, else until Ctrl-C. */
static int watch(const struct ctl *c)
{
	char last[API_MAX_VCPUS][48] = { { 0 } };
	unsigned round = 0;

	signal(SIGINT, on_int);
	while (!watch_stop && (!c->count || round < c->count)) {
		json_t *j = call(c, "GET", "/api/v1/vcpus", NULL), *v;
		size_t i;

		if (!j)
			return 1;
		if (c->json) {
			char *s = json_dumps(j, JSON_COMPACT);

			printf("%s\n", s ? s : "null");
			free(s);
		} else {
			json_array_foreach(json_object_get(j, "vcpus"), i, v) {
				char now[48];

				if (i >= API_MAX_VCPUS)
					break;
				snprintf(now, sizeof(now), "node %lld %s",
					 (long long)json_integer_value(json_object_get(v, "node")),
					 json_string_value(json_object_get(v, "state")));
				if (strcmp(now, last[i]))
					printf("vcpu %zu: %s\n", i, now);
				snprintf(last[i], sizeof(last[i]), "%s", now);
			}
		}
		fflush(stdout);
		json_decref(j);
		if (++round != c->count)
			sleep(1);
	}
	return 0;
}

static void usage(void)
{
	printf(
"Usage: amalgam ctl [--sock PATH | --url URL --token FILE] [--json] COMMAND\n"
"\n"
"Ask a running VM (its node 0's API: 'amalgam run --api-sock PATH') and steer it.\n"
"\n"
"Commands:\n"
"  status          the VM's state and configuration\n"
"  nodes           every node: CPUs, load, memory, vCPUs, faults; the page matrix\n"
"  vcpus           every vCPU: node, state, moves, time waiting for pages\n"
"  move VCPU NODE  move a vCPU to a node\n"
"  pause, resume   pause or resume every vCPU\n"
"  stop            power the VM off\n"
"  reset           reset the VM: as a reset by the guest, the VMM ends with 0\n"
"  stats           every node's counters (the others' from their reports)\n"
"  watch           print vCPUs as they move or change state (--count N rounds)\n"
"\n"
"  --sock PATH     the API's Unix socket\n"
"  --url URL       the API over TCP (http://HOST:PORT), with --token FILE\n"
"  --json          the API's JSON instead of tables\n"
"Exit status: 0, 1 when the VM cannot be reached or refuses, 2 for bad usage.\n");
}

int ctl_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock", required_argument, NULL, 's' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ctl c = { 0 };
	const char *token_file = NULL, *cmd;
	char err[256];
	uint64_t v;
	int o, r;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 's': c.sock = optarg; break;
		case 'u': c.url = optarg; break;
		case 't': token_file = optarg; break;
		case 'j': c.json = true; break;
		case 'c':
			if (parse_uint(optarg, 1, 1000000, &v)) {
				fprintf(stderr, "amalgam ctl: --count must be a number, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			c.count = (unsigned)v;
			break;
		case 'h': usage(); return 0;
		case ':':
			fprintf(stderr, "amalgam ctl: option '%s' needs a value\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "amalgam ctl: unknown option '%s' (see 'amalgam ctl --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!!c.sock == !!c.url) {
		fprintf(stderr, "amalgam ctl: give either --sock PATH or --url URL --token FILE\n");
		return EXIT_USAGE;
	}
	if (c.url && !token_file) {
		fprintf(stderr, "amalgam ctl: --url needs --token FILE\n");
		return EXIT_USAGE;
	}
	if (token_file && api_token_load(token_file, c.token, sizeof(c.token), err, sizeof(err))) {
		fprintf(stderr, "amalgam ctl: %s\n", err);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "amalgam ctl: no command given (see 'amalgam ctl --help')\n");
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "move") ? optind != argc : optind + 2 != argc) {
		fprintf(stderr, "amalgam ctl: wrong arguments for '%s' (see 'amalgam ctl --help')\n",
			cmd);
		return EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "amalgam ctl: cannot initialise libcurl\n");
		return 1;
	}
	if (!strcmp(cmd, "status")) r = show_status(&c);
	else if (!strcmp(cmd, "nodes")) r = show_nodes(&c);
	else if (!strcmp(cmd, "vcpus")) r = show_vcpus(&c);
	else if (!strcmp(cmd, "stats")) r = show_stats(&c);
	else if (!strcmp(cmd, "pause")) r = do_action(&c, "pause");
	else if (!strcmp(cmd, "resume")) r = do_action(&c, "resume");
	else if (!strcmp(cmd, "stop")) r = do_action(&c, "poweroff");
	else if (!strcmp(cmd, "reset")) r = do_action(&c, "reset");
	else if (!strcmp(cmd, "move")) r = do_move(&c, argv[optind], argv[optind + 1]);
	else if (!strcmp(cmd, "watch")) r = watch(&c);
	else {
		fprintf(stderr, "amalgam ctl: unknown command '%s' (see 'amalgam ctl --help')\n", cmd);
		r = EXIT_USAGE;
	}
	curl_global_cleanup();
	return r;
}
