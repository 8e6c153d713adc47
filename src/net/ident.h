/* Node identity: each node's own Ed25519 key pair, and the public keys it
 * trusts, each for one node id.
 *
 * Why a list of trusted keys and not node keys signed by a cluster key:
 * the list is the whole truth in one file an operator can read (which key
 * may be which node), revoking a node is deleting its line, and there is
 * no second secret (a cluster signing key) to guard or to lose. Node ids
 * are positions in `--join`, so the list binds each key to the id it may
 * claim; a key may appear once, an id once.
 *
 * The shared cluster key (auth.h) stays: it still admits a peer to the
 * handshake and keys the sealed links. With --trust on, each side also
 * signs the handshake's transcript (both fresh nonces) with its node key,
 * so a holder of the cluster key without node i's secret key can neither
 * claim id i nor take over node i's live slot.
 *
 * Secret key file: "amalgam-node-key " then 64 hex digits (the Ed25519
 * seed) and a newline, mode 0600; `amalgam key --node FILE` makes one and
 * prints its public key. Trust file: one "ID PUBKEY" line per node (decimal
 * id, 64 hex digits); blank lines and lines starting with '#' are ignored. */
#ifndef AMALGAM_NET_IDENT_H
#define AMALGAM_NET_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire.h"

#define IDENT_SK_BYTES 64	/* libsodium's Ed25519 secret key (seed + pk) */
#define IDENT_HEX_BYTES (2 * NET_PUBKEY_BYTES + 1)

struct auth_ident {
	uint8_t sk[IDENT_SK_BYTES];
	uint8_t pk[NET_PUBKEY_BYTES];
	bool trusted[NET_MAX_NODES];
	uint8_t trust[NET_MAX_NODES][NET_PUBKEY_BYTES];
	/* A node's id before it is told its own (cluster.h's joiner id), or
	 * -1; a peer claiming it must hold the key trusted for joiner_as,
	 * which the coordinator sets (under its own thread, before it dials
	 * that joiner; atomic) to the id it will give that joiner. -1: none. */
	int joiner_id;
	int joiner_as;
};

/* Secret key file contents. 0 or -EINVAL with *why a static message. */
int ident_parse_secret(const void *buf, size_t len, struct auth_ident *id,
		       const char **why);
/* Trust file contents: ids below max_id. 0, or -EINVAL with one line in
 * why (naming the line number). Clears the previous list. */
int ident_parse_trust(const char *text, size_t len, unsigned max_id,
		      struct auth_ident *id, char *why, size_t whylen);
/* Both files (logs the path and the reason on failure); 0 or -errno. */
int ident_load(struct auth_ident *id, const char *secret_path,
	       const char *trust_path, unsigned max_id);
/* A new secret key file (mode 0600, -EEXIST if present); its public key
 * as hex into pk_hex. 0 or -errno, logged. */
int ident_generate(const char *path, char pk_hex[IDENT_HEX_BYTES]);
void ident_pubkey_hex(const uint8_t pk[NET_PUBKEY_BYTES], char out[IDENT_HEX_BYTES]);
void ident_wipe(struct auth_ident *id);

/* The id whose key a peer claiming `claimed` must hold, or -1 if none
 * can (the joiner id while no joiner is expected). */
int ident_expected(const struct auth_ident *id, uint32_t claimed);
/* The id pk is trusted for, or -1. */
int ident_find(const struct auth_ident *id, const uint8_t pk[NET_PUBKEY_BYTES]);

#endif
