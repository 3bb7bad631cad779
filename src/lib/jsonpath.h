/*
 * jsonpath.h: the JSONPath dialect Amazon States Language uses (Jayway's):
 * `$`, `.name`, `['name']`, `[n]` (negative counts from the end), `[*]`,
 * `.*`, `[a:b]` slices, `[0,2]` and `['a','b']` unions, `..name` recursive
 * descent and `[?(@.x op literal)]` filters with `&&`, `||` and `!`.
 *
 * A path is *definite* when it names one place (only names and single
 * indexes): evaluating it yields that value or nothing. An indefinite path
 * yields an array of every match, possibly empty, as Jayway does.
 *
 * Ownership: jp_compile returns a path the caller frees with jp_free. The
 * jv arguments of jp_eval and jp_set follow libjq's rule (consumed) except
 * where noted; *out receives a value the caller owns.
 */
#ifndef EVKIT_JSONPATH_H
#define EVKIT_JSONPATH_H

#include <jq.h>

typedef struct jp_path jp_path;

/* Compile TEXT, which starts with '$' (the caller strips a "$$" or a
 * variable name down to "$..." first). NULL on a syntax error, with a
 * message in *err (the caller frees it) when err is not NULL. */
jp_path *jp_compile(const char *text, char **err);
void jp_free(jp_path *p);

int jp_definite(const jp_path *p);
/* Non-zero for the bare "$". */
int jp_is_root(const jp_path *p);

/* Evaluate P on ROOT (not consumed). Returns 0 and the value in *out, or
 * -1 when a definite path has no value there. */
int jp_eval(const jp_path *p, jv root, jv *out);

/* Put VALUE (consumed) at definite path P inside *doc, creating objects on
 * the way, as ResultPath does. Returns 0, or -1 when the path is not
 * definite or crosses a value that is not an object (array elements can be
 * replaced but not added). */
int jp_set(const jp_path *p, jv *doc, jv value);

/* The canonical bracket form Jayway prints in its messages:
 * "$.a.b" -> "$['a']['b']". The caller frees the result. */
char *jp_canonical(const jp_path *p);

#endif
