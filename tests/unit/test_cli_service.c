/* `shoal service ...` against a fake Engine API: the ServiceSpec a rich
 * create posts, flag errors, ls/ps tables, rm errors, scale's update, logs
 * stdcopy decoding and the progress display converging. */
#include <jansson.h>
#include <time.h>

#include "test_cli_fake.h"

#define SVC1  "kp3r2ujxn1ma4vnldpqqfamtg"
#define SEC1  "ktnbjxoalbkvbvedmg1urrz8h"
#define CFG1  "vxjuyb7v3hlnt59pzs9wvfp0b"
#define NET1  "4qdu3ttw2kkq7qyhvh5b3kn1a"
#define NODE1 "n1x7f6kwzd3m0a0q5c8t9u2ve"
#define TASK1 "t1aaaaaaaaaaaaaaaaaaaaaaa"
#define TASK2 "t2bbbbbbbbbbbbbbbbbbbbbbb"
#define TASK3 "t3ccccccccccccccccccccccc"

static struct fake_server srv;

static void setup(void)
{
	fake_start(&srv);
}

static void teardown(void)
{
	fake_stop(&srv);
}

TestSuite(cli_service, .init = setup, .fini = teardown, .timeout = 30);

static json_t *req_json(size_t i)
{
	json_error_t e;
	json_t *j = json_loads(fake_req(&srv, i)->body, 0, &e);

	cr_assert(j, "request #%zu body is not JSON: %s", i, fake_req(&srv, i)->body);
	return j;
}

static void expect_at(json_t *root, const char *path, const char *want_json)
{
	json_error_t e;
	json_t *want = json_loads(want_json, JSON_DECODE_ANY, &e), *v = root;
	char key[128];
	const char *p = path;

	cr_assert(want, "bad expectation %s", want_json);
	while (v && *p) {
		size_t n = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int) n, p);
		v = json_is_array(v) ? json_array_get(v, (size_t) atoi(key))
				     : json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	{
		char *got =
		    v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		cr_expect(v && json_equal(v, want), "%s: got %s, want %s", path,
			  got ? got : "(absent)", want_json);
		free(got);
	}
	json_decref(want);
}

/* ------------------------------------------------------------------------ */
/* create                                                                    */

Test(cli_service, create_posts_dockers_spec_for_every_flag_family)
{
	struct cli_run r;
	json_t *spec;
	char sec[256], cfg[256];

	setenv("SHOAL_TEST_FROM_ENV", "yes", 1);
	snprintf(sec, sizeof(sec), "[{\"ID\":\"%s\",\"Spec\":{\"Name\":\"db_pass\"}}]", SEC1);
	snprintf(cfg, sizeof(cfg), "[{\"ID\":\"%s\",\"Spec\":{\"Name\":\"site.conf\"}}]", CFG1);
	fake_route(&srv, "GET", "/v1.41/networks/backend", 200,
		   "{\"Id\":\"" NET1 "\",\"Name\":\"backend\"}");
	fake_route(&srv, "GET", "/v1.41/secrets", 200, sec);
	fake_route(&srv, "GET", "/v1.41/configs", 200, cfg);
	fake_route(&srv, "POST", "/v1.41/services/create", 201,
		   "{\"ID\":\"" SVC1 "\",\"Warnings\":null}");
	run_cli(&srv, &r, NULL, "service", "create", "-d", "--name", "web", "--replicas", "3", "-p",
		"8080:80", "--publish", "published=53,target=53,protocol=udp,mode=host",
		"--network", "backend", "--secret", "db_pass", "--config",
		"source=site.conf,target=/etc/site.conf,mode=0400", "-e", "A=1", "-e",
		"SHOAL_TEST_FROM_ENV", "-l", "tier=front", "--container-label", "c=d",
		"--constraint", "node.role==worker", "--placement-pref", "spread=node.labels.zone",
		"--replicas-max-per-node", "2", "--reserve-cpu", "0.5", "--reserve-memory", "64M",
		"--limit-cpu", "1.5", "--limit-memory", "1g", "--restart-condition", "on-failure",
		"--restart-max-attempts", "4", "--update-parallelism", "2", "--update-order",
		"start-first", "--rollback-monitor", "1s", "--health-cmd", "true",
		"--health-interval", "2s", "--health-retries", "3", "--stop-grace-period", "20s",
		"--endpoint-mode", "dnsrr", "--mount", "type=tmpfs,target=/cache,tmpfs-size=1m",
		"--hostname", "h", "-w", "/srv", "-u", "nobody", "--entrypoint", "/bin/sh -c",
		"--init", "--read-only", "--dns", "10.0.0.2", "--host", "db:10.0.0.9",
		"--no-resolve-image", "busybox", "httpd", "-f", NULL);
	unsetenv("SHOAL_TEST_FROM_ENV");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, SVC1 "\n");
	cr_assert_eq(srv.nreqs, 4);
	expect_req(&srv, 0, "GET", "/v1.41/networks/backend", "scope=swarm");
	expect_req(&srv, 1, "GET", "/v1.41/secrets",
		   "filters=%7B%22name%22%3A%7B%22db_pass%22%3Atrue%7D%7D");
	expect_req(&srv, 2, "GET", "/v1.41/configs",
		   "filters=%7B%22name%22%3A%7B%22site.conf%22%3Atrue%7D%7D");
	expect_req(&srv, 3, "POST", "/v1.41/services/create", NULL);
	spec = req_json(3);
	expect_at(spec, "Name", "\"web\"");
	expect_at(spec, "Labels", "{\"tier\":\"front\"}");
	expect_at(spec, "Mode", "{\"Replicated\":{\"Replicas\":3}}");
	expect_at(spec, "TaskTemplate.ContainerSpec.Image", "\"busybox:latest\"");
	expect_at(spec, "TaskTemplate.ContainerSpec.Args", "[\"httpd\",\"-f\"]");
	expect_at(spec, "TaskTemplate.ContainerSpec.Command", "[\"/bin/sh\",\"-c\"]");
	expect_at(spec, "TaskTemplate.ContainerSpec.Env", "[\"A=1\",\"SHOAL_TEST_FROM_ENV=yes\"]");
	expect_at(spec, "TaskTemplate.ContainerSpec.Labels", "{\"c\":\"d\"}");
	expect_at(spec, "TaskTemplate.ContainerSpec.Hostname", "\"h\"");
	expect_at(spec, "TaskTemplate.ContainerSpec.Dir", "\"/srv\"");
	expect_at(spec, "TaskTemplate.ContainerSpec.User", "\"nobody\"");
	expect_at(spec, "TaskTemplate.ContainerSpec.Init", "true");
	expect_at(spec, "TaskTemplate.ContainerSpec.ReadOnly", "true");
	expect_at(spec, "TaskTemplate.ContainerSpec.StopGracePeriod", "20000000000");
	expect_at(spec, "TaskTemplate.ContainerSpec.DNSConfig", "{\"Nameservers\":[\"10.0.0.2\"]}");
	expect_at(spec, "TaskTemplate.ContainerSpec.Hosts", "[\"10.0.0.9 db\"]");
	expect_at(spec, "TaskTemplate.ContainerSpec.Healthcheck",
		  "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":2000000000,\"Retries\":3}");
	expect_at(spec, "TaskTemplate.ContainerSpec.Mounts",
		  "[{\"Type\":\"tmpfs\",\"Target\":\"/cache\",\"TmpfsOptions\":{\"SizeBytes\":"
		  "1048576}}]");
	expect_at(spec, "TaskTemplate.ContainerSpec.Secrets",
		  "[{\"File\":{\"Name\":\"db_pass\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},"
		  "\"SecretID\":\"" SEC1 "\",\"SecretName\":\"db_pass\"}]");
	expect_at(
	    spec, "TaskTemplate.ContainerSpec.Configs",
	    "[{\"File\":{\"Name\":\"/etc/site.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":256},"
	    "\"ConfigID\":\"" CFG1 "\",\"ConfigName\":\"site.conf\"}]");
	expect_at(spec, "TaskTemplate.Resources",
		  "{\"Limits\":{\"NanoCPUs\":1500000000,\"MemoryBytes\":1073741824},"
		  "\"Reservations\":{\"NanoCPUs\":500000000,\"MemoryBytes\":67108864}}");
	expect_at(spec, "TaskTemplate.RestartPolicy",
		  "{\"Condition\":\"on-failure\",\"Delay\":5000000000,\"MaxAttempts\":4}");
	expect_at(spec, "TaskTemplate.Placement",
		  "{\"Constraints\":[\"node.role==worker\"],\"Preferences\":[{\"Spread\":{"
		  "\"SpreadDescriptor\":\"node.labels.zone\"}}],\"MaxReplicas\":2}");
	expect_at(spec, "TaskTemplate.Networks", "[{\"Target\":\"" NET1 "\"}]");
	expect_at(spec, "TaskTemplate.ForceUpdate", "0");
	expect_at(spec, "UpdateConfig",
		  "{\"Parallelism\":2,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
		  "\"MaxFailureRatio\":0.0,\"Order\":\"start-first\"}");
	expect_at(spec, "RollbackConfig",
		  "{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":1000000000,"
		  "\"MaxFailureRatio\":0.0,\"Order\":\"stop-first\"}");
	expect_at(spec, "EndpointSpec",
		  "{\"Mode\":\"dnsrr\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
		  "\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},{\"Protocol\":\"udp\","
		  "\"TargetPort\":53,\"PublishedPort\":53,\"PublishMode\":\"host\"}]}");
	json_decref(spec);
	run_free(&r);
}

Test(cli_service, create_minimal_spec_sends_only_what_docker_sends)
{
	struct cli_run r;
	json_t *spec, *want;

	fake_route(&srv, "GET", "/v1.41/distribution/busybox:latest/json", 404,
		   "{\"message\":\"no registry\"}");
	fake_route(&srv, "POST", "/v1.41/services/create", 201, "{\"ID\":\"" SVC1 "\"}");
	run_cli(&srv, &r, NULL, "service", "create", "-d", "busybox", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.err, "image busybox:latest could not be accessed on a registry to "
				"record\nits digest. Each node will access busybox:latest "
				"independently,\npossibly leading to different nodes running "
				"different\nversions of the image.\n\n");
	expect_req(&srv, 0, "GET", "/v1.41/distribution/busybox:latest/json", NULL);
	spec = req_json(1);
	want = json_loads("{\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
			  "\"busybox:latest\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{"
			  "\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},"
			  "\"Mode\":{\"Replicated\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
			  0, NULL);
	cr_expect(json_equal(spec, want), "body %s", fake_req(&srv, 1)->body);
	json_decref(want);
	json_decref(spec);
	run_free(&r);
}

Test(cli_service, create_pins_the_digest_when_the_registry_answers)
{
	struct cli_run r;
	json_t *spec;

	fake_route(&srv, "GET", "/v1.41/distribution/busybox:1.36/json", 200,
		   "{\"Descriptor\":{\"digest\":\"sha256:abc\"},\"Platforms\":[{\"architecture\":"
		   "\"amd64\",\"os\":\"linux\"}]}");
	fake_route(&srv, "POST", "/v1.41/services/create", 201, "{\"ID\":\"" SVC1 "\"}");
	run_cli(&srv, &r, NULL, "service", "create", "-d", "busybox:1.36", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	spec = req_json(1);
	expect_at(spec, "TaskTemplate.ContainerSpec.Image", "\"busybox:1.36@sha256:abc\"");
	expect_at(spec, "TaskTemplate.Placement.Platforms",
		  "[{\"Architecture\":\"amd64\",\"OS\":\"linux\"}]");
	json_decref(spec);
	run_free(&r);
}

Test(cli_service, create_bad_values_are_flag_errors_and_send_nothing)
{
	static const struct {
		const char *flag, *value, *err;
	} cases[] = {
	    {"--replicas", "x",
	     "invalid argument \"x\" for \"--replicas\" flag: strconv.ParseUint: parsing \"x\": "
	     "invalid syntax"},
	    {"--restart-condition", "sometimes",
	     "invalid argument \"sometimes\" for \"--restart-condition\" flag: must be one of "
	     "\"none\", \"on-failure\", \"any\""},
	    {"--publish", "99999:80",
	     "invalid argument \"99999:80\" for \"-p, --publish\" flag: invalid hostPort: 99999"},
	    {"--mount", "type=bind,source=/x",
	     "invalid argument \"type=bind,source=/x\" for \"--mount\" flag: target is required"},
	    {"--limit-memory", "lots",
	     "invalid argument \"lots\" for \"--limit-memory\" flag: invalid size: 'lots'"},
	    {"--placement-pref", "pack=x",
	     "invalid argument \"pack=x\" for \"--placement-pref\" flag: unsupported placement "
	     "preference pack (only spread is supported)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_run r;
		char want[512];

		run_cli(&srv, &r, NULL, "service", "create", cases[i].flag, cases[i].value,
			"busybox", NULL);
		snprintf(want, sizeof(want), "%s\nSee 'shoal service create --help'.\n",
			 cases[i].err);
		cr_expect_eq(r.status, 125, "%s %s: status %d", cases[i].flag, cases[i].value,
			     r.status);
		cr_expect_str_eq(r.err, want);
		run_free(&r);
	}
	cr_expect_eq(srv.nreqs, 0);
}

Test(cli_service, create_unknown_secret_is_dockers_error)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/secrets", 200, "[]");
	run_cli(&srv, &r, NULL, "service", "create", "--secret", "nope", "busybox", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "secret not found: nope\n");
	cr_expect_eq(srv.nreqs, 1);
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* ls, ps                                                                    */

Test(cli_service, ls_prints_dockers_columns)
{
	struct cli_run r;

	fake_route(
	    &srv, "GET", "/v1.41/services", 200,
	    "[{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{"
	    "\"Replicas\":3}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:latest@"
	    "sha256:abc\"}}},\"Endpoint\":{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
	    "\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\","
	    "\"TargetPort\":81,\"PublishedPort\":8081,\"PublishMode\":\"ingress\"}]},"
	    "\"ServiceStatus\":{\"RunningTasks\":2,\"DesiredTasks\":3}},"
	    "{\"ID\":\"abcdefghijklmnopqrstuvwxy\",\"Spec\":{\"Name\":\"agent\",\"Mode\":{"
	    "\"Global\":{}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}},"
	    "\"ServiceStatus\":{\"RunningTasks\":1,\"DesiredTasks\":1}}]");
	run_cli(&srv, &r, NULL, "service", "ls", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 0, "GET", "/v1.41/services", "status=true");
	cr_expect_str_eq(r.out,
			 "ID             NAME      MODE         REPLICAS   IMAGE            PORTS\n"
			 "abcdefghijkl   agent     global       1/1        busybox          \n"
			 "kp3r2ujxn1ma   web       replicated   2/3        busybox:latest   "
			 "*:8080-8081->80-81/tcp\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "service", "ls", "-q", NULL);
	cr_expect_str_eq(r.out, "abcdefghijkl\nkp3r2ujxn1ma\n");
	run_free(&r);
}

Test(cli_service, ps_names_slots_and_indents_history)
{
	struct cli_run r;
	char t1[32], t2[32], body[4096];

	fake_ts_ago(5, t1, sizeof(t1));
	fake_ts_ago(120, t2, sizeof(t2));
	snprintf(body, sizeof(body),
		 "[{\"ID\":\"" TASK2 "\",\"ServiceID\":\"" SVC1 "\",\"Slot\":1,\"NodeID\":\"" NODE1
		 "\",\"CreatedAt\":\"%s\",\"DesiredState\":\"shutdown\",\"Status\":{\"State\":"
		 "\"failed\",\"Timestamp\":\"%s\",\"Err\":\"task: non-zero exit (1)\"},\"Spec\":{"
		 "\"ContainerSpec\":{\"Image\":\"busybox:latest@sha256:abc\"}}},"
		 "{\"ID\":\"" TASK1 "\",\"ServiceID\":\"" SVC1 "\",\"Slot\":1,\"NodeID\":\"" NODE1
		 "\",\"CreatedAt\":\"%s\",\"DesiredState\":\"running\",\"Status\":{\"State\":"
		 "\"running\",\"Timestamp\":\"%s\"},\"Spec\":{\"ContainerSpec\":{\"Image\":"
		 "\"busybox:latest@sha256:abc\"}}},"
		 "{\"ID\":\"" TASK3 "\",\"ServiceID\":\"" SVC1 "\",\"Slot\":0,\"NodeID\":\"" NODE1
		 "\",\"CreatedAt\":\"%s\",\"DesiredState\":\"running\",\"Status\":{\"State\":"
		 "\"pending\",\"Timestamp\":\"%s\"},\"Spec\":{\"ContainerSpec\":{\"Image\":"
		 "\"busybox\"}}}]",
		 t2, t2, t1, t1, t1, t1);
	fake_route(&srv, "GET", "/v1.41/services", 200,
		   "[{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\"}}]");
	fake_route(&srv, "GET", "/v1.41/tasks", 200, body);
	fake_route(&srv, "GET", "/v1.41/services/" SVC1, 200,
		   "{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\"}}");
	fake_route(&srv, "GET", "/v1.41/nodes/" NODE1, 200,
		   "{\"ID\":\"" NODE1 "\",\"Description\":{\"Hostname\":\"node1\"}}");
	run_cli(&srv, &r, NULL, "service", "ps", "web", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 0, "GET", "/v1.41/services",
		   "filters=%7B%22id%22%3A%7B%22web%22%3Atrue%7D%7D");
	expect_req(&srv, 1, "GET", "/v1.41/services",
		   "filters=%7B%22name%22%3A%7B%22web%22%3Atrue%7D%7D");
	expect_req(&srv, 2, "GET", "/v1.41/tasks",
		   "filters=%7B%22service%22%3A%7B%22" SVC1 "%22%3Atrue%7D%7D");
	cr_expect_str_eq(
	    r.out, "ID             NAME                            IMAGE            NODE      "
		   "DESIRED STATE   CURRENT STATE           ERROR                       PORTS\n"
		   "t1aaaaaaaaaa   web.1                           busybox:latest   node1     "
		   "Running         Running 5 seconds ago                               \n"
		   "t2bbbbbbbbbb    \\_ web.1                       busybox:latest   node1     "
		   "Shutdown        Failed 2 minutes ago    \"task: non-zero exit (1)\"   \n"
		   "t3cccccccccc   web.n1x7f6kwzd3m0a0q5c8t9u2ve   busybox          node1     "
		   "Running         Pending 5 seconds ago                               \n");
	run_free(&r);
}

Test(cli_service, ps_of_unknown_service_fails)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/services", 200, "[]");
	run_cli(&srv, &r, NULL, "service", "ps", "nope", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "no such service: nope\n");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* rm, scale                                                                 */

Test(cli_service, rm_prints_names_and_fails_on_missing)
{
	struct cli_run r;

	fake_route(&srv, "DELETE", "/v1.41/services/web", 200, "");
	fake_route(&srv, "DELETE", "/v1.41/services/nope", 404,
		   "{\"message\":\"service nope not found\"}");
	run_cli(&srv, &r, NULL, "service", "rm", "web", "nope", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "web\n");
	cr_expect_str_eq(r.err, "Error response from daemon: service nope not found\n");
	run_free(&r);
}

Test(cli_service, scale_posts_the_spec_back_with_its_version)
{
	struct cli_run r;
	json_t *body;

	fake_route(&srv, "GET", "/v1.41/services/web", 200,
		   "{\"ID\":\"" SVC1 "\",\"Version\":{\"Index\":42},\"Spec\":{\"Name\":\"web\","
		   "\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"TaskTemplate\":{"
		   "\"ContainerSpec\":{\"Image\":\"busybox:latest\"}}}}");
	fake_route(&srv, "POST", "/v1.41/services/" SVC1 "/update", 200, "{\"Warnings\":null}");
	run_cli(&srv, &r, NULL, "service", "scale", "-d", "web=5", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "web scaled to 5\n");
	expect_req(&srv, 1, "POST", "/v1.41/services/" SVC1 "/update", "version=42");
	body = req_json(1);
	expect_at(body, "Mode", "{\"Replicated\":{\"Replicas\":5}}");
	expect_at(body, "TaskTemplate.ContainerSpec.Image", "\"busybox:latest\"");
	json_decref(body);
	run_free(&r);

	run_cli(&srv, &r, NULL, "service", "scale", "-d", "web=x", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "web: invalid replicas value x: strconv.ParseUint: parsing \"x\": "
				"invalid syntax\n");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* logs                                                                      */

static void frame(struct buf *b, int stream, const char *payload)
{
	buf_append_u8(b, (uint8_t) stream);
	buf_append_u8(b, 0);
	buf_append_u8(b, 0);
	buf_append_u8(b, 0);
	buf_append_be32(b, (uint32_t) strlen(payload));
	buf_append(b, payload, strlen(payload));
}

Test(cli_service, logs_decode_chunked_stdcopy_frames_with_prefixes)
{
	struct cli_run r;
	struct buf b = BUF_INIT;
	const char *det = "com.docker.swarm.node.id=" NODE1 ",com.docker.swarm.service.id=" SVC1
			  ",com.docker.swarm.task.id=" TASK1 " ";
	char l1[512], l2[512];

	snprintf(l1, sizeof(l1), "%shello\n", det);
	snprintf(l2, sizeof(l2), "%soops\n", det);
	frame(&b, 1, l1);
	frame(&b, 2, l2);
	frame(&b, 1, l1);
	fake_route(&srv, "GET", "/v1.41/services/web", 200,
		   "{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{"
		   "\"Replicas\":10}},\"TaskTemplate\":{\"ContainerSpec\":{}}}}");
	/* 5-byte chunks split headers and payloads across reads. */
	fake_route_bin(&srv, "GET", "/v1.41/services/web/logs", 200, b.data, b.len, 1);
	fake_route(&srv, "GET", "/v1.41/services/" SVC1, 200,
		   "{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\"}}");
	fake_route(&srv, "GET", "/v1.41/nodes/" NODE1, 200,
		   "{\"Description\":{\"Hostname\":\"node1\"}}");
	fake_route(&srv, "GET", "/v1.41/tasks/" TASK1, 200, "{\"ID\":\"" TASK1 "\",\"Slot\":1}");
	run_cli(&srv, &r, NULL, "service", "logs", "-f", "web", NULL);
	buf_free(&b);

	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 1, "GET", "/v1.41/services/web/logs",
		   "details=1&follow=1&stderr=1&stdout=1&tail=all");
	cr_expect_str_eq(r.out, "web.1.t1aaaaaaaaaa@node1     | hello\n"
				"web.1.t1aaaaaaaaaa@node1     | hello\n");
	cr_expect_str_eq(r.err, "web.1.t1aaaaaaaaaa@node1     | oops\n");
	run_free(&r);
}

Test(cli_service, logs_of_unknown_ref_names_both_kinds)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "service", "logs", "nope", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "no such task or service: nope\n");
	expect_req(&srv, 1, "GET", "/v1.41/tasks/nope", NULL);
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* progress                                                                  */

static const char *svc_json = "{\"ID\":\"" SVC1 "\",\"Version\":{\"Index\":3},\"Spec\":{\"Name\":"
			      "\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},"
			      "\"UpdateConfig\":{\"Monitor\":300000000}}}";

static char *tasks_json(const char *s1, const char *s2)
{
	char *s;

	cr_assert(asprintf(&s,
			   "[{\"ID\":\"" TASK1 "\",\"Slot\":1,\"NodeID\":\"" NODE1
			   "\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"%s\"}},"
			   "{\"ID\":\"" TASK2 "\",\"Slot\":2,\"NodeID\":\"" NODE1
			   "\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"%s\"}}]",
			   s1, s2) > 0);
	return s;
}

Test(cli_service, create_waits_until_converged_and_verified)
{
	struct cli_run r;
	char *seq[3] = {tasks_json("pending", "pending"), tasks_json("running", "starting"),
			tasks_json("running", "running")};

	fake_route(&srv, "POST", "/v1.41/services/create", 201, "{\"ID\":\"" SVC1 "\"}");
	fake_route(&srv, "GET", "/v1.41/services/" SVC1, 200, svc_json);
	fake_route_seq(&srv, "GET", "/v1.41/tasks", 200, 3, (const char *const *) seq);
	fake_route(&srv, "GET", "/v1.41/nodes", 200,
		   "[{\"ID\":\"" NODE1 "\",\"Status\":{\"State\":\"ready\"}}]");
	run_cli(&srv, &r, NULL, "service", "create", "--no-resolve-image", "--replicas", "2",
		"busybox", NULL);
	for (int i = 0; i < 3; i++)
		free(seq[i]);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out,
			 SVC1 "\n"
			      "overall progress: 0 out of 2 tasks\n"
			      "1/2: pending\n"
			      "2/2: pending\n"
			      "1/2: running\n"
			      "2/2: starting\n"
			      "overall progress: 1 out of 2 tasks\n"
			      "2/2: running\n"
			      "overall progress: 2 out of 2 tasks\n"
			      "verify: Waiting 1 seconds to verify that tasks are stable...\n"
			      "verify: Service " SVC1 " converged\n");
	expect_req(
	    &srv, 2, "GET", "/v1.41/tasks",
	    "filters=%7B%22_up-to-date%22%3A%7B%22true%22%3Atrue%7D%2C%22service%22%3A%7B%22" SVC1
	    "%22%3Atrue%7D%7D");
	run_free(&r);
}

Test(cli_service, progress_gives_up_when_tasks_keep_failing)
{
	struct cli_run r;
	char *failing = NULL;

	cr_assert(
	    asprintf(&failing,
		     "[{\"ID\":\"" TASK1 "\",\"Slot\":1,\"DesiredState\":\"shutdown\",\"Status\":"
		     "{\"State\":\"failed\",\"Err\":\"task: non-zero exit (1)\"}},"
		     "{\"ID\":\"" TASK2 "\",\"Slot\":1,\"DesiredState\":\"shutdown\",\"Status\":"
		     "{\"State\":\"failed\",\"Err\":\"task: non-zero exit (1)\"}},"
		     "{\"ID\":\"" TASK3 "\",\"Slot\":1,\"DesiredState\":\"shutdown\",\"Status\":"
		     "{\"State\":\"failed\",\"Err\":\"task: non-zero exit (1)\"}}]") > 0);
	fake_route(&srv, "GET", "/v1.41/services/web", 200,
		   "{\"ID\":\"" SVC1 "\",\"Version\":{\"Index\":3},\"Spec\":{\"Name\":\"web\","
		   "\"Mode\":{\"Replicated\":{\"Replicas\":1}}}}");
	fake_route(&srv, "POST", "/v1.41/services/" SVC1 "/update", 200, "{}");
	fake_route(&srv, "GET", "/v1.41/services/" SVC1, 200,
		   "{\"ID\":\"" SVC1 "\",\"Spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{"
		   "\"Replicas\":1}}}}");
	fake_route(&srv, "GET", "/v1.41/tasks", 200, failing);
	fake_route(&srv, "GET", "/v1.41/nodes", 200, "[]");
	free(failing);
	run_cli(&srv, &r, NULL, "service", "scale", "web=1", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.out, "1/1: task: non-zero exit (1)\n"), "out: %s", r.out);
	cr_expect_str_eq(r.err, "web: service web did not converge: 3 task(s) failed, last "
				"error: task: non-zero exit (1)\n");
	run_free(&r);
}
