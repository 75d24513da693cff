/* agent runner: see runner.h. Runs on libuv's thread pool. */
#include "worker/agent/runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define DEFAULT_GRACE_NS (10LL * 1000000000LL)

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* The image's runtime view; pulled when the store does not have it. */
static int get_image(struct agent_exec_runner *r, const Shoal__ContainerSpec *c,
		     struct img_runtime *rt, char *err, size_t errlen)
{
	struct img_auth auth = {0};
	json_t *owner = NULL;
	int rv;

	rv = img_get_runtime(r->img, c->image, rt, err, errlen);
	if (rv != -ENOENT)
		return rv;
	if (c->pull_options && c->pull_options->registry_auth && *c->pull_options->registry_auth &&
	    img_auth_decode(c->pull_options->registry_auth, &auth, &owner, err, errlen) != 0)
		return -EINVAL;
	log_info("agent", "pulling image image=%s", c->image);
	rv = img_pull(r->img, c->image, &auth, NULL, NULL, NULL, err, errlen);
	json_decref(owner);
	if (rv)
		return rv;
	return img_get_runtime(r->img, c->image, rt, err, errlen);
}

static int op_prepare(void *ctx, const Shoal__Task *t, const struct agent_file *files,
		      size_t n_files, char *err, size_t errlen)
{
	struct agent_exec_runner *r = ctx;
	const Shoal__ContainerSpec *c = t->spec ? t->spec->container : NULL;
	struct img_runtime rt;
	struct exec_image ei = {0};
	struct exec_file *ef = NULL;
	int rv;

	if (!c || !c->image || !*c->image) {
		snprintf(err, errlen, "task has no container image");
		return -EINVAL;
	}
	memset(&rt, 0, sizeof(rt));
	rv = get_image(r, c, &rt, err, errlen);
	if (rv)
		return rv;
	ei.entrypoint = rt.entrypoint;
	ei.n_entrypoint = strv_len(rt.entrypoint);
	ei.cmd = rt.cmd;
	ei.n_cmd = strv_len(rt.cmd);
	ei.env = rt.env;
	ei.n_env = strv_len(rt.env);
	ei.workdir = rt.working_dir;
	ei.user = rt.user;
	ei.stop_signal = rt.stop_signal;
	ei.health.test = rt.health.test;
	ei.health.n_test = strv_len(rt.health.test);
	ei.health.interval = rt.health.interval_ns;
	ei.health.timeout = rt.health.timeout_ns;
	ei.health.start_period = rt.health.start_period_ns;
	ei.health.retries = (int) rt.health.retries;
	ei.layers = rt.layers;
	ei.n_layers = rt.n_layers;
	if (n_files) {
		ef = calloc(n_files, sizeof(*ef));
		if (!ef) {
			img_runtime_free(&rt);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n_files; i++) {
		ef[i].target = files[i].target;
		ef[i].data = files[i].data;
		ef[i].len = files[i].len;
		ef[i].uid = files[i].uid;
		ef[i].gid = files[i].gid;
		ef[i].mode = files[i].mode;
	}
	rv = exec_prepare(&r->exec, t, &ei, ef, n_files, err, errlen);
	free(ef);
	img_runtime_free(&rt);
	return rv;
}

static int op_start(void *ctx, const Shoal__Task *t, char *err, size_t errlen)
{
	struct agent_exec_runner *r = ctx;
	int rv = exec_start(&r->exec, t->meta->id, err, errlen);

	/* Already started by an earlier shoald: inspect tells how it went. */
	return rv == -EALREADY ? 0 : rv;
}

static int op_inspect(void *ctx, const char *task_id, struct agent_cinfo *out)
{
	struct agent_exec_runner *r = ctx;
	struct exec_state st;
	int rv = exec_inspect(&r->exec, task_id, &st);

	if (rv)
		return rv;
	memset(out, 0, sizeof(*out));
	switch (st.status) {
	case EXEC_CREATED:
		out->state = AGENT_C_CREATED;
		break;
	case EXEC_RUNNING:
		out->state = AGENT_C_RUNNING;
		break;
	case EXEC_EXITED:
		out->state = AGENT_C_EXITED;
		break;
	default:
		out->state = AGENT_C_NONE;
	}
	out->pid = st.pid;
	out->exit_code = st.exit_code;
	out->unhealthy = st.health == EXEC_HEALTH_UNHEALTHY;
	snprintf(out->err, sizeof(out->err), "%s", st.err);
	return 0;
}

static int op_stop(void *ctx, const Shoal__Task *t)
{
	struct agent_exec_runner *r = ctx;
	const Shoal__ContainerSpec *c = t->spec ? t->spec->container : NULL;
	int64_t grace = DEFAULT_GRACE_NS;

	if (c && c->opt_stop_grace_period_case ==
		     SHOAL__CONTAINER_SPEC__OPT_STOP_GRACE_PERIOD_STOP_GRACE_PERIOD)
		grace = c->stop_grace_period;
	return exec_stop(&r->exec, t->meta->id, NULL, grace);
}

static int op_remove(void *ctx, const char *task_id)
{
	struct agent_exec_runner *r = ctx;

	return exec_remove(&r->exec, task_id, 0);
}

void agent_runner_init(struct agent_runner *out, struct agent_exec_runner *ctx)
{
	out->ctx = ctx;
	out->prepare = op_prepare;
	out->start = op_start;
	out->inspect = op_inspect;
	out->stop = op_stop;
	out->remove = op_remove;
}
