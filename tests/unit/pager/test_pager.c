/* Unit tests for the userfaultfd pager (src/memplane/pager.c): "guest" threads
 * touch the guest view from user space, the tests resolve their faults from
 * another thread and check what each access sees and when it blocks; also
 * the kernel semantics pager.h documents, stop/restart, and how the
 * userfaultfd is opened. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ---- the API, one behaviour per test ---- */

static void test_read_missing_then_upgrade(void **state)
{
	struct pager_stats st;
	struct access *a, *b;

	a = start_access(10, false, 0);
	expect_fault(10, false, false, a);
	expect_blocked(a);
	assert_int_equal(pager_install(pg, 10, filled(0xab), false), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(a->got, 0xab);

	b = start_access(10, true, 0xcd);
	expect_fault(10, true, true, b);
	expect_blocked(b);
	assert_int_equal(hyp(10, 8), 0xab);	/* the write has not landed */
	assert_int_equal(pager_upgrade(pg, 10), 0);
	assert_true(wait_done(b, TIMEOUT_MS));
	assert_int_equal(hyp(10, 8), 0xcd);
	assert_int_equal(hyp(10, 9), 0xab);

	pager_get_stats(pg, &st);
	assert_int_equal(st.faults_missing_read, 1);
	assert_int_equal(st.faults_missing_write, 0);
	assert_int_equal(st.faults_wp, 1);
	assert_int_equal(st.installs, 1);
	assert_int_equal(st.upgrades, 1);
}

static void test_write_missing(void **state)
{
	struct access *a = start_access(20, true, 0x99);

	expect_fault(20, true, false, a);
	expect_blocked(a);
	assert_int_equal(pager_install(pg, 20, filled(0x11), true), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(hyp(20, 8), 0x99);
	assert_int_equal(hyp(20, 9), 0x11);
	touch_nofault(20, true, 0x98);	/* writable: no WP fault */
}

static void test_invalidate_refaults(void **state)
{
	struct access *a;

	assert_int_equal(pager_install(pg, 30, filled(0x31), true), 0);
	assert_int_equal(touch_nofault(30, false, 0), 0x31);
	assert_int_equal(pager_resident(pg, 30), 1);
	assert_int_equal(pager_invalidate(pg, 30), 0);
	assert_int_equal(pager_resident(pg, 30), 0);	/* memory freed */

	a = start_access(30, false, 0);
	expect_fault(30, false, false, a);
	expect_blocked(a);
	assert_int_equal(pager_install(pg, 30, filled(0x32), false), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(a->got, 0x32);

	/* A read-only copy, dropped: the next write is a missing write (the
	 * write-protect marker left behind does not turn it into a WP fault),
	 * and a writable install over the marker stays writable. */
	assert_int_equal(pager_invalidate(pg, 30), 0);
	a = start_access(30, true, 0x33);
	expect_fault(30, true, false, a);
	assert_int_equal(pager_install(pg, 30, filled(0x34), true), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(hyp(30, 8), 0x33);
	touch_nofault(30, true, 0x35);
}

static void test_downgrade(void **state)
{
	struct access *a;

	assert_int_equal(pager_install(pg, 40, filled(0), true), 0);
	touch_nofault(40, true, 0x41);
	assert_int_equal(pager_downgrade(pg, 40), 0);
	assert_int_equal(touch_nofault(40, false, 0), 0x41);
	a = start_access(40, true, 0x42);
	expect_fault(40, true, true, a);
	expect_blocked(a);
	assert_int_equal(hyp(40, 8), 0x41);
	assert_int_equal(pager_upgrade(pg, 40), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(hyp(40, 8), 0x42);
}

static void test_zero_pages(void **state)
{
	struct pager_stats st;
	struct access *a;

	assert_int_equal(pager_install(pg, 50, NULL, true), 0);
	assert_int_equal(touch_nofault(50, false, 0), 0);
	touch_nofault(50, true, 1);

	assert_int_equal(pager_install(pg, 51, NULL, false), 0);
	assert_int_equal(touch_nofault(51, false, 0), 0);
	a = start_access(51, true, 2);
	expect_fault(51, true, true, a);
	assert_int_equal(pager_upgrade(pg, 51), 0);
	assert_true(wait_done(a, TIMEOUT_MS));

	/* Zeros again after a dirty copy was dropped. */
	assert_int_equal(pager_install(pg, 52, filled(0xff), true), 0);
	assert_int_equal(pager_invalidate(pg, 52), 0);
	assert_int_equal(pager_install(pg, 52, NULL, false), 0);
	assert_int_equal(touch_nofault(52, false, 0), 0);

	pager_get_stats(pg, &st);
	assert_int_equal(st.zero_installs, 3);
	assert_int_equal(st.installs, 1);
}

static void test_populate_local(void **state)
{
	struct access *a;

	/* Contents written through the hypervisor view are in the memfd:
	 * the guest view maps them on first touch, no fault. */
	mem.hyp_view[60 * PG + 8] = 0x61;
	assert_int_equal(pager_resident(pg, 60), 1);
	assert_int_equal(touch_nofault(60, false, 0), 0x61);

	/* Read-only: reads still do not fault, writes fault WP. */
	assert_int_equal(pager_populate_local(pg, 60, false), 0);
	assert_int_equal(touch_nofault(60, false, 0), 0x61);
	a = start_access(60, true, 0x62);
	expect_fault(60, true, true, a);
	assert_int_equal(pager_upgrade(pg, 60), 0);
	assert_true(wait_done(a, TIMEOUT_MS));

	/* A hole becomes a local zero page. */
	assert_int_equal(pager_resident(pg, 61), 0);
	assert_int_equal(pager_populate_local(pg, 61, true), 0);
	assert_int_equal(pager_resident(pg, 61), 1);
	assert_int_equal(touch_nofault(61, false, 0), 0);
	touch_nofault(61, true, 1);

	/* A range mixing holes and loaded pages, read-only; the present page
	 * keeps its contents, never-mapped pages are protected too. */
	mem.hyp_view[72 * PG + 8] = 0x72;
	assert_int_equal(pager_next_resident(pg, 62), 72);
	assert_int_equal(pager_populate_local_range(pg, 70, 10, false), 0);
	for (uint64_t i = 70; i < 80; i++)
		assert_int_equal(pager_resident(pg, i), 1);
	assert_int_equal(touch_nofault(72, false, 0), 0x72);
	assert_int_equal(touch_nofault(79, false, 0), 0);
	a = start_access(72, true, 0x73);
	expect_fault(72, true, true, a);
	assert_int_equal(pager_upgrade(pg, 72), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	a = start_access(75, true, 0x75);	/* never mapped before */
	expect_fault(75, true, true, a);
	assert_int_equal(pager_upgrade(pg, 75), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(pager_next_resident(pg, 80), -ENXIO);
}

/* A blocked thread waiting on a page that a populate makes local is woken
 * and proceeds without another fault. */
static void test_populate_wakes_waiter(void **state)
{
	struct access *a = start_access(81, false, 0);

	expect_fault(81, false, false, a);
	expect_blocked(a);
	assert_int_equal(pager_populate_local(pg, 81, false), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(a->got, 0);
	assert_int_equal(queued(), 0);
}

/* The kernel behaviour that pager.h warns about; if it ever changes, the
 * warning (and maybe the invalidation method) must change with it. */
static void test_semantics_hazards(void **state)
{
	/* A hypervisor-view read of a hole creates the page: no fault. */
	assert_int_equal(pager_resident(pg, 90), 0);
	assert_int_equal(hyp(90, 0), 0);
	assert_int_equal(pager_resident(pg, 90), 1);
	assert_int_equal(touch_nofault(90, false, 0), 0);

	/* MADV_DONTNEED on the guest view does not invalidate. */
	assert_int_equal(pager_install(pg, 91, filled(0x91), true), 0);
	assert_int_equal(madvise(mem.guest_view + 91 * PG, PG, MADV_DONTNEED), 0);
	assert_int_equal(touch_nofault(91, false, 0), 0x91);

	/* Writes through the hypervisor view ignore write protection. */
	assert_int_equal(pager_install(pg, 92, filled(0x92), false), 0);
	mem.hyp_view[92 * PG] = 0x93;
	assert_int_equal(touch_nofault(92, false, 0), 0x92);
	assert_int_equal(hyp(92, 0), 0x93);
}

static void test_install_present(void **state)
{
	struct pager_stats st;
	struct access *a;

	mem.hyp_view[93 * PG + 8] = 0x01;	/* the hazard: page present */
	assert_int_equal(pager_install(pg, 93, filled(0x94), false), 0);
	assert_int_equal(touch_nofault(93, false, 0), 0x94);
	a = start_access(93, true, 0x95);
	expect_fault(93, true, true, a);
	assert_int_equal(pager_upgrade(pg, 93), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	pager_get_stats(pg, &st);
	assert_int_equal(st.installs_present, 1);
}

static void test_wake_refaults(void **state)
{
	struct access *a = start_access(100, false, 0);

	expect_fault(100, false, false, a);
	assert_int_equal(pager_wake(pg, 100), 0);
	expect_fault(100, false, false, a);	/* still missing: again */
	expect_blocked(a);
	assert_int_equal(pager_install(pg, 100, filled(0x64), false), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	assert_int_equal(a->got, 0x64);
}

static void test_ranges(void **state)
{
	struct pager_stats st;
	struct access *a;

	for (uint64_t i = 110; i < 118; i++)
		assert_int_equal(pager_install(pg, i, filled((uint8_t)i), true), 0);
	assert_int_equal(pager_downgrade_range(pg, 110, 8), 0);
	assert_int_equal(touch_nofault(117, false, 0), 117);
	a = start_access(113, true, 0);
	expect_fault(113, true, true, a);
	assert_int_equal(pager_invalidate_range(pg, 110, 8), 0);
	for (uint64_t i = 110; i < 118; i++)
		assert_int_equal(pager_resident(pg, i), 0);
	/* The WP waiter's page is gone: when woken it faults as missing. */
	assert_int_equal(pager_wake(pg, 113), 0);
	expect_fault(113, true, false, a);
	assert_int_equal(pager_install(pg, 113, filled(0x13), true), 0);
	assert_true(wait_done(a, TIMEOUT_MS));
	a = start_access(115, false, 0);
	expect_fault(115, false, false, a);
	assert_int_equal(pager_install(pg, 115, NULL, false), 0);
	assert_true(wait_done(a, TIMEOUT_MS));

	assert_int_equal(pager_invalidate_range(pg, 4095, 2), -EINVAL);
	assert_int_equal(pager_downgrade_range(pg, 0, 0), -EINVAL);
	assert_int_equal(pager_install(pg, 4096, NULL, true), -EINVAL);
	pager_get_stats(pg, &st);
	assert_int_equal(st.downgrades, 8);
	assert_int_equal(st.invalidations, 8);
}

/* ---- many threads x many pages ---- */

#define CC_THREADS 6
#define CC_PAGES 256
#define CC_FIRST 1024
#define CC_ACCESSES 400

static uint8_t pat(uint64_t page)
{
	return (uint8_t)(page % 255 + 1);
}

struct cc_guest {
	pthread_t th;
	unsigned seed;
	atomic_int done;
	int bad;
};

static void *cc_guest_fn(void *arg)
{
	struct cc_guest *g = arg;

	for (int i = 0; i < CC_ACCESSES; i++) {
		uint64_t page = CC_FIRST + rand_r(&g->seed) % CC_PAGES;
		volatile uint8_t *ptr = mem.guest_view + page * PG +
					rand_r(&g->seed) % PG;

		if (rand_r(&g->seed) % 3 == 0)
			*ptr = pat(page);
		else if (*ptr != pat(page))
			g->bad++;
	}
	atomic_store(&g->done, 1);
	return NULL;
}

struct cc_resolver {
	pthread_t th;
	atomic_int stop;
	uint8_t state[CC_PAGES];	/* 0 invalid, 1 read-only, 2 writable */
	unsigned events, errors;
};

/* Plays the protocol: owns the page states, resolves every event, and now
 * and then drops or write-protects a copy behind the guests' backs. */
static void *cc_resolver_fn(void *arg)
{
	struct cc_resolver *r = arg;
	unsigned seed = 7;
	struct fault_ev e;

	while (!atomic_load(&r->stop)) {
		unsigned i;
		int err = 0;

		if (!pop(&e, 20))
			continue;
		r->events++;
		i = (unsigned)(e.page - CC_FIRST);
		if (i >= CC_PAGES) {
			r->errors++;
			continue;
		}
		if (!r->state[i]) {
			err = pager_install(pg, e.page, filled(pat(e.page)), e.write);
			r->state[i] = e.write ? 2 : 1;
		} else if (e.write && r->state[i] == 1) {
			err = pager_upgrade(pg, e.page);
			r->state[i] = 2;
		} else {
			err = pager_wake(pg, e.page);	/* stale event */
		}
		if (err)
			r->errors++;
		if (rand_r(&seed) % 8 == 0) {
			unsigned j = rand_r(&seed) % CC_PAGES;

			if (r->state[j] == 2 && rand_r(&seed) % 2) {
				err = pager_downgrade(pg, CC_FIRST + j);
				r->state[j] = 1;
			} else if (r->state[j]) {
				err = pager_invalidate(pg, CC_FIRST + j);
				r->state[j] = 0;
			}
			if (err)
				r->errors++;
		}
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	static struct cc_resolver r;
	struct cc_guest g[CC_THREADS];
	struct pager_stats st;
	double end = now_us() + 30e6;
	bool all;

	memset(&r, 0, sizeof(r));
	assert_int_equal(pthread_create(&r.th, NULL, cc_resolver_fn, &r), 0);
	for (int i = 0; i < CC_THREADS; i++) {
		g[i] = (struct cc_guest){ .seed = 1000u + (unsigned)i };
		assert_int_equal(pthread_create(&g[i].th, NULL, cc_guest_fn, &g[i]), 0);
	}
	do {
		sleep_ms(5);
		all = true;
		for (int i = 0; i < CC_THREADS; i++)
			all = all && atomic_load(&g[i].done);
	} while (!all && now_us() < end);
	if (!all) {
		/* Release the stuck guests before failing. */
		pager_free(pg);
		pg = NULL;
	}
	for (int i = 0; i < CC_THREADS; i++)
		pthread_join(g[i].th, NULL);
	atomic_store(&r.stop, 1);
	pthread_join(r.th, NULL);
	assert_true(all);
	for (int i = 0; i < CC_THREADS; i++)
		assert_int_equal(g[i].bad, 0);
	assert_int_equal(r.errors, 0);
	assert_int_equal(fault_overflow(), 0);
	pager_get_stats(pg, &st);
	print_message("concurrent: %d threads x %d accesses on %d pages: %u "
		      "faults (%llu missing, %llu wp)\n", CC_THREADS, CC_ACCESSES,
		      CC_PAGES, r.events,
		      (unsigned long long)(st.faults_missing_read +
					   st.faults_missing_write),
		      (unsigned long long)st.faults_wp);
	assert_true(r.events >= CC_PAGES / 2);
}

/* ---- stop and restart with blocked threads ---- */

static void test_stop_with_blocked_threads(void **state)
{
	struct access *a[4];
	struct fault_ev e;
	double t0;

	for (int i = 0; i < 4; i++)
		a[i] = start_access(200 + (uint64_t)i, false, 0);
	for (int i = 0; i < 4; i++)
		assert_true(pop(&e, TIMEOUT_MS));
	t0 = now_us();
	pager_stop(pg);
	assert_true(now_us() - t0 < 1e6);
	expect_blocked(a[0]);

	/* Restarted: a woken waiter faults again and is reported. */
	assert_int_equal(pager_start(pg), 0);
	assert_int_equal(pager_wake(pg, 200), 0);
	expect_fault(200, false, false, a[0]);
	assert_int_equal(pager_install(pg, 200, filled(0x20), false), 0);
	assert_true(wait_done(a[0], TIMEOUT_MS));

	/* pager_free releases the others: the view is plain memory again. */
	pager_stop(pg);
	pager_free(pg);
	pg = NULL;
	for (int i = 1; i < 4; i++) {
		assert_true(wait_done(a[i], TIMEOUT_MS));
		assert_int_equal(a[i]->got, 0);
	}
}

/* ---- opening the userfaultfd ---- */

static void test_bad_args(void **state)
{
	struct guest_mem m = { .fd = -1, .guest_view = MAP_FAILED };
	struct pager *p = (struct pager *)1;

	assert_int_equal(pager_new(&p, &m, &ops, NULL), -EINVAL);
	assert_null(p);
	assert_int_equal(guest_mem_init(&m, MEM_SIZE), 0);
	assert_int_equal(pager_new(&p, &m, &(struct pager_ops){ 0 }, NULL),
			 -EINVAL);
	guest_mem_destroy(&m);
}

/* Without CAP_SYS_PTRACE and with vm.unprivileged_userfaultfd=0 the
 * syscall is denied (we never ask for user-mode-only faults): the pager
 * must get its descriptor from /dev/userfaultfd. */
static int fallback_child(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct guest_mem m;
	struct pager *p;
	int fd;

	if (syscall(SYS_capget, &h, d))
		return 10;
	d[0].effective &= ~(1u << CAP_SYS_PTRACE);
	d[0].permitted &= ~(1u << CAP_SYS_PTRACE);
	if (syscall(SYS_capset, &h, d))
		return 10;
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd >= 0)
		return 11;		/* not denied: nothing to test */
	if (access("/dev/userfaultfd", R_OK | W_OK))
		return 12;
	if (guest_mem_init(&m, MEM_SIZE))
		return 1;
	if (pager_new(&p, &m, &ops, NULL))
		return 2;
	/* Installed read-only ahead of the access: no fault, no thread. */
	if (pager_install(p, 3, filled(7), false) || m.guest_view[3 * PG] != 7)
		return 3;
	pager_free(p);
	guest_mem_destroy(&m);
	return 0;
}

static void test_dev_userfaultfd_fallback(void **state)
{
	pid_t pid;
	int st = 0;

	if (geteuid() != 0) {
		print_message("fallback: not root, skipped\n");
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_child());
	for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		sleep_ms(10);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("fallback child hung");
	}
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) >= 10) {
		print_message("fallback: %s, skipped\n",
			      WEXITSTATUS(st) == 11 ? "syscall allowed "
			      "(vm.unprivileged_userfaultfd=1)" :
			      WEXITSTATUS(st) == 12 ? "no /dev/userfaultfd" :
			      "capabilities");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pager_setup, pager_teardown)
		T(test_read_missing_then_upgrade),
		T(test_write_missing),
		T(test_invalidate_refaults),
		T(test_downgrade),
		T(test_zero_pages),
		T(test_populate_local),
		T(test_populate_wakes_waiter),
		T(test_semantics_hazards),
		T(test_install_present),
		T(test_wake_refaults),
		T(test_ranges),
		T(test_concurrent),
		T(test_stop_with_blocked_threads),
#undef T
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_dev_userfaultfd_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
