#include "vdrv.h"

#include "libguest.h"

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}


uint32_t vdrv_cfg_read(struct vdrv *d, unsigned off)
{
	outl(0xcf8, 0x80000000u | d->slot << 11 | (off & 0xfc));
	return inl(0xcfc);
}

void vdrv_cfg_write16(struct vdrv *d, unsigned off, uint16_t v)
{
	uint32_t old = vdrv_cfg_read(d, off & ~3u);
	unsigned sh = (off & 2) * 8;

	outl(0xcf8, 0x80000000u | d->slot << 11 | (off & 0xfc));
	outl(0xcfc, (old & ~(0xffffu << sh)) | (uint32_t)v << sh);
}

volatile uint32_t vdrv_irqs;

static void count_irq(struct irq_frame *f)
{
	vdrv_irqs++;
	apic_eoi();
}

bool vdrv_find(struct vdrv *d, unsigned id)
{
	memset(d, 0, sizeof(*d));
	for (d->slot = 0; d->slot < 32; d->slot++)
		if (vdrv_cfg_read(d, 0) == ((0x1040u + id) << 16 | 0x1af4))
			break;
	if (d->slot == 32)
		return false;
	d->bar0 = vdrv_cfg_read(d, 0x10) & ~0xfull;
	for (unsigned cap = vdrv_cfg_read(d, 0x34) & 0xff; cap;
	     cap = (vdrv_cfg_read(d, cap) >> 8) & 0xff) {
		uint32_t w0 = vdrv_cfg_read(d, cap);
		uint64_t off = vdrv_cfg_read(d, cap + 8);

		if ((w0 & 0xff) == 0x11) {
			d->msix_cap = cap;
			d->msix_table = d->bar0 + (vdrv_cfg_read(d, cap + 4) & ~7u);
			continue;
		}
		if ((w0 & 0xff) != 0x09)
			continue;
		switch ((w0 >> 24) & 0xff) {
		case 1: d->common = d->bar0 + off; break;
		case 2:
			d->notify = d->bar0 + off;
			d->notify_mult = vdrv_cfg_read(d, cap + 16);
			break;
		case 3: d->isr = d->bar0 + off; break;
		case 4: d->device = d->bar0 + off; break;
		}
	}
	vdrv_cfg_write16(d, 4, 0x6);	/* memory decoding, bus master */
	if (!(d->common && d->notify && d->isr && d->device && d->msix_cap))
		return false;
	/* Every entry to VDRV_VEC on the BSP: waits halt until an interrupt
	 * (wait_until), so every queue a test waits on needs one. */
	irq_set_handler(VDRV_VEC, count_irq);
	for (unsigned v = 0; v < VDRV_VECTORS; v++)
		vdrv_msix(d, v, percpu[0].apic_id, VDRV_VEC);
	vdrv_msix_enable(d);
	return true;
}

uint64_t vdrv_features(struct vdrv *d)
{
	uint64_t f;

	wr32(d->common, 0);
	f = rd32(d->common + 4);
	wr32(d->common, 1);
	return f | (uint64_t)rd32(d->common + 4) << 32;
}

uint8_t vdrv_status(struct vdrv *d)
{
	return rd8(d->common + 0x14);
}

bool vdrv_reset(struct vdrv *d)
{
	wr8(d->common + 0x14, 0);
	/* The reset is over when the status reads 0 (4.1.4.3.2); the device
	 * may finish it later, with no interrupt: poll, do not halt. */
	for (uint64_t end = rdtsc() + timeout_to_tsc(5000);
	     rd8(d->common + 0x14) && rdtsc() < end;)
		pause();
	return rd8(d->common + 0x14) == 0;
}

uint8_t vdrv_begin(struct vdrv *d, uint64_t features, uint16_t cfg_vec)
{
	vdrv_reset(d);
	wr8(d->common + 0x14, VDRV_S_ACK | VDRV_S_DRIVER);
	wr32(d->common + 0x08, 0);
	wr32(d->common + 0x0c, (uint32_t)features);
	wr32(d->common + 0x08, 1);
	wr32(d->common + 0x0c, (uint32_t)(features >> 32));
	wr8(d->common + 0x14, VDRV_S_ACK | VDRV_S_DRIVER | VDRV_S_FEATURES_OK);
	wr16(d->common + 0x10, cfg_vec);
	return rd8(d->common + 0x14);
}

void vdrv_queue(struct vdrv *d, struct vdrv_q *q, unsigned idx, unsigned size, uint16_t vec)
{
	if (!q->desc) {
		q->desc = alloc(4096, 4096);
		q->avail = alloc(4096, 4096);
		q->used = alloc(4096, 4096);
	}
	memset(q->desc, 0, 4096);
	memset((void *)q->avail, 0, 4096);
	memset((void *)q->used, 0, 4096);
	q->idx = idx;
	q->size = size;
	q->avail_idx = q->used_seen = 0;
	wr16(d->common + 0x16, (uint16_t)idx);
	wr16(d->common + 0x18, (uint16_t)size);
	wr16(d->common + 0x1a, vec);
	wr64(d->common + 0x20, (uint64_t)q->desc);
	wr64(d->common + 0x28, (uint64_t)q->avail);
	wr64(d->common + 0x30, (uint64_t)q->used);
	wr16(d->common + 0x1c, 1);
}

uint8_t vdrv_driver_ok(struct vdrv *d)
{
	wr8(d->common + 0x14, VDRV_S_ACK | VDRV_S_DRIVER | VDRV_S_FEATURES_OK |
			      VDRV_S_DRIVER_OK);
	return rd8(d->common + 0x14);
}

void vdrv_msix(struct vdrv *d, unsigned v, unsigned apic_id, uint8_t vector)
{
	uint64_t e = d->msix_table + 16 * v;

	wr32(e, 0xfee00000u | apic_id << 12);
	wr32(e + 4, 0);
	wr32(e + 8, vector);
	wr32(e + 12, 0);
}

void vdrv_msix_enable(struct vdrv *d)
{
	vdrv_cfg_write16(d, d->msix_cap + 2, 0x8000);
}

void vdrv_post(struct vdrv *d, struct vdrv_q *q, uint16_t head)
{
	/* used_event first (only read with EVENT_IDX), as Linux's
	 * start_xmit does (virtqueue_enable_cb_delayed before the kick). */
	q->avail[2 + q->size] = q->used_seen;
	q->avail[2 + q->avail_idx % q->size] = head;
	__atomic_store_n(&q->avail[1], ++q->avail_idx, __ATOMIC_RELEASE);
	wr16(d->notify + q->idx * d->notify_mult, (uint16_t)q->idx);
}

bool vdrv_used(struct vdrv_q *q, unsigned ms, uint32_t *id, uint32_t *len)
{
	volatile uint32_t *e;

	/* used_event (read by the device only with EVENT_IDX): interrupt us
	 * for the next entry, as Linux's virtqueue_enable_cb_prepare does. */
	__atomic_store_n(&q->avail[2 + q->size], q->used_seen, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!wait_until(__atomic_load_n(&q->used[1], __ATOMIC_ACQUIRE) != q->used_seen, ms))
		return false;
	e = (volatile uint32_t *)((uint8_t *)q->used + 4 + 8 * (q->used_seen % q->size));
	*id = e[0];
	*len = e[1];
	q->used_seen++;
	return true;
}
