/* The one percentile helper: exact for small values, within 1/16 of the
 * true percentile otherwise, safe from several threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/lathist.h"

static void test_empty_and_small(void **state)
{
	struct lathist h;

	memset(&h, 0, sizeof(h));
	assert_int_equal(lathist_pct(&h, 50), 0);
	for (uint64_t v = 0; v < 8; v++)
		lathist_add(&h, v);
	assert_int_equal(h.n, 8);
	assert_int_equal(h.max, 7);
	assert_int_equal(lathist_pct(&h, 0), 0);
	assert_int_equal(lathist_pct(&h, 50), 3);	/* the 4th of 8 */
	assert_int_equal(lathist_pct(&h, 100), 7);
	assert_int_equal(lathist_pct(&h, 250), 7);	/* clamped */
}

/* 1..100000 ns once each: every percentile within 1/16 of the truth. */
static void test_accuracy(void **state)
{
	static struct lathist h;

	for (uint64_t v = 1; v <= 100000; v++)
		lathist_add(&h, v);
	for (int pct = 1; pct <= 100; pct++) {
		double want = pct * 1000.0, got = (double)lathist_pct(&h, pct);

		if (got < want * 15 / 16 || got > want * 17 / 16)
			fail_msg("p%d: %.0f, want %.0f within 1/16", pct, got, want);
	}
	assert_int_equal(h.max, 100000);
	/* Beyond the last bucket: counted there, not lost. */
	lathist_add(&h, UINT64_MAX);
	assert_int_equal(h.max, UINT64_MAX);
	assert_true(lathist_pct(&h, 100) > 100000);
}

static struct lathist shared;

static void *adder(void *arg)
{
	for (uint64_t i = 0; i < 100000; i++)
		lathist_add(&shared, (uintptr_t)arg + (i & 1023));
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	struct lathist snap;
	uint64_t sum = 0;

	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, (void *)(i * 5000)), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	lathist_read(&shared, &snap);
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++)
		sum += snap.bucket[i];
	assert_int_equal(snap.n, 400000);
	assert_int_equal(sum, 400000);
	assert_int_equal(snap.max, 15000 + 1023);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_small),
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
