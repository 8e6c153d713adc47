/* Routes APIC messages to the lapics they target. Today every lapic is
 * local; the CPU plane will register a forwarder for vCPUs that run on other
 * nodes, and a message for them becomes a network message. */
#ifndef AMALGAM_IRQ_APICBUS_H
#define AMALGAM_IRQ_APICBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "irq/apic_msg.h"

struct lapic;
struct apicbus;

struct apicbus *apicbus_new(unsigned max_vcpus);
void apicbus_free(struct apicbus *bus);
/* Register vCPU index's lapic. */
int apicbus_attach(struct apicbus *bus, unsigned index, struct lapic *l);
/* Deliver to every matching lapic (lowest priority: to one of them),
 * forwarding to other nodes what may target their vCPUs. Any thread.
 * Returns the number of lapics (or forwards) it reached. */
int apicbus_send(struct apicbus *bus, const struct apic_msg *msg);
/* For a message another node forwarded to the vCPUs in mask (those the
 * sender believed to be here): deliver to the matching ones, and send on,
 * as targeted messages, to those of them that have left. */
int apicbus_deliver_mask(struct apicbus *bus, const struct apic_msg *msg, uint64_t mask);

/* The CPU plane. fwd(opaque, msg, target) is called for a message that
 * must leave this node: target is a vCPU index (send it wherever that
 * vCPU runs), or -1 for "every vCPU on other nodes matches it against its
 * lapic"; then it returns the vCPUs it sent it for (bit i: vCPU i), which
 * this node will not deliver to. Any thread; must not block long. */
typedef uint64_t (*apicbus_forward_fn)(void *opaque, const struct apic_msg *msg,
				       int target);
void apicbus_set_forward(struct apicbus *bus, apicbus_forward_fn fn, void *opaque);
/* vCPU index runs on another node (or here again). */
int apicbus_set_remote(struct apicbus *bus, unsigned index, bool remote);
/* vCPU index has APIC id 'apic_id' (x86/topo.h; identity until told), so
 * that a physical destination on another node finds its vCPU. */
int apicbus_set_apic_id(struct apicbus *bus, unsigned index, uint32_t apic_id);
uint64_t apicbus_forwarded(struct apicbus *bus);

#endif
