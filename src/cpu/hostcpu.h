/* What the host gives a node to run vCPUs on, as the kernel tells it: how
 * many CPUs, which host this is (nodes of one host share its CPUs: one
 * pool, cpu/affinity.h), and how much CPU a thread wanted. */
#ifndef AMALGAM_CPU_HOSTCPU_H
#define AMALGAM_CPU_HOSTCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The CPUs this process may run on (taskset and cpusets included): the
 * most a node of this host can have. At least 1. */
unsigned hostcpu_count(void);
/* The kernel's boot id: the same for every process on this host until it
 * reboots; false if it cannot be read. */
bool hostcpu_boot_id(char *out, size_t len);
/* An id of this host (a hash of its boot id); false if unknown. */
bool hostcpu_pool(uint64_t *pool);
/* Time thread tid of this process has run or waited to run, in ns, from
 * the scheduler's own accounting (CONFIG_SCHED_INFO): the CPU it wanted,
 * whether it got it or queued for it. Time it was blocked (a halted vCPU,
 * a page on its way) is not in it. False if the kernel does not say. */
bool hostcpu_thread_demand_ns(pid_t tid, uint64_t *ns);
/* With accessed and dirty flags for EPT (kvm_intel eptad=Y), every read of
 * a guest page-table entry by the page walker counts as a write to its page
 * (Intel SDM, "EPT Violations"). Shared copies of page tables then turn
 * into write faults on every TLB refill, and the page tables of a guest
 * running on several nodes bounce between them without end. QEMU's TCG
 * does the same through AMD nested paging, which is why the lab loads
 * kvm_amd npt=0 for runs across nodes. True if kvm_intel says eptad=Y. */
bool hostcpu_ept_ad(void);
/* Can KVM keep a master clock here? It needs the host's clocksource to be
 * the TSC. With it, KVM writes a vCPU's kvmclock structure when the guest
 * enables it and at rare clock events; without it, at every vCPU load.
 * Linux keeps every CPU's structure in one page, so across nodes kvmclock
 * is shown only with a master clock, else that page would bounce between
 * the nodes at every vCPU load (the guest then runs on the invariant TSC).
 * Each node decides for its own host. True if the clocksource is the TSC. */
bool hostcpu_clock_is_tsc(void);

#endif
