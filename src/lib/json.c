#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pattern.h"

jv jx_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_invalid();
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	return v; /* jv_invalid() when absent */
}

jv jx_at(jv arr, int i)
{
	if (jv_get_kind(arr) != JV_KIND_ARRAY || i < 0 || i >= jv_array_length(jv_copy(arr)))
		return jv_invalid();
	return jv_array_get(jv_copy(arr), i);
}

int jx_has(jv obj, const char *key)
{
	jv v = jx_get(obj, key);
	int has = jv_is_valid(v);
	jv_free(v);
	return has;
}

const char *jx_str(jv obj, const char *key)
{
	jv v = jx_get(obj, key);
	const char *s = NULL;
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v); /* still referenced by obj */
	jv_free(v);
	return s;
}

int jx_num(jv obj, const char *key, double *out)
{
	jv v = jx_get(obj, key);
	int ok = jv_get_kind(v) == JV_KIND_NUMBER;
	if (ok)
		*out = jv_number_value(v);
	jv_free(v);
	return ok;
}

int jx_bool(jv obj, const char *key, int *out)
{
	jv v = jx_get(obj, key);
	jv_kind k = jv_get_kind(v);
	jv_free(v);
	if (k == JV_KIND_TRUE || k == JV_KIND_FALSE) {
		*out = k == JV_KIND_TRUE;
		return 1;
	}
	return 0;
}

jv_kind jx_kind_of(jv obj, const char *key)
{
	jv v = jx_get(obj, key);
	jv_kind k = jv_get_kind(v);
	jv_free(v);
	return k;
}

const char *jx_kind_name(jv_kind k)
{
	switch (k) {
	case JV_KIND_NULL: return "null";
	case JV_KIND_TRUE:
	case JV_KIND_FALSE: return "boolean";
	case JV_KIND_NUMBER: return "number";
	case JV_KIND_STRING: return "string";
	case JV_KIND_ARRAY: return "array";
	case JV_KIND_OBJECT: return "object";
	default: return "missing";
	}
}

void jx_dump(struct buf *b, jv v)
{
	jv s = jv_dump_string(jv_copy(v), 0);
	buf_add(b, jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)));
	jv_free(s);
}

void jx_add_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_grow(b, n + 2);
	buf_addc(b, '"');
	size_t run = 0;  /* bytes copied as they are, in one go */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\f': buf_adds(b, "\\f"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default: {
			char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
			buf_adds(b, u);
		}
		}
	}
	buf_add(b, s + run, n - run);
	buf_addc(b, '"');
}

char *jx_dumps(jv v)
{
	struct buf b = BUF_INIT;
	jx_dump(&b, v);
	return buf_detach(&b);
}

size_t jx_utf8_invalid_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned min;
		if (c >= 0xc2 && c <= 0xdf) { len = 2; min = 0x80; }
		else if (c >= 0xe0 && c <= 0xef) { len = 3; min = 0x800; }
		else if (c >= 0xf0 && c <= 0xf4) { len = 4; min = 0x10000; }
		else return i + 1;
		if (n - i < len)
			return i + 1;
		unsigned cp = c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i + 1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i + 1;
		i += len;
	}
	return 0;
}

/* libjq's messages end in "at line L, column C" (or "at EOF at line L,
 * column C"); evkit reports one line at a time, so only the column is
 * worth keeping, and it goes first. */
static void reword(struct buf *why, const char *msg)
{
	const char *at = strstr(msg, " at line ");
	const char *col = at ? strstr(at, ", column ") : NULL;
	if (strstr(msg, " at EOF at line "))
		at = strstr(msg, " at EOF at line ");
	if (at && col) {
		long c = strtol(col + 9, NULL, 10);
		long l = strtol(strstr(at, " at line ") + 9, NULL, 10);
		if (l > 1)
			buf_printf(why, "invalid JSON at line %ld, column %ld: %.*s", l, c,
			           (int)(at - msg), msg);
		else
			buf_printf(why, "invalid JSON at column %ld: %.*s", c, (int)(at - msg), msg);
		return;
	}
	buf_printf(why, "invalid JSON: %s", msg);
}

jv jx_parse(const char *s, size_t n, struct buf *why)
{
	size_t bad = jx_utf8_invalid_at(s, n);
	if (bad) {
		if (why)
			buf_printf(why, "invalid UTF-8 at column %zu", bad);
		return jv_invalid();
	}
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i == n) {
		if (why)
			buf_adds(why, "invalid JSON: no value");
		return jv_invalid();
	}
	/* A control character is never valid JSON (inside strings it must be
	 * escaped). Catch them here: libjq 1.6 stops at an embedded NUL,
	 * which would hide the rest of the line, and leaks memory on some
	 * inputs holding its record separator 0x1e. */
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			if (why)
				buf_printf(why, "invalid JSON at column %zu: control character 0x%02x%s",
				           k + 1, c, c == 0 ? " (NUL byte)" : "");
			return jv_invalid();
		}
	}
	/* Validate first with the strict scanner of pattern.c: libjq 1.6 leaks
	 * memory on some malformed inputs (and a long-running filter meets
	 * many), and takes nan, NaN and infinity, which JSON does not have.
	 * libjq then only ever parses valid JSON. */
	size_t off = 0;
	if (pattern_json_valid(s, n, &off) != 0) {
		if (why)
			buf_printf(why, "invalid JSON at column %zu", off + 1);
		return jv_invalid();
	}
	if (n > 0x7fffffff) {
		if (why)
			buf_adds(why, "invalid JSON: value longer than 2 GiB");
		return jv_invalid();
	}
	jv v = jv_parse_sized(s, (int)n);
	if (!jv_is_valid(v)) {
		if (why) {
			jv m = jv_invalid_get_msg(jv_copy(v));
			if (jv_get_kind(m) == JV_KIND_STRING)
				reword(why, jv_string_value(m));
			else
				buf_adds(why, "invalid JSON");
			jv_free(m);
		}
		jv_free(v);
		return jv_invalid();
	}
	return v;
}

void jx_ptr_key(struct buf *ptr, const char *key)
{
	buf_addc(ptr, '/');
	for (const char *k = key; *k; k++) {
		if (*k == '~')
			buf_adds(ptr, "~0");
		else if (*k == '/')
			buf_adds(ptr, "~1");
		else
			buf_addc(ptr, *k);
	}
}

void jx_ptr_index(struct buf *ptr, int i)
{
	buf_printf(ptr, "/%d", i);
}

int jx_equal(jv a, jv b)
{
	return jv_equal(jv_copy(a), jv_copy(b));
}
