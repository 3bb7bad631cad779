/*
 * test_jsonpath.c: the JSONPath dialect of ASL, as a table of path, input
 * and expected result ("MISSING" when a definite path has no value).
 */
#include <stdlib.h>

#include "jsonpath.h"
#include "unit.h"

static const struct { const char *path, *input, *want; } cases[] = {
	{ "$", "{\"a\":1}", "{\"a\":1}" },
	{ "$.a", "{\"a\":1}", "1" },
	{ "$.a.b", "{\"a\":{\"b\":[1,2]}}", "[1,2]" },
	{ "$.a.b[1]", "{\"a\":{\"b\":[1,2]}}", "2" },
	{ "$.a.b[-1]", "{\"a\":{\"b\":[1,2,3]}}", "3" },
	{ "$['a']['b']", "{\"a\":{\"b\":true}}", "true" },
	{ "$.delivery-partner", "{\"delivery-partner\":\"x\"}", "\"x\"" },
	{ "$.missing", "{\"a\":1}", "MISSING" },
	{ "$.a.missing", "{\"a\":3}", "MISSING" },
	{ "$.a[5]", "{\"a\":[1]}", "MISSING" },
	{ "$.items[*]", "{\"items\":[1,2,3]}", "[1,2,3]" },
	{ "$.items[*].v", "{\"items\":[{\"v\":1},{\"w\":2},{\"v\":3}]}", "[1,3]" },
	{ "$.items[1:]", "{\"items\":[1,2,3]}", "[2,3]" },
	{ "$.items[:1]", "{\"items\":[1,2,3]}", "[1]" },
	{ "$.items[0:3:2]", "{\"items\":[1,2,3,4]}", "[1,3]" },
	{ "$.items[0,2]", "{\"items\":[1,2,3]}", "[1,3]" },
	{ "$.*", "{\"a\":1,\"b\":2}", "[1,2]" },
	{ "$..v", "{\"a\":{\"v\":1},\"b\":[{\"v\":2}]}", "[1,2]" },
	{ "$.users[?(@.status == 0)].id", "{\"users\":[{\"id\":1,\"status\":0},{\"id\":2,\"status\":1}]}", "[1]" },
	{ "$.users[?(@.age > 30 && @.name != 'b')].name",
	  "{\"users\":[{\"name\":\"a\",\"age\":40},{\"name\":\"b\",\"age\":50},{\"name\":\"c\",\"age\":20}]}",
	  "[\"a\"]" },
	{ "$.users[?(@.tag)].id", "{\"users\":[{\"id\":1,\"tag\":null},{\"id\":2}]}", "[1]" },
	{ "$.users[?(@.n < 2 || @.n >= 5)].n", "{\"users\":[{\"n\":1},{\"n\":3},{\"n\":5}]}", "[1,5]" },
	{ "$['Test\\\"\"Name\"']", "{\"Test\\\\\\\"\\\"Name\\\"\":1}", "1" },
};

static void test_eval(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *err = NULL;
		jp_path *p = jp_compile(cases[i].path, &err);
		if (!CHECK(p != NULL)) {
			printf("#   %s: %s\n", cases[i].path, err ? err : "");
			free(err);
			continue;
		}
		jv in = jv_parse(cases[i].input);
		jv out;
		const char *got;
		jv s = jv_null();
		if (jp_eval(p, in, &out) < 0) {
			got = "MISSING";
		} else {
			s = jv_dump_string(out, 0);
			got = jv_string_value(s);
		}
		CHECK_STR(got, cases[i].want);
		jv_free(s);
		jv_free(in);
		jp_free(p);
	}
}

static void test_bad_paths(void)
{
	const char *bad[] = { "a.b", "$.", "$[", "$[abc]", "$['x'", "$..", "$[?(@.a ==)]" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		jp_path *p = jp_compile(bad[i], &err);
		CHECK(p == NULL);
		CHECK(err != NULL);
		free(err);
		jp_free(p);
	}
}

static void test_definite(void)
{
	jp_path *p = jp_compile("$.a[0].b", NULL);
	CHECK(jp_definite(p));
	jp_free(p);
	p = jp_compile("$.a[*]", NULL);
	CHECK(!jp_definite(p));
	jp_free(p);
	p = jp_compile("$", NULL);
	CHECK(jp_is_root(p));
	jp_free(p);
}

static void test_set(void)
{
	jp_path *p = jp_compile("$.a.b", NULL);
	jv doc = jv_parse("{\"x\":1}");
	CHECK(jp_set(p, &doc, jv_number(2)) == 0);
	jv s = jv_dump_string(doc, 0);
	CHECK_STR(jv_string_value(s), "{\"x\":1,\"a\":{\"b\":2}}");
	jv_free(s);
	jp_free(p);

	/* replacing an array element in place */
	p = jp_compile("$.l[1]", NULL);
	doc = jv_parse("{\"l\":[1,2,3]}");
	CHECK(jp_set(p, &doc, jv_string("z")) == 0);
	s = jv_dump_string(doc, 0);
	CHECK_STR(jv_string_value(s), "{\"l\":[1,\"z\",3]}");
	jv_free(s);
	jp_free(p);

	/* a path through a non-object cannot be set */
	p = jp_compile("$.a.b", NULL);
	doc = jv_number(42);
	CHECK(jp_set(p, &doc, jv_number(1)) < 0);
	jv_free(doc);
	jp_free(p);

	char *c;
	p = jp_compile("$.a[2].b", NULL);
	c = jp_canonical(p);
	CHECK_STR(c, "$['a'][2]['b']");
	free(c);
	jp_free(p);
}

int main(void)
{
	RUN(test_eval);
	RUN(test_bad_paths);
	RUN(test_definite);
	RUN(test_set);
	return UNIT_DONE();
}
