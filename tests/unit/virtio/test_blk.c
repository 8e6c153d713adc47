/* Unit tests for virtio-blk on a temporary raw image, through the whole
 * stack below the VM: the I/O registry, the PCI bridge, the transport and
 * the disk's workers, with a buffer as guest RAM. Requests are laid out
 * as Linux's virtio_blk lays them out (header, data, status byte) and
 * checked against the file on the host. Waits are bounded. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/iobus.h"
#include "pci/pci.h"
#include "device.h"
#include "ring.h"
#include "virtio/blk.h"
#include "virtio/vpci.h"

#define DISK_SECTORS 2048	/* 1 MiB */

static struct pci_bus *bus;
static struct vblk *blk;
static char path[64];
static int intx;
static int inject_errno;

static void set_irq(void *o, unsigned gsi, int level)
{
	__atomic_store_n(&intx, level, __ATOMIC_RELEASE);
}
static void msi(void *o, uint64_t a, uint32_t d) { }
/* With 'hold' set the next request waits in the hook until it is cleared:
 * a request in flight, on demand. */
static volatile bool hold, holding;
static int inject(void *o, uint32_t type, uint64_t sector)
{
	for (int i = 0; hold && i < 10000; i++) {
		holding = true;
		usleep(1000);
	}
	holding = false;
	return inject_errno;
}


static void open_disk(bool readonly, unsigned queues)
{
	struct vblk_config c = {
		.path = path, .readonly = readonly, .queues = queues, .map = ram_map,
		.msi_send = msi, .name = "vda", .inject = inject,
	};
	char err[256];

	io = iobus_new();
	bus = pci_bus_new(set_irq, NULL);
	assert_int_equal(pci_bus_register(bus, io, true), 0);
	assert_int_equal(vblk_new(bus, &c, &blk, err, sizeof(err)), 0);
	bar0 = 0;
	pci_cfg_access(bus, 1 << 3, PCI_BAR0, &bar0, 4, false);
	pci_cfg_access(bus, 1 << 3, PCI_COMMAND, &(uint16_t){ PCI_COMMAND_MEMORY }, 2, true);
	/* The transport's layout (vpci.h): common 0, device 0x2000, notify 0x3000. */
	wr(0x14, 0, 1);
	wr(0x14, 3, 1);
	wr(0x08, 0, 4);
	wr(0x0c, (uint32_t)(1u << 9 | 1u << 12 | 1u << 13 | 1u << 14 | 1u << 28 |
			    (readonly ? 1u << 5 : 0)), 4);
	wr(0x08, 1, 4);
	wr(0x0c, 1, 4);
	wr(0x14, 0x0b, 1);
	assert_int_equal(rd(0x14, 1), 0x0b);
	setup_queues(queues);
	wr(0x14, 0x0f, 1);
}

static int setup(void **state)
{
	int fd;

	memset(ram, 0, sizeof(ram));
	inject_errno = 0;
	snprintf(path, sizeof(path), "/tmp/amalgam-blk-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_SECTORS * 512), 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	vblk_free(blk);
	blk = NULL;
	pci_bus_free(bus);
	iobus_free(io);
	unlink(path);
	return 0;
}

/* Post a request on queue q using descriptors d, d+1, d+2: header at
 * 0x20000 + 0x100 * d, data (len bytes, dir) at 0x40000 + 0x1000 * d,
 * status after the header. Indirect when 'indirect'. */
static uint64_t hdr_gpa(unsigned d) { return 0x20000 + 0x100 * d; }
static uint64_t data_gpa(unsigned d) { return 0x40000 + 0x2000 * d; }
static uint8_t *status_of(unsigned d) { return ram + hdr_gpa(d) + 0x40; }

static void post(unsigned q, unsigned d, uint32_t type, uint64_t sector, uint32_t len,
		 bool dev_writes, bool indirect)
{
	struct virtq_desc *t = indirect ? (void *)(ram + 0x60000 + 0x100 * d) : qdesc(q);
	unsigned b = indirect ? 0 : d, n = 0;
	uint16_t *a = qavail(q);

	memcpy(ram + hdr_gpa(d), &type, 4);
	memcpy(ram + hdr_gpa(d) + 8, &sector, 8);
	*status_of(d) = 0xee;
	t[b + n] = (struct virtq_desc){ hdr_gpa(d), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(b + n + 1) };
	n++;
	if (len) {
		t[b + n] = (struct virtq_desc){ data_gpa(d), len,
			(uint16_t)(VIRTQ_DESC_F_NEXT | (dev_writes ? VIRTQ_DESC_F_WRITE : 0)),
			(uint16_t)(b + n + 1) };
		n++;
	}
	t[b + n] = (struct virtq_desc){ hdr_gpa(d) + 0x40, 1, VIRTQ_DESC_F_WRITE, 0 };
	if (indirect)
		qdesc(q)[d] = (struct virtq_desc){ 0x60000 + 0x100 * d, (n + 1) * 16,
						   VIRTQ_DESC_F_INDIRECT, 0 };
	a[2 + a[1] % QSZ] = (uint16_t)d;
	__atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
	wr(0x3000 + 4 * q, q, 2);
}

/* Wait (bounded: 10 s) until queue q's used index reaches 'want'. */
static void wait_used(unsigned q, uint16_t want)
{
	for (int i = 0; i < 10000 && qused_idx(q) != want; i++)
		usleep(1000);
	assert_int_equal(qused_idx(q), want);
}

static void file_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void test_read_write_flush(void **state)
{
	uint8_t buf[4096];
	uint64_t cap;

	open_disk(false, 1);
	cap = rd(0x2000, 8);
	assert_int_equal(cap, DISK_SECTORS);
	assert_int_equal(rd(0x2000 + 34, 2), 1);	/* num_queues */
	for (int i = 0; i < 4096; i++)
		ram[data_gpa(0) + i] = (uint8_t)(i * 7);
	post(0, 0, 1, 10, 4096, false, false);		/* write sectors 10..17 */
	wait_used(0, 1);
	assert_int_equal(*status_of(0), 0);
	file_read(10 * 512, buf, 4096);
	assert_memory_equal(buf, ram + data_gpa(0), 4096);
	post(0, 4, 4, 0, 0, false, false);		/* flush */
	wait_used(0, 2);
	assert_int_equal(*status_of(4), 0);
	post(0, 8, 0, 10, 4096, true, true);		/* read back, indirect */
	wait_used(0, 3);
	assert_int_equal(*status_of(8), 0);
	assert_memory_equal(ram + data_gpa(8), ram + data_gpa(0), 4096);
	{
		uint32_t id, len;

		memcpy(&id, ram + USED_GPA + 4 + 8 * 2, 4);
		memcpy(&len, ram + USED_GPA + 8 + 8 * 2, 4);
		assert_int_equal(id, 8);
		assert_int_equal(len, 4097);	/* data and status */
	}
	post(0, 12, 8, 0, 20, true, false);		/* get id */
	wait_used(0, 4);
	assert_int_equal(*status_of(12), 0);
	assert_string_equal((char *)ram + data_gpa(12), "amalgam-vda");
	/* Out of the disk, or not whole sectors: I/O error. */
	post(0, 0, 0, DISK_SECTORS - 1, 1024, true, false);
	wait_used(0, 5);
	assert_int_equal(*status_of(0), 1);
	post(0, 4, 1, 0, 100, false, false);
	wait_used(0, 6);
	assert_int_equal(*status_of(4), 1);
	/* An unknown type: unsupported. */
	post(0, 8, 99, 0, 0, false, false);
	wait_used(0, 7);
	assert_int_equal(*status_of(8), 2);
	{
		struct vblk_stats st;

		vblk_stats(blk, &st);
		assert_int_equal(st.writes, 2);
		assert_int_equal(st.reads, 2);
		assert_int_equal(st.flushes, 1);
		assert_int_equal(st.io_errors, 2);
		assert_int_equal(st.unsupported, 1);
		assert_int_equal(st.write_bytes, 4096);
	}
}

static void test_discard_write_zeroes(void **state)
{
	uint8_t buf[8192], zeros[8192] = { 0 };
	struct { uint64_t sector; uint32_t n, flags; } seg = { 4, 16, 0 };

	open_disk(false, 1);
	memset(ram + data_gpa(0), 0xaa, 16384);
	post(0, 0, 1, 0, 16384, false, false);
	wait_used(0, 1);
	/* Write zeroes over sectors 4..19, then discard 24..31. */
	memcpy(ram + data_gpa(4), &seg, 16);
	post(0, 4, 13, 0, 16, false, false);
	wait_used(0, 2);
	assert_int_equal(*status_of(4), 0);
	file_read(4 * 512, buf, 8192);
	assert_memory_equal(buf, zeros, 8192);
	file_read(0, buf, 2048);
	assert_int_equal(buf[2047], 0xaa);
	file_read(20 * 512, buf, 512);
	assert_int_equal(buf[0], 0xaa);
	seg = (typeof(seg)){ 24, 8, 0 };
	memcpy(ram + data_gpa(8), &seg, 16);
	post(0, 8, 11, 0, 16, false, false);
	wait_used(0, 3);
	assert_int_equal(*status_of(8), 0);
	/* Past the end: I/O error. A discard asking to unmap: unsupported
	 * (only write-zeroes has that flag). */
	seg = (typeof(seg)){ DISK_SECTORS - 4, 8, 0 };
	memcpy(ram + data_gpa(12), &seg, 16);
	post(0, 12, 13, 0, 16, false, false);
	wait_used(0, 4);
	assert_int_equal(*status_of(12), 1);
	seg = (typeof(seg)){ 0, 8, 1 };
	memcpy(ram + data_gpa(0), &seg, 16);
	post(0, 0, 11, 0, 16, false, false);
	wait_used(0, 5);
	assert_int_equal(*status_of(0), 2);
}

static void test_readonly(void **state)
{
	uint8_t buf[512];

	open_disk(true, 1);
	assert_true(rd(0x04, 4) & (1u << 5));	/* VIRTIO_BLK_F_RO offered */
	memset(ram + data_gpa(0), 0x55, 512);
	post(0, 0, 1, 0, 512, false, false);
	wait_used(0, 1);
	assert_int_equal(*status_of(0), 1);
	file_read(0, buf, 512);
	assert_int_equal(buf[0], 0);
	post(0, 4, 0, 0, 512, true, false);	/* reads work */
	wait_used(0, 2);
	assert_int_equal(*status_of(4), 0);
	post(0, 8, 13, 0, 16, false, false);	/* so does nothing that writes */
	wait_used(0, 3);
	assert_int_equal(*status_of(8), 1);
}

static void test_failing_file(void **state)
{
	struct rlimit old, lim;

	open_disk(false, 1);
	/* EIO from below (the hook stands for a dying disk). */
	inject_errno = EIO;
	post(0, 0, 1, 0, 512, false, false);
	wait_used(0, 1);
	assert_int_equal(*status_of(0), 1);
	post(0, 4, 4, 0, 0, false, false);
	wait_used(0, 2);
	assert_int_equal(*status_of(4), 1);
	inject_errno = 0;
	post(0, 8, 0, 0, 512, true, false);
	wait_used(0, 3);
	assert_int_equal(*status_of(8), 0);
	/* A real refusal by the host: a file size limit below the write,
	 * which pwritev answers with EFBIG, as a full disk answers ENOSPC. */
	assert_int_equal(truncate(path, 4096), 0);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	post(0, 12, 1, 100, 512, false, false);
	wait_used(0, 4);
	setrlimit(RLIMIT_FSIZE, &old);
	assert_int_equal(*status_of(12), 1);
}

/* After a reset: the driver negotiates again (VERSION_1 only) and sets
 * up queue 0 on the same rings, up to DRIVER_OK. */
static void restart_queue0(void)
{
	wr(0x14, 3, 1);
	wr(0x08, 1, 4);
	wr(0x0c, 1, 4);
	wr(0x14, 0x0b, 1);
	wr(0x16, 0, 2);
	wr(0x18, QSZ, 2);
	wr(0x20, DESC_GPA, 8);
	wr(0x28, AVAIL_GPA, 8);
	wr(0x30, USED_GPA, 8);
	wr(0x1c, 1, 2);
	wr(0x14, 0x0f, 1);
}

static void test_garbage_ring(void **state)
{
	open_disk(false, 1);
	__atomic_store_n(&intx, 0, __ATOMIC_RELEASE);	/* an earlier test's level */
	/* A descriptor loop: the device breaks, the test process lives on. */
	qdesc(0)[0] = (struct virtq_desc){ hdr_gpa(0), 16, VIRTQ_DESC_F_NEXT, 1 };
	qdesc(0)[1] = (struct virtq_desc){ hdr_gpa(0), 16, VIRTQ_DESC_F_NEXT, 0 };
	qavail(0)[2] = 0;
	__atomic_store_n(&qavail(0)[1], 1, __ATOMIC_RELEASE);
	wr(0x3000, 0, 2);
	/* The device sets the status bit, then raises the configuration
	 * interrupt (INTx: no MSI-X) with the ISR's bit: wait for both. */
	for (int i = 0; i < 10000 && (!(rd(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET) ||
				      !__atomic_load_n(&intx, __ATOMIC_ACQUIRE)); i++)
		usleep(1000);
	assert_true(rd(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(__atomic_load_n(&intx, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(rd(0x1000, 1), 2);
	/* A header too short to be a request: given back untouched. After a
	 * reset, the driver can start over. */
	memset(ram, 0, RAM_SIZE);
	wr(0x14, 0, 1);
	restart_queue0();
	post(0, 0, 0, 0, 512, true, false);
	wait_used(0, 1);
	assert_int_equal(*status_of(0), 0);
	qdesc(0)[4] = (struct virtq_desc){ hdr_gpa(4), 8, 0, 0 };
	qavail(0)[2 + 1] = 4;
	__atomic_store_n(&qavail(0)[1], 2, __ATOMIC_RELEASE);
	wr(0x3000, 0, 2);
	wait_used(0, 2);
}

/* A reset while a request is in flight does not wait for it: the status
 * reads non-zero until the request has left the queue, then 0, and the
 * device starts again. */
static void test_reset_in_flight(void **state)
{
	open_disk(false, 1);
	hold = true;
	post(0, 0, 0, 0, 512, true, false);
	for (int i = 0; i < 10000 && !holding; i++)
		usleep(1000);
	assert_true(holding);
	wr(0x14, 0, 1);		/* returns at once */
	assert_int_equal(rd(0x14, 1), 0x0f);
	hold = false;
	for (int i = 0; i < 10000 && rd(0x14, 1); i++)
		usleep(1000);
	assert_int_equal(rd(0x14, 1), 0);
	memset(ram + AVAIL_GPA, 0, 0x1000);
	memset(ram + USED_GPA, 0, 0x1000);
	restart_queue0();
	assert_int_equal(rd(0x14, 1), 0x0f);
	post(0, 4, 0, 0, 512, true, false);
	wait_used(0, 1);
	assert_int_equal(*status_of(4), 0);
}

static void test_many_queues(void **state)
{
	/* Two queues, several requests in flight on each, served by the
	 * pool in any order: every one completes with the right data. */
	open_disk(false, 2);
	assert_int_equal(rd(0x2000 + 34, 2), 2);
	for (unsigned d = 0; d < 15; d += 3) {
		memset(ram + data_gpa(d), (int)(0x10 + d), 4096);
		post(0, d, 1, 8 * d, 4096, false, false);
	}
	for (unsigned d = 0; d < 15; d += 3) {
		memset(ram + data_gpa(d) + 0x1000, (int)(0x80 + d), 4096);
		/* queue 1: its own descriptors, data right after queue 0's */
		struct virtq_desc *t = qdesc(1);
		uint16_t *a = qavail(1);
		uint32_t type = 1;
		uint64_t sector = 8 * d + 512;

		memcpy(ram + hdr_gpa(d) + 0x80, &type, 4);
		memcpy(ram + hdr_gpa(d) + 0x88, &sector, 8);
		t[d] = (struct virtq_desc){ hdr_gpa(d) + 0x80, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1) };
		t[d + 1] = (struct virtq_desc){ data_gpa(d) + 0x1000, 4096, VIRTQ_DESC_F_NEXT,
						 (uint16_t)(d + 2) };
		t[d + 2] = (struct virtq_desc){ hdr_gpa(d) + 0xc0, 1, VIRTQ_DESC_F_WRITE, 0 };
		a[2 + a[1] % QSZ] = (uint16_t)d;
		__atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
		wr(0x3004, 1, 2);
	}
	wait_used(0, 5);
	wait_used(1, 5);
	for (unsigned d = 0; d < 15; d += 3) {
		uint8_t buf[4096];

		file_read(8 * d * 512, buf, 4096);
		assert_int_equal(buf[0], 0x10 + d);
		assert_int_equal(buf[4095], 0x10 + d);
		file_read((8 * d + 512) * 512, buf, 4096);
		assert_int_equal(buf[0], 0x80 + d);
		assert_int_equal(ram[hdr_gpa(d) + 0xc0], 0);
	}
}

static void test_bad_config(void **state)
{
	struct vblk_config c = { .path = "/nonexistent/disk.img", .queues = 1, .map = ram_map,
				 .msi_send = msi, .name = "vdb" };
	struct vblk *b;
	char err[256];

	io = iobus_new();
	bus = pci_bus_new(set_irq, NULL);
	assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	c.path = "/tmp";
	assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -EISDIR);
	c.readonly = true;
	assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	c.readonly = false;
	c.path = path;
	c.queues = 0;
	assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -EINVAL);
	/* An image in use by another writer is refused. */
	c.queues = 1;
	assert_int_equal(vblk_new(bus, &c, &blk, err, sizeof(err)), 0);
	assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -EWOULDBLOCK);
	assert_non_null(strstr(err, "in use"));
	/* An empty file is no disk. */
	{
		char p2[64] = "/tmp/amalgam-blk-XXXXXX";
		int fd = mkstemp(p2);

		close(fd);
		c.path = p2;
		assert_int_equal(vblk_new(bus, &c, &b, err, sizeof(err)), -EINVAL);
		unlink(p2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
