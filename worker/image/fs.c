/* img fs: paths, digests, atomic writes and bounded reads for the store. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/image/img_int.h"

void img_hash_init(struct img_hash *h)
{
	crypto_hash_sha256_init(&h->st);
}

void img_hash_update(struct img_hash *h, const void *p, size_t n)
{
	crypto_hash_sha256_update(&h->st, p, n);
}

void img_hash_final(struct img_hash *h, char out[72])
{
	unsigned char d[32];

	crypto_hash_sha256_final(&h->st, d);
	memcpy(out, "sha256:", 7);
	sodium_bin2hex(out + 7, 65, d, sizeof(d));
}

void img_hash_buf(const void *p, size_t n, char out[72])
{
	struct img_hash h;

	img_hash_init(&h);
	img_hash_update(&h, p, n);
	img_hash_final(&h, out);
}

char *img_path(const struct img_store *s, const char *fmt, ...)
{
	char *rel = NULL, *out = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&out, "%s/%s", s->root, rel) < 0)
		abort();
	free(rel);
	return out;
}

char *img_blob_path(const struct img_store *s, const char *digest)
{
	return img_path(s, "blobs/sha256/%s", digest + 7);
}

int img_blob_exists(const struct img_store *s, const char *digest)
{
	char *p = img_blob_path(s, digest);
	struct stat st;
	int ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return ok;
}

int img_tmp_file(const struct img_store *s, char **path)
{
	char *p = img_path(s, "tmp/blob-XXXXXX");
	int fd = mkstemp(p);

	if (fd < 0) {
		int rv = -errno;
		free(p);
		return rv;
	}
	*path = p;
	return fd;
}

int img_tmp_dir(const struct img_store *s, const char *prefix, char **path)
{
	char *p = img_path(s, "tmp/%s-XXXXXX", prefix);

	if (!mkdtemp(p)) {
		int rv = -errno;
		free(p);
		return rv;
	}
	*path = p;
	return 0;
}

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	int rv = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rv = -errno;
	close(fd);
	return rv;
}

int img_blob_commit(const struct img_store *s, const char *tmp, const char *digest)
{
	char *dst = img_blob_path(s, digest), *dir = img_path(s, "blobs/sha256");
	int rv = fsync_path(tmp, 0);

	if (rv == 0 && rename(tmp, dst) != 0)
		rv = -errno;
	if (rv == 0)
		rv = fsync_path(dir, 1);
	if (rv)
		unlink(tmp);
	free(dst);
	free(dir);
	return rv;
}

/* Writes all of p to fd. 0, -errno, or -EIO when write() makes no progress. */
static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t) w;
	}
	return 0;
}

int img_blob_put(const struct img_store *s, const char *digest, const void *p, size_t len)
{
	char *tmp = NULL;
	int fd, rv;

	if (img_blob_exists(s, digest))
		return 0;
	fd = img_tmp_file(s, &tmp);
	if (fd < 0)
		return fd;
	rv = write_all(fd, p, len);
	close(fd);
	if (rv == 0)
		rv = img_blob_commit(s, tmp, digest);
	else
		unlink(tmp);
	free(tmp);
	return rv;
}

int img_file_digest(const char *path, char out[72], uint64_t *size)
{
	struct img_hash h;
	uint8_t buf[65536];
	uint64_t total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	img_hash_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rv = -errno;
			close(fd);
			return rv;
		}
		img_hash_update(&h, buf, (size_t) n);
		total += (uint64_t) n;
	}
	close(fd);
	img_hash_final(&h, out);
	if (size)
		*size = total;
	return 0;
}

int img_read_file(const char *path, uint64_t max, char **out, size_t *len)
{
	struct buf b = BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	for (;;) {
		uint8_t *p = buf_reserve(&b, 65536);
		n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b.len += (size_t) n;
		if (b.len > max) {
			close(fd);
			buf_free(&b);
			return -EMSGSIZE;
		}
	}
	close(fd);
	if (n < 0) {
		buf_free(&b);
		return -EIO;
	}
	buf_append_u8(&b, 0);
	*out = (char *) buf_steal(&b, len);
	*len -= 1;
	return 0;
}

int img_read_json(const char *path, uint64_t max, const char *what, json_t **out, char *errmsg,
		  size_t errlen)
{
	json_error_t je;
	char *data;
	size_t len;
	int rv = img_read_file(path, max, &data, &len);

	if (rv == -EMSGSIZE) {
		err_why(errmsg, errlen, "%s is larger than %llu bytes", what,
			(unsigned long long) max);
		return rv;
	}
	if (rv) {
		err_why(errmsg, errlen, "cannot read %s: %s", what, err_str(rv));
		return rv;
	}
	*out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (!*out || !json_is_object(*out)) {
		err_why(errmsg, errlen, "%s is not a JSON object%s%s", what, *out ? "" : ": ",
			*out ? "" : je.text);
		json_decref(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

int img_write_atomic(const char *path, const void *data, size_t len)
{
	char *tmp = NULL, *dir = xstrdup(path), *slash;
	int fd, rv = 0;

	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
		abort();
	fd = mkstemp(tmp);
	if (fd < 0) {
		rv = -errno;
		goto out;
	}
	rv = write_all(fd, data, len);
	if (rv == 0 && fchmod(fd, 0600) != 0)
		rv = -errno;
	if (rv == 0 && fsync(fd) != 0)
		rv = -errno;
	close(fd);
	if (rv == 0 && rename(tmp, path) != 0)
		rv = -errno;
	if (rv)
		unlink(tmp);
	slash = strrchr(dir, '/');
	if (rv == 0 && slash) {
		*slash = '\0';
		rv = fsync_path(*dir ? dir : "/", 1);
	}
out:
	free(tmp);
	free(dir);
	return rv;
}

int img_mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rv = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rv = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rv;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

int img_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? 0 : -errno;
	/* Layers may hold directories without write or search permission. */
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return errno ? -errno : -EIO;
	return 0;
}
