/* controlapi: secrets and configs.
 *
 * Both are named blobs with labels: created whole, listed, inspected,
 * their labels updated (the data never changes, as in Docker), removed
 * unless a service references them. Secret data never leaves the managers
 * through this API (the Engine API layer drops it); config data does.
 *
 * The two protobuf types share their leading fields (meta, then a spec
 * whose annotations and data come first), so one implementation serves
 * both through `struct blob_kind`. */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/id.h"
#include "manager/controlapi/ctl.h"
#include "manager/controlapi/ctl_int.h"
#include "proto/control.pb-c.h"

/* The common prefix of Shoal__SecretSpec and Shoal__ConfigSpec. */
struct blob_spec {
	ProtobufCMessage base;
	Shoal__Annotations *annotations;
	ProtobufCBinaryData data;
};

/* The common prefix of Shoal__Secret and Shoal__Config. */
struct blob {
	ProtobufCMessage base;
	Shoal__Meta *meta;
	struct blob_spec *spec;
};

struct blob_kind {
	const char *name; /* "secret" / "config" */
	enum store_kind kind;
	Shoal__StoreAction__TargetCase target;
	size_t max_size;
	const ProtobufCMessageDescriptor *obj_desc, *spec_desc, *list_desc, *update_desc;
	/* In a service's container spec: does it reference `id`? */
	int (*used_by)(const Shoal__Service *s, const char *id);
};

static int uses_secret(const Shoal__Service *s, const char *id)
{
	const Shoal__ContainerSpec *c = s->spec && s->spec->task ? s->spec->task->container : NULL;
	for (size_t i = 0; c && i < c->n_secrets; i++)
		if (strcmp(c->secrets[i]->secret_id, id) == 0)
			return 1;
	return 0;
}

static int uses_config(const Shoal__Service *s, const char *id)
{
	const Shoal__ContainerSpec *c = s->spec && s->spec->task ? s->spec->task->container : NULL;
	for (size_t i = 0; c && i < c->n_configs; i++)
		if (strcmp(c->configs[i]->config_id, id) == 0)
			return 1;
	return 0;
}

static const struct blob_kind secret_kind = {
    "secret",
    STORE_SECRET,
    SHOAL__STORE_ACTION__TARGET_SECRET,
    500 * 1024,
    &shoal__secret__descriptor,
    &shoal__secret_spec__descriptor,
    &shoal__secret_list_response__descriptor,
    &shoal__secret_update_request__descriptor,
    uses_secret,
};

static const struct blob_kind config_kind = {
    "config",
    STORE_CONFIG,
    SHOAL__STORE_ACTION__TARGET_CONFIG,
    1000 * 1024,
    &shoal__config__descriptor,
    &shoal__config_spec__descriptor,
    &shoal__config_list_response__descriptor,
    &shoal__config_update_request__descriptor,
    uses_config,
};

/* Docker's name rule for secrets and configs. */
static int valid_name(const char *name)
{
	static regex_t re;
	static int ready;

	if (!ready) {
		regcomp(&re, "^[a-zA-Z0-9]+([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$",
			REG_EXTENDED | REG_NOSUB);
		ready = 1;
	}
	return strlen(name) <= 64 && regexec(&re, name, 0, NULL, 0) == 0;
}

static void blob_create(struct ctl *c, const struct blob_kind *k, const uint8_t *body, size_t len,
			ctl_reply_fn cb, void *arg)
{
	struct blob_spec *spec =
	    (struct blob_spec *) protobuf_c_message_unpack(k->spec_desc, NULL, len, body);
	struct blob obj = {.base = PROTOBUF_C_MESSAGE_INIT(k->obj_desc)};
	Shoal__Meta meta = SHOAL__META__INIT;
	char id[ID_LEN + 1];
	const char *name;
	struct ctl_batch b;

	if (!spec)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed %s spec", k->name);
	name = spec->annotations ? spec->annotations->name : "";
	if (!valid_name(name)) {
		ctl_reply_err(cb, arg, -EINVAL,
			      "invalid name '%s': only [a-zA-Z0-9-_.] are allowed, 64 at most, "
			      "starting and ending with a letter or digit",
			      name);
	} else if (spec->data.len == 0 || spec->data.len >= k->max_size) {
		ctl_reply_err(cb, arg, -EINVAL,
			      "%s data must be larger than 0 and less than %zu KB", k->name,
			      k->max_size / 1024);
	} else {
		id_new(id);
		meta.id = id;
		obj.meta = &meta;
		obj.spec = spec;
		ctl_batch_init(&b);
		ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE, k->target, &obj);
		ctl_propose_created(c, &b, id, cb, arg);
	}
	protobuf_c_message_free_unpacked(&spec->base, NULL);
}

static int blob_matches(const void *obj, const char *key, const char *v, const void *arg)
{
	const struct blob *o = obj;
	const char *name = o->spec && o->spec->annotations ? o->spec->annotations->name : "";

	(void) arg;
	if (strcmp(key, "id") == 0)
		return strncmp(o->meta->id, v, strlen(v)) == 0;
	if (strcmp(key, "name") == 0)
		return strncmp(name, v, strlen(v)) == 0;
	if (strcmp(key, "names") == 0)
		return strcmp(name, v) == 0;
	if (strcmp(key, "label") == 0)
		return o->spec && o->spec->annotations &&
		       ctl_label_match(o->spec->annotations->n_labels, o->spec->annotations->labels,
				       v);
	return 0;
}

static void blob_list(struct ctl *c, const struct blob_kind *k, const uint8_t *body, size_t len,
		      ctl_reply_fn cb, void *arg)
{
	static const char *const keys[] = {"id", "name", "names", "label", NULL};
	Shoal__ListRequest *req = shoal__list_request__unpack(NULL, len, body);
	struct ctl_list l = {.req = req, .match = blob_matches};
	/* Both list responses are {repeated items = 1}. */
	struct {
		ProtobufCMessage base;
		size_t n;
		ProtobufCMessage **items;
	} resp = {.base = PROTOBUF_C_MESSAGE_INIT(k->list_desc)};

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed %s list request", k->name);
	if (ctl_check_filters(req, keys, cb, arg) == 0) {
		store_foreach(c->store, k->kind, ctl_list_add, &l);
		ctl_list_sort(&l);
		resp.n = l.n;
		resp.items = (ProtobufCMessage **) l.items;
		ctl_reply_msg(cb, arg, &resp.base);
	}
	free(l.items);
	shoal__list_request__free_unpacked(req, NULL);
}

static const struct blob *blob_resolve(struct ctl *c, const struct blob_kind *k, const char *ref,
				       ctl_reply_fn cb, void *arg)
{
	const void *o = NULL;
	char msg[256];
	int rv = store_resolve(c->store, k->kind, ref, &o, msg, sizeof(msg));

	if (rv) {
		ctl_reply_err(cb, arg, rv == -EEXIST ? -EINVAL : rv, "%s", msg);
		return NULL;
	}
	return o;
}

static void blob_get(struct ctl *c, const struct blob_kind *k, const uint8_t *body, size_t len,
		     ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const struct blob *o;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed %s request", k->name);
	o = blob_resolve(c, k, req->ref, cb, arg);
	if (o)
		ctl_reply_msg(cb, arg, &o->base);
	shoal__ref_request__free_unpacked(req, NULL);
}

/* Secret and config update requests share their layout too. */
struct blob_update {
	ProtobufCMessage base;
	char *ref;
	uint64_t version;
	struct blob_spec *spec;
};

static void blob_update(struct ctl *c, const struct blob_kind *k, const uint8_t *body, size_t len,
			ctl_reply_fn cb, void *arg)
{
	struct blob_update *u =
	    (struct blob_update *) protobuf_c_message_unpack(k->update_desc, NULL, len, body);
	const struct blob *cur;
	struct blob *next;
	struct ctl_batch b;

	if (!u || !u->spec || !u->spec->annotations) {
		ctl_reply_err(cb, arg, -EINVAL, "malformed %s update request", k->name);
		goto out;
	}
	cur = blob_resolve(c, k, u->ref, cb, arg);
	if (!cur)
		goto out;
	if (u->version != cur->meta->version) {
		ctl_reply_err(cb, arg, -SHOAL_EVERSION,
			      "update out of sequence: %s %s changed since it was read", k->name,
			      cur->meta->id);
		goto out;
	}
	/* Only the labels may change, as in Docker. */
	if (strcmp(u->spec->annotations->name, cur->spec->annotations->name) != 0 ||
	    (u->spec->data.len &&
	     (u->spec->data.len != cur->spec->data.len ||
	      memcmp(u->spec->data.data, cur->spec->data.data, u->spec->data.len) != 0))) {
		ctl_reply_err(cb, arg, -EINVAL, "only updates to Labels are allowed");
		goto out;
	}
	next = store_dup(&cur->base);
	/* Swap in the new annotations (name checked equal above). */
	Shoal__Annotations *tmp = next->spec->annotations;
	next->spec->annotations = u->spec->annotations;
	u->spec->annotations = tmp;
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__UPDATE, k->target, next);
	ctl_propose(c, &b, cb, arg);
	store_msg_free(next);
out:
	if (u)
		protobuf_c_message_free_unpacked(&u->base, NULL);
}

struct users {
	const struct blob_kind *k;
	const char *id;
	char names[256];
	size_t n;
};

static int find_users(const void *obj, void *varg)
{
	struct users *x = varg;
	const Shoal__Service *s = obj;

	if (!x->k->used_by(s, x->id))
		return 0;
	size_t len = strlen(x->names);
	snprintf(x->names + len, sizeof(x->names) - len, "%s%s", x->n++ ? ", " : "",
		 s->spec && s->spec->annotations ? s->spec->annotations->name : s->meta->id);
	return 0;
}

static void blob_remove(struct ctl *c, const struct blob_kind *k, const uint8_t *body, size_t len,
			ctl_reply_fn cb, void *arg)
{
	Shoal__RefRequest *req = shoal__ref_request__unpack(NULL, len, body);
	const struct blob *o;
	struct users users = {.k = k};
	struct ctl_batch b;

	if (!req)
		return ctl_reply_err(cb, arg, -EINVAL, "malformed %s request", k->name);
	o = blob_resolve(c, k, req->ref, cb, arg);
	if (!o)
		goto out;
	users.id = o->meta->id;
	store_foreach_service(c->store, find_users, &users);
	if (users.n) {
		/* swarmkit's InvalidArgument (400), without the rpc wrapper. */
		ctl_reply_err(cb, arg, -EINVAL, "%s '%s' is in use by the following service%s: %s",
			      k->name, o->spec->annotations->name, users.n > 1 ? "s" : "",
			      users.names);
		goto out;
	}
	ctl_batch_init(&b);
	ctl_batch_add(&b, SHOAL__STORE_ACTION__KIND__REMOVE, k->target, (void *) o);
	ctl_propose(c, &b, cb, arg);
out:
	shoal__ref_request__free_unpacked(req, NULL);
}

#define BLOB_METHODS(kind, ref)                                                                    \
	void ctl_##kind##_create(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb,       \
				 void *a)                                                          \
	{                                                                                          \
		blob_create(c, ref, b, l, cb, a);                                                  \
	}                                                                                          \
	void ctl_##kind##_list(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb,         \
			       void *a)                                                            \
	{                                                                                          \
		blob_list(c, ref, b, l, cb, a);                                                    \
	}                                                                                          \
	void ctl_##kind##_get(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb, void *a) \
	{                                                                                          \
		blob_get(c, ref, b, l, cb, a);                                                     \
	}                                                                                          \
	void ctl_##kind##_update(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb,       \
				 void *a)                                                          \
	{                                                                                          \
		blob_update(c, ref, b, l, cb, a);                                                  \
	}                                                                                          \
	void ctl_##kind##_remove(struct ctl *c, const uint8_t *b, size_t l, ctl_reply_fn cb,       \
				 void *a)                                                          \
	{                                                                                          \
		blob_remove(c, ref, b, l, cb, a);                                                  \
	}

BLOB_METHODS(secret, &secret_kind)
BLOB_METHODS(config, &config_kind)
