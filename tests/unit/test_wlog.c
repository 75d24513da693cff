/* Unit tests for worker/logs: writer records, partial lines, rotation, tail,
 * since/until, the follow cursor across rotations, stdcopy frames. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/logs/wlog.h"

static char tmp[64];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test_wlog.XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(wlog, .init = setup, .fini = teardown, .timeout = 30);

struct rec {
	int stream, partial;
	int64_t ts;
	char *data;
	size_t len;
};
struct recs {
	struct rec r[20000];
	size_t n;
};

static int collect(int stream, int64_t ts, const char *data, size_t len, int partial, void *arg)
{
	struct recs *rs = arg;
	struct rec *r;

	cr_assert_lt(rs->n, 20000);
	r = &rs->r[rs->n++];
	r->stream = stream;
	r->partial = partial;
	r->ts = ts;
	r->data = malloc(len + 1);
	memcpy(r->data, data, len);
	r->data[len] = 0;
	r->len = len;
	return 0;
}

static struct recs *recs_new(void)
{
	return calloc(1, sizeof(struct recs));
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].data);
	free(rs);
}

static char *dir_of(const char *name)
{
	static char d[128];

	snprintf(d, sizeof(d), "%s/%s", tmp, name);
	return d;
}

Test(wlog, timestamp_round_trip)
{
	char buf[WLOG_TS_LEN + 1];
	int64_t ts = 1704067200123456789LL, back;

	wlog_format_ts(ts, buf);
	cr_assert_str_eq(buf, "2024-01-01T00:00:00.123456789Z");
	cr_assert_eq(wlog_parse_ts(buf, strlen(buf), &back), 0);
	cr_assert_eq(back, ts);
	cr_assert_eq(wlog_parse_ts("2024-13-01T00:00:00.123456789Z", WLOG_TS_LEN, &back), -EINVAL);
	cr_assert_eq(wlog_parse_ts("garbage", 7, &back), -EINVAL);
}

Test(wlog, round_trip_lines_and_streams)
{
	struct wlog_writer w;
	struct recs *rs = recs_new();
	char *d = dir_of("t1");

	cr_assert_eq(wlog_writer_open(&w, d, 0, 0), 0);
	cr_assert_eq(wlog_writer_write(&w, WLOG_STDOUT, "hello\nwor", 9, 1000), 0);
	cr_assert_eq(wlog_writer_write(&w, WLOG_STDERR, "err line\n", 9, 2000), 0);
	cr_assert_eq(wlog_writer_write(&w, WLOG_STDOUT, "ld\n\n", 4, 3000), 0);
	cr_assert_eq(wlog_writer_write(&w, WLOG_STDOUT, "tail", 4, 4000), 0);
	wlog_writer_close(&w);

	cr_assert_eq(wlog_read(d, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 5);
	cr_expect_str_eq(rs->r[0].data, "hello\n");
	cr_expect_eq(rs->r[0].stream, WLOG_STDOUT);
	cr_expect_eq(rs->r[0].ts, 1000);
	cr_expect_str_eq(rs->r[1].data, "err line\n");
	cr_expect_eq(rs->r[1].stream, WLOG_STDERR);
	cr_expect_str_eq(rs->r[2].data, "world\n");
	cr_expect_eq(rs->r[2].ts, 3000);
	cr_expect_str_eq(rs->r[3].data, "\n");
	cr_expect_str_eq(rs->r[4].data, "tail");
	cr_expect_eq(rs->r[4].partial, 1);

	/* Stream filter and since/until. */
	recs_free(rs);
	rs = recs_new();
	struct wlog_opts o = {.tail = -1, .streams = WLOG_STDERR};
	cr_assert_eq(wlog_read(d, &o, collect, rs), 0);
	cr_assert_eq(rs->n, 1);
	cr_expect_str_eq(rs->r[0].data, "err line\n");
	recs_free(rs);
	rs = recs_new();
	o = (struct wlog_opts){.tail = -1, .since = 2000, .until = 3000};
	cr_assert_eq(wlog_read(d, &o, collect, rs), 0);
	cr_assert_eq(rs->n, 3);
	recs_free(rs);
	cr_expect_eq(wlog_read(dir_of("missing"), NULL, collect, NULL), -ENOENT);
}

Test(wlog, long_lines_are_cut_into_partials)
{
	struct wlog_writer w;
	struct recs *rs = recs_new();
	size_t n = WLOG_MAX_LINE * 2 + 100;
	char *big = malloc(n + 1);
	char *d = dir_of("t2");

	memset(big, 'x', n);
	big[n] = '\n';
	cr_assert_eq(wlog_writer_open(&w, d, 0, 0), 0);
	/* Fed in odd pieces, as pipes deliver it. */
	for (size_t off = 0; off < n + 1; off += 7000) {
		size_t k = n + 1 - off < 7000 ? n + 1 - off : 7000;
		cr_assert_eq(wlog_writer_write(&w, WLOG_STDOUT, big + off, k, 0), 0);
	}
	wlog_writer_close(&w);
	cr_assert_eq(wlog_read(d, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 3);
	cr_expect_eq(rs->r[0].partial, 1);
	cr_expect_eq(rs->r[0].len, WLOG_MAX_LINE);
	cr_expect_eq(rs->r[1].partial, 1);
	cr_expect_eq(rs->r[1].len, WLOG_MAX_LINE);
	cr_expect_eq(rs->r[2].partial, 0);
	cr_expect_eq(rs->r[2].len, 101);
	free(big);
	recs_free(rs);
}

static void write_n(struct wlog_writer *w, int from, int to)
{
	char line[64];

	for (int i = from; i < to; i++) {
		int k = snprintf(line, sizeof(line), "line %05d\n", i);
		cr_assert_eq(wlog_writer_write(w, WLOG_STDOUT, line, (size_t) k, 0), 0);
	}
}

Test(wlog, rotation_keeps_three_files_and_tail_spans_them)
{
	struct wlog_writer w;
	struct recs *rs = recs_new();
	char *d = dir_of("t3");
	char p[256];
	/* A record is 30+1+6+1+1+1 + "line 00000" + 1 = 51 bytes: 20 a file. */
	cr_assert_eq(wlog_writer_open(&w, d, 51 * 20, 3), 0);
	write_n(&w, 0, 100);
	wlog_writer_close(&w);
	snprintf(p, sizeof(p), "%s/log.3", d);
	cr_expect_neq(access(p, F_OK), 0, "only 3 files are kept");
	snprintf(p, sizeof(p), "%s/log.2", d);
	cr_expect_eq(access(p, F_OK), 0);

	cr_assert_eq(wlog_read(d, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 60, "3 files of 20 records, got %zu", rs->n);
	cr_expect_str_eq(rs->r[0].data, "line 00040\n");
	cr_expect_str_eq(rs->r[59].data, "line 00099\n");
	recs_free(rs);

	/* tail 25 reaches into log.1; tail 1000 is everything; tail 0 nothing. */
	rs = recs_new();
	struct wlog_opts o = {.tail = 25};
	cr_assert_eq(wlog_read(d, &o, collect, rs), 0);
	cr_assert_eq(rs->n, 25);
	cr_expect_str_eq(rs->r[0].data, "line 00075\n");
	cr_expect_str_eq(rs->r[24].data, "line 00099\n");
	recs_free(rs);
	rs = recs_new();
	o.tail = 1000;
	cr_assert_eq(wlog_read(d, &o, collect, rs), 0);
	cr_expect_eq(rs->n, 60);
	recs_free(rs);
	rs = recs_new();
	o.tail = 0;
	cr_assert_eq(wlog_read(d, &o, collect, rs), 0);
	cr_expect_eq(rs->n, 0);
	recs_free(rs);
}

Test(wlog, cursor_follows_across_rotation)
{
	struct wlog_writer w;
	struct wlog_cursor c;
	struct recs *rs = recs_new();
	char *d = dir_of("t4");

	cr_assert_eq(wlog_writer_open(&w, d, 51 * 20, 3), 0);
	write_n(&w, 0, 10);
	cr_assert_eq(wlog_cursor_open(&c, d, 1), 0);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 0, "at_end skips stored records");
	/* 10 -> 35 crosses one rotation (after record 20). */
	write_n(&w, 10, 35);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 25);
	cr_expect_str_eq(rs->r[0].data, "line 00010\n");
	cr_expect_str_eq(rs->r[24].data, "line 00034\n");
	/* Two more rotations between reads: log.2 and log.1 are read. */
	write_n(&w, 35, 70);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 60);
	for (size_t i = 0; i < rs->n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "line %05zu\n", i + 10);
		cr_assert_str_eq(rs->r[i].data, want);
	}
	/* A torn write is not delivered until it completes. */
	int fd = w.fd;
	cr_assert_eq(write(fd, "2024-01-01T00:00:00.000000000Z stdout F half", 44), 44);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 60);
	cr_assert_eq(write(fd, "way\n", 4), 4);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(rs->n, 61);
	cr_expect_str_eq(rs->r[60].data, "halfway\n");
	wlog_writer_close(&w);
	recs_free(rs);

	/* From the start: every stored record, oldest first. */
	rs = recs_new();
	cr_assert_eq(wlog_cursor_open(&c, d, 0), 0);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_expect_gt(rs->n, 40);
	cr_expect_str_eq(rs->r[rs->n - 1].data, "halfway\n");
	recs_free(rs);
}

Test(wlog, cursor_waits_for_missing_file)
{
	struct wlog_cursor c;
	struct wlog_writer w;
	struct recs *rs = recs_new();
	char *d = dir_of("t5");

	cr_assert_eq(wlog_cursor_open(&c, d, 1), 0);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_assert_eq(wlog_writer_open(&w, d, 0, 0), 0);
	write_n(&w, 0, 3);
	wlog_writer_close(&w);
	cr_assert_eq(wlog_cursor_read(&c, NULL, collect, rs), 0);
	cr_expect_eq(rs->n, 3);
	recs_free(rs);
}

Test(wlog, stdcopy_frame_bytes)
{
	uint8_t *f;
	size_t n;

	cr_assert_eq(wlog_stdcopy_frame(WLOG_STDERR, 0, 0, NULL, "hi\n", 3, &f, &n), 0);
	cr_assert_eq(n, 11);
	const uint8_t want[] = {2, 0, 0, 0, 0, 0, 0, 3, 'h', 'i', '\n'};
	cr_expect_eq(memcmp(f, want, 11), 0);
	free(f);

	cr_assert_eq(
	    wlog_stdcopy_frame(WLOG_STDOUT, 1704067200000000001LL, 1, "a=1,b=2", "x", 1, &f, &n),
	    0);
	const char *payload = "2024-01-01T00:00:00.000000001Z a=1,b=2 x";
	size_t pl = strlen(payload);
	cr_assert_eq(n, 8 + pl);
	cr_expect_eq(f[0], 1);
	cr_expect_eq(f[4], 0);
	cr_expect_eq(f[7], (uint8_t) pl);
	cr_expect_eq(memcmp(f + 8, payload, pl), 0);
	free(f);
	cr_expect_eq(wlog_stdcopy_frame(3, 0, 0, NULL, "x", 1, &f, &n), -EINVAL);
}
