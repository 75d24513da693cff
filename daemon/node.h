/* node: the shoald process's view of itself.
 *
 * A node starts outside any swarm with only its API socket. `swarm init`
 * makes it the first manager, `swarm join` a worker or a manager; the
 * membership (identity, certificate, managers, keys) is persisted under
 * --data-root so a restarted node rejoins on its own. Every node runs an
 * agent session to the leader's dispatcher; managers also run the manager
 * runtime (mgr.h: store, Raft, control API, dispatcher, CA). */
#ifndef SHOAL_DAEMON_NODE_H
#define SHOAL_DAEMON_NODE_H

#include <jansson.h>
#include <uv.h>

#include "common/sec/chan.h"
#include "proto/local_state.pb-c.h"
#include "proto/objects.pb-c.h"

struct node_config {
	const char *data_root;
	const char *host; /* unix:///path */
	const char *exec_root;
	const char *runtime;
	const char *hostname; /* NULL: the system's */
};

/* Docker's LocalNodeState. */
enum node_swarm_state {
	NODE_INACTIVE,
	NODE_PENDING,
	NODE_ACTIVE,
	NODE_ERROR,
	NODE_LOCKED,
};

struct mgr;
struct agent_session;
struct api_server;
struct img_store;
struct agent_tasks;
struct node_work;

struct node {
	uv_loop_t *loop;
	struct node_config cfg;
	struct api_server *api;
	enum node_swarm_state state;
	char error[256];
	Shoal__LocalState *st; /* persisted membership; NULL outside a swarm */
	struct sec_identity id;
	Shoal__NodeDescription *desc;
	struct agent_session *session;
	int session_up;
	struct mgr *mgr;
	struct img_store *img;	   /* <data-root>/image; NULL if it failed to open */
	struct agent_tasks *tasks; /* the task manager, while in a swarm */
	struct node_work *work;	   /* its configuration (node_work.c) */
	int busy;		   /* an init/join/leave is running */
	int renewing;		   /* a role change is running */
	int shutting_down;
	int exit_status;
};

int node_start(uv_loop_t *loop, const struct node_config *cfg, struct node **out);
/* Begins a clean shutdown (leader transfers leadership first); the loop
 * ends when everything is closed. */
void node_shutdown(struct node *n);
int node_exit_status(const struct node *n);
void node_free(struct node *n);

const char *node_state_name(enum node_swarm_state s);
/* "manager" or "worker" (certificate role), "" outside a swarm. */
const char *node_role_name(const struct node *n);

/* Async operations behind the swarm endpoints. `cb` gets 0 or a negative
 * code with a message (Docker's words). */
typedef void (*node_done_cb)(void *arg, int status, const char *msg);

struct node_init_req {
	const char *listen_addr;    /* "0.0.0.0:2377" */
	const char *advertise_addr; /* "ip[:port]" or "" */
	int force_new_cluster;
	int autolock;
	json_t *spec; /* swarm Spec (borrowed, may be NULL) */
	const char *const *default_addr_pool;
	size_t n_default_addr_pool;
	uint32_t subnet_size;
	uint32_t data_path_port;
};
void node_swarm_init(struct node *n, const struct node_init_req *req, node_done_cb cb, void *arg);

struct node_join_req {
	const char *listen_addr;
	const char *advertise_addr;
	const char *const *remote_addrs;
	size_t n_remote_addrs;
	const char *join_token;
};
void node_swarm_join(struct node *n, const struct node_join_req *req, node_done_cb cb, void *arg);
void node_swarm_leave(struct node *n, int force, node_done_cb cb, void *arg);
/* `key` is the operator's SWMKEY-1-... string. */
void node_swarm_unlock(struct node *n, const char *key, node_done_cb cb, void *arg);

#endif
