/* status: task status reports from the nodes, batched into Raft.
 *
 * Reports land in a map task id -> latest status (a newer report of the same
 * task replaces the older one). One proposal is in flight at a time; it
 * carries every pending report whose task still exists, is still on the
 * reporting node and does not move backwards. Whatever arrives meanwhile
 * goes out in the next one, so under load the entries grow instead of the
 * queue. A version conflict (a manager component changed one of the tasks
 * between read and commit) rejects the whole batch atomically: the reports
 * are put back and go out again, re-read. */
#include "manager/dispatcher/disp.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "manager/orchestrator/batch.h"
#include "manager/store/smap.h"

struct pending {
	char *task_id;
	char node_id[ID_LEN + 1];
	Shoal__TaskStatus *status; /* owned */
};

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	store_msg_free(p->status);
	free(p->task_id);
	free(p);
}

/* Keeps `p` unless a newer report of the task is already queued. */
static void enqueue(struct disp *d, struct pending *p)
{
	struct pending *old = store_smap_get(&d->status_pending, p->task_id);

	if (old) {
		if (old->status->state > p->status->state) {
			pending_free(p);
			return;
		}
		store_smap_del(&d->status_pending, old->task_id);
		pending_free(old);
	}
	store_smap_put(&d->status_pending, p->task_id, p);
}

static int same_status(const Shoal__TaskStatus *a, const Shoal__TaskStatus *b)
{
	int ea = a->container_status && a->container_status->exit_code;
	int eb = b->container_status && b->container_status->exit_code;

	return a->state == b->state && strcmp(a->message, b->message) == 0 &&
	       strcmp(a->err, b->err) == 0 && ea == eb &&
	       (a->container_status == NULL) == (b->container_status == NULL);
}

struct flight {
	struct disp *d;
	struct pending **items;
	size_t n;
};

static void flush_cb(uv_timer_t *t);

static void flushed(void *arg, int status, const struct store_result *res)
{
	struct flight *f = arg;
	struct disp *d = f->d;
	int retry = status == 0 && res->err == -SHOAL_EVERSION;

	if (status || (res->err && !retry))
		log_warn("disp", "task status update not applied err=\"%s\" msg=\"%s\"",
			 err_str(status ? status : res->err), status ? "" : res->msg);
	for (size_t i = 0; i < f->n; i++) {
		if ((retry || status) && d->running)
			enqueue(d, f->items[i]);
		else
			pending_free(f->items[i]);
	}
	free(f->items);
	free(f);
	d->status_inflight = 0;
	if (d->running && d->status_pending.len)
		uv_timer_start(&d->status_timer, flush_cb, retry ? 0 : status ? 200 : 20, 0);
}

/* One proposal carries at most an orch_batch's worth of reports (ORCH_BATCH_MAX, and its byte
 * bound): each is a whole Task and a Raft command is bounded (RNODE_MAX_COMMAND, 4 MiB), so
 * 100,000 tasks reporting at once would otherwise make one entry too large to ever commit.
 * The rest waits for the next flush. */
static void flush(struct disp *d)
{
	struct orch_batch b;
	struct flight *f;
	struct pending *p;
	const char *key;
	size_t cap;

	if (d->status_inflight || !d->running || !d->status_pending.len)
		return;
	cap = d->status_pending.len < ORCH_BATCH_MAX ? d->status_pending.len : ORCH_BATCH_MAX;
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->items = xcalloc(cap, sizeof(*f->items));
	orch_batch_init(&b);
	for (size_t i = 0; f->n < cap && !orch_batch_full(&b) &&
			   store_smap_next(&d->status_pending, &i, &key, (void **) &p);) {
		const Shoal__Task *t = store_get_task(d->store, p->task_id);
		f->items[f->n++] = p;
		if (!t || strcmp(t->node_id, p->node_id) != 0 ||
		    (t->status &&
		     (t->status->state > p->status->state || same_status(t->status, p->status))))
			continue;
		Shoal__Task next = *t; /* borrowed fields; the batch copies */
		next.status = p->status;
		orch_batch_update_task(&b, &next);
	}
	/* The map only borrowed keys owned by the items now in flight: take them out (after the
	 * walk, which deleting would disturb). */
	if (f->n == d->status_pending.len) {
		store_smap_free(&d->status_pending);
		store_smap_init(&d->status_pending, 0);
	} else {
		for (size_t i = 0; i < f->n; i++)
			store_smap_del(&d->status_pending, f->items[i]->task_id);
	}
	if (!orch_batch_len(&b)) {
		for (size_t i = 0; i < f->n; i++)
			pending_free(f->items[i]);
		free(f->items);
		free(f);
		if (d->status_pending.len)
			uv_timer_start(&d->status_timer, flush_cb, 0, 0);
	} else {
		d->status_inflight = 1;
		int rv = d->proposer.propose(d->proposer.ctx, &b.b, flushed, f);
		/* Not a version conflict (that would retry at once, and a leader that just lost
		 * its quorum would spin here): keep them and try again after a pause. */
		if (rv != 0)
			flushed(f, rv, NULL);
	}
	orch_batch_reset(&b);
}

static void flush_cb(uv_timer_t *t)
{
	flush(t->data);
}

int disp_update_status(struct disp *d, const char *node_id, const char *session_id,
		       const Shoal__UpdateTaskStatusRequest *r)
{
	if (!disp_session_valid(d, node_id, session_id))
		return -ENOENT;
	for (size_t i = 0; i < r->n_updates; i++) {
		const Shoal__TaskStatusUpdate *u = r->updates[i];
		if (!u->task_id || !*u->task_id || !u->status)
			continue;
		struct pending *p = xcalloc(1, sizeof(*p));
		p->task_id = xstrdup(u->task_id);
		snprintf(p->node_id, sizeof(p->node_id), "%s", node_id);
		p->status = store_dup(&u->status->base);
		enqueue(d, p);
	}
	if (!d->status_inflight && !uv_is_active((uv_handle_t *) &d->status_timer))
		uv_timer_start(&d->status_timer, flush_cb, 0, 0);
	return 0;
}

void disp_status_init(struct disp *d)
{
	store_smap_init(&d->status_pending, 0);
	uv_timer_init(d->loop, &d->status_timer);
	d->status_timer.data = d;
}

void disp_status_clear(struct disp *d)
{
	const char *key;
	struct pending *p;

	for (size_t i = 0; store_smap_next(&d->status_pending, &i, &key, (void **) &p);)
		pending_free(p);
	store_smap_free(&d->status_pending);
}
