/* `shoal service create`: flags -> ServiceSpec exactly as docker's
 * ToService builds it, secret/config names resolved to IDs, the image
 * tagged and (unless --no-resolve-image) pinned through the distribution
 * endpoint, then POST /services/create and the progress display. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/service.h"
#include "cli/swobj.h"

/* ------------------------------------------------------------------------ */
/* Small converters                                                          */

int cli_svc_shlex(const char *s, json_t **out)
{
	json_t *arr = json_array();
	struct buf w = BUF_INIT;
	int in_word = 0;

	for (const char *p = s; *p; p++) {
		if (isspace((unsigned char) *p)) {
			if (in_word) {
				json_array_append_new(arr, json_stringn((char *) w.data, w.len));
				buf_reset(&w);
				in_word = 0;
			}
			continue;
		}
		in_word = 1;
		if (*p == '\\' && p[1]) {
			buf_append_u8(&w, (uint8_t) * ++p);
		} else if (*p == '\'' || *p == '"') {
			char q = *p++;

			for (; *p && *p != q; p++) {
				if (q == '"' && *p == '\\' && p[1])
					p++;
				buf_append_u8(&w, (uint8_t) *p);
			}
			if (!*p) {
				buf_free(&w);
				json_decref(arr);
				return -EINVAL;
			}
		} else {
			buf_append_u8(&w, (uint8_t) *p);
		}
	}
	if (in_word)
		json_array_append_new(arr, json_stringn(w.len ? (char *) w.data : "", w.len));
	buf_free(&w);
	*out = arr;
	return 0;
}

static json_t *strv_array(const struct cli_strv *v)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

/* Sets key to `v` unless it is empty (Go's omitempty); steals v. */
static void set_nonempty(json_t *obj, const char *key, json_t *v)
{
	if ((json_is_array(v) && !json_array_size(v)) ||
	    (json_is_object(v) && !json_object_size(v)) ||
	    (json_is_string(v) && !json_string_length(v)) ||
	    (json_is_integer(v) && !json_integer_value(v)) || json_is_false(v)) {
		json_decref(v);
		return;
	}
	json_object_set_new(obj, key, v);
}

static int changed(struct cli_flag *flags, const char *name)
{
	struct cli_flag *f = cli_flag_get(flags, name);

	return f && f->changed;
}

/* swarmkit's defaults for an update or rollback config. */
static json_t *update_config(struct cli_flag *flags, const char *prefix, uint64_t parallelism,
			     int64_t delay, int64_t monitor, const char *action, const char *ratio,
			     const char *order)
{
	static const char *const names[] = {
	    "parallelism", "delay", "monitor", "failure-action", "max-failure-ratio", "order"};
	char n[6][48];
	json_t *c;
	int any = 0;

	for (size_t i = 0; i < 6; i++) {
		snprintf(n[i], sizeof(n[i]), "%s-%s", prefix, names[i]);
		any |= changed(flags, n[i]);
	}
	if (!any)
		return NULL;
	c = json_pack("{s:I,s:s,s:I,s:f,s:s}", "Parallelism", (json_int_t) 1, "FailureAction",
		      "pause", "Monitor", (json_int_t) 5000000000LL, "MaxFailureRatio", 0.0,
		      "Order", "stop-first");
	if (changed(flags, n[0]))
		json_object_set_new(c, "Parallelism", json_integer((json_int_t) parallelism));
	if (changed(flags, n[1]) && delay)
		json_object_set_new(c, "Delay", json_integer(delay));
	if (changed(flags, n[2])) {
		if (monitor)
			json_object_set_new(c, "Monitor", json_integer(monitor));
		else
			json_object_del(c, "Monitor");
	}
	if (changed(flags, n[3]))
		set_nonempty(c, "FailureAction", json_string(action));
	if (changed(flags, n[4]))
		json_object_set_new(c, "MaxFailureRatio", json_real(strtof(ratio, NULL)));
	if (changed(flags, n[5]))
		json_object_set_new(c, "Order", json_string(order));
	return c;
}

static json_t *restart_policy(struct cli_svc_opts *o, struct cli_flag *flags)
{
	json_t *rp;

	if (!changed(flags, "restart-condition") && !changed(flags, "restart-delay") &&
	    !changed(flags, "restart-max-attempts") && !changed(flags, "restart-window"))
		return NULL;
	rp = json_pack("{s:s,s:I,s:I}", "Condition", "any", "Delay", (json_int_t) 5000000000LL,
		       "MaxAttempts", (json_int_t) 0);
	if (changed(flags, "restart-condition"))
		json_object_set_new(rp, "Condition", json_string(o->restart_condition));
	if (changed(flags, "restart-delay"))
		json_object_set_new(rp, "Delay", json_integer(o->restart_delay));
	if (changed(flags, "restart-max-attempts"))
		json_object_set_new(rp, "MaxAttempts",
				    json_integer((json_int_t) o->restart_max_attempts));
	if (changed(flags, "restart-window"))
		json_object_set_new(rp, "Window", json_integer(o->restart_window));
	return rp;
}

static json_t *health_config(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags,
			     int *rc)
{
	int have = *o->health_cmd || changed(flags, "health-interval") ||
		   changed(flags, "health-timeout") || changed(flags, "health-start-period") ||
		   o->health_retries != 0;
	json_t *h;

	*rc = 0;
	if (o->no_healthcheck) {
		if (have)
			*rc = cli_errorf(ctx, -EINVAL,
					 "--no-healthcheck conflicts with --health-* options");
		return *rc ? NULL : json_pack("{s:[s]}", "Test", "NONE");
	}
	if (!have)
		return NULL;
	h = json_object();
	if (*o->health_cmd)
		json_object_set_new(h, "Test", json_pack("[s,s]", "CMD-SHELL", o->health_cmd));
	set_nonempty(h, "Interval", json_integer(o->health_interval));
	set_nonempty(h, "Timeout", json_integer(o->health_timeout));
	set_nonempty(h, "StartPeriod", json_integer(o->health_start_period));
	set_nonempty(h, "Retries", json_integer(o->health_retries));
	return h;
}

static json_t *service_mode(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags)
{
	int reps = changed(flags, "replicas"), conc = changed(flags, "max-concurrent");

	if (!strcmp(o->mode, "global") || !strcmp(o->mode, "global-job")) {
		int job = o->mode[6] == '-';

		if (reps)
			return cli_errorf(ctx, -EINVAL,
					  "replicas can only be used with replicated or "
					  "replicated-job mode"),
			       NULL;
		if (o->max_replicas > 0)
			return cli_errorf(ctx, -EINVAL,
					  "replicas-max-per-node can only be used with "
					  "replicated or replicated-job mode"),
			       NULL;
		if (conc)
			return cli_errorf(
				   ctx, -EINVAL,
				   "max-concurrent can only be used with replicated-job mode"),
			       NULL;
		return json_pack("{s:{}}", job ? "GlobalJob" : "Global");
	}
	if (!strcmp(o->mode, "replicated")) {
		json_t *r = json_object();

		if (conc)
			return json_decref(r),
			       cli_errorf(
				   ctx, -EINVAL,
				   "max-concurrent can only be used with replicated-job mode"),
			       NULL;
		if (reps)
			json_object_set_new(r, "Replicas", json_integer((json_int_t) o->replicas));
		return json_pack("{s:o}", "Replicated", r);
	}
	if (!strcmp(o->mode, "replicated-job")) {
		json_t *j = json_object();

		if (conc || reps)
			json_object_set_new(
			    j, "MaxConcurrent",
			    json_integer((json_int_t) (conc ? o->max_concurrent : o->replicas)));
		if (reps)
			json_object_set_new(j, "TotalCompletions",
					    json_integer((json_int_t) o->replicas));
		return json_pack("{s:o}", "ReplicatedJob", j);
	}
	return cli_errorf(ctx, -EINVAL, "Unknown mode: %s, only replicated and global supported",
			  o->mode),
	       NULL;
}

static int cmp_target(const void *a, const void *b)
{
	return strcmp(cli_json_str(*(json_t *const *) a, "Target"),
		      cli_json_str(*(json_t *const *) b, "Target"));
}

/* Network attachments with names resolved to IDs, sorted by ID. */
int cli_svc_networks(struct cli_ctx *ctx, const struct cli_strv *nets, json_t **out)
{
	json_t **v = xcalloc(nets->n ? nets->n : 1, sizeof(*v));
	char err[256];
	int rc = 0;

	*out = json_array();
	for (size_t i = 0; i < nets->n && !rc; i++) {
		CLI_AUTO_FREE char *path = NULL;
		CLI_AUTO_JSON json_t *nw = NULL;

		if (cli_svc_network(nets->v[i], &v[i], err, sizeof(err))) {
			rc = cli_errorf(ctx, -EINVAL, "%s", err);
			break;
		}
		path = cli_api_path("/networks/", cli_json_str(v[i], "Target"), NULL);
		if ((rc = cli_api(ctx, "GET", path, "scope=swarm", NULL, &nw)))
			break;
		json_object_set_new(v[i], "Target",
				    json_string(cli_json_str(nw, "Id")[0]
						    ? cli_json_str(nw, "Id")
						    : cli_json_str(nw, "ID")));
	}
	if (!rc) {
		qsort(v, nets->n, sizeof(*v), cmp_target);
		for (size_t i = 0; i < nets->n; i++)
			json_array_append(*out, v[i]);
	}
	for (size_t i = 0; i < nets->n; i++)
		json_decref(v[i]);
	free(v);
	return rc;
}

static json_t *resources(struct cli_svc_opts *o, struct cli_flag *flags)
{
	json_t *lim = json_object(), *res = json_object();
	char err[128];
	int64_t v;

	if (changed(flags, "limit-cpu") && !cli_svc_nano_cpus(o->limit_cpu, &v, err, sizeof(err)))
		set_nonempty(lim, "NanoCPUs", json_integer(v));
	if (changed(flags, "limit-memory") &&
	    !cli_svc_ram_bytes(o->limit_mem, &v, err, sizeof(err)))
		set_nonempty(lim, "MemoryBytes", json_integer(v));
	if (changed(flags, "reserve-cpu") &&
	    !cli_svc_nano_cpus(o->reserve_cpu, &v, err, sizeof(err)))
		set_nonempty(res, "NanoCPUs", json_integer(v));
	if (changed(flags, "reserve-memory") &&
	    !cli_svc_ram_bytes(o->reserve_mem, &v, err, sizeof(err)))
		set_nonempty(res, "MemoryBytes", json_integer(v));
	return json_pack("{s:o,s:o}", "Limits", lim, "Reservations", res);
}

/* ------------------------------------------------------------------------ */
/* ToService                                                                 */

static json_t *container_spec(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags,
			      const char *image, int nargs, char **args, int *rc)
{
	json_t *c = json_object(), *v;
	CLI_AUTO_STRV struct cli_strv env = {0};
	char err[512];

	*rc = 0;
	json_object_set_new(c, "Image", json_string(image));
	set_nonempty(c, "Labels", cli_swobj_labels(&o->container_labels));
	if (*o->entrypoint) {
		if (cli_svc_shlex(o->entrypoint, &v)) {
			*rc = cli_svc_flag_error(ctx, flags, "entrypoint", o->entrypoint,
						 "EOF found when expecting closing quote");
			return json_decref(c), NULL;
		}
		set_nonempty(c, "Command", v);
	}
	v = json_array();
	for (int i = 0; i < nargs; i++)
		json_array_append_new(v, json_string(args[i]));
	set_nonempty(c, "Args", v);
	set_nonempty(c, "Hostname", json_string(o->hostname));
	if ((*rc = cli_svc_env(&o->env_file, &o->env, &env, err, sizeof(err)))) {
		*rc = cli_errorf(ctx, *rc, "%s", err);
		return json_decref(c), NULL;
	}
	set_nonempty(c, "Env", strv_array(&env));
	set_nonempty(c, "Dir", json_string(o->workdir));
	set_nonempty(c, "User", json_string(o->user));
	set_nonempty(c, "Groups", strv_array(&o->groups));
	json_object_set_new(c, "Init", json_boolean(o->init));
	set_nonempty(c, "StopSignal", json_string(o->stop_signal));
	set_nonempty(c, "TTY", json_boolean(o->tty));
	set_nonempty(c, "ReadOnly", json_boolean(o->read_only));
	v = json_array();
	for (size_t i = 0; i < o->mounts.n; i++) {
		json_t *m;

		if (!cli_svc_mount(o->mounts.v[i], &m, err, sizeof(err)))
			json_array_append_new(v, m);
	}
	set_nonempty(c, "Mounts", v);
	v = json_object();
	set_nonempty(v, "Nameservers", strv_array(&o->dns));
	set_nonempty(v, "Search", strv_array(&o->dns_search));
	set_nonempty(v, "Options", strv_array(&o->dns_option));
	json_object_set_new(c, "DNSConfig", v);
	v = json_array();
	for (size_t i = 0; i < o->hosts.n; i++) {
		char *h;

		if (!cli_svc_host(o->hosts.v[i], &h, err, sizeof(err))) {
			json_array_append_new(v, json_string(h));
			free(h);
		}
	}
	set_nonempty(c, "Hosts", v);
	if (changed(flags, "stop-grace-period"))
		json_object_set_new(c, "StopGracePeriod", json_integer(o->stop_grace));
	v = health_config(ctx, o, flags, rc);
	if (*rc)
		return json_decref(c), NULL;
	if (v)
		json_object_set_new(c, "Healthcheck", v);
	return c;
}

int cli_svc_build_spec(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags,
		       const char *image, int nargs, char **args, json_t **spec)
{
	CLI_AUTO_JSON json_t *s = json_object();
	json_t *mode, *tt, *cs, *v, *upd, *rb, *ep, *place;
	char err[512];
	int rc;

	*spec = NULL;
	if (!(mode = service_mode(ctx, o, flags)))
		return -EINVAL;
	json_object_set_new(s, "Mode", mode);
	upd = update_config(flags, "update", o->update_parallelism, o->update_delay,
			    o->update_monitor, o->update_failure_action,
			    o->update_max_failure_ratio, o->update_order);
	rb = update_config(flags, "rollback", o->rollback_parallelism, o->rollback_delay,
			   o->rollback_monitor, o->rollback_failure_action,
			   o->rollback_max_failure_ratio, o->rollback_order);
	if ((upd || rb) &&
	    (json_object_get(mode, "ReplicatedJob") || json_object_get(mode, "GlobalJob"))) {
		json_decref(upd);
		json_decref(rb);
		return cli_errorf(ctx, -EINVAL,
				  "update and rollback configuration is not supported for jobs");
	}
	if (upd)
		json_object_set_new(s, "UpdateConfig", upd);
	if (rb)
		json_object_set_new(s, "RollbackConfig", rb);
	if ((rc = cli_svc_networks(ctx, &o->networks, &v)))
		return json_decref(v), rc;
	tt = json_object();
	json_object_set_new(s, "TaskTemplate", tt);
	set_nonempty(tt, "Networks", v);
	set_nonempty(s, "Name", json_string(o->name));
	json_object_set_new(s, "Labels", cli_swobj_labels(&o->labels));
	if (!(cs = container_spec(ctx, o, flags, image, nargs, args, &rc)))
		return rc;
	json_object_set_new(tt, "ContainerSpec", cs);
	json_object_set_new(tt, "Resources", resources(o, flags));
	if ((v = restart_policy(o, flags)))
		json_object_set_new(tt, "RestartPolicy", v);
	place = json_object();
	set_nonempty(place, "Constraints", strv_array(&o->constraints));
	v = json_array();
	for (size_t i = 0; i < o->prefs.n; i++) {
		json_t *p;

		if (!cli_svc_pref(o->prefs.v[i], &p, err, sizeof(err)))
			json_array_append_new(v, p);
	}
	set_nonempty(place, "Preferences", v);
	set_nonempty(place, "MaxReplicas", json_integer((json_int_t) o->max_replicas));
	json_object_set_new(tt, "Placement", place);
	if (*o->log_driver)
		json_object_set_new(tt, "LogDriver",
				    json_pack("{s:s,s:o}", "Name", o->log_driver, "Options",
					      cli_swobj_labels(&o->log_opts)));
	json_object_set_new(tt, "ForceUpdate", json_integer(0));
	ep = json_object();
	{
		char m[16];

		snprintf(m, sizeof(m), "%s", o->endpoint_mode);
		for (char *p = m; *p; p++)
			*p = (char) tolower((unsigned char) *p);
		set_nonempty(ep, "Mode", json_string(m));
	}
	v = json_array();
	for (size_t i = 0; i < o->publish.n; i++) {
		json_t *p;

		if (!cli_svc_port(o->publish.v[i], &p, err, sizeof(err)))
			json_array_extend(v, p);
		json_decref(p);
	}
	set_nonempty(ep, "Ports", v);
	json_object_set_new(s, "EndpointSpec", ep);
	*spec = json_incref(s);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Secrets and configs                                                       */

int cli_svc_resolve_refs(struct cli_ctx *ctx, json_t *refs, int is_config)
{
	const char *kind = is_config ? "config" : "secret";
	const char *name_key = is_config ? "ConfigName" : "SecretName";
	CLI_AUTO_JSON json_t *names = json_object();
	CLI_AUTO_JSON json_t *targets = json_object();
	CLI_AUTO_JSON json_t *list = NULL;
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	CLI_AUTO_FREE char *fj = NULL;
	json_t *ref;
	size_t i;
	int rc;

	json_array_foreach(refs, i, ref)
	{
		const char *target = cli_json_str(ref, "File.Name");

		if (*target && json_object_get(targets, target))
			return cli_errorf(ctx, -EINVAL, "duplicate %s target for %s not allowed",
					  kind, cli_json_str(ref, name_key));
		if (*target)
			json_object_set_new(targets, target, json_true());
		json_object_set_new(names, cli_json_str(ref, name_key), json_true());
	}
	{
		json_t *f = json_pack("{s:O}", "name", names);

		fj = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(f);
	}
	cli_http_query_add(&q, "filters", fj);
	buf_append_u8(&q, '\0');
	if ((rc = cli_api(ctx, "GET", is_config ? "/configs" : "/secrets", (char *) q.data, NULL,
			  &list)))
		return rc;
	json_array_foreach(refs, i, ref)
	{
		const char *want = cli_json_str(ref, name_key), *id = NULL;
		size_t j;
		json_t *obj;

		json_array_foreach(list, j, obj) if (!strcmp(cli_json_str(obj, "Spec.Name"), want))
		    id = cli_json_str(obj, "ID");
		if (!id)
			return cli_errorf(ctx, -ENOENT, "%s not found: %s", kind, want);
		json_object_set_new(ref, is_config ? "ConfigID" : "SecretID", json_string(id));
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Image                                                                     */

char *cli_svc_tagged_image(const char *image)
{
	const char *slash = strrchr(image, '/');
	const char *name = image;
	char *s;

	/* reference.FamiliarString drops Docker Hub's implicit parts. */
	if (!strncmp(name, "docker.io/library/", 18))
		name += 18;
	else if (!strncmp(name, "docker.io/", 10))
		name += 10;
	slash = strrchr(name, '/');
	if (strchr(name, '@') || strchr(slash ? slash : name, ':'))
		return xstrdup(name);
	if (asprintf(&s, "%s:latest", name) < 0)
		abort();
	return s;
}

char *cli_svc_resolve_image(struct cli_ctx *ctx, json_t *spec)
{
	json_t *cs = cli_json_path(spec, "TaskTemplate.ContainerSpec");
	const char *image = cli_json_str(cs, "Image");
	CLI_AUTO_JSON json_t *dist = NULL;
	CLI_AUTO_FREE char *path = NULL;
	const char *digest;
	json_t *plats, *p, *out;
	size_t i;
	char *w;

	/* moby's client puts the reference in the path unescaped. */
	if (asprintf(&path, "/distribution/%s/json", image) < 0)
		abort();
	if (cli_api(ctx, "GET", path, NULL, NULL, &dist) || !json_is_object(dist)) {
		if (asprintf(&w,
			     "image %s could not be accessed on a registry to record\n"
			     "its digest. Each node will access %s independently,\n"
			     "possibly leading to different nodes running different\n"
			     "versions of the image.\n",
			     image, image) < 0)
			abort();
		buf_reset(&ctx->errmsg);
		return w;
	}
	digest = cli_json_str(dist, "Descriptor.digest");
	if (*digest && !strchr(image, '@')) {
		CLI_AUTO_FREE char *pinned = NULL;

		if (asprintf(&pinned, "%s@%s", image, digest) < 0)
			abort();
		json_object_set_new(cs, "Image", json_string(pinned));
	}
	plats = json_object_get(dist, "Platforms");
	if (json_array_size(plats)) {
		out = json_array();
		json_array_foreach(plats, i, p)
		{
			const char *arch = cli_json_str(p, "architecture");
			json_t *e = json_object();

			/* moby drops "arm" (nodes report armv7l and would never match). */
			set_nonempty(e, "Architecture",
				     json_string(strcasecmp(arch, "arm") ? arch : ""));
			set_nonempty(e, "OS", json_string(cli_json_str(p, "os")));
			json_array_append_new(out, e);
		}
		json_object_set_new(cli_json_object_at(spec, "TaskTemplate.Placement"), "Platforms",
				    out);
	}
	return NULL;
}

void cli_svc_print_warnings(struct cli_ctx *ctx, json_t *reply)
{
	size_t i;
	json_t *w;

	json_array_foreach(json_object_get(reply, "Warnings"), i, w)
	    fprintf(ctx->err, "%s\n", json_string_value(w) ? json_string_value(w) : "");
}

/* ------------------------------------------------------------------------ */
/* API helpers                                                               */

int cli_svc_get(struct cli_ctx *ctx, const char *ref, int defaults, json_t **svc)
{
	CLI_AUTO_FREE char *path = cli_api_path("/services/", ref, NULL);
	int rc = cli_api(ctx, "GET", path, defaults ? "insertDefaults=true" : NULL, NULL, svc);

	if (rc == 0 && !json_is_object(*svc))
		rc = cli_errorf(ctx, -EPROTO, "unexpected reply to GET %s: expected an object",
				path);
	return rc;
}

int cli_svc_post_update(struct cli_ctx *ctx, json_t *svc, json_t *spec, const char *rollback,
			const char *auth_from)
{
	return cli_svc_post_update_hdr(ctx, svc, spec, rollback, auth_from, NULL);
}

int cli_svc_post_update_hdr(struct cli_ctx *ctx, json_t *svc, json_t *spec, const char *rollback,
			    const char *auth_from, const char *headers)
{
	CLI_AUTO_FREE char *path = cli_api_path("/services/", cli_json_str(svc, "ID"), "/update");
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	CLI_AUTO_JSON json_t *reply = NULL;
	char ver[32];
	int rc;

	snprintf(ver, sizeof(ver), "%lld", (long long) cli_json_int(svc, "Version.Index"));
	if (auth_from)
		cli_http_query_add(&q, "registryAuthFrom", auth_from);
	if (rollback)
		cli_http_query_add(&q, "rollback", rollback);
	cli_http_query_add(&q, "version", ver);
	buf_append_u8(&q, '\0');
	if ((rc = cli_svc_api_headers(ctx, "POST", path, (char *) q.data, spec, headers, &reply)))
		return rc;
	cli_svc_print_warnings(ctx, reply);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* create                                                                    */

/* Index of the first positional argument: docker parses create's flags only
 * up to the image (SetInterspersed(false)), so "sh -c x" stays intact. */
static int first_positional(struct cli_flag *flags, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1] || !strcmp(a, "--"))
			return i;
		if (a[1] == '-') {
			char name[64];
			size_t l = strcspn(a + 2, "=");
			struct cli_flag *f;

			snprintf(name, sizeof(name), "%.*s", (int) l, a + 2);
			f = cli_flag_get(flags, name);
			if (f && f->type != CLI_FLAG_BOOL && !a[2 + l])
				i++;
			continue;
		}
		for (const char *c = a + 1; *c; c++) {
			struct cli_flag *f = NULL;

			for (struct cli_flag *g = flags; g->name; g++)
				if (g->shorthand == *c)
					f = g;
			if (f && f->type != CLI_FLAG_BOOL) {
				if (!c[1])
					i++;
				break;
			}
		}
	}
	return argc;
}

/* Parses create's flags; on success pos and npos hold the positionals. */
static int parse_create_flags(struct cli_ctx *ctx, struct cli_flag *flags, int argc, char **argv,
			      char ***pos, int *npos)
{
	int i = first_positional(flags, argc, argv), nflags = i, rc;
	int start = i < argc && !strcmp(argv[i], "--") ? i + 1 : i;

	if (i > 0) {
		rc = cli_flags_parse(ctx, flags, &nflags, argv);
		if (rc)
			return rc;
	}
	*pos = argv + start;
	*npos = argc - start;
	return 0;
}

static int add_refs(struct cli_ctx *ctx, json_t *cs, const struct cli_strv *vals, int is_config)
{
	CLI_AUTO_JSON json_t *refs = json_array();
	char err[256];
	int rc;

	if (!vals->n)
		return 0;
	for (size_t i = 0; i < vals->n; i++) {
		json_t *r;

		if (cli_svc_file_ref(vals->v[i], is_config, &r, err, sizeof(err)))
			return cli_errorf(ctx, -EINVAL, "%s", err);
		json_array_append_new(refs, r);
	}
	if ((rc = cli_svc_resolve_refs(ctx, refs, is_config)))
		return rc;
	json_object_set(cs, is_config ? "Configs" : "Secrets", refs);
	return 0;
}

static void init_opts(struct cli_svc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = "replicated";
	o->endpoint_mode = "vip";
	o->name = o->workdir = o->user = o->hostname = o->entrypoint = o->stop_signal = "";
	o->image = o->log_driver = o->health_cmd = o->args = "";
	o->limit_cpu = o->limit_mem = o->reserve_cpu = o->reserve_mem = "";
	o->restart_condition = o->update_failure_action = o->update_order = "";
	o->update_max_failure_ratio = o->rollback_failure_action = o->rollback_order = "";
	o->rollback_max_failure_ratio = "";
	o->update_parallelism = o->rollback_parallelism = 1;
}

void cli_svc_opts_init(struct cli_svc_opts *o)
{
	init_opts(o);
}

static int create(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags, int argc,
		  char **argv)
{
	CLI_AUTO_JSON json_t *spec = NULL;
	CLI_AUTO_JSON json_t *reply = NULL;
	CLI_AUTO_FREE char *image = NULL;
	CLI_AUTO_FREE char *warning = NULL;
	CLI_AUTO_FREE char *auth = NULL;
	char **pos;
	int npos, rc;
	json_t *cs;

	rc = parse_create_flags(ctx, flags, argc, argv, &pos, &npos);
	if (rc)
		return rc > 0 ? 0 : rc;
	if ((rc = cli_args_min(ctx, npos, 1)) || (rc = cli_svc_validate(ctx, o, flags)))
		return rc;
	if ((rc = cli_svc_build_spec(ctx, o, flags, pos[0], npos - 1, pos + 1, &spec)))
		return rc;
	cs = cli_json_path(spec, "TaskTemplate.ContainerSpec");
	if ((rc = add_refs(ctx, cs, &o->secrets, 0)) || (rc = add_refs(ctx, cs, &o->configs, 1)))
		return rc;
	image = cli_svc_tagged_image(pos[0]);
	json_object_set_new(cs, "Image", json_string(image));
	if (!o->no_resolve)
		warning = cli_svc_resolve_image(ctx, spec);
	if (o->registry_auth)
		auth = cli_svc_registry_auth(cli_json_str(cs, "Image"));
	if ((rc = cli_svc_api_headers(ctx, "POST", "/services/create", NULL, spec, auth, &reply)))
		return rc;
	cli_svc_print_warnings(ctx, reply);
	if (warning)
		fprintf(ctx->err, "%s\n", warning);
	fprintf(ctx->out, "%s\n", cli_json_str(reply, "ID"));
	fflush(ctx->out);
	if (o->detach)
		return 0;
	return cli_service_wait(ctx, cli_json_str(reply, "ID"), o->quiet);
}

int cli_service_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_svc_opts o;
	struct cli_flag flags[CLI_SVC_MAX_FLAGS];
	int rc;

	init_opts(&o);
	cli_svc_flags(&o, flags, 0);
	rc = create(ctx, &o, flags, argc, argv);
	cli_svc_opts_free(&o);
	return rc;
}
