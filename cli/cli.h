/* shoal CLI core: context, command table, errors and argument checks.
 *
 * `shoal` mirrors the docker CLI for the swarm commands: same command names,
 * flags, messages and exit codes. Each command group lives in its own file
 * (swarm.c, node.c, system.c) and exports a table of `struct cli_cmd`; cli.c
 * holds the root table and dispatches.
 *
 * A command function gets the arguments after its name, parses its flags
 * with cli_flags_parse() (flag.h) and returns 0 or a negative code after
 * setting a message with cli_errorf(); cli_main() prints that message on the
 * error stream and exits with ctx->exit_code (1 unless a command set it). */
#ifndef SHOAL_CLI_CLI_H
#define SHOAL_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cli/http.h"
#include "common/buf.h"

#define CLI_DEFAULT_HOST "unix:///run/shoal/shoal.sock"
#define CLI_API_VERSION	 "1.41"
#define CLI_NAME	 "shoal"

#ifndef SHOAL_VERSION
#define SHOAL_VERSION "0.1.0"
#endif

struct cli_ctx;

struct cli_cmd {
	const char *name;
	/* argv holds the arguments after the command name (argv[argc] == NULL). */
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	const char *usage;	   /* cobra's Use: "join [OPTIONS] HOST:PORT" */
	const struct cli_cmd *sub; /* subcommands ({NULL}-terminated) or NULL */
	const char *short_help;	   /* one line: "Join a swarm as a node and/or manager" */
	const char *alias;	   /* "list" for ls, or NULL */
};

struct cli_ctx {
	FILE *in, *out, *err;
	struct cli_http http;	   /* where the daemon is */
	const struct cli_cmd *cmd; /* command being run */
	char path[160];		   /* its command path: "shoal node ls" */
	int exit_code;		   /* exit status on failure (default 1) */
	int last_status;	   /* HTTP status of the last API reply, 0 if none */
	struct buf errmsg;	   /* NUL-terminated message printed on failure */
	int64_t now_ns;		   /* tests pin "now" (Unix ns); 0 reads the clock */
};

/* Runs the CLI like main() would: argv[0] is the program name. Returns the
 * process exit status. Output goes to `out`, errors and usage errors to
 * `err`; stdin is read by `swarm unlock`. Nothing is kept between calls. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);
/* Same with an explicit input stream (tests feed unlock keys this way). */
int cli_main_io(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* Sets the failure message (replacing any earlier one) and returns `code`,
 * which must be negative. */
int cli_errorf(struct cli_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the current message: "<prefix>: <message>" (errors.Wrap). */
void cli_error_wrap(struct cli_ctx *ctx, const char *prefix);
/* The current message ("" when none). Owned by ctx. */
const char *cli_error_msg(const struct cli_ctx *ctx);

/* Errors of a command acting on several references, which docker joins one
 * a line. cli_errs_add appends `msg` to `errs` ("<prefix>: <msg>" when
 * prefix, e.g. the reference, is not NULL), after a '\n' unless it is the
 * first. cli_errs_fail sets the joined text as the failure message and
 * returns `code` (negative). */
void cli_errs_add(struct buf *errs, const char *prefix, const char *msg);
int cli_errs_fail(struct cli_ctx *ctx, struct buf *errs, int code);

/* Argument count checks with docker's wording, e.g.
 *   "shoal node inspect" requires at least 1 argument.
 *   See 'shoal node inspect --help'.
 *
 *   Usage:  shoal node inspect [OPTIONS] self|NODE [NODE...]
 *
 *   Display detailed information on one or more nodes
 * Return 0 or -EINVAL with the message set. */
int cli_args_none(struct cli_ctx *ctx, int argc);
int cli_args_exact(struct cli_ctx *ctx, int argc, int n);
int cli_args_min(struct cli_ctx *ctx, int argc, int n);
/* cobra's RequiresRangeArgs: "requires at least 1 and at most 2 arguments". */
int cli_args_range(struct cli_ctx *ctx, int argc, int min, int max);

/* Prints "<command path> is not implemented yet" as the error; returns
 * -ENOSYS (exit status 1). Used for docker commands shoal has not grown. */
int cli_not_implemented(struct cli_ctx *ctx, int argc, char **argv);

/* The current time in Unix nanoseconds (ctx->now_ns when a test pinned it). */
int64_t cli_now_ns(const struct cli_ctx *ctx);

/* Command tables of the groups. */
extern const struct cli_cmd cli_swarm_cmds[];
extern const struct cli_cmd cli_node_cmds[];
extern const struct cli_cmd cli_secret_cmds[];
extern const struct cli_cmd cli_config_cmds[];
extern const struct cli_cmd cli_service_cmds[];
extern const struct cli_cmd cli_image_cmds[];
/* `shoal images`: image ls. */
int cli_images_cmd(struct cli_ctx *ctx, int argc, char **argv);
int cli_version_cmd(struct cli_ctx *ctx, int argc, char **argv);
int cli_info_cmd(struct cli_ctx *ctx, int argc, char **argv);

#endif
