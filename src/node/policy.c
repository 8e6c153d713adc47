/* Which system calls each kind of thread may make once the node runs
 * (util/confine.h has the mechanism). One list per kind of work, each
 * kind's filter the union of the lists it names below. What is left out
 * on purpose, for every thread: creating processes and running programs
 * (fork, execve; clone only for a thread, and only where a library starts
 * threads at run time), opening files for writing, new sockets but where
 * a server accepts, mount, ptrace, bpf, module loading, keyrings,
 * changing signal handlers, credentials and capabilities.
 *
 * How the lists were found: the node runs every suite but the lab with
 * the filters on; a call left out stops the node with one line naming
 * the thread and the call (the SIGSYS handler), and the call went into
 * the list of the work that needs it, here, with the reason. */
#include "node/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define A CONFINE_ALLOW
#define IF CONFINE_ALLOW_IF

/* ioctl's request (argument 1): its type byte is bits 8-15. */
#define IOC_TYPE_MASK 0xff00ULL
#define KVMIO_TYPE   0xae00ULL	/* KVM_RUN, KVM_GET_*, KVM_SET_*, KVM_INTERRUPT ... */
#define UFFDIO_TYPE  0xaa00ULL	/* UFFDIO_COPY, _WRITEPROTECT, _CONTINUE, _WAKE ... */
#define IOCTL_ANY    0xffffffffULL

/* Every thread: memory, locks, time, its signals, logging and sending on
 * an established link (any thread may send: cluster_send, and a send
 * that fails ends the link: shutdown), libsodium's randomness. Also
 * sched_getaffinity: glibc's malloc asks for the CPU count the first time
 * any thread needs an arena of its own, in whichever thread that is (seen:
 * a vCPU thread moved to node 0 and a network card's thread, each killed
 * by its filter on its first malloc); it only reads this process's own
 * CPU mask. */
static const struct confine_rule common[] = {
	A(SYS_read), A(SYS_write), A(SYS_readv), A(SYS_writev), A(SYS_close),
	A(SYS_futex), A(SYS_mmap), A(SYS_munmap), A(SYS_mprotect), A(SYS_mremap),
	A(SYS_madvise), A(SYS_brk),
	A(SYS_exit), A(SYS_exit_group), A(SYS_rt_sigreturn), A(SYS_rt_sigprocmask),
	A(SYS_restart_syscall),
	A(SYS_clock_gettime), A(SYS_clock_nanosleep), A(SYS_nanosleep), A(SYS_gettimeofday),
	A(SYS_gettid), A(SYS_getpid), A(SYS_tgkill), A(SYS_sched_yield),
	A(SYS_sched_getaffinity), A(SYS_getrandom), A(SYS_fstat), A(SYS_newfstatat), A(SYS_lseek),
	A(SYS_poll), A(SYS_ppoll),
	A(SYS_sendto), A(SYS_sendmsg), A(SYS_shutdown),
	/* isatty() on the log's stream */
	IF(SYS_ioctl, 1, IOCTL_ANY, 0x5401 /* TCGETS */),
	CONFINE_END
};

/* Every thread but the main one: opening a file fails (EACCES), quietly,
 * because glibc's malloc opens /proc/sys/vm/overcommit_memory in whichever
 * thread first shrinks an arena's heap, and copes when it cannot. Nothing
 * of ours opens a file after start-up but the main thread. */
static const struct confine_rule no_open[] = {
	CONFINE_FAIL(SYS_openat, EACCES), CONFINE_FAIL(SYS_open, EACCES),
	CONFINE_END
};

/* KVM on a vCPU's fd: the run loop, its exits and a vCPU's state in and
 * out; its LAPIC timer (a POSIX timer signalling the thread) and sleeps. */
static const struct confine_rule kvm_vcpu[] = {
	IF(SYS_ioctl, 1, IOC_TYPE_MASK, KVMIO_TYPE),
	A(SYS_timer_settime), A(SYS_timer_gettime), A(SYS_timer_delete),
	A(SYS_rt_sigtimedwait), A(SYS_rt_sigsuspend), A(SYS_pselect6),
	CONFINE_END
};

/* Serving port and MMIO accesses into the device models: the PIT's
 * timerfd, the UART's wake-ups, a disk's notification; a vCPU's LAPIC
 * timer armed from another thread's delivery. */
static const struct confine_rule devices[] = {
	A(SYS_timerfd_settime), A(SYS_timerfd_gettime),
	A(SYS_timer_settime), A(SYS_timer_gettime),
	/* a network card's driver says which offloads it takes (tap.c) */
	IF(SYS_ioctl, 1, IOCTL_ANY, TUNSETOFFLOAD),
	CONFINE_END
};

/* The memory plane: resolving faults and taking pages away. */
static const struct confine_rule memory[] = {
	IF(SYS_ioctl, 1, IOC_TYPE_MASK, UFFDIO_TYPE),
	A(SYS_fallocate),
	CONFINE_END
};

/* The receive thread: epoll over the links, handshakes of incoming
 * connections. */
static const struct confine_rule links[] = {
	A(SYS_epoll_wait), A(SYS_epoll_pwait), A(SYS_epoll_ctl),
	A(SYS_accept4), A(SYS_accept), A(SYS_recvfrom), A(SYS_recvmsg),
	A(SYS_setsockopt), A(SYS_getsockopt), A(SYS_getpeername), A(SYS_getsockname),
	A(SYS_shutdown), A(SYS_fcntl),
	IF(SYS_ioctl, 1, IOCTL_ANY, 0x541b /* FIONREAD */),
	CONFINE_END
};

/* A disk's workers: I/O on the image they were given (fallocate:
 * discard and write-zeroes punch holes). */
static const struct confine_rule disk[] = {
	A(SYS_preadv), A(SYS_pwritev), A(SYS_pread64), A(SYS_pwrite64),
	A(SYS_fsync), A(SYS_fdatasync), A(SYS_fallocate),
	CONFINE_END
};

/* libmicrohttpd's threads: accepting, a thread per connection (clone3
 * refused with ENOSYS so that glibc uses clone, whose flags can be
 * checked: threads only), its own wake-ups. */
static const struct confine_rule http[] = {
	A(SYS_accept4), A(SYS_accept), A(SYS_recvfrom), A(SYS_recvmsg),
	A(SYS_select), A(SYS_pselect6), A(SYS_epoll_wait), A(SYS_epoll_pwait),
	A(SYS_epoll_ctl), A(SYS_epoll_create1), A(SYS_eventfd2), A(SYS_pipe2),
	A(SYS_setsockopt), A(SYS_getsockopt), A(SYS_getsockname), A(SYS_getpeername),
	A(SYS_shutdown), A(SYS_fcntl),
	IF(SYS_clone, 0, CLONE_THREAD, CLONE_THREAD),
	CONFINE_FAIL(SYS_clone3, ENOSYS),
	A(SYS_set_robust_list), A(SYS_rseq), A(SYS_sched_getaffinity),
	IF(SYS_ioctl, 1, IOCTL_ANY, 0x5421 /* FIONBIO */),
	/* it names its threads (pthread_setname_np) */
	IF(SYS_prctl, 0, 0xffffffffULL, PR_SET_NAME),
	CONFINE_END
};

/* The main thread after start-up: its wait loop (the API's eventfd, the
 * cost model's reads of /proc/self/task/N/schedstat: read-only opens),
 * statistics, and the teardown: stopping the servers and the local
 * nodes it spawned, joining threads, closing the VM. */
static const struct confine_rule main_thread[] = {
	IF(SYS_openat, 2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY),
	A(SYS_kill), A(SYS_wait4), A(SYS_unlink), A(SYS_rmdir),
	A(SYS_shutdown), A(SYS_epoll_ctl), A(SYS_fcntl),
	A(SYS_timer_delete), A(SYS_timer_settime), A(SYS_timerfd_settime),
	A(SYS_sched_getaffinity), A(SYS_fsync), A(SYS_fdatasync),
	IF(SYS_ioctl, 1, IOC_TYPE_MASK, KVMIO_TYPE),
	CONFINE_END
};

/* The echo server for round trips and TSC probes, a thread per client
 * (clone3 refused with ENOSYS so that glibc uses clone, whose flags can
 * be checked: threads only), which inherit this filter. */
static const struct confine_rule echo[] = {
	A(SYS_accept4), A(SYS_accept), A(SYS_recvfrom), A(SYS_setsockopt), A(SYS_shutdown),
	IF(SYS_clone, 0, CLONE_THREAD, CLONE_THREAD),
	CONFINE_FAIL(SYS_clone3, ENOSYS),
	A(SYS_set_robust_list), A(SYS_rseq),
	CONFINE_END
};

/* A network card's queue thread (virtio/net.c): epoll over its tap and
 * its kick eventfd; frames in and out with readv/writev (common). */
static const struct confine_rule nic[] = {
	A(SYS_epoll_wait), A(SYS_epoll_pwait), A(SYS_epoll_ctl),
	CONFINE_END
};

void node_policy(struct confine_options *o)
{
	static const struct {
		enum confine_kind kind;
		const struct confine_rule *sets[CONFINE_MAX_SETS];
	} p[] = {
		{ CONFINE_MAIN, { common, main_thread, devices, memory } },
		/* A vCPU serves this node's devices itself. */
		{ CONFINE_VCPU, { common, no_open, kvm_vcpu, devices } },
		/* It hands pages to the memory plane and vCPUs' states
		 * and interrupts to the CPU plane (arming LAPIC timers). */
		{ CONFINE_NET, { common, no_open, links, memory, devices } },
		{ CONFINE_PAGER, { common, no_open, memory } },
		{ CONFINE_MEMSEND, { common, no_open, memory } },
		{ CONFINE_DEVICE, { common, no_open, devices } },
		{ CONFINE_DISK, { common, no_open, disk, devices } },
		{ CONFINE_IOSERVE, { common, no_open, devices } },
		{ CONFINE_API, { common, no_open, http } },
		{ CONFINE_ECHO, { common, no_open, echo } },
		{ CONFINE_SERIAL, { common, no_open } },
		{ CONFINE_NIC, { common, no_open, nic, devices } },
	};

	for (unsigned i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		for (unsigned s = 0; s < CONFINE_MAX_SETS && p[i].sets[s]; s++)
			o->policy[p[i].kind][s] = p[i].sets[s];
}
