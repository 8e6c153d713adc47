/* 8254 programmable interval timer at ports 0x40-0x43, plus the PC's
 * system control port B at 0x61 (which gates and reads back channel 2).
 *
 * Guest contract:
 * - Three channels counting at 1.193182 MHz, computed from a monotonic
 *   clock when read (nothing ticks in the background). Control word: mode
 *   0-5 (6 and 7 alias 2 and 3), LSB / MSB / LSB-then-MSB access, binary
 *   or BCD; counter latch command; read-back command (count and/or status
 *   of any channels). Reads follow the chip: a latched status first, then a
 *   latched count, else the live count, LSB/MSB per the access mode.
 * - Channel 0 drives cfg.irq0 (ISA IRQ 0; its GSI is the caller's choice)
 *   with a pulse at each rising edge of its output: every period in modes
 *   2 and 3, once at terminal count in mode 0, once after the strobe in
 *   mode 4. Periods the host slept through are coalesced into one pulse
 *   and counted. Its gate is tied high, so modes 1 and 5 never start.
 * - Channel 1 counts but drives nothing. Channel 2's gate is port 0x61
 *   bit 0 and its output reads back in bit 5, which is what Linux's TSC
 *   calibration uses (mode 0, polling for the output or the count).
 * - Port 0x61: bits 0-3 read back as written (gate 2, speaker enable,
 *   parity and I/O check enables), bit 4 toggles every 15.085 us (the
 *   refresh clock), bit 5 is channel 2's output, bits 6-7 (NMI sources)
 *   read 0. No speaker.
 * - Simplifications: a count takes effect when written (the chip waits for
 *   the next clock edge, and in modes 2 and 3 for the end of the period);
 *   mode 3 counts read back are approximate for odd counts. Nothing is
 *   programmed at power-on, so there is no IRQ 0 until the guest asks.
 *
 * Time: with cfg.clock NULL the PIT reads CLOCK_MONOTONIC and runs its own
 * timer thread (a timerfd re-armed whenever the guest reprograms channel
 * 0), so the VMM only has to create and register it. With cfg.clock set
 * there is no thread: the caller runs pit_poll() at the deadlines it
 * returns (tests do this with a fake clock).
 *
 * Locking: one mutex per device; irq0.set() is called under it and must
 * not call back into the PIT. */
#ifndef AMALGAM_DEV_PIT_H
#define AMALGAM_DEV_PIT_H

#include <stdint.h>

#include "irq/irqline.h"

struct iobus;
struct pit;

#define PIT_BASE	0x40
#define PIT_NR_PORTS	4
#define PIT_PORT_B	0x61
#define PIT_HZ		1193182
#define PIT_IRQ		0
#define PIT_NO_DEADLINE	INT64_MAX

struct pit_config {
	struct irq_line irq0;	/* set may be NULL */
	int64_t (*clock)(void *opaque);	/* ns; NULL: see above */
	void *clock_opaque;
};

/* Channel 0 in a periodic mode pulses at most once per this (the LAPIC
 * timer's floor); shorter periods are merged and counted as coalesced. */
#define PIT_MIN_PERIOD_NS	100000

struct pit_stats {
	uint64_t irqs;		/* pulses on irq0 */
	uint64_t coalesced;	/* channel 0 periods merged into another */
};

/* NULL with errno set on failure. */
struct pit *pit_new(const struct pit_config *cfg);
void pit_free(struct pit *p);
/* Registers 0x40-0x43 and 0x61. */
int pit_register(struct pit *p, struct iobus *bus);

/* Deliver channel 0's interrupt if one is due, and return the time of the
 * next one on the PIT's clock, or PIT_NO_DEADLINE. */
int64_t pit_poll(struct pit *p);
void pit_get_stats(struct pit *p, struct pit_stats *out);

#endif
