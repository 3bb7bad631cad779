/*
 * sqs-poll work: the poller worker. One thread: it receives messages while
 * it has room, runs CMD for each (the body on its stdin, the message's
 * metadata in its environment), deletes a message when its CMD exits 0,
 * keeps the visibility of a message whose CMD is still running from
 * running out, calls home to the registry, and sleeps in poll(2) on a
 * self-pipe for SIGCHLD and the queue's wake-up FIFO: it never spins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "ids.h"
#include "json.h"
#include "proc.h"
#include "registry.h"
#include "sqs.h"

struct job {
	pid_t pid;
	struct qmsg m;
	int64_t vis_until;   /* evkit clock: when its visibility runs out */
};

static int chld_pipe[2] = { -1, -1 };

static void on_chld(int sig)
{
	(void)sig;
	int e = errno;
	ssize_t w = write(chld_pipe[1], "c", 1);
	(void)w;
	errno = e;
}

static void setup_chld(void)
{
	if (pipe(chld_pipe) != 0)
		dief(EK_FAIL, "pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		fcntl(chld_pipe[i], F_SETFL, fcntl(chld_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(chld_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

/* An unlinked temporary file holding the body, as the child's stdin: the
 * worker never blocks writing to a child that does not read. */
static int body_file(const struct qmsg *m)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/evkit-body-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	size_t off = 0;
	while (off < m->body_len) {
		ssize_t w = write(fd, m->body + off, m->body_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static char *kv(const char *k, const char *v)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s=%s", k, v ? v : "");
	return buf_detach(&b);
}

static char **job_env(const struct queue *q, const struct qmsg *m, const char *worker,
                      const char *state_path)
{
	char **env = xcalloc(16, sizeof *env);
	int k = 0;
	char n[32];
	struct buf url = BUF_INIT;
	queue_url(&url, q->name);
	env[k++] = kv("SQS_QUEUE_NAME", q->name);
	env[k++] = kv("SQS_QUEUE_URL", url.s);
	env[k++] = kv("SQS_MESSAGE_ID", m->message_id);
	env[k++] = kv("SQS_RECEIPT_HANDLE", m->receipt);
	snprintf(n, sizeof n, "%d", m->receive_count);
	env[k++] = kv("SQS_RECEIVE_COUNT", n);
	snprintf(n, sizeof n, "%lld", (long long)m->sent_ms);
	env[k++] = kv("SQS_SENT_TIMESTAMP", n);
	if (m->group)
		env[k++] = kv("SQS_MESSAGE_GROUP_ID", m->group);
	if (m->attrs)
		env[k++] = kv("SQS_MESSAGE_ATTRIBUTES", m->attrs);
	env[k++] = kv("EVKIT_WORKER_ID", worker);
	/* So that CMD's own sqs-poll (delete, in --async mode) finds this
	 * state file. */
	env[k++] = kv("EVKIT_STATE", state_path);
	buf_free(&url);
	return env;
}

static void free_env(char **env)
{
	for (int i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

struct worker_ctx {
	struct opts *o;
	struct state *st;
	struct queue q;
	const char *id;
	char *state_path;
	struct job *jobs;
	int njobs;
	long handled, failed;
	int64_t vis;
};

static int start_job(struct worker_ctx *w, struct qmsg *m)
{
	int fd = body_file(m);
	if (fd < 0) {
		warnf("work: cannot store the body of %s for its command: %s", m->message_id,
		      strerror(errno));
		return -1;
	}
	char **env = job_env(&w->q, m, w->id, w->state_path);
	struct proc_opts po = { w->o->cmd, env, 0, 0 };
	pid_t pid;
	int rc = proc_spawn(&po, fd, &pid);
	close(fd);
	free_env(env);
	if (rc) {
		warnf("work: cannot run '%s': %s", w->o->cmd[0], strerror(rc));
		return -1;
	}
	struct job *j = &w->jobs[w->njobs++];
	j->pid = pid;
	j->m = *m;
	j->vis_until = clock_now_ms() + w->vis;
	return 0;
}

/* A job ended with wait status st: delete its message, or let it come
 * back (sooner with --retry-delay). Returns a state error status or 0. */
static int finish_job(struct worker_ctx *w, struct job *j, int st)
{
	struct buf why = BUF_INIT;
	int status = EK_OK;
	int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (w->o->async) {
		/* CMD owns the message now: it deletes it (or not) itself. */
		ok ? w->handled++ : w->failed++;
	} else if (ok) {
		const char *code = queue_delete_message(w->st, &w->q, j->m.receipt, &why, &status);
		if (code && !status) {
			/* Its visibility ran out and another receive took it: the
			 * other holder will delete it. At least once, not exactly. */
			warnf("work: message %s done, but not deleted: %s: %s", j->m.message_id, code,
			      why.s);
		}
		w->handled++;
	} else {
		struct buf d = BUF_INIT;
		proc_describe_status(st, &d);
		warnf("work: message %s failed (%s, receive %d): it will be retried",
		      j->m.message_id, d.s, j->m.receive_count);
		buf_free(&d);
		w->failed++;
		if (w->o->retry_delay >= 0)
			queue_change_visibility(w->st, &w->q, j->m.receipt, w->o->retry_delay, &why,
			                        &status);
	}
	buf_free(&why);
	qmsg_free(&j->m);
	*j = w->jobs[--w->njobs];
	return status;
}

static int reap(struct worker_ctx *w)
{
	char drain[64];
	while (read(chld_pipe[0], drain, sizeof drain) > 0)
		;
	int st, rc = EK_OK;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < w->njobs; i++) {
			if (w->jobs[i].pid == pid) {
				int r = finish_job(w, &w->jobs[i], st);
				if (r && !rc)
					rc = r;
				break;
			}
		}
	}
	return rc;
}

/* Keep a running job's message hidden: extend it when half of its
 * visibility is gone. Returns when the next extension is due. */
static int64_t extend(struct worker_ctx *w, int64_t now)
{
	int64_t next = INT64_MAX;
	if (w->o->async)
		return next;
	for (int i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];
		if (j->vis_until - now <= w->vis / 2) {
			struct buf why = BUF_INIT;
			int status;
			if (!queue_change_visibility(w->st, &w->q, j->m.receipt, w->vis, &why, &status))
				j->vis_until = now + w->vis;
			else
				j->vis_until = INT64_MAX; /* lost it: nothing more to do */
			buf_free(&why);
		}
		if (j->vis_until != INT64_MAX && j->vis_until - w->vis / 2 < next)
			next = j->vis_until - w->vis / 2;
	}
	return next;
}

int cmd_work(struct opts *o)
{
	struct worker_ctx w;
	memset(&w, 0, sizeof w);
	w.o = o;
	w.st = sqs_open(o, 0);
	sqs_queue(w.st, o->ops[0], &w.q);
	w.state_path = state_path(o->state);
	if (w.state_path[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd)) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%s", cwd, w.state_path);
			free(w.state_path);
			w.state_path = buf_detach(&b);
		}
	}
	char idbuf[40];
	/* The auto scaler names the workers it starts through the environment. */
	const char *env_id = getenv("EVKIT_WORKER_ID");
	if (!o->id && env_id && *env_id && reg_taken(w.st, env_id))
		env_id = NULL;   /* our handler's worker's id, not ours */
	w.id = o->id ? o->id : env_id && *env_id ? env_id : ids_uuid(idbuf);
	queue_set_holder(w.id);
	w.vis = o->vis >= 0 ? o->vis : w.q.visibility_ms;
	if (w.vis < 2000)
		w.vis = 2000;  /* extensions need some room */
	int64_t hb = o->heartbeat >= 0 ? o->heartbeat : 60000;
	if (hb < 100)
		hb = 100;
	w.jobs = xcalloc((size_t)o->concurrency, sizeof *w.jobs);
	setup_chld();

	char host[256] = "";
	gethostname(host, sizeof host - 1);
	struct worker me = { (char *)w.id, w.q.name, host, (long)getpid(), 0, 0, 0, 0, 0, 0 };
	int rc = reg_register(w.st, &me);
	if (rc)
		return rc;
	struct qwaiter *waiter = queue_waiter(w.st, w.q.name);
	int64_t next_hb = clock_mono_ms() + hb, idle_since = clock_mono_ms();
	int draining = 0;
	while (rc == EK_OK) {
		if ((rc = reap(&w)))
			break;
		int64_t mono = clock_mono_ms();
		if (mono >= next_hb) {
			if ((rc = reg_heartbeat(w.st, w.id, w.njobs, w.handled, w.failed, &draining)))
				break;
			next_hb = mono + hb;
		}
		int stopping = draining || cli_stopping();
		if (stopping && w.njobs == 0)
			break;
		int got = 0;
		if (!stopping && w.njobs < o->concurrency) {
			struct qmsg *m;
			int n;
			int want = o->concurrency - w.njobs;
			/* FIFO: one at a time. A receive may return several
			 * messages of one group, which must run in order, not
			 * side by side; one in flight holds its group, so the
			 * next receive brings another group's. */
			if (w.q.fifo)
				want = 1;
			if ((rc = queue_receive(w.st, &w.q, want > 10 ? 10 : want, w.vis, &m, &n)))
				break;
			for (int i = 0; i < n; i++) {
				if (start_job(&w, &m[i]) != 0) {
					/* It comes back after its visibility timeout. */
					qmsg_free(&m[i]);
					w.failed++;
				}
			}
			free(m);
			got = n;
		}
		if (w.njobs || got)
			idle_since = clock_mono_ms();
		else if (o->idle_exit >= 0 && clock_mono_ms() - idle_since >= o->idle_exit)
			break;
		if (got && w.njobs < o->concurrency)
			continue;  /* there may be more right away */
		/* After the receive: the jobs just started need their first
		 * extension timed too, or the sleep below outlasts their
		 * visibility and a long job is handed to a second worker. */
		int64_t next_ext = extend(&w, clock_now_ms());
		/* Sleep until a child ends, a message arrives, or a timer. */
		int64_t wait = next_hb - clock_mono_ms();
		if (next_ext != INT64_MAX && next_ext - clock_now_ms() < wait)
			wait = next_ext - clock_now_ms();
		if (o->idle_exit >= 0 && !w.njobs && idle_since + o->idle_exit - clock_mono_ms() < wait)
			wait = idle_since + o->idle_exit - clock_mono_ms();
		if (!stopping && w.njobs < o->concurrency) {
			int64_t nv = queue_next_visible(w.st, &w.q);
			if (nv >= 0 && nv - clock_now_ms() < wait)
				wait = nv - clock_now_ms() + 1;
		}
		if (wait < 0)
			wait = 0;
		nd_flush();
		if (!stopping && w.njobs < o->concurrency)
			queue_wait(waiter, wait, chld_pipe[0]);
		else {
			struct pollfd p = { chld_pipe[0], POLLIN, 0 };
			poll(&p, 1, wait > 1000000 ? 1000000 : (int)wait);
		}
	}
	/* Whatever happened, let the messages in hand finish (SIGTERM, drain). */
	while (w.njobs > 0) {
		struct pollfd p = { chld_pipe[0], POLLIN, 0 };
		int64_t ne = extend(&w, clock_now_ms()), t = 1000;
		if (ne != INT64_MAX && ne - clock_now_ms() < t)
			t = ne - clock_now_ms() < 0 ? 0 : ne - clock_now_ms();
		poll(&p, 1, (int)t);
		int r = reap(&w);
		if (r && !rc)
			rc = r;
	}
	int r = reg_deregister(w.st, w.id);
	if (r && !rc)
		rc = r;
	queue_waiter_free(waiter);
	free(w.jobs);
	free(w.state_path);
	queue_free(&w.q);
	state_close(w.st);
	/* A requested stop, done as asked, is a clean exit for a worker. */
	cli_signal_done();
	return rc;
}

static void print_worker(const struct worker *wk, void *arg)
{
	jv j = reg_to_json(wk, *(int64_t *)arg);
	nd_write_jv(j);
	jv_free(j);
}

int cmd_workers(struct opts *o)
{
	struct state *st = sqs_open(o, 0);
	if (!st)
		return EK_OK;
	char *q = o->nops ? queue_name_of(o->ops[0]) : NULL;
	int64_t now = clock_now_ms();
	int rc = reg_list(st, q, print_worker, &now);
	free(q);
	state_close(st);
	return rc;
}

int cmd_drain(struct opts *o)
{
	struct state *st = sqs_open(o, 0);
	int rc = st ? reg_drain(st, o->ops[0]) : EK_NO;
	if (rc == EK_NO)
		warnf("no worker with id '%s' (sqs-poll workers lists them)", o->ops[0]);
	state_close(st);
	return rc;
}
