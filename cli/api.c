/* Engine API calls and shared JSON helpers (see api.h). */
#include "cli/api.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "common/err.h"

static const char *trim_copy(const char *s, size_t n, struct buf *out)
{
	while (n > 0 && isspace((unsigned char) *s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char) s[n - 1]))
		n--;
	buf_append(out, s, n);
	buf_append_u8(out, '\0');
	return (const char *) out->data;
}

/* The moby client's checkResponseErr(), worded the same. */
static int daemon_error(struct cli_ctx *ctx, const struct cli_http_req *req,
			const struct cli_http_resp *resp)
{
	CLI_AUTO_BUF struct buf msg = BUF_INIT;

	if (resp->body.len == 0) {
		CLI_AUTO_BUF struct buf url = BUF_INIT;

		/* Go puts the socket path in the URL's host, escaped. */
		if (ctx->http.is_unix)
			cli_http_query_escape(&url, ctx->http.sock_path);
		else
			buf_append(&url, ctx->http.host + 6, strlen(ctx->http.host + 6));
		return cli_errorf(ctx, -SHOAL_EREMOTE,
				  "request returned %d %s for API route and version "
				  "http://%.*s%s%s%s%s, check if the server supports the requested "
				  "API version",
				  resp->status, resp->status_text ? resp->status_text : "",
				  (int) url.len, (char *) url.data, CLI_HTTP_API_PREFIX, req->path,
				  req->query && *req->query ? "?" : "",
				  req->query ? req->query : "");
	}
	if (resp->content_type && strcmp(resp->content_type, "application/json") == 0) {
		CLI_AUTO_JSON json_t *j = NULL;
		json_error_t jerr;
		json_t *m;

		j = json_loadb((const char *) resp->body.data, resp->body.len, JSON_DECODE_ANY,
			       &jerr);
		if (!j)
			return cli_errorf(ctx, -SHOAL_EREMOTE, "Error reading JSON: %s", jerr.text);
		m = json_is_object(j) ? json_object_get(j, "message") : NULL;
		if (!json_is_string(m) || json_string_length(m) == 0)
			return cli_errorf(ctx, -SHOAL_EREMOTE,
					  "Error response from daemon: API returned a %d (%s) but "
					  "provided no error-message",
					  resp->status, resp->status_text ? resp->status_text : "");
		return cli_errorf(ctx, -SHOAL_EREMOTE, "Error response from daemon: %s",
				  trim_copy(json_string_value(m), json_string_length(m), &msg));
	}
	return cli_errorf(ctx, -SHOAL_EREMOTE, "Error response from daemon: %s",
			  trim_copy((const char *) resp->body.data, resp->body.len, &msg));
}

int cli_api(struct cli_ctx *ctx, const char *method, const char *path, const char *query,
	    json_t *body, json_t **out)
{
	struct cli_http_req req = {.method = method, .path = path, .query = query};
	struct cli_http_resp resp;
	char *payload = NULL;
	int rc;

	if (out)
		*out = NULL;
	ctx->last_status = 0;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload)
			return cli_errorf(ctx, -ENOMEM, "cannot encode request body");
		req.body = payload;
		req.body_len = strlen(payload);
	}
	rc = cli_http_do(&ctx->http, &req, &resp);
	free(payload);
	if (rc < 0)
		return cli_errorf(ctx, rc, "%s", ctx->http.errmsg);
	ctx->last_status = resp.status;
	if (resp.status >= 400) {
		rc = daemon_error(ctx, &req, &resp);
	} else if (out && resp.body.len) {
		json_error_t jerr;

		*out = json_loadb((const char *) resp.body.data, resp.body.len, JSON_DECODE_ANY,
				  &jerr);
		if (!*out)
			rc = cli_errorf(ctx, -EPROTO,
					"error decoding the daemon's reply to %s %s: %s", method,
					path, jerr.text);
	}
	cli_http_resp_free(&resp);
	return rc;
}

int cli_api_raw(struct cli_ctx *ctx, const struct cli_http_req *req, struct buf *body)
{
	struct cli_http_resp resp;
	int rc = cli_http_do(&ctx->http, req, &resp);

	*body = (struct buf) BUF_INIT;
	ctx->last_status = 0;
	if (rc < 0)
		return cli_errorf(ctx, rc, "%s", ctx->http.errmsg);
	ctx->last_status = resp.status;
	if (resp.status >= 400) {
		rc = daemon_error(ctx, req, &resp);
	} else {
		*body = resp.body;
		resp.body = (struct buf) BUF_INIT;
	}
	cli_http_resp_free(&resp);
	return rc;
}

char *cli_api_path(const char *prefix, const char *id, const char *suffix)
{
	struct buf b = BUF_INIT;

	buf_append(&b, prefix, strlen(prefix));
	cli_http_path_escape(&b, id);
	if (suffix)
		buf_append(&b, suffix, strlen(suffix));
	buf_append_u8(&b, '\0');
	return (char *) buf_steal(&b, NULL);
}

int cli_api_remove_refs(struct cli_ctx *ctx, int argc, char **argv, const char *prefix,
			const char *query)
{
	CLI_AUTO_BUF struct buf errs = BUF_INIT;

	for (int i = 0; i < argc; i++) {
		CLI_AUTO_FREE char *path = cli_api_path(prefix, argv[i], NULL);

		if (cli_api(ctx, "DELETE", path, query, NULL, NULL)) {
			cli_errs_add(&errs, NULL, cli_error_msg(ctx));
			continue;
		}
		fprintf(ctx->out, "%s\n", argv[i]);
	}
	return errs.len ? cli_errs_fail(ctx, &errs, -EIO) : 0;
}

int cli_api_list(struct cli_ctx *ctx, const char *path, const struct cli_strv *filters,
		 const char *query, json_t **out)
{
	CLI_AUTO_FREE char *fjson = cli_api_filters(filters);
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	int rc;

	if (fjson)
		cli_http_query_add(&q, "filters", fjson);
	if (query) {
		if (q.len)
			buf_append_u8(&q, '&');
		buf_append(&q, query, strlen(query));
	}
	buf_append_u8(&q, '\0');
	if ((rc = cli_api(ctx, "GET", path, (char *) q.data, NULL, out)))
		return rc;
	if (!json_is_array(*out))
		return cli_errorf(ctx, -EPROTO, "unexpected reply to GET %s: expected an array",
				  path);
	return 0;
}

char *cli_api_filters(const struct cli_strv *filters)
{
	CLI_AUTO_JSON json_t *root = NULL;
	char *s;

	if (!filters || filters->n == 0)
		return NULL;
	root = json_object();
	for (size_t i = 0; i < filters->n; i++) {
		const char *eq = strchr(filters->v[i], '=');
		char key[256];
		json_t *set;

		snprintf(key, sizeof(key), "%.*s", (int) (eq - filters->v[i]), filters->v[i]);
		set = json_object_get(root, key);
		if (!set) {
			set = json_object();
			json_object_set_new(root, key, set);
		}
		json_object_set_new(set, eq + 1, json_true());
	}
	s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		abort();
	return s;
}

json_t *cli_json_path(json_t *root, const char *path)
{
	json_t *v = root;
	const char *p = path;

	while (v && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t) (dot - p) : strlen(p);
		char key[128];

		if (!json_is_object(v) || n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		p += n + (dot ? 1 : 0);
	}
	return v;
}

const char *cli_json_str(json_t *root, const char *path)
{
	json_t *v = cli_json_path(root, path);

	return json_is_string(v) ? json_string_value(v) : "";
}

int64_t cli_json_int(json_t *root, const char *path)
{
	json_t *v = cli_json_path(root, path);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t) json_real_value(v);
	return 0;
}

int cli_json_bool(json_t *root, const char *path)
{
	json_t *v = cli_json_path(root, path);

	if (!v)
		return 0;
	switch (json_typeof(v)) {
	case JSON_TRUE:
		return 1;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	default:
		return 0;
	}
}

json_t *cli_json_object_at(json_t *root, const char *path)
{
	json_t *v = root;
	const char *p = path;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t) (dot - p) : strlen(p);
		char key[128];
		json_t *next;

		snprintf(key, sizeof(key), "%.*s", (int) n, p);
		next = json_object_get(v, key);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(v, key, next);
		}
		v = next;
		p += n + (dot ? 1 : 0);
	}
	return v;
}
