#include "manager/scheduler/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "manager/scheduler/filter.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

struct pass {
	const struct store *st;
	struct sched_node *nodes; /* sorted by node id */
	size_t nn, cap;
	const Shoal__Task **tasks; /* pending tasks of this pass, grouped by service */
	size_t nt, tcap;
	const char *svc; /* service whose counts are in nodes[].svc */
	int64_t now;
};

static int wants_node(const Shoal__Task *t)
{
	return t->status && t->status->state == ST(PENDING) && t->desired_state <= ST(RUNNING);
}

/* ------------------------------------------------------------------------------------------ */
/* Node table */

static int add_node(const void *obj, void *arg)
{
	struct pass *x = arg;
	const Shoal__Node *n = obj;
	const Shoal__Resources *r = n->description ? n->description->resources : NULL;

	if (x->nn == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->nodes = xrealloc(x->nodes, x->cap * sizeof(*x->nodes));
	}
	memset(&x->nodes[x->nn], 0, sizeof(x->nodes[x->nn]));
	x->nodes[x->nn].n = n;
	x->nodes[x->nn].cpu = r ? r->nano_cpus : 0;
	x->nodes[x->nn].mem = r ? r->memory_bytes : 0;
	x->nn++;
	return 0;
}

static int by_node_id(const void *a, const void *b)
{
	return strcmp(((const struct sched_node *) a)->n->meta->id,
		      ((const struct sched_node *) b)->n->meta->id);
}

static struct sched_node *node_of(struct pass *x, const char *id)
{
	size_t lo = 0, hi = x->nn;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(x->nodes[mid].n->meta->id, id);

		if (!c)
			return &x->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void reserve(struct sched_node *sn, const Shoal__Task *t)
{
	const Shoal__Resources *r =
	    t->spec && t->spec->resources ? t->spec->resources->reservations : NULL;

	if (r) {
		sn->cpu -= r->nano_cpus;
		sn->mem -= r->memory_bytes;
	}
}

/* A task holds its reservation while it is not observed stopped, and counts for the spread
 * while it is also meant to run (swarmkit's NodeInfo). */
static int count_task(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;
	struct sched_node *sn = arg;

	if (t->status && t->status->state > ST(RUNNING))
		return 0;
	reserve(sn, t);
	if (t->desired_state <= ST(RUNNING))
		sn->active++;
	return 0;
}

static int count_service_task(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;
	struct pass *x = arg;
	struct sched_node *sn;

	if (!t->node_id[0] || (t->status && t->status->state > ST(RUNNING)) ||
	    t->desired_state > ST(RUNNING))
		return 0;
	sn = node_of(x, t->node_id);
	if (sn)
		sn->svc++;
	return 0;
}

static void load_nodes(struct pass *x)
{
	store_foreach_node(x->st, add_node, x);
	if (x->nn)
		qsort(x->nodes, x->nn, sizeof(*x->nodes), by_node_id);
	for (size_t i = 0; i < x->nn; i++)
		store_tasks_by_node(x->st, x->nodes[i].n->meta->id, count_task, &x->nodes[i]);
}

static void load_service(struct pass *x, const char *service_id)
{
	if (x->svc && !strcmp(x->svc, service_id))
		return;
	x->svc = service_id;
	for (size_t i = 0; i < x->nn; i++)
		x->nodes[i].svc = 0;
	store_tasks_by_service(x->st, service_id, count_service_task, x);
}

/* ------------------------------------------------------------------------------------------ */
/* Placing one task */

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

static void place(struct pass *x, struct orch_batch *b, const Shoal__Task *t)
{
	const Shoal__Placement *pl = t->spec ? t->spec->placement : NULL;
	struct sched_constraint *c = NULL;
	unsigned counts[SCHED_F_COUNT] = {0};
	struct sched_node *best = NULL;
	size_t nc = 0;
	char err[512];

	if (pl && pl->n_constraints &&
	    sched_constraints_parse(pl->constraints, pl->n_constraints, &c, &nc, err,
				    sizeof(err)) != 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "invalid placement constraint: %s", err);
		if (strcmp(t->status->err, msg) != 0)
			write_task(b, t, NULL, msg, x->now);
		return;
	}
	load_service(x, t->service_id);
	for (size_t i = 0; i < x->nn; i++) {
		struct sched_node *sn = &x->nodes[i];
		int f;

		if (t->node_id[0] && strcmp(t->node_id, sn->n->meta->id) != 0)
			continue; /* pinned to its node (global services) */
		f = sched_check(sn, t, c, nc);
		if (f >= 0) {
			counts[f]++;
			continue;
		}
		if (!best || sn->svc < best->svc ||
		    (sn->svc == best->svc && sn->active < best->active))
			best = sn; /* nodes are in id order: ties go to the lower id */
	}
	sched_constraints_free(c, nc);
	if (!best) {
		sched_explain(counts, err, sizeof(err));
		if (strcmp(t->status->err, err) != 0) {
			log_info("sched", "task unschedulable task_id=%s err=\"%s\"", t->meta->id,
				 err);
			write_task(b, t, NULL, err, x->now);
		}
		return;
	}
	reserve(best, t);
	best->active++;
	best->svc++;
	write_task(b, t, best->n->meta->id, NULL, x->now);
}

/* ------------------------------------------------------------------------------------------ */
/* Pump operations */

static void on_event(struct orch_pump *p, const struct store_event *ev)
{
	struct sched *s = p->data;

	if (ev->kind != STORE_TASK)
		return; /* node changes only re-run the pass */
	if (ev->obj.task && wants_node(ev->obj.task))
		orch_idset_add(&s->unit.ids, ev->obj.task->meta->id);
	else
		orch_idset_del(&s->unit.ids,
			       (ev->obj.task ? ev->obj.task : ev->old.task)->meta->id);
}

static int mark_pending(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;

	if (wants_node(t))
		orch_idset_add(arg, t->meta->id);
	return 0;
}

static int by_service(const void *a, const void *b)
{
	const Shoal__Task *x = *(const Shoal__Task *const *) a,
			  *y = *(const Shoal__Task *const *) b;
	int c = strcmp(x->service_id, y->service_id);

	if (c)
		return c;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static void on_pass(struct orch_pump *p, struct orch_batch *b, int full)
{
	struct sched *s = p->data;
	struct pass x = {.st = p->store, .now = orch_now_ns()};
	const char *id;
	size_t it = 0;

	if (full) {
		orch_idset_clear(&s->unit.ids);
		store_foreach_task(p->store, mark_pending, &s->unit.ids);
	}
	if (!s->unit.ids.len)
		return;
	while ((id = orch_idset_next(&s->unit.ids, &it))) {
		const Shoal__Task *t = store_get_task(p->store, id);

		if (!t || !wants_node(t))
			continue;
		if (x.nt == x.tcap) {
			x.tcap = x.tcap ? x.tcap * 2 : 16;
			x.tasks = xrealloc(x.tasks, x.tcap * sizeof(*x.tasks));
		}
		x.tasks[x.nt++] = t;
	}
	/* Placing a service's tasks together spreads them; slot order keeps it predictable. */
	if (x.nt)
		qsort(x.tasks, x.nt, sizeof(*x.tasks), by_service);
	load_nodes(&x);
	for (size_t i = 0; i < x.nt; i++) {
		if (orch_batch_full(b)) {
			orch_pump_wake(p, 0); /* the rest after this batch */
			break;
		}
		place(&x, b, x.tasks[i]);
	}
	free(x.tasks);
	free(x.nodes);
}

static const struct orch_pump_ops ops = {
    .event = on_event,
    .pass = on_pass,
};

int sched_start(struct sched *s, uv_loop_t *loop, struct store *store, struct ctl_proposer p)
{
	return orch_unit_start(&s->unit, s, "sched", loop, store, p,
			       STORE_KIND_BIT(STORE_TASK) | STORE_KIND_BIT(STORE_NODE), &ops);
}

void sched_stop(struct sched *s, void (*cb)(void *arg), void *arg)
{
	orch_unit_stop(&s->unit, cb, arg);
}

uint64_t sched_proposals(const struct sched *s)
{
	return s->unit.pump.proposals;
}
