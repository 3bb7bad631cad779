/*
 * pattern_json.c: pj, the strict JSON tree of pattern.h.
 *
 * Recursive descent over the text, at most PJ_MAX_DEPTH levels (jq 1.6's
 * limit, so that what jq reads this reads too). Nodes and decoded strings
 * live in one arena per document, freed at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "util.h"

#define PJ_MAX_DEPTH 256

struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct pj_doc {
	struct arena_blk *blk;
	struct pj root;
};

struct pj_parser {
	const char *s, *p, *end;
	struct pj_doc *doc;
	char *err;
	size_t errlen;
	int failed;
};

static void *arena_alloc(struct pj_doc *d, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!d->blk || d->blk->cap - d->blk->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		struct arena_blk *b = xmalloc(sizeof *b + cap);
		b->next = d->blk;
		b->used = 0;
		b->cap = cap;
		d->blk = b;
	}
	void *r = (char *)d->blk->data + d->blk->used;
	d->blk->used += n;
	return r;
}

static int fail(struct pj_parser *ps, const char *what)
{
	if (!ps->failed && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s at column %zu", what,
		         (size_t)(ps->p - ps->s) + 1);
	ps->failed = 1;
	return -1;
}

static void skip_ws(struct pj_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	                           *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static size_t utf8_put(char *o, uint32_t c)
{
	if (c < 0x80) { o[0] = (char)c; return 1; }
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A string at ps->p (the opening quote). Decoded into the arena. A lone
 * surrogate escape becomes U+FFFD, as jq does. */
static int parse_string(struct pj_parser *ps, const char **out, size_t *outlen)
{
	const char *q = ++ps->p;
	int esc = 0;
	while (q < ps->end && *q != '"') {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20) {
			ps->p = q;
			return fail(ps, "control character in string");
		}
		if (c == '\\') {
			esc = 1;
			if (q + 1 >= ps->end) {
				q = ps->end;
				break;
			}
			q += 2;
		} else {
			q++;
		}
	}
	if (q >= ps->end) {
		ps->p = q;
		return fail(ps, "unterminated string");
	}
	size_t n = (size_t)(q - ps->p);
	char *o = arena_alloc(ps->doc, n + 1);
	if (!esc) {
		memcpy(o, ps->p, n);
		o[n] = 0;
		*out = o;
		*outlen = n;
		ps->p = q + 1;
		return 0;
	}
	size_t k = 0;
	const char *r = ps->p;
	while (r < q) {
		if (*r != '\\') { o[k++] = *r++; continue; }
		r++;
		switch (*r) {
		case '"': o[k++] = '"'; r++; break;
		case '\\': o[k++] = '\\'; r++; break;
		case '/': o[k++] = '/'; r++; break;
		case 'b': o[k++] = '\b'; r++; break;
		case 'f': o[k++] = '\f'; r++; break;
		case 'n': o[k++] = '\n'; r++; break;
		case 'r': o[k++] = '\r'; r++; break;
		case 't': o[k++] = '\t'; r++; break;
		case 'u': {
			uint32_t c = 0;
			for (int i = 1; i <= 4; i++) {
				int h = r + i < q ? hexval((unsigned char)r[i]) : -1;
				if (h < 0) {
					ps->p = r;
					return fail(ps, "bad \\u escape in string");
				}
				c = c * 16 + (uint32_t)h;
			}
			r += 5;
			if (c >= 0xd800 && c < 0xdc00 && q - r >= 6 && r[0] == '\\' && r[1] == 'u') {
				uint32_t lo = 0;
				int ok = 1;
				for (int i = 2; i <= 5; i++) {
					int h = r + i < q ? hexval((unsigned char)r[i]) : -1;
					if (h < 0) { ok = 0; break; }
					lo = lo * 16 + (uint32_t)h;
				}
				if (ok && lo >= 0xdc00 && lo < 0xe000) {
					c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
					r += 6;
				} else {
					c = 0xfffd;
				}
			} else if (c >= 0xd800 && c < 0xe000) {
				c = 0xfffd;
			}
			k += utf8_put(o + k, c);
			break;
		}
		default:
			ps->p = r;
			return fail(ps, "bad escape in string");
		}
	}
	o[k] = 0;
	*out = o;
	*outlen = k;
	ps->p = q + 1;
	return 0;
}

static int parse_number(struct pj_parser *ps)
{
	const char *p = ps->p, *e = ps->end;
	if (p < e && *p == '-') p++;
	if (p >= e) { ps->p = p; return fail(ps, "bad number"); }
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9') p++;
	} else {
		ps->p = p;
		return fail(ps, "bad number");
	}
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9') { ps->p = p; return fail(ps, "bad number"); }
		while (p < e && *p >= '0' && *p <= '9') p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-')) p++;
		if (p >= e || *p < '0' || *p > '9') { ps->p = p; return fail(ps, "bad number"); }
		while (p < e && *p >= '0' && *p <= '9') p++;
	}
	ps->p = p;
	return 0;
}

static int parse_value(struct pj_parser *ps, struct pj *v, int depth);

static int parse_container(struct pj_parser *ps, struct pj *v, int depth, int obj)
{
	if (depth >= PJ_MAX_DEPTH)
		return fail(ps, "nesting too deep");
	char close = obj ? '}' : ']';
	size_t n = 0, cap = 0;
	struct pj *items = NULL;
	const char **keys = NULL;
	size_t *keylens = NULL;
	int rc = 0;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
	} else {
		for (;;) {
			const char *key = NULL;
			size_t klen = 0;
			skip_ws(ps);
			if (obj) {
				if (ps->p >= ps->end || *ps->p != '"') { rc = fail(ps, "expected a member name"); break; }
				if (parse_string(ps, &key, &klen) < 0) { rc = -1; break; }
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != ':') { rc = fail(ps, "expected ':'"); break; }
				ps->p++;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 4;
				items = xrealloc(items, cap * sizeof *items);
				if (obj) {
					keys = xrealloc(keys, cap * sizeof *keys);
					keylens = xrealloc(keylens, cap * sizeof *keylens);
				}
			}
			if (obj) {
				keys[n] = key;
				keylens[n] = klen;
			}
			if (parse_value(ps, &items[n], depth + 1) < 0) { rc = -1; break; }
			n++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
			if (ps->p < ps->end && *ps->p == close) { ps->p++; break; }
			rc = fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
			break;
		}
	}
	if (rc == 0) {
		v->n = n;
		v->items = arena_alloc(ps->doc, (n ? n : 1) * sizeof *items);
		if (n) memcpy(v->items, items, n * sizeof *items);
		if (obj) {
			v->keys = arena_alloc(ps->doc, (n ? n : 1) * sizeof *keys);
			v->keylens = arena_alloc(ps->doc, (n ? n : 1) * sizeof *keylens);
			if (n) {
				memcpy(v->keys, keys, n * sizeof *keys);
				memcpy(v->keylens, keylens, n * sizeof *keylens);
			}
		}
	}
	free(items);
	free(keys);
	free(keylens);
	return rc;
}

static int lit(struct pj_parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int parse_value(struct pj_parser *ps, struct pj *v, int depth)
{
	memset(v, 0, sizeof *v);
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of text");
	const char *start = ps->p;
	int rc;
	switch (*ps->p) {
	case '{': v->type = PJ_OBJ; rc = parse_container(ps, v, depth, 1); break;
	case '[': v->type = PJ_ARR; rc = parse_container(ps, v, depth, 0); break;
	case '"': v->type = PJ_STR; rc = parse_string(ps, &v->str, &v->len); break;
	case 't': v->type = PJ_TRUE; rc = lit(ps, "true"); break;
	case 'f': v->type = PJ_FALSE; rc = lit(ps, "false"); break;
	case 'n': v->type = PJ_NULL; rc = lit(ps, "null"); break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			v->type = PJ_NUM;
			rc = parse_number(ps);
		} else {
			rc = fail(ps, "unexpected character");
		}
	}
	v->raw = start;
	v->rawlen = (size_t)(ps->p - start);
	return rc;
}

struct pj_doc *pj_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct pj_doc *d = xcalloc(1, sizeof *d);
	struct pj_parser ps = { text, text, text + len, d, err, errlen, 0 };
	if (parse_value(&ps, &d->root, 0) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return d;
		fail(&ps, "unexpected text after the value");
	}
	pj_free(d);
	return NULL;
}

const struct pj *pj_root(const struct pj_doc *d)
{
	return &d->root;
}

void pj_free(struct pj_doc *d)
{
	if (!d) return;
	struct arena_blk *b = d->blk;
	while (b) {
		struct arena_blk *n = b->next;
		free(b);
		b = n;
	}
	free(d);
}

const struct pj *pj_get(const struct pj *obj, const char *key)
{
	if (!obj || obj->type != PJ_OBJ) return NULL;
	size_t kl = strlen(key);
	for (size_t i = obj->n; i-- > 0;)
		if (obj->keylens[i] == kl && memcmp(obj->keys[i], key, kl) == 0)
			return &obj->items[i];
	return NULL;
}
