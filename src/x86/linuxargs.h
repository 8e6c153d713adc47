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
 *    nodes; the SRAT already makes the guest allocate node-local memory;
 *  - tsc=reliable: every vCPU on every node has one TSC, invariant and
 *    agreed at start (node/start.c), which is what the flag asserts; it
 *    turns off the clocksource watchdog, whose timer visits every CPU in
 *    turn, a nohz_full one too, and compares the TSC with the HPET or the
 *    ACPI PM timer (a device on node 0). In the lab, once a CPU of another
 *    node ticked, its tick did not stop: each tick took tens of
 *    milliseconds of remote faults (the load balancer reading the other
 *    node's run queues, jiffies), so the next was always due (bench/scale:
 *    CPU 1 in scheduler_tick, load_balance or tick_do_update_jiffies64 at
 *    most samples, EP 2.5 times slower than on one host);
 *  - sysctl.vm.compaction_proactiveness=0 (a sysctl set from the command
 *    line, Linux 5.8 and later): proactive compaction wakes each NUMA
 *    node's kcompactd every 500 ms to score its fragmentation, the
 *    wake-up a timer on the housekeeping CPU and an IPI to the node's
 *    CPUs, where the second runnable task restarts a nohz_full CPU's
 *    tick. Traced in the lab (bench/scale's EP, ftrace on CPU 1):
 *    kcompactd1 ran every 500 ms on CPU 1, each time after a function-call
 *    IPI, with two or three ticks (tick_stop: dependency SCHED) until it
 *    slept again. Compaction on demand (an allocation that needs it)
 *    stays; with 0, kcompactd sleeps until asked.
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
