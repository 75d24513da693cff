#include "daemon/mgr_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "manager/raftnode/raftnode.h"

#define CTL_FORWARD_TIMEOUT_MS 15000u
#define MSG_NO_LEADER                                                                              \
	"The swarm does not have a leader. It's possible that too few managers are online. "       \
	"Make sure more than half of the managers are online."

/* ------------------------------------------------------------------------ */
/* Dialing another manager (forwarding, joining)                             */

struct dial {
	const struct sec_identity *id;
	mgr_dial_cb cb;
	void *arg;
	rpc_peer_close_cb on_close;
	void *peer_data;
};

static void dial_handshake(struct wire_conn *c, int status, const char *why,
			   const struct sec_peer *peer, struct sec_join_result *join, void *data)
{
	struct dial *d = data;
	struct rpc_peer *p;

	if (status) {
		d->cb(d->arg, status, why, NULL);
		free(d);
		return;
	}
	if (wire_send(c, WIRE_PURPOSE_RPC, strlen(WIRE_PURPOSE_RPC)) != 0) {
		wire_close(c, -SHOAL_ECLOSED);
		d->cb(d->arg, -SHOAL_ECLOSED, "connection closed", NULL);
		free(d);
		return;
	}
	p = rpc_peer_new(c, NULL, 0, d->on_close, d->peer_data);
	d->cb(d->arg, 0, NULL, p);
	free(d);
}

static void dial_connected(struct wire_conn *c, int status)
{
	struct dial *d = c->data;
	struct sec_connect_config cfg = {.id = d->id, .peer_role = SEC_ROLE_MANAGER};
	int rv;

	if (status) {
		d->cb(d->arg, status, err_str(status), NULL);
		free(d);
		return;
	}
	rv = sec_connect(c, &cfg, dial_handshake, d);
	if (rv) {
		wire_close(c, rv);
		d->cb(d->arg, rv, err_str(rv), NULL);
		free(d);
	}
}

int mgr_dial(uv_loop_t *loop, const struct sec_identity *id, const char *addr, mgr_dial_cb cb,
	     void *arg, rpc_peer_close_cb on_close, void *peer_data)
{
	struct dial *d = xcalloc(1, sizeof(*d));
	struct wire_conn *c;
	int rv;

	d->id = id;
	d->cb = cb;
	d->arg = arg;
	d->on_close = on_close;
	d->peer_data = peer_data;
	rv = wire_connect(loop, addr, dial_connected, d, &c);
	if (rv)
		free(d);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Forwarding control calls to the leader                                    */

static void fwd_send(struct fwd *f);
static void fwd_start(struct fwd *f);

void mgr_fwd_free(struct fwd *f)
{
	free(f->body);
	free(f);
}

static void fwd_reply(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		      size_t len)
{
	struct fwd *f = call->data;

	/* The leader moved between our lookup and its answer: once more. */
	if ((status == -SHOAL_ENOTLEADER || status == -SHOAL_ECLOSED) && !f->retried &&
	    !f->m->stopping) {
		f->retried = 1;
		fwd_start(f);
		return;
	}
	f->cb(f->arg, status, msg, body, len);
	mgr_fwd_free(f);
}

static void fwd_send(struct fwd *f)
{
	Shoal__ControlRequest r = SHOAL__CONTROL_REQUEST__INIT;
	uint8_t *buf;
	size_t len;
	int rv;

	r.method = f->method;
	r.body.data = f->body;
	r.body.len = f->len;
	len = shoal__control_request__get_packed_size(&r);
	buf = xmalloc(len ? len : 1);
	shoal__control_request__pack(&r, buf);
	rv = rpc_call(f->m->fwd_peer, "ctl.call", buf, len, CTL_FORWARD_TIMEOUT_MS, fwd_reply, f,
		      NULL);
	free(buf);
	if (rv) {
		f->cb(f->arg, rv, err_str(rv), NULL, 0);
		mgr_fwd_free(f);
	}
}

static void fwd_peer_closed(struct rpc_peer *p, int reason)
{
	struct mgr *m = p->data;

	if (m->fwd_peer == p)
		m->fwd_peer = NULL;
	if (m->stopping && p == m->fwd_closing) {
		m->fwd_closing = NULL;
		mgr_close_step(m);
	}
}

static void fwd_dialed(void *arg, int status, const char *why, struct rpc_peer *p)
{
	struct mgr *m = arg;
	struct fwd *q = m->fwd_queue, *f;

	m->fwd_connecting = 0;
	if (m->stopping) {
		/* mgr_stop counted this dial; the peer's close (or this) ends it. */
		if (p) {
			m->fwd_closing = p;
			rpc_peer_close(p, 0);
		} else {
			mgr_close_step(m);
		}
		return;
	}
	m->fwd_queue = NULL;
	if (status == 0)
		m->fwd_peer = p;
	while ((f = q)) {
		q = f->next;
		if (status == 0 && !m->stopping) {
			fwd_send(f);
		} else {
			char msg[400];
			snprintf(msg, sizeof(msg),
				 MSG_NO_LEADER " (cannot reach the leader at %s: %s)", m->fwd_addr,
				 why ? why : err_str(status));
			f->cb(f->arg, -SHOAL_ENOLEADER, msg, NULL, 0);
			mgr_fwd_free(f);
		}
	}
}

static void fwd_start(struct fwd *f)
{
	struct mgr *m = f->m;
	uint64_t id;
	const char *addr;

	if (m->leader) {
		ctl_call(&m->ctl, f->method, f->body, f->len, f->cb, f->arg);
		mgr_fwd_free(f);
		return;
	}
	if (rnode_leader(&m->raft, &id, &addr) != 0) {
		f->cb(f->arg, -SHOAL_ENOLEADER, MSG_NO_LEADER, NULL, 0);
		mgr_fwd_free(f);
		return;
	}
	if (m->fwd_peer && strcmp(m->fwd_addr, addr) == 0) {
		fwd_send(f);
		return;
	}
	if (m->fwd_peer && !m->fwd_connecting) {
		struct rpc_peer *old = m->fwd_peer;
		m->fwd_peer = NULL;
		rpc_peer_close(old, 0);
	}
	f->next = m->fwd_queue;
	m->fwd_queue = f;
	if (m->fwd_connecting)
		return;
	snprintf(m->fwd_addr, sizeof(m->fwd_addr), "%s", addr);
	m->fwd_connecting = 1;
	if (mgr_dial(m->loop, m->cfg.id, m->fwd_addr, fwd_dialed, m, fwd_peer_closed, m) != 0)
		fwd_dialed(m, -EINVAL, "bad leader address", NULL);
}

void mgr_call(struct mgr *m, const char *method, const void *body, size_t len, ctl_reply_fn cb,
	      void *arg)
{
	struct fwd *f;

	if (m->leader) {
		ctl_call(&m->ctl, method, body, len, cb, arg);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->m = m;
	snprintf(f->method, sizeof(f->method), "%s", method);
	f->body = xmalloc(len ? len : 1);
	memcpy(f->body, body, len);
	f->len = len;
	f->cb = cb;
	f->arg = arg;
	fwd_start(f);
}

/* ------------------------------------------------------------------------ */
/* A manager joining: raft.join on the leader                                */

struct rjoin {
	uv_loop_t *loop;
	const struct sec_identity *id;
	uint64_t raft_id;
	char own[64];
	char addr[64];
	int hops;
	mgr_join_cb cb;
	void *arg;
	struct rpc_peer *p;
};

static void rjoin_dialed(void *arg, int status, const char *why, struct rpc_peer *p);

static void rjoin_reply(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
			size_t len)
{
	struct rjoin *j = call->data;
	Shoal__RaftJoinResponse *resp = NULL;

	rpc_peer_close(j->p, 0);
	if (status == -SHOAL_ENOTLEADER && msg && *msg && j->hops++ < 3) {
		snprintf(j->addr, sizeof(j->addr), "%s", msg);
		if (mgr_dial(j->loop, j->id, j->addr, rjoin_dialed, j, NULL, NULL) == 0)
			return;
	}
	if (status == 0)
		resp = shoal__raft_join_response__unpack(NULL, len, body);
	j->cb(j->arg, status ? status : (resp ? 0 : -SHOAL_EPROTO), msg, resp);
	if (resp)
		shoal__raft_join_response__free_unpacked(resp, NULL);
	free(j);
}

static void rjoin_dialed(void *arg, int status, const char *why, struct rpc_peer *p)
{
	struct rjoin *j = arg;
	Shoal__RaftJoinRequest r = SHOAL__RAFT_JOIN_REQUEST__INIT;
	uint8_t buf[128];
	size_t len;

	if (status) {
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot reach manager %s: %s", j->addr,
			 why ? why : err_str(status));
		j->cb(j->arg, status, msg, NULL);
		free(j);
		return;
	}
	j->p = p;
	r.raft_id = j->raft_id;
	r.addr = j->own;
	len = shoal__raft_join_request__pack(&r, buf);
	if (rpc_call(p, "raft.join", buf, len, 30000, rjoin_reply, j, NULL) != 0) {
		rpc_peer_close(p, 0);
		j->cb(j->arg, -SHOAL_ECLOSED, "connection closed", NULL);
		free(j);
	}
}

void mgr_request_join(uv_loop_t *loop, const struct sec_identity *id, const char *addr,
		      uint64_t raft_id, const char *own_addr, mgr_join_cb cb, void *arg)
{
	struct rjoin *j = xcalloc(1, sizeof(*j));

	j->loop = loop;
	j->id = id;
	j->raft_id = raft_id;
	snprintf(j->own, sizeof(j->own), "%s", own_addr);
	snprintf(j->addr, sizeof(j->addr), "%s", addr);
	j->cb = cb;
	j->arg = arg;
	if (mgr_dial(loop, id, addr, rjoin_dialed, j, NULL, NULL) != 0) {
		cb(arg, -EINVAL, "invalid manager address", NULL);
		free(j);
	}
}

/* ------------------------------------------------------------------------ */
/* A manager leaving: raft.leave on the leader                              */

struct leave_ctx {
	struct mgr *m;
	void (*cb)(void *arg);
	void *arg;
};

static void left_raft(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		      size_t len)
{
	struct leave_ctx *x = call->data;

	if (status)
		log_warn("mgr", "could not leave raft cleanly err=\"%s\" msg=\"%s\"",
			 err_str(status), msg);
	rpc_peer_close(call->peer, 0);
	mgr_stop(x->m, x->cb, x->arg);
	free(x);
}

static void leave_dialed(void *arg, int status, const char *why, struct rpc_peer *p)
{
	struct leave_ctx *x = arg;
	Shoal__RaftJoinRequest r = SHOAL__RAFT_JOIN_REQUEST__INIT;
	uint8_t buf[128];
	size_t len;

	if (status) {
		log_warn("mgr", "cannot reach the leader to leave raft: %s", why);
		mgr_stop(x->m, x->cb, x->arg);
		free(x);
		return;
	}
	r.raft_id = x->m->cfg.raft_id;
	r.addr = x->m->advertise;
	len = shoal__raft_join_request__pack(&r, buf);
	if (rpc_call(p, "raft.leave", buf, len, 10000, left_raft, x, NULL) != 0) {
		rpc_peer_close(p, 0);
		mgr_stop(x->m, x->cb, x->arg);
		free(x);
	}
}

static void transferred(void *arg, int status)
{
	struct leave_ctx *x = arg;
	uint64_t id;
	const char *addr;

	/* Another manager leads now: ask it to remove us. */
	if (rnode_leader(&x->m->raft, &id, &addr) == 0 && id != x->m->cfg.raft_id &&
	    mgr_dial(x->m->loop, x->m->cfg.id, addr, leave_dialed, x, NULL, NULL) == 0)
		return;
	mgr_stop(x->m, x->cb, x->arg);
	free(x);
}

void mgr_leave(struct mgr *m, void (*cb)(void *arg), void *arg)
{
	struct leave_ctx *x = xcalloc(1, sizeof(*x));
	uint64_t id;
	const char *addr;

	x->m = m;
	x->cb = cb;
	x->arg = arg;
	if (mgr_voters(m) <= 1) {
		mgr_stop(m, cb, arg);
		free(x);
		return;
	}
	if (m->leader) {
		if (rnode_transfer(&m->raft, 0, transferred, x) == 0)
			return;
	} else if (rnode_leader(&m->raft, &id, &addr) == 0 &&
		   mgr_dial(m->loop, m->cfg.id, addr, leave_dialed, x, NULL, NULL) == 0) {
		return;
	}
	mgr_stop(m, cb, arg);
	free(x);
}
