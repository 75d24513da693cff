/* `shoal secret ...` and `shoal config ...` against a fake Engine API:
 * requests sent (create bodies carry base64 data and labels), tables,
 * inspect, rm messages and exit codes. */
#include <jansson.h>
#include <time.h>

#include "test_cli_fake.h"

#define SID1 "ktnbjxoalbkvbvedmg1urrz8h"
#define SID2 "mpw3ah2ovqz2krvb7d9ldbrl0"
#define CID1 "vxjuyb7v3hlnt59pzs9wvfp0b"

static struct fake_server srv;

static void setup(void)
{
	fake_start(&srv);
}

static void teardown(void)
{
	fake_stop(&srv);
}

TestSuite(cli_secret, .init = setup, .fini = teardown);

/* Writes `content` to a fresh temporary file; returns its path (static). */
static const char *tmp_file(const char *content)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/shoal-secret-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
	close(fd);
	return path;
}

/* ------------------------------------------------------------------------ */
/* create                                                                    */

Test(cli_secret, create_from_file_sends_base64_data_and_labels)
{
	struct cli_run r;
	const char *f = tmp_file("s3cr3t\n");

	fake_route(&srv, "POST", "/v1.41/secrets/create", 201, "{\"ID\":\"" SID1 "\"}");
	run_cli(&srv, &r, NULL, "secret", "create", "-l", "env=prod", "--label", "team",
		"--label=a=b=c", "db_pass", f, NULL);
	unlink(f);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, SID1 "\n");
	cr_expect_str_eq(r.err, "");
	cr_assert_eq(srv.nreqs, 1);
	expect_req(&srv, 0, "POST", "/v1.41/secrets/create", NULL);
	expect_req_json(&srv, 0,
			"{\"Name\":\"db_pass\",\"Labels\":{\"env\":\"prod\",\"team\":\"\","
			"\"a\":\"b=c\"},\"Data\":\"czNjcjN0Cg==\"}");
	run_free(&r);
}

Test(cli_secret, create_reads_stdin_for_dash)
{
	struct cli_run r;

	fake_route(&srv, "POST", "/v1.41/secrets/create", 201, "{\"ID\":\"" SID2 "\"}");
	run_cli(&srv, &r, "hello, world", "secret", "create", "greeting", "-", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, SID2 "\n");
	expect_req_json(&srv, 0,
			"{\"Name\":\"greeting\",\"Labels\":{},\"Data\":\"aGVsbG8sIHdvcmxk\"}");
	run_free(&r);
}

Test(cli_secret, create_data_errors_are_dockers_and_send_nothing)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "secret", "create", "x", "-", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "error reading from STDIN: data is empty\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "create", "x", "/nonexistent/f", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "error reading from /nonexistent/f: open /nonexistent/f: no such "
				"file or directory\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "create", "x", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "secret file is required\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "create", "-d", "vault", "x", "-", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "When using secret driver secret data must be empty\n");
	run_free(&r);
	cr_expect_eq(srv.nreqs, 0);
}

Test(cli_secret, create_with_driver_sends_no_data)
{
	struct cli_run r;

	fake_route(&srv, "POST", "/v1.41/secrets/create", 201, "{\"ID\":\"" SID1 "\"}");
	run_cli(&srv, &r, NULL, "secret", "create", "--driver", "vault", "--template-driver",
		"golang", "x", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req_json(&srv, 0,
			"{\"Name\":\"x\",\"Labels\":{},\"Driver\":{\"Name\":\"vault\"},"
			"\"Templating\":{\"Name\":\"golang\"}}");
	run_free(&r);
}

Test(cli_secret, create_usage_and_label_errors)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "secret", "create", "a", "b", "c", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err,
			 "\"shoal secret create\" requires at least 1 and at most 2 arguments.\n"
			 "See 'shoal secret create --help'.\n\nUsage:  shoal secret create "
			 "[OPTIONS] SECRET [file|-]\n\nCreate a secret from a file or STDIN as "
			 "content\n");
	run_free(&r);

	run_cli(&srv, &r, "x", "secret", "create", "-l", "=v", "a", "-", NULL);
	cr_expect_eq(r.status, 125);
	cr_expect_str_eq(r.err, "invalid argument \"=v\" for \"-l, --label\" flag: invalid label "
				"'=v': empty name\nSee 'shoal secret create --help'.\n");
	run_free(&r);
	cr_expect_eq(srv.nreqs, 0);
}

Test(cli_secret, create_daemon_error)
{
	struct cli_run r;

	fake_route(&srv, "POST", "/v1.41/secrets/create", 409,
		   "{\"message\":\"secret db_pass already exists\"}");
	run_cli(&srv, &r, "x", "secret", "create", "db_pass", "-", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	cr_expect_str_eq(r.err, "Error response from daemon: secret db_pass already exists\n");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* ls                                                                        */

static void route_secrets(void)
{
	char t3h[64], t10m[64], body[1024];

	fake_ts_ago(3 * 3600, t3h, sizeof(t3h));
	fake_ts_ago(10 * 60, t10m, sizeof(t10m));
	snprintf(body, sizeof(body),
		 "[{\"ID\":\"" SID1 "\",\"Version\":{\"Index\":11},\"CreatedAt\":\"%s\","
		 "\"UpdatedAt\":\"%s\",\"Spec\":{\"Name\":\"db10\",\"Labels\":{\"b\":\"2\","
		 "\"a\":\"1\"}}},"
		 "{\"ID\":\"" SID2 "\",\"Version\":{\"Index\":12},\"CreatedAt\":\"%s\","
		 "\"UpdatedAt\":\"%s\",\"Spec\":{\"Name\":\"db2\",\"Labels\":{},"
		 "\"Driver\":{\"Name\":\"vault\"}}}]",
		 t3h, t10m, t3h, t3h);
	fake_route(&srv, "GET", "/v1.41/secrets", 200, body);
}

Test(cli_secret, ls_table_sorted_naturally_by_name)
{
	struct cli_run r;
	char want[1024];

	route_secrets();
	run_cli(&srv, &r, NULL, "secret", "ls", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	snprintf(want, sizeof(want),
		 "%-28s%-10s%-10s%-14s%s\n%-28s%-10s%-10s%-14s%s\n"
		 "%-28s%-10s%-10s%-14s%s\n",
		 "ID", "NAME", "DRIVER", "CREATED", "UPDATED", SID2, "db2", "vault", "3 hours ago",
		 "3 hours ago", SID1, "db10", "", "3 hours ago", "10 minutes ago");
	cr_expect_str_eq(r.out, want);
	expect_req(&srv, 0, "GET", "/v1.41/secrets", NULL);
	run_free(&r);
}

Test(cli_secret, ls_quiet_filters_and_json)
{
	struct cli_run r;

	route_secrets();
	run_cli(&srv, &r, NULL, "secret", "list", "-q", "-f", "name=db", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, SID2 "\n" SID1 "\n");
	expect_req(&srv, 0, "GET", "/v1.41/secrets",
		   "filters=%7B%22name%22%3A%7B%22db%22%3Atrue%7D%7D");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "ls", "--format", "{{.Name}} {{.Labels}}", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "db2 \ndb10 a=1,b=2\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "ls", "--format", "json", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect(strstr(r.out, "{\"CreatedAt\":\"3 hours ago\",\"Driver\":\"vault\",\"ID\":\"" SID2
				"\",\"Labels\":\"\",\"Name\":\"db2\",\"UpdatedAt\":\"3 hours "
				"ago\"}\n") == r.out,
		  "got %s", r.out);
	run_free(&r);
}

Test(cli_secret, ls_empty_prints_header)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/configs", 200, "[]");
	run_cli(&srv, &r, NULL, "config", "ls", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "ID        NAME      CREATED   UPDATED\n");
	expect_req(&srv, 0, "GET", "/v1.41/configs", NULL);
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* inspect                                                                   */

#define SECRET_JSON                                                                                \
	"{\"ID\":\"" SID1 "\",\"Version\":{\"Index\":11},\"CreatedAt\":\"2016-06-07T20:31:11."     \
	"853781916Z\",\"UpdatedAt\":\"2016-06-07T20:31:11.853781916Z\",\"Spec\":{\"Name\":"        \
	"\"db_pass\",\"Labels\":{\"team\":\"\",\"env\":\"prod\"}}}"

Test(cli_secret, inspect_json_template_and_errors)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/secrets/db_pass", 200, SECRET_JSON);
	fake_route(&srv, "GET", "/v1.41/secrets/nope", 404,
		   "{\"message\":\"secret nope not found\"}");
	run_cli(&srv, &r, NULL, "secret", "inspect", "-f", "{{.ID}} {{.Spec.Name}}", "db_pass",
		NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, SID1 " db_pass\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "inspect", "nope", "db_pass", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.out, "[\n    {\n        \"ID\": \"" SID1 "\",", 30) == 0, "got %s",
		  r.out);
	cr_expect_str_eq(r.err, "Error response from daemon: secret nope not found\n");
	expect_req(&srv, 1, "GET", "/v1.41/secrets/nope", NULL);
	run_free(&r);
}

Test(cli_secret, inspect_pretty)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/secrets/db_pass", 200, SECRET_JSON);
	run_cli(&srv, &r, NULL, "secret", "inspect", "--pretty", "db_pass", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "ID:              " SID1 "\n"
				"Name:              db_pass\n"
				"Labels:\n - env=prod\n - team\n"
				"Driver:            \n"
				"Created at:        2016-06-07 20:31:11.853781916 +0000 utc\n"
				"Updated at:        2016-06-07 20:31:11.853781916 +0000 utc\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "inspect", "--format", "pretty{{.ID}}", "db_pass", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "cannot supply extra formatting options to the pretty template\n");
	run_free(&r);
}

Test(cli_secret, config_inspect_pretty_shows_data_as_text)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/configs/web.conf", 200,
		   "{\"ID\":\"" CID1
		   "\",\"Version\":{\"Index\":3},\"CreatedAt\":\"2016-06-07T20:31:"
		   "11Z\",\"UpdatedAt\":\"2016-06-07T20:31:11Z\",\"Spec\":{\"Name\":\"web.conf\","
		   "\"Labels\":{},\"Data\":\"bGlzdGVuIDgwCg==\"}}");
	run_cli(&srv, &r, NULL, "config", "inspect", "--pretty", "web.conf", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "ID:\t\t\t" CID1 "\nName:\t\t\tweb.conf\n"
				"Created at:            \t2016-06-07 20:31:11 +0000 utc\n"
				"Updated at:            \t2016-06-07 20:31:11 +0000 utc\n"
				"Data:\nlisten 80\n\n");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* rm                                                                        */

Test(cli_secret, rm_continues_past_errors_and_fails)
{
	struct cli_run r;

	fake_route(&srv, "DELETE", "/v1.41/secrets/a", 204, "");
	fake_route(&srv, "DELETE", "/v1.41/secrets/b", 404, "{\"message\":\"secret b not found\"}");
	fake_route(&srv, "DELETE", "/v1.41/secrets/c", 204, "");
	fake_route(&srv, "DELETE", "/v1.41/secrets/d", 400,
		   "{\"message\":\"secret 'd' is in use by the following service: web\"}");
	run_cli(&srv, &r, NULL, "secret", "rm", "a", "b", "c", "d", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "a\nc\n");
	cr_expect_str_eq(r.err, "Error response from daemon: secret b not found\n"
				"Error response from daemon: secret 'd' is in use by the following "
				"service: web\n");
	cr_expect_eq(srv.nreqs, 4);
	expect_req(&srv, 3, "DELETE", "/v1.41/secrets/d", NULL);
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "remove", "a", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect_str_eq(r.out, "a\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "secret", "rm", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "\"shoal secret rm\" requires at least 1 argument.", 47) == 0,
		  "got %s", r.err);
	run_free(&r);
}

Test(cli_secret, config_rm)
{
	struct cli_run r;

	fake_route(&srv, "DELETE", "/v1.41/configs/web.conf", 204, "");
	run_cli(&srv, &r, NULL, "config", "rm", "web.conf", "x", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "web.conf\n");
	cr_expect_str_eq(r.err, "Error response from daemon: page not found\n");
	run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* config create                                                             */

Test(cli_secret, config_create_from_stdin_and_file)
{
	struct cli_run r;
	const char *f;

	fake_route(&srv, "POST", "/v1.41/configs/create", 201, "{\"ID\":\"" CID1 "\"}");
	run_cli(&srv, &r, "listen 80", "config", "create", "-l", "app=web", "web.conf", "-", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, CID1 "\n");
	expect_req(&srv, 0, "POST", "/v1.41/configs/create", NULL);
	expect_req_json(&srv, 0,
			"{\"Name\":\"web.conf\",\"Labels\":{\"app\":\"web\"},"
			"\"Data\":\"bGlzdGVuIDgw\"}");
	run_free(&r);

	f = tmp_file("a");
	run_cli(&srv, &r, NULL, "config", "create", "c2", f, NULL);
	unlink(f);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	expect_req_json(&srv, 1, "{\"Name\":\"c2\",\"Labels\":{},\"Data\":\"YQ==\"}");
	run_free(&r);
}

Test(cli_secret, config_create_errors)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "config", "create", "c", "-", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "Error reading content from \"-\": error reading from STDIN: data "
				"is empty\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "config", "create", "c", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect(strncmp(r.err, "\"shoal config create\" requires exactly 2 arguments.", 50) == 0,
		  "got %s", r.err);
	run_free(&r);
	cr_expect_eq(srv.nreqs, 0);
}

Test(cli_secret, groups_print_help_and_commands)
{
	struct cli_run r;

	run_cli(&srv, &r, NULL, "secret", "--help", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "create") && strstr(r.out, "inspect") && strstr(r.out, "rm"),
		  "got %s", r.out);
	run_free(&r);
}
