/* conv: Docker's ServiceSpec JSON -> Shoal__ServiceSpec.
 *
 * Every field of API v1.41's ServiceSpec that shoal models is read; unknown
 * fields are ignored (Go's decoder does the same). A wrong type or value
 * names its path ("TaskTemplate.ContainerSpec.Mounts[1].Type: ..."). The
 * result owns malloc'd parts only, so shoal__service_spec__free_unpacked
 * frees it, after an error too. Defaults are the control API's business
 * (ctl_service_spec_defaults), except those only the JSON can tell: a
 * Replicated mode without Replicas means 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "daemon/api/conv.h"
#include "daemon/api/conv_int.h"
#include "daemon/api/json.h"

#define E err, errlen

/* ------------------------------------------------------------------------ */
/* Typed field readers: absent or null leaves *dst alone.                    */

static void path_of(char *out, size_t cap, const char *w, const char *k)
{
	snprintf(out, cap, "%s%s%s", w, w[0] ? "." : "", k);
}

static int present(json_t *o, const char *k)
{
	json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;

	return v && !json_is_null(v);
}

static void *new_msg(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = xcalloc(1, d->sizeof_message);

	protobuf_c_message_init(d, m);
	return m;
}

static int g_str(json_t *o, const char *w, const char *k, char **dst, char *err, size_t errlen)
{
	const char *v = NULL;
	int rv = api_json_get_string(o, w, k, API_JSON_OPTIONAL, &v, E);

	if (rv || !v)
		return rv;
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int g_bool(json_t *o, const char *w, const char *k, protobuf_c_boolean *dst, char *err,
		  size_t errlen)
{
	int v = *dst, rv = api_json_get_bool(o, w, k, API_JSON_OPTIONAL, &v, E);

	*dst = v != 0;
	return rv;
}

static int g_i64(json_t *o, const char *w, const char *k, int64_t *dst, char *err, size_t errlen)
{
	return api_json_get_int64(o, w, k, API_JSON_OPTIONAL, dst, E);
}

/* A non-negative integer up to `max`. */
static int g_uint(json_t *o, const char *w, const char *k, uint64_t max, uint64_t *dst, char *err,
		  size_t errlen)
{
	int64_t v = 0;
	char p[256];
	int rv;

	if (!present(o, k))
		return 0;
	if ((rv = g_i64(o, w, k, &v, E)))
		return rv;
	if (v < 0 || (uint64_t) v > max) {
		path_of(p, sizeof(p), w, k);
		snprintf(err, errlen, "%s: %lld is out of range (0 to %llu)", p, (long long) v,
			 (unsigned long long) max);
		return -EINVAL;
	}
	*dst = (uint64_t) v;
	return 0;
}

static int g_u32(json_t *o, const char *w, const char *k, uint32_t *dst, char *err, size_t errlen)
{
	uint64_t v = *dst;
	int rv = g_uint(o, w, k, UINT32_MAX, &v, E);

	*dst = (uint32_t) v;
	return rv;
}

static int g_port(json_t *o, const char *w, const char *k, uint32_t *dst, char *err, size_t errlen)
{
	uint64_t v = *dst;
	int rv = g_uint(o, w, k, 65535, &v, E);

	*dst = (uint32_t) v;
	return rv;
}

static int g_obj(json_t *o, const char *w, const char *k, json_t **dst, char *err, size_t errlen)
{
	*dst = NULL;
	return api_json_get_object(o, w, k, API_JSON_OPTIONAL, dst, E);
}

/* An array whose elements must be objects; *dst NULL when absent. */
static int g_objv(json_t *o, const char *w, const char *k, json_t **dst, char *err, size_t errlen)
{
	json_t *v;
	size_t i;
	char p[256];
	int rv;

	*dst = NULL;
	if ((rv = api_json_get_array(o, w, k, API_JSON_OPTIONAL, dst, E)) || !*dst)
		return rv;
	path_of(p, sizeof(p), w, k);
	json_array_foreach(*dst, i, v)
	{
		if (!json_is_object(v)) {
			snprintf(err, errlen, "%s[%zu]: expected object, got %s", p, i,
				 api_json_type_name(v));
			return -EINVAL;
		}
	}
	return 0;
}

static int g_strv(json_t *o, const char *w, const char *k, char ***dst, size_t *n, char *err,
		  size_t errlen)
{
	json_t *a = NULL, *v;
	size_t i;
	char p[256];
	int rv;

	if ((rv = api_json_get_array(o, w, k, API_JSON_OPTIONAL, &a, E)) || !a)
		return rv;
	path_of(p, sizeof(p), w, k);
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s[%zu]: expected string, got %s", p, i,
				 api_json_type_name(v));
			return -EINVAL;
		}
	}
	for (i = 0; i < *n; i++)
		free((*dst)[i]);
	free(*dst);
	*n = json_array_size(a);
	*dst = xcalloc(*n + 1, sizeof(char *));
	json_array_foreach(a, i, v)(*dst)[i] = xstrdup(json_string_value(v));
	return 0;
}

/* Protobuf map<string,string> entries share this layout. */
struct kv_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static int g_map(json_t *o, const char *w, const char *k, const ProtobufCMessageDescriptor *d,
		 void *dstv, size_t *n, char *err, size_t errlen)
{
	struct kv_entry ***dst = dstv;
	json_t *m = NULL, *v;
	const char *key;
	size_t i = 0;
	int rv;

	if ((rv = api_json_get_string_map(o, w, k, API_JSON_OPTIONAL, &m, E)) || !m)
		return rv;
	*dst = xcalloc(json_object_size(m) + 1, sizeof(**dst));
	json_object_foreach(m, key, v)
	{
		struct kv_entry *e = new_msg(d);
		e->key = xstrdup(key);
		e->value = xstrdup(json_string_value(v));
		(*dst)[i++] = e;
	}
	*n = i;
	return 0;
}

/* Looks `name` up in a NULL-terminated table (case-insensitive, as Docker's
 * converters upper-case before looking up). Returns the index or -1. */
static int lookup_name(const char *const *names, const char *name)
{
	for (int i = 0; names[i]; i++)
		if (strcasecmp(names[i], name) == 0)
			return i;
	return -1;
}

static int g_enum(json_t *o, const char *w, const char *k, const char *const *names,
		  const char *what, int *dst, char *err, size_t errlen)
{
	const char *v = NULL;
	int rv = api_json_get_string(o, w, k, API_JSON_OPTIONAL, &v, E), i;
	char p[256];

	if (rv || !v || !v[0])
		return rv;
	if ((i = lookup_name(names, v)) < 0) {
		path_of(p, sizeof(p), w, k);
		snprintf(err, errlen, "%s: invalid %s: \"%s\"", p, what, v);
		return -EINVAL;
	}
	*dst = i;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Pieces                                                                    */

static int p_driver(json_t *j, const char *w, Shoal__Driver **out, char *err, size_t errlen)
{
	Shoal__Driver *d = new_msg(&shoal__driver__descriptor);

	*out = d;
	return g_str(j, w, "Name", &d->name, E) ||
		       g_map(j, w, "Options", &shoal__driver__options_entry__descriptor,
			     &d->options, &d->n_options, E)
		   ? -EINVAL
		   : 0;
}

static int p_mount(json_t *j, const char *w, Shoal__Mount *m, char *err, size_t errlen)
{
	json_t *bo = NULL, *vo = NULL, *to = NULL, *dc = NULL;
	char p[256];
	int t = 0, prop = 0;

	if (!present(j, "Type")) {
		snprintf(err, errlen, "%s.Type: invalid MountType: \"\"", w);
		return -EINVAL;
	}
	if (g_enum(j, w, "Type", conv_mount_types, "MountType", &t, E) ||
	    g_str(j, w, "Source", &m->source, E) || g_str(j, w, "Target", &m->target, E) ||
	    g_bool(j, w, "ReadOnly", &m->read_only, E) ||
	    g_str(j, w, "Consistency", &m->consistency, E) || g_obj(j, w, "BindOptions", &bo, E) ||
	    g_obj(j, w, "VolumeOptions", &vo, E) || g_obj(j, w, "TmpfsOptions", &to, E))
		return -EINVAL;
	m->type = t;
	if (bo) {
		m->bind_options = new_msg(&shoal__mount__bind_options__descriptor);
		path_of(p, sizeof(p), w, "BindOptions");
		if (g_enum(bo, p, "Propagation", conv_propagations, "MountPropagation", &prop, E) ||
		    g_bool(bo, p, "NonRecursive", &m->bind_options->non_recursive, E))
			return -EINVAL;
		m->bind_options->propagation = prop;
	}
	if (vo) {
		m->volume_options = new_msg(&shoal__mount__volume_options__descriptor);
		path_of(p, sizeof(p), w, "VolumeOptions");
		if (g_bool(vo, p, "NoCopy", &m->volume_options->no_copy, E) ||
		    g_map(vo, p, "Labels", &shoal__mount__volume_options__labels_entry__descriptor,
			  &m->volume_options->labels, &m->volume_options->n_labels, E) ||
		    g_obj(vo, p, "DriverConfig", &dc, E))
			return -EINVAL;
		if (dc) {
			char q[256];
			path_of(q, sizeof(q), p, "DriverConfig");
			if (p_driver(dc, q, &m->volume_options->driver_config, E))
				return -EINVAL;
		}
	}
	if (to) {
		m->tmpfs_options = new_msg(&shoal__mount__tmpfs_options__descriptor);
		path_of(p, sizeof(p), w, "TmpfsOptions");
		if (g_i64(to, p, "SizeBytes", &m->tmpfs_options->size_bytes, E) ||
		    g_u32(to, p, "Mode", &m->tmpfs_options->mode, E))
			return -EINVAL;
	}
	return 0;
}

static int p_file(json_t *j, const char *w, Shoal__FileTarget **out, char *err, size_t errlen)
{
	json_t *f = NULL;
	char p[256];

	if (g_obj(j, w, "File", &f, E))
		return -EINVAL;
	if (!f)
		return 0;
	*out = new_msg(&shoal__file_target__descriptor);
	path_of(p, sizeof(p), w, "File");
	return g_str(f, p, "Name", &(*out)->name, E) || g_str(f, p, "UID", &(*out)->uid, E) ||
		       g_str(f, p, "GID", &(*out)->gid, E) || g_u32(f, p, "Mode", &(*out)->mode, E)
		   ? -EINVAL
		   : 0;
}

/* Arrays of messages: allocates *arr with one initialized element per JSON
 * element and calls fn on each with its path. */
typedef int (*elem_fn)(json_t *j, const char *w, void *msg, char *err, size_t errlen);

static int p_array(json_t *o, const char *w, const char *k, const ProtobufCMessageDescriptor *d,
		   elem_fn fn, void *arrv, size_t *n, char *err, size_t errlen)
{
	void ***arr = arrv;
	json_t *a, *v;
	char p[256];
	size_t i;

	if (g_objv(o, w, k, &a, E))
		return -EINVAL;
	if (!a)
		return 0;
	*arr = xcalloc(json_array_size(a) + 1, sizeof(void *));
	json_array_foreach(a, i, v)
	{
		(*arr)[i] = new_msg(d);
		*n = i + 1;
		snprintf(p, sizeof(p), "%s%s%s[%zu]", w, w[0] ? "." : "", k, i);
		if (fn(v, p, (*arr)[i], E))
			return -EINVAL;
	}
	return 0;
}

static int e_mount(json_t *j, const char *w, void *m, char *err, size_t errlen)
{
	return p_mount(j, w, m, E);
}

static int e_secret(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__SecretReference *r = msg;

	return p_file(j, w, &r->file, E) || g_str(j, w, "SecretID", &r->secret_id, E) ||
		       g_str(j, w, "SecretName", &r->secret_name, E)
		   ? -EINVAL
		   : 0;
}

static int e_config(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__ConfigReference *r = msg;

	if (p_file(j, w, &r->file, E) || g_str(j, w, "ConfigID", &r->config_id, E) ||
	    g_str(j, w, "ConfigName", &r->config_name, E))
		return -EINVAL;
	if (r->file && present(j, "Runtime")) {
		snprintf(err, errlen, "%s: File and Runtime are mutually exclusive", w);
		return -EINVAL;
	}
	return 0;
}

static int e_ulimit(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__ContainerSpec__Ulimit *u = msg;

	return g_str(j, w, "Name", &u->name, E) || g_i64(j, w, "Soft", &u->soft, E) ||
		       g_i64(j, w, "Hard", &u->hard, E)
		   ? -EINVAL
		   : 0;
}

static int e_network(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__NetworkAttachmentConfig *n = msg;

	return g_str(j, w, "Target", &n->target, E) ||
		       g_strv(j, w, "Aliases", &n->aliases, &n->n_aliases, E) ||
		       g_map(
			   j, w, "DriverOpts",
			   &shoal__network_attachment_config__driver_attachment_opts_entry__descriptor,
			   &n->driver_attachment_opts, &n->n_driver_attachment_opts, E)
		   ? -EINVAL
		   : 0;
}

static int e_platform(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__Platform *p = msg;

	return g_str(j, w, "Architecture", &p->architecture, E) || g_str(j, w, "OS", &p->os, E)
		   ? -EINVAL
		   : 0;
}

static int e_pref(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__PlacementPreference *p = msg;
	json_t *s = NULL;
	char q[256];

	if (g_obj(j, w, "Spread", &s, E))
		return -EINVAL;
	if (!s)
		return 0;
	p->spread = new_msg(&shoal__spread_over__descriptor);
	p->preference_case = SHOAL__PLACEMENT_PREFERENCE__PREFERENCE_SPREAD;
	path_of(q, sizeof(q), w, "Spread");
	return g_str(s, q, "SpreadDescriptor", &p->spread->spread_descriptor, E);
}

static int e_generic(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__GenericResource *g = msg;
	json_t *nr = NULL, *dr = NULL;
	char q[256];

	if (g_obj(j, w, "NamedResourceSpec", &nr, E) || g_obj(j, w, "DiscreteResourceSpec", &dr, E))
		return -EINVAL;
	if (nr && dr) {
		snprintf(err, errlen, "%s: only one of NamedResourceSpec and DiscreteResourceSpec",
			 w);
		return -EINVAL;
	}
	if (nr) {
		g->named_resource_spec = new_msg(&shoal__named_generic_resource__descriptor);
		g->resource_case = SHOAL__GENERIC_RESOURCE__RESOURCE_NAMED_RESOURCE_SPEC;
		path_of(q, sizeof(q), w, "NamedResourceSpec");
		return g_str(nr, q, "Kind", &g->named_resource_spec->kind, E) ||
			       g_str(nr, q, "Value", &g->named_resource_spec->value, E)
			   ? -EINVAL
			   : 0;
	}
	if (dr) {
		g->discrete_resource_spec = new_msg(&shoal__discrete_generic_resource__descriptor);
		g->resource_case = SHOAL__GENERIC_RESOURCE__RESOURCE_DISCRETE_RESOURCE_SPEC;
		path_of(q, sizeof(q), w, "DiscreteResourceSpec");
		return g_str(dr, q, "Kind", &g->discrete_resource_spec->kind, E) ||
			       g_i64(dr, q, "Value", &g->discrete_resource_spec->value, E)
			   ? -EINVAL
			   : 0;
	}
	snprintf(err, errlen, "%s: NamedResourceSpec or DiscreteResourceSpec required", w);
	return -EINVAL;
}

static int e_port(json_t *j, const char *w, void *msg, char *err, size_t errlen)
{
	Shoal__PortConfig *p = msg;
	int proto = 0, mode = 0;

	if (g_str(j, w, "Name", &p->name, E) ||
	    g_enum(j, w, "Protocol", conv_protocols, "protocol", &proto, E) ||
	    g_port(j, w, "TargetPort", &p->target_port, E) ||
	    g_port(j, w, "PublishedPort", &p->published_port, E) ||
	    g_enum(j, w, "PublishMode", conv_publish_modes, "PublishMode", &mode, E))
		return -EINVAL;
	p->protocol = proto;
	p->publish_mode = mode;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* ContainerSpec, TaskSpec                                                   */

static int p_container(json_t *j, const char *w, Shoal__ContainerSpec *c, char *err, size_t errlen)
{
	json_t *hc = NULL, *dns = NULL;
	char p[256];

	if (g_str(j, w, "Image", &c->image, E) ||
	    g_map(j, w, "Labels", &shoal__container_spec__labels_entry__descriptor, &c->labels,
		  &c->n_labels, E) ||
	    g_strv(j, w, "Command", &c->command, &c->n_command, E) ||
	    g_strv(j, w, "Args", &c->args, &c->n_args, E) ||
	    g_str(j, w, "Hostname", &c->hostname, E) ||
	    g_strv(j, w, "Env", &c->env, &c->n_env, E) || g_str(j, w, "Dir", &c->dir, E) ||
	    g_str(j, w, "User", &c->user, E) ||
	    g_strv(j, w, "Groups", &c->groups, &c->n_groups, E) ||
	    g_bool(j, w, "TTY", &c->tty, E) || g_bool(j, w, "OpenStdin", &c->open_stdin, E) ||
	    g_bool(j, w, "ReadOnly", &c->read_only, E) ||
	    p_array(j, w, "Mounts", &shoal__mount__descriptor, e_mount, &c->mounts, &c->n_mounts,
		    E) ||
	    g_str(j, w, "StopSignal", &c->stop_signal, E) ||
	    g_strv(j, w, "Hosts", &c->hosts, &c->n_hosts, E) ||
	    p_array(j, w, "Secrets", &shoal__secret_reference__descriptor, e_secret, &c->secrets,
		    &c->n_secrets, E) ||
	    p_array(j, w, "Configs", &shoal__config_reference__descriptor, e_config, &c->configs,
		    &c->n_configs, E) ||
	    g_str(j, w, "Isolation", &c->isolation, E) || g_bool(j, w, "Init", &c->init, E) ||
	    g_map(j, w, "Sysctls", &shoal__container_spec__sysctls_entry__descriptor, &c->sysctls,
		  &c->n_sysctls, E) ||
	    g_strv(j, w, "CapabilityAdd", &c->capability_add, &c->n_capability_add, E) ||
	    g_strv(j, w, "CapabilityDrop", &c->capability_drop, &c->n_capability_drop, E) ||
	    p_array(j, w, "Ulimits", &shoal__container_spec__ulimit__descriptor, e_ulimit,
		    &c->ulimits, &c->n_ulimits, E))
		return -EINVAL;
	if (present(j, "StopGracePeriod")) {
		if (g_i64(j, w, "StopGracePeriod", &c->stop_grace_period, E))
			return -EINVAL;
		c->opt_stop_grace_period_case =
		    SHOAL__CONTAINER_SPEC__OPT_STOP_GRACE_PERIOD_STOP_GRACE_PERIOD;
	}
	/* moby spells it Healthcheck; Go's decoder also takes HealthCheck. */
	if (g_obj(j, w, present(j, "Healthcheck") ? "Healthcheck" : "HealthCheck", &hc, E))
		return -EINVAL;
	if (hc) {
		Shoal__HealthConfig *h = c->healthcheck =
		    new_msg(&shoal__health_config__descriptor);
		int64_t retries = 0;
		path_of(p, sizeof(p), w, "Healthcheck");
		if (g_strv(hc, p, "Test", &h->test, &h->n_test, E) ||
		    g_i64(hc, p, "Interval", &h->interval, E) ||
		    g_i64(hc, p, "Timeout", &h->timeout, E) ||
		    g_i64(hc, p, "StartPeriod", &h->start_period, E) ||
		    g_i64(hc, p, "Retries", &retries, E))
			return -EINVAL;
		if (retries < INT32_MIN || retries > INT32_MAX) {
			snprintf(err, errlen, "%s.Retries: out of range", p);
			return -EINVAL;
		}
		h->retries = (int32_t) retries;
	}
	if (g_obj(j, w, "DNSConfig", &dns, E))
		return -EINVAL;
	if (dns) {
		Shoal__ContainerSpec__DNSConfig *d = c->dns_config =
		    new_msg(&shoal__container_spec__dnsconfig__descriptor);
		path_of(p, sizeof(p), w, "DNSConfig");
		if (g_strv(dns, p, "Nameservers", &d->nameservers, &d->n_nameservers, E) ||
		    g_strv(dns, p, "Search", &d->search, &d->n_search, E) ||
		    g_strv(dns, p, "Options", &d->options, &d->n_options, E))
			return -EINVAL;
	}
	return 0;
}

static int p_resources(json_t *j, const char *w, const char *k, int limits, Shoal__Resources **out,
		       char *err, size_t errlen)
{
	json_t *o = NULL;
	char p[256];
	Shoal__Resources *r;

	if (g_obj(j, w, k, &o, E))
		return -EINVAL;
	if (!o)
		return 0;
	r = *out = new_msg(&shoal__resources__descriptor);
	path_of(p, sizeof(p), w, k);
	if (g_i64(o, p, "NanoCPUs", &r->nano_cpus, E) ||
	    g_i64(o, p, "MemoryBytes", &r->memory_bytes, E))
		return -EINVAL;
	if (limits)
		return g_i64(o, p, "Pids", &r->pids, E);
	return p_array(o, p, "GenericResources", &shoal__generic_resource__descriptor, e_generic,
		       &r->generic_resources, &r->n_generic_resources, E);
}

static int p_task(json_t *j, const char *w, Shoal__TaskSpec *t, char *err, size_t errlen)
{
	json_t *cs = NULL, *nas = NULL, *res = NULL, *rp = NULL, *pl = NULL, *ld = NULL;
	const char *runtime = NULL;
	char p[256];

	if (g_obj(j, w, "ContainerSpec", &cs, E) || g_obj(j, w, "NetworkAttachmentSpec", &nas, E) ||
	    g_obj(j, w, "Resources", &res, E) || g_obj(j, w, "RestartPolicy", &rp, E) ||
	    g_obj(j, w, "Placement", &pl, E) || g_obj(j, w, "LogDriver", &ld, E) ||
	    p_array(j, w, "Networks", &shoal__network_attachment_config__descriptor, e_network,
		    &t->networks, &t->n_networks, E) ||
	    g_uint(j, w, "ForceUpdate", UINT64_MAX >> 1, &t->force_update, E) ||
	    api_json_get_string(j, w, "Runtime", API_JSON_OPTIONAL, &runtime, E))
		return -EINVAL;
	if (runtime && runtime[0] && strcmp(runtime, "container") != 0 &&
	    strcmp(runtime, "attachment") != 0) {
		path_of(p, sizeof(p), w, "Runtime");
		snprintf(err, errlen, "%s: unsupported runtime \"%s\"", p, runtime);
		return -EINVAL;
	}
	if (present(j, "PluginSpec")) {
		path_of(p, sizeof(p), w, "PluginSpec");
		snprintf(err, errlen, "%s: plugin services are not supported", p);
		return -EINVAL;
	}
	if (runtime && runtime[0])
		t->runtime = xstrdup(runtime);
	if (cs) {
		t->container = new_msg(&shoal__container_spec__descriptor);
		path_of(p, sizeof(p), w, "ContainerSpec");
		if (p_container(cs, p, t->container, E))
			return -EINVAL;
	}
	if (nas) {
		t->network_attachment = new_msg(&shoal__network_attachment_spec__descriptor);
		path_of(p, sizeof(p), w, "NetworkAttachmentSpec");
		if (g_str(nas, p, "ContainerID", &t->network_attachment->container_id, E))
			return -EINVAL;
	}
	if (res) {
		t->resources = new_msg(&shoal__resource_requirements__descriptor);
		path_of(p, sizeof(p), w, "Resources");
		if (p_resources(res, p, "Limits", 1, &t->resources->limits, E) ||
		    p_resources(res, p, "Reservations", 0, &t->resources->reservations, E))
			return -EINVAL;
	}
	if (rp) {
		Shoal__RestartPolicy *r = t->restart = new_msg(&shoal__restart_policy__descriptor);
		int cond = SHOAL__RESTART_POLICY__CONDITION__ANY;
		path_of(p, sizeof(p), w, "RestartPolicy");
		if (g_enum(rp, p, "Condition", conv_restart_conditions, "RestartCondition", &cond,
			   E) ||
		    g_uint(rp, p, "MaxAttempts", UINT64_MAX >> 1, &r->max_attempts, E) ||
		    g_i64(rp, p, "Window", &r->window, E))
			return -EINVAL;
		r->condition = cond;
		if (present(rp, "Delay")) {
			if (g_i64(rp, p, "Delay", &r->delay, E))
				return -EINVAL;
			r->opt_delay_case = SHOAL__RESTART_POLICY__OPT_DELAY_DELAY;
		}
	}
	if (pl) {
		Shoal__Placement *x = t->placement = new_msg(&shoal__placement__descriptor);
		path_of(p, sizeof(p), w, "Placement");
		if (g_strv(pl, p, "Constraints", &x->constraints, &x->n_constraints, E) ||
		    p_array(pl, p, "Preferences", &shoal__placement_preference__descriptor, e_pref,
			    &x->preferences, &x->n_preferences, E) ||
		    g_uint(pl, p, "MaxReplicas", UINT64_MAX >> 1, &x->max_replicas, E) ||
		    p_array(pl, p, "Platforms", &shoal__platform__descriptor, e_platform,
			    &x->platforms, &x->n_platforms, E))
			return -EINVAL;
	}
	if (ld) {
		path_of(p, sizeof(p), w, "LogDriver");
		if (p_driver(ld, p, &t->log_driver, E))
			return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* ServiceSpec                                                               */

static int p_update(json_t *j, const char *k, Shoal__UpdateConfig **out, char *err, size_t errlen)
{
	json_t *o = NULL;
	Shoal__UpdateConfig *u;
	int fa = 0, order = 0;
	double ratio = 0;
	json_t *r;

	if (g_obj(j, "", k, &o, E))
		return -EINVAL;
	if (!o)
		return 0;
	u = *out = new_msg(&shoal__update_config__descriptor);
	if (g_uint(o, k, "Parallelism", UINT64_MAX >> 1, &u->parallelism, E) ||
	    g_i64(o, k, "Delay", &u->delay, E) ||
	    g_enum(o, k, "FailureAction", conv_failure_actions, "FailureAction", &fa, E) ||
	    g_i64(o, k, "Monitor", &u->monitor, E) ||
	    g_enum(o, k, "Order", conv_update_orders, "Order", &order, E))
		return -EINVAL;
	if (strcmp(k, "RollbackConfig") == 0 &&
	    fa == SHOAL__UPDATE_CONFIG__FAILURE_ACTION__ROLLBACK) {
		snprintf(err, errlen, "%s.FailureAction: invalid FailureAction: \"rollback\"", k);
		return -EINVAL;
	}
	u->failure_action = fa;
	u->order = order;
	r = json_object_get(o, "MaxFailureRatio");
	if (r && !json_is_null(r)) {
		if (!json_is_number(r)) {
			snprintf(err, errlen, "%s.MaxFailureRatio: expected number, got %s", k,
				 api_json_type_name(r));
			return -EINVAL;
		}
		ratio = json_number_value(r);
	}
	u->max_failure_ratio = (float) ratio;
	return 0;
}

static int p_mode(json_t *j, Shoal__ServiceSpec *s, char *err, size_t errlen)
{
	json_t *m = NULL, *rep = NULL, *glob = NULL, *rj = NULL, *gj = NULL;

	if (g_obj(j, "", "Mode", &m, E))
		return -EINVAL;
	if (!m)
		return 0;
	if (g_obj(m, "Mode", "Replicated", &rep, E) || g_obj(m, "Mode", "Global", &glob, E) ||
	    g_obj(m, "Mode", "ReplicatedJob", &rj, E) || g_obj(m, "Mode", "GlobalJob", &gj, E))
		return -EINVAL;
	if (!!rep + !!glob + !!rj + !!gj > 1) {
		snprintf(err, errlen,
			 "Mode: only one of Replicated, Global, ReplicatedJob and GlobalJob may be "
			 "set");
		return -EINVAL;
	}
	if (rep) {
		s->replicated = new_msg(&shoal__replicated_service__descriptor);
		s->mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED;
		s->replicated->replicas = 1; /* moby: Replicas absent means 1 */
		return g_uint(rep, "Mode.Replicated", "Replicas", UINT64_MAX >> 1,
			      &s->replicated->replicas, E);
	}
	if (glob) {
		s->global = new_msg(&shoal__global_service__descriptor);
		s->mode_case = SHOAL__SERVICE_SPEC__MODE_GLOBAL;
	}
	if (rj) {
		s->replicated_job = new_msg(&shoal__replicated_job__descriptor);
		s->mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB;
		return g_uint(rj, "Mode.ReplicatedJob", "MaxConcurrent", UINT64_MAX >> 1,
			      &s->replicated_job->max_concurrent, E) ||
			       g_uint(rj, "Mode.ReplicatedJob", "TotalCompletions", UINT64_MAX >> 1,
				      &s->replicated_job->total_completions, E)
			   ? -EINVAL
			   : 0;
	}
	if (gj) {
		s->global_job = new_msg(&shoal__global_job__descriptor);
		s->mode_case = SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB;
	}
	return 0;
}

Shoal__ServiceSpec *conv_service_spec(json_t *j, char *err, size_t errlen)
{
	Shoal__ServiceSpec *s = new_msg(&shoal__service_spec__descriptor);
	json_t *tt = NULL, *ep = NULL;
	int mode = 0;

	s->annotations = new_msg(&shoal__annotations__descriptor);
	if (!json_is_object(j)) {
		snprintf(err, errlen, "service spec: expected object, got %s",
			 api_json_type_name(j));
		goto bad;
	}
	if (g_str(j, "", "Name", &s->annotations->name, E) ||
	    conv_labels(json_object_get(j, "Labels"), "Labels", s->annotations, E) ||
	    g_obj(j, "", "TaskTemplate", &tt, E) || p_mode(j, s, E) ||
	    p_update(j, "UpdateConfig", &s->update, E) ||
	    p_update(j, "RollbackConfig", &s->rollback, E) ||
	    p_array(j, "", "Networks", &shoal__network_attachment_config__descriptor, e_network,
		    &s->networks, &s->n_networks, E) ||
	    g_obj(j, "", "EndpointSpec", &ep, E))
		goto bad;
	if (tt) {
		s->task = new_msg(&shoal__task_spec__descriptor);
		if (p_task(tt, "TaskTemplate", s->task, E))
			goto bad;
	}
	if (ep) {
		s->endpoint = new_msg(&shoal__endpoint_spec__descriptor);
		if (g_enum(ep, "EndpointSpec", "Mode", conv_endpoint_modes, "resolution mode",
			   &mode, E) ||
		    p_array(ep, "EndpointSpec", "Ports", &shoal__port_config__descriptor, e_port,
			    &s->endpoint->ports, &s->endpoint->n_ports, E))
			goto bad;
		s->endpoint->mode = mode;
	}
	return s;
bad:
	shoal__service_spec__free_unpacked(s, NULL);
	return NULL;
}
