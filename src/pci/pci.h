/* The PCI host bridge: one bus (bus 0), function 0 of up to 32 slots, as
 * firmware would leave it for an OS that does not reassign resources.
 *
 * Configuration space is reached two ways, both ending in one function:
 *  - ECAM (PCIe MMCONFIG) at PCI_ECAM_BASE, 4 KiB a function, described to
 *    the guest by the ACPI MCFG table;
 *  - the legacy mechanism #1: an address written to port 0xCF8 (dword
 *    only, bit 31 enables) and data at 0xCFC-0xCFF. Port 0xCF9 is q35's
 *    reset control (dev/rstcnt.h), not ours: our range at 0xCF8 is one
 *    byte long, so byte accesses to 0xCF9 still reach the reset register,
 *    and dword accesses at 0xCF8 reach us.
 *
 * BARs are 32-bit memory BARs placed by pci_add_device in the window
 * [PCI_MMIO_BASE, PCI_MMIO_BASE + PCI_MMIO_SIZE), naturally aligned. The
 * guest may size them (write all ones, read the mask) and move them inside
 * the window: the bridge claims the whole window on the I/O registry and
 * dispatches each access to the BAR that decodes it now (command register
 * bit 1), so moving a BAR needs no change in the registry.
 *
 * Config space is 4 KiB a device: an image, a mask of the bits the guest
 * may write, and for the BARs the sizing logic. A device sees accesses to
 * its BARs through bar_io and learns about config writes through
 * cfg_written (after the write has landed in the image).
 *
 * A function may be hosted by another node (pci_dev_set_remote): every
 * node builds the same slots with the same code, so all agree on each
 * function's config image; the BAR accesses of a function hosted
 * elsewhere go to the bus's remote_io link, with their absolute address.
 * Config space itself is reached on one node only (node 0, where
 * pci_bus_register's config_here is true): each config write there is
 * told to the cfg_written link, and the other nodes apply it to their
 * images with pci_cfg_mirror, so that they decode BARs alike and a
 * device's host sees its MSI-X control.
 *
 * Locking: one mutex in the bridge guards every device's config image and
 * BAR addresses; the cfg_written link is called under it (so that every
 * node learns the writes in the order they were applied), and must only
 * send. Device callbacks (bar_io, cfg_written) are called with it
 * released; bar_io may run on several vCPU threads at once. Devices are
 * added before vCPUs start and never removed. */
#ifndef AMALGAM_PCI_PCI_H
#define AMALGAM_PCI_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_ECAM_BASE 0xE0000000ULL
#define PCI_ECAM_SIZE (1ULL << 20)	/* bus 0 only: 32 slots x 8 fns x 4 KiB */
#define PCI_MMIO_BASE 0xC0000000ULL
#define PCI_MMIO_SIZE 0x20000000ULL	/* 512 MiB, below the ECAM */
#define PCI_CF8_PORT 0xcf8
#define PCI_CFC_PORT 0xcfc
#define PCI_MAX_SLOTS 32
#define PCI_CFG_SIZE 4096
#define PCI_NR_BARS 6
/* INTx of slot s, pin p (0 = INTA) reaches IOAPIC pin
 * PCI_INTX_GSI_BASE + (s + p) % 4, the usual swizzle; the DSDT's _PRT says
 * the same. */
#define PCI_INTX_GSI_BASE 16

/* Standard config-space offsets and bits (PCI Local Bus 3.0, ch. 6). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_INTERRUPT 0x08
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

struct iobus;
struct vcpu;
struct pci_bus;
struct pci_dev;

struct pci_dev_ops {
	/* An access to BAR 'bar' at offset (inside the BAR). Reads fill data. */
	int (*bar_io)(void *opaque, int bar, uint64_t offset, void *data, unsigned len,
		      bool is_write);
	/* The guest wrote len bytes at config offset 'off' (already applied). */
	void (*cfg_written)(void *opaque, unsigned off, unsigned len);
};

struct pci_dev_info {
	uint16_t vendor, device, subsys_vendor, subsys;
	uint32_t class_code;		/* class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	uint32_t bar_size[PCI_NR_BARS];	/* 0: none; else a power of two >= 4 KiB */
	bool intx;			/* has INTA */
	const char *name;
};

/* Where INTx of a device goes: set_irq(opaque, gsi, level). */
typedef void (*pci_irq_fn)(void *opaque, unsigned gsi, int level);

struct pci_bus *pci_bus_new(pci_irq_fn set_irq, void *irq_opaque);
void pci_bus_free(struct pci_bus *bus);
/* Claim the BAR window on the registry and, with config_here, 0xCF8,
 * 0xCFC-0xCFF and the ECAM. */
int pci_bus_register(struct pci_bus *bus, struct iobus *iobus, bool config_here);

/* What links the bus to the functions other nodes host (see above). */
struct pci_bus_links {
	/* A BAR access (absolute address) to a function hosted by 'host'. On
	 * the accessing vCPU's thread, or the thread serving a forwarded one. */
	int (*remote_io)(void *opaque, struct vcpu *vcpu, unsigned host, uint64_t addr,
			 void *data, unsigned len, bool is_write);
	/* The guest's config write left val (len bytes at off) in slot's image. */
	void (*cfg_written)(void *opaque, unsigned slot, unsigned off, const void *val,
			    unsigned len);
	void *opaque;
};
/* Before vCPUs start. */
void pci_bus_set_links(struct pci_bus *bus, const struct pci_bus_links *links);
/* The function is hosted by node 'host': its BAR accesses leave. */
void pci_dev_set_remote(struct pci_dev *d, unsigned host);
/* Another node's config write (pci_bus_links.cfg_written) applied here, as
 * it was there: 0, or -EINVAL for a slot that is empty or a range outside
 * one dword. */
int pci_cfg_mirror(struct pci_bus *bus, unsigned slot, unsigned off, const void *val,
		   unsigned len);

/* Add a device in the next free slot (slot 0 is the host bridge itself),
 * its BARs placed. -ENOSPC when slots or the window are full. */
int pci_add_device(struct pci_bus *bus, const struct pci_dev_info *info,
		   const struct pci_dev_ops *ops, void *opaque, struct pci_dev **out);
unsigned pci_dev_slot(const struct pci_dev *d);
/* The address the guest programmed (or we placed) for a BAR. */
uint32_t pci_dev_bar_addr(struct pci_dev *d, int bar);

/* Capabilities, built before vCPUs start: reserve len bytes (the first two
 * being id and next, filled in) in the capability list and return the
 * offset, or 0 when config space is full. wmask_from: bytes of the
 * capability from this offset on the guest may write (len: none). */
unsigned pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len, unsigned wmask_from);
/* Read and write the config image from the device's side (not masked).
 * Only for setup and for fields the device owns (e.g. its capabilities'
 * read-only values); any thread. */
void pci_cfg_set(struct pci_dev *d, unsigned off, const void *val, unsigned len);
void pci_cfg_get(struct pci_dev *d, unsigned off, void *val, unsigned len);
/* Which bits of config bytes [off, off+len) the guest may write (0: none). */
void pci_cfg_set_wmask(struct pci_dev *d, unsigned off, uint8_t mask, unsigned len);
uint16_t pci_dev_command(struct pci_dev *d);

/* Raise or lower INTA (ignored while INTx is disabled in the command
 * register; the status register's interrupt bit follows). */
void pci_set_intx(struct pci_dev *d, int level);
unsigned pci_dev_intx_gsi(const struct pci_dev *d);

/* The one config access both mechanisms come to: 'bdf' is bus << 8 | dev
 * << 3 | fn. Accesses to nothing read all ones. Exposed for tests. */
void pci_cfg_access(struct pci_bus *bus, unsigned bdf, unsigned off, void *data,
		    unsigned len, bool is_write);

#endif
