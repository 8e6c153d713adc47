/* virtio-rng (run with --rng): the device fills the buffers we post with
 * the host's random bytes, two requests differ, a chain with nowhere to
 * write comes back with 0 bytes, a bad head index marks the device
 * DEVICE_NEEDS_RESET and a reset brings it back. */
#include "libguest.h"
#include "vdrv.h"

#define QSZ 8

static bool zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One request of n writable bytes (in 'segs' pieces) at buf; -1 if no
 * answer. */
static long request(struct vdrv *d, struct vdrv_q *q, uint8_t *buf, unsigned n, unsigned segs,
		    uint16_t flags)
{
	uint32_t id, len;

	for (unsigned s = 0; s < segs; s++)
		q->desc[s] = (struct vdrv_desc){ (uint64_t)buf + s * (n / segs), n / segs,
						 (uint16_t)(flags | (s + 1 < segs ? VDRV_D_NEXT : 0)),
						 (uint16_t)(s + 1) };
	vdrv_post(d, q, 0);
	if (!vdrv_used(q, 5000, &id, &len) || id != 0)
		return -1;
	return len;
}

int main(void)
{
	struct vdrv d;
	struct vdrv_q q = { 0 };
	uint8_t *a = alloc(4096, 4096), *b = alloc(4096, 4096);
	long n;

	if (!vdrv_find(&d, 4)) {
		report(false, "virtio-rng found on the PCI bus");
		return report_summary();
	}
	report(true, "virtio-rng found on the PCI bus (slot %u)", d.slot);
	report((vdrv_features(&d) & VDRV_F_VERSION_1) != 0, "VERSION_1 offered");
	vdrv_begin(&d, VDRV_F_VERSION_1, 0);
	vdrv_queue(&d, &q, 0, QSZ, 1);
	report(vdrv_driver_ok(&d) == 0x0f, "DRIVER_OK");

	memset(a, 0, 4096);
	n = request(&d, &q, a, 64, 1, VDRV_D_WRITE);
	report(n == 64 && !zero(a, 64), "64 random bytes (%ld)", n);
	report(wait_until(vdrv_irqs > 0, 2000), "the completion interrupted (MSI-X, %u)", vdrv_irqs);
	memset(b, 0, 4096);
	n = request(&d, &q, b, 64, 1, VDRV_D_WRITE);
	report(n == 64 && memcmp(a, b, 64), "a second request gives other bytes");
	memset(a, 0, 4096);
	n = request(&d, &q, a, 4096, 4, VDRV_D_WRITE);
	report(n == 4096 && !zero(a + 3072, 1024), "4 KiB in 4 buffers (%ld)", n);
	n = request(&d, &q, a, 64, 1, 0);
	report(n == 0, "a chain with nowhere to write: 0 bytes (%ld)", n);

	/* Garbage: a head index past the queue. */
	q.avail[2 + q.avail_idx % QSZ] = 200;
	__atomic_store_n(&q.avail[1], ++q.avail_idx, __ATOMIC_RELEASE);
	*(volatile uint16_t *)d.notify = 0;
	report(wait_until(vdrv_status(&d) & VDRV_S_NEEDS_RESET, 5000),
	       "a head index past the queue: DEVICE_NEEDS_RESET");
	vdrv_begin(&d, VDRV_F_VERSION_1, 0);
	vdrv_queue(&d, &q, 0, QSZ, 1);
	report(vdrv_driver_ok(&d) == 0x0f, "after a reset the device starts again");
	n = request(&d, &q, a, 32, 1, VDRV_D_WRITE);
	report(n == 32, "... and serves a request (%ld)", n);
	return report_summary();
}
