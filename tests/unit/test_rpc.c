/* RPC over wire: calls, errors, timeouts, streams with flow control, keepalive. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/rpc.h"
#include "tests/lib/harness.h"

static uv_loop_t loop;

struct ctx {
	int replies;
	int errors;
	int last_status;
	char last_msg[128];
	size_t stream_bytes;
	int ended;
	int end_status;
	int cancels;
	int peer_closed;
	int close_reason;
	int want;
	struct rpc_req *held; /* a request the server sits on */
	struct rpc_call *call;
	size_t stream_total;
	size_t stream_sent;
	int eagain;
};

static struct ctx server_ctx, client_ctx;

/* ---- server methods ---- */

static void echo(struct rpc_req *req, const uint8_t *body, size_t len)
{
	rpc_reply(req, 0, NULL, body, len);
}

static void fail(struct rpc_req *req, const uint8_t *body, size_t len)
{
	rpc_reply(req, -SHOAL_EVERSION, "update out of sequence", NULL, 0);
}

static void on_cancel(struct rpc_req *req)
{
	server_ctx.cancels++;
}

static void hold(struct rpc_req *req, const uint8_t *body, size_t len)
{
	req->on_cancel = on_cancel;
	server_ctx.held = req;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t) (i * 7 + (i >> 11));
}

static void pump(struct rpc_req *req)
{
	static uint8_t chunk[64 * 1024];

	while (server_ctx.stream_sent < server_ctx.stream_total) {
		size_t n = server_ctx.stream_total - server_ctx.stream_sent;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern(server_ctx.stream_sent + i);
		int rv = rpc_stream_send(req, chunk, n);
		if (rv == -EAGAIN) {
			server_ctx.eagain++;
			return; /* wait for credit */
		}
		cr_assert_eq(rv, 0, "stream send: %s", err_str(rv));
		server_ctx.stream_sent += n;
	}
	rpc_stream_end(req, 0, NULL);
}

static void stream(struct rpc_req *req, const uint8_t *body, size_t len)
{
	cr_assert_eq(len, 8);
	server_ctx.stream_total = buf_get_be64(body);
	server_ctx.stream_sent = 0;
	req->on_writable = pump;
	req->on_cancel = on_cancel;
	server_ctx.held = req;
	pump(req);
}

static const struct rpc_method methods[] = {
    {"echo", echo, 0},
    {"fail", fail, 0},
    {"hold", hold, 0},
    {"stream", stream, RPC_F_STREAM},
};

/* ---- client callbacks ---- */

static void on_reply(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		     size_t len)
{
	struct ctx *x = call->data;

	if (status == 0)
		x->replies++;
	else
		x->errors++;
	x->last_status = status;
	snprintf(x->last_msg, sizeof(x->last_msg), "%s", msg ? msg : "");
	if (status == 0 && len == 8) {
		/* echo of the call number: check the body came back intact */
		cr_assert_eq(buf_get_be64(body), (uint64_t) call->id);
	}
	if (x->want && x->replies + x->errors >= x->want)
		uv_stop(&loop);
}

static void on_data(struct rpc_call *call, const uint8_t *data, size_t len)
{
	struct ctx *x = call->data;

	for (size_t i = 0; i < len; i++)
		cr_assert_eq(data[i], pattern(x->stream_bytes + i), "byte %zu",
			     x->stream_bytes + i);
	x->stream_bytes += len;
}

static void on_end(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
		   size_t len)
{
	struct ctx *x = call->data;

	x->ended = 1;
	x->end_status = status;
	x->call = NULL;
	uv_stop(&loop);
}

static void peer_closed(struct rpc_peer *p, int reason)
{
	struct ctx *x = p->data;

	x->peer_closed = 1;
	x->close_reason = reason;
}

static struct rpc_peer *server, *client;

static void setup(void)
{
	int sv[2];
	struct wire_conn *a, *b;

	cr_assert_geq(sodium_init(), 0);
	log_set_level(LOG_LERROR);
	memset(&server_ctx, 0, sizeof(server_ctx));
	memset(&client_ctx, 0, sizeof(client_ctx));
	uv_loop_init(&loop);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(wire_open_fd(&loop, sv[0], &a), 0);
	cr_assert_eq(wire_open_fd(&loop, sv[1], &b), 0);
	server = rpc_peer_new(a, methods, sizeof(methods) / sizeof(methods[0]), peer_closed,
			      &server_ctx);
	client = rpc_peer_new(b, NULL, 0, peer_closed, &client_ctx);
	wire_start(a);
	wire_start(b);
}

static void teardown(void)
{
	cr_expect_eq(harness_loop_close(&loop), 0, "handles leaked");
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 60);

static void close_both(void)
{
	rpc_peer_close(client, 0);
	harness_run(&loop, 2000);
	cr_expect(server_ctx.peer_closed);
	cr_expect(client_ctx.peer_closed);
}

Test(rpc, thousands_of_concurrent_calls_match_their_replies)
{
	uint8_t body[8];

	client_ctx.want = 5000;
	for (uint64_t i = 1; i <= 5000; i++) {
		struct rpc_call *c;
		buf_put_be64(body, client->next_id + 1);
		cr_assert_eq(rpc_call(client, "echo", body, 8, 10000, on_reply, &client_ctx, &c),
			     0);
	}
	harness_run(&loop, 20000);
	cr_expect_eq(client_ctx.replies, 5000);
	cr_expect_eq(client_ctx.errors, 0);
	close_both();
}

Test(rpc, remote_errors_and_unknown_methods)
{
	client_ctx.want = 1;
	cr_assert_eq(rpc_call(client, "fail", NULL, 0, 1000, on_reply, &client_ctx, NULL), 0);
	harness_run(&loop, 2000);
	cr_expect_eq(client_ctx.last_status, -SHOAL_EVERSION);
	cr_expect_str_eq(client_ctx.last_msg, "update out of sequence");

	client_ctx.want = 2;
	cr_assert_eq(rpc_call(client, "nosuch", NULL, 0, 1000, on_reply, &client_ctx, NULL), 0);
	harness_run(&loop, 2000);
	cr_expect_eq(client_ctx.last_status, -SHOAL_ENOMETHOD);
	cr_expect_str_eq(client_ctx.last_msg, "unknown method nosuch");

	/* A unary call to a stream method is refused, not half-served. */
	client_ctx.want = 3;
	cr_assert_eq(rpc_call(client, "stream", NULL, 0, 1000, on_reply, &client_ctx, NULL), 0);
	harness_run(&loop, 2000);
	cr_expect_eq(client_ctx.last_status, -SHOAL_EPROTO);
	close_both();
}

Test(rpc, unanswered_call_times_out_and_server_sees_cancel)
{
	uint64_t t0 = uv_now(&loop);

	client_ctx.want = 1;
	cr_assert_eq(rpc_call(client, "hold", NULL, 0, 200, on_reply, &client_ctx, NULL), 0);
	harness_run(&loop, 5000);
	uv_update_time(&loop);
	cr_expect_eq(client_ctx.last_status, -SHOAL_ETIMEDOUT);
	cr_expect_geq(uv_now(&loop) - t0, 190);
	cr_expect_lt(uv_now(&loop) - t0, 2000);
	harness_run(&loop, 100);
	cr_expect_eq(server_ctx.cancels, 1);
	/* The late answer is dropped, not delivered. */
	cr_assert_not_null(server_ctx.held);
	cr_expect_eq(rpc_reply(server_ctx.held, 0, NULL, "late", 4), -ECANCELED);
	harness_run(&loop, 100);
	cr_expect_eq(client_ctx.replies, 0);
	close_both();
}

Test(rpc, closing_fails_outstanding_calls)
{
	client_ctx.want = 1;
	cr_assert_eq(rpc_call(client, "hold", NULL, 0, 0, on_reply, &client_ctx, NULL), 0);
	harness_run(&loop, 100);
	rpc_peer_close(server, -SHOAL_EPROTO);
	harness_run(&loop, 2000);
	cr_expect_eq(client_ctx.last_status, -SHOAL_ECLOSED);
	cr_expect(server_ctx.peer_closed);
	cr_expect(client_ctx.peer_closed);
	cr_expect_eq(server_ctx.close_reason, -SHOAL_EPROTO);
	cr_expect_eq(server_ctx.cancels, 1);
	/* The handler still owns the request: finishing it must be safe. */
	cr_expect_eq(rpc_reply(server_ctx.held, 0, NULL, NULL, 0), -ECANCELED);
}

Test(rpc, stream_delivers_every_byte_in_order)
{
	uint8_t body[8];

	buf_put_be64(body, 32u << 20);
	cr_assert_eq(rpc_stream_open(client, "stream", body, 8, on_data, on_end, &client_ctx,
				     &client_ctx.call),
		     0);
	harness_run(&loop, 30000);
	cr_expect(client_ctx.ended);
	cr_expect_eq(client_ctx.end_status, 0);
	cr_expect_eq(client_ctx.stream_bytes, 32u << 20);
	cr_expect_gt(server_ctx.eagain, 0, "flow control never engaged");
	close_both();
}

Test(rpc, slow_reader_bounds_what_the_server_sends)
{
	uint8_t body[8];

	buf_put_be64(body, 64u << 20);
	cr_assert_eq(rpc_stream_open(client, "stream", body, 8, on_data, on_end, &client_ctx,
				     &client_ctx.call),
		     0);
	rpc_call_pause(client_ctx.call);
	harness_run(&loop, 500);
	/* Paused: the server stopped at one window, not 64 MiB. */
	cr_expect_leq(server_ctx.stream_sent, RPC_STREAM_WINDOW);
	cr_expect_leq(client_ctx.stream_bytes, RPC_STREAM_WINDOW);
	cr_expect_gt(server_ctx.eagain, 0);
	rpc_call_resume(client_ctx.call);
	harness_run(&loop, 30000);
	cr_expect(client_ctx.ended);
	cr_expect_eq(client_ctx.stream_bytes, 64u << 20);
	close_both();
}

Test(rpc, cancelled_stream_stops_the_server)
{
	uint8_t body[8];

	buf_put_be64(body, 64u << 20);
	cr_assert_eq(rpc_stream_open(client, "stream", body, 8, on_data, on_end, &client_ctx,
				     &client_ctx.call),
		     0);
	rpc_call_pause(client_ctx.call);
	harness_run(&loop, 200);
	rpc_call_cancel(client_ctx.call);
	cr_expect(client_ctx.ended);
	cr_expect_eq(client_ctx.end_status, -ECANCELED);
	harness_run(&loop, 200);
	cr_expect_eq(server_ctx.cancels, 1);
	cr_expect_eq(rpc_stream_send(server_ctx.held, "x", 1), -ECANCELED);
	cr_expect_eq(rpc_stream_end(server_ctx.held, 0, NULL), -ECANCELED);
	close_both();
}

Test(rpc, silent_peer_is_closed_by_keepalive)
{
	/* The server stops reading: it cannot answer pings. */
	rpc_peer_set_keepalive(client, 100);
	rpc_peer_set_keepalive(server, 0);
	wire_pause(server->conn);
	harness_run(&loop, 2000);
	cr_expect(client_ctx.peer_closed);
	cr_expect_eq(client_ctx.close_reason, -SHOAL_ETIMEDOUT);
	/* The paused server never noticed; its owner closes it. */
	rpc_peer_close(server, 0);
	harness_run(&loop, 500);
	cr_expect(server_ctx.peer_closed);
}

Test(rpc, live_peer_survives_keepalive)
{
	rpc_peer_set_keepalive(client, 50);
	rpc_peer_set_keepalive(server, 50);
	harness_run(&loop, 600);
	cr_expect_not(client_ctx.peer_closed);
	cr_expect_not(server_ctx.peer_closed);
	close_both();
}

/* Record streams: records cut anywhere come back whole and in order. */
struct recs_seen {
	size_t n;
	size_t lens[8];
	uint8_t first[8];
};

static int on_rec(void *arg, const uint8_t *rec, size_t len)
{
	struct recs_seen *r = arg;

	r->lens[r->n] = len;
	r->first[r->n] = len ? rec[0] : 0;
	r->n++;
	return 0;
}

Test(rpc_records, records_split_across_chunks_are_reassembled)
{
	struct rpc_outq o = {0};
	struct buf in = {0};
	struct recs_seen seen = {0};
	uint8_t big[70000];

	memset(big, 'b', sizeof(big));
	rpc_outq_record(&o, "a", 1);
	rpc_outq_record(&o, "", 0);
	rpc_outq_record(&o, big, sizeof(big));
	/* Feed one byte, then 7, then the rest in 1000-byte pieces. */
	size_t off = 0, step[] = {1, 7};
	for (size_t i = 0; i < 2; i++, off += step[i - 1])
		cr_assert_eq(rpc_records_feed(&in, o.q.data + off, step[i], 1 << 20, on_rec, &seen),
			     0);
	while (off < o.q.len) {
		size_t n = o.q.len - off < 1000 ? o.q.len - off : 1000;
		cr_assert_eq(rpc_records_feed(&in, o.q.data + off, n, 1 << 20, on_rec, &seen), 0);
		off += n;
	}
	cr_assert_eq(seen.n, 3);
	cr_assert_eq(seen.lens[0], 1);
	cr_assert_eq(seen.first[0], 'a');
	cr_assert_eq(seen.lens[1], 0);
	cr_assert_eq(seen.lens[2], sizeof(big));
	cr_assert_eq(in.len, 0, "nothing left over");
	/* A record above the bound is refused. */
	cr_assert_eq(rpc_records_feed(&in, o.q.data, o.q.len, 100, on_rec, &seen), -EMSGSIZE);
	rpc_outq_free(&o);
	buf_free(&in);
}
