/* The API's answers as JSON (jansson), and which commands each VM state
 * allows. The shapes are docs/openapi.yaml's schemas, which the tests
 * check every response against. */
#include "api/reply.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[API_VM_NR] = {
	[API_VM_RUNNING] = "running",
	[API_VM_PAUSED] = "paused",
	[API_VM_STOPPING] = "stopping",
};

const char *api_vm_state_name(enum api_vm_state s)
{
	return (unsigned)s < API_VM_NR && state_names[s] ? state_names[s] : "?";
}

int api_reply_error(struct api_reply *r, int status, enum api_reject why,
		    const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->why = why;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return status;
}

/* The state machine of the VM as the API sees it (after Firecracker's
 * and cloud-hypervisor's: a command is checked against the state before
 * the VMM acts on it):
 *   running  --pause-->  paused  --resume-->  running
 *   running, paused --poweroff/reset--> stopping
 * Reading is always allowed; moving a vCPU only while running. */
int api_legal(const struct api_cmd *c, enum api_vm_state s, struct api_reply *r)
{
	bool ok = true;

	switch (c->kind) {
	case API_VM_ACTION:
		switch (c->action) {
		case API_ACTION_PAUSE: ok = s == API_VM_RUNNING; break;
		case API_ACTION_RESUME: ok = s == API_VM_PAUSED; break;
		case API_ACTION_POWEROFF:
		case API_ACTION_RESET: ok = s != API_VM_STOPPING; break;
		}
		if (!ok)
			return api_reply_error(r, 409, API_REJ_STATE, "cannot %s: the VM is %s",
					       api_action_name(c->action), api_vm_state_name(s));
		return 0;
	case API_MOVE_VCPU:
		if (s != API_VM_RUNNING)
			return api_reply_error(r, 409, API_REJ_STATE,
					       "cannot move a vCPU: the VM is %s",
					       api_vm_state_name(s));
		return 0;
	default:
		return 0;
	}
}

void api_counter_add(struct api_counters *cs, const char *name, uint64_t value)
{
	if (cs->nr < API_MAX_COUNTERS)
		cs->c[cs->nr++] = (struct api_counter){ name, value };
}

static json_t *opt_int(bool known, uint64_t v)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

static json_t *node_json(const struct api_node_view *n)
{
	json_t *sent = json_null(), *o;

	if (n->sent_known) {
		sent = json_array();
		for (unsigned i = 0; i < n->nr_sent && i < API_MAX_NODES; i++)
			json_array_append_new(sent, json_integer((json_int_t)n->pages_sent[i]));
	}
	o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:I, s:o, s:i, s:o, s:o}",
		      "id", (int)n->id, "addr", n->addr, "state", n->state,
		      "cpus", n->cpus_known ? json_real(n->cpus) : json_null(),
		      "load", n->load_known ? json_real(n->load) : json_null(),
		      "memory", (json_int_t)n->memory,
		      "resident_pages", opt_int(n->resident_known, n->resident_pages),
		      "vcpus", (int)n->vcpus,
		      "pages_from_node0", opt_int(n->pages_known, n->pages_from_0),
		      "pages_to_node0", opt_int(n->pages_known, n->pages_to_0));
	if (!o) {
		json_decref(sent);
		return NULL;
	}
	json_object_set_new(o, "pages_sent", sent);
	json_object_set_new(o, "faults", opt_int(n->faults_known, n->faults));
	json_object_set_new(o, "fault_wait_ms", n->faults_known ?
			    json_real((double)n->fault_wait_ns / 1e6) : json_null());
	json_object_set_new(o, "rtt_ms", n->rtt_known ? json_real((double)n->rtt_ns / 1e6)
						      : json_null());
	json_object_set_new(o, "report_age_ms", n->age_known ?
			    json_real((double)n->report_age_ns / 1e6) : json_null());
	return o;
}

static json_t *vcpu_json(const struct api_vcpu_view *v)
{
	return json_pack("{s:i, s:i, s:s, s:i, s:b, s:o, s:o}",
			 "id", (int)v->id, "node", (int)v->node, "state", v->state,
			 "moves", (int)v->moves, "movable", v->movable,
			 "page_wait_ms", v->wait_known ? json_real((double)v->wait_ns / 1e6)
						       : json_null(),
			 "exits", opt_int(v->exits_known, v->exits));
}

static json_t *counters_json(const struct api_counters *cs)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < cs->nr; i++)
		json_object_set_new(o, cs->c[i].name, json_integer((json_int_t)cs->c[i].value));
	return json_pack("{s:i, s:o}", "node", (int)cs->node, "counters", o);
}

static json_t *reply_value(const struct api_cmd *c, const struct api_reply *r)
{
	json_t *a;

	switch (c->kind) {
	case API_GET_VM:
		return json_pack("{s:s, s:i, s:I, s:i, s:s, s:s, s:f, s:o}",
				 "state", api_vm_state_name(r->vm.state),
				 "vcpus", (int)r->vm.vcpus, "memory", (json_int_t)r->vm.memory,
				 "nodes", (int)r->vm.nodes, "kernel", r->vm.kernel,
				 "migrate", r->vm.migrate, "uptime_s", r->vm.uptime_s,
				 "stop_reason", r->vm.stop_reason[0] ?
				 json_string(r->vm.stop_reason) : json_null());
	case API_GET_NODES:
		a = json_array();
		for (unsigned i = 0; i < r->nodes.nr; i++)
			json_array_append_new(a, node_json(&r->nodes.n[i]));
		return json_pack("{s:o}", "nodes", a);
	case API_GET_VCPUS:
		a = json_array();
		for (unsigned i = 0; i < r->vcpus.nr; i++)
			json_array_append_new(a, vcpu_json(&r->vcpus.v[i]));
		return json_pack("{s:o}", "vcpus", a);
	case API_GET_VCPU:
		return vcpu_json(&r->vcpus.v[0]);
	case API_GET_STATS:
		a = json_array();
		for (unsigned i = 0; i < r->stats.nr_nodes; i++)
			json_array_append_new(a, node_json(&r->stats.n[i]));
		{
			json_t *rep = json_array();

			for (unsigned i = 0; i < r->stats.nr_reported; i++) {
				json_t *c = counters_json(&r->stats.reported[i].c);

				json_object_set_new(c, "report_age_ms",
					json_real((double)r->stats.reported[i].age_ns / 1e6));
				json_array_append_new(rep, c);
			}
			return json_pack("{s:o, s:o, s:o}", "self", counters_json(&r->stats.self),
					 "nodes", a, "reported", rep);
		}
	case API_GET_DEVICES:
		a = json_array();
		for (unsigned i = 0; i < r->devices.nr; i++) {
			const struct api_device_view *d = &r->devices.d[i];

			json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:i}",
				"name", d->name, "space", d->space, "base", (json_int_t)d->base,
				"size", (json_int_t)d->size, "node", (int)d->node));
		}
		return json_pack("{s:o}", "devices", a);
	case API_MOVE_VCPU:
		return json_pack("{s:i, s:i, s:i}", "vcpu", (int)r->move.vcpu,
				 "from", (int)r->move.from, "to", (int)r->move.to);
	case API_VM_ACTION:
		return json_pack("{s:s, s:s}", "action", api_action_name(r->action.action),
				 "state", api_vm_state_name(r->action.state));
	default:
		return NULL;
	}
}

char *api_error_json(enum api_reject why, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s}", "error", msg, "reason", api_reject_name(why));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *api_reply_json(const struct api_cmd *c, const struct api_reply *r)
{
	json_t *o;
	char *s;

	if (r->status >= 400)
		return api_error_json(r->why, r->err);
	o = reply_value(c, r);
	if (!o)
		return api_error_json(API_REJ_NOT_FOUND, "no answer for this command");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
