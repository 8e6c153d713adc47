/* What the host says (cpu/hostcpu.h): read from this very machine,
 * so the checks are about sense, with wide margins, not exact values. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu/hostcpu.h"

#define MS 1000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_count_and_pool(void **state)
{
	uint64_t a = 0, b = 1;

	assert_true(hostcpu_count() >= 1);
	assert_true(hostcpu_pool(&a));
	assert_true(hostcpu_pool(&b));
	assert_true(a == b);		/* one host, one id */
}

/* A thread that spins wants the CPU all the time: its run plus queue time
 * grows with the clock (less the scheduler's accounting lag, a tick or
 * so). One that sleeps wants almost none. */
static void test_demand_spin_and_sleep(void **state)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	uint64_t d0, d1, t0, t1;
	volatile uint64_t x = 0;

	assert_true(hostcpu_thread_demand_ns(tid, &d0));
	t0 = now_ns();
	while (now_ns() - t0 < 100 * MS)
		x++;
	t1 = now_ns();
	assert_true(hostcpu_thread_demand_ns(tid, &d1));
	assert_true(d1 - d0 >= (t1 - t0) / 2);

	assert_true(hostcpu_thread_demand_ns(tid, &d0));
	usleep(100 * 1000);
	assert_true(hostcpu_thread_demand_ns(tid, &d1));
	assert_true(d1 - d0 < 50 * MS);
}

static void test_no_such_thread(void **state)
{
	uint64_t ns = 7;

	assert_false(hostcpu_thread_demand_ns(-1, &ns));
	assert_int_equal(ns, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_pool),
		cmocka_unit_test(test_demand_spin_and_sleep),
		cmocka_unit_test(test_no_such_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
