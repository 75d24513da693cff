/* CLI core: global flags, the root command table, dispatch and the error
 * and argument-count helpers every command uses (see cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/flag.h"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

int cli_errorf(struct cli_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* OOM: nothing useful left to do */
	buf_reset(&ctx->errmsg);
	buf_append(&ctx->errmsg, s, (size_t) n + 1);
	free(s);
	return code;
}

void cli_error_wrap(struct cli_ctx *ctx, const char *prefix)
{
	struct buf b = BUF_INIT;

	buf_append(&b, prefix, strlen(prefix));
	buf_append(&b, ": ", 2);
	buf_append(&b, cli_error_msg(ctx), strlen(cli_error_msg(ctx)) + 1);
	buf_free(&ctx->errmsg);
	ctx->errmsg = b;
}

const char *cli_error_msg(const struct cli_ctx *ctx)
{
	return ctx->errmsg.len ? (const char *) ctx->errmsg.data : "";
}

void cli_errs_add(struct buf *errs, const char *prefix, const char *msg)
{
	if (errs->len)
		buf_append_u8(errs, '\n');
	if (prefix) {
		buf_append(errs, prefix, strlen(prefix));
		buf_append(errs, ": ", 2);
	}
	buf_append(errs, msg, strlen(msg));
}

int cli_errs_fail(struct cli_ctx *ctx, struct buf *errs, int code)
{
	buf_append_u8(errs, '\0');
	return cli_errorf(ctx, code, "%s", (char *) errs->data);
}

int64_t cli_now_ns(const struct cli_ctx *ctx)
{
	struct timespec ts;

	if (ctx->now_ns)
		return ctx->now_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* cobra's UseLine: the parent's path followed by the command's Use. */
static void use_line(const struct cli_ctx *ctx, char *out, size_t n)
{
	const char *sp = strrchr(ctx->path, ' ');

	snprintf(out, n, "%.*s%s", sp ? (int) (sp - ctx->path + 1) : 0, ctx->path,
		 ctx->cmd ? ctx->cmd->usage : "");
}

static int args_error(struct cli_ctx *ctx, const char *requirement)
{
	char use[256];

	use_line(ctx, use, sizeof(use));
	return cli_errorf(ctx, -EINVAL, "\"%s\" %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
			  ctx->path, requirement, ctx->path, use,
			  ctx->cmd ? ctx->cmd->short_help : "");
}

int cli_args_none(struct cli_ctx *ctx, int argc)
{
	return argc == 0 ? 0 : args_error(ctx, "accepts no arguments");
}

int cli_args_exact(struct cli_ctx *ctx, int argc, int n)
{
	char req[64];

	if (argc == n)
		return 0;
	snprintf(req, sizeof(req), "requires exactly %d argument%s", n, n == 1 ? "" : "s");
	return args_error(ctx, req);
}

int cli_args_min(struct cli_ctx *ctx, int argc, int n)
{
	char req[64];

	if (argc >= n)
		return 0;
	snprintf(req, sizeof(req), "requires at least %d argument%s", n, n == 1 ? "" : "s");
	return args_error(ctx, req);
}

int cli_args_range(struct cli_ctx *ctx, int argc, int min, int max)
{
	char req[96];

	if (argc >= min && argc <= max)
		return 0;
	snprintf(req, sizeof(req), "requires at least %d and at most %d argument%s", min, max,
		 max == 1 ? "" : "s");
	return args_error(ctx, req);
}

int cli_not_implemented(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 0 && argv[0][0] != '-')
		return cli_errorf(ctx, -ENOSYS, "\"%s %s\" is not implemented yet", ctx->path,
				  argv[0]);
	return cli_errorf(ctx, -ENOSYS, "\"%s\" is not implemented yet", ctx->path);
}

/* ------------------------------------------------------------------------ */
/* Command tables                                                            */

static const struct cli_cmd root_cmds[] = {
    {"config", NULL, "config COMMAND", cli_config_cmds, "Manage Swarm configs", NULL},
    {"image", NULL, "image COMMAND", cli_image_cmds, "Manage images", NULL},
    {"images", cli_images_cmd, "images [OPTIONS] [REPOSITORY[:TAG]]", NULL, "List images", NULL},
    {"info", cli_info_cmd, "info [OPTIONS]", NULL, "Display system-wide information", NULL},
    {"network", cli_not_implemented, "network COMMAND", NULL, "Manage networks", NULL},
    {"node", NULL, "node COMMAND", cli_node_cmds, "Manage Swarm nodes", NULL},
    {"secret", NULL, "secret COMMAND", cli_secret_cmds, "Manage Swarm secrets", NULL},
    {"service", NULL, "service COMMAND", cli_service_cmds, "Manage Swarm services", NULL},
    {"stack", cli_not_implemented, "stack COMMAND", NULL, "Manage Swarm stacks", NULL},
    {"swarm", NULL, "swarm COMMAND", cli_swarm_cmds, "Manage Swarm", NULL},
    {"version", cli_version_cmd, "version [OPTIONS]", NULL, "Show the shoal version information",
     NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct cli_cmd *lookup(const struct cli_cmd *table, const char *name)
{
	for (const struct cli_cmd *c = table; c->name; c++)
		if (strcmp(c->name, name) == 0 || (c->alias && strcmp(c->alias, name) == 0))
			return c;
	return NULL;
}

static void print_root_help(FILE *f)
{
	fprintf(f,
		"\nUsage:  %s [OPTIONS] COMMAND\n\n"
		"A Docker-Swarm-mode style orchestrator\n\nCommands:\n",
		CLI_NAME);
	for (const struct cli_cmd *c = root_cmds; c->name; c++)
		fprintf(f, "  %-11s %s\n", c->name, c->short_help);
	fprintf(f,
		"\nGlobal Options:\n"
		"  -H, --host string   Daemon socket to connect to (default %s, or $SHOAL_HOST)\n"
		"  -h, --help          Print usage\n"
		"  -v, --version       Print version information and quit\n"
		"\nRun '%s COMMAND --help' for more information on a command.\n",
		CLI_DEFAULT_HOST, CLI_NAME);
}

/* The help of the current group as a string, for unknown subcommands. */
static char *help_string(struct cli_ctx *ctx)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		abort();
	cli_print_help(ctx, NULL, f);
	fclose(f);
	while (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	return s;
}

static void path_append(struct cli_ctx *ctx, const char *name)
{
	size_t l = strlen(ctx->path);

	snprintf(ctx->path + l, sizeof(ctx->path) - l, " %s", name);
}

static int dispatch(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc, char **argv)
{
	const struct cli_cmd *sub;
	char *help;

	ctx->cmd = cmd;
	path_append(ctx, cmd->name);
	if (!cmd->sub)
		return cmd->fn(ctx, argc, argv);
	if (argc == 0) {
		/* docker prints a group's help on stderr and succeeds. */
		cli_print_help(ctx, NULL, ctx->err);
		return 0;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		cli_print_help(ctx, NULL, ctx->out);
		return 0;
	}
	if (argv[0][0] == '-' && argv[0][1]) {
		ctx->exit_code = 125;
		if (argv[0][1] == '-')
			return cli_errorf(ctx, -EINVAL, "unknown flag: %s\nSee '%s --help'.",
					  argv[0], ctx->path);
		return cli_errorf(ctx, -EINVAL,
				  "unknown shorthand flag: '%c' in %s\nSee '%s --help'.",
				  argv[0][1], argv[0], ctx->path);
	}
	sub = lookup(cmd->sub, argv[0]);
	if (!sub) {
		help = help_string(ctx);
		cli_errorf(ctx, -EINVAL, "%s", help);
		free(help);
		return -EINVAL;
	}
	return dispatch(ctx, sub, argc - 1, argv + 1);
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */

static int run(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *host = NULL;
	const struct cli_cmd *cmd;
	int i, rc;

	snprintf(ctx->path, sizeof(ctx->path), "%s", CLI_NAME);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) {
			if (i + 1 >= argc) {
				ctx->exit_code = 125;
				return cli_errorf(ctx, -EINVAL,
						  "flag needs an argument: %s\nSee '%s --help'.",
						  a[1] == 'H' ? "'H' in -H" : "--host", CLI_NAME);
			}
			host = argv[++i];
		} else if (strncmp(a, "--host=", 7) == 0) {
			host = a + 7;
		} else if (strncmp(a, "-H", 2) == 0) {
			host = a[2] == '=' ? a + 3 : a + 2;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_root_help(ctx->out);
			return 0;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			fprintf(ctx->out, "%s version %s\n", CLI_NAME, SHOAL_VERSION);
			return 0;
		} else {
			ctx->exit_code = 125;
			if (a[1] == '-')
				return cli_errorf(ctx, -EINVAL,
						  "unknown flag: %s\nSee '%s --help'.", a,
						  CLI_NAME);
			return cli_errorf(ctx, -EINVAL,
					  "unknown shorthand flag: '%c' in %s\nSee '%s --help'.",
					  a[1], a, CLI_NAME);
		}
	}
	if (!host || !*host)
		host = getenv("SHOAL_HOST");
	if (!host || !*host)
		host = CLI_DEFAULT_HOST;
	rc = cli_http_init(&ctx->http, host);
	if (rc < 0)
		return cli_errorf(ctx, rc, "%s", ctx->http.errmsg);
	if (i >= argc) {
		print_root_help(ctx->out);
		return 0;
	}
	cmd = lookup(root_cmds, argv[i]);
	if (!cmd)
		return cli_errorf(ctx, -EINVAL, "%s: '%s' is not a %s command.\nSee '%s --help'",
				  CLI_NAME, argv[i], CLI_NAME, CLI_NAME);
	return dispatch(ctx, cmd, argc - i - 1, argv + i + 1);
}

int cli_main_io(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
	struct cli_ctx ctx;
	int rc, status;

	memset(&ctx, 0, sizeof(ctx));
	ctx.in = in;
	ctx.out = out;
	ctx.err = err;
	ctx.exit_code = 1;
	rc = run(&ctx, argc, argv);
	fflush(out);
	status = 0;
	if (rc < 0) {
		if (ctx.errmsg.len)
			fprintf(err, "%s\n", cli_error_msg(&ctx));
		status = ctx.exit_code ? ctx.exit_code : 1;
	}
	fflush(err);
	cli_http_close(&ctx.http);
	buf_free(&ctx.errmsg);
	return status;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	return cli_main_io(argc, argv, stdin, out, err);
}
