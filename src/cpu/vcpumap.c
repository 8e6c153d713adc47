#include "cpu/vcpumap.h"

#include <errno.h>
#include <string.h>

int vcpumap_init(struct vcpumap *m, unsigned self, unsigned nodes, unsigned nr_vcpus,
		 const uint8_t *place)
{
	if (!nodes || nodes > 256 || self >= nodes || nr_vcpus > VCPUMAP_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < nr_vcpus; i++)
		if (place[i] >= nodes)
			return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->self = self;
	m->nodes = nodes;
	m->nr_vcpus = nr_vcpus;
	memcpy(m->place, place, nr_vcpus);
	return 0;
}

bool vcpumap_movable(unsigned vcpu)
{
	return vcpu != 0;
}

uint32_t vcpumap_leave(struct vcpumap *m, unsigned vcpu, unsigned node)
{
	m->place[vcpu] = (uint8_t)node;
	return ++m->moves[vcpu];
}

void vcpumap_route_next(struct vcpumap *m, unsigned vcpu, uint32_t *moves, uint32_t *seq)
{
	*moves = m->moves[vcpu];
	*seq = ++m->route_seq[vcpu];
}

/* What every message about a vCPU shares. */
static bool bad_vcpu(const struct vcpumap *m, unsigned from, uint32_t vcpu, const char **why)
{
	if (vcpu >= m->nr_vcpus) {
		*why = "no such vCPU";
		return true;
	}
	if (from >= m->nodes || from == m->self) {
		*why = "no such sender";
		return true;
	}
	return false;
}

enum vcpumap_verdict vcpumap_moved(struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, const char **why)
{
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	if (!vcpumap_movable(vcpu)) {
		*why = "the boot vCPU never moves";
		return VCPUMAP_REFUSE;
	}
	if (moves <= m->moves[vcpu])
		return VCPUMAP_STALE;
	if (m->place[vcpu] == m->self) {
		/* It left here with a count up: that count it is still at. */
		*why = "it runs here";
		return VCPUMAP_REFUSE;
	}
	if (moves - m->moves[vcpu] > VCPUMAP_AHEAD) {
		*why = "move count too far ahead";
		return VCPUMAP_REFUSE;
	}
	if (moves == m->moves[vcpu] + 1 && from == m->place[vcpu]) {
		/* Its next move was from there: not to there. */
		*why = "the sender is the node it moved from";
		return VCPUMAP_REFUSE;
	}
	m->place[vcpu] = (uint8_t)from;
	m->moves[vcpu] = moves;
	return VCPUMAP_TAKE;
}

enum vcpumap_verdict vcpumap_route(struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, uint32_t seq, const char **why)
{
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	/* From an earlier stay, overtaken by a move (its notice, or the
	 * vCPU itself, came here first). */
	if (moves < m->moves[vcpu])
		return VCPUMAP_STALE;
	if (m->place[vcpu] == m->self) {
		*why = "it runs here";
		return VCPUMAP_REFUSE;
	}
	if (from != m->place[vcpu]) {
		*why = "the sender does not run it";
		return VCPUMAP_REFUSE;
	}
	if (moves > m->moves[vcpu]) {
		/* Its node's MOVED came before it on this link. */
		*why = "move count ahead of its node's notice";
		return VCPUMAP_REFUSE;
	}
	if (moves < m->route_moves[vcpu] ||
	    (moves == m->route_moves[vcpu] && seq <= m->route_seen[vcpu]))
		return VCPUMAP_STALE;
	m->route_moves[vcpu] = moves;
	m->route_seen[vcpu] = seq;
	return VCPUMAP_TAKE;
}

enum vcpumap_verdict vcpumap_state(const struct vcpumap *m, unsigned from, uint32_t vcpu,
				   uint32_t moves, const char **why)
{
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	if (!vcpumap_movable(vcpu)) {
		*why = "the boot vCPU never moves";
		return VCPUMAP_REFUSE;
	}
	if (m->place[vcpu] == m->self) {
		*why = "it runs here";
		return VCPUMAP_REFUSE;
	}
	if (from != m->place[vcpu]) {
		*why = "the sender does not run it";
		return VCPUMAP_REFUSE;
	}
	if (moves != m->moves[vcpu] + 1) {
		*why = "move count is not the next one";
		return VCPUMAP_BROKEN;
	}
	return VCPUMAP_TAKE;
}

void vcpumap_arrived(struct vcpumap *m, unsigned vcpu, uint32_t moves)
{
	m->place[vcpu] = (uint8_t)m->self;
	m->moves[vcpu] = moves;
	/* Its registers came with it: a notice from an earlier stay, still
	 * on its way from another node, is older than what we have now. */
	m->route_seq[vcpu] = 0;
	m->route_moves[vcpu] = moves;
	m->route_seen[vcpu] = 0;
}

enum vcpumap_verdict vcpumap_io_reply(const struct vcpumap *m, unsigned from,
				      unsigned dev_node, uint32_t vcpu, const char **why)
{
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	if (from != dev_node) {
		*why = "the sender has no devices";
		return VCPUMAP_REFUSE;
	}
	return VCPUMAP_TAKE;
}

enum vcpumap_verdict vcpumap_io_req(const struct vcpumap *m, unsigned from, uint32_t vcpu,
				    const char **why)
{
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	if (m->place[vcpu] != from) {
		*why = "the vCPU does not run on the sender";
		return VCPUMAP_REFUSE;
	}
	return VCPUMAP_TAKE;
}

enum vcpumap_verdict vcpumap_control(const struct vcpumap *m, unsigned from,
				     unsigned coordinator, bool pause_all, uint32_t vcpu,
				     uint32_t node, const char **why)
{
	if (pause_all) {
		if (from >= m->nodes || from == m->self || from != coordinator) {
			*why = "only the coordinator pauses and resumes";
			return VCPUMAP_REFUSE;
		}
		return VCPUMAP_TAKE;
	}
	if (bad_vcpu(m, from, vcpu, why))
		return VCPUMAP_REFUSE;
	if (!vcpumap_movable(vcpu)) {
		*why = "the boot vCPU never moves";
		return VCPUMAP_REFUSE;
	}
	if (node >= m->nodes) {
		*why = "no such destination node";
		return VCPUMAP_REFUSE;
	}
	return VCPUMAP_TAKE;
}
