/* Seeds for the fuzz targets whose input is not a frame: fuzz_dev (access
 * records, see fuzz_dev.c), fuzz_vcpustate (see fuzz_vcpustate.c) and
 * fuzz_dsm (schedules, see fuzz_dsm.c).
 * Each seed is what a guest or a peer does normally, for the fuzzer to
 * mutate: a UART, RTC, PIT, PIC, IOAPIC and lapic programmed as Linux
 * does, virtio-blk, -rng and -console found on the PCI bus and given a
 * request, and one blob of each shape. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_seeds.h"

#define REC 12
#define MAX_RECS 128

static uint8_t buf[MAX_RECS * REC];
static size_t len;

int seed_write(const char *dir, const char *name, const void *data, size_t size)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* The records gathered so far as one seed. */
static int flush(const char *dir, const char *name)
{
	size_t n = len;

	len = 0;
	return seed_write(dir, name, buf, n);
}

/* One access: window index as in fuzz_dev.c's table, width 1/2/4/8. */
static void acc(unsigned target, int write, unsigned width, uint16_t off, uint64_t val)
{
	uint8_t *r = buf + len;
	unsigned w = width == 8 ? 3 : width == 4 ? 2 : width == 2 ? 1 : 0;

	if (len + REC > sizeof(buf))
		return;
	r[0] = (uint8_t)((target & 15) | (target & 16) << 3 | (write ? 0x10 : 0) | w << 5);
	memcpy(r + 1, &off, 2);
	r[3] = 0;
	memcpy(r + 4, &val, 8);
	len += REC;
}

/* Time passes (ns), interrupts are taken. */
static void tick(uint64_t ns)
{
	uint8_t *r = buf + len;

	if (len + REC > sizeof(buf))
		return;
	memset(r, 0, REC);
	r[0] = 15;
	r[1] = 1;
	memcpy(r + 3, &ns, 8);
	len += REC;
}

enum { UART, RTC, KBD, PIT, PORTB, PM, RST, FWCFG, DBG, TEST, PIC1, PIC2, ELCR, IOAPIC, LAPIC,
       TICK, CF8, ECAM12, ECAM3, BAR12, BAR3, RAM };

/* A ring's pieces in the fuzzer's guest RAM. */
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x4000

/* Descriptor i: addr, len, flags (1 next, 2 device writes), next. */
static void desc(unsigned i, uint64_t addr, uint32_t dlen, uint16_t flags, uint16_t next)
{
	acc(RAM, 1, 8, (uint16_t)(DESC + 16 * i), addr);
	acc(RAM, 1, 8, (uint16_t)(DESC + 16 * i + 8),
	    dlen | (uint64_t)flags << 32 | (uint64_t)next << 48);
}

/* PCI function 'slot' (1 disk, 2 rng, 3 console) set up as Linux's
 * virtio-pci does: BAR 0 programmed through ECAM (the disk's through 0xCF8
 * and 0xCFC), memory decoding, bus mastering and MSI-X on, the driver's
 * status steps, VERSION_1, queue q of 8 entries on MSI-X vector 0 with its
 * rings in RAM, DRIVER_OK; then the chain at descriptor 0 (already in
 * RAM) made available and the queue notified. */
static void virtio_up(unsigned slot, unsigned q)
{
	unsigned ecam = slot == 3 ? ECAM3 : ECAM12, bar = slot == 3 ? BAR3 : BAR12;
	uint16_t cfg = slot == 2 ? 1 << 15 : 0;	/* in its ECAM window */
	uint16_t at = slot == 2 ? 0x8000 : 0;	/* in its BAR window */
	uint32_t base = 0xc0000000u + (slot - 1) * 0x8000u;

	if (slot == 1) {
		acc(CF8, 1, 4, 0, 0x80000000u | slot << 11 | 0x10);
		acc(CF8, 1, 4, 4, 0xffffffffu);
		acc(CF8, 0, 4, 4, 0);	/* the BAR's size */
		acc(CF8, 1, 4, 4, base);
		acc(CF8, 1, 4, 0, 0x80000000u | slot << 11);
		acc(CF8, 0, 4, 4, 0);	/* vendor and device */
	} else {
		acc(ecam, 0, 4, cfg, 0);
		acc(ecam, 1, 4, cfg + 0x10, base);
	}
	acc(ecam, 0, 1, cfg + 0x34, 0);		/* the capability list */
	acc(ecam, 1, 2, cfg + 0x04, 0x6);	/* memory, master */
	acc(ecam, 1, 2, cfg + 0x86, 0x8000);	/* MSI-X on (cap at 0x84) */
	acc(bar, 1, 8, at + 0x4000, 0xfee00000u);	/* vector 0 to lapic 0 */
	acc(bar, 1, 4, at + 0x4008, 0x41);
	acc(bar, 1, 4, at + 0x400c, 0);
	acc(bar, 1, 1, at + 0x14, 0);		/* reset */
	acc(bar, 1, 1, at + 0x14, 1);
	acc(bar, 1, 1, at + 0x14, 3);
	acc(bar, 1, 4, at + 0x00, 1);
	acc(bar, 0, 4, at + 0x04, 0);		/* device features 32-63 */
	acc(bar, 1, 4, at + 0x08, 1);
	acc(bar, 1, 4, at + 0x0c, 1);		/* VERSION_1 */
	acc(bar, 1, 1, at + 0x14, 0xb);
	acc(bar, 0, 1, at + 0x14, 0);
	acc(bar, 1, 2, at + 0x10, 0);		/* config changes: vector 0 */
	acc(bar, 1, 2, at + 0x16, (uint16_t)q);
	acc(bar, 1, 2, at + 0x18, 8);
	acc(bar, 1, 2, at + 0x1a, 0);
	acc(bar, 1, 8, at + 0x20, DESC);
	acc(bar, 1, 8, at + 0x28, AVAIL);
	acc(bar, 1, 8, at + 0x30, USED);
	acc(bar, 1, 2, at + 0x1c, 1);
	acc(bar, 1, 1, at + 0x14, 0xf);		/* DRIVER_OK */
	acc(RAM, 1, 4, AVAIL, 1u << 16);	/* flags 0, idx 1 */
	acc(RAM, 1, 2, AVAIL + 4, 0);		/* ring[0]: descriptor 0 */
	acc(bar, 1, 2, at + 0x3000 + 4 * q, (uint16_t)q);
	tick(1000000);
	acc(RAM, 0, 4, USED, 0);
	acc(bar, 0, 1, at + 0x1000, 0);		/* ISR */
	acc(bar, 0, 4, at + 0x2000, 0);		/* device configuration */
	acc(LAPIC, 1, 4, 0xf0, 0x1ff);
	tick(1000);
}

static int dev_seeds(const char *dir)
{
	int err = 0;

	/* 8250: divisor, 8N1, FIFO, interrupts on, a byte out, status. */
	acc(UART, 1, 1, 3, 0x80); acc(UART, 1, 1, 0, 1); acc(UART, 1, 1, 1, 0);
	acc(UART, 1, 1, 3, 0x03); acc(UART, 1, 1, 2, 0xc7); acc(UART, 1, 1, 4, 0x0b);
	acc(UART, 1, 1, 1, 0x0f); acc(UART, 1, 1, 0, 'A'); acc(UART, 0, 1, 2, 0);
	acc(UART, 0, 1, 5, 0); acc(UART, 1, 1, 4, 0x1f); acc(UART, 1, 1, 0, 'B');
	acc(UART, 0, 1, 0, 0);
	err |= flush(dir, "uart");
	/* RTC: every register read, update-ended interrupts on, NVRAM. */
	for (unsigned i = 0; i < 14; i++) {
		acc(RTC, 1, 1, 0, i);
		acc(RTC, 0, 1, 1, 0);
	}
	acc(RTC, 1, 1, 0, 0x0b); acc(RTC, 1, 1, 1, 0x12); tick(1000000000);
	acc(RTC, 1, 1, 0, 0x0c); acc(RTC, 0, 1, 1, 0); acc(RTC, 1, 1, 0, 0x7f);
	acc(RTC, 1, 1, 1, 0x55);
	err |= flush(dir, "rtc");
	/* PIT: channel 0 rate generator and one-shot, latch, port B. */
	acc(PIT, 1, 1, 3, 0x34); acc(PIT, 1, 1, 0, 0x9c); acc(PIT, 1, 1, 0, 0x2e);
	tick(20000000); acc(PIT, 1, 1, 3, 0x00); acc(PIT, 0, 1, 0, 0); acc(PIT, 0, 1, 0, 0);
	acc(PIT, 1, 1, 3, 0xb0); acc(PIT, 1, 1, 2, 0xff); acc(PIT, 1, 1, 2, 0xff);
	acc(PORTB, 1, 1, 0, 1); acc(PORTB, 0, 1, 0, 0); acc(PIT, 1, 1, 3, 0xc2);
	acc(PIT, 0, 1, 0, 0); acc(PIT, 1, 1, 3, 0x30); acc(PIT, 1, 1, 0, 1);
	acc(PIT, 1, 1, 0, 0); tick(5000000);
	err |= flush(dir, "pit");
	/* PICs initialised as Linux does, IRQ 0 unmasked; ELCR. */
	acc(PIC1, 1, 1, 0, 0x11); acc(PIC1, 1, 1, 1, 0x30); acc(PIC1, 1, 1, 1, 0x04);
	acc(PIC1, 1, 1, 1, 0x01); acc(PIC2, 1, 1, 0, 0x11); acc(PIC2, 1, 1, 1, 0x38);
	acc(PIC2, 1, 1, 1, 0x02); acc(PIC2, 1, 1, 1, 0x01); acc(PIC1, 1, 1, 1, 0xfe);
	acc(ELCR, 1, 1, 1, 0x0e); acc(PIT, 1, 1, 3, 0x34); acc(PIT, 1, 1, 0, 0xff);
	acc(PIT, 1, 1, 0, 0x00); tick(60000000); acc(PIC1, 1, 1, 0, 0x0a);
	acc(PIC1, 0, 1, 0, 0); acc(PIC1, 1, 1, 0, 0x20); acc(PIC1, 1, 1, 0, 0x0c);
	acc(PIC1, 0, 1, 0, 0);
	err |= flush(dir, "pic");
	/* lapic on, IOAPIC pin 4 (COM1) to vector 0x31 level, a byte in. */
	acc(LAPIC, 1, 4, 0xf0, 0x1ff); acc(LAPIC, 1, 4, 0x80, 0);
	acc(IOAPIC, 1, 4, 0, 0x18); acc(IOAPIC, 1, 4, 0x10, 0x8031);
	acc(IOAPIC, 1, 4, 0, 0x19); acc(IOAPIC, 1, 4, 0x10, 0);
	acc(IOAPIC, 1, 4, 0, 0x01); acc(IOAPIC, 0, 4, 0x10, 0);
	acc(UART, 1, 1, 4, 0x1b); acc(UART, 1, 1, 1, 0x01); acc(UART, 1, 1, 0, 'x');
	tick(1000); acc(UART, 0, 1, 0, 0); acc(LAPIC, 1, 4, 0xb0, 0);
	err |= flush(dir, "ioapic");
	/* lapic timer periodic and TSC-deadline, an IPI to the other, EOI. */
	acc(LAPIC, 1, 4, 0xf0, 0x1ff); acc(LAPIC, 1, 4, 0x3e0, 0x0b);
	acc(LAPIC, 1, 4, 0x320, 0x20040); acc(LAPIC, 1, 4, 0x380, 100000);
	tick(2000000); acc(LAPIC, 0, 4, 0x390, 0); acc(LAPIC, 1, 4, 0xb0, 0);
	acc(LAPIC, 1, 4, 0x310, 1u << 24); acc(LAPIC, 1, 4, 0x300, 0x4041);
	acc(LAPIC, 0, 4, 0x300, 0); acc(LAPIC, 1, 4, 0x300, 0xc4500);
	acc(LAPIC, 1, 4, 0x300, 0xc4610); tick(100);
	err |= flush(dir, "lapic");
	/* The rest: i8042 self test and reset, ACPI power-off, fw_cfg reads,
	 * reset control, the exit ports. */
	acc(KBD, 1, 1, 4, 0xaa); acc(KBD, 0, 1, 4, 0); acc(KBD, 0, 1, 0, 0);
	acc(KBD, 1, 1, 4, 0x60); acc(KBD, 1, 1, 0, 0x47); acc(KBD, 1, 1, 4, 0xd4);
	acc(KBD, 1, 1, 0, 0xf4); acc(KBD, 0, 1, 0, 0); acc(KBD, 1, 1, 4, 0xfe);
	acc(FWCFG, 1, 2, 0, 0); for (int i = 0; i < 4; i++) acc(FWCFG, 0, 1, 1, 0);
	acc(FWCFG, 1, 2, 0, 0x19); for (int i = 0; i < 8; i++) acc(FWCFG, 0, 1, 1, 0);
	acc(PM, 0, 2, 0, 0); acc(PM, 1, 2, 2, 0x100); acc(PM, 1, 2, 4, 0x3400);
	acc(RST, 1, 1, 0, 0x0f); acc(DBG, 1, 1, 0, 3); acc(TEST, 1, 4, 0, 1);
	err |= flush(dir, "misc");
	/* virtio-blk: a read of sector 0. */
	acc(RAM, 1, 8, BUF, 0);			/* type 0 (read) */
	acc(RAM, 1, 8, BUF + 8, 0);		/* sector 0 */
	desc(0, BUF, 16, 1, 1);
	desc(1, BUF + 0x1000, 512, 3, 2);
	desc(2, BUF + 0x2000, 1, 2, 0);
	virtio_up(1, 0);
	err |= flush(dir, "virtio-blk");
	/* virtio-rng: 64 bytes. */
	desc(0, BUF, 64, 2, 0);
	virtio_up(2, 0);
	err |= flush(dir, "virtio-rng");
	/* virtio-console: "hello" on port 0's transmit queue (queue 1). */
	acc(RAM, 1, 8, BUF, 0x6f6c6c6568);
	desc(0, BUF, 5, 0, 0);
	virtio_up(3, 1);
	err |= flush(dir, "virtio-console");
	return err;
}

static int vcpustate_seeds(const char *dir)
{
	/* Control bytes as fuzz_vcpustate.c reads them: flags, fix-ups,
	 * the ioctl to fail, MSRs KVM refuses, xsave size, MSR count; then
	 * the blob's body. */
	static const uint8_t shapes[][6] = {
		{ 0x0f, 1, 0xff, 0, 0, 2 }, { 0x00, 1, 0xff, 0, 0, 0 },
		{ 0x0b, 1, 0xff, 1, 3, 5 }, { 0x0f, 1, 4, 0, 1, 1 },
		{ 0x0f, 0, 0xff, 0, 0, 1 },
	};
	char name[32];
	int err = 0;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		memcpy(buf, shapes[i], 6);
		for (size_t j = 6; j < 600; j++)
			buf[j] = (uint8_t)(j * 7);
		len = 600;
		snprintf(name, sizeof(name), "blob%zu", i);
		err |= flush(dir, name);
	}
	return err;
}

/* fuzz_dsm's schedules (see fuzz_dsm.c): a config byte, a preload byte,
 * then (op, arg) pairs: op's low 3 bits the step (0 read, 1 write, 2 run,
 * 3-4 deliver a link's next message, 5 evict, 6-7 deliver any; 7 forges
 * a message, 8 more bytes, with hostile peers), its high 5 the page; arg
 * node + 3 * (vCPU or destination). */
#define DSM_OP(step, page) ((uint8_t)((step) | (page) << 3))
static int dsm_seeds(const char *dir)
{
	static const uint8_t honest[] = {
		/* Readers on every node, then a writer: invalidations. */
		DSM_OP(0, 0), 1, DSM_OP(0, 0), 2, DSM_OP(6, 0), 0, DSM_OP(6, 0), 1,
		DSM_OP(6, 0), 2, DSM_OP(6, 0), 3, DSM_OP(2, 0), 1, DSM_OP(2, 0), 2,
		DSM_OP(1, 0), 0, DSM_OP(6, 0), 4, DSM_OP(6, 0), 5, DSM_OP(6, 0), 6,
		DSM_OP(6, 0), 7, DSM_OP(6, 0), 8,
		/* Two writers on one page, the links in a set order. */
		DSM_OP(1, 3), 1, DSM_OP(1, 3), 2, DSM_OP(3, 0), 1 + 3 * 1,
		DSM_OP(3, 0), 2 + 3 * 1, DSM_OP(4, 0), 1 + 3 * 2, DSM_OP(4, 0), 2 + 3 * 0,
		DSM_OP(6, 0), 9, DSM_OP(6, 0), 10, DSM_OP(2, 0), 1, DSM_OP(2, 0), 2,
		/* A copy evicted while read elsewhere. */
		DSM_OP(0, 5), 1, DSM_OP(6, 0), 11, DSM_OP(6, 0), 12, DSM_OP(2, 0), 1,
		DSM_OP(1, 5), 2, DSM_OP(5, 5), 1, DSM_OP(6, 0), 13, DSM_OP(6, 0), 14,
	};
	/* The same with a forged DATA, INV and GRANT among them. */
	static const uint8_t forged[] = {
		DSM_OP(0, 0), 1, DSM_OP(7, 0), 1, 7, 0x1, 0, 1, 0, 0, 1, 0,
		DSM_OP(7, 0), 2, 5, 0, 0, 0, 3, 0, 0, 0, DSM_OP(7, 0), 0, 8, 0x4, 1, 0, 1, 0, 2, 0,
		DSM_OP(1, 2), 2, DSM_OP(3, 0), 2 + 3 * 0, DSM_OP(4, 0), 0 + 3 * 2,
		DSM_OP(7, 0), 1, 9, 0, 2, 1, 0xff, 0xff, 0, 0,
	};
	uint8_t seed[2 + sizeof(honest)];
	char name[32];
	int err = 0;

	/* Every cluster shape with honest peers: FIFO or per-page FIFO
	 * links, cache bounds, layouts, preloaded or not. */
	for (unsigned cfg = 0; cfg < 64; cfg += 5) {
		seed[0] = (uint8_t)(cfg & ~2u);
		seed[1] = (uint8_t)(cfg & 1);
		memcpy(seed + 2, honest, sizeof(honest));
		snprintf(name, sizeof(name), "honest%02x", seed[0]);
		err |= seed_write(dir, name, seed, sizeof(seed));
	}
	seed[0] = 2;
	seed[1] = 1;
	memcpy(seed + 2, forged, sizeof(forged));
	err |= seed_write(dir, "forged", seed, 2 + sizeof(forged));
	return err;
}

int gen_seeds(const char *dir, const char *target)
{
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	if (!strcmp(target, "fuzz_dev"))
		return dev_seeds(dir) ? 1 : 0;
	if (!strcmp(target, "fuzz_vcpustate"))
		return vcpustate_seeds(dir) ? 1 : 0;
	if (!strcmp(target, "fuzz_dsm"))
		return dsm_seeds(dir) ? 1 : 0;
	return -1;
}
