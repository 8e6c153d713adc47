/* What an API request asks for, decoded and checked: one typed command
 * (struct api_cmd) out of an HTTP method, a path and a JSON body, or the
 * 4xx that says why not. Pure: no sockets, no VM, no allocation that
 * outlives the call; fuzzed (fuzz/fuzz_api.c).
 *
 * The resources (docs/openapi.yaml is the contract):
 *   GET  /api/v1/vm                 the VM's state and configuration
 *   POST /api/v1/vm/actions         {"action": "pause"|"resume"|"poweroff"|"reset"}
 *   GET  /api/v1/nodes              every node
 *   GET  /api/v1/vcpus              every vCPU
 *   GET  /api/v1/vcpus/{id}         one vCPU
 *   POST /api/v1/vcpus/{id}/move    {"node": M}
 *   GET  /api/v1/stats              every counter of node 0, with the others' loads
 *   GET  /api/v1/devices            devices and the node that hosts them
 *   GET  /api/v1/events             server-sent events (events.h)
 *   GET  /api/v1/serial             the guest's recent serial output
 *   GET  /                          the live web console (console.h)
 * Which of them are legal depends on the VM's state; the VMM decides that
 * (node/api_glue.c), not the decoder. */
#ifndef AMALGAM_API_REQUEST_H
#define AMALGAM_API_REQUEST_H

#include <stddef.h>

/* Bodies are small JSON objects: anything longer is refused (413). */
#define API_BODY_MAX 4096

enum api_cmd_kind {
	API_GET_VM = 1,
	API_VM_ACTION,
	API_GET_NODES,
	API_GET_VCPUS,
	API_GET_VCPU,
	API_MOVE_VCPU,
	API_GET_STATS,
	API_GET_DEVICES,
	/* Served by the API's own threads, without the VMM (events.h,
	 * console.h): they read only what the VMM posted. */
	API_GET_EVENTS,
	API_GET_SERIAL,
	API_GET_CONSOLE,
	API_CMD_NR
};

enum api_action {
	API_ACTION_PAUSE = 1,
	API_ACTION_RESUME,
	API_ACTION_POWEROFF,
	API_ACTION_RESET,
};

struct api_cmd {
	enum api_cmd_kind kind;
	unsigned vcpu;			/* API_GET_VCPU, API_MOVE_VCPU */
	unsigned node;			/* API_MOVE_VCPU: where to */
	enum api_action action;		/* API_VM_ACTION */
};

/* Why a request was refused, for the error counters (one each). */
enum api_reject {
	API_REJ_NOT_FOUND,		/* 404: no such path */
	API_REJ_METHOD,			/* 405: path exists, not with this method */
	API_REJ_JSON,			/* 400: body is not a JSON object */
	API_REJ_FIELD,			/* 400: unknown, missing or mistyped field */
	API_REJ_TOO_LARGE,		/* 413 */
	API_REJ_AUTH,			/* 401: missing or wrong token */
	API_REJ_STATE,			/* 409: not legal in the VM's state now */
	API_REJ_RANGE,			/* 400/404: no such vCPU or node */
	API_REJ_BUSY,			/* 503: the VMM did not answer in time */
	API_REJ_NR
};

/* Decode. 0 and *cmd filled, or the HTTP status (4xx) with the reason in
 * err (one line) and *why set. body may be NULL when len is 0. */
int api_decode(const char *method, const char *path, const char *body, size_t len,
	       struct api_cmd *cmd, enum api_reject *why, char *err, size_t errlen);

const char *api_reject_name(enum api_reject r);
const char *api_action_name(enum api_action a);
/* The command's name, for logs ("move_vcpu", ...). */
const char *api_cmd_name(enum api_cmd_kind k);

#endif
