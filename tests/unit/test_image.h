/* Builders for image tests: tar layers, docker save and OCI layout archives
 * made with libarchive's writer from small in-memory files. */
#ifndef SHOAL_TESTS_TEST_IMAGE_H
#define SHOAL_TESTS_TEST_IMAGE_H

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "worker/image/img_int.h"
#include <sys/sysmacros.h>

#define TI static __attribute__((unused))

/* One archive entry: type 'f' file, 'd' dir, 'l' symlink, 'h' hard link,
 * 'c' char device, 'p' fifo. */
struct tent {
	char type;
	const char *name;
	const char *data; /* file content, or link target */
	size_t len;	  /* 0: strlen(data) */
	unsigned mode;	  /* 0: 0644 / 0755 */
};

TI la_ssize_t tbuf_write(struct archive *a, void *arg, const void *p, size_t n)
{
	buf_append(arg, p, n);
	return (la_ssize_t) n;
}

TI struct buf tar_build(const struct tent *e, size_t n)
{
	struct buf b = BUF_INIT;
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	cr_assert_eq(archive_write_open(a, &b, NULL, tbuf_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		size_t len = e[i].data ? (e[i].len ? e[i].len : strlen(e[i].data)) : 0;

		archive_entry_set_pathname(x, e[i].name);
		archive_entry_set_mtime(x, 1700000000, 0);
		switch (e[i].type) {
		case 'd':
			archive_entry_set_filetype(x, AE_IFDIR);
			archive_entry_set_perm(x, e[i].mode ? e[i].mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(x, AE_IFLNK);
			archive_entry_set_symlink(x, e[i].data);
			archive_entry_set_perm(x, 0777);
			len = 0;
			break;
		case 'h':
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_hardlink(x, e[i].data);
			len = 0;
			break;
		case 'c':
			archive_entry_set_filetype(x, AE_IFCHR);
			archive_entry_set_rdev(x, makedev(1, 3));
			len = 0;
			break;
		case 'p':
			archive_entry_set_filetype(x, AE_IFIFO);
			archive_entry_set_perm(x, 0644);
			len = 0;
			break;
		default:
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_perm(x, e[i].mode ? e[i].mode : 0644);
		}
		archive_entry_set_size(x, (la_int64_t) len);
		cr_assert_eq(archive_write_header(a, x), ARCHIVE_OK, "%s", archive_error_string(a));
		if (len)
			cr_assert_eq(archive_write_data(a, e[i].data, len), (la_ssize_t) len);
		archive_entry_free(x);
	}
	archive_write_close(a);
	archive_write_free(a);
	return b;
}

TI struct buf gz_build(const struct buf *in)
{
	struct buf b = BUF_INIT;
	struct archive *a = archive_write_new();
	struct archive_entry *x = archive_entry_new();

	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	cr_assert_eq(archive_write_open(a, &b, NULL, tbuf_write, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(x, "x");
	archive_entry_set_filetype(x, AE_IFREG);
	archive_entry_set_size(x, (la_int64_t) in->len);
	cr_assert_eq(archive_write_header(a, x), ARCHIVE_OK, "%s", archive_error_string(a));
	cr_assert_eq(archive_write_data(a, in->data, in->len), (la_ssize_t) in->len);
	archive_entry_free(x);
	archive_write_close(a);
	archive_write_free(a);
	return b;
}

TI void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f, "cannot write %s", path);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* A layer: the tar bytes as stored (maybe gzipped) and the diff_id. */
struct tlayer {
	struct buf blob;
	char diff_id[72];
	char digest[72];
};

TI struct tlayer layer_make(const struct tent *e, size_t n, int gzip)
{
	struct tlayer l;
	struct buf tar = tar_build(e, n);

	img_hash_buf(tar.data, tar.len, l.diff_id);
	if (gzip) {
		l.blob = gz_build(&tar);
		buf_free(&tar);
	} else {
		l.blob = tar;
	}
	img_hash_buf(l.blob.data, l.blob.len, l.digest);
	return l;
}

TI char *config_json(struct tlayer *ls, size_t n, const char *bad_diff)
{
	json_t *ids = json_array();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    ids, json_string(bad_diff && i == n - 1 ? bad_diff : ls[i].diff_id));
	json_t *c = json_pack(
	    "{s:s,s:s,s:s,s:{s:[s],s:[s],s:s,s:s,s:{s:{}},s:{s:[s,s],s:I,s:i}},s:{s:s,s:o}}",
	    "architecture", "amd64", "os", "linux", "created", "2024-01-02T03:04:05Z", "config",
	    "Cmd", "sh", "Env", "PATH=/bin", "WorkingDir", "/w", "StopSignal", "SIGQUIT",
	    "ExposedPorts", "80/tcp", "Healthcheck", "Test", "CMD", "true", "Interval",
	    (json_int_t) 5000000000, "Retries", 3, "rootfs", "type", "layers", "diff_ids", ids);
	s = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return s;
}

/* A flat archive from (name, data, len) triples. */
struct tfile {
	char *name;
	char *data;
	size_t len;
};

TI void archive_files(const char *path, struct tfile *f, size_t n)
{
	struct tent *e = calloc(n, sizeof(*e));

	for (size_t i = 0; i < n; i++)
		e[i] = (struct tent){f[i].data ? 'f' : 'l', f[i].name,
				     f[i].data ? f[i].data : f[i].name + strlen(f[i].name) + 1,
				     f[i].len, 0};
	struct buf b = tar_build(e, n);
	write_file(path, b.data, b.len);
	buf_free(&b);
	free(e);
}

TI struct tfile tf(const char *name, const void *data, size_t len)
{
	struct tfile f = {strdup(name), malloc(len + 1), len};

	memcpy(f.data, data, len);
	f.data[len] = 0;
	return f;
}

TI void tfiles_free(struct tfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].data);
	}
}

/* `docker save` layout: manifest.json, <id>.json, <n>/layer.tar. */
TI void docker_archive(const char *path, struct tlayer *ls, size_t n, const char *tags_json,
		       const char *bad_diff)
{
	struct tfile f[16];
	size_t k = 0;
	char *cfg = config_json(ls, n, bad_diff), id[72], name[128];
	json_t *layers = json_array(), *m;

	img_hash_buf(cfg, strlen(cfg), id);
	snprintf(name, sizeof(name), "%s.json", id + 7);
	f[k++] = tf(name, cfg, strlen(cfg));
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "l%zu/layer.tar", i);
		f[k++] = tf(name, ls[i].blob.data, ls[i].blob.len);
		json_array_append_new(layers, json_string(name));
	}
	snprintf(name, sizeof(name), "%s.json", id + 7);
	m = json_pack("[{s:s,s:o,s:o}]", "Config", name, "RepoTags", json_loads(tags_json, 0, NULL),
		      "Layers", layers);
	char *ms = json_dumps(m, JSON_COMPACT);
	f[k++] = tf("manifest.json", ms, strlen(ms));
	archive_files(path, f, k);
	tfiles_free(f, k);
	free(ms);
	free(cfg);
	json_decref(m);
}

/* OCI layout with one manifest named `refname` (io.containerd.image.name).
 * `corrupt`: 1 = a layer blob's bytes differ from its digest, 2 = the
 * manifest references a missing blob. */
TI void oci_archive(const char *path, struct tlayer *ls, size_t n, const char *refname, int corrupt)
{
	struct tfile f[16];
	size_t k = 0;
	char *cfg = config_json(ls, n, NULL), cd[72], md[72], name[128];
	json_t *layers = json_array(), *m, *idx;

	img_hash_buf(cfg, strlen(cfg), cd);
	snprintf(name, sizeof(name), "blobs/sha256/%s", cd + 7);
	f[k++] = tf(name, cfg, strlen(cfg));
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "blobs/sha256/%s", ls[i].digest + 7);
		if (!(corrupt == 2 && i == n - 1))
			f[k++] = tf(name, ls[i].blob.data, ls[i].blob.len);
		if (corrupt == 1 && i == n - 1)
			f[k - 1].data[f[k - 1].len / 2] ^= 1;
		json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType",
							IMG_MT_OCI_LAYER_GZ, "digest", ls[i].digest,
							"size", (json_int_t) ls[i].blob.len));
	}
	m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
		      IMG_MT_OCI_MANIFEST, "config", "mediaType", IMG_MT_OCI_CONFIG, "digest", cd,
		      "size", (json_int_t) strlen(cfg), "layers", layers);
	char *ms = json_dumps(m, JSON_COMPACT);
	img_hash_buf(ms, strlen(ms), md);
	snprintf(name, sizeof(name), "blobs/sha256/%s", md + 7);
	f[k++] = tf(name, ms, strlen(ms));
	idx = json_pack("{s:i,s:[{s:s,s:s,s:I,s:{s:s,s:s}}]}", "schemaVersion", 2, "manifests",
			"mediaType", IMG_MT_OCI_MANIFEST, "digest", md, "size",
			(json_int_t) strlen(ms), "annotations", "io.containerd.image.name", refname,
			"org.opencontainers.image.ref.name", "latest");
	char *is = json_dumps(idx, JSON_COMPACT);
	f[k++] = tf("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	f[k++] = tf("index.json", is, strlen(is));
	archive_files(path, f, k);
	tfiles_free(f, k);
	free(ms);
	free(is);
	free(cfg);
	json_decref(m);
	json_decref(idx);
}

#endif
