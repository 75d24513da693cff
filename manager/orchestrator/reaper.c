/* Task reaper: deletes the tasks nobody needs to see any more.
 *
 *   - history: per slot of a replicated service (per node of a global one) at most the
 *     cluster's task history limit of tasks are kept (Orchestration.TaskHistoryRetentionLimit;
 *     5 when there is no cluster object; negative keeps everything; 0 keeps no dead task). As
 *     in swarmkit the limit counts every task of the slot, the running one included, and a
 *     service whose restart policy has max_attempts N keeps at least N + 1. The oldest dead
 *     tasks go first. Unlike swarmkit the newest task of a slot is never trimmed: it tells the
 *     orchestrator that a slot stopped for good (restart condition none, max attempts), and
 *     without it the slot would be refilled;
 *   - tasks with desired state REMOVE (scaled down, service deleted, node removed) are deleted
 *     once stopped (observed state past RUNNING), if they never reached a node (before
 *     ASSIGNED), or if their node was removed (nobody is left to report them stopped);
 *   - tasks of a service that no longer exists are deleted on the same terms.
 * A "dead" task is one observed past RUNNING, or never assigned with a desired state past
 * RUNNING. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "manager/orchestrator/orch.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

struct reap {
	const Shoal__Task **ts;
	size_t n, cap;
};

static int dead(const Shoal__Task *t)
{
	return orch_task_state(t) > ST(RUNNING) ||
	       (orch_task_state(t) < ST(ASSIGNED) && t->desired_state > ST(RUNNING));
}

static int collect(const void *obj, void *arg)
{
	struct reap *r = arg;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->ts = xrealloc(r->ts, r->cap * sizeof(*r->ts));
	}
	r->ts[r->n++] = obj;
	return 0;
}

static int by_node;

/* Groups (slot, or node for global modes), then oldest first. */
static int group_then_age(const void *a, const void *b)
{
	const Shoal__Task *x = *(const Shoal__Task *const *) a,
			  *y = *(const Shoal__Task *const *) b;
	int c =
	    by_node ? strcmp(x->node_id, y->node_id) : (x->slot > y->slot) - (x->slot < y->slot);

	if (c)
		return c;
	if (orch_task_stamp(x) != orch_task_stamp(y))
		return orch_task_stamp(x) < orch_task_stamp(y) ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static int64_t history_limit(const struct store *s, const Shoal__Service *svc)
{
	const Shoal__Cluster *c = store_get_cluster(s);
	int64_t limit = ORCH_DEFAULT_HISTORY_LIMIT;
	const Shoal__RestartPolicy *rp =
	    svc->spec && svc->spec->task ? svc->spec->task->restart : NULL;

	if (c && c->spec && c->spec->orchestration)
		limit = c->spec->orchestration->task_history_retention_limit;
	if (limit < 0)
		return -1;
	if (rp && rp->max_attempts > 0 && (int64_t) rp->max_attempts + 1 > limit)
		limit = (int64_t) rp->max_attempts + 1;
	return limit;
}

/* Trims one group ts[0..n) (oldest first) to `limit` tasks, never its newest. */
static void trim(struct orch_batch *b, const Shoal__Task **ts, size_t n, int64_t limit, char *gone)
{
	int64_t left = 0;

	for (size_t i = 0; i < n; i++)
		left += !gone[i];
	for (size_t i = 0; i + 1 < n && left > limit; i++) {
		if (gone[i] || !dead(ts[i]))
			continue;
		orch_batch_remove_task(b, ts[i]);
		gone[i] = 1;
		left--;
	}
}

static int same_group(const Shoal__Task *a, const Shoal__Task *b)
{
	return by_node ? strcmp(a->node_id, b->node_id) == 0 : a->slot == b->slot;
}

static void reap_service(struct orch *o, const char *service_id, struct orch_batch *b)
{
	const struct store *st = o->reaper.store;
	const Shoal__Service *svc = store_get_service(st, service_id);
	struct reap r = {0};
	char *gone;
	int64_t limit;
	size_t start = 0;

	store_tasks_by_service(st, service_id, collect, &r);
	if (!r.n)
		return;
	by_node = svc && svc->spec &&
		  (svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL ||
		   svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB);
	qsort(r.ts, r.n, sizeof(*r.ts), group_then_age);
	gone = xcalloc(r.n, 1);
	for (size_t i = 0; i < r.n; i++) {
		const Shoal__Task *t = r.ts[i];

		if ((!svc || t->desired_state == ST(REMOVE)) &&
		    (dead(t) || (t->node_id[0] && !store_get_node(st, t->node_id)))) {
			orch_batch_remove_task(b, t);
			gone[i] = 1;
		}
	}
	limit = svc ? history_limit(st, svc) : -1;
	for (size_t i = 1; limit >= 0 && i <= r.n; i++) {
		if (i < r.n && same_group(r.ts[start], r.ts[i]))
			continue;
		trim(b, r.ts + start, i - start, limit, gone + start);
		start = i;
	}
	free(gone);
	free(r.ts);
}

/* ------------------------------------------------------------------------------------------ */
/* Pump operations */

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct orch *o = p->data;

	switch (ev->kind) {
	case STORE_TASK:
		if (orch_task_update_is_progress(ev))
			break;
		if (ev->obj.task && ev->obj.task->service_id[0])
			orch_idset_add(&o->reap_dirty, ev->obj.task->service_id);
		break;
	case STORE_SERVICE:
		if (ev->action == STORE_REMOVE)
			orch_idset_add(&o->reap_dirty, ev->old.service->meta->id);
		else if (ev->action == STORE_UPDATE)
			orch_idset_add(&o->reap_dirty, ev->obj.service->meta->id);
		break;
	case STORE_CLUSTER:
		p->full = 1; /* the history limit may have changed */
		break;
	default:
		break;
	}
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct orch *o = p->data;
	struct orch_idset todo = o->reap_dirty;
	const char *id;
	size_t it = 0;

	memset(&o->reap_dirty, 0, sizeof(o->reap_dirty));
	if (full)
		store_foreach_task(p->store, orch_mark_task_service, &todo);
	while ((id = orch_idset_next(&todo, &it))) {
		if (orch_batch_full(b))
			orch_idset_add(&o->reap_dirty, id);
		else
			reap_service(o, id, b);
	}
	orch_idset_clear(&todo);
	if (o->reap_dirty.len)
		orch_pump_wake(p, 0);
}

const struct orch_pump_ops orch_reaper_ops = {
    .event = on_event,
    .pass = on_pass,
};
