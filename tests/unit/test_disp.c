/* dispatcher: sessions, heartbeats and Ready/Down on a real loop and store. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/sec/cert.h"
#include "manager/dispatcher/disp.h"
#include "tests/lib/harness.h"

static struct store *st;
static uint64_t next_index;
static uv_loop_t loop;
static struct disp d;

static int sync_propose(void *ctx, Shoal__StoreActionBatch *b, ctl_done_cb cb, void *arg)
{
	struct store_result res;

	b->timestamp = 1700000000000000000LL + (int64_t) next_index;
	cr_assert_eq(store_apply_batch(st, b, ++next_index, &res), 0);
	cb(arg, 0, &res);
	return 0;
}

static void applied(void *arg, int status, const struct store_result *res)
{
	cr_assert_eq(status, 0);
	cr_assert_eq(res->err, 0, "%s", res->msg);
}

static void setup(void)
{
	Shoal__Cluster cl = SHOAL__CLUSTER__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__ClusterSpec spec = SHOAL__CLUSTER_SPEC__INIT;
	Shoal__DispatcherConfig dc = SHOAL__DISPATCHER_CONFIG__INIT;
	struct ctl_batch b;
	char cid[ID_LEN + 1];
	struct ctl_proposer p = {.propose = sync_propose};

	cr_assert_geq(sodium_init(), 0);
	log_set_level(LOG_LERROR);
	uv_loop_init(&loop);
	st = store_new();
	next_index = 0;
	id_new(cid);
	meta.id = cid;
	cl.meta = &meta;
	dc.heartbeat_period = 100 * 1000000LL; /* 100 ms */
	spec.dispatcher = &dc;
	cl.spec = &spec;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		      &cl);
	sync_propose(NULL, &b.b, applied, NULL);
	memset(&d, 0, sizeof(d));
	disp_start(&d, &loop, st, p);
}

static void teardown(void)
{
	disp_stop(&d, NULL, NULL);
	cr_expect_eq(harness_loop_close(&loop), 0, "handles leaked");
	store_free(st);
}

TestSuite(disp, .init = setup, .fini = teardown, .timeout = 30);

struct reg {
	int called;
	int status;
	char session[ID_LEN + 1];
	int64_t period;
};

static void registered(void *arg, int status, const char *msg, Shoal__SessionResponse *resp)
{
	struct reg *r = arg;

	r->called++;
	r->status = status;
	if (resp) {
		snprintf(r->session, sizeof(r->session), "%s", resp->session_id);
		r->period = resp->heartbeat_period;
	}
}

static Shoal__NodeState state_of(const char *id)
{
	const Shoal__Node *n = store_get_node(st, id);

	cr_assert_not_null(n, "node %s missing", id);
	return n->status ? n->status->state : SHOAL__NODE_STATE__NODE_STATE_UNKNOWN;
}

static void do_register(const char *node_id, int manager, struct reg *r)
{
	Shoal__SessionRequest req = SHOAL__SESSION_REQUEST__INIT;
	Shoal__NodeDescription desc = SHOAL__NODE_DESCRIPTION__INIT;

	desc.hostname = "h1";
	req.description = &desc;
	req.advertise_addr = "10.1.1.1:2377";
	req.raft_id = manager ? 77 : 0;
	disp_register(&d, node_id, manager, "10.1.1.1", &req, registered, r);
	cr_assert_eq(r->called, 1);
	cr_assert_eq(r->status, 0);
}

Test(disp, register_creates_a_ready_node_with_its_role)
{
	char id[ID_LEN + 1];
	struct reg r = {0};
	const Shoal__Node *n;

	id_new(id);
	do_register(id, 1, &r);
	cr_expect_eq(r.period, 100 * 1000000LL);
	n = store_get_node(st, id);
	cr_assert_not_null(n);
	cr_expect_eq(n->role, SHOAL__NODE_ROLE__NODE_ROLE_MANAGER);
	cr_expect_eq(n->spec->desired_role, SHOAL__NODE_ROLE__NODE_ROLE_MANAGER);
	cr_expect_str_eq(n->description->hostname, "h1");
	cr_expect_str_eq(n->status->addr, "10.1.1.1");
	cr_expect_eq(n->manager_status->raft_id, 77);
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_READY);
}

Test(disp, heartbeats_keep_ready_silence_means_down_then_back)
{
	char id[ID_LEN + 1];
	struct reg r = {0};
	Shoal__HeartbeatResponse resp = SHOAL__HEARTBEAT_RESPONSE__INIT;

	id_new(id);
	do_register(id, 0, &r);
	cr_expect_eq(disp_heartbeat(&d, id, "not-the-session", &resp), -ENOENT);
	/* Beating every 50 ms for 0.6 s keeps it Ready. */
	for (int i = 0; i < 12; i++) {
		harness_run(&loop, 50);
		cr_assert_eq(disp_heartbeat(&d, id, r.session, &resp), 0);
		cr_expect_eq(resp.desired_role, SEC_ROLE_WORKER);
		disp_heartbeat_clear(&resp);
	}
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_READY);
	/* Silent: Down after three periods (plus the quarter-period tick). */
	harness_run(&loop, 500);
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_DOWN);
	cr_expect_str_eq(store_get_node(st, id)->status->message, "heartbeat failure");
	/* A heartbeat brings it back. */
	cr_assert_eq(disp_heartbeat(&d, id, r.session, &resp), 0);
	disp_heartbeat_clear(&resp);
	harness_run(&loop, 120); /* two ticks */
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_READY);
}

Test(disp, a_new_leader_gives_known_ready_nodes_a_grace)
{
	char id[ID_LEN + 1];
	struct reg r = {0};
	struct ctl_proposer p = {.propose = sync_propose};

	id_new(id);
	do_register(id, 0, &r);
	/* Leadership moves: the session table is gone, the store says Ready. */
	disp_stop(&d, NULL, NULL);
	harness_run(&loop, 10);
	memset(&d, 0, sizeof(d));
	disp_start(&d, &loop, st, p);
	harness_run(&loop, 350); /* 3.5 periods: still inside 6 periods' grace */
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_READY);
	harness_run(&loop, 500);
	cr_expect_eq(state_of(id), SHOAL__NODE_STATE__NODE_STATE_DOWN);
}

/* ------------------------------------------------------------------------ */
/* Assignments and task status                                               */

struct got {
	int calls;
	int complete;
	int ended;
	size_t tasks, secrets, removes;
};

static void on_assign(void *arg, const Shoal__AssignmentsMessage *m)
{
	struct got *g = arg;

	if (!m) {
		g->ended++;
		return;
	}
	g->calls++;
	g->complete += m->type == SHOAL__ASSIGNMENTS_MESSAGE__TYPE__COMPLETE;
	for (size_t i = 0; i < m->n_changes; i++) {
		const Shoal__AssignmentChange *c = m->changes[i];
		if (c->action == SHOAL__ASSIGNMENT_CHANGE__ACTION__REMOVE)
			g->removes++;
		else if (c->assignment->item_case == SHOAL__ASSIGNMENT__ITEM_TASK)
			g->tasks++;
		else if (c->assignment->item_case == SHOAL__ASSIGNMENT__ITEM_SECRET)
			g->secrets++;
	}
}

static void spin(void)
{
	for (int i = 0; i < 5; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
}

/* Creates (or updates, when `cur` is given) a task on `node` in `state`. */
static void put_task(const char *id, const char *node, Shoal__TaskState state,
		     const char *secret_id, const Shoal__Task *cur)
{
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__TaskStatus ts = SHOAL__TASK_STATUS__INIT;
	Shoal__TaskSpec spec = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__SecretReference ref = SHOAL__SECRET_REFERENCE__INIT;
	Shoal__SecretReference *refs[1] = {&ref};
	struct ctl_batch b;

	meta.id = (char *) id;
	meta.version = cur ? cur->meta->version : 0;
	t.meta = &meta;
	t.node_id = (char *) node;
	ts.state = state;
	t.status = &ts;
	t.desired_state = SHOAL__TASK_STATE__TASK_STATE_RUNNING;
	cs.image = "busybox";
	if (secret_id) {
		ref.secret_id = (char *) secret_id;
		ref.secret_name = "s";
		cs.secrets = refs;
		cs.n_secrets = 1;
	}
	spec.container = &cs;
	t.spec = &spec;
	ctl_batch_init(&b);
	ctl_batch_add(&b,
		      cur ? SHOAL__STORE_ACTION__KIND__UPDATE : SHOAL__STORE_ACTION__KIND__CREATE,
		      SHOAL__STORE_ACTION__TARGET_TASK, &t);
	sync_propose(NULL, &b.b, applied, NULL);
}

Test(disp, assignments_stream_the_nodes_tasks_and_their_secrets)
{
	char node[ID_LEN + 1], other[ID_LEN + 1], t1[ID_LEN + 1], t2[ID_LEN + 1], sid[ID_LEN + 1];
	Shoal__Secret sec = SHOAL__SECRET__INIT;
	Shoal__Meta sm = SHOAL__META__INIT;
	Shoal__SecretSpec ss = SHOAL__SECRET_SPEC__INIT;
	Shoal__Annotations sa = SHOAL__ANNOTATIONS__INIT;
	struct ctl_batch b;
	struct got g = {0};
	struct disp_assign *a;
	struct ctl_batch rm;

	id_new(node);
	id_new(other);
	id_new(t1);
	id_new(t2);
	id_new(sid);
	sm.id = sid;
	sec.meta = &sm;
	sa.name = "s";
	ss.annotations = &sa;
	ss.data.data = (uint8_t *) "pw";
	ss.data.len = 2;
	sec.spec = &ss;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_SECRET,
		      &sec);
	sync_propose(NULL, &b.b, applied, NULL);

	a = disp_assign_open(&d, node, on_assign, &g);
	cr_assert_not_null(a);
	spin();
	cr_assert_eq(g.calls, 1);
	cr_assert_eq(g.complete, 1, "the first message is COMPLETE");
	cr_assert_eq(g.tasks, 0);

	/* Not yet assigned, and another node's task: nothing. */
	put_task(t1, node, SHOAL__TASK_STATE__TASK_STATE_PENDING, sid, NULL);
	put_task(t2, other, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED, sid, NULL);
	spin();
	cr_assert_eq(g.calls, 1);

	put_task(t1, node, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED, sid, store_get_task(st, t1));
	spin();
	cr_assert_eq(g.calls, 2);
	cr_assert_eq(g.tasks, 1);
	cr_assert_eq(g.secrets, 1, "the secret the task references comes along");

	/* The task ends: it stays assigned, its secret is withdrawn. */
	put_task(t1, node, SHOAL__TASK_STATE__TASK_STATE_COMPLETE, sid, store_get_task(st, t1));
	spin();
	cr_assert_eq(g.tasks, 2);
	cr_assert_eq(g.removes, 1);

	ctl_batch_init(&rm);
	ctl_batch_add(&rm, SHOAL__STORE_ACTION__KIND__REMOVE, SHOAL__STORE_ACTION__TARGET_TASK,
		      (void *) store_get_task(st, t1));
	sync_propose(NULL, &rm.b, applied, NULL);
	spin();
	cr_assert_eq(g.removes, 2, "a deleted task is removed from the node");

	disp_assign_close_all(&d);
	cr_assert_eq(g.ended, 1);
	spin();
}

Test(disp, task_status_reports_move_tasks_forward_only)
{
	char node[ID_LEN + 1], other[ID_LEN + 1], t1[ID_LEN + 1], t2[ID_LEN + 1];
	struct reg r = {0};
	Shoal__UpdateTaskStatusRequest req = SHOAL__UPDATE_TASK_STATUS_REQUEST__INIT;
	Shoal__TaskStatusUpdate u1 = SHOAL__TASK_STATUS_UPDATE__INIT, u2 = u1;
	Shoal__TaskStatusUpdate *ups[2] = {&u1, &u2};
	Shoal__TaskStatus s1 = SHOAL__TASK_STATUS__INIT, s2 = s1;

	id_new(node);
	id_new(other);
	id_new(t1);
	id_new(t2);
	do_register(node, 0, &r);
	put_task(t1, node, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED, NULL, NULL);
	put_task(t2, other, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED, NULL, NULL);
	u1.task_id = t1;
	s1.state = SHOAL__TASK_STATE__TASK_STATE_RUNNING;
	s1.message = "started";
	u1.status = &s1;
	u2.task_id = t2; /* not this node's: ignored */
	s2.state = SHOAL__TASK_STATE__TASK_STATE_FAILED;
	u2.status = &s2;
	req.updates = ups;
	req.n_updates = 2;
	cr_assert_eq(disp_update_status(&d, node, "bogus", &req), -ENOENT);
	cr_assert_eq(disp_update_status(&d, node, r.session, &req), 0);
	spin();
	cr_assert_eq(store_get_task(st, t1)->status->state, SHOAL__TASK_STATE__TASK_STATE_RUNNING);
	cr_assert_str_eq(store_get_task(st, t1)->status->message, "started");
	cr_assert_eq(store_get_task(st, t2)->status->state, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED);

	/* A late report of an earlier state does not move it back. */
	s1.state = SHOAL__TASK_STATE__TASK_STATE_PREPARING;
	req.n_updates = 1;
	cr_assert_eq(disp_update_status(&d, node, r.session, &req), 0);
	spin();
	cr_assert_eq(store_get_task(st, t1)->status->state, SHOAL__TASK_STATE__TASK_STATE_RUNNING);
}

/* Counts the status proposals and their sizes; fails the first `fail_first` with no leader. */
static struct {
	int calls, fail_first;
	size_t max_actions;
} prop;

static int counting_propose(void *ctx, Shoal__StoreActionBatch *b, ctl_done_cb cb, void *arg)
{
	prop.calls++;
	if (prop.calls <= prop.fail_first)
		return -SHOAL_ENOLEADER;
	if (b->n_actions > prop.max_actions)
		prop.max_actions = b->n_actions;
	return sync_propose(ctx, b, cb, arg);
}

#define MANY 2500

static int running_count(char (*ids)[ID_LEN + 1], int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += store_get_task(st, ids[i])->status->state ==
		     SHOAL__TASK_STATE__TASK_STATE_RUNNING;
	return k;
}

Test(disp, many_status_reports_go_out_in_bounded_entries)
{
	static char ids[MANY][ID_LEN + 1];
	static Shoal__TaskStatusUpdate u[MANY];
	static Shoal__TaskStatusUpdate *ups[MANY];
	Shoal__TaskStatus s = SHOAL__TASK_STATUS__INIT;
	Shoal__UpdateTaskStatusRequest req = SHOAL__UPDATE_TASK_STATUS_REQUEST__INIT;
	char node[ID_LEN + 1];
	struct reg r = {0};

	id_new(node);
	do_register(node, 0, &r);
	for (int i = 0; i < MANY; i++) {
		id_new(ids[i]);
		put_task(ids[i], node, SHOAL__TASK_STATE__TASK_STATE_ASSIGNED, NULL, NULL);
		shoal__task_status_update__init(&u[i]);
		u[i].task_id = ids[i];
		u[i].status = &s;
		ups[i] = &u[i];
	}
	s.state = SHOAL__TASK_STATE__TASK_STATE_RUNNING;
	s.message = "started";
	req.updates = ups;
	req.n_updates = MANY;
	memset(&prop, 0, sizeof(prop));
	/* A leader without quorum refuses: the reports wait, they do not spin the loop. */
	prop.fail_first = 2;
	d.proposer.propose = counting_propose;
	cr_assert_eq(disp_update_status(&d, node, r.session, &req), 0);
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(prop.calls, 1, "retried at once after a refusal (%d calls)", prop.calls);
	for (int i = 0; i < 200 && running_count(ids, MANY) < MANY; i++) {
		uv_run(&loop, UV_RUN_ONCE);
		spin();
	}
	for (int i = 0; i < MANY; i++)
		cr_assert_eq(store_get_task(st, ids[i])->status->state,
			     SHOAL__TASK_STATE__TASK_STATE_RUNNING, "task %d not running", i);
	cr_assert_leq(prop.max_actions, 1024, "an entry carried %zu reports", prop.max_actions);
	cr_assert_geq(prop.calls, 2 + 3, "3 entries after 2 refusals, got %d calls", prop.calls);
}
