#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "ids.h"
#include "json.h"
#include "sfn_store.h"

int sfn_name_check(const char *name, const char *what, struct buf *why)
{
	size_t n = strlen(name), chars = 0;
	if (jx_utf8_invalid_at(name, n)) {
		buf_printf(why, "%s is not valid UTF-8", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c & 0xc0) != 0x80)
			chars++;
		/* U+0080-009F are C2 80 to C2 9F in UTF-8 */
		int control = c < 0x20 || c == 0x7f ||
		              (c == 0xc2 && i + 1 < n && (unsigned char)name[i + 1] <= 0x9f);
		if (control || c == ' ' || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", c)) {
			if (control || c == ' ')
				buf_printf(why, "%s '%s' holds white space or a control character",
				           what, name);
			else
				buf_printf(why, "%s '%s' may not hold '%c' (nor white space, "
				           "< > { } [ ] ? * \" # %% \\ ^ | ~ ` $ & , ; : /)", what, name, c);
			return -1;
		}
	}
	if (chars == 0 || chars > 80) {
		buf_printf(why, "%s '%s' must be 1 to 80 characters", what, name);
		return -1;
	}
	return 0;
}

static void free_str(char **p)
{
	free(*p);
	*p = NULL;
}

void sfn_machine_free(struct sfn_machine *m)
{
	free_str(&m->name);
	free_str(&m->arn);
	free_str(&m->definition);
	free_str(&m->type);
	free_str(&m->role_arn);
	free_str(&m->revision_id);
}

char *sfn_default_role(void)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "arn:aws:iam::%s:role/sfn-run", ids_account());
	return buf_detach(&b);
}

static char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static void bind(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* ---- state machines ------------------------------------------------------------ */

#define SM_COLUMNS "name, arn, definition, type, role_arn, revision_id, created_ms, updated_ms"

static void row_to_machine(sqlite3_stmt *s, struct sfn_machine *m)
{
	memset(m, 0, sizeof *m);
	m->name = col(s, 0);
	m->arn = col(s, 1);
	m->definition = col(s, 2);
	m->type = col(s, 3);
	m->role_arn = col(s, 4);
	m->revision_id = col(s, 5);
	m->created_ms = sqlite3_column_int64(s, 6);
	m->updated_ms = sqlite3_column_int64(s, 7);
}

static int same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int sfn_machine_put(struct state *st, struct sfn_machine *m, enum sfn_put how)
{
	int64_t now = clock_now_ms();
	char rev[40];
	ids_uuid(rev);
	struct buf arn = BUF_INIT;
	buf_adds(&arn, "stateMachine:");
	buf_adds(&arn, m->name);
	char *res = buf_detach(&arn);
	ids_arn(&arn, "states", res);
	free(res);
	int rc = state_begin(st);
	if (rc)
		goto out;
	sqlite3_stmt *s = state_prepare(st, "SELECT " SM_COLUMNS " FROM state_machines WHERE name = ?1");
	sqlite3_bind_text(s, 1, m->name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	struct sfn_machine old;
	memset(&old, 0, sizeof old);
	if (sr == SQLITE_ROW)
		row_to_machine(s, &old);
	sqlite3_reset(s);
	if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
		rc = state_error(st, sr, "reading state machines");
		goto fail;
	}
	if (how == SFN_UPDATE && sr == SQLITE_DONE) {
		rc = EK_NO;
		goto fail;
	}
	if (how == SFN_CREATE && sr == SQLITE_ROW) {
		if (same(old.definition, m->definition) && same(old.type, m->type) &&
		    same(old.role_arn, m->role_arn)) {
			/* the same machine again: nothing changes */
			state_rollback(st);
			free_str(&m->arn);
			free_str(&m->revision_id);
			m->arn = old.arn;
			m->revision_id = old.revision_id;
			old.arn = old.revision_id = NULL;
			m->created_ms = old.created_ms;
			m->updated_ms = old.updated_ms;
			sfn_machine_free(&old);
			goto out;
		}
		warnf("state machine '%s' already exists (update or create --replace changes it)",
		      m->name);
		rc = EK_USAGE;
		goto fail;
	}
	s = state_prepare(st,
		"INSERT INTO state_machines (" SM_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
		"ON CONFLICT (name) DO UPDATE SET definition = ?3, type = ?4, role_arn = ?5, "
		"revision_id = ?6, updated_ms = ?7");
	sqlite3_bind_text(s, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, arn.s, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->definition, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, m->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, m->role_arn, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, rev, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, now);
	sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE) {
		rc = state_error(st, sr, "storing the state machine");
		goto fail;
	}
	if ((rc = state_commit(st)))
		goto out_old;
	free_str(&m->arn);
	free_str(&m->revision_id);
	m->arn = xstrdup(old.arn ? old.arn : arn.s);
	m->revision_id = xstrdup(rev);
	m->created_ms = old.name ? old.created_ms : now;
	m->updated_ms = now;
	goto out_old;
fail:
	state_rollback(st);
out_old:
	sfn_machine_free(&old);
out:
	buf_free(&arn);
	return rc;
}

/* The name inside NAME-or-ARN, or NULL for an ARN of something else. */
static char *machine_name(const char *name_or_arn)
{
	return ids_name_from(name_or_arn, "states", "stateMachine");
}

int sfn_machine_get(struct state *st, const char *name_or_arn, struct sfn_machine *out)
{
	char *name = machine_name(name_or_arn);
	if (!name)
		return EK_NO;
	sqlite3_stmt *s = state_prepare(st, "SELECT " SM_COLUMNS " FROM state_machines WHERE name = ?1");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	free(name);
	int sr = sqlite3_step(s), rc = EK_OK;
	if (sr == SQLITE_ROW)
		row_to_machine(s, out);
	else if (sr == SQLITE_DONE)
		rc = EK_NO;
	else
		rc = state_error(st, sr, "reading state machines");
	sqlite3_reset(s);
	return rc;
}

int sfn_machine_delete(struct state *st, const char *name_or_arn)
{
	static const char *const owned[] = { "DELETE FROM executions WHERE machine = ?1", NULL };
	char *name = machine_name(name_or_arn);
	if (!name)
		return EK_NO;
	int rc = state_delete_owned(st, name, "DELETE FROM state_machines WHERE name = ?1", owned,
	                            "deleting the state machine");
	free(name);
	return rc;
}

int sfn_machine_list(struct state *st, void (*each)(const struct sfn_machine *m, void *arg),
                     void *arg)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT " SM_COLUMNS " FROM state_machines ORDER BY name");
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		struct sfn_machine m;
		row_to_machine(s, &m);
		each(&m, arg);
		sfn_machine_free(&m);
	}
	int rc = sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "listing state machines");
	sqlite3_reset(s);
	return rc;
}

static jv date(int64_t ms)
{
	char t[40];
	clock_format(ms, 1, t, sizeof t);
	return jv_string(t);
}

jv sfn_machine_item_json(const struct sfn_machine *m)
{
	jv j = jv_object();
	j = jv_object_set(j, jv_string("stateMachineArn"), jv_string(m->arn));
	j = jv_object_set(j, jv_string("name"), jv_string(m->name));
	j = jv_object_set(j, jv_string("type"), jv_string(m->type));
	j = jv_object_set(j, jv_string("creationDate"), date(m->created_ms));
	return j;
}

jv sfn_machine_json(const struct sfn_machine *m)
{
	jv j = jv_object();
	j = jv_object_set(j, jv_string("stateMachineArn"), jv_string(m->arn));
	j = jv_object_set(j, jv_string("name"), jv_string(m->name));
	j = jv_object_set(j, jv_string("status"), jv_string("ACTIVE"));
	j = jv_object_set(j, jv_string("definition"), jv_string(m->definition));
	j = jv_object_set(j, jv_string("roleArn"), jv_string(m->role_arn));
	j = jv_object_set(j, jv_string("type"), jv_string(m->type));
	j = jv_object_set(j, jv_string("creationDate"), date(m->created_ms));
	j = jv_object_set(j, jv_string("updateDate"), date(m->updated_ms));
	jv log = jv_object_set(jv_object(), jv_string("level"), jv_string("OFF"));
	log = jv_object_set(log, jv_string("includeExecutionData"), jv_false());
	j = jv_object_set(j, jv_string("loggingConfiguration"), log);
	j = jv_object_set(j, jv_string("tracingConfiguration"),
	                  jv_object_set(jv_object(), jv_string("enabled"), jv_false()));
	j = jv_object_set(j, jv_string("revisionId"), jv_string(m->revision_id));
	return j;
}

/* ---- executions ---------------------------------------------------------------- */

void sfn_execution_free(struct sfn_execution *e)
{
	free_str(&e->arn);
	free_str(&e->name);
	free_str(&e->machine);
	free_str(&e->machine_arn);
	free_str(&e->status);
	free_str(&e->input);
	free_str(&e->output);
	free_str(&e->error);
	free_str(&e->cause);
	free_str(&e->history);
}

char *sfn_execution_arn(const char *arg)
{
	struct arn a;
	if (arn_parse(arg, &a) == 0) {
		/* states, then execution:MACHINE:NAME; an ARN of another region
		 * or account is well formed, just not one recorded here */
		const char *r = a.resource, *c1, *c2;
		if (a.service_len != 6 || memcmp(a.service, "states", 6) != 0)
			return NULL;
		/* an Express execution: express:MACHINE:NAME:ID */
		if (a.resource_len > 8 && !memcmp(r, "express:", 8)) {
			int colons = 0;
			for (const char *p = r + 8; *p; p++)
				colons += *p == ':';
			return colons == 2 ? xstrdup(arg) : NULL;
		}
		if (a.resource_len < 14 || memcmp(r, "execution:", 10) != 0)
			return NULL;
		c1 = r + 10;
		c2 = strchr(c1, ':');
		if (!c2 || c2 == c1 || !c2[1] || strchr(c2 + 1, ':'))
			return NULL;
		return xstrdup(arg);
	}
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || !colon[1] || strchr(colon + 1, ':'))
		return NULL;
	struct buf b = BUF_INIT;
	buf_printf(&b, "execution:%s", arg);
	char *res = buf_detach(&b);
	ids_arn(&b, "states", res);
	free(res);
	return buf_detach(&b);
}

int sfn_execution_exists(struct state *st, const char *arn)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT 1 FROM executions WHERE arn = ?1");
	sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr == SQLITE_ROW)
		return 1;
	if (sr == SQLITE_DONE)
		return 0;
	return -state_error(st, sr, "reading executions");
}

#define EX_COLUMNS "arn, name, machine, machine_arn, status, start_ms, stop_ms, input, output, " \
                   "error, cause"

static void row_to_execution(sqlite3_stmt *s, struct sfn_execution *e, int with_history)
{
	memset(e, 0, sizeof *e);
	e->arn = col(s, 0);
	e->name = col(s, 1);
	e->machine = col(s, 2);
	e->machine_arn = col(s, 3);
	e->status = col(s, 4);
	e->start_ms = sqlite3_column_int64(s, 5);
	e->stop_ms = sqlite3_column_int64(s, 6);
	e->input = col(s, 7);
	e->output = col(s, 8);
	e->error = col(s, 9);
	e->cause = col(s, 10);
	if (with_history)
		e->history = col(s, 11);
}

int sfn_execution_get(struct state *st, const char *arn, int with_history,
                      struct sfn_execution *out)
{
	/* MACHINE:NAME stands for an Express execution's ARN too, which ends
	 * in an id of its own */
	struct buf express = BUF_INIT;
	const char *ex = strstr(arn, ":execution:");
	if (ex) {
		buf_add(&express, arn, (size_t)(ex - arn));
		buf_printf(&express, ":express:%s:*", ex + 11);
	}
	sqlite3_stmt *s = with_history
		? state_prepare(st, "SELECT " EX_COLUMNS ", history FROM executions "
		                    "WHERE arn = ?1 OR arn GLOB ?2 LIMIT 1")
		: state_prepare(st, "SELECT " EX_COLUMNS " FROM executions "
		                    "WHERE arn = ?1 OR arn GLOB ?2 LIMIT 1");
	sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
	if (ex)
		sqlite3_bind_text(s, 2, buf_str(&express), -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	int sr = sqlite3_step(s), rc = EK_OK;
	if (sr == SQLITE_ROW)
		row_to_execution(s, out, with_history);
	else if (sr == SQLITE_DONE)
		rc = EK_NO;
	else
		rc = state_error(st, sr, "reading executions");
	sqlite3_reset(s);
	buf_free(&express);
	return rc;
}

int sfn_execution_list(struct state *st, const char *machine, const char *status, long max,
                       void (*each)(const struct sfn_execution *e, void *arg), void *arg)
{
	/* ?1 NULL: every machine; ?2 NULL: every status; ?3 -1: no limit */
	sqlite3_stmt *s = state_prepare(st,
		"SELECT " EX_COLUMNS " FROM executions "
		"WHERE (?1 IS NULL OR machine = ?1) AND (?2 IS NULL OR status = ?2) "
		"ORDER BY start_ms DESC, rowid DESC LIMIT ?3");
	bind(s, 1, machine);
	bind(s, 2, status);
	sqlite3_bind_int64(s, 3, max > 0 ? max : -1);
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		struct sfn_execution e;
		row_to_execution(s, &e, 0);
		each(&e, arg);
		sfn_execution_free(&e);
	}
	int rc = sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "listing executions");
	sqlite3_reset(s);
	return rc;
}

/* A stored JSON text as a value; a damaged one as the text itself. */
static jv json_of(const char *text)
{
	jv v = jx_parse(text, strlen(text), NULL);
	if (!jv_is_valid(v)) {
		jv_free(v);
		v = jv_string(text);
	}
	return v;
}

jv sfn_execution_item_json(const struct sfn_execution *e)
{
	jv j = jv_object();
	j = jv_object_set(j, jv_string("executionArn"), jv_string(e->arn));
	j = jv_object_set(j, jv_string("stateMachineArn"), jv_string(e->machine_arn));
	j = jv_object_set(j, jv_string("name"), jv_string(e->name));
	j = jv_object_set(j, jv_string("status"), jv_string(e->status));
	j = jv_object_set(j, jv_string("startDate"), date(e->start_ms));
	j = jv_object_set(j, jv_string("stopDate"), date(e->stop_ms));
	return j;
}

jv sfn_execution_json(const struct sfn_execution *e)
{
	jv j = sfn_execution_item_json(e);
	j = jv_object_set(j, jv_string("input"), json_of(e->input));
	if (e->output)
		j = jv_object_set(j, jv_string("output"), json_of(e->output));
	if (e->error)
		j = jv_object_set(j, jv_string("error"), jv_string(e->error));
	if (e->cause)
		j = jv_object_set(j, jv_string("cause"), jv_string(e->cause));
	return j;
}

/* ---- the recorder -------------------------------------------------------------- */

struct sfn_recorder {
	struct state *st;
	int batch, n;
	struct sfn_execution *rows;
};

struct sfn_recorder *sfn_recorder_new(struct state *st, int batch)
{
	struct sfn_recorder *r = xcalloc(1, sizeof *r);
	r->st = st;
	r->batch = batch > 0 ? batch : 1;
	r->rows = xcalloc((size_t)r->batch, sizeof *r->rows);
	return r;
}

static void drop_rows(struct sfn_recorder *r)
{
	for (int i = 0; i < r->n; i++)
		sfn_execution_free(&r->rows[i]);
	r->n = 0;
}

int sfn_recorder_flush(struct sfn_recorder *r)
{
	if (!r || !r->n)
		return EK_OK;
	int rc = state_begin(r->st);
	if (rc) {
		drop_rows(r);
		return rc;
	}
	for (int i = 0; i < r->n; i++) {
		const struct sfn_execution *e = &r->rows[i];
		sqlite3_stmt *s = state_prepare(r->st,
			"INSERT INTO executions (" EX_COLUMNS ", history) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
			"ON CONFLICT (arn) DO NOTHING");
		bind(s, 1, e->arn);
		bind(s, 2, e->name);
		bind(s, 3, e->machine);
		bind(s, 4, e->machine_arn);
		bind(s, 5, e->status);
		sqlite3_bind_int64(s, 6, e->start_ms);
		sqlite3_bind_int64(s, 7, e->stop_ms);
		bind(s, 8, e->input);
		bind(s, 9, e->output);
		bind(s, 10, e->error);
		bind(s, 11, e->cause);
		bind(s, 12, e->history);
		int sr = sqlite3_step(s);
		sqlite3_reset(s);
		if (sr != SQLITE_DONE) {
			rc = state_error(r->st, sr, "recording executions");
			state_rollback(r->st);
			drop_rows(r);
			return rc;
		}
		if (!sqlite3_changes(state_db(r->st)))
			warnf("execution '%s:%s' is already recorded; this one was not",
			      e->machine, e->name);
	}
	rc = state_commit(r->st);
	drop_rows(r);
	return rc;
}

int sfn_recorder_add(struct sfn_recorder *r, struct sfn_execution *e)
{
	r->rows[r->n++] = *e;
	memset(e, 0, sizeof *e);
	return r->n >= r->batch ? sfn_recorder_flush(r) : EK_OK;
}

int sfn_recorder_close(struct sfn_recorder *r)
{
	if (!r)
		return EK_OK;
	int rc = sfn_recorder_flush(r);
	free(r->rows);
	free(r);
	return rc;
}
