/* Unit tests for the PCI host bridge and MSI-X, driven the way a guest
 * drives them: through the I/O registry (ports 0xCF8/0xCFC, the ECAM and
 * the BAR window), as an OS enumerates, sizes BARs, moves them, enables
 * decoding and programs MSI-X. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hw/iobus.h"
#include "pci/msix.h"
#include "pci/pci.h"

static struct iobus *io;
static struct pci_bus *bus;
static int irq_level[24];
static unsigned irq_changes;

static void set_irq(void *opaque, unsigned gsi, int level)
{
	assert_true(gsi < 24);
	irq_level[gsi] = level;
	irq_changes++;
}

/* A device with two BARs that records accesses to BAR 1. */
static uint64_t last_off;
static uint32_t last_val;
static int last_bar = -1;
static unsigned cfg_writes;

static int bar_io(void *opaque, int bar, uint64_t offset, void *data, unsigned len,
		  bool is_write)
{
	struct msix *m = *(struct msix **)opaque;

	if (bar == 0 && m && msix_bar_io(m, offset, data, len, is_write))
		return 0;
	last_bar = bar;
	last_off = offset;
	if (is_write)
		memcpy(&last_val, data, len < 4 ? len : 4);
	else
		memset(data, 0xab, len);
	return 0;
}

static struct msix *dev_msix;

static void cfg_written(void *opaque, unsigned off, unsigned len)
{
	cfg_writes++;
	if (dev_msix)
		msix_cfg_written(dev_msix);
}

static const struct pci_dev_ops ops = { .bar_io = bar_io, .cfg_written = cfg_written };

static uint32_t cf8_read(unsigned slot, unsigned off, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;

	assert_int_equal(iobus_access(io, IO_PIO, NULL, 0xcf8, &a, 4, true), 0);
	assert_int_equal(iobus_access(io, IO_PIO, NULL, 0xcfc + (off & 3), &v, len, false), 0);
	return v;
}

static void cf8_write(unsigned slot, unsigned off, uint32_t v, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	assert_int_equal(iobus_access(io, IO_PIO, NULL, 0xcf8, &a, 4, true), 0);
	assert_int_equal(iobus_access(io, IO_PIO, NULL, 0xcfc + (off & 3), &v, len, true), 0);
}

static uint32_t ecam_read(unsigned slot, unsigned off, unsigned len)
{
	uint32_t v = 0;

	assert_int_equal(iobus_access(io, IO_MMIO, NULL, PCI_ECAM_BASE + (slot << 15) + off,
				      &v, len, false), 0);
	return v;
}

static void ecam_write(unsigned slot, unsigned off, uint32_t v, unsigned len)
{
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, PCI_ECAM_BASE + (slot << 15) + off,
				      &v, len, true), 0);
}

static struct pci_dev *dev;

static int setup(void **state)
{
	struct pci_dev_info info = {
		.vendor = 0x1af4, .device = 0x1042, .class_code = 0x018000, .revision = 1,
		.bar_size = { 0x8000, 0x1000 }, .intx = true, .name = "test",
	};

	memset(irq_level, 0, sizeof(irq_level));
	irq_changes = cfg_writes = 0;
	dev_msix = NULL;
	io = iobus_new();
	bus = pci_bus_new(set_irq, NULL);
	assert_int_equal(pci_bus_register(bus, io, true), 0);
	assert_int_equal(pci_add_device(bus, &info, &ops, &dev_msix, &dev), 0);
	return 0;
}

static int teardown(void **state)
{
	msix_free(dev_msix);
	pci_bus_free(bus);
	iobus_free(io);
	return 0;
}

static void test_enumerate(void **state)
{
	/* Slot 0 is the host bridge (class 06 00), slot 1 our device, the
	 * rest read all ones, by either mechanism. */
	assert_int_equal(cf8_read(0, 0, 4), 0x29c08086);
	assert_int_equal(cf8_read(0, 8, 4) >> 8, 0x060000);
	assert_int_equal(pci_dev_slot(dev), 1);
	assert_int_equal(cf8_read(1, 0, 4), 0x10421af4);
	assert_int_equal(ecam_read(1, 0, 4), 0x10421af4);
	assert_int_equal(ecam_read(1, 2, 2), 0x1042);
	assert_int_equal(cf8_read(1, 2, 2), 0x1042);
	assert_int_equal(cf8_read(1, 8, 4), 0x01800001);
	assert_int_equal(cf8_read(2, 0, 4), 0xffffffff);
	assert_int_equal(ecam_read(31, 0, 4), 0xffffffff);
	/* Function 1 and bus 1 hold nothing. */
	assert_int_equal(ecam_read(1, 0x1000 - 0x1000, 4), 0x10421af4);
	{
		uint32_t v = 0;

		assert_int_equal(iobus_access(io, IO_MMIO, NULL,
					      PCI_ECAM_BASE + (1 << 15) + (1 << 12), &v, 4,
					      false), 0);
		assert_int_equal(v, 0xffffffff);
	}
	/* Without the enable bit, 0xCFC reads all ones. */
	{
		uint32_t a = 1 << 11, v = 0;

		iobus_access(io, IO_PIO, NULL, 0xcf8, &a, 4, true);
		iobus_access(io, IO_PIO, NULL, 0xcfc, &v, 4, false);
		assert_int_equal(v, 0xffffffff);
		/* 0xCF8 reads back what was written; a byte write there is
		 * not an address (0xCF9 is the reset register's). */
		iobus_access(io, IO_PIO, NULL, 0xcf8, &v, 4, false);
		assert_int_equal(v, 1 << 11);
		v = 0x55;
		iobus_access(io, IO_PIO, NULL, 0xcf8, &v, 1, true);
		iobus_access(io, IO_PIO, NULL, 0xcf8, &v, 4, false);
		assert_int_equal(v, 1 << 11);
	}
	/* An access crossing its dword is refused. */
	assert_int_equal(ecam_read(1, 3, 2), 0xffff);
	/* The interrupt pin and line: INTA, routed to 16 + slot % 4. */
	assert_int_equal(cf8_read(1, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cf8_read(1, PCI_INTERRUPT_LINE, 1), 17);
	assert_int_equal(pci_dev_intx_gsi(dev), 17);
}

static void test_bar_sizing_and_moving(void **state)
{
	uint32_t bar0 = cf8_read(1, PCI_BAR0, 4), bar1 = cf8_read(1, PCI_BAR0 + 4, 4);
	uint8_t b[4];

	/* Placed in the window, naturally aligned, not overlapping. */
	assert_int_equal(bar0, PCI_MMIO_BASE);
	assert_int_equal(bar1 % 0x1000, 0);
	assert_true(bar1 >= bar0 + 0x8000);
	/* Sizing: all ones reads back the size mask; restore. */
	cf8_write(1, PCI_BAR0, 0xffffffff, 4);
	assert_int_equal(cf8_read(1, PCI_BAR0, 4), 0xffff8000);
	cf8_write(1, PCI_BAR0, bar0, 4);
	assert_int_equal(cf8_read(1, PCI_BAR0, 4), bar0);
	/* BARs 2-5 are not implemented: they read 0 whatever is written. */
	cf8_write(1, PCI_BAR0 + 8, 0xffffffff, 4);
	assert_int_equal(cf8_read(1, PCI_BAR0 + 8, 4), 0);
	/* No decoding until the command register's memory bit is set. */
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar1 + 8, b, 4, false), 0);
	assert_int_equal(last_bar, -1);
	assert_memory_equal(b, "\xff\xff\xff\xff", 4);
	ecam_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	assert_int_equal(cf8_read(1, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar1 + 8, b, 4, false), 0);
	assert_int_equal(last_bar, 1);
	assert_int_equal(last_off, 8);
	assert_memory_equal(b, "\xab\xab\xab\xab", 4);
	/* Move BAR 1 elsewhere in the window: the old place goes quiet,
	 * the new one decodes. */
	cf8_write(1, PCI_BAR0 + 4, 0xd0000000, 4);
	assert_int_equal(pci_dev_bar_addr(dev, 1), 0xd0000000);
	last_bar = -1;
	iobus_access(io, IO_MMIO, NULL, bar1 + 8, b, 4, false);
	assert_int_equal(last_bar, -1);
	last_val = 0;
	iobus_access(io, IO_MMIO, NULL, 0xd0000ffc, &(uint32_t){ 0x1234 }, 4, true);
	assert_int_equal(last_bar, 1);
	assert_int_equal(last_off, 0xffc);
	assert_int_equal(last_val, 0x1234);
	/* An access running past the BAR's end is not the BAR's. */
	last_bar = -1;
	iobus_access(io, IO_MMIO, NULL, 0xd0000ffe, b, 4, false);
	assert_int_equal(last_bar, -1);
	/* Read-only fields stay. */
	cf8_write(1, 0, 0, 4);
	assert_int_equal(cf8_read(1, 0, 4), 0x10421af4);
	assert_true(cfg_writes >= 5);
}

static void test_intx(void **state)
{
	pci_set_intx(dev, 1);
	assert_int_equal(irq_level[17], 1);
	assert_true(cf8_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* INTx disable masks the line, not the status. */
	cf8_write(1, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	assert_int_equal(irq_level[17], 0);
	assert_true(cf8_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	cf8_write(1, PCI_COMMAND, 0, 2);
	assert_int_equal(irq_level[17], 1);
	pci_set_intx(dev, 0);
	assert_int_equal(irq_level[17], 0);
	assert_false(cf8_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Repeating a level does not re-signal. */
	irq_changes = 0;
	pci_set_intx(dev, 0);
	assert_int_equal(irq_changes, 0);
}

static uint64_t sent_addr[16];
static uint32_t sent_data[16];
static unsigned nsent;

static void msi_send(void *opaque, uint64_t addr, uint32_t data)
{
	assert_true(nsent < 16);
	sent_addr[nsent] = addr;
	sent_data[nsent++] = data;
}

/* Write MSI-X table entry v through BAR 0 at 0x4000. */
static void msix_entry(uint32_t bar0, unsigned v, uint32_t addr, uint32_t data, uint32_t ctl)
{
	uint64_t e = bar0 + 0x4000 + 16 * v;

	iobus_access(io, IO_MMIO, NULL, e, &addr, 4, true);
	iobus_access(io, IO_MMIO, NULL, e + 4, &(uint32_t){ 0 }, 4, true);
	iobus_access(io, IO_MMIO, NULL, e + 8, &data, 4, true);
	iobus_access(io, IO_MMIO, NULL, e + 12, &ctl, 4, true);
}

static void test_msix(void **state)
{
	uint32_t bar0 = cf8_read(1, PCI_BAR0, 4), cap, ctrl, v;
	uint64_t pba;

	nsent = 0;
	dev_msix = msix_new(dev, 4, 0, 0x4000, 0x5000, msi_send, NULL);
	assert_non_null(dev_msix);
	/* Found by walking the capability list. */
	assert_true(cf8_read(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	cap = cf8_read(1, PCI_CAPABILITY_LIST, 1);
	assert_int_equal(cf8_read(1, cap, 1), PCI_CAP_ID_MSIX);
	ctrl = cf8_read(1, cap + 2, 2);
	assert_int_equal(ctrl & 0x7ff, 3);	/* table size - 1 */
	assert_int_equal(cf8_read(1, cap + 4, 4), 0x4000);	/* BIR 0 */
	assert_int_equal(cf8_read(1, cap + 8, 4), 0x5000);
	cf8_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	/* Off: notify only sets the pending bit. */
	assert_true(msix_notify(dev_msix, 2));
	assert_int_equal(nsent, 0);
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x5000, &pba, 8, false);
	assert_int_equal(pba, 4);
	/* Vectors out of range are refused. */
	assert_false(msix_notify(dev_msix, 4));
	assert_false(msix_notify(dev_msix, 0xffff));
	/* Program entries 0 and 2 (still masked), enable MSI-X: nothing yet. */
	msix_entry(bar0, 0, 0xfee01000, 0x41, 1);
	msix_entry(bar0, 2, 0xfee02000, 0x42, 1);
	cf8_write(1, cap + 2, 0x8000, 2);
	assert_true(msix_enabled(dev_msix));
	assert_int_equal(nsent, 0);
	/* Unmasking vector 2 sends what was pending, once. */
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x4000 + 32 + 12, &(uint32_t){ 0 }, 4, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent_addr[0], 0xfee02000);
	assert_int_equal(sent_data[0], 0x42);
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x5000, &pba, 8, false);
	assert_int_equal(pba, 0);
	/* Entry reads back as written. */
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x4000 + 8, &v, 4, false);
	assert_int_equal(v, 0x41);
	/* Function mask holds everything back, then releases it. */
	cf8_write(1, cap + 2, 0xc000, 2);
	msix_notify(dev_msix, 2);
	assert_int_equal(nsent, 1);
	cf8_write(1, cap + 2, 0x8000, 2);
	assert_int_equal(nsent, 2);
	msix_notify(dev_msix, 2);
	assert_int_equal(nsent, 3);
	/* The table size is read-only; only the top two bits are the guest's. */
	cf8_write(1, cap + 2, 0x87ff, 2);
	assert_int_equal(cf8_read(1, cap + 2, 2), 0x8003);
	/* A misaligned or odd-sized table access does nothing. */
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x4000 + 2, &(uint16_t){ 0xffff }, 2, true);
	iobus_access(io, IO_MMIO, NULL, bar0 + 0x4000, &v, 4, false);
	assert_int_equal(v, 0xfee01000);
	/* A bad layout is refused. */
	assert_null(msix_new(dev, 0, 0, 0x4000, 0x5000, msi_send, NULL));
	assert_null(msix_new(dev, 65, 0, 0x4000, 0x5000, msi_send, NULL));
	assert_null(msix_new(dev, 4, 0, 0x4004, 0x5000, msi_send, NULL));
}

static void test_full(void **state)
{
	struct pci_dev_info big = { .vendor = 1, .device = 2, .bar_size = { 0x10000000 } };
	struct pci_dev_info odd = { .vendor = 1, .device = 2, .bar_size = { 0x3000 } };
	struct pci_dev *d;
	int added = 0;

	assert_int_equal(pci_add_device(bus, &odd, &ops, NULL, &d), -EINVAL);
	/* 512 MiB of window: the 256 MiB BAR fits once after the first
	 * device's BARs, not twice. */
	assert_int_equal(pci_add_device(bus, &big, &ops, NULL, &d), 0);
	assert_int_equal(pci_add_device(bus, &big, &ops, NULL, &d), -ENOSPC);
	big.bar_size[0] = 0;
	while (pci_add_device(bus, &big, &ops, NULL, &d) == 0)
		added++;
	assert_int_equal(added, PCI_MAX_SLOTS - 3);
}

/* Two nodes' buses: node 0's (config space, the function a shadow of
 * node 1's device) and node 1's (the device, no config ports), the
 * config writes carried between them as the CPU plane would. */
static struct pci_bus *bus1;
static struct iobus *io1;
static unsigned remote_calls, remote_host;
static uint64_t remote_addr;

static int remote_io(void *opaque, struct vcpu *vcpu, unsigned host, uint64_t addr,
		     void *data, unsigned len, bool is_write)
{
	remote_calls++;
	remote_host = host;
	remote_addr = addr;
	/* What node 1 would answer: its own window's decode. */
	return iobus_access(io1, IO_MMIO, vcpu, addr, data, len, is_write);
}

static void carry_cfg(void *opaque, unsigned slot, unsigned off, const void *val,
		      unsigned len)
{
	assert_int_equal(pci_cfg_mirror(bus1, slot, off, val, len), 0);
}

static void test_remote(void **state)
{
	struct pci_dev_info info = {
		.vendor = 0x1af4, .device = 0x1042, .class_code = 0x018000, .revision = 1,
		.bar_size = { 0x8000, 0x1000 }, .intx = true, .name = "test",
	};
	struct pci_bus_links l0 = { .remote_io = remote_io, .cfg_written = carry_cfg };
	struct pci_dev *d1;
	uint32_t v = 0, bar1, moved = 0xd0000000u;
	uint8_t cmd = PCI_COMMAND_MEMORY;

	io1 = iobus_new();
	bus1 = pci_bus_new(set_irq, NULL);
	/* Node 1 claims the window only: config space is node 0's. */
	assert_int_equal(pci_bus_register(bus1, io1, false), 0);
	assert_null(iobus_owner(io1, IO_PIO, 0xcf8));
	assert_null(iobus_owner(io1, IO_MMIO, PCI_ECAM_BASE));
	assert_int_equal(pci_add_device(bus1, &info, &ops, &dev_msix, &d1), 0);
	assert_int_equal(pci_dev_slot(d1), pci_dev_slot(dev));
	/* On node 0 the function in slot 1 is node 1's. */
	pci_dev_set_remote(dev, 1);
	pci_bus_set_links(bus, &l0);

	/* Memory decoding on, through node 0's config space: node 1 learns
	 * it, and a BAR access on node 0 goes to node 1, whose device serves
	 * it; node 0's local device is never called. */
	cf8_write(1, PCI_COMMAND, cmd, 1);
	assert_int_equal(pci_dev_command(d1) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
	bar1 = pci_dev_bar_addr(dev, 1);
	last_bar = -1;
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar1 + 0x10, &v, 4, false), 0);
	assert_int_equal(remote_calls, 1);
	assert_int_equal(remote_host, 1);
	assert_int_equal(remote_addr, bar1 + 0x10);
	assert_int_equal(v, 0xabababab);
	assert_int_equal(last_bar, 1);
	assert_int_equal(last_off, 0x10);

	/* The guest moves BAR 1 (sizing first, as Linux does): both nodes
	 * decode it at its new place, the old one decodes nothing. */
	cf8_write(1, PCI_BAR0 + 4, 0xffffffffu, 4);
	assert_int_equal(pci_dev_bar_addr(d1, 1), 0xfffff000u);
	cf8_write(1, PCI_BAR0 + 4, moved, 4);
	assert_int_equal(pci_dev_bar_addr(d1, 1), moved);
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, moved + 8, &v, 4, true), 0);
	assert_int_equal(remote_calls, 2);
	assert_int_equal(last_off, 8);
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar1 + 0x10, &v, 4, false), 0);
	assert_int_equal(remote_calls, 2);
	assert_int_equal(v, 0xffffffffu);

	/* Mirroring checks its arguments. */
	assert_int_equal(pci_cfg_mirror(bus1, 7, 0, &v, 4), -EINVAL);
	assert_int_equal(pci_cfg_mirror(bus1, 0, 4, &v, 2), -EINVAL);
	assert_int_equal(pci_cfg_mirror(bus1, 1, 4094, &v, 4), -EINVAL);
	assert_int_equal(pci_cfg_mirror(bus1, 1, 6, &v, 4), -EINVAL);
	assert_int_equal(pci_cfg_mirror(bus1, 1, 4, &v, 0), -EINVAL);
	pci_bus_free(bus1);
	iobus_free(io1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enumerate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_moving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
