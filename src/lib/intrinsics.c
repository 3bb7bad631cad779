/*
 * intrinsics.c: parse and evaluate States.* intrinsic function calls.
 *
 * The text is parsed into a small tree (call, literal, path) and evaluated
 * at once; calls nest to any depth the text allows. Results follow what AWS
 * returns, including its Java-flavoured string forms in States.Format
 * ({a=1, b=[]}) and Math.round-style rounding in States.MathAdd.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "intrinsics.h"
#include "json.h"
#include "util.h"

enum node_kind { N_CALL, N_LITERAL, N_PATH };

struct node {
	enum node_kind kind;
	char *text;            /* function name or path */
	void *handle;          /* N_PATH in a compiled expression */
	jv literal;
	struct node **args;
	int nargs;
};

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nargs; i++)
		node_free(n->args[i]);
	free(n->args);
	free(n->text);
	if (n->kind == N_LITERAL)
		jv_free(n->literal);
	free(n);
}

struct parser {
	const char *s, *p;
	char *err;
};

static void perr(struct parser *ps, const char *what)
{
	if (!ps->err) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s at offset %d in '%s'", what, (int)(ps->p - ps->s), ps->s);
		ps->err = buf_detach(&b);
	}
}

static void ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n')
		ps->p++;
}

static const char *const functions[] = {
	"States.Format", "States.StringToJson", "States.JsonToString",
	"States.Array", "States.ArrayPartition", "States.ArrayContains",
	"States.ArrayRange", "States.ArrayGetItem", "States.ArrayLength",
	"States.ArrayUnique", "States.Base64Encode", "States.Base64Decode",
	"States.Hash", "States.JsonMerge", "States.MathRandom", "States.MathAdd",
	"States.StringSplit", "States.UUID",
};

static struct node *parse_call(struct parser *ps);

static struct node *parse_arg(struct parser *ps)
{
	ws(ps);
	struct node *n = xcalloc(1, sizeof *n);
	n->kind = N_LITERAL;
	const char *p = ps->p;
	if (*p == '\'') {
		struct buf b = BUF_INIT;
		ps->p++;
		while (*ps->p && *ps->p != '\'') {
			if (*ps->p == '\\') {
				/* \' \{ \} \\ are the only escapes AWS accepts; \{, \} and
				 * \\ stay escaped for States.Format, which unescapes them. */
				char c = ps->p[1];
				if (c != '\'' && c != '{' && c != '}' && c != '\\') {
					buf_free(&b);
					free(n);
					perr(ps, "invalid escape in a string literal");
					return NULL;
				}
				if (c != '\'')
					buf_addc(&b, '\\');
				buf_addc(&b, c);
				ps->p += 2;
				continue;
			}
			buf_addc(&b, *ps->p++);
		}
		if (*ps->p != '\'') {
			buf_free(&b);
			free(n);
			perr(ps, "unterminated string");
			return NULL;
		}
		ps->p++;
		n->literal = jv_string(buf_str(&b));
		buf_free(&b);
		return n;
	}
	if (*p == '$') {
		/* a path runs to the ',' or ')' at bracket depth zero */
		int depth = 0;
		char q = 0;
		const char *e = p;
		for (; *e; e++) {
			if (q) {
				if (*e == '\\' && e[1])
					e++;
				else if (*e == q)
					q = 0;
				continue;
			}
			if (*e == '\'' || *e == '"')
				q = *e;
			else if (*e == '[' || *e == '(')
				depth++;
			else if ((*e == ']' || *e == ')') && depth > 0)
				depth--;
			else if ((*e == ',' || *e == ')') && depth == 0)
				break;
		}
		const char *end = e;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		n->kind = N_PATH;
		n->text = xstrndup(p, (size_t)(end - p));
		ps->p = e;
		return n;
	}
	if (!strncmp(p, "States.", 7)) {
		free(n);
		return parse_call(ps);
	}
	if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5) || !strncmp(p, "null", 4)) {
		n->literal = *p == 't' ? jv_true() : *p == 'f' ? jv_false() : jv_null();
		ps->p += *p == 'f' ? 5 : 4;
		return n;
	}
	char *end;
	errno = 0;
	double d = strtod(p, &end);
	if (end == p || (!isdigit((unsigned char)*p) && *p != '-' && *p != '+' && *p != '.')) {
		free(n);
		perr(ps, "expected an argument");
		return NULL;
	}
	ps->p = end;
	n->literal = jv_number(d);
	return n;
}

static struct node *parse_call(struct parser *ps)
{
	ws(ps);
	const char *st = ps->p;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '.')
		ps->p++;
	size_t len = (size_t)(ps->p - st);
	int known = 0;
	for (size_t i = 0; i < ARRAY_LEN(functions); i++)
		if (strlen(functions[i]) == len && !strncmp(functions[i], st, len))
			known = 1;
	if (!known) {
		perr(ps, "unknown intrinsic function");
		return NULL;
	}
	ws(ps);
	if (*ps->p != '(') {
		perr(ps, "expected '('");
		return NULL;
	}
	ps->p++;
	struct node *n = xcalloc(1, sizeof *n);
	n->kind = N_CALL;
	n->text = xstrndup(st, len);
	ws(ps);
	if (*ps->p == ')') {
		ps->p++;
		return n;
	}
	for (;;) {
		struct node *a = parse_arg(ps);
		if (!a) {
			node_free(n);
			return NULL;
		}
		n->args = xrealloc(n->args, (size_t)(n->nargs + 1) * sizeof *n->args);
		n->args[n->nargs++] = a;
		ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ')') {
			ps->p++;
			return n;
		}
		perr(ps, "expected ',' or ')'");
		node_free(n);
		return NULL;
	}
}

static struct node *parse(const char *text, char **err)
{
	struct parser ps = { text, text, NULL };
	struct node *n = parse_call(&ps);
	if (n) {
		ws(&ps);
		if (*ps.p) {
			perr(&ps, "unexpected text after the call");
			node_free(n);
			n = NULL;
		}
	}
	if (!n)
		*err = ps.err;
	else
		free(ps.err);
	return n;
}

int intr_is_call(const char *text)
{
	return !strncmp(text, "States.", 7) && strchr(text, '(');
}

/*
 * What each function accepts, for checks before any evaluation: the
 * argument counts, and for each position the literal kinds allowed
 * ('n' number, 's' string, 'b' boolean, 'a' any literal, '-' no literal:
 * only a path or a call can give an array or an object). Paths and calls
 * are checked when they are evaluated.
 */
static const struct { const char *name; int lo, hi; const char *kinds; } sigs[] = {
	{ "States.Format", 1, 1000, "saaaaaaaaaaaaaaaaaaaa" },
	{ "States.StringToJson", 1, 1, "s" },
	{ "States.JsonToString", 1, 1, "a" },
	{ "States.Array", 0, 100000, NULL },
	{ "States.ArrayPartition", 2, 2, "-n" },
	{ "States.ArrayContains", 2, 2, "-a" },
	{ "States.ArrayRange", 3, 3, "nnn" },
	{ "States.ArrayGetItem", 2, 2, "-n" },
	{ "States.ArrayLength", 1, 1, "-" },
	{ "States.ArrayUnique", 1, 1, "-" },
	{ "States.Base64Encode", 1, 1, "s" },
	{ "States.Base64Decode", 1, 1, "s" },
	{ "States.Hash", 2, 2, "as" },
	{ "States.JsonMerge", 3, 3, "--b" },
	{ "States.MathRandom", 2, 3, "nnn" },
	{ "States.MathAdd", 2, 2, "nn" },
	{ "States.StringSplit", 2, 2, "ss" },
	{ "States.UUID", 0, 0, "" },
};

static int check_node(const struct node *n, char **err)
{
	if (n->kind != N_CALL)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		if (strcmp(sigs[i].name, n->text))
			continue;
		struct buf b = BUF_INIT;
		if (n->nargs < sigs[i].lo || n->nargs > sigs[i].hi) {
			buf_printf(&b, "%s takes %d to %d arguments, not %d", n->text,
			           sigs[i].lo, sigs[i].hi, n->nargs);
			*err = buf_detach(&b);
			return -1;
		}
		for (int a = 0; a < n->nargs; a++) {
			const struct node *x = n->args[a];
			if (check_node(x, err) < 0) {
				buf_free(&b);
				return -1;
			}
			if (x->kind != N_LITERAL || !sigs[i].kinds)
				continue;
			size_t kl = strlen(sigs[i].kinds);
			char want = sigs[i].kinds[(size_t)a < kl ? (size_t)a : kl - 1];
			jv_kind k = jv_get_kind(x->literal);
			int ok = want == 'a' ||
			         (want == 'n' && k == JV_KIND_NUMBER) ||
			         (want == 's' && k == JV_KIND_STRING) ||
			         (want == 'b' && (k == JV_KIND_TRUE || k == JV_KIND_FALSE));
			if (!ok) {
				buf_printf(&b, "argument %d of %s cannot be the literal given", a + 1, n->text);
				*err = buf_detach(&b);
				return -1;
			}
		}
		buf_free(&b);
		return 0;
	}
	return 0;
}

int intr_check(const char *text, char **err)
{
	struct node *n = parse(text, err);
	if (!n)
		return -1;
	int rc = check_node(n, err);
	node_free(n);
	return rc;
}

/* ---- evaluation ------------------------------------------------------- */

struct ev {
	intr_resolver resolve;
	intr_handle_resolver hresolve;
	void *ctx;
	char *err;
};

static int everr(struct ev *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int everr(struct ev *e, const char *fmt, ...)
{
	if (!e->err) {
		struct buf b = BUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(&b, fmt, ap);
		va_end(ap);
		e->err = buf_detach(&b);
	}
	return -1;
}

/* Java's toString of a JSON value, which States.Format uses for
 * arguments: strings bare, objects as {k=v, ...}, arrays as [a, b]. */
static void java_string(struct buf *b, jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		buf_adds(b, jv_string_value(v));
		break;
	case JV_KIND_OBJECT: {
		int first = 1;
		buf_addc(b, '{');
		jv_object_foreach(v, k, val) {
			if (!first)
				buf_adds(b, ", ");
			first = 0;
			buf_adds(b, jv_string_value(k));
			buf_addc(b, '=');
			java_string(b, val);
			jv_free(k);
			jv_free(val);
		}
		buf_addc(b, '}');
		break;
	}
	case JV_KIND_ARRAY: {
		buf_addc(b, '[');
		jv_array_foreach(v, i, val) {
			if (i)
				buf_adds(b, ", ");
			java_string(b, val);
			jv_free(val);
		}
		buf_addc(b, ']');
		break;
	}
	default: {
		jv s = jv_dump_string(jv_copy(v), 0);
		buf_adds(b, jv_string_value(s));
		jv_free(s);
	}
	}
}

static int want_kind(struct ev *e, const char *fn, jv *a, int i, jv_kind k, const char *what)
{
	if (jv_get_kind(a[i]) != k)
		return everr(e, "The %s function expects argument %d to be %s", fn, i + 1, what);
	return 0;
}

static int want_int(struct ev *e, const char *fn, jv *a, int i, long *out)
{
	if (jv_get_kind(a[i]) != JV_KIND_NUMBER)
		return everr(e, "The %s function expects argument %d to be an integer", fn, i + 1);
	double d = jv_number_value(a[i]);
	if (d != floor(d) || fabs(d) > 9.0e15)
		return everr(e, "The %s function expects argument %d to be an integer", fn, i + 1);
	*out = (long)d;
	return 0;
}

/* A double as a long, clamped to the range a long holds (NaN: 0), as
 * Java's casts and Math.round saturate. */
static long to_long(double d)
{
	if (isnan(d))
		return 0;
	if (d >= 9.2233720368547758e18)
		return LONG_MAX;
	if (d <= -9.2233720368547758e18)
		return LONG_MIN;
	return (long)d;
}

static long java_round(double d)
{
	return to_long(floor(d + 0.5));
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_encode(struct buf *out, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		buf_addc(out, b64[(v >> 18) & 63]);
		buf_addc(out, b64[(v >> 12) & 63]);
		buf_addc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		buf_addc(out, i + 2 < n ? b64[v & 63] : '=');
	}
}

static int base64_decode(struct buf *out, const char *s)
{
	unsigned v = 0;
	int bits = 0;
	size_t n = strlen(s);
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p;
		if (s[i] == '=') {
			if (i + 2 < n || (i + 1 < n && s[i + 1] != '='))
				return -1;
			break;
		}
		if (!(p = strchr(b64, s[i])) || !s[i])
			return -1;
		v = (v << 6) | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (char)((v >> bits) & 0xff));
		}
	}
	return 0;
}

static jv merge(jv a, jv b, int deep)
{
	jv_object_foreach(b, k, v) {
		jv old = jv_object_get(jv_copy(a), jv_copy(k));
		if (deep && jv_get_kind(old) == JV_KIND_OBJECT && jv_get_kind(v) == JV_KIND_OBJECT)
			v = merge(old, v, 1);
		else
			jv_free(old);
		a = jv_object_set(a, k, v);
	}
	jv_free(b);
	return a;
}

static int random_bytes(void *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, p, n);
	close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

static int call(struct ev *e, const char *fn, jv *a, int n, jv *out)
{
	const char *f = fn + 7; /* past "States." */
#define NARGS(lo, hi) do { if (n < (lo) || n > (hi)) \
	return everr(e, "The %s function expects %d argument%s, got %d", fn, lo, \
	             (lo) == 1 ? "" : "s", n); } while (0)
	if (!strcmp(f, "Array")) {
		jv r = jv_array();
		for (int i = 0; i < n; i++)
			r = jv_array_append(r, jv_copy(a[i]));
		*out = r;
		return 0;
	}
	if (!strcmp(f, "Format")) {
		if (n < 1 || jv_get_kind(a[0]) != JV_KIND_STRING)
			return everr(e, "The Format function expects a string template as its first argument");
		const char *t = jv_string_value(a[0]);
		struct buf b = BUF_INIT;
		int used = 1;
		for (const char *p = t; *p; p++) {
			if (*p == '\\' && (p[1] == '{' || p[1] == '}' || p[1] == '\\')) {
				buf_addc(&b, p[1]);
				p++;
			} else if (p[0] == '{' && p[1] == '}') {
				if (used >= n) {
					buf_free(&b);
					return everr(e, "Not enough arguments were provided for the string template of the States.Format function");
				}
				java_string(&b, a[used++]);
				p++;
			} else {
				buf_addc(&b, *p);
			}
		}
		if (used != n) {
			buf_free(&b);
			return everr(e, "The number of arguments does not match the number of placeholders in the string template of the States.Format function");
		}
		*out = jv_string(buf_str(&b));
		buf_free(&b);
		return 0;
	}
	if (!strcmp(f, "StringToJson")) {
		NARGS(1, 1);
		if (want_kind(e, fn, a, 0, JV_KIND_STRING, "a string"))
			return -1;
		const char *s = jv_string_value(a[0]);
		const char *p = s;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p) {
			*out = jv_null();
			return 0;
		}
		jv v = jx_parse(s, strlen(s), NULL);
		if (!jv_is_valid(v)) {
			jv_free(v);
			return everr(e, "The StringToJson function could not parse its argument as JSON");
		}
		*out = v;
		return 0;
	}
	if (!strcmp(f, "JsonToString")) {
		NARGS(1, 1);
		*out = jv_dump_string(jv_copy(a[0]), 0);
		return 0;
	}
	if (!strcmp(f, "ArrayPartition")) {
		NARGS(2, 2);
		long size;
		if (want_kind(e, fn, a, 0, JV_KIND_ARRAY, "an array") || want_int(e, fn, a, 1, &size))
			return -1;
		if (size <= 0)
			return everr(e, "The ArrayPartition function expects a chunk size greater than 0");
		jv r = jv_array(), chunk = jv_array();
		int cn = 0;
		jv_array_foreach(a[0], i, v) {
			(void)i;
			chunk = jv_array_append(chunk, v);
			if (++cn == size) {
				r = jv_array_append(r, chunk);
				chunk = jv_array();
				cn = 0;
			}
		}
		if (cn)
			r = jv_array_append(r, chunk);
		else
			jv_free(chunk);
		*out = r;
		return 0;
	}
	if (!strcmp(f, "ArrayContains")) {
		NARGS(2, 2);
		if (want_kind(e, fn, a, 0, JV_KIND_ARRAY, "an array"))
			return -1;
		int found = 0;
		jv_array_foreach(a[0], i, v) {
			(void)i;
			if (!found && jv_equal(v, jv_copy(a[1])))
				found = 1;
			else if (found)
				jv_free(v);
		}
		*out = jv_bool(found);
		return 0;
	}
	if (!strcmp(f, "ArrayRange")) {
		NARGS(3, 3);
		long lo, hi, step;
		if (want_int(e, fn, a, 0, &lo) || want_int(e, fn, a, 1, &hi) ||
		    want_int(e, fn, a, 2, &step))
			return -1;
		if (step == 0)
			return everr(e, "The ArrayRange function expects a non-zero step");
		jv r = jv_array();
		long count = 0;
		for (long i = lo; step > 0 ? i <= hi : i >= hi; i += step) {
			if (++count > 1000) {
				jv_free(r);
				return everr(e, "The ArrayRange function cannot create an array with more than 1000 items");
			}
			r = jv_array_append(r, jv_number((double)i));
		}
		*out = r;
		return 0;
	}
	if (!strcmp(f, "ArrayGetItem")) {
		NARGS(2, 2);
		long idx;
		if (want_kind(e, fn, a, 0, JV_KIND_ARRAY, "an array") || want_int(e, fn, a, 1, &idx))
			return -1;
		int len = jv_array_length(jv_copy(a[0]));
		if (idx < 0 || idx >= len)
			return everr(e, "The index %ld is out of bounds for the array of length %d in the ArrayGetItem function", idx, len);
		*out = jv_array_get(jv_copy(a[0]), (int)idx);
		return 0;
	}
	if (!strcmp(f, "ArrayLength")) {
		NARGS(1, 1);
		if (want_kind(e, fn, a, 0, JV_KIND_ARRAY, "an array"))
			return -1;
		*out = jv_number(jv_array_length(jv_copy(a[0])));
		return 0;
	}
	if (!strcmp(f, "ArrayUnique")) {
		NARGS(1, 1);
		if (want_kind(e, fn, a, 0, JV_KIND_ARRAY, "an array"))
			return -1;
		jv r = jv_array();
		jv_array_foreach(a[0], i, v) {
			(void)i;
			int dup = 0;
			jv_array_foreach(r, j, w) {
				(void)j;
				if (!dup && jv_equal(jv_copy(v), jv_copy(w)))
					dup = 1;
				jv_free(w);
			}
			if (dup)
				jv_free(v);
			else
				r = jv_array_append(r, v);
		}
		*out = r;
		return 0;
	}
	if (!strcmp(f, "Base64Encode")) {
		NARGS(1, 1);
		if (want_kind(e, fn, a, 0, JV_KIND_STRING, "a string"))
			return -1;
		const char *s = jv_string_value(a[0]);
		size_t len = (size_t)jv_string_length_bytes(jv_copy(a[0]));
		if (len > 10000)
			return everr(e, "The Base64Encode function accepts at most 10000 characters");
		struct buf b = BUF_INIT;
		base64_encode(&b, (const unsigned char *)s, len);
		*out = jv_string(buf_str(&b));
		buf_free(&b);
		return 0;
	}
	if (!strcmp(f, "Base64Decode")) {
		NARGS(1, 1);
		if (want_kind(e, fn, a, 0, JV_KIND_STRING, "a string"))
			return -1;
		struct buf b = BUF_INIT;
		if (base64_decode(&b, jv_string_value(a[0])) < 0) {
			buf_free(&b);
			return everr(e, "The Base64Decode function's argument is not valid base64");
		}
		*out = jv_string_sized(b.s ? b.s : "", (int)b.len);
		buf_free(&b);
		return 0;
	}
	if (!strcmp(f, "Hash")) {
		NARGS(2, 2);
		if (jv_get_kind(a[0]) == JV_KIND_NULL)
			return everr(e, "The Hash function expects a non-null value to hash");
		if (want_kind(e, fn, a, 1, JV_KIND_STRING, "a string"))
			return -1;
		const char *alg = jv_string_value(a[1]);
		const EVP_MD *md = !strcmp(alg, "MD5") ? EVP_md5() :
		                   !strcmp(alg, "SHA-1") ? EVP_sha1() :
		                   !strcmp(alg, "SHA-256") ? EVP_sha256() :
		                   !strcmp(alg, "SHA-384") ? EVP_sha384() :
		                   !strcmp(alg, "SHA-512") ? EVP_sha512() : NULL;
		if (!md)
			return everr(e, "The hashing algorithm %s is not supported. The supported hashing algorithms are: [MD5, SHA-1, SHA-256, SHA-384, SHA-512]", alg);
		jv data = jv_get_kind(a[0]) == JV_KIND_STRING ? jv_copy(a[0])
		                                              : jv_dump_string(jv_copy(a[0]), 0);
		unsigned char dig[EVP_MAX_MD_SIZE];
		unsigned dlen = 0;
		EVP_Digest(jv_string_value(data), (size_t)jv_string_length_bytes(jv_copy(data)),
		           dig, &dlen, md, NULL);
		jv_free(data);
		struct buf b = BUF_INIT;
		for (unsigned i = 0; i < dlen; i++)
			buf_printf(&b, "%02x", dig[i]);
		*out = jv_string(buf_str(&b));
		buf_free(&b);
		return 0;
	}
	if (!strcmp(f, "JsonMerge")) {
		NARGS(3, 3);
		if (want_kind(e, fn, a, 0, JV_KIND_OBJECT, "a JSON object") ||
		    want_kind(e, fn, a, 1, JV_KIND_OBJECT, "a JSON object"))
			return -1;
		jv_kind dk = jv_get_kind(a[2]);
		if (dk != JV_KIND_TRUE && dk != JV_KIND_FALSE)
			return everr(e, "The JsonMerge function expects a boolean as its third argument");
		*out = merge(jv_copy(a[0]), jv_copy(a[1]), dk == JV_KIND_TRUE);
		return 0;
	}
	if (!strcmp(f, "MathRandom")) {
		NARGS(2, 3);
		long lo, hi, seed = 0;
		if (want_kind(e, fn, a, 0, JV_KIND_NUMBER, "a number") ||
		    want_kind(e, fn, a, 1, JV_KIND_NUMBER, "a number") ||
		    (n == 3 && want_kind(e, fn, a, 2, JV_KIND_NUMBER, "a number")))
			return -1;
		/* within +-2^53, where every long is a double and hi - lo fits */
		lo = to_long(fmax(fmin(jv_number_value(a[0]), 9.0e15), -9.0e15));
		hi = to_long(fmax(fmin(jv_number_value(a[1]), 9.0e15), -9.0e15));
		if (n == 3)
			seed = to_long(jv_number_value(a[2]));
		if (hi <= lo)
			return everr(e, "The MathRandom function expects its first argument to be less than its second");
		uint64_t r;
		if (n == 3) {
			/* a seeded generator gives the same number for the same seed */
			r = (uint64_t)seed * 6364136223846793005ULL + 1442695040888963407ULL;
			r ^= r >> 33;
		} else if (random_bytes(&r, sizeof r) < 0) {
			r = (uint64_t)rand();
		}
		*out = jv_number((double)(lo + (long)(r % (uint64_t)(hi - lo))));
		return 0;
	}
	if (!strcmp(f, "MathAdd")) {
		NARGS(2, 2);
		if (want_kind(e, fn, a, 0, JV_KIND_NUMBER, "a number") ||
		    want_kind(e, fn, a, 1, JV_KIND_NUMBER, "a number"))
			return -1;
		long x = java_round(jv_number_value(a[0])), y = java_round(jv_number_value(a[1]));
		long sum;
		if (__builtin_add_overflow(x, y, &sum))
			return everr(e, "The MathAdd function's result is out of range");
		*out = jv_number((double)sum);
		return 0;
	}
	if (!strcmp(f, "StringSplit")) {
		NARGS(2, 2);
		if (want_kind(e, fn, a, 0, JV_KIND_STRING, "a string") ||
		    want_kind(e, fn, a, 1, JV_KIND_STRING, "a string"))
			return -1;
		const char *s = jv_string_value(a[0]), *d = jv_string_value(a[1]);
		jv r = jv_array();
		const char *st = s;
		for (const char *p = s;; p++) {
			if (!*p || (*d && strchr(d, *p))) {
				if (p > st)
					r = jv_array_append(r, jv_string_sized(st, (int)(p - st)));
				st = p + 1;
				if (!*p)
					break;
			}
		}
		*out = r;
		return 0;
	}
	if (!strcmp(f, "UUID")) {
		NARGS(0, 0);
		unsigned char u[16];
		if (random_bytes(u, sizeof u) < 0)
			return everr(e, "no random source for States.UUID");
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
		struct buf b = BUF_INIT;
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				buf_addc(&b, '-');
			buf_printf(&b, "%02x", u[i]);
		}
		*out = jv_string(buf_str(&b));
		buf_free(&b);
		return 0;
	}
#undef NARGS
	return everr(e, "unknown intrinsic function %s", fn);
}

static int eval_node(struct ev *e, const struct node *n, jv *out)
{
	if (n->kind == N_LITERAL) {
		*out = jv_copy(n->literal);
		return 0;
	}
	if (n->kind == N_PATH) {
		char *err = NULL;
		int rc = e->hresolve ? e->hresolve(e->ctx, n->handle, out, &err)
		                     : e->resolve(e->ctx, n->text, out, &err);
		if (rc < 0) {
			if (!e->err)
				e->err = err;
			else
				free(err);
			return -1;
		}
		return 0;
	}
	jv *args = xcalloc((size_t)n->nargs + 1, sizeof *args);
	int rc = 0, done = 0;
	for (; done < n->nargs; done++)
		if ((rc = eval_node(e, n->args[done], &args[done])) < 0)
			break;
	if (rc == 0) {
		/* string literals keep \{ \} for Format; others see them plain */
		if (strcmp(n->text, "States.Format"))
			for (int i = 0; i < n->nargs; i++)
				if (n->args[i]->kind == N_LITERAL &&
				    jv_get_kind(args[i]) == JV_KIND_STRING &&
				    strstr(jv_string_value(args[i]), "\\")) {
					struct buf b = BUF_INIT;
					for (const char *p = jv_string_value(args[i]); *p; p++) {
						if (*p == '\\' && (p[1] == '{' || p[1] == '}' || p[1] == '\\'))
							p++;
						buf_addc(&b, *p);
					}
					jv_free(args[i]);
					args[i] = jv_string(buf_str(&b));
					buf_free(&b);
				}
		rc = call(e, n->text, args, n->nargs, out);
	}
	for (int i = 0; i < done; i++)
		jv_free(args[i]);
	free(args);
	return rc;
}

int intr_eval(const char *text, intr_resolver resolve, void *ctx, jv *out, char **err)
{
	struct node *n = parse(text, err);
	if (!n)
		return -1;
	struct ev e = { resolve, NULL, ctx, NULL };
	int rc = eval_node(&e, n, out);
	node_free(n);
	if (rc < 0)
		*err = e.err ? e.err : xstrdup("intrinsic function failed");
	return rc;
}

struct intr_expr {
	struct node *root;
	intr_path_release release;
};

static int compile_paths(struct node *n, intr_path_compile compile, char **err)
{
	if (n->kind == N_PATH) {
		n->handle = compile(n->text, err);
		return n->handle ? 0 : -1;
	}
	for (int i = 0; i < n->nargs; i++)
		if (compile_paths(n->args[i], compile, err) < 0)
			return -1;
	return 0;
}

/* Path handles belong to the caller's compiler: give them back before
 * the nodes go. */
static void release_paths(struct node *n, intr_path_release release)
{
	if (n->kind == N_PATH && n->handle) {
		release(n->handle);
		n->handle = NULL;
	}
	for (int i = 0; i < n->nargs; i++)
		release_paths(n->args[i], release);
}

intr_expr *intr_compile(const char *text, intr_path_compile compile,
                        intr_path_release release, char **err)
{
	struct node *n = parse(text, err);
	if (!n)
		return NULL;
	if (compile_paths(n, compile, err) < 0) {
		release_paths(n, release);
		node_free(n);
		return NULL;
	}
	intr_expr *x = xcalloc(1, sizeof *x);
	x->root = n;
	x->release = release;
	return x;
}

int intr_run(const intr_expr *x, intr_handle_resolver resolve, void *ctx,
             jv *out, char **err)
{
	struct ev e = { NULL, resolve, ctx, NULL };
	int rc = eval_node(&e, x->root, out);
	if (rc < 0)
		*err = e.err ? e.err : xstrdup("intrinsic function failed");
	return rc;
}

void intr_free(intr_expr *x)
{
	if (!x)
		return;
	release_paths(x->root, x->release);
	node_free(x->root);
	free(x);
}
