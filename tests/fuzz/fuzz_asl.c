/*
 * libFuzzer target for the state-machine definition checker and loader.
 * The first byte picks how the rest, parsed as JSON, becomes a definition:
 * the whole definition, its "States" object (StartAt names the first key),
 * or fields merged over a minimal state of one of the eight types (so the
 * fuzzer reaches the per-state checks without first having to discover a
 * valid skeleton). Each definition is validated as STANDARD and as EXPRESS
 * and loaded. Nothing may crash, leak or read out of bounds; asl_load must
 * accept exactly the definitions asl_validate calls "OK", and must give a
 * message whenever it refuses one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const bases[] = {
	"{\"Type\":\"Pass\",\"End\":true}",
	"{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:us-east-1:123456789012:function:f\",\"End\":true}",
	"{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.a\",\"NumericEquals\":1,\"Next\":\"S\"}],\"Default\":\"S\"}",
	"{\"Type\":\"Wait\",\"Seconds\":1,\"End\":true}",
	"{\"Type\":\"Succeed\"}",
	"{\"Type\":\"Fail\",\"Error\":\"E\",\"Cause\":\"C\"}",
	"{\"Type\":\"Parallel\",\"Branches\":[{\"StartAt\":\"B\",\"States\":{\"B\":{\"Type\":\"Pass\",\"End\":true}}}],\"End\":true}",
	"{\"Type\":\"Map\",\"ItemProcessor\":{\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}",
};

static jv wrap(uint8_t mode, jv v)
{
	if (mode % 3 == 0)
		return v;
	jv def = jv_object();
	if (mode % 3 == 1) {
		jv start = jv_string("S");
		if (jv_get_kind(v) == JV_KIND_OBJECT && jv_object_length(jv_copy(v)) > 0) {
			jv keys = jv_keys_unsorted(jv_copy(v));
			jv_free(start);
			start = jv_array_get(keys, 0);
		}
		def = jv_object_set(def, jv_string("StartAt"), start);
		return jv_object_set(def, jv_string("States"), v);
	}
	const char *b = bases[(mode / 3) % (sizeof bases / sizeof *bases)];
	jv st = jx_parse(b, strlen(b), NULL);
	if (jv_get_kind(v) == JV_KIND_OBJECT)
		st = jv_object_merge(st, v);
	else
		jv_free(v);
	def = jv_object_set(def, jv_string("StartAt"), jv_string("S"));
	return jv_object_set(def, jv_string("States"),
	                     jv_object_set(jv_object(), jv_string("S"), st));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	jv v = jx_parse((const char *)data + 1, size - 1, NULL);
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 0;
	}
	jv def = wrap(data[0], v);
	jv r = asl_validate(jv_copy(def));
	if (jv_get_kind(r) != JV_KIND_OBJECT)
		abort();
	jv res = jv_object_get(jv_copy(r), jv_string("result"));
	if (jv_get_kind(res) != JV_KIND_STRING)
		abort();
	int ok = !strcmp(jv_string_value(res), "OK");
	jv_free(res);
	jv_free(r);
	jv_free(asl_validate_type(jv_copy(def), "EXPRESS"));
	char *err = NULL;
	asl_machine *m = asl_load(def, &err);
	if ((m != NULL) != ok)
		abort();
	if (!m && !err)
		abort();
	asl_free(m);
	free(err);
	jv_free(def);
	return 0;
}
