/* img layer: unpacking one layer blob into layers/<diff-id hex>/diff.
 *
 * The blob (tar, tar+gzip or tar+zstd, told apart by their magic) is read
 * through two libarchive readers: a "raw" reader that only decompresses,
 * whose bytes are hashed (the diff_id) and counted (the bound), feeding a
 * tar reader. Entries are written with *at() calls relative to directory
 * descriptors opened component by component with O_NOFOLLOW, so nothing in
 * the layer -- a symlink, a `..`, an absolute name, a hard link target --
 * can make us write outside the layer directory. Device nodes are refused;
 * fifos are allowed (docker allows them). Whiteouts become overlayfs ones:
 * `.wh.<name>` a 0/0 character device, `.wh..wh..opq` the
 * trusted.overlay.opaque=y xattr on its directory.
 *
 * The tree is built in tmp/ and renamed into layers/ once complete and
 * synced; when two threads unpack the same layer, the second rename fails
 * and its copy is discarded. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/image/img_int.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META	  ".wh..wh."

struct src {
	struct archive *raw;
	struct img_hash h;
	uint64_t total, max;
	int over;
};

/* Feeds the tar reader with decompressed bytes, hashing and counting. */
static la_ssize_t src_read(struct archive *a, void *arg, const void **out)
{
	struct src *s = arg;
	const void *b;
	size_t n;
	la_int64_t off;
	int r = archive_read_data_block(s->raw, &b, &n, &off);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN) {
		archive_set_error(a, EIO, "%s", archive_error_string(s->raw));
		return -1;
	}
	img_hash_update(&s->h, b, n);
	s->total += n;
	if (s->total > s->max) {
		s->over = 1;
		/* libarchive's formatter knows %ju, not %llu. */
		archive_set_error(a, EMSGSIZE, "uncompressed layer exceeds %ju bytes",
				  (uintmax_t) s->max);
		return -1;
	}
	*out = b;
	return (la_ssize_t) n;
}

struct unpack {
	struct img_store *s;
	int rootfd; /* O_PATH of the diff directory */
	char *err;
	size_t errlen;
	const char *name; /* current entry, for messages */
	const struct src *src;
};

static int fail(struct unpack *u, int rv, const char *fmt, const char *detail)
{
	err_why(u->err, u->errlen, "entry \"%s\": %s%s%s", u->name, fmt, detail ? ": " : "",
		detail ? detail : "");
	return rv;
}

/* Cleans an entry name into `out`: drops "./" and empty components, refuses
 * absolute names and "..". Returns 0, 1 for the root itself, or -EPERM. */
int img_clean_name(const char *name, char *out, size_t len)
{
	size_t o = 0;

	if (name[0] == '/')
		return -EPERM;
	for (const char *p = name; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t) (e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EPERM;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > len)
				return -ENAMETOOLONG;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n + (e ? 1 : 0);
	}
	out[o] = '\0';
	return o == 0 ? 1 : 0;
}

/* Opens directory `dir` (a cleaned relative path, "" for the root) below
 * the root without following symlinks; creates missing directories when
 * `create`. Returns an O_PATH descriptor or a negative code. */
static int open_dir(struct unpack *u, const char *dir, int create)
{
	int fd = dup(u->rootfd);
	char comp[256];

	if (fd < 0)
		return -errno;
	for (const char *p = dir; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t) (e - p) : strlen(p);
		int next;

		if (n >= sizeof(comp)) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
				int rv = -errno;
				close(fd);
				return rv;
			}
			next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int rv = errno == ENOTDIR || errno == ELOOP ? -ELOOP : -errno;
			close(fd);
			return rv;
		}
		close(fd);
		fd = next;
		p += n + (e ? 1 : 0);
	}
	return fd;
}

/* Splits a cleaned path into its directory descriptor and base name. */
static int open_parent(struct unpack *u, const char *path, int create, const char **base)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	*base = slash ? slash + 1 : path;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int) (slash - path) : 0, path);
	fd = open_dir(u, dir, create);
	if (fd == -ELOOP)
		return fail(u, -EPERM, "refusing to write through a symlink or non-directory",
			    NULL);
	if (fd < 0)
		return fail(u, fd, "cannot open its directory", err_str(fd));
	return fd;
}

/* Removes what is at dfd/base unless both it and the new entry are dirs. */
static int make_room(struct unpack *u, int dfd, const char *base, int new_is_dir)
{
	struct stat st;

	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail(u, -errno, "cannot stat", strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (new_is_dir)
			return 1;
		if (unlinkat(dfd, base, AT_REMOVEDIR) != 0)
			return fail(u, -errno, "cannot replace a directory", strerror(errno));
		return 0;
	}
	if (unlinkat(dfd, base, 0) != 0)
		return fail(u, -errno, "cannot replace an earlier entry", strerror(errno));
	return 0;
}

static void set_meta(int dfd, const char *base, struct archive_entry *e, int symlink)
{
	struct timespec ts[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
				 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};

	/* chown before chmod: chown clears set-id bits. EPERM is ignored so
	 * an unprivileged store (tests) still works. */
	if (fchownat(dfd, base, (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno != EPERM) {
		/* best effort: ownership of odd ids on odd filesystems */
	}
	if (!symlink)
		fchmodat(dfd, base, archive_entry_perm(e) & 07777, 0);
	if (!archive_entry_mtime_is_set(e))
		return;
	if (!archive_entry_atime_is_set(e))
		ts[0] = ts[1];
	utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW);
}

/* Keeps file capabilities and user xattrs; everything else (trusted.*,
 * which overlayfs interprets, security labels) is dropped. */
static void set_xattrs(int fd, struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t len;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (strcmp(name, "security.capability") == 0 || strncmp(name, "user.", 5) == 0)
			fsetxattr(fd, name, val, len, 0);
	}
}

static int write_file(struct unpack *u, struct archive *in, int dfd, const char *base,
		      struct archive_entry *e)
{
	int fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	const void *b;
	size_t n;
	la_int64_t off;
	int r, rv = 0;

	if (fd < 0)
		return fail(u, -errno, "cannot create file", strerror(errno));
	while ((r = archive_read_data_block(in, &b, &n, &off)) == ARCHIVE_OK) {
		const uint8_t *p = b;
		while (n > 0) {
			ssize_t w = pwrite(fd, p, n, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rv = fail(u, -EIO, "cannot write file", strerror(errno));
				goto out;
			}
			p += w;
			n -= (size_t) w;
			off += w;
		}
	}
	if (r != ARCHIVE_EOF) {
		rv = fail(u, u->src->over ? -EMSGSIZE : -EINVAL, "cannot read its data",
			  archive_error_string(in));
		goto out;
	}
	if (ftruncate(fd, archive_entry_size(e)) != 0) {
		rv = fail(u, -errno, "cannot size file", strerror(errno));
		goto out;
	}
	set_xattrs(fd, e);
out:
	close(fd);
	if (rv == 0)
		set_meta(dfd, base, e, 0);
	return rv;
}

static int whiteout(struct unpack *u, int dfd, const char *base)
{
	const char *victim = base + strlen(WH_PREFIX);
	int rv;

	if (strcmp(base, WH_OPAQUE) == 0) {
		int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return fail(u, -errno, "cannot open opaque directory", strerror(errno));
		rv = fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) == 0 ? 0 : -errno;
		close(fd);
		return rv ? fail(u, rv, "cannot mark directory opaque", err_str(rv)) : 0;
	}
	if (strncmp(base, WH_META, strlen(WH_META)) == 0)
		return 0; /* aufs metadata (.wh..wh.plnk, ...): not content */
	if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return fail(u, -EPERM, "malformed whiteout name", NULL);
	rv = make_room(u, dfd, victim, 0);
	if (rv < 0)
		return rv;
	if (mknodat(dfd, victim, S_IFCHR | 0000, makedev(0, 0)) != 0)
		return fail(u, -errno, "cannot create whiteout", strerror(errno));
	return 0;
}

static int hardlink(struct unpack *u, int dfd, const char *base, const char *target)
{
	char clean[4096];
	const char *tbase, *saved = u->name;
	int tfd, rv;

	rv = img_clean_name(target, clean, sizeof(clean));
	if (rv != 0)
		return fail(u, -EPERM, "hard link target escapes the layer", target);
	u->name = target;
	tfd = open_parent(u, clean, 0, &tbase);
	u->name = saved;
	if (tfd < 0)
		return tfd;
	rv = make_room(u, dfd, base, 0);
	if (rv == 0 && linkat(tfd, tbase, dfd, base, 0) != 0)
		rv = fail(u, -errno, "cannot create hard link", strerror(errno));
	close(tfd);
	return rv;
}

static int one_entry(struct unpack *u, struct archive *in, struct archive_entry *e)
{
	char clean[4096];
	const char *base, *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	int rv, dfd;

	rv = img_clean_name(u->name, clean, sizeof(clean));
	if (rv == 1)
		return 0; /* the root directory itself */
	if (rv == -ENAMETOOLONG)
		return fail(u, -EPERM, "name too long", NULL);
	if (rv)
		return fail(u, -EPERM, "path escapes the layer root", NULL);
	if (!link && (type == AE_IFCHR || type == AE_IFBLK))
		return fail(u, -EPERM, "device nodes are not allowed in layers", NULL);
	if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO)
		return fail(u, -EPERM, "unsupported entry type", NULL);
	dfd = open_parent(u, clean, 1, &base);
	if (dfd < 0)
		return dfd;
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
		rv = whiteout(u, dfd, base);
	} else if (link) {
		rv = hardlink(u, dfd, base, link);
	} else if ((rv = make_room(u, dfd, base, type == AE_IFDIR)) < 0) {
		/* message set */
	} else if (type == AE_IFDIR) {
		if (rv == 0 && mkdirat(dfd, base, 0700) != 0)
			rv = fail(u, -errno, "cannot create directory", strerror(errno));
		else
			rv = 0;
		if (rv == 0)
			set_meta(dfd, base, e, 0);
	} else if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);
		if (!t || symlinkat(t, dfd, base) != 0)
			rv = fail(u, t ? -errno : -EINVAL, "cannot create symlink",
				  t ? strerror(errno) : "no target");
		else
			set_meta(dfd, base, e, 1);
	} else if (type == AE_IFIFO) {
		if (mknodat(dfd, base, S_IFIFO | 0600, 0) != 0)
			rv = fail(u, -errno, "cannot create fifo", strerror(errno));
		else
			set_meta(dfd, base, e, 0);
	} else {
		rv = write_file(u, in, dfd, base, e);
	}
	close(dfd);
	return rv;
}

/* Unpacks `blob` into `dir`, returning the diff_id and size. */
static int unpack(struct img_store *s, const char *blob, const char *dir, char diff_id[72],
		  uint64_t *size, char *errmsg, size_t errlen)
{
	struct src src = {.max = s->lim.max_layer_bytes};
	struct archive *in = archive_read_new();
	struct archive_entry *e;
	struct unpack u = {.s = s, .err = errmsg, .errlen = errlen, .src = &src};
	uint64_t count = 0;
	int r, rv = 0;

	src.raw = archive_read_new();
	archive_read_support_filter_gzip(src.raw);
	archive_read_support_filter_zstd(src.raw);
	archive_read_support_format_raw(src.raw);
	archive_read_support_format_tar(in);
	img_hash_init(&src.h);
	u.rootfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u.rootfd < 0) {
		rv = -errno;
		err_why(errmsg, errlen, "cannot open %s: %s", dir, strerror(errno));
		goto out;
	}
	if (archive_read_open_filename(src.raw, blob, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(src.raw, &e) != ARCHIVE_OK) {
		rv = -EINVAL;
		err_why(errmsg, errlen, "cannot read layer blob: %s",
			archive_error_string(src.raw) ? archive_error_string(src.raw) : "empty");
		goto out;
	}
	if (archive_read_open(in, &src, NULL, src_read, NULL) != ARCHIVE_OK) {
		rv = src.over ? -EMSGSIZE : -EINVAL;
		err_why(errmsg, errlen, "not a tar archive: %s", archive_error_string(in));
		goto out;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		u.name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
		if (++count > s->lim.max_entries) {
			rv = -EMSGSIZE;
			err_why(errmsg, errlen, "layer has more than %llu entries",
				(unsigned long long) s->lim.max_entries);
			goto out;
		}
		if (archive_entry_size(e) < 0 ||
		    (uint64_t) archive_entry_size(e) > s->lim.max_entry_bytes) {
			rv = fail(&u, -EMSGSIZE, "entry size exceeds the per-file bound", NULL);
			goto out;
		}
		rv = one_entry(&u, in, e);
		if (rv)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		rv = src.over ? -EMSGSIZE : -EINVAL;
		err_why(errmsg, errlen, "malformed tar: %s",
			archive_error_string(in) ? archive_error_string(in) : "read error");
		goto out;
	}
	/* The diff_id covers the whole stream, padding after the end marker too. */
	for (;;) {
		const void *b;
		la_ssize_t n = src_read(in, &src, &b);
		if (n <= 0) {
			if (n < 0) {
				rv = src.over ? -EMSGSIZE : -EINVAL;
				err_why(errmsg, errlen, "malformed layer: %s",
					archive_error_string(in));
			}
			break;
		}
	}
	img_hash_final(&src.h, diff_id);
	*size = src.total;
out:
	if (u.rootfd >= 0)
		close(u.rootfd);
	archive_read_free(in);
	archive_read_free(src.raw);
	return rv;
}

int img_layer_exists(const struct img_store *s, const char *diff_id)
{
	char *p = img_path(s, "layers/%s/diff", diff_id + 7);
	struct stat st;
	int ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	return ok;
}

int img_layer_ensure(struct img_store *s, const char *blob, const char *diff_id, uint64_t *size,
		     char *errmsg, size_t errlen)
{
	char got[72], why[IMG_ERRMSG_LEN] = "", *tmp = NULL, *diff = NULL, *dst = NULL;
	uint64_t sz = 0;
	int rv, fd;

	if (img_layer_exists(s, diff_id)) {
		char *sp = img_path(s, "layers/%s/size", diff_id + 7), *txt = NULL;
		size_t len;
		if (img_read_file(sp, 64, &txt, &len) == 0)
			*size = strtoull(txt, NULL, 10);
		free(txt);
		free(sp);
		return 0;
	}
	rv = img_tmp_dir(s, "layer", &tmp);
	if (rv) {
		err_why(errmsg, errlen, "cannot create a staging directory: %s", err_str(rv));
		return rv;
	}
	if (asprintf(&diff, "%s/diff", tmp) < 0)
		abort();
	if (mkdir(diff, 0755) != 0) {
		rv = -errno;
		err_why(errmsg, errlen, "cannot create %s: %s", diff, err_str(rv));
		goto out;
	}
	rv = unpack(s, blob, diff, got, &sz, why, sizeof(why));
	if (rv) {
		err_why(errmsg, errlen, "layer %.19s: %s", diff_id, why);
		goto out;
	}
	if (strcmp(got, diff_id) != 0) {
		rv = -EBADMSG;
		err_why(errmsg, errlen,
			"layer diff_id mismatch: the config says %s, the content hashes to %s",
			diff_id, got);
		goto out;
	}
	{
		char *sp = NULL, num[32];
		if (asprintf(&sp, "%s/size", tmp) < 0)
			abort();
		snprintf(num, sizeof(num), "%llu", (unsigned long long) sz);
		rv = img_write_atomic(sp, num, strlen(num));
		free(sp);
	}
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	dst = img_path(s, "layers/%s", diff_id + 7);
	if (rv == 0 && rename(tmp, dst) != 0) {
		/* Another thread finished the same layer first: keep theirs. */
		if ((errno == ENOTEMPTY || errno == EEXIST) && img_layer_exists(s, diff_id))
			rv = 0;
		else
			rv = -errno;
		if (rv)
			err_why(errmsg, errlen, "cannot move layer into place: %s", err_str(rv));
	} else if (rv == 0) {
		free(tmp);
		tmp = NULL;
	}
	*size = sz;
out:
	if (tmp)
		img_rm_rf(tmp);
	free(tmp);
	free(diff);
	free(dst);
	return rv;
}
