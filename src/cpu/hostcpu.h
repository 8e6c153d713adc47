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

#endif
