/* shoal-shim internals: one process per task (see shim.c). libc only. */
#ifndef SHOAL_WORKER_EXECUTOR_SHIM_SHIM_H
#define SHOAL_WORKER_EXECUTOR_SHIM_SHIM_H

#include <stdint.h>
#include <sys/types.h>

#include "worker/executor/state.h"

struct shim_health {
	char **argv;	      /* probe command, NULL-terminated; NULL = no health check */
	char *argv_buf;	      /* backing store of argv */
	int64_t next_ns;      /* monotonic time of the next probe */
	int64_t deadline_ns;  /* probe timeout, while one runs */
	int64_t start_end_ns; /* end of the start period */
	pid_t pid;	      /* the running `runtime exec`, 0 = none */
	int fd;		      /* its output, -1 = none */
	char out[256];
	size_t nout;
	int ever_healthy;
};

struct shim {
	const char *runtime, *root, *bundle, *id, *logdir;
	char state_path[4200];
	struct exec_shim_state st;
	struct exec_shim_conf conf;
	struct shim_health h;
};

int64_t shim_mono_ns(void);

/* Forks and execs argv with stdin/stdout/stderr = in/out/err (-1 =
 * /dev/null), signals reset. Returns the pid or -errno. */
pid_t shim_spawn(char *const *argv, int in, int out, int err);

/* Writes s->st to the state file. */
void shim_save(struct shim *s);

/* Loads bundle/health.argv; leaves h->argv NULL without one. */
void shim_health_init(struct shim *s);

/* Starts a due probe or kills an overdue one; returns ms until the next
 * event (-1 = none). */
int shim_health_tick(struct shim *s);

/* Reads the probe's output (poll said h.fd is readable). */
void shim_health_read(struct shim *s);

/* A child exited: 1 when it was the probe (result recorded), else 0. */
int shim_health_reaped(struct shim *s, pid_t pid, int status);

/* Kills a running probe (the container exited). */
void shim_health_stop(struct shim *s);

#endif
