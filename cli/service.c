/* `shoal service ...`: the command table and ls, inspect, rm, scale and
 * rollback, with docker's requests, columns and messages. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/format.h"
#include "cli/service.h"
#include "cli/swobj.h"
#include "cli/units.h"

#define SERVICE_TABLE_FORMAT                                                                       \
	"table {{.ID}}\\t{{.Name}}\\t{{.Mode}}\\t{{.Replicas}}\\t{{.Image}}\\t{{.Ports}}"

/* ------------------------------------------------------------------------ */
/* Display helpers                                                           */

void cli_svc_trunc_id(const char *id, char *out)
{
	snprintf(out, 13, "%s", id);
}

char *cli_svc_display_image(const char *image)
{
	const char *at = strchr(image, '@');
	const char *slash = strrchr(image, '/');
	const char *colon;

	if (!at)
		return xstrdup(image);
	colon = strchr(slash && slash < at ? slash : image, ':');
	/* Only a tagged reference loses its digest. */
	if (colon && colon < at)
		return strndup(image, (size_t) (at - image)) ?: (abort(), NULL);
	return xstrdup(image);
}

void cli_svc_pretty(const char *s, char *out, size_t n)
{
	size_t l = strlen(s), i;

	for (i = 0; i < l && i + 1 < n; i++)
		out[i] = (char) (i == 0 && l > 1 ? toupper((unsigned char) s[i])
						 : tolower((unsigned char) s[i]));
	out[i] = '\0';
}

/* ------------------------------------------------------------------------ */
/* ls                                                                        */

static const char *mode_name(json_t *s)
{
	if (json_is_object(cli_json_path(s, "Spec.Mode.Global")))
		return "global";
	if (json_is_object(cli_json_path(s, "Spec.Mode.Replicated")))
		return "replicated";
	if (json_is_object(cli_json_path(s, "Spec.Mode.ReplicatedJob")))
		return "replicated job";
	if (json_is_object(cli_json_path(s, "Spec.Mode.GlobalJob")))
		return "global job";
	return "";
}

static json_t *replicas(json_t *s)
{
	long long run = cli_json_int(s, "ServiceStatus.RunningTasks");
	long long des = cli_json_int(s, "ServiceStatus.DesiredTasks");
	long long done = cli_json_int(s, "ServiceStatus.CompletedTasks");
	long long maxr = cli_json_int(s, "Spec.TaskTemplate.Placement.MaxReplicas");
	const char *mode = mode_name(s);
	char t[128];

	if (!strcmp(mode, "replicated job"))
		snprintf(t, sizeof(t), "%lld/%lld (%lld/%lld completed)", run, des, done,
			 (long long) cli_json_int(s, "Spec.Mode.ReplicatedJob.TotalCompletions"));
	else if (!strcmp(mode, "global job"))
		snprintf(t, sizeof(t), "%lld/%lld (%lld/%lld completed)", run, des, done,
			 des + done);
	else if (!strcmp(mode, "replicated") && maxr > 0)
		snprintf(t, sizeof(t), "%lld/%lld (max %lld per node)", run, des, maxr);
	else
		snprintf(t, sizeof(t), "%lld/%lld", run, des);
	return json_string(t);
}

static int cmp_port(const void *a, const void *b)
{
	json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
	int c = strcmp(cli_json_str(x, "Protocol"), cli_json_str(y, "Protocol"));

	if (c)
		return c;
	return (int) (cli_json_int(x, "PublishedPort") - cli_json_int(y, "PublishedPort"));
}

static void range_str(struct buf *b, uint32_t ps, uint32_t pe, uint32_t ts, uint32_t te,
		      const char *proto)
{
	char t[96], pub[32], tgt[32];

	if (pe > ps)
		snprintf(pub, sizeof(pub), "%u-%u", ps, pe);
	else
		snprintf(pub, sizeof(pub), "%u", ps);
	if (te > ts)
		snprintf(tgt, sizeof(tgt), "%u-%u", ts, te);
	else
		snprintf(tgt, sizeof(tgt), "%u", ts);
	snprintf(t, sizeof(t), "%s*:%s->%s/%s", b->len ? ", " : "", pub, tgt, proto);
	buf_append(b, t, strlen(t));
}

/* docker's serviceContext.Ports: ingress ports grouped into ranges. */
static json_t *ports(json_t *s)
{
	json_t *arr = cli_json_path(s, "Endpoint.Ports"), *p;
	size_t n = json_array_size(arr);
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	uint32_t ps = 0, pe = 0, ts = 0, te = 0;
	char proto[16] = "";
	struct buf b = BUF_INIT;
	json_t *out;

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), cmp_port);
	for (size_t i = 0; i < n; i++) {
		uint32_t pp, tp;

		p = v[i];
		if (strcmp(cli_json_str(p, "PublishMode"), "ingress"))
			continue;
		pp = (uint32_t) cli_json_int(p, "PublishedPort");
		tp = (uint32_t) cli_json_int(p, "TargetPort");
		if (strcmp(cli_json_str(p, "Protocol"), proto) || pp - pe > 1 || tp - te > 1 ||
		    (te != ts && tp <= te)) {
			if (ps > 0)
				range_str(&b, ps, pe, ts, te, proto);
			ps = pe = pp;
			ts = te = tp;
			snprintf(proto, sizeof(proto), "%s", cli_json_str(p, "Protocol"));
			continue;
		}
		pe = pp;
		te = tp;
	}
	if (ps > 0)
		range_str(&b, ps, pe, ts, te, proto);
	out = json_stringn(b.len ? (char *) b.data : "", b.len);
	buf_free(&b);
	free(v);
	return out;
}

static int cmp_name(const void *a, const void *b)
{
	return cli_natural_cmp(cli_json_str(*(json_t *const *) a, "Spec.Name"),
			       cli_json_str(*(json_t *const *) b, "Spec.Name"));
}

static int service_ls(struct cli_ctx *ctx, int argc, char **argv)
{
	int quiet = 0, rc;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_JSON json_t *list = NULL;
	CLI_AUTO_JSON json_t *rows = json_array();
	CLI_AUTO_JSON json_t *header = NULL;
	json_t **v;
	size_t n;
	struct cli_flag flags[] = {
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, CLI_FORMAT_HELP, NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display IDs", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_api_list(ctx, "/services", &filters, "status=true", &list)))
		return rc;
	n = json_array_size(list);
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	qsort(v, n, sizeof(*v), cmp_name);
	for (size_t i = 0; i < n; i++) {
		CLI_AUTO_FREE char *img = cli_svc_display_image(
		    cli_json_str(v[i], "Spec.TaskTemplate.ContainerSpec.Image"));
		char id[13];

		cli_svc_trunc_id(cli_json_str(v[i], "ID"), id);
		json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "ID", id,
						      "Image", img, "Mode", mode_name(v[i]), "Name",
						      cli_json_str(v[i], "Spec.Name"), "Ports",
						      ports(v[i]), "Replicas", replicas(v[i])));
	}
	free(v);
	if (!*format || !strcmp(format, "table"))
		format = quiet ? "{{.ID}}" : SERVICE_TABLE_FORMAT;
	else if (!strcmp(format, "raw"))
		format = quiet ? "id: {{.ID}}"
			       : "id: {{.ID}}\\nname: {{.Name}}\\nmode: {{.Mode}}\\nreplicas: "
				 "{{.Replicas}}\\nimage: {{.Image}}\\nports: {{.Ports}}\\n";
	header = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID", "Name", "NAME", "Mode", "MODE",
			   "Replicas", "REPLICAS", "Image", "IMAGE", "Ports", "PORTS");
	return cli_format_list(ctx, format, rows, header);
}

/* ------------------------------------------------------------------------ */
/* inspect                                                                   */

static int fetch_service(struct cli_ctx *ctx, const char *ref, json_t **obj, const void *arg)
{
	int rc = cli_svc_get(ctx, ref, 1, obj);

	(void) arg;
	if (rc && ctx->last_status == 404)
		return cli_errorf(ctx, -ENOENT, "Error: no such service: %s", ref);
	return rc;
}

static void print_list(FILE *f, json_t *arr, const char *sep)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) fprintf(f, "%s%s", json_string_value(v) ?: "", sep);
}

static void pretty_duration(FILE *f, json_t *svc, const char *path)
{
	char d[64];

	cli_duration_string(cli_json_int(svc, path), d, sizeof(d));
	fputs(d, f);
}

static void pretty_update(FILE *f, json_t *s, const char *what, const char *title, const char *ord)
{
	char p[96];
	json_t *c = cli_json_path(s, what);

	if (!json_is_object(c))
		return;
	fprintf(f, "\n%s:\n Parallelism:\t%lld", title, (long long) cli_json_int(c, "Parallelism"));
	if (cli_json_int(c, "Delay") > 0) {
		fputs("\n Delay:\t\t", f);
		pretty_duration(f, c, "Delay");
	}
	fprintf(f, "\n On failure:\t%s", cli_json_str(c, "FailureAction"));
	if (cli_json_int(c, "Monitor") > 0) {
		fputs("\n Monitoring Period: ", f);
		pretty_duration(f, c, "Monitor");
	}
	snprintf(p, sizeof(p), "%g", json_number_value(json_object_get(c, "MaxFailureRatio")));
	fprintf(f, "\n Max failure ratio: %s\n %s %s", p, ord, cli_json_str(c, "Order"));
}

/* docker's serviceInspectPrettyTemplate (tabs kept: it is not tabwritten). */
static void service_pretty(FILE *f, json_t *s, const void *arg)
{
	json_t *spec = json_object_get(s, "Spec"),
	       *cs = cli_json_path(spec, "TaskTemplate.ContainerSpec");
	json_t *v;
	size_t i;
	char b[64];

	(void) arg;
	fprintf(f, "\nID:\t\t%s\nName:\t\t%s", cli_json_str(s, "ID"), cli_json_str(spec, "Name"));
	if (json_object_size(json_object_get(spec, "Labels"))) {
		fputs("\nLabels:", f);
		cli_swobj_print_labels(f, json_object_get(spec, "Labels"));
	}
	fputs("\nService Mode:", f);
	if (json_is_object(cli_json_path(spec, "Mode.Global")))
		fputs("\tGlobal", f);
	else if (json_is_object(cli_json_path(spec, "Mode.Replicated"))) {
		fputs("\tReplicated", f);
		if (json_is_integer(cli_json_path(spec, "Mode.Replicated.Replicas")))
			fprintf(f, "\n Replicas:\t%lld",
				(long long) cli_json_int(spec, "Mode.Replicated.Replicas"));
	}
	if (*cli_json_str(s, "UpdateStatus.State")) {
		fprintf(f, "\nUpdateStatus:\n State:\t\t%s", cli_json_str(s, "UpdateStatus.State"));
		fprintf(f, "\n Message:\t%s", cli_json_str(s, "UpdateStatus.Message"));
	}
	fputs("\nPlacement:", f);
	if (json_array_size(cli_json_path(spec, "TaskTemplate.Placement.Constraints"))) {
		fputs("\n Constraints:\t[", f);
		json_array_foreach(cli_json_path(spec, "TaskTemplate.Placement.Constraints"), i, v)
		    fprintf(f, "%s%s", i ? " " : "", json_string_value(v));
		fputs("]", f);
	}
	if (json_array_size(cli_json_path(spec, "TaskTemplate.Placement.Preferences"))) {
		fputs("\n Preferences:   [", f);
		json_array_foreach(cli_json_path(spec, "TaskTemplate.Placement.Preferences"), i, v)
		    fprintf(f, "%sspread=%s", i ? " " : "",
			    cli_json_str(v, "Spread.SpreadDescriptor"));
		fputs("]", f);
	}
	if (cli_json_int(spec, "TaskTemplate.Placement.MaxReplicas"))
		fprintf(f, "\n Max Replicas Per Node:   %lld",
			(long long) cli_json_int(spec, "TaskTemplate.Placement.MaxReplicas"));
	pretty_update(f, spec, "UpdateConfig", "UpdateConfig", "Update order:     ");
	pretty_update(f, spec, "RollbackConfig", "RollbackConfig", "Rollback order:   ");
	fprintf(f, "\nContainerSpec:\n Image:\t\t%s", cli_json_str(cs, "Image"));
	if (json_array_size(json_object_get(cs, "Args"))) {
		fputs("\n Args:\t\t", f);
		print_list(f, json_object_get(cs, "Args"), " ");
	}
	if (json_array_size(json_object_get(cs, "Env"))) {
		fputs("\n Env:\t\t", f);
		print_list(f, json_object_get(cs, "Env"), " ");
	}
	if (*cli_json_str(cs, "Dir"))
		fprintf(f, "\n Dir:\t\t%s", cli_json_str(cs, "Dir"));
	if (json_is_boolean(json_object_get(cs, "Init")))
		fprintf(f, "\n Init:\t\t%s", cli_json_bool(cs, "Init") ? "true" : "false");
	if (*cli_json_str(cs, "User"))
		fprintf(f, "\n User: %s", cli_json_str(cs, "User"));
	if (json_array_size(json_object_get(cs, "Mounts")))
		fputs("\nMounts:", f);
	json_array_foreach(json_object_get(cs, "Mounts"), i, v)
	    fprintf(f, "\n Target:\t%s\n  Source:\t%s\n  ReadOnly:\t%s\n  Type:\t\t%s",
		    cli_json_str(v, "Target"), cli_json_str(v, "Source"),
		    cli_json_bool(v, "ReadOnly") ? "true" : "false", cli_json_str(v, "Type"));
	for (int k = 0; k < 2; k++) {
		json_t *refs = json_object_get(cs, k ? "Secrets" : "Configs");

		if (!json_array_size(refs))
			continue;
		fprintf(f, "\n%s:", k ? "Secrets" : "Configs");
		json_array_foreach(refs, i, v)
		    fprintf(f, "\n Target:\t%s\n  Source:\t%s", cli_json_str(v, "File.Name"),
			    cli_json_str(v, k ? "SecretName" : "ConfigName"));
	}
	if (json_is_object(cli_json_path(spec, "TaskTemplate.Resources"))) {
		json_t *r = cli_json_path(spec, "TaskTemplate.Resources");

		fputs("\nResources:", f);
		for (int k = 0; k < 2; k++) {
			const char *part = k ? "Limits" : "Reservations";
			int64_t cpu =
			    cli_json_int(r, k ? "Limits.NanoCPUs" : "Reservations.NanoCPUs");
			int64_t mem =
			    cli_json_int(r, k ? "Limits.MemoryBytes" : "Reservations.MemoryBytes");

			if (!cpu && !mem)
				continue;
			fprintf(f, "\n %s:", part);
			if (cpu)
				fprintf(f, "\n  CPU:\t\t%g", (double) cpu / 1e9);
			if (mem) {
				cli_bytes_size((double) mem, b, sizeof(b));
				fprintf(f, "\n  Memory:\t%s", b);
			}
		}
	}
	if (json_array_size(cli_json_path(spec, "TaskTemplate.Networks"))) {
		fputs("\nNetworks:", f);
		json_array_foreach(cli_json_path(spec, "TaskTemplate.Networks"), i, v)
		    fprintf(f, " %s", cli_json_str(v, "Target"));
		fputs(" ", f);
	}
	fprintf(f, "\nEndpoint Mode:\t%s", cli_json_str(spec, "EndpointSpec.Mode"));
	if (json_array_size(cli_json_path(s, "Endpoint.Ports"))) {
		fputs("\nPorts:", f);
		json_array_foreach(cli_json_path(s, "Endpoint.Ports"), i, v) fprintf(
		    f,
		    "\n PublishedPort = %lld\n  Protocol = %s\n  TargetPort = %lld\n  "
		    "PublishMode = %s",
		    (long long) cli_json_int(v, "PublishedPort"), cli_json_str(v, "Protocol"),
		    (long long) cli_json_int(v, "TargetPort"), cli_json_str(v, "PublishMode"));
		fputs(" ", f);
	}
	if (json_is_object(json_object_get(cs, "Healthcheck"))) {
		json_t *h = json_object_get(cs, "Healthcheck");

		fputs("\n Healthcheck:\n  Interval = ", f);
		pretty_duration(f, h, "Interval");
		fprintf(f, "\n  Retries = %lld\n  StartPeriod =\t",
			(long long) cli_json_int(h, "Retries"));
		pretty_duration(f, h, "StartPeriod");
		fputs("\n  Timeout =\t", f);
		pretty_duration(f, h, "Timeout");
		if (json_array_size(json_object_get(h, "Test"))) {
			fputs("\n  Tests:", f);
			json_array_foreach(json_object_get(h, "Test"), i, v)
			    fprintf(f, "\n\t Test = %s", json_string_value(v));
			fputs(" ", f);
		}
	}
	fputs("\n\n", f);
}

static int service_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_inspect_ops ops = {fetch_service, service_pretty, NULL, 0, 1};

	return cli_inspect_refs(ctx, argc, argv, &ops);
}

/* ------------------------------------------------------------------------ */
/* rm, scale, rollback                                                       */

static int service_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_flag flags[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL, 0}};
	int rc;

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	return cli_api_remove_refs(ctx, argc, argv, "/services/", NULL);
}

static int scale_one(struct cli_ctx *ctx, const char *id, uint64_t n)
{
	CLI_AUTO_JSON json_t *svc = NULL;
	json_t *mode;
	int rc;

	if ((rc = cli_svc_get(ctx, id, 0, &svc)))
		return rc;
	mode = cli_json_path(svc, "Spec.Mode");
	if (json_is_object(json_object_get(mode, "Replicated")))
		json_object_set_new(json_object_get(mode, "Replicated"), "Replicas",
				    json_integer((json_int_t) n));
	else if (json_is_object(json_object_get(mode, "ReplicatedJob")))
		json_object_set_new(json_object_get(mode, "ReplicatedJob"), "TotalCompletions",
				    json_integer((json_int_t) n));
	else
		return cli_errorf(ctx, -EINVAL,
				  "scale can only be used with replicated or replicated-job mode");
	return cli_svc_post_update(ctx, svc, json_object_get(svc, "Spec"), NULL, NULL);
}

static int service_scale(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_BUF struct buf errs = BUF_INIT;
	CLI_AUTO_STRV struct cli_strv done = {0};
	int detach = 0, rc;
	struct cli_flag flags[] = {
	    {"detach", 'd', CLI_FLAG_BOOL, &detach,
	     "Exit immediately instead of waiting for the service to converge", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || !eq[1])
			return cli_errorf(ctx, -EINVAL,
					  "Invalid scale specifier '%s'.\nSee '%s --help'.\n\n"
					  "Usage:  %s SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\n%s",
					  argv[i], ctx->path, ctx->path, ctx->cmd->short_help);
	}
	for (int i = 0; i < argc; i++) {
		CLI_AUTO_FREE char *arg = xstrdup(argv[i]);
		char *eq = strchr(arg, '='), *end;
		unsigned long long n;

		*eq = '\0';
		errno = 0;
		n = strtoull(eq + 1, &end, 10);
		if (!isdigit((unsigned char) eq[1]) || *end || errno) {
			CLI_AUTO_FREE char *m = NULL;

			if (asprintf(
				&m,
				"invalid replicas value %s: strconv.ParseUint: parsing \"%s\": %s",
				eq + 1, eq + 1,
				errno ? "value out of range" : "invalid syntax") < 0)
				abort();
			cli_errs_add(&errs, arg, m);
			continue;
		}
		if (scale_one(ctx, arg, n)) {
			cli_errs_add(&errs, arg, cli_error_msg(ctx));
			continue;
		}
		fprintf(ctx->out, "%s scaled to %llu\n", arg, n);
		cli_strv_push(&done, arg);
	}
	fflush(ctx->out);
	for (size_t i = 0; !detach && i < done.n; i++)
		if (cli_service_wait(ctx, done.v[i], 0))
			cli_errs_add(&errs, done.v[i], cli_error_msg(ctx));
	if (!errs.len)
		return 0;
	buf_append_u8(&errs, '\0');
	return cli_errorf(ctx, -EIO, "%s", (char *) errs.data);
}

static int service_rollback(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_JSON json_t *svc = NULL;
	int detach = 0, quiet = 0, rc;
	struct cli_flag flags[] = {
	    {"detach", 'd', CLI_FLAG_BOOL, &detach,
	     "Exit immediately instead of waiting for the service to converge", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Suppress progress output", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_svc_get(ctx, argv[0], 0, &svc)) ||
	    (rc = cli_svc_post_update(ctx, svc, json_object_get(svc, "Spec"), "previous", NULL)))
		return rc;
	fprintf(ctx->out, "%s\n", argv[0]);
	fflush(ctx->out);
	return detach ? 0 : cli_service_wait(ctx, cli_json_str(svc, "ID"), quiet);
}

const struct cli_cmd cli_service_cmds[] = {
    {"create", cli_service_create, "create [OPTIONS] IMAGE [COMMAND] [ARG...]", NULL,
     "Create a new service", NULL},
    {"inspect", service_inspect, "inspect [OPTIONS] SERVICE [SERVICE...]", NULL,
     "Display detailed information on one or more services", NULL},
    {"logs", cli_service_logs, "logs [OPTIONS] SERVICE|TASK", NULL,
     "Fetch the logs of a service or task", NULL},
    {"ls", service_ls, "ls [OPTIONS]", NULL, "List services", "list"},
    {"ps", cli_service_ps, "ps [OPTIONS] SERVICE [SERVICE...]", NULL,
     "List the tasks of one or more services", NULL},
    {"rm", service_rm, "rm SERVICE [SERVICE...]", NULL, "Remove one or more services", "remove"},
    {"rollback", service_rollback, "rollback [OPTIONS] SERVICE", NULL,
     "Revert changes to a service's configuration", NULL},
    {"scale", service_scale, "scale SERVICE=REPLICAS [SERVICE=REPLICAS...]", NULL,
     "Scale one or multiple replicated services", NULL},
    {"update", cli_service_update, "update [OPTIONS] SERVICE", NULL, "Update a service", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
