/* proc.h: no shell, stdin fed, stdout and stderr apart, exit codes,
 * timeouts that kill the whole group, co-processes that die or hang. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "proc.h"
#include "unit.h"

static void run(char **argv, const char *in, int64_t timeout, struct proc_result *r)
{
	struct proc_opts o = { argv, NULL, timeout, 1 };
	proc_run(&o, in, in ? strlen(in) : 0, r);
}

static void basics(void)
{
	struct proc_result r;
	char *cat[] = { "cat", NULL };
	run(cat, "hello\n", 0, &r);
	CHECK(r.exited && r.code == 0);
	CHECK_STR(r.out.s, "hello\n");
	proc_result_free(&r);

	/* Arguments are never interpreted by a shell. */
	char *echo[] = { "printf", "%s", "$(id) `x` ; | *", NULL };
	run(echo, NULL, 0, &r);
	CHECK_STR(r.out.s, "$(id) `x` ; | *");
	proc_result_free(&r);

	char *sh[] = { "sh", "-c", "echo out; echo err >&2; exit 7", NULL };
	run(sh, NULL, 0, &r);
	CHECK(r.exited && r.code == 7);
	CHECK_STR(r.out.s, "out\n");
	CHECK_STR(r.err.s, "err\n");
	struct buf d = BUF_INIT;
	proc_describe(&r, "sh", &d);
	CHECK_STR(d.s, "exit status 7");
	proc_result_free(&r);

	char *missing[] = { "/nonexistent/evkit-prog", NULL };
	run(missing, NULL, 0, &r);
	CHECK_INT(r.spawn_errno, ENOENT);
	buf_reset(&d);
	proc_describe(&r, "/nonexistent/evkit-prog", &d);
	CHECK(strstr(d.s, "cannot run") != NULL);
	proc_result_free(&r);

	char *killself[] = { "sh", "-c", "kill -9 $$", NULL };
	run(killself, NULL, 0, &r);
	CHECK(r.signaled && r.sig == SIGKILL);
	proc_result_free(&r);
	buf_free(&d);
}

static void environment(void)
{
	char *add[] = { "EVKIT_T1=one", "HOME=/replaced", NULL };
	char *argv[] = { "sh", "-c", "printf '%s %s' \"$EVKIT_T1\" \"$HOME\"", NULL };
	struct proc_opts o = { argv, add, 0, 1 };
	struct proc_result r;
	proc_run(&o, NULL, 0, &r);
	CHECK_STR(r.out.s, "one /replaced");
	proc_result_free(&r);
}

static void big_io(void)
{
	/* 4 MB each way: no deadlock between feeding stdin and reading stdout. */
	size_t n = 4 * 1024 * 1024;
	char *in = malloc(n + 1);
	memset(in, 'q', n);
	in[n] = '\0';
	struct proc_result r;
	char *cat[] = { "cat", NULL };
	run(cat, in, 0, &r);
	CHECK_INT(r.out.len, (long long)n);
	proc_result_free(&r);
	/* A child that reads nothing is not an error for us. */
	char *tru[] = { "true", NULL };
	run(tru, in, 0, &r);
	CHECK(r.exited && r.code == 0);
	proc_result_free(&r);
	free(in);
}

static void timeouts(void)
{
	struct proc_result r;
	/* The sleeping grandchild is in the same group and dies too: the
	 * run ends although it holds the pipe open. */
	char *sh[] = { "sh", "-c", "sleep 30 & sleep 30", NULL };
	run(sh, NULL, 200, &r);
	CHECK(r.timed_out);
	CHECK(!r.exited);
	proc_result_free(&r);
	/* SIGPIPE is back to its default in the child: `yes | head` ends. */
	char *yes[] = { "sh", "-c", "yes | head -n 2", NULL };
	run(yes, NULL, 20000, &r);
	CHECK(!r.timed_out && r.exited && r.code == 0);
	CHECK_STR(r.out.s, "y\ny\n");
	proc_result_free(&r);
}

static void coprocs(void)
{
	struct coproc c;
	memset(&c, 0, sizeof c);
	char *cat[] = { "cat", NULL };
	struct proc_opts o = { cat, NULL, 0, 0 };
	struct buf reply = BUF_INIT;
	CHECK_INT(coproc_start(&c, &o), CO_OK);
	CHECK_INT(coproc_call(&c, "{\"n\":1}", 7, 5000, &reply), CO_OK);
	CHECK_STR(reply.s, "{\"n\":1}");
	CHECK_INT(coproc_call(&c, "[2]", 3, 5000, &reply), CO_OK);
	CHECK_STR(reply.s, "[2]");
	CHECK(coproc_alive(&c));
	coproc_stop(&c, 1000);
	CHECK(!coproc_alive(&c));

	/* Answers once, then dies: the second call says so. */
	char *once[] = { "sh", "-c", "read x; echo ok; read y; exit 3", NULL };
	o.argv = once;
	CHECK_INT(coproc_start(&c, &o), CO_OK);
	CHECK_INT(coproc_call(&c, "1", 1, 5000, &reply), CO_OK);
	CHECK_STR(reply.s, "ok");
	CHECK_INT(coproc_call(&c, "2", 1, 5000, &reply), CO_DIED);
	CHECK(WIFEXITED(c.last_status) && WEXITSTATUS(c.last_status) == 3);
	CHECK_INT(c.pid, 0);

	/* Never answers: killed at the timeout. */
	char *hang[] = { "sh", "-c", "read x; sleep 30", NULL };
	o.argv = hang;
	CHECK_INT(coproc_start(&c, &o), CO_OK);
	CHECK_INT(coproc_call(&c, "1", 1, 150, &reply), CO_TIMEOUT);
	CHECK_INT(c.pid, 0);

	char *missing[] = { "/nonexistent/evkit-prog", NULL };
	o.argv = missing;
	CHECK_INT(coproc_start(&c, &o), CO_SPAWN);
	CHECK_INT(c.spawn_errno, ENOENT);
	coproc_stop(&c, 0);
	buf_free(&reply);
}

int main(void)
{
	RUN(basics);
	RUN(environment);
	RUN(big_io);
	RUN(timeouts);
	RUN(coprocs);
	return UNIT_DONE();
}
