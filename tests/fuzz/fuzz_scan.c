/*
 * libFuzzer target for the event scanner: any bytes as an event, against a
 * set of rules that name fields at several depths and use every kind of
 * condition. The scanner must agree with the full parser (pj_parse) on
 * which inputs are JSON, and nothing may crash, leak or read out of
 * bounds (the input is copied to an exact-size buffer, so ASan sees any
 * read past its end).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rules[] = {
	"{\"a\":[1,\"x\",null,true]}",
	"{\"a\":{\"b\":[{\"prefix\":\"p\"},{\"suffix\":\"s\"},{\"exists\":false}]}}",
	"{\"a.b\":[{\"numeric\":[\">\",0,\"<=\",10]}],\"c\":[{\"anything-but\":[\"x\",\"y\"]}]}",
	"{\"c\":[{\"wildcard\":\"*a*b\"},{\"equals-ignore-case\":\"AbC\"}],\"d\":[{\"cidr\":\"10.0.0.0/8\"}]}",
	"{\"$or\":[{\"e\":[{\"exists\":true}]},{\"f\":{\"g\":[{\"regexp\":\"[a-z]+[0-9]?\"}]}}]}",
	"{\"a\":{\"b\":[{\"anything-but\":{\"wildcard\":\"*z\"}}]},\"f\":{\"g\":[{\"shellstyle\":\"x*\"}]}}",
};

static struct pattern_set *set;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!set) {
		char err[256];
		set = pattern_set_new(NULL);
		for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
			if (pattern_set_add(set, rules[i], strlen(rules[i]), err, sizeof err) < 0)
				abort();
	}
	char *ev = malloc(size ? size : 1);
	memcpy(ev, data, size);
	const int *hit;
	int n = pattern_set_match(set, ev, size, &hit);
	struct pj_doc *d = pj_parse(ev, size, NULL, 0);
	int valid = d != NULL;
	int is_obj = valid && pj_root(d)->type == PJ_OBJ;
	pj_free(d);
	if (valid != (pattern_json_valid(ev, size, NULL) == 0))
		abort();
	if (valid != (n != PATTERN_BAD_JSON))
		abort();
	if (valid && is_obj != (n >= 0))
		abort();
	for (int i = 1; i < n; i++)
		if (hit[i] <= hit[i - 1])
			abort();
	free(ev);
	return 0;
}
