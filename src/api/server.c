/* The API server (server.h): libmicrohttpd threads on a Unix socket and,
 * with a token, on TCP; a queue and an eventfd to the VMM's thread. */
#include "api/server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/console.h"
#include "api/events.h"
#include "api/http.h"
#include "util/log.h"

#define TOKEN_MAX 256

struct api_req {
	struct api_cmd cmd;
	struct api_reply reply;
	bool taken, done;
	struct api_req *next;
};

struct api_server {
	struct MHD_Daemon *unix_d, *tcp_d;
	char sock_path[108];
	int tcp_port;
	int efd;
	/* The token's hash: requests' tokens are hashed the same way and the
	 * hashes compared with sodium_memcmp, so that neither the length nor
	 * the first differing byte shows in the time taken. */
	unsigned char token_hash[crypto_generichash_BYTES];

	struct api_events *ev;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_req *head, *tail;	/* waiting, not taken */
	bool closing;
	struct api_server_stats st;
};

/* One request being read: its body, bounded. */
struct conn {
	bool tcp;
	bool too_large;
	size_t len;
	char body[API_BODY_MAX + 1];
};

static void count(struct api_server *s, enum api_reject why)
{
	pthread_mutex_lock(&s->lock);
	s->st.rejected[why]++;
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, char *body)
{
	return api_respond(c, (unsigned)status, "application/json", body);
}

static void count_answered(struct api_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->st.answered++;
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result refuse(struct api_server *s, struct MHD_Connection *c, int status,
			      enum api_reject why, const char *msg)
{
	count(s, why);
	return send_json(c, status, api_error_json(why, msg));
}

/* The token from "Authorization: Bearer T" or, for what a browser
 * cannot send headers with (EventSource, the console's first page), the
 * query parameter access_token (RFC 6750, 2.3). */
static bool token_ok(struct api_server *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char hash[crypto_generichash_BYTES];

	if (h && !strncmp(h, "Bearer ", 7))
		h += 7;
	else if (!h)
		h = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
	else
		return false;
	if (!h)
		return false;
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)h, strlen(h), NULL, 0);
	return sodium_memcmp(hash, s->token_hash, sizeof(hash)) == 0;
}

/* Queue the command and wait for the VMM's answer (bounded). */
static enum MHD_Result dispatch(struct api_server *s, struct MHD_Connection *c,
				const struct api_cmd *cmd)
{
	struct api_req *r = calloc(1, sizeof(*r));
	struct timespec until;
	uint64_t one = 1;
	int status;
	char *body;

	if (!r)
		return MHD_NO;
	r->cmd = *cmd;
	r->reply.status = 200;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += API_WAIT_MS / 1000;
	until.tv_nsec += (API_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	if (s->closing) {
		pthread_mutex_unlock(&s->lock);
		free(r);
		return refuse(s, c, 503, API_REJ_BUSY, "the VM is stopping");
	}
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	if (write(s->efd, &one, sizeof(one)) < 0)
		pr_warn("api: cannot signal the VMM: %s", strerror(errno));
	while (!r->done) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT &&
		    !r->taken && !r->done)
			break;
	}
	if (!r->done) {
		/* Never taken: unlink it; the VMM will not see it. */
		struct api_req **p = &s->head;

		while (*p != r)
			p = &(*p)->next;
		*p = r->next;
		if (s->tail == r) {
			s->tail = NULL;
			for (struct api_req *q = s->head; q; q = q->next)
				s->tail = q;
		}
		api_reply_error(&r->reply, 503, API_REJ_BUSY,
				"the VMM did not answer within %d ms", API_WAIT_MS);
	}
	if (r->reply.status >= 400)
		s->st.rejected[r->reply.why]++;
	else
		s->st.answered++;
	pthread_mutex_unlock(&s->lock);
	status = r->reply.status;
	body = api_reply_json(&r->cmd, &r->reply);
	free(r);
	return send_json(c, status, body);
}

/* One SSE stream: new events from its connection on, a comment every
 * SSE_KEEPALIVE_MS so that proxies and MHD's idle timeout keep it. */
#define SSE_KEEPALIVE_MS 10000

struct sse {
	struct api_events *ev;
	uint64_t seq;
};

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *x = cls;
	long n = api_events_next(x->ev, &x->seq, SSE_KEEPALIVE_MS, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == 0)
		n = snprintf(buf, max, ": keepalive\n\n");
	return n;
}

static void sse_free(void *cls)
{
	free(cls);
}

static enum MHD_Result serve_events(struct api_server *s, struct MHD_Connection *c)
{
	struct sse *x = calloc(1, sizeof(*x));
	struct MHD_Response *r;

	if (!x)
		return MHD_NO;
	x->ev = s->ev;
	x->seq = api_events_head(s->ev);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, x, sse_free);
	if (!r) {
		free(x);
		return MHD_NO;
	}
	count_answered(s);
	return api_queue(c, 200, "text/event-stream", r);
}

static enum MHD_Result serve_static(struct api_server *s, struct MHD_Connection *c,
				    const char *type, const char *body, size_t len,
				    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);

	if (!r)
		return MHD_NO;
	count_answered(s);
	return api_queue(c, 200, type, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct conn *cn = *con_cls;
	struct api_cmd cmd;
	enum api_reject why;
	char err[200];
	int status;

	if (!cn) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);

		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return MHD_NO;
		cn->tcp = ci && ci->daemon == s->tcp_d;
		*con_cls = cn;
		pthread_mutex_lock(&s->lock);
		s->st.requests++;
		pthread_mutex_unlock(&s->lock);
		return MHD_YES;
	}
	if (*upload_size) {
		/* Keep reading an oversized body (so that the answer reaches
		 * the client), but keep none of it. */
		if (cn->len + *upload_size > API_BODY_MAX)
			cn->too_large = true;
		else {
			memcpy(cn->body + cn->len, upload, *upload_size);
			cn->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (cn->tcp && !token_ok(s, c))
		return refuse(s, c, 401, API_REJ_AUTH, "missing or wrong bearer token");
	if (cn->too_large)
		return refuse(s, c, 413, API_REJ_TOO_LARGE, "request body over 4096 bytes");
	cn->body[cn->len] = 0;
	status = api_decode(method, url, cn->body, cn->len, &cmd, &why, err, sizeof(err));
	if (status)
		return refuse(s, c, status, why, err);
	switch (cmd.kind) {
	case API_GET_EVENTS:
		return serve_events(s, c);
	case API_GET_SERIAL: {
		char *j = api_serial_json(s->ev);

		return j ? serve_static(s, c, "application/json", j, strlen(j),
					MHD_RESPMEM_MUST_FREE) : MHD_NO;
	}
	case API_GET_CONSOLE:
		return serve_static(s, c, "text/html; charset=utf-8", api_console_html,
				    api_console_html_len, MHD_RESPMEM_PERSISTENT);
	default:
		return dispatch(s, c, &cmd);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

static struct MHD_Daemon *serve(struct api_server *s, int fd)
{
	return api_http_start(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			      fd, on_request, s, API_MAX_CONNS, 30, on_completed);
}

/* A Unix socket that only its owner may connect to: mode 0600 is set
 * between bind and listen, before anyone can connect. A stale socket left
 * by a dead VMM is replaced; a live one, or any other file, is not. */
static int unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "--api-sock path too long (max %zu bytes)",
			 sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--api-sock %s exists and is not a socket", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(probe);
			snprintf(err, errlen, "--api-sock %s is in use by another VMM", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    chmod(path, 0600) || listen(fd, 16)) {
		int e = errno;

		snprintf(err, errlen, "cannot listen on --api-sock %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

int api_token_load(const char *path, char *tok, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "cannot read --api-token %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!fgets(tok, (int)cap, f))
		tok[0] = 0;
	fclose(f);
	n = strcspn(tok, "\r\n");
	tok[n] = 0;
	while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
		tok[--n] = 0;
	if (n < API_TOKEN_MIN || n + 1 >= cap) {
		snprintf(err, errlen, "--api-token %s: the token (its first line) must be %d to %zu "
			 "characters", path, API_TOKEN_MIN, cap - 2);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (tok[i] <= ' ' || tok[i] > '~') {
			snprintf(err, errlen, "--api-token %s: the token must be printable "
				 "ASCII without spaces", path);
			return -EINVAL;
		}
	return 0;
}

int api_server_start(struct api_server **out, const struct api_server_config *cfg,
		     char *err, size_t errlen)
{
	struct api_server *s;
	char tok[TOKEN_MAX];
	int fd, r;

	if (cfg->listen && !cfg->token_file) {
		snprintf(err, errlen, "--api-listen needs --api-token FILE (TCP is served "
			 "only to clients with the token)");
		return -EINVAL;
	}
	if (cfg->token_file && !cfg->listen) {
		snprintf(err, errlen, "--api-token is for --api-listen (the Unix socket is "
			 "guarded by its file mode)");
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return -EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->ev = api_events_new();
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0 || !s->ev) {
		r = s->ev ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot create the API's eventfd: %s", strerror(-r));
		goto fail;
	}
	if (cfg->listen) {
		r = api_token_load(cfg->token_file, tok, sizeof(tok), err, errlen);
		if (r)
			goto fail;
		crypto_generichash(s->token_hash, sizeof(s->token_hash),
				   (const unsigned char *)tok, strlen(tok), NULL, 0);
		sodium_memzero(tok, sizeof(tok));
		fd = api_tcp_listen(cfg->listen, "--api-listen", &s->tcp_port, err, errlen);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		s->tcp_d = serve(s, fd);
		if (!s->tcp_d) {
			close(fd);
			snprintf(err, errlen, "cannot start the API server on %s", cfg->listen);
			r = -EIO;
			goto fail;
		}
	}
	if (cfg->sock_path) {
		fd = unix_listen(cfg->sock_path, err, errlen);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		snprintf(s->sock_path, sizeof(s->sock_path), "%s", cfg->sock_path);
		s->unix_d = serve(s, fd);
		if (!s->unix_d) {
			close(fd);
			snprintf(err, errlen, "cannot start the API server on %s", cfg->sock_path);
			r = -EIO;
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	api_server_stop(s);
	return r;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	for (struct api_req *r = s->head; r; r = r->next) {
		api_reply_error(&r->reply, 503, API_REJ_BUSY, "the VM is stopping");
		r->done = true;
	}
	s->head = s->tail = NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* Event streams end, so that their threads can be joined. */
	api_events_close(s->ev);
	/* Joins every connection's thread: each has its answer now. */
	if (s->unix_d)
		MHD_stop_daemon(s->unix_d);
	if (s->tcp_d)
		MHD_stop_daemon(s->tcp_d);
	if (s->sock_path[0])
		unlink(s->sock_path);
	if (s->efd >= 0)
		close(s->efd);
	api_events_free(s->ev);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct api_events *api_server_events(struct api_server *s)
{
	return s ? s->ev : NULL;
}

int api_server_fd(struct api_server *s)
{
	return s->efd;
}

int api_server_port(struct api_server *s)
{
	return s->tcp_port;
}

struct api_req *api_server_take(struct api_server *s)
{
	struct api_req *r;
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	r = s->head;
	if (r) {
		s->head = r->next;
		if (!s->head)
			s->tail = NULL;
		r->next = NULL;
		r->taken = true;
	} else if (read(s->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was signalled; the queue is empty anyway. */
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

const struct api_cmd *api_req_cmd(const struct api_req *r)
{
	return &r->cmd;
}

struct api_reply *api_req_reply(struct api_req *r)
{
	return &r->reply;
}

void api_req_done(struct api_server *s, struct api_req *r)
{
	pthread_mutex_lock(&s->lock);
	r->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void api_server_stats(struct api_server *s, struct api_server_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
