/* Every counter a node keeps, as metrics (api/metrics.h): what --stats
 * prints, labelled by vCPU or message type where it is per vCPU or per
 * type, and the fault latencies as histograms. Called on the metrics
 * server's thread and by the API's /stats on the main thread: it reads
 * only what any thread may read (atomic counters, the planes' stats
 * calls, the cost model's figures under its lock). */
#include <stdio.h>

#include "api/metrics.h"
#include "api/server.h"
#include "cluster/cluster.h"
#include "cpu/forward.h"
#include "hw/iobus.h"
#include "irq/lapic.h"
#include "memplane/memplane.h"
#include "net/transport.h"
#include "node/node_int.h"
#include "util/lathist.h"
#include "vmm/vcpu.h"

#define C(o, n, h, v) metrics_add(o, &(struct metric){ n, h, METRIC_COUNTER, NULL, NULL, \
						       (double)(v) })
#define G(o, n, h, v) metrics_add(o, &(struct metric){ n, h, METRIC_GAUGE, NULL, NULL, \
						       (double)(v) })
#define CL(o, n, h, l, lv, v) metrics_add(o, &(struct metric){ n, h, METRIC_COUNTER, l, lv, \
							      (double)(v) })
#define GL(o, n, h, l, lv, v) metrics_add(o, &(struct metric){ n, h, METRIC_GAUGE, l, lv, \
							      (double)(v) })

/* Label values must outlive the collection: one static string per id. */
static const char *id_str(unsigned i)
{
	static char ids[VM_MAX_VCPUS][4];
	static int once;

	if (!__atomic_load_n(&once, __ATOMIC_ACQUIRE)) {
		for (unsigned k = 0; k < VM_MAX_VCPUS; k++)
			snprintf(ids[k], sizeof(ids[k]), "%u", k);
		__atomic_store_n(&once, 1, __ATOMIC_RELEASE);
	}
	return i < VM_MAX_VCPUS ? ids[i] : "?";
}

static void vcpus(struct node *n, struct metrics_out *o)
{
	unsigned here = 0;

	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu *v = n->vm.vcpus[i];
		const struct vcpu_stats *s = &v->stats;
		struct lapic_stats ls;
		const char *id = id_str(i);

		here += vcpu_here(v);
		/* Those that ran here, now or before they moved. */
		if (!vcpu_here(v) && !s->exits)
			continue;
		lapic_stats(v->lapic, &ls);
		CL(o, "vcpu_exits", "KVM exits of the vCPU on this node", "vcpu", id, s->exits);
		CL(o, "vcpu_io_exits", "port I/O exits", "vcpu", id, s->io_exits);
		CL(o, "vcpu_mmio_exits", "MMIO exits", "vcpu", id, s->mmio_exits);
		CL(o, "vcpu_msr_exits", "MSR exits", "vcpu", id, s->msr_exits);
		CL(o, "vcpu_hlt_exits", "HLT exits", "vcpu", id, s->hlt_exits);
		CL(o, "vcpu_irq_window_exits", "interrupt-window exits", "vcpu", id,
		   s->irq_window_exits);
		CL(o, "vcpu_kicks", "exits forced by a kick", "vcpu", id, s->intr_exits);
		CL(o, "vcpu_injected", "interrupts injected", "vcpu", id, s->injected);
		CL(o, "vcpu_ipis_sent", "IPIs sent by its LAPIC", "vcpu", id, ls.ipis_sent);
		CL(o, "vcpu_irqs_accepted", "interrupts its LAPIC accepted", "vcpu", id,
		   ls.irqs_accepted);
		CL(o, "vcpu_timer_fires", "LAPIC timer expiries", "vcpu", id, ls.timer_fires);
		CL(o, "vcpu_eois", "EOIs its LAPIC took", "vcpu", id, ls.eois);
		CL(o, "vcpu_pv_eois", "of those, by the guest's PV EOI flag", "vcpu", id,
		   ls.pv_eois);
		CL(o, "vcpu_page_wait_seconds", "time waiting for remote pages on this node",
		   "vcpu", id, __atomic_load_n(&n->page_wait_ns[i], __ATOMIC_RELAXED) / 1e9);
	}
	G(o, "vcpus_here", "vCPUs running on this node", here);
}

static void memory(struct node *n, struct metrics_out *o)
{
	struct memplane_stats m;
	struct lathist h, all;
	const struct dsm_stats *p = &m.proto;

	/* Every fault's time before the fault count: a fault is counted
	 * before its time is taken, so read in this order the count is never
	 * below the histogram's (a scraper may check it). */
	memplane_lat_hist(n->mem, -1, &all);
	memplane_stats(n->mem, &m);
	C(o, "faults", "userfaultfd faults handled", m.faults);
	C(o, "faults_local", "requests settled without a message", m.local_resolved);
	C(o, "mem_msgs_sent", "memory-plane messages sent", m.msgs_sent);
	C(o, "mem_msgs_received", "memory-plane messages received", m.msgs_recv);
	C(o, "mem_bytes_sent", "memory-plane payload bytes sent", m.bytes_sent);
	C(o, "mem_bytes_received", "memory-plane payload bytes received", m.bytes_recv);
	C(o, "pages_sent", "pages of contents sent", m.pages_sent);
	C(o, "pages_received", "pages of contents received", m.pages_recv);
	C(o, "mem_held", "messages held back (window, before start)", m.held);
	G(o, "mem_out_queue_max", "deepest outbound queue seen", m.out_queue_max);
	C(o, "mem_bad_msgs", "memory messages refused before the protocol", m.bad_msgs);
	C(o, "mem_send_errors", "memory messages that could not be sent", m.send_errors);
	C(o, "dsm_read_miss", "faults that sent a READ_REQ", p->read_miss);
	C(o, "dsm_write_miss", "faults that sent a WRITE_REQ without a copy", p->write_miss);
	C(o, "dsm_upgrade", "faults that sent a WRITE_REQ holding Shared", p->upgrade);
	C(o, "dsm_fault_joined", "faults that waited for an outstanding request",
	  p->fault_joined);
	C(o, "dsm_fault_spurious", "faults on a page already accessible", p->fault_spurious);
	C(o, "dsm_inv_sent", "invalidations sent", p->inv_sent);
	C(o, "dsm_inv_received", "invalidations received", p->inv_recv);
	C(o, "dsm_invalidations", "local copies dropped", p->invalidations);
	C(o, "dsm_downgrades", "Exclusive copies downgraded to Shared", p->downgrades);
	C(o, "dsm_zero_grants", "grants of never-written pages", p->zero_grants);
	C(o, "dsm_upgrade_grants", "ownership granted without data", p->upgrade_grants);
	C(o, "dsm_retries", "upgrades overtaken by an invalidation", p->retries);
	C(o, "dsm_queued", "requests that waited behind another", p->queued);
	G(o, "pages_resident", "guest pages this node's memfd holds", m.resident);
	G(o, "pages_cached", "copies of pages homed on other nodes held here", m.cached);
	if (m.cache_limit != UINT64_MAX)
		G(o, "pages_cache_limit", "most copies of other nodes' pages held at once (--cache)",
		  m.cache_limit);
	G(o, "pages_home", "pages of this node's home range", m.home_pages);
	C(o, "dsm_evictions", "copies evicted to stay within the cache", p->evictions);
	C(o, "dsm_writebacks", "evicted Exclusive copies written back to their home",
	  p->writebacks);
	C(o, "dsm_evicts_received", "evictions taken as a home", p->evicts_recv);
	C(o, "mem_over_budget", "requests that found every cached page busy", m.over_budget);
	C(o, "dsm_bad_msgs", "malformed page messages", p->bad_msgs);
	C(o, "dsm_proto_errors", "page messages impossible in the state", p->proto_errors);
	for (unsigned t = 0; t < DSM_MSG_TYPES; t++) {
		const char *name = dsm_msg_type_name(t);

		if (!name || name[0] == '?')
			continue;
		CL(o, "dsm_msgs_sent", "page-protocol messages sent, by type", "type", name,
		   p->msgs_sent[t]);
		CL(o, "dsm_msgs_received", "page-protocol messages received, by type", "type",
		   name, p->msgs_recv[t]);
	}
	for (int k = 0; k < MEMPLANE_LAT_KINDS; k++) {
		memplane_lat_hist(n->mem, k, &h);
		metrics_add_hist(o, "remote_fault_seconds",
				 "remote fault to page mapped, by what the fault asked for",
				 "kind", memplane_lat_name((enum memplane_lat)k), &h);
	}
	/* Also as two counters, for the console's latency over time. */
	C(o, "fault_wait_ns", "time from every fault to its page, ns, summed", all.sum);
	C(o, "fault_count", "faults whose time is in fault_wait_ns", all.n);
	for (unsigned p = 0; p < n->p.nr_nodes && p < VM_MAX_VCPUS; p++) {
		if (p == n->p.self)
			continue;
		CL(o, "pages_sent_to", "pages sent to each peer", "peer", id_str(p),
		   __atomic_load_n(&n->pages_to[p], __ATOMIC_RELAXED));
		CL(o, "pages_received_from", "pages received from each peer", "peer", id_str(p),
		   __atomic_load_n(&n->pages_from[p], __ATOMIC_RELAXED));
	}
	metrics_add_hist(o, "fault_seconds", "every fault to page mapped or woken", NULL, NULL,
			 &all);
}

static void network(struct node *n, struct metrics_out *o)
{
	struct transport_stats s;

	cluster_net_stats(n->cluster, &s);
	C(o, "net_connected", "outbound connections authenticated", s.connected);
	C(o, "net_accepted", "inbound connections authenticated", s.accepted);
	C(o, "net_auth_failures", "handshakes refused for the key", s.auth_failures);
	C(o, "net_handshake_failures", "other refused handshakes", s.handshake_failures);
	C(o, "net_bad_frames", "connections dropped for a bad frame", s.bad_frames);
	C(o, "net_disconnects", "peers lost", s.disconnects);
	C(o, "net_bad_pongs", "PONGs refused (a token or time this node never sent)",
	  cluster_bad_pongs(n->cluster));
	for (unsigned t = 0; t < NET_MSG_NR; t++) {
		const char *name = wire_type_name(t);

		if (!name || name[0] == '?')
			continue;
		CL(o, "net_msgs_sent", "messages sent, by type", "type", name, s.wire.tx_msgs[t]);
		CL(o, "net_msgs_received", "messages received, by type", "type", name,
		   s.wire.rx_msgs[t]);
		CL(o, "net_bytes_sent", "bytes sent, by type", "type", name, s.wire.tx_bytes[t]);
		CL(o, "net_bytes_received", "bytes received, by type", "type", name,
		   s.wire.rx_bytes[t]);
	}
	for (unsigned r = 0; r < NET_REJ_NR; r++)
		CL(o, "net_rejects", "frames refused, by reason", "reason", wire_reject_name(r),
		   s.wire.rejects[r]);
}

void node_collect(void *opaque, struct metrics_out *o)
{
	struct node *n = opaque;
	struct iobus_stats io;

	iobus_stats(n->vm.iobus, &io);
	C(o, "pio_accesses", "port I/O accesses", io.accesses[IO_PIO]);
	C(o, "pio_unclaimed", "port I/O accesses no device claimed", io.unclaimed[IO_PIO]);
	C(o, "mmio_accesses", "MMIO accesses", io.accesses[IO_MMIO]);
	C(o, "mmio_unclaimed", "MMIO accesses no device claimed", io.unclaimed[IO_MMIO]);
	G(o, "paused", "1 while the VM is paused", vm_paused(&n->vm));
	vcpus(n, o);
	if (n->fwd) {
		struct forward_stats f;

		forward_stats(n->fwd, &f);
		C(o, "irq_sent", "interrupts sent to other nodes", f.irq_sent);
		C(o, "irq_received", "interrupts received from other nodes", f.irq_received);
		C(o, "eoi_sent", "EOIs sent to the devices' node", f.eoi_sent);
		C(o, "eoi_received", "EOIs received", f.eoi_received);
		C(o, "io_forwarded", "device accesses forwarded", f.io_sent);
		C(o, "io_served", "device accesses served for other nodes", f.io_served);
		C(o, "io_timeouts", "forwarded device accesses timed out", f.io_timeouts);
		C(o, "vcpus_moved_out", "vCPUs that left this node", f.moved_out);
		C(o, "vcpus_moved_in", "vCPUs that arrived on this node", f.moved_in);
	}
	if (n->fwd) {	/* aff_lock exists with several nodes */
		pthread_mutex_lock(&n->aff_lock);
		C(o, "vcpus_sent_to_pages", "vCPUs this node sent to their pages", n->page_moves);
		C(o, "vcpus_sent_home", "of those, vCPUs sent home for their memory there",
		  n->home_moves);
		C(o, "vcpus_sent_to_cpus", "vCPUs this node sent to spare CPUs", n->cpu_moves);
		G(o, "cpus_offered", "CPUs this node offers", n->cpus);
		G(o, "cpus_wanted", "CPUs its vCPUs wanted at the last sample",
		  n->sched_ok ? n->last_load : 0.0);
		pthread_mutex_unlock(&n->aff_lock);
	}
	if (n->mem)
		memory(n, o);
	if (n->cluster)
		network(n, o);
	if (n->p.self == 0 && n->p.nr_nodes > 1) {
		uint64_t taken, rej[REPORT_REJ_NR];

		node_report_stats(n, &taken, rej);
		C(o, "reports_taken", "other nodes' reports taken for the API", taken);
		for (unsigned r = 0; r < REPORT_REJ_NR; r++)
			CL(o, "reports_rejected", "other nodes' reports refused, by reason",
			   "reason", report_reject_name(r), rej[r]);
	}
	if (n->api) {
		struct api_server_stats as;

		api_server_stats(n->api, &as);
		C(o, "api_requests", "API requests received", as.requests);
		C(o, "api_answered", "API requests answered with success", as.answered);
		for (unsigned r = 0; r < API_REJ_NR; r++)
			CL(o, "api_rejected", "API requests refused, by reason", "reason",
			   api_reject_name(r), as.rejected[r]);
	}
}
