/* `shoal config ...`: create, ls, inspect, rm — docker's config commands
 * (the shared parts live in swobj.c). */
#include <errno.h>
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/flag.h"
#include "cli/swobj.h"

/* swarmkit's MaxConfigSize; docker reads up to twice that. */
#define MAX_CONFIG_SIZE (1000u * 1024)

/* docker's configInspectPrettyTemplate: the data is shown as text. */
static void config_pretty(FILE *f, json_t *c)
{
	char created[96], updated[96];
	json_t *labels = cli_json_path(c, "Spec.Labels");
	CLI_AUTO_BUF struct buf data = BUF_INIT;

	cli_swobj_pretty_time(cli_json_str(c, "CreatedAt"), created, sizeof(created));
	cli_swobj_pretty_time(cli_json_str(c, "UpdatedAt"), updated, sizeof(updated));
	fprintf(f, "ID:\t\t\t%s\nName:\t\t\t%s", cli_json_str(c, "ID"),
		cli_json_str(c, "Spec.Name"));
	if (json_object_size(labels)) {
		fputs("\nLabels:", f);
		cli_swobj_print_labels(f, labels);
	}
	fprintf(f, "\nCreated at:            \t%s\nUpdated at:            \t%s\nData:\n", created,
		updated);
	if (cli_base64_decode(cli_json_str(c, "Spec.Data"), &data) == 0 && data.len)
		fwrite(data.data, 1, data.len, f);
}

static const struct cli_swobj_kind config_kind = {
    .api = "/configs",
    .table_format = "table {{.ID}}\\t{{.Name}}\\t{{.CreatedAt}}\\t{{.UpdatedAt}}",
    .has_driver = 0,
    .pretty = config_pretty,
};

static int config_create(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_STRV struct cli_strv labels = {0};
	CLI_AUTO_BUF struct buf data = BUF_INIT;
	CLI_AUTO_JSON json_t *spec = NULL;
	CLI_AUTO_FREE char *b = NULL;
	const char *tdriver = "";
	int rc;
	struct cli_flag flags[] = {
	    {"label", 'l', CLI_FLAG_LIST, &labels, "Config labels", NULL, NULL, 0},
	    {"template-driver", 0, CLI_FLAG_STRING, &tdriver, "Template driver", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	rc = cli_flags_parse(ctx, flags, &argc, argv);
	if (rc)
		return rc > 0 ? 0 : rc;
	if ((rc = cli_swobj_check_labels(ctx, &labels)))
		return rc;
	if ((rc = cli_args_exact(ctx, argc, 2)))
		return rc;
	if ((rc = cli_swobj_read_data(ctx, argv[1], 2 * MAX_CONFIG_SIZE, "config", &data))) {
		CLI_AUTO_BUF struct buf p = BUF_INIT;

		buf_append(&p, "Error reading content from ", 27);
		cli_quote(&p, argv[1]);
		buf_append_u8(&p, '\0');
		cli_error_wrap(ctx, (char *) p.data);
		return rc;
	}
	spec = json_object();
	json_object_set_new(spec, "Name", json_string(argv[0]));
	json_object_set_new(spec, "Labels", cli_swobj_labels(&labels));
	b = cli_base64_encode(data.data, data.len);
	json_object_set_new(spec, "Data", json_string(b));
	if (*tdriver)
		json_object_set_new(spec, "Templating", json_pack("{s:s}", "Name", tdriver));
	return cli_swobj_create(ctx, &config_kind, spec);
}

static int config_ls(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_swobj_ls(ctx, &config_kind, argc, argv);
}

static int config_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_swobj_inspect(ctx, &config_kind, argc, argv);
}

static int config_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_swobj_rm(ctx, &config_kind, argc, argv);
}

const struct cli_cmd cli_config_cmds[] = {
    {"create", config_create, "create [OPTIONS] CONFIG file|-", NULL,
     "Create a config from a file or STDIN", NULL},
    {"inspect", config_inspect, "inspect [OPTIONS] CONFIG [CONFIG...]", NULL,
     "Display detailed information on one or more configs", NULL},
    {"ls", config_ls, "ls [OPTIONS]", NULL, "List configs", "list"},
    {"rm", config_rm, "rm CONFIG [CONFIG...]", NULL, "Remove one or more configs", "remove"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
