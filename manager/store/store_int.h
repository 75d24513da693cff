/* Internals shared by the files of manager/store; not for other modules.
 *
 * smap.c     the string-keyed hash map every index uses
 * tables.c   the tables and their indexes (insert, remove, name conflicts), object accessors,
 *            copies
 * read.c     the read API: lookups, resolution, iteration, task queries
 * apply.c    lifecycle and store_apply: validation, the undo log that makes a batch atomic
 * reqids.c   the bounded FIFO of recently applied request ids and their outcomes
 * watch.c    watch queues and events
 * snapshot.c snapshot and restore */
#ifndef SHOAL_MANAGER_STORE_STORE_INT_H
#define SHOAL_MANAGER_STORE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/map.h"
#include "manager/store/smap.h"
#include "manager/store/store.h"

/* The objects of one index key: members maps object id -> object. `key` is owned. */
struct store_bucket {
	char *key;
	struct store_smap members;
};

/* Every table and index. Objects are owned by by_id; every other index borrows them, keyed by
 * strings inside the objects (or, for buckets, by the bucket's own copy of the key). */
struct store_tables {
	struct store_smap by_id[STORE_KIND_COUNT];
	/* Name-unique kinds: folded name -> object. Node and task: folded name -> bucket. */
	struct store_smap by_name[STORE_KIND_COUNT];
	struct store_smap tasks_by_service; /* service id -> bucket */
	struct store_smap tasks_by_node;    /* node id ("" = unassigned) -> bucket */
	struct map tasks_by_state; /* desired state + 2^32 -> bucket (map keys are never 0) */
};

/* One remembered request: its outcome, for duplicates. */
struct store_reqid {
	char *id;
	int err;
	int action;
	char *msg; /* NULL when the outcome was a success or restored from a snapshot */
};

/* The last `cap` request ids, oldest first: a ring plus an index by id. */
struct store_reqids {
	struct store_reqid *ring;
	size_t cap;
	size_t head; /* oldest entry */
	size_t len;
	struct store_smap by_id; /* id -> struct store_reqid * in ring */
};

struct store {
	struct store_tables t;
	struct store_reqids reqids;
	uint64_t index;
	/* Watchers without a node filter, doubly linked, oldest first. Those with one hang off
	 * node_watchers instead (hash(node id) -> chain), so a task event visits only the watchers
	 * of its own nodes: the dispatcher keeps one per connected node. */
	struct store_watch *watchers;
	struct store_watch *watchers_tail;
	struct map node_watchers;
	/* Watchers to notify at the end of the apply, in the order they got their first event. */
	struct store_watch *pending, *pending_tail;
	char errmsg[STORE_MSG_MAX];
};

/* tables.c ----------------------------------------------------------------------------------- */

/* Initialises empty tables (allocates nothing until the first insert). */
void store_tables_init(struct store_tables *t);
/* Frees every index and, when `free_objects`, every object (else the objects belong to someone
 * else, as while a restore is still validating). */
void store_tables_free(struct store_tables *t, int free_objects);

/* 1 if names in this table must be unique. */
int store_kind_unique_name(enum store_kind kind);

/* The object's meta (may be NULL for an object not yet validated). */
Shoal__Meta *store_obj_meta(enum store_kind kind, const void *obj);
/* The object's id, or "" without meta. */
const char *store_obj_id(enum store_kind kind, const void *obj);
/* Writes the object's indexed names (the non-empty ones) into names[0..2); returns how many.
 * Only nodes have two. The strings are borrowed from the object. */
int store_obj_names(enum store_kind kind, const void *obj, const char *names[2]);

/* For name-unique kinds: the stored object other than `self` that holds one of obj's names,
 * or NULL. */
const void *store_name_owner(const struct store_tables *t, enum store_kind kind, const void *obj,
			     const void *self);

/* Adds the object to every index; the table takes ownership. The caller has checked that the
 * id is new and (for name-unique kinds) the name free. */
void store_index_add(struct store_tables *t, enum store_kind kind, void *obj);
/* Removes the object from every index; ownership returns to the caller. */
void store_index_del(struct store_tables *t, enum store_kind kind, void *obj);

/* Bucket lookups used by the read API (NULL when the key has no object). */
const struct store_bucket *store_bucket_get(const struct store_smap *idx, const char *key);
const struct store_bucket *store_state_bucket(const struct store_tables *t, int state);

/* Deep copy through pack/unpack; aborts if the copy cannot be decoded (OOM). */
void *store_copy_msg(const ProtobufCMessage *msg);

/* reqids.c ------------------------------------------------------------------------------------ */

/* An empty ring remembering at most `cap` (> 0) ids. Aborts on OOM. */
void store_reqids_init(struct store_reqids *r, size_t cap);
/* Frees every remembered id and the ring. */
void store_reqids_free(struct store_reqids *r);
/* The remembered request `id` (borrowed, valid until the next add or free), or NULL. */
const struct store_reqid *store_reqids_get(const struct store_reqids *r, const char *id);
/* Remembers an id (copied) with its outcome; drops the oldest beyond cap. msg may be NULL. */
void store_reqids_add(struct store_reqids *r, const char *id, int err, int action, const char *msg);
/* The i-th remembered id, oldest first (i < r->len). */
const struct store_reqid *store_reqids_at(const struct store_reqids *r, size_t i);

/* watch.c ------------------------------------------------------------------------------------- */

/* Queues one change for every matching watcher. obj/old are the stored objects (copied here). */
void store_watch_emit(struct store *s, enum store_kind kind, enum store_action action,
		      const void *obj, const void *old, uint64_t index);
/* Fires the notify callbacks owed since the last flush. */
void store_watch_flush(struct store *s);
/* Drops every queue and marks every watcher overflowed (after a restore), then notifies. */
void store_watch_reset_all(struct store *s);
/* Detaches every watcher from a store being freed. */
void store_watch_detach_all(struct store *s);

#endif
