/* A node's report to node 0, both ways (report.h). */
#include "node/report.h"

#include <errno.h>
#include <string.h>

#include "vmm/vcpu.h"

/* NET_REPORT_VERSION 1's counters, by slot. Every one is a counter (it
 * never goes back), named as in the node's metrics; a change here is a
 * new NET_REPORT_VERSION. */
static const char *const counter_names[] = {
	"faults", "faults_local", "pages_sent", "pages_received",
	"mem_msgs_sent", "mem_msgs_received", "mem_bytes_sent", "mem_bytes_received",
	"mem_bad_msgs", "mem_send_errors", "dsm_read_miss", "dsm_write_miss",
	"dsm_upgrade", "dsm_inv_sent", "dsm_inv_received", "dsm_invalidations",
	"dsm_downgrades", "dsm_retries", "dsm_proto_errors", "irq_sent",
	"irq_received", "eoi_sent", "io_forwarded", "io_timeouts",
	"vcpus_moved_out", "vcpus_moved_in", "vcpus_sent_to_pages", "vcpus_sent_to_cpus",
	"net_bad_frames", "net_disconnects", "pio_accesses", "mmio_accesses",
};
static_assert(sizeof(counter_names) / sizeof(counter_names[0]) <= NET_REPORT_COUNTERS,
	      "the counters fit the report");
/* The states a vCPU's thread can be in: the wire carries them as a byte. */
static_assert(VCPU_PAUSED < 256, "a vCPU state fits the report's byte");

static const char *const reject_names[REPORT_REJ_NR] = {
	[REPORT_REJ_LENGTH] = "length",
	[REPORT_REJ_VERSION] = "version",
	[REPORT_REJ_SENDER] = "sender",
	[REPORT_REJ_STALE] = "stale",
	[REPORT_REJ_FIELD] = "field",
	[REPORT_REJ_VCPU] = "vcpu",
	[REPORT_REJ_PEER] = "peer",
	[REPORT_REJ_RANGE] = "range",
	[REPORT_REJ_BACKWARDS] = "backwards",
};

const char *report_reject_name(enum report_reject why)
{
	return (unsigned)why < REPORT_REJ_NR ? reject_names[why] : "?";
}

const char *report_counter_name(unsigned slot)
{
	return slot < report_counter_slots() ? counter_names[slot] : NULL;
}

unsigned report_counter_slots(void)
{
	return sizeof(counter_names) / sizeof(counter_names[0]);
}

size_t report_to_wire(const struct node_report *r, void *buf, size_t cap)
{
	struct net_report h = { .version = NET_REPORT_VERSION };
	size_t len = sizeof(h) + r->nr_vcpus * sizeof(struct net_report_vcpu) +
		     r->nr_peers * sizeof(struct net_report_peer);
	uint8_t *p = buf;

	if (r->nr_vcpus > NET_REPORT_VCPUS || r->nr_peers > NET_REPORT_NODES - 1 ||
	    r->nr_counters > NET_REPORT_COUNTERS || len > cap)
		return 0;
	h.nr_vcpus = (uint8_t)r->nr_vcpus;
	h.nr_peers = (uint8_t)r->nr_peers;
	h.nr_counters = (uint8_t)r->nr_counters;
	h.flags = r->load_known ? NET_REPORT_LOAD : 0;
	h.node = r->node;
	h.cpus_milli = r->cpus_milli;
	h.load_milli = r->load_known ? r->load_milli : 0;
	h.seq = r->seq;
	h.resident_pages = r->resident_pages;
	h.fault_count = r->fault_count;
	h.fault_wait_ns = r->fault_wait_ns;
	memcpy(h.counters, r->counters, r->nr_counters * sizeof(h.counters[0]));
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (unsigned i = 0; i < r->nr_vcpus; i++) {
		struct net_report_vcpu v = {
			.vcpu = (uint8_t)r->v[i].vcpu, .state = (uint8_t)r->v[i].state,
			.here = r->v[i].here, .exits = r->v[i].exits,
			.page_wait_ns = r->v[i].wait_ns,
		};

		memcpy(p, &v, sizeof(v));
		p += sizeof(v);
	}
	for (unsigned i = 0; i < r->nr_peers; i++) {
		struct net_report_peer q = {
			.node = (uint8_t)r->p[i].node, .pages_sent = r->p[i].sent,
			.pages_received = r->p[i].received,
		};

		memcpy(p, &q, sizeof(q));
		p += sizeof(q);
	}
	return len;
}

static int refuse(enum report_reject *why, enum report_reject r)
{
	if (why)
		*why = r;
	return -EBADMSG;
}

static const struct report_vcpu *prev_vcpu(const struct node_report *prev, unsigned vcpu)
{
	for (unsigned i = 0; prev && i < prev->nr_vcpus; i++)
		if (prev->v[i].vcpu == vcpu)
			return &prev->v[i];
	return NULL;
}

static const struct report_peer *prev_peer(const struct node_report *prev, unsigned node)
{
	for (unsigned i = 0; prev && i < prev->nr_peers; i++)
		if (prev->p[i].node == node)
			return &prev->p[i];
	return NULL;
}

/* Header first (everything the counts depend on), then each entry; the
 * data may sit at any alignment, so every struct is copied out. */
int report_from_wire(const void *data, size_t len, const struct report_limits *lim,
		     const struct node_report *prev, struct node_report *out,
		     enum report_reject *why)
{
	const uint8_t *p = data;
	struct net_report h;

	if (len < sizeof(h))
		return refuse(why, REPORT_REJ_LENGTH);
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.version != NET_REPORT_VERSION)
		return refuse(why, REPORT_REJ_VERSION);
	if (len != sizeof(h) + h.nr_vcpus * sizeof(struct net_report_vcpu) +
		   h.nr_peers * sizeof(struct net_report_peer))
		return refuse(why, REPORT_REJ_LENGTH);
	if (h.node != lim->from || h.node == 0 || h.node >= lim->nr_nodes)
		return refuse(why, REPORT_REJ_SENDER);
	if (prev && h.seq <= prev->seq)
		return refuse(why, REPORT_REJ_STALE);
	if (!wire_zero(h.reserved, sizeof(h.reserved)) || h.reserved2 ||
	    (h.flags & ~NET_REPORT_LOAD) || (!(h.flags & NET_REPORT_LOAD) && h.load_milli) ||
	    h.nr_counters > report_counter_slots() ||
	    !wire_zero(&h.counters[h.nr_counters],
		  (NET_REPORT_COUNTERS - h.nr_counters) * sizeof(h.counters[0])))
		return refuse(why, REPORT_REJ_FIELD);
	if (h.nr_vcpus > lim->nr_vcpus || h.nr_vcpus > NET_REPORT_VCPUS)
		return refuse(why, REPORT_REJ_VCPU);
	if (h.nr_peers >= lim->nr_nodes || h.nr_peers > NET_REPORT_NODES - 1)
		return refuse(why, REPORT_REJ_PEER);
	if (h.resident_pages > lim->guest_pages || h.cpus_milli > REPORT_CPUS_MAX_MILLI ||
	    h.load_milli > lim->nr_vcpus * 1000u)
		return refuse(why, REPORT_REJ_RANGE);
	if (prev && (h.fault_count < prev->fault_count ||
		     h.fault_wait_ns < prev->fault_wait_ns))
		return refuse(why, REPORT_REJ_BACKWARDS);
	for (unsigned i = 0; prev && i < h.nr_counters && i < prev->nr_counters; i++)
		if (h.counters[i] < prev->counters[i])
			return refuse(why, REPORT_REJ_BACKWARDS);

	memset(out, 0, sizeof(*out));
	out->node = h.node;
	out->seq = h.seq;
	out->resident_pages = h.resident_pages;
	out->fault_count = h.fault_count;
	out->fault_wait_ns = h.fault_wait_ns;
	out->cpus_milli = h.cpus_milli;
	out->load_known = h.flags & NET_REPORT_LOAD;
	out->load_milli = h.load_milli;
	out->nr_counters = h.nr_counters;
	memcpy(out->counters, h.counters, h.nr_counters * sizeof(h.counters[0]));
	for (unsigned i = 0; i < h.nr_vcpus; i++) {
		struct net_report_vcpu v;
		const struct report_vcpu *was;

		memcpy(&v, p, sizeof(v));
		p += sizeof(v);
		if (v.state > VCPU_PAUSED || v.here > 1 ||
		    !wire_zero(v.reserved, sizeof(v.reserved)))
			return refuse(why, REPORT_REJ_FIELD);
		if (v.vcpu >= lim->nr_vcpus || (i && v.vcpu <= out->v[i - 1].vcpu))
			return refuse(why, REPORT_REJ_VCPU);
		was = prev_vcpu(prev, v.vcpu);
		if (was && (v.exits < was->exits || v.page_wait_ns < was->wait_ns))
			return refuse(why, REPORT_REJ_BACKWARDS);
		out->v[i] = (struct report_vcpu){ v.vcpu, v.state, v.here, v.exits,
						  v.page_wait_ns };
	}
	out->nr_vcpus = h.nr_vcpus;
	for (unsigned i = 0; i < h.nr_peers; i++) {
		struct net_report_peer q;
		const struct report_peer *was;

		memcpy(&q, p, sizeof(q));
		p += sizeof(q);
		if (!wire_zero(q.reserved, sizeof(q.reserved)))
			return refuse(why, REPORT_REJ_FIELD);
		if (q.node >= lim->nr_nodes || q.node == h.node ||
		    (i && q.node <= out->p[i - 1].node))
			return refuse(why, REPORT_REJ_PEER);
		was = prev_peer(prev, q.node);
		if (was && (q.pages_sent < was->sent || q.pages_received < was->received))
			return refuse(why, REPORT_REJ_BACKWARDS);
		out->p[i] = (struct report_peer){ q.node, q.pages_sent, q.pages_received };
	}
	out->nr_peers = h.nr_peers;
	return 0;
}
