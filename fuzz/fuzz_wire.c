/* libFuzzer target for the wire decoder: whatever the bytes, decoding
 * must neither read out of bounds nor crash, and must give one of the
 * documented errors. What it accepts must re-encode to exactly the same
 * bytes (so decode and encode agree on every field and length rule).
 *
 * The same input is also fed as a stream to the frame reader, split into
 * chunks whose size the first byte chooses, to exercise reassembly and
 * compaction; every frame it yields must equal the matching input bytes.
 *
 * Build and run: see fuzz/meson.build. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static uint8_t scratch[NET_FRAME_MAX];

static void check_error(int err, enum net_reject why)
{
	CHECK(err == -EBADMSG || err == -EPROTO || err == -EMSGSIZE);
	CHECK((unsigned)why < NET_REJ_NR);
}

static void check_reencodes(const struct net_msg *m, const uint8_t *frame,
			    size_t len)
{
	ssize_t n = wire_encode(m, scratch, sizeof(scratch));

	CHECK(n == (ssize_t)len);
	CHECK(memcmp(scratch, frame, len) == 0);
	CHECK(wire_frame_size(m) == len);
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
	enum net_reject why = NET_REJ_NR;
	struct net_msg m;
	struct net_hdr h;
	int err;

	err = wire_decode(data, size, &m, &why);
	if (err) {
		check_error(err, why);
	} else {
		check_reencodes(&m, data, size);
		CHECK(!m.data_len || (m.data >= (const void *)data &&
				      (const uint8_t *)m.data + m.data_len == data + size));
	}
	err = wire_decode_hdr(data, size, &h, &why);
	if (err == 0)
		CHECK(h.length <= NET_MAX_PAYLOAD);
	else if (err != -EAGAIN)
		check_error(err, why);
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	static struct wire_reader r;
	enum net_reject why;
	struct net_msg m;
	size_t chunk, off = 0, consumed = 0, room, take;
	uint8_t *dst;
	int rc = 0;

	if (size < 1)
		return;
	chunk = (size_t)(data[0] % 97) + 1;
	data++;
	size--;
	if (!r.buf && wire_reader_init(&r, NET_FRAME_MAX, NET_TYPES_ALL))
		abort();
	r.start = r.end = 0;
	while (off < size && rc >= 0) {
		dst = wire_reader_space(&r, &room);
		CHECK(room > 0);
		take = chunk < room ? chunk : room;
		if (take > size - off)
			take = size - off;
		memcpy(dst, data + off, take);
		wire_reader_commit(&r, take);
		off += take;
		while ((rc = wire_reader_next(&r, &m, &why)) == 1) {
			size_t len = wire_frame_size(&m);

			CHECK(consumed + len <= off);
			check_reencodes(&m, data + consumed, len);
			consumed += len;
		}
		if (rc < 0)
			check_error(rc, why);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_stream(data, size);
	return 0;
}
