/* `shoal service ps`: docker's ps.go and task.Print — services resolved by
 * full ID, exact name, then unique ID prefix; tasks named "svc.slot" (or
 * "svc.nodeid" for slot 0), sorted so older tasks of a slot follow the
 * newest indented under " \_ ", node names from GET /nodes/{id}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/format.h"
#include "cli/service.h"
#include "cli/units.h"

#define TASK_TABLE_FORMAT                                                                          \
	"table {{.ID}}\\t{{.Name}}\\t{{.Image}}\\t{{.Node}}\\t{{.DesiredState}}\\t"                \
	"{{.CurrentState}}\\t{{.Error}}\\t{{.Ports}}"
#define MAX_ERR_LENGTH 30

static int list_services(struct cli_ctx *ctx, const char *key, int argc, char **argv, json_t **out)
{
	CLI_AUTO_STRV struct cli_strv f = {0};
	CLI_AUTO_FREE char *fj = NULL;
	CLI_AUTO_BUF struct buf q = BUF_INIT;

	for (int i = 0; i < argc; i++) {
		CLI_AUTO_FREE char *kv = NULL;

		if (asprintf(&kv, "%s=%s", key, argv[i]) < 0)
			abort();
		cli_strv_push(&f, kv);
	}
	fj = cli_api_filters(&f);
	cli_http_query_add(&q, "filters", fj);
	buf_append_u8(&q, '\0');
	return cli_api(ctx, "GET", "/services", (char *) q.data, NULL, out);
}

/* idresolver: a name for an ID (cached; the ID itself when unknown). */
static const char *resolve(struct cli_ctx *ctx, json_t *cache, const char *prefix, const char *id,
			   const char *name_path, int no_resolve)
{
	json_t *hit;
	CLI_AUTO_FREE char *path = NULL;
	CLI_AUTO_JSON json_t *obj = NULL;

	if (no_resolve || !*id)
		return id;
	if ((hit = json_object_get(cache, id)))
		return json_string_value(hit);
	path = cli_api_path(prefix, id, NULL);
	if (cli_api(ctx, "GET", path, NULL, NULL, &obj) || !*cli_json_str(obj, name_path))
		json_object_set_new(cache, id, json_string(id));
	else
		json_object_set_new(cache, id, json_string(cli_json_str(obj, name_path)));
	return json_string_value(json_object_get(cache, id));
}

struct task_ent {
	json_t *task;
	char name[256];
	int64_t created;
	size_t idx;
};

static int cmp_task(const void *a, const void *b)
{
	const struct task_ent *x = a, *y = b;
	int c = strcmp(x->name, y->name) ? cli_natural_cmp(x->name, y->name) : 0;

	if (c)
		return c;
	/* Same slot: most recent first, then stable. */
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static json_t *task_row(struct cli_ctx *ctx, struct task_ent *e, const char *name, const char *node,
			int trunc)
{
	json_t *t = e->task, *p;
	char id[13], ds[64], st[64], ago[64], cur[160], err[512];
	const char *terr = cli_json_str(t, "Status.Err");
	CLI_AUTO_FREE char *img = NULL;
	struct buf ports = BUF_INIT;
	int64_t ts = 0;
	int off;
	size_t i;
	json_t *row;

	cli_svc_trunc_id(cli_json_str(t, "ID"), id);
	img = trunc ? cli_svc_display_image(cli_json_str(t, "Spec.ContainerSpec.Image"))
		    : xstrdup(cli_json_str(t, "Spec.ContainerSpec.Image"));
	cli_svc_pretty(cli_json_str(t, "DesiredState"), ds, sizeof(ds));
	cli_svc_pretty(cli_json_str(t, "Status.State"), st, sizeof(st));
	if (cli_time_parse(*cli_json_str(t, "Status.Timestamp")
			       ? cli_json_str(t, "Status.Timestamp")
			       : "0001-01-01T00:00:00Z",
			   &ts, &off))
		ts = 0;
	cli_human_duration(cli_now_ns(ctx) - ts, ago, sizeof(ago));
	for (char *c = ago; *c; c++)
		*c = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	snprintf(cur, sizeof(cur), "%s %s ago", st, ago);
	if (*terr && trunc && strlen(terr) > MAX_ERR_LENGTH)
		snprintf(err, sizeof(err), "\"%.*s\xe2\x80\xa6\"", MAX_ERR_LENGTH - 1, terr);
	else if (*terr)
		snprintf(err, sizeof(err), "\"%s\"", terr);
	else
		err[0] = '\0';
	json_array_foreach(cli_json_path(t, "Status.PortStatus.Ports"), i, p)
	{
		char s[96];

		snprintf(s, sizeof(s), "%s*:%lld->%lld/%s", ports.len ? "," : "",
			 (long long) cli_json_int(p, "PublishedPort"),
			 (long long) cli_json_int(p, "TargetPort"), cli_json_str(p, "Protocol"));
		buf_append(&ports, s, strlen(s));
	}
	row =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s%}", "CurrentState", cur, "DesiredState", ds,
		      "Error", err, "ID", trunc ? id : cli_json_str(t, "ID"), "Image", img, "Name",
		      name, "Node", node, "Ports", ports.len ? (char *) ports.data : "", ports.len);
	buf_free(&ports);
	return row;
}

/* task.Print: names, sorting, history indentation, node names. */
static int print_tasks(struct cli_ctx *ctx, json_t *tasks, const char *format, int trunc,
		       int no_resolve)
{
	size_t n = json_array_size(tasks);
	struct task_ent *e = xcalloc(n ? n : 1, sizeof(*e));
	CLI_AUTO_JSON json_t *svc_names = json_object();
	CLI_AUTO_JSON json_t *node_names = json_object();
	CLI_AUTO_JSON json_t *rows = json_array();
	CLI_AUTO_JSON json_t *header = NULL;
	int table = !strncmp(format, "table", 5);
	const char *prev = "";
	int rc;

	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tasks, i);
		const char *svc = resolve(ctx, svc_names, "/services/",
					  cli_json_str(t, "ServiceID"), "Spec.Name", no_resolve);
		int off;

		e[i].task = t;
		e[i].idx = i;
		if (cli_json_int(t, "Slot"))
			snprintf(e[i].name, sizeof(e[i].name), "%s.%lld", svc,
				 (long long) cli_json_int(t, "Slot"));
		else
			snprintf(e[i].name, sizeof(e[i].name), "%s.%s", svc,
				 cli_json_str(t, "NodeID"));
		if (cli_time_parse(cli_json_str(t, "CreatedAt"), &e[i].created, &off))
			e[i].created = 0;
	}
	qsort(e, n, sizeof(*e), cmp_task);
	for (size_t i = 0; i < n; i++) {
		char name[300];
		const char *node =
		    resolve(ctx, node_names, "/nodes/", cli_json_str(e[i].task, "NodeID"),
			    "Description.Hostname", no_resolve);

		snprintf(name, sizeof(name), "%s%s",
			 table && !strcmp(e[i].name, prev) ? " \\_ " : "", e[i].name);
		prev = e[i].name;
		json_array_append_new(rows, task_row(ctx, &e[i], name, node, trunc));
	}
	free(e);
	header = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID", "Name", "NAME", "Image",
			   "IMAGE", "Node", "NODE", "DesiredState", "DESIRED STATE", "CurrentState",
			   "CURRENT STATE", "Error", "ERROR", "Ports", "PORTS");
	rc = cli_format_list(ctx, format, rows, header);
	return rc;
}

int cli_service_ps(struct cli_ctx *ctx, int argc, char **argv)
{
	int quiet = 0, no_trunc = 0, no_resolve = 0, rc, count = 0;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_JSON json_t *by_id = NULL;
	CLI_AUTO_JSON json_t *by_name = NULL;
	CLI_AUTO_JSON json_t *tasks = NULL;
	CLI_AUTO_BUF struct buf notfound = BUF_INIT;
	struct cli_flag flags[] = {
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, "Pretty-print tasks using a Go template", NULL,
	     NULL, 0},
	    {"no-resolve", 0, CLI_FLAG_BOOL, &no_resolve, "Do not map IDs to Names", NULL, NULL, 0},
	    {"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc, "Do not truncate output", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display task IDs", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	if ((rc = list_services(ctx, "id", argc, argv, &by_id)) ||
	    (rc = list_services(ctx, "name", argc, argv, &by_name)))
		return rc;
	for (int i = 0; i < argc; i++) {
		const char *ref = argv[i], *found = NULL;
		size_t j;
		json_t *s;
		int prefix = 0;

		json_array_foreach(by_id, j, s) if (!found && !strcmp(cli_json_str(s, "ID"), ref))
		    found = cli_json_str(s, "ID");
		json_array_foreach(by_name, j,
				   s) if (!found && !strcmp(cli_json_str(s, "Spec.Name"), ref))
		    found = cli_json_str(s, "ID");
		if (!found)
			json_array_foreach(by_id, j,
					   s) if (!strncmp(cli_json_str(s, "ID"), ref, strlen(ref)))
			{
				if (prefix++)
					return cli_errorf(ctx, -EINVAL,
							  "multiple services found with provided "
							  "prefix: %s",
							  ref);
				found = cli_json_str(s, "ID");
			}
		if (!found) {
			cli_errs_add(&notfound, "no such service", ref);
			continue;
		}
		{
			CLI_AUTO_FREE char *kv = NULL;

			if (asprintf(&kv, "service=%s", found) < 0)
				abort();
			cli_strv_push(&filters, kv);
		}
		count++;
	}
	buf_append_u8(&notfound, '\0');
	if (!count)
		return cli_errorf(ctx, -ENOENT, "%s", (char *) notfound.data);
	/* Node filters take names or "self" as docker resolves them; shoal
	 * passes them through for the daemon to resolve. */
	if ((rc = cli_api_list(ctx, "/tasks", &filters, NULL, &tasks)))
		return rc;
	if (quiet)
		no_trunc = 1;
	if (!*format || !strcmp(format, "table"))
		format = quiet ? "{{.ID}}" : TASK_TABLE_FORMAT;
	if ((rc = print_tasks(ctx, tasks, format, !no_trunc, no_resolve)))
		return rc;
	if (notfound.len > 1)
		return cli_errorf(ctx, -ENOENT, "%s", (char *) notfound.data);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* node ps                                                                   */

int cli_node_ps(struct cli_ctx *ctx, int argc, char **argv)
{
	int quiet = 0, no_trunc = 0, no_resolve = 0, rc;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_JSON json_t *tasks = NULL;
	char *self[] = {"self"};
	struct cli_flag flags[] = {
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, "Pretty-print tasks using a Go template", NULL,
	     NULL, 0},
	    {"no-resolve", 0, CLI_FLAG_BOOL, &no_resolve, "Do not map IDs to Names", NULL, NULL, 0},
	    {"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc, "Do not truncate output", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display task IDs", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	if (argc == 0) {
		argc = 1;
		argv = self;
	}
	for (int i = 0; i < argc; i++) {
		CLI_AUTO_JSON json_t *node = NULL;
		CLI_AUTO_FREE char *kv = NULL;

		if ((rc = cli_node_get(ctx, argv[i], &node)))
			return rc;
		if (asprintf(&kv, "node=%s", cli_json_str(node, "ID")) < 0)
			abort();
		cli_strv_push(&filters, kv);
	}
	if ((rc = cli_api_list(ctx, "/tasks", &filters, NULL, &tasks)))
		return rc;
	if (quiet)
		no_trunc = 1;
	if (!*format || !strcmp(format, "table"))
		format = quiet ? "{{.ID}}" : TASK_TABLE_FORMAT;
	return print_tasks(ctx, tasks, format, !no_trunc, no_resolve);
}
