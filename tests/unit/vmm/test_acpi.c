/* Unit tests for the ACPI tables: a guest's view of them, read the way an
 * OS does (RSDP -> XSDT -> tables, checksums, entries), not by peeking at
 * the builder's structs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/mem.h"
#include "x86/acpi.h"
#include "x86/aml.h"
#include "x86/topo.h"

static uint8_t buf[ACPI_MAX];

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static const uint8_t *at(uint64_t gpa)
{
	assert_true(gpa >= ACPI_BASE && gpa < ACPI_BASE + ACPI_MAX);
	return buf + (gpa - ACPI_BASE);
}

/* The table with this signature, found through RSDP and XSDT; checks
 * every checksum on the way. NULL if the XSDT does not list it. */
static const uint8_t *find(const char *sig)
{
	const uint8_t *rsdp = buf, *xsdt;
	unsigned n;

	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(rd32(rsdp + 20), 36);
	assert_int_equal(sum(rsdp, 36), 0);
	assert_true(rsdp[15] >= 2);
	xsdt = at(rd64(rsdp + 24));
	assert_memory_equal(xsdt, "XSDT", 4);
	assert_int_equal(sum(xsdt, rd32(xsdt + 4)), 0);
	n = (rd32(xsdt + 4) - 36) / 8;
	{
		/* The RSDT lists the same tables, with 32-bit addresses. */
		const uint8_t *rsdt = at(rd32(rsdp + 16));

		assert_memory_equal(rsdt, "RSDT", 4);
		assert_int_equal(rd32(rsdt + 4), 36 + 4 * n);
		assert_int_equal(sum(rsdt, rd32(rsdt + 4)), 0);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(rd32(rsdt + 36 + 4 * i), rd64(xsdt + 36 + 8 * i));
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *t = at(rd64(xsdt + 36 + 8 * i));

		assert_int_equal(sum(t, rd32(t + 4)), 0);
		if (!memcmp(t, sig, 4))
			return t;
	}
	return NULL;
}

static struct topo topo;

/* cpus vCPUs on node[] (NULL: one node). */
static struct acpi_config base_cfg(unsigned cpus, const uint8_t *node)
{
	assert_int_equal(topo_init(&topo, cpus, node), 0);
	return (struct acpi_config){
		.topo = &topo, .nr_nodes = 1, .ioapic_base = 0xFEC00000,
		.sci_irq = 9, .pm1_base = 0x600,
		.slp_typ_s5 = 5, .reset_port = 0x64, .reset_value = 0xfe,
	};
}

static void test_fadt_poweroff(void **state)
{
	struct acpi_config c = base_cfg(2, NULL);
	const uint8_t *f, *dsdt, *facs;
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12 };
	const uint8_t *p;

	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	f = find("FACP");
	assert_non_null(f);
	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(rd16(f + 46), 9);		/* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);		/* SMI_CMD: always ACPI mode */
	assert_int_equal(rd32(f + 56), 0x600);		/* PM1a_EVT_BLK */
	assert_int_equal(rd32(f + 64), 0x604);		/* PM1a_CNT_BLK */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(rd64(f + 172 + 4), 0x604);	/* X_PM1a_CNT_BLK address */
	assert_int_equal(f[172], 1);			/* ... in I/O space */
	assert_true(rd32(f + 112) & (1u << 10));	/* RESET_REG_SUP */
	assert_int_equal(rd64(f + 116 + 4), 0x64);
	assert_int_equal(f[128], 0xfe);
	facs = at(rd64(f + 132));
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal((rd64(f + 132)) & 63, 0);
	dsdt = at(rd64(f + 140));
	assert_int_equal(rd32(f + 40), rd64(f + 140));
	assert_memory_equal(dsdt, "DSDT", 4);
	assert_int_equal(sum(dsdt, rd32(dsdt + 4)), 0);
	p = memmem(dsdt + 36, rd32(dsdt + 4) - 36, s5, sizeof(s5));
	assert_non_null(p);
	assert_int_equal(p[8], 0x0a);	/* first element: a byte ... */
	assert_int_equal(p[9], 5);	/* ... the S5 sleep type */
	/* One node: no NUMA tables. */
	assert_null(find("SRAT"));
	assert_null(find("SLIT"));
}


/* A PkgLength at p: its value and how many bytes it took. */
static unsigned pkglen(const uint8_t *p, unsigned *bytes)
{
	unsigned n = p[0] >> 6, v = n ? p[0] & 0xf : p[0] & 0x3f;

	for (unsigned i = 0; i < n; i++)
		v |= (unsigned)p[1 + i] << (4 + 8 * i);
	*bytes = n + 1;
	return v;
}

static void test_aml_pkglength(void **state)
{
	/* Contents around each PkgLength size boundary: the length counts
	 * itself, is minimal, and the content follows it unchanged. */
	static const unsigned sizes[] = { 0, 1, 61, 62, 63, 64, 4090, 4093, 4094, 5000,
					  70000 };
	static uint8_t out[80000], pad[75000];

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct aml a;
		unsigned n, len, want_bytes;
		int used;

		memset(pad, 0x5a, sizeof(pad));
		aml_init(&a, out, sizeof(out));
		aml_package_open(&a, 0);
		aml_bytes(&a, pad, sizes[i] ? sizes[i] - 1 : 0);	/* + NumElements */
		aml_close(&a);
		used = aml_finish(&a);
		assert_true(used > 0);
		assert_int_equal(out[0], 0x12);
		len = pkglen(out + 1, &n);
		want_bytes = len < 64 ? 1 : len < (1u << 12) ? 2 : len < (1u << 20) ? 3 : 4;
		assert_int_equal(n, want_bytes);
		assert_int_equal(len, (unsigned)used - 1);
		assert_int_equal(len, n + (sizes[i] ? sizes[i] : 1));
	}
}

static void test_aml_errors(void **state)
{
	uint8_t out[64];
	struct aml a;

	aml_init(&a, out, sizeof(out));
	aml_device_open(&a, "PCI0");
	assert_int_equal(aml_finish(&a), -EINVAL);	/* unbalanced */
	aml_init(&a, out, sizeof(out));
	aml_close(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, out, sizeof(out));
	aml_name(&a, "TOOLONG");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, out, 8);
	aml_package_open(&a, 3);
	aml_int(&a, 0x1234567890ULL);
	aml_close(&a);
	assert_int_equal(aml_finish(&a), -ENOSPC);
	/* Buffer(size) counts what follows its size. */
	aml_init(&a, out, sizeof(out));
	aml_buffer_open(&a);
	aml_end_tag(&a);
	aml_close(&a);
	assert_int_equal(aml_finish(&a), 9);
	assert_int_equal(out[0], 0x11);
	assert_int_equal(out[1], 8);
	assert_int_equal(out[2], 0x0c);
	assert_int_equal(rd32(out + 3), 2);
}

static struct acpi_config pci_cfg(void)
{
	struct acpi_config c = base_cfg(2, NULL);

	c.pci_ecam_base = 0xE0000000;
	c.pci_ecam_size = 1 << 20;
	c.pci_mmio_base = 0xC0000000;
	c.pci_mmio_size = 0x20000000;
	c.pci_intx_gsi_base = 16;
	return c;
}

static void test_pci_tables(void **state)
{
	struct acpi_config c = pci_cfg();
	const uint8_t *m, *f, *dsdt, *p, *end;
	static const uint8_t pci0[] = { 0x5b, 0x82 };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t mres[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	static const uint8_t prt[] = { 0x08, '_', 'P', 'R', 'T', 0x12 };
	/* DWordMemory: the BAR window. */
	static const uint8_t win[] = { 0x87, 23, 0, 0, 0x0c, 1, 0, 0, 0, 0,
				       0, 0, 0, 0xc0, 0xff, 0xff, 0xff, 0xdf };
	unsigned n, len;

	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	m = find("MCFG");
	assert_non_null(m);
	assert_int_equal(rd32(m + 4), 60);
	assert_int_equal(rd64(m + 44), 0xE0000000);
	assert_int_equal(rd16(m + 52), 0);	/* segment */
	assert_int_equal(m[54], 0);		/* buses 0 .. 0 */
	assert_int_equal(m[55], 0);
	f = find("FACP");
	dsdt = at(rd64(f + 140));
	end = dsdt + rd32(dsdt + 4);
	/* Scope (\_SB) runs exactly to the end of the table. */
	p = memmem(dsdt + 36, (size_t)(end - dsdt - 36), "\x10", 1);
	assert_non_null(p);
	len = pkglen(p + 1, &n);
	assert_ptr_equal(p + 1 + len, end);
	assert_memory_equal(p + 1 + n, "\\_SB_", 5);
	p = memmem(p, (size_t)(end - p), pci0, 2);
	assert_non_null(p);
	len = pkglen(p + 2, &n);
	assert_memory_equal(p + 2 + n, "PCI0", 4);
	assert_true(p + 2 + len < end);
	assert_non_null(memmem(p, len, hid, sizeof(hid)));
	assert_non_null(memmem(p, len, win, sizeof(win)));
	p = memmem(p, len, prt, sizeof(prt));
	assert_non_null(p);
	{
		/* 128 entries; the entry for slot 3 pin 2 says GSI 16 + 5 % 4. */
		unsigned nb, plen = pkglen(p + 6, &nb);
		const uint8_t *e = p + 6 + nb;
		static const uint8_t slot3b[] = { 0x12, 0x0c, 0x04, 0x0c, 0xff, 0xff, 0x03,
						  0x00, 0x0a, 0x02, 0x00, 0x0a, 17 };

		assert_int_equal(*e, 128);
		assert_non_null(memmem(e, plen, slot3b, sizeof(slot3b)));
	}
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), mres, sizeof(mres)));
	/* Without PCI: no MCFG, no PCI0. */
	c = base_cfg(2, NULL);
	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	assert_null(find("MCFG"));
	f = find("FACP");
	dsdt = at(rd64(f + 140));
	assert_null(memmem(dsdt, rd32(dsdt + 4), "PCI0", 4));
	/* A window or ECAM that cannot be described is refused. */
	c = pci_cfg();
	c.pci_ecam_size = 4096;
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, &c), -EINVAL);
	c = pci_cfg();
	c.pci_mmio_size = 0x40000001u;
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, &c), -EINVAL);
}

/* For tests/unit/vmm/iasl.sh: write the DSDT and MCFG with PCI to DIR, so
 * that ACPICA's own disassembler can check them. */
static void dump_pci_tables(const char *dir)
{
	struct acpi_config c = pci_cfg();
	const char *sigs[] = { "DSDT", "MCFG" };

	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	for (int i = 0; i < 2; i++) {
		const uint8_t *t = i ? find("MCFG") : at(rd64(find("FACP") + 140));
		char path[512];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s.dat", dir, sigs[i]);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(t, 1, rd32(t + 4), fp), rd32(t + 4));
		fclose(fp);
	}
}

static void test_madt(void **state)
{
	struct acpi_config c = base_cfg(6, NULL);
	const uint8_t *m, *e, *end;
	unsigned lapics = 0, ioapics = 0, nmis = 0;
	int irq0_gsi = -1;

	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	m = find("APIC");
	assert_non_null(m);
	assert_int_equal(rd32(m + 36), 0xFEE00000u);
	assert_int_equal(rd32(m + 40) & 1, 1);
	end = m + rd32(m + 4);
	for (e = m + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[3], lapics);	/* APIC id */
			assert_int_equal(rd32(e + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[2], 6);
			assert_int_equal(rd32(e + 4), 0xFEC00000u);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			if (e[3] == 0)
				irq0_gsi = (int)rd32(e + 4);
			if (e[3] == 9)
				assert_int_equal(rd16(e + 8), 0xd);	/* level, high */
			break;
		case 4:
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, 6);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_int_equal(irq0_gsi, 2);
}

static void test_numa(void **state)
{
	/* 3 nodes, 5 vCPUs placed [0 1][2 3][4], 4 GiB of RAM of which 3 GiB
	 * below the hole: node 2's share straddles it. */
	uint8_t place[5] = { 0, 0, 1, 1, 2 };
	uint64_t ram = 4ULL << 30, low = MEM_LOW_LIMIT;
	uint64_t end[3] = { (ram / 3) / 4096, (2 * ram / 3) / 4096, ram / 4096 };
	struct acpi_mem_range r[6];
	unsigned nr = acpi_node_ranges(ram, low, end, 3, r, 6);
	struct acpi_config c = base_cfg(5, place);
	const uint8_t *s, *e, *sl;
	uint64_t covered = 0;
	unsigned cpus = 0, mems = 0;

	assert_int_equal(nr, 4);
	assert_int_equal(r[0].base, 0);
	assert_int_equal(r[0].node, 0);
	assert_int_equal(r[1].base, r[0].size);
	assert_int_equal(r[1].base + r[1].size, end[1] * 4096);
	assert_int_equal(r[1].node, 1);
	assert_int_equal(r[2].base, end[1] * 4096);
	assert_int_equal(r[2].base + r[2].size, low);
	assert_int_equal(r[2].node, 2);
	assert_int_equal(r[3].base, MEM_HIGH_BASE);
	assert_int_equal(r[3].base + r[3].size, MEM_HIGH_BASE + ram - low);
	assert_int_equal(r[3].node, 2);

	c.nr_nodes = 3;
	c.mem = r;
	c.nr_mem = nr;
	assert_true(acpi_build(buf, sizeof(buf), ACPI_BASE, &c) > 0);
	s = find("SRAT");
	assert_non_null(s);
	for (e = s + 48; e < s + rd32(s + 4); e += e[1]) {
		if (e[0] == 0) {
			assert_int_equal(e[1], 16);
			/* APIC ids package << 3 | rank, packages in node
			 * order here: domain of APIC id. */
			assert_int_equal(e[2], e[3] >> 3);
			assert_int_equal(e[3], topo.apic_id[cpus]);
			assert_int_equal(rd32(e + 4) & 1, 1);
			cpus++;
		} else {
			assert_int_equal(e[0], 1);
			assert_int_equal(e[1], 40);
			assert_int_equal(rd32(e + 2), r[mems].node);
			assert_int_equal(rd64(e + 8), r[mems].base);
			assert_int_equal(rd64(e + 16), r[mems].size);
			assert_int_equal(rd32(e + 28) & 1, 1);
			covered += rd64(e + 16);
			mems++;
		}
	}
	assert_int_equal(cpus, 5);
	assert_int_equal(mems, 4);
	assert_int_equal(covered, ram);

	sl = find("SLIT");
	assert_non_null(sl);
	assert_int_equal(rd64(sl + 36), 3);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 3; j++)
			assert_int_equal(sl[44 + 3 * i + j],
					 i == j ? ACPI_LOCAL_DISTANCE : ACPI_REMOTE_DISTANCE);
}

static void test_node_ranges_cpu_only_node(void **state)
{
	/* Node 1 contributes CPUs only (an empty home range). */
	uint64_t end[3] = { 1000, 1000, 3000 };
	struct acpi_mem_range r[6];
	unsigned nr = acpi_node_ranges(3000 * 4096ULL, MEM_LOW_LIMIT, end, 3, r, 6);

	assert_int_equal(nr, 2);
	assert_int_equal(r[0].node, 0);
	assert_int_equal(r[1].node, 2);
	assert_int_equal(r[1].base, 1000 * 4096ULL);
	assert_int_equal(r[1].size, 2000 * 4096ULL);
}

static void test_rejects(void **state)
{
	uint8_t place[4] = { 0, 0, 1, 2 };
	struct acpi_config c = base_cfg(4, NULL);

	assert_int_equal(acpi_build(buf, 64, ACPI_BASE, &c), -ENOSPC);
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE + 4, &c), -EINVAL);
	c = base_cfg(4, place);
	c.nr_nodes = 2;		/* vCPU 3 on node 2 of 2 */
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, &c), -EINVAL);
	c = base_cfg(4, NULL);
	topo.ioapic_id = 2;	/* collides with a vCPU's APIC id */
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, &c), -EINVAL);
	c.topo = NULL;
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, &c), -EINVAL);
}

static void test_topo(void **state)
{
	struct topo t;
	static const uint8_t two[4] = { 0, 0, 1, 1 };
	static const uint8_t three[4] = { 0, 0, 1, 2 };
	static const uint8_t big[20] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	uint8_t bad[2] = { 0, 16 };

	/* One node: APIC id = vCPU index, as before NUMA. */
	assert_int_equal(topo_init(&t, 6, NULL), 0);
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(t.apic_id[i], i);
		assert_int_equal(t.index_of[i], i);
		assert_int_equal(t.cores[i], 6);
	}
	assert_int_equal(t.shift, 3);
	assert_int_equal(t.ioapic_id, 6);
	assert_int_equal(t.index_of[6], TOPO_NO_CPU);

	/* Several nodes: the package (apic_id >> shift) is the node, and
	 * shift is at least 3 (AMD 17h: LLC = apic_id >> 3). */
	assert_int_equal(topo_init(&t, 4, two), 0);
	assert_int_equal(t.shift, 3);
	assert_int_equal(t.apic_id[2], 8);
	assert_int_equal(t.apic_id[3], 9);
	assert_int_equal(t.index_of[9], 3);
	assert_int_equal(t.cores[3], 2);
	assert_int_equal(t.ioapic_id, 10);

	assert_int_equal(topo_init(&t, 4, three), 0);
	assert_int_equal(t.apic_id[3], 16);
	assert_int_equal(t.cores[0], 2);
	assert_int_equal(t.cores[3], 1);

	assert_int_equal(topo_init(&t, 20, big), 0);
	assert_int_equal(t.shift, 4);
	assert_int_equal(t.apic_id[10], 16);
	assert_int_equal(t.apic_id[19], 25);
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(t.apic_id[i] >> t.shift, big[i]);

	/* The BSP's node comes first: vCPU 0 has APIC id 0 wherever it runs. */
	{
		static const uint8_t rev[3] = { 2, 0, 2 };

		assert_int_equal(topo_init(&t, 3, rev), 0);
		assert_int_equal(t.apic_id[0], 0);
		assert_int_equal(t.apic_id[1], 8);
		assert_int_equal(t.apic_id[2], 1);
		assert_int_equal(t.package[1], 1);
		assert_int_equal(t.node[2], 2);
	}
	assert_int_equal(topo_init(&t, 2, bad), -EINVAL);
	assert_int_equal(topo_init(&t, 0, NULL), -EINVAL);
	assert_int_equal(topo_init(&t, TOPO_MAX_CPUS + 1, NULL), -EINVAL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--dump")) {
		dump_pci_tables(argv[2]);
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fadt_poweroff),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_aml_pkglength),
		cmocka_unit_test(test_aml_errors),
		cmocka_unit_test(test_pci_tables),
		cmocka_unit_test(test_numa),
		cmocka_unit_test(test_node_ranges_cpu_only_node),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_topo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
