#include "daemon/node.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/sec/seal.h"
#include "daemon/api/conv.h"
#include "daemon/api/http.h"
#include "daemon/api/system.h"
#include "daemon/describe.h"
#include "daemon/mgr.h"
#include "daemon/node_int.h"
#include "daemon/routes.h"
#include "daemon/state.h"
#include "worker/agent/session.h"
#include "worker/image/img.h"

static int node_system_routes_add(struct api_server *s, struct node *n);

const char *node_state_name(enum node_swarm_state s)
{
	static const char *const names[] = {"inactive", "pending", "active", "error", "locked"};
	return names[s];
}

const char *node_role_name(const struct node *n)
{
	if (!n->st)
		return "";
	return n->st->role == SEC_ROLE_MANAGER ? "manager" : "worker";
}

/* ------------------------------------------------------------------------ */
/* Keys and identity                                                         */

/* Derives the KEK that wraps this node's secrets: the operator's unlock key
 * when autolocked, else the random KEK kept in the state file. */
static int node_kek(const Shoal__LocalState *st, const uint8_t *unlock_key, uint8_t kek[32])
{
	if (st->autolock) {
		if (!unlock_key)
			return -SHOAL_ELOCKED;
		sec_kek_from_unlock_key(unlock_key, kek);
		return 0;
	}
	if (st->kek.len != 32)
		return -EINVAL;
	memcpy(kek, st->kek.data, 32);
	return 0;
}

void node_set_bytes(ProtobufCBinaryData *d, const void *p, size_t len)
{
	free(d->data);
	d->data = len ? xmalloc(len) : NULL;
	if (len)
		memcpy(d->data, p, len);
	d->len = len;
}

/* Loads identity (and the data key for managers) from the state. */
int node_unlock_state(struct node *n, const uint8_t *unlock_key, uint8_t data_key[32])
{
	uint8_t kek[32], spriv[32];
	int rv;

	rv = node_kek(n->st, unlock_key, kek);
	if (rv)
		return rv;
	if (n->st->autolock) {
		rv = sec_key_unwrap(kek, n->st->static_private_key.data,
				    n->st->static_private_key.len, spriv);
		if (rv) {
			sodium_memzero(kek, sizeof(kek));
			return -SHOAL_EUNLOCKKEY;
		}
	} else {
		if (n->st->static_private_key.len != 32)
			return -EINVAL;
		memcpy(spriv, n->st->static_private_key.data, 32);
	}
	if (n->st->role == SEC_ROLE_MANAGER && data_key) {
		rv = sec_key_unwrap(kek, n->st->data_key_wrapped.data, n->st->data_key_wrapped.len,
				    data_key);
		if (rv) {
			sodium_memzero(kek, sizeof(kek));
			sodium_memzero(spriv, sizeof(spriv));
			return -SHOAL_EUNLOCKKEY;
		}
	}
	sec_identity_set(&n->id, spriv, n->st->ca_public_key.data, n->st->cluster_id,
			 n->st->certificate.data, n->st->certificate.len);
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(spriv, sizeof(spriv));
	return 0;
}

/* Stores the static key and data key wrapped under the current KEK rules. */
void node_seal_state(Shoal__LocalState *st, const uint8_t spriv[32], const uint8_t *data_key,
		     const uint8_t *unlock_key)
{
	uint8_t kek[32], wrapped[SEC_WRAPPED_LEN];

	st->autolock = unlock_key != NULL;
	if (unlock_key) {
		sec_kek_from_unlock_key(unlock_key, kek);
		node_set_bytes(&st->kek, NULL, 0);
		sec_key_wrap(kek, spriv, wrapped);
		node_set_bytes(&st->static_private_key, wrapped, sizeof(wrapped));
	} else {
		if (st->kek.len != 32) {
			sec_kek_random(kek);
			node_set_bytes(&st->kek, kek, 32);
		}
		memcpy(kek, st->kek.data, 32);
		node_set_bytes(&st->static_private_key, spriv, 32);
	}
	if (data_key) {
		sec_key_wrap(kek, data_key, wrapped);
		node_set_bytes(&st->data_key_wrapped, wrapped, sizeof(wrapped));
	}
	sodium_memzero(kek, sizeof(kek));
}

/* ------------------------------------------------------------------------ */
/* Manager runtime                                                           */

static char raft_dir_buf[4096];

const char *node_raft_dir(struct node *n)
{
	snprintf(raft_dir_buf, sizeof(raft_dir_buf), "%s/swarm/raft", n->cfg.data_root);
	return raft_dir_buf;
}

static void on_unlock_key(void *arg, const uint8_t *key)
{
	struct node *n = arg;
	uint8_t data_key[32];

	/* The cluster's autolock setting changed: rewrap our secrets. */
	if (!n->st || node_unlock_state(n, NULL, NULL) == -SHOAL_ELOCKED) {
		/* Locked nodes rewrap after unlocking; nothing to do here. */
	}
	if (!n->st || n->st->role != SEC_ROLE_MANAGER || !n->mgr)
		return;
	if (mgr_data_key(n->mgr, data_key) != 0)
		return;
	node_seal_state(n->st, n->id.static_priv, data_key, key);
	sodium_memzero(data_key, sizeof(data_key));
	if (node_state_save(n->cfg.data_root, n->st) != 0)
		log_error("node", "cannot save state after an unlock key change");
	else
		log_info("node", "secrets rewrapped autolock=%d", key != NULL);
}

int node_start_mgr(struct node *n, const uint8_t data_key[32], int bootstrap,
		   Shoal__Cluster *init_cluster, int force_new, char *why, size_t whylen)
{
	struct mgr_config mc = {
	    .dir = node_raft_dir(n),
	    .listen_addr = n->st->listen_addr,
	    .advertise_addr = n->st->advertise_addr,
	    .id = &n->id,
	    .node_id = n->st->node_id,
	    .raft_id = n->st->raft_id,
	    .bootstrap = bootstrap,
	    .init_cluster = init_cluster,
	    .force_new_cluster = force_new,
	    .on_unlock_key = on_unlock_key,
	    .arg = n,
	};

	memcpy(mc.data_key, data_key, 32);
	int rv = mgr_start(n->loop, &mc, &n->mgr, why, whylen);
	sodium_memzero(mc.data_key, 32);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Agent session                                                             */

static void session_state(void *arg, int up, const char *manager)
{
	struct node *n = arg;

	n->session_up = up;
	if (up)
		node_work_connected(n);
}

static void session_managers(void *arg, char *const *managers, size_t m)
{
	struct node *n = arg;
	int same = n->st && n->st->n_managers == m;

	for (size_t i = 0; same && i < m; i++)
		same = strcmp(n->st->managers[i], managers[i]) == 0;
	if (!n->st || same || m == 0)
		return;
	for (size_t i = 0; i < n->st->n_managers; i++)
		free(n->st->managers[i]);
	free(n->st->managers);
	n->st->managers = xcalloc(m, sizeof(char *));
	for (size_t i = 0; i < m; i++)
		n->st->managers[i] = xstrdup(managers[i]);
	n->st->n_managers = m;
	node_state_save(n->cfg.data_root, n->st);
}

void node_start_agent(struct node *n)
{
	struct agent_session_config ac = {
	    .raft_id = n->st->role == SEC_ROLE_MANAGER ? n->st->raft_id : 0,
	    .on_role = node_session_role,
	    .id = &n->id,
	    .managers = (const char *const *) n->st->managers,
	    .n_managers = n->st->n_managers,
	    .desc = n->desc,
	    .advertise_addr = n->st->advertise_addr,
	    .on_state = session_state,
	    .on_managers = session_managers,
	    .on_assignments = node_work_assignments,
	    .methods = node_work_methods,
	    .n_methods = node_work_n_methods,
	    .arg = n,
	};

	node_work_start(n);
	if (agent_session_start(n->loop, &ac, &n->session) != 0)
		log_error("node", "cannot start the agent session: no manager address known");
}

/* Starts what a member runs, from the loaded state. */
int node_resume(struct node *n, const uint8_t *unlock_key, char *why, size_t whylen)
{
	uint8_t data_key[32];
	int rv;

	rv = node_unlock_state(n, unlock_key, data_key);
	if (rv)
		return rv;
	log_set_node(n->st->node_id);
	if (n->st->role == SEC_ROLE_MANAGER) {
		rv = node_start_mgr(n, data_key, 0, NULL, 0, why, whylen);
		sodium_memzero(data_key, sizeof(data_key));
		if (rv)
			return rv;
	}
	node_start_agent(n);
	n->state = NODE_ACTIVE;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

static const char *sock_path(const struct node_config *cfg)
{
	return cfg->host + strlen("unix://");
}

int node_start(uv_loop_t *loop, const struct node_config *cfg, struct node **out)
{
	struct api_server_config ac = {0};
	struct node *n = xcalloc(1, sizeof(*n));
	char why[256] = "", dir[4096];
	int rv;

	n->loop = loop;
	n->cfg = *cfg;
	n->desc = node_describe(cfg->hostname);
	rv = node_mkdirs(cfg->data_root, 0700);
	if (rv == 0)
		rv = node_mkdirs(cfg->exec_root, 0700);
	snprintf(dir, sizeof(dir), "%s", sock_path(cfg));
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		if (rv == 0)
			rv = node_mkdirs(dir, 0755);
	}
	if (rv) {
		log_error("node", "cannot create directories data_root=%s err=\"%s\"",
			  cfg->data_root, err_str(rv));
		goto err;
	}
	snprintf(dir, sizeof(dir), "%s/image", cfg->data_root);
	if (img_store_open(dir, NULL, &n->img, why, sizeof(why)) != 0)
		log_error("node", "cannot open the image store: %s", why);
	why[0] = '\0';
	rv = node_state_load(cfg->data_root, &n->st, why, sizeof(why));
	if (rv && rv != -ENOENT) {
		log_error("node", "cannot read swarm state: %s", why);
		goto err;
	}
	ac.unix_path = sock_path(cfg);
	rv = api_server_start(loop, &ac, &n->api);
	if (rv) {
		log_error("node", "cannot listen on the API socket path=%s err=\"%s\"",
			  ac.unix_path, err_str(rv));
		goto err;
	}
	/* The socket is 0660; members of the `shoal` group may use it. */
	struct group *grp = getgrnam("shoal");
	if (grp && chown(ac.unix_path, 0, grp->gr_gid) != 0)
		log_warn("node", "cannot give the API socket to group shoal err=\"%s\"",
			 err_str(-errno));
	node_routes_add(n->api, n);
	node_system_routes_add(n->api, n);
	log_info("node", "API listening path=%s", ac.unix_path);
	if (n->st) {
		rv = node_resume(n, NULL, why, sizeof(why));
		if (rv == -SHOAL_ELOCKED) {
			n->state = NODE_LOCKED;
			log_warn("node",
				 "swarm is locked: run `shoal swarm unlock` with the unlock key");
		} else if (rv) {
			n->state = NODE_ERROR;
			snprintf(n->error, sizeof(n->error), "%s", why[0] ? why : err_str(rv));
			log_error("node", "cannot rejoin the swarm: %s", n->error);
		} else {
			log_info("node", "rejoining swarm role=%s", node_role_name(n));
		}
	}
	*out = n;
	return 0;
err:
	img_store_close(n->img);
	if (n->st)
		shoal__local_state__free_unpacked(n->st, NULL);
	shoal__node_description__free_unpacked(n->desc, NULL);
	free(n);
	return rv;
}

static void shutdown_step(void *arg)
{
	struct node *n = arg;

	if (n->session) {
		struct agent_session *s = n->session;
		n->session = NULL;
		agent_session_stop(s, shutdown_step, n);
		return;
	}
	if (n->tasks) {
		/* Containers keep running under their shims. */
		node_work_stop(n, 0, shutdown_step, n);
		return;
	}
	if (n->mgr) {
		struct mgr *m = n->mgr;
		n->mgr = NULL;
		mgr_stop(m, shutdown_step, n);
		return;
	}
	if (n->api) {
		struct api_server *a = n->api;
		n->api = NULL;
		api_server_close(a, shutdown_step, n);
		return;
	}
}

void node_shutdown(struct node *n)
{
	if (n->shutting_down)
		return;
	n->shutting_down = 1;
	shutdown_step(n);
}

int node_exit_status(const struct node *n)
{
	return n->exit_status;
}

void node_free(struct node *n)
{
	if (n->st)
		shoal__local_state__free_unpacked(n->st, NULL);
	sec_identity_wipe(&n->id);
	shoal__node_description__free_unpacked(n->desc, NULL);
	img_store_close(n->img);
	node_work_free(n);
	free(n);
}

/* ------------------------------------------------------------------------ */
/* /_ping, /version, /info                                                   */

static int count_role(const void *obj, void *arg)
{
	const Shoal__Node *nd = obj;
	int64_t *counts = arg;

	counts[0]++;
	if (nd->role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER)
		counts[1]++;
	return 0;
}

static int swarm_info(void *data, struct api_swarm_info *out)
{
	struct node *n = data;
	static const enum api_swarm_state map[] = {
	    [NODE_INACTIVE] = API_SWARM_INACTIVE, [NODE_PENDING] = API_SWARM_PENDING,
	    [NODE_ACTIVE] = API_SWARM_ACTIVE,	  [NODE_ERROR] = API_SWARM_ERROR,
	    [NODE_LOCKED] = API_SWARM_LOCKED,
	};

	out->state = map[n->state];
	if (n->state == NODE_ERROR)
		snprintf(out->error, sizeof(out->error), "%s", n->error);
	if (!n->st)
		return 0;
	snprintf(out->node_id, sizeof(out->node_id), "%s", n->st->node_id);
	snprintf(out->node_addr, sizeof(out->node_addr), "%s", n->st->advertise_addr);
	if (strrchr(out->node_addr, ':'))
		*strrchr(out->node_addr, ':') = '\0';
	out->remote_managers = json_array();
	for (size_t i = 0; i < n->st->n_managers; i++)
		json_array_append_new(out->remote_managers, json_pack("{s:s,s:s}", "NodeID", "",
								      "Addr", n->st->managers[i]));
	if (n->mgr) {
		struct store *s = mgr_store(n->mgr);
		const Shoal__Cluster *c = store_get_cluster(s);
		int64_t counts[2] = {0, 0};

		out->control_available = 1;
		store_foreach_node(s, count_role, counts);
		out->nodes = counts[0];
		out->managers = counts[1];
		if (c)
			out->cluster = conv_cluster_json(c, 0);
	}
	return 0;
}

static struct api_system_provider provider;

static int node_system_routes_add(struct api_server *s, struct node *n)
{
	provider.data = n;
	provider.version = SHOAL_VERSION;
	provider.data_root = n->cfg.data_root;
	provider.hostname = n->desc->hostname;
	provider.swarm_info = swarm_info;
	return api_system_register(s, &provider);
}
