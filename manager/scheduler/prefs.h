/* scheduler group placement: placement preferences (swarmkit's decision tree), then spread.
 *
 * A group is pending tasks of one service and spec version (swarmkit's taskGroup): the filters
 * (filter.h) give the same answer for all of them, so they run once per node for the whole
 * group, and again only on a node that just received a task.
 *
 * Preferences "spread=node.labels.X" / "spread=engine.labels.X" (others are ignored, as by
 * swarmkit) split the nodes into a tree: level i groups them by the value of the i-th
 * preference's label, nodes without it forming their own group (value ""). Each branch counts
 * the service's tasks on all its nodes (eligible or not); tasks go to the branches so as to
 * even those counts out, a branch with no room left giving its share to the others, level by
 * level. Within a leaf, the eligible nodes sit in a min-heap ordered by fewest tasks of the
 * service, then fewest tasks overall, then lower node id (swarmkit's nodeHeap): each task goes
 * to the top node, which is re-checked and sifted (or dropped when it no longer fits). Branches
 * are visited in label value order, so placement is deterministic.
 *
 * Cost: O(nodes log nodes) to build the tree and heaps, O(log nodes) per task. */
#ifndef SHOAL_MANAGER_SCHEDULER_PREFS_H
#define SHOAL_MANAGER_SCHEDULER_PREFS_H

#include <stddef.h>
#include <stdint.h>

#include "manager/scheduler/filter.h"
#include "manager/scheduler/nodeset.h"

struct sched_group {
	struct sched_nodeset *ns;	  /* with nodes[].svc counted for the group's service */
	const Shoal__Task *t;		  /* any task of the group: its spec decides */
	const struct sched_constraint *c; /* t's constraints, parsed */
	size_t nc;
	size_t n;     /* tasks to place */
	size_t done;  /* placed so far */
	int32_t *out; /* caller's array of n: out[i] = node index of the i-th placed task */
};

/* Places up to g->n - g->done tasks, filling g->out[g->done..] and advancing g->done, and
 * accounts each in the node set (sched_nodeset_assign). Returns how many were placed; fewer
 * than asked means no eligible node is left. Aborts on OOM. */
size_t sched_group_place(struct sched_group *g);

#endif
