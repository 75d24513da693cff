/* exec_start, exec_inspect, exec_stop, exec_kill: the shim and the running
 * container. Processes are addressed by pidfd after checking their start
 * time against the state file, so a recycled pid is never signalled. */
#include "worker/executor/exec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *runtime(const struct exec_config *c)
{
	return c->runtime && *c->runtime ? c->runtime : "runc";
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spawns argv with stdin /dev/null, stdout+stderr into a pipe read into out
 * (may be NULL). Returns the exit status (>= 0) or -errno. */
static int spawn_capture(char *const *argv, char *out, size_t outlen, int setsid_, int keep_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int p[2], status, rc;
	pid_t pid;
	size_t n = 0;

	if (out && outlen)
		out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (keep_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, keep_fd, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					  (setsid_ ? POSIX_SPAWN_SETSID : 0));
	rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc) {
		close(p[0]);
		if (out)
			snprintf(out, outlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -rc;
	}
	for (;;) {
		char tmp[512];
		ssize_t r = read(p[0], tmp, sizeof(tmp));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; out && i < r && n + 1 < outlen; i++)
			out[n++] = tmp[i];
		if (out && outlen)
			out[n] = '\0';
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int exec_runtime_run(const struct exec_config *c, const char *const *args, char *out, size_t outlen)
{
	char root[4200];
	const char *argv[16];
	size_t k = 0;
	int rc;

	snprintf(root, sizeof(root), "%s/runtime", c->exec_root);
	argv[k++] = runtime(c);
	argv[k++] = "--root";
	argv[k++] = root;
	for (size_t i = 0; args[i] && k < 15; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	rc = spawn_capture((char *const *) argv, out, outlen, 0, -1);
	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

int exec_kill_and_wait(int pid, uint64_t start, int sig, int64_t timeout_ms)
{
	struct pollfd pfd;
	int fd, rc;

	if (pid <= 0 || !start)
		return 0;
	fd = (int) syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	/* Checked after pinning the pid: this is still the process we started. */
	if (exec_proc_start(pid) != start) {
		close(fd);
		return 0;
	}
	if (sig && syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 && errno != ESRCH) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, (int) timeout_ms);
	while (rc < 0 && errno == EINTR);
	close(fd);
	return rc > 0 ? 0 : -ETIMEDOUT;
}

int exec_start(const struct exec_config *c, const char *task_id, char *err, size_t errlen)
{
	char dir[4096], path[4200], rt[4200], logdir[4200], msg[512] = "";
	struct stat st;
	int p[2], rc;
	struct pollfd pfd;
	int64_t deadline;
	size_t n = 0;

	if (!exec_id_valid(task_id))
		return exec_fail(err, errlen, -EINVAL, "task id is missing or invalid");
	if (!c->shim_path)
		return exec_fail(err, errlen, -EINVAL, "no shim path configured");
	exec_task_path(c, task_id, NULL, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (stat(path, &st) < 0)
		return exec_fail(err, errlen, -ENOENT, "task %s is not prepared", task_id);
	snprintf(path, sizeof(path), "%s/state", dir);
	if (stat(path, &st) == 0)
		return exec_fail(err, errlen, -EALREADY, "task %s was already started", task_id);
	snprintf(rt, sizeof(rt), "%s/runtime", c->exec_root);
	if (mkdir(rt, 0700) < 0 && errno != EEXIST)
		return exec_fail(err, errlen, -errno, "creating %s: %s", rt, strerror(errno));
	snprintf(logdir, sizeof(logdir), "%s/%s", c->log_root, task_id);
	if (pipe2(p, O_CLOEXEC) < 0)
		return exec_fail(err, errlen, -errno, "pipe: %s", strerror(errno));

	/* The shim forks once more and its first process exits at once, so this
	 * waitpid is quick and the shim is nobody's child here. */
	const char *argv[] = {c->shim_path, "--runtime", runtime(c), "--root",
			      rt,	    "--bundle",	 dir,	     "--id",
			      task_id,	    "--log-dir", logdir,     NULL};
	rc = spawn_capture((char *const *) argv, msg, sizeof(msg), 1, p[1]);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return exec_fail(err, errlen, rc < 0 ? rc : -EIO, "starting the shim: %s",
				 msg[0] ? msg : "it exited at once");
	}
	/* Wait for "ok" or "error <message>" from the shim. */
	deadline = mono_ms() + 30000;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		int64_t left = deadline - mono_ms();
		ssize_t r;

		if (left <= 0) {
			close(p[0]);
			return exec_fail(err, errlen, -ETIMEDOUT,
					 "the shim did not report within 30 s");
		}
		rc = poll(&pfd, 1, (int) left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		r = read(p[0], msg + n, sizeof(msg) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t) r) >= sizeof(msg) - 1)
			break;
	}
	close(p[0]);
	msg[n] = '\0';
	if (!strncmp(msg, "ok", 2))
		return 0;
	if (!strncmp(msg, "error ", 6))
		return exec_fail(err, errlen, -EIO, "%s", msg + 6);
	return exec_fail(err, errlen, -EIO, "the shim exited without reporting");
}

int exec_inspect(const struct exec_config *c, const char *task_id, struct exec_state *out)
{
	char dir[4096], path[4200];
	struct exec_shim_state s;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (!exec_id_valid(task_id))
		return -EINVAL;
	exec_task_path(c, task_id, NULL, dir, sizeof(dir));
	if (stat(dir, &st) < 0) {
		out->status = EXEC_NONE;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	if (exec_state_read(path, &s) < 0) {
		out->status = EXEC_CREATED;
		return 0;
	}
	out->status = s.status;
	out->pid = s.pid;
	out->exit_code = s.exit_code;
	out->started_at = s.started_at;
	out->finished_at = s.finished_at;
	out->health = s.health;
	out->health_failures = s.health_failures;
	memcpy(out->health_output, s.health_output, sizeof(out->health_output));
	memcpy(out->err, s.err, sizeof(out->err));
	if (s.status != EXEC_EXITED && exec_proc_start(s.shim_pid) != s.shim_start) {
		/* The shim died without recording an exit (killed, crashed). */
		if (s.status == EXEC_RUNNING && exec_proc_start(s.pid) == s.pid_start) {
			snprintf(out->err, sizeof(out->err),
				 "shim died: the container runs without log capture");
		} else {
			out->status = EXEC_EXITED;
			out->exit_code = -1;
			snprintf(out->err, sizeof(out->err),
				 "shim died before recording the exit status");
		}
	}
	return 0;
}

static int read_state(const struct exec_config *c, const char *id, struct exec_shim_state *s)
{
	char path[4200];

	if (!exec_id_valid(id))
		return -EINVAL;
	exec_task_path(c, id, "state", path, sizeof(path));
	return exec_state_read(path, s);
}

int exec_kill(const struct exec_config *c, const char *task_id, int sig)
{
	struct exec_shim_state s;
	int rc = read_state(c, task_id, &s);

	if (rc)
		return rc == -ENOENT ? -ESRCH : rc;
	if (s.status != EXEC_RUNNING || exec_proc_start(s.pid) != s.pid_start)
		return -ESRCH;
	rc = exec_kill_and_wait(s.pid, s.pid_start, sig, 0);
	return rc == -ETIMEDOUT ? 0 : rc;
}

int exec_stop(const struct exec_config *c, const char *task_id, const char *signal,
	      int64_t grace_ns)
{
	struct exec_shim_state s;
	struct exec_shim_conf conf = {0};
	char path[4200];
	int sig, rc = read_state(c, task_id, &s);

	if (rc)
		return rc == -ENOENT ? 0 : rc; /* never started */
	exec_task_path(c, task_id, "shim.conf", path, sizeof(path));
	exec_conf_read(path, &conf);
	sig = signal		     ? exec_signal_parse(signal)
	      : conf.stop_signal > 0 ? conf.stop_signal
				     : SIGTERM;
	if (sig < 0)
		return -EINVAL;
	if (s.status == EXEC_RUNNING) {
		rc = exec_kill_and_wait(s.pid, s.pid_start, sig,
					grace_ns > 0 ? grace_ns / 1000000 : 0);
		if (rc == -ETIMEDOUT)
			rc = exec_kill_and_wait(s.pid, s.pid_start, SIGKILL, 10000);
		if (rc)
			return rc;
	}
	/* The shim records the exit, then exits. */
	exec_kill_and_wait(s.shim_pid, s.shim_start, 0, 5000);
	return 0;
}
