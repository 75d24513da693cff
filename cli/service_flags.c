/* The flags `service create` and `service update` share (docker's
 * addServiceFlags plus each command's own), and their value checks. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/service.h"

void cli_svc_opts_free(struct cli_svc_opts *o)
{
	struct cli_strv *lists[] = {
	    &o->labels,
	    &o->container_labels,
	    &o->env,
	    &o->env_file,
	    &o->mounts,
	    &o->constraints,
	    &o->prefs,
	    &o->networks,
	    &o->secrets,
	    &o->configs,
	    &o->publish,
	    &o->groups,
	    &o->dns,
	    &o->dns_option,
	    &o->dns_search,
	    &o->hosts,
	    &o->log_opts,
	    &o->rm_labels,
	    &o->rm_container_labels,
	    &o->rm_env,
	    &o->rm_mounts,
	    &o->rm_constraints,
	    &o->rm_prefs,
	    &o->rm_networks,
	    &o->rm_secrets,
	    &o->rm_configs,
	    &o->rm_publish,
	    &o->rm_groups,
	    &o->rm_dns,
	    &o->rm_dns_option,
	    &o->rm_dns_search,
	    &o->rm_hosts,
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cli_strv_free(lists[i]);
}

#define F(n, s, t, v, u, d, vn)                                                                    \
	(struct cli_flag)                                                                          \
	{                                                                                          \
		n, s, t, v, u, d, vn, 0                                                            \
	}

/* A list flag of create, or its "-add"/"-rm" pair on update. */
static size_t list_flag(struct cli_flag *f, size_t n, int update, const char *name, char shorthand,
			struct cli_strv *add, struct cli_strv *rm, const char *usage,
			const char *vn)
{
	static char names[64][48];
	static size_t used;

	if (!update) {
		f[n++] = F(name, shorthand, CLI_FLAG_LIST, add, usage, NULL, vn);
		return n;
	}
	/* Flag names must outlive the parse; a small static pool is enough
	 * (a command builds its table once). */
	if (used + 2 > 64)
		used = 0;
	snprintf(names[used], sizeof(names[used]), "%s-add", name);
	f[n++] = F(names[used++], 0, CLI_FLAG_LIST, add, usage, NULL, vn);
	if (rm) {
		snprintf(names[used], sizeof(names[used]), "%s-rm", name);
		f[n++] = F(names[used++], 0, CLI_FLAG_LIST, rm, "Remove an item", NULL, "list");
	}
	return n;
}

size_t cli_svc_flags(struct cli_svc_opts *o, struct cli_flag *f, int update)
{
	size_t n = 0;

	f[n++] = F("detach", 'd', CLI_FLAG_BOOL, &o->detach,
		   "Exit immediately instead of waiting for the service to converge", NULL, NULL);
	f[n++] = F("quiet", 'q', CLI_FLAG_BOOL, &o->quiet, "Suppress progress output", NULL, NULL);
	f[n++] = F("workdir", 'w', CLI_FLAG_STRING, &o->workdir,
		   "Working directory inside the container", NULL, NULL);
	f[n++] = F("user", 'u', CLI_FLAG_STRING, &o->user,
		   "Username or UID (format: <name|uid>[:<group|gid>])", NULL, NULL);
	f[n++] = F("hostname", 0, CLI_FLAG_STRING, &o->hostname, "Container hostname", NULL, NULL);
	f[n++] = F("entrypoint", 0, CLI_FLAG_STRING, &o->entrypoint,
		   "Overwrite the default ENTRYPOINT of the image", NULL, "command");
	f[n++] = F("limit-cpu", 0, CLI_FLAG_STRING, &o->limit_cpu, "Limit CPUs", NULL, "decimal");
	f[n++] =
	    F("limit-memory", 0, CLI_FLAG_STRING, &o->limit_mem, "Limit Memory", NULL, "bytes");
	f[n++] =
	    F("reserve-cpu", 0, CLI_FLAG_STRING, &o->reserve_cpu, "Reserve CPUs", NULL, "decimal");
	f[n++] = F("reserve-memory", 0, CLI_FLAG_STRING, &o->reserve_mem, "Reserve Memory", NULL,
		   "bytes");
	f[n++] = F("stop-grace-period", 0, CLI_FLAG_DURATION, &o->stop_grace,
		   "Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)",
		   NULL, NULL);
	f[n++] = F("stop-signal", 0, CLI_FLAG_STRING, &o->stop_signal,
		   "Signal to stop the container", NULL, NULL);
	f[n++] = F("replicas", 0, CLI_FLAG_UINT64, &o->replicas, "Number of tasks", NULL, NULL);
	f[n++] =
	    F("max-concurrent", 0, CLI_FLAG_UINT64, &o->max_concurrent,
	      "Number of job tasks to run concurrently (default equal to --replicas)", NULL, NULL);
	f[n++] = F("replicas-max-per-node", 0, CLI_FLAG_UINT64, &o->max_replicas,
		   "Maximum number of tasks per node (default 0 = unlimited)", NULL, NULL);
	f[n++] = F("restart-condition", 0, CLI_FLAG_STRING, &o->restart_condition,
		   "Restart when condition is met (\"none\", \"on-failure\", \"any\") (default "
		   "\"any\")",
		   NULL, NULL);
	f[n++] = F("restart-delay", 0, CLI_FLAG_DURATION, &o->restart_delay,
		   "Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)", NULL, NULL);
	f[n++] = F("restart-max-attempts", 0, CLI_FLAG_UINT64, &o->restart_max_attempts,
		   "Maximum number of restarts before giving up", NULL, NULL);
	f[n++] = F("restart-window", 0, CLI_FLAG_DURATION, &o->restart_window,
		   "Window used to evaluate the restart policy (ns|us|ms|s|m|h)", NULL, NULL);
	f[n++] = F("update-parallelism", 0, CLI_FLAG_UINT64, &o->update_parallelism,
		   "Maximum number of tasks updated simultaneously (0 to update all at once)", "1",
		   NULL);
	f[n++] = F("update-delay", 0, CLI_FLAG_DURATION, &o->update_delay,
		   "Delay between updates (ns|us|ms|s|m|h) (default 0s)", NULL, NULL);
	f[n++] = F("update-monitor", 0, CLI_FLAG_DURATION, &o->update_monitor,
		   "Duration after each task update to monitor for failure (ns|us|ms|s|m|h) "
		   "(default 5s)",
		   NULL, NULL);
	f[n++] = F("update-failure-action", 0, CLI_FLAG_STRING, &o->update_failure_action,
		   "Action on update failure (\"pause\", \"continue\", \"rollback\") (default "
		   "\"pause\")",
		   NULL, NULL);
	f[n++] = F("update-max-failure-ratio", 0, CLI_FLAG_STRING, &o->update_max_failure_ratio,
		   "Failure rate to tolerate during an update (default 0)", NULL, "float");
	f[n++] = F("update-order", 0, CLI_FLAG_STRING, &o->update_order,
		   "Update order (\"start-first\", \"stop-first\") (default \"stop-first\")", NULL,
		   NULL);
	f[n++] =
	    F("rollback-parallelism", 0, CLI_FLAG_UINT64, &o->rollback_parallelism,
	      "Maximum number of tasks rolled back simultaneously (0 to roll back all at once)",
	      "1", NULL);
	f[n++] = F("rollback-delay", 0, CLI_FLAG_DURATION, &o->rollback_delay,
		   "Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)", NULL, NULL);
	f[n++] = F("rollback-monitor", 0, CLI_FLAG_DURATION, &o->rollback_monitor,
		   "Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) "
		   "(default 5s)",
		   NULL, NULL);
	f[n++] = F("rollback-failure-action", 0, CLI_FLAG_STRING, &o->rollback_failure_action,
		   "Action on rollback failure (\"pause\", \"continue\") (default \"pause\")", NULL,
		   NULL);
	f[n++] = F("rollback-max-failure-ratio", 0, CLI_FLAG_STRING, &o->rollback_max_failure_ratio,
		   "Failure rate to tolerate during a rollback (default 0)", NULL, "float");
	f[n++] = F("rollback-order", 0, CLI_FLAG_STRING, &o->rollback_order,
		   "Rollback order (\"start-first\", \"stop-first\") (default \"stop-first\")",
		   NULL, NULL);
	f[n++] = F("endpoint-mode", 0, CLI_FLAG_STRING, &o->endpoint_mode,
		   "Endpoint mode (vip or dnsrr)", "vip", NULL);
	f[n++] = F("with-registry-auth", 0, CLI_FLAG_BOOL, &o->registry_auth,
		   "Send registry authentication details to swarm agents", NULL, NULL);
	f[n++] = F("no-resolve-image", 0, CLI_FLAG_BOOL, &o->no_resolve,
		   "Do not query the registry to resolve image digest and supported platforms",
		   NULL, NULL);
	f[n++] = F("log-driver", 0, CLI_FLAG_STRING, &o->log_driver, "Logging driver for service",
		   NULL, NULL);
	f[n++] = F("log-opt", 0, CLI_FLAG_LIST, &o->log_opts, "Logging driver options", NULL, NULL);
	f[n++] = F("health-cmd", 0, CLI_FLAG_STRING, &o->health_cmd,
		   "Command to run to check health", NULL, NULL);
	f[n++] = F("health-interval", 0, CLI_FLAG_DURATION, &o->health_interval,
		   "Time between running the check (ms|s|m|h)", NULL, NULL);
	f[n++] = F("health-timeout", 0, CLI_FLAG_DURATION, &o->health_timeout,
		   "Maximum time to allow one check to run (ms|s|m|h)", NULL, NULL);
	f[n++] = F("health-retries", 0, CLI_FLAG_INT64, &o->health_retries,
		   "Consecutive failures needed to report unhealthy", NULL, NULL);
	f[n++] = F("health-start-period", 0, CLI_FLAG_DURATION, &o->health_start_period,
		   "Start period for the container to initialize before counting retries towards "
		   "unstable (ms|s|m|h)",
		   NULL, NULL);
	f[n++] = F("no-healthcheck", 0, CLI_FLAG_BOOL, &o->no_healthcheck,
		   "Disable any container-specified HEALTHCHECK", NULL, NULL);
	f[n++] = F("read-only", 0, CLI_FLAG_BOOL, &o->read_only,
		   "Mount the container's root filesystem as read only", NULL, NULL);
	f[n++] = F("tty", 't', CLI_FLAG_BOOL, &o->tty, "Allocate a pseudo-TTY", NULL, NULL);
	f[n++] =
	    F("init", 0, CLI_FLAG_BOOL, &o->init,
	      "Use an init inside each service container to forward signals and reap processes",
	      NULL, NULL);
	if (!update) {
		f[n++] = F("mode", 0, CLI_FLAG_STRING, &o->mode,
			   "Service mode (\"replicated\", \"global\", \"replicated-job\", "
			   "\"global-job\")",
			   "replicated", NULL);
		f[n++] = F("name", 0, CLI_FLAG_STRING, &o->name, "Service name", NULL, NULL);
		f[n++] = F("env-file", 0, CLI_FLAG_LIST, &o->env_file,
			   "Read in a file of environment variables", NULL, NULL);
	} else {
		f[n++] = F("image", 0, CLI_FLAG_STRING, &o->image, "Service image tag", NULL, NULL);
		f[n++] = F("args", 0, CLI_FLAG_STRING, &o->args, "Service command args", NULL,
			   "command");
		f[n++] = F("force", 0, CLI_FLAG_BOOL, &o->force,
			   "Force update even if no changes require it", NULL, NULL);
		f[n++] = F("rollback", 0, CLI_FLAG_BOOL, &o->rollback,
			   "Rollback to previous specification", NULL, NULL);
	}
	n = list_flag(f, n, update, "label", update ? 0 : 'l', &o->labels, &o->rm_labels,
		      "Service labels", NULL);
	n = list_flag(f, n, update, "container-label", 0, &o->container_labels,
		      &o->rm_container_labels, "Container labels", NULL);
	n = list_flag(f, n, update, "env", update ? 0 : 'e', &o->env, &o->rm_env,
		      "Set environment variables", NULL);
	n = list_flag(f, n, update, "mount", 0, &o->mounts, &o->rm_mounts,
		      "Attach a filesystem mount to the service", "mount");
	n = list_flag(f, n, update, "constraint", 0, &o->constraints, &o->rm_constraints,
		      "Placement constraints", NULL);
	n = list_flag(f, n, update, "placement-pref", 0, &o->prefs, &o->rm_prefs,
		      "Add a placement preference", "pref");
	n = list_flag(f, n, update, "network", 0, &o->networks, &o->rm_networks,
		      "Network attachments", "network");
	n = list_flag(f, n, update, "secret", 0, &o->secrets, &o->rm_secrets,
		      "Specify secrets to expose to the service", "secret");
	n = list_flag(f, n, update, "config", 0, &o->configs, &o->rm_configs,
		      "Specify configurations to expose to the service", "config");
	n = list_flag(f, n, update, "publish", update ? 0 : 'p', &o->publish, &o->rm_publish,
		      "Publish a port as a node port", "port");
	n = list_flag(f, n, update, "group", 0, &o->groups, &o->rm_groups,
		      "Set one or more supplementary user groups for the container", NULL);
	n = list_flag(f, n, update, "dns", 0, &o->dns, &o->rm_dns, "Set custom DNS servers", NULL);
	n = list_flag(f, n, update, "dns-option", 0, &o->dns_option, &o->rm_dns_option,
		      "Set DNS options", NULL);
	n = list_flag(f, n, update, "dns-search", 0, &o->dns_search, &o->rm_dns_search,
		      "Set custom DNS search domains", NULL);
	n = list_flag(f, n, update, "host", 0, &o->hosts, &o->rm_hosts,
		      "Set one or more custom host-to-IP mappings (host:ip)", NULL);
	f[n] = F(NULL, 0, 0, NULL, NULL, NULL, NULL);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */

int cli_svc_flag_error(struct cli_ctx *ctx, struct cli_flag *flags, const char *name,
		       const char *value, const char *why)
{
	struct cli_flag *f = cli_flag_get(flags, name);
	char fname[96];

	if (f && f->shorthand)
		snprintf(fname, sizeof(fname), "-%c, --%s", f->shorthand, name);
	else
		snprintf(fname, sizeof(fname), "--%s", name);
	ctx->exit_code = 125;
	return cli_errorf(ctx, -EINVAL,
			  "invalid argument \"%s\" for \"%s\" flag: %s\nSee '%s --help'.", value,
			  fname, why, ctx->path);
}

static int one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

static int check_enum(struct cli_ctx *ctx, struct cli_flag *flags, const char *name, const char *v,
		      const char *const *allowed)
{
	char why[256] = "must be one of";
	struct cli_flag *f = cli_flag_get(flags, name);

	if (!f || !f->changed || one_of(v, allowed))
		return 0;
	for (size_t i = 0; allowed[i]; i++) {
		size_t l = strlen(why);

		snprintf(why + l, sizeof(why) - l, "%s \"%s\"", i ? "," : "", allowed[i]);
	}
	return cli_svc_flag_error(ctx, flags, name, v, why);
}

/* Which check a list flag's values get (by flag name without -add). */
static int check_value(const char *base, const char *v, char *why, size_t n)
{
	json_t *j = NULL;
	char *s = NULL;
	int rc = 0;

	if (!strcmp(base, "publish"))
		rc = cli_svc_port(v, &j, why, n);
	else if (!strcmp(base, "mount"))
		rc = cli_svc_mount(v, &j, why, n);
	else if (!strcmp(base, "secret") || !strcmp(base, "config"))
		rc = cli_svc_file_ref(v, base[0] == 'c', &j, why, n);
	else if (!strcmp(base, "network"))
		rc = cli_svc_network(v, &j, why, n);
	else if (!strcmp(base, "placement-pref"))
		rc = cli_svc_pref(v, &j, why, n);
	else if (!strcmp(base, "host"))
		rc = cli_svc_host(v, &s, why, n);
	else if (!strcmp(base, "env") || !strcmp(base, "log-opt")) {
		if (v[0] == '=' || !*v) {
			snprintf(why, n, "invalid environment variable: %s", v);
			rc = -EINVAL;
		}
	} else if (!strcmp(base, "label") || !strcmp(base, "container-label")) {
		const char *k = v;

		while (isspace((unsigned char) *k))
			k++;
		if (*k == '=' || !*k) {
			snprintf(why, n, "invalid label '%s': empty name", v);
			rc = -EINVAL;
		}
	} else if (!strcmp(base, "dns")) {
		unsigned char a[16];

		if (inet_pton(AF_INET, v, a) != 1 && inet_pton(AF_INET6, v, a) != 1) {
			snprintf(why, n, "IP address is not correctly formatted: %s", v);
			rc = -EINVAL;
		}
	}
	json_decref(j);
	free(s);
	return rc;
}

static int check_float(struct cli_ctx *ctx, struct cli_flag *flags, const char *name, const char *v)
{
	struct cli_flag *f = cli_flag_get(flags, name);
	char *end, why[160];

	if (!f || !f->changed)
		return 0;
	strtof(v, &end);
	if (*v && !*end)
		return 0;
	snprintf(why, sizeof(why), "strconv.ParseFloat: parsing \"%s\": invalid syntax", v);
	return cli_svc_flag_error(ctx, flags, name, v, why);
}

int cli_svc_validate(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags)
{
	static const char *const conditions[] = {"none", "on-failure", "any", NULL};
	static const char *const update_actions[] = {"pause", "continue", "rollback", NULL};
	static const char *const rollback_actions[] = {"pause", "continue", NULL};
	static const char *const orders[] = {"start-first", "stop-first", NULL};
	static const char *const endpoint_modes[] = {"vip", "dnsrr", NULL};
	static const char *const sizes[] = {"limit-memory", "reserve-memory"};
	static const char *const cpus[] = {"limit-cpu", "reserve-cpu"};
	static const char *const durations[] = {"health-interval", "health-timeout",
						"health-start-period"};
	const char *size_vals[] = {o->limit_mem, o->reserve_mem};
	const char *cpu_vals[] = {o->limit_cpu, o->reserve_cpu};
	int64_t dur_vals[] = {o->health_interval, o->health_timeout, o->health_start_period};
	char why[512];
	int rc;

	for (struct cli_flag *f = flags; f->name; f++) {
		char base[48];
		size_t l = strlen(f->name);

		if (f->type != CLI_FLAG_LIST || !f->changed)
			continue;
		if (l > 3 && !strcmp(f->name + l - 3, "-rm"))
			continue;
		snprintf(base, sizeof(base), "%.*s",
			 (int) (l > 4 && !strcmp(f->name + l - 4, "-add") ? l - 4 : l), f->name);
		for (size_t i = 0; i < ((struct cli_strv *) f->value)->n; i++) {
			const char *v = ((struct cli_strv *) f->value)->v[i];

			if (check_value(base, v, why, sizeof(why)))
				return cli_svc_flag_error(ctx, flags, f->name, v, why);
		}
	}
	if ((rc = check_enum(ctx, flags, "restart-condition", o->restart_condition, conditions)) ||
	    (rc = check_enum(ctx, flags, "update-failure-action", o->update_failure_action,
			     update_actions)) ||
	    (rc = check_enum(ctx, flags, "rollback-failure-action", o->rollback_failure_action,
			     rollback_actions)) ||
	    (rc = check_enum(ctx, flags, "update-order", o->update_order, orders)) ||
	    (rc = check_enum(ctx, flags, "rollback-order", o->rollback_order, orders)) ||
	    (rc = check_enum(ctx, flags, "endpoint-mode", o->endpoint_mode, endpoint_modes)) ||
	    (rc = check_float(ctx, flags, "update-max-failure-ratio",
			      o->update_max_failure_ratio)) ||
	    (rc = check_float(ctx, flags, "rollback-max-failure-ratio",
			      o->rollback_max_failure_ratio)))
		return rc;
	for (size_t i = 0; i < 2; i++) {
		int64_t v;

		if (cli_flag_get(flags, sizes[i])->changed &&
		    cli_svc_ram_bytes(size_vals[i], &v, why, sizeof(why)))
			return cli_svc_flag_error(ctx, flags, sizes[i], size_vals[i], why);
		if (cli_flag_get(flags, cpus[i])->changed &&
		    cli_svc_nano_cpus(cpu_vals[i], &v, why, sizeof(why)))
			return cli_svc_flag_error(ctx, flags, cpus[i], cpu_vals[i], why);
	}
	for (size_t i = 0; i < 3; i++) {
		char txt[64];

		if (dur_vals[i] >= 0)
			continue;
		snprintf(txt, sizeof(txt), "%lld", (long long) dur_vals[i]);
		return cli_svc_flag_error(ctx, flags, durations[i], txt,
					  "duration cannot be negative");
	}
	return 0;
}
