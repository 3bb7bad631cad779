/*
 * util.h: allocation that cannot fail silently, and a growable byte buffer.
 *
 * Ownership: x*alloc and xstrdup return memory the caller frees with free().
 * A struct buf owns its bytes; buf_free releases them, buf_detach hands them
 * to the caller. buf.s is always NUL-terminated (so it can be used as a C
 * string when the data holds no NUL), and buf.len never counts that NUL.
 *
 * Running out of memory ends the program with a message and exit status 1:
 * no evkit program can do anything useful without memory, and checking every
 * small allocation by hand hides the logic that matters.
 */
#ifndef EVKIT_UTIL_H
#define EVKIT_UTIL_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

struct buf {
	char *s;
	size_t len, cap;
};
#define BUF_INIT { NULL, 0, 0 }

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);   /* len = 0, keeps the memory */
void buf_free(struct buf *b);
char *buf_detach(struct buf *b); /* caller frees; b is empty after */
/* The string (never NULL, "" for an empty buffer); owned by b. */
const char *buf_str(const struct buf *b);
/* Append the whole file at path: 0, or -1 with errno set (EIO for a
 * read error). */
int buf_read_file(struct buf *b, const char *path);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include "banned.h"
#endif
