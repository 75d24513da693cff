/* What the `shoal service ...` files share (cli-internal).
 *
 * service.c          command table; ls, inspect (--pretty), rm, scale, rollback
 * service_opts.c     flag values -> API JSON: ports, mounts, secret and config
 *                    references, env, hosts, resources, restart/update policy
 * service_create.c   create's flag table and ServiceSpec builder (docker's
 *                    ToService), name -> ID resolution, image digest query
 * service_update.c   update: the create flags plus the -add and -rm pairs
 * service_ps.c       ps (task table with slot names and history rows)
 * service_logs.c     logs (stdcopy frames, task/node prefixes)
 * service_progress.c the convergence display create/update/scale wait on */
#ifndef SHOAL_CLI_SERVICE_H
#define SHOAL_CLI_SERVICE_H

#include <jansson.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/flag.h"

/* Polling period of the progress display (docker's 200 ms). */
#define CLI_SVC_POLL_MS 200

/* Every value a create or update command line can carry. Lists own their
 * strings (cli_svc_opts_free releases them). */
struct cli_svc_opts {
	int detach, quiet, init, read_only, tty, no_healthcheck, registry_auth, no_resolve;
	const char *name, *mode, *workdir, *user, *hostname, *entrypoint, *stop_signal;
	const char *endpoint_mode, *image, *log_driver, *health_cmd;
	const char *limit_cpu, *limit_mem, *reserve_cpu, *reserve_mem;
	const char *restart_condition, *update_failure_action, *update_order;
	const char *update_max_failure_ratio, *rollback_failure_action, *rollback_order;
	const char *rollback_max_failure_ratio;
	uint64_t replicas, max_replicas, restart_max_attempts, update_parallelism;
	uint64_t rollback_parallelism, max_concurrent;
	int64_t health_retries, stop_grace, restart_delay, restart_window, update_delay;
	int64_t update_monitor, rollback_delay, rollback_monitor, health_interval;
	int64_t health_timeout, health_start_period;
	struct cli_strv labels, container_labels, env, env_file, mounts, constraints, prefs;
	struct cli_strv networks, secrets, configs, publish, groups, dns, dns_option, dns_search;
	struct cli_strv hosts, log_opts;
	/* update only: --image is `image`; the *-add lists reuse the lists above */
	int force, rollback;
	const char *args;
	struct cli_strv rm_labels, rm_container_labels, rm_env, rm_mounts, rm_constraints;
	struct cli_strv rm_prefs, rm_networks, rm_secrets, rm_configs, rm_publish, rm_groups;
	struct cli_strv rm_dns, rm_dns_option, rm_dns_search, rm_hosts;
};

/* Sets docker's flag defaults ("" strings, mode replicated, endpoint vip,
 * parallelism 1). */
void cli_svc_opts_init(struct cli_svc_opts *o);
void cli_svc_opts_free(struct cli_svc_opts *o);

/* Fills `flags` (room for CLI_SVC_MAX_FLAGS entries, {NULL}-terminated) with
 * the flags `service create` (update = 0) or `service update` (update = 1)
 * share, pointing into `o`. Returns the number of flags written. */
#define CLI_SVC_MAX_FLAGS 120
size_t cli_svc_flags(struct cli_svc_opts *o, struct cli_flag *flags, int update);

/* Checks every list value (ports, mounts, secrets, env, labels, DNS, hosts,
 * placement preferences, enums) the way docker's flag types do. On a bad
 * value sets docker's "invalid argument ... for ... flag: why" error (exit
 * 125) and returns -EINVAL. */
int cli_svc_validate(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags);

/* ------------------------------------------------------------------------ */
/* Value converters (service_opts.c). Each returns 0 or -EINVAL with the
 * reason (docker's wording, no flag name) in err. New references in *out. */

int cli_svc_port(const char *v, json_t **out, char *err, size_t errlen);
int cli_svc_mount(const char *v, json_t **out, char *err, size_t errlen);
/* --secret / --config: short "name" or "source=,target=,uid=,gid=,mode=".
 * Produces {"File":{...},"SecretName"|"ConfigName":source} (ID unresolved). */
int cli_svc_file_ref(const char *v, int is_config, json_t **out, char *err, size_t errlen);
/* --network: "name" or "name=x,alias=a,driver-opt=k=v" -> attachment. */
int cli_svc_network(const char *v, json_t **out, char *err, size_t errlen);
int cli_svc_pref(const char *v, json_t **out, char *err, size_t errlen);
/* opts.ValidateExtraHost "host:ip" -> "ip host". */
int cli_svc_host(const char *v, char **out, char *err, size_t errlen);
/* opts.NanoCPUs ("1.5" -> 1500000000) and opts.MemBytes (units.RAMInBytes). */
int cli_svc_nano_cpus(const char *v, int64_t *out, char *err, size_t errlen);
int cli_svc_ram_bytes(const char *v, int64_t *out, char *err, size_t errlen);
/* ReadKVEnvStrings of --env-file files then -e values, K alone taken from
 * the environment, later duplicates replacing earlier ones (docker's
 * makeEnv). Appends to `out`. */
int cli_svc_env(const struct cli_strv *files, const struct cli_strv *env, struct cli_strv *out,
		char *err, size_t errlen);
/* Sets an "invalid argument" flag error (exit 125) for flag `name`. */
int cli_svc_flag_error(struct cli_ctx *ctx, struct cli_flag *flags, const char *name,
		       const char *value, const char *why);

/* ------------------------------------------------------------------------ */
/* Spec building and API helpers (service_create.c)                          */

/* Builds the ServiceSpec for `create` from the parsed options, the image
 * and its arguments (docker's ToService, networks resolved to IDs through
 * GET /networks/{name}). *spec is a new reference. */
int cli_svc_build_spec(struct cli_ctx *ctx, struct cli_svc_opts *o, struct cli_flag *flags,
		       const char *image, int nargs, char **args, json_t **spec);
/* Resolves SecretName/ConfigName of each reference in `refs` (borrowed
 * array) to IDs: GET /secrets|/configs?filters={"name":{...}}. Errors:
 * "secret not found: x", "duplicate secret target for x not allowed". */
int cli_svc_resolve_refs(struct cli_ctx *ctx, json_t *refs, int is_config);
/* Adds ":latest" to an untagged, undigested reference (docker's
 * imageWithTagString). Caller frees. */
char *cli_svc_tagged_image(const char *image);
/* The moby client's resolveContainerSpecImage: GET /distribution/IMG/json;
 * on success pins the digest and sets Placement.Platforms and returns NULL;
 * on failure returns docker's "could not be accessed on a registry"
 * warning (caller frees; printed after the create/update reply). */
char *cli_svc_resolve_image(struct cli_ctx *ctx, json_t *spec);
/* Prints the Warnings array of a create/update reply on stderr. */
void cli_svc_print_warnings(struct cli_ctx *ctx, json_t *reply);
/* docker's shlex.Split for --entrypoint/--args. Returns 0 or -EINVAL. */
int cli_svc_shlex(const char *s, json_t **out);

/* GET /services/{ref} (with ?insertDefaults=true when asked). */
int cli_svc_get(struct cli_ctx *ctx, const char *ref, int defaults, json_t **svc);
/* POST /services/{id}/update?[registryAuthFrom=..&][rollback=..&]version=N;
 * prints the reply's warnings on stderr. */
int cli_svc_post_update(struct cli_ctx *ctx, json_t *svc, json_t *spec, const char *rollback,
			const char *auth_from);
/* The same with extra request `headers` ("Name: value\r\n" lines, borrowed; NULL = none). */
int cli_svc_post_update_hdr(struct cli_ctx *ctx, json_t *svc, json_t *spec, const char *rollback,
			    const char *auth_from, const char *headers);

/* --network values as docker sends them: each resolved to its network id (GET
 * /networks/{name}), sorted by target. *out is a new array, set even on error. */
int cli_svc_networks(struct cli_ctx *ctx, const struct cli_strv *nets, json_t **out);

/* --with-registry-auth (service_auth.c): the "X-Registry-Auth: ...\r\n" header line for
 * `image`, from the docker config file's credentials for its registry, or the empty auth
 * ("{}") when there are none. Never fails; caller frees. */
char *cli_svc_registry_auth(const char *image);
/* cli_api() with extra request `headers` (borrowed; NULL = plain cli_api). *out as cli_api. */
int cli_svc_api_headers(struct cli_ctx *ctx, const char *method, const char *path,
			const char *query, json_t *body, const char *headers, json_t **out);

/* ------------------------------------------------------------------------ */
/* Display helpers                                                           */

/* stringid.TruncateID: the first 12 characters. Writes into out[13]. */
void cli_svc_trunc_id(const char *id, char *out);
/* Image for display: "name:tag@digest" loses its digest (docker's
 * ParseNormalizedNamed + WithTag). Caller frees. */
char *cli_svc_display_image(const char *image);
/* command.PrettyPrint: first letter upper, rest lower. */
void cli_svc_pretty(const char *s, char *out, size_t n);

/* ------------------------------------------------------------------------ */
/* Commands in other files                                                   */

int cli_service_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_service_update(struct cli_ctx *ctx, int argc, char **argv);
int cli_service_ps(struct cli_ctx *ctx, int argc, char **argv);
/* `node ps [NODE...]` (default self): the tasks on those nodes, as service ps prints them. */
int cli_node_ps(struct cli_ctx *ctx, int argc, char **argv);
/* GET /nodes/{ref} with "self" resolved through /info; *out is a new reference. */
int cli_node_get(struct cli_ctx *ctx, const char *ref, json_t **out);
int cli_service_logs(struct cli_ctx *ctx, int argc, char **argv);

/* Shows convergence of service `id` like docker's WaitOnService until it
 * converged (0), failed (negative, error set) or Ctrl-C (0, service left
 * running). quiet suppresses the display. */
int cli_service_wait(struct cli_ctx *ctx, const char *id, int quiet);

#endif
