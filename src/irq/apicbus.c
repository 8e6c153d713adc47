/* The APIC bus: a table of lapics by vCPU index, and the routing of one
 * message to the lapics it targets.
 *
 * Every node keeps a lapic for every vCPU; remote[i] says vCPU i runs on
 * another node now (it changes when a vCPU moves, under the CPU plane's
 * lock). A message for a remote vCPU goes to the forwarder; so does one
 * that a local lapic refuses because its vCPU has just left (lapic_depart).
 * A remote vCPU's lapic here answers lapic_match with its routing
 * registers as they are where it runs (the CPU plane keeps every node's
 * copy current: lapic_route_set): that is how a node that a broadcast
 * reached because the sender thought the vCPU was here passes it on
 * (apicbus_deliver_mask), and how a lowest-priority message picks exactly
 * one target among vCPUs on any node.
 * The bus takes no lock of its own; lapic_deliver takes the target's. */
#include "irq/apicbus.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "irq/lapic.h"
#include "util/log.h"

struct apicbus {
	unsigned max;
	struct lapic **slot;
	unsigned rr;		/* lowest-priority tie breaker, atomic */
	/* vCPUs that run on other nodes (atomic), and how to reach them. */
	bool *remote;
	uint8_t index_of[256];	/* xAPIC-range APIC id -> vCPU, 0xff none */
	apicbus_forward_fn forward;
	void *fwd_opaque;
	uint64_t forwarded;
};

struct apicbus *apicbus_new(unsigned max_vcpus)
{
	struct apicbus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	bus->slot = calloc(max_vcpus ? max_vcpus : 1, sizeof(*bus->slot));
	bus->remote = calloc(max_vcpus ? max_vcpus : 1, sizeof(*bus->remote));
	if (!bus->slot || !bus->remote) {
		free(bus->slot);
		free(bus->remote);
		free(bus);
		return NULL;
	}
	bus->max = max_vcpus;
	memset(bus->index_of, 0xff, sizeof(bus->index_of));
	for (unsigned i = 0; i < max_vcpus && i < 255; i++)
		bus->index_of[i] = (uint8_t)i;
	return bus;
}

void apicbus_free(struct apicbus *bus)
{
	if (!bus)
		return;
	free(bus->slot);
	free(bus->remote);
	free(bus);
}

void apicbus_set_forward(struct apicbus *bus, apicbus_forward_fn fn, void *opaque)
{
	bus->fwd_opaque = opaque;
	bus->forward = fn;
}

int apicbus_set_apic_id(struct apicbus *bus, unsigned index, uint32_t apic_id)
{
	if (index >= bus->max || index > 254 || apic_id > 254)
		return -EINVAL;
	for (unsigned id = 0; id < 255; id++)
		if (bus->index_of[id] == index)
			bus->index_of[id] = 0xff;
	bus->index_of[apic_id] = (uint8_t)index;
	return 0;
}

int apicbus_set_remote(struct apicbus *bus, unsigned index, bool remote)
{
	if (index >= bus->max)
		return -EINVAL;
	__atomic_store_n(&bus->remote[index], remote, __ATOMIC_SEQ_CST);
	return 0;
}

static bool is_remote(struct apicbus *bus, unsigned i)
{
	return __atomic_load_n(&bus->remote[i], __ATOMIC_SEQ_CST);
}

/* Send to vCPU i wherever it is now. */
static void forward_to(struct apicbus *bus, const struct apic_msg *msg, unsigned i)
{
	__atomic_add_fetch(&bus->forwarded, 1, __ATOMIC_RELAXED);
	bus->forward(bus->fwd_opaque, msg, (int)i);
}

/* Deliver to vCPU i's lapic here, or after it if it has left. */
static void deliver_one(struct apicbus *bus, struct lapic *l, const struct apic_msg *msg,
			unsigned i)
{
	if (!is_remote(bus, i) && lapic_deliver(l, msg))
		return;
	if (bus->forward)
		forward_to(bus, msg, i);
}

uint64_t apicbus_forwarded(struct apicbus *bus)
{
	return __atomic_load_n(&bus->forwarded, __ATOMIC_RELAXED);
}

int apicbus_attach(struct apicbus *bus, unsigned index, struct lapic *l)
{
	if (index >= bus->max)
		return -EINVAL;
	/* The bus position is the vCPU index the lapic signs its IPIs with,
	 * so shorthands stay right whatever its config said. */
	if (l)
		lapic_set_index(l, index);
	__atomic_store_n(&bus->slot[index], l, __ATOMIC_RELEASE);
	return 0;
}

static struct lapic *slot(struct apicbus *bus, unsigned i)
{
	return __atomic_load_n(&bus->slot[i], __ATOMIC_ACQUIRE);
}

/* Lowest priority: one target among those matching, here (remote false)
 * or among the vCPUs on other nodes (remote true, by this node's copies of
 * their routing registers): the lowest arbitration priority, ties broken
 * by a rotating start so that equals share the load. A software-disabled
 * lapic ranks last (0x100). The TPRs of remote vCPUs are not known here
 * (the SDM leaves arbitration among equals to the model): they rank by
 * that alone. (The focus-processor rule is not modelled: modern guests
 * disable it, and Linux uses fixed delivery anyway.) Returns the vCPU, or
 * -1, and its priority in *prio. */
static int find_lowest(struct apicbus *bus, const struct apic_msg *msg, unsigned start,
		       bool remote, unsigned *prio)
{
	unsigned i, p;
	int best = -1;
	struct lapic *l;

	*prio = ~0u;
	for (unsigned k = 0; k < bus->max; k++) {
		i = (start + k) % bus->max;
		l = slot(bus, i);
		if (!l || is_remote(bus, i) != remote || !lapic_match(l, msg, i))
			continue;
		p = lapic_arb_priority(l);
		if (remote && p != 0x100)
			p = 0;
		if (p < *prio) {
			best = (int)i;
			*prio = p;
		}
	}
	return best;
}

static unsigned next_start(struct apicbus *bus)
{
	return bus->max ? __atomic_fetch_add(&bus->rr, 1, __ATOMIC_RELAXED) % bus->max : 0;
}

/* Deliver to the lowest-priority local taker, if any. */
static int send_lowest(struct apicbus *bus, const struct apic_msg *msg)
{
	unsigned prio;
	int i = find_lowest(bus, msg, next_start(bus), false, &prio);

	if (i < 0)
		return 0;
	deliver_one(bus, slot(bus, (unsigned)i), msg, (unsigned)i);
	return 1;
}

/* Lowest priority to "anyone" on a node with a forwarder: one vCPU in
 * all. A local taker is as good as a remote one and needs no message, as
 * long as it is software-enabled or no remote one is; else one remote
 * taker gets one targeted message. Only if no copy here matches at all
 * (a copy not current yet) does the message go to every node, for each to
 * match against its own. Returns the lapics reached, or -1 for that. */
static int send_lowest_any(struct apicbus *bus, const struct apic_msg *msg)
{
	unsigned start = next_start(bus), lp, rp;
	int li = find_lowest(bus, msg, start, false, &lp);
	int ri = find_lowest(bus, msg, start, true, &rp);

	if (li >= 0 && (lp != 0x100 || ri < 0 || rp == 0x100)) {
		deliver_one(bus, slot(bus, (unsigned)li), msg, (unsigned)li);
		return 1;
	}
	if (ri >= 0) {
		forward_to(bus, msg, (unsigned)ri);
		return 1;
	}
	return -1;
}

/* Where the message may land outside this node. Our APIC ids are below
 * 255, so a physical destination names at most one vCPU; everything else
 * (logical, broadcast, shorthands to others) may hit any node, and is
 * matched by each node against its own lapics. */
static int remote_target(struct apicbus *bus, const struct apic_msg *msg, bool *any)
{
	uint32_t bcast = msg->x2apic ? 0xffffffffu : 0xffu;

	*any = false;
	if (msg->shorthand == APIC_SH_SELF)
		return -1;
	if (msg->shorthand == APIC_SH_ALL || msg->shorthand == APIC_SH_OTHERS ||
	    msg->dest_logical || msg->dest == bcast) {
		*any = true;
		return -1;
	}
	if (msg->dest < 255) {
		unsigned i = bus->index_of[msg->dest];

		if (i < bus->max && is_remote(bus, i))
			return (int)i;
	}
	return -1;
}

int apicbus_send(struct apicbus *bus, const struct apic_msg *msg)
{
	uint64_t covered = 0;
	int target;
	bool any;

	if (bus->forward) {
		target = remote_target(bus, msg, &any);
		if (target >= 0) {
			forward_to(bus, msg, (unsigned)target);
			return 1;
		}
		if (any) {
			/* Lowest priority to "anyone": one taker, here or on
			 * another node (one message, not one per node that has
			 * a taker). */
			if (msg->delivery == APIC_DM_LOWEST && !msg->shorthand) {
				int n = send_lowest_any(bus, msg);
				if (n >= 0)
					return n;
			}
			__atomic_add_fetch(&bus->forwarded, 1, __ATOMIC_RELAXED);
			covered = bus->forward(bus->fwd_opaque, msg, -1);
		}
	}
	/* Each vCPU exactly once: what the forwarder sent to other nodes is
	 * not delivered here, whatever moved meanwhile. */
	return apicbus_deliver_mask(bus, msg, ~covered);
}

int apicbus_deliver_mask(struct apicbus *bus, const struct apic_msg *msg, uint64_t mask)
{
	struct lapic *l;
	int n = 0;

	if (msg->delivery == APIC_DM_LOWEST)
		n = send_lowest(bus, msg);
	else
		for (unsigned i = 0; i < bus->max && i < 64; i++) {
			if (!(mask & (1ULL << i)))
				continue;
			l = slot(bus, i);
			if (l && lapic_match(l, msg, i)) {
				deliver_one(bus, l, msg, i);
				n++;
			}
		}
	if (!n)
		pr_debug("apicbus: vector %#x mode %u dest %#x%s reached no lapic",
			 msg->vector, msg->delivery, msg->dest,
			 msg->dest_logical ? " (logical)" : "");
	return n;
}
