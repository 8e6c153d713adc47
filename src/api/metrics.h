/* Prometheus metrics of one node (`--metrics-listen ADDR`, every node):
 * a libmicrohttpd thread serving GET /metrics in the text exposition
 * format. At each scrape it asks the node for its metrics (the collect
 * callback, on the server's thread: it must only read what is safe to
 * read from any thread) and writes them grouped by name, each family
 * with its HELP and TYPE, every sample labelled with the node id.
 * The same collection feeds the API's /stats (node/counters.c). */
#ifndef AMALGAM_API_METRICS_H
#define AMALGAM_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct lathist;
struct metrics_out;
struct metrics_server;

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

/* One sample. name: snake_case without the "amalgam_" prefix (and, for
 * counters, without "_total", which is added); help: static text. An
 * optional second label (label = NULL: none). */
struct metric {
	const char *name, *help;
	enum metric_kind kind;
	const char *label, *label_value;
	double value;
};

typedef void metrics_collect_fn(void *opaque, struct metrics_out *out);

/* A collection in memory, for callers that want the samples themselves. */
struct metrics_out *metrics_out_new(unsigned node);
void metrics_out_free(struct metrics_out *o);
void metrics_add(struct metrics_out *o, const struct metric *m);
/* A histogram from a latency histogram in ns, as seconds: buckets at
 * powers of two from 1 us to about 17 s, _sum and _count. */
void metrics_add_hist(struct metrics_out *o, const char *name, const char *help,
		      const char *label, const char *label_value, const struct lathist *h);
/* The i-th sample added (NULL past the end); histograms are not samples. */
const struct metric *metrics_at(const struct metrics_out *o, unsigned i);
/* The text exposition (malloc'd, NULL: out of memory). */
char *metrics_render(const struct metrics_out *o);

/* Serve GET /metrics on host:port. 0, or -errno with the reason in err. */
int metrics_start(struct metrics_server **out, const char *listen, unsigned node,
		  metrics_collect_fn *fn, void *opaque, char *err, size_t errlen);
int metrics_port(struct metrics_server *s);
/* Stops the thread (no callback after it returns). NULL is fine. */
void metrics_stop(struct metrics_server *s);

#endif
