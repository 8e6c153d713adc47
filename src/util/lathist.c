#include "util/lathist.h"

#include <stdbool.h>

static unsigned bucket_of(uint64_t v)
{
	unsigned e, b;

	if (v < 8)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	b = 8 + (e - 3) * 8 + (unsigned)((v >> (e - 3)) & 7);
	return b < LATHIST_BUCKETS ? b : LATHIST_BUCKETS - 1;
}

static uint64_t bucket_mid(unsigned b)
{
	unsigned e, sub;

	if (b < 8)
		return b;
	e = (b - 8) / 8 + 3;
	sub = (b - 8) % 8;
	return ((uint64_t)(8 + sub) << (e - 3)) + ((1ULL << (e - 3)) >> 1);
}

void lathist_add(struct lathist *h, uint64_t v)
{
	uint64_t m = __atomic_load_n(&h->max, __ATOMIC_RELAXED);

	while (v > m && !__atomic_compare_exchange_n(&h->max, &m, v, true,
						     __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
	__atomic_fetch_add(&h->bucket[bucket_of(v)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum, v, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->n, 1, __ATOMIC_RELAXED);
}

uint64_t lathist_count_below(const struct lathist *h, uint64_t v)
{
	uint64_t total = 0;
	unsigned last = bucket_of(v);

	/* A power of two starts a bucket: every bucket below holds only
	 * values below it. */
	for (unsigned i = 0; i < last; i++)
		total += h->bucket[i];
	return total;
}

void lathist_read(const struct lathist *h, struct lathist *out)
{
	out->n = __atomic_load_n(&h->n, __ATOMIC_RELAXED);
	out->max = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
	out->sum = __atomic_load_n(&h->sum, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++)
		out->bucket[i] = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
}

uint64_t lathist_pct(const struct lathist *h, double pct)
{
	uint64_t total = 0, seen = 0, rank;

	/* The buckets, not n: they are what is searched, and a racing
	 * writer may have counted one and not yet the other. */
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++)
		total += h->bucket[i];
	if (!total)
		return 0;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	/* The smallest bucket holding the ceil(pct% of total)-th sample. */
	rank = (uint64_t)(pct / 100.0 * (double)total + 0.999999);
	if (!rank)
		rank = 1;
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return bucket_mid(i);
	}
	return bucket_mid(LATHIST_BUCKETS - 1);
}
