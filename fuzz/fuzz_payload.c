/* libFuzzer target for the START, JOIN and REPORT payloads: a frame as it
 * comes off an opened link goes through the wire decoder (which checks the
 * payload's closed sets and counts) and then, if it is a JOIN, a START or
 * a REPORT, through what a node makes of it (params_from_wire, which
 * range-checks every value and the whole cluster's consistency,
 * start_from_wire, and report_from_wire, which checks everything a peer
 * reports against the cluster and against its previous report).
 * Whatever the bytes: no crash, no out-of-bounds access, one of the
 * documented errors; what is accepted goes back to the wire and decodes
 * again to the same thing.
 *
 * Seeds: fuzz_wire_corpus (every message type, JOIN and START included). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cluster/params.h"
#include "net/wire.h"
#include "node/report.h"
#include "node/startwire.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void join(const struct net_join *j)
{
	struct cluster_params p, q;
	struct net_join back;
	char err[256];

	err[0] = 0;
	if (params_from_wire(&p, j, err, sizeof(err))) {
		CHECK(err[0] && memchr(err, 0, sizeof(err)));
		return;
	}
	params_to_wire(&p, &back);
	CHECK(params_from_wire(&q, &back, err, sizeof(err)) == 0);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
}

static void start(const struct net_start *s)
{
	struct boot_text b, c;
	struct net_start back;

	if (start_from_wire(s, &b))
		return;
	CHECK(b.nr_nodes <= CLUSTER_MAX_NODES && b.nr_ranges <= NET_START_RANGES);
	CHECK(memchr(b.boot_id, 0, sizeof(b.boot_id)));
	start_to_wire(&b, &back);
	CHECK(start_from_wire(&back, &c) == 0);
	CHECK(memcmp(&b, &c, sizeof(b)) == 0);
}

/* Whatever a report says, what is taken is within the limits, and goes
 * back to the same bytes; a second copy of it is stale. */
static void report(const struct net_msg *m)
{
	static const struct report_limits lim = {
		.from = 1, .nr_nodes = 3, .nr_vcpus = 8, .guest_pages = 1 << 14,
	};
	static struct node_report r, again;
	static uint8_t back[NET_REPORT_MAX];
	enum report_reject why = REPORT_REJ_NR;
	size_t len;

	if (report_from_wire(m->data, m->data_len, &lim, NULL, &r, &why)) {
		CHECK(why < REPORT_REJ_NR);
		return;
	}
	CHECK(r.node == lim.from && r.nr_vcpus <= lim.nr_vcpus && r.nr_peers < lim.nr_nodes);
	CHECK(r.resident_pages <= lim.guest_pages);
	for (unsigned i = 0; i < r.nr_vcpus; i++)
		CHECK(r.v[i].vcpu < lim.nr_vcpus && (!i || r.v[i].vcpu > r.v[i - 1].vcpu));
	for (unsigned i = 0; i < r.nr_peers; i++)
		CHECK(r.p[i].node < lim.nr_nodes && r.p[i].node != r.node);
	len = report_to_wire(&r, back, sizeof(back));
	CHECK(len == m->data_len && memcmp(back, m->data, len) == 0);
	CHECK(report_from_wire(back, len, &lim, &r, &again, &why) && why == REPORT_REJ_STALE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum net_reject why = NET_REJ_NR;
	struct net_msg m;

	if (wire_decode(data, size, &m, &why))
		return 0;
	if (m.type == NET_MSG_JOIN) {
		struct net_join j;

		CHECK(m.data_len == sizeof(j));
		memcpy(&j, m.data, sizeof(j));
		join(&j);
	} else if (m.type == NET_MSG_START) {
		struct net_start s;

		CHECK(m.data_len == sizeof(s));
		memcpy(&s, m.data, sizeof(s));
		start(&s);
	} else if (m.type == NET_MSG_REPORT) {
		report(&m);
	}
	return 0;
}
