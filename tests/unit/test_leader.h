/* Fixture shared by test_orch.c and test_sched.c: a real store and loop, a proposer that
 * applies each batch on the next loop iteration (as Raft would: later, and in order), the four
 * leader components (orchestrator + reaper, allocator, scheduler), and builders for nodes,
 * services and task status reports (what the dispatcher would write). */
#ifndef SHOAL_TESTS_UNIT_TEST_LEADER_H
#define SHOAL_TESTS_UNIT_TEST_LEADER_H

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/id.h"
#include "common/log.h"
#include "manager/allocator/alloc.h"
#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"
#include "tests/lib/harness.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x
#define GB    (1024LL * 1024 * 1024)

struct lt_prop {
	Shoal__StoreActionBatch *b;
	ctl_done_cb cb;
	void *arg;
	struct lt_prop *next;
};

static struct store *st;
static uint64_t next_index;
static uv_loop_t loop;
static uv_timer_t prop_timer;
static struct lt_prop *prop_head, **prop_tail = &prop_head;
static unsigned proposals;
static struct orch orch;
static struct alloc alloc_;
static struct sched sched_;
static int started;
/* Called before a proposed batch is applied (to simulate a concurrent writer). */
static void (*before_apply)(const Shoal__StoreActionBatch *b);

/* Applies a batch at once (the dispatcher's or the API's write), asserting success. */
static inline void lt_apply(Shoal__StoreActionBatch *b)
{
	struct store_result res;

	b->timestamp = orch_now_ns();
	cr_assert_eq(store_apply_batch(st, b, ++next_index, &res), 0);
	cr_assert_eq(res.err, 0, "%s", res.msg);
}

static inline void lt_apply_one(Shoal__StoreAction__Kind kind, Shoal__StoreAction__TargetCase tc,
				const ProtobufCMessage *obj)
{
	struct orch_batch b;

	orch_batch_init(&b);
	orch_batch_add(&b, kind, tc, obj);
	lt_apply(&b.b);
	orch_batch_reset(&b);
}

static inline void lt_apply_cb(uv_timer_t *t)
{
	(void) t;
	while (prop_head) {
		struct lt_prop *p = prop_head;
		struct store_result res;

		prop_head = p->next;
		if (!prop_head)
			prop_tail = &prop_head;
		if (before_apply)
			before_apply(p->b);
		cr_assert_eq(store_apply_batch(st, p->b, ++next_index, &res), 0);
		p->cb(p->arg, 0, &res);
		store_msg_free(p->b);
		free(p);
	}
}

static inline int lt_propose(void *ctx, Shoal__StoreActionBatch *b, ctl_done_cb cb, void *arg)
{
	struct lt_prop *p = calloc(1, sizeof(*p));

	(void) ctx;
	p->b = store_dup(&b->base);
	p->cb = cb;
	p->arg = arg;
	*prop_tail = p;
	prop_tail = &p->next;
	proposals++;
	uv_timer_start(&prop_timer, lt_apply_cb, 0, 0);
	return 0;
}

static inline void lt_start(void)
{
	struct ctl_proposer p = {.propose = lt_propose};

	orch_start(&orch, &loop, st, p);
	alloc_start(&alloc_, &loop, st, p);
	sched_start(&sched_, &loop, st, p);
	started = 1;
}

static inline void lt_stop(void)
{
	if (!started)
		return;
	orch_stop(&orch, NULL, NULL);
	alloc_stop(&alloc_, NULL, NULL);
	sched_stop(&sched_, NULL, NULL);
	started = 0;
	harness_run(&loop, 100);
}

/* Runs the loop until nothing is left to do (bounded). */
static inline void settle(void)
{
	cr_assert_eq(harness_run(&loop, 5000), 0, "the components never settled");
}

/* A cluster object with this task history limit. */
static inline void lt_cluster(int64_t history)
{
	Shoal__Cluster cl = SHOAL__CLUSTER__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__ClusterSpec spec = SHOAL__CLUSTER_SPEC__INIT;
	Shoal__OrchestrationConfig oc = SHOAL__ORCHESTRATION_CONFIG__INIT;
	char id[ID_LEN + 1];

	id_new(id);
	meta.id = id;
	cl.meta = &meta;
	oc.task_history_retention_limit = history;
	spec.orchestration = &oc;
	cl.spec = &spec;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		     &cl.base);
}

static inline void lt_setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	log_set_level(LOG_LERROR);
	uv_loop_init(&loop);
	uv_timer_init(&loop, &prop_timer);
	st = store_new();
	next_index = 0;
	proposals = 0;
	before_apply = NULL;
	prop_head = NULL;
	prop_tail = &prop_head;
	lt_cluster(5);
}

static inline void lt_teardown(void)
{
	lt_stop();
	while (prop_head) {
		struct lt_prop *p = prop_head;
		prop_head = p->next;
		store_msg_free(p->b);
		free(p);
	}
	uv_close((uv_handle_t *) &prop_timer, NULL);
	cr_expect_eq(harness_loop_close(&loop), 0, "handles leaked");
	store_free(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes */

struct lt_node_opts {
	Shoal__NodeState state;
	Shoal__NodeAvailability availability;
	int64_t nano_cpus, memory;
	const char *arch; /* default x86_64 */
	const char *label_key, *label_value;
};

static inline void lt_node(char id[ID_LEN + 1], const char *host, struct lt_node_opts o)
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__Annotations__LabelsEntry le = SHOAL__ANNOTATIONS__LABELS_ENTRY__INIT, *lp = &le;
	Shoal__NodeStatus status = SHOAL__NODE_STATUS__INIT;
	Shoal__NodeDescription desc = SHOAL__NODE_DESCRIPTION__INIT;
	Shoal__Platform pl = SHOAL__PLATFORM__INIT;
	Shoal__Resources res = SHOAL__RESOURCES__INIT;

	id_new(id);
	meta.id = id;
	n.meta = &meta;
	if (o.label_key) {
		le.key = (char *) o.label_key;
		le.value = (char *) o.label_value;
		ann.labels = &lp;
		ann.n_labels = 1;
	}
	spec.annotations = &ann;
	spec.availability = o.availability;
	n.spec = &spec;
	status.state = o.state ? o.state : SHOAL__NODE_STATE__NODE_STATE_READY;
	status.addr = "10.0.0.1";
	n.status = &status;
	desc.hostname = (char *) host;
	pl.architecture = (char *) (o.arch ? o.arch : "x86_64");
	pl.os = "linux";
	desc.platform = &pl;
	res.nano_cpus = o.nano_cpus ? o.nano_cpus : 4000000000LL;
	res.memory_bytes = o.memory ? o.memory : 8 * GB;
	desc.resources = &res;
	n.description = &desc;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_NODE, &n.base);
}

/* Changes a node's state or availability. */
static inline void lt_node_set(const char *id, Shoal__NodeState state,
			       Shoal__NodeAvailability availability)
{
	Shoal__Node *n = store_dup_node(store_get_node(st, id));

	n->status->state = state;
	n->spec->availability = availability;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_NODE, &n->base);
	store_node_free(n);
}

/* ------------------------------------------------------------------------------------------ */
/* Services */

struct lt_svc_opts {
	uint64_t replicas;
	int restart;	       /* 0 = no policy (Docker's any, 5 s); else condition + 1 */
	int64_t delay_ms;      /* with restart */
	uint64_t max_attempts; /* with restart */
	int64_t mem;	       /* reservation */
	const char *platform_arch;
	const char *constraint;
};

static inline void lt_service(char id[ID_LEN + 1], const char *name, struct lt_svc_opts o)
{
	Shoal__Service s = SHOAL__SERVICE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__ServiceSpec spec = SHOAL__SERVICE_SPEC__INIT;
	Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskSpec task = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__ReplicatedService rep = SHOAL__REPLICATED_SERVICE__INIT;
	Shoal__RestartPolicy rp = SHOAL__RESTART_POLICY__INIT;
	Shoal__ResourceRequirements rr = SHOAL__RESOURCE_REQUIREMENTS__INIT;
	Shoal__Resources res = SHOAL__RESOURCES__INIT;
	Shoal__Placement pl = SHOAL__PLACEMENT__INIT;
	Shoal__Platform plat = SHOAL__PLATFORM__INIT, *platp = &plat;
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
		rp.max_attempts = o.max_attempts;
		task.restart = &rp;
	}
	if (o.mem) {
		res.memory_bytes = o.mem;
		rr.reservations = &res;
		task.resources = &rr;
	}
	if (o.platform_arch) {
		plat.architecture = (char *) o.platform_arch;
		plat.os = "linux";
		pl.platforms = &platp;
		pl.n_platforms = 1;
		task.placement = &pl;
	}
	if (o.constraint) {
		pl.constraints = &cons;
		pl.n_constraints = 1;
		task.placement = &pl;
	}
	spec.task = &task;
	rep.replicas = o.replicas;
	spec.replicated = &rep;
	spec.mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED;
	s.spec = &spec;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s.base);
}

static inline void lt_scale(const char *id, uint64_t replicas)
{
	Shoal__Service *s = store_dup_service(store_get_service(st, id));

	s->spec->replicated->replicas = replicas;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s->base);
	store_service_free(s);
}

static inline void lt_service_rm(const char *id)
{
	Shoal__Service s = SHOAL__SERVICE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;

	meta.id = (char *) id;
	s.meta = &meta;
	lt_apply_one(SHOAL__STORE_ACTION__KIND__REMOVE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		     &s.base);
}

/* ------------------------------------------------------------------------------------------ */
/* Tasks */

#define LT_MAX_TASKS 256

struct lt_tasks {
	const Shoal__Task *t[LT_MAX_TASKS];
	size_t n;
};

static inline int lt_collect(const void *obj, void *arg)
{
	struct lt_tasks *l = arg;

	cr_assert_lt(l->n, LT_MAX_TASKS);
	l->t[l->n++] = obj;
	return 0;
}

/* Borrowed tasks of a service, valid until the next apply. */
static inline struct lt_tasks lt_tasks_of(const char *service_id)
{
	struct lt_tasks l = {.n = 0};

	store_tasks_by_service(st, service_id, lt_collect, &l);
	return l;
}

/* Tasks of the service meant to run (desired state <= RUNNING), by slot: out[slot] counts. */
static inline size_t lt_runnable(const char *service_id, unsigned *per_slot, size_t nslots)
{
	struct lt_tasks l = lt_tasks_of(service_id);
	size_t n = 0;

	if (per_slot)
		memset(per_slot, 0, nslots * sizeof(*per_slot));
	for (size_t i = 0; i < l.n; i++) {
		if (l.t[i]->desired_state > ST(RUNNING))
			continue;
		n++;
		if (per_slot && l.t[i]->slot < nslots)
			per_slot[l.t[i]->slot]++;
	}
	return n;
}

/* The agent's report: observed state (and exit code). */
static inline void lt_report(const char *task_id, Shoal__TaskState state, int exit_code)
{
	Shoal__Task *t = store_dup_task(store_get_task(st, task_id));

	cr_assert_not_null(t, "task %s missing", task_id);
	t->status->state = state;
	if (exit_code) {
		Shoal__ContainerStatus *cs = malloc(sizeof(*cs));
		shoal__container_status__init(cs);
		cs->exit_code = exit_code;
		if (t->status->container_status)
			shoal__container_status__free_unpacked(t->status->container_status, NULL);
		t->status->container_status = cs;
	}
	t->status->timestamp = orch_now_ns();
	lt_apply_one(SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_TASK, &t->base);
	store_task_free(t);
}

/* The one task of the slot meant to run, or NULL. */
static inline const Shoal__Task *lt_slot_task(const char *service_id, uint64_t slot)
{
	struct lt_tasks l = lt_tasks_of(service_id);
	const Shoal__Task *found = NULL;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->slot == slot && l.t[i]->desired_state <= ST(RUNNING)) {
			cr_assert_null(found, "two runnable tasks in slot %llu",
				       (unsigned long long) slot);
			found = l.t[i];
		}
	return found;
}

/* Reports every runnable assigned task of the service as RUNNING. */
static inline void lt_run_all(const char *service_id)
{
	struct lt_tasks l = lt_tasks_of(service_id);
	char ids[LT_MAX_TASKS][ID_LEN + 1];
	size_t n = 0;

	for (size_t i = 0; i < l.n; i++)
		if (l.t[i]->status->state == ST(ASSIGNED) && l.t[i]->desired_state <= ST(RUNNING))
			snprintf(ids[n++], ID_LEN + 1, "%s", l.t[i]->meta->id);
	for (size_t i = 0; i < n; i++)
		lt_report(ids[i], ST(RUNNING), 0);
}

#endif
