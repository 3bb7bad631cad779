/* json.h: safe access never aborts; parsing reports columns and rejects
 * what libjq would let through (invalid UTF-8, NUL, trailing values). */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"

static jv P(const char *s)
{
	return jx_parse(s, strlen(s), NULL);
}

static void wrong_kinds(void)
{
	jv arr = P("[1,2,3]"), num = P("42"), obj = P("{\"a\":\"x\",\"n\":2.5,\"b\":true}");
	CHECK(!jv_is_valid(jx_get(arr, "a")));   /* libjq would abort here */
	CHECK(!jv_is_valid(jx_get(num, "a")));
	CHECK(jx_str(arr, "a") == NULL);
	CHECK_STR(jx_str(obj, "a"), "x");
	CHECK(jx_str(obj, "n") == NULL);         /* a number is not a string */
	double d = 0;
	CHECK(jx_num(obj, "n", &d) && d == 2.5);
	CHECK(!jx_num(obj, "a", &d));
	int b = 0;
	CHECK(jx_bool(obj, "b", &b) && b == 1);
	CHECK(!jx_bool(obj, "zz", &b));
	CHECK(jx_kind_of(obj, "zz") == JV_KIND_INVALID);
	CHECK(jx_has(obj, "a") && !jx_has(obj, "zz") && !jx_has(arr, "a"));
	jv e = jx_at(arr, 2);
	CHECK(jv_get_kind(e) == JV_KIND_NUMBER && jv_number_value(e) == 3);
	jv_free(e);
	CHECK(!jv_is_valid(jx_at(arr, 3)));
	CHECK(!jv_is_valid(jx_at(arr, -1)));
	CHECK(!jv_is_valid(jx_at(obj, 0)));
	CHECK_STR(jx_kind_name(JV_KIND_OBJECT), "object");
	CHECK_STR(jx_kind_name(JV_KIND_TRUE), "boolean");
	/* jx_* borrow: the values are still ours to use and free. */
	CHECK(jv_get_kind(obj) == JV_KIND_OBJECT);
	jv_free(arr);
	jv_free(num);
	jv_free(obj);
}

static void parse_errors(void)
{
	struct buf why = BUF_INIT;
	jv v = jx_parse("{\"a\":1,}", 8, &why);
	CHECK(!jv_is_valid(v));
	CHECK(strncmp(why.s, "invalid JSON at column", 22) == 0);
	buf_reset(&why);
	v = jx_parse("{\"a\":", 5, &why);  /* truncated */
	CHECK(!jv_is_valid(v));
	CHECK(strstr(why.s, "invalid JSON") != NULL);
	buf_reset(&why);
	v = jx_parse("1 2", 3, &why);      /* two values are not one */
	CHECK(!jv_is_valid(v));
	buf_reset(&why);
	v = jx_parse("   ", 3, &why);
	CHECK(!jv_is_valid(v));
	CHECK_STR(why.s, "invalid JSON: no value");
	buf_reset(&why);
	v = jx_parse("\"a\xff\"", 4, &why); /* invalid UTF-8 is rejected, not replaced */
	CHECK(!jv_is_valid(v));
	CHECK_STR(why.s, "invalid UTF-8 at column 3");
	buf_reset(&why);
	v = jx_parse("\"a\0b\"", 5, &why);
	CHECK(!jv_is_valid(v));
	CHECK(strstr(why.s, "NUL") != NULL);
	const char *not_json[] = { "nan", "[NaN]", "{\"a\":-nan}", "infinity", "[1,Infinity]" };
	for (size_t i = 0; i < ARRAY_LEN(not_json); i++) {
		buf_reset(&why);
		v = jx_parse(not_json[i], strlen(not_json[i]), &why);
		CHECK(!jv_is_valid(v));
		CHECK(strncmp(why.s, "invalid JSON at column ", 23) == 0);
	}
	/* ...while exponents and letters inside strings are fine. */
	v = P("[1e5,2E-3,\"nan\\\"infinity\",true,false,null]");
	CHECK(jv_get_kind(v) == JV_KIND_ARRAY);
	jv_free(v);
	buf_free(&why);
	v = jx_parse(" {\"k\":[1,{\"x\":null}]} ", 21, NULL);
	CHECK(jv_get_kind(v) == JV_KIND_OBJECT);
	jv_free(v);
}

static void utf8(void)
{
	CHECK_INT(jx_utf8_invalid_at("plain", 5), 0);
	CHECK_INT(jx_utf8_invalid_at("\xc3\xa9t\xc3\xa9", 5), 0);           /* été */
	CHECK_INT(jx_utf8_invalid_at("\xf0\x9f\x94\xa5", 4), 0);            /* emoji */
	CHECK_INT(jx_utf8_invalid_at("ab\xc3", 3), 3);                      /* truncated */
	CHECK_INT(jx_utf8_invalid_at("\xc0\xaf", 2), 1);                    /* overlong */
	CHECK_INT(jx_utf8_invalid_at("\xed\xa0\x80", 3), 1);                /* surrogate */
	CHECK_INT(jx_utf8_invalid_at("\xf4\x90\x80\x80", 4), 1);            /* > U+10FFFF */
	CHECK_INT(jx_utf8_invalid_at("x\x80", 2), 2);                       /* stray continuation */
}

static void pointers_and_dump(void)
{
	struct buf p = BUF_INIT;
	jx_ptr_key(&p, "a/b");
	jx_ptr_key(&p, "m~n");
	jx_ptr_index(&p, 3);
	CHECK_STR(p.s, "/a~1b/m~0n/3");
	buf_free(&p);
	jv v = P("{\"b\":1,\"a\":[true,\"x\\\"y\"]}");
	char *s = jx_dumps(v);
	CHECK_STR(s, "{\"b\":1,\"a\":[true,\"x\\\"y\"]}"); /* key order kept */
	free(s);
	jv w = P("{\"a\":[true,\"x\\\"y\"],\"b\":1.0}");
	CHECK(jx_equal(v, w));   /* by value: 1 == 1.0, key order ignored */
	jv_free(v);
	jv_free(w);
}

static void hand_written_strings(void)
{
	/* jx_add_string writes what libjq writes for the same string. */
	const char *cases[] = { "", "plain", "q\"uote", "back\\slash", "\n\t\r\b\f",
	                        "\x01\x1f\x7f", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x94\xa5", "a/b" };
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf mine = BUF_INIT, theirs = BUF_INIT;
		jx_add_string(&mine, cases[i], strlen(cases[i]));
		jv v = jv_string(cases[i]);
		jx_dump(&theirs, v);
		jv_free(v);
		CHECK_STR(mine.s, theirs.s);
		buf_free(&mine);
		buf_free(&theirs);
	}
}

static void big_value(void)
{
	/* A 10 MB string parses and round-trips. */
	size_t n = 10 * 1024 * 1024;
	char *s = malloc(n + 3);
	s[0] = '"';
	memset(s + 1, 'x', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	jv v = jx_parse(s, n + 2, NULL);
	CHECK(jv_get_kind(v) == JV_KIND_STRING);
	CHECK_INT(jv_string_length_bytes(jv_copy(v)), (long long)n);
	jv_free(v);
	free(s);
}

int main(void)
{
	RUN(wrong_kinds);
	RUN(parse_errors);
	RUN(utf8);
	RUN(pointers_and_dump);
	RUN(hand_written_strings);
	RUN(big_value);
	return UNIT_DONE();
}
