/* The control plane's pure parts: request decoding (every resource, every
 * kind of refusal), which commands each VM state allows, the event ring
 * (order, loss, close) and the metrics' text (families grouped, histogram
 * buckets cumulative). The servers themselves are tested end to end in
 * tests/api/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/events.h"
#include "api/metrics.h"
#include "api/reply.h"
#include "api/request.h"
#include "util/lathist.h"

static int decode(const char *m, const char *path, const char *body, struct api_cmd *c,
		  enum api_reject *why)
{
	char err[200];

	return api_decode(m, path, body, body ? strlen(body) : 0, c, why, err, sizeof(err));
}

static void test_decode_ok(void **state)
{
	struct api_cmd c;
	enum api_reject why;

	assert_int_equal(decode("GET", "/api/v1/vm", NULL, &c, &why), 0);
	assert_int_equal(c.kind, API_GET_VM);
	assert_int_equal(decode("GET", "/api/v1/vcpus/12", NULL, &c, &why), 0);
	assert_int_equal(c.kind, API_GET_VCPU);
	assert_int_equal(c.vcpu, 12);
	assert_int_equal(decode("POST", "/api/v1/vcpus/3/move", "{\"node\": 2}", &c, &why), 0);
	assert_int_equal(c.kind, API_MOVE_VCPU);
	assert_int_equal(c.vcpu, 3);
	assert_int_equal(c.node, 2);
	assert_int_equal(decode("POST", "/api/v1/vm/actions", "{\"action\":\"resume\"}", &c,
				&why), 0);
	assert_int_equal(c.action, API_ACTION_RESUME);
	assert_int_equal(decode("GET", "/", NULL, &c, &why), 0);
	assert_int_equal(c.kind, API_GET_CONSOLE);
	assert_int_equal(decode("GET", "/api/v1/events", NULL, &c, &why), 0);
	assert_int_equal(c.kind, API_GET_EVENTS);
}

static void test_decode_refused(void **state)
{
	static const struct {
		const char *m, *path, *body;
		int status;
		enum api_reject why;
	} cases[] = {
		{ "GET", "/api/v2/vm", NULL, 404, API_REJ_NOT_FOUND },
		{ "GET", "/api/v1/vcpus/", NULL, 404, API_REJ_NOT_FOUND },
		{ "GET", "/api/v1/vcpus/256", NULL, 404, API_REJ_NOT_FOUND },
		{ "GET", "/api/v1/vcpus/1x", NULL, 404, API_REJ_NOT_FOUND },
		{ "GET", "/api/v1/vcpus/1/move", NULL, 405, API_REJ_METHOD },
		{ "DELETE", "/api/v1/vm", NULL, 405, API_REJ_METHOD },
		{ "GET", "/api/v1/vm", "{}", 400, API_REJ_FIELD },
		{ "POST", "/api/v1/vm/actions", NULL, 400, API_REJ_JSON },
		{ "POST", "/api/v1/vm/actions", "{\"action\":", 400, API_REJ_JSON },
		{ "POST", "/api/v1/vm/actions", "\"pause\"", 400, API_REJ_JSON },
		{ "POST", "/api/v1/vm/actions", "{\"action\":\"pause\",\"action\":\"x\"}", 400,
		  API_REJ_JSON },
		{ "POST", "/api/v1/vm/actions", "{\"action\":\"pause\",\"now\":true}", 400,
		  API_REJ_FIELD },
		{ "POST", "/api/v1/vm/actions", "{}", 400, API_REJ_FIELD },
		{ "POST", "/api/v1/vm/actions", "{\"action\":\"PAUSE\"}", 400, API_REJ_FIELD },
		{ "POST", "/api/v1/vcpus/1/move", "{\"node\":1.5}", 400, API_REJ_FIELD },
		{ "POST", "/api/v1/vcpus/1/move", "{\"node\":256}", 400, API_REJ_RANGE },
		{ "POST", "/api/v1/vcpus/1/move", "{\"node\":-1}", 400, API_REJ_RANGE },
	};
	struct api_cmd c;
	enum api_reject why;
	char big[API_BODY_MAX + 2];
	char err[200];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = API_REJ_NR;
		if (decode(cases[i].m, cases[i].path, cases[i].body, &c, &why) != cases[i].status ||
		    why != cases[i].why)
			fail_msg("case %u: %s %s %s: want %d/%s, got %s", i, cases[i].m,
				 cases[i].path, cases[i].body ? cases[i].body : "",
				 cases[i].status, api_reject_name(cases[i].why), api_reject_name(why));
	}
	memset(big, ' ', sizeof(big));
	assert_int_equal(api_decode("POST", "/api/v1/vm/actions", big, sizeof(big), &c, &why,
				    err, sizeof(err)), 413);
	assert_int_equal(why, API_REJ_TOO_LARGE);
}

static void test_legal(void **state)
{
	struct api_cmd pause = { .kind = API_VM_ACTION, .action = API_ACTION_PAUSE };
	struct api_cmd resume = { .kind = API_VM_ACTION, .action = API_ACTION_RESUME };
	struct api_cmd off = { .kind = API_VM_ACTION, .action = API_ACTION_POWEROFF };
	struct api_cmd move = { .kind = API_MOVE_VCPU, .vcpu = 1, .node = 1 };
	struct api_cmd get = { .kind = API_GET_VCPUS };
	struct api_reply r;

	assert_int_equal(api_legal(&pause, API_VM_RUNNING, &r), 0);
	assert_int_equal(api_legal(&pause, API_VM_PAUSED, &r), 409);
	assert_int_equal(r.why, API_REJ_STATE);
	assert_int_equal(api_legal(&resume, API_VM_PAUSED, &r), 0);
	assert_int_equal(api_legal(&resume, API_VM_RUNNING, &r), 409);
	assert_int_equal(api_legal(&off, API_VM_PAUSED, &r), 0);
	assert_int_equal(api_legal(&off, API_VM_STOPPING, &r), 409);
	assert_int_equal(api_legal(&move, API_VM_RUNNING, &r), 0);
	assert_int_equal(api_legal(&move, API_VM_PAUSED, &r), 409);
	assert_int_equal(api_legal(&get, API_VM_STOPPING, &r), 0);
}

static void test_events(void **state)
{
	struct api_events *e = api_events_new();
	uint64_t seq = 0;
	char buf[4096];
	long n;

	assert_non_null(e);
	assert_int_equal(api_events_next(e, &seq, 1, buf, sizeof(buf)), 0);
	api_event_vcpu(e, 3, 2, 1, 7);
	api_event_serial(e, "hi\n", 3);
	n = api_events_next(e, &seq, 1, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "id: 1\nevent: vcpu\ndata: {\"vcpu\":3,\"from\":2,\"to\":1,"
			    "\"moves\":7}\n\n");
	n = api_events_next(e, &seq, 1, buf, sizeof(buf));
	assert_string_equal(buf, "id: 2\nevent: serial\ndata: {\"text\":\"hi\\n\"}\n\n");
	/* A reader that fell behind is told what it lost. */
	for (unsigned i = 0; i < API_EVENTS_KEEP + 5; i++)
		api_event_error(e, "x");
	n = api_events_next(e, &seq, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, ": lost 5 events\n"));
	/* Not UTF-8: still one valid JSON string. */
	api_event_serial(e, "\xff", 1);
	seq = api_events_head(e) - 1;
	n = api_events_next(e, &seq, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"text\":\"\xc3\xbf\""));
	api_events_close(e);
	assert_int_equal(api_events_next(e, &seq, 1000, buf, sizeof(buf)), -1);
	api_events_free(e);
}

static void test_metrics_text(void **state)
{
	struct metrics_out *o = metrics_out_new(2);
	struct lathist h;
	char *t;

	memset(&h, 0, sizeof(h));
	lathist_add(&h, 1500);		/* between 1024 and 2048 ns */
	lathist_add(&h, 3000000);	/* 3 ms */
	metrics_add(o, &(struct metric){ "exits", "exits", METRIC_COUNTER, "vcpu", "0", 5 });
	metrics_add(o, &(struct metric){ "here", "here", METRIC_GAUGE, NULL, NULL, 1 });
	metrics_add(o, &(struct metric){ "exits", "exits", METRIC_COUNTER, "vcpu", "1", 6 });
	metrics_add_hist(o, "fault_seconds", "latency", NULL, NULL, &h);
	t = metrics_render(o);
	assert_non_null(t);
	/* One family, its samples together though added apart. */
	assert_non_null(strstr(t, "# TYPE amalgam_exits_total counter\n"
				  "amalgam_exits_total{node=\"2\",vcpu=\"0\"} 5\n"
				  "amalgam_exits_total{node=\"2\",vcpu=\"1\"} 6\n"));
	assert_non_null(strstr(t, "amalgam_here{node=\"2\"} 1\n"));
	assert_non_null(strstr(t, "amalgam_fault_seconds_bucket{node=\"2\",le=\"1.024e-06\"} 0\n"));
	assert_non_null(strstr(t, "amalgam_fault_seconds_bucket{node=\"2\",le=\"2.048e-06\"} 1\n"));
	assert_non_null(strstr(t, "amalgam_fault_seconds_bucket{node=\"2\",le=\"0.004194304\"} 2\n"));
	assert_non_null(strstr(t, "amalgam_fault_seconds_count{node=\"2\"} 2\n"));
	assert_non_null(strstr(t, "amalgam_fault_seconds_sum{node=\"2\"} 0.0030015\n"));
	free(t);
	metrics_out_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_ok),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_legal),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_metrics_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
