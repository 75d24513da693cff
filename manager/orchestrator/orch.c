/* orchestrator: start and stop of the replicated orchestrator, the task reaper and the
 * updater. */
#include "manager/orchestrator/orch.h"

#include <string.h>

static void pump_closed(void *arg)
{
	struct orch *o = arg;

	if (--o->stopping > 0)
		return;
	orch_idset_clear(&o->dirty);
	orch_idset_clear(&o->waiting);
	orch_idset_clear(&o->reap_dirty);
	orch_idset_clear(&o->upd_dirty);
	orch_update_clear(o);
	orch_restart_clear(o);
	if (o->stop_cb)
		o->stop_cb(o->stop_arg);
}

int orch_start(struct orch *o, uv_loop_t *loop, struct store *store, struct ctl_proposer p)
{
	memset(o, 0, sizeof(*o));
	o->pump.data = o;
	o->pump.name = "orch";
	o->reaper.data = o;
	o->reaper.name = "reaper";
	o->updater.data = o;
	o->updater.name = "updater";
	orch_pump_start(&o->pump, loop, store, p,
			STORE_KIND_BIT(STORE_SERVICE) | STORE_KIND_BIT(STORE_TASK) |
			    STORE_KIND_BIT(STORE_NODE),
			&orch_replicated_ops);
	orch_pump_start(&o->reaper, loop, store, p,
			STORE_KIND_BIT(STORE_SERVICE) | STORE_KIND_BIT(STORE_TASK) |
			    STORE_KIND_BIT(STORE_CLUSTER),
			&orch_reaper_ops);
	orch_pump_start(&o->updater, loop, store, p,
			STORE_KIND_BIT(STORE_SERVICE) | STORE_KIND_BIT(STORE_TASK) |
			    STORE_KIND_BIT(STORE_NODE),
			&orch_updater_ops);
	o->running = 1;
	return 0;
}

void orch_stop(struct orch *o, void (*cb)(void *arg), void *arg)
{
	if (!o->running) {
		if (cb)
			cb(arg);
		return;
	}
	o->running = 0;
	o->stop_cb = cb;
	o->stop_arg = arg;
	o->stopping = 3;
	orch_pump_stop(&o->pump, pump_closed, o);
	orch_pump_stop(&o->reaper, pump_closed, o);
	orch_pump_stop(&o->updater, pump_closed, o);
}

uint64_t orch_proposals(const struct orch *o)
{
	return o->pump.proposals + o->reaper.proposals + o->updater.proposals;
}
