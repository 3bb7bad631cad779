#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"

extern char **environ;

static int same_key(const char *a, const char *b)
{
	size_t ka = strcspn(a, "="), kb = strcspn(b, "=");
	return ka == kb && strncmp(a, b, ka) == 0;
}

/* environ with the "K=V" additions replacing entries of the same K; among
 * the additions, a later one replaces an earlier one. The array is new;
 * the strings are borrowed. */
static char **make_env(char *const *add)
{
	size_t n = 0, na = 0;
	while (environ[n])
		n++;
	while (add && add[na])
		na++;
	char **env = xcalloc(n + na + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int replaced = 0;
		for (size_t j = 0; j < na && !replaced; j++)
			replaced = same_key(add[j], environ[i]);
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < na; j++) {
		int later = 0;
		for (size_t l = j + 1; l < na && !later; l++)
			later = same_key(add[j], add[l]);
		if (!later)
			env[k++] = add[j];
	}
	env[k] = NULL;
	return env;
}

/* pipe(2) with both ends close-on-exec: the child gets only what spawn
 * duplicates onto 0, 1 and 2. */
static int cloexec_pipe(int p[2])
{
	if (pipe(p) != 0)
		return -1;
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Spawn with the given child fds for 0, 1, 2 (-1: leave ours). The child
 * gets a process group of its own and default signal dispositions.
 */
static int spawn(const struct proc_opts *o, int fd0, int fd1, int fd2, pid_t *pid)
{
	/* A child that exits without reading its input must give us EPIPE,
	 * not kill us with SIGPIPE (cli_init does the same for programs). */
	signal(SIGPIPE, SIG_IGN);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (fd0 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd0, 0);
	if (fd1 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd1, 1);
	if (fd2 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd2, 2);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
	                              POSIX_SPAWN_SETSIGMASK);
	char **env = make_env(o->env);
	int rc = posix_spawnp(pid, o->argv[0], &fa, &at, o->argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

static void kill_group(pid_t pid)
{
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
}

static void set_status(struct proc_result *r, int st)
{
	if (WIFEXITED(st)) {
		r->exited = 1;
		r->code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->signaled = 1;
		r->sig = WTERMSIG(st);
	}
}

static pid_t wait_for(pid_t pid, int *st)
{
	pid_t w;
	while ((w = waitpid(pid, st, 0)) < 0 && errno == EINTR)
		;
	return w;
}

int proc_spawn(const struct proc_opts *o, int stdin_fd, pid_t *pid)
{
	return spawn(o, stdin_fd, -1, -1, pid);
}

int proc_start(const struct proc_opts *o, pid_t *pid, int fds[3])
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int rc = 0;
	if (cloexec_pipe(pin) || cloexec_pipe(pout) ||
	    (o->capture_stderr && cloexec_pipe(perr)))
		rc = errno;
	else
		rc = spawn(o, pin[0], pout[1], perr[1], pid);
	if (pin[0] >= 0)  /* the child's ends */
		close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	if (rc != 0) {
		if (pin[1] >= 0)
			close(pin[1]);
		if (pout[0] >= 0)
			close(pout[0]);
		if (perr[0] >= 0)
			close(perr[0]);
		return rc;
	}
	set_nonblock(pin[1]);
	set_nonblock(pout[0]);
	if (perr[0] >= 0)
		set_nonblock(perr[0]);
	fds[0] = pin[1];
	fds[1] = pout[0];
	fds[2] = perr[0];
	return 0;
}

void proc_kill_group(pid_t pid)
{
	kill_group(pid);
}

int proc_detach(const struct proc_opts *o, const char *log_path, pid_t *pid)
{
	int info[2];  /* the grandchild's pid, then exec's errno if it fails */
	if (cloexec_pipe(info) != 0)
		return errno;
	char **env = make_env(o->env);
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(info[0]);
		close(info[1]);
		free(env);
		return e;
	}
	if (mid == 0) {
		/* The intermediate: a new session, then the real child, whose
		 * parent it leaves at once. Only async-signal-safe calls here. */
		setsid();
		int in = open("/dev/null", O_RDONLY);
		int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		pid_t child = fork();
		if (child == 0) {
			environ = env;
			execvp(o->argv[0], o->argv);
			int e = errno;
			ssize_t w = write(info[1], &e, sizeof e);
			(void)w;
			_exit(127);
		}
		ssize_t w = write(info[1], &child, sizeof child);
		(void)w;
		_exit(child > 0 ? 0 : 1);
	}
	close(info[1]);
	free(env);
	int st;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	pid_t child = -1;
	int e = 0;
	ssize_t r = read(info[0], &child, sizeof child);
	if (r == (ssize_t)sizeof child) {
		/* EOF: exec worked (the pipe closed on exec); else its errno. */
		if (read(info[0], &e, sizeof e) != (ssize_t)sizeof e)
			e = 0;
	} else {
		e = ECHILD;
	}
	close(info[0]);
	if (e)
		return e;
	*pid = child;
	return 0;
}

int proc_run(const struct proc_opts *o, const char *in, size_t inlen,
             struct proc_result *r)
{
	int pin[2], pout[2], perr[2] = { -1, -1 };
	memset(r, 0, sizeof *r);
	if (cloexec_pipe(pin) || cloexec_pipe(pout) ||
	    (o->capture_stderr && cloexec_pipe(perr))) {
		r->spawn_errno = errno;
		return -1;
	}
	pid_t pid;
	int64_t start = clock_mono_ms();
	int rc = spawn(o, pin[0], pout[1], perr[1], &pid);
	close(pin[0]);
	close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	if (rc != 0) {
		r->spawn_errno = rc;
		close(pin[1]);
		close(pout[0]);
		if (perr[0] >= 0)
			close(perr[0]);
		return -1;
	}
	set_nonblock(pin[1]);
	size_t off = 0;
	int fin = pin[1], fout = pout[0], ferr = perr[0];
	if (inlen == 0) {
		close(fin);
		fin = -1;
	}
	char chunk[65536];
	while (fout >= 0 || ferr >= 0) {
		struct pollfd p[3];
		int n = 0, iin = -1, iout = -1, ierr = -1;
		if (fin >= 0) { iin = n; p[n].fd = fin; p[n].events = POLLOUT; n++; }
		if (fout >= 0) { iout = n; p[n].fd = fout; p[n].events = POLLIN; n++; }
		if (ferr >= 0) { ierr = n; p[n].fd = ferr; p[n].events = POLLIN; n++; }
		int wait = -1;
		if (o->timeout_ms > 0) {
			int64_t left = start + o->timeout_ms - clock_mono_ms();
			if (left <= 0) {
				r->timed_out = 1;
				kill_group(pid);
				break;
			}
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		int pr = poll(p, (nfds_t)n, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (iin >= 0 && p[iin].revents) {
			ssize_t w = write(fin, in + off, inlen - off);
			if (w > 0)
				off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == inlen) {
				close(fin); /* done, or EPIPE: it does not read its input */
				fin = -1;
			}
		}
		for (int k = 0; k < 2; k++) {
			int idx = k ? ierr : iout;
			int *fd = k ? &ferr : &fout;
			if (idx < 0 || !p[idx].revents)
				continue;
			ssize_t got = read(*fd, chunk, sizeof chunk);
			if (got > 0)
				buf_add(k ? &r->err : &r->out, chunk, (size_t)got);
			else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	if (fin >= 0)
		close(fin);
	if (fout >= 0)
		close(fout);
	if (ferr >= 0)
		close(ferr);
	int st = 0;
	if (!r->timed_out && o->timeout_ms > 0) {
		/* Output closed; the process is most likely exiting right now,
		 * so poll often at first, then less. */
		long nap = 20000;
		for (;;) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR)
				break;
			if (clock_mono_ms() - start >= o->timeout_ms) {
				r->timed_out = 1;
				kill_group(pid);
				wait_for(pid, &st);
				break;
			}
			struct timespec ts = { 0, nap };
			nanosleep(&ts, NULL);
			if (nap < 10000000)
				nap *= 2;
		}
	} else {
		wait_for(pid, &st);
	}
	if (!r->timed_out)
		set_status(r, st);
	else
		kill(-pid, SIGKILL); /* anything it left behind in its group */
	r->ms = clock_mono_ms() - start;
	return 0;
}

void proc_result_free(struct proc_result *r)
{
	buf_free(&r->out);
	buf_free(&r->err);
}

void proc_describe_status(int wait_status, struct buf *b)
{
	struct proc_result r;
	memset(&r, 0, sizeof r);
	set_status(&r, wait_status);
	proc_describe(&r, "", b);
}

void proc_describe(const struct proc_result *r, const char *name, struct buf *b)
{
	if (r->spawn_errno)
		buf_printf(b, "cannot run '%s': %s", name, strerror(r->spawn_errno));
	else if (r->timed_out) {
		char d[32];
		buf_printf(b, "timed out after %s", clock_format_duration(r->ms, d, sizeof d));
	} else if (r->signaled)
		buf_printf(b, "killed by signal %d (%s)", r->sig, strsignal(r->sig));
	else
		buf_printf(b, "exit status %d", r->code);
}

/* ---- co-processes ----------------------------------------------------------- */

int coproc_start(struct coproc *c, const struct proc_opts *o)
{
	int pin[2], pout[2];
	c->pid = 0;
	c->spawn_errno = 0;
	buf_reset(&c->pending);
	if (cloexec_pipe(pin) || cloexec_pipe(pout)) {
		c->spawn_errno = errno;
		return CO_SPAWN;
	}
	pid_t pid;
	int rc = spawn(o, pin[0], pout[1], -1, &pid);
	close(pin[0]);
	close(pout[1]);
	if (rc != 0) {
		c->spawn_errno = rc;
		close(pin[1]);
		close(pout[0]);
		return CO_SPAWN;
	}
	set_nonblock(pin[1]);
	c->pid = pid;
	c->in = pin[1];
	c->out = pout[0];
	return CO_OK;
}

int coproc_alive(struct coproc *c)
{
	if (c->pid <= 0)
		return 0;
	int st;
	pid_t w = waitpid(c->pid, &st, WNOHANG);
	if (w == c->pid) {
		c->last_status = st;
		close(c->in);
		close(c->out);
		kill(-c->pid, SIGKILL);
		c->pid = 0;
		return 0;
	}
	return 1;
}

/* It failed, hung or closed its output: end it and everything in its
 * group. A process that is already on its way out gets grace_ms to exit by
 * itself, so that its own exit status is what gets reported. */
static void coproc_kill(struct coproc *c, int64_t grace_ms)
{
	if (c->pid <= 0)
		return;
	close(c->in);
	close(c->out);
	int64_t end = clock_mono_ms() + grace_ms;
	for (;;) {
		pid_t w = waitpid(c->pid, &c->last_status, WNOHANG);
		if (w == c->pid || (w < 0 && errno != EINTR))
			break;
		if (clock_mono_ms() >= end) {
			kill_group(c->pid);
			wait_for(c->pid, &c->last_status);
			break;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	kill(-c->pid, SIGKILL);
	c->pid = 0;
}

int coproc_call(struct coproc *c, const char *line, size_t len, int64_t timeout_ms,
                struct buf *reply)
{
	int64_t start = clock_mono_ms();
	size_t off = 0, total = len + 1;
	char chunk[65536];
	buf_reset(reply);
	if (c->pid <= 0)
		return CO_DIED;
	/* Output read past the last answer, or written since, belongs to no
	 * request: a handler that writes two lines for one request is out of
	 * step, and its extra line must not become this request's answer.
	 * (A stray line that arrives after this request was sent cannot be
	 * told from its answer: the protocol is one line for one line.) */
	buf_reset(&c->pending);
	for (;;) {
		struct pollfd d = { c->out, POLLIN, 0 };
		if (poll(&d, 1, 0) <= 0 || !(d.revents & POLLIN))
			break;
		ssize_t got = read(c->out, chunk, sizeof chunk);
		if (got <= 0)
			break;  /* EOF: the call below finds it dead */
	}
	for (;;) {
		char *nl = c->pending.len ? memchr(c->pending.s, '\n', c->pending.len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->pending.s);
			buf_add(reply, c->pending.s, n && nl[-1] == '\r' ? n - 1 : n);
			memmove(c->pending.s, nl + 1, c->pending.len - n - 1);
			c->pending.len -= n + 1;
			return CO_OK;
		}
		struct pollfd p[2];
		int np = 0, iin = -1;
		p[np].fd = c->out; p[np].events = POLLIN; np++;
		if (off < total) { iin = np; p[np].fd = c->in; p[np].events = POLLOUT; np++; }
		int wait = -1;
		if (timeout_ms > 0) {
			int64_t left = start + timeout_ms - clock_mono_ms();
			if (left <= 0) {
				coproc_kill(c, 0);
				return CO_TIMEOUT;
			}
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		int pr = poll(p, (nfds_t)np, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			coproc_kill(c, 200);
			return CO_DIED;
		}
		if (iin >= 0 && p[iin].revents) {
			ssize_t w;
			if (off < len)
				w = write(c->in, line + off, len - off);
			else
				w = write(c->in, "\n", 1);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				coproc_kill(c, 200);
				return CO_DIED;
			}
		}
		if (p[0].revents) {
			ssize_t got = read(c->out, chunk, sizeof chunk);
			if (got > 0)
				buf_add(&c->pending, chunk, (size_t)got);
			else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				coproc_kill(c, 200);
				return CO_DIED;
			}
		}
	}
}

void coproc_stop(struct coproc *c, int64_t grace_ms)
{
	if (c->pid > 0) {
		close(c->in);
		int64_t end = clock_mono_ms() + grace_ms;
		int st;
		long nap = 50000;  /* it usually exits at once: look often at first */
		for (;;) {
			pid_t w = waitpid(c->pid, &st, WNOHANG);
			if (w == c->pid || (w < 0 && errno != EINTR))
				break;
			if (clock_mono_ms() >= end) {
				kill_group(c->pid);
				wait_for(c->pid, &st);
				break;
			}
			struct timespec ts = { 0, nap };
			nanosleep(&ts, NULL);
			if (nap < 5000000)
				nap *= 2;
		}
		kill(-c->pid, SIGKILL);
		close(c->out);
		c->pid = 0;
	}
	buf_free(&c->pending);
}
