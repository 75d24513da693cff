/* mgr: the manager runtime of a node.
 *
 * Wires the store, Raft (manager/raftnode), the control API, the
 * dispatcher and the CA together, and runs the cluster listener (2377):
 * every connection there goes through the secure channel (joins get a
 * certificate; certified peers then name their purpose: RPC or Raft).
 * Control calls made on a follower are forwarded to the leader. */
#ifndef SHOAL_DAEMON_MGR_H
#define SHOAL_DAEMON_MGR_H

#include <stdint.h>
#include <uv.h>

#include "common/rpc.h"
#include "common/sec/chan.h"
#include "manager/controlapi/ctl.h"
#include "proto/cluster.pb-c.h"
#include "proto/objects.pb-c.h"

struct mgr;

struct mgr_config {
	const char *dir;	    /* Raft log and snapshots */
	const char *listen_addr;    /* cluster listener "ip:port" */
	const char *advertise_addr; /* "ip:port" peers use (Raft address) */
	const struct sec_identity *id;
	const char *node_id;
	uint64_t raft_id;
	uint8_t data_key[32];
	/* swarm init: bootstrap a single voter and create `init_cluster`
	 * (taken) once leader. */
	int bootstrap;
	Shoal__Cluster *init_cluster;
	/* swarm init --force-new-cluster: keep the state, drop the peers. */
	int force_new_cluster;
	/* Called when the cluster's unlock key changes (autolock on/off,
	 * rotation), so the node rewraps its data key. NULL key = off. */
	void (*on_unlock_key)(void *arg, const uint8_t *key);
	void *arg;
};

/* Starts the runtime. Returns 0 and *out, or a negative code with `why`. */
int mgr_start(uv_loop_t *loop, const struct mgr_config *cfg, struct mgr **out, char *why,
	      size_t whylen);

/* Stops it: a leader transfers leadership first (bounded wait). */
void mgr_stop(struct mgr *m, void (*cb)(void *arg), void *arg);

/* Runs a control call on the leader (here, or forwarded). */
void mgr_call(struct mgr *m, const char *method, const void *body, size_t len, ctl_reply_fn cb,
	      void *arg);

/* Calls `cb` once node `node_id` exists in the local store (or, with
 * node_id "", once this manager leads), or with -SHOAL_ETIMEDOUT after
 * `timeout_ms`. */
void mgr_wait_node(struct mgr *m, const char *node_id, uint64_t timeout_ms,
		   void (*cb)(void *arg, int status), void *arg);

/* A manager leaving the swarm: leave Raft (through the leader), then stop. */
void mgr_leave(struct mgr *m, void (*cb)(void *arg), void *arg);

/* The cluster data key (for rewrapping under a new unlock key). */
int mgr_data_key(const struct mgr *m, uint8_t out[32]);
/* Dials the manager at `addr` ("ip:port") with this node's certificate and
 * opens an RPC peer on it: `cb` runs once with the peer (its close callback
 * `on_close`, peer->data = peer_data) or an error. Returns 0 or a negative
 * code (then cb never runs). */
typedef void (*mgr_dial_cb)(void *arg, int status, const char *why, struct rpc_peer *p);
int mgr_dial(uv_loop_t *loop, const struct sec_identity *id, const char *addr, mgr_dial_cb cb,
	     void *arg, rpc_peer_close_cb on_close, void *peer_data);

/* The RPC peer of the session `node_id` holds with this manager (the
 * leader's dispatcher), or NULL. Borrowed: valid until its connection closes. */
struct rpc_peer *mgr_node_peer(struct mgr *m, const char *node_id);

/* The local store (reads only: counts for /info). */
struct store *mgr_store(struct mgr *m);

int mgr_is_leader(const struct mgr *m);
/* 1 once this manager is a voter in its Raft configuration. */
int mgr_is_voter(const struct mgr *m);
/* Leader's cluster address, "" when unknown. */
const char *mgr_leader_addr(const struct mgr *m);
/* Number of voters in the Raft configuration. */
unsigned mgr_voters(const struct mgr *m);

/* A manager joining asks an existing manager to add it to Raft. Connects to
 * `addr` with `id`, calls raft.join, follows a redirect to the leader, and
 * reports the data key and members. */
typedef void (*mgr_join_cb)(void *arg, int status, const char *msg, Shoal__RaftJoinResponse *resp);
void mgr_request_join(uv_loop_t *loop, const struct sec_identity *id, const char *addr,
		      uint64_t raft_id, const char *own_addr, mgr_join_cb cb, void *arg);

#endif
