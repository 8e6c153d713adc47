/* Unit tests for virtio-rng and virtio-console through the stack below
 * the VM (the I/O registry, the PCI bridge, the transport, the device's
 * worker), a buffer as guest RAM, rings laid out as a driver would: the
 * rng fills buffers (capped per request), the console writes what the
 * guest sends to its file, and to a pipe nobody reads it drops and counts
 * after a bounded wait instead of hanging. Waits are bounded. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/iobus.h"
#include "pci/pci.h"
#include "device.h"
#include "ring.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/vpci.h"


static struct pci_bus *bus;

static void set_irq(void *o, unsigned gsi, int level) { }
static void msi(void *o, uint64_t a, uint32_t d) { }

static uint32_t qused_len(unsigned q, uint16_t i)
{
	uint32_t len;

	memcpy(&len, ram + USED_GPA + qbase(q) + 8 + 8 * (i % QSZ), 4);
	return len;
}

static void bus_up(void)
{
	memset(ram, 0, sizeof(ram));
	io = iobus_new();
	bus = pci_bus_new(set_irq, NULL);
	assert_int_equal(pci_bus_register(bus, io, true), 0);
}

/* The device in slot 1, driven to DRIVER_OK with VERSION_1 and nqueues. */
static void driver_ok(unsigned nqueues)
{
	bar0 = 0;
	pci_cfg_access(bus, 1 << 3, PCI_BAR0, &bar0, 4, false);
	pci_cfg_access(bus, 1 << 3, PCI_COMMAND, &(uint16_t){ PCI_COMMAND_MEMORY }, 2, true);
	wr(0x14, 3, 1);
	wr(0x08, 1, 4);
	wr(0x0c, 1, 4);
	wr(0x14, 0x0b, 1);
	assert_int_equal(rd(0x14, 1), 0x0b);
	setup_queues(nqueues);
	wr(0x14, 0x0f, 1);
	assert_int_equal(rd(0x14, 1), 0x0f);
}

/* One chain of one buffer on queue q, descriptor d; waits for it. */
static uint32_t one(unsigned q, unsigned d, uint64_t gpa, uint32_t len, uint16_t flags)
{
	uint16_t *a = qavail(q), want = (uint16_t)(qused_idx(q) + 1);

	qdesc(q)[d] = (struct virtq_desc){ gpa, len, flags, 0 };
	a[2 + a[1] % QSZ] = (uint16_t)d;
	__atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
	wr(0x3000 + 4 * q, q, 2);
	for (int i = 0; i < 10000 && qused_idx(q) != want; i++)
		usleep(1000);
	assert_int_equal(qused_idx(q), want);
	return qused_len(q, (uint16_t)(want - 1));
}

static bool zero(uint64_t gpa, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ram[gpa + i])
			return false;
	return true;
}

static void test_rng(void **state)
{
	struct vrng_config c = { .map = ram_map, .msi_send = msi };
	struct vrng *r;
	struct vrng_stats st;
	char err[128];

	bus_up();
	assert_int_equal(vrng_new(bus, &c, &r, err, sizeof(err)), 0);
	driver_ok(1);
	assert_int_equal(one(0, 0, 0x20000, 64, VIRTQ_DESC_F_WRITE), 64);
	assert_false(zero(0x20000, 64));
	assert_int_equal(one(0, 1, 0x21000, 64, VIRTQ_DESC_F_WRITE), 64);
	assert_memory_not_equal(ram + 0x20000, ram + 0x21000, 64);
	/* A request larger than the cap gets the cap; past it stays zero. */
	assert_int_equal(one(0, 2, 0x30000, 3 * RNG_MAX_REQUEST, VIRTQ_DESC_F_WRITE),
			 RNG_MAX_REQUEST);
	assert_true(zero(0x30000 + RNG_MAX_REQUEST, 2 * RNG_MAX_REQUEST));
	/* Nowhere to write: 0 bytes, counted. */
	assert_int_equal(one(0, 3, 0x22000, 64, 0), 0);
	vrng_stats(r, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.bytes, 128 + RNG_MAX_REQUEST);
	assert_int_equal(st.empty, 1);
	assert_int_equal(st.broken, 0);
	vrng_free(r);
	pci_bus_free(bus);
	iobus_free(io);
}

static void test_console_file(void **state)
{
	char path[] = "/tmp/amalgam-hvc0-XXXXXX", err[128], got[64] = { 0 };
	struct vcon_config c = { .path = path, .map = ram_map, .msi_send = msi };
	struct vcon *con;
	struct vcon_stats st;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	bus_up();
	assert_int_equal(vcon_new(bus, &c, &con, err, sizeof(err)), 0);
	driver_ok(2);
	memcpy(ram + 0x20000, "hello hvc0\n", 11);
	assert_int_equal(one(1, 0, 0x20000, 11, 0), 0);
	/* A receive buffer stays with the device: there is no input. */
	qdesc(0)[0] = (struct virtq_desc){ 0x21000, 64, VIRTQ_DESC_F_WRITE, 0 };
	qavail(0)[2] = 0;
	__atomic_store_n(&qavail(0)[1], 1, __ATOMIC_RELEASE);
	wr(0x3000, 0, 2);
	usleep(50000);
	assert_int_equal(qused_idx(0), 0);
	vcon_stats(con, &st);
	assert_int_equal(st.tx_bytes, 11);
	assert_int_equal(st.tx_dropped, 0);
	vcon_free(con);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), 11);
	assert_string_equal(got, "hello hvc0\n");
	close(fd);
	unlink(path);
	pci_bus_free(bus);
	iobus_free(io);
}

/* A pipe nobody reads: the first 64 KiB fill it, the rest is dropped
 * and counted, each chain answered within the bound (100 ms), never
 * hanging the device. */
static void test_console_stalled(void **state)
{
	int p[2];
	char path[64], err[128];
	struct vcon_config c = { .path = path, .map = ram_map, .msi_send = msi };
	struct vcon *con;
	struct vcon_stats st;
	struct timespec t0, t1;

	assert_int_equal(pipe(p), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	bus_up();
	assert_int_equal(vcon_new(bus, &c, &con, err, sizeof(err)), 0);
	driver_ok(2);
	memset(ram + 0x40000, 'x', 0x40000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < 8; i++)
		one(1, i, 0x40000 + 0x8000 * i, 0x8000, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	vcon_stats(con, &st);
	assert_int_equal(st.tx_bytes, 8 * 0x8000);
	assert_true(st.tx_dropped >= 8 * 0x8000 - 65536);
	assert_true(st.tx_dropped < 8 * 0x8000);
	/* One stall of 100 ms, then dropping at once: well under 2 s. */
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	vcon_free(con);
	close(p[0]);
	close(p[1]);
	pci_bus_free(bus);
	iobus_free(io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_console_file),
		cmocka_unit_test(test_console_stalled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
