/* The virtio 1.x PCI transport, modern only (virtio 1.2, section 4.1):
 * vendor 0x1af4, device 0x1040 + the virtio device id, and in BAR 0 the
 * common configuration, the ISR byte, the device's configuration, the
 * notification area and the MSI-X table and PBA, each found by the driver
 * through a vendor capability in config space.
 *
 * BAR 0 layout (VPCI_BAR_SIZE bytes):
 *   0x0000 common configuration     0x3000 notifications (4 bytes a queue)
 *   0x1000 ISR status               0x4000 MSI-X table (64 vectors)
 *   0x2000 device configuration     0x5000 MSI-X PBA
 *
 * The transport owns the status, the feature negotiation and each queue's
 * registers. The device (virtio/blk.h, ...) gets its queues when the driver
 * sets DRIVER_OK, a call for each queue notification (on the vCPU thread
 * that wrote it: the device hands the work to its own threads), and a reset
 * it must finish before it returns (no queue touched afterwards).
 *
 * Interrupts: vpci_interrupt(queue) sends the queue's MSI-X vector, or
 * with MSI-X off sets ISR bit 0 and raises INTA, lowered when the driver
 * reads the ISR. vpci_needs_reset marks the device broken
 * (DEVICE_NEEDS_RESET, a configuration-change interrupt): what a device
 * does when the driver breaks the rules; the driver's only way out is a
 * reset.
 *
 * Locking: a mutex guards the registers; device callbacks are made with it
 * released. vpci_interrupt and vpci_needs_reset may be called from any
 * thread, under the device's own lock (which comes first). */
#ifndef AMALGAM_VIRTIO_VPCI_H
#define AMALGAM_VIRTIO_VPCI_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VPCI_BAR_SIZE 0x8000
#define VPCI_MAX_QUEUES 16
#define VPCI_NO_VECTOR 0xffff

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

struct pci_bus;
struct pci_dev;
struct vpci;

struct vpci_device_ops {
	/* The device's configuration structure: reads fill data. */
	void (*cfg_read)(void *opaque, unsigned off, void *data, unsigned len);
	void (*cfg_write)(void *opaque, unsigned off, const void *data, unsigned len);
	/* DRIVER_OK: the enabled queues are ready (vpci_queue). Non-zero
	 * refuses (the device is marked broken). */
	int (*start)(void *opaque);
	/* Queue q was notified. Called on a vCPU thread: do not block. */
	void (*notify)(void *opaque, unsigned q);
	/* The driver reset the device: stop taking requests and forget the
	 * queues. Called on a vCPU's or a receive thread, so it must not wait
	 * for in-flight requests (one may be waiting for a page that thread
	 * has to receive): true when nothing is in flight, else false and the
	 * device calls vpci_reset_done once the last request has left the
	 * queues. Until then the status register keeps reading non-zero,
	 * which is how a driver knows the reset is not over (4.1.4.3.2). */
	bool (*reset)(void *opaque);
};

struct vpci_config {
	uint16_t device_id;		/* virtio device id: 2 block, ... */
	uint32_t class_code;
	uint64_t features;		/* device-specific; the transport adds its own */
	unsigned num_queues;		/* <= VPCI_MAX_QUEUES */
	uint16_t max_queue_size;	/* power of two <= VIRTQ_MAX_SIZE */
	unsigned cfg_size;		/* bytes of the device configuration */
	const struct vpci_device_ops *ops;
	void *opaque;
	virtq_map_fn map;		/* how queues reach guest RAM */
	void *map_opaque;
	/* Where MSI-X messages go (pci/msix.h). */
	void (*msi_send)(void *opaque, uint64_t address, uint32_t data);
	void *msi_opaque;
	const char *name;
};

int vpci_new(struct pci_bus *bus, const struct vpci_config *cfg, struct vpci **out);
void vpci_free(struct vpci *vp);
/* The PCI function (e.g. to mark it hosted by another node). */
struct pci_dev *vpci_pci_dev(struct vpci *vp);
/* The function of a device node 'host' runs, on a node that does not: the
 * same config image (cfg's ids, queues and sizes, so that every node
 * decodes its BARs alike), no device behind it, every BAR access sent to
 * 'host'. cfg's ops and opaque are not used. */
int vpci_shadow_new(struct pci_bus *bus, const struct vpci_config *cfg, unsigned host,
		    struct vpci **out);

/* Queue i, valid from start() until the reset is done. */
struct virtq *vpci_queue(struct vpci *vp, unsigned i);
/* Negotiated features (after FEATURES_OK). */
uint64_t vpci_features(struct vpci *vp);
/* Tell the driver that queue i has used buffers. */
void vpci_interrupt(struct vpci *vp, unsigned i);
/* The device's side of a reset that reset() could not finish at once. */
void vpci_reset_done(struct vpci *vp);
/* The driver broke the rules: mark the device DEVICE_NEEDS_RESET. */
void vpci_needs_reset(struct vpci *vp, const char *why);
bool vpci_broken(struct vpci *vp);
/* The device's configuration changed (e.g. capacity): tell the driver. */
void vpci_config_changed(struct vpci *vp);

#endif
