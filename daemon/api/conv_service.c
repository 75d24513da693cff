/* conv: services as the Engine API shows them (GET /services, /services/{id})
 * and the TaskTemplate shared with tasks.
 *
 * Shapes follow moby's api/types/swarm and its convert package: Go's
 * omitempty fields are left out when zero, pointer fields when absent, so
 * that what the docker CLI reads back and posts again is what was stored. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "daemon/api/conv.h"
#include "daemon/api/conv_int.h"

const char *const conv_mount_types[] = {"bind", "volume", "tmpfs", "npipe", NULL};
const char *const conv_propagations[] = {"rprivate", "private", "rshared", "shared",
					 "rslave",   "slave",	NULL};
const char *const conv_restart_conditions[] = {"none", "on-failure", "any", NULL};
const char *const conv_failure_actions[] = {"pause", "continue", "rollback", NULL};
const char *const conv_update_orders[] = {"stop-first", "start-first", NULL};
const char *const conv_endpoint_modes[] = {"vip", "dnsrr", NULL};
const char *const conv_protocols[] = {"tcp", "udp", "sctp", NULL};
const char *const conv_publish_modes[] = {"ingress", "host", NULL};

/* Name of value `v` in a NULL-terminated table, "" when out of range. */
static const char *enum_name(const char *const *names, int v)
{
	for (int i = 0; names[i]; i++)
		if (i == v)
			return names[i];
	return "";
}
#define NAME(tbl, v) enum_name(tbl, (int) (v))

json_t *conv_meta_fields(json_t *o, const Shoal__Meta *m)
{
	char t[40];

	json_object_set_new(o, "ID", json_string(m ? m->id : ""));
	json_object_set_new(o, "Version",
			    json_pack("{s:I}", "Index", (json_int_t) (m ? m->version : 0)));
	conv_time(m ? m->created_at : 0, t);
	json_object_set_new(o, "CreatedAt", json_string(t));
	conv_time(m ? m->updated_at : 0, t);
	json_object_set_new(o, "UpdatedAt", json_string(t));
	return o;
}

/* ------------------------------------------------------------------------ */
/* Small emitters: each leaves the key out when Go's omitempty would.        */

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v && v[0])
		json_object_set_new(o, k, json_string(v));
}

static void put_int(json_t *o, const char *k, int64_t v)
{
	if (v)
		json_object_set_new(o, k, json_integer((json_int_t) v));
}

static void put_true(json_t *o, const char *k, int v)
{
	if (v)
		json_object_set_new(o, k, json_true());
}

static void put_strv(json_t *o, const char *k, char **v, size_t n)
{
	json_t *a;

	if (!n)
		return;
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	json_object_set_new(o, k, a);
}

/* map<string,string> entries share the labels entry layout. */
static json_t *map_json(size_t n, void *entries)
{
	return conv_labels_json(n, entries);
}

static void put_map(json_t *o, const char *k, size_t n, void *entries)
{
	if (n)
		json_object_set_new(o, k, map_json(n, entries));
}

static json_t *driver_json(const Shoal__Driver *d)
{
	json_t *o = json_object();

	put_str(o, "Name", d->name);
	put_map(o, "Options", d->n_options, d->options);
	return o;
}

/* ------------------------------------------------------------------------ */
/* ContainerSpec                                                             */

static json_t *mount_json(const Shoal__Mount *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "Type", json_string(NAME(conv_mount_types, m->type)));
	put_str(o, "Source", m->source);
	put_str(o, "Target", m->target);
	put_true(o, "ReadOnly", m->read_only);
	put_str(o, "Consistency", m->consistency);
	if (m->bind_options) {
		json_t *b = json_object();
		json_object_set_new(
		    b, "Propagation",
		    json_string(NAME(conv_propagations, m->bind_options->propagation)));
		put_true(b, "NonRecursive", m->bind_options->non_recursive);
		json_object_set_new(o, "BindOptions", b);
	}
	if (m->volume_options) {
		json_t *v = json_object();
		put_true(v, "NoCopy", m->volume_options->no_copy);
		put_map(v, "Labels", m->volume_options->n_labels, m->volume_options->labels);
		if (m->volume_options->driver_config)
			json_object_set_new(v, "DriverConfig",
					    driver_json(m->volume_options->driver_config));
		json_object_set_new(o, "VolumeOptions", v);
	}
	if (m->tmpfs_options) {
		json_t *t = json_object();
		put_int(t, "SizeBytes", m->tmpfs_options->size_bytes);
		put_int(t, "Mode", m->tmpfs_options->mode);
		json_object_set_new(o, "TmpfsOptions", t);
	}
	return o;
}

static json_t *file_json(const Shoal__FileTarget *f)
{
	return json_pack("{s:s,s:s,s:s,s:I}", "Name", f->name, "UID", f->uid, "GID", f->gid, "Mode",
			 (json_int_t) f->mode);
}

static json_t *container_json(const Shoal__ContainerSpec *c)
{
	json_t *o = json_object(), *a;

	put_str(o, "Image", c->image);
	put_map(o, "Labels", c->n_labels, c->labels);
	put_strv(o, "Command", c->command, c->n_command);
	put_strv(o, "Args", c->args, c->n_args);
	put_str(o, "Hostname", c->hostname);
	put_strv(o, "Env", c->env, c->n_env);
	put_str(o, "Dir", c->dir);
	put_str(o, "User", c->user);
	put_strv(o, "Groups", c->groups, c->n_groups);
	put_true(o, "Init", c->init);
	put_str(o, "StopSignal", c->stop_signal);
	put_true(o, "TTY", c->tty);
	put_true(o, "OpenStdin", c->open_stdin);
	put_true(o, "ReadOnly", c->read_only);
	if (c->n_mounts) {
		a = json_array();
		for (size_t i = 0; i < c->n_mounts; i++)
			json_array_append_new(a, mount_json(c->mounts[i]));
		json_object_set_new(o, "Mounts", a);
	}
	if (c->opt_stop_grace_period_case)
		json_object_set_new(o, "StopGracePeriod",
				    json_integer((json_int_t) c->stop_grace_period));
	if (c->healthcheck) {
		json_t *h = json_object();
		put_strv(h, "Test", c->healthcheck->test, c->healthcheck->n_test);
		put_int(h, "Interval", c->healthcheck->interval);
		put_int(h, "Timeout", c->healthcheck->timeout);
		put_int(h, "StartPeriod", c->healthcheck->start_period);
		put_int(h, "Retries", c->healthcheck->retries);
		json_object_set_new(o, "Healthcheck", h);
	}
	put_strv(o, "Hosts", c->hosts, c->n_hosts);
	if (c->dns_config) {
		json_t *d = json_object();
		put_strv(d, "Nameservers", c->dns_config->nameservers,
			 c->dns_config->n_nameservers);
		put_strv(d, "Search", c->dns_config->search, c->dns_config->n_search);
		put_strv(d, "Options", c->dns_config->options, c->dns_config->n_options);
		json_object_set_new(o, "DNSConfig", d);
	}
	if (c->n_secrets) {
		a = json_array();
		for (size_t i = 0; i < c->n_secrets; i++) {
			const Shoal__SecretReference *r = c->secrets[i];
			json_t *s = json_object();
			if (r->file)
				json_object_set_new(s, "File", file_json(r->file));
			json_object_set_new(s, "SecretID", json_string(r->secret_id));
			json_object_set_new(s, "SecretName", json_string(r->secret_name));
			json_array_append_new(a, s);
		}
		json_object_set_new(o, "Secrets", a);
	}
	if (c->n_configs) {
		a = json_array();
		for (size_t i = 0; i < c->n_configs; i++) {
			const Shoal__ConfigReference *r = c->configs[i];
			json_t *s = json_object();
			if (r->file)
				json_object_set_new(s, "File", file_json(r->file));
			else
				json_object_set_new(s, "Runtime", json_object());
			json_object_set_new(s, "ConfigID", json_string(r->config_id));
			json_object_set_new(s, "ConfigName", json_string(r->config_name));
			json_array_append_new(a, s);
		}
		json_object_set_new(o, "Configs", a);
	}
	json_object_set_new(o, "Isolation",
			    json_string(c->isolation[0] ? c->isolation : "default"));
	put_map(o, "Sysctls", c->n_sysctls, c->sysctls);
	put_strv(o, "CapabilityAdd", c->capability_add, c->n_capability_add);
	put_strv(o, "CapabilityDrop", c->capability_drop, c->n_capability_drop);
	if (c->n_ulimits) {
		a = json_array();
		for (size_t i = 0; i < c->n_ulimits; i++)
			json_array_append_new(a, json_pack("{s:s,s:I,s:I}", "Name",
							   c->ulimits[i]->name, "Hard",
							   (json_int_t) c->ulimits[i]->hard, "Soft",
							   (json_int_t) c->ulimits[i]->soft));
		json_object_set_new(o, "Ulimits", a);
	}
	return o;
}

/* ------------------------------------------------------------------------ */
/* TaskSpec                                                                  */

static json_t *resources_json(const Shoal__Resources *r, int limits)
{
	json_t *o = json_object();

	put_int(o, "NanoCPUs", r->nano_cpus);
	put_int(o, "MemoryBytes", r->memory_bytes);
	if (limits)
		put_int(o, "Pids", r->pids);
	if (!limits && r->n_generic_resources) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_generic_resources; i++) {
			const Shoal__GenericResource *g = r->generic_resources[i];
			json_t *x = json_object(), *y = json_object();
			if (g->resource_case ==
			    SHOAL__GENERIC_RESOURCE__RESOURCE_NAMED_RESOURCE_SPEC) {
				put_str(y, "Kind", g->named_resource_spec->kind);
				put_str(y, "Value", g->named_resource_spec->value);
				json_object_set_new(x, "NamedResourceSpec", y);
			} else if (g->resource_case ==
				   SHOAL__GENERIC_RESOURCE__RESOURCE_DISCRETE_RESOURCE_SPEC) {
				put_str(y, "Kind", g->discrete_resource_spec->kind);
				put_int(y, "Value", g->discrete_resource_spec->value);
				json_object_set_new(x, "DiscreteResourceSpec", y);
			} else
				json_decref(y);
			json_array_append_new(a, x);
		}
		json_object_set_new(o, "GenericResources", a);
	}
	return o;
}

static json_t *networks_json(size_t n, Shoal__NetworkAttachmentConfig **nets)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		put_str(o, "Target", nets[i]->target);
		put_strv(o, "Aliases", nets[i]->aliases, nets[i]->n_aliases);
		put_map(o, "DriverOpts", nets[i]->n_driver_attachment_opts,
			nets[i]->driver_attachment_opts);
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *placement_json(const Shoal__Placement *p)
{
	json_t *o = json_object(), *a;

	put_strv(o, "Constraints", p->constraints, p->n_constraints);
	if (p->n_preferences) {
		a = json_array();
		for (size_t i = 0; i < p->n_preferences; i++)
			json_array_append_new(
			    a, p->preferences[i]->spread
				   ? json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor",
					       p->preferences[i]->spread->spread_descriptor)
				   : json_object());
		json_object_set_new(o, "Preferences", a);
	}
	put_int(o, "MaxReplicas", (int64_t) p->max_replicas);
	if (p->n_platforms) {
		a = json_array();
		for (size_t i = 0; i < p->n_platforms; i++)
			json_array_append_new(a, json_pack("{s:s,s:s}", "Architecture",
							   p->platforms[i]->architecture, "OS",
							   p->platforms[i]->os));
		json_object_set_new(o, "Platforms", a);
	}
	return o;
}

json_t *conv_task_spec_json(const Shoal__TaskSpec *t)
{
	json_t *o = json_object();

	if (!t) {
		json_object_set_new(o, "ContainerSpec", json_object());
		json_object_set_new(o, "ForceUpdate", json_integer(0));
		return o;
	}
	if (t->container)
		json_object_set_new(o, "ContainerSpec", container_json(t->container));
	if (t->network_attachment)
		json_object_set_new(
		    o, "NetworkAttachmentSpec",
		    json_pack("{s:s}", "ContainerID", t->network_attachment->container_id));
	if (t->resources) {
		json_t *r = json_object();
		if (t->resources->limits)
			json_object_set_new(r, "Limits", resources_json(t->resources->limits, 1));
		if (t->resources->reservations)
			json_object_set_new(r, "Reservations",
					    resources_json(t->resources->reservations, 0));
		json_object_set_new(o, "Resources", r);
	}
	if (t->restart) {
		json_t *r = json_object();
		json_object_set_new(
		    r, "Condition",
		    json_string(NAME(conv_restart_conditions, t->restart->condition)));
		if (t->restart->opt_delay_case)
			json_object_set_new(r, "Delay", json_integer(t->restart->delay));
		json_object_set_new(r, "MaxAttempts",
				    json_integer((json_int_t) t->restart->max_attempts));
		put_int(r, "Window", t->restart->window);
		json_object_set_new(o, "RestartPolicy", r);
	}
	if (t->placement)
		json_object_set_new(o, "Placement", placement_json(t->placement));
	if (t->n_networks)
		json_object_set_new(o, "Networks", networks_json(t->n_networks, t->networks));
	if (t->log_driver)
		json_object_set_new(o, "LogDriver", driver_json(t->log_driver));
	json_object_set_new(o, "ForceUpdate", json_integer((json_int_t) t->force_update));
	json_object_set_new(o, "Runtime",
			    json_string(t->runtime[0]		? t->runtime
					: t->network_attachment ? "attachment"
								: "container"));
	return o;
}

/* ------------------------------------------------------------------------ */
/* ServiceSpec, Service                                                      */

json_t *conv_port_json(const Shoal__PortConfig *p)
{
	json_t *o = json_object();

	put_str(o, "Name", p->name);
	json_object_set_new(o, "Protocol", json_string(NAME(conv_protocols, p->protocol)));
	put_int(o, "TargetPort", p->target_port);
	put_int(o, "PublishedPort", p->published_port);
	json_object_set_new(o, "PublishMode",
			    json_string(NAME(conv_publish_modes, p->publish_mode)));
	return o;
}

static json_t *update_json(const Shoal__UpdateConfig *u)
{
	json_t *o = json_object();

	json_object_set_new(o, "Parallelism", json_integer((json_int_t) u->parallelism));
	put_int(o, "Delay", u->delay);
	json_object_set_new(o, "FailureAction",
			    json_string(NAME(conv_failure_actions, u->failure_action)));
	put_int(o, "Monitor", u->monitor);
	json_object_set_new(o, "MaxFailureRatio", json_real(u->max_failure_ratio));
	json_object_set_new(o, "Order", json_string(NAME(conv_update_orders, u->order)));
	return o;
}

static json_t *endpoint_spec_json(const Shoal__EndpointSpec *e)
{
	json_t *o = json_object();

	if (!e)
		return o;
	json_object_set_new(o, "Mode", json_string(NAME(conv_endpoint_modes, e->mode)));
	if (e->n_ports) {
		json_t *a = json_array();
		for (size_t i = 0; i < e->n_ports; i++)
			json_array_append_new(a, conv_port_json(e->ports[i]));
		json_object_set_new(o, "Ports", a);
	}
	return o;
}

static json_t *mode_json(const Shoal__ServiceSpec *s)
{
	switch (s->mode_case) {
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL:
		return json_pack("{s:{}}", "Global");
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB:
		return json_pack("{s:{s:I,s:I}}", "ReplicatedJob", "MaxConcurrent",
				 (json_int_t) s->replicated_job->max_concurrent, "TotalCompletions",
				 (json_int_t) s->replicated_job->total_completions);
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB:
		return json_pack("{s:{}}", "GlobalJob");
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED:
		return json_pack("{s:{s:I}}", "Replicated", "Replicas",
				 (json_int_t) s->replicated->replicas);
	default:
		return json_object();
	}
}

json_t *conv_service_spec_json(const Shoal__ServiceSpec *s)
{
	json_t *o = json_object();
	const Shoal__Annotations *a = s->annotations;

	if (a)
		put_str(o, "Name", a->name);
	json_object_set_new(o, "Labels",
			    a ? conv_labels_json(a->n_labels, a->labels) : json_object());
	json_object_set_new(o, "TaskTemplate", conv_task_spec_json(s->task));
	json_object_set_new(o, "Mode", mode_json(s));
	if (s->update)
		json_object_set_new(o, "UpdateConfig", update_json(s->update));
	if (s->rollback)
		json_object_set_new(o, "RollbackConfig", update_json(s->rollback));
	if (s->n_networks)
		json_object_set_new(o, "Networks", networks_json(s->n_networks, s->networks));
	if (s->endpoint)
		json_object_set_new(o, "EndpointSpec", endpoint_spec_json(s->endpoint));
	return o;
}

static const char *update_state_name(Shoal__UpdateStatus__State s)
{
	static const char *const names[] = {"",
					    "updating",
					    "paused",
					    "completed",
					    "rollback_started",
					    "rollback_paused",
					    "rollback_completed"};
	return (unsigned) s < sizeof(names) / sizeof(names[0]) ? names[s] : "";
}

json_t *conv_service_json(const Shoal__Service *s, const Shoal__ServiceStatus *status)
{
	json_t *o = conv_meta_fields(json_object(), s->meta), *ep = json_object();
	char t[40];

	json_object_set_new(o, "Spec", s->spec ? conv_service_spec_json(s->spec) : json_object());
	if (s->previous_spec)
		json_object_set_new(o, "PreviousSpec", conv_service_spec_json(s->previous_spec));
	json_object_set_new(ep, "Spec", endpoint_spec_json(s->endpoint ? s->endpoint->spec : NULL));
	if (s->endpoint && s->endpoint->n_ports) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->endpoint->n_ports; i++)
			json_array_append_new(a, conv_port_json(s->endpoint->ports[i]));
		json_object_set_new(ep, "Ports", a);
	}
	if (s->endpoint && s->endpoint->n_virtual_ips) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->endpoint->n_virtual_ips; i++)
			json_array_append_new(a,
					      json_pack("{s:s,s:s}", "NetworkID",
							s->endpoint->virtual_ips[i]->network_id,
							"Addr", s->endpoint->virtual_ips[i]->addr));
		json_object_set_new(ep, "VirtualIPs", a);
	}
	json_object_set_new(o, "Endpoint", ep);
	if (s->update_status && s->update_status->state) {
		json_t *u = json_object();
		put_str(u, "State", update_state_name(s->update_status->state));
		if (s->update_status->started_at) {
			conv_time(s->update_status->started_at, t);
			json_object_set_new(u, "StartedAt", json_string(t));
		}
		if (s->update_status->completed_at) {
			conv_time(s->update_status->completed_at, t);
			json_object_set_new(u, "CompletedAt", json_string(t));
		}
		put_str(u, "Message", s->update_status->message);
		json_object_set_new(o, "UpdateStatus", u);
	}
	if (status)
		json_object_set_new(o, "ServiceStatus",
				    json_pack("{s:I,s:I,s:I}", "RunningTasks",
					      (json_int_t) status->running_tasks, "DesiredTasks",
					      (json_int_t) status->desired_tasks, "CompletedTasks",
					      (json_int_t) status->completed_tasks));
	if (s->job_status) {
		json_t *j = json_pack("{s:{s:I}}", "JobIteration", "Index",
				      (json_int_t) (s->job_status->job_iteration
							? s->job_status->job_iteration->index
							: 0));
		if (s->job_status->last_execution) {
			conv_time(s->job_status->last_execution, t);
			json_object_set_new(j, "LastExecution", json_string(t));
		}
		json_object_set_new(o, "JobStatus", j);
	}
	return o;
}

/* ------------------------------------------------------------------------ */
/* Names for services created without one (moby: namesgenerator).           */

static const char *const adjectives[] = {
    "agile",  "bold",	"brave",   "bright", "calm",   "clever", "cosmic", "crisp",
    "eager",  "fierce", "gentle",  "happy",  "humble", "jolly",	 "keen",   "lucid",
    "mellow", "nimble", "patient", "quick",  "quiet",  "serene", "sharp",  "steady",
    "sturdy", "swift",	"tender",  "vivid",  "wise",   "witty",	 "zealous"};
static const char *const names[] = {
    "anchovy",	"barracuda", "carp",	"cod",	    "dolphin", "eel",	  "flounder", "grouper",
    "haddock",	"halibut",   "herring", "mackerel", "marlin",  "minnow",  "perch",    "pike",
    "pollock",	"salmon",    "sardine", "shad",	    "smelt",   "snapper", "sole",     "sprat",
    "sturgeon", "tarpon",    "trout",	"tuna",	    "turbot",  "wahoo",	  "whiting"};

void conv_service_random_name(char *out, size_t cap)
{
	snprintf(out, cap, "%s_%s",
		 adjectives[randombytes_uniform(sizeof(adjectives) / sizeof(adjectives[0]))],
		 names[randombytes_uniform(sizeof(names) / sizeof(names[0]))]);
}
