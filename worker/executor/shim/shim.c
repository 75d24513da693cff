/* shoal-shim: keeps one task's container alive independently of shoald.
 *
 *   shoal-shim --runtime R --root RUNTIME_ROOT --bundle DIR --id ID --log-dir DIR
 *
 * Started by exec_start with fd 3 = a readiness pipe. It forks away (the
 * starter reaps the first process at once), becomes a child subreaper, runs
 * `R create` with pipes as the container's stdout/stderr (runc's
 * pass-through mode), brings the container's loopback up, `R start`s it,
 * writes "ok" (or "error <message>") to fd 3, then copies the pipes into the
 * task's log files, runs health probes, reaps the container and records its
 * exit in DIR/state (atomically) before exiting. Runtime state is left for
 * exec_remove (`R delete`). Links libc only: RSS matters, one per task. */
#include "worker/executor/shim/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/executor/state.h"
#include "worker/logs/wlog.h"

#define DRAIN_MS 2000 /* after the exit, how long the pipes may stay open */

int64_t shim_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

pid_t shim_spawn(char *const *argv, int in, int out, int err)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDWR);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		dup2(in >= 0 ? in : null, 0);
		dup2(out >= 0 ? out : null, 1);
		dup2(err >= 0 ? err : null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void shim_save(struct shim *s)
{
	exec_state_write(s->state_path, &s->st);
}

static int wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads what is available of fd into buf (non-blocking), trimmed. */
static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t) r;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
}

/* `runtime --root R args...`; 0 or its exit status; output into msg. */
static int runtime(struct shim *s, const char *const *args, char *msg, size_t len)
{
	char *argv[16];
	size_t k = 0;
	int p[2], rc;
	pid_t pid;

	argv[k++] = (char *) s->runtime;
	argv[k++] = "--root";
	argv[k++] = (char *) s->root;
	for (size_t i = 0; args[i] && k < 15; i++)
		argv[k++] = (char *) args[i];
	argv[k] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = shim_spawn(argv, -1, p[1], p[1]);
	close(p[1]);
	rc = pid > 0 ? wait_for(pid) : -1;
	if (msg)
		slurp(p[0], msg, len);
	close(p[0]);
	return rc;
}

/* runc leaves a new network namespace's loopback down: bring it up from a
 * child that joins the namespace (ioctl, no `ip` binary needed). */
static int loopback_up(int pid)
{
	char path[64];
	pid_t c = fork();

	if (c < 0)
		return -1;
	if (c == 0) {
		struct ifreq ifr = {0};
		int ns, sk;

		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
			_exit(1);
		sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		strcpy(ifr.ifr_name, "lo");
		if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
			_exit(2);
		ifr.ifr_flags |= IFF_UP;
		_exit(ioctl(sk, SIOCSIFFLAGS, &ifr) < 0 ? 3 : 0);
	}
	return wait_for(c);
}

static void ready(const char *msg)
{
	size_t n = strlen(msg);

	if (write(3, msg, n) != (ssize_t) n) {
		/* exec_start gave up waiting; the state file still says it. */
	}
	close(3);
}

static void fail(struct shim *s, const char *what, const char *detail)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s%s%s", what, detail && *detail ? ": " : "",
		 detail ? detail : "");
	s->st.status = EXEC_EXITED;
	s->st.exit_code = -1;
	s->st.finished_at = real_ns();
	snprintf(s->st.err, sizeof(s->st.err), "%s", msg);
	shim_save(s);
	snprintf(msg, sizeof(msg), "error %s", s->st.err);
	ready(msg);
	exit(1);
}

/* cgroup v1 memory.oom_control / v2 memory.events count OOM kills. */
static int oom_killed(const char *id)
{
	static const char *const files[] = {"/sys/fs/cgroup/memory/shoal/%/memory.oom_control",
					    "/sys/fs/cgroup/shoal/%/memory.events"};
	char path[256], buf[1024];

	for (int i = 0; i < 2; i++) {
		int fd;
		ssize_t n;
		char *p;

		const char *pct = strchr(files[i], '%');

		snprintf(path, sizeof(path), "%.*s%s%s", (int) (pct - files[i]), files[i], id,
			 pct + 1);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if ((p = strstr(buf, "oom_kill ")) && atoi(p + 9) > 0)
			return 1;
	}
	return 0;
}

static int start_container(struct shim *s, int out_w, int err_w, int err_r)
{
	char pidfile[4200], msg[512] = "", buf[32];
	const char *create[] = {"create", "--bundle", s->bundle, "--pid-file",
				pidfile,  s->id,      NULL};
	const char *start[] = {"start", s->id, NULL};
	const char *del[] = {"delete", "-f", s->id, NULL};
	char *argv[16];
	size_t k = 0;
	pid_t pid;
	int fd, rc;

	snprintf(pidfile, sizeof(pidfile), "%s/init.pid", s->bundle);
	argv[k++] = (char *) s->runtime;
	argv[k++] = "--root";
	argv[k++] = (char *) s->root;
	for (size_t i = 0; create[i]; i++)
		argv[k++] = (char *) create[i];
	argv[k] = NULL;
	/* The container inherits these as its stdout and stderr. */
	pid = shim_spawn(argv, -1, out_w, err_w);
	if (pid < 0)
		fail(s, "cannot run the runtime", strerror(-pid));
	close(out_w);
	close(err_w);
	rc = wait_for(pid);
	if (rc != 0) {
		/* runc printed its error on the stderr we gave it. */
		slurp(err_r, msg, sizeof(msg));
		fail(s, "runtime create failed", msg);
	}
	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	rc = fd >= 0 ? (int) read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (rc <= 0)
		fail(s, "runtime create wrote no pid file", NULL);
	buf[rc] = '\0';
	s->st.pid = atoi(buf);
	s->st.pid_start = exec_proc_start(s->st.pid);
	if (loopback_up(s->st.pid) != 0) {
		runtime(s, del, NULL, 0);
		fail(s, "bringing the container's loopback up failed", NULL);
	}
	if (runtime(s, start, msg, sizeof(msg)) != 0) {
		runtime(s, del, NULL, 0);
		fail(s, "runtime start failed", msg);
	}
	return 0;
}

static void parse_args(struct shim *s, int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--runtime"))
			s->runtime = v;
		else if (!strcmp(k, "--root"))
			s->root = v;
		else if (!strcmp(k, "--bundle"))
			s->bundle = v;
		else if (!strcmp(k, "--id"))
			s->id = v;
		else if (!strcmp(k, "--log-dir"))
			s->logdir = v;
	}
	if (!s->runtime || !s->root || !s->bundle || !s->id || !s->logdir) {
		fprintf(stderr, "usage: shoal-shim --runtime R --root DIR --bundle DIR --id ID "
				"--log-dir DIR (fd 3: readiness pipe)\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static struct shim s;
	static struct wlog_writer log;
	int out[2], err[2], sfd, fds[2], exited = 0;
	int64_t drain_until = 0;
	sigset_t mask;
	pid_t pid;

	parse_args(&s, argc, argv);
	close_range(4, ~0U, 0);
	/* Detach: exec_start reaps this first process right away. */
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0)
		_exit(0);
	{
		/* exec_start reads our stdout/stderr until EOF: let go of them. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			return 1;
		if (null > 2)
			close(null);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN); /* shoald's shutdown must not stop tasks */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (chdir("/") < 0)
		return 1;

	snprintf(s.state_path, sizeof(s.state_path), "%s/state", s.bundle);
	{
		char conf[4200];

		snprintf(conf, sizeof(conf), "%s/shim.conf", s.bundle);
		exec_conf_read(conf, &s.conf);
	}
	s.st.status = EXEC_CREATED;
	s.st.shim_pid = getpid();
	s.st.shim_start = exec_proc_start(s.st.shim_pid);
	shim_save(&s);
	if (sfd < 0)
		fail(&s, "signalfd failed", strerror(errno));
	if (wlog_writer_open(&log, s.logdir, 0, 0) < 0)
		fail(&s, "cannot open the log directory", s.logdir);
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		fail(&s, "pipe failed", strerror(errno));
	start_container(&s, out[1], err[1], err[0]);

	s.st.status = EXEC_RUNNING;
	s.st.started_at = real_ns();
	shim_health_init(&s);
	shim_save(&s);
	ready("ok\n");

	fds[0] = out[0];
	fds[1] = err[0];
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[4];
		int np = 0, timeout, hfd = -1;
		char buf[65536];

		if (exited && ((fds[0] < 0 && fds[1] < 0) || shim_mono_ns() >= drain_until))
			break;
		timeout = exited ? DRAIN_MS : shim_health_tick(&s);
		p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (int i = 0; i < 2; i++)
			p[np++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		if (s.h.fd >= 0) {
			hfd = np;
			p[np++] = (struct pollfd){.fd = s.h.fd, .events = POLLIN};
		}
		if (poll(p, (nfds_t) np, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (fds[i] < 0 || !p[1 + i].revents)
				continue;
			r = read(fds[i], buf, sizeof(buf));
			if (r > 0) {
				wlog_writer_write(&log, i ? WLOG_STDERR : WLOG_STDOUT, buf,
						  (size_t) r, 0);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				wlog_writer_flush(&log, i ? WLOG_STDERR : WLOG_STDOUT, 0);
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (hfd >= 0 && p[hfd].revents)
			shim_health_read(&s);
		if (p[0].revents) {
			struct signalfd_siginfo si;
			int status;

			while (read(sfd, &si, sizeof(si)) > 0) {
			}
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (shim_health_reaped(&s, pid, status) || pid != s.st.pid)
					continue;
				exited = 1;
				drain_until = shim_mono_ns() + (int64_t) DRAIN_MS * 1000000;
				s.st.finished_at = real_ns();
				s.st.exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
								   : 128 + WTERMSIG(status);
				shim_health_stop(&s);
			}
		}
	}
	wlog_writer_close(&log);
	if (oom_killed(s.id))
		snprintf(s.st.err, sizeof(s.st.err), "OOM killed");
	s.st.status = EXEC_EXITED;
	shim_save(&s);
	return 0;
}
