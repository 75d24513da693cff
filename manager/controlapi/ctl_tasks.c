/* controlapi: tasks (read only: managers' orchestrators write them).
 *
 * task.list takes Docker's filters: id and name (prefixes; the name is
 * service.slot.id, or service.node.id for global tasks), label, service and
 * node (id, name or unique id prefix, resolved as moby does), desired-state
 * (a task state name), runtime, and the docker CLI's `_up-to-date`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "manager/controlapi/ctl.h"
#include "manager/controlapi/ctl_int.h"
#include "proto/control.pb-c.h"

static const struct {
	const char *name;
	Shoal__TaskState state;
} task_states[] = {
    {"new", SHOAL__TASK_STATE__TASK_STATE_NEW},
    {"pending", SHOAL__TASK_STATE__TASK_STATE_PENDING},
    {"assigned", SHOAL__TASK_STATE__TASK_STATE_ASSIGNED},
    {"accepted", SHOAL__TASK_STATE__TASK_STATE_ACCEPTED},
    {"preparing", SHOAL__TASK_STATE__TASK_STATE_PREPARING},
    {"ready", SHOAL__TASK_STATE__TASK_STATE_READY},
    {"starting", SHOAL__TASK_STATE__TASK_STATE_STARTING},
    {"running", SHOAL__TASK_STATE__TASK_STATE_RUNNING},
    {"complete", SHOAL__TASK_STATE__TASK_STATE_COMPLETE},
    {"shutdown", SHOAL__TASK_STATE__TASK_STATE_SHUTDOWN},
    {"failed", SHOAL__TASK_STATE__TASK_STATE_FAILED},
    {"rejected", SHOAL__TASK_STATE__TASK_STATE_REJECTED},
    {"remove", SHOAL__TASK_STATE__TASK_STATE_REMOVE},
    {"orphaned", SHOAL__TASK_STATE__TASK_STATE_ORPHANED},
};

const char *ctl_task_state_name(Shoal__TaskState s)
{
	for (size_t i = 0; i < sizeof(task_states) / sizeof(task_states[0]); i++)
		if (task_states[i].state == s)
			return task_states[i].name;
	return "unknown";
}

int ctl_task_state_parse(const char *name, Shoal__TaskState *out)
{
	for (size_t i = 0; i < sizeof(task_states) / sizeof(task_states[0]); i++)
		if (strcasecmp(task_states[i].name, name) == 0) {
			*out = task_states[i].state;
			return 0;
		}
	return -EINVAL;
}

void ctl_task_name(const Shoal__Task *t, char *out, size_t cap)
{
	const char *svc = t->service_annotations ? t->service_annotations->name : "";

	if (t->annotations && t->annotations->name[0])
		snprintf(out, cap, "%s", t->annotations->name);
	else if (t->slot)
		snprintf(out, cap, "%s.%llu.%s", svc, (unsigned long long) t->slot, t->meta->id);
	else
		snprintf(out, cap, "%s.%s.%s", svc, t->node_id, t->meta->id);
}

int ctl_task_up_to_date(const struct store *st, const Shoal__Task *t)
{
	const Shoal__Service *s = store_get_service(st, t->service_id);

	if (!s || !s->spec)
		return 0;
	/* Same spec version, or (a change elsewhere in the service spec,
	 * e.g. replicas) the same task spec: the task need not be replaced. */
	return t->spec_version == s->spec_version || ctl_task_spec_equal(t->spec, s->spec->task);
}

/* Swaps out a task spec's pull options (NULL `c`: nothing to do). */
static Shoal__ContainerSpec__PullOptions *swap_pull(Shoal__TaskSpec *t,
						    Shoal__ContainerSpec__PullOptions *po)
{
	Shoal__ContainerSpec__PullOptions *old = NULL;

	if (t && t->container) {
		old = t->container->pull_options;
		t->container->pull_options = po;
	}
	return old;
}

int ctl_task_spec_equal(const Shoal__TaskSpec *a, const Shoal__TaskSpec *b)
{
	/* Registry credentials change with every client posting the spec back
	 * (swarmkit's IsTaskDirty ignores them too): no reason to replace a
	 * task. Swapped out and back in; nothing else runs meanwhile. */
	Shoal__ContainerSpec__PullOptions *pa = swap_pull((Shoal__TaskSpec *) a, NULL);
	Shoal__ContainerSpec__PullOptions *pb = swap_pull((Shoal__TaskSpec *) b, NULL);
	int eq = ctl_msg_equal((const ProtobufCMessage *) a, (const ProtobufCMessage *) b);

	swap_pull((Shoal__TaskSpec *) a, pa);
	swap_pull((Shoal__TaskSpec *) b, pb);
	return eq;
}

/* arg is the store. "_up-to-date" ignores the value: any value asks for it
 * (moby: len(values) != 0). */
static int task_matches(const void *obj, const char *key, const char *v, const void *arg)
{
	const Shoal__Task *t = obj;
	char name[256];

	if (strcmp(key, "id") == 0)
		return strncmp(t->meta->id, v, strlen(v)) == 0;
	if (strcmp(key, "name") == 0) {
		ctl_task_name(t, name, sizeof(name));
		return strncmp(name, v, strlen(v)) == 0;
	}
	if (strcmp(key, "label") == 0)
		return t->annotations &&
		       ctl_label_match(t->annotations->n_labels, t->annotations->labels, v);
	if (strcmp(key, "service") == 0)
		return strcmp(t->service_id, v) == 0;
	if (strcmp(key, "node") == 0)
		return strcmp(t->node_id, v) == 0;
	if (strcmp(key, "desired-state") == 0) {
		Shoal__TaskState s;
		return ctl_task_state_parse(v, &s) == 0 && t->desired_state == s;
	}
	if (strcmp(key, "runtime") == 0)
		return strcmp(v, t->spec && t->spec->network_attachment ? "attachment"
									: "container") == 0;
	if (strcmp(key, "_up-to-date") == 0)
		return ctl_task_up_to_date(arg, t);
	return 0;
}

/* Replaces service and node references by ids and checks desired-state
 * values, as moby does before listing. Returns 0 or replies the error. */
static int resolve_refs(struct ctl *c, Shoal__ListRequest *req, ctl_reply_fn cb, void *arg)
{
	char msg[256];

	for (size_t i = 0; i < req->n_filters; i++) {
		Shoal__ListRequest__FiltersEntry *e = req->filters[i];
		int svc = strcmp(e->key, "service") == 0, node = strcmp(e->key, "node") == 0;
		for (size_t j = 0; e->value && j < e->value->n_values; j++) {
			char **v = &e->value->values[j];
			const void *o = NULL;
			int rv = 0;
			Shoal__TaskState ts;
			if (strcmp(e->key, "desired-state") == 0 && (*v)[0] &&
			    ctl_task_state_parse(*v, &ts) != 0) {
				ctl_reply_err(cb, arg, -EINVAL,
					      "Invalid desired-state filter: '%s'", *v);
				return -EINVAL;
			}
			if (!svc && !node)
				continue;
			rv = store_resolve(c->store, svc ? STORE_SERVICE : STORE_NODE, *v, &o, msg,
					   sizeof(msg));
			if (rv) {
				ctl_reply_err(cb, arg, rv == -EEXIST ? -EINVAL : rv, "%s", msg);
				return rv;
			}
			free(*v);
			/* Services and nodes both start with their meta. */
			*v = xstrdup(svc ? ((const Shoal__Service *) o)->meta->id
					 : ((const Shoal__Node *) o)->meta->id);
		}
	}
	return 0;
}

void ctl_task_list(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	static const char *const keys[] = {"id",      "name",	     "label",
					   "service", "node",	     "desired-state",
					   "runtime", "_up-to-date", NULL};
	Shoal__ListRequest *req = shoal__list_request__unpack(NULL, len, body);
	Shoal__TaskListResponse resp = SHOAL__TASK_LIST_RESPONSE__INIT;
	struct ctl_list l = {.req = req, .match = task_matches, .arg = c->store};

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed task list request");
	if (ctl_check_filters(req, keys, cb, arg) == 0 && resolve_refs(c, req, cb, arg) == 0) {
		store_foreach_task(c->store, ctl_list_add, &l);
		ctl_list_sort(&l);
		resp.tasks = (Shoal__Task **) l.items;
		resp.n_tasks = l.n;
		ctl_reply_msg(cb, arg, &resp.base);
	}
	free(l.items);
	shoal__list_request__free_unpacked(req, NULL);
}

void ctl_task_get(struct ctl *c, const uint8_t *body, size_t len, ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const Shoal__Task *t = NULL;
	char msg[256];
	int rv;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed task request");
	rv = store_resolve_task(c->store, req->ref, &t, msg, sizeof(msg));
	if (rv)
		ctl_reply_err(cb, arg, rv == -EEXIST ? -EINVAL : rv, "%s", msg);
	else
		ctl_reply_msg(cb, arg, &t->base);
	shoal__ref_request__free_unpacked(req, NULL);
}
