#include "cluster/params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "util/parse.h"

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

const char *params_size_str(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

int params_parse_node_mem(struct cluster_params *p, const char *s, unsigned *count,
			  char *err, size_t errlen)
{
	unsigned n = 0;
	const char *c = s;

	while (*c) {
		const char *e = strchr(c, ',');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		char one[32];
		uint64_t v;

		if (!l || l >= sizeof(one) || n >= CLUSTER_MAX_NODES)
			goto bad;
		memcpy(one, c, l);
		one[l] = '\0';
		if (parse_size(one, &v) || (v & 0xfff))
			goto bad;
		p->node_mem[n] = v;
		p->mem_given |= 1u << n;
		n++;
		c = e ? e + 1 : c + l;
		if (e && !*c)
			goto bad;
	}
	if (!n)
		goto bad;
	*count = n;
	return 0;
bad:
	set_err("--node-memory takes one size per node in whole pages, comma separated (e.g. 512M,0,1G), not '%s'",
		s);
	return -EINVAL;
}

int params_settle_memory(struct cluster_params *p, char *err, size_t errlen)
{
	const uint64_t min = CLUSTER_MEMORY_MIN, max = CLUSTER_MEMORY_MAX;
	uint64_t known = 0, pages, each, extra;
	unsigned nfree = 0, k = 0;
	char a[32], b[32], c[32];

	for (unsigned i = 0; i < p->nr_nodes; i++) {
		if (p->mem_given & (1u << i)) {
			if (p->node_mem[i] > max) {
				set_err("node %u contributes %s, more than a guest can have (%s)", i,
					params_size_str(p->node_mem[i], a, sizeof(a)), params_size_str(max, b, sizeof(b)));
				return -EINVAL;
			}
			known += p->node_mem[i];
		} else {
			nfree++;
		}
	}
	if (!nfree) {
		if (p->memory_given && p->memory != known) {
			set_err("--memory is %s but the nodes contribute %s in all",
				params_size_str(p->memory, a, sizeof(a)), params_size_str(known, b, sizeof(b)));
			return -EINVAL;
		}
		p->memory = known;
	} else if (known > p->memory) {
		set_err("the nodes' contributions (%s) exceed --memory %s",
			params_size_str(known, a, sizeof(a)), params_size_str(p->memory, b, sizeof(b)));
		return -EINVAL;
	}
	if (p->memory < min || p->memory > max) {
		set_err("the guest's RAM would be %s: it must be from %s to %s",
			params_size_str(p->memory, a, sizeof(a)), params_size_str(min, b, sizeof(b)),
			params_size_str(max, c, sizeof(c)));
		return -EINVAL;
	}
	pages = (p->memory - known) / 4096;
	each = nfree ? pages / nfree : 0;
	extra = nfree ? pages % nfree : 0;
	for (unsigned i = 0; i < p->nr_nodes; i++)
		if (!(p->mem_given & (1u << i)))
			p->node_mem[i] = (each + (k++ < extra)) * 4096;
	for (unsigned i = p->nr_nodes; i < CLUSTER_MAX_NODES; i++)
		p->node_mem[i] = 0;
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
	{
		uint64_t sum = 0;

		for (unsigned n = 0; n < CLUSTER_MAX_NODES; n++) {
			if (p->node_mem[n] & 0xfff || (n >= p->nr_nodes && p->node_mem[n]) ||
			    p->node_mem[n] > p->memory) {
				set_err("bad RAM contribution of node %u", n);
				return -EINVAL;
			}
			sum += p->node_mem[n];
		}
		if (sum != p->memory) {
			set_err("the nodes' RAM contributions sum to %llu bytes, not the guest's %llu",
				(unsigned long long)sum, (unsigned long long)p->memory);
			return -EINVAL;
		}
	}
	if (p->nr_disks > CLUSTER_MAX_DISKS) {
		set_err("at most %d disks", CLUSTER_MAX_DISKS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < p->nr_disks; i++) {
		const struct cluster_disk *d = &p->disks[i];

		if (d->node >= p->nr_nodes) {
			set_err("--disk %.*s: node=%u names no node (the nodes are 0 to %u)",
				CLUSTER_DISK_PATH_MAX, d->path, d->node,
				p->nr_nodes - 1);
			return -EINVAL;
		}
		if (!d->path[0] || d->queues > CLUSTER_DISK_QUEUES_MAX) {
			set_err("disk %u: no path, or more than %d queues", i,
				CLUSTER_DISK_QUEUES_MAX);
			return -EINVAL;
		}
	}
	if (p->nr_nics > CLUSTER_MAX_NICS) {
		set_err("at most %d network cards", CLUSTER_MAX_NICS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < p->nr_nics; i++) {
		const struct cluster_nic *c = &p->nics[i];

		if (c->node >= p->nr_nodes) {
			set_err("--net tap=%.*s: node=%u names no node (the nodes are 0 to %u)",
				CLUSTER_TAP_NAME_MAX, c->tap, c->node, p->nr_nodes - 1);
			return -EINVAL;
		}
		if (!c->tap[0] || !memchr(c->tap, 0, CLUSTER_TAP_NAME_MAX)) {
			set_err("network card %u: no tap name", i);
			return -EINVAL;
		}
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
	for (unsigned i = 0; i < p->nr_nodes && i < CLUSTER_MAX_NODES; i++)
		j->node_mem[i] = p->node_mem[i];
	j->nr_disks = p->nr_disks;
	for (unsigned i = 0; i < p->nr_disks && i < CLUSTER_MAX_DISKS; i++) {
		const struct cluster_disk *d = &p->disks[i];

		memcpy(j->disks[i].path, d->path, strnlen(d->path, NET_DISK_PATH_MAX - 1));
		j->disks[i].node = d->node;
		j->disks[i].readonly = d->readonly;
		j->disks[i].queues = d->queues;
		j->disks[i].fail_from = d->fail_from;
	}
	j->nr_nics = p->nr_nics;
	for (unsigned i = 0; i < p->nr_nics && i < CLUSTER_MAX_NICS; i++) {
		const struct cluster_nic *c = &p->nics[i];

		memcpy(j->nics[i].tap, c->tap, strnlen(c->tap, NET_TAP_NAME_MAX - 1));
		memcpy(j->nics[i].mac, c->mac, sizeof(c->mac));
		j->nics[i].node = c->node;
	}
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
		p->node_mem[i] = j->node_mem[i];
	}
	/* The wire checked each path's NUL and the flags. */
	p->nr_disks = j->nr_disks <= CLUSTER_MAX_DISKS ? j->nr_disks : CLUSTER_MAX_DISKS + 1;
	for (unsigned i = 0; i < CLUSTER_MAX_DISKS && i < j->nr_disks; i++) {
		struct cluster_disk *d = &p->disks[i];

		memcpy(d->path, j->disks[i].path, CLUSTER_DISK_PATH_MAX);
		d->path[CLUSTER_DISK_PATH_MAX - 1] = 0;
		d->node = j->disks[i].node;
		d->readonly = j->disks[i].readonly;
		d->queues = j->disks[i].queues;
		d->fail_from = j->disks[i].fail_from;
	}
	/* Likewise each tap name's NUL and the MAC's unicast bit. */
	p->nr_nics = j->nr_nics <= CLUSTER_MAX_NICS ? j->nr_nics : CLUSTER_MAX_NICS + 1;
	for (unsigned i = 0; i < CLUSTER_MAX_NICS && i < j->nr_nics; i++) {
		struct cluster_nic *c = &p->nics[i];

		memcpy(c->tap, j->nics[i].tap, CLUSTER_TAP_NAME_MAX);
		c->tap[CLUSTER_TAP_NAME_MAX - 1] = 0;
		memcpy(c->mac, j->nics[i].mac, sizeof(c->mac));
		c->node = j->nics[i].node;
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
