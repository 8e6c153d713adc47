#include "x86/topo.h"

#include <errno.h>
#include <string.h>

static unsigned order_of(unsigned n)
{
	unsigned o = 0;

	while ((1u << o) < n)
		o++;
	return o;
}

int topo_init(struct topo *t, unsigned nr_cpus, const uint8_t *node)
{
	unsigned count[TOPO_MAX_NODES] = { 0 }, rank[TOPO_MAX_NODES] = { 0 };
	uint8_t pkg[TOPO_MAX_NODES];
	unsigned nr_nodes = 1, nr_pkgs = 0, most = 0, max_id = 0;

	if (!nr_cpus || nr_cpus > TOPO_MAX_CPUS)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memset(t->index_of, TOPO_NO_CPU, sizeof(t->index_of));
	memset(pkg, 0xff, sizeof(pkg));
	t->nr_cpus = nr_cpus;
	for (unsigned i = 0; i < nr_cpus; i++) {
		unsigned n = node ? node[i] : 0;

		if (n >= TOPO_MAX_NODES)
			return -EINVAL;
		t->node[i] = (uint8_t)n;
		if (!count[n]++)
			pkg[n] = (uint8_t)nr_pkgs++;
		if (n + 1 > nr_nodes)
			nr_nodes = n + 1;
	}
	for (unsigned n = 0; n < nr_nodes; n++)
		if (count[n] > most)
			most = count[n];
	t->shift = order_of(most);
	if (nr_nodes > 1 && t->shift < 3)
		t->shift = 3;
	for (unsigned i = 0; i < nr_cpus; i++) {
		unsigned n = t->node[i];
		unsigned id = (unsigned)pkg[n] << t->shift | rank[n]++;

		if (id > 254)	/* 0xff is the xAPIC broadcast */
			return -EINVAL;
		t->apic_id[i] = (uint8_t)id;
		t->package[i] = pkg[n];
		t->cores[i] = (uint8_t)count[n];
		t->index_of[id] = (uint8_t)i;
		if (id > max_id)
			max_id = id;
	}
	if (max_id + 1 > 254)
		return -EINVAL;
	t->ioapic_id = (uint8_t)(max_id + 1);
	return 0;
}
