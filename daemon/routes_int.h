/* Helpers shared by the Engine API route files (routes*.c). */
#ifndef SHOAL_DAEMON_ROUTES_INT_H
#define SHOAL_DAEMON_ROUTES_INT_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "daemon/api/http.h"
#include "manager/controlapi/ctl.h"
#include "proto/control.pb-c.h"

struct node;

static inline struct node *node_of(struct api_req *req)
{
	return req->route_data;
}

/* Replies 503 (Docker's messages) unless this node can run control calls;
 * returns 0 when it can. */
int node_route_need_manager(struct api_req *req);
/* Parses the body as a JSON object (400 with the reason otherwise). */
int node_route_body_json(struct api_req *req, json_t **out);
/* node_done_cb replying 200 with no body, or the error. */
void node_route_done(void *arg, int status, const char *msg);
/* ctl reply that answers 200 with no body, or the error. */
void node_route_empty_reply(void *arg, int status, const char *msg, const uint8_t *body,
			    size_t len);
/* Runs control method `method` with `m` on the leader; `cb` gets req. */
void node_route_call(struct api_req *req, const char *method, const ProtobufCMessage *m,
		     ctl_reply_fn cb);
/* Unpacks a control reply of type `desc`, answering `req` on error. */
void *node_route_unpack(struct api_req *req, int status, const char *msg, const uint8_t *body,
			size_t len, const ProtobufCMessageDescriptor *desc);
/* Docker's filters query -> ListRequest (400 on bad input, returns -1). */
int node_route_filters(struct api_req *req, Shoal__ListRequest *lr);
void node_route_filters_free(Shoal__ListRequest *lr);

/* Secrets and configs (routes_blobs.c). */
int node_routes_blobs_add(struct api_server *s, struct node *n);
/* Services and tasks (routes_services.c). */
int node_routes_services_add(struct api_server *s, struct node *n);
/* Images: load, list, pull, inspect, remove, distribution (routes_images.c). */
int node_routes_images_add(struct api_server *s, struct node *n);
/* Service and task logs (routes_logs.c). */
int node_routes_logs_add(struct api_server *s, struct node *n);

#endif
