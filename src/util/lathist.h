/* Latency percentiles, the one way Amalgam computes them: a histogram of
 * log-linear buckets (8 per octave), so that it takes samples from any
 * thread in constant space and time, without a lock, and answers any
 * percentile within 1/16 of the true value. For fault latencies (the
 * memory plane, the pager) and round trips (the cluster's probes). */
#ifndef AMALGAM_UTIL_LATHIST_H
#define AMALGAM_UTIL_LATHIST_H

#include <stdint.h>

/* 8 exact buckets for 0..7, then 8 per octave up to 2^41 (~36 minutes in
 * ns); anything larger lands in the last bucket. */
#define LATHIST_BUCKETS 320

struct lathist {
	uint64_t n;			/* samples ever taken */
	uint64_t max;
	uint64_t sum;			/* of every sample (Prometheus' _sum) */
	uint64_t bucket[LATHIST_BUCKETS];
};

/* Take one sample. Relaxed atomics: any thread, no lock; a reader may
 * see n and the buckets a sample apart. */
void lathist_add(struct lathist *h, uint64_t v);
/* A copy read with relaxed atomic loads, for a reader racing lathist_add. */
void lathist_read(const struct lathist *h, struct lathist *out);
/* The value below which pct percent of the samples fall (the midpoint of
 * its bucket, exact below 8); 0 without samples. */
uint64_t lathist_pct(const struct lathist *h, double pct);
/* How many samples are below v, exactly when v is a power of two or
 * below 8 (a bucket's start), for cumulative histograms (Prometheus). */
uint64_t lathist_count_below(const struct lathist *h, uint64_t v);

#endif
