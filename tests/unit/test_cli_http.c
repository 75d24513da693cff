/* cli/http.c and cli/api.c against a fake server: framing (Content-Length,
 * chunked, streamed), bounds, connection and daemon error wording, hosts,
 * escaping; plus `version` and `info` output. */
#include <jansson.h>

#include "cli/http.h"
#include "test_cli_fake.h"

#if defined(__x86_64__)
#define ARCH "amd64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#else
#define ARCH "unknown"
#endif

static struct fake_server srv;

static void setup(void)
{
	fake_start(&srv);
}

static void teardown(void)
{
	fake_stop(&srv);
}

TestSuite(cli_http, .init = setup, .fini = teardown);

struct collect {
	struct buf data;
	int calls;
};

static int collect_cb(void *p, const char *chunk, size_t len)
{
	struct collect *c = p;

	buf_append(&c->data, chunk, len);
	c->calls++;
	return 0;
}

static int stop_cb(void *p, const char *chunk, size_t len)
{
	(void) p;
	(void) chunk;
	(void) len;
	return 1;
}

Test(cli_http, content_length_reply_and_unversioned_ping)
{
	struct cli_http h;
	struct cli_http_req req = {.method = "GET", .path = "/_ping"};
	struct cli_http_resp resp;

	fake_route(&srv, "GET", "/_ping", 200, "OK");
	cr_assert_eq(cli_http_init(&h, srv.host), 0);
	cr_assert_eq(cli_http_do(&h, &req, &resp), 0, "%s", h.errmsg);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(resp.status_text, "OK");
	cr_expect_str_eq(resp.api_version, "1.41");
	cr_expect_str_eq(resp.content_type, "application/json");
	cr_expect_eq(resp.body.len, 2);
	cr_expect_str_eq((char *) resp.body.data, "OK");
	expect_req(&srv, 0, "GET", "/_ping", NULL);
	cli_http_resp_free(&resp);

	/* HEAD: the announced length has no body behind it. */
	fake_route(&srv, "HEAD", "/_ping", 200, "OK");
	req.method = "HEAD";
	cr_assert_eq(cli_http_do(&h, &req, &resp), 0, "%s", h.errmsg);
	cr_expect_eq(resp.status, 200);
	cr_expect_eq(resp.body.len, 0);
	cr_expect(strstr(fake_req(&srv, 0)->headers, "GET /_ping HTTP/1.1\r\nHost: "),
		  "headers: %s", fake_req(&srv, 0)->headers);
	cli_http_resp_free(&resp);
	cli_http_close(&h);
}

Test(cli_http, chunked_bodies_stream_through_the_callback)
{
	static const char text[] = "com.docker.swarm.node.id=abc hello, streamed world!\n";
	struct cli_http h;
	struct cli_http_req req = {
	    .method = "GET", .path = "/services/x/logs", .query = "follow=1"};
	struct cli_http_resp resp;
	struct collect c = {BUF_INIT, 0};

	fake_route(&srv, "GET", "/v1.41/services/x/logs", 200, text);
	fake_route_get(&srv, "GET", "/v1.41/services/x/logs")->chunked = 1;
	cr_assert_eq(cli_http_init(&h, srv.host), 0);
	req.body_cb = collect_cb;
	req.cb_data = &c;
	cr_assert_eq(cli_http_do(&h, &req, &resp), 0, "%s", h.errmsg);
	cr_expect_eq(resp.status, 200);
	cr_expect_eq(resp.body.len, 0, "streamed bodies are not buffered");
	cr_expect_gt(c.calls, 3, "one callback per chunk, got %d", c.calls);
	cr_assert_eq(c.data.len, strlen(text));
	cr_expect(memcmp(c.data.data, text, c.data.len) == 0);
	expect_req(&srv, 0, "GET", "/v1.41/services/x/logs", "follow=1");
	cli_http_resp_free(&resp);

	/* Without a callback the chunks are reassembled into the body. */
	req.body_cb = NULL;
	cr_assert_eq(cli_http_do(&h, &req, &resp), 0, "%s", h.errmsg);
	cr_expect_str_eq((char *) resp.body.data, text);
	cli_http_resp_free(&resp);

	/* A callback can stop the transfer. */
	req.body_cb = stop_cb;
	cr_expect_eq(cli_http_do(&h, &req, &resp), -ECANCELED);
	cli_http_resp_free(&resp);
	buf_free(&c.data);
	cli_http_close(&h);
}

Test(cli_http, buffered_bodies_are_bounded)
{
	struct cli_http h;
	struct cli_http_req req = {.method = "GET", .path = "/nodes"};
	struct cli_http_resp resp;

	fake_route(&srv, "GET", "/v1.41/nodes", 200, "[\"0123456789\"]");
	cr_assert_eq(cli_http_init(&h, srv.host), 0);
	h.max_body = 8;
	cr_expect_eq(cli_http_do(&h, &req, &resp), -EMSGSIZE);
	cr_expect_str_eq(h.errmsg, "error reading response: body larger than 8 bytes");
	cr_expect_eq(resp.body.data, NULL);
	cli_http_resp_free(&resp);
	cli_http_close(&h);
}

Test(cli_http, post_bodies_carry_json_type_and_length)
{
	struct cli_http h;
	struct cli_http_req req = {
	    .method = "POST", .path = "/swarm/unlock", .body = "{\"a\":1}", .body_len = 7};
	struct cli_http_resp resp;

	fake_route(&srv, "POST", "/v1.41/swarm/unlock", 200, "");
	cr_assert_eq(cli_http_init(&h, srv.host), 0);
	cr_assert_eq(cli_http_do(&h, &req, &resp), 0, "%s", h.errmsg);
	cr_expect_eq(resp.body.len, 0);
	cr_expect(strstr(fake_req(&srv, 0)->headers, "\r\nContent-Type: application/json\r\n"));
	cr_expect(strstr(fake_req(&srv, 0)->headers, "\r\nContent-Length: 7\r\n"));
	cr_expect(strstr(fake_req(&srv, 0)->headers, "\r\nConnection: close\r\n"));
	cr_expect_str_eq(fake_req(&srv, 0)->body, "{\"a\":1}");
	cli_http_resp_free(&resp);
	cli_http_close(&h);
}

Test(cli_http, refused_connections_say_the_daemon_is_not_running)
{
	struct cli_run r;
	char host[256];
	int fd, port;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	snprintf(host, sizeof(host), "unix://%s/missing.sock", srv.dir);
	run_cli(NULL, &r, NULL, "-H", host, "node", "ls", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "Cannot connect to the shoal daemon at %s. Is the shoal daemon running?\n",
			 host);
		cr_expect_str_eq(r.err, want);
	}
	run_free(&r);

	/* A TCP port nobody listens on. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", port);
	run_cli(NULL, &r, NULL, "-H", host, "swarm", "leave", NULL);
	cr_expect_eq(r.status, 1);
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "Cannot connect to the shoal daemon at %s. Is the shoal daemon running?\n",
			 host);
		cr_expect_str_eq(r.err, want);
	}
	run_free(&r);
}

Test(cli_http, daemon_errors_are_worded_like_the_moby_client)
{
	struct cli_run r;
	char want[512];
	char *esc;
	struct buf b = BUF_INIT;

	fake_route(&srv, "GET", "/v1.41/nodes/a", 404, "{\"message\":\"node a not found\"}\n");
	fake_route(&srv, "GET", "/v1.41/nodes/b", 500, "  boom\n");
	fake_route_get(&srv, "GET", "/v1.41/nodes/b")->content_type[0] = '\0';
	fake_route(&srv, "GET", "/v1.41/nodes/c", 400, "{\"error\":\"x\"}");
	fake_route(&srv, "GET", "/v1.41/nodes/d", 404, "");
	fake_route(&srv, "GET", "/v1.41/nodes/e", 200, "{not json");
	run_cli(&srv, &r, NULL, "node", "inspect", "a", "b", "c", "d", "e", NULL);
	cr_expect_eq(r.status, 1);
	cli_http_query_escape(&b, srv.dir);
	buf_append_u8(&b, '\0');
	esc = (char *) b.data;
	snprintf(want, sizeof(want),
		 "Error response from daemon: node a not found\n"
		 "Error response from daemon: boom\n"
		 "Error response from daemon: API returned a 400 (Bad Request) but provided no "
		 "error-message\n"
		 "request returned 404 Not Found for API route and version "
		 "http://%s%%2Fapi.sock/v1.41/nodes/d, check if the server supports the requested "
		 "API version\n",
		 esc);
	cr_expect(strncmp(r.err, want, strlen(want)) == 0, "got:\n%s\nwant:\n%s", r.err, want);
	cr_expect(strstr(r.err, "error decoding the daemon's reply to GET /nodes/e: "), "got: %s",
		  r.err);
	cr_expect_str_eq(r.out, "[]\n");
	buf_free(&b);
	run_free(&r);
}

Test(cli_http, hosts_env_and_escaping)
{
	struct cli_run r;
	struct buf b = BUF_INIT;

	run_cli(NULL, &r, NULL, "-H", "http://x", "version", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "invalid host http://x: use unix:///PATH or tcp://HOST:PORT\n");
	run_free(&r);

	/* SHOAL_HOST is used without -H. */
	cr_assert_eq(setenv("SHOAL_HOST", srv.host, 1), 0);
	fake_route(&srv, "GET", "/v1.41/nodes/a%20b%2Fc", 200, "{\"ID\":\"x\"}");
	run_cli(NULL, &r, NULL, "node", "inspect", "-f", "{{.ID}}", "a b/c", NULL);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	expect_req(&srv, 0, "GET", "/v1.41/nodes/a%20b%2Fc", NULL);
	unsetenv("SHOAL_HOST");
	run_free(&r);

	cli_http_query_escape(&b, "a b&c=d/\xc3\xa9~_-.");
	buf_append_u8(&b, '\0');
	cr_expect_str_eq((char *) b.data, "a+b%26c%3Dd%2F%C3%A9~_-.");
	buf_free(&b);
}

Test(cli_http, tcp_hosts_work)
{
	struct fake_server tcp;
	struct cli_run r;

	fake_start_tcp(&tcp);
	fake_route(&tcp, "POST", "/v1.41/swarm/leave", 200, "");
	run_cli(&tcp, &r, NULL, "swarm", "leave", NULL);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "Node left the swarm.\n");
	cr_expect_eq(tcp.nreqs, 1);
	run_free(&r);
	fake_stop(&tcp);
}

Test(cli_http, version_prints_client_and_server)
{
	struct cli_run r;

	fake_route(&srv, "GET", "/v1.41/version", 200,
		   "{\"Platform\":{\"Name\":\"shoal\"},\"Components\":[{\"Name\":\"Engine\","
		   "\"Version\":\"0.2.0\",\"Details\":{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":"
		   "\"1.24\",\"GitCommit\":\"abc1234\",\"Os\":\"linux\",\"Arch\":\"amd64\"}},"
		   "{\"Name\":\"runc\",\"Version\":\"1.1.5\",\"Details\":{\"GitCommit\":"
		   "\"v1.1.5-0-gf19387a\"}}],\"Version\":\"0.2.0\",\"ApiVersion\":\"1.41\"}");
	run_cli(&srv, &r, NULL, "version", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "Client:\n"
				" Version:           " SHOAL_VERSION "\n"
				" API version:       1.41\n"
				" OS/Arch:           linux/" ARCH "\n"
				"\n"
				"Server: shoal\n"
				" Engine:\n"
				"  Version:          0.2.0\n"
				"  API version:      1.41 (minimum version 1.24)\n"
				"  Git commit:       abc1234\n"
				"  OS/Arch:          linux/amd64\n"
				"  Experimental:     false\n"
				" runc:\n"
				"  Version:          1.1.5\n"
				"  GitCommit:        v1.1.5-0-gf19387a\n");
	run_free(&r);

	run_cli(&srv, &r, NULL, "version", "--format", "{{.Server.Version}} {{.Client.ApiVersion}}",
		NULL);
	cr_expect_str_eq(r.out, "0.2.0 1.41\n");
	run_free(&r);
}

Test(cli_http, info_prints_the_swarm_section_like_docker)
{
	struct cli_run r;
	char *info = fake_fixture("info.json"), *golden = fake_fixture("info.golden");
	char *at = strstr(golden, "@VERSION@"), *want = NULL;

	cr_assert(at, "info.golden has a @VERSION@ placeholder");
	cr_assert_gt(
	    asprintf(&want, "%.*s%s%s", (int) (at - golden), golden, SHOAL_VERSION, at + 9), 0);

	fake_route(&srv, "GET", "/v1.41/info", 200, info);
	run_cli(&srv, &r, NULL, "info", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, want);
	run_free(&r);

	run_cli(&srv, &r, NULL, "info", "-f", "{{.Swarm.NodeID}} {{.Swarm.Cluster.SubnetSize}}",
		NULL);
	cr_expect_str_eq(r.out, "ajvz3vd2pv6pdmhbtwdkilvbo 24\n");
	run_free(&r);

	/* Without a daemon: the client part, then the error. */
	fake_route(&srv, "GET", "/v1.41/info", 503, "{\"message\":\"down\"}");
	run_cli(&srv, &r, NULL, "info", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "Client:\n Version:    " SHOAL_VERSION "\n Context:    default\n"
				" Debug Mode: false\n\nServer:\n");
	cr_expect_str_eq(r.err, "ERROR: Error response from daemon: down\n"
				"errors pretty printing info\n");
	run_free(&r);
	free(info);
	free(golden);
	free(want);
}

Test(cli_http, root_usage_and_unknown_commands)
{
	struct cli_run r;

	run_cli(NULL, &r, NULL, "bogus", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "shoal: 'bogus' is not a shoal command.\nSee 'shoal --help'\n");
	run_free(&r);

	run_cli(NULL, &r, NULL, "--bogus", NULL);
	cr_expect_eq(r.status, 125);
	cr_expect_str_eq(r.err, "unknown flag: --bogus\nSee 'shoal --help'.\n");
	run_free(&r);

	run_cli(NULL, &r, NULL, "--version", NULL);
	cr_expect_eq(r.status, 0);
	cr_expect_str_eq(r.out, "shoal version " SHOAL_VERSION "\n");
	run_free(&r);

	run_cli(NULL, &r, NULL, NULL);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "Usage:  shoal [OPTIONS] COMMAND\n"), "got: %s", r.out);
	run_free(&r);

	run_cli(NULL, &r, NULL, "stack", "ls", NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err, "\"shoal stack ls\" is not implemented yet\n");
	run_free(&r);
}
