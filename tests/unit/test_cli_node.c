/* `shoal node ...` against a fake Engine API: requests sent, output printed. */
#include <jansson.h>

#include "test_cli_fake.h"

#define NODE1  "e3ybxc0j4hi9sqkkh9nmgcz9h" /* node-1, worker, down, drain */
#define NODE2  "ajvz3vd2pv6pdmhbtwdkilvbo" /* node-2, reachable manager, self */
#define NODE10 "4gn9rm2ycjmm8d3fb9ylnm2fw" /* node-10, leader */

static struct fake_server srv;

static void setup(void)
{
	fake_start(&srv);
}

static void teardown(void)
{
	fake_stop(&srv);
}

TestSuite(cli_node, .init = setup, .fini = teardown);

/* Serves element `i` of nodes.json at GET /v1.41/nodes/<ref>. */
static void route_node(const char *ref, size_t i)
{
	char *all = fake_fixture("nodes.json"), *one, path[256];
	json_error_t jerr;
	json_t *nodes = json_loads(all, 0, &jerr);

	cr_assert(nodes, "nodes.json: %s", jerr.text);
	one = json_dumps(json_array_get(nodes, i), JSON_COMPACT);
	snprintf(path, sizeof(path), "/v1.41/nodes/%s", ref);
	fake_route(&srv, "GET", path, 200, one);
	free(one);
	free(all);
	json_decref(nodes);
}

static void route_list(void)
{
	char *nodes = fake_fixture("nodes.json"), *info = fake_fixture("info.json");

	fake_route(&srv, "GET", "/v1.41/nodes", 200, nodes);
	fake_route(&srv, "GET", "/v1.41/info", 200, info);
	free(nodes);
	free(info);
}

/* ------------------------------------------------------------------------ */
/* ls                                                                        */

Test(cli_node, ls_table_matches_docker_layout)
{
	struct cli_run r;
	char *golden = fake_fixture("node_ls.golden");

	route_list();
	run_cli(&srv, &r, NULL, "node", "ls", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, golden);
	cr_expect_str_eq(r.err, "");
	cr_assert_eq(srv.nreqs, 2);
	expect_req(&srv, 0, "GET", "/v1.41/nodes", NULL);
	expect_req(&srv, 1, "GET", "/v1.41/info", NULL);
	free(golden);
	run_free(&r);
}

Test(cli_node, ls_quiet_prints_ids_sorted_by_hostname_without_info)
{
	struct cli_run r;

	route_list();
	run_cli(&srv, &r, NULL, "node", "list", "-q", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, NODE1 "\n" NODE2 "\n" NODE10 "\n");
	cr_expect_eq(srv.nreqs, 1, "-q must not call /info");
	run_free(&r);
}

Test(cli_node, ls_filters_are_url_encoded_json_with_sorted_keys)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/nodes", 200, "[]");
	run_cli(&srv, &r, NULL, "node", "ls", "-f", "role=manager", "--filter", " Name = node ",
		NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(
	    &srv, 0, "GET", "/v1.41/nodes",
	    "filters=%7B%22name%22%3A%7B%22node%22%3Atrue%7D%2C%22role%22%3A%7B%22manager%22%"
	    "3Atrue%7D%7D");
	/* An empty list prints the header alone and needs no /info. */
	cr_expect_str_eq(r.out, "ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   "
				"ENGINE VERSION\n");
	cr_expect_eq(srv.nreqs, 1);
	run_free(&r);
}

Test(cli_node, ls_bad_filter_is_a_flag_error)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "node", "ls", "-f", "role", NULL);
	cr_expect_eq(r.status, 125);
	cr_expect_str_eq(r.err,
			 "invalid argument \"role\" for \"-f, --filter\" flag: bad format of "
			 "filter (expected name=value)\nSee 'shoal node ls --help'.\n");
	cr_expect_eq(srv.nreqs, 0);
	run_free(&r);
}

Test(cli_node, ls_format_json_prints_one_object_per_line)
{
	static const char *const formats[] = {"json", "{{json .}}"};

	route_list();
	for (size_t i = 0; i < 2; i++) {
		struct cli_run r;

		run_cli(&srv, &r, NULL, "node", "ls", "--format", formats[i], NULL);
		cr_assert_eq(r.status, 0, "stderr: %s", r.err);
		cr_expect_str_eq(
		    r.out,
		    "{\"Availability\":\"Drain\",\"EngineVersion\":\"\",\"Hostname\":\"node-1\","
		    "\"ID\":"
		    "\"" NODE1 "\",\"ManagerStatus\":\"\",\"Self\":false,\"Status\":\"Down\","
		    "\"TLSStatus\":\"Unknown\"}\n"
		    "{\"Availability\":\"Active\",\"EngineVersion\":\"0.1.0\",\"Hostname\":\"node-"
		    "2\","
		    "\"ID\":\"" NODE2 "\",\"ManagerStatus\":\"Reachable\",\"Self\":true,\"Status\":"
		    "\"Ready\",\"TLSStatus\":\"Ready\"}\n"
		    "{\"Availability\":\"Active\",\"EngineVersion\":\"0.1.0\",\"Hostname\":\"node-"
		    "10\","
		    "\"ID\":\"" NODE10 "\",\"ManagerStatus\":\"Leader\",\"Self\":false,\"Status\":"
		    "\"Ready\",\"TLSStatus\":\"Ready\"}\n",
		    "format %s", formats[i]);
		run_free(&r);
	}
}

Test(cli_node, ls_custom_table_and_raw_templates)
{
	struct cli_run r;

	route_list();
	run_cli(&srv, &r, NULL, "node", "ls", "--format", "table {{.Hostname}}\\t{{.Status}}",
		NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "HOSTNAME   STATUS\n"
				"node-1     Down\n"
				"node-2     Ready\n"
				"node-10    Ready\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "ls", "--format", "{{.ID}}: {{upper .Availability}}", NULL);
	cr_expect_str_eq(r.out, NODE1 ": DRAIN\n" NODE2 ": ACTIVE\n" NODE10 ": ACTIVE\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "ls", "--format", "{{range .}}x{{end}}", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "template parsing error: ") == r.err, "got: %s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* inspect                                                                   */

Test(cli_node, inspect_prints_an_indented_array_like_docker)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/nodes/abc", 200,
		   "{\"ID\":\"abc\",\"Version\":{\"Index\":3},\"Spec\":{\"Labels\":{},\"Role\":"
		   "\"worker\"},\"Tags\":[]}");
	run_cli(&srv, &r, NULL, "node", "inspect", "abc", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "[\n"
				"    {\n"
				"        \"ID\": \"abc\",\n"
				"        \"Version\": {\n"
				"            \"Index\": 3\n"
				"        },\n"
				"        \"Spec\": {\n"
				"            \"Labels\": {},\n"
				"            \"Role\": \"worker\"\n"
				"        },\n"
				"        \"Tags\": []\n"
				"    }\n"
				"]\n");
	run_free(&r);
}

Test(cli_node, inspect_reports_missing_nodes_after_printing_the_others)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/nodes/abc", 200, "{\"ID\":\"abc\"}");
	fake_route(&srv, "GET", "/v1.41/nodes/nope", 404, "{\"message\":\"node nope not found\"}");
	run_cli(&srv, &r, NULL, "node", "inspect", "nope", "abc", "--format", "json", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "[{\"ID\":\"abc\"}]\n");
	cr_expect_str_eq(r.err, "Error response from daemon: node nope not found\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "inspect", "nope", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "[]\n");
	cr_expect_str_eq(r.err, "Error response from daemon: node nope not found\n");
	run_free(&r);
}

Test(cli_node, inspect_self_resolves_through_info)
{
	struct cli_run r;
	char *info = fake_fixture("info.json");

	fake_route(&srv, "GET", "/v1.41/info", 200, info);
	route_node(NODE2, 1);
	run_cli(&srv, &r, NULL, "node", "inspect", "self", "-f",
		"{{.Spec.Role}} {{json .Spec.Labels}}", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "manager {\"zone\":\"b\",\"ssd\":\"\"}\n");
	expect_req(&srv, 0, "GET", "/v1.41/info", NULL);
	expect_req(&srv, 1, "GET", "/v1.41/nodes/" NODE2, NULL);
	free(info);
	run_free(&r);
}

Test(cli_node, inspect_pretty_matches_docker_template)
{
	struct cli_run r;
	char *golden = fake_fixture("node_inspect_pretty.golden");

	route_node("node-2", 1);
	route_node("node-1", 2);
	run_cli(&srv, &r, NULL, "node", "inspect", "--pretty", "node-2", "node-1", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, golden);
	free(golden);
	run_free(&r);

	/* --pretty stops at the first failure and prints nothing. */
	run_cli(&srv, &r, NULL, "node", "inspect", "--pretty", "node-2", "gone", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	cr_expect_str_eq(r.err, "Error response from daemon: page not found\n");
	run_free(&r);
}

Test(cli_node, inspect_rejects_bad_templates_before_any_request)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "node", "inspect", "-f", "{{bogus .ID}}", "x", NULL);
	cr_expect_eq(r.status, 64);
	cr_expect_str_eq(r.err, "template parsing error: template: :1: function \"bogus\" not "
				"defined\n");
	cr_expect_eq(srv.nreqs, 0);
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "inspect", "--pretty", "-f", "pretty{{.ID}}", "x", NULL);
	cr_expect_eq(r.status, 1);
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* update, promote, demote                                                   */

Test(cli_node, update_availability_posts_the_complete_spec_with_version)
{
	struct cli_run r;

	route_node("node-1", 2);
	fake_route(&srv, "POST", "/v1.41/nodes/" NODE1 "/update", 200, "");
	run_cli(&srv, &r, NULL, "node", "update", "--availability", "drain", "node-1", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "node-1\n");
	cr_assert_eq(srv.nreqs, 2);
	expect_req(&srv, 0, "GET", "/v1.41/nodes/node-1", NULL);
	expect_req(&srv, 1, "POST", "/v1.41/nodes/" NODE1 "/update", "version=9");
	/* Labels null becomes {} as docker's mergeNodeUpdate does. */
	cr_expect_str_eq(fake_req(&srv, 1)->body,
			 "{\"Labels\":{},\"Role\":\"worker\",\"Availability\":\"drain\"}");
	cr_expect(strstr(fake_req(&srv, 1)->headers, "Content-Type: application/json\r\n"));
	cr_expect(strstr(fake_req(&srv, 1)->headers, "Content-Length: 52\r\n"), "headers: %s",
		  fake_req(&srv, 1)->headers);
	run_free(&r);
}

Test(cli_node, update_labels_and_role)
{
	struct cli_run r;

	route_node(NODE2, 1);
	fake_route(&srv, "POST", "/v1.41/nodes/" NODE2 "/update", 200, "");
	run_cli(&srv, &r, NULL, "node", "update", "--label-add", "a=1", "--label-add", "b",
		"--label-rm", "zone", "--role", "worker", NODE2, NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 1, "POST", "/v1.41/nodes/" NODE2 "/update", "version=17");
	expect_req_json(&srv, 1,
			"{\"Name\":\"second\",\"Labels\":{\"ssd\":\"\",\"a\":\"1\",\"b\":\"\"},"
			"\"Role\":\"worker\",\"Availability\":\"active\"}");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "update", "--label-rm", "nope", NODE2, NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "key nope doesn't exist in node's labels\n");
	cr_expect_eq(srv.nreqs, 3, "no POST after a failed merge");
	run_free(&r);
}

Test(cli_node, update_conflict_is_reported_from_the_daemon)
{
	struct cli_run r;

	route_node("node-1", 2);
	fake_route(&srv, "POST", "/v1.41/nodes/" NODE1 "/update", 409,
		   "{\"message\":\"update out of sequence\"}");
	run_cli(&srv, &r, NULL, "node", "update", "--role", "manager", "node-1", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	cr_expect_str_eq(r.err, "Error response from daemon: update out of sequence\n");
	run_free(&r);
}

Test(cli_node, promote_and_demote_messages)
{
	struct cli_run r;

	route_node("node-1", 2);
	route_node("node-2", 1);
	fake_route(&srv, "POST", "/v1.41/nodes/" NODE1 "/update", 200, "");
	fake_route(&srv, "POST", "/v1.41/nodes/" NODE2 "/update", 200, "");
	run_cli(&srv, &r, NULL, "node", "promote", "node-1", "node-2", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "Node node-1 promoted to a manager in the swarm.\n"
				"Node " NODE2 " is already a manager.\n");
	cr_assert_eq(srv.nreqs, 3);
	expect_req(&srv, 1, "POST", "/v1.41/nodes/" NODE1 "/update", "version=9");
	expect_req_json(&srv, 1,
			"{\"Labels\":null,\"Role\":\"manager\",\"Availability\":\"drain\"}");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "demote", "node-2", "node-1", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "Manager node-2 demoted in the swarm.\n"
				"Node " NODE1 " is already a worker.\n");
	expect_req(&srv, 4, "POST", "/v1.41/nodes/" NODE2 "/update", "version=17");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* rm, ps, usage                                                             */

Test(cli_node, rm_force_continues_past_errors)
{
	struct cli_run r;

	fake_route(&srv, "DELETE", "/v1.41/nodes/a", 200, "");
	fake_route(&srv, "DELETE", "/v1.41/nodes/b", 404, "{\"message\":\"node b not found\"}");
	fake_route(&srv, "DELETE", "/v1.41/nodes/c", 409,
		   "{\"message\":\"node c is not down and can't be removed\"}");
	run_cli(&srv, &r, NULL, "node", "rm", "-f", "a", "b", "c", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "a\n");
	cr_expect_str_eq(r.err, "Error response from daemon: node b not found\n"
				"Error response from daemon: node c is not down and can't be "
				"removed\n");
	expect_req(&srv, 0, "DELETE", "/v1.41/nodes/a", "force=1");
	expect_req(&srv, 2, "DELETE", "/v1.41/nodes/c", "force=1");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "remove", "a", NULL);
	cr_expect_eq(r.status, 0);
	expect_req(&srv, 3, "DELETE", "/v1.41/nodes/a", NULL);
	run_free(&r);
}

Test(cli_node, ps_lists_the_tasks_of_self)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/info", 200, "{\"Swarm\":{\"NodeID\":\"n1\"}}");
	fake_route(&srv, "GET", "/v1.41/nodes/n1", 200,
		   "{\"ID\":\"n1\",\"Description\":{\"Hostname\":\"host1\"}}");
	fake_route(&srv, "GET", "/v1.41/services/s1", 200,
		   "{\"ID\":\"s1\",\"Spec\":{\"Name\":\"web\"}}");
	fake_route(&srv, "GET", "/v1.41/tasks", 200,
		   "[{\"ID\":\"t1\",\"ServiceID\":\"s1\",\"NodeID\":\"n1\",\"Slot\":2,"
		   "\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"},"
		   "\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}}]");
	run_cli(&srv, &r, NULL, "node", "ps", "--format", "{{.Name}} {{.Node}}", NULL);
	cr_expect_eq(r.status, 0, "err: %s", r.err);
	cr_expect_str_eq(r.out, "web.2 host1\n");
	run_free(&r);
}

Test(cli_node, usage_errors_mirror_docker)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "node", "update", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "\"shoal node update\" requires exactly 1 argument.\n"
				"See 'shoal node update --help'.\n\n"
				"Usage:  shoal node update [OPTIONS] NODE\n\n"
				"Update a node\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "promote", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "\"shoal node promote\" requires at least 1 argument.\n"));
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "ls", "extra", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "\"shoal node ls\" accepts no arguments.\n"
				"See 'shoal node ls --help'.\n\n"
				"Usage:  shoal node ls [OPTIONS]\n\n"
				"List nodes in the swarm\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "ls", "--bogus", NULL);
	cr_expect_eq(r.status, 125);
	cr_expect_str_eq(r.err, "unknown flag: --bogus\nSee 'shoal node ls --help'.\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", "update", "--availability", NULL);
	cr_expect_eq(r.status, 125);
	cr_expect_str_eq(r.err, "flag needs an argument: --availability\n"
				"See 'shoal node update --help'.\n");
	run_free(&r);
	cr_expect_eq(srv.nreqs, 0, "usage errors send nothing");
}

Test(cli_node, help_goes_to_stdout_and_succeeds)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "node", "update", "--help", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "\nUsage:  shoal node update [OPTIONS] NODE\n\nUpdate a node\n\n"
				"Options:\n"),
		  "got: %s", r.out);
	cr_expect(strstr(r.out, "      --label-add list        Add or update a node label "
				"(\"key=value\")\n"),
		  "got: %s", r.out);
	run_free(&r);

	run_cli(&srv, &r, NULL, "node", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect_str_eq(r.out, "");
	cr_expect(strstr(r.err, "Usage:  shoal node COMMAND\n"), "got: %s", r.err);
	run_free(&r);
}
