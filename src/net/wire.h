/* The interconnect wire format: what one node may say to another.
 *
 * Every frame is a fixed 24-byte header followed by `length` payload bytes:
 *
 *   off  size  field
 *     0     4  magic    "AMLG" (bytes 41 4d 4c 47)
 *     4     2  version  NET_WIRE_VERSION
 *     6     2  type     enum net_type
 *     8     4  length   payload bytes (the header is not counted)
 *    12     4  flags    0, or NET_FLAG_SEALED on an encrypted link
 *    16     8  seq      per connection and direction, 1, 2, 3, ...
 *
 * The payload of each type is a fixed struct (declared below, layout pinned
 * by static_assert) optionally followed by variable bytes (a guest page, a
 * vCPU state blob, a control reason, the JOIN or START struct). The CPU
 * plane's type carries one of several payloads, named by its op and checked
 * per op as the types are. Everything is little-endian. Amalgam
 * runs on x86-64 only, so the structs below are both the host and the wire
 * representation; a big-endian port would add byte swaps in wire.c alone.
 *
 * Nothing from the wire is trusted before it has been checked: the header
 * (magic, version, flags, known type) first, then the payload length against
 * the per-type table, only then is the payload read, and last the fields
 * whose values have a closed set (booleans, enums, access sizes, a CPU op
 * and its data length, reserved bytes that must be zero). Values
 * whose range is known only to a plane (a vCPU index, a guest frame number)
 * are that plane's to check.
 *
 * The codecs are pure: buffer in, struct out, no allocation, no I/O. The
 * counters and the fault-injection switch live here too but are separate
 * objects owned by whoever uses them (the transport). */
#ifndef AMALGAM_NET_WIRE_H
#define AMALGAM_NET_WIRE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_WIRE_MAGIC		0x474c4d41u	/* "AMLG" read as LE u32 */
/* 2: NET_CTL_MOVED, NET_CTL_LOAD, NET_CTL_ROUTE. 3: JOIN and START typed
 * messages instead of control text; one CPU type (struct net_cpu) instead
 * of IRQ, IO_REQ, IO_REPLY, VCPU_STATE and the CPU plane's control ops.
 * 4: HELLO flags (link mode, cipher) and sealed frames after the
 * handshake (net/seal.h).
 * 5: JOIN carries each node's RAM contribution (node_mem); NET_CTL_OFFER.
 * 6: NET_CPU_CONTROL (the API's move, pause and resume).
 * 7: VCPU_STATE carries the vCPU's waiting for the receiver's pages; JOIN
 * carries the disks (struct net_disk); NET_CPU_PCI_CFG and NET_CPU_INTX
 * for devices hosted by any node.
 * 8: JOIN carries the network cards (struct net_nic).
 * Nodes of different versions refuse each other's first frame. */
#define NET_WIRE_VERSION	8
#define NET_HDR_SIZE		24

/* Header flag: the payload is encrypted and followed by a
 * NET_SEAL_TAG_BYTES authentication tag that `length` does not count
 * (net/seal.h). Every frame after the handshake carries it, unless both
 * nodes run with --insecure-network; no handshake frame ever does. */
#define NET_FLAG_SEALED		1u
#define NET_SEAL_TAG_BYTES	16

#define NET_MAX_NODES		64
#define NET_NONCE_BYTES		32
#define NET_MAC_BYTES		32
#define NET_PAGE_SIZE		4096
#define NET_VCPU_STATE_MAX	65536	/* blob bytes; ~7 KB measured today */
#define NET_CONTROL_DATA_MAX	1024
#define NET_IO_DATA_MAX		8
#define NET_JOIN_NODES		16	/* CLUSTER_MAX_NODES (cluster/params.h) */
#define NET_JOIN_VCPUS		64	/* CLUSTER_MAX_VCPUS */
#define NET_ADDR_MAX		64	/* "host:port", NUL-terminated */
#define NET_JOIN_DISKS		16	/* PCIBUS_MAX_DISKS (vmm/pcibus.h) */
#define NET_DISK_PATH_MAX	200	/* a disk's image path, NUL-terminated */
#define NET_JOIN_NICS		8	/* PCIBUS_MAX_NETS (vmm/pcibus.h) */
#define NET_TAP_NAME_MAX	16	/* IFNAMSIZ, NUL-terminated */
#define NET_START_NODES		NET_JOIN_NODES
#define NET_START_RANGES	64
#define NET_BOOT_ID_MAX		40

enum net_type {
	NET_MSG_INVALID = 0,	/* never valid on the wire */
	NET_MSG_HELLO,		/* handshake: node id + nonce (auth.h) */
	NET_MSG_AUTH,		/* handshake: proof of the cluster key */
	NET_MSG_AUTH_OK,	/* handshake: responder accepted (or duplicate) */
	NET_MSG_PING,
	NET_MSG_PONG,
	NET_MSG_CONTROL,	/* the control conversation: enum net_control_op */
	NET_MSG_JOIN,		/* coordinator -> joiner: struct net_join */
	NET_MSG_START,		/* node 0 -> node: struct net_start */
	NET_MSG_DSM,		/* page protocol; optional page payload */
	NET_MSG_CPU,		/* the CPU plane: struct net_cpu, by op */
	NET_MSG_IDENT,		/* handshake: a node key's signature (auth.h) */
	NET_MSG_REPORT,		/* node -> node 0: struct net_report (for the API) */
	NET_MSG_NR
};

/* Bit mask of types, for wire_reader.allowed. */
#define NET_TYPE_BIT(t)		(1u << (t))
#define NET_TYPES_HANDSHAKE	(NET_TYPE_BIT(NET_MSG_HELLO) | \
				 NET_TYPE_BIT(NET_MSG_AUTH) | \
				 NET_TYPE_BIT(NET_MSG_AUTH_OK) | \
				 NET_TYPE_BIT(NET_MSG_IDENT))
#define NET_TYPES_ALL		(((1u << NET_MSG_NR) - 1) & \
				 ~NET_TYPE_BIT(NET_MSG_INVALID))
#define NET_TYPES_SESSION	(NET_TYPES_ALL & ~NET_TYPES_HANDSHAKE)

/* Why a frame was refused. Counted per reason; names via wire_reject_name(). */
enum net_reject {
	NET_REJ_TRUNCATED,	/* fewer bytes than the header says */
	NET_REJ_TRAILING,	/* more bytes than the header says */
	NET_REJ_BAD_MAGIC,
	NET_REJ_BAD_VERSION,
	NET_REJ_BAD_FLAGS,
	NET_REJ_UNKNOWN_TYPE,
	NET_REJ_BAD_LENGTH,	/* payload length not allowed for the type */
	NET_REJ_BAD_FIELD,	/* a field outside its closed set */
	NET_REJ_UNEXPECTED,	/* valid type, not allowed in this state */
	NET_REJ_BAD_SEQ,	/* sequence number skipped or repeated */
	NET_REJ_AUTH,		/* handshake refused */
	NET_REJ_BAD_SEAL,	/* a sealed frame that is not authentic */
	NET_REJ_NR
};

struct net_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t length;
	uint32_t flags;
	uint64_t seq;
};

/* HELLO flags: what the sender wants of the link; both are covered by the
 * handshake's proofs (auth.h), so nobody on the path can change them. */
#define NET_HELLO_INSECURE	1u	/* --insecure-network: no sealing */
#define NET_HELLO_AES		2u	/* can seal with AES-256-GCM */
#define NET_HELLO_IDENT		4u	/* --trust: node keys prove who is who */
#define NET_HELLO_FLAGS		(NET_HELLO_INSECURE | NET_HELLO_AES | NET_HELLO_IDENT)

struct net_hello {
	uint32_t node_id;
	uint32_t flags;			/* NET_HELLO_*; other bits zero */
	uint8_t nonce[NET_NONCE_BYTES];
};

struct net_auth {
	uint8_t mac[NET_MAC_BYTES];
};

#define NET_PUBKEY_BYTES	32	/* Ed25519 public key */
#define NET_SIG_BYTES		64	/* Ed25519 signature */

/* The sender's node key and its signature over the handshake (auth.h). */
struct net_ident {
	uint8_t pubkey[NET_PUBKEY_BYTES];
	uint8_t sig[NET_SIG_BYTES];
};

enum net_auth_status {
	NET_AUTH_ACCEPTED = 0,
	/* Authenticated, but a connection to this peer already exists and
	 * wins the tie-break (transport.h); the initiator closes this one. */
	NET_AUTH_DUPLICATE = 1,
};

struct net_auth_ok {
	uint32_t status;		/* enum net_auth_status */
	uint32_t reserved;		/* zero */
};

/* PING is answered by the transport itself with a PONG echoing it. */
struct net_ping {
	uint64_t token;
	uint64_t time_ns;		/* sender's CLOCK_MONOTONIC, echoed */
};

enum net_control_op {
	NET_CTL_STOP = 1,		/* pause the guest; data: reason text */
	NET_CTL_RESUME = 2,
	NET_CTL_SHUTDOWN = 3,		/* node leaves; data: reason text */
	NET_CTL_STATS_REQ = 4,
	NET_CTL_STATS = 5,		/* data: array of u64 counters */
	NET_CTL_READY = 6,		/* node -> coordinator: arg = stage (VM
					 * built, started, JOIN taken); code =
					 * its echo server's port at stage 0 */
	NET_CTL_OFFER = 7,		/* joiner -> coordinator, before JOIN: code
					 * 1 and arg = the bytes of RAM it
					 * contributes (node --memory), code 0:
					 * none given, the coordinator decides */
	NET_CTL_NR
};

/* Variable data: up to NET_CONTROL_DATA_MAX bytes. Reason text is UTF-8,
 * not NUL-terminated and never contains a NUL (print with "%.*s"). */
struct net_control {
	uint16_t op;			/* enum net_control_op */
	uint16_t flags;
	int32_t code;			/* exit status or -errno behind a stop */
	uint64_t arg;
};

/* JOIN and START are sent once per node and run, and are over a KB each:
 * they travel as the message's data (exactly this struct, checked in full
 * by wire_decode) rather than in struct net_msg's union, so that the
 * messages of the hot paths stay small. Read them with memcpy: the data
 * may sit at any alignment in the receive buffer.
 *
 * JOIN (struct cluster_params, cluster/params.h): what a joining node
 * must agree on before its VM exists. The wire checks the closed sets
 * (flags, the NUL in every address, zeroed spares); the cluster checks
 * the ranges (params_check). */
/* A disk in JOIN: every node builds the same PCI slots in this order;
 * the node named opens the image (a path on its host). */
struct net_disk {
	char path[NET_DISK_PATH_MAX];	/* NUL-terminated, zero after */
	uint8_t node;			/* < nr_nodes */
	uint8_t readonly;		/* 0 / 1 */
	uint8_t queues;			/* 0 (one per vCPU) .. 8 */
	uint8_t reserved[5];		/* zero */
	uint64_t fail_from;		/* fault injection (tests); 0: none */
};

/* A virtio-net card in JOIN: every node builds the same slots; node
 * `node` opens the tap, a name on its own host. */
struct net_nic {
	char tap[NET_TAP_NAME_MAX];	/* NUL-terminated, zero-padded */
	uint8_t mac[6];			/* unicast; all zero: the default */
	uint8_t node;			/* < nr_nodes */
	uint8_t reserved;		/* zero */
};

struct net_join {
	uint32_t nr_nodes;
	uint32_t self;			/* the joiner's id from now on */
	uint32_t cpus;
	uint32_t net_delay_us;
	uint64_t memory;		/* bytes */
	uint8_t start_all;		/* 0 / 1 */
	uint8_t migrate;		/* enum cluster_migrate */
	uint8_t reserved[2];		/* zero */
	uint32_t peer_timeout_ms;	/* a silent peer is lost after this */
	uint8_t place[NET_JOIN_VCPUS];	/* vCPU -> node; zero past cpus */
	char addr[NET_JOIN_NODES][NET_ADDR_MAX];	/* [0] unused */
	uint64_t node_mem[NET_JOIN_NODES];	/* bytes each node contributes
						 * (its home range); they sum to
						 * memory, zero past nr_nodes */
	uint32_t nr_disks;		/* 0..NET_JOIN_DISKS */
	uint32_t reserved2;		/* zero */
	struct net_disk disks[NET_JOIN_DISKS];	/* zero past nr_disks */
	uint32_t nr_nics;		/* 0..NET_JOIN_NICS */
	uint32_t reserved3;		/* zero */
	struct net_nic nics[NET_JOIN_NICS];	/* zero past nr_nics */
};

struct net_range {
	uint64_t first;			/* guest frame number */
	uint64_t count;			/* pages */
};

/* START (node/start.h): node 0's boot state, once the guest is loaded:
 * the BSP's entry registers, one TSC and kvmclock for every vCPU with
 * how far each host's TSC is from node 0's, and the page ranges the
 * loader wrote. Entries past nr_nodes and nr_ranges are zero. */
struct net_start {
	uint64_t rip, rsi, cr3, gdt_base;
	uint16_t gdt_limit;
	/* 0: long mode, RSI = rsi, CR3 = cr3. 1: 32-bit protected mode,
	 * paging off (multiboot, PVH): EBX = rsi, EAX = cr3 (both < 2^32). */
	uint16_t entry_mode;
	uint32_t clock_flags;		/* KVM_CLOCK_* of node 0's sample */
	int64_t tsc_offset;
	uint64_t kvmclock;
	uint64_t realtime_ns;
	uint64_t host_tsc;
	uint64_t tsc_khz;
	char boot_id[NET_BOOT_ID_MAX];	/* node 0's host, NUL-terminated */
	uint32_t nr_nodes;		/* 1..NET_START_NODES */
	uint32_t nr_ranges;		/* 0..NET_START_RANGES */
	uint64_t has_delta;		/* bit i: tsc_delta[i] is known */
	int64_t tsc_delta[NET_START_NODES];	/* node i's host TSC - node 0's */
	struct net_range ranges[NET_START_RANGES];
};

/* The page protocol's one message shape; `op` and the meaning of the
 * fields belong to src/dsm/. Variable data: none, or exactly one page. */
struct net_dsm {
	uint16_t op;
	uint16_t flags;
	uint32_t src;			/* node that started the transaction */
	uint64_t gfn;			/* guest frame number */
	uint64_t version;
	uint64_t req_id;
	uint32_t node;			/* op-defined: owner, forward target */
	uint32_t count;			/* op-defined: acks expected, ... */
	uint64_t arg;
};

/* Mirrors struct apic_msg (irq/apic_msg.h) field for field, plus routing. */
struct net_irq {
	uint32_t dest;
	int32_t source;			/* sending vCPU, -1 for IOAPIC/MSI */
	uint8_t vector;
	uint8_t delivery;		/* 0,1,2,4,5,6,7: APIC delivery mode */
	uint8_t dest_logical;		/* 0 / 1 */
	uint8_t shorthand;		/* 0..3 */
	uint8_t level;			/* 0 / 1 */
	uint8_t trigger_level;		/* 0 / 1 */
	uint8_t x2apic;			/* 0 / 1 */
	uint8_t hops;			/* times forwarded after a migration */
	int32_t target_vcpu;		/* resolved target, -1: receiver resolves */
	uint32_t reserved;		/* zero */
	uint64_t mask;			/* target -1: the vCPUs the sender thinks
					 * run on the receiver (bit i: vCPU i) */
};

enum net_io_space { NET_IO_PIO = 0, NET_IO_MMIO = 1 };

struct net_io_req {
	uint64_t tag;			/* echoed in the reply */
	uint64_t addr;
	uint32_t vcpu;
	uint8_t space;			/* enum net_io_space */
	uint8_t len;			/* 1..8 */
	uint8_t is_write;		/* 0 / 1 */
	uint8_t reserved;		/* zero */
	uint8_t data[NET_IO_DATA_MAX];	/* write data; zero for reads */
};

struct net_io_reply {
	uint64_t tag;
	int32_t status;			/* 0 or -errno (-4095..0) */
	uint32_t vcpu;
	uint8_t len;			/* 1..8 */
	uint8_t reserved[7];		/* zero */
	uint8_t data[NET_IO_DATA_MAX];	/* read data */
};

/* Variable data: the state blob, 1..NET_VCPU_STATE_MAX bytes, whose
 * format (src/x86/) is named by `format`. */
struct net_vcpu_state {
	uint32_t vcpu;
	uint32_t moves;			/* the vCPU's move count after this one */
	uint32_t format;
	/* The share of its recent time it waited on the sender for the
	 * receiver's pages, x1000 (0..1000): what the cost model remembers
	 * (cpu/affinity.h, "One weighing"). */
	uint32_t waited_milli;
};

/* NET_CPU_EOI: a level-triggered vector's EOI, to the devices' node. */
struct net_eoi {
	uint8_t vector;
	uint8_t reserved[7];		/* zero */
};

/* NET_CPU_MOVED: vCPU `vcpu` runs on the sender now, after its move
 * number `moves` (a newer notice wins). */
struct net_moved {
	uint32_t vcpu;
	uint32_t moves;
};

/* NET_CPU_LOAD (cpu/affinity.h): sent ten times a second. */
struct net_load {
	uint64_t pool;			/* nodes with one pool share CPUs */
	uint32_t cpus_milli;		/* CPUs the pool has, x1000 */
	uint32_t load_milli;		/* CPUs the sender's vCPUs want, x1000 */
	/* Never-written pages of the sender's range its vCPUs took over the
	 * last window (decayed): they are placing new data there. */
	uint32_t fresh;
	uint32_t reserved;		/* zero */
};

/* NET_CPU_CONTROL: what node 0's API asks of the node that runs vCPUs:
 * move vCPU `vcpu` to node `node` (sent to the node it runs on, which
 * sends it on if the vCPU has left), or pause / resume every vCPU there
 * (vcpu and node zero). */
enum net_cpu_control_what {
	NET_CPU_CTL_MOVE = 1,
	NET_CPU_CTL_PAUSE = 2,
	NET_CPU_CTL_RESUME = 3,
};

struct net_cpu_control {
	uint32_t what;			/* enum net_cpu_control_what */
	uint32_t vcpu;
	uint32_t node;
	uint32_t hops;			/* times sent on after a vCPU that left */
};

/* NET_CPU_ROUTE (irq/lapic.h, struct lapic_route): every node keeps every
 * vCPU's, so that a lowest-priority message finds exactly one target
 * whichever nodes its candidates run on. (moves, seq) orders them: moves
 * as in NET_CPU_MOVED, seq counts changes since the last move. */
struct net_route {
	uint32_t vcpu;
	uint32_t moves;
	uint32_t seq;
	uint32_t id, ldr, dfr, svr;
	uint32_t reserved;		/* zero */
	uint64_t apic_base;
};

/* REPORT (node/report.h): what a node tells node 0 ten times a second so
 * that node 0's API shows the whole cluster: its vCPUs' states, exits and
 * page waits, its resident pages, its fault latency, its pages to and from
 * each peer, and a fixed, versioned table of its counters. The payload is
 * the message's data: struct net_report, then nr_vcpus struct
 * net_report_vcpu, then nr_peers struct net_report_peer, nothing else.
 * The wire checks only that the length is within bounds: a report is
 * advisory, so node 0 checks everything else itself (report_from_wire)
 * and counts and drops a bad one rather than losing the link over it.
 * A change of any of these structs or of the counter table is a new
 * NET_REPORT_VERSION, which node 0 refuses (counted) if it is not its own. */
#define NET_REPORT_VERSION	1
#define NET_REPORT_COUNTERS	32	/* slots; report.c names the used ones */
#define NET_REPORT_VCPUS	NET_JOIN_VCPUS
#define NET_REPORT_NODES	NET_JOIN_NODES
#define NET_REPORT_LOAD		1u	/* load_milli was measured */

struct net_report {
	uint16_t version;		/* NET_REPORT_VERSION */
	uint8_t nr_vcpus;		/* entries that follow: 0..NET_REPORT_VCPUS */
	uint8_t nr_peers;		/* entries after them: 0..NET_REPORT_NODES - 1 */
	uint8_t nr_counters;		/* counters[] used: 0..NET_REPORT_COUNTERS */
	uint8_t flags;			/* NET_REPORT_LOAD */
	uint8_t reserved[2];		/* zero */
	uint32_t node;			/* the sender, as the link says */
	uint32_t cpus_milli;		/* CPUs it offers, x1000 (as in LOAD) */
	uint32_t load_milli;		/* CPUs its vCPUs want, x1000, if flagged */
	uint32_t reserved2;		/* zero */
	uint64_t seq;			/* 1, 2, 3, ... per sender and run */
	uint64_t resident_pages;	/* pages its memfd holds now */
	uint64_t fault_count;		/* faults resolved so far */
	uint64_t fault_wait_ns;		/* their time from fault to page, summed */
	uint64_t counters[NET_REPORT_COUNTERS];	/* zero past nr_counters */
};

/* A vCPU that runs on the sender, or ran there before. */
struct net_report_vcpu {
	uint8_t vcpu;			/* strictly increasing in a report */
	uint8_t state;			/* enum vcpu_state on the sender */
	uint8_t here;			/* 0 / 1: it runs on the sender now */
	uint8_t reserved[5];		/* zero */
	uint64_t exits;			/* KVM exits on the sender */
	uint64_t page_wait_ns;		/* time it waited for pages there */
};

/* The sender's page traffic with one other node. */
struct net_report_peer {
	uint8_t node;			/* strictly increasing, never the sender */
	uint8_t reserved[7];		/* zero */
	uint64_t pages_sent;		/* pages of contents it sent that node */
	uint64_t pages_received;	/* and received from it */
};

#define NET_REPORT_MAX	(sizeof(struct net_report) + \
			 NET_REPORT_VCPUS * sizeof(struct net_report_vcpu) + \
			 (NET_REPORT_NODES - 1) * sizeof(struct net_report_peer))

/* NET_CPU_PCI_CFG: node 0, where the guest reaches config space, tells
 * every other node the bytes a config write left in a function's image,
 * in the order it applied them, so that every node decodes the BARs alike
 * and a device's host sees its MSI-X control (vmm/pcibus.h). */
struct net_pci_cfg {
	uint8_t slot;			/* 1..31 */
	uint8_t len;			/* 1..4, inside one dword */
	uint16_t off;			/* < 4096 */
	uint8_t data[4];		/* zero past len */
};

/* NET_CPU_INTX: a device's INTx level, from the node that hosts it to the
 * IOAPIC's (node 0). */
struct net_intx {
	uint32_t gsi;			/* < 24 */
	uint8_t level;			/* 0 / 1 */
	uint8_t reserved[3];		/* zero */
};

/* What one node tells another about vCPUs, their interrupts and their
 * device accesses (src/cpu/, the cost model's LOAD included): one type, so
 * that the cluster hands it to the CPU plane in one piece and the plane
 * dispatches on `op` once. The payload of op is the union member named
 * below; the union's bytes past it are zero. Only NET_CPU_STATE has
 * variable data. */
enum net_cpu_op {
	NET_CPU_IRQ = 1,		/* irq: one APIC message */
	NET_CPU_IO_REQ = 2,		/* io_req: a forwarded port / MMIO access */
	NET_CPU_IO_REPLY = 3,		/* io_reply */
	NET_CPU_STATE = 4,		/* vcpu: a moving vCPU's state blob */
	NET_CPU_EOI = 5,		/* eoi */
	NET_CPU_MOVED = 6,		/* moved */
	NET_CPU_ROUTE = 7,		/* route */
	NET_CPU_LOAD = 8,		/* load */
	NET_CPU_CONTROL = 9,		/* control: the API's move, pause, resume */
	NET_CPU_PCI_CFG = 10,		/* pci_cfg: a config write, from node 0 */
	NET_CPU_INTX = 11,		/* intx: a device's INTx level, to node 0 */
	NET_CPU_NR
};

struct net_cpu {
	uint16_t op;			/* enum net_cpu_op */
	uint16_t reserved0;		/* zero */
	uint32_t reserved1;		/* zero */
	union {
		struct net_irq irq;
		struct net_io_req io_req;
		struct net_io_reply io_reply;
		struct net_vcpu_state vcpu;
		struct net_eoi eoi;
		struct net_moved moved;
		struct net_route route;
		struct net_load load;
		struct net_cpu_control control;
		struct net_pci_cfg pci_cfg;
		struct net_intx intx;
	};
};

/* The largest fixed part: IDENT's (a key and a signature). */
#define NET_FIXED_MAX		sizeof(struct net_ident)
#define NET_MAX_PAYLOAD		(sizeof(struct net_cpu) + NET_VCPU_STATE_MAX)
#define NET_FRAME_MAX		(NET_HDR_SIZE + NET_MAX_PAYLOAD)
#define NET_SEALED_FRAME_MAX	(NET_FRAME_MAX + NET_SEAL_TAG_BYTES)

/* A decoded (or to-be-encoded) message. */
struct net_msg {
	uint16_t type;			/* enum net_type */
	uint64_t seq;			/* filled by decode; the transport sets it on send */
	union {
		struct net_hello hello;
		struct net_auth auth;
		struct net_auth_ok auth_ok;
		struct net_ident ident;
		struct net_ping ping;	/* PING and PONG */
		struct net_control control;
		struct net_dsm dsm;
		struct net_cpu cpu;
	} u;
	/* Variable part. After decode it points into the decoded buffer and
	 * lives as long as that buffer; NULL when data_len is 0. */
	const void *data;
	uint32_t data_len;
};

/* --- layout pins --------------------------------------------------------- */

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "wire structs double as host structs only on little-endian hosts");
static_assert(NET_MSG_NR <= 32, "type masks are 32 bits");

#define NET_PIN(s, f, off) \
	static_assert(offsetof(struct s, f) == (off), #s "." #f " moved")

static_assert(sizeof(struct net_hdr) == NET_HDR_SIZE, "net_hdr size");
NET_PIN(net_hdr, magic, 0);
NET_PIN(net_hdr, version, 4);
NET_PIN(net_hdr, type, 6);
NET_PIN(net_hdr, length, 8);
NET_PIN(net_hdr, flags, 12);
NET_PIN(net_hdr, seq, 16);

static_assert(sizeof(struct net_hello) == 40, "net_hello size");
NET_PIN(net_hello, node_id, 0);
NET_PIN(net_hello, flags, 4);
NET_PIN(net_hello, nonce, 8);

static_assert(sizeof(struct net_auth) == 32, "net_auth size");
NET_PIN(net_auth, mac, 0);

static_assert(sizeof(struct net_ident) == 96, "net_ident size");
NET_PIN(net_ident, pubkey, 0);
NET_PIN(net_ident, sig, 32);

static_assert(sizeof(struct net_auth_ok) == 8, "net_auth_ok size");
NET_PIN(net_auth_ok, status, 0);
NET_PIN(net_auth_ok, reserved, 4);

static_assert(sizeof(struct net_ping) == 16, "net_ping size");
NET_PIN(net_ping, token, 0);
NET_PIN(net_ping, time_ns, 8);

static_assert(sizeof(struct net_control) == 16, "net_control size");
NET_PIN(net_control, op, 0);
NET_PIN(net_control, flags, 2);
NET_PIN(net_control, code, 4);
NET_PIN(net_control, arg, 8);

static_assert(sizeof(struct net_disk) == NET_DISK_PATH_MAX + 16, "net_disk size");
NET_PIN(net_disk, node, NET_DISK_PATH_MAX);
NET_PIN(net_disk, fail_from, NET_DISK_PATH_MAX + 8);
static_assert(sizeof(struct net_nic) == NET_TAP_NAME_MAX + 8, "net_nic size");
NET_PIN(net_nic, mac, NET_TAP_NAME_MAX);
NET_PIN(net_nic, node, NET_TAP_NAME_MAX + 6);
static_assert(sizeof(struct net_join) == 96 + NET_JOIN_NODES * (NET_ADDR_MAX + 8) + 8 +
	      NET_JOIN_DISKS * sizeof(struct net_disk) + 8 +
	      NET_JOIN_NICS * sizeof(struct net_nic), "net_join size");
NET_PIN(net_join, nr_nics, 96 + NET_JOIN_NODES * (NET_ADDR_MAX + 8) + 8 +
	NET_JOIN_DISKS * sizeof(struct net_disk));
NET_PIN(net_join, nr_disks, 96 + NET_JOIN_NODES * (NET_ADDR_MAX + 8));
NET_PIN(net_join, disks, 96 + NET_JOIN_NODES * (NET_ADDR_MAX + 8) + 8);
NET_PIN(net_join, nr_nodes, 0);
NET_PIN(net_join, self, 4);
NET_PIN(net_join, cpus, 8);
NET_PIN(net_join, net_delay_us, 12);
NET_PIN(net_join, memory, 16);
NET_PIN(net_join, start_all, 24);
NET_PIN(net_join, migrate, 25);
NET_PIN(net_join, reserved, 26);
NET_PIN(net_join, peer_timeout_ms, 28);
NET_PIN(net_join, place, 32);
NET_PIN(net_join, addr, 96);
NET_PIN(net_join, node_mem, 96 + NET_JOIN_NODES * NET_ADDR_MAX);

static_assert(sizeof(struct net_range) == 16, "net_range size");
NET_PIN(net_range, first, 0);
NET_PIN(net_range, count, 8);

static_assert(sizeof(struct net_start) == 264 + NET_START_RANGES * 16,
	      "net_start size");
NET_PIN(net_start, rip, 0);
NET_PIN(net_start, rsi, 8);
NET_PIN(net_start, cr3, 16);
NET_PIN(net_start, gdt_base, 24);
NET_PIN(net_start, gdt_limit, 32);
NET_PIN(net_start, entry_mode, 34);
NET_PIN(net_start, clock_flags, 36);
NET_PIN(net_start, tsc_offset, 40);
NET_PIN(net_start, kvmclock, 48);
NET_PIN(net_start, realtime_ns, 56);
NET_PIN(net_start, host_tsc, 64);
NET_PIN(net_start, tsc_khz, 72);
NET_PIN(net_start, boot_id, 80);
NET_PIN(net_start, nr_nodes, 120);
NET_PIN(net_start, nr_ranges, 124);
NET_PIN(net_start, has_delta, 128);
NET_PIN(net_start, tsc_delta, 136);
NET_PIN(net_start, ranges, 264);
static_assert(NET_START_NODES <= 64, "has_delta is 64 bits");

static_assert(sizeof(struct net_load) == 24, "net_load size");
NET_PIN(net_load, pool, 0);
NET_PIN(net_load, cpus_milli, 8);
NET_PIN(net_load, load_milli, 12);
NET_PIN(net_load, fresh, 16);
NET_PIN(net_load, reserved, 20);

static_assert(sizeof(struct net_report) == 56 + NET_REPORT_COUNTERS * 8,
	      "net_report size");
NET_PIN(net_report, version, 0);
NET_PIN(net_report, nr_vcpus, 2);
NET_PIN(net_report, nr_peers, 3);
NET_PIN(net_report, nr_counters, 4);
NET_PIN(net_report, flags, 5);
NET_PIN(net_report, reserved, 6);
NET_PIN(net_report, node, 8);
NET_PIN(net_report, cpus_milli, 12);
NET_PIN(net_report, load_milli, 16);
NET_PIN(net_report, reserved2, 20);
NET_PIN(net_report, seq, 24);
NET_PIN(net_report, resident_pages, 32);
NET_PIN(net_report, fault_count, 40);
NET_PIN(net_report, fault_wait_ns, 48);
NET_PIN(net_report, counters, 56);
static_assert(sizeof(struct net_report_vcpu) == 24, "net_report_vcpu size");
NET_PIN(net_report_vcpu, vcpu, 0);
NET_PIN(net_report_vcpu, state, 1);
NET_PIN(net_report_vcpu, here, 2);
NET_PIN(net_report_vcpu, reserved, 3);
NET_PIN(net_report_vcpu, exits, 8);
NET_PIN(net_report_vcpu, page_wait_ns, 16);
static_assert(sizeof(struct net_report_peer) == 24, "net_report_peer size");
NET_PIN(net_report_peer, node, 0);
NET_PIN(net_report_peer, reserved, 1);
NET_PIN(net_report_peer, pages_sent, 8);
NET_PIN(net_report_peer, pages_received, 16);
static_assert(NET_REPORT_VCPUS <= 255 && NET_REPORT_NODES <= 255 &&
	      NET_REPORT_COUNTERS <= 255, "report counts are bytes");

static_assert(sizeof(struct net_cpu_control) == 16, "net_cpu_control size");
NET_PIN(net_cpu_control, what, 0);
NET_PIN(net_cpu_control, vcpu, 4);
NET_PIN(net_cpu_control, node, 8);
NET_PIN(net_cpu_control, hops, 12);
static_assert(sizeof(struct net_pci_cfg) == 8, "net_pci_cfg size");
NET_PIN(net_pci_cfg, slot, 0);
NET_PIN(net_pci_cfg, len, 1);
NET_PIN(net_pci_cfg, off, 2);
NET_PIN(net_pci_cfg, data, 4);
static_assert(sizeof(struct net_intx) == 8, "net_intx size");
NET_PIN(net_intx, gsi, 0);
NET_PIN(net_intx, level, 4);

static_assert(sizeof(struct net_route) == 40, "net_route size");
NET_PIN(net_route, vcpu, 0);
NET_PIN(net_route, moves, 4);
NET_PIN(net_route, seq, 8);
NET_PIN(net_route, id, 12);
NET_PIN(net_route, ldr, 16);
NET_PIN(net_route, dfr, 20);
NET_PIN(net_route, svr, 24);
NET_PIN(net_route, reserved, 28);
NET_PIN(net_route, apic_base, 32);

static_assert(sizeof(struct net_dsm) == 48, "net_dsm size");
NET_PIN(net_dsm, op, 0);
NET_PIN(net_dsm, flags, 2);
NET_PIN(net_dsm, src, 4);
NET_PIN(net_dsm, gfn, 8);
NET_PIN(net_dsm, version, 16);
NET_PIN(net_dsm, req_id, 24);
NET_PIN(net_dsm, node, 32);
NET_PIN(net_dsm, count, 36);
NET_PIN(net_dsm, arg, 40);

static_assert(sizeof(struct net_irq) == 32, "net_irq size");
NET_PIN(net_irq, dest, 0);
NET_PIN(net_irq, source, 4);
NET_PIN(net_irq, vector, 8);
NET_PIN(net_irq, delivery, 9);
NET_PIN(net_irq, dest_logical, 10);
NET_PIN(net_irq, shorthand, 11);
NET_PIN(net_irq, level, 12);
NET_PIN(net_irq, trigger_level, 13);
NET_PIN(net_irq, x2apic, 14);
NET_PIN(net_irq, hops, 15);
NET_PIN(net_irq, target_vcpu, 16);
NET_PIN(net_irq, reserved, 20);
NET_PIN(net_irq, mask, 24);

static_assert(sizeof(struct net_io_req) == 32, "net_io_req size");
NET_PIN(net_io_req, tag, 0);
NET_PIN(net_io_req, addr, 8);
NET_PIN(net_io_req, vcpu, 16);
NET_PIN(net_io_req, space, 20);
NET_PIN(net_io_req, len, 21);
NET_PIN(net_io_req, is_write, 22);
NET_PIN(net_io_req, reserved, 23);
NET_PIN(net_io_req, data, 24);

static_assert(sizeof(struct net_io_reply) == 32, "net_io_reply size");
NET_PIN(net_io_reply, tag, 0);
NET_PIN(net_io_reply, status, 8);
NET_PIN(net_io_reply, vcpu, 12);
NET_PIN(net_io_reply, len, 16);
NET_PIN(net_io_reply, reserved, 17);
NET_PIN(net_io_reply, data, 24);

static_assert(sizeof(struct net_vcpu_state) == 16, "net_vcpu_state size");
NET_PIN(net_vcpu_state, vcpu, 0);
NET_PIN(net_vcpu_state, moves, 4);
NET_PIN(net_vcpu_state, format, 8);
NET_PIN(net_vcpu_state, waited_milli, 12);

static_assert(sizeof(struct net_eoi) == 8, "net_eoi size");
NET_PIN(net_eoi, vector, 0);
NET_PIN(net_eoi, reserved, 1);

static_assert(sizeof(struct net_moved) == 8, "net_moved size");
NET_PIN(net_moved, vcpu, 0);
NET_PIN(net_moved, moves, 4);

static_assert(sizeof(struct net_cpu) == 48, "net_cpu size");
NET_PIN(net_cpu, op, 0);
NET_PIN(net_cpu, reserved0, 2);
NET_PIN(net_cpu, reserved1, 4);
NET_PIN(net_cpu, irq, 8);
NET_PIN(net_cpu, io_req, 8);
NET_PIN(net_cpu, io_reply, 8);
NET_PIN(net_cpu, vcpu, 8);
NET_PIN(net_cpu, eoi, 8);
NET_PIN(net_cpu, moved, 8);
NET_PIN(net_cpu, route, 8);
NET_PIN(net_cpu, load, 8);
static_assert(sizeof(struct net_cpu) <= NET_FIXED_MAX, "NET_FIXED_MAX too small");

/* --- codecs -------------------------------------------------------------- */

const char *wire_type_name(unsigned type);	/* "?" if unknown */
const char *wire_cpu_op_name(unsigned op);	/* "?" if unknown */
const char *wire_reject_name(enum net_reject why);
/* Are the n bytes at p all zero? (Reserved fields, spare array slots.) */
bool wire_zero(const void *p, size_t n);

/* Bytes msg will occupy on the wire, header included; 0 if its type is
 * unknown. */
size_t wire_frame_size(const struct net_msg *msg);

/* Write the header and the fixed part of msg (not msg->data, which follows
 * them on the wire: the transport sends it from where it lies). The length
 * field covers msg->data_len. Returns the bytes written, -EINVAL if msg is
 * not something a receiver would accept, -ENOSPC if cap is too small. */
ssize_t wire_encode_head(const struct net_msg *msg, void *buf, size_t cap);

/* Write the whole frame. Same returns. */
ssize_t wire_encode(const struct net_msg *msg, void *buf, size_t cap);

/* Check a header (NET_FLAG_SEALED allowed: a reader's first look). 0;
 * -EAGAIN if len < NET_HDR_SIZE; -EPROTO for a bad magic, version, flags
 * or an unknown type; -EMSGSIZE if the length is not allowed for the
 * type. *why (if non-NULL) is set on failure. */
int wire_decode_hdr(const void *buf, size_t len, struct net_hdr *hdr,
		    enum net_reject *why);

/* Decode exactly one frame in clear (flags zero: a sealed frame must be
 * opened, and its flag cleared, first) occupying exactly len bytes. 0;
 * the header errors above (a short buffer is -EBADMSG here, not -EAGAIN);
 * -EBADMSG for trailing bytes or a field outside its set. msg->data
 * points into buf. */
int wire_decode(const void *buf, size_t len, struct net_msg *msg,
		enum net_reject *why);

/* --- stream framing -------------------------------------------------------
 * Turns a byte stream (any split of reads) into frames. Headers are checked
 * as soon as they are complete, so a bad length is refused before its
 * payload is waited for. Any error means framing is lost: drop the stream. */
struct wire_reader {
	uint8_t *buf;
	size_t cap;
	size_t start;		/* first unconsumed byte */
	size_t end;		/* one past the last received byte */
	uint32_t allowed;	/* NET_TYPE_BIT mask; others: NET_REJ_UNEXPECTED */
	/* NULL: every frame must be in clear. Else every frame must be
	 * sealed (NET_FLAG_SEALED, then its tag), and is opened in place by
	 * open(open_ctx, frame, payload bytes) before it is decoded: 0, or
	 * non-zero for a frame that is not authentic (NET_REJ_BAD_SEAL,
	 * -EKEYREJECTED). A frame of the wrong kind is NET_REJ_BAD_FLAGS. */
	int (*open)(void *ctx, uint8_t *frame, size_t payload);
	void *open_ctx;
};

/* cap must be at least NET_HDR_SIZE; frames larger than cap are refused
 * as NET_REJ_BAD_LENGTH. 0 or -ENOMEM. */
int wire_reader_init(struct wire_reader *r, size_t cap, uint32_t allowed);
int wire_reader_grow(struct wire_reader *r, size_t cap);
void wire_reader_free(struct wire_reader *r);
/* Where the next received bytes go; *len > 0 always. */
void *wire_reader_space(struct wire_reader *r, size_t *len);
void wire_reader_commit(struct wire_reader *r, size_t n);
/* 1 and a frame in *msg (its data valid until the next reader call), 0 if
 * more bytes are needed, or a negative errno from wire_decode*() with *why
 * set (NET_REJ_UNEXPECTED comes with -EPROTO, NET_REJ_BAD_SEAL with
 * -EKEYREJECTED). */
int wire_reader_next(struct wire_reader *r, struct net_msg *msg,
		     enum net_reject *why);

/* --- counters -------------------------------------------------------------
 * Updated with relaxed atomics from any thread; read with wire_stats_read. */
struct net_stats {
	uint64_t rx_msgs[NET_MSG_NR];
	uint64_t rx_bytes[NET_MSG_NR];
	uint64_t tx_msgs[NET_MSG_NR];
	uint64_t tx_bytes[NET_MSG_NR];
	uint64_t rejects[NET_REJ_NR];
	uint64_t fault_drops;
	uint64_t fault_delays;
};

void wire_stats_rx(struct net_stats *s, unsigned type, size_t bytes);
void wire_stats_tx(struct net_stats *s, unsigned type, size_t bytes);
void wire_stats_reject(struct net_stats *s, enum net_reject why);
void wire_stats_read(const struct net_stats *s, struct net_stats *out);

/* --- fault injection ------------------------------------------------------
 * For tests: make the sender drop or delay messages of one type. The check
 * is one relaxed load per message when nothing is armed. */
enum net_fault {
	NET_FAULT_NONE = 0,
	NET_FAULT_DROP,		/* not sent; the sender is told it was */
	NET_FAULT_DELAY,	/* sent after delay_us */
};

struct net_faults {
	struct {
		int action;		/* enum net_fault */
		uint32_t delay_us;
		int64_t remaining;	/* messages still affected; <0: all */
	} type[NET_MSG_NR];
};

/* Affect the next `count` messages of `type` (0: every one until cleared).
 * NET_FAULT_NONE clears. -EINVAL for an unknown type. */
int wire_fault_set(struct net_faults *f, unsigned type, enum net_fault action,
		   uint32_t delay_us, uint32_t count);
void wire_fault_clear(struct net_faults *f);
/* What to do with one message of `type`; consumes one of `count`. */
enum net_fault wire_fault_apply(struct net_faults *f, unsigned type,
				uint32_t *delay_us);

#endif
