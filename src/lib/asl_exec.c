/*
 * asl_exec.c: run one execution of a loaded state machine.
 *
 * This is the simple core: states run one after another on the calling
 * thread, Parallel branches and Map iterations in order (their history
 * events therefore never interleave, which AWS allows), and Wait states and
 * retry intervals either sleep or, with virtual_time, move the execution's
 * clock. The data flow follows AWS exactly: InputPath, Parameters, the
 * state's work, ResultSelector, Assign, ResultPath, OutputPath.
 *
 * Errors travel as (error, cause) pairs; States.Runtime errors carry AWS's
 * "An error occurred while executing the state ..." prefix and end the
 * execution, since no catcher may catch them.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asl_int.h"
#include "clock.h"
#include "intrinsics.h"
#include "util.h"

#define DATA_LIMIT 262144
#define WAIT_LIMIT 2147483647.0   /* seconds: AWS refuses longer waits */

/* ---- time ------------------------------------------------------------- */

/* RFC 3339 with milliseconds, as Step Functions prints dates; the clock
 * module does the calendar. */
void asl_format_time(double t, char out[32])
{
	double sec = floor(t);
	int ms = (int)((t - sec) * 1000.0);
	clock_format((int64_t)sec * 1000 + (ms > 999 ? 999 : ms), 1, out, 32);
}

/*
 * AWS's timestamps: RFC 3339 with an upper-case 'T' and a zone. The clock
 * module parses them to the millisecond; digits past that (AWS keeps
 * nanoseconds) are added here, and a leap second :60 counts as one.
 */
int asl_parse_time(const char *s, double *out)
{
	int64_t ms;
	if (strlen(s) < 20 || s[10] != 'T' || clock_parse(s, &ms) != 0)
		return -1;
	double extra = 0, scale = 0.0001;
	if (s[19] == '.') {
		size_t n = strspn(s + 20, "0123456789");
		for (size_t k = 3; k < n && k < 12; k++, scale /= 10)
			extra += (s[20 + k] - '0') * scale;
	}
	if (s[17] == '6' && s[18] == '0')
		ms += 1000;  /* clock_parse reads :60 as :59 */
	*out = (double)ms / 1000.0 + extra;
	return 0;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- execution state ---------------------------------------------------- */

struct exec {
	const struct asl_options *o;
	struct asl_result *r;
	int events;             /* ids handed out so far */
	double now;             /* virtual clock, or the last reading of it */
	double deadline;        /* 0: none */
	jv exec_ctx, sm_ctx;    /* $$.Execution and $$.StateMachine */
};

struct scope {
	jv vars;                /* object */
	struct scope *parent;
};

struct frame {
	struct exec *x;
	struct scope *scope;
	const char *state_name;
	double entered;
	int entered_id;
	int retry_count;
	int in_map;
	int map_index;
	jv map_value;
	int prev;               /* previous event id in this branch */
	int silent;             /* a distributed Map's child: no events here */
	size_t bound;           /* upper bound of the current input's JSON size */
	jv pending;             /* Assign values, set when the state exits */
};

struct aerr {
	char *error, *cause;
	int runtime;            /* States.Runtime: never caught */
	int timed_out;          /* the execution's TimeoutSeconds passed */
	int aborted;            /* the caller asked to stop */
};

static void aerr_clear(struct aerr *e)
{
	free(e->error);
	free(e->cause);
	memset(e, 0, sizeof *e);
}

static int set_err(struct aerr *e, const char *error, const char *cause)
{
	aerr_clear(e);
	e->error = xstrdup(error);
	e->cause = cause ? xstrdup(cause) : NULL;
	return -1;
}

static int runtime_err(struct frame *f, struct aerr *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int runtime_err(struct frame *f, struct aerr *e, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "An error occurred while executing the state '%s' (entered at the event id #%d). ",
	           f->state_name, f->entered_id);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	aerr_clear(e);
	e->error = xstrdup("States.Runtime");
	e->cause = buf_detach(&b);
	e->runtime = 1;
	return -1;
}

static double now(struct exec *x)
{
	if (!x->o->virtual_time)
		x->now = wall_now();
	return x->now;
}

static char *dump(jv v)
{
	jv s = jv_dump_string(jv_copy(v), 0);
	char *r = xstrdup(jv_string_value(s));
	jv_free(s);
	return r;
}

/* Record one history event; returns its id. DETAILS (consumed) goes under
 * KEY when history is on. */
static int emit(struct frame *f, const char *type, const char *key, jv details)
{
	struct exec *x = f->x;
	if (f->silent) {
		jv_free(details);
		return f->prev;
	}
	int id = ++x->events;
	if (x->o->history) {
		char ts[32];
		asl_format_time(now(x), ts);
		jv ev = jv_object();
		ev = jv_object_set(ev, jv_string("timestamp"), jv_string(ts));
		ev = jv_object_set(ev, jv_string("type"), jv_string(type));
		ev = jv_object_set(ev, jv_string("id"), jv_number(id));
		ev = jv_object_set(ev, jv_string("previousEventId"), jv_number(f->prev));
		if (key && jv_is_valid(details))
			ev = jv_object_set(ev, jv_string(key), details);
		else
			jv_free(details);
		x->r->history = jv_array_append(x->r->history, ev);
	} else {
		jv_free(details);
	}
	f->prev = id;
	return id;
}

static int history_on(const struct frame *f)
{
	return f->x->o->history && !f->silent;
}

static jv details_io(const char *name, const char *field, jv v)
{
	jv d = jv_object();
	if (name)
		d = jv_object_set(d, jv_string("name"), jv_string(name));
	if (field) {
		jv s = jv_dump_string(v, 0);
		d = jv_object_set(d, jv_string(field), s);
		jv dd = jv_object_set(jv_object(), jv_string("truncated"), jv_false());
		d = jv_object_set(d, jv_string(!strcmp(field, "input") ? "inputDetails" : "outputDetails"), dd);
	} else {
		jv_free(v);
	}
	return d;
}

static jv details_err(const char *error, const char *cause)
{
	jv d = jv_object();
	if (error)
		d = jv_object_set(d, jv_string("error"), jv_string(error));
	if (cause)
		d = jv_object_set(d, jv_string("cause"), jv_string(cause));
	return d;
}

/* ---- paths and templates ------------------------------------------------ */

static jv context_object(struct frame *f)
{
	jv c = jv_object();
	c = jv_object_set(c, jv_string("Execution"), jv_copy(f->x->exec_ctx));
	c = jv_object_set(c, jv_string("StateMachine"), jv_copy(f->x->sm_ctx));
	jv st = jv_object();
	char ts[32];
	asl_format_time(f->entered, ts);
	st = jv_object_set(st, jv_string("Name"), jv_string(f->state_name ? f->state_name : ""));
	st = jv_object_set(st, jv_string("EnteredTime"), jv_string(ts));
	if (f->retry_count >= 0)
		st = jv_object_set(st, jv_string("RetryCount"), jv_number(f->retry_count));
	c = jv_object_set(c, jv_string("State"), st);
	if (f->in_map) {
		jv item = jv_object();
		item = jv_object_set(item, jv_string("Index"), jv_number(f->map_index));
		item = jv_object_set(item, jv_string("Value"), jv_copy(f->map_value));
		c = jv_object_set(c, jv_string("Map"), jv_object_set(jv_object(), jv_string("Item"), item));
	}
	return c;
}

static int var_lookup(struct frame *f, const char *name, jv *out)
{
	for (struct scope *s = f->scope; s; s = s->parent) {
		jv v = jv_object_get(jv_copy(s->vars), jv_string(name));
		if (jv_is_valid(v)) {
			*out = v;
			return 0;
		}
		jv_free(v);
	}
	return -1;
}

/* Read path AP against INPUT (not consumed). -1 when nothing is there. */
static int resolve(struct frame *f, const struct apath *ap, jv input, jv *out)
{
	switch (ap->root) {
	case AP_INPUT:
		return jp_eval(ap->p, input, out);
	case AP_CONTEXT: {
		jv c = context_object(f);
		int rc = jp_eval(ap->p, c, out);
		jv_free(c);
		return rc;
	}
	case AP_VAR: {
		jv v;
		if (var_lookup(f, ap->var, &v) < 0)
			return -1;
		int rc = jp_eval(ap->p, v, out);
		jv_free(v);
		return rc;
	}
	}
	return -1;
}

struct intr_ctx {
	struct frame *f;
	jv input;
};

static int handle_resolve(void *vctx, void *handle, jv *out, char **err)
{
	struct intr_ctx *c = vctx;
	const struct apath *ap = handle;
	int rc = resolve(c->f, ap, c->input, out);
	if (rc < 0) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "The JSONPath '%s' could not be found in the input", ap->text);
		*err = buf_detach(&b);
	}
	return rc;
}

/* Evaluate one "key.$" value: a path or an intrinsic call. */
static int eval_dynamic(struct frame *f, const struct tmpl *m, jv input, jv *out,
                        struct aerr *e)
{
	if (m->kind == TM_INTRINSIC) {
		struct intr_ctx c = { f, input };
		char *err = NULL;
		if (!m->intr)
			return runtime_err(f, e, "The value for the field '%s' is not a valid intrinsic function call", m->field);
		if (intr_run(m->intr, handle_resolve, &c, out, &err) < 0) {
			runtime_err(f, e, "%s", err);
			free(err);
			return -1;
		}
		return 0;
	}
	const struct apath *ap = &m->path;
	if (!ap->p)
		return runtime_err(f, e, "The value for the field '%s' is not a valid path: %s", m->field, m->text);
	int rc = resolve(f, ap, input, out);
	if (rc < 0) {
		char *in;
		if (ap->root == AP_CONTEXT) {
			jv c = context_object(f);
			in = dump(c);
			jv_free(c);
		} else {
			in = dump(input);
		}
		runtime_err(f, e, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
		            m->text, m->field, in);
		free(in);
	}
	return rc;
}

/* Apply compiled template M to INPUT (not consumed). */
static int tmpl_eval(struct frame *f, const struct tmpl *m, jv input, jv *out, struct aerr *e)
{
	switch (m->kind) {
	case TM_LITERAL:
		*out = jv_copy(m->literal);
		return 0;
	case TM_PATH:
	case TM_INTRINSIC:
		return eval_dynamic(f, m, input, out, e);
	case TM_ARRAY: {
		jv r = jv_array_sized(m->n);
		for (int i = 0; i < m->n; i++) {
			jv x;
			if (tmpl_eval(f, &m->kids[i], input, &x, e) < 0) {
				jv_free(r);
				return -1;
			}
			r = jv_array_append(r, x);
		}
		*out = r;
		return 0;
	}
	case TM_OBJECT: {
		jv r = jv_object();
		for (int i = 0; i < m->n; i++) {
			jv x;
			if (tmpl_eval(f, &m->kids[i], input, &x, e) < 0) {
				jv_free(r);
				return -1;
			}
			r = jv_object_set(r, jv_copy(m->keys[i]), x);
		}
		*out = r;
		return 0;
	}
	}
	return -1;
}

/* Assign: every value is computed first, then all are set, so a value
 * never sees another assignment of the same state. */
static int do_assign(struct frame *f, const struct tmpl *assign, jv input, struct aerr *e)
{
	if (!assign)
		return 0;
	jv vals;
	if (tmpl_eval(f, assign, input, &vals, e) < 0)
		return -1;
	if (!jv_is_valid(f->pending))
		f->pending = jv_object();
	jv_object_foreach(vals, k, v)
		f->pending = jv_object_set(f->pending, k, v);
	jv_free(vals);
	return 0;
}

/* Variables assigned by a state become visible when it exits: its own
 * OutputPath still sees the old values. */
static void commit_assign(struct frame *f)
{
	if (!jv_is_valid(f->pending))
		return;
	jv_object_foreach(f->pending, k, v)
		f->scope->vars = jv_object_set(f->scope->vars, k, v);
	jv_free(f->pending);
	f->pending = jv_invalid();
}

static int missing_path(struct frame *f, struct aerr *e, const struct apath *ap)
{
	char *c = jp_canonical(ap->p);
	runtime_err(f, e, "Invalid path '%s' : No results for path: %s", ap->text, c);
	free(c);
	return -1;
}

static int input_path(struct frame *f, const struct asl_state *s, jv raw, jv *out, struct aerr *e)
{
	if (!s->has_input_path) {
		*out = jv_copy(raw);
		return 0;
	}
	if (s->input_path_null) {
		*out = jv_object();
		return 0;
	}
	if (resolve(f, &s->input_path, raw, out) < 0)
		return missing_path(f, e, &s->input_path);
	return 0;
}

static int output_path(struct frame *f, const struct asl_state *s, jv v, jv *out, struct aerr *e)
{
	if (!s->has_output_path) {
		*out = v;
		return 0;
	}
	if (s->output_path_null) {
		jv_free(v);
		*out = jv_object();
		return 0;
	}
	int rc = resolve(f, &s->output_path, v, out);
	jv_free(v);
	if (rc < 0)
		return missing_path(f, e, &s->output_path);
	return 0;
}

/* ResultPath: RESULT (consumed) into RAW (not consumed). */
static int result_path(struct frame *f, int has, int is_null, const struct apath *rp,
                       jv raw, jv result, jv *out, struct aerr *e)
{
	if (!has) {
		*out = result;
		return 0;
	}
	if (is_null) {
		jv_free(result);
		*out = jv_copy(raw);
		return 0;
	}
	if (jp_is_root(rp->p)) {
		*out = result;
		return 0;
	}
	jv doc = jv_copy(raw);
	if (jp_set(rp->p, &doc, result) < 0) {
		jv_free(doc);
		return runtime_err(f, e, "Invalid path '%s': The ResultPath could not be applied to the state's input", rp->text);
	}
	*out = doc;
	return 0;
}

/* An upper bound of V's serialised size, stopping once past LIMIT: most
 * values are far below the limit and need no real serialisation. */
static size_t size_bound(jv v, size_t limit)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		return (size_t)jv_string_length_bytes(jv_copy(v)) * 6 + 2;
	case JV_KIND_NUMBER:
		return 24;
	case JV_KIND_ARRAY: {
		size_t n = 2;
		jv_array_foreach(v, i, x) {
			(void)i;
			if (n <= limit)
				n += size_bound(x, limit) + 1;
			jv_free(x);
		}
		return n;
	}
	case JV_KIND_OBJECT: {
		size_t n = 2;
		jv_object_foreach(v, k, x) {
			if (n <= limit)
				n += size_bound(k, limit) + size_bound(x, limit) + 2;
			jv_free(k);
			jv_free(x);
		}
		return n;
	}
	default:
		return 5;
	}
}

/* The output V may be over the limit only when its bound *BOUND is: then
 * measure it, and keep the exact size as the new bound. */
static int size_check(struct frame *f, jv v, size_t *bound, struct aerr *e)
{
	if (*bound <= DATA_LIMIT)
		return 0;
	jv s = jv_dump_string(jv_copy(v), 0);
	int n = jv_string_length_bytes(s);
	*bound = (size_t)n;
	if (n <= DATA_LIMIT)
		return 0;
	struct buf b = BUF_INIT;
	buf_printf(&b, "The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.",
	           f->state_name);
	set_err(e, "States.DataLimitExceeded", buf_str(&b));
	buf_free(&b);
	return -1;
}

/* ---- waiting ------------------------------------------------------------ */

/* Let SECONDS pass. With a deadline in the way the clock stops there and
 * the execution times out. */
static int sleep_for(struct frame *f, double seconds, struct aerr *e)
{
	struct exec *x = f->x;
	double t = now(x);
	double until = t + seconds;
	int timeout = x->deadline > 0 && until > x->deadline;
	if (timeout)
		until = x->deadline;
	if (x->o->virtual_time) {
		if (until > x->now)
			x->now = until;
	} else {
		while (now(x) < until) {
			if (x->o->stopping && x->o->stopping()) {
				aerr_clear(e);
				e->aborted = 1;
				return -1;
			}
			double left = until - x->now;
			struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	if (timeout) {
		aerr_clear(e);
		e->timed_out = 1;
		return -1;
	}
	return 0;
}

/* ---- states ------------------------------------------------------------- */

static int run_states(struct frame *f, const struct asl_states *ss, jv input, jv *out,
                      struct aerr *e);

static int error_matches(char **errs, int n, const char *error, int is_task)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(errs[i], error))
			return 1;
		if (!strcmp(errs[i], "States.ALL") && strcmp(error, "States.Runtime"))
			return 1;
		if (is_task && !strcmp(errs[i], "States.TaskFailed") &&
		    strcmp(error, "States.Timeout") && strcmp(error, "States.Runtime") &&
		    strncmp(error, "States.", 7))
			return 1;
	}
	return 0;
}

static const char *const entered_name[] = {
	"PassStateEntered", "TaskStateEntered", "ChoiceStateEntered", "WaitStateEntered",
	"SucceedStateEntered", "FailStateEntered", "ParallelStateEntered", "MapStateEntered",
};
static const char *const exited_name[] = {
	"PassStateExited", "TaskStateExited", "ChoiceStateExited", "WaitStateExited",
	"SucceedStateExited", "FailStateExited", "ParallelStateExited", "MapStateExited",
};

static int choice_resolve(void *ctx, const struct apath *ap, jv *out)
{
	struct intr_ctx *c = ctx;
	return resolve(c->f, ap, c->input, out);
}

static int wait_state(struct frame *f, const struct asl_state *s, jv in, struct aerr *e)
{
	double secs = 0;
	if (s->has_seconds) {
		secs = s->seconds;
	} else if (s->has_seconds_path) {
		jv v;
		if (resolve(f, &s->seconds_path, in, &v) < 0)
			return runtime_err(f, e, "The SecondsPath parameter does not reference an input value: %s",
			                   s->seconds_path.text);
		if (jv_get_kind(v) != JV_KIND_NUMBER ||
		    jv_number_value(v) != floor(jv_number_value(v))) {
			char *d = dump(v);
			jv_free(v);
			runtime_err(f, e, "The SecondsPath parameter cannot be parsed as a long value: %s == %s",
			            s->seconds_path.text, d);
			free(d);
			return -1;
		}
		secs = jv_number_value(v);
		if (secs < 0) {
			char *d = dump(v);
			jv_free(v);
			runtime_err(f, e, "The SecondsPath parameter references a negative value: %s == %s",
			            s->seconds_path.text, d);
			free(d);
			return -1;
		}
		jv_free(v);
	} else {
		const char *ts = s->timestamp;
		jv v = jv_invalid();
		if (s->has_timestamp_path) {
			if (resolve(f, &s->timestamp_path, in, &v) < 0)
				return runtime_err(f, e, "The TimestampPath parameter does not reference an input value: %s",
				                   s->timestamp_path.text);
			if (jv_get_kind(v) != JV_KIND_STRING) {
				char *d = dump(v);
				jv_free(v);
				runtime_err(f, e, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s",
				            s->timestamp_path.text, d);
				free(d);
				return -1;
			}
			ts = jv_string_value(v);
		}
		double t;
		if (asl_parse_time(ts, &t)) {
			runtime_err(f, e, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s",
			            s->timestamp_path.text ? s->timestamp_path.text : "", ts);
			jv_free(v);
			return -1;
		}
		jv_free(v);
		secs = t - now(f->x);
		if (secs < 0)
			secs = 0;
	}
	if (secs > WAIT_LIMIT)
		return runtime_err(f, e, "Wait state delay is too long.");
	return sleep_for(f, secs, e);
}

static int fail_state(struct frame *f, const struct asl_state *s, jv in, struct aerr *e)
{
	char *error = NULL, *cause = NULL;
	const struct {
		int has;
		const struct apath *ap;
		const intr_expr *intr;
		jv lit;
		char **out;
		const char *field;
	} parts[] = {
		{ s->has_error_path, &s->error_path, s->error_intr, s->error, &error, "ErrorPath" },
		{ s->has_cause_path, &s->cause_path, s->cause_intr, s->cause, &cause, "CausePath" },
	};
	for (int i = 0; i < 2; i++) {
		if (parts[i].has) {
			jv v;
			if (parts[i].has == 2) {
				struct intr_ctx c = { f, in };
				char *err = NULL;
				if (!parts[i].intr || intr_run(parts[i].intr, handle_resolve, &c, &v, &err) < 0) {
					runtime_err(f, e, "%s", err ? err : "invalid intrinsic function call");
					free(err);
					free(error);
					free(cause);
					return -1;
				}
			} else if (resolve(f, parts[i].ap, in, &v) < 0) {
				char *d = dump(in);
				runtime_err(f, e, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
				            parts[i].ap->text ? parts[i].ap->text : "", parts[i].field, d);
				free(d);
				free(error);
				free(cause);
				return -1;
			}
			if (jv_get_kind(v) == JV_KIND_STRING)
				*parts[i].out = xstrdup(jv_string_value(v));
			else
				*parts[i].out = dump(v);
			jv_free(v);
		} else if (jv_get_kind(parts[i].lit) == JV_KIND_STRING) {
			*parts[i].out = xstrdup(jv_string_value(parts[i].lit));
		}
	}
	aerr_clear(e);
	e->error = error;
	e->cause = cause;
	return -1;
}

static int task_state(struct frame *f, const struct asl_state *s, jv eff, jv *result,
                      struct aerr *e)
{
	struct exec *x = f->x;
	const char *res = s->resource;
	if (!res)
		return runtime_err(f, e, "The Resource of this Task is a CloudFormation expression, which only a deployment resolves");
	int lambda_invoke = !strncmp(res, "arn:aws:states:::lambda:invoke", 30);
	int direct_lambda = !strncmp(res, "arn:aws:lambda:", 15);
	const char *pfx = direct_lambda ? "LambdaFunction" : "Task";
	struct buf t = BUF_INIT;
	double timeout = s->timeout_seconds;
	if (s->has_timeout_path) {
		jv v;
		if (resolve(f, &s->timeout_path, eff, &v) < 0 || jv_get_kind(v) != JV_KIND_NUMBER) {
			if (jv_is_valid(v))
				jv_free(v);
			return runtime_err(f, e, "The TimeoutSecondsPath parameter does not reference a valid positive integer: %s",
			                   s->timeout_path.text);
		}
		timeout = jv_number_value(v);
		jv_free(v);
	}
	/* A local function sends no heartbeats: one that runs past
	 * HeartbeatSeconds is stopped there with States.HeartbeatTimeout. */
	double heartbeat = s->heartbeat_seconds;
	if (s->has_heartbeat_path) {
		jv v;
		if (resolve(f, &s->heartbeat_path, eff, &v) < 0 || jv_get_kind(v) != JV_KIND_NUMBER) {
			if (jv_is_valid(v))
				jv_free(v);
			return runtime_err(f, e, "The HeartbeatSecondsPath parameter does not reference a valid positive integer: %s",
			                   s->heartbeat_path.text);
		}
		heartbeat = jv_number_value(v);
		jv_free(v);
	}
	int by_heartbeat = heartbeat > 0 && (timeout <= 0 || heartbeat < timeout);
	double limit = by_heartbeat ? heartbeat : timeout;
	jv det = jv_invalid();
	if (history_on(f)) {
		det = jv_object();
		det = jv_object_set(det, jv_string("resource"), jv_string(res));
		char *p = dump(eff);
		det = jv_object_set(det, jv_string("parameters"), jv_string(p));
		free(p);
		if (timeout > 0)
			det = jv_object_set(det, jv_string("timeoutInSeconds"), jv_number(timeout));
	}
	buf_printf(&t, "%sScheduled", pfx);
	emit(f, buf_str(&t), direct_lambda ? "lambdaFunctionScheduledEventDetails" : "taskScheduledEventDetails", det);
	buf_reset(&t);
	buf_printf(&t, "%sStarted", pfx);
	emit(f, buf_str(&t), NULL, jv_invalid());

	jv payload = jv_copy(eff);
	char *fname = NULL;
	if (lambda_invoke) {
		jv fnv = jv_get_kind(eff) == JV_KIND_OBJECT
		       ? jv_object_get(jv_copy(eff), jv_string("FunctionName")) : jv_invalid();
		if (jv_get_kind(fnv) == JV_KIND_STRING)
			fname = xstrdup(jv_string_value(fnv));
		jv_free(fnv);
		jv_free(payload);
		payload = jv_get_kind(eff) == JV_KIND_OBJECT
		        ? jv_object_get(jv_copy(eff), jv_string("Payload")) : jv_invalid();
		if (!jv_is_valid(payload)) {
			jv_free(payload);
			payload = jv_object();
		}
	}
	int rc;
	char *error = NULL, *cause = NULL;
	jv out = jv_invalid();
	if (!x->o->task) {
		jv_free(payload);
		error = xstrdup("States.TaskFailed");
		struct buf c = BUF_INIT;
		buf_printf(&c, "No handler for the resource '%s': give one with --fn", res);
		cause = buf_detach(&c);
		rc = -1;
	} else if (lambda_invoke && !fname) {
		jv_free(payload);
		error = xstrdup("States.Runtime");
		cause = xstrdup("The lambda:invoke integration needs a FunctionName parameter");
		rc = -1;
	} else {
		rc = x->o->task(x->o->task_ctx, lambda_invoke ? fname : res, payload, limit,
		                &out, &error, &cause);
		if (rc < 0 && by_heartbeat && error && !strcmp(error, "States.Timeout")) {
			free(error);
			error = xstrdup("States.HeartbeatTimeout");
		}
	}
	free(fname);
	if (rc < 0) {
		buf_reset(&t);
		int to = error && (!strcmp(error, "States.Timeout") ||
		                   !strcmp(error, "States.HeartbeatTimeout"));
		buf_printf(&t, "%s%s", pfx, to ? "TimedOut" : "Failed");
		emit(f, buf_str(&t), direct_lambda ? "lambdaFunctionFailedEventDetails" : "taskFailedEventDetails",
		     history_on(f) ? details_err(error ? error : "States.TaskFailed", cause) : jv_invalid());
		buf_free(&t);
		aerr_clear(e);
		e->error = error ? error : xstrdup("States.TaskFailed");
		e->cause = cause;
		e->runtime = !strcmp(e->error, "States.Runtime");
		return -1;
	}
	free(error);
	free(cause);
	if (lambda_invoke) {
		jv r = jv_object();
		r = jv_object_set(r, jv_string("ExecutedVersion"), jv_string("$LATEST"));
		r = jv_object_set(r, jv_string("Payload"), out);
		r = jv_object_set(r, jv_string("SdkHttpMetadata"), jv_object_set(jv_object(),
		                  jv_string("HttpStatusCode"), jv_number(200)));
		r = jv_object_set(r, jv_string("SdkResponseMetadata"), jv_object());
		r = jv_object_set(r, jv_string("StatusCode"), jv_number(200));
		out = r;
	}
	buf_reset(&t);
	buf_printf(&t, "%sSucceeded", pfx);
	jv sd = jv_invalid();
	if (history_on(f)) {
		sd = jv_object();
		char *o = dump(out);
		sd = jv_object_set(sd, jv_string("output"), jv_string(o));
		free(o);
	}
	emit(f, buf_str(&t), direct_lambda ? "lambdaFunctionSucceededEventDetails" : "taskSucceededEventDetails", sd);
	buf_free(&t);
	*result = out;
	return 0;
}

static void scope_push(struct scope *s, struct frame *f)
{
	s->vars = jv_object();
	s->parent = f->scope;
}

static int parallel_state(struct frame *f, const struct asl_state *s, jv eff, jv *result,
                          size_t *rbound, struct aerr *e)
{
	size_t total = 2;
	emit(f, "ParallelStateStarted", NULL, jv_invalid());
	size_t eff_bound = size_bound(eff, DATA_LIMIT);
	jv r = jv_array();
	for (int i = 0; i < s->nbranches; i++) {
		struct scope sc;
		scope_push(&sc, f);
		struct frame bf = *f;
		bf.scope = &sc;
		bf.pending = jv_invalid();
		bf.bound = eff_bound;
		bf.in_map = 0;
		bf.map_value = jv_invalid();
		jv out;
		int rc = run_states(&bf, &s->branches[i], jv_copy(eff), &out, e);
		f->prev = bf.prev;
		jv_free(sc.vars);
		if (rc < 0) {
			jv_free(r);
			return -1;
		}
		r = jv_array_append(r, out);
		total += bf.bound + 1;
	}
	*result = r;
	*rbound = total;
	return 0;
}

static int int_param(struct frame *f, const struct apath *ap, jv in, const char *field,
                     int want_float, double *out, struct aerr *e)
{
	jv v;
	if (resolve(f, ap, in, &v) < 0)
		return runtime_err(f, e, "The %s field refers to a path that does not exist: %s", field, ap->text);
	if (jv_get_kind(v) == JV_KIND_STRING) {
		/* AWS reads a number written as a string too */
		char *end;
		const char *t = jv_string_value(v);
		double d = strtod(t, &end);
		if (end != t && !*end && (want_float || strspn(t, "-0123456789") == strlen(t))) {
			jv_free(v);
			v = jv_number(d);
		}
	}
	int ok = jv_get_kind(v) == JV_KIND_NUMBER &&
	         (want_float || jv_number_value(v) == floor(jv_number_value(v)));
	if (!ok) {
		char *d = jv_get_kind(v) == JV_KIND_STRING ? xstrdup(jv_string_value(v)) : dump(v);
		jv_free(v);
		runtime_err(f, e, "The %s field refers to value \"%s\" which is not a valid %s: %s",
		            field, d, want_float ? "float" : "integer", ap->text);
		free(d);
		return -1;
	}
	*out = jv_number_value(v);
	jv_free(v);
	return 0;
}

static int map_state(struct frame *f, const struct asl_state *s, jv eff, jv *result,
                     size_t *rbound, struct aerr *e)
{
	size_t total = 2;
	double maxc = s->max_concurrency;
	if (s->has_max_concurrency_path &&
	    int_param(f, &s->max_concurrency_path, eff, "MaxConcurrencyPath", 0, &maxc, e) < 0)
		return -1;
	jv items;
	if (jv_get_kind(s->item_reader) == JV_KIND_OBJECT) {
		jv params = jv_object();
		if (s->t_reader_params) {
			jv_free(params);
			if (tmpl_eval(f, s->t_reader_params, eff, &params, e) < 0)
				return -1;
		}
		char *err = NULL;
		int rc = asl_read_items(f->x->o->s3_root, s->item_reader, params, &items, &err);
		jv_free(params);
		if (rc < 0) {
			set_err(e, "States.ItemReaderFailed", err);
			free(err);
			return -1;
		}
	} else if (s->has_items_path) {
		if (resolve(f, &s->items_path, eff, &items) < 0)
			return missing_path(f, e, &s->items_path);
	} else {
		items = jv_copy(eff);
	}
	if (jv_get_kind(items) != JV_KIND_ARRAY) {
		char *d = dump(items);
		jv_free(items);
		runtime_err(f, e, "Invalid path '%s': The Map state's ItemsPath must reference a JSON array, but it references: %s",
		            s->has_items_path ? s->items_path.text : "$", d);
		free(d);
		return -1;
	}
	int n = jv_array_length(jv_copy(items));
	emit(f, "MapStateStarted", "mapStateStartedEventDetails",
	     history_on(f) ? jv_object_set(jv_object(), jv_string("length"), jv_number(n)) : jv_invalid());
	double tol_count = s->has_tolerated_count ? s->tolerated_count : -1;
	double tol_pct = s->has_tolerated_pct ? s->tolerated_pct : -1;
	if (s->has_tolerated_count_path &&
	    int_param(f, &s->tolerated_count_path, eff, "ToleratedFailureCountPath", 0, &tol_count, e) < 0)
		{
		jv_free(items);
		return -1;
	}
	if (s->has_tolerated_pct_path &&
	    int_param(f, &s->tolerated_pct_path, eff, "ToleratedFailurePercentagePath", 1, &tol_pct, e) < 0)
		{
		jv_free(items);
		return -1;
	}
	if (s->has_tolerated_count_path && tol_count < 0)
		return jv_free(items), runtime_err(f, e, "ToleratedFailureCount cannot be negative.");
	if (s->has_tolerated_pct_path && (tol_pct < 0 || tol_pct > 100))
		return jv_free(items), runtime_err(f, e, "ToleratedFailurePercentage must be between 0 and 100.");

	if (s->distributed)
		emit(f, "MapRunStarted", NULL, jv_invalid());

	/* ItemBatcher: groups of items, each {"Items": [...]} */
	if (jv_is_valid(s->item_batcher) && jv_get_kind(s->item_batcher) == JV_KIND_OBJECT) {
		jv mx = jv_object_get(jv_copy(s->item_batcher), jv_string("MaxItemsPerBatch"));
		int per = jv_get_kind(mx) == JV_KIND_NUMBER ? (int)jv_number_value(mx) : n;
		jv_free(mx);
		if (per < 1)
			per = 1;
		jv batches = jv_array();
		for (int i = 0; i < n; i += per) {
			jv b = jv_object();
			if (s->t_batch_input) {
				jv bin;
				if (tmpl_eval(f, s->t_batch_input, eff, &bin, e) < 0) {
					jv_free(b);
					jv_free(batches);
					jv_free(items);
					return -1;
				}
				b = jv_object_set(b, jv_string("BatchInput"), bin);
			}
			b = jv_object_set(b, jv_string("Items"),
			                  jv_array_slice(jv_copy(items), i, i + per < n ? i + per : n));
			batches = jv_array_append(batches, b);
		}
		jv_free(items);
		items = batches;
		n = jv_array_length(jv_copy(items));
	}

	jv r = jv_array();
	int failures = 0;
	struct aerr first = { 0 };
	const char *mname = f->state_name;
	for (int i = 0; i < n; i++) {
		jv item = jv_array_get(jv_copy(items), i);
		struct frame itf = *f;
		struct scope sc;
		scope_push(&sc, f);
		itf.scope = &sc;
		itf.pending = jv_invalid();
		itf.silent = f->silent || s->distributed;
		itf.in_map = 1;
		itf.map_index = i;
		itf.map_value = item;
		jv in;
		if (s->t_item_selector) {
			if (tmpl_eval(&itf, s->t_item_selector, eff, &in, e) < 0) {
				jv_free(item);
				jv_free(sc.vars);
				jv_free(r);
				jv_free(items);
				aerr_clear(&first);
				return -1;
			}
		} else {
			in = jv_copy(item);
		}
		itf.in_map = 0;
		itf.map_value = jv_invalid();
		itf.bound = size_bound(in, DATA_LIMIT);
		if (!s->distributed) {
			jv d = jv_invalid();
			if (history_on(f)) {
				d = jv_object_set(jv_object(), jv_string("name"), jv_string(mname));
				d = jv_object_set(d, jv_string("index"), jv_number(i));
			}
			emit(&itf, "MapIterationStarted", "mapIterationStartedEventDetails", d);
		}
		jv out;
		struct aerr ie = { 0 };
		int rc = run_states(&itf, &s->branches[0], in, &out, &ie);
		f->prev = itf.prev;
		jv_free(item);
		jv_free(sc.vars);
		if (rc < 0 && (ie.timed_out || ie.runtime || ie.aborted)) {
			*e = ie;
			jv_free(r);
			jv_free(items);
			aerr_clear(&first);
			return -1;
		}
		if (!s->distributed) {
			jv d = jv_invalid();
			if (history_on(f)) {
				d = jv_object_set(jv_object(), jv_string("name"), jv_string(mname));
				d = jv_object_set(d, jv_string("index"), jv_number(i));
			}
			emit(f, rc < 0 ? "MapIterationFailed" : "MapIterationSucceeded",
			     rc < 0 ? "mapIterationFailedEventDetails" : "mapIterationSucceededEventDetails", d);
		}
		if (rc < 0) {
			failures++;
			if (!first.error) {
				first = ie;
			} else {
				aerr_clear(&ie);
			}
			int tolerant = tol_count >= 0 || tol_pct >= 0;
			if (!tolerant)
				break;
			r = jv_array_append(r, jv_null());
			total += 5;
			continue;
		}
		r = jv_array_append(r, out);
		total += itf.bound + 1;
	}
	jv_free(items);
	if (failures) {
		int tolerant = tol_count >= 0 || tol_pct >= 0;
		int exceeded = !tolerant;
		if (tolerant) {
			int over_count = tol_count >= 0 && failures > tol_count;
			int over_pct = tol_pct >= 0 && n > 0 && 100.0 * failures / n > tol_pct;
			/* with both set, exceeding either one fails the Map Run */
			exceeded = over_count || over_pct;
		}
		if (exceeded) {
			jv_free(r);
			if (s->distributed) {
				emit(f, "MapRunFailed", NULL, jv_invalid());
				aerr_clear(&first);
				set_err(e, "States.ExceedToleratedFailureThreshold",
				        "The specified tolerated failure threshold was exceeded");
			} else {
				aerr_clear(e);
				*e = first;
			}
			return -1;
		}
		aerr_clear(&first);
	}
	if (s->distributed)
		emit(f, "MapRunSucceeded", NULL, jv_invalid());
	emit(f, "MapStateSucceeded", NULL, jv_invalid());
	*result = r;
	*rbound = total;
	return 0;
}

/* Retry or catch error E of state S. Returns 1 to retry, 0 when caught
 * (with *out and *next set), -1 when the error goes on. */
static int handle_error(struct frame *f, const struct asl_state *s, jv raw, int *counts,
                        struct aerr *e, jv *out, int *next)
{
	if (e->runtime || e->timed_out || e->aborted || !e->error)
		return -1;
	int is_task = s->type == T_TASK;
	for (int i = 0; i < s->nretry; i++) {
		const struct retrier *rt = &s->retry[i];
		if (!error_matches(rt->errors, rt->nerrors, e->error, is_task))
			continue;
		if (counts[i] >= rt->max_attempts)
			break;
		double delay = rt->interval * pow(rt->backoff, counts[i]);
		if (rt->max_delay > 0 && delay > rt->max_delay)
			delay = rt->max_delay;
		if (rt->jitter_full)
			delay = delay * (double)(rand() % 1000) / 1000.0;
		counts[i]++;
		struct aerr we = { 0 };
		if (sleep_for(f, delay, &we) < 0) {
			aerr_clear(e);
			*e = we;
			return -1;
		}
		return 1;
	}
	for (int i = 0; i < s->ncatch; i++) {
		const struct catcher *c = &s->catch[i];
		if (!error_matches(c->errors, c->nerrors, e->error, is_task))
			continue;
		jv eo = jv_object_set(jv_object(), jv_string("Error"), jv_string(e->error));
		eo = jv_object_set(eo, jv_string("Cause"), jv_string(e->cause ? e->cause : ""));
		struct aerr e2 = { 0 };
		if (do_assign(f, c->t_assign, eo, &e2) < 0) {
			jv_free(eo);
			aerr_clear(e);
			*e = e2;
			return -1;
		}
		jv o;
		if (result_path(f, c->has_result_path, c->result_path_null, &c->result_path,
		                raw, eo, &o, &e2) < 0) {
			aerr_clear(e);
			*e = e2;
			return -1;
		}
		*out = o;
		*next = c->next;
		aerr_clear(e);
		return 0;
	}
	return -1;
}

/* Run state S on RAW (consumed). On success *out is the output and *next
 * the next state (-1: this branch ends). */
static int run_state(struct frame *f, const struct asl_states *ss, const struct asl_state *s,
                     jv raw, jv *out, int *next, struct aerr *e)
{
	f->state_name = s->name;
	f->entered = now(f->x);
	f->retry_count = s->type == T_TASK ? 0 : -1;
	f->entered_id = emit(f, entered_name[s->type], "stateEnteredEventDetails",
	                     history_on(f) ? details_io(s->name, "input", jv_copy(raw)) : jv_invalid());
	*next = s->end ? -1 : s->next;
	jv eff = jv_invalid(), res = jv_invalid(), o = jv_invalid();
	int rc = 0;
	int counts[64] = { 0 };

	switch (s->type) {
	case T_FAIL:
		rc = fail_state(f, s, raw, e);
		goto failed_noexit;
	case T_CHOICE: {
		if ((rc = input_path(f, s, raw, &eff, e)) < 0)
			goto failed_noexit;
		struct intr_ctx c = { f, eff };
		int chosen = -1;
		const struct choice_rule *rule = NULL;
		for (int i = 0; i < s->nchoices && chosen < 0; i++) {
			char *err = NULL;
			int v = asl_choice_eval(&s->choices[i], choice_resolve, &c, &err);
			if (v < 0) {
				runtime_err(f, e, "%s", err);
				free(err);
				rc = -1;
				goto failed_noexit;
			}
			if (v) {
				chosen = s->choices[i].next;
				rule = &s->choices[i];
			}
		}
		if (chosen < 0)
			chosen = s->deflt;
		if (chosen < 0) {
			set_err(e, "States.NoChoiceMatched", NULL);
			rc = -1;
			goto failed_noexit;
		}
		if ((rc = do_assign(f, s->t_assign, eff, e)) < 0)
			goto failed_noexit;
		if (rule && (rc = do_assign(f, rule->t_assign, eff, e)) < 0)
			goto failed_noexit;
		*next = chosen;
		if ((rc = output_path(f, s, eff, &o, e)) < 0)
			goto failed_noexit;
		eff = jv_invalid();
		break;
	}
	case T_WAIT:
	case T_SUCCEED:
		if ((rc = input_path(f, s, raw, &eff, e)) < 0)
			goto failed_noexit;
		if (s->type == T_WAIT && (rc = wait_state(f, s, eff, e)) < 0)
			goto failed_noexit;
		if ((rc = do_assign(f, s->t_assign, eff, e)) < 0)
			goto failed_noexit;
		if ((rc = output_path(f, s, eff, &o, e)) < 0)
			goto failed_noexit;
		eff = jv_invalid();
		if (s->type == T_SUCCEED)
			*next = -1;
		break;
	case T_PASS:
	case T_TASK:
	case T_PARALLEL:
	case T_MAP:
		for (;;) {
			if ((rc = input_path(f, s, raw, &eff, e)) < 0)
				goto failed_noexit;
			size_t in_bound = f->bound;
			if (s->t_parameters && s->type != T_MAP) {
				jv p;
				rc = tmpl_eval(f, s->t_parameters, eff, &p, e);
				jv_free(eff);
				eff = jv_invalid();
				if (rc < 0)
					goto failed_noexit;
				eff = p;
				in_bound = size_bound(eff, DATA_LIMIT);
			}
			size_t out_bound = in_bound, res_bound = 0;
			int res_is_input = 0;
			switch (s->type) {
			case T_PASS:
				res = jv_is_valid(s->result) ? jv_copy(s->result) : jv_copy(eff);
				res_is_input = !jv_is_valid(s->result);
				rc = 0;
				break;
			case T_TASK:
				rc = task_state(f, s, eff, &res, e);
				break;
			case T_PARALLEL:
				rc = parallel_state(f, s, eff, &res, &res_bound, e);
				break;
			default:
				rc = map_state(f, s, eff, &res, &res_bound, e);
				break;
			}
			if (rc == 0 && s->t_result_selector) {
				jv sel;
				rc = tmpl_eval(f, s->t_result_selector, res, &sel, e);
				jv_free(res);
				res = rc == 0 ? sel : jv_invalid();
			}
			if (rc == 0)
				rc = do_assign(f, s->t_assign, res, e);
			if (rc == 0) {
				/* bound the output from the input's bound and the result's */
				size_t rb = s->t_result_selector ? size_bound(res, DATA_LIMIT)
				          : res_is_input ? in_bound
				          : res_bound ? res_bound : size_bound(res, DATA_LIMIT);
				/* the result itself is limited, wherever ResultPath puts it */
				if (rb > DATA_LIMIT)
					rc = size_check(f, res, &rb, e);
				if (!s->has_result_path || (!s->result_path_null && jp_is_root(s->result_path.p)))
					out_bound = rb;
				else if (s->result_path_null)
					out_bound = f->bound;
				else
					out_bound = f->bound + rb + 2 * strlen(s->result_path.text) + 16;
				if (rc == 0) {
					rc = result_path(f, s->has_result_path, s->result_path_null,
					                 &s->result_path, raw, res, &o, e);
					res = jv_invalid();
				}
			}
			if (rc == 0) {
				rc = output_path(f, s, o, &o, e);
				if (rc < 0)
					o = jv_invalid();
			}
			if (rc == 0 && (rc = size_check(f, o, &out_bound, e)) < 0) {
				jv_free(o);
				o = jv_invalid();
			}
			if (rc == 0)
				f->bound = out_bound;
			jv_free(eff);
			eff = jv_invalid();
			if (rc == 0)
				break;
			jv_free(res);
			res = jv_invalid();
			if (s->type == T_PASS)
				goto failed_noexit;
			int h = handle_error(f, s, raw, counts, e, &o, next);
			if (h != 1 && !e->timed_out && !e->runtime && !e->aborted &&
			    (s->type == T_MAP || s->type == T_PARALLEL))
				emit(f, s->type == T_MAP ? "MapStateFailed" : "ParallelStateFailed",
				     NULL, jv_invalid());
			if (h == 1) {
				if (s->type == T_TASK)
					f->retry_count++;
				continue;
			}
			if (h == 0) {
				rc = 0;
				f->bound = size_bound(o, DATA_LIMIT);
				break;
			}
			goto failed_noexit;
		}
		break;
	}
	commit_assign(f);
	emit(f, exited_name[s->type], "stateExitedEventDetails",
	     history_on(f) ? details_io(s->name, "output", jv_copy(o)) : jv_invalid());
	jv_free(raw);
	*out = o;
	return 0;

failed_noexit:
	jv_free(f->pending);
	f->pending = jv_invalid();
	jv_free(eff);
	jv_free(res);
	jv_free(raw);
	return -1;
}

static int run_states(struct frame *f, const struct asl_states *ss, jv input, jv *out,
                      struct aerr *e)
{
	int i = ss->start;
	jv cur = input;
	for (;;) {
		int next;
		jv o;
		if (run_state(f, ss, &ss->v[i], cur, &o, &next, e) < 0)
			return -1;
		if (next < 0) {
			*out = o;
			return 0;
		}
		cur = o;
		i = next;
		if (f->x->deadline > 0 && now(f->x) > f->x->deadline) {
			jv_free(cur);
			aerr_clear(e);
			e->timed_out = 1;
			return -1;
		}
		if (f->x->o->stopping && f->x->o->stopping()) {
			jv_free(cur);
			aerr_clear(e);
			e->aborted = 1;
			return -1;
		}
	}
}

const char *asl_status_name(enum asl_status s)
{
	switch (s) {
	case ASL_SUCCEEDED: return "SUCCEEDED";
	case ASL_FAILED: return "FAILED";
	case ASL_TIMED_OUT: return "TIMED_OUT";
	case ASL_ABORTED: return "ABORTED";
	}
	return "FAILED";
}

void asl_run(const asl_machine *m, jv input, const struct asl_options *o, struct asl_result *r)
{
	memset(r, 0, sizeof *r);
	r->output = jv_null();
	r->history = o->history ? jv_array() : jv_null();
	struct exec x = { o, r, 0, 0, 0, jv_null(), jv_null() };
	x.now = o->start_time > 0 ? o->start_time : wall_now();
	r->start = x.now;
	if (m->top.timeout_seconds > 0)
		x.deadline = x.now + m->top.timeout_seconds;
	char ts[32];
	asl_format_time(x.now, ts);
	jv ec = jv_object();
	ec = jv_object_set(ec, jv_string("Id"), jv_string(o->exec_arn ? o->exec_arn : ""));
	ec = jv_object_set(ec, jv_string("Input"), jv_copy(input));
	ec = jv_object_set(ec, jv_string("StartTime"), jv_string(ts));
	ec = jv_object_set(ec, jv_string("Name"), jv_string(o->exec_name ? o->exec_name : ""));
	ec = jv_object_set(ec, jv_string("RoleArn"), jv_string(o->role_arn ? o->role_arn : ""));
	ec = jv_object_set(ec, jv_string("RedriveCount"), jv_number(0));
	x.exec_ctx = ec;
	jv sc = jv_object();
	sc = jv_object_set(sc, jv_string("Id"), jv_string(o->sm_arn ? o->sm_arn : ""));
	sc = jv_object_set(sc, jv_string("Name"), jv_string(o->sm_name ? o->sm_name : ""));
	x.sm_ctx = sc;

	struct scope top = { jv_object(), NULL };
	struct frame f;
	memset(&f, 0, sizeof f);
	f.x = &x;
	f.scope = &top;
	f.retry_count = -1;
	f.map_value = jv_invalid();
	f.pending = jv_invalid();
	/* the input line's length bounds its serialisation, give or take
	 * numbers written shorter than jq prints them ("1e16") */
	f.bound = o->input_size ? o->input_size * 5 + 64 : size_bound(input, DATA_LIMIT);
	jv sd = jv_invalid();
	if (o->history) {
		sd = jv_object();
		char *in = dump(input);
		sd = jv_object_set(sd, jv_string("input"), jv_string(in));
		free(in);
		sd = jv_object_set(sd, jv_string("inputDetails"),
		                   jv_object_set(jv_object(), jv_string("truncated"), jv_false()));
		sd = jv_object_set(sd, jv_string("roleArn"), jv_string(o->role_arn ? o->role_arn : ""));
	}
	emit(&f, "ExecutionStarted", "executionStartedEventDetails", sd);

	struct aerr e = { 0 };
	jv out;
	int rc = run_states(&f, &m->top, jv_copy(input), &out, &e);
	if (rc == 0) {
		r->status = ASL_SUCCEEDED;
		jv_free(r->output);
		r->output = out;
		emit(&f, "ExecutionSucceeded", "executionSucceededEventDetails",
		     o->history ? details_io(NULL, "output", jv_copy(out)) : jv_invalid());
	} else if (e.timed_out) {
		r->status = ASL_TIMED_OUT;
		emit(&f, "ExecutionTimedOut", NULL, jv_invalid());
	} else if (e.aborted) {
		r->status = ASL_ABORTED;
		emit(&f, "ExecutionAborted", NULL, jv_invalid());
	} else {
		r->status = ASL_FAILED;
		r->error = e.error;
		r->cause = e.cause;
		e.error = e.cause = NULL;
		emit(&f, "ExecutionFailed", "executionFailedEventDetails",
		     o->history ? details_err(r->error, r->cause) : jv_invalid());
	}
	aerr_clear(&e);
	r->stop = now(&x);
	jv_free(top.vars);
	jv_free(x.exec_ctx);
	jv_free(x.sm_ctx);
}

void asl_result_free(struct asl_result *r)
{
	jv_free(r->output);
	jv_free(r->history);
	free(r->error);
	free(r->cause);
	memset(r, 0, sizeof *r);
	r->output = jv_null();
	r->history = jv_null();
}
