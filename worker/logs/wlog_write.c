/* wlog writer: raw stream bytes -> timestamped line records, with rotation.
 * libc only: the shim links this file directly. */
#include "worker/logs/wlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wlog_format_ts(int64_t ts_ns, char *buf)
{
	time_t sec = (time_t) (ts_ns / 1000000000);
	long nsec = (long) (ts_ns % 1000000000);
	struct tm tm;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(buf, WLOG_TS_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int wlog_parse_ts(const char *s, size_t len, int64_t *ts_ns)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, se, ns;

	if (len != WLOG_TS_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[29] != 'Z')
		return -EINVAL;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se) ||
	    digits(s + 20, 9, &ns))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*ts_ns = (int64_t) timegm(&tm) * 1000000000 + ns;
	return 0;
}

static int open_log(struct wlog_writer *w)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/log", w->dir);
	w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (w->fd < 0)
		return -errno;
	if (fstat(w->fd, &st) < 0) {
		int err = -errno;

		close(w->fd);
		w->fd = -1;
		return err;
	}
	w->size = (uint64_t) st.st_size;
	return 0;
}

int wlog_writer_open(struct wlog_writer *w, const char *dir, uint64_t max_size, int max_files)
{
	size_t n = strlen(dir);

	w->fd = -1;
	if (n == 0 || n >= sizeof(w->dir) - 8)
		return -ENAMETOOLONG;
	memcpy(w->dir, dir, n + 1);
	w->max_size = max_size ? max_size : WLOG_DEFAULT_MAX_SIZE;
	w->max_files = max_files > 0 ? max_files : WLOG_DEFAULT_MAX_FILES;
	w->npend[0] = w->npend[1] = 0;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return open_log(w);
}

/* log.(n-2) -> log.(n-1), ..., log -> log.1, then a fresh log. */
static int rotate(struct wlog_writer *w)
{
	char from[600], to[600];

	close(w->fd);
	w->fd = -1;
	if (w->max_files == 1) {
		snprintf(from, sizeof(from), "%s/log", w->dir);
		if (truncate(from, 0) < 0 && errno != ENOENT)
			return -errno;
		return open_log(w);
	}
	for (int i = w->max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s/log", w->dir);
		else
			snprintf(from, sizeof(from), "%s/log.%d", w->dir, i - 1);
		snprintf(to, sizeof(to), "%s/log.%d", w->dir, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	return open_log(w);
}

static int put_record(struct wlog_writer *w, int stream, int partial, const char *text, size_t len,
		      int64_t ts_ns)
{
	char head[WLOG_TS_LEN + 16];
	struct iovec iov[3];
	size_t total;
	ssize_t r;

	if (w->fd < 0) {
		int err = open_log(w);

		if (err)
			return err;
	}
	wlog_format_ts(ts_ns ? ts_ns : now_ns(), head);
	snprintf(head + WLOG_TS_LEN, sizeof(head) - WLOG_TS_LEN, " %s %c ",
		 stream == WLOG_STDERR ? "stderr" : "stdout", partial ? 'P' : 'F');
	iov[0].iov_base = head;
	iov[0].iov_len = strlen(head);
	iov[1].iov_base = (void *) text;
	iov[1].iov_len = len;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	total = iov[0].iov_len + len + 1;
	if (w->size > 0 && w->size + total > w->max_size) {
		int err = rotate(w);

		if (err)
			return err;
	}
	do
		r = writev(w->fd, iov, 3);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	/* A short write on a full disk leaves a torn record; readers skip it. */
	w->size += (uint64_t) r;
	return (size_t) r == total ? 0 : -ENOSPC;
}

int wlog_writer_write(struct wlog_writer *w, int stream, const void *data, size_t len,
		      int64_t ts_ns)
{
	int s = stream == WLOG_STDERR ? 1 : 0;
	const char *p = data, *end = p + len;
	int err = 0, e;

	if (!ts_ns)
		ts_ns = now_ns();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		size_t take = (size_t) ((nl ? nl : end) - p);
		size_t room = WLOG_MAX_LINE - w->npend[s];

		if (take >= room) {
			/* The line reached the maximum: cut a P record. */
			memcpy(w->pend[s] + w->npend[s], p, room);
			e = put_record(w, stream, 1, w->pend[s], WLOG_MAX_LINE, ts_ns);
			err = err ? err : e;
			w->npend[s] = 0;
			p += room;
			continue;
		}
		if (!nl) {
			memcpy(w->pend[s] + w->npend[s], p, take);
			w->npend[s] += take;
			break;
		}
		if (w->npend[s]) {
			memcpy(w->pend[s] + w->npend[s], p, take);
			e = put_record(w, stream, 0, w->pend[s], w->npend[s] + take, ts_ns);
			w->npend[s] = 0;
		} else {
			e = put_record(w, stream, 0, p, take, ts_ns);
		}
		err = err ? err : e;
		p = nl + 1;
	}
	return err;
}

int wlog_writer_flush(struct wlog_writer *w, int stream, int64_t ts_ns)
{
	int s = stream == WLOG_STDERR ? 1 : 0;
	int err;

	if (!w->npend[s])
		return 0;
	err = put_record(w, stream, 1, w->pend[s], w->npend[s], ts_ns);
	w->npend[s] = 0;
	return err;
}

void wlog_writer_close(struct wlog_writer *w)
{
	if (w->fd < 0)
		return;
	wlog_writer_flush(w, WLOG_STDOUT, 0);
	wlog_writer_flush(w, WLOG_STDERR, 0);
	close(w->fd);
	w->fd = -1;
}
