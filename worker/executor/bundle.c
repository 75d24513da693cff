/* exec_prepare, exec_remove, exec_list: the task bundle on disk. */
#include "worker/executor/exec_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int exec_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

/* A directory is a mount point when its device differs from its parent's. */
static int is_mountpoint(const char *path)
{
	char parent[4200];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev;
}

static void volume_root(const struct exec_config *c, char *out, size_t len)
{
	if (c->volume_root)
		snprintf(out, len, "%s", c->volume_root);
	else
		snprintf(out, len, "%s/../volumes", c->log_root);
}

static int mount_rootfs(const char *dir, const struct exec_image *img, char *err, size_t errlen)
{
	char opts[4096], rootfs[4200];
	size_t n = 0;
	struct stat st;

	if (!img->n_layers)
		return exec_fail(err, errlen, -EINVAL, "image has no layers");
	n = (size_t) snprintf(opts, sizeof(opts), "lowerdir=");
	for (size_t i = img->n_layers; i-- > 0;) {
		const char *l = img->layers[i];

		if (!l || l[0] != '/' || strpbrk(l, ",:\\") || stat(l, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			return exec_fail(err, errlen, -EINVAL,
					 "image layer \"%s\" is not an absolute directory path "
					 "without ',' ':' '\\'",
					 l ? l : "");
		n += (size_t) snprintf(opts + n, sizeof(opts) - n, "%s%s", l, i ? ":" : "");
		if (n >= sizeof(opts))
			break;
	}
	if (n < sizeof(opts))
		n += (size_t) snprintf(opts + n, sizeof(opts) - n,
				       ",upperdir=%s/upper,workdir=%s/work", dir, dir);
	if (n >= sizeof(opts))
		return exec_fail(err, errlen, -E2BIG,
				 "%zu image layers do not fit one overlay mount's options",
				 img->n_layers);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	if (mount("overlay", rootfs, "overlay", 0, opts) < 0)
		return exec_fail(err, errlen, -errno, "mounting the rootfs overlay: %s",
				 strerror(errno));
	return 0;
}

/* The secrets tmpfs, then every file as <dir>/secrets/<index>. */
static int write_secrets(const char *dir, const struct exec_file *files, size_t n, int *mounted,
			 char *err, size_t errlen)
{
	char path[4200], opts[128];
	size_t total = 64 * 1024;

	snprintf(path, sizeof(path), "%s/secrets", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return exec_fail(err, errlen, -errno, "creating %s: %s", path, strerror(errno));
	for (size_t i = 0; i < n; i++)
		total += files[i].len + 4096;
	if (!is_mountpoint(path)) {
		snprintf(opts, sizeof(opts), "mode=0700,size=%zu", total);
		if (mount("tmpfs", path, "tmpfs", MS_NODEV | MS_NOSUID | MS_NOEXEC, opts) < 0)
			return exec_fail(err, errlen, -errno, "mounting the secrets tmpfs: %s",
					 strerror(errno));
		*mounted = 1;
	}
	for (size_t i = 0; i < n; i++) {
		int fd, rc = 0;
		size_t off = 0;

		snprintf(path, sizeof(path), "%s/secrets/%zu", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return exec_fail(err, errlen, -errno, "writing secret file %zu: %s", i,
					 strerror(errno));
		while (off < files[i].len && !rc) {
			ssize_t w = write(fd, files[i].data + off, files[i].len - off);

			if (w < 0 && errno != EINTR)
				rc = -errno;
			else if (w > 0)
				off += (size_t) w;
		}
		if (!rc && (fchown(fd, files[i].uid, files[i].gid) < 0 ||
			    fchmod(fd, files[i].mode & 07777) < 0))
			rc = -errno;
		close(fd);
		if (rc)
			return exec_fail(err, errlen, rc, "writing secret file %zu: %s", i,
					 strerror(-rc));
	}
	return 0;
}

static int write_str(const char *dir, const char *name, const char *s, unsigned mode)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return exec_write_file(path, s, strlen(s), mode);
}

static int write_argv(const char *dir, char **argv)
{
	char path[4200], *buf;
	size_t n = 0, cap = 1;
	int rc;

	snprintf(path, sizeof(path), "%s/health.argv", dir);
	if (!argv) {
		unlink(path);
		return 0;
	}
	for (char **p = argv; *p; p++)
		cap += strlen(*p) + 1;
	if (!(buf = malloc(cap)))
		return -ENOMEM;
	for (char **p = argv; *p; p++) {
		size_t l = strlen(*p) + 1;

		memcpy(buf + n, *p, l);
		n += l;
	}
	rc = exec_write_file(path, buf, n, 0600);
	free(buf);
	return rc;
}

int exec_prepare(const struct exec_config *c, const Shoal__Task *t, const struct exec_image *img,
		 const struct exec_file *files, size_t n_files, char *err, size_t errlen)
{
	char dir[4096], path[4200], vroot[4096], *json = NULL;
	struct exec_spec_out out = {0};
	struct exec_spec_in in = {0};
	int rc, mounted_root = 0, mounted_secrets = 0, rootfd = -1;

	if (!c || !c->exec_root || c->exec_root[0] != '/' || !c->log_root || c->log_root[0] != '/')
		return exec_fail(err, errlen, -EINVAL, "exec_root and log_root must be absolute");
	if (!t || !t->meta || !exec_id_valid(t->meta->id))
		return exec_fail(err, errlen, -EINVAL, "task id is missing or invalid");
	if (!t->spec || !t->spec->container)
		return exec_fail(err, errlen, -EINVAL, "task %s has no container spec",
				 t->meta->id);
	if ((rc = exec_task_path(c, t->meta->id, NULL, dir, sizeof(dir))))
		return exec_fail(err, errlen, rc, "exec_root is too long");
	for (const char *sub = "rootfs\0upper\0work\0"; *sub; sub += strlen(sub) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
		if ((rc = exec_mkdir_p(path, 0700)))
			return exec_fail(err, errlen, rc, "creating %s: %s", path, strerror(-rc));
	}
	/* The overlay's root directory takes the upper dir's mode: not 0700,
	 * or a non-root container user cannot walk its own "/". */
	snprintf(path, sizeof(path), "%s/upper", dir);
	if (chmod(path, 0755) < 0)
		return exec_fail(err, errlen, -errno, "chmod %s: %s", path, strerror(errno));
	if ((rc = exec_mkdir_p(c->log_root, 0750)))
		return exec_fail(err, errlen, rc, "creating %s: %s", c->log_root, strerror(-rc));
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	if (!is_mountpoint(path)) {
		if ((rc = mount_rootfs(dir, img, err, errlen)))
			return rc;
		mounted_root = 1;
	}
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = exec_fail(err, errlen, -errno, "opening the rootfs: %s", strerror(errno));
		goto fail;
	}
	if (n_files && (rc = write_secrets(dir, files, n_files, &mounted_secrets, err, errlen)))
		goto fail;
	volume_root(c, vroot, sizeof(vroot));
	in = (struct exec_spec_in){.t = t,
				   .img = img,
				   .files = files,
				   .n_files = n_files,
				   .c = c,
				   .bundle = dir,
				   .rootfd = rootfd,
				   .volume_root = vroot};
	if ((rc = exec_spec_build(&in, &out, err, errlen)))
		goto fail;
	if ((rc = exec_mkdir_in_root(rootfd, out.workdir, 0755))) {
		exec_fail(err, errlen, rc, "creating working directory %s: %s", out.workdir,
			  strerror(-rc));
		goto fail;
	}
	json = json_dumps(out.config, JSON_INDENT(1));
	if (!json) {
		rc = -ENOMEM;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/shim.conf", dir);
	snprintf(vroot, sizeof(vroot), "%s\n", out.hostname);
	if ((rc = write_str(dir, "config.json", json, 0600)) ||
	    (rc = write_str(dir, "hosts", out.hosts, 0644)) ||
	    (rc = write_str(dir, "resolv.conf", out.resolv, 0644)) ||
	    (rc = write_str(dir, "hostname", vroot, 0644)) ||
	    (rc = exec_conf_write(path, &out.shim)) || (rc = write_argv(dir, out.health_argv))) {
		exec_fail(err, errlen, rc, "writing the bundle files: %s", strerror(-rc));
		goto fail;
	}
	free(json);
	close(rootfd);
	exec_spec_out_free(&out);
	return 0;
fail:
	free(json);
	exec_spec_out_free(&out);
	if (rootfd >= 0)
		close(rootfd);
	if (mounted_secrets) {
		snprintf(path, sizeof(path), "%s/secrets", dir);
		umount2(path, MNT_DETACH);
	}
	if (mounted_root) {
		snprintf(path, sizeof(path), "%s/rootfs", dir);
		umount2(path, MNT_DETACH);
	}
	return rc;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

/* rm -rf that never crosses into a mount still there. */
static int rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return lstat(path, &st) == 0 ? -EBUSY : 0;
}

static void unmount_all(const char *path)
{
	/* Stacked mounts come off one by one; a busy one is detached. */
	for (int i = 0; i < 8; i++) {
		if (umount2(path, 0) == 0)
			continue;
		if (errno == EBUSY && umount2(path, MNT_DETACH) == 0)
			continue;
		break;
	}
}

int exec_remove(const struct exec_config *c, const char *task_id, int keep_logs)
{
	char dir[4096], path[4200], vroot[4096];
	struct exec_shim_state s;
	int rc = 0, e;

	if (!exec_id_valid(task_id))
		return -EINVAL;
	if (exec_task_path(c, task_id, NULL, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/state", dir);
	if (exec_state_read(path, &s) == 0) {
		if (s.status == EXEC_RUNNING)
			exec_kill_and_wait(s.pid, s.pid_start, SIGKILL, 10000);
		/* The shim exits once it recorded the exit; do not wait forever. */
		if (exec_kill_and_wait(s.shim_pid, s.shim_start, 0, 3000) == -ETIMEDOUT)
			exec_kill_and_wait(s.shim_pid, s.shim_start, SIGKILL, 3000);
	}
	const char *del[] = {"delete", "-f", task_id, NULL};
	exec_runtime_run(c, del, NULL, 0);
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	unmount_all(path);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	unmount_all(path);
	if ((e = rm_tree(dir)))
		rc = e;
	if (!keep_logs) {
		snprintf(path, sizeof(path), "%s/%s", c->log_root, task_id);
		if ((e = rm_tree(path)) && !rc)
			rc = e;
	}
	/* Anonymous volumes (<id>-<n>) go with the task, as swarmkit removes
	 * containers with RemoveVolumes. */
	volume_root(c, vroot, sizeof(vroot));
	DIR *d = opendir(vroot);
	if (d) {
		size_t n = strlen(task_id);
		struct dirent *de;

		while ((de = readdir(d))) {
			if (!strncmp(de->d_name, task_id, n) && de->d_name[n] == '-') {
				snprintf(path, sizeof(path), "%s/%s", vroot, de->d_name);
				rm_tree(path);
			}
		}
		closedir(d);
	}
	return rc;
}

int exec_list(const struct exec_config *c, char ***ids, size_t *n)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t k = 0;

	*ids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/tasks", c->exec_root);
	if (!(d = opendir(path)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char **x;

		if (!exec_id_valid(de->d_name) || de->d_type != DT_DIR)
			continue;
		if (!(x = realloc(v, (k + 1) * sizeof(*v))) || !(x[k] = strdup(de->d_name))) {
			closedir(d);
			exec_list_free(x ? x : v, k);
			return -ENOMEM;
		}
		v = x;
		k++;
	}
	closedir(d);
	*ids = v;
	*n = k;
	return 0;
}

void exec_list_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}
