#include "manager/dispatcher/disp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/id.h"
#include "common/log.h"
#include "common/sec/cert.h"
#include "manager/orchestrator/batch.h"

#define GRACE_BEATS 6 /* after a leader change */

struct disp_session {
	char node_id[ID_LEN + 1];
	char session_id[ID_LEN + 1]; /* "" for a node known only from the store */
	uint64_t deadline_ms;	     /* silent past this: down */
};

static uint64_t key_of(const char *node_id)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = node_id; *p; p++)
		h = (h ^ (uint8_t) *p) * 1099511628211ull;
	return h ? h : 1;
}

static struct disp_session *find(struct disp *d, const char *node_id)
{
	struct disp_session *s = map_get(&d->sessions, key_of(node_id));

	return s && strcmp(s->node_id, node_id) == 0 ? s : NULL;
}

static struct disp_session *get_or_add(struct disp *d, const char *node_id)
{
	struct disp_session *s = find(d, node_id);

	if (!s) {
		s = xcalloc(1, sizeof(*s));
		snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
		map_put(&d->sessions, key_of(node_id), s);
	}
	return s;
}

int64_t disp_period_ns(const struct disp *d)
{
	const Shoal__Cluster *c = store_get_cluster(d->store);

	if (c && c->spec && c->spec->dispatcher && c->spec->dispatcher->heartbeat_period > 0)
		return c->spec->dispatcher->heartbeat_period;
	return DISP_DEFAULT_PERIOD_NS;
}

static uint64_t period_ms(const struct disp *d)
{
	return (uint64_t) (disp_period_ns(d) / 1000000);
}

/* ------------------------------------------------------------------------ */
/* Liveness                                                                  */

static void status_done(void *arg, int status, const struct store_result *res)
{
	struct disp *d = arg;

	d->inflight = 0;
	if (status || res->err)
		log_debug("disp", "status update not applied err=\"%s\" msg=\"%s\"",
			  err_str(status ? status : res->err), status ? "" : res->msg);
}

static void set_status(Shoal__Node *n, Shoal__NodeState st, const char *msg)
{
	if (!n->status) {
		n->status = xmalloc(sizeof(*n->status));
		shoal__node_status__init(n->status);
	}
	n->status->state = st;
	if (n->status->message != protobuf_c_empty_string)
		free(n->status->message);
	n->status->message = xstrdup(msg);
}

static void tick(uv_timer_t *t)
{
	struct disp *d = t->data;
	uint64_t now = uv_now(d->loop);
	struct orch_batch b;
	struct disp_session *s;
	size_t it = 0;

	if (d->inflight)
		return;
	orch_batch_init(&b);
	while (!orch_batch_full(&b) && map_next(&d->sessions, &it, NULL, (void **) &s)) {
		const Shoal__Node *n = store_get_node(d->store, s->node_id);
		int ready =
		    n && n->status && n->status->state == SHOAL__NODE_STATE__NODE_STATE_READY;
		int alive = now <= s->deadline_ms;

		if (!n || ready == alive || (alive && !s->session_id[0]))
			continue;
		Shoal__Node *next = store_dup_node(n);
		if (alive)
			set_status(next, SHOAL__NODE_STATE__NODE_STATE_READY, "");
		else
			set_status(next, SHOAL__NODE_STATE__NODE_STATE_DOWN, "heartbeat failure");
		log_info("disp", "node %s node_id=%s", alive ? "ready" : "down", s->node_id);
		orch_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE,
			       SHOAL__STORE_ACTION__TARGET_NODE, &next->base);
		store_node_free(next);
	}
	/* Every node that changed in one entry: a mass failure is judged in one tick, not 8
	 * nodes per tick. Set before proposing: the callback may run right away. */
	if (orch_batch_len(&b)) {
		d->inflight = 1;
		if (d->proposer.propose(d->proposer.ctx, &b.b, status_done, d) != 0)
			d->inflight = 0;
	}
	orch_batch_reset(&b);
}

static int add_grace(const void *obj, void *arg)
{
	struct disp *d = arg;
	const Shoal__Node *n = obj;
	struct disp_session *s;

	if (!n->status || n->status->state != SHOAL__NODE_STATE__NODE_STATE_READY)
		return 0;
	s = get_or_add(d, n->meta->id);
	s->deadline_ms = uv_now(d->loop) + GRACE_BEATS * period_ms(d);
	return 0;
}

int disp_start(struct disp *d, uv_loop_t *loop, struct store *store, struct ctl_proposer p)
{
	uint64_t every;

	d->loop = loop;
	d->store = store;
	d->proposer = p;
	d->running = 1;
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	disp_status_init(d);
	disp_assign_init(d);
	store_foreach_node(store, add_grace, d);
	/* Judge liveness at a quarter period: Down lands within 3.25 periods. */
	every = period_ms(d) / 4;
	uv_timer_start(&d->timer, tick, every < 50 ? 50 : every, every < 50 ? 50 : every);
	return 0;
}

struct stop_ctx {
	void (*cb)(void *arg);
	void *arg;
	struct disp *d;
};

static void timer_closed(uv_handle_t *h)
{
	struct stop_ctx *x = h->data;

	if (--x->d->closing_handles)
		return;
	if (x->cb)
		x->cb(x->arg);
	free(x);
}

void disp_stop(struct disp *d, void (*cb)(void *arg), void *arg)
{
	struct disp_session *s;
	size_t it = 0;
	struct stop_ctx *x;

	if (d->running) {
		disp_assign_close_all(d);
		disp_status_clear(d);
	}
	while (map_next(&d->sessions, &it, NULL, (void **) &s))
		free(s);
	map_free(&d->sessions);
	disp_set_managers(d, NULL, 0);
	if (!d->running) {
		if (cb)
			cb(arg);
		return;
	}
	d->running = 0;
	x = xmalloc(sizeof(*x));
	x->cb = cb;
	x->arg = arg;
	x->d = d;
	d->timer.data = x;
	d->status_timer.data = x;
	d->closing_handles = 2;
	uv_close((uv_handle_t *) &d->timer, timer_closed);
	uv_close((uv_handle_t *) &d->status_timer, timer_closed);
}

void disp_set_managers(struct disp *d, char *const *managers, size_t n)
{
	for (size_t i = 0; i < d->n_managers; i++)
		free(d->managers[i]);
	free(d->managers);
	d->managers = n ? xcalloc(n, sizeof(char *)) : NULL;
	d->n_managers = n;
	for (size_t i = 0; i < n; i++)
		d->managers[i] = xstrdup(managers[i]);
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

struct reg_ctx {
	struct disp *d;
	char node_id[ID_LEN + 1];
	disp_register_cb cb;
	void *arg;
};

static void register_done(void *varg, int status, const struct store_result *res)
{
	struct reg_ctx *x = varg;
	struct disp *d = x->d;
	Shoal__SessionResponse resp = SHOAL__SESSION_RESPONSE__INIT;
	char sid[ID_LEN + 1];
	struct disp_session *s;

	if (status || res->err) {
		x->cb(x->arg, status ? status : res->err, status ? err_str(status) : res->msg,
		      NULL);
		free(x);
		return;
	}
	if (!d->running) {
		x->cb(x->arg, -SHOAL_ENOTLEADER, "", NULL);
		free(x);
		return;
	}
	s = get_or_add(d, x->node_id);
	id_new(sid);
	memcpy(s->session_id, sid, sizeof(sid));
	s->deadline_ms = uv_now(d->loop) + DISP_MISSED_BEATS * period_ms(d);
	resp.node_id = x->node_id;
	resp.session_id = s->session_id;
	resp.heartbeat_period = disp_period_ns(d);
	resp.managers = d->managers;
	resp.n_managers = d->n_managers;
	log_info("disp", "session opened node_id=%s", x->node_id);
	x->cb(x->arg, 0, NULL, &resp);
	free(x);
}

static void fill_node(Shoal__Node *n, int manager_cert, const char *addr,
		      const Shoal__SessionRequest *req)
{
	if (req->description) {
		shoal__node_description__free_unpacked(n->description, NULL);
		n->description = store_dup(&req->description->base);
	}
	set_status(n, SHOAL__NODE_STATE__NODE_STATE_READY, "");
	if (n->status->addr != protobuf_c_empty_string)
		free(n->status->addr);
	n->status->addr = xstrdup(addr);
	n->role =
	    manager_cert ? SHOAL__NODE_ROLE__NODE_ROLE_MANAGER : SHOAL__NODE_ROLE__NODE_ROLE_WORKER;
	if (manager_cert) {
		if (!n->manager_status) {
			n->manager_status = xmalloc(sizeof(*n->manager_status));
			shoal__manager_status__init(n->manager_status);
		}
		n->manager_status->reachability = SHOAL__REACHABILITY__REACHABILITY_REACHABLE;
		if (n->manager_status->addr != protobuf_c_empty_string)
			free(n->manager_status->addr);
		n->manager_status->addr = xstrdup(
		    req->advertise_addr && *req->advertise_addr ? req->advertise_addr : addr);
		n->manager_status->raft_id = req->raft_id;
	} else if (n->manager_status) {
		/* Demoted: no longer part of Raft. */
		shoal__manager_status__free_unpacked(n->manager_status, NULL);
		n->manager_status = NULL;
	}
}

void disp_register(struct disp *d, const char *node_id, int manager_cert, const char *addr,
		   const Shoal__SessionRequest *req, disp_register_cb cb, void *arg)
{
	const Shoal__Node *cur;
	Shoal__Node *n;
	struct reg_ctx *x;
	struct ctl_batch b;
	int kind = SHOAL__STORE_ACTION__KIND__UPDATE, rv;

	if (!d->running) {
		cb(arg, -SHOAL_ENOTLEADER, "", NULL);
		return;
	}
	cur = store_get_node(d->store, node_id);
	if (cur) {
		n = store_dup_node(cur);
	} else {
		/* First contact after joining: the node object is born here. */
		n = xmalloc(sizeof(*n));
		shoal__node__init(n);
		n->meta = xmalloc(sizeof(*n->meta));
		shoal__meta__init(n->meta);
		n->meta->id = xstrdup(node_id);
		n->spec = xmalloc(sizeof(*n->spec));
		shoal__node_spec__init(n->spec);
		n->spec->annotations = xmalloc(sizeof(*n->spec->annotations));
		shoal__annotations__init(n->spec->annotations);
		n->spec->desired_role = manager_cert ? SHOAL__NODE_ROLE__NODE_ROLE_MANAGER
						     : SHOAL__NODE_ROLE__NODE_ROLE_WORKER;
		kind = SHOAL__STORE_ACTION__KIND__CREATE;
	}
	fill_node(n, manager_cert, addr, req);
	x = xcalloc(1, sizeof(*x));
	x->d = d;
	snprintf(x->node_id, sizeof(x->node_id), "%s", node_id);
	x->cb = cb;
	x->arg = arg;
	ctl_batch_init(&b);
	ctl_batch_add(&b, kind, SHOAL__STORE_ACTION__TARGET_NODE, n);
	rv = d->proposer.propose(d->proposer.ctx, &b.b, register_done, x);
	store_node_free(n);
	if (rv) {
		free(x);
		cb(arg, rv, err_str(rv), NULL);
	}
}

int disp_heartbeat(struct disp *d, const char *node_id, const char *session_id,
		   Shoal__HeartbeatResponse *resp)
{
	struct disp_session *s = d->running ? find(d, node_id) : NULL;

	if (!s || !s->session_id[0] || strcmp(s->session_id, session_id) != 0)
		return -ENOENT;
	const Shoal__Node *n = store_get_node(d->store, node_id);

	s->deadline_ms = uv_now(d->loop) + DISP_MISSED_BEATS * period_ms(d);
	resp->heartbeat_period = disp_period_ns(d);
	resp->managers = d->managers;
	resp->n_managers = d->n_managers;
	resp->desired_role =
	    n && n->spec && n->spec->desired_role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER
		? SEC_ROLE_MANAGER
		: SEC_ROLE_WORKER;
	return 0;
}

int disp_session_valid(const struct disp *d, const char *node_id, const char *session_id)
{
	struct disp_session *s = d->running ? find((struct disp *) d, node_id) : NULL;

	return s && s->session_id[0] && session_id && strcmp(s->session_id, session_id) == 0;
}

void disp_heartbeat_clear(Shoal__HeartbeatResponse *resp)
{
	resp->managers = NULL;
	resp->n_managers = 0;
}
