#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "schema.h"
#include "state.h"
#include "util.h"

/* 'evkt': marks a SQLite file as an evkit state file. */
#define EVKIT_APPLICATION_ID 0x65766b74

enum { STMT_CACHE = 48 };

struct state {
	sqlite3 *db;
	char *path;
	int busy_ms;           /* how long to wait for a lock */
	int64_t busy_since;    /* monotonic ms of the first retry of this wait */
	int nstmt;
	struct { const char *sql; sqlite3_stmt *st; } stmt[STMT_CACHE];
};

int state_schema_version(void)
{
	return schema_count;
}

char *state_path(const char *opt_path)
{
	if (opt_path && *opt_path)
		return xstrdup(opt_path);
	const char *e = getenv("EVKIT_STATE");
	if (e && *e)
		return xstrdup(e);
	struct buf b = BUF_INIT;
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && xdg[0] == '/') {
		buf_printf(&b, "%s/evkit/state.db", xdg);
	} else {
		const char *home = getenv("HOME");
		buf_printf(&b, "%s/.local/state/evkit/state.db", home && *home ? home : ".");
	}
	return buf_detach(&b);
}

/* mkdir -p of the folder holding path, new folders mode 0700. */
static int make_parents(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	free(dir);
	return rc;
}

int state_error(struct state *st, int rc, const char *doing)
{
	int base = rc & 0xff;
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	const char *path = st ? st->path : "state file";
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED) {
		warnf("%s: %s: busy past the timeout (another program holds it); try again",
		      path, doing);
		return EK_TEMPFAIL;
	}
	if (base == SQLITE_NOTADB || base == SQLITE_CORRUPT)
		warnf("%s: not a usable evkit state file (%s)", path, msg);
	else
		warnf("%s: %s: %s", path, doing, msg);
	return EK_STATE;
}

static int exec(struct state *st, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? EK_OK : state_error(st, rc, doing);
}

static int pragma_int(struct state *st, const char *sql, int *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int(s, 0);
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
	}
	return rc == SQLITE_OK ? EK_OK : state_error(st, rc, "reading the schema version");
}

static int busy_timeout_ms(void)
{
	const char *e = getenv("EVKIT_BUSY_TIMEOUT");
	int64_t ms;
	if (!e || !*e)
		return 10000;
	if (clock_parse_duration(e, &ms) == 0 && ms <= 3600000)
		return (int)ms;
	warnf("EVKIT_BUSY_TIMEOUT: '%s' is not a time up to 1h (such as 500ms, 30s); "
	      "using 10s", e);
	return 10000;
}

/*
 * Waiting for another writer. SQLite's own busy timeout sleeps 1, 2, 5,
 * 10, ... 100 ms between tries: between processes that each hold the lock
 * for a few tens of microseconds (a queue's senders, receivers and
 * workers) that wastes most of the time asleep. This handler first just
 * yields the CPU (the holder is most likely about to commit), then sleeps
 * from 50 us, backing off linearly to 2 ms (so that many waiting processes
 * do not burn the CPU the holder needs), until busy_ms has passed.
 */
static int on_busy(void *arg, int count)
{
	struct state *st = arg;
	int64_t now = clock_mono_ms();
	if (count == 0)
		st->busy_since = now;
	if (now - st->busy_since >= st->busy_ms)
		return 0;
	if (count < 8) {
		sched_yield();  /* the holder is most likely about to commit */
		return 1;
	}
	long us = count < 40 ? 50L * (count - 7) : 2000;
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
	return 1;
}

/* Bring the schema to the current version, in one transaction. */
static int migrate(struct state *st)
{
	int version, app;
	int rc = pragma_int(st, "PRAGMA user_version", &version);
	if (rc)
		return rc;
	if ((rc = pragma_int(st, "PRAGMA application_id", &app)))
		return rc;
	if (app != 0 && app != EVKIT_APPLICATION_ID) {
		warnf("%s: not an evkit state file (application_id %#x)", st->path, (unsigned)app);
		return EK_STATE;
	}
	/* evkit stamps application_id in its first migration: a database
	 * without it that already holds something belongs to someone else. */
	if (app == 0) {
		int tables = 0;
		if ((rc = pragma_int(st, "SELECT count(*) FROM sqlite_master", &tables)))
			return rc;
		if (version != 0 || tables != 0) {
			warnf("%s: not an evkit state file (a SQLite database of something else)",
			      st->path);
			return EK_STATE;
		}
	}
	if (version > schema_count) {
		warnf("%s: schema version %d is newer than this evkit understands (%d): "
		      "upgrade evkit, or use another --state file", st->path, version, schema_count);
		return EK_STATE;
	}
	if (version == schema_count)
		return EK_OK;
	if ((rc = state_begin(st)))
		return rc;
	/* Another program may have migrated while we waited for the lock. */
	if ((rc = pragma_int(st, "PRAGMA user_version", &version)))
		goto fail;
	if (version > schema_count) {
		warnf("%s: schema version %d is newer than this evkit understands (%d)",
		      st->path, version, schema_count);
		rc = EK_STATE;
		goto fail;
	}
	for (int i = version; i < schema_count; i++)
		if ((rc = exec(st, schema_migrations[i], "migrating the schema")))
			goto fail;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
	         schema_count, EVKIT_APPLICATION_ID);
	if ((rc = exec(st, sql, "migrating the schema")))
		goto fail;
	return state_commit(st);
fail:
	state_rollback(st);
	return rc;
}

int state_open(const char *opt_path, int flags, struct state **out)
{
	*out = NULL;
	char *path = state_path(opt_path);
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT) {
			warnf("%s: %s", path, strerror(errno));
			free(path);
			return EK_STATE;
		}
		if (!(flags & STATE_CREATE)) {
			free(path);
			return EK_OK;
		}
		if (make_parents(path) != 0) {
			warnf("%s: cannot create its folder: %s", path, strerror(errno));
			free(path);
			return EK_STATE;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			warnf("%s: cannot create: %s", path, strerror(errno));
			free(path);
			return EK_STATE;
		}
		if (fd >= 0)
			close(fd);
	} else if (S_ISDIR(sb.st_mode)) {
		warnf("%s: is a folder, not a state file", path);
		free(path);
		return EK_STATE;
	}

	struct state *st = xcalloc(1, sizeof *st);
	st->path = path;
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		rc = state_error(st, rc, "opening");
		state_close(st);
		return rc;
	}
	sqlite3_extended_result_codes(st->db, 1);
	st->busy_ms = busy_timeout_ms();
	sqlite3_busy_handler(st->db, on_busy, st);
	/* journal_mode needs the file to be a database: this is also where a
	 * file that is not one is found out. */
	if ((rc = exec(st, "PRAGMA journal_mode = WAL", "setting WAL mode")) ||
	    (rc = exec(st, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
	               "setting pragmas")) ||
	    (rc = migrate(st))) {
		state_close(st);
		return rc;
	}
	*out = st;
	return EK_OK;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->nstmt; i++)
		sqlite3_finalize(st->stmt[i].st);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

sqlite3 *state_db(struct state *st)
{
	return st->db;
}

const char *state_file(struct state *st)
{
	return st->path;
}

char *state_file_abs(struct state *st)
{
	struct buf b = BUF_INIT;
	char cwd[4096];
	if (st->path[0] != '/' && getcwd(cwd, sizeof cwd))
		buf_printf(&b, "%s/%s", cwd, st->path);
	else
		buf_adds(&b, st->path);
	return buf_detach(&b);
}

int state_begin(struct state *st)
{
	return exec(st, "BEGIN IMMEDIATE", "starting a transaction");
}

int state_commit(struct state *st)
{
	int rc = exec(st, "COMMIT", "committing");
	if (rc)
		state_rollback(st);
	return rc;
}

void state_rollback(struct state *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int state_delete_owned(struct state *st, const char *key, const char *owner,
                       const char *const *owned, const char *doing)
{
	int rc = state_begin(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = state_prepare(st, owner);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	int sr = sqlite3_step(s);
	sqlite3_reset(s);
	int gone = sqlite3_changes(st->db);
	for (int i = 0; sr == SQLITE_DONE && gone && owned[i]; i++) {
		s = state_prepare(st, owned[i]);
		sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
		sr = sqlite3_step(s);
		sqlite3_reset(s);
	}
	if (sr != SQLITE_DONE) {
		rc = state_error(st, sr, doing);
		state_rollback(st);
		return rc;
	}
	if (!gone) {
		state_rollback(st);
		return EK_NO;
	}
	return state_commit(st);
}

sqlite3_stmt *state_prepare(struct state *st, const char *sql)
{
	for (int i = 0; i < st->nstmt; i++) {
		if (st->stmt[i].sql == sql) {
			sqlite3_reset(st->stmt[i].st);
			sqlite3_clear_bindings(st->stmt[i].st);
			return st->stmt[i].st;
		}
	}
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK)
		exit(state_error(st, rc, "preparing a statement"));
	if (st->nstmt < STMT_CACHE) {
		st->stmt[st->nstmt].sql = sql;
		st->stmt[st->nstmt].st = s;
		st->nstmt++;
	} else {
		/* Full: evict the oldest, whose SQL the caller no longer uses. */
		sqlite3_finalize(st->stmt[0].st);
		memmove(&st->stmt[0], &st->stmt[1], sizeof st->stmt[0] * (STMT_CACHE - 1));
		st->stmt[STMT_CACHE - 1].sql = sql;
		st->stmt[STMT_CACHE - 1].st = s;
	}
	return s;
}
