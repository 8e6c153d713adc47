/* The event and serial rings (events.h). */
#include "api/events.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
	uint64_t seq;
	char type[8];
	char *data;		/* JSON, malloc'd */
};

struct api_events {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC */
	bool closed;
	uint64_t next_seq;	/* the next event's; the first is 1 */
	struct event ring[API_EVENTS_KEEP];
	char serial[API_SERIAL_KEEP];
	size_t serial_len;	/* bytes kept (<= API_SERIAL_KEEP) */
	size_t serial_head;	/* where the next byte goes */
};

struct api_events *api_events_new(void)
{
	struct api_events *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return NULL;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	e->next_seq = 1;
	return e;
}

void api_events_close(struct api_events *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->closed = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

void api_events_free(struct api_events *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < API_EVENTS_KEEP; i++)
		free(e->ring[i].data);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* Takes o (a JSON object). */
static void post(struct api_events *e, const char *type, json_t *o)
{
	char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct event *ev;

	json_decref(o);
	if (!e || !data) {
		free(data);
		return;
	}
	pthread_mutex_lock(&e->lock);
	ev = &e->ring[e->next_seq % API_EVENTS_KEEP];
	free(ev->data);
	ev->seq = e->next_seq++;
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	ev->data = data;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

void api_event_vcpu(struct api_events *e, unsigned vcpu, unsigned from, unsigned to,
		    unsigned moves)
{
	post(e, "vcpu", json_pack("{s:i, s:i, s:i, s:i}", "vcpu", (int)vcpu, "from", (int)from,
				  "to", (int)to, "moves", (int)moves));
}

void api_event_vm(struct api_events *e, const char *state, const char *reason)
{
	post(e, "vm", json_pack("{s:s, s:s}", "state", state, "reason", reason ? reason : ""));
}

void api_event_node(struct api_events *e, unsigned node, const char *state,
		    const char *reason)
{
	post(e, "node", json_pack("{s:i, s:s, s:s}", "node", (int)node, "state", state,
				  "reason", reason ? reason : ""));
}

void api_event_error(struct api_events *e, const char *message)
{
	post(e, "error", json_pack("{s:s}", "message", message));
}

/* A guest writes any bytes: UTF-8 as it is, anything else as Latin-1. */
static json_t *text_json(const char *t, size_t len)
{
	json_t *s = json_stringn(t, len);
	char *u;
	size_t k = 0;

	if (s)
		return s;
	u = malloc(len * 2 + 1);
	if (!u)
		return json_string("");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x80) {
			u[k++] = (char)c;
		} else {
			u[k++] = (char)(0xc0 | c >> 6);
			u[k++] = (char)(0x80 | (c & 0x3f));
		}
	}
	s = json_stringn(u, k);
	free(u);
	return s ? s : json_string("");
}

void api_event_serial(struct api_events *e, const char *text, size_t len)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < len; i++) {
		e->serial[e->serial_head] = text[i];
		e->serial_head = (e->serial_head + 1) % API_SERIAL_KEEP;
	}
	e->serial_len = e->serial_len + len > API_SERIAL_KEEP ? API_SERIAL_KEEP
							       : e->serial_len + len;
	pthread_mutex_unlock(&e->lock);
	/* Chunks that fit an event (jansson escapes, so leave room). */
	for (size_t off = 0; off < len; off += 256)
		post(e, "serial", json_pack("{s:o}", "text",
					    text_json(text + off, len - off < 256 ? len - off : 256)));
}

uint64_t api_events_head(struct api_events *e)
{
	uint64_t s;

	pthread_mutex_lock(&e->lock);
	s = e->next_seq - 1;
	pthread_mutex_unlock(&e->lock);
	return s;
}

long api_events_next(struct api_events *e, uint64_t *seq, unsigned wait_ms, char *buf,
		     size_t cap)
{
	struct timespec until;
	uint64_t oldest, want;
	long n = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->lock);
	while (!e->closed && e->next_seq <= *seq + 1 &&
	       pthread_cond_timedwait(&e->cond, &e->lock, &until) != ETIMEDOUT)
		;
	/* What was posted before the close is still delivered. */
	if (e->closed && e->next_seq <= *seq + 1) {
		pthread_mutex_unlock(&e->lock);
		return -1;
	}
	if (e->next_seq > *seq + 1) {
		oldest = e->next_seq > API_EVENTS_KEEP ? e->next_seq - API_EVENTS_KEEP : 1;
		want = *seq + 1 < oldest ? oldest : *seq + 1;
		const struct event *ev = &e->ring[want % API_EVENTS_KEEP];

		if (want != *seq + 1)
			n = snprintf(buf, cap, ": lost %llu events\n",
				     (unsigned long long)(want - *seq - 1));
		n += snprintf(buf + n, cap - (size_t)n, "id: %llu\nevent: %s\ndata: %s\n\n",
			      (unsigned long long)ev->seq, ev->type, ev->data);
		if ((size_t)n >= cap)
			n = snprintf(buf, cap, ": event %llu too long\n\n",
				     (unsigned long long)ev->seq);
		*seq = want;
	}
	pthread_mutex_unlock(&e->lock);
	return n;
}

char *api_serial_json(struct api_events *e)
{
	char *text = malloc(API_SERIAL_KEEP);
	size_t len, start;
	json_t *o;
	char *s;

	if (!text)
		return NULL;
	pthread_mutex_lock(&e->lock);
	len = e->serial_len;
	start = (e->serial_head + API_SERIAL_KEEP - len) % API_SERIAL_KEEP;
	for (size_t i = 0; i < len; i++)
		text[i] = e->serial[(start + i) % API_SERIAL_KEEP];
	pthread_mutex_unlock(&e->lock);
	o = json_pack("{s:o}", "text", text_json(text, len));
	free(text);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}
