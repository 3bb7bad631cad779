/* util.h: the growable buffer keeps its invariants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util.h"

static void buffers(void)
{
	struct buf b = BUF_INIT;
	CHECK_STR(buf_str(&b), "");
	buf_adds(&b, "ab");
	buf_addc(&b, 'c');
	buf_printf(&b, "-%d-%s", 42, "x");
	CHECK_STR(b.s, "abc-42-x");
	CHECK_INT(b.len, 8);
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.s, "");
	/* Grows past many doublings, stays NUL-terminated. */
	for (int i = 0; i < 10000; i++)
		buf_add(&b, "0123456789", 10);
	CHECK_INT(b.len, 100000);
	CHECK(b.s[b.len] == '\0');
	char big[5000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_reset(&b);
	buf_printf(&b, "%s!", big);   /* longer than the first vsnprintf try */
	CHECK_INT(b.len, 5000);
	CHECK(b.s[4999] == '!');
	char *s = buf_detach(&b);
	CHECK(b.s == NULL && b.len == 0);
	CHECK_INT(strlen(s), 5000);
	free(s);
	s = buf_detach(&b);           /* an empty buffer detaches as "" */
	CHECK_STR(s, "");
	free(s);
	buf_add(&b, "a\0b", 3);       /* binary data is kept */
	CHECK_INT(b.len, 3);
	CHECK(memcmp(b.s, "a\0b", 3) == 0);
	buf_free(&b);
}

static void strings(void)
{
	char *s = xstrndup("hello", 3);
	CHECK_STR(s, "hel");
	free(s);
	s = xstrdup("");
	CHECK_STR(s, "");
	free(s);
}

static void files(void)
{
	char dir[64];
	if (unit_tmpdir(dir, "util") != 0)
		return;
	char path[128];
	snprintf(path, sizeof path, "%s/f", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 20000; i++)
		fputs("0123456789", f);
	fclose(f);
	struct buf b = BUF_INIT;
	buf_adds(&b, "x");
	CHECK_INT(buf_read_file(&b, path), 0);
	CHECK_INT(b.len, 200001);
	CHECK(memcmp(b.s, "x0123", 5) == 0);
	buf_free(&b);
	snprintf(path, sizeof path, "%s/missing", dir);
	CHECK_INT(buf_read_file(&b, path), -1);
	CHECK(b.len == 0);
	unit_rmrf(dir);
}

int main(void)
{
	RUN(buffers);
	RUN(strings);
	RUN(files);
	return UNIT_DONE();
}
