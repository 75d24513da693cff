/* controlapi and dispatcher on a real store with a synchronous proposer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "manager/ca/ca.h"
#include "tests/unit/test_ctl.h"

static void noop_done(void *arg, int status, const struct store_result *res)
{
	cr_assert_eq(status, 0);
	cr_assert_eq(res->err, 0, "%s", res->msg);
}

static char node_ids[4][ID_LEN + 1];

static void add_node(int i, int manager, Shoal__NodeState state)
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	Shoal__NodeStatus status = SHOAL__NODE_STATUS__INIT;
	Shoal__NodeDescription desc = SHOAL__NODE_DESCRIPTION__INIT;
	struct ctl_batch b;
	char host[16];

	id_new(node_ids[i]);
	snprintf(host, sizeof(host), "host%d", i);
	meta.id = node_ids[i];
	n.meta = &meta;
	spec.desired_role = manager ? SHOAL__NODE_ROLE__NODE_ROLE_MANAGER : 0;
	n.spec = &spec;
	n.role = spec.desired_role;
	status.state = state;
	n.status = &status;
	desc.hostname = host;
	n.description = &desc;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_NODE, &n);
	sync_propose(NULL, &b.b, noop_done, NULL);
}

static void setup(void)
{
	Shoal__Cluster cl = SHOAL__CLUSTER__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	struct ctl_batch b;
	char cid[ID_LEN + 1];

	ctl_fixture_init();
	id_new(cid);
	meta.id = cid;
	cl.meta = &meta;
	cr_assert_eq(ca_bootstrap(&cl, cid), 0);
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_CLUSTER,
		      &cl);
	sync_propose(NULL, &b.b, noop_done, NULL);
	cl.meta = NULL;
	shoal__root_ca__free_unpacked(cl.root_ca, NULL);
}

TestSuite(ctl, .init = setup, .fini = ctl_fixture_fini);

static Shoal__Node *get_node(const char *ref, struct reply *out)
{
	Shoal__RefRequest r = SHOAL__REF_REQUEST__INIT;

	r.ref = (char *) ref;
	*out = call("node.get", &r.base);
	if (out->status)
		return NULL;
	return shoal__node__unpack(NULL, out->len, out->body);
}

Test(ctl, node_get_resolves_id_name_and_prefix)
{
	struct reply r;
	Shoal__Node *n;
	char prefix[6];

	add_node(0, 1, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(1, 0, SHOAL__NODE_STATE__NODE_STATE_READY);
	n = get_node(node_ids[1], &r);
	cr_assert_not_null(n, "%s", r.msg);
	cr_expect_str_eq(n->description->hostname, "host1");
	shoal__node__free_unpacked(n, NULL);
	n = get_node("host0", &r);
	cr_assert_not_null(n, "%s", r.msg);
	cr_expect_str_eq(n->meta->id, node_ids[0]);
	shoal__node__free_unpacked(n, NULL);
	memcpy(prefix, node_ids[1], 5);
	prefix[5] = 0;
	n = get_node(prefix, &r);
	cr_assert_not_null(n, "%s", r.msg);
	shoal__node__free_unpacked(n, NULL);
	cr_expect_null(get_node("nosuchnode", &r));
	cr_expect_eq(r.status, -ENOENT);
	cr_expect(strstr(r.msg, "nosuchnode") != NULL, "msg: %s", r.msg);
}

Test(ctl, node_update_checks_version_and_last_manager)
{
	Shoal__NodeUpdateRequest u = SHOAL__NODE_UPDATE_REQUEST__INIT;
	Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
	struct reply r;
	Shoal__Node *n;

	add_node(0, 1, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(1, 0, SHOAL__NODE_STATE__NODE_STATE_READY);
	n = get_node(node_ids[1], &r);
	cr_assert_not_null(n);
	spec.availability = SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN;
	u.ref = node_ids[1];
	u.spec = &spec;
	u.version = n->meta->version - 1;
	r = call("node.update", &u.base);
	cr_expect_eq(r.status, -SHOAL_EVERSION);
	cr_expect(strstr(r.msg, "update out of sequence") != NULL, "msg: %s", r.msg);
	u.version = n->meta->version;
	r = call("node.update", &u.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	shoal__node__free_unpacked(n, NULL);
	n = get_node(node_ids[1], &r);
	cr_expect_eq(n->spec->availability, SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN);
	shoal__node__free_unpacked(n, NULL);

	/* Demoting the only manager is refused. */
	n = get_node(node_ids[0], &r);
	spec.availability = 0;
	spec.desired_role = SHOAL__NODE_ROLE__NODE_ROLE_WORKER;
	u.ref = node_ids[0];
	u.version = n->meta->version;
	r = call("node.update", &u.base);
	cr_expect_eq(r.status, -EPERM);
	cr_expect(strstr(r.msg, "last manager") != NULL, "msg: %s", r.msg);
	shoal__node__free_unpacked(n, NULL);
}

Test(ctl, node_remove_rules_and_revocation)
{
	Shoal__NodeRemoveRequest rm = SHOAL__NODE_REMOVE_REQUEST__INIT;
	struct reply r;
	const Shoal__Cluster *cl;

	add_node(0, 1, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(1, 0, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(2, 0, SHOAL__NODE_STATE__NODE_STATE_DOWN);
	rm.ref = node_ids[0];
	r = call("node.remove", &rm.base);
	cr_expect_eq(r.status, -EPERM);
	cr_expect(strstr(r.msg, "must be demoted") != NULL, "msg: %s", r.msg);
	rm.ref = node_ids[1];
	r = call("node.remove", &rm.base);
	cr_expect_eq(r.status, -EPERM);
	cr_expect(strstr(r.msg, "is not down") != NULL, "msg: %s", r.msg);
	rm.force = 1;
	r = call("node.remove", &rm.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	rm.force = 0;
	rm.ref = node_ids[2];
	r = call("node.remove", &rm.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_null(store_get_node(st, node_ids[1]));
	cr_expect_null(store_get_node(st, node_ids[2]));
	cl = store_get_cluster(st);
	struct sec_cert cert = {0};
	strcpy(cert.node_id, node_ids[1]);
	cr_expect(ca_is_revoked(cl, &cert), "removed node not revoked");
	strcpy(cert.node_id, node_ids[0]);
	cr_expect_not(ca_is_revoked(cl, &cert));
}

Test(ctl, node_list_filters_and_unknown_filter)
{
	Shoal__ListRequest lr = SHOAL__LIST_REQUEST__INIT;
	Shoal__ListRequest__FiltersEntry e = SHOAL__LIST_REQUEST__FILTERS_ENTRY__INIT, *ep = &e;
	Shoal__FilterValues fv = SHOAL__FILTER_VALUES__INIT;
	char *vals[1] = {"manager"};
	Shoal__NodeListResponse *resp;
	struct reply r;

	add_node(0, 1, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(1, 0, SHOAL__NODE_STATE__NODE_STATE_READY);
	add_node(2, 0, SHOAL__NODE_STATE__NODE_STATE_READY);
	r = call("node.list", &lr.base);
	resp = shoal__node_list_response__unpack(NULL, r.len, r.body);
	cr_assert_not_null(resp);
	cr_expect_eq(resp->n_nodes, 3);
	shoal__node_list_response__free_unpacked(resp, NULL);
	fv.values = vals;
	fv.n_values = 1;
	e.key = "role";
	e.value = &fv;
	lr.filters = &ep;
	lr.n_filters = 1;
	r = call("node.list", &lr.base);
	resp = shoal__node_list_response__unpack(NULL, r.len, r.body);
	cr_assert_not_null(resp);
	cr_expect_eq(resp->n_nodes, 1);
	cr_expect_str_eq(resp->nodes[0]->meta->id, node_ids[0]);
	shoal__node_list_response__free_unpacked(resp, NULL);
	e.key = "colour";
	r = call("node.list", &lr.base);
	cr_expect_eq(r.status, -EINVAL);
	cr_expect_str_eq(r.msg, "invalid filter 'colour'");
}

Test(ctl, cluster_update_rotates_tokens_and_unlock_key)
{
	Shoal__ClusterUpdateRequest u = SHOAL__CLUSTER_UPDATE_REQUEST__INIT;
	Shoal__Empty e = SHOAL__EMPTY__INIT;
	struct reply r;
	Shoal__Cluster *cl;
	char worker[128], manager[128];

	r = call("cluster.get", &e.base);
	cl = shoal__cluster__unpack(NULL, r.len, r.body);
	cr_assert_not_null(cl);
	strcpy(worker, cl->root_ca->join_tokens->worker);
	strcpy(manager, cl->root_ca->join_tokens->manager);
	u.version = cl->meta->version + 7;
	u.rotate_worker_token = 1;
	r = call("cluster.update", &u.base);
	cr_expect_eq(r.status, -SHOAL_EVERSION);
	u.version = cl->meta->version;
	r = call("cluster.update", &u.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	shoal__cluster__free_unpacked(cl, NULL);
	cr_expect_str_neq(store_get_cluster(st)->root_ca->join_tokens->worker, worker);
	cr_expect_str_eq(store_get_cluster(st)->root_ca->join_tokens->manager, manager);

	/* Autolock on creates an unlock key; off removes it. */
	Shoal__ClusterSpec spec = SHOAL__CLUSTER_SPEC__INIT;
	Shoal__EncryptionConfig enc = SHOAL__ENCRYPTION_CONFIG__INIT;
	enc.auto_lock_managers = 1;
	spec.encryption_config = &enc;
	u.spec = &spec;
	u.rotate_worker_token = 0;
	u.version = store_get_cluster(st)->meta->version;
	r = call("cluster.update", &u.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_eq(store_get_cluster(st)->unlock_key.len, 32);
	enc.auto_lock_managers = 0;
	u.version = store_get_cluster(st)->meta->version;
	r = call("cluster.update", &u.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_eq(store_get_cluster(st)->unlock_key.len, 0);
}

Test(ctl, unknown_method)
{
	struct reply r = {0};

	ctl_call(&c, "node.fly", NULL, 0, on_reply, &r);
	cr_expect_eq(r.status, -SHOAL_ENOMETHOD);
}

static struct reply create_secret(const char *name, const char *data)
{
	Shoal__SecretSpec spec = SHOAL__SECRET_SPEC__INIT;
	Shoal__Annotations a = SHOAL__ANNOTATIONS__INIT;

	a.name = (char *) name;
	spec.annotations = &a;
	spec.data.data = (uint8_t *) data;
	spec.data.len = strlen(data);
	return call("secret.create", &spec.base);
}

Test(ctl, secrets_create_validate_update_labels_and_remove)
{
	struct reply r;
	Shoal__CreateResponse *cr;
	Shoal__RefRequest ref = SHOAL__REF_REQUEST__INIT;
	char id[ID_LEN + 1];

	r = create_secret("db_pass", "s3cr3t");
	cr_assert_eq(r.status, 0, "%s", r.msg);
	cr = shoal__create_response__unpack(NULL, r.len, r.body);
	cr_assert_not_null(cr);
	strcpy(id, cr->id);
	shoal__create_response__free_unpacked(cr, NULL);
	cr_expect_not_null(store_get_secret(st, id));

	r = create_secret("db_pass", "other");
	cr_expect_eq(r.status, -EEXIST, "%s", r.msg);
	r = create_secret("bad name", "x");
	cr_expect_eq(r.status, -EINVAL);
	cr_expect(strstr(r.msg, "invalid name") != NULL, "msg: %s", r.msg);
	r = create_secret("empty", "");
	cr_expect_eq(r.status, -EINVAL);
	cr_expect(strstr(r.msg, "larger than 0") != NULL, "msg: %s", r.msg);
	{
		static char big[500 * 1024 + 1];
		memset(big, 'x', sizeof(big) - 1);
		r = create_secret("big", big);
		cr_expect_eq(r.status, -EINVAL, "a 500 KiB secret must be refused");
	}

	/* Labels may change; the data may not. */
	Shoal__SecretUpdateRequest u = SHOAL__SECRET_UPDATE_REQUEST__INIT;
	Shoal__SecretSpec spec = SHOAL__SECRET_SPEC__INIT;
	Shoal__Annotations a = SHOAL__ANNOTATIONS__INIT;
	Shoal__Annotations__LabelsEntry e = SHOAL__ANNOTATIONS__LABELS_ENTRY__INIT, *ep = &e;
	a.name = "db_pass";
	e.key = "env";
	e.value = "prod";
	a.labels = &ep;
	a.n_labels = 1;
	spec.annotations = &a;
	u.ref = id;
	u.spec = &spec;
	u.version = store_get_secret(st, id)->meta->version;
	r = call("secret.update", &u.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_eq(store_get_secret(st, id)->spec->annotations->n_labels, 1);
	spec.data.data = (uint8_t *) "changed";
	spec.data.len = 7;
	u.version = store_get_secret(st, id)->meta->version;
	r = call("secret.update", &u.base);
	cr_expect_eq(r.status, -EINVAL);
	cr_expect_str_eq(r.msg, "only updates to Labels are allowed");

	ref.ref = "db_pass";
	r = call("secret.remove", &ref.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_null(store_get_secret(st, id));
	r = call("secret.remove", &ref.base);
	cr_expect_eq(r.status, -ENOENT);
}
