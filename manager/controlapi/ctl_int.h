/* controlapi internals shared by ctl.c, ctl_blobs.c, ctl_services.c and ctl_tasks.c. */
#ifndef SHOAL_MANAGER_CONTROLAPI_CTL_INT_H
#define SHOAL_MANAGER_CONTROLAPI_CTL_INT_H

#include "manager/controlapi/ctl.h"
#include "proto/control.pb-c.h"

/* Replies with the packed message `m`. */
void ctl_reply_msg(ctl_reply_fn cb, void *arg, const ProtobufCMessage *m);
/* Replies with an error status and a formatted message. */
void ctl_reply_err(ctl_reply_fn cb, void *arg, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Proposes `b`; replies Empty once applied, or the error. */
void ctl_propose(struct ctl *c, struct ctl_batch *b, ctl_reply_fn cb, void *arg);
/* Proposes `b`; replies CreateResponse{id} once applied, or the error. */
void ctl_propose_created(struct ctl *c, struct ctl_batch *b, const char *id, ctl_reply_fn cb,
			 void *arg);
/* 1 when both messages are NULL, or both pack to the same bytes (specs
 * compared the way swarmkit decides whether a service really changed). */
int ctl_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);
/* Docker's label filter: "k" or "k=v" against a label map. */
int ctl_label_match(size_t n, Shoal__Annotations__LabelsEntry **labels, const char *want);
/* Refuses filter keys outside the NULL-terminated `allowed` (replies
 * "invalid filter 'x'"). Returns 0 when all are allowed. */
int ctl_check_filters(const Shoal__ListRequest *req, const char *const *allowed, ctl_reply_fn cb,
		      void *arg);

/* The objects of one kind a list request asks for, borrowed from the store.
 * Every listed kind (Node, Service, Task, Secret, Config) starts with its
 * ProtobufCMessage base and then its Meta, which ctl_list_sort relies on. */
struct ctl_list {
	const Shoal__ListRequest *req; /* borrowed; NULL = no filters */
	/* 1 if `obj` matches `value` of filter `key`. */
	int (*match)(const void *obj, const char *key, const char *value, const void *arg);
	const void *arg; /* passed to match */
	void **items;	 /* the kept objects (borrowed); the caller frees the array */
	size_t n, cap;
};

/* A store_foreach callback (varg = struct ctl_list *): keeps `obj` when, for
 * every filter of l->req, the filter has no values or obj matches one of
 * them (docker's filter semantics). Returns 0. Aborts on OOM. */
int ctl_list_add(const void *obj, void *varg);
/* Sorts the kept objects by meta->id. */
void ctl_list_sort(struct ctl_list *l);

/* Secrets and configs (ctl_blobs.c). */
void ctl_secret_create(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_secret_list(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_secret_get(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_secret_update(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_secret_remove(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_config_create(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_config_list(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_config_get(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_config_update(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_config_remove(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);

/* Services (ctl_services.c) and tasks (ctl_tasks.c). */
void ctl_service_create(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_service_list(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_service_get(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_service_update(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_service_remove(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_task_list(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
void ctl_task_get(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a);
/* Resolves a service reference, replying the error (404, or 400 when
 * ambiguous) and returning NULL when it does not resolve. */
const Shoal__Service *ctl_resolve_service(struct ctl *c, const char *ref, ctl_reply_fn cb,
					  void *arg);

#endif
