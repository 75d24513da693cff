/* img store: opening the store, its index, pins, reference resolution,
 * list, inspect and remove. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "worker/image/img_int.h"

#define INDEX_FILE "repositories.json"
#define INDEX_MAX  (64u << 20)

static void limits_default(struct img_limits *l)
{
	if (!l->max_layer_bytes)
		l->max_layer_bytes = 8ull << 30;
	if (!l->max_entry_bytes)
		l->max_entry_bytes = 8ull << 30;
	if (!l->max_entries)
		l->max_entries = 1000000;
	if (!l->max_archive)
		l->max_archive = 16ull << 30;
	if (!l->max_json)
		l->max_json = 4u << 20;
	if (!l->max_pull_seconds)
		l->max_pull_seconds = 3600;
}

void img_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int save_index(struct img_store *s)
{
	char *path = img_path(s, INDEX_FILE);
	char *data = json_dumps(s->index, JSON_COMPACT | JSON_SORT_KEYS);
	int rv = img_write_atomic(path, data, strlen(data));

	if (rv)
		log_error("image", "cannot save the image index path=%s err=\"%s\"", path,
			  err_str(rv));
	free(data);
	free(path);
	return rv;
}

int img_store_open(const char *root, const struct img_store_opts *opts, struct img_store **out,
		   char *errmsg, size_t errlen)
{
	struct img_store *s = xcalloc(1, sizeof(*s));
	static const char *const dirs[] = {"blobs/sha256", "layers", "tmp"};
	char *p;
	int rv = 0;

	s->root = xstrdup(root);
	if (opts) {
		s->lim = opts->limits;
		s->in_use = opts->in_use;
		s->in_use_arg = opts->in_use_arg;
		s->insecure = xcalloc(opts->n_insecure + 1, sizeof(char *));
		for (size_t i = 0; i < opts->n_insecure; i++)
			s->insecure[i] = xstrdup(opts->insecure[i]);
	}
	limits_default(&s->lim);
	pthread_mutex_init(&s->mu, NULL);
	s->pins = json_object();
	/* Whatever is in tmp/ was interrupted: drop it. */
	p = img_path(s, "tmp");
	img_rm_rf(p);
	free(p);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rv == 0; i++) {
		p = img_path(s, "%s", dirs[i]);
		rv = img_mkdirs(p, 0700);
		if (rv)
			err_why(errmsg, errlen, "cannot create %s: %s", p, err_str(rv));
		free(p);
	}
	if (rv)
		goto err;
	p = img_path(s, INDEX_FILE);
	if (access(p, F_OK) == 0) {
		rv = img_read_json(p, INDEX_MAX, p, &s->index, errmsg, errlen);
	} else {
		s->index = json_object();
	}
	free(p);
	if (rv)
		goto err;
	if (!json_is_object(json_object_get(s->index, "Repositories")))
		json_object_set_new(s->index, "Repositories", json_object());
	if (!json_is_object(json_object_get(s->index, "Images")))
		json_object_set_new(s->index, "Images", json_object());
	*out = s;
	return 0;
err:
	img_store_close(s);
	return rv;
}

void img_store_close(struct img_store *s)
{
	if (!s)
		return;
	json_decref(s->index);
	json_decref(s->pins);
	pthread_mutex_destroy(&s->mu);
	img_strv_free(s->insecure);
	free(s->root);
	free(s);
}

/* ------------------------------------------------------------------------ */
/* Pins: blobs and layers an unfinished load or pull relies on; removal     */
/* leaves them alone.                                                        */

void img_pin(struct img_store *s, const char *digest)
{
	pthread_mutex_lock(&s->mu);
	json_t *c = json_object_get(s->pins, digest);
	json_object_set_new(s->pins, digest, json_integer(c ? json_integer_value(c) + 1 : 1));
	pthread_mutex_unlock(&s->mu);
}

void img_unpin(struct img_store *s, const char *digest)
{
	pthread_mutex_lock(&s->mu);
	json_t *c = json_object_get(s->pins, digest);
	if (c && json_integer_value(c) > 1)
		json_object_set_new(s->pins, digest, json_integer(json_integer_value(c) - 1));
	else
		json_object_del(s->pins, digest);
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------------ */
/* Resolution                                                                */

static json_t *images(struct img_store *s)
{
	return json_object_get(s->index, "Images");
}

static json_t *repos(struct img_store *s)
{
	return json_object_get(s->index, "Repositories");
}

/* Finds the image whose RepoDigests holds `full` ("name@sha256:.."). */
static const char *by_repo_digest(struct img_store *s, const char *full)
{
	const char *id;
	json_t *meta, *d;
	size_t i;

	json_object_foreach(images(s), id, meta)
	{
		json_array_foreach(json_object_get(meta, "RepoDigests"), i, d)
		{
			if (strcmp(json_string_value(d), full) == 0)
				return id;
		}
	}
	return NULL;
}

/* An image loaded from an archive has no repo digest, but a manifest digest
 * (the one GET /distribution answers, which the docker CLI pins services
 * to): `name@digest` finds it when one of its tags has that name. */
static const char *by_manifest(struct img_store *s, const char *name, const char *digest)
{
	const char *ref;
	json_t *id;
	size_t n = strlen(name);

	json_object_foreach(repos(s), ref, id)
	{
		json_t *meta = json_object_get(images(s), json_string_value(id) ?: "");
		const char *m = json_string_value(json_object_get(meta, "Manifest"));
		if (m && strcmp(m, digest) == 0 && strncmp(ref, name, n) == 0 && ref[n] == ':')
			return json_string_value(id);
	}
	return NULL;
}

/* Resolves a name reference; *full gets the normalized key it matched. */
static const char *by_name(struct img_store *s, const char *ref, char *full, size_t len)
{
	struct img_ref r;
	json_t *v;

	if (img_ref_parse(ref, &r, NULL, 0) != 0)
		return NULL;
	if (r.digest[0]) {
		char name[600];
		img_ref_name(&r, name, sizeof(name));
		snprintf(full, len, "%s@%s", name, r.digest);
		const char *id = by_repo_digest(s, full);
		return id ? id : by_manifest(s, name, r.digest);
	}
	img_ref_full(&r, full, len);
	v = json_object_get(repos(s), full);
	return v ? json_string_value(v) : NULL;
}

static const char *by_id(struct img_store *s, const char *ref)
{
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	const char *id, *found = NULL;
	size_t n = strlen(hex);
	json_t *meta;

	if (n == 0 || n > 64 || strspn(hex, "0123456789abcdef") != n)
		return NULL;
	json_object_foreach(images(s), id, meta)
	{
		if (strncmp(id + 7, hex, n) == 0) {
			if (found)
				return NULL; /* ambiguous */
			found = id;
		}
	}
	return found;
}

int img_resolve_locked(struct img_store *s, const char *ref, char id[72], char *errmsg,
		       size_t errlen)
{
	char full[700];
	const char *found = NULL;

	if (img_digest_valid(ref) && json_object_get(images(s), ref))
		found = ref;
	if (!found)
		found = by_name(s, ref, full, sizeof(full));
	if (!found)
		found = by_id(s, ref);
	if (!found) {
		err_why(errmsg, errlen, "No such image: %s", ref);
		return -ENOENT;
	}
	snprintf(id, 72, "%s", found);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* List and inspect                                                          */

static char **tags_of(struct img_store *s, const char *id)
{
	const char *ref;
	json_t *v;
	size_t n = 0;
	char **out = xcalloc(json_object_size(repos(s)) + 1, sizeof(char *));

	json_object_foreach(repos(s), ref, v)
	{
		if (strcmp(json_string_value(v), id) == 0)
			out[n++] = xstrdup(ref);
	}
	return out;
}

static char **strv_from_json(json_t *a)
{
	char **out = xcalloc(json_array_size(a) + 1, sizeof(char *));
	size_t i, n = 0;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		if (json_is_string(v))
			out[n++] = xstrdup(json_string_value(v));
	}
	return out;
}

static void fill_info(struct img_store *s, const char *id, json_t *meta, struct img_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->repo_tags = tags_of(s, id);
	out->repo_digests = strv_from_json(json_object_get(meta, "RepoDigests"));
	snprintf(out->manifest, sizeof(out->manifest), "%s",
		 json_string_value(json_object_get(meta, "Manifest")) ?: "");
	out->manifest_type = xstrdup(json_string_value(json_object_get(meta, "ManifestType"))
					 ?: IMG_MT_OCI_MANIFEST);
	out->manifest_size = json_integer_value(json_object_get(meta, "ManifestSize"));
	out->created = json_integer_value(json_object_get(meta, "Created"));
	out->size = json_integer_value(json_object_get(meta, "Size"));
}

void img_info_free(struct img_info *i)
{
	img_strv_free(i->repo_tags);
	img_strv_free(i->repo_digests);
	free(i->manifest_type);
	json_decref(i->config);
	memset(i, 0, sizeof(*i));
}

void img_info_free_array(struct img_info *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		img_info_free(&a[i]);
	free(a);
}

static int newest_first(const void *a, const void *b)
{
	const struct img_info *x = a, *y = b;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

int img_list(struct img_store *s, struct img_info **out, size_t *n, char *errmsg, size_t errlen)
{
	const char *id;
	json_t *meta;

	pthread_mutex_lock(&s->mu);
	*out = xcalloc(json_object_size(images(s)) + 1, sizeof(**out));
	*n = 0;
	json_object_foreach(images(s), id, meta) fill_info(s, id, meta, &(*out)[(*n)++]);
	pthread_mutex_unlock(&s->mu);
	qsort(*out, *n, sizeof(**out), newest_first);
	return 0;
}

int img_inspect(struct img_store *s, const char *ref, struct img_info *out, char *errmsg,
		size_t errlen)
{
	char id[72], *path;
	int rv;

	pthread_mutex_lock(&s->mu);
	rv = img_resolve_locked(s, ref, id, errmsg, errlen);
	if (rv == 0)
		fill_info(s, id, json_object_get(images(s), id), out);
	pthread_mutex_unlock(&s->mu);
	if (rv)
		return rv;
	path = img_blob_path(s, id);
	rv = img_read_json(path, s->lim.max_json, "image config", &out->config, errmsg, errlen);
	free(path);
	if (rv)
		img_info_free(out);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Remove                                                                    */

static void strv_push(char ***v, const char *s)
{
	size_t n = 0;

	while (*v && (*v)[n])
		n++;
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

static int referenced(struct img_store *s, const char *digest, const char *key)
{
	const char *id;
	json_t *meta, *l;
	size_t i;

	if (json_object_get(s->pins, digest))
		return 1;
	json_object_foreach(images(s), id, meta)
	{
		if (strcmp(id, digest) == 0 ||
		    strcmp(json_string_value(json_object_get(meta, "Manifest")) ?: "", digest) == 0)
			return 1;
		json_array_foreach(json_object_get(meta, "Layers"), i, l)
		{
			if (strcmp(json_string_value(json_object_get(l, key)) ?: "", digest) == 0)
				return 1;
		}
	}
	return 0;
}

/* Deletes the blobs and layers of `meta` (already out of the index) that no
 * other image or pin uses. Layer trees are renamed away under the lock and
 * removed after it (by the caller, from *trash). */
static void collect(struct img_store *s, const char *id, json_t *meta, char ***trash)
{
	const char *blobs[2] = {id, json_string_value(json_object_get(meta, "Manifest"))};
	json_t *l;
	size_t i;

	for (size_t k = 0; k < 2; k++) {
		if (blobs[k] && img_digest_valid(blobs[k]) && !referenced(s, blobs[k], "Digest")) {
			char *p = img_blob_path(s, blobs[k]);
			unlink(p);
			free(p);
		}
	}
	json_array_foreach(json_object_get(meta, "Layers"), i, l)
	{
		const char *d = json_string_value(json_object_get(l, "Digest"));
		const char *diff = json_string_value(json_object_get(l, "DiffID"));
		if (d && img_digest_valid(d) && !referenced(s, d, "Digest")) {
			char *p = img_blob_path(s, d);
			unlink(p);
			free(p);
		}
		if (diff && img_digest_valid(diff) && !referenced(s, diff, "DiffID")) {
			char *from = img_path(s, "layers/%s", diff + 7), *to = NULL;
			if (img_tmp_dir(s, "del", &to) == 0 && rename(from, to) == 0)
				strv_push(trash, to);
			else if (to)
				rmdir(to);
			free(to);
			free(from);
		}
	}
}

static int remove_locked(struct img_store *s, const char *ref, int force, char ***untagged,
			 char ***deleted, char ***trash, char *errmsg, size_t errlen)
{
	char id[72], full[700], fam[700];
	const char *named;
	json_t *meta;
	char **tags;
	size_t n_tags = 0;
	int rv, used;

	rv = img_resolve_locked(s, ref, id, errmsg, errlen);
	if (rv)
		return rv;
	meta = json_object_get(images(s), id);
	tags = tags_of(s, id);
	while (tags[n_tags])
		n_tags++;
	named = strcmp(ref, id) != 0 ? by_name(s, ref, full, sizeof(full)) : NULL;
	used = s->in_use && s->in_use(s->in_use_arg, id);
	if (named && strcmp(named, id) == 0) {
		int last = n_tags <= 1 || strchr(full, '@');
		if (last && used && !force) {
			err_why(errmsg, errlen,
				"conflict: unable to remove repository reference \"%s\" (must "
				"force) - a task is using its referenced image %.12s",
				ref, id + 7);
			rv = -EEXIST;
			goto out;
		}
		img_ref_familiar_str(full, fam, sizeof(fam));
		if (strchr(full, '@')) {
			json_t *rd = json_object_get(meta, "RepoDigests"), *v;
			size_t i;
			json_array_foreach(rd, i, v)
			{
				if (strcmp(json_string_value(v), full) == 0) {
					json_array_remove(rd, i);
					break;
				}
			}
		} else {
			json_object_del(repos(s), full);
			n_tags--;
		}
		strv_push(untagged, fam);
		if (n_tags > 0 && !strchr(full, '@'))
			goto save;
		if (strchr(full, '@') && n_tags > 0)
			goto save;
	} else {
		if (n_tags > 1 && !force) {
			err_why(errmsg, errlen,
				"conflict: unable to delete %.12s (must be forced) - image is "
				"referenced in multiple repositories",
				id + 7);
			rv = -EEXIST;
			goto out;
		}
		if (used && !force) {
			err_why(
			    errmsg, errlen,
			    "conflict: unable to delete %.12s (must be forced) - image is being "
			    "used by a task",
			    id + 7);
			rv = -EEXIST;
			goto out;
		}
		for (size_t i = 0; tags[i]; i++) {
			img_ref_familiar_str(tags[i], fam, sizeof(fam));
			json_object_del(repos(s), tags[i]);
			strv_push(untagged, fam);
		}
	}
	/* The image goes: its repo digests are untagged with it. */
	{
		json_t *v;
		size_t i;
		json_array_foreach(json_object_get(meta, "RepoDigests"), i, v)
		{
			img_ref_familiar_str(json_string_value(v), fam, sizeof(fam));
			strv_push(untagged, fam);
		}
	}
	json_incref(meta);
	json_object_del(images(s), id);
	collect(s, id, meta, trash);
	json_decref(meta);
	strv_push(deleted, id);
save:
	rv = save_index(s);
	if (rv)
		err_why(errmsg, errlen, "cannot save the image index: %s", err_str(rv));
out:
	img_strv_free(tags);
	return rv;
}

int img_remove(struct img_store *s, const char *ref, int force, char ***untagged, char ***deleted,
	       char *errmsg, size_t errlen)
{
	char **u = NULL, **d = NULL, **trash = NULL;
	int rv;

	pthread_mutex_lock(&s->mu);
	rv = remove_locked(s, ref, force, &u, &d, &trash, errmsg, errlen);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; trash && trash[i]; i++)
		img_rm_rf(trash[i]);
	img_strv_free(trash);
	if (rv == 0 && d)
		log_info("image", "image deleted id=%s", d[0]);
	if (untagged)
		*untagged = u;
	else
		img_strv_free(u);
	if (deleted)
		*deleted = d;
	else
		img_strv_free(d);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Recording an image                                                        */

int img_index_put(struct img_store *s, const char *id, json_t *meta, const char *const *tags,
		  size_t n_tags, const char *repo_digest)
{
	json_t *old, *rd;
	int rv;

	pthread_mutex_lock(&s->mu);
	old = json_object_get(images(s), id);
	rd = old ? json_incref(json_object_get(old, "RepoDigests")) : NULL;
	if (!rd)
		rd = json_array();
	if (repo_digest) {
		json_t *v;
		size_t i;
		int have = 0;
		json_array_foreach(rd, i, v) have |= strcmp(json_string_value(v), repo_digest) == 0;
		if (!have)
			json_array_append_new(rd, json_string(repo_digest));
	}
	json_object_set_new(meta, "RepoDigests", rd);
	json_object_set(images(s), id, meta);
	for (size_t i = 0; i < n_tags; i++)
		json_object_set_new(repos(s), tags[i], json_string(id));
	rv = save_index(s);
	pthread_mutex_unlock(&s->mu);
	return rv;
}
