/* The host's CPUs, as /proc and the scheduler tell them; see hostcpu.h. */
#include "cpu/hostcpu.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	return h;
}

unsigned hostcpu_count(void)
{
	cpu_set_t set;
	long c;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	c = sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? (unsigned)c : 1;
}

bool hostcpu_boot_id(char *out, size_t len)
{
	char fmt[32];
	FILE *f;
	bool ok;

	if (len < 2 || !(f = fopen("/proc/sys/kernel/random/boot_id", "r")))
		return false;
	snprintf(fmt, sizeof(fmt), "%%%zus", len - 1);
	ok = fscanf(f, fmt, out) == 1;
	fclose(f);
	return ok;
}

bool hostcpu_pool(uint64_t *pool)
{
	char id[40];

	if (!hostcpu_boot_id(id, sizeof(id)))
		return false;
	*pool = fnv1a(id);
	return true;
}

bool hostcpu_thread_demand_ns(pid_t tid, uint64_t *ns)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fscanf(f, "%llu %llu", &run, &wait) == 2;
	fclose(f);
	if (ok)
		*ns = run + wait;
	return ok;
}

/* The first word of a one-line kernel file (sysfs, procfs) into out;
 * false if it cannot be read. */
static bool read_word(const char *path, char *out, size_t len)
{
	char fmt[16];
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f || len < 2) {
		if (f)
			fclose(f);
		return false;
	}
	snprintf(fmt, sizeof(fmt), "%%%zus", len - 1);
	ok = fscanf(f, fmt, out) == 1;
	fclose(f);
	return ok;
}

bool hostcpu_ept_ad(void)
{
	char v[8];

	return read_word("/sys/module/kvm_intel/parameters/eptad", v, sizeof(v)) &&
	       v[0] == 'Y';
}

bool hostcpu_clock_is_tsc(void)
{
	char cs[32];

	return read_word("/sys/devices/system/clocksource/clocksource0/current_clocksource",
			 cs, sizeof(cs)) && strcmp(cs, "tsc") == 0;
}
