/* state.h: creation with the right modes, migrations, refusal of newer
 * schemas and of files that are not state files, busy handling, and
 * concurrent writers that lose nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "fn.h"
#include "proc.h"
#include "state.h"
#include "unit.h"

static char dir[64];

static char *path_in(const char *name)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void create_and_modes(void)
{
	struct state *st = NULL;
	char *p = xstrdup(path_in("a/b/state.db"));
	CHECK_INT(state_open(p, 0, &st), EK_OK);
	CHECK(st == NULL);                     /* no create: nothing made */
	struct stat sb;
	CHECK(stat(path_in("a"), &sb) != 0);
	CHECK_INT(state_open(p, STATE_CREATE, &st), EK_OK);
	CHECK(st != NULL);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(path_in("a/b"), &sb) == 0 && (sb.st_mode & 0777) == 0700);
	sqlite3_stmt *s = state_prepare(st, "PRAGMA journal_mode");
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
	s = state_prepare(st, "PRAGMA user_version");
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(s, 0), state_schema_version());
	sqlite3_reset(s);
	/* The cache hands back the same statement for the same SQL. */
	CHECK(state_prepare(st, "PRAGMA user_version") == s);
	state_close(st);
	free(p);
}

static void path_selection(void)
{
	char *p;
	setenv("EVKIT_STATE", "/x/env.db", 1);
	p = state_path("/x/opt.db");
	CHECK_STR(p, "/x/opt.db");
	free(p);
	p = state_path(NULL);
	CHECK_STR(p, "/x/env.db");
	free(p);
	unsetenv("EVKIT_STATE");
	setenv("XDG_STATE_HOME", "/x/xdg", 1);
	p = state_path(NULL);
	CHECK_STR(p, "/x/xdg/evkit/state.db");
	free(p);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	p = state_path(NULL);
	CHECK_STR(p, "/home/u/.local/state/evkit/state.db");
	free(p);
}

static void refuse_newer_and_foreign(void)
{
	char *p = xstrdup(path_in("newer.db"));
	struct state *st;
	CHECK_INT(state_open(p, STATE_CREATE, &st), EK_OK);
	sqlite3_exec(state_db(st), "PRAGMA user_version = 999", NULL, NULL, NULL);
	state_close(st);
	unit_quiet(1);
	int rc = state_open(p, STATE_CREATE, &st);
	unit_quiet(0);
	CHECK_INT(rc, EK_STATE);
	CHECK(st == NULL);
	free(p);

	p = xstrdup(path_in("text.db"));
	FILE *f = fopen(p, "w");
	fputs("this is not a database, it is a shopping list\n", f);
	fclose(f);
	unit_quiet(1);
	rc = state_open(p, STATE_CREATE, &st);
	unit_quiet(0);
	CHECK_INT(rc, EK_STATE);
	/* ...and the file is left as it was. */
	f = fopen(p, "r");
	char line[80] = "";
	CHECK(fgets(line, sizeof line, f) != NULL);
	fclose(f);
	CHECK_STR(line, "this is not a database, it is a shopping list\n");
	free(p);

	p = xstrdup(path_in("other.db"));
	sqlite3 *db;
	sqlite3_open(p, &db);
	sqlite3_exec(db, "PRAGMA application_id = 1234; CREATE TABLE t(x)", NULL, NULL, NULL);
	sqlite3_close(db);
	unit_quiet(1);
	rc = state_open(p, STATE_CREATE, &st);
	unit_quiet(0);
	CHECK_INT(rc, EK_STATE);
	free(p);
}

static void busy(void)
{
	char *p = xstrdup(path_in("busy.db"));
	struct state *a, *b;
	setenv("EVKIT_BUSY_TIMEOUT", "50ms", 1);
	CHECK_INT(state_open(p, STATE_CREATE, &a), EK_OK);
	CHECK_INT(state_open(p, STATE_CREATE, &b), EK_OK);
	CHECK_INT(state_begin(a), EK_OK);
	unit_quiet(1);
	int rc = state_begin(b);
	unit_quiet(0);
	CHECK_INT(rc, EK_TEMPFAIL);
	CHECK_INT(state_commit(a), EK_OK);
	CHECK_INT(state_begin(b), EK_OK);
	CHECK_INT(state_commit(b), EK_OK);
	state_close(a);
	state_close(b);
	unsetenv("EVKIT_BUSY_TIMEOUT");
	free(p);
}

/* Four processes store 100 functions each at once: all 400 arrive. */
static void concurrent_writers(void)
{
	char *p = xstrdup(path_in("many.db"));
	enum { PROCS = 4, EACH = 100 };
	for (int k = 0; k < PROCS; k++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct state *st;
			if (state_open(p, STATE_CREATE, &st) != EK_OK)
				_exit(10);
			for (int i = 0; i < EACH; i++) {
				char name[32];
				snprintf(name, sizeof name, "f%d_%d", k, i);
				char *argv[] = { "true", NULL }, *env[] = { NULL };
				struct fn f = { name, argv, env, 1000, FN_SPAWN, "", "" };
				if (fn_put(st, &f, 0) != EK_OK)
					_exit(11);
			}
			state_close(st);
			_exit(0);
		}
	}
	int all_ok = 1;
	for (int k = 0; k < PROCS; k++) {
		int status;
		wait(&status);
		all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	CHECK(all_ok);
	struct state *st;
	CHECK_INT(state_open(p, 0, &st), EK_OK);
	sqlite3_stmt *s = state_prepare(st, "SELECT count(*) FROM functions");
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(s, 0), PROCS * EACH);
	sqlite3_reset(s);
	state_close(st);
	free(p);
}

int main(void)
{
	if (unit_tmpdir(dir, "state") != 0)
		return 1;
	RUN(create_and_modes);
	RUN(path_selection);
	RUN(refuse_newer_and_foreign);
	RUN(busy);
	RUN(concurrent_writers);
	unit_rmrf(dir);
	return UNIT_DONE();
}
