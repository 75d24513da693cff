/* manager/store, watchers with a node filter (kept in a table by node id, not on the list every
 * event walks) and wake-only watchers: each node's watcher sees exactly the changes of its own
 * node and of the tasks on it before or after the change, however many nodes there are; a
 * wake-only watcher is notified once per batch and never queues a copy. */
#include <errno.h>

#include "test_store.h"

#define NODES 64

static void next_event(struct store_watch *w, struct store_event *ev)
{
	cr_assert_eq(store_watch_next(w, ev), 1, "expected an event");
}

struct wake {
	int calls;
	struct store_watch *w;
	int free_on_notify;
};

static void on_wake(struct store_watch *w, void *data)
{
	struct wake *k = data;

	cr_assert_eq(w, k->w);
	k->calls++;
	if (k->free_on_notify) {
		store_watch_free(w);
		k->w = NULL;
	}
}

/* Moves task `t` to node `node` (any service s1). */
static void move(struct store *s, const char *t, const char *svc, const char *node)
{
	cr_assert_eq(apply1(s, UPDATE, STORE_TASK,
			    mk_task(t, svc, node, 0, version_of(s, STORE_TASK, t)), NULL),
		     0);
}

Test(store_watch_node, each_node_sees_only_its_own_tasks)
{
	struct store *s = store_new();
	char nid[NODES][26], t1[26], t2[26], svc[26];
	struct store_watch *w[NODES], *twin, *all;
	struct store_event ev;

	mkid(svc, "s", 1);
	mkid(t1, "t", 1);
	mkid(t2, "t", 2);
	for (unsigned i = 0; i < NODES; i++) {
		mkid(nid[i], "n", i);
		w[i] = store_watch_new(s, &(struct store_watch_filter){.node_id = nid[i]});
	}
	/* A second watcher on node 3 shares its slot in the table. */
	twin = store_watch_new(s, &(struct store_watch_filter){
				      .node_id = nid[3], .kinds = STORE_KIND_BIT(STORE_TASK)});
	all = store_watch_new(s, NULL);

	MUST_CREATE(s, STORE_SERVICE, mk_service(svc, "web", 0));
	MUST_CREATE(s, STORE_NODE, mk_node(nid[3], "h3", "", 0));
	MUST_CREATE(s, STORE_TASK, mk_task(t1, svc, nid[3], 0, 0));
	MUST_CREATE(s, STORE_TASK, mk_task(t2, svc, "", 0, 0));
	move(s, t1, svc, nid[7]); /* old on 3, new on 7: both see it */
	move(s, t2, svc, nid[7]);
	cr_assert_eq(apply1(s, REMOVE, STORE_TASK, mk_task(t1, "", "", 0, 0), NULL), 0);

	cr_assert_eq(store_watch_pending(all), 7);
	cr_assert_eq(store_watch_pending(w[3]), 3, "node 3 itself, t1 created, t1 moved away");
	next_event(w[3], &ev);
	cr_assert_eq(ev.kind, STORE_NODE);
	store_event_free(&ev);
	next_event(w[3], &ev);
	cr_assert_eq(ev.action, STORE_CREATE);
	cr_assert_str_eq(ev.obj.task->node_id, nid[3]);
	store_event_free(&ev);
	next_event(w[3], &ev);
	cr_assert_str_eq(ev.old.task->node_id, nid[3]);
	cr_assert_str_eq(ev.obj.task->node_id, nid[7]);
	store_event_free(&ev);
	cr_assert_eq(store_watch_pending(twin), 2, "tasks only");
	cr_assert_eq(store_watch_pending(w[7]), 3, "t1 moved in, t2 moved in, t1 removed");
	for (unsigned i = 0; i < NODES; i++)
		if (i != 3 && i != 7)
			cr_assert_eq(store_watch_pending(w[i]), 0, "node %u saw another's task", i);

	/* Freed from the middle and the head of a shared slot, the rest keep working. */
	store_watch_free(w[3]);
	MUST_CREATE(s, STORE_TASK, mk_task(t1, svc, nid[3], 0, 0));
	cr_assert_eq(store_watch_pending(twin), 3);
	store_watch_free(twin);
	move(s, t1, svc, nid[5]);
	cr_assert_eq(store_watch_pending(w[5]), 1);

	for (unsigned i = 0; i < NODES; i++)
		if (i != 3)
			store_watch_free(w[i]);
	store_watch_free(all);
	store_free(s);
}

Test(store_watch_node, wake_only_notifies_once_per_batch_without_events)
{
	struct store *s = store_new();
	struct wake k = {0}, other = {0};
	struct store_event ev;
	struct store_result res;
	struct tbatch t;
	char n1[26], n2[26], svc[26], id[26];

	mkid(svc, "s", 1);
	mkid(n1, "n", 1);
	mkid(n2, "n", 2);
	k.w = store_watch_new(s, &(struct store_watch_filter){.node_id = n1,
							      .kinds = STORE_KIND_BIT(STORE_TASK),
							      .wake_only = 1,
							      .notify = on_wake,
							      .data = &k});
	other.w = store_watch_new(
	    s, &(struct store_watch_filter){.wake_only = 1, .notify = on_wake, .data = &other});
	MUST_CREATE(s, STORE_SERVICE, mk_service(svc, "web", 0));
	cr_assert_eq(k.calls, 0, "not a task on n1");
	cr_assert_eq(other.calls, 1);

	tb_init(&t, NULL, TS_BASE);
	for (unsigned i = 0; i < 5; i++) {
		mkid(id, "t", i);
		tb_add(&t, CREATE, STORE_TASK, mk_task(id, svc, i < 3 ? n1 : n2, 0, 0));
	}
	cr_assert_eq(tb_apply(s, &t, &res), 0);
	tb_free(&t);
	cr_assert_eq(k.calls, 1, "once for the batch of 3 tasks on n1");
	cr_assert_eq(other.calls, 2);
	cr_assert_eq(store_watch_pending(k.w), 0, "nothing queued");
	cr_assert_eq(store_watch_next(k.w, &ev), 0);
	cr_assert_null(ev.obj.msg);

	mkid(id, "t", 4);
	move(s, id, svc, n1);
	cr_assert_eq(k.calls, 2, "woken again without draining");

	/* The callback may free its own wake-only node watcher. */
	k.free_on_notify = 1;
	mkid(id, "t", 3);
	move(s, id, svc, n1);
	cr_assert_eq(k.calls, 3);
	cr_assert_null(k.w);
	move(s, id, svc, n2);
	cr_assert_eq(k.calls, 3);
	cr_assert_eq(other.calls, 5);
	store_watch_free(other.w);
	store_free(s);
}

Test(store_watch_node, node_watchers_outlive_the_store)
{
	struct store *s = store_new();
	char n1[26];
	struct store_watch *a, *b;

	mkid(n1, "n", 1);
	a = store_watch_new(s, &(struct store_watch_filter){.node_id = n1});
	b = store_watch_new(s, &(struct store_watch_filter){.node_id = n1, .wake_only = 1});
	MUST_CREATE(s, STORE_NODE, mk_node(n1, "h1", "", 0));
	cr_assert_eq(store_watch_pending(a), 1);
	store_free(s);
	cr_assert_eq(store_watch_pending(a), 1, "queued events stay readable");
	store_watch_free(b);
	store_watch_free(a);
}

Test(store_watch_node, shared_watchers_share_one_copy)
{
	struct store *s = store_new();
	struct store_watch *a, *b, *own;
	struct store_event ea, eb, eo;
	char n1[26], svc[26], t1[26];

	mkid(svc, "s", 1);
	mkid(n1, "n", 1);
	mkid(t1, "t", 1);
	a = store_watch_new(s, &(struct store_watch_filter){.shared = 1});
	b = store_watch_new(s, &(struct store_watch_filter){.shared = 1});
	own = store_watch_new(s, NULL);
	MUST_CREATE(s, STORE_TASK, mk_task(t1, svc, n1, 0, 0));
	move(s, t1, svc, "");
	next_event(a, &ea);
	next_event(b, &eb);
	next_event(own, &eo);
	cr_assert_eq(ea.obj.task, eb.obj.task, "one copy for both shared watchers");
	cr_assert_neq(ea.obj.task, eo.obj.task, "a private copy for the other");
	cr_assert_neq(ea.obj.task, store_get_task(s, t1), "a copy, not the stored object");
	store_event_free(&ea);
	cr_assert_null(ea.obj.msg);
	cr_assert_str_eq(eb.obj.task->meta->id, t1, "still valid for the other watcher");
	store_event_free(&eb);
	store_event_free(&eo);
	/* The update: old and new shared the same way; a queue dropped with its watcher. */
	next_event(a, &ea);
	cr_assert_str_eq(ea.old.task->node_id, n1);
	cr_assert_str_eq(ea.obj.task->node_id, "");
	store_watch_free(b);
	cr_assert_str_eq(ea.old.task->node_id, n1);
	store_event_free(&ea);
	store_watch_free(a);
	store_watch_free(own);
	store_free(s);
}
