#include "daemon/node_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/id.h"
#include "common/log.h"
#include "common/sec/noise.h"
#include "common/sec/seal.h"
#include "common/sec/token.h"
#include "daemon/api/conv.h"
#include "daemon/mgr.h"
#include "daemon/state.h"
#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"
#include "worker/agent/session.h"

#define DEFAULT_PORT	2377
#define JOIN_TIMEOUT_MS 20000u

#define MSG_ALREADY                                                                                \
	"This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm "    \
	"and "                                                                                     \
	"join another one."
#define MSG_NOT_PART "This node is not part of a swarm"

static void node_force_new_cluster(struct node *n, node_done_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                 */

/* Splits "ip[:port]" (IPv4) with a default port into "ip:port". */
static int norm_addr(const char *in, int def_port, char *out, size_t cap, char *why, size_t whylen)
{
	char host[64];
	const char *colon = strrchr(in, ':');
	long port = def_port;
	struct in_addr a;

	if (colon) {
		char *end;
		if ((size_t) (colon - in) >= sizeof(host))
			goto bad;
		memcpy(host, in, (size_t) (colon - in));
		host[colon - in] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port <= 0 || port > 65535)
			goto bad;
	} else {
		if (strlen(in) >= sizeof(host))
			goto bad;
		strcpy(host, in);
	}
	if (inet_pton(AF_INET, host, &a) != 1)
		goto bad;
	snprintf(out, cap, "%s:%ld", host, port);
	return 0;
bad:
	snprintf(why, whylen,
		 "invalid address \"%s\": expected an IPv4 address with an optional port "
		 "(interface names and IPv6 are not supported)",
		 in);
	return -EINVAL;
}

/* The address to advertise when none was given: the listen IP unless it is
 * 0.0.0.0, else this host's only non-loopback IPv4 address. */
static int pick_advertise(const char *listen, char *out, size_t cap, char *why, size_t whylen)
{
	struct ifaddrs *ifs, *i;
	char found[INET_ADDRSTRLEN] = "", ip[INET_ADDRSTRLEN];
	const char *port = strrchr(listen, ':') + 1;
	int n = 0;

	if (strncmp(listen, "0.0.0.0:", 8) != 0) {
		snprintf(out, cap, "%s", listen);
		return 0;
	}
	if (getifaddrs(&ifs) != 0)
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, ip, sizeof(ip));
		if (strcmp(ip, found) != 0) {
			snprintf(found, sizeof(found), "%s", ip);
			n++;
		}
	}
	freeifaddrs(ifs);
	if (n != 1) {
		snprintf(why, whylen,
			 n ? "could not choose an IP address to advertise since this system has "
			     "multiple addresses - specify one with --advertise-addr"
			   : "could not find an IP address to advertise - specify one with "
			     "--advertise-addr");
		return -EINVAL;
	}
	snprintf(out, cap, "%s:%s", found, port);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* swarm init                                                                */

static Shoal__Cluster *new_cluster(const char *cluster_id, const struct node_init_req *req,
				   char *why, size_t whylen)
{
	Shoal__Cluster *c = xmalloc(sizeof(*c));
	Shoal__ClusterSpec *s = xmalloc(sizeof(*s));
	char err[256];

	shoal__cluster__init(c);
	shoal__cluster_spec__init(s);
	c->spec = s;
	c->meta = xmalloc(sizeof(*c->meta));
	shoal__meta__init(c->meta);
	c->meta->id = xstrdup(cluster_id);
	/* Docker's defaults, then whatever the request's Spec sets. */
	s->annotations = xmalloc(sizeof(*s->annotations));
	shoal__annotations__init(s->annotations);
	s->annotations->name = xstrdup("default");
	s->orchestration = xmalloc(sizeof(*s->orchestration));
	shoal__orchestration_config__init(s->orchestration);
	s->orchestration->task_history_retention_limit = 5;
	s->raft = xmalloc(sizeof(*s->raft));
	shoal__raft_config__init(s->raft);
	s->raft->snapshot_interval = 10000;
	s->raft->log_entries_for_slow_followers = 500;
	s->raft->election_tick = 10;
	s->raft->heartbeat_tick = 1;
	s->dispatcher = xmalloc(sizeof(*s->dispatcher));
	shoal__dispatcher_config__init(s->dispatcher);
	s->dispatcher->heartbeat_period = 5LL * 1000000000LL;
	s->ca_config = xmalloc(sizeof(*s->ca_config));
	shoal__caconfig__init(s->ca_config);
	s->ca_config->node_cert_expiry = CA_DEFAULT_CERT_EXPIRY_NS;
	s->encryption_config = xmalloc(sizeof(*s->encryption_config));
	shoal__encryption_config__init(s->encryption_config);
	if (req->spec && conv_cluster_spec(req->spec, s, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "%s", err);
		shoal__cluster__free_unpacked(c, NULL);
		return NULL;
	}
	ctl_cluster_spec_defaults(s);
	s->encryption_config->auto_lock_managers = req->autolock;
	c->n_default_address_pool = req->n_default_addr_pool ? req->n_default_addr_pool : 1;
	c->default_address_pool = xcalloc(c->n_default_address_pool, sizeof(char *));
	for (size_t i = 0; i < c->n_default_address_pool; i++)
		c->default_address_pool[i] =
		    xstrdup(req->n_default_addr_pool ? req->default_addr_pool[i] : "10.0.0.0/8");
	c->subnet_size = req->subnet_size ? req->subnet_size : 24;
	c->vxlan_udp_port = req->data_path_port ? req->data_path_port : 4789;
	if (ca_bootstrap(c, cluster_id) != 0) {
		snprintf(why, whylen, "cannot create the cluster CA");
		shoal__cluster__free_unpacked(c, NULL);
		return NULL;
	}
	if (req->autolock) {
		node_set_bytes(&c->unlock_key, NULL, 0);
		c->unlock_key.data = xmalloc(32);
		c->unlock_key.len = 32;
		randombytes_buf(c->unlock_key.data, 32);
	}
	return c;
}

struct op {
	struct node *n;
	node_done_cb cb;
	void *arg;
	uv_timer_t timer;
	int timer_on;
	int done;
	uint64_t deadline;
	char token[128];
};

static void op_closed(uv_handle_t *h)
{
	free(h->data);
}

static void op_finish(struct op *o, int status, const char *msg)
{
	if (o->done)
		return;
	o->done = 1;
	o->n->busy = 0;
	o->cb(o->arg, status, msg ? msg : err_str(status));
	if (o->timer_on)
		uv_close((uv_handle_t *) &o->timer, op_closed);
	else
		free(o);
}

static struct op *op_new(struct node *n, node_done_cb cb, void *arg)
{
	struct op *o = xcalloc(1, sizeof(*o));

	o->n = n;
	o->cb = cb;
	o->arg = arg;
	n->busy = 1;
	return o;
}

static void init_node_ready(void *arg, int status)
{
	struct op *o = arg;

	op_finish(o, status,
		  status ? "the swarm did not come up in time; see the daemon log" : NULL);
}

static Shoal__LocalState *new_state(struct node *n)
{
	Shoal__LocalState *st = xmalloc(sizeof(*st));

	shoal__local_state__init(st);
	st->version = 1;
	st->hostname = xstrdup(n->desc->hostname);
	return st;
}

void node_swarm_init(struct node *n, const struct node_init_req *req, node_done_cb cb, void *arg)
{
	char listen[64], adv[64], why[256] = "", cluster_id[ID_LEN + 1], node_id[ID_LEN + 1];
	uint8_t spriv[32], spub[32], data_key[32];
	struct buf cert = BUF_INIT;
	Shoal__Cluster *c;
	struct op *o;
	int rv;

	if (n->busy)
		return cb(arg, -EBUSY, "another swarm operation is in progress");
	if (req->force_new_cluster && n->st && n->st->role == SEC_ROLE_MANAGER)
		return node_force_new_cluster(n, cb, arg);
	if (n->st)
		return cb(arg, -SHOAL_ENOTSWARM, MSG_ALREADY);
	if (norm_addr(req->listen_addr, DEFAULT_PORT, listen, sizeof(listen), why, sizeof(why)) ||
	    (req->advertise_addr[0]
		 ? norm_addr(req->advertise_addr, strtol(strrchr(listen, ':') + 1, NULL, 10), adv,
			     sizeof(adv), why, sizeof(why))
		 : pick_advertise(listen, adv, sizeof(adv), why, sizeof(why))))
		return cb(arg, -EINVAL, why);

	id_new(cluster_id);
	id_new(node_id);
	c = new_cluster(cluster_id, req, why, sizeof(why));
	if (!c)
		return cb(arg, -EINVAL, why);
	noise_keypair(spriv, spub);
	rv = ca_issue(c, node_id, SEC_ROLE_MANAGER, spub, randombytes_random(),
		      (int64_t) time(NULL), &cert);
	if (rv) {
		shoal__cluster__free_unpacked(c, NULL);
		return cb(arg, rv, "cannot issue this node's certificate");
	}
	randombytes_buf(data_key, sizeof(data_key));

	n->st = new_state(n);
	n->st->node_id = xstrdup(node_id);
	n->st->cluster_id = xstrdup(cluster_id);
	n->st->role = SEC_ROLE_MANAGER;
	node_set_bytes(&n->st->certificate, cert.data, cert.len);
	node_set_bytes(&n->st->ca_public_key, c->root_ca->ca_public_key.data, 32);
	n->st->listen_addr = xstrdup(listen);
	n->st->advertise_addr = xstrdup(adv);
	n->st->n_managers = 1;
	n->st->managers = xcalloc(1, sizeof(char *));
	n->st->managers[0] = xstrdup(adv);
	do {
		n->st->raft_id = ((uint64_t) randombytes_random() << 32) | randombytes_random();
	} while (n->st->raft_id == 0);
	node_seal_state(n->st, spriv, data_key, req->autolock ? c->unlock_key.data : NULL);
	sec_identity_set(&n->id, spriv, c->root_ca->ca_public_key.data, cluster_id, cert.data,
			 cert.len);
	sodium_memzero(spriv, sizeof(spriv));
	buf_free(&cert);

	node_mkdirs(node_raft_dir(n), 0700);
	rv = node_state_save(n->cfg.data_root, n->st);
	if (rv == 0)
		rv = node_start_mgr(n, data_key, 1, c, 0, why, sizeof(why));
	if (rv)
		shoal__cluster__free_unpacked(c, NULL); /* the manager owns it on success */
	sodium_memzero(data_key, sizeof(data_key));
	if (rv) {
		node_state_remove(n->cfg.data_root);
		shoal__local_state__free_unpacked(n->st, NULL);
		n->st = NULL;
		sec_identity_wipe(&n->id);
		return cb(arg, rv, why[0] ? why : err_str(rv));
	}
	log_set_node(node_id);
	log_info("node", "swarm initialized cluster_id=%s listen=%s advertise=%s", cluster_id,
		 listen, adv);
	n->state = NODE_ACTIVE;
	node_start_agent(n);
	o = op_new(n, cb, arg);
	mgr_wait_node(n->mgr, node_id, 15000, init_node_ready, o);
}

/* --force-new-cluster on a manager that lost its peers: restart Raft as a
 * single voter, keeping the state. */
struct fnc {
	struct node *n;
	node_done_cb cb;
	void *arg;
};

static void fnc_stopped(void *varg)
{
	struct fnc *x = varg;
	struct node *n = x->n;
	uint8_t data_key[32];
	char why[256] = "";
	int rv;

	n->mgr = NULL;
	rv = node_unlock_state(n, NULL, data_key);
	if (rv == 0) {
		rv = node_start_mgr(n, data_key, 0, NULL, 1, why, sizeof(why));
		sodium_memzero(data_key, sizeof(data_key));
	}
	if (rv) {
		n->busy = 0;
		x->cb(x->arg, rv, why[0] ? why : err_str(rv));
		free(x);
		return;
	}
	/* Reply once this manager leads the new single-node cluster. */
	struct op *o = op_new(n, x->cb, x->arg);
	free(x);
	mgr_wait_node(n->mgr, "", 15000, init_node_ready, o);
}

static void node_force_new_cluster(struct node *n, node_done_cb cb, void *arg)
{
	struct fnc *x = xmalloc(sizeof(*x));

	x->n = n;
	x->cb = cb;
	x->arg = arg;
	n->busy = 1;
	log_warn("node", "forcing a new cluster from this manager's state");
	if (n->mgr)
		mgr_stop(n->mgr, fnc_stopped, x);
	else
		fnc_stopped(x);
}

/* ------------------------------------------------------------------------ */
/* swarm join                                                                */

struct join {
	struct op *o;
	char listen[64], adv[64], remote[64];
	struct wire_conn *conn;
	struct sec_join_result res;
	uint8_t data_key[32];
};

static void join_fail(struct join *j, int status, const char *msg)
{
	struct node *n = j->o->n;

	if (n->st && n->state != NODE_ACTIVE) {
		shoal__local_state__free_unpacked(n->st, NULL);
		n->st = NULL;
		sec_identity_wipe(&n->id);
		node_state_remove(n->cfg.data_root);
	}
	op_finish(j->o, status, msg);
	sodium_memzero(&j->res.static_priv, 32);
	buf_free(&j->res.cert);
	sodium_memzero(j->data_key, 32);
	free(j);
}

static void join_wait_session(uv_timer_t *t)
{
	struct op *o = t->data;
	struct node *n = o->n;

	/* Joined once the dispatcher has us, and, for a manager, once our
	 * Raft follows a leader as a voter (so manager commands work and
	 * quorum counts us on return, as Docker's join does). */
	if (n->session_up && (!n->mgr || (mgr_leader_addr(n->mgr)[0] && mgr_is_voter(n->mgr))))
		op_finish(o, 0, NULL);
	else if (uv_now(t->loop) >= o->deadline)
		/* Docker's wording: the join goes on in the background. */
		op_finish(o, -SHOAL_ETIMEDOUT,
			  "Timeout was reached before node joined. The attempt to join the swarm "
			  "will continue in the background. Use the \"docker info\" command to see "
			  "the current swarm status of your node.");
}

/* Member from now on: persist, start the runtime, reply once registered. */
static void join_commit(struct join *j)
{
	struct node *n = j->o->n;
	struct op *o = j->o;
	char why[256] = "";
	int rv;

	node_seal_state(n->st, j->res.static_priv,
			n->st->role == SEC_ROLE_MANAGER ? j->data_key : NULL, NULL);
	rv = node_state_save(n->cfg.data_root, n->st);
	if (rv == 0 && n->st->role == SEC_ROLE_MANAGER) {
		node_mkdirs(node_raft_dir(n), 0700);
		rv = node_start_mgr(n, j->data_key, 0, NULL, 0, why, sizeof(why));
	}
	if (rv)
		return join_fail(j, rv, why[0] ? why : err_str(rv));
	log_set_node(n->st->node_id);
	log_info("node", "joined swarm role=%s node_id=%s via=%s", node_role_name(n),
		 n->st->node_id, j->remote);
	n->state = NODE_ACTIVE;
	node_start_agent(n);
	sodium_memzero(&j->res.static_priv, 32);
	buf_free(&j->res.cert);
	sodium_memzero(j->data_key, 32);
	free(j);
	/* Reply when the session is up (the node is Ready), or time out. */
	uv_timer_init(n->loop, &o->timer);
	o->timer.data = o;
	o->timer_on = 1;
	o->deadline = uv_now(n->loop) + JOIN_TIMEOUT_MS;
	uv_timer_start(&o->timer, join_wait_session, 50, 50);
}

static void raft_joined(void *arg, int status, const char *msg, Shoal__RaftJoinResponse *resp)
{
	struct join *j = arg;

	if (status)
		return join_fail(j, status, msg);
	if (!resp || resp->data_key.len != 32)
		return join_fail(j, -SHOAL_EPROTO, "the leader sent no data key");
	memcpy(j->data_key, resp->data_key.data, 32);
	join_commit(j);
}

static void join_handshake(struct wire_conn *c, int status, const char *why,
			   const struct sec_peer *peer, struct sec_join_result *res, void *data)
{
	struct join *j = data;
	struct node *n = j->o->n;

	if (status) {
		char msg[400];
		snprintf(msg, sizeof(msg), "%s", why && *why ? why : err_str(status));
		return join_fail(
		    j,
		    status == -SHOAL_ETOKENSECRET || status == -SHOAL_ETOKENCA ? -EINVAL : status,
		    msg);
	}
	wire_close(c, 0); /* the join connection only carries the certificate */
	j->res = *res;
	memset(&res->cert, 0, sizeof(res->cert));

	n->st = new_state(n);
	n->st->node_id = xstrdup(j->res.info.node_id);
	n->st->cluster_id = xstrdup(j->res.info.cluster_id);
	n->st->role = (uint32_t) j->res.info.role;
	node_set_bytes(&n->st->certificate, j->res.cert.data, j->res.cert.len);
	node_set_bytes(&n->st->ca_public_key, j->res.info.ca_public_key, 32);
	n->st->listen_addr = xstrdup(j->listen);
	n->st->advertise_addr = xstrdup(j->adv);
	n->st->n_managers = 1;
	n->st->managers = xcalloc(1, sizeof(char *));
	n->st->managers[0] = xstrdup(j->remote);
	sec_identity_set(&n->id, j->res.static_priv, j->res.info.ca_public_key,
			 j->res.info.cluster_id, j->res.cert.data, j->res.cert.len);
	if (n->st->role == SEC_ROLE_MANAGER) {
		do {
			n->st->raft_id =
			    ((uint64_t) randombytes_random() << 32) | randombytes_random();
		} while (n->st->raft_id == 0);
		mgr_request_join(n->loop, &n->id, j->remote, n->st->raft_id, j->adv, raft_joined,
				 j);
		return;
	}
	join_commit(j);
}

static void join_connected(struct wire_conn *c, int status)
{
	struct join *j = c->data;
	struct node *n = j->o->n;
	struct sec_connect_config cfg = {
	    .join_token = j->o->token,
	    .hostname = n->desc->hostname,
	    .peer_role = SEC_ROLE_MANAGER,
	};
	char msg[200];
	int rv;

	if (status) {
		snprintf(msg, sizeof(msg), "could not connect to %s: %s", j->remote,
			 err_str(status));
		return join_fail(j, status, msg);
	}
	rv = sec_connect(c, &cfg, join_handshake, j);
	if (rv) {
		wire_close(c, rv);
		join_fail(j, rv, "invalid join token");
	}
}

void node_swarm_join(struct node *n, const struct node_join_req *req, node_done_cb cb, void *arg)
{
	char why[256] = "";
	uint8_t digest[32], secret[16];
	struct join *j;
	struct wire_conn *c;
	int rv;

	if (n->busy)
		return cb(arg, -EBUSY, "another swarm operation is in progress");
	if (n->st)
		return cb(arg, -SHOAL_ENOTSWARM, MSG_ALREADY);
	rv = sec_token_parse(req->join_token, digest, secret, why, sizeof(why));
	sodium_memzero(secret, sizeof(secret));
	if (rv) {
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid join token: %s", why);
		return cb(arg, -EINVAL, msg);
	}
	j = xcalloc(1, sizeof(*j));
	if (norm_addr(req->remote_addrs[0], DEFAULT_PORT, j->remote, sizeof(j->remote), why,
		      sizeof(why)) ||
	    norm_addr(req->listen_addr, DEFAULT_PORT, j->listen, sizeof(j->listen), why,
		      sizeof(why)) ||
	    (req->advertise_addr[0]
		 ? norm_addr(req->advertise_addr, strtol(strrchr(j->listen, ':') + 1, NULL, 10),
			     j->adv, sizeof(j->adv), why, sizeof(why))
		 : pick_advertise(j->listen, j->adv, sizeof(j->adv), why, sizeof(why)))) {
		free(j);
		return cb(arg, -EINVAL, why);
	}
	j->o = op_new(n, cb, arg);
	snprintf(j->o->token, sizeof(j->o->token), "%s", req->join_token);
	rv = wire_connect(n->loop, j->remote, join_connected, j, &c);
	if (rv)
		join_fail(j, rv, "invalid manager address");
}

/* ------------------------------------------------------------------------ */
/* swarm leave                                                               */

struct leave {
	struct op *o;
	int pending;
};

static void leave_step_done(void *arg)
{
	struct leave *l = arg;
	struct node *n = l->o->n;

	if (--l->pending > 0)
		return;
	n->mgr = NULL;
	n->session = NULL;
	node_state_remove(n->cfg.data_root);
	node_rmtree(node_raft_dir(n));
	shoal__local_state__free_unpacked(n->st, NULL);
	n->st = NULL;
	sec_identity_wipe(&n->id);
	n->state = NODE_INACTIVE;
	log_info("node", "left the swarm");
	log_set_node(NULL);
	op_finish(l->o, 0, NULL);
	free(l);
}

void node_swarm_leave(struct node *n, int force, node_done_cb cb, void *arg)
{
	struct leave *l;

	if (n->busy)
		return cb(arg, -EBUSY, "another swarm operation is in progress");
	if (!n->st)
		return cb(arg, -SHOAL_ENOTSWARM, MSG_NOT_PART);
	if (n->st->role == SEC_ROLE_MANAGER && !force) {
		if (n->mgr && mgr_voters(n->mgr) <= 1)
			return cb(
			    arg, -SHOAL_ENOTSWARM,
			    "You are attempting to leave the swarm on a node that is "
			    "participating as a manager. Removing the last manager erases all "
			    "current state of the swarm. Use `--force` to ignore this message.");
		return cb(
		    arg, -SHOAL_ENOTSWARM,
		    "You are attempting to leave the swarm on a node that is participating as "
		    "a manager. Removing this node leaves the swarm with fewer managers, which "
		    "may lose quorum. The only way to restore a swarm that has lost consensus is "
		    "to reinitialize it with `--force-new-cluster`. Use `--force` to suppress "
		    "this message.");
	}
	l = xcalloc(1, sizeof(*l));
	l->o = op_new(n, cb, arg);
	l->pending = 1;
	if (n->session) {
		l->pending++;
		agent_session_stop(n->session, leave_step_done, l);
	}
	if (n->tasks) {
		/* Leaving stops and removes this node's containers, as Docker does. */
		l->pending++;
		node_work_stop(n, 1, leave_step_done, l);
	}
	if (n->mgr) {
		l->pending++;
		mgr_leave(n->mgr, leave_step_done, l);
	}
	leave_step_done(l);
}

/* ------------------------------------------------------------------------ */
/* unlock                                                                    */

void node_swarm_unlock(struct node *n, const char *key, node_done_cb cb, void *arg)
{
	uint8_t uk[32];
	char why[256] = "";
	int rv;

	if (n->state != NODE_LOCKED)
		return cb(arg, -SHOAL_ENOTSWARM, n->st ? "swarm is not locked" : MSG_NOT_PART);
	if (sec_unlock_key_parse(key, uk, why, sizeof(why)) != 0)
		return cb(arg, -EINVAL, "invalid key: unlock key is malformed");
	rv = node_resume(n, uk, why, sizeof(why));
	sodium_memzero(uk, sizeof(uk));
	if (rv == -SHOAL_EUNLOCKKEY)
		return cb(arg, -EINVAL, "swarm could not be unlocked: invalid key");
	if (rv)
		return cb(arg, rv, why[0] ? why : err_str(rv));
	log_info("node", "swarm unlocked");
	cb(arg, 0, NULL);
}
