/* The budget's clock (src/memplane/cache.c): home pages never counted,
 * held and reserved counts, second chance for referenced pages, busy
 * pages skipped, stale FIFO slots dropped, and a random walk against a
 * plain model of the counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "memplane/cache.h"

/* 16 pages, home range [4, 8), limit 4. */
static struct cache c;

static int setup(void **state)
{
	return cache_init(&c, 16, 4, 8, 4);
}

static int teardown(void **state)
{
	cache_free(&c);
	return 0;
}

static void test_home_not_counted(void **state)
{
	for (uint64_t p = 4; p < 8; p++) {
		assert_false(cache_counts(&c, p));
		cache_add(&c, p);
		cache_reserve(&c, p);
	}
	assert_false(cache_counts(&c, 16));
	cache_add(&c, 16);
	assert_int_equal(c.held, 0);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(cache_victim(&c, NULL, NULL), -1);
}

static void test_counts_and_full(void **state)
{
	cache_add(&c, 0);
	cache_add(&c, 0);	/* once */
	cache_add(&c, 1);
	cache_reserve(&c, 2);
	cache_reserve(&c, 2);	/* once */
	assert_int_equal(c.held, 2);
	assert_int_equal(c.reserved, 1);
	assert_false(cache_full(&c));	/* 3 + 1 fits 4 */
	cache_reserve(&c, 3);
	assert_true(cache_full(&c));
	cache_release(&c, 3);
	cache_release(&c, 3);	/* once */
	assert_int_equal(c.reserved, 1);
	cache_drop(&c, 1);
	cache_drop(&c, 1);
	assert_int_equal(c.held, 1);
	assert_false(cache_held(&c, 1));
	assert_true(cache_held(&c, 0));
}

static void test_second_chance(void **state)
{
	/* 0, 1, 2 installed in that order, all referenced. */
	cache_add(&c, 0);
	cache_add(&c, 1);
	cache_add(&c, 2);
	/* First pass clears every bit; the oldest then goes. */
	assert_int_equal(cache_victim(&c, NULL, NULL), 0);
	cache_drop(&c, 0);
	/* 1 used again: 2 is older in the clock's eyes now. */
	cache_touch(&c, 1);
	assert_int_equal(cache_victim(&c, NULL, NULL), 2);
	cache_drop(&c, 2);
	assert_int_equal(cache_victim(&c, NULL, NULL), 1);
	cache_drop(&c, 1);
	assert_int_equal(cache_victim(&c, NULL, NULL), -1);
	assert_int_equal(c.held, 0);
}

static bool busy_even(void *arg, uint64_t page)
{
	(*(int *)arg)++;
	return page % 2 == 0;
}

static void test_busy_skipped(void **state)
{
	int asked = 0;
	int64_t v;

	cache_add(&c, 0);
	cache_add(&c, 2);
	assert_int_equal(cache_victim(&c, busy_even, &asked), -1);
	assert_true(asked > 0);
	cache_add(&c, 3);
	assert_int_equal(cache_victim(&c, busy_even, &asked), 3);
	/* The busy ones are still on the clock. */
	v = cache_victim(&c, NULL, NULL);
	assert_true(v == 0 || v == 2);
}

static void test_stale_slots(void **state)
{
	/* Dropped by an invalidation, then fetched again: one slot. */
	cache_add(&c, 9);
	cache_drop(&c, 9);
	cache_add(&c, 9);
	cache_drop(&c, 9);
	assert_int_equal(c.len, 1);
	assert_int_equal(cache_victim(&c, NULL, NULL), -1);
	assert_int_equal(c.len, 0);
	/* A victim the protocol refused goes back with cache_add. */
	cache_add(&c, 10);
	assert_int_equal(cache_victim(&c, NULL, NULL), 10);
	cache_add(&c, 10);
	assert_int_equal(c.held, 1);
	assert_int_equal(cache_victim(&c, NULL, NULL), 10);
}

/* Random operations on every page of a larger cache, against a model:
 * the counts always agree, the FIFO never overflows, and a victim is
 * always held, not busy and not homed here. */
static void test_random_against_model(void **state)
{
	struct cache r;
	enum { N = 200 };
	bool held[N] = { false }, res[N] = { false };
	uint64_t seed = 0x1234567;

	assert_int_equal(cache_init(&r, N, 50, 100, 30), 0);
	for (int i = 0; i < 200000; i++) {
		uint64_t p, nh = 0, nr = 0;
		int64_t v;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		p = (seed >> 33) % N;
		switch ((seed >> 20) % 6) {
		case 0: cache_add(&r, p); held[p] = cache_counts(&r, p); break;
		case 1: cache_drop(&r, p); held[p] = false; break;
		case 2: cache_touch(&r, p); break;
		case 3: cache_reserve(&r, p); res[p] = cache_counts(&r, p); break;
		case 4: cache_release(&r, p); res[p] = false; break;
		case 5:
			v = cache_victim(&r, NULL, NULL);
			if (v >= 0) {
				assert_true(held[v]);
				assert_true(cache_counts(&r, (uint64_t)v));
				cache_drop(&r, (uint64_t)v);
				held[v] = false;
			} else {
				for (unsigned k = 0; k < N; k++)
					assert_false(held[k]);
			}
			break;
		}
		for (unsigned k = 0; k < N; k++) {
			nh += held[k];
			nr += res[k];
		}
		assert_int_equal(r.held, nh);
		assert_int_equal(r.reserved, nr);
		assert_true(r.len <= r.cap);
	}
	cache_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_home_not_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_chance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_slots, setup, teardown),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
