/* MSI-X for a PCI device (PCI Local Bus 3.0, 6.8.2): the capability in
 * config space, the vector table and the pending-bit array in one of the
 * device's memory BARs.
 *
 * msix_notify(vector) sends the vector's message, unless MSI-X is off, the
 * function is masked or the vector is masked: then the vector's pending
 * bit is set, and the message leaves when the guest unmasks. The message
 * goes out through send(opaque, address, data): the board turns it into
 * an APIC message on the interrupt bus, which delivers it to the target
 * vCPU wherever it runs (irq/msi.h).
 *
 * Locking: a mutex guards the table and the pending bits; send is called
 * with it released, so a device may notify under its own lock (a device's
 * lock comes before the interrupt path's). */
#ifndef AMALGAM_PCI_MSIX_H
#define AMALGAM_PCI_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16

struct pci_dev;
struct msix;

typedef void (*msix_send_fn)(void *opaque, uint64_t address, uint32_t data);

/* Add the capability to d: nvec vectors, the table at table_off and the
 * PBA at pba_off inside BAR 'bar' (8-byte aligned). NULL on bad arguments
 * or no room. */
struct msix *msix_new(struct pci_dev *d, unsigned nvec, int bar, uint32_t table_off,
		      uint32_t pba_off, msix_send_fn send, void *opaque);
void msix_free(struct msix *m);

/* Route an access in the device's MSI-X BAR here. Returns true if offset
 * fell in the table or the PBA (then the access is done). */
bool msix_bar_io(struct msix *m, uint64_t offset, void *data, unsigned len,
		 bool is_write);
/* Config space changed: pick up enable and function mask; sends what was
 * pending and is now unmasked. */
void msix_cfg_written(struct msix *m);

bool msix_enabled(struct msix *m);
/* Send vector's message, or mark it pending. A vector out of range, or
 * the 'no vector' value 0xFFFF, is ignored and returns false. */
bool msix_notify(struct msix *m, unsigned vector);

#endif
