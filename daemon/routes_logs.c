/* routes_logs: GET /services/{id}/logs and /tasks/{id}/logs.
 *
 * The tasks come from this manager's replica of the store. A task's output
 * lives on the node that ran it, in the log files its shim writes
 * (worker/logs): tasks of this node are read from the files directly; for
 * the others the leader asks the node over its agent session (agent.logs),
 * and a manager that is not the leader asks the leader to relay that
 * (logs.proxy). The answer is Docker's stdcopy framing, every record
 * prefixed with its timestamp (timestamps=1) and Docker's swarm attributes
 * (details=1), which the docker CLI strips and turns into `web.1.x@node |`
 * prefixes.
 *
 * Stored records of every task are merged by time before the first byte
 * goes out (a node that does not answer within REMOTE_WAIT_MS is left out).
 * With follow=1 the response stays open: local files are polled, remote
 * records are sent as they arrive, and tasks the service gains meanwhile
 * are picked up. */
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
#include "proto/cluster.pb-c.h"
#include "worker/logs/wlog.h"

#define FOLLOW_POLL_MS	  200
#define RESCAN_EVERY	  5 /* polls between looks for new tasks */
#define REMOTE_WAIT_MS	  5000
#define MAX_TASKS	  4096
#define MAX_PENDING_OUT	  (8u << 20)
#define MAX_REMOTE_RECORD (16u << 20)

struct logs;

struct src {
	struct logs *l;
	char task_id[ID_LEN + 1];
	char node_id[ID_LEN + 1];
	char details[200];
	int remote;
	/* local */
	struct wlog_cursor cur;
	/* remote */
	struct rpc_peer *own_peer; /* dialed to the leader (logs.proxy) */
	struct rpc_call *call;
	struct buf in;	 /* a record being reassembled */
	int stored_done; /* the node sent all stored records */
	int done;	 /* the stream ended */
};

struct logs {
	struct api_req *req;
	struct node *n;
	char service_id[ID_LEN + 1]; /* "" for a single task */
	struct wlog_opts opts;
	int follow, timestamps, details;
	struct src **srcs;
	size_t n_srcs;
	uv_timer_t timer; /* follow polling, and the wait for remote nodes */
	int timer_open;
	unsigned polls;
	int emitted; /* stored records merged and sent; live from now on */
	struct recs_ {
		struct rec *v;
		size_t n, cap;
	} recs;		/* stored records waiting to be merged */
	struct buf out; /* frames not yet accepted by the connection */
	size_t out_off;
	int ended;
	int refs; /* the request, the timer, each remote call and dialed peer */
};

/* One stored record, for merging by time. */
struct rec {
	int64_t ts;
	int stream;
	struct src *src;
	uint64_t seq;
	char *data;
	size_t len;
};

static void unref(struct logs *l)
{
	if (--l->refs > 0)
		return;
	for (size_t i = 0; i < l->recs.n; i++)
		free(l->recs.v[i].data);
	free(l->recs.v);
	for (size_t i = 0; i < l->n_srcs; i++) {
		buf_free(&l->srcs[i]->in);
		free(l->srcs[i]);
	}
	free(l->srcs);
	buf_free(&l->out);
	free(l);
}

static void timer_closed(uv_handle_t *h)
{
	unref(h->data);
}

/* Ends the response and lets go of every remote stream. */
static void finish(struct logs *l)
{
	if (l->ended)
		return;
	l->ended = 1;
	l->req->data = NULL;
	api_stream_end(l->req);
	for (size_t i = 0; i < l->n_srcs; i++) {
		struct src *s = l->srcs[i];
		if (s->call)
			rpc_call_cancel(s->call);
		else if (s->own_peer)
			rpc_peer_close(s->own_peer, 0);
	}
	if (l->timer_open)
		uv_close((uv_handle_t *) &l->timer, timer_closed);
	unref(l);
}

static void frame(struct logs *l, const struct src *s, int stream, int64_t ts, const char *data,
		  size_t len)
{
	uint8_t *f;
	size_t flen;

	if (wlog_stdcopy_frame(stream, ts, l->timestamps, l->details ? s->details : NULL, data, len,
			       &f, &flen) == 0) {
		buf_append(&l->out, f, flen);
		free(f);
	}
}

/* Sends what is queued; returns 0, -EAGAIN (connection full) or -ECANCELED. */
static int flush_out(struct logs *l)
{
	if (!l->emitted)
		return 0;
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

static int remote_open(const struct logs *l)
{
	for (size_t i = 0; i < l->n_srcs; i++)
		if (l->srcs[i]->remote && !l->srcs[i]->done)
			return 1;
	return 0;
}

/* Without follow the response ends once everything is sent and no remote
 * stream is still coming. */
static void maybe_done(struct logs *l)
{
	int rv = flush_out(l);

	if (rv == -ECANCELED)
		finish(l);
	else if (rv == 0 && l->emitted && !l->follow && !remote_open(l))
		finish(l);
}

static void add_rec(struct logs *l, struct src *s, int stream, int64_t ts, const char *data,
		    size_t len)
{
	struct rec *e;

	if (l->emitted) {
		frame(l, s, stream, ts, data, len);
		return;
	}
	if (l->recs.n == l->recs.cap) {
		l->recs.cap = l->recs.cap ? l->recs.cap * 2 : 256;
		l->recs.v = xrealloc(l->recs.v, l->recs.cap * sizeof(*l->recs.v));
	}
	e = &l->recs.v[l->recs.n];
	e->ts = ts;
	e->stream = stream;
	e->src = s;
	e->seq = l->recs.n;
	e->data = xmalloc(len ? len : 1);
	memcpy(e->data, data, len);
	e->len = len;
	l->recs.n++;
}

struct one {
	struct logs *l;
	struct src *s;
};

static int local_rec(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	struct one *o = arg;

	(void) partial;
	add_rec(o->l, o->s, stream, ts, data, len);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void poll_cb(uv_timer_t *t);

/* Merges the stored records and starts the response. */
static void emit(struct logs *l)
{
	int rv;

	if (l->emitted || l->ended)
		return;
	qsort(l->recs.v, l->recs.n, sizeof(*l->recs.v), by_time);
	for (size_t i = 0; i < l->recs.n; i++) {
		struct rec *e = &l->recs.v[i];
		frame(l, e->src, e->stream, e->ts, e->data, e->len);
		free(e->data);
	}
	l->recs.n = 0;
	l->emitted = 1;
	rv = api_stream_begin(l->req, 200, "application/vnd.docker.raw-stream");
	if (rv) {
		finish(l);
		return;
	}
	if (l->follow && l->timer_open)
		uv_timer_start(&l->timer, poll_cb, FOLLOW_POLL_MS, FOLLOW_POLL_MS);
	else if (l->timer_open)
		uv_timer_stop(&l->timer);
	maybe_done(l);
}

static int all_stored(const struct logs *l)
{
	for (size_t i = 0; i < l->n_srcs; i++)
		if (l->srcs[i]->remote && !l->srcs[i]->stored_done && !l->srcs[i]->done)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Remote sources                                                            */

static int remote_record(void *arg, const uint8_t *rec, size_t len)
{
	struct src *s = arg;
	Shoal__LogBatch *b = shoal__log_batch__unpack(NULL, len, rec);

	if (!b)
		return -SHOAL_EPROTO;
	for (size_t i = 0; i < b->n_records; i++) {
		const Shoal__LogRecord *r = b->records[i];
		add_rec(s->l, s, (int) r->stream, r->timestamp, (const char *) r->data.data,
			r->data.len);
	}
	if (b->stored_done)
		s->stored_done = 1;
	shoal__log_batch__free_unpacked(b, NULL);
	return 0;
}

static void remote_data(struct rpc_call *call, const uint8_t *data, size_t len)
{
	struct src *s = call->data;
	struct logs *l = s->l;

	if (l->ended)
		return;
	if (rpc_records_feed(&s->in, data, len, MAX_REMOTE_RECORD, remote_record, s) != 0) {
		rpc_call_cancel(call);
		return;
	}
	if (!l->emitted && all_stored(l))
		emit(l);
	else if (l->emitted)
		maybe_done(l);
}

static void remote_end(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		       size_t len)
{
	struct src *s = call->data;
	struct logs *l = s->l;

	(void) body;
	(void) len;
	s->call = NULL;
	s->done = 1;
	if (status && status != -ECANCELED)
		log_info("api",
			 "logs of a task on another node unavailable task_id=%s node_id=%s "
			 "err=\"%s\" msg=\"%s\"",
			 s->task_id, s->node_id, err_str(status), msg ? msg : "");
	if (s->own_peer)
		rpc_peer_close(s->own_peer, 0); /* its close callback drops the ref */
	if (!l->ended) {
		if (!l->emitted && all_stored(l))
			emit(l);
		else if (l->emitted)
			maybe_done(l);
	}
	unref(l);
}

static void request_of(const struct logs *l, const struct src *s, Shoal__LogsRequest *r)
{
	r->task_id = (char *) s->task_id;
	r->node_id = (char *) s->node_id;
	r->tail = l->opts.tail;
	r->since = l->opts.since;
	r->follow = l->follow;
	r->streams = (uint32_t) l->opts.streams;
}

static int open_stream(struct src *s, struct rpc_peer *p, const char *method)
{
	Shoal__LogsRequest r = SHOAL__LOGS_REQUEST__INIT;
	uint8_t body[256];
	size_t len;
	int rv;

	request_of(s->l, s, &r);
	len = shoal__logs_request__pack(&r, body);
	rv = rpc_stream_open(p, method, body, len, remote_data, remote_end, s, &s->call);
	if (rv == 0)
		s->l->refs++;
	return rv;
}

static void own_peer_closed(struct rpc_peer *p, int reason)
{
	struct src *s = p->data;

	(void) reason;
	s->own_peer = NULL;
	unref(s->l);
}

static void leader_dialed(void *arg, int status, const char *why, struct rpc_peer *p)
{
	struct src *s = arg;
	struct logs *l = s->l;

	if (status) {
		log_info("api", "cannot reach the leader for logs err=\"%s\" why=\"%s\"",
			 err_str(status), why ? why : "");
		s->done = 1;
		if (!l->ended && !l->emitted && all_stored(l))
			emit(l);
		else if (!l->ended)
			maybe_done(l);
		unref(l); /* the dial's reference */
		return;
	}
	/* The dial's reference now belongs to the peer (own_peer_closed). */
	s->own_peer = p;
	if (l->ended || open_stream(s, p, "logs.proxy") != 0) {
		s->done = 1;
		rpc_peer_close(p, 0);
		if (!l->ended && !l->emitted && all_stored(l))
			emit(l);
	}
}

/* Starts fetching a remote task's logs; marks it done when it cannot. */
static void start_remote(struct logs *l, struct src *s)
{
	struct mgr *m = l->n->mgr;
	struct rpc_peer *p;

	if (m && mgr_is_leader(m)) {
		p = mgr_node_peer(m, s->node_id);
		if (!p || open_stream(s, p, "agent.logs") != 0)
			s->done = 1;
		return;
	}
	if (!m || !mgr_leader_addr(m)) {
		s->done = 1;
		return;
	}
	l->refs++;
	if (mgr_dial(l->n->loop, &l->n->id, mgr_leader_addr(m), leader_dialed, s, own_peer_closed,
		     s) != 0) {
		l->refs--;
		s->done = 1;
	}
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */

static void log_dir(const struct logs *l, const char *task_id, char *out, size_t len)
{
	snprintf(out, len, "%s/containers/%s", l->n->cfg.data_root, task_id);
}

static int have_src(const struct logs *l, const char *task_id)
{
	for (size_t i = 0; i < l->n_srcs; i++)
		if (strcmp(l->srcs[i]->task_id, task_id) == 0)
			return 1;
	return 0;
}

/* Adds a task as a source; `fresh` for tasks found while following (all
 * their records are new). */
static void add_src(struct logs *l, const Shoal__Task *t, const char *self, int fresh)
{
	struct src *s;
	char dir[512];
	struct one o;

	if (have_src(l, t->meta->id) || l->n_srcs >= MAX_TASKS || !t->node_id || !*t->node_id)
		return;
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	snprintf(s->task_id, sizeof(s->task_id), "%s", t->meta->id);
	snprintf(s->node_id, sizeof(s->node_id), "%s", t->node_id);
	snprintf(s->details, sizeof(s->details),
		 "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
		 "com.docker.swarm.task.id=%s",
		 t->node_id, t->service_id, t->meta->id);
	l->srcs = xrealloc(l->srcs, (l->n_srcs + 1) * sizeof(*l->srcs));
	l->srcs[l->n_srcs++] = s;
	if (strcmp(t->node_id, self) != 0) {
		s->remote = 1;
		start_remote(l, s);
		return;
	}
	log_dir(l, t->meta->id, dir, sizeof(dir));
	if (fresh) {
		wlog_cursor_open(&s->cur, dir, 0);
		return;
	}
	wlog_cursor_open(&s->cur, dir, 1);
	o.l = l;
	o.s = s;
	wlog_read(dir, &l->opts, local_rec, &o);
}

struct scan {
	struct logs *l;
	const char *self;
	int fresh;
};

static int scan_task(const void *obj, void *arg)
{
	struct scan *sc = arg;

	add_src(sc->l, obj, sc->self, sc->fresh);
	return 0;
}

static const char *self_id(struct node *n)
{
	return n->st && n->st->node_id ? n->st->node_id : "";
}

/* Looks for tasks the service gained while following. */
static void rescan(struct logs *l)
{
	struct scan sc = {.l = l, .self = self_id(l->n), .fresh = 1};

	if (!l->service_id[0] || !l->n->mgr)
		return;
	store_tasks_by_service(mgr_store(l->n->mgr), l->service_id, scan_task, &sc);
}

static void poll_cb(uv_timer_t *t)
{
	struct logs *l = t->data;
	struct wlog_opts all = {.tail = -1, .streams = l->opts.streams};

	if (l->ended)
		return;
	if (!l->emitted) { /* the wait for remote nodes is over */
		for (size_t i = 0; !l->follow && i < l->n_srcs; i++)
			if (l->srcs[i]->call && !l->srcs[i]->stored_done)
				rpc_call_cancel(l->srcs[i]->call);
		if (!l->ended)
			emit(l);
		return;
	}
	if (++l->polls % RESCAN_EVERY == 0)
		rescan(l);
	if (l->out.len - l->out_off < MAX_PENDING_OUT)
		for (size_t i = 0; i < l->n_srcs; i++) {
			struct one o = {.l = l, .s = l->srcs[i]};
			if (!o.s->remote)
				wlog_cursor_read(&o.s->cur, &all, local_rec, &o);
		}
	maybe_done(l);
}

static void on_writable(struct api_req *req)
{
	if (req->data)
		maybe_done(req->data);
}

static void on_cancel(struct api_req *req)
{
	if (req->data)
		finish(req->data);
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
	l->refs = 1; /* the request */
	if (parse_query(req, l)) {
		free(l);
		return;
	}
	req->data = l;
	req->on_writable = on_writable;
	req->on_cancel = on_cancel;
	if (is_service) {
		const Shoal__Service *s;
		if (store_resolve_service(st, ref, &s, msg, sizeof(msg)) != 0) {
			req->data = NULL;
			free(l);
			api_reply_error(req, 404, "%s", msg);
			return;
		}
		snprintf(l->service_id, sizeof(l->service_id), "%s", s->meta->id);
		struct scan sc = {.l = l, .self = self_id(n), .fresh = 0};
		store_tasks_by_service(st, s->meta->id, scan_task, &sc);
	} else {
		const Shoal__Task *t;
		if (store_resolve_task(st, ref, &t, msg, sizeof(msg)) != 0) {
			req->data = NULL;
			free(l);
			api_reply_error(req, 404, "%s", msg);
			return;
		}
		add_src(l, t, self_id(n), 0);
	}
	if (all_stored(l)) {
		if (l->follow) {
			uv_timer_init(n->loop, &l->timer);
			l->timer.data = l;
			l->timer_open = 1;
			l->refs++;
		}
		emit(l);
		return;
	}
	/* Remote nodes answer asynchronously; don't wait on them forever. */
	uv_timer_init(n->loop, &l->timer);
	l->timer.data = l;
	l->timer_open = 1;
	l->refs++;
	uv_timer_start(&l->timer, poll_cb, REMOTE_WAIT_MS, 0);
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
