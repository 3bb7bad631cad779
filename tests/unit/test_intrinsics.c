/*
 * test_intrinsics.c: the States.* functions, as a table of call, input
 * (what $ paths read) and expected result, or "ERROR" for a failure.
 * Expectations come from AWS's recorded answers.
 */
#include <stdlib.h>
#include <string.h>

#include "intrinsics.h"
#include "jsonpath.h"
#include "unit.h"

static int resolve(void *ctx, const char *path, jv *out, char **err)
{
	jv *input = ctx;
	jp_path *p = jp_compile(path, err);
	if (!p)
		return -1;
	int rc = jp_eval(p, *input, out);
	jp_free(p);
	if (rc < 0)
		*err = strdup("no such path");
	return rc;
}

static const struct { const char *call, *input, *want; } cases[] = {
	{ "States.Format('Hello {}, welcome to {}!', $.name, $.place)",
	  "{\"name\":\"John\",\"place\":\"LocalStack\"}", "\"Hello John, welcome to LocalStack!\"" },
	{ "States.Format('arg {}.', $.v)", "{\"v\":null}", "\"arg null.\"" },
	{ "States.Format('arg {}.', $.v)", "{\"v\":1.1}", "\"arg 1.1.\"" },
	{ "States.Format('arg {}.', $.v)", "{\"v\":{\"Arg1\":1,\"Arg2\":[]}}", "\"arg {Arg1=1, Arg2=[]}.\"" },
	{ "States.Format('esc \\{\\} {}', 'x')", "{}", "\"esc {} x\"" },
	{ "States.Format('{} {}', 'only one')", "{}", "ERROR" },
	{ "States.StringToJson($.s)", "{\"s\":\"[1, 2, \\\"HelloWorld\\\"]\"}", "[1,2,\"HelloWorld\"]" },
	{ "States.StringToJson($.s)", "{\"s\":\" \"}", "null" },
	/* AWS accepts only the escapes \' \{ \} and \\ in string literals */
	{ "States.StringToJson('{\"text\":\"An \\\"escaped\\\" here\"}')", "{}", "ERROR" },
	{ "States.StringToJson('{\"a\":\"it\\'s\"}')", "{}", "{\"a\":\"it's\"}" },
	{ "States.JsonToString($.o)", "{\"o\":{\"Arg1\":1,\"Arg2\":[]}}", "\"{\\\"Arg1\\\":1,\\\"Arg2\\\":[]}\"" },
	{ "States.Array('a', 1, true, null)", "{}", "[\"a\",1,true,null]" },
	{ "States.Array()", "{}", "[]" },
	{ "States.ArrayPartition($.a, 2)", "{\"a\":[0,1,2]}", "[[0,1],[2]]" },
	{ "States.ArrayPartition($.a, 0)", "{\"a\":[0,1,2]}", "ERROR" },
	{ "States.ArrayContains($.a, 2)", "{\"a\":[1,2]}", "true" },
	{ "States.ArrayContains($.a, [])", "{\"a\":[[1]]}", "ERROR" },
	{ "States.ArrayRange(1, 9, 2)", "{}", "[1,3,5,7,9]" },
	{ "States.ArrayRange(0, 10, 3)", "{}", "[0,3,6,9]" },
	{ "States.ArrayRange(0, 2000, 1)", "{}", "ERROR" },
	{ "States.ArrayGetItem($.a, 1)", "{\"a\":[5,6]}", "6" },
	{ "States.ArrayGetItem($.a, 5)", "{\"a\":[5,6]}", "ERROR" },
	{ "States.ArrayLength($.a)", "{\"a\":[5,6]}", "2" },
	{ "States.ArrayUnique($.a)", "{\"a\":[1,2,2,3,1]}", "[1,2,3]" },
	{ "States.Base64Encode('Data to encode')", "{}", "\"RGF0YSB0byBlbmNvZGU=\"" },
	{ "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "{}", "\"Data to encode\"" },
	{ "States.Base64Decode('not base64!')", "{}", "ERROR" },
	{ "States.Hash('input data', 'SHA-1')", "{}", "\"aaff4a450a104cd177d28d18d74485e8cae074b7\"" },
	{ "States.Hash('input data', 'SHA-256')", "{}",
	  "\"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3\"" },
	{ "States.Hash('input data', 'MD5')", "{}", "\"812f45842bc6d66ee14572ce20db8e86\"" },
	{ "States.Hash('x', 'SHA-3')", "{}", "ERROR" },
	{ "States.JsonMerge($.a, $.b, false)", "{\"a\":{\"a\":{\"a1\":1},\"b\":2},\"b\":{\"a\":{\"a3\":1},\"c\":3}}",
	  "{\"a\":{\"a3\":1},\"b\":2,\"c\":3}" },
	{ "States.MathAdd($.a, $.b)", "{\"a\":1.49,\"b\":1.5}", "3" },
	{ "States.MathAdd($.a, $.b)", "{\"a\":-1.49,\"b\":-1.5}", "-2" },
	{ "States.MathAdd(States.MathAdd(1, 2), -1)", "{}", "2" },
	/* beyond a long: saturated like Java's Math.round, then an overflow */
	{ "States.MathAdd($.a, $.b)", "{\"a\":1e300,\"b\":1e300}", "ERROR" },
	{ "States.MathAdd($.a, $.b)", "{\"a\":1e300,\"b\":-1e300}", "-1" },
	{ "States.StringSplit($.s, '.+,=')", "{\"s\":\"This.is+a,test=string\"}",
	  "[\"This\",\"is\",\"a\",\"test\",\"string\"]" },
	{ "States.StringSplit($.s, ',')", "{\"s\":\" , \"}", "[\" \",\" \"]" },
	{ "States.ArrayGetItem(States.StringSplit('a-b-c', '-'), 2)", "{}", "\"c\"" },
	{ "States.Nope(1)", "{}", "ERROR" },
	{ "States.Format('x' $.a)", "{}", "ERROR" },
	{ "States.ArrayLength($.missing)", "{}", "ERROR" },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jv in = jv_parse(cases[i].input);
		jv out;
		char *err = NULL;
		const char *got;
		jv s = jv_null();
		if (intr_eval(cases[i].call, resolve, &in, &out, &err) < 0) {
			got = "ERROR";
			free(err);
		} else {
			s = jv_dump_string(out, 0);
			got = jv_string_value(s);
		}
		CHECK_STR(got, cases[i].want);
		jv_free(s);
		jv_free(in);
	}
}

static void test_random_and_uuid(void)
{
	jv in = jv_object(), out;
	char *err = NULL;
	for (int i = 0; i < 50; i++) {
		CHECK(intr_eval("States.MathRandom(5, 8)", resolve, &in, &out, &err) == 0);
		double d = jv_number_value(out);
		CHECK(d >= 5 && d < 8);
		jv_free(out);
	}
	CHECK(intr_eval("States.MathRandom(1, 1000, 7)", resolve, &in, &out, &err) == 0);
	jv again;
	CHECK(intr_eval("States.MathRandom(1, 1000, 7)", resolve, &in, &again, &err) == 0);
	CHECK(jv_equal(out, again));
	/* bounds far beyond a long are clamped, not undefined */
	CHECK(intr_eval("States.MathRandom(-1e300, 1e300)", resolve, &in, &out, &err) == 0);
	jv_free(out);
	CHECK(intr_eval("States.UUID()", resolve, &in, &out, &err) == 0);
	CHECK(jv_get_kind(out) == JV_KIND_STRING && strlen(jv_string_value(out)) == 36);
	CHECK(jv_string_value(out)[14] == '4');
	jv_free(out);
	jv_free(in);
}

static void test_is_call(void)
{
	CHECK(intr_is_call("States.Array(1)"));
	CHECK(!intr_is_call("$.a"));
	char *err = NULL;
	CHECK(intr_check("States.Format('{}', $.a)", &err) == 0);
	CHECK(intr_check("States.Format('{}', $.a", &err) < 0);
	free(err);
	/* argument counts and literal kinds are checked before any run */
	static const struct { const char *call; int ok; } sig[] = {
		{ "States.MathAdd(1, '-1')", 0 },
		{ "States.MathAdd($.a, -1)", 1 },
		{ "States.ArrayRange(1, 2)", 0 },
		{ "States.UUID(1)", 0 },
		{ "States.ArrayLength('abc')", 0 },
		{ "States.JsonMerge($.a, $.b, false)", 1 },
		{ "States.JsonMerge($.a, $.b, 'no')", 0 },
		{ "States.Hash($.a, 'SHA-256')", 1 },
		{ "States.Format('x {} {}', 1, States.MathAdd(1, 'x'))", 0 },
		{ "States.Array(1, 'a', true, null, $.x)", 1 },
	};
	for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++) {
		err = NULL;
		int ok = intr_check(sig[i].call, &err) == 0;
		CHECK_INT(ok, sig[i].ok);
		free(err);
	}
}

int main(void)
{
	RUN(test_table);
	RUN(test_random_and_uuid);
	RUN(test_is_call);
	return UNIT_DONE();
}
