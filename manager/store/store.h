/* store: the replicated cluster state every manager keeps in memory.
 *
 * Tables of nodes, services, tasks, networks, clusters, secrets and configs, each holding
 * deep-owned unpacked protobuf objects (proto/objects.proto), with indexes by id, by name and,
 * for tasks, by service, node and desired state. Raft applies each committed entry (a packed
 * Shoal__StoreActionBatch) with store_apply(); everything else reads the store and learns of
 * changes through watch queues.
 *
 * The store is pure: no raft, no libuv, no I/O, no clock, no locks. It is not thread-safe: the
 * caller runs applies, reads and watch draining on one thread (the manager's loop).
 *
 * Determinism: applying the same entries in the same order gives the same tables, the same
 * outcomes and byte-identical snapshots on every manager. Timestamps come from the batch,
 * versions from the Raft index. Iteration order (store_foreach and the task queries) is not
 * specified; snapshots are sorted by id.
 *
 * Names: unique per table for services, networks, clusters, secrets and configs; nodes
 * (hostname and spec name) and tasks (annotations.name) may share names. Names compare ASCII
 * case-insensitively, as swarmkit does ("Web" conflicts with "web"). Empty names are not
 * indexed. Ids must be 25 lower-case base36 characters (common/id.h).
 *
 * Typed helpers for every kind (node, service, task, network, cluster, secret, config) are
 * defined at the end of this header: store_get_<kind>, store_find_<kind>_by_name,
 * store_find_<kind>_by_prefix, store_resolve_<kind>, store_foreach_<kind>, store_dup_<kind>,
 * store_<kind>_free. */
#ifndef SHOAL_MANAGER_STORE_STORE_H
#define SHOAL_MANAGER_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/objects.pb-c.h"
#include "proto/store.pb-c.h"

/* ------------------------------------------------------------------------------------------ */
/* Kinds, actions, results */

/* One table per kind. */
enum store_kind {
	STORE_NODE,
	STORE_SERVICE,
	STORE_TASK,
	STORE_NETWORK,
	STORE_CLUSTER,
	STORE_SECRET,
	STORE_CONFIG,
	STORE_KIND_COUNT
};

#define STORE_KIND_BIT(k) (1u << (k))
#define STORE_KIND_ALL	  ((1u << STORE_KIND_COUNT) - 1)

/* Same values as Shoal__StoreAction__Kind. */
enum store_action {
	STORE_CREATE = 1,
	STORE_UPDATE = 2,
	STORE_REMOVE = 3,
};

#define STORE_ACTION_BIT(a) (1u << (a))
#define STORE_ACTION_ALL                                                                           \
	(STORE_ACTION_BIT(STORE_CREATE) | STORE_ACTION_BIT(STORE_UPDATE) |                         \
	 STORE_ACTION_BIT(STORE_REMOVE))

#define STORE_MSG_MAX	      256    /* result and error message buffers */
#define STORE_REQUEST_IDS_MAX 10000  /* recent request ids remembered, oldest dropped first */
#define STORE_REQUEST_ID_LEN  128    /* longest request id accepted, in bytes */
#define STORE_WATCH_MAX	      100000 /* default bound of a watch queue, in events */

/* The outcome of one apply. A business rejection is not an error of store_apply itself: it
 * returns 0 and the outcome is here, identical on every manager. */
struct store_result {
	int err;       /* 0, -EEXIST, -ENOENT, -SHOAL_EVERSION or -EINVAL */
	int duplicate; /* 1: the request id was applied before; err/msg are that first outcome */
	int action;    /* index of the action that failed, or -1 */
	char msg[STORE_MSG_MAX]; /* "" on success, else e.g. "service web already exists" */
};

/* Iteration callback: `obj` is a borrowed const object of the iterated kind (cast it to
 * `const Shoal__Task *` and so on). Return 0 to continue; any other value stops the iteration
 * and is returned by the iterating function. The callback must not apply to the store. */
typedef int (*store_iter_cb)(const void *obj, void *arg);

struct store;

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle */

/* Returns an empty store at index 0. Aborts on OOM. Free with store_free(). */
struct store *store_new(void);

/* Frees the store and every object in it. Watchers still open are detached: their queued
 * events stay readable and each must still be released with store_watch_free(). NULL is a
 * no-op. */
void store_free(struct store *s);

/* The message of the last failed store_restore() or rejected programming error; "" if none.
 * Borrowed, valid until the next call on the store. */
const char *store_errmsg(const struct store *s);

/* ------------------------------------------------------------------------------------------ */
/* Applying Raft entries */

/* Applies the packed Shoal__StoreActionBatch `batch[0..len)` committed at Raft index `index`,
 * atomically (every action or none) and deterministically (created_at/updated_at come from
 * batch->timestamp; every created or updated object gets meta.version = index; an update keeps
 * the stored created_at).
 *
 * Action rules: CREATE needs a new id and, in name-unique tables, an unused name (-EEXIST);
 * UPDATE needs the object to exist (-ENOENT), meta.version equal to the stored version
 * (-SHOAL_EVERSION, "update out of sequence") and a name not used by another object (-EEXIST);
 * REMOVE needs the object to exist (-ENOENT) and, when meta.version is not 0, that version to
 * match (-SHOAL_EVERSION). An undecodable batch, an UNKNOWN kind, a missing object or meta, or
 * an invalid id is -EINVAL. Actions apply in order: a later action sees the earlier ones.
 *
 * Request ids: a batch whose non-empty request_id is among the last STORE_REQUEST_IDS_MAX
 * applied is not applied again; res->duplicate is set and res carries the first outcome
 * (rejections included). An empty request id is never deduplicated.
 *
 * Always fills `res` and advances store_index() to `index` when it returns 0, whatever the
 * outcome; on success, watchers receive the batch's events before this returns. Returns
 * -EINVAL without touching the store only for programming errors: NULL arguments, or `index`
 * not greater than store_index() (then res, if not NULL, says so with err -EINVAL too). Raft's
 * FSM must treat that as fatal, not as an outcome. The store does not keep `batch`. */
int store_apply(struct store *s, const uint8_t *batch, size_t len, uint64_t index,
		struct store_result *res);

/* As store_apply() for a batch the caller already holds unpacked. The batch stays the
 * caller's and is not modified: the store deep-copies what it keeps. */
int store_apply_batch(struct store *s, const Shoal__StoreActionBatch *batch, uint64_t index,
		      struct store_result *res);

/* The Raft index of the last apply (or of the restored snapshot); 0 for a new store. */
uint64_t store_index(const struct store *s);

/* ------------------------------------------------------------------------------------------ */
/* Reading. Every pointer returned is borrowed and const, valid until the next store_apply(),
 * store_restore() or store_free(). Copy with store_dup() to keep or modify an object. */

/* Number of objects in a table. */
size_t store_count(const struct store *s, enum store_kind kind);

/* "node", "service", "task", "network", "cluster", "secret" or "config"; "object" otherwise. */
const char *store_kind_name(enum store_kind kind);

/* The object with this exact id, or NULL. */
const void *store_get(const struct store *s, enum store_kind kind, const char *id);

/* The object named `name` (case-insensitive, whole name). Returns 0 and sets *out, -ENOENT,
 * or -EEXIST when several objects share the name (nodes, tasks); *out is NULL unless 0. */
int store_find_by_name(const struct store *s, enum store_kind kind, const char *name,
		       const void **out);

/* Calls fn for each object named `name` (case-insensitive). Returns 0 or fn's stop value. */
int store_foreach_by_name(const struct store *s, enum store_kind kind, const char *name,
			  store_iter_cb fn, void *arg);

/* The one object whose id starts with `prefix` (case-sensitive, non-empty). Returns 0 and sets
 * *out, -ENOENT, or -EEXIST when the prefix is ambiguous. Scans the table: O(objects). */
int store_find_by_prefix(const struct store *s, enum store_kind kind, const char *prefix,
			 const void **out);

/* Docker's reference resolution: full id, then exact name, then unique id prefix. Returns 0
 * and sets *out; -ENOENT ("service web not found"); or -EEXIST when the name or prefix matches
 * several objects ("node x is ambiguous (2 matches found)"). On failure the message, in
 * Docker's words, is written to msg[0..msglen) when msg is not NULL. */
int store_resolve(const struct store *s, enum store_kind kind, const char *ref, const void **out,
		  char *msg, size_t msglen);

/* Calls fn for every object of a table, in no particular order. Returns 0 or fn's stop value. */
int store_foreach(const struct store *s, enum store_kind kind, store_iter_cb fn, void *arg);

/* The cluster object: shoal keeps one; with several, the one with the smallest id. NULL if
 * none yet. */
const Shoal__Cluster *store_get_cluster(const struct store *s);

/* Task queries: fn is called for each task of the service / on the node / with the desired
 * state, in no particular order; the callback API avoids copying arrays of pointers that a
 * later apply would invalidate. node_id "" selects the unassigned tasks. Return 0 or fn's
 * stop value. The counts are O(1). */
int store_tasks_by_service(const struct store *s, const char *service_id, store_iter_cb fn,
			   void *arg);
int store_tasks_by_node(const struct store *s, const char *node_id, store_iter_cb fn, void *arg);
int store_tasks_by_desired_state(const struct store *s, Shoal__TaskState state, store_iter_cb fn,
				 void *arg);
size_t store_count_tasks_by_service(const struct store *s, const char *service_id);
size_t store_count_tasks_by_node(const struct store *s, const char *node_id);
size_t store_count_tasks_by_desired_state(const struct store *s, Shoal__TaskState state);

/* ------------------------------------------------------------------------------------------ */
/* Copies */

/* Deep copy of any protobuf message (a stored object, an event object, a spec) through
 * pack/unpack; the caller owns the result and frees it with store_msg_free(). NULL gives NULL.
 * Aborts on OOM. */
void *store_dup(const ProtobufCMessage *msg);

/* Frees a message allocated by protobuf-c's unpacker (store_dup(), events). NULL is a no-op. */
void store_msg_free(void *msg);

/* ------------------------------------------------------------------------------------------ */
/* Watch queues */

struct store_watch;

/* Called when a watcher's queue goes from empty to non-empty, or when it overflows, from inside
 * store_apply()/store_restore() after the whole batch is queued. The callback may drain or free
 * its own watcher, and must not apply to or restore the store, nor free other watchers. */
typedef void (*store_notify_cb)(struct store_watch *w, void *data);

/* What a watcher wants. Every criterion set must match (AND). A zeroed filter matches every
 * change. Strings are copied by store_watch_new(). */
struct store_watch_filter {
	unsigned kinds;	  /* STORE_KIND_BIT()s; 0 = every table */
	unsigned actions; /* STORE_ACTION_BIT()s; 0 = every action */
	const char *id;	  /* only the object with this id */
	const char
	    *service_id;     /* only that service and tasks whose (old or new) service_id is it */
	const char *node_id; /* only that node and tasks whose (old or new) node_id is it */
	size_t max_events;   /* queue bound; 0 = STORE_WATCH_MAX */
	/* 1: queue nothing, only notify (once per apply with a matching change); for consumers
	 * that recompute from the store when woken. store_watch_next() then returns 0, or
	 * -ENOBUFS once after a restore. Saves a deep copy of every matching object. */
	int wake_only;
	/* 1: the event objects are one copy shared (reference counted) by every watcher with
	 * this flag, instead of a copy each; the consumer must treat them as read-only and must
	 * not steal them. For several leader components watching every task change. */
	int shared;
	store_notify_cb notify; /* optional */
	void *data;		/* passed to notify */
};

struct store_shared_copy;

/* One change. The objects are deep copies the event owns: `obj` is the object after the change
 * (NULL for a remove), `old` the object before it (NULL for a create). Release with
 * store_event_free(); a consumer may steal either pointer (set it to NULL) and free it later
 * with store_msg_free(). */
struct store_event {
	enum store_kind kind;
	enum store_action action;
	uint64_t index; /* Raft index of the batch */
	union store_event_obj {
		ProtobufCMessage *msg;
		Shoal__Node *node;
		Shoal__Service *service;
		Shoal__Task *task;
		Shoal__Network *network;
		Shoal__Cluster *cluster;
		Shoal__Secret *secret;
		Shoal__Config *config;
	} obj, old;
	struct store_shared_copy *shared; /* set when obj/old are shared (filter.shared) */
};

/* Opens a watcher receiving the changes of later applies that match `filter` (NULL = all).
 * Returns the watcher (NULL only if s is NULL; aborts on OOM); the caller owns it and frees it
 * with store_watch_free(). */
struct store_watch *store_watch_new(struct store *s, const struct store_watch_filter *filter);

/* Takes the oldest queued event into *ev (the caller then owns its objects: store_event_free).
 * Returns 1 with an event, 0 when the queue is empty, or -ENOBUFS once after the queue
 * overflowed (or the store was restored): the events in between are lost, so the consumer must
 * resync from the store's current state; events queue again from then on. */
int store_watch_next(struct store_watch *w, struct store_event *ev);

/* Events waiting in the queue. */
size_t store_watch_pending(const struct store_watch *w);

/* 1 if the queue overflowed and store_watch_next() has not reported it yet. */
int store_watch_overflowed(const struct store_watch *w);

/* Frees the objects of an event taken with store_watch_next() (or drops its reference to
 * shared ones) and clears it. */
void store_event_free(struct store_event *ev);

/* Closes the watcher and frees its queue. NULL is a no-op. Works after store_free(). */
void store_watch_free(struct store_watch *w);

/* ------------------------------------------------------------------------------------------ */
/* Snapshots */

/* Appends the whole store to `out` as a packed Shoal__Snapshot (format 1): every table sorted
 * by id, the remembered request ids oldest first, plus the last index and the request outcomes
 * (see snapshot.c). Equal stores give identical bytes. Returns 0. */
int store_snapshot(const struct store *s, struct buf *out);

/* Replaces the whole store with the snapshot `data[0..len)` (the caller keeps data). Everything
 * is validated first: on malformed input (undecodable, wrong format, object without a valid
 * id, duplicate ids or names) returns -EINVAL with store_errmsg() set and the store unchanged.
 * On success every watcher is marked overflowed (its next store_watch_next() returns -ENOBUFS)
 * and notified, since the state changed without events. */
int store_restore(struct store *s, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Typed helpers (static inline wrappers over the generic calls above) */

#define STORE_TYPED(name, type, kind)                                                              \
	static inline int store_find_##name##_by_name(const struct store *s, const char *n,        \
						      const type **out)                            \
	{                                                                                          \
		const void *o = NULL;                                                              \
		int rc = store_find_by_name(s, kind, n, &o);                                       \
		*out = (const type *) o;                                                           \
		return rc;                                                                         \
	}                                                                                          \
	static inline int store_find_##name##_by_prefix(const struct store *s, const char *p,      \
							const type **out)                          \
	{                                                                                          \
		const void *o = NULL;                                                              \
		int rc = store_find_by_prefix(s, kind, p, &o);                                     \
		*out = (const type *) o;                                                           \
		return rc;                                                                         \
	}                                                                                          \
	static inline int store_resolve_##name(const struct store *s, const char *ref,             \
					       const type **out, char *msg, size_t msglen)         \
	{                                                                                          \
		const void *o = NULL;                                                              \
		int rc = store_resolve(s, kind, ref, &o, msg, msglen);                             \
		*out = (const type *) o;                                                           \
		return rc;                                                                         \
	}                                                                                          \
	static inline int store_foreach_##name(const struct store *s, store_iter_cb fn, void *arg) \
	{                                                                                          \
		return store_foreach(s, kind, fn, arg);                                            \
	}                                                                                          \
	static inline type *store_dup_##name(const type *o)                                        \
	{                                                                                          \
		return (type *) store_dup(o ? &o->base : NULL);                                    \
	}                                                                                          \
	static inline void store_##name##_free(type *o)                                            \
	{                                                                                          \
		store_msg_free(o);                                                                 \
	}

STORE_TYPED(node, Shoal__Node, STORE_NODE)
STORE_TYPED(service, Shoal__Service, STORE_SERVICE)
STORE_TYPED(task, Shoal__Task, STORE_TASK)
STORE_TYPED(network, Shoal__Network, STORE_NETWORK)
STORE_TYPED(cluster, Shoal__Cluster, STORE_CLUSTER)
STORE_TYPED(secret, Shoal__Secret, STORE_SECRET)
STORE_TYPED(config, Shoal__Config, STORE_CONFIG)

#undef STORE_TYPED

/* store_get_<kind>(s, id): the object with this id, or NULL. (The cluster has
 * store_get_cluster(s) above for the single cluster and store_get_cluster_by_id.) */
static inline const Shoal__Node *store_get_node(const struct store *s, const char *id)
{
	return (const Shoal__Node *) store_get(s, STORE_NODE, id);
}
static inline const Shoal__Service *store_get_service(const struct store *s, const char *id)
{
	return (const Shoal__Service *) store_get(s, STORE_SERVICE, id);
}
static inline const Shoal__Task *store_get_task(const struct store *s, const char *id)
{
	return (const Shoal__Task *) store_get(s, STORE_TASK, id);
}
static inline const Shoal__Network *store_get_network(const struct store *s, const char *id)
{
	return (const Shoal__Network *) store_get(s, STORE_NETWORK, id);
}
static inline const Shoal__Cluster *store_get_cluster_by_id(const struct store *s, const char *id)
{
	return (const Shoal__Cluster *) store_get(s, STORE_CLUSTER, id);
}
static inline const Shoal__Secret *store_get_secret(const struct store *s, const char *id)
{
	return (const Shoal__Secret *) store_get(s, STORE_SECRET, id);
}
static inline const Shoal__Config *store_get_config(const struct store *s, const char *id)
{
	return (const Shoal__Config *) store_get(s, STORE_CONFIG, id);
}

#endif
