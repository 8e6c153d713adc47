/* Decoding an API request into a typed command (request.h). Every field
 * of a body is known, typed and in range, or the request is refused:
 * unknown fields are an error, not ignored, so that a typo in a client
 * never silently does something else. */
#include "api/request.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"

#define PREFIX "/api/v1/"
/* Bound to what a vCPU or node id can be on the wire (one byte). */
#define API_ID_MAX 255

static const char *const reject_names[API_REJ_NR] = {
	[API_REJ_NOT_FOUND] = "not_found",
	[API_REJ_METHOD] = "method",
	[API_REJ_JSON] = "json",
	[API_REJ_FIELD] = "field",
	[API_REJ_TOO_LARGE] = "too_large",
	[API_REJ_AUTH] = "auth",
	[API_REJ_STATE] = "state",
	[API_REJ_RANGE] = "range",
	[API_REJ_BUSY] = "busy",
};

static const char *const cmd_names[API_CMD_NR] = {
	[API_GET_VM] = "get_vm",
	[API_VM_ACTION] = "vm_action",
	[API_GET_NODES] = "get_nodes",
	[API_GET_VCPUS] = "get_vcpus",
	[API_GET_VCPU] = "get_vcpu",
	[API_MOVE_VCPU] = "move_vcpu",
	[API_GET_STATS] = "get_stats",
	[API_GET_DEVICES] = "get_devices",
	[API_GET_EVENTS] = "get_events",
	[API_GET_SERIAL] = "get_serial",
	[API_GET_CONSOLE] = "get_console",
};

const char *api_reject_name(enum api_reject r)
{
	return (unsigned)r < API_REJ_NR ? reject_names[r] : "?";
}

const char *api_cmd_name(enum api_cmd_kind k)
{
	return (unsigned)k < API_CMD_NR && cmd_names[k] ? cmd_names[k] : "?";
}

const char *api_action_name(enum api_action a)
{
	switch (a) {
	case API_ACTION_PAUSE: return "pause";
	case API_ACTION_RESUME: return "resume";
	case API_ACTION_POWEROFF: return "poweroff";
	case API_ACTION_RESET: return "reset";
	}
	return "?";
}

static int refuse(enum api_reject r, int status, enum api_reject *why, char *err,
		  size_t errlen, const char *fmt, const char *arg)
{
	*why = r;
	snprintf(err, errlen, fmt, arg);
	return status;
}

/* The body as one JSON object with exactly the fields named (each must be
 * there). NULL with the reason set. */
static json_t *body_object(const char *body, size_t len, const char *const *fields,
			   unsigned nr, enum api_reject *why, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	const char *key;
	json_t *val;

	if (len > API_BODY_MAX) {
		refuse(API_REJ_TOO_LARGE, 413, why, err, errlen, "body over %s bytes", "4096");
		return NULL;
	}
	if (!body || !len) {
		refuse(API_REJ_JSON, 400, why, err, errlen, "a JSON object body is required%s", "");
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		*why = API_REJ_JSON;
		snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line,
			 je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		refuse(API_REJ_JSON, 400, why, err, errlen, "the body must be a JSON object%s", "");
		return NULL;
	}
	json_object_foreach(o, key, val) {
		bool known = false;

		for (unsigned i = 0; i < nr; i++)
			known |= !strcmp(key, fields[i]);
		if (!known) {
			*why = API_REJ_FIELD;
			snprintf(err, errlen, "unknown field '%.64s'", key);
			json_decref(o);
			return NULL;
		}
	}
	for (unsigned i = 0; i < nr; i++)
		if (!json_object_get(o, fields[i])) {
			refuse(API_REJ_FIELD, 400, why, err, errlen, "missing field '%s'", fields[i]);
			json_decref(o);
			return NULL;
		}
	return o;
}

static int decode_action(const char *body, size_t len, struct api_cmd *cmd,
			 enum api_reject *why, char *err, size_t errlen)
{
	static const char *const fields[] = { "action" };
	json_t *o = body_object(body, len, fields, 1, why, err, errlen);
	const char *s;
	int r = 400;

	if (!o)
		return *why == API_REJ_TOO_LARGE ? 413 : 400;
	s = json_string_value(json_object_get(o, "action"));
	if (!s) {
		refuse(API_REJ_FIELD, 400, why, err, errlen, "'action' must be a string%s", "");
		goto out;
	}
	for (enum api_action a = API_ACTION_PAUSE; a <= API_ACTION_RESET; a++)
		if (!strcmp(s, api_action_name(a))) {
			cmd->kind = API_VM_ACTION;
			cmd->action = a;
			r = 0;
			goto out;
		}
	*why = API_REJ_FIELD;
	snprintf(err, errlen, "unknown action '%.32s' (pause, resume, poweroff, reset)", s);
out:
	json_decref(o);
	return r;
}

static int decode_move(const char *body, size_t len, struct api_cmd *cmd,
		       enum api_reject *why, char *err, size_t errlen)
{
	static const char *const fields[] = { "node" };
	json_t *o = body_object(body, len, fields, 1, why, err, errlen);
	json_t *n;
	json_int_t v;

	if (!o)
		return *why == API_REJ_TOO_LARGE ? 413 : 400;
	n = json_object_get(o, "node");
	if (!json_is_integer(n)) {
		json_decref(o);
		return refuse(API_REJ_FIELD, 400, why, err, errlen,
			      "'node' must be an integer%s", "");
	}
	v = json_integer_value(n);
	json_decref(o);
	if (v < 0 || v > API_ID_MAX)
		return refuse(API_REJ_RANGE, 400, why, err, errlen,
			      "'node' out of range%s", "");
	cmd->kind = API_MOVE_VCPU;
	cmd->node = (unsigned)v;
	return 0;
}

/* "vcpus/ID" or "vcpus/ID/move": the id, and the rest after it. */
static int vcpu_path(const char *rest, unsigned *id, const char **tail)
{
	char num[8];
	size_t n = strcspn(rest, "/");
	uint64_t v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, rest, n);
	num[n] = 0;
	if (parse_uint(num, 0, API_ID_MAX, &v))
		return -1;
	*id = (unsigned)v;
	*tail = rest + n;
	return 0;
}

/* The one method a resource takes (and no body with GET): 0, or why not. */
static int only(const char *method, const char *want, size_t len, enum api_reject *why,
		char *err, size_t errlen)
{
	if (strcmp(method, want)) {
		*why = API_REJ_METHOD;
		snprintf(err, errlen, "%.16s is not allowed here (%s only)", method, want);
		return 405;
	}
	if (!strcmp(want, "GET") && len)
		return refuse(API_REJ_FIELD, 400, why, err, errlen, "GET takes no body%s", "");
	return 0;
}

int api_decode(const char *method, const char *path, const char *body, size_t len,
	       struct api_cmd *cmd, enum api_reject *why, char *err, size_t errlen)
{
	const char *rest, *tail;
	int r;
	static const struct { const char *path; enum api_cmd_kind kind; } gets[] = {
		{ "vm", API_GET_VM }, { "nodes", API_GET_NODES },
		{ "vcpus", API_GET_VCPUS }, { "stats", API_GET_STATS },
		{ "devices", API_GET_DEVICES }, { "events", API_GET_EVENTS },
		{ "serial", API_GET_SERIAL },
	};

	memset(cmd, 0, sizeof(*cmd));
	if (method && path && !strcmp(path, "/")) {
		r = only(method, "GET", 0, why, err, errlen);
		if (!r)
			cmd->kind = API_GET_CONSOLE;
		return r;
	}
	if (!method || !path || strncmp(path, PREFIX, strlen(PREFIX)))
		return refuse(API_REJ_NOT_FOUND, 404, why, err, errlen,
			      "no such resource: %.80s", path ? path : "");
	rest = path + strlen(PREFIX);
	for (unsigned i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		if (strcmp(rest, gets[i].path))
			continue;
		r = only(method, "GET", len, why, err, errlen);
		if (!r)
			cmd->kind = gets[i].kind;
		return r;
	}
	if (!strcmp(rest, "vm/actions"))
		return only(method, "POST", len, why, err, errlen) ?:
		       decode_action(body, len, cmd, why, err, errlen);
	if (!strncmp(rest, "vcpus/", 6) && !vcpu_path(rest + 6, &cmd->vcpu, &tail)) {
		if (!*tail) {
			r = only(method, "GET", len, why, err, errlen);
			if (!r)
				cmd->kind = API_GET_VCPU;
			return r;
		}
		if (!strcmp(tail, "/move"))
			return only(method, "POST", len, why, err, errlen) ?:
			       decode_move(body, len, cmd, why, err, errlen);
	}
	return refuse(API_REJ_NOT_FOUND, 404, why, err, errlen, "no such resource: %.80s", path);
}
