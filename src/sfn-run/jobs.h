/*
 * jobs.h: run `sfn-run run` lines in N worker processes (jobs.c).
 *
 * ONE runs in a worker for each input line: RAW is the line, LEN bytes
 * followed by a NUL, LINENO its 1-based number. It appends the text to print, if any, to OUT
 * (without a newline) and returns JOB_OK, JOB_FAILED or JOB_REJECTED.
 */
#ifndef SFN_RUN_JOBS_H
#define SFN_RUN_JOBS_H

#include <stddef.h>

#include "util.h"

enum { JOB_OK = 0, JOB_FAILED = 1, JOB_REJECTED = 2 };

typedef int (*job_fn)(void *ctx, const char *raw, size_t len, long lineno, struct buf *out);

/* Returns 0, or -1 when a worker ended badly; sets *failed when an
 * execution failed and counts rejected lines in *rejected. With STRICT the
 * first rejected line stops everything after it. */
int jobs_run(int n, job_fn one, void *ctx, int strict, int *failed, long *rejected);

#endif
