/* Executor benchmark: shim memory and task start time.
 *
 *   bench_exec_start [N]       (root; N tasks, default 30)
 *
 * Starts N busybox tasks (`sleep 1000`) through exec_prepare + exec_start
 * (overlay rootfs, shim, runc create/start), prints the wall time and the
 * VmRSS of every shim, removes them, then runs N bare `runc run -d` of the
 * same layer as the floor. Exits non-zero only when it could not measure. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker/executor/exec.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 30, rc = 0;
	char root[128], layer[160], er[160], lr[160], cmd[2048], shim[4096], err[512];
	char *layers[1];
	double t0, t_exec, t_runc;
	long rss_sum = 0, rss_max = 0;

	if (geteuid() != 0 || n <= 0 || n > 500) {
		fprintf(stderr, "usage (as root): bench_exec_start [N<=500]\n");
		return 2;
	}
	/* The shim sits next to this binary. */
	ssize_t k = readlink("/proc/self/exe", shim, sizeof(shim) - 16);
	if (k <= 0)
		return 1;
	shim[k] = '\0';
	strcpy(strrchr(shim, '/') + 1, "shoal-shim");
	snprintf(root, sizeof(root), "/var/tmp/shoal-bench-exec-%d", getpid());
	snprintf(layer, sizeof(layer), "%s/layer", root);
	snprintf(er, sizeof(er), "%s/run", root);
	snprintf(lr, sizeof(lr), "%s/containers", root);
	snprintf(cmd, sizeof(cmd),
		 "set -e; umask 022; mkdir -p %s/bin %s/etc %s/proc %s/sys %s/dev %s/bare; "
		 "cp /bin/busybox %s/bin/; for a in $(/bin/busybox --list); do "
		 "[ $a = busybox ] || ln -s busybox %s/bin/$a; done; "
		 "echo 'root:x:0:0::/:/bin/sh' > %s/etc/passwd",
		 layer, layer, layer, layer, layer, root, layer, layer, layer);
	if (system(cmd) != 0)
		return 1;
	layers[0] = layer;
	struct exec_config c = {
	    .exec_root = er, .log_root = lr, .runtime = "runc", .shim_path = shim};
	char *ep[] = {"sleep", "1000"}, *env[] = {"PATH=/bin"};
	struct exec_image img = {
	    .layers = layers, .n_layers = 1, .cmd = ep, .n_cmd = 2, .env = env, .n_env = 1};
	char(*ids)[32] = calloc((size_t) n, 32);

	t0 = now();
	for (int i = 0; i < n; i++) {
		Shoal__Task t = SHOAL__TASK__INIT;
		Shoal__Meta m = SHOAL__META__INIT;
		Shoal__TaskSpec s = SHOAL__TASK_SPEC__INIT;
		Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;

		snprintf(ids[i], 32, "bench%dx%d", getpid(), i);
		m.id = ids[i];
		t.meta = &m;
		t.spec = &s;
		s.container = &cs;
		if (exec_prepare(&c, &t, &img, NULL, 0, err, sizeof(err)) ||
		    exec_start(&c, ids[i], err, sizeof(err))) {
			fprintf(stderr, "task %d: %s\n", i, err);
			rc = 1;
			n = i + 1;
			break;
		}
	}
	t_exec = now() - t0;
	for (int i = 0; i < n && !rc; i++) {
		struct exec_state st;
		char path[512];
		FILE *f;
		int shim_pid = 0;

		exec_inspect(&c, ids[i], &st);
		snprintf(path, sizeof(path), "%s/tasks/%s/state", er, ids[i]);
		if ((f = fopen(path, "r"))) {
			char line[256];
			while (fgets(line, sizeof(line), f))
				if (!strncmp(line, "shim_pid=", 9))
					shim_pid = atoi(line + 9);
			fclose(f);
		}
		long r = rss_kib(shim_pid);
		rss_sum += r;
		rss_max = r > rss_max ? r : rss_max;
	}
	for (int i = 0; i < n; i++)
		exec_remove(&c, ids[i], 0);

	/* Floor: bare runc run -d of the same layer, read-only, no overlay. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s/bare; runc spec; sed -i -e 's/\"terminal\": true/\"terminal\": "
		 "false/' -e 's#\"sh\"#\"sleep\", \"1000\"#' -e 's#\"path\": \"rootfs\"#\"path\": "
		 "\"%s\"#' config.json",
		 root, layer);
	if (!rc && system(cmd) != 0)
		rc = 1;
	t0 = now();
	for (int i = 0; i < n && !rc; i++) {
		snprintf(cmd, sizeof(cmd),
			 "runc --root %s/bare-rt run -d --bundle %s/bare b%dx%d </dev/null "
			 ">/dev/null 2>&1",
			 root, root, getpid(), i);
		if (system(cmd) != 0)
			rc = 1;
	}
	t_runc = now() - t0;
	snprintf(cmd, sizeof(cmd),
		 "for c in $(runc --root %s/bare-rt list -q); do runc --root %s/bare-rt delete -f "
		 "$c; done",
		 root, root);
	system(cmd);
	if (!rc) {
		printf("tasks                          %d\n", n);
		printf("shim VmRSS avg / max           %ld / %ld KiB (target < 1024)\n",
		       rss_sum / n, rss_max);
		printf("exec_prepare+exec_start x%d    %.3f s (%.1f ms each)\n", n, t_exec,
		       t_exec * 1000 / n);
		printf("bare runc run -d x%d           %.3f s (%.1f ms each)\n", n, t_runc,
		       t_runc * 1000 / n);
		printf("ratio                          %.2fx\n", t_exec / t_runc);
	}
	nftw(root, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(ids);
	return rc;
}
