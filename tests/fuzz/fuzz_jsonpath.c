/*
 * libFuzzer target for JSONPath and payload templates. The first byte
 * picks the mode. Odd: the rest is a path, compiled, printed in canonical
 * form, evaluated against a small fixed document and, when definite, used
 * to set a value in a copy of it. Even: the rest is a Parameters template
 * (JSON) for a Pass state, run on the same document. Nothing may crash,
 * leak or read out of bounds, and an indefinite path always yields an
 * array. (The canonical form is Jayway's message text, which does not
 * escape quotes in names, so it need not compile again.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "json.h"
#include "jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
	"{\"a\":1,\"b\":[{\"c\":\"xy\",\"n\":2},{\"c\":null,\"n\":-0.5e3},[1,\"x\"]],"
	"\"d\":{\"e\":{\"f\":[true,false,{}]},\"g\":\"h\"},\"\":\"empty\",\"k'q\":[]}";

static void path(const char *s)
{
	char *err = NULL;
	jp_path *p = jp_compile(s, &err);
	if (!p) {
		free(err);
		return;
	}
	free(jp_canonical(p));
	jv doc = jx_parse(doc_text, strlen(doc_text), NULL);
	jv out;
	int definite = jp_definite(p);
	if (jp_eval(p, doc, &out) == 0) {
		if (!definite && jv_get_kind(out) != JV_KIND_ARRAY)
			abort();
		jv_free(out);
	} else if (!definite) {
		abort();
	}
	jp_is_root(p);
	jv d = jv_copy(doc);
	jp_set(p, &d, jv_string("v"));
	jv_free(d);
	jv_free(doc);
	jp_free(p);
}

static void params(const char *s, size_t n)
{
	jv t = jx_parse(s, n, NULL);
	if (!jv_is_valid(t)) {
		jv_free(t);
		return;
	}
	jv st = jv_object();
	st = jv_object_set(st, jv_string("Type"), jv_string("Pass"));
	st = jv_object_set(st, jv_string("Parameters"), t);
	st = jv_object_set(st, jv_string("End"), jv_true());
	jv def = jv_object();
	def = jv_object_set(def, jv_string("StartAt"), jv_string("P"));
	def = jv_object_set(def, jv_string("States"),
	                    jv_object_set(jv_object(), jv_string("P"), st));
	asl_machine *m = asl_load(def, NULL);
	jv_free(def);
	if (!m)
		return;
	jv in = jx_parse(doc_text, strlen(doc_text), NULL);
	struct asl_options o = { 0 };
	o.exec_name = "fuzz";
	o.start_time = 1700000000;
	o.virtual_time = 1;
	struct asl_result r;
	asl_run(m, in, &o, &r);
	asl_result_free(&r);
	jv_free(in);
	asl_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1)
		path(s);
	else
		params(s, size - 1);
	free(s);
	return 0;
}
