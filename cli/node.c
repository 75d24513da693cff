/* `shoal node ...`: ls, inspect, update, promote, demote, rm (ps waits for
 * tasks) — requests, columns and messages of docker's node commands. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/flag.h"
#include "cli/format.h"
#include "cli/service.h"
#include "cli/swobj.h"
#include "cli/template.h"
#include "cli/units.h"

#define NODE_TABLE_FORMAT                                                                          \
	"table {{.ID}} {{if .Self}}*{{else}} {{ end }}\\t{{.Hostname}}\\t{{.Status}}\\t"           \
	"{{.Availability}}\\t{{.ManagerStatus}}\\t{{.EngineVersion}}"
#define NODE_RAW_FORMAT                                                                            \
	"node_id: {{.ID}}\\nhostname: {{.Hostname}}\\nstatus: {{.Status}}\\navailability: "        \
	"{{.Availability}}\\nmanager_status: {{.ManagerStatus}}\\n"

/* docker's capitalizeFirst: first byte upper, the rest lower; a single
 * character is lowered. */
static void pretty(const char *s, char *out, size_t n)
{
	size_t l = strlen(s), i;

	for (i = 0; i < l && i + 1 < n; i++)
		out[i] = (char) (i == 0 && l > 1 ? toupper((unsigned char) s[i])
						 : tolower((unsigned char) s[i]));
	out[i < n ? i : n - 1] = '\0';
}

static json_t *pretty_json(const char *s)
{
	char tmp[512];

	pretty(s, tmp, sizeof(tmp));
	return json_string(tmp);
}

/* Resolves "self" to this node's ID via GET /info (docker's Reference). */
static int node_reference(struct cli_ctx *ctx, const char *ref, char **out)
{
	CLI_AUTO_JSON json_t *info = NULL;
	const char *id;
	int rc;

	if (strcmp(ref, "self") != 0) {
		*out = xstrdup(ref);
		return 0;
	}
	if ((rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info)))
		return rc;
	id = cli_json_str(info, "Swarm.NodeID");
	if (!*id) {
		CLI_AUTO_JSON json_t *nodes = NULL;

		/* Let a swarm endpoint explain why (not a manager, no swarm). */
		if ((rc = cli_api(ctx, "GET", "/nodes", NULL, NULL, &nodes)))
			return rc;
		return cli_errorf(ctx, -ENOENT, "node ID not found in /info");
	}
	*out = xstrdup(id);
	return 0;
}

int cli_node_get(struct cli_ctx *ctx, const char *ref, json_t **node)
{
	CLI_AUTO_FREE char *id = NULL;
	CLI_AUTO_FREE char *path = NULL;
	int rc;

	if ((rc = node_reference(ctx, ref, &id)))
		return rc;
	path = cli_api_path("/nodes/", id, NULL);
	rc = cli_api(ctx, "GET", path, NULL, NULL, node);
	if (rc == 0 && !json_is_object(*node))
		rc = cli_errorf(ctx, -EPROTO, "unexpected reply to GET %s: expected an object",
				path);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* node ls                                                                   */

static int tls_info_empty(json_t *t)
{
	return !*cli_json_str(t, "TrustRoot") && !*cli_json_str(t, "CertIssuerSubject") &&
	       !*cli_json_str(t, "CertIssuerPublicKey");
}

static const char *tls_status(json_t *node, json_t *info)
{
	json_t *cluster = cli_json_path(info, "Swarm.Cluster.TLSInfo");
	json_t *mine = cli_json_path(node, "Description.TLSInfo");
	static const char *const keys[] = {"TrustRoot", "CertIssuerSubject", "CertIssuerPublicKey"};

	if (!json_is_object(cluster) || tls_info_empty(cluster) || tls_info_empty(mine))
		return "Unknown";
	for (size_t i = 0; i < 3; i++)
		if (strcmp(cli_json_str(cluster, keys[i]), cli_json_str(mine, keys[i])) != 0)
			return "Needs Rotation";
	return "Ready";
}

/* One row as docker's nodeContext, keys in encoding/json's sorted order. */
static json_t *node_row(json_t *node, json_t *info)
{
	json_t *row = json_object();
	const char *id = cli_json_str(node, "ID");
	const char *reach = "";

	if (json_is_object(cli_json_path(node, "ManagerStatus")))
		reach = cli_json_bool(node, "ManagerStatus.Leader")
			    ? "Leader"
			    : cli_json_str(node, "ManagerStatus.Reachability");
	json_object_set_new(row, "Availability",
			    pretty_json(cli_json_str(node, "Spec.Availability")));
	json_object_set_new(row, "EngineVersion",
			    json_string(cli_json_str(node, "Description.Engine.EngineVersion")));
	json_object_set_new(row, "Hostname",
			    json_string(cli_json_str(node, "Description.Hostname")));
	json_object_set_new(row, "ID", json_string(id));
	json_object_set_new(row, "ManagerStatus", pretty_json(reach));
	json_object_set_new(
	    row, "Self", json_boolean(*id && strcmp(id, cli_json_str(info, "Swarm.NodeID")) == 0));
	json_object_set_new(row, "Status", pretty_json(cli_json_str(node, "Status.State")));
	json_object_set_new(row, "TLSStatus", json_string(tls_status(node, info)));
	return row;
}

struct sort_ent {
	json_t *node;
	size_t idx;
};

static int cmp_hostname(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	int c = cli_natural_cmp(cli_json_str(x->node, "Description.Hostname"),
				cli_json_str(y->node, "Description.Hostname"));

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int node_ls(struct cli_ctx *ctx, int argc, char **argv)
{
	int quiet = 0, rc;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_JSON json_t *nodes = NULL;
	CLI_AUTO_JSON json_t *info = NULL;
	CLI_AUTO_JSON json_t *rows = NULL;
	CLI_AUTO_JSON json_t *header = NULL;
	struct sort_ent *ents;
	size_t n;
	struct cli_flag flags[] = {
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display IDs", NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, CLI_FORMAT_HELP, NULL, NULL, 0},
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_api_list(ctx, "/nodes", &filters, NULL, &nodes)))
		return rc;
	n = json_array_size(nodes);
	/* Only a non-empty, non-quiet listing needs /info (for the '*'). */
	if (n > 0 && !quiet && (rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info)))
		return rc;

	if (!*format || strcmp(format, "table") == 0)
		format = quiet ? "{{.ID}}" : NODE_TABLE_FORMAT;
	else if (strcmp(format, "raw") == 0)
		format = quiet ? "node_id: {{.ID}}" : NODE_RAW_FORMAT;

	ents = xcalloc(n ? n : 1, sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		ents[i].node = json_array_get(nodes, i);
		ents[i].idx = i;
	}
	qsort(ents, n, sizeof(*ents), cmp_hostname);
	rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, node_row(ents[i].node, info));
	free(ents);
	header = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID", "Self", "", "Hostname",
			   "HOSTNAME", "Status", "STATUS", "Availability", "AVAILABILITY",
			   "ManagerStatus", "MANAGER STATUS", "EngineVersion", "ENGINE VERSION",
			   "TLSStatus", "TLS STATUS");
	return cli_format_list(ctx, format, rows, header);
}

/* ------------------------------------------------------------------------ */
/* node inspect                                                              */

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void print_plugins(FILE *f, json_t *plugins)
{
	CLI_AUTO_JSON json_t *by_type = json_object();
	size_t i, n;
	const char **types;
	const char *k;
	json_t *p, *v;

	json_array_foreach(plugins, i, p)
	{
		const char *type = cli_json_str(p, "Type"), *name = cli_json_str(p, "Name");
		json_t *cur = json_object_get(by_type, type);
		CLI_AUTO_FREE char *joined = NULL;

		if (asprintf(&joined, "%s%s%s", cur ? json_string_value(cur) : "", cur ? ", " : "",
			     name) < 0)
			abort();
		json_object_set_new(by_type, type, json_string(joined));
	}
	n = json_object_size(by_type);
	types = xcalloc(n ? n : 1, sizeof(*types));
	i = 0;
	json_object_foreach(by_type, k, v) types[i++] = k;
	qsort(types, n, sizeof(*types), cmp_key);
	fprintf(f, "\nPlugins:");
	for (i = 0; i < n; i++) {
		const char *names = cli_json_str(by_type, types[i]);

		fprintf(f, "\n %s:%s%s", types[i], *names ? "\t\t" : "", names);
	}
	free(types);
}

/* docker's nodeInspectPrettyTemplate, rendered by hand (tabs included). */
static void print_pretty(FILE *f, json_t *node)
{
	char t[128], joined[160], mem[32];
	const char *created = cli_json_str(node, "CreatedAt");
	json_t *labels = cli_json_path(node, "Spec.Labels");
	json_t *plugins = cli_json_path(node, "Description.Engine.Plugins");
	json_t *elabels = cli_json_path(node, "Description.Engine.Labels");
	json_t *tls = cli_json_path(node, "Description.TLSInfo");
	int64_t ncpu = cli_json_int(node, "Description.Resources.NanoCPUs");
	int64_t membytes = cli_json_int(node, "Description.Resources.MemoryBytes");

	fprintf(f, "ID:\t\t\t%s", cli_json_str(node, "ID"));
	if (*cli_json_str(node, "Spec.Name"))
		fprintf(f, "\nName:\t\t\t%s", cli_json_str(node, "Spec.Name"));
	if (json_object_size(labels)) {
		fprintf(f, "\nLabels:");
		cli_swobj_print_labels(f, labels);
	}
	cli_time_go_string(*created ? created : "0001-01-01T00:00:00Z", t, sizeof(t));
	pretty(t, joined, sizeof(joined));
	fprintf(f, "\nHostname:              \t%s", cli_json_str(node, "Description.Hostname"));
	fprintf(f, "\nJoined at:             \t%s", joined);
	pretty(cli_json_str(node, "Status.State"), t, sizeof(t));
	fprintf(f, "\nStatus:\n State:\t\t\t%s", t);
	if (*cli_json_str(node, "Status.Message")) {
		CLI_AUTO_FREE char *msg = xstrdup(cli_json_str(node, "Status.Message"));

		pretty(cli_json_str(node, "Status.Message"), msg, strlen(msg) + 1);
		fprintf(f, "\n Message:              \t%s", msg);
	}
	pretty(cli_json_str(node, "Spec.Availability"), t, sizeof(t));
	fprintf(f, "\n Availability:         \t%s", t);
	if (*cli_json_str(node, "Status.Addr"))
		fprintf(f, "\n Address:\t\t%s", cli_json_str(node, "Status.Addr"));
	if (json_is_object(cli_json_path(node, "ManagerStatus"))) {
		pretty(cli_json_str(node, "ManagerStatus.Reachability"), t, sizeof(t));
		fprintf(f,
			"\nManager Status:\n Address:\t\t%s\n Raft Status:\t\t%s\n Leader:\t\t%s",
			cli_json_str(node, "ManagerStatus.Addr"), t,
			cli_json_bool(node, "ManagerStatus.Leader") ? "Yes" : "No");
	}
	mem[0] = '\0';
	if (membytes)
		cli_bytes_size((double) membytes, mem, sizeof(mem));
	fprintf(f,
		"\nPlatform:\n Operating System:\t%s\n Architecture:\t\t%s\nResources:\n "
		"CPUs:\t\t\t%lld\n Memory:\t\t%s",
		cli_json_str(node, "Description.Platform.OS"),
		cli_json_str(node, "Description.Platform.Architecture"),
		(long long) (ncpu / 1000000000), mem);
	if (json_array_size(plugins))
		print_plugins(f, plugins);
	fprintf(f, "\nEngine Version:\t\t%s",
		cli_json_str(node, "Description.Engine.EngineVersion"));
	if (json_object_size(elabels)) {
		fprintf(f, "\nEngine Labels:");
		cli_swobj_print_labels(f, elabels);
	}
	if (json_is_object(tls) && !tls_info_empty(tls))
		fprintf(
		    f,
		    "\nTLS Info:\n TrustRoot:\n%s\n Issuer Subject:\t%s\n Issuer Public Key:\t%s",
		    cli_json_str(tls, "TrustRoot"), cli_json_str(tls, "CertIssuerSubject"),
		    cli_json_str(tls, "CertIssuerPublicKey"));
	fputc('\n', f);
}

static int fetch_node(struct cli_ctx *ctx, const char *ref, json_t **obj, const void *arg)
{
	return cli_node_get(ctx, ref, obj);
}

static void pretty_node(FILE *f, json_t *obj, const void *arg)
{
	print_pretty(f, obj);
}

static int node_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
	/* A bad template exits 64, as docker node inspect does. */
	static const struct cli_inspect_ops ops = {fetch_node, pretty_node, NULL, 64, 0};

	return cli_inspect_refs(ctx, argc, argv, &ops);
}

/* ------------------------------------------------------------------------ */
/* node update, promote, demote                                              */

enum node_change { CHANGE_FLAGS, CHANGE_PROMOTE, CHANGE_DEMOTE };

struct update_opts {
	enum node_change kind;
	struct cli_flag *flags; /* CHANGE_FLAGS */
	const char *role, *availability;
	struct cli_strv *label_add, *label_rm;
};

/* Applies the change to the node's Spec. Returns 0, 1 when the node already
 * has the requested role (skipped), or a negative code with the error set. */
static int merge_node(struct cli_ctx *ctx, json_t *node, const struct update_opts *o)
{
	json_t *spec = cli_json_object_at(node, "Spec");
	const char *role = cli_json_str(spec, "Role");
	json_t *labels;

	if (o->kind == CHANGE_PROMOTE || o->kind == CHANGE_DEMOTE) {
		int promote = o->kind == CHANGE_PROMOTE;

		if (strcmp(role, promote ? "manager" : "worker") == 0) {
			fprintf(ctx->out, "Node %s is already a %s.\n", cli_json_str(node, "ID"),
				promote ? "manager" : "worker");
			return 1;
		}
		json_object_set_new(spec, "Role", json_string(promote ? "manager" : "worker"));
		return 0;
	}
	if (cli_flag_get(o->flags, "role")->changed)
		json_object_set_new(spec, "Role", json_string(o->role));
	if (cli_flag_get(o->flags, "availability")->changed)
		json_object_set_new(spec, "Availability", json_string(o->availability));
	labels = cli_json_object_at(spec, "Labels");
	for (size_t i = 0; i < o->label_add->n; i++) {
		const char *kv = o->label_add->v[i], *eq = strchr(kv, '=');
		CLI_AUTO_FREE char *key = eq ? strndup(kv, (size_t) (eq - kv)) : xstrdup(kv);

		if (!key)
			abort();
		json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	}
	for (size_t i = 0; i < o->label_rm->n; i++) {
		if (!json_object_get(labels, o->label_rm->v[i]))
			return cli_errorf(ctx, -ENOENT, "key %s doesn't exist in node's labels",
					  o->label_rm->v[i]);
		json_object_del(labels, o->label_rm->v[i]);
	}
	return 0;
}

/* docker's updateNodes: GET each node, merge, POST the whole spec back with
 * ?version=, report success with the reference the user gave. */
static int update_nodes(struct cli_ctx *ctx, int argc, char **argv, const struct update_opts *o)
{
	for (int i = 0; i < argc; i++) {
		CLI_AUTO_JSON json_t *node = NULL;
		CLI_AUTO_FREE char *path = NULL;
		CLI_AUTO_BUF struct buf q = BUF_INIT;
		char version[32];
		int rc;

		if ((rc = cli_node_get(ctx, argv[i], &node)))
			return rc;
		rc = merge_node(ctx, node, o);
		if (rc > 0)
			continue;
		if (rc < 0)
			return rc;
		snprintf(version, sizeof(version), "%lld",
			 (long long) cli_json_int(node, "Version.Index"));
		cli_http_query_add(&q, "version", version);
		buf_append_u8(&q, '\0');
		path = cli_api_path("/nodes/", cli_json_str(node, "ID"), "/update");
		if ((rc = cli_api(ctx, "POST", path, (char *) q.data, cli_json_path(node, "Spec"),
				  NULL)))
			return rc;
		if (o->kind == CHANGE_PROMOTE)
			fprintf(ctx->out, "Node %s promoted to a manager in the swarm.\n", argv[i]);
		else if (o->kind == CHANGE_DEMOTE)
			fprintf(ctx->out, "Manager %s demoted in the swarm.\n", argv[i]);
		else
			fprintf(ctx->out, "%s\n", argv[i]);
	}
	return 0;
}

static int node_update(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_STRV struct cli_strv add = {0};
	CLI_AUTO_STRV struct cli_strv rm = {0};
	struct update_opts o = {.kind = CHANGE_FLAGS, .role = "", .availability = ""};
	int rc;
	struct cli_flag flags[] = {
	    {"role", 0, CLI_FLAG_STRING, &o.role, "Role of the node (\"worker\", \"manager\")",
	     NULL, NULL, 0},
	    {"availability", 0, CLI_FLAG_STRING, &o.availability,
	     "Availability of the node (\"active\", \"pause\", \"drain\")", NULL, NULL, 0},
	    {"label-add", 0, CLI_FLAG_LIST, &add, "Add or update a node label (\"key=value\")",
	     NULL, NULL, 0},
	    {"label-rm", 0, CLI_FLAG_LIST, &rm, "Remove a node label if exists", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	o.flags = flags;
	o.label_add = &add;
	o.label_rm = &rm;
	return update_nodes(ctx, argc, argv, &o);
}

static int node_role_change(struct cli_ctx *ctx, int argc, char **argv, enum node_change kind)
{
	struct update_opts o = {.kind = kind};
	struct cli_flag flags[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL, 0}};
	int rc;

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	return update_nodes(ctx, argc, argv, &o);
}

static int node_promote(struct cli_ctx *ctx, int argc, char **argv)
{
	return node_role_change(ctx, argc, argv, CHANGE_PROMOTE);
}

static int node_demote(struct cli_ctx *ctx, int argc, char **argv)
{
	return node_role_change(ctx, argc, argv, CHANGE_DEMOTE);
}

/* ------------------------------------------------------------------------ */
/* node rm, ps                                                               */

static int node_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	int force = 0, rc;
	struct cli_flag flags[] = {
	    {"force", 'f', CLI_FLAG_BOOL, &force, "Force remove a node from the swarm", NULL, NULL,
	     0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	return cli_api_remove_refs(ctx, argc, argv, "/nodes/", force ? "force=1" : NULL);
}

const struct cli_cmd cli_node_cmds[] = {
    {"demote", node_demote, "demote NODE [NODE...]", NULL,
     "Demote one or more nodes from manager in the swarm", NULL},
    {"inspect", node_inspect, "inspect [OPTIONS] self|NODE [NODE...]", NULL,
     "Display detailed information on one or more nodes", NULL},
    {"ls", node_ls, "ls [OPTIONS]", NULL, "List nodes in the swarm", "list"},
    {"promote", node_promote, "promote NODE [NODE...]", NULL,
     "Promote one or more nodes to manager in the swarm", NULL},
    {"ps", cli_node_ps, "ps [OPTIONS] [NODE...]", NULL,
     "List tasks running on one or more nodes, defaults to current node", NULL},
    {"rm", node_rm, "rm [OPTIONS] NODE [NODE...]", NULL, "Remove one or more nodes from the swarm",
     "remove"},
    {"update", node_update, "update [OPTIONS] NODE", NULL, "Update a node", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
