/* The message every interrupt becomes once it leaves its source: an ICR
 * write, an IOAPIC redirection, an MSI. Plain data so that it can cross the
 * wire unchanged when its target vCPU runs on another node. */
#ifndef AMALGAM_IRQ_APIC_MSG_H
#define AMALGAM_IRQ_APIC_MSG_H

#include <stdint.h>

enum apic_delivery {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_SIPI = 6,
	APIC_DM_EXTINT = 7,
};

enum apic_shorthand {
	APIC_SH_NONE = 0,
	APIC_SH_SELF = 1,
	APIC_SH_ALL = 2,	/* all including self */
	APIC_SH_OTHERS = 3,	/* all excluding self */
};

struct apic_msg {
	uint32_t dest;		/* APIC id (physical) or logical MDA */
	int32_t source;		/* sending vCPU index; -1 for IOAPIC/MSI */
	uint8_t vector;
	uint8_t delivery;	/* enum apic_delivery */
	uint8_t dest_logical;	/* 0 physical, 1 logical */
	uint8_t shorthand;	/* enum apic_shorthand */
	uint8_t level;		/* 1 assert, 0 de-assert (INIT level de-assert) */
	uint8_t trigger_level;	/* 1 level-triggered, 0 edge */
	uint8_t x2apic;		/* dest is a 32-bit x2APIC destination */
	uint8_t pad;
};

#endif
