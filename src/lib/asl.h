/*
 * asl.h: Amazon States Language: load and validate a state machine
 * definition, and run executions of it the way AWS Step Functions does
 * (JSONPath query language).
 *
 * Ownership: asl_load returns a machine the caller frees with asl_free; it
 * keeps its own copy of the definition. asl_validate consumes its argument
 * and returns a value the caller owns. asl_run does not consume INPUT (it
 * copies it) and fills a result the caller releases with
 * asl_result_free. Within an execution, Parallel branches and Map
 * iterations run at once on the calling thread (an event loop). One
 * machine serves any number of executions, one after another; not from
 * several threads at once, since libjq's reference
 * counts are not atomic (sfn-run -j uses processes instead).
 */
#ifndef EVKIT_ASL_H
#define EVKIT_ASL_H

#include <jq.h>

typedef struct asl_machine asl_machine;

/*
 * Check DEF (consumed) as ValidateStateMachineDefinition does. Returns
 * {"result": "OK"|"FAIL", "diagnostics": [{"severity", "code", "message",
 * "location"}], "truncated": false}.
 */
jv asl_validate(jv def);
/* The same for a state machine of TYPE "STANDARD" or "EXPRESS" (Express
 * workflows refuse .sync, .waitForTaskToken and activities). */
jv asl_validate_type(jv def, const char *type);

/* Load DEF (not consumed). On an invalid definition returns NULL and, when
 * err is not NULL, the first diagnostic's message in *err (caller frees). */
asl_machine *asl_load(jv def, char **err);
void asl_free(asl_machine *m);

/*
 * A Task's work: called with the state's Resource and its effective input
 * (Parameters applied; consumed). Returns 0 and the raw result in *result,
 * or -1 with an error name and cause in *error and *cause (malloc'd; the
 * cause may be NULL). TIMEOUT_S is when to give up: the state's
 * TimeoutSeconds or HeartbeatSeconds, the shorter, 0 if neither; the
 * callback reports a timeout as the error "States.Timeout".
 */
typedef int (*asl_task_fn)(void *ctx, const char *resource, jv input,
                           double timeout_s, jv *result, char **error,
                           char **cause);

/*
 * Tasks without blocking: task_start starts the work and returns at once;
 * the host reports its end exactly once, with asl_task_succeed (RESULT
 * consumed) or asl_task_fail (strings copied, either may be NULL), from
 * inside task_wait, which asl_run calls when it has nothing else to do: it
 * waits up to TIMEOUT_MS (-1: until something happens) for tasks to end.
 * Reporting from inside task_start is allowed too. INPUT is consumed.
 */
struct asl_task;
typedef void (*asl_task_start_fn)(void *ctx, struct asl_task *t, const char *resource,
                                  jv input, double timeout_s);
typedef void (*asl_task_wait_fn)(void *ctx, int timeout_ms);
/* Optional: the task's branch was stopped (a sibling failed, the execution
 * timed out or was aborted): end it soon. The host still reports it, later,
 * never from inside task_cancel; the engine ignores the outcome. */
typedef void (*asl_task_cancel_fn)(void *ctx, struct asl_task *t);
void asl_task_succeed(struct asl_task *t, jv result);
void asl_task_fail(struct asl_task *t, const char *error, const char *cause);

struct asl_options {
	const char *exec_name;      /* required: the execution's name */
	const char *exec_arn;
	const char *sm_name;
	const char *sm_arn;
	const char *role_arn;       /* $$.Execution.RoleArn */
	int sync_express;           /* StartSyncExecution: no $$.Execution.RedriveCount */
	double start_time;          /* seconds since the epoch; 0: now */
	int virtual_time;           /* Wait and retry intervals move a clock */
	int history;                /* collect GetExecutionHistory events */
	asl_task_fn task;           /* NULL: every Task fails, unless... */
	asl_task_start_fn task_start;  /* ...Tasks run without blocking */
	asl_task_wait_fn task_wait;
	asl_task_cancel_fn task_cancel;
	void *task_ctx;             /* for task, task_start and task_wait */
	const char *s3_root;        /* ItemReader: S3 bucket B is ROOT/B ("." if NULL) */
	size_t input_size;          /* the input's JSON text length, if known */
	int (*stopping)(void);      /* non-zero: abort (a Wait ends at once) */
};

enum asl_status { ASL_SUCCEEDED, ASL_FAILED, ASL_TIMED_OUT, ASL_ABORTED };

struct asl_result {
	enum asl_status status;
	jv output;          /* jv_null() unless SUCCEEDED */
	char *error, *cause;  /* FAILED: the error and cause (either may be NULL) */
	jv history;         /* array of events when options.history, else null */
	double start, stop; /* seconds since the epoch (virtual when asked) */
};

/* Run one execution to its end. */
void asl_run(const asl_machine *m, jv input, const struct asl_options *o,
             struct asl_result *r);

/*
 * Many executions at once on one thread: start them on a loop, then call
 * asl_loop_run until asl_loop_busy is 0. asl_start runs the execution as
 * far as it goes without waiting; DONE(ARG, R) is called when it ends,
 * maybe before asl_start returns, with R filled. O and M must live until
 * then; R until then too (the caller owns it after). The loop takes its
 * task_wait, task_ctx and stopping from HOOKS; each execution uses its own
 * options otherwise. asl_loop_run runs what is ready and, with BLOCK,
 * then waits once for time to pass or for the host (task_wait, which may
 * poll the host's own descriptors: it is called with a timeout even when
 * no task runs, unless nothing could ever end the wait). asl_loop_busy
 * counts executions not yet done, and done ones whose Tasks still run.
 * asl_loop_free first runs the loop until it is not busy.
 */
typedef struct asl_loop asl_loop;
typedef void (*asl_done_fn)(void *arg, struct asl_result *r);
asl_loop *asl_loop_new(const struct asl_options *hooks);
void asl_start(asl_loop *l, const asl_machine *m, jv input, const struct asl_options *o,
               struct asl_result *r, asl_done_fn done, void *arg);
int asl_loop_busy(const asl_loop *l);
void asl_loop_run(asl_loop *l, int block);
void asl_loop_free(asl_loop *l);
void asl_result_free(struct asl_result *r);
const char *asl_status_name(enum asl_status s);

/* Append V (not consumed) to OUT as compact JSON, exactly as
 * jv_dump_string(v, 0) would write it, only faster. */
struct buf;
void asl_json_dump(jv v, struct buf *out);

/* RFC 3339 with milliseconds, UTC, for a time in seconds since the epoch;
 * writes at most 32 bytes into out. */
void asl_format_time(double t, char out[32]);

/* Parse an ISO-8601 extended offset date-time as AWS accepts it
 * ("2016-03-14T01:59:00Z", fractions, "+01:00"). 0 on success. */
int asl_parse_time(const char *s, double *out);

#endif
