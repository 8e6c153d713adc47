/* Unit tests for the virtio PCI transport, driven as Linux's
 * virtio_pci_modern driver drives it: find the vendor capabilities, reset,
 * negotiate, lay out a queue, DRIVER_OK, notify; interrupts by MSI-X and
 * by INTx with the ISR; a driver that breaks the rules gets
 * DEVICE_NEEDS_RESET and a configuration interrupt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hw/iobus.h"
#include "pci/pci.h"
#include "ring.h"
#include "virtio/vpci.h"

static struct iobus *io;
static struct pci_bus *bus;
static struct vpci *vp;
static int intx;
static unsigned msis, notified[4], starts, resets;
static uint32_t last_msi_data;
static uint8_t devcfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void set_irq(void *o, unsigned gsi, int level) { intx = level; }
static void msi(void *o, uint64_t a, uint32_t d) { msis++; last_msi_data = d; }
static void cfg_read(void *o, unsigned off, void *data, unsigned len)
{
	memcpy(data, devcfg + off, len);
}
static int dev_start(void *o) { starts++; return 0; }
static void dev_notify(void *o, unsigned q) { notified[q]++; }
static bool reset_later;
static bool dev_reset(void *o) { resets++; return !reset_later; }

static const struct vpci_device_ops dops = {
	.cfg_read = cfg_read, .start = dev_start, .notify = dev_notify, .reset = dev_reset,
};

static uint32_t cfg_rd(unsigned off, unsigned len)
{
	uint32_t v = 0;

	pci_cfg_access(bus, 1 << 3, off, &v, len, false);
	return v;
}

static void cfg_wr(unsigned off, uint32_t v, unsigned len)
{
	pci_cfg_access(bus, 1 << 3, off, &v, len, true);
}

static uint64_t bar0;
static unsigned common, isr, notify, device, mult;

static uint64_t rd(uint64_t off, unsigned len)
{
	uint64_t v = 0;

	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar0 + off, &v, len, false), 0);
	return v;
}

static void wr(uint64_t off, uint64_t v, unsigned len)
{
	assert_int_equal(iobus_access(io, IO_MMIO, NULL, bar0 + off, &v, len, true), 0);
}

static int setup(void **state)
{
	struct vpci_config c = {
		.device_id = 2, .class_code = 0x018000, .features = 1ULL << 9,
		.num_queues = 2, .max_queue_size = 16, .cfg_size = 8, .ops = &dops,
		.map = ram_map, .msi_send = msi, .name = "test-virtio",
	};
	unsigned cap;

	intx = 0;
	msis = starts = resets = 0;
	memset(notified, 0, sizeof(notified));
	memset(ram, 0, sizeof(ram));
	io = iobus_new();
	bus = pci_bus_new(set_irq, NULL);
	assert_int_equal(pci_bus_register(bus, io, true), 0);
	assert_int_equal(vpci_new(bus, &c, &vp), 0);
	assert_int_equal(cfg_rd(0, 4), 0x10421af4);
	assert_int_equal(cfg_rd(PCI_REVISION_ID, 1), 1);
	assert_true(cfg_rd(PCI_SUBSYSTEM_ID, 2) >= 0x40);
	/* Walk the capabilities as virtio_pci_modern does. */
	common = isr = notify = device = ~0u;
	for (cap = cfg_rd(PCI_CAPABILITY_LIST, 1); cap; cap = cfg_rd(cap + 1, 1)) {
		unsigned type = cfg_rd(cap + 3, 1), off = cfg_rd(cap + 8, 4);

		if (cfg_rd(cap, 1) != PCI_CAP_ID_VNDR)
			continue;
		assert_int_equal(cfg_rd(cap + 4, 1), 0);	/* BAR 0 */
		if (type == 1) common = off;
		if (type == 2) { notify = off; mult = cfg_rd(cap + 16, 4); }
		if (type == 3) isr = off;
		if (type == 4) device = off;
	}
	assert_true(common != ~0u && isr != ~0u && notify != ~0u && device != ~0u);
	bar0 = cfg_rd(PCI_BAR0, 4) & ~0xfu;
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	return 0;
}

static int teardown(void **state)
{
	vpci_free(vp);
	pci_bus_free(bus);
	iobus_free(io);
	return 0;
}

/* Reset, ACK, DRIVER, features, FEATURES_OK; queue 0 at the ring.h
 * addresses with MSI-X vector qvec (0xffff: none). */
static void bring_up(uint64_t features, uint16_t qvec)
{
	wr(common + 0x14, 0, 1);
	assert_int_equal(rd(common + 0x14, 1), 0);
	wr(common + 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER, 1);
	wr(common + 0x08, 0, 4);
	wr(common + 0x0c, (uint32_t)features, 4);
	wr(common + 0x08, 1, 4);
	wr(common + 0x0c, (uint32_t)(features >> 32), 4);
	wr(common + 0x14, 0x0b, 1);
	wr(common + 0x16, 0, 2);		/* queue_select */
	assert_int_equal(rd(common + 0x18, 2), 16);
	wr(common + 0x18, 16, 2);
	wr(common + 0x1a, qvec, 2);
	wr(common + 0x20, DESC_GPA, 8);
	wr(common + 0x28, AVAIL_GPA, 4);	/* two dwords, as some drivers do */
	wr(common + 0x2c, 0, 4);
	wr(common + 0x30, USED_GPA, 8);
	wr(common + 0x1c, 1, 2);
}

static void test_negotiate_and_notify(void **state)
{
	uint64_t f;

	assert_int_equal(rd(common + 0x12, 2), 2);	/* num_queues */
	wr(common + 0x00, 0, 4);
	f = rd(common + 0x04, 4);
	wr(common + 0x00, 1, 4);
	f |= rd(common + 0x04, 4) << 32;
	assert_true(f >> VIRTIO_F_VERSION_1 & 1);
	assert_true(f >> VIRTIO_F_EVENT_IDX & 1);
	assert_true(f >> VIRTIO_F_INDIRECT_DESC & 1);
	assert_true(f >> 9 & 1);
	/* The device's configuration, through its capability. */
	assert_int_equal(rd(device + 4, 4), 0x08070605);
	assert_int_equal(rd(device + 6, 4), 0);	/* past its end */
	bring_up(f, VPCI_NO_VECTOR);
	assert_int_equal(rd(common + 0x14, 1), 0x0b);	/* FEATURES_OK kept */
	assert_int_equal(vpci_features(vp), f);
	/* Not started yet: notifications go nowhere. */
	wr(notify + 0 * mult, 0, 2);
	assert_int_equal(notified[0], 0);
	wr(common + 0x14, 0x0f, 1);
	assert_int_equal(starts, 1);
	assert_int_equal(vpci_queue(vp, 0)->size, 16);
	assert_true(vpci_queue(vp, 0)->event_idx);
	assert_false(vpci_queue(vp, 0)->broken);
	assert_true(vpci_queue(vp, 1)->broken);	/* never enabled */
	wr(notify + 0 * mult, 0, 2);
	assert_int_equal(notified[0], 1);
	wr(notify + 1 * mult, 1, 2);	/* queue 1 is not enabled */
	assert_int_equal(notified[1], 0);
	/* INTx: ISR bit 0, INTA up; reading the ISR clears both. */
	vpci_interrupt(vp, 0);
	assert_int_equal(intx, 1);
	assert_int_equal(rd(isr, 1), 1);
	assert_int_equal(intx, 0);
	assert_int_equal(rd(isr, 1), 0);
	/* Reset: the device is told, the registers are clean. */
	wr(common + 0x14, 0, 1);
	assert_int_equal(resets, 1);
	assert_int_equal(rd(common + 0x14, 1), 0);
	wr(common + 0x16, 0, 2);
	assert_int_equal(rd(common + 0x1c, 2), 0);
}

/* A device with requests in flight finishes its reset later: the status
 * reads non-zero and the registers ignore writes until it does. */
static void test_reset_later(void **state)
{
	bring_up(1ULL << VIRTIO_F_VERSION_1, VPCI_NO_VECTOR);
	wr(common + 0x14, 0x0f, 1);
	assert_int_equal(starts, 1);
	reset_later = true;
	wr(common + 0x14, 0, 1);
	reset_later = false;
	assert_int_equal(resets, 1);
	assert_int_equal(rd(common + 0x14, 1), 0x0f);
	wr(common + 0x14, 0x01, 1);
	wr(common + 0x16, 1, 2);
	assert_int_equal(rd(common + 0x14, 1), 0x0f);
	assert_int_equal(rd(common + 0x16, 2), 0);
	wr(notify, 0, 2);
	assert_int_equal(notified[0], 0);
	vpci_reset_done(vp);
	assert_int_equal(rd(common + 0x14, 1), 0);
	bring_up(1ULL << VIRTIO_F_VERSION_1, VPCI_NO_VECTOR);
	wr(common + 0x14, 0x0f, 1);
	assert_int_equal(starts, 2);
}

static void test_refused_features(void **state)
{
	/* A feature not offered, or no VERSION_1: FEATURES_OK does not stick. */
	bring_up(1ULL << 5 | 1ULL << VIRTIO_F_VERSION_1, VPCI_NO_VECTOR);
	assert_int_equal(rd(common + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	bring_up(1ULL << 9, VPCI_NO_VECTOR);
	assert_int_equal(rd(common + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	/* DRIVER_OK without FEATURES_OK breaks the device. */
	wr(common + 0x14, 0x07, 1);
	assert_true(rd(common + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(starts, 0);
}

static void test_msix_vectors(void **state)
{
	unsigned cap;

	for (cap = cfg_rd(PCI_CAPABILITY_LIST, 1); cfg_rd(cap, 1) != PCI_CAP_ID_MSIX;
	     cap = cfg_rd(cap + 1, 1))
		assert_true(cap);
	/* Enable MSI-X; program vector 1 (queue) and 0 (config), unmasked. */
	cfg_wr(cap + 2, 0x8000, 2);
	wr(0x4000 + 16 + 0, 0xfee00000, 4);
	wr(0x4000 + 16 + 8, 0x51, 4);
	wr(0x4000 + 16 + 12, 0, 4);
	wr(0x4000 + 0, 0xfee00000, 4);
	wr(0x4000 + 8, 0x50, 4);
	wr(0x4000 + 12, 0, 4);
	bring_up(1ULL << VIRTIO_F_VERSION_1, 1);
	wr(common + 0x10, 0, 2);
	assert_int_equal(rd(common + 0x10, 2), 0);
	assert_int_equal(rd(common + 0x1a, 2), 1);
	wr(common + 0x14, 0x0f, 1);
	vpci_interrupt(vp, 0);
	assert_int_equal(msis, 1);
	assert_int_equal(last_msi_data, 0x51);
	assert_int_equal(intx, 0);
	/* A broken ring: NEEDS_RESET, the config vector, notifications off. */
	vpci_needs_reset(vp, "test");
	assert_int_equal(msis, 2);
	assert_int_equal(last_msi_data, 0x50);
	assert_true(vpci_broken(vp));
	assert_true(rd(common + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* The driver cannot clear it but by a reset. */
	wr(common + 0x14, 0x0f, 1);
	assert_true(rd(common + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	wr(notify, 0, 2);
	assert_int_equal(notified[0], 0);
	wr(common + 0x14, 0, 1);
	assert_false(vpci_broken(vp));
}

static void test_bad_queue_layout(void **state)
{
	/* Rings outside RAM or a size that is not a power of two: DRIVER_OK
	 * makes the device NEEDS_RESET instead of starting it. */
	bring_up(1ULL << VIRTIO_F_VERSION_1, VPCI_NO_VECTOR);
	wr(common + 0x1c, 0, 2);	/* enabled: the layout is fixed now */
	wr(common + 0x30, RAM_SIZE + 0x1000, 8);
	assert_int_equal(rd(common + 0x30, 8), USED_GPA);
	wr(common + 0x14, 0, 1);
	bring_up(1ULL << VIRTIO_F_VERSION_1, VPCI_NO_VECTOR);
	wr(common + 0x14, 0, 1);
	wr(common + 0x14, 0x03, 1);
	wr(common + 0x08, 1, 4);
	wr(common + 0x0c, 1, 4);
	wr(common + 0x14, 0x0b, 1);
	wr(common + 0x18, 12, 2);
	wr(common + 0x20, DESC_GPA, 8);
	wr(common + 0x28, AVAIL_GPA, 8);
	wr(common + 0x30, RAM_SIZE - 4, 8);
	wr(common + 0x1c, 1, 2);
	wr(common + 0x14, 0x0f, 1);
	assert_true(rd(common + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(starts, 0);
	assert_int_equal(intx, 1);	/* the configuration interrupt, by INTx */
	assert_int_equal(rd(isr, 1), 2);
	/* Odd accesses to the common configuration do nothing. */
	wr(common + 0x15, 0xff, 2);
	assert_int_equal(rd(common + 0x3, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_negotiate_and_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_layout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
