/* Unit tests for what the VMM adds to a Linux command line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "x86/linuxargs.h"

static void test_has(void **state)
{
	(void)state;
	assert_true(linux_args_has("console=ttyS0 nohz_full=2", "nohz_full"));
	assert_true(linux_args_has("nohz_full", "nohz_full"));
	assert_false(linux_args_has("nohz_full_x=1", "nohz_full"));
	assert_false(linux_args_has("xnohz_full=1", "nohz_full"));
	assert_false(linux_args_has(NULL, "nohz_full"));
	assert_false(linux_args_has("", "nohz_full"));
	/* After " -- " the words are init's, and a quoted value is one word. */
	assert_false(linux_args_has("quiet -- nohz_full=1", "nohz_full"));
	assert_false(linux_args_has("a.run=\"x nohz_full=1\" quiet", "nohz_full"));
	assert_true(linux_args_has("a.run=\"x y\"  numa_balancing=enable", "numa_balancing"));
}

static void test_spanning(void **state)
{
	char buf[256];
	struct linux_args a = { .cpus = 4, .spans = true, .tsc_khz = 2000000 };

	(void)state;
	assert_int_equal(linux_args_build(&a, "console=ttyS0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nohz_full=1-3 rcu_nocbs=1-3 numa_balancing=disable "
			    "tsc=reliable sysctl.vm.compaction_proactiveness=0 "
			    "tsc_early_khz=2000000");
	a.cpus = 2;
	a.tsc_khz = 0;
	assert_int_equal(linux_args_build(&a, NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nohz_full=1 rcu_nocbs=1 numa_balancing=disable tsc=reliable "
			    "sysctl.vm.compaction_proactiveness=0");
	/* What the user sets stays the user's. */
	assert_int_equal(linux_args_build(&a, "nohz_full=1 numa_balancing=enable tsc=unstable",
					  buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rcu_nocbs=1 sysctl.vm.compaction_proactiveness=0");
}

static void test_one_node(void **state)
{
	char buf[64];
	struct linux_args a = { .cpus = 4, .spans = false, .tsc_khz = 0 };

	(void)state;
	assert_int_equal(linux_args_build(&a, "quiet", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* One vCPU spans nothing, whatever the caller says. */
	a = (struct linux_args){ .cpus = 1, .spans = true, .tsc_khz = 1000 };
	assert_int_equal(linux_args_build(&a, "quiet", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tsc_early_khz=1000");
	assert_int_equal(linux_args_build(&a, "tsc_early_khz=5", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_too_long(void **state)
{
	char buf[16];
	struct linux_args a = { .cpus = 64, .spans = true, .tsc_khz = 0 };

	(void)state;
	assert_int_equal(linux_args_build(&a, "", buf, sizeof(buf)), -ENOSPC);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_has),
		cmocka_unit_test(test_spanning),
		cmocka_unit_test(test_one_node),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
