/* Shared pieces of the leader's task machinery (orchestrators, allocator, scheduler): a growable
 * StoreActionBatch owning deep copies of its objects, a set of object ids, and the wall clock.
 *
 * ctl_batch (controlapi) holds 8 borrowed objects on the stack, enough for an API call; the
 * leader components write hundreds of tasks per Raft entry, so they build an orch_batch: every
 * object added is deep-copied into the batch, which frees them all in orch_batch_reset().
 * Nothing here touches the store or the loop. */
#ifndef SHOAL_MANAGER_ORCHESTRATOR_BATCH_H
#define SHOAL_MANAGER_ORCHESTRATOR_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "proto/store.pb-c.h"

/* Most actions, and about the most encoded bytes of objects, one proposal carries; a pass that
 * has more leaves the rest for the next pass. Each proposal costs a component a full pass and a
 * Raft round trip, so 100,000 tasks at 256 per entry took 400 of them per component (bench/e2e);
 * the byte bound keeps an entry of large tasks well inside RNODE_MAX_COMMAND (4 MiB). Not larger:
 * applying an entry (and every watcher's reaction) runs on the leader's loop in one go, and a
 * stall near the 750 ms election timeout costs the leadership (4096 did, with 1,000 nodes). */
#define ORCH_BATCH_MAX	     1024
#define ORCH_BATCH_MAX_BYTES (1u << 20)

struct orch_batch {
	Shoal__StoreActionBatch b; /* what is proposed */
	size_t cap;
	size_t bytes; /* encoded size of the objects added */
};

/* An empty batch. Free what it holds with orch_batch_reset(). */
void orch_batch_init(struct orch_batch *b);

/* Appends a `kind` action on a deep copy of `obj` (a Shoal__Task, Shoal__Service... matching
 * `target`); the caller keeps `obj`, which may borrow pointers from stored objects (the copy is
 * made here). Aborts on OOM. */
void orch_batch_add(struct orch_batch *b, Shoal__StoreAction__Kind kind,
		    Shoal__StoreAction__TargetCase target, const ProtobufCMessage *obj);

/* Shorthands for tasks: orch_batch_update_task() copies `t`; orch_batch_remove_task() adds a
 * REMOVE of `t` checked against t->meta->version (only the id and version are carried). */
void orch_batch_update_task(struct orch_batch *b, const Shoal__Task *t);
void orch_batch_create_task(struct orch_batch *b, const Shoal__Task *t);
void orch_batch_remove_task(struct orch_batch *b, const Shoal__Task *t);

/* Number of actions. */
size_t orch_batch_len(const struct orch_batch *b);

/* 1 when the batch reached ORCH_BATCH_MAX actions or ORCH_BATCH_MAX_BYTES. */
int orch_batch_full(const struct orch_batch *b);

/* Frees every action and object and empties the batch (it can be reused). */
void orch_batch_reset(struct orch_batch *b);

/* ------------------------------------------------------------------------------------------ */
/* A set of strings (object ids), owning its copies. Zero-initialised = empty. */

struct orch_idset {
	char **slots; /* open addressing; NULL = empty, ORCH_IDSET_GONE = deleted */
	size_t cap;   /* power of two or 0 */
	size_t len;   /* live entries */
	size_t used;  /* live + deleted slots */
};

/* Adds a copy of `id`; returns 1 if it was new, 0 if already present. Aborts on OOM. */
int orch_idset_add(struct orch_idset *s, const char *id);
/* 1 if present. */
int orch_idset_has(const struct orch_idset *s, const char *id);
/* Removes `id`; returns 1 if it was present. */
int orch_idset_del(struct orch_idset *s, const char *id);
/* Iteration: for (size_t i = 0; (id = orch_idset_next(s, &i));) — borrowed; the set must not
 * change during the iteration. */
const char *orch_idset_next(const struct orch_idset *s, size_t *iter);
/* Empties the set and frees its storage. */
void orch_idset_clear(struct orch_idset *s);

/* ------------------------------------------------------------------------------------------ */

/* Wall clock, unix nanoseconds (task status timestamps, restart windows). */
int64_t orch_now_ns(void);

#endif
