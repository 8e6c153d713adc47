#include "bstat.h"

#include "libguest.h"

void bstat_sort32(uint32_t *a, uint64_t n)
{
	static const uint64_t gaps[] = { 10057, 4237, 1750, 701, 301, 132,
					 57, 23, 10, 4, 1 };

	for (unsigned g = 0; g < ARRAY_SIZE(gaps); g++)
		for (uint64_t i = gaps[g]; i < n; i++) {
			uint32_t v = a[i];
			uint64_t j = i;

			for (; j >= gaps[g] && a[j - gaps[g]] > v; j -= gaps[g])
				a[j] = a[j - gaps[g]];
			a[j] = v;
		}
}

uint64_t bstat_median64(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	if (!n)
		return 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bstat_batches(struct bstat *s, uint32_t *a, uint64_t per,
		   unsigned batches)
{
	uint64_t p50[BSTAT_MAX_BATCHES], mean[BSTAT_MAX_BATCHES];
	uint64_t n = per * batches, sum = 0;

	if (batches > BSTAT_MAX_BATCHES)
		batches = BSTAT_MAX_BATCHES;
	for (unsigned b = 0; b < batches; b++) {
		uint32_t *x = a + b * per;
		uint64_t bsum = 0;

		for (uint64_t i = 0; i < per; i++)
			bsum += x[i];
		sum += bsum;
		bstat_sort32(x, per);
		p50[b] = per ? x[per / 2] : 0;
		mean[b] = per ? bsum / per : 0;
	}
	bstat_sort32(a, n);
	s->n = n;
	s->min = n ? a[0] : 0;
	s->p50 = n ? a[n / 2] : 0;
	s->p90 = n ? a[n * 90 / 100] : 0;
	s->p99 = n ? a[n * 99 / 100] : 0;
	s->max = n ? a[n - 1] : 0;
	s->mean = n ? sum / n : 0;
	s->batch_p50 = bstat_median64(p50, batches);
	s->batch_mean = bstat_median64(mean, batches);
}

uint64_t bstat_ns(uint64_t cycles)
{
	return tsc_khz ? cycles * 1000000 / tsc_khz : 0;
}

void bstat_print(const struct bstat *s)
{
	printf(" p50_ns=%lu p90_ns=%lu p99_ns=%lu max_ns=%lu min_ns=%lu "
	       "mean_ns=%lu batch_p50_ns=%lu batch_mean_ns=%lu samples=%lu",
	       bstat_ns(s->p50), bstat_ns(s->p90), bstat_ns(s->p99),
	       bstat_ns(s->max), bstat_ns(s->min), bstat_ns(s->mean),
	       bstat_ns(s->batch_p50), bstat_ns(s->batch_mean), s->n);
}
