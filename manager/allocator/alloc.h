/* allocator: gives new tasks the cluster resources they need before scheduling, on the leader.
 *
 * First form: every task in state NEW whose desired state is at most RUNNING moves to PENDING
 * ("pending task scheduling"); tasks shut down or removed before being allocated are left alone
 * (the reaper deletes them). Networks come with the overlay: allocate_task() in alloc.c is where
 * a task's network attachments (addresses from each network's IPAM) and the service's VIPs and
 * published ports will be filled in before the move to PENDING; a task whose networks are not
 * allocated yet will simply stay NEW until they are.
 *
 * Watches tasks (CREATE/UPDATE to NEW). Writes task updates, many per Raft entry, one proposal
 * in flight (manager/orchestrator/pump.h). */
#ifndef SHOAL_MANAGER_ALLOCATOR_ALLOC_H
#define SHOAL_MANAGER_ALLOCATOR_ALLOC_H

#include <stdint.h>
#include <uv.h>

#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/batch.h"
#include "manager/orchestrator/pump.h"
#include "manager/store/store.h"

struct alloc {
	struct orch_unit unit; /* unit.ids: ids of tasks seen in state NEW */
};

/* Starts the allocator on `loop` (when this manager becomes leader, after the barrier): it
 * first allocates every NEW task in the store, then follows changes. `a` is caller-allocated
 * and not running; the store and the proposer's context must outlive alloc_stop's callback.
 * Returns 0. */
int alloc_start(struct alloc *a, uv_loop_t *loop, struct store *store, struct ctl_proposer p);

/* Stops it and frees its memory; `cb(arg)` runs once its handles are closed (cb may be NULL).
 * Safe on an allocator never started or already stopped (cb runs at once). */
void alloc_stop(struct alloc *a, void (*cb)(void *arg), void *arg);

/* Proposals made so far (tests, logs). */
uint64_t alloc_proposals(const struct alloc *a);

#endif
