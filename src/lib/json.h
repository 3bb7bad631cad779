/*
 * json.h: safe access to libjq's jv values, and JSON pointers for messages.
 *
 * libjq's rule is that every jv_* call consumes its arguments (jv_copy keeps
 * one). The jx_* functions here are different on purpose: they BORROW their
 * jv arguments (the caller still owns them afterwards), so that a lookup can
 * be written inline without copies. What they return is owned as stated at
 * each function. None of them aborts on a value of the wrong kind, unlike
 * jv_object_get on a non-object.
 */
#ifndef EVKIT_JSON_H
#define EVKIT_JSON_H

#include <jv.h>
#include <stddef.h>

#include "util.h"

/* obj[key] as a new reference, or jv_invalid() when obj is not an object
 * or has no such key. The caller frees the result. */
jv jx_get(jv obj, const char *key);
/* arr[i] as a new reference, or jv_invalid() when arr is not an array or
 * i is out of range. */
jv jx_at(jv arr, int i);
int jx_has(jv obj, const char *key);

/* obj[key] as a C string, or NULL when absent or not a string. The
 * pointer is owned by obj and valid while obj lives unchanged. */
const char *jx_str(jv obj, const char *key);
/* obj[key] as a number: 1 and *out set when it is one, else 0. */
int jx_num(jv obj, const char *key, double *out);
/* obj[key] as a boolean: 1 and *out set when it is one, else 0. */
int jx_bool(jv obj, const char *key, int *out);
/* The kind of obj[key], or JV_KIND_INVALID when absent. */
jv_kind jx_kind_of(jv obj, const char *key);

/* A JSON value's kind as AWS names it in messages: "object", "string". */
const char *jx_kind_name(jv_kind k);

/* Serialise v compactly into b (appended). Strings are escaped as JSON. */
void jx_dump(struct buf *b, jv v);
/* Append s[0..n) as a JSON string literal, escaped as libjq escapes
 * (the same bytes jx_dump would write for that string). s must be valid
 * UTF-8. For writers that build a line without making jv values. */
void jx_add_string(struct buf *b, const char *s, size_t n);
/* Serialise v as a new C string the caller frees. */
char *jx_dumps(jv v);

/* Parse exactly one JSON value from s[0..n). On failure returns
 * jv_invalid() and, when why is not NULL, appends to it a message of the
 * form "invalid JSON at column 17: Expected separator between values".
 * Invalid UTF-8 is rejected, not replaced. */
jv jx_parse(const char *s, size_t n, struct buf *why);

/* 0 when s[0..n) is valid UTF-8; else the 1-based byte column of the first
 * bad byte. */
size_t jx_utf8_invalid_at(const char *s, size_t n);

/* Append "/token" to a JSON pointer (RFC 6901: '~' is "~0", '/' is "~1"). */
void jx_ptr_key(struct buf *ptr, const char *key);
void jx_ptr_index(struct buf *ptr, int i);

/* Deep equality by value (numbers by value, objects regardless of key
 * order). Borrows both. */
int jx_equal(jv a, jv b);

#endif
