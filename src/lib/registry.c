#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "registry.h"
#include "util.h"

void reg_free(struct worker *w)
{
	free(w->id);
	free(w->queue);
	free(w->host);
	w->id = w->queue = w->host = NULL;
}

static int step_done(struct state *st, sqlite3_stmt *s, const char *doing)
{
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, doing);
}

int reg_register(struct state *st, const struct worker *w)
{
	int64_t now = clock_now_ms();
	sqlite3_stmt *s = state_prepare(st,
		"INSERT OR REPLACE INTO workers (id, queue, pid, host, started_ms, last_seen_ms, "
		"draining, in_flight, handled, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, 0, 0, 0)");
	sqlite3_bind_text(s, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, w->queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, w->pid);
	sqlite3_bind_text(s, 4, w->host ? w->host : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	return step_done(st, s, "registering the worker");
}

int reg_heartbeat(struct state *st, const char *id, long in_flight, long handled,
                  long failed, int *draining)
{
	sqlite3_stmt *s = state_prepare(st,
		"UPDATE workers SET last_seen_ms = ?2, in_flight = ?3, handled = ?4, failed = ?5 "
		"WHERE id = ?1 RETURNING draining");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, clock_now_ms());
	sqlite3_bind_int64(s, 3, in_flight);
	sqlite3_bind_int64(s, 4, handled);
	sqlite3_bind_int64(s, 5, failed);
	int sr = sqlite3_step(s);
	*draining = sr == SQLITE_ROW ? sqlite3_column_int(s, 0) : 1;
	if (sr == SQLITE_ROW)
		sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "calling home");
}

int reg_taken(struct state *st, const char *id)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT pid, host, starting FROM workers WHERE id = ?1");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	int taken = 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(s, 0);
		const char *host = (const char *)sqlite3_column_text(s, 1);
		char me[256] = "";
		gethostname(me, sizeof me - 1);
		taken = !sqlite3_column_int(s, 2) && pid > 0 && pid != getpid() && host &&
		        !strcmp(host, me) && (kill(pid, 0) == 0 || errno == EPERM);
	}
	sqlite3_reset(s);
	return taken;
}

int reg_deregister(struct state *st, const char *id)
{
	sqlite3_stmt *s = state_prepare(st, "DELETE FROM workers WHERE id = ?1");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	return step_done(st, s, "deregistering the worker");
}

int reg_drain(struct state *st, const char *id)
{
	sqlite3_stmt *s = state_prepare(st, "UPDATE workers SET draining = 1 WHERE id = ?1");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	int rc = step_done(st, s, "marking the worker draining");
	if (rc)
		return rc;
	return sqlite3_changes(state_db(st)) ? EK_OK : EK_NO;
}

int reg_list(struct state *st, const char *queue,
             void (*each)(const struct worker *w, void *arg), void *arg)
{
	sqlite3_stmt *s = state_prepare(st,
		"SELECT id, queue, pid, host, started_ms, last_seen_ms, draining, in_flight, "
		"handled, failed FROM workers WHERE ?1 IS NULL OR queue = ?1 "
		"ORDER BY started_ms, id");
	if (queue)
		sqlite3_bind_text(s, 1, queue, -1, SQLITE_STATIC);
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		struct worker w;
		w.id = xstrdup((const char *)sqlite3_column_text(s, 0));
		w.queue = xstrdup((const char *)sqlite3_column_text(s, 1));
		w.pid = (long)sqlite3_column_int64(s, 2);
		w.host = xstrdup((const char *)sqlite3_column_text(s, 3));
		w.started_ms = sqlite3_column_int64(s, 4);
		w.last_seen_ms = sqlite3_column_int64(s, 5);
		w.draining = sqlite3_column_int(s, 6);
		w.in_flight = (long)sqlite3_column_int64(s, 7);
		w.handled = (long)sqlite3_column_int64(s, 8);
		w.failed = (long)sqlite3_column_int64(s, 9);
		each(&w, arg);
		reg_free(&w);
	}
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "listing workers");
}

jv reg_to_json(const struct worker *w, int64_t now_ms)
{
	char started[40], seen[40];
	clock_format(w->started_ms, 1, started, sizeof started);
	clock_format(w->last_seen_ms, 1, seen, sizeof seen);
	jv j = jv_object();
	j = jv_object_set(j, jv_string("WorkerId"), jv_string(w->id));
	j = jv_object_set(j, jv_string("Queue"), jv_string(w->queue));
	j = jv_object_set(j, jv_string("Pid"), jv_number((double)w->pid));
	j = jv_object_set(j, jv_string("Host"), jv_string(w->host));
	j = jv_object_set(j, jv_string("Started"), jv_string(started));
	j = jv_object_set(j, jv_string("LastSeen"), jv_string(seen));
	j = jv_object_set(j, jv_string("Alive"), jv_bool(now_ms - w->last_seen_ms < REG_ALIVE_MS));
	j = jv_object_set(j, jv_string("Draining"), jv_bool(w->draining));
	j = jv_object_set(j, jv_string("InFlight"), jv_number((double)w->in_flight));
	j = jv_object_set(j, jv_string("Handled"), jv_number((double)w->handled));
	j = jv_object_set(j, jv_string("Failed"), jv_number((double)w->failed));
	return j;
}
