/*
 * sqs-poll: SQS queues in the state file, and the poller worker. A thin
 * client over queue.h and registry.h: options, then library calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "json.h"
#include "sqs.h"

#define D(id, name, arg, help) { id, name, 0, arg, help, CC_NONE, NULL }

static const struct cli_opt common_opts[] = {
	CLI_OPT_HELP,
	CLI_OPT_STATE,
	CLI_END,
};

#define QUEUE_ATTR_OPTS \
	D(OP_DELAY, "delay", "TIME", "delay new messages this long (0-900s)"), \
	{ OP_DLQ, "dlq", 0, "QUEUE", "dead-letter queue (with --max-receive)", CC_DYNAMIC, NULL }, \
	D(OP_MAX_RECEIVE, "max-receive", "N", "receives before a message moves to the DLQ"), \
	D(OP_MAX_SIZE, "max-size", "BYTES", "largest message (1024-262144, default 262144)"), \
	D(OP_RETENTION, "retention", "TIME", "keep messages this long (60s-14d, default 4d)"), \
	D(OP_VIS, "visibility-timeout", "TIME", "hide received messages this long (default 30s)"), \
	D(OP_WAIT, "wait", "TIME", "default long-poll time of recv (0-20s)")

#define ON_WAKE_OPT D(OP_ON_WAKE, "on-wake", NULL, \
	"run the command after '--', detached, when a send takes the queue from empty")

static const struct cli_opt create_opts[] = {
	D(OP_CBD, "content-based-dedup", NULL, "FIFO: deduplicate by the body's SHA-256"),
	D(OP_FIFO, "fifo", NULL, "a FIFO queue (its name ends in .fifo)"),
	ON_WAKE_OPT,
	QUEUE_ATTR_OPTS,
	CLI_END,
};

static const struct cli_opt set_opts[] = {
	D(OP_CBD, "content-based-dedup", NULL, "FIFO: deduplicate by the body's SHA-256"),
	D(OP_NO_DLQ, "no-dlq", NULL, "remove the redrive policy"),
	D(OP_NO_ON_WAKE, "no-on-wake", NULL, "remove the wake-up command"),
	ON_WAKE_OPT,
	QUEUE_ATTR_OPTS,
	CLI_END,
};

static const struct cli_opt send_opts[] = {
	D(OP_BATCH, "batch", "N", "send up to N waiting lines per transaction (1-10, default 10)"),
	D(OP_DEDUP, "dedup-id", "ID", "FIFO: the MessageDeduplicationId"),
	D(OP_DELAY, "delay", "TIME", "delay these messages (0-900s)"),
	D(OP_ENTRIES, "entries", NULL, "each line is a SendMessage entry, not a body"),
	D(OP_GROUP, "group", "ID", "FIFO: the MessageGroupId"),
	CLI_OPT_REJECTS,
	CLI_OPT_STRICT,
	CLI_END,
};

static const struct cli_opt recv_opts[] = {
	D(OP_ATTRS, "attributes", "LIST", "attributes to show: All (default), None, or NAME,..."),
	{ OP_NUM, "max", 'n', "N", "receive up to N messages (1-10, default 1)", CC_NONE, NULL },
	D(OP_UNTIL_EMPTY, "until-empty", NULL, "receive until no message is visible"),
	D(OP_VIS, "visibility-timeout", "TIME", "hide them this long (default: the queue's)"),
	D(OP_WAIT, "wait", "TIME", "long-poll up to this long for a first message (0-20s)"),
	CLI_END,
};

static const struct cli_opt delete_opts[] = {
	D(OP_QUEUE, "queue", NULL, "delete the queue itself, with its messages"),
	CLI_OPT_REJECTS,
	CLI_OPT_STRICT,
	CLI_END,
};

static const struct cli_opt redrive_opts[] = {
	{ OP_TO, "to", 0, "QUEUE", "move them here instead of their source queues", CC_DYNAMIC, NULL },
	CLI_END,
};

static const struct cli_opt work_opts[] = {
	D(OP_ASYNC, "async", NULL, "do not wait for CMD: it deletes the message itself"),
	{ OP_CONCURRENCY, "concurrency", 'c', "N", "run up to N commands at once (default 1)",
	  CC_NONE, NULL },
	D(OP_HEARTBEAT, "heartbeat", "TIME", "call home at least this often (default 60s)"),
	D(OP_ID, "id", "ID", "the worker id (default: a new UUID)"),
	D(OP_IDLE_EXIT, "idle-exit", "TIME", "exit after this long without work"),
	D(OP_RETRY_DELAY, "retry-delay", "TIME", "after a failure, retry the message this soon"),
	D(OP_VIS, "visibility-timeout", "TIME", "hold messages this long (default: the queue's)"),
	CLI_END,
};

static const struct cli_opt no_opts[] = { CLI_END };

static void complete_queues(int operand, const char *state_path);

#define Q1 { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }
#define Q0 { CC_NONE, CC_NONE, CC_NONE, CC_NONE }
static const struct cli_cmd commands[] = {
	{ "change-visibility", "QUEUE HANDLE TIME", "hide a received message for TIME from now",
	  no_opts, Q1, complete_queues },
	{ "create", "QUEUE [--on-wake -- CMD [ARG...]]",
	  "create a queue (SQS's attributes as options)", create_opts, Q0,
	  complete_queues },  /* for --dlq: the new queue's own name is not completed */
	{ "delete", "QUEUE [HANDLE...]",
	  "delete messages by receipt handle (arguments, or lines of stdin); --queue: the queue",
	  delete_opts, Q1, complete_queues },
	{ "delete-queue", "QUEUE", "delete a queue and its messages", no_opts, Q1, complete_queues },
	{ "drain", "WORKER-ID", "ask a worker to finish what it holds and exit", no_opts, Q0, NULL },
	{ "get-attributes", "QUEUE", "print the queue's attributes and message counts",
	  no_opts, Q1, complete_queues },
	{ "list", "", "print every queue, one JSON line each", no_opts, Q0, NULL },
	{ "purge", "QUEUE", "delete every message (once per 60 seconds)", no_opts, Q1, complete_queues },
	{ "recv", "QUEUE", "receive messages, one JSON line each", recv_opts, Q1, complete_queues },
	{ "redrive", "DLQ", "move a dead-letter queue's messages back to their source queues",
	  redrive_opts, Q1, complete_queues },
	{ "send", "QUEUE [BODY]", "send BODY, or each line of stdin, as a message",
	  send_opts, Q1, complete_queues },
	{ "set-attributes", "QUEUE [--on-wake -- CMD [ARG...]]", "change a queue's attributes",
	  set_opts, Q1, complete_queues },
	{ "work", "QUEUE -- CMD [ARG...]", "run CMD on each message; delete it when CMD succeeds",
	  work_opts, Q1, complete_queues },
	{ "workers", "[QUEUE]", "print the worker registry, one JSON line each", no_opts, Q1,
	  complete_queues },
	{ NULL, NULL, NULL, NULL, Q0, NULL },
};

const struct cli_prog sqs_prog = {
	"sqs-poll", "SQS queues in the state file, and the poller worker.",
	common_opts, commands,
	"TIME is a number of seconds, or a duration: 500ms, 30s, 5m, 2h, 4d.\n"
	"Exit status: 0 success; 1 nothing received (recv), a failed delete or\n"
	"visibility change, a refused purge; 2 usage error or no such queue;\n"
	"3 input lines rejected; 4 the state file cannot be used; 75 busy, retry.\n",
};

static void each_queue_name(const struct queue *q, void *arg)
{
	(void)arg;
	puts(q->name);
}

static void complete_queues(int operand, const char *state_path)
{
	struct state *st;
	if (state_open(state_path, 0, &st) != EK_OK || !st)
		return;
	queue_list(st, each_queue_name, NULL);
	state_close(st);
}

struct state *sqs_open(const struct opts *o, int create)
{
	struct state *st;
	int rc = state_open(o->state, create ? STATE_CREATE : 0, &st);
	if (rc)
		exit(cli_exit(rc));
	return st;  /* NULL: no state file, so no queues yet */
}

void sqs_queue(struct state *st, const char *name, struct queue *q)
{
	int rc = st ? queue_get(st, name, q) : EK_NO;
	if (rc == EK_NO)
		dief(EK_USAGE, "no queue named '%s' (sqs-poll list shows them)", name);
	if (rc)
		exit(cli_exit(rc));
}

static int64_t duration(const char *opt, const char *arg, int64_t max)
{
	int64_t ms;
	if (clock_parse_duration(arg, &ms) != 0 || ms > max) {
		char d[32];
		dief(EK_USAGE, "--%s: '%s' is not a time from 0 to %s (a number of seconds, or "
		     "500ms, 30s, 5m, 2h, 4d)", opt, arg, clock_format_duration(max, d, sizeof d));
	}
	return ms;
}

static void parse(const struct cli_cmd *cmd, int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->vis = o->delay = o->retention = o->wait = o->max_size = o->max_receive = -1;
	o->heartbeat = o->retry_delay = o->idle_exit = -1;
	o->fifo = o->cbd = -1;
	o->batch = 10;
	o->num = 1;
	o->concurrency = 1;
	int dashes = argc;
	if (strcmp(cmd->name, "work") == 0 || strcmp(cmd->name, "create") == 0 ||
	    strcmp(cmd->name, "set-attributes") == 0)
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "--") == 0) {
				dashes = i;
				break;
			}
	int c;
	while ((c = cli_getopt(&sqs_prog, cmd, dashes, argv)) != -1) {
		const char *a = cli_optarg;
		switch (c) {
		case OPT_STATE: o->state = a; break;
		case OPT_REJECTS: o->rj.path = a; break;
		case OPT_STRICT: o->rj.strict = 1; break;
		case OP_VIS: o->vis = duration("visibility-timeout", a, Q_MAX_VISIBILITY_MS); break;
		case OP_DELAY: o->delay = duration("delay", a, Q_MAX_DELAY_MS); break;
		case OP_RETENTION: o->retention = duration("retention", a, Q_MAX_RETENTION_MS); break;
		case OP_WAIT: o->wait = duration("wait", a, Q_MAX_WAIT_MS); break;
		case OP_MAX_SIZE: o->max_size = cli_int("--max-size", a, Q_MIN_SIZE, Q_MAX_SIZE); break;
		case OP_MAX_RECEIVE: o->max_receive = cli_int("--max-receive", a, 1, 1000); break;
		case OP_DLQ: o->dlq = a; break;
		case OP_FIFO: o->fifo = 1; break;
		case OP_CBD: o->cbd = 1; break;
		case OP_ON_WAKE: o->on_wake = 1; break;
		case OP_NO_ON_WAKE: o->no_on_wake = 1; break;
		case OP_NO_DLQ: o->no_dlq = 1; break;
		case OP_ENTRIES: o->entries = 1; break;
		case OP_GROUP: o->group = a; break;
		case OP_DEDUP: o->dedup = a; break;
		case OP_BATCH: o->batch = (int)cli_int("--batch", a, 1, 10); break;
		case OP_NUM: o->num = (int)cli_int("--max", a, 1, 10); break;
		case OP_ATTRS: o->attrs = a; break;
		case OP_UNTIL_EMPTY: o->until_empty = 1; break;
		case OP_QUEUE: o->whole_queue = 1; break;
		case OP_TO: o->to = a; break;
		case OP_ID: o->id = a; break;
		case OP_CONCURRENCY: o->concurrency = (int)cli_int("--concurrency", a, 1, 1000); break;
		case OP_HEARTBEAT: o->heartbeat = duration("heartbeat", a, 3600000); break;
		case OP_ASYNC: o->async = 1; break;
		case OP_RETRY_DELAY: o->retry_delay = duration("retry-delay", a, Q_MAX_VISIBILITY_MS); break;
		case OP_IDLE_EXIT: o->idle_exit = duration("idle-exit", a, 30LL * 86400000); break;
		}
	}
	if (o->retention >= 0 && o->retention < Q_MIN_RETENTION_MS)
		dief(EK_USAGE, "--retention: at least 60s");
	o->nops = dashes - cli_optind;
	o->ops = argv + cli_optind;
	if (dashes < argc)
		o->cmd = argv + dashes + 1;
}

static void need_ops(const struct cli_cmd *cmd, const struct opts *o, int lo, int hi)
{
	/* The first operand's name from the synopsis: QUEUE, or WORKER-ID. */
	int first = (int)strcspn(cmd->args, " ");
	if (o->nops < lo && lo == 1)
		cli_usage_error(&sqs_prog, cmd, "a %.*s is needed", first, cmd->args);
	if (o->nops < lo)
		cli_usage_error(&sqs_prog, cmd, "more operands are needed");
	if (o->nops > hi)
		cli_usage_error(&sqs_prog, cmd, "too many operands");
}

/* Apply the attribute options that were given to q. */
static void apply_attrs(const struct opts *o, struct queue *q)
{
	if (o->vis >= 0) q->visibility_ms = o->vis;
	if (o->delay >= 0) q->delay_ms = o->delay;
	if (o->retention >= 0) q->retention_ms = o->retention;
	if (o->wait >= 0) q->wait_ms = o->wait;
	if (o->max_size >= 0) q->max_size = o->max_size;
	if (o->max_receive >= 0) q->max_receive = (int)o->max_receive;
	if (o->cbd >= 0) q->content_dedup = o->cbd;
	if (o->no_dlq) {
		free(q->dlq);
		q->dlq = NULL;
		q->max_receive = 0;
	}
	if (o->dlq) {
		free(q->dlq);
		q->dlq = queue_name_of(o->dlq);
		if (!q->dlq)
			dief(EK_USAGE, "--dlq: '%s' is not a queue name, URL or ARN", o->dlq);
	}
	if ((q->dlq != NULL) != (q->max_receive > 0))
		dief(EK_USAGE, "--dlq and --max-receive go together (the redrive policy)");
	if (q->content_dedup && !q->fifo)
		dief(EK_USAGE, "--content-based-dedup is for FIFO queues");
	if (o->on_wake && (!o->cmd || !o->cmd[0]))
		dief(EK_USAGE, "--on-wake: the command goes after '--': "
		     "sqs-poll create QUEUE --on-wake -- CMD [ARG...]");
	if (!o->on_wake && o->cmd)
		dief(EK_USAGE, "a command after '--' is for --on-wake");
	if (o->no_on_wake) {
		free(q->on_wake);
		q->on_wake = NULL;
	}
	if (o->on_wake) {
		jv a = jv_array();
		for (int i = 0; o->cmd[i]; i++)
			a = jv_array_append(a, jv_string(o->cmd[i]));
		free(q->on_wake);
		q->on_wake = jx_dumps(a);
		jv_free(a);
	}
}

static int cmd_create(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 1, 1);
	struct queue q;
	queue_defaults(&q);
	q.fifo = o->fifo > 0;
	q.name = queue_name_of(o->ops[0]);
	struct buf why = BUF_INIT;
	if (!q.name || queue_name_check(q.name, q.fifo, &why) != 0)
		dief(EK_USAGE, "%s", why.len ? why.s : "not a queue name");
	apply_attrs(o, &q);
	struct state *st = sqs_open(o, 1);
	int rc = queue_create(st, &q);
	if (rc == EK_OK) {
		struct buf url = BUF_INIT;
		queue_url(&url, q.name);
		jv j = jv_object_set(jv_object(), jv_string("QueueUrl"), jv_string(url.s));
		nd_write_jv(j);
		jv_free(j);
		buf_free(&url);
	}
	queue_free(&q);
	state_close(st);
	return rc;
}

static int cmd_set(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 1, 1);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	apply_attrs(o, &q);
	int rc = queue_update(st, &q);
	queue_free(&q);
	state_close(st);
	return rc;
}

static void print_queue(const struct queue *q, void *arg)
{
	(void)arg;
	struct buf url = BUF_INIT, arn = BUF_INIT;
	queue_url(&url, q->name);
	ids_arn(&arn, "sqs", q->name);
	jv j = jv_object();
	j = jv_object_set(j, jv_string("QueueName"), jv_string(q->name));
	j = jv_object_set(j, jv_string("QueueUrl"), jv_string(url.s));
	j = jv_object_set(j, jv_string("QueueArn"), jv_string(arn.s));
	nd_write_jv(j);
	jv_free(j);
	buf_free(&url);
	buf_free(&arn);
}

static int cmd_list(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 0, 0);
	struct state *st;
	int rc = state_open(o->state, 0, &st);
	if (rc || !st)
		return rc;
	rc = queue_list(st, print_queue, NULL);
	state_close(st);
	return rc;
}

static int cmd_get_attributes(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 1, 1);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	struct qcounts c;
	int rc = queue_counts(st, &q, &c);
	if (rc == EK_OK) {
		jv j = queue_attributes(&q, &c);
		nd_write_jv(j);
		jv_free(j);
	}
	queue_free(&q);
	state_close(st);
	return rc;
}

static int cmd_delete_queue(struct opts *o)
{
	struct state *st = sqs_open(o, 0);
	int rc = st ? queue_delete(st, o->ops[0]) : EK_NO;
	if (rc == EK_NO) {
		warnf("no queue named '%s'", o->ops[0]);
		rc = EK_USAGE;
	}
	state_close(st);
	return rc;
}

static int cmd_purge(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 1, 1);
	struct state *st = sqs_open(o, 0);
	struct queue q;
	sqs_queue(st, o->ops[0], &q);
	struct buf why = BUF_INIT;
	int status;
	const char *code = queue_purge(st, &q, &why, &status);
	if (!status && code)
		warnf("%s: %s", code, why.s);
	buf_free(&why);
	queue_free(&q);
	state_close(st);
	return status ? status : code ? EK_FAIL : EK_OK;
}

static int cmd_redrive(const struct cli_cmd *cmd, struct opts *o)
{
	need_ops(cmd, o, 1, 1);
	struct state *st = sqs_open(o, 0);
	struct queue q, to;
	sqs_queue(st, o->ops[0], &q);
	if (o->to)
		sqs_queue(st, o->to, &to);
	long moved = 0;
	int rc = queue_redrive(st, &q, o->to ? to.name : NULL, &moved);
	if (rc == EK_OK) {
		jv j = jv_object_set(jv_object(), jv_string("ApproximateNumberOfMessagesMoved"),
		                     jv_number((double)moved));
		nd_write_jv(j);
		jv_free(j);
	}
	if (o->to)
		queue_free(&to);
	queue_free(&q);
	state_close(st);
	return rc;
}

int main(int argc, char **argv)
{
	cli_init(&sqs_prog, argc, argv);
	const struct cli_cmd *cmd = cli_command(&sqs_prog, argc, argv);
	/* cli_command moved the command word to the end: cut it off, or the
	 * CMD of "work Q -- CMD ARG..." would get it as one more argument. */
	argc--;
	argv[argc] = NULL;
	struct opts o;
	parse(cmd, argc, argv, &o);
	const char *n = cmd->name;
	int rc;
	if (strcmp(n, "create") == 0)
		rc = cmd_create(cmd, &o);
	else if (strcmp(n, "set-attributes") == 0)
		rc = cmd_set(cmd, &o);
	else if (strcmp(n, "list") == 0)
		rc = cmd_list(cmd, &o);
	else if (strcmp(n, "get-attributes") == 0)
		rc = cmd_get_attributes(cmd, &o);
	else if (strcmp(n, "delete-queue") == 0) {
		need_ops(cmd, &o, 1, 1);
		rc = cmd_delete_queue(&o);
	} else if (strcmp(n, "delete") == 0 && o.whole_queue) {
		need_ops(cmd, &o, 1, 1);
		rc = cmd_delete_queue(&o);
	} else if (strcmp(n, "delete") == 0) {
		need_ops(cmd, &o, 1, 1000000);
		rc = cmd_delete(&o);
	} else if (strcmp(n, "purge") == 0)
		rc = cmd_purge(cmd, &o);
	else if (strcmp(n, "redrive") == 0)
		rc = cmd_redrive(cmd, &o);
	else if (strcmp(n, "send") == 0) {
		need_ops(cmd, &o, 1, 2);
		rc = cmd_send(&o);
	} else if (strcmp(n, "recv") == 0) {
		need_ops(cmd, &o, 1, 1);
		rc = cmd_recv(&o);
	} else if (strcmp(n, "change-visibility") == 0) {
		need_ops(cmd, &o, 3, 3);
		rc = cmd_change_visibility(&o);
	} else if (strcmp(n, "work") == 0) {
		need_ops(cmd, &o, 1, 1);
		if (!o.cmd || !o.cmd[0])
			cli_usage_error(&sqs_prog, cmd, "the command goes after '--': "
			                "sqs-poll work QUEUE -- CMD [ARG...]");
		rc = cmd_work(&o);
	} else if (strcmp(n, "workers") == 0) {
		need_ops(cmd, &o, 0, 1);
		rc = cmd_workers(&o);
	} else {
		need_ops(cmd, &o, 1, 1);
		rc = cmd_drain(&o);
	}
	return cli_exit(rc);
}
