/* Confinement of a node's threads (after Firecracker's jailer and its
 * per-thread seccomp filters).
 *
 * The mechanism lives here, at the bottom, so that every layer can name
 * the kind of thread it starts; the policy (which system calls each kind
 * may make) is the node's (src/node/policy.c), which knows every plane.
 *
 * - confine_setup(), on the main thread before any other thread exists:
 *   PR_SET_NO_NEW_PRIVS (inherited by every thread), the SIGSYS handler,
 *   and each kind's filter compiled (libseccomp) into a BPF program.
 * - confine_thread(kind, i), first thing in every thread the node starts
 *   (the main thread calls it once start-up is over): names the thread
 *   ("vcpu3", "net-rx", ...), drops its capabilities (capabilities and
 *   the bounding set are per thread in Linux), and loads its kind's
 *   filter. Threads a library starts (libmicrohttpd's) inherit the filter
 *   and capabilities of the thread that starts them: the API is started
 *   from a thread that confined itself first (confine_run_as).
 *
 * A system call outside a thread's filter traps (SECCOMP_RET_TRAP): the
 * SIGSYS handler writes one line naming the node, the thread and the
 * call, and ends the process with status 128 + SIGSYS. Ending rather than
 * failing the call with an error: the thread was doing something no path
 * of ours does, so it is either a bug that would leave that thread's work
 * half done, or code that is not ours probing for a way out; either way
 * the node must not go on, and its peers then see the link close and
 * stop the VM naming it. */
#ifndef AMALGAM_UTIL_CONFINE_H
#define AMALGAM_UTIL_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum confine_kind {
	CONFINE_MAIN,		/* node_run/node_join once started: the wait loop, teardown */
	CONFINE_VCPU,		/* KVM_RUN and the exits, local devices, sends */
	CONFINE_NET,		/* the transport's receive thread: every plane's messages */
	CONFINE_PAGER,		/* userfaultfd */
	CONFINE_MEMSEND,	/* the memory plane's sender */
	CONFINE_DEVICE,		/* the UART's service thread, the PIT's timer */
	CONFINE_DISK,		/* a disk's workers: host I/O on the image */
	CONFINE_IOSERVE,	/* forwarded port/MMIO accesses served into the devices */
	CONFINE_API,		/* the HTTP API's and the metrics' server threads */
	CONFINE_ECHO,		/* the round-trip echo server */
	CONFINE_SERIAL,		/* the serial copier */
	CONFINE_NIC,		/* a network card's queue thread: its tap and kicks */
	CONFINE_KINDS
};

/* One rule: the call nr (its __NR_ number) is allowed, or, with err set,
 * fails with that errno quietly (where a library probes and copes: glibc
 * falls back from clone3 to clone, whose flags can be checked). With
 * arg >= 0 the rule holds only when (argument[arg] & mask) == value. A
 * set ends with nr == -1. */
struct confine_rule {
	int nr;
	int arg;
	uint64_t mask, value;
	int err;
};

#define CONFINE_ALLOW(n)              { .nr = (n), .arg = -1 }
#define CONFINE_ALLOW_IF(n, a, m, v)  { .nr = (n), .arg = (a), .mask = (m), .value = (v) }
#define CONFINE_FAIL(n, e)            { .nr = (n), .arg = -1, .err = (e) }
#define CONFINE_END                   { .nr = -1 }

#define CONFINE_MAX_SETS 8

struct confine_options {
	bool seccomp;			/* false: --no-seccomp (capabilities still go) */
	/* Per kind, up to CONFINE_MAX_SETS rule sets (NULL-terminated), the
	 * filter allowing their union. */
	const struct confine_rule *policy[CONFINE_KINDS][CONFINE_MAX_SETS + 1];
	/* Tests: the kind whose threads, their filter loaded, make one call
	 * outside it (personality(0xffffffff), a query): -1 for none. Set
	 * only from the command line (--confine-selftest); nothing a guest
	 * or a peer sends can reach it. */
	int selftest;
};

/* 0, or -errno with the reason in err. Call once, before any thread. */
int confine_setup(const struct confine_options *o, char *err, size_t errlen);

/* Confine the calling thread as one of kind (index: a vCPU's id, a
 * worker's number; shown in its name). Without confine_setup (unit tests,
 * tools) it only names the thread. A filter that fails to load ends the
 * process with one line: a node must not run unconfined unawares. */
void confine_thread(enum confine_kind kind, unsigned index);

/* Run fn(arg) on a short-lived thread confined as kind, and wait for it:
 * for libraries that start threads of their own, which then inherit that
 * confinement. Returns what fn returned, or -errno if no thread. */
int confine_run_as(enum confine_kind kind, int (*fn)(void *), void *arg);

/* The kind's name, for logs ("vcpu", "net-rx", ...). */
const char *confine_kind_name(enum confine_kind kind);

/* The selftest kind named on the command line: 0 and *kind, or -EINVAL. */
int confine_parse_kind(const char *s, int *kind);

#endif
