/* img: the node's content-addressed image store.
 *
 * Layout under the store root (the daemon passes `<data-root>/image`):
 *
 *   blobs/sha256/<hex>         manifests, configs and layers as received
 *   layers/<diff-id hex>/diff  unpacked layer trees (overlayfs lower dirs)
 *   repositories.json          {"Repositories": {ref: id}, "Images": {id: meta}}
 *   tmp/                       staging; emptied when the store opens
 *
 * A layer directory appears under its final name only once it is complete
 * (unpacked into tmp/, synced, renamed), so a crash mid-unpack leaves
 * nothing a task could use. Blobs are written the same way. The index is
 * rewritten atomically (temp file, fsync, rename).
 *
 * Every function is synchronous and may block on disk or network (the
 * daemon calls them from libuv's thread pool); all are safe to call from
 * several threads on one store. Errors return a negative errno-style code
 * and, when `errmsg` is not NULL, a message naming what was wrong:
 *   -ENOENT  no such image / blob            -EINVAL  bad reference or input
 *   -EEXIST  conflict (in use, several tags)  -EBADMSG digest mismatch
 *   -EMSGSIZE a bound was exceeded            -EACCES  registry refused creds
 *   -EPERM   hostile archive content          -EIO     disk or network */
#ifndef SHOAL_WORKER_IMAGE_IMG_H
#define SHOAL_WORKER_IMAGE_IMG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IMG_ERRMSG_LEN 512

/* ------------------------------------------------------------------------ */
/* References                                                                */

/* A parsed, normalized image reference. */
struct img_ref {
	char domain[256]; /* "docker.io", "localhost:5000" */
	char path[256];	  /* "library/busybox", "team/app" */
	char tag[129];	  /* "latest" when neither tag nor digest was given */
	char digest[72];  /* "sha256:<64 hex>" or "" */
};

/* Parses a reference as docker does: `busybox`, `busybox:1.36`,
 * `host:5000/team/app:tag`, `name@sha256:<hex>`, `name:tag@sha256:<hex>`.
 * Names without a domain go to docker.io, single-component docker.io names
 * to library/. The tag defaults to "latest" unless a digest is given.
 * Returns 0 or -EINVAL with the reason in errmsg. */
int img_ref_parse(const char *s, struct img_ref *out, char *errmsg, size_t errlen);
/* "docker.io/library/busybox:latest" (name:tag) and/or "@sha256:..". */
void img_ref_full(const struct img_ref *r, char *out, size_t len);
/* "docker.io/library/busybox" */
void img_ref_name(const struct img_ref *r, char *out, size_t len);
/* Docker's familiar form: "busybox:latest", "team/app:1", "host:5000/x:y". */
void img_ref_familiar(const struct img_ref *r, char *out, size_t len);
/* Familiar form of a normalized string ("docker.io/library/busybox:latest"
 * -> "busybox:latest"); strings that do not parse are copied. */
void img_ref_familiar_str(const char *full, char *out, size_t len);
/* 1 when `s` is "sha256:<64 hex>". */
int img_digest_valid(const char *s);

/* ------------------------------------------------------------------------ */
/* Store                                                                     */

struct img_store;

/* Tells whether a task uses image `id` ("sha256:..."); 1 = in use. */
typedef int (*img_in_use_fn)(void *arg, const char *id);
/* Pull progress: one Docker-style status line, e.g. ("Pulling fs layer",
 * "a3ed95caeb02") or ("Digest: sha256:..", NULL). */
typedef void (*img_progress_fn)(void *arg, const char *status, const char *id);

struct img_limits {
	uint64_t max_layer_bytes;  /* uncompressed bytes per layer (default 8 GiB) */
	uint64_t max_entry_bytes;  /* one file in a layer (default 8 GiB) */
	uint64_t max_entries;	   /* entries per layer (default 1,000,000) */
	uint64_t max_archive;	   /* bytes of an archive given to img_load (default 16 GiB) */
	uint64_t max_json;	   /* manifest/config/index JSON (default 4 MiB) */
	uint64_t max_pull_seconds; /* whole pull (default 3600) */
};

struct img_store_opts {
	struct img_limits limits; /* zero fields take the defaults */
	img_in_use_fn in_use;	  /* may be NULL: nothing is in use */
	void *in_use_arg;
	const char *const *insecure; /* registries reached over plain HTTP */
	size_t n_insecure;	     /* (localhost and 127.0.0.0/8 always are) */
};

/* Opens (creating) the store at `root`. `opts` may be NULL and is copied.
 * Leftovers of interrupted writes are removed. On success *out is owned by
 * the caller until img_store_close. */
int img_store_open(const char *root, const struct img_store_opts *opts, struct img_store **out,
		   char *errmsg, size_t errlen);
/* Frees the store. No call may be running. */
void img_store_close(struct img_store *s);

/* Frees a NULL-terminated string vector (NULL is fine). */
void img_strv_free(char **v);

/* Loads a `docker save` archive (manifest.json; also the legacy per-layer
 * layer.tar layout) or an OCI image layout archive from `fd` (read to the
 * end, not closed). Verifies every digest and diff_id. On success *lines
 * (caller frees with img_strv_free) holds docker's report, one per image:
 * "Loaded image: busybox:latest" or "Loaded image ID: sha256:...". */
int img_load_fd(struct img_store *s, int fd, char ***lines, char *errmsg, size_t errlen);
/* Same from a file path. */
int img_load_path(struct img_store *s, const char *path, char ***lines, char *errmsg,
		  size_t errlen);

/* Credentials for a registry (any field may be NULL). */
struct img_auth {
	const char *username;
	const char *password;
	const char *identity_token; /* OAuth refresh token for the token endpoint */
	const char *registry_token; /* bearer token used as is */
};

/* Decodes Docker's X-Registry-Auth header (base64url JSON with username,
 * password, serveraddress, identitytoken, registrytoken) into *out, whose
 * strings point into *owner (json_decref it when done). An empty header
 * gives an empty auth. Returns 0 or -EINVAL. */
int img_auth_decode(const char *header, struct img_auth *out, json_t **owner, char *errmsg,
		    size_t errlen);

/* Pulls `ref` from its registry (Registry HTTP API v2) into the store and
 * tags it. `auth` and `progress` may be NULL. On success *full (caller
 * frees; may be NULL) is the normalized reference pulled. */
int img_pull(struct img_store *s, const char *ref, const struct img_auth *auth,
	     img_progress_fn progress, void *progress_arg, char **full, char *errmsg,
	     size_t errlen);

/* Looks up a registry manifest without pulling: *media_type, *digest and
 * *size of what `ref` resolves to (caller frees the strings). */
int img_remote_descriptor(struct img_store *s, const char *ref, const struct img_auth *auth,
			  char **media_type, char **digest, int64_t *size, char *errmsg,
			  size_t errlen);

/* One image, as listed or inspected. */
struct img_info {
	char id[72];	       /* "sha256:<hex>" of the config */
	char **repo_tags;      /* normalized "docker.io/library/busybox:latest" */
	char **repo_digests;   /* "docker.io/library/busybox@sha256:.." */
	char manifest[72];     /* manifest digest (synthesized for docker save loads) */
	char *manifest_type;   /* its media type */
	int64_t manifest_size; /* its size */
	int64_t created;       /* config "created", Unix seconds (0 unknown) */
	int64_t size;	       /* sum of the uncompressed layers */
	json_t *config;	       /* the image config JSON (inspect only; else NULL) */
};

/* Lists every image (newest first). *out is an array of *n infos; free
 * with img_info_free_array. */
int img_list(struct img_store *s, struct img_info **out, size_t *n, char *errmsg, size_t errlen);
/* Resolves `ref` (full ref, name:tag, name@digest, id, unique id prefix)
 * and fills *out (with config); free with img_info_free. -ENOENT with
 * "No such image: <ref>" when nothing matches. */
int img_inspect(struct img_store *s, const char *ref, struct img_info *out, char *errmsg,
		size_t errlen);
void img_info_free(struct img_info *i);
void img_info_free_array(struct img_info *a, size_t n);

/* Removes `ref`, as `docker rmi`: a name untags it and the image goes with
 * its last tag; an id removes the image (refused with several tags unless
 * `force`). An image a task uses (in_use) is refused (-EEXIST) unless
 * `force`. Unreferenced blobs and layers are deleted. *untagged and
 * *deleted (may be NULL; caller frees with img_strv_free) list what went. */
int img_remove(struct img_store *s, const char *ref, int force, char ***untagged, char ***deleted,
	       char *errmsg, size_t errlen);

/* What a task needs to run an image. */
struct img_healthcheck {
	char **test; /* NULL: none */
	int64_t interval_ns, timeout_ns, start_period_ns;
	int64_t retries;
};

struct img_runtime {
	char id[72];
	char **entrypoint, **cmd, **env, **exposed_ports; /* NULL-terminated, may be NULL */
	char *working_dir, *user, *stop_signal;		  /* may be NULL */
	struct img_healthcheck health;
	char **layers; /* absolute lower dirs, lowest first, NULL-terminated */
	size_t n_layers;
};

/* Fills *out for `ref` (resolved as img_inspect). The caller frees it with
 * img_runtime_free. */
int img_get_runtime(struct img_store *s, const char *ref, struct img_runtime *out, char *errmsg,
		    size_t errlen);
void img_runtime_free(struct img_runtime *r);

#endif
