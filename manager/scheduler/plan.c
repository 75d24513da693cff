#include "manager/scheduler/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "manager/scheduler/prefs.h"

/* Sort key of a task, computed once: comparing tasks in place would chase a million pointers
 * into the store per level of the sort. Equal hashes are checked with same_group(). */
struct key {
	uint64_t group; /* hash of service id and pinned node id */
	uint64_t spec_version;
	uint64_t slot;
	const Shoal__Task *t;
};

static uint64_t hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 0x100000001b3ULL; /* FNV-1a */
	return (h ^ 0xff) * 0x100000001b3ULL;
}

static int by_group(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->spec_version != y->spec_version)
		return x->spec_version < y->spec_version ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->t->meta->id, y->t->meta->id);
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
	struct key *k = n ? xmalloc(n * sizeof(*k)) : NULL;

	memset(p, 0, sizeof(*p));
	p->n = n;
	p->d = n ? xmalloc(n * sizeof(*p->d)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const Shoal__Task *t = tasks[i];

		k[i] = (struct key){
		    .group = hash(hash(0xcbf29ce484222325ULL, t->service_id), t->node_id),
		    .spec_version = t->spec_version,
		    .slot = t->slot,
		    .t = t};
	}
	if (n)
		qsort(k, n, sizeof(*k), by_group);
	for (size_t i = 0; i < n; i++)
		p->d[i] = (struct sched_decision){.t = k[i].t, .node = -1, .err = NULL};
	free(k);
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
