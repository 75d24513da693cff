/* Blocking HTTP/1.1 client over a unix or TCP socket (see http.h). */
#include "cli/http.h"

#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define USER_AGENT "shoal-cli"

static void set_err(struct cli_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct cli_http *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
}

/* Go prints syscall errors in lower case ("connection refused"). */
static const char *errno_text(int err, char *out, size_t n)
{
	snprintf(out, n, "%s", strerror(err));
	if (out[0])
		out[0] = (char) tolower((unsigned char) out[0]);
	return out;
}

/* ------------------------------------------------------------------------ */
/* Host parsing                                                              */

int cli_http_init(struct cli_http *h, const char *host)
{
	memset(h, 0, sizeof(*h));
	h->max_body = CLI_HTTP_MAX_BODY;
	h->host = xstrdup(host);
	if (strncmp(host, "unix://", 7) == 0) {
		const char *path = host + 7;

		if (path[0] == '\0')
			path = "/run/shoal/shoal.sock";
		if (path[0] != '/' || strlen(path) >= sizeof(h->sock_path)) {
			set_err(h,
				"invalid host %s: unix socket path must be absolute and shorter "
				"than %zu bytes",
				host, sizeof(h->sock_path));
			return -EINVAL;
		}
		h->is_unix = 1;
		snprintf(h->sock_path, sizeof(h->sock_path), "%s", path);
		return 0;
	}
	if (strncmp(host, "tcp://", 6) == 0) {
		const char *hp = host + 6;
		const char *colon;
		size_t hl;

		if (hp[0] == '[') {
			const char *end = strchr(hp, ']');

			if (!end || end[1] != ':')
				goto bad_tcp;
			hp++;
			hl = (size_t) (end - hp);
			colon = end + 1;
		} else {
			colon = strrchr(hp, ':');
			if (!colon)
				goto bad_tcp;
			hl = (size_t) (colon - hp);
		}
		if (hl == 0 || hl >= sizeof(h->tcp_host) || strlen(colon + 1) == 0 ||
		    strlen(colon + 1) >= sizeof(h->tcp_port) ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			goto bad_tcp;
		memcpy(h->tcp_host, hp, hl);
		h->tcp_host[hl] = '\0';
		snprintf(h->tcp_port, sizeof(h->tcp_port), "%s", colon + 1);
		return 0;
	bad_tcp:
		set_err(h, "invalid host %s: expected tcp://HOST:PORT", host);
		return -EINVAL;
	}
	set_err(h, "invalid host %s: use unix:///PATH or tcp://HOST:PORT", host);
	return -EINVAL;
}

void cli_http_close(struct cli_http *h)
{
	free(h->host);
	h->host = NULL;
}

void cli_http_resp_free(struct cli_http_resp *resp)
{
	free(resp->status_text);
	free(resp->content_type);
	free(resp->api_version);
	buf_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* ------------------------------------------------------------------------ */
/* Escaping                                                                  */

static const char hexdig[] = "0123456789ABCDEF";

static void escape(struct buf *b, const char *s, const char *keep, int space_plus)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if (isalnum(*p) || strchr("-_.~", *p) || (keep && *p && strchr(keep, *p))) {
			buf_append_u8(b, *p);
		} else if (*p == ' ' && space_plus) {
			buf_append_u8(b, '+');
		} else {
			uint8_t e[3] = {'%', (uint8_t) hexdig[*p >> 4], (uint8_t) hexdig[*p & 15]};

			buf_append(b, e, 3);
		}
	}
}

void cli_http_query_escape(struct buf *b, const char *s)
{
	escape(b, s, NULL, 1);
}

void cli_http_path_escape(struct buf *b, const char *s)
{
	escape(b, s, "!$&'()*+,;=:@", 0);
}

void cli_http_query_add(struct buf *b, const char *key, const char *value)
{
	if (b->len)
		buf_append_u8(b, '&');
	cli_http_query_escape(b, key);
	buf_append_u8(b, '=');
	cli_http_query_escape(b, value);
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                                */

static int connect_failed(struct cli_http *h, int err, const char *dial)
{
	char et[128];

	if (err == ECONNREFUSED || err == ENOENT)
		set_err(h, "Cannot connect to the shoal daemon at %s. Is the shoal daemon running?",
			h->host);
	else if (err == EACCES || err == EPERM)
		set_err(
		    h,
		    "permission denied while trying to connect to the shoal daemon socket at %s: "
		    "%s: connect: %s",
		    h->host, dial, errno_text(err, et, sizeof(et)));
	else
		set_err(h, "error during connect: %s: connect: %s", dial,
			errno_text(err, et, sizeof(et)));
	return -err;
}

static int dial_unix(struct cli_http *h)
{
	struct sockaddr_un sa;
	char dial[160];
	int fd;

	snprintf(dial, sizeof(dial), "dial unix %s", h->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return connect_failed(h, errno, dial);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, h->sock_path, strlen(h->sock_path) + 1);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return connect_failed(h, err, dial);
	}
	return fd;
}

static int dial_tcp(struct cli_http *h)
{
	struct addrinfo hints, *res = NULL;
	char dial[300];
	int fd = -1, err = ECONNREFUSED, rc;

	snprintf(dial, sizeof(dial), "dial tcp %s:%s", h->tcp_host, h->tcp_port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(h->tcp_host, h->tcp_port, &hints, &res);
	if (rc != 0) {
		set_err(h, "error during connect: %s: lookup %s: %s", dial, h->tcp_host,
			gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return connect_failed(h, err, dial);
	return fd;
}

/* Waits until fd is ready for `events`; returns 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;

	if (timeout_ms <= 0)
		return 0;
	do {
		rc = poll(&p, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

static int write_all(struct cli_http *h, int fd, const void *p, size_t n)
{
	const char *c = p;
	char et[128];

	while (n > 0) {
		ssize_t w;
		int rc = wait_fd(fd, POLLOUT, h->timeout_ms);

		if (rc < 0) {
			set_err(h, "error during connect: write: %s",
				errno_text(-rc, et, sizeof(et)));
			return rc;
		}
		w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int err = errno;

			set_err(h, "error during connect: write: %s",
				errno_text(err, et, sizeof(et)));
			return -err;
		}
		c += w;
		n -= (size_t) w;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Parsing the reply                                                         */

struct rstate {
	struct cli_http *h;
	const struct cli_http_req *req;
	struct cli_http_resp *resp;
	struct buf field, value;
	int in_value;
	size_t header_bytes;
	int complete;
	int err; /* negative code set by a callback */
};

static char *buf_to_str(const struct buf *b)
{
	char *s = xmalloc(b->len + 1);

	if (b->len)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	return s;
}

static void commit_header(struct rstate *st)
{
	char **slot = NULL;

	if (!st->field.len)
		return;
	if (st->field.len == 12 && strncasecmp((char *) st->field.data, "content-type", 12) == 0)
		slot = &st->resp->content_type;
	else if (st->field.len == 11 &&
		 strncasecmp((char *) st->field.data, "api-version", 11) == 0)
		slot = &st->resp->api_version;
	if (slot) {
		free(*slot);
		*slot = buf_to_str(&st->value);
	}
	buf_reset(&st->field);
	buf_reset(&st->value);
	st->in_value = 0;
}

static int count_header(struct rstate *st, size_t n)
{
	st->header_bytes += n;
	if (st->header_bytes > CLI_HTTP_MAX_HEADERS) {
		st->err = -EMSGSIZE;
		set_err(st->h, "error reading response: headers larger than %u bytes",
			CLI_HTTP_MAX_HEADERS);
		return 1;
	}
	return 0;
}

static int on_status(http_parser *p, const char *at, size_t n)
{
	struct rstate *st = p->data;
	struct buf tmp = BUF_INIT;

	if (count_header(st, n))
		return 1;
	if (st->resp->status_text)
		buf_append(&tmp, st->resp->status_text, strlen(st->resp->status_text));
	buf_append(&tmp, at, n);
	free(st->resp->status_text);
	st->resp->status_text = buf_to_str(&tmp);
	buf_free(&tmp);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct rstate *st = p->data;

	if (count_header(st, n))
		return 1;
	if (st->in_value)
		commit_header(st);
	buf_append(&st->field, at, n);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct rstate *st = p->data;

	if (count_header(st, n))
		return 1;
	st->in_value = 1;
	buf_append(&st->value, at, n);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct rstate *st = p->data;

	commit_header(st);
	st->resp->status = p->status_code;
	/* A HEAD reply announces a length but carries no body. */
	return strcmp(st->req->method, "HEAD") == 0 ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct rstate *st = p->data;

	if (st->req->body_cb) {
		if (st->req->body_cb(st->req->cb_data, at, n) != 0) {
			st->err = -ECANCELED;
			set_err(st->h, "request canceled");
			return 1;
		}
		return 0;
	}
	if (st->resp->body.len + n > st->h->max_body) {
		st->err = -EMSGSIZE;
		set_err(st->h, "error reading response: body larger than %zu bytes",
			st->h->max_body);
		return 1;
	}
	buf_append(&st->resp->body, at, n);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct rstate *st = p->data;

	st->complete = 1;
	return 0;
}

static int read_reply(struct cli_http *h, int fd, struct rstate *st)
{
	http_parser_settings s;
	http_parser parser;
	char chunk[65536];
	char et[128];

	memset(&s, 0, sizeof(s));
	s.on_status = on_status;
	s.on_header_field = on_header_field;
	s.on_header_value = on_header_value;
	s.on_headers_complete = on_headers_complete;
	s.on_body = on_body;
	s.on_message_complete = on_message_complete;
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = st;

	while (!st->complete) {
		ssize_t r;
		size_t done;
		int rc = wait_fd(fd, POLLIN, h->timeout_ms);

		if (rc < 0) {
			set_err(h, "error reading response: %s", errno_text(-rc, et, sizeof(et)));
			return rc;
		}
		r = recv(fd, chunk, sizeof(chunk), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;

			set_err(h, "error reading response: %s", errno_text(err, et, sizeof(et)));
			return -err;
		}
		/* r == 0 tells the parser about EOF (ends read-until-close bodies). */
		done = http_parser_execute(&parser, &s, chunk, (size_t) r);
		if (st->err)
			return st->err;
		if (st->complete)
			break;
		if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || done != (size_t) r) {
			set_err(h, "error reading response: malformed HTTP reply: %s",
				http_errno_description(HTTP_PARSER_ERRNO(&parser)));
			return -EPROTO;
		}
		if (r == 0) {
			set_err(h, "error reading response: unexpected EOF");
			return -EPROTO;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

static void build_request(struct cli_http *h, const struct cli_http_req *req, struct buf *out)
{
	char line[sizeof(h->tcp_host) + 64];
	int versioned = strncmp(req->path, "/_ping", 6) != 0;
	int has_body = req->body != NULL;
	int wants_length =
	    has_body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;

	buf_append(out, req->method, strlen(req->method));
	buf_append_u8(out, ' ');
	if (versioned)
		buf_append(out, CLI_HTTP_API_PREFIX, strlen(CLI_HTTP_API_PREFIX));
	buf_append(out, req->path, strlen(req->path));
	if (req->query && req->query[0]) {
		buf_append_u8(out, '?');
		buf_append(out, req->query, strlen(req->query));
	}
	buf_append(out, " HTTP/1.1\r\n", 11);
	if (h->is_unix)
		snprintf(line, sizeof(line), "Host: api.moby.localhost\r\n");
	else
		snprintf(line, sizeof(line), "Host: %s:%s\r\n", h->tcp_host, h->tcp_port);
	buf_append(out, line, strlen(line));
	snprintf(line, sizeof(line), "User-Agent: %s\r\n", USER_AGENT);
	buf_append(out, line, strlen(line));
	/* One request per connection: say so, so the server need not wait. */
	buf_append(out, "Connection: close\r\n", 19);
	if (has_body) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n",
			 req->content_type ? req->content_type : "application/json");
		buf_append(out, line, strlen(line));
	}
	if (req->headers)
		buf_append(out, req->headers, strlen(req->headers));
	if (wants_length) {
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n",
			 has_body ? req->body_len : 0);
		buf_append(out, line, strlen(line));
	}
	buf_append(out, "\r\n", 2);
}

int cli_http_do(struct cli_http *h, const struct cli_http_req *req, struct cli_http_resp *resp)
{
	struct buf head = BUF_INIT;
	struct rstate st;
	int fd, rc;

	memset(resp, 0, sizeof(*resp));
	h->errmsg[0] = '\0';
	fd = h->is_unix ? dial_unix(h) : dial_tcp(h);
	if (fd < 0)
		return fd;

	build_request(h, req, &head);
	rc = write_all(h, fd, head.data, head.len);
	buf_free(&head);
	if (rc == 0 && req->body && req->body_len)
		rc = write_all(h, fd, req->body, req->body_len);
	if (rc < 0)
		goto out;

	memset(&st, 0, sizeof(st));
	st.h = h;
	st.req = req;
	st.resp = resp;
	rc = read_reply(h, fd, &st);
	buf_free(&st.field);
	buf_free(&st.value);
	if (rc == 0) {
		/* Keep the buffered body NUL-terminated for the JSON decoder. */
		*buf_reserve(&resp->body, 1) = '\0';
	}
out:
	close(fd);
	if (rc < 0)
		cli_http_resp_free(resp);
	return rc;
}
