/* orchestrator: turns services into tasks, on the leader.
 *
 * Three leader components share one struct orch, each a pump (pump.h) with its own proposal in
 * flight:
 *   - the service orchestrator with its restart supervisor (replicated.c, global.c, jobs.c,
 *     slots.c, constraint.c, restart.c) watches services, tasks and nodes. Per replicated
 *     service it keeps one runnable task in each slot 1..replicas (creating tasks in the lowest
 *     free slots, setting desired state REMOVE on the surplus when scaled down); per global
 *     service one task pinned to each eligible node (not down, active, constraints and
 *     platforms met); replicated jobs run up to max_concurrent tasks until total_completions
 *     completed, global jobs once per eligible node. It restarts tasks that stopped or whose
 *     node is down, drained, gone or no longer meets their constraints (old task -> desired
 *     SHUTDOWN, replacement per the restart policy: condition, delay, max attempts within a
 *     window; no delay when the node is at fault), and sets desired state REMOVE on every task
 *     of a deleted service.
 *   - the task reaper (reaper.c) watches tasks, services and the cluster, and deletes dead tasks
 *     beyond the cluster's task history limit per slot (per node for global modes), tasks with
 *     desired state REMOVE once they stopped (or never got a node, or their node was removed),
 *     and stopped tasks of deleted services.
 *   - the updater (update.c) watches services and their tasks, and replaces the tasks whose
 *     spec is out of date (rolling update, automatic and manual rollback; see README.md).
 *
 * Every write goes through the proposer in batches; nothing here calls Raft. Restart history
 * (for max attempts) lives in memory: a new leader starts it afresh, as swarmkit does. */
#ifndef SHOAL_MANAGER_ORCHESTRATOR_ORCH_H
#define SHOAL_MANAGER_ORCHESTRATOR_ORCH_H

#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "common/id.h"
#include "common/map.h"
#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/batch.h"
#include "manager/orchestrator/pump.h"
#include "manager/store/store.h"

/* Docker's defaults (swarmkit). */
#define ORCH_DEFAULT_RESTART_DELAY_NS (5LL * 1000000000LL)
#define ORCH_DEFAULT_HISTORY_LIMIT    5
/* How long a delayed replacement waits for the task it replaces to stop (swarmkit: 1 min). */
#define ORCH_OLD_TASK_TIMEOUT_NS (60LL * 1000000000LL)

struct orch_restart_rec; /* restart.c */
struct orch_upd_run;	 /* update.c */

struct orch {
	struct orch_pump pump;		  /* replicated orchestrator + restart supervisor */
	struct orch_pump reaper;	  /* task reaper */
	struct orch_pump updater;	  /* rolling updates and rollbacks */
	struct orch_idset dirty;	  /* service ids to reconcile */
	struct orch_idset waiting;	  /* services holding a delayed replacement */
	struct orch_idset reap_dirty;	  /* service ids whose history to trim */
	struct map history;		  /* restart history, hash(service, slot) -> records */
	struct orch_restart_rec *pending; /* restarts in the batch in flight */
	struct orch_idset upd_dirty;	  /* service ids the updater looks at */
	struct orch_upd_run *runs;	  /* updates in progress (update.c) */
	int running;
	int stopping; /* pumps still closing */
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

/* Starts the three components on `loop` (the daemon calls it when this manager becomes leader,
 * after the Raft barrier): each first looks at the whole store, then follows its changes.
 * `o` is caller-allocated, zeroed or stopped; the store and the proposer's context must
 * outlive orch_stop's callback. Returns 0. */
int orch_start(struct orch *o, uv_loop_t *loop, struct store *store, struct ctl_proposer p);

/* Stops them (leadership lost or shutdown) and frees their memory; `cb(arg)` runs once their
 * handles are closed (cb may be NULL). A proposal in flight completes into nothing. Safe on a
 * struct orch never started or already stopped (cb runs at once). */
void orch_stop(struct orch *o, void (*cb)(void *arg), void *arg);

/* Proposals made so far by the orchestrator and by the reaper (tests, logs). */
uint64_t orch_proposals(const struct orch *o);

/* ------------------------------------------------------------------------------------------ */
/* Shared by the files of this module (not for other modules). */

/* The pump operations of each component (the service orchestrator's in replicated.c). */
extern const struct orch_pump_ops orch_replicated_ops;
extern const struct orch_pump_ops orch_reaper_ops;
extern const struct orch_pump_ops orch_updater_ops;

/* Adds to `b` the creation of a new task of `svc` (its current spec) in `slot` with the given
 * desired state (swarmkit's orchestrator.NewTask); its id is written to `id`. `svc` is
 * borrowed (copied into the batch). */
void orch_new_task(struct orch_batch *b, const struct store *st, const Shoal__Service *svc,
		   uint64_t slot, Shoal__TaskState desired, int64_t now, char id[ID_LEN + 1]);

/* Updater (update.c): frees the in-memory state of the updates in progress. */
void orch_update_clear(struct orch *o);

/* A task's observed state (NEW while it has no status). */
static inline Shoal__TaskState orch_task_state(const Shoal__Task *t)
{
	return t->status ? t->status->state : SHOAL__TASK_STATE__TASK_STATE_NEW;
}

/* When a task's state last changed: its status timestamp, else its creation time (0 if none). */
static inline int64_t orch_task_stamp(const Shoal__Task *t)
{
	if (t->status && t->status->timestamp)
		return t->status->timestamp;
	return t->meta ? t->meta->created_at : 0;
}

/* 1 when a task update changed nothing the orchestrator or the reaper act on: same desired
 * state, node and slot, and its observed state moved only within NEW..RUNNING (an agent
 * reporting progress, the allocator and scheduler doing their part). Such updates are most of
 * the churn while a large service starts (bench/e2e.sh), and each would otherwise cost a pass
 * over every task of the service. */
static inline int orch_task_update_is_progress(const struct store_event *ev)
{
	const Shoal__Task *a = ev->old.task, *b = ev->obj.task;

	return ev->kind == STORE_TASK && ev->action == STORE_UPDATE && a && b &&
	       a->desired_state == b->desired_state && a->slot == b->slot &&
	       strcmp(a->node_id, b->node_id) == 0 &&
	       orch_task_state(a) <= SHOAL__TASK_STATE__TASK_STATE_RUNNING &&
	       orch_task_state(b) <= SHOAL__TASK_STATE__TASK_STATE_RUNNING;
}

/* A store_foreach_task callback: adds the task's service id (if any) to the orch_idset `set`.
 * Returns 0. */
int orch_mark_task_service(const void *obj, void *set);

/* 1 if `t` is on a node that cannot run it: assigned to a node that is gone, down, drained, or
 * whose labels/role no longer meet the task's placement constraints (slots.c). */
int orch_node_invalid(const struct store *s, const Shoal__Task *t);

/* Restart supervisor (restart.c). */

/* The restart delay of a task's policy, in ns (default 5 s when unset). */
int64_t orch_restart_delay_ns(const Shoal__Task *t);
/* 1 if the restart policy (condition, max attempts within window, per the in-memory history
 * of the slot) lets `t`'s slot get a replacement after `t` stopped. */
int orch_should_restart(struct orch *o, const Shoal__Task *t, int64_t now_ns);
/* Notes that the batch being built restarts (service, slot) with a task of `spec_version`;
 * recorded in the history once the batch is applied (orch_restart_commit). */
void orch_restart_note(struct orch *o, const char *service_id, uint64_t slot, uint64_t spec_version,
		       int64_t window_ns, int64_t now_ns);
/* Applies (ok = 1) or drops (ok = 0) the noted restarts. */
void orch_restart_commit(struct orch *o, int ok);
/* Frees the whole history. */
void orch_restart_clear(struct orch *o);

#endif
