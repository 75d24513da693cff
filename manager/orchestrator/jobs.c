/* Job orchestrator (swarmkit's orchestrator/jobs): the replicated-job mode, and the job
 * iteration bookkeeping both job modes share (global jobs are placed by global.c).
 *
 * A replicated job runs tasks until total_completions of them completed, at most
 * max_concurrent at a time. Each slot 1..total_completions runs to completion once: a task
 * that completed ends its slot; one that failed is restarted in its slot per the restart
 * policy (delay, max attempts); a slot whose task may not restart any more counts as spent,
 * so a job whose tasks keep failing ends instead of looping. Completed tasks get desired
 * state COMPLETE (as swarmkit's; the agent leaves finished tasks alone).
 *
 * The control API bumps Service.job_status.job_iteration when the job's spec changes (a
 * ForceUpdate bump included): tasks carry the iteration they were made for, tasks of an older
 * one are shut down and not counted, and the job runs again from zero. */
#include <stdlib.h>

#include "manager/orchestrator/slots.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

void orch_job_prepare(struct orch_svc_pass *x)
{
	uint64_t iter = orch_service_iteration(x->svc);
	size_t k = 0;

	for (size_t i = 0; i < x->nt; i++) {
		const Shoal__Task *t = x->ts[i].t;

		if (orch_task_iteration(t) != iter) {
			if (t->desired_state <= ST(RUNNING)) {
				Shoal__Task copy = *t;

				copy.desired_state = ST(SHUTDOWN);
				orch_batch_update_task(x->b, &copy);
			}
			continue;
		}
		if (orch_task_state(t) == ST(COMPLETE) && t->desired_state <= ST(RUNNING))
			x->ts[i].next = ST(COMPLETE);
		x->ts[k++] = x->ts[i];
	}
	x->nt = k;
}

static int slot_done(const struct orch_svc_pass *x, const struct orch_slot *sl)
{
	for (size_t i = sl->first; i < sl->first + sl->n; i++)
		if (orch_task_state(x->ts[i].t) == ST(COMPLETE))
			return 1;
	return 0;
}

/* Slot `slot` is done, running or spent. */
static int slot_used(const struct orch_svc_pass *x, uint64_t slot)
{
	for (size_t i = 0; i < x->ns; i++)
		if (x->slots[i].slot == slot)
			return x->slots[i].done || x->slots[i].occupied;
	return 0;
}

void orch_job_reconcile(struct orch_svc_pass *x)
{
	const Shoal__ReplicatedJob *j = x->svc->spec->replicated_job;
	uint64_t active = 0, spent = 0, want, slot = 0;

	orch_job_prepare(x);
	orch_slots_group(x, 0);
	for (size_t i = 0; i < x->ns; i++) {
		struct orch_slot *sl = &x->slots[i];

		if (slot_done(x, sl)) {
			sl->done = 1;
			spent++;
			continue;
		}
		orch_slots_judge(x, sl);
		if (sl->live || sl->replace)
			active++;
		if (sl->occupied)
			spent++;
		if (sl->replace)
			orch_slots_replace(x, sl, NULL);
		orch_slots_start_delayed(x, sl);
	}
	/* As many new slots as may run at once, but no more than the completions left. */
	want = j->max_concurrent > active ? j->max_concurrent - active : 0;
	if (j->total_completions < spent)
		want = 0;
	else if (want > j->total_completions - spent)
		want = j->total_completions - spent;
	for (uint64_t i = 0; i < want; i++) {
		if (orch_batch_full(x->b)) {
			x->truncated = 1;
			break;
		}
		do
			slot++;
		while (slot_used(x, slot));
		orch_slots_new_task(x, slot, NULL, ST(RUNNING));
	}
	orch_slots_write(x);
}
