/* Private to daemon/node*.c (never included elsewhere): what the node's
 * files share. node.c starts and stops the node, keeps its keys and the
 * sealed LocalState, wires the manager runtime and the agent session and
 * serves /info; node_swarm.c runs swarm init/join/leave/unlock and
 * --force-new-cluster; node_role.c follows promotion and demotion. */
#ifndef SHOAL_DAEMON_NODE_INT_H
#define SHOAL_DAEMON_NODE_INT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "daemon/node.h"
#include "worker/agent/runner.h"
#include "proto/local_state.pb-c.h"
#include "proto/objects.pb-c.h"

/* node.c */
/* Replaces `d` with a copy of `len` bytes of `p` (frees the old data). */
void node_set_bytes(ProtobufCBinaryData *d, const void *p, size_t len);
/* Loads identity (and `data_key` for managers, when not NULL) from n->st. */
int node_unlock_state(struct node *n, const uint8_t *unlock_key, uint8_t data_key[32]);
/* Wraps the static key (and `data_key`) under the unlock key, or a random KEK. */
void node_seal_state(Shoal__LocalState *st, const uint8_t spriv[32], const uint8_t *data_key,
		     const uint8_t *unlock_key);
/* "<data-root>/swarm/raft" in a static buffer (valid until the next call). */
const char *node_raft_dir(struct node *n);
/* Starts the manager runtime into n->mgr (takes `init_cluster` on success). */
int node_start_mgr(struct node *n, const uint8_t data_key[32], int bootstrap,
		   Shoal__Cluster *init_cluster, int force_new, char *why, size_t whylen);
/* Starts the agent session to the managers in n->st. */
void node_start_agent(struct node *n);
/* Starts what a member runs, from the loaded state (-SHOAL_ELOCKED when locked). */
int node_resume(struct node *n, const uint8_t *unlock_key, char *why, size_t whylen);

/* node_work.c: the task manager and what managers ask of this node. */
struct node_work {
	char *log_root, *volume_root, *shim;
	struct agent_exec_runner runner;
};
/* Starts the task manager (idempotent); returns 0 or a negative code. */
int node_work_start(struct node *n);
/* The agent session's on_assignments. */
void node_work_assignments(void *arg, const Shoal__AssignmentsMessage *m);
/* The session (re)connected: report every task again. */
void node_work_connected(struct node *n);
/* Stops the task manager, removing every task first when `remove_tasks`
 * (leaving the swarm); `cb` runs once it is stopped. */
void node_work_stop(struct node *n, int remove_tasks, void (*cb)(void *arg), void *arg);
void node_work_free(struct node *n);
/* RPC methods the session serves to managers (agent.logs). */
extern const struct rpc_method node_work_methods[];
extern const size_t node_work_n_methods;

/* node_role.c */
/* The agent session's on_role: the cluster wants this node as `desired`. */
void node_session_role(void *arg, int desired);

#endif
