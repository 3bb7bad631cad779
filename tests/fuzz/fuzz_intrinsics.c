/*
 * libFuzzer target for the intrinsic functions: any bytes as a call's
 * text, checked, evaluated with a resolver that answers paths from a small
 * fixed document, and compiled and run the same way. Nothing may crash,
 * leak or read out of bounds; a text intr_check refuses must not evaluate,
 * and the compiled form must agree with intr_eval on success or failure
 * (States.UUID and States.MathRandom differ only in value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intrinsics.h"
#include "json.h"
#include "jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
	"{\"a\":1,\"s\":\"a,b,,c\",\"b\":[1,2,2,\"x\",null,{\"c\":[]}],\"f\":2.5,"
	"\"t\":true,\"o\":{\"k\":\"v\",\"n\":{\"m\":-3}},\"big\":1e300,\"e\":\"\"}";
static jv doc;

static int resolve_path(jp_path *p, jv *out, char **err)
{
	if (jp_eval(p, doc, out) == 0)
		return 0;
	*err = strdup("no such path");
	return -1;
}

static int resolve(void *ctx, const char *text, jv *out, char **err)
{
	(void)ctx;
	jp_path *p = NULL;
	if (text[0] == '$') {
		const char *t = text;
		while (t[1] == '$')
			t++;
		p = jp_compile(t, NULL);
	}
	if (!p) {
		*err = strdup("bad path");
		return -1;
	}
	int r = resolve_path(p, out, err);
	jp_free(p);
	return r;
}

static void *compile(const char *text, char **err)
{
	const char *t = text;
	while (t[0] == '$' && t[1] == '$')
		t++;
	if (t[0] != '$') {
		*err = strdup("bad path");
		return NULL;
	}
	return jp_compile(t, err);
}

static void release(void *h)
{
	jp_free(h);
}

static int resolve_handle(void *ctx, void *h, jv *out, char **err)
{
	(void)ctx;
	return resolve_path(h, out, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!jv_is_valid(doc))
		doc = jx_parse(doc_text, strlen(doc_text), NULL);
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	intr_is_call(s);
	char *err = NULL;
	int checked = intr_check(s, &err) == 0;
	free(err);
	err = NULL;
	jv out;
	int ev = intr_eval(s, resolve, NULL, &out, &err) == 0;
	if (ev)
		jv_free(out);
	else
		free(err);
	err = NULL;
	if (ev && !checked)
		abort();
	intr_expr *x = intr_compile(s, compile, release, &err);
	if (x) {
		int run = intr_run(x, resolve_handle, NULL, &out, &err) == 0;
		if (run)
			jv_free(out);
		else
			free(err);
		intr_free(x);
	} else {
		free(err);
	}
	free(s);
	return 0;
}
