/* dispatcher: node sessions and liveness, on the leader.
 *
 * Nodes register (disp_register) once per connection and then heartbeat
 * every period (the cluster's Dispatcher.HeartbeatPeriod, default 5 s). A
 * node silent for three periods is marked Down; its first heartbeat after
 * that marks it Ready again. A new leader gives every node already Ready a
 * grace of six periods (as swarmkit does) before judging it, so a leader
 * change does not flap the whole cluster. Status changes of many nodes go
 * out in one Raft entry per tick. */
#ifndef SHOAL_MANAGER_DISPATCHER_DISP_H
#define SHOAL_MANAGER_DISPATCHER_DISP_H

#include <stdint.h>
#include <uv.h>

#include "common/id.h"
#include "common/map.h"
#include "manager/controlapi/ctl.h"
#include "manager/store/smap.h"
#include "proto/cluster.pb-c.h"

#define DISP_DEFAULT_PERIOD_NS (5LL * 1000000000LL)
#define DISP_MISSED_BEATS      3

struct disp {
	uv_loop_t *loop;
	struct store *store; /* borrowed */
	struct ctl_proposer proposer;
	uv_timer_t timer;
	struct map sessions; /* hash(node id) -> struct disp_session* */
	int running;
	int inflight; /* a status batch is being proposed */
	/* managers list for session responses (leader first), set by the daemon */
	char **managers;
	size_t n_managers;
	/* assignment streams (assign.c) */
	struct disp_assign *assigns;
	struct store_watch *blob_watch; /* secrets and configs: wakes every subscription */
	/* task status reports waiting for Raft (status.c) */
	struct store_smap status_pending;
	uv_timer_t status_timer;
	int status_inflight;
	int closing_handles;
};

/* Starts the dispatcher (the daemon calls it when this manager becomes
 * leader, after the barrier). Returns 0. */
int disp_start(struct disp *d, uv_loop_t *loop, struct store *store, struct ctl_proposer p);
/* Stops it (leadership lost or shutdown); sessions are forgotten. `cb` runs
 * once the timer is closed. */
void disp_stop(struct disp *d, void (*cb)(void *arg), void *arg);

/* Sets the manager list returned to nodes (copied). */
void disp_set_managers(struct disp *d, char *const *managers, size_t n);

/* Heartbeat period (ns) from the cluster spec. */
int64_t disp_period_ns(const struct disp *d);

typedef void (*disp_register_cb)(void *arg, int status, const char *msg,
				 Shoal__SessionResponse *resp);

/* A node opened its session. `node_id` and `manager_cert` come from its
 * verified certificate; `addr` is the IP it connected from. Creates the
 * Node object on first contact, else refreshes description, address and
 * status Ready. `cb` runs once (possibly before this returns) with a
 * response the callee frees after the call. */
void disp_register(struct disp *d, const char *node_id, int manager_cert, const char *addr,
		   const Shoal__SessionRequest *req, disp_register_cb cb, void *arg);

/* A heartbeat. Returns 0 and fills `resp` (caller frees its managers
 * array with disp_response_clear), or -ENOENT for an unknown session (the
 * node must register again). */
int disp_heartbeat(struct disp *d, const char *node_id, const char *session_id,
		   Shoal__HeartbeatResponse *resp);
void disp_heartbeat_clear(Shoal__HeartbeatResponse *resp);

/* 1 when `session_id` is the node's current session. */
int disp_session_valid(const struct disp *d, const char *node_id, const char *session_id);

/* ------------------------------------------------------------------------ */
/* Assignments (assign.c) */

struct disp_assign;

/* The node's assignments changed: `msg` (borrowed, valid during the call)
 * holds the differences, COMPLETE the first time. msg NULL: the dispatcher
 * stopped (leadership lost) and already closed the subscription. */
typedef void (*disp_assign_cb)(void *arg, const Shoal__AssignmentsMessage *msg);

/* Subscribes to the assignments of `node_id`: `cb` runs soon with the
 * complete set, then with each change. Returns NULL when the dispatcher is
 * not running. Close with disp_assign_close(). */
struct disp_assign *disp_assign_open(struct disp *d, const char *node_id, disp_assign_cb cb,
				     void *arg);
/* Ends a subscription; `cb` is not called again. NULL is a no-op. */
void disp_assign_close(struct disp_assign *a);
/* Opens the dispatcher's secret/config watcher (disp_start does it). */
void disp_assign_init(struct disp *d);
/* Ends every subscription, calling each cb with NULL, and closes that watcher (disp_stop
 * does it). */
void disp_assign_close_all(struct disp *d);

/* ------------------------------------------------------------------------ */
/* Task status (status.c) */

/* A node reports its tasks' states. Queued and proposed in batches; stale
 * reports (a task that moved on, or is no longer the node's) are dropped.
 * Returns 0, or -ENOENT for an unknown session. */
int disp_update_status(struct disp *d, const char *node_id, const char *session_id,
		       const Shoal__UpdateTaskStatusRequest *r);
/* status.c's part of disp_start / disp_stop. */
void disp_status_init(struct disp *d);
void disp_status_clear(struct disp *d);

#endif
