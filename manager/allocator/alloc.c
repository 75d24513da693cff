#include "manager/allocator/alloc.h"

#include <string.h>

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

static int wants_allocation(const Shoal__Task *t)
{
	return t->status && t->status->state == ST(NEW) && t->desired_state <= ST(RUNNING);
}

/* Fills `out` (a shallow copy of `t` whose status the caller owns) with what `t` needs before
 * it can be scheduled. Returns 0, or -EAGAIN to leave the task NEW for now. Networks, VIPs and
 * published ports slot in here with the overlay. */
static int allocate_task(const Shoal__Task *t, Shoal__Task *out, Shoal__TaskStatus *status,
			 int64_t now)
{
	*out = *t;
	*status = *t->status;
	status->state = ST(PENDING);
	status->message = "pending task scheduling";
	status->err = "";
	status->timestamp = now;
	out->status = status;
	return 0;
}

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct alloc *a = p->data;

	if (ev->kind == STORE_TASK && ev->obj.task && wants_allocation(ev->obj.task))
		orch_idset_add(&a->unit.ids, ev->obj.task->meta->id);
}

static int mark_new(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;

	if (wants_allocation(t))
		orch_idset_add(arg, t->meta->id);
	return 0;
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct alloc *a = p->data;
	struct orch_idset todo = a->unit.ids;
	int64_t now = orch_now_ns();
	const char *id;
	size_t it = 0;

	memset(&a->unit.ids, 0, sizeof(a->unit.ids));
	if (full)
		store_foreach_task(p->store, mark_new, &todo);
	while ((id = orch_idset_next(&todo, &it))) {
		const Shoal__Task *t = store_get_task(p->store, id);
		Shoal__Task copy;
		Shoal__TaskStatus status;

		if (!t || !wants_allocation(t))
			continue;
		if (orch_batch_full(b)) {
			orch_idset_add(&a->unit.ids, id);
			continue;
		}
		if (allocate_task(t, &copy, &status, now) == 0)
			orch_batch_update_task(b, &copy);
	}
	orch_idset_clear(&todo);
	if (a->unit.ids.len)
		orch_pump_wake(p, 0);
}

static const struct orch_pump_ops ops = {
    .event = on_event,
    .pass = on_pass,
};

int alloc_start(struct alloc *a, uv_loop_t *loop, struct store *store, struct ctl_proposer p)
{
	return orch_unit_start(&a->unit, a, "alloc", loop, store, p, STORE_KIND_BIT(STORE_TASK),
			       &ops);
}

void alloc_stop(struct alloc *a, void (*cb)(void *arg), void *arg)
{
	orch_unit_stop(&a->unit, cb, arg);
}

uint64_t alloc_proposals(const struct alloc *a)
{
	return a->unit.pump.proposals;
}
