/*
 * cli.h: what every evkit program shares on its command line: the exit
 * codes, diagnostics, one option table that drives getopt_long, --help,
 * --version and the hidden --complete request used by bash completion, and
 * the handling of SIGPIPE, SIGINT and SIGTERM.
 *
 * Ownership: the tables are the program's (usually static const); nothing
 * here keeps or frees them. cli_optarg points into argv.
 */
#ifndef EVKIT_CLI_H
#define EVKIT_CLI_H

#include <stdio.h>

/* Exit status, the same in every program (evkit(7), EXIT STATUS). */
enum {
	EK_OK = 0,         /* success */
	EK_NO = 1,         /* a "no" (no match), or the work itself failed */
	EK_FAIL = 1,
	EK_USAGE = 2,      /* bad option or invalid definition: nothing done */
	EK_REJECTED = 3,   /* some input records were rejected, the rest done */
	EK_STATE = 4,      /* the state file cannot be used */
	EK_TEMPFAIL = 75,  /* state file busy past its timeout: retry later */
};

/* What the argument of an option, or a positional argument, completes to. */
enum cli_complete {
	CC_NONE = 0,
	CC_FILE,      /* file names */
	CC_WORDS,     /* the words in cli_opt.words, separated by '|' */
	CC_DYNAMIC,   /* ask the program: cli_cmd.complete_fn */
};

struct cli_opt {
	int id;             /* returned by cli_getopt: a short letter, or >= 256 */
	const char *name;   /* long name, without "--" */
	int letter;         /* short option letter, or 0 */
	const char *arg;    /* the argument's placeholder ("FILE"), NULL if none */
	const char *help;   /* one line for --help */
	enum cli_complete complete;
	const char *words;  /* for CC_WORDS: "spawn|stream" */
};
#define CLI_END { 0, NULL, 0, NULL, NULL, CC_NONE, NULL }

/* Options every program accepts; ids at the top of the range. */
enum { OPT_HELP = 'h', OPT_VERSION = 0x7f01, OPT_STATE = 0x7f02,
       OPT_STRICT = 0x7f03, OPT_REJECTS = 0x7f04 };
#define CLI_OPT_HELP { OPT_HELP, "help", 'h', NULL, "print this help and exit", CC_NONE, NULL }
#define CLI_OPT_STATE { OPT_STATE, "state", 0, "FILE", \
	"the state file (default $EVKIT_STATE, else $XDG_STATE_HOME/evkit/state.db)", CC_FILE, NULL }
#define CLI_OPT_STRICT { OPT_STRICT, "strict", 0, NULL, \
	"stop at the first rejected input line", CC_NONE, NULL }
#define CLI_OPT_REJECTS { OPT_REJECTS, "rejects", 0, "FILE", \
	"append rejected input lines to FILE", CC_FILE, NULL }

struct cli_cmd {
	const char *name;      /* subcommand; NULL for the program itself */
	const char *args;      /* synopsis of the operands: "NAME [PAYLOAD]" */
	const char *summary;   /* one line */
	const struct cli_opt *opts;  /* ends with CLI_END */
	/* Completion of the operands: the kind for operand 1, 2, ... (the
	 * last one repeats); CC_DYNAMIC calls complete_fn(kind index). */
	enum cli_complete operands[4];
	void (*complete_fn)(int operand, const char *state_path);
};

struct cli_prog {
	const char *name;
	const char *summary;          /* one line for --help */
	const struct cli_opt *opts;   /* options before any subcommand */
	const struct cli_cmd *cmds;   /* ends with { NULL }; NULL if none */
	const char *more;             /* extra text at the end of --help */
};

/* Set the program name used in diagnostics, install the signal handlers,
 * and answer "--complete" and "--version" if they are argv[1] (these exit). */
void cli_init(const struct cli_prog *p, int argc, char **argv);
extern const char *cli_prog_name;

/* Find the subcommand named argv[1]; prints usage and exits 2 when there is
 * none or it is unknown, and answers "PROG --help" itself. */
const struct cli_cmd *cli_command(const struct cli_prog *p, int argc, char **argv);

/*
 * Like getopt_long over the table: returns the id of the next option,
 * -1 at the end of the options (cli_optind is then the first operand).
 * Unknown options and missing arguments print usage and exit 2; --help
 * prints the command's help to stdout and exits 0. Call cli_getopt_reset()
 * before parsing a second argv.
 */
int cli_getopt(const struct cli_prog *p, const struct cli_cmd *cmd,
               int argc, char **argv);
extern char *cli_optarg;
extern int cli_optind;

void cli_usage(const struct cli_prog *p, const struct cli_cmd *cmd, FILE *f);
_Noreturn void cli_usage_error(const struct cli_prog *p, const struct cli_cmd *cmd,
                               const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Diagnostics: "PROG: message" on stderr. */
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void dief(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "PROG: FILE:LINE: message", for input data. */
void warn_at(const char *file, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Numbers from the command line: the whole string, in [lo, hi]; on error
 * prints "PROG: OPTION: why" and exits 2. */
long long cli_int(const char *what, const char *s, long long lo, long long hi);
double cli_double(const char *what, const char *s, double lo, double hi);

/* Non-zero once SIGINT or SIGTERM arrived: finish the record in hand, commit
 * and exit with cli_exit(). A second signal ends the program at once. */
int cli_stopping(void);
int cli_signal(void);            /* the signal that arrived, or 0 */
/* The program has done what a stop request asks (finished its work in
 * hand, released what it held): cli_exit then returns the status as it
 * is, not 128+signal. For daemons whose documented answer to SIGTERM is a
 * clean exit. */
void cli_signal_done(void);
/* Flush stdout, report a write error, and return status, or 128+signal when
 * a signal asked the program to stop. The last call of main(). */
int cli_exit(int status);

/* Write to stdout failed: on EPIPE end quietly as if killed by SIGPIPE,
 * else report and exit 1. */
_Noreturn void cli_stdout_failed(void);

#endif
