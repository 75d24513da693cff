/* agent tasks: see tasks.h. Everything here runs on the loop thread except
 * the runner operations, which run on libuv's thread pool with their own
 * copies of what they need; a task with an operation in flight (`busy`) is
 * not stepped again until the operation's result is back. */
#include "worker/agent/tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define S(x)		  SHOAL__TASK_STATE__TASK_STATE_##x
#define DEFAULT_POLL_MS	  250
#define REPORT_RETRY_MS	  500
#define REPORT_TIMEOUT_MS 10000
#define MAX_STATE_FILE	  (16u << 20)

enum op { OP_PREPARE, OP_START, OP_INSPECT, OP_STOP, OP_REMOVE };

struct atask {
	Shoal__Task *task;   /* latest assignment, status = ours (owned) */
	int busy;	     /* a runner operation is in flight */
	int removed;	     /* no longer assigned: stop, remove, forget */
	int stopped;	     /* the container is known not to run */
	int dirty;	     /* status not yet reported */
	int seen;	     /* in the COMPLETE message being applied */
	int fail_after_stop; /* unhealthy: report FAILED once stopped */
	struct atask *prev, *next;
};

struct blob {
	int is_secret;
	char *id;
	ProtobufCBinaryData data;
	int seen;
	struct blob *next;
};

struct agent_tasks {
	uv_loop_t *loop;
	struct agent_tasks_config cfg;
	struct atask *tasks;
	struct blob *blobs;
	uv_timer_t poll, report;
	int reporting; /* a report is in flight */
	int inflight;  /* runner operations */
	int stopping;
	int draining; /* agent_tasks_remove_all: stop once every task is gone */
	int closing;
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deep copy through pack/unpack. Aborts on OOM. */
static Shoal__Task *task_dup(const Shoal__Task *t)
{
	size_t len = shoal__task__get_packed_size(t);
	uint8_t *buf = xmalloc(len ? len : 1);
	Shoal__Task *copy;

	shoal__task__pack(t, buf);
	copy = shoal__task__unpack(NULL, len, buf);
	free(buf);
	if (!copy)
		abort();
	return copy;
}

static const char *tid(const struct atask *t)
{
	return t->task->meta->id;
}

/* ------------------------------------------------------------------------ */
/* Persistence                                                               */

static void state_path(const struct agent_tasks *a, const char *id, const char *suffix, char *out,
		       size_t n)
{
	snprintf(out, n, "%s/%s.task%s", a->cfg.state_dir, id, suffix);
}

static void persist(struct agent_tasks *a, struct atask *t)
{
	char path[512], tmp[520];
	size_t len = shoal__task__get_packed_size(t->task);
	uint8_t *buf = xmalloc(len ? len : 1);
	int fd;

	shoal__task__pack(t->task, buf);
	state_path(a, tid(t), "", path, sizeof(path));
	state_path(a, tid(t), ".tmp", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t) len || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		log_warn("agent", "cannot save task state task_id=%s err=\"%s\"", tid(t),
			 strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
	free(buf);
}

static void unpersist(struct agent_tasks *a, const char *id)
{
	char path[512];

	state_path(a, id, "", path, sizeof(path));
	unlink(path);
}

static Shoal__Task *load_one(const char *path)
{
	struct stat st;
	uint8_t *buf;
	Shoal__Task *t = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= MAX_STATE_FILE) {
		buf = xmalloc((size_t) st.st_size);
		if (read(fd, buf, (size_t) st.st_size) == st.st_size)
			t = shoal__task__unpack(NULL, (size_t) st.st_size, buf);
		free(buf);
	}
	close(fd);
	if (t && (!t->meta || !t->meta->id || !*t->meta->id || !t->status)) {
		shoal__task__free_unpacked(t, NULL);
		t = NULL;
	}
	return t;
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */

static struct atask *find(struct agent_tasks *a, const char *id)
{
	for (struct atask *t = a->tasks; t; t = t->next)
		if (strcmp(tid(t), id) == 0)
			return t;
	return NULL;
}

static struct atask *add(struct agent_tasks *a, Shoal__Task *task)
{
	struct atask *t = xcalloc(1, sizeof(*t));

	t->task = task;
	t->next = a->tasks;
	if (t->next)
		t->next->prev = t;
	a->tasks = t;
	return t;
}

static void forget(struct agent_tasks *a, struct atask *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		a->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	unpersist(a, tid(t));
	shoal__task__free_unpacked(t->task, NULL);
	free(t);
}

static void report_cb(uv_timer_t *timer);

static void schedule_report(struct agent_tasks *a, uint64_t delay)
{
	if (!a->stopping && !a->reporting && !uv_is_active((uv_handle_t *) &a->report))
		uv_timer_start(&a->report, report_cb, delay, 0);
}

static void set_status(struct agent_tasks *a, struct atask *t, Shoal__TaskState st, const char *msg,
		       const char *err)
{
	Shoal__TaskStatus *s = t->task->status;

	if (s->message != protobuf_c_empty_string)
		free(s->message);
	if (s->err != protobuf_c_empty_string)
		free(s->err);
	s->state = st;
	s->message = xstrdup(msg);
	s->err = xstrdup(err ? err : "");
	s->timestamp = now_ns();
	if (!s->container_status) {
		s->container_status = xmalloc(sizeof(*s->container_status));
		shoal__container_status__init(s->container_status);
		s->container_status->container_id = xstrdup(tid(t));
	}
	log_info("agent", "task state task_id=%s state=%d msg=\"%s\"%s%s%s", tid(t), (int) st, msg,
		 err ? " err=\"" : "", err ? err : "", err ? "\"" : "");
	t->dirty = 1;
	persist(a, t);
	schedule_report(a, 0);
}

/* ------------------------------------------------------------------------ */
/* Runner operations                                                         */

struct work {
	uv_work_t req;
	struct agent_tasks *a;
	struct atask *t;
	enum op op;
	Shoal__Task *task; /* the thread's own copy */
	struct agent_file *files;
	size_t n_files;
	int rv;
	struct agent_cinfo info;
	char err[512];
};

static void step(struct agent_tasks *a, struct atask *t);

static void work_run(uv_work_t *req)
{
	struct work *w = req->data;
	const struct agent_runner *r = &w->a->cfg.runner;
	const char *id = w->task->meta->id;

	switch (w->op) {
	case OP_PREPARE:
		w->rv = r->prepare(r->ctx, w->task, w->files, w->n_files, w->err, sizeof(w->err));
		break;
	case OP_START:
		w->rv = r->start(r->ctx, w->task, w->err, sizeof(w->err));
		break;
	case OP_INSPECT:
		w->rv = r->inspect(r->ctx, id, &w->info);
		break;
	case OP_STOP:
		w->rv = r->stop(r->ctx, w->task);
		break;
	case OP_REMOVE:
		w->rv = r->remove(r->ctx, id);
		break;
	}
}

static void work_free(struct work *w)
{
	for (size_t i = 0; i < w->n_files; i++) {
		free((char *) w->files[i].target);
		free((uint8_t *) w->files[i].data);
	}
	free(w->files);
	shoal__task__free_unpacked(w->task, NULL);
	free(w);
}

static void maybe_finish_stop(struct agent_tasks *a);

static void after_exit(struct agent_tasks *a, struct atask *t, const struct agent_cinfo *c)
{
	char err[300];

	t->stopped = 1;
	t->task->status->container_status->exit_code = c->exit_code;
	if (t->fail_after_stop) {
		set_status(a, t, S(FAILED), "unhealthy", "task: unhealthy container");
	} else if (t->task->desired_state > S(RUNNING)) {
		set_status(a, t, S(SHUTDOWN), "shutdown", NULL);
	} else if (c->exit_code == 0 && !c->err[0]) {
		set_status(a, t, S(COMPLETE), "finished", NULL);
	} else {
		if (c->err[0])
			snprintf(err, sizeof(err), "task: %s", c->err);
		else
			snprintf(err, sizeof(err), "task: non-zero exit (%d)", c->exit_code);
		set_status(a, t, S(FAILED), "started", err);
	}
}

static void work_done(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct agent_tasks *a = w->a;
	struct atask *t = w->t;
	char err[600];

	a->inflight--;
	t->busy = 0;
	if (status == UV_ECANCELED)
		w->rv = -ECANCELED;
	switch (w->op) {
	case OP_PREPARE:
		if (t->removed || t->task->status->state != S(PREPARING))
			break;
		if (w->rv)
			set_status(a, t, S(REJECTED), "preparing",
				   w->err[0] ? w->err : err_str(w->rv));
		else
			set_status(a, t, S(READY), "prepared", NULL);
		break;
	case OP_START:
		if (t->removed || t->task->status->state != S(STARTING))
			break;
		if (w->rv) {
			snprintf(err, sizeof(err), "starting container failed: %s",
				 w->err[0] ? w->err : err_str(w->rv));
			t->stopped = 1;
			set_status(a, t, S(REJECTED), "starting", err);
		} else {
			set_status(a, t, S(RUNNING), "started", NULL);
		}
		break;
	case OP_INSPECT:
		if (t->removed || w->rv)
			break;
		if (t->task->status->state == S(STARTING)) {
			/* Found mid-start after a restart: adopt or start again. */
			if (w->info.state == AGENT_C_RUNNING)
				set_status(a, t, S(RUNNING), "started", NULL);
			else if (w->info.state == AGENT_C_EXITED)
				after_exit(a, t, &w->info);
			else
				set_status(a, t, S(READY), "prepared", NULL);
			break;
		}
		if (t->task->status->state != S(RUNNING))
			break;
		t->task->status->container_status->pid = w->info.pid;
		if (w->info.state == AGENT_C_EXITED) {
			after_exit(a, t, &w->info);
		} else if (w->info.state == AGENT_C_NONE || w->info.state == AGENT_C_CREATED) {
			struct agent_cinfo gone = {.exit_code = -1};
			snprintf(gone.err, sizeof(gone.err), "container is gone");
			after_exit(a, t, &gone);
		} else if (w->info.unhealthy && !t->fail_after_stop) {
			t->fail_after_stop = 1;
		}
		break;
	case OP_STOP:
		if (w->rv)
			log_warn("agent", "stop failed task_id=%s err=\"%s\"", tid(t),
				 err_str(w->rv));
		t->stopped = 1;
		if (!t->removed && t->task->status->state <= S(RUNNING)) {
			struct agent_cinfo c = {.exit_code = 0};
			after_exit(a, t, &c);
		}
		break;
	case OP_REMOVE:
		if (w->rv)
			log_warn("agent", "remove failed task_id=%s err=\"%s\"", tid(t),
				 err_str(w->rv));
		log_info("agent", "task removed task_id=%s", tid(t));
		forget(a, t);
		t = NULL;
		break;
	}
	work_free(w);
	if (a->stopping) {
		maybe_finish_stop(a);
		return;
	}
	if (t)
		step(a, t);
	else if (a->draining && !a->tasks)
		agent_tasks_stop(a, a->stop_cb, a->stop_arg);
}

static const struct blob *find_blob(const struct agent_tasks *a, int is_secret, const char *id)
{
	for (const struct blob *b = a->blobs; b; b = b->next)
		if (b->is_secret == is_secret && strcmp(b->id, id) == 0)
			return b;
	return NULL;
}

static uint32_t parse_id(const char *s)
{
	return s && *s ? (uint32_t) strtoul(s, NULL, 10) : 0;
}

/* The files a task's secrets and configs become. Returns 0, or -ENOENT with
 * `err` naming what this node was not given. */
static int collect_files(struct agent_tasks *a, struct work *w, char *err, size_t errlen)
{
	const Shoal__ContainerSpec *c = w->task->spec ? w->task->spec->container : NULL;
	size_t n = c ? c->n_secrets + c->n_configs : 0;

	w->files = n ? xcalloc(n, sizeof(*w->files)) : NULL;
	for (size_t i = 0; c && i < c->n_secrets + c->n_configs; i++) {
		int is_secret = i < c->n_secrets;
		const Shoal__SecretReference *sr = is_secret ? c->secrets[i] : NULL;
		const Shoal__ConfigReference *cr = is_secret ? NULL : c->configs[i - c->n_secrets];
		const char *id = is_secret ? sr->secret_id : cr->config_id;
		const char *name = is_secret ? sr->secret_name : cr->config_name;
		const Shoal__FileTarget *f = is_secret ? sr->file : cr->file;
		const struct blob *b = find_blob(a, is_secret, id);
		struct agent_file *out = &w->files[w->n_files];
		char target[600];

		if (!f)
			continue; /* a config for the runtime only */
		if (!b) {
			snprintf(err, errlen, "%s %s not available on this node",
				 is_secret ? "secret" : "config", name);
			return -ENOENT;
		}
		const char *fn = f->name && *f->name ? f->name : name;
		if (fn[0] == '/')
			snprintf(target, sizeof(target), "%s", fn);
		else
			snprintf(target, sizeof(target), "%s/%s", is_secret ? "/run/secrets" : "",
				 fn);
		out->target = xstrdup(target);
		out->len = b->data.len;
		out->data = xmalloc(b->data.len ? b->data.len : 1);
		memcpy((uint8_t *) out->data, b->data.data, b->data.len);
		out->uid = parse_id(f->uid);
		out->gid = parse_id(f->gid);
		out->mode = f->mode ? f->mode : 0444;
		w->n_files++;
	}
	return 0;
}

static void submit(struct agent_tasks *a, struct atask *t, enum op op)
{
	struct work *w = xcalloc(1, sizeof(*w));
	char err[300];
	int rv;

	w->a = a;
	w->t = t;
	w->op = op;
	w->task = task_dup(t->task);
	w->req.data = w;
	if (op == OP_PREPARE && collect_files(a, w, err, sizeof(err)) != 0) {
		work_free(w);
		set_status(a, t, S(REJECTED), "preparing", err);
		return;
	}
	t->busy = 1;
	a->inflight++;
	rv = uv_queue_work(a->loop, &w->req, work_run, work_done);
	if (rv) {
		w->rv = rv;
		work_done(&w->req, rv);
	}
}

/* Moves a task one step toward what the managers want, as far as it can
 * go without waiting for an operation. */
static void step(struct agent_tasks *a, struct atask *t)
{
	Shoal__TaskState st, desired;

	if (t->busy || a->stopping)
		return;
	st = t->task->status->state;
	desired = t->task->desired_state;
	if (t->removed) {
		submit(a, t, st >= S(STARTING) && !t->stopped ? OP_STOP : OP_REMOVE);
		return;
	}
	if (t->fail_after_stop && !t->stopped) {
		submit(a, t, OP_STOP);
		return;
	}
	if (st >= S(COMPLETE))
		return;
	if (desired > S(RUNNING)) {
		if (st >= S(STARTING) && !t->stopped)
			submit(a, t, OP_STOP);
		else
			set_status(a, t, S(SHUTDOWN), "shutdown", NULL);
		return;
	}
	if (st < S(ACCEPTED)) {
		set_status(a, t, S(ACCEPTED), "accepted", NULL);
		st = S(ACCEPTED);
	}
	switch (st) {
	case S(ACCEPTED):
		set_status(a, t, S(PREPARING), "preparing", NULL);
		/* fallthrough */
	case S(PREPARING):
		submit(a, t, OP_PREPARE);
		break;
	case S(READY):
		if (desired < S(RUNNING))
			break; /* held back: a restart delay */
		set_status(a, t, S(STARTING), "starting", NULL);
		submit(a, t, OP_START);
		break;
	case S(STARTING):
		submit(a, t, OP_INSPECT); /* left mid-start by a restart */
		break;
	default:
		break; /* RUNNING: the poll timer watches it */
	}
}

/* ------------------------------------------------------------------------ */
/* Watching containers, reporting                                            */

static void poll_cb(uv_timer_t *timer)
{
	struct agent_tasks *a = timer->data;

	for (struct atask *t = a->tasks; t; t = t->next) {
		if (t->busy || t->removed)
			continue;
		if (t->task->status->state == S(RUNNING))
			submit(a, t, t->fail_after_stop ? OP_STOP : OP_INSPECT);
	}
}

struct report {
	struct agent_tasks *a;
	char **ids;
	size_t n;
};

static void report_done(void *arg, int status)
{
	struct report *r = arg;
	struct agent_tasks *a = r->a;

	a->reporting = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct atask *t = status ? find(a, r->ids[i]) : NULL;
		if (t)
			t->dirty = 1; /* send again */
		free(r->ids[i]);
	}
	free(r->ids);
	free(r);
	if (a->stopping) {
		maybe_finish_stop(a);
		return;
	}
	for (struct atask *t = a->tasks; t; t = t->next)
		if (t->dirty) {
			schedule_report(a, status ? REPORT_RETRY_MS : 0);
			break;
		}
}

static void report_cb(uv_timer_t *timer)
{
	struct agent_tasks *a = timer->data;
	Shoal__UpdateTaskStatusRequest req = SHOAL__UPDATE_TASK_STATUS_REQUEST__INIT;
	struct report *r;
	size_t n = 0;

	for (struct atask *t = a->tasks; t; t = t->next)
		n += t->dirty && !t->removed;
	if (!n || a->reporting)
		return;
	r = xcalloc(1, sizeof(*r));
	r->a = a;
	r->ids = xcalloc(n, sizeof(char *));
	req.updates = xcalloc(n, sizeof(*req.updates));
	for (struct atask *t = a->tasks; t; t = t->next) {
		if (!t->dirty || t->removed)
			continue;
		Shoal__TaskStatusUpdate *u = xmalloc(sizeof(*u));
		shoal__task_status_update__init(u);
		u->task_id = t->task->meta->id;
		u->status = t->task->status;
		req.updates[req.n_updates++] = u;
		r->ids[r->n++] = xstrdup(tid(t));
		t->dirty = 0;
	}
	a->reporting = 1;
	if (a->cfg.report(a->cfg.report_ctx, &req, report_done, r) != 0) {
		/* Not connected: keep them dirty; resync sends them. */
		for (size_t i = 0; i < r->n; i++) {
			struct atask *t = find(a, r->ids[i]);
			if (t)
				t->dirty = 1;
		}
		a->reporting = 0;
		for (size_t i = 0; i < r->n; i++)
			free(r->ids[i]);
		free(r->ids);
		free(r);
	}
	for (size_t i = 0; i < req.n_updates; i++)
		free(req.updates[i]);
	free(req.updates);
}

void agent_tasks_resync(struct agent_tasks *a)
{
	for (struct atask *t = a->tasks; t; t = t->next)
		t->dirty = 1;
	schedule_report(a, 0);
}

/* ------------------------------------------------------------------------ */
/* Assignments                                                               */

static void put_blob(struct agent_tasks *a, int is_secret, const char *id,
		     const ProtobufCBinaryData *data)
{
	struct blob *b = (struct blob *) find_blob(a, is_secret, id);

	if (!b) {
		b = xcalloc(1, sizeof(*b));
		b->is_secret = is_secret;
		b->id = xstrdup(id);
		b->next = a->blobs;
		a->blobs = b;
	} else {
		sodium_memzero(b->data.data, b->data.len);
		free(b->data.data);
	}
	b->data.len = data->len;
	b->data.data = xmalloc(data->len ? data->len : 1);
	memcpy(b->data.data, data->data, data->len);
	b->seen = 1;
}

static void drop_blobs(struct agent_tasks *a, int only_unseen, int is_secret, const char *id)
{
	for (struct blob **pp = &a->blobs; *pp;) {
		struct blob *b = *pp;
		int drop =
		    only_unseen ? !b->seen : (b->is_secret == is_secret && strcmp(b->id, id) == 0);
		b->seen = only_unseen ? 0 : b->seen;
		if (!drop) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		sodium_memzero(b->data.data, b->data.len);
		free(b->data.data);
		free(b->id);
		free(b);
	}
}

static void put_task(struct agent_tasks *a, const Shoal__Task *in)
{
	struct atask *t;
	Shoal__Task *next;

	if (!in->meta || !in->meta->id || !*in->meta->id)
		return;
	t = find(a, in->meta->id);
	next = task_dup(in);
	if (!next->status) {
		next->status = xmalloc(sizeof(*next->status));
		shoal__task_status__init(next->status);
	}
	if (t) {
		/* Our observed status wins unless the managers know of a later one. */
		if (t->task->status->state >= next->status->state) {
			shoal__task_status__free_unpacked(next->status, NULL);
			next->status = t->task->status;
			t->task->status = NULL;
		}
		shoal__task__free_unpacked(t->task, NULL);
		t->task = next;
		t->removed = 0;
	} else {
		t = add(a, next);
		log_info("agent", "task assigned task_id=%s name=%s", tid(t),
			 next->annotations ? next->annotations->name : "");
	}
	t->seen = 1;
	persist(a, t);
}

void agent_tasks_assign(struct agent_tasks *a, const Shoal__AssignmentsMessage *m)
{
	int complete = m->type == SHOAL__ASSIGNMENTS_MESSAGE__TYPE__COMPLETE;

	if (a->stopping || a->draining)
		return;
	for (struct atask *t = a->tasks; t; t = t->next)
		t->seen = 0;
	for (size_t i = 0; i < m->n_changes; i++) {
		const Shoal__AssignmentChange *c = m->changes[i];
		const Shoal__Assignment *as = c->assignment;
		int rm = c->action == SHOAL__ASSIGNMENT_CHANGE__ACTION__REMOVE;

		if (!as)
			continue;
		if (as->item_case == SHOAL__ASSIGNMENT__ITEM_TASK && as->task) {
			if (!rm) {
				put_task(a, as->task);
			} else if (as->task->meta && as->task->meta->id) {
				struct atask *t = find(a, as->task->meta->id);
				if (t)
					t->removed = 1;
			}
		} else if (as->item_case == SHOAL__ASSIGNMENT__ITEM_SECRET && as->secret &&
			   as->secret->meta) {
			if (rm)
				drop_blobs(a, 0, 1, as->secret->meta->id);
			else if (as->secret->spec)
				put_blob(a, 1, as->secret->meta->id, &as->secret->spec->data);
		} else if (as->item_case == SHOAL__ASSIGNMENT__ITEM_CONFIG && as->config &&
			   as->config->meta) {
			if (rm)
				drop_blobs(a, 0, 0, as->config->meta->id);
			else if (as->config->spec)
				put_blob(a, 0, as->config->meta->id, &as->config->spec->data);
		}
	}
	if (complete) {
		drop_blobs(a, 1, 0, NULL);
		for (struct atask *t = a->tasks; t; t = t->next)
			if (!t->seen)
				t->removed = 1;
	} else {
		for (struct blob *b = a->blobs; b; b = b->next)
			b->seen = 0;
	}
	for (struct atask *t = a->tasks, *next; t; t = next) {
		next = t->next; /* step may forget t */
		step(a, t);
	}
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

static void load_all(struct agent_tasks *a)
{
	DIR *d = opendir(a->cfg.state_dir);
	struct dirent *e;
	char path[768];

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".task") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, e->d_name);
		Shoal__Task *task = load_one(path);
		if (!task) {
			log_warn("agent", "unreadable task state file=%s: ignored", path);
			continue;
		}
		struct atask *t = add(a, task);
		log_info("agent", "task resumed task_id=%s state=%d", tid(t),
			 (int) task->status->state);
	}
	closedir(d);
}

int agent_tasks_start(uv_loop_t *loop, const struct agent_tasks_config *cfg,
		      struct agent_tasks **out)
{
	struct agent_tasks *a;

	if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	a = xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->cfg = *cfg;
	a->cfg.state_dir = xstrdup(cfg->state_dir);
	a->cfg.node_id = xstrdup(cfg->node_id ? cfg->node_id : "");
	if (!a->cfg.poll_ms)
		a->cfg.poll_ms = DEFAULT_POLL_MS;
	uv_timer_init(loop, &a->poll);
	uv_timer_init(loop, &a->report);
	a->poll.data = a->report.data = a;
	load_all(a);
	uv_timer_start(&a->poll, poll_cb, a->cfg.poll_ms, a->cfg.poll_ms);
	for (struct atask *t = a->tasks, *next; t; t = next) {
		next = t->next;
		step(a, t);
	}
	*out = a;
	return 0;
}

static void closed(uv_handle_t *h)
{
	struct agent_tasks *a = h->data;

	if (--a->closing)
		return;
	while (a->tasks) {
		struct atask *t = a->tasks;
		a->tasks = t->next;
		shoal__task__free_unpacked(t->task, NULL);
		free(t);
	}
	drop_blobs(a, 1, 0, NULL); /* nothing is marked seen: drops all */
	if (a->stop_cb)
		a->stop_cb(a->stop_arg);
	free((char *) a->cfg.state_dir);
	free((char *) a->cfg.node_id);
	free(a);
}

static void maybe_finish_stop(struct agent_tasks *a)
{
	if (a->inflight || a->reporting || a->closing)
		return;
	a->closing = 2;
	uv_close((uv_handle_t *) &a->poll, closed);
	uv_close((uv_handle_t *) &a->report, closed);
}

void agent_tasks_stop(struct agent_tasks *a, void (*cb)(void *arg), void *arg)
{
	a->stopping = 1;
	a->stop_cb = cb;
	a->stop_arg = arg;
	uv_timer_stop(&a->poll);
	uv_timer_stop(&a->report);
	maybe_finish_stop(a);
}

void agent_tasks_remove_all(struct agent_tasks *a, void (*cb)(void *arg), void *arg)
{
	a->stop_cb = cb;
	a->stop_arg = arg;
	if (!a->tasks) {
		agent_tasks_stop(a, cb, arg);
		return;
	}
	a->draining = 1;
	for (struct atask *t = a->tasks, *next; t; t = next) {
		next = t->next;
		t->removed = 1;
		step(a, t);
	}
}

size_t agent_tasks_count(const struct agent_tasks *a, size_t *running)
{
	size_t n = 0, r = 0;

	for (const struct atask *t = a->tasks; t; t = t->next) {
		n++;
		r += t->task->status->state == S(RUNNING);
	}
	if (running)
		*running = r;
	return n;
}

int agent_tasks_foreach(const struct agent_tasks *a, int (*fn)(const Shoal__Task *t, void *arg),
			void *arg)
{
	for (const struct atask *t = a->tasks; t; t = t->next) {
		int rv = fn(t->task, arg);
		if (rv)
			return rv;
	}
	return 0;
}
