/* Shim state and config files. libc only. */
#include "worker/executor/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int exec_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096];
	const char *p = data;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		len -= (size_t) w;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static size_t put_escaped(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '\n') {
			out[n++] = '\\';
			out[n++] = *s == '\n' ? 'n' : '\\';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return n;
}

static void get_escaped(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			out[n++] = *s == 'n' ? '\n' : *s;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

int exec_state_write(const char *path, const struct exec_shim_state *s)
{
	char buf[2048], ho[600], er[600];
	int n;

	put_escaped(ho, sizeof(ho), s->health_output);
	put_escaped(er, sizeof(er), s->err);
	n = snprintf(buf, sizeof(buf),
		     "status=%d\npid=%d\npid_start=%llu\nshim_pid=%d\nshim_start=%llu\n"
		     "exit_code=%d\nstarted_at=%lld\nfinished_at=%lld\nhealth=%d\n"
		     "health_failures=%d\nhealth_output=%s\nerr=%s\n",
		     s->status, s->pid, (unsigned long long) s->pid_start, s->shim_pid,
		     (unsigned long long) s->shim_start, s->exit_code, (long long) s->started_at,
		     (long long) s->finished_at, s->health, s->health_failures, ho, er);
	if (n < 0 || n >= (int) sizeof(buf))
		return -EOVERFLOW;
	return exec_write_file(path, buf, (size_t) n, 0600);
}

/* Reads a small key=value file; calls set() per line. */
static int read_kv(const char *path, void (*set)(void *, const char *, const char *), void *obj)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *line, *save = NULL;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		set(obj, line, eq + 1);
	}
	return 0;
}

static void state_set(void *obj, const char *k, const char *v)
{
	struct exec_shim_state *s = obj;
	long long x = strtoll(v, NULL, 10);

	if (!strcmp(k, "status"))
		s->status = (int) x;
	else if (!strcmp(k, "pid"))
		s->pid = (int) x;
	else if (!strcmp(k, "pid_start"))
		s->pid_start = strtoull(v, NULL, 10);
	else if (!strcmp(k, "shim_pid"))
		s->shim_pid = (int) x;
	else if (!strcmp(k, "shim_start"))
		s->shim_start = strtoull(v, NULL, 10);
	else if (!strcmp(k, "exit_code"))
		s->exit_code = (int) x;
	else if (!strcmp(k, "started_at"))
		s->started_at = x;
	else if (!strcmp(k, "finished_at"))
		s->finished_at = x;
	else if (!strcmp(k, "health"))
		s->health = (int) x;
	else if (!strcmp(k, "health_failures"))
		s->health_failures = (int) x;
	else if (!strcmp(k, "health_output"))
		get_escaped(s->health_output, sizeof(s->health_output), v);
	else if (!strcmp(k, "err"))
		get_escaped(s->err, sizeof(s->err), v);
}

int exec_state_read(const char *path, struct exec_shim_state *s)
{
	memset(s, 0, sizeof(*s));
	return read_kv(path, state_set, s);
}

int exec_conf_write(const char *path, const struct exec_shim_conf *c)
{
	char buf[512];
	int n =
	    snprintf(buf, sizeof(buf),
		     "stop_signal=%d\nhealth_interval=%lld\nhealth_timeout=%lld\n"
		     "health_start_period=%lld\nhealth_retries=%d\nhas_health=%d\n",
		     c->stop_signal, (long long) c->health_interval, (long long) c->health_timeout,
		     (long long) c->health_start_period, c->health_retries, c->has_health);

	return exec_write_file(path, buf, (size_t) n, 0600);
}

static void conf_set(void *obj, const char *k, const char *v)
{
	struct exec_shim_conf *c = obj;
	long long x = strtoll(v, NULL, 10);

	if (!strcmp(k, "stop_signal"))
		c->stop_signal = (int) x;
	else if (!strcmp(k, "health_interval"))
		c->health_interval = x;
	else if (!strcmp(k, "health_timeout"))
		c->health_timeout = x;
	else if (!strcmp(k, "health_start_period"))
		c->health_start_period = x;
	else if (!strcmp(k, "health_retries"))
		c->health_retries = (int) x;
	else if (!strcmp(k, "has_health"))
		c->has_health = (int) x;
}

int exec_conf_read(const char *path, struct exec_shim_conf *c)
{
	memset(c, 0, sizeof(*c));
	return read_kv(path, conf_set, c);
}

uint64_t exec_proc_start(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	int fd;
	ssize_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2; /* field 3, state */
	if (*p == 'Z' || *p == 'X')
		return 0; /* a zombie is gone for our purposes */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}
