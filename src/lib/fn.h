/*
 * fn.h: local functions, evkit's Lambda. A function is a command (an argv
 * vector, never a shell string) with a timeout, extra environment and a
 * mode, stored in the state file's functions table:
 *
 *   spawn   one process per invocation: the payload on its stdin, its
 *           answer (one JSON value) on its stdout.
 *   stream  one process kept warm: each invocation writes the payload as
 *           one line to its stdin and reads one answer line from its
 *           stdout. A process that dies or times out is started again at
 *           the next invocation.
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
 * struct. An fn_invoker owns the warm processes (fn_invoker_free ends
 * them). Results are appended to the caller's buffer.
 */
#ifndef EVKIT_FN_H
#define EVKIT_FN_H

#include <jv.h>
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

struct fn_invoker;
struct fn_invoker *fn_invoker_new(void);
void fn_invoker_free(struct fn_invoker *inv);

enum { FN_OK = 0, FN_ERROR = 1 };
/*
 * Invoke f with payload (the JSON text of one value). Appends to result
 * the answer's JSON text on one line (FN_OK), or the error object
 * (FN_ERROR). The answer keeps the handler's own bytes (numbers are not
 * rounded), with line breaks between tokens turned into spaces.
 */
int fn_invoke(struct fn_invoker *inv, const struct fn *f, const char *payload,
              size_t len, struct buf *result);

#endif
