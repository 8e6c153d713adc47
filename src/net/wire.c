#include "net/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per-type payload rule: a fixed struct of `fixed` bytes, then at most
 * `data_max` variable bytes, or (page) either none or exactly one page.
 * `check` validates the fields with a closed set of values. */
struct type_info {
	const char *name;
	uint32_t fixed;
	uint32_t data_min;
	uint32_t data_max;
	bool page;
	bool (*check)(const struct net_msg *m);
};

static bool is_bool(uint8_t v) { return v <= 1; }

static bool check_hello(const struct net_msg *m)
{
	return m->u.hello.node_id < NET_MAX_NODES &&
	       !(m->u.hello.flags & ~NET_HELLO_FLAGS);
}

static bool check_auth_ok(const struct net_msg *m)
{
	return m->u.auth_ok.status <= NET_AUTH_DUPLICATE &&
	       m->u.auth_ok.reserved == 0;
}

bool wire_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool check_control(const struct net_msg *m)
{
	const struct net_control *c = &m->u.control;

	if (c->op < NET_CTL_STOP || c->op >= NET_CTL_NR)
		return false;
	if (c->op == NET_CTL_STATS)
		return m->data_len % sizeof(uint64_t) == 0;
	if (c->op == NET_CTL_STOP || c->op == NET_CTL_SHUTDOWN)
		return !m->data_len || !memchr(m->data, 0, m->data_len);
	return m->data_len == 0;
}

/* A string field: NUL-terminated inside its array, zero after the NUL
 * (so that equal values are equal bytes). */
static bool check_str(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);

	return nul && wire_zero(nul, cap - (size_t)(nul - s));
}

static bool check_join(const struct net_msg *m)
{
	struct net_join j;

	/* The length table made data_len exactly sizeof(j). */
	memcpy(&j, m->data, sizeof(j));
	if (!is_bool(j.start_all) || !wire_zero(j.reserved, sizeof(j.reserved)))
		return false;
	for (unsigned i = 0; i < NET_JOIN_NODES; i++)
		if (!check_str(j.addr[i], NET_ADDR_MAX))
			return false;
	if (j.nr_disks > NET_JOIN_DISKS || j.reserved2)
		return false;
	for (unsigned i = 0; i < NET_JOIN_DISKS; i++) {
		const struct net_disk *d = &j.disks[i];

		if (i >= j.nr_disks ? !wire_zero(d, sizeof(*d)) :
		    !check_str(d->path, NET_DISK_PATH_MAX) || !d->path[0] ||
		    !is_bool(d->readonly) || !wire_zero(d->reserved, sizeof(d->reserved)))
			return false;
	}
	if (j.nr_nics > NET_JOIN_NICS || j.reserved3)
		return false;
	for (unsigned i = 0; i < NET_JOIN_NICS; i++) {
		const struct net_nic *c = &j.nics[i];

		if (i >= j.nr_nics ? !wire_zero(c, sizeof(*c)) :
		    !check_str(c->tap, NET_TAP_NAME_MAX) || !c->tap[0] || c->reserved ||
		    (c->mac[0] & 1))
			return false;
	}
	return true;
}

static bool check_start(const struct net_msg *m)
{
	struct net_start s;

	memcpy(&s, m->data, sizeof(s));
	if (s.entry_mode > 1 ||
	    (s.entry_mode == 1 && (s.rsi >> 32 || s.cr3 >> 32)) ||
	    !check_str(s.boot_id, sizeof(s.boot_id)) ||
	    s.nr_nodes < 1 || s.nr_nodes > NET_START_NODES ||
	    s.nr_ranges > NET_START_RANGES)
		return false;
	if (s.nr_nodes < 64 && (s.has_delta >> s.nr_nodes))
		return false;
	return wire_zero(&s.tsc_delta[s.nr_nodes],
			(NET_START_NODES - s.nr_nodes) * sizeof(s.tsc_delta[0])) &&
	       wire_zero(&s.ranges[s.nr_ranges],
			(NET_START_RANGES - s.nr_ranges) * sizeof(s.ranges[0]));
}

static bool check_irq(const struct net_irq *q)
{
	/* Delivery mode 3 is reserved in the APIC. */
	return q->delivery <= 7 && q->delivery != 3 && q->shorthand <= 3 &&
	       is_bool(q->dest_logical) && is_bool(q->level) &&
	       is_bool(q->trigger_level) && is_bool(q->x2apic) &&
	       q->reserved == 0;
}

static bool check_io_req(const struct net_io_req *r)
{
	return r->space <= NET_IO_MMIO && r->len >= 1 &&
	       r->len <= NET_IO_DATA_MAX && is_bool(r->is_write) &&
	       r->reserved == 0;
}

static bool check_io_reply(const struct net_io_reply *r)
{
	return wire_zero(r->reserved, sizeof(r->reserved)) &&
	       r->len >= 1 && r->len <= NET_IO_DATA_MAX &&
	       r->status <= 0 && r->status >= -4095;
}

/* Per CPU op: the union member's size and its data rule, as the type
 * table below does per type. */
struct cpu_op_info {
	const char *name;
	uint32_t size;
	uint32_t data_min, data_max;
};

static const struct cpu_op_info cpu_ops[NET_CPU_NR] = {
	[NET_CPU_IRQ] = { "IRQ", sizeof(struct net_irq), 0, 0 },
	[NET_CPU_IO_REQ] = { "IO_REQ", sizeof(struct net_io_req), 0, 0 },
	[NET_CPU_IO_REPLY] = { "IO_REPLY", sizeof(struct net_io_reply), 0, 0 },
	[NET_CPU_STATE] = { "VCPU_STATE", sizeof(struct net_vcpu_state), 1,
			    NET_VCPU_STATE_MAX },
	[NET_CPU_EOI] = { "EOI", sizeof(struct net_eoi), 0, 0 },
	[NET_CPU_MOVED] = { "MOVED", sizeof(struct net_moved), 0, 0 },
	[NET_CPU_ROUTE] = { "ROUTE", sizeof(struct net_route), 0, 0 },
	[NET_CPU_LOAD] = { "LOAD", sizeof(struct net_load), 0, 0 },
	[NET_CPU_CONTROL] = { "CONTROL", sizeof(struct net_cpu_control), 0, 0 },
	[NET_CPU_PCI_CFG] = { "PCI_CFG", sizeof(struct net_pci_cfg), 0, 0 },
	[NET_CPU_INTX] = { "INTX", sizeof(struct net_intx), 0, 0 },
};

static bool check_cpu(const struct net_msg *m)
{
	const struct net_cpu *c = &m->u.cpu;
	const struct cpu_op_info *oi;
	size_t used;

	if (c->op < NET_CPU_IRQ || c->op >= NET_CPU_NR || c->reserved0 ||
	    c->reserved1)
		return false;
	oi = &cpu_ops[c->op];
	used = offsetof(struct net_cpu, irq) + oi->size;
	if (m->data_len < oi->data_min || m->data_len > oi->data_max ||
	    !wire_zero((const uint8_t *)c + used, sizeof(*c) - used))
		return false;
	switch (c->op) {
	case NET_CPU_IRQ:
		return check_irq(&c->irq);
	case NET_CPU_IO_REQ:
		return check_io_req(&c->io_req);
	case NET_CPU_IO_REPLY:
		return check_io_reply(&c->io_reply);
	case NET_CPU_STATE:
		return c->vcpu.waited_milli <= 1000;
	case NET_CPU_EOI:
		return wire_zero(c->eoi.reserved, sizeof(c->eoi.reserved));
	case NET_CPU_ROUTE:
		return c->route.reserved == 0;
	case NET_CPU_LOAD:
		return c->load.reserved == 0;
	case NET_CPU_CONTROL:
		return c->control.what >= NET_CPU_CTL_MOVE &&
		       c->control.what <= NET_CPU_CTL_RESUME &&
		       (c->control.what == NET_CPU_CTL_MOVE ||
			(!c->control.vcpu && !c->control.node && !c->control.hops));
	case NET_CPU_PCI_CFG:
		return c->pci_cfg.len >= 1 && c->pci_cfg.len <= 4 &&
		       (c->pci_cfg.off & 3) + c->pci_cfg.len <= 4 && c->pci_cfg.off < 4096 &&
		       wire_zero(c->pci_cfg.data + c->pci_cfg.len, 4u - c->pci_cfg.len);
	case NET_CPU_INTX:
		return is_bool(c->intx.level) &&
		       wire_zero(c->intx.reserved, sizeof(c->intx.reserved));
	default:
		return true;
	}
}

const char *wire_cpu_op_name(unsigned op)
{
	return op < NET_CPU_NR && cpu_ops[op].name ? cpu_ops[op].name : "?";
}

#define FIXED(t) ((uint32_t)sizeof(t))

static const struct type_info types[NET_MSG_NR] = {
	[NET_MSG_HELLO] = { "HELLO", FIXED(struct net_hello), 0, 0, false, check_hello },
	[NET_MSG_AUTH] = { "AUTH", FIXED(struct net_auth), 0, 0, false, NULL },
	[NET_MSG_AUTH_OK] = { "AUTH_OK", FIXED(struct net_auth_ok), 0, 0, false, check_auth_ok },
	[NET_MSG_PING] = { "PING", FIXED(struct net_ping), 0, 0, false, NULL },
	[NET_MSG_PONG] = { "PONG", FIXED(struct net_ping), 0, 0, false, NULL },
	[NET_MSG_CONTROL] = { "CONTROL", FIXED(struct net_control), 0,
			      NET_CONTROL_DATA_MAX, false, check_control },
	[NET_MSG_JOIN] = { "JOIN", 0, FIXED(struct net_join), FIXED(struct net_join),
			   false, check_join },
	[NET_MSG_START] = { "START", 0, FIXED(struct net_start), FIXED(struct net_start),
			    false, check_start },
	[NET_MSG_DSM] = { "DSM", FIXED(struct net_dsm), 0, NET_PAGE_SIZE, true, NULL },
	[NET_MSG_CPU] = { "CPU", FIXED(struct net_cpu), 0, NET_VCPU_STATE_MAX, false,
			  check_cpu },
	[NET_MSG_IDENT] = { "IDENT", FIXED(struct net_ident), 0, 0, false, NULL },
	/* Length bounds only: node 0 checks the rest and drops a bad one
	 * (node/report.h) without losing the link. */
	[NET_MSG_REPORT] = { "REPORT", 0, FIXED(struct net_report), NET_REPORT_MAX, false,
			     NULL },
};

static const char *reject_names[NET_REJ_NR] = {
	[NET_REJ_TRUNCATED] = "truncated frame",
	[NET_REJ_TRAILING] = "trailing bytes after frame",
	[NET_REJ_BAD_MAGIC] = "bad magic",
	[NET_REJ_BAD_VERSION] = "unsupported wire version",
	[NET_REJ_BAD_FLAGS] = "unknown header flags",
	[NET_REJ_UNKNOWN_TYPE] = "unknown message type",
	[NET_REJ_BAD_LENGTH] = "payload length not allowed for type",
	[NET_REJ_BAD_FIELD] = "field out of range",
	[NET_REJ_UNEXPECTED] = "message type not allowed in this state",
	[NET_REJ_BAD_SEQ] = "sequence number out of order",
	[NET_REJ_AUTH] = "authentication refused",
	[NET_REJ_BAD_SEAL] = "frame failed authentication (forged or tampered)",
};

static_assert(NET_FIXED_MAX >= sizeof(struct net_hello) && NET_FIXED_MAX >= sizeof(struct net_dsm) &&
	      NET_FIXED_MAX >= sizeof(struct net_cpu), "NET_FIXED_MAX too small");

static const struct type_info *type_get(unsigned type)
{
	if (type >= NET_MSG_NR || !types[type].name)
		return NULL;
	return &types[type];
}

const char *wire_type_name(unsigned type)
{
	const struct type_info *ti = type_get(type);

	return ti ? ti->name : "?";
}

const char *wire_reject_name(enum net_reject why)
{
	if ((unsigned)why >= NET_REJ_NR)
		return "?";
	return reject_names[why];
}

static bool length_ok(const struct type_info *ti, uint32_t length)
{
	uint32_t data;

	if (length < ti->fixed)
		return false;
	data = length - ti->fixed;
	if (ti->page)
		return data == 0 || data == NET_PAGE_SIZE;
	return data >= ti->data_min && data <= ti->data_max;
}

static int reject(enum net_reject *why, enum net_reject r, int err)
{
	if (why)
		*why = r;
	return err;
}

size_t wire_frame_size(const struct net_msg *msg)
{
	const struct type_info *ti = type_get(msg->type);

	return ti ? NET_HDR_SIZE + ti->fixed + (size_t)msg->data_len : 0;
}

ssize_t wire_encode_head(const struct net_msg *msg, void *buf, size_t cap)
{
	const struct type_info *ti = type_get(msg->type);
	struct net_hdr h;

	/* Refuse to send what a receiver would refuse: the failure then shows
	 * up at the sender, with its stack, instead of as a dropped link. */
	if (!ti || !length_ok(ti, ti->fixed + msg->data_len) ||
	    (msg->data_len && !msg->data) || (ti->check && !ti->check(msg)))
		return -EINVAL;
	if (cap < NET_HDR_SIZE + ti->fixed)
		return -ENOSPC;
	h = (struct net_hdr){
		.magic = NET_WIRE_MAGIC,
		.version = NET_WIRE_VERSION,
		.type = msg->type,
		.length = ti->fixed + msg->data_len,
		.seq = msg->seq,
	};
	memcpy(buf, &h, sizeof(h));
	memcpy((uint8_t *)buf + NET_HDR_SIZE, &msg->u, ti->fixed);
	return NET_HDR_SIZE + ti->fixed;
}

ssize_t wire_encode(const struct net_msg *msg, void *buf, size_t cap)
{
	size_t size = wire_frame_size(msg);
	ssize_t head;

	if (!size)
		return -EINVAL;
	head = wire_encode_head(msg, buf, cap);
	if (head < 0)
		return head;
	if (cap < size)
		return -ENOSPC;
	if (msg->data_len)
		memcpy((uint8_t *)buf + head, msg->data, msg->data_len);
	return size;
}

/* flags_ok: the header flags allowed besides none. */
static int check_hdr(const void *buf, size_t len, struct net_hdr *hdr,
		     enum net_reject *why, uint32_t flags_ok)
{
	const struct type_info *ti;

	if (len < NET_HDR_SIZE)
		return reject(why, NET_REJ_TRUNCATED, -EAGAIN);
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->magic != NET_WIRE_MAGIC)
		return reject(why, NET_REJ_BAD_MAGIC, -EPROTO);
	if (hdr->version != NET_WIRE_VERSION)
		return reject(why, NET_REJ_BAD_VERSION, -EPROTO);
	if (hdr->flags & ~flags_ok)
		return reject(why, NET_REJ_BAD_FLAGS, -EPROTO);
	ti = type_get(hdr->type);
	if (!ti)
		return reject(why, NET_REJ_UNKNOWN_TYPE, -EPROTO);
	if (!length_ok(ti, hdr->length))
		return reject(why, NET_REJ_BAD_LENGTH, -EMSGSIZE);
	return 0;
}

int wire_decode_hdr(const void *buf, size_t len, struct net_hdr *hdr,
		    enum net_reject *why)
{
	return check_hdr(buf, len, hdr, why, NET_FLAG_SEALED);
}

int wire_decode(const void *buf, size_t len, struct net_msg *msg,
		enum net_reject *why)
{
	const struct type_info *ti;
	struct net_hdr h;
	int err;

	err = check_hdr(buf, len, &h, why, 0);
	if (err == -EAGAIN)
		return -EBADMSG;
	if (err)
		return err;
	/* h.length is bounded by the type table (at most NET_MAX_PAYLOAD), so
	 * the sum cannot wrap. */
	if (len < NET_HDR_SIZE + (size_t)h.length)
		return reject(why, NET_REJ_TRUNCATED, -EBADMSG);
	if (len > NET_HDR_SIZE + (size_t)h.length)
		return reject(why, NET_REJ_TRAILING, -EBADMSG);

	ti = &types[h.type];
	memset(msg, 0, sizeof(*msg));
	msg->type = h.type;
	msg->seq = h.seq;
	memcpy(&msg->u, (const uint8_t *)buf + NET_HDR_SIZE, ti->fixed);
	msg->data_len = h.length - ti->fixed;
	msg->data = msg->data_len ?
		    (const uint8_t *)buf + NET_HDR_SIZE + ti->fixed : NULL;
	if (ti->check && !ti->check(msg))
		return reject(why, NET_REJ_BAD_FIELD, -EBADMSG);
	return 0;
}

/* --- stream framing ------------------------------------------------------ */

int wire_reader_init(struct wire_reader *r, size_t cap, uint32_t allowed)
{
	memset(r, 0, sizeof(*r));
	if (cap < NET_HDR_SIZE)
		cap = NET_HDR_SIZE;
	r->buf = malloc(cap);
	if (!r->buf)
		return -ENOMEM;
	r->cap = cap;
	r->allowed = allowed;
	return 0;
}

int wire_reader_grow(struct wire_reader *r, size_t cap)
{
	uint8_t *nb;

	if (cap <= r->cap)
		return 0;
	nb = realloc(r->buf, cap);
	if (!nb)
		return -ENOMEM;
	r->buf = nb;
	r->cap = cap;
	return 0;
}

void wire_reader_free(struct wire_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
}

void *wire_reader_space(struct wire_reader *r, size_t *len)
{
	/* Move the unconsumed tail to the front only when out of room, so a
	 * large frame arriving in pieces is not copied over and over. A
	 * frame never exceeds cap (wire_reader_next checks), so after the
	 * move there is room. */
	if (r->start == r->end) {
		r->start = r->end = 0;
	} else if (r->end == r->cap) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	*len = r->cap - r->end;
	return r->buf + r->end;
}

void wire_reader_commit(struct wire_reader *r, size_t n)
{
	r->end += n;
}

int wire_reader_next(struct wire_reader *r, struct net_msg *msg,
		     enum net_reject *why)
{
	size_t have = r->end - r->start;
	struct net_hdr h;
	size_t frame, tag;
	int err;

	err = wire_decode_hdr(r->buf + r->start, have, &h, why);
	if (err == -EAGAIN)
		return 0;
	if (err)
		return err;
	if (!(r->allowed & NET_TYPE_BIT(h.type)))
		return reject(why, NET_REJ_UNEXPECTED, -EPROTO);
	if (!(h.flags & NET_FLAG_SEALED) != !r->open)
		return reject(why, NET_REJ_BAD_FLAGS, -EPROTO);
	frame = NET_HDR_SIZE + (size_t)h.length;
	tag = r->open ? NET_SEAL_TAG_BYTES : 0;
	if (frame + tag > r->cap)
		return reject(why, NET_REJ_BAD_LENGTH, -EMSGSIZE);
	if (have < frame + tag)
		return 0;
	if (r->open) {
		if (r->open(r->open_ctx, r->buf + r->start, h.length))
			return reject(why, NET_REJ_BAD_SEAL, -EKEYREJECTED);
		/* Opened: now a frame in clear, as wire_decode wants it. */
		memset(r->buf + r->start + offsetof(struct net_hdr, flags), 0,
		       sizeof(h.flags));
	}
	err = wire_decode(r->buf + r->start, frame, msg, why);
	if (err)
		return err;
	r->start += frame + tag;
	return 1;
}

/* --- counters ------------------------------------------------------------ */

static void count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

void wire_stats_rx(struct net_stats *s, unsigned type, size_t bytes)
{
	if (type >= NET_MSG_NR)
		return;
	count(&s->rx_msgs[type], 1);
	count(&s->rx_bytes[type], bytes);
}

void wire_stats_tx(struct net_stats *s, unsigned type, size_t bytes)
{
	if (type >= NET_MSG_NR)
		return;
	count(&s->tx_msgs[type], 1);
	count(&s->tx_bytes[type], bytes);
}

void wire_stats_reject(struct net_stats *s, enum net_reject why)
{
	if ((unsigned)why < NET_REJ_NR)
		count(&s->rejects[why], 1);
}

void wire_stats_read(const struct net_stats *s, struct net_stats *out)
{
	const uint64_t *src = (const uint64_t *)s;
	uint64_t *dst = (uint64_t *)out;

	static_assert(sizeof(*s) % sizeof(uint64_t) == 0, "stats are u64s");
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* --- fault injection ----------------------------------------------------- */

int wire_fault_set(struct net_faults *f, unsigned type, enum net_fault action,
		   uint32_t delay_us, uint32_t count)
{
	if (!type_get(type) || action > NET_FAULT_DELAY)
		return -EINVAL;
	/* Disarm first so that a concurrent sender never sees the new action
	 * with the old count. */
	__atomic_store_n(&f->type[type].action, NET_FAULT_NONE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->type[type].delay_us, delay_us, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->type[type].remaining, count ? (int64_t)count : -1,
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->type[type].action, action, __ATOMIC_SEQ_CST);
	return 0;
}

void wire_fault_clear(struct net_faults *f)
{
	for (unsigned t = 0; t < NET_MSG_NR; t++)
		__atomic_store_n(&f->type[t].action, NET_FAULT_NONE,
				 __ATOMIC_SEQ_CST);
}

enum net_fault wire_fault_apply(struct net_faults *f, unsigned type,
				uint32_t *delay_us)
{
	int action;
	int64_t left;

	if (type >= NET_MSG_NR)
		return NET_FAULT_NONE;
	action = __atomic_load_n(&f->type[type].action, __ATOMIC_RELAXED);
	if (action == NET_FAULT_NONE)
		return NET_FAULT_NONE;
	left = __atomic_load_n(&f->type[type].remaining, __ATOMIC_ACQUIRE);
	do {
		if (left == 0)
			return NET_FAULT_NONE;
		if (left < 0)
			break;
	} while (!__atomic_compare_exchange_n(&f->type[type].remaining, &left,
					      left - 1, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	if (delay_us)
		*delay_us = __atomic_load_n(&f->type[type].delay_us,
					    __ATOMIC_RELAXED);
	return action;
}
