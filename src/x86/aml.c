#include "x86/aml.h"

#include <errno.h>
#include <string.h>

enum {
	ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0a,
	WORD_PREFIX = 0x0b, DWORD_PREFIX = 0x0c, QWORD_PREFIX = 0x0e,
	SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12, EXT_OP = 0x5b,
	DEVICE_OP = 0x82, ONES_OP = 0xff,
};

void aml_init(struct aml *a, void *buf, size_t size)
{
	*a = (struct aml){ .buf = buf, .size = size };
}

int aml_finish(struct aml *a)
{
	if (!a->err && a->depth)
		a->err = -EINVAL;
	return a->err ? a->err : (int)a->used;
}

void aml_bytes(struct aml *a, const void *p, size_t len)
{
	if (a->err)
		return;
	if (len > a->size - a->used) {
		a->err = -ENOSPC;
		return;
	}
	memcpy(a->buf + a->used, p, len);
	a->used += len;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		byte(a, (uint8_t)(v >> (8 * i)));
}

static void nameseg(struct aml *a, const char *seg)
{
	if (strlen(seg) != 4) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	aml_bytes(a, seg, 4);
}

void aml_name(struct aml *a, const char *seg)
{
	byte(a, NAME_OP);
	nameseg(a, seg);
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0) {
		byte(a, ZERO_OP);
	} else if (v == 1) {
		byte(a, ONE_OP);
	} else if (v <= 0xff) {
		byte(a, BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffffULL) {
		byte(a, DWORD_PREFIX);
		le(a, v, 4);
	} else {
		byte(a, QWORD_PREFIX);
		le(a, v, 8);
	}
}

/* Three letters of 5 bits each and four hex digits, stored big-endian
 * (ASL's EISAID macro). */
void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	for (int i = 0; i < 3; i++)
		v |= (uint32_t)((id[i] - 0x40) & 0x1f) << (26 - 5 * i);
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 0;

		v |= d << (4 * (6 - i));
	}
	byte(a, DWORD_PREFIX);
	le(a, __builtin_bswap32(v), 4);
}

static void open_obj(struct aml *a)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		a->err = -EINVAL;
		return;
	}
	/* The content starts after a one-byte PkgLength; close makes room
	 * for a longer one. */
	byte(a, 0);
	a->is_buffer[a->depth] = 0;
	a->open[a->depth++] = a->used;
}

void aml_close(struct aml *a)
{
	size_t start, content, total;
	unsigned extra;

	if (a->err)
		return;
	if (!a->depth) {
		a->err = -EINVAL;
		return;
	}
	start = a->open[--a->depth];
	content = a->used - start;
	if (a->is_buffer[a->depth]) {
		uint32_t n = (uint32_t)(content - 5);	/* after DWordPrefix and size */

		memcpy(a->buf + start + 1, &n, 4);
	}
	/* PkgLength counts itself: 1 byte up to 63, then 2, 3 or 4 bytes
	 * with 4 + 8k bits of length. */
	extra = content + 1 < 64 ? 0 : content + 2 < (1u << 12) ? 1
	      : content + 3 < (1u << 20) ? 2 : 3;
	total = content + 1 + extra;
	if (extra > a->size - a->used || total >= (1u << 28)) {
		a->err = -ENOSPC;
		return;
	}
	memmove(a->buf + start + extra, a->buf + start, content);
	a->used += extra;
	if (!extra) {
		a->buf[start - 1] = (uint8_t)total;
		return;
	}
	a->buf[start - 1] = (uint8_t)(extra << 6 | (total & 0xf));
	for (unsigned i = 0; i < extra; i++)
		a->buf[start + i] = (uint8_t)(total >> (4 + 8 * i));
}

void aml_scope_open(struct aml *a, const char *path)
{
	byte(a, SCOPE_OP);
	open_obj(a);
	if (path[0] == '\\') {
		byte(a, '\\');
		path++;
	}
	nameseg(a, path);
}

void aml_device_open(struct aml *a, const char *seg)
{
	byte(a, EXT_OP);
	byte(a, DEVICE_OP);
	open_obj(a);
	nameseg(a, seg);
}

void aml_package_open(struct aml *a, uint8_t nr_elements)
{
	byte(a, PACKAGE_OP);
	open_obj(a);
	byte(a, nr_elements);
}

/* A buffer's size is an integer inside its package; it is known only at
 * close, so a buffer is written as Buffer(DWord size) and the size filled
 * in then: the mark is the DWORD's position. */
void aml_buffer_open(struct aml *a)
{
	byte(a, BUFFER_OP);
	open_obj(a);
	if (!a->err)
		a->is_buffer[a->depth - 1] = 1;
	byte(a, DWORD_PREFIX);
	le(a, 0, 4);
}

static void word_as(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min,
		    uint16_t max)
{
	byte(a, 0x88);
	le(a, 13, 2);
	byte(a, type);
	byte(a, 0x0c);	/* producer, fixed min and max, positive decode */
	byte(a, tflags);
	le(a, 0, 2);	/* granularity */
	le(a, min, 2);
	le(a, max, 2);
	le(a, 0, 2);	/* translation */
	le(a, (uint16_t)(max - min + 1), 2);
}

void aml_res_bus(struct aml *a, uint16_t min, uint16_t max)
{
	word_as(a, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	word_as(a, 1, 3, min, max);	/* ISA and non-ISA ranges */
}

void aml_res_io(struct aml *a, uint16_t port, uint8_t len)
{
	byte(a, 0x47);
	byte(a, 1);	/* 16-bit decode */
	le(a, port, 2);
	le(a, port, 2);
	byte(a, 1);	/* alignment */
	byte(a, len);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	byte(a, 0x87);
	le(a, 23, 2);
	byte(a, 0);	/* memory */
	byte(a, 0x0c);
	byte(a, 1);	/* read-write, non-cacheable */
	le(a, 0, 4);
	le(a, min, 4);
	le(a, max, 4);
	le(a, 0, 4);
	le(a, max - min + 1, 4);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	byte(a, 0x86);
	le(a, 9, 2);
	byte(a, 1);	/* read-write */
	le(a, base, 4);
	le(a, len, 4);
}

void aml_end_tag(struct aml *a)
{
	byte(a, 0x79);
	byte(a, 0);
}
