/*
 * tests/conformance/sfn.c: run the recorded AWS Step Functions cases
 * through the ASL library.
 *
 *   sfn CONFDIR BINDIR [--report] [--verbose]
 *
 * --verbose (or SFN_CONF_VERBOSE in the environment) lists on stderr each
 * failing case with what it got and wanted, and each judged definition
 * whose diagnostics differ from the messages AWS recorded (MESSAGE lines:
 * reported, not counted).
 *
 * Suites:
 *   sfn-cases     sfn/cases.jsonl cases with empty `needs` whose definition
 *                 uses the JSONPath query language only: status, output,
 *                 error and cause compared as JSON values (placeholders
 *                 match anything), and the history's event types (as a
 *                 sequence, or as a multiset when Map or Parallel states
 *                 make the order depend on scheduling).
 *   sfn-invalid   sfn/invalid_definitions.jsonl cases that judge a
 *                 definition (CreateStateMachine's InvalidDefinition and
 *                 ValidateStateMachineDefinition): the verdict must match.
 *   asl-validate  asl-validate/manifest.json fixtures: the verdict must match.
 *
 * Executions use a virtual clock, account 111111111111 (the account of the
 * recordings) and region us-east-1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "util.h"

static int report;

/* ---- placeholders ---------------------------------------------------- */

/* Does S match PAT, where each placeholder in PH (array of strings)
 * stands for one or more characters? */
static int glob_match(const char *s, const char *pat, jv ph)
{
	if (!*pat)
		return !*s;
	int n = jv_array_length(jv_copy(ph));
	for (int i = 0; i < n; i++) {
		jv t = jv_array_get(jv_copy(ph), i);
		const char *ts = jv_string_value(t);
		size_t tl = strlen(ts);
		if (tl && !strncmp(pat, ts, tl)) {
			for (const char *p = s + 1; p <= s + strlen(s); p++)
				if (glob_match(p, pat + tl, ph)) {
					jv_free(t);
					return 1;
				}
			jv_free(t);
			return 0;
		}
		jv_free(t);
	}
	return *s == *pat && glob_match(s + 1, pat + 1, ph);
}

static int has_placeholder(const char *s, jv ph)
{
	int found = 0;
	jv_array_foreach(ph, i, t) {
		(void)i;
		if (strstr(s, jv_string_value(t)))
			found = 1;
		jv_free(t);
	}
	return found;
}

static int is_placeholder(const char *s, jv ph)
{
	int found = 0;
	jv_array_foreach(ph, i, t) {
		(void)i;
		if (!strcmp(s, jv_string_value(t)))
			found = 1;
		jv_free(t);
	}
	return found;
}

/*
 * Values the recorder's snapshot transformers replaced by fixed words
 * without listing them among the placeholders: the execution role's ARN,
 * the start and entered times, and the numbers States.MathRandom drew. Each stands for any value of
 * its kind.
 */
static int recorder_word(const char *w, jv got)
{
	if (!strcmp(w, "snf_role_arn") || !strcmp(w, "sfn_role_arn"))
		return jv_get_kind(got) == JV_KIND_STRING &&
		       !strncmp(jv_string_value(got), "arn:aws:iam::", 13);
	if (!strcmp(w, "start-time") || !strcmp(w, "entered-time")) {
		double t;
		return jv_get_kind(got) == JV_KIND_STRING && !asl_parse_time(jv_string_value(got), &t);
	}
	if (!strcmp(w, "RandomNumberGenerated"))
		return jv_get_kind(got) == JV_KIND_NUMBER;
	return -1;
}

/* Compare GOT with WANT as JSON values (neither consumed). */
static int match(jv got, jv want, jv ph)
{
	jv_kind wk = jv_get_kind(want), gk = jv_get_kind(got);
	if (wk == JV_KIND_STRING) {
		const char *w = jv_string_value(want);
		if (is_placeholder(w, ph))
			return jv_is_valid(got);
		int rw = recorder_word(w, got);
		if (rw >= 0)
			return rw;
		if (gk != JV_KIND_STRING)
			return 0;
		if (has_placeholder(w, ph))
			return glob_match(jv_string_value(got), w, ph);
		return !strcmp(jv_string_value(got), w);
	}
	if (wk != gk)
		return 0;
	if (wk == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(want));
		if (n != jv_array_length(jv_copy(got)))
			return 0;
		for (int i = 0; i < n; i++) {
			jv a = jv_array_get(jv_copy(got), i), b = jv_array_get(jv_copy(want), i);
			int ok = match(a, b, ph);
			jv_free(a);
			jv_free(b);
			if (!ok)
				return 0;
		}
		return 1;
	}
	if (wk == JV_KIND_OBJECT) {
		if (jv_object_length(jv_copy(want)) != jv_object_length(jv_copy(got)))
			return 0;
		int ok = 1;
		jv_object_foreach(want, k, v) {
			jv g = jv_object_get(jv_copy(got), k);
			if (ok && (!jv_is_valid(g) || !match(g, v, ph)))
				ok = 0;
			jv_free(g);
			jv_free(v);
		}
		return ok;
	}
	return jv_equal(jv_copy(got), jv_copy(want));
}

static int match_str(const char *got, jv want, jv ph)
{
	jv_kind k = jv_get_kind(want);
	if (k == JV_KIND_NULL || k == JV_KIND_INVALID ||
	    (k == JV_KIND_STRING && !*jv_string_value(want)))
		return !got || !*got;
	if (!got)
		return 0;
	if (k != JV_KIND_STRING) {
		/* a recorded cause that is JSON: compare as a value */
		jv g = jv_parse(got);
		int ok = jv_is_valid(g) && match(g, want, ph);
		jv_free(g);
		return ok;
	}
	jv g = jv_string(got);
	int ok = match(g, want, ph);
	jv_free(g);
	return ok;
}

/* ---- helpers ------------------------------------------------------------ */

static jv read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return jv_invalid_with_msg(jv_string("cannot open"));
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	jv s = jv_string_sized(b.s ? b.s : "", (int)b.len);
	buf_free(&b);
	return s;
}

/* Calls FN for each line of a JSON Lines file. */
static void each_line(const char *path, void (*fn)(jv, void *), void *ctx)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "sfn: %s: cannot open\n", path);
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		jv v = jv_parse_sized(line, (int)n);
		if (jv_is_valid(v))
			fn(v, ctx);
		else
			jv_free(v);
	}
	free(line);
	fclose(f);
}

static jv get(jv o, const char *k)
{
	if (jv_get_kind(o) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(o), jv_string(k));
}

/* ---- feature tally ---------------------------------------------------- */

struct tally {
	jv by_feature;  /* feature -> [passed, total] */
	int passed, total;
	const char *name;
};

static void count(struct tally *t, jv features, int ok)
{
	t->total++;
	t->passed += ok;
	if (jv_get_kind(features) != JV_KIND_ARRAY)
		return;
	jv_array_foreach(features, i, f) {
		(void)i;
		jv cur = jv_object_get(jv_copy(t->by_feature), jv_copy(f));
		double p = 0, n = 0;
		if (jv_is_valid(cur)) {
			jv a = jv_array_get(jv_copy(cur), 0), b = jv_array_get(jv_copy(cur), 1);
			p = jv_number_value(a);
			n = jv_number_value(b);
			jv_free(a);
			jv_free(b);
		}
		jv_free(cur);
		jv pair = jv_array_append(jv_array_append(jv_array(), jv_number(p + ok)), jv_number(n + 1));
		t->by_feature = jv_object_set(t->by_feature, f, pair);
	}
}

static void print_tally(struct tally *t)
{
	if (report) {
		jv keys = jv_keys(jv_copy(t->by_feature));
		jv_array_foreach(keys, i, k) {
			(void)i;
			jv pair = jv_object_get(jv_copy(t->by_feature), jv_copy(k));
			jv a = jv_array_get(jv_copy(pair), 0), b = jv_array_get(pair, 1);
			printf("# %s %-40s %4.0f/%-4.0f\n", t->name, jv_string_value(k),
			       jv_number_value(a), jv_number_value(b));
			jv_free(a);
			jv_free(b);
			jv_free(k);
		}
		jv_free(keys);
	}
	printf("suite %s %d %d\n", t->name, t->passed, t->total);
	jv_free(t->by_feature);
}

/* ---- sfn-cases ---------------------------------------------------------- */

static int uses_jsonata(jv v)
{
	jv_kind k = jv_get_kind(v);
	int found = 0;
	if (k == JV_KIND_OBJECT) {
		jv ql = jv_object_get(jv_copy(v), jv_string("QueryLanguage"));
		if (jv_get_kind(ql) == JV_KIND_STRING && !strcmp(jv_string_value(ql), "JSONata"))
			found = 1;
		jv_free(ql);
		jv_object_foreach(v, key, val) {
			jv_free(key);
			if (!found)
				found = uses_jsonata(val);
			jv_free(val);
		}
	} else if (k == JV_KIND_ARRAY) {
		jv_array_foreach(v, i, val) {
			(void)i;
			if (!found)
				found = uses_jsonata(val);
			jv_free(val);
		}
	}
	return found;
}

static int has_concurrency(jv v)
{
	jv_kind k = jv_get_kind(v);
	int found = 0;
	if (k == JV_KIND_OBJECT) {
		jv ty = jv_object_get(jv_copy(v), jv_string("Type"));
		if (jv_get_kind(ty) == JV_KIND_STRING &&
		    (!strcmp(jv_string_value(ty), "Map") || !strcmp(jv_string_value(ty), "Parallel")))
			found = 1;
		jv_free(ty);
		jv_object_foreach(v, key, val) {
			jv_free(key);
			if (!found)
				found = has_concurrency(val);
			jv_free(val);
		}
	}
	return found;
}

/* The event types of a history, "TypeStateEntered:Name" for events that
 * carry a state name (state and Map iteration events). */
static jv event_names(jv hist)
{
	jv r = jv_array();
	jv_array_foreach(hist, i, ev) {
		(void)i;
		jv ty = get(ev, "type");
		struct buf b = BUF_INIT;
		buf_adds(&b, jv_string_value(ty));
		jv name = jv_invalid();
		jv_object_foreach(ev, k, v) {
			const char *ks = jv_string_value(k);
			if (strstr(ks, "EventDetails") && jv_get_kind(v) == JV_KIND_OBJECT &&
			    (!strncmp(ks, "state", 5) || !strncmp(ks, "mapIteration", 12))) {
				jv_free(name);
				name = get(v, "name");
			}
			jv_free(k);
			jv_free(v);
		}
		if (jv_get_kind(name) == JV_KIND_STRING)
			buf_printf(&b, ":%s", jv_string_value(name));
		jv_free(name);
		r = jv_array_append(r, jv_string(buf_str(&b)));
		buf_free(&b);
		jv_free(ty);
		jv_free(ev);
	}
	return r;
}

static jv sorted(jv a)
{
	return jv_sort(a, jv_copy(a));
}

struct cases_ctx {
	struct tally t;
	int verbose;
};

static void run_case(jv c, void *vctx)
{
	struct cases_ctx *cx = vctx;
	jv needs = get(c, "needs");
	jv def = get(c, "definition");
	int skip = jv_get_kind(needs) != JV_KIND_ARRAY || jv_array_length(jv_copy(needs)) > 0 ||
	           jv_get_kind(def) != JV_KIND_OBJECT || uses_jsonata(def);
	jv_free(needs);
	if (skip) {
		jv_free(def);
		jv_free(c);
		return;
	}
	jv expected = get(c, "expected");
	jv ph = get(expected, "placeholders");
	if (jv_get_kind(ph) != JV_KIND_ARRAY) {
		jv_free(ph);
		ph = jv_array();
	}
	jv input = get(c, "input");
	if (!jv_is_valid(input)) {
		jv_free(input);
		input = jv_object();
	}
	jv hist_want = get(c, "history");
	const char *why = NULL;
	char *err = NULL;
	asl_machine *m = asl_load(def, &err);
	struct asl_result r;
	int ok = 0;
	if (!m) {
		why = "definition refused";
	} else {
		struct asl_options o;
		memset(&o, 0, sizeof o);
		o.exec_name = "exec-0";
		/* Express executions have ARNs of their own shape */
		jv type = get(c, "state_machine_type");
		int express = jv_get_kind(type) == JV_KIND_STRING && !strcmp(jv_string_value(type), "EXPRESS");
		jv_free(type);
		jv kind = get(c, "execution_kind");
		o.sync_express = express && jv_get_kind(kind) == JV_KIND_STRING &&
		                 !strcmp(jv_string_value(kind), "sync");
		jv_free(kind);
		o.exec_arn = express
		    ? "arn:aws:states:us-east-1:111111111111:express:sm-0:exec-0:5f8e2a4c-8c1b-4d6e-9a7f-0b3c2d1e4f5a"
		    : "arn:aws:states:us-east-1:111111111111:execution:sm-0:exec-0";
		o.sm_name = "sm-0";
		o.sm_arn = "arn:aws:states:us-east-1:111111111111:stateMachine:sm-0";
		o.role_arn = "arn:aws:iam::111111111111:role/sfn-role";
		o.virtual_time = 1;
		o.history = 1;
		asl_run(m, input, &o, &r);
		jv status = get(expected, "status");
		ok = 1;
		if (strcmp(asl_status_name(r.status), jv_string_value(status))) {
			ok = 0;
			why = "status";
		} else if (r.status == ASL_SUCCEEDED) {
			jv want = get(expected, "output");
			if (jv_is_valid(want) && !match(r.output, want, ph)) {
				ok = 0;
				why = "output";
			}
			jv_free(want);
		} else if (r.status == ASL_FAILED) {
			jv we = get(expected, "error"), wc = get(expected, "cause");
			if (!match_str(r.error, we, ph)) {
				ok = 0;
				why = "error";
			} else if (!match_str(r.cause, wc, ph)) {
				ok = 0;
				why = "cause";
			}
			jv_free(we);
			jv_free(wc);
		}
		jv_free(status);
		if (ok && jv_get_kind(hist_want) == JV_KIND_ARRAY) {
			jv got = event_names(r.history);
			int same;
			if (has_concurrency(def))
				same = jv_equal(sorted(got), sorted(jv_copy(hist_want)));
			else
				same = jv_equal(got, jv_copy(hist_want));
			if (!same) {
				ok = 0;
				why = "history";
			}
		}
		if (!ok && cx->verbose) {
			jv id = get(c, "id");
			char *o1 = NULL;
			jv d = jv_dump_string(jv_copy(r.output), 0);
			o1 = xstrdup(jv_string_value(d));
			jv_free(d);
			fprintf(stderr, "FAIL %s: %s: got %s output=%.300s error=%s cause=%.300s\n",
			        jv_string_value(id), why, asl_status_name(r.status), o1,
			        r.error ? r.error : "-", r.cause ? r.cause : "-");
			if (!strcmp(why, "history")) {
				jv got = event_names(r.history);
				jv g = jv_dump_string(got, 0), w = jv_dump_string(jv_copy(hist_want), 0);
				fprintf(stderr, "  got  %s\n  want %s\n", jv_string_value(g), jv_string_value(w));
				jv_free(g);
				jv_free(w);
			}
			free(o1);
			jv_free(id);
		}
		asl_result_free(&r);
		asl_free(m);
	}
	if (!m && cx->verbose) {
		jv id = get(c, "id");
		fprintf(stderr, "FAIL %s: %s: %s\n", jv_string_value(id), why, err ? err : "");
		jv_free(id);
	}
	free(err);
	jv features = get(c, "features");
	count(&cx->t, features, ok);
	jv_free(features);
	jv_free(hist_want);
	jv_free(input);
	jv_free(ph);
	jv_free(expected);
	jv_free(def);
	jv_free(c);
}

/* ---- validation suites ------------------------------------------------ */

/* Validate DEF (consumed), which may be a string holding the text. With
 * DIAGS, also stores there our diagnostics as "message at location"
 * strings (an array the caller frees). */
static int verdict_valid(jv def, const char *type, jv *diags)
{
	if (diags)
		*diags = jv_array();
	if (jv_get_kind(def) == JV_KIND_STRING) {
		jv p = jv_parse(jv_string_value(def));
		jv_free(def);
		if (!jv_is_valid(p)) {
			jv_free(p);
			if (diags)
				*diags = jv_array_append(*diags, jv_string("(not JSON)"));
			return 0;
		}
		def = p;
	}
	jv r = asl_validate_type(def, type);
	jv res = get(r, "result");
	int ok = !strcmp(jv_string_value(res), "OK");
	if (diags) {
		jv ds = get(r, "diagnostics");
		jv_array_foreach(ds, i, d) {
			(void)i;
			jv m = get(d, "message"), l = get(d, "location");
			if (jv_get_kind(l) == JV_KIND_STRING)
				*diags = jv_array_append(*diags, jv_string_fmt("%s at %s", jv_string_value(m),
				                                               jv_string_value(l)));
			else
				*diags = jv_array_append(*diags, jv_copy(m));
			jv_free(m);
			jv_free(l);
			jv_free(d);
		}
		jv_free(ds);
	}
	jv_free(res);
	jv_free(r);
	return ok;
}

/* The diagnostics AWS recorded for case C, as "message at location"
 * strings, or invalid when the recording does not show them: a
 * ValidateStateMachineDefinition response lists them; a CreateStateMachine
 * error carries one as "SCHEMA_VALIDATION_FAILED: MESSAGE at LOC'". */
static jv recorded_diags(jv c)
{
	jv api = get(c, "api"), resp = get(c, "recorded_response");
	jv want = jv_invalid();
	if (!strcmp(jv_string_value(api), "ValidateStateMachineDefinition")) {
		jv ds = get(resp, "diagnostics");
		if (jv_get_kind(ds) == JV_KIND_ARRAY) {
			want = jv_array();
			jv_array_foreach(ds, i, d) {
				(void)i;
				jv m = get(d, "message"), l = get(d, "location");
				if (jv_get_kind(l) == JV_KIND_STRING)
					want = jv_array_append(want, jv_string_fmt("%s at %s", jv_string_value(m),
					                                           jv_string_value(l)));
				else
					want = jv_array_append(want, jv_copy(m));
				jv_free(m);
				jv_free(l);
				jv_free(d);
			}
		}
		jv_free(ds);
	} else {
		jv err = get(resp, "Error");
		jv text = jv_get_kind(resp) == JV_KIND_STRING ? jv_copy(resp) : get(err, "Message");
		jv_free(err);
		const char *t = jv_get_kind(text) == JV_KIND_STRING ? jv_string_value(text) : "";
		const char *m = strstr(t, "SCHEMA_VALIDATION_FAILED: ");
		size_t n = m ? strlen(m) : 0;
		if (m && n > 26 && m[n - 1] == '\'')
			want = jv_array_append(jv_array(), jv_string_sized(m + 26, (int)(n - 27)));
		jv_free(text);
	}
	jv_free(api);
	jv_free(resp);
	return want;
}

static void run_invalid(jv c, void *vctx)
{
	struct cases_ctx *cx = vctx;
	jv api = get(c, "api");
	jv resp = get(c, "recorded_response");
	int want_valid = -1;
	if (!strcmp(jv_string_value(api), "ValidateStateMachineDefinition")) {
		jv res = get(resp, "result");
		if (jv_get_kind(res) == JV_KIND_STRING)
			want_valid = !strcmp(jv_string_value(res), "OK");
		jv_free(res);
	} else if (!strcmp(jv_string_value(api), "CreateStateMachine")) {
		jv text = jv_get_kind(resp) == JV_KIND_STRING ? jv_copy(resp)
		                                             : jv_dump_string(jv_copy(resp), 0);
		if (strstr(jv_string_value(text), "InvalidDefinition"))
			want_valid = 0;
		jv_free(text);
	}
	if (want_valid >= 0) {
		jv def = get(c, "definition");
		jv ty = get(c, "state_machine_type");
		jv diags;
		int got = verdict_valid(def, jv_get_kind(ty) == JV_KIND_STRING ? jv_string_value(ty) : "STANDARD",
		                        &diags);
		jv_free(ty);
		int ok = got == want_valid;
		if (cx->verbose) {
			/* the verdict is what counts; a message or location that
			 * differs from AWS's recording is reported beside it */
			jv id = get(c, "id");
			jv want = recorded_diags(c);
			if (!ok)
				fprintf(stderr, "FAIL %s: validate said %s\n", jv_string_value(id), got ? "valid" : "invalid");
			if (!ok || (jv_is_valid(want) && !jv_equal(jv_copy(want), jv_copy(diags)))) {
				jv g = jv_dump_string(jv_copy(diags), 0);
				fprintf(stderr, "%s %s\n  got  %s\n", ok ? "MESSAGE" : " ", jv_string_value(id),
				        jv_string_value(g));
				if (jv_is_valid(want)) {
					jv w = jv_dump_string(jv_copy(want), 0);
					fprintf(stderr, "  want %s\n", jv_string_value(w));
					jv_free(w);
				}
				jv_free(g);
			}
			jv_free(want);
			jv_free(id);
		}
		jv_free(diags);
		jv feats = jv_array_append(jv_array(), jv_copy(api));
		count(&cx->t, feats, ok);
		jv_free(feats);
	}
	jv_free(api);
	jv_free(resp);
	jv_free(c);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sfn CONFDIR BINDIR [--report] [--verbose]\n");
		return 2;
	}
	const char *conf = argv[1];
	for (int i = 3; i < argc; i++)
		if (!strcmp(argv[i], "--report"))
			report = 1;
	/* --verbose (or SFN_CONF_VERBOSE set): each failing case on stderr,
	 * with what was got and what was wanted */
	int verbose = getenv("SFN_CONF_VERBOSE") != NULL;
	for (int i = 3; i < argc; i++)
		if (!strcmp(argv[i], "--verbose"))
			verbose = 1;
	struct buf p = BUF_INIT;

	struct cases_ctx cx = { { jv_object(), 0, 0, "sfn-cases" }, verbose };
	buf_printf(&p, "%s/sfn/cases.jsonl", conf);
	each_line(buf_str(&p), run_case, &cx);
	print_tally(&cx.t);

	struct cases_ctx ix = { { jv_object(), 0, 0, "sfn-invalid" }, verbose };
	buf_reset(&p);
	buf_printf(&p, "%s/sfn/invalid_definitions.jsonl", conf);
	each_line(buf_str(&p), run_invalid, &ix);
	print_tally(&ix.t);

	struct tally av = { jv_object(), 0, 0, "asl-validate" };
	buf_reset(&p);
	buf_printf(&p, "%s/asl-validate/manifest.json", conf);
	jv man = read_file(buf_str(&p));
	jv manifest = jv_is_valid(man) ? jv_parse(jv_string_value(man)) : jv_invalid();
	jv_free(man);
	jv fixtures = get(manifest, "fixtures");
	if (jv_get_kind(fixtures) == JV_KIND_ARRAY) {
		jv_array_foreach(fixtures, i, fx) {
			(void)i;
			jv file = get(fx, "file"), expect = get(fx, "expect"), topic = get(fx, "topic");
			buf_reset(&p);
			buf_printf(&p, "%s/asl-validate/%s", conf, jv_string_value(file));
			jv text = read_file(buf_str(&p));
			jv diags = jv_array();
			int got = jv_is_valid(text) ? (jv_free(diags), verdict_valid(text, "STANDARD", &diags))
			                            : (jv_free(text), 0);
			int ok = got == !strcmp(jv_string_value(expect), "valid");
			if (!ok && verbose) {
				jv g = jv_dump_string(jv_copy(diags), 0);
				jv w = jv_dump_string(get(fx, "asl_validator_result"), 0);
				fprintf(stderr, "FAIL %s: validate said %s\n  got  %s\n  asl-validator %s\n",
				        jv_string_value(file), got ? "valid" : "invalid", jv_string_value(g),
				        jv_string_value(w));
				jv_free(g);
				jv_free(w);
			}
			jv_free(diags);
			jv feats = jv_array_append(jv_array(), jv_copy(expect));
			count(&av, feats, ok);
			jv_free(feats);
			jv_free(file);
			jv_free(expect);
			jv_free(topic);
			jv_free(fx);
		}
	}
	jv_free(fixtures);
	jv_free(manifest);
	print_tally(&av);
	buf_free(&p);
	return 0;
}
