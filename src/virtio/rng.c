#include "virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/log.h"
#include "virtio/vpci.h"
#include "virtio/vpool.h"

struct vrng {
	struct vpci *vp;
	struct vpool *pool;
	struct vrng_stats st;	/* atomics; 'broken' is the pool's */
	bool warned;		/* getrandom failed once: said so */
};

static void count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* Straight into the guest's buffers, up to RNG_MAX_REQUEST bytes. */
static uint32_t serve(void *opaque, unsigned q, const struct virtq_elem *e)
{
	struct vrng *r = opaque;
	uint64_t left = RNG_MAX_REQUEST, done = 0;

	count(&r->st.requests, 1);
	if (!e->in_len) {
		count(&r->st.empty, 1);
		return 0;
	}
	for (unsigned i = e->n_out; i < e->n_out + e->n_in && left; i++) {
		uint8_t *p = e->iov[i].iov_base;
		uint64_t len = e->iov[i].iov_len < left ? e->iov[i].iov_len : left;

		while (len) {
			ssize_t n = getrandom(p, len, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (!__atomic_exchange_n(&r->warned, true, __ATOMIC_RELAXED))
					pr_warn("virtio-rng: getrandom: %s", strerror(errno));
				count(&r->st.errors, 1);
				goto out;
			}
			p += n;
			len -= (uint64_t)n;
			left -= (uint64_t)n;
			done += (uint64_t)n;
		}
	}
out:
	count(&r->st.bytes, done);
	return (uint32_t)done;
}

static void cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	memset(data, 0, len);	/* virtio-rng has no configuration */
}

static int dev_start(void *opaque)
{
	struct vrng *r = opaque;

	vpool_start(r->pool);
	return 0;
}

static void dev_notify(void *opaque, unsigned q)
{
	struct vrng *r = opaque;

	vpool_notify(r->pool, q);
}

static bool dev_reset(void *opaque)
{
	struct vrng *r = opaque;

	return vpool_reset(r->pool);
}

static const struct vpci_device_ops ops = {
	.cfg_read = cfg_read, .start = dev_start, .notify = dev_notify, .reset = dev_reset,
};

int vrng_new(struct pci_bus *bus, const struct vrng_config *cfg, struct vrng **out,
	     char *err, unsigned errlen)
{
	struct vrng *r = calloc(1, sizeof(*r));
	struct vpci_config vc = {
		.device_id = VIRTIO_RNG_ID, .class_code = 0x00ff00,
		.num_queues = 1, .max_queue_size = 64, .ops = &ops, .opaque = r,
		.map = cfg->map, .map_opaque = cfg->map_opaque,
		.msi_send = cfg->msi_send, .msi_opaque = cfg->msi_opaque, .name = "virtio-rng",
	};
	int e;

	if (!r)
		return -ENOMEM;
	e = vpci_new(bus, &vc, &r->vp);
	if (e) {
		snprintf(err, errlen, "virtio-rng: no room on the PCI bus");
		free(r);
		return e;
	}
	{
		struct vpool_config pc = {
			.vp = r->vp, .nqueues = 1, .served = 1, .nthreads = 1,
			.serve = serve, .opaque = r, .name = "virtio-rng",
		};

		e = vpool_new(&pc, &r->pool);
	}
	if (e) {
		snprintf(err, errlen, "virtio-rng: cannot start its thread");
		vrng_free(r);
		return e;
	}
	*out = r;
	return 0;
}

void vrng_free(struct vrng *r)
{
	if (!r)
		return;
	vpool_free(r->pool);
	vpci_free(r->vp);
	free(r);
}

void vrng_stats(struct vrng *r, struct vrng_stats *out)
{
	out->requests = __atomic_load_n(&r->st.requests, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&r->st.bytes, __ATOMIC_RELAXED);
	out->empty = __atomic_load_n(&r->st.empty, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&r->st.errors, __ATOMIC_RELAXED);
	out->broken = vpool_broken(r->pool);
}
