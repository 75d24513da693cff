/* mgr_work: the RPC methods a node's agent uses to get work and report it.
 *
 * disp.assignments is a stream: the dispatcher's subscription produces
 * AssignmentsMessage records, each framed as a u32 big-endian length and the
 * packed message, queued here and sent in chunks as the agent's credit
 * allows. A worker that stops reading (its credit exhausted) while more than
 * MAX_QUEUED bytes pile up is cut off: it reconnects and gets a COMPLETE
 * message, which is always smaller than an unbounded backlog. */
#include "daemon/mgr_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define MAX_QUEUED (64u * 1024u * 1024u)

struct astream {
	struct rpc_req *req;
	struct disp_assign *sub;
	struct rpc_outq out; /* records not yet sent */
};

static void astream_end(struct astream *as, int status, const char *msg)
{
	disp_assign_close(as->sub);
	as->req->data = NULL;
	rpc_stream_end(as->req, status, msg);
	rpc_outq_free(&as->out);
	free(as);
}

static void pump(struct astream *as)
{
	int rv = rpc_outq_pump(as->req, &as->out);

	if (rv)
		astream_end(as, rv, "stream closed");
}

static void on_writable(struct rpc_req *req)
{
	if (req->data)
		pump(req->data);
}

static void on_cancel(struct rpc_req *req)
{
	if (req->data)
		astream_end(req->data, -ECANCELED, "cancelled");
}

static void on_assignments(void *arg, const Shoal__AssignmentsMessage *msg)
{
	struct astream *as = arg;
	uint8_t *rec;
	size_t len;

	if (!msg) { /* the dispatcher stopped: this manager is no longer leader */
		as->sub = NULL;
		astream_end(as, -SHOAL_ENOLEADER, "leadership changed");
		return;
	}
	if (rpc_outq_pending(&as->out) > MAX_QUEUED) {
		log_warn("mgr", "assignment stream backlog too large, closing it");
		astream_end(as, -ENOBUFS, "assignment backlog too large; reconnect");
		return;
	}
	len = protobuf_c_message_get_packed_size(&msg->base);
	rec = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&msg->base, rec);
	rpc_outq_record(&as->out, rec, len);
	free(rec);
	pump(as);
}

void mgr_m_assignments(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__AssignmentsRequest *r;
	struct astream *as;

	if (!mc) {
		rpc_stream_end(req, -SHOAL_ECLOSED, "connection closed");
		return;
	}
	if (!mc->m->leader) {
		uint64_t id;
		const char *addr;
		if (rnode_leader(&mc->m->raft, &id, &addr) == 0 && id != mc->m->cfg.raft_id)
			rpc_stream_end(req, -SHOAL_ENOTLEADER, addr);
		else
			rpc_stream_end(req, -SHOAL_ENOLEADER, "the swarm has no leader right now");
		return;
	}
	r = shoal__assignments_request__unpack(NULL, len, body);
	if (!r) {
		rpc_stream_end(req, -SHOAL_EPROTO, "malformed assignments request");
		return;
	}
	if (!disp_session_valid(&mc->m->disp, mc->peer.cert.node_id, r->session_id)) {
		shoal__assignments_request__free_unpacked(r, NULL);
		rpc_stream_end(req, -ENOENT, "unknown session: register again");
		return;
	}
	shoal__assignments_request__free_unpacked(r, NULL);
	as = xcalloc(1, sizeof(*as));
	as->req = req;
	req->data = as;
	req->on_writable = on_writable;
	req->on_cancel = on_cancel;
	as->sub = disp_assign_open(&mc->m->disp, mc->peer.cert.node_id, on_assignments, as);
	if (!as->sub)
		astream_end(as, -SHOAL_ENOLEADER, "not the leader");
}

void mgr_m_status(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__UpdateTaskStatusRequest *r;

	if (!mc) {
		rpc_reply(req, -SHOAL_ECLOSED, "connection closed", NULL, 0);
		return;
	}
	if (!mc->m->leader) {
		mgr_reply_not_leader(mc->m, req);
		return;
	}
	r = shoal__update_task_status_request__unpack(NULL, len, body);
	if (!r) {
		rpc_reply(req, -SHOAL_EPROTO, "malformed task status request", NULL, 0);
		return;
	}
	if (disp_update_status(&mc->m->disp, mc->peer.cert.node_id, r->session_id, r) != 0)
		rpc_reply(req, -ENOENT, "unknown session: register again", NULL, 0);
	else
		rpc_reply(req, 0, NULL, NULL, 0);
	shoal__update_task_status_request__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------------------ */
/* logs.proxy: relays a node's agent.logs to a manager that is not leader    */

#define MAX_RELAY_QUEUED (4u << 20)

struct relay {
	struct rpc_req *req;   /* to the asking manager */
	struct rpc_call *call; /* to the node */
	struct rpc_outq out;
	int paused;
};

static void relay_free(struct relay *r)
{
	rpc_outq_free(&r->out);
	free(r);
}

static void relay_pump(struct relay *r)
{
	if (rpc_outq_pump(r->req, &r->out) != 0) {
		if (r->call)
			rpc_call_cancel(r->call); /* relay_end finishes */
		return;
	}
	if (r->paused && r->call && rpc_outq_pending(&r->out) < MAX_RELAY_QUEUED / 2) {
		r->paused = 0;
		rpc_call_resume(r->call);
	}
}

static void relay_data(struct rpc_call *call, const uint8_t *data, size_t len)
{
	struct relay *r = call->data;

	rpc_outq_raw(&r->out, data, len);
	if (!r->paused && rpc_outq_pending(&r->out) > MAX_RELAY_QUEUED) {
		r->paused = 1;
		rpc_call_pause(call);
	}
	relay_pump(r);
}

static void relay_end(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		      size_t len)
{
	struct relay *r = call->data;

	(void) body;
	(void) len;
	r->call = NULL;
	r->req->data = NULL;
	rpc_outq_pump(r->req, &r->out); /* what credit allows; the rest is lost */
	rpc_stream_end(r->req, status, msg);
	relay_free(r);
}

static void relay_writable(struct rpc_req *req)
{
	if (req->data)
		relay_pump(req->data);
}

static void relay_cancel(struct rpc_req *req)
{
	struct relay *r = req->data;

	if (r && r->call)
		rpc_call_cancel(r->call);
}

void mgr_m_logs_proxy(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__LogsRequest *lr;
	struct rpc_peer *node;
	struct relay *r;
	int rv;

	if (!mc || mc->peer.cert.role != SEC_ROLE_MANAGER) {
		rpc_stream_end(req, -EPERM, "only managers may read logs");
		return;
	}
	lr = shoal__logs_request__unpack(NULL, len, body);
	if (!lr) {
		rpc_stream_end(req, -SHOAL_EPROTO, "malformed logs request");
		return;
	}
	node = mgr_node_peer(mc->m, lr->node_id);
	if (!node) {
		rpc_stream_end(req, -SHOAL_ECLOSED, "the node holding the task is not connected");
		shoal__logs_request__free_unpacked(lr, NULL);
		return;
	}
	shoal__logs_request__free_unpacked(lr, NULL);
	r = xcalloc(1, sizeof(*r));
	r->req = req;
	req->data = r;
	req->on_writable = relay_writable;
	req->on_cancel = relay_cancel;
	rv = rpc_stream_open(node, "agent.logs", body, len, relay_data, relay_end, r, &r->call);
	if (rv) {
		req->data = NULL;
		rpc_stream_end(req, rv, "cannot reach the node");
		relay_free(r);
	}
}
