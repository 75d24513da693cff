/* Engine API conversion of services and tasks: a rich ServiceSpec survives
 * JSON -> proto -> JSON unchanged (what GET returns, the CLI posts back),
 * JSON-only defaults, type errors naming the field path, Service and Task
 * shapes the docker CLI reads. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "common/log.h"
#include "daemon/api/conv.h"
#include "manager/controlapi/ctl.h"

/* Every field conv models, in the form conv emits (Go's omitempty). */
static const char *const rich =
    "{\"Name\":\"web\",\"Labels\":{\"tier\":\"front\"},"
    "\"TaskTemplate\":{"
    " \"ContainerSpec\":{\"Image\":\"reg.local:5000/team/app:1.2@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
    "  \"Labels\":{\"c\":\"1\"},\"Command\":[\"/bin/sh\"],\"Args\":[\"-c\",\"sleep 1\"],"
    "  \"Hostname\":\"{{.Task.Name}}\",\"Env\":[\"A=1\",\"B=2\"],\"Dir\":\"/srv\","
    "  \"User\":\"1000:1000\",\"Groups\":[\"wheel\"],\"Init\":true,\"StopSignal\":\"SIGINT\","
    "  \"TTY\":true,\"OpenStdin\":true,\"ReadOnly\":true,"
    "  \"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv\",\"Target\":\"/data\",\"ReadOnly\":"
    "true,\"BindOptions\":{\"Propagation\":\"rslave\",\"NonRecursive\":true}},"
    "   {\"Type\":\"volume\",\"Source\":\"vol\",\"Target\":\"/vol\",\"VolumeOptions\":{"
    "\"NoCopy\":true,\"Labels\":{\"v\":\"1\"},\"DriverConfig\":{\"Name\":\"local\","
    "\"Options\":{\"o\":\"x\"}}}},"
    "   {\"Type\":\"tmpfs\",\"Target\":\"/tmp\",\"TmpfsOptions\":{\"SizeBytes\":1048576,"
    "\"Mode\":448}}],"
    "  \"StopGracePeriod\":2000000000,"
    "  \"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000000,\"Timeout\":"
    "2000000000,\"StartPeriod\":3000000000,\"Retries\":3},"
    "  \"Hosts\":[\"10.0.0.1 db\"],"
    "  \"DNSConfig\":{\"Nameservers\":[\"10.0.0.2\"],\"Search\":[\"local\"],\"Options\":["
    "\"ndots:2\"]},"
    "  \"Secrets\":[{\"File\":{\"Name\":\"pw\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},"
    "\"SecretID\":\"s1\",\"SecretName\":\"pw\"}],"
    "  \"Configs\":[{\"File\":{\"Name\":\"/etc/app.conf\",\"UID\":\"0\",\"GID\":\"0\","
    "\"Mode\":292},\"ConfigID\":\"c1\",\"ConfigName\":\"conf\"},"
    "   {\"Runtime\":{},\"ConfigID\":\"c2\",\"ConfigName\":\"cred\"}],"
    "  \"Isolation\":\"default\",\"Sysctls\":{\"net.core.somaxconn\":\"1024\"},"
    "  \"CapabilityAdd\":[\"CAP_NET_ADMIN\"],\"CapabilityDrop\":[\"CAP_MKNOD\"],"
    "  \"Ulimits\":[{\"Name\":\"nofile\",\"Hard\":2048,\"Soft\":1024}]},"
    " \"Resources\":{\"Limits\":{\"NanoCPUs\":500000000,\"MemoryBytes\":67108864,\"Pids\":"
    "100},\"Reservations\":{\"NanoCPUs\":100000000,\"MemoryBytes\":33554432,"
    "\"GenericResources\":[{\"DiscreteResourceSpec\":{\"Kind\":\"gpu\",\"Value\":2}},"
    "{\"NamedResourceSpec\":{\"Kind\":\"fpga\",\"Value\":\"f1\"}}]}},"
    " \"RestartPolicy\":{\"Condition\":\"on-failure\",\"Delay\":0,\"MaxAttempts\":3,"
    "\"Window\":60000000000},"
    " \"Placement\":{\"Constraints\":[\"node.role==manager\"],\"Preferences\":[{\"Spread\":{"
    "\"SpreadDescriptor\":\"node.labels.zone\"}}],\"MaxReplicas\":2,\"Platforms\":[{"
    "\"Architecture\":\"amd64\",\"OS\":\"linux\"}]},"
    " \"Networks\":[{\"Target\":\"n1\",\"Aliases\":[\"web\"],\"DriverOpts\":{\"k\":\"v\"}}],"
    " \"LogDriver\":{\"Name\":\"json-file\",\"Options\":{\"max-size\":\"1m\"}},"
    " \"ForceUpdate\":7,\"Runtime\":\"container\"},"
    "\"Mode\":{\"Replicated\":{\"Replicas\":3}},"
    "\"UpdateConfig\":{\"Parallelism\":2,\"Delay\":1000000000,\"FailureAction\":\"rollback\","
    "\"Monitor\":3000000000,\"MaxFailureRatio\":0.25,\"Order\":\"start-first\"},"
    "\"RollbackConfig\":{\"Parallelism\":0,\"FailureAction\":\"continue\",\"MaxFailureRatio\":"
    "0.0,\"Order\":\"stop-first\"},"
    "\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Name\":\"http\",\"Protocol\":\"tcp\","
    "\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},{\"Protocol\":"
    "\"udp\",\"TargetPort\":53,\"PublishMode\":\"host\"}]}}";

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	cr_assert_not_null(j, "test JSON: %s at %d", e.text, e.position);
	return j;
}

static char *dump(json_t *j)
{
	return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

/* JSON -> proto -> JSON. */
static json_t *through_proto(json_t *in)
{
	char err[256] = "";
	Shoal__ServiceSpec *s = conv_service_spec(in, err, sizeof(err));
	json_t *out;

	cr_assert_not_null(s, "parse: %s", err);
	/* And through the wire format, as the control API stores it. */
	size_t len = shoal__service_spec__get_packed_size(s);
	uint8_t *buf = malloc(len + 1);
	shoal__service_spec__pack(s, buf);
	shoal__service_spec__free_unpacked(s, NULL);
	s = shoal__service_spec__unpack(NULL, len, buf);
	free(buf);
	cr_assert_not_null(s);
	out = conv_service_spec_json(s);
	shoal__service_spec__free_unpacked(s, NULL);
	return out;
}

Test(api_service, rich_spec_round_trips_unchanged)
{
	json_t *in = parse(rich), *once = through_proto(in), *twice = through_proto(once);
	char *a = dump(in), *b = dump(once), *c = dump(twice);

	cr_expect_str_eq(b, a, "JSON -> proto -> JSON changed the spec");
	cr_expect_str_eq(c, b, "not a fixed point");
	free(a);
	free(b);
	free(c);
	json_decref(in);
	json_decref(once);
	json_decref(twice);
}

Test(api_service, stored_defaults_round_trip_too)
{
	json_t *in = parse("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
			   "\"busybox\"}},\"Mode\":{\"Replicated\":{}}}");
	char err[256];
	Shoal__ServiceSpec *s = conv_service_spec(in, err, sizeof(err));
	json_t *out, *again;

	cr_assert_not_null(s, "%s", err);
	cr_expect_eq(s->replicated->replicas, 1, "Replicated {} must mean 1 replica");
	ctl_service_spec_defaults(s);
	out = conv_service_spec_json(s);
	shoal__service_spec__free_unpacked(s, NULL);
	cr_expect_eq(json_integer_value(json_object_get(
			 json_object_get(json_object_get(out, "Mode"), "Replicated"), "Replicas")),
		     1);
	json_t *rp = json_object_get(json_object_get(out, "TaskTemplate"), "RestartPolicy");
	cr_expect_str_eq(json_string_value(json_object_get(rp, "Condition")), "any");
	cr_expect_eq(json_integer_value(json_object_get(rp, "Delay")), 5000000000LL);
	cr_expect_str_eq(
	    json_string_value(json_object_get(json_object_get(out, "UpdateConfig"), "Order")),
	    "stop-first");
	cr_expect_str_eq(json_string_value(json_object_get(
			     json_object_get(json_object_get(out, "TaskTemplate"), "ContainerSpec"),
			     "Isolation")),
			 "default");
	again = through_proto(out);
	cr_expect(json_equal(out, again), "defaults do not round trip");
	json_decref(in);
	json_decref(out);
	json_decref(again);
}

static void expect_error(const char *body, const char *want)
{
	json_t *j = parse(body);
	char err[256] = "";
	Shoal__ServiceSpec *s = conv_service_spec(j, err, sizeof(err));

	cr_expect_null(s, "accepted %s", body);
	if (s)
		shoal__service_spec__free_unpacked(s, NULL);
	cr_expect_str_eq(err, want, "for %s", body);
	json_decref(j);
}

Test(api_service, type_errors_name_the_field)
{
	expect_error("{\"Name\":5}", "Name: expected string, got number");
	expect_error("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":[]}}}",
		     "TaskTemplate.ContainerSpec.Image: expected string, got array");
	expect_error("{\"TaskTemplate\":{\"ContainerSpec\":{\"Env\":[\"A=1\",2]}}}",
		     "TaskTemplate.ContainerSpec.Env[1]: expected string, got number");
	expect_error("{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"Type\":\"bind\"},"
		     "{\"Type\":\"disk\"}]}}}",
		     "TaskTemplate.ContainerSpec.Mounts[1].Type: invalid MountType: \"disk\"");
	expect_error("{\"Mode\":{\"Replicated\":{\"Replicas\":-1}}}",
		     "Mode.Replicated.Replicas: -1 is out of range (0 to 9223372036854775807)");
	expect_error(
	    "{\"Mode\":{\"Replicated\":{},\"Global\":{}}}",
	    "Mode: only one of Replicated, Global, ReplicatedJob and GlobalJob may be set");
	expect_error("{\"TaskTemplate\":{\"RestartPolicy\":{\"Condition\":\"always\"}}}",
		     "TaskTemplate.RestartPolicy.Condition: invalid RestartCondition: \"always\"");
	expect_error("{\"UpdateConfig\":{\"MaxFailureRatio\":\"half\"}}",
		     "UpdateConfig.MaxFailureRatio: expected number, got string");
	expect_error("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":70000}]}}",
		     "EndpointSpec.Ports[0].TargetPort: 70000 is out of range (0 to 65535)");
	expect_error("{\"EndpointSpec\":{\"Mode\":\"rr\"}}",
		     "EndpointSpec.Mode: invalid resolution mode: \"rr\"");
	expect_error("{\"Labels\":{\"a\":1}}", "Labels.a: expected string");
	expect_error("[]", "service spec: expected object, got array");
	expect_error("{\"TaskTemplate\":{\"Placement\":{\"Preferences\":[7]}}}",
		     "TaskTemplate.Placement.Preferences[0]: expected object, got number");
}

Test(api_service, service_and_task_json_shapes)
{
	Shoal__Service svc = SHOAL__SERVICE__INIT;
	Shoal__Meta m = SHOAL__META__INIT;
	Shoal__ServiceStatus status = SHOAL__SERVICE_STATUS__INIT;
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__TaskStatus ts = SHOAL__TASK_STATUS__INIT;
	json_t *j = parse(rich), *o;
	char err[256];

	svc.spec = conv_service_spec(j, err, sizeof(err));
	cr_assert_not_null(svc.spec, "%s", err);
	m.id = "abc";
	m.version = 12;
	svc.meta = &m;
	status.running_tasks = 1;
	status.desired_tasks = 3;
	o = conv_service_json(&svc, &status);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(o, "Version"), "Index")),
		     12);
	cr_expect_eq(json_integer_value(
			 json_object_get(json_object_get(o, "ServiceStatus"), "DesiredTasks")),
		     3);
	cr_expect_not_null(json_object_get(json_object_get(o, "Endpoint"), "Spec"));
	cr_expect_null(json_object_get(o, "PreviousSpec"));
	cr_expect_null(json_object_get(o, "UpdateStatus"));
	json_decref(o);
	o = conv_service_json(&svc, NULL);
	cr_expect_null(json_object_get(o, "ServiceStatus"));
	json_decref(o);
	shoal__service_spec__free_unpacked(svc.spec, NULL);
	json_decref(j);

	/* A task without a spec still shows a ContainerSpec object. */
	t.meta = &m;
	t.service_id = "abc";
	t.slot = 2;
	ts.state = SHOAL__TASK_STATE__TASK_STATE_PENDING;
	ts.message = "pending task scheduling";
	t.status = &ts;
	t.desired_state = SHOAL__TASK_STATE__TASK_STATE_RUNNING;
	o = conv_task_json(&t);
	cr_expect(json_is_object(json_object_get(json_object_get(o, "Spec"), "ContainerSpec")));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "Status"), "State")),
			 "pending");
	cr_expect_str_eq(json_string_value(json_object_get(o, "DesiredState")), "running");
	cr_expect_eq(json_integer_value(json_object_get(o, "Slot")), 2);
	cr_expect_null(json_object_get(o, "NodeID"));
	cr_expect_null(json_object_get(o, "Name"));
	cr_expect(json_is_object(json_object_get(o, "Labels")));
	cr_expect(json_is_object(json_object_get(json_object_get(o, "Status"), "PortStatus")));
	json_decref(o);
}

Test(api_service, random_names_are_valid_service_names)
{
	char name[64];

	for (int i = 0; i < 50; i++) {
		conv_service_random_name(name, sizeof(name));
		cr_expect(ctl_service_name_valid(name), "%s", name);
	}
}
