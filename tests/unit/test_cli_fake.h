/* A fake Engine API server for the CLI tests, and a runner for cli_main().
 *
 * The server is a thread accepting on a unix socket in a fresh temporary
 * directory (or on 127.0.0.1:<ephemeral>). It answers each request from a
 * table of canned routes (method + path without the query) and records what
 * it received: method, target, path, query and body. An unknown route gets
 * 404 {"message":"page not found"}. Requests are served one per connection,
 * as cli/http.c sends them.
 *
 * run_cli() prepends "-H <host>" and captures stdout and stderr. */
#ifndef SHOAL_TESTS_TEST_CLI_FAKE_H
#define SHOAL_TESTS_TEST_CLI_FAKE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define FAKE_FN		static __attribute__((unused))
#define FAKE_MAX_ROUTES 32
#define FAKE_MAX_REQS	64

struct fake_route {
	char method[16];
	char path[256]; /* e.g. "/v1.41/nodes" */
	int status;
	char content_type[64];
	char *body;	 /* owned */
	int chunked;	 /* Transfer-Encoding: chunked, 5-byte chunks */
	size_t body_len; /* bytes of body (binary bodies may hold NULs) */
	char *seq[16];	 /* scripted bodies: request i gets seq[min(i, nseq-1)] */
	size_t nseq, pos;
};

struct fake_req {
	char method[16];
	char target[2048];
	char path[1024];
	char query[1024];
	char headers[4096]; /* the raw request head */
	char *body;	    /* owned, NUL-terminated */
	size_t body_len;
};

struct fake_server {
	char dir[64];
	char host[200];
	int lfd;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t mu;
	struct fake_route routes[FAKE_MAX_ROUTES];
	size_t nroutes;
	struct fake_req reqs[FAKE_MAX_REQS];
	size_t nreqs;
	size_t dropped; /* requests answered but not recorded */
};

struct cli_run {
	int status;
	char *out;
	char *err;
};

/* Reads a fixture under tests/data/cli/ (caller frees). */
FAKE_FN char *fake_fixture(const char *name)
{
	char path[512];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/cli/%s", SHOAL_TEST_DATA, name);
	f = fopen(path, "rb");
	cr_assert(f, "fixture %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t) n + 1);
	cr_assert(s);
	cr_assert_eq(fread(s, 1, (size_t) n, f), (size_t) n);
	s[n] = '\0';
	fclose(f);
	return s;
}

FAKE_FN struct fake_route *fake_route_get(struct fake_server *s, const char *method,
					  const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].method, method) && !strcmp(s->routes[i].path, path))
			return &s->routes[i];
	return NULL;
}

/* Adds (or replaces) the reply for METHOD PATH (PATH without the query). */
FAKE_FN void fake_route(struct fake_server *s, const char *method, const char *path, int status,
			const char *body)
{
	struct fake_route *r = NULL;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].method, method) && !strcmp(s->routes[i].path, path))
			r = &s->routes[i];
	if (!r) {
		cr_assert_lt(s->nroutes, FAKE_MAX_ROUTES);
		r = &s->routes[s->nroutes++];
	} else {
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->content_type, sizeof(r->content_type), "application/json");
	r->status = status;
	r->body = strdup(body ? body : "");
	r->body_len = strlen(r->body);
	pthread_mutex_unlock(&s->mu);
}

/* A route whose successive requests get bodies[0], bodies[1], ... (the last
 * one repeats). */
FAKE_FN void fake_route_seq(struct fake_server *s, const char *method, const char *path, int status,
			    size_t n, const char *const *bodies)
{
	struct fake_route *r;

	cr_assert(n > 0 && n <= 16);
	fake_route(s, method, path, status, bodies[0]);
	pthread_mutex_lock(&s->mu);
	r = fake_route_get(s, method, path);
	for (size_t i = 0; i < n; i++)
		r->seq[i] = strdup(bodies[i]);
	r->nseq = n;
	pthread_mutex_unlock(&s->mu);
}

/* A route with a binary body of `len` bytes. */
FAKE_FN void fake_route_bin(struct fake_server *s, const char *method, const char *path, int status,
			    const void *body, size_t len, int chunked)
{
	struct fake_route *r;

	fake_route(s, method, path, status, "");
	pthread_mutex_lock(&s->mu);
	r = fake_route_get(s, method, path);
	free(r->body);
	r->body = malloc(len + 1);
	memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->body_len = len;
	r->chunked = chunked;
	pthread_mutex_unlock(&s->mu);
}

static const char *fake_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 409:
		return "Conflict";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static void fake_write(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t) w;
	}
}

static void fake_serve_one(struct fake_server *s, int fd)
{
	char head[16384], hdr[512];
	size_t len = 0, clen = 0;
	char *end = NULL, *cl;
	struct fake_req *rq;
	struct fake_route *r;
	const char *body;
	char *q;

	while (!end && len < sizeof(head) - 1) {
		ssize_t n = recv(fd, head + len, sizeof(head) - 1 - len, 0);

		if (n <= 0)
			return;
		len += (size_t) n;
		head[len] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (!end)
		return;
	pthread_mutex_lock(&s->mu);
	/* Past the record limit requests are still answered, into a scratch
	 * slot (polling commands make many). */
	if (s->nreqs >= FAKE_MAX_REQS) {
		free(s->reqs[FAKE_MAX_REQS - 1].body);
		rq = &s->reqs[FAKE_MAX_REQS - 1];
		s->dropped++;
	} else {
		rq = &s->reqs[s->nreqs++];
	}
	memset(rq, 0, sizeof(*rq));
	sscanf(head, "%15s %2047s", rq->method, rq->target);
	snprintf(rq->headers, sizeof(rq->headers), "%.*s", (int) (end + 4 - head), head);
	{
		size_t tl = strnlen(rq->target, sizeof(rq->path) - 1);

		memcpy(rq->path, rq->target, tl);
		rq->path[tl] = '\0';
	}
	q = strchr(rq->path, '?');
	if (q) {
		size_t ql = strnlen(q + 1, sizeof(rq->query) - 1);

		memcpy(rq->query, q + 1, ql);
		rq->query[ql] = '\0';
		*q = '\0';
	}
	for (cl = head; (cl = strcasestr(cl, "\r\ncontent-length:")); cl++)
		clen = strtoul(cl + 17, NULL, 10);
	rq->body = calloc(1, clen + 1);
	rq->body_len = clen;
	{
		size_t have = len - (size_t) (end + 4 - head);

		if (have > clen)
			have = clen;
		memcpy(rq->body, end + 4, have);
		while (have < clen) {
			ssize_t n = recv(fd, rq->body + have, clen - have, 0);

			if (n <= 0)
				break;
			have += (size_t) n;
		}
	}
	r = fake_route_get(s, rq->method, rq->path);
	if (r && r->nseq) {
		free(r->body);
		r->body = strdup(r->seq[r->pos < r->nseq ? r->pos : r->nseq - 1]);
		r->body_len = strlen(r->body);
		r->pos++;
	}
	if (!r) {
		body = "{\"message\":\"page not found\"}";
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 strlen(body));
		fake_write(fd, hdr, strlen(hdr));
		fake_write(fd, body, strlen(body));
	} else if (r->chunked) {
		size_t bl = r->body_len;

		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
			 r->status, fake_status_text(r->status), r->content_type);
		fake_write(fd, hdr, strlen(hdr));
		for (size_t off = 0; off < bl; off += 5) {
			size_t n = bl - off < 5 ? bl - off : 5;

			snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
			fake_write(fd, hdr, strlen(hdr));
			fake_write(fd, r->body + off, n);
			fake_write(fd, "\r\n", 2);
		}
		fake_write(fd, "0\r\n\r\n", 5);
	} else {
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\n%s%s%sContent-Length: %zu\r\n\r\n",
			 r->status, fake_status_text(r->status),
			 r->content_type[0] ? "Content-Type: " : "", r->content_type,
			 r->content_type[0] ? "\r\n" : "", r->body_len);
		fake_write(fd, hdr, strlen(hdr));
		fake_write(fd, r->body, r->body_len);
	}
	pthread_mutex_unlock(&s->mu);
}

static void *fake_loop(void *arg)
{
	struct fake_server *s = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
				      {.fd = s->stop[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

static void fake_init(struct fake_server *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	cr_assert_eq(pipe(s->stop), 0);
}

FAKE_FN void fake_start(struct fake_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	fake_init(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/shoal-cli-XXXXXX");
	cr_assert(mkdtemp(s->dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/api.sock", s->dir);
	snprintf(s->host, sizeof(s->host), "unix://%s", sa.sun_path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->lfd, 0);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->lfd, 16), 0);
	cr_assert_eq(pthread_create(&s->thread, NULL, fake_loop, s), 0);
}

FAKE_FN void fake_start_tcp(struct fake_server *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	fake_init(s);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->lfd, 0);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(s->lfd, (struct sockaddr *) &sa, &sl), 0);
	cr_assert_eq(listen(s->lfd, 16), 0);
	snprintf(s->host, sizeof(s->host), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
	cr_assert_eq(pthread_create(&s->thread, NULL, fake_loop, s), 0);
}

FAKE_FN void fake_stop(struct fake_server *s)
{
	char path[128];

	cr_assert_eq(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	if (s->dir[0]) {
		snprintf(path, sizeof(path), "%s/api.sock", s->dir);
		unlink(path);
		rmdir(s->dir);
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		free(s->routes[i].body);
		for (size_t j = 0; j < s->routes[i].nseq; j++)
			free(s->routes[i].seq[j]);
	}
	for (size_t i = 0; i < s->nreqs; i++)
		free(s->reqs[i].body);
	pthread_mutex_destroy(&s->mu);
}

/* Runs `shoal -H <host> args...` (NULL-terminated) with `in` as stdin text
 * (NULL for an empty stdin). */
FAKE_FN void run_cli_host(const char *host, struct cli_run *r, const char *in, va_list ap)
{
	char *argv[160];
	int argc = 0;
	size_t olen = 0, elen = 0;
	FILE *out, *err, *fin;
	const char *a;

	memset(r, 0, sizeof(*r));
	argv[argc++] = "shoal";
	if (host) {
		argv[argc++] = "-H";
		argv[argc++] = (char *) host;
	}
	while ((a = va_arg(ap, const char *)) && argc < 159)
		argv[argc++] = (char *) a;
	argv[argc] = NULL;
	out = open_memstream(&r->out, &olen);
	err = open_memstream(&r->err, &elen);
	fin = in && *in ? fmemopen((void *) in, strlen(in), "r") : fopen("/dev/null", "r");
	cr_assert(out && err && fin);
	r->status = cli_main_io(argc, argv, fin, out, err);
	fclose(out);
	fclose(err);
	fclose(fin);
}

FAKE_FN void run_cli(struct fake_server *s, struct cli_run *r, const char *in, ...)
{
	va_list ap;

	va_start(ap, in);
	run_cli_host(s ? s->host : NULL, r, in, ap);
	va_end(ap);
}

FAKE_FN void run_free(struct cli_run *r)
{
	free(r->out);
	free(r->err);
}

/* The i-th recorded request. */
FAKE_FN struct fake_req *fake_req(struct fake_server *s, size_t i)
{
	cr_assert_lt(i, s->nreqs, "only %zu requests recorded, wanted #%zu", s->nreqs, i);
	return &s->reqs[i];
}

/* Asserts request i was METHOD PATH (without query) with the given query. */
FAKE_FN void expect_req(struct fake_server *s, size_t i, const char *method, const char *path,
			const char *query)
{
	struct fake_req *r = fake_req(s, i);

	cr_expect_str_eq(r->method, method, "request #%zu method", i);
	cr_expect_str_eq(r->path, path, "request #%zu path", i);
	cr_expect_str_eq(r->query, query ? query : "", "request #%zu query", i);
}

/* Expects the body of request #i to equal `want` as JSON values. */
FAKE_FN void expect_req_json(struct fake_server *s, size_t i, const char *want)
{
	json_error_t e1, e2;
	json_t *got = json_loads(fake_req(s, i)->body, 0, &e1);
	json_t *exp = json_loads(want, 0, &e2);

	cr_assert(got, "request #%zu body is not JSON: %s", i, fake_req(s, i)->body);
	cr_assert(exp, "bad expectation: %s", e2.text);
	cr_expect(json_equal(got, exp), "request #%zu body\n got: %s\nwant: %s", i,
		  fake_req(s, i)->body, want);
	json_decref(got);
	json_decref(exp);
}

/* RFC 3339 UTC time `ago` seconds before now, into out. */
FAKE_FN void fake_ts_ago(long ago, char *out, size_t n)
{
	time_t t = time(NULL) - ago;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#endif
