/* pump: the event loop plumbing every leader component (orchestrator, reaper, allocator,
 * scheduler) shares: a store watcher, a coalescing timer, and at most one proposal in flight.
 *
 * A component supplies three operations:
 *   - event: called for each store change the watcher saw (the component marks what is dirty);
 *   - pass:  reads the store and adds the actions it wants to a batch. `full` asks it to look at
 *            everything (at start, after a watch overflow, after a failed proposal), not only at
 *            what its events marked dirty. A pass must be level-triggered: computed from the
 *            store's current state, so running it twice proposes nothing the second time;
 *   - applied (optional): told once the batch of its pass was applied (ok = 1) or not (ok = 0).
 *
 * Flow: a store change notifies the pump, which arms a 0 ms timer (never proposing from inside
 * the store's notify callback). When it fires the pump drains the watcher and, if no proposal is
 * in flight, runs a pass and proposes its batch at once. While that proposal is in flight,
 * changes keep accumulating; when it completes the next pass batches all of them together. A
 * version conflict (another writer got there first) re-runs a full pass at once on the re-read
 * store; other failures (leadership lost, no quorum) retry with a backoff of 50 ms doubling to
 * 2 s. orch_pump_wake() asks for a pass at a later time (restart delays). */
#ifndef SHOAL_MANAGER_ORCHESTRATOR_PUMP_H
#define SHOAL_MANAGER_ORCHESTRATOR_PUMP_H

#include <stdint.h>
#include <uv.h>

#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/batch.h"
#include "manager/store/store.h"

struct orch_pump;

struct orch_pump_ops {
	void (*event)(struct orch_pump *p, const struct store_event *ev);
	void (*pass)(struct orch_pump *p, struct orch_batch *b, int full);
	void (*applied)(struct orch_pump *p, int ok);
};

struct orch_pump_flight; /* one proposal in flight (heap: it may outlive the pump) */

struct orch_pump {
	void *data;	  /* the owning component */
	const char *name; /* log component, e.g. "orch" */
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	struct ctl_proposer proposer;
	struct orch_pump_ops ops;
	unsigned kinds; /* STORE_KIND_BIT()s watched */
	struct store_watch *watch;
	uv_timer_t timer;
	int armed;
	uint64_t due_ms;     /* when the armed timer fires (uv_now) */
	uint64_t backoff_ms; /* after a failed proposal; 0 = none */
	uint64_t retry_at;   /* no pass before this (uv_now), after a failure */
	int running;
	int full; /* next pass looks at everything */
	struct orch_pump_flight *flight;
	uint64_t proposals; /* proposals made (tests and logs) */
	uint64_t failures;  /* proposals not applied */
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

/* Starts the pump: opens a watcher on `kinds` of `store`, and schedules a first, full pass on
 * the next loop iteration. `p->data` and `p->name` are the caller's, set before or after.
 * Returns 0. The caller must orch_pump_stop() it. */
int orch_pump_start(struct orch_pump *p, uv_loop_t *loop, struct store *store,
		    struct ctl_proposer proposer, unsigned kinds, const struct orch_pump_ops *ops);

/* Stops the pump: closes the watcher now and the timer asynchronously; `cb(arg)` runs once the
 * timer is closed (cb may be NULL). A proposal still in flight completes into nothing. Calling
 * it on a pump never started or already stopped calls cb at once. */
void orch_pump_stop(struct orch_pump *p, void (*cb)(void *arg), void *arg);

/* Asks for a pass (not full) `delay_ms` from now; the earliest request wins. */
void orch_pump_wake(struct orch_pump *p, uint64_t delay_ms);

/* Asks for a full pass soon (a component noticed it could not finish, e.g. a full batch). */
void orch_pump_kick_full(struct orch_pump *p);

/* ------------------------------------------------------------------------------------------ */
/* A leader component that is one pump and one set of object ids to look at (the allocator, the
 * scheduler): their start and stop. */

struct orch_unit {
	struct orch_pump pump;
	struct orch_idset ids; /* the component's; freed when the unit stops */
	int running;
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

/* Zeroes `u` and starts its pump (orch_pump_start) with pump.data = data and pump.name = name.
 * Returns 0. The caller must orch_unit_stop() it. */
int orch_unit_start(struct orch_unit *u, void *data, const char *name, uv_loop_t *loop,
		    struct store *store, struct ctl_proposer proposer, unsigned kinds,
		    const struct orch_pump_ops *ops);

/* Stops the pump and frees the ids; `cb(arg)` runs once the pump is closed (cb may be NULL).
 * Safe on a unit never started (zeroed) or already stopped: cb runs at once. */
void orch_unit_stop(struct orch_unit *u, void (*cb)(void *arg), void *arg);

#endif
