#include "manager/scheduler/prefs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

/* One branch of the decision tree: inner (kids) or leaf (heap of eligible node indices). */
struct ptree {
	uint64_t tasks; /* the service's tasks on the branch's nodes, assignments included */
	struct ptree *kids;
	size_t nkids;
	uint32_t *heap;
	size_t nheap;
};

struct ent {
	const char *const *v; /* label values, one per preference level */
	uint32_t depth;
	uint32_t idx; /* node index (id order) */
};

/* ------------------------------------------------------------------------------------------ */
/* Leaf heap: fewest tasks of the service, then fewest tasks, then lower node id */

static int less(const struct sched_nodeset *ns, uint32_t a, uint32_t b)
{
	const struct sched_node *x = &ns->nodes[a], *y = &ns->nodes[b];

	if (x->svc != y->svc)
		return x->svc < y->svc;
	if (x->active != y->active)
		return x->active < y->active;
	return a < b;
}

static void sift_down(const struct sched_nodeset *ns, uint32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint32_t tmp;

		if (l < n && less(ns, h[l], h[m]))
			m = l;
		if (r < n && less(ns, h[r], h[m]))
			m = r;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

static size_t leaf_place(struct sched_group *g, struct ptree *tr, size_t want)
{
	size_t placed = 0;

	while (placed < want && tr->nheap) {
		uint32_t i = tr->heap[0];
		struct sched_node *sn = &g->ns->nodes[i];

		g->out[g->done++] = (int32_t) i;
		sched_nodeset_assign(sn, g->t);
		placed++;
		/* Reservations, host ports or max replicas may rule the node out now. */
		if (sched_check(sn, g->t, g->c, g->nc) >= 0)
			tr->heap[0] = tr->heap[--tr->nheap];
		sift_down(g->ns, tr->heap, tr->nheap, 0);
	}
	return placed;
}

/* ------------------------------------------------------------------------------------------ */
/* The tree */

static const char *label(Shoal__Annotations__LabelsEntry **l, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i]->key, k))
			return l[i]->value;
	return "";
}

static const char *engine_label(const Shoal__Node *node, const char *k)
{
	const Shoal__EngineDescription *e = node->description ? node->description->engine : NULL;

	if (!e)
		return "";
	for (size_t i = 0; i < e->n_labels; i++)
		if (!strcmp(e->labels[i]->key, k))
			return e->labels[i]->value;
	return "";
}

static int supported(const Shoal__PlacementPreference *p)
{
	const char *d = p->spread ? p->spread->spread_descriptor : NULL;

	return d && ((strlen(d) > 12 && !strncasecmp(d, "node.labels.", 12)) ||
		     (strlen(d) > 14 && !strncasecmp(d, "engine.labels.", 14)));
}

/* The node's value for a supported spread descriptor. */
static const char *spread_value(const Shoal__Node *node, const char *d)
{
	if (strlen(d) > 12 && !strncasecmp(d, "node.labels.", 12)) {
		const Shoal__Annotations *a = node->spec ? node->spec->annotations : NULL;
		return a ? label(a->labels, a->n_labels, d + 12) : "";
	}
	if (strlen(d) > 14 && !strncasecmp(d, "engine.labels.", 14))
		return engine_label(node, d + 14);
	return "";
}

static int by_path(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	for (uint32_t i = 0; i < x->depth; i++) {
		int c = strcmp(x->v[i], y->v[i]);
		if (c)
			return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void build(struct sched_group *g, struct ptree *tr, const struct ent *e, size_t n,
		  uint32_t level)
{
	memset(tr, 0, sizeof(*tr));
	for (size_t i = 0; i < n; i++)
		tr->tasks += g->ns->nodes[e[i].idx].svc;
	if (!n || level == e[0].depth) {
		tr->heap = n ? xmalloc(n * sizeof(*tr->heap)) : NULL;
		for (size_t i = 0; i < n; i++)
			if (sched_check(&g->ns->nodes[e[i].idx], g->t, g->c, g->nc) < 0)
				tr->heap[tr->nheap++] = e[i].idx;
		for (size_t i = tr->nheap / 2; i-- > 0;)
			sift_down(g->ns, tr->heap, tr->nheap, i);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(e[i].v[level], e[i - 1].v[level]))
			tr->nkids++;
	tr->kids = xcalloc(tr->nkids, sizeof(*tr->kids));
	for (size_t i = 0, k = 0; i < n; k++) {
		size_t j = i + 1;

		while (j < n && !strcmp(e[j].v[level], e[i].v[level]))
			j++;
		build(g, &tr->kids[k], e + i, j - i, level + 1);
		i = j;
	}
}

static void tree_free(struct ptree *tr)
{
	for (size_t i = 0; i < tr->nkids; i++)
		tree_free(&tr->kids[i]);
	free(tr->kids);
	free(tr->heap);
}

/* Places up to `want` tasks under `tr`, evening out the branches' task counts. */
static size_t tree_place(struct sched_group *g, struct ptree *tr, size_t want)
{
	size_t placed = 0, usable = tr->nkids;
	unsigned char *full;

	if (!tr->kids) {
		placed = leaf_place(g, tr, want);
		tr->tasks += placed;
		return placed;
	}
	full = xcalloc(tr->nkids, 1);
	while (placed < want && usable) {
		uint64_t total = 0, per, rem;
		int progress = 0;

		for (size_t i = 0; i < tr->nkids; i++)
			if (!full[i])
				total += tr->kids[i].tasks;
		per = (total + (want - placed)) / usable;
		rem = (total + (want - placed)) % usable;
		for (size_t i = 0; i < tr->nkids && placed < want; i++) {
			struct ptree *k = &tr->kids[i];
			size_t ask, got;

			if (full[i] || k->tasks > per || (k->tasks == per && !rem))
				continue;
			ask = (size_t) (per - k->tasks) + (rem ? 1 : 0);
			if (ask > want - placed)
				ask = want - placed;
			got = tree_place(g, k, ask);
			placed += got;
			progress |= got > 0;
			if (got < ask) {
				full[i] = 1;
				usable--;
				progress = 1;
			} else if (rem) {
				rem--;
			}
		}
		if (!progress)
			break;
	}
	free(full);
	tr->tasks += placed;
	return placed;
}

/* ------------------------------------------------------------------------------------------ */

size_t sched_group_place(struct sched_group *g)
{
	const Shoal__Placement *pl = g->t->spec ? g->t->spec->placement : NULL;
	size_t np = pl ? pl->n_preferences : 0, n = g->ns->n, depth = 0, placed;
	const char **vals = NULL;
	struct ent *e;
	struct ptree root;

	if (g->done >= g->n)
		return 0;
	for (size_t i = 0; i < np; i++)
		depth += supported(pl->preferences[i]);
	e = n ? xmalloc(n * sizeof(*e)) : NULL;
	if (depth)
		vals = xmalloc(n * depth * sizeof(*vals));
	for (size_t i = 0; i < n; i++) {
		size_t d = 0;

		e[i].v = vals ? vals + i * depth : NULL;
		e[i].depth = (uint32_t) depth;
		e[i].idx = (uint32_t) i;
		for (size_t j = 0; j < np && depth; j++)
			if (supported(pl->preferences[j]))
				vals[i * depth + d++] =
				    spread_value(g->ns->nodes[i].n,
						 pl->preferences[j]->spread->spread_descriptor);
	}
	if (depth)
		qsort(e, n, sizeof(*e), by_path);
	build(g, &root, e, n, 0);
	placed = tree_place(g, &root, g->n - g->done);
	tree_free(&root);
	free(vals);
	free(e);
	return placed;
}
