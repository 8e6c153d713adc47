#include "vmm/pcibus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/mem.h"
#include "irq/apicbus.h"
#include "irq/msi.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vpci.h"
#include "vmm/vcpu.h"
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
	struct pcibus_links links;	/* .bar_out NULL: a node alone */
	struct vblk *disk[PCIBUS_MAX_DISKS];	/* NULL: hosted elsewhere */
	struct vpci *shadow[PCIBUS_MAX_DISKS];	/* ... and its function here */
	struct injector inject[PCIBUS_MAX_DISKS];
	char name[PCIBUS_MAX_DISKS][8];
	unsigned nr;
	struct vnet *net[PCIBUS_MAX_NETS];	/* NULL: hosted elsewhere */
	struct vpci *net_shadow[PCIBUS_MAX_NETS];	/* ... and its function here */
	char net_name[PCIBUS_MAX_NETS][8];
	unsigned nr_nets;
	struct vrng *rng;
	struct vcon *con;
	unsigned slots;		/* PCI slots taken so far */
	uint64_t bad_msi;
	uint64_t misrouted;	/* forwarded accesses for a device not here */
};

/* The guest view: see pcibus.h for why not the hypervisor view. Each
 * buffer a device maps it is about to touch: the pages this node does
 * not hold are asked for now, all of a chain's at once, rather than one
 * fault at a time as the device reaches them. */
static void *map_guest(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	struct vm *vm = opaque;
	void *p = len ? guest_mem_gview(&vm->mem, gpa, len) : NULL;

	if (p && vm->hooks.prefetch)
		vm->hooks.prefetch(vm->hooks_opaque, gpa, len, write);
	return p;
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

/* A BAR access to a device another node hosts. Only a vCPU here sends it
 * on: an access this node serves for another (on its serving thread)
 * reached the wrong node, by a BAR the guest moved while the nodes'
 * images disagreed, and waiting here for a third node could deadlock. */
static int remote_io(void *opaque, struct vcpu *v, unsigned host, uint64_t addr,
		     void *data, unsigned len, bool is_write)
{
	struct pcibus *p = opaque;

	if (v && vcpu_here(v) && p->links.bar_out)
		return p->links.bar_out(p->links.opaque, v, host, addr, data, len, is_write);
	__atomic_add_fetch(&p->misrouted, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return 0;
}

/* Only the disks and network cards have a function on every node (the
 * first slots); the rng and the console are node 0's alone, where config
 * space is. */
static void cfg_out(void *opaque, unsigned slot, unsigned off, const void *val,
		    unsigned len)
{
	struct pcibus *p = opaque;

	if (slot >= 1 && slot <= p->nr + p->nr_nets)
		p->links.cfg_out(p->links.opaque, slot, off, val, len);
}

/* INTx: to the IOAPIC here, or to the node that has it (every node has
 * an IOAPIC model, only the devices' node serves it). */
static void set_intx(void *opaque, unsigned gsi, int level)
{
	struct pcibus *p = opaque;

	if (!p->vm->remote_devices || !p->links.intx_out)
		vm_set_irq(p->vm, gsi, level);
	else
		p->links.intx_out(p->links.opaque, gsi, level);
}

int pcibus_cfg_in(struct pcibus *p, unsigned slot, unsigned off, const void *val,
		  unsigned len)
{
	return p ? pci_cfg_mirror(p->bus, slot, off, val, len) : -EINVAL;
}

bool pcibus_wanted(const struct pcibus_devices *d)
{
	return d->nr_disks || d->nr_nets || d->rng || d->console;
}

static int add_disks(struct pcibus *p, const struct pcibus_devices *devs, char *err,
		     size_t errlen)
{
	for (; p->nr < devs->nr_disks; p->nr++) {
		const struct pcibus_disk *d = &devs->disks[p->nr];
		unsigned q = d->queues ? d->queues : p->vm->nr_vcpus;
		struct vblk_config c = {
			.path = d->path, .readonly = d->readonly,
			.queues = q > BLK_MAX_QUEUES ? BLK_MAX_QUEUES : q,
			.map = map_guest, .map_opaque = p->vm,
			.msi_send = msi_send, .msi_opaque = p, .name = p->name[p->nr],
			.inject = d->fail_from ? inject : NULL,
			.inject_opaque = &p->inject[p->nr],
		};
		int r;

		p->inject[p->nr].fail_from = d->fail_from;
		snprintf(p->name[p->nr], sizeof(p->name[0]), "vd%c", 'a' + p->nr);
		if (d->node != p->links.self) {
			/* Same slot, same image, no file: the host has it. */
			r = vblk_shadow_new(p->bus, &c, d->node, &p->shadow[p->nr]);
			if (r) {
				snprintf(err, errlen, "disk %s: no room on the PCI bus", d->path);
				return r;
			}
			++p->slots;
			continue;
		}
		r = vblk_new(p->bus, &c, &p->disk[p->nr], err, (unsigned)errlen);
		if (r)
			return r;
		pr_info("%s: %s%s on PCI slot %u, hosted by node %u", p->name[p->nr], d->path,
			d->readonly ? " (read-only)" : "", ++p->slots, d->node);
	}
	return 0;
}

static int add_nets(struct pcibus *p, const struct pcibus_devices *devs, char *err,
		    size_t errlen)
{
	for (; p->nr_nets < devs->nr_nets; p->nr_nets++) {
		const struct pcibus_net *d = &devs->nets[p->nr_nets];
		struct vnet_config c = {
			.tap = d->tap, .map = map_guest, .map_opaque = p->vm,
			.msi_send = msi_send, .msi_opaque = p, .name = p->net_name[p->nr_nets],
		};
		static const uint8_t zero[6];
		int r;

		memcpy(c.mac, d->mac, 6);
		if (!memcmp(c.mac, zero, 6))
			memcpy(c.mac, (uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34,
						    (uint8_t)(0x56 + p->nr_nets) }, 6);
		snprintf(p->net_name[p->nr_nets], sizeof(p->net_name[0]), "net%u", p->nr_nets % 10);
		if (d->node != p->links.self) {
			/* Same slot, same image, no tap: the host has it. */
			r = vnet_shadow_new(p->bus, &c, d->node, &p->net_shadow[p->nr_nets]);
			if (r) {
				snprintf(err, errlen, "network card on tap %s: no room on the PCI bus",
					 d->tap);
				return r;
			}
			++p->slots;
			continue;
		}
		r = vnet_new(p->bus, &c, &p->net[p->nr_nets], err, (unsigned)errlen);
		if (r)
			return r;
		pr_info("%s: tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x on PCI slot %u, hosted by node %u",
			p->net_name[p->nr_nets], d->tap, c.mac[0], c.mac[1], c.mac[2], c.mac[3],
			c.mac[4], c.mac[5], ++p->slots, d->node);
	}
	return 0;
}

int pcibus_create(struct vm *vm, const struct pcibus_devices *devs,
		  const struct pcibus_links *links, struct pcibus **out, char *err,
		  size_t errlen)
{
	struct pcibus *p;
	int r;

	if (devs->nr_disks > PCIBUS_MAX_DISKS || devs->nr_nets > PCIBUS_MAX_NETS) {
		snprintf(err, errlen, "at most %d disks and %d network cards", PCIBUS_MAX_DISKS,
			 PCIBUS_MAX_NETS);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vm = vm;
	if (links)
		p->links = *links;
	else
		p->links.bridge = true;
	p->bus = pci_bus_new(set_intx, p);
	if (!p->bus) {
		free(p);
		return -ENOMEM;
	}
	pci_bus_set_links(p->bus, &(struct pci_bus_links){
		.remote_io = remote_io,
		.cfg_written = p->links.bridge && p->links.cfg_out ? cfg_out : NULL,
		.opaque = p,
	});
	r = pci_bus_register(p->bus, vm->iobus, p->links.bridge);
	if (r) {
		snprintf(err, errlen, "the PCI host bridge's ports or addresses are taken");
		goto fail;
	}
	r = add_disks(p, devs, err, errlen);
	if (!r)
		r = add_nets(p, devs, err, errlen);
	if (!r && devs->rng) {
		struct vrng_config c = {
			.map = map_guest, .map_opaque = vm, .msi_send = msi_send, .msi_opaque = p,
		};

		r = vrng_new(p->bus, &c, &p->rng, err, (unsigned)errlen);
		if (!r)
			pr_info("virtio-rng: the host's getrandom on PCI slot %u", ++p->slots);
	}
	if (!r && devs->console) {
		struct vcon_config c = {
			.path = devs->console_path, .map = map_guest, .map_opaque = vm,
			.msi_send = msi_send, .msi_opaque = p,
		};

		r = vcon_new(p->bus, &c, &p->con, err, (unsigned)errlen);
		if (!r)
			pr_info("virtio-console: hvc0 to %s on PCI slot %u",
				devs->console_path ? devs->console_path : "stdout", ++p->slots);
	}
	if (r)
		goto fail;
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
	for (unsigned i = 0; i < p->nr; i++) {
		if (p->disk[i])
			vblk_free(p->disk[i]);
		vpci_free(p->shadow[i]);
	}
	for (unsigned i = 0; i < p->nr_nets; i++) {
		if (p->net[i])
			vnet_free(p->net[i]);
		vpci_free(p->net_shadow[i]);
	}
	vrng_free(p->rng);
	vcon_free(p->con);
	pci_bus_free(p->bus);
	free(p);
}

void pcibus_print_stats(struct pcibus *p, FILE *f)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nr; i++) {
		struct vblk_stats s;

		if (!p->disk[i])
			continue;
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
	for (unsigned i = 0; i < p->nr_nets; i++) {
		struct vnet_stats s;

		if (!p->net[i])
			continue;
		vnet_stats(p->net[i], &s);
		fprintf(f, "%s: rx %llu (%llu B) too-big %llu tx %llu (%llu B) bad %llu "
			"refused %llu broken %llu tap-failed %llu offloads %#llx\n",
			p->net_name[i], (unsigned long long)s.rx_packets,
			(unsigned long long)s.rx_bytes, (unsigned long long)s.rx_too_big,
			(unsigned long long)s.tx_packets, (unsigned long long)s.tx_bytes,
			(unsigned long long)s.tx_bad, (unsigned long long)s.tx_refused,
			(unsigned long long)s.broken, (unsigned long long)s.tap_failed,
			(unsigned long long)s.offloads);
	}
	if (p->rng) {
		struct vrng_stats s;

		vrng_stats(p->rng, &s);
		fprintf(f, "virtio-rng: requests %llu (%llu B) empty %llu errors %llu broken %llu\n",
			(unsigned long long)s.requests, (unsigned long long)s.bytes,
			(unsigned long long)s.empty, (unsigned long long)s.errors,
			(unsigned long long)s.broken);
	}
	if (p->con) {
		struct vcon_stats s;

		vcon_stats(p->con, &s);
		fprintf(f, "hvc0: tx %llu B dropped %llu B broken %llu\n",
			(unsigned long long)s.tx_bytes, (unsigned long long)s.tx_dropped,
			(unsigned long long)s.broken);
	}
	if (p->bad_msi)
		fprintf(f, "pci: %llu MSI messages the guest misprogrammed\n",
			(unsigned long long)p->bad_msi);
	if (p->misrouted)
		fprintf(f, "pci: %llu forwarded BAR accesses for a device not here\n",
			(unsigned long long)p->misrouted);
}
