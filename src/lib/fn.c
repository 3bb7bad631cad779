#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "fn.h"
#include "ids.h"
#include "json.h"
#include "proc.h"

int fn_name_check(const char *name, struct buf *why)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64) {
		buf_printf(why, "function name '%s' must be 1 to 64 characters", name);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			buf_printf(why, "function name '%s' may hold only letters, digits, "
			           "'-' and '_'", name);
			return -1;
		}
	}
	return 0;
}

const char *fn_mode_name(enum fn_mode m)
{
	return m == FN_STREAM ? "stream" : "spawn";
}

static void free_vec(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void fn_free(struct fn *f)
{
	free(f->name);
	free_vec(f->argv);
	free_vec(f->env);
	memset(f, 0, sizeof *f);
}

/* ---- storage ---------------------------------------------------------------- */

static char *vec_to_json(char **v, int as_object)
{
	jv j = as_object ? jv_object() : jv_array();
	for (size_t i = 0; v && v[i]; i++) {
		if (as_object) {
			const char *eq = strchr(v[i], '=');
			size_t kl = eq ? (size_t)(eq - v[i]) : strlen(v[i]);
			j = jv_object_set(j, jv_string_sized(v[i], (int)kl),
			                  jv_string(eq ? eq + 1 : ""));
		} else {
			j = jv_array_append(j, jv_string(v[i]));
		}
	}
	char *s = jx_dumps(j);
	jv_free(j);
	return s;
}

/* A NULL-terminated vector from stored JSON; NULL when it is damaged. */
static char **vec_from_json(const char *text, int as_object)
{
	jv j = jx_parse(text, strlen(text), NULL);
	char **v = NULL;
	if (!as_object && jv_get_kind(j) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(j));
		v = xcalloc((size_t)n + 1, sizeof *v);
		for (int i = 0; i < n; i++) {
			jv e = jv_array_get(jv_copy(j), i);
			v[i] = xstrdup(jv_get_kind(e) == JV_KIND_STRING ? jv_string_value(e) : "");
			jv_free(e);
		}
	} else if (as_object && jv_get_kind(j) == JV_KIND_OBJECT) {
		int n = jv_object_length(jv_copy(j)), i = 0;
		v = xcalloc((size_t)n + 1, sizeof *v);
		jv_object_foreach(j, k, val) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s=%s", jv_string_value(k),
			           jv_get_kind(val) == JV_KIND_STRING ? jv_string_value(val) : "");
			v[i++] = buf_detach(&b);
			jv_free(k);
			jv_free(val);
		}
	}
	jv_free(j);
	return v;
}

int fn_put(struct state *st, const struct fn *f, int replace)
{
	char now[40];
	clock_format(clock_now_ms(), 1, now, sizeof now);
	char *argv = vec_to_json(f->argv, 0), *env = vec_to_json(f->env, 1);
	int rc = state_begin(st);
	if (rc)
		goto out;
	sqlite3_stmt *s = state_prepare(st, "SELECT created FROM functions WHERE name = ?1");
	sqlite3_bind_text(s, 1, f->name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr == SQLITE_ROW && !replace) {
		warnf("function '%s' already exists (create --replace changes it)", f->name);
		state_rollback(st);
		rc = EK_USAGE;
		goto out;
	}
	if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
		rc = state_error(st, sr, "reading functions");
		state_rollback(st);
		goto out;
	}
	s = state_prepare(st,
		"INSERT INTO functions (name, argv, env, timeout_ms, mode, created, modified) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
		"ON CONFLICT (name) DO UPDATE SET argv = ?2, env = ?3, timeout_ms = ?4, "
		"mode = ?5, modified = ?6");
	sqlite3_bind_text(s, 1, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, argv, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, f->timeout_ms);
	sqlite3_bind_text(s, 5, fn_mode_name(f->mode), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
	sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE) {
		rc = state_error(st, sr, "storing the function");
		state_rollback(st);
		goto out;
	}
	rc = state_commit(st);
out:
	free(argv);
	free(env);
	return rc;
}

static int row_to_fn(struct state *st, sqlite3_stmt *s, struct fn *f)
{
	memset(f, 0, sizeof *f);
	f->name = xstrdup((const char *)sqlite3_column_text(s, 0));
	f->argv = vec_from_json((const char *)sqlite3_column_text(s, 1), 0);
	f->env = vec_from_json((const char *)sqlite3_column_text(s, 2), 1);
	f->timeout_ms = sqlite3_column_int64(s, 3);
	f->mode = strcmp((const char *)sqlite3_column_text(s, 4), "stream") == 0
	          ? FN_STREAM : FN_SPAWN;
	snprintf(f->created, sizeof f->created, "%s", (const char *)sqlite3_column_text(s, 5));
	snprintf(f->modified, sizeof f->modified, "%s", (const char *)sqlite3_column_text(s, 6));
	if (!f->argv || !f->argv[0] || !f->env) {
		warnf("%s: function '%s' is damaged (argv or env is not JSON)",
		      state_file(st), f->name);
		fn_free(f);
		return EK_STATE;
	}
	return EK_OK;
}

#define FN_COLUMNS "name, argv, env, timeout_ms, mode, created, modified"

int fn_get(struct state *st, const char *name_or_arn, struct fn *out)
{
	char *name = ids_name_from(name_or_arn, "lambda", "function");
	if (!name)
		return EK_NO;
	sqlite3_stmt *s = state_prepare(st, "SELECT " FN_COLUMNS " FROM functions WHERE name = ?1");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	free(name);
	int sr = sqlite3_step(s);
	int rc;
	if (sr == SQLITE_ROW)
		rc = row_to_fn(st, s, out);
	else if (sr == SQLITE_DONE)
		rc = EK_NO;
	else
		rc = state_error(st, sr, "reading functions");
	sqlite3_reset(s);
	return rc;
}

int fn_delete(struct state *st, const char *name_or_arn)
{
	char *name = ids_name_from(name_or_arn, "lambda", "function");
	if (!name)
		return EK_NO;
	sqlite3_stmt *s = state_prepare(st, "DELETE FROM functions WHERE name = ?1");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	free(name);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE)
		return state_error(st, sr, "deleting the function");
	return sqlite3_changes(state_db(st)) ? EK_OK : EK_NO;
}

int fn_list(struct state *st, void (*each)(const struct fn *f, void *arg), void *arg)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT " FN_COLUMNS " FROM functions ORDER BY name");
	int sr, rc = EK_OK;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		struct fn f;
		if ((rc = row_to_fn(st, s, &f)) != EK_OK)
			break;
		each(&f, arg);
		fn_free(&f);
	}
	if (rc == EK_OK && sr != SQLITE_DONE)
		rc = state_error(st, sr, "listing functions");
	sqlite3_reset(s);
	return rc;
}

jv fn_to_json(const struct fn *f)
{
	struct buf arn = BUF_INIT;
	ids_arn(&arn, "lambda", "function:");
	buf_adds(&arn, f->name);
	jv vars = jv_object();
	for (size_t i = 0; f->env[i]; i++) {
		const char *eq = strchr(f->env[i], '=');
		size_t kl = eq ? (size_t)(eq - f->env[i]) : strlen(f->env[i]);
		vars = jv_object_set(vars, jv_string_sized(f->env[i], (int)kl),
		                     jv_string(eq ? eq + 1 : ""));
	}
	jv cmd = jv_array();
	for (size_t i = 0; f->argv[i]; i++)
		cmd = jv_array_append(cmd, jv_string(f->argv[i]));
	jv j = jv_object();
	j = jv_object_set(j, jv_string("FunctionName"), jv_string(f->name));
	j = jv_object_set(j, jv_string("FunctionArn"), jv_string(arn.s));
	j = jv_object_set(j, jv_string("Command"), cmd);
	j = jv_object_set(j, jv_string("Mode"), jv_string(fn_mode_name(f->mode)));
	j = jv_object_set(j, jv_string("Timeout"), jv_number((double)f->timeout_ms / 1000));
	j = jv_object_set(j, jv_string("Environment"),
	                  jv_object_set(jv_object(), jv_string("Variables"), vars));
	j = jv_object_set(j, jv_string("Created"), jv_string(f->created));
	j = jv_object_set(j, jv_string("LastModified"), jv_string(f->modified));
	buf_free(&arn);
	return j;
}

/* ---- invocation ---------------------------------------------------------------- */

static void add_error(struct buf *result, const char *type, const char *msg)
{
	jv e = jv_object();
	e = jv_object_set(e, jv_string("errorType"), jv_string(type));
	e = jv_object_set(e, jv_string("errorMessage"), jv_string(msg));
	jx_dump(result, e);
	jv_free(e);
}

/* A JSON value that names a function error: an object with a string
 * errorType. */
static int is_error_object(jv v)
{
	return jx_kind_of(v, "errorType") == JV_KIND_STRING;
}

/* Append text as one line: JSON never holds a raw line break inside a
 * string, so breaks between tokens can become spaces without changing the
 * value. Leading and trailing blanks go. */
static void add_one_line(struct buf *b, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	size_t start = b->len;
	buf_add(b, s, n);
	for (size_t i = start; i < b->len; i++)
		if (b->s[i] == '\n' || b->s[i] == '\r')
			b->s[i] = ' ';
}

/*
 * Judge an answer: FN_OK with the answer on one line, or FN_ERROR with
 * the error object. An empty answer is null, as a Lambda handler that
 * returns nothing gives.
 */
static int judge_answer(const char *out, size_t n, struct buf *result)
{
	if (n > FN_MAX_PAYLOAD) {
		char msg[128];
		snprintf(msg, sizeof msg, "Response payload size (%zu bytes) exceeded maximum "
		         "allowed payload size (%d bytes).", n, FN_MAX_PAYLOAD);
		add_error(result, "Function.ResponseSizeTooLarge", msg);
		return FN_ERROR;
	}
	struct buf why = BUF_INIT;
	size_t i = 0;
	while (i < n && (out[i] == ' ' || out[i] == '\t' || out[i] == '\n' || out[i] == '\r'))
		i++;
	if (i == n) {
		buf_adds(result, "null");
		return FN_OK;
	}
	jv v = jx_parse(out, n, &why);
	if (!jv_is_valid(v)) {
		struct buf msg = BUF_INIT;
		buf_printf(&msg, "Unable to marshal response: %s", why.s);
		add_error(result, "Runtime.MarshalError", msg.s);
		buf_free(&msg);
		buf_free(&why);
		return FN_ERROR;
	}
	int err = is_error_object(v);
	jv_free(v);
	buf_free(&why);
	add_one_line(result, out, n);
	return err ? FN_ERROR : FN_OK;
}

/* The last non-blank line of a handler's stderr, when it is an error
 * object: its bytes as one line in result. */
static int stderr_error(const struct buf *err, struct buf *result)
{
	size_t end = err->len;
	while (end && (err->s[end - 1] == '\n' || err->s[end - 1] == '\r' ||
	               err->s[end - 1] == ' '))
		end--;
	if (!end)
		return 0;
	size_t start = end;
	while (start && err->s[start - 1] != '\n')
		start--;
	jv v = jx_parse(err->s + start, end - start, NULL);
	int is = jv_is_valid(v) && is_error_object(v);
	jv_free(v);
	if (is)
		add_one_line(result, err->s + start, end - start);
	return is;
}

static char **function_env(const struct fn *f, const char *request_id)
{
	size_t n = 0;
	while (f->env[n])
		n++;
	char **env = xcalloc(n + 8, sizeof *env);
	struct buf b = BUF_INIT;
	size_t k = 0;
	buf_printf(&b, "AWS_LAMBDA_FUNCTION_NAME=%s", f->name);
	env[k++] = buf_detach(&b);
	buf_printf(&b, "AWS_LAMBDA_FUNCTION_TIMEOUT=%lld", (long long)((f->timeout_ms + 999) / 1000));
	env[k++] = buf_detach(&b);
	env[k++] = xstrdup("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
	buf_printf(&b, "AWS_REGION=%s", ids_region());
	env[k++] = buf_detach(&b);
	buf_printf(&b, "EVKIT_FUNCTION_MODE=%s", fn_mode_name(f->mode));
	env[k++] = buf_detach(&b);
	if (request_id) {
		buf_printf(&b, "EVKIT_REQUEST_ID=%s", request_id);
		env[k++] = buf_detach(&b);
	}
	for (size_t i = 0; i < n; i++)
		env[k++] = xstrdup(f->env[i]);  /* the user's own win */
	env[k] = NULL;
	return env;
}

static void timeout_error(const struct fn *f, const char *rid, struct buf *result)
{
	char msg[160];
	snprintf(msg, sizeof msg, "RequestId: %s Error: Task timed out after %.2f seconds",
	         rid, (double)f->timeout_ms / 1000);
	add_error(result, "Sandbox.Timedout", msg);
}


/* ---- the invoker: many invocations in flight, one poll(2) loop ---------------
 *
 * An invocation (struct job) waits in the queue until a process can serve
 * it, then belongs to a process (struct run), then waits in the done list
 * until fn_dispatch hands its result to its callback. A run is a
 * spawn-mode process (one job, then it ends) or a warm stream-mode process
 * (one job at a time, idle in between). A run whose output is closed, that
 * timed out or that is retired is EXITING until waitpid(WNOHANG) reaps it:
 * nothing here ever waits for a process except fn_invoker_free.
 *
 * Processes and fds change only inside fn_pollfds (which starts queued
 * work) and fn_dispatch (which ends it); fn_start only queues. So the fds
 * a caller polls stay ours and stay open until the fn_dispatch that
 * follows, whatever the caller does in between.
 */

struct job {
	struct job *next;
	struct fn f;           /* our own copy */
	char *data;            /* spawn: the payload; stream: it as one line, '\n' */
	size_t len, off;       /* off: bytes written so far */
	fn_done_fn done;
	void *arg;
	char rid[40];
	int64_t deadline;      /* monotonic ms, set when a process takes it; 0: none */
	int status;            /* once ended: FN_OK or FN_ERROR, and result */
	struct buf result;
};

enum run_state { RUN_ACTIVE, RUN_IDLE, RUN_EXITING };

struct run {
	pid_t pid;
	int in, out, err;      /* our ends of its pipes; -1 once closed */
	enum run_state state;
	int warm;              /* a stream-mode process */
	char *name, *modified; /* warm: what it runs (a changed function gets a new one) */
	struct job *job;       /* the invocation it serves, or NULL */
	struct buf obuf, ebuf; /* its stdout (stream: past the last answer), its stderr */
	int killed, timed_out;
	int64_t kill_at;       /* EXITING: kill the group then if not reaped (0: never) */
	int64_t next_look;     /* EXITING: when fn_pollfds has us look again */
	int nap;
};

struct fn_invoker {
	struct run **runs;
	size_t nruns, cap;
	struct job *queue, *queue_tail, *done, *done_tail;
	int pending, max_procs;
};

#define STREAM_GRACE_MS 200   /* a stream process that closed its stdout may exit by itself */
#define LOOK_MAX_MS 32        /* longest pause between looks at an exiting process */

struct fn_invoker *fn_invoker_new(void)
{
	struct fn_invoker *inv = xcalloc(1, sizeof *inv);
	inv->max_procs = 64;
	return inv;
}

void fn_set_max_procs(struct fn_invoker *inv, int n)
{
	inv->max_procs = n < 1 ? 1 : n;
}

int fn_pending(const struct fn_invoker *inv)
{
	return inv->pending;
}

int fn_pollfds_max(const struct fn_invoker *inv)
{
	size_t n = inv->nruns > (size_t)inv->max_procs ? inv->nruns : (size_t)inv->max_procs;
	return (int)(3 * n);
}

static char **copy_vec(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

static void free_job(struct job *j)
{
	fn_free(&j->f);
	free(j->data);
	buf_free(&j->result);
	free(j);
}

static void list_add(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void job_end(struct fn_invoker *inv, struct job *j, int status)
{
	j->status = status;
	list_add(&inv->done, &inv->done_tail, j);
}

int fn_start(struct fn_invoker *inv, const struct fn *f, const char *payload, size_t len,
             fn_done_fn done, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->f.name = xstrdup(f->name);
	j->f.argv = copy_vec(f->argv);
	j->f.env = copy_vec(f->env);
	j->f.timeout_ms = f->timeout_ms;
	j->f.mode = f->mode;
	memcpy(j->f.modified, f->modified, sizeof j->f.modified);
	if (f->mode == FN_STREAM) {
		/* The request must be one line: turn line breaks between tokens
		 * into spaces (JSON strings cannot hold raw ones). */
		struct buf line = BUF_INIT;
		add_one_line(&line, payload, len);
		buf_addc(&line, '\n');
		j->len = line.len;
		j->data = buf_detach(&line);
	} else {
		j->data = xmalloc(len + 1);
		memcpy(j->data, payload, len);
		j->len = len;
	}
	j->done = done;
	j->arg = arg;
	ids_uuid(j->rid);
	list_add(&inv->queue, &inv->queue_tail, j);
	inv->pending++;
	return 0;
}

/* Every way a spawn-mode call ends, judged as Lambda would. What the
 * handler logged reaches the user, as Lambda's logs would. */
void fn_cancel(struct fn_invoker *inv, void *arg)
{
	/* queued: ends now, with the error a timeout would give */
	struct job **pp = &inv->queue, *prev = NULL;
	while (*pp) {
		struct job *j = *pp;
		if (j->arg != arg) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (inv->queue_tail == j)
			inv->queue_tail = prev;
		timeout_error(&j->f, j->rid, &j->result);
		job_end(inv, j, FN_ERROR);
	}
	/* running: its deadline is now, so the next fn_dispatch ends it */
	int64_t now = clock_mono_ms();
	for (size_t i = 0; i < inv->nruns; i++) {
		struct run *r = inv->runs[i];
		if (r->state == RUN_ACTIVE && r->job && r->job->arg == arg)
			r->job->deadline = now;
	}
}

static int spawn_result(const struct job *j, const struct proc_result *r,
                        const struct buf *out, struct buf *result)
{
	const struct fn *f = &j->f;
	struct buf msg = BUF_INIT;
	int rc = FN_ERROR;
	if (r->spawn_errno) {
		buf_printf(&msg, "RequestId: %s Error: ", j->rid);
		proc_describe(r, f->argv[0], &msg);
		add_error(result, "Runtime.InvalidEntrypoint", msg.s);
	} else if (r->timed_out) {
		timeout_error(f, j->rid, result);
	} else if ((!r->exited || r->code != 0) && stderr_error(&r->err, result)) {
		;
	} else if (!r->exited || r->code != 0) {
		buf_printf(&msg, "RequestId: %s Error: Runtime exited with error: ", j->rid);
		proc_describe(r, f->argv[0], &msg);
		add_error(result, "Runtime.ExitError", msg.s);
	} else {
		rc = judge_answer(buf_str(out), out->len, result);
	}
	if (r->err.len)
		fwrite(r->err.s, 1, r->err.len, stderr);
	buf_free(&msg);
	return rc;
}

/* The end of a spawn-mode run's job: it timed out (status ignored) or
 * ended with this wait status. */
static void spawn_end(struct fn_invoker *inv, struct run *r, int timed_out, int wstatus)
{
	struct job *j = r->job;
	struct proc_result pr;
	memset(&pr, 0, sizeof pr);
	pr.timed_out = timed_out;
	if (!timed_out && WIFEXITED(wstatus)) {
		pr.exited = 1;
		pr.code = WEXITSTATUS(wstatus);
	} else if (!timed_out && WIFSIGNALED(wstatus)) {
		pr.signaled = 1;
		pr.sig = WTERMSIG(wstatus);
	}
	pr.err = r->ebuf;  /* borrowed */
	job_end(inv, j, spawn_result(j, &pr, &r->obuf, &j->result));
	r->job = NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Stop talking to r and wait for it to end: killed now (grace_ms 0) or
 * after grace_ms if it has not ended by itself by then. */
static void run_exit(struct run *r, int64_t grace_ms)
{
	close_fd(&r->in);
	close_fd(&r->out);
	close_fd(&r->err);
	r->state = RUN_EXITING;
	int64_t now = clock_mono_ms();
	r->next_look = now;
	r->nap = 1;
	if (grace_ms > 0) {
		r->kill_at = now + grace_ms;
	} else {
		proc_kill_group(r->pid);
		r->killed = 1;
		r->kill_at = 0;
	}
}

static struct run *run_new(struct fn_invoker *inv, pid_t pid, const int fds[3])
{
	struct run *r = xcalloc(1, sizeof *r);
	r->pid = pid;
	r->in = fds[0];
	r->out = fds[1];
	r->err = fds[2];
	if (inv->nruns == inv->cap) {
		inv->cap = inv->cap ? 2 * inv->cap : 8;
		inv->runs = xrealloc(inv->runs, inv->cap * sizeof *inv->runs);
	}
	inv->runs[inv->nruns++] = r;
	return r;
}

static void run_free(struct run *r)
{
	close_fd(&r->in);
	close_fd(&r->out);
	close_fd(&r->err);
	buf_free(&r->obuf);
	buf_free(&r->ebuf);
	free(r->name);
	free(r->modified);
	free(r);
}

/* Write what the child's stdin takes now. A spawn-mode child that stops
 * reading (EPIPE) just gets no more; a stream-mode one is broken. */
static void run_write(struct run *r)
{
	struct job *j = r->job;
	while (r->in >= 0 && j && j->off < j->len) {
		ssize_t w = write(r->in, j->data + j->off, j->len - j->off);
		if (w > 0) {
			j->off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (r->warm)
			run_exit(r, STREAM_GRACE_MS);
		else
			close_fd(&r->in);
		return;
	}
	if (!r->warm)
		close_fd(&r->in);  /* all written: end of its input */
}

/* The stream-mode answer, once a whole line is in. */
static void stream_answer(struct fn_invoker *inv, struct run *r)
{
	char *nl = r->obuf.len ? memchr(r->obuf.s, '\n', r->obuf.len) : NULL;
	if (!nl || !r->job)
		return;
	size_t n = (size_t)(nl - r->obuf.s);
	if (n && nl[-1] == '\r')
		n--;
	struct job *j = r->job;
	job_end(inv, j, judge_answer(r->obuf.s, n, &j->result));
	r->job = NULL;
	r->state = RUN_IDLE;
	buf_reset(&r->obuf);  /* anything after the answer belongs to no request */
}

static void run_read(struct fn_invoker *inv, struct run *r, int err)
{
	char chunk[65536];
	int *fd = err ? &r->err : &r->out;
	ssize_t got = read(*fd, chunk, sizeof chunk);
	if (got > 0) {
		buf_add(err ? &r->ebuf : &r->obuf, chunk, (size_t)got);
		if (r->warm)
			stream_answer(inv, r);
	} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (r->warm)
			run_exit(r, STREAM_GRACE_MS);  /* ended (or closed stdout) unasked */
		else
			close_fd(fd);
	}
}

/* Empty a warm process's stdout of what it wrote since its last answer
 * (a handler out of step must not answer the next request with it).
 * 0 when it has closed its stdout: it is ending. */
static int drain(struct run *r)
{
	char chunk[65536];
	for (;;) {
		ssize_t got = read(r->out, chunk, sizeof chunk);
		if (got > 0)
			continue;
		if (got < 0 && errno == EINTR)
			continue;
		return got < 0 && errno == EAGAIN;
	}
}

static void run_take(struct run *r, struct job *j)
{
	r->job = j;
	r->state = RUN_ACTIVE;
	buf_reset(&r->obuf);
	if (j->f.timeout_ms > 0)
		j->deadline = clock_mono_ms() + j->f.timeout_ms;
	run_write(r);
}

static size_t live_procs(const struct fn_invoker *inv)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->nruns; i++)
		n += !(inv->runs[i]->state == RUN_EXITING && inv->runs[i]->killed);
	return n;
}

/* Start j if a process can serve it: 1 when it started (or ended at
 * once: it could not start), 0 when it must wait. */
static int place(struct fn_invoker *inv, struct job *j)
{
	if (j->f.mode == FN_STREAM) {
		for (size_t i = 0; i < inv->nruns; i++) {
			struct run *r = inv->runs[i];
			if (r->state != RUN_IDLE || strcmp(r->name, j->f.name) != 0)
				continue;
			if (strcmp(r->modified, j->f.modified) != 0)
				run_exit(r, STREAM_GRACE_MS);  /* the function changed */
			else if (!drain(r))
				run_exit(r, STREAM_GRACE_MS);  /* it died idle: replace it */
			else {
				run_take(r, j);
				return 1;
			}
		}
	}
	if (live_procs(inv) >= (size_t)inv->max_procs) {
		/* Make room by ending an idle warm process, if there is one. */
		for (size_t i = 0; i < inv->nruns; i++)
			if (inv->runs[i]->state == RUN_IDLE) {
				run_exit(inv->runs[i], 0);
				break;
			}
		if (live_procs(inv) >= (size_t)inv->max_procs)
			return 0;
	}
	int stream = j->f.mode == FN_STREAM;
	/* A warm process serves many requests: its environment names none. */
	char **env = function_env(&j->f, stream ? NULL : j->rid);
	struct proc_opts o = { j->f.argv, env, j->f.timeout_ms, !stream };
	pid_t pid;
	int fds[3];
	int e = proc_start(&o, &pid, fds);
	free_vec(env);
	if (e) {
		if (stream) {
			struct buf msg = BUF_INIT;
			buf_printf(&msg, "RequestId: %s Error: cannot run '%s': %s", j->rid,
			           j->f.argv[0], strerror(e));
			add_error(&j->result, "Runtime.InvalidEntrypoint", msg.s);
			buf_free(&msg);
			job_end(inv, j, FN_ERROR);
		} else {
			struct proc_result pr;
			memset(&pr, 0, sizeof pr);
			pr.spawn_errno = e;
			struct buf none = BUF_INIT;
			job_end(inv, j, spawn_result(j, &pr, &none, &j->result));
		}
		return 1;
	}
	struct run *r = run_new(inv, pid, fds);
	if (stream) {
		r->warm = 1;
		r->name = xstrdup(j->f.name);
		r->modified = xstrdup(j->f.modified);
	} else if (j->len == 0) {
		close_fd(&r->in);
	}
	run_take(r, j);
	return 1;
}

/* Whether any queued job could start now: below the limit, or an idle
 * warm process to use or end. (It keeps a long queue cheap to look at
 * while every process is busy.) */
static int room(const struct fn_invoker *inv)
{
	if (live_procs(inv) < (size_t)inv->max_procs)
		return 1;
	for (size_t i = 0; i < inv->nruns; i++)
		if (inv->runs[i]->state == RUN_IDLE)
			return 1;
	return 0;
}

static void schedule(struct fn_invoker *inv)
{
	struct job **pp = &inv->queue, *last = NULL;
	while (*pp) {
		struct job *j = *pp;
		if (!room(inv)) {
			while (j->next)
				j = j->next;
			last = j;
			break;
		}
		if (place(inv, j)) {
			*pp = j->next;
		} else {
			last = j;
			pp = &j->next;
		}
	}
	inv->queue_tail = last;
}

static void lower(int64_t *soonest, int64_t t)
{
	if (*soonest < 0 || t < *soonest)
		*soonest = t;
}

int fn_pollfds(struct fn_invoker *inv, struct pollfd *fds, int max, int *timeout_ms)
{
	schedule(inv);
	int n = 0;
	int64_t now = clock_mono_ms(), soonest = -1;
	if (inv->done)
		soonest = now;
	for (size_t i = 0; i < inv->nruns; i++) {
		struct run *r = inv->runs[i];
		if (r->state == RUN_ACTIVE) {
			if (r->in >= 0 && r->job && r->job->off < r->job->len && n < max)
				fds[n++] = (struct pollfd){ r->in, POLLOUT, 0 };
			if (r->out >= 0 && n < max)
				fds[n++] = (struct pollfd){ r->out, POLLIN, 0 };
			if (r->err >= 0 && n < max)
				fds[n++] = (struct pollfd){ r->err, POLLIN, 0 };
			if (r->job && r->job->deadline)
				lower(&soonest, r->job->deadline);
			if (!r->warm && r->out < 0 && r->err < 0)
				lower(&soonest, now);  /* its output is done: reap it */
		} else if (r->state == RUN_EXITING) {
			lower(&soonest, r->next_look);
			if (r->kill_at && !r->killed)
				lower(&soonest, r->kill_at);
		}
	}
	if (soonest >= 0) {
		int64_t t = soonest - now;
		if (t < 0)
			t = 0;
		if (t > 1000000)
			t = 1000000;
		if (*timeout_ms < 0 || t < *timeout_ms)
			*timeout_ms = (int)t;
	}
	return n;
}

/* Reap r if it has ended, enforcing its kill time: 1 when it is gone. */
static int run_reap(struct fn_invoker *inv, struct run *r, int64_t now)
{
	int st = 0;
	pid_t w;
	while ((w = waitpid(r->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (w == r->pid || w < 0) {
		if (r->job && r->warm) {
			struct buf msg = BUF_INIT;
			buf_printf(&msg, "RequestId: %s Error: Runtime exited without answering: ",
			           r->job->rid);
			proc_describe_status(st, &msg);
			add_error(&r->job->result, "Runtime.ExitError", msg.s);
			buf_free(&msg);
			job_end(inv, r->job, FN_ERROR);
			r->job = NULL;
		} else if (r->job) {
			spawn_end(inv, r, 0, st);
		}
		if (r->warm || r->timed_out)
			kill(-r->pid, SIGKILL);  /* anything it left behind in its group */
		return 1;
	}
	if (r->kill_at && !r->killed && now >= r->kill_at) {
		proc_kill_group(r->pid);
		r->killed = 1;
		if (r->job && !r->warm) {
			/* Its output ended but it did not exit within its time. */
			r->timed_out = 1;
			spawn_end(inv, r, 1, 0);
		}
		r->next_look = now;
		r->nap = 1;
		return 0;
	}
	r->next_look = now + r->nap;
	if (r->nap < LOOK_MAX_MS)
		r->nap *= 2;
	return 0;
}

static void run_timeout(struct fn_invoker *inv, struct run *r)
{
	struct job *j = r->job;
	run_exit(r, 0);
	r->timed_out = 1;
	if (r->warm) {
		timeout_error(&j->f, j->rid, &j->result);
		job_end(inv, j, FN_ERROR);
		r->job = NULL;
	} else {
		spawn_end(inv, r, 1, 0);
	}
}

static struct run *owner(struct fn_invoker *inv, int fd, int *which)
{
	for (size_t i = 0; i < inv->nruns; i++) {
		struct run *r = inv->runs[i];
		if (r->state != RUN_ACTIVE)
			continue;
		*which = fd == r->in ? 0 : fd == r->out ? 1 : fd == r->err ? 2 : -1;
		if (*which >= 0)
			return r;
	}
	return NULL;
}

void fn_dispatch(struct fn_invoker *inv, struct pollfd *fds, int n)
{
	/* I/O first: no fd is opened meanwhile, so each one names the same
	 * pipe it named when it was polled. */
	for (int i = 0; i < n; i++) {
		int which;
		struct run *r;
		if (fds[i].fd < 0 || !fds[i].revents || !(r = owner(inv, fds[i].fd, &which)))
			continue;
		if (which == 0)
			run_write(r);
		else
			run_read(inv, r, which == 2);
	}
	int64_t now = clock_mono_ms();
	for (size_t i = 0; i < inv->nruns;) {
		struct run *r = inv->runs[i];
		if (r->state == RUN_ACTIVE && r->job && r->job->deadline && now >= r->job->deadline)
			run_timeout(inv, r);
		else if (r->state == RUN_ACTIVE && !r->warm && r->out < 0 && r->err < 0) {
			/* Output closed: it is most likely exiting right now. It
			 * still has until its deadline to do so. */
			int64_t deadline = r->job ? r->job->deadline : 0;
			run_exit(r, 1);
			r->kill_at = deadline;
		}
		if (r->state == RUN_EXITING && run_reap(inv, r, now)) {
			run_free(r);
			inv->runs[i] = inv->runs[--inv->nruns];
			continue;
		}
		i++;
	}
	/* Then the callbacks, on a list of their own: one that calls fn_start
	 * only adds to the queue. */
	struct job *list = inv->done;
	inv->done = inv->done_tail = NULL;
	while (list) {
		struct job *j = list;
		list = j->next;
		inv->pending--;
		j->done(j->arg, j->status, buf_str(&j->result), j->result.len);
		free_job(j);
	}
}

void fn_invoker_free(struct fn_invoker *inv)
{
	if (!inv)
		return;
	/* Idle warm processes get their stdin closed and a second to end by
	 * themselves; busy ones are killed. */
	int64_t end = clock_mono_ms() + 1000;
	for (size_t i = 0; i < inv->nruns; i++) {
		struct run *r = inv->runs[i];
		if (r->state == RUN_IDLE)
			close_fd(&r->in);
		else if (!r->killed) {
			proc_kill_group(r->pid);
			r->killed = 1;
		}
	}
	long nap = 50000;  /* ns: they usually end at once, so look often at first */
	for (;;) {
		int late = clock_mono_ms() >= end;
		size_t left = 0;
		for (size_t i = 0; i < inv->nruns; i++) {
			struct run *r = inv->runs[i];
			if (!r->pid)
				continue;
			if (late && !r->killed) {
				proc_kill_group(r->pid);
				r->killed = 1;
			}
			int st;
			pid_t w;
			while ((w = waitpid(r->pid, &st, r->killed ? 0 : WNOHANG)) < 0 && errno == EINTR)
				;
			if (w == 0) {
				left++;
				continue;
			}
			kill(-r->pid, SIGKILL);  /* anything it left behind in its group */
			r->pid = 0;
		}
		if (!left)
			break;
		struct timespec ts = { 0, nap };
		nanosleep(&ts, NULL);
		if (nap < 5000000)
			nap *= 2;
	}
	for (size_t i = 0; i < inv->nruns; i++) {
		if (inv->runs[i]->job)
			free_job(inv->runs[i]->job);
		run_free(inv->runs[i]);
	}
	free(inv->runs);
	for (int k = 0; k < 2; k++) {
		struct job *j = k ? inv->done : inv->queue;
		while (j) {
			struct job *next = j->next;
			free_job(j);
			j = next;
		}
	}
	free(inv);
}

/* ---- the synchronous call: one invocation, the loop run until it ends ------- */

struct sync_call {
	int ended, status;
	struct buf *result;
};

static void sync_done(void *arg, int status, const char *result, size_t len)
{
	struct sync_call *c = arg;
	c->ended = 1;
	c->status = status;
	buf_add(c->result, result, len);
}

int fn_invoke(struct fn_invoker *inv, const struct fn *f, const char *payload,
              size_t len, struct buf *result)
{
	struct sync_call c = { 0, FN_ERROR, result };
	fn_start(inv, f, payload, len, sync_done, &c);
	struct pollfd *fds = NULL;
	int cap = 0;
	long nap = 20000;
	while (!c.ended) {
		int need = fn_pollfds_max(inv);
		if (need > cap) {
			cap = need;
			fds = xrealloc(fds, (size_t)cap * sizeof *fds);
		}
		int timeout = -1;
		int n = fn_pollfds(inv, fds, cap, &timeout);
		if (n == 0 && timeout > 0) {
			/* Only a process to reap: it is most likely exiting right
			 * now, so look again often at first, then less (poll's
			 * millisecond would cost a spawn-mode call dearly). */
			long ns = nap < timeout * 1000000L ? nap : timeout * 1000000L;
			struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
			nanosleep(&ts, NULL);
			if (nap < 10000000)
				nap *= 2;
		} else if (n == 0 && timeout < 0) {
			struct timespec ts = { 0, 1000000 };  /* cannot happen: never hang */
			nanosleep(&ts, NULL);
		} else if (n > 0 || timeout != 0) {
			if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
				n = 0;
		}
		fn_dispatch(inv, fds, n);
	}
	free(fds);
	return c.status;
}
