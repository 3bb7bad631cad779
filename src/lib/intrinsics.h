/*
 * intrinsics.h: the 18 intrinsic functions of Amazon States Language
 * (States.Format, States.Array, States.Hash, ...) as they appear in
 * JSONPath-mode payload templates: `"key.$": "States.Format('{}', $.x)"`.
 *
 * Arguments are string literals in single quotes (with \' \{ \} \\
 * escapes), numbers, true/false/null, paths ($..., $$..., $var...) and
 * nested calls. Paths are resolved by the caller's callback, so this module
 * knows nothing about contexts or variables.
 *
 * Ownership: intr_eval stores a value the caller owns in *out, or a message
 * the caller frees in *err. The resolver receives a path string it does not
 * own and stores an owned value in *out (or an owned message in *err).
 */
#ifndef EVKIT_INTRINSICS_H
#define EVKIT_INTRINSICS_H

#include <jq.h>

typedef int (*intr_resolver)(void *ctx, const char *path, jv *out, char **err);

/*
 * Compiled calls, for callers that evaluate one text many times: each path
 * argument is compiled once by COMPILE into a handle (freed by RELEASE),
 * and evaluation hands the handle back to the resolver.
 */
typedef struct intr_expr intr_expr;
typedef void *(*intr_path_compile)(const char *path, char **err);
typedef void (*intr_path_release)(void *handle);
typedef int (*intr_handle_resolver)(void *ctx, void *handle, jv *out, char **err);

intr_expr *intr_compile(const char *text, intr_path_compile compile,
                        intr_path_release release, char **err);
int intr_run(const intr_expr *x, intr_handle_resolver resolve, void *ctx,
             jv *out, char **err);
void intr_free(intr_expr *x);

/* Non-zero when TEXT looks like an intrinsic call ("States.Name(...)"). */
int intr_is_call(const char *text);

/* Check TEXT's syntax and function names without evaluating; 0 or -1 with
 * *err. */
int intr_check(const char *text, char **err);

/* Evaluate TEXT. Returns 0 with *out, or -1 with a message in *err
 * (AWS reports these as States.Runtime errors). */
int intr_eval(const char *text, intr_resolver resolve, void *ctx,
              jv *out, char **err);

#endif
