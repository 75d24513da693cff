/* scheduler: placement preferences (nested, uneven label sets, missing labels), max replicas
 * with preferences, host-mode port conflicts, placing as soon as a node fits, and the plan's
 * spread at scale (10,000 tasks on 100 nodes). */
#include "manager/scheduler/plan.h"
#include "tests/unit/test_leader.h"

TestSuite(sched_prefs, .init = lt_setup, .fini = lt_teardown, .timeout = 60);

/* A ready node with labels zone and rack (NULL = label absent). */
static void pn_node(char id[ID_LEN + 1], const char *host, const char *zone, const char *rack)
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__Annotations__LabelsEntry le[2], *lp[2];
	Shoal__NodeStatus status = SHOAL__NODE_STATUS__INIT;
	Shoal__NodeDescription desc = SHOAL__NODE_DESCRIPTION__INIT;
	Shoal__Platform pl = SHOAL__PLATFORM__INIT;
	Shoal__Resources res = SHOAL__RESOURCES__INIT;

	id_new(id);
	meta.id = id;
	n.meta = &meta;
	for (int i = 0; i < 2; i++) {
		const char *v = i ? rack : zone;

		if (!v)
			continue;
		shoal__annotations__labels_entry__init(&le[ann.n_labels]);
		le[ann.n_labels].key = i ? "rack" : "zone";
		le[ann.n_labels].value = (char *) v;
		lp[ann.n_labels] = &le[ann.n_labels];
		ann.n_labels++;
	}
	ann.labels = lp;
	spec.annotations = &ann;
	n.spec = &spec;
	status.state = SHOAL__NODE_STATE__NODE_STATE_READY;
	n.status = &status;
	desc.hostname = (char *) host;
	pl.architecture = "x86_64";
	pl.os = "linux";
	desc.platform = &pl;
	res.nano_cpus = 4000000000LL;
	res.memory_bytes = 8 * GB;
	desc.resources = &res;
	n.description = &desc;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_NODE, &n.base);
}

struct pn_svc {
	uint64_t replicas;
	const char *prefs[3]; /* spread descriptors, NULL-terminated */
	uint64_t max_replicas;
	uint32_t host_port; /* published in host mode (tcp) */
	int64_t mem;
};

static void pn_service(char id[ID_LEN + 1], const char *name, struct pn_svc o)
{
	Shoal__Service s = SHOAL__SERVICE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__ServiceSpec spec = SHOAL__SERVICE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskSpec task = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__ReplicatedService rep = SHOAL__REPLICATED_SERVICE__INIT;
	Shoal__Placement pl = SHOAL__PLACEMENT__INIT;
	Shoal__PlacementPreference pp[3], *ppp[3];
	Shoal__SpreadOver so[3];
	Shoal__EndpointSpec ep = SHOAL__ENDPOINT_SPEC__INIT;
	Shoal__PortConfig pc = SHOAL__PORT_CONFIG__INIT, *pcp = &pc;
	Shoal__ResourceRequirements rr = SHOAL__RESOURCE_REQUIREMENTS__INIT;
	Shoal__Resources res = SHOAL__RESOURCES__INIT;

	id_new(id);
	meta.id = id;
	s.meta = &meta;
	ann.name = (char *) name;
	spec.annotations = &ann;
	cs.image = "busybox";
	task.container = &cs;
	for (size_t i = 0; i < 3 && o.prefs[i]; i++) {
		shoal__placement_preference__init(&pp[i]);
		shoal__spread_over__init(&so[i]);
		so[i].spread_descriptor = (char *) o.prefs[i];
		pp[i].preference_case = SHOAL__PLACEMENT_PREFERENCE__PREFERENCE_SPREAD;
		pp[i].spread = &so[i];
		ppp[i] = &pp[i];
		pl.n_preferences++;
	}
	pl.preferences = ppp;
	pl.max_replicas = o.max_replicas;
	task.placement = &pl;
	if (o.mem) {
		res.memory_bytes = o.mem;
		rr.reservations = &res;
		task.resources = &rr;
	}
	spec.task = &task;
	if (o.host_port) {
		pc.target_port = 80;
		pc.published_port = o.host_port;
		pc.publish_mode = SHOAL__PORT_CONFIG__PUBLISH_MODE__HOST;
		ep.ports = &pcp;
		ep.n_ports = 1;
		spec.endpoint = &ep;
	}
	rep.replicas = o.replicas;
	spec.replicated = &rep;
	spec.mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED;
	s.spec = &spec;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s.base);
}

static unsigned on_node(const char *svc, const char *node)
{
	struct lt_tasks l = lt_tasks_of(svc);
	unsigned n = 0;

	for (size_t i = 0; i < l.n; i++)
		n += l.t[i]->desired_state <= ST(RUNNING) && !strcmp(l.t[i]->node_id, node);
	return n;
}

static unsigned pending_of(const char *svc, const char **err)
{
	struct lt_tasks l = lt_tasks_of(svc);
	unsigned n = 0;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING) && l.t[i]->status->state == ST(PENDING)) {
			n++;
			if (err)
				*err = l.t[i]->status->err;
		}
	return n;
}

Test(sched_prefs, nested_spread_over_zone_then_rack_with_uneven_and_missing_labels)
{
	char a1[ID_LEN + 1], a2[ID_LEN + 1], a3[ID_LEN + 1], b1[ID_LEN + 1], none[ID_LEN + 1],
	    svc[ID_LEN + 1];

	pn_node(a1, "a1", "a", "r1");
	pn_node(a2, "a2", "a", "r1");
	pn_node(a3, "a3", "a", "r2");
	pn_node(b1, "b1", "b", NULL);
	pn_node(none, "none", NULL, "r1");
	pn_service(
	    svc, "web",
	    (struct pn_svc){.replicas = 12, .prefs = {"node.labels.zone", "node.labels.rack"}});
	lt_start();
	settle();
	/* Three zone groups ("", a, b): 4 tasks each. In zone a, racks r1 and r2 get 2 each. */
	cr_expect_eq(on_node(svc, none), 4, "nodes without the label form their own group");
	cr_expect_eq(on_node(svc, b1), 4);
	cr_expect_eq(on_node(svc, a3), 2, "rack r2 of zone a");
	cr_expect_eq(on_node(svc, a1), 1);
	cr_expect_eq(on_node(svc, a2), 1);
	cr_expect_eq(pending_of(svc, NULL), 0);
}

Test(sched_prefs, scaling_up_evens_the_zones_out_first)
{
	char a1[ID_LEN + 1], b1[ID_LEN + 1], b2[ID_LEN + 1], b3[ID_LEN + 1], svc[ID_LEN + 1];

	pn_node(a1, "a1", "a", NULL);
	pn_node(b1, "b1", "b", NULL);
	pn_node(b2, "b2", "b", NULL);
	pn_service(svc, "web", (struct pn_svc){.replicas = 4, .prefs = {"node.labels.zone"}});
	lt_start();
	settle();
	cr_expect_eq(on_node(svc, a1), 2);
	cr_expect_eq(on_node(svc, b1) + on_node(svc, b2), 2);
	/* A third node in zone b: the two new tasks still go one per zone. */
	pn_node(b3, "b3", "b", NULL);
	lt_scale(svc, 6);
	settle();
	cr_expect_eq(on_node(svc, a1), 3);
	cr_expect_eq(on_node(svc, b1) + on_node(svc, b2) + on_node(svc, b3), 3);
	cr_expect_eq(on_node(svc, b3), 1, "within the zone, the emptiest node");
}

Test(sched_prefs, max_replicas_per_node_moves_the_share_of_a_full_zone_elsewhere)
{
	char a1[ID_LEN + 1], b1[ID_LEN + 1], b2[ID_LEN + 1], svc[ID_LEN + 1];
	const char *err = NULL;

	pn_node(a1, "a1", "a", NULL);
	pn_node(b1, "b1", "b", NULL);
	pn_node(b2, "b2", "b", NULL);
	pn_service(
	    svc, "web",
	    (struct pn_svc){.replicas = 6, .prefs = {"node.labels.zone"}, .max_replicas = 2});
	lt_start();
	settle();
	cr_expect_eq(on_node(svc, a1), 2, "zone a is full at 2");
	cr_expect_eq(on_node(svc, b1), 2);
	cr_expect_eq(on_node(svc, b2), 2);
	lt_scale(svc, 7);
	settle();
	cr_expect_eq(pending_of(svc, &err), 1);
	cr_expect_str_eq(err, "no suitable node (max replicas per node limit exceed)");
}

Test(sched_prefs, host_mode_ports_one_task_per_node_then_waits_for_a_node)
{
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1], svc[ID_LEN + 1], other[ID_LEN + 1];
	const char *err = NULL;

	lt_node(a, "a", (struct lt_node_opts){0});
	lt_node(b, "b", (struct lt_node_opts){0});
	pn_service(svc, "web", (struct pn_svc){.replicas = 2, .host_port = 8080});
	lt_start();
	settle();
	cr_expect_eq(on_node(svc, a), 1);
	cr_expect_eq(on_node(svc, b), 1);
	lt_scale(svc, 3);
	settle();
	cr_expect_eq(pending_of(svc, &err), 1);
	cr_expect_str_eq(err, "no suitable node (host-mode port already in use on 2 nodes)");
	/* Another service publishing the same port conflicts too; a different port does not. */
	pn_service(other, "api", (struct pn_svc){.replicas = 1, .host_port = 8081});
	settle();
	cr_expect_eq(pending_of(other, NULL), 0);
	lt_node(c, "c", (struct lt_node_opts){0});
	settle();
	cr_expect_eq(pending_of(svc, NULL), 0, "placed once a node without the port joins");
	cr_expect_eq(on_node(svc, c), 1);
}

Test(sched_prefs, a_waiting_task_is_placed_when_a_task_ends_and_frees_its_memory)
{
	char a[ID_LEN + 1], big[ID_LEN + 1], small[ID_LEN + 1];
	struct lt_tasks l;
	const char *err = NULL;

	lt_node(a, "a", (struct lt_node_opts){.memory = 3 * GB});
	pn_service(big, "big", (struct pn_svc){.replicas = 1, .mem = 2 * GB});
	settle();
	lt_start();
	settle();
	cr_expect_eq(on_node(big, a), 1);
	pn_service(small, "small", (struct pn_svc){.replicas = 1, .mem = 2 * GB});
	settle();
	cr_expect_eq(pending_of(small, &err), 1);
	cr_expect_str_eq(err, "no suitable node (insufficient resources on 1 node)");
	/* Scaled to 0, the big task still holds its memory until it is seen stopped. */
	lt_scale(big, 0);
	settle();
	cr_expect_eq(pending_of(small, NULL), 1);
	l = lt_tasks_of(big);
	cr_assert_eq(l.n, 1);
	lt_report(l.t[0]->meta->id, ST(SHUTDOWN), 0);
	settle();
	cr_expect_eq(pending_of(small, NULL), 0);
	cr_expect_eq(on_node(small, a), 1);
}

/* ------------------------------------------------------------------------------------------ */
/* The plan alone, at scale */

struct lt_any {
	const Shoal__Task **t;
	size_t *n;
};

static int lt_collect_any(const void *obj, void *arg)
{
	struct lt_any *a = arg;

	a->t[(*a->n)++] = obj;
	return 0;
}

Test(sched_prefs, ten_thousand_tasks_on_a_hundred_nodes_spread_within_one)
{
	char ids[100][ID_LEN + 1], svc[ID_LEN + 1];
	const char *zones[] = {"a", "b", "c"};
	const Shoal__Task **tasks;
	struct sched_plan p;
	unsigned count[100] = {0}, lo = ~0u, hi = 0;
	size_t n = 0;

	id_new(svc);
	for (int i = 0; i < 100; i++)
		pn_node(ids[i], "n", zones[i % 3], NULL);
	{
		struct orch_batch b;

		orch_batch_init(&b);
		for (size_t i = 0; i < 10000; i++) {
			Shoal__Task task = SHOAL__TASK__INIT;
			Shoal__Meta meta = SHOAL__META__INIT;
			Shoal__TaskStatus status = SHOAL__TASK_STATUS__INIT;
			char id[ID_LEN + 1];

			id_new(id);
			meta.id = id;
			task.meta = &meta;
			task.service_id = svc;
			task.spec_version = 1;
			task.slot = i + 1;
			status.state = ST(PENDING);
			task.status = &status;
			task.desired_state = ST(RUNNING);
			orch_batch_create_task(&b, &task);
			if (orch_batch_full(&b)) {
				lt_apply(&b.b);
				orch_batch_reset(&b);
			}
		}
		lt_apply(&b.b);
		orch_batch_reset(&b);
	}
	tasks = xmalloc(10000 * sizeof(*tasks));
	store_tasks_by_service(st, svc, lt_collect_any, &(struct lt_any){tasks, &n});
	cr_assert_eq(n, 10000);
	sched_plan_make(&p, st, tasks, n);
	for (size_t i = 0; i < p.n; i++) {
		cr_assert_geq(p.d[i].node, 0, "task %zu not placed: %s", i, p.d[i].err);
		count[p.d[i].node]++;
	}
	for (int i = 0; i < 100; i++) {
		lo = count[i] < lo ? count[i] : lo;
		hi = count[i] > hi ? count[i] : hi;
	}
	cr_expect_leq(hi - lo, 1, "max %u min %u", hi, lo);
	sched_plan_free(&p);
	free(tasks);
}
