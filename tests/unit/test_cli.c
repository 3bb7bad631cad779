/* cli.h: one option table drives parsing; numbers are checked whole;
 * bad numbers and options end with exit status 2. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unit.h"

enum { O_NUM = 'n', O_NAME = 0x200, O_FLAG = 'f' };

static const struct cli_opt opts[] = {
	{ O_NUM, "num", 'n', "N", "a number", CC_NONE, NULL },
	{ O_NAME, "name", 0, "NAME", "a name", CC_NONE, NULL },
	{ O_FLAG, "flag", 'f', NULL, "a flag", CC_NONE, NULL },
	CLI_END,
};
static const struct cli_opt common[] = { CLI_OPT_HELP, CLI_OPT_STATE, CLI_END };
static const struct cli_cmd cmds[] = {
	{ "go", "ARG", "go somewhere", opts, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
	{ NULL, NULL, NULL, NULL, { CC_NONE, CC_NONE, CC_NONE, CC_NONE }, NULL },
};
static const struct cli_prog prog = { "t", "a test", common, cmds, NULL };

static void parsing(void)
{
	char *argv[] = { "t", "--state", "s.db", "go", "-n", "5", "x", "--name=bob", "-f",
	                 "--", "-y", NULL };
	int argc = 11;
	const struct cli_cmd *c = cli_command(&prog, argc, argv);
	CHECK(c == &cmds[0]);
	argc--;
	int n = 0, f = 0, ids = 0;
	const char *name = NULL, *state = NULL;
	int id;
	while ((id = cli_getopt(&prog, c, argc, argv)) != -1) {
		ids++;
		if (id == O_NUM)
			n = (int)cli_int("--num", cli_optarg, 0, 10);
		else if (id == O_NAME)
			name = cli_optarg;
		else if (id == O_FLAG)
			f = 1;
		else if (id == OPT_STATE)
			state = cli_optarg;
	}
	CHECK_INT(ids, 4);
	CHECK_INT(n, 5);
	CHECK_STR(name, "bob");
	CHECK_STR(state, "s.db");
	CHECK(f);
	/* Operands, in order, after the options; "--" protects "-y". */
	CHECK_INT(argc - cli_optind, 2);
	CHECK_STR(argv[cli_optind], "x");
	CHECK_STR(argv[cli_optind + 1], "-y");
}

/* Run fn in a child; its exit status. */
static int exit_of(void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		unit_quiet(1);
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void bad_int(void) { cli_int("--n", "12abc", 0, 100); }
static void big_int(void) { cli_int("--n", "101", 0, 100); }
static void bad_double(void) { cli_double("--x", "nan", 0, 1); }
static void bad_option(void)
{
	char *argv[] = { "t", "go", "--nope", NULL };
	const struct cli_cmd *c = cli_command(&prog, 3, argv);
	while (cli_getopt(&prog, c, 2, argv) != -1)
		;
}
static void missing_arg(void)
{
	char *argv[] = { "t", "go", "--num", NULL };
	const struct cli_cmd *c = cli_command(&prog, 3, argv);
	while (cli_getopt(&prog, c, 2, argv) != -1)
		;
}
static void unknown_cmd(void)
{
	char *argv[] = { "t", "fly", NULL };
	cli_command(&prog, 2, argv);
}

static void errors(void)
{
	CHECK_INT(cli_int("--n", "-3", -5, 5), -3);
	CHECK(cli_double("--x", "0.25", 0, 1) == 0.25);
	CHECK_INT(exit_of(bad_int), EK_USAGE);
	CHECK_INT(exit_of(big_int), EK_USAGE);
	CHECK_INT(exit_of(bad_double), EK_USAGE);
	CHECK_INT(exit_of(bad_option), EK_USAGE);
	CHECK_INT(exit_of(missing_arg), EK_USAGE);
	CHECK_INT(exit_of(unknown_cmd), EK_USAGE);
}

int main(void)
{
	RUN(parsing);
	RUN(errors);
	return UNIT_DONE();
}
