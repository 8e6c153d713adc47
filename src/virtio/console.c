#include "virtio/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/outfd.h"
#include "virtio/vpci.h"
#include "virtio/vpool.h"

#define Q_RX 0
#define Q_TX 1

/* struct virtio_console_config (5.3.4): meaningful only with features we
 * do not offer, so it reads as zeros but for its size. */
#define CFG_SIZE 12

struct vcon {
	struct vpci *vp;
	struct vpool *pool;
	int fd;
	bool own_fd;
	struct outfd out;	/* the pool's one thread writes it */
	uint64_t tx_bytes, tx_dropped;	/* atomics */
};

static uint32_t serve(void *opaque, unsigned q, const struct virtq_elem *e)
{
	struct vcon *c = opaque;

	for (unsigned i = 0; i < e->n_out; i++) {
		__atomic_add_fetch(&c->tx_bytes, e->iov[i].iov_len, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->tx_dropped,
				   outfd_write(&c->out, e->iov[i].iov_base, e->iov[i].iov_len),
				   __ATOMIC_RELAXED);
	}
	return 0;
}

static void cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	memset(data, 0, len);
}

static int dev_start(void *opaque)
{
	struct vcon *c = opaque;

	vpool_start(c->pool);
	return 0;
}

static void dev_notify(void *opaque, unsigned q)
{
	struct vcon *c = opaque;

	vpool_notify(c->pool, q);
}

static bool dev_reset(void *opaque)
{
	struct vcon *c = opaque;

	return vpool_reset(c->pool);
}

static const struct vpci_device_ops ops = {
	.cfg_read = cfg_read, .start = dev_start, .notify = dev_notify, .reset = dev_reset,
};

int vcon_new(struct pci_bus *bus, const struct vcon_config *cfg, struct vcon **out,
	     char *err, unsigned errlen)
{
	struct vcon *c = calloc(1, sizeof(*c));
	struct vpci_config vc = {
		.device_id = VIRTIO_CONSOLE_ID, .class_code = 0x078000,
		.num_queues = 2, .max_queue_size = 64, .cfg_size = CFG_SIZE, .ops = &ops,
		.opaque = c, .map = cfg->map, .map_opaque = cfg->map_opaque,
		.msi_send = cfg->msi_send, .msi_opaque = cfg->msi_opaque,
		.name = "virtio-console",
	};
	int r;

	if (!c)
		return -ENOMEM;
	c->fd = STDOUT_FILENO;
	if (cfg->path) {
		c->fd = open(cfg->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->fd < 0) {
			r = -errno;
			snprintf(err, errlen, "--console file=%s: %s", cfg->path, strerror(errno));
			free(c);
			return r;
		}
		c->own_fd = true;
	}
	c->out = (struct outfd){ .fd = c->fd, .name = "hvc0" };
	r = vpci_new(bus, &vc, &c->vp);
	if (r) {
		snprintf(err, errlen, "virtio-console: no room on the PCI bus");
		goto fail;
	}
	{
		struct vpool_config pc = {
			.vp = c->vp, .nqueues = 2, .served = 1u << Q_TX, .nthreads = 1,
			.serve = serve, .opaque = c, .name = "virtio-console",
		};

		r = vpool_new(&pc, &c->pool);
	}
	if (r) {
		snprintf(err, errlen, "virtio-console: cannot start its thread");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	vcon_free(c);
	return r;
}

void vcon_free(struct vcon *c)
{
	if (!c)
		return;
	vpool_free(c->pool);
	vpci_free(c->vp);
	if (c->own_fd)
		close(c->fd);
	free(c);
}

void vcon_stats(struct vcon *c, struct vcon_stats *out)
{
	out->tx_bytes = __atomic_load_n(&c->tx_bytes, __ATOMIC_RELAXED);
	out->tx_dropped = __atomic_load_n(&c->tx_dropped, __ATOMIC_RELAXED);
	out->broken = vpool_broken(c->pool);
}
