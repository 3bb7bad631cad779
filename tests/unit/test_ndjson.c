/* ndjson.h: lines of any length, bad lines skipped without losing the
 * next, a last line without a newline, CRLF, blank lines. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ndjson.h"
#include "unit.h"

/* A reader over the given bytes, through a temporary file. */
static struct nd_reader *over(const char *data, size_t n)
{
	char path[] = "/tmp/evkit-unit-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
	struct nd_reader *r = nd_open(path);
	unlink(path);
	return r;
}

static void lines_and_numbers(void)
{
	const char in[] = "{\"a\":1}\n\n  \nnot json\r\n{\"b\":2}\r\n[3]";
	struct nd_reader *r = over(in, sizeof in - 1);
	struct nd_line l;
	struct buf why = BUF_INIT;
	CHECK_INT(nd_next(r, &l), 1);
	CHECK_STR(l.raw, "{\"a\":1}");
	CHECK_INT(l.lineno, 1);
	CHECK_INT(nd_next(r, &l), 1);   /* blank lines 2 and 3 are skipped */
	CHECK_STR(l.raw, "not json");   /* CR dropped */
	CHECK_INT(l.lineno, 4);
	jv v = nd_parse(&l, &why);
	CHECK(!jv_is_valid(v));
	CHECK(strstr(why.s, "invalid JSON") != NULL);
	CHECK_INT(nd_next(r, &l), 1);   /* the bad line did not take the next one */
	CHECK_STR(l.raw, "{\"b\":2}");
	CHECK_INT(l.lineno, 5);
	CHECK_INT(nd_next(r, &l), 1);   /* no final newline */
	CHECK_STR(l.raw, "[3]");
	CHECK_INT(l.len, 3);
	CHECK_INT(nd_next(r, &l), 0);
	CHECK_INT(nd_next(r, &l), 0);
	nd_close(r);
	buf_free(&why);
}

static void long_lines(void)
{
	/* 10 MB line between two short ones, then a truncated value. */
	size_t n = 10 * 1024 * 1024;
	struct buf b = BUF_INIT;
	buf_adds(&b, "1\n\"");
	buf_grow(&b, n);
	memset(b.s + b.len, 'y', n);
	b.len += n;
	buf_adds(&b, "\"\n{\"trunc\":\n2\n");
	struct nd_reader *r = over(b.s, b.len);
	struct nd_line l;
	CHECK_INT(nd_next(r, &l), 1);
	CHECK_STR(l.raw, "1");
	CHECK_INT(nd_next(r, &l), 1);
	CHECK_INT(l.len, (long long)n + 2);
	jv v = nd_parse(&l, NULL);
	CHECK(jv_get_kind(v) == JV_KIND_STRING);
	jv_free(v);
	CHECK_INT(nd_next(r, &l), 1);
	v = nd_parse(&l, NULL);
	CHECK(!jv_is_valid(v));
	CHECK_INT(nd_next(r, &l), 1);
	CHECK_STR(l.raw, "2");
	CHECK_INT(l.lineno, 4);
	CHECK_INT(nd_next(r, &l), 0);
	nd_close(r);
	buf_free(&b);
}

static void invalid_utf8_line(void)
{
	const char in[] = "\"ok\"\n\"\xc3\x28\"\n\"fine\"\n";
	struct nd_reader *r = over(in, sizeof in - 1);
	struct nd_line l;
	struct buf why = BUF_INIT;
	nd_next(r, &l);
	nd_next(r, &l);
	jv v = nd_parse(&l, &why);
	CHECK(!jv_is_valid(v));
	CHECK_STR(why.s, "invalid UTF-8 at column 2");
	CHECK_INT(nd_next(r, &l), 1);
	CHECK_STR(l.raw, "\"fine\"");
	nd_close(r);
	buf_free(&why);
}

static void missing_file(void)
{
	CHECK(nd_open("/nonexistent/evkit/file") == NULL);
}

static void rejects_file(void)
{
	char path[] = "/tmp/evkit-rej-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct nd_rejects rj = { path, 0, 0, NULL };
	struct nd_line l = { "bad line", 8, 7, "input" };
	unit_quiet(1);  /* the message itself is tested by the CLI tests */
	CHECK_INT(nd_reject(&rj, &l, "invalid JSON"), 0);
	rj.strict = 1;
	CHECK_INT(nd_reject(&rj, &l, "invalid JSON"), 1);
	unit_quiet(0);
	nd_rejects_close(&rj);
	CHECK_INT(rj.count, 2);
	FILE *f = fopen(path, "r");
	char got[64] = "";
	size_t n = fread(got, 1, sizeof got - 1, f);
	got[n] = '\0';
	fclose(f);
	unlink(path);
	CHECK_STR(got, "bad line\nbad line\n");
}

int main(void)
{
	RUN(lines_and_numbers);
	RUN(long_lines);
	RUN(invalid_utf8_line);
	RUN(missing_file);
	RUN(rejects_file);
	return UNIT_DONE();
}
