/* libFuzzer target for the device models: a sequence of port and MMIO
 * accesses, of every width, into every device a node emulates (UART, RTC,
 * i8042, PIT, ACPI PM, reset control, fw_cfg, debug exit, test exit, the
 * PICs and ELCR, the IOAPIC, two local APICs, the PCI host bridge's 0xCF8
 * and 0xCFC ports and ECAM, and on it virtio-blk on a temporary image,
 * virtio-rng and virtio-console to /dev/null, built as vmm/pcibus.c builds
 * them, their BAR 0 and a small guest RAM the input also writes),
 * dispatched through the one I/O registry as a vCPU's exits are, with the
 * interrupt wiring of a real VM (device lines to the IOAPIC and the PIC,
 * the PIC's INTR to LINT0, the IOAPIC, the lapics' IPIs and the devices'
 * MSI-X over the APIC bus) and a fake clock that the input advances,
 * firing the PIT's and the lapics' timers. Whatever the guest writes: no
 * crash, no out-of-bounds access, no undefined behaviour, every access
 * answered, and an interrupt the controllers offer is in range.
 *
 * Input: records of REC bytes: target (low 4 bits, and bit 7 as bit 4),
 * write (bit 4), width (bits 5-6: 1, 2, 4, 8 bytes), offset (2 bytes,
 * within the target's window), data (8 bytes). Target 15 and targets past
 * the devices advance the clock, poll and acknowledge interrupts. The
 * devices are built afresh for each input (the virtio ones' worker threads
 * run beside the input's accesses: what they do with the rings is not
 * ordered with the next access, as with a real guest). Seeds:
 * fuzz_wire_corpus DIR fuzz_dev. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/acpipm.h"
#include "dev/debugexit.h"
#include "dev/fwcfg.h"
#include "dev/i8042.h"
#include "dev/pit.h"
#include "dev/rstcnt.h"
#include "dev/rtc.h"
#include "dev/testdev.h"
#include "dev/uart.h"
#include "hw/iobus.h"
#include "irq/apicbus.h"
#include "irq/ioapic.h"
#include "irq/lapic.h"
#include "irq/msi.h"
#include "irq/pic.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/vpci.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)
#define REC 12
#define NR_LAPICS 2
#define TICK 15			/* the target that is no window */
#define RAM_SIZE 0x10000	/* guest RAM at GPA 0 */
#define IMG_SIZE (1 << 20)	/* the disk */

struct window {
	enum io_space space;
	uint64_t base, span;
};

/* What the input addresses: each device's ports (with a little around
 * them, so that unclaimed neighbours are tried too). */
static const struct window windows[] = {
	{ IO_PIO, UART_COM1_BASE, UART_NR_PORTS },
	{ IO_PIO, RTC_BASE, RTC_NR_PORTS },
	{ IO_PIO, I8042_DATA_PORT, 5 },
	{ IO_PIO, PIT_BASE, PIT_NR_PORTS },
	{ IO_PIO, PIT_PORT_B, 1 },
	{ IO_PIO, ACPIPM_BASE, ACPIPM_NR_PORTS + 2 },
	{ IO_PIO, RSTCNT_PORT, 1 },
	{ IO_PIO, FWCFG_PORT_SEL, 4 },
	{ IO_PIO, DEBUGEXIT_DEFAULT_IOBASE, DEBUGEXIT_DEFAULT_IOSIZE },
	{ IO_PIO, TESTDEV_PORT, 4 },
	{ IO_PIO, 0x20, 2 },		/* PIC master */
	{ IO_PIO, 0xa0, 2 },		/* PIC slave */
	{ IO_PIO, 0x4d0, 2 },		/* ELCR */
	{ IO_MMIO, IOAPIC_BASE_DEFAULT, IOAPIC_MMIO_SIZE },
	{ IO_MMIO, LAPIC_BASE_DEFAULT, LAPIC_MMIO_SIZE },
	{ IO_PIO, 0, 0 },		/* TICK */
	{ IO_PIO, PCI_CF8_PORT, 8 },	/* 0xCF8-0xCFF */
	{ IO_MMIO, PCI_ECAM_BASE + (1 << 15), 2 << 15 },	/* slots 1, 2 */
	{ IO_MMIO, PCI_ECAM_BASE + (3 << 15), 1 << 15 },	/* slot 3 */
	{ IO_MMIO, PCI_MMIO_BASE, 2 * VPCI_BAR_SIZE },	/* where the seeds put BAR 0 */
	{ IO_MMIO, PCI_MMIO_BASE + 2 * VPCI_BAR_SIZE, VPCI_BAR_SIZE },
	{ IO_MMIO, 0, RAM_SIZE },	/* guest RAM, for the rings */
};
#define NR_WINDOWS (sizeof(windows) / sizeof(windows[0]))

static struct {
	struct iobus *bus;
	struct apicbus *apicbus;
	struct lapic *lapic[NR_LAPICS];
	struct ioapic *ioapic;
	struct pic *pic;
	uint64_t now_ns;
	unsigned cur;		/* the lapic the next MMIO access reaches */
	unsigned exits;		/* power-offs, resets and exits asked for */
	int img;		/* the disk image, unlinked */
	char img_path[32];
} vm = { .img = -1 };

static uint8_t ram[RAM_SIZE];

static void *ram_map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	(void)opaque;
	(void)write;
	return len && gpa < RAM_SIZE && len <= RAM_SIZE - gpa ? ram + gpa : NULL;
}

static int ram_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data, unsigned len,
		  bool is_write)
{
	(void)opaque;
	(void)vcpu;
	if (offset + len > RAM_SIZE)
		return -EINVAL;
	if (is_write)
		memcpy(ram + offset, data, len);
	else
		memcpy(data, ram + offset, len);
	return 0;
}

/* From the devices' workers as from a vCPU: over the APIC bus. */
static void msi_send(void *opaque, uint64_t address, uint32_t data)
{
	struct apic_msg m;

	(void)opaque;
	if (!msi_decode(address, data, &m))
		apicbus_send(vm.apicbus, &m);
}

static void line_set(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	ioapic_set_irq(vm.ioapic, gsi, level);
	if (gsi < 16)
		pic_set_irq(vm.pic, gsi, level);
}

#define LINE(g) ((struct irq_line){ .set = line_set, .gsi = (g) })

static void intr(void *opaque, int level)
{
	(void)opaque;
	lapic_set_lint(vm.lapic[0], 0, level);
}

static void on_exit_fn(void *opaque, int status)
{
	(void)opaque;
	(void)status;
	vm.exits++;
}

static void on_event(void *opaque)
{
	(void)opaque;
	vm.exits++;
}

static int64_t clock_fn(void *opaque)
{
	(void)opaque;
	return (int64_t)vm.now_ns;
}

static void kick(void *opaque) { (void)opaque; }
static void arm_timer(void *opaque, uint64_t deadline) { (void)opaque; (void)deadline; }
static void send(void *opaque, const struct apic_msg *msg)
{
	(void)opaque;
	apicbus_send(vm.apicbus, msg);
}
static void eoi(void *opaque, uint8_t vector)
{
	(void)opaque;
	ioapic_eoi(vm.ioapic, vector);
}
static uint64_t clock_ns(void *opaque) { (void)opaque; return vm.now_ns; }
static uint64_t host_tsc(void *opaque) { (void)opaque; return vm.now_ns * 3; }

static const struct lapic_ops lapic_ops = {
	.kick = kick, .arm_timer = arm_timer, .send = send, .eoi = eoi,
	.clock_ns = clock_ns, .host_tsc = host_tsc,
};

static int lapic_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		    unsigned len, bool is_write)
{
	(void)opaque;
	(void)vcpu;
	return lapic_mmio(vm.lapic[vm.cur], offset, data, len, is_write);
}

/* Every device of a node, as vm.c and node.c wire them. */
struct devices {
	struct uart *uart;
	struct rtc *rtc;
	struct i8042 *kbd;
	struct pit *pit;
	struct acpipm *pm;
	struct rstcnt *rst;
	struct fwcfg *fw;
	struct debugexit *dbg;
	struct testdev *test;
	struct pci_bus *pci;
	struct vblk *blk;
	struct vrng *rng;
	struct vcon *con;
};

/* The PCI functions in vmm/pcibus.c's order: the disk (slot 1), the rng
 * (slot 2), the console (slot 3). */
static void build_pci(struct devices *d)
{
	const struct vblk_config bc = { .path = vm.img_path, .queues = 2, .workers = 1,
					.map = ram_map, .msi_send = msi_send, .name = "vda" };
	const struct vrng_config gc = { .map = ram_map, .msi_send = msi_send };
	const struct vcon_config cc = { .path = "/dev/null", .map = ram_map,
					.msi_send = msi_send };
	char err[256];

	memset(ram, 0, sizeof(ram));
	/* The same empty disk for every input. */
	CHECK(ftruncate(vm.img, 0) == 0 && ftruncate(vm.img, IMG_SIZE) == 0);
	CHECK((d->pci = pci_bus_new(line_set, NULL)));
	pci_bus_set_links(d->pci, &(struct pci_bus_links){ 0 });
	CHECK(pci_bus_register(d->pci, vm.bus, true) == 0);
	CHECK(vblk_new(d->pci, &bc, &d->blk, err, sizeof(err)) == 0);
	CHECK(vrng_new(d->pci, &gc, &d->rng, err, sizeof(err)) == 0);
	CHECK(vcon_new(d->pci, &cc, &d->con, err, sizeof(err)) == 0);
	CHECK(iobus_register(vm.bus, IO_MMIO, 0, RAM_SIZE, ram_io, NULL, "ram") == 0);
}

static void build(struct devices *d)
{
	const struct uart_config uc = { .base = UART_COM1_BASE, .irq = LINE(UART_COM1_IRQ),
					.out_fd = -1, .in_fd = -1, .name = "com1" };
	const struct rtc_config rc = { .mem_below_4g = 256 << 20, .clock = clock_fn };
	const struct i8042_config kc = { .kbd_irq = LINE(I8042_KBD_IRQ),
					 .aux_irq = LINE(I8042_AUX_IRQ), .reset = on_event };
	const struct pit_config pc = { .irq0 = LINE(2), .clock = clock_fn };
	const struct acpipm_config ac = { .poweroff = on_event };
	const struct fwcfg_config fc = { .nr_cpus = NR_LAPICS, .max_cpus = NR_LAPICS,
					 .ram_size = 256 << 20 };

	vm.cur = 0;
	vm.exits = 0;
	vm.now_ns = 1000000000;
	CHECK((vm.bus = iobus_new()) && (vm.apicbus = apicbus_new(NR_LAPICS)));
	for (unsigned i = 0; i < NR_LAPICS; i++) {
		const struct lapic_config lc = { .apic_id = i, .bsp = !i, .tsc_khz = 3000000,
						 .index = (int32_t)i };

		CHECK((vm.lapic[i] = lapic_new(&lc, &lapic_ops, NULL)));
		CHECK(apicbus_attach(vm.apicbus, i, vm.lapic[i]) == 0);
	}
	CHECK((vm.ioapic = ioapic_new(vm.apicbus, NR_LAPICS)));
	CHECK((vm.pic = pic_new(intr, NULL)));
	CHECK(pic_register(vm.pic, vm.bus) == 0);
	CHECK(iobus_register(vm.bus, IO_MMIO, IOAPIC_BASE_DEFAULT, IOAPIC_MMIO_SIZE,
			     ioapic_mmio, vm.ioapic, "ioapic") == 0);
	CHECK(iobus_register(vm.bus, IO_MMIO, LAPIC_BASE_DEFAULT, LAPIC_MMIO_SIZE,
			     lapic_io, NULL, "lapic") == 0);
	CHECK((d->uart = uart_new(&uc)) && uart_register(d->uart, vm.bus) == 0);
	CHECK((d->rtc = rtc_new(&rc)) && rtc_register(d->rtc, vm.bus) == 0);
	CHECK((d->kbd = i8042_new(&kc)) && i8042_register(d->kbd, vm.bus) == 0);
	CHECK((d->pit = pit_new(&pc)) && pit_register(d->pit, vm.bus) == 0);
	CHECK((d->pm = acpipm_new(&ac)) && acpipm_register(d->pm, vm.bus) == 0);
	CHECK((d->rst = rstcnt_new(on_event, NULL)) && rstcnt_register(d->rst, vm.bus) == 0);
	CHECK((d->fw = fwcfg_new(&fc)) && fwcfg_register(d->fw, vm.bus) == 0);
	CHECK((d->dbg = debugexit_new(DEBUGEXIT_DEFAULT_IOBASE, DEBUGEXIT_DEFAULT_IOSIZE,
				      on_exit_fn, NULL)) &&
	      debugexit_register(d->dbg, vm.bus) == 0);
	CHECK((d->test = testdev_new(on_exit_fn, NULL)) && testdev_register(d->test, vm.bus) == 0);
	build_pci(d);
}

static void destroy(struct devices *d)
{
	/* The workers stop first: they may send MSIs to the lapics. */
	vblk_free(d->blk);
	vrng_free(d->rng);
	vcon_free(d->con);
	pci_bus_free(d->pci);
	uart_free(d->uart);
	rtc_free(d->rtc);
	i8042_free(d->kbd);
	pit_free(d->pit);
	acpipm_free(d->pm);
	rstcnt_free(d->rst);
	fwcfg_free(d->fw);
	debugexit_free(d->dbg);
	testdev_free(d->test);
	pic_free(vm.pic);
	ioapic_free(vm.ioapic);
	for (unsigned i = 0; i < NR_LAPICS; i++)
		lapic_free(vm.lapic[i]);
	apicbus_free(vm.apicbus);
	iobus_free(vm.bus);
}

/* What a vCPU does between exits: time passes, timers fire, the lapic
 * offers an interrupt (or asks the PIC for one) and it is taken. */
static void tick(struct devices *d, const uint8_t *r)
{
	struct lapic_events ev;
	uint64_t step;
	int v;

	memcpy(&step, r + 3, sizeof(step));
	vm.now_ns += step % 100000000;	/* up to 0.1 s */
	pit_poll(d->pit);
	for (unsigned i = 0; i < NR_LAPICS; i++) {
		memset(&ev, 0, sizeof(ev));
		lapic_poll(vm.lapic[i], vm.now_ns, &ev);
		if (ev.flags & LAPIC_EV_EXTINT) {
			v = pic_ack(vm.pic);
			CHECK(v >= -1 && v < 256);
		}
		v = lapic_get_interrupt(vm.lapic[i]);
		CHECK(v >= -1 && v < 256);
		if (v >= 0 && (r[1] & 1))
			lapic_ack(vm.lapic[i], v);
		(void)lapic_has_work(vm.lapic[i], vm.now_ns);
		if (r[2] & 1)
			lapic_set_cr8(vm.lapic[i], r[2] >> 4);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char path[] = "/tmp/fuzz_dev.XXXXXX";

	log_init(0, LOG_ERROR);	/* a guest's misuse is logged: not here */
	/* virtio-blk opens it by name for each input: this fd's. */
	vm.img = mkstemp(path);
	CHECK(vm.img >= 0 && unlink(path) == 0);
	snprintf(vm.img_path, sizeof(vm.img_path), "/proc/self/fd/%d", vm.img);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct devices d;

	if (size > 4096 * REC)
		return 0;
	build(&d);
	for (size_t at = 0; at + REC <= size; at += REC) {
		const uint8_t *r = data + at;
		unsigned target = (r[0] & 15) | (r[0] >> 3 & 16), len = 1u << (r[0] >> 5 & 3);
		bool is_write = r[0] >> 4 & 1;
		uint8_t buf[8];
		uint16_t off;

		if (target == TICK || target >= NR_WINDOWS) {
			if (r[0] & 0x80)
				vm.cur = (vm.cur + 1) % NR_LAPICS;
			tick(&d, r);
			continue;
		}
		memcpy(&off, r + 1, sizeof(off));
		memcpy(buf, r + 4, sizeof(buf));
		(void)iobus_access(vm.bus, windows[target].space, NULL,
				   windows[target].base + off % windows[target].span, buf, len,
				   is_write);
	}
	destroy(&d);
	return 0;
}
