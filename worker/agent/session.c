#include "worker/agent/session.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rpc.h"

#define BACKOFF_MIN_MS	    100u
#define BACKOFF_MAX_MS	    5000u
#define REGISTER_TIMEOUT_MS 5000u
#define DEFAULT_PERIOD_MS   5000u

struct agent_session {
	uv_loop_t *loop;
	struct agent_session_config cfg;
	char *managers[AGENT_MAX_MANAGERS];
	size_t n_managers;
	size_t next;		/* index of the manager to try next */
	char redirect[64];	/* leader named by a follower, tried first */
	uv_timer_t timer;	/* backoff and heartbeats */
	struct wire_conn *conn; /* while connecting / handshaking */
	struct rpc_peer *peer;	/* once the channel is up */
	char current[64];
	char session_id[64];
	uint64_t period_ms;
	uint32_t backoff_ms;
	int registered;
	int stopping;
	int hs_pending;		      /* sec_connect running: it will call handshake_done */
	int refs;		      /* the timer, plus a pending handshake while stopping */
	struct rpc_call *assign_call; /* the assignments stream */
	struct buf assign_buf;	      /* a record being reassembled */
	void (*stop_cb)(void *arg);
	void *stop_arg;
};

static void schedule_reconnect(struct agent_session *s);

/* A follower names the leader as "ip:port" in its -SHOAL_ENOTLEADER message;
 * anything else is an explanation, not a place to go. */
static int looks_like_addr(const char *msg)
{
	const char *colon = msg ? strrchr(msg, ':') : NULL;

	return colon && colon != msg && colon[1] >= '0' && colon[1] <= '9' &&
	       strspn(msg, "0123456789.:[]abcdefABCDEF") == strlen(msg);
}

static void set_managers(struct agent_session *s, char *const *list, size_t n)
{
	for (size_t i = 0; i < s->n_managers; i++)
		free(s->managers[i]);
	s->n_managers = 0;
	for (size_t i = 0; i < n && i < AGENT_MAX_MANAGERS; i++)
		s->managers[s->n_managers++] = xstrdup(list[i]);
	s->next = 0;
}

static void set_connected(struct agent_session *s, int up)
{
	if (s->registered == up)
		return;
	s->registered = up;
	if (s->cfg.on_state)
		s->cfg.on_state(s->cfg.arg, up, up ? s->current : NULL);
}

/* ------------------------------------------------------------------------ */
/* Heartbeats                                                                */

static void heartbeat_cb(uv_timer_t *t);

static void arm_heartbeat(struct agent_session *s)
{
	uv_timer_start(&s->timer, heartbeat_cb, s->period_ms, 0);
}

static void heartbeat_reply(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
			    size_t len)
{
	struct agent_session *s = call->data;
	Shoal__HeartbeatResponse *r;

	if (s->stopping || !s->peer)
		return;
	if (status) {
		log_warn("agent", "heartbeat failed manager=%s err=\"%s\" msg=\"%s\"", s->current,
			 err_str(status), msg);
		rpc_peer_close(s->peer, status);
		return;
	}
	r = shoal__heartbeat_response__unpack(NULL, len, body);
	if (r) {
		if (r->heartbeat_period > 0)
			s->period_ms = (uint64_t) (r->heartbeat_period / 1000000);
		if (r->n_managers && s->cfg.on_managers) {
			set_managers(s, r->managers, r->n_managers);
			s->cfg.on_managers(s->cfg.arg, s->managers, s->n_managers);
		}
		uint32_t role = r->desired_role;
		shoal__heartbeat_response__free_unpacked(r, NULL);
		arm_heartbeat(s);
		/* Last: the callback may reconnect the session. */
		if (s->cfg.on_role)
			s->cfg.on_role(s->cfg.arg, (int) role);
		return;
	}
	arm_heartbeat(s);
}

static void heartbeat_cb(uv_timer_t *t)
{
	struct agent_session *s = t->data;
	Shoal__HeartbeatRequest req = SHOAL__HEARTBEAT_REQUEST__INIT;
	uint8_t body[128];
	size_t len;
	int rv;

	if (!s->peer)
		return;
	req.session_id = s->session_id;
	len = shoal__heartbeat_request__pack(&req, body);
	/* A heartbeat unanswered within one period counts as a failure. */
	rv = rpc_call(s->peer, "disp.heartbeat", body, len, s->period_ms, heartbeat_reply, s, NULL);
	if (rv)
		rpc_peer_close(s->peer, rv);
}

/* ------------------------------------------------------------------------ */
/* Assignments                                                               */

#define MAX_ASSIGN_RECORD (64u << 20)

static int assign_record(void *arg, const uint8_t *rec, size_t len)
{
	struct agent_session *s = arg;
	Shoal__AssignmentsMessage *m = shoal__assignments_message__unpack(NULL, len, rec);

	if (!m) {
		log_warn("agent", "malformed assignments message");
		return -SHOAL_EPROTO;
	}
	s->cfg.on_assignments(s->cfg.arg, m);
	shoal__assignments_message__free_unpacked(m, NULL);
	return !s->peer || s->stopping ? -SHOAL_ECLOSED : 0;
}

/* Records are a packed AssignmentsMessage each (rpc record stream). */
static void assign_data(struct rpc_call *call, const uint8_t *data, size_t len)
{
	struct agent_session *s = call->data;
	int rv = rpc_records_feed(&s->assign_buf, data, len, MAX_ASSIGN_RECORD, assign_record, s);

	if (rv && s->peer && !s->stopping) {
		log_warn("agent", "bad assignment stream err=\"%s\"", err_str(rv));
		rpc_peer_close(s->peer, -SHOAL_EPROTO);
	}
}

static void assign_end(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		       size_t len)
{
	struct agent_session *s = call->data;

	(void) body;
	(void) len;
	s->assign_call = NULL;
	buf_reset(&s->assign_buf);
	if (s->stopping || !s->peer || status == -ECANCELED)
		return;
	/* Without its assignments the session is useless: start over. */
	log_info("agent", "assignment stream ended manager=%s err=\"%s\" msg=\"%s\"", s->current,
		 err_str(status), msg ? msg : "");
	if (status == -SHOAL_ENOTLEADER && looks_like_addr(msg) &&
	    strlen(msg) < sizeof(s->redirect))
		snprintf(s->redirect, sizeof(s->redirect), "%s", msg);
	rpc_peer_close(s->peer, status ? status : -SHOAL_ECLOSED);
}

static void open_assignments(struct agent_session *s)
{
	Shoal__AssignmentsRequest req = SHOAL__ASSIGNMENTS_REQUEST__INIT;
	uint8_t body[128];
	size_t len;
	int rv;

	req.session_id = s->session_id;
	len = shoal__assignments_request__pack(&req, body);
	buf_reset(&s->assign_buf);
	rv = rpc_stream_open(s->peer, "disp.assignments", body, len, assign_data, assign_end, s,
			     &s->assign_call);
	if (rv)
		rpc_peer_close(s->peer, rv);
}

/* ------------------------------------------------------------------------ */
/* Registering                                                               */

static void register_reply(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
			   size_t len)
{
	struct agent_session *s = call->data;
	Shoal__SessionResponse *r;

	if (s->stopping || !s->peer)
		return;
	if (status == -SHOAL_ENOTLEADER && looks_like_addr(msg) &&
	    strlen(msg) < sizeof(s->redirect)) {
		/* A follower: it names the leader; go there next. */
		snprintf(s->redirect, sizeof(s->redirect), "%s", msg);
		log_info("agent", "redirected to leader from=%s leader=%s", s->current, msg);
		s->backoff_ms = 0;
		rpc_peer_close(s->peer, status);
		return;
	}
	if (status) {
		log_warn("agent", "register failed manager=%s err=\"%s\" msg=\"%s\"", s->current,
			 err_str(status), msg);
		rpc_peer_close(s->peer, status);
		return;
	}
	r = shoal__session_response__unpack(NULL, len, body);
	if (!r) {
		rpc_peer_close(s->peer, -SHOAL_EPROTO);
		return;
	}
	snprintf(s->session_id, sizeof(s->session_id), "%s", r->session_id);
	s->period_ms = r->heartbeat_period > 0 ? (uint64_t) (r->heartbeat_period / 1000000)
					       : DEFAULT_PERIOD_MS;
	if (r->n_managers) {
		set_managers(s, r->managers, r->n_managers);
		if (s->cfg.on_managers)
			s->cfg.on_managers(s->cfg.arg, s->managers, s->n_managers);
	}
	shoal__session_response__free_unpacked(r, NULL);
	s->backoff_ms = 0;
	log_info("agent", "session established manager=%s period_ms=%llu", s->current,
		 (unsigned long long) s->period_ms);
	set_connected(s, 1);
	arm_heartbeat(s);
	if (s->cfg.on_assignments)
		open_assignments(s);
}

static void release(struct agent_session *s);

static void peer_closed(struct rpc_peer *p, int reason)
{
	struct agent_session *s = p->data;

	s->peer = NULL;
	if (s->stopping) {
		release(s);
		return;
	}
	uv_timer_stop(&s->timer);
	set_connected(s, 0);
	if (!s->stopping)
		schedule_reconnect(s);
}

static void send_register(struct agent_session *s)
{
	Shoal__SessionRequest req = SHOAL__SESSION_REQUEST__INIT;
	uint8_t *body;
	size_t len;
	int rv;

	req.description = (Shoal__NodeDescription *) s->cfg.desc;
	req.advertise_addr = (char *) (s->cfg.advertise_addr ? s->cfg.advertise_addr : "");
	req.raft_id = s->cfg.raft_id;
	len = shoal__session_request__get_packed_size(&req);
	body = xmalloc(len ? len : 1);
	shoal__session_request__pack(&req, body);
	rv = rpc_call(s->peer, "disp.register", body, len, REGISTER_TIMEOUT_MS, register_reply, s,
		      NULL);
	free(body);
	if (rv)
		rpc_peer_close(s->peer, rv);
}

static void release(struct agent_session *s);

static void handshake_done(struct wire_conn *c, int status, const char *why,
			   const struct sec_peer *peer, struct sec_join_result *join, void *data)
{
	struct agent_session *s = data;

	s->conn = NULL;
	s->hs_pending = 0;
	if (s->stopping) {
		if (status == 0)
			wire_close(c, 0);
		release(s);
		return;
	}
	if (status) {
		log_warn("agent", "cannot reach manager addr=%s err=\"%s\" why=\"%s\"", s->current,
			 err_str(status), why ? why : "");
		if (!s->stopping)
			schedule_reconnect(s);
		return;
	}
	if (wire_send(c, WIRE_PURPOSE_RPC, strlen(WIRE_PURPOSE_RPC)) != 0) {
		wire_close(c, -SHOAL_ECLOSED);
		schedule_reconnect(s);
		return;
	}
	s->peer = rpc_peer_new(c, s->cfg.methods, s->cfg.n_methods, peer_closed, s);
	send_register(s);
}

static void connected(struct wire_conn *c, int status)
{
	struct agent_session *s = c->data;
	struct sec_connect_config cfg = {.id = s->cfg.id, .peer_role = SEC_ROLE_MANAGER};
	int rv;

	if (status) {
		/* wire closes the conn and calls no close callback of ours. */
		s->conn = NULL;
		log_debug("agent", "connect failed addr=%s err=\"%s\"", s->current,
			  err_str(status));
		if (!s->stopping)
			schedule_reconnect(s);
		return;
	}
	s->hs_pending = 1;
	rv = sec_connect(c, &cfg, handshake_done, s);
	if (rv) {
		s->hs_pending = 0;
		s->conn = NULL;
		wire_close(c, rv);
		schedule_reconnect(s);
	}
}

static void try_connect(uv_timer_t *t)
{
	struct agent_session *s = t->data;
	const char *addr;
	int rv;

	if (s->stopping)
		return;
	if (s->redirect[0]) {
		snprintf(s->current, sizeof(s->current), "%s", s->redirect);
		s->redirect[0] = '\0';
	} else {
		addr = s->managers[s->next % s->n_managers];
		s->next++;
		snprintf(s->current, sizeof(s->current), "%s", addr);
	}
	rv = wire_connect(s->loop, s->current, connected, s, &s->conn);
	if (rv) {
		log_warn("agent", "bad manager address addr=%s err=\"%s\"", s->current,
			 err_str(rv));
		s->conn = NULL;
		schedule_reconnect(s);
	}
}

static void schedule_reconnect(struct agent_session *s)
{
	uint32_t delay;

	if (s->stopping)
		return;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	/* +-20% jitter so a restarted manager is not hit by every node at once. */
	delay = s->backoff_ms * 4 / 5 + randombytes_uniform(s->backoff_ms * 2 / 5 + 1);
	if (s->redirect[0])
		delay = 0;
	uv_timer_start(&s->timer, try_connect, delay, 0);
}

/* ------------------------------------------------------------------------ */

int agent_session_start(uv_loop_t *loop, const struct agent_session_config *cfg,
			struct agent_session **out)
{
	struct agent_session *s;

	if (!cfg->id || !cfg->n_managers)
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->cfg = *cfg;
	s->cfg.managers = NULL;
	s->cfg.advertise_addr = cfg->advertise_addr ? xstrdup(cfg->advertise_addr) : NULL;
	set_managers(s, (char *const *) cfg->managers, cfg->n_managers);
	s->period_ms = DEFAULT_PERIOD_MS;
	s->refs = 1;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, try_connect, 0, 0);
	*out = s;
	return 0;
}

static void release(struct agent_session *s)
{
	if (--s->refs > 0)
		return;
	if (s->stop_cb)
		s->stop_cb(s->stop_arg);
	set_managers(s, NULL, 0);
	free((char *) s->cfg.advertise_addr);
	buf_free(&s->assign_buf);
	free(s);
}

static void timer_closed(uv_handle_t *h)
{
	release(h->data);
}

void agent_session_stop(struct agent_session *s, void (*cb)(void *arg), void *arg)
{
	s->stopping = 1;
	s->stop_cb = cb;
	s->stop_arg = arg;
	if (s->peer) {
		/* Calls in flight report to us while the peer closes: keep `s`
		 * until peer_closed. */
		s->refs++;
		rpc_peer_close(s->peer, 0);
	}
	/* A conn mid-handshake reports to handshake_done once closed: keep
	 * `s` alive for that. A conn still in TCP connect reports nothing. */
	if (s->conn) {
		if (s->hs_pending)
			s->refs++;
		wire_close(s->conn, 0);
		s->conn = NULL;
	}
	set_connected(s, 0);
	uv_close((uv_handle_t *) &s->timer, timer_closed);
}

int agent_session_connected(const struct agent_session *s)
{
	return s->registered;
}

int agent_session_call(struct agent_session *s, const char *method, const void *body, size_t len,
		       uint64_t timeout_ms, rpc_reply_cb cb, void *data)
{
	if (!s->peer || !s->registered)
		return -SHOAL_ECLOSED;
	return rpc_call(s->peer, method, body, len, timeout_ms, cb, data, NULL);
}

int agent_session_report(struct agent_session *s, Shoal__UpdateTaskStatusRequest *r,
			 uint64_t timeout_ms, rpc_reply_cb cb, void *data)
{
	uint8_t *body;
	size_t len;
	int rv;

	if (!s->peer || !s->registered)
		return -SHOAL_ECLOSED;
	r->session_id = s->session_id;
	len = shoal__update_task_status_request__get_packed_size(r);
	body = xmalloc(len ? len : 1);
	shoal__update_task_status_request__pack(r, body);
	r->session_id = NULL;
	rv = rpc_call(s->peer, "disp.status", body, len, timeout_ms, cb, data, NULL);
	free(body);
	return rv;
}

void agent_session_reconnect(struct agent_session *s, uint64_t raft_id)
{
	s->cfg.raft_id = raft_id;
	s->backoff_ms = 0;
	if (s->peer)
		rpc_peer_close(s->peer, 0); /* peer_closed schedules the reconnect */
}

void *agent_session_arg_of(const struct rpc_req *req)
{
	const struct agent_session *s = req->peer ? req->peer->data : NULL;

	return s ? s->cfg.arg : NULL;
}
