/*
 * jobs.c: `sfn-run run -j N`: worker processes, forked after the state
 * machine is loaded, run executions at once while this process reads the
 * input, deals lines out in turn and prints the answers in input order.
 * A worker may run several of its lines at once; it answers them in the
 * order it got them.
 *
 * Protocol, one record a line each way: to a worker "LINENO\tRAW\n"; back
 * "K[TEXT]\n" where K is O (print TEXT), F (failed, print TEXT), N (print
 * nothing), E (failed, print nothing) or R (rejected), each after any
 * number of C records (print TEXT: the first lines of an answer of
 * several). Lines never hold a newline, so records need no escaping.
 *
 * Nothing blocks the coordinator but poll(2): writes to workers are
 * non-blocking and buffered, so a worker that is busy writing answers can
 * never deadlock with a coordinator busy writing it input. At most DEPTH
 * (jobs_run's depth) lines are in flight per worker, which bounds memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "jobs.h"
#include "util.h"

struct worker {
	pid_t pid;
	int in, out;            /* our ends: we write in, read out */
	struct buf pending;     /* bytes not yet written to in */
	size_t pending_off;
	struct buf answers;     /* bytes read from out, not yet used */
	size_t answers_off;
	int inflight;
	int closed_in, eof_out;
};

void jobs_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		s += w;
		n -= (size_t)w;
	}
}

int jobs_record(const char *line, size_t len, long *lineno, const char **raw, size_t *rawlen)
{
	const char *tab = memchr(line, '\t', len);
	if (!tab)
		return -1;
	*lineno = strtol(line, NULL, 10);
	*raw = tab + 1;
	*rawlen = (size_t)(line + len - tab - 1);
	return 0;
}

void jobs_answer(struct buf *out, int rc, const char *text, size_t len)
{
	/* an answer of several lines: all but the last go as C records */
	const char *nl;
	while (rc != JOB_REJECTED && len && (nl = memchr(text, '\n', len)) != NULL) {
		buf_addc(out, 'C');
		buf_add(out, text, (size_t)(nl - text));
		buf_addc(out, '\n');
		len -= (size_t)(nl - text) + 1;
		text = nl + 1;
	}
	if (rc == JOB_REJECTED)
		buf_addc(out, 'R');
	else if (len)
		buf_addc(out, rc == JOB_FAILED ? 'F' : 'O');
	else
		buf_addc(out, rc == JOB_FAILED ? 'E' : 'N');
	if (rc != JOB_REJECTED)
		buf_add(out, text, len);
	buf_addc(out, '\n');
}

static int spawn(struct worker *w, struct worker *all, int n, job_worker_fn worker, void *ctx,
                 int index)
{
	int to[2], from[2];
	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		for (int i = 0; i < n; i++) {
			if (all[i].pid > 0) {
				close(all[i].in);
				close(all[i].out);
			}
		}
		close(0);
		worker(ctx, index, to[0], from[1]);
		free(all);   /* the coordinator's table, copied by fork */
		fflush(stdout);
		fflush(stderr);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	w->pid = pid;
	w->in = to[1];
	w->out = from[0];
	fcntl(w->in, F_SETFL, fcntl(w->in, F_GETFL) | O_NONBLOCK);
	fcntl(w->in, F_SETFD, FD_CLOEXEC);
	fcntl(w->out, F_SETFD, FD_CLOEXEC);
	return 0;
}

static int next_answer_ready(const struct worker *w)
{
	return w->answers.s && memchr(w->answers.s + w->answers_off, '\n',
	                              w->answers.len - w->answers_off) != NULL;
}

/* The next complete answer of worker w, or NULL; *len excludes '\n'. */
static const char *next_answer(struct worker *w, size_t *len)
{
	const char *s = w->answers.s ? w->answers.s + w->answers_off : NULL;
	size_t avail = w->answers.len - w->answers_off;
	const char *nl = s ? memchr(s, '\n', avail) : NULL;
	if (!nl)
		return NULL;
	*len = (size_t)(nl - s);
	w->answers_off += *len + 1;   /* the space is reused at the next read */
	return s;
}

int jobs_run(int n, int depth, job_worker_fn worker, void *ctx, int strict, int *failed,
             long *rejected)
{
	if (depth < 1)
		depth = 1;
	struct worker *ws = xcalloc((size_t)n, sizeof *ws);
	for (int i = 0; i < n; i++)
		if (spawn(&ws[i], ws, n, worker, ctx, i) < 0)
			dief(EK_FAIL, "cannot start a worker: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	/* lines dealt out, in order: which worker answers each */
	size_t qcap = (size_t)n * (size_t)depth + 1, qhead = 0, qlen = 0;
	int *queue = xcalloc(qcap, sizeof *queue);
	struct buf in = BUF_INIT;
	size_t in_off = 0;
	int eof = 0, stop = 0, next = 0, forwarded = 0;
	long lineno = 0;
	struct pollfd *pf = xcalloc((size_t)n * 2 + 1, sizeof *pf);

	for (;;) {
		/* print the answers that are due, in order */
		while (qlen) {
			struct worker *w = &ws[queue[qhead]];
			size_t len;
			const char *a = next_answer(w, &len);
			if (!a)
				break;
			if (a[0] == 'C') {
				/* more of this line's answer follows */
				if (fwrite(a + 1, 1, len - 1, stdout) != len - 1 || putchar('\n') == EOF)
					cli_stdout_failed();
				continue;
			}
			qhead = (qhead + 1) % qcap;
			qlen--;
			w->inflight--;
			if (a[0] == 'O' || a[0] == 'F') {
				if (fwrite(a + 1, 1, len - 1, stdout) != len - 1 || putchar('\n') == EOF)
					cli_stdout_failed();
			}
			if (a[0] == 'F' || a[0] == 'E')
				*failed = 1;
			if (a[0] == 'R') {
				(*rejected)++;
				if (strict) {
					stop = 1;
					qlen = 0;
				}
			}
		}
		/* deal out the complete lines we hold, while there is room */
		while (!stop && qlen < qcap - 1 && ws[next].inflight < depth) {
			const char *s = in.s ? in.s + in_off : NULL;
			size_t avail = in.len - in_off;
			const char *nl = s ? memchr(s, '\n', avail) : NULL;
			size_t len;
			if (nl)
				len = (size_t)(nl - s);
			else if (eof && avail)
				len = avail;
			else
				break;
			in_off += len + (nl ? 1 : 0);
			lineno++;
			if (len && s[len - 1] == '\r')
				len--;
			size_t k = 0;
			while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
				k++;
			if (k == len)
				continue;   /* blank lines are skipped, as nd_next does */
			struct worker *w = &ws[next];
			buf_printf(&w->pending, "%ld\t", lineno);
			buf_add(&w->pending, s, len);
			buf_addc(&w->pending, '\n');
			w->inflight++;
			queue[(qhead + qlen++) % qcap] = next;
			next = (next + 1) % n;
		}
		if (in_off == in.len) {
			buf_reset(&in);
			in_off = 0;
		}
		if (fflush(stdout) == EOF)
			cli_stdout_failed();
		if (cli_stopping() && !forwarded) {
			/* workers abort what they run, as this process would */
			for (int i = 0; i < n; i++)
				kill(ws[i].pid, SIGTERM);
			forwarded = 1;
		}
		int done_input = (eof && in.len == in_off) || stop || cli_stopping();
		if (done_input) {
			for (int i = 0; i < n; i++)
				if (!ws[i].closed_in && (stop || ws[i].pending.len == ws[i].pending_off)) {
					close(ws[i].in);
					ws[i].closed_in = 1;
				}
			if (!qlen)
				break;
		}
		/* wait for input room, writable workers or answers */
		int np = 0;
		int want_stdin = !eof && !done_input && qlen < qcap - 1 && ws[next].inflight < depth;
		if (want_stdin) {
			pf[np].fd = 0;
			pf[np].events = POLLIN;
			np++;
		}
		for (int i = 0; i < n; i++) {
			struct worker *w = &ws[i];
			if (!w->closed_in && w->pending.len > w->pending_off) {
				pf[np].fd = w->in;
				pf[np].events = POLLOUT;
				np++;
			}
			if (!w->eof_out) {
				pf[np].fd = w->out;
				pf[np].events = POLLIN;
				np++;
			}
		}
		if (np == 0)
			break;
		if (poll(pf, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			dief(EK_FAIL, "poll: %s", strerror(errno));
		}
		for (int p = 0; p < np; p++) {
			if (!pf[p].revents)
				continue;
			if (pf[p].fd == 0) {
				buf_grow(&in, 65536);
				ssize_t r = read(0, in.s + in.len, 65536);
				if (r < 0 && errno != EINTR && errno != EAGAIN)
					dief(EK_FAIL, "stdin: read error: %s", strerror(errno));
				if (r == 0)
					eof = 1;
				if (r > 0) {
					in.len += (size_t)r;
					in.s[in.len] = '\0';
				}
				continue;
			}
			for (int i = 0; i < n; i++) {
				struct worker *w = &ws[i];
				if (pf[p].fd == w->in && !w->closed_in) {
					ssize_t r = write(w->in, w->pending.s + w->pending_off,
					                  w->pending.len - w->pending_off);
					if (r > 0) {
						w->pending_off += (size_t)r;
						if (w->pending_off == w->pending.len) {
							buf_reset(&w->pending);
							w->pending_off = 0;
						}
					} else if (r < 0 && errno != EAGAIN && errno != EINTR) {
						dief(EK_FAIL, "a worker stopped taking input: %s", strerror(errno));
					}
				} else if (pf[p].fd == w->out && !w->eof_out) {
					if (w->answers_off == w->answers.len) {
						buf_reset(&w->answers);
						w->answers_off = 0;
					}
					buf_grow(&w->answers, 65536);
					ssize_t r = read(w->out, w->answers.s + w->answers.len, 65536);
					if (r == 0) {
						w->eof_out = 1;
					} else if (r > 0) {
						w->answers.len += (size_t)r;
						w->answers.s[w->answers.len] = '\0';
					}
				}
			}
		}
		for (int i = 0; i < n; i++)
			if (ws[i].eof_out && ws[i].inflight > 0 && !next_answer_ready(&ws[i]))
				dief(EK_FAIL, "a worker ended before answering (exit status: see above)");
	}
	int status = 0;
	for (int i = 0; i < n; i++) {
		if (!ws[i].closed_in)
			close(ws[i].in);
		if (stop)
			kill(ws[i].pid, SIGTERM);
		close(ws[i].out);
		int st;
		while (waitpid(ws[i].pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!stop && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			status = -1;
		buf_free(&ws[i].pending);
		buf_free(&ws[i].answers);
	}
	free(ws);
	free(queue);
	free(pf);
	buf_free(&in);
	return status;
}
