/* Service orchestrator: the pump of the replicated, global and job orchestrators. This file
 * holds the replicated mode (one runnable task per slot 1..replicas, restarts per policy), the
 * desired state REMOVE for the tasks of deleted services, and the dispatch to global.c and
 * jobs.c by mode.
 *
 * Each pass reconciles the services marked dirty by store events (all of them on a full pass)
 * from the store's current state, so a pass that runs twice proposes nothing the second time
 * and a new leader repairs what its predecessor left half done. Every task gets at most one
 * action per batch: the pass first decides each task's next desired state, then writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "common/log.h"
#include "manager/orchestrator/slots.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

/* ------------------------------------------------------------------------------------------ */
/* Replicated services */

/* Scale-down order (swarmkit): keep first the tasks that are the 1st copy on their node, then
 * the 2nd..., running before not running; slots without a single placed task go last; ties go
 * to the lower slot, so the highest slots are removed when everything else is equal. */
static int keep_order(const void *a, const void *b)
{
	const struct orch_slot *x = *(const struct orch_slot *const *) a;
	const struct orch_slot *y = *(const struct orch_slot *const *) b;

	if ((x->index < 0) != (y->index < 0))
		return x->index < 0 ? 1 : -1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	if (x->running != y->running)
		return x->running ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int running_then_slot(const void *a, const void *b)
{
	const struct orch_slot *x = *(const struct orch_slot *const *) a;
	const struct orch_slot *y = *(const struct orch_slot *const *) b;

	if (x->running != y->running)
		return x->running ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void scale_down(struct orch_svc_pass *x, size_t occupied, uint64_t replicas)
{
	struct orch_slot **v = xcalloc(occupied, sizeof(*v));
	const char **nodes = xcalloc(occupied, sizeof(*nodes));
	int *counts = xcalloc(occupied, sizeof(*counts));
	size_t n = 0, nn = 0;

	for (size_t i = 0; i < x->ns; i++)
		if (x->slots[i].occupied)
			v[n++] = &x->slots[i];
	qsort(v, n, sizeof(*v), running_then_slot);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (!v[i]->node || v[i]->replace)
			continue;
		for (k = 0; k < nn && strcmp(nodes[k], v[i]->node) != 0; k++)
			;
		if (k == nn)
			nodes[nn++] = v[i]->node;
		v[i]->index = ++counts[k];
	}
	qsort(v, n, sizeof(*v), keep_order);
	for (size_t i = replicas; i < n; i++) {
		struct orch_slot *sl = v[i];

		sl->removed = 1;
		sl->replace = 0;
		for (size_t j = sl->first; j < sl->first + sl->n; j++)
			if (x->ts[j].t->desired_state < ST(REMOVE))
				x->ts[j].next = ST(REMOVE);
	}
	free(v);
	free(nodes);
	free(counts);
}

/* x->slots is sorted by slot (orch_slots_group): one walk finds the free slots, where a lookup
 * per candidate was quadratic (100,000 replicas: 10^10 steps, bench/e2e). */
static void scale_up(struct orch_svc_pass *x, size_t missing)
{
	uint64_t slot = 0;
	size_t j = 0;

	for (size_t i = 0; i < missing; i++) {
		if (orch_batch_full(x->b)) {
			x->truncated = 1;
			return;
		}
		for (;;) {
			slot++;
			while (j < x->ns && x->slots[j].slot < slot)
				j++;
			if (j == x->ns || x->slots[j].slot != slot || !x->slots[j].occupied)
				break;
		}
		orch_slots_new_task(x, slot, NULL, ST(RUNNING));
	}
}

static void reconcile_replicated(struct orch_svc_pass *x)
{
	uint64_t replicas = x->svc->spec->replicated->replicas;
	size_t occupied = 0;

	orch_slots_group(x, 0);
	for (size_t i = 0; i < x->ns; i++) {
		orch_slots_judge(x, &x->slots[i]);
		occupied += x->slots[i].occupied;
	}
	if (occupied > replicas)
		scale_down(x, occupied, replicas);
	for (size_t i = 0; i < x->ns; i++) {
		struct orch_slot *sl = &x->slots[i];

		if (sl->removed)
			continue;
		if (sl->replace)
			orch_slots_replace(x, sl, NULL);
		orch_slots_start_delayed(x, sl);
	}
	if (occupied < replicas)
		scale_up(x, replicas - occupied);
	orch_slots_write(x);
}

/* The service is gone (or being deleted): every task of it is to be removed. */
static void remove_all(struct orch_svc_pass *x)
{
	for (size_t i = 0; i < x->nt; i++)
		if (x->ts[i].t->desired_state < ST(REMOVE))
			x->ts[i].next = ST(REMOVE);
	orch_slots_write(x);
}

static void reconcile(struct orch *o, const char *service_id, struct orch_batch *b, int64_t now)
{
	struct orch_svc_pass x = {.o = o, .st = o->pump.store, .b = b, .now = now};

	x.svc = store_get_service(x.st, service_id);
	store_tasks_by_service(x.st, service_id, orch_slots_collect, &x);
	if (!x.svc || x.svc->pending_delete)
		remove_all(&x);
	else if (!x.svc->spec)
		; /* nothing to go by */
	else if (x.svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED &&
		 x.svc->spec->replicated)
		reconcile_replicated(&x);
	else if (x.svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL ||
		 x.svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB)
		orch_global_reconcile(&x);
	else if (x.svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB &&
		 x.svc->spec->replicated_job)
		orch_job_reconcile(&x);
	if (x.truncated)
		orch_idset_add(&o->dirty, service_id);
	free(x.ts);
	free(x.slots);
}

/* ------------------------------------------------------------------------------------------ */
/* Pump operations */

static int mark_task_node(const void *obj, void *arg)
{
	orch_idset_add(arg, ((const Shoal__Task *) obj)->service_id);
	return 0;
}

static int mark_global(const void *obj, void *arg)
{
	const Shoal__Service *s = obj;

	if (s->spec && (s->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL ||
			s->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB))
		orch_idset_add(arg, s->meta->id);
	return 0;
}

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct orch *o = p->data;

	switch (ev->kind) {
	case STORE_SERVICE:
		orch_idset_add(&o->dirty,
			       (ev->obj.service ? ev->obj.service : ev->old.service)->meta->id);
		break;
	case STORE_TASK:
		if (orch_task_update_is_progress(ev))
			break;
		if (ev->obj.task && ev->obj.task->service_id[0])
			orch_idset_add(&o->dirty, ev->obj.task->service_id);
		if (ev->old.task && ev->old.task->service_id[0])
			orch_idset_add(&o->dirty, ev->old.task->service_id);
		break;
	case STORE_NODE: {
		const Shoal__Node *n = ev->obj.node ? ev->obj.node : ev->old.node;

		/* Down, drained, back, relabelled or gone: the services with tasks there, and
		 * every global one (a node may have become eligible). */
		store_tasks_by_node(p->store, n->meta->id, mark_task_node, &o->dirty);
		store_foreach_service(p->store, mark_global, &o->dirty);
		break;
	}
	default:
		break;
	}
}

static int mark_service(const void *obj, void *arg)
{
	orch_idset_add(arg, ((const Shoal__Service *) obj)->meta->id);
	return 0;
}

int orch_mark_task_service(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;

	if (t->service_id[0])
		orch_idset_add(arg, t->service_id);
	return 0;
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct orch *o = p->data;
	struct orch_idset todo = o->dirty;
	int64_t now = orch_now_ns();
	const char *id;
	size_t it = 0;

	memset(&o->dirty, 0, sizeof(o->dirty));
	if (full) {
		store_foreach_service(p->store, mark_service, &todo);
		store_foreach_task(p->store, orch_mark_task_service, &todo);
	}
	/* Delayed replacements are looked at again; they re-register if still waiting. */
	while ((id = orch_idset_next(&o->waiting, &it)))
		orch_idset_add(&todo, id);
	orch_idset_clear(&o->waiting);
	it = 0;
	while ((id = orch_idset_next(&todo, &it))) {
		if (orch_batch_full(b)) {
			orch_idset_add(&o->dirty, id);
			continue;
		}
		reconcile(o, id, b, now);
	}
	orch_idset_clear(&todo);
	if (o->dirty.len)
		orch_pump_wake(p, 0); /* the batch filled up: come back for the rest */
}

static void on_applied(struct orch_pump *p, int ok)
{
	orch_restart_commit(p->data, ok);
}

const struct orch_pump_ops orch_replicated_ops = {
    .event = on_event,
    .pass = on_pass,
    .applied = on_applied,
};
