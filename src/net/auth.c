#include "net/auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/keyfile.h"
#include "util/log.h"

static_assert(AUTH_KEY_BYTES == crypto_auth_hmacsha512256_KEYBYTES, "key size");
static_assert(NET_MAC_BYTES == crypto_auth_hmacsha512256_BYTES, "mac size");

#define KEY_FILE_MAX 4096
static const char mac_label[] = "AMLG-auth-v2";
static const char link_label[] = "AMLG-link-v1";
static const char ident_label[] = "AMLG-ident-v1";

static bool all_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit(p[i]))
			return false;
	return true;
}

int auth_key_parse(const void *buf, size_t len, struct auth_key *key,
		   const char **why)
{
	const uint8_t *p = buf;
	size_t n = len;
	size_t bin_len;
	const char *end;

	*why = NULL;
	memset(key, 0, sizeof(*key));
	if (len == 0) {
		*why = "key file is empty";
		return -EINVAL;
	}
	if (len == AUTH_KEY_BYTES) {
		if (all_hex(p, len)) {
			*why = "key has 32 hex digits (128 bits); need 64 hex digits or 32 raw bytes";
			return -EINVAL;
		}
		memcpy(key->k, p, AUTH_KEY_BYTES);
		goto check_zero;
	}
	while (n && isspace(p[n - 1]))
		n--;
	if (!all_hex(p, n)) {
		*why = len < AUTH_KEY_BYTES ?
		       "key file is too short: need 32 raw bytes or 64 hex digits" :
		       "key file is neither 32 raw bytes nor 64 hex digits";
		return -EINVAL;
	}
	if (n != 2 * AUTH_KEY_BYTES) {
		*why = n < 2 * AUTH_KEY_BYTES ?
		       "key is too short: need 64 hex digits" :
		       "key is too long: need 64 hex digits";
		return -EINVAL;
	}
	if (sodium_hex2bin(key->k, sizeof(key->k), (const char *)p, n, NULL,
			   &bin_len, &end) || bin_len != AUTH_KEY_BYTES) {
		*why = "key is not valid hex";
		return -EINVAL;
	}
check_zero:
	if (sodium_is_zero(key->k, sizeof(key->k))) {
		sodium_memzero(key, sizeof(*key));
		*why = "key is all zero bytes";
		return -EINVAL;
	}
	return 0;
}

int auth_key_load(const char *path, struct auth_key *key)
{
	const char *why;
	size_t len;
	char *buf;
	int err;

	err = keyfile_read("cluster key", path, KEY_FILE_MAX, true, &buf, &len);
	if (err)
		return err;
	err = auth_key_parse(buf, len, key, &why);
	if (err)
		pr_err("cluster key %s: %s", path, why);
	sodium_memzero(buf, len);
	free(buf);
	return err;
}

int auth_key_generate(const char *path)
{
	uint8_t k[AUTH_KEY_BYTES];
	char hex[2 * AUTH_KEY_BYTES + 2];
	size_t len;
	int err;

	if (sodium_init() < 0)
		return -ENOSYS;
	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
	len = strlen(hex);
	hex[len++] = '\n';
	err = keyfile_create("cluster key", path, hex, len);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(hex, sizeof(hex));
	return err;
}

void auth_key_wipe(struct auth_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

/* --- handshake ----------------------------------------------------------- */

void auth_mac(const struct auth_key *key, char role, uint32_t id_i,
	      uint32_t id_r, const uint8_t nonce_i[NET_NONCE_BYTES],
	      const uint8_t nonce_r[NET_NONCE_BYTES],
	      const uint32_t flags[2], uint8_t mac[NET_MAC_BYTES])
{
	crypto_auth_hmacsha512256_state st;
	uint8_t r = (uint8_t)role;

	/* ids go in as LE u32, which on this (LE-only, see wire.h) host is
	 * their memory image. */
	crypto_auth_hmacsha512256_init(&st, key->k, sizeof(key->k));
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)mac_label,
					 sizeof(mac_label) - 1);
	crypto_auth_hmacsha512256_update(&st, &r, 1);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)&id_i, 4);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)&id_r, 4);
	crypto_auth_hmacsha512256_update(&st, nonce_i, NET_NONCE_BYTES);
	crypto_auth_hmacsha512256_update(&st, nonce_r, NET_NONCE_BYTES);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)flags, 8);
	crypto_auth_hmacsha512256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* The transcript both the MAC's and the signature's inputs share. */
static size_t transcript(uint8_t *out, const char *label, size_t label_len, char role,
			 uint32_t id_i, uint32_t id_r, const uint8_t *nonce_i,
			 const uint8_t *nonce_r, const uint32_t flags[2])
{
	size_t n = 0;

	memcpy(out + n, label, label_len);
	n += label_len;
	out[n++] = (uint8_t)role;
	memcpy(out + n, &id_i, 4);
	n += 4;
	memcpy(out + n, &id_r, 4);
	n += 4;
	memcpy(out + n, nonce_i, NET_NONCE_BYTES);
	n += NET_NONCE_BYTES;
	memcpy(out + n, nonce_r, NET_NONCE_BYTES);
	n += NET_NONCE_BYTES;
	memcpy(out + n, flags, 8);
	return n + 8;
}

#define TRANSCRIPT_MAX (sizeof(ident_label) + 1 + 8 + 2 * NET_NONCE_BYTES + 8)

void auth_sign(const uint8_t sk[IDENT_SK_BYTES], char role, uint32_t id_i,
	       uint32_t id_r, const uint8_t nonce_i[NET_NONCE_BYTES],
	       const uint8_t nonce_r[NET_NONCE_BYTES], const uint32_t flags[2],
	       uint8_t sig[NET_SIG_BYTES])
{
	uint8_t t[TRANSCRIPT_MAX];
	size_t n = transcript(t, ident_label, sizeof(ident_label) - 1, role, id_i, id_r,
			      nonce_i, nonce_r, flags);

	crypto_sign_detached(sig, NULL, t, n, sk);
}

int auth_init(struct auth_hs *hs, enum auth_role role,
	      const struct auth_key *key, uint32_t self_id, int expect_peer)
{
	memset(hs, 0, sizeof(*hs));
	hs->state = AUTH_FAILED;
	if (sodium_init() < 0) {
		hs->error = "libsodium failed to initialise";
		return -ENOSYS;
	}
	if (self_id >= NET_MAX_NODES || expect_peer >= NET_MAX_NODES) {
		hs->error = "node id out of range";
		return -EINVAL;
	}
	hs->role = role;
	hs->key = key;
	hs->self_id = self_id;
	hs->expect_peer = expect_peer;
	hs->flags_self = key->insecure ? NET_HELLO_INSECURE : 0;
	if (!key->portable_cipher && seal_aes_available())
		hs->flags_self |= NET_HELLO_AES;
	if (key->ident)
		hs->flags_self |= NET_HELLO_IDENT;
	randombytes_buf(hs->nonce_self, sizeof(hs->nonce_self));
	hs->state = AUTH_WAIT_HELLO;
	return 0;
}

static void make_hello(const struct auth_hs *hs, struct net_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_HELLO;
	m->u.hello.node_id = hs->self_id;
	m->u.hello.flags = hs->flags_self;
	memcpy(m->u.hello.nonce, hs->nonce_self, NET_NONCE_BYTES);
}

/* The proof `role` must present, computed from this side's view. */
static void expected_mac(const struct auth_hs *hs, char role,
			 uint8_t mac[NET_MAC_BYTES])
{
	uint32_t fl[2];

	if (hs->role == AUTH_INITIATOR) {
		fl[0] = hs->flags_self;
		fl[1] = hs->flags_peer;
		auth_mac(hs->key, role, hs->self_id, hs->peer_id,
			 hs->nonce_self, hs->nonce_peer, fl, mac);
	} else {
		fl[0] = hs->flags_peer;
		fl[1] = hs->flags_self;
		auth_mac(hs->key, role, hs->peer_id, hs->self_id,
			 hs->nonce_peer, hs->nonce_self, fl, mac);
	}
}

enum seal_cipher auth_cipher(const struct auth_hs *hs)
{
	return hs->flags_self & hs->flags_peer & NET_HELLO_AES ?
	       SEAL_AES256_GCM : SEAL_XCHACHA20_POLY1305;
}

/* k_X of auth.h, for frames sent by `role`. */
static void link_key(const struct auth_hs *hs, char role,
		     uint8_t out[SEAL_KEY_BYTES])
{
	crypto_generichash_blake2b_state st;
	bool ini = hs->role == AUTH_INITIATOR;
	uint32_t id_i = ini ? hs->self_id : hs->peer_id;
	uint32_t id_r = ini ? hs->peer_id : hs->self_id;
	uint32_t fl[2] = { ini ? hs->flags_self : hs->flags_peer,
			   ini ? hs->flags_peer : hs->flags_self };
	uint8_t r = (uint8_t)role;

	crypto_generichash_blake2b_init(&st, hs->key->k, sizeof(hs->key->k),
					SEAL_KEY_BYTES);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)link_label,
					  sizeof(link_label) - 1);
	crypto_generichash_blake2b_update(&st, &r, 1);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)&id_i, 4);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)&id_r, 4);
	crypto_generichash_blake2b_update(&st, ini ? hs->nonce_self : hs->nonce_peer,
					  NET_NONCE_BYTES);
	crypto_generichash_blake2b_update(&st, ini ? hs->nonce_peer : hs->nonce_self,
					  NET_NONCE_BYTES);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)fl, sizeof(fl));
	crypto_generichash_blake2b_final(&st, out, SEAL_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
}

int auth_link(const struct auth_hs *hs, struct seal *tx, struct seal *rx)
{
	bool ini = hs->role == AUTH_INITIATOR;
	uint8_t k[SEAL_KEY_BYTES];
	int err;

	if (hs->state != AUTH_DONE || !auth_sealed(hs))
		return -EINVAL;
	link_key(hs, ini ? 'I' : 'R', k);
	err = seal_init(tx, auth_cipher(hs), k);
	if (!err) {
		link_key(hs, ini ? 'R' : 'I', k);
		err = seal_init(rx, auth_cipher(hs), k);
	}
	sodium_memzero(k, sizeof(k));
	return err;
}

/* The (id_i, id_r, nonce_i, nonce_r, flags) of this handshake. */
static void view(const struct auth_hs *hs, uint32_t *id_i, uint32_t *id_r,
		 const uint8_t **nonce_i, const uint8_t **nonce_r, uint32_t fl[2])
{
	bool ini = hs->role == AUTH_INITIATOR;

	*id_i = ini ? hs->self_id : hs->peer_id;
	*id_r = ini ? hs->peer_id : hs->self_id;
	*nonce_i = ini ? hs->nonce_self : hs->nonce_peer;
	*nonce_r = ini ? hs->nonce_peer : hs->nonce_self;
	fl[0] = ini ? hs->flags_self : hs->flags_peer;
	fl[1] = ini ? hs->flags_peer : hs->flags_self;
}

static bool ident_mode(const struct auth_hs *hs)
{
	return hs->flags_self & hs->flags_peer & NET_HELLO_IDENT;
}

static void make_ident(const struct auth_hs *hs, struct net_msg *m)
{
	const uint8_t *ni, *nr;
	uint32_t ii, ir, fl[2];

	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_IDENT;
	memcpy(m->u.ident.pubkey, hs->key->ident->pk, NET_PUBKEY_BYTES);
	view(hs, &ii, &ir, &ni, &nr, fl);
	auth_sign(hs->key->ident->sk, hs->role == AUTH_INITIATOR ? 'I' : 'R', ii, ir, ni,
		  nr, fl, m->u.ident.sig);
}

static void make_auth(const struct auth_hs *hs, struct net_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_AUTH;
	expected_mac(hs, hs->role == AUTH_INITIATOR ? 'I' : 'R', m->u.auth.mac);
}

static int fail(struct auth_hs *hs, int err, const char *why)
{
	hs->state = AUTH_FAILED;
	hs->error = why;
	sodium_memzero(hs->nonce_self, sizeof(hs->nonce_self));
	return err;
}

int auth_start(struct auth_hs *hs, struct net_msg out[AUTH_MAX_OUT])
{
	if (hs->role != AUTH_INITIATOR || hs->state != AUTH_WAIT_HELLO)
		return 0;
	make_hello(hs, &out[0]);
	return 1;
}

static int take_hello(struct auth_hs *hs, const struct net_hello *h)
{
	if (h->node_id == hs->self_id)
		return fail(hs, -EPERM, "peer claims our own node id");
	if (hs->expect_peer >= 0 && h->node_id != (uint32_t)hs->expect_peer)
		return fail(hs, -EPERM, "peer is not the node we expected");
	hs->peer_id = h->node_id;
	hs->flags_peer = h->flags;
	memcpy(hs->nonce_peer, h->nonce, NET_NONCE_BYTES);
	return 0;
}

/* Both sides must agree on --insecure-network. The initiator refuses at
 * the responder's HELLO; the responder answers with its own HELLO first
 * (so that the initiator learns why) and refuses at the AUTH. */
static int check_mode(struct auth_hs *hs)
{
	uint32_t differ = hs->flags_peer ^ hs->flags_self;

	if (differ & NET_HELLO_IDENT)
		return fail(hs, -EPROTONOSUPPORT, hs->flags_self & NET_HELLO_IDENT ?
			    "peer has no node key; this node runs with --trust" :
			    "peer runs with --trust; this node has no node key (--node-key)");
	if (!(differ & NET_HELLO_INSECURE))
		return 0;
	return fail(hs, -EPROTONOSUPPORT, hs->flags_self & NET_HELLO_INSECURE ?
		    "peer requires encrypted links; this node runs with --insecure-network" :
		    "peer runs with --insecure-network; this node requires encrypted links");
}

/* The peer's IDENT: its key must be the one trusted for the id it
 * claims, and its signature must cover this handshake. */
static int check_ident(struct auth_hs *hs, const struct net_ident *d)
{
	const struct auth_ident *id = hs->key->ident;
	int want = ident_expected(id, hs->peer_id);
	uint8_t t[TRANSCRIPT_MAX];
	const uint8_t *ni, *nr;
	uint32_t ii, ir, fl[2];
	size_t n;

	if (want < 0 || !id->trusted[want] ||
	    sodium_memcmp(id->trust[want], d->pubkey, NET_PUBKEY_BYTES))
		return fail(hs, -EKEYREJECTED, ident_find(id, d->pubkey) >= 0 ?
			    "peer's node key is trusted for another node id than the one it claims" :
			    "peer's node key is not in this node's trust list (--trust)");
	view(hs, &ii, &ir, &ni, &nr, fl);
	n = transcript(t, ident_label, sizeof(ident_label) - 1,
		       hs->role == AUTH_INITIATOR ? 'R' : 'I', ii, ir, ni, nr, fl);
	if (crypto_sign_verify_detached(d->sig, t, n, d->pubkey))
		return fail(hs, -EACCES, "peer's signature does not match its node key");
	hs->ident_ok = true;
	return 0;
}

static int check_proof(struct auth_hs *hs, const struct net_auth *a)
{
	uint8_t want[NET_MAC_BYTES];
	int ok;

	expected_mac(hs, hs->role == AUTH_INITIATOR ? 'R' : 'I', want);
	ok = sodium_memcmp(want, a->mac, NET_MAC_BYTES) == 0;
	sodium_memzero(want, sizeof(want));
	return ok ? 0 : fail(hs, -EACCES,
			     "peer's proof does not match our cluster key");
}

static void make_ok(struct net_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = NET_MSG_AUTH_OK;
	m->u.auth_ok.status = NET_AUTH_ACCEPTED;
}

int auth_step(struct auth_hs *hs, const struct net_msg *in,
	      struct net_msg out[AUTH_MAX_OUT])
{
	int err, n;

	switch (hs->state) {
	case AUTH_WAIT_HELLO:
		if (in->type != NET_MSG_HELLO)
			break;
		err = take_hello(hs, &in->u.hello);
		if (err)
			return err;
		hs->state = AUTH_WAIT_AUTH;
		if (hs->role == AUTH_INITIATOR)
			return check_mode(hs);
		n = 0;
		make_hello(hs, &out[n++]);
		if (ident_mode(hs))
			make_ident(hs, &out[n++]);
		make_auth(hs, &out[n++]);
		return n;
	case AUTH_WAIT_AUTH:
		if (in->type == NET_MSG_IDENT && ident_mode(hs) && !hs->ident_ok)
			return check_ident(hs, &in->u.ident);
		if (in->type != NET_MSG_AUTH || (ident_mode(hs) && !hs->ident_ok))
			break;
		err = check_mode(hs) ?: check_proof(hs, &in->u.auth);
		if (err)
			return err;
		if (hs->role == AUTH_INITIATOR) {
			n = 0;
			if (ident_mode(hs))
				make_ident(hs, &out[n++]);
			make_auth(hs, &out[n++]);
			hs->state = AUTH_WAIT_OK;
			return n;
		}
		/* Both proofs checked. An arbiter's AUTH_OK is its verdict;
		 * a follower's only says "your proof is good". */
		make_ok(&out[0]);
		hs->state = auth_arbiter(hs) ? AUTH_DONE : AUTH_WAIT_OK;
		return 1;
	case AUTH_WAIT_OK:
		if (in->type != NET_MSG_AUTH_OK)
			break;
		if (auth_arbiter(hs)) {
			/* The follower accepted our proof; now we judge. */
			if (in->u.auth_ok.status != NET_AUTH_ACCEPTED)
				break;
			make_ok(&out[0]);
			hs->state = AUTH_DONE;
			return 1;
		}
		hs->status = in->u.auth_ok.status;
		hs->state = AUTH_DONE;
		return 0;
	case AUTH_DONE:
	case AUTH_FAILED:
		break;
	}
	return fail(hs, -EPROTO, "unexpected message during handshake");
}
