/* Mutual authentication of two nodes that share the cluster key.
 *
 * Key file: either exactly 32 raw bytes, or 64 hex digits (optionally
 * followed by whitespace / a newline). Anything else is refused with a
 * message saying what was found: an empty or short file, a wrong number of
 * hex digits, 32 hex digits (a 128-bit key: too weak, and ambiguous with a
 * raw key), or a key of all zero bytes. Make one with
 *     head -c 32 /dev/urandom > cluster.key      or
 *     openssl rand -hex 32 > cluster.key         or auth_key_generate().
 *
 * Handshake (I = initiator, the side that connected; R = responder):
 *     I -> R  HELLO{id_I, flags_I, nonce_I}
 *     R -> I  HELLO{id_R, flags_R, nonce_R}, AUTH{mac_R}
 *     I -> R  AUTH{mac_I}                      (after checking mac_R)
 *     R -> I  AUTH_OK{status}                  (after checking mac_I)
 *    [I -> R  AUTH_OK{status}]                 (only if id_I < id_R)
 * The lower id of the pair is the *arbiter*: its AUTH_OK, always the last
 * message, carries the verdict on the connection (ACCEPTED, or DUPLICATE
 * when it already has one to that peer: transport.h). When the arbiter is
 * the initiator it needs R's AUTH_OK (mac_I checked) before it may judge,
 * hence the fifth message.
 * mac_X = HMAC-SHA-512/256(key, "AMLG-auth-v2" || X || id_I || id_R ||
 *                               nonce_I || nonce_R || flags_I || flags_R)
 * with X the byte 'I' or 'R', ids and flags as LE u32, nonces 32 random
 * bytes each. Both fresh nonces make every proof single-use (no replay);
 * the role byte stops a node's own proof being reflected back to it; the
 * ids bind the proof to who claims to be talking; the flags make the link's
 * mode and cipher tamper-proof (no downgrade by someone on the path).
 *
 * The link after the handshake (seal.h): sealed, unless both nodes run
 * with --insecure-network (HELLO flag INSECURE; a node refuses a peer that
 * differs, -EPROTONOSUPPORT); with AES-256-GCM if both HELLOs offer it,
 * else XChaCha20-Poly1305. Each direction's key:
 *     k_X = BLAKE2b-256(key, "AMLG-link-v1" || X || id_I || id_R ||
 *                             nonce_I || nonce_R || flags_I || flags_R)
 * for frames sent by X ('I' or 'R'): fresh for every connection, because
 * both nonces are. (Anyone holding the cluster key who recorded the
 * handshake can derive them: there is no forward secrecy yet.)
 *
 * Node identity (ident.h), when both nodes run with --trust (HELLO flag
 * IDENT; a node refuses a peer that differs, -EPROTONOSUPPORT): each side
 * sends IDENT{pk_X, sig_X} right before its AUTH, with
 *     sig_X = Ed25519(sk_X, "AMLG-ident-v1" || X || id_I || id_R ||
 *                           nonce_I || nonce_R || flags_I || flags_R)
 * and the receiver checks that pk_X is the key its trust list gives the id
 * X claims (-EKEYREJECTED otherwise: a stranger's key, or another node's)
 * and that sig_X verifies (-EACCES). Fresh nonces make each signature
 * single-use, so only the holder of node i's secret key can be node i.
 *
 * The handshake is a pure state machine: messages in, messages out. The
 * caller moves the messages and logs a refusal (auth_hs.error says why). */
#ifndef AMALGAM_NET_AUTH_H
#define AMALGAM_NET_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ident.h"
#include "net/seal.h"
#include "net/wire.h"

#define AUTH_KEY_BYTES 32

/* The cluster's secret, and the link policy that goes with it. */
struct auth_key {
	uint8_t k[AUTH_KEY_BYTES];
	bool insecure;		/* --insecure-network: links in clear */
	bool portable_cipher;	/* do not offer AES-256-GCM (tests, bench) */
	struct auth_ident *ident;	/* --node-key and --trust, or NULL */
};

/* Parse key file contents. 0, or -EINVAL with *why a static message. */
int auth_key_parse(const void *buf, size_t len, struct auth_key *key,
		   const char **why);
/* Read and parse a key file; logs the path and the reason on failure.
 * 0 or -errno. Warns if the file is readable by group or others. */
int auth_key_load(const char *path, struct auth_key *key);
/* Create a new key file (mode 0600, 64 hex digits); -EEXIST if present. */
int auth_key_generate(const char *path);
void auth_key_wipe(struct auth_key *key);

enum auth_role { AUTH_INITIATOR, AUTH_RESPONDER };

enum auth_state {
	AUTH_WAIT_HELLO,
	AUTH_WAIT_AUTH,
	AUTH_WAIT_OK,		/* proofs checked, waiting for AUTH_OK */
	AUTH_DONE,
	AUTH_FAILED,
};

struct auth_hs {
	enum auth_role role;
	enum auth_state state;
	const struct auth_key *key;	/* borrowed; must outlive the handshake */
	uint32_t self_id;
	int expect_peer;		/* required peer id, or -1 for any */
	uint32_t peer_id;		/* valid once the peer's HELLO arrived */
	uint32_t status;		/* DONE, follower: the arbiter's verdict */
	uint32_t flags_self;		/* NET_HELLO_* we sent */
	uint32_t flags_peer;		/* valid once the peer's HELLO arrived */
	uint8_t nonce_self[NET_NONCE_BYTES];
	uint8_t nonce_peer[NET_NONCE_BYTES];
	const char *error;		/* static text, set in AUTH_FAILED */
	bool ident_ok;			/* the peer's IDENT checked */
};

/* Most messages one step emits. */
#define AUTH_MAX_OUT 3

/* 0, or -EINVAL (bad id) / -ENOSYS (libsodium failed to initialise). */
int auth_init(struct auth_hs *hs, enum auth_role role,
	      const struct auth_key *key, uint32_t self_id, int expect_peer);

/* First messages: the initiator's HELLO, nothing for the responder.
 * Returns how many messages were written to out[]. */
int auth_start(struct auth_hs *hs, struct net_msg out[AUTH_MAX_OUT]);

/* Feed one received message. Returns the number of messages to send (in
 * order), or a negative errno, after which the state is AUTH_FAILED:
 *   -EACCES   the peer's proof does not match our key (wrong key, replay,
 *             tampering);
 *   -EPROTO   a message out of order or of a non-handshake type;
 *   -EPERM    the peer claims our own id, or not the id we expected;
 *   -EPROTONOSUPPORT  one side runs with --insecure-network (or
 *             --trust), the other does not;
 *   -EKEYREJECTED  the peer's node key is not the one trusted for the id
 *             it claims.
 * The step that completes the arbiter's handshake emits its verdict last,
 * as AUTH_OK{ACCEPTED}: the caller may change that to NET_AUTH_DUPLICATE
 * before sending. A follower's verdict is in hs->status once done. */
int auth_step(struct auth_hs *hs, const struct net_msg *in,
	      struct net_msg out[AUTH_MAX_OUT]);

static inline bool auth_done(const struct auth_hs *hs)
{
	return hs->state == AUTH_DONE;
}

/* Valid once the peer's HELLO arrived. */
static inline bool auth_arbiter(const struct auth_hs *hs)
{
	return hs->self_id < hs->peer_id;
}

/* Once done: whether the link is sealed, and the two directions' sealing
 * state (seal.h). auth_link: 0, or -errno from seal_init. */
static inline bool auth_sealed(const struct auth_hs *hs)
{
	return !(hs->flags_self & NET_HELLO_INSECURE);
}
enum seal_cipher auth_cipher(const struct auth_hs *hs);
int auth_link(const struct auth_hs *hs, struct seal *tx, struct seal *rx);

/* The proof itself; public so that tests can forge and replay proofs.
 * flags: the initiator's HELLO flags, then the responder's. */
void auth_mac(const struct auth_key *key, char role, uint32_t id_i,
	      uint32_t id_r, const uint8_t nonce_i[NET_NONCE_BYTES],
	      const uint8_t nonce_r[NET_NONCE_BYTES],
	      const uint32_t flags[2], uint8_t mac[NET_MAC_BYTES]);
/* sig_X of the IDENT message, made with a node's secret key. */
void auth_sign(const uint8_t sk[IDENT_SK_BYTES], char role, uint32_t id_i,
	       uint32_t id_r, const uint8_t nonce_i[NET_NONCE_BYTES],
	       const uint8_t nonce_r[NET_NONCE_BYTES], const uint32_t flags[2],
	       uint8_t sig[NET_SIG_BYTES]);

#endif
