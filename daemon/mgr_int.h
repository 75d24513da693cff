/* Private to daemon/mgr*.c (never included elsewhere): what the manager
 * runtime's files share. mgr.c is the lifecycle (start, stop, the store as
 * Raft's state machine, leadership, upkeep); mgr_port.c the cluster port
 * (accept, handshake, the RPC methods); mgr_dial.c dialing other managers
 * (forwarding control calls, raft.join and raft.leave requests). */
#ifndef SHOAL_DAEMON_MGR_INT_H
#define SHOAL_DAEMON_MGR_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/id.h"
#include "common/rpc.h"
#include "daemon/mgr.h"
#include "manager/allocator/alloc.h"
#include "manager/dispatcher/disp.h"
#include "manager/orchestrator/orch.h"
#include "manager/raftnode/raftnode.h"
#include "manager/scheduler/sched.h"

struct mgr {
	uv_loop_t *loop;
	struct mgr_config cfg;
	char node_id[ID_LEN + 1];
	char listen[64], advertise[64];
	uint8_t data_key[32];
	struct store *store;
	struct rnode raft;
	int raft_open;
	struct ctl ctl;
	struct disp disp;
	struct orch orch; /* leader only, like disp */
	struct alloc alloc;
	struct sched sched;
	struct wire_listener listener;
	int listening;
	int leader;
	int stopping;
	Shoal__Cluster *init_cluster; /* bootstrap: created once leader */
	int init_inflight;
	/* a peer connection to the leader for forwarded calls */
	struct rpc_peer *fwd_peer;
	struct rpc_peer *fwd_closing; /* being closed by mgr_stop */
	int fwd_connecting;
	char fwd_addr[64];
	struct fwd *fwd_queue; /* calls waiting for the connection */
	uv_timer_t timer;      /* waits, status upkeep */
	struct node_wait *waits;
	uint8_t unlock_key_seen[32];
	int unlock_key_set;
	struct store_watch *cluster_watch;
	struct mconn *conns;
	int demoting;
	int adding_voter;
	int flags_inflight; /* a ManagerStatus.Leader fix is being proposed */
	unsigned ticks;
	unsigned snapshot_interval;
	void (*stop_cb)(void *arg);
	void *stop_arg;
	int pending_close;
};

/* One accepted connection. */
struct mconn {
	struct mgr *m;
	struct sec_peer peer;
	char ip[64];
	uint8_t worker_secret[16], manager_secret[16];
	struct wire_conn *conn; /* until an rpc peer or raft takes it */
	struct rpc_peer *rpc;
	int session; /* the node's agent session registered on this connection */
	struct mconn *prev, *next;
};

/* A control call waiting for, or on its way to, the leader. */
struct fwd {
	struct mgr *m;
	char method[64];
	uint8_t *body;
	size_t len;
	ctl_reply_fn cb;
	void *arg;
	int retried;
	struct fwd *next;
};

/* mgr.c */
/* Frees `m` once it is stopping and nothing is left to close; then calls stop_cb. */
void mgr_maybe_free(struct mgr *m);
/* One pending close finished: drops a pending_close reference, maybe frees `m`. */
void mgr_close_step(struct mgr *m);

/* mgr_port.c */
/* The cluster listener's accept callback: handshake, then Raft or RPC. */
void mgr_on_accept(struct wire_listener *l, struct wire_conn *c);

/* The accepted connection a request came on (NULL once it is gone). */
struct mconn *mgr_conn_of(struct rpc_req *req);
/* Answers -SHOAL_ENOTLEADER naming the leader, or -SHOAL_ENOLEADER. */
void mgr_reply_not_leader(struct mgr *m, struct rpc_req *req);

/* mgr_work.c: the worker side of sessions (assignments, task status). */
void mgr_m_assignments(struct rpc_req *req, const uint8_t *body, size_t len);
void mgr_m_status(struct rpc_req *req, const uint8_t *body, size_t len);
void mgr_m_logs_proxy(struct rpc_req *req, const uint8_t *body, size_t len);

/* mgr_dial.c */
/* Frees a forwarded call and its body (its callback must have run). */
void mgr_fwd_free(struct fwd *f);

#endif
