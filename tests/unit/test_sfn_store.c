/* sfn_store.h: AWS's name rule, state machines round trip, execution
 * addressing, and the recorder's batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "sfn_store.h"
#include "unit.h"

static char dir[64];
static struct state *st;

static void names(void)
{
	struct buf why = BUF_INIT;
	const char *good[] = { "a", "Order-Flow_2", "x.y", "caf\xc3\xa9", "a'b", "a(b)", "a=b+c@d!" };
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		CHECK_INT(sfn_name_check(good[i], "name", &why), 0);
	const char *bad[] = { "", "a b", "a\tb", "a/b", "a:b", "a*b", "a?b", "a{b", "a}b", "a[b",
	                      "a]b", "a<b", "a>b", "a\"b", "a#b", "a%b", "a\\b", "a^b", "a|b",
	                      "a~b", "a`b", "a$b", "a&b", "a,b", "a;b", "a\x7f", "a\xc2\x85",
	                      "\xff" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK_INT(sfn_name_check(bad[i], "name", &why), -1);
	char long_name[82];
	memset(long_name, 'x', 81);
	long_name[81] = '\0';
	CHECK_INT(sfn_name_check(long_name, "name", &why), -1);
	long_name[80] = '\0';
	CHECK_INT(sfn_name_check(long_name, "name", &why), 0);
	/* 80 characters, more bytes */
	char wide[161];
	for (int i = 0; i < 80; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	wide[160] = '\0';
	CHECK_INT(sfn_name_check(wide, "name", &why), 0);
	buf_free(&why);
}

static struct sfn_machine mk(const char *name, const char *def, const char *type)
{
	struct sfn_machine m;
	memset(&m, 0, sizeof m);
	m.name = xstrdup(name);
	m.definition = xstrdup(def);
	m.type = xstrdup(type);
	m.role_arn = sfn_default_role();
	return m;
}

static void machines(void)
{
	const char *def = "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}";
	struct sfn_machine m = mk("flow", def, "STANDARD");
	CHECK_INT(sfn_machine_put(st, &m, SFN_CREATE), EK_OK);
	CHECK_STR(m.arn, "arn:aws:states:us-east-1:000000000000:stateMachine:flow");
	char *rev = xstrdup(m.revision_id);
	/* the same again: no change, the same revision */
	CHECK_INT(sfn_machine_put(st, &m, SFN_CREATE), EK_OK);
	CHECK_STR(m.revision_id, rev);
	free(m.type);
	m.type = xstrdup("EXPRESS");
	unit_quiet(1);
	int rc = sfn_machine_put(st, &m, SFN_CREATE);
	unit_quiet(0);
	CHECK_INT(rc, EK_USAGE);
	CHECK_INT(sfn_machine_put(st, &m, SFN_REPLACE), EK_OK);
	CHECK(strcmp(m.revision_id, rev) != 0);
	free(rev);
	sfn_machine_free(&m);

	struct sfn_machine g;
	CHECK_INT(sfn_machine_get(st, "flow", &g), EK_OK);
	CHECK_STR(g.type, "EXPRESS");
	CHECK_STR(g.definition, def);
	CHECK_STR(g.role_arn, "arn:aws:iam::000000000000:role/sfn-run");
	jv j = sfn_machine_json(&g);
	CHECK_STR(jx_str(j, "status"), "ACTIVE");
	CHECK_STR(jx_str(j, "definition"), def);
	jv_free(j);
	sfn_machine_free(&g);
	CHECK_INT(sfn_machine_get(st, "arn:aws:states:us-east-1:000000000000:stateMachine:flow", &g),
	          EK_OK);
	sfn_machine_free(&g);
	CHECK_INT(sfn_machine_get(st, "arn:aws:lambda:us-east-1:000000000000:function:flow", &g),
	          EK_NO);
	CHECK_INT(sfn_machine_get(st, "nope", &g), EK_NO);

	struct sfn_machine u = mk("ghost", def, "STANDARD");
	CHECK_INT(sfn_machine_put(st, &u, SFN_UPDATE), EK_NO);
	sfn_machine_free(&u);
	CHECK_INT(sfn_machine_delete(st, "flow"), EK_OK);
	CHECK_INT(sfn_machine_delete(st, "flow"), EK_NO);
}

static void addressing(void)
{
	char *a = sfn_execution_arn("flow:run-1");
	CHECK_STR(a, "arn:aws:states:us-east-1:000000000000:execution:flow:run-1");
	free(a);
	a = sfn_execution_arn("arn:aws:states:us-east-1:000000000000:execution:flow:run-1");
	CHECK_STR(a, "arn:aws:states:us-east-1:000000000000:execution:flow:run-1");
	free(a);
	CHECK(sfn_execution_arn("flow") == NULL);
	CHECK(sfn_execution_arn("a:b:c") == NULL);
	CHECK(sfn_execution_arn(":b") == NULL);
	CHECK(sfn_execution_arn("arn:aws:states:us-east-1:000000000000:stateMachine:flow") == NULL);
	CHECK(sfn_execution_arn("arn:aws:lambda:us-east-1:000000000000:execution:a:b") == NULL);
}

static struct sfn_execution ex(const char *name, const char *status, int64_t start)
{
	struct sfn_execution e;
	memset(&e, 0, sizeof e);
	char buf[160];
	snprintf(buf, sizeof buf, "arn:aws:states:us-east-1:000000000000:execution:m:%s", name);
	e.arn = xstrdup(buf);
	e.name = xstrdup(name);
	e.machine = xstrdup("m");
	e.machine_arn = xstrdup("arn:aws:states:us-east-1:000000000000:stateMachine:m");
	e.status = xstrdup(status);
	e.start_ms = start;
	e.stop_ms = start + 5;
	e.input = xstrdup("{\"a\":1}");
	if (!strcmp(status, "SUCCEEDED"))
		e.output = xstrdup("[1,2]");
	e.history = xstrdup("[{\"type\":\"ExecutionStarted\",\"id\":1}]");
	return e;
}

static void count(const struct sfn_execution *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
}

static void first_name(const struct sfn_execution *e, void *arg)
{
	char *out = arg;
	if (!*out)
		snprintf(out, 32, "%s", e->name);
}

static int recorded(void)
{
	int n = 0;
	sfn_execution_list(st, NULL, NULL, 0, count, &n);
	return n;
}

static void recorder(void)
{
	struct sfn_recorder *r = sfn_recorder_new(st, 3);
	struct sfn_execution e = ex("e1", "SUCCEEDED", 1000);
	CHECK_INT(sfn_recorder_add(r, &e), EK_OK);
	CHECK(e.arn == NULL);   /* taken */
	e = ex("e2", "FAILED", 3000);
	CHECK_INT(sfn_recorder_add(r, &e), EK_OK);
	CHECK_INT(recorded(), 0);   /* held until the batch is full */
	e = ex("e3", "SUCCEEDED", 2000);
	CHECK_INT(sfn_recorder_add(r, &e), EK_OK);
	CHECK_INT(recorded(), 3);
	e = ex("e4", "ABORTED", 500);
	CHECK_INT(sfn_recorder_add(r, &e), EK_OK);
	CHECK_INT(sfn_recorder_flush(r), EK_OK);
	CHECK_INT(recorded(), 4);
	/* a name already recorded is not overwritten */
	e = ex("e1", "FAILED", 9000);
	CHECK_INT(sfn_recorder_add(r, &e), EK_OK);
	unit_quiet(1);
	CHECK_INT(sfn_recorder_close(r), EK_OK);
	unit_quiet(0);
	CHECK_INT(recorded(), 4);

	struct sfn_execution g;
	const char *arn = "arn:aws:states:us-east-1:000000000000:execution:m:e1";
	CHECK_INT(sfn_execution_exists(st, arn), 1);
	CHECK_INT(sfn_execution_exists(st, "arn:aws:states:us-east-1:000000000000:execution:m:x"), 0);
	CHECK_INT(sfn_execution_get(st, arn, 1, &g), EK_OK);
	CHECK_STR(g.status, "SUCCEEDED");
	CHECK_STR(g.history, "[{\"type\":\"ExecutionStarted\",\"id\":1}]");
	jv j = sfn_execution_json(&g);
	char *text = jx_dumps(j);
	CHECK_STR(text, "{\"executionArn\":\"arn:aws:states:us-east-1:000000000000:execution:m:e1\","
	          "\"stateMachineArn\":\"arn:aws:states:us-east-1:000000000000:stateMachine:m\","
	          "\"name\":\"e1\",\"status\":\"SUCCEEDED\",\"startDate\":\"1970-01-01T00:00:01.000Z\","
	          "\"stopDate\":\"1970-01-01T00:00:01.005Z\",\"input\":{\"a\":1},\"output\":[1,2]}");
	free(text);
	jv_free(j);
	sfn_execution_free(&g);
	CHECK_INT(sfn_execution_get(st, arn, 0, &g), EK_OK);
	CHECK(g.history == NULL);
	sfn_execution_free(&g);

	/* newest first, filtered, limited */
	char name[32] = "";
	CHECK_INT(sfn_execution_list(st, "m", NULL, 0, first_name, name), EK_OK);
	CHECK_STR(name, "e2");
	int n = 0;
	sfn_execution_list(st, "m", "SUCCEEDED", 0, count, &n);
	CHECK_INT(n, 2);
	n = 0;
	sfn_execution_list(st, "m", NULL, 2, count, &n);
	CHECK_INT(n, 2);
	n = 0;
	sfn_execution_list(st, "other", NULL, 0, count, &n);
	CHECK_INT(n, 0);
}

int main(void)
{
	if (unit_tmpdir(dir, "sfn") != 0)
		return 1;
	char path[128];
	snprintf(path, sizeof path, "%s/state.db", dir);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCOUNT_ID");
	unsetenv("EVKIT_NOW");
	if (state_open(path, STATE_CREATE, &st) != EK_OK)
		return 1;
	RUN(names);
	RUN(machines);
	RUN(addressing);
	RUN(recorder);
	state_close(st);
	unit_rmrf(dir);
	return UNIT_DONE();
}
