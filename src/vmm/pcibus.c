#include "vmm/pcibus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hw/mem.h"
#include "irq/apicbus.h"
#include "irq/msi.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "vmm/vm.h"

/* --disk ...,fail-from=SECTOR. A flush has no sector: it fails once
 * anything has failed, as after a real disk's write error. */
struct injector {
	uint64_t fail_from;
	bool failed;
};

static int inject(void *opaque, uint32_t type, uint64_t sector)
{
	struct injector *in = opaque;

	if (type == 4 /* flush */)
		return __atomic_load_n(&in->failed, __ATOMIC_RELAXED) ? EIO : 0;
	if (sector < in->fail_from)
		return 0;
	__atomic_store_n(&in->failed, true, __ATOMIC_RELAXED);
	return EIO;
}

struct pcibus {
	struct vm *vm;
	struct pci_bus *bus;
	struct vblk *disk[PCIBUS_MAX_DISKS];
	struct injector inject[PCIBUS_MAX_DISKS];
	char name[PCIBUS_MAX_DISKS][8];
	unsigned nr;
	uint64_t bad_msi;
};

/* The guest view: see pcibus.h for why not the hypervisor view. */
static void *map_guest(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	struct vm *vm = opaque;
	int64_t off;

	if (!len)
		return NULL;
	off = guest_mem_offset(&vm->mem, gpa);
	if (off < 0 || !guest_mem_hva(&vm->mem, gpa, len))
		return NULL;
	return vm->mem.guest_view + off;
}

static void msi_send(void *opaque, uint64_t address, uint32_t data)
{
	struct pcibus *p = opaque;
	struct apic_msg m;

	/* A vector the guest programmed with nonsense is its own loss. */
	if (msi_decode(address, data, &m)) {
		__atomic_add_fetch(&p->bad_msi, 1, __ATOMIC_RELAXED);
		return;
	}
	apicbus_send(p->vm->apicbus, &m);
}

int pcibus_create(struct vm *vm, const struct pcibus_disk *disks, unsigned nr,
		  struct pcibus **out, char *err, size_t errlen)
{
	struct pcibus *p;
	int r;

	if (nr > PCIBUS_MAX_DISKS) {
		snprintf(err, errlen, "at most %d disks", PCIBUS_MAX_DISKS);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vm = vm;
	p->bus = pci_bus_new(vm_set_irq, vm);
	if (!p->bus) {
		free(p);
		return -ENOMEM;
	}
	r = pci_bus_register(p->bus, vm->iobus);
	if (r) {
		snprintf(err, errlen, "the PCI host bridge's ports or addresses are taken");
		goto fail;
	}
	for (; p->nr < nr; p->nr++) {
		const struct pcibus_disk *d = &disks[p->nr];
		unsigned q = d->queues ? d->queues : vm->nr_vcpus;
		struct vblk_config c = {
			.path = d->path, .readonly = d->readonly,
			.queues = q > BLK_MAX_QUEUES ? BLK_MAX_QUEUES : q,
			.map = map_guest, .map_opaque = vm,
			.msi_send = msi_send, .msi_opaque = p, .name = p->name[p->nr],
			.inject = d->fail_from ? inject : NULL,
			.inject_opaque = &p->inject[p->nr],
		};

		p->inject[p->nr].fail_from = d->fail_from;
		snprintf(p->name[p->nr], sizeof(p->name[0]), "vd%c", 'a' + p->nr);
		r = vblk_new(p->bus, &c, &p->disk[p->nr], err, (unsigned)errlen);
		if (r)
			goto fail;
		pr_info("%s: %s%s on PCI slot %u", p->name[p->nr], d->path,
			d->readonly ? " (read-only)" : "", p->nr + 1);
	}
	*out = p;
	return 0;
fail:
	pcibus_destroy(p);
	return r;
}

void pcibus_destroy(struct pcibus *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nr; i++)
		vblk_free(p->disk[i]);
	pci_bus_free(p->bus);
	free(p);
}

void pcibus_print_stats(struct pcibus *p, FILE *f)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nr; i++) {
		struct vblk_stats s;

		vblk_stats(p->disk[i], &s);
		fprintf(f, "%s: reads %llu (%llu B) writes %llu (%llu B) flushes %llu "
			"discards %llu write-zeroes %llu io-errors %llu unsupported %llu "
			"bad %llu broken %llu\n", p->name[i],
			(unsigned long long)s.reads, (unsigned long long)s.read_bytes,
			(unsigned long long)s.writes, (unsigned long long)s.write_bytes,
			(unsigned long long)s.flushes, (unsigned long long)s.discards,
			(unsigned long long)s.write_zeroes, (unsigned long long)s.io_errors,
			(unsigned long long)s.unsupported, (unsigned long long)s.bad_requests,
			(unsigned long long)s.broken);
	}
	if (p->bad_msi)
		fprintf(f, "pci: %llu MSI messages the guest misprogrammed\n",
			(unsigned long long)p->bad_msi);
}
