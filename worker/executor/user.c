/* Container paths, users and groups, resolved inside the rootfs without
 * leaving it (openat2 RESOLVE_IN_ROOT: absolute symlinks in an image point
 * into the image, not at the host). */
#include "worker/executor/exec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DB_MAX (1024 * 1024) /* /etc/passwd or /etc/group larger than this is refused */

int exec_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int exec_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 64 || id[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

int exec_task_path(const struct exec_config *c, const char *id, const char *name, char *out,
		   size_t outlen)
{
	int n;

	if (name)
		n = snprintf(out, outlen, "%s/tasks/%s/%s", c->exec_root, id, name);
	else
		n = snprintf(out, outlen, "%s/tasks/%s", c->exec_root, id);
	return n < 0 || (size_t) n >= outlen ? -ENAMETOOLONG : 0;
}

int exec_clean_path(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	if (!p || p[0] != '/')
		return -EINVAL;
	while (*p) {
		const char *s, *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		len = (size_t) (e - s);
		p = e;
		if (len == 1 && s[0] == '.')
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return -EINVAL;
		if (n + 1 + len + 1 > outlen)
			return -EINVAL;
		out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	if (n == 0) {
		if (outlen < 2)
			return -EINVAL;
		out[n++] = '/';
	}
	out[n] = '\0';
	return 0;
}

static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t) flags | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

int exec_mkdir_in_root(int rootfd, const char *path, unsigned mode)
{
	char prefix[4096];
	size_t n = strlen(path);

	if (n >= sizeof(prefix))
		return -ENAMETOOLONG;
	for (size_t i = 1; i <= n; i++) {
		int fd, pfd;
		const char *last;

		if (i < n && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		fd = open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return -errno;
		last = strrchr(prefix, '/');
		prefix[last - prefix] = '\0';
		pfd = open_in_root(rootfd, prefix[0] ? prefix : "/", O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return -errno;
		if (mkdirat(pfd, last + 1, mode) < 0 && errno != EEXIST) {
			int err = -errno;

			close(pfd);
			return err;
		}
		close(pfd);
	}
	return 0;
}

/* Reads rootfs/etc/<name> into a malloc'd NUL-terminated buffer; NULL when
 * missing (an image without the file). */
static char *read_db(int rootfd, const char *name)
{
	int fd;
	char *buf;
	ssize_t n;
	size_t have = 0;

	if (rootfd < 0)
		return NULL;
	fd = open_in_root(rootfd, name, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf = malloc(DB_MAX + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	while (have < DB_MAX && (n = read(fd, buf + have, DB_MAX - have)) > 0)
		have += (size_t) n;
	close(fd);
	buf[have] = '\0';
	return buf;
}

static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0x7fffffff)
		return -EINVAL;
	*out = (uint32_t) v;
	return 0;
}

/* Finds the line of db whose field 0 equals name (or field 2 equals id when
 * name is NULL); copies up to 4 ':' fields. 0 found, -ENOENT not. */
static int db_find(char *db, const char *name, uint32_t id, char fields[4][256])
{
	char *save = NULL;

	for (char *l = strtok_r(db, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char f[4][256] = {{0}};
		char *p = l;
		uint32_t fid;

		for (int i = 0; i < 4 && p; i++) {
			char *c = strchr(p, ':');
			size_t len = c ? (size_t) (c - p) : strlen(p);

			if (len >= 256)
				len = 255;
			memcpy(f[i], p, len);
			p = c ? c + 1 : NULL;
		}
		if (name ? !strcmp(f[0], name) : (!parse_id(f[2], &fid) && fid == id)) {
			memcpy(fields, f, sizeof(f));
			return 0;
		}
	}
	return -ENOENT;
}

static int add_gid(uint32_t **gids, size_t *n, uint32_t g)
{
	uint32_t *x;

	for (size_t i = 0; i < *n; i++)
		if ((*gids)[i] == g)
			return 0;
	x = realloc(*gids, (*n + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	x[(*n)++] = g;
	*gids = x;
	return 0;
}

static int lookup_group(int rootfd, const char *g, uint32_t *gid, char *err, size_t errlen)
{
	char f[4][256];
	char *db;
	int rc;

	if (!parse_id(g, gid))
		return 0;
	db = read_db(rootfd, "/etc/group");
	rc = db ? db_find(db, g, 0, f) : -ENOENT;
	free(db);
	if (rc || parse_id(f[2], gid))
		return exec_fail(err, errlen, -EINVAL, "group \"%s\" not found in /etc/group", g);
	return 0;
}

int exec_user_resolve(int rootfd, const char *user, char *const *groups, size_t n_groups,
		      uint32_t *uid, uint32_t *gid, uint32_t **gids, size_t *n_gids, char *err,
		      size_t errlen)
{
	char u[256], f[4][256], uname[256] = "";
	const char *grp = NULL;
	char *db, *colon;
	int rc, found;

	*uid = *gid = 0;
	*gids = NULL;
	*n_gids = 0;
	if (!user)
		user = "";
	if (strlen(user) >= sizeof(u))
		return exec_fail(err, errlen, -EINVAL, "user \"%.32s...\" is too long", user);
	strcpy(u, user);
	colon = strchr(u, ':');
	if (colon) {
		*colon = '\0';
		grp = colon + 1;
	}
	if (!u[0])
		strcpy(u, "0"); /* Docker: no user = root */
	db = read_db(rootfd, "/etc/passwd");
	if (!parse_id(u, uid)) {
		found = db && !db_find(db, NULL, *uid, f);
	} else {
		found = db && !db_find(db, u, 0, f);
		if (!found) {
			free(db);
			return exec_fail(err, errlen, -EINVAL,
					 "image user \"%s\" not found in /etc/passwd", u);
		}
		if (parse_id(f[2], uid)) {
			free(db);
			return exec_fail(err, errlen, -EINVAL,
					 "bad uid for user \"%s\" in /etc/passwd", u);
		}
	}
	free(db);
	db = NULL;
	if (found) {
		snprintf(uname, sizeof(uname), "%s", f[0]);
		if (parse_id(f[3], gid))
			*gid = 0;
	}
	if (grp && *grp && (rc = lookup_group(rootfd, grp, gid, err, errlen)))
		return rc;
	/* Supplementary groups: those listing the user, then the spec's. */
	if (uname[0] && (db = read_db(rootfd, "/etc/group"))) {
		char *save = NULL;

		for (char *l = strtok_r(db, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *p = l, *members;
			uint32_t g = 0;

			for (int i = 0; i < 2 && p; i++)
				p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
			if (!p || !(members = strchr(p, ':')))
				continue;
			*members++ = '\0';
			if (parse_id(p, &g))
				continue;
			for (char *s2 = NULL, *m = strtok_r(members, ",", &s2); m;
			     m = strtok_r(NULL, ",", &s2))
				if (!strcmp(m, uname) && add_gid(gids, n_gids, g))
					goto oom;
		}
		free(db);
		db = NULL;
	}
	for (size_t i = 0; i < n_groups; i++) {
		uint32_t g = 0;

		if ((rc = lookup_group(rootfd, groups[i], &g, err, errlen))) {
			free(*gids);
			*gids = NULL;
			*n_gids = 0;
			return rc;
		}
		if (add_gid(gids, n_gids, g))
			goto oom;
	}
	return 0;
oom:
	free(db);
	free(*gids);
	*gids = NULL;
	*n_gids = 0;
	return -ENOMEM;
}
