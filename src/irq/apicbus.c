/* The APIC bus: a table of lapics by vCPU index, and the routing of one
 * message to the lapics it targets.
 *
 * Concurrency: slots are read with atomic loads and written by
 * apicbus_attach, so a vCPU can be attached or detached (set to NULL when it
 * leaves the node) while others send. The bus does not own the lapics: a
 * lapic must stay alive until every send that may have loaded its pointer
 * has returned; the vCPU layer detaches it and quiesces senders before
 * lapic_free. The bus takes no lock of its own; lapic_deliver takes the
 * target's. */
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
	/* vCPUs that run on other nodes, and how to reach them. */
	bool *remote;
	unsigned nr_remote;
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

int apicbus_set_remote(struct apicbus *bus, unsigned index)
{
	if (index >= bus->max)
		return -EINVAL;
	if (!bus->remote[index])
		bus->nr_remote++;
	bus->remote[index] = true;
	return 0;
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

/* Lowest priority: one target among those matching, the one with the
 * lowest TPR; ties are broken by a rotating start so that equal-priority
 * cpus share the load. (The focus-processor rule is not modelled: modern
 * guests disable it, and Linux uses fixed delivery anyway.) */
static int send_lowest(struct apicbus *bus, const struct apic_msg *msg)
{
	unsigned start, i, k, prio, best_prio = ~0u;
	struct lapic *l, *best = NULL;

	if (!bus->max)
		return 0;
	start = __atomic_fetch_add(&bus->rr, 1, __ATOMIC_RELAXED) % bus->max;
	for (k = 0; k < bus->max; k++) {
		i = (start + k) % bus->max;
		l = slot(bus, i);
		if (!l || !lapic_match(l, msg, i))
			continue;
		prio = lapic_arb_priority(l);
		if (prio < best_prio) {
			best = l;
			best_prio = prio;
		}
	}
	if (!best)
		return 0;
	lapic_deliver(best, msg);
	return 1;
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

		if (i < bus->max && bus->remote[i])
			return (int)i;
	}
	return -1;
}

int apicbus_send(struct apicbus *bus, const struct apic_msg *msg)
{
	int target;
	bool any;

	if (bus->nr_remote && bus->forward) {
		target = remote_target(bus, msg, &any);
		if (target >= 0) {
			__atomic_add_fetch(&bus->forwarded, 1, __ATOMIC_RELAXED);
			bus->forward(bus->fwd_opaque, msg, target);
			return 1;
		}
		if (any) {
			/* Lowest priority to "anyone": a local taker is as good
			 * as a remote one and needs no message. */
			if (msg->delivery == APIC_DM_LOWEST && !msg->shorthand) {
				int n = send_lowest(bus, msg);
				if (n)
					return n;
			}
			__atomic_add_fetch(&bus->forwarded, 1, __ATOMIC_RELAXED);
			bus->forward(bus->fwd_opaque, msg, -1);
		}
	}
	return apicbus_deliver_local(bus, msg);
}

int apicbus_deliver_local(struct apicbus *bus, const struct apic_msg *msg)
{
	struct lapic *l;
	int n = 0;

	if (msg->delivery == APIC_DM_LOWEST)
		n = send_lowest(bus, msg);
	else
		for (unsigned i = 0; i < bus->max; i++) {
			l = slot(bus, i);
			if (l && lapic_match(l, msg, i)) {
				lapic_deliver(l, msg);
				n++;
			}
		}
	if (!n)
		pr_debug("apicbus: vector %#x mode %u dest %#x%s reached no lapic",
			 msg->vector, msg->delivery, msg->dest,
			 msg->dest_logical ? " (logical)" : "");
	return n;
}
