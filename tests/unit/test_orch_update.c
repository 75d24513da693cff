/* updater: rolling updates and rollbacks on a real store and loop with the fake proposer, the
 * orchestrator, allocator and scheduler around it, and a simulated agent. */
#include "tests/unit/test_leader.h"

#define US(x) SHOAL__UPDATE_STATUS__STATE__##x
#define MS    1000000LL

static char n1[ID_LEN + 1], n2[ID_LEN + 1];
static unsigned fail_v2;      /* see agent_step */
static unsigned max_inflight; /* most new tasks seen starting at once */

static void setup(void)
{
	lt_setup();
	fail_v2 = 0;
	lt_node(n1, "host1", (struct lt_node_opts){0});
	lt_node(n2, "host2", (struct lt_node_opts){0});
}

/* Runs the loop a little: the components may hold timers for much later (a stop-first
 * replacement waits up to a minute for the old task), so the loop never goes idle. */
static void step(void)
{
	harness_run(&loop, 25);
}

TestSuite(orch_update, .init = setup, .fini = lt_teardown, .timeout = 60);

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

struct ucfg {
	uint64_t parallelism;
	int64_t delay_ms, monitor_ms;
	Shoal__UpdateConfig__FailureAction action;
	float ratio;
	Shoal__UpdateConfig__Order order;
};

static Shoal__UpdateConfig *mk_cfg(struct ucfg c)
{
	Shoal__UpdateConfig *u = malloc(sizeof(*u));

	shoal__update_config__init(u);
	u->parallelism = c.parallelism;
	u->delay = c.delay_ms * MS;
	u->monitor = (c.monitor_ms ? c.monitor_ms : 50) * MS;
	u->failure_action = c.action;
	u->max_failure_ratio = c.ratio;
	u->order = c.order;
	return u;
}

/* A service with `replicas` tasks all running image "v1", restart any without delay. */
static void running_service(char id[ID_LEN + 1], uint64_t replicas, struct ucfg upd)
{
	Shoal__Service *s;

	lt_service(id, "web", (struct lt_svc_opts){.replicas = replicas, .restart = 3});
	s = store_dup_service(store_get_service(st, id));
	s->spec->update = mk_cfg(upd);
	s->spec->rollback = mk_cfg((struct ucfg){.parallelism = 0, .monitor_ms = 50});
	s->spec_version = s->meta->version;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
	lt_start();
	step();
	lt_run_all(id);
	step();
}

/* What the control API does on a spec change (ctl_service_update): the old spec becomes
 * previous_spec, the update status is cleared. `image` NULL keeps it; `force` bumps
 * force_update. */
static void update_spec(const char *id, const char *image, int force, uint64_t replicas)
{
	Shoal__Service *s = store_dup_service(store_get_service(st, id));

	if (s->previous_spec)
		shoal__service_spec__free_unpacked(s->previous_spec, NULL);
	s->previous_spec = store_dup(&s->spec->base);
	s->previous_spec_version = s->spec_version;
	if (image) {
		free(s->spec->task->container->image);
		s->spec->task->container->image = strdup(image);
	}
	if (force)
		s->spec->task->force_update++;
	if (replicas)
		s->spec->replicated->replicas = replicas;
	s->spec_version = s->meta->version;
	if (s->update_status)
		shoal__update_status__free_unpacked(s->update_status, NULL);
	s->update_status = NULL;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
}

static const char *image_of(const Shoal__Task *t)
{
	return t->spec->container->image;
}

/* The simulated agent, one round: assigned tasks meant to run start (tasks of image "bad"
 * fail, as does the first task of image "v2" in the slots of the bits of `fail_v2`); tasks
 * told to stop stop. Returns the number of reports. */

static int agent_step(const char *svc)
{
	struct lt_tasks l = lt_tasks_of(svc);
	char ids[LT_MAX_TASKS][ID_LEN + 1];
	Shoal__TaskState to[LT_MAX_TASKS];
	size_t n = 0;
	unsigned inflight = 0;

	for (size_t i = 0; i < l.n; i++) {
		const Shoal__Task *t = l.t[i];
		Shoal__TaskState s = t->status->state;

		if (t->desired_state <= ST(RUNNING) && s < ST(RUNNING) &&
		    strcmp(image_of(t), "v1") != 0 && strcmp(image_of(t), "busybox") != 0)
			inflight++;
		if (t->desired_state == ST(RUNNING) && s == ST(ASSIGNED)) {
			int v2 = strcmp(image_of(t), "v2") == 0 && t->slot < 32;
			int bad =
			    strcmp(image_of(t), "bad") == 0 || (v2 && (fail_v2 & (1u << t->slot)));

			if (v2)
				fail_v2 &= ~(1u << t->slot); /* its restart will run */

			to[n] = bad ? ST(FAILED) : ST(RUNNING);
			snprintf(ids[n++], ID_LEN + 1, "%s", t->meta->id);
		} else if (t->desired_state > ST(RUNNING) && s <= ST(RUNNING) &&
			   s >= ST(ASSIGNED)) {
			to[n] = ST(SHUTDOWN);
			snprintf(ids[n++], ID_LEN + 1, "%s", t->meta->id);
		}
	}
	if (inflight > max_inflight)
		max_inflight = inflight;
	for (size_t i = 0; i < n; i++)
		lt_report(ids[i], to[i], to[i] == ST(FAILED) ? 1 : 0);
	return (int) n;
}

static Shoal__UpdateStatus__State ustate(const char *svc)
{
	const Shoal__Service *s = store_get_service(st, svc);

	return s->update_status ? s->update_status->state : US(UNKNOWN);
}

/* Agent rounds until the update status is `want` (bounded). */
static void drive_until(const char *svc, Shoal__UpdateStatus__State want)
{
	for (int i = 0; i < 400 && ustate(svc) != want; i++) {
		agent_step(svc);
		step();
		if (ustate(svc) != want)
			harness_run(&loop, 10);
	}
	cr_assert_eq(ustate(svc), want, "update state %d, want %d", ustate(svc), want);
}

/* Running tasks (observed and desired) of the service with this image. */
static size_t running_with(const char *svc, const char *image)
{
	struct lt_tasks l = lt_tasks_of(svc);
	size_t n = 0;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state == ST(RUNNING) && l.t[i]->status->state == ST(RUNNING) &&
		    strcmp(image_of(l.t[i]), image) == 0)
			n++;
	return n;
}

static size_t runnable_with(const char *svc, const char *image)
{
	struct lt_tasks l = lt_tasks_of(svc);
	size_t n = 0;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->desired_state <= ST(RUNNING) && strcmp(image_of(l.t[i]), image) == 0)
			n++;
	return n;
}

/* ------------------------------------------------------------------------------------------ */

Test(orch_update, parallelism_2_replaces_two_at_a_time_and_completes)
{
	char svc[ID_LEN + 1];
	const Shoal__Service *s;

	running_service(svc, 6, (struct ucfg){.parallelism = 2});
	cr_assert_eq(running_with(svc, "busybox"), 6);
	max_inflight = 0;
	update_spec(svc, "v2", 0, 0);
	step();
	cr_expect_eq(ustate(svc), US(UPDATING));
	cr_expect_eq(runnable_with(svc, "v2"), 2, "first batch: 2 new tasks");
	drive_until(svc, US(COMPLETED));
	cr_expect_eq(max_inflight, 2, "at most 2 slots in flight, and 2 used");
	cr_expect_eq(running_with(svc, "v2"), 6);
	cr_expect_eq(runnable_with(svc, "busybox"), 0);
	s = store_get_service(st, svc);
	cr_expect_str_eq(s->update_status->message, "update completed");
	cr_expect_gt(s->update_status->started_at, 0);
	cr_expect_geq(s->update_status->completed_at, s->update_status->started_at);
}

Test(orch_update, delay_is_honoured_between_batches)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;
	int64_t created[8];
	size_t n = 0;

	running_service(svc, 3, (struct ucfg){.parallelism = 1, .delay_ms = 150});
	update_spec(svc, "v2", 0, 0);
	drive_until(svc, US(COMPLETED));
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(image_of(l.t[i]), "v2") == 0)
			created[n++] = l.t[i]->meta->created_at;
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (i != j) {
				int64_t d = created[i] - created[j];
				cr_expect(d >= 150 * MS || d <= -150 * MS,
					  "two updates %lld ms apart", (long long) (d / MS));
			}
}

Test(orch_update, stop_first_stops_the_old_task_before_starting_the_new)
{
	char svc[ID_LEN + 1];
	const Shoal__Task *old, *nw = NULL;
	struct lt_tasks l;
	char old_id[ID_LEN + 1];

	running_service(svc, 1, (struct ucfg){.parallelism = 1});
	old = lt_slot_task(svc, 1);
	snprintf(old_id, sizeof(old_id), "%s", old->meta->id);
	update_spec(svc, "v2", 0, 0);
	step();
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(image_of(l.t[i]), "v2") == 0)
			nw = l.t[i];
	cr_assert_not_null(nw);
	cr_expect_eq(nw->desired_state, ST(READY), "the new task waits");
	cr_expect_eq(store_get_task(st, old_id)->desired_state, ST(SHUTDOWN));
	lt_report(old_id, ST(SHUTDOWN), 0);
	step();
	cr_expect_eq(lt_slot_task(svc, 1)->desired_state, ST(RUNNING), "started once old stopped");
	drive_until(svc, US(COMPLETED));
}

Test(orch_update, start_first_starts_the_new_task_before_stopping_the_old)
{
	char svc[ID_LEN + 1];
	const Shoal__Task *nw = NULL;
	struct lt_tasks l;
	char old_id[ID_LEN + 1], new_id[ID_LEN + 1];

	running_service(
	    svc, 1,
	    (struct ucfg){.parallelism = 1, .order = SHOAL__UPDATE_CONFIG__ORDER__START_FIRST});
	snprintf(old_id, sizeof(old_id), "%s", lt_slot_task(svc, 1)->meta->id);
	update_spec(svc, "v2", 0, 0);
	step();
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(image_of(l.t[i]), "v2") == 0)
			nw = l.t[i];
	cr_assert_not_null(nw);
	snprintf(new_id, sizeof(new_id), "%s", nw->meta->id);
	cr_expect_eq(nw->desired_state, ST(RUNNING));
	cr_expect_eq(store_get_task(st, old_id)->desired_state, ST(RUNNING), "old still runs");
	lt_report(new_id, ST(RUNNING), 0);
	step();
	cr_expect_eq(store_get_task(st, old_id)->desired_state, ST(SHUTDOWN),
		     "old stopped once the new one runs");
	drive_until(svc, US(COMPLETED));
}

Test(orch_update, failure_within_monitor_pauses_with_dockers_message)
{
	char svc[ID_LEN + 1];
	const Shoal__Service *s;
	char want[256];
	struct lt_tasks l;
	const char *failed = NULL;

	running_service(svc, 3, (struct ucfg){.parallelism = 1, .monitor_ms = 1000});
	update_spec(svc, "bad", 0, 0);
	drive_until(svc, US(PAUSED));
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->status->state == ST(FAILED))
			failed = l.t[i]->meta->id;
	cr_assert_not_null(failed);
	s = store_get_service(st, svc);
	snprintf(want, sizeof(want), "update paused due to failure or early termination of task %s",
		 failed);
	cr_expect_str_eq(s->update_status->message, want);
	cr_expect_eq(running_with(svc, "busybox"), 2, "the other slots were not touched");
	/* Paused: nothing more happens. */
	for (int i = 0; i < 5; i++) {
		agent_step(svc);
		step();
	}
	cr_expect_eq(ustate(svc), US(PAUSED));
	cr_expect_eq(running_with(svc, "busybox"), 2);
}

Test(orch_update, failure_action_rollback_restores_the_spec)
{
	char svc[ID_LEN + 1];
	const Shoal__Service *s;

	running_service(svc, 3,
			(struct ucfg){.parallelism = 1,
				      .monitor_ms = 1000,
				      .action = SHOAL__UPDATE_CONFIG__FAILURE_ACTION__ROLLBACK});
	update_spec(svc, "bad", 0, 0);
	drive_until(svc, US(ROLLBACK_STARTED));
	s = store_get_service(st, svc);
	cr_expect_str_eq(s->spec->task->container->image, "busybox");
	cr_expect(strstr(s->update_status->message,
			 "update rolled back due to failure or early termination of task ") ==
		  s->update_status->message);
	drive_until(svc, US(ROLLBACK_COMPLETED));
	s = store_get_service(st, svc);
	cr_expect_str_eq(s->update_status->message, "rollback completed");
	cr_expect_eq(running_with(svc, "busybox"), 3);
	cr_expect_eq(runnable_with(svc, "bad"), 0);
}

Test(orch_update, failure_action_continue_updates_every_slot)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;
	unsigned slots[8] = {0};

	running_service(svc, 3,
			(struct ucfg){.parallelism = 1,
				      .monitor_ms = 1000,
				      .action = SHOAL__UPDATE_CONFIG__FAILURE_ACTION__CONTINUE});
	update_spec(svc, "bad", 0, 0);
	drive_until(svc, US(COMPLETED));
	l = lt_tasks_of(svc);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(image_of(l.t[i]), "bad") == 0 && l.t[i]->slot < 8)
			slots[l.t[i]->slot] = 1;
	cr_expect(slots[1] && slots[2] && slots[3], "every slot got the new spec");
	cr_expect_eq(runnable_with(svc, "busybox"), 0);
}

Test(orch_update, max_failure_ratio_tolerates_failures_below_it)
{
	char svc[ID_LEN + 1];

	running_service(svc, 4, (struct ucfg){.parallelism = 1, .monitor_ms = 1000, .ratio = 0.3f});
	fail_v2 = 1u << 2; /* 1 of 4 = 0.25 <= 0.3 */
	update_spec(svc, "v2", 0, 0);
	drive_until(svc, US(COMPLETED));
	cr_expect_eq(running_with(svc, "v2"), 4);
}

Test(orch_update, max_failure_ratio_exceeded_pauses)
{
	char svc[ID_LEN + 1];

	running_service(svc, 4, (struct ucfg){.parallelism = 1, .monitor_ms = 1000, .ratio = 0.3f});
	fail_v2 = (1u << 1) | (1u << 3); /* 2 of 4 = 0.5 > 0.3 */
	update_spec(svc, "v2", 0, 0);
	drive_until(svc, US(PAUSED));
}

Test(orch_update, force_replaces_every_task)
{
	char svc[ID_LEN + 1];
	char before[4][ID_LEN + 1];

	running_service(svc, 3, (struct ucfg){.parallelism = 0});
	for (int i = 0; i < 3; i++)
		snprintf(before[i], ID_LEN + 1, "%s",
			 lt_slot_task(svc, (uint64_t) i + 1)->meta->id);
	update_spec(svc, NULL, 1, 0);
	drive_until(svc, US(COMPLETED));
	for (int i = 0; i < 3; i++) {
		const Shoal__Task *t = lt_slot_task(svc, (uint64_t) i + 1);

		cr_expect_str_neq(t->meta->id, before[i], "slot %d not replaced", i + 1);
		cr_expect_eq(t->spec->force_update, 1);
		cr_expect_eq(store_get_task(st, before[i])->desired_state, ST(SHUTDOWN));
	}
}

Test(orch_update, replicas_only_change_replaces_nothing)
{
	char svc[ID_LEN + 1];
	struct lt_tasks l;

	running_service(svc, 2, (struct ucfg){.parallelism = 1});
	update_spec(svc, NULL, 0, 4);
	step();
	agent_step(svc);
	step();
	harness_run(&loop, 100);
	l = lt_tasks_of(svc);
	cr_expect_eq(l.n, 4, "two tasks added, none replaced");
	for (size_t i = 0; i < l.n; i++)
		cr_expect_eq(l.t[i]->desired_state, ST(RUNNING));
	cr_expect_eq(ustate(svc), US(UNKNOWN), "no update ran");
}

Test(orch_update, a_new_leader_resumes_the_update)
{
	char svc[ID_LEN + 1];

	running_service(svc, 4, (struct ucfg){.parallelism = 1});
	update_spec(svc, "v2", 0, 0);
	step();
	agent_step(svc); /* old task of slot 1 stops */
	step();
	agent_step(svc); /* the new one runs */
	step();
	cr_assert_eq(ustate(svc), US(UPDATING));
	lt_stop(); /* leadership lost */
	cr_assert_lt(running_with(svc, "v2"), 4);
	lt_start();
	drive_until(svc, US(COMPLETED));
	cr_expect_eq(running_with(svc, "v2"), 4);
}

Test(orch_update, manual_rollback_returns_to_the_previous_spec)
{
	char svc[ID_LEN + 1];
	Shoal__Service *s;
	Shoal__ServiceSpec *tmp;
	uint64_t v;

	running_service(svc, 2, (struct ucfg){.parallelism = 1});
	update_spec(svc, "v2", 0, 0);
	drive_until(svc, US(COMPLETED));
	/* What ctl does for rollback=previous. */
	s = store_dup_service(store_get_service(st, svc));
	tmp = s->spec;
	s->spec = s->previous_spec;
	s->previous_spec = tmp;
	v = s->spec_version;
	s->spec_version = s->previous_spec_version;
	s->previous_spec_version = v;
	s->update_status->state = US(ROLLBACK_STARTED);
	s->update_status->started_at = orch_now_ns();
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
	drive_until(svc, US(ROLLBACK_COMPLETED));
	cr_expect_eq(running_with(svc, "busybox"), 2);
	cr_expect_eq(runnable_with(svc, "v2"), 0);
}
