/* scheduler node set: what one pass knows of every node, computed once and kept up to date as
 * the pass assigns tasks.
 *
 * Loading reads each node and, through the store's by-node index, the tasks on it once:
 * reservations left (a task holds its reservation while it is not observed stopped), tasks
 * meant to run there (also desired state <= RUNNING; the spread counts these, as swarmkit's
 * NodeInfo) and the host-mode ports its live tasks publish. The count of one service's tasks
 * per node (sched_node.svc) is filled for one service at a time. Nodes are kept sorted by id,
 * so an index order is an id order. Everything borrows from the store: valid until it changes. */
#ifndef SHOAL_MANAGER_SCHEDULER_NODESET_H
#define SHOAL_MANAGER_SCHEDULER_NODESET_H

#include <stddef.h>

#include "manager/scheduler/filter.h"
#include "manager/store/store.h"

struct sched_nodeset {
	struct sched_node *nodes; /* sorted by node id */
	size_t n, cap;
	char *svc; /* service whose tasks are counted in nodes[].svc (owned), or NULL */
};

/* Fills `ns` (zero-initialised or freed) from `st`. Aborts on OOM. */
void sched_nodeset_load(struct sched_nodeset *ns, const struct store *st);

/* The node with this id, or NULL (binary search). */
struct sched_node *sched_nodeset_find(struct sched_nodeset *ns, const char *node_id);

/* Sets nodes[].svc to the tasks of `service_id` meant to run on each node (does nothing when
 * they are already counted for it). An empty service id counts nothing. */
void sched_nodeset_count_service(struct sched_nodeset *ns, const struct store *st,
				 const char *service_id);

/* Accounts a task of the counted service just assigned to `sn`: its reservation, its host
 * ports, one more task overall and of the service. */
void sched_nodeset_assign(struct sched_node *sn, const Shoal__Task *t);

/* Frees what `ns` holds; it can be loaded again. */
void sched_nodeset_free(struct sched_nodeset *ns);

#endif
