/* A host tap device as a network card's backend: frames in and out, each
 * preceded by the 12-byte virtio_net_hdr_v1 (IFF_VNET_HDR with
 * TUNSETVNETHDRSZ 12), so the guest's checksum and segmentation offload
 * requests pass to the host kernel as they are, and the host's offloaded
 * packets reach the guest without being split or checksummed here.
 *
 * The tap is opened by name (TUNSETIFF): an existing tap is attached, as
 * QEMU does; a missing one is created by the kernel when we may
 * (CAP_NET_ADMIN), and goes away with us. Non-blocking. */
#ifndef AMALGAM_VIRTIO_TAP_H
#define AMALGAM_VIRTIO_TAP_H

#include <stdbool.h>

#define TAP_VNET_HDR_LEN 12

/* TUN_F_* offloads the guest may receive (linux/if_tun.h). */
#define TAP_OFF_CSUM 0x01
#define TAP_OFF_TSO4 0x02
#define TAP_OFF_TSO6 0x04
#define TAP_OFF_TSO_ECN 0x08

/* The fd, or -errno with a one-line reason in err. */
int tap_open(const char *name, char *err, unsigned errlen);
/* Which of CSUM, TSO4, TSO6, TSO_ECN the tap accepts (TUNSETOFFLOAD
 * tried, then turned off again); 0 if none. */
unsigned tap_offloads_supported(int fd);
/* 0 or -errno. */
int tap_set_offloads(int fd, unsigned flags);

#endif
