/*
 * asl_exec.c: run executions of a loaded state machine.
 *
 * The data flow follows AWS exactly: InputPath, Parameters, the state's
 * work, ResultSelector, Assign, ResultPath, OutputPath. The engine below
 * runs Parallel branches and Map iterations at once on one thread, as
 * fibers of an event loop: Tasks run in the host without blocking it, and
 * Wait states and retry intervals are timers on the execution's clock
 * (the wall clock, or a virtual one that jumps to the next timer).
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
#include "ids.h"
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

struct scope {
	jv vars;                /* object */
	struct scope *parent;
};

struct asl_loop;
struct fiber;

/* One execution. It lives until it is reported and the host has
 * reported every Task it started (see the engine below). */
struct exec {
	const struct asl_options *o;
	struct asl_result *r;
	int events;             /* ids handed out so far */
	double now;             /* virtual clock, or the last reading of it */
	double deadline;        /* 0: none */
	jv exec_ctx, sm_ctx;    /* $$.Execution and $$.StateMachine */
	struct asl_loop *eng;
	struct fiber *top;      /* the execution's own fiber */
	struct scope scope;     /* its variables */
	struct fiber **heap;    /* timers, by wake time then arrival */
	int nheap, capheap;
	int tasks_out;          /* Tasks the host has not reported yet */
	int reported;           /* done was called */
	asl_done_fn done;
	void *done_arg;
	struct exec *next, *prev;
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

/* ---- states ------------------------------------------------------------- */

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

/* "The FIELD parameter PROBLEM: PATH == VALUE", a States.Runtime error;
 * V is consumed. */
static int param_err(struct frame *f, struct aerr *e, const char *field, const char *problem,
                     const char *path, jv v)
{
	char *d = dump(v);
	jv_free(v);
	runtime_err(f, e, "The %s parameter %s: %s == %s", field, problem, path, d);
	free(d);
	return -1;
}

/* How long Wait state S waits, read from IN; -1 with a States.Runtime error. */
static int wait_seconds(struct frame *f, const struct asl_state *s, jv in, double *out,
                        struct aerr *e)
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
		    jv_number_value(v) != floor(jv_number_value(v)))
			return param_err(f, e, "SecondsPath", "cannot be parsed as a long value",
			                 s->seconds_path.text, v);
		secs = jv_number_value(v);
		if (secs < 0)
			return param_err(f, e, "SecondsPath", "references a negative value",
			                 s->seconds_path.text, v);
		jv_free(v);
	} else {
		const char *ts = s->timestamp;
		jv v = jv_invalid();
		if (s->has_timestamp_path) {
			if (resolve(f, &s->timestamp_path, in, &v) < 0)
				return runtime_err(f, e, "The TimestampPath parameter does not reference an input value: %s",
				                   s->timestamp_path.text);
			if (jv_get_kind(v) != JV_KIND_STRING)
				return param_err(f, e, "TimestampPath", "does not reference a valid ISO-8601 "
				                 "extended offset date-time format string",
				                 s->timestamp_path.text, v);
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
	*out = secs;
	return 0;
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


/* ---- the engine ---------------------------------------------------------
 *
 * One thread runs any number of executions (a loop), each as a set of
 * fibers: the execution itself, each Parallel branch and each Map
 * iteration. A fiber is a frame plus its place in a list of states, and it
 * runs until it has to wait: for a Task's answer (the host runs it without
 * blocking us), for a timer (a Wait state, a retry's interval) or for the
 * fibers of a Parallel or Map state it started (a group). Ready fibers run
 * in turn; when none is ready, an execution on a virtual clock that waits
 * only for its timers jumps to the next one, else the loop lets the host
 * wait for its tasks (and its own input) until the next real timer.
 *
 * Children are launched depth first: a branch that never waits runs to its
 * end before the next one starts, so such branches write the same history
 * as running them one after another. A Map keeps at most MaxConcurrency
 * iterations (40, AWS's inline limit, when it is 0) alive at once.
 *
 * Fibers are freed only from the main loop (the graveyard), never while
 * their code may be on the stack; a cancelled fiber whose Task is still
 * running is freed when the host reports the task's end (task_cancel asks
 * the host to end it soon), and an execution is freed only once the host
 * has reported every task it started.
 */

#define INLINE_MAP_LIMIT 40       /* AWS: inline Map runs up to 40 at once */
#define DISTRIBUTED_LIMIT 1000    /* child workflows alive at once, locally */
#define NRETRY_MAX 64

enum phase { PH_ENTER, PH_ATTEMPT, PH_RESULT, PH_WAITED };
enum waitfor { WF_NONE, WF_READY, WF_TIMER, WF_TASK, WF_GROUP };

struct group;

struct fiber {
	struct frame f;
	struct asl_loop *eng;
	const struct asl_states *ss;
	int cur;                 /* the state being run */
	int next;                /* where it goes, -1: the branch ends */
	enum phase phase;
	jv raw, eff, res;        /* the state's input, effective input, result */
	size_t in_bound, res_bound;
	int res_is_input;
	int counts[NRETRY_MAX];  /* attempts per retrier */
	int op_rc;               /* how the awaited work ended; error in e */
	struct aerr e;
	struct scope sc;         /* a branch's or an iteration's variables */
	int own_scope;
	enum waitfor waiting;
	int cancelled, in_start, finished, rc;
	double wake;             /* WF_TIMER */
	uint64_t seq;
	int heap_pos;
	struct fiber *qnext;     /* ready queue or graveyard */
	struct group *parent;    /* the group this fiber belongs to */
	int index;               /* its branch or item index there */
	struct fiber *sib_prev, *sib_next;
	struct group *g;         /* WF_GROUP: the group it waits for */
	int is_top;              /* the execution's own fiber */
	struct asl_task *task;   /* WF_TASK: what the host runs for it */
	jv out;                  /* the branch's output once finished */
	jv in_copy;              /* a ResultWriter's child: its input */
	double started;
};

/* The fibers of one Parallel or Map state. */
struct group {
	struct fiber *owner;
	const struct asl_state *s;
	int is_map;
	jv eff, items, results;
	int n, launched, running, done, cap;
	size_t eff_bound, total;
	int failures, failed, fatal, pumping;
	struct aerr first;
	double tol_count, tol_pct;
	struct fiber *kids;      /* children alive */
	int writer;              /* ResultWriter: each child's record */
	jv writer_params, records;
	struct buf label;        /* MACHINE/LABEL, for the child ARNs */
};

/* The loop: every execution started on it and not yet freed, and the
 * fibers ready to run, whatever their execution. */
struct asl_loop {
	struct fiber *ready, *ready_tail, *grave;
	uint64_t seq;
	int tasks_out;
	struct exec *execs;
	int nexecs;
	asl_task_wait_fn task_wait;
	void *task_ctx;
	int (*stopping)(void);
};

/* A Task the host is running for a fiber. */
struct asl_task {
	struct asl_loop *eng;
	struct fiber *fb;
	int lambda_invoke, direct_lambda, by_heartbeat;
};

static void fiber_run(struct fiber *fb);
static void top_ended(struct fiber *fb);
static void group_child_done(struct group *g, struct fiber *c);
static void group_cancel(struct group *g, int events);

static void fiber_release(struct fiber *fb)
{
	if (fb->g) {
		/* a group it no longer waits for: end it with the fiber */
		fb->cancelled = 1;
		fb->waiting = WF_GROUP;
		group_cancel(fb->g, 0);
	}
	jv_free(fb->raw);
	jv_free(fb->eff);
	jv_free(fb->res);
	jv_free(fb->out);
	jv_free(fb->in_copy);
	jv_free(fb->f.pending);
	if (fb->own_scope)
		jv_free(fb->sc.vars);
	aerr_clear(&fb->e);
	free(fb);
}

/* Free FB from the main loop. The execution's own fiber stays to the end. */
static void graveyard(struct fiber *fb)
{
	if (fb->is_top)
		return;
	fb->qnext = fb->eng->grave;
	fb->eng->grave = fb;
}

static void grave_drain(struct asl_loop *eng)
{
	while (eng->grave) {
		struct fiber *fb = eng->grave;
		eng->grave = fb->qnext;
		fiber_release(fb);
	}
}

static void make_ready(struct fiber *fb)
{
	struct asl_loop *eng = fb->eng;
	fb->waiting = WF_READY;
	fb->qnext = NULL;
	if (eng->ready_tail)
		eng->ready_tail->qnext = fb;
	else
		eng->ready = fb;
	eng->ready_tail = fb;
}

static struct fiber *pop_ready(struct asl_loop *eng)
{
	struct fiber *fb = eng->ready;
	if (fb) {
		eng->ready = fb->qnext;
		if (!eng->ready)
			eng->ready_tail = NULL;
		fb->qnext = NULL;
	}
	return fb;
}

/* ---- timers: a binary heap by wake time, then by arrival ----------------- */

static int heap_less(const struct fiber *a, const struct fiber *b)
{
	return a->wake < b->wake || (a->wake == b->wake && a->seq < b->seq);
}

static void heap_swap(struct exec *x, int i, int j)
{
	struct fiber *t = x->heap[i];
	x->heap[i] = x->heap[j];
	x->heap[j] = t;
	x->heap[i]->heap_pos = i;
	x->heap[j]->heap_pos = j;
}

static void heap_fix(struct exec *x, int i)
{
	while (i > 0 && heap_less(x->heap[i], x->heap[(i - 1) / 2])) {
		heap_swap(x, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < x->nheap && heap_less(x->heap[l], x->heap[m]))
			m = l;
		if (r < x->nheap && heap_less(x->heap[r], x->heap[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(x, i, m);
		i = m;
	}
}

static void heap_push(struct exec *x, struct fiber *fb)
{
	if (x->nheap == x->capheap) {
		x->capheap = x->capheap ? x->capheap * 2 : 16;
		x->heap = xrealloc(x->heap, (size_t)x->capheap * sizeof *x->heap);
	}
	fb->seq = x->eng->seq++;
	fb->heap_pos = x->nheap;
	x->heap[x->nheap++] = fb;
	heap_fix(x, fb->heap_pos);
}

static void heap_remove(struct exec *x, struct fiber *fb)
{
	int i = fb->heap_pos;
	if (i < 0 || i >= x->nheap || x->heap[i] != fb)
		return;
	x->nheap--;
	if (i != x->nheap) {
		x->heap[i] = x->heap[x->nheap];
		x->heap[i]->heap_pos = i;
		heap_fix(x, i);
	}
	fb->heap_pos = -1;
}

/* Let SECONDS pass before the fiber goes on (at once when not positive). */
static void sleep_start(struct fiber *fb, double seconds)
{
	if (!(seconds > 0))
		return;
	fb->wake = now(fb->f.x) + seconds;
	fb->waiting = WF_TIMER;
	heap_push(fb->f.x, fb);
}

/* ---- cancelling ----------------------------------------------------------- */

/* Stop FB, which is not running (it waits for something). */
static void fiber_cancel(struct fiber *fb)
{
	fb->cancelled = 1;
	switch (fb->waiting) {
	case WF_TIMER:
		heap_remove(fb->f.x, fb);
		graveyard(fb);
		break;
	case WF_GROUP:
		group_cancel(fb->g, 0);
		graveyard(fb);
		break;
	case WF_TASK:       /* freed when the host reports the task's end */
		if (fb->task && fb->f.x->o->task_cancel)
			fb->f.x->o->task_cancel(fb->f.x->o->task_ctx, fb->task);
		break;
	case WF_READY:      /* freed when it leaves the ready queue */
	case WF_NONE:
		break;
	}
}

static void sib_unlink(struct group *g, struct fiber *c)
{
	if (c->sib_prev)
		c->sib_prev->sib_next = c->sib_next;
	else
		g->kids = c->sib_next;
	if (c->sib_next)
		c->sib_next->sib_prev = c->sib_prev;
	c->sib_prev = c->sib_next = NULL;
}

static void group_free(struct group *g)
{
	jv_free(g->writer_params);
	jv_free(g->records);
	buf_free(&g->label);
	jv_free(g->eff);
	jv_free(g->items);
	jv_free(g->results);
	aerr_clear(&g->first);
	free(g);
}

static jv iteration_details(const struct group *g, int index)
{
	jv d = jv_object_set(jv_object(), jv_string("name"), jv_string(g->s->name));
	return jv_object_set(d, jv_string("index"), jv_number(index));
}

/* Stop every child of G; with EVENTS, inline Map iterations say so in the
 * history. G itself is freed here when its owner waits for it. */
static void group_cancel(struct group *g, int events)
{
	while (g->kids) {
		struct fiber *c = g->kids;
		sib_unlink(g, c);
		g->running--;
		if (events && g->is_map && !g->s->distributed)
			emit(&g->owner->f, "MapIterationAborted", "mapIterationAbortedEventDetails",
			     history_on(&g->owner->f) ? iteration_details(g, c->index) : jv_invalid());
		c->parent = NULL;
		fiber_cancel(c);
	}
	if (g->owner->waiting == WF_GROUP && g->owner->cancelled) {
		g->owner->g = NULL;
		group_free(g);
	}
}

/* ---- Task states ---------------------------------------------------------- */

/* The host's answer: the result, or an error (either string may be NULL). */
static void task_end(struct asl_task *t, int rc, jv out, const char *error, const char *cause)
{
	struct asl_loop *eng = t->eng;
	struct fiber *fb = t->fb;
	fb->task = NULL;
	eng->tasks_out--;
	fb->f.x->tasks_out--;
	if (fb->cancelled) {
		jv_free(out);
		fb->waiting = WF_NONE;
		graveyard(fb);
		free(t);
		return;
	}
	struct frame *f = &fb->f;
	const char *pfx = t->direct_lambda ? "LambdaFunction" : "Task";
	struct buf b = BUF_INIT;
	if (rc < 0) {
		jv_free(out);
		if (!error)
			error = "States.TaskFailed";
		if (t->by_heartbeat && !strcmp(error, "States.Timeout"))
			error = "States.HeartbeatTimeout";
		int to = !strcmp(error, "States.Timeout") || !strcmp(error, "States.HeartbeatTimeout");
		buf_printf(&b, "%s%s", pfx, to ? "TimedOut" : "Failed");
		emit(f, buf_str(&b), t->direct_lambda ? "lambdaFunctionFailedEventDetails" : "taskFailedEventDetails",
		     history_on(f) ? details_err(error, cause) : jv_invalid());
		set_err(&fb->e, error, cause);
		fb->e.runtime = !strcmp(error, "States.Runtime");
		fb->op_rc = -1;
	} else {
		if (t->lambda_invoke) {
			jv r = jv_object();
			r = jv_object_set(r, jv_string("ExecutedVersion"), jv_string("$LATEST"));
			r = jv_object_set(r, jv_string("Payload"), out);
			r = jv_object_set(r, jv_string("SdkHttpMetadata"), jv_object_set(jv_object(),
			                  jv_string("HttpStatusCode"), jv_number(200)));
			r = jv_object_set(r, jv_string("SdkResponseMetadata"), jv_object());
			r = jv_object_set(r, jv_string("StatusCode"), jv_number(200));
			out = r;
		}
		buf_printf(&b, "%sSucceeded", pfx);
		jv sd = jv_invalid();
		if (history_on(f)) {
			char *o = dump(out);
			sd = jv_object_set(jv_object(), jv_string("output"), jv_string(o));
			free(o);
		}
		emit(f, buf_str(&b), t->direct_lambda ? "lambdaFunctionSucceededEventDetails"
		                                      : "taskSucceededEventDetails", sd);
		fb->res = out;
		fb->op_rc = 0;
	}
	buf_free(&b);
	free(t);
	fb->waiting = WF_NONE;
	if (!fb->in_start)
		make_ready(fb);
}

void asl_task_succeed(struct asl_task *t, jv result)
{
	task_end(t, 0, result, NULL, NULL);
}

void asl_task_fail(struct asl_task *t, const char *error, const char *cause)
{
	task_end(t, -1, jv_invalid(), error, cause);
}

static int seconds_param(struct frame *f, const struct apath *ap, jv eff, const char *field,
                         double *out, struct aerr *e)
{
	jv v;
	if (resolve(f, ap, eff, &v) < 0 || jv_get_kind(v) != JV_KIND_NUMBER) {
		if (jv_is_valid(v))
			jv_free(v);
		return runtime_err(f, e, "The %s parameter does not reference a valid positive integer: %s",
		                   field, ap->text);
	}
	*out = jv_number_value(v);
	jv_free(v);
	return 0;
}

/* Start the Task state's work on fb->eff. It ends in task_end, maybe
 * before this returns. */
static void task_start(struct fiber *fb, const struct asl_state *s)
{
	struct frame *f = &fb->f;
	struct exec *x = f->x;
	const char *res = s->resource;
	fb->op_rc = -1;
	if (!res) {
		runtime_err(f, &fb->e, "The Resource of this Task is a CloudFormation expression, which only a deployment resolves");
		return;
	}
	double timeout = s->timeout_seconds, heartbeat = s->heartbeat_seconds;
	if (s->has_timeout_path &&
	    seconds_param(f, &s->timeout_path, fb->eff, "TimeoutSecondsPath", &timeout, &fb->e) < 0)
		return;
	/* A local function sends no heartbeats: one that runs past
	 * HeartbeatSeconds is stopped there with States.HeartbeatTimeout. */
	if (s->has_heartbeat_path &&
	    seconds_param(f, &s->heartbeat_path, fb->eff, "HeartbeatSecondsPath", &heartbeat, &fb->e) < 0)
		return;
	struct asl_task *t = xcalloc(1, sizeof *t);
	t->eng = fb->eng;
	t->fb = fb;
	t->lambda_invoke = !strncmp(res, "arn:aws:states:::lambda:invoke", 30);
	t->direct_lambda = !strncmp(res, "arn:aws:lambda:", 15);
	t->by_heartbeat = heartbeat > 0 && (timeout <= 0 || heartbeat < timeout);
	double limit = t->by_heartbeat ? heartbeat : timeout;
	const char *pfx = t->direct_lambda ? "LambdaFunction" : "Task";
	struct buf b = BUF_INIT;
	jv det = jv_invalid();
	if (history_on(f)) {
		det = jv_object_set(jv_object(), jv_string("resource"), jv_string(res));
		char *p = dump(fb->eff);
		det = jv_object_set(det, jv_string("parameters"), jv_string(p));
		free(p);
		if (timeout > 0)
			det = jv_object_set(det, jv_string("timeoutInSeconds"), jv_number(timeout));
	}
	buf_printf(&b, "%sScheduled", pfx);
	emit(f, buf_str(&b), t->direct_lambda ? "lambdaFunctionScheduledEventDetails"
	                                      : "taskScheduledEventDetails", det);
	buf_reset(&b);
	buf_printf(&b, "%sStarted", pfx);
	emit(f, buf_str(&b), NULL, jv_invalid());
	buf_free(&b);

	jv payload = jv_copy(fb->eff);
	char *fname = NULL;
	if (t->lambda_invoke) {
		jv eff = fb->eff;
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
	fb->waiting = WF_TASK;
	fb->task = t;
	fb->in_start = 1;
	fb->eng->tasks_out++;
	fb->f.x->tasks_out++;
	const char *target = t->lambda_invoke ? fname : res;
	if (!x->o->task && !x->o->task_start) {
		jv_free(payload);
		struct buf c = BUF_INIT;
		buf_printf(&c, "No handler for the resource '%s': give one with --fn", res);
		asl_task_fail(t, "States.TaskFailed", buf_str(&c));
		buf_free(&c);
	} else if (t->lambda_invoke && !fname) {
		jv_free(payload);
		asl_task_fail(t, "States.Runtime", "The lambda:invoke integration needs a FunctionName parameter");
	} else if (x->o->task_start) {
		x->o->task_start(x->o->task_ctx, t, target, payload, limit);
	} else {
		jv out = jv_invalid();
		char *error = NULL, *cause = NULL;
		if (x->o->task(x->o->task_ctx, target, payload, limit, &out, &error, &cause) < 0)
			asl_task_fail(t, error, cause);
		else
			asl_task_succeed(t, out);
		free(error);
		free(cause);
	}
	free(fname);
	fb->in_start = 0;
}

/* ---- Parallel and Map: groups of fibers ----------------------------------- */

static struct fiber *fiber_new(struct exec *x, const struct asl_states *ss)
{
	struct fiber *fb = xcalloc(1, sizeof *fb);
	struct asl_loop *eng = x->eng;
	fb->eng = eng;
	fb->ss = ss;
	fb->cur = ss->start;
	fb->raw = fb->eff = fb->res = fb->out = fb->in_copy = jv_invalid();
	fb->f.x = x;
	fb->f.retry_count = -1;
	fb->f.map_value = jv_invalid();
	fb->f.pending = jv_invalid();
	fb->heap_pos = -1;
	return fb;
}

static int group_complete(const struct group *g)
{
	return g->running == 0 && (g->failed || g->launched == g->n);
}

/* The group fails with error E (moved). */
static void group_fail(struct group *g, struct aerr *e, int fatal)
{
	if (!g->failed || (fatal && !g->fatal)) {
		aerr_clear(&g->first);
		g->first = *e;
		memset(e, 0, sizeof *e);
	} else {
		aerr_clear(e);
	}
	g->fatal |= fatal;
	if (!g->failed) {
		g->failed = 1;
		group_cancel(g, 1);
	}
}

/* Start child I of G and run it as far as it goes. */
static void launch(struct group *g)
{
	struct fiber *o = g->owner;
	const struct asl_state *s = g->s;
	int i = g->launched++;
	struct fiber *c = fiber_new(o->f.x, &s->branches[g->is_map ? 0 : i]);
	c->f.prev = o->f.prev;
	c->f.silent = o->f.silent || (g->is_map && s->distributed);
	c->sc.vars = jv_object();
	c->sc.parent = o->f.scope;
	c->own_scope = 1;
	c->f.scope = &c->sc;
	c->index = i;
	jv in;
	if (g->is_map) {
		jv item = jv_array_get(jv_copy(g->items), i);
		c->f.in_map = 1;
		c->f.map_index = i;
		c->f.map_value = item;
		c->f.state_name = o->f.state_name;
		c->f.entered = o->f.entered;
		c->f.entered_id = o->f.entered_id;
		if (s->t_item_selector) {
			if (tmpl_eval(&c->f, s->t_item_selector, g->eff, &in, &c->e) < 0) {
				jv_free(item);
				c->f.map_value = jv_invalid();
				group_fail(g, &c->e, c->e.runtime);
				o->f.prev = c->f.prev;
				fiber_release(c);
				return;
			}
		} else {
			in = jv_copy(item);
		}
		jv_free(item);
		c->f.in_map = 0;
		c->f.map_value = jv_invalid();
		c->f.state_name = NULL;
		c->f.bound = size_bound(in, DATA_LIMIT);
		if (!s->distributed)
			emit(&c->f, "MapIterationStarted", "mapIterationStartedEventDetails",
			     history_on(&c->f) ? iteration_details(g, i) : jv_invalid());
	} else {
		in = jv_copy(g->eff);
		c->f.bound = g->eff_bound;
	}
	if (g->writer) {
		c->in_copy = jv_copy(in);
		c->started = now(c->f.x);
	}
	c->raw = in;
	c->parent = g;
	c->sib_next = g->kids;
	if (g->kids)
		g->kids->sib_prev = c;
	g->kids = c;
	g->running++;
	fiber_run(c);
	if (!c->finished)
		o->f.prev = c->f.prev;
}

/* Launch what G may launch; when it is complete, wake its owner if the
 * owner waits for it. */
static void group_pump(struct group *g)
{
	g->pumping = 1;
	while (!g->failed && g->launched < g->n && g->running < g->cap)
		launch(g);
	g->pumping = 0;
	if (group_complete(g) && g->owner->waiting == WF_GROUP)
		make_ready(g->owner);
}

/* A ResultWriter's record of child execution C, as AWS writes it. */
static jv child_record(struct group *g, struct fiber *c)
{
	char id[40], t[32];
	ids_uuid(id);
	struct buf res = BUF_INIT, arn = BUF_INIT;
	buf_printf(&res, "execution:%s:%s", buf_str(&g->label), id);
	ids_arn(&arn, "states", buf_str(&res));
	jv r = jv_object_set(jv_object(), jv_string("ExecutionArn"), jv_string(buf_str(&arn)));
	char *in = dump(c->in_copy);
	r = jv_object_set(r, jv_string("Input"), jv_string(in));
	free(in);
	r = jv_object_set(r, jv_string("InputDetails"),
	                  jv_object_set(jv_object(), jv_string("Included"), jv_true()));
	r = jv_object_set(r, jv_string("Name"), jv_string(id));
	if (c->rc == 0) {
		char *o = dump(c->out);
		r = jv_object_set(r, jv_string("Output"), jv_string(o));
		free(o);
		r = jv_object_set(r, jv_string("OutputDetails"),
		                  jv_object_set(jv_object(), jv_string("Included"), jv_true()));
	} else {
		if (c->e.error)
			r = jv_object_set(r, jv_string("Error"), jv_string(c->e.error));
		if (c->e.cause)
			r = jv_object_set(r, jv_string("Cause"), jv_string(c->e.cause));
	}
	r = jv_object_set(r, jv_string("RedriveCount"), jv_number(0));
	r = jv_object_set(r, jv_string("RedriveStatus"),
	                  jv_string(c->rc == 0 ? "NOT_REDRIVABLE" : "REDRIVABLE"));
	if (c->rc == 0)
		r = jv_object_set(r, jv_string("RedriveStatusReason"),
		                  jv_string("Execution is SUCCEEDED and cannot be redriven"));
	asl_format_time(c->started, t);
	r = jv_object_set(r, jv_string("StartDate"), jv_string(t));
	buf_reset(&res);
	buf_reset(&arn);
	buf_printf(&res, "stateMachine:%s", buf_str(&g->label));
	ids_arn(&arn, "states", buf_str(&res));
	r = jv_object_set(r, jv_string("StateMachineArn"), jv_string(buf_str(&arn)));
	r = jv_object_set(r, jv_string("Status"), jv_string(c->rc == 0 ? "SUCCEEDED" : "FAILED"));
	asl_format_time(now(c->f.x), t);
	r = jv_object_set(r, jv_string("StopDate"), jv_string(t));
	buf_free(&res);
	buf_free(&arn);
	return r;
}

/* Child C of G ended (c->rc, c->out, c->e). */
static void group_child_done(struct group *g, struct fiber *c)
{
	struct fiber *o = g->owner;
	sib_unlink(g, c);
	g->running--;
	g->done++;
	o->f.prev = c->f.prev;
	int fatal = c->rc < 0 && (c->e.timed_out || c->e.runtime || c->e.aborted);
	if (g->writer && !fatal)
		g->records = jv_array_set(g->records, c->index, child_record(g, c));
	if (g->is_map && !g->s->distributed && !fatal)
		emit(&o->f, c->rc < 0 ? "MapIterationFailed" : "MapIterationSucceeded",
		     c->rc < 0 ? "mapIterationFailedEventDetails" : "mapIterationSucceededEventDetails",
		     history_on(&o->f) ? iteration_details(g, c->index) : jv_invalid());
	if (c->rc == 0) {
		g->results = jv_array_set(g->results, c->index, c->out);
		c->out = jv_invalid();
		g->total += c->f.bound + 1;
	} else if (fatal) {
		group_fail(g, &c->e, 1);
	} else if (g->is_map && (g->tol_count >= 0 || g->tol_pct >= 0)) {
		g->failures++;
		if (!g->first.error) {
			g->first = c->e;
			memset(&c->e, 0, sizeof c->e);
		}
		g->results = jv_array_set(g->results, c->index, jv_null());
		g->total += 5;
	} else {
		g->failures++;
		group_fail(g, &c->e, 0);
	}
	graveyard(c);
	if (!g->pumping)
		group_pump(g);
}

static struct group *group_new(struct fiber *fb, const struct asl_state *s, int is_map)
{
	struct group *g = xcalloc(1, sizeof *g);
	g->owner = fb;
	g->s = s;
	g->is_map = is_map;
	g->eff = jv_copy(fb->eff);
	g->items = jv_invalid();
	g->results = jv_array();
	g->writer_params = g->records = jv_invalid();
	g->tol_count = g->tol_pct = -1;
	return g;
}

/* Run G until it waits or is complete; then collect it (now or when the
 * owner wakes). */
static void group_go(struct fiber *fb, struct group *g)
{
	fb->g = g;
	group_pump(g);
	if (!group_complete(g))
		fb->waiting = WF_GROUP;
}

static void parallel_start(struct fiber *fb, const struct asl_state *s)
{
	emit(&fb->f, "ParallelStateStarted", NULL, jv_invalid());
	struct group *g = group_new(fb, s, 0);
	g->n = s->nbranches;
	g->cap = s->nbranches;
	g->eff_bound = size_bound(fb->eff, DATA_LIMIT);
	g->total = 2;
	group_go(fb, g);
}

/* A number from a "...Path" field of OBJ (a reader's config, a batcher),
 * read from IN: 1 and *out, 0 when OBJ has no such field, -1 with a
 * States.Runtime error. */
static int path_number(struct frame *f, jv obj, const char *field, jv in, double *out,
                       struct aerr *e)
{
	jv p = jv_get_kind(obj) == JV_KIND_OBJECT ? jv_object_get(jv_copy(obj), jv_string(field))
	                                          : jv_invalid();
	if (jv_get_kind(p) != JV_KIND_STRING) {
		jv_free(p);
		return 0;
	}
	struct apath ap;
	char *err = NULL;
	int rc;
	if (asl_apath_compile(&ap, jv_string_value(p), &err) < 0) {
		rc = runtime_err(f, e, "The %s field is not a valid path: %s", field, err ? err : "");
		free(err);
	} else {
		rc = int_param(f, &ap, in, field, 0, out, e) < 0 ? -1 : 1;
	}
	asl_apath_clear(&ap);
	jv_free(p);
	return rc;
}

/* Cut ITEMS (consumed) into ItemBatcher batches {"BatchInput", "Items"}
 * of at most PER items and, when BYTES > 0, at most BYTES of JSON each. */
static int make_batches(struct frame *f, const struct asl_state *s, jv eff, jv items,
                        double per, double bytes, jv *out, struct aerr *e)
{
	jv bin = jv_invalid();
	if (s->t_batch_input && tmpl_eval(f, s->t_batch_input, eff, &bin, e) < 0) {
		jv_free(items);
		return -1;
	}
	/* {"BatchInput":BIN,"Items":[...]}: each item adds its text and a
	 * comma, bar the first */
	size_t base = 11;
	if (jv_is_valid(bin))
		base += 14 + (size_t)jv_string_length_bytes(jv_dump_string(jv_copy(bin), 0));
	jv batches = jv_array(), cur = jv_array();
	int in_cur = 0;
	size_t cur_bytes = base;
	jv_array_foreach(items, i, item) {
		(void)i;
		size_t n = 0;
		if (bytes > 0) {
			jv t = jv_dump_string(jv_copy(item), 0);
			n = (size_t)jv_string_length_bytes(t) + 1;
		}
		if (in_cur && (in_cur >= per || (bytes > 0 && cur_bytes + n > bytes))) {
			jv b = jv_is_valid(bin) ? jv_object_set(jv_object(), jv_string("BatchInput"), jv_copy(bin))
			                        : jv_object();
			batches = jv_array_append(batches, jv_object_set(b, jv_string("Items"), cur));
			cur = jv_array();
			in_cur = 0;
			cur_bytes = base;
		}
		cur = jv_array_append(cur, item);
		in_cur++;
		cur_bytes += n;
	}
	if (in_cur) {
		jv b = jv_is_valid(bin) ? jv_object_set(jv_object(), jv_string("BatchInput"), jv_copy(bin))
		                        : jv_object();
		batches = jv_array_append(batches, jv_object_set(b, jv_string("Items"), cur));
	} else {
		jv_free(cur);
	}
	jv_free(bin);
	jv_free(items);
	*out = batches;
	return 0;
}

/* Start Map state S on fb->eff. On an error before any iteration starts,
 * fb->op_rc is -1 with the error in fb->e. */
static void map_start(struct fiber *fb, const struct asl_state *s)
{
	struct frame *f = &fb->f;
	struct aerr *e = &fb->e;
	jv eff = fb->eff;
	fb->op_rc = -1;
	double maxc = s->max_concurrency;
	if (s->has_max_concurrency_path &&
	    int_param(f, &s->max_concurrency_path, eff, "MaxConcurrencyPath", 0, &maxc, e) < 0)
		return;
	jv items;
	if (jv_get_kind(s->item_reader) == JV_KIND_OBJECT) {
		jv params = jv_object();
		if (s->t_reader_params) {
			jv_free(params);
			if (tmpl_eval(f, s->t_reader_params, eff, &params, e) < 0)
				return;
		}
		/* ReaderConfig.MaxItemsPath: the limit read from the input */
		jv reader = jv_copy(s->item_reader);
		jv config = jv_object_get(jv_copy(reader), jv_string("ReaderConfig"));
		double maxi;
		int has_max = path_number(f, config, "MaxItemsPath", eff, &maxi, e);
		if (has_max < 0 || (has_max && maxi < 0 &&
		                    runtime_err(f, e, "The MaxItemsPath field refers to a negative value") < 0)) {
			jv_free(config);
			jv_free(reader);
			jv_free(params);
			return;
		}
		if (has_max)
			reader = jv_object_set(reader, jv_string("ReaderConfig"),
			                       jv_object_set(config, jv_string("MaxItems"), jv_number(maxi)));
		else
			jv_free(config);
		char *err = NULL;
		int rc = asl_read_items(f->x->o->s3_root, reader, params, &items, &err);
		jv_free(reader);
		jv_free(params);
		if (rc < 0) {
			set_err(e, "States.ItemReaderFailed", err);
			free(err);
			return;
		}
	} else if (s->has_items_path) {
		if (resolve(f, &s->items_path, eff, &items) < 0) {
			missing_path(f, e, &s->items_path);
			return;
		}
	} else {
		items = jv_copy(eff);
	}
	if (jv_get_kind(items) != JV_KIND_ARRAY) {
		char *d = dump(items);
		jv_free(items);
		runtime_err(f, e, "Invalid path '%s': The Map state's ItemsPath must reference a JSON array, but it references: %s",
		            s->has_items_path ? s->items_path.text : "$", d);
		free(d);
		return;
	}
	int n = jv_array_length(jv_copy(items));
	emit(f, "MapStateStarted", "mapStateStartedEventDetails",
	     history_on(f) ? jv_object_set(jv_object(), jv_string("length"), jv_number(n)) : jv_invalid());
	double tol_count = s->has_tolerated_count ? s->tolerated_count : -1;
	double tol_pct = s->has_tolerated_pct ? s->tolerated_pct : -1;
	if ((s->has_tolerated_count_path &&
	     int_param(f, &s->tolerated_count_path, eff, "ToleratedFailureCountPath", 0, &tol_count, e) < 0) ||
	    (s->has_tolerated_pct_path &&
	     int_param(f, &s->tolerated_pct_path, eff, "ToleratedFailurePercentagePath", 1, &tol_pct, e) < 0)) {
		jv_free(items);
		return;
	}
	if (s->has_tolerated_count_path && tol_count < 0) {
		jv_free(items);
		runtime_err(f, e, "ToleratedFailureCount cannot be negative.");
		return;
	}
	if (s->has_tolerated_pct_path && (tol_pct < 0 || tol_pct > 100)) {
		jv_free(items);
		runtime_err(f, e, "ToleratedFailurePercentage must be between 0 and 100.");
		return;
	}
	if (s->distributed)
		emit(f, "MapRunStarted", NULL, jv_invalid());

	/* ItemBatcher: groups of items, each {"BatchInput": ..., "Items": [...]} */
	if (jv_get_kind(s->item_batcher) == JV_KIND_OBJECT) {
		jv ib = s->item_batcher;
		double per = INFINITY, bytes = 0, v;
		jv mx = jv_object_get(jv_copy(ib), jv_string("MaxItemsPerBatch"));
		if (jv_get_kind(mx) == JV_KIND_NUMBER)
			per = jv_number_value(mx);
		jv_free(mx);
		mx = jv_object_get(jv_copy(ib), jv_string("MaxInputBytesPerBatch"));
		if (jv_get_kind(mx) == JV_KIND_NUMBER)
			bytes = jv_number_value(mx);
		jv_free(mx);
		int rc = path_number(f, ib, "MaxItemsPerBatchPath", eff, &v, e);
		if (rc > 0)
			per = v;
		if (rc >= 0 && (rc = path_number(f, ib, "MaxInputBytesPerBatchPath", eff, &v, e)) > 0)
			bytes = v;
		if (rc < 0) {
			jv_free(items);
			return;
		}
		if (per < 1)
			per = 1;
		/* AWS caps a batch at 256 KiB */
		if (bytes <= 0 || bytes > DATA_LIMIT)
			bytes = DATA_LIMIT;
		if (make_batches(f, s, eff, items, per, bytes, &items, e) < 0)
			return;
		n = jv_array_length(jv_copy(items));
	}
	fb->op_rc = 0;
	struct group *g = group_new(fb, s, 1);
	g->items = items;
	g->n = n;
	int limit = s->distributed ? DISTRIBUTED_LIMIT : INLINE_MAP_LIMIT;
	g->cap = maxc >= 1 && maxc < limit ? (int)maxc : limit;
	g->total = 2;
	g->tol_count = tol_count;
	g->tol_pct = tol_pct;
	if (s->distributed && jv_get_kind(s->result_writer) == JV_KIND_OBJECT) {
		jv params = jv_object();
		if (s->t_writer_params) {
			jv_free(params);
			if (tmpl_eval(f, s->t_writer_params, eff, &params, e) < 0) {
				fb->op_rc = -1;
				group_free(g);
				return;
			}
		}
		g->writer = 1;
		g->writer_params = params;
		g->records = jv_array();
		const char *sm = f->x->o->sm_name && *f->x->o->sm_name ? f->x->o->sm_name : "state-machine";
		buf_printf(&g->label, "%s/%s", sm, s->label ? s->label : s->name);
	}
	group_go(fb, g);
}

/* A ResultWriter's Map: the records go to files, and the state's result
 * says where (or the state fails with States.ResultWriterFailed). */
static void write_results(struct fiber *fb, struct group *g)
{
	jv ok = jv_array(), failed = jv_array();
	jv_array_foreach(g->records, i, r) {
		(void)i;
		jv st = jv_get_kind(r) == JV_KIND_OBJECT ? jv_object_get(jv_copy(r), jv_string("Status"))
		                                         : jv_invalid();
		int good = jv_get_kind(st) == JV_KIND_STRING && !strcmp(jv_string_value(st), "SUCCEEDED");
		jv_free(st);
		if (jv_get_kind(r) != JV_KIND_OBJECT)
			jv_free(r);
		else if (good)
			ok = jv_array_append(ok, r);
		else
			failed = jv_array_append(failed, r);
	}
	char id[40];
	ids_uuid(id);
	struct buf res = BUF_INIT, arn = BUF_INIT;
	buf_printf(&res, "mapRun:%s:%s", buf_str(&g->label), id);
	ids_arn(&arn, "states", buf_str(&res));
	jv details;
	char *err = NULL;
	if (asl_write_results(fb->f.x->o->s3_root, g->writer_params, buf_str(&arn), id, ok, failed,
	                      &details, &err) < 0) {
		fb->op_rc = -1;
		set_err(&fb->e, "States.ResultWriterFailed", err);
		free(err);
	} else {
		jv_free(fb->res);
		jv r = jv_object_set(jv_object(), jv_string("MapRunArn"), jv_string(buf_str(&arn)));
		fb->res = jv_object_set(r, jv_string("ResultWriterDetails"), details);
		fb->res_bound = size_bound(fb->res, DATA_LIMIT);
	}
	jv_free(ok);
	jv_free(failed);
	buf_free(&res);
	buf_free(&arn);
}

/* The owner's group is complete: turn it into the state's result
 * (fb->res, fb->res_bound) or error (fb->op_rc -1, fb->e). */
static void group_collect(struct fiber *fb)
{
	struct group *g = fb->g;
	struct frame *f = &fb->f;
	fb->g = NULL;
	fb->op_rc = 0;
	int exceeded = g->failed;
	if (g->is_map && !g->failed && g->failures) {
		int over_count = g->tol_count >= 0 && g->failures > g->tol_count;
		int over_pct = g->tol_pct >= 0 && g->n > 0 && 100.0 * g->failures / g->n > g->tol_pct;
		/* with both set, exceeding either one fails the Map Run */
		exceeded = over_count || over_pct;
	}
	if (exceeded) {
		fb->op_rc = -1;
		if (g->is_map && g->s->distributed && !g->fatal) {
			emit(f, "MapRunFailed", NULL, jv_invalid());
			set_err(&fb->e, "States.ExceedToleratedFailureThreshold",
			        "The specified tolerated failure threshold was exceeded");
		} else {
			aerr_clear(&fb->e);
			fb->e = g->first;
			memset(&g->first, 0, sizeof g->first);
		}
	} else {
		fb->res = g->results;
		g->results = jv_invalid();
		fb->res_bound = g->total;
		if (g->writer)
			write_results(fb, g);
		if (g->is_map && fb->op_rc == 0) {
			if (g->s->distributed)
				emit(f, "MapRunSucceeded", NULL, jv_invalid());
			emit(f, "MapStateSucceeded", NULL, jv_invalid());
		} else if (g->is_map) {
			emit(f, "MapRunFailed", NULL, jv_invalid());
		}
	}
	group_free(g);
}

/* ---- states, step by step --------------------------------------------------- */

/* Retry or catch the error in fb->e of state S. Returns 1 to retry (after
 * the interval), 0 when caught (fb->next set, *out the output), -1 when the
 * error goes on. */
static int handle_error(struct fiber *fb, const struct asl_state *s, jv *out)
{
	struct aerr *e = &fb->e;
	struct frame *f = &fb->f;
	if (e->runtime || e->timed_out || e->aborted || !e->error)
		return -1;
	int is_task = s->type == T_TASK;
	for (int i = 0; i < s->nretry && i < NRETRY_MAX; i++) {
		const struct retrier *rt = &s->retry[i];
		if (!error_matches(rt->errors, rt->nerrors, e->error, is_task))
			continue;
		if (fb->counts[i] >= rt->max_attempts)
			break;
		double delay = rt->interval * pow(rt->backoff, fb->counts[i]);
		if (rt->max_delay > 0 && delay > rt->max_delay)
			delay = rt->max_delay;
		if (rt->jitter_full)
			delay = delay * (double)(rand() % 1000) / 1000.0;
		fb->counts[i]++;
		aerr_clear(e);
		sleep_start(fb, delay);
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
		                fb->raw, eo, &o, &e2) < 0) {
			aerr_clear(e);
			*e = e2;
			return -1;
		}
		*out = o;
		fb->next = c->next;
		aerr_clear(e);
		return 0;
	}
	return -1;
}

/* The fiber's branch ends: rc 0 with OUT, or -1 with the error in fb->e. */
static void fiber_end(struct fiber *fb, int rc, jv out)
{
	fb->finished = 1;
	fb->rc = rc;
	fb->out = out;
	if (fb->parent) {
		struct group *g = fb->parent;
		fb->parent = NULL;
		group_child_done(g, fb);
	} else if (fb->is_top) {
		top_ended(fb);
	}
}

/* The state fails without a catcher's chance. */
static void state_failed(struct fiber *fb)
{
	jv_free(fb->f.pending);
	fb->f.pending = jv_invalid();
	jv_free(fb->eff);
	jv_free(fb->res);
	jv_free(fb->raw);
	fb->eff = fb->res = fb->raw = jv_invalid();
	fiber_end(fb, -1, jv_invalid());
}

/* The state exits with output O (consumed); on to the next one. */
static void state_exit(struct fiber *fb, jv o)
{
	struct frame *f = &fb->f;
	const struct asl_state *s = &fb->ss->v[fb->cur];
	commit_assign(f);
	/* AWS records no exit for a Parallel state that ends a branch of
	 * another Parallel state (the recorded nested-Parallel history) */
	if (!(s->type == T_PARALLEL && fb->next < 0 && fb->parent && !fb->parent->is_map))
		emit(f, exited_name[s->type], "stateExitedEventDetails",
		     history_on(f) ? details_io(s->name, "output", jv_copy(o)) : jv_invalid());
	jv_free(fb->raw);
	jv_free(fb->eff);
	fb->raw = fb->eff = jv_invalid();
	if (fb->next < 0) {
		fiber_end(fb, 0, o);
		return;
	}
	fb->raw = o;
	fb->cur = fb->next;
	fb->phase = PH_ENTER;
	struct exec *x = f->x;
	if ((x->deadline > 0 && now(x) > x->deadline) || (x->o->stopping && x->o->stopping())) {
		aerr_clear(&fb->e);
		if (x->deadline > 0 && x->now > x->deadline)
			fb->e.timed_out = 1;
		else
			fb->e.aborted = 1;
		state_failed(fb);
	}
}

static void step_enter(struct fiber *fb)
{
	struct frame *f = &fb->f;
	const struct asl_state *s = &fb->ss->v[fb->cur];
	struct aerr *e = &fb->e;
	f->state_name = s->name;
	f->entered = now(f->x);
	f->retry_count = s->type == T_TASK ? 0 : -1;
	f->entered_id = emit(f, entered_name[s->type], "stateEnteredEventDetails",
	                     history_on(f) ? details_io(s->name, "input", jv_copy(fb->raw)) : jv_invalid());
	fb->next = s->end ? -1 : s->next;
	memset(fb->counts, 0, sizeof fb->counts);
	switch (s->type) {
	case T_FAIL:
		fail_state(f, s, fb->raw, e);
		state_failed(fb);
		return;
	case T_CHOICE: {
		if (input_path(f, s, fb->raw, &fb->eff, e) < 0) {
			state_failed(fb);
			return;
		}
		struct intr_ctx c = { f, fb->eff };
		int chosen = -1;
		const struct choice_rule *rule = NULL;
		for (int i = 0; i < s->nchoices && chosen < 0; i++) {
			char *err = NULL;
			int v = asl_choice_eval(&s->choices[i], choice_resolve, &c, &err);
			if (v < 0) {
				runtime_err(f, e, "%s", err);
				free(err);
				state_failed(fb);
				return;
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
			state_failed(fb);
			return;
		}
		jv o;
		if (do_assign(f, s->t_assign, fb->eff, e) < 0 ||
		    (rule && do_assign(f, rule->t_assign, fb->eff, e) < 0) ||
		    output_path(f, s, jv_copy(fb->eff), &o, e) < 0) {
			state_failed(fb);
			return;
		}
		fb->next = chosen;
		state_exit(fb, o);
		return;
	}
	case T_WAIT:
	case T_SUCCEED: {
		if (input_path(f, s, fb->raw, &fb->eff, e) < 0) {
			state_failed(fb);
			return;
		}
		fb->phase = PH_WAITED;
		double secs = 0;
		if (s->type == T_WAIT) {
			if (wait_seconds(f, s, fb->eff, &secs, e) < 0) {
				state_failed(fb);
				return;
			}
			sleep_start(fb, secs);
		}
		return;
	}
	default:
		fb->phase = PH_ATTEMPT;
		return;
	}
}

static void step_waited(struct fiber *fb)
{
	struct frame *f = &fb->f;
	const struct asl_state *s = &fb->ss->v[fb->cur];
	jv o;
	if (do_assign(f, s->t_assign, fb->eff, &fb->e) < 0 ||
	    output_path(f, s, jv_copy(fb->eff), &o, &fb->e) < 0) {
		state_failed(fb);
		return;
	}
	if (s->type == T_SUCCEED)
		fb->next = -1;
	state_exit(fb, o);
}

/* One attempt of a Pass, Task, Parallel or Map state: InputPath,
 * Parameters, then the work, whose end brings the fiber to PH_RESULT. */
static void step_attempt(struct fiber *fb)
{
	struct frame *f = &fb->f;
	const struct asl_state *s = &fb->ss->v[fb->cur];
	if (input_path(f, s, fb->raw, &fb->eff, &fb->e) < 0) {
		state_failed(fb);
		return;
	}
	fb->in_bound = f->bound;
	if (s->t_parameters && s->type != T_MAP) {
		jv p;
		int rc = tmpl_eval(f, s->t_parameters, fb->eff, &p, &fb->e);
		jv_free(fb->eff);
		fb->eff = jv_invalid();
		if (rc < 0) {
			state_failed(fb);
			return;
		}
		fb->eff = p;
		fb->in_bound = size_bound(p, DATA_LIMIT);
	}
	fb->res_bound = 0;
	fb->res_is_input = 0;
	fb->res = jv_invalid();
	fb->phase = PH_RESULT;
	switch (s->type) {
	case T_PASS:
		fb->res = jv_is_valid(s->result) ? jv_copy(s->result) : jv_copy(fb->eff);
		fb->res_is_input = !jv_is_valid(s->result);
		fb->op_rc = 0;
		break;
	case T_TASK:
		task_start(fb, s);
		break;
	case T_PARALLEL:
		parallel_start(fb, s);
		break;
	default:
		map_start(fb, s);
		break;
	}
}

/* The work ended: ResultSelector, Assign, ResultPath, OutputPath and the
 * size limit; or the error's retriers and catchers. */
static void step_result(struct fiber *fb)
{
	struct frame *f = &fb->f;
	const struct asl_state *s = &fb->ss->v[fb->cur];
	struct aerr *e = &fb->e;
	if (fb->g)
		group_collect(fb);
	int rc = fb->op_rc;
	jv res = fb->res, o = jv_invalid();
	fb->res = jv_invalid();
	size_t out_bound = fb->in_bound;
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
		          : fb->res_is_input ? fb->in_bound
		          : fb->res_bound ? fb->res_bound : size_bound(res, DATA_LIMIT);
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
			                 &s->result_path, fb->raw, res, &o, e);
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
	jv_free(fb->eff);
	fb->eff = jv_invalid();
	if (rc == 0) {
		f->bound = out_bound;
		state_exit(fb, o);
		return;
	}
	jv_free(res);
	if (s->type == T_PASS) {
		state_failed(fb);
		return;
	}
	int h = handle_error(fb, s, &o);
	if (h != 1 && !e->timed_out && !e->runtime && !e->aborted &&
	    (s->type == T_MAP || s->type == T_PARALLEL))
		emit(f, s->type == T_MAP ? "MapStateFailed" : "ParallelStateFailed", NULL, jv_invalid());
	if (h == 1) {
		if (s->type == T_TASK)
			f->retry_count++;
		fb->phase = PH_ATTEMPT;
	} else if (h == 0) {
		f->bound = size_bound(o, DATA_LIMIT);
		state_exit(fb, o);
	} else {
		state_failed(fb);
	}
}

/* Run FB until it waits, ends or is cancelled. */
static void fiber_run(struct fiber *fb)
{
	while (!fb->finished && !fb->cancelled && fb->waiting == WF_NONE) {
		switch (fb->phase) {
		case PH_ENTER: step_enter(fb); break;
		case PH_ATTEMPT: step_attempt(fb); break;
		case PH_RESULT: step_result(fb); break;
		case PH_WAITED: step_waited(fb); break;
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

/* Wake the fibers of X whose timers are due. */
static void timers_fire(struct exec *x)
{
	while (x->nheap && x->heap[0]->wake <= x->now) {
		struct fiber *fb = x->heap[0];
		heap_remove(x, fb);
		make_ready(fb);
	}
}

/* The execution is over: its end event, its result, and the host hears. */
static void exec_report(struct exec *x, enum asl_status status)
{
	struct fiber *fb = x->top;
	const struct asl_options *o = x->o;
	struct asl_result *r = x->r;
	r->status = status;
	switch (status) {
	case ASL_SUCCEEDED:
		jv_free(r->output);
		r->output = jv_copy(fb->out);
		emit(&fb->f, "ExecutionSucceeded", "executionSucceededEventDetails",
		     o->history ? details_io(NULL, "output", jv_copy(fb->out)) : jv_invalid());
		break;
	case ASL_TIMED_OUT:
		emit(&fb->f, "ExecutionTimedOut", NULL, jv_invalid());
		break;
	case ASL_ABORTED:
		emit(&fb->f, "ExecutionAborted", NULL, jv_invalid());
		break;
	case ASL_FAILED:
		r->error = fb->e.error;
		r->cause = fb->e.cause;
		fb->e.error = fb->e.cause = NULL;
		emit(&fb->f, "ExecutionFailed", "executionFailedEventDetails",
		     o->history ? details_err(r->error, r->cause) : jv_invalid());
		break;
	}
	r->stop = now(x);
	x->reported = 1;
	if (x->done)
		x->done(x->done_arg, r);
}

/* The execution's own fiber ended. */
static void top_ended(struct fiber *fb)
{
	enum asl_status st = fb->rc == 0 ? ASL_SUCCEEDED : fb->e.timed_out ? ASL_TIMED_OUT
	                   : fb->e.aborted ? ASL_ABORTED : ASL_FAILED;
	exec_report(fb->f.x, st);
}

/* End X from the loop, all its fibers waiting: time out, abort, or fail
 * when nothing is left to run or wait for (a bug, not the user's doing). */
static void exec_stop(struct exec *x, enum asl_status status)
{
	fiber_cancel(x->top);
	if (status == ASL_FAILED)
		set_err(&x->top->e, "States.Runtime", "The execution stalled: nothing left to run or wait for");
	exec_report(x, status);
}

static void exec_free(struct exec *x)
{
	struct asl_loop *l = x->eng;
	if (x->prev)
		x->prev->next = x->next;
	else
		l->execs = x->next;
	if (x->next)
		x->next->prev = x->prev;
	l->nexecs--;
	fiber_release(x->top);
	free(x->heap);
	jv_free(x->scope.vars);
	jv_free(x->exec_ctx);
	jv_free(x->sm_ctx);
	free(x);
}

static void run_ready(struct asl_loop *l)
{
	struct fiber *fb;
	while ((fb = pop_ready(l))) {
		if (fb->cancelled) {
			graveyard(fb);
		} else {
			fb->waiting = WF_NONE;
			fiber_run(fb);
		}
		grave_drain(l);
	}
}

/* Move the clock of a virtual-time execution that waits only for its own
 * timers. 1 when one moved (or ended). */
static int virtual_jump(struct asl_loop *l)
{
	for (struct exec *x = l->execs; x; x = x->next) {
		if (x->reported || !x->o->virtual_time || x->tasks_out)
			continue;
		double next = x->nheap ? x->heap[0]->wake : INFINITY;
		if (x->deadline > 0 && next > x->deadline) {
			if (x->now < x->deadline)
				x->now = x->deadline;
			exec_stop(x, ASL_TIMED_OUT);
		} else if (isinf(next)) {
			exec_stop(x, ASL_FAILED);
		} else {
			if (next > x->now)
				x->now = next;
			timers_fire(x);
		}
		return 1;
	}
	return 0;
}

/* Nothing is ready: wait for the next real timer or deadline, for a task
 * to end, or for the host's own business (task_wait polls what it likes). */
static void idle_wait(struct asl_loop *l)
{
	double until = INFINITY;
	int waiting = 0;
	for (struct exec *x = l->execs; x; x = x->next) {
		if (x->reported || x->o->virtual_time)
			continue;
		waiting++;
		double t = x->nheap ? x->heap[0]->wake : INFINITY;
		if (x->deadline > 0 && x->deadline < t)
			t = x->deadline;
		if (t < until)
			until = t;
	}
	double left = isinf(until) ? INFINITY : until - wall_now();
	if (l->stopping && (isinf(left) || left > 0.2))
		left = 0.2;
	if (!isinf(left) && left > 3600)
		left = 3600;   /* a long wait is waited in hours: the loop comes back */
	if (l->tasks_out == 0 && isinf(left)) {
		for (struct exec *x = l->execs; x; x = x->next)
			if (!x->reported && !x->o->virtual_time)
				exec_stop(x, ASL_FAILED);
		return;
	}
	if (l->task_wait) {
		int ms = isinf(left) ? -1 : left <= 0 ? 0 : (int)ceil(left * 1000);
		l->task_wait(l->task_ctx, ms);
	} else if (!isinf(left) && left > 0) {
		struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) };
		nanosleep(&ts, NULL);
	}
	if (!waiting)
		return;
	double t = wall_now();
	for (struct exec *x = l->execs; x; x = x->next) {
		if (x->reported || x->o->virtual_time)
			continue;
		x->now = t;
		if (x->deadline > 0 && t >= x->deadline && (!x->nheap || x->heap[0]->wake > x->deadline))
			exec_stop(x, ASL_TIMED_OUT);
		else
			timers_fire(x);
	}
}

static void check_stopping(struct asl_loop *l)
{
	if (!l->stopping || !l->stopping())
		return;
	for (struct exec *x = l->execs; x; x = x->next)
		if (!x->reported)
			exec_stop(x, ASL_ABORTED);
}

/* Run everything that can run without waiting. */
static void run_all(struct asl_loop *l)
{
	do {
		check_stopping(l);
		run_ready(l);
	} while (virtual_jump(l));
	grave_drain(l);
	/* with nothing queued, executions that are over can go */
	for (struct exec *x = l->execs, *next; x; x = next) {
		next = x->next;
		if (x->reported && x->tasks_out == 0)
			exec_free(x);
	}
}

asl_loop *asl_loop_new(const struct asl_options *hooks)
{
	asl_loop *l = xcalloc(1, sizeof *l);
	l->task_wait = hooks->task_wait;
	l->task_ctx = hooks->task_ctx;
	l->stopping = hooks->stopping;
	return l;
}

int asl_loop_busy(const asl_loop *l)
{
	return l->nexecs;
}

void asl_loop_run(asl_loop *l, int block)
{
	run_all(l);
	if (!block || !l->nexecs)
		return;
	idle_wait(l);
	run_all(l);
}

void asl_loop_free(asl_loop *l)
{
	while (l->nexecs)
		asl_loop_run(l, 1);
	free(l);
}

void asl_start(asl_loop *l, const asl_machine *m, jv input, const struct asl_options *o,
               struct asl_result *r, asl_done_fn done, void *done_arg)
{
	memset(r, 0, sizeof *r);
	r->output = jv_null();
	r->history = o->history ? jv_array() : jv_null();
	struct exec *x = xcalloc(1, sizeof *x);
	x->eng = l;
	x->o = o;
	x->r = r;
	x->done = done;
	x->done_arg = done_arg;
	x->next = l->execs;
	if (l->execs)
		l->execs->prev = x;
	l->execs = x;
	l->nexecs++;
	x->now = o->start_time > 0 ? o->start_time : wall_now();
	r->start = x->now;
	if (m->top.timeout_seconds > 0)
		x->deadline = x->now + m->top.timeout_seconds;
	char ts[32];
	asl_format_time(x->now, ts);
	jv ec = jv_object();
	ec = jv_object_set(ec, jv_string("Id"), jv_string(o->exec_arn ? o->exec_arn : ""));
	ec = jv_object_set(ec, jv_string("Input"), jv_copy(input));
	ec = jv_object_set(ec, jv_string("StartTime"), jv_string(ts));
	ec = jv_object_set(ec, jv_string("Name"), jv_string(o->exec_name ? o->exec_name : ""));
	ec = jv_object_set(ec, jv_string("RoleArn"), jv_string(o->role_arn ? o->role_arn : ""));
	if (!o->sync_express)
		ec = jv_object_set(ec, jv_string("RedriveCount"), jv_number(0));
	x->exec_ctx = ec;
	jv sc = jv_object();
	sc = jv_object_set(sc, jv_string("Id"), jv_string(o->sm_arn ? o->sm_arn : ""));
	sc = jv_object_set(sc, jv_string("Name"), jv_string(o->sm_name ? o->sm_name : ""));
	x->sm_ctx = sc;
	x->scope.vars = jv_object();

	struct fiber *fb = fiber_new(x, &m->top);
	x->top = fb;
	fb->is_top = 1;
	fb->f.scope = &x->scope;
	/* the input line's length bounds its serialisation, give or take
	 * numbers written shorter than jq prints them ("1e16") */
	fb->f.bound = o->input_size ? o->input_size * 5 + 64 : size_bound(input, DATA_LIMIT);
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
	emit(&fb->f, "ExecutionStarted", "executionStartedEventDetails", sd);
	fb->raw = jv_copy(input);
	fiber_run(fb);
	grave_drain(l);
	/* most executions never wait: done already, they go at once */
	if (x->reported && !x->tasks_out && !l->ready)
		exec_free(x);
}

void asl_run(const asl_machine *m, jv input, const struct asl_options *o, struct asl_result *r)
{
	asl_loop *l = asl_loop_new(o);
	asl_start(l, m, input, o, r, NULL, NULL);
	asl_loop_free(l);
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
