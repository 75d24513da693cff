/* agent runner: the task manager's operations (tasks.h) over the real
 * executor (worker/executor) and image store (worker/image). */
#ifndef SHOAL_WORKER_AGENT_RUNNER_H
#define SHOAL_WORKER_AGENT_RUNNER_H

#include "worker/agent/tasks.h"
#include "worker/executor/exec.h"
#include "worker/image/img.h"

/* The context the operations use; both borrowed members must outlive every
 * operation in flight. */
struct agent_exec_runner {
	struct exec_config exec; /* strings borrowed */
	struct img_store *img;
};

/* Fills `out` with operations running on `ctx`. Images missing from the
 * store are pulled (with the task's registry auth) during prepare. */
void agent_runner_init(struct agent_runner *out, struct agent_exec_runner *ctx);

#endif
