/* `shoal service update`: GET the service, change its stored spec the way
 * docker's update.go does, POST it back with ?version=, and show the update's
 * progress (service_progress.c) unless -d. Every flag of create can be changed
 * (list flags as -add/-rm pairs); a flag missing from `handled` fails with
 * -ENOSYS naming it, and nothing is sent then. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/service.h"
#include "cli/swobj.h"

static int changed(struct cli_flag *flags, const char *name)
{
	struct cli_flag *f = cli_flag_get(flags, name);

	return f && f->changed;
}

static int in_strv(const struct cli_strv *v, const char *s, size_t n)
{
	for (size_t i = 0; i < v->n; i++)
		if (strlen(v->v[i]) == n && !strncmp(v->v[i], s, n))
			return 1;
	return 0;
}

static int cmp_jstr(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *) a),
		      json_string_value(*(json_t *const *) b));
}

/* updateEnvironment: drop keys in rm, then add/replace by key (sorted). */
static void update_env(json_t *cs, const struct cli_strv *add, const struct cli_strv *rm)
{
	json_t *env = json_object_get(cs, "Env"), *m = json_object(), *out = json_array(), *v;
	const char *k;
	size_t i, n = 0;
	json_t **sorted;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		size_t kl = strcspn(s, "=");
		char key[256];

		if (in_strv(rm, s, kl))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int) kl, s);
		json_object_set(m, key, v);
	}
	for (i = 0; i < add->n; i++) {
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int) strcspn(add->v[i], "="), add->v[i]);
		json_object_set_new(m, key, json_string(add->v[i]));
	}
	sorted = xcalloc(json_object_size(m) + 1, sizeof(*sorted));
	json_object_foreach(m, k, v) sorted[n++] = v;
	qsort(sorted, n, sizeof(*sorted), cmp_jstr);
	for (i = 0; i < n; i++)
		json_array_append(out, sorted[i]);
	free(sorted);
	json_decref(m);
	json_object_set_new(cs, "Env", out);
}

static void update_map(json_t *obj, const char *key, const struct cli_strv *add,
		       const struct cli_strv *rm)
{
	json_t *m = json_object_get(obj, key);

	if (!json_is_object(m))
		json_object_set_new(obj, key, m = json_object());
	for (size_t i = 0; i < rm->n; i++)
		json_object_del(m, rm->v[i]);
	json_t *l = cli_swobj_labels(add);

	json_object_update(m, l);
	json_decref(l);
}

static void update_list(json_t *obj, const char *key, const struct cli_strv *add,
			const struct cli_strv *rm)
{
	json_t *old = json_object_get(obj, key), *out = json_array(), *v;
	size_t i;

	json_array_foreach(old, i, v) if (!in_strv(rm, json_string_value(v) ?: "",
						   strlen(json_string_value(v) ?: "")))
	    json_array_append(out, v);
	for (i = 0; i < add->n; i++) {
		int dup = 0;
		size_t j;

		json_array_foreach(out, j, v) dup |= !strcmp(json_string_value(v) ?: "", add->v[i]);
		if (!dup)
			json_array_append_new(out, json_string(add->v[i]));
	}
	json_object_set_new(obj, key, out);
}

/* Removes array items whose `field` (or, for ports, published port) is in rm. */
static void remove_items(json_t *arr, const char *field, const struct cli_strv *rm)
{
	for (size_t i = 0; i < json_array_size(arr);) {
		json_t *v = json_array_get(arr, i);
		char num[32];
		const char *s = cli_json_str(v, field);

		if (!strcmp(field, "PublishedPort")) {
			snprintf(num, sizeof(num), "%lld", (long long) cli_json_int(v, field));
			s = num;
		}
		if (in_strv(rm, s, strlen(s)))
			json_array_remove(arr, i);
		else
			i++;
	}
}

static json_t *array_at(json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);

	if (!json_is_array(a))
		json_object_set_new(obj, key, a = json_array());
	return a;
}

static int add_refs(struct cli_ctx *ctx, json_t *cs, const struct cli_strv *add,
		    const struct cli_strv *rm, int is_config)
{
	const char *key = is_config ? "Configs" : "Secrets";
	json_t *arr = array_at(cs, key);
	CLI_AUTO_JSON json_t *fresh = json_array();
	char err[256];
	int rc;

	remove_items(arr, is_config ? "ConfigName" : "SecretName", rm);
	for (size_t i = 0; i < add->n; i++) {
		json_t *r;

		if (cli_svc_file_ref(add->v[i], is_config, &r, err, sizeof(err)))
			return cli_errorf(ctx, -EINVAL, "%s", err);
		json_array_append_new(fresh, r);
	}
	if (json_array_size(fresh) && (rc = cli_svc_resolve_refs(ctx, fresh, is_config)))
		return rc;
	json_array_extend(arr, fresh);
	return 0;
}

/* Flags applied by apply(); any other changed flag is not supported yet. */
static const char *const handled[] = {"detach",
				      "quiet",
				      "image",
				      "force",
				      "replicas",
				      "args",
				      "workdir",
				      "user",
				      "hostname",
				      "stop-grace-period",
				      "stop-signal",
				      "read-only",
				      "init",
				      "tty",
				      "no-resolve-image",
				      "env-add",
				      "env-rm",
				      "label-add",
				      "label-rm",
				      "container-label-add",
				      "container-label-rm",
				      "constraint-add",
				      "constraint-rm",
				      "publish-add",
				      "publish-rm",
				      "secret-add",
				      "secret-rm",
				      "config-add",
				      "config-rm",
				      "mount-add",
				      "mount-rm",
				      "limit-cpu",
				      "limit-memory",
				      "reserve-cpu",
				      "reserve-memory",
				      "restart-condition",
				      "restart-delay",
				      "restart-max-attempts",
				      "restart-window",
				      "update-parallelism",
				      "update-delay",
				      "update-monitor",
				      "update-failure-action",
				      "update-order",
				      "rollback-parallelism",
				      "rollback-delay",
				      "rollback-monitor",
				      "rollback-failure-action",
				      "rollback-order",
				      "endpoint-mode",
				      "replicas-max-per-node",
				      "rollback",
				      "entrypoint",
				      "update-max-failure-ratio",
				      "rollback-max-failure-ratio",
				      "log-driver",
				      "log-opt",
				      "health-cmd",
				      "health-interval",
				      "health-timeout",
				      "health-retries",
				      "health-start-period",
				      "no-healthcheck",
				      "placement-pref-add",
				      "placement-pref-rm",
				      "network-add",
				      "network-rm",
				      "group-add",
				      "group-rm",
				      "dns-add",
				      "dns-rm",
				      "dns-option-add",
				      "dns-option-rm",
				      "dns-search-add",
				      "dns-search-rm",
				      "host-add",
				      "host-rm",
				      "with-registry-auth",
				      NULL};

static int is_handled(const char *name)
{
	for (size_t i = 0; handled[i]; i++)
		if (!strcmp(handled[i], name))
			return 1;
	return 0;
}

static void set_int(json_t *obj, const char *path, json_int_t v)
{
	const char *dot = strrchr(path, '.');
	char parent[128];

	snprintf(parent, sizeof(parent), "%.*s", (int) (dot - path), path);
	json_object_set_new(cli_json_object_at(obj, parent), dot + 1, json_integer(v));
}

static void set_str(json_t *obj, const char *path, const char *v)
{
	const char *dot = strrchr(path, '.');
	char parent[128];

	snprintf(parent, sizeof(parent), "%.*s", (int) (dot - path), path);
	json_object_set_new(cli_json_object_at(obj, parent), dot + 1, json_string(v));
}

/* updateHealthcheck: --no-healthcheck sets Test ["NONE"]; other health flags change their
 * field of the existing check (an emptied --health-cmd inherits the image's). */
static int update_health(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *fl,
			 json_t *cs)
{
	static const char *const durs[] = {"health-interval",	  "Interval",
					   "health-timeout",	  "Timeout",
					   "health-start-period", "StartPeriod"};
	int other = changed(fl, "health-cmd") || changed(fl, "health-interval") ||
		    changed(fl, "health-timeout") || changed(fl, "health-retries") ||
		    changed(fl, "health-start-period");
	const int64_t vals[] = {o->health_interval, o->health_timeout, o->health_start_period};
	json_t *h;

	if (!other && !changed(fl, "no-healthcheck"))
		return 0;
	if (o->no_healthcheck) {
		if (other)
			return cli_errorf(ctx, -EINVAL,
					  "--no-healthcheck conflicts with --health-* options");
		json_object_set_new(cs, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	h = cli_json_object_at(cs, "Healthcheck");
	if (json_array_size(json_object_get(h, "Test")) == 1 &&
	    !strcmp(json_string_value(json_array_get(json_object_get(h, "Test"), 0)) ?: "", "NONE"))
		json_object_del(h, "Test"); /* options without a check inherit the image's */
	if (changed(fl, "health-cmd")) {
		if (*o->health_cmd)
			json_object_set_new(h, "Test",
					    json_pack("[s,s]", "CMD-SHELL", o->health_cmd));
		else
			json_object_del(h, "Test");
	}
	for (int i = 0; i < 3; i++)
		if (changed(fl, durs[2 * i]))
			json_object_set_new(h, durs[2 * i + 1], json_integer(vals[i]));
	if (changed(fl, "health-retries"))
		json_object_set_new(h, "Retries", json_integer(o->health_retries));
	return 0;
}

/* Removes the placement preferences written as "spread=DESCRIPTOR" in rm, adds `add`. */
static void update_prefs(json_t *spec, const struct cli_strv *add, const struct cli_strv *rm)
{
	json_t *arr = array_at(cli_json_object_at(spec, "TaskTemplate.Placement"), "Preferences"),
	       *v;
	char err[256];

	for (size_t i = 0; i < json_array_size(arr);) {
		char s[320];

		snprintf(s, sizeof(s), "spread=%s",
			 cli_json_str(json_array_get(arr, i), "Spread.SpreadDescriptor"));
		if (in_strv(rm, s, strlen(s)))
			json_array_remove(arr, i);
		else
			i++;
	}
	for (size_t i = 0; i < add->n; i++)
		if (!cli_svc_pref(add->v[i], &v, err, sizeof(err)))
			json_array_append_new(arr, v);
}

/* Removes the networks named (or with the id) in rm, adds `add` resolved to ids. */
static int update_networks(struct cli_ctx *ctx, json_t *spec, const struct cli_strv *add,
			   const struct cli_strv *rm)
{
	json_t *tt = cli_json_object_at(spec, "TaskTemplate"), *arr = array_at(tt, "Networks");
	CLI_AUTO_JSON json_t *fresh = NULL;
	size_t i, j;
	json_t *v;
	int rc;

	for (i = 0; i < rm->n; i++) {
		CLI_AUTO_FREE char *path = cli_api_path("/networks/", rm->v[i], NULL);
		CLI_AUTO_JSON json_t *nw = NULL;
		const char *id = rm->v[i];

		if (!cli_api(ctx, "GET", path, "scope=swarm", NULL, &nw))
			id = cli_json_str(nw, "Id")[0] ? cli_json_str(nw, "Id")
						       : cli_json_str(nw, "ID");
		for (j = 0; j < json_array_size(arr);) {
			const char *t = cli_json_str(json_array_get(arr, j), "Target");

			if (!strcmp(t, id) || !strcmp(t, rm->v[i]))
				json_array_remove(arr, j);
			else
				j++;
		}
	}
	buf_reset(&ctx->errmsg);
	if ((rc = cli_svc_networks(ctx, add, &fresh)))
		return rc;
	json_array_foreach(fresh, i, v)
	{
		int dup = 0;
		json_t *w;

		json_array_foreach(arr, j, w) dup |=
		    !strcmp(cli_json_str(w, "Target"), cli_json_str(v, "Target"));
		if (dup)
			return cli_errorf(ctx, -EINVAL, "service is already attached to network %s",
					  cli_json_str(v, "Target"));
		json_array_append(arr, v);
	}
	return 0;
}

/* Hosts entries are "IP host..."; rm names "host" or "host:ip". */
static void update_hosts(json_t *cs, const struct cli_strv *add, const struct cli_strv *rm)
{
	json_t *arr = array_at(cs, "Hosts");
	char err[256];

	for (size_t i = 0; i < json_array_size(arr);) {
		const char *e = json_string_value(json_array_get(arr, i)) ?: "";
		size_t il = strcspn(e, " \t");
		int drop = 0;

		for (size_t k = 0; k < rm->n && !drop; k++) {
			const char *r = rm->v[k];
			size_t hl = strcspn(r, ":");
			const char *h = e + il;

			if (r[hl] == ':' &&
			    (strlen(r + hl + 1) != il || strncmp(r + hl + 1, e, il)))
				continue;
			while (*h) {
				size_t l;

				h += strspn(h, " \t");
				l = strcspn(h, " \t");
				if (l == hl && !strncmp(h, r, hl))
					drop = 1;
				h += l;
			}
		}
		if (drop)
			json_array_remove(arr, i);
		else
			i++;
	}
	for (size_t i = 0; i < add->n; i++) {
		char *h;

		if (!cli_svc_host(add->v[i], &h, err, sizeof(err))) {
			json_array_append_new(arr, json_string(h));
			free(h);
		}
	}
}

static int apply_more(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *fl,
		      json_t *spec)
{
	json_t *cs = cli_json_object_at(spec, "TaskTemplate.ContainerSpec"), *v;
	int rc;

	if (changed(fl, "entrypoint")) {
		if (cli_svc_shlex(o->entrypoint, &v))
			return cli_errorf(ctx, -EINVAL, "invalid --entrypoint: unbalanced quotes");
		if (json_array_size(v))
			json_object_set_new(cs, "Command", v);
		else
			json_object_del(cs, "Command"), json_decref(v);
	}
	if (changed(fl, "update-max-failure-ratio"))
		json_object_set_new(cli_json_object_at(spec, "UpdateConfig"), "MaxFailureRatio",
				    json_real(strtof(o->update_max_failure_ratio, NULL)));
	if (changed(fl, "rollback-max-failure-ratio"))
		json_object_set_new(cli_json_object_at(spec, "RollbackConfig"), "MaxFailureRatio",
				    json_real(strtof(o->rollback_max_failure_ratio, NULL)));
	/* docker: --log-opt only counts together with --log-driver. */
	if (changed(fl, "log-driver"))
		json_object_set_new(cli_json_object_at(spec, "TaskTemplate"), "LogDriver",
				    json_pack("{s:s,s:o}", "Name", o->log_driver, "Options",
					      cli_swobj_labels(&o->log_opts)));
	if ((rc = update_health(ctx, o, fl, cs)))
		return rc;
	if (changed(fl, "placement-pref-add") || changed(fl, "placement-pref-rm"))
		update_prefs(spec, &o->prefs, &o->rm_prefs);
	if ((changed(fl, "network-add") || changed(fl, "network-rm")) &&
	    (rc = update_networks(ctx, spec, &o->networks, &o->rm_networks)))
		return rc;
	if (changed(fl, "group-add") || changed(fl, "group-rm"))
		update_list(cs, "Groups", &o->groups, &o->rm_groups);
	if (changed(fl, "dns-add") || changed(fl, "dns-rm"))
		update_list(cli_json_object_at(cs, "DNSConfig"), "Nameservers", &o->dns,
			    &o->rm_dns);
	if (changed(fl, "dns-option-add") || changed(fl, "dns-option-rm"))
		update_list(cli_json_object_at(cs, "DNSConfig"), "Options", &o->dns_option,
			    &o->rm_dns_option);
	if (changed(fl, "dns-search-add") || changed(fl, "dns-search-rm"))
		update_list(cli_json_object_at(cs, "DNSConfig"), "Search", &o->dns_search,
			    &o->rm_dns_search);
	if (changed(fl, "host-add") || changed(fl, "host-rm"))
		update_hosts(cs, &o->hosts, &o->rm_hosts);
	return 0;
}

static int apply(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *fl, json_t *spec)
{
	json_t *cs = cli_json_object_at(spec, "TaskTemplate.ContainerSpec"), *v;
	char err[256];
	int64_t n;
	int rc;

	if (changed(fl, "image")) {
		CLI_AUTO_FREE char *img = cli_svc_tagged_image(o->image);

		json_object_set_new(cs, "Image", json_string(img));
	}
	if (o->force)
		set_int(spec, "TaskTemplate.ForceUpdate",
			cli_json_int(spec, "TaskTemplate.ForceUpdate") + 1);
	if (changed(fl, "replicas")) {
		if (!json_is_object(cli_json_path(spec, "Mode.Replicated")))
			return cli_errorf(ctx, -EINVAL,
					  "replicas can only be used with replicated mode");
		set_int(spec, "Mode.Replicated.Replicas", (json_int_t) o->replicas);
	}
	if (changed(fl, "args")) {
		if (cli_svc_shlex(o->args, &v))
			return cli_errorf(ctx, -EINVAL, "invalid --args: unbalanced quotes");
		json_object_set_new(cs, "Args", v);
	}
	if (changed(fl, "workdir"))
		json_object_set_new(cs, "Dir", json_string(o->workdir));
	if (changed(fl, "user"))
		json_object_set_new(cs, "User", json_string(o->user));
	if (changed(fl, "hostname"))
		json_object_set_new(cs, "Hostname", json_string(o->hostname));
	if (changed(fl, "stop-signal"))
		json_object_set_new(cs, "StopSignal", json_string(o->stop_signal));
	if (changed(fl, "stop-grace-period"))
		json_object_set_new(cs, "StopGracePeriod", json_integer(o->stop_grace));
	if (changed(fl, "read-only"))
		json_object_set_new(cs, "ReadOnly", json_boolean(o->read_only));
	if (changed(fl, "init"))
		json_object_set_new(cs, "Init", json_boolean(o->init));
	if (changed(fl, "tty"))
		json_object_set_new(cs, "TTY", json_boolean(o->tty));
	if (changed(fl, "env-add") || changed(fl, "env-rm"))
		update_env(cs, &o->env, &o->rm_env);
	if (changed(fl, "label-add") || changed(fl, "label-rm"))
		update_map(spec, "Labels", &o->labels, &o->rm_labels);
	if (changed(fl, "container-label-add") || changed(fl, "container-label-rm"))
		update_map(cs, "Labels", &o->container_labels, &o->rm_container_labels);
	if (changed(fl, "constraint-add") || changed(fl, "constraint-rm"))
		update_list(cli_json_object_at(spec, "TaskTemplate.Placement"), "Constraints",
			    &o->constraints, &o->rm_constraints);
	if (changed(fl, "publish-add") || changed(fl, "publish-rm")) {
		json_t *ports = array_at(cli_json_object_at(spec, "EndpointSpec"), "Ports");

		remove_items(ports, "PublishedPort", &o->rm_publish);
		for (size_t i = 0; i < o->publish.n; i++)
			if (!cli_svc_port(o->publish.v[i], &v, err, sizeof(err))) {
				json_array_extend(ports, v);
				json_decref(v);
			}
	}
	if (changed(fl, "mount-add") || changed(fl, "mount-rm")) {
		json_t *mounts = array_at(cs, "Mounts");

		remove_items(mounts, "Target", &o->rm_mounts);
		for (size_t i = 0; i < o->mounts.n; i++)
			if (!cli_svc_mount(o->mounts.v[i], &v, err, sizeof(err)))
				json_array_append_new(mounts, v);
	}
	if ((changed(fl, "secret-add") || changed(fl, "secret-rm")) &&
	    (rc = add_refs(ctx, cs, &o->secrets, &o->rm_secrets, 0)))
		return rc;
	if ((changed(fl, "config-add") || changed(fl, "config-rm")) &&
	    (rc = add_refs(ctx, cs, &o->configs, &o->rm_configs, 1)))
		return rc;
	if (changed(fl, "limit-cpu") && !cli_svc_nano_cpus(o->limit_cpu, &n, err, sizeof(err)))
		set_int(spec, "TaskTemplate.Resources.Limits.NanoCPUs", n);
	if (changed(fl, "limit-memory") && !cli_svc_ram_bytes(o->limit_mem, &n, err, sizeof(err)))
		set_int(spec, "TaskTemplate.Resources.Limits.MemoryBytes", n);
	if (changed(fl, "reserve-cpu") && !cli_svc_nano_cpus(o->reserve_cpu, &n, err, sizeof(err)))
		set_int(spec, "TaskTemplate.Resources.Reservations.NanoCPUs", n);
	if (changed(fl, "reserve-memory") &&
	    !cli_svc_ram_bytes(o->reserve_mem, &n, err, sizeof(err)))
		set_int(spec, "TaskTemplate.Resources.Reservations.MemoryBytes", n);
	if (changed(fl, "restart-condition"))
		set_str(spec, "TaskTemplate.RestartPolicy.Condition", o->restart_condition);
	if (changed(fl, "restart-delay"))
		set_int(spec, "TaskTemplate.RestartPolicy.Delay", o->restart_delay);
	if (changed(fl, "restart-max-attempts"))
		set_int(spec, "TaskTemplate.RestartPolicy.MaxAttempts",
			(json_int_t) o->restart_max_attempts);
	if (changed(fl, "restart-window"))
		set_int(spec, "TaskTemplate.RestartPolicy.Window", o->restart_window);
	for (int r = 0; r < 2; r++) {
		const char *p = r ? "rollback" : "update",
			   *obj = r ? "RollbackConfig" : "UpdateConfig";
		char f[5][48], path[64];

		snprintf(f[0], 48, "%s-parallelism", p);
		snprintf(f[1], 48, "%s-delay", p);
		snprintf(f[2], 48, "%s-monitor", p);
		snprintf(f[3], 48, "%s-failure-action", p);
		snprintf(f[4], 48, "%s-order", p);
		snprintf(path, sizeof(path), "%s.Parallelism", obj);
		if (changed(fl, f[0]))
			set_int(spec, path,
				(json_int_t) (r ? o->rollback_parallelism : o->update_parallelism));
		snprintf(path, sizeof(path), "%s.Delay", obj);
		if (changed(fl, f[1]))
			set_int(spec, path, r ? o->rollback_delay : o->update_delay);
		snprintf(path, sizeof(path), "%s.Monitor", obj);
		if (changed(fl, f[2]))
			set_int(spec, path, r ? o->rollback_monitor : o->update_monitor);
		snprintf(path, sizeof(path), "%s.FailureAction", obj);
		if (changed(fl, f[3]))
			set_str(spec, path,
				r ? o->rollback_failure_action : o->update_failure_action);
		snprintf(path, sizeof(path), "%s.Order", obj);
		if (changed(fl, f[4]))
			set_str(spec, path, r ? o->rollback_order : o->update_order);
	}
	if (changed(fl, "endpoint-mode"))
		set_str(spec, "EndpointSpec.Mode", o->endpoint_mode);
	if (changed(fl, "replicas-max-per-node"))
		set_int(spec, "TaskTemplate.Placement.MaxReplicas", (json_int_t) o->max_replicas);
	return apply_more(ctx, o, fl, spec);
}

static int update(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *fl, int argc,
		  char **argv)
{
	CLI_AUTO_JSON json_t *svc = NULL;
	CLI_AUTO_FREE char *warning = NULL;
	CLI_AUTO_FREE char *auth = NULL;
	json_t *spec;
	int rc;

	if ((rc = cli_cmd_parse(ctx, fl, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_svc_validate(ctx, o, fl)))
		return rc;
	for (struct cli_flag *f = fl; f->name; f++) {
		if (!f->changed)
			continue;
		if (o->rollback && strcmp(f->name, "rollback") && strcmp(f->name, "detach") &&
		    strcmp(f->name, "quiet"))
			return cli_errorf(ctx, -EINVAL,
					  "other flags may not be combined with --rollback");
		if (!is_handled(f->name))
			return cli_errorf(
			    ctx, -ENOSYS,
			    "\"%s\": --%s is not implemented yet; nothing was changed", ctx->path,
			    f->name);
	}
	if ((rc = cli_svc_get(ctx, argv[0], 0, &svc)))
		return rc;
	spec = json_object_get(svc, "Spec");
	if (!json_is_object(spec))
		return cli_errorf(ctx, -EPROTO, "service %s has no Spec", argv[0]);
	if (o->rollback) {
		rc = cli_svc_post_update(ctx, svc, spec, "previous", "previous-spec");
	} else {
		if ((rc = apply(ctx, o, fl, spec)))
			return rc;
		if (changed(fl, "image") && !o->no_resolve)
			warning = cli_svc_resolve_image(ctx, spec);
		/* docker: the credentials replace the stored ones; else they are kept. */
		if (o->registry_auth)
			auth = cli_svc_registry_auth(
			    cli_json_str(spec, "TaskTemplate.ContainerSpec.Image"));
		rc = cli_svc_post_update_hdr(ctx, svc, spec, NULL, auth ? NULL : "spec", auth);
	}
	if (rc)
		return rc;
	if (warning)
		fprintf(ctx->err, "%s\n", warning);
	fprintf(ctx->out, "%s\n", argv[0]);
	fflush(ctx->out);
	return o->detach ? 0 : cli_service_wait(ctx, cli_json_str(svc, "ID"), o->quiet);
}

int cli_service_update(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_svc_opts o;
	struct cli_flag flags[CLI_SVC_MAX_FLAGS];
	int rc;

	cli_svc_opts_init(&o);
	cli_svc_flags(&o, flags, 1);
	rc = update(ctx, &o, flags, argc, argv);
	cli_svc_opts_free(&o);
	return rc;
}
