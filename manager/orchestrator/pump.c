#include "manager/orchestrator/pump.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct orch_pump_flight {
	struct orch_pump *p; /* NULL once the pump stopped: the outcome goes nowhere */
	struct orch_batch b;
};

static void fire(uv_timer_t *t);

/* Arms the timer to fire in `delay_ms` unless it already fires sooner. */
static void arm(struct orch_pump *p, uint64_t delay_ms)
{
	uint64_t due = uv_now(p->loop) + delay_ms;

	if (!p->running || (p->armed && p->due_ms <= due))
		return;
	p->armed = 1;
	p->due_ms = due;
	uv_timer_start(&p->timer, fire, delay_ms, 0);
}

static void notify(struct store_watch *w, void *data)
{
	(void) w;
	/* Inside store_apply(): only schedule, never propose from here. */
	arm(data, 0);
}

static void drain(struct orch_pump *p)
{
	struct store_event ev;
	int rc;

	while ((rc = store_watch_next(p->watch, &ev)) != 0) {
		if (rc < 0) {
			/* Events were lost: only a look at everything is safe. */
			p->full = 1;
			continue;
		}
		if (p->ops.event)
			p->ops.event(p, &ev);
		store_event_free(&ev);
	}
}

static void finish(struct orch_pump *p, int status, const struct store_result *res)
{
	int ok = status == 0 && res && res->err == 0;

	if (p->ops.applied)
		p->ops.applied(p, ok);
	if (ok) {
		p->backoff_ms = 0;
		arm(p, 0); /* whatever piled up meanwhile */
		return;
	}
	p->failures++;
	p->full = 1;
	if (status == 0 && res && res->err == -SHOAL_EVERSION) {
		/* Another writer changed an object first: its write is applied, re-read now. */
		log_debug(p->name, "batch conflicted, re-reading msg=\"%s\"", res->msg);
		arm(p, 0);
		return;
	}
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	p->retry_at = uv_now(p->loop) + p->backoff_ms;
	if (status)
		log_debug(p->name, "batch not applied err=\"%s\" retry_ms=%llu", err_str(status),
			  (unsigned long long) p->backoff_ms);
	else
		log_warn(p->name, "batch rejected err=\"%s\" msg=\"%s\" retry_ms=%llu",
			 err_str(res ? res->err : -EINVAL), res ? res->msg : "",
			 (unsigned long long) p->backoff_ms);
	arm(p, p->backoff_ms);
}

static void done(void *arg, int status, const struct store_result *res)
{
	struct orch_pump_flight *f = arg;
	struct orch_pump *p = f->p;

	orch_batch_reset(&f->b);
	free(f);
	if (!p)
		return;
	p->flight = NULL;
	finish(p, status, res);
}

static void run_pass(struct orch_pump *p)
{
	struct orch_pump_flight *f = xcalloc(1, sizeof(*f));
	int full = p->full, rc;

	p->full = 0;
	orch_batch_init(&f->b);
	p->ops.pass(p, &f->b, full);
	if (!orch_batch_len(&f->b)) {
		free(f);
		return;
	}
	f->b.b.timestamp = orch_now_ns();
	f->p = p;
	p->flight = f;
	p->proposals++;
	log_debug(p->name, "proposing actions=%zu", orch_batch_len(&f->b));
	/* The callback may run before propose() returns: f is not touched after a 0. */
	rc = p->proposer.propose(p->proposer.ctx, &f->b.b, done, f);
	if (rc != 0) {
		p->flight = NULL;
		orch_batch_reset(&f->b);
		free(f);
		finish(p, rc, NULL);
	}
}

static void fire(uv_timer_t *t)
{
	struct orch_pump *p = t->data;
	uint64_t now = uv_now(p->loop);

	p->armed = 0;
	drain(p);
	if (p->flight)
		return; /* its completion arms the next pass */
	if (now < p->retry_at) {
		arm(p, p->retry_at - now);
		return;
	}
	run_pass(p);
}

int orch_pump_start(struct orch_pump *p, uv_loop_t *loop, struct store *store,
		    struct ctl_proposer proposer, unsigned kinds, const struct orch_pump_ops *ops)
{
	struct store_watch_filter f = {0};

	p->loop = loop;
	p->store = store;
	p->proposer = proposer;
	p->ops = *ops;
	p->kinds = kinds;
	p->armed = 0;
	p->backoff_ms = 0;
	p->retry_at = 0;
	p->flight = NULL;
	p->proposals = 0;
	p->failures = 0;
	p->full = 1; /* a new leader repairs whatever the previous one left half done */
	if (!p->name)
		p->name = "orch";
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	f.kinds = kinds;
	/* Components only read events (ops.event gets them const): one copy of each object for
	 * all of them instead of one per component (bench/e2e: copies were a fifth of the
	 * leader's time). */
	f.shared = 1;
	f.notify = notify;
	f.data = p;
	p->watch = store_watch_new(store, &f);
	p->running = 1;
	arm(p, 0);
	return 0;
}

static void closed(uv_handle_t *h)
{
	struct orch_pump *p = h->data;

	if (p->stop_cb)
		p->stop_cb(p->stop_arg);
}

void orch_pump_stop(struct orch_pump *p, void (*cb)(void *arg), void *arg)
{
	if (!p->running) {
		if (cb)
			cb(arg);
		return;
	}
	p->running = 0;
	p->armed = 0;
	store_watch_free(p->watch);
	p->watch = NULL;
	if (p->flight) {
		p->flight->p = NULL;
		p->flight = NULL;
	}
	p->stop_cb = cb;
	p->stop_arg = arg;
	uv_close((uv_handle_t *) &p->timer, closed);
}

void orch_pump_wake(struct orch_pump *p, uint64_t delay_ms)
{
	arm(p, delay_ms);
}

void orch_pump_kick_full(struct orch_pump *p)
{
	p->full = 1;
	arm(p, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* orch_unit */

int orch_unit_start(struct orch_unit *u, void *data, const char *name, uv_loop_t *loop,
		    struct store *store, struct ctl_proposer proposer, unsigned kinds,
		    const struct orch_pump_ops *ops)
{
	memset(u, 0, sizeof(*u));
	u->pump.data = data;
	u->pump.name = name;
	orch_pump_start(&u->pump, loop, store, proposer, kinds, ops);
	u->running = 1;
	return 0;
}

static void unit_closed(void *arg)
{
	struct orch_unit *u = arg;

	orch_idset_clear(&u->ids);
	if (u->stop_cb)
		u->stop_cb(u->stop_arg);
}

void orch_unit_stop(struct orch_unit *u, void (*cb)(void *arg), void *arg)
{
	if (!u->running) {
		if (cb)
			cb(arg);
		return;
	}
	u->running = 0;
	u->stop_cb = cb;
	u->stop_arg = arg;
	orch_pump_stop(&u->pump, unit_closed, u);
}
