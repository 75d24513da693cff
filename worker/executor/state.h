/* The shim's state file and config, shared by shoal-shim and libworker.
 * libc only (the shim compiles state.c directly).
 *
 * state (written by the shim, atomically: tmp + rename), one "key=value" per
 * line; values escape '\\' and '\n' as "\\\\" and "\\n". */
#ifndef SHOAL_WORKER_EXECUTOR_STATE_H
#define SHOAL_WORKER_EXECUTOR_STATE_H

#include <stddef.h>
#include <stdint.h>

enum { EXEC_NONE, EXEC_CREATED, EXEC_RUNNING, EXEC_EXITED };
enum { EXEC_HEALTH_NONE, EXEC_HEALTH_STARTING, EXEC_HEALTH_HEALTHY, EXEC_HEALTH_UNHEALTHY };

struct exec_shim_state {
	int status; /* EXEC_CREATED .. EXEC_EXITED (exec.h) */
	int pid;
	uint64_t pid_start; /* /proc/<pid>/stat starttime, against pid reuse */
	int shim_pid;
	uint64_t shim_start;
	int exit_code;
	int64_t started_at, finished_at;
	int health, health_failures;
	char health_output[256];
	char err[256];
};

/* What the shim reads from shim.conf (written by exec_prepare). */
struct exec_shim_conf {
	int stop_signal;
	int64_t health_interval, health_timeout, health_start_period; /* ns */
	int health_retries;
	int has_health; /* health.argv exists */
};

/* Writes `s` to path atomically (path.tmp, fsync-free rename). 0 or -errno. */
int exec_state_write(const char *path, const struct exec_shim_state *s);

/* Reads path into *s (zeroed first; unknown keys ignored). 0 or -errno. */
int exec_state_read(const char *path, struct exec_shim_state *s);

/* Writes/reads shim.conf. 0 or -errno. */
int exec_conf_write(const char *path, const struct exec_shim_conf *c);
int exec_conf_read(const char *path, struct exec_shim_conf *c);

/* /proc/<pid>/stat starttime (field 22), 0 when the process is gone. */
uint64_t exec_proc_start(int pid);

/* Writes len bytes to path atomically with mode. 0 or -errno. */
int exec_write_file(const char *path, const void *data, size_t len, unsigned mode);

#endif
