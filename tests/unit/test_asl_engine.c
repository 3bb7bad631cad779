/*
 * test_asl_engine.c: the event loop under asl_run. A fake host runs Tasks
 * without blocking: task_start queues them, task_wait ends the oldest one.
 * The tests count how many Tasks are in flight at once, which shows what
 * runs concurrently without measuring any time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "asl.h"
#include "util.h"
#include "unit.h"

struct pending {
	struct asl_task *t;
	char *resource;
	jv input;
};

static struct host {
	struct pending q[4096];
	int head, tail;
	int started, max_inflight, waits, hold, cancels;
} h;

static void host_reset(void)
{
	memset(&h, 0, sizeof h);
}

static void start(void *ctx, struct asl_task *t, const char *resource, jv input, double timeout_s)
{
	(void)ctx;
	(void)timeout_s;
	h.q[h.tail].t = t;
	h.q[h.tail].resource = xstrdup(resource);
	h.q[h.tail].input = input;
	h.tail++;
	h.started++;
	if (h.tail - h.head > h.max_inflight)
		h.max_inflight = h.tail - h.head;
}

/* End the oldest task, but a "hold" task only when no other one is
 * running: "fail" fails, the others answer their input. */
static void wait_fn(void *ctx, int timeout_ms)
{
	(void)ctx;
	h.waits++;
	if (h.head == h.tail)
		return;
	int k = h.head;
	if (h.hold) {
		for (int i = h.head; i < h.tail; i++) {
			if (!strstr(h.q[i].resource, "hold")) {
				k = i;
				break;
			}
		}
	}
	if (h.hold == 2 && timeout_ms >= 0 && strstr(h.q[k].resource, "hold")) {
		/* a task that outlasts any deadline: let the time pass */
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return;
	}
	struct pending p = h.q[k];
	memmove(&h.q[h.head + 1], &h.q[h.head], (size_t)(k - h.head) * sizeof h.q[0]);
	h.head++;
	if (strstr(p.resource, "fail")) {
		jv_free(p.input);
		asl_task_fail(p.t, "Custom.Error", "it failed");
	} else {
		asl_task_succeed(p.t, p.input);
	}
	free(p.resource);
}

static void cancel_fn(void *ctx, struct asl_task *t)
{
	(void)ctx;
	for (int i = h.head; i < h.tail; i++)
		if (h.q[i].t == t)
			h.cancels++;
}

static const char *s3_root;

static void run(const char *def_text, const char *input, int virtual_time, struct asl_result *r)
{
	jv def = jv_parse(def_text);
	char *err = NULL;
	asl_machine *m = asl_load(def, &err);
	jv_free(def);
	if (!CHECK(m != NULL)) {
		printf("#   %s\n", err ? err : "");
		free(err);
		memset(r, 0, sizeof *r);
		r->output = r->history = jv_null();
		return;
	}
	struct asl_options o;
	memset(&o, 0, sizeof o);
	o.exec_name = "e";
	o.sm_name = "sm";
	o.virtual_time = virtual_time;
	o.start_time = 1000;
	o.task_start = start;
	o.task_wait = wait_fn;
	o.task_cancel = cancel_fn;
	o.history = 1;
	o.s3_root = s3_root;
	jv in = jv_parse(input);
	asl_run(m, in, &o, r);
	jv_free(in);
	asl_free(m);
}

static char *dumps(jv v)
{
	jv s = jv_dump_string(jv_copy(v), 0);
	char *r = xstrdup(jv_string_value(s));
	jv_free(s);
	return r;
}

#define TASK(name, next) "{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:1:function:" \
	name "\"," next "}"

static void test_parallel_tasks_run_at_once(void)
{
	host_reset();
	struct asl_result r;
	run("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":["
	    "{\"StartAt\":\"A\",\"States\":{\"A\":" TASK("echo", "\"End\":true") "}},"
	    "{\"StartAt\":\"B\",\"States\":{\"B\":" TASK("echo", "\"End\":true") "}},"
	    "{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Pass\",\"Result\":3,\"End\":true}}}]}}}",
	    "{\"x\":1}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	CHECK_INT(h.started, 2);
	CHECK_INT(h.max_inflight, 2);
	char *o = dumps(r.output);
	CHECK_STR(o, "[{\"x\":1},{\"x\":1},3]");
	free(o);
	asl_result_free(&r);
}

static const char *map_def(const char *maxc)
{
	static char b[1024];
	snprintf(b, sizeof b,
	         "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,%s"
	         "\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":" TASK("echo", "\"End\":true")
	         "}}}}}", maxc);
	return b;
}

static void test_map_max_concurrency(void)
{
	const struct { const char *maxc; int want; } cases[] = {
		{ "\"MaxConcurrency\":2,", 2 },
		{ "\"MaxConcurrency\":1,", 1 },
		{ "", 40 },                     /* AWS's inline limit */
		{ "\"MaxConcurrency\":500,", 40 },
	};
	jv items = jv_array();
	for (int i = 0; i < 100; i++)
		items = jv_array_append(items, jv_number(i));
	char *in = dumps(items);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		host_reset();
		struct asl_result r;
		run(map_def(cases[i].maxc), in, 1, &r);
		CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
		CHECK_INT(h.started, 100);
		CHECK_INT(h.max_inflight, cases[i].want);
		char *o = dumps(r.output);
		CHECK_STR(o, in);   /* results in item order */
		free(o);
		asl_result_free(&r);
	}
	free(in);
	jv_free(items);
}

static void test_branch_failure_cancels_siblings(void)
{
	/* B fails while A's task is still running: the Parallel state fails
	 * at once, and asl_run still waits for A's task to end. */
	host_reset();
	h.hold = 1;
	struct asl_result r;
	run("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":["
	    "{\"StartAt\":\"A\",\"States\":{\"A\":" TASK("hold", "\"Next\":\"A2\"")
	    ",\"A2\":{\"Type\":\"Pass\",\"End\":true}}},"
	    "{\"StartAt\":\"B\",\"States\":{\"B\":" TASK("fail", "\"End\":true") "}}]}}}",
	    "{}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "FAILED");
	CHECK_STR(r.error ? r.error : "", "Custom.Error");
	CHECK_INT(h.head, h.tail);   /* every task reported before asl_run returned */
	CHECK_INT(h.cancels, 1);     /* A's, when B failed */
	/* A2 never ran */
	char *hist = dumps(r.history);
	CHECK(strstr(hist, "\"A2\"") == NULL);
	CHECK(strstr(hist, "ParallelStateFailed") != NULL);
	free(hist);
	asl_result_free(&r);
}

static void test_map_iteration_failure_aborts_others(void)
{
	host_reset();
	h.hold = 1;
	struct asl_result r;
	run("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,\"ItemsPath\":\"$.items\","
	    "\"ItemProcessor\":{\"StartAt\":\"C\",\"States\":{"
	    "\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$\",\"NumericEquals\":1,\"Next\":\"F\"}],"
	    "\"Default\":\"H\"},"
	    "\"F\":" TASK("fail", "\"End\":true") ","
	    "\"H\":" TASK("hold", "\"End\":true") "}}}}}",
	    "{\"items\":[0,1,2]}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "FAILED");
	CHECK_STR(r.error ? r.error : "", "Custom.Error");
	char *hist = dumps(r.history);
	CHECK(strstr(hist, "MapIterationAborted") != NULL);
	CHECK(strstr(hist, "MapIterationFailed") != NULL);
	free(hist);
	CHECK_INT(h.head, h.tail);
	asl_result_free(&r);
}

static void test_virtual_waits_overlap(void)
{
	/* Two branches wait 10 s and 5 s at once: 10 s in all, and the
	 * shorter wait ends first. */
	host_reset();
	struct asl_result r;
	run("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":["
	    "{\"StartAt\":\"W10\",\"States\":{\"W10\":{\"Type\":\"Wait\",\"Seconds\":10,\"End\":true}}},"
	    "{\"StartAt\":\"W5\",\"States\":{\"W5\":{\"Type\":\"Wait\",\"Seconds\":5,\"End\":true}}}]}}}",
	    "1", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	CHECK(r.stop - r.start == 10);
	char *hist = dumps(r.history);
	char *a = strstr(hist, "\"name\":\"W5\",\"output\""), *b = strstr(hist, "\"name\":\"W10\",\"output\"");
	CHECK(a && b && a < b);
	free(hist);
	asl_result_free(&r);
}

static void test_retry_timer_in_branch(void)
{
	/* A failing task retried twice, 100 s apart, beside a branch that
	 * waits 150 s: 3 attempts, and the execution lasts as long as the
	 * slower branch plus the final failure (virtual time). */
	host_reset();
	struct asl_result r;
	run("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,"
	    "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Caught\"}],\"Branches\":["
	    "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":"
	    "\"arn:aws:lambda:us-east-1:1:function:fail\",\"End\":true,"
	    "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":100,\"MaxAttempts\":2,"
	    "\"BackoffRate\":1}]}}},"
	    "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":150,\"End\":true}}}]},"
	    "\"Caught\":{\"Type\":\"Pass\",\"End\":true}}}",
	    "{}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	CHECK_INT(h.started, 3);
	/* the branch failed at 200 s and the Wait branch was stopped */
	CHECK(r.stop - r.start == 200);
	char *o = dumps(r.output);
	CHECK_STR(o, "{\"Error\":\"Custom.Error\",\"Cause\":\"it failed\"}");
	free(o);
	asl_result_free(&r);
}

static void test_timeout_with_task_in_flight(void)
{
	/* Real time: the execution's 1 s timeout passes while a task runs. */
	host_reset();
	h.hold = 2;
	struct asl_result r;
	run("{\"TimeoutSeconds\":1,\"StartAt\":\"T\",\"States\":{\"T\":" TASK("hold", "\"End\":true") "}}",
	    "{}", 0, &r);
	CHECK_STR(asl_status_name(r.status), "TIMED_OUT");
	CHECK_INT(h.head, h.tail);
	asl_result_free(&r);
}

static void test_nested_map_in_parallel(void)
{
	host_reset();
	struct asl_result r;
	run("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":["
	    "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,\"MaxConcurrency\":3,"
	    "\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":" TASK("echo", "\"End\":true") "}}}}},"
	    "{\"StartAt\":\"M2\",\"States\":{\"M2\":{\"Type\":\"Map\",\"End\":true,\"MaxConcurrency\":2,"
	    "\"ItemProcessor\":{\"StartAt\":\"T2\",\"States\":{\"T2\":" TASK("echo", "\"End\":true") "}}}}}]}}}",
	    "[1,2,3,4,5,6]", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	CHECK_INT(h.started, 12);
	CHECK_INT(h.max_inflight, 5);
	char *o = dumps(r.output);
	CHECK_STR(o, "[[1,2,3,4,5,6],[1,2,3,4,5,6]]");
	free(o);
	asl_result_free(&r);
}

static void test_batches_and_max_items_paths(void)
{
	/* MaxItemsPerBatchPath and MaxInputBytesPerBatch cut the items;
	 * each batch carries BatchInput. */
	const struct { const char *batcher, *want; } cases[] = {
		{ "\"MaxItemsPerBatchPath\":\"$.per\"", "[[1,2],[3,4],[5]]" },
		{ "\"MaxItemsPerBatch\":10", "[[1,2,3,4,5]]" },
		/* {"BatchInput":{"b":1},"Items":[1,2]} is 36 bytes */
		{ "\"MaxInputBytesPerBatch\":36", "[[1,2],[3,4],[5]]" },
		{ "\"MaxItemsPerBatch\":1", "[[1],[2],[3],[4],[5]]" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char def[1024];
		snprintf(def, sizeof def,
		         "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,"
		         "\"ItemsPath\":\"$.items\",\"ItemBatcher\":{%s,\"BatchInput\":{\"b\":1}},"
		         "\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\","
		         "\"ExecutionType\":\"STANDARD\"},\"StartAt\":\"P\",\"States\":{\"P\":"
		         "{\"Type\":\"Pass\",\"OutputPath\":\"$.Items\",\"End\":true}}}}}}",
		         cases[i].batcher);
		host_reset();
		struct asl_result r;
		run(def, "{\"per\":2,\"items\":[1,2,3,4,5]}", 1, &r);
		CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
		char *o = dumps(r.output);
		CHECK_STR(o, cases[i].want);
		free(o);
		asl_result_free(&r);
	}

	/* ReaderConfig.MaxItemsPath limits what the ItemReader reads */
	char dir[64];
	CHECK(unit_tmpdir(dir, "asl") == 0);
	char path[512];
	snprintf(path, sizeof path, "%s/bucket", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/bucket/items.json", dir);
	FILE *fp = fopen(path, "w");
	fputs("[10,20,30,40]", fp);
	fclose(fp);
	s3_root = dir;
	host_reset();
	struct asl_result r;
	run("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,"
	    "\"ItemReader\":{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":"
	    "{\"InputType\":\"JSON\",\"MaxItemsPath\":\"$.max\"},\"Parameters\":{\"Bucket\":\"bucket\","
	    "\"Key\":\"items.json\"}},\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\","
	    "\"ExecutionType\":\"STANDARD\"},\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
	    "\"End\":true}}}}}}", "{\"max\":3}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	char *o = dumps(r.output);
	CHECK_STR(o, "[10,20,30]");
	free(o);
	asl_result_free(&r);
	s3_root = NULL;
	unit_rmrf(dir);
}

static char *slurp(const char *path)
{
	struct buf b = BUF_INIT;
	if (buf_read_file(&b, path) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static void test_result_writer(void)
{
	/* a distributed Map with a ResultWriter writes its children's records
	 * under ROOT/Bucket/Prefix/RUN/ and answers where the manifest is */
	char dir[64];
	CHECK(unit_tmpdir(dir, "asl") == 0);
	char path[512];
	snprintf(path, sizeof path, "%s/results", dir);
	mkdir(path, 0700);
	s3_root = dir;
	const char *def =
	    "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true,\"Label\":\"L\","
	    "\"ToleratedFailureCount\":5,"
	    "\"ResultWriter\":{\"Resource\":\"arn:aws:states:::s3:putObject\",\"Parameters\":"
	    "{\"Bucket.$\":\"$.bucket\",\"Prefix\":\"jobs\"}},\"ItemsPath\":\"$.items\","
	    "\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\",\"ExecutionType\":\"STANDARD\"},"
	    "\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$\","
	    "\"NumericEquals\":2,\"Next\":\"F\"}],\"Default\":\"P\"},"
	    "\"F\":{\"Type\":\"Fail\",\"Error\":\"Two\",\"Cause\":\"no twos\"},"
	    "\"P\":{\"Type\":\"Pass\",\"End\":true}}}}}}";
	host_reset();
	struct asl_result r;
	run(def, "{\"bucket\":\"results\",\"items\":[1,2,3]}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "SUCCEEDED");
	jv key = jv_object_get(jv_object_get(jv_copy(r.output), jv_string("ResultWriterDetails")),
	                       jv_string("Key"));
	jv arn = jv_object_get(jv_copy(r.output), jv_string("MapRunArn"));
	CHECK(jv_get_kind(key) == JV_KIND_STRING && jv_get_kind(arn) == JV_KIND_STRING);
	if (jv_get_kind(key) == JV_KIND_STRING && jv_get_kind(arn) == JV_KIND_STRING) {
		CHECK(strstr(jv_string_value(arn), ":mapRun:sm/L:") != NULL);
		CHECK(!strncmp(jv_string_value(key), "jobs/", 5));
		snprintf(path, sizeof path, "%s/results/%s", dir, jv_string_value(key));
		char *manifest = slurp(path);
		CHECK(manifest != NULL);
		CHECK(manifest && strstr(manifest, "\"DestinationBucket\":\"results\"") != NULL);
		CHECK(manifest && strstr(manifest, "SUCCEEDED_0.json") != NULL);
		CHECK(manifest && strstr(manifest, "FAILED_0.json") != NULL);
		free(manifest);
		char *slash = strrchr(path, '/');
		size_t room = sizeof path - (size_t)(slash + 1 - path);
		snprintf(slash + 1, room, "SUCCEEDED_0.json");
		char *ok = slurp(path);
		CHECK(ok && strstr(ok, "\"Input\":\"1\"") && strstr(ok, "\"Input\":\"3\"") &&
		      !strstr(ok, "\"Input\":\"2\""));
		CHECK(ok && strstr(ok, "\"Status\":\"SUCCEEDED\""));
		free(ok);
		snprintf(slash + 1, room, "FAILED_0.json");
		char *bad = slurp(path);
		CHECK(bad && strstr(bad, "\"Error\":\"Two\"") && strstr(bad, "\"Cause\":\"no twos\""));
		free(bad);
	}
	jv_free(key);
	jv_free(arn);
	asl_result_free(&r);

	/* no such bucket: States.ResultWriterFailed */
	run(def, "{\"bucket\":\"nope\",\"items\":[1]}", 1, &r);
	CHECK_STR(asl_status_name(r.status), "FAILED");
	CHECK_STR(r.error ? r.error : "", "States.ResultWriterFailed");
	asl_result_free(&r);
	s3_root = NULL;
	unit_rmrf(dir);
}

int main(void)
{
	RUN(test_parallel_tasks_run_at_once);
	RUN(test_map_max_concurrency);
	RUN(test_branch_failure_cancels_siblings);
	RUN(test_map_iteration_failure_aborts_others);
	RUN(test_virtual_waits_overlap);
	RUN(test_retry_timer_in_branch);
	RUN(test_timeout_with_task_in_flight);
	RUN(test_nested_map_in_parallel);
	RUN(test_batches_and_max_items_paths);
	RUN(test_result_writer);
	return UNIT_DONE();
}
