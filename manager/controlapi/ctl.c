#include "manager/controlapi/ctl.h"
#include "manager/controlapi/ctl_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/id.h"
#include "common/log.h"
#include "common/sec/cert.h"
#include "manager/ca/ca.h"
#include "proto/control.pb-c.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

void ctl_batch_init(struct ctl_batch *cb)
{
	memset(cb, 0, sizeof(*cb));
	shoal__store_action_batch__init(&cb->b);
	cb->b.actions = cb->ptrs;
}

void ctl_batch_add(struct ctl_batch *cb, Shoal__StoreAction__Kind kind,
		   Shoal__StoreAction__TargetCase target, void *obj)
{
	Shoal__StoreAction *a = &cb->acts[cb->b.n_actions];

	shoal__store_action__init(a);
	a->kind = kind;
	a->target_case = target;
	/* Every member of the target union is a message pointer. */
	a->node = obj;
	cb->ptrs[cb->b.n_actions++] = a;
}

static int count_manager(const void *obj, void *arg)
{
	const Shoal__Node *n = obj;

	if (n->role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER)
		(*(size_t *) arg)++;
	return 0;
}

size_t ctl_manager_count(const struct store *s)
{
	size_t n = 0;

	store_foreach_node(s, count_manager, &n);
	return n;
}

void ctl_reply_msg(ctl_reply_fn cb, void *arg, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(len ? len : 1);

	protobuf_c_message_pack(m, buf);
	cb(arg, 0, NULL, buf, len);
	free(buf);
}

void ctl_reply_err(ctl_reply_fn cb, void *arg, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void ctl_reply_err(ctl_reply_fn cb, void *arg, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cb(arg, status, msg, NULL, 0);
}

/* A pending write: the reply waits for the proposal. */
struct pending {
	ctl_reply_fn cb;
	void *arg;
	char id[ID_LEN + 1]; /* created object, "" for plain writes */
};

static void write_done(void *varg, int status, const struct store_result *res)
{
	struct pending *p = varg;
	Shoal__Empty empty = SHOAL__EMPTY__INIT;
	Shoal__CreateResponse created = SHOAL__CREATE_RESPONSE__INIT;

	if (status)
		ctl_reply_err(p->cb, p->arg, status, "%s", err_str(status));
	else if (res->err)
		ctl_reply_err(p->cb, p->arg, res->err, "%s", res->msg);
	else if (p->id[0]) {
		created.id = p->id;
		ctl_reply_msg(p->cb, p->arg, &created.base);
	} else
		ctl_reply_msg(p->cb, p->arg, &empty.base);
	free(p);
}

static void propose_pending(struct ctl *c, struct ctl_batch *b, const char *id, ctl_reply_fn cb,
			    void *arg)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	int rv;

	p->cb = cb;
	p->arg = arg;
	if (id)
		snprintf(p->id, sizeof(p->id), "%s", id);
	rv = c->proposer.propose(c->proposer.ctx, &b->b, write_done, p);
	if (rv) {
		free(p);
		ctl_reply_err(cb, arg, rv, "%s", err_str(rv));
	}
}

void ctl_propose(struct ctl *c, struct ctl_batch *b, ctl_reply_fn cb, void *arg)
{
	propose_pending(c, b, NULL, cb, arg);
}

void ctl_propose_created(struct ctl *c, struct ctl_batch *b, const char *id, ctl_reply_fn cb,
			 void *arg)
{
	propose_pending(c, b, id, cb, arg);
}

int ctl_check_filters(const Shoal__ListRequest *req, const char *const *allowed, ctl_reply_fn cb,
		      void *arg)
{
	for (size_t i = 0; i < req->n_filters; i++) {
		size_t k = 0;
		while (allowed[k] && strcmp(allowed[k], req->filters[i]->key) != 0)
			k++;
		if (!allowed[k]) {
			ctl_reply_err(cb, arg, -EINVAL, "invalid filter '%s'",
				      req->filters[i]->key);
			return -EINVAL;
		}
	}
	return 0;
}

int ctl_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la, lb;
	uint8_t *pa, *pb;
	int eq;

	if (!a || !b)
		return a == b;
	la = protobuf_c_message_get_packed_size(a);
	lb = protobuf_c_message_get_packed_size(b);
	if (la != lb)
		return 0;
	pa = xmalloc(la + 1);
	pb = xmalloc(lb + 1);
	protobuf_c_message_pack(a, pa);
	protobuf_c_message_pack(b, pb);
	eq = memcmp(pa, pb, la) == 0;
	free(pa);
	free(pb);
	return eq;
}

/* See ctl_int.h: every listed kind starts like this. */
struct obj_head {
	ProtobufCMessage base;
	Shoal__Meta *meta;
};

int ctl_list_add(const void *obj, void *varg)
{
	struct ctl_list *l = varg;

	for (size_t i = 0; l->req && i < l->req->n_filters; i++) {
		Shoal__ListRequest__FiltersEntry *e = l->req->filters[i];
		int any = !e->value || e->value->n_values == 0;
		for (size_t j = 0; e->value && j < e->value->n_values && !any; j++)
			any = l->match(obj, e->key, e->value->values[j], l->arg);
		if (!any)
			return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = (void *) obj;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct obj_head *x = *(void *const *) a, *y = *(void *const *) b;

	return strcmp(x->meta->id, y->meta->id);
}

void ctl_list_sort(struct ctl_list *l)
{
	if (l->n)
		qsort(l->items, l->n, sizeof(*l->items), by_id);
}

/* ------------------------------------------------------------------------ */
/* Cluster                                                                   */

static void cluster_get(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	const Shoal__Cluster *cl = store_get_cluster(c->store);

	if (!cl)
		return ctl_reply_err(cb, arg, -SHOAL_ENOTSWARM,
				     "the swarm has no cluster object yet");
	ctl_reply_msg(cb, arg, &cl->base);
}

void ctl_cluster_spec_defaults(Shoal__ClusterSpec *s)
{
	if (s->orchestration && s->orchestration->task_history_retention_limit == 0)
		s->orchestration->task_history_retention_limit = 5;
	if (s->raft) {
		if (!s->raft->snapshot_interval)
			s->raft->snapshot_interval = 10000;
		if (!s->raft->log_entries_for_slow_followers)
			s->raft->log_entries_for_slow_followers = 500;
		if (!s->raft->election_tick)
			s->raft->election_tick = 10;
		if (!s->raft->heartbeat_tick)
			s->raft->heartbeat_tick = 1;
	}
	if (s->dispatcher && s->dispatcher->heartbeat_period == 0)
		s->dispatcher->heartbeat_period = 5LL * 1000000000LL;
	if (s->ca_config && s->ca_config->node_cert_expiry == 0)
		s->ca_config->node_cert_expiry = CA_DEFAULT_CERT_EXPIRY_NS;
}

static void cluster_update(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb,
			   void *arg)
{
	Shoal__ClusterUpdateRequest *req = shoal__cluster_update_request__unpack(NULL, len, body);
	const Shoal__Cluster *cur = store_get_cluster(c->store);
	Shoal__Cluster *next;
	struct ctl_batch b;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed cluster update request");
	if (!cur) {
		shoal__cluster_update_request__free_unpacked(req, NULL);
		return ctl_reply_err(cb, arg, -SHOAL_ENOTSWARM,
				     "the swarm has no cluster object yet");
	}
	if (req->version != cur->meta->version) {
		shoal__cluster_update_request__free_unpacked(req, NULL);
		return ctl_reply_err(cb, arg, -SHOAL_EVERSION,
				     "update out of sequence: the swarm changed since it was read");
	}
	next = store_dup_cluster(cur);
	if (req->spec) {
		/* The spec is replaced whole, as Docker does; the CA and tokens
		 * are not part of it. */
		shoal__cluster_spec__free_unpacked(next->spec, NULL);
		next->spec = req->spec;
		req->spec = NULL;
		ctl_cluster_spec_defaults(next->spec);
	}
	if (req->rotate_worker_token)
		ca_rotate_token(next, SEC_ROLE_WORKER);
	if (req->rotate_manager_token)
		ca_rotate_token(next, SEC_ROLE_MANAGER);
	{
		int autolock = next->spec && next->spec->encryption_config &&
			       next->spec->encryption_config->auto_lock_managers;
		if (autolock && (next->unlock_key.len != 32 || req->rotate_unlock_key)) {
			/* The key managers wrap their data key with; the operator
			 * keeps it (swarm unlock-key). */
			free(next->unlock_key.data);
			next->unlock_key.data = xmalloc(32);
			next->unlock_key.len = 32;
			randombytes_buf(next->unlock_key.data, 32);
		} else if (!autolock && next->unlock_key.len) {
			free(next->unlock_key.data);
			next->unlock_key.data = NULL;
			next->unlock_key.len = 0;
		}
	}
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		      next);
	ctl_propose(c, &b, cb, arg);
	store_cluster_free(next);
	shoal__cluster_update_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

int ctl_label_match(size_t n, Shoal__Annotations__LabelsEntry **labels, const char *want)
{
	const char *eq = strchr(want, '=');
	size_t klen = eq ? (size_t) (eq - want) : strlen(want);

	for (size_t i = 0; i < n; i++) {
		if (strlen(labels[i]->key) != klen || strncmp(labels[i]->key, want, klen) != 0)
			continue;
		if (!eq || strcmp(labels[i]->value, eq + 1) == 0)
			return 1;
	}
	return 0;
}

static int node_matches_one(const void *obj, const char *key, const char *v, const void *arg)
{
	const Shoal__Node *n = obj;
	const char *host = n->description ? n->description->hostname : "";
	const char *name = n->spec && n->spec->annotations ? n->spec->annotations->name : "";

	(void) arg;
	if (strcmp(key, "id") == 0)
		return strncmp(n->meta->id, v, strlen(v)) == 0;
	if (strcmp(key, "name") == 0)
		return strncmp(host, v, strlen(v)) == 0 ||
		       (name[0] && strncmp(name, v, strlen(v)) == 0);
	if (strcmp(key, "role") == 0)
		return strcasecmp(v, n->role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER
					 ? "manager"
					 : "worker") == 0;
	if (strcmp(key, "membership") == 0)
		return strcasecmp(v, "accepted") == 0;
	if (strcmp(key, "node.label") == 0)
		return n->spec && n->spec->annotations &&
		       ctl_label_match(n->spec->annotations->n_labels, n->spec->annotations->labels,
				       v);
	if (strcmp(key, "label") == 0)
		return n->description && n->description->engine &&
		       ctl_label_match(
			   n->description->engine->n_labels,
			   (Shoal__Annotations__LabelsEntry **) n->description->engine->labels, v);
	return 0;
}

static void node_list(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	static const char *const keys[] = {"id",    "name",	  "role", "membership",
					   "label", "node.label", NULL};
	Shoal__NodeListResponse resp = SHOAL__NODE_LIST_RESPONSE__INIT;
	Shoal__ListRequest *req = shoal__list_request__unpack(NULL, len, body);
	struct ctl_list l = {.req = req, .match = node_matches_one};

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed node list request");
	if (ctl_check_filters(req, keys, cb, arg) != 0) {
		shoal__list_request__free_unpacked(req, NULL);
		return;
	}
	store_foreach_node(c->store, ctl_list_add, &l);
	ctl_list_sort(&l);
	/* Borrowed: only packed, never freed through resp. */
	resp.nodes = (Shoal__Node **) l.items;
	resp.n_nodes = l.n;
	ctl_reply_msg(cb, arg, &resp.base);
	free(l.items);
	shoal__list_request__free_unpacked(req, NULL);
}

static const Shoal__Node *resolve_node(struct ctl *c, const char *ref, ctl_reply_fn cb, void *arg)
{
	const Shoal__Node *n = NULL;
	char msg[256];
	int rv = store_resolve_node(c->store, ref, &n, msg, sizeof(msg));

	if (rv) {
		/* Docker answers an ambiguous reference with 400, not 409. */
		ctl_reply_err(cb, arg, rv == -EEXIST ? -EINVAL : rv, "%s", msg);
		return NULL;
	}
	return n;
}

static void node_get(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const Shoal__Node *n;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed node request");
	n = resolve_node(c, req->ref, cb, arg);
	if (n)
		ctl_reply_msg(cb, arg, &n->base);
	shoal__ref_request__free_unpacked(req, NULL);
}

static void node_update(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__NodeUpdateRequest *req = shoal__node_update_request__unpack(NULL, len, body);
	const Shoal__Node *cur;
	Shoal__Node *next;
	struct ctl_batch b;

	if (!req || !req->spec)
		goto malformed;
	cur = resolve_node(c, req->ref, cb, arg);
	if (!cur)
		goto out;
	if (req->version != cur->meta->version) {
		ctl_reply_err(cb, arg, -SHOAL_EVERSION,
			      "update out of sequence: node %s changed since it was read",
			      cur->meta->id);
		goto out;
	}
	if (cur->spec && cur->spec->desired_role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER &&
	    req->spec->desired_role == SHOAL__NODE_ROLE__NODE_ROLE_WORKER &&
	    ctl_manager_count(c->store) <= 1) {
		ctl_reply_err(cb, arg, -EPERM,
			      "attempting to demote the last manager of the swarm");
		goto out;
	}
	next = store_dup_node(cur);
	shoal__node_spec__free_unpacked(next->spec, NULL);
	next->spec = req->spec;
	req->spec = NULL;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_NODE,
		      next);
	ctl_propose(c, &b, cb, arg);
	store_node_free(next);
	goto out;
malformed:
	ctl_reply_err(cb, arg, -EINVAL, "malformed node update request");
out:
	if (req)
		shoal__node_update_request__free_unpacked(req, NULL);
}

static void node_remove(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__NodeRemoveRequest *req = shoal__node_remove_request__unpack(NULL, len, body);
	const Shoal__Node *n;
	const Shoal__Cluster *cl = store_get_cluster(c->store);
	Shoal__Cluster *next_cl;
	struct ctl_batch b;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed node remove request");
	n = resolve_node(c, req->ref, cb, arg);
	if (!n)
		goto out;
	if (n->role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER ||
	    (n->spec && n->spec->desired_role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER)) {
		ctl_reply_err(
		    cb, arg, -EPERM,
		    "rpc error: code = FailedPrecondition desc = node %s is a cluster manager "
		    "and is a member of the raft cluster. It must be demoted to worker before "
		    "removal",
		    n->meta->id);
		goto out;
	}
	if (!req->force && n->status && n->status->state != SHOAL__NODE_STATE__NODE_STATE_DOWN) {
		ctl_reply_err(
		    cb, arg, -EPERM,
		    "rpc error: code = FailedPrecondition desc = node %s is not down and can't "
		    "be removed",
		    n->meta->id);
		goto out;
	}
	ctl_batch_init(&b);
	/* Remove the node and revoke its certificate in one entry. */
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__REMOVE, SHOAL__STORE_ACTION__TARGET_NODE,
		      (void *) n);
	next_cl = cl ? store_dup_cluster(cl) : NULL;
	if (next_cl) {
		ca_revoke(next_cl, n->meta->id, n->cert_serial,
			  n->cert_not_after ? n->cert_not_after : INT64_MAX / 2,
			  (int64_t) time(NULL));
		ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE,
			      SHOAL__STORE_ACTION__TARGET_CLUSTER, next_cl);
	}
	ctl_propose(c, &b, cb, arg);
	store_cluster_free(next_cl);
out:
	shoal__node_remove_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------------ */

typedef void (*method_fn)(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb,
			  void *arg);

static const struct {
	const char *name;
	method_fn fn;
} methods[] = {
    {"cluster.get", cluster_get},
    {"cluster.update", cluster_update},
    {"node.list", node_list},
    {"node.get", node_get},
    {"node.update", node_update},
    {"node.remove", node_remove},
    {"secret.create", ctl_secret_create},
    {"secret.list", ctl_secret_list},
    {"secret.get", ctl_secret_get},
    {"secret.update", ctl_secret_update},
    {"secret.remove", ctl_secret_remove},
    {"config.create", ctl_config_create},
    {"config.list", ctl_config_list},
    {"config.get", ctl_config_get},
    {"config.update", ctl_config_update},
    {"config.remove", ctl_config_remove},
    {"service.create", ctl_service_create},
    {"service.list", ctl_service_list},
    {"service.get", ctl_service_get},
    {"service.update", ctl_service_update},
    {"service.remove", ctl_service_remove},
    {"task.list", ctl_task_list},
    {"task.get", ctl_task_get},
};

void ctl_call(struct ctl *c, const char *method, const uint8_t *body, size_t len, ctl_reply_fn cb,
	      void *arg)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, method) == 0)
			return methods[i].fn(c, body, len, cb, arg);
	ctl_reply_err(cb, arg, -SHOAL_ENOMETHOD, "unknown control method %s", method);
}
