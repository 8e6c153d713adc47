/* The API server: its own threads (libmicrohttpd, one per connection, at
 * most API_MAX_CONNS), which decode each request (request.h) and hand the
 * typed command to the VMM through a queue and an eventfd, then wait for
 * the VMM's typed reply (reply.h) and write it as JSON. The VMM's main
 * thread owns the VM: it polls the eventfd, takes each request, checks it
 * against the VM's state (api_legal) and answers at once, without
 * blocking. A request the VMM does not take within API_WAIT_MS gets 503.
 *
 * Where it listens: a Unix socket (mode 0600: whoever may open it may
 * drive the VM) and, optionally, TCP, where every request must carry
 * "Authorization: Bearer TOKEN" (the token file's first line, compared in
 * constant time; a browser's page and event stream may give it as the
 * query parameter access_token instead). The event stream, the serial
 * output and the console page are served by these threads alone, from
 * what the VMM posted (events.h). Every refusal is a 4xx/5xx with a JSON body
 * {"error": ..., "reason": ...} and one count in api_server_stats.
 *
 * Locking: the server's lock guards the queue and each request's
 * taken/done flags; the VMM fills a request's reply between take and done
 * without it (nobody else touches the reply then). */
#ifndef AMALGAM_API_SERVER_H
#define AMALGAM_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/reply.h"
#include "api/request.h"

#define API_MAX_CONNS 32
#define API_WAIT_MS 5000
#define API_TOKEN_MIN 16

struct api_server;
struct api_req;

struct api_server_config {
	const char *sock_path;		/* NULL: no Unix socket */
	const char *listen;		/* host:port for TCP, NULL: none */
	const char *token_file;		/* required with listen */
};

/* Start listening. 0, or -errno with the reason in err. */
int api_server_start(struct api_server **out, const struct api_server_config *cfg,
		     char *err, size_t errlen);
/* Refuse what is queued (503), stop the threads, remove the socket. */
void api_server_stop(struct api_server *s);

/* The eventfd that becomes readable when requests wait. */
int api_server_fd(struct api_server *s);
/* The VMM's thread: the next waiting request, or NULL. */
struct api_req *api_server_take(struct api_server *s);
const struct api_cmd *api_req_cmd(const struct api_req *r);
/* Where the VMM writes its answer (zeroed, status 200). */
struct api_reply *api_req_reply(struct api_req *r);
/* The answer is complete: wake the connection's thread. */
void api_req_done(struct api_server *s, struct api_req *r);

/* Where the VMM posts events and serial output (events.h); NULL for a
 * NULL server, which every api_event_* takes. */
struct api_events *api_server_events(struct api_server *s);

/* The TCP port bound (for --api-listen HOST:0), 0 if none. */
int api_server_port(struct api_server *s);

struct api_server_stats {
	uint64_t requests, answered;
	uint64_t rejected[API_REJ_NR];
};
void api_server_stats(struct api_server *s, struct api_server_stats *out);

/* Read a token file: its first line, at least API_TOKEN_MIN bytes.
 * 0, or -errno with the reason in err. */
int api_token_load(const char *path, char *tok, size_t cap, char *err, size_t errlen);

#endif
