#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/vpci.h"
#include "virtio/vpool.h"

/* Feature bits (5.2.3). */
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_MQ 12
#define F_DISCARD 13
#define F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define SECTOR 512
#define ID_BYTES 20
#define SEG_MAX (VIRTQ_MAX_SEGS - 2)	/* leave room for header and status */
#define MAX_DISCARD_SECTORS (1u << 22)	/* 2 GiB a segment */
#define MAX_DISCARD_SEGS 32

struct blk_cfg {
	uint64_t capacity;	/* in 512-byte sectors */
	uint32_t size_max, seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));
_Static_assert(sizeof(struct blk_cfg) == 60, "virtio_blk_config is 60 bytes");

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct blk_hdr) == 16, "request header is 16 bytes");

struct blk_range {	/* discard and write-zeroes segments */
	uint64_t sector;
	uint32_t num_sectors, flags;	/* flags bit 0: unmap */
};
_Static_assert(sizeof(struct blk_range) == 16, "range segment is 16 bytes");

struct vblk {
	struct vblk_config cfg;
	struct vpci *vp;
	int fd;
	uint64_t size;		/* bytes the guest sees: whole sectors */
	char id[ID_BYTES];

	struct vpool *pool;	/* the workers (virtio/vpool.h) */
	struct vblk_stats st;	/* atomics; 'broken' is the pool's */
};

static void count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* The part [skip, skip + len) of one side of a chain as iovecs. */
static int slice(const struct virtq_elem *e, bool in, uint64_t skip, uint64_t len,
		 struct iovec *out)
{
	unsigned first = in ? e->n_out : 0, n = in ? e->n_in : e->n_out, k = 0;

	for (unsigned i = first; i < first + n && len; i++) {
		const struct iovec *v = &e->iov[i];
		uint64_t take;

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		take = v->iov_len - skip;
		if (take > len)
			take = len;
		out[k++] = (struct iovec){ (uint8_t *)v->iov_base + skip, take };
		len -= take;
		skip = 0;
	}
	return (int)k;
}

/* preadv/pwritev until all is done: a short transfer is retried, a
 * transfer of nothing (the file shrank under us) is an error. */
static int rw_all(struct vblk *b, bool write, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(b->fd, iov, n, (off_t)off)
				  : preadv(b->fd, iov, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		while (n > 0 && (uint64_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static int zero_range(struct vblk *b, uint64_t off, uint64_t len, bool unmap)
{
	static const uint8_t zeros[65536];
	int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
			 : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (!fallocate(b->fd, mode, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	/* A file system without the call: write the zeros. */
	while (len) {
		struct iovec v = { (void *)zeros, len < sizeof(zeros) ? len : sizeof(zeros) };
		int r = rw_all(b, true, &v, 1, off);

		if (r)
			return r;
		off += sizeof(zeros) < len ? sizeof(zeros) : len;
		len -= sizeof(zeros) < len ? sizeof(zeros) : len;
	}
	return 0;
}

static bool in_disk(struct vblk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->size / SECTOR && bytes <= b->size - sector * SECTOR;
}

static uint8_t do_ranges(struct vblk *b, const struct virtq_elem *e, uint32_t type)
{
	uint64_t n = (e->out_len - sizeof(struct blk_hdr)) / sizeof(struct blk_range);

	if (b->cfg.readonly)
		return S_IOERR;
	if (!n || n > MAX_DISCARD_SEGS ||
	    (e->out_len - sizeof(struct blk_hdr)) % sizeof(struct blk_range))
		return S_UNSUPP;
	for (uint64_t i = 0; i < n; i++) {
		struct blk_range r;
		int err;

		virtq_elem_read(e, sizeof(struct blk_hdr) + i * sizeof(r), &r, sizeof(r));
		if (r.num_sectors > MAX_DISCARD_SECTORS || (r.flags & ~1u) ||
		    (type == T_DISCARD && (r.flags & 1)))
			return S_UNSUPP;
		if (!in_disk(b, r.sector, (uint64_t)r.num_sectors * SECTOR))
			return S_IOERR;
		err = zero_range(b, r.sector * SECTOR, (uint64_t)r.num_sectors * SECTOR,
				 type == T_DISCARD || (r.flags & 1));
		/* A discard that the file system cannot do is still done:
		 * its blocks' contents are undefined afterwards anyway. */
		if (err && !(type == T_DISCARD && err == -EOPNOTSUPP))
			return S_IOERR;
	}
	return S_OK;
}

/* Serve one chain (on a worker); returns the bytes written into its in
 * buffers. */
static uint32_t serve(void *opaque, unsigned q, const struct virtq_elem *e)
{
	struct vblk *b = opaque;
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct blk_hdr h;
	uint8_t status = S_OK;
	uint64_t data, written = 1;
	int n, err = 0;

	/* A header and a status byte, or the request makes no sense: there
	 * is nowhere to put an answer, so the chain goes back untouched. */
	if (e->out_len < sizeof(h) || e->in_len < 1) {
		count(&b->st.bad_requests, 1);
		return 0;
	}
	virtq_elem_read(e, 0, &h, sizeof(h));
	if (b->cfg.inject && h.type != T_GET_ID)
		err = -b->cfg.inject(b->cfg.inject_opaque, h.type, h.sector);
	switch (h.type) {
	case T_IN:
		count(&b->st.reads, 1);
		data = e->in_len - 1;
		if (data % SECTOR || !in_disk(b, h.sector, data)) {
			status = S_IOERR;
			break;
		}
		n = slice(e, true, 0, data, iov);
		if (!err)
			err = rw_all(b, false, iov, n, h.sector * SECTOR);
		if (!err) {
			written += data;
			count(&b->st.read_bytes, data);
		}
		break;
	case T_OUT:
		count(&b->st.writes, 1);
		data = e->out_len - sizeof(h);
		if (b->cfg.readonly || data % SECTOR || !in_disk(b, h.sector, data)) {
			status = S_IOERR;
			break;
		}
		n = slice(e, false, sizeof(h), data, iov);
		if (!err)
			err = rw_all(b, true, iov, n, h.sector * SECTOR);
		if (!err)
			count(&b->st.write_bytes, data);
		break;
	case T_FLUSH:
		count(&b->st.flushes, 1);
		if (!err && !b->cfg.readonly && fsync(b->fd))
			err = -errno;
		break;
	case T_GET_ID:
		count(&b->st.other, 1);
		data = e->in_len - 1 < ID_BYTES ? e->in_len - 1 : ID_BYTES;
		virtq_elem_write(e, 0, b->id, data);
		written += data;
		break;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		count(h.type == T_DISCARD ? &b->st.discards : &b->st.write_zeroes, 1);
		status = err ? S_IOERR : do_ranges(b, e, h.type);
		break;
	default:
		count(&b->st.other, 1);
		status = S_UNSUPP;
	}
	if (err) {
		status = S_IOERR;
		written = 1;
		pr_warn("%s: host I/O failed at sector %llu: %s", b->cfg.name,
			(unsigned long long)h.sector, strerror(-err));
	}
	if (status == S_IOERR)
		count(&b->st.io_errors, 1);
	else if (status == S_UNSUPP)
		count(&b->st.unsupported, 1);
	virtq_elem_write(e, e->in_len - 1, &status, 1);
	return (uint32_t)written;
}

static void cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	struct vblk *b = opaque;
	struct blk_cfg c = {
		.capacity = b->size / SECTOR,
		.seg_max = SEG_MAX,
		.blk_size = SECTOR,
		.min_io_size = 1,
		.writeback = 1,
		.num_queues = (uint16_t)b->cfg.queues,
		.max_discard_sectors = MAX_DISCARD_SECTORS,
		.max_discard_seg = MAX_DISCARD_SEGS,
		.discard_sector_alignment = 1,
		.max_write_zeroes_sectors = MAX_DISCARD_SECTORS,
		.max_write_zeroes_seg = MAX_DISCARD_SEGS,
		.write_zeroes_may_unmap = 1,
	};

	if (off < sizeof(c) && len <= sizeof(c) - off)
		memcpy(data, (uint8_t *)&c + off, len);
	else
		memset(data, 0, len);
}

static int dev_start(void *opaque)
{
	struct vblk *b = opaque;

	vpool_start(b->pool);
	return 0;
}

static void dev_notify(void *opaque, unsigned i)
{
	struct vblk *b = opaque;

	vpool_notify(b->pool, i);
}

/* The driver reset the device: the pool finishes it once no worker is
 * inside a queue (virtio/vpool.h says why it must not wait here). */
static bool dev_reset(void *opaque)
{
	struct vblk *b = opaque;

	return vpool_reset(b->pool);
}

static const struct vpci_device_ops ops = {
	.cfg_read = cfg_read, .start = dev_start, .notify = dev_notify, .reset = dev_reset,
};

/* The transport's view of a disk: the same for the disk and its shadows
 * on other nodes. */
static struct vpci_config transport(const struct vblk_config *cfg,
				    const struct vpci_device_ops *dops)
{
	return (struct vpci_config){
		.device_id = VIRTIO_BLK_ID, .class_code = 0x018000,
		.features = 1ULL << F_SEG_MAX | 1ULL << F_BLK_SIZE | 1ULL << F_FLUSH |
			    1ULL << F_MQ | 1ULL << F_DISCARD | 1ULL << F_WRITE_ZEROES |
			    (cfg->readonly ? 1ULL << F_RO : 0),
		.num_queues = cfg->queues, .max_queue_size = 256,
		.cfg_size = sizeof(struct blk_cfg), .ops = dops,
		.map = cfg->map, .map_opaque = cfg->map_opaque,
		.msi_send = cfg->msi_send, .msi_opaque = cfg->msi_opaque, .name = cfg->name,
	};
}

int vblk_shadow_new(struct pci_bus *bus, const struct vblk_config *cfg, unsigned host,
		    struct vpci **out)
{
	struct vpci_config vc = transport(cfg, NULL);

	if (!cfg->queues || cfg->queues > BLK_MAX_QUEUES)
		return -EINVAL;
	return vpci_shadow_new(bus, &vc, host, out);
}

int vblk_new(struct pci_bus *bus, const struct vblk_config *cfg, struct vblk **out,
	     char *err, unsigned errlen)
{
	struct vblk *b;
	struct stat st;
	unsigned workers = cfg->workers ? cfg->workers : BLK_DEFAULT_WORKERS;
	struct vpci_config vc = transport(cfg, &ops);
	int r;

	if (!cfg->queues || cfg->queues > BLK_MAX_QUEUES || workers > 64) {
		snprintf(err, errlen, "disk %s: 1 to %d queues and at most 64 workers",
			 cfg->path, BLK_MAX_QUEUES);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = -1;
	vc.opaque = b;
	b->cfg = *cfg;
	b->cfg.workers = workers;
	snprintf(b->id, sizeof(b->id), "amalgam-%s", cfg->name);
	b->fd = open(cfg->path, (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "disk %s: %s", cfg->path, strerror(errno));
		goto fail;
	}
	if (fstat(b->fd, &st) || !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "disk %s: not a regular file (a raw image)", cfg->path);
		goto fail;
	}
	b->size = (uint64_t)st.st_size / SECTOR * SECTOR;
	if (!b->size) {
		r = -EINVAL;
		snprintf(err, errlen, "disk %s: smaller than one sector", cfg->path);
		goto fail;
	}
	/* Two writers of one image would corrupt it: take the image as
	 * QEMU does (shared for a read-only disk). */
	if (flock(b->fd, (cfg->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		r = -errno;
		snprintf(err, errlen, "disk %s: in use by another process (%s)", cfg->path,
			 strerror(errno));
		goto fail;
	}
	r = vpci_new(bus, &vc, &b->vp);
	if (r) {
		snprintf(err, errlen, "disk %s: no room on the PCI bus", cfg->path);
		goto fail;
	}
	{
		struct vpool_config pc = {
			.vp = b->vp, .nqueues = cfg->queues, .served = ~0u,
			.nthreads = workers, .serve = serve, .opaque = b, .name = cfg->name,
		};

		r = vpool_new(&pc, &b->pool);
		if (r) {
			snprintf(err, errlen, "disk %s: cannot start its workers", cfg->path);
			goto fail;
		}
	}
	*out = b;
	return 0;
fail:
	vblk_free(b);
	return r;
}

void vblk_free(struct vblk *b)
{
	if (!b)
		return;
	vpool_free(b->pool);
	/* The PCI function stays on the bus (devices are never removed);
	 * vpci_free is for a bus that is going away too. */
	vpci_free(b->vp);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

void vblk_stats(struct vblk *b, struct vblk_stats *out)
{
	uint64_t *src = (uint64_t *)&b->st, *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	out->broken = b->pool ? vpool_broken(b->pool) : 0;
}
