/* Blocking HTTP/1.1 client for the local Engine API.
 *
 * One request per connection: connect, write the request, parse the reply
 * with http_parser (Content-Length, chunked or read-until-close) and close.
 * Hosts are `unix:///path/to.sock` or `tcp://host:port`. Paths get the
 * `/v1.41` prefix except `/_ping`, as the docker CLI does after negotiation.
 *
 * Errors: functions return 0 or a negative errno-style code and leave a
 * docker-worded message in `errmsg` (for example "Cannot connect to the shoal
 * daemon at unix:///run/shoal/shoal.sock. Is the shoal daemon running?").
 * A reply with any HTTP status is a success at this layer; mapping >= 400 to
 * "Error response from daemon: ..." is cli/api.c's job. */
#ifndef SHOAL_CLI_HTTP_H
#define SHOAL_CLI_HTTP_H

#include <stddef.h>

#include "common/buf.h"

#define CLI_HTTP_API_PREFIX "/v1.41"
/* Buffered bodies larger than this fail with -EMSGSIZE (streamed bodies are
 * not bounded: the callback sees them piece by piece). */
#define CLI_HTTP_MAX_BODY (64u << 20)
/* Bound on the status line plus all headers. */
#define CLI_HTTP_MAX_HEADERS (64u << 10)

struct cli_http {
	char *host; /* as given ("unix:///run/shoal/shoal.sock"), owned */
	int is_unix;
	char sock_path[108];
	char tcp_host[256];
	char tcp_port[8];
	size_t max_body;   /* default CLI_HTTP_MAX_BODY */
	int timeout_ms;	   /* per read/write; 0 waits forever (log follow) */
	char errmsg[1024]; /* last error, NUL-terminated */
};

/* Receives body bytes as they arrive (chunked streams included). Return 0 to
 * continue, non-zero to abort the request (cli_http_do then returns
 * -ECANCELED). */
typedef int (*cli_http_body_cb)(void *data, const char *chunk, size_t len);

struct cli_http_req {
	const char *method; /* "GET", "POST", "DELETE", "HEAD" */
	const char *path;   /* "/nodes/abc", already escaped */
	const char *query;  /* "a=1&b=2" already encoded, or NULL */
	const void *body;   /* request body or NULL */
	size_t body_len;
	const char *content_type; /* default "application/json" when body set */
	const char *headers;	  /* extra "Name: value\r\n" lines, or NULL */
	cli_http_body_cb body_cb; /* stream the body instead of buffering it */
	void *cb_data;
};

struct cli_http_resp {
	int status;	    /* 200, 404, ... */
	char *status_text;  /* "Not Found", owned */
	char *content_type; /* owned, NULL when absent */
	char *api_version;  /* Api-Version header, owned, NULL when absent */
	struct buf body;    /* buffered body; data[len] is a NUL after success */
};

/* Parses `host` and fills `h` (which the caller zeroes or not: every field is
 * set). Returns 0 or -EINVAL with h->errmsg set. Copies `host`; release with
 * cli_http_close(). */
int cli_http_init(struct cli_http *h, const char *host);
void cli_http_close(struct cli_http *h);

/* Performs one request. On 0, `resp` holds the reply and must be released
 * with cli_http_resp_free(); on error `resp` is left empty (still safe to
 * free). */
int cli_http_do(struct cli_http *h, const struct cli_http_req *req, struct cli_http_resp *resp);
void cli_http_resp_free(struct cli_http_resp *resp);

/* Appends `s` percent-encoded like Go's url.QueryEscape (space -> '+'). */
void cli_http_query_escape(struct buf *b, const char *s);
/* Appends `s` percent-encoded as one path segment (keeps RFC 3986 pchars). */
void cli_http_path_escape(struct buf *b, const char *s);
/* Appends "&key=value" (no '&' when b is empty), both query-escaped. Keys
 * must be added in sorted order to match Go's url.Values.Encode(). */
void cli_http_query_add(struct buf *b, const char *key, const char *value);

#endif
