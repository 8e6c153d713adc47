#include "node/startwire.h"

#include <errno.h>
#include <string.h>

void start_to_wire(const struct boot_text *b, struct net_start *s)
{
	memset(s, 0, sizeof(*s));
	s->rip = b->entry.rip;
	s->entry_mode = b->entry.mode;
	if (b->entry.mode == BOOT_MODE_PROT32) {
		s->rsi = b->entry.ebx;
		s->cr3 = b->entry.eax;
	} else {
		s->rsi = b->entry.rsi;
		s->cr3 = b->entry.cr3;
	}
	s->gdt_base = b->entry.gdt_base;
	s->gdt_limit = b->entry.gdt_limit;
	s->clock_flags = b->clock_flags;
	s->tsc_offset = b->tsc_offset;
	s->kvmclock = b->kvmclock;
	s->realtime_ns = b->realtime_ns;
	s->host_tsc = b->host_tsc;
	s->tsc_khz = b->tsc_khz;
	/* The rest of boot_id stays zero, as the wire wants. */
	memcpy(s->boot_id, b->boot_id, strnlen(b->boot_id, sizeof(s->boot_id) - 1));
	s->nr_nodes = b->nr_nodes;
	for (unsigned i = 0; i < b->nr_nodes; i++) {
		if (b->has_delta[i]) {
			s->has_delta |= 1ULL << i;
			s->tsc_delta[i] = b->tsc_delta[i];
		}
	}
	s->nr_ranges = b->nr_ranges;
	for (unsigned i = 0; i < b->nr_ranges; i++)
		s->ranges[i] = (struct net_range){ b->first[i], b->count[i] };
}

int start_from_wire(const struct net_start *s, struct boot_text *b)
{
	memset(b, 0, sizeof(*b));
	/* The wire checked both counts against the same bounds; this keeps
	 * the arrays below safe whoever filled s. */
	if (s->nr_nodes > CLUSTER_MAX_NODES || s->nr_ranges > NET_START_RANGES)
		return -EINVAL;
	b->entry.rip = s->rip;
	b->entry.mode = (uint8_t)s->entry_mode;
	if (s->entry_mode == BOOT_MODE_PROT32) {
		b->entry.ebx = (uint32_t)s->rsi;
		b->entry.eax = (uint32_t)s->cr3;
	} else {
		b->entry.rsi = s->rsi;
		b->entry.cr3 = s->cr3;
	}
	b->entry.gdt_base = s->gdt_base;
	b->entry.gdt_limit = s->gdt_limit;
	b->clock_flags = s->clock_flags;
	b->tsc_offset = s->tsc_offset;
	b->kvmclock = s->kvmclock;
	b->realtime_ns = s->realtime_ns;
	b->host_tsc = s->host_tsc;
	b->tsc_khz = s->tsc_khz;
	memcpy(b->boot_id, s->boot_id, sizeof(b->boot_id));
	b->nr_nodes = s->nr_nodes;
	for (unsigned i = 0; i < s->nr_nodes; i++) {
		/* A delta not flagged is no measurement: not taken. */
		b->has_delta[i] = s->has_delta >> i & 1;
		b->tsc_delta[i] = b->has_delta[i] ? s->tsc_delta[i] : 0;
	}
	b->nr_ranges = s->nr_ranges;
	for (unsigned i = 0; i < s->nr_ranges; i++) {
		b->first[i] = s->ranges[i].first;
		b->count[i] = s->ranges[i].count;
	}
	return 0;
}
