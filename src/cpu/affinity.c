/* Page-or-vCPU cost model; the reasoning is in affinity.h. */
#include "cpu/affinity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_RETURNS 3		/* the stay grows to 8 times its length */

const struct affinity_config affinity_defaults = {
	.window_ns = 100 * 1000 * 1000ull,
	.wait_pct = 20,
	.gain_pct = 40,
	.share_pct = 75,
	.stay_ns = 200 * 1000 * 1000ull,
	.slack_cpus = 0.5,
	.busy_demand = 0.5,
	.demand_ns = 300 * 1000 * 1000ull,
	.return_ns = 30ull * 1000 * 1000 * 1000,
	.memory_ns = 5000 * 1000 * 1000ull,
	.home_stay_ns = 1000 * 1000 * 1000ull,
	.sustain_ns = 500 * 1000 * 1000ull,
	.fresh_pages = 4,
};

int affinity_init(struct affinity *a, const struct affinity_config *cfg,
		  unsigned nr_vcpus, unsigned nr_nodes)
{
	if (!nr_vcpus || nr_vcpus > AFFINITY_MAX_VCPUS || !nr_nodes ||
	    nr_nodes > AFFINITY_MAX_NODES || !cfg->window_ns || !cfg->wait_pct ||
	    cfg->wait_pct > 100 || !cfg->gain_pct || cfg->gain_pct > 100 ||
	    cfg->share_pct > 100 || !(cfg->slack_cpus >= 0) ||
	    !(cfg->busy_demand > 0 && cfg->busy_demand <= 1) || !cfg->demand_ns ||
	    !cfg->fresh_pages ||
	    !cfg->memory_ns || cfg->memory_ns > UINT64_MAX >> MAX_RETURNS ||
	    cfg->stay_ns > UINT64_MAX >> MAX_RETURNS ||
	    cfg->home_stay_ns > UINT64_MAX >> MAX_RETURNS)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->nr_vcpus = nr_vcpus;
	a->nr_nodes = nr_nodes;
	for (unsigned i = 0; i < nr_vcpus; i++) {
		a->v[i].where = -1;
		a->v[i].home = -1;
		a->v[i].seen_from = -1;
		a->v[i].seen_useful = -1;
	}
	return 0;
}

static double clamp01(double x)
{
	return !(x > 0) ? 0 : x > 1 ? 1 : x;
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

void affinity_set_home(struct affinity *a, unsigned vcpu, unsigned node)
{
	if (vcpu < a->nr_vcpus && node < a->nr_nodes)
		a->v[vcpu].home = (int)node;
}

void affinity_left(struct affinity *a, unsigned vcpu)
{
	if (vcpu < a->nr_vcpus)
		a->v[vcpu].where = -1;
}

/* First event of the vCPU here (it started here, or moved here): start
 * afresh, and the stay starts now. */
static void settle(struct affinity *a, struct affinity_vcpu *v, unsigned here,
		   uint64_t now_ns)
{
	if (v->where == (int)here)
		return;
	v->pulled = false;
	memset(v->wait, 0, sizeof(v->wait));
	v->total = 0;
	v->home_wait = 0;
	v->fresh = 0;
	v->where = (int)here;
	v->since_ns = v->last_ns = now_ns;
	v->sampled = false;
	v->demand = 0;
	v->case_ns = 0;
}

static void decay_waits(struct affinity *a, struct affinity_vcpu *v, uint64_t now_ns)
{
	double k;

	if (now_ns <= v->last_ns)
		return;
	k = decay((double)(now_ns - v->last_ns) / (double)a->cfg.window_ns);
	for (unsigned n = 0; n < a->nr_nodes; n++)
		v->wait[n] *= k;
	v->total *= k;
	v->home_wait *= k;
	v->fresh *= k;
	v->last_ns = now_ns;
}

/* Decayed ns v waited for node n's pages: those n keeps taking back, and
 * if n is its home, its memory there (the home rule's). */
static double waiting_for(const struct affinity_vcpu *v, unsigned n)
{
	return v->wait[n] + (v->home == (int)n ? v->home_wait : 0);
}

/* The node v waits for most (the lowest number on ties). */
static unsigned most_waited_for(const struct affinity *a, const struct affinity_vcpu *v)
{
	unsigned best = 0;

	for (unsigned n = 1; n < a->nr_nodes; n++)
		if (waiting_for(v, n) > waiting_for(v, best))
			best = n;
	return best;
}

double affinity_waited_for(struct affinity *a, unsigned vcpu, unsigned of, uint64_t now_ns)
{
	struct affinity_vcpu *v;

	if (vcpu >= a->nr_vcpus || of >= a->nr_nodes)
		return 0;
	v = &a->v[vcpu];
	if (!v->pulled)
		return 0;
	decay_waits(a, v, now_ns);
	return clamp01(waiting_for(v, of) / (double)a->cfg.window_ns);
}

/* ---- pools ---------------------------------------------------------------- */

static double pool_load(const struct affinity *a, uint64_t pool)
{
	double load = 0;

	for (unsigned n = 0; n < a->nr_nodes; n++)
		if (a->node[n].known && a->node[n].pool == pool)
			load += a->node[n].load;
	return load;
}

/* Nodes of one host each report the CPUs they may use (all of the host's
 * unless a cpuset or taskset narrows it): the pool has the most any of
 * them reports, not their sum. */
static double pool_cpus(const struct affinity *a, uint64_t pool)
{
	double cpus = 0;

	for (unsigned n = 0; n < a->nr_nodes; n++)
		if (a->node[n].known && a->node[n].pool == pool && a->node[n].cpus > cpus)
			cpus = a->node[n].cpus;
	return cpus;
}

static bool pool_booked(const struct affinity *a, uint64_t pool)
{
	for (unsigned n = 0; n < a->nr_nodes; n++)
		if (a->node[n].known && a->node[n].pool == pool && a->node[n].booked)
			return true;
	return false;
}

/* Until the nodes next say their loads, count the vCPU where it goes, so
 * that the next decision here does not send another into the same room. */
static void account_move(struct affinity *a, unsigned here, unsigned to, double demand)
{
	if (a->node[here].known)
		a->node[here].load = a->node[here].load > demand ?
				     a->node[here].load - demand : 0;
	if (a->node[to].known)
		a->node[to].load += demand;
	a->node[here].booked = a->node[to].booked = true;
}

int affinity_node_load(struct affinity *a, unsigned node, uint64_t pool, double cpus,
		       double load)
{
	if (node >= a->nr_nodes)
		return -EINVAL;
	if (!(cpus > 0) || cpus > AFFINITY_MAX_CPUS || !(load >= 0) ||
	    load > (double)a->nr_vcpus) {
		/* Nothing it said is to be trusted now, the old values neither. */
		a->node[node].known = false;
		a->node[node].fresh = 0;
		return -EINVAL;
	}
	a->node[node] = (struct affinity_node){
		.known = true, .pool = pool, .cpus = cpus, .load = load,
	};
	return 0;
}

/* ---- the page rule ------------------------------------------------------- */

/* The useful CPU time a pool gives its vCPUs: what they want, up to its
 * CPUs (an unknown pool: whatever they want). */
static double useful(double cpus, double load)
{
	return cpus > 0 && load > cpus ? cpus : load;
}

/* What vCPU v is remembered to wait on node to for the pages of the node
 * it is on (what the page or home rule's move carried in, affinity_came), faded
 * by *m (0: nothing remembered). */
static double remembered(const struct affinity *a, const struct affinity_vcpu *v,
			 unsigned to, uint64_t now_ns, double *m)
{
	*m = 0;
	if (v->seen_from != (int)to || now_ns < v->seen_ns)
		return 0;
	*m = decay((double)(now_ns - v->seen_ns) /
		   (double)(a->cfg.memory_ns << v->returns));
	return v->seen_wait * *m;
}

void affinity_came(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   double waited, uint64_t now_ns)
{
	struct affinity_vcpu *v;

	if (vcpu >= a->nr_vcpus || here >= a->nr_nodes || from >= a->nr_nodes ||
	    from == here)
		return;
	v = &a->v[vcpu];
	settle(a, v, here, now_ns);
	/* Pulled back by its pages soon after this node sent it away: a
	 * return. Sent back for CPUs, or long after: none. */
	if (v->pushed_ns)
		v->returns = waited > 0 && now_ns - v->pushed_ns < a->cfg.return_ns ?
			     v->returns + (v->returns < MAX_RETURNS) : 0;
	v->pushed_ns = 0;
	/* Likewise pulled back by its pages soon after this node sent it
	 * home: a return of the home rule's. */
	if (v->home_sent_ns)
		v->home_returns = waited > 0 && now_ns - v->home_sent_ns < a->cfg.return_ns ?
				  v->home_returns + (v->home_returns < MAX_RETURNS) : 0;
	v->home_sent_ns = 0;
	v->seen_from = (int)from;
	v->seen_wait = clamp01(waited);
	v->seen_ns = now_ns;
	/* Only for a vCPU the page or home rule sent (it carries what it
	 * waited; one sent for CPUs carries nothing, and the work before its
	 * move says nothing of pages). Before it counts here: this node's
	 * load is still its own without it, the other's what that node last
	 * said, with it. Measured only where no move is booked in either
	 * pool since. */
	v->seen_useful = -1;
	if (waited > 0 && a->node[here].known && a->node[from].known &&
	    !pool_booked(a, a->node[here].pool) && !pool_booked(a, a->node[from].pool) &&
	    a->node[here].pool != a->node[from].pool) {
		const struct affinity_node *h = &a->node[here], *f = &a->node[from];

		v->seen_useful = useful(pool_cpus(a, h->pool), pool_load(a, h->pool)) +
				 useful(pool_cpus(a, f->pool), pool_load(a, f->pool));
	}
}

/* The CPUs v wants where it is: its demand, or until that is sampled,
 * the share of its time it does not wait for pages. */
static double demand_here(const struct affinity *a, const struct affinity_vcpu *v)
{
	return v->sampled ? v->demand : 1 - clamp01(v->total / (double)a->cfg.window_ns);
}

/* What moving vCPU v from here to node to would gain the VM, in CPUs of
 * useful work (affinity.h, "Weighing"): the useful work of the two pools
 * after the move against before. The vCPU runs as much as it wants here
 * now (its demand: running or runnable, not waiting for pages) and would
 * want d + w_to there; its partners there want w_to more (they no
 * longer wait for the pages it keeps taking: an estimate, each node sees
 * only its own vCPUs' waiting). Less what it is remembered to wait there
 * for this node's pages, if it came from there (the home rule sent it
 * here for its memory), as the CPU rule weighs a push. A pool whose load
 * is not known limits nothing. */
static double page_gain(const struct affinity *a, const struct affinity_vcpu *v,
			unsigned here, unsigned to, uint64_t now_ns)
{
	const struct affinity_node *h = &a->node[here], *t = &a->node[to];
	double m, r = remembered(a, v, to, now_ns, &m);
	double wb = clamp01(waiting_for(v, to) / (double)a->cfg.window_ns);
	double d = demand_here(a, v), d_to = clamp01(d + wb - r);
	double ch = h->known ? pool_cpus(a, h->pool) : 0, lh = h->known ? pool_load(a, h->pool) : d;
	double ct = t->known ? pool_cpus(a, t->pool) : 0, lt = t->known ? pool_load(a, t->pool) : 0;

	/* Nodes of one host share its CPUs: the move costs none, and saves
	 * the waiting (its own and its partners'). */
	if (h->known && t->known && h->pool == t->pool)
		return 2 * (wb - r);
	return useful(ct, lt + wb + d_to) + useful(ch, lh > d + r ? lh - d - r : 0) -
	       useful(ct, lt) - useful(ch, lh);
}

/* The page rule or the home rule moves v from here to node to, for
 * gain, having waited waited ns (decayed) for to's pages: keep why for
 * the log, and book the move. */
static void note_pull(struct affinity *a, struct affinity_vcpu *v, unsigned here,
		      unsigned to, double gain, double waited, bool home)
{
	a->last_gain = gain;
	a->last_wait_to = waited / (double)a->cfg.window_ns;
	a->last_demand = v->sampled ? v->demand : -1;
	a->last_home = home;
	for (unsigned i = 0; i < 2; i++) {
		const struct affinity_node *x = &a->node[i ? to : here];

		a->last_load[i] = x->known ? pool_load(a, x->pool) : -1;
		a->last_cpus[i] = x->known ? pool_cpus(a, x->pool) : -1;
	}
	/* Booked as a whole CPU, so that pulls in one interval cannot
	 * overfill the pool between reports. */
	account_move(a, here, to, 1.0);
	v->pulled = true;
}

/* What sending v home (node to) would gain (affinity.h, "Home"): it
 * waits a share wh of its time here for its home's memory, so there it
 * would want d + wh, less what it is remembered to wait there for this
 * node's pages (w, if the page rule pulled it here from home), which its
 * partners here would wait again too. Not leaning on the work measured
 * before it came: waiting for its own memory is a new phase. */
static double home_gain(const struct affinity *a, const struct affinity_vcpu *v,
			unsigned here, unsigned to, uint64_t now_ns)
{
	const struct affinity_node *h = &a->node[here], *t = &a->node[to];
	double m, w = remembered(a, v, to, now_ns, &m);
	double wh = clamp01(v->home_wait / (double)a->cfg.window_ns);
	double d = v->sampled ? v->demand : 1 - wh;
	double ch = h->known ? pool_cpus(a, h->pool) : 0, lh = h->known ? pool_load(a, h->pool) : d;
	double ct = t->known ? pool_cpus(a, t->pool) : 0, lt = t->known ? pool_load(a, t->pool) : 0;

	/* Waiting more here for its own memory than it waited at home for
	 * this node's pages, it came for a phase that has passed (the threads
	 * computing on their own arrays now): what it carried in weighs
	 * nothing. Seen in the lab (bench/scale's triad): pulled as its
	 * partner first touched its arrays, vcpu 1 computed 28 s on node 0,
	 * waiting 70-80% of its time for its arrays, while the 60% it had
	 * carried in faded. */
	if (m > 0 && wh > v->seen_wait)
		w = 0;
	if (h->known && t->known && h->pool == t->pool)
		return wh - 2 * w;
	return useful(ct, lt + clamp01(d + wh - w)) + useful(ch, lh > d + w ? lh - d - w : 0) -
	       useful(ct, lt) - useful(ch, lh);
}

/* The home rule: v waits for its home's memory at least wait_pct of its
 * time, that is most of its waiting, and going there gains gain_pct. Not while the CPU rule's push from home is
 * remembered: sent away for CPUs, its memory follows it once. */
static int go_home(struct affinity *a, struct affinity_vcpu *v, unsigned here,
		   uint64_t now_ns)
{
	unsigned home = (unsigned)v->home;
	double gain;

	if (v->seen_from == v->home && !(v->seen_wait > 0) && now_ns >= v->seen_ns &&
	    now_ns - v->seen_ns < a->cfg.memory_ns << v->returns)
		return -1;
	/* Tied to home by its memory (as the CPU rule's wait_pct ties a
	 * vCPU to its pages), and most of its waiting: else a move home
	 * would be the CPU rule's (seen in the lab: sent home waiting 2% of
	 * its time, for the room there). */
	if (v->home_wait * 100 < v->total * a->cfg.share_pct ||
	    v->home_wait * 100 < (double)a->cfg.window_ns * a->cfg.wait_pct)
		return -1;
	gain = home_gain(a, v, here, home, now_ns);
	if (gain * 100 < a->cfg.gain_pct)
		return -1;
	note_pull(a, v, here, home, gain, v->home_wait, true);
	v->home_sent_ns = now_ns ? now_ns : 1;
	return v->home;
}

int affinity_fault(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   int page_home, bool fresh, bool repeat, uint64_t wait_ns, uint64_t now_ns)
{
	struct affinity_vcpu *v;
	unsigned best;
	double gain;

	if (vcpu >= a->nr_vcpus || here >= a->nr_nodes || from >= a->nr_nodes ||
	    from == here)
		return -1;
	v = &a->v[vcpu];
	settle(a, v, here, now_ns);
	decay_waits(a, v, now_ns);
	/* A wait that began before the vCPU came here is not this stay's (a
	 * fault left open when it last left, closed by a page that came
	 * without it): counted, it made a vCPU just sent home wait "294%"
	 * of its time for node 0 in the lab, and pulled it straight back. */
	if (wait_ns > now_ns - v->since_ns)
		return -1;
	/* Away from home, a page of its home's range that its home sent is
	 * the home rule's: its memory. Waiting all the same (it ties the
	 * vCPU for the CPU rule). Fresh memory (never written: the guest has
	 * just given it to a thread here) counts after the stay; a page
	 * written before only after home_stay_ns, doubled with each quick
	 * return from home (its working set following it after a pull is
	 * not a reason to go back). */
	if (v->home >= 0 && page_home == v->home && from == (unsigned)v->home) {
		if (now_ns - v->since_ns < (fresh ? a->cfg.stay_ns << v->returns :
						    a->cfg.home_stay_ns << v->home_returns))
			return -1;
		v->home_wait += (double)wait_ns;
		v->total += (double)wait_ns;
		return go_home(a, v, here, now_ns);
	}
	/* The faults of its first stay_ns where it is are its own working
	 * set following it (affinity.h), not sharing: not counted. */
	if (!repeat || now_ns - v->since_ns < a->cfg.stay_ns)
		return -1;
	v->wait[from] += (double)wait_ns;
	v->total += (double)wait_ns;
	best = most_waited_for(a, v);
	/* A steady waiting share f of the time decays to f * window. An idle
	 * vCPU (one that would want less than busy_demand even with its
	 * pages local) waits only on its wake-ups: not worth a move
	 * (affinity.h, "Idle and bursts"). */
	if (best >= here || waiting_for(v, best) * 100 < v->total * a->cfg.share_pct ||
	    demand_here(a, v) + waiting_for(v, best) / (double)a->cfg.window_ns <
	    a->cfg.busy_demand)
		return -1;
	/* Neither while it takes new memory here nor while the vCPUs there
	 * take new memory there (affinity.h, "New memory"). */
	if (v->fresh >= (double)a->cfg.fresh_pages ||
	    a->node[best].fresh >= (double)a->cfg.fresh_pages)
		return -1;
	if ((gain = page_gain(a, v, here, best, now_ns)) * 100 < a->cfg.gain_pct)
		return -1;
	/* The case must hold for sustain_ns, at faults no more than a window
	 * apart: a burst of waiting (a program starting, a thread woken at a
	 * barrier) is not a phase (affinity.h). Not at every fault: with a
	 * window of 100 ms the estimates swing, and a case that dips now and
	 * then is still a phase. */
	if (!v->case_ns || now_ns - v->case_last_ns > a->cfg.window_ns)
		v->case_ns = now_ns ? now_ns : 1;
	v->case_last_ns = now_ns;
	if (now_ns - v->case_ns < a->cfg.sustain_ns)
		return -1;
	v->case_ns = 0;
	note_pull(a, v, here, best, gain, waiting_for(v, best), false);
	return (int)best;
}

/* For the log: the page rule's view of v as of its last fault, side
 * effects none but the decay every call makes. */
int affinity_describe(struct affinity *a, unsigned vcpu, uint64_t now_ns, char *buf,
		      size_t len)
{
	struct affinity_vcpu *v;
	unsigned best;
	double w, gain = 0;

	if (vcpu >= a->nr_vcpus || !len)
		return -EINVAL;
	v = &a->v[vcpu];
	if (v->where < 0)
		return snprintf(buf, len, "not here");
	decay_waits(a, v, now_ns);
	best = most_waited_for(a, v);
	w = waiting_for(v, best) / (double)a->cfg.window_ns;
	if (best != (unsigned)v->where)
		gain = page_gain(a, v, (unsigned)v->where, best, now_ns);
	return snprintf(buf, len, "waits %.2f of its time (%.2f for node %u), wants %.2f%s; "
			"a pull there would gain %.2f; case held %.2f s; new pages here %.0f a "
			"window",
			v->total / (double)a->cfg.window_ns, w, best, demand_here(a, v),
			v->sampled ? "" : " (not sampled)", gain,
			v->case_ns && now_ns >= v->case_ns ? (double)(now_ns - v->case_ns) / 1e9 : 0.0,
			v->fresh);
}

/* ---- the CPU rule -------------------------------------------------------- */

void affinity_fresh(struct affinity *a, unsigned vcpu, unsigned here, uint64_t now_ns)
{
	struct affinity_vcpu *v;

	if (vcpu >= a->nr_vcpus || here >= a->nr_nodes)
		return;
	v = &a->v[vcpu];
	/* Only where the model has it: a vCPU the CPU rule has just sent
	 * away is on its way out, not placing data here. */
	if (v->where != (int)here)
		return;
	decay_waits(a, v, now_ns);
	v->fresh += 1;
}

void affinity_demand(struct affinity *a, unsigned vcpu, unsigned here, double frac,
		     uint64_t now_ns)
{
	struct affinity_vcpu *v;
	double k;

	if (vcpu >= a->nr_vcpus || here >= a->nr_nodes)
		return;
	v = &a->v[vcpu];
	settle(a, v, here, now_ns);
	frac = !(frac >= 0) ? 0 : frac > 1 ? 1 : frac;	/* NaN too */
	if (!v->sampled || now_ns <= v->demand_ns) {
		v->demand = frac;
		v->sampled = true;
	} else {
		k = decay((double)(now_ns - v->demand_ns) / (double)a->cfg.demand_ns);
		v->demand = v->demand * k + frac * (1 - k);
	}
	v->demand_ns = now_ns;
}

void affinity_arrived(struct affinity *a, unsigned vcpu, unsigned here, uint64_t now_ns)
{
	if (vcpu < a->nr_vcpus && here < a->nr_nodes)
		settle(a, &a->v[vcpu], here, now_ns);
}

void affinity_node_fresh(struct affinity *a, unsigned node, double fresh)
{
	if (node < a->nr_nodes)
		a->node[node].fresh = !(fresh >= 0) ? 0 : fresh;
}

double affinity_own_fresh(struct affinity *a, unsigned here, uint64_t now_ns)
{
	double fresh = 0;

	if (here >= a->nr_nodes)
		return 0;
	for (unsigned i = 0; i < a->nr_vcpus; i++)
		if (a->v[i].where == (int)here) {
			decay_waits(a, &a->v[i], now_ns);
			fresh += a->v[i].fresh;
		}
	return fresh;
}

double affinity_own_load(struct affinity *a, unsigned here, uint64_t pool, double cpus)
{
	double load = 0;

	if (here >= a->nr_nodes)
		return 0;
	/* A vCPU whose demand is not known yet counts as a whole CPU. */
	for (unsigned i = 0; i < a->nr_vcpus; i++)
		if (a->v[i].where == (int)here)
			load += a->v[i].sampled ? a->v[i].demand : 1.0;
	a->node[here] = (struct affinity_node){
		.known = cpus > 0, .pool = pool, .cpus = cpus, .load = load,
	};
	return load;
}

/* What sending vCPU v (demand d) from pool h to node to, of pool t, would
 * gain (affinity.h, "One weighing"): with w what it is remembered to wait
 * there (faded by m), it would want d - w there and its partners here w
 * less; with nothing remembered, the CPU share it lacks here. Where the
 * pools' useful work before it came was measured, the estimate after the
 * push leans on that by the same m. */
static double push_gain(const struct affinity *a, const struct affinity_vcpu *v,
			const struct affinity_node *h, const struct affinity_node *t, double d,
			unsigned to, uint64_t now_ns)
{
	double m, w = remembered(a, v, to, now_ns, &m), after;
	double ch = pool_cpus(a, h->pool), lh = pool_load(a, h->pool);
	double ct = pool_cpus(a, t->pool), lt = pool_load(a, t->pool);

	after = useful(ct, lt + clamp01(d - w)) + useful(ch, lh > d + w ? lh - d - w : 0);
	if (m > 0 && v->seen_useful >= 0)
		after = m * v->seen_useful + (1 - m) * after;
	return after - useful(ct, lt) - useful(ch, lh);
}

int affinity_balance(struct affinity *a, unsigned here, uint64_t movable,
		     uint64_t now_ns, unsigned *vcpu)
{
	const struct affinity_node *h;
	struct affinity_vcpu *v;
	double d = 0, room, best_room = -1;
	int pick = -1, to = -1;

	if (here >= a->nr_nodes || !a->node[here].known)
		return -1;
	h = &a->node[here];
	if (pool_load(a, h->pool) <= pool_cpus(a, h->pool) + a->cfg.slack_cpus)
		return -1;
	/* The busiest vCPU here that has stayed its time and is not tied
	 * here by pages (the page rule would not move it either). */
	for (unsigned i = 0; i < a->nr_vcpus && i < 64; i++) {
		v = &a->v[i];
		if (!(movable >> i & 1) || v->where != (int)here || !v->sampled ||
		    now_ns - v->since_ns < a->cfg.stay_ns << v->returns ||
		    v->demand < a->cfg.busy_demand)
			continue;
		decay_waits(a, v, now_ns);
		if (v->total * 100 >= (double)a->cfg.window_ns * a->cfg.wait_pct)
			continue;
		if (pick < 0 || v->demand > d) {
			pick = (int)i;
			d = v->demand;
		}
	}
	if (pick < 0)
		return -1;
	/* The node, of another pool, with the most room left once it has
	 * the vCPU; among nodes of that pool the least loaded; the lowest
	 * number on ties. Not the node it was pulled from while it is
	 * remembered to wait there more than the push would gain. */
	for (unsigned n = 0; n < a->nr_nodes; n++) {
		const struct affinity_node *t = &a->node[n];

		if (n == here || !t->known || t->pool == h->pool)
			continue;
		room = pool_cpus(a, t->pool) - pool_load(a, t->pool) - d;
		if (room < 0 || push_gain(a, &a->v[pick], h, t, d, n, now_ns) * 100 <
				 a->cfg.gain_pct)
			continue;
		if (to < 0 || room > best_room ||
		    (room == best_room && t->load < a->node[to].load)) {
			to = (int)n;
			best_room = room;
		}
	}
	if (to < 0)
		return -1;
	account_move(a, here, (unsigned)to, d);
	a->v[pick].pushed_ns = now_ns ? now_ns : 1;
	*vcpu = (unsigned)pick;
	return to;
}
