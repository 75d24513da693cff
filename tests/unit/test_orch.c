/* orchestrator, restart supervisor, reaper, allocator and scheduler together on a real store
 * and loop, with a proposer that applies batches on the next loop iteration. */
#include "tests/unit/test_leader.h"

static char n1[ID_LEN + 1], n2[ID_LEN + 1];

static void setup(void)
{
	lt_setup();
	lt_node(n1, "host1", (struct lt_node_opts){0});
	lt_node(n2, "host2", (struct lt_node_opts){0});
}

TestSuite(orch, .init = setup, .fini = lt_teardown, .timeout = 30);

Test(orch, replicas_3_make_three_slots_allocated_and_spread_2_1)
{
	char svc[ID_LEN + 1];
	unsigned slots[8];
	struct lt_tasks l;
	unsigned on1 = 0, on2 = 0;

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 3});
	lt_start();
	settle();
	cr_assert_eq(lt_runnable(svc, slots, 8), 3);
	for (int s = 1; s <= 3; s++)
		cr_expect_eq(slots[s], 1, "slot %d has %u tasks", s, slots[s]);
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++) {
		const Shoal__Task *t = l.t[i];
		char name[128];

		cr_expect_eq(t->status->state, ST(ASSIGNED));
		cr_expect_str_eq(t->status->message, "scheduled");
		cr_expect_eq(t->desired_state, ST(RUNNING));
		snprintf(name, sizeof(name), "web.%llu.%s", (unsigned long long) t->slot,
			 t->meta->id);
		cr_expect_str_eq(t->annotations->name, name);
		cr_expect_str_eq(t->service_annotations->name, "web");
		cr_expect_str_eq(t->spec->container->image, "busybox");
		cr_expect_neq(t->spec_version, 0);
		on1 += !strcmp(t->node_id, n1);
		on2 += !strcmp(t->node_id, n2);
	}
	cr_expect((on1 == 2 && on2 == 1) || (on1 == 1 && on2 == 2), "spread %u/%u", on1, on2);
}

Test(orch, scale_up_to_5_then_down_to_1_removes_the_highest_slots)
{
	char svc[ID_LEN + 1];
	unsigned slots[8];
	struct lt_tasks l;

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 3});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	lt_scale(svc, 5);
	settle();
	cr_assert_eq(lt_runnable(svc, slots, 8), 5);
	for (int s = 1; s <= 5; s++)
		cr_expect_eq(slots[s], 1, "slot %d", s);
	lt_run_all(svc);
	settle();
	lt_scale(svc, 1);
	settle();
	cr_assert_eq(lt_runnable(svc, slots, 8), 1);
	cr_expect_eq(slots[1], 1, "slot 1 is kept");
	/* The removed tasks stay until their agents report them stopped. */
	l = lt_tasks_of(svc);
	cr_expect_eq(l.n, 5);
	char ids[8][ID_LEN + 1];
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state == ST(REMOVE))
			snprintf(ids[n++], ID_LEN + 1, "%s", l.t[i]->meta->id);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		lt_report(ids[i], ST(SHUTDOWN), 0);
	settle();
	cr_expect_eq(lt_tasks_of(svc).n, 1, "removed tasks deleted once stopped");
}

Test(orch, service_delete_removes_then_deletes_its_tasks)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;
	char ids[4][ID_LEN + 1];

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 3});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	lt_service_rm(svc);
	settle();
	l = lt_tasks_of(svc);
	cr_assert_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++) {
		cr_expect_eq(l.t[i]->desired_state, ST(REMOVE));
		snprintf(ids[i], ID_LEN + 1, "%s", l.t[i]->meta->id);
	}
	lt_report(ids[0], ST(SHUTDOWN), 0);
	settle();
	cr_expect_eq(lt_tasks_of(svc).n, 2);
	lt_report(ids[1], ST(SHUTDOWN), 0);
	lt_report(ids[2], ST(FAILED), 137);
	settle();
	cr_expect_eq(store_count(st, STORE_TASK), 0);
}

/* Fails the runnable task of slot 1; returns its id in `old`. */
static void fail_slot1(const char *svc, Shoal__TaskState how, int code, char old[ID_LEN + 1])
{
	const Shoal__Task *t = lt_slot_task(svc, 1);

	cr_assert_not_null(t);
	snprintf(old, ID_LEN + 1, "%s", t->meta->id);
	lt_report(old, how, code);
}

Test(orch, failed_task_is_replaced_after_the_restart_delay)
{
	char svc[ID_LEN + 1], old[ID_LEN + 1];
	const Shoal__Task *t;

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 1, .restart = 3, .delay_ms = 150});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	fail_slot1(svc, ST(FAILED), 1, old);
	harness_run(&loop, 50);
	cr_expect_eq(store_get_task(st, old)->desired_state, ST(SHUTDOWN));
	t = lt_slot_task(svc, 1);
	cr_assert_not_null(t, "a replacement is created at once");
	cr_expect_str_neq(t->meta->id, old);
	cr_expect_eq(t->desired_state, ST(READY), "held during the delay");
	cr_expect_eq(t->status->state, ST(ASSIGNED), "but allocated and scheduled already");
	settle(); /* the delay passes */
	t = lt_slot_task(svc, 1);
	cr_expect_eq(t->desired_state, ST(RUNNING));
	cr_expect_eq(lt_tasks_of(svc).n, 2, "the old task is kept as history");
}

Test(orch, restart_condition_none_does_not_replace)
{
	char svc[ID_LEN + 1], old[ID_LEN + 1];

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 1, .restart = 1, .delay_ms = 0});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	fail_slot1(svc, ST(FAILED), 1, old);
	settle();
	cr_expect_eq(store_get_task(st, old)->desired_state, ST(SHUTDOWN));
	cr_expect_eq(lt_runnable(svc, NULL, 0), 0);
	cr_expect_eq(lt_tasks_of(svc).n, 1);
}

Test(orch, on_failure_restarts_failures_but_not_completions)
{
	char svc[ID_LEN + 1], old[ID_LEN + 1];

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 1, .restart = 2, .delay_ms = 0});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	fail_slot1(svc, ST(FAILED), 2, old);
	settle();
	cr_expect_eq(lt_runnable(svc, NULL, 0), 1, "a failure is restarted");
	lt_run_all(svc);
	settle();
	fail_slot1(svc, ST(COMPLETE), 0, old);
	settle();
	cr_expect_eq(lt_runnable(svc, NULL, 0), 0, "a completion is not");
	cr_expect_eq(lt_tasks_of(svc).n, 2);
}

Test(orch, max_attempts_are_honoured)
{
	char svc[ID_LEN + 1], old[ID_LEN + 1];

	lt_service(
	    svc, "web",
	    (struct lt_svc_opts){.replicas = 1, .restart = 3, .delay_ms = 0, .max_attempts = 2});
	lt_start();
	settle();
	for (int i = 0; i < 2; i++) {
		lt_run_all(svc);
		settle();
		fail_slot1(svc, ST(FAILED), 1, old);
		settle();
		cr_expect_eq(lt_runnable(svc, NULL, 0), 1, "restart %d", i + 1);
	}
	lt_run_all(svc);
	settle();
	fail_slot1(svc, ST(FAILED), 1, old);
	settle();
	cr_expect_eq(lt_runnable(svc, NULL, 0), 0, "no third restart");
	cr_expect_eq(lt_tasks_of(svc).n, 3);
}

Test(orch, node_down_restarts_its_tasks_elsewhere)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 2, .restart = 3, .delay_ms = 0});
	lt_start();
	settle();
	lt_run_all(svc);
	settle();
	lt_node_set(n1, SHOAL__NODE_STATE__NODE_STATE_DOWN, 0);
	settle();
	l = lt_tasks_of(svc);
	cr_expect_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING))
			cr_expect_str_eq(l.t[i]->node_id, n2);
	cr_expect_eq(lt_runnable(svc, NULL, 0), 2);
}

Test(orch, reaper_keeps_the_history_limit_per_slot)
{
	char svc[ID_LEN + 1], old[ID_LEN + 1];
	Shoal__Cluster *cl = store_dup_cluster(store_get_cluster(st));

	cl->spec->orchestration->task_history_retention_limit = 3;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		     &cl->base);
	store_cluster_free(cl);
	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 2, .restart = 3, .delay_ms = 0});
	lt_start();
	settle();
	for (int i = 0; i < 6; i++) {
		lt_run_all(svc);
		settle();
		fail_slot1(svc, ST(FAILED), 1, old);
		settle();
	}
	struct lt_tasks l = lt_tasks_of(svc);
	unsigned in1 = 0, in2 = 0;
	for (size_t i = 0; i < l.n; i++) {
		in1 += l.t[i]->slot == 1;
		in2 += l.t[i]->slot == 2;
	}
	cr_expect_eq(in1, 3, "slot 1 keeps 3 tasks, has %u", in1);
	cr_expect_eq(in2, 1);
	cr_expect_not_null(store_get_task(st, old), "the latest failure is kept");
	cr_expect_not_null(lt_slot_task(svc, 1));
}

Test(orch, thirty_replicas_take_few_proposals)
{
	char svc[ID_LEN + 1];
	unsigned slots[40];

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 30});
	lt_start();
	settle();
	cr_assert_eq(lt_runnable(svc, slots, 40), 30);
	for (int s = 1; s <= 30; s++)
		cr_expect_eq(slots[s], 1);
	cr_expect_eq(orch.pump.proposals, 1, "orchestrator proposals %llu",
		     (unsigned long long) orch.pump.proposals);
	cr_expect_leq(alloc_.unit.pump.proposals, 2);
	cr_expect_leq(sched_.pump.proposals, 2);
	cr_expect_leq(proposals, 5);
}

/* A writer that changes the first task of the batch just before the batch applies. */
static int conflicts;
static void bump_first_task(const Shoal__StoreActionBatch *b)
{
	if (!conflicts || b->actions[0]->target_case != SHOAL__STORE_ACTION__TARGET_TASK ||
	    b->actions[0]->kind != SHOAL__STORE_ACTION__KIND__UPDATE)
		return;
	conflicts--;
	const Shoal__Task *t = store_get_task(st, b->actions[0]->task->meta->id);
	Shoal__Task *c = store_dup_task(t);
	c->status->timestamp++;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_TASK, &c->base);
	store_task_free(c);
}

Test(orch, a_version_conflict_is_retried_on_the_new_state)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;

	conflicts = 2; /* the allocator's first batch, then the scheduler's */
	before_apply = bump_first_task;
	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 4});
	lt_start();
	settle();
	cr_expect_eq(conflicts, 0);
	l = lt_tasks_of(svc);
	cr_assert_eq(l.n, 4);
	for (size_t i = 0; i < l.n; i++)
		cr_expect_eq(l.t[i]->status->state, ST(ASSIGNED));
	cr_expect_geq(alloc_.unit.pump.failures + sched_.pump.failures, 1);
}

Test(orch, a_new_leader_repairs_half_done_work)
{
	char svc[ID_LEN + 1], gone[ID_LEN + 1];
	struct lt_tasks l;
	char dead[ID_LEN + 1], removed[ID_LEN + 1], orphan[ID_LEN + 1];

	lt_service(svc, "web", (struct lt_svc_opts){.replicas = 3, .restart = 3, .delay_ms = 0});
	lt_service(gone, "gone", (struct lt_svc_opts){.replicas = 1});
	lt_start();
	settle();
	lt_run_all(svc);
	lt_run_all(gone);
	settle();
	lt_stop(); /* leadership lost: nothing acts now */
	/* Meanwhile: slot 1 dies, slot 2's task is scaled away but still stopping, service
	 * "gone" is deleted. */
	snprintf(dead, sizeof(dead), "%s", lt_slot_task(svc, 1)->meta->id);
	lt_report(dead, ST(FAILED), 1);
	Shoal__Task *t = store_dup_task(lt_slot_task(svc, 2));
	snprintf(removed, sizeof(removed), "%s", t->meta->id);
	t->desired_state = ST(REMOVE);
	t->status->state = ST(SHUTDOWN);
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_TASK, &t->base);
	store_task_free(t);
	snprintf(orphan, sizeof(orphan), "%s", lt_slot_task(gone, 1)->meta->id);
	lt_service_rm(gone);
	harness_run(&loop, 50);
	cr_assert_eq(lt_runnable(svc, NULL, 0), 2, "nobody repaired it yet");
	lt_start(); /* a new leader */
	settle();
	cr_expect_eq(lt_runnable(svc, NULL, 0), 3);
	cr_expect_not_null(lt_slot_task(svc, 1));
	cr_expect_not_null(lt_slot_task(svc, 2));
	cr_expect_not_null(lt_slot_task(svc, 3));
	cr_expect_eq(store_get_task(st, dead)->desired_state, ST(SHUTDOWN));
	cr_expect_null(store_get_task(st, removed), "stopped REMOVE task deleted");
	cr_expect_eq(store_get_task(st, orphan)->desired_state, ST(REMOVE));
	lt_report(orphan, ST(SHUTDOWN), 0);
	settle();
	cr_expect_null(store_get_task(st, orphan));
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING))
			cr_expect_geq(l.t[i]->status->state, ST(ASSIGNED));
}
