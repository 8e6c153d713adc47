#include "pci/pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/iobus.h"
#include "util/log.h"

struct pci_dev {
	struct pci_bus *bus;
	unsigned slot;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint32_t bar_size[PCI_NR_BARS];
	unsigned cap_next;	/* where the next capability goes */
	unsigned cap_last;	/* offset of the last capability, 0: none */
	int intx_level;		/* what the device asserts */
	bool intx_out;		/* what the IOAPIC was last told */
	const struct pci_dev_ops *ops;
	void *opaque;
	const char *name;
	bool remote;		/* hosted by node 'host' (pci_dev_set_remote) */
	unsigned host;
};

struct pci_bus {
	pthread_mutex_t lock;	/* every device's cfg, intx state and cf8 */
	struct pci_dev *slot[PCI_MAX_SLOTS];
	uint32_t cf8;
	uint64_t next_bar;	/* window allocator: next free address */
	pci_irq_fn set_irq;
	void *irq_opaque;
	struct pci_bus_links links;	/* fixed before vCPUs start */
	struct pci_dev host;	/* slot 0: the host bridge */
};

void pci_bus_set_links(struct pci_bus *bus, const struct pci_bus_links *links)
{
	bus->links = *links;
}

void pci_dev_set_remote(struct pci_dev *d, unsigned host)
{
	d->remote = true;
	d->host = host;
}

static uint32_t rd(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;

	memcpy(&v, p, len);
	return v;
}

unsigned pci_dev_slot(const struct pci_dev *d)
{
	return d->slot;
}

unsigned pci_dev_intx_gsi(const struct pci_dev *d)
{
	return PCI_INTX_GSI_BASE + (d->slot % 4);
}

static void init_header(struct pci_dev *d, const struct pci_dev_info *info)
{
	uint16_t cmd_mask = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			    PCI_COMMAND_INTX_DISABLE;

	memcpy(d->cfg + PCI_VENDOR_ID, &info->vendor, 2);
	memcpy(d->cfg + PCI_DEVICE_ID, &info->device, 2);
	d->cfg[PCI_REVISION_ID] = info->revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)info->class_code;
	d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(info->class_code >> 8);
	d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(info->class_code >> 16);
	memcpy(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, &info->subsys_vendor, 2);
	memcpy(d->cfg + PCI_SUBSYSTEM_ID, &info->subsys, 2);
	memcpy(d->wmask + PCI_COMMAND, &cmd_mask, 2);
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->cfg[PCI_INTERRUPT_PIN] = info->intx ? 1 : 0;
	d->cap_next = 0x40;
	d->name = info->name;
}

struct pci_bus *pci_bus_new(pci_irq_fn set_irq, void *irq_opaque)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	/* Intel's q35 host bridge ids, which guests know as a plain host
	 * bridge (class 06 00 00). */
	static const struct pci_dev_info host = {
		.vendor = 0x8086, .device = 0x29c0, .subsys_vendor = 0x1af4,
		.subsys = 0x1100, .class_code = 0x060000, .name = "host bridge",
	};

	if (!bus)
		return NULL;
	pthread_mutex_init(&bus->lock, NULL);
	bus->set_irq = set_irq;
	bus->irq_opaque = irq_opaque;
	bus->next_bar = PCI_MMIO_BASE;
	init_header(&bus->host, &host);
	bus->host.bus = bus;
	bus->slot[0] = &bus->host;
	return bus;
}

void pci_bus_free(struct pci_bus *bus)
{
	if (!bus)
		return;
	for (unsigned i = 1; i < PCI_MAX_SLOTS; i++)
		free(bus->slot[i]);
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}

int pci_add_device(struct pci_bus *bus, const struct pci_dev_info *info,
		   const struct pci_dev_ops *ops, void *opaque, struct pci_dev **out)
{
	struct pci_dev *d;
	uint64_t at = bus->next_bar;
	unsigned slot;

	for (slot = 1; slot < PCI_MAX_SLOTS && bus->slot[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		return -ENOSPC;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	init_header(d, info);
	for (int b = 0; b < PCI_NR_BARS; b++) {
		uint32_t size = info->bar_size[b], mask;

		if (!size)
			continue;
		if (size < 4096 || (size & (size - 1))) {
			free(d);
			return -EINVAL;
		}
		at = (at + size - 1) & ~(uint64_t)(size - 1);
		if (at + size > PCI_MMIO_BASE + PCI_MMIO_SIZE) {
			free(d);
			return -ENOSPC;
		}
		/* A 32-bit, non-prefetchable memory BAR: the low four bits
		 * are read-only zero, the bits below the size read zero, so
		 * writing all ones reads back the size mask. */
		mask = ~(size - 1);
		memcpy(d->cfg + PCI_BAR0 + 4 * b, &(uint32_t){ (uint32_t)at }, 4);
		memcpy(d->wmask + PCI_BAR0 + 4 * b, &mask, 4);
		d->bar_size[b] = size;
		at += size;
	}
	d->bus = bus;
	d->slot = slot;
	d->ops = ops;
	d->opaque = opaque;
	if (info->intx)
		d->cfg[PCI_INTERRUPT_LINE] = (uint8_t)pci_dev_intx_gsi(d);
	bus->next_bar = at;
	bus->slot[slot] = d;
	*out = d;
	return 0;
}

unsigned pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len, unsigned wmask_from)
{
	unsigned off = d->cap_next;

	if (len < 2 || off + len > 256)	/* classic capabilities live below 256 */
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = (uint8_t)off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	for (unsigned i = wmask_from; i < len; i++)
		d->wmask[off + i] = 0xff;
	d->cap_last = off;
	d->cap_next = (off + len + 3) & ~3u;
	return off;
}

void pci_cfg_set(struct pci_dev *d, unsigned off, const void *val, unsigned len)
{
	pthread_mutex_lock(&d->bus->lock);
	if (off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off)
		memcpy(d->cfg + off, val, len);
	pthread_mutex_unlock(&d->bus->lock);
}

void pci_cfg_get(struct pci_dev *d, unsigned off, void *val, unsigned len)
{
	pthread_mutex_lock(&d->bus->lock);
	if (off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off)
		memcpy(val, d->cfg + off, len);
	pthread_mutex_unlock(&d->bus->lock);
}

void pci_cfg_set_wmask(struct pci_dev *d, unsigned off, uint8_t mask, unsigned len)
{
	if (off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off)
		memset(d->wmask + off, mask, len);
}

uint16_t pci_dev_command(struct pci_dev *d)
{
	uint16_t c;

	pci_cfg_get(d, PCI_COMMAND, &c, 2);
	return c;
}

uint32_t pci_dev_bar_addr(struct pci_dev *d, int bar)
{
	uint32_t a;

	pci_cfg_get(d, PCI_BAR0 + 4 * (unsigned)bar, &a, 4);
	return a & ~0xfu;
}

/* With the lock held: tell the IOAPIC if what INTA should be changed. The
 * IOAPIC's lock comes after the bridge's (docs/architecture.md, line 2). */
static void intx_update(struct pci_dev *d)
{
	uint16_t cmd = (uint16_t)rd(d->cfg + PCI_COMMAND, 2);
	bool out = d->intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE);

	if (d->intx_level)
		d->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		d->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	if (out != d->intx_out && d->bus->set_irq && d->cfg[PCI_INTERRUPT_PIN]) {
		d->intx_out = out;
		d->bus->set_irq(d->bus->irq_opaque, pci_dev_intx_gsi(d), out);
	}
}

void pci_set_intx(struct pci_dev *d, int level)
{
	pthread_mutex_lock(&d->bus->lock);
	d->intx_level = level;
	intx_update(d);
	pthread_mutex_unlock(&d->bus->lock);
}

void pci_cfg_access(struct pci_bus *bus, unsigned bdf, unsigned off, void *data,
		    unsigned len, bool is_write)
{
	struct pci_dev *d = NULL;
	const struct pci_dev_ops *ops = NULL;
	void *opaque = NULL;

	/* Only bus 0, function 0; an access may not cross its dword. */
	if (!(bdf >> 8) && !(bdf & 7) && off < PCI_CFG_SIZE && len && len <= 4 &&
	    (off & 3) + len <= 4)
		d = bus->slot[(bdf >> 3) & 31];
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	if (!is_write) {
		memcpy(data, d->cfg + off, len);
	} else {
		const uint8_t *in = data;

		for (unsigned i = 0; i < len; i++)
			d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~d->wmask[off + i]) |
						    (in[i] & d->wmask[off + i]));
		if (off <= PCI_COMMAND + 1 && off + len > PCI_COMMAND)
			intx_update(d);
		if (bus->links.cfg_written)
			bus->links.cfg_written(bus->links.opaque, d->slot, off, d->cfg + off, len);
		if (!d->remote) {
			ops = d->ops;
			opaque = d->opaque;
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (ops && ops->cfg_written)
		ops->cfg_written(opaque, off, len);
}

int pci_cfg_mirror(struct pci_bus *bus, unsigned slot, unsigned off, const void *val,
		   unsigned len)
{
	struct pci_dev *d = slot < PCI_MAX_SLOTS ? bus->slot[slot] : NULL;
	const struct pci_dev_ops *ops = NULL;

	if (!d || !slot || off >= PCI_CFG_SIZE || !len || len > 4 || (off & 3) + len > 4)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	memcpy(d->cfg + off, val, len);
	if (!d->remote) {
		if (off <= PCI_COMMAND + 1 && off + len > PCI_COMMAND)
			intx_update(d);
		ops = d->ops;
	}
	pthread_mutex_unlock(&bus->lock);
	if (ops && ops->cfg_written)
		ops->cfg_written(d->opaque, off, len);
	return 0;
}

static int cf8_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		  unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;

	/* Mechanism #1 takes dword accesses only; narrower ones at 0xCF8 are
	 * not PCI (the reset register's byte is at 0xCF9, not in our range). */
	if (len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&bus->lock);
	if (is_write)
		memcpy(&bus->cf8, data, 4);
	else
		memcpy(data, &bus->cf8, 4);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

static int cfc_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		  unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;
	uint32_t a;

	pthread_mutex_lock(&bus->lock);
	a = bus->cf8;
	pthread_mutex_unlock(&bus->lock);
	if (!(a & 0x80000000u)) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	/* Bits 27:24 extend the register number past 256 (AMD's extension,
	 * harmless to accept). */
	pci_cfg_access(bus, (a >> 8) & 0xffff,
		       ((a & 0xfc) | ((a >> 16) & 0xf00)) + (unsigned)offset, data, len,
		       is_write);
	return 0;
}

static int ecam_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		   unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;

	if (len == 8) {	/* a qword access is two dword ones */
		pci_cfg_access(bus, (unsigned)(offset >> 12), offset & 0xfff, data, 4,
			       is_write);
		pci_cfg_access(bus, (unsigned)(offset >> 12), (offset & 0xfff) + 4,
			       (uint8_t *)data + 4, 4, is_write);
		return 0;
	}
	pci_cfg_access(bus, (unsigned)(offset >> 12), offset & 0xfff, data, len,
		       is_write);
	return 0;
}

static int window_io(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data,
		     unsigned len, bool is_write)
{
	struct pci_bus *bus = opaque;
	uint64_t addr = PCI_MMIO_BASE + offset;
	const struct pci_dev_ops *ops = NULL;
	void *dopaque = NULL;
	uint64_t at = 0;
	int bar = -1;
	bool remote = false;
	unsigned host = 0;

	pthread_mutex_lock(&bus->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS && bar < 0; s++) {
		struct pci_dev *d = bus->slot[s];

		if (!d || !(rd(d->cfg + PCI_COMMAND, 2) & PCI_COMMAND_MEMORY))
			continue;
		for (int b = 0; b < PCI_NR_BARS; b++) {
			uint64_t base = rd(d->cfg + PCI_BAR0 + 4 * b, 4) & ~0xfu;

			if (d->bar_size[b] && addr >= base && addr - base < d->bar_size[b] &&
			    len <= d->bar_size[b] - (addr - base)) {
				bar = b;
				at = addr - base;
				ops = d->ops;
				dopaque = d->opaque;
				remote = d->remote;
				host = d->host;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (bar >= 0 && remote && bus->links.remote_io)
		return bus->links.remote_io(bus->links.opaque, vcpu, host, addr, data, len,
					    is_write);
	if (bar < 0 || remote || !ops || !ops->bar_io) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	return ops->bar_io(dopaque, bar, at, data, len, is_write);
}

int pci_bus_register(struct pci_bus *bus, struct iobus *iobus, bool config_here)
{
	int err = 0;

	if (config_here) {
		err = iobus_register(iobus, IO_PIO, PCI_CF8_PORT, 1, cf8_io, bus, "pci-cf8");
		if (!err)
			err = iobus_register(iobus, IO_PIO, PCI_CFC_PORT, 4, cfc_io, bus,
					     "pci-cfc");
		if (!err)
			err = iobus_register(iobus, IO_MMIO, PCI_ECAM_BASE, PCI_ECAM_SIZE,
					     ecam_io, bus, "pci-ecam");
	}
	if (!err)
		err = iobus_register(iobus, IO_MMIO, PCI_MMIO_BASE, PCI_MMIO_SIZE,
				     window_io, bus, "pci-window");
	return err;
}
