/* scheduler: places pending tasks on nodes, on the leader.
 *
 * Every task in state PENDING with desired state at most RUNNING and no node gets one, in
 * state ASSIGNED ("scheduled"); a PENDING task that already names its node (global services)
 * is checked against that node only. Nodes pass the filters of filter.h (ready and active,
 * reservations, constraints, platform, max replicas per node), then spread: fewest tasks of the
 * service, then fewest tasks overall (counting the assignments of the same pass), then the
 * lower node id. A task no node fits stays PENDING with Docker's status error ("no suitable
 * node (insufficient resources on 2 nodes)") and is tried again whenever nodes or tasks change.
 * All the assignments of a pass go out in one Raft entry (up to ORCH_BATCH_MAX).
 *
 * Placement preferences (spread over a label) are not applied yet.
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

struct sched {
	struct orch_unit unit; /* unit.ids: ids of tasks waiting for a node */
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

#endif
