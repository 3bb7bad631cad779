/*
 * proc.h: running commands without a shell.
 *
 * A command is an argv vector started with posix_spawnp in a process group
 * of its own, so that a timeout kills everything it started. Signals the
 * caller ignores (SIGPIPE) are reset to their defaults in the child. Data
 * reaches the child on its stdin only; metadata goes into its environment.
 *
 * proc_run: one process, fed all of its input, run to its end (or its
 * timeout), with stdout and stderr captured.
 * coproc: a long-lived process that reads one JSON line and answers one
 * JSON line, again and again (fnctl's stream mode, sfn-run's warm tasks).
 *
 * Starting a process sets SIGPIPE to be ignored in the caller: a write to
 * a child that stopped reading then fails with EPIPE instead of killing
 * the caller.
 *
 * Ownership: the options are borrowed for the call. A proc_result owns its
 * buffers (proc_result_free). A coproc owns its process and pipes
 * (coproc_stop ends them).
 */
#ifndef EVKIT_PROC_H
#define EVKIT_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct proc_opts {
	char *const *argv;     /* argv[0] is looked up in PATH */
	char *const *env;      /* extra "K=V" entries (override), or NULL */
	int64_t timeout_ms;    /* 0: none */
	int capture_stderr;    /* proc_run: 1 captures it, 0 leaves it ours */
};

struct proc_result {
	int spawn_errno;   /* non-zero: it did not start (ENOENT, EACCES, ...) */
	int timed_out;     /* killed at the timeout */
	int exited, code;  /* exited normally with this status */
	int signaled, sig; /* killed by this signal */
	int64_t ms;        /* how long it ran (monotonic) */
	struct buf out, err;
};

int proc_run(const struct proc_opts *o, const char *in, size_t inlen,
             struct proc_result *r);
/* Start a process without waiting for it: stdin_fd becomes its stdin (-1:
 * ours), stdout and stderr stay ours. 0 and *pid, or an errno value. The
 * caller reaps it (waitpid) and may kill its group (-pid). */
int proc_spawn(const struct proc_opts *o, int stdin_fd, pid_t *pid);
void proc_result_free(struct proc_result *r);
/* Start a process without waiting for it, its stdin and stdout (and its
 * stderr when o->capture_stderr, else it stays ours) on new pipes. Our
 * ends, in fds[0] (its stdin), fds[1] (its stdout), fds[2] (its stderr,
 * -1 when not captured), are non-blocking and close-on-exec: no other
 * child inherits them. 0 and *pid, or an errno value. The caller owns the
 * fds, reaps the process (waitpid) and may kill its group
 * (proc_kill_group). o->timeout_ms is not used. */
int proc_start(const struct proc_opts *o, pid_t *pid, int fds[3]);
/* SIGKILL to the process group pid leads, and to pid itself. */
void proc_kill_group(pid_t pid);

/* Describe a wait status from waitpid ("exit status 3", "killed by signal
 * 9 (Killed)"), appended to b. */
void proc_describe_status(int wait_status, struct buf *b);
/* "exit status 3", "killed by signal 9 (Killed)", "timed out after 2s",
 * "cannot run 'x': No such file or directory", appended to b. */
void proc_describe(const struct proc_result *r, const char *name, struct buf *b);

/*
 * Start a process detached from this one: in a session of its own, its
 * stdin /dev/null, its stdout and stderr appended to log_path (created
 * 0600), orphaned at once so that nobody needs to reap it. 0 and *pid
 * (the detached process), or an errno value (such as ENOENT when the
 * command does not exist).
 */
int proc_detach(const struct proc_opts *o, const char *log_path, pid_t *pid);

struct coproc {
	pid_t pid;       /* 0 when not running */
	int in, out;     /* our ends of its stdin and stdout */
	struct buf pending;  /* bytes read past the last answer */
	int spawn_errno;
	int last_status; /* wait status once it has ended */
};

enum {
	CO_OK = 0,
	CO_DIED = 1,      /* it ended (or closed stdout) before answering */
	CO_TIMEOUT = 2,   /* no answer in time: it was killed */
	CO_SPAWN = 3,     /* it could not be started: spawn_errno says why */
};

/* Start it; stderr stays ours (the process's log lines reach the user). */
int coproc_start(struct coproc *c, const struct proc_opts *o);
/* Send line (without its newline: one is added) and read one answer line
 * into reply (without its newline). On CO_TIMEOUT and CO_DIED the process
 * is gone and c->pid is 0: start it again for the next call. */
int coproc_call(struct coproc *c, const char *line, size_t len, int64_t timeout_ms,
                struct buf *reply);
/* Close its stdin, give it grace_ms to exit, then kill its group. */
void coproc_stop(struct coproc *c, int64_t grace_ms);
int coproc_alive(struct coproc *c);

#endif
