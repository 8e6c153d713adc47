#include "x86/acpi.h"

#include <errno.h>
#include <string.h>

#include "hw/mem.h"
#include "x86/aml.h"
#include "x86/fwsum.h"
#include "x86/topo.h"

/* Layouts from the ACPI specification (6.x), chapter 5. */

struct rsdp {
	char sig[8];
	uint8_t checksum;	/* first 20 bytes */
	char oem[6];
	uint8_t revision;	/* 2: ACPI 2.0+, has the XSDT */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;	/* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct rsdp) == 36, "RSDP is 36 bytes");

struct sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem[6];
	char oem_table[8];
	uint32_t oem_revision;
	char creator[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct sdt) == 36, "table header is 36 bytes");

/* Generic Address Structure. */
struct gas {
	uint8_t space;		/* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access;		/* 1 byte, 2 word, 3 dword */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct gas) == 12, "GAS is 12 bytes");

struct fadt {
	struct sdt h;
	uint32_t facs, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr;
	uint32_t gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_len, gpe1_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_facs, x_dsdt;
	struct gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt;
	struct gas x_pm_tmr, x_gpe0, x_gpe1, sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct fadt) == 276, "FADT (ACPI 6) is 276 bytes");

#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4)	/* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5)	/* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_ARCH_8042 (1u << 1)

struct facs {
	char sig[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));
_Static_assert(sizeof(struct facs) == 64, "FACS is 64 bytes");

struct madt {
	struct sdt h;
	uint32_t lapic_addr;
	uint32_t flags;		/* bit 0: PC-AT dual 8259 present */
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length;	/* 0, 8 */
	uint8_t uid, apic_id;
	uint32_t flags;		/* bit 0 enabled */
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;	/* 1, 12 */
	uint8_t id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override {
	uint8_t type, length;	/* 2, 10 */
	uint8_t bus, source;
	uint32_t gsi;
	uint16_t flags;		/* polarity bits 1:0, trigger bits 3:2 */
} __attribute__((packed));

struct madt_nmi {
	uint8_t type, length;	/* 4, 6 */
	uint8_t uid;		/* 0xff: every processor */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MPS_ACTIVE_HIGH 0x1
#define MPS_LEVEL 0xc

struct srat {
	struct sdt h;
	uint32_t table_revision;	/* 1 */
	uint64_t reserved;
} __attribute__((packed));

struct srat_cpu {
	uint8_t type, length;	/* 0, 16 */
	uint8_t domain_lo, apic_id;
	uint32_t flags;		/* bit 0 enabled */
	uint8_t sapic_eid;
	uint8_t domain_hi[3];
	uint32_t clock_domain;
} __attribute__((packed));
_Static_assert(sizeof(struct srat_cpu) == 16, "SRAT CPU entry is 16 bytes");

struct srat_mem {
	uint8_t type, length;	/* 1, 40 */
	uint32_t domain;
	uint16_t reserved;
	uint32_t base_lo, base_hi, length_lo, length_hi;
	uint32_t reserved2;
	uint32_t flags;		/* bit 0 enabled */
	uint64_t reserved3;
} __attribute__((packed));
_Static_assert(sizeof(struct srat_mem) == 40, "SRAT memory entry is 40 bytes");

struct slit {
	struct sdt h;
	uint64_t localities;
} __attribute__((packed));

/* The DSDT's AML: Name (_S5, Package () { S5, S5, 0, 0 }), the sleep type
 * values for PM1a and PM1b control; and with PCI the root bridge
 * (pci_aml). The guest finds its legacy devices by the probes it already
 * uses without ACPI. */
static const uint8_t aml_s5[] = {
	0x08, '_', 'S', '5', '_',	/* NameOp "_S5_" */
	0x12, 0x08, 0x04,		/* PackageOp, PkgLength 8, 4 elements */
	0x0a, 0x00,			/* BytePrefix SLP_TYPa (patched) */
	0x0a, 0x00,			/* BytePrefix SLP_TYPb (patched) */
	0x00, 0x00,			/* Zero, Zero */
};
#define AML_S5_TYPA 9
#define AML_S5_TYPB 11

struct builder {
	uint8_t *buf;
	size_t size, used;
	uint64_t gpa;
	int err;
};

/* Reserve len bytes at the next multiple of align; NULL once out of space
 * (the builder remembers and acpi_build fails as a whole). */
static void *take(struct builder *b, size_t len, size_t align)
{
	size_t at = (b->used + align - 1) & ~(align - 1);

	if (b->err || at + len > b->size) {
		b->err = -ENOSPC;
		return NULL;
	}
	b->used = at + len;
	return b->buf + at;
}

static uint64_t gpa_of(const struct builder *b, const void *p)
{
	return b->gpa + (uint64_t)((const uint8_t *)p - b->buf);
}

static void header(struct sdt *h, const char *sig, uint8_t revision)
{
	memcpy(h->sig, sig, 4);
	h->revision = revision;
	memcpy(h->oem, "AMALGM", 6);
	memcpy(h->oem_table, "AMALGAM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator, "AMLG", 4);
	h->creator_revision = 1;
}

/* Set the length from the builder's end and checksum the table; tables
 * are built one at a time, so the table runs to the end of what is used. */
static void finish(struct builder *b, struct sdt *h)
{
	h->length = (uint32_t)(b->used - ((uint8_t *)h - b->buf));
	h->checksum = 0;
	h->checksum = fw_checksum(h, h->length);
}

static struct gas io_gas(uint16_t port, unsigned bytes)
{
	return (struct gas){
		.space = 1, .bit_width = (uint8_t)(bytes * 8),
		.access = bytes == 1 ? 1 : bytes == 2 ? 2 : 3, .address = port,
	};
}

struct mcfg {
	struct sdt h;
	uint64_t reserved;
	uint64_t base;		/* one allocation: segment 0 */
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved2;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg) == 60, "MCFG with one allocation is 60 bytes");

/* Scope (\_SB) { Device (PCI0) {...} Device (MRES) {...} } */
static void pci_aml(struct aml *a, const struct acpi_config *cfg)
{
	unsigned last_bus = (unsigned)(cfg->pci_ecam_size >> 20) - 1;

	aml_scope_open(a, "\\_SB_");
	aml_device_open(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");	/* PCI Express root bridge */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");	/* PCI root bridge */
	aml_name(a, "_SEG");
	aml_int(a, 0);
	aml_name(a, "_UID");
	aml_int(a, 0);
	aml_name(a, "_BBN");
	aml_int(a, 0);
	aml_name(a, "_CRS");
	aml_buffer_open(a);
	aml_res_bus(a, 0, (uint16_t)last_bus);
	aml_res_io(a, 0xcf8, 8);
	aml_res_word_io(a, 0x0000, 0x0cf7);
	aml_res_word_io(a, 0x0d00, 0xffff);
	aml_res_dword_mem(a, cfg->pci_mmio_base,
			  cfg->pci_mmio_base + cfg->pci_mmio_size - 1);
	aml_end_tag(a);
	aml_close(a);
	/* Every slot's four pins: no link devices, GSIs directly. */
	aml_name(a, "_PRT");
	aml_package_open(a, 128);
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_open(a, 4);
			aml_int(a, (uint64_t)slot << 16 | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, cfg->pci_intx_gsi_base + (slot + pin) % 4);
			aml_close(a);
		}
	}
	aml_close(a);
	aml_close(a);	/* PCI0 */
	aml_device_open(a, "MRES");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_CRS");
	aml_buffer_open(a);
	aml_res_mem32_fixed(a, (uint32_t)cfg->pci_ecam_base, (uint32_t)cfg->pci_ecam_size);
	aml_end_tag(a);
	aml_close(a);
	aml_close(a);	/* MRES */
	aml_close(a);	/* \_SB */
}

static struct sdt *build_dsdt(struct builder *b, const struct acpi_config *cfg)
{
	struct sdt *h = take(b, sizeof(*h), 16);
	uint8_t *aml = take(b, sizeof(aml_s5), 1);

	if (!aml)
		return NULL;
	header(h, "DSDT", 2);
	memcpy(aml, aml_s5, sizeof(aml_s5));
	aml[AML_S5_TYPA] = cfg->slp_typ_s5;
	aml[AML_S5_TYPB] = cfg->slp_typ_s5;
	if (cfg->pci_ecam_size) {
		struct aml a;
		int n;

		aml_init(&a, b->buf + b->used, b->size - b->used);
		pci_aml(&a, cfg);
		n = aml_finish(&a);
		if (n < 0) {
			b->err = n;
			return NULL;
		}
		b->used += (size_t)n;
	}
	finish(b, h);
	return h;
}

static struct sdt *build_mcfg(struct builder *b, const struct acpi_config *cfg)
{
	struct mcfg *m = take(b, sizeof(*m), 16);

	if (!m)
		return NULL;
	header(&m->h, "MCFG", 1);
	m->base = cfg->pci_ecam_base;
	m->end_bus = (uint8_t)((cfg->pci_ecam_size >> 20) - 1);
	finish(b, &m->h);
	return &m->h;
}

static struct sdt *build_fadt(struct builder *b, const struct acpi_config *cfg,
			      const struct facs *facs, const struct sdt *dsdt)
{
	struct fadt *f = take(b, sizeof(*f), 16);

	if (!f)
		return NULL;
	header(&f->h, "FACP", 6);
	/* The spec wants FIRMWARE_CTRL zero when X_FIRMWARE_CTRL is set. */
	f->dsdt = (uint32_t)gpa_of(b, dsdt);
	f->x_facs = gpa_of(b, facs);
	f->x_dsdt = gpa_of(b, dsdt);
	f->pm_profile = 4;	/* enterprise server */
	f->sci_int = cfg->sci_irq;
	/* SMI_CMD 0: no SMM handshake, the machine is always in ACPI mode. */
	f->smi_cmd = 0;
	f->pm1a_evt = cfg->pm1_base;
	f->pm1a_cnt = cfg->pm1_base + 4u;
	f->pm1_evt_len = 4;
	f->pm1_cnt_len = 2;
	f->x_pm1a_evt = io_gas(cfg->pm1_base, 4);
	f->x_pm1a_cnt = io_gas((uint16_t)(cfg->pm1_base + 4), 2);
	/* No PM timer (optional since ACPI 5.0A): a port read that may be
	 * forwarded to another node is a poor clock, and the guest would
	 * offer it to its clocksource watchdog. No GPE blocks, no C2/C3. */
	f->p_lvl2_lat = 101;	/* > 100: C2 not supported */
	f->p_lvl3_lat = 1001;	/* > 1000: C3 not supported */
	f->century = 0x32;	/* the RTC's century register */
	f->iapc_boot_arch = BOOT_ARCH_8042;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
		   FADT_RESET_REG_SUP;
	f->reset_reg = io_gas(cfg->reset_port, 1);
	f->reset_value = cfg->reset_value;
	f->minor_version = 0;
	memcpy(&f->hypervisor_id, "AMALGAM\0", 8);
	finish(b, &f->h);
	return &f->h;
}

static struct sdt *build_madt(struct builder *b, const struct acpi_config *cfg)
{
	struct madt *m = take(b, sizeof(*m), 16);

	if (!m)
		return NULL;
	header(&m->h, "APIC", 4);
	m->lapic_addr = 0xFEE00000u;
	m->flags = 1;
	for (unsigned i = 0; i < cfg->topo->nr_cpus; i++) {
		struct madt_lapic *l = take(b, sizeof(*l), 1);

		if (!l)
			return NULL;
		*l = (struct madt_lapic){ .type = 0, .length = sizeof(*l),
					  .uid = (uint8_t)i,
					  .apic_id = cfg->topo->apic_id[i], .flags = 1 };
	}
	{
		struct madt_ioapic *io = take(b, sizeof(*io), 1);

		if (!io)
			return NULL;
		*io = (struct madt_ioapic){ .type = 1, .length = sizeof(*io),
					    .id = cfg->topo->ioapic_id,
					    .address = (uint32_t)cfg->ioapic_base };
	}
	{
		/* As on a PC: the PIT's IRQ 0 is wired to IOAPIC pin 2 (pin 0
		 * takes the 8259's ExtINT), and the SCI is level-triggered,
		 * active high. Other ISA IRQs map to their own pins, edge, high. */
		struct madt_override *o = take(b, sizeof(*o), 1);
		struct madt_override *s = take(b, sizeof(*s), 1);

		if (!s)
			return NULL;
		*o = (struct madt_override){ .type = 2, .length = sizeof(*o),
					     .source = 0, .gsi = 2 };
		*s = (struct madt_override){ .type = 2, .length = sizeof(*s),
					     .source = cfg->sci_irq, .gsi = cfg->sci_irq,
					     .flags = MPS_ACTIVE_HIGH | MPS_LEVEL };
	}
	{
		struct madt_nmi *n = take(b, sizeof(*n), 1);

		if (!n)
			return NULL;
		*n = (struct madt_nmi){ .type = 4, .length = sizeof(*n),
					.uid = 0xff, .lint = 1 };
	}
	finish(b, &m->h);
	return &m->h;
}

static struct sdt *build_srat(struct builder *b, const struct acpi_config *cfg)
{
	struct srat *s = take(b, sizeof(*s), 16);

	if (!s)
		return NULL;
	header(&s->h, "SRAT", 3);
	s->table_revision = 1;
	for (unsigned i = 0; i < cfg->topo->nr_cpus; i++) {
		struct srat_cpu *c = take(b, sizeof(*c), 1);

		if (!c)
			return NULL;
		*c = (struct srat_cpu){ .type = 0, .length = sizeof(*c),
					.domain_lo = cfg->topo->node[i],
					.apic_id = cfg->topo->apic_id[i], .flags = 1 };
	}
	for (unsigned i = 0; i < cfg->nr_mem; i++) {
		const struct acpi_mem_range *r = &cfg->mem[i];
		struct srat_mem *m;

		if (!r->size)
			continue;
		m = take(b, sizeof(*m), 1);
		if (!m)
			return NULL;
		*m = (struct srat_mem){
			.type = 1, .length = sizeof(*m), .domain = r->node,
			.base_lo = (uint32_t)r->base, .base_hi = (uint32_t)(r->base >> 32),
			.length_lo = (uint32_t)r->size,
			.length_hi = (uint32_t)(r->size >> 32), .flags = 1,
		};
	}
	finish(b, &s->h);
	return &s->h;
}

static struct sdt *build_slit(struct builder *b, const struct acpi_config *cfg)
{
	struct slit *s = take(b, sizeof(*s), 16);
	uint8_t *d = take(b, (size_t)cfg->nr_nodes * cfg->nr_nodes, 1);

	if (!d)
		return NULL;
	header(&s->h, "SLIT", 1);
	s->localities = cfg->nr_nodes;
	for (unsigned i = 0; i < cfg->nr_nodes; i++)
		for (unsigned j = 0; j < cfg->nr_nodes; j++)
			d[i * cfg->nr_nodes + j] = i == j ? ACPI_LOCAL_DISTANCE
							  : ACPI_REMOTE_DISTANCE;
	finish(b, &s->h);
	return &s->h;
}

unsigned acpi_node_ranges(uint64_t ram_size, uint64_t low_size, const uint64_t *node_end,
			  unsigned nr_nodes, struct acpi_mem_range *out, unsigned max)
{
	unsigned n = 0;
	uint64_t start = 0;

	for (unsigned i = 0; i < nr_nodes && n + 2 <= max; i++) {
		uint64_t end = node_end[i] * 4096;

		if (end > ram_size)
			end = ram_size;
		if (end <= start)
			continue;	/* a node with CPUs only */
		if (start < low_size) {
			uint64_t e = end < low_size ? end : low_size;

			out[n++] = (struct acpi_mem_range){ start, e - start, i };
		}
		if (end > low_size) {
			uint64_t s = start > low_size ? start : low_size;

			out[n++] = (struct acpi_mem_range){
				MEM_HIGH_BASE + (s - low_size), end - s, i };
		}
		start = end;
	}
	return n;
}

static int check(const struct acpi_config *cfg)
{
	const struct topo *t = cfg->topo;

	if (!t || !t->nr_cpus || t->nr_cpus > TOPO_MAX_CPUS)
		return -EINVAL;
	if (!cfg->nr_nodes || cfg->nr_nodes > ACPI_MAX_NODES)
		return -EINVAL;
	if (cfg->ioapic_base >> 32)
		return -EINVAL;
	for (unsigned i = 0; i < t->nr_cpus; i++)
		if (t->apic_id[i] == t->ioapic_id ||
		    (cfg->nr_nodes > 1 && t->node[i] >= cfg->nr_nodes))
			return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_mem; i++)
		if (cfg->mem[i].node >= cfg->nr_nodes)
			return -EINVAL;
	if (cfg->pci_ecam_size &&
	    ((cfg->pci_ecam_size & ((1u << 20) - 1)) || cfg->pci_ecam_size > (256u << 20) ||
	     (cfg->pci_ecam_base + cfg->pci_ecam_size) >> 32 || !cfg->pci_mmio_size ||
	     (uint64_t)cfg->pci_mmio_base + cfg->pci_mmio_size > (1ULL << 32)))
		return -EINVAL;
	return 0;
}

int acpi_build(void *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg)
{
	struct builder b = { .buf = buf, .size = size, .gpa = gpa };
	struct sdt *tables[8];
	unsigned n = 0;
	struct rsdp *rsdp;
	struct sdt *rsdt, *xsdt, *dsdt;
	struct facs *facs;
	int r = check(cfg);

	if (r)
		return r;
	if (gpa & 15 || (gpa + size) >> 32)
		return -EINVAL;
	memset(buf, 0, size);
	rsdp = take(&b, sizeof(*rsdp), 16);
	facs = take(&b, sizeof(*facs), 64);	/* the FACS must be 64-byte aligned */
	dsdt = build_dsdt(&b, cfg);
	if (!rsdp || !facs || !dsdt)
		return -ENOSPC;
	memcpy(facs->sig, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	tables[n++] = build_fadt(&b, cfg, facs, dsdt);
	tables[n++] = build_madt(&b, cfg);
	if (cfg->pci_ecam_size)
		tables[n++] = build_mcfg(&b, cfg);
	if (cfg->nr_nodes > 1) {
		tables[n++] = build_srat(&b, cfg);
		tables[n++] = build_slit(&b, cfg);
	}
	for (unsigned i = 0; i < n; i++)
		if (!tables[i])
			return -ENOSPC;

	/* Both list the same tables: 32-bit addresses, then 64-bit ones. */
	rsdt = take(&b, sizeof(*rsdt) + n * 4, 16);
	if (!rsdt)
		return -ENOSPC;
	header(rsdt, "RSDT", 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t a32 = (uint32_t)gpa_of(&b, tables[i]);

		memcpy((uint8_t *)(rsdt + 1) + i * 4, &a32, 4);
	}
	finish(&b, rsdt);
	xsdt = take(&b, sizeof(*xsdt) + n * 8, 16);
	if (!xsdt)
		return -ENOSPC;
	header(xsdt, "XSDT", 1);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a64 = gpa_of(&b, tables[i]);

		memcpy((uint8_t *)(xsdt + 1) + i * 8, &a64, 8);
	}
	finish(&b, xsdt);

	memcpy(rsdp->sig, "RSD PTR ", 8);
	memcpy(rsdp->oem, "AMALGM", 6);
	rsdp->revision = 2;
	rsdp->rsdt = (uint32_t)gpa_of(&b, rsdt);
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = gpa_of(&b, xsdt);
	rsdp->checksum = fw_checksum(rsdp, 20);
	rsdp->ext_checksum = fw_checksum(rsdp, sizeof(*rsdp));
	return (int)b.used;
}
