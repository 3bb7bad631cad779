/*
 * store.c: sfn-run's state machines and recorded executions: the
 * commands over sfn_store.h, and the recording of `run`'s executions.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "ids.h"
#include "json.h"
#include "ndjson.h"
#include "state.h"
#include "store.h"

const struct cli_opt store_create_opts[] = {
	{ SOPT_REPLACE, "replace", 0, NULL, "replace a state machine of the same name", CC_NONE, NULL },
	{ SOPT_ROLE_ARN, "role-arn", 0, "ARN", "the role ($$.Execution.RoleArn; default "
	  "arn:aws:iam::ACCOUNT:role/sfn-run)", CC_NONE, NULL },
	{ SOPT_TYPE, "type", 0, "TYPE", "STANDARD (default) or EXPRESS", CC_WORDS, "STANDARD|EXPRESS" },
	CLI_END,
};

const struct cli_opt store_update_opts[] = {
	{ SOPT_ROLE_ARN, "role-arn", 0, "ARN", "change the role", CC_NONE, NULL },
	CLI_END,
};

const struct cli_opt store_list_exec_opts[] = {
	{ SOPT_MAX, "max", 0, "N", "print at most N executions", CC_NONE, NULL },
	{ SOPT_STATUS, "status", 0, "STATUS", "only executions of this status", CC_WORDS,
	  "SUCCEEDED|FAILED|TIMED_OUT|ABORTED|RUNNING" },
	CLI_END,
};

const struct cli_opt store_history_opts[] = {
	{ SOPT_REVERSE, "reverse", 0, NULL, "newest event first", CC_NONE, NULL },
	CLI_END,
};

const struct cli_opt store_no_opts[] = { CLI_END };

static void each_name(const struct sfn_machine *m, void *arg)
{
	(void)arg;
	puts(m->name);
}

void store_complete_names(int operand, const char *state_path)
{
	struct state *st;
	if (operand != 0 || state_open(state_path, 0, &st) != EK_OK || !st)
		return;
	sfn_machine_list(st, each_name, NULL);
	state_close(st);
}

/* "@file" first: the completion script completes file names and these. */
void store_complete_run(int operand, const char *state_path)
{
	puts("@file");
	store_complete_names(operand, state_path);
}

/* ---- the commands ---------------------------------------------------------------- */

struct opts {
	const char *state;
	int replace, reverse;
	const char *role_arn, *type, *status;
	long max;
};

static void parse_opt(int id, const char *arg, struct opts *o)
{
	switch (id) {
	case OPT_STATE: o->state = arg; break;
	case SOPT_REPLACE: o->replace = 1; break;
	case SOPT_REVERSE: o->reverse = 1; break;
	case SOPT_MAX: o->max = (long)cli_int("--max", arg, 1, 1000000000); break;
	case SOPT_ROLE_ARN: {
		struct arn a;
		if (arn_parse(arg, &a) != 0)
			dief(EK_USAGE, "--role-arn: '%s' is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
			     arg);
		o->role_arn = arg;
		break;
	}
	case SOPT_TYPE:
		if (strcmp(arg, "STANDARD") && strcmp(arg, "EXPRESS"))
			dief(EK_USAGE, "--type: '%s' is not STANDARD or EXPRESS", arg);
		o->type = arg;
		break;
	case SOPT_STATUS:
		if (strcmp(arg, "RUNNING") && strcmp(arg, "SUCCEEDED") && strcmp(arg, "FAILED") &&
		    strcmp(arg, "TIMED_OUT") && strcmp(arg, "ABORTED"))
			dief(EK_USAGE, "--status: '%s' is not RUNNING, SUCCEEDED, FAILED, TIMED_OUT "
			     "or ABORTED", arg);
		o->status = arg;
		break;
	}
}

/* Options, then between MIN and MAX operands; returns the first's index. */
static int parse(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv,
                 struct opts *o, int min, int max, const char *need)
{
	memset(o, 0, sizeof *o);
	int c;
	while ((c = cli_getopt(p, cmd, argc, argv)) != -1)
		parse_opt(c, cli_optarg, o);
	int n = argc - cli_optind;
	if (n < min)
		cli_usage_error(p, cmd, "%s", need);
	if (n > max)
		cli_usage_error(p, cmd, "too many operands: %s %s", cmd->name, cmd->args);
	return cli_optind;
}

/* Open the state file, or exit with its status. NULL: there is none. */
static struct state *open_state(const struct opts *o, int create)
{
	struct state *st;
	int rc = state_open(o->state, create ? STATE_CREATE : 0, &st);
	if (rc)
		exit(cli_exit(rc));
	return st;
}

static int no_machine(const char *name)
{
	warnf("no state machine named '%s' (sfn-run list shows them)", name);
	return EK_NO;
}

/* The definition file's text, checked as CreateStateMachine checks it
 * for a machine of TYPE; exits 2 with the diagnostics when it fails. */
static char *read_checked(const char *path, const char *type)
{
	struct buf b = BUF_INIT;
	if (buf_read_file(&b, path) != 0)
		dief(EK_USAGE, "%s: %s", path, strerror(errno));
	struct buf why = BUF_INIT;
	jv def = jx_parse(buf_str(&b), b.len, &why);
	if (!jv_is_valid(def))
		dief(EK_USAGE, "%s: %s", path, buf_str(&why));
	jv r = asl_validate_type(def, type);
	const char *res = jx_str(r, "result");
	if (!res || strcmp(res, "OK") != 0) {
		jv ds = jx_get(r, "diagnostics");
		int nd = jv_get_kind(ds) == JV_KIND_ARRAY ? jv_array_length(jv_copy(ds)) : 0;
		for (int i = 0; i < nd; i++) {
			jv d = jv_array_get(jv_copy(ds), i);
			const char *loc = jx_str(d, "location");
			warnf("%s: invalid definition: %s: %s%s%s", path,
			      jx_str(d, "code") ? jx_str(d, "code") : "?",
			      jx_str(d, "message") ? jx_str(d, "message") : "?",
			      loc ? " at " : "", loc ? loc : "");
			jv_free(d);
		}
		jv_free(ds);
		jv_free(r);
		buf_free(&b);
		exit(cli_exit(EK_USAGE));
	}
	jv_free(r);
	return buf_detach(&b);
}

static void print_jv(jv j)
{
	nd_write_jv(j);
	jv_free(j);
}

static int cmd_create(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 2, 2, "a NAME and a definition file DEF are needed");
	struct buf why = BUF_INIT;
	if (sfn_name_check(argv[i], "state machine name", &why) != 0)
		dief(EK_USAGE, "%s", buf_str(&why));
	struct sfn_machine m;
	memset(&m, 0, sizeof m);
	m.type = xstrdup(o.type ? o.type : "STANDARD");
	m.definition = read_checked(argv[i + 1], m.type);
	m.name = xstrdup(argv[i]);
	m.role_arn = o.role_arn ? xstrdup(o.role_arn) : sfn_default_role();
	struct state *st = open_state(&o, 1);
	int rc = sfn_machine_put(st, &m, o.replace ? SFN_REPLACE : SFN_CREATE);
	state_close(st);
	if (rc == EK_OK) {
		jv j = jv_object_set(jv_object(), jv_string("stateMachineArn"), jv_string(m.arn));
		char t[40];
		clock_format(m.created_ms, 1, t, sizeof t);
		print_jv(jv_object_set(j, jv_string("creationDate"), jv_string(t)));
	}
	sfn_machine_free(&m);
	return rc;
}

static int cmd_update(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 1, 2, "a state machine NAME is needed");
	if (argc - i == 1 && !o.role_arn)
		cli_usage_error(p, cmd, "nothing to change: give a definition file DEF or --role-arn");
	struct state *st = open_state(&o, 0);
	struct sfn_machine m;
	int rc = st ? sfn_machine_get(st, argv[i], &m) : EK_NO;
	if (rc == EK_OK) {
		if (argc - i == 2) {
			char *def = read_checked(argv[i + 1], m.type);
			free(m.definition);
			m.definition = def;
		}
		if (o.role_arn) {
			free(m.role_arn);
			m.role_arn = xstrdup(o.role_arn);
		}
		rc = sfn_machine_put(st, &m, SFN_UPDATE);
	}
	state_close(st);
	if (rc == EK_NO)
		return no_machine(argv[i]);
	if (rc == EK_OK) {
		char t[40];
		clock_format(m.updated_ms, 1, t, sizeof t);
		jv j = jv_object_set(jv_object(), jv_string("updateDate"), jv_string(t));
		print_jv(jv_object_set(j, jv_string("revisionId"), jv_string(m.revision_id)));
		sfn_machine_free(&m);
	}
	return rc;
}

static void print_item(const struct sfn_machine *m, void *arg)
{
	(void)arg;
	print_jv(sfn_machine_item_json(m));
}

static int cmd_list(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	parse(p, cmd, argc, argv, &o, 0, 0, "");
	struct state *st = open_state(&o, 0);
	if (!st)
		return EK_OK;
	int rc = sfn_machine_list(st, print_item, NULL);
	state_close(st);
	return rc;
}

static int cmd_describe(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 1, 1, "a state machine NAME is needed");
	struct state *st = open_state(&o, 0);
	struct sfn_machine m;
	int rc = st ? sfn_machine_get(st, argv[i], &m) : EK_NO;
	state_close(st);
	if (rc == EK_NO)
		return no_machine(argv[i]);
	if (rc == EK_OK) {
		print_jv(sfn_machine_json(&m));
		sfn_machine_free(&m);
	}
	return rc;
}

static int cmd_delete(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 1, 1, "a state machine NAME is needed");
	struct state *st = open_state(&o, 0);
	int rc = st ? sfn_machine_delete(st, argv[i]) : EK_NO;
	state_close(st);
	return rc == EK_NO ? no_machine(argv[i]) : rc;
}

static void print_execution_item(const struct sfn_execution *e, void *arg)
{
	long *n = arg;
	(*n)++;
	print_jv(sfn_execution_item_json(e));
}

static void count_execution(const struct sfn_execution *e, void *arg)
{
	(void)e;
	(*(long *)arg)++;
}

static int cmd_list_executions(const struct cli_prog *p, const struct cli_cmd *cmd, int argc,
                               char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 0, 1, "");
	char *name = NULL;
	if (i < argc && !(name = ids_name_from(argv[i], "states", "stateMachine")))
		return no_machine(argv[i]);
	struct state *st = open_state(&o, 0);
	long n = 0;
	int rc = EK_OK;
	if (st)
		rc = sfn_execution_list(st, name, o.status, o.max, print_execution_item, &n);
	if (rc == EK_OK && name && n == 0) {
		/* nothing listed: is there such a machine at all? One that is
		 * not stored may still have executions (run DEF --record). */
		struct sfn_machine m;
		long any = 0;
		int got = st ? sfn_machine_get(st, name, &m) : EK_NO;
		if (got == EK_OK)
			sfn_machine_free(&m);
		else if (got == EK_NO && st &&
		         (got = sfn_execution_list(st, name, NULL, 1, count_execution, &any)) == EK_OK &&
		         !any)
			got = EK_NO;
		rc = got == EK_NO ? no_machine(argv[i]) : got;
	}
	state_close(st);
	free(name);
	return rc;
}

/* The recorded execution ARG names (an ARN or MACHINE:EXECUTION). */
static int get_execution(const struct opts *o, const char *arg, int with_history,
                         struct sfn_execution *e)
{
	char *arn = sfn_execution_arn(arg);
	if (!arn)
		dief(EK_USAGE, "'%s' is neither an execution ARN nor MACHINE:EXECUTION", arg);
	struct state *st = open_state(o, 0);
	int rc = st ? sfn_execution_get(st, arn, with_history, e) : EK_NO;
	state_close(st);
	free(arn);
	if (rc == EK_NO)
		warnf("no recorded execution '%s' (sfn-run list-executions shows them)", arg);
	return rc;
}

static int cmd_describe_execution(const struct cli_prog *p, const struct cli_cmd *cmd, int argc,
                                  char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 1, 1, "an execution ARN or MACHINE:EXECUTION is needed");
	struct sfn_execution e;
	int rc = get_execution(&o, argv[i], 0, &e);
	if (rc == EK_OK) {
		print_jv(sfn_execution_json(&e));
		sfn_execution_free(&e);
	}
	return rc;
}

static int cmd_history(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct opts o;
	int i = parse(p, cmd, argc, argv, &o, 1, 1, "an execution ARN or MACHINE:EXECUTION is needed");
	struct sfn_execution e;
	int rc = get_execution(&o, argv[i], 1, &e);
	if (rc)
		return rc;
	jv events = e.history ? jx_parse(e.history, strlen(e.history), NULL) : jv_array();
	if (jv_get_kind(events) != JV_KIND_ARRAY) {
		warnf("execution '%s': its recorded history is damaged", argv[i]);
		rc = EK_STATE;
	} else {
		int n = jv_array_length(jv_copy(events));
		for (int k = 0; k < n; k++)
			print_jv(jv_array_get(jv_copy(events), o.reverse ? n - 1 - k : k));
	}
	jv_free(events);
	sfn_execution_free(&e);
	return rc;
}

int store_command(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct cli_prog *, const struct cli_cmd *, int, char **);
	} cmds[] = {
		{ "create", cmd_create },
		{ "delete", cmd_delete },
		{ "describe", cmd_describe },
		{ "describe-execution", cmd_describe_execution },
		{ "get-execution-history", cmd_history },
		{ "list", cmd_list },
		{ "list-executions", cmd_list_executions },
		{ "update", cmd_update },
	};
	for (size_t k = 0; k < ARRAY_LEN(cmds); k++)
		if (strcmp(cmd->name, cmds[k].name) == 0)
			return cmds[k].fn(p, cmd, argc, argv);
	dief(EK_USAGE, "unknown command '%s'", cmd->name);
}

/* ---- recording run's executions -------------------------------------------------- */

int run_resolve(struct run_record *rr, const char *state_path, const char *operand,
                const char *name_prefix, long jobs, jv *def)
{
	struct stat sb;
	int stored = 0;
	rr->state_path = state_path;
	/* Executions commit one by one in -j's workers, which cannot tell
	 * when their input ends; in one process, in batches. */
	rr->batch = jobs > 1 ? 1 : 64;
	if (stat(operand, &sb) != 0 && strchr(operand, '/') == NULL) {
		struct state *st;
		int rc = state_open(state_path, 0, &st);
		if (rc)
			exit(cli_exit(rc));
		struct sfn_machine m;
		rc = st ? sfn_machine_get(st, operand, &m) : EK_NO;
		state_close(st);
		if (rc == EK_NO)
			dief(EK_USAGE, "%s: no such file, nor a stored state machine of that name "
			     "(sfn-run list shows them)", operand);
		if (rc)
			exit(cli_exit(rc));
		*def = jx_parse(m.definition, strlen(m.definition), NULL);
		if (!jv_is_valid(*def))
			dief(EK_STATE, "state machine '%s': its stored definition is damaged", m.name);
		rr->sm_name = m.name;
		rr->role_arn = m.role_arn;
		rr->express = m.type && !strcmp(m.type, "EXPRESS");
		m.name = m.role_arn = NULL;
		sfn_machine_free(&m);
		rr->on = 1;
		stored = 1;
	}
	if (rr->on) {
		/* recorded names go into ARNs: AWS's rule applies */
		struct buf why = BUF_INIT;
		if (name_prefix && sfn_name_check(name_prefix, "--name prefix", &why) != 0)
			dief(EK_USAGE, "%s", buf_str(&why));
		/* find a state file that cannot be used now, not at the first line */
		struct state *st;
		int rc = state_open(state_path, STATE_CREATE, &st);
		if (rc)
			exit(cli_exit(rc));
		state_close(st);
	}
	return stored;
}

static int open_recorder(struct run_record *rr)
{
	if (rr->rec)
		return EK_OK;
	if (rr->status)
		return rr->status;
	int rc = state_open(rr->state_path, STATE_CREATE, &rr->st);
	if (rc) {
		rr->status = rc;
		return rc;
	}
	rr->rec = sfn_recorder_new(rr->st, rr->batch);
	return EK_OK;
}

int run_record_exists(struct run_record *rr, const char *arn, const char *name, long lineno)
{
	if (open_recorder(rr))
		return 1;
	int got = sfn_execution_exists(rr->st, arn);
	if (got < 0) {
		rr->status = -got;
		return 1;
	}
	if (got)
		warnf("stdin:%ld: execution '%s' already exists (ExecutionAlreadyExists): not run "
		      "(--name gives other names)", lineno, name);
	return got;
}

/* Seconds to the milliseconds asl_format_time shows. */
static int64_t to_ms(double t)
{
	double sec = floor(t);
	int ms = (int)((t - sec) * 1000.0);
	return (int64_t)sec * 1000 + (ms > 999 ? 999 : ms);
}

int run_record(struct run_record *rr, struct asl_result *r, const char *name, const char *arn,
               const char *sm_name, const char *sm_arn, jv input, int keep_history)
{
	int rc = open_recorder(rr);
	if (rc == EK_OK) {
		struct sfn_execution e;
		memset(&e, 0, sizeof e);
		e.arn = xstrdup(arn);
		e.name = xstrdup(name);
		e.machine = xstrdup(sm_name);
		e.machine_arn = xstrdup(sm_arn);
		e.status = xstrdup(asl_status_name(r->status));
		e.start_ms = to_ms(r->start);
		e.stop_ms = to_ms(r->stop);
		struct buf b = BUF_INIT;
		asl_json_dump(input, &b);
		e.input = buf_detach(&b);
		/* what `run` prints: output when it succeeded, error and cause
		 * when it failed */
		if (r->status == ASL_SUCCEEDED) {
			asl_json_dump(r->output, &b);
			e.output = buf_detach(&b);
		}
		if (r->status == ASL_FAILED) {
			e.error = r->error ? xstrdup(r->error) : NULL;
			e.cause = r->cause ? xstrdup(r->cause) : NULL;
		}
		if (jv_get_kind(r->history) == JV_KIND_ARRAY) {
			asl_json_dump(r->history, &b);
			e.history = buf_detach(&b);
		}
		rc = sfn_recorder_add(rr->rec, &e);
		if (rc && !rr->status)
			rr->status = rc;
	}
	if (!keep_history) {
		jv_free(r->history);
		r->history = jv_null();
	}
	return rc;
}

void run_record_idle(struct run_record *rr)
{
	if (rr->rec) {
		int rc = sfn_recorder_flush(rr->rec);
		if (rc && !rr->status)
			rr->status = rc;
	}
}

int run_record_finish(struct run_record *rr)
{
	int rc = sfn_recorder_close(rr->rec);
	if (rc && !rr->status)
		rr->status = rc;
	rr->rec = NULL;
	state_close(rr->st);
	rr->st = NULL;
	free(rr->sm_name);
	free(rr->role_arn);
	rr->sm_name = rr->role_arn = NULL;
	return rr->status;
}
