#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "scaler.h"
#include "util.h"

int scaler_lock(struct state *st, const char *name, const char *holder, int64_t ttl_ms,
                int64_t wait_ms, int *got)
{
	int64_t give_up = clock_mono_ms() + wait_ms;
	*got = 0;
	for (;;) {
		int rc = state_begin(st);
		if (rc)
			return rc;
		int64_t now = clock_now_ms();
		sqlite3_stmt *s = state_prepare(st,
			"INSERT INTO locks (name, holder, expires_ms) VALUES (?1, ?2, ?3) "
			"ON CONFLICT (name) DO UPDATE SET holder = ?2, expires_ms = ?3 "
			"WHERE expires_ms <= ?4 OR holder = ?2");
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, holder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now + ttl_ms);
		sqlite3_bind_int64(s, 4, now);
		int sr = sqlite3_step(s);
		sqlite3_reset(s);
		if (sr != SQLITE_DONE) {
			rc = state_error(st, sr, "taking the lock");
			state_rollback(st);
			return rc;
		}
		*got = sqlite3_changes(state_db(st)) > 0;
		if ((rc = state_commit(st)))
			return rc;
		if (*got || clock_mono_ms() >= give_up)
			return EK_OK;
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void scaler_unlock(struct state *st, const char *name, const char *holder)
{
	sqlite3_stmt *s = state_prepare(st, "DELETE FROM locks WHERE name = ?1 AND holder = ?2");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, holder, -1, SQLITE_STATIC);
	sqlite3_step(s);
	sqlite3_reset(s);
}

int scaler_history(struct state *st, const char *queue, int64_t since_ms,
                   struct scale_sample **out, int *n)
{
	sqlite3_stmt *s = state_prepare(st, "SELECT at_ms, load, desired FROM scale_history "
	                                    "WHERE queue = ?1 AND at_ms >= ?2 ORDER BY at_ms");
	sqlite3_bind_text(s, 1, queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since_ms);
	*out = NULL;
	*n = 0;
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
		(*out)[*n].at_ms = sqlite3_column_int64(s, 0);
		(*out)[*n].load = (long)sqlite3_column_int64(s, 1);
		(*out)[*n].desired = sqlite3_column_int(s, 2);
		(*n)++;
	}
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "reading the scaling history");
}

int scaler_record(struct state *st, const char *queue, const struct scale_sample *smp,
                  int64_t prune_ms)
{
	sqlite3_stmt *s = state_prepare(st, "DELETE FROM scale_history WHERE queue = ?1 AND at_ms < ?2");
	sqlite3_bind_text(s, 1, queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, prune_ms);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	if (sr != SQLITE_DONE)
		return state_error(st, sr, "pruning the scaling history");
	s = state_prepare(st, "INSERT INTO scale_history (queue, at_ms, load, desired) "
	                      "VALUES (?1, ?2, ?3, ?4)");
	sqlite3_bind_text(s, 1, queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, smp->at_ms);
	sqlite3_bind_int64(s, 3, smp->load);
	sqlite3_bind_int(s, 4, smp->desired);
	sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "recording the decision");
}

const char *scaler_state_name(enum sw_state s)
{
	switch (s) {
	case SW_LIVE: return "live";
	case SW_STARTING: return "starting";
	case SW_DRAINING: return "draining";
	default: return "dead";
	}
}

static char *dup_col(sqlite3_stmt *s, int i)
{
	return xstrdup(sqlite3_column_type(s, i) == SQLITE_NULL ? ""
	               : (const char *)sqlite3_column_text(s, i));
}

int scaler_workers(struct state *st, const char *queue, int64_t now_ms, int64_t alive_ms,
                   struct sworker **out, int *n)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	sqlite3_stmt *s = state_prepare(st,
		"SELECT id, pid, host, log, started_ms, last_seen_ms, in_flight, handled, failed, "
		"starting, draining FROM workers WHERE queue = ?1 ORDER BY started_ms, id");
	sqlite3_bind_text(s, 1, queue, -1, SQLITE_STATIC);
	*out = NULL;
	*n = 0;
	int sr;
	while ((sr = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
		struct sworker *w = &(*out)[(*n)++];
		w->id = dup_col(s, 0);
		w->pid = (long)sqlite3_column_int64(s, 1);
		w->host = dup_col(s, 2);
		w->log = dup_col(s, 3);
		w->started_ms = sqlite3_column_int64(s, 4);
		w->last_seen_ms = sqlite3_column_int64(s, 5);
		w->in_flight = (long)sqlite3_column_int64(s, 6);
		w->handled = (long)sqlite3_column_int64(s, 7);
		w->failed = (long)sqlite3_column_int64(s, 8);
		w->starting = sqlite3_column_int(s, 9);
		w->draining = sqlite3_column_int(s, 10);
		int gone = strcmp(w->host, host) == 0 && w->pid > 0 &&
		           kill((pid_t)w->pid, 0) != 0 && errno == ESRCH;
		if (gone || now_ms - w->last_seen_ms >= alive_ms)
			w->state = SW_DEAD;
		else if (w->draining)
			w->state = SW_DRAINING;
		else if (w->starting)
			w->state = SW_STARTING;
		else
			w->state = SW_LIVE;
	}
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "reading the workers");
}

void scaler_free_workers(struct sworker *w, int n)
{
	for (int i = 0; i < n; i++) {
		free(w[i].id);
		free(w[i].host);
		free(w[i].log);
	}
	free(w);
}

int scaler_bury(struct state *st, const char *id, long *released)
{
	int rc = state_begin(st);
	if (rc)
		return rc;
	int64_t now = clock_now_ms();
	sqlite3_stmt *s = state_prepare(st,
		"UPDATE messages SET visible_ms = ?2 WHERE holder = ?1 AND receipt IS NOT NULL "
		"AND visible_ms > ?2");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	*released = sr == SQLITE_DONE ? sqlite3_changes(state_db(st)) : 0;
	if (sr == SQLITE_DONE) {
		s = state_prepare(st, "DELETE FROM workers WHERE id = ?1");
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sr = sqlite3_step(s);
		sqlite3_reset(s);
	}
	if (sr != SQLITE_DONE) {
		rc = state_error(st, sr, "dropping a dead worker");
		state_rollback(st);
		return rc;
	}
	return state_commit(st);
}

int scaler_add_starting(struct state *st, const char *id, const char *queue, long pid,
                        const char *host, const char *log)
{
	int64_t now = clock_now_ms();
	sqlite3_stmt *s = state_prepare(st,
		"INSERT OR IGNORE INTO workers (id, queue, pid, host, started_ms, last_seen_ms, "
		"starting, log) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6)");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, pid);
	sqlite3_bind_text(s, 4, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_text(s, 6, log, -1, SQLITE_STATIC);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	return sr == SQLITE_DONE ? EK_OK : state_error(st, sr, "recording a starting worker");
}

jv scaler_worker_json(const struct sworker *w)
{
	char started[40], seen[40];
	clock_format(w->started_ms, 1, started, sizeof started);
	clock_format(w->last_seen_ms, 1, seen, sizeof seen);
	jv j = jv_object();
	j = jv_object_set(j, jv_string("WorkerId"), jv_string(w->id));
	j = jv_object_set(j, jv_string("State"), jv_string(scaler_state_name(w->state)));
	j = jv_object_set(j, jv_string("Pid"), jv_number((double)w->pid));
	j = jv_object_set(j, jv_string("Host"), jv_string(w->host));
	j = jv_object_set(j, jv_string("Started"), jv_string(started));
	j = jv_object_set(j, jv_string("LastCallHome"), jv_string(seen));
	j = jv_object_set(j, jv_string("InFlight"), jv_number((double)w->in_flight));
	j = jv_object_set(j, jv_string("Handled"), jv_number((double)w->handled));
	j = jv_object_set(j, jv_string("Failed"), jv_number((double)w->failed));
	if (w->log[0])
		j = jv_object_set(j, jv_string("Log"), jv_string(w->log));
	return j;
}
