#include "manager/scheduler/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "common/log.h"
#include "manager/scheduler/plan.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

struct sched_cached {
	char id[ID_LEN + 1];
	uint64_t version;
	char node[ID_LEN + 1]; /* "" when not placed */
	char *err;	       /* when not placed: why (owned) */
};

static int wants_node(const Shoal__Task *t)
{
	return t->status && t->status->state == ST(PENDING) && t->desired_state <= ST(RUNNING);
}

/* ------------------------------------------------------------------------------------------ */
/* The cached plan */

static void plan_drop(struct sched *s)
{
	for (size_t i = 0; i < s->plan_len; i++)
		free(s->plan[i].err);
	free(s->plan);
	s->plan = NULL;
	s->plan_len = s->plan_at = 0;
	s->plan_valid = 0;
}

static void plan_make(struct sched *s, const struct store *st)
{
	const Shoal__Task **tasks = NULL;
	struct sched_plan p;
	size_t n = 0, it = 0;
	const char *id;

	plan_drop(s);
	if (s->pending.len)
		tasks = xmalloc(s->pending.len * sizeof(*tasks));
	while ((id = orch_idset_next(&s->pending, &it))) {
		const Shoal__Task *t = store_get_task(st, id);

		if (t && wants_node(t))
			tasks[n++] = t;
	}
	sched_plan_make(&p, st, tasks, n);
	s->plan = n ? xmalloc(n * sizeof(*s->plan)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const struct sched_decision *d = &p.d[i];
		const char *node = sched_plan_node_id(&p, d);
		struct sched_cached *c = &s->plan[i];

		snprintf(c->id, sizeof(c->id), "%s", d->t->meta->id);
		c->version = d->t->meta->version;
		snprintf(c->node, sizeof(c->node), "%s", node ? node : "");
		c->err = d->err; /* the plan's: taken over */
		p.d[i].err = NULL;
	}
	s->plan_len = n;
	s->plan_valid = 1;
	s->plans++;
	sched_plan_free(&p);
	free(tasks);
}

/* ------------------------------------------------------------------------------------------ */
/* Writing decisions */

static void write_task(struct orch_batch *b, const Shoal__Task *t, const char *node_id,
		       const char *err, int64_t now)
{
	Shoal__Task copy = *t;
	Shoal__TaskStatus status = *t->status;

	if (node_id) {
		copy.node_id = (char *) node_id;
		status.state = ST(ASSIGNED);
		status.message = "scheduled";
		status.err = "";
		status.timestamp = now;
	} else {
		status.err = (char *) err;
	}
	copy.status = &status;
	orch_batch_update_task(b, &copy);
}

/* Proposes planned decisions into `b` until it is full; returns -1 if the plan turned out
 * stale (a task changed in a way no event flagged), 0 otherwise. */
static int emit(struct sched *s, const struct store *st, struct orch_batch *b)
{
	int64_t now = orch_now_ns();

	while (s->plan_at < s->plan_len && orch_batch_len(b) < SCHED_BATCH_MAX &&
	       !orch_batch_full(b)) {
		const struct sched_cached *c = &s->plan[s->plan_at];
		const Shoal__Task *t = store_get_task(st, c->id);

		if (!t || !wants_node(t) || t->meta->version != c->version)
			return -1;
		s->plan_at++;
		if (c->node[0]) {
			write_task(b, t, c->node, NULL, now);
		} else if (strcmp(t->status->err, c->err) != 0) {
			log_info("sched", "task unschedulable task_id=%s err=\"%s\"", t->meta->id,
				 c->err);
			write_task(b, t, NULL, c->err, now);
		} else {
			continue;
		}
		orch_idset_add(&s->inflight, c->id);
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Pump operations */

/* What a task contributes to a plan: where it counts, and whether it waits for a node. */
struct share {
	const char *node;
	int holds, active, waits;
};

static struct share share_of(const Shoal__Task *t)
{
	struct share x = {"", 0, 0, 0};

	if (!t)
		return x;
	x.waits = wants_node(t);
	if (t->node_id[0] && !(t->status && t->status->state > ST(RUNNING))) {
		x.node = t->node_id;
		x.holds = 1;
		x.active = t->desired_state <= ST(RUNNING);
	}
	return x;
}

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct sched *s = p->data;
	const Shoal__Task *t, *old;
	struct share a, b;

	if (ev->kind != STORE_TASK) {
		s->plan_valid = 0; /* a node changed */
		return;
	}
	t = ev->obj.task;
	old = ev->old.task;
	if (t && wants_node(t))
		orch_idset_add(&s->pending, t->meta->id);
	else
		orch_idset_del(&s->pending, (t ? t : old)->meta->id);
	if (orch_idset_del(&s->inflight, (t ? t : old)->meta->id))
		return; /* the echo of our own write */
	a = share_of(old);
	b = share_of(t);
	if (a.waits || b.waits || a.holds != b.holds || a.active != b.active ||
	    strcmp(a.node, b.node) != 0)
		s->plan_valid = 0;
}

static int mark_pending(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;

	if (wants_node(t))
		orch_idset_add(arg, t->meta->id);
	return 0;
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct sched *s = p->data;

	orch_idset_clear(&s->inflight);
	if (full) {
		orch_idset_clear(&s->pending);
		store_foreach_task(p->store, mark_pending, &s->pending);
		s->plan_valid = 0;
	}
	if (!s->plan_valid) {
		if (!s->pending.len) {
			plan_drop(s);
			return;
		}
		plan_make(s, p->store);
	}
	if (emit(s, p->store, b) != 0) {
		/* Should not happen (every such change comes with an event): plan again. */
		log_debug("sched", "plan stale, planning again");
		orch_batch_reset(b);
		orch_idset_clear(&s->inflight);
		plan_make(s, p->store);
		if (emit(s, p->store, b) != 0) {
			orch_batch_reset(b);
			orch_idset_clear(&s->inflight);
			plan_drop(s);
			orch_pump_kick_full(p);
			return;
		}
	}
	if (s->plan_at < s->plan_len)
		orch_pump_wake(p, 0); /* the rest after this batch */
}

static const struct orch_pump_ops ops = {
    .event = on_event,
    .pass = on_pass,
};

int sched_start(struct sched *s, uv_loop_t *loop, struct store *store, struct ctl_proposer p)
{
	memset(s, 0, sizeof(*s));
	s->pump.data = s;
	s->pump.name = "sched";
	orch_pump_start(&s->pump, loop, store, p,
			STORE_KIND_BIT(STORE_TASK) | STORE_KIND_BIT(STORE_NODE), &ops);
	s->running = 1;
	return 0;
}

static void closed(void *arg)
{
	struct sched *s = arg;

	orch_idset_clear(&s->pending);
	orch_idset_clear(&s->inflight);
	plan_drop(s);
	if (s->stop_cb)
		s->stop_cb(s->stop_arg);
}

void sched_stop(struct sched *s, void (*cb)(void *arg), void *arg)
{
	if (!s->running) {
		if (cb)
			cb(arg);
		return;
	}
	s->running = 0;
	s->stop_cb = cb;
	s->stop_arg = arg;
	orch_pump_stop(&s->pump, closed, s);
}

uint64_t sched_proposals(const struct sched *s)
{
	return s->pump.proposals;
}

uint64_t sched_plans(const struct sched *s)
{
	return s->plans;
}
