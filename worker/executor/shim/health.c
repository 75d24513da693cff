/* Health probes, as Docker runs them: every interval, `runtime exec` the
 * test in the container with a timeout; exit 0 = healthy; `retries`
 * consecutive failures = unhealthy; failures during the start period do not
 * count until the first success. */
#include "worker/executor/shim/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker/executor/state.h"

void shim_health_init(struct shim *s)
{
	struct shim_health *h = &s->h;
	char path[4200];
	struct stat st;
	size_t n = 0, k = 0;
	int fd;

	h->fd = -1;
	if (!s->conf.has_health)
		return;
	snprintf(path, sizeof(path), "%s/health.argv", s->bundle);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > 65536) {
		if (fd >= 0)
			close(fd);
		return;
	}
	h->argv_buf = calloc(1, (size_t) st.st_size + 1);
	if (!h->argv_buf || read(fd, h->argv_buf, (size_t) st.st_size) != st.st_size) {
		close(fd);
		return;
	}
	close(fd);
	for (off_t i = 0; i < st.st_size; i++)
		n += h->argv_buf[i] == '\0';
	/* runtime --root R exec --pid-file P <id> argv... NULL */
	h->argv = calloc(n + 9, sizeof(char *));
	if (!h->argv)
		return;
	static char pidfile[4200];
	snprintf(pidfile, sizeof(pidfile), "%s/probe.pid", s->bundle);
	h->argv[k++] = (char *) s->runtime;
	h->argv[k++] = "--root";
	h->argv[k++] = (char *) s->root;
	h->argv[k++] = "exec";
	h->argv[k++] = "--pid-file";
	h->argv[k++] = pidfile;
	h->argv[k++] = (char *) s->id;
	for (char *p = h->argv_buf; p < h->argv_buf + st.st_size; p += strlen(p) + 1)
		h->argv[k++] = p;
	h->next_ns = shim_mono_ns() + s->conf.health_interval;
	h->start_end_ns = shim_mono_ns() + s->conf.health_start_period;
	s->st.health = EXEC_HEALTH_STARTING;
}

static void probe_kill(struct shim *s)
{
	char path[4200], buf[32] = "";
	int fd;

	/* The probe's process in the container, then runtime exec itself. */
	snprintf(path, sizeof(path), "%s/probe.pid", s->bundle);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			int pid = atoi(buf);
			if (pid > 1 && pid != s->st.pid)
				kill(pid, SIGKILL);
		}
	}
	kill(s->h.pid, SIGKILL);
}

int shim_health_tick(struct shim *s)
{
	struct shim_health *h = &s->h;
	int64_t now = shim_mono_ns(), next;
	int p[2];

	if (!h->argv)
		return -1;
	if (h->pid) {
		if (now >= h->deadline_ns && h->deadline_ns) {
			probe_kill(s);
			h->deadline_ns = 0; /* the reap records the timeout */
			snprintf(h->out, sizeof(h->out), "Health check exceeded timeout (%llds)",
				 (long long) (s->conf.health_timeout / 1000000000));
			h->nout = strlen(h->out);
		}
		next = h->deadline_ns ? h->deadline_ns : now + 100000000;
	} else if (now >= h->next_ns) {
		h->nout = 0;
		h->out[0] = '\0';
		if (pipe2(p, O_CLOEXEC) == 0) {
			pid_t pid = shim_spawn(h->argv, -1, p[1], p[1]);

			close(p[1]);
			if (pid > 0) {
				h->pid = pid;
				h->fd = p[0];
				fcntl(h->fd, F_SETFL, O_NONBLOCK);
				h->deadline_ns = now + s->conf.health_timeout;
			} else {
				close(p[0]);
			}
		}
		h->next_ns = now + s->conf.health_interval;
		next = h->pid ? h->deadline_ns : h->next_ns;
	} else {
		next = h->next_ns;
	}
	return next <= now ? 0 : (int) ((next - now) / 1000000 + 1);
}

void shim_health_read(struct shim *s)
{
	struct shim_health *h = &s->h;
	char buf[512];
	ssize_t r;

	while ((r = read(h->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r && h->nout + 1 < sizeof(h->out); i++)
			h->out[h->nout++] = buf[i];
		h->out[h->nout] = '\0';
	}
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		close(h->fd);
		h->fd = -1;
	}
}

int shim_health_reaped(struct shim *s, pid_t pid, int status)
{
	struct shim_health *h = &s->h;
	int ok;

	if (!h->pid || pid != h->pid)
		return 0;
	if (h->fd >= 0) {
		shim_health_read(s);
		if (h->fd >= 0)
			close(h->fd);
		h->fd = -1;
	}
	h->pid = 0;
	ok = h->deadline_ns && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	h->deadline_ns = 0;
	if (ok) {
		h->ever_healthy = 1;
		s->st.health_failures = 0;
		s->st.health = EXEC_HEALTH_HEALTHY;
	} else if (h->ever_healthy || shim_mono_ns() >= h->start_end_ns) {
		s->st.health_failures++;
		if (s->st.health_failures >= s->conf.health_retries)
			s->st.health = EXEC_HEALTH_UNHEALTHY;
	}
	snprintf(s->st.health_output, sizeof(s->st.health_output), "%s", h->out);
	shim_save(s);
	return 1;
}

void shim_health_stop(struct shim *s)
{
	if (s->h.pid) {
		probe_kill(s);
		waitpid(s->h.pid, NULL, 0);
		s->h.pid = 0;
	}
	if (s->h.fd >= 0) {
		close(s->h.fd);
		s->h.fd = -1;
	}
}
