/* What the VMM adds to a Linux guest's command line, and why.
 *
 * A Linux guest spread over several hosts pays for every cache line its
 * kernel shares between CPUs of different nodes: each such write moves a
 * page across the network (a remote fault: tens of microseconds on
 * hardware, about a millisecond in the lab). With nothing shared in user
 * space, a CPU of an idle-free parallel job still takes HZ (250) timer
 * ticks a second, and each tick reads what the timekeeping CPU just wrote
 * (jiffies, tk_core), reports to RCU and balances the scheduler against
 * the other CPUs' run queues: about a thousand remote faults per
 * vCPU-second, measured with `scripts/bench scale` (README, "Linux across
 * nodes"). So when the vCPUs span nodes, the guest is told:
 *  - nohz_full=1-N: every CPU but the boot CPU stops its tick while it
 *    runs one task. CPU 0 keeps the time (the tick and timekeeping duty
 *    stay on housekeeping CPUs), the others stop reading it 250 times a
 *    second. Debian's kernel is built with NO_HZ_FULL;
 *  - rcu_nocbs=1-N: RCU callbacks of those CPUs are run by kthreads on
 *    the housekeeping CPU (nohz_full implies it; said for older kernels);
 *  - numa_balancing=disable: automatic NUMA balancing scans every task's
 *    address space and rewrites its page-table entries from whichever CPU
 *    the task runs on, so the page tables of a process whose threads run
 *    on two nodes go back and forth, each scan with TLB shootdowns across
 *    nodes; the SRAT already makes the guest allocate node-local memory.
 * A parameter the user's own command line sets is left to the user, so
 * each default is overridden by giving it (e.g. nohz_full=2-3, or
 * numa_balancing=enable).
 * And, whenever kvmclock is hidden: tsc_early_khz, the TSC's frequency,
 * which Linux would otherwise calibrate against the PIT (which fails when
 * exits are slow, as under nested virtualization). */
#ifndef AMALGAM_X86_LINUXARGS_H
#define AMALGAM_X86_LINUXARGS_H

#include <stdbool.h>
#include <stddef.h>

struct linux_args {
	unsigned cpus;		/* vCPUs */
	bool spans;		/* the vCPUs start on more than one node */
	unsigned long tsc_khz;	/* pass tsc_early_khz; 0: do not */
};

/* The additions, space-separated (maybe empty), into buf; those user (the
 * user's command line, may be NULL) already sets are left out. -ENOSPC if
 * they do not fit. */
int linux_args_build(const struct linux_args *a, const char *user, char *buf, size_t len);

/* Does cmdline set parameter name (a word "name" or "name=...", before
 * any " -- " that starts init's arguments)? */
bool linux_args_has(const char *cmdline, const char *name);

#endif
