/* wlog readers: stored records (tail/since/until), a follow cursor that
 * survives rotation, and Docker's stdcopy framing. libc only. */
#include "worker/logs/wlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES      10		    /* log.9 is the oldest name looked at */
#define LINE_MAX_BYTES (WLOG_MAX_LINE + 64) /* a record line, header included */
#define CHUNK	       (64 * 1024)

static void file_path(char *buf, size_t len, const char *dir, int i)
{
	if (i == 0)
		snprintf(buf, len, "%s/log", dir);
	else
		snprintf(buf, len, "%s/log.%d", dir, i);
}

/* Parses one record line (without its '\n'); 0 or -EINVAL. */
static int parse_line(const char *l, size_t n, int *stream, int64_t *ts, int *partial,
		      const char **text, size_t *tlen)
{
	const size_t hdr = WLOG_TS_LEN + 1 + 6 + 1 + 1 + 1;

	if (n < hdr || wlog_parse_ts(l, WLOG_TS_LEN, ts) || l[WLOG_TS_LEN] != ' ')
		return -EINVAL;
	if (!memcmp(l + WLOG_TS_LEN + 1, "stdout", 6))
		*stream = WLOG_STDOUT;
	else if (!memcmp(l + WLOG_TS_LEN + 1, "stderr", 6))
		*stream = WLOG_STDERR;
	else
		return -EINVAL;
	if (l[WLOG_TS_LEN + 7] != ' ' || l[hdr - 1] != ' ')
		return -EINVAL;
	if (l[WLOG_TS_LEN + 8] == 'P')
		*partial = 1;
	else if (l[WLOG_TS_LEN + 8] == 'F')
		*partial = 0;
	else
		return -EINVAL;
	*text = l + hdr;
	*tlen = n - hdr;
	return 0;
}

struct scan {
	const struct wlog_opts *o;
	wlog_record_cb cb;
	void *arg;
	uint64_t skip;	/* records to pass over before delivering (tail) */
	uint64_t count; /* records seen (count-only mode when cb is NULL) */
};

/* Delivers one line (without '\n'); returns the callback's stop value. */
static int deliver(struct scan *s, char *l, size_t n)
{
	int stream, partial, rc;
	int64_t ts;
	const char *text;
	size_t tlen;

	s->count++;
	if (!s->cb)
		return 0;
	if (s->skip) {
		s->skip--;
		return 0;
	}
	if (parse_line(l, n, &stream, &ts, &partial, &text, &tlen))
		return 0; /* torn or foreign line */
	if (s->o) {
		if (s->o->streams && !(s->o->streams & stream))
			return 0;
		if (s->o->since && ts < s->o->since)
			return 0;
		if (s->o->until && ts > s->o->until)
			return 0;
	}
	/* The '\n' of a full line is part of the record's data; the line
	 * buffer always has room for it (it replaces the terminator). */
	if (!partial)
		l[n] = '\n';
	rc = s->cb(stream, ts, text, tlen + (partial ? 0 : 1), partial, s->arg);
	l[n] = '\0';
	return rc;
}

/* Reads complete lines of fd from *off; advances *off past the last one.
 * Lines over LINE_MAX_BYTES are skipped. Returns 0, a stop value or -errno. */
static int scan_fd(int fd, uint64_t *off, struct scan *s)
{
	char *buf = malloc(LINE_MAX_BYTES + CHUNK + 1);
	size_t have = 0;
	uint64_t pos = *off;
	int skipping = 0, rc = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = pread(fd, buf + have, CHUNK, (off_t) (pos + have));
		size_t start = 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		have += (size_t) r;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			size_t n;

			if (!nl)
				break;
			n = (size_t) (nl - (buf + start));
			*nl = '\0';
			if (!skipping)
				rc = deliver(s, buf + start, n);
			skipping = 0;
			start += n + 1;
			*off = pos + start;
			if (rc)
				goto out;
		}
		pos += start;
		have -= start;
		memmove(buf, buf + start, have);
		if (have > LINE_MAX_BYTES) {
			/* Garbage without newlines: drop it up to the next one. */
			pos += have;
			have = 0;
			skipping = 1;
		}
	}
out:
	free(buf);
	return rc;
}

static int scan_path(const char *path, uint64_t off, struct scan *s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = scan_fd(fd, &off, s);
	close(fd);
	return rc;
}

int wlog_read(const char *dir, const struct wlog_opts *o, wlog_record_cb cb, void *arg)
{
	char path[600];
	uint64_t counts[MAX_FILES] = {0};
	int exists[MAX_FILES] = {0}, any = 0, first = 0, rc;
	uint64_t skip_in_first = 0;

	for (int i = 0; i < MAX_FILES; i++) {
		file_path(path, sizeof(path), dir, i);
		exists[i] = access(path, R_OK) == 0;
		any |= exists[i];
	}
	if (!any)
		return -ENOENT;
	first = MAX_FILES - 1;
	if (o && o->tail >= 0) {
		/* Count records newest file first until the tail is covered. */
		uint64_t need = (uint64_t) o->tail;

		first = -1;
		for (int i = 0; i < MAX_FILES && need; i++) {
			struct scan cnt = {0};

			if (!exists[i])
				continue;
			file_path(path, sizeof(path), dir, i);
			rc = scan_path(path, 0, &cnt);
			if (rc < 0 && rc != -ENOENT)
				return rc;
			counts[i] = cnt.count;
			first = i;
			if (counts[i] >= need) {
				skip_in_first = counts[i] - need;
				need = 0;
			} else {
				need -= counts[i];
			}
		}
		if (first < 0)
			return 0; /* tail 0 */
	}
	for (int i = first; i >= 0; i--) {
		struct scan s = {.o = o, .cb = cb, .arg = arg};

		if (!exists[i])
			continue;
		if (i == first)
			s.skip = skip_in_first;
		file_path(path, sizeof(path), dir, i);
		rc = scan_path(path, 0, &s);
		if (rc == -ENOENT)
			continue; /* rotated away meanwhile */
		if (rc)
			return rc;
	}
	return 0;
}

int wlog_cursor_open(struct wlog_cursor *c, const char *dir, int at_end)
{
	char path[600];
	struct stat st;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(c->dir) - 8)
		return -ENAMETOOLONG;
	memcpy(c->dir, dir, n + 1);
	c->dev = 0;
	c->ino = 0;
	c->off = 0;
	if (!at_end)
		return 0;
	file_path(path, sizeof(path), dir, 0);
	if (stat(path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->off = (uint64_t) st.st_size;
	} else {
		/* No file yet: its first record is new. Mark positioned. */
		c->ino = (ino_t) -1;
	}
	return 0;
}

/* Reads from `path` at *off if it is the file (dev, ino). 1 = it was, 0 = not. */
static int scan_if_same(const char *path, dev_t dev, ino_t ino, uint64_t *off, struct scan *s,
			int *rc)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		return 0;
	}
	if ((uint64_t) st.st_size < *off)
		*off = 0; /* truncated in place (single-file rotation) */
	*rc = scan_fd(fd, off, s);
	close(fd);
	return 1;
}

int wlog_cursor_read(struct wlog_cursor *c, const struct wlog_opts *o, wlog_record_cb cb, void *arg)
{
	struct scan s = {.o = o, .cb = cb, .arg = arg};
	char path[600];
	struct stat st;
	int fd, rc = 0, found = -1;

	file_path(path, sizeof(path), c->dir, 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (c->ino == 0) {
		/* From the oldest record: the rotated files first. */
		for (int i = MAX_FILES - 1; i >= 1 && !rc; i--) {
			file_path(path, sizeof(path), c->dir, i);
			rc = scan_path(path, 0, &s);
			if (rc == -ENOENT)
				rc = 0;
		}
	} else if (c->ino != st.st_ino || c->dev != st.st_dev) {
		/* Rotated: finish the file we were in, then the newer ones. */
		for (int i = 1; i < MAX_FILES && found < 0; i++) {
			file_path(path, sizeof(path), c->dir, i);
			if (scan_if_same(path, c->dev, c->ino, &c->off, &s, &rc))
				found = i;
		}
		for (int i = found - 1; i >= 1 && !rc; i--) {
			file_path(path, sizeof(path), c->dir, i);
			rc = scan_path(path, 0, &s);
			if (rc == -ENOENT)
				rc = 0;
		}
	}
	if (rc) {
		close(fd);
		return rc;
	}
	if (c->ino != st.st_ino || c->dev != st.st_dev) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->off = 0;
	}
	if ((uint64_t) st.st_size < c->off)
		c->off = 0;
	rc = scan_fd(fd, &c->off, &s);
	close(fd);
	return rc;
}

int wlog_stdcopy_frame(int stream, int64_t ts_ns, int timestamps, const char *details,
		       const void *data, size_t len, uint8_t **out, size_t *outlen)
{
	size_t dlen = details ? strlen(details) : 0;
	size_t payload = len + (timestamps ? WLOG_TS_LEN + 1 : 0) + (dlen ? dlen + 1 : 0);
	uint8_t *f, *p;

	if ((stream != WLOG_STDOUT && stream != WLOG_STDERR) || payload > UINT32_MAX)
		return -EINVAL;
	f = malloc(8 + payload + 1);
	if (!f)
		return -ENOMEM;
	f[0] = (uint8_t) stream;
	f[1] = f[2] = f[3] = 0;
	f[4] = (uint8_t) (payload >> 24);
	f[5] = (uint8_t) (payload >> 16);
	f[6] = (uint8_t) (payload >> 8);
	f[7] = (uint8_t) payload;
	p = f + 8;
	if (timestamps) {
		wlog_format_ts(ts_ns, (char *) p);
		p[WLOG_TS_LEN] = ' ';
		p += WLOG_TS_LEN + 1;
	}
	if (dlen) {
		memcpy(p, details, dlen);
		p[dlen] = ' ';
		p += dlen + 1;
	}
	if (len)
		memcpy(p, data, len);
	*out = f;
	*outlen = 8 + payload;
	return 0;
}
