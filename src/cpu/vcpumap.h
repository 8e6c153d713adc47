/* Where each vCPU runs, and which peer may say what about it: the CPU
 * plane's (cpu/forward.c) map, as a pure state machine (messages in,
 * verdicts out, no locks, no sockets) so that every rule has a unit test.
 *
 * A vCPU's move count goes one up at each move, along its path, and every
 * node starts from the same placement with count 0. The node a vCPU
 * arrives at tells every other node (MOVED) before the vCPU can send
 * anything else, on the same links (forward.c holds its lock across both),
 * so on each link the notices about a vCPU come in order. From that:
 *  - MOVED(v, m) comes from the node v runs on now: taken when newer than
 *    what this node knows, at most VCPUMAP_AHEAD moves ahead (notices
 *    overtaken on other links), never about a vCPU that runs here, never
 *    for the boot vCPU. A count far ahead (UINT32_MAX) would pin v's
 *    routing to the sender forever: refused.
 *  - ROUTE(v, m, seq) comes from the node this one believes runs v, with
 *    v's current move count; one from an earlier stay is stale.
 *  - STATE(v, m) comes from the node v runs on, with move count exactly one
 *    more. From another node it is a forgery or a bug and is dropped (v
 *    still runs where it did); from the right node with a wrong count the
 *    sender has let v go and cannot take it back: the VM must stop.
 *  - IO_REQ comes from the node v runs on: its vCPU thread made the
 *    access and waits for the reply, so v cannot leave meanwhile, and its
 *    MOVED went out on the same link before it could make any access.
 *  - IO_REPLY comes from the devices' node only.
 *  - CONTROL: pause and resume come from the coordinator (its API) only;
 *    a move request may come from any node (passed on towards where the
 *    vCPU runs, a bounded number of hops), but only about a movable vCPU
 *    and a node that exists.
 * Refused messages change nothing; the caller counts and logs them. */
#ifndef AMALGAM_CPU_VCPUMAP_H
#define AMALGAM_CPU_VCPUMAP_H

#include <stdbool.h>
#include <stdint.h>

#define VCPUMAP_MAX 64
/* How far ahead of this node's count a MOVED may be: more notices than
 * that overtaken on other links is not what a real cluster does (a
 * message chasing the vCPU gives up after 16 hops too). */
#define VCPUMAP_AHEAD 16

enum vcpumap_verdict {
	VCPUMAP_TAKE,		/* apply it (vcpumap has, where it says so) */
	VCPUMAP_STALE,		/* overtaken by newer news: ignore quietly */
	VCPUMAP_REFUSE,		/* not the sender's to say, or out of range */
	VCPUMAP_BROKEN,		/* the rightful sender let go of a vCPU that
				 * cannot be taken here: stop the VM */
};

struct vcpumap {
	unsigned self, nodes, nr_vcpus;
	uint8_t place[VCPUMAP_MAX];
	uint32_t moves[VCPUMAP_MAX];
	/* Routing registers: changes sent since the vCPU came here, and the
	 * newest (moves, seq) taken for each vCPU elsewhere. */
	uint32_t route_seq[VCPUMAP_MAX];
	uint32_t route_moves[VCPUMAP_MAX], route_seen[VCPUMAP_MAX];
};

/* -EINVAL for sizes out of range or a placement naming no node. */
int vcpumap_init(struct vcpumap *m, unsigned self, unsigned nodes, unsigned nr_vcpus,
		 const uint8_t *place);
/* vCPU 0, the boot vCPU, stays where it was placed (forward.h). */
bool vcpumap_movable(unsigned vcpu);

/* v leaves this node for node: its new move count. */
uint32_t vcpumap_leave(struct vcpumap *m, unsigned vcpu, unsigned node);

/* A ROUTE about v, which runs here, is about to leave: its (moves, seq). */
void vcpumap_route_next(struct vcpumap *m, unsigned vcpu, uint32_t *moves, uint32_t *seq);

/* The message checks. why (never NULL on REFUSE/BROKEN) says what was
 * wrong, for the log. */
enum vcpumap_verdict vcpumap_moved(struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, const char **why);
enum vcpumap_verdict vcpumap_route(struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, uint32_t seq, const char **why);
/* STATE: does not change the map; vcpumap_arrived does once restored. */
enum vcpumap_verdict vcpumap_state(const struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, const char **why);
void vcpumap_arrived(struct vcpumap *m, unsigned vcpu, uint32_t moves);
/* IO_REPLY: from the devices' node (dev_node) only. */
enum vcpumap_verdict vcpumap_io_reply(const struct vcpumap *m, unsigned from,
				      unsigned dev_node, uint32_t vcpu, const char **why);
/* IO_REQ (on the devices' node): from the node that runs vcpu only. */
enum vcpumap_verdict vcpumap_io_req(const struct vcpumap *m, unsigned from, uint32_t vcpu,
				    const char **why);
/* CONTROL: pause (or resume) when pause_all, else a move of vcpu to node;
 * coordinator: the node whose API may pause the VM. */
enum vcpumap_verdict vcpumap_control(const struct vcpumap *m, unsigned from,
				     unsigned coordinator, bool pause_all, uint32_t vcpu,
				     uint32_t node, const char **why);

#endif
