/* libFuzzer target for the START and JOIN payloads: a frame as it comes
 * off an opened link goes through the wire decoder (which checks the
 * payload's closed sets and counts) and then, if it is a JOIN or a START,
 * through what a node makes of it (params_from_wire, which range-checks
 * every value and the whole cluster's consistency, and start_from_wire).
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
	}
	return 0;
}
