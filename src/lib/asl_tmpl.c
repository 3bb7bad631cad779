/*
 * asl_tmpl.c: compile payload templates once per definition, so that an
 * execution evaluates "key.$" paths and intrinsic calls without parsing
 * them again. A subtree with no ".$" key stays one literal jv, copied by
 * reference count when the template runs.
 */
#include <stdlib.h>
#include <string.h>

#include "asl_int.h"
#include "util.h"

void *asl_path_handle(const char *text, char **err)
{
	struct apath *ap = xcalloc(1, sizeof *ap);
	if (asl_apath_compile(ap, text, err) < 0) {
		free(ap);
		return NULL;
	}
	return ap;
}

void asl_path_release(void *handle)
{
	struct apath *ap = handle;
	asl_apath_clear(ap);
	free(ap);
}

static int dynamic(jv t)
{
	jv_kind k = jv_get_kind(t);
	int found = 0;
	if (k == JV_KIND_OBJECT) {
		jv_object_foreach(t, key, v) {
			const char *ks = jv_string_value(key);
			size_t kl = strlen(ks);
			if (!found && ((kl > 2 && !strcmp(ks + kl - 2, ".$")) || dynamic(v)))
				found = 1;
			jv_free(key);
			jv_free(v);
		}
	} else if (k == JV_KIND_ARRAY) {
		jv_array_foreach(t, i, v) {
			(void)i;
			if (!found && dynamic(v))
				found = 1;
			jv_free(v);
		}
	}
	return found;
}

static void compile_into(struct tmpl *m, jv t)
{
	memset(m, 0, sizeof *m);
	m->literal = jv_invalid();
	jv_kind k = jv_get_kind(t);
	if (!dynamic(t)) {
		m->kind = TM_LITERAL;
		m->literal = jv_copy(t);
		return;
	}
	if (k == JV_KIND_ARRAY) {
		m->kind = TM_ARRAY;
		m->n = jv_array_length(jv_copy(t));
		m->kids = xcalloc((size_t)m->n + 1, sizeof *m->kids);
		jv_array_foreach(t, i, v) {
			compile_into(&m->kids[i], v);
			jv_free(v);
		}
		return;
	}
	m->kind = TM_OBJECT;
	m->n = jv_object_length(jv_copy(t));
	m->kids = xcalloc((size_t)m->n + 1, sizeof *m->kids);
	m->keys = xcalloc((size_t)m->n + 1, sizeof *m->keys);
	int i = 0;
	jv_object_foreach(t, key, v) {
		const char *ks = jv_string_value(key);
		size_t kl = strlen(ks);
		struct tmpl *c = &m->kids[i];
		if (kl > 2 && !strcmp(ks + kl - 2, ".$") && jv_get_kind(v) == JV_KIND_STRING) {
			m->keys[i] = jv_string_sized(ks, (int)kl - 2);
			memset(c, 0, sizeof *c);
			c->literal = jv_invalid();
			c->field = xstrdup(ks);
			c->text = xstrdup(jv_string_value(v));
			char *err = NULL;
			if (intr_is_call(c->text)) {
				c->kind = TM_INTRINSIC;
				c->intr = intr_compile(c->text, asl_path_handle, asl_path_release, &err);
			} else {
				c->kind = TM_PATH;
				if (asl_apath_compile(&c->path, c->text, &err) < 0)
					memset(&c->path, 0, sizeof c->path);
			}
			free(err);
		} else {
			m->keys[i] = jv_copy(key);
			compile_into(c, v);
		}
		i++;
		jv_free(key);
		jv_free(v);
	}
}

struct tmpl *asl_tmpl_compile(jv t)
{
	if (!jv_is_valid(t))
		return NULL;
	struct tmpl *m = xcalloc(1, sizeof *m);
	compile_into(m, t);
	return m;
}

static void clear(struct tmpl *m)
{
	jv_free(m->literal);
	for (int i = 0; i < m->n; i++) {
		clear(&m->kids[i]);
		if (m->keys)
			jv_free(m->keys[i]);
	}
	free(m->kids);
	free(m->keys);
	free(m->field);
	free(m->text);
	asl_apath_clear(&m->path);
	intr_free(m->intr);
}

void asl_tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	clear(t);
	free(t);
}
