#include "daemon/mgr_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "manager/ca/ca.h"
#include "manager/dispatcher/disp.h"
#include "manager/raftnode/raftnode.h"
#include "manager/store/store.h"

/* ------------------------------------------------------------------------ */
/* The cluster port                                                          */

static void mconn_free(struct mconn *mc)
{
	struct mgr *m = mc->m;

	if (mc->prev)
		mc->prev->next = mc->next;
	else
		m->conns = mc->next;
	if (mc->next)
		mc->next->prev = mc->prev;
	sodium_memzero(mc, sizeof(*mc));
	free(mc);
	mgr_maybe_free(m);
}

void mgr_reply_not_leader(struct mgr *m, struct rpc_req *req)
{
	uint64_t id;
	const char *addr;

	if (rnode_leader(&m->raft, &id, &addr) == 0 && id != m->cfg.raft_id)
		rpc_reply(req, -SHOAL_ENOTLEADER, addr, NULL, 0);
	else
		rpc_reply(req, -SHOAL_ENOLEADER, "the swarm has no leader right now", NULL, 0);
}

struct mconn *mgr_conn_of(struct rpc_req *req)
{
	return req->peer ? req->peer->data : NULL;
}

static void reply_packed(struct rpc_req *req, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);

	protobuf_c_message_pack(msg, buf);
	rpc_reply(req, 0, NULL, buf, len);
	free(buf);
}

static void register_done(void *arg, int status, const char *msg, Shoal__SessionResponse *resp)
{
	struct rpc_req *req = arg;

	if (status) {
		rpc_reply(req, status, msg, NULL, 0);
		return;
	}
	if (mgr_conn_of(req))
		mgr_conn_of(req)->session = 1;
	reply_packed(req, &resp->base);
}

static void m_register(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__SessionRequest *r;

	if (!mc->m->leader)
		return mgr_reply_not_leader(mc->m, req);
	/* The handshake checks revocation too, but a manager that just
	 * started may not have loaded the store yet; the leader has. */
	const Shoal__Cluster *cl = store_get_cluster(mc->m->store);
	if (cl && ca_is_revoked(cl, &mc->peer.cert)) {
		char msg[128];
		snprintf(msg, sizeof(msg), "node %s has been removed from the swarm",
			 mc->peer.cert.node_id);
		rpc_reply(req, -SHOAL_ECERTREVOKED, msg, NULL, 0);
		return;
	}
	r = shoal__session_request__unpack(NULL, len, body);
	if (!r) {
		rpc_reply(req, -SHOAL_EPROTO, "malformed session request", NULL, 0);
		return;
	}
	disp_register(&mc->m->disp, mc->peer.cert.node_id, mc->peer.cert.role == SEC_ROLE_MANAGER,
		      mc->ip, r, register_done, req);
	shoal__session_request__free_unpacked(r, NULL);
}

static void m_heartbeat(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__HeartbeatRequest *r;
	Shoal__HeartbeatResponse resp = SHOAL__HEARTBEAT_RESPONSE__INIT;

	if (!mc->m->leader)
		return mgr_reply_not_leader(mc->m, req);
	r = shoal__heartbeat_request__unpack(NULL, len, body);
	if (!r) {
		rpc_reply(req, -SHOAL_EPROTO, "malformed heartbeat", NULL, 0);
		return;
	}
	if (disp_heartbeat(&mc->m->disp, mc->peer.cert.node_id, r->session_id, &resp) != 0)
		rpc_reply(req, -ENOENT, "unknown session: register again", NULL, 0);
	else
		reply_packed(req, &resp.base);
	disp_heartbeat_clear(&resp);
	shoal__heartbeat_request__free_unpacked(r, NULL);
}

static void ctl_forward_reply(void *arg, int status, const char *msg, const uint8_t *body,
			      size_t len)
{
	rpc_reply(arg, status, msg, body, len);
}

static void m_ctl_call(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__ControlRequest *r;

	if (mc->peer.cert.role != SEC_ROLE_MANAGER) {
		rpc_reply(req, -EPERM, "control calls need a manager certificate", NULL, 0);
		return;
	}
	if (!mc->m->leader)
		return mgr_reply_not_leader(mc->m, req);
	r = shoal__control_request__unpack(NULL, len, body);
	if (!r) {
		rpc_reply(req, -SHOAL_EPROTO, "malformed control request", NULL, 0);
		return;
	}
	ctl_call(&mc->m->ctl, r->method, r->body.data, r->body.len, ctl_forward_reply, req);
	shoal__control_request__free_unpacked(r, NULL);
}

struct add_ctx {
	uint64_t id;
	char addr[64];
};

static void voter_added(void *arg, int status)
{
	struct add_ctx *x = arg;

	if (status)
		log_warn("mgr", "manager not promoted to voter raft_id=%llx addr=%s err=\"%s\"",
			 (unsigned long long) x->id, x->addr, err_str(status));
	else
		log_info("mgr", "manager joined raft as voter raft_id=%llx addr=%s",
			 (unsigned long long) x->id, x->addr);
	free(x);
}

static void m_raft_join(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	struct mgr *m = mc->m;
	Shoal__RaftJoinRequest *r;
	Shoal__RaftJoinResponse resp = SHOAL__RAFT_JOIN_RESPONSE__INIT;
	struct add_ctx *x;
	int rv;

	if (mc->peer.cert.role != SEC_ROLE_MANAGER) {
		rpc_reply(req, -EPERM, "joining raft needs a manager certificate", NULL, 0);
		return;
	}
	if (!m->leader)
		return mgr_reply_not_leader(m, req);
	r = shoal__raft_join_request__unpack(NULL, len, body);
	if (!r || r->raft_id == 0 || wire_parse_addr(r->addr, &(struct sockaddr_in){0}) != 0) {
		rpc_reply(req, -EINVAL, "malformed raft join request", NULL, 0);
		if (r)
			shoal__raft_join_request__free_unpacked(r, NULL);
		return;
	}
	/* Add in the background: the joiner starts Raft only once it has the
	 * data key from this reply, and catching up needs it running. */
	x = xcalloc(1, sizeof(*x));
	x->id = r->raft_id;
	snprintf(x->addr, sizeof(x->addr), "%s", r->addr);
	rv = rnode_add_voter(&m->raft, r->raft_id, r->addr, voter_added, x);
	shoal__raft_join_request__free_unpacked(r, NULL);
	if (rv) {
		free(x);
		rpc_reply(req, rv, err_str(rv), NULL, 0);
		return;
	}
	resp.data_key.data = m->data_key;
	resp.data_key.len = 32;
	reply_packed(req, &resp.base);
}

static void removed_self(void *arg, int status)
{
	struct rpc_req *req = arg;

	rpc_reply(req, status, status ? err_str(status) : NULL, NULL, 0);
}

static void m_raft_leave(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	Shoal__RaftJoinRequest *r;
	int rv;

	if (mc->peer.cert.role != SEC_ROLE_MANAGER) {
		rpc_reply(req, -EPERM, "leaving raft needs a manager certificate", NULL, 0);
		return;
	}
	if (!mc->m->leader)
		return mgr_reply_not_leader(mc->m, req);
	r = shoal__raft_join_request__unpack(NULL, len, body);
	if (!r) {
		rpc_reply(req, -EINVAL, "malformed raft leave request", NULL, 0);
		return;
	}
	rv = rnode_remove(&mc->m->raft, r->raft_id, removed_self, req);
	shoal__raft_join_request__free_unpacked(r, NULL);
	if (rv)
		rpc_reply(req, rv, err_str(rv), NULL, 0);
}

/* A node asks for a certificate of the role the cluster wants it to have. */
static int is_member(struct mgr *m, uint64_t raft_id)
{
	struct rnode_member *mem = NULL;
	size_t n = 0;
	int found = 0;

	if (raft_id == 0 || rnode_configuration(&m->raft, &mem, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		found |= mem[i].id == raft_id;
	free(mem);
	return found;
}

static void removed_member(void *arg, int status)
{
	struct mgr *m = arg;

	if (status && status != -SHOAL_ENOTLEADER)
		log_warn("mgr", "demotion: raft removal failed err=\"%s\"", err_str(status));
	m->demoting = 0;
}

static void m_renew(struct rpc_req *req, const uint8_t *body, size_t len)
{
	struct mconn *mc = mgr_conn_of(req);
	struct mgr *m = mc->m;
	const Shoal__Node *n;
	const Shoal__Cluster *cl = store_get_cluster(m->store);
	Shoal__RenewResponse resp = SHOAL__RENEW_RESPONSE__INIT;
	struct buf cert = BUF_INIT;
	int role, rv;

	if (!m->leader)
		return mgr_reply_not_leader(m, req);
	n = store_get_node(m->store, mc->peer.cert.node_id);
	if (!n || !cl) {
		rpc_reply(req, -ENOENT, "node not found: it may have been removed", NULL, 0);
		return;
	}
	role = n->spec && n->spec->desired_role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER
		   ? SEC_ROLE_MANAGER
		   : SEC_ROLE_WORKER;
	log_debug("mgr", "renew node_id=%s want=%s raft_id=%llx member=%d", n->meta->id,
		  sec_role_name(role),
		  (unsigned long long) (n->manager_status ? n->manager_status->raft_id : 0),
		  n->manager_status ? is_member(m, n->manager_status->raft_id) : -1);
	if (role == SEC_ROLE_WORKER && n->manager_status &&
	    is_member(m, n->manager_status->raft_id)) {
		/* Demotion: out of Raft first, then the worker certificate. */
		if (!m->demoting &&
		    rnode_remove(&m->raft, n->manager_status->raft_id, removed_member, m) == 0)
			m->demoting = 1;
		rpc_reply(req, -EAGAIN, "leaving raft, try again", NULL, 0);
		return;
	}
	rv = ca_issue(cl, n->meta->id, role, mc->peer.static_pk, randombytes_random(),
		      (int64_t) time(NULL), &cert);
	if (rv) {
		rpc_reply(req, rv, "cannot issue the certificate", NULL, 0);
		return;
	}
	log_info("mgr", "renewed certificate node_id=%s role=%s", n->meta->id, sec_role_name(role));
	resp.certificate.data = cert.data;
	resp.certificate.len = cert.len;
	reply_packed(req, &resp.base);
	buf_free(&cert);
}

static const struct rpc_method methods[] = {
    {"ca.renew", m_renew, 0},
    {"disp.register", m_register, 0},
    {"disp.heartbeat", m_heartbeat, 0},
    {"ctl.call", m_ctl_call, 0},
    {"raft.join", m_raft_join, 0},
    {"raft.leave", m_raft_leave, 0},
    {"disp.assignments", mgr_m_assignments, RPC_F_STREAM},
    {"disp.status", mgr_m_status, 0},
    {"logs.proxy", mgr_m_logs_proxy, RPC_F_STREAM},
};

static void mconn_closed(struct rpc_peer *p, int reason)
{
	mconn_free(p->data);
}

static void first_msg(struct wire_conn *c, const uint8_t *msg, size_t len)
{
	struct mconn *mc = c->data;
	struct mgr *m = mc->m;

	if (rnode_transport_is_hello(msg, len)) {
		/* The transport owns the connection from now on. */
		struct sec_peer peer = mc->peer;
		mconn_free(mc);
		c->data = NULL;
		rnode_transport_accept_hello(rnode_get_transport(&m->raft), c, &peer, msg, len);
		return;
	}
	if (len == strlen(WIRE_PURPOSE_RPC) && memcmp(msg, WIRE_PURPOSE_RPC, len) == 0) {
		mc->conn = NULL;
		mc->rpc = rpc_peer_new(c, methods, sizeof(methods) / sizeof(methods[0]),
				       mconn_closed, mc);
		return;
	}
	log_warn("mgr", "unknown purpose on the cluster port peer=%s", c->peer);
	c->on_msg = NULL;
	wire_close(c, -SHOAL_EPROTO);
}

static void early_close(struct wire_conn *c, int reason)
{
	mconn_free(c->data);
}

static int issue_cb(void *arg, int role, const uint8_t pk[32], const char *hostname,
		    struct buf *out, char *why, size_t whylen)
{
	struct mconn *mc = arg;
	const Shoal__Cluster *cl = store_get_cluster(mc->m->store);
	char node_id[ID_LEN + 1];

	if (!cl) {
		snprintf(why, whylen, "the swarm is still starting, try again");
		return -SHOAL_ENOLEADER;
	}
	id_new(node_id);
	log_info("mgr", "issuing certificate node_id=%s role=%s hostname=%s", node_id,
		 sec_role_name(role), hostname);
	return ca_issue(cl, node_id, role, pk, randombytes_random(), (int64_t) time(NULL), out);
}

static int revoked_cb(void *arg, const struct sec_cert *cert)
{
	struct mconn *mc = arg;
	const Shoal__Cluster *cl = store_get_cluster(mc->m->store);

	return cl && ca_is_revoked(cl, cert);
}

static void handshake_done(struct wire_conn *c, int status, const char *why,
			   const struct sec_peer *peer, struct sec_join_result *join, void *data)
{
	struct mconn *mc = data;

	if (status) {
		mconn_free(mc);
		return;
	}
	if (peer->joining || mc->m->stopping) {
		/* The joiner got its certificate in the verdict; it reconnects
		 * with it. Flush and close. */
		mconn_free(mc);
		wire_finish(c, 0);
		return;
	}
	mc->peer = *peer;
	c->data = mc;
	c->on_msg = first_msg;
	c->on_close = early_close;
}

void mgr_on_accept(struct wire_listener *l, struct wire_conn *c)
{
	struct mgr *m = l->data;
	struct mconn *mc = xcalloc(1, sizeof(*mc));
	const Shoal__Cluster *cl = store_get_cluster(m->store);
	struct sec_accept_config cfg = {
	    .id = m->cfg.id,
	    .peer_role = -1,
	    .issue = issue_cb,
	    .revoked = revoked_cb,
	    .arg = mc,
	};
	const uint8_t *s;

	mc->m = m;
	mc->conn = c;
	mc->next = m->conns;
	if (m->conns)
		m->conns->prev = mc;
	m->conns = mc;
	snprintf(mc->ip, sizeof(mc->ip), "%s", c->peer);
	if (strrchr(mc->ip, ':'))
		*strrchr(mc->ip, ':') = '\0';
	/* Join secrets as of now (copied: the store may change meanwhile). */
	if (cl && (s = ca_worker_secret(cl))) {
		memcpy(mc->worker_secret, s, 16);
		cfg.worker_secret = mc->worker_secret;
	}
	if (cl && (s = ca_manager_secret(cl))) {
		memcpy(mc->manager_secret, s, 16);
		cfg.manager_secret = mc->manager_secret;
	}
	if (m->stopping || sec_accept(c, &cfg, handshake_done, mc) != 0) {
		wire_close(c, -ECANCELED);
		mconn_free(mc);
	}
}
