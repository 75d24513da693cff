/* `shoal swarm ...`: init, join, join-token, leave, unlock, unlock-key,
 * update — the requests, bodies and messages of docker's swarm commands. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/flag.h"

#define NS_PER_SEC 1000000000LL

/* ------------------------------------------------------------------------ */
/* Shared pieces                                                             */

/* Options that `init` and `update` share (docker's swarmOptions). */
struct swarm_opts {
	int64_t task_history_limit;
	int64_t dispatcher_heartbeat;
	uint64_t max_snapshots;
	uint64_t snapshot_interval;
	int64_t cert_expiry;
	int autolock;
};

static void swarm_opts_defaults(struct swarm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->task_history_limit = 5;
	o->dispatcher_heartbeat = 5 * NS_PER_SEC;
	o->snapshot_interval = 10000;
	o->cert_expiry = 90LL * 24 * 3600 * NS_PER_SEC;
}

/* Appends the five flags `init` and `update` share at `f`. */
static void swarm_flags(struct cli_flag *f, struct swarm_opts *o)
{
	f[0] = (struct cli_flag){
	    "task-history-limit",	    0,	 CLI_FLAG_INT64, &o->task_history_limit,
	    "Task history retention limit", "5", NULL,		 0};
	f[1] = (struct cli_flag){"dispatcher-heartbeat",
				 0,
				 CLI_FLAG_DURATION,
				 &o->dispatcher_heartbeat,
				 "Dispatcher heartbeat period (ns|us|ms|s|m|h)",
				 "5s",
				 NULL,
				 0};
	f[2] = (struct cli_flag){"max-snapshots",
				 0,
				 CLI_FLAG_UINT64,
				 &o->max_snapshots,
				 "Number of additional Raft snapshots to retain",
				 NULL,
				 NULL,
				 0};
	f[3] = (struct cli_flag){"snapshot-interval",
				 0,
				 CLI_FLAG_UINT64,
				 &o->snapshot_interval,
				 "Number of log entries between Raft snapshots",
				 "10000",
				 NULL,
				 0};
	f[4] = (struct cli_flag){"cert-expiry",
				 0,
				 CLI_FLAG_DURATION,
				 &o->cert_expiry,
				 "Validity period for node certificates (ns|us|ms|s|m|h)",
				 "2160h0m0s",
				 NULL,
				 0};
}

static int changed(struct cli_flag *flags, const char *name)
{
	struct cli_flag *f = cli_flag_get(flags, name);

	return f && f->changed;
}

/* Sets key to an integer, or drops it when zero (Go's omitempty). */
static void set_or_omit(json_t *obj, const char *key, json_int_t v)
{
	if (v)
		json_object_set_new(obj, key, json_integer(v));
	else
		json_object_del(obj, key);
}

/* docker's mergeSwarmSpec over a Spec fetched from GET /swarm. */
static void merge_swarm_spec(json_t *spec, struct cli_flag *flags, const struct swarm_opts *o)
{
	if (changed(flags, "task-history-limit"))
		json_object_set_new(cli_json_object_at(spec, "Orchestration"),
				    "TaskHistoryRetentionLimit",
				    json_integer(o->task_history_limit));
	if (changed(flags, "dispatcher-heartbeat"))
		set_or_omit(cli_json_object_at(spec, "Dispatcher"), "HeartbeatPeriod",
			    o->dispatcher_heartbeat);
	if (changed(flags, "max-snapshots"))
		json_object_set_new(cli_json_object_at(spec, "Raft"), "KeepOldSnapshots",
				    json_integer((json_int_t) o->max_snapshots));
	if (changed(flags, "snapshot-interval"))
		set_or_omit(cli_json_object_at(spec, "Raft"), "SnapshotInterval",
			    (json_int_t) o->snapshot_interval);
	if (changed(flags, "autolock"))
		json_object_set_new(cli_json_object_at(spec, "EncryptionConfig"),
				    "AutoLockManagers", json_boolean(o->autolock));
	if (changed(flags, "cert-expiry"))
		set_or_omit(cli_json_object_at(spec, "CAConfig"), "NodeCertExpiry", o->cert_expiry);
}

/* The Spec docker's `swarm init` sends: a zero swarm.Spec as encoding/json
 * writes it (field order, omitempty) with the changed flags merged in. */
static json_t *init_spec(struct cli_flag *flags, const struct swarm_opts *o)
{
	json_t *spec = json_object(), *orch = json_object(), *raft = json_object();
	json_t *disp = json_object(), *ca = json_object(), *enc = json_object();

	if (changed(flags, "task-history-limit"))
		json_object_set_new(orch, "TaskHistoryRetentionLimit",
				    json_integer(o->task_history_limit));
	if (changed(flags, "snapshot-interval") && o->snapshot_interval)
		json_object_set_new(raft, "SnapshotInterval",
				    json_integer((json_int_t) o->snapshot_interval));
	if (changed(flags, "max-snapshots"))
		json_object_set_new(raft, "KeepOldSnapshots",
				    json_integer((json_int_t) o->max_snapshots));
	json_object_set_new(raft, "ElectionTick", json_integer(0));
	json_object_set_new(raft, "HeartbeatTick", json_integer(0));
	if (changed(flags, "dispatcher-heartbeat") && o->dispatcher_heartbeat)
		json_object_set_new(disp, "HeartbeatPeriod", json_integer(o->dispatcher_heartbeat));
	if (changed(flags, "cert-expiry") && o->cert_expiry)
		json_object_set_new(ca, "NodeCertExpiry", json_integer(o->cert_expiry));
	json_object_set_new(enc, "AutoLockManagers",
			    json_boolean(changed(flags, "autolock") && o->autolock));
	json_object_set_new(spec, "Labels", json_null());
	json_object_set_new(spec, "Orchestration", orch);
	json_object_set_new(spec, "Raft", raft);
	json_object_set_new(spec, "Dispatcher", disp);
	json_object_set_new(spec, "CAConfig", ca);
	json_object_set_new(spec, "TaskDefaults", json_object());
	json_object_set_new(spec, "EncryptionConfig", enc);
	return spec;
}

/* Validates --availability like docker: lower-cased active|pause|drain. */
static int check_availability(struct cli_ctx *ctx, const char *in, char *out, size_t n)
{
	snprintf(out, n, "%s", in);
	for (char *p = out; *p; p++)
		*p = (char) tolower((unsigned char) *p);
	if (strcmp(out, "active") && strcmp(out, "pause") && strcmp(out, "drain"))
		return cli_errorf(ctx, -EINVAL,
				  "invalid availability \"%s\", only active, pause and drain are "
				  "supported",
				  in);
	return 0;
}

/* docker's printJoinCommand: needs the node's ManagerStatus.Addr. */
static int print_join_command(struct cli_ctx *ctx, const char *node_id, int worker, int manager)
{
	CLI_AUTO_FREE char *path = cli_api_path("/nodes/", node_id, NULL);
	CLI_AUTO_JSON json_t *node = NULL;
	CLI_AUTO_JSON json_t *sw = NULL;
	const char *addr;
	int rc;

	rc = cli_api(ctx, "GET", path, NULL, NULL, &node);
	if (rc == 0)
		rc = cli_api(ctx, "GET", "/swarm", NULL, NULL, &sw);
	if (rc)
		return rc;
	if (!json_is_object(cli_json_path(node, "ManagerStatus")))
		return 0;
	addr = cli_json_str(node, "ManagerStatus.Addr");
	if (worker)
		fprintf(ctx->out,
			"To add a worker to this swarm, run the following command:\n\n    %s swarm "
			"join "
			"--token %s %s\n\n",
			CLI_NAME, cli_json_str(sw, "JoinTokens.Worker"), addr);
	if (manager)
		fprintf(
		    ctx->out,
		    "To add a manager to this swarm, run the following command:\n\n    %s swarm "
		    "join --token %s %s\n\n",
		    CLI_NAME, cli_json_str(sw, "JoinTokens.Manager"), addr);
	return 0;
}

static void print_unlock_command(struct cli_ctx *ctx, const char *key)
{
	if (!*key)
		return;
	fprintf(
	    ctx->out,
	    "To unlock a swarm manager after it restarts, run the `%s swarm unlock`\ncommand and "
	    "provide the following key:\n\n    %s\n\nRemember to store this key in a password "
	    "manager, since without it you\nwill not be able to restart the manager.\n",
	    CLI_NAME, key);
}

/* GET /swarm/unlockkey; *key is borrowed from *resp. */
static int get_unlock_key(struct cli_ctx *ctx, json_t **resp, const char **key)
{
	int rc = cli_api(ctx, "GET", "/swarm/unlockkey", NULL, NULL, resp);

	if (rc) {
		cli_error_wrap(ctx, "could not fetch unlock key");
		return rc;
	}
	*key = cli_json_str(*resp, "UnlockKey");
	return 0;
}

/* POST /swarm/update with the spec and rotation flags, keys in
 * url.Values.Encode() order. */
static int swarm_update_call(struct cli_ctx *ctx, json_t *sw, int rot_manager, int rot_unlock,
			     int rot_worker)
{
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	char version[32];

	snprintf(version, sizeof(version), "%lld", (long long) cli_json_int(sw, "Version.Index"));
	cli_http_query_add(&q, "rotateManagerToken", rot_manager ? "true" : "false");
	cli_http_query_add(&q, "rotateManagerUnlockKey", rot_unlock ? "true" : "false");
	cli_http_query_add(&q, "rotateWorkerToken", rot_worker ? "true" : "false");
	cli_http_query_add(&q, "version", version);
	buf_append_u8(&q, '\0');
	return cli_api(ctx, "POST", "/swarm/update", (char *) q.data, cli_json_path(sw, "Spec"),
		       NULL);
}

/* ------------------------------------------------------------------------ */
/* swarm init                                                                */

static int swarm_init(struct cli_ctx *ctx, int argc, char **argv)
{
	char listen[CLI_ADDR_MAX] = "0.0.0.0:2377", avail[32] = "";
	const char *advertise = "", *data_addr = "", *availability = "active";
	uint32_t data_port = 0, mask_len = 24;
	int force_new = 0;
	struct swarm_opts o;
	CLI_AUTO_STRV struct cli_strv pools = {0};
	CLI_AUTO_JSON json_t *req = NULL;
	CLI_AUTO_JSON json_t *node_id = NULL;
	json_t *pool_arr;
	int rc;

	swarm_opts_defaults(&o);
	/* 9 own flags, the 5 shared ones, and the zeroed terminator. */
	struct cli_flag flags[9 + 5 + 1] = {
	    {"listen-addr", 0, CLI_FLAG_NODE_ADDR, listen,
	     "Listen address (format: \"<ip|interface>[:port]\")", "0.0.0.0:2377", NULL, 0},
	    {"advertise-addr", 0, CLI_FLAG_STRING, &advertise,
	     "Advertised address (format: \"<ip|interface>[:port]\")", NULL, NULL, 0},
	    {"data-path-addr", 0, CLI_FLAG_STRING, &data_addr,
	     "Address or interface to use for data path traffic (format: \"<ip|interface>\")", NULL,
	     NULL, 0},
	    {"data-path-port", 0, CLI_FLAG_UINT32, &data_port,
	     "Port number to use for data path traffic (1024 - 49151). If no value is set or is "
	     "set to 0, the default port (4789) is used.",
	     NULL, NULL, 0},
	    {"force-new-cluster", 0, CLI_FLAG_BOOL, &force_new,
	     "Force create a new cluster from current state", NULL, NULL, 0},
	    {"autolock", 0, CLI_FLAG_BOOL, &o.autolock,
	     "Enable manager autolocking (requiring an unlock key to start a stopped manager)",
	     NULL, NULL, 0},
	    {"availability", 0, CLI_FLAG_STRING, &availability,
	     "Availability of the node (\"active\", \"pause\", \"drain\")", "active", NULL, 0},
	    {"default-addr-pool", 0, CLI_FLAG_IPNET, &pools, "default address pool in CIDR format",
	     "[]", NULL, 0},
	    {"default-addr-pool-mask-length", 0, CLI_FLAG_UINT32, &mask_len,
	     "default address pool subnet mask length", "24", NULL, 0},
	};

	swarm_flags(&flags[9], &o);

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if (changed(flags, "availability") &&
	    (rc = check_availability(ctx, availability, avail, sizeof(avail))))
		return rc;

	req = json_object();
	json_object_set_new(req, "ListenAddr", json_string(listen));
	json_object_set_new(req, "AdvertiseAddr", json_string(advertise));
	json_object_set_new(req, "DataPathAddr", json_string(data_addr));
	json_object_set_new(req, "DataPathPort", json_integer(data_port));
	json_object_set_new(req, "ForceNewCluster", json_boolean(force_new));
	json_object_set_new(req, "Spec", init_spec(flags, &o));
	json_object_set_new(req, "AutoLockManagers", json_boolean(o.autolock));
	json_object_set_new(req, "Availability", json_string(avail));
	pool_arr = json_array();
	for (size_t i = 0; i < pools.n; i++)
		json_array_append_new(pool_arr, json_string(pools.v[i]));
	json_object_set_new(req, "DefaultAddrPool", pool_arr);
	json_object_set_new(req, "SubnetSize", json_integer(mask_len));

	rc = cli_api(ctx, "POST", "/swarm/init", NULL, req, &node_id);
	if (rc) {
		const char *m = cli_error_msg(ctx);

		if (strstr(m, "could not choose an IP address to advertise") ||
		    strstr(m, "could not find the system's IP address")) {
			CLI_AUTO_FREE char *copy = xstrdup(m);

			cli_errorf(ctx, rc, "%s - specify one with --advertise-addr", copy);
		}
		return rc;
	}
	if (!json_is_string(node_id))
		return cli_errorf(ctx, -EPROTO,
				  "unexpected reply to swarm init: expected the node ID");
	fprintf(ctx->out, "Swarm initialized: current node (%s) is now a manager.\n\n",
		json_string_value(node_id));
	if ((rc = print_join_command(ctx, json_string_value(node_id), 1, 0)))
		return rc;
	fprintf(ctx->out,
		"To add a manager to this swarm, run '%s swarm join-token manager' and follow the "
		"instructions.\n",
		CLI_NAME);
	if (o.autolock) {
		CLI_AUTO_JSON json_t *resp = NULL;
		const char *key;

		if ((rc = get_unlock_key(ctx, &resp, &key)))
			return rc;
		print_unlock_command(ctx, key);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* swarm join, join-token, leave                                             */

static int swarm_join(struct cli_ctx *ctx, int argc, char **argv)
{
	char listen[CLI_ADDR_MAX] = "0.0.0.0:2377", avail[32] = "";
	const char *advertise = "", *data_addr = "", *token = "", *availability = "active";
	CLI_AUTO_JSON json_t *req = NULL;
	CLI_AUTO_JSON json_t *info = NULL;
	int rc;
	struct cli_flag flags[] = {
	    {"listen-addr", 0, CLI_FLAG_NODE_ADDR, listen,
	     "Listen address (format: \"<ip|interface>[:port]\")", "0.0.0.0:2377", NULL, 0},
	    {"advertise-addr", 0, CLI_FLAG_STRING, &advertise,
	     "Advertised address (format: \"<ip|interface>[:port]\")", NULL, NULL, 0},
	    {"data-path-addr", 0, CLI_FLAG_STRING, &data_addr,
	     "Address or interface to use for data path traffic (format: \"<ip|interface>\")", NULL,
	     NULL, 0},
	    {"token", 0, CLI_FLAG_STRING, &token, "Token for entry into the swarm", NULL, NULL, 0},
	    {"availability", 0, CLI_FLAG_STRING, &availability,
	     "Availability of the node (\"active\", \"pause\", \"drain\")", "active", NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	if (changed(flags, "availability") &&
	    (rc = check_availability(ctx, availability, avail, sizeof(avail))))
		return rc;

	req = json_object();
	json_object_set_new(req, "ListenAddr", json_string(listen));
	json_object_set_new(req, "AdvertiseAddr", json_string(advertise));
	json_object_set_new(req, "DataPathAddr", json_string(data_addr));
	json_object_set_new(req, "RemoteAddrs", json_pack("[s]", argv[0]));
	json_object_set_new(req, "JoinToken", json_string(token));
	json_object_set_new(req, "Availability", json_string(avail));
	if ((rc = cli_api(ctx, "POST", "/swarm/join", NULL, req, NULL)))
		return rc;
	if ((rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info)))
		return rc;
	fprintf(ctx->out, "This node joined a swarm as a %s.\n",
		cli_json_bool(info, "Swarm.ControlAvailable") ? "manager" : "worker");
	return 0;
}

static int swarm_join_token(struct cli_ctx *ctx, int argc, char **argv)
{
	int rotate = 0, quiet = 0, worker, manager, rc;
	CLI_AUTO_JSON json_t *sw = NULL;
	CLI_AUTO_JSON json_t *info = NULL;
	struct cli_flag flags[] = {
	    {"rotate", 0, CLI_FLAG_BOOL, &rotate, "Rotate join token", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display token", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	worker = strcmp(argv[0], "worker") == 0;
	manager = strcmp(argv[0], "manager") == 0;
	if (!worker && !manager)
		return cli_errorf(ctx, -EINVAL, "unknown role %s", argv[0]);

	if (rotate) {
		if ((rc = cli_api(ctx, "GET", "/swarm", NULL, NULL, &sw)))
			return rc;
		if ((rc = swarm_update_call(ctx, sw, manager, 0, worker)))
			return rc;
		if (!quiet)
			fprintf(ctx->out, "Successfully rotated %s join token.\n\n", argv[0]);
		json_decref(sw);
		sw = NULL;
	}
	/* Inspect again: the rotation changed the tokens. */
	if ((rc = cli_api(ctx, "GET", "/swarm", NULL, NULL, &sw)))
		return rc;
	if (quiet) {
		fprintf(ctx->out, "%s\n",
			cli_json_str(sw, worker ? "JoinTokens.Worker" : "JoinTokens.Manager"));
		return 0;
	}
	if ((rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info)))
		return rc;
	return print_join_command(ctx, cli_json_str(info, "Swarm.NodeID"), worker, manager);
}

static int swarm_leave(struct cli_ctx *ctx, int argc, char **argv)
{
	int force = 0, rc;
	struct cli_flag flags[] = {
	    {"force", 'f', CLI_FLAG_BOOL, &force,
	     "Force this node to leave the swarm, ignoring warnings", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_api(ctx, "POST", "/swarm/leave", force ? "force=1" : NULL, NULL, NULL)))
		return rc;
	fprintf(ctx->out, "Node left the swarm.\n");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* swarm unlock, unlock-key                                                  */

/* docker's readKey: a prompt and no echo on a terminal, else one line. */
static int read_key(struct cli_ctx *ctx, char *key, size_t n)
{
	int fd = fileno(ctx->in), tty = fd >= 0 && isatty(fd);
	struct termios old, noecho;
	char *s, *e;

	if (tty) {
		fputs("Enter unlock key: ", ctx->out);
		fflush(ctx->out);
		if (tcgetattr(fd, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= (tcflag_t) ~ECHO;
			tcsetattr(fd, TCSAFLUSH, &noecho);
		} else {
			tty = 0;
		}
	}
	s = fgets(key, (int) n, ctx->in);
	if (tty) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', ctx->out);
	}
	if (!s) {
		if (ferror(ctx->in))
			return cli_errorf(ctx, -EIO, "could not read the unlock key: %s",
					  strerror(errno));
		key[0] = '\0';
	}
	for (s = key; isspace((unsigned char) *s); s++)
		;
	memmove(key, s, strlen(s) + 1);
	e = key + strlen(key);
	while (e > key && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return 0;
}

static int swarm_unlock(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_JSON json_t *info = NULL;
	CLI_AUTO_JSON json_t *req = NULL;
	const char *state;
	char key[4096];
	int rc;
	struct cli_flag flags[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL, 0}};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	/* Ask for the key only when the node is part of a swarm and locked. */
	if ((rc = cli_api(ctx, "GET", "/info", NULL, NULL, &info)))
		return rc;
	state = cli_json_str(info, "Swarm.LocalNodeState");
	if (strcmp(state, "inactive") == 0)
		return cli_errorf(ctx, -EINVAL, "Error: This node is not part of a swarm");
	if (strcmp(state, "pending") == 0 || strcmp(state, "active") == 0 ||
	    strcmp(state, "error") == 0)
		return cli_errorf(ctx, -EINVAL, "Error: swarm is not locked");
	if ((rc = read_key(ctx, key, sizeof(key))))
		return rc;
	req = json_pack("{s:s}", "UnlockKey", key);
	memset(key, 0, sizeof(key));
	return cli_api(ctx, "POST", "/swarm/unlock", NULL, req, NULL);
}

static int swarm_unlock_key(struct cli_ctx *ctx, int argc, char **argv)
{
	int rotate = 0, quiet = 0, rc;
	CLI_AUTO_JSON json_t *resp = NULL;
	const char *key;
	struct cli_flag flags[] = {
	    {"rotate", 0, CLI_FLAG_BOOL, &rotate, "Rotate unlock key", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display token", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if (rotate) {
		CLI_AUTO_JSON json_t *sw = NULL;

		if ((rc = cli_api(ctx, "GET", "/swarm", NULL, NULL, &sw)))
			return rc;
		if (!cli_json_bool(sw, "Spec.EncryptionConfig.AutoLockManagers"))
			return cli_errorf(ctx, -EINVAL,
					  "cannot rotate because autolock is not turned on");
		if ((rc = swarm_update_call(ctx, sw, 0, 1, 0)))
			return rc;
		if (!quiet)
			fprintf(ctx->out, "Successfully rotated manager unlock key.\n");
	}
	if ((rc = get_unlock_key(ctx, &resp, &key)))
		return rc;
	if (!*key)
		return cli_errorf(ctx, -ENOENT, "no unlock key is set");
	if (quiet)
		fprintf(ctx->out, "%s\n", key);
	else
		print_unlock_command(ctx, key);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* swarm update                                                              */

static int swarm_update(struct cli_ctx *ctx, int argc, char **argv)
{
	CLI_AUTO_JSON json_t *sw = NULL;
	struct swarm_opts o;
	int rc, prev_lock, any = 0;

	swarm_opts_defaults(&o);
	struct cli_flag flags[1 + 5 + 1] = {
	    {"autolock", 0, CLI_FLAG_BOOL, &o.autolock,
	     "Change manager autolocking setting (true|false)", NULL, NULL, 0},
	};

	swarm_flags(&flags[1], &o);

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	for (struct cli_flag *f = flags; f->name; f++)
		any |= f->changed;
	if (!any) {
		/* docker answers a flag-less update with its help. */
		cli_print_help(ctx, flags, ctx->out);
		return 0;
	}
	if ((rc = cli_api(ctx, "GET", "/swarm", NULL, NULL, &sw)))
		return rc;
	if (!json_is_object(cli_json_path(sw, "Spec")))
		json_object_set_new(sw, "Spec", json_object());
	prev_lock = cli_json_bool(sw, "Spec.EncryptionConfig.AutoLockManagers");
	merge_swarm_spec(cli_json_path(sw, "Spec"), flags, &o);
	if ((rc = swarm_update_call(ctx, sw, 0, 0, 0)))
		return rc;
	fprintf(ctx->out, "Swarm updated.\n");
	if (!prev_lock && cli_json_bool(sw, "Spec.EncryptionConfig.AutoLockManagers")) {
		CLI_AUTO_JSON json_t *resp = NULL;
		const char *key;

		if ((rc = get_unlock_key(ctx, &resp, &key)))
			return rc;
		print_unlock_command(ctx, key);
	}
	return 0;
}

const struct cli_cmd cli_swarm_cmds[] = {
    {"ca", cli_not_implemented, "ca [OPTIONS]", NULL, "Display and rotate the root CA", NULL},
    {"init", swarm_init, "init [OPTIONS]", NULL, "Initialize a swarm", NULL},
    {"join", swarm_join, "join [OPTIONS] HOST:PORT", NULL, "Join a swarm as a node and/or manager",
     NULL},
    {"join-token", swarm_join_token, "join-token [OPTIONS] (worker|manager)", NULL,
     "Manage join tokens", NULL},
    {"leave", swarm_leave, "leave [OPTIONS]", NULL, "Leave the swarm", NULL},
    {"unlock", swarm_unlock, "unlock", NULL, "Unlock swarm", NULL},
    {"unlock-key", swarm_unlock_key, "unlock-key [OPTIONS]", NULL, "Manage the unlock key", NULL},
    {"update", swarm_update, "update [OPTIONS]", NULL, "Update the swarm", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
