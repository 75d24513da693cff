/* Constraint enforcement (swarmkit's constraintenforcer) and node eligibility for the global
 * modes, on top of the scheduler's filters (scheduler/filter.h).
 *
 * A task placed on a node whose labels, role... changed so that its placement constraints no
 * longer match is treated like a task on a drained node (orch_node_invalid): desired state
 * SHUTDOWN and, per the restart policy, a replacement at once where it fits. An unparsable
 * constraint never shuts anything down: the scheduler reports it on the tasks it places. */
#include <stddef.h>

#include "manager/orchestrator/slots.h"
#include "manager/scheduler/filter.h"

/* 1 = match, 0 = no match, -1 = unparsable (treated as a match by the callers). */
static int constraints_match(const Shoal__TaskSpec *spec, const Shoal__Node *n)
{
	const Shoal__Placement *pl = spec ? spec->placement : NULL;
	struct sched_constraint *c = NULL;
	size_t nc = 0;
	char why[256];
	int ok;

	if (!pl || !pl->n_constraints)
		return 1;
	if (sched_constraints_parse(pl->constraints, pl->n_constraints, &c, &nc, why,
				    sizeof(why)) != 0)
		return -1;
	ok = sched_constraints_match(c, nc, n);
	sched_constraints_free(c, nc);
	return ok;
}

int orch_constraints_violated(const Shoal__Task *t, const Shoal__Node *n)
{
	return constraints_match(t->spec, n) == 0;
}

int orch_node_fits(const Shoal__TaskSpec *spec, const Shoal__Node *n)
{
	const Shoal__Placement *pl = spec ? spec->placement : NULL;
	const Shoal__Platform *np = n->description ? n->description->platform : NULL;
	int any;

	if (constraints_match(spec, n) == 0)
		return 0;
	if (!pl || !pl->n_platforms)
		return 1;
	any = 0;
	for (size_t i = 0; i < pl->n_platforms && !any; i++)
		any = sched_platform_match(pl->platforms[i], np);
	return any;
}
