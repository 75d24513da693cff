/* Watch queues: each watcher has a filter and a bounded FIFO of events holding deep copies of
 * the objects. The store queues events after a batch commits and then fires the notify
 * callbacks; the consumer drains at its own pace. A watcher that falls too far behind loses its
 * queue and is told to resync, so a stuck consumer never makes the manager's memory grow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "manager/store/store_int.h"

struct store_event_node {
	struct store_event ev;
	struct store_event_node *next;
};

struct store_watch {
	struct store *store; /* NULL once the store is freed */
	struct store_watch *prev, *next;
	unsigned kinds, actions;
	char *id, *service_id, *node_id; /* owned, NULL = any */
	size_t max;
	store_notify_cb notify;
	void *data;
	struct store_event_node *head, *tail;
	size_t len;
	int overflowed;
	int notify_pending; /* on the store's pending list */
	int wake_only;
	int shared;
	uint64_t node_key;		/* hash of node_id, when set */
	struct store_watch *chain_next; /* next watcher in the same node_watchers slot */
	struct store_watch *pend_next;
};

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle */

static char *dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* FNV-1a; 0 is the map's empty key. */
static uint64_t node_key(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++)
		h = (h ^ (uint8_t) *id) * 1099511628211ull;
	return h ? h : 1;
}

struct store_watch *store_watch_new(struct store *s, const struct store_watch_filter *filter)
{
	struct store_watch_filter all = {0};
	struct store_watch *w;

	if (!s)
		return NULL;
	if (!filter)
		filter = &all;
	w = xcalloc(1, sizeof(*w));
	w->store = s;
	w->kinds = filter->kinds ? filter->kinds : STORE_KIND_ALL;
	w->actions = filter->actions ? filter->actions : STORE_ACTION_ALL;
	w->id = dup_opt(filter->id);
	w->service_id = dup_opt(filter->service_id);
	w->node_id = dup_opt(filter->node_id);
	w->max = filter->max_events ? filter->max_events : STORE_WATCH_MAX;
	w->wake_only = filter->wake_only;
	w->shared = filter->shared;
	w->notify = filter->notify;
	w->data = filter->data;
	if (w->node_id) {
		w->node_key = node_key(w->node_id);
		w->chain_next = map_get(&s->node_watchers, w->node_key);
		map_put(&s->node_watchers, w->node_key, w);
		return w;
	}
	w->prev = s->watchers_tail;
	if (s->watchers_tail)
		s->watchers_tail->next = w;
	else
		s->watchers = w;
	s->watchers_tail = w;
	return w;
}

/* One deep copy of an event's objects, shared by the watchers that asked for it. */
struct store_shared_copy {
	unsigned refs;
	ProtobufCMessage *obj, *old;
};

void store_event_free(struct store_event *ev)
{
	if (!ev)
		return;
	if (ev->shared) {
		if (--ev->shared->refs == 0) {
			store_msg_free(ev->shared->obj);
			store_msg_free(ev->shared->old);
			free(ev->shared);
		}
		memset(ev, 0, sizeof(*ev));
		return;
	}
	store_msg_free(ev->obj.msg);
	store_msg_free(ev->old.msg);
	memset(ev, 0, sizeof(*ev));
}

static void drop_queue(struct store_watch *w)
{
	struct store_event_node *n, *next;

	for (n = w->head; n; n = next) {
		next = n->next;
		store_event_free(&n->ev);
		free(n);
	}
	w->head = w->tail = NULL;
	w->len = 0;
}

static void unlink_pending(struct store *s, struct store_watch *w)
{
	struct store_watch **pp = &s->pending, *prev = NULL;

	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->pend_next;
	}
	if (!*pp)
		return;
	*pp = w->pend_next;
	if (s->pending_tail == w)
		s->pending_tail = prev;
	w->pend_next = NULL;
}

static void unlink_node_watcher(struct store *s, struct store_watch *w)
{
	struct store_watch *head = map_get(&s->node_watchers, w->node_key), **pp;

	if (head == w) {
		if (w->chain_next)
			map_put(&s->node_watchers, w->node_key, w->chain_next);
		else
			map_del(&s->node_watchers, w->node_key);
		return;
	}
	for (pp = &head; *pp; pp = &(*pp)->chain_next)
		if (*pp == w) {
			*pp = w->chain_next;
			return;
		}
}

void store_watch_free(struct store_watch *w)
{
	if (!w)
		return;
	if (w->store) {
		if (w->notify_pending)
			unlink_pending(w->store, w);
		if (w->node_id) {
			unlink_node_watcher(w->store, w);
		} else {
			if (w->prev)
				w->prev->next = w->next;
			else
				w->store->watchers = w->next;
			if (w->next)
				w->next->prev = w->prev;
			else
				w->store->watchers_tail = w->prev;
		}
	}
	drop_queue(w);
	free(w->id);
	free(w->service_id);
	free(w->node_id);
	free(w);
}

/* Calls fn on every watcher; fn must not free watchers. */
static void for_each_watcher(struct store *s, void (*fn)(struct store *s, struct store_watch *w))
{
	uint64_t key;
	void *v;

	for (struct store_watch *w = s->watchers; w; w = w->next)
		fn(s, w);
	for (size_t i = 0; map_next(&s->node_watchers, &i, &key, &v);)
		for (struct store_watch *w = v; w; w = w->chain_next)
			fn(s, w);
}

static void detach(struct store *s, struct store_watch *w)
{
	(void) s;
	w->store = NULL;
	w->notify_pending = 0;
}

void store_watch_detach_all(struct store *s)
{
	struct store_watch *w, *next;

	for_each_watcher(s, detach);
	for (w = s->watchers; w; w = next) {
		next = w->next;
		w->prev = w->next = NULL;
	}
	s->watchers = s->watchers_tail = NULL;
	map_free(&s->node_watchers);
	memset(&s->node_watchers, 0, sizeof(s->node_watchers));
	s->pending = s->pending_tail = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer side */

int store_watch_next(struct store_watch *w, struct store_event *ev)
{
	struct store_event_node *n;

	if (!w || !ev)
		return -EINVAL;
	memset(ev, 0, sizeof(*ev));
	if (w->overflowed) {
		w->overflowed = 0;
		return -ENOBUFS;
	}
	if (!(n = w->head))
		return 0;
	w->head = n->next;
	if (!w->head)
		w->tail = NULL;
	w->len--;
	*ev = n->ev;
	free(n);
	return 1;
}

size_t store_watch_pending(const struct store_watch *w)
{
	return w ? w->len : 0;
}

int store_watch_overflowed(const struct store_watch *w)
{
	return w ? w->overflowed : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Producer side */

/* Whether a change of `kind` concerns the object `id` of kind `owner` (a service or a node):
 * it is that object, or a task pointing at it before or after the change. */
static int related(enum store_kind kind, const void *obj, const void *old, enum store_kind owner,
		   const char *id)
{
	const void *objs[2] = {obj, old};

	if (kind == owner)
		return strcmp(store_obj_id(kind, obj ? obj : old), id) == 0;
	if (kind != STORE_TASK)
		return 0;
	for (int i = 0; i < 2; i++) {
		const Shoal__Task *t = objs[i];

		if (!t)
			continue;
		if (strcmp(owner == STORE_SERVICE ? t->service_id : t->node_id, id) == 0)
			return 1;
	}
	return 0;
}

static int match(const struct store_watch *w, enum store_kind kind, enum store_action action,
		 const void *obj, const void *old)
{
	if (!(w->kinds & STORE_KIND_BIT(kind)) || !(w->actions & STORE_ACTION_BIT(action)))
		return 0;
	if (w->id && strcmp(store_obj_id(kind, obj ? obj : old), w->id) != 0)
		return 0;
	if (w->service_id && !related(kind, obj, old, STORE_SERVICE, w->service_id))
		return 0;
	if (w->node_id && !related(kind, obj, old, STORE_NODE, w->node_id))
		return 0;
	return 1;
}

/* An object packed once and unpacked into a fresh copy for each watcher that wants it. */
struct packed {
	uint8_t *data;
	size_t len;
	int done;
};

static ProtobufCMessage *copy_from(struct packed *p, const void *obj)
{
	const ProtobufCMessage *m = obj;
	ProtobufCMessage *copy;

	if (!m)
		return NULL;
	if (!p->done) {
		p->len = protobuf_c_message_get_packed_size(m);
		p->data = xmalloc(p->len ? p->len : 1);
		protobuf_c_message_pack(m, p->data);
		p->done = 1;
	}
	copy = protobuf_c_message_unpack(m->descriptor, NULL, p->len, p->data);
	if (!copy)
		abort(); /* our own encoding always decodes: out of memory */
	return copy;
}

/* Puts `w` on the list of watchers to notify at the end of the apply. */
static void mark_pending(struct store *s, struct store_watch *w)
{
	if (w->notify_pending)
		return;
	w->notify_pending = 1;
	w->pend_next = NULL;
	if (s->pending_tail)
		s->pending_tail->pend_next = w;
	else
		s->pending = w;
	s->pending_tail = w;
}

struct emission {
	enum store_kind kind;
	enum store_action action;
	const void *obj, *old;
	uint64_t index;
	struct packed pobj, pold;
	struct store_shared_copy *sc; /* made at the first shared watcher */
};

static void deliver(struct store *s, struct store_watch *w, struct emission *e)
{
	struct store_event_node *n;

	if (w->overflowed || !match(w, e->kind, e->action, e->obj, e->old))
		return;
	if (w->wake_only) {
		mark_pending(s, w);
		return;
	}
	if (w->len >= w->max) {
		/* The consumer is too far behind: drop everything rather than grow. */
		drop_queue(w);
		w->overflowed = 1;
		mark_pending(s, w);
		return;
	}
	n = xcalloc(1, sizeof(*n));
	n->ev.kind = e->kind;
	n->ev.action = e->action;
	n->ev.index = e->index;
	if (w->shared) {
		if (!e->sc) {
			e->sc = xcalloc(1, sizeof(*e->sc));
			e->sc->obj = copy_from(&e->pobj, e->obj);
			e->sc->old = copy_from(&e->pold, e->old);
		}
		e->sc->refs++;
		n->ev.shared = e->sc;
		n->ev.obj.msg = e->sc->obj;
		n->ev.old.msg = e->sc->old;
	} else {
		n->ev.obj.msg = copy_from(&e->pobj, e->obj);
		n->ev.old.msg = copy_from(&e->pold, e->old);
	}
	if (w->tail)
		w->tail->next = n;
	else
		w->head = n;
	w->tail = n;
	if (w->len++ == 0)
		mark_pending(s, w);
}

static void deliver_node(struct store *s, const char *node_id, struct emission *e)
{
	if (!node_id || !s->node_watchers.len)
		return;
	for (struct store_watch *w = map_get(&s->node_watchers, node_key(node_id)); w;
	     w = w->chain_next)
		deliver(s, w, e);
}

void store_watch_emit(struct store *s, enum store_kind kind, enum store_action action,
		      const void *obj, const void *old, uint64_t index)
{
	struct emission e = {
	    .kind = kind, .action = action, .obj = obj, .old = old, .index = index};

	for (struct store_watch *w = s->watchers; w; w = w->next)
		deliver(s, w, &e);
	/* Watchers with a node filter only care about that node and the tasks on it (before or
	 * after the change). */
	if (kind == STORE_NODE) {
		deliver_node(s, store_obj_id(kind, obj ? obj : old), &e);
	} else if (kind == STORE_TASK) {
		const Shoal__Task *t = obj, *o = old;
		const char *a = t ? t->node_id : NULL, *b = o ? o->node_id : NULL;
		deliver_node(s, a, &e);
		if (b && (!a || strcmp(a, b) != 0))
			deliver_node(s, b, &e);
	}
	free(e.pobj.data);
	free(e.pold.data);
}

void store_watch_flush(struct store *s)
{
	struct store_watch *w;

	/* The callback may free its own watcher (taken off the list first) but no other. */
	while ((w = s->pending)) {
		s->pending = w->pend_next;
		if (!s->pending)
			s->pending_tail = NULL;
		w->pend_next = NULL;
		w->notify_pending = 0;
		if (w->notify)
			w->notify(w, w->data);
	}
}

static void reset(struct store *s, struct store_watch *w)
{
	drop_queue(w);
	w->overflowed = 1;
	mark_pending(s, w);
}

void store_watch_reset_all(struct store *s)
{
	for_each_watcher(s, reset);
	store_watch_flush(s);
}
