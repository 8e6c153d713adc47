/* The reset control register of QEMU q35's ICH9 chipset, port 0xCF9 (also
 * the PIIX's): a write with RST_CPU (bit 2) set resets the machine, which
 * here calls reset() (the board ends the run with status 0, as for the
 * i8042's reset). SYS_RST (bit 1) and FULL_RST (bit 3) are storage, read
 * back; other bits read 0. The FADT's reset register points here with
 * value 0x0F, as q35's does, so an OS's ACPI reboot lands here. One byte
 * wide; accesses of other widths at 0xCF9 see only their first byte.
 * Locking: a mutex guards the stored bits; reset() runs with it released. */
#ifndef AMALGAM_DEV_RSTCNT_H
#define AMALGAM_DEV_RSTCNT_H

#define RSTCNT_PORT 0xcf9
#define RSTCNT_RESET_VALUE 0x0f	/* what q35's FADT writes */

struct iobus;
struct rstcnt;

struct rstcnt *rstcnt_new(void (*reset)(void *opaque), void *opaque);
int rstcnt_register(struct rstcnt *r, struct iobus *bus);
void rstcnt_free(struct rstcnt *r);

#endif
