/*
 * pattern.c: the EventBridge pattern compiler and the combined matcher.
 *
 * Model (event-ruler's): a pattern is compiled into sub-rules (one per
 * branch of its "$or"s), each a conjunction of slots, one per field path;
 * a slot is satisfied by any event value at its path that one of its
 * conditions accepts (or, when it lists {"exists": false}, by the path
 * being absent). Values inside arrays carry their array trail (which array,
 * which element), and the values that satisfy one sub-rule must come from
 * consistent elements of every array they share, as event-ruler's
 * rulesForJSONEvent requires.
 *
 * The set indexes all rules together: one trie of field paths that the
 * scanner walks, one hash table of exact values (strings, numbers, literals,
 * case-folded strings, IP addresses) keyed by field, and a short per-field
 * list of the other conditions. Matching an event:
 *   1. scan the bytes, validating all of it, and collect the values at
 *      paths some rule names (everything else is skipped);
 *   2. look each value up in the hash and run its field's other conditions,
 *      counting for every sub-rule how many of its required slots are met;
 *   3. confirm the sub-rules whose count is complete, checking array
 *      consistency and absences only when arrays are involved.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pattern.h"
#include "pattern_int.h"
#include "util.h"

#define ERR_PREFIX "Event pattern is not valid. Reason: "
#define WILDCARD_COMPLEXITY_LIMIT 10
#define SCAN_MAX_DEPTH 256

/* ---- conditions ---------------------------------------------------------- */

enum mkind {
	/* looked up in the exact-value hash */
	MK_EXACT_STR, MK_EXACT_NUM, MK_TRUE, MK_FALSE, MK_NULL, MK_IP, MK_EQ_IC,
	/* run one by one */
	MK_EXISTS, MK_PREFIX, MK_SUFFIX, MK_PREFIX_IC, MK_SUFFIX_IC, MK_WILD, MK_SHELL,
	MK_NUMERIC, MK_CIDR, MK_AB_STR, MK_AB_NUM, MK_AB_IC, MK_AB_PREFIX, MK_AB_SUFFIX,
	MK_AB_WILD, MK_REGEXP,
};

struct strv { char *s; size_t len; };

struct matcher {
	enum mkind kind;
	struct strv str;          /* the value (folded for the _IC kinds, glob form for wildcards) */
	struct strv *strs;        /* anything-but lists (folded / glob form as above) */
	int nstrs;
	double *nums;
	int nnums;
	double num;               /* MK_EXACT_NUM */
	double lo, hi;            /* MK_NUMERIC */
	unsigned char has_lo, lo_open, has_hi, hi_open;
	unsigned char ip_lo[16], ip_hi[16];
	int iplen;
	pcre2_code *re;
};

/* A field's list of values from one pattern: what a slot tests. */
struct vlist {
	struct matcher *m;
	int n, cap;
	int absent;               /* {"exists": false} is one of the values */
};

struct cond { int slot; struct matcher *m; };
struct slot { int sub, field, required, absent, first_cond, nconds; };
struct sub { int rule, first_slot, nslots, nrequired, anchor; };

/* A byte trie of prefixes (or of reversed suffixes): the conditions whose
 * string ends at a node are kept there, so one walk along an event value
 * finds every prefix or suffix condition of the field it meets, however
 * many there are. */
struct bnode {
	int nk;
	unsigned char *lab;
	int *kid;
	int *conds;
	int nconds;
};

struct btrie {
	struct bnode *v;
	int n, cap;
};

/* The wildcard tries hold wildcards by their literal start (or, for those
 * that start with a star, their literal end): a walk finds the wildcards
 * that can match at all, and only those are run. */
enum { BT_PREFIX, BT_SUFFIX, BT_PREFIX_IC, BT_SUFFIX_IC, BT_WILD_PRE, BT_WILD_SUF, BT_N };

struct field {
	struct btrie *bt[BT_N];   /* NULL until a condition of that kind is indexed */
	char *path;
	size_t len;
	int *slow;                /* conds run one by one */
	int nslow, capslow;
	double *nums;             /* the exact numbers indexed, sorted */
	int nnums;
	unsigned has_str : 1, has_num : 1, has_lit : 1, has_ic : 1, has_ip : 1;
};

struct tnode {                /* path trie */
	int field;                /* field ending here, or -1 */
	int nk;
	unsigned char *lab;
	int *kid;
};

struct hent {                 /* exact-value hash entry */
	uint64_t h;
	int field;
	char *key;
	size_t klen;
	int *conds;
	int n, cap;
};

enum ltype { LT_STR, LT_NUM, LT_TRUE, LT_FALSE, LT_NULL };

struct leaf {
	int field;
	enum ltype type;
	const char *s;            /* raw text (strings: without quotes) */
	size_t len;
	long dec;                 /* strings with escapes: offset of the decoded text in strbuf, else -1 */
	int trail, ntrail;        /* array trail: pairs in trails[] */
	int next;                 /* next leaf of the same field */
	int numstate;             /* numbers: 0 not read yet, 1 num is close, 2 num is exact */
	double num;
};

struct hit { int leaf, next; };

#define VEC(T) struct { T *v; int n, cap; }
#define VEC_PUSH(vec, x) do { \
	if ((vec).n == (vec).cap) { \
		(vec).cap = (vec).cap ? (vec).cap * 2 : 16; \
		(vec).v = xrealloc((vec).v, (size_t)(vec).cap * sizeof *(vec).v); \
	} \
	(vec).v[(vec).n++] = (x); \
} while (0)

struct pattern_set {
	struct pattern_opts opts;
	int nrules;
	VEC(struct vlist *) vlists;
	VEC(struct cond) conds;
	VEC(struct slot) slots;
	VEC(struct sub) subs;
	VEC(struct field) fields;
	VEC(struct tnode) nodes;
	VEC(int) always;          /* sub-rules with no required slot */
	struct hent *ht;
	size_t htcap, htn;
	pcre2_match_data *md;

	/* per-event scratch */
	uint32_t epoch;
	uint32_t *slot_ep, *field_ep, *rule_ep;
	int *slot_head, *field_head;
	size_t scratch_slots, scratch_fields, scratch_rules;
	VEC(struct leaf) leaves;
	VEC(int) trails;          /* (array id, index) pairs */
	VEC(int) tstack;
	VEC(struct hit) hits;
	VEC(int) cands;
	VEC(int) matched;
	struct buf strbuf, tmp;
	int has_trails;
	size_t err_off;
};

/* ---- hashing and the exact-value table ----------------------------------- */

static uint64_t hash_bytes(int field, const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(unsigned)field * 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static struct hent *ht_find(const struct pattern_set *s, int field, const char *k, size_t n)
{
	if (!s->htcap) return NULL;
	uint64_t h = hash_bytes(field, k, n);
	size_t i = h & (s->htcap - 1);
	for (;;) {
		struct hent *e = &s->ht[i];
		if (!e->key) return NULL;
		if (e->h == h && e->field == field && e->klen == n && memcmp(e->key, k, n) == 0)
			return e;
		i = (i + 1) & (s->htcap - 1);
	}
}

static void ht_grow(struct pattern_set *s)
{
	size_t ncap = s->htcap ? s->htcap * 2 : 64;
	struct hent *nt = xcalloc(ncap, sizeof *nt);
	for (size_t i = 0; i < s->htcap; i++) {
		struct hent *e = &s->ht[i];
		if (!e->key) continue;
		size_t j = e->h & (ncap - 1);
		while (nt[j].key) j = (j + 1) & (ncap - 1);
		nt[j] = *e;
	}
	free(s->ht);
	s->ht = nt;
	s->htcap = ncap;
}

static void ht_add(struct pattern_set *s, int field, const char *k, size_t n, int cond)
{
	struct hent *e = ht_find(s, field, k, n);
	if (!e) {
		if ((s->htn + 1) * 2 > s->htcap) ht_grow(s);
		uint64_t h = hash_bytes(field, k, n);
		size_t i = h & (s->htcap - 1);
		while (s->ht[i].key) i = (i + 1) & (s->htcap - 1);
		e = &s->ht[i];
		e->h = h;
		e->field = field;
		e->key = xmalloc(n + 1);
		memcpy(e->key, k, n);
		e->key[n] = 0;
		e->klen = n;
		s->htn++;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 2;
		e->conds = xrealloc(e->conds, (size_t)e->cap * sizeof *e->conds);
	}
	e->conds[e->n++] = cond;
}

/* The hash key of a value: a type byte, then the bytes that identify it. */
static size_t num_key(char *k, double d)
{
	if (d == 0) d = 0;   /* -0 equals 0 */
	k[0] = 'n';
	memcpy(k + 1, &d, sizeof d);
	return 1 + sizeof d;
}

/* ---- prefix and suffix tries --------------------------------------------- */

static int bt_child(const struct btrie *t, int node, unsigned char c)
{
	const struct bnode *b = &t->v[node];
	for (int i = 0; i < b->nk; i++)
		if (b->lab[i] == c) return b->kid[i];
	return -1;
}

static int bt_newnode(struct btrie *t)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->v = xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
	}
	memset(&t->v[t->n], 0, sizeof t->v[t->n]);
	return t->n++;
}

static void bt_add(struct btrie *t, const char *str, size_t n, int reverse, int cond)
{
	if (t->n == 0) bt_newnode(t);
	int node = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)(reverse ? str[n - 1 - i] : str[i]);
		int k = bt_child(t, node, c);
		if (k < 0) {
			k = bt_newnode(t);
			struct bnode *b = &t->v[node];
			b->lab = xrealloc(b->lab, (size_t)b->nk + 1);
			b->kid = xrealloc(b->kid, ((size_t)b->nk + 1) * sizeof *b->kid);
			b->lab[b->nk] = c;
			b->kid[b->nk] = k;
			b->nk++;
		}
		node = k;
	}
	struct bnode *b = &t->v[node];
	b->conds = xrealloc(b->conds, ((size_t)b->nconds + 1) * sizeof *b->conds);
	b->conds[b->nconds++] = cond;
}

static void bt_free(struct btrie *t)
{
	if (!t) return;
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].lab);
		free(t->v[i].kid);
		free(t->v[i].conds);
	}
	free(t->v);
	free(t);
}

/* ---- the path trie ------------------------------------------------------- */

static int trie_child(const struct pattern_set *s, int node, unsigned char c)
{
	const struct tnode *t = &s->nodes.v[node];
	for (int i = 0; i < t->nk; i++)
		if (t->lab[i] == c) return t->kid[i];
	return -1;
}

static int trie_new(struct pattern_set *s)
{
	struct tnode t = { -1, 0, NULL, NULL };
	VEC_PUSH(s->nodes, t);
	return s->nodes.n - 1;
}

static int field_intern(struct pattern_set *s, const char *path, size_t len)
{
	int node = 0;
	for (size_t i = 0; i < len; i++) {
		int k = trie_child(s, node, (unsigned char)path[i]);
		if (k < 0) {
			k = trie_new(s);
			struct tnode *t = &s->nodes.v[node];
			t->lab = xrealloc(t->lab, (size_t)(t->nk + 1));
			t->kid = xrealloc(t->kid, (size_t)(t->nk + 1) * sizeof *t->kid);
			t->lab[t->nk] = (unsigned char)path[i];
			t->kid[t->nk] = k;
			t->nk++;
		}
		node = k;
	}
	if (s->nodes.v[node].field < 0) {
		struct field f;
		memset(&f, 0, sizeof f);
		f.path = xmalloc(len + 1);
		memcpy(f.path, path, len);
		f.path[len] = 0;
		f.len = len;
		VEC_PUSH(s->fields, f);
		s->nodes.v[node].field = s->fields.n - 1;
	}
	return s->nodes.v[node].field;
}

/* ---- matcher helpers ----------------------------------------------------- */

static void matcher_free(struct matcher *m)
{
	free(m->str.s);
	for (int i = 0; i < m->nstrs; i++) free(m->strs[i].s);
	free(m->strs);
	free(m->nums);
	if (m->re) pcre2_code_free(m->re);
}

static void vlist_free(struct vlist *v)
{
	if (!v) return;
	for (int i = 0; i < v->n; i++) matcher_free(&v->m[i]);
	free(v->m);
	free(v);
}

static struct strv strv_dup(const char *s, size_t n)
{
	struct strv r;
	r.s = xmalloc(n + 1);
	memcpy(r.s, s, n);
	r.s[n] = 0;
	r.len = n;
	return r;
}

static struct strv strv_fold(const char *s, size_t n)
{
	struct strv r;
	r.s = xmalloc(n + 1);
	pat_fold(s, n, r.s);
	r.s[n] = 0;
	r.len = n;
	return r;
}

static double num_of(const char *raw, size_t n)
{
	char tmp[64];
	if (n < sizeof tmp) {
		memcpy(tmp, raw, n);
		tmp[n] = 0;
		return strtod(tmp, NULL);
	}
	char *t = xstrndup(raw, n);
	double d = strtod(t, NULL);
	free(t);
	return d;
}

/* ---- the compiler -------------------------------------------------------- */

struct bfield { char *path; size_t len; struct vlist *vl; };
struct bsub { struct bfield *f; int n, cap; };
struct bsubs { struct bsub *v; int n, cap; };

struct cc {
	const struct pattern_opts *o;
	char *err;
	size_t errlen;
	int failed;
	VEC(struct vlist *) vls;  /* every vlist made, owned here until installed */
	struct buf path;
	VEC(size_t) marks;
};

static int cfail(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfail(struct cc *c, const char *fmt, ...)
{
	if (!c->failed && c->errlen) {
		int k = snprintf(c->err, c->errlen, "%s", ERR_PREFIX);
		if (k >= 0 && (size_t)k < c->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	c->failed = 1;
	return -1;
}

static int streq(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(s, lit, l) == 0;
}

/* What Jackson's getText() gives for a token: a string's text, a scalar's
 * source, "[" / "{" for a container start, "]" at the end of an array. */
static void token_text(const struct pj *v, const char **t, int *n)
{
	if (!v) { *t = "]"; *n = 1; return; }
	switch (v->type) {
	case PJ_STR: *t = v->str; *n = (int)v->len; break;
	case PJ_ARR: *t = "["; *n = 1; break;
	case PJ_OBJ: *t = "{"; *n = 1; break;
	default: *t = v->raw; *n = (int)v->rawlen;
	}
}

static struct matcher *vl_add(struct vlist *vl, enum mkind k)
{
	if (vl->n == vl->cap) {
		vl->cap = vl->cap ? vl->cap * 2 : 4;
		vl->m = xrealloc(vl->m, (size_t)vl->cap * sizeof *vl->m);
	}
	struct matcher *m = &vl->m[vl->n++];
	memset(m, 0, sizeof *m);
	m->kind = k;
	return m;
}

static int glob_compile(struct cc *c, const char *s, size_t n, int escapes, int check_complexity,
                        struct strv *out)
{
	char msg[160];
	out->s = xmalloc(2 * n + 1);
	if (pat_glob_parse(s, n, escapes, out->s, &out->len, msg, sizeof msg) < 0) {
		free(out->s);
		out->s = NULL;
		return cfail(c, "%s", msg);
	}
	out->s[out->len] = 0;
	if (check_complexity &&
	    pat_glob_complexity(out->s, out->len, WILDCARD_COMPLEXITY_LIMIT) > WILDCARD_COMPLEXITY_LIMIT) {
		free(out->s);
		out->s = NULL;
		return cfail(c, "Rule is too complex - try using fewer wildcard characters or fewer "
		             "repeating character sequences after a wildcard character");
	}
	return 0;
}

static int numeric_expr(struct cc *c, struct matcher *m, const struct pj *a)
{
	const struct pj *t0 = a->n > 0 ? &a->items[0] : NULL;
	const struct pj *t1 = a->n > 1 ? &a->items[1] : NULL;
	const char *tt;
	int tn;
	if (!t0 || t0->type != PJ_STR) {
		token_text(t0, &tt, &tn);
		return cfail(c, "Invalid member in numeric match: %.*s", tn, tt);
	}
	const char *op = t0->str;
	size_t ol = t0->len;
	int isnum = t1 && t1->type == PJ_NUM;
	double v = isnum ? num_of(t1->raw, t1->rawlen) : 0;
	if (streq(op, ol, "=")) {
		if (!isnum) return cfail(c, "Value of equals must be numeric");
		if (a->n > 2) return cfail(c, "Too many elements in numeric expression");
		m->has_lo = m->has_hi = 1;
		m->lo = m->hi = v;
		return 0;
	}
	if (streq(op, ol, ">=") || streq(op, ol, ">")) {
		if (!isnum) return cfail(c, "Value of %s must be numeric", op);
		m->has_lo = 1;
		m->lo = v;
		m->lo_open = op[1] == 0;
		if (a->n == 2) return 0;
		const struct pj *t2 = &a->items[2];
		if (t2->type != PJ_STR) {
			token_text(t2, &tt, &tn);
			return cfail(c, "Bad value in numeric range: %.*s", tn, tt);
		}
		if (streq(t2->str, t2->len, "<")) m->hi_open = 1;
		else if (!streq(t2->str, t2->len, "<="))
			return cfail(c, "Bad numeric range operator: %s", t2->str);
		const struct pj *t3 = a->n > 3 ? &a->items[3] : NULL;
		if (!t3 || t3->type != PJ_NUM)
			return cfail(c, "Value of %s must be numeric", t2->str);
		if (a->n > 4) return cfail(c, "Too many terms in numeric range expression");
		m->has_hi = 1;
		m->hi = num_of(t3->raw, t3->rawlen);
		if (!(m->lo < m->hi)) return cfail(c, "Bottom must be less than top");
		return 0;
	}
	if (streq(op, ol, "<=") || streq(op, ol, "<")) {
		if (!isnum) return cfail(c, "Value of %s must be numeric", op);
		if (a->n > 2) return cfail(c, "Too many elements in numeric expression");
		m->has_hi = 1;
		m->hi = v;
		m->hi_open = op[1] == 0;
		return 0;
	}
	return cfail(c, "Unrecognized numeric range operator: %s", op);
}

static int anything_but(struct cc *c, struct vlist *vl, const struct pj *expr)
{
	const struct pj *v = &expr->items[0];
	enum mkind k = MK_AB_STR;
	const struct pj *tok = v;
	if (v->type == PJ_OBJ) {
		if (v->n == 0) return cfail(c, "Anything-But expression name not found");
		const char *op = v->keys[0];
		size_t ol = v->keylens[0];
		if (streq(op, ol, "equals-ignore-case")) k = MK_AB_IC;
		else if (streq(op, ol, "prefix")) k = MK_AB_PREFIX;
		else if (streq(op, ol, "suffix")) k = MK_AB_SUFFIX;
		else if (streq(op, ol, "wildcard")) k = MK_AB_WILD;
		else return cfail(c, "Unsupported anything-but pattern: %s", op);
		tok = &v->items[0];
	}
	if (tok->type != PJ_ARR && tok->type != PJ_STR && tok->type != PJ_NUM)
		return cfail(c, "Value of anything-but must be an array or single string/number value.");
	const struct pj *items = tok->type == PJ_ARR ? tok->items : tok;
	size_t nitems = tok->type == PJ_ARR ? tok->n : 1;
	struct matcher *m = vl_add(vl, k);
	if (k == MK_AB_STR) {
		int hasnum = 0, hasstr = 0;
		for (size_t i = 0; i < nitems; i++) {
			if (items[i].type == PJ_STR) hasstr = 1;
			else if (items[i].type == PJ_NUM) hasnum = 1;
			else return cfail(c, "Inside anything but list, start|null|boolean is not supported.");
		}
		if (hasnum == hasstr)
			return cfail(c, "Inside anything but list, either all values are number or string, "
			             "mixed type is not supported");
		if (hasnum) {
			m->kind = MK_AB_NUM;
			m->nums = xmalloc(nitems * sizeof *m->nums);
			for (size_t i = 0; i < nitems; i++) {
				double d = num_of(items[i].raw, items[i].rawlen);
				m->nums[m->nnums++] = d == 0 ? 0 : d;
			}
		} else {
			m->strs = xmalloc(nitems * sizeof *m->strs);
			for (size_t i = 0; i < nitems; i++)
				m->strs[m->nstrs++] = strv_dup(items[i].str, items[i].len);
		}
	} else {
		m->strs = xmalloc((nitems ? nitems : 1) * sizeof *m->strs);
		for (size_t i = 0; i < nitems; i++) {
			const struct pj *it = &items[i];
			if (it->type != PJ_STR) {
				if (k == MK_AB_IC)
					return cfail(c, "Inside anything-but/equals-ignore-case list, "
					             "number|start|null|boolean is not supported.");
				if (k == MK_AB_WILD)
					return cfail(c, "wildcard match pattern must be a string");
				return cfail(c, "prefix/suffix match pattern must be a string");
			}
			if ((k == MK_AB_PREFIX || k == MK_AB_SUFFIX) && it->len == 0)
				return cfail(c, "Null prefix/suffix not allowed");
			if (k == MK_AB_IC) {
				m->strs[m->nstrs++] = strv_fold(it->str, it->len);
			} else if (k == MK_AB_WILD) {
				struct strv g;
				if (glob_compile(c, it->str, it->len, 1, 0, &g) < 0) return -1;
				m->strs[m->nstrs++] = g;
			} else {
				m->strs[m->nstrs++] = strv_dup(it->str, it->len);
			}
		}
	}
	if (v->type == PJ_OBJ ? v->n > 1 : expr->n > 1)
		return cfail(c, "Too many elements in numeric expression");
	if (v->type == PJ_OBJ && expr->n > 1)
		return cfail(c, "Too many elements in numeric expression");
	return 0;
}

/* {"prefix": {"equals-ignore-case": "x"}} and the suffix form. */
static int affix_ic(struct cc *c, struct vlist *vl, const struct pj *expr, int suffix)
{
	const struct pj *v = &expr->items[0];
	const char *Name = suffix ? "Suffix" : "Prefix";
	if (v->n == 0) return cfail(c, "%s expression name not found", Name);
	if (!streq(v->keys[0], v->keylens[0], "equals-ignore-case"))
		return cfail(c, "Unsupported %s pattern: %s", suffix ? "suffix" : "prefix", v->keys[0]);
	const struct pj *x = &v->items[0];
	if (x->type != PJ_STR) return cfail(c, "equals-ignore-case match pattern must be a string");
	if (v->n > 1 || expr->n > 1) return cfail(c, "Only one key allowed in match expression");
	struct matcher *m = vl_add(vl, suffix ? MK_SUFFIX_IC : MK_PREFIX_IC);
	m->str = strv_fold(x->str, x->len);
	return 0;
}

static int match_expr(struct cc *c, struct vlist *vl, const struct pj *e)
{
	if (e->n == 0) return cfail(c, "Match expression name not found");
	const char *name = e->keys[0];
	size_t nl = e->keylens[0];
	const struct pj *v = &e->items[0];
	int one = e->n == 1;
	struct matcher *m;

	if (streq(name, nl, "exactly")) {
		if (v->type != PJ_STR) return cfail(c, "exact match pattern must be a string");
		if (!one) return cfail(c, "Only one key allowed in match expression");
		m = vl_add(vl, MK_EXACT_STR);
		m->str = strv_dup(v->str, v->len);
		return 0;
	}
	if (streq(name, nl, "prefix") || streq(name, nl, "suffix")) {
		int suffix = name[0] == 's';
		if (v->type == PJ_OBJ) return affix_ic(c, vl, e, suffix);
		if (v->type != PJ_STR)
			return cfail(c, "%s match pattern must be a string", suffix ? "suffix" : "prefix");
		if (!one) return cfail(c, "Only one key allowed in match expression");
		m = vl_add(vl, suffix ? MK_SUFFIX : MK_PREFIX);
		m->str = strv_dup(v->str, v->len);
		return 0;
	}
	if (streq(name, nl, "numeric")) {
		if (v->type != PJ_ARR) return cfail(c, "Value of numeric must be an array.");
		m = vl_add(vl, MK_NUMERIC);
		if (numeric_expr(c, m, v) < 0) return -1;
		if (!one) return cfail(c, "Too many elements in numeric expression");
		return 0;
	}
	if (streq(name, nl, "anything-but"))
		return anything_but(c, vl, e);
	if (streq(name, nl, "exists")) {
		if (v->type != PJ_TRUE && v->type != PJ_FALSE)
			return cfail(c, "exists match pattern must be either true or false.");
		if (!one) return cfail(c, "Only one key allowed in match expression");
		if (v->type == PJ_TRUE) vl_add(vl, MK_EXISTS);
		else vl->absent = 1;
		return 0;
	}
	if (streq(name, nl, "cidr")) {
		char msg[160];
		if (v->type != PJ_STR) return cfail(c, "prefix match pattern must be a string");
		m = vl_add(vl, MK_CIDR);
		m->iplen = pat_parse_cidr(v->str, v->len, m->ip_lo, m->ip_hi, msg, sizeof msg);
		if (m->iplen < 0) return cfail(c, "%s", msg);
		if (!one) return cfail(c, "Only one key allowed in match expression");
		return 0;
	}
	if (streq(name, nl, "equals-ignore-case")) {
		if (v->type != PJ_STR) return cfail(c, "equals-ignore-case match pattern must be a string");
		if (!one) return cfail(c, "Only one key allowed in match expression");
		m = vl_add(vl, MK_EQ_IC);
		m->str = strv_fold(v->str, v->len);
		return 0;
	}
	if (streq(name, nl, "wildcard")) {
		if (v->type != PJ_STR) return cfail(c, "wildcard match pattern must be a string");
		m = vl_add(vl, MK_WILD);
		if (glob_compile(c, v->str, v->len, 1, 1, &m->str) < 0) return -1;
		if (!one) return cfail(c, "Only one key allowed in match expression");
		return 0;
	}
	if (!c->o->aws && streq(name, nl, "shellstyle")) {
		if (v->type != PJ_STR) return cfail(c, "shellstyle match pattern must be a string");
		m = vl_add(vl, MK_SHELL);
		if (glob_compile(c, v->str, v->len, 0, 0, &m->str) < 0) return -1;
		if (!one) return cfail(c, "Only one key allowed in match expression");
		return 0;
	}
	if (!c->o->aws && streq(name, nl, "regexp")) {
		char msg[200];
		struct buf re = BUF_INIT;
		if (v->type != PJ_STR) return cfail(c, "regexp match pattern must be a string");
		m = vl_add(vl, MK_REGEXP);
		if (pat_iregexp_to_pcre(v->str, v->len, &re, msg, sizeof msg) < 0) {
			buf_free(&re);
			return cfail(c, "%s", msg);
		}
		int ec;
		PCRE2_SIZE eo;
		m->re = pcre2_compile((PCRE2_SPTR)buf_str(&re), re.len,
		                      PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED |
		                      PCRE2_NO_AUTO_CAPTURE | PCRE2_DOLLAR_ENDONLY,
		                      &ec, &eo, NULL);
		buf_free(&re);
		if (!m->re) {
			PCRE2_UCHAR pm[120];
			pcre2_get_error_message(ec, pm, sizeof pm);
			return cfail(c, "regexp: %s", (char *)pm);
		}
		pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE);
		if (!one) return cfail(c, "Only one key allowed in match expression");
		return 0;
	}
	return cfail(c, "Unrecognized match type %s", name);
}

static void bsub_put(struct bsub *b, const char *path, size_t len, struct vlist *vl)
{
	for (int i = 0; i < b->n; i++)
		if (b->f[i].len == len && memcmp(b->f[i].path, path, len) == 0) {
			b->f[i].vl = vl;  /* the last one wins */
			return;
		}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4;
		b->f = xrealloc(b->f, (size_t)b->cap * sizeof *b->f);
	}
	b->f[b->n].path = xstrndup(path, len);
	b->f[b->n].len = len;
	b->f[b->n].vl = vl;
	b->n++;
}

static void bsubs_push(struct bsubs *l, struct bsub b)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
	}
	l->v[l->n++] = b;
}

static struct bsub bsub_copy(const struct bsub *b)
{
	struct bsub r = { NULL, 0, 0 };
	for (int i = 0; i < b->n; i++) bsub_put(&r, b->f[i].path, b->f[i].len, b->f[i].vl);
	return r;
}

static void bsub_free(struct bsub *b)
{
	for (int i = 0; i < b->n; i++) free(b->f[i].path);
	free(b->f);
	b->f = NULL;
	b->n = b->cap = 0;
}

static void bsubs_clear(struct bsubs *l)
{
	for (int i = 0; i < l->n; i++) bsub_free(&l->v[i]);
	l->n = 0;
}

static int write_rules(struct cc *c, struct bsubs *subs, const struct pj *arr)
{
	struct vlist *vl = xcalloc(1, sizeof *vl);
	VEC_PUSH(c->vls, vl);
	for (size_t i = 0; i < arr->n; i++) {
		const struct pj *it = &arr->items[i];
		struct matcher *m;
		unsigned char ip[16];
		int iplen;
		switch (it->type) {
		case PJ_OBJ:
			if (match_expr(c, vl, it) < 0) return -1;
			break;
		case PJ_STR:
			iplen = pat_parse_ip(it->str, it->len, ip);
			if (iplen > 0) {
				m = vl_add(vl, MK_IP);
				m->iplen = iplen;
				memcpy(m->ip_lo, ip, (size_t)iplen);
			} else {
				m = vl_add(vl, MK_EXACT_STR);
				m->str = strv_dup(it->str, it->len);
			}
			break;
		case PJ_NUM:
			m = vl_add(vl, MK_EXACT_NUM);
			m->num = num_of(it->raw, it->rawlen);
			break;
		case PJ_TRUE: vl_add(vl, MK_TRUE); break;
		case PJ_FALSE: vl_add(vl, MK_FALSE); break;
		case PJ_NULL: vl_add(vl, MK_NULL); break;
		default:
			return cfail(c, "Match value must be String, number, true, false, or null");
		}
	}
	if (arr->n == 0) return cfail(c, "Empty arrays are not allowed");
	if (subs->n == 0) {
		struct bsub b = { NULL, 0, 0 };
		bsubs_push(subs, b);
	}
	for (int i = 0; i < subs->n; i++) bsub_put(&subs->v[i], c->path.s, c->path.len, vl);
	return 0;
}

static int is_reserved(const char *k, size_t n)
{
	static const char *const words[] = {
		"exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
		"wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
		"not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
		"date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
	};
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (streq(k, n, words[i])) return 1;
	return 0;
}

static int compile_object(struct cc *c, struct bsubs *subs, const struct pj *obj, int in_or);

static int compile_or(struct cc *c, struct bsubs *subs, const struct pj *arr)
{
	struct bsubs current = { NULL, 0, 0 };
	int rc = 0;
	for (int i = 0; i < subs->n; i++) bsubs_push(&current, bsub_copy(&subs->v[i]));
	bsubs_clear(subs);
	if (arr->type != PJ_ARR) {
		rc = cfail(c, "It must be an Array followed with $or.");
		goto out;
	}
	for (size_t i = 0; i < arr->n; i++) {
		const struct pj *it = &arr->items[i];
		if (it->type != PJ_OBJ) {
			rc = cfail(c, "Only JSON object is allowed in array of $or relationship.");
			goto out;
		}
		struct bsubs nr = { NULL, 0, 0 };
		for (int j = 0; j < current.n; j++) bsubs_push(&nr, bsub_copy(&current.v[j]));
		if (nr.n == 0) {
			struct bsub b = { NULL, 0, 0 };
			bsubs_push(&nr, b);
		}
		rc = compile_object(c, &nr, it, 1);
		for (int j = 0; j < nr.n; j++) bsubs_push(subs, nr.v[j]);
		free(nr.v);
		if (rc < 0) goto out;
	}
	if (arr->n < 2)
		rc = cfail(c, "There must have at least 2 Objects in $or relationship.");
out:
	bsubs_clear(&current);
	free(current.v);
	return rc;
}

static int compile_object(struct cc *c, struct bsubs *subs, const struct pj *obj, int in_or)
{
	for (size_t i = 0; i < obj->n; i++) {
		const char *k = obj->keys[i];
		size_t kl = obj->keylens[i];
		const struct pj *v = &obj->items[i];
		if (streq(k, kl, "$or")) {
			if (compile_or(c, subs, v) < 0) return -1;
			continue;
		}
		if (in_or && is_reserved(k, kl))
			return cfail(c, "%s is Ruler reserved fieldName which cannot be used inside $or.", k);
		size_t mark = c->path.len;
		if (mark) buf_addc(&c->path, '.');
		buf_add(&c->path, k, kl);
		int rc = 0;
		if (v->type == PJ_OBJ) rc = compile_object(c, subs, v, in_or);
		else if (v->type == PJ_ARR) rc = write_rules(c, subs, v);
		else rc = cfail(c, "\"%s\" must be an object or an array", k);
		c->path.len = mark;
		if (c->path.s) c->path.s[mark] = 0;
		if (rc < 0) return -1;
	}
	if (obj->n == 0) return cfail(c, "Empty objects are not allowed");
	return 0;
}

/* Characters, as AWS counts a pattern's length: UTF-8 code points. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80) k++;
	return k;
}

/* Compile PAT into subs; on success the vlists in c->vls are referenced by
 * subs. */
static int compile(struct cc *c, const char *pat, size_t len, struct bsubs *subs,
                   struct pj_doc **docp)
{
	size_t maxlen = c->o->max_len ? c->o->max_len : PATTERN_MAX_LEN_DEFAULT;
	size_t chars = utf8_chars(pat, len);
	if (chars > maxlen)
		return cfail(c, "Event pattern is %zu characters long; the limit is %zu", chars, maxlen);
	char msg[160];
	struct pj_doc *d = pj_parse(pat, len, msg, sizeof msg);
	if (!d) return cfail(c, "Invalid JSON: %s", msg);
	*docp = d;
	const struct pj *root = pj_root(d);
	if (root->type != PJ_OBJ) return cfail(c, "Filter is not an object");
	return compile_object(c, subs, root, 0);
}

static void cc_init(struct cc *c, const struct pattern_opts *o, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->o = o;
	c->err = err;
	c->errlen = errlen;
	if (errlen) err[0] = 0;
}

static void cc_done(struct cc *c, struct bsubs *subs, int free_vls)
{
	bsubs_clear(subs);
	free(subs->v);
	if (free_vls)
		for (int i = 0; i < c->vls.n; i++) vlist_free(c->vls.v[i]);
	free(c->vls.v);
	buf_free(&c->path);
}

int pattern_check(const char *pat, size_t len, const struct pattern_opts *opts,
                  char *err, size_t errlen)
{
	struct pattern_opts def = { 0, 0 };
	struct cc c;
	struct bsubs subs = { NULL, 0, 0 };
	struct pj_doc *d = NULL;
	cc_init(&c, opts ? opts : &def, err, errlen);
	int rc = compile(&c, pat, len, &subs, &d);
	cc_done(&c, &subs, 1);
	pj_free(d);
	return rc < 0 ? -1 : 0;
}

/* ---- the set ------------------------------------------------------------- */

struct pattern_set *pattern_set_new(const struct pattern_opts *opts)
{
	struct pattern_set *s = xcalloc(1, sizeof *s);
	if (opts) s->opts = *opts;
	trie_new(s);
	s->md = pcre2_match_data_create(1, NULL);
	return s;
}

void pattern_set_free(struct pattern_set *s)
{
	if (!s) return;
	for (int i = 0; i < s->vlists.n; i++) vlist_free(s->vlists.v[i]);
	free(s->vlists.v);
	free(s->conds.v);
	free(s->slots.v);
	free(s->subs.v);
	for (int i = 0; i < s->fields.n; i++) {
		free(s->fields.v[i].path);
		free(s->fields.v[i].slow);
		free(s->fields.v[i].nums);
		for (int k = 0; k < BT_N; k++) bt_free(s->fields.v[i].bt[k]);
	}
	free(s->fields.v);
	for (int i = 0; i < s->nodes.n; i++) {
		free(s->nodes.v[i].lab);
		free(s->nodes.v[i].kid);
	}
	free(s->nodes.v);
	free(s->always.v);
	for (size_t i = 0; i < s->htcap; i++) {
		free(s->ht[i].key);
		free(s->ht[i].conds);
	}
	free(s->ht);
	pcre2_match_data_free(s->md);
	free(s->slot_ep); free(s->field_ep); free(s->rule_ep);
	free(s->slot_head); free(s->field_head);
	free(s->leaves.v); free(s->trails.v); free(s->tstack.v); free(s->hits.v);
	free(s->cands.v); free(s->matched.v);
	buf_free(&s->strbuf);
	buf_free(&s->tmp);
	free(s);
}

int pattern_set_count(const struct pattern_set *s)
{
	return s->nrules;
}

/* The hash key of a hashed condition in k (room for 24 bytes, or a new
 * allocation in *heap for strings); returns its length, 0 for the kinds
 * that are run one by one. */
static size_t cond_key(const struct matcher *m, char *k, char **heap)
{
	*heap = NULL;
	switch (m->kind) {
	case MK_EXACT_STR:
	case MK_EQ_IC:
		*heap = xmalloc(m->str.len + 1);
		(*heap)[0] = m->kind == MK_EXACT_STR ? 's' : 'i';
		memcpy(*heap + 1, m->str.s, m->str.len);
		return m->str.len + 1;
	case MK_EXACT_NUM:
		return num_key(k, m->num);
	case MK_TRUE: case MK_FALSE: case MK_NULL:
		k[0] = m->kind == MK_TRUE ? 't' : m->kind == MK_FALSE ? 'f' : 'z';
		return 1;
	case MK_IP:
		k[0] = 'p';
		memcpy(k + 1, m->ip_lo, (size_t)m->iplen);
		return 1 + (size_t)m->iplen;
	default:
		return 0;
	}
}

/*
 * What it costs to make a slot its sub-rule's anchor, the one slot whose
 * conditions are indexed: every event value the anchor accepts makes the
 * sub-rule a candidate whose other slots are then checked one by one. An
 * exact value costs the number of slots already indexed under the same
 * value (so 10,000 rules that all say "source": ["aws.ec2"] anchor on
 * their other field); conditions that accept most values cost the most.
 */
static long slot_cost(const struct pattern_set *s, const struct slot *sl)
{
	long cost = 0;
	const struct field *f = &s->fields.v[sl->field];
	for (int i = 0; i < sl->nconds; i++) {
		const struct matcher *m = s->conds.v[sl->first_cond + i].m;
		char k[24], *heap;
		size_t kl = cond_key(m, k, &heap);
		if (kl) {
			const struct hent *e = ht_find(s, sl->field, heap ? heap : k, kl);
			cost += 1 + (e ? e->n : 0);
			free(heap);
			continue;
		}
		switch (m->kind) {
		case MK_EXISTS: case MK_AB_STR: case MK_AB_NUM: case MK_AB_IC:
		case MK_AB_PREFIX: case MK_AB_SUFFIX: case MK_AB_WILD:
			cost += 100000;
			break;
		case MK_NUMERIC:
			cost += 10000 + f->nslow;
			break;
		default:
			cost += 100 + f->nslow;
		}
	}
	return cost;
}

static void index_cond(struct pattern_set *s, int ci)
{
	struct cond *cd = &s->conds.v[ci];
	struct matcher *m = cd->m;
	int f = s->slots.v[cd->slot].field;
	struct field *fl = &s->fields.v[f];
	char k[24];
	size_t kl;
	switch (m->kind) {
	case MK_EXACT_STR:
	case MK_EQ_IC: {
		size_t n = m->str.len + 1;
		char *key = xmalloc(n);
		key[0] = m->kind == MK_EXACT_STR ? 's' : 'i';
		memcpy(key + 1, m->str.s, m->str.len);
		ht_add(s, f, key, n, ci);
		free(key);
		if (m->kind == MK_EXACT_STR) fl->has_str = 1;
		else fl->has_ic = 1;
		return;
	}
	case MK_EXACT_NUM: {
		kl = num_key(k, m->num);
		ht_add(s, f, k, kl, ci);
		fl->has_num = 1;
		double d = m->num == 0 ? 0 : m->num;
		int at = 0;
		while (at < fl->nnums && fl->nums[at] < d) at++;
		if (at < fl->nnums && fl->nums[at] == d) return;
		fl->nums = xrealloc(fl->nums, (size_t)(fl->nnums + 1) * sizeof *fl->nums);
		memmove(fl->nums + at + 1, fl->nums + at, (size_t)(fl->nnums - at) * sizeof *fl->nums);
		fl->nums[at] = d;
		fl->nnums++;
		return;
	}
	case MK_TRUE: case MK_FALSE: case MK_NULL:
		k[0] = m->kind == MK_TRUE ? 't' : m->kind == MK_FALSE ? 'f' : 'z';
		ht_add(s, f, k, 1, ci);
		fl->has_lit = 1;
		return;
	case MK_IP:
		k[0] = 'p';
		memcpy(k + 1, m->ip_lo, (size_t)m->iplen);
		ht_add(s, f, k, 1 + (size_t)m->iplen, ci);
		fl->has_ip = 1;
		return;
	case MK_WILD: case MK_SHELL: {
		/* the literal bytes before the first wildcard, else those after
		 * the last one (markers after 0xff bytes end both) */
		size_t pre = 0, suf = 0;
		while (pre < m->str.len && (unsigned char)m->str.s[pre] != 0xff) pre++;
		while (suf < m->str.len) {
			unsigned char c = (unsigned char)m->str.s[m->str.len - 1 - suf];
			if (c == 0xff || c <= 1) break;
			suf++;
		}
		if (pre == m->str.len) suf = 0;   /* no wildcard at all: the prefix is all of it */
		if (pre > 0 || suf > 0) {
			int which = pre > 0 ? BT_WILD_PRE : BT_WILD_SUF;
			if (!fl->bt[which]) fl->bt[which] = xcalloc(1, sizeof *fl->bt[which]);
			if (pre > 0) bt_add(fl->bt[which], m->str.s, pre, 0, ci);
			else bt_add(fl->bt[which], m->str.s + m->str.len - suf, suf, 1, ci);
			return;
		}
		goto slow;
	}
	case MK_PREFIX: case MK_SUFFIX: case MK_PREFIX_IC: case MK_SUFFIX_IC: {
		int which = m->kind == MK_PREFIX ? BT_PREFIX : m->kind == MK_SUFFIX ? BT_SUFFIX
		          : m->kind == MK_PREFIX_IC ? BT_PREFIX_IC : BT_SUFFIX_IC;
		if (!fl->bt[which]) fl->bt[which] = xcalloc(1, sizeof *fl->bt[which]);
		bt_add(fl->bt[which], m->str.s, m->str.len, which == BT_SUFFIX || which == BT_SUFFIX_IC, ci);
		return;
	}
	default:
	slow:
		if (fl->nslow == fl->capslow) {
			fl->capslow = fl->capslow ? fl->capslow * 2 : 4;
			fl->slow = xrealloc(fl->slow, (size_t)fl->capslow * sizeof *fl->slow);
		}
		fl->slow[fl->nslow++] = ci;
	}
}

static void scratch_fit(struct pattern_set *s)
{
#define FIT(arr, cnt, have, T) do { \
	if ((size_t)(cnt) > (have)) { \
		size_t nc = (size_t)(cnt) * 2; \
		arr = xrealloc(arr, nc * sizeof(T)); \
		memset(arr + (have), 0, (nc - (have)) * sizeof(T)); \
	} \
} while (0)
	size_t ns = s->scratch_slots, nf = s->scratch_fields, nr = s->scratch_rules;
	FIT(s->slot_ep, s->slots.n, ns, uint32_t);
	FIT(s->slot_head, s->slots.n, ns, int);
	if ((size_t)s->slots.n > ns) s->scratch_slots = (size_t)s->slots.n * 2;
	FIT(s->field_ep, s->fields.n, nf, uint32_t);
	FIT(s->field_head, s->fields.n, nf, int);
	if ((size_t)s->fields.n > nf) s->scratch_fields = (size_t)s->fields.n * 2;
	FIT(s->rule_ep, s->nrules, nr, uint32_t);
	if ((size_t)s->nrules > nr) s->scratch_rules = (size_t)s->nrules * 2;
#undef FIT
}

int pattern_set_add(struct pattern_set *s, const char *pat, size_t len,
                    char *err, size_t errlen)
{
	struct cc c;
	struct bsubs subs = { NULL, 0, 0 };
	struct pj_doc *d = NULL;
	cc_init(&c, &s->opts, err, errlen);
	if (compile(&c, pat, len, &subs, &d) < 0) {
		cc_done(&c, &subs, 1);
		pj_free(d);
		return -1;
	}
	pj_free(d);
	int rule = s->nrules++;
	for (int i = 0; i < c.vls.n; i++) VEC_PUSH(s->vlists, c.vls.v[i]);
	for (int i = 0; i < subs.n; i++) {
		struct bsub *b = &subs.v[i];
		struct sub sb = { rule, s->slots.n, b->n, 0, -1 };
		int si = s->subs.n;
		for (int j = 0; j < b->n; j++) {
			struct vlist *vl = b->f[j].vl;
			struct slot sl;
			sl.sub = si;
			sl.field = field_intern(s, b->f[j].path, b->f[j].len);
			sl.absent = vl->absent;
			sl.required = !vl->absent;
			sl.first_cond = s->conds.n;
			sl.nconds = vl->n;
			sb.nrequired += sl.required;
			VEC_PUSH(s->slots, sl);
			for (int k = 0; k < vl->n; k++) {
				struct cond cd = { s->slots.n - 1, &vl->m[k] };
				VEC_PUSH(s->conds, cd);
			}
		}
		long best = -1;
		for (int j = 0; j < sb.nslots; j++) {
			const struct slot *sl = &s->slots.v[sb.first_slot + j];
			if (!sl->required) continue;
			long cost = slot_cost(s, sl);
			if (best < 0 || cost < best) {
				best = cost;
				sb.anchor = sb.first_slot + j;
			}
		}
		if (sb.anchor >= 0) {
			const struct slot *sl = &s->slots.v[sb.anchor];
			for (int k = 0; k < sl->nconds; k++) index_cond(s, sl->first_cond + k);
		}
		VEC_PUSH(s->subs, sb);
		if (sb.nrequired == 0) VEC_PUSH(s->always, si);
	}
	cc_done(&c, &subs, 0);
	scratch_fit(s);
	return rule;
}

/* ---- the scanner --------------------------------------------------------- */

/* Bytes that end the fast part of a string: the quote, the backslash and
 * control characters. */
static const unsigned char str_stop[256] = {
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};

struct scan {
	const char *p, *end;
	struct pattern_set *s;   /* NULL: validate only */
	int aid;
	int bad;
};

static inline void sc_ws(struct scan *sc)
{
	while (sc->p < sc->end) {
		unsigned char c = (unsigned char)*sc->p;
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
		sc->p++;
	}
}

static inline int sc_fail(struct scan *sc)
{
	sc->bad = 1;
	return -1;
}

/* A string at sc->p (the opening quote); sets [*b, *e) to its raw content
 * and *esc when it holds escapes. */
static inline int sc_string(struct scan *sc, const char **b, const char **e, int *esc)
{
	const char *p = sc->p + 1, *end = sc->end;
	*esc = 0;
	*b = p;
	for (;;) {
		while (end - p >= 8) {
			if (str_stop[(unsigned char)p[0]] | str_stop[(unsigned char)p[1]] |
			    str_stop[(unsigned char)p[2]] | str_stop[(unsigned char)p[3]] |
			    str_stop[(unsigned char)p[4]] | str_stop[(unsigned char)p[5]] |
			    str_stop[(unsigned char)p[6]] | str_stop[(unsigned char)p[7]])
				break;
			p += 8;
		}
		while (p < end && !str_stop[(unsigned char)*p]) p++;
		if (p >= end) { sc->p = p; return sc_fail(sc); }
		if (*p == '"') break;
		if (*p != '\\') { sc->p = p; return sc_fail(sc); }
		*esc = 1;
		if (p + 1 >= end) { sc->p = p; return sc_fail(sc); }
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			break;
		case 'u':
			if (end - p < 6) { sc->p = p; return sc_fail(sc); }
			for (int i = 2; i < 6; i++) {
				unsigned char h = (unsigned char)p[i];
				if (!((h >= '0' && h <= '9') || ((h | 0x20) >= 'a' && (h | 0x20) <= 'f'))) {
					sc->p = p;
					return sc_fail(sc);
				}
			}
			p += 6;
			break;
		default:
			sc->p = p;
			return sc_fail(sc);
		}
	}
	*e = p;
	sc->p = p + 1;
	return 0;
}

static inline int sc_number(struct scan *sc)
{
	const char *p = sc->p, *e = sc->end;
	if (*p == '-') p++;
	if (p >= e) goto bad;
	if (*p == '0') p++;
	else if (*p >= '1' && *p <= '9') { p++; while (p < e && (unsigned)(*p - '0') < 10) p++; }
	else goto bad;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || (unsigned)(*p - '0') >= 10) goto bad;
		while (p < e && (unsigned)(*p - '0') < 10) p++;
	}
	if (p < e && (*p | 0x20) == 'e') {
		p++;
		if (p < e && (*p == '+' || *p == '-')) p++;
		if (p >= e || (unsigned)(*p - '0') >= 10) goto bad;
		while (p < e && (unsigned)(*p - '0') < 10) p++;
	}
	sc->p = p;
	return 0;
bad:
	sc->p = p;
	return sc_fail(sc);
}

static const unsigned char ws_tab[256] = { [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1 };

/* The end of a string's raw content starting at p (after the opening
 * quote): the closing quote, or NULL when the string is not valid, with
 * *bad at the byte that makes it so. */
static inline __attribute__((always_inline)) const char *str_end(const char *p, const char *end,
                                                                 const char **bad)
{
	for (;;) {
#ifdef __SSE2__
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
			__m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
			__m128i c = _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8((char)0xe0)),
			                           _mm_setzero_si128());
			unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
			if (mask) {
				p += __builtin_ctz(mask);
				goto found;
			}
			p += 16;
		}
#endif
		while (p < end && !str_stop[(unsigned char)*p]) p++;
		if (p >= end) { *bad = p; return NULL; }
#ifdef __SSE2__
	found:
#endif
		if (*p == '"') return p;
		if (*p != '\\') { *bad = p; return NULL; }
		if (end - p < 2) { *bad = p; return NULL; }
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			break;
		case 'u':
			if (end - p < 6) { *bad = p; return NULL; }
			for (int i = 2; i < 6; i++) {
				unsigned char h = (unsigned char)p[i];
				if (!((h >= '0' && h <= '9') || ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')))
					{ *bad = p; return NULL; }
			}
			p += 6;
			break;
		default:
			{ *bad = p; return NULL; }
		}
	}
}

/* Skip a run of digits, eight at a time where the text allows: a byte is
 * flagged when it is below '0' (the subtraction wraps), above '9' (the
 * addition reaches 0x80) or not ASCII; the lowest flagged byte ends the
 * run (bytes below it are digits, which neither borrow nor carry). */
static inline const char *skip_digits(const char *p, const char *e)
{
	while (e - p >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		uint64_t m = ((v - 0x3030303030303030ull) | (v + 0x4646464646464646ull) | v) &
		             0x8080808080808080ull;
		if (m) return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
	while (p < e && (unsigned)(*p - '0') < 10) p++;
	return p;
}

static inline const char *num_end(const char *p, const char *e)
{
	if (*p == '-') p++;
	if (p >= e) return NULL;
	if (*p == '0') p++;
	else if (*p >= '1' && *p <= '9') p = skip_digits(p + 1, e);
	else return NULL;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || (unsigned)(*p - '0') >= 10) return NULL;
		p = skip_digits(p + 1, e);
	}
	if (p < e && (*p | 0x20) == 'e') {
		p++;
		if (p < e && (*p == '+' || *p == '-')) p++;
		if (p >= e || (unsigned)(*p - '0') >= 10) return NULL;
		while (p < e && (unsigned)(*p - '0') < 10) p++;
	}
	return p;
}

/*
 * Validate one value that no rule looks into, without recursion: a loop
 * over the bytes with a stack of the open containers. Returns the end of
 * the value, or NULL with *errp at the first byte that is not JSON. DEPTH
 * is the nesting already open around the value.
 */
static const char *skip_value(const char *p, const char *end, int depth, const char **errp)
{
	unsigned char stack[SCAN_MAX_DEPTH];
	int sp = 0;
	const char *q;
value:
	while (p < end && ws_tab[(unsigned char)*p]) p++;
	if (p >= end) goto bad;
	switch (*p) {
	case '{':
		if (depth + sp >= SCAN_MAX_DEPTH) goto bad;
		stack[sp++] = '}';
		p++;
		while (p < end && ws_tab[(unsigned char)*p]) p++;
		if (p < end && *p == '}') { p++; sp--; goto after; }
		goto key;
	case '[':
		if (depth + sp >= SCAN_MAX_DEPTH) goto bad;
		stack[sp++] = ']';
		p++;
		while (p < end && ws_tab[(unsigned char)*p]) p++;
		if (p < end && *p == ']') { p++; sp--; goto after; }
		goto value;
	case '"':
		q = str_end(p + 1, end, &p);
		if (!q) goto bad;
		p = q + 1;
		goto after;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4)) goto bad;
		p += 4;
		goto after;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5)) goto bad;
		p += 5;
		goto after;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4)) goto bad;
		p += 4;
		goto after;
	default:
		q = num_end(p, end);
		if (!q) goto bad;
		p = q;
		goto after;
	}
key:
	while (p < end && ws_tab[(unsigned char)*p]) p++;
	if (p >= end || *p != '"') goto bad;
	q = str_end(p + 1, end, &p);
	if (!q) goto bad;
	p = q + 1;
	while (p < end && ws_tab[(unsigned char)*p]) p++;
	if (p >= end || *p != ':') goto bad;
	p++;
	goto value;
after:
	if (sp == 0) return p;
	while (p < end && ws_tab[(unsigned char)*p]) p++;
	if (p >= end) goto bad;
	if (*p == ',') {
		p++;
		if (stack[sp - 1] == '}') goto key;
		goto value;
	}
	if (*p == (char)stack[sp - 1]) {
		p++;
		sp--;
		goto after;
	}
bad:
	*errp = p;
	return NULL;
}

/* Decode a JSON string's raw content (escapes known valid) onto out. */
static void decode_into(struct buf *out, const char *b, const char *e)
{
	buf_grow(out, (size_t)(e - b) + 4);
	while (b < e) {
		if (*b != '\\') { buf_addc(out, *b++); continue; }
		char c = b[1];
		b += 2;
		switch (c) {
		case 'b': buf_addc(out, '\b'); break;
		case 'f': buf_addc(out, '\f'); break;
		case 'n': buf_addc(out, '\n'); break;
		case 'r': buf_addc(out, '\r'); break;
		case 't': buf_addc(out, '\t'); break;
		case 'u': {
			unsigned cp = (unsigned)strtoul((char[]){ b[0], b[1], b[2], b[3], 0 }, NULL, 16);
			b += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && e - b >= 6 && b[0] == '\\' && b[1] == 'u') {
				unsigned lo = (unsigned)strtoul((char[]){ b[2], b[3], b[4], b[5], 0 }, NULL, 16);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					b += 6;
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			char o[4];
			size_t k;
			if (cp < 0x80) { o[0] = (char)cp; k = 1; }
			else if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); k = 2; }
			else if (cp < 0x10000) {
				o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				o[2] = (char)(0x80 | (cp & 0x3f)); k = 3;
			} else {
				o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f)); k = 4;
			}
			buf_add(out, o, k);
			break;
		}
		default: buf_addc(out, c);
		}
	}
}

static void add_leaf(struct scan *sc, int node, enum ltype t, const char *b, size_t n, int esc)
{
	struct pattern_set *s = sc->s;
	struct leaf lf;
	lf.field = s->nodes.v[node].field;
	lf.type = t;
	lf.s = b;
	lf.len = n;
	lf.dec = -1;
	if (esc) {
		lf.dec = (long)s->strbuf.len;
		decode_into(&s->strbuf, b, b + n);
		lf.len = s->strbuf.len - (size_t)lf.dec;
	}
	lf.trail = s->trails.n;
	lf.ntrail = s->tstack.n / 2;
	for (int i = 0; i < s->tstack.n; i++) VEC_PUSH(s->trails, s->tstack.v[i]);
	lf.next = -1;
	lf.numstate = 0;
	lf.num = 0;
	VEC_PUSH(s->leaves, lf);
}

/*
 * One value at sc->p. NODE is the trie node of the value's path when some
 * rule names a path through here, else -1 (then the value is only
 * validated). TOP marks the event object itself, whose keys start paths.
 */
static int sc_value(struct scan *sc, int node, int depth, int top)
{
	if (node < 0) {
		const char *err = NULL;
		const char *q = skip_value(sc->p, sc->end, depth, &err);
		if (!q) {
			sc->p = err;
			return sc_fail(sc);
		}
		sc->p = q;
		return 0;
	}
	sc_ws(sc);
	if (sc->p >= sc->end) return sc_fail(sc);
	const char *b, *e;
	int esc;
	switch (*sc->p) {
	case '{': {
		if (depth >= SCAN_MAX_DEPTH) return sc_fail(sc);
		sc->p++;
		sc_ws(sc);
		if (sc->p < sc->end && *sc->p == '}') { sc->p++; return 0; }
		int base = -1;
		if (node >= 0) base = top ? node : trie_child(sc->s, node, '.');
		for (;;) {
			sc_ws(sc);
			if (sc->p >= sc->end || *sc->p != '"') return sc_fail(sc);
			if (sc_string(sc, &b, &e, &esc) < 0) return -1;
			int child = -1;
			if (base >= 0) {
				const char *kb = b, *ke = e;
				if (esc) {
					buf_reset(&sc->s->tmp);
					decode_into(&sc->s->tmp, b, e);
					kb = sc->s->tmp.s;
					ke = kb + sc->s->tmp.len;
				}
				child = base;
				for (const char *q = kb; q < ke && child >= 0; q++)
					child = trie_child(sc->s, child, (unsigned char)*q);
			}
			sc_ws(sc);
			if (sc->p >= sc->end || *sc->p != ':') return sc_fail(sc);
			sc->p++;
			if (sc_value(sc, child, depth + 1, 0) < 0) return -1;
			sc_ws(sc);
			if (sc->p < sc->end && *sc->p == ',') { sc->p++; continue; }
			if (sc->p < sc->end && *sc->p == '}') { sc->p++; return 0; }
			return sc_fail(sc);
		}
	}
	case '[': {
		if (depth >= SCAN_MAX_DEPTH) return sc_fail(sc);
		sc->p++;
		sc_ws(sc);
		if (sc->p < sc->end && *sc->p == ']') { sc->p++; return 0; }
		int aid = 0, idx = 0;
		if (node >= 0) {
			aid = ++sc->aid;
			VEC_PUSH(sc->s->tstack, aid);
			VEC_PUSH(sc->s->tstack, 0);
		}
		for (;;) {
			if (node >= 0) sc->s->tstack.v[sc->s->tstack.n - 1] = idx++;
			if (sc_value(sc, node, depth + 1, 0) < 0) return -1;
			sc_ws(sc);
			if (sc->p < sc->end && *sc->p == ',') { sc->p++; continue; }
			if (sc->p < sc->end && *sc->p == ']') { sc->p++; break; }
			return sc_fail(sc);
		}
		if (node >= 0) sc->s->tstack.n -= 2;
		return 0;
	}
	case '"':
		if (sc_string(sc, &b, &e, &esc) < 0) return -1;
		if (node >= 0 && sc->s->nodes.v[node].field >= 0)
			add_leaf(sc, node, LT_STR, b, (size_t)(e - b), esc);
		return 0;
	case 't': case 'f': case 'n': {
		const char *w = *sc->p == 't' ? "true" : *sc->p == 'f' ? "false" : "null";
		size_t wl = strlen(w);
		if ((size_t)(sc->end - sc->p) < wl || memcmp(sc->p, w, wl) != 0) return sc_fail(sc);
		b = sc->p;
		sc->p += wl;
		if (node >= 0 && sc->s->nodes.v[node].field >= 0)
			add_leaf(sc, node, *w == 't' ? LT_TRUE : *w == 'f' ? LT_FALSE : LT_NULL, b, wl, 0);
		return 0;
	}
	default:
		if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) {
			b = sc->p;
			if (sc_number(sc) < 0) return -1;
			if (node >= 0 && sc->s->nodes.v[node].field >= 0)
				add_leaf(sc, node, LT_NUM, b, (size_t)(sc->p - b), 0);
			return 0;
		}
		return sc_fail(sc);
	}
}

int pattern_json_valid(const char *text, size_t len, size_t *off)
{
	struct scan sc = { text, text + len, NULL, 0, 0 };
	int rc = sc_value(&sc, -1, 0, 0);
	if (rc == 0) {
		sc_ws(&sc);
		if (sc.p != sc.end) rc = -1;
	}
	if (rc < 0 && off) *off = (size_t)(sc.p - text);
	return rc < 0 ? -1 : 0;
}

/* ---- matching ------------------------------------------------------------ */

static const char *leaf_str(const struct pattern_set *s, const struct leaf *l)
{
	return l->dec >= 0 ? s->strbuf.s + l->dec : l->s;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * A validated JSON number's value, fast. With at most 19 significant
 * digits kept and a power of ten that is itself exact, the result is within
 * 3e-16 of the true value relative to it; it is exactly the correctly
 * rounded double when the digits fit in 53 bits and one operation suffices
 * (Clinger's fast path), and *exact says so. Other numbers go to strtod.
 */
static double fast_num(const char *s, size_t n, int *exact)
{
	const char *p = s, *e = s + n;
	int neg = 0, nd = 0, exp10 = 0, dropped = 0;
	uint64_t m = 0;
	if (p < e && *p == '-') { neg = 1; p++; }
	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) nd++; }
		else { exp10++; dropped |= *p != '0'; }
	}
	if (p < e && *p == '.')
		for (p++; p < e && *p >= '0' && *p <= '9'; p++) {
			if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) nd++; exp10--; }
			else dropped |= *p != '0';
		}
	if (p < e && (*p == 'e' || *p == 'E')) {
		int eneg = 0, x = 0;
		p++;
		if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
		for (; p < e && *p >= '0' && *p <= '9'; p++) if (x < 100000) x = x * 10 + (*p - '0');
		exp10 += eneg ? -x : x;
	}
	if (m == 0) { *exact = 1; return neg ? -0.0 : 0.0; }
	if (exp10 < -22 || exp10 > 22) { *exact = 1; return num_of(s, n); }
	double d = (double)m;
	d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
	*exact = !dropped && m <= (1ull << 53);
	return neg ? -d : d;
}

/* The leaf's number, close (within 3e-16 relative) or exact. */
static double leaf_num_close(struct leaf *l)
{
	if (!l->numstate) {
		int ex;
		l->num = fast_num(l->s, l->len, &ex);
		l->numstate = ex ? 2 : 1;
	}
	return l->num;
}

static double leaf_num(struct leaf *l)
{
	leaf_num_close(l);
	if (l->numstate != 2) {
		l->num = num_of(l->s, l->len);
		l->numstate = 2;
	}
	return l->num;
}

/* Can a close value decide its comparison with b? Yes unless the two are
 * nearer than the close value's possible error. */
static int far_from(const struct leaf *l, double b)
{
	return l->numstate == 2 || fabs(l->num - b) > (fabs(l->num) + fabs(b)) * 4e-16;
}

static int in_strs(const struct matcher *m, const char *v, size_t n)
{
	for (int i = 0; i < m->nstrs; i++)
		if (m->strs[i].len == n && memcmp(m->strs[i].s, v, n) == 0) return 1;
	return 0;
}

static int cond_matches(struct pattern_set *s, const struct matcher *m, struct leaf *l)
{
	const char *v = NULL;
	size_t n = 0;
	if (l->type == LT_STR) {
		v = leaf_str(s, l);
		n = l->len;
	}
	switch (m->kind) {
	case MK_EXISTS:
		return 1;
	case MK_PREFIX:
		return l->type == LT_STR && n >= m->str.len && memcmp(v, m->str.s, m->str.len) == 0;
	case MK_SUFFIX:
		return l->type == LT_STR && n >= m->str.len &&
		       memcmp(v + n - m->str.len, m->str.s, m->str.len) == 0;
	case MK_PREFIX_IC:
	case MK_SUFFIX_IC: {
		if (l->type != LT_STR || n < m->str.len) return 0;
		const char *part = m->kind == MK_PREFIX_IC ? v : v + n - m->str.len;
		buf_reset(&s->tmp);
		buf_grow(&s->tmp, m->str.len + 1);
		pat_fold(part, m->str.len, s->tmp.s);
		return memcmp(s->tmp.s, m->str.s, m->str.len) == 0;
	}
	case MK_WILD:
	case MK_SHELL:
		return l->type == LT_STR && pat_glob_match(m->str.s, m->str.len, v, n);
	case MK_NUMERIC: {
		if (l->type != LT_NUM) return 0;
		double d = leaf_num_close(l);
		if ((m->has_lo && !far_from(l, m->lo)) || (m->has_hi && !far_from(l, m->hi)))
			d = leaf_num(l);
		if (m->has_lo && (m->lo_open ? !(d > m->lo) : !(d >= m->lo))) return 0;
		if (m->has_hi && (m->hi_open ? !(d < m->hi) : !(d <= m->hi))) return 0;
		return 1;
	}
	case MK_CIDR: {
		unsigned char ip[16];
		if (l->type != LT_STR || pat_parse_ip(v, n, ip) != m->iplen) return 0;
		return memcmp(ip, m->ip_lo, (size_t)m->iplen) >= 0 &&
		       memcmp(ip, m->ip_hi, (size_t)m->iplen) <= 0;
	}
	case MK_AB_STR:
		return !(l->type == LT_STR && in_strs(m, v, n));
	case MK_AB_NUM: {
		if (l->type != LT_NUM) return 1;
		double d = leaf_num_close(l);
		for (int i = 0; i < m->nnums; i++)
			if (far_from(l, m->nums[i]) ? d == m->nums[i] : leaf_num(l) == m->nums[i])
				return 0;
		return 1;
	}
	case MK_AB_IC:
		if (l->type != LT_STR) return 1;
		buf_reset(&s->tmp);
		buf_grow(&s->tmp, n + 1);
		pat_fold(v, n, s->tmp.s);
		return !in_strs(m, s->tmp.s, n);
	case MK_AB_PREFIX:
	case MK_AB_SUFFIX:
		if (l->type != LT_STR) return 1;
		for (int i = 0; i < m->nstrs; i++) {
			const struct strv *a = &m->strs[i];
			if (n >= a->len && memcmp(m->kind == MK_AB_PREFIX ? v : v + n - a->len,
			                          a->s, a->len) == 0)
				return 0;
		}
		return 1;
	case MK_AB_WILD:
		if (l->type != LT_STR) return 1;
		for (int i = 0; i < m->nstrs; i++)
			if (pat_glob_match(m->strs[i].s, m->strs[i].len, v, n)) return 0;
		return 1;
	case MK_REGEXP:
		return l->type == LT_STR &&
		       pcre2_match(m->re, (PCRE2_SPTR)v, n, 0, 0, s->md, NULL) >= 0;
	default:
		return 0;  /* hashed kinds never reach here */
	}
}

static void record_hit(struct pattern_set *s, int ci, int leaf)
{
	int sl = s->conds.v[ci].slot;
	struct hit h = { leaf, -1 };
	if (s->slot_ep[sl] != s->epoch) {
		/* the anchor's first hit: its sub-rule is a candidate */
		s->slot_ep[sl] = s->epoch;
		s->slot_head[sl] = -1;
		VEC_PUSH(s->cands, s->slots.v[sl].sub);
	} else if (s->slot_head[sl] >= 0 && s->hits.v[s->slot_head[sl]].leaf == leaf) {
		return;  /* another condition of the slot, same value */
	}
	h.next = s->slot_head[sl];
	s->slot_head[sl] = s->hits.n;
	VEC_PUSH(s->hits, h);
}

static void hits_from(struct pattern_set *s, const struct hent *e, int leaf)
{
	if (e)
		for (int i = 0; i < e->n; i++) record_hit(s, e->conds[i], leaf);
}

/* Walk a value through a prefix (or suffix) trie, recording every
 * condition met on the way. */
static void bt_walk(struct pattern_set *s, const struct btrie *t, const char *v, size_t n,
                    int reverse, int li, int wild)
{
	int node = 0;
	for (size_t i = 0;; i++) {
		const struct bnode *b = &t->v[node];
		for (int k = 0; k < b->nconds; k++) {
			const struct matcher *m = s->conds.v[b->conds[k]].m;
			if (!wild || pat_glob_match(m->str.s, m->str.len, v, n))
				record_hit(s, b->conds[k], li);
		}
		if (i == n) break;
		node = bt_child(t, node, (unsigned char)(reverse ? v[n - 1 - i] : v[i]));
		if (node < 0) break;
	}
}

static void eval_leaf(struct pattern_set *s, int li)
{
	struct leaf *l = &s->leaves.v[li];
	const struct field *f = &s->fields.v[l->field];
	char k[24];
	switch (l->type) {
	case LT_STR: {
		const char *v = leaf_str(s, l);
		if (f->has_str || f->has_ic) {
			buf_reset(&s->tmp);
			buf_grow(&s->tmp, l->len + 2);
			s->tmp.s[0] = 's';
			memcpy(s->tmp.s + 1, v, l->len);
			if (f->has_str) hits_from(s, ht_find(s, l->field, s->tmp.s, l->len + 1), li);
			if (f->has_ic) {
				s->tmp.s[0] = 'i';
				pat_fold(v, l->len, s->tmp.s + 1);
				hits_from(s, ht_find(s, l->field, s->tmp.s, l->len + 1), li);
			}
		}
		if (f->bt[BT_PREFIX]) bt_walk(s, f->bt[BT_PREFIX], v, l->len, 0, li, 0);
		if (f->bt[BT_SUFFIX]) bt_walk(s, f->bt[BT_SUFFIX], v, l->len, 1, li, 0);
		if (f->bt[BT_WILD_PRE]) bt_walk(s, f->bt[BT_WILD_PRE], v, l->len, 0, li, 1);
		if (f->bt[BT_WILD_SUF]) bt_walk(s, f->bt[BT_WILD_SUF], v, l->len, 1, li, 1);
		if (f->bt[BT_PREFIX_IC] || f->bt[BT_SUFFIX_IC]) {
			buf_reset(&s->tmp);
			buf_grow(&s->tmp, l->len + 1);
			pat_fold(v, l->len, s->tmp.s);
			if (f->bt[BT_PREFIX_IC]) bt_walk(s, f->bt[BT_PREFIX_IC], s->tmp.s, l->len, 0, li, 0);
			if (f->bt[BT_SUFFIX_IC]) bt_walk(s, f->bt[BT_SUFFIX_IC], s->tmp.s, l->len, 1, li, 0);
		}
		if (f->has_ip) {
			unsigned char ip[16];
			int il = pat_parse_ip(v, l->len, ip);
			if (il > 0) {
				k[0] = 'p';
				memcpy(k + 1, ip, (size_t)il);
				hits_from(s, ht_find(s, l->field, k, 1 + (size_t)il), li);
			}
		}
		break;
	}
	case LT_NUM:
		if (f->has_num) {
			/* only when some indexed number is near: most values are not,
			 * and then the exact conversion is not needed */
			double d = leaf_num_close(l);
			int lo = 0, hi = f->nnums;
			while (lo < hi) {
				int mid = (lo + hi) / 2;
				if (f->nums[mid] < d) lo = mid + 1;
				else hi = mid;
			}
			int near = (lo < f->nnums && !far_from(l, f->nums[lo])) ||
			           (lo > 0 && !far_from(l, f->nums[lo - 1])) ||
			           (l->numstate == 2 && lo < f->nnums && f->nums[lo] == d);
			if (near) {
				size_t kl = num_key(k, leaf_num(l));
				hits_from(s, ht_find(s, l->field, k, kl), li);
			}
		}
		break;
	default:
		if (f->has_lit) {
			k[0] = l->type == LT_TRUE ? 't' : l->type == LT_FALSE ? 'f' : 'z';
			hits_from(s, ht_find(s, l->field, k, 1), li);
		}
	}
	for (int i = 0; i < f->nslow; i++) {
		int ci = f->slow[i];
		if (cond_matches(s, s->conds.v[ci].m, l)) record_hit(s, ci, li);
	}
}

/* Does condition M accept leaf L? Any kind, hashed ones included. */
static int direct_match(struct pattern_set *s, const struct matcher *m, struct leaf *l)
{
	switch (m->kind) {
	case MK_EXACT_STR:
		return l->type == LT_STR && l->len == m->str.len &&
		       memcmp(leaf_str(s, l), m->str.s, l->len) == 0;
	case MK_EQ_IC:
		if (l->type != LT_STR || l->len != m->str.len) return 0;
		buf_reset(&s->tmp);
		buf_grow(&s->tmp, l->len + 1);
		pat_fold(leaf_str(s, l), l->len, s->tmp.s);
		return memcmp(s->tmp.s, m->str.s, l->len) == 0;
	case MK_EXACT_NUM:
		if (l->type != LT_NUM) return 0;
		leaf_num_close(l);
		return far_from(l, m->num) ? l->num == m->num : leaf_num(l) == m->num;
	case MK_TRUE: return l->type == LT_TRUE;
	case MK_FALSE: return l->type == LT_FALSE;
	case MK_NULL: return l->type == LT_NULL;
	case MK_IP: {
		unsigned char ip[16];
		return l->type == LT_STR &&
		       pat_parse_ip(leaf_str(s, l), l->len, ip) == m->iplen &&
		       memcmp(ip, m->ip_lo, (size_t)m->iplen) == 0;
	}
	default:
		return cond_matches(s, m, l);
	}
}

static int field_leaves(const struct pattern_set *s, int field);

/* Work out the hits of a slot that is not its sub-rule's anchor, once per
 * event: run its conditions on the values at its path. Returns whether
 * any value is accepted. */
static int slot_eval(struct pattern_set *s, int si)
{
	if (s->slot_ep[si] == s->epoch) return s->slot_head[si] >= 0;
	const struct slot *sl = &s->slots.v[si];
	s->slot_ep[si] = s->epoch;
	s->slot_head[si] = -1;
	for (int li = field_leaves(s, sl->field); li >= 0; li = s->leaves.v[li].next) {
		for (int k = 0; k < sl->nconds; k++) {
			if (!direct_match(s, s->conds.v[sl->first_cond + k].m, &s->leaves.v[li])) continue;
			struct hit h = { li, s->slot_head[si] };
			s->slot_head[si] = s->hits.n;
			VEC_PUSH(s->hits, h);
			break;
		}
	}
	return s->slot_head[si] >= 0;
}

/* Two leaves are consistent when they agree on the element of every array
 * they both sit in. */
static int consistent(const struct pattern_set *s, const struct leaf *a, const struct leaf *b)
{
	const int *ta = s->trails.v + a->trail, *tb = s->trails.v + b->trail;
	for (int i = 0; i < a->ntrail; i++)
		for (int j = 0; j < b->ntrail; j++)
			if (ta[2 * i] == tb[2 * j] && ta[2 * i + 1] != tb[2 * j + 1]) return 0;
	return 1;
}

static int field_leaves(const struct pattern_set *s, int field)
{
	return s->field_ep[field] == s->epoch ? s->field_head[field] : -1;
}

struct choose {
	int *chosen;      /* leaf per slot, or -1 for "absent" */
	const struct slot *slots;
	int n;
};

static int ok_with_chosen(const struct pattern_set *s, const struct choose *ch, int upto, int leaf)
{
	for (int i = 0; i < upto; i++)
		if (ch->chosen[i] >= 0 &&
		    !consistent(s, &s->leaves.v[ch->chosen[i]], &s->leaves.v[leaf]))
			return 0;
	return 1;
}

/*
 * Forward checking: after a choice for slots [0, upto), every later
 * required slot must still have a value consistent with it. Without this
 * the search could try every combination of values from unrelated arrays
 * before finding out that a later slot cannot be met (a crafted event
 * could make that take hours); with it, a dead choice is dropped at once.
 */
static int later_slots_possible(const struct pattern_set *s, const struct choose *ch, int upto)
{
	for (int j = upto; j < ch->n; j++) {
		if (!ch->slots[j].required) continue;
		int si = (int)(&ch->slots[j] - s->slots.v), ok = 0;
		for (int h = s->slot_head[si]; h >= 0 && !ok; h = s->hits.v[h].next)
			ok = ok_with_chosen(s, ch, upto, s->hits.v[h].leaf);
		if (!ok) return 0;
	}
	return 1;
}

static int choose_from(const struct pattern_set *s, struct choose *ch, int i)
{
	if (i == ch->n) {
		/* every "absent" slot: no value at its path fits what was chosen */
		for (int k = 0; k < ch->n; k++) {
			if (ch->chosen[k] >= 0) continue;
			for (int l = field_leaves(s, ch->slots[k].field); l >= 0; l = s->leaves.v[l].next)
				if (ok_with_chosen(s, ch, ch->n, l)) return 0;
		}
		return 1;
	}
	const struct slot *sl = &ch->slots[i];
	int si = (int)(sl - s->slots.v);
	for (int h = s->slot_head[si]; h >= 0; h = s->hits.v[h].next) {
		int leaf = s->hits.v[h].leaf;
		if (!ok_with_chosen(s, ch, i, leaf)) continue;
		ch->chosen[i] = leaf;
		if (!later_slots_possible(s, ch, i + 1)) continue;
		if (choose_from(s, ch, i + 1)) return 1;
	}
	if (sl->absent) {
		ch->chosen[i] = -1;
		if (choose_from(s, ch, i + 1)) return 1;
	}
	return 0;
}

static int sub_matches(struct pattern_set *s, int sb)
{
	const struct sub *su = &s->subs.v[sb];
	const struct slot *slots = s->slots.v + su->first_slot;
	/* required slots first: the cheapest way out */
	for (int i = 0; i < su->nslots; i++)
		if (slots[i].required && !slot_eval(s, su->first_slot + i)) return 0;
	for (int i = 0; i < su->nslots; i++) {
		int si = su->first_slot + i;
		if (slots[i].required) continue;
		if (!slot_eval(s, si) && !s->has_trails && field_leaves(s, slots[i].field) >= 0)
			return 0;
	}
	if (!s->has_trails) return 1;
	int buf[32];
	struct choose ch = { su->nslots <= 32 ? buf : xmalloc((size_t)su->nslots * sizeof(int)),
	                     slots, su->nslots };
	int r = choose_from(s, &ch, 0);
	if (ch.chosen != buf) free(ch.chosen);
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int pattern_set_match(struct pattern_set *s, const char *ev, size_t len, const int **rules)
{
	if (++s->epoch == 0) {
		memset(s->slot_ep, 0, s->scratch_slots * sizeof *s->slot_ep);
		memset(s->field_ep, 0, s->scratch_fields * sizeof *s->field_ep);
		memset(s->rule_ep, 0, s->scratch_rules * sizeof *s->rule_ep);
		s->epoch = 1;
	}
	s->leaves.n = s->trails.n = s->tstack.n = s->hits.n = s->cands.n = s->matched.n = 0;
	buf_reset(&s->strbuf);
	*rules = NULL;

	struct scan sc = { ev, ev + len, s, 0, 0 };
	sc_ws(&sc);
	int isobj = sc.p < sc.end && *sc.p == '{';
	int rc = sc_value(&sc, isobj ? 0 : -1, 0, 1);
	if (rc == 0) {
		sc_ws(&sc);
		if (sc.p != sc.end) rc = -1;
	}
	if (rc < 0) {
		s->err_off = (size_t)(sc.p - ev);
		return PATTERN_BAD_JSON;
	}
	if (!isobj) return PATTERN_NOT_OBJECT;

	s->has_trails = 0;
	for (int i = 0; i < s->leaves.n; i++) {
		struct leaf *l = &s->leaves.v[i];
		if (l->ntrail) s->has_trails = 1;
		if (s->field_ep[l->field] != s->epoch) {
			s->field_ep[l->field] = s->epoch;
			s->field_head[l->field] = -1;
		}
		l->next = s->field_head[l->field];
		s->field_head[l->field] = i;
	}
	for (int i = 0; i < s->leaves.n; i++) eval_leaf(s, i);
	for (int pass = 0; pass < 2; pass++) {
		int n = pass ? s->always.n : s->cands.n;
		for (int i = 0; i < n; i++) {
			int sb = pass ? s->always.v[i] : s->cands.v[i];
			int rule = s->subs.v[sb].rule;
			if (s->rule_ep[rule] == s->epoch) continue;
			if (sub_matches(s, sb)) {
				s->rule_ep[rule] = s->epoch;
				VEC_PUSH(s->matched, rule);
			}
		}
	}
	if (s->matched.n > 1) qsort(s->matched.v, (size_t)s->matched.n, sizeof(int), cmp_int);
	*rules = s->matched.v;
	return s->matched.n;
}

size_t pattern_set_error_offset(const struct pattern_set *s)
{
	return s->err_off;
}
