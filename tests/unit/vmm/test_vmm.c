/* Unit tests for the VMM's pure parts: the I/O registry, size parsing, the
 * MP table and the boot loader's image checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/parse.h"
#include "hw/iobus.h"
#include "hw/mem.h"
#include "x86/boot.h"
#include "x86/mptable.h"
#include "x86/topo.h"

static int last_off, calls;

static int fn(void *opaque, struct vcpu *v, uint64_t off, void *data,
	      unsigned len, bool is_write)
{
	last_off = (int)off;
	calls++;
	if (!is_write)
		memset(data, (int)(intptr_t)opaque, len);
	return 0;
}

static void test_iobus(void **state)
{
	struct iobus *bus = iobus_new();
	struct iobus_stats st;
	uint8_t b[4];

	assert_int_equal(iobus_register(bus, IO_PIO, 0x3f8, 8, fn, (void *)0x11, "uart"), 0);
	assert_int_equal(iobus_register(bus, IO_PIO, 0x70, 2, fn, (void *)0x22, "rtc"), 0);
	assert_int_equal(iobus_register(bus, IO_PIO, 0x3fc, 8, fn, NULL, "x"), -EEXIST);
	assert_int_equal(iobus_register(bus, IO_PIO, 0x3f0, 9, fn, NULL, "x"), -EEXIST);
	assert_int_equal(iobus_register(bus, IO_PIO, 0x400, 0, fn, NULL, "x"), -EINVAL);
	assert_int_equal(iobus_register(bus, IO_MMIO, 0x3f8, 8, fn, (void *)0x33, "m"), 0);

	iobus_access(bus, IO_PIO, NULL, 0x3fd, b, 1, false);
	assert_int_equal(last_off, 5);
	assert_int_equal(b[0], 0x11);
	iobus_access(bus, IO_PIO, NULL, 0x71, b, 1, false);
	assert_int_equal(b[0], 0x22);
	calls = 0;
	iobus_access(bus, IO_PIO, NULL, 0x3f7, b, 2, false);	/* just below */
	assert_int_equal(calls, 0);
	assert_int_equal(b[0], 0xff);
	assert_int_equal(b[1], 0xff);
	assert_string_equal(iobus_owner(bus, IO_PIO, 0x3ff), "uart");
	assert_null(iobus_owner(bus, IO_PIO, 0x400));
	iobus_stats(bus, &st);
	assert_int_equal(st.accesses[IO_PIO], 3);
	assert_int_equal(st.unclaimed[IO_PIO], 1);
	iobus_free(bus);
}

static void test_parse(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("12X", &v), -EINVAL);
	assert_int_equal(parse_size("-1G", &v), -EINVAL);
	assert_int_equal(parse_size("", &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999T", &v), -EINVAL);
	assert_int_equal(parse_uint("4", 1, 64, &v), 0);
	assert_int_equal(parse_uint("0", 1, 64, &v), -ERANGE);
	assert_int_equal(parse_uint("65", 1, 64, &v), -ERANGE);
	assert_int_equal(parse_uint("4x", 1, 64, &v), -EINVAL);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	static uint8_t buf[MPTABLE_MAX];
	/* Two nodes: APIC ids 0, 1 and 8, 9; the IOAPIC above them. */
	static const uint8_t place[4] = { 0, 0, 1, 1 };
	static const uint8_t ids[4] = { 0, 1, 8, 9 };
	struct topo t;
	int n, ioapics = 0;
	uint16_t len, count;
	uint32_t ptr;
	int cpus = 0;
	const uint8_t *h, *p;

	assert_int_equal(topo_init(&t, 4, place), 0);
	n = mptable_build(buf, sizeof(buf), MPTABLE_BASE, &t, 0xFEC00000);
	assert_true(n > 0);
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(sum(buf, 16), 0);
	memcpy(&ptr, buf + 4, 4);
	assert_int_equal(ptr, MPTABLE_BASE + 16);
	h = buf + 16;
	assert_memory_equal(h, "PCMP", 4);
	memcpy(&len, h + 4, 2);
	memcpy(&count, h + 34, 2);
	assert_int_equal(sum(h, len), 0);
	p = h + 44;
	for (int i = 0; i < count; i++) {
		if (p[0] == 0) {
			assert_int_equal(p[1], ids[cpus]);
			assert_int_equal(!!(p[3] & 2), cpus == 0);
			cpus++;
			p += 20;
		} else {
			if (p[0] == 2) {
				assert_int_equal(p[1], 10);
				ioapics++;
			}
			if (p[0] == 3)
				assert_int_equal(p[6], 10);	/* routed to the IOAPIC */
			p += 8;
		}
	}
	assert_int_equal(cpus, 4);
	assert_int_equal(ioapics, 1);
	assert_ptr_equal(p, h + len);
	assert_int_equal(mptable_build(buf, 64, MPTABLE_BASE, &t, 0xFEC00000), -ENOSPC);
}

static char *write_tmp(const void *data, size_t len)
{
	char *path = strdup("/tmp/amalgam-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_boot_rejects(void **state)
{
	struct guest_mem mem;
	struct topo t;
	struct boot_config bc = { .topo = &t, .ioapic_base = 0xFEC00000 };
	struct boot_entry e;
	char err[256];
	static uint8_t junk[8192];
	char *path;

	assert_int_equal(topo_init(&t, 1, NULL), 0);
	assert_int_equal(guest_mem_init(&mem, 64 << 20), 0);
	bc.kernel = "/nonexistent/kernel";
	assert_int_equal(boot_load(&mem, &bc, &e, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/kernel"));

	memset(junk, 0x5a, sizeof(junk));
	path = write_tmp(junk, sizeof(junk));
	bc.kernel = path;
	assert_int_equal(boot_load(&mem, &bc, &e, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not a Linux bzImage"));
	unlink(path);
	free(path);

	/* An old (2.02) bzImage header: no 64-bit entry. */
	memset(junk, 0, sizeof(junk));
	memcpy(junk + 0x202, "HdrS", 4);
	junk[0x1fe] = 0x55;
	junk[0x1ff] = 0xaa;
	junk[0x206] = 0x02;
	junk[0x207] = 0x02;
	path = write_tmp(junk, sizeof(junk));
	bc.kernel = path;
	assert_int_equal(boot_load(&mem, &bc, &e, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "64-bit entry"));
	unlink(path);
	free(path);

	/* A truncated ELF. */
	memset(junk, 0, sizeof(junk));
	memcpy(junk, "\177ELF", 4);
	path = write_tmp(junk, 64);
	bc.kernel = path;
	assert_int_equal(boot_load(&mem, &bc, &e, err, sizeof(err)), -ENOEXEC);
	unlink(path);
	free(path);
	guest_mem_destroy(&mem);
}

static void test_mem_layout(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 4ULL << 30), 0);
	assert_int_equal(m.low_size, MEM_LOW_LIMIT);
	assert_int_equal(guest_mem_offset(&m, 0x1000), 0x1000);
	assert_int_equal(guest_mem_offset(&m, MEM_LOW_LIMIT), -1);
	assert_int_equal(guest_mem_offset(&m, MEM_HIGH_BASE), (int64_t)MEM_LOW_LIMIT);
	assert_null(guest_mem_hva(&m, MEM_LOW_LIMIT - 8, 16));	/* straddles the hole */
	assert_non_null(guest_mem_hva(&m, MEM_HIGH_BASE + 4096, 4096));
	assert_null(guest_mem_hva(&m, MEM_HIGH_BASE + (1ULL << 30), 1));
	/* Both views see one memory. */
	m.hyp_view[12345] = 0x77;
	assert_int_equal(m.guest_view[12345], 0x77);
	guest_mem_destroy(&m);
	assert_int_equal(guest_mem_init(&m, 1 << 20), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iobus),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_boot_rejects),
		cmocka_unit_test(test_mem_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
