/* MC146818-style CMOS RTC and its 128 bytes of NVRAM at ports 0x70-0x71.
 *
 * Guest contract:
 * - Port 0x70 (write) selects a register with bits 6:0; bit 7, the PC's NMI
 *   mask, is accepted and ignored. Reading 0x70 gives 0xff (write-only on a
 *   PC). Port 0x71 reads or writes the selected register.
 * - 0x00/02/04 seconds/minutes/hours, 0x06 day of week (Sunday = 1),
 *   0x07/08/09 day/month/year, 0x32 century: the host's UTC clock plus an
 *   offset the guest may set, in BCD or binary (register B DM bit) and
 *   24- or 12-hour form (bit 7 of the hour = PM), formatted at read time.
 * - Setting the time: with B.SET set the clock is frozen and the time
 *   registers are plain storage; clearing SET makes what was written the
 *   current time. A time register written with SET clear takes effect at
 *   once. The day of week written is ignored (derived from the date).
 * - Register A: DV and RS bits are storage; UIP (bit 7) is set in the last
 *   2228 us before each second boundary (244 us of warning plus the
 *   longest update), like the chip: reading UIP clear guarantees the time
 *   registers stay put for at least 244 us. Never set while B.SET is.
 * - Register B: storage; setting SET clears UIE. Register D reads 0x80
 *   (VRT, battery good). Register C reports UF (an update happened since
 *   the last read of C) and PF (a period of A.RS elapsed since then),
 *   and IRQF if either is enabled in B; reading C clears it.
 * - Not emulated: IRQ 8 never fires (no periodic, alarm or update-ended
 *   interrupts), and AF is never set. Alarm registers are storage.
 * - Everything else (0x0e-0x7f) is NVRAM. At creation the memory size
 *   bytes are filled as PC firmware does: 0x15-0x16 base memory in KiB
 *   (640 at most), 0x17-0x18 and 0x30-0x31 KiB above 1 MiB (capped at
 *   65535), 0x34-0x35 64 KiB blocks between 16 MiB and 4 GiB (capped at
 *   65535), 0x5b-0x5d 64 KiB blocks above 4 GiB; and the standard checksum
 *   of 0x10-0x2d is stored big-endian at 0x2e-0x2f.
 *
 * Locking: one mutex per device. */
#ifndef AMALGAM_DEV_RTC_H
#define AMALGAM_DEV_RTC_H

#include <stdint.h>

struct iobus;
struct rtc;

#define RTC_BASE	0x70
#define RTC_NR_PORTS	2
#define RTC_NVRAM_SIZE	128

struct rtc_config {
	uint64_t mem_below_4g;	/* bytes of guest RAM below 4 GiB */
	uint64_t mem_above_4g;	/* bytes of guest RAM from 4 GiB up */
	/* UTC in ns since the epoch; NULL reads CLOCK_REALTIME. Tests (and
	 * a cluster agreeing on one clock) pass their own. */
	int64_t (*clock)(void *opaque);
	void *clock_opaque;
};

/* NULL with errno set on failure. */
struct rtc *rtc_new(const struct rtc_config *cfg);
void rtc_free(struct rtc *r);
int rtc_register(struct rtc *r, struct iobus *bus);

/* Set an NVRAM byte from the VMM (e.g. an equipment or boot byte); keeps
 * the 0x2e-0x2f checksum right. -EINVAL for the clock registers (0x00-0x0d,
 * 0x32) and indices past 0x7f. */
int rtc_nvram_set(struct rtc *r, unsigned index, uint8_t val);

#endif
