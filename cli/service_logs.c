/* `shoal service logs`: docker's logs.go. The body is stdcopy-framed
 * ([stream,0,0,0,len BE32] + payload, one line per frame), streamed (and
 * chunked when following). Unless --raw, each line's details
 * ("com.docker.swarm.node.id=..,service.id=..,task.id=..") become the
 * prefix "svc.slot.taskid@node    | ". */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/service.h"
#include "cli/units.h"

#define MAX_FRAME (16u << 20)

struct logs {
	struct cli_ctx *ctx;
	struct cli_http_resp *resp;
	int raw, details, timestamps, no_task_ids, no_trunc, no_resolve, padding;
	struct buf pending;
	json_t *cache; /* details -> prefix */
	int err;
};

static int digits(long long v)
{
	char t[32];

	return snprintf(t, sizeof(t), "%lld", v);
}

/* url.QueryUnescape into out. */
static void unescape(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char) s[i + 1]) &&
		    isxdigit((unsigned char) s[i + 2])) {
			char h[3] = {s[i + 1], s[i + 2], 0};

			buf_append_u8(out, (uint8_t) strtol(h, NULL, 16));
			i += 2;
		} else {
			buf_append_u8(out, s[i] == '+' ? ' ' : (uint8_t) s[i]);
		}
	}
	buf_append_u8(out, '\0');
}

static const char *name_of(struct logs *l, const char *prefix, const char *id, const char *path)
{
	CLI_AUTO_FREE char *p = cli_api_path(prefix, id, NULL);
	CLI_AUTO_JSON json_t *o = NULL;
	static char out[256];

	if (l->no_resolve || cli_api(l->ctx, "GET", p, NULL, NULL, &o) || !*cli_json_str(o, path))
		snprintf(out, sizeof(out), "%s", id);
	else
		snprintf(out, sizeof(out), "%s", cli_json_str(o, path));
	return out;
}

/* The "svc.1.abcdef123456@node1" prefix (padded), cached per details. */
static int prefix_for(struct logs *l, json_t *d, const char *key, const char **out)
{
	/* Keys hold dots: plain lookups, not cli_json_path. */
	const char *node = json_string_value(json_object_get(d, "com.docker.swarm.node.id")) ?: "";
	const char *svc =
	    json_string_value(json_object_get(d, "com.docker.swarm.service.id")) ?: "";
	const char *task = json_string_value(json_object_get(d, "com.docker.swarm.task.id")) ?: "";
	CLI_AUTO_JSON json_t *t = NULL;
	CLI_AUTO_FREE char *tp = NULL;
	char node_name[256], svc_name[256], s[700], id[13];
	int pad;

	if ((*out = json_string_value(json_object_get(l->cache, key))))
		return 0;
	if (!json_object_get(d, "com.docker.swarm.node.id"))
		return cli_errorf(l->ctx, -EPROTO, "missing node id in details: %s", key);
	if (!json_object_get(d, "com.docker.swarm.service.id"))
		return cli_errorf(l->ctx, -EPROTO, "missing service id in details: %s", key);
	if (!json_object_get(d, "com.docker.swarm.task.id"))
		return cli_errorf(l->ctx, -EPROTO, "missing task id in details: %s", key);
	snprintf(node_name, sizeof(node_name), "%s",
		 name_of(l, "/nodes/", node, "Description.Hostname"));
	snprintf(svc_name, sizeof(svc_name), "%s", name_of(l, "/services/", svc, "Spec.Name"));
	tp = cli_api_path("/tasks/", task, NULL);
	if (cli_api(l->ctx, "GET", tp, NULL, NULL, &t))
		return -EIO;
	cli_svc_trunc_id(cli_json_str(t, "ID"), id);
	pad = l->padding - digits((long long) cli_json_int(t, "Slot"));
	snprintf(s, sizeof(s), "%s.%lld%s%s@%s%*s", svc_name, (long long) cli_json_int(t, "Slot"),
		 l->no_task_ids ? "" : ".",
		 l->no_task_ids ? ""
		 : l->no_trunc	? cli_json_str(t, "ID")
				: id,
		 node_name, pad > 0 ? pad : 0, "");
	json_object_set_new(l->cache, key, json_string(s));
	*out = json_string_value(json_object_get(l->cache, key));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* docker's logWriter.Write for one frame. */
static int write_line(struct logs *l, FILE *f, const char *p, size_t n)
{
	const char *sp1 = memchr(p, ' ', n), *det = p, *msg;
	size_t dl;
	CLI_AUTO_JSON json_t *d = json_object();
	CLI_AUTO_FREE char *key = NULL;
	const char *prefix;
	int rc;

	if (l->timestamps) {
		if (!sp1)
			goto bad;
		det = sp1 + 1;
	}
	msg = memchr(det, ' ', n - (size_t) (det - p));
	if (!msg)
		goto bad;
	dl = (size_t) (msg - det);
	msg++;
	key = strndup(det, dl);
	for (const char *c = det; c < det + dl;) {
		const char *comma = memchr(c, ',', (size_t) (det + dl - c));
		const char *end = comma ? comma : det + dl,
			   *eq = memchr(c, '=', (size_t) (end - c));
		struct buf k = BUF_INIT, v = BUF_INIT;

		if (!eq) {
			rc = cli_errorf(l->ctx, -EPROTO, "invalid details format");
			return rc;
		}
		unescape(c, (size_t) (eq - c), &k);
		unescape(eq + 1, (size_t) (end - eq - 1), &v);
		json_object_set_new(d, (char *) k.data, json_string((char *) v.data));
		buf_free(&k);
		buf_free(&v);
		c = comma ? comma + 1 : end;
	}
	if ((rc = prefix_for(l, d, key, &prefix)))
		return rc;
	if (l->timestamps)
		fwrite(p, 1, (size_t) (sp1 - p) + 1, f);
	fprintf(f, "%s    | ", prefix);
	if (l->details) {
		const char *k, **keys = xcalloc(json_object_size(d) + 1, sizeof(*keys));
		size_t nk = 0;
		json_t *v;

		json_object_foreach(d, k, v)
		{
			if (!strncmp(k, "com.docker.swarm.", 17) &&
			    (!strcmp(k + 17, "node.id") || !strcmp(k + 17, "service.id") ||
			     !strcmp(k + 17, "task.id")))
				continue;
			keys[nk++] = k;
		}
		qsort(keys, nk, sizeof(*keys), cmp_str);
		for (size_t i = 0; i < nk; i++)
			fprintf(f, "%s%s=%s", i ? "," : "", keys[i],
				json_string_value(json_object_get(d, keys[i])));
		fputc(' ', f);
		free(keys);
	}
	fwrite(msg, 1, n - (size_t) (msg - p), f);
	return 0;
bad:
	return cli_errorf(l->ctx, -EPROTO, "invalid context in log message: %.*s", (int) n, p);
}

static int on_body(void *data, const char *chunk, size_t len)
{
	struct logs *l = data;

	buf_append(&l->pending, chunk, len);
	if (l->resp->status >= 400)
		return l->pending.len > 65536; /* an error document, kept whole */
	while (l->pending.len >= 8) {
		const uint8_t *h = l->pending.data;
		uint32_t size = buf_get_be32(h + 4);
		FILE *f;

		if (size > MAX_FRAME) {
			l->err =
			    cli_errorf(l->ctx, -EPROTO, "log frame of %u bytes is too large", size);
			return 1;
		}
		if (l->pending.len < 8 + (size_t) size)
			break;
		if (h[0] == 3) {
			l->err = cli_errorf(l->ctx, -EIO, "error from daemon in stream: %.*s",
					    (int) size, (const char *) h + 8);
			return 1;
		}
		if (h[0] > 3) {
			l->err = cli_errorf(l->ctx, -EPROTO, "Unrecognized input header: %d", h[0]);
			return 1;
		}
		f = h[0] == 2 ? l->ctx->err : l->ctx->out;
		if (l->raw)
			fwrite(h + 8, 1, size, f);
		else if ((l->err = write_line(l, f, (const char *) h + 8, size)))
			return 1;
		fflush(f);
		buf_consume(&l->pending, 8 + (size_t) size);
	}
	return 0;
}

int cli_service_logs(struct cli_ctx *ctx, int argc, char **argv)
{
	struct logs l = {.ctx = ctx, .pending = BUF_INIT, .padding = 1};
	int follow = 0, rc, tty;
	const char *since = "", *tail = "all";
	CLI_AUTO_JSON json_t *obj = NULL;
	CLI_AUTO_FREE char *path = NULL;
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	struct cli_http_resp resp = {0};
	struct cli_http_req req = {.method = "GET"};
	int saved_timeout = ctx->http.timeout_ms;
	struct cli_flag flags[] = {
	    {"details", 0, CLI_FLAG_BOOL, &l.details, "Show extra details provided to logs", NULL,
	     NULL, 0},
	    {"follow", 'f', CLI_FLAG_BOOL, &follow, "Follow log output", NULL, NULL, 0},
	    {"no-resolve", 0, CLI_FLAG_BOOL, &l.no_resolve, "Do not map IDs to Names in output",
	     NULL, NULL, 0},
	    {"no-task-ids", 0, CLI_FLAG_BOOL, &l.no_task_ids, "Do not include task IDs in output",
	     NULL, NULL, 0},
	    {"no-trunc", 0, CLI_FLAG_BOOL, &l.no_trunc, "Do not truncate output", NULL, NULL, 0},
	    {"raw", 0, CLI_FLAG_BOOL, &l.raw, "Do not neatly format logs", NULL, NULL, 0},
	    {"since", 0, CLI_FLAG_STRING, &since,
	     "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" "
	     "for 42 minutes)",
	     NULL, NULL, 0},
	    {"tail", 'n', CLI_FLAG_STRING, &tail,
	     "Number of lines to show from the end of the logs", "all", NULL, 0},
	    {"timestamps", 't', CLI_FLAG_BOOL, &l.timestamps, "Show timestamps", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	if (cli_svc_get(ctx, argv[0], 0, &obj) == 0) {
		tty = cli_json_bool(obj, "Spec.TaskTemplate.ContainerSpec.TTY");
		if (json_is_integer(cli_json_path(obj, "Spec.Mode.Replicated.Replicas")))
			l.padding =
			    digits((long long) cli_json_int(obj, "Spec.Mode.Replicated.Replicas"));
		path = cli_api_path("/services/", argv[0], "/logs");
	} else if (ctx->last_status == 404) {
		CLI_AUTO_FREE char *tp = cli_api_path("/tasks/", argv[0], NULL);

		if (cli_api(ctx, "GET", tp, NULL, NULL, &obj))
			return ctx->last_status == 404
				   ? cli_errorf(ctx, -ENOENT, "no such task or service: %s",
						argv[0])
				   : -EIO;
		tty = cli_json_bool(obj, "Spec.ContainerSpec.TTY");
		l.padding = digits((long long) cli_json_int(obj, "Slot"));
		path = cli_api_path("/tasks/", argv[0], "/logs");
	} else {
		return -EIO;
	}
	if (tty && !l.raw)
		return cli_errorf(ctx, -EINVAL, "tty service logs only supported with --raw");
	if (tty)
		return cli_errorf(ctx, -ENOSYS, "logs of tty services are not implemented yet");
	if (l.details || !l.raw)
		cli_http_query_add(&q, "details", "1");
	if (follow)
		cli_http_query_add(&q, "follow", "1");
	if (*since) {
		int64_t d, ns;
		int off;
		char err[128], ts[64];

		if (!cli_duration_parse(since, &d, err, sizeof(err))) {
			ns = cli_now_ns(ctx) - d;
			snprintf(ts, sizeof(ts), "%lld.%09lld", (long long) (ns / 1000000000),
				 (long long) (ns % 1000000000));
		} else if (!cli_time_parse(since, &ns, &off)) {
			snprintf(ts, sizeof(ts), "%lld.%09lld", (long long) (ns / 1000000000),
				 (long long) (ns % 1000000000));
		} else {
			snprintf(ts, sizeof(ts), "%s", since);
		}
		cli_http_query_add(&q, "since", ts);
	}
	cli_http_query_add(&q, "stderr", "1");
	cli_http_query_add(&q, "stdout", "1");
	cli_http_query_add(&q, "tail", tail);
	if (l.timestamps)
		cli_http_query_add(&q, "timestamps", "1");
	buf_append_u8(&q, '\0');
	req.path = path;
	req.query = (char *) q.data;
	req.body_cb = on_body;
	req.cb_data = &l;
	l.resp = &resp;
	l.cache = json_object();
	if (follow)
		ctx->http.timeout_ms = 0;
	rc = cli_http_do(&ctx->http, &req, &resp);
	ctx->http.timeout_ms = saved_timeout;
	if (l.err)
		rc = l.err;
	else if (rc < 0)
		rc = cli_errorf(ctx, rc, "%s", ctx->http.errmsg);
	else if (resp.status >= 400) {
		CLI_AUTO_JSON json_t *e =
		    json_loadb((char *) l.pending.data, l.pending.len, 0, NULL);

		rc = cli_errorf(ctx, -EIO, "Error response from daemon: %s",
				e ? cli_json_str(e, "message") : "(unreadable error)");
	} else if (l.pending.len) {
		rc = cli_errorf(ctx, -EPROTO, "unexpected EOF in log stream");
	}
	cli_http_resp_free(&resp);
	buf_free(&l.pending);
	json_decref(l.cache);
	return rc;
}
