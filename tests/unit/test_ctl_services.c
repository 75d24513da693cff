/* controlapi services and tasks on a real store with a synchronous proposer:
 * swarmkit's validation messages, Docker's defaults, versions, filters,
 * ServiceStatus, and secrets refused while in use. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "common/id.h"
#include "tests/unit/test_ctl.h"

static void apply(Shoal__StoreAction__Kind kind, Shoal__StoreAction__TargetCase target, void *obj)
{
	struct ctl_batch b;
	struct store_result res;

	ctl_batch_init(&b);
	ctl_batch_add(&b, kind, target, obj);
	cr_assert_eq(store_apply_batch(st, &b.b, ++next_index, &res), 0);
	cr_assert_eq(res.err, 0, "%s", res.msg);
}

TestSuite(ctl_services, .init = ctl_fixture_init, .fini = ctl_fixture_fini, .timeout = 60);

/* A spec on the stack: fill, then tweak fields before calling. */
struct spec {
	Shoal__ServiceSpec s;
	Shoal__Annotations a;
	Shoal__TaskSpec t;
	Shoal__ContainerSpec c;
	Shoal__ReplicatedService rep;
};

static void spec_init(struct spec *x, const char *name, const char *image, uint64_t replicas)
{
	shoal__service_spec__init(&x->s);
	shoal__annotations__init(&x->a);
	shoal__task_spec__init(&x->t);
	shoal__container_spec__init(&x->c);
	shoal__replicated_service__init(&x->rep);
	x->a.name = (char *) name;
	x->c.image = (char *) image;
	x->rep.replicas = replicas;
	x->s.annotations = &x->a;
	x->s.task = &x->t;
	x->t.container = &x->c;
	x->s.replicated = &x->rep;
	x->s.mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED;
}

static struct reply create(struct spec *x)
{
	return call("service.create", &x->s.base);
}

/* Creates the service of `x`, asserting success; its id in `id`, the stored service returned. */
static const Shoal__Service *create_spec_ok(struct spec *x, char id[ID_LEN + 1])
{
	struct reply r = create(x);
	Shoal__CreateResponse *cr;
	const Shoal__Service *s;

	cr_assert_eq(r.status, 0, "create %s: %s", x->a.name, r.msg);
	cr = shoal__create_response__unpack(NULL, r.len, r.body);
	cr_assert_not_null(cr);
	strcpy(id, cr->id);
	shoal__create_response__free_unpacked(cr, NULL);
	s = store_get_service(st, id);
	cr_assert_not_null(s);
	return s;
}

/* Creates a valid service, returns its id in `id`. */
static void create_ok(const char *name, uint64_t replicas, char id[ID_LEN + 1])
{
	struct spec x;

	spec_init(&x, name, "busybox", replicas);
	create_spec_ok(&x, id);
}

static void expect_refused(struct spec *x, int status, const char *msg)
{
	struct reply r = create(x);

	cr_expect_eq(r.status, status, "want %d got %d (%s)", status, r.status, r.msg);
	cr_expect_str_eq(r.msg, msg);
}

Test(ctl_services, create_validation_messages)
{
	struct spec x;
	Shoal__RestartPolicy rp = SHOAL__RESTART_POLICY__INIT;
	Shoal__UpdateConfig uc = SHOAL__UPDATE_CONFIG__INIT;
	Shoal__Mount m1 = SHOAL__MOUNT__INIT, m2 = SHOAL__MOUNT__INIT, *mounts[] = {&m1, &m2};
	Shoal__ResourceRequirements rr = SHOAL__RESOURCE_REQUIREMENTS__INIT;
	Shoal__Resources lim = SHOAL__RESOURCES__INIT;

	spec_init(&x, "web", "", 1);
	expect_refused(&x, -EINVAL, "ContainerSpec: image reference must be provided");
	spec_init(&x, "web", "Busy Box", 1);
	expect_refused(&x, -EINVAL, "ContainerSpec: \"Busy Box\" is not a valid repository/tag");
	spec_init(&x, "-web", "busybox", 1);
	expect_refused(&x, -EINVAL, "name must be valid as a DNS name component");
	spec_init(&x, "web_", "busybox", 1);
	expect_refused(&x, -EINVAL, "name must be valid as a DNS name component");
	spec_init(&x, "a234567890123456789012345678901234567890123456789012345678901234", "busybox",
		  1);
	expect_refused(&x, -EINVAL, "name must be 63 characters or fewer");
	spec_init(&x, "", "busybox", 1);
	expect_refused(&x, -EINVAL, "meta: name must be provided");

	spec_init(&x, "web", "busybox", 1);
	rp.opt_delay_case = SHOAL__RESTART_POLICY__OPT_DELAY_DELAY;
	rp.delay = -1;
	x.t.restart = &rp;
	expect_refused(&x, -EINVAL, "TaskSpec: restart-delay cannot be negative");

	spec_init(&x, "web", "busybox", 1);
	uc.max_failure_ratio = 1.5f;
	x.s.update = &uc;
	expect_refused(&x, -EINVAL,
		       "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
	uc.max_failure_ratio = 0;
	uc.delay = -5;
	x.s.update = NULL;
	x.s.rollback = &uc;
	expect_refused(&x, -EINVAL, "TaskSpec: rollback-delay cannot be negative");

	spec_init(&x, "web", "busybox", 1);
	m1.type = m2.type = SHOAL__MOUNT__TYPE__TMPFS;
	m1.target = m2.target = "/data";
	x.c.mounts = mounts;
	x.c.n_mounts = 2;
	expect_refused(&x, -EINVAL, "ContainerSpec: duplicate mount point: /data");
	m2.target = "relative";
	expect_refused(&x, -EINVAL,
		       "invalid mount config for type \"tmpfs\": invalid mount path: 'relative' "
		       "mount path must be absolute");

	spec_init(&x, "web", "busybox", 1);
	lim.nano_cpus = 1000;
	rr.limits = &lim;
	x.t.resources = &rr;
	expect_refused(&x, -EINVAL, "invalid cpu value 1e-06: Must be at least 0.001");
	lim.nano_cpus = 0;
	lim.memory_bytes = 1024;
	expect_refused(&x, -EINVAL, "invalid memory value 1024: Must be at least 4MiB");

	cr_expect_eq(store_count(st, STORE_SERVICE), 0, "a refused spec was stored");
}

/* Stores a secret or a config (`target`) named `name`, with data "x". */
static void add_blob(Shoal__StoreAction__TargetCase target, const char *name, char id[ID_LEN + 1])
{
	Shoal__Secret sec = SHOAL__SECRET__INIT;
	Shoal__SecretSpec sspec = SHOAL__SECRET_SPEC__INIT;
	Shoal__Config cfg = SHOAL__CONFIG__INIT;
	Shoal__ConfigSpec cspec = SHOAL__CONFIG_SPEC__INIT;
	Shoal__Meta m = SHOAL__META__INIT;
	Shoal__Annotations a = SHOAL__ANNOTATIONS__INIT;
	ProtobufCBinaryData data = {1, (uint8_t *) "x"};

	id_new(id);
	m.id = id;
	a.name = (char *) name;
	sspec.annotations = cspec.annotations = &a;
	sspec.data = cspec.data = data;
	sec.meta = cfg.meta = &m;
	sec.spec = &sspec;
	cfg.spec = &cspec;
	apply(SHOAL__STORE_ACTION__KIND__CREATE, target,
	      target == SHOAL__STORE_ACTION__TARGET_SECRET ? (void *) &sec : (void *) &cfg);
}

static void add_secret(const char *name, char id[ID_LEN + 1])
{
	add_blob(SHOAL__STORE_ACTION__TARGET_SECRET, name, id);
}

static void add_config(const char *name, char id[ID_LEN + 1])
{
	add_blob(SHOAL__STORE_ACTION__TARGET_CONFIG, name, id);
}

Test(ctl_services, configs_checked_like_secrets_but_may_be_runtime_targets)
{
	char site[ID_LEN + 1], app[ID_LEN + 1], sid[ID_LEN + 1];
	struct spec x;
	Shoal__ConfigReference r1 = SHOAL__CONFIG_REFERENCE__INIT,
			       r2 = SHOAL__CONFIG_REFERENCE__INIT,
			       r3 = SHOAL__CONFIG_REFERENCE__INIT;
	Shoal__ConfigReference *refs[] = {&r1, &r2, &r3};
	Shoal__FileTarget f1 = SHOAL__FILE_TARGET__INIT, f2 = SHOAL__FILE_TARGET__INIT;
	const Shoal__Service *s;

	add_config("site.conf", site);
	add_config("app.conf", app);
	spec_init(&x, "web", "busybox", 1);
	x.c.configs = refs;
	x.c.n_configs = 2;
	r1.config_name = "site.conf";
	r1.file = &f1;
	f1.name = "/etc/site.conf";
	r2.config_name = "nope";
	r2.file = &f2;
	f2.name = "/etc/site.conf";
	expect_refused(&x, -EINVAL,
		       "config references 'site.conf' and 'nope' have a conflicting target: "
		       "'/etc/site.conf'");
	f2.name = "";
	expect_refused(&x, -EINVAL,
		       "malformed file config reference, invalid target file name provided");
	r2.file = NULL; /* a runtime target: no file, no conflict */
	x.c.n_configs = 3;
	r3.config_name = "gone";
	expect_refused(&x, -EINVAL, "configs not found: nope, gone");
	r3.config_name = "";
	expect_refused(&x, -EINVAL, "malformed config reference");
	r3.config_id = site; /* by id: the name is filled in */
	r2.config_name = "app.conf";

	s = create_spec_ok(&x, sid);
	cr_expect_str_eq(s->spec->task->container->configs[0]->config_id, site);
	cr_expect_str_eq(s->spec->task->container->configs[1]->config_id, app);
	cr_expect_null(s->spec->task->container->configs[1]->file);
	cr_expect_str_eq(s->spec->task->container->configs[2]->config_name, "site.conf");
}

Test(ctl_services, secrets_resolved_checked_and_in_use)
{
	char pw[ID_LEN + 1], key[ID_LEN + 1], sid[ID_LEN + 1];
	struct spec x;
	Shoal__SecretReference r1 = SHOAL__SECRET_REFERENCE__INIT,
			       r2 = SHOAL__SECRET_REFERENCE__INIT;
	Shoal__SecretReference *refs[] = {&r1, &r2};
	Shoal__FileTarget f1 = SHOAL__FILE_TARGET__INIT, f2 = SHOAL__FILE_TARGET__INIT;
	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;
	struct reply r;

	add_secret("pw", pw);
	add_secret("key", key);
	spec_init(&x, "web", "busybox", 1);
	x.c.secrets = refs;
	x.c.n_secrets = 2;
	r1.secret_name = "pw";
	r1.file = &f1;
	f1.name = "pw";
	r2.secret_name = "nope";
	r2.file = &f2;
	f2.name = "pw";
	expect_refused(&x, -EINVAL,
		       "secret references 'pw' and 'nope' have a conflicting target: "
		       "'pw'");
	f2.name = "other";
	expect_refused(&x, -EINVAL, "secret not found: nope");
	r2.secret_name = "key";
	r2.secret_id = pw; /* id and name disagree */
	expect_refused(&x, -EINVAL, "secret not found: key");
	r2.secret_id = "";
	r2.file = NULL;
	expect_refused(&x, -EINVAL, "malformed secret reference, no target provided");
	r2.file = &f2;

	/* Names alone resolve to ids, as the docker CLI's would. */
	const Shoal__Service *s = create_spec_ok(&x, sid);
	cr_expect_str_eq(s->spec->task->container->secrets[0]->secret_id, pw);
	cr_expect_str_eq(s->spec->task->container->secrets[1]->secret_id, key);

	rr.ref = "pw";
	r = call("secret.remove", &rr.base);
	cr_expect_eq(r.status, -EINVAL);
	cr_expect_str_eq(r.msg, "secret 'pw' is in use by the following service: web");
	rr.ref = "web";
	r = call("service.remove", &rr.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect_null(store_get_service(st, sid));
	r = call("service.remove", &rr.base);
	cr_expect_eq(r.status, -ENOENT);
	cr_expect_str_eq(r.msg, "service web not found");
	rr.ref = "pw";
	r = call("secret.remove", &rr.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
}

Test(ctl_services, defaults_stored_and_name_conflict)
{
	char id[ID_LEN + 1];
	struct spec x;
	struct reply r;
	const Shoal__Service *s;

	spec_init(&x, "web", "busybox", 1);
	x.s.replicated = NULL;
	x.s.mode_case = SHOAL__SERVICE_SPEC__MODE__NOT_SET;
	s = create_spec_ok(&x, id);
	cr_expect_eq(s->spec->mode_case, SHOAL__SERVICE_SPEC__MODE_REPLICATED);
	cr_expect_eq(s->spec->replicated->replicas, 1);
	cr_expect_eq(s->spec->task->restart->condition, SHOAL__RESTART_POLICY__CONDITION__ANY);
	cr_expect_eq(s->spec->task->restart->delay, 5000000000LL);
	cr_expect_eq(s->spec->task->container->stop_grace_period, 10000000000LL);
	cr_expect_eq(s->spec->update->parallelism, 1);
	cr_expect_eq(s->spec->update->monitor, 5000000000LL);
	cr_expect_eq(s->spec->rollback->failure_action,
		     SHOAL__UPDATE_CONFIG__FAILURE_ACTION__PAUSE);
	cr_expect_not_null(s->spec->endpoint);
	cr_expect_lt(s->spec_version, s->meta->version);

	spec_init(&x, "WEB", "busybox", 3);
	r = create(&x);
	cr_expect_eq(r.status, -EEXIST);
	cr_expect_str_eq(r.msg,
			 "name conflicts with an existing object: service WEB already exists");
}

static Shoal__Service *get(const char *ref, struct reply *r)
{
	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;

	rr.ref = (char *) ref;
	*r = call("service.get", &rr.base);
	return r->status ? NULL : shoal__service__unpack(NULL, r->len, r->body);
}

Test(ctl_services, update_versions_previous_spec_and_rollback)
{
	char id[ID_LEN + 1];
	Shoal__ServiceUpdateRequest u = SHOAL__SERVICE_UPDATE_REQUEST__INIT;
	Shoal__Service *s;
	struct reply r;
	uint64_t sv;

	create_ok("web", 2, id);
	s = get("web", &r);
	cr_assert_not_null(s, "%s", r.msg);
	sv = s->spec_version;
	u.ref = "web";

	/* The same spec: no new spec version, no previous spec. */
	u.spec = s->spec;
	u.version = s->meta->version;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	cr_expect_eq(store_get_service(st, id)->spec_version, sv);
	cr_expect_null(store_get_service(st, id)->previous_spec);

	/* Stale version. */
	r = call("service.update", &u.base);
	cr_expect_eq(r.status, -SHOAL_EVERSION);
	cr_expect(strstr(r.msg, "update out of sequence") == r.msg, "msg: %s", r.msg);

	/* A real change: replicas 2 -> 5. */
	s->spec->replicated->replicas = 5;
	u.version = store_get_service(st, id)->meta->version;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	const Shoal__Service *now = store_get_service(st, id);
	cr_expect_gt(now->spec_version, sv);
	cr_expect_eq(now->spec->replicated->replicas, 5);
	cr_assert_not_null(now->previous_spec);
	cr_expect_eq(now->previous_spec->replicated->replicas, 2);
	cr_expect_eq(now->previous_spec_version, sv);

	/* Renames and mode changes are refused. */
	u.version = now->meta->version;
	s->spec->annotations->name[0] = 'x';
	r = call("service.update", &u.base);
	cr_expect_eq(r.status, -EINVAL);
	cr_expect_str_eq(r.msg, "renaming services is not supported");
	s->spec->annotations->name[0] = 'w';

	/* Rollback swaps the specs back. */
	u.spec = NULL;
	u.rollback = 1;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	now = store_get_service(st, id);
	cr_expect_eq(now->spec->replicated->replicas, 2);
	cr_expect_eq(now->spec_version, sv);
	cr_expect_eq(now->previous_spec->replicated->replicas, 5);
	cr_assert_not_null(now->update_status);
	cr_expect_eq(now->update_status->state, SHOAL__UPDATE_STATUS__STATE__ROLLBACK_STARTED);
	shoal__service__free_unpacked(s, NULL);

	cr_expect_null(get("nosuch", &r));
	cr_expect_eq(r.status, -ENOENT);
	cr_expect_str_eq(r.msg, "service nosuch not found");
}

static void add_task(const char *service_id, const char *svc_name, uint64_t slot, const char *node,
		     Shoal__TaskState state, Shoal__TaskState desired, int same_spec,
		     char id[ID_LEN + 1])
{
	const Shoal__Service *s = store_get_service(st, service_id);
	Shoal__Task t = SHOAL__TASK__INIT;
	Shoal__Meta m = SHOAL__META__INIT;
	Shoal__TaskStatus ts = SHOAL__TASK_STATUS__INIT;
	Shoal__Annotations sa = SHOAL__ANNOTATIONS__INIT;
	Shoal__TaskSpec other = SHOAL__TASK_SPEC__INIT;

	id_new(id);
	m.id = id;
	t.meta = &m;
	t.service_id = (char *) service_id;
	sa.name = (char *) svc_name;
	t.service_annotations = &sa;
	t.slot = slot;
	t.node_id = (char *) node;
	ts.state = state;
	t.status = &ts;
	t.desired_state = desired;
	t.spec = same_spec ? s->spec->task : &other;
	t.spec_version = same_spec ? s->spec_version : 0;
	apply(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_TASK, &t);
}

static void add_node(const char *host, int down, char id[ID_LEN + 1])
{
	Shoal__Node n = SHOAL__NODE__INIT;
	Shoal__Meta m = SHOAL__META__INIT;
	Shoal__NodeStatus ns = SHOAL__NODE_STATUS__INIT;
	Shoal__NodeDescription d = SHOAL__NODE_DESCRIPTION__INIT;

	id_new(id);
	m.id = id;
	n.meta = &m;
	ns.state = down ? SHOAL__NODE_STATE__NODE_STATE_DOWN : SHOAL__NODE_STATE__NODE_STATE_READY;
	n.status = &ns;
	d.hostname = (char *) host;
	n.description = &d;
	apply(SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_NODE, &n);
}

/* A ListRequest with one filter key and up to two values. */
struct filt {
	Shoal__ListRequest lr;
	Shoal__ListRequest__FiltersEntry e, *ep;
	Shoal__FilterValues fv;
	char *vals[2];
};

static Shoal__ListRequest *filter(struct filt *f, const char *key, const char *v)
{
	shoal__list_request__init(&f->lr);
	shoal__list_request__filters_entry__init(&f->e);
	shoal__filter_values__init(&f->fv);
	f->ep = &f->e;
	f->e.key = (char *) key;
	f->e.value = &f->fv;
	f->vals[0] = (char *) v;
	f->fv.values = f->vals;
	f->fv.n_values = v ? 1 : 0;
	f->lr.filters = &f->ep;
	f->lr.n_filters = 1;
	return &f->lr;
}

static size_t count_tasks(Shoal__ListRequest *lr, struct reply *r)
{
	Shoal__TaskListResponse *resp;
	size_t n;

	*r = call("task.list", &lr->base);
	if (r->status)
		return (size_t) -1;
	resp = shoal__task_list_response__unpack(NULL, r->len, r->body);
	cr_assert_not_null(resp);
	n = resp->n_tasks;
	shoal__task_list_response__free_unpacked(resp, NULL);
	return n;
}

Test(ctl_services, list_filters_status_and_task_filters)
{
	char web[ID_LEN + 1], db[ID_LEN + 1], n1[ID_LEN + 1], n2[ID_LEN + 1], t[ID_LEN + 1];
	Shoal__ServiceListRequest slr = SHOAL__SERVICE_LIST_REQUEST__INIT;
	Shoal__ServiceListResponse *resp;
	struct filt f;
	struct reply r;

	add_node("host1", 0, n1);
	add_node("host2", 1, n2);
	create_ok("web", 3, web);
	create_ok("db", 1, db);
	add_task(web, "web", 1, n1, SHOAL__TASK_STATE__TASK_STATE_RUNNING,
		 SHOAL__TASK_STATE__TASK_STATE_RUNNING, 1, t);
	add_task(web, "web", 2, n1, SHOAL__TASK_STATE__TASK_STATE_RUNNING,
		 SHOAL__TASK_STATE__TASK_STATE_SHUTDOWN, 1, t);
	add_task(web, "web", 3, n2, SHOAL__TASK_STATE__TASK_STATE_PENDING,
		 SHOAL__TASK_STATE__TASK_STATE_RUNNING, 0, t);

	slr.list = filter(&f, "name", "we");
	slr.status = 1;
	r = call("service.list", &slr.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	resp = shoal__service_list_response__unpack(NULL, r.len, r.body);
	cr_assert_eq(resp->n_services, 1);
	cr_assert_eq(resp->n_statuses, 1);
	cr_expect_str_eq(resp->services[0]->meta->id, web);
	cr_expect_eq(resp->statuses[0]->running_tasks, 1);
	cr_expect_eq(resp->statuses[0]->desired_tasks, 3);
	shoal__service_list_response__free_unpacked(resp, NULL);

	slr.list = filter(&f, "mode", "global");
	slr.status = 0;
	r = call("service.list", &slr.base);
	resp = shoal__service_list_response__unpack(NULL, r.len, r.body);
	cr_expect_eq(resp->n_services, 0);
	cr_expect_eq(resp->n_statuses, 0);
	shoal__service_list_response__free_unpacked(resp, NULL);
	slr.list = filter(&f, "mode", "sideways");
	r = call("service.list", &slr.base);
	cr_expect_eq(r.status, -EINVAL);
	cr_expect_str_eq(r.msg, "Invalid filter: 'mode'='sideways'");
	slr.list = filter(&f, "colour", "red");
	r = call("service.list", &slr.base);
	cr_expect_str_eq(r.msg, "invalid filter 'colour'");

	/* Tasks: service by name, node by hostname, desired state, _up-to-date. */
	cr_expect_eq(count_tasks(filter(&f, "service", "web"), &r), 3, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "service", db), &r), 0, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "service", "nosuch"), &r), (size_t) -1);
	cr_expect_eq(r.status, -ENOENT);
	cr_expect_str_eq(r.msg, "service nosuch not found");
	cr_expect_eq(count_tasks(filter(&f, "node", "host1"), &r), 2, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "desired-state", "running"), &r), 2, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "desired-state", "bogus"), &r), (size_t) -1);
	cr_expect_str_eq(r.msg, "Invalid desired-state filter: 'bogus'");
	cr_expect_eq(count_tasks(filter(&f, "_up-to-date", "true"), &r), 2, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "name", "web.3."), &r), 1, "%s", r.msg);
	cr_expect_eq(count_tasks(filter(&f, "id", t), &r), 1, "%s", r.msg);

	/* Replicas change: the running tasks' task spec is unchanged, so they
	 * stay up to date (the CLI's progress counts them). */
	Shoal__ServiceUpdateRequest u = SHOAL__SERVICE_UPDATE_REQUEST__INIT;
	Shoal__Service *s = get(web, &r);
	s->spec->replicated->replicas = 4;
	u.ref = web;
	u.version = s->meta->version;
	u.spec = s->spec;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	shoal__service__free_unpacked(s, NULL);
	cr_expect_eq(count_tasks(filter(&f, "_up-to-date", "true"), &r), 2, "%s", r.msg);

	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;
	rr.ref = t;
	r = call("task.get", &rr.base);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	rr.ref = "zzzz";
	r = call("task.get", &rr.base);
	cr_expect_eq(r.status, -ENOENT);
}

Test(ctl_services, a_job_spec_change_starts_a_new_iteration)
{
	struct spec x;
	Shoal__ReplicatedJob rj = SHOAL__REPLICATED_JOB__INIT;
	Shoal__ServiceUpdateRequest u = SHOAL__SERVICE_UPDATE_REQUEST__INIT;
	Shoal__Service *s;
	const Shoal__Service *now;
	struct reply r;
	uint64_t it0, it1;

	spec_init(&x, "batch", "busybox", 0);
	rj.max_concurrent = 2;
	rj.total_completions = 4;
	x.s.replicated_job = &rj;
	x.s.mode_case = SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB;
	r = create(&x);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	s = get("batch", &r);
	cr_assert_not_null(s, "%s", r.msg);
	cr_assert_not_null(s->job_status);
	cr_assert_not_null(s->job_status->job_iteration);
	it0 = s->job_status->job_iteration->index;
	cr_expect_gt(s->job_status->last_execution, 0);

	/* The same spec: the job does not run again. */
	u.ref = "batch";
	u.spec = s->spec;
	u.version = s->meta->version;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	now = store_get_service(st, s->meta->id);
	cr_expect_eq(now->job_status->job_iteration->index, it0);

	/* A ForceUpdate bump: a new iteration, above the old one. */
	s->spec->task->force_update++;
	u.version = now->meta->version;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	now = store_get_service(st, s->meta->id);
	it1 = now->job_status->job_iteration->index;
	cr_expect_gt(it1, it0);

	/* Another change: higher again. */
	s->spec->replicated_job->total_completions = 6;
	u.version = now->meta->version;
	r = call("service.update", &u.base);
	cr_assert_eq(r.status, 0, "%s", r.msg);
	cr_expect_gt(store_get_service(st, s->meta->id)->job_status->job_iteration->index, it1);
	shoal__service__free_unpacked(s, NULL);
}
