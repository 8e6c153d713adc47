/* Setting connections up: the authentication handshake (auth.h) run over a
 * socket, and the one-connection-per-pair rule.
 *
 * The rule: the lower node id of a pair (the arbiter) accepts a
 * connection only if it has none to that peer, and says so in its last
 * handshake message; the other node obeys. Since the arbiter takes its
 * decisions one at a time under t->lock, at most one connection per pair is
 * ever accepted, however the two nodes race to dial each other, and neither
 * side sees its peer go down and up again. A connection the arbiter still
 * holds after its peer vanished (not yet detected dead) makes it refuse the
 * peer's new one until keepalive notices, at most dead_peer_ms. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/transport_int.h"
#include "util/log.h"

/* c's handshake just completed. Arbiter: take the empty slot or refuse (in
 * *verdict, our last message, not yet sent). Follower: obey the verdict,
 * replacing a connection the arbiter has given up on. true if c won. */
static bool settle(struct transport *t, struct conn *c, struct net_msg *verdict)
{
	struct conn *old;
	bool won;

	c->peer = (int)c->hs.peer_id;
	pthread_mutex_lock(&t->lock);
	old = t->peers[c->peer];
	if (auth_arbiter(&c->hs)) {
		won = !old;
		if (!won)
			verdict->u.auth_ok.status = NET_AUTH_DUPLICATE;
	} else {
		won = c->hs.status == NET_AUTH_ACCEPTED;
		if (won && old) {
			pr_info("net: node %d: connection %s replaces %s",
				c->peer, c->name, old->name);
			conn_kill(old, -EALREADY);
		}
	}
	if (won) {
		c->fresh = !old;
		t->peers[c->peer] = c;
	}
	pthread_mutex_unlock(&t->lock);
	return won;
}

/* An arbiter that could not deliver its verdict gives the slot back. */
static void unsettle(struct transport *t, struct conn *c)
{
	pthread_mutex_lock(&t->lock);
	if (t->peers[c->peer] == c)
		t->peers[c->peer] = NULL;
	pthread_mutex_unlock(&t->lock);
}

/* Under t->lock: c carries traffic from now on. */
static void publish(struct transport *t, struct conn *c)
{
	c->state = CONN_UP;
	c->up = true;
	c->last_rx_ms = net_now_ms();	/* the heartbeat clock starts */
	if (c->fresh && !t->need_up[c->peer]) {
		t->need_up[c->peer] = true;
		t->n_need_up++;
	}
}

static const char *link_mode(const struct conn *c)
{
	return c->sealed ? seal_cipher_name(auth_cipher(&c->hs)) :
	       "in clear: --insecure-network";
}

static void refused(struct transport *t, struct conn *c, int err)
{
	char what[160];

	if (err == -EACCES || err == -EKEYREJECTED) {
		COUNT(t, auth_failures);
		wire_stats_reject(&t->stats.wire, NET_REJ_AUTH);
	} else {
		COUNT(t, handshake_failures);
	}
	if (c->initiator) {
		/* Our own dial: always worth a line. */
		pr_warn("net: refused connection %s: %s", c->name, c->hs.error);
		return;
	}
	snprintf(what, sizeof(what), "refused: %s", c->hs.error);
	preauth_log(t, c, what);
}

/* --- inbound (receive thread) -------------------------------------------- */

int handshake_rx(struct transport *t, struct conn *c, const struct net_msg *msg)
{
	struct net_msg out[AUTH_MAX_OUT];
	bool won = false;
	int n, err;

	n = auth_step(&c->hs, msg, out);
	if (n < 0) {
		refused(t, c, n);
		conn_drop(t, c, n, false);
		return n;
	}
	if (auth_done(&c->hs)) {
		err = wire_reader_grow(&c->rd, NET_SEALED_FRAME_MAX);
		if (err) {
			conn_drop(t, c, err, false);
			return err;
		}
		won = settle(t, c, n ? &out[n - 1] : NULL);
	}
	for (int i = 0; i < n; i++) {
		err = conn_send(t, c, &out[i]);
		if (err) {
			pr_warn("net: handshake with %s: send: %s", c->name,
				strerror(-err));
			if (won)
				unsettle(t, c);
			conn_drop(t, c, err, false);
			return err;
		}
	}
	if (!auth_done(&c->hs))
		return 0;
	if (!won) {
		COUNT(t, duplicates);
		pr_info("net: node %d already connected; closing %s", c->peer, c->name);
		conn_drop(t, c, -EALREADY, false);
		return -EALREADY;
	}
	err = conn_seal(c);
	if (err) {
		pr_err("net: node %d: cannot seal the link: %s", c->peer,
		       strerror(-err));
		unsettle(t, c);
		conn_drop(t, c, err, false);
		return err;
	}
	c->rd.allowed = NET_TYPES_SESSION;
	pthread_mutex_lock(&t->lock);
	publish(t, c);
	t->n_pending--;
	pthread_mutex_unlock(&t->lock);
	COUNT(t, accepted);
	pr_info("net: node %d authenticated from %s (%s%s)", c->peer, c->name,
		link_mode(c), c->hs.ident_ok ? ", node key checked" : "");
	return 0;
}

/* --- outbound (caller's thread) ------------------------------------------ */

static int recv_exact(int fd, void *buf, size_t len, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	int64_t left;
	ssize_t n;

	while (got < len) {
		left = deadline - net_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

/* Read exactly one handshake frame, never a byte beyond it: what follows
 * belongs to the receive thread. */
static int recv_hs_frame(struct transport *t, struct conn *c, uint8_t *buf,
			 struct net_msg *msg, int64_t deadline)
{
	enum net_reject why;
	struct net_hdr h;
	int err;

	err = recv_exact(c->fd, buf, NET_HDR_SIZE, deadline);
	if (err)
		return err;
	err = wire_decode_hdr(buf, NET_HDR_SIZE, &h, &why);
	if (err)
		goto bad;
	if (!(NET_TYPES_HANDSHAKE & NET_TYPE_BIT(h.type))) {
		why = NET_REJ_UNEXPECTED;
		err = -EPROTO;
		goto bad;
	}
	if (NET_HDR_SIZE + h.length > HS_FRAME_MAX) {
		why = NET_REJ_BAD_LENGTH;
		err = -EMSGSIZE;
		goto bad;
	}
	err = recv_exact(c->fd, buf + NET_HDR_SIZE, h.length, deadline);
	if (err)
		return err;
	err = wire_decode(buf, NET_HDR_SIZE + h.length, msg, &why);
	if (err)
		goto bad;
	if (msg->seq != c->rx_seq + 1) {
		why = NET_REJ_BAD_SEQ;
		err = -EPROTO;
		goto bad;
	}
	c->rx_seq = msg->seq;
	wire_stats_rx(&t->stats.wire, msg->type, NET_HDR_SIZE + h.length);
	return 0;
bad:
	wire_stats_reject(&t->stats.wire, why);
	pr_warn("net: handshake with %s: %s", c->name, wire_reject_name(why));
	return err;
}

/* 0 with *won set, or -errno (the slot is then not ours). */
static int client_handshake(struct transport *t, struct conn *c,
			    int expect_peer, bool *won)
{
	int64_t deadline = net_now_ms() + t->cfg.handshake_timeout_ms;
	struct net_msg in, out[AUTH_MAX_OUT];
	uint8_t buf[HS_FRAME_MAX];
	int n, err;

	*won = false;
	err = auth_init(&c->hs, AUTH_INITIATOR, t->cfg.key, t->cfg.node_id,
			expect_peer);
	if (err)
		return err;
	n = auth_start(&c->hs, out);
	for (;;) {
		if (auth_done(&c->hs)) {
			err = wire_reader_grow(&c->rd, NET_SEALED_FRAME_MAX);
			if (err)
				return err;
			*won = settle(t, c, n ? &out[n - 1] : NULL);
		}
		for (int i = 0; i < n; i++) {
			err = conn_send(t, c, &out[i]);
			if (err) {
				if (*won)
					unsettle(t, c);
				*won = false;
				return err;
			}
		}
		if (auth_done(&c->hs)) {
			err = *won ? conn_seal(c) : 0;
			if (err) {
				pr_err("net: node %d: cannot seal the link: %s",
				       c->peer, strerror(-err));
				unsettle(t, c);
				*won = false;
			}
			return err;
		}
		err = recv_hs_frame(t, c, buf, &in, deadline);
		if (err) {
			if (err == -ETIMEDOUT)
				COUNT(t, handshake_timeouts);
			else
				COUNT(t, handshake_failures);
			pr_warn("net: handshake with %s failed: %s", c->name,
				strerror(-err));
			return err;
		}
		n = auth_step(&c->hs, &in, out);
		if (n < 0) {
			refused(t, c, n);
			return n;
		}
	}
}

int transport_connect(struct transport *t, const char *addr, int expect_peer)
{
	struct net_addr a;
	const char *why;
	struct conn *c;
	bool won;
	int fd, err;

	if (expect_peer >= NET_MAX_NODES)
		return -EINVAL;
	err = addr_parse(addr, false, &a, &why);
	if (err) {
		pr_err("net: bad peer address '%s': %s", addr, why);
		return err;
	}
	fd = addr_connect(&a, t->cfg.connect_timeout_ms);
	if (fd < 0) {
		pr_warn("net: connect to %s: %s", addr, strerror(-fd));
		return fd;
	}
	c = conn_new(t, fd, true);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	err = client_handshake(t, c, expect_peer, &won);
	if (err) {
		conn_put(c);
		return err;
	}
	if (!won) {
		COUNT(t, duplicates);
		pr_info("net: already connected to node %d; closing %s",
			c->peer, c->name);
		conn_put(c);
		return -EALREADY;
	}
	/* Hand c to the receive thread; senders may use it at once. */
	c->rd.allowed = NET_TYPES_SESSION;
	pthread_mutex_lock(&t->lock);
	publish(t, c);
	c->need_add = true;
	t->n_need_add++;
	c->next = t->conns;
	t->conns = c;
	pthread_mutex_unlock(&t->lock);
	COUNT(t, connected);
	pr_info("net: node %d authenticated at %s (%s%s)", c->peer, c->name,
		link_mode(c), c->hs.ident_ok ? ", node key checked" : "");
	transport_wake(t);
	return c->peer;
}
