/* img runtime: what a task needs from an image -- the config's process
 * fields and the unpacked layer directories, lowest first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/image/img_int.h"

/* A JSON array of strings -> NULL-terminated vector; NULL for null/absent. */
static char **strv(json_t *a)
{
	char **v;
	size_t i, n = 0;
	json_t *x;

	if (!json_is_array(a))
		return NULL;
	v = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, x)
	{
		if (json_is_string(x))
			v[n++] = xstrdup(json_string_value(x));
	}
	return v;
}

static char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? xstrdup(s) : NULL;
}

void img_runtime_free(struct img_runtime *r)
{
	img_strv_free(r->entrypoint);
	img_strv_free(r->cmd);
	img_strv_free(r->env);
	img_strv_free(r->exposed_ports);
	img_strv_free(r->health.test);
	img_strv_free(r->layers);
	free(r->working_dir);
	free(r->user);
	free(r->stop_signal);
	memset(r, 0, sizeof(*r));
}

int img_get_runtime(struct img_store *s, const char *ref, struct img_runtime *out, char *errmsg,
		    size_t errlen)
{
	json_t *cfg = NULL, *c, *layers, *l, *hc, *ports;
	char *path;
	const char *key;
	size_t i, n = 0;
	int rv;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	rv = img_resolve_locked(s, ref, out->id, errmsg, errlen);
	layers = rv ? NULL
		    : json_deep_copy(json_object_get(
			  json_object_get(json_object_get(s->index, "Images"), out->id), "Layers"));
	pthread_mutex_unlock(&s->mu);
	if (rv)
		return rv;
	path = img_blob_path(s, out->id);
	rv = img_read_json(path, s->lim.max_json, "image config", &cfg, errmsg, errlen);
	free(path);
	if (rv)
		goto out;
	c = json_object_get(cfg, "config");
	out->entrypoint = strv(json_object_get(c, "Entrypoint"));
	out->cmd = strv(json_object_get(c, "Cmd"));
	out->env = strv(json_object_get(c, "Env"));
	out->working_dir = str(c, "WorkingDir");
	out->user = str(c, "User");
	out->stop_signal = str(c, "StopSignal");
	hc = json_object_get(c, "Healthcheck");
	if (json_is_object(hc)) {
		out->health.test = strv(json_object_get(hc, "Test"));
		out->health.interval_ns = json_integer_value(json_object_get(hc, "Interval"));
		out->health.timeout_ns = json_integer_value(json_object_get(hc, "Timeout"));
		out->health.start_period_ns =
		    json_integer_value(json_object_get(hc, "StartPeriod"));
		out->health.retries = json_integer_value(json_object_get(hc, "Retries"));
	}
	ports = json_object_get(c, "ExposedPorts");
	if (json_is_object(ports)) {
		json_t *v;
		out->exposed_ports = xcalloc(json_object_size(ports) + 1, sizeof(char *));
		json_object_foreach(ports, key, v) out->exposed_ports[n++] = xstrdup(key);
	}
	out->layers = xcalloc(json_array_size(layers) + 1, sizeof(char *));
	json_array_foreach(layers, i, l)
	{
		const char *diff = json_string_value(json_object_get(l, "DiffID"));
		if (!img_digest_valid(diff) || !img_layer_exists(s, diff)) {
			err_why(errmsg, errlen, "image %.19s: layer %s is not unpacked", out->id,
				diff ? diff : "?");
			rv = -ENOENT;
			goto out;
		}
		out->layers[out->n_layers++] = img_path(s, "layers/%s/diff", diff + 7);
	}
out:
	json_decref(layers);
	json_decref(cfg);
	if (rv)
		img_runtime_free(out);
	return rv;
}
