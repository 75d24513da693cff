/* Updater: rolling updates and rollbacks of replicated services (swarmkit's
 * manager/orchestrator/update/updater.go), as a leader component of its own (a pump).
 *
 * A task is dirty when its task spec differs from its service's (a --force bumps
 * task.force_update, so every task becomes dirty); a slot is dirty while it holds a dirty task
 * meant to run. The replicated orchestrator keeps the slots (scaling, restarts, always with the
 * current spec) and never replaces a dirty task; the updater replaces them:
 *
 *   - `parallelism` slots at a time (0 = all): a "worker" is busy from the creation of the new
 *     task until it is observed running (or stopped), then for `delay` more;
 *   - stop-first: the old task gets desired SHUTDOWN and the new one is created at desired
 *     READY, moved to RUNNING once the old one stopped (or after a minute); start-first: the
 *     new task is created at desired RUNNING and the old one shut down once the new one runs;
 *   - every new task is watched: one that stops before running, or within `monitor` of
 *     starting, is a failure; when failures / dirty slots > max_failure_ratio, failure_action
 *     applies: pause (UpdateStatus paused), continue, or rollback (spec <- previous_spec,
 *     UpdateStatus rollback_started, then the rollback runs with the rollback config; a rollback
 *     that fails is paused, never rolled back);
 *   - once no slot is dirty, after one more `monitor`, UpdateStatus becomes completed (or
 *     rollback_completed).
 *
 * Everything is decided from the store on each pass; what lives in memory (the tasks this
 * update created, the failures counted) is lost with leadership: a new leader resumes an update
 * in progress from the store, with a fresh failure count, as swarmkit does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "manager/orchestrator/orch.h"

#define ST(x)	   SHOAL__TASK_STATE__TASK_STATE_##x
#define US(x)	   SHOAL__UPDATE_STATUS__STATE__##x
#define NS_PER_MS  1000000LL
#define DEF_MON_NS (5LL * 1000000000LL)

/* A task this update created (or found half started), watched for failure. */
struct upd_task {
	char id[ID_LEN + 1];
	uint64_t slot;
	int64_t started_at; /* observed RUNNING (status timestamp); 0 = not yet */
	int64_t done_at;    /* observed RUNNING or beyond: its worker is free after `delay` */
	int counted;	    /* already counted as a failure */
};

/* One update (or rollback) of one service towards one spec. */
struct orch_upd_run {
	struct orch_upd_run *next;
	char service_id[ID_LEN + 1];
	uint64_t spec_version;
	int64_t started_at; /* UpdateStatus.started_at it belongs to */
	int rollback;
	size_t total; /* dirty slots when it started */
	unsigned failures;
	struct upd_task *tasks;
	size_t nt, cap;
	int64_t quiet_since; /* no slot left dirty nor in flight since; 0 = not yet */
	int fresh;	     /* created by this pass */
	/* The task whose failure triggered failure_action: the action is proposed again on
	 * every pass until the service shows it (a proposal may fail). */
	char stop_id[ID_LEN + 1];
};

struct uslot {
	uint64_t slot;
	size_t first, n;
	int dirty;			/* a dirty task meant to run */
	const Shoal__Task *clean;	/* the newest clean task meant to run */
	const struct upd_task *tracked; /* `clean` is one of the run's */
};

struct upd_pass {
	struct orch *o;
	const struct store *st;
	struct orch_batch *b;
	const Shoal__Service *svc;
	struct orch_upd_run *run;
	const Shoal__UpdateConfig *cfg;
	int64_t now, monitor, delay;
	uint8_t *packed; /* the service's task spec, packed */
	size_t plen;
	const Shoal__Task **ts;
	int *next; /* desired state to write per task, -1 = none */
	size_t nt, cap;
	struct uslot *slots;
	size_t ns;
	uint64_t wake_ms; /* 0 = none */
};

static Shoal__TaskState state_of(const Shoal__Task *t)
{
	return t->status ? t->status->state : ST(NEW);
}

static int64_t stamp_of(const Shoal__Task *t)
{
	return t->status && t->status->timestamp ? t->status->timestamp : t->meta->created_at;
}

static void want_wake(struct upd_pass *x, int64_t at_ns)
{
	uint64_t ms = at_ns > x->now ? (uint64_t) ((at_ns - x->now) / NS_PER_MS) + 1 : 1;

	if (!x->wake_ms || ms < x->wake_ms)
		x->wake_ms = ms;
}

/* ------------------------------------------------------------------------------------------ */
/* Runs */

static struct orch_upd_run *run_find(struct orch *o, const char *service_id)
{
	for (struct orch_upd_run *r = o->runs; r; r = r->next)
		if (strcmp(r->service_id, service_id) == 0)
			return r;
	return NULL;
}

static void run_drop(struct orch *o, const char *service_id)
{
	for (struct orch_upd_run **pp = &o->runs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->service_id, service_id) == 0) {
			struct orch_upd_run *r = *pp;

			*pp = r->next;
			free(r->tasks);
			free(r);
			return;
		}
}

void orch_update_clear(struct orch *o)
{
	while (o->runs)
		run_drop(o, o->runs->service_id);
}

static struct upd_task *run_track(struct orch_upd_run *r, const char *id, uint64_t slot)
{
	struct upd_task *ut;

	for (size_t i = 0; i < r->nt; i++)
		if (strcmp(r->tasks[i].id, id) == 0)
			return &r->tasks[i];
	if (r->nt == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->tasks = xrealloc(r->tasks, r->cap * sizeof(*r->tasks));
	}
	ut = &r->tasks[r->nt++];
	memset(ut, 0, sizeof(*ut));
	snprintf(ut->id, sizeof(ut->id), "%s", id);
	ut->slot = slot;
	return ut;
}

static const struct upd_task *run_tracks(const struct orch_upd_run *r, const char *id)
{
	for (size_t i = 0; r && i < r->nt; i++)
		if (strcmp(r->tasks[i].id, id) == 0)
			return &r->tasks[i];
	return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Gathering */

static int task_dirty(const struct upd_pass *x, const Shoal__Task *t)
{
	size_t len;
	uint8_t *p;
	int dirty;

	if (x->svc->spec_version && t->spec_version == x->svc->spec_version)
		return 0;
	if (!t->spec || !x->packed)
		return (t->spec != NULL) != (x->packed != NULL);
	len = shoal__task_spec__get_packed_size(t->spec);
	if (len != x->plen)
		return 1;
	p = xmalloc(len + 1);
	shoal__task_spec__pack(t->spec, p);
	dirty = memcmp(p, x->packed, len) != 0;
	free(p);
	return dirty;
}

static int collect(const void *obj, void *arg)
{
	struct upd_pass *x = arg;

	if (x->nt == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->ts = xrealloc(x->ts, x->cap * sizeof(*x->ts));
	}
	x->ts[x->nt++] = obj;
	return 0;
}

static int by_slot_then_age(const void *a, const void *b)
{
	const Shoal__Task *x = *(const Shoal__Task *const *) a,
			  *y = *(const Shoal__Task *const *) b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->meta->created_at != y->meta->created_at)
		return x->meta->created_at < y->meta->created_at ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static void group_slots(struct upd_pass *x)
{
	if (x->nt)
		qsort(x->ts, x->nt, sizeof(*x->ts), by_slot_then_age);
	x->next = xmalloc((x->nt ? x->nt : 1) * sizeof(*x->next));
	x->slots = xcalloc(x->nt ? x->nt : 1, sizeof(*x->slots));
	for (size_t i = 0; i < x->nt; i++) {
		const Shoal__Task *t = x->ts[i];
		struct uslot *sl;

		x->next[i] = -1;
		if (!x->ns || x->slots[x->ns - 1].slot != t->slot) {
			x->slots[x->ns].slot = t->slot;
			x->slots[x->ns].first = i;
			x->ns++;
		}
		sl = &x->slots[x->ns - 1];
		sl->n++;
		if (t->desired_state > ST(RUNNING))
			continue;
		if (task_dirty(x, t))
			sl->dirty = 1;
		else
			sl->clean = t;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* UpdateStatus writes (swarmkit's startUpdate, pauseUpdate, rollbackUpdate, completeUpdate) */

static void set_status(struct upd_pass *x, Shoal__UpdateStatus__State state, const char *msg,
		       int restore_previous)
{
	Shoal__Service *s = store_dup_service(x->svc);

	if (!s->update_status) {
		s->update_status = xmalloc(sizeof(*s->update_status));
		shoal__update_status__init(s->update_status);
	}
	if (state == US(UPDATING))
		s->update_status->started_at = x->now;
	if (state == US(COMPLETED) || state == US(ROLLBACK_COMPLETED))
		s->update_status->completed_at = x->now;
	s->update_status->state = state;
	if (s->update_status->message != protobuf_c_empty_string)
		free(s->update_status->message);
	s->update_status->message = xstrdup(msg);
	if (restore_previous) {
		shoal__service_spec__free_unpacked(s->spec, NULL);
		s->spec = s->previous_spec;
		s->previous_spec = NULL;
		s->spec_version = s->previous_spec_version;
		s->previous_spec_version = 0;
	}
	orch_batch_add(x->b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		       &s->base);
	log_info("updater", "service_id=%s update_state=%d message=\"%s\"", x->svc->meta->id,
		 (int) state, msg);
	store_service_free(s);
}

/* Applies failure_action after the failure of `task_id` (the service is written). */
static void act(struct upd_pass *x, const char *task_id)
{
	struct orch_upd_run *r = x->run;
	char msg[256];

	if (x->cfg->failure_action == SHOAL__UPDATE_CONFIG__FAILURE_ACTION__ROLLBACK &&
	    !r->rollback && x->svc->previous_spec) {
		snprintf(msg, sizeof(msg),
			 "update rolled back due to failure or early termination of task %s",
			 task_id);
		set_status(x, US(ROLLBACK_STARTED), msg, 1);
		return;
	}
	/* Pause, or a rollback that fails: never roll back a rollback (swarmkit). */
	snprintf(msg, sizeof(msg), "%s paused due to failure or early termination of task %s",
		 r->rollback ? "rollback" : "update", task_id);
	set_status(x, r->rollback ? US(ROLLBACK_PAUSED) : US(PAUSED), msg, 0);
}

/* A failure: returns 1 if failure_action stopped the update (the service was written). */
static int on_failure(struct upd_pass *x, const Shoal__Task *t)
{
	struct orch_upd_run *r = x->run;

	r->failures++;
	log_info("updater", "task failed during update service_id=%s task_id=%s failures=%u",
		 x->svc->meta->id, t->meta->id, r->failures);
	if (!r->total || (float) r->failures / (float) r->total <= x->cfg->max_failure_ratio ||
	    x->cfg->failure_action == SHOAL__UPDATE_CONFIG__FAILURE_ACTION__CONTINUE)
		return 0;
	snprintf(r->stop_id, sizeof(r->stop_id), "%s", t->meta->id);
	act(x, r->stop_id);
	return 1;
}

/* Follows the run's tasks: running since when, stopped (a failure within monitor). Returns 1
 * if the failure action stopped the update. */
static int watch_tasks(struct upd_pass *x)
{
	struct orch_upd_run *r = x->run;

	if (r->stop_id[0]) {
		act(x, r->stop_id);
		return 1;
	}
	for (size_t i = 0; i < r->nt; i++) {
		struct upd_task *ut = &r->tasks[i];
		const Shoal__Task *t = store_get_task(x->st, ut->id);
		Shoal__TaskState s;

		if (!t || ut->counted)
			continue;
		s = state_of(t);
		if (s == ST(RUNNING) && !ut->started_at)
			ut->started_at = stamp_of(t);
		if (s >= ST(RUNNING) && !ut->done_at)
			ut->done_at = stamp_of(t);
		if (s <= ST(RUNNING) || t->desired_state == ST(REMOVE))
			continue;
		ut->counted = 1;
		if (ut->started_at && stamp_of(t) - ut->started_at > x->monitor)
			continue; /* it ran long enough */
		if (on_failure(x, t))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Slots */

/* Every dirty task of the slot still meant to run gets desired SHUTDOWN. */
static void shut_dirty(struct upd_pass *x, const struct uslot *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++)
		if (x->ts[i]->desired_state <= ST(RUNNING) && x->ts[i] != sl->clean &&
		    task_dirty(x, x->ts[i]))
			x->next[i] = ST(SHUTDOWN);
}

static size_t index_of(const struct upd_pass *x, const Shoal__Task *t)
{
	for (size_t i = 0; i < x->nt; i++)
		if (x->ts[i] == t)
			return i;
	return 0;
}

/* The old tasks of the slot have stopped, or cannot stop any more (node gone or down). */
static int old_stopped(const struct upd_pass *x, const struct uslot *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i];

		if (t == sl->clean || state_of(t) > ST(RUNNING) || !task_dirty(x, t))
			continue;
		if (t->node_id[0] && !orch_node_invalid(x->st, t))
			return 0;
	}
	return 1;
}

/* A slot that has its clean task: finishes what the update started there. */
static void advance_slot(struct upd_pass *x, struct uslot *sl)
{
	const Shoal__Task *c = sl->clean;

	if (state_of(c) == ST(RUNNING) || !sl->tracked) {
		/* Started (start-first done), or a clean task the update did not make
		 * (swarmkit's useExistingTask): the old ones go. */
		if (sl->dirty)
			shut_dirty(x, sl);
		if (!sl->tracked && c->desired_state < ST(RUNNING) && state_of(c) <= ST(RUNNING) &&
		    !sl->dirty)
			return; /* a delayed restart: the orchestrator's business */
	}
	if (c->desired_state >= ST(RUNNING) || !sl->tracked)
		return;
	/* Stop-first: the new task starts once the old one stopped (at most a minute on). */
	if (old_stopped(x, sl) || x->now >= c->meta->created_at + ORCH_OLD_TASK_TIMEOUT_NS)
		x->next[index_of(x, c)] = ST(RUNNING);
	else
		want_wake(x, c->meta->created_at + ORCH_OLD_TASK_TIMEOUT_NS);
}

/* Workers busy: new tasks not yet running, then `delay` after they ran. */
static size_t busy_workers(struct upd_pass *x)
{
	size_t busy = 0;

	for (size_t i = 0; i < x->run->nt; i++) {
		const struct upd_task *ut = &x->run->tasks[i];
		const Shoal__Task *t = store_get_task(x->st, ut->id);

		if (!ut->done_at) {
			if (t && t->desired_state <= ST(RUNNING))
				busy++;
		} else if (ut->done_at + x->delay > x->now) {
			busy++;
			want_wake(x, ut->done_at + x->delay);
		}
	}
	return busy;
}

static void dispatch(struct upd_pass *x, struct uslot *sl)
{
	int start_first = x->cfg->order == SHOAL__UPDATE_CONFIG__ORDER__START_FIRST;
	char id[ID_LEN + 1];

	orch_new_task(x->b, x->st, x->svc, sl->slot, start_first ? ST(RUNNING) : ST(READY), x->now,
		      id);
	run_track(x->run, id, sl->slot);
	if (!start_first)
		shut_dirty(x, sl);
	log_info("updater", "updating slot service_id=%s slot=%llu task_id=%s order=%s",
		 x->svc->meta->id, (unsigned long long) sl->slot, id,
		 start_first ? "start-first" : "stop-first");
}

static void write_tasks(struct upd_pass *x)
{
	for (size_t i = 0; i < x->nt; i++) {
		Shoal__Task copy;

		if (x->next[i] < 0 || (int) x->ts[i]->desired_state == x->next[i])
			continue;
		copy = *x->ts[i];
		copy.desired_state = x->next[i];
		orch_batch_update_task(x->b, &copy);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* One service */

static const Shoal__UpdateConfig default_cfg = {
    PROTOBUF_C_MESSAGE_INIT(&shoal__update_config__descriptor),
    1,
    0,
    SHOAL__UPDATE_CONFIG__FAILURE_ACTION__PAUSE,
    0,
    0,
    SHOAL__UPDATE_CONFIG__ORDER__STOP_FIRST};

static struct orch_upd_run *run_for(struct upd_pass *x, int rollback, size_t ndirty)
{
	const Shoal__Service *svc = x->svc;
	int64_t started = svc->update_status ? svc->update_status->started_at : 0;
	struct orch_upd_run *r = run_find(x->o, svc->meta->id);

	if (r && (r->spec_version != svc->spec_version || r->rollback != rollback ||
		  r->started_at != started)) {
		run_drop(x->o, svc->meta->id);
		r = NULL;
	}
	if (r) {
		r->fresh = 0;
		return r;
	}
	r = xcalloc(1, sizeof(*r));
	r->fresh = 1;
	snprintf(r->service_id, sizeof(r->service_id), "%s", svc->meta->id);
	r->spec_version = svc->spec_version;
	r->started_at = started;
	r->rollback = rollback;
	r->total = ndirty;
	r->next = x->o->runs;
	x->o->runs = r;
	return r;
}

static void update_service(struct upd_pass *x)
{
	const Shoal__Service *svc = x->svc;
	Shoal__UpdateStatus__State us =
	    svc->update_status ? svc->update_status->state : US(UNKNOWN);
	int rollback = us == US(ROLLBACK_STARTED);
	size_t ndirty = 0, busy, p;

	if (us == US(PAUSED) || us == US(ROLLBACK_PAUSED)) {
		run_drop(x->o, svc->meta->id);
		return;
	}
	x->cfg = rollback ? svc->spec->rollback : svc->spec->update;
	if (!x->cfg)
		x->cfg = &default_cfg;
	x->monitor = x->cfg->monitor > 0 ? x->cfg->monitor : DEF_MON_NS;
	x->delay = x->cfg->delay > 0 ? x->cfg->delay : 0;
	if (svc->spec->task) {
		x->plen = shoal__task_spec__get_packed_size(svc->spec->task);
		x->packed = xmalloc(x->plen + 1);
		shoal__task_spec__pack(svc->spec->task, x->packed);
	}
	store_tasks_by_service(x->st, svc->meta->id, collect, x);
	group_slots(x);
	for (size_t i = 0; i < x->ns; i++)
		ndirty += x->slots[i].dirty;

	x->run = run_find(x->o, svc->meta->id);
	if (!ndirty && (!x->run || (us != US(UPDATING) && us != US(ROLLBACK_STARTED)))) {
		/* Nothing to do, or a new leader finding the work done (swarmkit completes at
		 * once then). */
		if (us == US(UPDATING))
			set_status(x, US(COMPLETED), "update completed", 0);
		else if (us == US(ROLLBACK_STARTED))
			set_status(x, US(ROLLBACK_COMPLETED), "rollback completed", 0);
		run_drop(x->o, svc->meta->id);
		return;
	}
	if (us == US(UNKNOWN)) {
		/* The first pass of an update writes its status; the next one (on the service
		 * event) does the work, so the run belongs to that status. */
		set_status(x, US(UPDATING), "update in progress", 0);
		return;
	}
	x->run = run_for(x, rollback, ndirty);
	if (watch_tasks(x))
		return;

	/* A slot whose clean task is not running yet and still has an old task, found when the
	 * run starts (a new leader), is in flight: watched and counted as busy. */
	for (size_t i = 0; i < x->ns; i++) {
		struct uslot *sl = &x->slots[i];

		if (!sl->clean)
			continue;
		sl->tracked = run_tracks(x->run, sl->clean->meta->id);
		if (x->run->fresh && !sl->tracked && state_of(sl->clean) < ST(RUNNING) &&
		    sl->clean->desired_state <= ST(RUNNING)) {
			for (size_t j = sl->first; j < sl->first + sl->n; j++)
				if (x->ts[j] != sl->clean && task_dirty(x, x->ts[j])) {
					sl->tracked =
					    run_track(x->run, sl->clean->meta->id, sl->slot);
					break;
				}
		}
	}
	for (size_t i = 0; i < x->ns; i++)
		if (x->slots[i].clean)
			advance_slot(x, &x->slots[i]);

	busy = busy_workers(x);
	p = x->cfg->parallelism ? x->cfg->parallelism : (size_t) -1;
	for (size_t i = 0; i < x->ns && busy < p; i++) {
		struct uslot *sl = &x->slots[i];

		if (!sl->dirty || sl->clean)
			continue;
		if (orch_batch_full(x->b)) {
			orch_idset_add(&x->o->upd_dirty, svc->meta->id);
			break;
		}
		dispatch(x, sl);
		busy++;
	}
	write_tasks(x);

	/* Done once nothing is dirty nor in flight, after watching one more monitor period. */
	if (ndirty || busy_workers(x)) {
		x->run->quiet_since = 0;
		return;
	}
	if (!x->run->quiet_since)
		x->run->quiet_since = x->now;
	if (x->now >= x->run->quiet_since + x->monitor) {
		set_status(x, rollback ? US(ROLLBACK_COMPLETED) : US(COMPLETED),
			   rollback ? "rollback completed" : "update completed", 0);
		run_drop(x->o, svc->meta->id);
		return;
	}
	want_wake(x, x->run->quiet_since + x->monitor);
}

static void upd_one(struct orch *o, const char *service_id, struct orch_batch *b, int64_t now)
{
	struct upd_pass x = {.o = o, .st = o->updater.store, .b = b, .now = now};

	x.svc = store_get_service(x.st, service_id);
	if (!x.svc || x.svc->pending_delete || !x.svc->spec ||
	    x.svc->spec->mode_case != SHOAL__SERVICE_SPEC__MODE_REPLICATED) {
		/* Global services and jobs: not updated yet. */
		run_drop(o, service_id);
		return;
	}
	update_service(&x);
	if (x.wake_ms)
		orch_pump_wake(&o->updater, x.wake_ms);
	free(x.packed);
	free(x.ts);
	free(x.next);
	free(x.slots);
}

/* ------------------------------------------------------------------------------------------ */
/* Pump operations */

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct orch *o = p->data;

	switch (ev->kind) {
	case STORE_SERVICE:
		orch_idset_add(&o->upd_dirty,
			       (ev->obj.service ? ev->obj.service : ev->old.service)->meta->id);
		break;
	case STORE_TASK: {
		const Shoal__Task *t = ev->obj.task ? ev->obj.task : ev->old.task;

		/* Only services with an update in progress care about their tasks. */
		if (t->service_id[0] && run_find(o, t->service_id))
			orch_idset_add(&o->upd_dirty, t->service_id);
		break;
	}
	case STORE_NODE:
		/* A node going down lets a stop-first replacement start: look at the runs. */
		for (struct orch_upd_run *r = o->runs; r; r = r->next)
			orch_idset_add(&o->upd_dirty, r->service_id);
		break;
	default:
		break;
	}
}

static int mark_service(const void *obj, void *arg)
{
	orch_idset_add(arg, ((const Shoal__Service *) obj)->meta->id);
	return 0;
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct orch *o = p->data;
	struct orch_idset todo = o->upd_dirty;
	int64_t now = orch_now_ns();
	const char *id;
	size_t it = 0;

	memset(&o->upd_dirty, 0, sizeof(o->upd_dirty));
	if (full)
		store_foreach(p->store, STORE_SERVICE, mark_service, &todo);
	/* Updates in progress are looked at on every pass (delays, monitor periods). */
	for (struct orch_upd_run *r = o->runs; r; r = r->next)
		orch_idset_add(&todo, r->service_id);
	while ((id = orch_idset_next(&todo, &it))) {
		if (orch_batch_full(b)) {
			orch_idset_add(&o->upd_dirty, id);
			continue;
		}
		upd_one(o, id, b, now);
	}
	orch_idset_clear(&todo);
	if (o->upd_dirty.len)
		orch_pump_wake(p, 0);
}

const struct orch_pump_ops orch_updater_ops = {
    .event = on_event,
    .pass = on_pass,
};
