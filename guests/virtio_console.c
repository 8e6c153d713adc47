/* virtio-console (run with --console stdout): what the guest puts on the
 * transmit queue appears on amalgam's stdout (checked from outside with
 * virtio_console.expect), in one buffer and in two; the receive
 * queue's buffers stay with the device (no input); a descriptor loop
 * marks the device DEVICE_NEEDS_RESET and a reset brings it back. */
#include "libguest.h"
#include "vdrv.h"

#define QSZ 8

static const char *const lines[] = {
	"hvc0: hello from the guest\n",
	"hvc0: a second chain, ",
	"in two buffers\n",
};

static bool send(struct vdrv *d, struct vdrv_q *tx, char *buf, const char *a, const char *b)
{
	uint32_t id, len;
	unsigned la = (unsigned)strlen(a), lb = b ? (unsigned)strlen(b) : 0;

	memcpy(buf, a, la);
	memcpy(buf + 256, b ? b : "", lb);
	tx->desc[0] = (struct vdrv_desc){ (uint64_t)buf, la, b ? VDRV_D_NEXT : 0, 1 };
	tx->desc[1] = (struct vdrv_desc){ (uint64_t)buf + 256, lb, 0, 0 };
	vdrv_post(d, tx, 0);
	return vdrv_used(tx, 5000, &id, &len) && id == 0 && len == 0;
}

int main(void)
{
	struct vdrv d;
	struct vdrv_q rx = { 0 }, tx = { 0 };
	char *buf = alloc(4096, 4096), *in = alloc(4096, 4096);
	uint32_t id, len;

	if (!vdrv_find(&d, 3)) {
		report(false, "virtio-console found on the PCI bus");
		return report_summary();
	}
	report(true, "virtio-console found on the PCI bus (slot %u)", d.slot);
	vdrv_begin(&d, VDRV_F_VERSION_1, 0);
	vdrv_queue(&d, &rx, 0, QSZ, 1);
	vdrv_queue(&d, &tx, 1, QSZ, 2);
	report(vdrv_driver_ok(&d) == 0x0f, "DRIVER_OK");
	rx.desc[0] = (struct vdrv_desc){ (uint64_t)in, 4096, VDRV_D_WRITE, 0 };
	vdrv_post(&d, &rx, 0);

	{
		/* Both before any report: the serial console's lines must not
		 * come between them on stdout (virtio_console.expect). */
		bool one = send(&d, &tx, buf, lines[0], NULL);
		bool two = send(&d, &tx, buf, lines[1], lines[2]);

		report(one, "a line sent");
		report(two, "a line in two buffers sent");
	}
	report(!vdrv_used(&rx, 200, &id, &len), "the receive buffer stays with the device");

	/* Garbage: a descriptor that points at itself. */
	tx.desc[0] = (struct vdrv_desc){ (uint64_t)buf, 4, VDRV_D_NEXT, 0 };
	vdrv_post(&d, &tx, 0);
	report(wait_until(vdrv_status(&d) & VDRV_S_NEEDS_RESET, 5000),
	       "a descriptor loop: DEVICE_NEEDS_RESET");
	vdrv_begin(&d, VDRV_F_VERSION_1, 0);
	vdrv_queue(&d, &rx, 0, QSZ, 1);
	vdrv_queue(&d, &tx, 1, QSZ, 2);
	report(vdrv_driver_ok(&d) == 0x0f, "after a reset the device starts again");
	report(send(&d, &tx, buf, "hvc0: after the reset\n", NULL), "... and sends a line");
	return report_summary();
}
