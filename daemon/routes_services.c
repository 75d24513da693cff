/* routes: services and tasks (Docker's /services and /tasks).
 *
 * Specs go in and out as Docker's JSON (daemon/api/conv.h); the control API
 * on the leader validates and stores them. Registry credentials (the
 * X-Registry-Auth header) are stored in the spec's pull options and never
 * returned. Logs are served elsewhere. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "daemon/api/conv.h"
#include "daemon/api/json.h"
#include "daemon/routes_int.h"

/* Stores the client's X-Registry-Auth header in the spec's pull options. */
static void take_registry_auth(struct api_req *req, Shoal__ServiceSpec *spec)
{
	const char *auth = api_header(req, "X-Registry-Auth");
	Shoal__ContainerSpec *c = spec->task ? spec->task->container : NULL;

	if (!auth || !auth[0] || !c)
		return;
	if (!c->pull_options) {
		c->pull_options = xmalloc(sizeof(*c->pull_options));
		shoal__container_spec__pull_options__init(c->pull_options);
	} else if (c->pull_options->registry_auth != protobuf_c_empty_string)
		free(c->pull_options->registry_auth);
	c->pull_options->registry_auth = xstrdup(auth);
}

/* The posted spec, or NULL after replying 400. */
static Shoal__ServiceSpec *spec_from_body(struct api_req *req)
{
	Shoal__ServiceSpec *spec;
	json_t *body;
	char err[256];

	if (node_route_body_json(req, &body))
		return NULL;
	spec = conv_service_spec(body, err, sizeof(err));
	json_decref(body);
	if (!spec)
		api_reply_error(req, 400, "%s", err);
	return spec;
}

static void created_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__CreateResponse *r =
	    node_route_unpack(req, status, msg, body, len, &shoal__create_response__descriptor);

	if (r) {
		api_reply_json(req, 201, json_pack("{s:s,s:[]}", "ID", r->id, "Warnings"));
		shoal__create_response__free_unpacked(r, NULL);
	}
}

static void services_create(struct api_req *req)
{
	Shoal__ServiceSpec *spec;
	char name[64];

	if (node_route_need_manager(req) || !(spec = spec_from_body(req)))
		return;
	if (!spec->annotations->name[0]) {
		conv_service_random_name(name, sizeof(name));
		if (spec->annotations->name != protobuf_c_empty_string)
			free(spec->annotations->name);
		spec->annotations->name = xstrdup(name);
	}
	take_registry_auth(req, spec);
	node_route_call(req, "service.create", &spec->base, created_reply);
	shoal__service_spec__free_unpacked(spec, NULL);
}

static void list_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__ServiceListResponse *r = node_route_unpack(
	    req, status, msg, body, len, &shoal__service_list_response__descriptor);
	json_t *a;

	if (!r)
		return;
	a = json_array();
	for (size_t i = 0; i < r->n_services; i++)
		json_array_append_new(
		    a,
		    conv_service_json(r->services[i], i < r->n_statuses ? r->statuses[i] : NULL));
	shoal__service_list_response__free_unpacked(r, NULL);
	api_reply_json(req, 200, a);
}

static void services_list(struct api_req *req)
{
	Shoal__ListRequest lr = SHOAL__LIST_REQUEST__INIT;
	Shoal__ServiceListRequest r = SHOAL__SERVICE_LIST_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	if (node_route_filters(req, &lr) == 0) {
		r.list = &lr;
		r.status = api_query_bool(req, "status", 0);
		node_route_call(req, "service.list", &r.base, list_reply);
	}
	node_route_filters_free(&lr);
}

static void get_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__Service *s =
	    node_route_unpack(req, status, msg, body, len, &shoal__service__descriptor);

	if (s) {
		api_reply_json(req, 200, conv_service_json(s, NULL));
		shoal__service__free_unpacked(s, NULL);
	}
}

static void services_inspect(struct api_req *req)
{
	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	/* insertDefaults is moot: stored specs carry Docker's defaults. */
	rr.ref = (char *) api_param(req, "id");
	node_route_call(req, "service.get", &rr.base, get_reply);
}

static void updated_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;

	if (status)
		api_reply_error(req, api_status_from_err(status), "%s", msg);
	else
		api_reply_json(req, 200, json_pack("{s:[]}", "Warnings"));
}

static void services_update(struct api_req *req)
{
	Shoal__ServiceUpdateRequest u = SHOAL__SERVICE_UPDATE_REQUEST__INIT;
	const char *from = api_query(req, "registryAuthFrom");
	const char *rollback = api_query(req, "rollback");
	int64_t version;

	if (node_route_need_manager(req))
		return;
	if (api_query_int64(req, "version", -1, &version) || version < 0) {
		api_reply_error(req, 400, "invalid or missing version query parameter");
		return;
	}
	if (from && from[0] && strcmp(from, "spec") != 0 && strcmp(from, "previous-spec") != 0) {
		api_reply_error(req, 400, "unsupported registryAuthFrom value");
		return;
	}
	if (rollback && rollback[0] && strcmp(rollback, "previous") != 0) {
		api_reply_error(req, 400, "unrecognized rollback option %s", rollback);
		return;
	}
	if (!(u.spec = spec_from_body(req)))
		return;
	take_registry_auth(req, u.spec);
	u.ref = (char *) api_param(req, "id");
	u.version = (uint64_t) version;
	u.rollback = rollback && rollback[0];
	u.registry_auth_from = (char *) (from ? from : "");
	node_route_call(req, "service.update", &u.base, updated_reply);
	shoal__service_spec__free_unpacked(u.spec, NULL);
}

static void services_delete(struct api_req *req)
{
	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	rr.ref = (char *) api_param(req, "id");
	node_route_call(req, "service.remove", &rr.base, node_route_empty_reply);
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */

static void tasks_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__TaskListResponse *r =
	    node_route_unpack(req, status, msg, body, len, &shoal__task_list_response__descriptor);
	json_t *a;

	if (!r)
		return;
	a = json_array();
	for (size_t i = 0; i < r->n_tasks; i++)
		json_array_append_new(a, conv_task_json(r->tasks[i]));
	shoal__task_list_response__free_unpacked(r, NULL);
	api_reply_json(req, 200, a);
}

static void tasks_list(struct api_req *req)
{
	Shoal__ListRequest lr = SHOAL__LIST_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	if (node_route_filters(req, &lr) == 0)
		node_route_call(req, "task.list", &lr.base, tasks_reply);
	node_route_filters_free(&lr);
}

static void task_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct api_req *req = arg;
	Shoal__Task *t = node_route_unpack(req, status, msg, body, len, &shoal__task__descriptor);

	if (t) {
		api_reply_json(req, 200, conv_task_json(t));
		shoal__task__free_unpacked(t, NULL);
	}
}

static void tasks_inspect(struct api_req *req)
{
	Shoal__RefRequest rr = SHOAL__REF_REQUEST__INIT;

	if (node_route_need_manager(req))
		return;
	rr.ref = (char *) api_param(req, "id");
	node_route_call(req, "task.get", &rr.base, task_reply);
}

static const struct api_route routes[] = {
    {"GET", "/services", services_list, 0, 0},
    {"POST", "/services/create", services_create, 0, 0},
    {"GET", "/services/{id}", services_inspect, 0, 0},
    {"POST", "/services/{id}/update", services_update, 0, 0},
    {"DELETE", "/services/{id}", services_delete, 0, 0},
    {"GET", "/tasks", tasks_list, 0, 0},
    {"GET", "/tasks/{id}", tasks_inspect, 0, 0},
};

int node_routes_services_add(struct api_server *s, struct node *n)
{
	return api_server_add_routes(s, routes, sizeof(routes) / sizeof(routes[0]), n);
}
