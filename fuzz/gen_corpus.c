/* Writes the seed corpus for fuzz_wire into a directory: one valid frame of
 * every message shape, a stream of all of them, and a few near misses.
 * Generated, so that no binary blob is committed.
 *
 *   fuzz_wire_corpus DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/wire.h"

static uint8_t page[NET_PAGE_SIZE];
static uint8_t blob[512];
static uint8_t stream[NET_FRAME_MAX];
static size_t stream_len;

static int write_file(const char *dir, const char *name, const void *buf,
		      size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static int emit(const char *dir, const char *name, struct net_msg *m)
{
	uint8_t buf[NET_FRAME_MAX];
	ssize_t n;

	m->seq = 1;
	n = wire_encode(m, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "%s: does not encode (%zd)\n", name, n);
		return -1;
	}
	/* The stream seed starts with the chunk-size byte fuzz_wire reads. */
	if (!stream_len)
		stream[stream_len++] = 13;
	if (stream_len + (size_t)n <= sizeof(stream)) {
		memcpy(stream + stream_len, buf, (size_t)n);
		stream_len += (size_t)n;
	}
	return write_file(dir, name, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	static const char reason[] = "operator asked";
	struct net_msg m;
	const char *dir;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)i;

#define MSG(t) (memset(&m, 0, sizeof(m)), m.type = (t), &m)
	MSG(NET_MSG_HELLO)->u.hello.node_id = 1;
	err |= emit(dir, "hello", &m);
	err |= emit(dir, "auth", MSG(NET_MSG_AUTH));
	err |= emit(dir, "auth_ok", MSG(NET_MSG_AUTH_OK));
	MSG(NET_MSG_PING)->u.ping.token = 99;
	err |= emit(dir, "ping", &m);
	err |= emit(dir, "pong", MSG(NET_MSG_PONG));
	MSG(NET_MSG_CONTROL)->u.control.op = NET_CTL_STOP;
	m.data = reason;
	m.data_len = sizeof(reason) - 1;
	err |= emit(dir, "control_stop", &m);
	MSG(NET_MSG_CONTROL)->u.control.op = NET_CTL_STATS;
	m.data = page;
	m.data_len = 64;
	err |= emit(dir, "control_stats", &m);
	MSG(NET_MSG_CONTROL)->u.control.op = NET_CTL_LOAD;
	m.data = page;
	m.data_len = sizeof(struct net_load);
	err |= emit(dir, "control_load", &m);
	MSG(NET_MSG_DSM)->u.dsm.gfn = 0x100;
	err |= emit(dir, "dsm", &m);
	MSG(NET_MSG_DSM)->u.dsm.op = 2;
	m.data = page;
	m.data_len = NET_PAGE_SIZE;
	err |= emit(dir, "dsm_page", &m);
	MSG(NET_MSG_IRQ)->u.irq.vector = 0x30;
	m.u.irq.target_vcpu = -1;
	err |= emit(dir, "irq", &m);
	MSG(NET_MSG_IO_REQ)->u.io_req.len = 4;
	m.u.io_req.space = NET_IO_MMIO;
	m.u.io_req.is_write = 1;
	err |= emit(dir, "io_req", &m);
	MSG(NET_MSG_IO_REPLY)->u.io_reply.len = 1;
	err |= emit(dir, "io_reply", &m);
	MSG(NET_MSG_VCPU_STATE)->u.vcpu.vcpu = 3;
	m.data = blob;
	m.data_len = sizeof(blob);
	err |= emit(dir, "vcpu_state", &m);
#undef MSG

	err |= write_file(dir, "stream", stream, stream_len);
	/* Near misses: a header alone, and a header whose length lies. */
	err |= write_file(dir, "header_only", stream + 1, NET_HDR_SIZE);
	stream[1 + 8] ^= 0x40;
	err |= write_file(dir, "bad_length", stream + 1, 80);
	return err ? 1 : 0;
}
