/* A minimal virtio 1.x PCI driver for test guests: find a function by
 * virtio device id (mechanism #1 config access), read its capabilities,
 * negotiate, lay out split virtqueues and post chains, polling the used
 * ring (each wait bounded). Used by the rng, console and net guests. */
#ifndef GUEST_VDRV_H
#define GUEST_VDRV_H

#include <stdbool.h>
#include <stdint.h>

#define VDRV_S_ACK 1
#define VDRV_S_DRIVER 2
#define VDRV_S_DRIVER_OK 4
#define VDRV_S_FEATURES_OK 8
#define VDRV_S_NEEDS_RESET 64

#define VDRV_F_INDIRECT (1ull << 28)
#define VDRV_F_EVENT_IDX (1ull << 29)
#define VDRV_F_VERSION_1 (1ull << 32)

/* MSI-X: vdrv_find points every entry at this vector on the BSP, with a
 * handler that counts (vdrv_irqs) and EOIs; tests may repoint entries. */
#define VDRV_VEC 0x58
#define VDRV_VECTORS 8
extern volatile uint32_t vdrv_irqs;

#define VDRV_D_NEXT 1
#define VDRV_D_WRITE 2

static inline uint8_t rd8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint32_t rd32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void wr8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void wr16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void wr32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void wr64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

struct vdrv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vdrv {
	unsigned slot;
	uint64_t bar0, common, isr, notify, device, msix_table;
	unsigned notify_mult, msix_cap;
};

struct vdrv_q {
	unsigned idx, size;
	struct vdrv_desc *desc;
	volatile uint16_t *avail, *used;
	uint16_t avail_idx, used_seen;
};

uint32_t vdrv_cfg_read(struct vdrv *d, unsigned off);
void vdrv_cfg_write16(struct vdrv *d, unsigned off, uint16_t v);
/* The function of virtio device 'id' (1 net, 3 console, 4 rng). */
bool vdrv_find(struct vdrv *d, unsigned id);
uint64_t vdrv_features(struct vdrv *d);
uint8_t vdrv_status(struct vdrv *d);
/* Reset; true once the status reads 0 (within 5 s, polled). */
bool vdrv_reset(struct vdrv *d);
/* Reset (waiting until the status reads 0), ACK, DRIVER, the features,
 * FEATURES_OK; the config interrupt on MSI-X entry cfg_vec (0xffff none).
 * Returns the status read back. */
uint8_t vdrv_begin(struct vdrv *d, uint64_t features, uint16_t cfg_vec);
/* Queue idx of 'size' entries (rings allocated once per q), on MSI-X entry
 * vec (0xffff none: then a wait for it lasts its whole timeout), enabled;
 * rings zeroed. */
void vdrv_queue(struct vdrv *d, struct vdrv_q *q, unsigned idx, unsigned size, uint16_t vec);
uint8_t vdrv_driver_ok(struct vdrv *d);
/* MSI-X entry v to vector 'vector' on the CPU with APIC id apic_id; then
 * enable MSI-X. */
void vdrv_msix(struct vdrv *d, unsigned v, unsigned apic_id, uint8_t vector);
void vdrv_msix_enable(struct vdrv *d);

/* Make chain 'head' available and notify. */
void vdrv_post(struct vdrv *d, struct vdrv_q *q, uint16_t head);
/* A used entry not yet seen, waiting at most ms: true with its id and
 * length. */
bool vdrv_used(struct vdrv_q *q, unsigned ms, uint32_t *id, uint32_t *len);

#endif
