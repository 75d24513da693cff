/* Global orchestrator (swarmkit's orchestrator/global) for the global and global-job modes.
 *
 * One task per eligible node, pinned to it at creation (slot 0, node_id set: the scheduler
 * only checks that it fits there, and leaves it PENDING with the reason if not). A node is
 * eligible when it is not down, its availability is active, and the task spec's placement
 * constraints and platforms match it. Per node:
 *   - not eligible (down, drained, constraints no longer met): its tasks get desired SHUTDOWN;
 *     gone (node removed): desired REMOVE, and the reaper deletes them;
 *   - paused: its task is kept (restarted in place is not: nothing new starts there);
 *   - eligible: the node is the group the restart supervisor judges, as a slot is for the
 *     replicated mode (restart policy, delay, max attempts), and a node with no task meant to
 *     run gets one, unless its last task stopped and the policy says not to restart it.
 * Global jobs run once per node to completion: a node whose task of the current job iteration
 * completed gets nothing more; tasks of older iterations are shut down (jobs.c). */
#include <string.h>

#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/slots.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

enum elig { ELIG_GONE, ELIG_NO, ELIG_PAUSED, ELIG_YES };

static enum elig eligibility(const struct orch_svc_pass *x, const Shoal__Node *n)
{
	if (!n)
		return ELIG_GONE;
	if ((n->status && n->status->state == SHOAL__NODE_STATE__NODE_STATE_DOWN) ||
	    (n->spec &&
	     n->spec->availability == SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN) ||
	    !orch_node_fits(x->svc->spec->task, n))
		return ELIG_NO;
	if (n->spec && n->spec->availability == SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_PAUSE)
		return ELIG_PAUSED;
	return ELIG_YES;
}

/* The node has no place for this service's task: stop what was meant to run there. */
static void evict(struct orch_svc_pass *x, struct orch_slot *sl, Shoal__TaskState how)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++)
		if (x->ts[i].next < 0 && x->ts[i].t->desired_state <= ST(RUNNING))
			x->ts[i].next = how;
}

/* A global service's spec changed: its tasks are replaced on every node at once (the updater
 * rolls replicated services only). Returns 1 when the node's task was dirty and is going. */
static int evict_dirty(struct orch_svc_pass *x, struct orch_slot *sl)
{
	const Shoal__Service *svc = x->svc;
	uint64_t sv = svc->spec_version ? svc->spec_version : svc->meta->version;
	int dirty = 0;

	for (size_t i = sl->first; i < sl->first + sl->n; i++) {
		const Shoal__Task *t = x->ts[i].t;
		if (x->ts[i].next >= 0 || t->desired_state > ST(RUNNING) || t->spec_version == sv ||
		    ctl_task_spec_equal(t->spec, svc->spec->task))
			continue;
		x->ts[i].next = ST(SHUTDOWN);
		dirty = 1;
	}
	return dirty;
}

static int group_done(const struct orch_svc_pass *x, const struct orch_slot *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++)
		if (orch_task_state(x->ts[i].t) == ST(COMPLETE))
			return 1;
	return 0;
}

/* A node of the store: give it a task if it is eligible and has none. */
static int visit_node(const void *obj, void *arg)
{
	struct orch_svc_pass *x = arg;
	const Shoal__Node *n = obj;
	struct orch_slot *sl = NULL;

	for (size_t i = 0; i < x->ns; i++)
		if (strcmp(x->slots[i].node_id, n->meta->id) == 0) {
			sl = &x->slots[i];
			break;
		}
	if (eligibility(x, n) != ELIG_YES || (sl && (sl->occupied || sl->done)))
		return 0;
	if (orch_batch_full(x->b)) {
		x->truncated = 1;
		return 0;
	}
	orch_slots_new_task(x, 0, n->meta->id, ST(RUNNING));
	return 0;
}

void orch_global_reconcile(struct orch_svc_pass *x)
{
	int job = x->svc->spec->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB;

	if (job)
		orch_job_prepare(x);
	orch_slots_group(x, 1);
	for (size_t i = 0; i < x->ns; i++) {
		struct orch_slot *sl = &x->slots[i];
		const Shoal__Node *n = sl->node_id[0] ? store_get_node(x->st, sl->node_id) : NULL;
		enum elig e = eligibility(x, n);

		if (job && group_done(x, sl)) {
			sl->done = 1;
			continue;
		}
		if (e == ELIG_GONE || e == ELIG_NO) {
			evict(x, sl, e == ELIG_GONE ? ST(REMOVE) : ST(SHUTDOWN));
			continue;
		}
		if (!job && e == ELIG_YES && evict_dirty(x, sl))
			continue; /* visit_node gives the node a task of the new spec */
		orch_slots_judge(x, sl);
		/* A paused node keeps what runs there but starts nothing new. */
		if (sl->replace && e == ELIG_YES)
			orch_slots_replace(x, sl, sl->node_id);
		else if (sl->replace)
			sl->occupied = 0;
		orch_slots_start_delayed(x, sl);
	}
	store_foreach_node(x->st, visit_node, x);
	orch_slots_write(x);
}
