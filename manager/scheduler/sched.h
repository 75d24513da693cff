/* scheduler: places pending tasks on nodes, on the leader.
 *
 * Every task in state PENDING with desired state at most RUNNING and no node gets one, in
 * state ASSIGNED ("scheduled"); a PENDING task that already names its node (global services)
 * is checked against that node only. Nodes pass the filters of filter.h (ready and active,
 * reservations, constraints, platform, host-mode ports, max replicas per node), then placement
 * preferences and spread (prefs.h): fewest tasks of the service, then fewest tasks overall
 * (counting the assignments of the same pass), then the lower node id. A task no node fits
 * stays PENDING with Docker's status error ("no suitable node (insufficient resources on 2
 * nodes)") and is tried again whenever nodes or tasks change.
 *
 * A pass plans every pending task at once (plan.h) and proposes up to SCHED_BATCH_MAX of the
 * decisions per Raft entry. The rest of the plan is kept: the next passes propose it as long
 * as the only store changes seen are the echoes of its own writes or changes that leave the
 * plan's inputs alone (a task's observed state moving within ASSIGNED..RUNNING, say). Any other
 * change (a node, a new pending task, a task stopping or moving, a conflict) drops it and the
 * next pass plans again from the store, so passes stay level-triggered.
 *
 * Watches tasks and nodes. Writes task updates through the pump (orchestrator/pump.h). */
#ifndef SHOAL_MANAGER_SCHEDULER_SCHED_H
#define SHOAL_MANAGER_SCHEDULER_SCHED_H

#include <stdint.h>
#include <uv.h>

#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/batch.h"
#include "manager/orchestrator/pump.h"
#include "manager/store/store.h"

/* Most task updates one scheduler proposal carries; the orch_batch byte bound (1 MiB) applies
 * too. Larger entries overran RNODE_MAX_COMMAND (4 MiB) with real specs and stalled the
 * leader's loop while every manager applied them (bench/e2e.sh). */
#define SCHED_BATCH_MAX 1024

struct sched_cached; /* one planned decision not proposed yet (sched.c) */

struct sched {
	struct orch_pump pump;
	struct orch_idset pending;  /* ids of tasks waiting for a node */
	struct orch_idset inflight; /* ids written by the proposal in flight */
	struct sched_cached *plan;  /* decisions planned and not proposed yet */
	size_t plan_len, plan_at;
	int plan_valid; /* no change since planning could alter the plan */
	uint64_t plans; /* plans computed (tests, logs) */
	int running;
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

/* Starts the scheduler on `loop` (when this manager becomes leader, after the barrier): it
 * first looks at every pending task, then follows changes. `s` is caller-allocated and not
 * running; the store and the proposer's context must outlive sched_stop's callback. Returns 0. */
int sched_start(struct sched *s, uv_loop_t *loop, struct store *store, struct ctl_proposer p);

/* Stops it and frees its memory; `cb(arg)` runs once its handles are closed (cb may be NULL).
 * Safe on a scheduler never started or already stopped (cb runs at once). */
void sched_stop(struct sched *s, void (*cb)(void *arg), void *arg);

/* Proposals made so far (tests, logs). */
uint64_t sched_proposals(const struct sched *s);

/* Plans computed so far (tests: a plan is reused across proposals). */
uint64_t sched_plans(const struct sched *s);

#endif
