/* controlapi: services.
 *
 * create/update store a spec completed with Docker's defaults and checked
 * as swarmkit checks it (ctl_svc_spec.c); the orchestrators turn it into
 * tasks. list computes ServiceStatus from the task table when asked;
 * remove deletes the service object only (the orchestrator shuts its tasks
 * down). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/id.h"
#include "manager/controlapi/ctl.h"
#include "manager/controlapi/ctl_int.h"
#include "proto/control.pb-c.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int is_job(const Shoal__ServiceSpec *s)
{
	return s->mode_case == SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB ||
	       s->mode_case == SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB;
}

const Shoal__Service *ctl_resolve_service(struct ctl *c, const char *ref, ctl_reply_fn cb,
					  void *arg)
{
	const Shoal__Service *s = NULL;
	char msg[256];
	int rv = store_resolve_service(c->store, ref, &s, msg, sizeof(msg));

	if (rv) {
		ctl_reply_err(cb, arg, rv == -EEXIST ? -EINVAL : rv, "%s", msg);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------------ */
/* create                                                                    */

void ctl_service_create(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__ServiceSpec *spec = shoal__service_spec__unpack(NULL, len, body);
	Shoal__Service svc = SHOAL__SERVICE__INIT;
	Shoal__Meta meta = SHOAL__META__INIT;
	Shoal__JobStatus job = SHOAL__JOB_STATUS__INIT;
	Shoal__Version iter = SHOAL__VERSION__INIT;
	const Shoal__Service *other = NULL;
	char id[ID_LEN + 1], msg[512];
	struct ctl_batch b;
	int rv;

	if (!spec)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed service spec");
	ctl_service_spec_defaults(spec);
	rv = ctl_service_spec_validate(c->store, spec, msg, sizeof(msg));
	if (rv) {
		ctl_reply_err(cb, arg, rv, "%s", msg);
		goto out;
	}
	if (store_find_service_by_name(c->store, spec->annotations->name, &other) == 0) {
		ctl_reply_err(cb, arg, -EEXIST,
			      "name conflicts with an existing object: service %s already exists",
			      spec->annotations->name);
		goto out;
	}
	id_new(id);
	meta.id = id;
	svc.meta = &meta;
	svc.spec = spec;
	/* Below the version the create gets, and below every later spec
	 * version (the version an update replaces): tasks compare it. */
	svc.spec_version = store_index(c->store);
	if (is_job(spec)) {
		job.job_iteration = &iter;
		job.last_execution = now_ns();
		svc.job_status = &job;
	}
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		      &svc);
	ctl_propose_created(c, &b, id, cb, arg);
out:
	shoal__service_spec__free_unpacked(spec, NULL);
}

/* ------------------------------------------------------------------------ */
/* list                                                                      */

static const char *mode_name(const Shoal__ServiceSpec *s)
{
	switch (s->mode_case) {
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL:
		return "global";
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB:
		return "replicated-job";
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB:
		return "global-job";
	default:
		return "replicated";
	}
}

static int service_matches(const void *obj, const char *key, const char *v, const void *arg)
{
	const Shoal__Service *s = obj;
	const Shoal__Annotations *a = s->spec ? s->spec->annotations : NULL;

	(void) arg;
	if (strcmp(key, "id") == 0)
		return strncmp(s->meta->id, v, strlen(v)) == 0;
	if (strcmp(key, "name") == 0)
		return a && strncmp(a->name, v, strlen(v)) == 0;
	if (strcmp(key, "label") == 0)
		return a && ctl_label_match(a->n_labels, a->labels, v);
	if (strcmp(key, "mode") == 0)
		return s->spec && strcmp(mode_name(s->spec), v) == 0;
	return 0;
}

struct task_counts {
	uint64_t running, completed;
	uint64_t runnable;  /* desired state RUNNING or before */
	uint64_t iteration; /* jobs: only tasks of this iteration complete it */
	int job;
};

static int count_task(const void *obj, void *varg)
{
	const Shoal__Task *t = obj;
	struct task_counts *k = varg;
	Shoal__TaskState st = t->status ? t->status->state : SHOAL__TASK_STATE__TASK_STATE_NEW;

	if (st == SHOAL__TASK_STATE__TASK_STATE_RUNNING &&
	    t->desired_state == SHOAL__TASK_STATE__TASK_STATE_RUNNING)
		k->running++;
	if (t->desired_state <= SHOAL__TASK_STATE__TASK_STATE_RUNNING)
		k->runnable++;
	if (st == SHOAL__TASK_STATE__TASK_STATE_COMPLETE &&
	    (!k->job || (t->job_iteration ? t->job_iteration->index : 0) == k->iteration))
		k->completed++;
	return 0;
}

static int count_eligible(const void *obj, void *varg)
{
	const Shoal__Node *n = obj;

	if ((!n->status || n->status->state != SHOAL__NODE_STATE__NODE_STATE_DOWN) &&
	    (!n->spec ||
	     n->spec->availability != SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_DRAIN))
		(*(uint64_t *) varg)++;
	return 0;
}

void ctl_service_status(const struct store *st, const Shoal__Service *s, Shoal__ServiceStatus *out)
{
	struct task_counts k = {0};
	uint64_t nodes = 0;

	if (s->spec && is_job(s->spec)) {
		k.job = 1;
		if (s->job_status && s->job_status->job_iteration)
			k.iteration = s->job_status->job_iteration->index;
	}
	store_tasks_by_service(st, s->meta->id, count_task, &k);
	out->running_tasks = k.running;
	out->completed_tasks = k.completed;
	out->desired_tasks = 0;
	if (!s->spec)
		return;
	switch (s->spec->mode_case) {
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED:
		out->desired_tasks = s->spec->replicated->replicas;
		break;
	case SHOAL__SERVICE_SPEC__MODE_REPLICATED_JOB: {
		/* Docker: as many as may run at once, but no more than remain. */
		const Shoal__ReplicatedJob *j = s->spec->replicated_job;
		uint64_t left =
		    j->total_completions > k.completed ? j->total_completions - k.completed : 0;
		out->desired_tasks = left < j->max_concurrent ? left : j->max_concurrent;
		break;
	}
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL:
		/* One task per node the orchestrator found eligible (constraints included). */
		out->desired_tasks = k.runnable;
		break;
	case SHOAL__SERVICE_SPEC__MODE_GLOBAL_JOB:
		store_foreach_node(st, count_eligible, &nodes);
		out->desired_tasks = nodes;
		break;
	default:
		break;
	}
}

void ctl_service_list(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	static const char *const keys[] = {"id", "name", "label", "mode", NULL};
	Shoal__ServiceListRequest *req = shoal__service_list_request__unpack(NULL, len, body);
	Shoal__ServiceListResponse resp = SHOAL__SERVICE_LIST_RESPONSE__INIT;
	Shoal__ServiceStatus *st = NULL, **stp = NULL;
	struct ctl_list l = {.match = service_matches};

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed service list request");
	l.req = req->list;
	if (l.req && ctl_check_filters(l.req, keys, cb, arg) != 0)
		goto out;
	for (size_t i = 0; l.req && i < l.req->n_filters; i++) {
		Shoal__ListRequest__FiltersEntry *e = l.req->filters[i];
		if (strcmp(e->key, "mode") != 0 || !e->value)
			continue;
		for (size_t j = 0; j < e->value->n_values; j++) {
			const char *m = e->value->values[j];
			if (strcmp(m, "replicated") && strcmp(m, "global") &&
			    strcmp(m, "replicated-job") && strcmp(m, "global-job")) {
				ctl_reply_err(cb, arg, -EINVAL, "Invalid filter: 'mode'='%s'", m);
				goto out;
			}
		}
	}
	store_foreach_service(c->store, ctl_list_add, &l);
	ctl_list_sort(&l);
	resp.services = (Shoal__Service **) l.items;
	resp.n_services = l.n;
	if (req->status && l.n) {
		st = xcalloc(l.n, sizeof(*st));
		stp = xcalloc(l.n, sizeof(*stp));
		for (size_t i = 0; i < l.n; i++) {
			shoal__service_status__init(&st[i]);
			ctl_service_status(c->store, l.items[i], &st[i]);
			stp[i] = &st[i];
		}
		resp.statuses = stp;
		resp.n_statuses = l.n;
	}
	ctl_reply_msg(cb, arg, &resp.base);
out:
	free(st);
	free(stp);
	free(l.items);
	shoal__service_list_request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------------ */
/* get, update, remove                                                       */

void ctl_service_get(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const Shoal__Service *s;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed service request");
	s = ctl_resolve_service(c, req->ref, cb, arg);
	if (s)
		ctl_reply_msg(cb, arg, &s->base);
	shoal__ref_request__free_unpacked(req, NULL);
}

/* Swaps spec and previous_spec (Docker's rollback=previous). */
static int rollback_swap(Shoal__Service *next, char *msg, size_t msglen)
{
	Shoal__ServiceSpec *tmp = next->spec;
	uint64_t v = next->spec_version;

	if (!next->previous_spec) {
		snprintf(msg, msglen, "service %s does not have a previous spec", next->meta->id);
		return -EINVAL;
	}
	next->spec = next->previous_spec;
	next->previous_spec = tmp;
	next->spec_version = next->previous_spec_version;
	next->previous_spec_version = v;
	if (next->update_status)
		shoal__update_status__free_unpacked(next->update_status, NULL);
	next->update_status = xmalloc(sizeof(*next->update_status));
	shoal__update_status__init(next->update_status);
	next->update_status->state = SHOAL__UPDATE_STATUS__STATE__ROLLBACK_STARTED;
	next->update_status->started_at = now_ns();
	next->update_status->message = xstrdup("manually requested rollback");
	return 0;
}

/* Keeps the stored registry credentials when the new spec has none, as
 * moby does (they never leave the managers, so clients cannot post them
 * back). */
static void keep_pull_options(Shoal__ServiceUpdateRequest *req, const Shoal__Service *cur)
{
	const Shoal__ServiceSpec *from =
	    strcmp(req->registry_auth_from, "previous-spec") == 0 ? cur->previous_spec : cur->spec;
	Shoal__ContainerSpec *c = req->spec->task ? req->spec->task->container : NULL;

	if (!c || c->pull_options || !from || !from->task || !from->task->container ||
	    !from->task->container->pull_options)
		return;
	c->pull_options = store_dup(&from->task->container->pull_options->base);
}

/* A job whose spec changed (a ForceUpdate bump included) runs again, as swarmkit's: a new
 * iteration, above every earlier one; the orchestrator shuts down the older iteration's tasks
 * and counts completions afresh. */
static void next_job_iteration(Shoal__Service *s, uint64_t version)
{
	if (!s->job_status->job_iteration) {
		s->job_status->job_iteration = xmalloc(sizeof(*s->job_status->job_iteration));
		shoal__version__init(s->job_status->job_iteration);
	}
	if (version <= s->job_status->job_iteration->index)
		version = s->job_status->job_iteration->index + 1;
	s->job_status->job_iteration->index = version;
	s->job_status->last_execution = now_ns();
}

void ctl_service_update(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__ServiceUpdateRequest *req = shoal__service_update_request__unpack(NULL, len, body);
	const Shoal__Service *cur;
	Shoal__Service *next = NULL;
	struct ctl_batch b;
	char msg[512];
	int rv, changed = 0;

	if (!req || (!req->spec && !req->rollback)) {
		ctl_reply_err(cb, arg, -EINVAL, "malformed service update request");
		goto out;
	}
	cur = ctl_resolve_service(c, req->ref, cb, arg);
	if (!cur)
		goto out;
	if (req->version != cur->meta->version) {
		ctl_reply_err(cb, arg, -SHOAL_EVERSION,
			      "update out of sequence: service %s changed since it was read",
			      cur->meta->id);
		goto out;
	}
	next = store_dup_service(cur);
	if (req->rollback) {
		if ((rv = rollback_swap(next, msg, sizeof(msg)))) {
			ctl_reply_err(cb, arg, rv, "%s", msg);
			goto out;
		}
		changed = 1;
	} else {
		ctl_service_spec_defaults(req->spec);
		if ((rv = ctl_service_spec_validate(c->store, req->spec, msg, sizeof(msg)))) {
			ctl_reply_err(cb, arg, rv, "%s", msg);
			goto out;
		}
		if (strcmp(req->spec->annotations->name, cur->spec->annotations->name) != 0) {
			ctl_reply_err(cb, arg, -EINVAL, "renaming services is not supported");
			goto out;
		}
		if (req->spec->mode_case != cur->spec->mode_case) {
			ctl_reply_err(cb, arg, -EINVAL, "service mode change is not allowed");
			goto out;
		}
		keep_pull_options(req, cur);
		if (!ctl_msg_equal(&req->spec->base, &cur->spec->base)) {
			/* The spec really changed: keep the old one for rollback
			 * and give tasks a new version to compare against. */
			if (next->previous_spec)
				shoal__service_spec__free_unpacked(next->previous_spec, NULL);
			next->previous_spec = next->spec;
			next->previous_spec_version = next->spec_version;
			next->spec = req->spec;
			req->spec = NULL;
			next->spec_version = cur->meta->version;
			if (next->update_status)
				shoal__update_status__free_unpacked(next->update_status, NULL);
			next->update_status = NULL;
			changed = 1;
		}
	}
	if (changed && next->job_status)
		next_job_iteration(next, cur->meta->version);
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE, SHOAL__STORE_ACTION__TARGET_SERVICE,
		      next);
	ctl_propose(c, &b, cb, arg);
out:
	store_service_free(next);
	if (req)
		shoal__service_update_request__free_unpacked(req, NULL);
}

void ctl_service_remove(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const Shoal__Service *s;
	struct ctl_batch b;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed service request");
	s = ctl_resolve_service(c, req->ref, cb, arg);
	if (s) {
		ctl_batch_init(&b);
		ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__REMOVE,
			      SHOAL__STORE_ACTION__TARGET_SERVICE, (void *) s);
		ctl_propose(c, &b, cb, arg);
	}
	shoal__ref_request__free_unpacked(req, NULL);
}
