#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "ndjson.h"

struct nd_reader {
	int fd, own_fd;
	int may_block;      /* a pipe, socket or terminal */
	int eof;
	char *name;
	char *buf;
	size_t start, end, cap;  /* unread bytes are buf[start..end) */
	size_t scanned;          /* bytes after start known to hold no '\n' */
	long lineno;
};

enum { ND_CHUNK = 64 * 1024 };

static int stdout_setup;

static void setup_stdout(void)
{
	if (stdout_setup)
		return;
	stdout_setup = 1;
	/* Full buffering even on a terminal: the reader flushes before it can
	 * block, which is what interactive use needs. */
	static char obuf[ND_CHUNK];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
}

struct nd_reader *nd_fdopen(int fd, const char *name)
{
	struct nd_reader *r = xcalloc(1, sizeof *r);
	struct stat st;
	r->fd = fd;
	r->may_block = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
	r->name = xstrdup(name);
	r->cap = ND_CHUNK;
	r->buf = xmalloc(r->cap + 1);
	setup_stdout();
	return r;
}

struct nd_reader *nd_open(const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return nd_fdopen(0, "stdin");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct nd_reader *r = nd_fdopen(fd, path);
	r->own_fd = 1;
	return r;
}

void nd_close(struct nd_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	free(r->buf);
	free(r);
}

/* Read more bytes after end, growing or compacting the buffer. Returns
 * bytes read, 0 at EOF, -1 on error. */
static ssize_t fill(struct nd_reader *r)
{
	if (r->start > 0 && (r->start == r->end || r->start > r->cap / 2)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < ND_CHUNK / 2) {
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap + 1);
	}
	if (r->may_block)
		nd_flush();
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n >= 0) {
			r->end += (size_t)n;
			return n;
		}
		if (errno == EINTR && !cli_stopping())
			continue;
		if (errno == EINTR)
			return 0;
		return -1;
	}
}

int nd_ready(struct nd_reader *r)
{
	size_t avail = r->end - r->start;
	return r->eof || (avail > r->scanned &&
	                  memchr(r->buf + r->start + r->scanned, '\n', avail - r->scanned));
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int nd_next(struct nd_reader *r, struct nd_line *line)
{
	for (;;) {
		char *nl = NULL;
		size_t avail = r->end - r->start;
		if (avail > r->scanned)
			nl = memchr(r->buf + r->start + r->scanned, '\n', avail - r->scanned);
		if (!nl && !r->eof) {
			if (cli_stopping())
				return 0;
			r->scanned = avail;
			ssize_t n = fill(r);
			if (n < 0) {
				warnf("%s: read error: %s", r->name, strerror(errno));
				return -1;
			}
			if (n == 0)
				r->eof = 1;
			continue;
		}
		size_t len;
		char *s = r->buf + r->start;
		if (nl) {
			len = (size_t)(nl - s);
			r->start += len + 1;
		} else {
			if (avail == 0)
				return 0;
			len = avail;  /* the last line, without a final newline */
			r->start = r->end;
		}
		r->scanned = 0;
		r->lineno++;
		if (len && s[len - 1] == '\r')
			len--;
		if (blank(s, len))
			continue;
		s[len] = '\0';  /* the '\n' or '\r' slot, or the spare byte at cap */
		line->raw = s;
		line->len = len;
		line->lineno = r->lineno;
		line->file = r->name;
		return 1;
	}
}

jv nd_parse(const struct nd_line *line, struct buf *why)
{
	return jx_parse(line->raw, line->len, why);
}

void nd_rejects_open(struct nd_rejects *rj)
{
	if (rj->path && !rj->fp) {
		rj->fp = fopen(rj->path, "a");
		if (!rj->fp)
			dief(EK_USAGE, "--rejects %s: %s", rj->path, strerror(errno));
	}
}

int nd_reject(struct nd_rejects *rj, const struct nd_line *line, const char *why)
{
	warn_at(line->file, line->lineno, "%s", why);
	rj->count++;
	if (rj->path) {
		nd_rejects_open(rj);
		fwrite(line->raw, 1, line->len, rj->fp);
		fputc('\n', rj->fp);
	}
	return rj->strict;
}

void nd_rejects_close(struct nd_rejects *rj)
{
	if (rj->fp && fclose(rj->fp) != 0)
		warnf("--rejects %s: %s", rj->path, strerror(errno));
	rj->fp = NULL;
}

void nd_write(const char *raw, size_t len)
{
	setup_stdout();
	if (fwrite(raw, 1, len, stdout) != len || putchar('\n') == EOF)
		cli_stdout_failed();
}

void nd_write_jv(jv v)
{
	jv s = jv_dump_string(jv_copy(v), 0);
	nd_write(jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)));
	jv_free(s);
}

void nd_flush(void)
{
	if (fflush(stdout) != 0)
		cli_stdout_failed();
}
