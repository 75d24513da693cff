/* `shoal version` and `shoal info`: the client's own facts plus GET /version
 * and GET /info, laid out as docker prints them (info's Swarm section line
 * for line). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/flag.h"
#include "cli/format.h"
#include "cli/template.h"
#include "cli/units.h"

#if defined(__x86_64__)
#define CLI_ARCH "amd64"
#elif defined(__aarch64__)
#define CLI_ARCH "arm64"
#elif defined(__i386__)
#define CLI_ARCH "386"
#else
#define CLI_ARCH "unknown"
#endif

/* Renders a user template once over `dot` and prints it with a newline. */
static int print_template(struct cli_ctx *ctx, const char *format, json_t *dot)
{
	CLI_AUTO_FREE char *src =
	    cli_format_unescape(strcmp(format, "json") ? format : "{{json .}}");
	CLI_AUTO_BUF struct buf out = BUF_INIT;
	struct cli_tmpl *t = NULL;
	char err[256];
	int rc;

	if (cli_tmpl_parse(src, &t, err, sizeof(err)))
		return cli_errorf(ctx, -EINVAL, "template parsing error: %s", err);
	rc = cli_tmpl_exec(t, dot, &out, err, sizeof(err));
	cli_tmpl_free(t);
	if (rc)
		return cli_errorf(ctx, -EINVAL, "template parsing error: %s", err);
	fprintf(ctx->out, "%.*s\n", (int) out.len, (char *) out.data);
	return 0;
}

static const char *bool_str(int b)
{
	return b ? "true" : "false";
}

/* ------------------------------------------------------------------------ */
/* version                                                                   */

static json_t *engine_component(json_t *version)
{
	size_t i;
	json_t *c;

	json_array_foreach(cli_json_path(version, "Components"), i,
			   c) if (strcmp(cli_json_str(c, "Name"), "Engine") == 0) return c;
	return NULL;
}

/* Prints "  <label>:\t<value>" for a non-empty value. */
static void tw_field(struct cli_tabw *tw, const char *indent, const char *label, const char *value)
{
	if (*value)
		cli_tabw_printf(tw, "%s%s:\t%s\n", indent, label, value);
}

static void print_server_version(struct cli_tabw *tw, json_t *v)
{
	json_t *engine = engine_component(v);
	json_t *d = engine ? cli_json_path(engine, "Details") : v;
	const char *platform = cli_json_str(v, "Platform.Name");
	const char *exp;
	size_t i;
	json_t *c;

	cli_tabw_printf(tw, "\nServer:%s%s\n Engine:\n", *platform ? " " : "", platform);
	tw_field(tw, "  ", "Version",
		 engine ? cli_json_str(engine, "Version") : cli_json_str(v, "Version"));
	cli_tabw_printf(tw, "  API version:\t%s (minimum version %s)\n",
			cli_json_str(d, "ApiVersion"), cli_json_str(d, "MinAPIVersion"));
	tw_field(tw, "  ", "Go version", cli_json_str(d, "GoVersion"));
	tw_field(tw, "  ", "Git commit", cli_json_str(d, "GitCommit"));
	tw_field(tw, "  ", "Built", cli_json_str(d, "BuildTime"));
	cli_tabw_printf(tw, "  OS/Arch:\t%s/%s\n", cli_json_str(d, "Os"), cli_json_str(d, "Arch"));
	exp = cli_json_str(d, "Experimental");
	cli_tabw_printf(tw, "  Experimental:\t%s\n",
			*exp ? exp : bool_str(cli_json_bool(v, "Experimental")));
	json_array_foreach(cli_json_path(v, "Components"), i, c)
	{
		if (c == engine)
			continue;
		cli_tabw_printf(tw, " %s:\n  Version:\t%s\n", cli_json_str(c, "Name"),
				cli_json_str(c, "Version"));
		tw_field(tw, "  ", "GitCommit", cli_json_str(c, "Details.GitCommit"));
	}
}

int cli_version_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *format = "";
	CLI_AUTO_JSON json_t *server = NULL;
	struct cli_tabw tw;
	int rc;
	struct cli_flag flags[] = {
	    {"format", 'f', CLI_FLAG_STRING, &format,
	     "Format output using a custom template:\n'json':             Print in JSON format\n"
	     "'TEMPLATE':         Print output using the given Go template.",
	     NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	rc = cli_api(ctx, "GET", "/version", NULL, NULL, &server);
	if (*format) {
		CLI_AUTO_JSON json_t *all = json_pack(
		    "{s:{s:s,s:s,s:s,s:s},s:O?}", "Client", "Version", SHOAL_VERSION, "ApiVersion",
		    CLI_API_VERSION, "Os", "linux", "Arch", CLI_ARCH, "Server", rc ? NULL : server);

		if (rc)
			fprintf(ctx->err, "%s\n", cli_error_msg(ctx));
		return print_template(ctx, format, all) ?: rc;
	}
	cli_tabw_init(&tw, 20, 1);
	cli_tabw_printf(&tw, "Client:\n Version:\t%s\n API version:\t%s\n OS/Arch:\tlinux/%s\n",
			SHOAL_VERSION, CLI_API_VERSION, CLI_ARCH);
	if (rc == 0)
		print_server_version(&tw, server);
	cli_tabw_flush(&tw, ctx->out);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* info                                                                      */

static void print_human(FILE *f, const char *label, int64_t ns)
{
	char d[64];

	cli_human_duration(ns, d, sizeof(d));
	fprintf(f, "%s %s\n", label, d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* docker's printSwarmInfo. */
static void print_swarm_info(FILE *f, json_t *info)
{
	json_t *sw = cli_json_path(info, "Swarm"), *cl = cli_json_path(sw, "Cluster");
	const char *state = cli_json_str(sw, "LocalNodeState"), *err = cli_json_str(sw, "Error");
	json_t *managers = cli_json_path(sw, "RemoteManagers");

	if (strcmp(state, "inactive") == 0 || strcmp(state, "locked") == 0)
		return;
	fprintf(f, "  NodeID: %s\n", cli_json_str(sw, "NodeID"));
	if (*err)
		fprintf(f, "  Error: %s\n", err);
	fprintf(f, "  Is Manager: %s\n", bool_str(cli_json_bool(sw, "ControlAvailable")));
	if (json_is_object(cl) && cli_json_bool(sw, "ControlAvailable") && !*err &&
	    strcmp(state, "error") != 0) {
		json_t *pools = cli_json_path(cl, "DefaultAddrPool"), *p, *keep, *cas, *ca;
		const char *cert;
		size_t i;

		fprintf(f, "  ClusterID: %s\n", cli_json_str(cl, "ID"));
		fprintf(f, "  Managers: %lld\n", (long long) cli_json_int(sw, "Managers"));
		fprintf(f, "  Nodes: %lld\n", (long long) cli_json_int(sw, "Nodes"));
		if (json_is_array(pools)) {
			fprintf(f, "  Default Address Pool: ");
			json_array_foreach(pools, i, p)
			    fprintf(f, "%s  ", json_string_value(p) ?: "");
			fprintf(f, "\n  SubnetSize: %lld\n",
				(long long) cli_json_int(cl, "SubnetSize"));
		}
		if (cli_json_int(cl, "DataPathPort") > 0)
			fprintf(f, "  Data Path Port: %lld\n",
				(long long) cli_json_int(cl, "DataPathPort"));
		fprintf(
		    f, "  Orchestration:\n   Task History Retention Limit: %lld\n",
		    (long long) cli_json_int(cl, "Spec.Orchestration.TaskHistoryRetentionLimit"));
		fprintf(f, "  Raft:\n   Snapshot Interval: %lld\n",
			(long long) cli_json_int(cl, "Spec.Raft.SnapshotInterval"));
		keep = cli_json_path(cl, "Spec.Raft.KeepOldSnapshots");
		if (json_is_integer(keep))
			fprintf(f, "   Number of Old Snapshots to Retain: %lld\n",
				(long long) json_integer_value(keep));
		fprintf(f, "   Heartbeat Tick: %lld\n   Election Tick: %lld\n",
			(long long) cli_json_int(cl, "Spec.Raft.HeartbeatTick"),
			(long long) cli_json_int(cl, "Spec.Raft.ElectionTick"));
		fprintf(f, "  Dispatcher:\n");
		print_human(
		    f, "   Heartbeat Period:", cli_json_int(cl, "Spec.Dispatcher.HeartbeatPeriod"));
		fprintf(f, "  CA Configuration:\n");
		print_human(
		    f, "   Expiry Duration:", cli_json_int(cl, "Spec.CAConfig.NodeCertExpiry"));
		fprintf(f, "   Force Rotate: %lld\n",
			(long long) cli_json_int(cl, "Spec.CAConfig.ForceRotate"));
		cert = cli_json_str(cl, "Spec.CAConfig.SigningCACert");
		if (*cert)
			fprintf(f, "   Signing CA Certificate: \n%s\n\n", cert);
		cas = cli_json_path(cl, "Spec.CAConfig.ExternalCAs");
		if (json_array_size(cas)) {
			fprintf(f, "   External CAs:\n");
			json_array_foreach(cas, i, ca)
			    fprintf(f, "     %s: %s\n", cli_json_str(ca, "Protocol"),
				    cli_json_str(ca, "URL"));
		}
		fprintf(f, "  Autolock Managers: %s\n",
			bool_str(cli_json_bool(cl, "Spec.EncryptionConfig.AutoLockManagers")));
		fprintf(f, "  Root Rotation In Progress: %s\n",
			bool_str(cli_json_bool(cl, "RootRotationInProgress")));
	}
	fprintf(f, "  Node Address: %s\n", cli_json_str(sw, "NodeAddr"));
	if (json_array_size(managers)) {
		size_t n = json_array_size(managers), i;
		const char **addrs = xcalloc(n, sizeof(*addrs));

		for (i = 0; i < n; i++)
			addrs[i] = cli_json_str(json_array_get(managers, i), "Addr");
		qsort(addrs, n, sizeof(*addrs), cmp_str);
		fprintf(f, "  Manager Addresses:\n");
		for (i = 0; i < n; i++)
			fprintf(f, "   %s\n", addrs[i]);
		free(addrs);
	}
}

static void line_nonempty(FILE *f, const char *label, const char *v)
{
	if (*v)
		fprintf(f, "%s %s\n", label, v);
}

static void print_server_info(struct cli_ctx *ctx, json_t *info)
{
	FILE *f = ctx->out;
	json_t *labels = cli_json_path(info, "Labels"), *pools, *e;
	size_t i;

	if (cli_json_path(info, "Containers"))
		fprintf(f, " Containers: %lld\n  Running: %lld\n  Paused: %lld\n  Stopped: %lld\n",
			(long long) cli_json_int(info, "Containers"),
			(long long) cli_json_int(info, "ContainersRunning"),
			(long long) cli_json_int(info, "ContainersPaused"),
			(long long) cli_json_int(info, "ContainersStopped"));
	if (cli_json_path(info, "Images"))
		fprintf(f, " Images: %lld\n", (long long) cli_json_int(info, "Images"));
	line_nonempty(f, " Server Version:", cli_json_str(info, "ServerVersion"));
	fprintf(f, " Swarm: %s\n", cli_json_str(info, "Swarm.LocalNodeState"));
	print_swarm_info(f, info);
	line_nonempty(f, " Kernel Version:", cli_json_str(info, "KernelVersion"));
	line_nonempty(f, " Operating System:", cli_json_str(info, "OperatingSystem"));
	line_nonempty(f, " OSType:", cli_json_str(info, "OSType"));
	line_nonempty(f, " Architecture:", cli_json_str(info, "Architecture"));
	if (cli_json_path(info, "NCPU"))
		fprintf(f, " CPUs: %lld\n", (long long) cli_json_int(info, "NCPU"));
	if (cli_json_path(info, "MemTotal")) {
		char mem[32];

		cli_bytes_size((double) cli_json_int(info, "MemTotal"), mem, sizeof(mem));
		fprintf(f, " Total Memory: %s\n", mem);
	}
	line_nonempty(f, " Name:", cli_json_str(info, "Name"));
	line_nonempty(f, " ID:", cli_json_str(info, "ID"));
	line_nonempty(f, " Docker Root Dir:", cli_json_str(info, "DockerRootDir"));
	fprintf(f, " Debug Mode: %s\n", bool_str(cli_json_bool(info, "Debug")));
	if (json_array_size(labels)) {
		fprintf(f, " Labels:\n");
		json_array_foreach(labels, i, e) fprintf(f, "  %s\n", json_string_value(e) ?: "");
	}
	fprintf(f, " Experimental: %s\n", bool_str(cli_json_bool(info, "ExperimentalBuild")));
	fprintf(f, " Live Restore Enabled: %s\n",
		bool_str(cli_json_bool(info, "LiveRestoreEnabled")));
	pools = cli_json_path(info, "DefaultAddressPools");
	if (json_array_size(pools)) {
		fprintf(f, " Default Address Pools:\n");
		json_array_foreach(pools, i, e)
		    fprintf(f, "   Base: %s, Size: %lld\n", cli_json_str(e, "Base"),
			    (long long) cli_json_int(e, "Size"));
	}
	fputc('\n', f);
	json_array_foreach(cli_json_path(info, "Warnings"), i, e)
	    fprintf(ctx->err, "%s\n", json_string_value(e) ?: "");
}

int cli_info_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *format = "";
	CLI_AUTO_JSON json_t *info = NULL;
	int rc;
	struct cli_flag flags[] = {
	    {"format", 'f', CLI_FLAG_STRING, &format,
	     "Format output using a custom template:\n'json':             Print in JSON format\n"
	     "'TEMPLATE':         Print output using the given Go template.",
	     NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info);
	if (*format) {
		if (rc)
			return rc;
		return print_template(ctx, format, info);
	}
	fprintf(ctx->out, "Client:\n Version:    %s\n Context:    default\n Debug Mode: false\n",
		SHOAL_VERSION);
	fprintf(ctx->out, "\nServer:\n");
	if (rc) {
		fprintf(ctx->err, "ERROR: %s\n", cli_error_msg(ctx));
		return cli_errorf(ctx, rc, "errors pretty printing info");
	}
	print_server_info(ctx, info);
	return 0;
}
