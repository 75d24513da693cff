#include "daemon/mgr.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/mgr_int.h"
#include "manager/raftnode/raftnode.h"
#include "manager/store/store.h"

#define WAIT_TICK_MS	      20u
#define MGR_SNAPSHOT_INTERVAL 10000u

/* ------------------------------------------------------------------------ */
/* The store as Raft's state machine                                         */

static int fsm_apply(void *data, const uint8_t *cmd, size_t len, uint64_t index, void **result)
{
	struct mgr *m = data;
	struct store_result res;
	int rv = store_apply(m->store, cmd, len, index, &res);

	/* Business rejections come back in `res`; a non-zero return is a
	 * broken invariant (index not moving forward): stop applying. */
	if (rv)
		return rv;
	if (result) {
		struct store_result *copy = xmalloc(sizeof(*copy));
		*copy = res;
		*result = copy;
	}
	return 0;
}

static int fsm_snapshot(void *data, struct buf *out)
{
	struct mgr *m = data;

	return store_snapshot(m->store, out);
}

static int fsm_restore(void *data, const uint8_t *buf, size_t len)
{
	struct mgr *m = data;

	return store_restore(m->store, buf, len);
}

/* ------------------------------------------------------------------------ */
/* Proposing                                                                 */

struct proposal {
	ctl_done_cb cb;
	void *arg;
};

static void proposal_applied(void *arg, int status, void *result)
{
	struct proposal *p = arg;
	struct store_result *res = result;

	/* Leadership moved while the entry was in flight: it may still
	 * commit. Callers answer 503 (retry), as for a lost leader; a retry
	 * of an update carries the old version and cannot apply twice. */
	if (status == RNODE_ELOST)
		status = -SHOAL_ENOTLEADER;
	p->cb(p->arg, status, status ? NULL : res);
	free(res);
	free(p);
}

static int mgr_propose(void *ctx, Shoal__StoreActionBatch *batch, ctl_done_cb cb, void *arg)
{
	struct mgr *m = ctx;
	char rid[ID_LEN + 1];
	struct proposal *p;
	uint8_t *buf;
	size_t len;
	int rv;

	if (!m->leader)
		return -SHOAL_ENOTLEADER;
	if (!batch->request_id || !batch->request_id[0]) {
		id_new(rid);
		batch->request_id = rid;
	}
	if (!batch->timestamp) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		batch->timestamp = (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	len = shoal__store_action_batch__get_packed_size(batch);
	buf = xmalloc(len ? len : 1);
	shoal__store_action_batch__pack(batch, buf);
	if (batch->request_id == rid)
		batch->request_id = NULL;
	p = xmalloc(sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	rv = rnode_propose(&m->raft, buf, len, proposal_applied, p);
	free(buf);
	if (rv)
		free(p);
	return rv;
}

static struct ctl_proposer proposer_of(struct mgr *m)
{
	struct ctl_proposer p = {.ctx = m, .propose = mgr_propose};
	return p;
}

/* ------------------------------------------------------------------------ */
/* Leadership                                                                */

static void refresh_managers(struct mgr *m)
{
	struct rnode_member *mem = NULL;
	size_t n = 0, k = 0;
	char **list;

	if (rnode_configuration(&m->raft, &mem, &n) != 0)
		return;
	list = xcalloc(n + 1, sizeof(char *));
	/* Leader first, then the other voters. */
	for (size_t i = 0; i < n; i++)
		if (mem[i].id == m->cfg.raft_id && m->leader)
			list[k++] = mem[i].address;
	for (size_t i = 0; i < n; i++)
		if (mem[i].role == RNODE_VOTER && !(mem[i].id == m->cfg.raft_id && m->leader))
			list[k++] = mem[i].address;
	disp_set_managers(&m->disp, list, k);
	free(list);
	free(mem);
}

static void init_cluster_done(void *arg, int status, const struct store_result *res)
{
	struct mgr *m = arg;

	m->init_inflight = 0;
	if (status || res->err) {
		log_error("mgr", "cannot create the cluster object err=\"%s\" msg=\"%s\"",
			  err_str(status ? status : res->err), status ? "" : res->msg);
		return;
	}
	shoal__cluster__free_unpacked(m->init_cluster, NULL);
	m->init_cluster = NULL;
	log_info("mgr", "cluster object created");
}

static void create_cluster(struct mgr *m)
{
	struct ctl_batch b;

	if (!m->init_cluster || m->init_inflight || store_get_cluster(m->store))
		return;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		      m->init_cluster);
	if (mgr_propose(m, &b.b, init_cluster_done, m) == 0)
		m->init_inflight = 1;
}

static void flags_done(void *arg, int status, const struct store_result *res)
{
	struct mgr *m = arg;

	m->flags_inflight = 0;
}

struct flag_fix {
	struct mgr *m;
	struct ctl_batch b;
	Shoal__Node *nodes[CTL_BATCH_MAX];
};

/* Collects manager nodes whose ManagerStatus.Leader is wrong. */
static int fix_leader_flag(const void *obj, void *arg)
{
	struct flag_fix *x = arg;
	const Shoal__Node *n = obj;
	int is_self = strcmp(n->meta->id, x->m->node_id) == 0;
	Shoal__Node *next;

	if (!n->manager_status || n->manager_status->leader == is_self ||
	    x->b.b.n_actions == CTL_BATCH_MAX)
		return 0;
	next = store_dup_node(n);
	next->manager_status->leader = is_self;
	x->nodes[x->b.b.n_actions] = next;
	ctl_batch_add(&x->b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_NODE,
		      next);
	return 0;
}

/* Keeps ManagerStatus.Leader right for every manager node: one entry at a
 * time, so the upkeep tick does not pile up proposals. */
static void fix_leader_flags(struct mgr *m)
{
	struct flag_fix x = {.m = m};

	if (m->flags_inflight)
		return;
	ctl_batch_init(&x.b);
	store_foreach_node(m->store, fix_leader_flag, &x);
	if (x.b.b.n_actions) {
		m->flags_inflight = 1;
		if (mgr_propose(m, &x.b.b, flags_done, m) != 0)
			m->flags_inflight = 0;
	}
	for (size_t i = 0; i < x.b.b.n_actions; i++)
		store_node_free(x.nodes[i]);
}

static void on_leadership(struct rnode *r, int is_leader)
{
	struct mgr *m = r->data;

	if (m->stopping)
		return;
	m->leader = is_leader;
	log_info("mgr", "%s", is_leader ? "became leader" : "no longer leader");
	if (is_leader) {
		create_cluster(m);
		disp_start(&m->disp, m->loop, m->store, proposer_of(m));
		orch_start(&m->orch, m->loop, m->store, proposer_of(m));
		alloc_start(&m->alloc, m->loop, m->store, proposer_of(m));
		sched_start(&m->sched, m->loop, m->store, proposer_of(m));
		refresh_managers(m);
	} else {
		disp_stop(&m->disp, NULL, NULL);
		orch_stop(&m->orch, NULL, NULL);
		alloc_stop(&m->alloc, NULL, NULL);
		sched_stop(&m->sched, NULL, NULL);
	}
}

static void on_fatal(struct rnode *r, int err, const char *why)
{
	log_error("mgr",
		  "raft state machine stopped err=\"%s\" why=\"%s\": this manager no longer "
		  "applies changes; restart it after fixing the cause",
		  err_str(err), why);
}

/* A manager node whose Raft member is not a voter (a leader died while
 * adding it, or restarted): add it again. rnode_add_voter resumes from
 * whatever state the earlier attempt left. */
static void voter_ensured(void *arg, int status)
{
	struct mgr *m = arg;

	m->adding_voter = 0;
	if (status)
		log_warn("mgr", "could not make a manager a voter err=\"%s\"", err_str(status));
}

static int ensure_voter(const void *obj, void *arg)
{
	struct mgr *m = arg;
	const Shoal__Node *n = obj;
	struct rnode_member *mem = NULL;
	size_t cnt = 0;
	int voter = 0, known = 0;

	if (m->adding_voter || !n->manager_status || !n->manager_status->raft_id || !n->spec ||
	    n->spec->desired_role != SHOAL__NODE_ROLE__NODE_ROLE_MANAGER ||
	    rnode_configuration(&m->raft, &mem, &cnt) != 0)
		return 0;
	for (size_t i = 0; i < cnt; i++)
		if (mem[i].id == n->manager_status->raft_id) {
			known = 1;
			voter = mem[i].role == RNODE_VOTER;
		}
	free(mem);
	if (known && !voter &&
	    rnode_add_voter(&m->raft, n->manager_status->raft_id, n->manager_status->addr,
			    voter_ensured, m) == 0) {
		m->adding_voter = 1;
		log_info("mgr", "resuming promotion to voter node_id=%s", n->meta->id);
	}
	return 0;
}

/* Upkeep on a timer: node waits, the leader flags, the manager list. */
struct node_wait {
	char node_id[ID_LEN + 1];
	uint64_t deadline;
	void (*cb)(void *arg, int status);
	void *arg;
	struct node_wait *next;
};

static void upkeep(uv_timer_t *t)
{
	struct mgr *m = t->data;
	struct node_wait **pp = &m->waits, *w;
	uint64_t now = uv_now(m->loop);

	while ((w = *pp)) {
		/* An empty node id waits for this manager to lead. */
		int found =
		    w->node_id[0] ? store_get_node(m->store, w->node_id) != NULL : m->leader;
		if (found || now >= w->deadline) {
			*pp = w->next;
			w->cb(w->arg, found ? 0 : -SHOAL_ETIMEDOUT);
			free(w);
			continue;
		}
		pp = &w->next;
	}
	if (m->leader) {
		create_cluster(m);
		fix_leader_flags(m);
		/* The rest is upkeep, not latency-critical: every 10th tick. */
		if (++m->ticks % 10 == 0) {
			store_foreach_node(m->store, ensure_voter, m);
			refresh_managers(m);
		}
	}
}

void mgr_wait_node(struct mgr *m, const char *node_id, uint64_t timeout_ms,
		   void (*cb)(void *arg, int status), void *arg)
{
	struct node_wait *w = xcalloc(1, sizeof(*w));

	snprintf(w->node_id, sizeof(w->node_id), "%s", node_id);
	w->deadline = uv_now(m->loop) + timeout_ms;
	w->cb = cb;
	w->arg = arg;
	w->next = m->waits;
	m->waits = w;
}

/* The cluster's unlock key changed: tell the node to rewrap its keys. */
static void cluster_changed(struct store_watch *w, void *data)
{
	struct mgr *m = data;
	struct store_event ev;
	const Shoal__Cluster *c;
	int rv;

	while ((rv = store_watch_next(w, &ev)) != 0)
		if (rv > 0)
			store_event_free(&ev);
	c = store_get_cluster(m->store);
	if (c && c->spec && c->spec->raft && c->spec->raft->snapshot_interval &&
	    c->spec->raft->snapshot_interval != m->snapshot_interval) {
		/* swarm update --snapshot-interval / slow-follower margin. */
		m->snapshot_interval = (unsigned) c->spec->raft->snapshot_interval;
		rnode_set_snapshot(&m->raft, m->snapshot_interval,
				   (unsigned) c->spec->raft->log_entries_for_slow_followers);
		log_info("mgr", "raft snapshot policy interval=%u", m->snapshot_interval);
	}
	if (!c || !m->cfg.on_unlock_key)
		return;
	if (c->unlock_key.len == 32) {
		if (m->unlock_key_set && memcmp(m->unlock_key_seen, c->unlock_key.data, 32) == 0)
			return;
		memcpy(m->unlock_key_seen, c->unlock_key.data, 32);
		m->unlock_key_set = 1;
		m->cfg.on_unlock_key(m->cfg.arg, c->unlock_key.data);
	} else if (m->unlock_key_set) {
		m->unlock_key_set = 0;
		sodium_memzero(m->unlock_key_seen, 32);
		m->cfg.on_unlock_key(m->cfg.arg, NULL);
	}
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

void mgr_maybe_free(struct mgr *m)
{
	if (!m->stopping || m->pending_close > 0 || m->conns)
		return;
	if (m->cluster_watch)
		store_watch_free(m->cluster_watch);
	store_free(m->store);
	if (m->init_cluster)
		shoal__cluster__free_unpacked(m->init_cluster, NULL);
	sodium_memzero(m->data_key, sizeof(m->data_key));
	void (*cb)(void *) = m->stop_cb;
	void *arg = m->stop_arg;
	free(m);
	if (cb)
		cb(arg);
}

void mgr_close_step(struct mgr *m)
{
	m->pending_close--;
	mgr_maybe_free(m);
}

static void raft_closed(struct rnode *r)
{
	mgr_close_step(r->data);
}

/* A leader component (dispatcher, orchestrator, allocator, scheduler) closed. */
static void disp_stopped(void *arg)
{
	mgr_close_step(arg);
}

static void handle_closed(uv_handle_t *h)
{
	mgr_close_step(h->data);
}

static void listener_closed(uv_handle_t *h)
{
	mgr_close_step(((struct wire_listener *) h->data)->data);
}

int mgr_start(uv_loop_t *loop, const struct mgr_config *cfg, struct mgr **out, char *why,
	      size_t whylen)
{
	struct mgr *m = xcalloc(1, sizeof(*m));
	struct rnode_fsm fsm = {
	    .apply = fsm_apply, .snapshot = fsm_snapshot, .restore = fsm_restore};
	struct rnode_config rc = {0};
	struct store_watch_filter wf = {.kinds = STORE_KIND_BIT(STORE_CLUSTER)};
	int rv;

	m->loop = loop;
	m->cfg = *cfg;
	snprintf(m->node_id, sizeof(m->node_id), "%s", cfg->node_id);
	snprintf(m->listen, sizeof(m->listen), "%s", cfg->listen_addr);
	snprintf(m->advertise, sizeof(m->advertise), "%s", cfg->advertise_addr);
	m->cfg.node_id = m->node_id;
	m->cfg.listen_addr = m->listen;
	m->cfg.advertise_addr = m->advertise;
	memcpy(m->data_key, cfg->data_key, 32);
	m->init_cluster = cfg->init_cluster;
	m->store = store_new();
	m->ctl.store = m->store;
	m->ctl.proposer = proposer_of(m);
	m->ctl.self_node_id = m->node_id;
	wf.notify = cluster_changed;
	wf.data = m;
	m->cluster_watch = store_watch_new(m->store, &wf);

	if (cfg->force_new_cluster) {
		rv = rnode_recover_single(cfg->dir, cfg->raft_id, m->advertise);
		if (rv) {
			snprintf(why, whylen, "cannot force a new cluster from %s: %s", cfg->dir,
				 err_str(rv));
			goto err_store;
		}
	}
	fsm.data = m;
	rc.dir = cfg->dir;
	rc.id = cfg->raft_id;
	rc.address = m->advertise;
	rc.data_key = m->data_key;
	rc.identity = cfg->id;
	rc.fsm = &fsm;
	/* Docker's default snapshot interval (10,000 entries); raft 0.15 wants
	 * trailing >= threshold, so the slow-follower margin is as large. The
	 * bench showed 1,024 (raft's default) costs p99 under load. */
	rc.tuning.snapshot_threshold = MGR_SNAPSHOT_INTERVAL;
	rc.tuning.snapshot_trailing = MGR_SNAPSHOT_INTERVAL;
	rc.on_leadership = on_leadership;
	rc.on_fatal = on_fatal;
	m->raft.data = m;
	rv = rnode_init(&m->raft, loop, &rc);
	if (rv) {
		snprintf(why, whylen, "cannot open the raft log: %s", m->raft.errmsg);
		goto err_store;
	}
	m->raft_open = 1;
	if (cfg->bootstrap && (rv = rnode_bootstrap(&m->raft)) != 0) {
		snprintf(why, whylen, "cannot bootstrap raft: %s", m->raft.errmsg);
		goto err_raft;
	}
	rv = rnode_start(&m->raft);
	if (rv) {
		snprintf(why, whylen, "cannot start raft: %s", m->raft.errmsg);
		goto err_raft;
	}
	m->listener.data = m;
	rv = wire_listen(&m->listener, loop, m->listen, mgr_on_accept);
	if (rv) {
		snprintf(why, whylen, "cannot listen on %s: %s", m->listen, err_str(rv));
		goto err_raft;
	}
	m->listening = 1;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	uv_timer_start(&m->timer, upkeep, WAIT_TICK_MS, WAIT_TICK_MS);
	log_info("mgr", "manager started listen=%s advertise=%s raft_id=%llx", m->listen,
		 m->advertise, (unsigned long long) cfg->raft_id);
	*out = m;
	return 0;

err_raft:
	/* rnode_close is required after a successful init. */
	m->stopping = 1;
	m->pending_close = 1;
	m->init_cluster = NULL; /* the caller keeps it on error */
	rnode_close(&m->raft, raft_closed);
	return rv ? rv : -EIO;
err_store:
	store_watch_free(m->cluster_watch);
	store_free(m->store);
	sodium_memzero(m->data_key, 32);
	free(m);
	return rv;
}

void mgr_stop(struct mgr *m, void (*cb)(void *arg), void *arg)
{
	struct node_wait *w;
	struct fwd *f;

	if (m->stopping)
		return;
	m->stopping = 1;
	m->stop_cb = cb;
	m->stop_arg = arg;
	m->pending_close = 1; /* this function's own reference */
	while ((w = m->waits)) {
		m->waits = w->next;
		w->cb(w->arg, -ECANCELED);
		free(w);
	}
	while ((f = m->fwd_queue)) {
		m->fwd_queue = f->next;
		f->cb(f->arg, -ECANCELED, "the manager is stopping", NULL, 0);
		mgr_fwd_free(f);
	}
	if (m->fwd_peer) {
		/* Its close callback still comes: keep `m` until then. */
		m->fwd_closing = m->fwd_peer;
		m->fwd_peer = NULL;
		m->pending_close++;
		rpc_peer_close(m->fwd_closing, 0);
	}
	if (m->fwd_connecting)
		m->pending_close++; /* fwd_dialed finishes it */
	if (m->listening) {
		m->pending_close++;
		m->listener.tcp.data = &m->listener;
		wire_listener_close(&m->listener, listener_closed);
	}
	for (struct mconn *mc = m->conns, *next; mc; mc = next) {
		next = mc->next;
		if (mc->rpc)
			rpc_peer_close(mc->rpc, 0);
		else if (mc->conn)
			wire_close(mc->conn, 0);
	}
	m->pending_close++;
	disp_stop(&m->disp, disp_stopped, m);
	m->pending_close += 3;
	orch_stop(&m->orch, disp_stopped, m);
	alloc_stop(&m->alloc, disp_stopped, m);
	sched_stop(&m->sched, disp_stopped, m);
	m->pending_close++;
	uv_close((uv_handle_t *) &m->timer, handle_closed);
	m->leader = 0;
	m->pending_close++;
	rnode_close(&m->raft, raft_closed);
	mgr_close_step(m);
}

int mgr_is_leader(const struct mgr *m)
{
	return m->leader;
}

const char *mgr_leader_addr(const struct mgr *m)
{
	uint64_t id;
	const char *addr;

	if (rnode_leader((struct rnode *) &m->raft, &id, &addr) == 0)
		return addr;
	return "";
}

unsigned mgr_voters(const struct mgr *m)
{
	struct rnode_member *mem = NULL;
	size_t n = 0;
	unsigned v = 0;

	if (rnode_configuration((struct rnode *) &m->raft, &mem, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		v += mem[i].role == RNODE_VOTER;
	free(mem);
	return v;
}

int mgr_is_voter(const struct mgr *m)
{
	struct rnode_member *mem = NULL;
	size_t n = 0;
	int voter = 0;

	if (rnode_configuration((struct rnode *) &m->raft, &mem, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (mem[i].id == m->cfg.raft_id)
			voter = mem[i].role == RNODE_VOTER;
	free(mem);
	return voter;
}

int mgr_data_key(const struct mgr *m, uint8_t out[32])
{
	memcpy(out, m->data_key, 32);
	return 0;
}

struct store *mgr_store(struct mgr *m)
{
	return m->store;
}

struct rpc_peer *mgr_node_peer(struct mgr *m, const char *node_id)
{
	struct rpc_peer *found = NULL;

	for (struct mconn *mc = m->conns; mc; mc = mc->next)
		if (mc->session && mc->rpc && strcmp(mc->peer.cert.node_id, node_id) == 0)
			found = mc->rpc;
	return found;
}
