/* slots: the pieces every service orchestrator (replicated.c, global.c, jobs.c) shares, not
 * for other modules.
 *
 * A pass over one service gathers its tasks, groups them (by slot for replicated modes, by
 * node for global ones: a node is a global service's slot), decides each task's next desired
 * state, and writes the changes at the end, so every task gets at most one action per batch.
 * The restart supervisor's decision for one group (orch_slots_judge) and the start of delayed
 * replacements (orch_slots_start_delayed) are the same in every mode. */
#ifndef SHOAL_MANAGER_ORCHESTRATOR_SLOTS_H
#define SHOAL_MANAGER_ORCHESTRATOR_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "manager/orchestrator/orch.h"

struct orch_tinfo {
	const Shoal__Task *t;
	int next; /* desired state to write, or -1 to leave it */
};

/* One group of tasks: a slot (replicated modes) or a node (global modes). */
struct orch_slot {
	uint64_t slot;
	const char *node_id;   /* global modes: the group's node (borrowed from its tasks) */
	size_t first, n;       /* its tasks: ts[first .. first + n), oldest first */
	int live;	       /* a task meant to run that is not being restarted */
	int replace;	       /* a replacement is due (restart policy allows it) */
	int64_t replace_delay; /* ns the replacement waits before starting */
	int wait_old;	       /* the replaced task has not stopped yet */
	int occupied;	       /* counts towards replicas */
	int removed;	       /* scaled down */
	int running;	       /* its live task is observed running */
	int done;	       /* jobs: a task of the group completed */
	const char *node;      /* the node of its single live task, or NULL */
	int index;	       /* nth copy of the service on that node; -1 = none */
};

struct orch_svc_pass {
	struct orch *o;
	const struct store *st;
	struct orch_batch *b;
	const Shoal__Service *svc;
	int64_t now;
	struct orch_tinfo *ts;
	size_t nt, cap;
	struct orch_slot *slots;
	size_t ns;
	int truncated; /* the batch filled up: come back to this service */
};

/* Store iteration callback adding a task (borrowed) to the pass `arg`. */
int orch_slots_collect(const void *obj, void *arg);

/* Sorts the tasks and fills x->slots with one group per slot (by_node = 0) or per node_id
 * (by_node = 1), oldest task first in each. Tasks whose `next` is already set (decided by the
 * caller, e.g. another job iteration) are grouped too; the caller skips them as it needs. */
void orch_slots_group(struct orch_svc_pass *x, int by_node);

/* The restart supervisor on one group: tasks meant to run that stopped or whose node cannot
 * run them get desired SHUTDOWN and, if the policy allows, the group a replacement
 * (sl->replace, with its delay: none when the old task's node is down, drained, gone or no
 * longer fits its constraints). Sets live, occupied, running and node. */
void orch_slots_judge(struct orch_svc_pass *x, struct orch_slot *sl);

/* Creates the replacement orch_slots_judge asked for (desired READY while delayed, else
 * RUNNING), pinned to `node_id` when not NULL, and notes the restart in the history. */
void orch_slots_replace(struct orch_svc_pass *x, struct orch_slot *sl, const char *node_id);

/* Starts delayed replacements (desired READY -> RUNNING) of the group whose delay passed and
 * whose old task stopped; else registers the service to be looked at again at the deadline. */
void orch_slots_start_delayed(struct orch_svc_pass *x, struct orch_slot *sl);

/* Adds a new task of x->svc to the batch: slot `slot` (0 for global modes), pinned to
 * `node_id` (NULL = the scheduler picks), with `desired` as its desired state. Job modes
 * stamp the service's job iteration on it. */
void orch_slots_new_task(struct orch_svc_pass *x, uint64_t slot, const char *node_id,
			 Shoal__TaskState desired);

/* Writes every decided desired state that differs from the stored one. */
void orch_slots_write(struct orch_svc_pass *x);

/* 1 if the task's placement constraints no longer match node `n` (constraint.c); an
 * unparsable constraint counts as matching (the scheduler reports it). */
int orch_constraints_violated(const Shoal__Task *t, const Shoal__Node *n);

/* 1 if a task of `spec` may be placed on node `n` by the global modes: placement constraints
 * and platforms satisfied (constraint.c). Node state and availability are not looked at. */
int orch_node_fits(const Shoal__TaskSpec *spec, const Shoal__Node *n);

/* Global modes (global.c): reconcile one global service or global job. */
void orch_global_reconcile(struct orch_svc_pass *x);

/* Jobs (jobs.c): reconcile one replicated job. */
void orch_job_reconcile(struct orch_svc_pass *x);

/* Jobs, before grouping: tasks of another job iteration still meant to run get desired
 * SHUTDOWN (written now) and leave x->ts, so only the current iteration is grouped; tasks of
 * the current iteration that completed get desired COMPLETE (decided in `next`). */
void orch_job_prepare(struct orch_svc_pass *x);

/* The job iteration of a task and of a service (0 when unset). */
uint64_t orch_task_iteration(const Shoal__Task *t);
uint64_t orch_service_iteration(const Shoal__Service *s);

/* 1 for the replicated-job and global-job modes. */
int orch_is_job(const Shoal__Service *s);

#endif
