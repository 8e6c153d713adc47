/* What this host's kernel and KVM do with the pager: KVM memslots over a
 * registered guest view and KVM's own accesses (skipped without /dev/kvm),
 * and the costs of the mechanism, printed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

/* ---- KVM over a registered guest view ---- */

static void on_kick(int sig) {}

struct kvm_vcpu_thread {
	int fd;
	struct kvm_run *run;
	pthread_t th;
	atomic_int tid, done;
	int ret;
};

static void *kvm_vcpu_fn(void *arg)
{
	struct kvm_vcpu_thread *v = arg;

	atomic_store(&v->tid, gettid());
	v->ret = ioctl(v->fd, KVM_RUN, 0) < 0 ? -errno : 0;
	atomic_store(&v->done, 1);
	return NULL;
}

static void kvm_run_async(struct kvm_vcpu_thread *v)
{
	atomic_store(&v->tid, 0);
	atomic_store(&v->done, 0);
	assert_int_equal(pthread_create(&v->th, NULL, kvm_vcpu_fn, v), 0);
	while (!atomic_load(&v->tid))
		sched_yield();
}

/* Joins the vCPU thread, kicking it out of KVM_RUN if it does not stop by
 * itself (after a failed check it may be running garbage). */
static void kvm_join(struct kvm_vcpu_thread *v)
{
	for (int i = 0; i < 200 && !atomic_load(&v->done); i++)
		sleep_ms(10);
	v->run->immediate_exit = 1;
	for (int i = 0; i < 100 && !atomic_load(&v->done); i++) {
		pthread_kill(v->th, SIGUSR1);
		sleep_ms(10);
	}
	if (!atomic_load(&v->done) && pg) {
		/* Blocked on a fault, where 6.1 ignores signals: release it. */
		pager_free(pg);
		pg = NULL;
		for (int i = 0; i < 100 && !atomic_load(&v->done); i++) {
			pthread_kill(v->th, SIGUSR1);
			sleep_ms(10);
		}
	}
	pthread_join(v->th, NULL);
	v->run->immediate_exit = 0;
}

/* The next fault must be KVM's, on the vCPU thread. */
static bool kvm_fault(struct kvm_vcpu_thread *v, uint64_t page, bool write,
		      bool wp)
{
	struct fault_ev e;

	if (!pop(&e, TIMEOUT_MS)) {
		print_message("kvm: no fault on page %lu\n", (unsigned long)page);
		return false;
	}
	print_message("kvm: fault page %lu write %d wp %d, tid %s\n",
		      (unsigned long)e.page, e.write, e.wp,
		      e.tid == atomic_load(&v->tid) ? "= vCPU thread" : "OTHER");
	return e.page == page && e.write == write && e.wp == wp &&
	       e.tid == atomic_load(&v->tid);
}

static bool kvm_exit_out(struct kvm_vcpu_thread *v, uint8_t val)
{
	struct kvm_run *r = v->run;

	print_message("kvm: KVM_RUN %d, exit reason %u, port %#x, value %#x\n",
		      v->ret, r->exit_reason, r->io.port,
		      ((uint8_t *)r)[r->io.data_offset]);
	return v->ret == 0 && r->exit_reason == KVM_EXIT_IO &&
	       r->io.port == 0x10 && ((uint8_t *)r)[r->io.data_offset] == val;
}

static void test_kvm(void **state)
{
	/* Real mode at 0x1000: mov al,V; mov [0x2000],al; out 0x10,al;
	 * jmp 0x1000 */
	uint8_t code[] = { 0xb0, 0x42, 0xa2, 0x00, 0x20, 0xe6, 0x10, 0xeb,
			   0xf7 };
	struct kvm_vcpu_thread v = { .fd = -1 };
	struct sigaction sa = { .sa_handler = on_kick };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	int kvm, vm, run_size;
	bool ok;
	uint8_t page[PG] = { 0 };

	/* Runs only where KVM works (suite kvm: scripts/test sends it to the
	 * lab elsewhere), so a KVM that does not is a failure, not a skip. */
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		print_message("kvm: /dev/kvm: %s\n", strerror(errno));
	assert_true(kvm >= 0);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	/* Memslots over a registered view work. */
	assert_int_equal(guest_mem_map(&mem, vm), 0);

	/* KVM's own accesses block on the userfaultfd like ours, and
	 * downgrade and invalidation reach its mappings too. */
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v.fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	assert_true(run_size > 0 && v.fd >= 0);
	v.run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     v.fd, 0);
	assert_true(v.run != MAP_FAILED);
	assert_int_equal(ioctl(v.fd, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	assert_int_equal(ioctl(v.fd, KVM_SET_SREGS, &sregs), 0);
	assert_int_equal(ioctl(v.fd, KVM_SET_REGS, &regs), 0);
	assert_int_equal(pager_install(pg, 2, NULL, false), 0);
	sigaction(SIGUSR1, &sa, NULL);

	/* Code fetch from a missing page, then a store to a read-only one. */
	kvm_run_async(&v);
	ok = kvm_fault(&v, 1, false, false);
	memcpy(page, code, sizeof(code));
	ok = ok && !pager_install(pg, 1, page, false);
	ok = ok && kvm_fault(&v, 2, true, true);
	ok = ok && !pager_upgrade(pg, 2);
	kvm_join(&v);
	assert_true(ok);
	assert_true(kvm_exit_out(&v, 0x42));
	assert_int_equal(hyp(2, 0), 0x42);

	/* Page 2 is now writable in KVM's tables, page 1 mapped: downgrade
	 * the one, drop the other, and resume at the jmp. */
	assert_int_equal(pager_downgrade(pg, 2), 0);
	assert_int_equal(pager_invalidate(pg, 1), 0);
	kvm_run_async(&v);
	ok = kvm_fault(&v, 1, false, false);
	code[1] = 0x43;
	memcpy(page, code, sizeof(code));
	ok = ok && !pager_install(pg, 1, page, false);
	ok = ok && kvm_fault(&v, 2, true, true);
	ok = ok && !pager_upgrade(pg, 2);
	kvm_join(&v);
	assert_true(ok);
	assert_true(kvm_exit_out(&v, 0x43));
	assert_int_equal(hyp(2, 0), 0x43);

	munmap(v.run, (size_t)run_size);
	close(v.fd);
	close(vm);
	close(kvm);
}

/* ---- costs, printed ---- */

#define BENCH_PAGES 2000

struct bench_resolver {
	pthread_t th;
	atomic_int stop;
	int errors;
};

static void *bench_resolver_fn(void *arg)
{
	struct bench_resolver *r = arg;
	struct fault_ev e;

	while (!atomic_load(&r->stop))
		if (pop(&e, 20) &&
		    pager_install(pg, e.page, filled(0x5a), false))
			r->errors++;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_costs(void **state)
{
	static double rt[BENCH_PAGES];
	struct bench_resolver r = { 0 };
	struct pager_stats st;
	double t0, t, per[6];
	uint8_t sum = 0;

	/* Fault round trip: touch -> ops->fault -> another thread installs
	 * -> the access resumes. */
	assert_int_equal(pthread_create(&r.th, NULL, bench_resolver_fn, &r), 0);
	for (int i = 0; i < BENCH_PAGES; i++) {
		t0 = now_us();
		sum += *(volatile uint8_t *)(mem.guest_view + (uint64_t)i * PG);
		rt[i] = now_us() - t0;
		assert_true(rt[i] < TIMEOUT_MS * 1000.0);
	}
	atomic_store(&r.stop, 1);
	pthread_join(r.th, NULL);
	assert_int_equal(r.errors, 0);
	assert_int_equal(sum, (uint8_t)(0x5a * BENCH_PAGES));
	qsort(rt, BENCH_PAGES, sizeof(rt[0]), cmp_double);
	pager_get_stats(pg, &st);
	assert_int_equal(st.faults_missing_read, BENCH_PAGES);

	/* Write-protect on/off, per page and over the range. */
	t = now_us();
	for (int i = 0; i < BENCH_PAGES; i++)
		assert_int_equal(pager_upgrade(pg, (uint64_t)i), 0);
	per[0] = (now_us() - t) / BENCH_PAGES;
	t = now_us();
	for (int i = 0; i < BENCH_PAGES; i++)
		assert_int_equal(pager_downgrade(pg, (uint64_t)i), 0);
	per[1] = (now_us() - t) / BENCH_PAGES;
	t = now_us();
	assert_int_equal(pager_downgrade_range(pg, 0, BENCH_PAGES), 0);
	per[2] = (now_us() - t) / BENCH_PAGES;

	/* Punch hole per page, then refill and punch the range. */
	t = now_us();
	for (int i = 0; i < BENCH_PAGES; i++)
		assert_int_equal(pager_invalidate(pg, (uint64_t)i), 0);
	per[3] = (now_us() - t) / BENCH_PAGES;
	t = now_us();
	for (int i = 0; i < BENCH_PAGES; i++)
		assert_int_equal(pager_install(pg, (uint64_t)i, filled(1), true), 0);
	per[4] = (now_us() - t) / BENCH_PAGES;
	t = now_us();
	assert_int_equal(pager_invalidate_range(pg, 0, BENCH_PAGES), 0);
	per[5] = (now_us() - t) / BENCH_PAGES;

	print_message("costs: fault round trip over %d faults: median %.1f us, "
		      "p90 %.1f us, p99 %.1f us\n", BENCH_PAGES, rt[BENCH_PAGES / 2],
		      rt[BENCH_PAGES * 9 / 10], rt[BENCH_PAGES * 99 / 100]);
	print_message("costs: WP off (upgrade) %.2f us, WP on (downgrade) %.2f us "
		      "a page; WP on over %d pages %.3f us a page\n", per[0],
		      per[1], BENCH_PAGES, per[2]);
	print_message("costs: punch hole %.2f us a page, %.3f us a page over a "
		      "range; install (UFFDIO_COPY, no waiter) %.2f us\n",
		      per[3], per[5], per[4]);
}

/* "test_pager_host kvm" runs the test that needs KVM (meson test
 * dsm-pager-kvm, suite kvm), no argument the others (suite unit). */
int main(int argc, char **argv)
{
	const struct CMUnitTest kvm_tests[] = {
		cmocka_unit_test_setup_teardown(test_kvm, pager_setup,
						pager_teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_costs, pager_setup,
						pager_teardown),
	};

	if (argc > 1 && !strcmp(argv[1], "kvm"))
		return cmocka_run_group_tests(kvm_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
