/* fn.h: the registry round trip, and invocation in both modes with every
 * way a handler can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fn.h"
#include "json.h"
#include "proc.h"
#include "unit.h"

static char dir[64];
static struct state *st;

static struct fn mk(const char *name, enum fn_mode mode, int64_t timeout, char **argv)
{
	static char *noenv[] = { NULL };
	struct fn f = { (char *)name, argv, noenv, timeout, mode, "", "" };
	return f;
}

static void registry(void)
{
	char *argv[] = { "cat", NULL };
	char *env[] = { "A=1", "B=x=y", NULL };
	struct fn f = mk("echo-fn", FN_STREAM, 1500, argv);
	f.env = env;
	CHECK_INT(fn_put(st, &f, 0), EK_OK);
	unit_quiet(1);
	int rc = fn_put(st, &f, 0);   /* exists */
	unit_quiet(0);
	CHECK_INT(rc, EK_USAGE);
	CHECK_INT(fn_put(st, &f, 1), EK_OK);
	struct fn g;
	CHECK_INT(fn_get(st, "echo-fn", &g), EK_OK);
	CHECK_STR(g.argv[0], "cat");
	CHECK(g.argv[1] == NULL);
	CHECK_STR(g.env[0], "A=1");
	CHECK_STR(g.env[1], "B=x=y");
	CHECK_INT(g.timeout_ms, 1500);
	CHECK(g.mode == FN_STREAM);
	jv j = fn_to_json(&g);
	CHECK_STR(jx_str(j, "FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:echo-fn");
	double t = 0;
	CHECK(jx_num(j, "Timeout", &t) && t == 1.5);
	jv_free(j);
	fn_free(&g);
	CHECK_INT(fn_get(st, "arn:aws:lambda:us-east-1:000000000000:function:echo-fn", &g), EK_OK);
	fn_free(&g);
	CHECK_INT(fn_get(st, "arn:aws:sqs:us-east-1:000000000000:echo-fn", &g), EK_NO);
	CHECK_INT(fn_get(st, "nope", &g), EK_NO);
	CHECK_INT(fn_delete(st, "echo-fn"), EK_OK);
	CHECK_INT(fn_delete(st, "echo-fn"), EK_NO);

	struct buf why = BUF_INIT;
	CHECK_INT(fn_name_check("ok_Name-1", &why), 0);
	CHECK_INT(fn_name_check("", &why), -1);
	CHECK_INT(fn_name_check("has space", &why), -1);
	CHECK_INT(fn_name_check("a/b", &why), -1);
	char long_name[70];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	CHECK_INT(fn_name_check(long_name, &why), -1);
	buf_free(&why);
}

/* Invoke and return the result as text; *rc gets FN_OK or FN_ERROR. */
static char *call(struct fn_invoker *inv, struct fn *f, const char *payload, int *rc)
{
	struct buf out = BUF_INIT;
	unit_quiet(1);  /* handlers' logs */
	*rc = fn_invoke(inv, f, payload, strlen(payload), &out);
	unit_quiet(0);
	return buf_detach(&out);
}

static int error_type_is(const char *result, const char *type)
{
	jv v = jx_parse(result, strlen(result), NULL);
	const char *t = jx_str(v, "errorType");
	int ok = t && strcmp(t, type) == 0 && jx_kind_of(v, "errorMessage") == JV_KIND_STRING;
	jv_free(v);
	return ok;
}

static void spawn_mode(void)
{
	struct fn_invoker *inv = fn_invoker_new();
	int rc;
	char *s;
	char *cat[] = { "cat", NULL };
	struct fn f = mk("c", FN_SPAWN, 5000, cat);
	/* Numbers keep their digits; a pretty answer becomes one line. */
	s = call(inv, &f, "{\"big\":1700000000000000007,\n \"f\":1.50}", &rc);
	CHECK_INT(rc, FN_OK);
	CHECK_STR(s, "{\"big\":1700000000000000007,  \"f\":1.50}");
	free(s);

	char *empty[] = { "true", NULL };
	f.argv = empty;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_OK);
	CHECK_STR(s, "null");
	free(s);

	char *fail[] = { "sh", "-c", "exit 3", NULL };
	f.argv = fail;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Runtime.ExitError"));
	CHECK(strstr(s, "exit status 3") != NULL);
	free(s);

	char *own[] = { "sh", "-c", "echo log line >&2; "
	                "echo '{\"errorType\":\"Valid.Err\",\"errorMessage\":\"no\"}' >&2; exit 1", NULL };
	f.argv = own;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Valid.Err"));
	free(s);

	char *text[] = { "echo", "not json", NULL };
	f.argv = text;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Runtime.MarshalError"));
	free(s);

	char *hang[] = { "sleep", "30", NULL };
	f.argv = hang;
	f.timeout_ms = 150;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Sandbox.Timedout"));
	CHECK(strstr(s, "Task timed out after 0.15 seconds") != NULL);
	free(s);

	char *missing[] = { "/nonexistent/handler", NULL };
	f.argv = missing;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Runtime.InvalidEntrypoint"));
	free(s);

	/* The function sees its name and its own environment. */
	char *env[] = { "GREETING=hi", NULL };
	char *show[] = { "sh", "-c", "printf '[\"%s\",\"%s\",\"%s\"]' \"$AWS_LAMBDA_FUNCTION_NAME\" "
	                 "\"$GREETING\" \"$EVKIT_FUNCTION_MODE\"", NULL };
	f.argv = show;
	f.env = env;
	f.timeout_ms = 5000;
	s = call(inv, &f, "1", &rc);
	CHECK_INT(rc, FN_OK);
	CHECK_STR(s, "[\"c\",\"hi\",\"spawn\"]");
	free(s);
	fn_invoker_free(inv);
}

static void stream_mode(void)
{
	struct fn_invoker *inv = fn_invoker_new();
	int rc;
	char *s;
	/* Counts its own calls: the same process answers every time. */
	char *counter[] = { "sh", "-c", "n=0; while read x; do n=$((n+1)); echo \"[$n,$x]\"; done", NULL };
	struct fn f = mk("counter", FN_STREAM, 5000, counter);
	s = call(inv, &f, "10", &rc);
	CHECK_STR(s, "[1,10]");
	free(s);
	s = call(inv, &f, "{\n\"a\": 1\n}", &rc);  /* sent as one line */
	CHECK_INT(rc, FN_OK);
	CHECK_STR(s, "[2,{ \"a\": 1 }]");
	free(s);

	/* Answers twice, then dies: the death is an error, and the next call
	 * starts a fresh process. */
	char *fragile[] = { "sh", "-c", "read x; echo 1; read x; echo 2; read x; exit 9", NULL };
	f = mk("fragile", FN_STREAM, 5000, fragile);
	s = call(inv, &f, "0", &rc); free(s);
	s = call(inv, &f, "0", &rc);
	CHECK_STR(s, "2");
	free(s);
	s = call(inv, &f, "0", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Runtime.ExitError"));
	CHECK(strstr(s, "exit status 9") != NULL);
	free(s);
	s = call(inv, &f, "0", &rc);
	CHECK_INT(rc, FN_OK);
	CHECK_STR(s, "1");  /* restarted */
	free(s);

	char *hang[] = { "sh", "-c", "while read x; do sleep 30; done", NULL };
	f = mk("hang", FN_STREAM, 150, hang);
	s = call(inv, &f, "0", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "Sandbox.Timedout"));
	free(s);

	char *errs[] = { "sh", "-c", "while read x; do echo '{\"errorType\":\"E\",\"errorMessage\":\"m\"}'; done", NULL };
	f = mk("errs", FN_STREAM, 5000, errs);
	s = call(inv, &f, "0", &rc);
	CHECK_INT(rc, FN_ERROR);
	CHECK(error_type_is(s, "E"));
	free(s);
	fn_invoker_free(inv);
}

int main(void)
{
	if (unit_tmpdir(dir, "fn") != 0)
		return 1;
	char path[128];
	snprintf(path, sizeof path, "%s/state.db", dir);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCOUNT_ID");
	if (state_open(path, STATE_CREATE, &st) != EK_OK)
		return 1;
	RUN(registry);
	RUN(spawn_mode);
	RUN(stream_mode);
	state_close(st);
	unit_rmrf(dir);
	return UNIT_DONE();
}
