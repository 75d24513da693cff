/* img commit: turning verified blobs into a recorded image.
 *
 * Shared by load.c and pull.c: both have put the config blob (its digest is
 * the image id) and the layer blobs in the store, verified against the
 * digests that named them; here each layer is unpacked and checked against
 * the config's rootfs.diff_ids, and the image enters the index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "worker/image/img_int.h"

/* RFC 3339 "2024-01-01T00:00:00[.frac](Z|+hh:mm)" -> Unix seconds; 0 when
 * absent or malformed. */
static int64_t parse_created(const char *s)
{
	struct tm tm = {0};
	const char *p;
	int64_t t;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return 0;
	t = (int64_t) timegm(&tm);
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int64_t off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
			      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		t += *p == '+' ? -off : off;
	}
	return t;
}

static json_t *synth_manifest(const char *config, uint64_t config_size,
			      const struct img_new_layer *layers, size_t n)
{
	json_t *m = json_object(), *ls = json_array();

	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(IMG_MT_OCI_MANIFEST));
	json_object_set_new(m, "config",
			    json_pack("{s:s,s:s,s:I}", "mediaType", IMG_MT_OCI_CONFIG, "digest",
				      config, "size", (json_int_t) config_size));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    ls, json_pack("{s:s,s:s,s:I}", "mediaType", layers[i].media_type, "digest",
				  layers[i].digest, "size", (json_int_t) layers[i].size));
	json_object_set_new(m, "layers", ls);
	return m;
}

int img_commit(struct img_store *s, const char *config, const struct img_new_layer *layers,
	       size_t n_layers, const char *manifest, size_t manifest_len,
	       const char *manifest_type, const char *const *tags, size_t n_tags,
	       const char *repo_digest, char *errmsg, size_t errlen)
{
	char *cpath = img_blob_path(s, config), mdigest[72], *mdata = NULL;
	json_t *cfg = NULL, *diff_ids = NULL, *meta = NULL, *ls;
	uint64_t total = 0, csize = 0;
	size_t pinned = 0;
	int rv;

	rv = img_read_json(cpath, s->lim.max_json, "image config", &cfg, errmsg, errlen);
	if (rv)
		goto out;
	img_file_digest(cpath, mdigest, &csize);
	diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(diff_ids)) {
		err_why(errmsg, errlen, "image config %.19s has no rootfs.diff_ids", config);
		rv = -EINVAL;
		goto out;
	}
	if (json_array_size(diff_ids) != n_layers) {
		err_why(
		    errmsg, errlen,
		    "image config %.19s lists %zu layer diff_ids but the manifest has %zu layers",
		    config, json_array_size(diff_ids), n_layers);
		rv = -EINVAL;
		goto out;
	}
	ls = json_array();
	meta = json_object();
	json_object_set_new(meta, "Layers", ls);
	for (size_t i = 0; i < n_layers; i++) {
		const char *diff = json_string_value(json_array_get(diff_ids, i));
		char *bpath;
		uint64_t size = 0;

		if (!img_digest_valid(diff)) {
			err_why(errmsg, errlen,
				"image config: rootfs.diff_ids[%zu] is not a "
				"sha256 digest",
				i);
			rv = -EINVAL;
			goto out;
		}
		img_pin(s, diff);
		pinned = i + 1;
		bpath = img_blob_path(s, layers[i].digest);
		rv = img_layer_ensure(s, bpath, diff, &size, errmsg, errlen);
		free(bpath);
		if (rv)
			goto out;
		total += size;
		json_array_append_new(ls,
				      json_pack("{s:s,s:s,s:I,s:s}", "Digest", layers[i].digest,
						"DiffID", diff, "Size", (json_int_t) layers[i].size,
						"MediaType", layers[i].media_type));
	}
	if (!manifest) {
		json_t *m = synth_manifest(config, csize, layers, n_layers);
		mdata = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		manifest = mdata;
		manifest_len = strlen(mdata);
		manifest_type = IMG_MT_OCI_MANIFEST;
	}
	img_hash_buf(manifest, manifest_len, mdigest);
	rv = img_blob_put(s, mdigest, manifest, manifest_len);
	if (rv) {
		err_why(errmsg, errlen, "cannot store the manifest: %s", err_str(rv));
		goto out;
	}
	json_object_set_new(meta, "Manifest", json_string(mdigest));
	json_object_set_new(meta, "ManifestType", json_string(manifest_type));
	json_object_set_new(meta, "ManifestSize", json_integer((json_int_t) manifest_len));
	json_object_set_new(meta, "Size", json_integer((json_int_t) total));
	json_object_set_new(
	    meta, "Created",
	    json_integer(parse_created(json_string_value(json_object_get(cfg, "created")))));
	rv = img_index_put(s, config, meta, tags, n_tags, repo_digest);
	if (rv)
		err_why(errmsg, errlen, "cannot save the image index: %s", err_str(rv));
	else
		log_info("image", "image stored id=%s layers=%zu tags=%zu", config, n_layers,
			 n_tags);
out:
	for (size_t i = 0; i < pinned; i++)
		img_unpin(s, json_string_value(json_array_get(diff_ids, i)));
	json_decref(meta);
	json_decref(cfg);
	free(mdata);
	free(cpath);
	return rv;
}
