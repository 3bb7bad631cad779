/*
 * libFuzzer target for the pattern compiler: any bytes as a pattern, with
 * and without --aws. Nothing may crash, leak or read out of bounds; an
 * accepted pattern must also be accepted by a second compile into a set
 * that already holds rules, and must match an empty event without harm.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct pattern_opts o = { data[0] & 1, (data[0] & 2) ? 100000 : 0 };
	const char *pat = (const char *)data + 1;
	size_t len = size - 1;
	char err[512];
	int ok = pattern_check(pat, len, &o, err, sizeof err) == 0;
	struct pattern_set *s = pattern_set_new(&o);
	const char *base = "{\"a\":[1],\"b\":{\"c\":[{\"prefix\":\"x\"}]}}";
	pattern_set_add(s, base, strlen(base), err, sizeof err);
	int r = pattern_set_add(s, pat, len, err, sizeof err);
	if ((r >= 0) != ok)
		abort();
	const int *rules;
	const char *ev = "{\"a\":1,\"b\":[{\"c\":\"xy\"},{\"c\":null}],\"d\":[[1,\"x\"],{\"e\":-0.5e3}]}";
	if (pattern_set_match(s, ev, strlen(ev), &rules) < 1)
		abort();
	pattern_set_free(s);
	return 0;
}
