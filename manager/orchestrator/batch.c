#include "manager/orchestrator/batch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "manager/store/store.h"

/* ------------------------------------------------------------------------------------------ */
/* Batches */

void orch_batch_init(struct orch_batch *b)
{
	memset(b, 0, sizeof(*b));
	shoal__store_action_batch__init(&b->b);
}

void orch_batch_add(struct orch_batch *b, Shoal__StoreAction__Kind kind,
		    Shoal__StoreAction__TargetCase target, const ProtobufCMessage *obj)
{
	Shoal__StoreAction *a;

	if (b->b.n_actions == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->b.actions = xrealloc(b->b.actions, b->cap * sizeof(*b->b.actions));
	}
	a = xmalloc(sizeof(*a));
	shoal__store_action__init(a);
	a->kind = kind;
	a->target_case = target;
	/* Every target member is a pointer in the same union: set through one of them. */
	a->node = store_dup(obj);
	b->bytes += protobuf_c_message_get_packed_size(obj);
	b->b.actions[b->b.n_actions++] = a;
}

void orch_batch_update_task(struct orch_batch *b, const Shoal__Task *t)
{
	orch_batch_add(b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_TASK,
		       &t->base);
}

void orch_batch_create_task(struct orch_batch *b, const Shoal__Task *t)
{
	orch_batch_add(b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_TASK,
		       &t->base);
}

void orch_batch_remove_task(struct orch_batch *b, const Shoal__Task *t)
{
	Shoal__Task r = SHOAL__TASK__INIT;
	Shoal__Meta m = SHOAL__META__INIT;

	m.id = t->meta->id;
	m.version = t->meta->version;
	r.meta = &m;
	orch_batch_add(b, SHOAL__STORE_ACTION__KIND__REMOVE, SHOAL__STORE_ACTION__TARGET_TASK,
		       &r.base);
}

size_t orch_batch_len(const struct orch_batch *b)
{
	return b->b.n_actions;
}

int orch_batch_full(const struct orch_batch *b)
{
	return b->b.n_actions >= ORCH_BATCH_MAX || b->bytes >= ORCH_BATCH_MAX_BYTES;
}

void orch_batch_reset(struct orch_batch *b)
{
	for (size_t i = 0; i < b->b.n_actions; i++) {
		store_msg_free(b->b.actions[i]->node);
		free(b->b.actions[i]);
	}
	free(b->b.actions);
	orch_batch_init(b);
}

/* ------------------------------------------------------------------------------------------ */
/* Id sets: open addressing with linear probing and tombstones. */

static char gone_marker;
#define GONE (&gone_marker)

static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ull;
	return h;
}

/* The slot holding `id`, or the first free one along its probe sequence (a tombstone is reused
 * only when `id` is absent). Needs cap > used. */
static size_t probe(const struct orch_idset *s, const char *id, int *found)
{
	size_t mask = s->cap - 1, i = hash_of(id) & mask, first_gone = s->cap;

	for (;; i = (i + 1) & mask) {
		char *k = s->slots[i];

		if (!k) {
			*found = 0;
			return first_gone < s->cap ? first_gone : i;
		}
		if (k == GONE) {
			if (first_gone == s->cap)
				first_gone = i;
		} else if (strcmp(k, id) == 0) {
			*found = 1;
			return i;
		}
	}
}

static void grow(struct orch_idset *s)
{
	struct orch_idset n = {0};

	n.cap = s->cap ? s->cap * 2 : 16;
	if (s->len * 4 < s->cap)
		n.cap = s->cap; /* mostly tombstones: rehash at the same size */
	n.slots = xcalloc(n.cap, sizeof(char *));
	for (size_t i = 0; i < s->cap; i++) {
		int found;
		char *k = s->slots[i];

		if (!k || k == GONE)
			continue;
		n.slots[probe(&n, k, &found)] = k;
		n.len++;
	}
	n.used = n.len;
	free(s->slots);
	*s = n;
}

int orch_idset_add(struct orch_idset *s, const char *id)
{
	int found;
	size_t i;

	if ((s->used + 1) * 4 >= s->cap * 3)
		grow(s);
	i = probe(s, id, &found);
	if (found)
		return 0;
	if (!s->slots[i])
		s->used++;
	s->slots[i] = xstrdup(id);
	s->len++;
	return 1;
}

int orch_idset_has(const struct orch_idset *s, const char *id)
{
	int found = 0;

	if (s->cap)
		probe(s, id, &found);
	return found;
}

int orch_idset_del(struct orch_idset *s, const char *id)
{
	int found = 0;
	size_t i;

	if (!s->cap)
		return 0;
	i = probe(s, id, &found);
	if (!found)
		return 0;
	free(s->slots[i]);
	s->slots[i] = GONE;
	s->len--;
	return 1;
}

const char *orch_idset_next(const struct orch_idset *s, size_t *iter)
{
	while (*iter < s->cap) {
		char *k = s->slots[(*iter)++];

		if (k && k != GONE)
			return k;
	}
	return NULL;
}

void orch_idset_clear(struct orch_idset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i] && s->slots[i] != GONE)
			free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------------------------ */

int64_t orch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
