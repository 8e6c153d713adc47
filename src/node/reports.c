/* What every node tells node 0 for the API (report.h), both ends: the
 * main thread of each other node builds and sends its report every
 * 100 ms; node 0's receive thread checks each one and keeps the last good
 * one per node, which node 0's main thread reads as it answers the API
 * (api_glue.c) and the metrics thread as it counts them (counters.c).
 * n->report_lock guards the kept reports and their counters; it is a
 * leaf: nothing is taken or called under it but memcpy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/metrics.h"
#include "cluster/cluster.h"
#include "memplane/memplane.h"
#include "node/node_int.h"
#include "util/lathist.h"
#include "util/log.h"
#include "vmm/vcpu.h"

/* What the memfd holds now: its allocated blocks, one fstat (as --stats). */
uint64_t node_resident_pages(struct node *n)
{
	struct stat sb;

	return fstat(n->vm.mem.fd, &sb) ? 0 : (uint64_t)sb.st_blocks * 512 / 4096;
}

/* The report's counters, by name from this node's own collection: the
 * metrics and the report say the same thing by construction. */
static void fill_counters(struct node *n, struct node_report *r)
{
	struct metrics_out *o = metrics_out_new(n->p.self);
	const struct metric *m;

	r->nr_counters = report_counter_slots();
	if (!o)
		return;
	node_collect(n, o);
	for (unsigned i = 0; (m = metrics_at(o, i)); i++) {
		if (m->label || m->kind != METRIC_COUNTER || m->value < 0)
			continue;
		for (unsigned s = 0; s < r->nr_counters; s++)
			if (!strcmp(m->name, report_counter_name(s))) {
				r->counters[s] = (uint64_t)m->value;
				break;
			}
	}
	metrics_out_free(o);
}

void node_report_send(struct node *n)
{
	struct node_report *r = calloc(1, sizeof(*r));
	struct net_msg m = { .type = NET_MSG_REPORT };
	uint8_t *buf = malloc(NET_REPORT_MAX);
	struct lathist h;
	size_t len;

	if (!r || !buf || !n->cluster || !n->mem || n->p.self == 0)
		goto out;
	r->node = n->p.self;
	r->seq = ++n->report_seq;
	r->resident_pages = node_resident_pages(n);
	memplane_lat_hist(n->mem, -1, &h);
	r->fault_count = h.n;
	r->fault_wait_ns = h.sum;
	/* What LOAD says, also when the cost model is off and LOAD is not
	 * sent; the load only where the CPU rule measures it. */
	pthread_mutex_lock(&n->aff_lock);
	r->cpus_milli = (uint32_t)(n->cpus * 1000);
	r->load_known = n->aff_on && n->sched_ok;
	r->load_milli = r->load_known ? (uint32_t)(n->last_load * 1000 + 0.5) : 0;
	pthread_mutex_unlock(&n->aff_lock);
	fill_counters(n, r);
	/* Every vCPU that runs here or ran here: its exits and page waits
	 * here never go back, so a vCPU once listed stays listed. */
	for (unsigned i = 0; i < n->vm.nr_vcpus && r->nr_vcpus < NET_REPORT_VCPUS; i++) {
		struct vcpu *v = n->vm.vcpus[i];
		uint64_t wait = __atomic_load_n(&n->page_wait_ns[i], __ATOMIC_RELAXED);
		bool here = vcpu_here(v);

		if (!here && !v->stats.exits && !wait)
			continue;
		r->v[r->nr_vcpus++] = (struct report_vcpu){
			.vcpu = i, .state = __atomic_load_n(&v->state, __ATOMIC_RELAXED),
			.here = here, .exits = v->stats.exits, .wait_ns = wait,
		};
	}
	for (unsigned p = 0; p < n->p.nr_nodes && p < CLUSTER_MAX_NODES; p++)
		if (p != n->p.self)
			r->p[r->nr_peers++] = (struct report_peer){
				.node = p,
				.sent = __atomic_load_n(&n->pages_to[p], __ATOMIC_RELAXED),
				.received = __atomic_load_n(&n->pages_from[p], __ATOMIC_RELAXED),
			};
	len = report_to_wire(r, buf, NET_REPORT_MAX);
	if (!len)
		goto out;
	m.data = buf;
	m.data_len = (uint32_t)len;
	/* A lost link is the transport's to report; a report is not worth
	 * a second warning. */
	cluster_send(n->cluster, 0, &m);
out:
	free(buf);
	free(r);
}

void node_on_report(void *opaque, unsigned from, const struct net_msg *msg)
{
	struct node *n = opaque;
	struct report_limits lim = {
		.from = from, .nr_nodes = n->p.nr_nodes, .nr_vcpus = n->p.cpus,
		.guest_pages = n->p.memory / 4096,
	};
	enum report_reject why = REPORT_REJ_SENDER;
	struct node_report *scratch;
	bool warn = false;
	int r = -EBADMSG;

	/* Only node 0 keeps them; from a node that cannot be, nothing is
	 * indexed by it. */
	scratch = malloc(sizeof(*scratch));
	pthread_mutex_lock(&n->report_lock);
	if (scratch && n->p.self == 0 && from < n->p.nr_nodes && from < CLUSTER_MAX_NODES)
		r = report_from_wire(msg->data, msg->data_len, &lim,
				     n->report_known[from] ? &n->report[from] : NULL,
				     scratch, &why);
	else if (!scratch)
		why = REPORT_REJ_NR;	/* out of memory: not the peer's fault */
	if (!r) {
		n->report[from] = *scratch;
		n->report_known[from] = true;
		n->report_at[from] = vcpu_now_ns();
		n->reports_taken++;
	} else if (why < REPORT_REJ_NR) {
		n->report_rejects[why]++;
		if (from < CLUSTER_MAX_NODES && !n->report_warned[from]) {
			n->report_warned[from] = true;
			warn = true;
		}
	}
	pthread_mutex_unlock(&n->report_lock);
	free(scratch);
	if (warn)
		pr_warn("node %u sent a report node 0 cannot take (%s): dropped, and "
			"counted in reports_rejected from now on", from,
			report_reject_name(why));
}

bool node_report_get(struct node *n, unsigned id, struct node_report *out,
		     uint64_t *age_ns)
{
	bool known;

	if (id >= CLUSTER_MAX_NODES)
		return false;
	pthread_mutex_lock(&n->report_lock);
	known = n->report_known[id];
	if (known) {
		*out = n->report[id];
		*age_ns = vcpu_now_ns() - n->report_at[id];
	}
	pthread_mutex_unlock(&n->report_lock);
	return known;
}

bool node_report_age(struct node *n, unsigned id, uint64_t *age_ns)
{
	bool known;

	if (id >= CLUSTER_MAX_NODES)
		return false;
	pthread_mutex_lock(&n->report_lock);
	known = n->report_known[id];
	*age_ns = known ? vcpu_now_ns() - n->report_at[id] : 0;
	pthread_mutex_unlock(&n->report_lock);
	return known;
}

void node_report_stats(struct node *n, uint64_t *taken, uint64_t rejects[REPORT_REJ_NR])
{
	pthread_mutex_lock(&n->report_lock);
	*taken = n->reports_taken;
	memcpy(rejects, n->report_rejects, sizeof(n->report_rejects));
	pthread_mutex_unlock(&n->report_lock);
}
