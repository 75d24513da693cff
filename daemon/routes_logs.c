/* routes_logs: GET /services/{id}/logs and /tasks/{id}/logs.
 *
 * The tasks come from this manager's replica of the store; their output from
 * the log files the shims write (worker/logs) under <data-root>/containers.
 * The answer is Docker's stdcopy framing, every record prefixed with its
 * timestamp (timestamps=1) and Docker's swarm attributes (details=1), which
 * the docker CLI strips and turns into `web.1.x@node |` prefixes. Stored
 * records are merged across tasks by time; with follow=1 the response stays
 * open and new records are sent as the files grow (polled), including those
 * of tasks the service gains meanwhile.
 *
 * Tasks on other nodes: their logs live on those nodes, and this manager
 * cannot read them yet; such tasks are skipped (and logged at debug). */
#include "daemon/routes_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/mgr.h"
#include "daemon/node.h"
#include "manager/store/store.h"
#include "worker/logs/wlog.h"

#define FOLLOW_POLL_MS	200
#define RESCAN_EVERY	5 /* polls between looks for new tasks */
#define MAX_TASKS	4096
#define MAX_PENDING_OUT (8u << 20)

struct src {
	char task_id[ID_LEN + 1];
	char details[200];
	struct wlog_cursor cur;
};

struct logs {
	struct api_req *req;
	struct node *n;
	char service_id[ID_LEN + 1]; /* "" for a single task */
	struct wlog_opts opts;
	int follow, timestamps, details;
	struct src *srcs;
	size_t n_srcs;
	uv_timer_t timer;
	unsigned polls;
	struct buf out; /* frames not yet accepted by the connection */
	size_t out_off;
	int ended;
};

/* One stored record, for merging by time. */
struct rec {
	int64_t ts;
	int stream;
	size_t src;
	uint64_t seq;
	char *data;
	size_t len;
};

struct recs {
	struct rec *v;
	size_t n, cap;
	size_t src;
};

static void logs_free(struct logs *l)
{
	buf_free(&l->out);
	free(l->srcs);
	free(l);
}

static void timer_closed(uv_handle_t *h)
{
	logs_free(h->data);
}

/* Ends the response; the timer (when following) is closed after. */
static void finish(struct logs *l)
{
	if (l->ended)
		return;
	l->ended = 1;
	l->req->data = NULL;
	api_stream_end(l->req);
	if (l->follow)
		uv_close((uv_handle_t *) &l->timer, timer_closed);
	else
		logs_free(l);
}

static int frame(struct logs *l, const struct src *s, int stream, int64_t ts, const char *data,
		 size_t len)
{
	uint8_t *f;
	size_t flen;
	int rv = wlog_stdcopy_frame(stream, ts, l->timestamps, l->details ? s->details : NULL, data,
				    len, &f, &flen);

	if (rv == 0) {
		buf_append(&l->out, f, flen);
		free(f);
	}
	return rv;
}

/* Sends what is queued; returns 0, or -EAGAIN when the connection is full. */
static int flush_out(struct logs *l)
{
	while (l->out_off < l->out.len) {
		size_t n = l->out.len - l->out_off;
		int rv;

		if (n > 256 * 1024)
			n = 256 * 1024;
		rv = api_stream_write(l->req, l->out.data + l->out_off, n);
		if (rv)
			return rv;
		l->out_off += n;
	}
	l->out.len = l->out_off = 0;
	return 0;
}

static int collect(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	struct recs *r = arg;
	struct rec *e;

	(void) partial;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	e = &r->v[r->n];
	e->ts = ts;
	e->stream = stream;
	e->src = r->src;
	e->seq = r->n;
	e->data = xmalloc(len ? len : 1);
	memcpy(e->data, data, len);
	e->len = len;
	r->n++;
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void log_dir(const struct logs *l, const char *task_id, char *out, size_t len)
{
	snprintf(out, len, "%s/containers/%s", l->n->cfg.data_root, task_id);
}

static int have_src(const struct logs *l, const char *task_id)
{
	for (size_t i = 0; i < l->n_srcs; i++)
		if (strcmp(l->srcs[i].task_id, task_id) == 0)
			return 1;
	return 0;
}

/* Adds a task as a source (a local one), positioned after its stored
 * records when `at_end`. */
static void add_src(struct logs *l, const Shoal__Task *t, const char *self, int at_end)
{
	struct src *s;
	char dir[512];

	if (have_src(l, t->meta->id) || l->n_srcs >= MAX_TASKS)
		return;
	if (!t->node_id || strcmp(t->node_id, self) != 0) {
		log_debug("api",
			  "logs of a task on another node are not reachable yet task_id=%s "
			  "node_id=%s",
			  t->meta->id, t->node_id ? t->node_id : "");
		return;
	}
	l->srcs = xrealloc(l->srcs, (l->n_srcs + 1) * sizeof(*l->srcs));
	s = &l->srcs[l->n_srcs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->task_id, sizeof(s->task_id), "%s", t->meta->id);
	snprintf(s->details, sizeof(s->details),
		 "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
		 "com.docker.swarm.task.id=%s",
		 t->node_id, t->service_id, t->meta->id);
	log_dir(l, t->meta->id, dir, sizeof(dir));
	wlog_cursor_open(&s->cur, dir, at_end);
}

struct scan {
	struct logs *l;
	const char *self;
	int at_end;
};

static int scan_task(const void *obj, void *arg)
{
	struct scan *sc = arg;

	add_src(sc->l, obj, sc->self, sc->at_end);
	return 0;
}

static const char *self_id(struct node *n)
{
	return n->st && n->st->node_id ? n->st->node_id : "";
}

/* Looks for tasks the service gained (they start from their first record). */
static void rescan(struct logs *l)
{
	struct scan sc = {.l = l, .self = self_id(l->n), .at_end = 0};

	if (!l->service_id[0] || !l->n->mgr)
		return;
	store_tasks_by_service(mgr_store(l->n->mgr), l->service_id, scan_task, &sc);
}

struct follow {
	struct logs *l;
	size_t src;
};

static int follow_rec(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	struct follow *f = arg;

	(void) partial;
	return frame(f->l, &f->l->srcs[f->src], stream, ts, data, len);
}

static void poll_cb(uv_timer_t *t)
{
	struct logs *l = t->data;
	struct follow r = {.l = l};

	if (l->ended)
		return;
	if (++l->polls % RESCAN_EVERY == 0)
		rescan(l);
	if (l->out.len - l->out_off < MAX_PENDING_OUT)
		for (size_t i = 0; i < l->n_srcs; i++) {
			r.src = i;
			wlog_cursor_read(&l->srcs[i].cur, &l->opts, follow_rec, &r);
		}
	if (flush_out(l) == -ECANCELED)
		finish(l);
}

static void on_writable(struct api_req *req)
{
	struct logs *l = req->data;

	if (!l)
		return;
	if (flush_out(l) == 0 && !l->follow)
		finish(l);
}

static void on_cancel(struct api_req *req)
{
	if (req->data)
		finish(req->data);
}

/* Sends the stored records of every source, merged by time, then follows. */
static void start(struct logs *l)
{
	struct recs r = {0};
	char dir[512];
	int rv;

	for (size_t i = 0; i < l->n_srcs; i++) {
		r.src = i;
		log_dir(l, l->srcs[i].task_id, dir, sizeof(dir));
		wlog_read(dir, &l->opts, collect, &r);
	}
	qsort(r.v, r.n, sizeof(*r.v), by_time);
	for (size_t i = 0; i < r.n; i++) {
		frame(l, &l->srcs[r.v[i].src], r.v[i].stream, r.v[i].ts, r.v[i].data, r.v[i].len);
		free(r.v[i].data);
	}
	free(r.v);
	l->req->data = l;
	l->req->on_writable = on_writable;
	l->req->on_cancel = on_cancel;
	rv = api_stream_begin(l->req, 200, "application/vnd.docker.raw-stream");
	if (rv == 0)
		rv = flush_out(l);
	if (rv == -ECANCELED || (rv == 0 && !l->follow)) {
		finish(l);
		return;
	}
	/* Following (or waiting for the connection to drain). */
	if (l->follow) {
		uv_timer_init(l->n->loop, &l->timer);
		l->timer.data = l;
		uv_timer_start(&l->timer, poll_cb, FOLLOW_POLL_MS, FOLLOW_POLL_MS);
	}
}

/* Docker's query: stdout/stderr (at least one), follow, tail, since,
 * timestamps, details. Returns 0 or replies 400. */
static int parse_query(struct api_req *req, struct logs *l)
{
	int out = api_query_bool(req, "stdout", 0), err = api_query_bool(req, "stderr", 0);
	const char *tail = api_query(req, "tail");
	const char *since = api_query(req, "since");

	if (!out && !err) {
		api_reply_error(req, 400, "Bad parameters: you must choose at least one stream");
		return -1;
	}
	l->opts.streams = (out ? WLOG_STDOUT : 0) | (err ? WLOG_STDERR : 0);
	l->opts.tail = -1;
	if (tail && *tail && strcmp(tail, "all") != 0) {
		char *end;
		long long v = strtoll(tail, &end, 10);
		if (*end || v < 0) {
			api_reply_error(req, 400,
					"invalid tail value %s: must be a number or \"all\"", tail);
			return -1;
		}
		l->opts.tail = v;
	}
	if (since && *since && strcmp(since, "0") != 0) {
		char *end;
		double v = strtod(since, &end);
		if (*end || v < 0) {
			api_reply_error(req, 400, "invalid since value %s: want unix seconds",
					since);
			return -1;
		}
		l->opts.since = (int64_t) (v * 1e9);
	}
	l->follow = api_query_bool(req, "follow", 0);
	l->timestamps = api_query_bool(req, "timestamps", 0);
	l->details = api_query_bool(req, "details", 0);
	return 0;
}

static void serve(struct api_req *req, int is_service)
{
	struct node *n = node_of(req);
	struct logs *l;
	const char *ref = api_param(req, "id");
	char msg[256];
	struct store *st;

	if (node_route_need_manager(req))
		return;
	st = mgr_store(n->mgr);
	l = xcalloc(1, sizeof(*l));
	l->req = req;
	l->n = n;
	if (parse_query(req, l)) {
		logs_free(l);
		return;
	}
	if (is_service) {
		const Shoal__Service *s;
		if (store_resolve_service(st, ref, &s, msg, sizeof(msg)) != 0) {
			logs_free(l);
			api_reply_error(req, 404, "%s", msg);
			return;
		}
		snprintf(l->service_id, sizeof(l->service_id), "%s", s->meta->id);
		struct scan sc = {.l = l, .self = self_id(n), .at_end = 1};
		store_tasks_by_service(st, s->meta->id, scan_task, &sc);
	} else {
		const Shoal__Task *t;
		if (store_resolve_task(st, ref, &t, msg, sizeof(msg)) != 0) {
			logs_free(l);
			api_reply_error(req, 404, "%s", msg);
			return;
		}
		add_src(l, t, self_id(n), 1);
	}
	start(l);
}

static void service_logs(struct api_req *req)
{
	serve(req, 1);
}

static void task_logs(struct api_req *req)
{
	serve(req, 0);
}

static const struct api_route routes[] = {
    {"GET", "/services/{id}/logs", service_logs, 0, 0},
    {"GET", "/tasks/{id}/logs", task_logs, 0, 0},
};

int node_routes_logs_add(struct api_server *s, struct node *n)
{
	return api_server_add_routes(s, routes, sizeof(routes) / sizeof(routes[0]), n);
}
