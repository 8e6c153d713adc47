/* The transport's running part: the receive thread (accept, read, frame,
 * dispatch, drop, timeouts), the send path, and the lifecycle. Handshakes
 * live in handshake.c; the rules both follow are in transport_int.h. */
#include "net/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net/transport_int.h"
#include "util/confine.h"
#include "util/log.h"

#define TICK_MS		100	/* handshake deadlines are checked this often */

int64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_sockopts(struct transport *t, int fd)
{
	int one = 1;
	int idle = (int)(t->cfg.dead_peer_ms / 2000) ?: 1;
	int cnt = idle;
	unsigned user_to = t->cfg.dead_peer_ms;
	struct timeval tv = {
		.tv_sec = t->cfg.send_timeout_ms / 1000,
		.tv_usec = (t->cfg.send_timeout_ms % 1000) * 1000,
	};

	/* Small messages (IPIs, I/O requests) must leave at once. Keepalive
	 * and the user timeout turn a vanished host into an error instead of
	 * silence; SO_SNDTIMEO bounds a send to a peer that stopped reading. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_to, sizeof(user_to));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

struct conn *conn_new(struct transport *t, int fd, bool initiator)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!c)
		return NULL;
	if (wire_reader_init(&c->rd, HS_FRAME_MAX, NET_TYPES_HANDSHAKE)) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->refs = 1;
	c->last_rx_ms = c->last_tx_ms = net_now_ms();
	c->initiator = initiator;
	c->peer = -1;
	pthread_mutex_init(&c->send_lock, NULL);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		addr_format((struct sockaddr *)&ss, c->name);
		c->from = ss;
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&c->from)->sin_port = 0;
		else if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&c->from)->sin6_port = 0;
	} else {
		strcpy(c->name, "(unknown)");
	}
	set_sockopts(t, fd);
	return c;
}

void conn_put(struct conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close(c->fd);
	seal_wipe(&c->tx);
	seal_wipe(&c->rx);
	free(c->txbuf);
	wire_reader_free(&c->rd);
	pthread_mutex_destroy(&c->send_lock);
	free(c);
}

void conn_kill(struct conn *c, int err)
{
	int zero = 0;

	__atomic_compare_exchange_n(&c->local_err, &zero, err, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	shutdown(c->fd, SHUT_RDWR);
}

static int send_all(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t w;

	while (mh.msg_iovlen) {
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		while (mh.msg_iovlen && (size_t)w >= mh.msg_iov->iov_len) {
			w -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + w;
			mh.msg_iov->iov_len -= w;
		}
	}
	return 0;
}

static int open_frame(void *ctx, uint8_t *frame, size_t payload)
{
	struct conn *c = ctx;

	return seal_open(&c->rx, frame, payload);
}

int conn_seal(struct conn *c)
{
	int err;

	if (!auth_sealed(&c->hs))
		return 0;
	c->txbuf = malloc(NET_SEALED_FRAME_MAX);
	if (!c->txbuf)
		return -ENOMEM;
	err = auth_link(&c->hs, &c->tx, &c->rx);
	if (err)
		return err;
	c->rd.open = open_frame;
	c->rd.open_ctx = c;
	pthread_mutex_lock(&c->send_lock);
	c->sealed = true;
	pthread_mutex_unlock(&c->send_lock);
	return 0;
}

static int conn_send_locked(struct transport *t, struct conn *c,
			    const struct net_msg *msg);

int conn_send(struct transport *t, struct conn *c, const struct net_msg *msg)
{
	pthread_mutex_lock(&c->send_lock);
	return conn_send_locked(t, c, msg);
}

int conn_send_try(struct transport *t, struct conn *c, const struct net_msg *msg)
{
	if (pthread_mutex_trylock(&c->send_lock))
		return -EBUSY;
	return conn_send_locked(t, c, msg);
}

/* Frame msg onto c, c->send_lock held (and dropped here). In clear: header and fixed part from the stack, the
 * variable part (a page, a state blob) straight from where it lies.
 * Sealed: all of it gathered into c->txbuf, encrypted there in place (a
 * copy the cipher's pass over the bytes makes cheap), tag appended. */
static int conn_send_locked(struct transport *t, struct conn *c,
			    const struct net_msg *msg)
{
	uint8_t head[NET_HDR_SIZE + NET_FIXED_MAX];
	uint32_t sealed = NET_FLAG_SEALED;
	struct iovec iov[2];
	struct net_msg m = *msg;
	size_t size;
	ssize_t hl;
	int err, n;

	m.seq = c->tx_seq + 1;
	hl = wire_encode_head(&m, c->sealed ? c->txbuf : head,
			      c->sealed ? NET_SEALED_FRAME_MAX : sizeof(head));
	if (hl < 0) {
		pthread_mutex_unlock(&c->send_lock);
		pr_err("net: refusing to send a malformed %s to node %d",
		       wire_type_name(m.type), c->peer);
		return (int)hl;
	}
	size = (size_t)hl + m.data_len;
	if (c->sealed) {
		memcpy(c->txbuf + offsetof(struct net_hdr, flags), &sealed,
		       sizeof(sealed));
		if (m.data_len)
			memcpy(c->txbuf + hl, m.data, m.data_len);
		seal_close(&c->tx, c->txbuf, size - NET_HDR_SIZE);
		size += NET_SEAL_TAG_BYTES;
		iov[0] = (struct iovec){ c->txbuf, size };
		n = 1;
	} else {
		iov[0] = (struct iovec){ head, (size_t)hl };
		iov[1] = (struct iovec){ (void *)m.data, m.data_len };
		n = m.data_len ? 2 : 1;
	}
	err = send_all(c->fd, iov, n);
	if (!err) {
		c->tx_seq++;
		__atomic_store_n(&c->last_tx_ms, net_now_ms(), __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&c->send_lock);
	if (err) {
		conn_kill(c, err);
		return err;
	}
	wire_stats_tx(&t->stats.wire, m.type, size);
	return 0;
}

void conn_drop(struct transport *t, struct conn *c, int err, bool notify)
{
	bool report = false;
	int peer = c->peer;

	pthread_mutex_lock(&t->lock);
	for (struct conn **p = &t->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->state == CONN_HANDSHAKE)
		t->n_pending--;
	if (peer >= 0 && t->peers[peer] == c) {
		t->peers[peer] = NULL;
		if (t->need_up[peer]) {
			t->need_up[peer] = false;
			t->n_need_up--;
		}
		report = t->announced[peer];
		t->announced[peer] = false;
	}
	c->state = CONN_DEAD;
	c->up = false;
	pthread_mutex_unlock(&t->lock);

	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	shutdown(c->fd, SHUT_RDWR);
	if (report) {
		COUNT(t, disconnects);
		pr_info("net: node %d (%s) down: %s", peer, c->name, strerror(-err));
		if (notify && t->cfg.ops->on_peer_down)
			t->cfg.ops->on_peer_down(t->cfg.opaque, peer, err);
	}
	conn_put(c);
}

/* Take in connections that transport_connect authenticated, then announce
 * newly reachable peers: both before any event of theirs is handled. */
static void adopt_pending(struct transport *t)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct conn *add[NET_MAX_NODES];
	int up[NET_MAX_NODES];
	int n = 0, n_add = 0, err;

	pthread_mutex_lock(&t->lock);
	for (struct conn *c = t->conns; t->n_need_add && c; c = c->next) {
		if (!c->need_add)
			continue;
		if (n_add == NET_MAX_NODES)
			break;		/* the rest on the next turn */
		c->need_add = false;
		t->n_need_add--;
		add[n_add++] = c;
	}
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n_add; i++) {
		ev.data.ptr = add[i];
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, add[i]->fd, &ev) < 0) {
			err = -errno;
			pr_err("net: epoll add for node %d: %s", add[i]->peer,
			       strerror(-err));
			conn_drop(t, add[i], err, true);
		}
	}

	pthread_mutex_lock(&t->lock);
	if (t->n_need_up) {
		for (int p = 0; p < NET_MAX_NODES; p++) {
			if (!t->need_up[p])
				continue;
			t->need_up[p] = false;
			t->announced[p] = true;
			up[n++] = p;
		}
		t->n_need_up = 0;
	}
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n; i++) {
		pr_info("net: node %d up", up[i]);
		if (t->cfg.ops->on_peer_up)
			t->cfg.ops->on_peer_up(t->cfg.opaque, up[i]);
	}
}

void transport_wake(struct transport *t)
{
	uint64_t one = 1;

	if (write(t->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("net: cannot wake the receive thread: %s", strerror(errno));
}

void preauth_log(struct transport *t, const struct conn *c, const char *what)
{
	int64_t now = net_now_ms();

	if (now < t->preauth_log_ms) {
		t->preauth_quiet++;
		COUNT(t, preauth_quiet);
		return;
	}
	if (t->preauth_quiet)
		pr_warn("net: %s: %s (and %u more before authentication in the last %d ms, not logged)",
			c->name, what, t->preauth_quiet, PREAUTH_LOG_MS);
	else
		pr_warn("net: %s: %s", c->name, what);
	t->preauth_quiet = 0;
	t->preauth_log_ms = now + PREAUTH_LOG_MS;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* The better victim of two pending handshakes: one whose peer has not
 * even said HELLO (an idle socket) before one under way, then the older. */
static struct conn *victim(struct conn *a, struct conn *b)
{
	bool idle_a, idle_b;

	if (!a || !b)
		return a ? a : b;
	idle_a = a->hs.state == AUTH_WAIT_HELLO;
	idle_b = b->hs.state == AUTH_WAIT_HELLO;
	if (idle_a != idle_b)
		return idle_a ? a : b;
	return a->deadline_ms <= b->deadline_ms ? a : b;
}

/* Make room for newcomer c (not yet listed) if its address has its share
 * of the table, or the table is full: doom victim() of that address's
 * handshakes, or of all. The doomed are dropped by the sweep after this
 * turn's events, not here: one of them may be among those events.
 * Receive thread (it alone drops, and alone moves a handshake's state). */
static void make_room(struct transport *t, const struct conn *c)
{
	struct conn *all = NULL, *here = NULL, *v = NULL;
	unsigned n_here = 0, n_doomed = 0;

	pthread_mutex_lock(&t->lock);
	for (struct conn *o = t->conns; o; o = o->next) {
		if (o->state != CONN_HANDSHAKE || o->initiator)
			continue;
		if (o->doomed) {
			n_doomed++;
			continue;
		}
		all = victim(all, o);
		if (same_addr(&o->from, &c->from)) {
			n_here++;
			here = victim(here, o);
		}
	}
	if (n_here >= MAX_PENDING_PER_ADDR)
		v = here;
	else if (t->n_pending - n_doomed >= MAX_PENDING)
		v = all;
	pthread_mutex_unlock(&t->lock);
	if (!v)
		return;
	COUNT(t, evicted);
	preauth_log(t, v, v == here ? "handshake dropped: too many from one address" :
				      "handshake dropped: too many in progress");
	v->doomed = true;
}

static void accept_all(struct transport *t)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct conn *c;
	int fd;

	/* A bounded number per turn: the doomed wait for the sweep, and
	 * the peers' frames must not wait behind a burst of strangers. */
	for (int turn = 0; turn < MAX_PENDING; turn++) {
		fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				pr_warn("net: accept: %s", strerror(errno));
			return;
		}
		c = conn_new(t, fd, false);
		if (!c) {
			COUNT(t, refused_busy);
			pr_warn("net: refusing a connection: out of memory");
			close(fd);
			continue;
		}
		make_room(t, c);
		if (auth_init(&c->hs, AUTH_RESPONDER, t->cfg.key,
			      t->cfg.node_id, -1)) {
			pr_err("net: %s", c->hs.error);
			conn_put(c);
			continue;
		}
		c->deadline_ms = net_now_ms() + t->cfg.handshake_timeout_ms;
		pthread_mutex_lock(&t->lock);
		c->next = t->conns;
		t->conns = c;
		t->n_pending++;
		pthread_mutex_unlock(&t->lock);
		ev.data.ptr = c;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			pr_warn("net: epoll add: %s", strerror(errno));
			conn_drop(t, c, -errno, false);
		}
	}
}

/* --- receive path (receive thread) --------------------------------------- */

static void deliver(struct transport *t, struct conn *c, const struct net_msg *msg)
{
	struct net_msg pong;

	if (msg->type == NET_MSG_PING) {
		if (!msg->u.ping.token)
			return;		/* a heartbeat: its arrival was the point */
		pong = *msg;
		pong.type = NET_MSG_PONG;
		conn_send(t, c, &pong);
		return;
	}
	t->cfg.ops->on_msg(t->cfg.opaque, c->peer, msg);
}

static void conn_readable(struct transport *t, struct conn *c)
{
	enum net_reject why;
	struct net_msg msg;
	size_t room;
	void *space;
	ssize_t n;
	int r;

	if (c->doomed)
		return;		/* dropped at this turn's sweep */
	space = wire_reader_space(&c->rd, &room);
	n = recv(c->fd, space, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		r = __atomic_load_n(&c->local_err, __ATOMIC_RELAXED);
		if (!r)
			r = n == 0 ? -ECONNRESET : -errno;
		conn_drop(t, c, r, true);
		return;
	}
	wire_reader_commit(&c->rd, (size_t)n);
	c->last_rx_ms = net_now_ms();

	/* One recv per wakeup, then back to epoll: a peer that floods us
	 * cannot starve the others. */
	while ((r = wire_reader_next(&c->rd, &msg, &why)) == 1) {
		if (msg.seq != c->rx_seq + 1) {
			why = NET_REJ_BAD_SEQ;
			r = -EPROTO;
			break;
		}
		c->rx_seq = msg.seq;
		wire_stats_rx(&t->stats.wire, msg.type, wire_frame_size(&msg));
		if (c->state == CONN_HANDSHAKE) {
			if (handshake_rx(t, c, &msg) < 0)
				return;
		} else {
			deliver(t, c, &msg);
		}
	}
	if (r < 0) {
		wire_stats_reject(&t->stats.wire, why);
		if (why == NET_REJ_BAD_SEAL)
			COUNT(t, forged_frames);
		else
			COUNT(t, bad_frames);
		if (c->state == CONN_HANDSHAKE)
			preauth_log(t, c, wire_reject_name(why));
		else
			pr_warn("net: dropping connection %s (node %d): %s",
				c->name, c->peer, wire_reject_name(why));
		conn_drop(t, c, r, true);
	}
}

static void sweep_handshakes(struct transport *t)
{
	/* A turn dooms at most MAX_PENDING (one per accept). */
	struct conn *late[2 * MAX_PENDING];
	int64_t now = net_now_ms();
	int n = 0;

	pthread_mutex_lock(&t->lock);
	for (struct conn *c = t->conns; c && n < 2 * MAX_PENDING; c = c->next)
		if (c->state == CONN_HANDSHAKE && (c->doomed || now >= c->deadline_ms))
			late[n++] = c;
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n; i++) {
		if (!late[i]->doomed) {
			COUNT(t, handshake_timeouts);
			preauth_log(t, late[i], "handshake timed out");
		}
		conn_drop(t, late[i], -ETIMEDOUT, false);
	}
}

static bool bytes_waiting(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Failure detection: every link carries a heartbeat (a PING with token 0)
 * when nothing else left on it for a quarter of dead_peer_ms, so a peer
 * we hear nothing from for dead_peer_ms has stopped (SIGSTOP, a deadlock
 * of its receive thread, a partition, a dead host) and is declared lost:
 * what TCP keepalive cannot see, since the peer's kernel answers it.
 * Unread bytes mean the peer spoke and we were slow to listen (this
 * thread stalled): not a death. A heartbeat never waits for a sender
 * that holds the link: a link busy sending is not idle. */
static void check_peers(struct transport *t)
{
	struct net_msg hb = { .type = NET_MSG_PING };
	struct conn *up[NET_MAX_NODES];
	int64_t now = net_now_ms();
	int64_t every = t->cfg.dead_peer_ms / HEARTBEATS;
	int n = 0;

	if (now < t->next_check_ms)
		return;
	t->next_check_ms = now + TICK_MS;
	pthread_mutex_lock(&t->lock);
	for (int p = 0; p < NET_MAX_NODES; p++) {
		struct conn *c = t->peers[p];

		if (c && c->up && c->state == CONN_UP && !c->need_add) {
			__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
			up[n++] = c;
		}
	}
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n; i++) {
		struct conn *c = up[i];
		int64_t quiet = now - c->last_rx_ms;

		if (quiet >= t->cfg.dead_peer_ms && !bytes_waiting(c->fd)) {
			COUNT(t, dead_peers);
			pr_warn("net: node %d (%s): nothing heard for %lld ms: declared lost",
				c->peer, c->name, (long long)quiet);
			conn_kill(c, -ETIMEDOUT);
			/* The shutdown makes the socket readable: conn_readable
			 * drops it, with this reason, on the next turn. */
		} else if (now - __atomic_load_n(&c->last_tx_ms, __ATOMIC_RELAXED) >= every &&
			   conn_send_try(t, c, &hb) == 0) {
			COUNT(t, heartbeats);
		}
		conn_put(c);
	}
}

static void *rx_thread(void *arg)
{
	struct transport *t = arg;
	struct epoll_event ev[16];
	uint64_t v;
	int n;

	confine_thread(CONFINE_NET, 0);
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		n = epoll_wait(t->epfd, ev, 16, TICK_MS);
		if (n < 0 && errno != EINTR) {
			pr_err("net: epoll_wait: %s; receive thread stops", strerror(errno));
			break;
		}
		adopt_pending(t);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &t->listen_fd)
				accept_all(t);
			else if (ev[i].data.ptr == &t->wake_fd)
				(void)!read(t->wake_fd, &v, sizeof(v));
			else
				conn_readable(t, ev[i].data.ptr);
		}
		sweep_handshakes(t);
		check_peers(t);
	}
	while (t->conns)
		conn_drop(t, t->conns, -ESHUTDOWN, false);
	return NULL;
}

/* --- public -------------------------------------------------------------- */

int transport_send(struct transport *t, int peer, const struct net_msg *msg)
{
	uint32_t delay_us = 0;
	struct conn *c;
	int err;

	if (peer < 0 || peer >= NET_MAX_NODES || msg->type >= NET_MSG_NR ||
	    !(NET_TYPES_SESSION & NET_TYPE_BIT(msg->type)))
		return -EINVAL;
	switch (wire_fault_apply(&t->faults, msg->type, &delay_us)) {
	case NET_FAULT_DROP:
		__atomic_fetch_add(&t->stats.wire.fault_drops, 1, __ATOMIC_RELAXED);
		return 0;
	case NET_FAULT_DELAY:
		__atomic_fetch_add(&t->stats.wire.fault_delays, 1, __ATOMIC_RELAXED);
		usleep(delay_us);
		break;
	case NET_FAULT_NONE:
		break;
	}
	pthread_mutex_lock(&t->lock);
	c = t->peers[peer];
	if (c && c->up)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	else
		c = NULL;
	pthread_mutex_unlock(&t->lock);
	if (!c)
		return -ENOTCONN;
	err = conn_send(t, c, msg);
	conn_put(c);
	return err;
}

bool transport_peer_up(struct transport *t, int peer)
{
	bool up;

	if (peer < 0 || peer >= NET_MAX_NODES)
		return false;
	pthread_mutex_lock(&t->lock);
	up = t->peers[peer] && t->peers[peer]->up;
	pthread_mutex_unlock(&t->lock);
	return up;
}

int transport_disconnect(struct transport *t, int peer)
{
	int err = -ENOTCONN;

	if (peer < 0 || peer >= NET_MAX_NODES)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (t->peers[peer]) {
		conn_kill(t->peers[peer], -ESHUTDOWN);
		err = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

void transport_stats(struct transport *t, struct transport_stats *out)
{
	const uint64_t *src = (const uint64_t *)&t->stats;
	uint64_t *dst = (uint64_t *)out;

	static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "stats are u64s");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

const char *transport_down_reason(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "it sent a frame that failed authentication (forged or tampered)";
	case -EPROTO:
	case -EMSGSIZE:
	case -EBADMSG:
		return "it sent a malformed or out-of-order frame";
	case -ECONNRESET:
		return "connection closed";
	case -ETIMEDOUT:
		return "nothing heard from it within the peer timeout: stopped, hung or cut off";
	default:
		return strerror(-err);
	}
}

int transport_fault(struct transport *t, unsigned type, enum net_fault action,
		    uint32_t delay_us, uint32_t count)
{
	return wire_fault_set(&t->faults, type, action, delay_us, count);
}

void transport_fault_clear(struct transport *t)
{
	wire_fault_clear(&t->faults);
}

int transport_port(const struct transport *t)
{
	return t->listen_fd >= 0 ? addr_local_port(t->listen_fd) : -ENOTCONN;
}

int transport_new(const struct transport_cfg *cfg, struct transport **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct transport *t;
	struct net_addr a;
	const char *why;
	int err;

	if (!cfg->key || !cfg->ops || !cfg->ops->on_msg ||
	    cfg->node_id >= NET_MAX_NODES)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->cfg.listen = NULL;	/* not kept: the caller's string */
#define DEFAULT(f, v) do { if (!t->cfg.f) t->cfg.f = (v); } while (0)
	DEFAULT(connect_timeout_ms, 3000);
	DEFAULT(handshake_timeout_ms, 1000);
	DEFAULT(send_timeout_ms, 10000);
	DEFAULT(dead_peer_ms, 10000);
	if (t->cfg.dead_peer_ms < 4 * TICK_MS)
		t->cfg.dead_peer_ms = 4 * TICK_MS;
#undef DEFAULT
	t->listen_fd = t->epfd = t->wake_fd = -1;
	pthread_mutex_init(&t->lock, NULL);

	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->wake_fd < 0) {
		err = -errno;
		goto fail;
	}
	ev.data.ptr = &t->wake_fd;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wake_fd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	if (cfg->listen) {
		err = addr_parse(cfg->listen, true, &a, &why);
		if (err) {
			pr_err("net: bad listen address '%s': %s", cfg->listen, why);
			goto fail;
		}
		t->listen_fd = addr_listen(&a, 64);
		if (t->listen_fd < 0) {
			err = t->listen_fd;
			pr_err("net: cannot listen on %s: %s", cfg->listen, strerror(-err));
			goto fail;
		}
		fcntl(t->listen_fd, F_SETFL, fcntl(t->listen_fd, F_GETFL) | O_NONBLOCK);
		ev.data.ptr = &t->listen_fd;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->listen_fd, &ev) < 0) {
			err = -errno;
			goto fail;
		}
	}
	err = -pthread_create(&t->thread, NULL, rx_thread, t);
	if (err)
		goto fail;
	*out = t;
	return 0;
fail:
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return err;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
	transport_wake(t);
	pthread_join(t->thread, NULL);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	close(t->wake_fd);
	close(t->epfd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
