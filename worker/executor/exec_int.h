/* exec internals shared by the executor's files and its unit tests. */
#ifndef SHOAL_WORKER_EXECUTOR_EXEC_INT_H
#define SHOAL_WORKER_EXECUTOR_EXEC_INT_H

#include <jansson.h>
#include <stdarg.h>

#include "worker/executor/exec.h"
#include "worker/executor/state.h"

/* What exec_spec_build needs besides the task. */
struct exec_spec_in {
	const Shoal__Task *t;
	const struct exec_image *img;
	const struct exec_file *files;
	size_t n_files;
	const struct exec_config *c;
	const char *bundle;	 /* absolute bundle directory */
	int rootfd;		 /* the rootfs (O_PATH dir) for user/group lookups; -1 = none */
	const char *volume_root; /* resolved; named volumes are <volume_root>/<name>/_data */
};

/* What exec_spec_build decided besides config.json. */
struct exec_spec_out {
	json_t *config; /* OCI runtime spec; caller json_decref()s */
	char hostname[65];
	char *hosts;	    /* /etc/hosts content, malloc'd */
	char *resolv;	    /* /etc/resolv.conf content, malloc'd */
	char **health_argv; /* NULL-terminated, malloc'd; NULL = no health check */
	struct exec_shim_conf shim;
	char workdir[4096];
};

/* Builds the OCI config of in->t and everything else prepare writes.
 * Creates named volume directories. Returns 0 (free with exec_spec_out_free)
 * or a negative code with a message in err. */
int exec_spec_build(const struct exec_spec_in *in, struct exec_spec_out *out, char *err,
		    size_t errlen);
void exec_spec_out_free(struct exec_spec_out *out);

/* Normalizes an absolute container path ("//a/./b/" -> "/a/b") into out.
 * Refuses relative paths and ".." components. 0 or -EINVAL. */
int exec_clean_path(const char *p, char *out, size_t outlen);

/* Task ids are used as path components: 1..64 of [a-zA-Z0-9_.-], no leading '.'. */
int exec_id_valid(const char *id);

/* Resolves the container user ("", "name", "uid", "name:group", "uid:gid")
 * and extra groups against rootfd's /etc/passwd and /etc/group.
 * *gids is malloc'd. 0 or -EINVAL with a message. */
int exec_user_resolve(int rootfd, const char *user, char *const *groups, size_t n_groups,
		      uint32_t *uid, uint32_t *gid, uint32_t **gids, size_t *n_gids, char *err,
		      size_t errlen);

/* Creates `path` (absolute, clean) inside the root, following symlinks only
 * within it. 0 or -errno. */
int exec_mkdir_in_root(int rootfd, const char *path, unsigned mode);

/* Creates `path` and its missing parents with `mode` (existing ones are
 * fine), like `mkdir -p`. 0, -ENAMETOOLONG past 4095 bytes, or -errno. */
int exec_mkdir_p(const char *path, unsigned mode);

/* Formats into err and returns code. */
int exec_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Paths: exec_root/tasks/<id>[/<name>], exec_root/runtime, log_root/<id>. */
int exec_task_path(const struct exec_config *c, const char *id, const char *name, char *out,
		   size_t outlen);

/* The OCI mounts array of a task (mounts.c). 0 or -errno with a message. */
int exec_spec_mounts(const struct exec_spec_in *in, json_t *mounts, char *err, size_t errlen);

/* /etc/hosts and /etc/resolv.conf contents, malloc'd; NULL with a message. */
char *exec_hosts_content(const Shoal__ContainerSpec *cs, char *err, size_t errlen);
char *exec_resolv_content(const Shoal__ContainerSpec *cs, char *err, size_t errlen);

/* Runs `runtime --root <exec_root>/runtime args...` (args NULL-terminated),
 * its output into out. 0 on exit status 0, else -EIO or -errno. */
int exec_runtime_run(const struct exec_config *c, const char *const *args, char *out,
		     size_t outlen);

/* Sends sig (0 = none) to pid if it is still the process that started at
 * `start` (exec_proc_start), then waits up to timeout_ms for its exit.
 * 0 when it exited or was gone, -ETIMEDOUT, or -errno. */
int exec_kill_and_wait(int pid, uint64_t start, int sig, int64_t timeout_ms);

#endif
