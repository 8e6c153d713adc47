/* Page or vCPU? The cost model that decides when a vCPU should move to
 * the node that keeps taking its pages away (DESIGN.md, "CPU plane").
 *
 * A remote fault costs a round trip, and a page that two nodes keep
 * writing costs one at every turn, for as long as they share it. Moving
 * the vCPU costs one transfer of its state (a few KB, a round trip) and
 * then a round trip for each page of its own that it left behind, once.
 * So a vCPU moves when its faults show sharing rather than a passing move
 * of data, and cost it much of its time:
 *  - only repeat faults count (for this page rule; the home rule, below,
 *    counts first fetches of the vCPU's home memory): pages this node has
 *    fetched several times
 *    (memplane.h, MEMPLANE_REPEAT). A page fetched once, or read and then
 *    written, is a move of data that moving the vCPU would not save;
 *  - what counts is the time the vCPU spent waiting for them, decayed with
 *    time constant window_ns: the share of its recent time lost to pages
 *    that go back and forth. Counting time rather than faults makes the
 *    rule the same on a fast network and a slow one (the lab's remote
 *    fault is near a millisecond, real hardware's tens of microseconds);
 *  - that time is weighed against the CPU time the move costs (below,
 *    "Weighing"): the vCPU moves only if the two pools do gain_pct
 *    hundredths of a CPU more useful work with it moved;
 *  - one node must account for most of that time (share_pct), or moving
 *    there would only trade one remote partner for another;
 *  - a vCPU moves only to a lower-numbered node (the home rule, below,
 *    sends it back to its own). Each node decides for
 *    its own vCPUs, so two vCPUs on two nodes writing the same pages would
 *    otherwise both decide to move, trade places, and do it again; going
 *    down only, moves end (node 0, where the BSP and the devices are, is
 *    where shared kernel data tends to gather anyway);
 *  - after a move the vCPU stays at least stay_ns before the next one,
 *    and the faults of that time do not count at all: they are its own
 *    working set (its stacks, its per-CPU data, the data of its thread)
 *    following it, and after a few moves every such page has been fetched
 *    several times and looks shared. Seen in the lab (bench/scale, EP):
 *    a vCPU sent to a host with a spare CPU took the burst of faults on
 *    the pages it had used on the other for sharing, went back, and was
 *    sent again, for the whole run.
 *
 * Pages are half the cost; CPUs are the other. Gathering every vCPU on the
 * node that holds the shared data is right while they mostly wait for it
 * (a boot), and wrong once they mostly compute: then they queue for that
 * host's CPUs while the others' stand idle, and the VM gets one server's
 * cores instead of the sum. So every node says, ten times a second, what
 * its vCPUs want and what it has (NET_CPU_LOAD):
 *  - a vCPU's demand is the share of the time its thread was running or
 *    waiting to run (not halted, not blocked on a page or a device): the
 *    CPUs it would use if it had them. A node's load is the sum over the
 *    vCPUs running there;
 *  - nodes on one host share its CPUs: they form one pool (same boot id),
 *    and moving between them gains nothing. A node given its CPUs
 *    explicitly (--node-cpus) is a pool of its own;
 *  - a pool whose load exceeds its CPUs by more than half a CPU sends its
 *    busiest movable vCPU that is not tied to shared pages to the pool
 *    with the most room, if the vCPU fits there within its CPUs (no
 *    slack); one move per node per decision, and then the usual stay;
 *  - a vCPU sent somewhere counts there (in the sender's view) until that
 *    node next reports; that node counts a vCPU that has just come as a
 *    whole CPU until its demand is sampled;
 *  - the page rule weighs a vCPU it would pull by what it would want with
 *    its pages local, not by what it wants where it is (a vCPU starved by
 *    remote pages looks idle): its demand plus the time it waits for that
 *    node's pages, not a whole CPU (a vCPU halted in an idle guest, or
 *    fetching its own data back once, waits for nothing a move would
 *    save; seen in the lab, bench/scale's triad: counted as wanting a
 *    whole CPU there while waiting 2% of its time, vcpu 1 was pulled away
 *    from its 48 MiB of arrays, and the kernel took 52 s instead of 2),
 *    and books it as a whole CPU there until
 *    that node reports (seen in the lab: vCPUs sent away for CPUs came
 *    straight back for their pages, every few hundred ms, while they were
 *    counted by what they wanted);
 *  - loads are measured and move, so a vCPU can still go back and forth;
 *    each time its pages pull it back within return_ns (30 s) of being
 *    sent, the stay it needs before the CPU rule sends it again doubles,
 *    up to 8 times (1.6 s); sent back for CPUs, it has not returned.
 *    Within 30 s, not 2: in the lab a vCPU sent away from a job that
 *    shares pages came back 4 to 25 s later (bench/scale's stencil, 13
 *    round trips in 100 s, each counted as a first). Not more: a job's
 *    phases change (a boot that shares everything,
 *    then a computation that shares nothing), and the CPU rule learns
 *    that a vCPU may leave now only by sending it. Seen in the lab
 *    (bench/scale): pulled back four times during the boot, a vCPU with
 *    a 64-fold stay (12.8 s) sat out a whole 12 s computation on a
 *    shared CPU while the other host's stood idle.
 * Home. The guest was told which NUMA node each vCPU sits in (its home:
 * where it was placed), so it gives the vCPU's threads memory from that
 * node's range. A vCPU the page rule pulled elsewhere (guest kernel
 * pages, while idle) then takes the next job's new memory from there,
 * page by page, and once the CPU rule sends it home the pages follow it
 * one fault at a time. Seen in the lab (bench/scale's triad): vcpu 1,
 * pulled to node 0 between two programs, first touched its 48 MiB of
 * arrays there, then computed on node 1 while 12,000 pages followed it:
 * 17 to 40 s instead of one. The page rule cannot send it back: it counts
 * only pages fetched again and again, and moves vCPUs to lower-numbered
 * nodes only. So a vCPU away from home counts apart its waiting for pages
 * of its home's range that its home sends (home_wait, also in its total
 * waiting), first fetches too, and goes home when that ties it (wait_pct,
 * as for the CPU rule: else a move for the room at home would be the CPU
 * rule's), is most of its waiting (share_pct), and the move gains
 * gain_pct, weighed as the page
 * rule weighs a pull (it would want d + wh at home), less what it is
 * remembered to wait at home for the pages of the node it is on (a
 * pull's carry, faded as for the CPU rule), which its partners here would
 * wait again. Not leaning on the work measured before the pull: new
 * memory is a new phase. And once it waits a larger share of its time
 * for its memory than it carried in (seen_wait, while remembered), what
 * it carried weighs nothing: the phase it came for has passed (seen in
 * the lab: the triad computed 28 s on node 0 while 60% carried in
 * faded). The risk: a working set that follows it for longer than
 * home_stay_ns, at a larger share than it carried, sends it home early;
 * the doubling of home_stay_ns on quick returns bounds that.
 * Which pages count when. Fresh memory (pages nobody had ever written,
 * which the home grants as zeros: the guest has just taken them for a
 * thread here) counts after the vCPU's stay. A page written before may
 * be its working set following it after a pull, once, and counts only
 * after home_stay_ns (1 s) where it is; counted at once, such pages sent
 * a vCPU of a job that shares pages every step (a stencil) home, where
 * the page rule pulled it back, every few seconds (a helper's simulation:
 * 115 moves in 120 s). Fresh memory alone is not enough: Linux hands out
 * the pages freed last first (the initramfs's, the previous program's),
 * and in the lab the triad's arrays were not fresh. Each time the page
 * rule pulls the vCPU back within return_ns of the home rule sending it
 * home, home_stay_ns doubles (up to 8 times), so a working set that
 * takes longer to follow than the stay costs a few round trips, not a
 * cycle. The page rule in turn weighs a pull away from home against the
 * memory the vCPU is remembered to wait for there, as the CPU rule
 * weighs a push. (Pages of its home's range that it took elsewhere on a
 * visit go home with it: the node it leaves gives them back in bulk,
 * memplane_give_back.) And a vCPU the CPU rule sent away from home is not sent
 * home for its memory while that push is remembered (the CPU rule's
 * memory_ns): it would only undo the push.
 * A fault's wait that began before the vCPU came where it is (a fault
 * left open when it last left, closed later by a page that came without
 * it, given back) is not counted at all: in the lab one made a vCPU just
 * sent home "wait 294%" of its time and pulled it straight back.
 * A node that has not said its load yet is not a destination for the CPU
 * rule and no limit to the page rule (as before load was known).
 *
 * One weighing for both rules. A vCPU the page rule pulled in carries
 * what it waited for this node's pages where it was (in its move,
 * affinity_came). Where it runs now it waits for nothing (it came for
 * that), so by its waiting here alone it is not tied, and the CPU rule
 * would send it straight back, to wait again, and the page rule would
 * pull it in again. Seen in the lab (bench/scale, EP): vcpu 1 pushed
 * to a host with a free CPU waited there 70% of its time for the guest
 * kernel's pages, was pulled back, pushed again: eighteen round trips in
 * seventeen seconds. So the CPU rule weighs a push like the page rule
 * weighs a pull, with the remembered share w as the vCPU's waiting there
 * and as its partners' here (the same estimate as the page rule's): it
 * would want d - w there, they w less here, and the gain is the pools'
 * useful work after against before. And the pools' useful work before
 * the pull was measured, not estimated: their loads as last reported when
 * it came. So the push is weighed against that, while it is remembered:
 * a vCPU that waited little itself but held its partner up (a barrier
 * every sweep: both pools together did half a CPU of work apart, a whole
 * one on one CPU) is not sent back on the strength of its own small
 * waiting. Seen in the lab (bench/scale's stencil): pulled in waiting a
 * fifth to a quarter of its time, vcpu 1 was pushed again 3 to 6 s later,
 * eight times in 35 s, each push costing its half of the array twice.
 * The memory fades with time constant
 * memory_ns: a job's phases change, and a push is the only way to learn
 * that a vCPU may leave now; one pulled back refreshes it, and each quick
 * return doubles the time constant, like the stay, up to 8 times (40 s).
 * Seen in the lab with 5 s alone: a probe every eight seconds or so,
 * eleven round trips in the four minutes of bench/scale's three kernels,
 * each pulled back for the same 60-70% waiting.
 *
 * Weighing (the page rule). The question is how much useful work the two
 * pools do with the vCPU here and with it on node b. A pool does what
 * its vCPUs want (their demand: running or runnable, never waiting for a
 * page), up to its CPUs. The vCPU spends a share w of its time waiting
 * for remote pages, w_b of it for b's: here it wants its demand d, on b
 * it would want d + w_b (b's pages local). Its partners on b wait
 * about w_b for the pages it keeps taking (a written page crosses each
 * way, a read one costs the writer an upgrade; an estimate, as each node
 * sees only its own vCPUs' waiting), so they would want w_b more. The
 * gain is min(C_b, L_b + w_b + d + w_b) + min(C_h, L_h - d), minus
 * min(C_b, L_b) + min(C_h, L_h) (C CPUs, L load, h here); between nodes of
 * one host it is 2 w_b (no CPUs change hands). The vCPU moves when the
 * gain is at least gain_pct hundredths of a CPU. Why 40: with CPUs to
 * spare on both sides the gain is 2 w_b, and a fifth of the time waiting
 * on one node is what moved a vCPU before CPUs were weighed (a move costs
 * a transfer of its state and, once, the pages of its own it leaves
 * behind; demands sampled every 100 ms swing by a fifth either way on a
 * busy host, below, so smaller gains are noise). What it decides: a vCPU
 * of a computing job sharing only the guest kernel's pages, on a host
 * whose CPU it has to itself, stays there even waiting for half its time
 * (joining a busy vCPU on a one-CPU host would do less work in all: 1.0
 * CPU against 0.5 + 0.5 waiting and computing); a vCPU that waits most of
 * its time moves into a pool with room for it; into a full pool nothing
 * moves, it would only take CPU time from others. The CPU rule sends away
 * only vCPUs not tied by pages (waiting less than wait_pct) from a pool
 * that is short of CPUs, to one with room for the vCPU's whole demand,
 * which is a gain of the CPU share it lacked and no loss to anyone.
 * What the weighing cannot see. It counts CPUs of useful work, and that
 * undercounts a pair that shares pages every step: apart, each runs a
 * good part of its time in the guest kernel's wake-ups and on locks its
 * partner holds while it waits for a page, and that counts as running.
 * Seen in the lab (bench/scale's stencil, two hosts of one CPU): apart
 * the pools did 0.65 of a CPU of "useful" work and took 80-90 s; together
 * they did one CPU's and took 7-8 s, so the pull "gains" 0.35, under 0.4.
 * Tried and left out: counting a move into a pool with room for what the
 * vCPU runs now as gaining all the waiting it saves (2 w_b). It kept the
 * stencil together (x0.40 against x0.08), but it also pulled vcpu 1 as
 * the triad's threads first touched their arrays (the guest's page-fault
 * path shares the process's locks and counters), and the home rule sent
 * it back, again and again: the triad went from x0.7-0.9 to x0.18-0.41.
 * Telling those two apart needs a measure of progress, not of CPU time.
 * Also tried and left out: pulls "on trial" for estimated gains of 0.2 to
 * 0.4, judged by the pools' work measured before and after (8 lab runs:
 * the stencil together in 6, x0.41-0.67; the triad's vcpu 1 pulled from
 * its arrays in 6, x0.03-0.30).
 * New memory. No pull of a vCPU taking new memory
 * where it is (fresh_pages pages of its node's range that nobody had
 * written, in a window): its program is placing its data there, and a
 * pull would leave it behind. Nor into a node whose vCPUs take that much
 * new memory there (each node says it with its load, NET_CPU_LOAD): that
 * pool's low load is their first touch, not room, and a partner waiting
 * for them meanwhile (at a barrier, while the other threads first touch
 * their arrays) is not sharing pages with them. Seen in the lab
 * (bench/scale's triad, 2 x 48 MiB of arrays first touched by two
 * threads, seconds in the lab): vcpu 1, done first, waited at the barrier
 * 60-70% of its time for node 0's pages, was pulled there, and computed
 * on node 0 while its arrays stayed on node 1 until the home rule sent
 * it back (3.3 to 5.4 s instead of 1.0-1.4). A boot takes new memory
 * everywhere, so its vCPUs gather only once that slows. The limit: only
 * pages nobody ever wrote count, and Linux hands out the pages freed last
 * first (below, "Which pages count when"): a first touch on recycled
 * memory goes unseen.
 * Idle and bursts. A vCPU that would want less than busy_demand even
 * with its pages local is idle: its waiting delays only its wake-ups, and
 * a pull moves it away from where its next program will take its
 * memory. And the page rule's case (share, gain) must hold for
 * sustain_ns (500 ms), at faults no more than a window apart: a
 * burst (a thread woken at a barrier, a program starting, reading the
 * kernel pages the other node just wrote) is not a phase. Seen in the
 * lab (bench/scale's triad): pulled by such a burst just as the timed
 * part began, vcpu 1 computed on node 0 while its arrays were on node 1
 * until the home rule sent it back 4.6 s later (x0.2).
 * Pure: the caller supplies the time and serializes the calls. */
#ifndef AMALGAM_CPU_AFFINITY_H
#define AMALGAM_CPU_AFFINITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AFFINITY_MAX_VCPUS 64
#define AFFINITY_MAX_NODES 64
#define AFFINITY_MAX_CPUS 4096	/* more than any node may say it has */

struct affinity_config {
	uint64_t window_ns;
	unsigned wait_pct;	/* waiting share that ties a vCPU (CPU rule) */
	unsigned gain_pct;	/* least gain of a page move, CPUs / 100 */
	unsigned share_pct;	/* that node's share of all such waiting */
	uint64_t stay_ns;
	double slack_cpus;	/* load above a pool's CPUs tolerated */
	double busy_demand;	/* a vCPU worth moving for CPUs wants this much */
	uint64_t demand_ns;	/* time constant of a vCPU's demand */
	uint64_t return_ns;	/* back this soon after a push: a return */
	uint64_t memory_ns;	/* time constant of what a vCPU carried in */
	uint64_t home_stay_ns;	/* away, before its home's used pages count */
	uint64_t sustain_ns;	/* a pull's case holds this long first */
	unsigned fresh_pages;	/* new pages a window that rule a pull out */
};

/* The defaults: a vCPU whose move gains 0.4 of a CPU, that spent
 * three quarters of its waiting on the node it would move to and has been
 * where it is for 200 ms; a fifth of the time waiting ties a vCPU to its
 * pages for the CPU rule. For CPUs: half a CPU of slack,
 * only vCPUs that want half a CPU or more move, and demand is smoothed over
 * 300 ms (the scheduler counts a wait only once it ends, so 100 ms samples
 * of a busy thread on a busy host swing by a fifth either way). */
extern const struct affinity_config affinity_defaults;

struct affinity_vcpu {
	double wait[AFFINITY_MAX_NODES];	/* decayed ns waited, by node */
	double total;
	uint64_t last_ns;	/* of the last decay */
	uint64_t since_ns;	/* when it started running where it is */
	int where;		/* node it ran on at its last event, -1 */
	int home;		/* its NUMA node's (affinity_set_home), -1 */
	double home_wait;	/* decayed ns waited for home's memory, away */
	bool sampled;		/* demand known since it came */
	double demand;		/* CPUs it wants, smoothed over demand_ns */
	uint64_t demand_ns;	/* of the last sample */
	uint64_t pushed_ns;	/* when the CPU rule last sent it away, 0 */
	uint64_t home_sent_ns;	/* when the home rule last sent it home, 0 */
	unsigned home_returns;	/* times in a row pulled back soon after */
	unsigned returns;	/* times in a row it came back soon after */
	bool pulled;		/* the page or home rule sent it (it carries its waiting) */
	uint64_t case_ns;	/* since when the page rule's case holds, 0 */
	uint64_t case_last_ns;	/* when it last held */
	double fresh;		/* new pages it took here, decayed like wait */
	/* What it carried in (affinity_came): the share of its time it
	 * waited on node seen_from for the pages of the node it came to. */
	int seen_from;		/* -1: nothing */
	double seen_wait;
	/* The useful work the two pools did before it came, measured (their
	 * loads as last reported, up to their CPUs); -1: not known. */
	double seen_useful;
	uint64_t seen_ns;
};

/* What a node last said of itself (its own entry: what it computed). */
struct affinity_node {
	bool known;
	uint64_t pool;		/* nodes of one pool share their CPUs */
	double cpus;		/* the pool's CPUs, as this node sees them */
	double load;		/* CPUs its vCPUs want */
	bool booked;		/* load includes a move not reported yet */
	double fresh;		/* new pages its vCPUs took a window */
};

struct affinity {
	struct affinity_config cfg;
	/* Why the page or home rule last moved a vCPU, for the log: its waiting
	 * share on the node it went to, the gain it weighed, and what that
	 * was weighed on (the two pools' loads and CPUs before the move, the
	 * vCPU's demand where it was, -1 where unknown). */
	double last_wait_to, last_gain;
	bool last_home;		/* it was the home rule */
	double last_load[2], last_cpus[2], last_demand;	/* [0] here, [1] there */
	unsigned nr_vcpus, nr_nodes;
	struct affinity_vcpu v[AFFINITY_MAX_VCPUS];
	struct affinity_node node[AFFINITY_MAX_NODES];
};

/* -EINVAL for counts out of range or a config that cannot work. */
int affinity_init(struct affinity *a, const struct affinity_config *cfg,
		  unsigned nr_vcpus, unsigned nr_nodes);
/* vCPU vcpu's home is node: the guest was told it sits in that node's
 * NUMA node, so it takes its memory from node's range (the home rule). */
void affinity_set_home(struct affinity *a, unsigned vcpu, unsigned node);
/* vCPU vcpu, running on node here, had a remote fault resolved by node
 * from at now_ns after waiting wait_ns, on a page of node page_home's
 * range (-1: none); fresh: nobody had written it before (memory the guest
 * has just taken); repeat as memplane.h says. Returns the node to move
 * the vCPU to, or -1 to leave it. */
int affinity_fault(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   int page_home, bool fresh, bool repeat, uint64_t wait_ns, uint64_t now_ns);
/* The vCPU is leaving: if it ever comes back, it starts afresh. */
void affinity_left(struct affinity *a, unsigned vcpu);
/* What vCPU vcpu carries when it moves to node 'of': the share (0..1) of
 * its recent time it waited for that node's pages (and, for its home,
 * for its memory there) if the page or home rule sent it there, else 0. */
double affinity_waited_for(struct affinity *a, unsigned vcpu, unsigned of, uint64_t now_ns);
/* vCPU vcpu came to node here from node from, where it waited a share
 * 'waited' (0..1, as its move said) of its time for here's pages: above
 * 0 only for a vCPU the page or home rule sent. */
void affinity_came(struct affinity *a, unsigned vcpu, unsigned here, unsigned from,
		   double waited, uint64_t now_ns);

/* The page rule's view of vCPU vcpu (its waiting, its demand, what a
 * pull would gain, how long its case has held), one line for a log;
 * snprintf's return, -EINVAL for no such vCPU. */
int affinity_describe(struct affinity *a, unsigned vcpu, uint64_t now_ns, char *buf,
		      size_t len);
/* What node said of itself; -EINVAL for values no node can have (cpus
 * from above 0 to AFFINITY_MAX_CPUS, load at most one CPU per vCPU), and
 * the node is unknown again. */
int affinity_node_load(struct affinity *a, unsigned node, uint64_t pool,
		       double cpus, double load);
/* vCPU vcpu, running on node here, took a page of here's range nobody
 * had written before (the guest gave its thread new memory here). */
void affinity_fresh(struct affinity *a, unsigned vcpu, unsigned here, uint64_t now_ns);
/* vCPU vcpu, running on node here, wanted frac (0..1) of a CPU over the
 * sample that ends at now_ns. */
void affinity_demand(struct affinity *a, unsigned vcpu, unsigned here, double frac,
		     uint64_t now_ns);
/* vCPU vcpu runs on node here, its demand not sampled yet (it has just
 * come): it counts as a whole CPU until it is. */
void affinity_arrived(struct affinity *a, unsigned vcpu, unsigned here, uint64_t now_ns);
/* What node said its vCPUs took of new memory there, pages a window
 * (affinity.h, "New memory"); kept until it next says. */
void affinity_node_fresh(struct affinity *a, unsigned node, double fresh);
/* The new pages the vCPUs on node here took a window (decayed to now):
 * to publish with its load. */
double affinity_own_fresh(struct affinity *a, unsigned here, uint64_t now_ns);
/* The sum of the demands of the vCPUs on node here (a whole CPU for each
 * not sampled yet): its load to publish (it is also recorded as node
 * here's, with pool and cpus). */
double affinity_own_load(struct affinity *a, unsigned here, uint64_t pool, double cpus);
/* The CPU rule for node here, whose movable vCPUs are the bits of
 * movable: the node to move *vcpu to, or -1. */
int affinity_balance(struct affinity *a, unsigned here, uint64_t movable,
		     uint64_t now_ns, unsigned *vcpu);

#endif
