/*
 * jsonpath.c: compile and evaluate ASL's JSONPath dialect (see jsonpath.h).
 *
 * A compiled path is a list of segments. Evaluation of a definite path
 * walks the value directly, with no allocation but the result's reference;
 * an indefinite path keeps the current matches in a jv array and maps each
 * segment over it, which is linear in the number of matches per segment.
 * Recursive descent visits every node below the match once.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "util.h"

enum seg_kind {
	SEG_NAME,        /* .name or ['name'] */
	SEG_INDEX,       /* [n] */
	SEG_WILD,        /* [*] or .* */
	SEG_SLICE,       /* [a:b:c] */
	SEG_NAMES,       /* ['a','b'] */
	SEG_INDEXES,     /* [0,2] */
	SEG_FILTER,      /* [?(...)] */
	SEG_DESCEND,     /* ..name, ..* or ..[...]: applies `sub` at every depth */
};

struct filter;

struct seg {
	enum seg_kind kind;
	char *name;
	long index;
	long slice[3];
	int has[3];           /* which slice bounds were given */
	char **names;
	long *indexes;
	int n;                /* entries of names/indexes */
	struct filter *filter;
	struct seg *sub;      /* SEG_DESCEND: the selector applied below */
};

struct jp_path {
	struct seg *segs;
	int n;
	int definite;
};

/* ---- filters --------------------------------------------------------- */

enum f_kind { F_OR, F_AND, F_NOT, F_EXISTS, F_CMP };
enum f_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct operand {
	int is_path;
	int relative;         /* @ rather than $ */
	jp_path *path;
	jv literal;
};

struct filter {
	enum f_kind kind;
	enum f_op op;
	struct filter *a, *b;
	struct operand l, r;
};

static void seg_clear(struct seg *s);

static void filter_free(struct filter *f)
{
	if (!f)
		return;
	filter_free(f->a);
	filter_free(f->b);
	if (f->kind == F_CMP || f->kind == F_EXISTS) {
		if (f->l.is_path)
			jp_free(f->l.path);
		else
			jv_free(f->l.literal);
		if (f->kind == F_CMP) {
			if (f->r.is_path)
				jp_free(f->r.path);
			else
				jv_free(f->r.literal);
		}
	}
	free(f);
}

static void seg_clear(struct seg *s)
{
	free(s->name);
	for (int i = 0; s->names && i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->indexes);
	filter_free(s->filter);
	if (s->sub) {
		seg_clear(s->sub);
		free(s->sub);
	}
}

void jp_free(jp_path *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		seg_clear(&p->segs[i]);
	free(p->segs);
	free(p);
}

/* ---- parser ---------------------------------------------------------- */

struct parser {
	const char *s, *p;
	char *err;
	int in_filter;        /* names also end at spaces and operators */
};

static int fail(struct parser *ps, const char *what)
{
	if (!ps->err) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "%s at offset %d in path '%s'", what,
		           (int)(ps->p - ps->s), ps->s);
		ps->err = buf_detach(&b);
	}
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

static int name_char(const struct parser *ps, char c)
{
	if (c == '\0' || c == '.' || c == '[')
		return 0;
	if (ps->in_filter && (c == ' ' || c == ')' || c == '=' || c == '!' ||
	                      c == '<' || c == '>' || c == '&' || c == '|' ||
	                      c == ']' || c == ','))
		return 0;
	return 1;
}

/* A quoted string at ps->p ('...' or "..."), backslash escapes. */
static char *parse_quoted(struct parser *ps)
{
	char q = *ps->p++;
	struct buf b = BUF_INIT;
	while (*ps->p && *ps->p != q) {
		if (*ps->p == '\\' && (ps->p[1] == q || ps->p[1] == '\\')) {
			/* only the quote and the backslash itself are escaped */
			buf_addc(&b, ps->p[1]);
			ps->p += 2;
			continue;
		}
		buf_addc(&b, *ps->p++);
	}
	if (*ps->p != q) {
		buf_free(&b);
		fail(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	if (!b.s)
		return xstrdup("");
	return buf_detach(&b);
}

static int parse_long(struct parser *ps, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(ps->p, &end, 10);
	if (end == ps->p || errno)
		return fail(ps, "expected a number");
	ps->p = end;
	*out = v;
	return 0;
}

static jp_path *parse_path(struct parser *ps, char root);
static struct filter *parse_or(struct parser *ps);

static int parse_operand(struct parser *ps, struct operand *o)
{
	skip_ws(ps);
	o->is_path = 0;
	o->literal = jv_invalid();
	char c = *ps->p;
	if (c == '@' || c == '$') {
		o->is_path = 1;
		o->relative = c == '@';
		o->path = parse_path(ps, c);
		return o->path ? 0 : -1;
	}
	if (c == '\'' || c == '"') {
		char *s = parse_quoted(ps);
		if (!s)
			return -1;
		o->literal = jv_string(s);
		free(s);
		return 0;
	}
	if (!strncmp(ps->p, "true", 4)) {
		ps->p += 4;
		o->literal = jv_true();
		return 0;
	}
	if (!strncmp(ps->p, "false", 5)) {
		ps->p += 5;
		o->literal = jv_false();
		return 0;
	}
	if (!strncmp(ps->p, "null", 4)) {
		ps->p += 4;
		o->literal = jv_null();
		return 0;
	}
	char *end;
	double d = strtod(ps->p, &end);
	if (end == ps->p)
		return fail(ps, "expected a value in filter");
	ps->p = end;
	o->literal = jv_number(d);
	return 0;
}

static struct filter *parse_primary(struct parser *ps)
{
	skip_ws(ps);
	if (*ps->p == '!') {
		ps->p++;
		struct filter *f = xcalloc(1, sizeof *f);
		f->kind = F_NOT;
		f->a = parse_primary(ps);
		if (!f->a) {
			free(f);
			return NULL;
		}
		return f;
	}
	if (*ps->p == '(') {
		ps->p++;
		struct filter *f = parse_or(ps);
		skip_ws(ps);
		if (!f || *ps->p != ')') {
			filter_free(f);
			fail(ps, "expected ')'");
			return NULL;
		}
		ps->p++;
		return f;
	}
	struct filter *f = xcalloc(1, sizeof *f);
	f->kind = F_EXISTS;
	if (parse_operand(ps, &f->l) < 0) {
		free(f);
		return NULL;
	}
	skip_ws(ps);
	static const struct { const char *s; enum f_op op; } ops[] = {
		{ "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		{ "<", OP_LT }, { ">", OP_GT },
	};
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		size_t n = strlen(ops[i].s);
		if (!strncmp(ps->p, ops[i].s, n)) {
			ps->p += n;
			f->kind = F_CMP;
			f->op = ops[i].op;
			if (parse_operand(ps, &f->r) < 0) {
				f->r.is_path = 0;
				f->r.literal = jv_null();
				filter_free(f);
				return NULL;
			}
			break;
		}
	}
	if (f->kind == F_EXISTS && !f->l.is_path) {
		filter_free(f);
		fail(ps, "a filter needs a comparison");
		return NULL;
	}
	return f;
}

static struct filter *parse_and(struct parser *ps)
{
	struct filter *l = parse_primary(ps);
	while (l) {
		skip_ws(ps);
		if (strncmp(ps->p, "&&", 2))
			break;
		ps->p += 2;
		struct filter *r = parse_primary(ps);
		if (!r) {
			filter_free(l);
			return NULL;
		}
		struct filter *f = xcalloc(1, sizeof *f);
		f->kind = F_AND;
		f->a = l;
		f->b = r;
		l = f;
	}
	return l;
}

static struct filter *parse_or(struct parser *ps)
{
	struct filter *l = parse_and(ps);
	while (l) {
		skip_ws(ps);
		if (strncmp(ps->p, "||", 2))
			break;
		ps->p += 2;
		struct filter *r = parse_and(ps);
		if (!r) {
			filter_free(l);
			return NULL;
		}
		struct filter *f = xcalloc(1, sizeof *f);
		f->kind = F_OR;
		f->a = l;
		f->b = r;
		l = f;
	}
	return l;
}

/* The inside of [...], ps->p just past '['. */
static int parse_bracket(struct parser *ps, struct seg *s)
{
	skip_ws(ps);
	if (*ps->p == '*') {
		ps->p++;
		s->kind = SEG_WILD;
	} else if (*ps->p == '?') {
		ps->p++;
		skip_ws(ps);
		if (*ps->p != '(')
			return fail(ps, "expected '(' after '?'");
		ps->p++;
		int saved = ps->in_filter;
		ps->in_filter = 1;
		s->filter = parse_or(ps);
		ps->in_filter = saved;
		if (!s->filter)
			return -1;
		skip_ws(ps);
		if (*ps->p != ')')
			return fail(ps, "expected ')' closing the filter");
		ps->p++;
		s->kind = SEG_FILTER;
	} else if (!strncmp(ps->p, "(@.length", 9)) {
		/* Jayway's script index: [(@.length-N)] counts from the end */
		ps->p += 9;
		skip_ws(ps);
		long off = 0;
		if (*ps->p == '-' || *ps->p == '+') {
			int neg = *ps->p == '-';
			ps->p++;
			skip_ws(ps);
			if (parse_long(ps, &off) < 0)
				return -1;
			if (neg)
				off = -off;
		}
		skip_ws(ps);
		if (*ps->p != ')' || off >= 0)
			return fail(ps, "expected (@.length-N)");
		ps->p++;
		s->kind = SEG_INDEX;
		s->index = off;
	} else if (*ps->p == '\'' || *ps->p == '"') {
		s->kind = SEG_NAME;
		for (;;) {
			char *n = parse_quoted(ps);
			if (!n)
				return -1;
			s->names = xrealloc(s->names, (size_t)(s->n + 1) * sizeof *s->names);
			s->names[s->n++] = n;
			skip_ws(ps);
			if (*ps->p != ',')
				break;
			ps->p++;
			skip_ws(ps);
			if (*ps->p != '\'' && *ps->p != '"')
				return fail(ps, "expected a quoted name");
		}
		if (s->n == 1) {
			s->name = s->names[0];
			free(s->names);
			s->names = NULL;
			s->n = 0;
		} else {
			s->kind = SEG_NAMES;
		}
	} else {
		/* index, union of indexes, or slice */
		long v[3] = { 0, 0, 1 };
		int part = 0;
		int has[3] = { 0, 0, 0 };
		int is_slice = 0;
		long *idx = NULL;
		int n = 0;
		for (;;) {
			skip_ws(ps);
			if (*ps->p == '-' || isdigit((unsigned char)*ps->p)) {
				if (parse_long(ps, &v[part]) < 0) {
					free(idx);
					return -1;
				}
				has[part] = 1;
			}
			skip_ws(ps);
			if (*ps->p == ':') {
				if (part == 2 || n) {
					free(idx);
					return fail(ps, "bad slice");
				}
				ps->p++;
				is_slice = 1;
				part++;
				continue;
			}
			if (!is_slice) {
				if (!has[0]) {
					free(idx);
					return fail(ps, "expected an index");
				}
				idx = xrealloc(idx, (size_t)(n + 1) * sizeof *idx);
				idx[n++] = v[0];
				has[0] = 0;
				if (*ps->p == ',') {
					ps->p++;
					continue;
				}
			}
			break;
		}
		if (is_slice) {
			s->kind = SEG_SLICE;
			memcpy(s->slice, v, sizeof v);
			memcpy(s->has, has, sizeof has);
			free(idx);
		} else if (n == 1) {
			s->kind = SEG_INDEX;
			s->index = idx[0];
			free(idx);
		} else {
			s->kind = SEG_INDEXES;
			s->indexes = idx;
			s->n = n;
		}
	}
	skip_ws(ps);
	if (*ps->p != ']')
		return fail(ps, "expected ']'");
	ps->p++;
	return 0;
}

static void add_seg(jp_path *p, struct seg s)
{
	p->segs = xrealloc(p->segs, (size_t)(p->n + 1) * sizeof *p->segs);
	p->segs[p->n++] = s;
	if (s.kind != SEG_NAME && s.kind != SEG_INDEX)
		p->definite = 0;
}

/* A path starting with ROOT ('$' or '@'); stops at the first character
 * that cannot continue it (the caller checks what follows). */
static jp_path *parse_path(struct parser *ps, char root)
{
	if (*ps->p != root) {
		fail(ps, "a path starts with '$'");
		return NULL;
	}
	ps->p++;
	jp_path *p = xcalloc(1, sizeof *p);
	p->definite = 1;
	for (;;) {
		struct seg s;
		memset(&s, 0, sizeof s);
		if (ps->p[0] == '.' && ps->p[1] == '.') {
			ps->p += 2;
			struct seg *sub = xcalloc(1, sizeof *sub);
			if (*ps->p == '[') {
				ps->p++;
				if (parse_bracket(ps, sub) < 0) {
					seg_clear(sub);
					free(sub);
					goto bad;
				}
			} else if (*ps->p == '*') {
				ps->p++;
				sub->kind = SEG_WILD;
			} else {
				const char *st = ps->p;
				while (name_char(ps, *ps->p))
					ps->p++;
				if (ps->p == st) {
					free(sub);
					fail(ps, "expected a name after '..'");
					goto bad;
				}
				sub->kind = SEG_NAME;
				sub->name = xstrndup(st, (size_t)(ps->p - st));
			}
			s.kind = SEG_DESCEND;
			s.sub = sub;
			add_seg(p, s);
		} else if (*ps->p == '.') {
			ps->p++;
			if (*ps->p == '*') {
				ps->p++;
				s.kind = SEG_WILD;
				add_seg(p, s);
				continue;
			}
			const char *st = ps->p;
			while (name_char(ps, *ps->p))
				ps->p++;
			if (ps->p == st) {
				fail(ps, "expected a name after '.'");
				goto bad;
			}
			s.kind = SEG_NAME;
			s.name = xstrndup(st, (size_t)(ps->p - st));
			add_seg(p, s);
		} else if (*ps->p == '[') {
			ps->p++;
			if (parse_bracket(ps, &s) < 0) {
				seg_clear(&s);
				goto bad;
			}
			add_seg(p, s);
		} else {
			break;
		}
	}
	return p;
bad:
	jp_free(p);
	return NULL;
}

jp_path *jp_compile(const char *text, char **err)
{
	struct parser ps = { text, text, NULL, 0 };
	if (err)
		*err = NULL;
	jp_path *p = parse_path(&ps, '$');
	if (p && *ps.p) {
		fail(&ps, "unexpected character");
		jp_free(p);
		p = NULL;
	}
	if (!p) {
		if (err)
			*err = ps.err;
		else
			free(ps.err);
	}
	return p;
}

int jp_definite(const jp_path *p) { return p->definite; }
int jp_is_root(const jp_path *p) { return p->n == 0; }

/* ---- evaluation ------------------------------------------------------- */

static int step_definite(const struct seg *s, jv cur, jv *out)
{
	if (s->kind == SEG_NAME) {
		if (jv_get_kind(cur) != JV_KIND_OBJECT)
			return -1;
		jv v = jv_object_get(jv_copy(cur), jv_string(s->name));
		if (!jv_is_valid(v)) {
			jv_free(v);
			return -1;
		}
		*out = v;
		return 0;
	}
	if (jv_get_kind(cur) != JV_KIND_ARRAY)
		return -1;
	int len = jv_array_length(jv_copy(cur));
	long i = s->index < 0 ? len + s->index : s->index;
	if (i < 0 || i >= len)
		return -1;
	*out = jv_array_get(jv_copy(cur), (int)i);
	return 0;
}

static int filter_match(const struct filter *f, jv item, jv root);

static jv apply(const struct seg *s, jv cur, jv acc, jv root);

static void descend(const struct seg *sub, jv cur, jv *acc, jv root)
{
	*acc = apply(sub, cur, *acc, root);
	jv_kind k = jv_get_kind(cur);
	if (k == JV_KIND_OBJECT) {
		jv_object_foreach(cur, key, val) {
			jv_free(key);
			descend(sub, val, acc, root);
			jv_free(val);
		}
	} else if (k == JV_KIND_ARRAY) {
		jv_array_foreach(cur, i, val) {
			(void)i;
			descend(sub, val, acc, root);
			jv_free(val);
		}
	}
}

/* Append to ACC (consumed, returned) what segment S selects from CUR (not
 * consumed). Missing names and indexes select nothing. */
static jv apply(const struct seg *s, jv cur, jv acc, jv root)
{
	jv_kind k = jv_get_kind(cur);
	jv v;
	switch (s->kind) {
	case SEG_NAME:
	case SEG_INDEX:
		if (step_definite(s, cur, &v) == 0)
			acc = jv_array_append(acc, v);
		break;
	case SEG_NAMES:
		if (k == JV_KIND_OBJECT)
			for (int i = 0; i < s->n; i++) {
				v = jv_object_get(jv_copy(cur), jv_string(s->names[i]));
				if (jv_is_valid(v))
					acc = jv_array_append(acc, v);
				else
					jv_free(v);
			}
		break;
	case SEG_INDEXES:
		if (k == JV_KIND_ARRAY) {
			int len = jv_array_length(jv_copy(cur));
			for (int i = 0; i < s->n; i++) {
				long j = s->indexes[i] < 0 ? len + s->indexes[i] : s->indexes[i];
				if (j >= 0 && j < len)
					acc = jv_array_append(acc, jv_array_get(jv_copy(cur), (int)j));
			}
		}
		break;
	case SEG_WILD:
		if (k == JV_KIND_ARRAY) {
			jv_array_foreach(cur, i, val) {
				(void)i;
				acc = jv_array_append(acc, val);
			}
		} else if (k == JV_KIND_OBJECT) {
			jv_object_foreach(cur, key, val) {
				jv_free(key);
				acc = jv_array_append(acc, val);
			}
		}
		break;
	case SEG_SLICE:
		if (k == JV_KIND_ARRAY) {
			long len = jv_array_length(jv_copy(cur));
			long step = s->has[2] ? s->slice[2] : 1;
			if (step <= 0)
				step = 1;
			long a = s->has[0] ? s->slice[0] : 0;
			long b = s->has[1] ? s->slice[1] : len;
			if (a < 0)
				a += len;
			if (b < 0)
				b += len;
			if (a < 0)
				a = 0;
			if (b > len)
				b = len;
			for (long i = a; i < b; i += step)
				acc = jv_array_append(acc, jv_array_get(jv_copy(cur), (int)i));
		}
		break;
	case SEG_FILTER:
		if (k == JV_KIND_ARRAY) {
			jv_array_foreach(cur, i, val) {
				(void)i;
				if (filter_match(s->filter, val, root))
					acc = jv_array_append(acc, val);
				else
					jv_free(val);
			}
		} else if (k == JV_KIND_OBJECT) {
			if (filter_match(s->filter, cur, root))
				acc = jv_array_append(acc, jv_copy(cur));
		}
		break;
	case SEG_DESCEND:
		descend(s->sub, cur, &acc, root);
		break;
	}
	return acc;
}

static int eval_in(const jp_path *p, jv start, jv root, jv *out)
{
	if (p->definite) {
		jv cur = jv_copy(start);
		for (int i = 0; i < p->n; i++) {
			jv next;
			if (step_definite(&p->segs[i], cur, &next) < 0) {
				jv_free(cur);
				return -1;
			}
			jv_free(cur);
			cur = next;
		}
		*out = cur;
		return 0;
	}
	jv cur = jv_array_append(jv_array(), jv_copy(start));
	for (int i = 0; i < p->n; i++) {
		jv next = jv_array();
		jv_array_foreach(cur, j, val) {
			(void)j;
			next = apply(&p->segs[i], val, next, root);
			jv_free(val);
		}
		jv_free(cur);
		cur = next;
	}
	*out = cur;
	return 0;
}

int jp_eval(const jp_path *p, jv root, jv *out)
{
	return eval_in(p, root, root, out);
}

static int operand_value(const struct operand *o, jv item, jv root, jv *out)
{
	if (!o->is_path) {
		*out = jv_copy(o->literal);
		return 0;
	}
	if (eval_in(o->path, o->relative ? item : root, root, out) < 0)
		return -1;
	return 0;
}

static int cmp_values(enum f_op op, jv a, jv b)
{
	jv_kind ka = jv_get_kind(a), kb = jv_get_kind(b);
	if (op == OP_EQ || op == OP_NE) {
		int eq = jv_equal(jv_copy(a), jv_copy(b));
		return op == OP_EQ ? eq : !eq;
	}
	double c;
	if (ka == JV_KIND_NUMBER && kb == JV_KIND_NUMBER) {
		double x = jv_number_value(a), y = jv_number_value(b);
		c = x < y ? -1 : x > y ? 1 : 0;
	} else if (ka == JV_KIND_STRING && kb == JV_KIND_STRING) {
		c = strcmp(jv_string_value(a), jv_string_value(b));
	} else {
		return 0;
	}
	switch (op) {
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

static int filter_match(const struct filter *f, jv item, jv root)
{
	switch (f->kind) {
	case F_OR:
		return filter_match(f->a, item, root) || filter_match(f->b, item, root);
	case F_AND:
		return filter_match(f->a, item, root) && filter_match(f->b, item, root);
	case F_NOT:
		return !filter_match(f->a, item, root);
	case F_EXISTS: {
		jv v;
		if (operand_value(&f->l, item, root, &v) < 0)
			return 0;
		int ok = f->l.path->definite || jv_array_length(jv_copy(v)) > 0;
		jv_free(v);
		return ok;
	}
	case F_CMP: {
		jv a, b;
		if (operand_value(&f->l, item, root, &a) < 0)
			return 0;
		if (operand_value(&f->r, item, root, &b) < 0) {
			jv_free(a);
			return 0;
		}
		int ok = cmp_values(f->op, a, b);
		jv_free(a);
		jv_free(b);
		return ok;
	}
	}
	return 0;
}

/* ---- ResultPath ------------------------------------------------------ */

static int set_at(const jp_path *p, int i, jv *doc, jv value)
{
	if (i == p->n) {
		jv_free(*doc);
		*doc = value;
		return 0;
	}
	const struct seg *s = &p->segs[i];
	if (s->kind == SEG_NAME) {
		jv_kind k = jv_get_kind(*doc);
		if (k != JV_KIND_OBJECT) {
			jv_free(value);
			return -1;
		}
		jv key = jv_string(s->name);
		jv child = jv_object_get(jv_copy(*doc), jv_copy(key));
		if (!jv_is_valid(child)) {
			jv_free(child);
			child = jv_object();
		}
		if (i + 1 < p->n && jv_get_kind(child) != JV_KIND_OBJECT &&
		    p->segs[i + 1].kind == SEG_NAME) {
			/* Jayway replaces a scalar on the way with a new object. */
			jv_free(child);
			child = jv_object();
		}
		if (set_at(p, i + 1, &child, value) < 0) {
			jv_free(child);
			jv_free(key);
			return -1;
		}
		*doc = jv_object_set(*doc, key, child);
		return 0;
	}
	if (s->kind == SEG_INDEX && jv_get_kind(*doc) == JV_KIND_ARRAY) {
		int len = jv_array_length(jv_copy(*doc));
		long j = s->index < 0 ? len + s->index : s->index;
		if (j < 0 || j >= len) {
			jv_free(value);
			return -1;
		}
		jv child = jv_array_get(jv_copy(*doc), (int)j);
		if (set_at(p, i + 1, &child, value) < 0) {
			jv_free(child);
			return -1;
		}
		*doc = jv_array_set(*doc, (int)j, child);
		return 0;
	}
	jv_free(value);
	return -1;
}

int jp_set(const jp_path *p, jv *doc, jv value)
{
	if (!p->definite) {
		jv_free(value);
		return -1;
	}
	return set_at(p, 0, doc, value);
}

char *jp_canonical(const jp_path *p)
{
	struct buf b = BUF_INIT;
	buf_addc(&b, '$');
	for (int i = 0; i < p->n; i++) {
		const struct seg *s = &p->segs[i];
		switch (s->kind) {
		case SEG_NAME: buf_printf(&b, "['%s']", s->name); break;
		case SEG_INDEX: buf_printf(&b, "[%ld]", s->index); break;
		case SEG_WILD: buf_adds(&b, "[*]"); break;
		default: buf_adds(&b, "[?]"); break;
		}
	}
	return buf_detach(&b);
}
