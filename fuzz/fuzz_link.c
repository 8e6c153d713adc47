/* libFuzzer target for a link's life around authentication: the
 * handshake state machine (auth.h) and sealed frames (seal.h) behind the
 * frame reader (wire.h). Every input is used three ways:
 *
 *  1. As frames from a stranger (no key) to a responder: whatever they
 *     say, the responder never completes the handshake (there is no proof
 *     without the key), and every refusal is a documented errno with a
 *     reason.
 *  2. As raw bytes on an authenticated, sealed link: nothing in them ever
 *     comes out of the reader as an authentic frame; every refusal is a
 *     documented reason.
 *  3. As frames in clear that the honest peer seals with the link's key:
 *     each comes out of the receiving reader exactly as it went in.
 *
 * The handshake that set the link up ran once, with deterministic
 * randomness (so that a crash reproduces). Build and run: fuzz/meson.build,
 * scripts/fuzz link SECONDS. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/auth.h"
#include "net/seal.h"
#include "net/wire.h"
#include "util/log.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static struct auth_key key;
static struct seal tx_i, rx_r;		/* initiator -> responder */
static uint8_t frame[NET_SEALED_FRAME_MAX];

/* --- deterministic randomness for libsodium (nonces) --------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t det_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void det_buf(void *const buf, const size_t size)
{
	for (size_t i = 0; i < size; i++)
		((uint8_t *)buf)[i] = (uint8_t)det_random();
}

static const char *det_name(void) { return "fuzz"; }

static struct randombytes_implementation det = {
	.implementation_name = det_name,
	.random = det_random,
	.buf = det_buf,
};

/* A real handshake, in memory, frames through the codec both ways. */
static void setup_link(void)
{
	struct net_msg q[16], out[AUTH_MAX_OUT], in;
	bool to_i[16];
	struct auth_hs i, r;
	struct seal tx_r, rx_i;
	uint8_t buf[256];
	int head = 0, tail = 0, n;

	CHECK(auth_init(&i, AUTH_INITIATOR, &key, 1, -1) == 0);
	CHECK(auth_init(&r, AUTH_RESPONDER, &key, 2, -1) == 0);
	n = auth_start(&i, out);
	CHECK(n == 1);
	q[tail] = out[0];
	to_i[tail++] = false;
	while (head < tail) {
		struct auth_hs *hs = to_i[head] ? &i : &r;
		bool back = !to_i[head];

		CHECK(wire_encode(&q[head], buf, sizeof(buf)) > 0);
		CHECK(wire_decode(buf, (size_t)wire_frame_size(&q[head]), &in, NULL) == 0);
		head++;
		n = auth_step(hs, &in, out);
		CHECK(n >= 0);
		for (int k = 0; k < n; k++) {
			CHECK(tail < 16);
			q[tail] = out[k];
			to_i[tail++] = back;
		}
	}
	CHECK(auth_done(&i) && auth_done(&r));
	CHECK(auth_link(&i, &tx_i, &rx_i) == 0);
	CHECK(auth_link(&r, &tx_r, &rx_r) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	randombytes_set_implementation(&det);
	if (sodium_init() < 0)
		abort();
	log_init(0, LOG_ERROR);
	log_set_level(LOG_ERROR);
	for (int k = 0; k < AUTH_KEY_BYTES; k++)
		key.k[k] = (uint8_t)(k * 37 + 1);
	setup_link();
	return 0;
}

static void check_reject(int rc, enum net_reject why)
{
	CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE ||
	      rc == -EKEYREJECTED);
	CHECK((unsigned)why < NET_REJ_NR);
}

/* Feed data into r in one piece; call each() for every frame, stop at the
 * first refusal (returned). */
static int pump(struct wire_reader *r, const uint8_t *data, size_t size,
		bool (*each)(const struct net_msg *m, void *ctx), void *ctx)
{
	enum net_reject why = NET_REJ_NR;
	struct net_msg m;
	size_t off = 0, room, take;
	uint8_t *dst;
	int rc = 0;

	r->start = r->end = 0;
	while (off < size && rc >= 0) {
		dst = wire_reader_space(r, &room);
		take = room < size - off ? room : size - off;
		memcpy(dst, data + off, take);
		wire_reader_commit(r, take);
		off += take;
		while ((rc = wire_reader_next(r, &m, &why)) == 1)
			if (!each(&m, ctx))
				return 0;
		if (rc < 0)
			check_reject(rc, why);
	}
	return rc;
}

/* 1. A stranger's frames into a responder. */
static bool stranger_frame(const struct net_msg *m, void *ctx)
{
	struct auth_hs *r = ctx;
	struct net_msg out[AUTH_MAX_OUT];
	int n = auth_step(r, m, out);

	if (n < 0) {
		CHECK(n == -EACCES || n == -EPROTO || n == -EPERM ||
		      n == -EPROTONOSUPPORT);
		CHECK(r->error && r->state == AUTH_FAILED);
		return false;
	}
	CHECK(n <= AUTH_MAX_OUT);
	CHECK(!auth_done(r));
	return true;
}

/* 2. Raw bytes on a sealed link: nothing authentic comes out. */
static bool never(const struct net_msg *m, void *ctx)
{
	__builtin_trap();
}

/* 3. Frames sealed by the honest peer come out unchanged. */
struct relay {
	struct wire_reader *sealed;
	uint64_t seq;
};

static bool relay_frame(const struct net_msg *m, void *ctx)
{
	static uint8_t plain[NET_FRAME_MAX];
	struct relay *x = ctx;
	enum net_reject why;
	struct net_msg c = *m, back;
	uint32_t fl = NET_FLAG_SEALED;
	ssize_t n, p;
	size_t room;
	uint8_t *dst;

	c.seq = ++x->seq;
	p = wire_encode(&c, plain, sizeof(plain));
	CHECK(p > 0);
	memcpy(frame, plain, (size_t)p);
	memcpy(frame + offsetof(struct net_hdr, flags), &fl, 4);
	seal_close(&tx_i, frame, (size_t)p - NET_HDR_SIZE);
	n = p + NET_SEAL_TAG_BYTES;
	x->sealed->start = x->sealed->end = 0;
	dst = wire_reader_space(x->sealed, &room);
	CHECK(room >= (size_t)n);
	memcpy(dst, frame, (size_t)n);
	wire_reader_commit(x->sealed, (size_t)n);
	CHECK(wire_reader_next(x->sealed, &back, &why) == 1);
	CHECK(back.seq == c.seq && back.type == c.type);
	CHECK(wire_encode(&back, frame, sizeof(frame)) == p);
	CHECK(memcmp(frame, plain, (size_t)p) == 0);
	return true;
}

static int open_r(void *ctx, uint8_t *f, size_t payload)
{
	return seal_open(&rx_r, f, payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_reader hs, sealed, plain;
	struct auth_hs r;
	struct relay x;

	if (!hs.buf) {
		if (wire_reader_init(&hs, NET_HDR_SIZE + sizeof(struct net_hello),
				     NET_TYPES_HANDSHAKE) ||
		    wire_reader_init(&sealed, NET_SEALED_FRAME_MAX, NET_TYPES_SESSION) ||
		    wire_reader_init(&plain, NET_FRAME_MAX, NET_TYPES_SESSION))
			abort();
		sealed.open = open_r;
	}
	CHECK(auth_init(&r, AUTH_RESPONDER, &key, 2, -1) == 0);
	pump(&hs, data, size, stranger_frame, &r);
	pump(&sealed, data, size, never, NULL);
	x.sealed = &sealed;
	x.seq = 0;
	pump(&plain, data, size, relay_frame, &x);
	return 0;
}
