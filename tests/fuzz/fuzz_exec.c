/*
 * libFuzzer target for the engine: definitions that load are run, on a
 * virtual clock, with a host that answers Tasks later and in a shuffled
 * order (some succeed with their input, some fail, some only when asl_run
 * drains them), so Parallel and Map branches interleave, fail, retry,
 * catch and are cancelled. The first byte seeds the host's choices; the
 * rest is the definition as JSON (a whole definition, or a "States"
 * object whose first key starts it). Nothing may crash, leak or hang:
 * executions are stopped after a bounded number of steps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pending {
	struct asl_task *t;
	jv input;
};

static struct pending q[256];
static int nq;
static unsigned seed;
static int steps;

static unsigned next_rand(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 16;
}

static void end_task(int k)
{
	struct pending p = q[k];
	q[k] = q[--nq];
	if (next_rand() % 4 == 0) {
		jv_free(p.input);
		asl_task_fail(p.t, next_rand() % 2 ? "States.Timeout" : "Custom.Error", "fuzz");
	} else {
		asl_task_succeed(p.t, p.input);
	}
}

static void start(void *ctx, struct asl_task *t, const char *resource, jv input, double timeout_s)
{
	(void)ctx;
	(void)resource;
	(void)timeout_s;
	if (nq == (int)(sizeof q / sizeof q[0]) || next_rand() % 8 == 0) {
		/* answered at once, from inside task_start */
		jv_free(input);
		asl_task_fail(t, "States.TaskFailed", "busy");
		return;
	}
	q[nq].t = t;
	q[nq].input = input;
	nq++;
}

static void wait_fn(void *ctx, int timeout_ms)
{
	(void)ctx;
	(void)timeout_ms;
	if (nq)
		end_task((int)(next_rand() % (unsigned)nq));
}

static int stopping(void)
{
	return ++steps > 20000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	jv v = jx_parse((const char *)data + 1, size - 1, NULL);
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		return 0;
	}
	jv def = v;
	if (!jv_object_has(jv_copy(v), jv_string("States")) && jv_object_length(jv_copy(v)) > 0) {
		jv keys = jv_keys_unsorted(jv_copy(v));
		def = jv_object_set(jv_object(), jv_string("StartAt"), jv_array_get(keys, 0));
		def = jv_object_set(def, jv_string("States"), v);
	}
	asl_machine *m = asl_load(def, NULL);
	jv_free(def);
	if (!m)
		return 0;
	seed = data[0];
	steps = 0;
	nq = 0;
	struct asl_options o;
	memset(&o, 0, sizeof o);
	o.exec_name = "fuzz";
	o.sm_name = "fuzz";
	o.virtual_time = 1;
	o.history = data[0] & 1;
	o.task_start = start;
	o.task_wait = wait_fn;
	o.stopping = stopping;
	o.s3_root = "/nonexistent";
	jv in = jv_parse("{\"a\":[1,2,3],\"b\":\"x\",\"n\":2,\"t\":\"2030-01-01T00:00:00Z\"}");
	struct asl_result r;
	asl_run(m, in, &o, &r);
	if (nq)
		abort();   /* asl_run returned with a task outstanding */
	asl_result_free(&r);
	jv_free(in);
	asl_free(m);
	return 0;
}
