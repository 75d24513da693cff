/* routes: the swarm and node endpoints of the Engine API.
 *
 * Handlers parse Docker's JSON, build control requests (proto/control.proto)
 * and run them on the leader through the manager runtime (forwarded by a
 * follower), then answer in Docker's shapes (daemon/api/conv.h). */
#include "daemon/routes.h"
#include "daemon/routes_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/sec/seal.h"
#include "daemon/api/conv.h"
#include "daemon/api/json.h"
#include "daemon/api/http.h"
#include "daemon/mgr.h"
#include "daemon/node.h"
#include "proto/control.pb-c.h"

#define MSG_NOT_IN_SWARM                                                                           \
	"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to " \
	"connect this node to swarm and try again."
#define MSG_WORKER                                                                                 \
	"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster "  \
	"state. Please run this command on a manager node or promote the current node to a "       \
	"manager."
#define MSG_LOCKED                                                                                 \
	"Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker "  \
	"swarm unlock\" to unlock it."

/* Replies 503 unless this node can run control calls. */
int node_route_need_manager(struct api_req *req)
{
	struct node *n = node_of(req);

	if (n->state == NODE_LOCKED) {
		api_reply_error(req, 503, MSG_LOCKED);
		return -1;
	}
	if (!n->st || n->state == NODE_INACTIVE) {
		api_reply_error(req, 503, MSG_NOT_IN_SWARM);
		return -1;
	}
	if (!n->mgr) {
		api_reply_error(req, 503, MSG_WORKER);
		return -1;
	}
	return 0;
}

int node_route_body_json(struct api_req *req, json_t **out)
{
	char err[256];

	if (api_json_parse_object(req->body, req->body_len, out, err, sizeof(err)) != 0) {
		api_reply_error(req, 400, "%s", err);
		return -1;
	}
	return 0;
}

void node_route_done(void *arg, int status, const char *msg)
{
	struct api_req *req = arg;

	if (status)
		api_reply_error(req, api_status_from_err(status), "%s",
				msg && *msg ? msg : err_str(status));
	else
		api_reply_raw(req, 200, NULL, NULL, 0);
}

/* Control calls answered with an empty body on success. */
void node_route_empty_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	node_route_done(arg, status, msg);
}

void node_route_call(struct api_req *req, const char *method, const ProtobufCMessage *m,
		     ctl_reply_fn cb)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(len ? len : 1);

	protobuf_c_message_pack(m, buf);
	mgr_call(node_of(req)->mgr, method, buf, len, cb, req);
	free(buf);
}

/* Unpacks a control reply of type `desc`; on an error status or a
 * malformed body answers `req` and returns NULL. Free the result with
 * protobuf_c_message_free_unpacked. */
void *node_route_unpack(struct api_req *req, int status, const char *msg, const uint8_t *body,
			size_t len, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m;

	if (status) {
		api_reply_error(req, api_status_from_err(status), "%s", msg);
		return NULL;
	}
	m = protobuf_c_message_unpack(desc, NULL, len, body);
	if (!m)
		api_reply_error(req, 500, "malformed %s from the leader", desc->short_name);
	return m;
}

/* ------------------------------------------------------------------------ */
/* Swarm                                                                     */

static int get_str_array(json_t *o, const char *key, const char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return -1;
	*out = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[(*n)++] = json_string_value(v);
	}
	return 0;
}

struct init_ctx {
	struct api_req *req;
};

static void init_done(void *arg, int status, const char *msg)
{
	struct api_req *req = arg;
	struct node *n = node_of(req);

	if (status)
		api_reply_error(req, api_status_from_err(status), "%s", msg);
	else
		api_reply_json(req, 200, json_string(n->st->node_id));
}

static void swarm_init(struct api_req *req)
{
	struct node_init_req r = {0};
	json_t *body, *spec = NULL;
	const char **pools = NULL;
	size_t npools = 0;
	int64_t subnet = 0, port = 0;
	int force = 0, autolock = 0;
	char err[256];

	if (node_route_body_json(req, &body))
		return;
	r.listen_addr = "0.0.0.0:2377";
	r.advertise_addr = "";
	if (api_json_get_string(body, "", "ListenAddr", API_JSON_OPTIONAL, &r.listen_addr, err,
				sizeof(err)) ||
	    api_json_get_string(body, "", "AdvertiseAddr", API_JSON_OPTIONAL, &r.advertise_addr,
				err, sizeof(err)) ||
	    api_json_get_bool(body, "", "ForceNewCluster", API_JSON_OPTIONAL, &force, err,
			      sizeof(err)) ||
	    api_json_get_bool(body, "", "AutoLockManagers", API_JSON_OPTIONAL, &autolock, err,
			      sizeof(err)) ||
	    api_json_get_int64(body, "", "SubnetSize", API_JSON_OPTIONAL, &subnet, err,
			       sizeof(err)) ||
	    api_json_get_int64(body, "", "DataPathPort", API_JSON_OPTIONAL, &port, err,
			       sizeof(err)) ||
	    api_json_get_object(body, "", "Spec", API_JSON_OPTIONAL, &spec, err, sizeof(err))) {
		api_reply_error(req, 400, "%s", err);
		goto out;
	}
	if (get_str_array(body, "DefaultAddrPool", &pools, &npools)) {
		api_reply_error(req, 400, "DefaultAddrPool: expected an array of CIDR strings");
		goto out;
	}
	if (subnet < 0 || subnet > 29 || port < 0 || port > 65535) {
		api_reply_error(req, 400,
				subnet < 0 || subnet > 29
				    ? "invalid subnet size %lld: must be between 1 and 29"
				    : "invalid data path port %lld",
				(long long) (subnet < 0 || subnet > 29 ? subnet : port));
		goto out;
	}
	if (spec) {
		json_t *enc = json_object_get(spec, "EncryptionConfig");
		if (json_is_object(enc) && json_is_true(json_object_get(enc, "AutoLockManagers")))
			autolock = 1;
	}
	r.force_new_cluster = force;
	r.autolock = autolock;
	r.spec = spec;
	r.default_addr_pool = pools;
	r.n_default_addr_pool = npools;
	r.subnet_size = (uint32_t) subnet;
	r.data_path_port = (uint32_t) port;
	node_swarm_init(node_of(req), &r, init_done, req);
out:
	free(pools);
	json_decref(body);
}

static void swarm_join(struct api_req *req)
{
	struct node_join_req r = {0};
	json_t *body;
	const char **remotes = NULL;
	size_t nremotes = 0;
	char err[256];

	if (node_route_body_json(req, &body))
		return;
	r.listen_addr = "0.0.0.0:2377";
	r.advertise_addr = "";
	r.join_token = "";
	if (api_json_get_string(body, "", "ListenAddr", API_JSON_OPTIONAL, &r.listen_addr, err,
				sizeof(err)) ||
	    api_json_get_string(body, "", "AdvertiseAddr", API_JSON_OPTIONAL, &r.advertise_addr,
				err, sizeof(err)) ||
	    api_json_get_string(body, "", "JoinToken", API_JSON_OPTIONAL, &r.join_token, err,
				sizeof(err))) {
		api_reply_error(req, 400, "%s", err);
		goto out;
	}
	if (get_str_array(body, "RemoteAddrs", &remotes, &nremotes) || nremotes == 0) {
		api_reply_error(req, 400, "RemoteAddrs: at least one manager address is required");
		goto out;
	}
	r.remote_addrs = remotes;
	r.n_remote_addrs = nremotes;
	node_swarm_join(node_of(req), &r, node_route_done, req);
out:
	free(remotes);
	json_decref(body);
}

static void swarm_leave(struct api_req *req)
{
	node_swarm_leave(node_of(req), api_query_bool(req, "force", 0), node_route_done, req);
}

static void cluster_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__Cluster *c;

	c = node_route_unpack(req, status, msg, body, len, &shoal__cluster__descriptor);
	if (!c)
		return;
	api_reply_json(req, 200, conv_cluster_json(c, 1));
	shoal__cluster__free_unpacked(c, NULL);
}

static void swarm_inspect(struct api_req *req)
{
	Shoal__Empty e = SHOAL__EMPTY__INIT;

	if (node_route_need_manager(req) == 0)
		node_route_call(req, "cluster.get", &e.base, cluster_reply);
}

/* swarm update: read the current spec (so absent fields keep their values),
 * apply the posted one, propose with the posted version. */
struct update_ctx {
	struct api_req *req;
	json_t *spec;
	uint64_t version;
	int rot_worker, rot_manager, rot_unlock;
};

static void update_got_cluster(void *arg, int status, const char *msg, const uint8_t *body,
			       size_t len)
{
	struct update_ctx *x = arg;
	struct api_req *req = x->req;
	Shoal__ClusterUpdateRequest u = SHOAL__CLUSTER_UPDATE_REQUEST__INIT;
	Shoal__Cluster *c = NULL;
	char err[256];

	c = node_route_unpack(req, status, msg, body, len, &shoal__cluster__descriptor);
	if (!c)
		goto out;
	if (!c->spec) {
		c->spec = xmalloc(sizeof(*c->spec));
		shoal__cluster_spec__init(c->spec);
	}
	if (conv_cluster_spec(x->spec, c->spec, err, sizeof(err))) {
		api_reply_error(req, 400, "%s", err);
		goto out;
	}
	u.version = x->version;
	u.spec = c->spec;
	u.rotate_worker_token = x->rot_worker;
	u.rotate_manager_token = x->rot_manager;
	u.rotate_unlock_key = x->rot_unlock;
	node_route_call(req, "cluster.update", &u.base, node_route_empty_reply);
out:
	if (c)
		shoal__cluster__free_unpacked(c, NULL);
	json_decref(x->spec);
	free(x);
}

static void swarm_update(struct api_req *req)
{
	Shoal__Empty e = SHOAL__EMPTY__INIT;
	struct update_ctx *x;
	int64_t version;
	json_t *body;

	if (node_route_need_manager(req))
		return;
	if (api_query_int64(req, "version", -1, &version) || version < 0) {
		api_reply_error(req, 400, "invalid or missing version query parameter");
		return;
	}
	if (node_route_body_json(req, &body))
		return;
	x = xcalloc(1, sizeof(*x));
	x->req = req;
	x->spec = body;
	x->version = (uint64_t) version;
	x->rot_worker = api_query_bool(req, "rotateWorkerToken", 0);
	x->rot_manager = api_query_bool(req, "rotateManagerToken", 0);
	x->rot_unlock = api_query_bool(req, "rotateManagerUnlockKey", 0);
	size_t len = protobuf_c_message_get_packed_size(&e.base);
	uint8_t buf[8];
	protobuf_c_message_pack(&e.base, buf);
	mgr_call(node_of(req)->mgr, "cluster.get", buf, len, update_got_cluster, x);
}

static void unlockkey_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__Cluster *c;
	char key[SEC_UNLOCK_KEY_LEN + 1];

	c = node_route_unpack(req, status, msg, body, len, &shoal__cluster__descriptor);
	if (!c)
		return;
	if (c->unlock_key.len != 32) {
		api_reply_json(req, 200, json_pack("{s:s}", "UnlockKey", ""));
	} else {
		sec_unlock_key_format(c->unlock_key.data, key, sizeof(key));
		api_reply_json(req, 200, json_pack("{s:s}", "UnlockKey", key));
	}
	shoal__cluster__free_unpacked(c, NULL);
}

static void swarm_unlockkey(struct api_req *req)
{
	Shoal__Empty e = SHOAL__EMPTY__INIT;

	if (node_route_need_manager(req) == 0)
		node_route_call(req, "cluster.get", &e.base, unlockkey_reply);
}

static void swarm_unlock(struct api_req *req)
{
	const char *key = NULL;
	json_t *body;
	char err[256];

	if (node_route_body_json(req, &body))
		return;
	if (api_json_get_string(body, "", "UnlockKey", API_JSON_OPTIONAL, &key, err, sizeof(err)) ||
	    !key) {
		api_reply_error(req, 400, "%s", key ? err : "UnlockKey: required");
		json_decref(body);
		return;
	}
	node_swarm_unlock(node_of(req), key, node_route_done, req);
	json_decref(body);
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

/* Docker's filters query -> a control ListRequest. */
int node_route_filters(struct api_req *req, Shoal__ListRequest *lr)
{
	struct api_filters f = {0};
	char err[256];

	if (api_filters_parse(api_query(req, "filters"), &f, err, sizeof(err)) != 0) {
		api_filters_free(&f);
		api_reply_error(req, 400, "%s", err);
		return -1;
	}
	lr->filters = xcalloc(f.n + 1, sizeof(*lr->filters));
	for (size_t i = 0; i < f.n; i++) {
		Shoal__ListRequest__FiltersEntry *e = xmalloc(sizeof(*e));
		Shoal__FilterValues *fv = xmalloc(sizeof(*fv));

		shoal__list_request__filters_entry__init(e);
		shoal__filter_values__init(fv);
		e->key = xstrdup(f.items[i].key);
		e->value = fv;
		fv->values = xcalloc(f.items[i].n_values + 1, sizeof(char *));
		for (size_t k = 0; k < f.items[i].n_values; k++)
			fv->values[fv->n_values++] = xstrdup(f.items[i].values[k]);
		lr->filters[lr->n_filters++] = e;
	}
	api_filters_free(&f);
	return 0;
}

void node_route_filters_free(Shoal__ListRequest *lr)
{
	for (size_t i = 0; i < lr->n_filters; i++)
		protobuf_c_message_free_unpacked(&(lr->filters[i])->base, NULL);
	free(lr->filters);
}

static void node_list_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__NodeListResponse *r;
	json_t *a;

	r = node_route_unpack(req, status, msg, body, len, &shoal__node_list_response__descriptor);
	if (!r)
		return;
	a = json_array();
	for (size_t i = 0; i < r->n_nodes; i++)
		json_array_append_new(a, conv_node_json(r->nodes[i]));
	shoal__node_list_response__free_unpacked(r, NULL);
	api_reply_json(req, 200, a);
}

static void nodes_list(struct api_req *req)
{
	Shoal__ListRequest lr = SHOAL__LIST_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	if (node_route_filters(req, &lr) == 0)
		node_route_call(req, "node.list", &lr.base, node_list_reply);
	node_route_filters_free(&lr);
}

static void node_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__Node *n;

	n = node_route_unpack(req, status, msg, body, len, &shoal__node__descriptor);
	if (!n)
		return;
	api_reply_json(req, 200, conv_node_json(n));
	shoal__node__free_unpacked(n, NULL);
}

static void nodes_inspect(struct api_req *req)
{
	Shoal__RefRequest r = SHOAL__REF_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	r.ref = (char *) api_param(req, "id");
	node_route_call(req, "node.get", &r.base, node_reply);
}

static void nodes_update(struct api_req *req)
{
	Shoal__NodeUpdateRequest u = SHOAL__NODE_UPDATE_REQUEST__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	int64_t version;
	json_t *body;
	char err[256];

	if (node_route_need_manager(req))
		return;
	if (api_query_int64(req, "version", -1, &version) || version < 0) {
		api_reply_error(req, 400, "invalid or missing version query parameter");
		return;
	}
	if (node_route_body_json(req, &body))
		return;
	if (conv_node_spec(body, &spec, err, sizeof(err))) {
		api_reply_error(req, 400, "%s", err);
	} else {
		u.ref = (char *) api_param(req, "id");
		u.version = (uint64_t) version;
		u.spec = &spec;
		node_route_call(req, "node.update", &u.base, node_route_empty_reply);
	}
	if (spec.annotations)
		shoal__annotations__free_unpacked(spec.annotations, NULL);
	json_decref(body);
}

static void nodes_delete(struct api_req *req)
{
	Shoal__NodeRemoveRequest r = SHOAL__NODE_REMOVE_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	r.ref = (char *) api_param(req, "id");
	r.force = api_query_bool(req, "force", 0);
	node_route_call(req, "node.remove", &r.base, node_route_empty_reply);
}

static const struct api_route routes[] = {
    {"POST", "/swarm/init", swarm_init, 0, 0},
    {"POST", "/swarm/join", swarm_join, 0, 0},
    {"POST", "/swarm/leave", swarm_leave, 0, 0},
    {"GET", "/swarm", swarm_inspect, 0, 0},
    {"POST", "/swarm/update", swarm_update, 0, 0},
    {"GET", "/swarm/unlockkey", swarm_unlockkey, 0, 0},
    {"POST", "/swarm/unlock", swarm_unlock, 0, 0},
    {"GET", "/nodes", nodes_list, 0, 0},
    {"GET", "/nodes/{id}", nodes_inspect, 0, 0},
    {"POST", "/nodes/{id}/update", nodes_update, 0, 0},
    {"DELETE", "/nodes/{id}", nodes_delete, 0, 0},
};

int node_routes_add(struct api_server *s, struct node *n)
{
	int rv = api_server_add_routes(s, routes, sizeof(routes) / sizeof(routes[0]), n);

	if (rv == 0)
		rv = node_routes_blobs_add(s, n);
	if (rv == 0)
		rv = node_routes_services_add(s, n);
	if (rv == 0)
		rv = node_routes_logs_add(s, n);
	return rv ? rv : node_routes_images_add(s, n);
}
