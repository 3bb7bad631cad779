/*
 * libFuzzer target for the foundation's parsers of outside input: one JSON
 * line (jx_parse, with its UTF-8 check), RFC 3339 timestamps, durations and
 * ARNs. The first byte picks the parser. Nothing may crash, leak or read
 * out of bounds, and a value that parses must dump to text that parses and
 * dumps to the same text (a number too large for a double becomes the
 * largest one, so the value itself may not survive the first dump).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0: {
		jv v = jx_parse(s, size - 1, NULL);
		if (jv_is_valid(v)) {
			char *d = jx_dumps(v);
			jv w = jx_parse(d, strlen(d), NULL);
			if (!jv_is_valid(w))
				abort();
			char *e = jx_dumps(w);
			if (strcmp(d, e) != 0)
				abort();
			jv_free(w);
			free(d);
			free(e);
		}
		jv_free(v);
		break;
	}
	case 1: {
		int64_t ms;
		if (clock_parse(s, &ms) == 0) {
			char out[64];
			clock_format(ms, 1, out, sizeof out);
		}
		break;
	}
	case 2: {
		int64_t ms;
		if (clock_parse_duration(s, &ms) == 0 && ms < 0)
			abort();
		break;
	}
	case 3: {
		struct arn a;
		arn_parse(s, &a);
		free(ids_name_from(s, "lambda", "function"));
		break;
	}
	}
	free(s);
	return 0;
}
