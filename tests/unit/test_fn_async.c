/* fn.h's asynchronous invocation: many calls in flight from one poll(2)
 * loop, the process limit, warm stream processes, timeouts, failures
 * delivered through the callback, a child that does not read, a callback
 * that starts more, and freeing the invoker mid-flight. Overlap is shown
 * with barriers (each handler waits until the others have started), never
 * with clocks. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fn.h"
#include "json.h"
#include "unit.h"

static char dir[64];
static char denv[160];  /* "D=<a fresh folder>" for the handlers */

struct answer {
	int calls, status;
	char *result;
};

static void collect(void *arg, int status, const char *result, size_t len)
{
	struct answer *a = arg;
	a->calls++;
	a->status = status;
	free(a->result);
	a->result = xmalloc(len + 1);
	memcpy(a->result, result, len);
	a->result[len] = '\0';
}

static struct fn mk(const char *name, enum fn_mode mode, int64_t timeout, char **argv)
{
	static char *env[2];
	env[0] = denv;
	env[1] = NULL;
	struct fn f = { (char *)name, argv, env, timeout, mode, "", "" };
	return f;
}

/* A fresh, empty folder for one test's marker files. */
static void fresh(const char *tag)
{
	char d[128];
	snprintf(d, sizeof d, "%s/%s", dir, tag);
	mkdir(d, 0700);
	snprintf(denv, sizeof denv, "D=%s", d);
}

/* The loop a caller writes, run until nothing is pending. Returns the most
 * pollfds seen at once. */
static int drive(struct fn_invoker *inv)
{
	struct pollfd *fds = NULL;
	int most = 0;
	unit_quiet(!getenv("LOUD"));  /* handlers' logs (LOUD=1 shows them) */
	while (fn_pending(inv)) {
		int max = fn_pollfds_max(inv);
		fds = xrealloc(fds, (size_t)max * sizeof *fds);
		int timeout = -1;
		int n = fn_pollfds(inv, fds, max, &timeout);
		if (n > most)
			most = n;
		poll(fds, (nfds_t)n, timeout);
		fn_dispatch(inv, fds, n);
	}
	unit_quiet(0);
	free(fds);
	return most;
}

static int error_type_is(const char *result, const char *type)
{
	jv v = jx_parse(result, strlen(result), NULL);
	const char *t = jx_str(v, "errorType");
	int ok = t && strcmp(t, type) == 0 && jx_kind_of(v, "errorMessage") == JV_KIND_STRING;
	jv_free(v);
	return ok;
}

/* A process is gone once it is neither running nor waiting to be reaped
 * by init. Waits for that (the kernel may take a moment), then says. */
static int gone(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char path[64], stat[256] = "";
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		FILE *fp = fopen(path, "r");
		if (!fp)
			return kill(pid, 0) != 0 && errno == ESRCH;
		size_t n = fread(stat, 1, sizeof stat - 1, fp);
		fclose(fp);
		stat[n] = '\0';
		const char *paren = strrchr(stat, ')');
		if (paren && paren[1] == ' ' && paren[2] == 'Z')
			return 1;
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static pid_t read_pid(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", denv + 2, name);
	FILE *fp = fopen(path, "r");
	int pid = 0;
	if (fp) {
		if (fscanf(fp, "%d", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	return (pid_t)pid;
}

/* 20 spawn-mode calls at once: each waits until all 20 have started, so
 * they can only end if they overlap. */
static void overlap(void)
{
	enum { N = 20 };
	fresh("overlap");
	char *argv[] = { "sh", "-c", "touch \"$D/s.$$\"; "
	                 "while [ \"$(ls \"$D\" | wc -l)\" -lt 20 ]; do sleep 0.02; done; cat", NULL };
	struct fn f = mk("overlap", FN_SPAWN, 60000, argv);
	struct fn_invoker *inv = fn_invoker_new();
	struct answer a[N];
	memset(a, 0, sizeof a);
	for (int i = 0; i < N; i++) {
		char p[32];
		snprintf(p, sizeof p, "{\"i\":%d}", i);
		fn_start(inv, &f, p, strlen(p), collect, &a[i]);
	}
	CHECK_INT(fn_pending(inv), N);
	drive(inv);
	CHECK_INT(fn_pending(inv), 0);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		char p[32];
		snprintf(p, sizeof p, "{\"i\":%d}", i);
		ok += a[i].calls == 1 && a[i].status == FN_OK && a[i].result &&
		      strcmp(a[i].result, p) == 0;
		free(a[i].result);
	}
	CHECK_INT(ok, N);
	fn_invoker_free(inv);
}

/* At most 3 processes: each handler counts the handlers running beside
 * it (marker files made after it starts and removed before it ends). */
static void max_procs(void)
{
	enum { N = 10 };
	fresh("limit");
	char *argv[] = { "sh", "-c", "touch \"$D/r.$$\"; n=$(ls \"$D\" | grep -c '^r\\.'); "
	                 "sleep 0.05; rm \"$D/r.$$\"; echo $n", NULL };
	struct fn f = mk("limit", FN_SPAWN, 60000, argv);
	struct fn_invoker *inv = fn_invoker_new();
	fn_set_max_procs(inv, 3);
	struct answer a[N];
	memset(a, 0, sizeof a);
	for (int i = 0; i < N; i++)
		fn_start(inv, &f, "1", 1, collect, &a[i]);
	/* Three started, each polled on stdout and stderr (its one-byte
	 * payload went at once, and its stdin is closed); 7 wait. */
	struct pollfd fds[64];
	int timeout = -1;
	unit_quiet(1);
	int n = fn_pollfds(inv, fds, 64, &timeout);
	unit_quiet(0);
	CHECK_INT(n, 6);
	CHECK_INT(fn_pending(inv), N);
	int most = drive(inv);
	CHECK(most <= 9);
	int ok = 0, within = 0;
	for (int i = 0; i < N; i++) {
		ok += a[i].calls == 1 && a[i].status == FN_OK;
		int c = a[i].result ? atoi(a[i].result) : 0;
		within += c >= 1 && c <= 3;
		free(a[i].result);
	}
	CHECK_INT(ok, N);
	CHECK_INT(within, N);
	fn_invoker_free(inv);
}

/* Stream mode with a limit of 4: four warm processes at once (each
 * request waits until four processes have served one), then the next
 * four requests reuse them. */
static void stream_warm(void)
{
	enum { N = 8 };
	fresh("warm");
	char *argv[] = { "sh", "-c", "while read x; do touch \"$D/w.$$\"; "
	                 "while [ \"$(ls \"$D\" | wc -l)\" -lt 4 ]; do sleep 0.02; done; "
	                 "echo $$; done", NULL };
	struct fn f = mk("warm", FN_STREAM, 60000, argv);
	struct fn_invoker *inv = fn_invoker_new();
	fn_set_max_procs(inv, 4);
	struct answer a[N];
	memset(a, 0, sizeof a);
	for (int i = 0; i < N; i++)
		fn_start(inv, &f, "{\n}", 3, collect, &a[i]);
	drive(inv);
	int ok = 0, distinct = 0;
	long pids[N];
	for (int i = 0; i < N; i++) {
		ok += a[i].calls == 1 && a[i].status == FN_OK;
		pids[i] = a[i].result ? atol(a[i].result) : 0;
		int seen = 0;
		for (int k = 0; k < i; k++)
			seen |= pids[k] == pids[i];
		distinct += !seen;
		free(a[i].result);
	}
	CHECK_INT(ok, N);
	CHECK_INT(distinct, 4);

	/* A second round on the warm processes: no new one starts. */
	memset(a, 0, sizeof a);
	for (int i = 0; i < N; i++)
		fn_start(inv, &f, "1", 1, collect, &a[i]);
	drive(inv);
	int reused = 0;
	for (int i = 0; i < N; i++) {
		long p = a[i].result ? atol(a[i].result) : 0;
		for (int k = 0; k < N; k++)
			if (pids[k] == p) {
				reused++;
				break;
			}
		free(a[i].result);
	}
	CHECK_INT(reused, N);
	fn_invoker_free(inv);
}

/* A timeout kills the whole process group: the handler's own child too. */
static void timeouts(void)
{
	fresh("timeout");
	char *argv[] = { "sh", "-c", "sleep 30 & echo $! >\"$D/child\"; wait", NULL };
	struct fn f = mk("slow", FN_SPAWN, 300, argv);
	struct fn_invoker *inv = fn_invoker_new();
	struct answer a = { 0, 0, NULL };
	fn_start(inv, &f, "1", 1, collect, &a);
	drive(inv);
	CHECK_INT(a.calls, 1);
	CHECK_INT(a.status, FN_ERROR);
	CHECK(a.result && error_type_is(a.result, "Sandbox.Timedout"));
	CHECK(a.result && strstr(a.result, "Task timed out after 0.30 seconds") != NULL);
	pid_t child = read_pid("child");
	CHECK(child > 0);
	if (child > 0)
		CHECK(gone(child));
	free(a.result);

	/* Stream mode: the hung process is replaced by the next call. */
	char *hang[] = { "sh", "-c", "while read x; do [ \"$x\" = 1 ] && sleep 30; echo $x; done", NULL };
	f = mk("hang", FN_STREAM, 300, hang);
	struct answer b = { 0, 0, NULL }, c = { 0, 0, NULL };
	fn_start(inv, &f, "1", 1, collect, &b);
	drive(inv);
	fn_start(inv, &f, "2", 1, collect, &c);
	drive(inv);
	CHECK(b.result && error_type_is(b.result, "Sandbox.Timedout"));
	CHECK_INT(c.status, FN_OK);
	CHECK_STR(c.result, "2");
	free(b.result);
	free(c.result);
	fn_invoker_free(inv);
}

/* fn_cancel: a running call's process group is killed, a queued call
 * never starts; both still answer, with the timeout's error. */
static void cancel(void)
{
	fresh("cancel");
	char *argv[] = { "sh", "-c", "echo $$ >\"$D/pid\"; sleep 30", NULL };
	struct fn f = mk("long", FN_SPAWN, 60000, argv);
	struct fn_invoker *inv = fn_invoker_new();
	fn_set_max_procs(inv, 1);
	struct answer a = { 0, 0, NULL }, b = { 0, 0, NULL };
	fn_start(inv, &f, "1", 1, collect, &a);
	fn_start(inv, &f, "2", 1, collect, &b);
	fn_cancel(inv, &b);   /* queued behind a */
	/* let a start and write its pid, then cancel it */
	struct pollfd fds[16];
	pid_t pid = 0;
	for (int i = 0; i < 400 && !(pid = read_pid("pid")); i++) {
		int timeout = 10;
		int n = fn_pollfds(inv, fds, 16, &timeout);
		poll(fds, (nfds_t)n, timeout);
		fn_dispatch(inv, fds, n);
	}
	CHECK(pid > 0);
	CHECK_INT(b.calls, 1);
	CHECK(b.result && error_type_is(b.result, "Sandbox.Timedout"));
	fn_cancel(inv, &a);
	drive(inv);
	CHECK_INT(a.calls, 1);
	CHECK_INT(a.status, FN_ERROR);
	CHECK(a.result && error_type_is(a.result, "Sandbox.Timedout"));
	if (pid > 0)
		CHECK(gone(pid));
	free(a.result);
	free(b.result);
	fn_invoker_free(inv);
}

/* A command that cannot start fails through the callback, from
 * fn_dispatch, never from fn_start. */
static void cannot_start(void)
{
	fresh("entry");
	char *argv[] = { "/nonexistent/handler", NULL };
	struct fn_invoker *inv = fn_invoker_new();
	for (int m = 0; m < 2; m++) {
		struct fn f = mk("missing", m ? FN_STREAM : FN_SPAWN, 5000, argv);
		struct answer a = { 0, 0, NULL };
		fn_start(inv, &f, "1", 1, collect, &a);
		CHECK_INT(a.calls, 0);
		CHECK_INT(fn_pending(inv), 1);
		struct pollfd fds[8];
		int timeout = -1;
		int n = fn_pollfds(inv, fds, 8, &timeout);
		CHECK_INT(n, 0);
		CHECK_INT(timeout, 0);
		CHECK_INT(a.calls, 0);
		fn_dispatch(inv, fds, n);
		CHECK_INT(a.calls, 1);
		CHECK_INT(a.status, FN_ERROR);
		CHECK(a.result && error_type_is(a.result, "Runtime.InvalidEntrypoint"));
		CHECK(a.result && strstr(a.result, "/nonexistent/handler") != NULL);
		CHECK_INT(fn_pending(inv), 0);
		free(a.result);
	}
	fn_invoker_free(inv);
}

/* A child that does not read its 1 MB payload must not stop the loop:
 * the one beside it (which it waits for) runs and ends meanwhile. And a
 * 2 MB payload through cat comes back whole (written as the pipe drains,
 * read as it comes). */
static void non_reader(void)
{
	fresh("noread");
	size_t big = 1 << 20;
	char *payload = xmalloc(2 * big + 3);
	payload[0] = '"';
	memset(payload + 1, 'x', 2 * big);
	payload[2 * big + 1] = '"';
	payload[2 * big + 2] = '\0';
	char *waiter[] = { "sh", "-c", "while [ ! -e \"$D/go\" ]; do sleep 0.02; done; echo 7", NULL };
	char *goer[] = { "sh", "-c", "touch \"$D/go\"; cat", NULL };
	char *cat[] = { "cat", NULL };
	struct fn w = mk("waiter", FN_SPAWN, 30000, waiter);
	struct fn g = mk("goer", FN_SPAWN, 30000, goer);
	struct fn c = mk("cat", FN_SPAWN, 30000, cat);
	struct fn_invoker *inv = fn_invoker_new();
	struct answer a = { 0, 0, NULL }, b = { 0, 0, NULL }, d = { 0, 0, NULL };
	fn_start(inv, &w, payload, big, collect, &a);
	fn_start(inv, &g, "[1]", 3, collect, &b);
	fn_start(inv, &c, payload, 2 * big + 2, collect, &d);
	drive(inv);
	CHECK_INT(a.status, FN_OK);
	CHECK_STR(a.result, "7");
	CHECK_STR(b.result, "[1]");
	CHECK_INT(d.status, FN_OK);
	CHECK(d.result && strcmp(d.result, payload) == 0);
	free(a.result);
	free(b.result);
	free(d.result);
	free(payload);
	fn_invoker_free(inv);
}

/* A callback that starts the next call: a chain of five. */
struct chain {
	struct fn_invoker *inv;
	struct fn *f;
	int n, pending_in_callback;
	char last[64];
};

static void chain_next(void *arg, int status, const char *result, size_t len)
{
	struct chain *c = arg;
	c->n++;
	c->pending_in_callback += fn_pending(c->inv);
	snprintf(c->last, sizeof c->last, "%.*s", (int)len, result);
	if (c->n < 5) {
		char p[16];
		snprintf(p, sizeof p, "%d", c->n);
		fn_start(c->inv, c->f, p, strlen(p), chain_next, c);
	}
}

static void callback_starts(void)
{
	fresh("chain");
	char *cat[] = { "cat", NULL };
	struct fn f = mk("cat", FN_SPAWN, 5000, cat);
	struct fn_invoker *inv = fn_invoker_new();
	struct chain c = { inv, &f, 0, 0, "" };
	fn_start(inv, &f, "0", 1, chain_next, &c);
	drive(inv);
	CHECK_INT(c.n, 5);
	CHECK_INT(c.pending_in_callback, 0);  /* the one called is done already */
	CHECK_STR(c.last, "4");
	/* The same with fn_invoke beside it: the synchronous call runs the
	 * loop, and the other call's callback with it. */
	struct answer a = { 0, 0, NULL };
	fn_start(inv, &f, "\"other\"", 7, collect, &a);
	struct buf r = BUF_INIT;
	CHECK_INT(fn_invoke(inv, &f, "\"mine\"", 6, &r), FN_OK);
	CHECK_STR(buf_str(&r), "\"mine\"");
	drive(inv);
	CHECK_STR(a.result, "\"other\"");
	buf_free(&r);
	free(a.result);
	fn_invoker_free(inv);
}

/* The environment: spawn mode names its request, stream mode does not. */
static void environment(void)
{
	fresh("env");
	char *show[] = { "sh", "-c", "printf '[\"%s\",\"%s\",\"%s\"]' \"$AWS_LAMBDA_FUNCTION_NAME\" "
	                 "\"$EVKIT_FUNCTION_MODE\" \"$EVKIT_REQUEST_ID\"", NULL };
	struct fn f = mk("show", FN_SPAWN, 5000, show);
	struct fn_invoker *inv = fn_invoker_new();
	struct answer a = { 0, 0, NULL };
	fn_start(inv, &f, "1", 1, collect, &a);
	drive(inv);
	CHECK_INT(a.status, FN_OK);
	CHECK(a.result && strncmp(a.result, "[\"show\",\"spawn\",\"", 17) == 0 &&
	      strlen(a.result) == 17 + 36 + 2);
	free(a.result);
	fn_invoker_free(inv);
}

/* Freeing the invoker with calls running, warm and queued: no callback,
 * and every process it started is gone. */
static void free_in_flight(void)
{
	fresh("free");
	char *sleeper[] = { "sh", "-c", "echo $$ >\"$D/s.$$\"; sleep 30 & wait", NULL };
	char *warm[] = { "sh", "-c", "echo $$ >\"$D/w.$$\"; while read x; do sleep 30; done", NULL };
	struct fn s = mk("sleeper", FN_SPAWN, 60000, sleeper);
	struct fn w = mk("warm", FN_STREAM, 60000, warm);
	struct fn_invoker *inv = fn_invoker_new();
	fn_set_max_procs(inv, 4);
	struct answer a[6];
	memset(a, 0, sizeof a);
	for (int i = 0; i < 3; i++)
		fn_start(inv, &s, "1", 1, collect, &a[i]);
	for (int i = 3; i < 6; i++)
		fn_start(inv, &w, "1", 1, collect, &a[i]);  /* one runs, two queue */
	/* Run the loop until all four have written their pid files. */
	struct pollfd fds[64];
	for (int tries = 0; tries < 500; tries++) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "[ \"$(ls '%s' | wc -l)\" -ge 4 ]", denv + 2);
		if (system(cmd) == 0)
			break;
		int timeout = 20;
		int n = fn_pollfds(inv, fds, 64, &timeout);
		poll(fds, (nfds_t)n, timeout);
		fn_dispatch(inv, fds, n);
	}
	CHECK_INT(fn_pending(inv), 6);
	pid_t pids[4];
	int np = 0;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "cat '%s'/*", denv + 2);
	FILE *fp = popen(cmd, "r");
	int pid;
	while (fp && np < 4 && fscanf(fp, "%d", &pid) == 1)
		pids[np++] = (pid_t)pid;
	if (fp)
		pclose(fp);
	CHECK_INT(np, 4);
	fn_invoker_free(inv);
	int calls = 0;
	for (int i = 0; i < 6; i++)
		calls += a[i].calls;
	CHECK_INT(calls, 0);
	/* Our own children are reaped: not even zombies are left. */
	int dead = 0;
	for (int i = 0; i < np; i++)
		dead += kill(pids[i], 0) != 0 && errno == ESRCH;
	CHECK_INT(dead, np);
}

int main(void)
{
	if (unit_tmpdir(dir, "fnasync") != 0)
		return 1;
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCOUNT_ID");
	RUN(overlap);
	RUN(max_procs);
	RUN(stream_warm);
	RUN(timeouts);
	RUN(cancel);
	RUN(cannot_start);
	RUN(non_reader);
	RUN(callback_starts);
	RUN(environment);
	RUN(free_in_flight);
	unit_rmrf(dir);
	return UNIT_DONE();
}
