/* routes: images (Docker's /images and /distribution endpoints).
 *
 * Images are node-local: these routes work whatever the swarm state. The
 * image store blocks (disk, registry), so every store call runs on libuv's
 * thread pool and the reply is sent from the loop in the after-work
 * callback. `POST /images/load` streams its body into a temp file first;
 * `POST /images/create` streams pull progress as Docker's JSON messages. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/api/conv.h"
#include "daemon/api/json.h"
#include "daemon/node.h"
#include "daemon/routes_int.h"
#include "worker/image/img.h"

struct job;
typedef void (*job_fn)(struct job *j);

/* One store call off the loop. `run` fills reply or status/msg. */
struct job {
	uv_work_t work;
	struct api_req *req;
	struct img_store *img;
	job_fn run;
	char *arg;     /* reference / path */
	char *arg2;    /* tag, filters */
	char *upload;  /* temp file of /images/load */
	int fd;	       /* its descriptor while receiving */
	int flag;      /* force / quiet / dangling filter */
	int status;    /* HTTP status of an error (0: success) */
	json_t *reply; /* success body */
	char msg[IMG_ERRMSG_LEN];
	/* pull progress, produced on the worker thread */
	uv_async_t async;
	pthread_mutex_t mu;
	struct buf pending;
	int streaming;
	json_t *auth_owner;
	struct img_auth auth;
};

static struct img_store *store_of(struct api_req *req)
{
	return node_of(req)->img;
}

static int status_of(int rv)
{
	switch (rv) {
	case -EPERM:
	case -EBADMSG:
		return 400;
	case -EACCES:
		return 401;
	default:
		return api_status_from_err(rv);
	}
}

static void job_free(struct job *j)
{
	if (j->upload) {
		unlink(j->upload);
		free(j->upload);
	}
	if (j->fd >= 0)
		close(j->fd);
	json_decref(j->reply);
	json_decref(j->auth_owner);
	buf_free(&j->pending);
	free(j->arg);
	free(j->arg2);
	free(j);
}

static struct job *job_new(struct api_req *req, job_fn run)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->req = req;
	j->img = store_of(req);
	j->run = run;
	j->fd = -1;
	j->work.data = j;
	return j;
}

static void work_cb(uv_work_t *w)
{
	struct job *j = w->data;

	j->run(j);
}

static void after_cb(uv_work_t *w, int status)
{
	struct job *j = w->data;

	if (j->status)
		api_reply_error(j->req, j->status, "%s", j->msg);
	else {
		api_reply_json(j->req, 200, j->reply ? j->reply : json_null());
		j->reply = NULL;
	}
	job_free(j);
}

static void job_queue(struct job *j)
{
	if (!j->img) {
		api_reply_error(j->req, 500, "the image store is not available on this node");
		job_free(j);
		return;
	}
	uv_queue_work(node_of(j->req)->loop, &j->work, work_cb, after_cb);
}

static json_t *familiar_array(char **v)
{
	json_t *a = json_array();
	char fam[700];

	for (size_t i = 0; v && v[i]; i++) {
		img_ref_familiar_str(v[i], fam, sizeof(fam));
		json_array_append_new(a, json_string(fam));
	}
	return a;
}

/* ------------------------------------------------------------------------ */
/* GET /images/json                                                          */

/* Docker's reference filter: the pattern matches the familiar name or
 * name:tag (path.Match semantics, close enough with fnmatch). */
static int ref_matches(char **tags, json_t *patterns)
{
	const char *pat;
	json_t *v;
	char fam[700];

	json_object_foreach(patterns, pat, v)
	{
		for (size_t i = 0; tags && tags[i]; i++) {
			img_ref_familiar_str(tags[i], fam, sizeof(fam));
			char *colon = strrchr(fam, ':');
			if (fnmatch(pat, fam, 0) == 0)
				return 1;
			if (colon && !strchr(colon, '/')) {
				*colon = '\0';
				if (fnmatch(pat, fam, 0) == 0)
					return 1;
			}
		}
	}
	return 0;
}

static void run_list(struct job *j)
{
	struct img_info *list;
	json_t *filters = NULL, *ref = NULL, *dang = NULL;
	size_t n;
	int dangling = -1;

	if (j->arg2 && *j->arg2) {
		const char *key;
		json_t *v;
		filters = json_loads(j->arg2, 0, NULL);
		if (!json_is_object(filters)) {
			j->status = 400;
			snprintf(j->msg, sizeof(j->msg), "invalid filter: not a JSON object");
			json_decref(filters);
			return;
		}
		json_object_foreach(filters, key, v)
		{
			if (strcmp(key, "reference") != 0 && strcmp(key, "dangling") != 0) {
				j->status = 400;
				snprintf(j->msg, sizeof(j->msg), "invalid filter '%s'", key);
				json_decref(filters);
				return;
			}
		}
		ref = json_object_get(filters, "reference");
		dang = json_object_get(filters, "dangling");
		if (json_object_get(dang, "true") || json_object_get(dang, "1"))
			dangling = 1;
		else if (json_object_get(dang, "false") || json_object_get(dang, "0"))
			dangling = 0;
	}
	img_list(j->img, &list, &n, j->msg, sizeof(j->msg));
	j->reply = json_array();
	for (size_t i = 0; i < n; i++) {
		struct img_info *in = &list[i];
		int is_dangling = !in->repo_tags || !in->repo_tags[0];
		if (dangling >= 0 && dangling != is_dangling)
			continue;
		if (json_is_object(ref) && json_object_size(ref) &&
		    !ref_matches(in->repo_tags, ref))
			continue;
		json_array_append_new(
		    j->reply,
		    json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:o,s:i}", "Id", in->id, "ParentId",
			      "", "RepoTags", familiar_array(in->repo_tags), "RepoDigests",
			      familiar_array(in->repo_digests), "Created", (json_int_t) in->created,
			      "Size", (json_int_t) in->size, "SharedSize", (json_int_t) -1,
			      "VirtualSize", (json_int_t) in->size, "Labels", json_object(),
			      "Containers", -1));
	}
	img_info_free_array(list, n);
	json_decref(filters);
}

static void images_list(struct api_req *req)
{
	struct job *j = job_new(req, run_list);
	const char *f = api_query(req, "filters");

	j->arg2 = f ? xstrdup(f) : NULL;
	job_queue(j);
}

/* ------------------------------------------------------------------------ */
/* GET /images/{name}/json                                                   */

static void run_inspect(struct job *j)
{
	struct img_info in;
	json_t *cfg, *rootfs, *diff;
	char created[40];
	int rv = img_inspect(j->img, j->arg, &in, j->msg, sizeof(j->msg));

	if (rv) {
		j->status = status_of(rv);
		return;
	}
	cfg = in.config;
	conv_time(in.created * 1000000000LL, created);
	diff = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	rootfs = json_pack("{s:s,s:O}", "Type", "layers", "Layers",
			   json_is_array(diff) ? diff : json_array());
	j->reply = json_pack(
	    "{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:I,s:I,s:{s:s,s:{}},s:o,s:{s:s}}",
	    "Id", in.id, "RepoTags", familiar_array(in.repo_tags), "RepoDigests",
	    familiar_array(in.repo_digests), "Parent", "", "Comment",
	    json_string_value(json_object_get(cfg, "comment")) ?: "", "Created", created,
	    "DockerVersion", json_string_value(json_object_get(cfg, "docker_version")) ?: "",
	    "Author", json_string_value(json_object_get(cfg, "author")) ?: "", "Architecture",
	    json_string_value(json_object_get(cfg, "architecture")) ?: "amd64", "Config",
	    json_object_get(cfg, "config") ? json_object_get(cfg, "config") : json_null(), "Os",
	    json_string_value(json_object_get(cfg, "os")) ?: "linux", "Variant",
	    json_string_value(json_object_get(cfg, "variant")) ?: "", "Size", (json_int_t) in.size,
	    "VirtualSize", (json_int_t) in.size, "GraphDriver", "Name", "overlay2", "Data",
	    "RootFS", rootfs, "Metadata", "LastTagTime", "0001-01-01T00:00:00Z");
	img_info_free(&in);
}

static void images_inspect(struct api_req *req)
{
	struct job *j = job_new(req, run_inspect);

	j->arg = xstrdup(api_param(req, "name"));
	job_queue(j);
}

/* ------------------------------------------------------------------------ */
/* DELETE /images/{name}                                                     */

static void run_remove(struct job *j)
{
	char **u = NULL, **d = NULL;
	int rv = img_remove(j->img, j->arg, j->flag, &u, &d, j->msg, sizeof(j->msg));

	if (rv) {
		j->status = status_of(rv);
		return;
	}
	j->reply = json_array();
	for (size_t i = 0; u && u[i]; i++)
		json_array_append_new(j->reply, json_pack("{s:s}", "Untagged", u[i]));
	for (size_t i = 0; d && d[i]; i++)
		json_array_append_new(j->reply, json_pack("{s:s}", "Deleted", d[i]));
	img_strv_free(u);
	img_strv_free(d);
}

static void images_delete(struct api_req *req)
{
	struct job *j = job_new(req, run_remove);

	j->arg = xstrdup(api_param(req, "name"));
	j->flag = api_query_bool(req, "force", 0);
	job_queue(j);
}

/* ------------------------------------------------------------------------ */
/* GET /distribution/{name}/json                                             */

static void run_distribution(struct job *j)
{
	struct img_info in;
	char *mt = NULL, *digest = NULL;
	int64_t size = 0;
	int rv = img_inspect(j->img, j->arg, &in, j->msg, sizeof(j->msg));

	if (rv == 0) {
		mt = xstrdup(in.manifest_type);
		digest = xstrdup(in.manifest);
		size = in.manifest_size;
		img_info_free(&in);
	} else {
		char why[IMG_ERRMSG_LEN];
		rv = img_remote_descriptor(j->img, j->arg, &j->auth, &mt, &digest, &size, why,
					   sizeof(why));
		if (rv) {
			j->status = rv == -ENOSYS || rv == -ENOENT ? 404 : status_of(rv);
			if (rv != -ENOSYS)
				snprintf(j->msg, sizeof(j->msg), "%s", why);
			return;
		}
	}
	j->reply = json_pack("{s:{s:s,s:s,s:I},s:[{s:s,s:s}]}", "Descriptor", "mediaType", mt,
			     "digest", digest, "size", (json_int_t) size, "Platforms",
			     "architecture", "amd64", "os", "linux");
	free(mt);
	free(digest);
}

static int decode_auth(struct api_req *req, struct job *j)
{
	const char *h = api_header(req, "X-Registry-Auth");

	if (!h || !*h)
		return 0;
	if (img_auth_decode(h, &j->auth, &j->auth_owner, j->msg, sizeof(j->msg)) != 0) {
		api_reply_error(req, 400, "invalid X-Registry-Auth header: %s", j->msg);
		job_free(j);
		return -1;
	}
	return 0;
}

static void distribution_inspect(struct api_req *req)
{
	struct job *j = job_new(req, run_distribution);

	j->arg = xstrdup(api_param(req, "name"));
	if (decode_auth(req, j) == 0)
		job_queue(j);
}

/* ------------------------------------------------------------------------ */
/* POST /images/load                                                         */

static void run_load(struct job *j)
{
	char **lines = NULL;
	int rv = img_load_path(j->img, j->upload, &lines, j->msg, sizeof(j->msg));

	if (rv) {
		j->status = rv == -EMSGSIZE ? 413 : rv == -EIO || rv == -ENOSPC ? 500 : 400;
		return;
	}
	j->reply = json_array();
	for (size_t i = 0; lines && lines[i]; i++)
		json_array_append_new(j->reply, json_string(lines[i]));
	img_strv_free(lines);
}

static void load_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct buf out = BUF_INIT;
	json_t *v;
	size_t i;

	if (j->status) {
		after_cb(w, status);
		return;
	}
	/* Docker answers a JSON message stream. */
	json_array_foreach(j->reply, i, v)
	{
		json_t *m = json_pack("{s:s+}", "stream", json_string_value(v), "\n");
		char *s = json_dumps(m, JSON_COMPACT);
		buf_append(&out, s, strlen(s));
		buf_append(&out, "\n", 1);
		free(s);
		json_decref(m);
	}
	api_reply_raw(j->req, 200, "application/json", out.data, out.len);
	buf_free(&out);
	job_free(j);
}

static void load_body(struct api_req *req, const uint8_t *data, size_t len)
{
	struct job *j = req->data;

	while (len > 0 && j->fd >= 0 && !j->status) {
		ssize_t w = write(j->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			j->status = 500;
			snprintf(j->msg, sizeof(j->msg), "cannot store the uploaded archive: %s",
				 strerror(errno));
			break;
		}
		data += w;
		len -= (size_t) w;
	}
}

static void load_body_end(struct api_req *req, int status)
{
	struct job *j = req->data;

	if (status == -EMSGSIZE && !j->status) {
		j->status = 413;
		snprintf(j->msg, sizeof(j->msg), "image archive too large");
	}
	if (j->status) {
		api_reply_error(req, j->status, "%s", j->msg);
		job_free(j);
		return;
	}
	close(j->fd);
	j->fd = -1;
	uv_queue_work(node_of(req)->loop, &j->work, work_cb, load_after);
}

static void load_cancel(struct api_req *req)
{
	struct job *j = req->data;

	/* The body will never end: answer (into the void) and clean up. */
	if (j->fd >= 0) {
		api_reply_error(req, 400, "client went away");
		job_free(j);
	}
}

static void images_load(struct api_req *req)
{
	struct job *j;
	char *path = NULL;

	if (!store_of(req)) {
		api_reply_error(req, 500, "the image store is not available on this node");
		return;
	}
	j = job_new(req, run_load);
	if (asprintf(&path, "%s/image/tmp/upload-XXXXXX", node_of(req)->cfg.data_root) < 0)
		abort();
	j->fd = mkstemp(path);
	if (j->fd < 0) {
		api_reply_error(req, 500, "cannot store the uploaded archive: %s", strerror(errno));
		free(path);
		job_free(j);
		return;
	}
	j->upload = path;
	req->data = j;
	req->on_body = load_body;
	req->on_body_end = load_body_end;
	req->on_cancel = load_cancel;
}

/* ------------------------------------------------------------------------ */
/* POST /images/create (pull)                                                */

static void flush_pending(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	if (j->pending.len && api_stream_write(j->req, j->pending.data, j->pending.len) != -EAGAIN)
		buf_reset(&j->pending);
	pthread_mutex_unlock(&j->mu);
}

static void pull_writable(struct api_req *req)
{
	flush_pending(req->data);
}

static void pull_async(uv_async_t *a)
{
	flush_pending(a->data);
}

static void pull_emit(struct job *j, json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT);

	pthread_mutex_lock(&j->mu);
	buf_append(&j->pending, s, strlen(s));
	buf_append(&j->pending, "\r\n", 2);
	pthread_mutex_unlock(&j->mu);
	free(s);
	json_decref(m);
}

static void pull_progress(void *arg, const char *status, const char *id)
{
	struct job *j = arg;

	pull_emit(j, id ? json_pack("{s:s,s:s}", "status", status, "id", id)
			: json_pack("{s:s}", "status", status));
	uv_async_send(&j->async);
}

static void run_pull(struct job *j)
{
	char *full = NULL;
	int rv =
	    img_pull(j->img, j->arg, &j->auth, pull_progress, j, &full, j->msg, sizeof(j->msg));

	if (rv) {
		pull_emit(j, json_pack("{s:{s:s},s:s}", "errorDetail", "message", j->msg, "error",
				       j->msg));
		log_warn("image", "pull failed ref=%s err=\"%s\"", j->arg, j->msg);
	}
	free(full);
}

static void pull_closed(uv_handle_t *h)
{
	struct job *j = h->data;

	pthread_mutex_destroy(&j->mu);
	job_free(j);
}

static void pull_after(uv_work_t *w, int status)
{
	struct job *j = w->data;

	/* Whatever is left goes out (best effort if the client is slow). */
	pthread_mutex_lock(&j->mu);
	if (j->pending.len)
		api_stream_write(j->req, j->pending.data, j->pending.len);
	buf_reset(&j->pending);
	pthread_mutex_unlock(&j->mu);
	api_stream_end(j->req);
	uv_close((uv_handle_t *) &j->async, pull_closed);
}

static void images_create(struct api_req *req)
{
	const char *from = api_query(req, "fromImage"), *tag = api_query(req, "tag");
	struct job *j;

	if (api_query(req, "fromSrc")) {
		api_reply_error(req, 501, "image import (fromSrc) is not supported");
		return;
	}
	if (!from || !*from) {
		api_reply_error(req, 400, "fromImage is required");
		return;
	}
	if (!store_of(req)) {
		api_reply_error(req, 500, "the image store is not available on this node");
		return;
	}
	j = job_new(req, run_pull);
	if (tag && *tag) {
		const char *last = strrchr(from, '/') ? strrchr(from, '/') : from;
		if (strchr(from, '@') || strchr(last, ':'))
			j->arg = xstrdup(from);
		else if (asprintf(&j->arg, "%s%s%s", from, strncmp(tag, "sha256:", 7) ? ":" : "@",
				  tag) < 0)
			abort();
	} else {
		j->arg = xstrdup(from);
	}
	if (decode_auth(req, j) != 0)
		return;
	pthread_mutex_init(&j->mu, NULL);
	uv_async_init(node_of(req)->loop, &j->async, pull_async);
	j->async.data = j;
	req->data = j;
	req->on_writable = pull_writable;
	api_stream_begin(req, 200, "application/json");
	uv_queue_work(node_of(req)->loop, &j->work, work_cb, pull_after);
}

/* ------------------------------------------------------------------------ */

static const struct api_route routes[] = {
    {"POST", "/images/load", images_load, API_ROUTE_STREAM_BODY, 0},
    {"POST", "/images/create", images_create, 0, 0},
    {"GET", "/images/json", images_list, 0, 0},
    {"GET", "/images/{name*}/json", images_inspect, 0, 0},
    {"DELETE", "/images/{name*}", images_delete, 0, 0},
    {"GET", "/distribution/{name*}/json", distribution_inspect, 0, 0},
};

int node_routes_images_add(struct api_server *s, struct node *n)
{
	return api_server_add_routes(s, routes, sizeof(routes) / sizeof(routes[0]), n);
}
