/*
 * asl_load.c: check a definition and compile it into asl_int.h's form in
 * one pass. Every problem becomes a diagnostic (code, message, location as
 * a JSON pointer) in AWS's words where known; a definition with any
 * diagnostic is not run.
 *
 * JSONata states are checked for structure and their expressions for
 * syntax (they are not evaluated by this version), and a machine using
 * them is refused by asl_load with a clear message rather than run
 * wrongly.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
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
	int cur_jsonata;        /* the state being checked uses JSONata */
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
						diag(l, SCHEMA, loc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", ks);
				} else if (asl_apath_compile(&ap, s, &err) < 0) {
					diag(l, SCHEMA, loc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", ks);
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

/* ---- JSONata syntax ---------------------------------------------------- */

/*
 * AWS parses every JSONata expression of a definition when it is created
 * and refuses one that does not parse (INVALID_JSONATA_EXPRESSION). This is
 * a syntax check only, a Pratt parser over JSONata 2.0's grammar (the
 * operators, their binding powers, and which of them may start an
 * expression) that builds no tree: it keeps, for each sub-expression, just
 * what a later rule looks at (is it a variable, a literal, the name
 * "function"). Evaluation is a later issue's work.
 *
 * As in JSONata's own tokenizer, whether "/" starts a regular expression
 * depends on the parser's position: after an operand it divides, where an
 * operand is expected it opens a regex. Nesting is bounded so that a
 * hostile definition cannot exhaust the stack.
 */

enum jx_tok { JT_END, JT_NAME, JT_VAR, JT_STR, JT_NUM, JT_VALUE, JT_REGEX, JT_OP };

/* What a sub-expression was, as far as the rules below care. */
enum jx_node { JN_OTHER, JN_VAR, JN_LITERAL, JN_FUNCTION_NAME };

#define JX_MAX_DEPTH 200

struct jx {
	const char *s;
	size_t len, pos;
	enum jx_tok kind;       /* the current token */
	char op[4];             /* its text, for JT_OP */
	const char *tok;        /* its text in s, for messages */
	size_t toklen;
	int depth;
	char *err;              /* the first error; the parse stops there */
	jmp_buf fail;
};

static _Noreturn void jx_fail(struct jx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static _Noreturn void jx_fail(struct jx *x, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	x->err = buf_detach(&b);
	longjmp(x->fail, 1);
}

static int jx_is(const struct jx *x, const char *op)
{
	return x->kind == JT_OP && !strcmp(x->op, op);
}

/* Characters that end a name: JSONata's operator characters. */
static int jx_stop(char c)
{
	return c && strchr(".[]{}(),@#;:?+-*/%|=<>^&!~", c) != NULL;
}

static int jx_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v';
}

/* Reads the next token; PREFIX says an operand is expected. */
static void jx_lex(struct jx *x, int prefix)
{
	const char *s = x->s;
	for (;;) {
		while (x->pos < x->len && jx_space(s[x->pos]))
			x->pos++;
		if (x->pos + 1 < x->len && s[x->pos] == '/' && s[x->pos + 1] == '*') {
			const char *e = strstr(s + x->pos + 2, "*/");
			if (!e || (size_t)(e - s) + 2 > x->len)
				jx_fail(x, "Comment has no closing tag");
			x->pos = (size_t)(e - s) + 2;
			continue;
		}
		break;
	}
	x->tok = s + x->pos;
	x->toklen = 0;
	x->op[0] = 0;
	if (x->pos >= x->len) {
		x->kind = JT_END;
		return;
	}
	size_t start = x->pos;
	char c = s[x->pos];
	if (prefix && c == '/') {
		/* a regular expression: up to the "/" outside brackets, then flags */
		size_t p = ++x->pos;
		int depth = 0;
		while (p < x->len) {
			char d = s[p];
			if (d == '/' && depth == 0)
				break;
			if (d == '\\')
				p++;
			else if (d == '[')
				depth++;
			else if (d == ']' && depth)
				depth--;
			p++;
		}
		if (p >= x->len)
			jx_fail(x, "No terminating / in regular expression");
		if (p == x->pos)
			jx_fail(x, "Empty regular expressions are not allowed");
		p++;
		while (p < x->len && (s[p] == 'i' || s[p] == 'm'))
			p++;
		x->pos = p;
		x->kind = JT_REGEX;
		x->toklen = p - start;
		return;
	}
	static const char *const two[] = { "..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??" };
	for (size_t i = 0; i < ARRAY_LEN(two); i++)
		if (x->pos + 1 < x->len && c == two[i][0] && s[x->pos + 1] == two[i][1]) {
			memcpy(x->op, two[i], 3);
			x->pos += 2;
			x->kind = JT_OP;
			x->toklen = 2;
			return;
		}
	if (jx_stop(c)) {
		x->op[0] = c;
		x->op[1] = 0;
		x->pos++;
		x->kind = JT_OP;
		x->toklen = 1;
		return;
	}
	if (c == '"' || c == '\'') {
		size_t p = x->pos + 1;
		for (;;) {
			if (p >= x->len)
				jx_fail(x, "String literal must be terminated by a matching quote");
			if (s[p] == c)
				break;
			if (s[p] == '\\') {
				char e = p + 1 < x->len ? s[p + 1] : 0;
				if (e == 'u') {
					for (int i = 2; i < 6; i++)
						if (p + (size_t)i >= x->len || !isxdigit((unsigned char)s[p + (size_t)i]))
							jx_fail(x, "The escape sequence \\u must be followed by 4 hex digits");
					p += 6;
					continue;
				}
				if (!e || !strchr("\"\\/bfnrt", e))
					jx_fail(x, "Unsupported escape sequence: \\%c", e ? e : ' ');
				p += 2;
				continue;
			}
			p++;
		}
		x->pos = p + 1;
		x->kind = JT_STR;
		x->toklen = x->pos - start;
		return;
	}
	if (isdigit((unsigned char)c)) {
		/* 0|[1-9][0-9]*, then an optional fraction and exponent */
		size_t p = x->pos + 1;
		if (c != '0')
			while (p < x->len && isdigit((unsigned char)s[p]))
				p++;
		if (p + 1 < x->len && s[p] == '.' && isdigit((unsigned char)s[p + 1])) {
			p++;
			while (p < x->len && isdigit((unsigned char)s[p]))
				p++;
		}
		if (p < x->len && (s[p] == 'e' || s[p] == 'E')) {
			size_t q = p + 1;
			if (q < x->len && (s[q] == '+' || s[q] == '-'))
				q++;
			if (q < x->len && isdigit((unsigned char)s[q])) {
				while (q < x->len && isdigit((unsigned char)s[q]))
					q++;
				p = q;
			}
		}
		char *num = xstrndup(s + x->pos, p - x->pos);
		double d = strtod(num, NULL);
		int finite = isfinite(d);
		free(num);
		if (!finite)
			jx_fail(x, "Number out of range: %.*s", (int)(p - x->pos), s + x->pos);
		x->pos = p;
		x->kind = JT_NUM;
		x->toklen = p - start;
		return;
	}
	if (c == '`') {
		const char *e = memchr(s + x->pos + 1, '`', x->len - x->pos - 1);
		if (!e)
			jx_fail(x, "Quoted property name must be terminated with a backquote (`)");
		x->pos = (size_t)(e - s) + 1;
		x->kind = JT_NAME;
		x->toklen = x->pos - start;
		return;
	}
	size_t p = x->pos;
	while (p < x->len && !jx_space(s[p]) && !jx_stop(s[p]))
		p++;
	x->pos = p;
	x->toklen = p - start;
	if (c == '$') {
		x->kind = JT_VAR;
		return;
	}
	static const char *const words[] = { "and", "or", "in" };
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (x->toklen == strlen(words[i]) && !strncmp(x->tok, words[i], x->toklen)) {
			memcpy(x->op, words[i], strlen(words[i]) + 1);
			x->kind = JT_OP;
			return;
		}
	if ((x->toklen == 4 && (!strncmp(x->tok, "true", 4) || !strncmp(x->tok, "null", 4))) ||
	    (x->toklen == 5 && !strncmp(x->tok, "false", 5)))
		x->kind = JT_VALUE;
	else
		x->kind = JT_NAME;
}

/* The left binding power of the current token: 0 for anything that cannot
 * continue an expression. "!" and "~" are operator characters with no
 * meaning of their own. */
static int jx_lbp(struct jx *x)
{
	static const struct { const char *op; int bp; } ops[] = {
		{ ".", 75 }, { "[", 80 }, { "{", 70 }, { "(", 80 }, { "@", 80 }, { "#", 80 },
		{ "?", 20 }, { "+", 50 }, { "-", 50 }, { "*", 60 }, { "/", 60 }, { "%", 60 },
		{ "=", 40 }, { "<", 40 }, { ">", 40 }, { "^", 40 }, { "!=", 40 }, { "<=", 40 },
		{ ">=", 40 }, { "~>", 40 }, { "?:", 40 }, { "??", 40 }, { ":=", 10 },
		{ "and", 30 }, { "or", 25 }, { "in", 40 }, { "&", 50 },
		{ "]", 0 }, { "}", 0 }, { ")", 0 }, { ",", 0 }, { ":", 0 }, { ";", 0 },
		{ "|", 0 }, { "**", 0 }, { "..", 0 },
	};
	if (x->kind != JT_OP)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(ops); i++)
		if (!strcmp(ops[i].op, x->op))
			return ops[i].bp;
	jx_fail(x, "Unknown operator: \"%s\"", x->op);
}

/* Moves past the current token, which must be WANT when given. */
static void jx_advance(struct jx *x, const char *want, int infix)
{
	if (want && !jx_is(x, want)) {
		if (x->kind == JT_END)
			jx_fail(x, "Expected \"%s\" before end of expression", want);
		jx_fail(x, "Expected \"%s\", got \"%.*s\"", want, (int)x->toklen, x->tok);
	}
	jx_lex(x, !infix);
	if (x->kind == JT_OP)
		(void)jx_lbp(x);        /* refuses an unknown operator here */
}

static enum jx_node jx_expr(struct jx *x, int rbp);

/* "{" key ":" value, ... "}" after the "{" */
static void jx_object(struct jx *x)
{
	if (!jx_is(x, "}"))
		for (;;) {
			jx_expr(x, 0);
			jx_advance(x, ":", 0);
			jx_expr(x, 0);
			if (!jx_is(x, ","))
				break;
			jx_advance(x, ",", 0);
		}
	jx_advance(x, "}", 1);
}

/* T (already consumed, its text in OP/KIND) as the start of an expression. */
static enum jx_node jx_nud(struct jx *x, enum jx_tok kind, const char *op,
                           const char *tok, size_t toklen)
{
	switch (kind) {
	case JT_VAR:
		return JN_VAR;
	case JT_NAME:
		if ((toklen == 8 && !strncmp(tok, "function", 8)) ||
		    (toklen == 2 && !strncmp(tok, "\xce\xbb", 2)))
			return JN_FUNCTION_NAME;
		return JN_OTHER;
	case JT_NUM:
	case JT_VALUE:
		return JN_LITERAL;
	case JT_STR:
	case JT_REGEX:
		return JN_OTHER;
	case JT_END:
		jx_fail(x, "Unexpected end of expression");
	case JT_OP:
		break;
	}
	if (!strcmp(op, "and") || !strcmp(op, "or") || !strcmp(op, "in"))
		return JN_OTHER;        /* a field that happens to be so named */
	if (!strcmp(op, "-")) {
		jx_expr(x, 70);
		return JN_OTHER;
	}
	if (!strcmp(op, "*") || !strcmp(op, "**") || !strcmp(op, "%"))
		return JN_OTHER;        /* wildcard, descendants, parent */
	if (!strcmp(op, "(")) {         /* a block: expressions separated by ";" */
		while (!jx_is(x, ")")) {
			jx_expr(x, 0);
			if (!jx_is(x, ";"))
				break;
			jx_advance(x, ";", 0);
		}
		jx_advance(x, ")", 1);
		return JN_OTHER;
	}
	if (!strcmp(op, "[")) {         /* an array, items or ranges a..b */
		if (!jx_is(x, "]"))
			for (;;) {
				jx_expr(x, 0);
				if (jx_is(x, "..")) {
					jx_advance(x, "..", 0);
					jx_expr(x, 0);
				}
				if (!jx_is(x, ","))
					break;
				jx_advance(x, ",", 0);
			}
		jx_advance(x, "]", 1);
		return JN_OTHER;
	}
	if (!strcmp(op, "{")) {
		jx_object(x);
		return JN_OTHER;
	}
	if (!strcmp(op, "|")) {         /* transform: | pattern | update [, delete] | */
		jx_expr(x, 0);
		jx_advance(x, "|", 0);
		jx_expr(x, 0);
		if (jx_is(x, ",")) {
			jx_advance(x, ",", 0);
			jx_expr(x, 0);
		}
		jx_advance(x, "|", 0);
		return JN_OTHER;
	}
	jx_fail(x, "The symbol \"%.*s\" cannot be used as a unary operator", (int)toklen, tok);
}

/* The operator OP (already consumed) applied to LEFT. */
static enum jx_node jx_led(struct jx *x, const char *op, int bp, enum jx_node left)
{
	if (!strcmp(op, "(")) {         /* a call, a partial application, a lambda */
		int all_vars = 1;
		if (!jx_is(x, ")"))
			for (;;) {
				if (jx_is(x, "?")) {
					all_vars = 0;
					jx_advance(x, "?", 0);
				} else if (jx_expr(x, 0) != JN_VAR) {
					all_vars = 0;
				}
				if (!jx_is(x, ","))
					break;
				jx_advance(x, ",", 0);
			}
		jx_advance(x, ")", 1);
		if (left != JN_FUNCTION_NAME)
			return JN_OTHER;
		if (!all_vars)
			jx_fail(x, "Parameters of a function definition must be variable names (start with $)");
		if (jx_is(x, "<")) {    /* a signature, <...>, not checked further */
			int depth = 1;
			while (depth > 0 && !jx_is(x, "{") && x->kind != JT_END) {
				jx_advance(x, NULL, 0);
				if (jx_is(x, ">"))
					depth--;
				else if (jx_is(x, "<"))
					depth++;
			}
			jx_advance(x, ">", 0);
		}
		jx_advance(x, "{", 0);
		jx_expr(x, 0);
		jx_advance(x, "}", 0);
		return JN_OTHER;
	}
	if (!strcmp(op, "[")) {         /* a predicate or index; [] keeps arrays */
		if (jx_is(x, "]")) {
			jx_advance(x, "]", 0);
			return left;
		}
		jx_expr(x, 0);
		jx_advance(x, "]", 1);
		return JN_OTHER;
	}
	if (!strcmp(op, "^")) {         /* order-by: ^( [<|>] expr, ... ) */
		jx_advance(x, "(", 0);
		for (;;) {
			if (jx_is(x, "<"))
				jx_advance(x, "<", 0);
			else if (jx_is(x, ">"))
				jx_advance(x, ">", 0);
			jx_expr(x, 0);
			if (!jx_is(x, ","))
				break;
			jx_advance(x, ",", 0);
		}
		jx_advance(x, ")", 0);
		return JN_OTHER;
	}
	if (!strcmp(op, "{")) {         /* group-by */
		jx_object(x);
		return JN_OTHER;
	}
	if (!strcmp(op, ":=")) {
		if (left != JN_VAR)
			jx_fail(x, "The left side of := must be a variable name (start with $)");
		jx_expr(x, bp - 1);
		return JN_OTHER;
	}
	if (!strcmp(op, "@") || !strcmp(op, "#")) {
		if (jx_expr(x, bp) != JN_VAR)
			jx_fail(x, "The right side of %s must be a variable name (start with $)", op);
		return JN_OTHER;
	}
	if (!strcmp(op, "?")) {         /* condition ? then [: else] */
		jx_expr(x, 0);
		if (jx_is(x, ":")) {
			jx_advance(x, ":", 0);
			jx_expr(x, 0);
		}
		return JN_OTHER;
	}
	if (!strcmp(op, "?:") || !strcmp(op, "??")) {
		jx_expr(x, 0);
		return JN_OTHER;
	}
	enum jx_node right = jx_expr(x, bp);
	if (!strcmp(op, ".") && (left == JN_LITERAL || right == JN_LITERAL))
		jx_fail(x, "A number, true, false or null cannot be used as a step within a path expression");
	return JN_OTHER;
}

static enum jx_node jx_expr(struct jx *x, int rbp)
{
	if (++x->depth > JX_MAX_DEPTH)
		jx_fail(x, "The expression is nested more than %d levels deep", JX_MAX_DEPTH);
	enum jx_tok kind = x->kind;
	char op[4];
	memcpy(op, x->op, sizeof op);
	const char *tok = x->tok;
	size_t toklen = x->toklen;
	jx_advance(x, NULL, 1);
	enum jx_node left = jx_nud(x, kind, op, tok, toklen);
	int bp;
	while (rbp < (bp = jx_lbp(x))) {
		memcpy(op, x->op, sizeof op);
		jx_advance(x, NULL, 0);
		left = jx_led(x, op, bp, left);
	}
	x->depth--;
	return left;
}

/* Checks the expression of LEN bytes at S; returns NULL when it parses,
 * else a message the caller frees. */
static char *jsonata_syntax(const char *s, size_t len)
{
	/* on the heap, not in this frame: what the parse changed in it is
	 * still defined after longjmp */
	struct jx *const x = xcalloc(1, sizeof *x);
	x->s = s;
	x->len = len;
	if (setjmp(x->fail)) {
		char *err = x->err;
		free(x);
		return err;
	}
	jx_lex(x, 1);
	if (x->kind == JT_OP)
		(void)jx_lbp(x);
	jx_expr(x, 0);
	if (x->kind != JT_END)
		jx_fail(x, "Syntax error: \"%.*s\"", (int)x->toklen, x->tok);
	free(x);
	return NULL;
}

/* Checks every JSONata expression ("{% ... %}") in V, at LOC. */
static void check_jsonata_value(struct ld *l, jv v, const char *loc)
{
	jv_kind k = jv_get_kind(v);
	if (k == JV_KIND_STRING && is_jsonata_str(v)) {
		const char *s = jv_string_value(v);
		size_t n = (size_t)jv_string_length_bytes(jv_copy(v));
		char *err = jsonata_syntax(s + 2, n - 4);
		if (err)
			diag(l, "INVALID_JSONATA_EXPRESSION", loc, "%s", err);
		free(err);
	} else if (k == JV_KIND_ARRAY) {
		jv_array_foreach(v, i, e) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%d", loc, i);
			check_jsonata_value(l, e, buf_str(&b));
			buf_free(&b);
			jv_free(e);
		}
	} else if (k == JV_KIND_OBJECT) {
		jv_object_foreach(v, key, e) {
			char *fl = loc_join(loc, jv_string_value(key));
			check_jsonata_value(l, e, fl);
			free(fl);
			jv_free(key);
			jv_free(e);
		}
	}
}

/* The JSONata expressions of a JSONata state OBJ (a state, a choice rule
 * or a catcher): every field but those that hold names, ARNs, comments or
 * nested states, which are never expressions. */
static void check_jsonata_fields(struct ld *l, jv obj, const char *loc)
{
	static const char *const skip[] = {
		"Type", "Comment", "QueryLanguage", "Next", "End", "Default", "Resource",
		"Branches", "ItemProcessor", "Iterator", "Label", "Retry", "ErrorEquals",
	};
	jv_object_foreach(obj, key, v) {
		const char *k = jv_string_value(key);
		int skipped = 0;
		for (size_t i = 0; i < ARRAY_LEN(skip); i++)
			if (!strcmp(k, skip[i]))
				skipped = 1;
		char *fl = loc_join(loc, k);
		if (skipped) {
			/* nothing */
		} else if ((!strcmp(k, "Choices") || !strcmp(k, "Catch")) &&
		           jv_get_kind(v) == JV_KIND_ARRAY) {
			jv_array_foreach(v, i, r) {
				struct buf b = BUF_INIT;
				buf_printf(&b, "%s/%d", fl, i);
				if (jv_get_kind(r) == JV_KIND_OBJECT)
					check_jsonata_fields(l, r, buf_str(&b));
				buf_free(&b);
				jv_free(r);
			}
		} else {
			check_jsonata_value(l, v, fl);
		}
		free(fl);
		jv_free(key);
		jv_free(v);
	}
}

static double num_field(struct ld *l, jv st, const char *key, const char *loc,
                        double lo, double hi, int integer, int *present)
{
	if (!has(st, key))
		return 0;
	jv v = get(st, key);
	double d = 0;
	char *fl = loc_join(loc, key);
	if (l->cur_jsonata && is_jsonata_str(v)) {
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
	asl_tmpl_free(s->t_writer_params);
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

/* Integration patterns, as a Resource's suffix. */
enum { P_SYNC = 1, P_SYNC2 = 2, P_WAIT = 4 };

/* The optimized integrations whose list of APIs is closed and known here
 * (AWS's "Optimized integrations for Step Functions" pages): the service,
 * its actions, and the patterns each allows. DynamoDB, for instance, offers
 * only the four item APIs and neither .sync nor .waitForTaskToken; its other
 * APIs go through "aws-sdk:dynamodb:...". A service missing from this table
 * is not judged: a name this table does not know is not proof AWS refuses
 * it. */
static const struct {
	const char *service;
	const char *const actions[5];
	unsigned patterns;
} closed_services[] = {
	{ "lambda", { "invoke" }, P_WAIT },
	{ "dynamodb", { "getItem", "putItem", "updateItem", "deleteItem" }, 0 },
	{ "sns", { "publish" }, P_WAIT },
	{ "sqs", { "sendMessage" }, P_WAIT },
	{ "events", { "putEvents" }, P_WAIT },
	{ "states", { "startExecution" }, P_SYNC | P_SYNC2 | P_WAIT },
	{ "apigateway", { "invoke" }, P_WAIT },
	{ "http", { "invoke" }, 0 },
	{ "batch", { "submitJob" }, P_SYNC },
	{ "ecs", { "runTask" }, P_SYNC | P_WAIT },
	{ "glue", { "startJobRun" }, P_SYNC },
};

/* The part after "arn:PARTITION:states:::" of a service integration ARN,
 * or NULL when RS is not one. */
static const char *integration_part(const char *rs)
{
	static const char *const partitions[] = {
		"arn:aws:states:::", "arn:aws-cn:states:::", "arn:aws-us-gov:states:::",
	};
	for (size_t i = 0; i < ARRAY_LEN(partitions); i++)
		if (!strncmp(rs, partitions[i], strlen(partitions[i])))
			return rs + strlen(partitions[i]);
	return NULL;
}

/* Is "SERVICE:ACTION[.sync|.sync:2|.waitForTaskToken]" an integration AWS
 * offers? "aws-sdk:SERVICE:ACTION" reaches any API of any service, with
 * request-response or a task token but never .sync. */
static int integration_ok(const char *it)
{
	const char *colon = strchr(it, ':');
	if (!colon || colon == it)
		return 0;
	size_t sl = (size_t)(colon - it);
	const char *action = colon + 1;
	if (sl == 7 && !strncmp(it, "aws-sdk", 7)) {
		const char *c2 = strchr(action, ':');
		if (!c2 || c2 == action || !c2[1])
			return 0;
		action = c2 + 1;
	}
	const char *dot = strchr(action, '.');
	size_t al = dot ? (size_t)(dot - action) : strlen(action);
	unsigned pattern = 0;
	if (al == 0)
		return 0;
	if (dot) {
		if (!strcmp(dot, ".sync"))
			pattern = P_SYNC;
		else if (!strcmp(dot, ".sync:2"))
			pattern = P_SYNC2;
		else if (!strcmp(dot, ".waitForTaskToken"))
			pattern = P_WAIT;
		else
			return 0;
	}
	if (sl == 7 && !strncmp(it, "aws-sdk", 7))
		return pattern == 0 || pattern == P_WAIT;
	for (size_t i = 0; i < ARRAY_LEN(closed_services); i++) {
		if (strlen(closed_services[i].service) != sl ||
		    strncmp(closed_services[i].service, it, sl))
			continue;
		if (pattern && !(closed_services[i].patterns & pattern))
			return 0;
		for (int j = 0; j < 5 && closed_services[i].actions[j]; j++)
			if (strlen(closed_services[i].actions[j]) == al &&
			    !strncmp(closed_services[i].actions[j], action, al))
				return 1;
		return 0;
	}
	return 1;
}

/* A Task's Resource: an ARN (a Lambda function ARN with a well-formed
 * name and qualifier, a service integration AWS offers), or a "${...}"
 * placeholder that CloudFormation's DefinitionSubstitutions fills in at
 * deployment. */
static int resource_ok(const char *rs)
{
	size_t n = strlen(rs);
	if (n > 3 && !strncmp(rs, "${", 2) && rs[n - 1] == '}' && !strchr(rs + 2, '{'))
		return 1;
	if (strncmp(rs, "arn:", 4))
		return 0;
	const char *it = integration_part(rs);
	if (it)
		return integration_ok(it);
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
	/* nested states set and restore their own */
	int outer_jsonata = l->cur_jsonata;
	l->cur_jsonata = jsonata;

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

	if (jsonata)
		check_jsonata_fields(l, st, loc);

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
		if (jv_get_kind(ts) == JV_KIND_STRING && !(jsonata && is_jsonata_str(ts))) {
			double when;
			if (asl_parse_time(jv_string_value(ts), &when)) {
				char *tl = loc_join(loc, "Timestamp");
				diag(l, SCHEMA, tl, "String does not match RFC3339 timestamp");
				free(tl);
			}
			s->timestamp = xstrdup(jv_string_value(ts));
			s->has_timestamp = 1;
		} else if (jv_is_valid(ts) && !(jsonata && is_jsonata_str(ts))) {
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
			if (!resource_ok(rs)) {
				/* AWS names an integration's partition "<partition>" */
				const char *it = integration_part(rs);
				char *rl = loc_join(loc, "Resource");
				diag(l, SCHEMA, rl, "The resource provided %s%s is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.",
				     it ? "arn:<partition>:states:::" : "", it ? it : rs);
				free(rl);
			}
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
		if (has(st, "ResultWriter")) {
			s->result_writer = get(st, "ResultWriter");
			jv wp = jv_get_kind(s->result_writer) == JV_KIND_OBJECT
			      ? get(s->result_writer, "Parameters") : jv_invalid();
			if (jv_get_kind(wp) == JV_KIND_OBJECT)
				s->t_writer_params = asl_tmpl_compile(wp);
			jv_free(wp);
		}
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
	l->cur_jsonata = outer_jsonata;
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
	struct ld l = { jv_array(), 0, jv_object(), 0, express, 0 };
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
