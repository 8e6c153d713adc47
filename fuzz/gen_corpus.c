/* Writes the seed corpus for fuzz_wire into a directory: one valid frame of
 * every message shape, a stream of all of them, and a few near misses.
 * Generated, so that no binary blob is committed. With a target's name,
 * that target's seeds (gen_seeds.c; frames for the targets that take
 * frames: fuzz_wire, fuzz_link, fuzz_payload).
 *
 *   fuzz_wire_corpus DIR [TARGET] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_seeds.h"
#include "net/wire.h"

static uint8_t page[NET_PAGE_SIZE];
static uint8_t blob[512];
static struct net_join join;
static struct net_start start;
/* REPORT: the header, two vCPUs, two peers (node/report.h). */
static struct {
	struct net_report h;
	struct net_report_vcpu v[2];
	struct net_report_peer p[2];
} report;
static uint8_t stream[NET_FRAME_MAX];
static size_t stream_len;

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
	return seed_write(dir, name, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	static const char reason[] = "operator asked";
	struct net_msg m;
	const char *dir;
	int err = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s DIR [TARGET]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	if (argc == 3 && (err = gen_seeds(dir, argv[2])) >= 0)
		return err;
	err = 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)i;

#define MSG(t) (memset(&m, 0, sizeof(m)), m.type = (t), &m)
#define CPU(o) (MSG(NET_MSG_CPU)->u.cpu.op = (o), &m)
	MSG(NET_MSG_HELLO)->u.hello.node_id = 1;
	err |= emit(dir, "hello", &m);
	err |= emit(dir, "auth", MSG(NET_MSG_AUTH));
	err |= emit(dir, "auth_ok", MSG(NET_MSG_AUTH_OK));
	MSG(NET_MSG_IDENT)->u.ident.pubkey[0] = 1;
	err |= emit(dir, "ident", &m);
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
	MSG(NET_MSG_DSM)->u.dsm.gfn = 0x100;
	err |= emit(dir, "dsm", &m);
	MSG(NET_MSG_DSM)->u.dsm.op = 2;
	m.data = page;
	m.data_len = NET_PAGE_SIZE;
	err |= emit(dir, "dsm_page", &m);
	/* JOIN and START, with strings, counts and arrays to mutate. */
	join.nr_nodes = 2;
	join.self = 1;
	join.cpus = 2;
	join.memory = 64 << 20;
	join.place[1] = 1;
	strcpy(join.addr[1], "127.0.0.1:7001");
	join.nr_disks = 1;
	strcpy(join.disks[0].path, "/tmp/root.img");
	join.disks[0].node = 1;
	MSG(NET_MSG_JOIN)->data = &join;
	m.data_len = sizeof(join);
	err |= emit(dir, "join", &m);
	start.rip = 0x100000;
	start.nr_nodes = 2;
	start.has_delta = 3;
	start.tsc_delta[1] = -100;
	start.nr_ranges = 1;
	start.ranges[0] = (struct net_range){ 0, 256 };
	strcpy(start.boot_id, "0123-4567");
	MSG(NET_MSG_START)->data = &start;
	m.data_len = sizeof(start);
	err |= emit(dir, "start", &m);
	report.h.version = NET_REPORT_VERSION;
	report.h.nr_vcpus = 2;
	report.h.nr_peers = 2;
	report.h.nr_counters = 3;
	report.h.node = 1;
	report.h.seq = 1;
	report.h.resident_pages = 12;
	report.h.cpus_milli = 2000;
	report.h.counters[0] = 5;
	report.v[0] = (struct net_report_vcpu){ .vcpu = 1, .here = 1, .exits = 9 };
	report.v[1] = (struct net_report_vcpu){ .vcpu = 2, .state = 4 };
	report.p[0] = (struct net_report_peer){ .node = 0, .pages_sent = 3 };
	report.p[1] = (struct net_report_peer){ .node = 2, .pages_received = 4 };
	MSG(NET_MSG_REPORT)->data = &report;
	m.data_len = sizeof(report);
	err |= emit(dir, "report", &m);
	/* One seed per CPU op. */
	CPU(NET_CPU_IRQ)->u.cpu.irq.vector = 0x30;
	m.u.cpu.irq.target_vcpu = -1;
	err |= emit(dir, "cpu_irq", &m);
	CPU(NET_CPU_IO_REQ)->u.cpu.io_req.len = 4;
	m.u.cpu.io_req.space = NET_IO_MMIO;
	m.u.cpu.io_req.is_write = 1;
	err |= emit(dir, "cpu_io_req", &m);
	CPU(NET_CPU_IO_REPLY)->u.cpu.io_reply.len = 1;
	err |= emit(dir, "cpu_io_reply", &m);
	CPU(NET_CPU_STATE)->u.cpu.vcpu.vcpu = 3;
	m.data = blob;
	m.data_len = sizeof(blob);
	err |= emit(dir, "cpu_vcpu_state", &m);
	CPU(NET_CPU_EOI)->u.cpu.eoi.vector = 0x31;
	err |= emit(dir, "cpu_eoi", &m);
	CPU(NET_CPU_MOVED)->u.cpu.moved.vcpu = 2;
	m.u.cpu.moved.moves = 5;
	err |= emit(dir, "cpu_moved", &m);
	CPU(NET_CPU_ROUTE)->u.cpu.route.vcpu = 1;
	m.u.cpu.route.apic_base = 0xfee00800;
	err |= emit(dir, "cpu_route", &m);
	CPU(NET_CPU_LOAD)->u.cpu.load.cpus_milli = 2000;
	err |= emit(dir, "cpu_load", &m);
	CPU(NET_CPU_CONTROL)->u.cpu.control.what = NET_CPU_CTL_MOVE;
	m.u.cpu.control.vcpu = 1;
	m.u.cpu.control.node = 2;
	err |= emit(dir, "cpu_control", &m);
	CPU(NET_CPU_PCI_CFG)->u.cpu.pci_cfg.slot = 1;
	m.u.cpu.pci_cfg.off = 4;
	m.u.cpu.pci_cfg.len = 2;
	m.u.cpu.pci_cfg.data[0] = 6;
	err |= emit(dir, "cpu_pci_cfg", &m);
	CPU(NET_CPU_INTX)->u.cpu.intx.gsi = 17;
	m.u.cpu.intx.level = 1;
	err |= emit(dir, "cpu_intx", &m);
#undef CPU
#undef MSG

	err |= seed_write(dir, "stream", stream, stream_len);
	/* Near misses: a header alone, and a header whose length lies. */
	err |= seed_write(dir, "header_only", stream + 1, NET_HDR_SIZE);
	stream[1 + 8] ^= 0x40;
	err |= seed_write(dir, "bad_length", stream + 1, 80);
	return err ? 1 : 0;
}
