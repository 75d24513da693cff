/* scheduler: filters, Docker's errors, spread, retries; and the filter functions alone. */
#include "manager/scheduler/filter.h"
#include "tests/unit/test_leader.h"

TestSuite(sched, .init = lt_setup, .fini = lt_teardown, .timeout = 30);

static unsigned on_node(const char *svc, const char *node)
{
	struct lt_tasks l = lt_tasks_of(svc);
	unsigned n = 0;

	for (size_t i = 0; i < l.n; i++)
		n += l.t[i]->desired_state <= ST(RUNNING) && !strcmp(l.t[i]->node_id, node);
	return n;
}

Test(sched, a_task_too_big_waits_with_the_reason_then_lands_on_a_big_node)
{
	char a[ID_LEN + 1], b[ID_LEN + 1], big[ID_LEN + 1], svc[ID_LEN + 1];
	const Shoal__Task *t;

	lt_node(a, "a", (struct lt_node_opts){.memory = 1 * GB});
	lt_node(b, "b", (struct lt_node_opts){.memory = 1 * GB});
	lt_service(svc, "db", (struct lt_svc_opts){.replicas = 1, .mem = 2 * GB});
	lt_start();
	settle();
	t = lt_slot_task(svc, 1);
	cr_assert_not_null(t);
	cr_expect_eq(t->status->state, ST(PENDING));
	cr_expect_str_eq(t->node_id, "");
	cr_expect_str_eq(t->status->err, "no suitable node (insufficient resources on 2 nodes)");
	/* A node with enough memory joins Down, then becomes Ready. */
	lt_node(
	    big, "big",
	    (struct lt_node_opts){.memory = 4 * GB, .state = SHOAL__NODE_STATE__NODE_STATE_DOWN});
	settle();
	t = lt_slot_task(svc, 1);
	cr_expect_eq(t->status->state, ST(PENDING));
	cr_expect_str_eq(t->status->err, "no suitable node (insufficient resources on 2 nodes; 1 "
					 "node not available for new tasks)");
	lt_node_set(big, SHOAL__NODE_STATE__NODE_STATE_READY, 0);
	settle();
	t = lt_slot_task(svc, 1);
	cr_expect_eq(t->status->state, ST(ASSIGNED));
	cr_expect_str_eq(t->node_id, big);
	cr_expect_str_eq(t->status->err, "");
}

Test(sched, reservations_add_up_on_a_node)
{
	char a[ID_LEN + 1], svc[ID_LEN + 1];
	struct lt_tasks l;
	unsigned pending = 0;

	lt_node(a, "a", (struct lt_node_opts){.memory = 3 * GB});
	lt_service(svc, "db", (struct lt_svc_opts){.replicas = 4, .mem = 1 * GB});
	lt_start();
	settle();
	cr_expect_eq(on_node(svc, a), 3);
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		pending += l.t[i]->status->state == ST(PENDING);
	cr_expect_eq(pending, 1, "3 GB fit three 1 GB tasks, not four");
}

Test(sched, drained_and_down_nodes_get_nothing)
{
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1], svc[ID_LEN + 1], svc2[ID_LEN + 1];

	lt_node(a, "a",
		(struct lt_node_opts){.availability =
					  SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN});
	lt_node(b, "b", (struct lt_node_opts){.state = SHOAL__NODE_STATE__NODE_STATE_DOWN});
	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 2});
	lt_start();
	settle();
	cr_expect_str_eq(lt_slot_task(svc, 1)->status->err,
			 "no suitable node (2 nodes not available for new tasks)");
	lt_node(c, "c", (struct lt_node_opts){0});
	settle();
	cr_expect_eq(on_node(svc, c), 2);
	lt_node_set(a, SHOAL__NODE_STATE__NODE_STATE_READY,
		    SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_PAUSE);
	lt_service(svc2, "api", (struct lt_svc_opts){.replicas = 2});
	settle();
	cr_expect_eq(on_node(svc2, c), 2, "a paused node gets nothing either");
}

Test(sched, spread_prefers_fewest_tasks_of_the_service_then_fewest_tasks)
{
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1], s1[ID_LEN + 1], s2[ID_LEN + 1];

	lt_node(a, "a", (struct lt_node_opts){0});
	lt_node(b, "b", (struct lt_node_opts){0});
	lt_service(s1, "one", (struct lt_svc_opts){.replicas = 4});
	lt_start();
	settle();
	cr_expect_eq(on_node(s1, a), 2);
	cr_expect_eq(on_node(s1, b), 2);
	lt_node(c, "c", (struct lt_node_opts){0});
	lt_service(s2, "two", (struct lt_svc_opts){.replicas = 4});
	settle();
	/* Each node gets one of "two" first; the fourth goes to c, which has fewest tasks. */
	cr_expect_eq(on_node(s2, c), 2);
	cr_expect_eq(on_node(s2, a), 1);
	cr_expect_eq(on_node(s2, b), 1);
}

Test(sched, platforms_and_constraints_filter_nodes)
{
	char x86[ID_LEN + 1], arm[ID_LEN + 1], s1[ID_LEN + 1], s2[ID_LEN + 1], s3[ID_LEN + 1];
	const Shoal__Task *t;

	lt_node(x86, "x86", (struct lt_node_opts){.label_key = "zone", .label_value = "a"});
	lt_node(arm, "arm", (struct lt_node_opts){.arch = "aarch64"});
	lt_service(s1, "amd", (struct lt_svc_opts){.replicas = 2, .platform_arch = "amd64"});
	lt_service(s2, "arm", (struct lt_svc_opts){.replicas = 2, .platform_arch = "arm64"});
	lt_service(s3, "zoned",
		   (struct lt_svc_opts){.replicas = 2, .constraint = "node.labels.zone==A"});
	lt_start();
	settle();
	cr_expect_eq(on_node(s1, x86), 2);
	cr_expect_eq(on_node(s2, arm), 2);
	cr_expect_eq(on_node(s3, x86), 2);
	lt_node_set(x86, SHOAL__NODE_STATE__NODE_STATE_READY,
		    SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN);
	/* Not settle(): the replacements wait (up to a minute) for the drained tasks to stop. */
	harness_run(&loop, 200);
	/* Moved off the drained node: nowhere else fits. */
	t = lt_slot_task(s1, 1);
	cr_assert_not_null(t);
	cr_expect_eq(t->status->state, ST(PENDING));
	cr_expect_str_eq(t->status->err, "no suitable node (1 node not available for new tasks; "
					 "unsupported platform on 1 node)");
	cr_expect_str_eq(lt_slot_task(s3, 1)->status->err,
			 "no suitable node (1 node not available for new tasks; scheduling "
			 "constraints not satisfied on 1 node)");
}

Test(sched, a_bad_constraint_is_reported_not_crashed_on)
{
	char a[ID_LEN + 1], svc[ID_LEN + 1];
	const Shoal__Task *t;

	lt_node(a, "a", (struct lt_node_opts){0});
	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 1, .constraint = "node.role"});
	lt_start();
	settle();
	t = lt_slot_task(svc, 1);
	cr_expect_eq(t->status->state, ST(PENDING));
	cr_expect_str_eq(t->status->err, "invalid placement constraint: constraint expected one "
					 "operator from ==, != (in \"node.role\")");
}

/* ------------------------------------------------------------------------------------------ */
/* The filter functions alone */

static int matches(const char *expr, const Shoal__Node *n)
{
	struct sched_constraint *c;
	size_t nc;
	char why[128];
	char *e = (char *) expr;
	int m;

	cr_assert_eq(sched_constraints_parse(&e, 1, &c, &nc, why, sizeof(why)), 0, "%s", why);
	m = sched_constraints_match(c, nc, n);
	sched_constraints_free(c, nc);
	return m;
}

Test(sched_filter, constraints_match_as_swarmkit)
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__Annotations__LabelsEntry le = SHOAL__ANNOTATIONS__LABELS_ENTRY__INIT, *lp = &le;
	Shoal__NodeDescription d = SHOAL__NODE_DESCRIPTION__INIT;
	Shoal__EngineDescription eng = SHOAL__ENGINE_DESCRIPTION__INIT;
	Shoal__EngineDescription__LabelsEntry el = SHOAL__ENGINE_DESCRIPTION__LABELS_ENTRY__INIT,
					      *elp = &el;
	Shoal__Platform pl = SHOAL__PLATFORM__INIT;
	Shoal__NodeStatus status = SHOAL__NODE_STATUS__INIT;
	struct sched_constraint *c;
	size_t nc;
	char why[128];
	char *bad[] = {"node.role", "=x==1", "node.id==", "node.id==a;b"};

	meta.id = "abc";
	n.meta = &meta;
	le.key = "zone";
	le.value = "East";
	ann.labels = &lp;
	ann.n_labels = 1;
	spec.annotations = &ann;
	n.spec = &spec;
	el.key = "ssd";
	el.value = "true";
	eng.labels = &elp;
	eng.n_labels = 1;
	d.engine = &eng;
	d.hostname = "Host1";
	pl.architecture = "x86_64";
	pl.os = "linux";
	d.platform = &pl;
	n.description = &d;
	status.addr = "10.1.2.3";
	n.status = &status;
	n.role = SHOAL__NODE_ROLE__NODE_ROLE_MANAGER;

	cr_expect(matches("node.id==abc", &n));
	cr_expect(!matches("node.id!=abc", &n));
	cr_expect(matches("node.hostname==host1", &n), "values compare case-insensitively");
	cr_expect(matches("node.role==manager", &n));
	cr_expect(!matches("node.role==worker", &n));
	cr_expect(matches("Node.Labels.zone==east", &n));
	cr_expect(!matches("node.labels.Zone==east", &n), "label names are case-sensitive");
	cr_expect(matches("node.labels.rack!=r1", &n), "a missing label is empty");
	cr_expect(!matches("node.labels.rack==r1", &n));
	cr_expect(matches("engine.labels.ssd==true", &n));
	cr_expect(matches("node.platform.os==linux", &n));
	cr_expect(matches("node.platform.arch==x86_64", &n));
	cr_expect(matches("node.ip==10.1.2.3", &n));
	cr_expect(matches("node.ip==10.1.0.0/16", &n));
	cr_expect(!matches("node.ip==10.2.0.0/16", &n));
	cr_expect(!matches("node.colour==red", &n), "unknown keys match nothing");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sched_constraints_parse(&bad[i], 1, &c, &nc, why, sizeof(why)),
			     -EINVAL, "%s", bad[i]);
}

Test(sched_filter, platforms_normalise_architectures)
{
	Shoal__Platform want = SHOAL__PLATFORM__INIT, node = SHOAL__PLATFORM__INIT;

	want.architecture = "amd64";
	want.os = "linux";
	node.architecture = "x86_64";
	node.os = "linux";
	cr_expect(sched_platform_match(&want, &node));
	node.architecture = "aarch64";
	cr_expect(!sched_platform_match(&want, &node));
	want.architecture = "arm64";
	cr_expect(sched_platform_match(&want, &node));
	want.os = "windows";
	cr_expect(!sched_platform_match(&want, &node));
	want.architecture = "";
	want.os = "";
	cr_expect(sched_platform_match(&want, &node), "empty wants anything");
	cr_expect(!sched_platform_match(&want, NULL), "a node without platform fits no list");
}

Test(sched_filter, explanations_read_like_docker)
{
	unsigned counts[SCHED_F_COUNT] = {0};
	char out[256];

	sched_explain(counts, out, sizeof(out));
	cr_expect_str_eq(out, "no suitable node");
	counts[SCHED_F_RESOURCES] = 2;
	sched_explain(counts, out, sizeof(out));
	cr_expect_str_eq(out, "no suitable node (insufficient resources on 2 nodes)");
	counts[SCHED_F_READY] = 1;
	counts[SCHED_F_PLATFORM] = 3;
	sched_explain(counts, out, sizeof(out));
	cr_expect_str_eq(out, "no suitable node (unsupported platform on 3 nodes; insufficient "
			      "resources on 2 nodes; 1 node not available for new tasks)");
	sched_explain(counts, out, 20); /* truncated, still terminated */
	cr_expect_eq(strlen(out), 19);
}
