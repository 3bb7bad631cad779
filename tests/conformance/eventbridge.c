/*
 * eventbridge.c: the EventBridge pattern conformance suites.
 *
 *   eventbridge CONFDIR BINDIR [--report]
 *
 * Runs CONFDIR/eventbridge/cases.jsonl (pattern, event, expected match)
 * and CONFDIR/eventbridge/invalid-patterns.jsonl (patterns AWS rejects,
 * with its message) twice: through the library (pattern.h) and through
 * `BINDIR/evroute test`. Prints one line per suite:
 *
 *   suite eventbridge-cases P T          library, valid cases
 *   suite eventbridge-cases-cli P T      evroute test, valid cases
 *   suite eventbridge-invalid P T        library, AWS's rejections and messages
 *   suite eventbridge-invalid-cli P T    evroute test --aws, same
 *
 * With --report, '#' lines give pass rates per source and per operator and
 * name every failing case. The CLI is started with posix_spawn, never a
 * shell; the pattern and the event travel as argv strings.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"
#include "util.h"

extern char **environ;

struct tally {
	char name[80];
	int pass, total;
};

struct tallies {
	struct tally *v;
	int n, cap;
};

static void count(struct tallies *t, const char *name, size_t len, int ok)
{
	int i;
	for (i = 0; i < t->n; i++)
		if (strlen(t->v[i].name) == len && memcmp(t->v[i].name, name, len) == 0) break;
	if (i == t->n) {
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->v = xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
		}
		snprintf(t->v[i].name, sizeof t->v[i].name, "%.*s", (int)len, name);
		t->v[i].pass = t->v[i].total = 0;
		t->n++;
	}
	t->v[i].pass += ok;
	t->v[i].total++;
}

static void report(const char *title, const struct tallies *t)
{
	for (int i = 0; i < t->n; i++)
		printf("# %s %-45s %4d/%-4d %5.1f%%\n", title, t->v[i].name, t->v[i].pass,
		       t->v[i].total, 100.0 * t->v[i].pass / t->v[i].total);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	if (!b.s) buf_grow(&b, 1);
	return buf_detach(&b);
}

/* Run argv with stdout to /dev/null; returns the exit status (or -1) and
 * appends what it wrote on stderr to err. */
static int run(char *const argv[], struct buf *err)
{
	int fds[2];
	if (pipe(fds) < 0) return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return -1;
	}
	char chunk[4096];
	ssize_t n;
	while ((n = read(fds[0], chunk, sizeof chunk)) > 0) buf_add(err, chunk, (size_t)n);
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct suite {
	int pass, total;
	struct tallies by_source, by_op;
	struct buf failures;
};

static void suite_add(struct suite *s, const struct pj *c, int ok, const char *why)
{
	const struct pj *src = pj_get(c, "source");
	const struct pj *ops = pj_get(c, "operators");
	const struct pj *id = pj_get(c, "id");
	s->pass += ok;
	s->total++;
	if (src && src->type == PJ_STR) count(&s->by_source, src->str, src->len, ok);
	if (ops && ops->type == PJ_ARR)
		for (size_t i = 0; i < ops->n; i++)
			if (ops->items[i].type == PJ_STR)
				count(&s->by_op, ops->items[i].str, ops->items[i].len, ok);
	if (!ok)
		buf_printf(&s->failures, "#   FAIL %s: %s\n",
		           id && id->type == PJ_STR ? id->str : "?", why);
}

static void suite_print(const char *name, struct suite *s, int rep)
{
	if (rep) {
		printf("# ---- %s: %d/%d\n", name, s->pass, s->total);
		report("source  ", &s->by_source);
		report("operator", &s->by_op);
		fputs(buf_str(&s->failures), stdout);
	}
	printf("suite %s %d %d\n", name, s->pass, s->total);
	free(s->by_source.v);
	free(s->by_op.v);
	buf_free(&s->failures);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: eventbridge CONFDIR BINDIR [--report]\n");
		return 2;
	}
	int rep = argc > 3 && strcmp(argv[3], "--report") == 0;
	char path[4096], evroute[4096];
	snprintf(evroute, sizeof evroute, "%s/evroute", argv[2]);
	int have_cli = access(evroute, X_OK) == 0;
	struct suite lib = { 0 }, cli = { 0 }, ilib = { 0 }, icli = { 0 };

	snprintf(path, sizeof path, "%s/eventbridge/cases.jsonl", argv[1]);
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		fprintf(stderr, "eventbridge: %s: cannot read\n", path);
		return 2;
	}
	struct pattern_opts ext = { 0, 0 }, aws = { 1, 0 };
	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl) nl = text + len;
		if (nl == line) continue;
		char msg[512];
		struct pj_doc *d = pj_parse(line, (size_t)(nl - line), msg, sizeof msg);
		if (!d) {
			fprintf(stderr, "eventbridge: cases.jsonl: %s\n", msg);
			continue;
		}
		const struct pj *c = pj_root(d);
		const struct pj *pat = pj_get(c, "pattern"), *ev = pj_get(c, "event");
		const struct pj *want = pj_get(c, "match");
		if (!pat || !ev || !want) { pj_free(d); continue; }
		int expect = want->type == PJ_TRUE;
		char *ptxt = xstrndup(pat->raw, pat->rawlen), *etxt = xstrndup(ev->raw, ev->rawlen);

		struct pattern_set *s = pattern_set_new(&ext);
		const int *rules;
		char why[600];
		if (pattern_set_add(s, ptxt, strlen(ptxt), msg, sizeof msg) < 0) {
			snprintf(why, sizeof why, "pattern rejected: %s", msg);
			suite_add(&lib, c, 0, why);
		} else {
			int n = pattern_set_match(s, etxt, strlen(etxt), &rules);
			snprintf(why, sizeof why, "want %s, got %s", expect ? "match" : "no match",
			         n < 0 ? "invalid event" : n ? "match" : "no match");
			suite_add(&lib, c, n >= 0 && (n > 0) == expect, why);
		}
		pattern_set_free(s);

		if (have_cli) {
			char *av[] = { evroute, "test", ptxt, etxt, NULL };
			struct buf err = BUF_INIT;
			int st = run(av, &err);
			snprintf(why, sizeof why, "evroute test exited %d, want %d%s%.200s", st,
			         expect ? 0 : 1, err.len ? ": " : "", buf_str(&err));
			suite_add(&cli, c, st == (expect ? 0 : 1), why);
			buf_free(&err);
		} else {
			suite_add(&cli, c, 0, "no evroute in BINDIR");
		}
		free(ptxt);
		free(etxt);
		pj_free(d);
	}
	free(text);

	snprintf(path, sizeof path, "%s/eventbridge/invalid-patterns.jsonl", argv[1]);
	text = read_file(path, &len);
	if (!text) {
		fprintf(stderr, "eventbridge: %s: cannot read\n", path);
		return 2;
	}
	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl) nl = text + len;
		if (nl == line) continue;
		char msg[512], why[1200];
		struct pj_doc *d = pj_parse(line, (size_t)(nl - line), msg, sizeof msg);
		if (!d) continue;
		const struct pj *c = pj_root(d);
		const struct pj *pt = pj_get(c, "pattern_text");
		const struct pj *ae = pj_get(c, "aws_error");
		const struct pj *am = pj_get(ae, "message");
		if (!pt || pt->type != PJ_STR || !am || am->type != PJ_STR) { pj_free(d); continue; }
		int rc = pattern_check(pt->str, pt->len, &aws, msg, sizeof msg);
		snprintf(why, sizeof why, "want \"%s\", got %s%s%s", am->str,
		         rc < 0 ? "\"" : "accepted", rc < 0 ? msg : "", rc < 0 ? "\"" : "");
		suite_add(&ilib, c, rc < 0 && strcmp(msg, am->str) == 0, why);

		if (have_cli) {
			char *ptxt = xstrndup(pt->str, pt->len);
			char *av[] = { evroute, "test", "--aws", ptxt, "{}", NULL };
			struct buf err = BUF_INIT;
			int st = run(av, &err);
			while (err.len && err.s[err.len - 1] == '\n') err.s[--err.len] = 0;
			int ok = st == 2 && strstr(buf_str(&err), am->str) != NULL;
			snprintf(why, sizeof why, "evroute test --aws exited %d: %.300s", st, buf_str(&err));
			suite_add(&icli, c, ok, why);
			buf_free(&err);
			free(ptxt);
		} else {
			suite_add(&icli, c, 0, "no evroute in BINDIR");
		}
		pj_free(d);
	}
	free(text);

	suite_print("eventbridge-cases", &lib, rep);
	suite_print("eventbridge-cases-cli", &cli, rep);
	suite_print("eventbridge-invalid", &ilib, rep);
	suite_print("eventbridge-invalid-cli", &icli, rep);
	return 0;
}
