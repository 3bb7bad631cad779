/*
 * sfn-run: Amazon States Language state machines, run locally the way AWS
 * Step Functions runs them. A thin client over asl.h: options, then each
 * input line's execution started on an event loop (asl_start), its Tasks
 * run as local functions without blocking (fn_start), its line printed in
 * input order.
 *
 *   sfn-run validate DEF
 *   sfn-run run DEF|NAME [-j N] [--virtual-time] [--history] [--output-only]
 *               [--events] [--record] [--fn NAME=CMD]...
 *   sfn-run graph DEF
 *   sfn-run create|update|list|describe|delete|list-executions|... (store.c)
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asl.h"
#include "cli.h"
#include "clock.h"
#include "fn.h"
#include "ids.h"
#include "json.h"
#include "jobs.h"
#include "ndjson.h"
#include "state.h"
#include "store.h"

enum { OPT_JOBS = 'j', OPT_VIRTUAL = 0x100, OPT_HISTORY, OPT_OUTPUT_ONLY, OPT_FN, OPT_NAME,
       OPT_S3_ROOT, OPT_TYPE, OPT_EVENTS };

static const struct cli_opt common_opts[] = {
	CLI_OPT_HELP,
	CLI_OPT_STATE,
	CLI_END,
};

static const struct cli_opt run_opts[] = {
	{ OPT_FN, "fn", 0, "NAME=CMD", "run CMD (words split at spaces, no shell) for the function NAME",
	  CC_NONE, NULL },
	{ OPT_EVENTS, "events", 0, NULL, "print each execution as EventBridge's Step Functions "
	  "Execution Status Change events (RUNNING, then how it ended)", CC_NONE, NULL },
	{ OPT_HISTORY, "history", 0, NULL, "add each execution's history events", CC_NONE, NULL },
	{ OPT_JOBS, "jobs", 'j', "N", "run up to N executions at once, on event loops in up to one "
	  "process per processor", CC_NONE, NULL },
	{ OPT_NAME, "name", 0, "PREFIX", "name executions PREFIX-LINE, by input line (default: UUIDs)",
	  CC_NONE, NULL },
	{ OPT_OUTPUT_ONLY, "output-only", 0, NULL, "print only each execution's output", CC_NONE, NULL },
	{ OPT_RECORD, "record", 0, NULL, "record the executions of DEF in the state file (a stored "
	  "machine's always are)", CC_NONE, NULL },
	CLI_OPT_REJECTS,
	{ OPT_S3_ROOT, "s3-root", 0, "DIR",
	  "a Map's ItemReader reads S3 bucket B, key K from DIR/B/K (default .)", CC_FILE, NULL },
	CLI_OPT_STRICT,
	{ OPT_VIRTUAL, "virtual-time", 0, NULL,
	  "Wait states, retries and timeouts move a virtual clock instead of sleeping", CC_NONE, NULL },
	CLI_END,
};

static const struct cli_opt no_opts[] = { CLI_END };

static const struct cli_opt validate_opts[] = {
	{ OPT_TYPE, "type", 0, "TYPE", "the state machine's type: STANDARD (default) or EXPRESS",
	  CC_WORDS, "STANDARD|EXPRESS" },
	CLI_END,
};

#define SM1 { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }
static const struct cli_cmd commands[] = {
	{ "create", "NAME DEF", "store a state machine", store_create_opts,
	  { CC_NONE, CC_FILE, CC_NONE, CC_NONE }, NULL },
	{ "delete", "NAME", "delete a stored state machine and its executions", store_no_opts, SM1,
	  store_complete_names },
	{ "describe", "NAME", "print a stored state machine as DescribeStateMachine does",
	  store_no_opts, SM1, store_complete_names },
	{ "describe-execution", "ARN|NAME:EXEC", "print a recorded execution as run printed it",
	  store_no_opts, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ "get-execution-history", "ARN|NAME:EXEC",
	  "print a recorded execution's history events, one JSON line each", store_history_opts,
	  { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ "graph", "DEF", "print the state machine as Graphviz DOT", no_opts,
	  { CC_FILE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ "list", "", "print every stored state machine, one JSON line each", store_no_opts,
	  { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ "list-executions", "[NAME]", "print recorded executions, newest first, one JSON line each",
	  store_list_exec_opts, SM1, store_complete_names },
	{ "run", "DEF|NAME", "run one execution per JSON line of stdin; one result line each",
	  run_opts, SM1, store_complete_run },
	{ "update", "NAME [DEF]", "change a stored state machine's definition or role",
	  store_update_opts, { CC_DYNAMIC, CC_FILE, CC_NONE, CC_NONE }, store_complete_names },
	{ "validate", "DEF", "check a definition as ValidateStateMachineDefinition does", validate_opts,
	  { CC_FILE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ NULL, NULL, NULL, NULL, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
};

static const struct cli_prog prog = {
	"sfn-run", "Amazon States Language state machines, run locally like AWS Step Functions.",
	common_opts, commands,
	"Exit status: 0 success (valid definition, every execution succeeded); 1 an\n"
	"execution failed or timed out; 2 usage error or invalid definition; 3 input\n"
	"lines rejected; 4 the state file cannot be used; 75 the state file is busy,\n"
	"try again. describe, delete, update, list-executions, describe-execution and\n"
	"get-execution-history exit 1 when there is no such machine or execution.\n",
};

static const char *state_opt;

/* Read the definition file DEF; exits 2 when it cannot be read or parsed. */
static jv read_definition(const char *path, int allow_bad_json)
{
	struct buf b = BUF_INIT, why = BUF_INIT;
	if (buf_read_file(&b, path) < 0)
		dief(EK_USAGE, "%s: %s", path, strerror(errno));
	jv def = jx_parse(b.s ? b.s : "", b.len, &why);
	buf_free(&b);
	if (!jv_is_valid(def) && !allow_bad_json)
		dief(EK_USAGE, "%s: %s", path, buf_str(&why));
	buf_free(&why);
	return def;
}

static int one_operand(const struct cli_cmd *cmd, int argc, char **argv,
                       void (*handle)(int, const char *, void *), void *ctx)
{
	int c;
	while ((c = cli_getopt(&prog, cmd, argc, argv)) != -1) {
		if (c == OPT_STATE)
			state_opt = cli_optarg;
		else if (handle)
			handle(c, cli_optarg, ctx);
	}
	if (argc - cli_optind != 1)
		cli_usage_error(&prog, cmd, "one definition file DEF is needed");
	return cli_optind;
}

/* ---- validate --------------------------------------------------------- */

static void validate_opt(int id, const char *arg, void *p)
{
	const char **type = p;
	if (id == OPT_TYPE) {
		if (strcmp(arg, "STANDARD") && strcmp(arg, "EXPRESS"))
			dief(EK_USAGE, "--type: '%s' is not STANDARD or EXPRESS", arg);
		*type = arg;
	}
}

static int cmd_validate(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *type = "STANDARD";
	int i = one_operand(cmd, argc, argv, validate_opt, &type);
	jv def = read_definition(argv[i], 1);
	jv r;
	if (!jv_is_valid(def)) {
		jv_free(def);
		jv d = jv_object();
		d = jv_object_set(d, jv_string("severity"), jv_string("ERROR"));
		d = jv_object_set(d, jv_string("code"), jv_string("INVALID_JSON_DESCRIPTION"));
		d = jv_object_set(d, jv_string("message"), jv_string("Definition is not valid JSON"));
		r = jv_object_set(jv_object(), jv_string("result"), jv_string("FAIL"));
		r = jv_object_set(r, jv_string("diagnostics"), jv_array_append(jv_array(), d));
		r = jv_object_set(r, jv_string("truncated"), jv_false());
	} else {
		r = asl_validate_type(def, type);
	}
	jv res = jv_object_get(jv_copy(r), jv_string("result"));
	int ok = !strcmp(jv_string_value(res), "OK");
	jv_free(res);
	nd_write_jv(r);
	jv_free(r);
	return ok ? EK_OK : EK_USAGE;
}

/* ---- run --------------------------------------------------------------- */

struct fn_entry {
	char *name;
	struct fn f;
};

struct run_ctx {
	int virtual_time, history, output_only, events;
	long jobs;
	const char *name_prefix;
	const char *s3_root;
	struct fn_entry *fns;
	int nfns;
	struct nd_rejects rejects;
	struct fn_invoker *inv;
	struct state *st;
	int st_opened;
	struct pollfd *pfds;
	int npfds;
	int watch_fd;            /* input to wake for while waiting, or -1 */
	struct run_record rec;
};

static void run_opt(int id, const char *arg, void *p)
{
	struct run_ctx *c = p;
	switch (id) {
	case OPT_VIRTUAL: c->virtual_time = 1; break;
	case OPT_HISTORY: c->history = 1; break;
	case OPT_OUTPUT_ONLY: c->output_only = 1; break;
	case OPT_EVENTS: c->events = 1; break;
	case OPT_RECORD: c->rec.on = 1; break;
	case OPT_JOBS: c->jobs = cli_int("--jobs", arg, 1, 1024); break;
	case OPT_NAME: c->name_prefix = arg; break;
	case OPT_S3_ROOT: c->s3_root = arg; break;
	case OPT_REJECTS: c->rejects.path = arg; break;
	case OPT_STRICT: c->rejects.strict = 1; break;
	case OPT_FN: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg || !eq[1])
			dief(EK_USAGE, "--fn: '%s' is not NAME=CMD", arg);
		struct fn_entry e;
		memset(&e, 0, sizeof e);
		e.name = xstrndup(arg, (size_t)(eq - arg));
		e.f.name = xstrdup(e.name);
		/* words split at spaces: a command, never a shell string */
		char *cmd = xstrdup(eq + 1), *save = NULL;
		size_t n = 0;
		for (char *w = strtok_r(cmd, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			e.f.argv = xrealloc(e.f.argv, (n + 2) * sizeof *e.f.argv);
			e.f.argv[n++] = xstrdup(w);
			e.f.argv[n] = NULL;
		}
		free(cmd);
		if (!n)
			dief(EK_USAGE, "--fn: '%s' has no command", arg);
		e.f.env = xcalloc(1, sizeof *e.f.env);
		e.f.timeout_ms = FN_DEFAULT_TIMEOUT_MS;
		e.f.mode = FN_SPAWN;
		c->fns = xrealloc(c->fns, (size_t)(c->nfns + 1) * sizeof *c->fns);
		c->fns[c->nfns++] = e;
		break;
	}
	}
}

/* "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]" -> NAME. */
static char *function_name(const char *resource)
{
	const char *p = strstr(resource, ":function:");
	if (!p)
		return xstrdup(resource);
	p += 10;
	const char *e = strchr(p, ':');
	return e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
}

/* ---- Tasks: local functions, run without blocking the engine ---------- */

/* The function for RESOURCE: a --fn command first, else the state file's
 * (then in *stored, which the caller frees). NULL when there is none. */
static struct fn *find_function(struct run_ctx *c, const char *name, struct fn *stored)
{
	for (int i = 0; i < c->nfns; i++)
		if (!strcmp(c->fns[i].name, name))
			return &c->fns[i].f;
	if (!c->st_opened) {
		c->st_opened = 1;
		if (state_open(state_opt, 0, &c->st) != EK_OK)
			c->st = NULL;
	}
	if (c->st && fn_get(c->st, name, stored) == EK_OK)
		return stored;
	return NULL;
}

/* A Task's function call, on the list of those running. */
struct task_call {
	struct asl_task *t;
	double timeout_s;
	struct task_call *prev, *next;
};

static struct task_call *calls;   /* the function calls running */

static void call_unlink(struct task_call *tc)
{
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		calls = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
}

/* A function's answer becomes the Task's result; its error object's
 * errorType the Task's error, the object itself the cause. */
static void task_done(void *arg, int status, const char *text, size_t len)
{
	struct task_call *tc = arg;
	call_unlink(tc);
	jv v = jx_parse(len ? text : "null", len ? len : 4, NULL);
	if (status == FN_OK) {
		if (jv_is_valid(v))
			asl_task_succeed(tc->t, v);
		else {
			jv_free(v);
			asl_task_fail(tc->t, "States.TaskFailed", "the function's answer is not JSON");
		}
		free(tc);
		return;
	}
	jv et = jv_get_kind(v) == JV_KIND_OBJECT ? jv_object_get(jv_copy(v), jv_string("errorType"))
	                                         : jv_invalid();
	const char *error = jv_get_kind(et) == JV_KIND_STRING ? jv_string_value(et) : "States.TaskFailed";
	if (!strcmp(error, "Sandbox.Timedout") && tc->timeout_s > 0)
		error = "States.Timeout";
	char *cause = xstrndup(text, len);
	asl_task_fail(tc->t, error, cause);
	free(cause);
	jv_free(et);
	jv_free(v);
	free(tc);
}

static void task_start(void *vctx, struct asl_task *t, const char *resource, jv input,
                       double timeout_s)
{
	struct run_ctx *c = vctx;
	char *name = function_name(resource);
	struct fn stored;
	memset(&stored, 0, sizeof stored);
	struct fn *f = find_function(c, name, &stored);
	if (!f) {
		jv_free(input);
		struct buf b = BUF_INIT;
		buf_printf(&b, "Function not found: %s (give it with --fn %s=CMD or fnctl create)",
		           name, name);
		asl_task_fail(t, "Lambda.ResourceNotFoundException", buf_str(&b));
		buf_free(&b);
		free(name);
		return;
	}
	free(name);
	int64_t saved = f->timeout_ms;
	if (timeout_s > 0)
		f->timeout_ms = (int64_t)(timeout_s * 1000);
	struct buf text = BUF_INIT;
	asl_json_dump(input, &text);
	jv_free(input);
	struct task_call *tc = xcalloc(1, sizeof *tc);
	tc->t = t;
	tc->timeout_s = timeout_s;
	tc->next = calls;
	if (calls)
		calls->prev = tc;
	calls = tc;
	fn_start(c->inv, f, text.s ? text.s : "null", text.s ? text.len : 4, task_done, tc);
	buf_free(&text);
	f->timeout_ms = saved;
	if (f == &stored)
		fn_free(&stored);
}

/* A Task's branch was stopped: its function too. */
static void task_cancel(void *vctx, struct asl_task *t)
{
	struct run_ctx *c = vctx;
	for (struct task_call *tc = calls; tc; tc = tc->next)
		if (tc->t == t)
			fn_cancel(c->inv, tc);
}

/* The engine has nothing to do until a function answers: wait for that,
 * at most TIMEOUT_MS (-1: no limit). */
static void task_wait(void *vctx, int timeout_ms)
{
	struct run_ctx *c = vctx;
	int max = fn_pollfds_max(c->inv) + 1;
	if (max > c->npfds) {
		c->npfds = max;
		c->pfds = xrealloc(c->pfds, (size_t)max * sizeof *c->pfds);
	}
	int t = timeout_ms;
	int n = fn_pollfds(c->inv, c->pfds, max - 1, &t);
	if (c->watch_fd >= 0) {
		c->pfds[n].fd = c->watch_fd;
		c->pfds[n].events = POLLIN;
		c->pfds[n].revents = 0;
		n++;
	}
	if (poll(c->pfds, (nfds_t)n, t) < 0 && errno != EINTR)
		dief(EK_FAIL, "poll: %s", strerror(errno));
	fn_dispatch(c->inv, c->pfds, n);
}

static jv describe(const struct asl_result *r, const char *arn, const char *name,
                   const char *sm_arn, jv input)
{
	char t[32];
	jv d = jv_object();
	d = jv_object_set(d, jv_string("executionArn"), jv_string(arn));
	d = jv_object_set(d, jv_string("stateMachineArn"), jv_string(sm_arn));
	d = jv_object_set(d, jv_string("name"), jv_string(name));
	d = jv_object_set(d, jv_string("status"), jv_string(asl_status_name(r->status)));
	asl_format_time(r->start, t);
	d = jv_object_set(d, jv_string("startDate"), jv_string(t));
	asl_format_time(r->stop, t);
	d = jv_object_set(d, jv_string("stopDate"), jv_string(t));
	d = jv_object_set(d, jv_string("input"), input);
	if (r->status == ASL_SUCCEEDED)
		d = jv_object_set(d, jv_string("output"), jv_copy(r->output));
	if (r->status == ASL_FAILED) {
		if (r->error)
			d = jv_object_set(d, jv_string("error"), jv_string(r->error));
		if (r->cause)
			d = jv_object_set(d, jv_string("cause"), jv_string(r->cause));
	}
	if (jv_get_kind(r->history) == JV_KIND_ARRAY)
		d = jv_object_set(d, jv_string("events"), jv_copy(r->history));
	return d;
}

/* The state machine's name: the file name without folders and ".json". */
static char *machine_name(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *dot = strstr(b, ".asl.json");
	if (!dot)
		dot = strstr(b, ".json");
	char *n = dot ? xstrndup(b, (size_t)(dot - b)) : xstrdup(b);
	for (char *p = n; *p; p++)
		if (!(*p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			*p = '_';
	if (!*n) {
		free(n);
		n = xstrdup("state-machine");
	}
	return n;
}

struct runner {
	struct run_ctx *c;
	asl_machine *m;
	char *sm_name;
	struct buf sm_arn;
	int jobs, workers;       /* -j N, shared among this many workers */
};

/* One input line's execution, from its start to its printed line. */
struct slot {
	struct runner *rn;
	long lineno;
	int done, rc;
	struct buf out;          /* the line to print, without its newline */
	char name[96];
	struct buf arn;
	jv input;
	struct asl_options o;
	struct asl_result r;
};

static void slot_free(struct slot *sl)
{
	buf_free(&sl->out);
	buf_free(&sl->arn);
	free(sl);
}

/* An execution as EventBridge's "Step Functions Execution Status Change"
 * event: RUNNING (ended 0) or how it ended, at the time it did. */
static jv status_event(const struct asl_result *r, const char *arn, const char *name,
                       const char *sm_arn, jv input, int ended)
{
	jv d = jv_object();
	d = jv_object_set(d, jv_string("executionArn"), jv_string(arn));
	d = jv_object_set(d, jv_string("stateMachineArn"), jv_string(sm_arn));
	d = jv_object_set(d, jv_string("name"), jv_string(name));
	d = jv_object_set(d, jv_string("status"),
	                  jv_string(ended ? asl_status_name(r->status) : "RUNNING"));
	int64_t start = (int64_t)llround(r->start * 1000), stop = (int64_t)llround(r->stop * 1000);
	d = jv_object_set(d, jv_string("startDate"), jv_number((double)start));
	d = jv_object_set(d, jv_string("stopDate"), ended ? jv_number((double)stop) : jv_null());
	struct buf t = BUF_INIT;
	asl_json_dump(input, &t);
	d = jv_object_set(d, jv_string("input"), jv_string(buf_str(&t)));
	d = jv_object_set(d, jv_string("inputDetails"),
	                  jv_object_set(jv_object(), jv_string("included"), jv_true()));
	if (ended && r->status == ASL_SUCCEEDED) {
		buf_reset(&t);
		asl_json_dump(r->output, &t);
		d = jv_object_set(d, jv_string("output"), jv_string(buf_str(&t)));
		d = jv_object_set(d, jv_string("outputDetails"),
		                  jv_object_set(jv_object(), jv_string("included"), jv_true()));
	} else {
		d = jv_object_set(d, jv_string("output"), jv_null());
	}
	buf_free(&t);
	d = jv_object_set(d, jv_string("error"), ended && r->error ? jv_string(r->error) : jv_null());
	d = jv_object_set(d, jv_string("cause"), ended && r->cause ? jv_string(r->cause) : jv_null());
	jv ev = ids_event("aws.states", "Step Functions Execution Status Change", d,
	                  jv_array_append(jv_array(), jv_string(arn)));
	char when[40];
	clock_format(ended ? stop : start, 0, when, sizeof when);
	return jv_object_set(ev, jv_string("time"), jv_string(when));
}

/* The execution ended: make its line. */
static void slot_done(void *arg, struct asl_result *r)
{
	struct slot *sl = arg;
	struct run_ctx *c = sl->rn->c;
	sl->rc = r->status == ASL_SUCCEEDED ? JOB_OK : JOB_FAILED;
	if (c->rec.on && run_record(&c->rec, r, sl->name, buf_str(&sl->arn), sl->rn->sm_name,
	                            buf_str(&sl->rn->sm_arn), sl->input, c->history))
		sl->rc = JOB_FAILED;
	if (c->events) {
		for (int ended = 0; ended < 2; ended++) {
			jv ev = status_event(r, buf_str(&sl->arn), sl->name, buf_str(&sl->rn->sm_arn),
			                     sl->input, ended);
			if (ended)
				buf_addc(&sl->out, '\n');
			asl_json_dump(ev, &sl->out);
			jv_free(ev);
		}
		jv_free(sl->input);
	} else if (c->output_only) {
		if (r->status == ASL_SUCCEEDED) {
			asl_json_dump(r->output, &sl->out);
		} else {
			warnf("%s: %s%s%s%s%s", sl->name, asl_status_name(r->status),
			      r->error ? ": " : "", r->error ? r->error : "",
			      r->cause ? ": " : "", r->cause ? r->cause : "");
		}
		jv_free(sl->input);
	} else {
		jv d = describe(r, buf_str(&sl->arn), sl->name, buf_str(&sl->rn->sm_arn), sl->input);
		asl_json_dump(d, &sl->out);
		jv_free(d);
	}
	sl->input = jv_invalid();
	asl_result_free(r);
	sl->done = 1;
}

/* Start the execution of one input line on loop L. Executions are named
 * by input line, so names do not depend on how lines are shared among
 * workers. The slot is done at once when the line is rejected. */
static struct slot *slot_start(struct runner *rn, asl_loop *l, const char *raw, size_t len,
                               long lineno)
{
	struct run_ctx *c = rn->c;
	struct slot *sl = xcalloc(1, sizeof *sl);
	sl->rn = rn;
	sl->lineno = lineno;
	struct nd_line line = { raw, len, lineno, "stdin" };
	struct buf why = BUF_INIT;
	jv input = nd_parse(&line, &why);
	if (!jv_is_valid(input)) {
		jv_free(input);
		nd_reject(&c->rejects, &line, buf_str(&why));
		buf_free(&why);
		sl->rc = JOB_REJECTED;
		sl->done = 1;
		return sl;
	}
	buf_free(&why);
	if (c->name_prefix)
		snprintf(sl->name, sizeof sl->name, "%.60s-%ld", c->name_prefix, lineno);
	else
		ids_uuid(sl->name);
	/* an Express execution runs as StartSyncExecution runs it, and has
	 * an ARN of its own shape */
	struct buf res = BUF_INIT;
	if (c->rec.express) {
		char id[40];
		ids_uuid(id);
		buf_printf(&res, "express:%s:%s:%s", rn->sm_name, sl->name, id);
	} else {
		buf_printf(&res, "execution:%s:%s", rn->sm_name, sl->name);
	}
	ids_arn(&sl->arn, "states", buf_str(&res));
	buf_free(&res);
	struct asl_options *o = &sl->o;
	o->sync_express = c->rec.express;
	o->exec_name = sl->name;
	o->exec_arn = buf_str(&sl->arn);
	o->sm_name = rn->sm_name;
	o->sm_arn = buf_str(&rn->sm_arn);
	o->virtual_time = c->virtual_time;
	/* a virtual clock starts at EVKIT_NOW when that is set */
	if (c->virtual_time && clock_is_virtual())
		o->start_time = (double)clock_now_ms() / 1000.0;
	o->history = c->history || c->rec.on;
	o->role_arn = c->rec.role_arn;
	o->task_start = task_start;
	o->task_wait = task_wait;
	o->task_cancel = task_cancel;
	o->task_ctx = c;
	o->s3_root = c->s3_root;
	o->input_size = len;
	o->stopping = cli_stopping;
	if (c->rec.on && run_record_exists(&c->rec, buf_str(&sl->arn), sl->name, lineno)) {
		jv_free(input);
		sl->rc = JOB_FAILED;
		sl->done = 1;
		return sl;
	}
	sl->input = input;
	asl_start(l, rn->m, input, o, &sl->r, slot_done, sl);
	return sl;
}

static int readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) > 0;
}

/*
 * Run the executions of the lines read from IN, up to K at once on one
 * event loop, and answer them in input order: printed on stdout when OUT
 * is -1, else as jobs.h records on OUT (a worker, whose lines are
 * records). Sets *failed when an execution failed.
 */
static void run_stream(struct runner *rn, int in, int out, int k, int *failed)
{
	struct run_ctx *c = rn->c;
	struct nd_reader *rd = nd_fdopen(in, "stdin");
	if (!rd)
		dief(EK_FAIL, "stdin: %s", strerror(errno));
	struct asl_options hooks;
	memset(&hooks, 0, sizeof hooks);
	hooks.task_wait = task_wait;
	hooks.task_ctx = c;
	hooks.stopping = cli_stopping;
	asl_loop *l = asl_loop_new(&hooks);
	struct slot **q = xcalloc((size_t)k, sizeof *q);
	int head = 0, count = 0, eof = 0, stop = 0;
	struct buf ans = BUF_INIT;
	for (;;) {
		/* start what may start without waiting for input */
		while (!eof && !stop && count < k) {
			if (count > 0 && !nd_ready(rd) && !readable(in))
				break;
			struct nd_line line;
			if (cli_stopping() || nd_next(rd, &line) <= 0) {
				eof = 1;
				break;
			}
			long lineno = line.lineno;
			const char *raw = line.raw;
			size_t len = line.len;
			if (out >= 0 && jobs_record(line.raw, line.len, &lineno, &raw, &len) < 0)
				continue;
			struct slot *sl = slot_start(rn, l, raw, len, lineno);
			q[(head + count++) % k] = sl;
			if (sl->rc == JOB_REJECTED && c->rejects.strict && out < 0)
				stop = 1;
		}
		/* answer what is done, in order */
		while (count && q[head]->done) {
			struct slot *sl = q[head];
			if (out >= 0) {
				jobs_answer(&ans, sl->rc, sl->out.s, sl->out.len);
			} else if (sl->out.len) {
				nd_write(sl->out.s, sl->out.len);
			}
			if (sl->rc == JOB_FAILED)
				*failed = 1;
			slot_free(sl);
			head = (head + 1) % k;
			count--;
		}
		if (ans.len) {
			fflush(stderr);
			jobs_write(out, ans.s, ans.len);
			buf_reset(&ans);
		}
		if (!count && (eof || stop))
			break;
		if (!count) {
			if (!nd_ready(rd))
				run_record_idle(&c->rec);   /* before waiting for input */
			continue;
		}
		/* wait for time to pass, a function to answer, or more input */
		c->watch_fd = !eof && !stop && count < k ? in : -1;
		run_record_idle(&c->rec);
		nd_flush();
		asl_loop_run(l, 1);
		c->watch_fd = -1;
	}
	asl_loop_free(l);
	free(q);
	buf_free(&ans);
	nd_close(rd);
}

/* A -j worker: its share of the executions at once. */
static void run_worker(void *ctx, int index, int in, int out)
{
	struct runner *rn = ctx;
	int failed = 0;
	/* N shared out exactly: the first N % W workers run one more */
	int k = rn->jobs / rn->workers + (index < rn->jobs % rn->workers);
	run_stream(rn, in, out, k, &failed);
}

static int cmd_run(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct run_ctx c;
	memset(&c, 0, sizeof c);
	c.jobs = 1;
	c.watch_fd = -1;
	int i = one_operand(cmd, argc, argv, run_opt, &c);
	if (c.events && (c.output_only || c.history))
		dief(EK_USAGE, "--events prints events: it goes with neither --output-only nor --history");
	jv def;
	if (!run_resolve(&c.rec, state_opt, argv[i], c.name_prefix, c.jobs, &def))
		def = read_definition(argv[i], 0);
	char *err = NULL;
	struct runner rn;
	memset(&rn, 0, sizeof rn);
	rn.c = &c;
	rn.m = asl_load(def, &err);
	jv_free(def);
	if (!rn.m) {
		warnf("%s: invalid definition: %s", argv[i], err ? err : "?");
		free(err);
		return EK_USAGE;
	}
	c.inv = fn_invoker_new();
	rn.sm_name = c.rec.sm_name ? xstrdup(c.rec.sm_name) : machine_name(argv[i]);
	struct buf res = BUF_INIT;
	buf_printf(&res, "stateMachine:%s", rn.sm_name);
	ids_arn(&rn.sm_arn, "states", buf_str(&res));
	buf_free(&res);

	/* -j N: N executions at once, on one event loop per processor */
	int failed = 0;
	long rejected = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int workers = (int)(cpus > 1 && cpus < c.jobs ? cpus : c.jobs);
	if (workers > 1) {
		rn.jobs = (int)c.jobs;
		rn.workers = workers;
		int per = (rn.jobs + workers - 1) / workers;
		if (jobs_run(workers, 2 * per + 4, run_worker, &rn, c.rejects.strict,
		             &failed, &rejected) < 0)
			failed = 1;
	} else {
		run_stream(&rn, 0, -1, (int)c.jobs, &failed);
		rejected = c.rejects.count;
	}
	nd_rejects_close(&c.rejects);
	asl_free(rn.m);
	fn_invoker_free(c.inv);
	free(c.pfds);
	if (c.st)
		state_close(c.st);
	for (int k = 0; k < c.nfns; k++) {
		free(c.fns[k].name);
		fn_free(&c.fns[k].f);
	}
	free(c.fns);
	free(rn.sm_name);
	buf_free(&rn.sm_arn);
	int recorded = run_record_finish(&c.rec);
	if (recorded)
		return recorded;
	if (rejected)
		return EK_REJECTED;
	return failed ? EK_FAIL : EK_OK;
}

/* ---- graph ------------------------------------------------------------- */

static void dot_id(const char *prefix, const char *name)
{
	printf("\"%s", prefix);
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar(*p);
	}
	putchar('"');
}

static int cluster_n;

static void dot_states(jv sm, const char *prefix)
{
	jv states = jv_object_get(jv_copy(sm), jv_string("States"));
	jv start = jv_object_get(jv_copy(sm), jv_string("StartAt"));
	if (jv_get_kind(states) != JV_KIND_OBJECT) {
		jv_free(states);
		jv_free(start);
		return;
	}
	if (jv_get_kind(start) == JV_KIND_STRING) {
		printf("  ");
		dot_id(prefix, "(start)");
		printf(" [shape=point];\n  ");
		dot_id(prefix, "(start)");
		printf(" -> ");
		dot_id(prefix, jv_string_value(start));
		printf(";\n");
	}
	jv_object_foreach(states, key, st) {
		const char *name = jv_string_value(key);
		jv ty = jv_get_kind(st) == JV_KIND_OBJECT ? jv_object_get(jv_copy(st), jv_string("Type"))
		                                          : jv_invalid();
		const char *t = jv_get_kind(ty) == JV_KIND_STRING ? jv_string_value(ty) : "?";
		printf("  ");
		dot_id(prefix, name);
		printf(" [label=");
		dot_id("", name);
		printf(", xlabel=\"%s\", shape=%s];\n", t,
		       !strcmp(t, "Choice") ? "diamond" : !strcmp(t, "Succeed") || !strcmp(t, "Fail")
		       ? "doubleoctagon" : "box");
		if (jv_get_kind(st) != JV_KIND_OBJECT) {
			jv_free(ty);
			jv_free(key);
			jv_free(st);
			continue;
		}
		jv nx = jv_object_get(jv_copy(st), jv_string("Next"));
		if (jv_get_kind(nx) == JV_KIND_STRING) {
			printf("  ");
			dot_id(prefix, name);
			printf(" -> ");
			dot_id(prefix, jv_string_value(nx));
			printf(";\n");
		}
		jv_free(nx);
		jv dflt = jv_object_get(jv_copy(st), jv_string("Default"));
		if (jv_get_kind(dflt) == JV_KIND_STRING) {
			printf("  ");
			dot_id(prefix, name);
			printf(" -> ");
			dot_id(prefix, jv_string_value(dflt));
			printf(" [label=\"Default\"];\n");
		}
		jv_free(dflt);
		const char *lists[] = { "Choices", "Catch" };
		for (int l = 0; l < 2; l++) {
			jv arr = jv_object_get(jv_copy(st), jv_string(lists[l]));
			if (jv_get_kind(arr) == JV_KIND_ARRAY) {
				jv_array_foreach(arr, k, r) {
					(void)k;
					jv rn = jv_get_kind(r) == JV_KIND_OBJECT
					      ? jv_object_get(jv_copy(r), jv_string("Next")) : jv_invalid();
					if (jv_get_kind(rn) == JV_KIND_STRING) {
						printf("  ");
						dot_id(prefix, name);
						printf(" -> ");
						dot_id(prefix, jv_string_value(rn));
						printf(l ? " [style=dashed, label=\"Catch\"];\n" : ";\n");
					}
					jv_free(rn);
					jv_free(r);
				}
			}
			jv_free(arr);
		}
		/* Parallel branches and Map processors as clusters */
		jv subs = jv_array();
		jv br = jv_object_get(jv_copy(st), jv_string("Branches"));
		if (jv_get_kind(br) == JV_KIND_ARRAY)
			subs = jv_array_concat(subs, jv_copy(br));
		jv_free(br);
		const char *procs[] = { "ItemProcessor", "Iterator" };
		for (int p = 0; p < 2; p++) {
			jv ip = jv_object_get(jv_copy(st), jv_string(procs[p]));
			if (jv_get_kind(ip) == JV_KIND_OBJECT)
				subs = jv_array_append(subs, ip);
			else
				jv_free(ip);
		}
		jv_array_foreach(subs, k, sub) {
			struct buf pfx = BUF_INIT;
			buf_printf(&pfx, "%s%s/%d/", prefix, name, k);
			printf("  subgraph cluster_%d {\n  label=\"%s\";\n", ++cluster_n, name);
			dot_states(sub, buf_str(&pfx));
			printf("  }\n");
			jv sst = jv_object_get(jv_copy(sub), jv_string("StartAt"));
			if (jv_get_kind(sst) == JV_KIND_STRING) {
				printf("  ");
				dot_id(prefix, name);
				printf(" -> ");
				dot_id(buf_str(&pfx), "(start)");
				printf(" [style=dotted];\n");
			}
			jv_free(sst);
			buf_free(&pfx);
			jv_free(sub);
		}
		jv_free(subs);
		jv_free(ty);
		jv_free(key);
		jv_free(st);
	}
	jv_free(states);
	jv_free(start);
}

static int cmd_graph(const struct cli_cmd *cmd, int argc, char **argv)
{
	int i = one_operand(cmd, argc, argv, NULL, NULL);
	jv def = read_definition(argv[i], 0);
	jv v = asl_validate(jv_copy(def));
	jv res = jv_object_get(v, jv_string("result"));
	int ok = !strcmp(jv_string_value(res), "OK");
	jv_free(res);
	if (!ok) {
		jv_free(def);
		warnf("%s: invalid definition (see sfn-run validate)", argv[i]);
		return EK_USAGE;
	}
	printf("digraph state_machine {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
	dot_states(def, "");
	printf("}\n");
	jv_free(def);
	return EK_OK;
}

int main(int argc, char **argv)
{
	cli_init(&prog, argc, argv);
	const struct cli_cmd *cmd = cli_command(&prog, argc, argv);
	int rc;
	argc--;  /* cli_command moved the command word to the end */
	if (!strcmp(cmd->name, "validate"))
		rc = cmd_validate(cmd, argc, argv);
	else if (!strcmp(cmd->name, "run"))
		rc = cmd_run(cmd, argc, argv);
	else if (!strcmp(cmd->name, "graph"))
		rc = cmd_graph(cmd, argc, argv);
	else
		rc = store_command(&prog, cmd, argc, argv);
	return cli_exit(rc);
}
