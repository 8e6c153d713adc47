/* A virtio-blk driver in a test guest: finds the disk on the PCI bus
 * (mechanism #1 and ECAM), reads the virtio capabilities, negotiates,
 * lays out a split virtqueue and drives requests the way Linux does, with
 * MSI-X and then with INTx through the IOAPIC:
 *  - write, flush, read back (direct and indirect chains), get-id,
 *    write-zeroes, discard, reads past the end (I/O error);
 *  - the completion interrupt reaches the vCPU its MSI-X entry names,
 *    cpu 1 too (with --nodes 2 on the other node);
 *  - readonly (arg "readonly"): F_RO offered, writes refused, data kept;
 *  - failfrom=N (the disk's fail-from=N): I/O at N fails, below works;
 *  - a descriptor loop: the device goes DEVICE_NEEDS_RESET with a
 *    configuration interrupt; after a reset it works again.
 * Args: sectors=N (the image's size in sectors, checked against the
 * device's capacity), readonly, failfrom=N; writeloop: after bringing the
 * disk up, print "virtio-blk: writing" and write for ever (for the test
 * that kills the node holding the disk mid-write). */
#include "libguest.h"
#include "vdrv.h"

#define VEC_CFG 0x50
#define VEC_Q 0x51
#define VEC_INTX 0x52
#define QSZ 16

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13

#define F_RO (1ull << 5)
#define F_FLUSH (1ull << 9)
#define F_DISCARD (1ull << 13)
#define F_WZ (1ull << 14)
#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Discovery, configuration space and MSI-X through the kit's small
 * driver (lib/vdrv.h); the queue below is this test's own. */
static struct vdrv vd;
static unsigned slot;
static uint32_t cfg_read(unsigned off) { return vdrv_cfg_read(&vd, off); }
static void cfg_write16(unsigned off, uint16_t v) { vdrv_cfg_write16(&vd, off, v); }

static uint64_t bar0, common, isr, notify, device, msix_table;
static unsigned notify_mult, msix_cap;

/* The queue. */
static struct desc *desc;
static volatile uint16_t *avail, *used;
static uint16_t avail_idx, used_seen;
static struct desc *indirect;
static uint8_t *hdr, *status;

static volatile uint32_t q_irqs[MAX_CPUS], cfg_irqs, intx_irqs;
static volatile uint8_t intx_isr;

static void q_handler(struct irq_frame *f)
{
	unsigned c = smp_id();

	q_irqs[c]++;
	apic_eoi();
	if (c)
		wake_cpu(0);
}

static void cfg_handler(struct irq_frame *f)
{
	cfg_irqs++;
	apic_eoi();
}

/* Level-triggered INTx: reading the ISR lowers the line before the EOI. */
static void intx_handler(struct irq_frame *f)
{
	intx_isr |= rd8(isr);
	intx_irqs++;
	apic_eoi();
}

static bool find_device(void)
{
	bool found = vdrv_find(&vd, 2);

	slot = vd.slot;
	bar0 = vd.bar0;
	common = vd.common;
	isr = vd.isr;
	notify = vd.notify;
	device = vd.device;
	msix_table = vd.msix_table;
	notify_mult = vd.notify_mult;
	msix_cap = vd.msix_cap;
	return found;
}

static void msix_entry(unsigned v, unsigned cpu, uint8_t vector)
{
	vdrv_msix(&vd, v, percpu[cpu].apic_id, vector);
}

/* Reset and bring the device up with 'features'; queue 0 on vector qvec
 * (0xffff: none, for INTx). Returns the status read back. */
static uint8_t init_device(uint64_t features, uint16_t qvec)
{
	vdrv_reset(&vd);
	wr8(common + 0x14, S_ACK | S_DRIVER);
	wr32(common + 0x08, 0);
	wr32(common + 0x0c, (uint32_t)features);
	wr32(common + 0x08, 1);
	wr32(common + 0x0c, (uint32_t)(features >> 32));
	wr8(common + 0x14, S_ACK | S_DRIVER | S_FEATURES_OK);
	wr16(common + 0x10, qvec == 0xffff ? 0xffff : 0);	/* config vector */
	wr16(common + 0x16, 0);
	wr16(common + 0x18, QSZ);
	wr16(common + 0x1a, qvec);
	wr64(common + 0x20, (uint64_t)desc);
	wr64(common + 0x28, (uint64_t)avail);
	wr64(common + 0x30, (uint64_t)used);
	memset(desc, 0, 4096);
	memset((void *)avail, 0, 4096);
	memset((void *)used, 0, 4096);
	avail_idx = used_seen = 0;
	wr16(common + 0x1c, 1);
	wr8(common + 0x14, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return rd8(common + 0x14);
}

static bool used_reached(void)
{
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == (uint16_t)(used_seen + 1);
}

/* One request: header, then data (len bytes of buf; the device writes it
 * when 'in'), then the status byte. Data in 'segs' pieces, through an
 * indirect table when 'ind'. Returns the status, or -1 if no completion
 * came within 5 s (a lost interrupt, a hung device). */
static int request(uint32_t type, uint64_t sector, void *buf, uint32_t len, bool in,
		   unsigned segs, bool ind)
{
	struct desc *t = ind ? indirect : desc;
	unsigned n = 0;
	uint16_t din = in ? 2 : 0;

	*(uint32_t *)hdr = type;
	*(uint32_t *)(hdr + 4) = 0;
	*(uint64_t *)(hdr + 8) = sector;
	*status = 0xee;
	t[n] = (struct desc){ (uint64_t)hdr, 16, 1, 1 };
	n++;
	for (unsigned s = 0; s < segs && len; s++, n++)
		t[n] = (struct desc){ (uint64_t)buf + s * (len / segs), len / segs,
				      (uint16_t)(1 | din), (uint16_t)(n + 1) };
	t[n] = (struct desc){ (uint64_t)status, 1, 2, 0 };
	if (ind)
		desc[0] = (struct desc){ (uint64_t)indirect, (n + 1) * 16, 4, 0 };
	avail[2 + avail_idx % QSZ] = 0;
	/* used_event: interrupt us when the used index passes what we have. */
	avail[2 + QSZ] = used_seen;
	__atomic_store_n(&avail[1], ++avail_idx, __ATOMIC_RELEASE);
	wr16(notify, 0);
	if (!wait_until(used_reached(), 5000))
		return -1;
	used_seen++;
	return *status;
}

static bool all(const uint8_t *p, uint8_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void fill(uint8_t *p, unsigned n, uint64_t seed)
{
	for (unsigned i = 0; i < n; i += 8)
		*(uint64_t *)(p + i) = seed * 0x9e3779b97f4a7c15ull + i;
}

static uint32_t irqs_total(void)
{
	uint32_t t = 0;

	for (unsigned c = 0; c < nr_cpus; c++)
		t += q_irqs[c];
	return t;
}

static void io_tests(uint8_t *a, uint8_t *b, bool ro, long failfrom, long sectors)
{
	uint32_t before = irqs_total();
	int st;

	fill(a, 16384, 1);
	st = request(T_OUT, 8, a, 16384, false, 4, false);
	if (ro) {
		report(st == 1, "read-only disk refuses a write (status %d)", st);
		memset(b, 0x11, 512);
		st = request(T_IN, 8, b, 512, true, 1, false);
		report(st == 0 && all(b, 0, 512), "... and the data under it is unchanged");
		st = request(T_WRITE_ZEROES, 0, a, 16, false, 1, false);
		report(st == 1, "read-only disk refuses write-zeroes (status %d)", st);
		return;
	}
	report(st == 0, "write 16 KiB in 4 buffers (status %d)", st);
	st = request(T_FLUSH, 0, NULL, 0, false, 0, false);
	report(st == 0, "flush (status %d)", st);
	memset(b, 0, 16384);
	st = request(T_IN, 8, b, 16384, true, 4, true);
	report(st == 0 && !memcmp(a, b, 16384), "read back through an indirect table (status %d)", st);
	memset(b, 0, 4096);
	st = request(T_IN, 16, b, 4096, true, 1, false);
	report(st == 0 && !memcmp(a + 4096, b, 4096), "read at an offset (status %d)", st);
	/* The used entry may be seen before its interrupt arrives. */
	wait_until(irqs_total() > before, 2000);
	report(irqs_total() > before, "completions interrupted (%u MSI-X interrupts)",
	       irqs_total() - before);
	memset(b, 0, 20);
	st = request(T_GET_ID, 0, b, 20, true, 1, false);
	report(st == 0 && !memcmp(b, "amalgam-vda", 12), "get-id: '%s'", (char *)b);
	{
		struct { uint64_t sector; uint32_t n, flags; } *r = (void *)a;

		r->sector = 10;
		r->n = 4;
		r->flags = 0;
		st = request(T_WRITE_ZEROES, 0, a, 16, false, 1, false);
		memset(b, 0x11, 4096);
		request(T_IN, 8, b, 4096, true, 1, false);
		report(st == 0 && all(b + 1024, 0, 2048) && b[0] == (uint8_t)(0x9e3779b97f4a7c15ull * 1),
		       "write-zeroes zeroes sectors 10-13 and no other (status %d)", st);
		r->sector = 12;
		r->n = 8;
		st = request(T_DISCARD, 0, a, 16, false, 1, false);
		report(st == 0, "discard (status %d)", st);
	}
	st = request(T_IN, (uint64_t)sectors - 1, b, 1024, true, 1, false);
	report(st == 1, "a read past the end is an I/O error (status %d)", st);
	if (failfrom > 0) {
		st = request(T_OUT, (uint64_t)failfrom, a, 512, false, 1, false);
		report(st == 1, "a write where the host fails is an I/O error (status %d)", st);
		st = request(T_IN, (uint64_t)failfrom + 1, b, 512, true, 1, false);
		report(st == 1, "so is a read there (status %d)", st);
		st = request(T_FLUSH, 0, NULL, 0, false, 0, false);
		report(st == 1, "and a flush after the failed write (status %d)", st);
		st = request(T_IN, 0, b, 512, true, 1, false);
		report(st == 0, "the disk still serves what works (status %d)", st);
	}
}

int main(void)
{
	long sectors = cmdline_int("sectors", 8192), failfrom = cmdline_int("failfrom", 0);
	bool ro = cmdline_has("readonly");
	uint8_t *a = alloc(16384, 4096), *b = alloc(16384, 4096);
	uint64_t f;
	uint8_t st;

	desc = alloc(4096, 4096);
	avail = alloc(4096, 4096);
	used = alloc(4096, 4096);
	indirect = alloc(4096, 4096);
	hdr = alloc(64, 64);
	status = hdr + 32;
	if (nr_cpus > 1)
		smp_init(5000);
	irq_set_handler(VEC_Q, q_handler);
	irq_set_handler(VEC_CFG, cfg_handler);
	irq_set_handler(VEC_INTX, intx_handler);

	{
		bool found = find_device();

		report(found, "virtio-blk found on the PCI bus (slot %u, BAR0 %#lx)", slot,
		       (unsigned long)bar0);
	}
	if (!common)
		return report_summary();
	report((cfg_read(8) >> 8) == 0x018000, "class: mass storage");
	report(*(volatile uint32_t *)(0xE0000000ull + (slot << 15)) == 0x10421af4,
	       "ECAM shows the same device");
	{
		const struct e820_entry *e = e820_table();
		bool reserved = false;

		for (unsigned i = 0; i < e820_count(); i++)
			reserved |= e[i].addr == 0xE0000000ull && e[i].size == 1 << 20 &&
				    e[i].type == 2;
		report(reserved, "the e820 map reserves the ECAM");
	}
	cfg_write16(4, 0x6);	/* memory decoding, bus master */
	f = vdrv_features(&vd);
	report((f & (F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | F_FLUSH | F_DISCARD | F_WZ)) ==
	       (F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | F_FLUSH | F_DISCARD | F_WZ),
	       "features offered: %#lx", (unsigned long)f);
	report(!!(f & F_RO) == ro, "read-only feature %s", ro ? "offered" : "not offered");

	/* MSI-X: config to cpu 0, queue to cpu 0 first. */
	msix_entry(0, 0, VEC_CFG);
	msix_entry(1, 0, VEC_Q);
	cfg_write16(msix_cap + 2, 0x8000);
	st = init_device(F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | F_FLUSH | F_DISCARD | F_WZ |
			 (f & F_RO), 1);
	report(st == 0x0f, "DRIVER_OK (status %#x)", st);
	report(rd32(device) == (uint32_t)sectors, "capacity %u sectors", rd32(device));
	sti();
	if (cmdline_has("writeloop")) {
		fill(a, 4096, 7);
		for (unsigned long n = 0;; n++) {
			int r = request(T_OUT, (n * 8) % (uint64_t)(sectors - 8), a, 4096, false, 1, false);

			if (r)
				printf("virtio-blk: write %lu: status %d\n", n, r);
			if (n == 10)
				printf("virtio-blk: writing\n");
		}
	}
	io_tests(a, b, ro, failfrom, sectors);

	if (nr_cpus > 1) {
		uint32_t on1 = q_irqs[1];
		int r;

		/* Masked while moved, as Linux does. */
		wr32(msix_table + 16 + 12, 1);
		msix_entry(1, 1, VEC_Q);
		r = request(T_IN, 0, b, 512, true, 1, false);
		wait_until(q_irqs[1] > on1, 2000);
		report(r == 0 && q_irqs[1] > on1, "the completion interrupt reaches cpu 1 (%u)",
		       q_irqs[1] - on1);
	}

	/* INTx: MSI-X off, the IOAPIC pin the _PRT names, level-triggered. */
	cfg_write16(msix_cap + 2, 0);
	ioapic_redir_set(16 + slot % 4, VEC_INTX | IOAPIC_LEVEL | IOAPIC_DEST(percpu[0].apic_id));
	init_device(F_VERSION_1 | F_INDIRECT | (f & F_RO), 0xffff);
	{
		uint32_t n = intx_irqs;
		int r = request(T_IN, 0, b, 512, true, 1, false);

		wait_until(intx_irqs > n, 2000);
		report(r == 0 && intx_irqs > n && (intx_isr & 1),
		       "INTx through IOAPIC pin %u (status %d, %u interrupts, ISR %#x)",
		       16 + slot % 4, r, intx_irqs - n, intx_isr);
	}

	/* Garbage: a descriptor that points at itself. */
	intx_isr = 0;
	desc[0] = (struct desc){ (uint64_t)hdr, 16, 1, 0 };
	avail[2 + avail_idx % QSZ] = 0;
	__atomic_store_n(&avail[1], ++avail_idx, __ATOMIC_RELEASE);
	wr16(notify, 0);
	wait_until(rd8(common + 0x14) & S_NEEDS_RESET, 5000);
	report(rd8(common + 0x14) & S_NEEDS_RESET, "a descriptor loop: DEVICE_NEEDS_RESET");
	wait_until(intx_isr & 2, 2000);
	report(intx_isr & 2, "... with a configuration interrupt (ISR %#x)", intx_isr);
	st = init_device(F_VERSION_1 | (f & F_RO), 0xffff);
	report(st == 0x0f, "after a reset the device starts again (status %#x)", st);
	report(request(T_IN, 0, b, 512, true, 1, false) == 0, "... and serves a read");
	cli();
	wr8(common + 0x14, 0);
	return report_summary();
}
