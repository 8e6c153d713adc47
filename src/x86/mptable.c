#include "x86/mptable.h"

#include <errno.h>
#include <string.h>

#include "x86/fwsum.h"
#include "x86/topo.h"

struct mpf {
	char sig[4];
	uint32_t physptr;
	uint8_t length;		/* in 16-byte units */
	uint8_t spec;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf) == 16, "MP floating pointer is 16 bytes");

struct mpc_header {
	char sig[4];
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_header) == 44, "MP config header is 44 bytes");

struct mpc_cpu {
	uint8_t type;		/* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;		/* bit0 enabled, bit1 BSP */
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "processor entry is 20 bytes");

struct mpc_bus {
	uint8_t type;		/* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;		/* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;		/* 3 io interrupt, 4 local interrupt */
	uint8_t irqtype;	/* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t irqflag;	/* polarity, trigger: 0 = conforms to bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intsrc) == 8, "interrupt entry is 8 bytes");

int mptable_build(void *buf, size_t size, uint64_t gpa, const struct topo *t,
		  uint64_t ioapic_base)
{
	unsigned nr_cpus = t->nr_cpus;
	size_t need = sizeof(struct mpf) + sizeof(struct mpc_header) +
		      nr_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + 18 * sizeof(struct mpc_intsrc);
	uint8_t *p = buf;
	struct mpf *mpf = buf;
	struct mpc_header *h;
	uint8_t ioapic_id = t->ioapic_id;
	unsigned count = 0;

	if (need > size || nr_cpus > 254)
		return -ENOSPC;
	memset(buf, 0, need);
	memcpy(mpf->sig, "_MP_", 4);
	mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec = 4;

	h = (struct mpc_header *)(p + sizeof(*mpf));
	memcpy(h->sig, "PCMP", 4);
	h->spec = 4;
	memcpy(h->oem, "AMALGAM ", 8);
	memcpy(h->product, "DISTRIBUTED ", 12);
	h->lapic = 0xFEE00000u;
	p = (uint8_t *)(h + 1);

	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;
		c->type = 0;
		c->apicid = t->apic_id[i];
		c->apicver = 0x14;
		c->flags = 1 | (i == 0 ? 2 : 0);
		c->signature = 0x600;
		c->features = 0x201;	/* FPU, APIC */
		p += sizeof(*c);
		count++;
	}
	{
		struct mpc_bus *b = (struct mpc_bus *)p;
		b->type = 1;
		b->busid = 0;
		memcpy(b->bustype, "ISA   ", 6);
		p += sizeof(*b);
		count++;
	}
	{
		struct mpc_ioapic *io = (struct mpc_ioapic *)p;
		io->type = 2;
		io->apicid = ioapic_id;
		io->apicver = 0x11;
		io->flags = 1;
		io->apicaddr = (uint32_t)ioapic_base;
		p += sizeof(*io);
		count++;
	}
	/* ISA IRQs 0-15 to IOAPIC pins, IRQ 0 on pin 2 as on a PC (pin 0 is
	 * the 8259 ExtINT input). */
	for (unsigned irq = 0; irq < 16; irq++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;
		if (irq == 2)
			continue;
		s->type = 3;
		s->irqtype = 0;
		s->srcbus = 0;
		s->srcbusirq = (uint8_t)irq;
		s->dstapic = ioapic_id;
		s->dstirq = irq == 0 ? 2 : (uint8_t)irq;
		p += sizeof(*s);
		count++;
	}
	{
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;
		/* Pin 0: ExtINT from the 8259. */
		s->type = 3;
		s->irqtype = 3;
		s->dstapic = ioapic_id;
		s->dstirq = 0;
		p += sizeof(*s);
		count++;
		/* LINT0 ExtINT and LINT1 NMI on every local APIC. */
		s = (struct mpc_intsrc *)p;
		s->type = 4;
		s->irqtype = 3;
		s->dstapic = 0xff;
		s->dstirq = 0;
		p += sizeof(*s);
		count++;
		s = (struct mpc_intsrc *)p;
		s->type = 4;
		s->irqtype = 1;
		s->dstapic = 0xff;
		s->dstirq = 1;
		p += sizeof(*s);
		count++;
	}
	h->length = (uint16_t)(p - (uint8_t *)h);
	h->count = (uint16_t)count;
	h->checksum = fw_checksum(h, h->length);
	mpf->checksum = fw_checksum(mpf, sizeof(*mpf));
	return (int)(p - (uint8_t *)buf);
}
