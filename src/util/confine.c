/* Confinement: no new privileges, capabilities dropped per thread, and a
 * seccomp filter per kind of thread. The contract is in confine.h. */
#include "util/confine.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

/* System calls named in the SIGSYS line: numbers past this print alone. */
#define NAMES 512
#define NAME_LEN 24

static const struct {
	const char *name;
	bool indexed;		/* one thread per index: the index is in its name */
} kinds[CONFINE_KINDS] = {
	[CONFINE_MAIN] = { "main" },
	[CONFINE_VCPU] = { "vcpu", true },
	[CONFINE_NET] = { "net-rx" },
	[CONFINE_PAGER] = { "pager" },
	[CONFINE_MEMSEND] = { "mem-send" },
	[CONFINE_DEVICE] = { "device" },
	[CONFINE_DISK] = { "disk" },
	[CONFINE_IOSERVE] = { "io-serve" },
	[CONFINE_API] = { "api" },
	[CONFINE_ECHO] = { "echo" },
	[CONFINE_SERIAL] = { "serial" },
	[CONFINE_NIC] = { "nic" },
};

/* Written once by confine_setup, before any other thread; read-only after. */
static bool ready, filtering;
static int selftest = -1;
static struct sock_fprog progs[CONFINE_KINDS];
static char names[NAMES][NAME_LEN];

/* The calling thread, for the SIGSYS line. */
static __thread int my_kind = -1;
static __thread unsigned my_index;
static __thread pid_t my_tid;

const char *confine_kind_name(enum confine_kind kind)
{
	return (unsigned)kind < CONFINE_KINDS ? kinds[kind].name : "?";
}

int confine_parse_kind(const char *s, int *kind)
{
	for (int k = 0; k < CONFINE_KINDS; k++)
		if (!strcmp(s, kinds[k].name)) {
			*kind = k;
			return 0;
		}
	return -EINVAL;
}

/* ---- the SIGSYS line: async-signal-safe, no stdio, no malloc ------------- */

static size_t put_str(char *b, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		b[at++] = *s++;
	return at;
}

static size_t put_uint(char *b, size_t at, size_t cap, unsigned long v)
{
	char d[24];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(d));
	while (n && at + 1 < cap)
		b[at++] = d[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	/* The filter that trapped says its kind in the TRAP's data (set by
	 * compile() below): right even for a thread a library started. */
	int kind = si->si_errno - 1;
	unsigned nr = (unsigned)si->si_syscall;
	char line[320];
	size_t at = 0, cap = sizeof(line);
	ssize_t w;

	(void)sig;
	(void)uc;
	at = put_str(line, at, cap, "amalgam[");
	at = put_uint(line, at, cap, (unsigned long)(log_node_id() < 0 ? 0 : log_node_id()));
	at = put_str(line, at, cap, "]: seccomp: thread ");
	at = put_str(line, at, cap, (unsigned)kind < CONFINE_KINDS ? kinds[kind].name : "?");
	if (kind == my_kind && (unsigned)kind < CONFINE_KINDS && kinds[kind].indexed) {
		at = put_str(line, at, cap, " ");
		at = put_uint(line, at, cap, my_index);
	}
	at = put_str(line, at, cap, " (tid ");
	at = put_uint(line, at, cap, (unsigned long)(my_tid ? my_tid : syscall(SYS_gettid)));
	at = put_str(line, at, cap, ") made system call ");
	if (nr < NAMES && names[nr][0]) {
		at = put_str(line, at, cap, names[nr]);
		at = put_str(line, at, cap, " (");
		at = put_uint(line, at, cap, nr);
		at = put_str(line, at, cap, ")");
	} else {
		at = put_uint(line, at, cap, nr);
	}
	if (si->si_arch != AUDIT_ARCH_X86_64)
		at = put_str(line, at, cap, " of another architecture");
	at = put_str(line, at, cap, ", outside its filter: refused, the node stops\n");
	w = write(STDERR_FILENO, line, at);
	(void)w;
	syscall(SYS_exit_group, 128 + SIGSYS);
}

/* ---- compiling the filters ------------------------------------------------ */

static int add_rule(scmp_filter_ctx ctx, const struct confine_rule *r)
{
	uint32_t act = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	int e;

	if (r->arg >= 0) {
		struct scmp_arg_cmp c = {
			.arg = (unsigned)r->arg, .op = SCMP_CMP_MASKED_EQ,
			.datum_a = r->mask, .datum_b = r->value,
		};

		e = seccomp_rule_add_exact_array(ctx, act, r->nr, 1, &c);
	} else {
		e = seccomp_rule_add_exact(ctx, act, r->nr, 0);
	}
	return e == -EEXIST ? 0 : e;
}

/* The kind's sets into a BPF program, each TRAP tagged with kind + 1. */
static int compile(int kind, const struct confine_rule *const *sets, struct sock_fprog *out,
		   char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	struct sock_filter *insns = NULL;
	int fd = -1, e = -ENOMEM;
	off_t size;

	if (!ctx)
		goto fail;
	/* We set no_new_privs ourselves, once; other architectures' calls
	 * (int 0x80, x32) trap too. */
	e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!e)
		e = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	for (unsigned s = 0; !e && sets[s]; s++)
		for (const struct confine_rule *r = sets[s]; !e && r->nr >= 0; r++) {
			e = add_rule(ctx, r);
			if (e)
				snprintf(err, errlen, "seccomp: %s: rule for system call %d: %s",
					 kinds[kind].name, r->nr, strerror(-e));
		}
	if (e)
		goto fail;
	fd = memfd_create("amalgam-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		goto fail;
	}
	e = seccomp_export_bpf(ctx, fd);
	if (e)
		goto fail;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % sizeof(*insns) || size / sizeof(*insns) > BPF_MAXINSNS) {
		snprintf(err, errlen, "seccomp: %s: a filter of %lld bytes", kinds[kind].name,
			 (long long)size);
		e = -E2BIG;
		goto fail_quiet;
	}
	insns = malloc((size_t)size);
	if (!insns || pread(fd, insns, (size_t)size, 0) != size) {
		e = insns ? -EIO : -ENOMEM;
		goto fail;
	}
	for (off_t i = 0; i < size / (off_t)sizeof(*insns); i++)
		if (insns[i].code == (BPF_RET | BPF_K) && insns[i].k == SECCOMP_RET_TRAP)
			insns[i].k = SECCOMP_RET_TRAP | (uint32_t)(kind + 1);
	out->len = (unsigned short)(size / sizeof(*insns));
	out->filter = insns;
	close(fd);
	seccomp_release(ctx);
	return 0;

fail:
	if (!err[0])
		snprintf(err, errlen, "seccomp: cannot build the %s filter: %s", kinds[kind].name,
			 strerror(-e));
fail_quiet:
	free(insns);
	if (fd >= 0)
		close(fd);
	if (ctx)
		seccomp_release(ctx);
	return e;
}

int confine_setup(const struct confine_options *o, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	err[0] = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -errno;
	}
	filtering = o->seccomp;
	selftest = o->selftest;
	if (filtering) {
		for (unsigned nr = 0; nr < NAMES; nr++) {
			char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);

			if (s)
				snprintf(names[nr], NAME_LEN, "%s", s);
			free(s);
		}
		for (int k = 0; k < CONFINE_KINDS; k++) {
			int e = compile(k, o->policy[k], &progs[k], err, errlen);

			if (e)
				return e;
		}
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL)) {
			snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
			return -errno;
		}
	}
	ready = true;
	return 0;
}

/* Capabilities are per thread: each thread drops its own. The bounding
 * set first (that needs CAP_SETPCAP, which the capset then drops); a node
 * run by an unprivileged user has none of either to drop. */
static void drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) == 0 && d[CAP_TO_INDEX(CAP_SETPCAP)].effective &
						   CAP_TO_MASK(CAP_SETPCAP))
		for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(d, 0, sizeof(d));
	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = 0;
	syscall(SYS_capset, &h, d);
}

void confine_thread(enum confine_kind kind, unsigned index)
{
	sigset_t sys;
	char name[16];

	my_kind = (int)kind;
	my_index = index;
	my_tid = (pid_t)syscall(SYS_gettid);
	/* The main thread's name is the process's: it stays "amalgam". */
	if (kind != CONFINE_MAIN) {
		if (kinds[kind].indexed)
			snprintf(name, sizeof(name), "%s%u", kinds[kind].name, index);
		else
			snprintf(name, sizeof(name), "%s", kinds[kind].name);
		prctl(PR_SET_NAME, name, 0, 0, 0);
	}
	if (!ready)
		return;
	/* Threads that block every signal (the pager, the memory plane's
	 * sender) must still take this one: a trap with SIGSYS blocked
	 * would kill the process without the line. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	drop_caps();
	if (filtering && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[kind])) {
		char line[160];
		int n = snprintf(line, sizeof(line),
				 "amalgam[%d]: seccomp: cannot load the %s thread's filter: %s\n",
				 log_node_id(), kinds[kind].name, strerror(errno));

		if (write(STDERR_FILENO, line, (size_t)n) < 0)
			_exit(1);
		_exit(1);
	}
	if (selftest == (int)kind)
		syscall(SYS_personality, 0xffffffffUL);
}

struct run_as {
	enum confine_kind kind;
	int (*fn)(void *);
	void *arg;
	int ret;
};

static void *run_as_thread(void *p)
{
	struct run_as *r = p;

	confine_thread(r->kind, 0);
	r->ret = r->fn(r->arg);
	return NULL;
}

int confine_run_as(enum confine_kind kind, int (*fn)(void *), void *arg)
{
	struct run_as r = { kind, fn, arg, 0 };
	pthread_t t;
	int e = pthread_create(&t, NULL, run_as_thread, &r);

	if (e)
		return -e;
	pthread_join(t, NULL);
	return r.ret;
}
