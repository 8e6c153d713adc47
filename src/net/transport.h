/* TCP transport between nodes: one authenticated connection per node pair,
 * framed messages (wire.h), a receive thread that dispatches them.
 *
 * Threads and callbacks. One receive thread per transport runs every
 * callback, one at a time, so callbacks need no locking among themselves.
 * For a given peer, on_peer_up comes before its first on_msg and
 * on_peer_down after its last. Callbacks may call transport_send (a reply
 * from on_msg is the normal case) but must not block for long: every peer
 * waits behind them. They must not call transport_free.
 *
 * transport_send and transport_connect may be called from any thread.
 * Frames of concurrent senders never interleave (a mutex per connection);
 * two messages sent by one thread to one peer arrive in order.
 *
 * One connection per pair, whoever dials: the lower node id of the pair
 * decides during the handshake (handshake.c), so when two nodes dial each
 * other at once exactly one connection is set up, the other dial returns
 * -EALREADY, and no message is lost or reordered. A restarted peer's dial
 * may also get -EALREADY until its old connection has been dropped here
 * (promptly if it closed cleanly, else after dead_peer_ms): retry.
 *
 * Every frame after the handshake is sealed (seal.h: encrypted and
 * authenticated, replay and reordering refused) unless the key says
 * insecure (--insecure-network) on both nodes.
 *
 * Failures a node survives: a peer that sends a bad header or length, or
 * a frame that fails authentication, is dropped (logged, counted in
 * stats.wire.rejects, reported by on_peer_down if it was up); a peer
 * without the cluster key is refused (logged, counted); a silent or stuck
 * peer hits the handshake, send or dead-peer timeout: every idle link
 * carries a heartbeat, so a peer that stops (SIGSTOP, a hung receive
 * thread, a cut link) is declared lost within dead_peer_ms plus 100 ms. */
#ifndef AMALGAM_NET_TRANSPORT_H
#define AMALGAM_NET_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/auth.h"
#include "net/wire.h"

struct transport_ops {
	/* msg and msg->data are valid during the call only. PING never
	 * arrives here: the transport answers it with a PONG itself (a
	 * token of 0 is a heartbeat, and not answered). */
	void (*on_msg)(void *opaque, int peer, const struct net_msg *msg);
	void (*on_peer_up)(void *opaque, int peer);
	/* err: -ECONNRESET peer closed, -ESHUTDOWN transport_disconnect,
	 * -EPROTO/-EMSGSIZE/-EBADMSG bad frame, -EKEYREJECTED a frame that
	 * failed authentication (forged, tampered, replayed), -ETIMEDOUT
	 * dead peer or stuck send, other -errno from the socket.
	 * transport_down_reason() says it in words. */
	void (*on_peer_down)(void *opaque, int peer, int err);
};

struct transport_cfg {
	uint32_t node_id;
	const struct auth_key *key;	/* borrowed; outlives the transport */
	const char *listen;		/* addr.h syntax; NULL: do not listen */
	unsigned connect_timeout_ms;	/* 0: 3000 */
	unsigned handshake_timeout_ms;	/* 0: 1000; both directions */
	unsigned send_timeout_ms;	/* 0: 10000; a send blocked longer drops */
	unsigned dead_peer_ms;		/* 0: 10000, at least 400: nothing heard
					 * for this long (heartbeats every
					 * quarter of it) and the peer is lost */
	const struct transport_ops *ops;
	void *opaque;
};

struct transport_stats {
	struct net_stats wire;		/* per type rx/tx, rejects by reason */
	uint64_t accepted;		/* inbound connections authenticated */
	uint64_t connected;		/* outbound connections authenticated */
	uint64_t auth_failures;		/* wrong key, replay, tampering */
	uint64_t handshake_failures;	/* every other refused handshake */
	uint64_t handshake_timeouts;
	uint64_t refused_busy;		/* no memory for a connection */
	uint64_t evicted;		/* handshakes dropped to make room */
	uint64_t preauth_quiet;		/* pre-auth log lines held back */
	uint64_t duplicates;		/* lost the one-connection tie-break */
	uint64_t bad_frames;		/* connections dropped for a bad frame */
	uint64_t forged_frames;		/* ... for a frame that was not authentic */
	uint64_t disconnects;		/* on_peer_down reports */
	uint64_t heartbeats;		/* sent on idle links */
	uint64_t dead_peers;		/* links dropped: nothing heard in time */
};

struct transport;

/* Start listening (if cfg->listen) and the receive thread. 0 or -errno;
 * a bad listen address or bind failure is logged. */
int transport_new(const struct transport_cfg *cfg, struct transport **out);
/* Stop the thread, close every connection (no callbacks), free. No other
 * call on t may be running or follow. */
void transport_free(struct transport *t);

/* The listening port (useful with port 0), or -ENOTCONN. */
int transport_port(const struct transport *t);

/* Connect to addr and authenticate, within the configured timeouts.
 * expect_peer: the node id that must answer, or -1 for any. Returns the
 * peer's node id, or -errno: -EINVAL/-EHOSTUNREACH bad address, connect
 * errors (-ECONNREFUSED, -ETIMEDOUT), -EACCES the peer does not hold our
 * key, -EPERM wrong node id, -EALREADY a connection to that peer exists. */
int transport_connect(struct transport *t, const char *addr, int expect_peer);

/* Send one message (msg->seq is ignored). 0, -ENOTCONN (no connection to
 * peer), -EINVAL (a message the receiver would refuse), or a socket error
 * (the connection is then dropped and reported). */
int transport_send(struct transport *t, int peer, const struct net_msg *msg);

bool transport_peer_up(struct transport *t, int peer);
/* Close the connection to peer; on_peer_down(-ESHUTDOWN) follows. */
int transport_disconnect(struct transport *t, int peer);

void transport_stats(struct transport *t, struct transport_stats *out);

/* on_peer_down's err in words, for the message that names a lost node. */
const char *transport_down_reason(int err);

/* Fault injection on this node's sends (wire.h). */
int transport_fault(struct transport *t, unsigned type, enum net_fault action,
		    uint32_t delay_us, uint32_t count);
void transport_fault_clear(struct transport *t);

#endif
