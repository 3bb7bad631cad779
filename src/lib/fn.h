/*
 * fn.h: local functions, evkit's Lambda. A function is a command (an argv
 * vector, never a shell string) with a timeout, extra environment and a
 * mode, stored in the state file's functions table:
 *
 *   spawn   one process per invocation: the payload on its stdin, its
 *           answer (one JSON value) on its stdout.
 *   stream  one process kept warm (more when invocations overlap, see
 *           fn_start): each invocation writes the payload as one line to
 *           its stdin and reads one answer line from its stdout. A process
 *           that dies or times out is started again at the next invocation.
 *
 * A function fails, with an error shaped like Lambda's
 * {"errorType":..,"errorMessage":..}, when it exits non-zero
 * (Runtime.ExitError), is killed at its timeout (Sandbox.Timedout), cannot
 * be started (Runtime.InvalidEntrypoint), answers something that is not
 * JSON (Runtime.MarshalError) or more than 6 MB
 * (Function.ResponseSizeTooLarge). A handler names its own error by
 * answering a JSON object with a string "errorType" member, or (spawn
 * mode) by exiting non-zero with such an object as the last line of its
 * stderr.
 *
 * Ownership: struct fn owns its strings (fn_free). fn_get fills a caller's
 * struct. An fn_invoker owns its processes and the invocations in flight
 * (fn_invoker_free ends them). fn_invoke appends results to the caller's
 * buffer; fn_start copies the function and payload, and its callback
 * borrows the result for the call.
 */
#ifndef EVKIT_FN_H
#define EVKIT_FN_H

#include <jv.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "util.h"

enum fn_mode { FN_SPAWN, FN_STREAM };

struct fn {
	char *name;
	char **argv;         /* NULL-terminated, at least one entry */
	char **env;          /* "K=V" entries, NULL-terminated (may be empty) */
	int64_t timeout_ms;
	enum fn_mode mode;
	char created[40], modified[40];
};

#define FN_DEFAULT_TIMEOUT_MS 3000      /* Lambda's default */
#define FN_MAX_TIMEOUT_MS 900000        /* Lambda's limit, 15 minutes */
#define FN_MAX_PAYLOAD (6 * 1024 * 1024) /* synchronous invocation limit */

/* Lambda's rule: 1 to 64 of [A-Za-z0-9_-]. 0 when valid, else -1 and why. */
int fn_name_check(const char *name, struct buf *why);
const char *fn_mode_name(enum fn_mode m);
void fn_free(struct fn *f);

/* Store f; an existing function of that name is an error unless replace
 * (its created date is then kept). EK_OK, EK_USAGE (exists; reported),
 * or a state error status. */
int fn_put(struct state *st, const struct fn *f, int replace);
/* Find by name or Lambda ARN. EK_OK and *out filled, EK_NO when there is
 * no such function (not reported), or a state error status. */
int fn_get(struct state *st, const char *name_or_arn, struct fn *out);
/* EK_OK, EK_NO when there was none, or a state error status. */
int fn_delete(struct state *st, const char *name_or_arn);
/* Calls each(f, arg) for every function in name order; EK_OK or a state
 * error status. f is valid during the call only. */
int fn_list(struct state *st, void (*each)(const struct fn *f, void *arg), void *arg);

/* The configuration as Lambda's GetFunctionConfiguration names it, plus
 * Command and Mode. A new jv. */
jv fn_to_json(const struct fn *f);

/*
 * An invoker runs invocations: one at a time with fn_invoke, or many at
 * once, from one thread's poll(2) loop, with fn_start. It owns the
 * processes (spawn-mode calls in flight, warm stream-mode processes) and
 * the invocations not yet done; fn_invoker_free ends them all (busy
 * processes are killed with their process group, idle warm ones get their
 * stdin closed and a second to exit) and reaps them, calling no callback.
 * Not thread-safe: one thread uses an invoker.
 */
struct fn_invoker;
struct fn_invoker *fn_invoker_new(void);
void fn_invoker_free(struct fn_invoker *inv);

enum { FN_OK = 0, FN_ERROR = 1 };
/*
 * Invoke f with payload (the JSON text of one value). Appends to result
 * the answer's JSON text on one line (FN_OK), or the error object
 * (FN_ERROR). The answer keeps the handler's own bytes (numbers are not
 * rounded), with line breaks between tokens turned into spaces.
 *
 * It is fn_start and the loop below run until this call ends: other
 * invocations in flight on the same invoker go on meanwhile, and their
 * callbacks may be called from inside it.
 */
int fn_invoke(struct fn_invoker *inv, const struct fn *f, const char *payload,
              size_t len, struct buf *result);

/*
 * Asynchronous invocation, for a loop like this one:
 *
 *	while (fn_pending(inv)) {
 *		int timeout = -1;
 *		int n = fn_pollfds(inv, fds, fn_pollfds_max(inv), &timeout);
 *		poll(fds, n, timeout);          (with the loop's own fds too)
 *		fn_dispatch(inv, fds, n);
 *	}
 *
 * Processes start inside fn_pollfds (queued invocations, as the limit
 * allows) and end inside fn_dispatch; fn_start only queues. The fds
 * fn_pollfds returns are the invoker's: do not read, write or close them;
 * they stay open until the next fn_dispatch and are close-on-exec (no
 * child inherits them). Each invocation's timeout runs from the moment a
 * process takes it, not while it waits in the queue. Warm processes
 * inherit our stderr; a spawn-mode handler's stderr is captured and
 * written to ours when it ends. An fn_start begins at the next
 * fn_pollfds. There is no SIGCHLD handler: a process that closed its
 * output but has not exited yet is looked at again every 1 to 32 ms
 * (through *timeout_ms) until it is reaped or its deadline kills it.
 */

/* Called once when an asynchronous invocation ends: status FN_OK or FN_ERROR
 * and the same result text fn_invoke would have appended (answer JSON on one
 * line, or the Lambda error object). RESULT is valid during the call only.
 * It may call fn_start, fn_pending and fn_set_max_procs (and fn_invoke,
 * which runs the loop itself), never fn_invoker_free. */
typedef void (*fn_done_fn)(void *arg, int status, const char *result, size_t len);
/* Start invoking F (which need only live during this call: copy what you keep)
 * with PAYLOAD (len bytes, copied). Never blocks. Returns 0; DONE will be called
 * later from fn_dispatch (never from inside fn_start itself, even on an immediate
 * failure such as a command that cannot start). */
int fn_start(struct fn_invoker *inv, const struct fn *f, const char *payload, size_t len,
             fn_done_fn done, void *arg);
/* Invocations started and not yet done. */
int fn_pending(const struct fn_invoker *inv);
/* Fill at most MAX pollfds for the invoker's outstanding work, return how many;
 * lower *timeout_ms (if >= 0 else set it) to the time until the nearest deadline
 * (function timeouts), 0 when something can finish without waiting (e.g. a queued
 * immediate failure). MAX below fn_pollfds_max leaves some work unpolled (it
 * then progresses only when its deadline passes). */
int fn_pollfds(struct fn_invoker *inv, struct pollfd *fds, int max, int *timeout_ms);
/* The most pollfds fn_pollfds may want now: 3 per process it may run. */
int fn_pollfds_max(const struct fn_invoker *inv);
/* After poll(2) on those fds (revents filled): do the I/O that is ready, enforce
 * deadlines (kill the process group at a timeout, as fn_invoke does), reap, and
 * call DONE for each invocation that ended. Safe if a DONE callback calls fn_start.
 * fds that are not the invoker's are ignored; n 0 (or fds with no revents) only
 * enforces deadlines, reaps and calls callbacks. */
void fn_dispatch(struct fn_invoker *inv, struct pollfd *fds, int n);
/* Most processes the invoker runs at once (default 64); further fn_start calls
 * queue until one ends. Stream mode: up to this many warm processes per function,
 * each serving one invocation at a time; an invocation uses an idle warm process if
 * there is one, else starts another (within the limit), else waits. An idle warm
 * process is ended to make room when the limit is reached. */
void fn_set_max_procs(struct fn_invoker *inv, int n);
/* Stop the invocations started with ARG: a queued one ends at once, a
 * running one as at its timeout (its process group killed). Their DONE
 * is still called, from fn_dispatch, with the error. */
void fn_cancel(struct fn_invoker *inv, void *arg);

#endif
