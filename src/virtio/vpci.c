#include "virtio/vpci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pci/msix.h"
#include "pci/pci.h"
#include "util/log.h"

#define COMMON_OFF 0x0000
#define COMMON_LEN 0x38
#define ISR_OFF 0x1000
#define DEVCFG_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4
#define MSIX_TABLE_OFF 0x4000
#define MSIX_PBA_OFF 0x5000
#define MSIX_VECTORS (VPCI_MAX_QUEUES + 1)

/* virtio_pci_cap cfg_type values (4.1.4). */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };

struct queue_regs {
	uint16_t size, msix, enable;
	uint64_t desc, avail, used;
};

struct vpci {
	pthread_mutex_t lock;	/* everything below but cfg (fixed) */
	struct vpci_config cfg;
	struct pci_dev *pci;
	struct msix *msix;
	uint64_t host_features, guest_features;
	uint32_t dfselect, gfselect;
	uint16_t config_msix, queue_sel;
	uint8_t status, generation, isr;
	bool started;
	bool resetting;		/* written 0, the device not yet done */
	struct queue_regs qr[VPCI_MAX_QUEUES];
	struct virtq q[VPCI_MAX_QUEUES];
};

static void add_vcap(struct pci_dev *d, uint8_t type, uint32_t off, uint32_t len,
		     bool notify)
{
	unsigned at = pci_add_cap(d, PCI_CAP_ID_VNDR, notify ? 20 : 16, notify ? 20 : 16);
	uint8_t head[2] = { notify ? 20 : 16, type };
	uint32_t mult = NOTIFY_MULT;

	pci_cfg_set(d, at + 2, head, 2);	/* cap_len, cfg_type; bar 0 */
	pci_cfg_set(d, at + 8, &off, 4);
	pci_cfg_set(d, at + 12, &len, 4);
	if (notify)
		pci_cfg_set(d, at + 16, &mult, 4);
}

/* With the lock released: INTA and the ISR, or an MSI-X vector. */
static void raise(struct vpci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (msix_enabled(vp->msix)) {
		if (vector != VPCI_NO_VECTOR)
			msix_notify(vp->msix, vector);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	vp->isr |= isr_bit;
	pthread_mutex_unlock(&vp->lock);
	pci_set_intx(vp->pci, 1);
}

void vpci_interrupt(struct vpci *vp, unsigned i)
{
	uint16_t v;

	if (i >= vp->cfg.num_queues)
		return;
	pthread_mutex_lock(&vp->lock);
	v = vp->qr[i].msix;
	pthread_mutex_unlock(&vp->lock);
	raise(vp, v, 1);
}

void vpci_config_changed(struct vpci *vp)
{
	uint16_t v;

	pthread_mutex_lock(&vp->lock);
	vp->generation++;
	v = vp->config_msix;
	pthread_mutex_unlock(&vp->lock);
	raise(vp, v, 2);
}

void vpci_needs_reset(struct vpci *vp, const char *why)
{
	bool first;

	pthread_mutex_lock(&vp->lock);
	first = !(vp->status & VIRTIO_STATUS_NEEDS_RESET);
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&vp->lock);
	if (!first)
		return;
	pr_warn("%s: the driver broke the rules (%s): device needs reset", vp->cfg.name,
		why ? why : "?");
	vpci_config_changed(vp);
}

bool vpci_broken(struct vpci *vp)
{
	bool b;

	pthread_mutex_lock(&vp->lock);
	b = vp->status & VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&vp->lock);
	return b;
}

struct virtq *vpci_queue(struct vpci *vp, unsigned i)
{
	return i < vp->cfg.num_queues ? &vp->q[i] : NULL;
}

uint64_t vpci_features(struct vpci *vp)
{
	uint64_t f;

	pthread_mutex_lock(&vp->lock);
	f = vp->guest_features;
	pthread_mutex_unlock(&vp->lock);
	return f;
}

/* With the lock held: the queue's ring, from its registers. */
static int setup_queue(struct vpci *vp, unsigned i)
{
	struct virtq *q = &vp->q[i];
	struct queue_regs *r = &vp->qr[i];

	memset(q, 0, sizeof(*q));
	q->size = r->size;
	q->desc_gpa = r->desc;
	q->avail_gpa = r->avail;
	q->used_gpa = r->used;
	q->event_idx = vp->guest_features >> VIRTIO_F_EVENT_IDX & 1;
	q->indirect = vp->guest_features >> VIRTIO_F_INDIRECT_DESC & 1;
	q->map = vp->cfg.map;
	q->map_opaque = vp->cfg.map_opaque;
	if (!r->enable) {
		q->broken = true;	/* never used: start skips it */
		q->why = "not enabled";
		return 0;
	}
	return virtq_start(q);
}

/* With the lock held: every register as after a reset. */
static void clear_regs(struct vpci *vp)
{
	vp->status = 0;
	vp->guest_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->config_msix = VPCI_NO_VECTOR;
	vp->queue_sel = 0;
	vp->isr = 0;
	vp->started = false;
	vp->resetting = false;
	for (unsigned i = 0; i < VPCI_MAX_QUEUES; i++)
		vp->qr[i] = (struct queue_regs){ .size = vp->cfg.max_queue_size,
						  .msix = VPCI_NO_VECTOR };
}

void vpci_reset_done(struct vpci *vp)
{
	pthread_mutex_lock(&vp->lock);
	clear_regs(vp);
	pthread_mutex_unlock(&vp->lock);
	pci_set_intx(vp->pci, 0);
}

/* With the lock held; returns what the device must be told: 1 start,
 * -1 reset, -2 broken (why), 0 nothing. */
static int write_status(struct vpci *vp, uint8_t val, const char **why)
{
	uint8_t old = vp->status;

	if (!val) {
		/* A started device finishes its reset when its requests have
		 * left the queues; the status reads non-zero until then. */
		if (vp->started) {
			vp->started = false;
			vp->resetting = true;
			return -1;
		}
		clear_regs(vp);
		return 0;
	}
	/* NEEDS_RESET is the device's bit: the driver cannot set or clear it. */
	val = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) |
			(old & VIRTIO_STATUS_NEEDS_RESET));
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* Refuse (leave the bit clear for the driver to read back) a
		 * feature we did not offer, or a driver without VERSION_1. */
		if ((vp->guest_features & ~vp->host_features) ||
		    !(vp->guest_features >> VIRTIO_F_VERSION_1 & 1))
			val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	vp->status = val;
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    !vp->started) {
		if (!(val & VIRTIO_STATUS_FEATURES_OK)) {
			*why = "DRIVER_OK without FEATURES_OK";
			return -2;
		}
		for (unsigned i = 0; i < vp->cfg.num_queues; i++) {
			if (setup_queue(vp, i)) {
				*why = "a queue's rings are misaligned, outside RAM or of a bad size";
				return -2;
			}
		}
		vp->started = true;
		return 1;
	}
	return 0;
}

static void common_read(struct vpci *vp, unsigned off, void *data, unsigned len)
{
	uint8_t regs[COMMON_LEN] = { 0 };
	struct queue_regs *q = vp->queue_sel < vp->cfg.num_queues ? &vp->qr[vp->queue_sel]
								  : NULL;
	uint32_t df = vp->dfselect == 0 ? (uint32_t)vp->host_features
		    : vp->dfselect == 1 ? (uint32_t)(vp->host_features >> 32) : 0;
	uint32_t gf = vp->gfselect == 0 ? (uint32_t)vp->guest_features
		    : vp->gfselect == 1 ? (uint32_t)(vp->guest_features >> 32) : 0;
	uint16_t nq = (uint16_t)vp->cfg.num_queues;

	memcpy(regs + 0x00, &vp->dfselect, 4);
	memcpy(regs + 0x04, &df, 4);
	memcpy(regs + 0x08, &vp->gfselect, 4);
	memcpy(regs + 0x0c, &gf, 4);
	memcpy(regs + 0x10, &vp->config_msix, 2);
	memcpy(regs + 0x12, &nq, 2);
	regs[0x14] = vp->status;
	regs[0x15] = vp->generation;
	memcpy(regs + 0x16, &vp->queue_sel, 2);
	if (q) {
		uint16_t notify_off = vp->queue_sel;

		memcpy(regs + 0x18, &q->size, 2);
		memcpy(regs + 0x1a, &q->msix, 2);
		memcpy(regs + 0x1c, &q->enable, 2);
		memcpy(regs + 0x1e, &notify_off, 2);
		memcpy(regs + 0x20, &q->desc, 8);
		memcpy(regs + 0x28, &q->avail, 8);
		memcpy(regs + 0x30, &q->used, 8);
	}
	memset(data, 0, len);
	if (off < COMMON_LEN)
		memcpy(data, regs + off, len <= COMMON_LEN - off ? len : COMMON_LEN - off);
}

/* With the lock held. Returns as write_status. */
static int common_write(struct vpci *vp, unsigned off, const void *data, unsigned len,
			const char **why)
{
	struct queue_regs *q = vp->queue_sel < vp->cfg.num_queues ? &vp->qr[vp->queue_sel]
								  : NULL;
	uint64_t v = 0;

	if (vp->resetting)
		return 0;	/* nothing but waiting until the reset is done */
	memcpy(&v, data, len > 8 ? 8 : len);
	/* Every field is naturally aligned and accessed at its width (4.1.3.1);
	 * the 64-bit addresses may also be written as two dwords. */
	switch (off) {
	case 0x00: vp->dfselect = (uint32_t)v; break;
	case 0x08: vp->gfselect = (uint32_t)v; break;
	case 0x0c:
		if (vp->status & VIRTIO_STATUS_FEATURES_OK)
			break;	/* features are fixed once accepted */
		if (vp->gfselect == 0)
			vp->guest_features = (vp->guest_features & ~0xffffffffULL) | (uint32_t)v;
		else if (vp->gfselect == 1)
			vp->guest_features = (vp->guest_features & 0xffffffffULL) | v << 32;
		break;
	case 0x10: vp->config_msix = v < MSIX_VECTORS ? (uint16_t)v : VPCI_NO_VECTOR; break;
	case 0x14: return write_status(vp, (uint8_t)v, why);
	case 0x16: vp->queue_sel = (uint16_t)v; break;
	default:
		if (!q || (q->enable && off != 0x1a))
			break;	/* the queue's layout is fixed once enabled */
		switch (off) {
		case 0x18:
			/* A size that is not a power of two is refused when
			 * the queue starts. */
			if (v && v <= vp->cfg.max_queue_size)
				q->size = (uint16_t)v;
			else
				q->size = 0;
			break;
		case 0x1a: q->msix = v < MSIX_VECTORS ? (uint16_t)v : VPCI_NO_VECTOR; break;
		case 0x1c: q->enable = v == 1; break;
		case 0x20: case 0x24: case 0x28: case 0x2c: case 0x30: case 0x34: {
			uint64_t *f = off < 0x28 ? &q->desc : off < 0x30 ? &q->avail : &q->used;

			if (len == 8)
				*f = v;
			else if (off & 4)
				*f = (*f & 0xffffffffULL) | v << 32;
			else
				*f = (*f & ~0xffffffffULL) | (uint32_t)v;
			break;
		}
		}
	}
	return 0;
}

static int bar_io(void *opaque, int bar, uint64_t offset, void *data, unsigned len,
		  bool is_write)
{
	struct vpci *vp = opaque;
	const char *why = NULL;
	int act = 0;

	if (offset >= MSIX_TABLE_OFF) {
		if (!msix_bar_io(vp->msix, offset, data, len, is_write) && !is_write)
			memset(data, 0, len);
		return 0;
	}
	if (offset >= NOTIFY_OFF) {
		unsigned q = (unsigned)(offset - NOTIFY_OFF) / NOTIFY_MULT;
		bool go;

		if (!is_write) {
			memset(data, 0, len);
			return 0;
		}
		pthread_mutex_lock(&vp->lock);
		go = vp->started && q < vp->cfg.num_queues && vp->qr[q].enable &&
		     !(vp->status & VIRTIO_STATUS_NEEDS_RESET);
		pthread_mutex_unlock(&vp->lock);
		if (go)
			vp->cfg.ops->notify(vp->cfg.opaque, q);
		return 0;
	}
	if (offset >= DEVCFG_OFF) {
		unsigned off = (unsigned)(offset - DEVCFG_OFF);

		if (off >= vp->cfg.cfg_size || len > vp->cfg.cfg_size - off) {
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (vp->cfg.ops->cfg_write)
				vp->cfg.ops->cfg_write(vp->cfg.opaque, off, data, len);
		} else {
			vp->cfg.ops->cfg_read(vp->cfg.opaque, off, data, len);
		}
		return 0;
	}
	if (offset >= ISR_OFF) {
		uint8_t isr;

		if (is_write)
			return 0;
		/* Reading the ISR clears it and lowers INTA (4.1.4.5). */
		pthread_mutex_lock(&vp->lock);
		isr = offset == ISR_OFF ? vp->isr : 0;
		if (offset == ISR_OFF)
			vp->isr = 0;
		pthread_mutex_unlock(&vp->lock);
		memset(data, 0, len);
		*(uint8_t *)data = isr;
		if (offset == ISR_OFF)
			pci_set_intx(vp->pci, 0);
		return 0;
	}
	if (len > 8 || (offset & (len - 1))) {
		if (!is_write)
			memset(data, 0, len);
		return 0;
	}
	pthread_mutex_lock(&vp->lock);
	if (is_write)
		act = common_write(vp, (unsigned)offset, data, len, &why);
	else
		common_read(vp, (unsigned)offset, data, len);
	pthread_mutex_unlock(&vp->lock);
	if (act == -1) {
		if (vp->cfg.ops->reset(vp->cfg.opaque))
			vpci_reset_done(vp);
	} else if (act == 1 && vp->cfg.ops->start(vp->cfg.opaque)) {
		vpci_needs_reset(vp, "the device refused to start");
	} else if (act == -2) {
		vpci_needs_reset(vp, why);
	}
	return 0;
}

static void cfg_written(void *opaque, unsigned off, unsigned len)
{
	struct vpci *vp = opaque;

	msix_cfg_written(vp->msix);
}

static const struct pci_dev_ops pci_ops = { .bar_io = bar_io, .cfg_written = cfg_written };

int vpci_new(struct pci_bus *bus, const struct vpci_config *cfg, struct vpci **out)
{
	struct vpci *vp;
	struct pci_dev_info info = {
		.vendor = 0x1af4, .device = (uint16_t)(0x1040 + cfg->device_id),
		.subsys_vendor = 0x1af4, .subsys = 0x1100, .class_code = cfg->class_code,
		.revision = 1, .bar_size = { VPCI_BAR_SIZE }, .intx = true, .name = cfg->name,
	};
	uint16_t max = cfg->max_queue_size;
	int err;

	if (!cfg->num_queues || cfg->num_queues > VPCI_MAX_QUEUES || !max ||
	    max > VIRTQ_MAX_SIZE || (max & (max - 1)) || cfg->cfg_size > 0x1000)
		return -EINVAL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	pthread_mutex_init(&vp->lock, NULL);
	vp->cfg = *cfg;
	vp->host_features = cfg->features | 1ULL << VIRTIO_F_VERSION_1 |
			    1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX;
	err = pci_add_device(bus, &info, &pci_ops, vp, &vp->pci);
	if (err)
		goto fail;
	add_vcap(vp->pci, CAP_COMMON, COMMON_OFF, COMMON_LEN, false);
	add_vcap(vp->pci, CAP_ISR, ISR_OFF, 1, false);
	add_vcap(vp->pci, CAP_DEVICE, DEVCFG_OFF, cfg->cfg_size ? cfg->cfg_size : 4, false);
	add_vcap(vp->pci, CAP_NOTIFY, NOTIFY_OFF, NOTIFY_MULT * cfg->num_queues, true);
	vp->msix = msix_new(vp->pci, MSIX_VECTORS, 0, MSIX_TABLE_OFF, MSIX_PBA_OFF,
			    cfg->msi_send, cfg->msi_opaque);
	if (!vp->msix) {
		err = -ENOSPC;
		goto fail;
	}
	clear_regs(vp);
	*out = vp;
	return 0;
fail:
	/* The PCI slot stays taken: devices are never removed from the bus,
	 * and a failure here ends the node's setup. */
	free(vp);
	return err;
}

struct pci_dev *vpci_pci_dev(struct vpci *vp)
{
	return vp->pci;
}

/* A shadow is never reached: its BAR accesses go to the device's node
 * (pci_dev_set_remote), so these only keep the transport whole. */
static void shadow_cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	memset(data, 0xff, len);
}

static int shadow_start(void *opaque)
{
	return -ENODEV;
}

static void shadow_notify(void *opaque, unsigned q)
{
}

static bool shadow_reset(void *opaque)
{
	return true;
}

static const struct vpci_device_ops shadow_ops = {
	.cfg_read = shadow_cfg_read, .start = shadow_start, .notify = shadow_notify,
	.reset = shadow_reset,
};

int vpci_shadow_new(struct pci_bus *bus, const struct vpci_config *cfg, unsigned host,
		    struct vpci **out)
{
	struct vpci_config c = *cfg;
	int r;

	c.ops = &shadow_ops;
	c.opaque = NULL;
	r = vpci_new(bus, &c, out);
	if (!r)
		pci_dev_set_remote((*out)->pci, host);
	return r;
}

void vpci_free(struct vpci *vp)
{
	if (!vp)
		return;
	msix_free(vp->msix);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
