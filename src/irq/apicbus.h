/* Routes APIC messages to the lapics they target. Today every lapic is
 * local; the CPU plane will register a forwarder for vCPUs that run on other
 * nodes, and a message for them becomes a network message. */
#ifndef AMALGAM_IRQ_APICBUS_H
#define AMALGAM_IRQ_APICBUS_H

#include "irq/apic_msg.h"

struct lapic;
struct apicbus;

struct apicbus *apicbus_new(unsigned max_vcpus);
void apicbus_free(struct apicbus *bus);
/* Register vCPU index's lapic (NULL for a vCPU not on this node). */
int apicbus_attach(struct apicbus *bus, unsigned index, struct lapic *l);
/* Deliver to every matching lapic (lowest priority: to one of them).
 * Any thread. Returns the number of lapics it reached. */
int apicbus_send(struct apicbus *bus, const struct apic_msg *msg);

#endif
