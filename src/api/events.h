/* The API's event stream (GET /api/v1/events, server-sent events) and
 * the guest's serial output (GET /api/v1/serial): what the VMM posts here
 * is kept in two bounded rings, which the API's threads read without
 * asking the VMM. Any thread may post; posting never blocks on a reader
 * (a reader that falls more than API_EVENTS_KEEP events behind is told
 * how many it lost and goes on from the oldest kept).
 *
 * Events (the "data" of each is one JSON object; docs/openapi.yaml):
 *   vcpu    {"vcpu", "from", "to", "moves"}   a vCPU runs on another node now
 *   vm      {"state", "reason"}                running, paused, stopping
 *   node    {"node", "state", "reason"}        up (node 0 hears its reports),
 *                                              silent (no report for a second)
 *   serial  {"text"}                           guest serial output
 *   error   {"message"}                        something went wrong in the VMM */
#ifndef AMALGAM_API_EVENTS_H
#define AMALGAM_API_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_EVENTS_KEEP 512
#define API_SERIAL_KEEP (64 * 1024)
#define API_EVENT_MAX 2048	/* one event's JSON, bytes */

struct api_events;

struct api_events *api_events_new(void);
/* Wake every reader for good (they end their streams). */
void api_events_close(struct api_events *e);
void api_events_free(struct api_events *e);

void api_event_vcpu(struct api_events *e, unsigned vcpu, unsigned from, unsigned to,
		    unsigned moves);
void api_event_vm(struct api_events *e, const char *state, const char *reason);
void api_event_node(struct api_events *e, unsigned node, const char *state,
		    const char *reason);
void api_event_error(struct api_events *e, const char *message);
/* Guest output: kept for /serial and sent as serial events (in chunks). */
void api_event_serial(struct api_events *e, const char *text, size_t len);

/* A reader's next event after sequence *seq (0: from the oldest kept),
 * waiting up to wait_ms. Writes "id/event/data" SSE text into buf (at
 * most cap bytes) and returns its length; 0 when nothing came in time;
 * -1 once closed. */
long api_events_next(struct api_events *e, uint64_t *seq, unsigned wait_ms, char *buf,
		     size_t cap);
/* The newest sequence number, for a reader that wants only new events. */
uint64_t api_events_head(struct api_events *e);
/* The serial output kept, oldest first: a malloc'd JSON {"text": ...}. */
char *api_serial_json(struct api_events *e);

#endif
