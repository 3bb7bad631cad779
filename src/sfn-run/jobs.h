/*
 * jobs.h: run `sfn-run run` lines in N worker processes (jobs.c).
 *
 * Each worker runs WORKER(ctx, index, in, out) once (INDEX: 0 to N-1): it
 * reads records
 * "LINENO\tRAW" (one a line) from fd IN until its end, splits each with
 * jobs_record, and writes one answer per record to fd OUT, in the order
 * the records came, each made by jobs_answer: the text to print, if any
 * (without a newline), and JOB_OK, JOB_FAILED or JOB_REJECTED.
 */
#ifndef SFN_RUN_JOBS_H
#define SFN_RUN_JOBS_H

#include <stddef.h>

#include "util.h"

enum { JOB_OK = 0, JOB_FAILED = 1, JOB_REJECTED = 2 };

typedef void (*job_worker_fn)(void *ctx, int index, int in, int out);

/* Returns 0, or -1 when a worker ended badly; sets *failed when an
 * execution failed and counts rejected lines in *rejected. With STRICT the
 * first rejected line stops everything after it. DEPTH: lines in flight
 * per worker at most. */
int jobs_run(int n, int depth, job_worker_fn worker, void *ctx, int strict, int *failed,
             long *rejected);

/* A record's line number and raw line; -1 when it is not a record. */
int jobs_record(const char *line, size_t len, long *lineno, const char **raw, size_t *rawlen);
/* Append the answer record for RC and TEXT (LEN bytes) to OUT. */
void jobs_answer(struct buf *out, int rc, const char *text, size_t len);
/* Write all of S to FD (a worker's answers); ends the worker on an error. */
void jobs_write(int fd, const char *s, size_t n);

#endif
