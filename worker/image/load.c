/* img load: `docker save` archives and OCI image layout archives.
 *
 * The archive is read once, front to back (it may be a pipe): every regular
 * file is staged under tmp/ by entry number -- never by its name, so names
 * cannot point anywhere -- and hashed on the way. Symlinks and hard links
 * between entries (old `docker save` shares layer.tar files that way) are
 * kept as aliases. Then manifest.json (docker) or index.json (OCI) says
 * which staged files are configs and layers; every file named by a digest
 * must hash to it; blobs are linked into blobs/sha256/ and img_commit
 * unpacks and checks the layers. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/image/img_int.h"

#define MAX_ARCHIVE_ENTRIES 100000
#define MAX_ALIAS_HOPS	    8

struct staged {
	char *name;  /* cleaned entry name */
	char *alias; /* cleaned name this one points to (links), or NULL */
	char *path;  /* staged copy */
	char digest[72];
	uint64_t size;
};

struct load {
	struct img_store *s;
	char *dir; /* tmp/load-XXXXXX */
	struct staged *e;
	size_t n, cap;
	uint64_t total;
	char **lines;
	char *err;
	size_t errlen;
};

static struct staged *add(struct load *l, const char *name)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	memset(&l->e[l->n], 0, sizeof(l->e[0]));
	l->e[l->n].name = xstrdup(name);
	return &l->e[l->n++];
}

static const struct staged *find(const struct load *l, const char *name)
{
	char clean[4096];

	if (img_clean_name(name, clean, sizeof(clean)) != 0)
		return NULL;
	for (int hop = 0; hop < MAX_ALIAS_HOPS; hop++) {
		const struct staged *hit = NULL;
		/* The last entry of a name wins, as when extracting. */
		for (size_t i = l->n; i-- > 0;) {
			if (strcmp(l->e[i].name, clean) == 0) {
				hit = &l->e[i];
				break;
			}
		}
		if (!hit || !hit->alias)
			return hit;
		snprintf(clean, sizeof(clean), "%s", hit->alias);
	}
	return NULL;
}

static int stage_file(struct load *l, struct archive *a, struct staged *st)
{
	struct img_hash h;
	const void *b;
	size_t n;
	la_int64_t off;
	int r, rv = 0, fd;

	if (asprintf(&st->path, "%s/%zu", l->dir, l->n) < 0)
		abort();
	fd = open(st->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		err_why(l->err, l->errlen, "cannot stage %s: %s", st->name, err_str(rv));
		return rv;
	}
	img_hash_init(&h);
	while ((r = archive_read_data_block(a, &b, &n, &off)) == ARCHIVE_OK) {
		if (l->total + n > l->s->lim.max_archive) {
			rv = -EMSGSIZE;
			err_why(l->err, l->errlen, "archive content exceeds %llu bytes",
				(unsigned long long) l->s->lim.max_archive);
			break;
		}
		l->total += n;
		/* Sparse entries come with holes: hash the zeros too. */
		while ((la_int64_t) st->size < off) {
			static const uint8_t zero[4096];
			size_t z = (size_t) (off - (la_int64_t) st->size);
			z = z < sizeof(zero) ? z : sizeof(zero);
			img_hash_update(&h, zero, z);
			st->size += z;
		}
		img_hash_update(&h, b, n);
		if (pwrite(fd, b, n, off) != (ssize_t) n) {
			rv = -EIO;
			err_why(l->err, l->errlen, "cannot stage %s: %s", st->name,
				strerror(errno));
			break;
		}
		st->size += n;
	}
	if (rv == 0 && r != ARCHIVE_EOF) {
		rv = -EINVAL;
		err_why(l->err, l->errlen, "malformed archive at \"%s\": %s", st->name,
			archive_error_string(a));
	}
	if (rv == 0 && fsync(fd) != 0)
		rv = -errno;
	close(fd);
	img_hash_final(&h, st->digest);
	return rv;
}

/* Reads the whole archive into the staging directory. */
static int stage(struct load *l, int fd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char clean[4096];
	int r, rv = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		err_why(l->err, l->errlen, "not a tar archive: %s", archive_error_string(a));
		archive_read_free(a);
		return -EINVAL;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
		const char *link = archive_entry_hardlink(e);
		mode_t type = archive_entry_filetype(e);
		struct staged *st;

		if (l->n >= MAX_ARCHIVE_ENTRIES) {
			err_why(l->err, l->errlen, "archive has more than %d entries",
				MAX_ARCHIVE_ENTRIES);
			rv = -EMSGSIZE;
			break;
		}
		rv = img_clean_name(name, clean, sizeof(clean));
		if (rv == 1) {
			rv = 0;
			continue;
		}
		if (rv) {
			err_why(l->err, l->errlen, "archive entry \"%s\" escapes the archive root",
				name);
			rv = -EPERM;
			break;
		}
		if (type == AE_IFDIR)
			continue;
		if (link) {
			char t[4096];
			if (img_clean_name(link, t, sizeof(t)) != 0) {
				err_why(l->err, l->errlen,
					"archive entry \"%s\" links outside the archive", name);
				rv = -EPERM;
				break;
			}
			add(l, clean)->alias = xstrdup(t);
		} else if (type == AE_IFLNK) {
			/* Relative to the link's directory; must stay inside. */
			const char *target = archive_entry_symlink(e) ?: "";
			char joined[8300], t[4096];
			const char *slash = strrchr(clean, '/');
			snprintf(joined, sizeof(joined), "%.*s%s%s",
				 slash ? (int) (slash - clean) : 0, clean, slash ? "/" : "",
				 target);
			if (target[0] == '/' || img_clean_name(joined, t, sizeof(t)) != 0) {
				err_why(l->err, l->errlen,
					"archive entry \"%s\" links outside the archive", name);
				rv = -EPERM;
				break;
			}
			add(l, clean)->alias = xstrdup(t);
		} else if (type == AE_IFREG) {
			st = add(l, clean);
			rv = stage_file(l, a, st);
			if (rv)
				break;
		} else {
			err_why(l->err, l->errlen,
				"archive entry \"%s\" is not a file, directory or link", name);
			rv = -EPERM;
			break;
		}
	}
	if (rv == 0 && r != ARCHIVE_EOF) {
		err_why(l->err, l->errlen, "malformed archive: %s", archive_error_string(a));
		rv = -EINVAL;
	}
	if (rv == 0 && l->n == 0) {
		err_why(l->err, l->errlen, "archive is empty");
		rv = -EINVAL;
	}
	archive_read_free(a);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Blobs                                                                     */

static const char *layer_type(const char *path)
{
	uint8_t m[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, m, sizeof(m)) < 0)
			m[0] = 0;
		close(fd);
	}
	if (m[0] == 0x1f && m[1] == 0x8b)
		return IMG_MT_OCI_LAYER_GZ;
	if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	return IMG_MT_OCI_LAYER;
}

/* Finds `name`, checks it against `want` (a digest, or NULL to take the
 * digest its blobs/sha256/<hex> name implies, if any) and links it into
 * the store's blobs. *out points at the staged entry. */
static int put_blob(struct load *l, const char *name, const char *want, const char *what,
		    const struct staged **out)
{
	const struct staged *st = find(l, name);
	char implied[72], *dst;
	const char *hex;
	int rv = 0;

	if (!st) {
		err_why(l->err, l->errlen, "%s \"%s\" is missing from the archive", what, name);
		return -ENOENT;
	}
	hex = strncmp(st->name, "blobs/sha256/", 13) == 0 ? st->name + 13 : NULL;
	if (!want && hex) {
		snprintf(implied, sizeof(implied), "sha256:%s", hex);
		want = implied;
	}
	if (want && strcmp(want, st->digest) != 0) {
		err_why(l->err, l->errlen, "%s \"%s\": digest mismatch: expected %s, content is %s",
			what, name, want, st->digest);
		return -EBADMSG;
	}
	img_pin(l->s, st->digest);
	dst = img_blob_path(l->s, st->digest);
	if (!img_blob_exists(l->s, st->digest) && link(st->path, dst) != 0 && errno != EEXIST)
		rv = -errno;
	free(dst);
	if (rv)
		err_why(l->err, l->errlen, "cannot store %s: %s", what, err_str(rv));
	*out = st;
	return rv;
}

static void unpin_all(struct load *l, const struct staged **pinned, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pinned[i])
			img_unpin(l->s, pinned[i]->digest);
}

static void add_line(struct load *l, const char *prefix, const char *arg)
{
	size_t n = 0;
	char *s = NULL;

	while (l->lines && l->lines[n])
		n++;
	if (asprintf(&s, "%s%s", prefix, arg) < 0)
		abort();
	l->lines = xrealloc(l->lines, (n + 2) * sizeof(char *));
	l->lines[n] = s;
	l->lines[n + 1] = NULL;
}

/* Pins config + layers, commits, unpins. `manifest` may be NULL (docker). */
static int commit_one(struct load *l, const char *config_name, const char *config_digest,
		      json_t *layer_names, json_t *layer_descs, const char *manifest,
		      size_t manifest_len, const char *manifest_type, char **tags, size_t n_tags)
{
	size_t n = layer_names ? json_array_size(layer_names) : json_array_size(layer_descs);
	const struct staged **pinned = xcalloc(n + 1, sizeof(*pinned));
	struct img_new_layer *layers = xcalloc(n + 1, sizeof(*layers));
	char fam[700];
	int rv;

	rv = put_blob(l, config_name, config_digest, "image config", &pinned[n]);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		json_t *d = layer_descs ? json_array_get(layer_descs, i) : NULL;
		const char *name =
		    layer_names ? json_string_value(json_array_get(layer_names, i)) : NULL;
		const char *want = d ? json_string_value(json_object_get(d, "digest")) : NULL;
		char path[100];

		if (d) {
			if (!img_digest_valid(want)) {
				err_why(l->err, l->errlen, "manifest layer %zu has no valid digest",
					i);
				rv = -EINVAL;
				break;
			}
			snprintf(path, sizeof(path), "blobs/sha256/%s", want + 7);
			name = path;
		}
		if (!name) {
			err_why(l->err, l->errlen, "manifest.json: Layers[%zu] is not a string", i);
			rv = -EINVAL;
			break;
		}
		rv = put_blob(l, name, want, "layer", &pinned[i]);
		if (rv)
			break;
		snprintf(layers[i].digest, sizeof(layers[i].digest), "%s", pinned[i]->digest);
		layers[i].size = (int64_t) pinned[i]->size;
		layers[i].media_type =
		    xstrdup(d && json_string_value(json_object_get(d, "mediaType"))
				? json_string_value(json_object_get(d, "mediaType"))
				: layer_type(pinned[i]->path));
	}
	if (rv == 0)
		rv = img_commit(l->s, pinned[n]->digest, layers, n, manifest, manifest_len,
				manifest_type, (const char *const *) tags, n_tags, NULL, l->err,
				l->errlen);
	if (rv == 0) {
		for (size_t i = 0; i < n_tags; i++) {
			img_ref_familiar_str(tags[i], fam, sizeof(fam));
			add_line(l, "Loaded image: ", fam);
		}
		if (n_tags == 0)
			add_line(l, "Loaded image ID: ", pinned[n]->digest);
	}
	unpin_all(l, pinned, n + 1);
	for (size_t i = 0; i < n; i++)
		free(layers[i].media_type);
	free(layers);
	free(pinned);
	return rv;
}

/* Normalizes a name from an archive into tags[*n]. */
static int add_tag(struct load *l, const char *name, char **tags, size_t *n)
{
	struct img_ref r;
	char why[256], full[700];

	if (img_ref_parse(name, &r, why, sizeof(why)) != 0) {
		err_why(l->err, l->errlen, "invalid image name \"%s\" in the archive: %s", name,
			why);
		return -EINVAL;
	}
	if (r.digest[0]) {
		err_why(l->err, l->errlen, "image name \"%s\" in the archive has a digest", name);
		return -EINVAL;
	}
	img_ref_full(&r, full, sizeof(full));
	tags[(*n)++] = xstrdup(full);
	return 0;
}

static void free_tags(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

/* ------------------------------------------------------------------------ */
/* docker save                                                               */

static int load_docker(struct load *l, const struct staged *mf)
{
	json_t *root, *item;
	json_error_t je;
	char *data;
	size_t len, i;
	int rv = img_read_file(mf->path, l->s->lim.max_json, &data, &len);

	if (rv) {
		err_why(l->err, l->errlen, "manifest.json: %s",
			rv == -EMSGSIZE ? "too large" : err_str(rv));
		return rv;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (!json_is_array(root)) {
		err_why(l->err, l->errlen, "manifest.json is not a JSON array%s%s",
			root ? "" : ": ", root ? "" : je.text);
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(root, i, item)
	{
		json_t *cfg = json_object_get(item, "Config"),
		       *rt = json_object_get(item, "RepoTags");
		json_t *layers = json_object_get(item, "Layers"), *t;
		char **tags = xcalloc(json_array_size(rt) + 1, sizeof(char *));
		size_t n_tags = 0, k;

		if (!json_is_string(cfg) || !json_is_array(layers)) {
			err_why(
			    l->err, l->errlen,
			    "manifest.json[%zu]: Config (string) and Layers (array) are required",
			    i);
			rv = -EINVAL;
		}
		json_array_foreach(rt, k, t)
		{
			if (rv == 0)
				rv = json_is_string(t)
					 ? add_tag(l, json_string_value(t), tags, &n_tags)
					 : -EINVAL;
		}
		if (rv == 0)
			rv = commit_one(l, json_string_value(cfg), NULL, layers, NULL, NULL, 0,
					NULL, tags, n_tags);
		free_tags(tags, n_tags);
		if (rv)
			break;
	}
	json_decref(root);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* OCI image layout                                                          */

/* Reads blob `digest` (bounded JSON) after checking its content hash. */
static int read_desc_json(struct load *l, json_t *desc, const char *what, json_t **out, char **raw,
			  size_t *raw_len)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	const struct staged *st;
	char name[100];
	json_error_t je;
	int rv;

	if (!img_digest_valid(digest)) {
		err_why(l->err, l->errlen, "%s descriptor has no valid sha256 digest", what);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	st = find(l, name);
	if (!st) {
		err_why(l->err, l->errlen, "%s %s is missing from the archive", what, digest);
		return -ENOENT;
	}
	if (strcmp(st->digest, digest) != 0) {
		err_why(l->err, l->errlen, "%s: digest mismatch: expected %s, content is %s", what,
			digest, st->digest);
		return -EBADMSG;
	}
	rv = img_read_file(st->path, l->s->lim.max_json, raw, raw_len);
	if (rv) {
		err_why(l->err, l->errlen, "%s %s: %s", what, digest,
			rv == -EMSGSIZE ? "too large" : err_str(rv));
		return rv;
	}
	*out = json_loadb(*raw, *raw_len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*out)) {
		err_why(l->err, l->errlen, "%s %s is not a JSON object", what, digest);
		json_decref(*out);
		free(*raw);
		return -EINVAL;
	}
	return 0;
}

static int is_linux_amd64(json_t *desc)
{
	json_t *p = json_object_get(desc, "platform");
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));

	return !p || ((!os || strcmp(os, "linux") == 0) && (!arch || strcmp(arch, "amd64") == 0));
}

static int load_oci_manifest(struct load *l, json_t *desc, char **tags, size_t n_tags, int depth)
{
	json_t *m = NULL, *cfg, *layers;
	char *raw = NULL;
	size_t raw_len;
	const char *mt;
	int rv = read_desc_json(l, desc, "manifest", &m, &raw, &raw_len);

	if (rv)
		return rv;
	mt = json_string_value(json_object_get(m, "mediaType"))
		 ?: json_string_value(json_object_get(desc, "mediaType"));
	if (json_is_array(json_object_get(m, "manifests"))) {
		/* A nested index: take the linux/amd64 manifest. */
		json_t *d, *pick = NULL;
		size_t i;
		json_array_foreach(json_object_get(m, "manifests"), i,
				   d) if (!pick && is_linux_amd64(d)) pick = d;
		if (depth > 1 || !pick) {
			err_why(l->err, l->errlen, "image index has no linux/amd64 manifest");
			rv = -ENOENT;
		} else {
			rv = load_oci_manifest(l, pick, tags, n_tags, depth + 1);
		}
		goto out;
	}
	cfg = json_object_get(m, "config");
	layers = json_object_get(m, "layers");
	if (!json_is_object(cfg) || !json_is_array(layers)) {
		err_why(l->err, l->errlen, "manifest has no config or layers");
		rv = -EINVAL;
		goto out;
	}
	if (!img_digest_valid(json_string_value(json_object_get(cfg, "digest")))) {
		err_why(l->err, l->errlen, "manifest config descriptor has no valid digest");
		rv = -EINVAL;
		goto out;
	}
	{
		char cname[100];
		snprintf(cname, sizeof(cname), "blobs/sha256/%s",
			 json_string_value(json_object_get(cfg, "digest")) + 7);
		rv = commit_one(l, cname, json_string_value(json_object_get(cfg, "digest")), NULL,
				layers, raw, raw_len, mt ? mt : IMG_MT_OCI_MANIFEST, tags, n_tags);
	}
out:
	json_decref(m);
	free(raw);
	return rv;
}

static int load_oci(struct load *l, const struct staged *idx)
{
	json_t *root = NULL, *d;
	size_t i;
	int rv =
	    img_read_json(idx->path, l->s->lim.max_json, "index.json", &root, l->err, l->errlen);

	if (rv)
		return rv;
	if (!json_is_array(json_object_get(root, "manifests"))) {
		err_why(l->err, l->errlen, "index.json has no manifests array");
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(json_object_get(root, "manifests"), i, d)
	{
		json_t *ann = json_object_get(d, "annotations");
		const char *full =
		    json_string_value(json_object_get(ann, "io.containerd.image.name"));
		const char *refname =
		    json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
		char **tags = xcalloc(2, sizeof(char *));
		size_t n_tags = 0;

		/* ref.name may be a whole reference or just a tag (no name then). */
		if (full)
			rv = add_tag(l, full, tags, &n_tags);
		else if (refname && (strchr(refname, '/') || strchr(refname, ':')))
			rv = add_tag(l, refname, tags, &n_tags);
		if (rv == 0)
			rv = load_oci_manifest(l, d, tags, n_tags, 0);
		free_tags(tags, n_tags);
		if (rv)
			break;
	}
	json_decref(root);
	return rv;
}

int img_load_fd(struct img_store *s, int fd, char ***lines, char *errmsg, size_t errlen)
{
	struct load l = {.s = s, .err = errmsg, .errlen = errlen};
	const struct staged *mf, *idx;
	int rv;

	*lines = NULL;
	rv = img_tmp_dir(s, "load", &l.dir);
	if (rv) {
		err_why(errmsg, errlen, "cannot create a staging directory: %s", err_str(rv));
		return rv;
	}
	rv = stage(&l, fd);
	if (rv)
		goto out;
	mf = find(&l, "manifest.json");
	idx = find(&l, "index.json");
	if (mf)
		rv = load_docker(&l, mf);
	else if (idx)
		rv = load_oci(&l, idx);
	else {
		err_why(errmsg, errlen,
			"archive has neither manifest.json nor index.json: not a "
			"docker save or OCI image layout archive");
		rv = -EINVAL;
	}
	if (rv == 0 && !l.lines) {
		err_why(errmsg, errlen, "archive holds no image");
		rv = -EINVAL;
	}
out:
	img_rm_rf(l.dir);
	free(l.dir);
	for (size_t i = 0; i < l.n; i++) {
		free(l.e[i].name);
		free(l.e[i].alias);
		free(l.e[i].path);
	}
	free(l.e);
	if (rv)
		img_strv_free(l.lines);
	else
		*lines = l.lines;
	return rv;
}

int img_load_path(struct img_store *s, const char *path, char ***lines, char *errmsg, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rv;

	if (fd < 0) {
		rv = -errno;
		err_why(errmsg, errlen, "cannot open %s: %s", path, err_str(rv));
		return rv;
	}
	rv = img_load_fd(s, fd, lines, errmsg, errlen);
	close(fd);
	return rv;
}
