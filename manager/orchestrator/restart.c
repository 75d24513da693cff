/* Restart supervisor: the restart policy and the in-memory restart history of each slot.
 *
 * The decisions themselves (which task stopped, what replaces it, when a delayed replacement
 * may start) are taken in the orchestrator's pass (replicated.c), from the store; this file
 * answers "may this slot restart again?" as swarmkit's Supervisor.shouldRestart does, and keeps
 * the history that answer needs. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "manager/orchestrator/orch.h"

/* The restarts of one slot of one service. */
struct orch_hist {
	struct orch_hist *next; /* same hash */
	char service_id[ID_LEN + 1];
	uint64_t slot;
	uint64_t spec_version; /* restarts of an older spec do not count */
	uint64_t total;
	int64_t *times; /* unix ns of each restart inside the window, oldest first */
	size_t n, cap;
};

/* A restart in the batch in flight. */
struct orch_restart_rec {
	struct orch_restart_rec *next;
	char service_id[ID_LEN + 1];
	uint64_t slot;
	uint64_t spec_version;
	int64_t window_ns;
	int64_t at_ns;
};

static uint64_t key_of(const char *service_id, uint64_t slot)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = service_id; *p; p++)
		h = (h ^ (uint8_t) *p) * 1099511628211ull;
	h = (h ^ slot) * 1099511628211ull;
	return h ? h : 1;
}

static struct orch_hist *find(struct orch *o, const char *service_id, uint64_t slot)
{
	for (struct orch_hist *h = map_get(&o->history, key_of(service_id, slot)); h; h = h->next)
		if (h->slot == slot && strcmp(h->service_id, service_id) == 0)
			return h;
	return NULL;
}

static const Shoal__RestartPolicy *policy_of(const Shoal__Task *t)
{
	return t->spec ? t->spec->restart : NULL;
}

int64_t orch_restart_delay_ns(const Shoal__Task *t)
{
	const Shoal__RestartPolicy *rp = policy_of(t);

	if (!rp || rp->opt_delay_case != SHOAL__RESTART_POLICY__OPT_DELAY_DELAY)
		return ORCH_DEFAULT_RESTART_DELAY_NS;
	return rp->delay > 0 ? rp->delay : 0;
}

/* Drops the restarts older than the window. */
static void prune(struct orch_hist *h, int64_t window_ns, int64_t now_ns)
{
	size_t k = 0;

	while (k < h->n && h->times[k] <= now_ns - window_ns)
		k++;
	memmove(h->times, h->times + k, (h->n - k) * sizeof(*h->times));
	h->n -= k;
}

int orch_should_restart(struct orch *o, const Shoal__Task *t, int64_t now_ns)
{
	const Shoal__RestartPolicy *rp = policy_of(t);
	/* No policy at all is Docker's default: any. */
	Shoal__RestartPolicy__Condition cond =
	    rp ? rp->condition : SHOAL__RESTART_POLICY__CONDITION__ANY;
	Shoal__TaskState st = orch_task_state(t);
	struct orch_hist *h;
	uint64_t count = 0;

	if (cond == SHOAL__RESTART_POLICY__CONDITION__NONE)
		return 0;
	if (cond == SHOAL__RESTART_POLICY__CONDITION__ON_FAILURE &&
	    st == SHOAL__TASK_STATE__TASK_STATE_COMPLETE)
		return 0;
	if (!rp || rp->max_attempts == 0)
		return 1;
	h = find(o, t->service_id, t->slot);
	if (!h || h->spec_version != t->spec_version)
		return 1;
	if (rp->window <= 0)
		return h->total < rp->max_attempts;
	prune(h, rp->window, now_ns);
	/* Only the restarts that happened before this task was created led to it. */
	for (size_t i = 0; i < h->n; i++)
		if (!t->meta || h->times[i] < t->meta->created_at)
			count++;
	return count < rp->max_attempts;
}

void orch_restart_note(struct orch *o, const char *service_id, uint64_t slot, uint64_t spec_version,
		       int64_t window_ns, int64_t now_ns)
{
	struct orch_restart_rec *r = xcalloc(1, sizeof(*r));

	snprintf(r->service_id, sizeof(r->service_id), "%s", service_id);
	r->slot = slot;
	r->spec_version = spec_version;
	r->window_ns = window_ns;
	r->at_ns = now_ns;
	r->next = o->pending;
	o->pending = r;
}

static void record(struct orch *o, const struct orch_restart_rec *r)
{
	struct orch_hist *h = find(o, r->service_id, r->slot);

	if (!h) {
		uint64_t k = key_of(r->service_id, r->slot);

		h = xcalloc(1, sizeof(*h));
		snprintf(h->service_id, sizeof(h->service_id), "%s", r->service_id);
		h->slot = r->slot;
		h->spec_version = r->spec_version;
		h->next = map_get(&o->history, k);
		map_put(&o->history, k, h);
	}
	if (h->spec_version != r->spec_version) {
		/* The service changed since: past failures do not count against the new spec. */
		h->spec_version = r->spec_version;
		h->total = 0;
		h->n = 0;
	}
	h->total++;
	if (r->window_ns > 0) {
		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 4;
			h->times = xrealloc(h->times, h->cap * sizeof(*h->times));
		}
		h->times[h->n++] = r->at_ns;
	}
}

void orch_restart_commit(struct orch *o, int ok)
{
	struct orch_restart_rec *r = o->pending, *next;

	/* Noted newest first: record oldest first so the times stay sorted. */
	struct orch_restart_rec *rev = NULL;
	for (; r; r = next) {
		next = r->next;
		r->next = rev;
		rev = r;
	}
	for (r = rev; r; r = next) {
		next = r->next;
		if (ok)
			record(o, r);
		free(r);
	}
	o->pending = NULL;
}

void orch_restart_clear(struct orch *o)
{
	size_t it = 0;
	void *v;

	orch_restart_commit(o, 0);
	while (map_next(&o->history, &it, NULL, &v)) {
		for (struct orch_hist *h = v, *next; h; h = next) {
			next = h->next;
			free(h->times);
			free(h);
		}
	}
	map_free(&o->history);
}
