/* controlapi: service specs — Docker's defaults and swarmkit's validation.
 *
 * Every spec the control API stores passes here first: defaults fill the
 * sections a client left out (so GET returns what `docker service inspect`
 * shows), then validation refuses what swarmkit refuses, with its words
 * (without the "rpc error: code = ... desc =" wrapper). Secret, config and
 * network references are resolved against the store on the way: a name
 * alone gets its id, an id alone its name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "manager/controlapi/ctl.h"
#include "manager/controlapi/ctl_int.h"

#define NS_PER_S 1000000000LL

/* ------------------------------------------------------------------------ */
/* Defaults                                                                  */

static void *new_msg(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = xcalloc(1, d->sizeof_message);

	protobuf_c_message_init(d, m);
	return m;
}

static void update_defaults(Shoal__UpdateConfig **pu)
{
	if (!*pu) {
		Shoal__UpdateConfig *u = new_msg(&shoal__update_config__descriptor);
		u->parallelism = 1;
		u->failure_action = SHOAL__UPDATE_CONFIG__FAILURE_ACTION__PAUSE;
		u->order = SHOAL__UPDATE_CONFIG__ORDER__STOP_FIRST;
		*pu = u;
	}
	if ((*pu)->monitor == 0)
		(*pu)->monitor = 5 * NS_PER_S;
}

void ctl_service_spec_defaults(Shoal__ServiceSpec *s)
{
	Shoal__TaskSpec *t;

	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE__NOT_SET) {
		s->replicated = new_msg(&shoal__replicated_service__descriptor);
		s->replicated->replicas = 1;
		s->mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED;
	}
	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB) {
		if (s->replicated_job->max_concurrent == 0)
			s->replicated_job->max_concurrent = 1;
		if (s->replicated_job->total_completions == 0)
			s->replicated_job->total_completions = s->replicated_job->max_concurrent;
	}
	if (!s->annotations)
		s->annotations = new_msg(&shoal__annotations__descriptor);
	if (!s->task)
		s->task = new_msg(&shoal__task_spec__descriptor);
	t = s->task;
	if (t->container) {
		Shoal__ContainerSpec *c = t->container;
		if (c->opt_stop_grace_period_case ==
		    SHOAL__CONTAINER_SPEC__OPT_STOP_GRACE_PERIOD__NOT_SET) {
			c->opt_stop_grace_period_case =
			    SHOAL__CONTAINER_SPEC__OPT_STOP_GRACE_PERIOD_STOP_GRACE_PERIOD;
			c->stop_grace_period = 10 * NS_PER_S;
		}
		if (!c->dns_config)
			c->dns_config = new_msg(&shoal__container_spec__dnsconfig__descriptor);
		/* Stored as GET shows them, so a spec posted back unchanged packs
		 * the same and its tasks stay up to date. */
		if (!c->isolation || !*c->isolation) {
			if (c->isolation && c->isolation != protobuf_c_empty_string)
				free(c->isolation);
			c->isolation = xstrdup("default");
		}
		if (!t->runtime || !*t->runtime) {
			if (t->runtime && t->runtime != protobuf_c_empty_string)
				free(t->runtime);
			t->runtime = xstrdup("container");
		}
	}
	if (!t->resources)
		t->resources = new_msg(&shoal__resource_requirements__descriptor);
	if (!t->restart) {
		t->restart = new_msg(&shoal__restart_policy__descriptor);
		t->restart->condition = SHOAL__RESTART_POLICY__CONDITION__ANY;
	}
	if (t->restart->opt_delay_case == SHOAL__RESTART_POLICY__OPT_DELAY__NOT_SET) {
		t->restart->opt_delay_case = SHOAL__RESTART_POLICY__OPT_DELAY_DELAY;
		t->restart->delay = 5 * NS_PER_S;
	}
	if (!t->placement)
		t->placement = new_msg(&shoal__placement__descriptor);
	update_defaults(&s->update);
	update_defaults(&s->rollback);
	if (!s->endpoint)
		s->endpoint = new_msg(&shoal__endpoint_spec__descriptor);
}

/* ------------------------------------------------------------------------ */
/* Validation helpers                                                        */

static int isalnum_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int ctl_service_name_valid(const char *name)
{
	size_t n = strlen(name);

	/* ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$: alphanumerics, '-' and '_',
	 * starting and ending with an alphanumeric. */
	if (n == 0 || !isalnum_ascii(name[0]) || !isalnum_ascii(name[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum_ascii(name[i]) && name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

/* A loose form of Docker's reference grammar: [domain/]path[:tag][@digest],
 * path components lower-case [a-z0-9._-], tag [\w.-]{1,128}. */
static int image_valid(const char *ref)
{
	const char *at = strchr(ref, '@'), *end = at ? at : ref + strlen(ref);
	const char *colon = NULL, *p, *first_slash = strchr(ref, '/');
	int domain;

	if (ref == end)
		return 0;
	if (at && (strncmp(at + 1, "sha256:", 7) != 0 || strlen(at + 8) != 64))
		return 0;
	for (p = ref; p < end; p++) {
		if (*p == '/')
			colon = NULL;
		else if (*p == ':')
			colon = p;
	}
	/* A first component with '.' or ':' or "localhost" is a registry. */
	domain = 0;
	if (first_slash && first_slash < end) {
		for (p = ref; p < first_slash; p++)
			domain |= *p == '.' || *p == ':';
		domain |= first_slash - ref == 9 && strncmp(ref, "localhost", 9) == 0;
	}
	if (colon) {
		size_t tl = (size_t) (end - colon - 1);
		if (tl == 0 || tl > 128)
			return 0;
		for (p = colon + 1; p < end; p++)
			if (!isalnum_ascii(*p) && *p != '_' && *p != '.' && *p != '-')
				return 0;
		end = colon;
	}
	for (p = domain ? first_slash + 1 : ref; p < end; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			 *p == '_' || *p == '-' || *p == '/';
		if (!ok || (*p == '/' && (p[1] == '/' || p + 1 == end)))
			return 0;
	}
	return p > (domain ? first_slash + 1 : ref);
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(msg, msglen, __VA_ARGS__);                                                \
		return (code);                                                                     \
	} while (0)

static const char *mount_type_name(Shoal__Mount__Type t)
{
	switch (t) {
	case SHOAL__MOUNT__TYPE__VOLUME:
		return "volume";
	case SHOAL__MOUNT__TYPE__TMPFS:
		return "tmpfs";
	case SHOAL__MOUNT__TYPE__NPIPE:
		return "npipe";
	default:
		return "bind";
	}
}

static int validate_mounts(const Shoal__ContainerSpec *c, char *msg, size_t msglen)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		const Shoal__Mount *m = c->mounts[i];
		const char *ty = mount_type_name(m->type);

		if (m->type == SHOAL__MOUNT__TYPE__NPIPE)
			FAIL(-EINVAL,
			     "invalid mount config for type \"npipe\": mount type unknown");
		if (m->target[0] != '/')
			FAIL(-EINVAL,
			     "invalid mount config for type \"%s\": invalid mount path: '%s' mount "
			     "path must be absolute",
			     ty, m->target);
		if (m->type == SHOAL__MOUNT__TYPE__BIND && !m->source[0])
			FAIL(-EINVAL, "invalid mount config for type \"bind\": field Source must "
				      "not be empty");
		if (m->type == SHOAL__MOUNT__TYPE__BIND && m->source[0] != '/')
			FAIL(-EINVAL,
			     "invalid mount config for type \"bind\": invalid mount path: '%s' "
			     "mount path must be absolute",
			     m->source);
		if (m->type == SHOAL__MOUNT__TYPE__TMPFS && m->source[0])
			FAIL(-EINVAL,
			     "invalid mount config for type \"tmpfs\": field Source must not be "
			     "specified");
		if (m->bind_options && m->type != SHOAL__MOUNT__TYPE__BIND)
			FAIL(-EINVAL,
			     "invalid mount config for type \"%s\": field BindOptions must not be "
			     "specified",
			     ty);
		if (m->volume_options && m->type != SHOAL__MOUNT__TYPE__VOLUME)
			FAIL(
			    -EINVAL,
			    "invalid mount config for type \"%s\": field VolumeOptions must not be "
			    "specified",
			    ty);
		if (m->tmpfs_options && m->type != SHOAL__MOUNT__TYPE__TMPFS)
			FAIL(-EINVAL,
			     "invalid mount config for type \"%s\": field TmpfsOptions must not be "
			     "specified",
			     ty);
		if (m->tmpfs_options && m->tmpfs_options->size_bytes < 0)
			FAIL(-EINVAL,
			     "invalid mount config for type \"tmpfs\": invalid tmpfs size %lld",
			     (long long) m->tmpfs_options->size_bytes);
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->mounts[k]->target, m->target) == 0)
				FAIL(-EINVAL, "ContainerSpec: duplicate mount point: %s",
				     m->target);
	}
	return 0;
}

static int validate_health(const Shoal__HealthConfig *h, char *msg, size_t msglen)
{
	const int64_t min = 1000000; /* 1 ms */

	if (!h)
		return 0;
	if (h->interval && h->interval < min)
		FAIL(-EINVAL, "ContainerSpec: Interval in HealthConfig cannot be less than 1ms");
	if (h->timeout && h->timeout < min)
		FAIL(-EINVAL, "ContainerSpec: Timeout in HealthConfig cannot be less than 1ms");
	if (h->start_period && h->start_period < min)
		FAIL(-EINVAL, "ContainerSpec: StartPeriod in HealthConfig cannot be less than 1ms");
	if (h->retries < 0)
		FAIL(-EINVAL, "ContainerSpec: Retries in HealthConfig cannot be negative");
	return 0;
}

static void set_str(char **dst, const char *v)
{
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = xstrdup(v);
}

/* Appends `name` to a ", "-separated list in buf. */
static void list_add(char *buf, size_t cap, const char *name)
{
	size_t len = strlen(buf);

	snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
}

/* Secret and config references are checked alike (swarmkit's validateSecretRefsSpec and
 * validateConfigRefsSpec); a view hands the shared code the fields of either. */
struct ref_view {
	char **id, **name;
	const Shoal__FileTarget *file;
};

struct ref_kind {
	const char *noun; /* "secret" / "config" */
	enum store_kind kind;
	int file_required; /* a config without a file is a runtime target */
	/* The id and name of a stored object of this kind. */
	void (*ident)(const void *obj, const char **id, const char **name);
};

static const char *ref_label(const struct ref_view *r)
{
	return (*r->name)[0] ? *r->name : *r->id;
}

/* Checks the targets of the n references in v, then resolves each to the stored object, by id
 * or else by name, rewriting its id and name to the object's. */
static int validate_refs(const struct store *st, const struct ref_kind *k, const struct ref_view *v,
			 size_t n, char *msg, size_t msglen)
{
	char missing[256] = "";
	size_t n_missing = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ref_view *r = &v[i];
		if (!(*r->id)[0] && !(*r->name)[0])
			FAIL(-EINVAL, "malformed %s reference", k->noun);
		if (!r->file && k->file_required)
			FAIL(-EINVAL, "malformed %s reference, no target provided", k->noun);
		if (!r->file)
			continue;
		if (!r->file->name[0])
			FAIL(-EINVAL,
			     "malformed file %s reference, invalid target file name provided",
			     k->noun);
		for (size_t j = 0; j < i; j++)
			if (v[j].file && strcmp(v[j].file->name, r->file->name) == 0)
				FAIL(-EINVAL,
				     "%s references '%s' and '%s' have a conflicting target: '%s'",
				     k->noun, ref_label(&v[j]), ref_label(r), r->file->name);
	}
	for (size_t i = 0; i < n; i++) {
		const struct ref_view *r = &v[i];
		const void *o = NULL;
		const char *id = "", *name = "";
		if ((*r->id)[0])
			o = store_get(st, k->kind, *r->id);
		else
			store_find_by_name(st, k->kind, *r->name, &o);
		if (o)
			k->ident(o, &id, &name);
		if (!o || ((*r->name)[0] && strcmp(name, *r->name) != 0)) {
			list_add(missing, sizeof(missing), ref_label(r));
			n_missing++;
			continue;
		}
		set_str(r->id, id);
		set_str(r->name, name);
	}
	if (n_missing)
		FAIL(-EINVAL, "%s%s not found: %s", k->noun, n_missing > 1 ? "s" : "", missing);
	return 0;
}

static void secret_ident(const void *obj, const char **id, const char **name)
{
	const Shoal__Secret *s = obj;

	*id = s->meta->id;
	*name = s->spec->annotations->name;
}

static void config_ident(const void *obj, const char **id, const char **name)
{
	const Shoal__Config *s = obj;

	*id = s->meta->id;
	*name = s->spec->annotations->name;
}

static const struct ref_kind secret_refs = {"secret", STORE_SECRET, 1, secret_ident};
static const struct ref_kind config_refs = {"config", STORE_CONFIG, 0, config_ident};

static int validate_secrets_configs(const struct store *st, Shoal__ContainerSpec *c, char *msg,
				    size_t msglen)
{
	size_t n = c->n_secrets > c->n_configs ? c->n_secrets : c->n_configs;
	struct ref_view *v = xcalloc(n ? n : 1, sizeof(*v));
	int rv;

	for (size_t i = 0; i < c->n_secrets; i++)
		v[i] = (struct ref_view){&c->secrets[i]->secret_id, &c->secrets[i]->secret_name,
					 c->secrets[i]->file};
	rv = validate_refs(st, &secret_refs, v, c->n_secrets, msg, msglen);
	for (size_t i = 0; rv == 0 && i < c->n_configs; i++)
		v[i] = (struct ref_view){&c->configs[i]->config_id, &c->configs[i]->config_name,
					 c->configs[i]->file};
	if (rv == 0)
		rv = validate_refs(st, &config_refs, v, c->n_configs, msg, msglen);
	free(v);
	return rv;
}

static int validate_container(const struct store *st, Shoal__ContainerSpec *c, char *msg,
			      size_t msglen)
{
	int rv;

	if (!c->image[0])
		FAIL(-EINVAL, "ContainerSpec: image reference must be provided");
	if (!image_valid(c->image))
		FAIL(-EINVAL, "ContainerSpec: \"%s\" is not a valid repository/tag", c->image);
	if (c->opt_stop_grace_period_case && c->stop_grace_period < 0)
		FAIL(-EINVAL, "ContainerSpec: stop grace period cannot be negative");
	for (size_t i = 0; i < c->n_ulimits; i++)
		if (!c->ulimits[i]->name[0] || c->ulimits[i]->soft > c->ulimits[i]->hard)
			FAIL(-EINVAL, "ContainerSpec: invalid ulimit %s: soft %lld > hard %lld",
			     c->ulimits[i]->name, (long long) c->ulimits[i]->soft,
			     (long long) c->ulimits[i]->hard);
	if ((rv = validate_mounts(c, msg, msglen)) ||
	    (rv = validate_health(c->healthcheck, msg, msglen)) ||
	    (rv = validate_secrets_configs(st, c, msg, msglen)))
		return rv;
	return 0;
}

static int validate_resources(const Shoal__Resources *r, char *msg, size_t msglen)
{
	if (!r)
		return 0;
	if (r->nano_cpus < 0 || (r->nano_cpus != 0 && r->nano_cpus < 1000000))
		FAIL(-EINVAL, "invalid cpu value %g: Must be at least %g",
		     (double) r->nano_cpus / 1e9, 0.001);
	if (r->memory_bytes < 0 || (r->memory_bytes != 0 && r->memory_bytes < 4 * 1024 * 1024))
		FAIL(-EINVAL, "invalid memory value %lld: Must be at least 4MiB",
		     (long long) r->memory_bytes);
	if (r->pids < 0)
		FAIL(-EINVAL, "invalid pids limit %lld: cannot be negative", (long long) r->pids);
	for (size_t i = 0; i < r->n_generic_resources; i++) {
		const Shoal__GenericResource *g = r->generic_resources[i];
		if (g->resource_case == SHOAL__GENERIC_RESOURCE__RESOURCE_DISCRETE_RESOURCE_SPEC &&
		    g->discrete_resource_spec->value < 0)
			FAIL(-EINVAL, "generic resource %s: value cannot be negative",
			     g->discrete_resource_spec->kind);
	}
	return 0;
}

/* swarmkit's constraint grammar: KEY (==|!=) VALUE, key from a fixed set. */
static int constraint_valid(const char *c)
{
	const char *op = strstr(c, "==");
	const char *ne = strstr(c, "!=");
	const char *k;

	if (!op || (ne && ne < op))
		op = ne;
	if (!op || (strstr(op + 2, "==") || strstr(op + 2, "!=")))
		return 0;
	for (k = c; k < op && (*k == ' ' || *k == '\t'); k++)
		;
	if (k == op)
		return 0;
	for (const char *v = op + 2; *v; v++)
		if (*v != ' ' && *v != '\t')
			return 1;
	return 0;
}

static int validate_task(const struct store *st, Shoal__TaskSpec *t, char *msg, size_t msglen)
{
	int rv;

	if (t->network_attachment)
		FAIL(-EINVAL, "ContainerSpec: services with the attachment runtime cannot be "
			      "created");
	if (!t->container)
		FAIL(-EINVAL, "TaskSpec: missing runtime");
	if ((rv = validate_container(st, t->container, msg, msglen)))
		return rv;
	if (t->resources && ((rv = validate_resources(t->resources->limits, msg, msglen)) ||
			     (rv = validate_resources(t->resources->reservations, msg, msglen))))
		return rv;
	if (t->restart) {
		if (t->restart->opt_delay_case && t->restart->delay < 0)
			FAIL(-EINVAL, "TaskSpec: restart-delay cannot be negative");
		if (t->restart->window < 0)
			FAIL(-EINVAL, "TaskSpec: restart-window cannot be negative");
	}
	for (size_t i = 0; t->placement && i < t->placement->n_constraints; i++)
		if (!constraint_valid(t->placement->constraints[i]))
			FAIL(-EINVAL,
			     "invalid constraint %s: constraint expected one operator from "
			     "==, !=",
			     t->placement->constraints[i]);
	for (size_t i = 0; t->placement && i < t->placement->n_preferences; i++) {
		const Shoal__PlacementPreference *p = t->placement->preferences[i];
		if (!p->spread || !p->spread->spread_descriptor[0])
			FAIL(-EINVAL, "placement preference %zu: a spread descriptor is required",
			     i + 1);
	}
	for (size_t i = 0; i < t->n_networks; i++) {
		Shoal__NetworkAttachmentConfig *n = t->networks[i];
		const Shoal__Network *net = NULL;
		if (store_resolve_network(st, n->target, &net, NULL, 0) != 0)
			FAIL(-ENOENT, "network %s not found", n->target);
		if (net->spec && net->spec->ingress)
			FAIL(-EINVAL,
			     "Service cannot be explicitly attached to the ingress network \"%s\"",
			     net->spec->annotations ? net->spec->annotations->name : n->target);
		set_str(&n->target, net->meta->id);
	}
	return 0;
}

static int validate_update(const Shoal__UpdateConfig *u, const char *what, char *msg, size_t msglen)
{
	if (!u)
		return 0;
	if (u->delay < 0)
		FAIL(-EINVAL, "TaskSpec: %s-delay cannot be negative", what);
	if (u->monitor < 0)
		FAIL(-EINVAL, "TaskSpec: %s-monitor cannot be negative", what);
	if (u->max_failure_ratio < 0 || u->max_failure_ratio > 1)
		FAIL(-EINVAL, "TaskSpec: %s-maxfailureratio cannot be less than 0 or bigger than 1",
		     what);
	return 0;
}

static int validate_endpoint(const Shoal__EndpointSpec *e, char *msg, size_t msglen)
{
	if (!e)
		return 0;
	for (size_t i = 0; i < e->n_ports; i++) {
		const Shoal__PortConfig *p = e->ports[i];
		if (e->mode == SHOAL__ENDPOINT_SPEC__MODE__DNSRR &&
		    p->publish_mode == SHOAL__PORT_CONFIG__PUBLISH_MODE__INGRESS)
			FAIL(-EINVAL,
			     "EndpointSpec: port published with ingress mode can't be used "
			     "with dnsrr mode");
		if (p->target_port == 0 || p->target_port > 65535 || p->published_port > 65535)
			FAIL(-EINVAL, "EndpointSpec: invalid port %u:%u", p->published_port,
			     p->target_port);
		if (p->publish_mode != SHOAL__PORT_CONFIG__PUBLISH_MODE__INGRESS ||
		    !p->published_port)
			continue;
		for (size_t k = 0; k < i; k++) {
			const Shoal__PortConfig *q = e->ports[k];
			if (q->publish_mode == SHOAL__PORT_CONFIG__PUBLISH_MODE__INGRESS &&
			    q->published_port == p->published_port && q->protocol == p->protocol)
				FAIL(-EINVAL, "EndpointSpec: duplicate published ports provided");
		}
	}
	return 0;
}

int ctl_service_spec_validate(const struct store *st, Shoal__ServiceSpec *s, char *msg,
			      size_t msglen)
{
	const char *name = s->annotations ? s->annotations->name : "";
	int rv;

	if (!name[0])
		FAIL(-EINVAL, "meta: name must be provided");
	if (!ctl_service_name_valid(name))
		FAIL(-EINVAL, "name must be valid as a DNS name component");
	if (strlen(name) > 63)
		FAIL(-EINVAL, "name must be 63 characters or fewer");
	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE__NOT_SET)
		FAIL(-EINVAL, "Unrecognized service mode");
	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED &&
	    s->replicated->replicas > INT64_MAX)
		FAIL(-EINVAL, "Number of replicas must be non-negative");
	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB &&
	    (s->replicated_job->max_concurrent > INT64_MAX))
		FAIL(-EINVAL, "Maximum concurrent jobs must not be negative");
	if (s->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB &&
	    (s->replicated_job->total_completions > INT64_MAX))
		FAIL(-EINVAL, "Total completed jobs must not be negative");
	if (!s->task)
		FAIL(-EINVAL, "TaskSpec: missing runtime");
	if ((rv = validate_task(st, s->task, msg, msglen)) ||
	    (rv = validate_update(s->update, "update", msg, msglen)) ||
	    (rv = validate_update(s->rollback, "rollback", msg, msglen)) ||
	    (rv = validate_endpoint(s->endpoint, msg, msglen)))
		return rv;
	return 0;
}
