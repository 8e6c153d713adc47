#include "net/ident.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/keyfile.h"
#include "util/log.h"

static_assert(IDENT_SK_BYTES == crypto_sign_SECRETKEYBYTES, "secret key size");
static_assert(NET_PUBKEY_BYTES == crypto_sign_PUBLICKEYBYTES, "public key size");
static_assert(NET_SIG_BYTES == crypto_sign_BYTES, "signature size");

#define SECRET_TAG "amalgam-node-key "
#define TRUST_FILE_MAX (64 * 1024)

static bool hex_key(const char *p, size_t n, uint8_t out[32])
{
	size_t bin_len;

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return !sodium_hex2bin(out, 32, p, n, NULL, &bin_len, NULL) && bin_len == 32;
}

int ident_parse_secret(const void *buf, size_t len, struct auth_ident *id,
		       const char **why)
{
	const char *p = buf;
	uint8_t seed[crypto_sign_SEEDBYTES];
	size_t n = len, tag = sizeof(SECRET_TAG) - 1;

	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (n < tag || memcmp(p, SECRET_TAG, tag)) {
		*why = "not a node key file (make one with 'amalgam key --node FILE')";
		return -EINVAL;
	}
	if (!hex_key(p + tag, n - tag, seed)) {
		*why = "node key must be 64 hex digits after 'amalgam-node-key '";
		return -EINVAL;
	}
	if (sodium_init() < 0 || crypto_sign_seed_keypair(id->pk, id->sk, seed)) {
		sodium_memzero(seed, sizeof(seed));
		*why = "libsodium failed";
		return -EINVAL;
	}
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

int ident_parse_trust(const char *text, size_t len, unsigned max_id,
		      struct auth_ident *id, char *why, size_t whylen)
{
	const char *p = text, *end = text + len;
	unsigned line = 0, count = 0;

	memset(id->trusted, 0, sizeof(id->trusted));
	memset(id->trust, 0, sizeof(id->trust));
	if (max_id > NET_MAX_NODES)
		max_id = NET_MAX_NODES;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q = p, *e = eol ? eol : end;
		uint8_t pk[NET_PUBKEY_BYTES];
		unsigned long nid;
		char *after;
		size_t klen;
		int other;

		line++;
		p = eol ? eol + 1 : end;
		while (q < e && isblank((unsigned char)*q))
			q++;
		while (e > q && isspace((unsigned char)e[-1]))
			e--;
		if (q == e || *q == '#')
			continue;
		if (!isdigit((unsigned char)*q))
			goto bad;
		errno = 0;
		nid = strtoul(q, &after, 10);
		if (errno || after >= e || !isblank((unsigned char)*after))
			goto bad;
		if (nid >= max_id) {
			snprintf(why, whylen, "line %u: node id %lu out of range (0-%u)", line,
				 nid, max_id - 1);
			return -EINVAL;
		}
		while (after < e && isblank((unsigned char)*after))
			after++;
		klen = (size_t)(e - after);
		if (!hex_key(after, klen, pk))
			goto bad;
		if (id->trusted[nid]) {
			snprintf(why, whylen, "line %u: node %lu listed twice", line, nid);
			return -EINVAL;
		}
		other = ident_find(id, pk);
		if (other >= 0) {
			snprintf(why, whylen, "line %u: the key of node %d again: one key per node",
				 line, other);
			return -EINVAL;
		}
		memcpy(id->trust[nid], pk, sizeof(pk));
		id->trusted[nid] = true;
		count++;
		continue;
bad:
		snprintf(why, whylen, "line %u: want 'NODE-ID PUBLIC-KEY' (64 hex digits)", line);
		return -EINVAL;
	}
	if (!count) {
		snprintf(why, whylen, "no keys: want one 'NODE-ID PUBLIC-KEY' line per node");
		return -EINVAL;
	}
	return 0;
}

int ident_load(struct auth_ident *id, const char *secret_path,
	       const char *trust_path, unsigned max_id)
{
	char *buf, why[160];
	const char *swhy;
	size_t len;
	int err;

	memset(id, 0, sizeof(*id));
	id->joiner_id = -1;
	id->joiner_as = -1;
	err = keyfile_read("node key", secret_path, 4096, true, &buf, &len);
	if (err)
		return err;
	err = ident_parse_secret(buf, len, id, &swhy);
	sodium_memzero(buf, len);
	free(buf);
	if (err) {
		pr_err("node key %s: %s", secret_path, swhy);
		return err;
	}
	err = keyfile_read("trust file", trust_path, TRUST_FILE_MAX, false, &buf, &len);
	if (err)
		goto fail;
	err = ident_parse_trust(buf, len, max_id, id, why, sizeof(why));
	free(buf);
	if (err) {
		pr_err("trust file %s: %s", trust_path, why);
		goto fail;
	}
	return 0;
fail:
	ident_wipe(id);
	return err;
}

void ident_pubkey_hex(const uint8_t pk[NET_PUBKEY_BYTES], char out[IDENT_HEX_BYTES])
{
	sodium_bin2hex(out, IDENT_HEX_BYTES, pk, NET_PUBKEY_BYTES);
}

int ident_generate(const char *path, char pk_hex[IDENT_HEX_BYTES])
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[NET_PUBKEY_BYTES], sk[IDENT_SK_BYTES];
	char line[sizeof(SECRET_TAG) + 2 * crypto_sign_SEEDBYTES + 2];
	size_t len;
	int err;

	if (sodium_init() < 0)
		return -ENOSYS;
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(line, SECRET_TAG, sizeof(SECRET_TAG) - 1);
	sodium_bin2hex(line + sizeof(SECRET_TAG) - 1, 2 * sizeof(seed) + 1, seed, sizeof(seed));
	len = strlen(line);
	line[len++] = '\n';
	err = keyfile_create("node key", path, line, len);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(line, sizeof(line));
	if (!err)
		ident_pubkey_hex(pk, pk_hex);
	return err;
}

void ident_wipe(struct auth_ident *id)
{
	sodium_memzero(id, sizeof(*id));
	id->joiner_id = -1;
	id->joiner_as = -1;
}

int ident_expected(const struct auth_ident *id, uint32_t claimed)
{
	if (id->joiner_id >= 0 && claimed == (uint32_t)id->joiner_id)
		return __atomic_load_n(&id->joiner_as, __ATOMIC_ACQUIRE);
	return claimed < NET_MAX_NODES ? (int)claimed : -1;
}

int ident_find(const struct auth_ident *id, const uint8_t pk[NET_PUBKEY_BYTES])
{
	for (int i = 0; i < NET_MAX_NODES; i++)
		if (id->trusted[i] && !sodium_memcmp(id->trust[i], pk, NET_PUBKEY_BYTES))
			return i;
	return -1;
}
