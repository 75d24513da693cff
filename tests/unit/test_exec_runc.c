/* The executor against the real runtime: runc, overlayfs, the shoal-shim
 * binary, a busybox rootfs. Skips (with a message) when not root or runc is
 * missing. Every test cleans up on failure: exec_remove (runc delete -f,
 * kill by pid, umount) runs in the fini, and the exec root is removed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/executor/exec.h"
#include "worker/logs/wlog.h"

static char root[128], exec_root[160], log_root[160], layer[160];
static struct exec_config cfg;
static char *ids[8];
static int n_ids;
static int skip;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

static void run(const char *cmd)
{
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "%s: %d", cmd, rc);
}

static void setup(void)
{
	char cmd[2048];

	if (geteuid() != 0 || access("/usr/sbin/runc", X_OK) != 0 ||
	    access("/bin/busybox", X_OK) != 0) {
		skip = 1;
		return;
	}
	snprintf(root, sizeof(root), "/tmp/shoal-exec-test-%d", getpid());
	snprintf(exec_root, sizeof(exec_root), "%s/run", root);
	snprintf(log_root, sizeof(log_root), "%s/data/containers", root);
	snprintf(layer, sizeof(layer), "%s/layer", root);
	/* A busybox rootfs layer: /bin/busybox + applet links, passwd, group. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; umask 022; mkdir -p %s/bin %s/etc %s/tmp %s/proc %s/sys %s/dev; "
		 "cp /bin/busybox %s/bin/; for a in $(/bin/busybox --list); do "
		 "[ $a = busybox ] || ln -s busybox %s/bin/$a; done; "
		 "printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000::/:/bin/sh\\n' > "
		 "%s/etc/passwd; printf 'root:x:0:\\napp:x:1000:\\n' > %s/etc/group",
		 layer, layer, layer, layer, layer, layer, layer, layer, layer, layer);
	run(cmd);
	cfg = (struct exec_config){.exec_root = exec_root,
				   .log_root = log_root,
				   .runtime = "/usr/sbin/runc",
				   .shim_path = SHOAL_SHIM};
}

static void teardown(void)
{
	if (skip)
		return;
	for (int i = 0; i < n_ids; i++) {
		exec_remove(&cfg, ids[i], 0);
		free(ids[i]);
	}
	n_ids = 0;
	umount2(exec_root, MNT_DETACH);
	nftw(root, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

TestSuite(exec_runc, .init = setup, .fini = teardown, .timeout = 120);

#define SKIP_IF_NEEDED()                                                                           \
	do {                                                                                       \
		if (skip)                                                                          \
			cr_skip_test("needs root, /usr/sbin/runc and /bin/busybox");               \
	} while (0)

/* A task with a fresh id and `sh -c script`. Freed with free_task. */
struct task {
	Shoal__Task t;
	Shoal__Meta meta;
	Shoal__TaskSpec spec;
	Shoal__ContainerSpec cs;
	Shoal__HealthConfig hc;
	char id[32];
	char *cmd[3];
	char *test[2];
};

static void task_init(struct task *k, const char *script)
{
	static int seq;

	memset(k, 0, sizeof(*k));
	shoal__task__init(&k->t);
	shoal__meta__init(&k->meta);
	shoal__task_spec__init(&k->spec);
	shoal__container_spec__init(&k->cs);
	snprintf(k->id, sizeof(k->id), "t%dx%d", getpid(), seq++);
	k->meta.id = k->id;
	k->t.meta = &k->meta;
	k->t.spec = &k->spec;
	k->spec.container = &k->cs;
	k->cmd[0] = "sh";
	k->cmd[1] = "-c";
	k->cmd[2] = (char *) script;
	k->cs.command = k->cmd;
	k->cs.n_command = 3;
	ids[n_ids++] = strdup(k->id);
}

static void prepare_start(struct task *k, const struct exec_file *files, size_t n)
{
	char *layers[] = {layer};
	char *env[] = {"PATH=/bin"};
	struct exec_image img = {.layers = layers, .n_layers = 1, .env = env, .n_env = 1};
	char err[512] = "";
	int rc;

	rc = exec_prepare(&cfg, &k->t, &img, files, n, err, sizeof(err));
	cr_assert_eq(rc, 0, "prepare: %d %s", rc, err);
	rc = exec_start(&cfg, k->id, err, sizeof(err));
	cr_assert_eq(rc, 0, "start: %d %s", rc, err);
}

static void wait_exit(const char *id, struct exec_state *st, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		cr_assert_eq(exec_inspect(&cfg, id, st), 0);
		if (st->status == EXEC_EXITED)
			return;
		usleep(50000);
	}
	cr_assert_fail("task %s did not exit within %d s", id, secs);
}

static int collect(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 4096 - n, "%s:%.*s", stream == WLOG_STDERR ? "E" : "O", (int) len, data);
	return 0;
}

static void read_logs(const char *id, char *buf)
{
	char dir[256];

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/%s", log_root, id);
	cr_assert_eq(wlog_read(dir, NULL, collect, buf), 0);
}

Test(exec_runc, runs_to_exit_with_logs_and_secret)
{
	SKIP_IF_NEEDED();
	struct task k;
	struct exec_state st;
	char logs[4096];
	const uint8_t secret[] = "s3cr3t-v4lue";
	struct exec_file f = {
	    .target = "/run/secrets/s", .data = secret, .len = sizeof(secret) - 1, .mode = 0400};

	task_init(&k, "echo hello; echo err >&2; cat /run/secrets/s; echo; sleep 1; exit 3");
	prepare_start(&k, &f, 1);
	cr_assert_eq(exec_inspect(&cfg, k.id, &st), 0);
	cr_assert(st.status == EXEC_RUNNING || st.status == EXEC_EXITED);
	cr_assert_gt(st.pid, 0);
	wait_exit(k.id, &st, 20);
	cr_expect_eq(st.exit_code, 3, "exit code %d err %s", st.exit_code, st.err);
	cr_expect_gt(st.finished_at, st.started_at);
	read_logs(k.id, logs);
	cr_expect(strstr(logs, "O:hello\n") != NULL, "logs: %s", logs);
	cr_expect(strstr(logs, "E:err\n") != NULL, "logs: %s", logs);
	cr_expect(strstr(logs, "O:s3cr3t-v4lue\n") != NULL, "logs: %s", logs);
}

Test(exec_runc, loopback_up_hostname_and_secret_on_tmpfs_only)
{
	SKIP_IF_NEEDED();
	struct task k;
	struct exec_state st;
	char logs[4096], cmd[512];
	const uint8_t secret[] = "Zq8-unique-secret-Zq8";
	struct exec_file f = {
	    .target = "/run/secrets/db", .data = secret, .len = sizeof(secret) - 1, .mode = 0444};

	task_init(&k, "cat /sys/class/net/lo/flags; hostname; "
		      "grep ' /run/secrets/db ' /proc/self/mountinfo; id -u; sleep 2");
	k.cs.user = "app";
	prepare_start(&k, &f, 1);
	/* While it runs: the secret is nowhere on disk under the test root
	 * (-xdev: the tmpfs is another file system and is not searched). */
	snprintf(cmd, sizeof(cmd),
		 "[ -z \"$(find %s -xdev -type f -exec grep -l Zq8-unique {} +)\" ]", root);
	cr_expect_eq(system(cmd), 0, "secret found on disk under %s", root);
	wait_exit(k.id, &st, 20);
	cr_expect_eq(st.exit_code, 0, "exit %d err %s", st.exit_code, st.err);
	read_logs(k.id, logs);
	cr_expect(strstr(logs, "O:0x9\n") != NULL, "lo not up: %s", logs);
	char host[32];
	snprintf(host, sizeof(host), "O:%.12s\n", k.id);
	cr_expect(strstr(logs, host) != NULL, "hostname: %s", logs);
	cr_expect(strstr(logs, " - tmpfs ") != NULL, "secret not on tmpfs: %s", logs);
	cr_expect(strstr(logs, "O:1000\n") != NULL, "user app: %s", logs);
}

/* Is any mount under `path` in this mount namespace? */
static int mounted_under(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int found = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, path))
			found = 1;
	fclose(f);
	return found;
}

Test(exec_runc, survives_its_starter_then_stops_and_is_removed)
{
	SKIP_IF_NEEDED();
	struct task k;
	struct exec_state st;
	char *layers[] = {layer};
	struct exec_image img = {.layers = layers, .n_layers = 1};
	char err[512] = "";
	int status;
	pid_t child;

	task_init(&k, "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.1; done");
	cr_assert_eq(exec_prepare(&cfg, &k.t, &img, NULL, 0, err, sizeof(err)), 0, "%s", err);
	/* The starter is a child that exits right after exec_start. */
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(exec_start(&cfg, k.id, err, sizeof(err)) == 0 ? 0 : 1);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	usleep(300000);
	cr_assert_eq(exec_inspect(&cfg, k.id, &st), 0);
	cr_assert_eq(st.status, EXEC_RUNNING, "status %d err %s", st.status, st.err);
	int pid = st.pid;
	cr_assert_eq(kill(pid, 0), 0);
	cr_expect_eq(exec_start(&cfg, k.id, err, sizeof(err)), -EALREADY);

	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(exec_stop(&cfg, k.id, NULL, 10LL * 1000000000), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_expect_lt(b.tv_sec - a.tv_sec, 5, "SIGTERM was handled: no need for the grace");
	cr_assert_eq(exec_inspect(&cfg, k.id, &st), 0);
	cr_expect_eq(st.status, EXEC_EXITED);
	cr_expect_eq(st.exit_code, 0, "exit %d err %s", st.exit_code, st.err);
	char logs[4096];
	read_logs(k.id, logs);
	cr_expect(strstr(logs, "O:got-term\n") != NULL, "logs: %s", logs);

	cr_assert(mounted_under(k.id));
	cr_assert_eq(exec_remove(&cfg, k.id, 0), 0);
	cr_expect(!mounted_under(k.id), "mounts left after exec_remove");
	cr_expect_neq(kill(pid, 0), 0);
	cr_assert_eq(exec_inspect(&cfg, k.id, &st), 0);
	cr_expect_eq(st.status, EXEC_NONE);
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%s", log_root, k.id);
	cr_expect_neq(access(dir, F_OK), 0, "logs removed");
}

Test(exec_runc, stop_kills_after_grace_and_remove_kills_running)
{
	SKIP_IF_NEEDED();
	struct task k, k2;
	struct exec_state st;

	/* pid 1 without a TERM handler ignores TERM: SIGKILL after the grace. */
	task_init(&k, "sleep 100");
	prepare_start(&k, NULL, 0);
	cr_assert_eq(exec_stop(&cfg, k.id, "SIGTERM", 300000000), 0);
	cr_assert_eq(exec_inspect(&cfg, k.id, &st), 0);
	cr_expect_eq(st.status, EXEC_EXITED);
	cr_expect_eq(st.exit_code, 137);

	task_init(&k2, "sleep 100");
	prepare_start(&k2, NULL, 0);
	cr_assert_eq(exec_inspect(&cfg, k2.id, &st), 0);
	int pid = st.pid;
	cr_assert_eq(exec_kill(&cfg, k2.id, 0), 0);
	cr_assert_eq(exec_remove(&cfg, k2.id, 0), 0);
	cr_expect_neq(kill(pid, 0), 0, "container still running after remove");
	cr_expect(!mounted_under(k2.id));
}

Test(exec_runc, health_turns_unhealthy_and_healthy)
{
	SKIP_IF_NEEDED();
	struct task bad, good;
	struct exec_state st;
	char *fail_test[] = {"CMD-SHELL", "echo probe-out; exit 1"};
	char *ok_test[] = {"CMD", "true"};

	task_init(&bad, "sleep 30");
	bad.cs.healthcheck = &bad.hc;
	shoal__health_config__init(&bad.hc);
	bad.hc.test = fail_test;
	bad.hc.n_test = 2;
	bad.hc.interval = 200000000;
	bad.hc.timeout = 2000000000;
	bad.hc.retries = 2;
	prepare_start(&bad, NULL, 0);

	task_init(&good, "sleep 30");
	good.cs.healthcheck = &good.hc;
	shoal__health_config__init(&good.hc);
	good.hc.test = ok_test;
	good.hc.n_test = 2;
	good.hc.interval = 200000000;
	prepare_start(&good, NULL, 0);

	cr_assert_eq(exec_inspect(&cfg, bad.id, &st), 0);
	cr_expect_eq(st.health, EXEC_HEALTH_STARTING);
	int bad_done = 0, good_done = 0;
	for (int i = 0; i < 200 && !(bad_done && good_done); i++) {
		usleep(50000);
		cr_assert_eq(exec_inspect(&cfg, bad.id, &st), 0);
		if (st.health == EXEC_HEALTH_UNHEALTHY) {
			bad_done = 1;
			cr_expect_geq(st.health_failures, 2);
			cr_expect(strstr(st.health_output, "probe-out") != NULL, "%s",
				  st.health_output);
		}
		cr_assert_eq(exec_inspect(&cfg, good.id, &st), 0);
		good_done |= st.health == EXEC_HEALTH_HEALTHY;
	}
	cr_expect(bad_done, "never unhealthy");
	cr_expect(good_done, "never healthy");
}

Test(exec_runc, bad_input_fails_cleanly)
{
	SKIP_IF_NEEDED();
	struct task k;
	char *layers[] = {layer};
	struct exec_image img = {.layers = layers, .n_layers = 1};
	char err[512] = "";

	task_init(&k, "true");
	k.cs.user = "nobody-here";
	cr_expect_eq(exec_prepare(&cfg, &k.t, &img, NULL, 0, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "nobody-here") != NULL, "%s", err);
	cr_expect(!mounted_under(k.id), "failed prepare left a mount");
	cr_expect_eq(exec_start(&cfg, "../x", err, sizeof(err)), -EINVAL);
	cr_expect_eq(exec_start(&cfg, "nosuchtask", err, sizeof(err)), -ENOENT);

	/* A command that does not exist: the runtime's error comes back. */
	task_init(&k, "true");
	char *cmd[] = {"/no/such/binary"};
	k.cs.command = cmd;
	k.cs.n_command = 1;
	cr_assert_eq(exec_prepare(&cfg, &k.t, &img, NULL, 0, err, sizeof(err)), 0, "%s", err);
	int rc = exec_start(&cfg, k.id, err, sizeof(err));
	cr_expect_neq(rc, 0);
	cr_expect(strstr(err, "no such file") != NULL || strstr(err, "not found") != NULL ||
		      strstr(err, "/no/such/binary") != NULL,
		  "%s", err);
}
