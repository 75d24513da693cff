/* wlog: task log files — the writer the shim uses and the readers shoald uses.
 *
 * Every task has a directory <log_root>/<task id>/ holding `log` and, after
 * rotation, `log.1` and `log.2` (older). A file is a sequence of records, one
 * per line:
 *
 *     2024-01-01T00:00:00.123456789Z stdout F hello world\n
 *
 * timestamp (UTC, always 9 fraction digits), stream (`stdout`|`stderr`), flag
 * (`F` a full line whose '\n' was dropped, `P` a partial line: the text went
 * over WLOG_MAX_LINE bytes or the stream ended mid-line), one space, then the
 * text up to the record's '\n' (the text never holds a '\n').
 *
 * This module depends on nothing but libc: the shim compiles the writer
 * directly. Nothing here keeps global state; a writer or cursor is used by
 * one thread at a time. */
#ifndef SHOAL_WORKER_LOGS_WLOG_H
#define SHOAL_WORKER_LOGS_WLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WLOG_MAX_LINE	       (16 * 1024)	  /* longer lines are cut into P records */
#define WLOG_DEFAULT_MAX_SIZE  (10 * 1024 * 1024) /* rotate after this many bytes */
#define WLOG_DEFAULT_MAX_FILES 3		  /* log, log.1, log.2 */
#define WLOG_TS_LEN	       30		  /* "2024-01-01T00:00:00.123456789Z" */

enum { WLOG_STDOUT = 1, WLOG_STDERR = 2 }; /* stdcopy's stream numbers */

/* ---------------------------------------------------------------- writer */

struct wlog_writer {
	int fd;			     /* current `log`, O_APPEND */
	char dir[512];		     /* the task's log directory */
	uint64_t size;		     /* bytes in the current file */
	uint64_t max_size;	     /* rotation threshold */
	int max_files;		     /* files kept, >= 1 */
	char pend[2][WLOG_MAX_LINE]; /* per stream: bytes of an unfinished line */
	size_t npend[2];
};

/* Opens (creating 0750 if needed) `dir` and appends to dir/log. max_size 0
 * and max_files 0 take the defaults. Returns 0 or -errno (-ENAMETOOLONG for
 * a too long dir). Close with wlog_writer_close. */
int wlog_writer_open(struct wlog_writer *w, const char *dir, uint64_t max_size, int max_files);

/* Appends `len` bytes of raw output of `stream` (WLOG_STDOUT|WLOG_STDERR)
 * read at `ts_ns` (unix ns; 0 = now): every completed line becomes an F
 * record, a line longer than WLOG_MAX_LINE becomes P records, and the rest is
 * held until more data or wlog_writer_flush. Returns 0 or -errno (disk
 * errors; the data is then lost, the writer stays usable). */
int wlog_writer_write(struct wlog_writer *w, int stream, const void *data, size_t len,
		      int64_t ts_ns);

/* Writes the held partial line of `stream` as a P record (the stream ended
 * mid-line). Returns 0 or -errno. */
int wlog_writer_flush(struct wlog_writer *w, int stream, int64_t ts_ns);

/* Flushes both streams and closes. Safe on a closed writer. */
void wlog_writer_close(struct wlog_writer *w);

/* Formats `ts_ns` as RFC3339 with 9 fraction digits, UTC, into buf (at least
 * WLOG_TS_LEN + 1 bytes). Docker prints log timestamps in this fixed form. */
void wlog_format_ts(int64_t ts_ns, char *buf);

/* Parses what wlog_format_ts writes. Returns 0 or -EINVAL. */
int wlog_parse_ts(const char *s, size_t len, int64_t *ts_ns);

/* --------------------------------------------------------------- readers */

/* One record. `data` holds the text and, for a full line, its '\n';
 * borrowed for the duration of the callback. Return non-zero to stop the
 * read; that value is returned by the reader. */
typedef int (*wlog_record_cb)(int stream, int64_t ts_ns, const char *data, size_t len, int partial,
			      void *arg);

struct wlog_opts {
	int64_t tail;  /* last N records; < 0 = all */
	int64_t since; /* unix ns; records before are skipped; 0 = no bound */
	int64_t until; /* unix ns; records after are skipped; 0 = no bound */
	int streams;   /* WLOG_STDOUT | WLOG_STDERR bits; 0 = both */
};

/* Calls `cb` for every stored record of `dir` matching `o` (NULL = all),
 * oldest first, across the rotated files. Malformed lines are skipped.
 * Returns 0, cb's non-zero value, -ENOENT when the directory has no log, or
 * -errno. */
int wlog_read(const char *dir, const struct wlog_opts *o, wlog_record_cb cb, void *arg);

/* Follow primitive: remembers the file (by inode) and offset of the last
 * record returned, across rotations. */
struct wlog_cursor {
	char dir[512];
	dev_t dev;
	ino_t ino;    /* 0: not positioned yet */
	uint64_t off; /* offset after the last full line consumed */
};

/* Positions a cursor on `dir`. at_end: start after the records stored now
 * (follow after a wlog_read), else at the oldest record. A missing log file
 * is not an error: reads start at the file when it appears. Returns 0 or
 * -ENAMETOOLONG. Nothing to close. */
int wlog_cursor_open(struct wlog_cursor *c, const char *dir, int at_end);

/* Calls `cb` for every complete record written since the last call (or
 * open), following the file into its rotated name when it was rotated (a
 * file rotated away twice between two calls loses its unread records). A
 * line still being written is left for the next call. Returns 0, cb's
 * non-zero value, or -errno. */
int wlog_cursor_read(struct wlog_cursor *c, const struct wlog_opts *o, wlog_record_cb cb,
		     void *arg);

/* Builds one Docker stdcopy frame: [stream,0,0,0, BE32 length] then
 * "<timestamp> " if `timestamps`, then `details` and a space if details is
 * non-NULL and non-empty (e.g. "com.docker.swarm.node.id=X,..."), then the
 * data. *out is malloc'd (caller frees), *outlen its size. Returns 0,
 * -EINVAL (bad stream, or payload over 4 GiB) or -ENOMEM. */
int wlog_stdcopy_frame(int stream, int64_t ts_ns, int timestamps, const char *details,
		       const void *data, size_t len, uint8_t **out, size_t *outlen);

#endif
