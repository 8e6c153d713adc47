#include "cluster/params.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)

void params_place_even(struct cluster_params *p)
{
	for (unsigned i = 0; i < p->cpus && i < CLUSTER_MAX_VCPUS; i++)
		p->place[i] = (uint8_t)(i * p->nr_nodes / p->cpus);
}

int params_parse_place(struct cluster_params *p, const char *s, char *err,
		       size_t errlen)
{
	unsigned n = 0;
	const char *c = s;

	while (*c) {
		char *end;
		unsigned long v = strtoul(c, &end, 10);
		if (end == c || (*end && *end != ',') || v >= CLUSTER_MAX_NODES ||
		    n >= CLUSTER_MAX_VCPUS) {
			set_err("--place takes one node id per vCPU, comma separated (e.g. 0,0,1,1), not '%s'", s);
			return -EINVAL;
		}
		p->place[n++] = (uint8_t)v;
		c = *end ? end + 1 : end;
	}
	if (n != p->cpus) {
		set_err("--place lists %u vCPUs but --cpus is %u", n, p->cpus);
		return -EINVAL;
	}
	return 0;
}

int params_check(const struct cluster_params *p, char *err, size_t errlen)
{
	if (p->nr_nodes < 1 || p->nr_nodes > CLUSTER_MAX_NODES) {
		set_err("a cluster has 1 to %d nodes, not %u", CLUSTER_MAX_NODES, p->nr_nodes);
		return -EINVAL;
	}
	if (p->self >= p->nr_nodes) {
		set_err("node id %u out of range", p->self);
		return -EINVAL;
	}
	if (p->cpus < 1 || p->cpus > CLUSTER_MAX_VCPUS) {
		set_err("bad vCPU count %u", p->cpus);
		return -EINVAL;
	}
	for (unsigned i = 0; i < p->cpus; i++) {
		if (p->place[i] >= p->nr_nodes) {
			set_err("vCPU %u placed on node %u, but there are %u nodes", i,
				p->place[i], p->nr_nodes);
			return -EINVAL;
		}
	}
	for (unsigned n = 1; n < p->nr_nodes; n++)
		if (!p->addr[n][0]) {
			set_err("node %u has no address", n);
			return -EINVAL;
		}
	return 0;
}

static const char *const migrate_names[MIGRATE_NR] = { "auto", "off", "shuffle" };

int params_migrate_mode(const char *name)
{
	for (int i = 0; i < MIGRATE_NR; i++)
		if (!strcmp(name, migrate_names[i]))
			return i;
	return -1;
}

const char *params_migrate_name(unsigned mode)
{
	return mode < MIGRATE_NR ? migrate_names[mode] : "?";
}

int params_format(const struct cluster_params *p, char *buf, size_t len)
{
	size_t off = 0;
	int n;

#define PUT(...) do { \
	n = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__); \
	if (n < 0 || off + n >= len) return -ENOSPC; \
	off += n; } while (0)

	PUT("v=1 nodes=%u self=%u cpus=%u memory=%" PRIu64 " start=%s delay=%u migrate=%s place=",
	    p->nr_nodes, p->self, p->cpus, p->memory, p->start_all ? "all" : "bsp",
	    p->net_delay_us, params_migrate_name(p->migrate));
	for (unsigned i = 0; i < p->cpus; i++)
		PUT("%s%u", i ? "," : "", p->place[i]);
	for (unsigned i = 1; i < p->nr_nodes; i++)
		PUT(" addr%u=%s", i, p->addr[i]);
#undef PUT
	return (int)off;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

int params_parse(struct cluster_params *p, const char *text, size_t len,
		 char *err, size_t errlen)
{
	char buf[1100], *save = NULL, *tok;
	bool have_v = false;
	uint64_t x;

	memset(p, 0, sizeof(*p));
	if (len >= sizeof(buf)) {
		set_err("cluster parameters too long");
		return -EINVAL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;
		int bad = 0;

		if (!eq) {
			set_err("bad cluster parameter '%s'", tok);
			return -EINVAL;
		}
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(k, "v")) {
			have_v = !strcmp(v, "1");
			bad = !have_v;
		} else if (!strcmp(k, "nodes")) {
			bad = parse_u64(v, CLUSTER_MAX_NODES, &x);
			p->nr_nodes = (unsigned)x;
		} else if (!strcmp(k, "self")) {
			bad = parse_u64(v, CLUSTER_MAX_NODES - 1, &x);
			p->self = (unsigned)x;
		} else if (!strcmp(k, "cpus")) {
			bad = parse_u64(v, CLUSTER_MAX_VCPUS, &x);
			p->cpus = (unsigned)x;
		} else if (!strcmp(k, "memory")) {
			bad = parse_u64(v, UINT64_MAX, &p->memory);
		} else if (!strcmp(k, "start")) {
			bad = strcmp(v, "all") && strcmp(v, "bsp");
			p->start_all = !strcmp(v, "all");
		} else if (!strcmp(k, "delay")) {
			bad = parse_u64(v, 1000000, &x);
			p->net_delay_us = (uint32_t)x;
		} else if (!strcmp(k, "migrate")) {
			int m = params_migrate_mode(v);

			bad = m < 0;
			p->migrate = (uint8_t)(m < 0 ? 0 : m);
		} else if (!strcmp(k, "place")) {
			bad = params_parse_place(p, v, err, errlen) != 0;
		} else if (!strncmp(k, "addr", 4)) {
			bad = parse_u64(k + 4, CLUSTER_MAX_NODES - 1, &x) || !x ||
			      strlen(v) >= CLUSTER_ADDR_MAX;
			if (!bad)
				strcpy(p->addr[x], v);
		} else {
			bad = 1;
		}
		if (bad) {
			set_err("bad cluster parameter '%s=%s'", k, v);
			return -EINVAL;
		}
	}
	if (!have_v) {
		set_err("cluster parameters without a version");
		return -EINVAL;
	}
	return params_check(p, err, errlen);
}

int params_parse_join(struct cluster_params *p, const char *s, char *err, size_t errlen)
{
	const char *c = s;

	p->nr_nodes = 1;
	while (*c) {
		const char *e = strchr(c, ',');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		struct net_addr na;
		const char *why = "";

		if (!l || l >= CLUSTER_ADDR_MAX || p->nr_nodes >= CLUSTER_MAX_NODES) {
			snprintf(err, errlen, "--join takes host:port,host:port,... (at most %d)",
				 CLUSTER_MAX_NODES - 1);
			return -EINVAL;
		}
		memcpy(p->addr[p->nr_nodes], c, l);
		if (addr_parse(p->addr[p->nr_nodes], false, &na, &why)) {
			snprintf(err, errlen, "bad --join address '%s': %s",
				 p->addr[p->nr_nodes], why);
			return -EINVAL;
		}
		p->nr_nodes++;
		c = e ? e + 1 : c + l;
	}
	return 0;
}
