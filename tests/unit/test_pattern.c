/*
 * test_pattern.c: the pattern engine's corners beyond the conformance
 * suites. Most tests are tables: pattern, event, whether it matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "unit.h"
#include "util.h"

struct mcase {
	const char *pattern, *event;
	int match;
};

static int match1(const char *pat, const char *ev, int aws)
{
	struct pattern_opts o = { aws, 0 };
	struct pattern_set *s = pattern_set_new(&o);
	char err[512];
	const int *r;
	int rc;
	if (pattern_set_add(s, pat, strlen(pat), err, sizeof err) < 0) {
		printf("# %s: %s\n", pat, err);
		rc = -10;
	} else {
		rc = pattern_set_match(s, ev, strlen(ev), &r);
	}
	pattern_set_free(s);
	return rc;
}

static void run_table(const struct mcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = match1(t[i].pattern, t[i].event, 0);
		char what[600];
		snprintf(what, sizeof what, "%s on %s: %s", t[i].pattern, t[i].event,
		         t[i].match ? "match" : "no match");
		unit_report(rc == t[i].match, __FILE__, __LINE__, what, NULL);
	}
}

static void test_exact(void)
{
	static const struct mcase t[] = {
		{ "{\"a\":[\"x\"]}", "{\"a\":\"x\"}", 1 },
		{ "{\"a\":[\"x\"]}", "{\"a\":\"X\"}", 0 },
		{ "{\"a\":[\"\"]}", "{\"a\":\"\"}", 1 },
		{ "{\"a\":[\"\"]}", "{\"b\":\"\"}", 0 },
		{ "{\"a\":[\"x\",\"y\"]}", "{\"a\":\"y\"}", 1 },
		{ "{\"a\":[\"x\"]}", "{\"a\":[\"z\",\"x\"]}", 1 },
		{ "{\"a\":[\"ab\"]}", "{\"a\":\"a\\u0062\"}", 1 },           /* escapes decode */
		{ "{\"a\":[\"\\u00e9\"]}", "{\"a\":\"\xc3\xa9\"}", 1 },
		{ "{\"a\":[\"1\"]}", "{\"a\":1}", 0 },                       /* types differ */
		{ "{\"a\":[1]}", "{\"a\":\"1\"}", 0 },
		{ "{\"a\":[null]}", "{\"a\":null}", 1 },
		{ "{\"a\":[null]}", "{\"a\":\"null\"}", 0 },
		{ "{\"a\":[true]}", "{\"a\":true}", 1 },
		{ "{\"a\":[false]}", "{\"a\":true}", 0 },
		{ "{\"a\":{\"b\":[1]}}", "{\"a.b\":1}", 1 },                 /* dotted keys */
		{ "{\"a.b\":[1]}", "{\"a\":{\"b\":1}}", 1 },
		{ "{\"a\":{\"b\":[1]}}", "{\"a\":{\"b\":{\"c\":1}}}", 0 },
		{ "{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"y\"}", 1 },     /* last key wins */
		{ "{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"x\"}", 0 },
		{ "{\"ip\":[\"10.0.0.1\"]}", "{\"ip\":\"10.0.0.1\"}", 1 },
		{ "{\"ip\":[\"2001:db8::1\"]}", "{\"ip\":\"2001:0db8:0:0:0:0:0:1\"}", 1 },
	};
	run_table(t, ARRAY_LEN(t));
}

static void test_numbers(void)
{
	static const struct mcase t[] = {
		{ "{\"a\":[3]}", "{\"a\":3.0}", 1 },
		{ "{\"a\":[3]}", "{\"a\":30e-1}", 1 },
		{ "{\"a\":[0]}", "{\"a\":-0}", 1 },
		{ "{\"a\":[-0.0]}", "{\"a\":0}", 1 },
		{ "{\"a\":[3]}", "{\"a\":3.0000001}", 0 },
		{ "{\"a\":[{\"numeric\":[\"=\",3]}]}", "{\"a\":3e0}", 1 },
		{ "{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":5}", 1 },
		{ "{\"a\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"a\":0}", 0 },
		{ "{\"a\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"a\":0}", 1 },
		{ "{\"a\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"a\":5}", 0 },
		{ "{\"a\":[{\"numeric\":[\"<\",-1e300]}]}", "{\"a\":-1e301}", 1 },
		{ "{\"a\":[{\"numeric\":[\">\",1]}]}", "{\"a\":\"2\"}", 0 },
		/* values that need more than the fast path: 17 digits */
		{ "{\"a\":[{\"numeric\":[\"=\",-122.42916360922355]}]}",
		  "{\"a\":-122.42916360922355}", 1 },
		{ "{\"a\":[{\"numeric\":[\"<\",-122.42916360922355]}]}",
		  "{\"a\":-122.42916360922354}", 0 },
		{ "{\"a\":[{\"numeric\":[\"<\",-122.42916360922355]}]}",
		  "{\"a\":-122.42916360922357}", 1 },
		{ "{\"a\":[123456789012]}", "{\"a\":123456789012}", 1 },
		{ "{\"a\":[{\"anything-but\":[1,2]}]}", "{\"a\":1.0}", 0 },
		{ "{\"a\":[{\"anything-but\":[1,2]}]}", "{\"a\":3}", 1 },
		{ "{\"a\":[{\"anything-but\":[1,2]}]}", "{\"a\":\"1\"}", 1 },
	};
	run_table(t, ARRAY_LEN(t));
}

static void test_strings(void)
{
	static const struct mcase t[] = {
		{ "{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"abc\"}", 1 },
		{ "{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"a\"}", 0 },
		{ "{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":\"\"}", 1 },
		{ "{\"a\":[{\"prefix\":\"1\"}]}", "{\"a\":123}", 0 },
		{ "{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.png\"}", 1 },
		{ "{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.PNG\"}", 0 },
		{ "{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"AB\"}}]}", "{\"a\":\"aBc\"}", 1 },
		{ "{\"a\":[{\"suffix\":{\"equals-ignore-case\":\".PNG\"}}]}", "{\"a\":\"x.png\"}", 1 },
		{ "{\"a\":[{\"equals-ignore-case\":\"\xc3\x89t\xc3\xa9\"}]}", "{\"a\":\"\xc3\xa9T\xc3\x89\"}", 1 },
		{ "{\"a\":[{\"equals-ignore-case\":\"abc\"}]}", "{\"a\":\"abcd\"}", 0 },
		{ "{\"a\":[{\"wildcard\":\"a*c\"}]}", "{\"a\":\"abbbc\"}", 1 },
		{ "{\"a\":[{\"wildcard\":\"a*c\"}]}", "{\"a\":\"abbbcd\"}", 0 },
		{ "{\"a\":[{\"wildcard\":\"*\"}]}", "{\"a\":\"\"}", 1 },
		{ "{\"a\":[{\"wildcard\":\"a\\\\*c\"}]}", "{\"a\":\"a*c\"}", 1 },
		{ "{\"a\":[{\"wildcard\":\"a\\\\*c\"}]}", "{\"a\":\"abc\"}", 0 },
		{ "{\"a\":[{\"wildcard\":\"a\\\\\\\\c\"}]}", "{\"a\":\"a\\\\c\"}", 1 },
		{ "{\"a\":[{\"shellstyle\":\"a*c\"}]}", "{\"a\":\"ac\"}", 1 },
		{ "{\"a\":[{\"regexp\":\"a~.c\"}]}", "{\"a\":\"a.c\"}", 1 },
		{ "{\"a\":[{\"regexp\":\"a~.c\"}]}", "{\"a\":\"abc\"}", 0 },
		{ "{\"a\":[{\"regexp\":\"a.c\"}]}", "{\"a\":\"a\\nc\"}", 0 },
		{ "{\"a\":[{\"regexp\":\"x^y$\"}]}", "{\"a\":\"x^y$\"}", 1 },
		{ "{\"a\":[{\"regexp\":\"[a-c]+\"}]}", "{\"a\":\"abcab\"}", 1 },
		{ "{\"a\":[{\"regexp\":\"~p{Lu}\"}]}", "{\"a\":\"\xc3\x89\"}", 1 },
	};
	run_table(t, ARRAY_LEN(t));
}

static void test_anything_but_exists(void)
{
	static const struct mcase t[] = {
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":\"y\"}", 1 },
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":\"x\"}", 0 },
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":null}", 1 },
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":5}", 1 },
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"b\":\"y\"}", 0 },   /* never a missing field */
		{ "{\"a\":[{\"anything-but\":\"x\"}]}", "{\"a\":[\"x\",\"y\"]}", 1 },
		{ "{\"a\":[{\"anything-but\":{\"prefix\":\"x\"}}]}", "{\"a\":\"xy\"}", 0 },
		{ "{\"a\":[{\"anything-but\":{\"suffix\":[\"x\",\"y\"]}}]}", "{\"a\":\"ay\"}", 0 },
		{ "{\"a\":[{\"anything-but\":{\"equals-ignore-case\":\"X\"}}]}", "{\"a\":\"x\"}", 0 },
		{ "{\"a\":[{\"anything-but\":{\"wildcard\":\"*x*\"}}]}", "{\"a\":\"axb\"}", 0 },
		{ "{\"a\":[{\"anything-but\":{\"wildcard\":\"*x*\"}}]}", "{\"a\":\"ab\"}", 1 },
		{ "{\"a\":[{\"exists\":true}]}", "{\"a\":null}", 1 },
		{ "{\"a\":[{\"exists\":true}]}", "{\"a\":[]}", 0 },
		{ "{\"a\":[{\"exists\":true}]}", "{\"a\":{}}", 0 },
		{ "{\"a\":[{\"exists\":false}]}", "{\"a\":[]}", 1 },
		{ "{\"a\":[{\"exists\":false}]}", "{\"a\":{\"b\":1}}", 1 },
		{ "{\"a\":[{\"exists\":false}]}", "{\"a\":0}", 0 },
		{ "{\"a\":[{\"exists\":false}],\"b\":[1]}", "{\"b\":1}", 1 },
		{ "{\"a\":[{\"cidr\":\"10.0.0.0/8\"}]}", "{\"a\":\"10.1.2.3\"}", 1 },
		{ "{\"a\":[{\"cidr\":\"10.0.0.0/8\"}]}", "{\"a\":\"11.1.2.3\"}", 0 },
		{ "{\"a\":[{\"cidr\":\"2001:db8::/32\"}]}", "{\"a\":\"2001:db8:ffff::1\"}", 1 },
		{ "{\"a\":[{\"cidr\":\"2001:db8::/32\"}]}", "{\"a\":\"10.1.2.3\"}", 0 },
	};
	run_table(t, ARRAY_LEN(t));
}

static void test_or_and_arrays(void)
{
	static const struct mcase t[] = {
		{ "{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"b\":2}", 1 },
		{ "{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"c\":2}", 0 },
		{ "{\"x\":[0],\"$or\":[{\"a\":[1]},{\"$or\":[{\"b\":[2]},{\"c\":[3]}]}]}",
		  "{\"x\":0,\"c\":3}", 1 },
		{ "{\"x\":[0],\"$or\":[{\"a\":[1]},{\"$or\":[{\"b\":[2]},{\"c\":[3]}]}]}",
		  "{\"c\":3}", 0 },
		/* values must come from the same element of an array */
		{ "{\"a\":{\"b\":[1],\"c\":[2]}}", "{\"a\":[{\"b\":1,\"c\":3},{\"b\":4,\"c\":2}]}", 0 },
		{ "{\"a\":{\"b\":[1],\"c\":[2]}}", "{\"a\":[{\"b\":1,\"c\":3},{\"b\":1,\"c\":2}]}", 1 },
		{ "{\"a\":{\"b\":[1]},\"d\":[2]}", "{\"a\":[{\"b\":1}],\"d\":[2]}", 1 },
		{ "{\"a\":{\"b\":[1],\"c\":[{\"exists\":false}]}}",
		  "{\"a\":[{\"b\":1,\"c\":3},{\"b\":1}]}", 1 },
		{ "{\"a\":{\"b\":[1],\"c\":[{\"exists\":false}]}}",
		  "{\"a\":[{\"b\":1,\"c\":3},{\"b\":2}]}", 0 },
		{ "{\"a\":[1]}", "{\"a\":[[0,[1]]]}", 1 },
	};
	run_table(t, ARRAY_LEN(t));
}

struct ecase {
	const char *pattern, *reason;
	int aws;
};

static void test_errors(void)
{
	static const struct ecase t[] = {
		{ "[]", "Filter is not an object", 0 },
		{ "{}", "Empty objects are not allowed", 0 },
		{ "{\"a\":[]}", "Empty arrays are not allowed", 0 },
		{ "{\"a\":1}", "\"a\" must be an object or an array", 0 },
		{ "{\"a\":[[1]]}", "Match value must be String, number, true, false, or null", 0 },
		{ "{\"a\":[{}]}", "Match expression name not found", 0 },
		{ "{\"a\":[{\"foo\":1}]}", "Unrecognized match type foo", 0 },
		{ "{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}", "Only one key allowed in match expression", 0 },
		{ "{\"a\":[{\"numeric\":[\"<\"]}]}", "Value of < must be numeric", 0 },
		{ "{\"a\":[{\"numeric\":[5]}]}", "Invalid member in numeric match: 5", 0 },
		{ "{\"a\":[{\"numeric\":[\"!\",5]}]}", "Unrecognized numeric range operator: !", 0 },
		{ "{\"a\":[{\"numeric\":[\">\",1,\"<\",2,3]}]}", "Too many terms in numeric range expression", 0 },
		{ "{\"a\":[{\"numeric\":[\"=\",1,2]}]}", "Too many elements in numeric expression", 0 },
		{ "{\"a\":[{\"exists\":1}]}", "exists match pattern must be either true or false.", 0 },
		{ "{\"a\":[{\"anything-but\":[]}]}",
		  "Inside anything but list, either all values are number or string, mixed type is not supported", 0 },
		{ "{\"a\":[{\"anything-but\":[1,\"x\"]}]}",
		  "Inside anything but list, either all values are number or string, mixed type is not supported", 0 },
		{ "{\"a\":[{\"anything-but\":{\"foo\":\"x\"}}]}", "Unsupported anything-but pattern: foo", 0 },
		{ "{\"a\":[{\"cidr\":\"10.0.0.0/x\"}]}", "Malformed CIDR, mask bits must be an integer", 0 },
		{ "{\"a\":[{\"cidr\":\"10.0.0.0/-1\"}]}", "Malformed CIDR, mask bits must not be negative", 0 },
		{ "{\"a\":[{\"wildcard\":\"a\\\\b\"}]}", "Invalid escape character at pos 2", 0 },
		{ "{\"a\":[{\"wildcard\":\"a**\"}]}", "Consecutive wildcard characters at pos 2", 0 },
		{ "{\"$or\":[{\"a\":[1]}]}", "There must have at least 2 Objects in $or relationship.", 0 },
		{ "{\"$or\":{\"a\":[1]}}", "It must be an Array followed with $or.", 0 },
		{ "{\"$or\":[{\"a\":[1]},2]}", "Only JSON object is allowed in array of $or relationship.", 0 },
		{ "{\"$or\":[{\"prefix\":[1]},{\"b\":[2]}]}",
		  "prefix is Ruler reserved fieldName which cannot be used inside $or.", 0 },
		{ "{\"a\":[{\"regexp\":\"x\"}]}", "Unrecognized match type regexp", 1 },
		{ "{\"a\":[{\"shellstyle\":\"x*\"}]}", "Unrecognized match type shellstyle", 1 },
		{ "{\"a\":[{\"regexp\":\"(x\"}]}", NULL, 0 },   /* some message */
		{ "{\"a\":", NULL, 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct pattern_opts o = { t[i].aws, 0 };
		char err[512], want[512], what[600];
		int rc = pattern_check(t[i].pattern, strlen(t[i].pattern), &o, err, sizeof err);
		snprintf(what, sizeof what, "%s is rejected", t[i].pattern);
		unit_report(rc < 0, __FILE__, __LINE__, what, err);
		if (t[i].reason) {
			snprintf(want, sizeof want, "Event pattern is not valid. Reason: %s", t[i].reason);
			CHECK_STR(err, want);
		} else {
			CHECK(strncmp(err, "Event pattern is not valid. Reason: ", 36) == 0);
		}
	}
}

static void test_length_limit(void)
{
	char pat[3000];
	int n = snprintf(pat, sizeof pat, "{\"a\":[\"");
	while (n < 2100) pat[n++] = 'x';
	n += snprintf(pat + n, sizeof pat - (size_t)n, "\"]}");
	char err[256];
	CHECK(pattern_check(pat, (size_t)n, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "limit is 2048") != NULL);
	struct pattern_opts o = { 0, 4096 };
	CHECK(pattern_check(pat, (size_t)n, &o, err, sizeof err) == 0);
}

static void test_set(void)
{
	struct pattern_set *s = pattern_set_new(NULL);
	char err[256];
	const int *r;
	const char *p0 = "{\"a\":[1]}", *p1 = "{\"b\":[{\"prefix\":\"x\"}]}", *bad = "{\"a\":[]}";
	CHECK_INT(pattern_set_add(s, p0, strlen(p0), err, sizeof err), 0);
	CHECK_INT(pattern_set_add(s, bad, strlen(bad), err, sizeof err), -1);
	CHECK_INT(pattern_set_count(s), 1);
	const char *ev = "{\"a\":1,\"b\":\"xy\"}";
	CHECK_INT(pattern_set_match(s, ev, strlen(ev), &r), 1);
	/* added after matching: incremental, no rebuild */
	CHECK_INT(pattern_set_add(s, p1, strlen(p1), err, sizeof err), 1);
	CHECK_INT(pattern_set_match(s, ev, strlen(ev), &r), 2);
	CHECK_INT(r[0], 0);
	CHECK_INT(r[1], 1);
	for (int i = 0; i < 2000; i++) {
		char p[64];
		int n = snprintf(p, sizeof p, "{\"k\":[\"v%d\"]}", i);
		pattern_set_add(s, p, (size_t)n, err, sizeof err);
	}
	const char *ev2 = "{\"k\":\"v1234\",\"a\":1}";
	CHECK_INT(pattern_set_match(s, ev2, strlen(ev2), &r), 2);
	CHECK_INT(r[0], 0);
	CHECK_INT(r[1], 2 + 1234);
	CHECK_INT(pattern_set_match(s, "[1]", 3, &r), PATTERN_NOT_OBJECT);
	CHECK_INT(pattern_set_match(s, "{\"a\":1", 6, &r), PATTERN_BAD_JSON);
	CHECK_INT(pattern_set_error_offset(s), 6);
	pattern_set_free(s);
}

/* Many prefix and suffix rules on one field share a trie: every rule met
 * along the value must come out, and no other. */
static void test_affix_index(void)
{
	static const char *const pats[] = {
		"{\"f\":[{\"prefix\":\"\"}]}",
		"{\"f\":[{\"prefix\":\"a\"}]}",
		"{\"f\":[{\"prefix\":\"ab\"}]}",
		"{\"f\":[{\"prefix\":\"abc\"}]}",
		"{\"f\":[{\"prefix\":\"abcd\"}]}",
		"{\"f\":[{\"suffix\":\"c\"}]}",
		"{\"f\":[{\"suffix\":\"bc\"}]}",
		"{\"f\":[{\"suffix\":{\"equals-ignore-case\":\"BC\"}}]}",
		"{\"f\":[{\"prefix\":{\"equals-ignore-case\":\"AB\"}}]}",
		"{\"f\":[{\"prefix\":\"b\"}]}",
	};
	struct pattern_set *s = pattern_set_new(NULL);
	char err[256];
	for (size_t i = 0; i < ARRAY_LEN(pats); i++)
		CHECK_INT(pattern_set_add(s, pats[i], strlen(pats[i]), err, sizeof err), (int)i);
	const int *r;
	const char *ev = "{\"f\":\"abc\"}";
	int n = pattern_set_match(s, ev, strlen(ev), &r);
	CHECK_INT(n, 8);
	int want[] = { 0, 1, 2, 3, 5, 6, 7, 8 };
	for (int i = 0; i < n && i < 8; i++) CHECK_INT(r[i], want[i]);
	const char *ev2 = "{\"f\":\"AB\"}";
	n = pattern_set_match(s, ev2, strlen(ev2), &r);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(r[0], 0);
		CHECK_INT(r[1], 8);
	}
	pattern_set_free(s);

	/* wildcards indexed by their literal start or end, and one with neither */
	static const char *const wild[] = {
		"{\"f\":[{\"wildcard\":\"ab*\"}]}",
		"{\"f\":[{\"wildcard\":\"*bc\"}]}",
		"{\"f\":[{\"wildcard\":\"a*c\"}]}",
		"{\"f\":[{\"wildcard\":\"*b*\"}]}",
		"{\"f\":[{\"wildcard\":\"abc\"}]}",
		"{\"f\":[{\"wildcard\":\"ab*d\"}]}",
		"{\"f\":[{\"wildcard\":\"*x\"}]}",
		"{\"f\":[{\"shellstyle\":\"a*\"}]}",
	};
	s = pattern_set_new(NULL);
	for (size_t i = 0; i < ARRAY_LEN(wild); i++)
		CHECK_INT(pattern_set_add(s, wild[i], strlen(wild[i]), err, sizeof err), (int)i);
	n = pattern_set_match(s, ev, strlen(ev), &r);
	CHECK_INT(n, 6);
	int want2[] = { 0, 1, 2, 3, 4, 7 };
	for (int i = 0; i < n && i < 6; i++) CHECK_INT(r[i], want2[i]);
	pattern_set_free(s);
}

/* The scanner must agree with a full parse on every input. */
static void test_scanner_agrees(void)
{
	static const char *const inputs[] = {
		"{}", "[]", "1", "-0", "-0.5e+10", "01", "1.", ".5", "1e", "-", "\"a\"", "\"\\x\"",
		"\"\\u12\"", "\"\\u12ab\"", "\"\\ud800\"", "\"\t\"", "\"a", "{\"a\":1,}", "[1,]", "[1 2]",
		"{\"a\" 1}", "{\"a\":1}}", "tru", "true", "nul", "null x", "  {\"a\" : [ 1 , {\"b\":null} ] }  ",
		"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "[[[[[[[[[[]]]]]]]]]]", "{\"a\":nan}", "\xef\xbb\xbf{}",
	};
	for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
		const char *in = inputs[i];
		char err[128];
		struct pj_doc *d = pj_parse(in, strlen(in), err, sizeof err);
		int full = d != NULL;
		pj_free(d);
		int fast = pattern_json_valid(in, strlen(in), NULL) == 0;
		char what[200];
		snprintf(what, sizeof what, "scanner and parser agree on %s (%s)", in, full ? "valid" : "invalid");
		unit_report(full == fast, __FILE__, __LINE__, what, NULL);
	}
	/* depth: 256 levels are fine, 257 are not (jq 1.6's limit) */
	char deep[600];
	for (int depth = 256; depth <= 257; depth++) {
		memset(deep, '[', (size_t)depth);
		memset(deep + depth, ']', (size_t)depth);
		CHECK_INT(pattern_json_valid(deep, (size_t)(2 * depth), NULL), depth == 256 ? 0 : -1);
		struct pj_doc *d = pj_parse(deep, (size_t)(2 * depth), NULL, 0);
		CHECK_INT(d != NULL, depth == 256);
		pj_free(d);
	}
}

static void test_pj(void)
{
	const char *t = "{\"n\": 1.50e3, \"s\": \"a\\u00e9\\ud83d\\ude00\", \"n\": 2}";
	struct pj_doc *d = pj_parse(t, strlen(t), NULL, 0);
	CHECK(d != NULL);
	const struct pj *n = pj_get(pj_root(d), "n");
	CHECK(n && n->type == PJ_NUM && n->rawlen == 1 && n->raw[0] == '2');
	const struct pj *s = pj_get(pj_root(d), "s");
	CHECK(s && s->type == PJ_STR);
	CHECK_STR(s ? s->str : NULL, "a\xc3\xa9\xf0\x9f\x98\x80");
	CHECK(pj_root(d)->items[0].rawlen == 6);
	pj_free(d);
}

int main(void)
{
	RUN(test_exact);
	RUN(test_numbers);
	RUN(test_strings);
	RUN(test_anything_but_exists);
	RUN(test_or_and_arrays);
	RUN(test_errors);
	RUN(test_length_limit);
	RUN(test_set);
	RUN(test_affix_index);
	RUN(test_scanner_agrees);
	RUN(test_pj);
	return UNIT_DONE();
}
