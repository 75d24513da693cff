/* Private to worker/image/: what the store's files share.
 *
 * fs.c: paths, digests, atomic files, bounded reads, recursive removal.
 * store.c: open/close, the index, pins, resolution, list/inspect/remove.
 * layer.c: unpacking one layer safely into layers/<hex>/diff.
 * load.c: `docker save` and OCI layout archives.
 * commit.c: verifying a manifest's blobs and recording an image.
 * runtime.c: the config fields a task needs.
 * pull.c: the registry client. */
#ifndef SHOAL_WORKER_IMAGE_IMG_INT_H
#define SHOAL_WORKER_IMAGE_IMG_INT_H

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>

#include "worker/image/img.h"

#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMG_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define IMG_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define IMG_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define IMG_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define IMG_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define IMG_MT_OCI_LAYER_GZ    "application/vnd.oci.image.layer.v1.tar+gzip"

struct img_store {
	char *root;
	pthread_mutex_t mu; /* guards index and pins */
	json_t *index;	    /* {"Repositories":{ref:id},"Images":{id:meta}} */
	json_t *pins;	    /* {digest: count}: blobs/layers a load or pull is using */
	struct img_limits lim;
	img_in_use_fn in_use;
	void *in_use_arg;
	char **insecure;
};

/* ---- fs.c ---- */

/* sha256 in "sha256:<hex>" form. */
struct img_hash {
	crypto_hash_sha256_state st;
};
void img_hash_init(struct img_hash *h);
void img_hash_update(struct img_hash *h, const void *p, size_t n);
void img_hash_final(struct img_hash *h, char out[72]);
void img_hash_buf(const void *p, size_t n, char out[72]);

/* "<root>/<rel>" (caller frees). */
char *img_path(const struct img_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* <root>/blobs/sha256/<hex> of a valid digest (caller frees). */
char *img_blob_path(const struct img_store *s, const char *digest);
int img_blob_exists(const struct img_store *s, const char *digest);
/* Creates a temp file under <root>/tmp; *path (caller frees) names it. */
int img_tmp_file(const struct img_store *s, char **path);
/* Makes a temp directory under <root>/tmp (caller frees *path). */
int img_tmp_dir(const struct img_store *s, const char *prefix, char **path);
/* fsyncs `tmp` and renames it to blob `digest` (an existing blob wins). */
int img_blob_commit(const struct img_store *s, const char *tmp, const char *digest);
/* Writes `len` bytes to blob `digest` (which must be their hash). */
int img_blob_put(const struct img_store *s, const char *digest, const void *p, size_t len);
/* Hashes a file: *digest and *size. */
int img_file_digest(const char *path, char out[72], uint64_t *size);
/* Reads a whole file of at most `max` bytes (-EMSGSIZE above). Caller frees
 * *out (NUL-terminated). */
int img_read_file(const char *path, uint64_t max, char **out, size_t *len);
/* Parses a JSON object from a file of at most `max` bytes; `what` names it
 * in errors. */
int img_read_json(const char *path, uint64_t max, const char *what, json_t **out, char *errmsg,
		  size_t errlen);
/* Writes `data` to `path` atomically (temp, fsync, rename, fsync dir). */
int img_write_atomic(const char *path, const void *data, size_t len);
int img_mkdirs(const char *path, mode_t mode);
/* Removes a tree without following symlinks; a missing path is fine. */
int img_rm_rf(const char *path);

/* ---- layer.c ---- */

/* Cleans an archive entry name into `out`: drops "./" and empty components,
 * refuses absolute names and ".." (-EPERM). Returns 0, 1 for the root
 * itself, -EPERM or -ENAMETOOLONG. */
int img_clean_name(const char *name, char *out, size_t len);

/* Makes sure layer `diff_id` is unpacked, from blob `blob` (tar, tar+gzip
 * or tar+zstd). Verifies the uncompressed stream hashes to `diff_id`.
 * *size gets the uncompressed size. */
int img_layer_ensure(struct img_store *s, const char *blob, const char *diff_id, uint64_t *size,
		     char *errmsg, size_t errlen);
int img_layer_exists(const struct img_store *s, const char *diff_id);

/* ---- store.c ---- */

void img_pin(struct img_store *s, const char *digest);
void img_unpin(struct img_store *s, const char *digest);
/* Resolves `ref` to an image id under s->mu; fills id. -ENOENT otherwise. */
int img_resolve_locked(struct img_store *s, const char *ref, char id[72], char *errmsg,
		       size_t errlen);

/* Records image `id` with `meta` (Manifest, ManifestType, ManifestSize,
 * Layers, Size, Created; borrowed), adds `repo_digest` (may be NULL) to its
 * RepoDigests and points `tags` (normalized) at it; saves the index. */
int img_index_put(struct img_store *s, const char *id, json_t *meta, const char *const *tags,
		  size_t n_tags, const char *repo_digest);

/* ---- commit.c ---- */

/* A manifest whose blobs are in the store (config) or staged (layers). */
struct img_new_layer {
	char digest[72];  /* of the blob as stored */
	char *media_type; /* owned */
	int64_t size;	  /* compressed size */
};

/* Verifies config digest `config`, unpacks and checks each layer against
 * rootfs.diff_ids, writes the manifest blob (synthesizing one when
 * `manifest` is NULL), records the image and tags it with `tags`
 * (normalized refs) and `repo_digest` (may be NULL). Pins nothing itself:
 * the caller pins the blobs it staged. */
int img_commit(struct img_store *s, const char *config, const struct img_new_layer *layers,
	       size_t n_layers, const char *manifest, size_t manifest_len,
	       const char *manifest_type, const char *const *tags, size_t n_tags,
	       const char *repo_digest, char *errmsg, size_t errlen);

#endif
