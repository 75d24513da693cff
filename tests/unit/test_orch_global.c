/* Global services, jobs and node lifecycle in the orchestrator (with the reaper, allocator and
 * scheduler), on a real store and loop with the fake proposer of test_leader.h. */
#include "tests/unit/test_leader.h"

#define AV(x) SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_##x
#define NS(x) SHOAL__NODE_STATE__NODE_STATE_##x

static char n1[ID_LEN + 1], n2[ID_LEN + 1];

static void setup(void)
{
	lt_setup();
	lt_node(n1, "host1", (struct lt_node_opts){.label_key = "zone", .label_value = "a"});
	lt_node(n2, "host2", (struct lt_node_opts){.label_key = "zone", .label_value = "a"});
}

TestSuite(orch_global, .init = setup, .fini = lt_teardown, .timeout = 30);

/* ------------------------------------------------------------------------------------------ */
/* Builders */

struct svc_opts {
	Shoal__ServiceSpec__ModeCase mode;
	uint64_t replicas;	    /* replicated */
	uint64_t max_concurrent;    /* replicated job */
	uint64_t total_completions; /* replicated job */
	const char *constraint;
	int restart; /* 0 = no policy (any, 5 s); else condition + 1 */
	int64_t delay_ms;
};

static void service(char id[ID_LEN + 1], const char *name, struct svc_opts o)
{
	Shoal__Service s = SHOAL__SERVICE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__ServiceSpec spec = SHOAL__SERVICE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskSpec task = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__ReplicatedService rep = SHOAL__REPLICATED_SERVICE__INIT;
	Shoal__GlobalService glob = SHOAL__GLOBAL_SERVICE__INIT;
	Shoal__ReplicatedJob rj = SHOAL__REPLICATED_JOB__INIT;
	Shoal__GlobalJob gj = SHOAL__GLOBAL_JOB__INIT;
	Shoal__JobStatus js = SHOAL__JOB_STATUS__INIT;
	Shoal__Version iter = SHOAL__VERSION__INIT;
	Shoal__RestartPolicy rp = SHOAL__RESTART_POLICY__INIT;
	Shoal__Placement pl = SHOAL__PLACEMENT__INIT;
	char *cons = (char *) o.constraint;

	id_new(id);
	meta.id = id;
	s.meta = &meta;
	ann.name = (char *) name;
	spec.annotations = &ann;
	cs.image = "busybox";
	task.container = &cs;
	if (o.restart) {
		rp.condition = (Shoal__RestartPolicy__Condition) (o.restart - 1);
		rp.opt_delay_case = SHOAL__RESTART_POLICY__OPT_DELAY_DELAY;
		rp.delay = o.delay_ms * 1000000LL;
		task.restart = &rp;
	}
	if (o.constraint) {
		pl.constraints = &cons;
		pl.n_constraints = 1;
		task.placement = &pl;
	}
	spec.task = &task;
	spec.mode_case = o.mode;
	switch (o.mode) {
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED:
		rep.replicas = o.replicas;
		spec.replicated = &rep;
		break;
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL:
		spec.global = &glob;
		break;
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB:
		rj.max_concurrent = o.max_concurrent;
		rj.total_completions = o.total_completions;
		spec.replicated_job = &rj;
		break;
	default:
		spec.global_job = &gj;
		break;
	}
	if (o.mode == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB ||
	    o.mode == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB) {
		js.job_iteration = &iter;
		s.job_status = &js;
	}
	s.spec = &spec;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s.base);
}

static void node_label(const char *id, const char *value)
{
	Shoal__Node *n = store_dup_node(store_get_node(st, id));

	cr_assert_eq(n->spec->annotations->n_labels, 1);
	free(n->spec->annotations->labels[0]->value);
	n->spec->annotations->labels[0]->value = xstrdup(value);
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_NODE, &n->base);
	store_node_free(n);
}

static void node_rm(const char *id)
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;

	meta.id = (char *) id;
	n.meta = &meta;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__REMOVE, SHOAL__STORE_ACTION__TARGET_NODE, &n.base);
}

/* Tasks of the service meant to run on `node`. */
static unsigned runnable_on(const char *svc, const char *node)
{
	struct lt_tasks l = lt_tasks_of(svc);
	unsigned n = 0;

	for (size_t i = 0; i < l.n; i++)
		n += l.t[i]->desired_state <= ST(RUNNING) && !strcmp(l.t[i]->node_id, node);
	return n;
}

/* The id of the task of the service meant to run on `node` (asserts there is one). */
static void task_on(const char *svc, const char *node, char out[ID_LEN + 1])
{
	struct lt_tasks l = lt_tasks_of(svc);

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING) && !strcmp(l.t[i]->node_id, node)) {
			snprintf(out, ID_LEN + 1, "%s", l.t[i]->meta->id);
			return;
		}
	cr_assert_fail("no runnable task on node %s", node);
}

/* Counts tasks of the service by observed state COMPLETE, and by desired <= RUNNING. */
static void job_counts(const char *svc, unsigned *complete, unsigned *runnable)
{
	struct lt_tasks l = lt_tasks_of(svc);

	*complete = *runnable = 0;
	for (size_t i = 0; i < l.n; i++) {
		*complete += l.t[i]->status->state == ST(COMPLETE);
		*runnable += l.t[i]->desired_state <= ST(RUNNING);
	}
}

/* Reports every assigned, runnable task as `state`; returns how many. */
static unsigned report_all(const char *svc, Shoal__TaskState state, int code)
{
	struct lt_tasks l = lt_tasks_of(svc);
	char ids[LT_MAX_TASKS][ID_LEN + 1];
	unsigned n = 0;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING) && l.t[i]->status->state >= ST(ASSIGNED) &&
		    l.t[i]->status->state <= ST(RUNNING))
			snprintf(ids[n++], ID_LEN + 1, "%s", l.t[i]->meta->id);
	for (unsigned i = 0; i < n; i++)
		lt_report(ids[i], state, code);
	return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Global services */

Test(orch_global, one_pinned_task_per_eligible_node_follows_join_drain_and_removal)
{
	char svc[ID_LEN + 1], n3[ID_LEN + 1], n4[ID_LEN + 1], on1[ID_LEN + 1], on2[ID_LEN + 1];
	struct lt_tasks l;
	char name[256];

	lt_node(n3, "host3", (struct lt_node_opts){.availability = AV(DRAIN)});
	service(svc, "mon", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL});
	lt_start();
	settle();
	l = lt_tasks_of(svc);
	cr_assert_eq(l.n, 2, "a task on each active node, none on the drained one");
	cr_expect_eq(runnable_on(svc, n1), 1);
	cr_expect_eq(runnable_on(svc, n2), 1);
	for (size_t i = 0; i < l.n; i++) {
		cr_expect_eq(l.t[i]->slot, 0);
		cr_expect_eq(l.t[i]->status->state, ST(ASSIGNED));
		snprintf(name, sizeof(name), "mon.%s.%s", l.t[i]->node_id, l.t[i]->meta->id);
		cr_expect_str_eq(l.t[i]->annotations->name, name);
	}
	lt_run_all(svc);
	settle();

	/* A node joins. */
	lt_node(n4, "host4", (struct lt_node_opts){0});
	settle();
	cr_expect_eq(runnable_on(svc, n4), 1, "the new node gets a task");
	cr_expect_eq(lt_tasks_of(svc).n, 3);

	/* Drain: its task is shut down, nothing replaces it. */
	task_on(svc, n1, on1);
	lt_node_set(n1, NS(READY), AV(DRAIN));
	settle();
	cr_expect_eq(store_get_task(st, on1)->desired_state, ST(SHUTDOWN));
	cr_expect_eq(runnable_on(svc, n1), 0);
	cr_expect_eq(lt_tasks_of(svc).n, 3, "no replacement anywhere");

	/* Active again: a new task. */
	lt_node_set(n1, NS(READY), AV(ACTIVE));
	settle();
	cr_expect_eq(runnable_on(svc, n1), 1);

	/* Removal: desired REMOVE, deleted by the reaper (no agent will report it). */
	task_on(svc, n2, on2);
	node_rm(n2);
	settle();
	cr_expect_null(store_get_task(st, on2), "the removed node's task is deleted");
	cr_expect_eq(runnable_on(svc, n1) + runnable_on(svc, n4), 2);
}

Test(orch_global, label_changes_follow_the_constraint)
{
	char svc[ID_LEN + 1], on1[ID_LEN + 1];

	node_label(n2, "b");
	service(svc, "mon",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL,
				  .constraint = "node.labels.zone==a"});
	lt_start();
	settle();
	cr_expect_eq(runnable_on(svc, n1), 1);
	cr_expect_eq(runnable_on(svc, n2), 0, "zone b does not fit");
	lt_run_all(svc);
	settle();

	node_label(n2, "a");
	settle();
	cr_expect_eq(runnable_on(svc, n2), 1, "relabelled into the constraint");

	task_on(svc, n1, on1);
	node_label(n1, "c");
	settle();
	cr_expect_eq(store_get_task(st, on1)->desired_state, ST(SHUTDOWN),
		     "relabelled out of the constraint: shut down");
	cr_expect_eq(runnable_on(svc, n1), 0);
}

Test(orch_global, a_paused_node_keeps_its_task_but_gets_no_new_one)
{
	char svc[ID_LEN + 1], other[ID_LEN + 1];

	service(svc, "mon", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	lt_node_set(n2, NS(READY), AV(PAUSE));
	settle();
	cr_expect_eq(runnable_on(svc, n2), 1, "kept on pause");
	service(other, "late", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL});
	settle();
	cr_expect_eq(runnable_on(other, n1), 1);
	cr_expect_eq(runnable_on(other, n2), 0, "nothing new on a paused node");
}

Test(orch_global, down_node_task_shut_down_then_back_gets_a_new_one)
{
	char svc[ID_LEN + 1], on2[ID_LEN + 1];

	service(svc, "mon", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	task_on(svc, n2, on2);
	lt_node_set(n2, NS(DOWN), AV(ACTIVE));
	settle();
	cr_expect_eq(store_get_task(st, on2)->desired_state, ST(SHUTDOWN));
	cr_expect_eq(runnable_on(svc, n2), 0, "nothing placed on a down node");
	lt_node_set(n2, NS(READY), AV(ACTIVE));
	settle();
	cr_expect_eq(store_get_task(st, on2)->desired_state, ST(SHUTDOWN),
		     "the stale task stays shut down: its agent stops it");
	cr_expect_eq(runnable_on(svc, n2), 1, "a new task for the returning node");
}

Test(orch_global, a_crashed_global_task_restarts_on_its_node_after_the_delay)
{
	char svc[ID_LEN + 1], on1[ID_LEN + 1], now1[ID_LEN + 1];

	service(svc, "mon",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL,
				  .restart = 1 + SHOAL__RESTART_POLICY__CONDITION__ANY,
				  .delay_ms = 150});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	task_on(svc, n1, on1);
	lt_report(on1, ST(FAILED), 1);
	harness_run(&loop, 50);
	task_on(svc, n1, now1);
	cr_expect_str_neq(now1, on1);
	cr_expect_eq(store_get_task(st, now1)->desired_state, ST(READY), "held for the delay");
	harness_run(&loop, 400);
	cr_expect_eq(store_get_task(st, now1)->desired_state, ST(RUNNING));
	cr_expect_str_eq(store_get_task(st, now1)->node_id, n1, "restarted on the same node");
}

/* ------------------------------------------------------------------------------------------ */
/* Node lifecycle for replicated services */

Test(orch_global, down_node_tasks_move_at_once_while_a_crash_honours_the_delay)
{
	char svc[ID_LEN + 1], on1[ID_LEN + 1], on2[ID_LEN + 1], now[ID_LEN + 1];

	/* No restart policy: Docker's default 5 s delay. */
	service(svc, "web",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_REPLICATED, .replicas = 2});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	task_on(svc, n1, on1);
	task_on(svc, n2, on2);
	lt_node_set(n1, NS(DOWN), AV(ACTIVE));
	harness_run(&loop, 100);
	cr_expect_eq(store_get_task(st, on1)->desired_state, ST(SHUTDOWN));
	cr_expect_eq(runnable_on(svc, n2), 2, "the down node's task runs elsewhere at once");
	cr_expect_eq(lt_slot_task(svc, store_get_task(st, on1)->slot)->desired_state, ST(RUNNING),
		     "no restart delay for a lost node");

	/* A crash on a live node still waits the 5 s. */
	lt_report(on2, ST(FAILED), 1);
	harness_run(&loop, 100);
	snprintf(now, sizeof(now), "%s",
		 lt_slot_task(svc, store_get_task(st, on2)->slot)->meta->id);
	cr_expect_str_neq(now, on2);
	cr_expect_eq(store_get_task(st, now)->desired_state, ST(READY), "crash loop delay kept");
}

Test(orch_global, constraint_enforcement_moves_replicated_tasks)
{
	char svc[ID_LEN + 1], on1[ID_LEN + 1];

	service(svc, "web",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_REPLICATED,
				  .replicas = 2,
				  .constraint = "node.labels.zone==a"});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	task_on(svc, n1, on1);
	node_label(n1, "b");
	harness_run(&loop, 100);
	cr_expect_eq(store_get_task(st, on1)->desired_state, ST(SHUTDOWN));
	cr_expect_eq(runnable_on(svc, n2), 2, "replaced where it fits, without the delay");
	cr_expect_eq(runnable_on(svc, n1), 0);
}

Test(orch_global, drain_moves_replicated_tasks_and_pause_takes_no_new_ones)
{
	char svc[ID_LEN + 1];

	service(svc, "web",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_REPLICATED, .replicas = 4});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	lt_node_set(n2, NS(READY), AV(PAUSE));
	settle();
	cr_expect_eq(runnable_on(svc, n2), 2, "pause keeps what runs");
	lt_node_set(n1, NS(READY), AV(DRAIN));
	harness_run(&loop, 100);
	cr_expect_eq(runnable_on(svc, n1), 0);
	/* The replacements start once the drained node's agent stopped the old tasks. */
	struct lt_tasks l = lt_tasks_of(svc);
	char old[4][ID_LEN + 1];
	unsigned n = 0;
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.t[i]->node_id, n1)) {
			cr_expect_eq(l.t[i]->desired_state, ST(SHUTDOWN));
			snprintf(old[n++], ID_LEN + 1, "%s", l.t[i]->meta->id);
		}
	cr_assert_eq(n, 2);
	for (unsigned i = 0; i < n; i++)
		lt_report(old[i], ST(SHUTDOWN), 0);
	settle();
	cr_expect_eq(runnable_on(svc, n2), 2, "the paused node takes nothing new");
	cr_expect_eq(lt_runnable(svc, NULL, 0), 4, "the moved ones wait, unscheduled");
	lt_node_set(n2, NS(READY), AV(ACTIVE));
	settle();
	cr_expect_eq(runnable_on(svc, n2), 4);
}

/* ------------------------------------------------------------------------------------------ */
/* Jobs */

Test(orch_global, replicated_job_runs_max_concurrent_until_total_completions)
{
	char svc[ID_LEN + 1];
	unsigned complete, runnable;
	Shoal__Service *s;
	Shoal__ServiceStatus status = SHOAL__SERVICE_STATUS__INIT;

	service(svc, "batch",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB,
				  .max_concurrent = 2,
				  .total_completions = 5,
				  .restart = 1 + SHOAL__RESTART_POLICY__CONDITION__ON_FAILURE,
				  .delay_ms = 0});
	lt_start();
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(runnable, 2, "max_concurrent at once");
	report_all(svc, ST(RUNNING), 0);
	settle();
	/* One fails: restarted in its slot, still two at a time. */
	cr_assert_not_null(lt_slot_task(svc, 1));
	lt_report(lt_slot_task(svc, 1)->meta->id, ST(FAILED), 3);
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(runnable, 2);
	cr_expect_eq(complete, 0);
	for (int round = 0; round < 10; round++) {
		report_all(svc, ST(RUNNING), 0);
		settle();
		job_counts(svc, &complete, &runnable);
		cr_expect_leq(runnable, 2, "never more than max_concurrent");
		if (!runnable)
			break;
		report_all(svc, ST(COMPLETE), 0);
		settle();
	}
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(complete, 5, "exactly total_completions, got %u", complete);
	cr_expect_eq(runnable, 0, "and it stops");
	struct lt_tasks l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->status->state == ST(COMPLETE))
			cr_expect_eq(l.t[i]->desired_state, ST(COMPLETE));
	ctl_service_status(st, store_get_service(st, svc), &status);
	cr_expect_eq(status.completed_tasks, 5);
	cr_expect_eq(status.desired_tasks, 0);

	/* A new iteration (the control API bumps it on a spec change) runs the job again. */
	s = store_dup_service(store_get_service(st, svc));
	s->job_status->job_iteration->index = 42;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(runnable, 2, "rerun: two at a time again");
	ctl_service_status(st, store_get_service(st, svc), &status);
	cr_expect_eq(status.completed_tasks, 0, "completions of the old iteration do not count");
}

Test(orch_global, global_job_runs_once_per_node_to_completion)
{
	char svc[ID_LEN + 1], n3[ID_LEN + 1];
	unsigned complete, runnable;

	service(svc, "once", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB});
	lt_start();
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(runnable, 2);
	report_all(svc, ST(RUNNING), 0);
	settle();
	cr_expect_eq(report_all(svc, ST(COMPLETE), 0), 2);
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(complete, 2);
	cr_expect_eq(runnable, 0, "done on every node");
	cr_expect_eq(lt_tasks_of(svc).n, 2, "nothing restarted");
	lt_node(n3, "host3", (struct lt_node_opts){0});
	settle();
	cr_expect_eq(runnable_on(svc, n3), 1, "a new node runs it too");
	cr_expect_eq(lt_tasks_of(svc).n, 3);
}

Test(orch_global, a_job_with_failures_and_no_restart_ends)
{
	char svc[ID_LEN + 1];
	unsigned complete, runnable;

	service(svc, "flaky",
		(struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB,
				  .max_concurrent = 3,
				  .total_completions = 3,
				  .restart = 1 + SHOAL__RESTART_POLICY__CONDITION__NONE});
	lt_start();
	settle();
	report_all(svc, ST(RUNNING), 0);
	settle();
	report_all(svc, ST(FAILED), 1);
	settle();
	job_counts(svc, &complete, &runnable);
	cr_expect_eq(runnable, 0, "failed slots are spent, nothing loops");
	cr_expect_eq(lt_tasks_of(svc).n, 3);
}

Test(orch_global, a_spec_change_replaces_the_task_on_every_node)
{
	char svc[ID_LEN + 1], old1[ID_LEN + 1], now1[ID_LEN + 1];
	Shoal__Service *s;

	service(svc, "mon", (struct svc_opts){.mode = SHOAL__SERVICE_SPEC__MODE_GLOBAL});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	task_on(svc, n1, old1);

	/* What the control API does on update: new spec, new spec_version. */
	s = store_dup_service(store_get_service(st, svc));
	free(s->spec->task->container->image);
	s->spec->task->container->image = strdup("busybox:2");
	s->spec_version = s->meta->version + 1000;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
	settle();
	cr_expect_eq(store_get_task(st, old1)->desired_state, ST(SHUTDOWN), "old task shut down");
	cr_expect_eq(runnable_on(svc, n1), 1);
	cr_expect_eq(runnable_on(svc, n2), 1);
	task_on(svc, n1, now1);
	cr_expect_str_neq(now1, old1);
	cr_expect_str_eq(store_get_task(st, now1)->spec->container->image, "busybox:2");
}
