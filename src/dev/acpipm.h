/* ACPI fixed-hardware PM1a register blocks, at ports ACPIPM_BASE to
 * ACPIPM_BASE + 5: the FADT's PM1a_EVT_BLK (PM1_STS at +0, PM1_EN at +2,
 * 16 bits each) and PM1a_CNT_BLK (PM1_CNT at +4, 16 bits). The machine is
 * not hardware-reduced, and the FADT has SMI_CMD = 0, so the guest finds
 * it already in ACPI mode and never hands control to firmware. It is here
 * so that a guest can power off: Linux writes SLP_TYP from the DSDT's \_S5
 * package together with SLP_EN.
 *
 * Guest contract:
 * - PM1_STS (+0): write-1-to-clear. Nothing here sets a status bit: there
 *   are no fixed events (no PM timer, power or sleep button, RTC alarm),
 *   and WAK_STS (bit 15) would only be set on waking from a sleep state,
 *   which this machine never enters. So it reads 0 in practice; clearing
 *   works on whatever is set all the same.
 * - PM1_EN (+2): plain 16-bit storage. What the guest enables is
 *   remembered, but no event ever fires, so the SCI (ACPIPM_SCI_IRQ, the
 *   FADT's SCI_INT) is never raised and the device has no irq line at all.
 * - PM1_CNT (+4): SCI_EN (bit 0) always reads 1: ACPI mode is permanent
 *   since there is no SMI_CMD to leave it through. BM_RLD (bit 1) and
 *   SLP_TYP (bits 12:10) are storage. GBL_RLS (bit 2) and SLP_EN (bit 13)
 *   are write-only and read 0; GBL_RLS has no effect (no firmware holds
 *   the global lock). Other bits read 0.
 * - A write with SLP_EN set and SLP_TYP == ACPIPM_SLP_TYP_S5 calls
 *   cfg.poweroff(). ACPICA rewrites SLP_EN after 10 s if it is still
 *   running, so poweroff() may be called again and must not mind.
 *   SLP_EN with any other SLP_TYP is a sleep state this machine does not
 *   have (the DSDT only declares \_S5): it is counted, warned about once,
 *   and otherwise ignored; the guest keeps running.
 * - Accesses: ACPICA uses 16-bit ones, but 8-, 16- and 32-bit accesses at
 *   any offset are accepted, bytes composed little-endian, each register
 *   seeing only the bytes the access covers (an 8-bit write to +5 sets
 *   SLP_TYP and SLP_EN and leaves bits 7:0 alone). Bytes past the block
 *   (a 32-bit access at +4) read 0xff and are dropped on write, like
 *   unclaimed ports.
 *
 * Locking: one mutex per device. cfg.poweroff() runs with the lock
 * released, on the vCPU thread that asked for it. */
#ifndef AMALGAM_DEV_ACPIPM_H
#define AMALGAM_DEV_ACPIPM_H

#include <stdint.h>

struct iobus;
struct acpipm;

#define ACPIPM_BASE		0x600
#define ACPIPM_NR_PORTS		6
#define ACPIPM_SCI_IRQ		9
/* The value the DSDT's \_S5 package gives for SLP_TYPa. */
#define ACPIPM_SLP_TYP_S5	5

struct acpipm_config {
	void (*poweroff)(void *opaque);	/* may be NULL */
	void *poweroff_opaque;
};

struct acpipm_stats {
	uint64_t poweroffs;
	uint64_t unsupported_sleeps;	/* SLP_EN with SLP_TYP other than S5 */
};

/* NULL with errno set on failure. */
struct acpipm *acpipm_new(const struct acpipm_config *cfg);
void acpipm_free(struct acpipm *pm);
int acpipm_register(struct acpipm *pm, struct iobus *bus);
void acpipm_get_stats(struct acpipm *pm, struct acpipm_stats *out);

#endif
