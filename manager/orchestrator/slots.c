/* slots: gathering, grouping, the restart supervisor's decision and new tasks, shared by the
 * replicated, global and job orchestrators (see slots.h). */
#include "manager/orchestrator/slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "common/log.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

static const Shoal__Node *node_of(const struct store *s, const Shoal__Task *t)
{
	return t->node_id && t->node_id[0] ? store_get_node(s, t->node_id) : NULL;
}

static int node_down(const Shoal__Node *n)
{
	return n->status && n->status->state == SHOAL__NODE_STATE__NODE_STATE_DOWN;
}

int orch_node_invalid(const struct store *s, const Shoal__Task *t)
{
	const Shoal__Node *n;

	if (!t->node_id || !t->node_id[0])
		return 0;
	n = store_get_node(s, t->node_id);
	if (!n || node_down(n))
		return 1;
	if (n->spec && n->spec->availability == SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN)
		return 1;
	/* Constraint enforcement: the node's labels, role... changed under a placed task. */
	return orch_constraints_violated(t, n);
}

/* The task was meant to run but stopped, or its node cannot run it any more. */
static int needs_restart(const struct store *s, const Shoal__Task *t)
{
	if (t->desired_state > ST(RUNNING))
		return 0;
	return orch_task_state(t) > ST(RUNNING) || orch_node_invalid(s, t);
}

/* Its node still runs it: the agent will stop it since its desired state moved on. */
static int still_running_somewhere(const struct store *s, const Shoal__Task *t)
{
	const Shoal__Node *n;

	if (orch_task_state(t) > ST(RUNNING))
		return 0;
	n = node_of(s, t);
	return n && !node_down(n);
}

/* ------------------------------------------------------------------------------------------ */
/* New tasks (swarmkit's orchestrator.NewTask) */

static void new_task(struct orch_svc_pass *x, uint64_t slot, const char *node_id,
		     Shoal__TaskState desired, char id[ID_LEN + 1])
{
	const Shoal__Service *svc = x->svc;
	const Shoal__Cluster *cl = store_get_cluster(x->st);
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskStatus status = SHOAL__TASK_STATUS__INIT;
	Shoal__Endpoint ep = SHOAL__ENDPOINT__INIT;
	Shoal__Version iter = SHOAL__VERSION__INIT;
	char name[512];
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
	if (node_id) {
		/* Global modes: Docker names them service.node.task. */
		t.node_id = (char *) node_id;
		snprintf(name, sizeof(name), "%s.%s.%s", sname, node_id, id);
	} else {
		snprintf(name, sizeof(name), "%s.%llu.%s", sname, (unsigned long long) slot, id);
	}
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
	if (orch_is_job(svc)) {
		iter.index = orch_service_iteration(svc);
		t.job_iteration = &iter;
	}
	status.state = ST(NEW);
	status.message = "created";
	status.timestamp = x->now;
	t.status = &status;
	t.desired_state = desired;
	orch_batch_create_task(x->b, &t);
}

void orch_slots_new_task(struct orch_svc_pass *x, uint64_t slot, const char *node_id,
			 Shoal__TaskState desired)
{
	char id[ID_LEN + 1];

	new_task(x, slot, node_id, desired, id);
}

void orch_new_task(struct orch_batch *b, const struct store *st, const Shoal__Service *svc,
		   uint64_t slot, Shoal__TaskState desired, int64_t now, char id[ID_LEN + 1])
{
	struct orch_svc_pass x = {.st = st, .b = b, .svc = svc, .now = now};

	new_task(&x, slot, NULL, desired, id);
}

/* ------------------------------------------------------------------------------------------ */
/* Gathering */

int orch_slots_collect(const void *obj, void *arg)
{
	struct orch_svc_pass *x = arg;

	if (x->nt == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->ts = xrealloc(x->ts, x->cap * sizeof(*x->ts));
	}
	x->ts[x->nt].t = obj;
	x->ts[x->nt].next = -1;
	x->nt++;
	return 0;
}

static int group_cmp(const Shoal__Task *x, const Shoal__Task *y, int by_node)
{
	if (by_node)
		return strcmp(x->node_id, y->node_id);
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int by_slot_then_age(const void *a, const void *b)
{
	const Shoal__Task *x = ((const struct orch_tinfo *) a)->t;
	const Shoal__Task *y = ((const struct orch_tinfo *) b)->t;
	int64_t sx = orch_task_stamp(x), sy = orch_task_stamp(y);
	int c = group_cmp(x, y, 0);

	if (c)
		return c;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static int by_node_then_age(const void *a, const void *b)
{
	const Shoal__Task *x = ((const struct orch_tinfo *) a)->t;
	const Shoal__Task *y = ((const struct orch_tinfo *) b)->t;
	int64_t sx = orch_task_stamp(x), sy = orch_task_stamp(y);
	int c = group_cmp(x, y, 1);

	if (c)
		return c;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

void orch_slots_group(struct orch_svc_pass *x, int by_node)
{
	if (x->nt)
		qsort(x->ts, x->nt, sizeof(*x->ts), by_node ? by_node_then_age : by_slot_then_age);
	x->slots = xcalloc(x->nt ? x->nt : 1, sizeof(*x->slots));
	for (size_t i = 0; i < x->nt; i++) {
		const Shoal__Task *t = x->ts[i].t;

		if (!x->ns || group_cmp(x->ts[x->slots[x->ns - 1].first].t, t, by_node) != 0) {
			x->slots[x->ns].slot = t->slot;
			x->slots[x->ns].node_id = t->node_id;
			x->slots[x->ns].first = i;
			x->slots[x->ns].index = -1;
			x->ns++;
		}
		x->slots[x->ns - 1].n++;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Restart supervisor */

void orch_slots_judge(struct orch_svc_pass *x, struct orch_slot *sl)
{
	const Shoal__Task *replaced = NULL, *latest;

	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i].t;

		if (t->desired_state > ST(RUNNING) || x->ts[i].next >= 0)
			continue;
		if (!needs_restart(x->st, t)) {
			sl->live = 1;
			sl->running = orch_task_state(t) == ST(RUNNING);
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
		/* The delay is for crash loops: a task whose node went down, was drained, removed
		 * or no longer fits moves at once (swarmkit waits the delay for down nodes). */
		sl->replace_delay =
		    orch_node_invalid(x->st, replaced) ? 0 : orch_restart_delay_ns(replaced);
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

void orch_slots_replace(struct orch_svc_pass *x, struct orch_slot *sl, const char *node_id)
{
	int delayed = sl->replace_delay > 0 || sl->wait_old;
	const Shoal__RestartPolicy *rp = x->svc->spec->task ? x->svc->spec->task->restart : NULL;

	orch_slots_new_task(x, sl->slot, node_id, delayed ? ST(READY) : ST(RUNNING));
	orch_restart_note(x->o, x->svc->meta->id, sl->slot,
			  x->svc->spec_version ? x->svc->spec_version : x->svc->meta->version,
			  rp ? rp->window : 0, x->now - 1);
	log_info("orch", "restarting task service_id=%s slot=%llu node_id=%s delay_ms=%lld",
		 x->svc->meta->id, (unsigned long long) sl->slot, node_id ? node_id : "",
		 (long long) (delayed ? sl->replace_delay / 1000000 : 0));
}

void orch_slots_start_delayed(struct orch_svc_pass *x, struct orch_slot *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i].t, *old = NULL;
		int64_t created, delay, due;

		if (t->desired_state != ST(READY) || x->ts[i].next >= 0 ||
		    orch_task_state(t) > ST(RUNNING))
			continue;
		for (size_t j = sl->first; j < sl->first + sl->n; j++)
			if (j != i && x->ts[j].t->desired_state > ST(RUNNING))
				old = x->ts[j].t; /* the newest stopped one */
		created = t->meta->created_at;
		delay = old && orch_node_invalid(x->st, old) ? 0 : orch_restart_delay_ns(t);
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

void orch_slots_write(struct orch_svc_pass *x)
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

/* ------------------------------------------------------------------------------------------ */
/* Jobs */

int orch_is_job(const Shoal__Service *s)
{
	return s->spec && (s->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB ||
			   s->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB);
}

uint64_t orch_task_iteration(const Shoal__Task *t)
{
	return t->job_iteration ? t->job_iteration->index : 0;
}

uint64_t orch_service_iteration(const Shoal__Service *s)
{
	return s->job_status && s->job_status->job_iteration ? s->job_status->job_iteration->index
							     : 0;
}
