/*
 * asl_dump.c: serialise a jv compactly, byte for byte as jv_dump_string
 * does with no flags, but straight into a buffer and a few times faster:
 * an execution's output line is most of sfn-run's work on small state
 * machines. Numbers that are not small integers go through libjq's own
 * formatter, so every number prints exactly as jq prints it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asl_int.h"
#include "util.h"

static void dump_string(const char *s, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";
	buf_grow(out, n + 2);
	buf_addc(out, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			run++;
			continue;
		}
		buf_add(out, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': buf_adds(out, "\\\""); break;
		case '\\': buf_adds(out, "\\\\"); break;
		case '\b': buf_adds(out, "\\b"); break;
		case '\f': buf_adds(out, "\\f"); break;
		case '\n': buf_adds(out, "\\n"); break;
		case '\r': buf_adds(out, "\\r"); break;
		case '\t': buf_adds(out, "\\t"); break;
		default: {
			char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
			buf_add(out, u, 6);
		}
		}
	}
	buf_add(out, s + n - run, run);
	buf_addc(out, '"');
}

void asl_json_dump(jv v, struct buf *out)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL: buf_add(out, "null", 4); break;
	case JV_KIND_TRUE: buf_add(out, "true", 4); break;
	case JV_KIND_FALSE: buf_add(out, "false", 5); break;
	case JV_KIND_NUMBER: {
		double d = jv_number_value(v);
		if (d == floor(d) && fabs(d) < 1e15) {
			char t[32];
			int k = snprintf(t, sizeof t, "%.0f", d);
			buf_add(out, t, (size_t)k);
		} else {
			jv s = jv_dump_string(jv_copy(v), 0);
			buf_adds(out, jv_string_value(s));
			jv_free(s);
		}
		break;
	}
	case JV_KIND_STRING:
		dump_string(jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)), out);
		break;
	case JV_KIND_ARRAY: {
		buf_addc(out, '[');
		int n = jv_array_length(jv_copy(v));
		for (int i = 0; i < n; i++) {
			if (i)
				buf_addc(out, ',');
			jv x = jv_array_get(jv_copy(v), i);
			asl_json_dump(x, out);
			jv_free(x);
		}
		buf_addc(out, ']');
		break;
	}
	case JV_KIND_OBJECT: {
		buf_addc(out, '{');
		int first = 1;
		for (int it = jv_object_iter(v); jv_object_iter_valid(v, it);
		     it = jv_object_iter_next(v, it)) {
			if (!first)
				buf_addc(out, ',');
			first = 0;
			jv k = jv_object_iter_key(v, it);
			dump_string(jv_string_value(k), (size_t)jv_string_length_bytes(jv_copy(k)), out);
			jv_free(k);
			buf_addc(out, ':');
			jv x = jv_object_iter_value(v, it);
			asl_json_dump(x, out);
			jv_free(x);
		}
		buf_addc(out, '}');
		break;
	}
	default:
		buf_add(out, "null", 4);
	}
}
