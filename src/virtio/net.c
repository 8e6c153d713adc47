#include "virtio/net.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "virtio/tap.h"
#include "virtio/vpci.h"

/* Feature bits (5.1.3). */
#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_MAC 5
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_GUEST_ECN 9
#define F_HOST_TSO4 11
#define F_HOST_TSO6 12
#define F_HOST_ECN 13
#define F_STATUS 16

#define S_LINK_UP 1
#define HDR_F_DATA_VALID 2

#define Q_RX 0
#define Q_TX 1
#define QSIZE 256
/* The largest frame either way: a 64 KiB GSO frame and its Ethernet
 * (and VLAN) header, after the virtio header. */
#define MAX_FRAME (65536 + 18)
/* Chains a turn takes from each queue before it lets the other run. */
#define BUDGET 64

struct net_cfg {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));
_Static_assert(sizeof(struct net_cfg) == 12, "virtio_net_config up to mtu");

struct vnet {
	struct vnet_config cfg;
	char tap[16];
	struct vpci *vp;
	int fd, kick, ep;
	unsigned tap_offloads;	/* what the tap could do at open */

	pthread_mutex_t lock;	/* below, to 'thread' */
	bool running, busy, reset_pending, stop;
	bool dead;		/* the tap failed: refuse to start */
	uint16_t link;		/* config status */

	/* The thread's own. */
	pthread_t thread;
	bool thread_started;
	struct virtq *rxq, *txq;
	bool rx_held;		/* a receive chain taken, no frame for it yet */
	bool polling_tap;	/* EPOLLIN on the tap in the set */
	struct virtq_elem rx, tx;
	uint8_t overflow[MAX_FRAME + TAP_VNET_HDR_LEN];

	struct vnet_stats st;	/* atomics */
};

static void count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	struct vnet *n = opaque;
	struct net_cfg c = { .max_virtqueue_pairs = 1, .mtu = 1500 };

	memcpy(c.mac, n->cfg.mac, 6);
	pthread_mutex_lock(&n->lock);
	c.status = n->link;
	pthread_mutex_unlock(&n->lock);
	if (off < sizeof(c) && len <= sizeof(c) - off)
		memcpy(data, (uint8_t *)&c + off, len);
	else
		memset(data, 0, len);
}

static void wake(struct vnet *n)
{
	uint64_t one = 1;

	/* An eventfd write cannot block short of 2^64 - 1 unread kicks. */
	if (write(n->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("%s: cannot wake its thread: %s", n->cfg.name, strerror(errno));
}

/* The tap is gone or broken for good: say so once, link down, device
 * marked broken; the guest's only way out is a reset, which the device
 * then refuses. The thread stops polling the tap. */
static void tap_failed(struct vnet *n, const char *what, int err)
{
	bool first;

	pthread_mutex_lock(&n->lock);
	first = !n->dead;
	n->dead = true;
	n->link = 0;
	pthread_mutex_unlock(&n->lock);
	if (!first)
		return;
	count(&n->st.tap_failed, 1);
	epoll_ctl(n->ep, EPOLL_CTL_DEL, n->fd, NULL);
	n->polling_tap = false;
	pr_err("%s: tap %s failed (%s: %s): the guest's network card is down and needs a "
	       "reset; the node goes on", n->cfg.name, n->tap, what, strerror(err));
	vpci_needs_reset(n->vp, "its tap failed");
}

/* errno values that mean the tap itself is gone, not this frame. */
static bool tap_gone(int e)
{
	return e == EBADFD || e == ENODEV || e == ENXIO || e == EPIPE || e == EBADF;
}

/* One transmit chain to the tap; false if the tap is gone. */
static bool send_one(struct vnet *n, const struct virtq_elem *e)
{
	ssize_t r;

	if (e->n_in || e->out_len < TAP_VNET_HDR_LEN ||
	    e->out_len > TAP_VNET_HDR_LEN + MAX_FRAME) {
		count(&n->st.tx_bad, 1);
		return true;
	}
	do
		r = writev(n->fd, e->iov, (int)e->n_out);
	while (r < 0 && errno == EINTR);
	if (r < 0 && tap_gone(errno)) {
		tap_failed(n, "write", errno);
		return false;
	}
	if (r < 0) {
		/* A header the kernel finds invalid, the interface down, no
		 * memory, a full queue: this frame is lost, as on a wire. */
		count(&n->st.tx_refused, 1);
		return true;
	}
	count(&n->st.tx_packets, 1);
	count(&n->st.tx_bytes, e->out_len - TAP_VNET_HDR_LEN);
	return true;
}

/* The next chain of q into e: 1, or 0 when the ring is empty (the
 * driver asked to notify us for the next), or -1 for a broken ring (the
 * device is marked for a reset). */
static int take(struct vnet *n, struct virtq *q, struct virtq_elem *e)
{
	for (;;) {
		int r = virtq_pop(q, e);

		if (r < 0) {
			count(&n->st.broken, 1);
			vpci_needs_reset(n->vp, q->why);
			return -1;
		}
		if (r || !virtq_arm_notify(q))
			return r;
	}
}

/* Returns 1 if the budget ran out with work left, 0 when the queue is
 * empty, -1 when the queue or the tap broke. */
static int do_tx(struct vnet *n)
{
	unsigned done = 0;
	int r = 0;

	for (;;) {
		if (done == BUDGET) {
			r = 1;
			break;
		}
		r = take(n, n->txq, &n->tx);
		if (r <= 0)
			break;
		done++;
		if (!send_one(n, &n->tx)) {
			virtq_push(n->txq, n->tx.head, 0);
			r = -1;
			break;
		}
		virtq_push(n->txq, n->tx.head, 0);
	}
	if (done && virtq_should_notify(n->txq))
		vpci_interrupt(n->vp, Q_TX);
	return r;
}

/* Read one frame into the held receive chain. 1 delivered, 0 no frame
 * (the chain stays held), -1 the tap is gone. */
static int recv_one(struct vnet *n, bool guest_csum)
{
	struct virtq_elem *e = &n->rx;
	struct iovec iov[VIRTQ_MAX_SEGS + 1];
	unsigned k = 0;
	ssize_t r;

	for (unsigned i = e->n_out; i < e->n_out + e->n_in; i++)
		iov[k++] = e->iov[i];
	/* Past the chain: what does not fit, so that we can tell. */
	iov[k++] = (struct iovec){ n->overflow, sizeof(n->overflow) };
	do
		r = readv(n->fd, iov, (int)k);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r < 0 || r == 0) {
		tap_failed(n, "read", r ? errno : EPIPE);
		return -1;
	}
	if ((uint64_t)r > e->in_len || r < TAP_VNET_HDR_LEN) {
		/* Too big for the chain: dropped, the chain kept for the next. */
		count(&n->st.rx_too_big, 1);
		return 0;
	}
	{
		uint16_t one = 1;

		/* num_buffers is 1 without mergeable buffers (5.1.6.4); the
		 * tap writes only the first 10 bytes of the header. */
		virtq_elem_write(e, 10, &one, 2);
	}
	if (!guest_csum) {
		uint8_t flags = 0;

		/* Without GUEST_CSUM the flags must be 0 (the tap may say
		 * DATA_VALID; its frames are whole when offloads are off). */
		virtq_elem_write(e, 0, &flags, 1);
	}
	virtq_push(n->rxq, e->head, (uint32_t)r);
	count(&n->st.rx_packets, 1);
	count(&n->st.rx_bytes, (uint64_t)r - TAP_VNET_HDR_LEN);
	n->rx_held = false;
	return 1;
}

/* As do_tx; also says whether the guest ran out of receive buffers. */
static int do_rx(struct vnet *n, bool *starved)
{
	bool guest_csum = vpci_features(n->vp) >> F_GUEST_CSUM & 1;
	unsigned done = 0;
	int r = 0;

	*starved = false;
	for (;;) {
		if (done == BUDGET) {
			r = 1;
			break;
		}
		if (!n->rx_held) {
			r = take(n, n->rxq, &n->rx);
			if (r < 0)
				break;
			if (r == 0) {
				*starved = true;
				break;
			}
			if (n->rx.n_out || n->rx.in_len < TAP_VNET_HDR_LEN) {
				/* Nowhere to put a header: the driver broke the rules
				 * of 5.1.6.3 (receive buffers are device-writable). */
				virtq_push(n->rxq, n->rx.head, 0);
				count(&n->st.broken, 1);
				vpci_needs_reset(n->vp, "a receive chain with no room for the header");
				r = -1;
				done++;
				break;
			}
			n->rx_held = true;
		}
		r = recv_one(n, guest_csum);
		if (r <= 0)
			break;
		done++;
	}
	if (done && virtq_should_notify(n->rxq))
		vpci_interrupt(n->vp, Q_RX);
	return r;
}

static void poll_tap(struct vnet *n, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };

	if (on == n->polling_tap || n->dead)
		return;
	if (epoll_ctl(n->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, n->fd, &ev) == 0)
		n->polling_tap = on;
}

/* One pass over both queues while the device runs. */
static void turn(struct vnet *n)
{
	bool starved = true, again = false;
	int t, r;

	pthread_mutex_lock(&n->lock);
	if (!n->running || n->dead || vpci_broken(n->vp)) {
		pthread_mutex_unlock(&n->lock);
		/* Stopped or broken: frames wait in the tap (level-triggered
		 * readiness would wake us for nothing). */
		poll_tap(n, false);
		return;
	}
	n->busy = true;
	pthread_mutex_unlock(&n->lock);

	t = do_tx(n);
	r = n->dead ? -1 : do_rx(n, &starved);
	again = t == 1 || r == 1;
	/* No receive buffers: leave frames in the tap until the driver
	 * posts some (its notification wakes us), rather than spin. */
	poll_tap(n, !starved && r >= 0);
	if (again)
		wake(n);

	pthread_mutex_lock(&n->lock);
	n->busy = false;
	if (n->reset_pending) {
		n->reset_pending = false;
		pthread_mutex_unlock(&n->lock);
		vpci_reset_done(n->vp);
		return;
	}
	pthread_mutex_unlock(&n->lock);
}

static void *thread_main(void *arg)
{
	struct vnet *n = arg;

	confine_thread(CONFINE_NIC, 0);
	for (;;) {
		struct epoll_event ev[2];
		int k = epoll_wait(n->ep, ev, 2, -1);
		bool stop;

		if (k < 0 && errno != EINTR) {
			pr_err("%s: epoll_wait: %s: the network card stops", n->cfg.name,
			       strerror(errno));
			break;
		}
		for (int i = 0; i < k; i++) {
			if (ev[i].data.u32 == 0) {
				uint64_t v;

				if (read(n->kick, &v, sizeof(v)) < 0 && errno != EAGAIN)
					pr_warn("%s: kick: %s", n->cfg.name, strerror(errno));
			} else if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
				tap_failed(n, "poll", EBADFD);
			}
		}
		pthread_mutex_lock(&n->lock);
		stop = n->stop;
		pthread_mutex_unlock(&n->lock);
		if (stop)
			break;
		turn(n);
	}
	return NULL;
}

static int dev_start(void *opaque)
{
	struct vnet *n = opaque;
	uint64_t f = vpci_features(n->vp);
	unsigned off = (f >> F_GUEST_CSUM & 1 ? TAP_OFF_CSUM : 0) |
		       (f >> F_GUEST_TSO4 & 1 ? TAP_OFF_TSO4 : 0) |
		       (f >> F_GUEST_TSO6 & 1 ? TAP_OFF_TSO6 : 0) |
		       (f >> F_GUEST_ECN & 1 ? TAP_OFF_TSO_ECN : 0);
	int r;

	pthread_mutex_lock(&n->lock);
	if (n->dead) {
		pthread_mutex_unlock(&n->lock);
		pr_warn("%s: its tap %s failed earlier: the device stays broken", n->cfg.name,
			n->tap);
		return -ENODEV;
	}
	/* The tap sends the guest only what the driver accepted. */
	r = tap_set_offloads(n->fd, off);
	if (r) {
		pthread_mutex_unlock(&n->lock);
		pr_warn("%s: tap %s: TUNSETOFFLOAD %#x: %s", n->cfg.name, n->tap, off,
			strerror(-r));
		return r;
	}
	__atomic_store_n(&n->st.offloads, off, __ATOMIC_RELAXED);
	n->rxq = vpci_queue(n->vp, Q_RX);
	n->txq = vpci_queue(n->vp, Q_TX);
	n->rx_held = false;
	n->running = true;
	pthread_mutex_unlock(&n->lock);
	wake(n);
	return 0;
}

static void dev_notify(void *opaque, unsigned q)
{
	wake(opaque);
}

/* On a vCPU's or a receive thread: must not wait for the device's thread
 * (it may be waiting for a page that very thread has to receive). */
static bool dev_reset(void *opaque)
{
	struct vnet *n = opaque;
	bool done;

	pthread_mutex_lock(&n->lock);
	n->running = false;
	done = !n->busy;
	n->reset_pending = !done;
	pthread_mutex_unlock(&n->lock);
	return done;
}

static const struct vpci_device_ops ops = {
	.cfg_read = cfg_read, .start = dev_start, .notify = dev_notify, .reset = dev_reset,
};

/* The transport's view of a card: the same for the card and its shadows
 * on other nodes (the features the tap allows are added by vnet_new; only
 * the card's own node answers the feature registers). */
static struct vpci_config transport(const struct vnet_config *cfg, void *opaque)
{
	return (struct vpci_config){
		.device_id = VIRTIO_NET_ID, .class_code = 0x020000,
		.features = 1ULL << F_CSUM | 1ULL << F_MAC | 1ULL << F_STATUS |
			    1ULL << F_HOST_TSO4 | 1ULL << F_HOST_TSO6 | 1ULL << F_HOST_ECN,
		.num_queues = 2, .max_queue_size = QSIZE, .cfg_size = sizeof(struct net_cfg),
		.ops = &ops, .opaque = opaque, .map = cfg->map, .map_opaque = cfg->map_opaque,
		.msi_send = cfg->msi_send, .msi_opaque = cfg->msi_opaque, .name = cfg->name,
	};
}

int vnet_shadow_new(struct pci_bus *bus, const struct vnet_config *cfg, unsigned host,
		    struct vpci **out)
{
	struct vpci_config vc = transport(cfg, NULL);

	return vpci_shadow_new(bus, &vc, host, out);
}

int vnet_new(struct pci_bus *bus, const struct vnet_config *cfg, struct vnet **out,
	     char *err, unsigned errlen)
{
	struct vnet *n = calloc(1, sizeof(*n));
	struct vpci_config vc = transport(cfg, n);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
	int r;

	if (!n)
		return -ENOMEM;
	n->fd = n->kick = n->ep = -1;
	n->cfg = *cfg;
	n->link = S_LINK_UP;
	pthread_mutex_init(&n->lock, NULL);
	snprintf(n->tap, sizeof(n->tap), "%s", cfg->tap);
	n->fd = tap_open(cfg->tap, err, errlen);
	if (n->fd < 0) {
		r = n->fd;
		goto fail;
	}
	n->tap_offloads = tap_offloads_supported(n->fd);
	if (n->tap_offloads & TAP_OFF_CSUM)
		vc.features |= 1ULL << F_GUEST_CSUM;
	if (n->tap_offloads & TAP_OFF_TSO4)
		vc.features |= 1ULL << F_GUEST_TSO4;
	if (n->tap_offloads & TAP_OFF_TSO6)
		vc.features |= 1ULL << F_GUEST_TSO6;
	if (n->tap_offloads & TAP_OFF_TSO_ECN)
		vc.features |= 1ULL << F_GUEST_ECN;
	n->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (n->kick < 0 || n->ep < 0 || epoll_ctl(n->ep, EPOLL_CTL_ADD, n->kick, &ev)) {
		r = -errno;
		snprintf(err, errlen, "%s: eventfd/epoll: %s", cfg->name, strerror(errno));
		goto fail;
	}
	r = vpci_new(bus, &vc, &n->vp);
	if (r) {
		snprintf(err, errlen, "%s: no room on the PCI bus", cfg->name);
		goto fail;
	}
	r = -pthread_create(&n->thread, NULL, thread_main, n);
	if (r) {
		snprintf(err, errlen, "%s: cannot start its thread", cfg->name);
		goto fail;
	}
	n->thread_started = true;
	*out = n;
	return 0;
fail:
	vnet_free(n);
	return r;
}

void vnet_free(struct vnet *n)
{
	if (!n)
		return;
	if (n->thread_started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_mutex_unlock(&n->lock);
		wake(n);
		pthread_join(n->thread, NULL);
	}
	vpci_free(n->vp);
	if (n->ep >= 0)
		close(n->ep);
	if (n->kick >= 0)
		close(n->kick);
	if (n->fd >= 0)
		close(n->fd);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void vnet_stats(struct vnet *n, struct vnet_stats *out)
{
	uint64_t *src = (uint64_t *)&n->st, *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
