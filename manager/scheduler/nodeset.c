#include "manager/scheduler/nodeset.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

static void add_port(struct sched_node *sn, uint32_t port)
{
	if (sn->nports == sn->pcap) {
		sn->pcap = sn->pcap ? sn->pcap * 2 : 4;
		sn->ports = xrealloc(sn->ports, sn->pcap * sizeof(*sn->ports));
	}
	sn->ports[sn->nports++] = port;
}

/* Reservation and host ports: held while the task is not observed stopped. */
static void hold(struct sched_node *sn, const Shoal__Task *t)
{
	const Shoal__Resources *r =
	    t->spec && t->spec->resources ? t->spec->resources->reservations : NULL;
	Shoal__PortConfig *const *pc;
	size_t n;

	if (r) {
		sn->cpu -= r->nano_cpus;
		sn->mem -= r->memory_bytes;
	}
	pc = sched_task_ports(t, &n);
	for (size_t i = 0; i < n; i++)
		if (sched_port_is_host(pc[i]))
			add_port(sn, SCHED_PORT(pc[i]->protocol, pc[i]->published_port));
}

static int add_node(const void *obj, void *arg)
{
	struct sched_nodeset *ns = arg;
	const Shoal__Node *n = obj;
	const Shoal__Resources *r = n->description ? n->description->resources : NULL;
	struct sched_node *sn;

	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 16;
		ns->nodes = xrealloc(ns->nodes, ns->cap * sizeof(*ns->nodes));
	}
	sn = &ns->nodes[ns->n++];
	memset(sn, 0, sizeof(*sn));
	sn->n = n;
	sn->cpu = r ? r->nano_cpus : 0;
	sn->mem = r ? r->memory_bytes : 0;
	return 0;
}

static int by_node_id(const void *a, const void *b)
{
	return strcmp(((const struct sched_node *) a)->n->meta->id,
		      ((const struct sched_node *) b)->n->meta->id);
}

static int count_task(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;
	struct sched_node *sn = arg;

	if (t->status && t->status->state > ST(RUNNING))
		return 0;
	hold(sn, t);
	if (t->desired_state <= ST(RUNNING))
		sn->active++;
	return 0;
}

void sched_nodeset_load(struct sched_nodeset *ns, const struct store *st)
{
	sched_nodeset_free(ns);
	store_foreach_node(st, add_node, ns);
	if (ns->n)
		qsort(ns->nodes, ns->n, sizeof(*ns->nodes), by_node_id);
	for (size_t i = 0; i < ns->n; i++)
		store_tasks_by_node(st, ns->nodes[i].n->meta->id, count_task, &ns->nodes[i]);
}

struct sched_node *sched_nodeset_find(struct sched_nodeset *ns, const char *id)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ns->nodes[mid].n->meta->id, id);

		if (!c)
			return &ns->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int count_service_task(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;
	struct sched_node *sn;

	if (!t->node_id[0] || (t->status && t->status->state > ST(RUNNING)) ||
	    t->desired_state > ST(RUNNING))
		return 0;
	sn = sched_nodeset_find(arg, t->node_id);
	if (sn)
		sn->svc++;
	return 0;
}

void sched_nodeset_count_service(struct sched_nodeset *ns, const struct store *st,
				 const char *service_id)
{
	if (ns->svc && !strcmp(ns->svc, service_id))
		return;
	free(ns->svc);
	ns->svc = xstrdup(service_id);
	for (size_t i = 0; i < ns->n; i++)
		ns->nodes[i].svc = 0;
	if (service_id[0])
		store_tasks_by_service(st, service_id, count_service_task, ns);
}

void sched_nodeset_assign(struct sched_node *sn, const Shoal__Task *t)
{
	hold(sn, t);
	sn->active++;
	sn->svc++;
}

void sched_nodeset_free(struct sched_nodeset *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->nodes[i].ports);
	free(ns->nodes);
	free(ns->svc);
	memset(ns, 0, sizeof(*ns));
}
