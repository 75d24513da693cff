/* assign: what each node must run, streamed as it changes.
 *
 * A subscription per connected node watches the node's tasks and every
 * secret and config. When something changed (coalesced to one pass per loop
 * iteration) it computes the node's whole assignment set from the store:
 * its tasks past ASSIGNED, plus the secrets and configs those tasks
 * reference while they may still run. It diffs that against what it sent
 * before (id -> version) and hands the owner one message with only the
 * differences. The first message is COMPLETE. Computing from the store
 * instead of folding events keeps a lost event or a restored snapshot from
 * ever desynchronising a worker. */
#include "manager/dispatcher/disp.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "manager/store/smap.h"

struct sent {
	char *id;
	uint64_t version;
	int kind; /* STORE_TASK, STORE_SECRET, STORE_CONFIG */
	int seen; /* marked during a pass */
};

struct disp_assign {
	struct disp *d;
	char node_id[ID_LEN + 1];
	struct store_watch *w_tasks;
	struct store_smap sent; /* id -> struct sent* */
	int complete_sent;
	int closing;
	uv_timer_t timer; /* a 0 ms timer coalesces the wake-ups */
	disp_assign_cb cb;
	void *arg;
	struct disp_assign *prev, *next;
};

/* A message under construction: changes own their objects. */
struct amsg {
	Shoal__AssignmentsMessage m;
	size_t cap;
};

static void amsg_add(struct amsg *a, int action, int kind, ProtobufCMessage *obj)
{
	Shoal__AssignmentChange *c = xmalloc(sizeof(*c));
	Shoal__Assignment *as = xmalloc(sizeof(*as));

	shoal__assignment_change__init(c);
	shoal__assignment__init(as);
	if (kind == STORE_TASK) {
		as->item_case = SHOAL__ASSIGNMENT__ITEM_TASK;
		as->task = (Shoal__Task *) obj;
	} else if (kind == STORE_SECRET) {
		as->item_case = SHOAL__ASSIGNMENT__ITEM_SECRET;
		as->secret = (Shoal__Secret *) obj;
	} else {
		as->item_case = SHOAL__ASSIGNMENT__ITEM_CONFIG;
		as->config = (Shoal__Config *) obj;
	}
	c->assignment = as;
	c->action = action;
	if (a->m.n_changes == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->m.changes = xrealloc(a->m.changes, a->cap * sizeof(*a->m.changes));
	}
	a->m.changes[a->m.n_changes++] = c;
}

/* A removal names the object by id only. */
static ProtobufCMessage *stub_of(int kind, const char *id)
{
	Shoal__Meta *meta = xmalloc(sizeof(*meta));

	shoal__meta__init(meta);
	meta->id = xstrdup(id);
	if (kind == STORE_TASK) {
		Shoal__Task *t = xmalloc(sizeof(*t));
		shoal__task__init(t);
		t->meta = meta;
		return &t->base;
	}
	if (kind == STORE_SECRET) {
		Shoal__Secret *s = xmalloc(sizeof(*s));
		shoal__secret__init(s);
		s->meta = meta;
		return &s->base;
	}
	Shoal__Config *c = xmalloc(sizeof(*c));
	shoal__config__init(c);
	c->meta = meta;
	return &c->base;
}

struct pass {
	struct disp_assign *a;
	struct amsg msg;
};

/* Adds `obj` (stored, borrowed) unless the node already has this version. */
static void offer(struct pass *p, int kind, const char *id, uint64_t version,
		  const ProtobufCMessage *obj)
{
	struct sent *s = store_smap_get(&p->a->sent, id);

	if (s) {
		if (s->seen)
			return; /* a secret referenced by two tasks */
		s->seen = 1;
		if (s->version == version)
			return;
		s->version = version;
	} else {
		s = xcalloc(1, sizeof(*s));
		s->id = xstrdup(id);
		s->version = version;
		s->kind = kind;
		s->seen = 1;
		store_smap_put(&p->a->sent, s->id, s);
	}
	amsg_add(&p->msg, SHOAL__ASSIGNMENT_CHANGE__ACTION__UPDATE, kind, store_dup(obj));
}

static void offer_refs(struct pass *p, const Shoal__Task *t)
{
	const Shoal__ContainerSpec *c = t->spec ? t->spec->container : NULL;
	const struct store *st = p->a->d->store;

	if (!c || t->desired_state > SHOAL__TASK_STATE__TASK_STATE_RUNNING ||
	    (t->status && t->status->state > SHOAL__TASK_STATE__TASK_STATE_RUNNING))
		return;
	for (size_t i = 0; i < c->n_secrets; i++) {
		const Shoal__Secret *s = store_get_secret(st, c->secrets[i]->secret_id);
		if (s)
			offer(p, STORE_SECRET, s->meta->id, s->meta->version, &s->base);
	}
	for (size_t i = 0; i < c->n_configs; i++) {
		const Shoal__Config *cf = store_get_config(st, c->configs[i]->config_id);
		if (cf)
			offer(p, STORE_CONFIG, cf->meta->id, cf->meta->version, &cf->base);
	}
}

static int offer_task(const void *obj, void *arg)
{
	const Shoal__Task *t = obj;
	struct pass *p = arg;

	if (!t->status || t->status->state < SHOAL__TASK_STATE__TASK_STATE_ASSIGNED)
		return 0;
	offer(p, STORE_TASK, t->meta->id, t->meta->version, &t->base);
	offer_refs(p, t);
	return 0;
}

static void drain(struct store_watch *w)
{
	struct store_event ev;

	while (w && store_watch_next(w, &ev) != 0)
		store_event_free(&ev);
}

static void run_pass(uv_timer_t *timer)
{
	struct disp_assign *a = timer->data;
	struct pass p = {.a = a};
	const char *key;
	struct sent *s;

	drain(a->w_tasks);
	shoal__assignments_message__init(&p.msg.m);
	p.msg.m.type = a->complete_sent ? SHOAL__ASSIGNMENTS_MESSAGE__TYPE__INCREMENTAL
					: SHOAL__ASSIGNMENTS_MESSAGE__TYPE__COMPLETE;
	store_tasks_by_node(a->d->store, a->node_id, offer_task, &p);
	/* What was sent and is no longer wanted goes away. Collected first:
	 * deleting shifts the map's entries under the iteration. */
	struct sent **gone = NULL;
	size_t n_gone = 0;
	for (size_t i = 0; store_smap_next(&a->sent, &i, &key, (void **) &s);) {
		if (s->seen) {
			s->seen = 0;
			continue;
		}
		gone = xrealloc(gone, (n_gone + 1) * sizeof(*gone));
		gone[n_gone++] = s;
	}
	for (size_t i = 0; i < n_gone; i++) {
		s = gone[i];
		if (a->complete_sent) /* a COMPLETE message implies the removals */
			amsg_add(&p.msg, SHOAL__ASSIGNMENT_CHANGE__ACTION__REMOVE, s->kind,
				 stub_of(s->kind, s->id));
		store_smap_del(&a->sent, s->id);
		free(s->id);
		free(s);
	}
	free(gone);
	if (p.msg.m.n_changes || !a->complete_sent) {
		a->complete_sent = 1;
		a->cb(a->arg, &p.msg.m);
	}
	for (size_t i = 0; i < p.msg.m.n_changes; i++)
		shoal__assignment_change__free_unpacked(p.msg.m.changes[i], NULL);
	free(p.msg.m.changes);
}

static void wake(struct store_watch *w, void *data)
{
	struct disp_assign *a = data;

	(void) w;
	if (!a->closing && !uv_is_active((uv_handle_t *) &a->timer))
		uv_timer_start(&a->timer, run_pass, 0, 0);
}

struct disp_assign *disp_assign_open(struct disp *d, const char *node_id, disp_assign_cb cb,
				     void *arg)
{
	struct disp_assign *a;
	struct store_watch_filter f = {0};

	if (!d->running)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->d = d;
	snprintf(a->node_id, sizeof(a->node_id), "%s", node_id);
	a->cb = cb;
	a->arg = arg;
	store_smap_init(&a->sent, 0);
	uv_timer_init(d->loop, &a->timer);
	a->timer.data = a;
	/* A pass recomputes the node's set from the store: the watchers only wake it, and
	 * queue no copies of the objects (1,000 nodes x every task change otherwise). */
	f.wake_only = 1;
	f.kinds = STORE_KIND_BIT(STORE_TASK);
	f.node_id = a->node_id;
	f.notify = wake;
	f.data = a;
	a->w_tasks = store_watch_new(d->store, &f);
	a->next = d->assigns;
	if (a->next)
		a->next->prev = a;
	d->assigns = a;
	uv_timer_start(&a->timer, run_pass, 0, 0);
	return a;
}

static void assign_closed(uv_handle_t *h)
{
	struct disp_assign *a = h->data;
	const char *key;
	struct sent *s;

	for (size_t i = 0; store_smap_next(&a->sent, &i, &key, (void **) &s);) {
		free(s->id);
		free(s);
	}
	store_smap_free(&a->sent);
	free(a);
}

void disp_assign_close(struct disp_assign *a)
{
	struct disp *d;

	if (!a || a->closing)
		return;
	d = a->d;
	a->closing = 1;
	if (a->prev)
		a->prev->next = a->next;
	else
		d->assigns = a->next;
	if (a->next)
		a->next->prev = a->prev;
	store_watch_free(a->w_tasks);
	a->w_tasks = NULL;
	uv_close((uv_handle_t *) &a->timer, assign_closed);
}

/* Secrets and configs change rarely: one watcher for the dispatcher wakes every subscription,
 * instead of one per node that every task event would be matched against. */
static void blobs_changed(struct store_watch *w, void *data)
{
	struct disp *d = data;

	drain(w);
	for (struct disp_assign *a = d->assigns; a; a = a->next)
		wake(NULL, a);
}

void disp_assign_init(struct disp *d)
{
	struct store_watch_filter f = {0};

	f.kinds = STORE_KIND_BIT(STORE_SECRET) | STORE_KIND_BIT(STORE_CONFIG);
	f.wake_only = 1;
	f.notify = blobs_changed;
	f.data = d;
	d->blob_watch = store_watch_new(d->store, &f);
}

void disp_assign_close_all(struct disp *d)
{
	store_watch_free(d->blob_watch);
	d->blob_watch = NULL;
	while (d->assigns) {
		struct disp_assign *a = d->assigns;
		disp_assign_cb cb = a->cb;
		void *arg = a->arg;

		disp_assign_close(a);
		cb(arg, NULL); /* the owner ends its stream */
	}
}
