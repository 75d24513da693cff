/* agent tasks: the worker's task manager.
 *
 * Takes the assignments the dispatcher streams (agent session), drives each
 * task through ACCEPTED -> PREPARING -> READY -> STARTING -> RUNNING and on to
 * COMPLETE / FAILED / REJECTED / SHUTDOWN with a runner (the executor and
 * image store behind a small table of blocking operations that run on
 * libuv's thread pool), watches running containers, and reports status
 * changes back in batches.
 *
 * Persistence: every task the node holds is written (packed Task, with the
 * agent's observed status) to `state_dir/<id>.task`, so a restarted shoald
 * picks its tasks up where they were, reattaches to running containers and
 * does not start them over. Secrets and configs are kept in memory only.
 *
 * Until the first COMPLETE assignment after a start arrives, tasks already
 * held are left running: a restart of shoald, or of the leader, never stops
 * containers by itself. */
#ifndef SHOAL_WORKER_AGENT_TASKS_H
#define SHOAL_WORKER_AGENT_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/cluster.pb-c.h"

/* A secret or config file for a task; borrowed for the duration of a call. */
struct agent_file {
	const char *target; /* absolute path in the container */
	const uint8_t *data;
	size_t len;
	uint32_t uid, gid, mode;
};

/* What the runner reports about a container. */
enum agent_cstate {
	AGENT_C_NONE = 0, /* no container (never started, or removed) */
	AGENT_C_CREATED,
	AGENT_C_RUNNING,
	AGENT_C_EXITED,
};

struct agent_cinfo {
	enum agent_cstate state;
	int pid;
	int exit_code;
	int unhealthy; /* a health check failed its retries */
	char err[256]; /* e.g. "OOM killed" */
};

/* The blocking operations, run on the thread pool (several at once for
 * different tasks; never two at once for the same task). `err` receives a
 * human message on failure. All return 0 or a negative code. */
struct agent_runner {
	void *ctx;
	/* Image (pulled if missing), root filesystem, bundle, secret files. */
	int (*prepare)(void *ctx, const Shoal__Task *t, const struct agent_file *files,
		       size_t n_files, char *err, size_t errlen);
	/* Starts the prepared container; returns once it runs. */
	int (*start)(void *ctx, const Shoal__Task *t, char *err, size_t errlen);
	int (*inspect)(void *ctx, const char *task_id, struct agent_cinfo *out);
	/* Stop signal, then kill after the task's grace period. */
	int (*stop)(void *ctx, const Shoal__Task *t);
	/* Deletes the container, its root filesystem, bundle and secret files. */
	int (*remove)(void *ctx, const char *task_id);
};

struct agent_tasks;

/* Hands a status batch to the session; returns 0 when it was sent (then
 * `done(arg, status)` must be called once with the outcome), or non-zero
 * when it cannot be sent now (not connected). */
typedef int (*agent_report_fn)(void *ctx, Shoal__UpdateTaskStatusRequest *r,
			       void (*done)(void *arg, int status), void *arg);

struct agent_tasks_config {
	const char *state_dir; /* copied; created if missing */
	const char *node_id;   /* copied */
	struct agent_runner runner;
	agent_report_fn report;
	void *report_ctx;
	uint64_t poll_ms; /* container watch period; 0 = 250 ms */
};

/* Loads persisted tasks and starts watching them. Returns 0 and *out, or a
 * negative code (state dir unusable). */
int agent_tasks_start(uv_loop_t *loop, const struct agent_tasks_config *cfg,
		      struct agent_tasks **out);

/* Applies an assignments message (borrowed). */
void agent_tasks_assign(struct agent_tasks *a, const Shoal__AssignmentsMessage *m);

/* The session (re)connected: every task's status is reported again, since
 * the new leader may have missed some. */
void agent_tasks_resync(struct agent_tasks *a);

/* Stops the manager (containers keep running); `cb` runs once operations in
 * flight finished and handles are closed, then `a` is freed. */
void agent_tasks_stop(struct agent_tasks *a, void (*cb)(void *arg), void *arg);

/* Stops and removes every task (leaving the swarm), then stops the
 * manager as agent_tasks_stop does: `cb` runs once all are gone. */
void agent_tasks_remove_all(struct agent_tasks *a, void (*cb)(void *arg), void *arg);

/* Number of tasks held, and how many of them are RUNNING (for tests, info). */
size_t agent_tasks_count(const struct agent_tasks *a, size_t *running);

/* Calls fn for every held task (borrowed, with the agent's observed status)
 * until it returns non-zero. */
int agent_tasks_foreach(const struct agent_tasks *a, int (*fn)(const Shoal__Task *t, void *arg),
			void *arg);

#endif
