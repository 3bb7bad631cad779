/*
 * asl_choice.c: evaluate Choice rules. A comparison whose variable has the
 * wrong type is false, never an error, as in AWS; a variable that does not
 * exist is a States.Runtime error except under IsPresent.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asl_int.h"
#include "util.h"

/* StringMatches: '*' matches any run of characters; "\*" and "\\" are a
 * literal '*' and '\'. Iterative with one backtrack point: linear in
 * practice, quadratic at worst. */
int asl_string_matches(const char *s, const char *p)
{
	const char *star_p = NULL, *star_s = NULL;
	for (;;) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (*p) {
			char want = *p;
			int adv = 1;
			if (*p == '\\' && (p[1] == '*' || p[1] == '\\')) {
				want = p[1];
				adv = 2;
			}
			if (*s && *s == want) {
				s++;
				p += adv;
				continue;
			}
		} else if (!*s) {
			return 1;
		}
		if (star_p && *star_s) {
			s = ++star_s;
			p = star_p;
			continue;
		}
		return 0;
	}
}

static int num_cmp(enum choice_op op, double a, double b)
{
	switch (op) {
	case C_NUM_EQ: case C_TS_EQ: return a == b;
	case C_NUM_LT: case C_TS_LT: return a < b;
	case C_NUM_GT: case C_TS_GT: return a > b;
	case C_NUM_LE: case C_TS_LE: return a <= b;
	case C_NUM_GE: case C_TS_GE: return a >= b;
	default: return 0;
	}
}

static int str_cmp(enum choice_op op, const char *a, const char *b)
{
	int c = strcmp(a, b);
	switch (op) {
	case C_STR_EQ: return c == 0;
	case C_STR_LT: return c < 0;
	case C_STR_GT: return c > 0;
	case C_STR_LE: return c <= 0;
	case C_STR_GE: return c >= 0;
	default: return 0;
	}
}

static int compare(enum choice_op op, jv v, jv want)
{
	jv_kind k = jv_get_kind(v), wk = jv_get_kind(want);
	switch (op) {
	case C_STR_EQ: case C_STR_LT: case C_STR_GT: case C_STR_LE: case C_STR_GE:
		return k == JV_KIND_STRING && wk == JV_KIND_STRING &&
		       str_cmp(op, jv_string_value(v), jv_string_value(want));
	case C_STR_MATCH:
		return k == JV_KIND_STRING && wk == JV_KIND_STRING &&
		       asl_string_matches(jv_string_value(v), jv_string_value(want));
	case C_NUM_EQ: case C_NUM_LT: case C_NUM_GT: case C_NUM_LE: case C_NUM_GE:
		return k == JV_KIND_NUMBER && wk == JV_KIND_NUMBER &&
		       num_cmp(op, jv_number_value(v), jv_number_value(want));
	case C_BOOL_EQ:
		return (k == JV_KIND_TRUE || k == JV_KIND_FALSE) && k == wk;
	case C_TS_EQ: case C_TS_LT: case C_TS_GT: case C_TS_LE: case C_TS_GE: {
		double a, b;
		if (k != JV_KIND_STRING || wk != JV_KIND_STRING ||
		    asl_parse_time(jv_string_value(v), &a) ||
		    asl_parse_time(jv_string_value(want), &b))
			return 0;
		return num_cmp(op, a, b);
	}
	default:
		return 0;
	}
}

int asl_choice_eval(const struct choice_rule *r, asl_resolve_fn resolve,
                    void *ctx, char **err)
{
	switch (r->op) {
	case C_AND:
	case C_OR:
		for (int i = 0; i < r->nsubs; i++) {
			int v = asl_choice_eval(&r->subs[i], resolve, ctx, err);
			if (v < 0)
				return -1;
			if (r->op == C_AND && !v)
				return 0;
			if (r->op == C_OR && v)
				return 1;
		}
		return r->op == C_AND;
	case C_NOT: {
		int v = asl_choice_eval(&r->subs[0], resolve, ctx, err);
		return v < 0 ? -1 : !v;
	}
	default:
		break;
	}
	jv v;
	int found = resolve(ctx, &r->var, &v) == 0;
	if (r->op == C_IS_PRESENT) {
		if (found)
			jv_free(v);
		return found == (jv_get_kind(r->value) == JV_KIND_TRUE);
	}
	if (!found) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "Invalid path '%s': The choice state's condition path references an invalid value.",
		           r->var.text);
		*err = buf_detach(&b);
		return -1;
	}
	int res;
	jv_kind k = jv_get_kind(v);
	int want_true = jv_get_kind(r->value) == JV_KIND_TRUE;
	switch (r->op) {
	case C_IS_NULL: res = (k == JV_KIND_NULL) == want_true; break;
	case C_IS_NUMERIC: res = (k == JV_KIND_NUMBER) == want_true; break;
	case C_IS_STRING: res = (k == JV_KIND_STRING) == want_true; break;
	case C_IS_BOOLEAN:
		res = (k == JV_KIND_TRUE || k == JV_KIND_FALSE) == want_true;
		break;
	case C_IS_TIMESTAMP: {
		double t;
		int is = k == JV_KIND_STRING && asl_parse_time(jv_string_value(v), &t) == 0;
		res = is == want_true;
		break;
	}
	default:
		if (r->is_path) {
			jv w;
			if (resolve(ctx, &r->value_path, &w) < 0) {
				jv_free(v);
				struct buf b = BUF_INIT;
				buf_printf(&b, "Invalid path '%s': The choice state's condition path references an invalid value.",
				           r->value_path.text);
				*err = buf_detach(&b);
				return -1;
			}
			res = compare(r->op, v, w);
			jv_free(w);
		} else {
			res = compare(r->op, v, r->value);
		}
	}
	jv_free(v);
	return res;
}
