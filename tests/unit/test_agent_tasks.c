/* agent tasks: the worker's task state machine, with a scripted runner. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/id.h"
#include "common/log.h"
#include "tests/lib/harness.h"
#include "worker/agent/tasks.h"

#define S(x) SHOAL__TASK_STATE__TASK_STATE_##x

/* The fake runner: containers are rows in a table guarded by a mutex, since
 * operations run on libuv's thread pool. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int prepares, starts, stops, removes;
	int fail_prepare;
	enum agent_cstate state; /* of the (single) container */
	int exit_code;
	int unhealthy;
	char file_target[128];
	char file_data[64];
} fake;

static int f_prepare(void *ctx, const Shoal__Task *t, const struct agent_file *files, size_t n,
		     char *err, size_t errlen)
{
	(void) ctx;
	(void) t;
	pthread_mutex_lock(&mu);
	fake.prepares++;
	if (n) {
		snprintf(fake.file_target, sizeof(fake.file_target), "%s", files[0].target);
		snprintf(fake.file_data, sizeof(fake.file_data), "%.*s", (int) files[0].len,
			 (const char *) files[0].data);
	}
	int fail = fake.fail_prepare;
	pthread_mutex_unlock(&mu);
	if (fail) {
		snprintf(err, errlen, "No such image: nope:latest");
		return -ENOENT;
	}
	return 0;
}

static int f_start(void *ctx, const Shoal__Task *t, char *err, size_t errlen)
{
	(void) ctx;
	(void) t;
	(void) err;
	(void) errlen;
	pthread_mutex_lock(&mu);
	fake.starts++;
	fake.state = AGENT_C_RUNNING;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_inspect(void *ctx, const char *id, struct agent_cinfo *out)
{
	(void) ctx;
	(void) id;
	pthread_mutex_lock(&mu);
	out->state = fake.state;
	out->exit_code = fake.exit_code;
	out->unhealthy = fake.unhealthy;
	out->pid = 42;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_stop(void *ctx, const Shoal__Task *t)
{
	(void) ctx;
	(void) t;
	pthread_mutex_lock(&mu);
	fake.stops++;
	fake.state = AGENT_C_EXITED;
	fake.exit_code = 143;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_remove(void *ctx, const char *id)
{
	(void) ctx;
	(void) id;
	pthread_mutex_lock(&mu);
	fake.removes++;
	fake.state = AGENT_C_NONE;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* The last reported status of the task under test. */
static Shoal__TaskState reported;
static char reported_err[256];
static int reports;

static int f_report(void *ctx, Shoal__UpdateTaskStatusRequest *r, void (*done)(void *, int),
		    void *arg)
{
	(void) ctx;
	for (size_t i = 0; i < r->n_updates; i++) {
		reported = r->updates[i]->status->state;
		snprintf(reported_err, sizeof(reported_err), "%s", r->updates[i]->status->err);
	}
	reports++;
	done(arg, 0);
	return 0;
}

static uv_loop_t loop;
static char dir[64];
static char task_id[ID_LEN + 1], secret_id[ID_LEN + 1];
static struct agent_tasks *at;

static struct agent_tasks *start_tasks(void)
{
	struct agent_tasks_config cfg = {
	    .state_dir = dir,
	    .node_id = "n1",
	    .runner = {.prepare = f_prepare,
		       .start = f_start,
		       .inspect = f_inspect,
		       .stop = f_stop,
		       .remove = f_remove},
	    .report = f_report,
	    .poll_ms = 10,
	};
	struct agent_tasks *a;

	cr_assert_eq(agent_tasks_start(&loop, &cfg, &a), 0);
	return a;
}

static void setup(void)
{
	log_set_level(LOG_LERROR);
	uv_loop_init(&loop);
	snprintf(dir, sizeof(dir), "/tmp/shoal-agent-test-%d", (int) getpid());
	memset(&fake, 0, sizeof(fake));
	reported = 0;
	reports = 0;
	id_new(task_id);
	id_new(secret_id);
	at = start_tasks();
}

static void stopped(void *arg)
{
	*(int *) arg = 1;
}

static void stop_tasks(void)
{
	int done = 0;

	if (!at)
		return;
	agent_tasks_stop(at, stopped, &done);
	at = NULL;
	for (int i = 0; i < 2000 && !done; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	cr_assert(done, "the task manager did not stop");
}

static void teardown(void)
{
	char cmd[128];

	stop_tasks();
	cr_expect_eq(harness_loop_close(&loop), 0, "handles leaked");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(agent_tasks, .init = setup, .fini = teardown, .timeout = 30);

/* Runs the loop until the reported state is `want` (or 5 s pass). */
static void wait_state(Shoal__TaskState want)
{
	for (int i = 0; i < 5000 && reported != want; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	cr_assert_eq(reported, want, "state %d, wanted %d", reported, want);
}

static void settle(void)
{
	for (int i = 0; i < 100; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

/* Sends one message holding the task (desired state `desired`, or removed)
 * and the secret it uses. */
static void assign(int complete, int with_task, Shoal__TaskState desired)
{
	Shoal__AssignmentsMessage m = SHOAL__ASSIGNMENTS_MESSAGE__INIT;
	Shoal__AssignmentChange c1 = SHOAL__ASSIGNMENT_CHANGE__INIT, c2 = c1;
	Shoal__AssignmentChange *cs[2] = {&c1, &c2};
	Shoal__Assignment a1 = SHOAL__ASSIGNMENT__INIT, a2 = a1;
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__Meta tm = SHOAL__META__INIT, sm = tm;
	Shoal__TaskStatus ts = SHOAL__TASK_STATUS__INIT;
	Shoal__TaskSpec spec = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec ctr = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__SecretReference ref = SHOAL__SECRET_REFERENCE__INIT;
	Shoal__SecretReference *refs[1] = {&ref};
	Shoal__FileTarget ft = SHOAL__FILE_TARGET__INIT;
	Shoal__Secret sec = SHOAL__SECRET__INIT;
	Shoal__SecretSpec ss = SHOAL__SECRET_SPEC__INIT;

	tm.id = task_id;
	t.meta = &tm;
	ts.state = S(ASSIGNED);
	t.status = &ts;
	t.desired_state = desired;
	t.node_id = "n1";
	ctr.image = "busybox";
	ref.secret_id = secret_id;
	ref.secret_name = "db";
	ft.name = "db";
	ref.file = &ft;
	ctr.secrets = refs;
	ctr.n_secrets = 1;
	spec.container = &ctr;
	t.spec = &spec;
	sm.id = secret_id;
	sec.meta = &sm;
	ss.data.data = (uint8_t *) "hunter2";
	ss.data.len = 7;
	sec.spec = &ss;
	a1.item_case = SHOAL__ASSIGNMENT__ITEM_TASK;
	a1.task = &t;
	a2.item_case = SHOAL__ASSIGNMENT__ITEM_SECRET;
	a2.secret = &sec;
	c1.assignment = &a1;
	c2.assignment = &a2;
	m.type = complete ? SHOAL__ASSIGNMENTS_MESSAGE__TYPE__COMPLETE
			  : SHOAL__ASSIGNMENTS_MESSAGE__TYPE__INCREMENTAL;
	m.changes = cs;
	m.n_changes = with_task ? 2 : 0;
	if (!with_task && !complete) {
		c1.action = SHOAL__ASSIGNMENT_CHANGE__ACTION__REMOVE;
		m.n_changes = 1;
	}
	agent_tasks_assign(at, &m);
}

static int task_file_exists(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.task", dir, task_id);
	return access(path, F_OK) == 0;
}

Test(agent_tasks, a_task_runs_with_its_secret_and_exits_failed)
{
	assign(1, 1, S(RUNNING));
	wait_state(S(RUNNING));
	cr_assert_eq(fake.prepares, 1);
	cr_assert_eq(fake.starts, 1);
	cr_assert_str_eq(fake.file_target, "/run/secrets/db");
	cr_assert_str_eq(fake.file_data, "hunter2");
	cr_assert(task_file_exists());

	pthread_mutex_lock(&mu);
	fake.state = AGENT_C_EXITED;
	fake.exit_code = 3;
	pthread_mutex_unlock(&mu);
	wait_state(S(FAILED));
	cr_assert_str_eq(reported_err, "task: non-zero exit (3)");
}

Test(agent_tasks, shutdown_stops_and_remove_deletes)
{
	assign(1, 1, S(RUNNING));
	wait_state(S(RUNNING));
	assign(0, 1, S(SHUTDOWN));
	wait_state(S(SHUTDOWN));
	cr_assert_eq(fake.stops, 1);
	assign(0, 0, 0); /* REMOVE */
	settle();
	cr_assert_eq(fake.removes, 1);
	cr_assert_not(task_file_exists(), "the task's state is deleted with it");
	cr_assert_eq(agent_tasks_count(at, NULL), 0);
}

Test(agent_tasks, a_failed_prepare_rejects_the_task)
{
	fake.fail_prepare = 1;
	assign(1, 1, S(RUNNING));
	wait_state(S(REJECTED));
	cr_assert_str_eq(reported_err, "No such image: nope:latest");
	cr_assert_eq(fake.starts, 0);
}

Test(agent_tasks, desired_ready_holds_the_task_until_running)
{
	assign(1, 1, S(READY));
	wait_state(S(READY));
	settle();
	cr_assert_eq(fake.starts, 0, "a restart delay holds the task at READY");
	assign(0, 1, S(RUNNING));
	wait_state(S(RUNNING));
}

Test(agent_tasks, an_unhealthy_container_is_stopped_and_failed)
{
	assign(1, 1, S(RUNNING));
	wait_state(S(RUNNING));
	pthread_mutex_lock(&mu);
	fake.unhealthy = 1;
	pthread_mutex_unlock(&mu);
	wait_state(S(FAILED));
	cr_assert_eq(fake.stops, 1);
	cr_assert_str_eq(reported_err, "task: unhealthy container");
}

Test(agent_tasks, a_restart_resumes_running_tasks_without_starting_them_again)
{
	size_t running = 0;

	assign(1, 1, S(RUNNING));
	wait_state(S(RUNNING));
	stop_tasks();
	cr_assert_eq(fake.stops, 0, "stopping the agent leaves containers running");

	at = start_tasks();
	settle();
	cr_assert_eq(agent_tasks_count(at, &running), 1);
	cr_assert_eq(running, 1);
	cr_assert_eq(fake.starts, 1, "not started a second time");
	agent_tasks_resync(at);
	settle();
	cr_assert_eq(reported, S(RUNNING));

	/* The first COMPLETE set without it: stop and remove. */
	assign(1, 0, 0);
	settle();
	settle();
	cr_assert_eq(fake.stops, 1);
	cr_assert_eq(fake.removes, 1);
	cr_assert_eq(agent_tasks_count(at, NULL), 0);
}

Test(agent_tasks, remove_all_stops_and_deletes_every_task_then_stops)
{
	int done = 0;

	assign(1, 1, S(RUNNING));
	wait_state(S(RUNNING));
	agent_tasks_remove_all(at, stopped, &done);
	at = NULL;
	for (int i = 0; i < 3000 && !done; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	cr_assert(done);
	cr_assert_eq(fake.stops, 1);
	cr_assert_eq(fake.removes, 1);
	cr_assert_not(task_file_exists());
}
