/* `shoal service update` and `service rollback` against a fake Engine API: the -add/-rm flags
 * change the posted spec as docker's do, --with-registry-auth sends X-Registry-Auth from the
 * docker config, and the progress shows rollbacks and pauses as docker does. */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_cli_fake.h"

#define SVC1  "kp3r2ujxn1ma4vnldpqqfamtg"
#define NODE1 "n1x7f6kwzd3m0a0q5c8t9u2ve"
#define TASK1 "t1aaaaaaaaaaaaaaaaaaaaaaa"
#define TASK2 "t2bbbbbbbbbbbbbbbbbbbbbbb"

static struct fake_server srv;
static char cfgdir[64];

static void setup(void)
{
	fake_start(&srv);
	cfgdir[0] = '\0';
}

static void teardown(void)
{
	char p[128];

	if (cfgdir[0]) {
		snprintf(p, sizeof(p), "%s/config.json", cfgdir);
		unlink(p);
		rmdir(cfgdir);
	}
	unsetenv("DOCKER_CONFIG");
	fake_stop(&srv);
}

TestSuite(cli_service_update, .init = setup, .fini = teardown, .timeout = 30);

static json_t *req_json(size_t i)
{
	json_error_t e;
	json_t *j = json_loads(fake_req(&srv, i)->body, 0, &e);

	cr_assert(j, "request #%zu body is not JSON: %s", i, fake_req(&srv, i)->body);
	return j;
}

static void expect_json(json_t *root, const char *path, const char *want_json)
{
	json_error_t e;
	json_t *want = json_loads(want_json, JSON_DECODE_ANY, &e), *v = root;
	char key[128], *got;
	const char *p = path;

	cr_assert(want, "bad expectation %s", want_json);
	while (v && *p) {
		size_t n = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int) n, p);
		v = json_is_array(v) ? json_array_get(v, (size_t) atoi(key))
				     : json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	cr_expect(v && json_equal(v, want), "%s: got %s, want %s", path, got ? got : "(absent)",
		  want_json);
	free(got);
	json_decref(want);
}

static const char rich_svc[] =
    "{\"ID\":\"" SVC1 "\",\"Version\":{\"Index\":7},\"Spec\":{\"Name\":\"web\","
    "\"Labels\":{\"gone\":\"x\",\"keep\":\"y\"},"
    "\"Mode\":{\"Replicated\":{\"Replicas\":2}},"
    "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:latest\","
    "\"Env\":[\"OLD=1\",\"KEEP=2\"],\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/old\"}],"
    "\"Hosts\":[\"10.0.0.1 old\",\"10.0.0.2 stay\"],"
    "\"Healthcheck\":{\"Test\":[\"NONE\"]}},"
    "\"Placement\":{\"Constraints\":[\"node.labels.x==1\"],"
    "\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.rack\"}}]},"
    "\"ForceUpdate\":3},"
    "\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":90,"
    "\"PublishedPort\":9090,\"PublishMode\":\"ingress\"}]}}}";

Test(cli_service_update, add_and_rm_flags_change_the_posted_spec)
{
	struct cli_run r;
	json_t *b;

	fake_route(&srv, "GET", "/v1.41/services/web", 200, rich_svc);
	fake_route(&srv, "POST", "/v1.41/services/" SVC1 "/update", 200, "{\"Warnings\":null}");
	run_cli(&srv, &r, NULL, "service", "update", "-d", "--no-resolve-image", "--env-add", "K=V",
		"--env-rm", "OLD", "--label-add", "a=1", "--label-rm", "gone", "--constraint-add",
		"node.role==worker", "--constraint-rm", "node.labels.x==1", "--publish-add",
		"8080:80", "--publish-rm", "9090", "--placement-pref-add",
		"spread=node.labels.zone", "--placement-pref-rm", "spread=node.labels.rack",
		"--mount-add", "type=tmpfs,target=/t", "--mount-rm", "/old", "--dns-add", "1.1.1.1",
		"--host-add", "h:10.0.0.9", "--host-rm", "old", "--group-add", "wheel",
		"--entrypoint", "sh -c", "--health-cmd", "true", "--update-max-failure-ratio",
		"0.5", "--log-driver", "json-file", "--log-opt", "max-size=1m", "--force",
		"--image", "busybox:2", "--update-parallelism", "2", "--update-delay", "1s",
		"--update-failure-action", "rollback", "--update-order", "start-first",
		"--rollback-monitor", "2s", "--stop-grace-period", "3s", "--endpoint-mode", "dnsrr",
		"--replicas", "6", "--reserve-memory", "64M", "--limit-cpu", "0.5",
		"--restart-condition", "on-failure", "web", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "web\n");
	expect_req(&srv, 1, "POST", "/v1.41/services/" SVC1 "/update",
		   "registryAuthFrom=spec&version=7");
	b = req_json(1);
	expect_json(b, "TaskTemplate.ContainerSpec.Env", "[\"K=V\",\"KEEP=2\"]");
	expect_json(b, "Labels", "{\"a\":\"1\",\"keep\":\"y\"}");
	expect_json(b, "TaskTemplate.Placement.Constraints", "[\"node.role==worker\"]");
	expect_json(b, "TaskTemplate.Placement.Preferences",
		    "[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.zone\"}}]");
	expect_json(b, "EndpointSpec.Ports",
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		    "\"PublishMode\":\"ingress\"}]");
	expect_json(b, "EndpointSpec.Mode", "\"dnsrr\"");
	expect_json(b, "TaskTemplate.ContainerSpec.Mounts.0.Target", "\"/t\"");
	cr_expect_eq(
	    json_array_size(json_object_get(
		json_object_get(json_object_get(b, "TaskTemplate"), "ContainerSpec"), "Mounts")),
	    1, "/old removed");
	expect_json(b, "TaskTemplate.ContainerSpec.DNSConfig.Nameservers", "[\"1.1.1.1\"]");
	expect_json(b, "TaskTemplate.ContainerSpec.Hosts", "[\"10.0.0.2 stay\",\"10.0.0.9 h\"]");
	expect_json(b, "TaskTemplate.ContainerSpec.Groups", "[\"wheel\"]");
	expect_json(b, "TaskTemplate.ContainerSpec.Command", "[\"sh\",\"-c\"]");
	expect_json(b, "TaskTemplate.ContainerSpec.Healthcheck",
		    "{\"Test\":[\"CMD-SHELL\",\"true\"]}");
	expect_json(b, "TaskTemplate.ContainerSpec.Image", "\"busybox:2\"");
	expect_json(b, "TaskTemplate.ContainerSpec.StopGracePeriod", "3000000000");
	expect_json(b, "TaskTemplate.LogDriver",
		    "{\"Name\":\"json-file\",\"Options\":{\"max-size\":\"1m\"}}");
	expect_json(b, "TaskTemplate.ForceUpdate", "4");
	expect_json(b, "UpdateConfig.MaxFailureRatio", "0.5");
	expect_json(b, "UpdateConfig.Parallelism", "2");
	expect_json(b, "UpdateConfig.Delay", "1000000000");
	expect_json(b, "UpdateConfig.FailureAction", "\"rollback\"");
	expect_json(b, "UpdateConfig.Order", "\"start-first\"");
	expect_json(b, "RollbackConfig.Monitor", "2000000000");
	expect_json(b, "Mode.Replicated.Replicas", "6");
	expect_json(b, "TaskTemplate.Resources.Reservations.MemoryBytes", "67108864");
	expect_json(b, "TaskTemplate.Resources.Limits.NanoCPUs", "500000000");
	expect_json(b, "TaskTemplate.RestartPolicy.Condition", "\"on-failure\"");
	json_decref(b);
	run_free(&r);
}

Test(cli_service_update, no_healthcheck_conflicts_with_health_flags)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/services/web", 200, rich_svc);
	run_cli(&srv, &r, NULL, "service", "update", "-d", "--no-healthcheck", "--health-cmd",
		"true", "web", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "--no-healthcheck conflicts with --health-* options"), "err: %s",
		  r.err);
	for (size_t i = 0; i < srv.nreqs; i++)
		cr_expect_str_neq(srv.reqs[i].method, "POST", "nothing may be posted");
	run_free(&r);
}

/* The X-Registry-Auth header of request i, decoded. */
static json_t *auth_of(size_t i)
{
	const char *h = strstr(fake_req(&srv, i)->headers, "X-Registry-Auth: ");
	char enc[1024];
	unsigned char dec[1024];
	size_t len = 0;
	json_error_t e;

	cr_assert_not_null(h, "no X-Registry-Auth in %s", fake_req(&srv, i)->headers);
	h += strlen("X-Registry-Auth: ");
	snprintf(enc, sizeof(enc), "%.*s", (int) strcspn(h, "\r\n"), h);
	cr_assert_eq(sodium_base642bin(dec, sizeof(dec) - 1, enc, strlen(enc), NULL, &len, NULL,
				       sodium_base64_VARIANT_URLSAFE),
		     0, "not base64url: %s", enc);
	dec[len] = '\0';
	return json_loads((char *) dec, 0, &e);
}

Test(cli_service_update, with_registry_auth_sends_the_docker_config_credentials)
{
	struct cli_run r;
	char path[128];
	FILE *f;
	json_t *a;

	snprintf(cfgdir, sizeof(cfgdir), "/tmp/shoal-dcfg-XXXXXX");
	cr_assert_not_null(mkdtemp(cfgdir));
	snprintf(path, sizeof(path), "%s/config.json", cfgdir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	/* "dTpw" is base64("u:p"). */
	fputs("{\"auths\":{\"https://localhost:5000/v2/\":{\"auth\":\"dTpw\"}}}", f);
	fclose(f);
	setenv("DOCKER_CONFIG", cfgdir, 1);
	fake_route(&srv, "GET", "/v1.41/services/web", 200, rich_svc);
	fake_route(&srv, "POST", "/v1.41/services/" SVC1 "/update", 200, "{}");
	run_cli(&srv, &r, NULL, "service", "update", "-d", "--no-resolve-image",
		"--with-registry-auth", "--image", "localhost:5000/app:1", "web", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 1, "POST", "/v1.41/services/" SVC1 "/update", "version=7");
	a = auth_of(1);
	cr_assert_not_null(a);
	expect_json(a, "username", "\"u\"");
	expect_json(a, "password", "\"p\"");
	expect_json(a, "serveraddress", "\"localhost:5000\"");
	json_decref(a);
	run_free(&r);

	/* No credentials for Docker Hub: the empty auth. */
	fake_route(&srv, "POST", "/v1.41/services/create", 201, "{\"ID\":\"" SVC1 "\"}");
	run_cli(&srv, &r, NULL, "service", "create", "-d", "--no-resolve-image",
		"--with-registry-auth", "busybox", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect(strstr(fake_req(&srv, srv.nreqs - 1)->headers, "X-Registry-Auth: e30=\r\n"),
		  "headers: %s", fake_req(&srv, srv.nreqs - 1)->headers);
	run_free(&r);
}

/* The service as the progress display polls it, in the given update state. */
static char *svc_in(const char *state, const char *message)
{
	char *s = NULL;

	cr_assert(asprintf(&s,
			   "{\"ID\":\"" SVC1 "\",\"Version\":{\"Index\":9},\"Spec\":{\"Name\":"
			   "\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"UpdateConfig\":{"
			   "\"Monitor\":1000000},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
			   "\"busybox\"}}},\"UpdateStatus\":{\"State\":\"%s\",\"Message\":\"%s\"}}",
			   state, message) > 0);
	return s;
}

static const char running2[] =
    "[{\"ID\":\"" TASK1 "\",\"Slot\":1,\"NodeID\":\"" NODE1 "\",\"DesiredState\":\"running\","
    "\"Status\":{\"State\":\"running\"}},{\"ID\":\"" TASK2 "\",\"Slot\":2,\"NodeID\":\"" NODE1
    "\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"}}]";

static void progress_routes(char **seq, unsigned n)
{
	fake_route(&srv, "GET", "/v1.41/services/web", 200, rich_svc);
	fake_route(&srv, "POST", "/v1.41/services/" SVC1 "/update", 200, "{}");
	fake_route_seq(&srv, "GET", "/v1.41/services/" SVC1, 200, n, (const char *const *) seq);
	fake_route(&srv, "GET", "/v1.41/tasks", 200, running2);
	fake_route(&srv, "GET", "/v1.41/nodes", 200,
		   "[{\"ID\":\"" NODE1 "\",\"Status\":{\"State\":\"ready\"}}]");
	for (unsigned i = 0; i < n; i++)
		free(seq[i]);
}

Test(cli_service_update, update_progress_shows_an_automatic_rollback)
{
	struct cli_run r;
	char *seq[3] = {
	    svc_in("updating", "update in progress"),
	    svc_in("rollback_started",
		   "update rolled back due to failure or early termination of task " TASK1),
	    svc_in("rollback_completed", "rollback completed")};

	progress_routes(seq, 3);
	run_cli(&srv, &r, NULL, "service", "update", "--no-resolve-image", "--image", "bad", "web",
		NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect(strstr(r.out, "overall progress: 2 out of 2 tasks\n"), "out: %s", r.out);
	cr_expect(strstr(r.out, "rollback: update rolled back due to failure or early "
				"termination of task " TASK1 "\n"),
		  "out: %s", r.out);
	cr_expect(strstr(r.out, "verify: Service " SVC1 " converged\n"), "out: %s", r.out);
	run_free(&r);
}

Test(cli_service_update, update_progress_fails_when_paused)
{
	struct cli_run r;
	char *seq[2] = {
	    svc_in("updating", "update in progress"),
	    svc_in("paused", "update paused due to failure or early termination of task " TASK2)};

	progress_routes(seq, 2);
	run_cli(&srv, &r, NULL, "service", "update", "--no-resolve-image", "--env-add", "A=1",
		"web", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "service update paused: update paused due to failure or early "
				"termination of task " TASK2),
		  "err: %s", r.err);
	run_free(&r);
}

Test(cli_service_update, rollback_posts_rollback_previous_and_shows_progress)
{
	struct cli_run r;
	char *seq[2] = {svc_in("rollback_started", "manually requested rollback"),
			svc_in("rollback_completed", "rollback completed")};

	progress_routes(seq, 2);
	run_cli(&srv, &r, NULL, "service", "rollback", "web", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 1, "POST", "/v1.41/services/" SVC1 "/update",
		   "rollback=previous&version=7");
	cr_expect(strstr(r.out, "rollback: manually requested rollback\n"), "out: %s", r.out);
	cr_expect(strstr(r.out, "verify: Service " SVC1 " converged\n"), "out: %s", r.out);
	run_free(&r);
}
