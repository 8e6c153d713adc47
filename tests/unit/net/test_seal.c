/* Sealed frames (net/seal.h), both ciphers: a frame opens only unchanged,
 * under its own key, with its own header. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/seal.h"
#include "net/wire.h"

static_assert(SEAL_TAG_BYTES == NET_SEAL_TAG_BYTES, "one tag size");

#define PAYLOAD 100

static const uint8_t key1[SEAL_KEY_BYTES] = { 1, 2, 3 };
static const uint8_t key2[SEAL_KEY_BYTES] = { 1, 2, 4 };

/* A DSM frame with seq 7, sealed with key1. */
static void make(const struct seal *s, uint8_t *f)
{
	struct net_hdr h = { NET_WIRE_MAGIC, NET_WIRE_VERSION, NET_MSG_DSM,
			     PAYLOAD, NET_FLAG_SEALED, 7 };

	memcpy(f, &h, sizeof(h));
	for (int i = 0; i < PAYLOAD; i++)
		f[NET_HDR_SIZE + i] = (uint8_t)i;
	seal_close(s, f, PAYLOAD);
}

static void check_cipher(enum seal_cipher c)
{
	uint8_t f[NET_HDR_SIZE + PAYLOAD + SEAL_TAG_BYTES], g[sizeof(f)];
	struct seal a, b;

	assert_int_equal(seal_init(&a, c, key1), 0);
	assert_int_equal(seal_init(&b, c, key2), 0);
	make(&a, f);
	/* Encrypted: the counting pattern is gone. */
	assert_true(f[NET_HDR_SIZE + 5] != 5 || f[NET_HDR_SIZE + 6] != 6 ||
		    f[NET_HDR_SIZE + 7] != 7);
	memcpy(g, f, sizeof(f));
	assert_int_equal(seal_open(&a, g, PAYLOAD), 0);
	for (int i = 0; i < PAYLOAD; i++)
		assert_int_equal(g[NET_HDR_SIZE + i], i);

	/* Any flipped bit anywhere, header included, and it does not open. */
	for (size_t at = 0; at < sizeof(f); at += 7) {
		memcpy(g, f, sizeof(f));
		g[at] ^= 0x10;
		assert_int_equal(seal_open(&a, g, PAYLOAD), -EKEYREJECTED);
	}
	/* A changed sequence number (the nonce) in particular. */
	memcpy(g, f, sizeof(f));
	g[offsetof(struct net_hdr, seq)] = 8;
	assert_int_equal(seal_open(&a, g, PAYLOAD), -EKEYREJECTED);
	/* Another key. */
	memcpy(g, f, sizeof(f));
	assert_int_equal(seal_open(&b, g, PAYLOAD), -EKEYREJECTED);
	/* A truncated frame (the tag taken from the payload). */
	memcpy(g, f, sizeof(f));
	assert_int_equal(seal_open(&a, g, PAYLOAD - 1), -EKEYREJECTED);
	seal_wipe(&a);
	seal_wipe(&b);
}

static void test_xchacha(void **state)
{
	check_cipher(SEAL_XCHACHA20_POLY1305);
}

static void test_aes(void **state)
{
	struct seal s;

	if (!seal_aes_available()) {
		assert_int_equal(seal_init(&s, SEAL_AES256_GCM, key1), -ENOTSUP);
		skip();
	}
	check_cipher(SEAL_AES256_GCM);
}

/* A frame sealed with one cipher does not open with the other. */
static void test_cipher_mismatch(void **state)
{
	uint8_t f[NET_HDR_SIZE + PAYLOAD + SEAL_TAG_BYTES];
	struct seal a, x;

	if (!seal_aes_available())
		skip();
	assert_int_equal(seal_init(&a, SEAL_AES256_GCM, key1), 0);
	assert_int_equal(seal_init(&x, SEAL_XCHACHA20_POLY1305, key1), 0);
	make(&a, f);
	assert_int_equal(seal_open(&x, f, PAYLOAD), -EKEYREJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xchacha),
		cmocka_unit_test(test_aes),
		cmocka_unit_test(test_cipher_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
