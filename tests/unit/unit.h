/*
 * unit.h: the in-tree unit test harness. Each tests/unit/test_*.c is one
 * program whose main() calls RUN(fn) for each test function; every check
 * prints one TAP line ("ok N - what" or "not ok N - what"), and tests/run
 * counts those lines across all programs. A failed check prints where it
 * failed and what it saw, then the test function goes on (checks are not
 * fatal), so one run shows every failure.
 *
 * Tests take no time measurements and sleep only where a clock cannot be
 * moved instead.
 */
#ifndef EVKIT_UNIT_H
#define EVKIT_UNIT_H

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int unit_n, unit_failed;
static const char *unit_test = "";

static inline int unit_report(int ok, const char *file, int line,
                              const char *what, const char *detail)
{
	unit_n++;
	if (ok) {
		printf("ok %d - %s: %s\n", unit_n, unit_test, what);
	} else {
		unit_failed++;
		printf("not ok %d - %s: %s\n#   at %s:%d%s%s\n", unit_n, unit_test,
		       what, file, line, detail ? "\n#   " : "", detail ? detail : "");
	}
	fflush(stdout);
	return ok;
}

/* CHECK(cond): a boolean check, reported with its source text. */
#define CHECK(c) unit_report(!!(c), __FILE__, __LINE__, #c, NULL)

/* CHECK_INT(a, b): two integers equal; prints both when they differ. */
#define CHECK_INT(a, b) do { \
	long long unit_a_ = (long long)(a), unit_b_ = (long long)(b); \
	char unit_d_[128]; \
	snprintf(unit_d_, sizeof unit_d_, "got %lld, want %lld", unit_a_, unit_b_); \
	unit_report(unit_a_ == unit_b_, __FILE__, __LINE__, #a " == " #b, unit_d_); \
} while (0)

/* CHECK_STR(a, b): two C strings equal (NULL equals only NULL). */
#define CHECK_STR(a, b) do { \
	const char *unit_a_ = (a), *unit_b_ = (b); \
	int unit_ok_ = (!unit_a_ || !unit_b_) ? unit_a_ == unit_b_ \
	                                      : strcmp(unit_a_, unit_b_) == 0; \
	char unit_d_[512]; \
	snprintf(unit_d_, sizeof unit_d_, "got \"%.200s\", want \"%.200s\"", \
	         unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
	unit_report(unit_ok_, __FILE__, __LINE__, #a " == " #b, unit_d_); \
} while (0)

#define RUN(fn) do { unit_test = #fn; fn(); } while (0)

/* unit_quiet(1) sends stderr to /dev/null until unit_quiet(0): for calls
 * whose messages are the CLI tests' business, not the unit tests'. */
static inline void unit_quiet(int on)
{
	static int saved = -1;
	fflush(stderr);
	if (on && saved < 0) {
		saved = dup(2);
		int n = open("/dev/null", O_WRONLY);
		dup2(n, 2);
		close(n);
	} else if (!on && saved >= 0) {
		dup2(saved, 2);
		close(saved);
		saved = -1;
	}
}

/* A fresh temporary folder (dir holds at least 64 bytes), and its removal
 * with everything in it. */
static inline int unit_tmpdir(char *dir, const char *tag)
{
	snprintf(dir, 64, "/tmp/evkit-%s-XXXXXX", tag);
	return mkdtemp(dir) ? 0 : -1;
}

static inline void unit_rmrf(const char *dir)
{
	extern char **environ;
	char *argv[] = { "rm", "-rf", (char *)dir, NULL };
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
}

/* UNIT_DONE: the last statement of main(). */
#define UNIT_DONE() (printf("1..%d\n", unit_n), unit_failed ? 1 : 0)

#endif
