/*
 * asl_load.c: check a definition and compile it into asl_int.h's form in
 * one pass. Every problem becomes a diagnostic (code, message, location as
 * a JSON pointer) in AWS's words where known; a definition with any
 * diagnostic is not run.
 *
 * JSONata states are checked for structure only (their expressions are
 * not evaluated by this version), and a machine using them is refused by
 * asl_load with a clear message rather than run wrongly.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asl_int.h"
#include "intrinsics.h"
#include "util.h"

struct ld {
	jv diags;               /* array of diagnostics */
	int jsonata_used;
	jv all_names;           /* object: every state name in the machine */
	int top_jsonata;        /* the machine's QueryLanguage is JSONata */
	int express;            /* an EXPRESS state machine */
};

static void diag(struct ld *l, const char *code, const char *loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diag(struct ld *l, const char *code, const char *loc, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	jv d = jv_object();
	d = jv_object_set(d, jv_string("severity"), jv_string("ERROR"));
	d = jv_object_set(d, jv_string("code"), jv_string(code));
	d = jv_object_set(d, jv_string("message"), jv_string(buf_str(&b)));
	if (loc)
		d = jv_object_set(d, jv_string("location"), jv_string(loc));
	l->diags = jv_array_append(l->diags, d);
	buf_free(&b);
}

#define SCHEMA "SCHEMA_VALIDATION_FAILED"

/* ---- paths ----------------------------------------------------------- */

void asl_apath_clear(struct apath *ap)
{
	free(ap->text);
	free(ap->var);
	jp_free(ap->p);
	memset(ap, 0, sizeof *ap);
}

int asl_apath_compile(struct apath *ap, const char *text, char **err)
{
	memset(ap, 0, sizeof *ap);
	if (text[0] != '$') {
		if (err)
			*err = xstrdup("a path must start with '$'");
		return -1;
	}
	struct buf b = BUF_INIT;
	if (text[1] == '$') {
		ap->root = AP_CONTEXT;
		buf_adds(&b, text + 1);
	} else if (isalpha((unsigned char)text[1]) || text[1] == '_') {
		const char *e = text + 1;
		while (isalnum((unsigned char)*e) || *e == '_')
			e++;
		ap->root = AP_VAR;
		ap->var = xstrndup(text + 1, (size_t)(e - text - 1));
		buf_addc(&b, '$');
		buf_adds(&b, e);
	} else {
		ap->root = AP_INPUT;
		buf_adds(&b, text);
	}
	ap->p = jp_compile(buf_str(&b), err);
	buf_free(&b);
	if (!ap->p) {
		free(ap->var);
		ap->var = NULL;
		return -1;
	}
	ap->text = xstrdup(text);
	return 0;
}

/* ---- field helpers ---------------------------------------------------- */

static jv get(jv obj, const char *key)
{
	return jv_object_get(jv_copy(obj), jv_string(key));
}

static int has(jv obj, const char *key)
{
	return jv_object_has(jv_copy(obj), jv_string(key));
}

static char *loc_join(const char *base, const char *key)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, base);
	if (!b.len || b.s[b.len - 1] != '/')
		buf_addc(&b, '/');
	buf_adds(&b, key);
	return buf_detach(&b);
}

/* A path field: "$..." or null (where null_ok). */
static void path_field(struct ld *l, jv st, const char *key, const char *loc,
                       struct apath *ap, int *present, int *is_null, int null_ok,
                       int result_path)
{
	if (!has(st, key))
		return;
	jv v = get(st, key);
	char *fl = loc_join(loc, key);
	if (jv_get_kind(v) == JV_KIND_NULL && null_ok) {
		*present = 1;
		if (is_null)
			*is_null = 1;
	} else if (jv_get_kind(v) != JV_KIND_STRING) {
		diag(l, SCHEMA, fl, "The value for the field '%s' must be a STRING", key);
	} else {
		char *err = NULL;
		const char *t = jv_string_value(v);
		if (asl_apath_compile(ap, t, &err) < 0 ||
		    (result_path && (ap->root != AP_INPUT || !jp_definite(ap->p)))) {
			diag(l, SCHEMA, fl, "The value for the field '%s' must be a valid JSONPath", key);
			asl_apath_clear(ap);
		} else {
			*present = 1;
		}
		free(err);
	}
	free(fl);
	jv_free(v);
}

/* Check a payload template: ".$" keys hold paths or intrinsic calls, and
 * no two keys collide once ".$" is stripped. */
static void check_template(struct ld *l, jv t, const char *loc)
{
	jv_kind k = jv_get_kind(t);
	if (k == JV_KIND_ARRAY) {
		jv_array_foreach(t, i, v) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%d", loc, i);
			check_template(l, v, buf_str(&b));
			buf_free(&b);
			jv_free(v);
		}
		return;
	}
	if (k != JV_KIND_OBJECT)
		return;
	jv seen = jv_object();
	jv_object_foreach(t, key, v) {
		const char *ks = jv_string_value(key);
		size_t kl = strlen(ks);
		char *fl = loc_join(loc, ks);
		int dyn = kl > 2 && !strcmp(ks + kl - 2, ".$");
		jv base = dyn ? jv_string_sized(ks, (int)kl - 2) : jv_copy(key);
		if (jv_object_has(jv_copy(seen), jv_copy(base)))
			diag(l, SCHEMA, fl,
			     "A duplicate field will exist after renaming to strip the \".$\" suffix from: %s", ks);
		seen = jv_object_set(seen, base, jv_true());
		if (dyn) {
			if (jv_get_kind(v) != JV_KIND_STRING) {
				diag(l, SCHEMA, fl, "The value for the field '%s' must be a STRING that contains a JSONPath but was a %s",
				     ks, jv_kind_name(jv_get_kind(v)));
			} else {
				const char *s = jv_string_value(v);
				char *err = NULL;
				struct apath ap;
				if (intr_is_call(s)) {
					if (intr_check(s, &err) < 0)
						diag(l, SCHEMA, fl, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", ks);
				} else if (asl_apath_compile(&ap, s, &err) < 0) {
					diag(l, SCHEMA, fl, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", ks);
				} else {
					asl_apath_clear(&ap);
				}
				free(err);
			}
		} else {
			check_template(l, v, fl);
		}
		free(fl);
		jv_free(v);
		jv_free(key);
	}
	jv_free(seen);
}

static int is_jsonata_str(jv v)
{
	if (jv_get_kind(v) != JV_KIND_STRING)
		return 0;
	const char *s = jv_string_value(v);
	size_t n = strlen(s);
	return n >= 4 && !strncmp(s, "{%", 2) && !strcmp(s + n - 2, "%}");
}

static double num_field(struct ld *l, jv st, const char *key, const char *loc,
                        double lo, double hi, int integer, int *present)
{
	if (!has(st, key))
		return 0;
	jv v = get(st, key);
	double d = 0;
	char *fl = loc_join(loc, key);
	if (is_jsonata_str(v)) {
		*present = 2;
	} else if (jv_get_kind(v) != JV_KIND_NUMBER) {
		diag(l, SCHEMA, fl, "The value for the field '%s' must be a %s", key,
		     integer ? "INTEGER" : "NUMBER");
	} else {
		d = jv_number_value(v);
		if (integer && d != floor(d))
			diag(l, SCHEMA, fl, "The value for the field '%s' must be an INTEGER", key);
		else if (d < lo)
			diag(l, SCHEMA, fl, "The value for the field '%s' must be >= %g", key, lo);
		else if (d > hi)
			diag(l, SCHEMA, fl, "The value for the field '%s' must be <= %g", key, hi);
		else
			*present = 1;
	}
	free(fl);
	jv_free(v);
	return d;
}

static void at_most_one(struct ld *l, jv st, const char *name, const char *loc,
                        const char *a, const char *b)
{
	if (has(st, a) && has(st, b))
		diag(l, SCHEMA, loc, "State \"%s\" MUST contain at most one of \"%s\", \"%s\"",
		     name, a, b);
}

static char **error_list(struct ld *l, jv arr, const char *loc, int *n)
{
	*n = 0;
	char *fl = loc_join(loc, "ErrorEquals");
	if (jv_get_kind(arr) != JV_KIND_ARRAY || jv_array_length(jv_copy(arr)) == 0) {
		diag(l, SCHEMA, fl, "The field 'ErrorEquals' is required and must be a non-empty array");
		free(fl);
		jv_free(arr);
		return NULL;
	}
	int len = jv_array_length(jv_copy(arr));
	char **v = xcalloc((size_t)len, sizeof *v);
	jv_array_foreach(arr, i, e) {
		if (jv_get_kind(e) != JV_KIND_STRING) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%d", fl, i);
			diag(l, SCHEMA, buf_str(&b), "The values of the field 'ErrorEquals' must be strings");
			buf_free(&b);
		} else {
			v[(*n)++] = xstrdup(jv_string_value(e));
		}
		jv_free(e);
	}
	jv_free(arr);
	free(fl);
	return v;
}

/* ---- states ---------------------------------------------------------- */

static void load_states(struct ld *l, jv sm, const char *loc, struct asl_states *out,
                        int top, const char *inherited_ql);

static const char *const common_fields[] = {
	"Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath",
	"Parameters", "ResultPath", "ResultSelector", "Assign", "Output", "Arguments",
	NULL,
};

static const char *const type_fields[][24] = {
	[T_PASS] = { "Result", NULL },
	[T_TASK] = { "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
	             "HeartbeatSecondsPath", "Retry", "Catch", "Credentials", NULL },
	[T_CHOICE] = { "Choices", "Default", NULL },
	[T_WAIT] = { "Seconds", "SecondsPath", "Timestamp", "TimestampPath", NULL },
	[T_SUCCEED] = { NULL },
	[T_FAIL] = { "Error", "ErrorPath", "Cause", "CausePath", NULL },
	[T_PARALLEL] = { "Branches", "Retry", "Catch", NULL },
	[T_MAP] = { "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector",
	            "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailureCount",
	            "ToleratedFailureCountPath", "ToleratedFailurePercentage",
	            "ToleratedFailurePercentagePath", "ItemReader", "ItemBatcher",
	            "ResultWriter", "Label", "Retry", "Catch", NULL },
};

static int field_known(enum asl_type t, const char *k)
{
	for (int i = 0; common_fields[i]; i++)
		if (!strcmp(common_fields[i], k))
			return 1;
	for (int i = 0; type_fields[t][i]; i++)
		if (!strcmp(type_fields[t][i], k))
			return 1;
	return 0;
}

static const struct { const char *name; enum choice_op op; int path; } choice_ops[] = {
	{ "StringEquals", C_STR_EQ, 0 }, { "StringEqualsPath", C_STR_EQ, 1 },
	{ "StringLessThan", C_STR_LT, 0 }, { "StringLessThanPath", C_STR_LT, 1 },
	{ "StringGreaterThan", C_STR_GT, 0 }, { "StringGreaterThanPath", C_STR_GT, 1 },
	{ "StringLessThanEquals", C_STR_LE, 0 }, { "StringLessThanEqualsPath", C_STR_LE, 1 },
	{ "StringGreaterThanEquals", C_STR_GE, 0 }, { "StringGreaterThanEqualsPath", C_STR_GE, 1 },
	{ "StringMatches", C_STR_MATCH, 0 },
	{ "NumericEquals", C_NUM_EQ, 0 }, { "NumericEqualsPath", C_NUM_EQ, 1 },
	{ "NumericLessThan", C_NUM_LT, 0 }, { "NumericLessThanPath", C_NUM_LT, 1 },
	{ "NumericGreaterThan", C_NUM_GT, 0 }, { "NumericGreaterThanPath", C_NUM_GT, 1 },
	{ "NumericLessThanEquals", C_NUM_LE, 0 }, { "NumericLessThanEqualsPath", C_NUM_LE, 1 },
	{ "NumericGreaterThanEquals", C_NUM_GE, 0 }, { "NumericGreaterThanEqualsPath", C_NUM_GE, 1 },
	{ "BooleanEquals", C_BOOL_EQ, 0 }, { "BooleanEqualsPath", C_BOOL_EQ, 1 },
	{ "TimestampEquals", C_TS_EQ, 0 }, { "TimestampEqualsPath", C_TS_EQ, 1 },
	{ "TimestampLessThan", C_TS_LT, 0 }, { "TimestampLessThanPath", C_TS_LT, 1 },
	{ "TimestampGreaterThan", C_TS_GT, 0 }, { "TimestampGreaterThanPath", C_TS_GT, 1 },
	{ "TimestampLessThanEquals", C_TS_LE, 0 }, { "TimestampLessThanEqualsPath", C_TS_LE, 1 },
	{ "TimestampGreaterThanEquals", C_TS_GE, 0 }, { "TimestampGreaterThanEqualsPath", C_TS_GE, 1 },
	{ "IsNull", C_IS_NULL, 0 }, { "IsPresent", C_IS_PRESENT, 0 },
	{ "IsNumeric", C_IS_NUMERIC, 0 }, { "IsString", C_IS_STRING, 0 },
	{ "IsBoolean", C_IS_BOOLEAN, 0 }, { "IsTimestamp", C_IS_TIMESTAMP, 0 },
};

static void choice_clear(struct choice_rule *r)
{
	asl_apath_clear(&r->var);
	asl_apath_clear(&r->value_path);
	jv_free(r->value);
	jv_free(r->assign);
	asl_tmpl_free(r->t_assign);
	for (int i = 0; i < r->nsubs; i++)
		choice_clear(&r->subs[i]);
	free(r->subs);
}

static void load_rule(struct ld *l, jv rule, const char *loc, struct choice_rule *r, int top)
{
	memset(r, 0, sizeof *r);
	r->value = jv_invalid();
	r->assign = jv_invalid();
	r->next = -1;
	if (jv_get_kind(rule) != JV_KIND_OBJECT) {
		diag(l, SCHEMA, loc, "A choice rule must be an object");
		return;
	}
	if (top && has(rule, "Condition")) {
		l->jsonata_used = 1;
		r->op = C_IS_PRESENT;
		return;
	}
	const char *combos[] = { "And", "Or", "Not" };
	for (int c = 0; c < 3; c++) {
		if (!has(rule, combos[c]))
			continue;
		r->op = c == 0 ? C_AND : c == 1 ? C_OR : C_NOT;
		jv sub = get(rule, combos[c]);
		char *fl = loc_join(loc, combos[c]);
		if (c == 2) {
			r->subs = xcalloc(1, sizeof *r->subs);
			r->nsubs = 1;
			load_rule(l, sub, fl, &r->subs[0], 0);
			jv_free(sub);
		} else if (jv_get_kind(sub) != JV_KIND_ARRAY || !jv_array_length(jv_copy(sub))) {
			diag(l, SCHEMA, fl, "The value for the field '%s' must be a non-empty array", combos[c]);
			jv_free(sub);
		} else {
			int n = jv_array_length(jv_copy(sub));
			r->subs = xcalloc((size_t)n, sizeof *r->subs);
			r->nsubs = n;
			jv_array_foreach(sub, i, x) {
				struct buf b = BUF_INIT;
				buf_printf(&b, "%s/%d", fl, i);
				load_rule(l, x, buf_str(&b), &r->subs[i], 0);
				buf_free(&b);
				jv_free(x);
			}
			jv_free(sub);
		}
		free(fl);
		return;
	}
	int found = 0;
	for (size_t i = 0; i < ARRAY_LEN(choice_ops); i++) {
		if (!has(rule, choice_ops[i].name))
			continue;
		if (found++) {
			diag(l, SCHEMA, loc, "A choice rule must contain exactly one comparison operator");
			break;
		}
		r->op = choice_ops[i].op;
		r->is_path = choice_ops[i].path;
		jv v = get(rule, choice_ops[i].name);
		char *fl = loc_join(loc, choice_ops[i].name);
		jv_kind k = jv_get_kind(v);
		if (r->is_path) {
			char *err = NULL;
			if (k != JV_KIND_STRING || asl_apath_compile(&r->value_path, jv_string_value(v), &err) < 0)
				diag(l, SCHEMA, fl, "The value for the field '%s' must be a valid JSONPath", choice_ops[i].name);
			free(err);
			jv_free(v);
		} else {
			int ok;
			switch (r->op) {
			case C_NUM_EQ: case C_NUM_LT: case C_NUM_GT: case C_NUM_LE: case C_NUM_GE:
				ok = k == JV_KIND_NUMBER;
				break;
			case C_BOOL_EQ: case C_IS_NULL: case C_IS_PRESENT: case C_IS_NUMERIC:
			case C_IS_STRING: case C_IS_BOOLEAN: case C_IS_TIMESTAMP:
				ok = k == JV_KIND_TRUE || k == JV_KIND_FALSE;
				break;
			case C_TS_EQ: case C_TS_LT: case C_TS_GT: case C_TS_LE: case C_TS_GE: {
				double t;
				ok = k == JV_KIND_STRING && asl_parse_time(jv_string_value(v), &t) == 0;
				break;
			}
			default:
				ok = k == JV_KIND_STRING;
			}
			if (!ok)
				diag(l, SCHEMA, fl, "The value for the field '%s' has the wrong type", choice_ops[i].name);
			r->value = v;
		}
		free(fl);
	}
	if (!found) {
		diag(l, SCHEMA, loc, "A choice rule must contain a comparison operator or And, Or, Not");
		return;
	}
	jv var = get(rule, "Variable");
	char *fl = loc_join(loc, "Variable");
	char *err = NULL;
	if (jv_get_kind(var) != JV_KIND_STRING)
		diag(l, SCHEMA, fl, "The field 'Variable' is required in a comparison rule");
	else if (asl_apath_compile(&r->var, jv_string_value(var), &err) < 0)
		diag(l, SCHEMA, fl, "The value for the field 'Variable' must be a valid JSONPath");
	free(err);
	free(fl);
	jv_free(var);
}

static void state_clear(struct asl_state *s);

static void states_clear(struct asl_states *ss)
{
	for (int i = 0; i < ss->n; i++)
		state_clear(&ss->v[i]);
	free(ss->v);
	memset(ss, 0, sizeof *ss);
}

static void state_clear(struct asl_state *s)
{
	free(s->name);
	asl_apath_clear(&s->input_path);
	asl_apath_clear(&s->output_path);
	asl_apath_clear(&s->result_path);
	jv_free(s->parameters);
	jv_free(s->result_selector);
	jv_free(s->result);
	jv_free(s->assign);
	asl_tmpl_free(s->t_parameters);
	asl_tmpl_free(s->t_result_selector);
	asl_tmpl_free(s->t_assign);
	asl_tmpl_free(s->t_item_selector);
	asl_tmpl_free(s->t_batch_input);
	asl_tmpl_free(s->t_reader_params);
	for (int i = 0; i < s->nchoices; i++)
		choice_clear(&s->choices[i]);
	free(s->choices);
	free(s->timestamp);
	asl_apath_clear(&s->seconds_path);
	asl_apath_clear(&s->timestamp_path);
	jv_free(s->error);
	jv_free(s->cause);
	asl_apath_clear(&s->error_path);
	asl_apath_clear(&s->cause_path);
	intr_free(s->error_intr);
	intr_free(s->cause_intr);
	free(s->resource);
	asl_apath_clear(&s->timeout_path);
	asl_apath_clear(&s->heartbeat_path);
	for (int i = 0; i < s->nbranches; i++)
		states_clear(&s->branches[i]);
	free(s->branches);
	for (int i = 0; i < s->nretry; i++) {
		for (int j = 0; j < s->retry[i].nerrors; j++)
			free(s->retry[i].errors[j]);
		free(s->retry[i].errors);
	}
	free(s->retry);
	for (int i = 0; i < s->ncatch; i++) {
		for (int j = 0; j < s->catch[i].nerrors; j++)
			free(s->catch[i].errors[j]);
		free(s->catch[i].errors);
		asl_apath_clear(&s->catch[i].result_path);
		jv_free(s->catch[i].assign);
		asl_tmpl_free(s->catch[i].t_assign);
	}
	free(s->catch);
	asl_apath_clear(&s->items_path);
	jv_free(s->items);
	jv_free(s->item_selector);
	asl_apath_clear(&s->max_concurrency_path);
	asl_apath_clear(&s->tolerated_count_path);
	asl_apath_clear(&s->tolerated_pct_path);
	jv_free(s->item_reader);
	jv_free(s->item_batcher);
	jv_free(s->result_writer);
	free(s->label);
}

static int state_index(jv names, const char *name)
{
	jv v = jv_object_get(jv_copy(names), jv_string(name));
	int i = jv_is_valid(v) ? (int)jv_number_value(v) : -1;
	jv_free(v);
	return i;
}

static void load_retry_catch(struct ld *l, struct asl_state *s, jv st, const char *loc, jv names)
{
	jv retry = get(st, "Retry");
	char *rl = loc_join(loc, "Retry");
	if (jv_get_kind(retry) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(retry));
		s->retry = xcalloc((size_t)n + 1, sizeof *s->retry);
		jv_array_foreach(retry, i, r) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%d", rl, i);
			struct retrier *rt = &s->retry[s->nretry++];
			rt->interval = 1;
			rt->backoff = 2;
			rt->max_attempts = 3;
			if (jv_get_kind(r) != JV_KIND_OBJECT) {
				diag(l, SCHEMA, buf_str(&b), "A retrier must be an object");
			} else {
				rt->errors = error_list(l, get(r, "ErrorEquals"), buf_str(&b), &rt->nerrors);
				int p = 0;
				if (has(r, "IntervalSeconds"))
					rt->interval = num_field(l, r, "IntervalSeconds", buf_str(&b), 1, 99999999, 1, &p);
				if (has(r, "MaxAttempts"))
					rt->max_attempts = (int)num_field(l, r, "MaxAttempts", buf_str(&b), 0, 99999999, 1, &p);
				if (has(r, "BackoffRate"))
					rt->backoff = num_field(l, r, "BackoffRate", buf_str(&b), 1, 1e9, 0, &p);
				if (has(r, "MaxDelaySeconds"))
					rt->max_delay = num_field(l, r, "MaxDelaySeconds", buf_str(&b), 1, 31622400, 1, &p);
				jv js = get(r, "JitterStrategy");
				if (jv_get_kind(js) == JV_KIND_STRING)
					rt->jitter_full = !strcmp(jv_string_value(js), "FULL");
				jv_free(js);
			}
			buf_free(&b);
			jv_free(r);
		}
	} else if (jv_is_valid(retry)) {
		diag(l, SCHEMA, rl, "The value for the field 'Retry' must be an array");
	}
	jv_free(retry);
	free(rl);

	jv catch = get(st, "Catch");
	char *cl = loc_join(loc, "Catch");
	if (jv_get_kind(catch) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(catch));
		s->catch = xcalloc((size_t)n + 1, sizeof *s->catch);
		jv_array_foreach(catch, i, c) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%d", cl, i);
			struct catcher *ct = &s->catch[s->ncatch++];
			ct->assign = jv_invalid();
			ct->next = -1;
			if (jv_get_kind(c) != JV_KIND_OBJECT) {
				diag(l, SCHEMA, buf_str(&b), "A catcher must be an object");
			} else {
				ct->errors = error_list(l, get(c, "ErrorEquals"), buf_str(&b), &ct->nerrors);
				jv nx = get(c, "Next");
				if (jv_get_kind(nx) != JV_KIND_STRING ||
				    (ct->next = state_index(names, jv_string_value(nx))) < 0)
					diag(l, SCHEMA, buf_str(&b), "Missing 'Next' target: %s",
					     jv_get_kind(nx) == JV_KIND_STRING ? jv_string_value(nx) : "(none)");
				jv_free(nx);
				path_field(l, c, "ResultPath", buf_str(&b), &ct->result_path,
				           &ct->has_result_path, &ct->result_path_null, 1, 1);
				if (has(c, "Assign")) {
					ct->assign = get(c, "Assign");
					ct->t_assign = asl_tmpl_compile(ct->assign);
					check_template(l, ct->assign, buf_str(&b));
				}
			}
			buf_free(&b);
			jv_free(c);
		}
	} else if (jv_is_valid(catch)) {
		diag(l, SCHEMA, cl, "The value for the field 'Catch' must be an array");
	}
	jv_free(catch);
	free(cl);
}

/* A Task's Resource: an ARN (a Lambda function ARN with a well-formed
 * name and qualifier), or a "${...}" placeholder that CloudFormation's
 * DefinitionSubstitutions fills in at deployment. */
static int resource_ok(const char *rs)
{
	size_t n = strlen(rs);
	if (n > 3 && !strncmp(rs, "${", 2) && rs[n - 1] == '}' && !strchr(rs + 2, '{'))
		return 1;
	if (strncmp(rs, "arn:", 4))
		return 0;
	const char *f = strstr(rs, ":function:");
	if (!f || strncmp(rs + 4, "aws:lambda:", 11))
		return 1;
	const char *name = f + 10, *e = strchr(name, ':');
	size_t nl = e ? (size_t)(e - name) : strlen(name);
	if (nl == 0 || nl > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < nl)
		return 0;
	if (e) {
		const char *q = e + 1;
		size_t ql = strlen(q);
		if (ql == 0 || ql > 128)
			return 0;
		if (strcmp(q, "$LATEST") &&
		    strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < ql)
			return 0;
	}
	return 1;
}

static void load_state(struct ld *l, jv st, const char *name, const char *loc,
                       struct asl_state *s, jv names, const char *ql)
{
	static const char *const types[] = {
		[T_PASS] = "Pass", [T_TASK] = "Task", [T_CHOICE] = "Choice", [T_WAIT] = "Wait",
		[T_SUCCEED] = "Succeed", [T_FAIL] = "Fail", [T_PARALLEL] = "Parallel", [T_MAP] = "Map",
	};
	s->name = xstrdup(name);
	s->next = -1;
	s->deflt = -1;
	s->parameters = s->result_selector = s->result = s->assign = jv_invalid();
	s->error = s->cause = s->items = s->item_selector = jv_invalid();
	s->item_reader = s->item_batcher = s->result_writer = jv_invalid();
	if (jv_get_kind(st) != JV_KIND_OBJECT) {
		diag(l, SCHEMA, loc, "A state must be an object");
		return;
	}
	jv ty = get(st, "Type");
	int t = -1;
	if (jv_get_kind(ty) == JV_KIND_STRING)
		for (int i = 0; i < (int)ARRAY_LEN(types); i++)
			if (!strcmp(types[i], jv_string_value(ty)))
				t = i;
	jv_free(ty);
	if (t < 0) {
		char *fl = loc_join(loc, "Type");
		diag(l, SCHEMA, fl, "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]");
		free(fl);
		return;
	}
	s->type = (enum asl_type)t;

	/* query language */
	jv sql = get(st, "QueryLanguage");
	const char *myql = ql;
	if (jv_get_kind(sql) == JV_KIND_STRING) {
		const char *q = jv_string_value(sql);
		if (strcmp(q, "JSONPath") && strcmp(q, "JSONata")) {
			char *fl = loc_join(loc, "QueryLanguage");
			diag(l, SCHEMA, fl, "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]");
			free(fl);
		} else if (l->top_jsonata && !strcmp(q, "JSONPath")) {
			diag(l, SCHEMA, loc, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
		}
		myql = !strcmp(q, "JSONata") ? "JSONata" : "JSONPath";
	} else if (jv_is_valid(sql)) {
		char *fl = loc_join(loc, "QueryLanguage");
		diag(l, SCHEMA, fl, "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]");
		free(fl);
	}
	jv_free(sql);
	int jsonata = !strcmp(myql, "JSONata");
	if (jsonata)
		l->jsonata_used = 1;

	jv_object_foreach(st, key, val) {
		const char *k = jv_string_value(key);
		if (!field_known(s->type, k)) {
			char *fl = loc_join(loc, k);
			diag(l, SCHEMA, fl, "Field '%s' is not supported by a %s state", k, types[t]);
			free(fl);
		} else if (jsonata && (!strcmp(k, "InputPath") || !strcmp(k, "OutputPath") ||
		                       !strcmp(k, "Parameters") || !strcmp(k, "ResultPath") ||
		                       !strcmp(k, "ResultSelector") || !strcmp(k, "ItemsPath") ||
		                       !strcmp(k, "SecondsPath") || !strcmp(k, "TimestampPath") ||
		                       !strcmp(k, "ErrorPath") || !strcmp(k, "CausePath"))) {
			char *fl = loc_join(loc, k);
			diag(l, SCHEMA, fl, "The field '%s' is not supported for JSONata", k);
			free(fl);
		} else if (!jsonata && (!strcmp(k, "Output") || !strcmp(k, "Arguments"))) {
			char *fl = loc_join(loc, k);
			diag(l, SCHEMA, fl, "The field '%s' is supported only with JSONata", k);
			free(fl);
		}
		jv_free(key);
		jv_free(val);
	}

	/* transitions */
	int terminal = s->type == T_SUCCEED || s->type == T_FAIL || s->type == T_CHOICE;
	jv next = get(st, "Next"), end = get(st, "End");
	if (!terminal) {
		int hn = jv_is_valid(next), he = jv_get_kind(end) == JV_KIND_TRUE;
		if (hn == he)
			diag(l, SCHEMA, loc, "State \"%s\" MUST contain exactly one of \"End\", \"Next\"", name);
		if (hn) {
			if (jv_get_kind(next) != JV_KIND_STRING ||
			    (s->next = state_index(names, jv_string_value(next))) < 0) {
				char *fl = loc_join(loc, "Next");
				diag(l, SCHEMA, fl, "Missing 'Next' target: %s",
				     jv_get_kind(next) == JV_KIND_STRING ? jv_string_value(next) : "(not a string)");
				free(fl);
			}
		}
		s->end = he;
	} else if (jv_is_valid(next) || jv_is_valid(end)) {
		diag(l, SCHEMA, loc, "A %s state cannot have 'Next' or 'End'", types[t]);
	}
	jv_free(next);
	jv_free(end);

	/* I/O */
	path_field(l, st, "InputPath", loc, &s->input_path, &s->has_input_path, &s->input_path_null, 1, 0);
	path_field(l, st, "OutputPath", loc, &s->output_path, &s->has_output_path, &s->output_path_null, 1, 0);
	path_field(l, st, "ResultPath", loc, &s->result_path, &s->has_result_path, &s->result_path_null, 1, 1);
	if (has(st, "Parameters")) {
		s->parameters = get(st, "Parameters");
		s->t_parameters = asl_tmpl_compile(s->parameters);
		char *fl = loc_join(loc, "Parameters");
		check_template(l, s->parameters, fl);
		free(fl);
	}
	if (has(st, "ResultSelector")) {
		s->result_selector = get(st, "ResultSelector");
		s->t_result_selector = asl_tmpl_compile(s->result_selector);
		char *fl = loc_join(loc, "ResultSelector");
		check_template(l, s->result_selector, fl);
		free(fl);
	}
	if (has(st, "Assign")) {
		s->assign = get(st, "Assign");
		s->t_assign = asl_tmpl_compile(s->assign);
		char *fl = loc_join(loc, "Assign");
		if (jv_get_kind(s->assign) != JV_KIND_OBJECT)
			diag(l, SCHEMA, fl, "The value for the field 'Assign' must be an object");
		else if (!jsonata)
			check_template(l, s->assign, fl);
		free(fl);
	}
	if (has(st, "Result"))
		s->result = get(st, "Result");

	int p = 0;
	switch (s->type) {
	case T_CHOICE: {
		jv ch = get(st, "Choices");
		char *fl = loc_join(loc, "Choices");
		if (jv_get_kind(ch) != JV_KIND_ARRAY || !jv_array_length(jv_copy(ch))) {
			diag(l, SCHEMA, fl, "The field 'Choices' is required and must be a non-empty array");
			jv_free(ch);
		} else {
			int n = jv_array_length(jv_copy(ch));
			s->choices = xcalloc((size_t)n, sizeof *s->choices);
			s->nchoices = n;
			jv_array_foreach(ch, i, r) {
				struct buf b = BUF_INIT;
				buf_printf(&b, "%s/%d", fl, i);
				load_rule(l, r, buf_str(&b), &s->choices[i], 1);
				if (jv_get_kind(r) == JV_KIND_OBJECT) {
					jv nx = get(r, "Next");
					if (jv_get_kind(nx) != JV_KIND_STRING ||
					    (s->choices[i].next = state_index(names, jv_string_value(nx))) < 0)
						diag(l, SCHEMA, buf_str(&b), "Missing 'Next' target: %s",
						     jv_get_kind(nx) == JV_KIND_STRING ? jv_string_value(nx) : "(none)");
					jv_free(nx);
					if (has(r, "Assign")) {
						s->choices[i].assign = get(r, "Assign");
						s->choices[i].t_assign = asl_tmpl_compile(s->choices[i].assign);
					}
				}
				buf_free(&b);
				jv_free(r);
			}
			jv_free(ch);
		}
		free(fl);
		jv d = get(st, "Default");
		if (jv_get_kind(d) == JV_KIND_STRING &&
		    (s->deflt = state_index(names, jv_string_value(d))) < 0) {
			char *dl = loc_join(loc, "Default");
			diag(l, SCHEMA, dl, "Missing 'Next' target: %s", jv_string_value(d));
			free(dl);
		}
		jv_free(d);
		break;
	}
	case T_WAIT: {
		int n = has(st, "Seconds") + has(st, "SecondsPath") + has(st, "Timestamp") +
		        has(st, "TimestampPath");
		if (n != 1)
			diag(l, SCHEMA, loc, "State \"%s\" MUST contain exactly one of \"Seconds\", \"SecondsPath\", \"Timestamp\", \"TimestampPath\"", name);
		s->seconds = num_field(l, st, "Seconds", loc, 0, 99999999, 1, &s->has_seconds);
		jv ts = get(st, "Timestamp");
		if (jv_get_kind(ts) == JV_KIND_STRING && !is_jsonata_str(ts)) {
			double when;
			if (asl_parse_time(jv_string_value(ts), &when)) {
				char *tl = loc_join(loc, "Timestamp");
				diag(l, SCHEMA, tl, "String does not match RFC3339 timestamp");
				free(tl);
			}
			s->timestamp = xstrdup(jv_string_value(ts));
			s->has_timestamp = 1;
		} else if (jv_is_valid(ts) && !is_jsonata_str(ts)) {
			char *tl = loc_join(loc, "Timestamp");
			diag(l, SCHEMA, tl, "String does not match RFC3339 timestamp");
			free(tl);
		}
		jv_free(ts);
		path_field(l, st, "SecondsPath", loc, &s->seconds_path, &s->has_seconds_path, NULL, 0, 0);
		path_field(l, st, "TimestampPath", loc, &s->timestamp_path, &s->has_timestamp_path, NULL, 0, 0);
		break;
	}
	case T_FAIL:
		at_most_one(l, st, name, loc, "Error", "ErrorPath");
		at_most_one(l, st, name, loc, "Cause", "CausePath");
		s->error = get(st, "Error");
		s->cause = get(st, "Cause");
		if (!jsonata) {
			if (has(st, "ErrorPath")) {
				jv v = get(st, "ErrorPath");
				char *err = NULL;
				if (jv_get_kind(v) == JV_KIND_STRING &&
				    (intr_is_call(jv_string_value(v)) ? intr_check(jv_string_value(v), &err) == 0 : 1)) {
					if (!intr_is_call(jv_string_value(v)))
						path_field(l, st, "ErrorPath", loc, &s->error_path, &s->has_error_path, NULL, 0, 0);
					else {
						s->has_error_path = 2;
						s->error_intr = intr_compile(jv_string_value(v), asl_path_handle,
						                             asl_path_release, &err);
					}
				} else {
					diag(l, SCHEMA, loc, "The value for the field 'ErrorPath' must be a valid JSONPath or a valid intrinsic function call");
				}
				free(err);
				jv_free(v);
			}
			if (has(st, "CausePath")) {
				jv v = get(st, "CausePath");
				char *err = NULL;
				if (jv_get_kind(v) == JV_KIND_STRING &&
				    (intr_is_call(jv_string_value(v)) ? intr_check(jv_string_value(v), &err) == 0 : 1)) {
					if (!intr_is_call(jv_string_value(v)))
						path_field(l, st, "CausePath", loc, &s->cause_path, &s->has_cause_path, NULL, 0, 0);
					else {
						s->has_cause_path = 2;
						s->cause_intr = intr_compile(jv_string_value(v), asl_path_handle,
						                             asl_path_release, &err);
					}
				} else {
					diag(l, SCHEMA, loc, "The value for the field 'CausePath' must be a valid JSONPath or a valid intrinsic function call");
				}
				free(err);
				jv_free(v);
			}
		}
		break;
	case T_TASK: {
		jv r = get(st, "Resource");
		if (jv_get_kind(r) == JV_KIND_OBJECT && jv_object_length(jv_copy(r)) == 1 &&
		    (has(r, "Ref") || has(r, "Fn::GetAtt") || has(r, "Fn::Sub") || has(r, "Fn::Join"))) {
			/* a CloudFormation intrinsic, resolved at deployment: valid,
			 * but nothing to run locally */
		} else if (jv_get_kind(r) != JV_KIND_STRING) {
			diag(l, SCHEMA, loc, "These fields are required: [Resource]");
		} else {
			const char *rs = jv_string_value(r);
			if (!resource_ok(rs))
				diag(l, SCHEMA, loc, "The resource provided %s is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.", rs);
			if (l->express) {
				/* Express workflows cannot wait: no callbacks, no jobs */
				char *rl = loc_join(loc, "Resource");
				size_t rn = strlen(rs);
				if (rn > 17 && !strcmp(rs + rn - 17, ".waitForTaskToken"))
					diag(l, SCHEMA, rl, "Express state machine does not support '.waitForTaskToken' service integration ");
				else if (strstr(rs, ".sync") && (!strcmp(strstr(rs, ".sync"), ".sync") ||
				                                 !strncmp(strstr(rs, ".sync"), ".sync:", 6)))
					diag(l, SCHEMA, rl, "Express state machine does not support '.sync' service integration");
				else if (!strncmp(rs, "arn:", 4) && strstr(rs, ":states:") && strstr(rs, ":activity:"))
					diag(l, SCHEMA, rl, "Express state machine does not support Activity ARN");
				free(rl);
			}
			s->resource = xstrdup(rs);
		}
		jv_free(r);
		at_most_one(l, st, name, loc, "TimeoutSeconds", "TimeoutSecondsPath");
		at_most_one(l, st, name, loc, "HeartbeatSeconds", "HeartbeatSecondsPath");
		s->timeout_seconds = num_field(l, st, "TimeoutSeconds", loc, 1, 99999999, 1, &p);
		s->heartbeat_seconds = num_field(l, st, "HeartbeatSeconds", loc, 1, 99999999, 1, &p);
		path_field(l, st, "TimeoutSecondsPath", loc, &s->timeout_path, &s->has_timeout_path, NULL, 0, 0);
		path_field(l, st, "HeartbeatSecondsPath", loc, &s->heartbeat_path, &s->has_heartbeat_path, NULL, 0, 0);
		if (has(st, "Credentials")) {
			jv c = get(st, "Credentials");
			char *fl = loc_join(loc, "Credentials");
			if (jv_get_kind(c) != JV_KIND_OBJECT)
				diag(l, SCHEMA, fl, "The value for the field 'Credentials' must be an object");
			else if (!has(c, "RoleArn") && !has(c, "RoleArn.$"))
				diag(l, SCHEMA, fl, "The field 'RoleArn' is required but was missing");
			else if (!jsonata)
				check_template(l, c, fl);
			free(fl);
			jv_free(c);
		}
		load_retry_catch(l, s, st, loc, names);
		break;
	}
	case T_PARALLEL: {
		jv br = get(st, "Branches");
		char *fl = loc_join(loc, "Branches");
		if (jv_get_kind(br) != JV_KIND_ARRAY) {
			diag(l, SCHEMA, loc, "These fields are required: [Branches]");
			jv_free(br);
		} else if (!jv_array_length(jv_copy(br))) {
			diag(l, SCHEMA, fl, "Value cannot be empty");
			jv_free(br);
		} else {
			int n = jv_array_length(jv_copy(br));
			s->branches = xcalloc((size_t)n, sizeof *s->branches);
			s->nbranches = n;
			jv_array_foreach(br, i, b) {
				struct buf bl = BUF_INIT;
				buf_printf(&bl, "%s/%d", fl, i);
				if (jv_get_kind(b) != JV_KIND_OBJECT)
					diag(l, SCHEMA, buf_str(&bl), "A branch must be an object");
				else
					load_states(l, b, buf_str(&bl), &s->branches[i], 0, myql);
				buf_free(&bl);
				jv_free(b);
			}
			jv_free(br);
		}
		free(fl);
		load_retry_catch(l, s, st, loc, names);
		break;
	}
	case T_MAP: {
		int hi = has(st, "ItemProcessor"), hit = has(st, "Iterator");
		if (hi + hit != 1) {
			diag(l, SCHEMA, loc, "State \"%s\" MUST contain exactly one of \"ItemProcessor\", \"Iterator\"", name);
		} else {
			const char *key = hi ? "ItemProcessor" : "Iterator";
			jv ip = get(st, key);
			char *fl = loc_join(loc, key);
			s->branches = xcalloc(1, sizeof *s->branches);
			s->nbranches = 1;
			if (jv_get_kind(ip) != JV_KIND_OBJECT) {
				diag(l, SCHEMA, fl, "The value for the field '%s' must be an object", key);
			} else {
				load_states(l, ip, fl, &s->branches[0], 0, myql);
				jv pc = get(ip, "ProcessorConfig");
				if (jv_get_kind(pc) == JV_KIND_OBJECT) {
					jv mode = get(pc, "Mode");
					s->distributed = jv_get_kind(mode) == JV_KIND_STRING &&
					                 !strcmp(jv_string_value(mode), "DISTRIBUTED");
					jv_free(mode);
				}
				jv_free(pc);
			}
			jv_free(ip);
			free(fl);
		}
		path_field(l, st, "ItemsPath", loc, &s->items_path, &s->has_items_path, NULL, 0, 0);
		if (has(st, "Items"))
			s->items = get(st, "Items");
		if (has(st, "ItemSelector") && has(st, "Parameters"))
			diag(l, SCHEMA, loc, "State \"%s\" MUST contain at most one of \"ItemSelector\", \"Parameters\"", name);
		if (has(st, "ItemSelector")) {
			s->item_selector = get(st, "ItemSelector");
			s->t_item_selector = asl_tmpl_compile(s->item_selector);
			char *fl = loc_join(loc, "ItemSelector");
			if (!jsonata)
				check_template(l, s->item_selector, fl);
			free(fl);
		} else if (jv_is_valid(s->parameters)) {
			s->item_selector = jv_copy(s->parameters);
			s->t_item_selector = asl_tmpl_compile(s->item_selector);
		}
		at_most_one(l, st, name, loc, "MaxConcurrency", "MaxConcurrencyPath");
		at_most_one(l, st, name, loc, "ToleratedFailureCount", "ToleratedFailureCountPath");
		at_most_one(l, st, name, loc, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath");
		s->max_concurrency = (int)num_field(l, st, "MaxConcurrency", loc, 0, 99999999, 1, &p);
		s->tolerated_count = num_field(l, st, "ToleratedFailureCount", loc, 0, 99999999, 1, &s->has_tolerated_count);
		s->tolerated_pct = num_field(l, st, "ToleratedFailurePercentage", loc, 0, 100, 0, &s->has_tolerated_pct);
		path_field(l, st, "MaxConcurrencyPath", loc, &s->max_concurrency_path, &s->has_max_concurrency_path, NULL, 0, 0);
		path_field(l, st, "ToleratedFailureCountPath", loc, &s->tolerated_count_path, &s->has_tolerated_count_path, NULL, 0, 0);
		path_field(l, st, "ToleratedFailurePercentagePath", loc, &s->tolerated_pct_path, &s->has_tolerated_pct_path, NULL, 0, 0);
		if (has(st, "ItemReader")) {
			s->item_reader = get(st, "ItemReader");
			if (jv_get_kind(s->item_reader) == JV_KIND_OBJECT) {
				jv rp = get(s->item_reader, "Parameters");
				if (jv_get_kind(rp) == JV_KIND_OBJECT)
					s->t_reader_params = asl_tmpl_compile(rp);
				jv_free(rp);
				jv rc = get(s->item_reader, "ReaderConfig");
				if (jv_get_kind(rc) == JV_KIND_OBJECT) {
					at_most_one(l, rc, name, loc, "MaxItems", "MaxItemsPath");
				}
				jv_free(rc);
			}
		}
		if (has(st, "ItemBatcher")) {
			s->item_batcher = get(st, "ItemBatcher");
			if (jv_get_kind(s->item_batcher) == JV_KIND_OBJECT) {
				jv bi = get(s->item_batcher, "BatchInput");
				if (jv_get_kind(bi) == JV_KIND_OBJECT)
					s->t_batch_input = asl_tmpl_compile(bi);
				jv_free(bi);
				at_most_one(l, s->item_batcher, name, loc, "MaxItemsPerBatch", "MaxItemsPerBatchPath");
				at_most_one(l, s->item_batcher, name, loc, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath");
			}
		}
		if (has(st, "ResultWriter"))
			s->result_writer = get(st, "ResultWriter");
		if (has(st, "Label")) {
			jv lb = get(st, "Label");
			if (jv_get_kind(lb) == JV_KIND_STRING) {
				const char *lt = jv_string_value(lb);
				size_t n = (size_t)jv_string_length_bytes(jv_copy(lb));
				if (n == 0)
					diag(l, SCHEMA, loc, "Label cannot be empty");
				else if (n > 40)
					diag(l, SCHEMA, loc, "Label cannot exceed 40 characters");
				for (const unsigned char *c = (const unsigned char *)lt; c < (const unsigned char *)lt + n; c++)
					if (*c == 0 || strchr(" <>{}[]?*\"#%\\^|~`$&,;:/", *c) || *c < 0x20 ||
					    *c == 0x7f || (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f)) {
						diag(l, SCHEMA, loc, "Label contains invalid character");
						break;
					}
				s->label = xstrdup(lt);
			}
			jv_free(lb);
		}
		load_retry_catch(l, s, st, loc, names);
		break;
	}
	case T_PASS:
	case T_SUCCEED:
		break;
	}
}

/* Which states can be reached from Start, through Next, Default, Choices
 * and Catch. */
static void mark(const struct asl_states *ss, int i, char *seen)
{
	if (i < 0 || i >= ss->n || seen[i])
		return;
	seen[i] = 1;
	const struct asl_state *s = &ss->v[i];
	mark(ss, s->next, seen);
	mark(ss, s->deflt, seen);
	for (int j = 0; j < s->nchoices; j++)
		mark(ss, s->choices[j].next, seen);
	for (int j = 0; j < s->ncatch; j++)
		mark(ss, s->catch[j].next, seen);
}

static void load_states(struct ld *l, jv sm, const char *loc, struct asl_states *out,
                        int top, const char *ql)
{
	memset(out, 0, sizeof *out);
	out->start = -1;
	int hs = has(sm, "States"), ha = has(sm, "StartAt");
	if (!hs || !ha) {
		diag(l, SCHEMA, loc, "These fields are required: [%s%s%s]", hs ? "" : "States",
		     !hs && !ha ? ", " : "", ha ? "" : "StartAt");
		return;
	}
	jv states = get(sm, "States");
	jv start = get(sm, "StartAt");
	char *sl = loc_join(loc, "States");
	if (jv_get_kind(states) != JV_KIND_OBJECT || !jv_object_length(jv_copy(states))) {
		diag(l, SCHEMA, sl, "The field 'States' must be a non-empty object");
		goto done;
	}
	jv names = jv_object();
	int n = 0;
	jv_object_foreach(states, key, val) {
		const char *k = jv_string_value(key);
		if (strlen(k) > 80) {
			diag(l, SCHEMA, sl, "State name '%s' exceeds 80 characters", k);
		}
		if (jv_object_has(jv_copy(l->all_names), jv_copy(key)))
			diag(l, SCHEMA, sl, "A state with this name already exists: %s", k);
		l->all_names = jv_object_set(l->all_names, jv_copy(key), jv_true());
		names = jv_object_set(names, key, jv_number(n++));
		jv_free(val);
	}
	out->v = xcalloc((size_t)n, sizeof *out->v);
	out->n = n;
	int i = 0;
	jv_object_foreach(states, key, val) {
		char *fl = loc_join(sl, jv_string_value(key));
		load_state(l, val, jv_string_value(key), fl, &out->v[i++], names, ql);
		free(fl);
		jv_free(key);
		jv_free(val);
	}
	if (jv_get_kind(start) != JV_KIND_STRING ||
	    (out->start = state_index(names, jv_string_value(start))) < 0) {
		char *fl = loc_join(loc, "StartAt");
		diag(l, SCHEMA, fl, "Missing 'Next' target: %s",
		     jv_get_kind(start) == JV_KIND_STRING ? jv_string_value(start) : "(not a string)");
		free(fl);
	} else {
		char *seen = xcalloc((size_t)n, 1);
		mark(out, out->start, seen);
		int terminal = 0;
		for (int j = 0; j < n; j++) {
			if (!seen[j]) {
				char *fl = loc_join(sl, out->v[j].name);
				diag(l, SCHEMA, fl, "State %s is not reachable", out->v[j].name);
				free(fl);
			}
			enum asl_type t = out->v[j].type;
			if (out->v[j].end || t == T_SUCCEED || t == T_FAIL)
				terminal = 1;
		}
		if (!terminal)
			diag(l, SCHEMA, loc, "The state machine is missing a terminal state");
		free(seen);
	}
	jv_free(names);
	if (top && has(sm, "TimeoutSeconds")) {
		int p = 0;
		out->timeout_seconds = num_field(l, sm, "TimeoutSeconds", loc, 1, 99999999, 1, &p);
	}
done:
	free(sl);
	jv_free(states);
	jv_free(start);
}

static jv check(jv def, struct asl_states *out, int *jsonata, int express)
{
	struct ld l = { jv_array(), 0, jv_object(), 0, express };
	memset(out, 0, sizeof *out);
	if (jv_get_kind(def) != JV_KIND_OBJECT) {
		diag(&l, SCHEMA, NULL, "Definition must be a valid JSON object");
	} else {
		const char *ql = "JSONPath";
		jv q = get(def, "QueryLanguage");
		if (jv_get_kind(q) == JV_KIND_STRING && !strcmp(jv_string_value(q), "JSONata"))
			ql = "JSONata";
		else if (jv_is_valid(q) && (jv_get_kind(q) != JV_KIND_STRING ||
		                            strcmp(jv_string_value(q), "JSONPath")))
			diag(&l, SCHEMA, "/QueryLanguage", "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]");
		jv_free(q);
		l.top_jsonata = !strcmp(ql, "JSONata");
		load_states(&l, def, "/", out, 1, ql);
	}
	jv_free(l.all_names);
	*jsonata = l.jsonata_used;
	return l.diags;
}

jv asl_validate(jv def)
{
	return asl_validate_type(def, "STANDARD");
}

jv asl_validate_type(jv def, const char *type)
{
	struct asl_states ss;
	int jsonata;
	jv diags = check(def, &ss, &jsonata, type && !strcmp(type, "EXPRESS"));
	states_clear(&ss);
	jv_free(def);
	int n = jv_array_length(jv_copy(diags));
	jv r = jv_object();
	r = jv_object_set(r, jv_string("result"), jv_string(n ? "FAIL" : "OK"));
	r = jv_object_set(r, jv_string("diagnostics"), diags);
	r = jv_object_set(r, jv_string("truncated"), jv_false());
	return r;
}

asl_machine *asl_load(jv def, char **err)
{
	asl_machine *m = xcalloc(1, sizeof *m);
	int jsonata;
	def = jv_copy(def);
	jv diags = check(def, &m->top, &jsonata, 0);
	if (jv_array_length(jv_copy(diags)) > 0 || jsonata) {
		if (err) {
			if (jsonata && !jv_array_length(jv_copy(diags))) {
				*err = xstrdup("JSONata states are not supported yet by this version");
			} else {
				jv d = jv_array_get(jv_copy(diags), 0);
				jv msg = jv_object_get(jv_copy(d), jv_string("message"));
				jv loc = jv_object_get(d, jv_string("location"));
				struct buf b = BUF_INIT;
				buf_printf(&b, "%s", jv_string_value(msg));
				if (jv_get_kind(loc) == JV_KIND_STRING)
					buf_printf(&b, " at %s", jv_string_value(loc));
				*err = buf_detach(&b);
				jv_free(msg);
				jv_free(loc);
			}
		}
		jv_free(diags);
		states_clear(&m->top);
		jv_free(def);
		free(m);
		return NULL;
	}
	jv_free(diags);
	m->def = def;
	return m;
}

void asl_free(asl_machine *m)
{
	if (!m)
		return;
	states_clear(&m->top);
	jv_free(m->def);
	free(m);
}
