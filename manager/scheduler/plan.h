/* scheduler plan: where every pending task of a pass goes, computed from the store alone.
 *
 * The tasks are grouped by service and spec version (filters run once per group, see
 * prefs.h); a task already naming its node (global services) is only checked against that
 * node. A task that fits nowhere gets Docker's status error: "no suitable node (insufficient
 * resources on 2 nodes; ...)", or "invalid placement constraint: ..." for a constraint that
 * does not parse. The plan touches nothing: sched.c turns it into task updates.
 *
 * Cost: O(tasks stored) to load the node set, O(nodes log nodes) per group, O(log nodes) per
 * placed task. */
#ifndef SHOAL_MANAGER_SCHEDULER_PLAN_H
#define SHOAL_MANAGER_SCHEDULER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "manager/scheduler/nodeset.h"
#include "manager/store/store.h"

struct sched_decision {
	const Shoal__Task *t; /* borrowed from the store */
	int32_t node;	      /* index into the plan's ns.nodes, or -1 */
	char *err;	      /* when node is -1: why (owned by the plan) */
};

struct sched_plan {
	struct sched_nodeset ns;
	struct sched_decision *d; /* one per task, in placement order */
	size_t n;
};

/* Plans `tasks[0..n)` (pending, borrowed from `st`) into `p` (zero-initialised or freed). The
 * plan borrows from the store: use it before the store changes. Aborts on OOM. */
void sched_plan_make(struct sched_plan *p, const struct store *st, const Shoal__Task *const *tasks,
		     size_t n);

/* The node id of decision `d` (borrowed), or NULL when it is not placed. */
const char *sched_plan_node_id(const struct sched_plan *p, const struct sched_decision *d);

/* Frees what `p` holds; it can be made again. */
void sched_plan_free(struct sched_plan *p);

#endif
