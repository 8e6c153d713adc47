/* Sealing the frames of an authenticated link: every frame after the
 * handshake is encrypted and authenticated with an AEAD (libsodium), so
 * that nobody on the path can read guest pages, vCPU state or device I/O,
 * nor forge, alter, replay or reorder a frame.
 *
 * A sealed frame is the ordinary 24-byte header (wire.h) with
 * NET_FLAG_SEALED set, the payload's `length` bytes encrypted, then a
 * SEAL_TAG_BYTES tag. The header travels in clear (the receiver needs the
 * length) but is authenticated as associated data, so its type, length
 * and sequence number cannot be changed either. The nonce is the header's
 * sequence number: each direction of a link has its own key (auth.h
 * derives both from the handshake's fresh nonces), and a direction never
 * repeats a sequence number, so no (key, nonce) pair is ever used twice.
 * A frame opened with its own header's seq is authentic; the transport
 * then requires that seq to be the next one, which refuses a replayed or
 * reordered frame (a genuine frame out of place) as well.
 *
 * Cipher: AES-256-GCM where both ends have AES-NI (much the faster there),
 * else XChaCha20-Poly1305; the handshake settles which (auth.h).
 *
 * Pure code: no I/O, no allocation; one struct seal per direction, used by
 * one thread at a time (the sender under the connection's send lock, the
 * receive thread). */
#ifndef AMALGAM_NET_SEAL_H
#define AMALGAM_NET_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SEAL_KEY_BYTES	32
#define SEAL_TAG_BYTES	16

enum seal_cipher {
	SEAL_XCHACHA20_POLY1305 = 0,
	SEAL_AES256_GCM = 1,
};

struct seal {
	enum seal_cipher cipher;
	union {
		crypto_aead_aes256gcm_state aes;	/* the expanded key */
		uint8_t key[SEAL_KEY_BYTES];		/* XChaCha20's */
	};
};

/* Whether this CPU can run AES-256-GCM in libsodium (AES-NI, PCLMUL). */
bool seal_aes_available(void);
/* 0, or -ENOTSUP (AES-GCM asked for without AES-NI), -ENOSYS (libsodium
 * failed to initialise). */
int seal_init(struct seal *s, enum seal_cipher cipher,
	      const uint8_t key[SEAL_KEY_BYTES]);
void seal_wipe(struct seal *s);
const char *seal_cipher_name(enum seal_cipher cipher);

/* frame: a complete header (its flags already NET_FLAG_SEALED) followed by
 * `payload` bytes, encrypted in place, and room for the tag after them. */
void seal_close(const struct seal *s, uint8_t *frame, size_t payload);
/* Open what seal_close made (header, payload, tag): 0 and the payload in
 * clear, or -EKEYREJECTED if the frame is not authentic (forged, altered,
 * or sealed with another key); the payload is then garbage. */
int seal_open(const struct seal *s, uint8_t *frame, size_t payload);

#endif
