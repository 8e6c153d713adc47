/* The baseline of bench/bigmem: the same passes as guests/bench/bigmem.c
 * over an anonymous mapping of the same size, in a process that
 * bench/bigmem puts in a memory cgroup limited to node 0's budget, with a
 * swap file on the host's disk: Linux swapping to disk.
 *
 * usage: swapbench MIB PASSES
 * Prints the guest's RESULT lines (same format, times from
 * CLOCK_MONOTONIC); exit status 0 when every word read back right. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define MIX 0x9e3779b97f4a7c15ull

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void result(const char *op, unsigned pass, uint64_t bytes, uint64_t ns,
		   uint64_t bad)
{
	printf("RESULT bigmem op=%s pass=%u bytes=%llu ns=%llu mib_per_s=%llu bad=%llu\n",
	       op, pass, (unsigned long long)bytes, (unsigned long long)ns,
	       (unsigned long long)(ns ? bytes * 1000000000ull / ns >> 20 : 0),
	       (unsigned long long)bad);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	uint64_t mib, n, bytes, t0, bad_all = 0;
	volatile uint64_t *w;
	unsigned passes;

	if (argc != 3 || !(mib = strtoull(argv[1], NULL, 10)) ||
	    !(passes = (unsigned)strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "usage: swapbench MIB PASSES\n");
		return 2;
	}
	bytes = mib << 20;
	n = bytes / 8;
	w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("swapbench: mmap");
		return 1;
	}
	/* No huge pages: the guest's pages are 4 KiB too. */
	madvise((void *)w, bytes, MADV_NOHUGEPAGE);
	for (uint64_t i = 0; i < n; i++)
		w[i] = i * MIX;
	for (unsigned p = 1; p <= passes; p++) {
		uint64_t bad = 0;

		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			w[i] = i * MIX + p;
		result("write", p, bytes, now_ns() - t0, 0);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			bad += w[i] != i * MIX + p;
		result("read", p, bytes, now_ns() - t0, bad);
		bad_all += bad;
	}
	return bad_all != 0;
}
