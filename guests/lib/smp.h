/* MP table (spec 1.4) and SMP bring-up by INIT/SIPI.
 *
 * CPUs are numbered 0..nr_cpus-1: 0 is the BSP, then the MP table's
 * enabled processors in table order. After smp_init() the APs sit in an
 * idle loop (halted, interrupts on) and run work handed to them with
 * on_cpu(); the work runs in ring 0 with IF=0 and may call run_user(). */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

struct mp_info {
	bool found;		/* floating pointer and config table found */
	bool checksums_ok;	/* both checksums and the signature valid */
	uint32_t fps_addr, table_addr, lapic_addr, ioapic_addr;
	uint8_t spec_rev, ioapic_id;
	unsigned nr_ioapics, nr_cpus_listed;
	/* ISA IRQ -> IOAPIC pin from the interrupt entries; -1 if none. */
	int isa_irq_pin[16];
};

extern struct mp_info mp;
extern unsigned nr_cpus;
extern uint8_t apic_to_cpu[256];

/* Parse the MP table (called by the kit at boot). */
void mp_init(void);

/* Start every AP listed in the MP table; returns how many CPUs are online
 * (nr_cpus on success) after at most timeout_ms. */
unsigned smp_init(unsigned timeout_ms);
unsigned cpus_online(void);

/* Send VEC_WAKE to a CPU (wakes its wait_until() / idle loop). */
void wake_cpu(unsigned cpu);

/* Hand fn(arg) to a CPU (runs inline if it is this CPU). on_cpu waits for
 * completion up to 5 s and returns false on timeout. */
void on_cpu_async(unsigned cpu, work_fn fn, void *arg);
bool on_cpu_wait(unsigned cpu, unsigned timeout_ms);
bool on_cpu(unsigned cpu, work_fn fn, void *arg);

#endif
