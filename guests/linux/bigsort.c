/* amalgam-bigsort: sort an array larger than one node's budget, inside the
 * Linux test guest (installed as /bin/amalgam-bigsort by scripts/guest,
 * built static), for the lab test linux-3node-bigmem.
 *
 *   amalgam-bigsort MIB
 *
 * Fills MIB MiB of 32-bit keys from xorshift, remembers their sum and xor
 * and a histogram of their top byte, sorts them with an LSD radix sort (4
 * passes of 8 bits through a second array of the same size: every pass
 * streams through both, so the working set is 2 x MIB), and checks that
 * the result is in order and has the same sum, xor and histogram: a lost
 * or stale page cannot pass. Prints one line and exits 0 when it holds:
 *   bigsort=ok mib=M keys=N seconds=S sum=X
 *   bigsort=FAIL ...                                                   */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t mib, n, sum = 0, sum2 = 0, x = 0x9e3779b97f4a7c15ull;
	uint32_t *a, *b, xr = 0, xr2 = 0;
	uint64_t hist[256] = { 0 }, hist2[256] = { 0 };
	double t0 = now();

	if (argc != 2 || !(mib = strtoull(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: amalgam-bigsort MIB\n");
		return 2;
	}
	n = (mib << 20) / 4;
	a = malloc(n * 4);
	b = malloc(n * 4);
	if (!a || !b) {
		printf("bigsort=FAIL cannot allocate 2 x %llu MiB\n", (unsigned long long)mib);
		return 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a[i] = (uint32_t)(x >> 16);
		sum += a[i];
		xr ^= a[i];
		hist[a[i] >> 24]++;
	}
	for (unsigned shift = 0; shift < 32; shift += 8) {
		uint64_t count[256] = { 0 }, pos = 0;
		uint32_t *t;

		for (uint64_t i = 0; i < n; i++)
			count[(a[i] >> shift) & 255]++;
		for (unsigned d = 0; d < 256; d++) {
			uint64_t c = count[d];

			count[d] = pos;
			pos += c;
		}
		for (uint64_t i = 0; i < n; i++)
			b[count[(a[i] >> shift) & 255]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (i && a[i - 1] > a[i]) {
			printf("bigsort=FAIL out of order at %llu: %u > %u\n",
			       (unsigned long long)i, a[i - 1], a[i]);
			return 1;
		}
		sum2 += a[i];
		xr2 ^= a[i];
		hist2[a[i] >> 24]++;
	}
	if (sum != sum2 || xr != xr2 || memcmp(hist, hist2, sizeof(hist))) {
		printf("bigsort=FAIL the keys changed: sum %llu -> %llu, xor %#x -> %#x\n",
		       (unsigned long long)sum, (unsigned long long)sum2, xr, xr2);
		return 1;
	}
	printf("bigsort=ok mib=%llu keys=%llu seconds=%.1f sum=%llu\n",
	       (unsigned long long)mib, (unsigned long long)n, now() - t0,
	       (unsigned long long)sum);
	return 0;
}
