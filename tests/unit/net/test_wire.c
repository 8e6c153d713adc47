/* Wire format: every type round-trips; every malformed frame is refused for
 * the right reason; the stream reader reassembles any split; counters and
 * the fault switch do what they say. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/wire.h"

static uint8_t page[NET_PAGE_SIZE];
static uint8_t blob[7000];
static const char reason[] = "guest requested power off";
static const uint64_t stats_vals[3] = { 1, 2, 3 };

static struct net_join join;
static struct net_start start;

static void cpu(struct net_msg *m, enum net_cpu_op op)
{
	m->type = NET_MSG_CPU;
	m->u.cpu.op = op;
}

/* One valid message of each shape (every CPU op, JOIN and START among
 * them); index i of the returned array. */
static int sample(int i, struct net_msg *m)
{
	memset(m, 0, sizeof(*m));
	switch (i) {
	case 0:
		m->type = NET_MSG_HELLO;
		m->u.hello.node_id = 3;
		memset(m->u.hello.nonce, 0xa5, NET_NONCE_BYTES);
		return 0;
	case 1:
		m->type = NET_MSG_AUTH;
		memset(m->u.auth.mac, 0x5a, NET_MAC_BYTES);
		return 0;
	case 2:
		m->type = NET_MSG_AUTH_OK;
		m->u.auth_ok.status = NET_AUTH_DUPLICATE;
		return 0;
	case 3:
	case 4:
		m->type = i == 3 ? NET_MSG_PING : NET_MSG_PONG;
		m->u.ping.token = 0x1122334455667788ull;
		m->u.ping.time_ns = 42;
		return 0;
	case 5:
		m->type = NET_MSG_CONTROL;
		m->u.control.op = NET_CTL_SHUTDOWN;
		m->u.control.code = -5;
		m->data = reason;
		m->data_len = sizeof(reason) - 1;
		return 0;
	case 6:
		m->type = NET_MSG_CONTROL;
		m->u.control.op = NET_CTL_STATS;
		m->data = stats_vals;
		m->data_len = sizeof(stats_vals);
		return 0;
	case 7:
	case 8:
		m->type = NET_MSG_DSM;
		m->u.dsm = (struct net_dsm){ .op = 7, .flags = 1, .src = 2,
			.gfn = 0x12345, .version = 9, .req_id = 77, .node = 1,
			.count = 3, .arg = ~0ull };
		if (i == 8) {
			m->data = page;
			m->data_len = NET_PAGE_SIZE;
		}
		return 0;
	case 9:
		cpu(m, NET_CPU_IRQ);
		m->u.cpu.irq = (struct net_irq){ .dest = 0xff, .source = -1,
			.vector = 0x31, .delivery = 6, .dest_logical = 1,
			.shorthand = 3, .level = 1, .trigger_level = 1,
			.x2apic = 1, .hops = 2, .target_vcpu = 17 };
		return 0;
	case 10:
		cpu(m, NET_CPU_IO_REQ);
		m->u.cpu.io_req = (struct net_io_req){ .tag = 5, .addr = 0xfee00300,
			.vcpu = 4, .space = NET_IO_MMIO, .len = 4, .is_write = 1,
			.data = { 1, 2, 3, 4 } };
		return 0;
	case 11:
		cpu(m, NET_CPU_IO_REPLY);
		m->u.cpu.io_reply = (struct net_io_reply){ .tag = 5, .status = -22,
			.vcpu = 4, .len = 8, .data = { 8, 7, 6, 5, 4, 3, 2, 1 } };
		return 0;
	case 12:
		cpu(m, NET_CPU_STATE);
		m->u.cpu.vcpu = (struct net_vcpu_state){ .vcpu = 9, .moves = 1,
			.format = 2 };
		m->data = blob;
		m->data_len = sizeof(blob);
		return 0;
	case 13:
		cpu(m, NET_CPU_EOI);
		m->u.cpu.eoi.vector = 0xee;
		return 0;
	case 14:
		cpu(m, NET_CPU_MOVED);
		m->u.cpu.moved = (struct net_moved){ .vcpu = 5, .moves = 12 };
		return 0;
	case 15:
		cpu(m, NET_CPU_ROUTE);
		m->u.cpu.route = (struct net_route){ .vcpu = 2, .moves = 3, .seq = 4,
			.id = 2, .ldr = 0x4000000, .dfr = ~0u, .svr = 0x1ff,
			.apic_base = 0xfee00900 };
		return 0;
	case 16:
		cpu(m, NET_CPU_LOAD);
		m->u.cpu.load = (struct net_load){ .pool = 7, .cpus_milli = 2000,
			.load_milli = 1500, .fresh = 33 };
		return 0;
	case 17:
		memset(&join, 0, sizeof(join));
		join = (struct net_join){ .nr_nodes = 3, .self = 2, .cpus = 4,
			.net_delay_us = 100, .memory = 256 << 20, .start_all = 1,
			.migrate = 2, .place = { 0, 1, 2, 2 } };
		strcpy(join.addr[1], "10.0.0.1:7000");
		strcpy(join.addr[2], "b:2");
		join.nr_disks = 2;
		strcpy(join.disks[0].path, "/img/root.img");
		join.disks[1] = (struct net_disk){ .path = "data.img", .node = 2,
			.readonly = 1, .queues = 4, .fail_from = 99 };
		join.nr_nics = 2;
		strcpy(join.nics[0].tap, "tap0");
		join.nics[1] = (struct net_nic){ .tap = "amtap1", .node = 2,
			.mac = { 0x52, 0x54, 0, 0xaa, 0xbb, 1 } };
		m->type = NET_MSG_JOIN;
		m->data = &join;
		m->data_len = sizeof(join);
		return 0;
	case 18:
		memset(&start, 0, sizeof(start));
		start = (struct net_start){ .rip = 0x100000, .rsi = 0x7000,
			.cr3 = 0x9000, .gdt_base = 0x500, .gdt_limit = 0x27,
			.clock_flags = 6, .tsc_offset = -12345, .kvmclock = 99,
			.realtime_ns = 1ull << 60, .host_tsc = 1ull << 40,
			.tsc_khz = 2000000, .nr_nodes = 2, .nr_ranges = 2,
			.has_delta = 3, .tsc_delta = { 0, -777 },
			.ranges = { { 0, 16 }, { 0x100, 0x200 } } };
		strcpy(start.boot_id, "1b2c3d4e-0000-4000-8000-000000000001");
		m->type = NET_MSG_START;
		m->data = &start;
		m->data_len = sizeof(start);
		return 0;
	case 19:
		m->type = NET_MSG_IDENT;
		for (unsigned k = 0; k < NET_PUBKEY_BYTES; k++)
			m->u.ident.pubkey[k] = (uint8_t)(k + 1);
		for (unsigned k = 0; k < NET_SIG_BYTES; k++)
			m->u.ident.sig[k] = (uint8_t)(0xa0 ^ k);
		return 0;
	case 20:
		/* REPORT: the wire looks at its length only (node/report.h). */
		m->type = NET_MSG_REPORT;
		m->data = blob;
		m->data_len = sizeof(struct net_report) + sizeof(struct net_report_vcpu);
		return 0;
	case 21:
		cpu(m, NET_CPU_PCI_CFG);
		m->u.cpu.pci_cfg = (struct net_pci_cfg){ .slot = 2, .len = 2, .off = 0x46,
			.data = { 0x80, 0x01 } };
		return 0;
	case 22:
		cpu(m, NET_CPU_INTX);
		m->u.cpu.intx = (struct net_intx){ .gsi = 17, .level = 1 };
		return 0;
	}
	return -1;
}

static uint8_t frame[NET_FRAME_MAX + 64];

static size_t encode(const struct net_msg *m)
{
	ssize_t n = wire_encode(m, frame, sizeof(frame));

	assert_true(n > 0);
	assert_int_equal((size_t)n, wire_frame_size(m));
	return (size_t)n;
}

static void test_round_trip_every_type(void **state)
{
	struct net_msg in, out;
	uint32_t seen = 0;

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i ^ 0x3c);
	for (int i = 0; sample(i, &in) == 0; i++) {
		in.seq = 1000 + i;
		size_t n = encode(&in);

		assert_int_equal(wire_decode(frame, n, &out, NULL), 0);
		assert_int_equal(out.type, in.type);
		assert_int_equal(out.seq, in.seq);
		assert_memory_equal(&out.u, &in.u, sizeof(in.u));
		assert_int_equal(out.data_len, in.data_len);
		if (in.data_len) {
			assert_memory_equal(out.data, in.data, in.data_len);
			assert_ptr_equal(out.data, frame + n - in.data_len);
		} else {
			assert_null(out.data);
		}
		seen |= NET_TYPE_BIT(in.type);
	}
	assert_int_equal(seen, NET_TYPES_ALL);
}

static void test_header_layout(void **state)
{
	struct net_msg m;
	size_t n;

	sample(2, &m);
	m.seq = 0x0102030405060708ull;
	n = encode(&m);
	assert_int_equal(n, NET_HDR_SIZE + 8);
	assert_memory_equal(frame, "AMLG", 4);
	assert_int_equal(frame[4], NET_WIRE_VERSION);
	assert_int_equal(frame[5], 0);
	assert_int_equal(frame[6], NET_MSG_AUTH_OK);
	assert_int_equal(frame[7], 0);
	assert_int_equal(frame[8], 8);		/* length, LE */
	assert_int_equal(frame[9] | frame[10] | frame[11], 0);
	assert_int_equal(frame[12] | frame[13] | frame[14] | frame[15], 0);
	assert_int_equal(frame[16], 0x08);	/* seq, LE */
	assert_int_equal(frame[23], 0x01);
	assert_int_equal(frame[24], NET_AUTH_DUPLICATE);
}

static void expect(size_t len, int err, enum net_reject reason)
{
	enum net_reject why = NET_REJ_NR;
	struct net_msg m;

	assert_int_equal(wire_decode(frame, len, &m, &why), err);
	assert_int_equal(why, reason);
}

static void test_truncated(void **state)
{
	struct net_msg m;

	for (int i = 0; sample(i, &m) == 0; i++) {
		size_t n = encode(&m);

		/* Every proper prefix, down to nothing at all. */
		for (size_t len = 0; len < n; len++)
			expect(len, -EBADMSG, NET_REJ_TRUNCATED);
	}
}

static void patch32(size_t off, uint32_t v) { memcpy(frame + off, &v, 4); }
static void patch16(size_t off, uint16_t v) { memcpy(frame + off, &v, 2); }

static void test_bad_header(void **state)
{
	struct net_msg m;
	size_t n;

	sample(10, &m);
	n = encode(&m);
	patch32(0, 0x474c4d42);
	expect(n, -EPROTO, NET_REJ_BAD_MAGIC);

	n = encode(&m);
	patch16(4, NET_WIRE_VERSION + 1);
	expect(n, -EPROTO, NET_REJ_BAD_VERSION);

	n = encode(&m);
	patch32(12, 2);
	expect(n, -EPROTO, NET_REJ_BAD_FLAGS);
	n = encode(&m);
	patch32(12, NET_FLAG_SEALED | 0x100);
	expect(n, -EPROTO, NET_REJ_BAD_FLAGS);
	/* A sealed frame is not decoded as if it were in clear. */
	n = encode(&m);
	patch32(12, NET_FLAG_SEALED);
	expect(n, -EPROTO, NET_REJ_BAD_FLAGS);
	struct net_hdr h;
	assert_int_equal(wire_decode_hdr(frame, n, &h, NULL), 0);
	assert_int_equal(h.flags, NET_FLAG_SEALED);

	const uint16_t unknown[] = { NET_MSG_INVALID, NET_MSG_NR, 0x7fff, 0xffff };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		n = encode(&m);
		patch16(6, unknown[i]);
		expect(n, -EPROTO, NET_REJ_UNKNOWN_TYPE);
	}
}

static void test_bad_length(void **state)
{
	struct net_msg m;
	size_t n;

	/* Fixed-size type, length one short / one long / huge. */
	sample(3, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_ping) - 1);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);
	patch32(8, sizeof(struct net_ping) + 1);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);
	patch32(8, 0xffffffff);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);

	/* JOIN and START: exactly their struct, not a byte less or more. */
	for (int i = 17; i <= 18; i++) {
		sample(i, &m);
		n = encode(&m);
		patch32(8, m.data_len - 1);
		expect(n - 1, -EMSGSIZE, NET_REJ_BAD_LENGTH);
		patch32(8, m.data_len + 1);
		expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);
		patch32(8, 0);
		expect(NET_HDR_SIZE, -EMSGSIZE, NET_REJ_BAD_LENGTH);
		patch32(8, m.data_len);
		expect(n - 100, -EBADMSG, NET_REJ_TRUNCATED);
	}

	/* REPORT: its header at least, and its bound at most. */
	sample(19, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_report) - 1);
	expect(NET_HDR_SIZE + sizeof(struct net_report) - 1, -EMSGSIZE, NET_REJ_BAD_LENGTH);
	patch32(8, NET_REPORT_MAX + 1);
	expect(NET_HDR_SIZE + NET_REPORT_MAX + 1, -EMSGSIZE, NET_REJ_BAD_LENGTH);

	/* CPU: the fixed struct at least, whatever the op. */
	sample(9, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_cpu) - 1);
	expect(n - 1, -EMSGSIZE, NET_REJ_BAD_LENGTH);

	/* DSM: no page or one whole page, nothing in between. */
	sample(7, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_dsm) + 100);
	expect(n + 100, -EMSGSIZE, NET_REJ_BAD_LENGTH);
	patch32(8, sizeof(struct net_dsm) + NET_PAGE_SIZE + 1);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);

	/* Variable types above their maximum. */
	sample(5, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_control) + NET_CONTROL_DATA_MAX + 1);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);
	sample(12, &m);
	n = encode(&m);
	patch32(8, sizeof(struct net_cpu) + NET_VCPU_STATE_MAX + 1);
	expect(n, -EMSGSIZE, NET_REJ_BAD_LENGTH);

	/* Per CPU op: a vCPU state needs its blob, every other op has no
	 * data. The type's length allows both, the op does not. */
	patch32(8, sizeof(struct net_cpu));
	expect(NET_HDR_SIZE + sizeof(struct net_cpu), -EBADMSG, NET_REJ_BAD_FIELD);
	for (int i = 9; i <= 16; i++) {
		if (i == 12)
			continue;
		sample(i, &m);
		n = encode(&m);
		patch32(8, sizeof(struct net_cpu) + 1);
		frame[n] = 0;
		expect(n + 1, -EBADMSG, NET_REJ_BAD_FIELD);
	}

	/* Oversized buffer: trailing bytes after a valid frame. */
	sample(3, &m);
	n = encode(&m);
	expect(n + 1, -EBADMSG, NET_REJ_TRAILING);
}

static void test_bad_fields(void **state)
{
#define AT(type, field) (NET_HDR_SIZE + offsetof(struct type, field))
	/* A field of a CPU op's payload, and JOIN's and START's, which are
	 * data after an empty fixed part. */
#define ATC(member, type, field) (AT(net_cpu, member) + offsetof(struct type, field))
	struct { const char *what; int sample; size_t off; uint8_t val; } cases[] = {
		{ "hello node id", 0, AT(net_hello, node_id), NET_MAX_NODES },
		{ "hello flags", 0, AT(net_hello, flags), 8 },
		{ "auth_ok status", 2, AT(net_auth_ok, status), 2 },
		{ "control op 0", 5, AT(net_control, op), 0 },
		{ "control op NR", 5, AT(net_control, op), NET_CTL_NR },
		{ "NUL in reason", 5, NET_HDR_SIZE + sizeof(struct net_control) + 3, 0 },
		{ "irq delivery 3", 9, ATC(irq, net_irq, delivery), 3 },
		{ "irq delivery 8", 9, ATC(irq, net_irq, delivery), 8 },
		{ "irq shorthand", 9, ATC(irq, net_irq, shorthand), 4 },
		{ "irq x2apic", 9, ATC(irq, net_irq, x2apic), 2 },
		{ "irq reserved", 9, ATC(irq, net_irq, reserved), 1 },
		{ "io space", 10, ATC(io_req, net_io_req, space), 2 },
		{ "io len 0", 10, ATC(io_req, net_io_req, len), 0 },
		{ "io len 9", 10, ATC(io_req, net_io_req, len), 9 },
		{ "io is_write", 10, ATC(io_req, net_io_req, is_write), 2 },
		{ "reply status > 0", 11, ATC(io_reply, net_io_reply, status) + 3, 0 },
		{ "reply len", 11, ATC(io_reply, net_io_reply, len), 9 },
		{ "reply reserved", 11, ATC(io_reply, net_io_reply, reserved) + 6, 1 },
		{ "vcpu waited over 1000", 12, ATC(vcpu, net_vcpu_state, waited_milli) + 1, 4 },
		{ "cpu op 0", 9, AT(net_cpu, op), 0 },
		{ "cpu op NR", 9, AT(net_cpu, op), NET_CPU_NR },
		{ "cpu reserved0", 9, AT(net_cpu, reserved0), 1 },
		{ "cpu reserved1", 16, AT(net_cpu, reserved1) + 3, 1 },
		{ "cpu bytes past eoi", 13, AT(net_cpu, eoi) + sizeof(struct net_eoi), 1 },
		{ "cpu bytes past moved", 14, AT(net_cpu, moved) + 12, 1 },
		{ "cpu last byte past load", 16, NET_HDR_SIZE + sizeof(struct net_cpu) - 1, 1 },
		{ "eoi reserved", 13, ATC(eoi, net_eoi, reserved) + 6, 1 },
		{ "route reserved", 15, ATC(route, net_route, reserved), 1 },
		{ "load reserved", 16, ATC(load, net_load, reserved), 1 },
		{ "join start_all", 17, AT(net_join, start_all), 2 },
		{ "join reserved", 17, AT(net_join, reserved) + 1, 1 },
		{ "join address unterminated", 17, AT(net_join, addr) + NET_ADDR_MAX * 2 - 1, 'x' },
		{ "join node 0 garbage after NUL", 17, AT(net_join, addr) + 9, 'x' },
		{ "join too many disks", 17, AT(net_join, nr_disks), NET_JOIN_DISKS + 1 },
		{ "join reserved2", 17, AT(net_join, reserved2), 1 },
		{ "join disk path unterminated", 17,
		  AT(net_join, disks) + NET_DISK_PATH_MAX - 1, 'x' },
		{ "join disk path empty", 17, AT(net_join, disks), 0 },
		{ "join disk readonly", 17,
		  AT(net_join, disks) + sizeof(struct net_disk) + NET_DISK_PATH_MAX + 1, 2 },
		{ "join disk reserved", 17,
		  AT(net_join, disks) + sizeof(struct net_disk) + NET_DISK_PATH_MAX + 7, 1 },
		{ "join disk past count", 17,
		  AT(net_join, disks) + 2 * sizeof(struct net_disk) + NET_DISK_PATH_MAX, 1 },
		{ "join too many cards", 17, AT(net_join, nr_nics), NET_JOIN_NICS + 1 },
		{ "join reserved3", 17, AT(net_join, reserved3), 1 },
		{ "join tap name unterminated", 17,
		  AT(net_join, nics) + NET_TAP_NAME_MAX - 1, 'x' },
		{ "join tap name empty", 17, AT(net_join, nics), 0 },
		{ "join card multicast MAC", 17,
		  AT(net_join, nics) + sizeof(struct net_nic) + NET_TAP_NAME_MAX, 0x53 },
		{ "join card reserved", 17,
		  AT(net_join, nics) + sizeof(struct net_nic) + NET_TAP_NAME_MAX + 7, 1 },
		{ "join card past count", 17,
		  AT(net_join, nics) + 2 * sizeof(struct net_nic), 'x' },
		{ "pci_cfg len 0", 21, ATC(pci_cfg, net_pci_cfg, len), 0 },
		{ "pci_cfg across a dword", 21, ATC(pci_cfg, net_pci_cfg, len), 3 },
		{ "pci_cfg off 4096", 21, ATC(pci_cfg, net_pci_cfg, off) + 1, 0x10 },
		{ "pci_cfg data past len", 21, ATC(pci_cfg, net_pci_cfg, data) + 2, 1 },
		{ "intx level", 22, ATC(intx, net_intx, level), 2 },
		{ "intx reserved", 22, ATC(intx, net_intx, reserved) + 2, 1 },
		{ "start entry mode", 18, AT(net_start, entry_mode), 2 },
		{ "start boot id unterminated", 18, AT(net_start, boot_id) + NET_BOOT_ID_MAX - 1, 'x' },
		{ "start no nodes", 18, AT(net_start, nr_nodes), 0 },
		{ "start too many nodes", 18, AT(net_start, nr_nodes), NET_START_NODES + 1 },
		{ "start too many ranges", 18, AT(net_start, nr_ranges), NET_START_RANGES + 1 },
		{ "start delta bit past nodes", 18, AT(net_start, has_delta), 4 },
		{ "start delta past nodes", 18, AT(net_start, tsc_delta) + 8 * 2, 1 },
		{ "start range past count", 18, AT(net_start, ranges) + 16 * 2 + 8, 1 },
	};
#undef AT
#undef ATC
	enum net_reject why;
	struct net_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sample(cases[i].sample, &m);
		size_t n = encode(&m);

		frame[cases[i].off] = cases[i].val;
		why = NET_REJ_NR;
		if (wire_decode(frame, n, &m, &why) != -EBADMSG ||
		    why != NET_REJ_BAD_FIELD)
			fail_msg("%s: not refused as a bad field", cases[i].what);
	}
	/* STATS data must be whole u64s. */
	sample(6, &m);
	m.data_len = 12;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	/* Only a vCPU state carries data among the CPU ops. */
	sample(16, &m);
	m.data = stats_vals;
	m.data_len = sizeof(stats_vals);
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	/* A sender's garbage past the op's payload is refused at the sender. */
	sample(13, &m);
	m.u.cpu.moved.moves = 1;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	/* JOIN and START without their struct. */
	sample(17, &m);
	m.data_len = 0;
	m.data = NULL;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	sample(18, &m);
	m.data_len--;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
}

static void test_encode_refuses(void **state)
{
	struct net_msg m;
	uint8_t small[NET_HDR_SIZE + 8];

	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_NR;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	sample(10, &m);
	m.u.cpu.io_req.len = 0;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	sample(7, &m);
	m.data_len = NET_PAGE_SIZE;	/* no data pointer */
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), -EINVAL);
	sample(9, &m);
	assert_int_equal(wire_encode(&m, small, sizeof(small)), -ENOSPC);
	sample(8, &m);
	assert_int_equal(wire_encode(&m, frame, NET_HDR_SIZE + 48 + 100), -ENOSPC);
}

/* A stream of every sample, fed in chunks of every size from 1 up. */
static void test_reader_any_split(void **state)
{
	static uint8_t stream[64 * 1024];
	struct wire_reader r;
	enum net_reject why;
	struct net_msg m, out;
	size_t len = 0, chunk, off, room;
	int count, i, rc;

	for (i = 0; sample(i, &m) == 0; i++) {
		m.seq = i + 1;
		ssize_t n = wire_encode(&m, stream + len, sizeof(stream) - len);
		assert_true(n > 0);
		len += n;
	}
	for (chunk = 1; chunk < 9000; chunk = chunk * 3 + 1) {
		assert_int_equal(wire_reader_init(&r, NET_FRAME_MAX, NET_TYPES_ALL), 0);
		count = 0;
		for (off = 0; off < len;) {
			uint8_t *dst = wire_reader_space(&r, &room);
			size_t take = chunk < room ? chunk : room;

			if (take > len - off)
				take = len - off;
			memcpy(dst, stream + off, take);
			wire_reader_commit(&r, take);
			off += take;
			while ((rc = wire_reader_next(&r, &out, &why)) == 1) {
				sample(count, &m);
				assert_int_equal(out.type, m.type);
				assert_int_equal(out.seq, count + 1);
				assert_int_equal(out.data_len, m.data_len);
				if (m.data_len)
					assert_memory_equal(out.data, m.data, m.data_len);
				count++;
			}
			assert_int_equal(rc, 0);
		}
		assert_int_equal(count, i);
		wire_reader_free(&r);
	}
}

static void test_reader_rejects(void **state)
{
	struct wire_reader r;
	enum net_reject why;
	struct net_msg m, out;
	size_t room;
	uint8_t *dst;

	/* A session type during the handshake. */
	assert_int_equal(wire_reader_init(&r, 256, NET_TYPES_HANDSHAKE), 0);
	sample(3, &m);
	size_t n = encode(&m);
	dst = wire_reader_space(&r, &room);
	memcpy(dst, frame, n);
	wire_reader_commit(&r, n);
	assert_int_equal(wire_reader_next(&r, &out, &why), -EPROTO);
	assert_int_equal(why, NET_REJ_UNEXPECTED);
	wire_reader_free(&r);

	/* A page frame into a reader too small for it: refused on the
	 * header alone, before any payload arrives. */
	assert_int_equal(wire_reader_init(&r, 256, NET_TYPES_ALL), 0);
	sample(8, &m);
	encode(&m);
	dst = wire_reader_space(&r, &room);
	memcpy(dst, frame, NET_HDR_SIZE);
	wire_reader_commit(&r, NET_HDR_SIZE);
	assert_int_equal(wire_reader_next(&r, &out, &why), -EMSGSIZE);
	assert_int_equal(why, NET_REJ_BAD_LENGTH);
	wire_reader_free(&r);

	/* Garbage. */
	assert_int_equal(wire_reader_init(&r, 256, NET_TYPES_ALL), 0);
	dst = wire_reader_space(&r, &room);
	memcpy(dst, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	wire_reader_commit(&r, 27);
	assert_int_equal(wire_reader_next(&r, &out, &why), -EPROTO);
	assert_int_equal(why, NET_REJ_BAD_MAGIC);
	wire_reader_free(&r);
}

/* A stand-in for seal_open: a frame is "authentic" when its tag bytes are
 * all 0xAA, and opening flips the payload's bytes back. */
static int fake_open(void *ctx, uint8_t *f, size_t payload)
{
	++*(int *)ctx;
	for (size_t i = 0; i < NET_SEAL_TAG_BYTES; i++)
		if (f[NET_HDR_SIZE + payload + i] != 0xAA)
			return -1;
	for (size_t i = 0; i < payload; i++)
		f[NET_HDR_SIZE + i] ^= 0xff;
	return 0;
}

static size_t fake_seal(size_t n)
{
	uint32_t fl = NET_FLAG_SEALED;

	memcpy(frame + 12, &fl, 4);
	for (size_t i = NET_HDR_SIZE; i < n; i++)
		frame[i] ^= 0xff;
	memset(frame + n, 0xAA, NET_SEAL_TAG_BYTES);
	return n + NET_SEAL_TAG_BYTES;
}

static void feed(struct wire_reader *r, size_t n)
{
	size_t room;
	uint8_t *dst = wire_reader_space(r, &room);

	assert_true(room >= n);
	memcpy(dst, frame, n);
	wire_reader_commit(r, n);
}

/* A sealed reader: every frame flagged, opened by the hook before it is
 * decoded, its tag consumed; a frame of the other kind either way, or
 * one the hook refuses, is refused with its reason. */
static void test_reader_sealed(void **state)
{
	struct wire_reader r;
	enum net_reject why;
	struct net_msg m, out;
	int opened = 0;
	size_t n;

	assert_int_equal(wire_reader_init(&r, NET_SEALED_FRAME_MAX, NET_TYPES_ALL), 0);
	r.open = fake_open;
	r.open_ctx = &opened;
	sample(8, &m);			/* a page */
	n = fake_seal(encode(&m));
	feed(&r, n - 1);
	assert_int_equal(wire_reader_next(&r, &out, &why), 0);	/* tag short */
	assert_int_equal(opened, 0);
	feed(&r, 0);
	memmove(frame, frame + n - 1, 1);
	feed(&r, 1);
	assert_int_equal(wire_reader_next(&r, &out, &why), 1);
	assert_int_equal(opened, 1);
	assert_int_equal(out.type, m.type);
	assert_int_equal(out.u.dsm.gfn, m.u.dsm.gfn);
	assert_int_equal(out.data_len, NET_PAGE_SIZE);
	assert_int_equal(wire_reader_next(&r, &out, &why), 0);	/* all consumed */

	/* Not authentic. */
	n = fake_seal(encode(&m));
	frame[n - 1] = 0;
	feed(&r, n);
	assert_int_equal(wire_reader_next(&r, &out, &why), -EKEYREJECTED);
	assert_int_equal(why, NET_REJ_BAD_SEAL);
	wire_reader_free(&r);

	/* In clear on a sealed reader. */
	assert_int_equal(wire_reader_init(&r, NET_SEALED_FRAME_MAX, NET_TYPES_ALL), 0);
	r.open = fake_open;
	r.open_ctx = &opened;
	feed(&r, encode(&m));
	assert_int_equal(wire_reader_next(&r, &out, &why), -EPROTO);
	assert_int_equal(why, NET_REJ_BAD_FLAGS);
	wire_reader_free(&r);

	/* Sealed on a reader in clear. */
	assert_int_equal(wire_reader_init(&r, NET_SEALED_FRAME_MAX, NET_TYPES_ALL), 0);
	feed(&r, fake_seal(encode(&m)));
	assert_int_equal(wire_reader_next(&r, &out, &why), -EPROTO);
	assert_int_equal(why, NET_REJ_BAD_FLAGS);
	wire_reader_free(&r);
}

static void test_stats(void **state)
{
	static struct net_stats s, snap;

	wire_stats_rx(&s, NET_MSG_DSM, 4168);
	wire_stats_rx(&s, NET_MSG_DSM, 72);
	wire_stats_tx(&s, NET_MSG_CPU, 48);
	wire_stats_reject(&s, NET_REJ_BAD_MAGIC);
	wire_stats_rx(&s, 0xffff, 1);		/* ignored, no overflow */
	wire_stats_reject(&s, NET_REJ_NR);	/* ignored */
	wire_stats_read(&s, &snap);
	assert_int_equal(snap.rx_msgs[NET_MSG_DSM], 2);
	assert_int_equal(snap.rx_bytes[NET_MSG_DSM], 4240);
	assert_int_equal(snap.tx_msgs[NET_MSG_CPU], 1);
	assert_int_equal(snap.tx_bytes[NET_MSG_CPU], 48);
	assert_int_equal(snap.rejects[NET_REJ_BAD_MAGIC], 1);
	for (unsigned i = 0; i < NET_REJ_NR; i++)
		assert_string_not_equal(wire_reject_name(i), "?");
	for (unsigned t = 1; t < NET_MSG_NR; t++)
		assert_string_not_equal(wire_type_name(t), "?");
	assert_string_equal(wire_type_name(0), "?");
}

static void test_faults(void **state)
{
	static struct net_faults f;
	uint32_t d = 0;

	assert_int_equal(wire_fault_apply(&f, NET_MSG_DSM, &d), NET_FAULT_NONE);
	assert_int_equal(wire_fault_set(&f, NET_MSG_DSM, NET_FAULT_DROP, 0, 2), 0);
	assert_int_equal(wire_fault_apply(&f, NET_MSG_CPU, &d), NET_FAULT_NONE);
	assert_int_equal(wire_fault_apply(&f, NET_MSG_DSM, &d), NET_FAULT_DROP);
	assert_int_equal(wire_fault_apply(&f, NET_MSG_DSM, &d), NET_FAULT_DROP);
	assert_int_equal(wire_fault_apply(&f, NET_MSG_DSM, &d), NET_FAULT_NONE);

	assert_int_equal(wire_fault_set(&f, NET_MSG_CPU, NET_FAULT_DELAY, 500, 0), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(wire_fault_apply(&f, NET_MSG_CPU, &d), NET_FAULT_DELAY);
		assert_int_equal(d, 500);
	}
	wire_fault_clear(&f);
	assert_int_equal(wire_fault_apply(&f, NET_MSG_CPU, &d), NET_FAULT_NONE);
	assert_int_equal(wire_fault_set(&f, NET_MSG_NR, NET_FAULT_DROP, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_header_layout),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_reader_any_split),
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_reader_sealed),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_faults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
