#include "virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

_Static_assert(TAP_OFF_CSUM == TUN_F_CSUM && TAP_OFF_TSO4 == TUN_F_TSO4 &&
	       TAP_OFF_TSO6 == TUN_F_TSO6 && TAP_OFF_TSO_ECN == TUN_F_TSO_ECN,
	       "our offload bits are the kernel's");

int tap_open(const char *name, char *err, unsigned errlen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = TAP_VNET_HDR_LEN, fd, r;
	unsigned features = 0;

	if (!*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap '%s': a name of 1 to %d characters", name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "tap %s: /dev/net/tun: %s", name, strerror(errno));
		return r;
	}
	if (ioctl(fd, TUNGETFEATURES, &features) || !(features & IFF_VNET_HDR)) {
		snprintf(err, errlen, "tap %s: this kernel's tun has no IFF_VNET_HDR", name);
		r = -EOPNOTSUPP;
		goto fail;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		r = -errno;
		snprintf(err, errlen, "tap %s: %s%s", name, strerror(errno),
			 errno == EPERM ? " (attaching a tap needs CAP_NET_ADMIN or the tap's owner)"
			 : errno == EINVAL || errno == EBUSY ?
				" (not a single-queue tap, or in use by another process)" : "");
		goto fail;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr)) {
		r = -errno;
		snprintf(err, errlen, "tap %s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

unsigned tap_offloads_supported(int fd)
{
	unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

	if (ioctl(fd, TUNSETOFFLOAD, all)) {
		/* Segmentation needs checksums: try those alone. */
		if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM))
			return 0;
		all = TUN_F_CSUM;
	}
	ioctl(fd, TUNSETOFFLOAD, 0);
	return all;
}

int tap_set_offloads(int fd, unsigned flags)
{
	return ioctl(fd, TUNSETOFFLOAD, flags) ? -errno : 0;
}
