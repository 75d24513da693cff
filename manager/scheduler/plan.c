#include "manager/scheduler/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "manager/scheduler/prefs.h"

static int by_group(const void *a, const void *b)
{
	const Shoal__Task *x = ((const struct sched_decision *) a)->t,
			  *y = ((const struct sched_decision *) b)->t;
	int c = strcmp(x->service_id, y->service_id);

	if (c)
		return c;
	if (x->spec_version != y->spec_version)
		return x->spec_version < y->spec_version ? -1 : 1;
	if ((c = strcmp(x->node_id, y->node_id)))
		return c;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->meta->id, y->meta->id);
}

static int same_group(const Shoal__Task *a, const Shoal__Task *b)
{
	return a->service_id[0] && !a->node_id[0] && !b->node_id[0] &&
	       !strcmp(a->service_id, b->service_id) && a->spec_version == b->spec_version;
}

static void fail(struct sched_decision *d, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++) {
		d[i].node = -1;
		d[i].err = xstrdup(why);
	}
}

/* Docker's explanation: how many nodes fail each filter now. */
static void explain(struct sched_nodeset *ns, const Shoal__Task *t,
		    const struct sched_constraint *c, size_t nc, char *out, size_t len)
{
	unsigned counts[SCHED_F_COUNT] = {0};

	for (size_t i = 0; i < ns->n; i++) {
		int f = sched_check(&ns->nodes[i], t, c, nc);
		if (f >= 0)
			counts[f]++;
	}
	sched_explain(counts, out, len);
}

static void place_pinned(struct sched_plan *p, struct sched_decision *d,
			 const struct sched_constraint *c, size_t nc)
{
	struct sched_node *sn = sched_nodeset_find(&p->ns, d->t->node_id);
	unsigned counts[SCHED_F_COUNT] = {0};
	char why[512];
	int f;

	if (!sn) {
		fail(d, 1, "no suitable node");
		return;
	}
	f = sched_check(sn, d->t, c, nc);
	if (f < 0) {
		sched_nodeset_assign(sn, d->t);
		d->node = (int32_t) (sn - p->ns.nodes);
		return;
	}
	counts[f] = 1;
	sched_explain(counts, why, sizeof(why));
	fail(d, 1, why);
}

static void place_group(struct sched_plan *p, const struct store *st, struct sched_decision *d,
			size_t n)
{
	const Shoal__Task *t = d[0].t;
	const Shoal__Placement *pl = t->spec ? t->spec->placement : NULL;
	struct sched_constraint *c = NULL;
	size_t nc = 0;
	char why[600];

	if (pl && pl->n_constraints) {
		char err[512];

		if (sched_constraints_parse(pl->constraints, pl->n_constraints, &c, &nc, err,
					    sizeof(err)) != 0) {
			snprintf(why, sizeof(why), "invalid placement constraint: %s", err);
			fail(d, n, why);
			return;
		}
	}
	sched_nodeset_count_service(&p->ns, st, t->service_id);
	if (t->node_id[0]) {
		place_pinned(p, d, c, nc);
	} else {
		int32_t *out = xmalloc(n * sizeof(*out));
		struct sched_group g = {.ns = &p->ns, .t = t, .c = c, .nc = nc, .n = n, .out = out};

		sched_group_place(&g);
		for (size_t i = 0; i < g.done; i++)
			d[i].node = out[i];
		if (g.done < n) {
			explain(&p->ns, t, c, nc, why, sizeof(why));
			fail(d + g.done, n - g.done, why);
		}
		free(out);
	}
	sched_constraints_free(c, nc);
}

void sched_plan_make(struct sched_plan *p, const struct store *st, const Shoal__Task *const *tasks,
		     size_t n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->d = n ? xmalloc(n * sizeof(*p->d)) : NULL;
	for (size_t i = 0; i < n; i++)
		p->d[i] = (struct sched_decision){.t = tasks[i], .node = -1, .err = NULL};
	if (n)
		qsort(p->d, n, sizeof(*p->d), by_group);
	sched_nodeset_load(&p->ns, st);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && same_group(p->d[i].t, p->d[j].t))
			j++;
		place_group(p, st, p->d + i, j - i);
		i = j;
	}
}

const char *sched_plan_node_id(const struct sched_plan *p, const struct sched_decision *d)
{
	return d->node >= 0 ? p->ns.nodes[d->node].n->meta->id : NULL;
}

void sched_plan_free(struct sched_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->d[i].err);
	free(p->d);
	sched_nodeset_free(&p->ns);
	memset(p, 0, sizeof(*p));
}
