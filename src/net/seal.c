#include "net/seal.h"

#include <errno.h>
#include <string.h>

#include "net/wire.h"

static_assert(SEAL_KEY_BYTES == crypto_aead_aes256gcm_KEYBYTES, "AES key size");
static_assert(SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	      "XChaCha20 key size");
static_assert(SEAL_TAG_BYTES == crypto_aead_aes256gcm_ABYTES, "AES tag size");
static_assert(SEAL_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	      "XChaCha20 tag size");

bool seal_aes_available(void)
{
	return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();
}

const char *seal_cipher_name(enum seal_cipher cipher)
{
	return cipher == SEAL_AES256_GCM ? "AES-256-GCM" : "XChaCha20-Poly1305";
}

int seal_init(struct seal *s, enum seal_cipher cipher,
	      const uint8_t key[SEAL_KEY_BYTES])
{
	memset(s, 0, sizeof(*s));
	if (sodium_init() < 0)
		return -ENOSYS;
	s->cipher = cipher;
	if (cipher == SEAL_XCHACHA20_POLY1305) {
		memcpy(s->key, key, SEAL_KEY_BYTES);
		return 0;
	}
	if (!crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;
	crypto_aead_aes256gcm_beforenm(&s->aes, key);
	return 0;
}

void seal_wipe(struct seal *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* The nonce: the header's sequence number, little-endian, zero-padded
 * (XChaCha20's is the longer; AES-GCM takes its first 12 bytes). */
static void nonce_of(const uint8_t *frame,
		     uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	static_assert(crypto_aead_aes256gcm_NPUBBYTES >= sizeof(uint64_t),
		      "a sequence number fits AES-GCM's nonce");
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	memcpy(n, frame + offsetof(struct net_hdr, seq), sizeof(uint64_t));
}

void seal_close(const struct seal *s, uint8_t *frame, size_t payload)
{
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t *p = frame + NET_HDR_SIZE;

	nonce_of(frame, n);
	if (s->cipher == SEAL_AES256_GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(
			p, p + payload, NULL, p, payload, frame, NET_HDR_SIZE,
			NULL, n, &s->aes);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			p, p + payload, NULL, p, payload, frame, NET_HDR_SIZE,
			NULL, n, s->key);
}

int seal_open(const struct seal *s, uint8_t *frame, size_t payload)
{
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t *p = frame + NET_HDR_SIZE;
	int r;

	nonce_of(frame, n);
	if (s->cipher == SEAL_AES256_GCM)
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(
			p, NULL, p, payload, p + payload, frame, NET_HDR_SIZE,
			n, &s->aes);
	else
		r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			p, NULL, p, payload, p + payload, frame, NET_HDR_SIZE,
			n, s->key);
	return r ? -EKEYREJECTED : 0;
}
