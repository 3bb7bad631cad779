/*
 * ndjson.h: newline-delimited JSON in and out.
 *
 * The reader returns one line at a time, of any length, with its raw bytes
 * (so a record routed unchanged leaves byte for byte as it came), its file
 * name and line number (for "PROG: FILE:LINE: why" messages). Parsing is a
 * separate, optional step (nd_parse), because some programs never need the
 * whole value. A bad line never stops the reader: the next call returns the
 * next line. A last line without a final newline is still a line; a '\r'
 * before the newline is dropped; lines holding only blanks are skipped.
 *
 * Output goes through stdout's buffer. Before the reader does a read that
 * may block (a pipe or a terminal, not a regular file) it flushes stdout,
 * so what was written for one input line reaches the next program before
 * this one waits for more input, without a flush per line on file input.
 *
 * Ownership: an nd_reader owns its buffer; nd_line.raw points into it and
 * is valid until the next nd_next or nd_close. nd_parse returns a new jv
 * the caller frees.
 */
#ifndef EVKIT_NDJSON_H
#define EVKIT_NDJSON_H

#include <jv.h>
#include <stddef.h>

#include "util.h"

struct nd_reader;

struct nd_line {
	const char *raw;   /* the line's bytes, without the newline; NUL-terminated */
	size_t len;
	long lineno;       /* 1-based */
	const char *file;  /* "stdin" or the path given */
};

/* path NULL or "-" reads stdin. Returns NULL with errno set when the file
 * cannot be opened. */
struct nd_reader *nd_open(const char *path);
/* Read from an open descriptor; name is used in messages. The descriptor
 * is not closed by nd_close. */
struct nd_reader *nd_fdopen(int fd, const char *name);
/* 1: a line is in *line; 0: end of input (or a stop signal arrived);
 * -1: a read error, reported on stderr. */
int nd_next(struct nd_reader *r, struct nd_line *line);
void nd_close(struct nd_reader *r);
/* 1 when the next nd_next can return a line without reading (a whole line
 * is buffered, or the input has ended): for batching what is already here
 * without waiting for more. */
int nd_ready(struct nd_reader *r);

/* Parse a line as one JSON value; on failure returns jv_invalid() and
 * appends the reason to why (see jx_parse). */
jv nd_parse(const struct nd_line *line, struct buf *why);

/*
 * Rejected lines: nd_reject reports "PROG: FILE:LINE: why" on stderr,
 * appends the raw line to the --rejects file when one was set, and counts
 * it. With strict set, the caller should stop after a rejection
 * (nd_reject returns 1 then).
 */
struct nd_rejects {
	const char *path;  /* --rejects FILE, or NULL */
	int strict;        /* --strict */
	long count;
	void *fp;          /* the open rejects file, internal */
};
int nd_reject(struct nd_rejects *rj, const struct nd_line *line, const char *why);
/* Open the --rejects file before any work is done: a path that cannot be
 * opened ends the program with exit status 2 while nothing was done yet. */
void nd_rejects_open(struct nd_rejects *rj);
void nd_rejects_close(struct nd_rejects *rj);

/* Write raw bytes plus a newline to stdout; a compact dump of v plus a
 * newline (v is borrowed). Write errors end the program (cli_stdout_failed). */
void nd_write(const char *raw, size_t len);
void nd_write_jv(jv v);
/* Called by the reader before a read that may block; also useful before
 * a program waits on something else (a child process, a timer). */
void nd_flush(void);

#endif
