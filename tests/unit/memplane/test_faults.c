/* The memory plane's table of pending faults (src/memplane/faults.c):
 * one entry per page, the first fault's; closing it yields the latency
 * (every fault, and remote ones by kind) and the entry; stale entries
 * give way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dsm/dsm.h"
#include "memplane/faults.h"

static struct faults f;

static void start(uint64_t page, unsigned kind, bool remote, uint64_t t, pid_t tid)
{
	struct fault_entry e = { .t_ns = t, .tid = tid, .kind = (uint8_t)kind,
				 .remote = remote, .repeat = remote };

	faults_start(&f, page, &e);
}

static void test_first_fault_counts(void **state)
{
	struct fault_entry e;

	memset(&f, 0, sizeof(f));
	start(7, DSM_FAULT_READ_MISS, true, 1000, 11);
	start(7, DSM_FAULT_JOINED, false, 1500, 12);	/* joins the first */
	assert_false(faults_done(&f, 8, 2000, &e));
	assert_true(faults_done(&f, 7, 3000, &e));
	assert_int_equal(e.tid, 11);
	assert_int_equal(e.kind, DSM_FAULT_READ_MISS);
	assert_true(e.remote && e.repeat);
	assert_false(faults_done(&f, 7, 4000, &e));	/* closed once */
	assert_int_equal(f.all.n, 1);
	assert_int_equal(f.all.max, 2000);
	assert_int_equal(f.remote[DSM_FAULT_READ_MISS].n, 1);
}

/* A fault settled here (or spurious) is timed, but not as a remote one. */
static void test_local_fault(void **state)
{
	struct fault_entry e;

	memset(&f, 0, sizeof(f));
	start(3, DSM_FAULT_WRITE_MISS, false, 10, 1);
	start(4, DSM_FAULT_SPURIOUS, false, 10, 2);
	assert_true(faults_done(&f, 3, 20, &e));
	assert_true(faults_done(&f, 4, 20, &e));
	assert_false(e.remote);
	assert_int_equal(f.all.n, 2);
	for (unsigned k = 0; k < FAULTS_KINDS; k++)
		assert_int_equal(f.remote[k].n, 0);
}

/* Many pages colliding: each keeps its own entry up to the probe length;
 * past it a fault is dropped, unless an entry has gone stale. */
static void test_full_and_stale(void **state)
{
	struct fault_entry e;
	unsigned held = 0;

	memset(&f, 0, sizeof(f));
	for (uint64_t p = 0; p < 4 * FAULTS_SLOTS; p++)
		start(p, DSM_FAULT_UPGRADE, true, 100, (pid_t)p);
	for (uint64_t p = 0; p < 4 * FAULTS_SLOTS; p++)
		if (faults_done(&f, p, 200, &e)) {
			assert_int_equal(e.tid, (pid_t)p);
			held++;
		}
	assert_true(held > FAULTS_SLOTS / 2 && held <= FAULTS_SLOTS);
	assert_int_equal(f.dropped, 4 * FAULTS_SLOTS - held);

	memset(&f, 0, sizeof(f));
	for (uint64_t p = 0; p < 4 * FAULTS_SLOTS; p++)
		start(p, DSM_FAULT_UPGRADE, true, 100, 1);
	/* Long after: a new page takes over a stale slot. */
	start(1ull << 40, DSM_FAULT_READ_MISS, true, 100 + FAULTS_STALE_NS + 1, 9);
	assert_true(faults_done(&f, 1ull << 40, FAULTS_STALE_NS + 200, &e));
	assert_int_equal(e.tid, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fault_counts),
		cmocka_unit_test(test_local_fault),
		cmocka_unit_test(test_full_and_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
