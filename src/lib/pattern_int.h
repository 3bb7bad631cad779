/*
 * pattern_int.h: the pattern module's internal helpers, shared between
 * pattern.c and pattern_ops.c only; the module's public interface is
 * pattern.h. Buffers are the caller's; nothing here allocates except
 * pat_iregexp_to_pcre, which appends to the caller's struct buf.
 */
#ifndef EVKIT_PATTERN_INT_H
#define EVKIT_PATTERN_INT_H

#include <stddef.h>

#include "util.h"

size_t pat_fold(const char *s, size_t n, char *out);
int pat_glob_parse(const char *s, size_t n, int escapes, char *out, size_t *outlen,
                   char *err, size_t errlen);
int pat_glob_match(const char *pat, size_t plen, const char *s, size_t n);
int pat_glob_complexity(const char *pat, size_t plen, int limit);
int pat_parse_ip(const char *s, size_t n, unsigned char out[16]);
int pat_parse_cidr(const char *s, size_t n, unsigned char lo[16], unsigned char hi[16],
                   char *err, size_t errlen);
int pat_iregexp_to_pcre(const char *s, size_t n, struct buf *out, char *err, size_t errlen);

#endif
