#include "cluster/params.h"

#include <errno.h>
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

void params_to_wire(const struct cluster_params *p, struct net_join *j)
{
	memset(j, 0, sizeof(*j));
	j->nr_nodes = p->nr_nodes;
	j->self = p->self;
	j->cpus = p->cpus;
	j->net_delay_us = p->net_delay_us;
	j->memory = p->memory;
	j->start_all = p->start_all;
	j->migrate = p->migrate;
	j->peer_timeout_ms = p->peer_timeout_ms;
	for (unsigned i = 0; i < p->cpus && i < CLUSTER_MAX_VCPUS; i++)
		j->place[i] = p->place[i];
	/* The rest of each address stays zero, as the wire wants. */
	for (unsigned i = 1; i < CLUSTER_MAX_NODES; i++)
		memcpy(j->addr[i], p->addr[i], strnlen(p->addr[i], NET_ADDR_MAX - 1));
}

int params_from_wire(struct cluster_params *p, const struct net_join *j,
		     char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	/* The wire checked the closed sets; the ranges are ours. */
	if (j->nr_nodes > CLUSTER_MAX_NODES || j->self >= CLUSTER_MAX_NODES ||
	    j->cpus > CLUSTER_MAX_VCPUS || j->net_delay_us > 1000000 ||
	    j->migrate >= MIGRATE_NR || j->start_all > 1 ||
	    j->memory < CLUSTER_MEMORY_MIN || j->memory > CLUSTER_MEMORY_MAX ||
	    (j->memory & 0xfff) ||
	    j->peer_timeout_ms < CLUSTER_PEER_TIMEOUT_MIN ||
	    j->peer_timeout_ms > CLUSTER_PEER_TIMEOUT_MAX) {
		set_err("bad cluster parameters (nodes %u, self %u, cpus %u, delay %u, migrate %u, "
			"peer timeout %u ms, memory %llu)", j->nr_nodes, j->self, j->cpus,
			j->net_delay_us, j->migrate, j->peer_timeout_ms,
			(unsigned long long)j->memory);
		return -EINVAL;
	}
	p->nr_nodes = j->nr_nodes;
	p->self = j->self;
	p->cpus = j->cpus;
	p->net_delay_us = j->net_delay_us;
	p->memory = j->memory;
	p->start_all = j->start_all;
	p->migrate = j->migrate;
	p->peer_timeout_ms = j->peer_timeout_ms;
	for (unsigned i = 0; i < CLUSTER_MAX_VCPUS; i++) {
		if (i >= p->cpus && j->place[i]) {
			set_err("vCPU %u placed, but there are %u vCPUs", i, p->cpus);
			return -EINVAL;
		}
		p->place[i] = j->place[i];
	}
	for (unsigned i = 0; i < CLUSTER_MAX_NODES; i++) {
		if (!memchr(j->addr[i], 0, NET_ADDR_MAX) || (i == 0 && j->addr[0][0])) {
			set_err("bad address for node %u", i);
			return -EINVAL;
		}
		memcpy(p->addr[i], j->addr[i], CLUSTER_ADDR_MAX);
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
