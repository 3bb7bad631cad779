#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#ifndef EVKIT_VERSION
#define EVKIT_VERSION "0.1.0"
#endif

const char *cli_prog_name = "evkit";
char *cli_optarg;
int cli_optind = 1;

static volatile sig_atomic_t got_signal;

static void on_stop(int sig)
{
	got_signal = sig;
	/* A second signal ends the program the default way. */
	signal(sig, SIG_DFL);
}

int cli_stopping(void)
{
	return got_signal != 0;
}

int cli_signal(void)
{
	return got_signal;
}

void cli_signal_done(void)
{
	got_signal = 0;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	/* Writes to a closed pipe (a child's stdin, our stdout) report EPIPE,
	 * which the writers handle; see cli_stdout_failed. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: a read blocked on input returns EINTR, so the loop
	 * notices the request to stop. */
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void vwarn(const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s: %s", cli_prog_name, prefix ? prefix : "");
	buf_vprintf(&b, fmt, ap);
	buf_addc(&b, '\n');
	fflush(stdout);
	fputs(b.s, stderr);
	buf_free(&b);
}

void warnf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
}

void dief(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	exit(status);
}

void warn_at(const char *file, long line, const char *fmt, ...)
{
	char where[512];
	snprintf(where, sizeof where, "%s:%ld: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	vwarn(where, fmt, ap);
	va_end(ap);
}

void cli_stdout_failed(void)
{
	if (errno == EPIPE) {
		/* The reader went away: end as a filter killed by SIGPIPE would,
		 * without a message. */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		_exit(141);
	}
	int e = errno;
	fprintf(stderr, "%s: write error on standard output: %s\n", cli_prog_name,
	        strerror(e));
	_exit(EK_FAIL);
}

int cli_exit(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		cli_stdout_failed();
	if (got_signal)
		return 128 + got_signal;
	return status;
}

/* ---- option tables ------------------------------------------------------ */

static size_t count_opts(const struct cli_opt *o)
{
	size_t n = 0;
	while (o && o[n].name)
		n++;
	return n;
}

static const struct cli_opt *find_long(const struct cli_opt *o, const char *name,
                                       size_t len)
{
	for (size_t i = 0; o && o[i].name; i++)
		if (strlen(o[i].name) == len && memcmp(o[i].name, name, len) == 0)
			return &o[i];
	return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *o, int c)
{
	for (size_t i = 0; o && o[i].name; i++)
		if (o[i].letter == c)
			return &o[i];
	return NULL;
}

static void print_opts(const struct cli_opt *o, FILE *f)
{
	for (size_t i = 0; o && o[i].name; i++) {
		char left[96];
		int n = snprintf(left, sizeof left, "%c%c%s--%s%s%s",
		                 o[i].letter ? '-' : ' ', o[i].letter ? o[i].letter : ' ',
		                 o[i].letter ? ", " : "  ", o[i].name,
		                 o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
		if (n < 26)
			fprintf(f, "  %-26s %s\n", left, o[i].help);
		else
			fprintf(f, "  %s\n  %-26s %s\n", left, "", o[i].help);
	}
}

void cli_usage(const struct cli_prog *p, const struct cli_cmd *cmd, FILE *f)
{
	if (cmd && cmd->name) {
		fprintf(f, "usage: %s %s [OPTIONS]%s%s\n%s\n", p->name, cmd->name,
		        cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
		fprintf(f, "\noptions:\n");
		print_opts(cmd->opts, f);
		print_opts(p->opts, f);
		if (!p->cmds && p->more)
			fprintf(f, "\n%s", p->more);
		return;
	}
	if (p->cmds) {
		fprintf(f, "usage: %s COMMAND [OPTIONS] [ARGS]\n%s\n\ncommands:\n",
		        p->name, p->summary);
		for (const struct cli_cmd *c = p->cmds; c->name; c++) {
			char left[96];
			snprintf(left, sizeof left, "%s %s", c->name, c->args ? c->args : "");
			if (strlen(left) < 30)
				fprintf(f, "  %-30s %s\n", left, c->summary);
			else
				fprintf(f, "  %s\n  %-30s %s\n", left, "", c->summary);
		}
		fprintf(f, "\noptions:\n");
		print_opts(p->opts, f);
		fprintf(f, "      --version                print the version and exit\n");
		fprintf(f, "\n'%s COMMAND --help' describes one command; man %s for more.\n",
		        p->name, p->name);
	} else {
		fprintf(f, "usage: %s [OPTIONS]%s%s\n%s\n\noptions:\n", p->name,
		        cmd && cmd->args ? " " : "", cmd && cmd->args ? cmd->args : "",
		        p->summary);
		if (cmd)
			print_opts(cmd->opts, f);
		print_opts(p->opts, f);
		fprintf(f, "      --version                print the version and exit\n");
	}
	if (p->more)
		fprintf(f, "\n%s", p->more);
}

void cli_usage_error(const struct cli_prog *p, const struct cli_cmd *cmd,
                     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(NULL, fmt, ap);
	va_end(ap);
	if (cmd && cmd->name)
		fprintf(stderr, "usage: %s %s [OPTIONS]%s%s\nTry '%s %s --help'.\n",
		        p->name, cmd->name, cmd->args ? " " : "",
		        cmd->args ? cmd->args : "", p->name, cmd->name);
	else
		fprintf(stderr, "Try '%s --help'.\n", p->name);
	exit(EK_USAGE);
}

/* ---- completion ----------------------------------------------------------- */

static void complete_kind(enum cli_complete kind, const char *words,
                          const struct cli_cmd *cmd, int operand,
                          const char *state)
{
	switch (kind) {
	case CC_FILE:
		puts("@file");
		break;
	case CC_WORDS:
		for (const char *w = words; w && *w;) {
			const char *bar = strchr(w, '|');
			size_t n = bar ? (size_t)(bar - w) : strlen(w);
			printf("%.*s\n", (int)n, w);
			w += n + (bar ? 1 : 0);
		}
		break;
	case CC_DYNAMIC:
		if (cmd && cmd->complete_fn)
			cmd->complete_fn(operand, state);
		break;
	case CC_NONE:
		break;
	}
}

/* The option a command-line word names. *inline_arg is set when the word
 * carries its own argument ("--opt=value"), so the next word is not it. */
static const struct cli_opt *lookup_word(const struct cli_prog *p,
                                         const struct cli_cmd *cmd, const char *w,
                                         const char **inline_arg)
{
	const struct cli_opt *o = NULL;
	*inline_arg = NULL;
	if (w[0] == '-' && w[1] == '-') {
		const char *eq = strchr(w + 2, '=');
		size_t len = eq ? (size_t)(eq - w - 2) : strlen(w + 2);
		o = find_long(p->opts, w + 2, len);
		if (!o && cmd)
			o = find_long(cmd->opts, w + 2, len);
		if (o && eq)
			*inline_arg = eq + 1;
	} else if (w[0] == '-' && w[1] && !w[2]) {
		o = find_short(p->opts, w[1]);
		if (!o && cmd)
			o = find_short(cmd->opts, w[1]);
	}
	return o;
}

/*
 * "PROG --complete CWORD WORD..." prints the candidates for WORD[CWORD], one
 * a line; "@file" asks the shell to complete file names. The words are
 * those of the command line being completed, WORD[0] being the program.
 */
static void complete(const struct cli_prog *p, int cword, int nw, char **w)
{
	const struct cli_cmd *cmd = NULL;
	const char *state = NULL;
	int operand = 0, after_dashes = 0;
	const char *cur = cword < nw ? w[cword] : "";

	if (!p->cmds)
		cmd = NULL;
	for (int i = 1; i < cword && i < nw; i++) {
		if (after_dashes)
			continue;
		if (strcmp(w[i], "--") == 0) {
			after_dashes = 1;
			continue;
		}
		const char *inl;
		const struct cli_opt *o = lookup_word(p, cmd, w[i], &inl);
		if (o && o->arg && inl) {
			if (o->id == OPT_STATE)
				state = inl;
			continue;
		}
		if (o && o->arg) {
			if (o->id == OPT_STATE && i + 1 < nw)
				state = w[i + 1];
			i++;
			continue;
		}
		if (w[i][0] == '-')
			continue;
		if (p->cmds && !cmd) {
			for (const struct cli_cmd *c = p->cmds; c->name; c++)
				if (strcmp(c->name, w[i]) == 0)
					cmd = c;
			if (!cmd)
				return;
			continue;
		}
		operand++;
	}
	if (after_dashes) {
		puts("@file");
		return;
	}
	if (cword > 1 && cword - 1 < nw) {
		const char *inl;
		const struct cli_opt *o = lookup_word(p, cmd, w[cword - 1], &inl);
		if (o && o->arg && !inl) {
			complete_kind(o->complete, o->words, cmd, 0, state);
			return;
		}
	}
	if (cur[0] == '-') {
		for (size_t i = 0; i < count_opts(p->opts); i++)
			printf("--%s\n", p->opts[i].name);
		if (cmd)
			for (size_t i = 0; i < count_opts(cmd->opts); i++)
				printf("--%s\n", cmd->opts[i].name);
		if (!cmd && !p->cmds && p->cmds == NULL)
			puts("--version");
		return;
	}
	if (p->cmds && !cmd) {
		for (const struct cli_cmd *c = p->cmds; c->name; c++)
			puts(c->name);
		return;
	}
	if (!cmd && !p->cmds)
		return;
	int k = operand < 4 ? operand : 3;
	complete_kind(cmd->operands[k], NULL, cmd, operand, state);
}

void cli_init(const struct cli_prog *p, int argc, char **argv)
{
	cli_prog_name = p->name;
	install_signals();
	if (argc >= 2 && strcmp(argv[1], "--complete") == 0) {
		int cword = argc >= 3 ? atoi(argv[2]) : 0;
		complete(p, cword, argc - 3, argv + 3);
		exit(cli_exit(EK_OK));
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s (evkit) %s\n", p->name, EVKIT_VERSION);
		exit(cli_exit(EK_OK));
	}
}

const struct cli_cmd *cli_command(const struct cli_prog *p, int argc, char **argv)
{
	int i = 1;
	/* Program options may come before the command: skip them here,
	 * cli_getopt parses them with the command's own. */
	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_usage(p, NULL, stdout);
			exit(cli_exit(EK_OK));
		}
		const char *inl;
		const struct cli_opt *o = lookup_word(p, NULL, argv[i], &inl);
		if (!o)
			cli_usage_error(p, NULL, "unknown option '%s'", argv[i]);
		i += o->arg && !inl ? 2 : 1;
	}
	if (i >= argc)
		cli_usage_error(p, NULL, "a command is needed");
	for (const struct cli_cmd *c = p->cmds; c->name; c++) {
		if (strcmp(c->name, argv[i]) == 0) {
			/* Take the command word out, so that argv holds options and
			 * operands only. */
			char *word = argv[i];
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
			argv[argc - 1] = word;
			return c;
		}
	}
	cli_usage_error(p, NULL, "unknown command '%s'", argv[i]);
}

int cli_getopt(const struct cli_prog *p, const struct cli_cmd *cmd, int argc,
               char **argv)
{
	static struct option *longopts;
	static char shortopts[128];
	static const struct cli_cmd *built_for;
	static int built;

	if (!built || built_for != cmd) {
		size_t np = count_opts(p->opts), nc = cmd ? count_opts(cmd->opts) : 0;
		free(longopts);
		longopts = xcalloc(np + nc + 1, sizeof *longopts);
		size_t k = 0, s = 0;
		shortopts[s++] = ':';
		for (int pass = 0; pass < 2; pass++) {
			const struct cli_opt *o = pass ? p->opts : (cmd ? cmd->opts : NULL);
			for (size_t i = 0; o && o[i].name; i++) {
				longopts[k].name = o[i].name;
				longopts[k].has_arg = o[i].arg ? required_argument : no_argument;
				longopts[k].val = o[i].id;
				k++;
				if (o[i].letter && s + 3 < sizeof shortopts) {
					shortopts[s++] = (char)o[i].letter;
					if (o[i].arg)
						shortopts[s++] = ':';
				}
			}
		}
		shortopts[s] = '\0';
		built = 1;
		built_for = cmd;
		optind = 0;
	}
	opterr = 0;
	int longind = -1;
	int c = getopt_long(argc, argv, shortopts, longopts, &longind);
	cli_optarg = optarg;
	cli_optind = optind;
	if (c == -1) {
		built = 0;
		return -1;
	}
	if (c == '?' || c == ':') {
		const char *bad = argv[optind - 1];
		if (c == ':')
			cli_usage_error(p, cmd, "option '%s' needs an argument", bad);
		if (optopt && optopt < 256 && bad[1] != '-')
			cli_usage_error(p, cmd, "unknown option '-%c'", optopt);
		cli_usage_error(p, cmd, "unknown option '%s'", bad);
	}
	if (c == OPT_HELP) {
		cli_usage(p, cmd, stdout);
		exit(cli_exit(EK_OK));
	}
	/* getopt_long maps a short letter to itself; map it to the table's id. */
	if (longind < 0 && c < 256) {
		const struct cli_opt *o = cmd ? find_short(cmd->opts, c) : NULL;
		if (!o)
			o = find_short(p->opts, c);
		if (o)
			c = o->id;
	}
	return c;
}

long long cli_int(const char *what, const char *s, long long lo, long long hi)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		dief(EK_USAGE, "%s: '%s' is not a whole number", what, s);
	if (v < lo || v > hi)
		dief(EK_USAGE, "%s: %s is out of range (%lld to %lld)", what, s, lo, hi);
	return v;
}

double cli_double(const char *what, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		dief(EK_USAGE, "%s: '%s' is not a number", what, s);
	if (v < lo || v > hi)
		dief(EK_USAGE, "%s: %s is out of range (%g to %g)", what, s, lo, hi);
	return v;
}
