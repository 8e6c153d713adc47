/* Internals shared by transport.c (receive loop, sending, lifecycle) and
 * handshake.c (setting a connection up, both directions). Nothing outside
 * src/net/ includes this.
 *
 * Ownership: a conn is created by the receive thread (inbound) or by a
 * transport_connect caller (outbound). Once on t->conns only the receive
 * thread drops it and adds it to epoll, so every event of a peer is seen by
 * that one thread, in order. Senders hold a reference while they write, so
 * the fd is closed only when the last user is gone and never reused under
 * a sender.
 *
 * Locking: t->lock guards t->conns, t->n_pending, t->peers[],
 * t->need_up[], t->announced[], and each conn's state, up, fresh and
 * need_add. c->send_lock guards c->tx_seq, c->tx, c->txbuf and the order
 * of bytes on c->fd.
 *
 * Sealing (seal.h): a conn's handshake frames travel in clear; the side
 * that completes its handshake (which it does exactly after its peer's
 * last handshake frame, and after sending its own) sets `sealed` and the
 * reader's open hook before any later frame is read or written, so each
 * direction switches at one known frame.
 * Lock order: t->lock, then c->send_lock; sending never holds t->lock. */
#ifndef AMALGAM_NET_TRANSPORT_INT_H
#define AMALGAM_NET_TRANSPORT_INT_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/transport.h"

/* Before authentication a connection costs us a slot and a deadline only.
 * A full table (or an address's share of it) makes room by dropping the
 * oldest handshake, never by refusing the newcomer: a real peer finishes
 * its handshake in a few round trips, so a stranger who holds idle
 * sockets open cannot keep it out, whoever it shares an address with. */
#define MAX_PENDING	32	/* inbound handshakes in progress */
#define MAX_PENDING_PER_ADDR 8	/* ... from one IP address */
#define PREAUTH_LOG_MS	1000	/* at most one pre-auth line this often */
#define HEARTBEATS	4	/* heartbeats per dead-peer timeout */
#define HS_FRAME_MAX	(NET_HDR_SIZE + sizeof(struct net_ident))

enum conn_state { CONN_HANDSHAKE, CONN_UP, CONN_DEAD };

struct conn {
	int fd;
	int refs;			/* atomic */
	enum conn_state state;
	bool up;			/* senders may use it */
	bool fresh;			/* filled an empty peer slot */
	bool need_add;			/* outbound, not yet in epoll */
	bool initiator;
	bool doomed;			/* inbound handshake to drop at the sweep
					 * (receive thread only) */
	int peer;			/* -1 until authenticated */
	int local_err;			/* why we shut it down (atomic) */
	bool sealed;			/* frames after the handshake sealed */
	uint64_t tx_seq;
	uint64_t rx_seq;		/* reading side only */
	struct seal tx;			/* sealing our frames (send_lock) */
	struct seal rx;			/* opening the peer's (reading side) */
	uint8_t *txbuf;			/* a sealed frame being built (send_lock) */
	int64_t deadline_ms;		/* inbound handshake */
	int64_t last_rx_ms;		/* bytes last arrived (reading side) */
	int64_t last_tx_ms;		/* a frame last left (atomic) */
	pthread_mutex_t send_lock;
	struct wire_reader rd;		/* reading side only */
	struct auth_hs hs;
	char name[ADDR_STR_MAX];
	struct sockaddr_storage from;	/* the peer's address, port zeroed */
	struct conn *next;
};

struct transport {
	struct transport_cfg cfg;
	int listen_fd;
	int epfd;
	int wake_fd;
	pthread_t thread;
	bool stop;			/* atomic */
	pthread_mutex_t lock;
	struct conn *conns;
	unsigned n_pending;
	unsigned n_need_add;
	unsigned n_need_up;
	struct conn *peers[NET_MAX_NODES];
	bool need_up[NET_MAX_NODES];	/* slot filled, not yet announced */
	bool announced[NET_MAX_NODES];
	struct transport_stats stats;
	int64_t next_check_ms;		/* receive thread: check_peers */
	int64_t preauth_log_ms;		/* receive thread: next line allowed */
	unsigned preauth_quiet;		/* lines held back since the last */
	struct net_faults faults;
};

#define COUNT(t, field) \
	__atomic_fetch_add(&(t)->stats.field, 1, __ATOMIC_RELAXED)

int64_t net_now_ms(void);
void transport_wake(struct transport *t);

struct conn *conn_new(struct transport *t, int fd, bool initiator);
void conn_put(struct conn *c);
/* Shut c down so that the receive thread drops it (it alone may), and
 * unblock its senders. err is what on_peer_down will say. */
void conn_kill(struct conn *c, int err);
int conn_send(struct transport *t, struct conn *c, const struct net_msg *msg);
/* The same, but -EBUSY at once if another thread is sending on c. */
int conn_send_try(struct transport *t, struct conn *c, const struct net_msg *msg);
/* Receive thread only. notify: report on_peer_down if c was the peer's
 * announced connection. Consumes the list's reference. */
void conn_drop(struct transport *t, struct conn *c, int err, bool notify);

/* Receive thread: log what happened to a connection not yet
 * authenticated, at most one line a second (a stranger must not be able
 * to flood the log either); the lines held back are counted in the next. */
void preauth_log(struct transport *t, const struct conn *c, const char *what);

/* c's handshake is done: seal its link from the next frame on, unless
 * both sides run with --insecure-network. 0 or -errno. */
int conn_seal(struct conn *c);

/* handshake.c: one handshake message for inbound c, on the receive
 * thread. 0 to go on reading; negative if c was dropped. */
int handshake_rx(struct transport *t, struct conn *c, const struct net_msg *msg);

#endif
