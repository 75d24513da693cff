/* controlapi: validated reads and writes of cluster objects.
 *
 * Every Engine API call that touches the cluster state lands here, on the
 * leader (a follower forwards the same request bytes, see ctl_call). Reads
 * come from the store; writes are checked against it (existence, version,
 * Docker's rules) and proposed as a StoreActionBatch through the proposer;
 * the reply comes once the batch is applied.
 *
 * Methods (request -> response, both protobuf, proto/control.proto):
 *   cluster.get     Empty                -> Cluster
 *   cluster.update  ClusterUpdateRequest -> Empty
 *   node.list       ListRequest          -> NodeListResponse
 *   node.get        RefRequest           -> Node
 *   node.update     NodeUpdateRequest    -> Empty
 *   node.remove     NodeRemoveRequest    -> Empty
 *   secret.* / config.*: see ctl_blobs.c
 *   service.create  ServiceSpec          -> CreateResponse
 *   service.list    ServiceListRequest   -> ServiceListResponse
 *   service.get     RefRequest           -> Service
 *   service.update  ServiceUpdateRequest -> Empty
 *   service.remove  RefRequest           -> Empty
 *   task.list       ListRequest          -> TaskListResponse
 *   task.get        RefRequest           -> Task
 * Errors carry Docker's messages: -ENOENT "node x not found", -SHOAL_EVERSION
 * "update out of sequence", -EINVAL for bad input, -EPERM for refusals
 * ("FailedPrecondition" in Docker's words). */
#ifndef SHOAL_MANAGER_CONTROLAPI_CTL_H
#define SHOAL_MANAGER_CONTROLAPI_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "manager/store/store.h"
#include "proto/control.pb-c.h"
#include "proto/store.pb-c.h"

/* Outcome of a proposal: status < 0 when it was not (or may not have been)
 * applied (-SHOAL_ENOTLEADER, -SHOAL_ENOLEADER, -SHOAL_ETIMEDOUT...); else
 * `res` is the store's verdict. */
typedef void (*ctl_done_cb)(void *arg, int status, const struct store_result *res);

/* The write path, wired by the daemon to Raft. propose() copies what it
 * needs from `batch` (it fills request_id/timestamp when empty) and calls
 * `cb` exactly once, unless it returns non-zero. */
struct ctl_proposer {
	void *ctx;
	int (*propose)(void *ctx, Shoal__StoreActionBatch *batch, ctl_done_cb cb, void *arg);
};

/* Reply to a control call: `body` is the packed response (valid during the
 * call), `msg` the error message when status < 0. */
typedef void (*ctl_reply_fn)(void *arg, int status, const char *msg, const uint8_t *body,
			     size_t len);

struct ctl {
	struct store *store; /* borrowed */
	struct ctl_proposer proposer;
	const char *self_node_id; /* this manager's node id */
};

/* Runs `method` with the packed request. The reply callback runs exactly
 * once, possibly before this returns. */
void ctl_call(struct ctl *c, const char *method, const uint8_t *body, size_t len, ctl_reply_fn cb,
	      void *arg);

/* A batch of up to CTL_BATCH_MAX actions on borrowed objects, on the stack. */
#define CTL_BATCH_MAX 8
struct ctl_batch {
	Shoal__StoreActionBatch b;
	Shoal__StoreAction acts[CTL_BATCH_MAX];
	Shoal__StoreAction *ptrs[CTL_BATCH_MAX];
};
void ctl_batch_init(struct ctl_batch *cb);
/* Adds an action on `obj` (a Shoal__Node*, Shoal__Cluster*... matching
 * `target`), borrowed until the batch is proposed. */
void ctl_batch_add(struct ctl_batch *cb, Shoal__StoreAction__Kind kind,
		   Shoal__StoreAction__TargetCase target, void *obj);

/* Fills Docker's defaults into the zero fields of a swarm spec, as moby
 * does for init and update (the docker CLI posts zeros for flags it was
 * not given): task history 5, snapshot interval 10,000, slow followers
 * 500, election tick 10, heartbeat tick 1, dispatcher heartbeat 5 s,
 * certificate expiry 90 days. Sub-messages must exist. */
void ctl_cluster_spec_defaults(Shoal__ClusterSpec *s);

/* Fills Docker's defaults into the sections of a service spec a client
 * left out, as `docker service inspect` shows them: mode replicated with 1
 * replica, replicated-job max concurrent 1 and total completions = max
 * concurrent, stop grace period 10 s, empty DNS config, resources and
 * placement, restart policy any with a 5 s delay (also the delay alone
 * when absent), update and rollback configs parallelism 1, pause, monitor
 * 5 s (also the monitor alone when 0), stop-first, endpoint mode vip.
 * Sub-messages it adds are malloc'd: the spec stays freeable with
 * shoal__service_spec__free_unpacked. */
void ctl_service_spec_defaults(Shoal__ServiceSpec *s);

/* Validates a service spec as swarmkit does, with its messages (name,
 * mode, runtime, image, mounts, health check, resources, restart and
 * update values, constraints, endpoint ports, secret/config references
 * and their targets, networks). Resolves references in place: a secret or
 * config named without id gets its id (and an id its name); a network
 * named by name or prefix gets its id. Returns 0, -EINVAL, or -ENOENT (a
 * missing network), with the message in msg. */
int ctl_service_spec_validate(const struct store *st, Shoal__ServiceSpec *s, char *msg,
			      size_t msglen);

/* Docker's service name rule ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$ (the 63
 * character limit is checked apart). */
int ctl_service_name_valid(const char *name);

/* The task counts Docker reports as ServiceStatus: running = state and
 * desired state running; desired = replicas, eligible nodes (not down,
 * not drained) for global modes, min(max concurrent, completions left) for
 * replicated jobs; completed = tasks in state complete. */
void ctl_service_status(const struct store *st, const Shoal__Service *s, Shoal__ServiceStatus *out);

/* 1 when a task needs no replacing for its service's current spec: same
 * spec_version, or a task spec packing to the same bytes (the docker CLI's
 * `_up-to-date` filter). 0 when the service is gone. */
int ctl_task_up_to_date(const struct store *st, const Shoal__Task *t);

/* Docker's lower-case task state names ("running") and back
 * (case-insensitive; -EINVAL for an unknown name). */
const char *ctl_task_state_name(Shoal__TaskState s);
int ctl_task_state_parse(const char *name, Shoal__TaskState *out);

/* Docker's task name: annotations.name when set, else service.slot.id, or
 * service.nodeid.id for slot 0 (global). */
void ctl_task_name(const Shoal__Task *t, char *out, size_t cap);

/* The number of managers in the store (role manager). */
size_t ctl_manager_count(const struct store *s);

/* 1 when two task specs are the same for running a task: equal but for the
 * container's pull options (registry credentials). */
int ctl_task_spec_equal(const Shoal__TaskSpec *a, const Shoal__TaskSpec *b);

#endif
