/* Replicated orchestrator: one runnable task per slot 1..replicas, restarts per policy, and
 * desired state REMOVE for the tasks of deleted services.
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
#include "manager/orchestrator/orch.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

struct tinfo {
	const Shoal__Task *t;
	int next; /* desired state to write, or -1 to leave it */
};

struct slotinfo {
	uint64_t slot;
	size_t first, n;       /* its tasks: ts[first .. first + n), oldest first */
	int live;	       /* a task meant to run that is not being restarted */
	int replace;	       /* a replacement is due (restart policy allows it) */
	int64_t replace_delay; /* ns the replacement waits before starting */
	int wait_old;	       /* the replaced task has not stopped yet */
	int occupied;	       /* counts towards replicas */
	int removed;	       /* scaled down */
	int running;	       /* its live task is observed running */
	const char *node;      /* the node of its single live task, or NULL */
	int index;	       /* nth copy of the service on that node; -1 = none */
};

struct svc_pass {
	struct orch *o;
	const struct store *st;
	struct orch_batch *b;
	const Shoal__Service *svc;
	int64_t now;
	struct tinfo *ts;
	size_t nt, cap;
	struct slotinfo *slots;
	size_t ns;
	int truncated; /* the batch filled up: come back to this service */
};

static Shoal__TaskState state_of(const Shoal__Task *t)
{
	return t->status ? t->status->state : ST(NEW);
}

static int64_t stamp_of(const Shoal__Task *t)
{
	if (t->status && t->status->timestamp)
		return t->status->timestamp;
	return t->meta ? t->meta->created_at : 0;
}

int orch_node_invalid(const struct store *s, const Shoal__Task *t)
{
	const Shoal__Node *n;

	if (!t->node_id || !t->node_id[0])
		return 0;
	n = store_get_node(s, t->node_id);
	if (!n)
		return 1;
	if (n->status && n->status->state == SHOAL__NODE_STATE__NODE_STATE_DOWN)
		return 1;
	return n->spec &&
	       n->spec->availability == SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN;
}

static int node_drained(const struct store *s, const char *node_id)
{
	const Shoal__Node *n = node_id && node_id[0] ? store_get_node(s, node_id) : NULL;

	return n && n->spec &&
	       n->spec->availability == SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN;
}

/* The task was meant to run but stopped, or its node cannot run it any more. */
static int needs_restart(const struct store *s, const Shoal__Task *t)
{
	if (t->desired_state > ST(RUNNING))
		return 0;
	return state_of(t) > ST(RUNNING) || orch_node_invalid(s, t);
}

/* Its node still runs it: the agent will stop it since its desired state moved on. */
static int still_running_somewhere(const struct store *s, const Shoal__Task *t)
{
	const Shoal__Node *n;

	if (state_of(t) > ST(RUNNING) || !t->node_id || !t->node_id[0])
		return 0;
	n = store_get_node(s, t->node_id);
	return n && !(n->status && n->status->state == SHOAL__NODE_STATE__NODE_STATE_DOWN);
}

/* ------------------------------------------------------------------------------------------ */
/* New tasks (swarmkit's orchestrator.NewTask) */

static void new_task(struct svc_pass *x, uint64_t slot, Shoal__TaskState desired)
{
	const Shoal__Service *svc = x->svc;
	const Shoal__Cluster *cl = store_get_cluster(x->st);
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskStatus status = SHOAL__TASK_STATUS__INIT;
	Shoal__Endpoint ep = SHOAL__ENDPOINT__INIT;
	char id[ID_LEN + 1], name[512];
	const char *sname = svc->spec->annotations && svc->spec->annotations->name
				? svc->spec->annotations->name
				: "";

	id_new(id);
	meta.id = id;
	t.meta = &meta;
	t.spec = svc->spec->task;
	t.spec_version = svc->spec_version ? svc->spec_version : svc->meta->version;
	t.service_id = svc->meta->id;
	t.slot = slot;
	snprintf(name, sizeof(name), "%s.%llu.%s", sname, (unsigned long long) slot, id);
	ann.name = name;
	t.annotations = &ann;
	t.service_annotations = svc->spec->annotations;
	if (svc->endpoint) {
		t.endpoint = svc->endpoint;
	} else if (svc->spec->endpoint) {
		ep.spec = svc->spec->endpoint;
		t.endpoint = &ep;
	}
	if (svc->spec->task && svc->spec->task->log_driver)
		t.log_driver = svc->spec->task->log_driver;
	else if (cl && cl->spec && cl->spec->task_defaults)
		t.log_driver = cl->spec->task_defaults->log_driver;
	status.state = ST(NEW);
	status.message = "created";
	status.timestamp = x->now;
	t.status = &status;
	t.desired_state = desired;
	orch_batch_create_task(x->b, &t);
}

/* ------------------------------------------------------------------------------------------ */
/* Gathering */

static int collect(const void *obj, void *arg)
{
	struct svc_pass *x = arg;

	if (x->nt == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->ts = xrealloc(x->ts, x->cap * sizeof(*x->ts));
	}
	x->ts[x->nt].t = obj;
	x->ts[x->nt].next = -1;
	x->nt++;
	return 0;
}

static int by_slot_then_age(const void *a, const void *b)
{
	const Shoal__Task *x = ((const struct tinfo *) a)->t, *y = ((const struct tinfo *) b)->t;
	int64_t sx = stamp_of(x), sy = stamp_of(y);

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static void group_slots(struct svc_pass *x)
{
	if (x->nt)
		qsort(x->ts, x->nt, sizeof(*x->ts), by_slot_then_age);
	x->slots = xcalloc(x->nt ? x->nt : 1, sizeof(*x->slots));
	for (size_t i = 0; i < x->nt; i++) {
		if (!x->ns || x->slots[x->ns - 1].slot != x->ts[i].t->slot) {
			x->slots[x->ns].slot = x->ts[i].t->slot;
			x->slots[x->ns].first = i;
			x->slots[x->ns].index = -1;
			x->ns++;
		}
		x->slots[x->ns - 1].n++;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Deciding */

/* Restart supervisor: stopped tasks get desired SHUTDOWN and, if the policy says so, their slot
 * a replacement. */
static void judge_slot(struct svc_pass *x, struct slotinfo *sl)
{
	const Shoal__Task *replaced = NULL, *latest;

	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i].t;

		if (t->desired_state > ST(RUNNING))
			continue;
		if (!needs_restart(x->st, t)) {
			sl->live = 1;
			sl->running = state_of(t) == ST(RUNNING);
			sl->node = t->node_id && t->node_id[0] ? t->node_id : NULL;
			continue;
		}
		x->ts[i].next = ST(SHUTDOWN);
		if (orch_should_restart(x->o, t, x->now))
			replaced = t;
	}
	if (sl->live) {
		/* The slot already has its task (e.g. an earlier replacement): no other. */
		sl->occupied = 1;
		return;
	}
	if (replaced) {
		sl->replace = 1;
		sl->occupied = 1;
		/* The delay does not apply to tasks moved off a drained node (swarmkit). */
		sl->replace_delay =
		    node_drained(x->st, replaced->node_id) ? 0 : orch_restart_delay_ns(replaced);
		sl->wait_old = still_running_somewhere(x->st, replaced);
		return;
	}
	/* Only dead tasks: the slot still counts when its last task is not to be restarted
	 * (restart condition, max attempts), so scaling does not undo the policy. A task we
	 * removed does not hold its slot. */
	latest = x->ts[sl->first + sl->n - 1].t;
	if (latest->desired_state != ST(REMOVE) && !orch_should_restart(x->o, latest, x->now))
		sl->occupied = 1;
}

/* Scale-down order (swarmkit): keep first the tasks that are the 1st copy on their node, then
 * the 2nd..., running before not running; slots without a single placed task go last; ties go
 * to the lower slot, so the highest slots are removed when everything else is equal. */
static int keep_order(const void *a, const void *b)
{
	const struct slotinfo *x = *(const struct slotinfo *const *) a;
	const struct slotinfo *y = *(const struct slotinfo *const *) b;

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
	const struct slotinfo *x = *(const struct slotinfo *const *) a;
	const struct slotinfo *y = *(const struct slotinfo *const *) b;

	if (x->running != y->running)
		return x->running ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void scale_down(struct svc_pass *x, size_t occupied, uint64_t replicas)
{
	struct slotinfo **v = xcalloc(occupied, sizeof(*v));
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
		struct slotinfo *sl = v[i];

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

/* x->slots is sorted by slot (group_slots): one walk finds the free slots, where a lookup per
 * candidate was quadratic (100,000 replicas: 10^10 steps, bench/e2e). */
static void scale_up(struct svc_pass *x, size_t missing)
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
		new_task(x, slot, ST(RUNNING));
	}
}

/* A delayed replacement (desired READY) starts once its delay passed and the task it replaces
 * stopped (or after ORCH_OLD_TASK_TIMEOUT_NS); else the pump wakes us at its deadline. */
static void start_delayed(struct svc_pass *x, struct slotinfo *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i].t, *old = NULL;
		int64_t created, delay, due;

		if (t->desired_state != ST(READY) || x->ts[i].next >= 0 ||
		    state_of(t) > ST(RUNNING))
			continue;
		for (size_t j = sl->first; j < sl->first + sl->n; j++)
			if (j != i && x->ts[j].t->desired_state > ST(RUNNING))
				old = x->ts[j].t; /* the newest stopped one */
		created = t->meta->created_at;
		delay = old && node_drained(x->st, old->node_id) ? 0 : orch_restart_delay_ns(t);
		due = created + delay;
		if (old && still_running_somewhere(x->st, old) &&
		    x->now < created + ORCH_OLD_TASK_TIMEOUT_NS)
			due =
			    created + ORCH_OLD_TASK_TIMEOUT_NS; /* its stop event wakes us first */
		if (x->now >= due) {
			x->ts[i].next = ST(RUNNING);
			continue;
		}
		orch_idset_add(&x->o->waiting, x->svc->meta->id);
		orch_pump_wake(&x->o->pump, (uint64_t) ((due - x->now) / 1000000) + 1);
	}
}

static void write_updates(struct svc_pass *x)
{
	for (size_t i = 0; i < x->nt; i++) {
		Shoal__Task copy;

		if (x->ts[i].next < 0 || (int) x->ts[i].t->desired_state == x->ts[i].next)
			continue;
		copy = *x->ts[i].t;
		copy.desired_state = x->ts[i].next;
		orch_batch_update_task(x->b, &copy);
	}
}

static void reconcile_replicated(struct svc_pass *x)
{
	uint64_t replicas = x->svc->spec->replicated->replicas;
	size_t occupied = 0;

	group_slots(x);
	for (size_t i = 0; i < x->ns; i++) {
		judge_slot(x, &x->slots[i]);
		occupied += x->slots[i].occupied;
	}
	if (occupied > replicas)
		scale_down(x, occupied, replicas);
	for (size_t i = 0; i < x->ns; i++) {
		struct slotinfo *sl = &x->slots[i];

		if (sl->removed)
			continue;
		if (sl->replace) {
			int delayed = sl->replace_delay > 0 || sl->wait_old;
			const Shoal__RestartPolicy *rp =
			    x->svc->spec->task ? x->svc->spec->task->restart : NULL;

			new_task(x, sl->slot, delayed ? ST(READY) : ST(RUNNING));
			orch_restart_note(x->o, x->svc->meta->id, sl->slot,
					  x->svc->spec_version ? x->svc->spec_version
							       : x->svc->meta->version,
					  rp ? rp->window : 0, x->now - 1);
			log_info("orch", "restarting task service_id=%s slot=%llu delay_ms=%lld",
				 x->svc->meta->id, (unsigned long long) sl->slot,
				 (long long) (delayed ? sl->replace_delay / 1000000 : 0));
		}
		start_delayed(x, sl);
	}
	if (occupied < replicas)
		scale_up(x, replicas - occupied);
	write_updates(x);
}

/* The service is gone (or being deleted): every task of it is to be removed. */
static void remove_all(struct svc_pass *x)
{
	for (size_t i = 0; i < x->nt; i++)
		if (x->ts[i].t->desired_state < ST(REMOVE))
			x->ts[i].next = ST(REMOVE);
	write_updates(x);
}

static void reconcile(struct orch *o, const char *service_id, struct orch_batch *b, int64_t now)
{
	struct svc_pass x = {.o = o, .st = o->pump.store, .b = b, .now = now};

	x.svc = store_get_service(x.st, service_id);
	store_tasks_by_service(x.st, service_id, collect, &x);
	if (!x.svc || x.svc->pending_delete)
		remove_all(&x);
	else if (x.svc->spec && x.svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED &&
		 x.svc->spec->replicated)
		reconcile_replicated(&x);
	/* Global services and jobs belong to other orchestrators. */
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

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct orch *o = p->data;

	switch (ev->kind) {
	case STORE_SERVICE:
		orch_idset_add(&o->dirty,
			       (ev->obj.service ? ev->obj.service : ev->old.service)->meta->id);
		break;
	case STORE_TASK:
		if (ev->obj.task && ev->obj.task->service_id[0])
			orch_idset_add(&o->dirty, ev->obj.task->service_id);
		if (ev->old.task && ev->old.task->service_id[0])
			orch_idset_add(&o->dirty, ev->old.task->service_id);
		break;
	case STORE_NODE: {
		const Shoal__Node *n = ev->obj.node ? ev->obj.node : ev->old.node;

		/* Down, drained, back or gone: the services with tasks there. */
		store_tasks_by_node(p->store, n->meta->id, mark_task_node, &o->dirty);
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

static int mark_task_service(const void *obj, void *arg)
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
		store_foreach_task(p->store, mark_task_service, &todo);
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
