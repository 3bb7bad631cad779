#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

struct warm {
	char *name;
	char *modified;   /* a changed function gets a new process */
	struct coproc co;
};

struct fn_invoker {
	struct warm *w;
	size_t n;
};

struct fn_invoker *fn_invoker_new(void)
{
	return xcalloc(1, sizeof(struct fn_invoker));
}

void fn_invoker_free(struct fn_invoker *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n; i++) {
		coproc_stop(&inv->w[i].co, 1000);
		free(inv->w[i].name);
		free(inv->w[i].modified);
	}
	free(inv->w);
	free(inv);
}

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

static int invoke_spawn(const struct fn *f, const char *payload, size_t len,
                        struct buf *result)
{
	char rid[40];
	ids_uuid(rid);
	char **env = function_env(f, rid);
	struct proc_opts o = { f->argv, env, f->timeout_ms, 1 };
	struct proc_result r;
	proc_run(&o, payload, len, &r);
	free_vec(env);
	int rc;
	struct buf msg = BUF_INIT;
	if (r.spawn_errno) {
		buf_printf(&msg, "RequestId: %s Error: ", rid);
		proc_describe(&r, f->argv[0], &msg);
		add_error(result, "Runtime.InvalidEntrypoint", msg.s);
		rc = FN_ERROR;
	} else if (r.timed_out) {
		timeout_error(f, rid, result);
		rc = FN_ERROR;
	} else if ((!r.exited || r.code != 0) && stderr_error(&r.err, result)) {
		rc = FN_ERROR;
	} else if (!r.exited || r.code != 0) {
		buf_printf(&msg, "RequestId: %s Error: Runtime exited with error: ", rid);
		proc_describe(&r, f->argv[0], &msg);
		add_error(result, "Runtime.ExitError", msg.s);
		rc = FN_ERROR;
	} else {
		rc = judge_answer(r.out.s ? r.out.s : "", r.out.len, result);
	}
	/* What the handler logged reaches the user, as Lambda's logs would. */
	if (r.err.len)
		fwrite(r.err.s, 1, r.err.len, stderr);
	buf_free(&msg);
	proc_result_free(&r);
	return rc;
}

static struct warm *warm_for(struct fn_invoker *inv, const struct fn *f)
{
	for (size_t i = 0; i < inv->n; i++) {
		struct warm *w = &inv->w[i];
		if (strcmp(w->name, f->name) == 0) {
			if (strcmp(w->modified, f->modified) != 0) {
				coproc_stop(&w->co, 200);
				free(w->modified);
				w->modified = xstrdup(f->modified);
			}
			return w;
		}
	}
	inv->w = xrealloc(inv->w, (inv->n + 1) * sizeof *inv->w);
	struct warm *w = &inv->w[inv->n++];
	memset(w, 0, sizeof *w);
	w->name = xstrdup(f->name);
	w->modified = xstrdup(f->modified);
	return w;
}

static int invoke_stream(struct fn_invoker *inv, const struct fn *f, const char *payload,
                         size_t len, struct buf *result)
{
	struct warm *w = warm_for(inv, f);
	char rid[40];
	ids_uuid(rid);
	struct buf msg = BUF_INIT;
	int rc = FN_ERROR;
	if (!coproc_alive(&w->co)) {
		char **env = function_env(f, NULL);
		struct proc_opts o = { f->argv, env, 0, 0 };
		int sr = coproc_start(&w->co, &o);
		free_vec(env);
		if (sr != CO_OK) {
			buf_printf(&msg, "RequestId: %s Error: cannot run '%s': %s", rid,
			           f->argv[0], strerror(w->co.spawn_errno));
			add_error(result, "Runtime.InvalidEntrypoint", msg.s);
			buf_free(&msg);
			return FN_ERROR;
		}
	}
	/* The request must be one line: turn line breaks between tokens into
	 * spaces (JSON strings cannot hold raw ones). */
	struct buf line = BUF_INIT;
	add_one_line(&line, payload, len);
	struct buf reply = BUF_INIT;
	int cr = coproc_call(&w->co, line.s ? line.s : "", line.len, f->timeout_ms, &reply);
	if (cr == CO_OK) {
		rc = judge_answer(reply.s ? reply.s : "", reply.len, result);
	} else if (cr == CO_TIMEOUT) {
		timeout_error(f, rid, result);
	} else {
		buf_printf(&msg, "RequestId: %s Error: Runtime exited without answering: ", rid);
		proc_describe_status(w->co.last_status, &msg);
		add_error(result, "Runtime.ExitError", msg.s);
	}
	buf_free(&reply);
	buf_free(&line);
	buf_free(&msg);
	return rc;
}

int fn_invoke(struct fn_invoker *inv, const struct fn *f, const char *payload,
              size_t len, struct buf *result)
{
	if (f->mode == FN_STREAM)
		return invoke_stream(inv, f, payload, len, result);
	return invoke_spawn(f, payload, len, result);
}
