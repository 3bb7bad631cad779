/*
 * fnctl: local functions, as AWS Lambda keeps them. A thin client over
 * fn.h: options, then one library call per command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "fn.h"
#include "json.h"
#include "ndjson.h"
#include "state.h"

enum { OPT_ENV = 'e', OPT_MODE = 'm', OPT_TIMEOUT = 't', OPT_REPLACE = 0x100 };

static const struct cli_opt common_opts[] = {
	CLI_OPT_HELP,
	CLI_OPT_STATE,
	CLI_END,
};

static const struct cli_opt create_opts[] = {
	{ OPT_ENV, "env", 'e', "K=V", "set an environment variable (repeatable)", CC_NONE, NULL },
	{ OPT_MODE, "mode", 'm', "MODE", "spawn (a process per call, default) or stream (kept warm)",
	  CC_WORDS, "spawn|stream" },
	{ OPT_REPLACE, "replace", 0, NULL, "replace a function of the same name", CC_NONE, NULL },
	{ OPT_TIMEOUT, "timeout", 't', "SECONDS", "kill an invocation after this long (default 3)",
	  CC_NONE, NULL },
	CLI_END,
};

static const struct cli_opt invoke_opts[] = {
	CLI_OPT_REJECTS,
	CLI_OPT_STRICT,
	CLI_END,
};

static const struct cli_opt no_opts[] = { CLI_END };

static void complete_names(int operand, const char *state_path);

static const struct cli_cmd commands[] = {
	{ "create", "NAME -- CMD [ARG...]", "store a function: a command, never a shell string",
	  create_opts, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ "delete", "NAME", "delete a function", no_opts,
	  { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }, complete_names },
	{ "get", "NAME", "print a function's configuration as one JSON line", no_opts,
	  { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }, complete_names },
	{ "invoke", "NAME [PAYLOAD]",
	  "invoke with PAYLOAD, or once per JSON line of stdin; one result line each",
	  invoke_opts, { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }, complete_names },
	{ "list", "", "print every function's configuration, one JSON line each", no_opts,
	  { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ NULL, NULL, NULL, NULL, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
};

static const struct cli_prog prog = {
	"fnctl", "Local functions, as AWS Lambda keeps and invokes them.",
	common_opts, commands,
	"Exit status: 0 success; 1 an invocation failed or no such function (get,\n"
	"delete); 2 usage error or unknown function (invoke); 3 input lines rejected;\n"
	"4 the state file cannot be used; 75 the state file is busy, try again.\n",
};

static const char *state_opt;

static void each_name(const struct fn *f, void *arg)
{
	(void)arg;
	puts(f->name);
}

static void complete_names(int operand, const char *state_path)
{
	struct state *st;
	if (operand != 0 || state_open(state_path, 0, &st) != EK_OK || !st)
		return;
	fn_list(st, each_name, NULL);
	state_close(st);
}

/* Parse the options every command shares, plus the command's own through
 * handle(). Returns the index of the first operand. */
static int parse(const struct cli_cmd *cmd, int argc, char **argv,
                 void (*handle)(int id, const char *arg, void *ctx), void *ctx)
{
	int c;
	while ((c = cli_getopt(&prog, cmd, argc, argv)) != -1) {
		if (c == OPT_STATE)
			state_opt = cli_optarg;
		else if (handle)
			handle(c, cli_optarg, ctx);
	}
	return cli_optind;
}

static int open_state(int flags, struct state **st)
{
	return state_open(state_opt, flags, st);
}

/* ---- create ----------------------------------------------------------------- */

struct create_ctx {
	struct fn f;
	size_t nenv;
	int replace;
};

static void create_opt(int id, const char *arg, void *p)
{
	struct create_ctx *c = p;
	switch (id) {
	case OPT_ENV: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			dief(EK_USAGE, "--env: '%s' is not K=V", arg);
		c->f.env = xrealloc(c->f.env, (c->nenv + 2) * sizeof *c->f.env);
		c->f.env[c->nenv++] = xstrdup(arg);
		c->f.env[c->nenv] = NULL;
		break;
	}
	case OPT_MODE:
		if (strcmp(arg, "spawn") == 0)
			c->f.mode = FN_SPAWN;
		else if (strcmp(arg, "stream") == 0)
			c->f.mode = FN_STREAM;
		else
			dief(EK_USAGE, "--mode: '%s' is not spawn or stream", arg);
		break;
	case OPT_TIMEOUT: {
		int64_t ms;
		if (clock_parse_duration(arg, &ms) != 0 || ms <= 0 || ms > FN_MAX_TIMEOUT_MS)
			dief(EK_USAGE, "--timeout: '%s' is not a time from 1ms to 900 seconds "
			     "(a number of seconds, or 500ms, 30s, 5m)", arg);
		c->f.timeout_ms = ms;
		break;
	}
	case OPT_REPLACE:
		c->replace = 1;
		break;
	}
}

static int cmd_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	/* Everything after "--" is the command, options included: find it
	 * before getopt could take the command's own options for ours. */
	int dashes = -1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dashes = i;
			break;
		}
	struct create_ctx c;
	memset(&c, 0, sizeof c);
	c.f.timeout_ms = FN_DEFAULT_TIMEOUT_MS;
	int first = parse(cmd, dashes < 0 ? argc : dashes, argv, create_opt, &c);
	if (dashes < 0)
		cli_usage_error(&prog, cmd, "the command goes after '--': fnctl create NAME -- CMD [ARG...]");
	if (dashes - first != 1)
		cli_usage_error(&prog, cmd, dashes - first < 1 ? "a function NAME is needed"
		                                               : "one NAME before '--', got %d words",
		                dashes - first);
	if (dashes + 1 >= argc)
		cli_usage_error(&prog, cmd, "a command is needed after '--'");
	struct buf why = BUF_INIT;
	if (fn_name_check(argv[first], &why) != 0)
		dief(EK_USAGE, "%s", why.s);
	c.f.name = xstrdup(argv[first]);
	int n = argc - dashes - 1;
	c.f.argv = xcalloc((size_t)n + 1, sizeof *c.f.argv);
	for (int i = 0; i < n; i++)
		c.f.argv[i] = xstrdup(argv[dashes + 1 + i]);
	if (!c.f.env)
		c.f.env = xcalloc(1, sizeof *c.f.env);
	struct state *st;
	int rc = open_state(STATE_CREATE, &st);
	if (rc == EK_OK) {
		rc = fn_put(st, &c.f, c.replace);
		state_close(st);
	}
	fn_free(&c.f);
	return rc;
}

/* ---- get, list, delete --------------------------------------------------------- */

static const char *one_name(const struct cli_cmd *cmd, int argc, char **argv)
{
	int first = parse(cmd, argc, argv, NULL, NULL);
	if (argc - first != 1)
		cli_usage_error(&prog, cmd, argc - first < 1 ? "a function NAME is needed"
		                                             : "only one NAME, please");
	return argv[first];
}

static int cmd_get(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *name = one_name(cmd, argc, argv);
	struct state *st;
	int rc = open_state(0, &st);
	if (rc)
		return rc;
	struct fn f;
	rc = st ? fn_get(st, name, &f) : EK_NO;
	if (rc == EK_OK) {
		jv j = fn_to_json(&f);
		nd_write_jv(j);
		jv_free(j);
		fn_free(&f);
	} else if (rc == EK_NO) {
		warnf("no function named '%s'", name);
	}
	state_close(st);
	return rc;
}

static void print_fn(const struct fn *f, void *arg)
{
	(void)arg;
	jv j = fn_to_json(f);
	nd_write_jv(j);
	jv_free(j);
}

static int cmd_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	int first = parse(cmd, argc, argv, NULL, NULL);
	if (first != argc)
		cli_usage_error(&prog, cmd, "list takes no operands");
	struct state *st;
	int rc = open_state(0, &st);
	if (rc || !st)
		return rc;
	rc = fn_list(st, print_fn, NULL);
	state_close(st);
	return rc;
}

static int cmd_delete(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *name = one_name(cmd, argc, argv);
	struct state *st;
	int rc = open_state(0, &st);
	if (rc)
		return rc;
	rc = st ? fn_delete(st, name) : EK_NO;
	if (rc == EK_NO)
		warnf("no function named '%s'", name);
	state_close(st);
	return rc;
}

/* ---- invoke ------------------------------------------------------------------------ */

static void invoke_opt(int id, const char *arg, void *p)
{
	struct nd_rejects *rj = p;
	if (id == OPT_REJECTS)
		rj->path = arg;
	else if (id == OPT_STRICT)
		rj->strict = 1;
}

static int invoke_one(struct fn_invoker *inv, const struct fn *f, const char *payload,
                      size_t len, const char *where)
{
	struct buf result = BUF_INIT;
	int rc = fn_invoke(inv, f, payload, len, &result);
	nd_write(result.s ? result.s : "null", result.len ? result.len : 4);
	if (rc != FN_OK)
		warnf("%s%sfunction '%s' failed: %.400s", where ? where : "", where ? ": " : "",
		      f->name, result.s);
	buf_free(&result);
	return rc;
}

static int cmd_invoke(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct nd_rejects rj;
	memset(&rj, 0, sizeof rj);
	int first = parse(cmd, argc, argv, invoke_opt, &rj);
	int nops = argc - first;
	if (nops < 1 || nops > 2)
		cli_usage_error(&prog, cmd, nops < 1 ? "a function NAME is needed"
		                                     : "one PAYLOAD at most (or JSON lines on stdin)");
	const char *name = argv[first];
	nd_rejects_open(&rj);
	struct state *st;
	int rc = open_state(0, &st);
	if (rc)
		return rc;
	struct fn f;
	rc = st ? fn_get(st, name, &f) : EK_NO;
	state_close(st);
	if (rc == EK_NO)
		dief(EK_USAGE, "no function named '%s' (fnctl list shows them)", name);
	if (rc)
		return rc;

	struct fn_invoker *inv = fn_invoker_new();
	int failed = 0;
	if (nops == 2) {
		const char *payload = argv[first + 1];
		struct buf why = BUF_INIT;
		jv v = jx_parse(payload, strlen(payload), &why);
		if (!jv_is_valid(v)) {
			fn_invoker_free(inv);
			fn_free(&f);
			dief(EK_USAGE, "PAYLOAD: %s", why.s);
		}
		jv_free(v);
		failed = invoke_one(inv, &f, payload, strlen(payload), NULL) != FN_OK;
	} else {
		struct nd_reader *r = nd_open(NULL);
		struct nd_line line;
		struct buf why = BUF_INIT;
		int got;
		while ((got = nd_next(r, &line)) == 1) {
			buf_reset(&why);
			jv v = nd_parse(&line, &why);
			if (!jv_is_valid(v)) {
				if (nd_reject(&rj, &line, why.s))
					break;
				continue;
			}
			jv_free(v);
			char where[300];
			snprintf(where, sizeof where, "%s:%ld", line.file, line.lineno);
			if (invoke_one(inv, &f, line.raw, line.len, where) != FN_OK)
				failed++;
			if (cli_stopping())
				break;
		}
		if (got < 0)
			failed++;
		buf_free(&why);
		nd_close(r);
		nd_rejects_close(&rj);
	}
	fn_invoker_free(inv);
	fn_free(&f);
	/* A failed invocation is the work failing (1); otherwise rejected
	 * input lines (3). */
	return failed ? EK_FAIL : rj.count ? EK_REJECTED : EK_OK;
}

int main(int argc, char **argv)
{
	cli_init(&prog, argc, argv);
	const struct cli_cmd *cmd = cli_command(&prog, argc, argv);
	argc--;  /* cli_command moved the command word to the end */
	int rc;
	if (strcmp(cmd->name, "create") == 0)
		rc = cmd_create(cmd, argc, argv);
	else if (strcmp(cmd->name, "delete") == 0)
		rc = cmd_delete(cmd, argc, argv);
	else if (strcmp(cmd->name, "get") == 0)
		rc = cmd_get(cmd, argc, argv);
	else if (strcmp(cmd->name, "invoke") == 0)
		rc = cmd_invoke(cmd, argc, argv);
	else
		rc = cmd_list(cmd, argc, argv);
	return cli_exit(rc);
}
