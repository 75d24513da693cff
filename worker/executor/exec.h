/* exec: runs swarm tasks as OCI containers under runc, one shoal-shim each.
 *
 * Layout under exec_root (tmpfs, e.g. /run/shoal):
 *   tasks/<id>/config.json     OCI runtime spec
 *   tasks/<id>/rootfs          overlayfs: image layers + tasks/<id>/upper, work
 *   tasks/<id>/secrets         tmpfs holding secret/config files (bind-mounted ro)
 *   tasks/<id>/hosts, hostname, resolv.conf   generated, bind-mounted at /etc/...
 *   tasks/<id>/shim.conf, health.argv         what the shim needs
 *   tasks/<id>/state           written atomically by the shim (status, pids, exit, health)
 *   runtime/                   runc --root (container runtime state)
 * and <log_root>/<id>/log* (worker/logs/wlog.h).
 *
 * Containers get cgroup /shoal/<id> (absolute: outside shoald's own cgroup) and
 * new mount, pid, ipc, uts and network namespaces (loopback only, up).
 *
 * Every call is synchronous and may block (run them from a thread pool);
 * calls for different task ids may run concurrently. There is no global
 * mutable state. Task ids must be 1..64 characters of [a-zA-Z0-9_.-] and
 * not start with '.'. */
#ifndef SHOAL_WORKER_EXECUTOR_EXEC_H
#define SHOAL_WORKER_EXECUTOR_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/objects.pb-c.h"
#include "worker/executor/state.h"

struct exec_config {		   /* borrowed strings */
	const char *exec_root;	   /* e.g. /run/shoal */
	const char *log_root;	   /* e.g. <data-root>/containers */
	const char *volume_root;   /* named volumes; NULL = <log_root>/../volumes */
	const char *runtime;	   /* "runc" or a path; NULL = "runc" */
	const char *shim_path;	   /* the shoal-shim binary */
	const char *node_id;	   /* for hostname templates; may be NULL */
	const char *node_hostname; /* for hostname templates; may be NULL */
};

/* An image health check (Docker: Config.Healthcheck); zero = inherit default. */
struct exec_health {
	char *const *test; /* ["CMD", ...], ["CMD-SHELL", cmd], ["NONE"]; n_test 0 = none */
	size_t n_test;
	int64_t interval, timeout, start_period; /* ns */
	int retries;
};

struct exec_image { /* from the image store, borrowed */
	char *const *entrypoint;
	size_t n_entrypoint;
	char *const *cmd;
	size_t n_cmd;
	char *const *env;
	size_t n_env;
	const char *workdir;	 /* may be NULL */
	const char *user;	 /* may be NULL */
	const char *stop_signal; /* may be NULL */
	struct exec_health health;
	char *const *layers; /* unpacked layer dirs, lowest first, absolute */
	size_t n_layers;
};

struct exec_file {	     /* a secret or config to expose to the task */
	const char *target;  /* absolute path in the container, e.g. /run/secrets/db */
	const uint8_t *data; /* borrowed */
	size_t len;
	uint32_t uid, gid, mode;
};

/* EXEC_NONE.. and EXEC_HEALTH_.. are in state.h (shared with the shim). */

struct exec_state {
	int status;    /* EXEC_NONE (no bundle), EXEC_CREATED (prepared), _RUNNING, _EXITED */
	int pid;       /* container init, host pid namespace */
	int exit_code; /* 128 + signal when killed by a signal, as Docker */
	int64_t started_at, finished_at; /* unix ns */
	int health;			 /* EXEC_HEALTH_* */
	int health_failures;		 /* current failing streak */
	char health_output[256];	 /* last probe's output, truncated */
	char err[256];			 /* e.g. "OOM killed", start failures */
};

/* Creates (or repairs: it is idempotent) the bundle of task `t` under
 * exec_root/tasks/<id>/: overlay rootfs over img->layers, secrets tmpfs with
 * `files`, generated /etc files, config.json, shim.conf (see the file
 * comment). `t` needs meta.id and spec.container. Borrowed arguments are not
 * kept. Returns 0, or a negative errno-style code with a message naming what
 * was wrong in err (e.g. -EINVAL: image user "app" not found in
 * /etc/passwd; -ENOSYS for tty or init). On failure nothing is left mounted
 * for a bundle this call created; call exec_remove to clean up otherwise. */
int exec_prepare(const struct exec_config *c, const Shoal__Task *t, const struct exec_image *img,
		 const struct exec_file *files, size_t n_files, char *err, size_t errlen);

/* Starts the task's shim, which creates and starts the container. Returns 0
 * once the container process runs, -EALREADY if a shim already ran it, or an
 * error with the runtime's message in err. The shim and container outlive
 * the caller (own session, no inherited fds). Blocks at most ~30 s. */
int exec_start(const struct exec_config *c, const char *task_id, char *err, size_t errlen);

/* Fills *out from the shim's state file. A shim that died without recording
 * an exit makes the task EXITED with exit_code -1 and an err. Returns 0 or
 * -EINVAL (bad id). */
int exec_inspect(const struct exec_config *c, const char *task_id, struct exec_state *out);

/* Sends `signal` (NULL = the stop signal recorded at prepare: spec, else
 * image, else SIGTERM), waits up to grace_ns for the exit, then SIGKILL.
 * Returns 0 once exited (and recorded by the shim), -EINVAL for a bad
 * signal name, -ETIMEDOUT if it survived SIGKILL for 10 s. */
int exec_stop(const struct exec_config *c, const char *task_id, const char *signal,
	      int64_t grace_ns);

/* Sends `sig` to the container's init. 0, -ESRCH when not running. */
int exec_kill(const struct exec_config *c, const char *task_id, int sig);

/* Kills whatever runs (container, shim), deletes runtime state, unmounts
 * (lazily when busy) and removes the bundle; removes the log directory unless
 * keep_logs. Returns 0 (also when nothing existed) or the first error. */
int exec_remove(const struct exec_config *c, const char *task_id, int keep_logs);

/* Task ids with a bundle under exec_root. *ids is a malloc'd array of
 * malloc'd strings the caller frees (exec_list_free). Returns 0 or -errno. */
int exec_list(const struct exec_config *c, char ***ids, size_t *n);
void exec_list_free(char **ids, size_t n);

/* Parses "SIGTERM", "TERM", "15", "SIGRTMIN+3"; returns the number or -EINVAL. */
int exec_signal_parse(const char *s);

#endif
