/* node_work: the worker side of a node — the task manager (worker/agent/
 * tasks.h) running containers through the executor and the image store,
 * fed by the agent session's assignment stream and reporting back over it. */
#include "daemon/node_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "worker/agent/runner.h"
#include "worker/agent/session.h"
#include "worker/agent/tasks.h"
#include "worker/logs/wlog.h"

/* The shim sits next to shoald (build/bin, /usr/local/bin). */
static char *shim_path(void)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return xstrdup("shoal-shim");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/shoal-shim", self);
	return xstrdup(path);
}

struct report_ctx {
	void (*done)(void *arg, int status);
	void *arg;
};

static void reported(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		     size_t len)
{
	struct report_ctx *r = call->data;

	(void) msg;
	(void) body;
	(void) len;
	r->done(r->arg, status);
	free(r);
}

static int report(void *ctx, Shoal__UpdateTaskStatusRequest *req,
		  void (*done)(void *arg, int status), void *arg)
{
	struct node *n = ctx;
	struct report_ctx *r;

	if (!n->session)
		return -SHOAL_ECLOSED;
	r = xmalloc(sizeof(*r));
	r->done = done;
	r->arg = arg;
	if (agent_session_report(n->session, req, 10000, reported, r) != 0) {
		free(r);
		return -SHOAL_ECLOSED;
	}
	return 0;
}

int node_work_start(struct node *n)
{
	char dir[PATH_MAX];
	struct agent_tasks_config cfg = {0};
	int rv;

	if (n->tasks)
		return 0;
	if (!n->work) {
		n->work = xcalloc(1, sizeof(*n->work));
		snprintf(dir, sizeof(dir), "%s/containers", n->cfg.data_root);
		n->work->log_root = xstrdup(dir);
		snprintf(dir, sizeof(dir), "%s/volumes", n->cfg.data_root);
		n->work->volume_root = xstrdup(dir);
		n->work->shim = shim_path();
		n->work->runner.exec.exec_root = n->cfg.exec_root;
		n->work->runner.exec.log_root = n->work->log_root;
		n->work->runner.exec.volume_root = n->work->volume_root;
		n->work->runner.exec.runtime = n->cfg.runtime;
		n->work->runner.exec.shim_path = n->work->shim;
		n->work->runner.exec.node_hostname = n->desc->hostname;
		n->work->runner.img = n->img;
	}
	n->work->runner.exec.node_id = n->st->node_id;
	snprintf(dir, sizeof(dir), "%s/worker", n->cfg.data_root);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		log_warn("node", "cannot create %s err=\"%s\"", dir, strerror(errno));
	snprintf(dir, sizeof(dir), "%s/worker/tasks", n->cfg.data_root);
	cfg.state_dir = dir;
	cfg.node_id = n->st->node_id;
	agent_runner_init(&cfg.runner, &n->work->runner);
	cfg.report = report;
	cfg.report_ctx = n;
	rv = agent_tasks_start(n->loop, &cfg, &n->tasks);
	if (rv)
		log_error("node", "cannot start the task manager dir=%s err=\"%s\"", dir,
			  err_str(rv));
	return rv;
}

void node_work_assignments(void *arg, const Shoal__AssignmentsMessage *m)
{
	struct node *n = arg;

	if (n->tasks)
		agent_tasks_assign(n->tasks, m);
}

void node_work_connected(struct node *n)
{
	if (n->tasks)
		agent_tasks_resync(n->tasks);
}

void node_work_stop(struct node *n, int remove_tasks, void (*cb)(void *arg), void *arg)
{
	struct agent_tasks *a = n->tasks;

	n->tasks = NULL;
	if (!a) {
		cb(arg);
		return;
	}
	if (remove_tasks)
		agent_tasks_remove_all(a, cb, arg);
	else
		agent_tasks_stop(a, cb, arg);
}

void node_work_free(struct node *n)
{
	if (!n->work)
		return;
	free(n->work->log_root);
	free(n->work->volume_root);
	free(n->work->shim);
	free(n->work);
	n->work = NULL;
}

/* ------------------------------------------------------------------------ */
/* agent.logs: a manager reads a task's logs on this node                    */

#define LOGS_POLL_MS	 200
#define LOGS_BATCH_BYTES (64u * 1024u)
#define LOGS_MAX_QUEUED	 (8u << 20)

struct alogs {
	struct rpc_req *req;
	struct node *n;
	struct wlog_opts opts;
	struct wlog_cursor cur;
	int follow;
	uv_timer_t timer;
	int timer_open;
	struct rpc_outq out;
	/* the batch being filled */
	Shoal__LogRecord **recs;
	size_t n_recs, cap, bytes;
	int ended;
};

static void alogs_flush(struct alogs *l, int stored_done)
{
	Shoal__LogBatch b = SHOAL__LOG_BATCH__INIT;
	uint8_t *buf;
	size_t len;

	if (!l->n_recs && !stored_done)
		return;
	b.records = l->recs;
	b.n_records = l->n_recs;
	b.stored_done = stored_done;
	len = shoal__log_batch__get_packed_size(&b);
	buf = xmalloc(len ? len : 1);
	shoal__log_batch__pack(&b, buf);
	rpc_outq_record(&l->out, buf, len);
	free(buf);
	for (size_t i = 0; i < l->n_recs; i++) {
		free(l->recs[i]->data.data);
		free(l->recs[i]);
	}
	l->n_recs = 0;
	l->bytes = 0;
}

static int alogs_add(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	struct alogs *l = arg;
	Shoal__LogRecord *r = xmalloc(sizeof(*r));

	(void) partial;
	shoal__log_record__init(r);
	r->stream = (uint32_t) stream;
	r->timestamp = ts;
	r->data.data = xmalloc(len ? len : 1);
	memcpy(r->data.data, data, len);
	r->data.len = len;
	if (l->n_recs == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->recs = xrealloc(l->recs, l->cap * sizeof(*l->recs));
	}
	l->recs[l->n_recs++] = r;
	l->bytes += len + 16;
	if (l->bytes >= LOGS_BATCH_BYTES)
		alogs_flush(l, 0);
	return 0;
}

static void alogs_freed(uv_handle_t *h)
{
	struct alogs *l = h->data;

	rpc_outq_free(&l->out);
	free(l->recs);
	free(l);
}

static void alogs_end(struct alogs *l, int status, const char *msg)
{
	if (l->ended)
		return;
	l->ended = 1;
	alogs_flush(l, 0); /* frees the records */
	l->req->data = NULL;
	rpc_stream_end(l->req, status, msg);
	if (l->timer_open) {
		uv_close((uv_handle_t *) &l->timer, alogs_freed);
	} else {
		rpc_outq_free(&l->out);
		free(l->recs);
		free(l);
	}
}

static void alogs_pump(struct alogs *l)
{
	int rv = rpc_outq_pump(l->req, &l->out);

	if (rv)
		alogs_end(l, rv, "stream closed");
	else if (!l->follow && !rpc_outq_pending(&l->out))
		alogs_end(l, 0, NULL);
}

static void alogs_poll(uv_timer_t *t)
{
	struct alogs *l = t->data;

	if (l->ended || rpc_outq_pending(&l->out) > LOGS_MAX_QUEUED)
		return;
	wlog_cursor_read(&l->cur, &l->opts, alogs_add, l);
	alogs_flush(l, 0);
	alogs_pump(l);
}

static void alogs_writable(struct rpc_req *req)
{
	if (req->data)
		alogs_pump(req->data);
}

static void alogs_cancel(struct rpc_req *req)
{
	if (req->data)
		alogs_end(req->data, -ECANCELED, "cancelled");
}

static int task_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
			return 0;
	return 1;
}

static void m_agent_logs(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct node *n = agent_session_arg_of(req);
	Shoal__LogsRequest *lr;
	struct alogs *l;
	char dir[PATH_MAX];

	if (!n || !n->work) {
		rpc_stream_end(req, -SHOAL_ECLOSED, "node is stopping");
		return;
	}
	lr = shoal__logs_request__unpack(NULL, len, body);
	if (!lr || !task_id_ok(lr->task_id)) {
		if (lr)
			shoal__logs_request__free_unpacked(lr, NULL);
		rpc_stream_end(req, -EINVAL, "malformed logs request");
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->req = req;
	l->n = n;
	l->opts.tail = lr->tail;
	l->opts.since = lr->since;
	l->opts.streams = (int) lr->streams;
	l->follow = lr->follow;
	snprintf(dir, sizeof(dir), "%s/%s", n->work->log_root, lr->task_id);
	shoal__logs_request__free_unpacked(lr, NULL);
	req->data = l;
	req->on_writable = alogs_writable;
	req->on_cancel = alogs_cancel;
	if (l->follow)
		wlog_cursor_open(&l->cur, dir, 1);
	wlog_read(dir, &l->opts, alogs_add, l);
	alogs_flush(l, 1);
	if (l->follow) {
		struct wlog_opts all = {.tail = -1, .streams = l->opts.streams};
		l->opts = all;
		uv_timer_init(n->loop, &l->timer);
		l->timer.data = l;
		l->timer_open = 1;
		uv_timer_start(&l->timer, alogs_poll, LOGS_POLL_MS, LOGS_POLL_MS);
	}
	alogs_pump(l);
}

const struct rpc_method node_work_methods[] = {
    {"agent.logs", m_agent_logs, RPC_F_STREAM},
};
const size_t node_work_n_methods = sizeof(node_work_methods) / sizeof(node_work_methods[0]);
