/*
 * state.h: the SQLite state file every evkit program shares.
 *
 * Where it is: --state FILE, else $EVKIT_STATE, else
 * ${XDG_STATE_HOME:-$HOME/.local/state}/evkit/state.db. It is created on
 * first use by a program that writes (mode 0600, missing folders 0700), in
 * WAL mode with a busy timeout ($EVKIT_BUSY_TIMEOUT, default 10s), and its
 * schema, defined once in schema.c, is migrated forward on open. A state
 * file whose schema is newer than this build, or that is not an evkit state
 * file, is refused with exit status 4.
 *
 * Write transactions are short and start with BEGIN IMMEDIATE, so that two
 * writers never deadlock upgrading read locks; waiting past the busy
 * timeout gives exit status 75 (retry later).
 *
 * Ownership: a struct state owns its connection and its cached statements;
 * state_close frees them. state_prepare returns a statement the cache
 * owns: never finalize it, just use it before the next state_prepare of
 * the same SQL text.
 */
#ifndef EVKIT_STATE_H
#define EVKIT_STATE_H

#include <sqlite3.h>

struct state;

enum {
	STATE_CREATE = 1,   /* create the file (and its folder) when missing */
};

/* The path the options and environment select (a new string). */
char *state_path(const char *opt_path);

/*
 * Open the state file. Returns an exit status: EK_OK with *out set, or
 * EK_OK with *out NULL when the file does not exist and STATE_CREATE was
 * not given (the caller then acts as on an empty state), or EK_STATE /
 * EK_TEMPFAIL after printing why.
 */
int state_open(const char *opt_path, int flags, struct state **out);
void state_close(struct state *st);
sqlite3 *state_db(struct state *st);
const char *state_file(struct state *st);
/* The state file's absolute path (a new string), for the environment of
 * processes that may run elsewhere (EVKIT_STATE). */
char *state_file_abs(struct state *st);

/* The schema version this build understands. */
int state_schema_version(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK: EK_OK, or EK_TEMPFAIL when the file
 * stayed busy past the timeout, or EK_STATE; both reported on stderr. */
int state_begin(struct state *st);
int state_commit(struct state *st);
void state_rollback(struct state *st);

/* A prepared statement for sql (a string constant: the cache is keyed by
 * its address), reset and with its bindings cleared. Exits 4 when sql does
 * not prepare, which is a bug or a damaged file. */
sqlite3_stmt *state_prepare(struct state *st, const char *sql);

/* Map a failed SQLite result code to an exit status, reporting it with
 * what was being done: EK_TEMPFAIL for busy/locked, else EK_STATE. */
int state_error(struct state *st, int rc, const char *doing);

/* In one transaction: delete the row KEY (bound as ?1) names with the
 * statement OWNER and, when there was one, what the statements of OWNED
 * (NULL-terminated, constants) name with the same key: a queue and its
 * messages, a state machine and its executions. EK_OK, EK_NO when there
 * was no such row (nothing changed), or an error status; DOING names the
 * work in messages. */
int state_delete_owned(struct state *st, const char *key, const char *owner,
                       const char *const *owned, const char *doing);

#endif
