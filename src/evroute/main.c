/*
 * evroute: EventBridge's event patterns on NDJSON streams. A thin client
 * over pattern.h: read the rules, then one pattern_set_match per event.
 *
 *   evroute test PATTERN [EVENT]     like aws events test-event-pattern
 *   evroute check RULES...           validate patterns and rule files
 *   evroute match RULES [FILE...]    the events that match, byte for byte
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ndjson.h"
#include "pattern.h"
#include "util.h"

enum {
	OPT_AWS = 0x100, OPT_COUNT, OPT_NAMES, OPT_MAXLEN, OPT_JOBS = 'j',
};

static const struct cli_opt top_opts[] = {
	CLI_OPT_HELP,
	CLI_END,
};

#define OPT_AWS_ROW { OPT_AWS, "aws", 0, NULL, \
	"accept only what AWS accepts (no regexp, no shellstyle)", CC_NONE, NULL }
#define OPT_MAXLEN_ROW { OPT_MAXLEN, "max-length", 0, "N", \
	"longest pattern accepted, in characters (default 2048)", CC_NONE, NULL }

static const struct cli_opt test_opts[] = {
	OPT_AWS_ROW,
	OPT_MAXLEN_ROW,
	CLI_OPT_REJECTS,
	CLI_OPT_STRICT,
	CLI_END,
};

static const struct cli_opt check_opts[] = {
	OPT_AWS_ROW,
	OPT_MAXLEN_ROW,
	CLI_END,
};

static const struct cli_opt match_opts[] = {
	OPT_AWS_ROW,
	{ OPT_COUNT, "count", 'c', NULL,
	  "print one JSON object of match counts per rule at the end, instead of events",
	  CC_NONE, NULL },
	{ OPT_JOBS, "jobs", 'j', "N",
	  "match on N threads (default: one per CPU, at most 4); output order is kept",
	  CC_NONE, NULL },
	OPT_MAXLEN_ROW,
	{ OPT_NAMES, "names", 'n', NULL,
	  "write {\"rules\":[NAMES],\"event\":EVENT} instead of the bare event", CC_NONE, NULL },
	CLI_OPT_REJECTS,
	CLI_OPT_STRICT,
	CLI_END,
};

static const struct cli_cmd commands[] = {
	{ "check", "RULES...", "validate rule files and patterns; silent when all are valid",
	  check_opts, { CC_FILE, CC_FILE, CC_FILE, CC_FILE }, NULL },
	{ "match", "RULES [FILE...]",
	  "write each event (line of FILE or stdin) that matches a rule, unchanged",
	  match_opts, { CC_FILE, CC_FILE, CC_FILE, CC_FILE }, NULL },
	{ "test", "PATTERN [EVENT]",
	  "does EVENT (or each line of stdin) match PATTERN? prints true or false",
	  test_opts, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ NULL, NULL, NULL, NULL, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
};

static const struct cli_prog prog = {
	"evroute", "Route JSON events with EventBridge event patterns.",
	top_opts, commands,
	"PATTERN is JSON text or @FILE. RULES is a JSON file: an array of rules\n"
	"({\"Name\":..,\"EventPattern\":..}) or of bare patterns, an object of name to\n"
	"pattern, or the output of 'aws events list-rules'; - reads it from stdin.\n"
	"Exit status: 0 success (test: the last event matches); 1 test: no match;\n"
	"2 usage error or invalid pattern; 3 some input lines were rejected.\n",
};

static struct pattern_opts popts;
static struct nd_rejects rejects;
/* More sets that every rule is also added to: one per matching thread. */
static struct pattern_set **extra_sets;
static int n_extra;

/* ---- reading rules ------------------------------------------------------- */

struct rule {
	char *name;
	int index;     /* in the pattern set; -1 for a rule that never matches */
	long count;
};

struct rules {
	struct rule *v;
	int n, cap;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) return NULL;
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, n);
	int bad = ferror(f);
	if (f != stdin) fclose(f);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	buf_grow(&b, 1);
	*len = b.len;
	return buf_detach(&b);
}

/* A pattern's text without the blanks between tokens, so that AWS's length
 * limit counts what AWS would receive, not the rule file's indentation. */
static char *minify(const char *s, size_t n, size_t *outlen)
{
	char *o = xmalloc(n + 1);
	size_t k = 0;
	int in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			o[k++] = c;
			if (c == '\\' && i + 1 < n) o[k++] = s[++i];
			else if (c == '"') in_str = 0;
		} else if (c == '"') {
			in_str = 1;
			o[k++] = c;
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			o[k++] = c;
		}
	}
	o[k] = 0;
	*outlen = k;
	return o;
}

static int add_rule(struct pattern_set *set, struct rules *rs, const char *file,
                    const char *name, size_t namelen, const struct pj *pat, int disabled)
{
	char err[1024];
	const char *text;
	size_t len;
	char *owned = NULL;
	if (pat->type == PJ_STR) {
		text = pat->str;
		len = pat->len;
	} else {
		owned = minify(pat->raw, pat->rawlen, &len);
		text = owned;
	}
	int idx = disabled ? pattern_check(text, len, &popts, err, sizeof err)
	                   : pattern_set_add(set, text, len, err, sizeof err);
	if (idx >= 0 && !disabled)
		for (int i = 0; i < n_extra; i++)
			pattern_set_add(extra_sets[i], text, len, err, sizeof err);
	free(owned);
	if (idx < 0) {
		warnf("%s: rule %.*s: %s", file, (int)namelen, name, err);
		return -1;
	}
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		rs->v = xrealloc(rs->v, (size_t)rs->cap * sizeof *rs->v);
	}
	rs->v[rs->n].name = xstrndup(name, namelen);
	rs->v[rs->n].index = disabled ? -1 : idx;
	rs->v[rs->n].count = 0;
	rs->n++;
	return 0;
}

/* One element of a rule array: an AWS rule shape or a bare pattern. */
static int add_element(struct pattern_set *set, struct rules *rs, const char *file,
                       const struct pj *el, size_t i)
{
	char idx[32];
	int il = snprintf(idx, sizeof idx, "%zu", i);
	const struct pj *ep = pj_get(el, "EventPattern");
	if (el->type == PJ_OBJ && (ep || pj_get(el, "Name") || pj_get(el, "ScheduleExpression"))) {
		const struct pj *nm = pj_get(el, "Name");
		const struct pj *state = pj_get(el, "State");
		int disabled = state && state->type == PJ_STR && strcmp(state->str, "DISABLED") == 0;
		if (!ep) return 0;  /* a scheduled rule: no pattern to match */
		if (ep->type != PJ_STR && ep->type != PJ_OBJ) {
			warnf("%s: rule %s: EventPattern must be a JSON object or a string", file,
			      nm && nm->type == PJ_STR ? nm->str : idx);
			return -1;
		}
		if (nm && nm->type == PJ_STR)
			return add_rule(set, rs, file, nm->str, nm->len, ep, disabled);
		return add_rule(set, rs, file, idx, (size_t)il, ep, disabled);
	}
	return add_rule(set, rs, file, idx, (size_t)il, el, 0);
}

/*
 * Is this object one pattern rather than a map of names to patterns? Both
 * can look alike ({"detail": {"state": ["x"]}}), so: an object with an
 * array member is a pattern (a map's members are patterns or strings), and
 * so is one whose members are all fields of the EventBridge envelope or
 * "$or" (no one names rules "detail" and "source"). Anything else maps
 * names to patterns; wrap a lone pattern in [ ] to say so for certain.
 */
static int is_pattern_object(const struct pj *o)
{
	static const char *const envelope[] = {
		"version", "id", "detail-type", "source", "account", "time", "region",
		"resources", "detail", "$or",
	};
	int all_envelope = 1;
	for (size_t i = 0; i < o->n; i++) {
		if (o->items[i].type == PJ_ARR) return 1;
		int known = 0;
		for (size_t k = 0; k < ARRAY_LEN(envelope); k++)
			if (strcmp(o->keys[i], envelope[k]) == 0) known = 1;
		all_envelope &= known;
	}
	return all_envelope;
}

static int cmp_rule_name(const void *a, const void *b)
{
	return strcmp(((const struct rule *)a)->name, ((const struct rule *)b)->name);
}

/* Rule names must be unique, as AWS requires on one bus. Sorting a copy
 * keeps this O(n log n) for rule files of any size. */
static int names_unique(const struct rules *rs, const char *file)
{
	if (rs->n < 2) return 1;
	struct rule *c = xmalloc((size_t)rs->n * sizeof *c);
	memcpy(c, rs->v, (size_t)rs->n * sizeof *c);
	qsort(c, (size_t)rs->n, sizeof *c, cmp_rule_name);
	int ok = 1;
	for (int i = 1; i < rs->n; i++)
		if (strcmp(c[i - 1].name, c[i].name) == 0 && (i < 2 || strcmp(c[i - 2].name, c[i].name) != 0)) {
			warnf("%s: rule %s: the name is used twice", file, c[i].name);
			ok = 0;
		}
	free(c);
	return ok;
}

static int load_rules(struct pattern_set *set, struct rules *rs, const char *file)
{
	size_t len;
	char *text;
	/* RULES may be JSON text itself, or @FILE as for test's PATTERN */
	const char *t = file;
	while (*t == ' ' || *t == '\t' || *t == '\n') t++;
	if (*t == '{' || *t == '[') {
		text = xstrdup(file);
		len = strlen(text);
		file = "RULES";
	} else {
		if (*file == '@') file++;
		text = slurp(file, &len);
	}
	if (!text) {
		warnf("%s: %s", file, strerror(errno));
		return -1;
	}
	char msg[256];
	struct pj_doc *d = pj_parse(text, len, msg, sizeof msg);
	if (!d) {
		warnf("%s: invalid JSON: %s", file, msg);
		free(text);
		return -1;
	}
	const struct pj *root = pj_root(d);
	const struct pj *list = pj_get(root, "Rules");
	int bad = 0;
	if (root->type == PJ_OBJ && list && list->type == PJ_ARR) root = list;
	if (root->type == PJ_ARR) {
		for (size_t i = 0; i < root->n; i++)
			bad |= add_element(set, rs, file, &root->items[i], i) < 0;
	} else if (root->type == PJ_OBJ && pj_get(root, "EventPattern")) {
		bad |= add_element(set, rs, file, root, 0) < 0;
	} else if (root->type == PJ_OBJ && !is_pattern_object(root)) {
		for (size_t i = 0; i < root->n; i++) {
			const struct pj *p = &root->items[i];
			if (p->type != PJ_OBJ && p->type != PJ_STR) {
				warnf("%s: rule %s: a pattern must be a JSON object or a string", file,
				      root->keys[i]);
				bad = 1;
				continue;
			}
			bad |= add_rule(set, rs, file, root->keys[i], root->keylens[i], p, 0) < 0;
		}
	} else if (root->type == PJ_OBJ) {
		bad |= add_rule(set, rs, file, "0", 1, root, 0) < 0;
	} else {
		warnf("%s: expected an array of rules or an object of name to pattern", file);
		bad = 1;
	}
	pj_free(d);
	free(text);
	if (!names_unique(rs, file)) bad = 1;
	return bad ? -1 : 0;
}

/* ---- evroute test -------------------------------------------------------- */

static char *pattern_arg(const char *arg, size_t *len)
{
	if (arg[0] == '@') {
		char *t = slurp(arg + 1, len);
		if (!t) dief(EK_USAGE, "%s: %s", arg + 1, strerror(errno));
		while (*len && (t[*len - 1] == '\n' || t[*len - 1] == '\r')) t[--*len] = 0;
		return t;
	}
	*len = strlen(arg);
	return xstrdup(arg);
}

static const char *event_problem(int rc, const struct pattern_set *set, char *why, size_t n)
{
	if (rc == PATTERN_NOT_OBJECT)
		snprintf(why, n, "an event must be a JSON object");
	else
		snprintf(why, n, "invalid JSON at column %zu", pattern_set_error_offset(set) + 1);
	return why;
}

static int cmd_test(const struct cli_cmd *cmd, int argc, char **argv)
{
	int c;
	while ((c = cli_getopt(&prog, cmd, argc, argv)) != -1) {
		switch (c) {
		case OPT_AWS: popts.aws = 1; break;
		case OPT_MAXLEN: popts.max_len = (size_t)cli_int("--max-length", cli_optarg, 1, 1 << 30); break;
		case OPT_REJECTS: rejects.path = cli_optarg; break;
		case OPT_STRICT: rejects.strict = 1; break;
		}
	}
	int nops = argc - cli_optind;
	if (nops < 1 || nops > 2)
		cli_usage_error(&prog, cmd, "expected PATTERN and at most one EVENT");
	size_t plen;
	char *pat = pattern_arg(argv[cli_optind], &plen);
	struct pattern_set *set = pattern_set_new(&popts);
	char err[1024], why[128];
	if (pattern_set_add(set, pat, plen, err, sizeof err) < 0) {
		warnf("%s", err);
		free(pat);
		pattern_set_free(set);
		return EK_USAGE;
	}
	free(pat);
	const int *rules;
	int status = EK_NO;
	if (nops == 2) {
		const char *ev = argv[cli_optind + 1];
		int rc = pattern_set_match(set, ev, strlen(ev), &rules);
		if (rc < 0) {
			warnf("EVENT: %s", event_problem(rc, set, why, sizeof why));
			pattern_set_free(set);
			return EK_USAGE;
		}
		status = rc > 0 ? EK_OK : EK_NO;
		puts(rc > 0 ? "true" : "false");
	} else {
		struct nd_reader *r = nd_open(NULL);
		struct nd_line line;
		int more;
		while ((more = nd_next(r, &line)) > 0) {
			int rc = pattern_set_match(set, line.raw, line.len, &rules);
			if (rc < 0) {
				if (nd_reject(&rejects, &line, event_problem(rc, set, why, sizeof why)))
					break;
				continue;
			}
			status = rc > 0 ? EK_OK : EK_NO;
			nd_write(rc > 0 ? "true" : "false", rc > 0 ? 4 : 5);
		}
		if (more < 0) status = EK_FAIL;
		nd_close(r);
	}
	pattern_set_free(set);
	nd_rejects_close(&rejects);
	if (rejects.count) status = EK_REJECTED;
	return cli_exit(status);
}

/* ---- evroute check ------------------------------------------------------- */

static void rules_free(struct rules *rs)
{
	for (int i = 0; i < rs->n; i++) free(rs->v[i].name);
	free(rs->v);
}

static int cmd_check(const struct cli_cmd *cmd, int argc, char **argv)
{
	int c;
	while ((c = cli_getopt(&prog, cmd, argc, argv)) != -1) {
		switch (c) {
		case OPT_AWS: popts.aws = 1; break;
		case OPT_MAXLEN: popts.max_len = (size_t)cli_int("--max-length", cli_optarg, 1, 1 << 30); break;
		}
	}
	if (cli_optind >= argc) cli_usage_error(&prog, cmd, "expected at least one RULES file");
	int bad = 0;
	for (int i = cli_optind; i < argc; i++) {
		struct pattern_set *set = pattern_set_new(&popts);
		struct rules rs = { NULL, 0, 0 };
		bad |= load_rules(set, &rs, argv[i]) < 0;
		rules_free(&rs);
		pattern_set_free(set);
	}
	return cli_exit(bad ? EK_USAGE : EK_OK);
}

/* ---- evroute match ------------------------------------------------------- */

static void json_string(struct buf *b, const char *s)
{
	/* names come from JSON text, so only quotes, backslashes and control
	 * characters need escaping again */
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)*p);
		} else if (*p < 0x20) {
			buf_printf(b, "\\u%04x", *p);
		} else {
			buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
}

/*
 * evroute match on several threads. The main thread reads the input in
 * chunks of whole lines and writes the results of each chunk in input
 * order; workers match chunks, each with its own copy of the rules (a
 * pattern_set keeps per-event scratch space). Before a read that could
 * block (a pipe with nothing to read yet) the main thread first writes
 * every chunk in flight and flushes, so what an input line produces still
 * reaches the next program before evroute waits for more input.
 */
enum { CHUNK = 1 << 20, SLOTS = 8 };

struct rej { size_t off, len, erroff; long rel; int rc; };

struct chunk {
	struct buf data;       /* whole lines read from a pipe, or */
	const char *ptr;       /* whole lines of a mapped file: [ptr, ptr + len) */
	size_t len;
	struct buf out;        /* what to write for them */
	long nlines;
	struct rej *rj;
	int nrj, caprj;
	int done;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk ch[SLOTS];
	long taken, posted;
	int quit;
	const struct rules *rs;
	const int *byidx;
	int counting, names;
};

struct worker {
	struct pool *p;
	struct pattern_set *set;
	long *counts;
	pthread_t th;
};

static int blank_line(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
	return 1;
}

static void json_string(struct buf *b, const char *s);

static void names_line(struct buf *out, const struct rules *rs, const int *byidx,
                       const int *hit, int n, const char *raw, size_t len)
{
	buf_adds(out, "{\"rules\":[");
	for (int i = 0; i < n; i++) {
		if (i) buf_addc(out, ',');
		json_string(out, rs->v[byidx[hit[i]]].name);
	}
	buf_adds(out, "],\"event\":");
	buf_add(out, raw, len);
	buf_addc(out, '}');
}

static void process_chunk(struct worker *w, struct chunk *c)
{
	const struct pool *p = w->p;
	const char *s = c->ptr, *end = c->ptr + c->len;
	buf_reset(&c->out);
	c->nrj = 0;
	c->nlines = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		size_t len = (size_t)(le - s);
		c->nlines++;
		if (len && s[len - 1] == '\r') len--;
		if (!blank_line(s, len)) {
			const int *hit;
			int n = pattern_set_match(w->set, s, len, &hit);
			if (n < 0) {
				if (c->nrj == c->caprj) {
					c->caprj = c->caprj ? 2 * c->caprj : 8;
					c->rj = xrealloc(c->rj, (size_t)c->caprj * sizeof *c->rj);
				}
				struct rej r = { (size_t)(s - c->ptr), len,
				                 pattern_set_error_offset(w->set), c->nlines, n };
				c->rj[c->nrj++] = r;
			} else if (n > 0) {
				if (p->counting) {
					for (int i = 0; i < n; i++) w->counts[p->byidx[hit[i]]]++;
				} else if (p->names) {
					names_line(&c->out, p->rs, p->byidx, hit, n, s, len);
					buf_addc(&c->out, '\n');
				} else {
					buf_add(&c->out, s, len);
					buf_addc(&c->out, '\n');
				}
			}
		}
		s = nl ? nl + 1 : end;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->taken >= p->posted)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->taken >= p->posted) break;
		struct chunk *c = &p->ch[p->taken++ % SLOTS];
		pthread_mutex_unlock(&p->mu);
		process_chunk(w, c);
		pthread_mutex_lock(&p->mu);
		c->done = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int readable_now(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	return poll(&pf, 1, 0) > 0;
}

/* Write the oldest chunk in flight once it is done. */
static void write_oldest(struct pool *p, long *written, long *lineno, const char *name)
{
	struct chunk *c = &p->ch[*written % SLOTS];
	pthread_mutex_lock(&p->mu);
	while (!c->done) pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (c->out.len && fwrite(c->out.s, 1, c->out.len, stdout) != c->out.len)
		cli_stdout_failed();
	for (int i = 0; i < c->nrj; i++) {
		char why[128];
		struct rej *r = &c->rj[i];
		struct nd_line line = { c->ptr + r->off, r->len, *lineno + r->rel, name };
		if (r->rc == PATTERN_NOT_OBJECT)
			snprintf(why, sizeof why, "an event must be a JSON object");
		else
			snprintf(why, sizeof why, "invalid JSON at column %zu", r->erroff + 1);
		nd_reject(&rejects, &line, why);
	}
	*lineno += c->nlines;
	(*written)++;
}

static void post_chunk(struct pool *p, const char *ptr, size_t len)
{
	struct chunk *c = &p->ch[p->posted % SLOTS];
	c->ptr = ptr;
	c->len = len;
	pthread_mutex_lock(&p->mu);
	c->done = 0;
	p->posted++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* A regular file is mapped, not read: chunks are slices of the mapping,
 * so no byte is copied before it is matched. Returns 1 when the file was
 * handled this way. */
static int match_mapped(struct pool *p, int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    lseek(fd, 0, SEEK_CUR) != 0)
		return 0;
	size_t size = (size_t)st.st_size;
	char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) return 0;
	posix_madvise(map, size, POSIX_MADV_SEQUENTIAL);
	long written = p->posted, lineno = 0;
	size_t at = 0;
	while (at < size || written < p->posted) {
		if (at < size && p->posted - written < SLOTS && !cli_stopping()) {
			size_t end = at + CHUNK < size ? at + CHUNK : size;
			if (end < size) {
				const char *nl = memchr(map + end, '\n', size - end);
				end = nl ? (size_t)(nl - map) + 1 : size;
			}
			post_chunk(p, map + at, end - at);
			at = end;
			continue;
		}
		if (written == p->posted) break;
		write_oldest(p, &written, &lineno, name);
	}
	munmap(map, size);
	return 1;
}

/* Match one input on the pool; returns 0, or -1 after a read error. */
static int match_parallel(struct pool *p, int fd, const char *name)
{
	if (match_mapped(p, fd, name)) return 0;
	/* pipes, terminals and sockets cannot seek; regular files never block */
	struct { int may_block; } st = { lseek(fd, 0, SEEK_CUR) < 0 };
	struct buf pend = BUF_INIT;
	long written = p->posted, lineno = 0;
	int eof = 0, status = 0;
	for (;;) {
		if (!eof && !cli_stopping() && p->posted - written < SLOTS) {
			if (st.may_block && !readable_now(fd)) {
				if (p->posted > written) {
					write_oldest(p, &written, &lineno, name);
					continue;
				}
				nd_flush();
			}
			buf_grow(&pend, CHUNK);
			ssize_t n = read(fd, pend.s + pend.len, CHUNK);
			if (n < 0 && errno == EINTR) continue;
			if (n < 0) {
				warnf("%s: read error: %s", name, strerror(errno));
				status = -1;
				eof = 1;
			} else if (n == 0) {
				eof = 1;
			} else {
				pend.len += (size_t)n;
			}
			int post = eof || pend.len >= CHUNK || (st.may_block && !readable_now(fd));
			size_t take = pend.len;
			if (!eof)
				while (take > 0 && pend.s[take - 1] != '\n') take--;
			if (post && take) {
				struct chunk *c = &p->ch[p->posted % SLOTS];
				buf_reset(&c->data);
				buf_add(&c->data, pend.s, take);
				c->ptr = c->data.s;
				c->len = c->data.len;
				memmove(pend.s, pend.s + take, pend.len - take);
				pend.len -= take;
				pthread_mutex_lock(&p->mu);
				c->done = 0;
				p->posted++;
				pthread_cond_broadcast(&p->cv);
				pthread_mutex_unlock(&p->mu);
			}
			continue;
		}
		if (written < p->posted) {
			write_oldest(p, &written, &lineno, name);
			continue;
		}
		break;
	}
	buf_free(&pend);
	return status;
}

static int cmd_match(const struct cli_cmd *cmd, int argc, char **argv)
{
	int c, counting = 0, names = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int jobs = ncpu > 4 ? 4 : ncpu < 1 ? 1 : (int)ncpu;
	while ((c = cli_getopt(&prog, cmd, argc, argv)) != -1) {
		switch (c) {
		case OPT_AWS: popts.aws = 1; break;
		case OPT_JOBS: jobs = (int)cli_int("--jobs", cli_optarg, 1, 64); break;
		case OPT_COUNT: counting = 1; break;
		case OPT_NAMES: names = 1; break;
		case OPT_MAXLEN: popts.max_len = (size_t)cli_int("--max-length", cli_optarg, 1, 1 << 30); break;
		case OPT_REJECTS: rejects.path = cli_optarg; break;
		case OPT_STRICT: rejects.strict = 1; break;
		}
	}
	if (cli_optind >= argc) cli_usage_error(&prog, cmd, "expected a RULES file");
	if (counting && names) cli_usage_error(&prog, cmd, "--count and --names exclude each other");
	if (rejects.strict) jobs = 1;  /* stopping at a line is simplest in order */
	struct pattern_set *set = pattern_set_new(&popts);
	struct rules rs = { NULL, 0, 0 };
	if (jobs > 1) {
		n_extra = jobs - 1;
		extra_sets = xcalloc((size_t)n_extra, sizeof *extra_sets);
		for (int i = 0; i < n_extra; i++) extra_sets[i] = pattern_set_new(&popts);
	}
	if (load_rules(set, &rs, argv[cli_optind]) < 0) {
		rules_free(&rs);
		pattern_set_free(set);
		for (int i = 0; i < n_extra; i++) pattern_set_free(extra_sets[i]);
		free(extra_sets);
		return cli_exit(EK_USAGE);
	}
	/* the set's rule index -> our rule */
	int nset = pattern_set_count(set);
	int *byidx = xmalloc(((size_t)nset + 1) * sizeof *byidx);
	for (int i = 0; i < rs.n; i++)
		if (rs.v[i].index >= 0) byidx[rs.v[i].index] = i;

	int status = EK_OK, stop = 0;
	struct buf out = BUF_INIT;
	char why[128];
	int first = cli_optind + 1;
	if (jobs > 1) {
		struct pool *pl = xcalloc(1, sizeof *pl);
		struct worker *ws = xcalloc((size_t)jobs, sizeof *ws);
		pthread_mutex_init(&pl->mu, NULL);
		pthread_cond_init(&pl->cv, NULL);
		pl->rs = &rs;
		pl->byidx = byidx;
		pl->counting = counting;
		pl->names = names;
		for (int i = 0; i < jobs; i++) {
			ws[i].p = pl;
			ws[i].set = i ? extra_sets[i - 1] : set;
			ws[i].counts = xcalloc((size_t)rs.n + 1, sizeof *ws[i].counts);
			if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
				dief(EK_FAIL, "cannot start a thread: %s", strerror(errno));
		}
		for (int fi = first; fi < argc || fi == first; fi++) {
			const char *path = fi < argc ? argv[fi] : "-";
			int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				warnf("%s: %s", path, strerror(errno));
				status = EK_FAIL;
				continue;
			}
			if (match_parallel(pl, fd, fd == 0 ? "stdin" : path) < 0) status = EK_FAIL;
			if (fd != 0) close(fd);
			if (cli_stopping()) break;
		}
		pthread_mutex_lock(&pl->mu);
		pl->quit = 1;
		pthread_cond_broadcast(&pl->cv);
		pthread_mutex_unlock(&pl->mu);
		for (int i = 0; i < jobs; i++) {
			pthread_join(ws[i].th, NULL);
			for (int r = 0; r < rs.n; r++) rs.v[r].count += ws[i].counts[r];
			free(ws[i].counts);
		}
		for (int i = 0; i < SLOTS; i++) {
			buf_free(&pl->ch[i].data);
			buf_free(&pl->ch[i].out);
			free(pl->ch[i].rj);
		}
		pthread_mutex_destroy(&pl->mu);
		pthread_cond_destroy(&pl->cv);
		free(pl);
		free(ws);
		first = argc;  /* nothing left for the loop below */
	}
	for (int fi = first; jobs == 1 && (fi < argc || fi == first); fi++) {
		const char *path = fi < argc ? argv[fi] : NULL;
		struct nd_reader *r = nd_open(path);
		if (!r) {
			warnf("%s: %s", path, strerror(errno));
			status = EK_FAIL;
			continue;
		}
		struct nd_line line;
		int more;
		const int *hit;
		while ((more = nd_next(r, &line)) > 0) {
			int n = pattern_set_match(set, line.raw, line.len, &hit);
			if (n < 0) {
				if (nd_reject(&rejects, &line, event_problem(n, set, why, sizeof why))) {
					stop = 1;
					break;
				}
				continue;
			}
			if (n == 0) continue;
			if (counting) {
				for (int i = 0; i < n; i++) rs.v[byidx[hit[i]]].count++;
			} else if (names) {
				buf_reset(&out);
				names_line(&out, &rs, byidx, hit, n, line.raw, line.len);
				nd_write(out.s, out.len);
			} else {
				nd_write(line.raw, line.len);
			}
		}
		if (more < 0) status = EK_FAIL;
		nd_close(r);
		if (stop) break;
	}
	if (counting) {
		buf_reset(&out);
		buf_addc(&out, '{');
		for (int i = 0; i < rs.n; i++) {
			if (i) buf_addc(&out, ',');
			json_string(&out, rs.v[i].name);
			buf_printf(&out, ":%ld", rs.v[i].count);
		}
		buf_addc(&out, '}');
		nd_write(out.s, out.len);
	}
	buf_free(&out);
	free(byidx);
	rules_free(&rs);
	pattern_set_free(set);
	for (int i = 0; i < n_extra; i++) pattern_set_free(extra_sets[i]);
	free(extra_sets);
	nd_rejects_close(&rejects);
	if (rejects.count && status == EK_OK) status = EK_REJECTED;
	return cli_exit(status);
}

int main(int argc, char **argv)
{
	cli_init(&prog, argc, argv);
	const struct cli_cmd *cmd = cli_command(&prog, argc, argv);
	argc--;   /* cli_command moved the command word to the end */
	if (strcmp(cmd->name, "test") == 0) return cmd_test(cmd, argc, argv);
	if (strcmp(cmd->name, "check") == 0) return cmd_check(cmd, argc, argv);
	return cmd_match(cmd, argc, argv);
}
