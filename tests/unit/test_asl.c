/*
 * test_asl.c: the ASL interpreter through asl.h, as a table of
 * definition, input, and the expected status and output (or error and
 * cause). Executions run on a virtual clock.
 */
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "util.h"
#include "unit.h"

/* A task handler: "echo" returns its input, "fail" fails with
 * Custom.Error, "flaky" fails twice then succeeds, "slow" times out. */
static int calls;

static int task(void *ctx, const char *resource, jv input, double timeout_s,
                jv *result, char **error, char **cause)
{
	(void)ctx;
	calls++;
	if (strstr(resource, "echo")) {
		*result = input;
		return 0;
	}
	jv_free(input);
	if (strstr(resource, "big")) {
		char *t = malloc(300001);
		memset(t, 'y', 300000);
		t[300000] = '\0';
		*result = jv_string(t);
		free(t);
		return 0;
	}
	if (strstr(resource, "flaky") && calls > 2) {
		*result = jv_string("ok");
		return 0;
	}
	if (strstr(resource, "slow") && timeout_s > 0) {
		*error = strdup("States.Timeout");
		*cause = NULL;
		return -1;
	}
	*error = strdup("Custom.Error");
	*cause = strdup("it broke");
	return -1;
}

static const struct {
	const char *what, *def, *input, *status, *want; /* want: output or "error|cause" */
} cases[] = {
	{ "pass result path",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Result\":{\"x\":1},\"ResultPath\":\"$.r\",\"End\":true}}}",
	  "{\"a\":1}", "SUCCEEDED", "{\"a\":1,\"r\":{\"x\":1}}" },
	{ "input and output path",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"InputPath\":\"$.in\",\"OutputPath\":\"$.v\",\"End\":true}}}",
	  "{\"in\":{\"v\":7}}", "SUCCEEDED", "7" },
	{ "result path null keeps the input",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Result\":1,\"ResultPath\":null,\"End\":true}}}",
	  "{\"a\":1}", "SUCCEEDED", "{\"a\":1}" },
	{ "parameters with paths, context and intrinsics",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Parameters\":{\"v.$\":\"$.a\",\"s.$\":\"$$.State.Name\",\"f.$\":\"States.Format('{}-{}', $.a, 'x')\",\"k\":[1,{\"n.$\":\"$.a\"}]},\"End\":true}}}",
	  "{\"a\":1}", "SUCCEEDED", "{\"v\":1,\"s\":\"A\",\"f\":\"1-x\",\"k\":[1,{\"n\":1}]}" },
	{ "missing input path is States.Runtime",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"InputPath\":\"$.nope\",\"End\":true}}}",
	  "{}", "FAILED",
	  "States.Runtime|An error occurred while executing the state 'A' (entered at the event id #2). Invalid path '$.nope' : No results for path: $['nope']" },
	{ "choice with and/not and default",
	  "{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"And\":[{\"Variable\":\"$.n\",\"NumericGreaterThan\":1},{\"Not\":{\"Variable\":\"$.s\",\"StringMatches\":\"a*z\"}}],\"Next\":\"Y\"}],\"Default\":\"N\"},\"Y\":{\"Type\":\"Pass\",\"Result\":\"yes\",\"End\":true},\"N\":{\"Type\":\"Pass\",\"Result\":\"no\",\"End\":true}}}",
	  "{\"n\":2,\"s\":\"abc\"}", "SUCCEEDED", "\"yes\"" },
	{ "choice with no match and no default",
	  "{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"IsPresent\":false,\"Next\":\"Y\"}]},\"Y\":{\"Type\":\"Succeed\"}}}",
	  "{\"n\":2}", "FAILED", "States.NoChoiceMatched|" },
	{ "fail with paths",
	  "{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"ErrorPath\":\"$.e\",\"CausePath\":\"$.c\"}}}",
	  "{\"e\":\"E1\",\"c\":\"because\"}", "FAILED", "E1|because" },
	{ "fail with an intrinsic CausePath",
	  "{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"E2\",\"CausePath\":\"States.Format('item {} failed', $.id)\"}}}",
	  "{\"id\":7}", "FAILED", "E2|item 7 failed" },
	{ "wait seconds path",
	  "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}}}",
	  "{\"s\":3600}", "SUCCEEDED", "{\"s\":3600}" },
	{ "wait negative seconds",
	  "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}}}",
	  "{\"s\":-1}", "FAILED",
	  "States.Runtime|An error occurred while executing the state 'W' (entered at the event id #2). The SecondsPath parameter references a negative value: $.s == -1" },
	{ "execution timeout",
	  "{\"TimeoutSeconds\":5,\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":60,\"End\":true}}}",
	  "{}", "TIMED_OUT", "" },
	{ "parallel",
	  "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":[{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Result\":1,\"End\":true}}},{\"StartAt\":\"B\",\"States\":{\"B\":{\"Type\":\"Pass\",\"End\":true}}}],\"End\":true}}}",
	  "{\"x\":0}", "SUCCEEDED", "[1,{\"x\":0}]" },
	{ "map with item selector and context",
	  "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.l\",\"ItemSelector\":{\"i.$\":\"$$.Map.Item.Index\",\"v.$\":\"$$.Map.Item.Value\",\"k.$\":\"$.k\"},\"ItemProcessor\":{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}",
	  "{\"l\":[\"a\",\"b\"],\"k\":9}", "SUCCEEDED", "[{\"i\":0,\"v\":\"a\",\"k\":9},{\"i\":1,\"v\":\"b\",\"k\":9}]" },
	{ "a catcher's ResultPath into an array input is States.Runtime",
	  "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"Iterator\":{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"Bad\",\"Cause\":\"c\"}}},\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.err\",\"Next\":\"D\"}],\"End\":true},\"D\":{\"Type\":\"Pass\",\"End\":true}}}",
	  "[1]", "FAILED", "States.Runtime|" },
	{ "task echo with result selector",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:echo\",\"ResultSelector\":{\"got.$\":\"$.a\"},\"End\":true}}}",
	  "{\"a\":5}", "SUCCEEDED", "{\"got\":5}" },
	{ "task retried until it succeeds",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:flaky\",\"Retry\":[{\"ErrorEquals\":[\"Custom.Error\"],\"IntervalSeconds\":10,\"MaxAttempts\":3}],\"End\":true}}}",
	  "{}", "SUCCEEDED", "\"ok\"" },
	{ "task failure caught",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:fail\",\"Catch\":[{\"ErrorEquals\":[\"States.TaskFailed\"],\"Next\":\"D\"}],\"End\":true},\"D\":{\"Type\":\"Pass\",\"End\":true}}}",
	  "{}", "SUCCEEDED", "{\"Error\":\"Custom.Error\",\"Cause\":\"it broke\"}" },
	{ "task timeout is not States.TaskFailed",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:slow\",\"TimeoutSeconds\":1,\"Catch\":[{\"ErrorEquals\":[\"States.TaskFailed\"],\"Next\":\"D\"}],\"End\":true},\"D\":{\"Type\":\"Pass\",\"End\":true}}}",
	  "{}", "FAILED", "States.Timeout|" },
	{ "a task past HeartbeatSeconds is States.HeartbeatTimeout",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:slow\",\"TimeoutSeconds\":60,\"HeartbeatSeconds\":5,\"End\":true}}}",
	  "{}", "FAILED", "States.HeartbeatTimeout|" },
	{ "lambda invoke response shape",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\",\"Parameters\":{\"FunctionName\":\"echo\",\"Payload.$\":\"$\"},\"OutputPath\":\"$.Payload\",\"End\":true}}}",
	  "{\"a\":1}", "SUCCEEDED", "{\"a\":1}" },
	{ "assign: a state's own paths see the old value; inner scopes see outer ones",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Assign\":{\"x\":1},\"Next\":\"B\"},\"B\":{\"Type\":\"Pass\",\"Assign\":{\"x\":2},\"Parameters\":{\"old.$\":\"$x\",\"l\":[0]},\"Next\":\"M\"},\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.l\",\"ItemProcessor\":{\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":\"Pass\",\"Parameters\":{\"x.$\":\"$x\"},\"End\":true}}},\"ResultPath\":\"$.r\",\"End\":true}}}",
	  "{}", "SUCCEEDED", "{\"old\":1,\"l\":[0],\"r\":[{\"x\":2}]}" },
	{ "data limit on a Map's result",
	  "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"Parameters\":{\"l.$\":\"States.ArrayRange(1, 8, 1)\",\"s.$\":\"$.s\"},\"Next\":\"M\"},\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.l\",\"ItemSelector\":{\"s.$\":\"$.s\"},\"ItemProcessor\":{\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":\"Pass\",\"End\":true}}},\"ResultPath\":null,\"End\":true}}}",
	  NULL, "FAILED", "States.DataLimitExceeded|The state/task 'M' returned a result with a size exceeding the maximum number of bytes service limit." },
	{ "a task's oversized result is a catchable States.DataLimitExceeded",
	  "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:big\",\"ResultPath\":null,\"Catch\":[{\"ErrorEquals\":[\"States.DataLimitExceeded\"],\"Next\":\"D\"}],\"End\":true},\"D\":{\"Type\":\"Pass\",\"End\":true}}}",
	  "{}", "SUCCEEDED",
	  "{\"Error\":\"States.DataLimitExceeded\",\"Cause\":\"The state/task 'T' returned a result with a size exceeding the maximum number of bytes service limit.\"}" },
	{ "data limit",
	  "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"States.ArrayRange(1, 1000, 1)\",\"b.$\":\"States.Format('{}{}{}{}{}{}{}{}', $.s, $.s, $.s, $.s, $.s, $.s, $.s, $.s)\"},\"End\":true}}}",
	  NULL, "FAILED", "States.DataLimitExceeded|The state/task 'A' returned a result with a size exceeding the maximum number of bytes service limit." },
};

static char *big_input(void)
{
	size_t n = 40000;
	char *s = malloc(n + 16);
	memcpy(s, "{\"s\":\"", 6);
	memset(s + 6, 'x', n);
	memcpy(s + 6 + n, "\"}", 3);
	return s;
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unit_test = cases[i].what;
		calls = 0;
		char *err = NULL;
		jv def = jv_parse(cases[i].def);
		asl_machine *m = asl_load(def, &err);
		jv_free(def);
		if (!CHECK(m != NULL)) {
			printf("#   %s\n", err ? err : "");
			free(err);
			continue;
		}
		char *big = cases[i].input ? NULL : big_input();
		jv in = jv_parse(cases[i].input ? cases[i].input : big);
		free(big);
		struct asl_options o;
		memset(&o, 0, sizeof o);
		o.exec_name = "e";
		o.virtual_time = 1;
		o.task = task;
		struct asl_result r;
		asl_run(m, in, &o, &r);
		CHECK_STR(asl_status_name(r.status), cases[i].status);
		if (r.status == ASL_SUCCEEDED) {
			jv s = jv_dump_string(jv_copy(r.output), 0);
			CHECK_STR(jv_string_value(s), cases[i].want);
			jv_free(s);
		} else if (r.status == ASL_FAILED) {
			char got[1024];
			snprintf(got, sizeof got, "%s|%s", r.error ? r.error : "", r.cause ? r.cause : "");
			const char *w = cases[i].want;
			size_t wl = strlen(w);
			/* "Error|" alone checks the error name only */
			if (wl && w[wl - 1] == '|')
				CHECK(!strncmp(got, w, wl));
			else
				CHECK_STR(got, w);
		}
		asl_result_free(&r);
		jv_free(in);
		asl_free(m);
	}
	unit_test = "";
}

static void test_virtual_wait_and_retry_time(void)
{
	jv def = jv_parse("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":3600,\"Next\":\"T\"},"
	                  "\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:flaky\","
	                  "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":10,\"BackoffRate\":3}],\"End\":true}}}");
	asl_machine *m = asl_load(def, NULL);
	jv_free(def);
	struct asl_options o;
	memset(&o, 0, sizeof o);
	o.exec_name = "e";
	o.virtual_time = 1;
	o.start_time = 1000;
	o.history = 1;
	o.task = task;
	calls = 0;
	struct asl_result r;
	jv in = jv_object();
	asl_run(m, in, &o, &r);
	/* 3600 s of Wait, then retries after 10 s and 30 s */
	CHECK_INT((long long)(r.stop - r.start), 3640);
	CHECK_INT(calls, 3);
	CHECK(jv_get_kind(r.history) == JV_KIND_ARRAY);
	jv first = jv_array_get(jv_copy(r.history), 0);
	jv ty = jv_object_get(first, jv_string("type"));
	CHECK_STR(jv_string_value(ty), "ExecutionStarted");
	jv_free(ty);
	asl_result_free(&r);
	jv_free(in);
	asl_free(m);
}

static void test_retry_caps_and_runtime(void)
{
	/* MaxDelaySeconds caps the backoff: 10 s, then 50 s instead of 100 s */
	jv def = jv_parse("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
	                  "\"Resource\":\"arn:aws:lambda:us-east-1:1:function:flaky\","
	                  "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":10,"
	                  "\"BackoffRate\":10,\"MaxDelaySeconds\":50}],\"End\":true}}}");
	asl_machine *m = asl_load(def, NULL);
	jv_free(def);
	struct asl_options o;
	memset(&o, 0, sizeof o);
	o.exec_name = "e";
	o.virtual_time = 1;
	o.start_time = 1000;
	o.task = task;
	calls = 0;
	struct asl_result r;
	jv in = jv_object();
	asl_run(m, in, &o, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	CHECK_INT((long long)(r.stop - r.start), 60);
	asl_result_free(&r);
	asl_free(m);

	/* States.ALL does not catch States.Runtime */
	def = jv_parse("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.nope\","
	               "\"ItemProcessor\":{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},"
	               "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"D\"}],\"End\":true},"
	               "\"D\":{\"Type\":\"Succeed\"}}}");
	m = asl_load(def, NULL);
	jv_free(def);
	asl_run(m, in, &o, &r);
	CHECK_STR(asl_status_name(r.status), "FAILED");
	CHECK_STR(r.error, "States.Runtime");
	asl_result_free(&r);
	asl_free(m);
	jv_free(in);
}

static void test_validate(void)
{
	static const struct { const char *def, *first_message; } bad[] = {
		{ "{}", "These fields are required: [States, StartAt]" },
		{ "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Nope\",\"End\":true}}}",
		  "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]" },
		{ "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"}}}", "Missing 'Next' target: B" },
		{ "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true},\"B\":{\"Type\":\"Pass\",\"End\":true}}}",
		  "State B is not reachable" },
		{ "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"nope\"},\"End\":true}}}",
		  "The value for the field 'a.$' must be a valid JSONPath or a valid intrinsic function call" },
		{ "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Parallel\",\"Branches\":[],\"End\":true}}}", "Value cannot be empty" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		jv r = asl_validate(jv_parse(bad[i].def));
		jv res = jv_object_get(jv_copy(r), jv_string("result"));
		CHECK_STR(jv_string_value(res), "FAIL");
		jv d = jv_object_get(r, jv_string("diagnostics"));
		jv d0 = jv_array_get(d, 0);
		jv msg = jv_object_get(d0, jv_string("message"));
		CHECK_STR(jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "", bad[i].first_message);
		jv_free(msg);
		jv_free(res);
	}
	jv r = asl_validate(jv_parse("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Succeed\"}}}"));
	jv res = jv_object_get(r, jv_string("result"));
	CHECK_STR(jv_string_value(res), "OK");
	jv_free(res);
}

static void test_times(void)
{
	double t;
	CHECK(asl_parse_time("2016-03-14T01:59:00Z", &t) == 0);
	CHECK_INT((long long)t, 1457920740);
	CHECK(asl_parse_time("2016-03-14T01:59:00.5+01:00", &t) == 0);
	CHECK_INT((long long)(t * 10), 14579171405LL);
	CHECK(asl_parse_time("2016-03-14T01:59:00", &t) < 0);
	CHECK(asl_parse_time("2016-13-05T21:29:29Z", &t) < 0);
	CHECK(asl_parse_time("2016-12-05 21:29:29Z", &t) < 0);
	char buf[32];
	asl_format_time(1457920740.25, buf);
	CHECK_STR(buf, "2016-03-14T01:59:00.250Z");
}

static void test_dump(void)
{
	/* asl_json_dump writes what jv_dump_string writes */
	static const char *const values[] = {
		"null", "true", "false", "0", "-0", "42", "-17", "0.1", "1e17", "123456789012345678",
		"1.5e300", "3.25", "\"\"", "\"plain\"", "\"q\\\"b\\\\s\\n\\t\\r\\b\\f\\u0001\\u007f\"",
		"\"\\u00e9\\u2028\\ud83d\\ude00\"", "[]", "{}", "[1,[2,{\"a\":[]}],\"x\"]",
		"{\"b\":1,\"a\":{\"c\":null},\"\\u0000k\":true}",
	};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		jv v = jv_parse(values[i]);
		CHECK(jv_is_valid(v));
		jv want = jv_dump_string(jv_copy(v), 0);
		struct buf b = BUF_INIT;
		asl_json_dump(v, &b);
		CHECK_STR(buf_str(&b), jv_string_value(want));
		buf_free(&b);
		jv_free(want);
		jv_free(v);
	}
}

int main(void)
{
	RUN(test_table);
	RUN(test_virtual_wait_and_retry_time);
	RUN(test_retry_caps_and_runtime);
	RUN(test_validate);
	RUN(test_times);
	RUN(test_dump);
	return UNIT_DONE();
}
