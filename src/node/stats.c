/* What a node prints: its counters (--stats, SIGUSR1), where the vCPUs
 * run, and the raw round-trip baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cluster/cluster.h"
#include "cluster/rtt.h"
#include "cpu/forward.h"
#include "hw/iobus.h"
#include "irq/lapic.h"
#include "memplane/memplane.h"
#include "net/addr.h"
#include "node/node_int.h"
#include "util/log.h"
#include "vmm/board.h"
#include "vmm/vcpu.h"

/* The whole block goes out in one write: every node of a run on one host
 * prints its block to the same stream as it stops, and a reader (a
 * person, a test) must find each node's lines together (seen in the lab:
 * cluster-bigmem lost a donor's lines among another node's). */
void node_print_stats(struct node *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct iobus_stats io;

	if (!f)
		f = stderr;

	iobus_stats(n->vm.iobus, &io);
	fprintf(f, "amalgam[%u] stats: pio=%lu (unclaimed %lu) mmio=%lu (unclaimed %lu)\n",
		n->p.self,
		(unsigned long)io.accesses[IO_PIO], (unsigned long)io.unclaimed[IO_PIO],
		(unsigned long)io.accesses[IO_MMIO], (unsigned long)io.unclaimed[IO_MMIO]);
	board_print_stats(n->board, f);
	pcibus_print_stats(n->pci, f);
	/* A running vCPU exits at the kick and records where it was; one
	 * blocked on a remote page keeps the RIP of its previous sample. */
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++)
		if (n->vm.local[i] && !vm_stopping(&n->vm))
			vcpu_sample_rip(n->vm.vcpus[i]);
	if (!vm_stopping(&n->vm))
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	for (unsigned i = 0; i < n->vm.nr_vcpus; i++) {
		struct vcpu_stats *s;
		struct lapic_stats ls;

		/* Those that ran here, now or before they moved. */
		if (!vcpu_here(n->vm.vcpus[i]) && !n->vm.vcpus[i]->stats.exits)
			continue;
		s = &n->vm.vcpus[i]->stats;
		lapic_stats(n->vm.vcpus[i]->lapic, &ls);
		fprintf(f,
			"amalgam[%u]   vcpu %u: exits=%lu io=%lu mmio=%lu msr=%lu hlt=%lu irqwin=%lu kicks=%lu"
			" injected=%lu ipis_sent=%lu irqs=%lu timer=%lu eois=%lu pv_eois=%lu rip=%#llx\n",
			n->p.self, i,
			(unsigned long)s->exits, (unsigned long)s->io_exits,
			(unsigned long)s->mmio_exits, (unsigned long)s->msr_exits,
			(unsigned long)s->hlt_exits, (unsigned long)s->irq_window_exits,
			(unsigned long)s->intr_exits, (unsigned long)s->injected,
			(unsigned long)ls.ipis_sent, (unsigned long)ls.irqs_accepted,
			(unsigned long)ls.timer_fires, (unsigned long)ls.eois,
			(unsigned long)ls.pv_eois,
			(unsigned long long)vcpu_sampled_rip(n->vm.vcpus[i]));
	}
	if (n->fwd) {
		struct forward_stats fs;

		forward_stats(n->fwd, &fs);
		fprintf(f,
			"amalgam[%u] cross-node: interrupts sent %lu received %lu, EOIs sent %lu received %lu,"
			" device accesses forwarded %lu served %lu (at most %lu queued) timed out %lu,"
			" vCPUs moved out %lu in %lu, peers' messages refused %lu\n", n->p.self,
			(unsigned long)fs.irq_sent, (unsigned long)fs.irq_received,
			(unsigned long)fs.eoi_sent, (unsigned long)fs.eoi_received,
			(unsigned long)fs.io_sent, (unsigned long)fs.io_served,
			(unsigned long)fs.io_queue_peak,
			(unsigned long)fs.io_timeouts, (unsigned long)fs.moved_out,
			(unsigned long)fs.moved_in, (unsigned long)fs.refused);
	}
	if (n->aff_on) {
		pthread_mutex_lock(&n->aff_lock);
		fprintf(f,
			"amalgam[%u] cost model: vCPUs sent to their pages %lu (home %lu), to "
			"spare CPUs %lu; CPUs offered %.0f (%s), wanted at the last sample %.2f\n",
			n->p.self, n->page_moves, n->home_moves, n->cpu_moves, n->cpus,
			n->offered ? "its own" : "its host's, shared with any node there",
			n->sched_ok ? n->last_load : 0.0);
		pthread_mutex_unlock(&n->aff_lock);
	}
	if (n->mem)
		memplane_print_stats(n->mem, f);
	if (n->cluster)
		cluster_print_stats(n->cluster, f);
	if (f != stderr) {
		fclose(f);
		for (size_t off = 0; off < len;) {
			ssize_t w = write(STDERR_FILENO, buf + off, len - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(buf);
	}
}


/* amalgam[N] sample: gtsc=T remote_faults=F hot=0xGPA:C,... rip=V:0xRIP,...
 *   resident=R cached=C budget=B timers=V:F/I,...
 * The guest's TSC is the clock every node shares with the guest, so a
 * benchmark can cut the samples of every node at the moments the guest
 * itself stamped (rdtsc in the guest = host TSC + the VM's offset here,
 * no scaling). remote_faults counts from start; hot is the window since
 * the previous line; rip, for each vCPU here, where it was when last
 * sampled (asked for at the previous line: no waiting here); resident
 * the pages this node's memfd holds, cached those of them homed elsewhere,
 * budget its home range + cache in pages (-1: no limit), timers each
 * vCPU's LAPIC timer expiries and the interrupts injected into it so far
 * (against the guest's own count in /proc/interrupts). */
void node_print_sample(struct node *n)
{
	struct memplane_hot hot[8];
	uint64_t remote;
	unsigned got = memplane_window(n->mem, &remote, hot, 8);
	char line[512];
	int off;

	off = snprintf(line, sizeof(line), "amalgam[%u] sample: gtsc=%llu remote_faults=%llu hot=",
		       n->p.self, (unsigned long long)(__rdtsc() + (uint64_t)n->vm.tsc_offset),
		       (unsigned long long)remote);
	for (unsigned i = 0; i < got && off > 0 && (size_t)off < sizeof(line); i++)
		off += snprintf(line + off, sizeof(line) - (size_t)off, "%s%#llx:%llu",
				i ? "," : "", (unsigned long long)hot[i].gpa,
				(unsigned long long)hot[i].count);
	for (unsigned i = 0, first = 1; i < n->vm.nr_vcpus && off > 0 &&
	     (size_t)off < sizeof(line); i++) {
		if (!n->vm.local[i] || !vcpu_here(n->vm.vcpus[i]))
			continue;
		off += snprintf(line + off, sizeof(line) - (size_t)off, "%s%u:%#llx",
				first ? " rip=" : ",", i,
				(unsigned long long)vcpu_sampled_rip(n->vm.vcpus[i]));
		first = 0;
		if (!vm_stopping(&n->vm))
			vcpu_sample_rip(n->vm.vcpus[i]);
	}
	{
		uint64_t res, cached, limit;
		uint64_t home = n->layout.end[n->p.self] - dsm_range_first(&n->layout, n->p.self);

		memplane_pages(n->mem, &res, &cached, &limit);
		if (off > 0 && (size_t)off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - (size_t)off,
					" resident=%llu cached=%llu budget=%lld",
					(unsigned long long)res, (unsigned long long)cached,
					limit == UINT64_MAX ? -1LL :
					(long long)(home + limit));
	}
	/* Each local vCPU's LAPIC timer expiries and the interrupts it was
	 * given, so far. */
	for (unsigned i = 0, first = 1; i < n->vm.nr_vcpus && off > 0 &&
	     (size_t)off < sizeof(line); i++) {
		struct lapic_stats ls;

		if (!n->vm.local[i] || !vcpu_here(n->vm.vcpus[i]))
			continue;
		lapic_stats(n->vm.vcpus[i]->lapic, &ls);
		off += snprintf(line + off, sizeof(line) - (size_t)off, "%s%u:%llu/%llu",
				first ? " timers=" : ",", i, (unsigned long long)ls.timer_fires,
				(unsigned long long)n->vm.vcpus[i]->stats.injected);
		first = 0;
	}
	fprintf(stderr, "%s\n", line);
}

/* One line saying where every vCPU runs, e.g. for the demo. */
void node_print_placement(const struct cluster_params *p, const uint8_t *place,
			  const char *when)
{
	char line[1024];
	size_t off = 0;

	off += snprintf(line, sizeof(line), "amalgam: %u nodes, %u vCPUs%s:", p->nr_nodes,
			p->cpus, when);
	for (unsigned node = 0; node < p->nr_nodes && off < sizeof(line); node++) {
		bool first = true;

		off += snprintf(line + off, sizeof(line) - off, " node %u [", node);
		for (unsigned i = 0; i < p->cpus && off < sizeof(line); i++)
			if (place[i] == node) {
				off += snprintf(line + off, sizeof(line) - off, "%s%u",
						first ? "" : " ", i);
				first = false;
			}
		if (off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off, "]");
	}
	fprintf(stderr, "%s\n", line);
}

void node_print_memory(const struct cluster_params *p)
{
	char line[1024], a[32];
	size_t off;

	off = (size_t)snprintf(line, sizeof(line), "amalgam: guest RAM %s:",
			       params_size_str(p->memory, a, sizeof(a)));
	for (unsigned i = 0; i < p->nr_nodes && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " node %u %s", i,
					p->node_mem[i] ? params_size_str(p->node_mem[i], a, sizeof(a))
						       : "none");
	fprintf(stderr, "%s\n", line);
}

/* Where the vCPUs ended, when any moved. */
void node_print_final_placement(struct node *n)
{
	uint8_t place[CLUSTER_MAX_VCPUS];
	struct forward_stats f;
	unsigned node;
	bool moved = false;

	forward_stats(n->fwd, &f);
	for (unsigned i = 0; i < n->p.cpus; i++) {
		place[i] = forward_where(n->fwd, i, &node) ? (uint8_t)node : n->p.place[i];
		moved |= place[i] != n->p.place[i];
	}
	if (moved || f.moved_out || f.moved_in)
		node_print_placement(&n->p, place, " at the end (vCPUs moved to their data or to spare CPUs)");
}

/* The raw TCP baseline to node 1..N-1, printed for the benchmarks. */
void node_measure_rtt(struct node *n, unsigned samples)
{
	for (unsigned i = 1; i < n->p.nr_nodes; i++) {
		struct rtt_result r;
		char host[CLUSTER_ADDR_MAX];
		int port = cluster_rtt_port(n->cluster, i);

		addr_host(cluster_addr(n->cluster, i), host, sizeof(host));
		if (!port || rtt_measure(host, port, &n->key, samples, &r)) {
			fprintf(stderr, "amalgam[0] rtt: node %u: cannot measure\n", i);
			continue;
		}
		fprintf(stderr, "amalgam[0] rtt: node %u: raw TCP 64 B -> 4 KiB round trip over %u samples: "
			"p50 %.1f us, p99 %.1f us, min %.1f us\n", i, r.samples, r.p50_us,
			r.p99_us, r.min_us);
	}
}
