/* Figures over TSC samples for the benchmark guests (ipi.c, mmio.c; the
 * sort, median and timestamp also for exitloop.c and fault.c).
 *
 * A run is B batches of N samples laid out batch after batch. Besides the
 * percentiles over every sample, each batch gets its median and its mean,
 * and the run's batch figures are the medians of those over the batches:
 * steadier than one long loop when the busy host takes the CPU away for a
 * while. */
#ifndef GUEST_BENCH_BSTAT_H
#define GUEST_BENCH_BSTAT_H

#include <stdint.h>

#define BSTAT_MAX_BATCHES 31

struct bstat {			/* TSC cycles */
	uint64_t n, min, p50, p90, p99, max, mean;
	uint64_t batch_p50, batch_mean;
};

/* Summarize batches * per samples of a into s; sorts a in place. Pure
 * computation: call it in ring 3, where it runs at native speed. */
void bstat_batches(struct bstat *s, uint32_t *a, uint64_t per,
		   unsigned batches);

/* Print s as " p50_ns=... p99_ns=..." (no newline) for a RESULT line.
 * Ring 0 (printf). */
void bstat_print(const struct bstat *s);

/* Cycles to nanoseconds at the kit's TSC rate. */
uint64_t bstat_ns(uint64_t cycles);

/* Sort a (Shell sort, no allocation); median of v, sorting it (0 if n is
 * 0). For the benchmark guests that keep figures of their own. */
void bstat_sort32(uint32_t *a, uint64_t n);
uint64_t bstat_median64(uint64_t *v, unsigned n);

/* The TSC with nothing moved across the read: the timestamp around one
 * timed access. */
static inline uint64_t bstat_tsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

#endif
