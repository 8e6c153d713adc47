/* Page-or-vCPU cost model; the reasoning is in affinity.h. */
#include "cluster/affinity.h"

#include <errno.h>
#include <string.h>

const struct affinity_config affinity_defaults = {
	.window_ns = 100 * 1000 * 1000ull,
	.wait_pct = 20,
	.share_pct = 75,
	.stay_ns = 200 * 1000 * 1000ull,
};

int affinity_init(struct affinity *a, const struct affinity_config *cfg,
		  unsigned nr_vcpus, unsigned nr_nodes)
{
	if (!nr_vcpus || nr_vcpus > AFFINITY_MAX_VCPUS || !nr_nodes ||
	    nr_nodes > AFFINITY_MAX_NODES || !cfg->window_ns || !cfg->wait_pct ||
	    cfg->wait_pct > 100 || cfg->share_pct > 100)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->nr_vcpus = nr_vcpus;
	a->nr_nodes = nr_nodes;
	for (unsigned i = 0; i < nr_vcpus; i++)
		a->v[i].where = -1;
	return 0;
}

/* e^-x for x >= 0, close enough for a decay (no libm needed). */
static double decay(double x)
{
	if (x >= 16)
		return 0;
	/* e^-x = (e^-(x/8))^8, the inner term by its Taylor series. */
	double y = x / 8, t = 1 - y + y * y / 2 - y * y * y / 6;

	t *= t;
	t *= t;
	return t * t;
}

void affinity_left(struct affinity *a, unsigned vcpu)
{
	if (vcpu < a->nr_vcpus)
		a->v[vcpu].where = -1;
}

int affinity_fault(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   bool repeat, uint64_t wait_ns, uint64_t now_ns)
{
	struct affinity_vcpu *v;
	double k;
	unsigned best = 0;

	if (vcpu >= a->nr_vcpus || here >= a->nr_nodes || from >= a->nr_nodes ||
	    from == here)
		return -1;
	v = &a->v[vcpu];
	if (v->where != (int)here) {
		/* New here (first fault, or it moved): start afresh. */
		memset(v->wait, 0, sizeof(v->wait));
		v->total = 0;
		v->where = (int)here;
		v->since_ns = v->last_ns = now_ns;
	}
	if (now_ns > v->last_ns) {
		k = decay((double)(now_ns - v->last_ns) / (double)a->cfg.window_ns);
		for (unsigned n = 0; n < a->nr_nodes; n++)
			v->wait[n] *= k;
		v->total *= k;
		v->last_ns = now_ns;
	}
	if (!repeat)
		return -1;
	v->wait[from] += (double)wait_ns;
	v->total += (double)wait_ns;
	if (now_ns - v->since_ns < a->cfg.stay_ns)
		return -1;
	for (unsigned n = 1; n < a->nr_nodes; n++)
		if (v->wait[n] > v->wait[best])
			best = n;
	/* A steady waiting share f of the time decays to f * window. */
	if (best >= here || v->wait[best] * 100 < (double)a->cfg.window_ns * a->cfg.wait_pct ||
	    v->wait[best] * 100 < v->total * a->cfg.share_pct)
		return -1;
	return (int)best;
}
