#include "node/start.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cluster/cluster.h"
#include "cluster/rtt.h"
#include "cpu/hostcpu.h"
#include "cpu/tscsync.h"
#include "hw/mem.h"
#include "net/addr.h"
#include "util/log.h"
#include "vmm/vm.h"

static void read_boot_id(char *out, size_t len)
{
	if (!hostcpu_boot_id(out, len))
		snprintf(out, len, "unknown");
}

int start_clock_sample(struct vm *vm, struct boot_text *b)
{
	struct kvm_clock_data cd = { 0 };

	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &cd) < 0)
		return -errno;
	b->kvmclock = cd.clock;
	b->clock_flags = cd.flags;
	b->realtime_ns = cd.realtime;
	b->host_tsc = cd.host_tsc;
	/* KVM fills in the host TSC and the realtime clock read with the
	 * kvmclock only when the host's clocksource is the TSC. Otherwise
	 * take the pair ourselves, back to back: a joining node on another
	 * host rebases the guest TSC on it (and would otherwise be decades
	 * off). */
	if ((cd.flags & (KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME)) !=
	    (KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME)) {
		struct timespec ts;

		b->host_tsc = __rdtsc();
		clock_gettime(CLOCK_REALTIME, &ts);
		b->realtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		b->clock_flags &= ~(KVM_CLOCK_HOST_TSC | KVM_CLOCK_REALTIME);
	}
	b->tsc_khz = vm->tsc_khz;
	b->tsc_offset = vm->tsc_offset;
	read_boot_id(b->boot_id, sizeof(b->boot_id));
	return 0;
}

#define TSC_PROBES 32
void start_tsc_probe(struct cluster *c, const struct auth_key *key, unsigned nr_nodes,
		     struct boot_text *b)
{
	b->nr_nodes = nr_nodes;
	b->has_delta[0] = true;
	b->tsc_delta[0] = 0;
	for (unsigned i = 1; i < nr_nodes; i++) {
		struct tsc_probe p[TSC_PROBES];
		char host[CLUSTER_ADDR_MAX];
		int port = cluster_rtt_port(c, i);
		uint64_t err;

		b->has_delta[i] = false;
		addr_host(cluster_addr(c, i), host, sizeof(host));
		if (!port || rtt_tsc_probe(host, port, key, TSC_PROBES, p) ||
		    tscsync_delta(p, TSC_PROBES, &b->tsc_delta[i], &err)) {
			pr_warn("node %u: cannot compare TSCs by round trips; "
				"it will use the realtime clocks", i);
			continue;
		}
		b->has_delta[i] = true;
		pr_info("node %u: host TSC %+" PRId64 " ticks from ours, within %" PRIu64,
			i, b->tsc_delta[i], err);
	}
}

int start_clock_adopt(struct vm *vm, unsigned self, const struct boot_text *b)
{
	struct kvm_clock_data cd = { .clock = b->kvmclock };
	char my_boot[NET_BOOT_ID_MAX];
	int64_t off = b->tsc_offset;
	int r;

	if (!tscsync_same_rate(b->tsc_khz, vm->tsc_khz)) {
		fprintf(stderr, "amalgam: this node's TSC runs at %lu kHz, node 0's at %lu kHz: "
			"every node needs the same TSC frequency\n",
			(unsigned long)vm->tsc_khz, (unsigned long)b->tsc_khz);
		return -EINVAL;
	}
	read_boot_id(my_boot, sizeof(my_boot));
	if (strcmp(my_boot, b->boot_id) != 0) {
		struct tsc_sample ts0 = {
			.host_tsc = b->host_tsc, .offset = b->tsc_offset,
			.realtime_ns = b->realtime_ns, .khz = b->tsc_khz,
		};
		struct timespec ts;
		uint64_t my_tsc = __rdtsc();
		unsigned me = self;

		if (me < b->nr_nodes && b->has_delta[me]) {
			off = tscsync_offset_from_delta(b->tsc_offset, b->tsc_delta[me]);
			pr_info("node on another host: TSC agreed by round trips to node 0");
		} else {
			clock_gettime(CLOCK_REALTIME, &ts);
			off = tscsync_offset(&ts0, my_tsc,
					     (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec);
			pr_warn("node on another host: TSC agreed through the realtime clocks");
		}
	}
	r = vm_set_tsc_offset(vm, off);
	if (r)
		return r;
	if (b->clock_flags & KVM_CLOCK_REALTIME) {
		cd.flags = KVM_CLOCK_REALTIME;
		cd.realtime = b->realtime_ns;
	}
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &cd) < 0)
		return -errno;
	return 0;
}

int start_loaded_ranges(const struct guest_mem *mem, struct boot_text *b)
{
	off_t pos = 0, end = (off_t)mem->size;

	b->nr_ranges = 0;
	while (pos < end) {
		off_t data = lseek(mem->fd, pos, SEEK_DATA);
		off_t hole;

		if (data < 0)
			break;
		hole = lseek(mem->fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		if (b->nr_ranges >= NET_START_RANGES)
			return -ENOSPC;
		b->first[b->nr_ranges] = (uint64_t)data / 4096;
		b->count[b->nr_ranges] = ((uint64_t)hole - (uint64_t)data + 4095) / 4096;
		b->nr_ranges++;
		pos = hole;
	}
	return 0;
}
