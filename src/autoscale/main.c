/*
 * autoscale: the worker auto scaler of the SQS poller architecture. Each
 * run takes the queue's lock, classifies its workers, drops the dead ones
 * (their messages become visible again), decides with scale.h, starts or
 * retires workers, records the decision and prints it as one event.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "ids.h"
#include "json.h"
#include "ndjson.h"
#include "proc.h"
#include "queue.h"
#include "scale.h"
#include "scaler.h"
#include "state.h"

enum { OP_MIN = 0x100, OP_MAX, OP_PER, OP_TOL, OP_WINDOW, OP_ALIVE, OP_DELAYED, OP_DRY,
       OP_EVERY, OP_LOCK_WAIT };

#define D(id, name, arg, help) { id, name, 0, arg, help, CC_NONE, NULL }

static const struct cli_opt common_opts[] = { CLI_OPT_HELP, CLI_OPT_STATE, CLI_END };

static const struct cli_opt run_opts[] = {
	D(OP_ALIVE, "alive", "TIME", "a worker is alive this long after calling home (default 5m)"),
	D(OP_DELAYED, "count-delayed", NULL, "count delayed messages as load"),
	D(OP_DRY, "dry-run", NULL, "decide and print, but start and retire nothing"),
	D(OP_EVERY, "every", "TIME", "run again and again, this often (else once, for cron)"),
	D(OP_LOCK_WAIT, "lock-wait", "TIME", "wait this long for another run's lock (default 10s)"),
	D(OP_MAX, "max", "N", "never more workers than N (required)"),
	D(OP_MIN, "min", "N", "never fewer workers than N (default 0)"),
	D(OP_PER, "per-worker", "N", "messages one worker should have (required)"),
	D(OP_WINDOW, "scale-down-window", "TIME", "scale down only to the highest need of this "
	  "window, to zero after this long idle (default 300s)"),
	D(OP_TOL, "tolerance", "PCT", "skip changes within PCT percent (default 10)"),
	CLI_END,
};

static const struct cli_opt no_opts[] = { CLI_END };

static void complete_queues(int operand, const char *state_path);

static const struct cli_cmd commands[] = {
	{ "status", "QUEUE", "print the queue's workers: id, state, last call home, handled",
	  no_opts, { CC_DYNAMIC, CC_NONE, CC_NONE, CC_NONE }, complete_queues },
	{ NULL, NULL, NULL, NULL, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
};

/* The run is the program's default: "autoscale QUEUE [OPTIONS] -- CMD". */
static const struct cli_cmd run_cmd = {
	"QUEUE", "--max N --per-worker N [OPTIONS] -- WORKER_CMD [ARG...]",
	"scale the workers of QUEUE to its load, once or --every TIME",
	run_opts, { CC_DYNAMIC, CC_FILE, CC_FILE, CC_FILE }, complete_queues,
};

static const struct cli_prog prog = {
	"autoscale", "The worker auto scaler of the SQS poller: starts and retires workers.",
	common_opts, NULL,
	"usage: autoscale QUEUE --max N --per-worker N [OPTIONS] -- WORKER_CMD [ARG...]\n"
	"       autoscale status QUEUE\n"
	"Each run prints one event (detail-type \"Scaling Decision\").\n"
	"Exit status: 0 success (also a run skipped for another's lock); 1 a worker\n"
	"could not be started; 2 usage error or no such queue; 4 the state file\n"
	"cannot be used; 75 busy, retry.\n",
};

struct opts {
	const char *state, *queue;
	struct scale_policy pol;
	int64_t alive, every, lock_wait;
	int dry, have_max, have_per;
	char **cmd;
};

static void each_queue_name(const struct queue *q, void *arg)
{
	(void)arg;
	puts(q->name);
}

static void complete_queues(int operand, const char *state_path)
{
	struct state *st;
	if (operand != 0 || state_open(state_path, 0, &st) != EK_OK || !st)
		return;
	queue_list(st, each_queue_name, NULL);
	state_close(st);
}

static int64_t duration(const char *opt, const char *a)
{
	int64_t ms;
	if (clock_parse_duration(a, &ms) != 0)
		dief(EK_USAGE, "--%s: '%s' is not a time (a number of seconds, or 500ms, 30s, 5m, 2h)",
		     opt, a);
	return ms;
}

static struct state *open_state(const struct opts *o, struct queue *q)
{
	struct state *st;
	int rc = state_open(o->state, 0, &st);
	if (rc)
		exit(cli_exit(rc));
	rc = st ? queue_get(st, o->queue, q) : EK_NO;
	if (rc == EK_NO)
		dief(EK_USAGE, "no queue named '%s' (sqs-poll create makes one)", o->queue);
	if (rc)
		exit(cli_exit(rc));
	return st;
}

/* Start one worker, detached; its id into id (37 bytes). */
static int start_worker(const struct opts *o, struct state *st, const struct queue *q,
                        const char *state_abs, char *id, struct buf *err)
{
	ids_uuid(id);
	struct buf dir = BUF_INIT, log = BUF_INIT, e1 = BUF_INIT, e2 = BUF_INIT, e3 = BUF_INIT;
	char *slash = strrchr(state_abs, '/');
	buf_add(&dir, state_abs, (size_t)(slash - state_abs));
	buf_adds(&dir, "/logs");
	mkdir(dir.s, 0700);
	buf_printf(&log, "%s/%s.log", dir.s, id);
	buf_printf(&e1, "EVKIT_WORKER_ID=%s", id);
	buf_printf(&e2, "SQS_QUEUE_NAME=%s", q->name);
	buf_printf(&e3, "EVKIT_STATE=%s", state_abs);
	char *env[] = { e1.s, e2.s, e3.s, NULL };
	struct proc_opts po = { o->cmd, env, 0, 0 };
	pid_t pid;
	int rc = proc_detach(&po, log.s, &pid);
	if (rc) {
		buf_printf(err, "cannot start '%s': %s", o->cmd[0], strerror(rc));
	} else {
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		rc = scaler_add_starting(st, id, q->name, (long)pid, host, log.s);
	}
	buf_free(&dir);
	buf_free(&log);
	buf_free(&e1);
	buf_free(&e2);
	buf_free(&e3);
	return rc;
}

static int by_idle_first(const void *a, const void *b)
{
	const struct sworker *x = *(const struct sworker *const *)a;
	const struct sworker *y = *(const struct sworker *const *)b;
	if ((x->in_flight > 0) != (y->in_flight > 0))
		return x->in_flight > 0 ? 1 : -1;
	/* Then the youngest: the oldest have warm caches and a history. */
	return x->started_ms < y->started_ms ? 1 : x->started_ms > y->started_ms ? -1 : 0;
}

static int run_once(const struct opts *o)
{
	struct queue q;
	struct state *st = open_state(o, &q);
	char me[40];
	ids_uuid(me);
	struct buf lock = BUF_INIT;
	buf_printf(&lock, "autoscale:%s", q.name);
	int got, rc = scaler_lock(st, lock.s, me, 60000, o->lock_wait, &got);
	if (rc || !got) {
		if (!rc)
			warnf("%s: another run holds the lock; this one is skipped", q.name);
		buf_free(&lock);
		queue_free(&q);
		state_close(st);
		return rc;
	}
	int64_t now = clock_now_ms();
	struct qcounts c = { 0, 0, 0 };
	struct sworker *w = NULL;
	struct scale_sample *hist = NULL;
	int nw = 0, nh = 0;
	jv started = jv_array(), retired = jv_array(), dead = jv_array();
	struct buf errs = BUF_INIT;
	long released = 0;
	if ((rc = scaler_workers(st, q.name, now, o->alive, &w, &nw)))
		goto out;
	int live = 0, starting = 0, draining = 0;
	for (int i = 0; i < nw; i++) {
		switch (w[i].state) {
		case SW_LIVE: live++; break;
		case SW_STARTING: starting++; break;
		case SW_DRAINING: draining++; break;
		case SW_DEAD:
			dead = jv_array_append(dead, jv_string(w[i].id));
			if (!o->dry) {
				long r = 0;
				if ((rc = scaler_bury(st, w[i].id, &r)))
					goto out;
				released += r;
			}
			break;
		}
	}
	/* Counted after the dead gave their messages back. */
	if ((rc = queue_counts(st, &q, &c)) ||
	    (rc = scaler_history(st, q.name, now - 2 * o->pol.window_ms, &hist, &nh)))
		goto out;
	struct scale_input in = { now, c.visible, c.in_flight, c.delayed, live, starting, draining };
	struct scale_decision d;
	scale_decide(&o->pol, &in, hist, nh, &d);
	int failed = 0;
	if (!o->dry) {
		char *state_abs = state_file_abs(st);
		for (int i = 0; i < d.start; i++) {
			char id[40];
			int r = start_worker(o, st, &q, state_abs, id, &errs);
			if (r == EK_OK) {
				started = jv_array_append(started, jv_string(id));
			} else {
				failed = 1;
				if (r != EK_FAIL && r > 0 && r != EK_USAGE && r < 64) {
					rc = r;  /* a state error */
					break;
				}
			}
		}
		free(state_abs);
		/* Retire idle live workers first; never kill: mark draining. */
		struct sworker **cand = xcalloc((size_t)nw + 1, sizeof *cand);
		int nc = 0;
		for (int i = 0; i < nw; i++)
			if (w[i].state == SW_LIVE)
				cand[nc++] = &w[i];
		qsort(cand, (size_t)nc, sizeof *cand, by_idle_first);
		for (int i = 0; i < d.retire && i < nc && rc == EK_OK; i++) {
			struct state *s2 = st;
			sqlite3_stmt *s = state_prepare(s2, "UPDATE workers SET draining = 1 WHERE id = ?1");
			sqlite3_bind_text(s, 1, cand[i]->id, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_DONE)
				retired = jv_array_append(retired, jv_string(cand[i]->id));
			sqlite3_reset(s);
		}
		free(cand);
		struct scale_sample smp = { now, d.load, d.desired };
		if (rc == EK_OK)
			rc = scaler_record(st, q.name, &smp, now - 3 * o->pol.window_ms);
	} else {
		for (int i = 0; i < d.start; i++)
			started = jv_array_append(started, jv_string("(dry run)"));
	}
	if (rc == EK_OK && failed) {
		warnf("%s: %s", q.name, errs.s);
		rc = EK_FAIL;
	}
	{
		struct buf arn = BUF_INIT;
		ids_arn(&arn, "sqs", q.name);
		jv load = jv_object();
		load = jv_object_set(load, jv_string("visible"), jv_number((double)c.visible));
		load = jv_object_set(load, jv_string("inFlight"), jv_number((double)c.in_flight));
		load = jv_object_set(load, jv_string("delayed"), jv_number((double)c.delayed));
		load = jv_object_set(load, jv_string("total"), jv_number((double)d.load));
		jv workers = jv_object();
		workers = jv_object_set(workers, jv_string("live"), jv_number(live));
		workers = jv_object_set(workers, jv_string("starting"), jv_number(starting));
		workers = jv_object_set(workers, jv_string("draining"), jv_number(draining));
		workers = jv_object_set(workers, jv_string("dead"), jv_copy(dead));
		jv det = jv_object();
		det = jv_object_set(det, jv_string("queue"), jv_string(q.name));
		det = jv_object_set(det, jv_string("load"), load);
		det = jv_object_set(det, jv_string("workers"), workers);
		det = jv_object_set(det, jv_string("desired"), jv_number(d.desired));
		det = jv_object_set(det, jv_string("target"), jv_number(d.target));
		det = jv_object_set(det, jv_string("reason"), jv_string(d.reason));
		det = jv_object_set(det, jv_string("started"), jv_copy(started));
		det = jv_object_set(det, jv_string("retired"), jv_copy(retired));
		det = jv_object_set(det, jv_string("releasedMessages"), jv_number((double)released));
		det = jv_object_set(det, jv_string("dryRun"), jv_bool(o->dry));
		jv res = jv_array_append(jv_array(), jv_string(arn.s));
		jv e = ids_event("evkit.autoscale", "Scaling Decision", det, res);
		nd_write_jv(e);
		nd_flush();
		jv_free(e);
		buf_free(&arn);
	}
out:
	scaler_unlock(st, lock.s, me);
	jv_free(started);
	jv_free(retired);
	jv_free(dead);
	buf_free(&errs);
	buf_free(&lock);
	free(hist);
	scaler_free_workers(w, nw);
	queue_free(&q);
	state_close(st);
	return rc;
}

static int status(const struct opts *o)
{
	struct queue q;
	struct state *st = open_state(o, &q);
	struct sworker *w;
	int n;
	int rc = scaler_workers(st, q.name, clock_now_ms(), o->alive, &w, &n);
	for (int i = 0; rc == EK_OK && i < n; i++) {
		jv j = scaler_worker_json(&w[i]);
		nd_write_jv(j);
		jv_free(j);
	}
	if (rc == EK_OK)
		scaler_free_workers(w, n);
	queue_free(&q);
	state_close(st);
	return rc;
}

/* Completion: autoscale has no subcommand table (the queue comes first),
 * so it answers "--complete CWORD WORDS..." itself, from the same tables. */
static void complete(int argc, char **argv)
{
	int cword = argc > 2 ? atoi(argv[2]) : 0;
	char **w = argv + 3;
	int nw = argc - 3;
	const char *cur = cword < nw ? w[cword] : "";
	const char *state = NULL;
	for (int i = 1; i < cword && i < nw; i++) {
		if (strcmp(w[i], "--") == 0) {
			puts("@file");
			return;
		}
		if (strcmp(w[i], "--state") == 0 && i + 1 < nw)
			state = w[i + 1];
	}
	if (cword > 1 && strcmp(w[cword - 1], "--state") == 0) {
		puts("@file");
		return;
	}
	if (cur[0] == '-') {
		for (const struct cli_opt *o = run_opts; o->name; o++)
			printf("--%s\n", o->name);
		puts("--help\n--state\n--version");
		return;
	}
	if (cword == 1)
		puts("status");
	if (cword == 1 || (cword == 2 && strcmp(w[1], "status") == 0))
		complete_queues(0, state);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--complete") == 0) {
		complete(argc, argv);
		return cli_exit(EK_OK);
	}
	cli_init(&prog, argc, argv);
	struct opts o;
	memset(&o, 0, sizeof o);
	o.pol.min = 0;
	o.pol.tolerance = 0.1;
	o.pol.window_ms = 300000;
	o.alive = 300000;
	o.lock_wait = 10000;
	int is_status = argc > 1 && strcmp(argv[1], "status") == 0;
	const struct cli_cmd *cmd = is_status ? &commands[0] : &run_cmd;
	if (is_status) {
		memmove(&argv[1], &argv[2], (size_t)(argc - 2) * sizeof *argv);
		argc--;
	}
	int dashes = argc;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dashes = i;
			break;
		}
	int c;
	while ((c = cli_getopt(&prog, cmd, dashes, argv)) != -1) {
		const char *a = cli_optarg;
		switch (c) {
		case OPT_STATE: o.state = a; break;
		case OP_MIN: o.pol.min = (int)cli_int("--min", a, 0, 10000); break;
		case OP_MAX: o.pol.max = (int)cli_int("--max", a, 0, 10000); o.have_max = 1; break;
		case OP_PER: o.pol.per_worker = (int)cli_int("--per-worker", a, 1, 100000000);
			o.have_per = 1; break;
		case OP_TOL: {
			char t[32];
			snprintf(t, sizeof t, "%s", a);
			size_t l = strlen(t);
			if (l && t[l - 1] == '%')
				t[l - 1] = '\0';
			o.pol.tolerance = cli_double("--tolerance", t, 0, 100) / 100;
			break;
		}
		case OP_WINDOW: o.pol.window_ms = duration("scale-down-window", a); break;
		case OP_ALIVE: o.alive = duration("alive", a); break;
		case OP_DELAYED: o.pol.count_delayed = 1; break;
		case OP_DRY: o.dry = 1; break;
		case OP_EVERY: o.every = duration("every", a); break;
		case OP_LOCK_WAIT: o.lock_wait = duration("lock-wait", a); break;
		}
	}
	if (dashes - cli_optind != 1)
		cli_usage_error(&prog, cmd, dashes - cli_optind < 1 ? "a QUEUE is needed"
		                                                    : "one QUEUE, please");
	o.queue = argv[cli_optind];
	if (is_status)
		return cli_exit(status(&o));
	if (!o.have_max || !o.have_per)
		cli_usage_error(&prog, cmd, "--max and --per-worker are needed");
	if (o.pol.min > o.pol.max)
		cli_usage_error(&prog, cmd, "--min %d is above --max %d", o.pol.min, o.pol.max);
	if (dashes < argc - 1)
		o.cmd = argv + dashes + 1;
	else if (!o.dry)
		cli_usage_error(&prog, cmd, "the worker command goes after '--' "
		                "(usually: -- sqs-poll work QUEUE -- HANDLER)");
	if (o.every <= 0)
		return cli_exit(run_once(&o));
	int rc = EK_OK;
	while (!cli_stopping()) {
		rc = run_once(&o);
		if (rc == EK_STATE || rc == EK_USAGE)
			break;
		/* Real time passes between runs even when EVKIT_NOW froze the
		 * clock (which then moves by as much): a loop never spins. */
		int64_t until = clock_mono_ms() + o.every;
		while (!cli_stopping() && clock_mono_ms() < until) {
			int64_t left = until - clock_mono_ms();
			struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
		clock_advance(o.every);
	}
	cli_signal_done();
	return cli_exit(rc);
}
