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
		 "set -e; mkdir -p %s/bin %s/etc %s/tmp %s/proc %s/sys %s/dev; "
		 "cp /bin/busybox %s/bin/; for a in $(/bin/busybox --list); do "
		 "[ $a = busybox ] || ln -s busybox %s/bin/$a; done; "
		 "printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000::/:/bin/sh\\n' > "
		 "%s/etc/passwd; printf 'root:x:0:\\napp:x:1000:\\n' > %s/etc/group",
		 layer, layer, layer, layer, layer, layer, layer, layer, layer, layer);
	run(cmd);
	cfg = (struct exec_config){.exec_root = exec_root, .log_root = log_root,
				   .runtime = "/usr/sbin/runc", .shim_path = SHOAL_SHIM};
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

#define SKIP_IF_NEEDED()                                                                   \
	do {                                                                               \
		if (skip)                                                                  \
			cr_skip_test("needs root, /usr/sbin/runc and /bin/busybox");       \
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
	struct exec_file f = {.target = "/run/secrets/s", .data = secret,
			      .len = sizeof(secret) - 1, .mode = 0400};

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
