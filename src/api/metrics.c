/* Prometheus metrics (metrics.h): a collection, its text exposition and
 * the server that renders it at each scrape. */
#include "api/metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/http.h"
#include "util/lathist.h"

/* Histogram buckets: 2^10 ns (~1 us) .. 2^34 ns (~17 s), doubling. */
#define HIST_FIRST 10
#define HIST_LAST 34
#define HIST_BUCKETS (HIST_LAST - HIST_FIRST + 1)

struct hist {
	const char *name, *help, *label, *label_value;
	uint64_t below[HIST_BUCKETS];
	uint64_t n, sum_ns;
};

struct metrics_out {
	unsigned node;
	struct metric *m;
	unsigned nr, cap;
	struct hist *h;
	unsigned nr_h, cap_h;
	bool oom;
};

struct metrics_server {
	struct MHD_Daemon *d;
	unsigned node;
	int port;
	metrics_collect_fn *fn;
	void *opaque;
};

struct metrics_out *metrics_out_new(unsigned node)
{
	struct metrics_out *o = calloc(1, sizeof(*o));

	if (o)
		o->node = node;
	return o;
}

void metrics_out_free(struct metrics_out *o)
{
	if (!o)
		return;
	free(o->m);
	free(o->h);
	free(o);
}

static bool grow(void **p, unsigned *cap, unsigned nr, size_t size)
{
	void *n;

	if (nr < *cap)
		return true;
	n = realloc(*p, (*cap ? *cap * 2 : 64) * size);
	if (!n)
		return false;
	*p = n;
	*cap = *cap ? *cap * 2 : 64;
	return true;
}

void metrics_add(struct metrics_out *o, const struct metric *m)
{
	if (!grow((void **)&o->m, &o->cap, o->nr, sizeof(*o->m))) {
		o->oom = true;
		return;
	}
	o->m[o->nr++] = *m;
}

void metrics_add_hist(struct metrics_out *o, const char *name, const char *help,
		      const char *label, const char *label_value, const struct lathist *h)
{
	struct hist *x;

	if (!grow((void **)&o->h, &o->cap_h, o->nr_h, sizeof(*o->h))) {
		o->oom = true;
		return;
	}
	x = &o->h[o->nr_h++];
	*x = (struct hist){ name, help, label, label_value };
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		x->below[i] = lathist_count_below(h, 1ULL << (HIST_FIRST + i));
	/* The count as the buckets say, so that +Inf is never below the last
	 * bucket when a sample lands between the reads. */
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++)
		x->n += h->bucket[i];
	x->sum_ns = h->sum;
}

const struct metric *metrics_at(const struct metrics_out *o, unsigned i)
{
	return i < o->nr ? &o->m[i] : NULL;
}

/* A growing text buffer. */
struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		char *np = realloc(t->p, t->cap * 2 + (size_t)n);
		if (!np) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = t->cap * 2 + (size_t)n;
	}
}

static void labels(struct text *t, unsigned node, const char *label, const char *value,
		   const char *le)
{
	put(t, "{node=\"%u\"", node);
	if (label)
		put(t, ",%s=\"%s\"", label, value);
	if (le)
		put(t, ",le=\"%s\"", le);
	put(t, "}");
}

char *metrics_render(const struct metrics_out *o)
{
	struct text t = { .cap = 4096 };
	bool *done;

	if (o->oom)
		return NULL;
	t.p = malloc(t.cap);
	done = calloc(o->nr + 1, sizeof(*done));
	if (!t.p || !done) {
		free(t.p);
		free(done);
		return NULL;
	}
	/* Each family once, its samples together, in order of appearance. */
	for (unsigned i = 0; i < o->nr; i++) {
		const struct metric *f = &o->m[i];
		const char *suffix = f->kind == METRIC_COUNTER ? "_total" : "";

		if (done[i])
			continue;
		put(&t, "# HELP amalgam_%s%s %s\n", f->name, suffix, f->help);
		put(&t, "# TYPE amalgam_%s%s %s\n", f->name, suffix,
		    f->kind == METRIC_COUNTER ? "counter" : "gauge");
		for (unsigned j = i; j < o->nr; j++) {
			if (done[j] || strcmp(o->m[j].name, f->name))
				continue;
			done[j] = true;
			put(&t, "amalgam_%s%s", f->name, suffix);
			labels(&t, o->node, o->m[j].label, o->m[j].label_value, NULL);
			put(&t, " %.17g\n", o->m[j].value);
		}
	}
	for (unsigned i = 0; i < o->nr_h; i++) {
		const struct hist *h = &o->h[i];
		char le[32];

		if (i == 0 || strcmp(o->h[i - 1].name, h->name)) {
			put(&t, "# HELP amalgam_%s %s\n", h->name, h->help);
			put(&t, "# TYPE amalgam_%s histogram\n", h->name);
		}
		for (unsigned b = 0; b < HIST_BUCKETS; b++) {
			snprintf(le, sizeof(le), "%.9g", (double)(1ULL << (HIST_FIRST + b)) / 1e9);
			put(&t, "amalgam_%s_bucket", h->name);
			labels(&t, o->node, h->label, h->label_value, le);
			put(&t, " %llu\n", (unsigned long long)h->below[b]);
		}
		put(&t, "amalgam_%s_bucket", h->name);
		labels(&t, o->node, h->label, h->label_value, "+Inf");
		put(&t, " %llu\n", (unsigned long long)h->n);
		put(&t, "amalgam_%s_sum", h->name);
		labels(&t, o->node, h->label, h->label_value, NULL);
		put(&t, " %.9g\n", (double)h->sum_ns / 1e9);
		put(&t, "amalgam_%s_count", h->name);
		labels(&t, o->node, h->label, h->label_value, NULL);
		put(&t, " %llu\n", (unsigned long long)h->n);
	}
	free(done);
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct metrics_server *s = cls;
	struct metrics_out *o;
	unsigned status = 200;
	char *body;

	if (!*con_cls) {
		*con_cls = s;		/* headers seen; the body (if any) next */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;	/* nothing here takes a body */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics")) {
		status = 404;
		body = strdup("not found: the metrics are at /metrics\n");
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = 405;
		body = strdup("method not allowed: GET /metrics\n");
	} else {
		o = metrics_out_new(s->node);
		if (o)
			s->fn(s->opaque, o);
		body = o ? metrics_render(o) : NULL;
		metrics_out_free(o);
	}
	return api_respond(c, status, status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
						    : "text/plain; charset=utf-8", body);
}

int metrics_start(struct metrics_server **out, const char *listen, unsigned node,
		  metrics_collect_fn *fn, void *opaque, char *err, size_t errlen)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	int fd;

	if (!s)
		return -ENOMEM;
	s->node = node;
	s->fn = fn;
	s->opaque = opaque;
	fd = api_tcp_listen(listen, "--metrics-listen", &s->port, err, errlen);
	if (fd < 0) {
		free(s);
		return fd;
	}
	/* One thread, connections served in turn: a scrape is short. */
	s->d = api_http_start(MHD_USE_INTERNAL_POLLING_THREAD, fd, on_request, s, 16, 10, NULL);
	if (!s->d) {
		close(fd);
		free(s);
		snprintf(err, errlen, "cannot start the metrics server on %s", listen);
		return -EIO;
	}
	*out = s;
	return 0;
}

int metrics_port(struct metrics_server *s)
{
	return s->port;
}

void metrics_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
