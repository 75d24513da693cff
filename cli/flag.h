/* Command-line flags with pflag/cobra semantics and messages.
 *
 * A command declares a {NULL}-terminated array of `struct cli_flag` on its
 * stack, each pointing at the variable it fills, and calls
 * cli_flags_parse(). Flags may appear before, between or after positional
 * arguments ("--" ends them); long flags take "--name value" or
 * "--name=value", short ones "-f value", "-fvalue" or combined booleans
 * "-qa". `-h`/`--help` print the command's help on ctx->out.
 *
 * Errors are reported as docker does and exit with status 125:
 *   unknown flag: --bogus
 *   See 'shoal node ls --help'. */
#ifndef SHOAL_CLI_FLAG_H
#define SHOAL_CLI_FLAG_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

#define CLI_ADDR_MAX 300

enum cli_flag_type {
	CLI_FLAG_BOOL,	    /* int *: 0 or 1; "--x=false" accepted */
	CLI_FLAG_STRING,    /* const char **: points into argv */
	CLI_FLAG_INT64,	    /* int64_t * */
	CLI_FLAG_UINT32,    /* uint32_t * */
	CLI_FLAG_UINT64,    /* uint64_t * */
	CLI_FLAG_DURATION,  /* int64_t *: nanoseconds, Go syntax ("1m30s") */
	CLI_FLAG_LIST,	    /* struct cli_strv *: repeatable */
	CLI_FLAG_FILTER,    /* struct cli_strv *: repeatable "key=value" */
	CLI_FLAG_NODE_ADDR, /* char[CLI_ADDR_MAX]: "<ip|interface>[:port]" -> host:port */
	CLI_FLAG_IPNET,	    /* struct cli_strv *: CIDRs, comma-separated or repeated */
};

/* A growable list of owned strings. */
struct cli_strv {
	char **v;
	size_t n;
};

void cli_strv_push(struct cli_strv *s, const char *str);
void cli_strv_free(struct cli_strv *s);

struct cli_flag {
	const char *name; /* long name without dashes; NULL ends the array */
	char shorthand;	  /* 'q' or 0 */
	enum cli_flag_type type;
	void *value;	     /* see the type */
	const char *usage;   /* help text */
	const char *def;     /* default shown in help ("5s"), NULL for none */
	const char *varname; /* help type word overriding the default one */
	int changed;	     /* set by the parser when the flag was given */
};

/* Parses flags out of argv (the arguments after the command name), leaving
 * the positional arguments in argv[0..*argc) in order. Returns 0, 1 when help
 * was printed (the command should return 0), or a negative code with the
 * message set and ctx->exit_code = 125. List values are owned by their
 * cli_strv even on error. */
int cli_flags_parse(struct cli_ctx *ctx, struct cli_flag *flags, int *argc, char **argv);

/* The prologue of a command: cli_flags_parse(), then a check that the count
 * of positional arguments is within [min, max] with docker's wording
 * (cli_args_none, cli_args_exact, cli_args_min or cli_args_range; max
 * CLI_ARGS_ANY for no upper bound). Returns what cli_flags_parse does: 0 to
 * go on, 1 when help was printed (the command returns 0), or a negative
 * code with the message set. Use:
 *   if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
 *           return rc > 0 ? 0 : rc; */
#define CLI_ARGS_ANY (-1)
int cli_cmd_parse(struct cli_ctx *ctx, struct cli_flag *flags, int *argc, char **argv, int min,
		  int max);

/* Appends `s` double-quoted, '"' and '\\' escaped: Go's strconv.Quote for the
 * ASCII the CLI deals with (no NUL is appended). */
void cli_quote(struct buf *b, const char *s);

/* Looks a flag up by long name (NULL if absent). */
struct cli_flag *cli_flag_get(struct cli_flag *flags, const char *name);

/* Prints docker-style help for the running command on `f`: usage line,
 * description, subcommands (for groups) and options. */
void cli_print_help(struct cli_ctx *ctx, const struct cli_flag *flags, FILE *f);

/* Normalizes a listen address like docker's NodeAddrOption: "eth0" ->
 * "eth0:2377", ":4567" -> "0.0.0.0:4567", "[::1]" -> "[::1]:2377". Returns 0
 * or -EINVAL with a message in err. */
int cli_parse_node_addr(const char *in, char *out, size_t outlen, char *err, size_t errlen);

#endif
