/* agent session: a node's connection to the dispatcher on the leader.
 *
 * Every node (managers too) runs one. It connects to a manager over the
 * secure channel with its certificate, registers (disp.register) and then
 * heartbeats at the period the dispatcher asks for. A follower answers
 * -SHOAL_ENOTLEADER naming the leader, and the session moves there. When
 * the connection or a heartbeat fails it reconnects with exponential
 * backoff (100 ms .. 5 s, jittered), cycling through the known managers,
 * forever until stopped. */
#ifndef SHOAL_WORKER_AGENT_SESSION_H
#define SHOAL_WORKER_AGENT_SESSION_H

#include <stddef.h>
#include <uv.h>

#include "common/rpc.h"
#include "common/sec/chan.h"
#include "proto/cluster.pb-c.h"

#define AGENT_MAX_MANAGERS 16

struct agent_session;

/* Session state changes: connected to `manager` (ip:port) or not (NULL). */
typedef void (*agent_state_cb)(void *arg, int connected, const char *manager);
/* The dispatcher sent the current manager list (leader first). */
typedef void (*agent_managers_cb)(void *arg, char *const *managers, size_t n);
/* The role the cluster wants this node to have (SEC_ROLE_*), from every
 * heartbeat answer. */
typedef void (*agent_role_cb)(void *arg, int desired_role);

/* The dispatcher sent assignment changes (borrowed, valid during the call):
 * the first message after every (re)connect is COMPLETE. */
typedef void (*agent_assignments_cb)(void *arg, const Shoal__AssignmentsMessage *msg);

struct agent_session_config {
	const struct sec_identity *id; /* borrowed, outlives the session */
	const char *const *managers;   /* initial "ip:port" list, copied */
	size_t n_managers;
	const Shoal__NodeDescription *desc; /* borrowed; sent at every register */
	const char *advertise_addr;	    /* copied */
	uint64_t raft_id;		    /* managers: sent at register */
	agent_state_cb on_state;
	agent_managers_cb on_managers;
	agent_role_cb on_role;
	agent_assignments_cb on_assignments; /* optional */
	/* methods the managers may call on this node (borrowed, may be NULL) */
	const struct rpc_method *methods;
	size_t n_methods;
	void *arg;
};

/* Starts the session; returns 0 and *out, or -EINVAL (no managers). */
int agent_session_start(uv_loop_t *loop, const struct agent_session_config *cfg,
			struct agent_session **out);

/* Stops and frees the session; `cb` (may be NULL) runs when every handle is
 * closed. */
void agent_session_stop(struct agent_session *s, void (*cb)(void *arg), void *arg);

/* Calls `method` on the dispatcher's manager over the session (the leader).
 * Returns 0 (then `cb` runs once) or -SHOAL_ECLOSED when not connected. */
int agent_session_call(struct agent_session *s, const char *method, const void *body, size_t len,
		       uint64_t timeout_ms, rpc_reply_cb cb, void *data);

/* Drops the connection and registers again (after a new certificate, or
 * a new raft id). */
void agent_session_reconnect(struct agent_session *s, uint64_t raft_id);

/* Sends task status reports (disp.status); the session id is filled in.
 * Returns 0 (then `cb` runs once) or -SHOAL_ECLOSED when not connected. */
int agent_session_report(struct agent_session *s, Shoal__UpdateTaskStatusRequest *r,
			 uint64_t timeout_ms, rpc_reply_cb cb, void *data);

/* In a handler of cfg.methods: the session's cfg.arg (NULL once the
 * connection is gone). */
void *agent_session_arg_of(const struct rpc_req *req);

/* 1 while registered with a dispatcher. */
int agent_session_connected(const struct agent_session *s);

#endif
