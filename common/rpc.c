#include "common/rpc.h"

#define RPC_OUTQ_CHUNK (64u * 1024u)

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

struct rpc_hdr {
	uint8_t kind;
	uint8_t flags;
	int32_t status;
	uint64_t id;
	const char *text;
	size_t text_len;
	const uint8_t *body;
	size_t body_len;
};

static void put_hdr(uint8_t out[RPC_HDR_LEN], uint8_t kind, uint8_t flags, size_t text_len,
		    int32_t status, uint64_t id)
{
	out[0] = kind;
	out[1] = flags;
	out[2] = (uint8_t) (text_len >> 8);
	out[3] = (uint8_t) text_len;
	buf_put_be32(out + 4, (uint32_t) status);
	buf_put_be64(out + 8, id);
}

static int send_msg(struct rpc_peer *p, uint8_t kind, uint8_t flags, int32_t status, uint64_t id,
		    const char *text, const void *body, size_t body_len)
{
	uint8_t hdr[RPC_HDR_LEN];
	size_t text_len = text ? strnlen(text, RPC_MAX_TEXT) : 0;
	uv_buf_t pieces[3];

	if (!p->conn || p->closing)
		return -SHOAL_ECLOSED;
	put_hdr(hdr, kind, flags, text_len, status, id);
	pieces[0] = uv_buf_init((char *) hdr, RPC_HDR_LEN);
	pieces[1] = uv_buf_init((char *) (uintptr_t) text, (unsigned) text_len);
	pieces[2] = uv_buf_init((char *) (uintptr_t) body, (unsigned) body_len);
	return wire_sendv(p->conn, pieces, 3);
}

static int parse_hdr(const uint8_t *data, size_t len, struct rpc_hdr *h)
{
	if (len < RPC_HDR_LEN)
		return -SHOAL_EPROTO;
	h->kind = data[0];
	h->flags = data[1];
	h->text_len = buf_get_be16(data + 2);
	h->status = (int32_t) buf_get_be32(data + 4);
	h->id = buf_get_be64(data + 8);
	if (h->kind < RPC_REQ || h->kind > RPC_PONG || h->text_len > RPC_MAX_TEXT ||
	    RPC_HDR_LEN + h->text_len > len)
		return -SHOAL_EPROTO;
	/* Statuses are 0 or negative codes; anything else is garbage. */
	if (h->status > 0 || h->status < -(SHOAL_EEND + 1000))
		return -SHOAL_EPROTO;
	h->text = (const char *) data + RPC_HDR_LEN;
	h->body = data + RPC_HDR_LEN + h->text_len;
	h->body_len = len - RPC_HDR_LEN - h->text_len;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Timers: per-call deadlines and keepalive share one timer per peer.        */

static void timer_cb(uv_timer_t *t);

static void arm_timer(struct rpc_peer *p)
{
	uint64_t now = uv_now(p->conn->loop);
	uint64_t due = UINT64_MAX;

	if (p->closing)
		return;
	if (p->keepalive_ms)
		due = p->last_rx + p->keepalive_ms;
	for (struct rpc_call *c = p->calls_head; c; c = c->next)
		if (c->deadline && c->deadline < due)
			due = c->deadline;
	if (due == UINT64_MAX) {
		uv_timer_stop(&p->timer);
		return;
	}
	uv_timer_start(&p->timer, timer_cb, due > now ? due - now : 0, 0);
}

static void unlink_call(struct rpc_peer *p, struct rpc_call *c)
{
	map_del(&p->calls, c->id);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->calls_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void finish_call(struct rpc_call *c, int status, const char *msg, const uint8_t *body,
			size_t len)
{
	unlink_call(c->peer, c);
	if (c->on_reply)
		c->on_reply(c, status, msg, body, len);
	free(c);
}

static void timer_cb(uv_timer_t *t)
{
	struct rpc_peer *p = t->data;
	uint64_t now = uv_now(t->loop);
	struct rpc_call *c, *next;

	for (c = p->calls_head; c; c = next) {
		next = c->next;
		if (c->deadline && c->deadline <= now) {
			/* Tell the server to stop working on it, then fail locally. */
			send_msg(p, RPC_CANCEL, 0, 0, c->id, NULL, NULL, 0);
			finish_call(c, -SHOAL_ETIMEDOUT, "request timed out", NULL, 0);
			/* The callback may have cancelled others: restart the scan. */
			next = p->calls_head;
		}
	}
	if (p->closing)
		return;
	if (p->keepalive_ms && now >= p->last_rx + p->keepalive_ms) {
		if (now >= p->last_rx + 3 * p->keepalive_ms) {
			log_warn("rpc", "peer silent, closing peer=%s silent_ms=%llu",
				 p->conn->peer, (unsigned long long) (now - p->last_rx));
			rpc_peer_close(p, -SHOAL_ETIMEDOUT);
			return;
		}
		send_msg(p, RPC_PING, 0, 0, 0, NULL, NULL, 0);
		/* Next check one period later, not immediately. */
		uv_timer_start(&p->timer, timer_cb, p->keepalive_ms, 0);
		return;
	}
	arm_timer(p);
}

/* ------------------------------------------------------------------------ */
/* Server side                                                               */

static const struct rpc_method *find_method(struct rpc_peer *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->n_methods; i++)
		if (strlen(p->methods[i].name) == len && memcmp(p->methods[i].name, name, len) == 0)
			return &p->methods[i];
	return NULL;
}

static void free_req(struct rpc_req *req)
{
	if (req->peer)
		map_del(&req->peer->reqs, req->id);
	free(req);
}

static int handle_req(struct rpc_peer *p, const struct rpc_hdr *h)
{
	const struct rpc_method *m = find_method(p, h->text, h->text_len);
	struct rpc_req *req;

	if (map_get(&p->reqs, h->id))
		return -SHOAL_EPROTO; /* id reused while in flight */
	if (!m) {
		char msg[RPC_MAX_TEXT + 32];
		snprintf(msg, sizeof(msg), "unknown method %.*s", (int) h->text_len, h->text);
		send_msg(p, (h->flags & RPC_F_STREAM) ? RPC_END : RPC_RESP, 0, -SHOAL_ENOMETHOD,
			 h->id, msg, NULL, 0);
		return 0;
	}
	if ((m->flags & RPC_F_STREAM) != (h->flags & RPC_F_STREAM)) {
		send_msg(p, (h->flags & RPC_F_STREAM) ? RPC_END : RPC_RESP, 0, -SHOAL_EPROTO, h->id,
			 (m->flags & RPC_F_STREAM) ? "method is a stream"
						   : "method is not a stream",
			 NULL, 0);
		return 0;
	}
	req = xcalloc(1, sizeof(*req));
	req->peer = p;
	req->id = h->id;
	req->method = m;
	req->credit = RPC_STREAM_WINDOW;
	map_put(&p->reqs, h->id, req);
	m->fn(req, h->body, h->body_len);
	return 0;
}

int rpc_reply(struct rpc_req *req, int status, const char *msg, const void *body, size_t len)
{
	int rv = -SHOAL_ECLOSED;

	if (req->peer && !req->cancelled)
		rv = send_msg(req->peer, RPC_RESP, 0, status, req->id, msg, body, len);
	else if (req->cancelled)
		rv = -ECANCELED;
	free_req(req);
	return rv;
}

int rpc_stream_send(struct rpc_req *req, const void *data, size_t len)
{
	int rv;

	if (!req->peer)
		return -SHOAL_ECLOSED;
	if (req->cancelled)
		return -ECANCELED;
	if (len > RPC_MAX_CHUNK)
		return -EMSGSIZE;
	if (len > req->credit)
		return -EAGAIN;
	rv = send_msg(req->peer, RPC_DATA, 0, 0, req->id, NULL, data, len);
	if (rv == 0)
		req->credit -= (uint32_t) len;
	return rv;
}

int rpc_stream_end(struct rpc_req *req, int status, const char *msg)
{
	int rv = -SHOAL_ECLOSED;

	if (req->peer && !req->cancelled)
		rv = send_msg(req->peer, RPC_END, 0, status, req->id, msg, NULL, 0);
	else if (req->cancelled)
		rv = -ECANCELED;
	free_req(req);
	return rv;
}

static int handle_credit(struct rpc_peer *p, const struct rpc_hdr *h)
{
	struct rpc_req *req = map_get(&p->reqs, h->id);
	uint32_t n;

	if (h->body_len != 4)
		return -SHOAL_EPROTO;
	if (!req)
		return 0; /* already finished */
	n = buf_get_be32(h->body);
	if ((uint64_t) req->credit + n > RPC_STREAM_WINDOW)
		return -SHOAL_EPROTO; /* credit beyond what we ever sent */
	req->credit += n;
	if (req->on_writable && !req->cancelled)
		req->on_writable(req);
	return 0;
}

static void cancel_req(struct rpc_req *req)
{
	if (req->cancelled)
		return;
	req->cancelled = 1;
	if (req->on_cancel)
		req->on_cancel(req);
}

/* ------------------------------------------------------------------------ */
/* Caller side                                                               */

static int start_call(struct rpc_peer *p, const char *method, const void *body, size_t len,
		      uint64_t timeout_ms, int stream, rpc_data_cb on_data, rpc_reply_cb cb,
		      void *data, struct rpc_call **out)
{
	struct rpc_call *c;
	int rv;

	if (!p->conn || p->closing)
		return -SHOAL_ECLOSED;
	if (strlen(method) > RPC_MAX_TEXT)
		return -EINVAL;
	c = xcalloc(1, sizeof(*c));
	c->peer = p;
	c->id = ++p->next_id;
	c->stream = stream;
	c->on_data = on_data;
	c->on_reply = cb;
	c->data = data;
	rv = send_msg(p, RPC_REQ, stream ? RPC_F_STREAM : 0, 0, c->id, method, body, len);
	if (rv) {
		free(c);
		return rv;
	}
	if (timeout_ms)
		c->deadline = uv_now(p->conn->loop) + timeout_ms;
	map_put(&p->calls, c->id, c);
	c->next = p->calls_head;
	if (c->next)
		c->next->prev = c;
	p->calls_head = c;
	if (timeout_ms)
		arm_timer(p);
	if (out)
		*out = c;
	return 0;
}

int rpc_call(struct rpc_peer *p, const char *method, const void *body, size_t len,
	     uint64_t timeout_ms, rpc_reply_cb cb, void *data, struct rpc_call **out)
{
	return start_call(p, method, body, len, timeout_ms, 0, NULL, cb, data, out);
}

int rpc_stream_open(struct rpc_peer *p, const char *method, const void *body, size_t len,
		    rpc_data_cb on_data, rpc_reply_cb on_end, void *data, struct rpc_call **out)
{
	return start_call(p, method, body, len, 0, 1, on_data, on_end, data, out);
}

void rpc_call_cancel(struct rpc_call *c)
{
	send_msg(c->peer, RPC_CANCEL, 0, 0, c->id, NULL, NULL, 0);
	finish_call(c, -ECANCELED, "cancelled", NULL, 0);
}

static void return_credit(struct rpc_call *c)
{
	if (c->unacked == 0 || c->paused)
		return;
	uint8_t n[4];
	buf_put_be32(n, c->unacked);
	c->unacked = 0;
	send_msg(c->peer, RPC_CREDIT, 0, 0, c->id, NULL, n, 4);
}

void rpc_call_pause(struct rpc_call *c)
{
	c->paused = 1;
}

void rpc_call_resume(struct rpc_call *c)
{
	c->paused = 0;
	return_credit(c);
}

static int handle_data(struct rpc_peer *p, const struct rpc_hdr *h)
{
	struct rpc_call *c = map_get(&p->calls, h->id);
	uint64_t id = h->id;

	if (!c)
		return 0; /* cancelled or timed out: drop */
	if (!c->stream)
		return -SHOAL_EPROTO;
	if ((uint64_t) c->unacked + h->body_len > RPC_STREAM_WINDOW)
		return -SHOAL_EPROTO; /* the server ignored flow control */
	c->unacked += (uint32_t) h->body_len;
	if (c->on_data)
		c->on_data(c, h->body, h->body_len);
	/* The callback may have cancelled (freed) the call. */
	c = map_get(&p->calls, id);
	if (c && c->unacked >= RPC_STREAM_WINDOW / 4)
		return_credit(c);
	return 0;
}

static int handle_answer(struct rpc_peer *p, const struct rpc_hdr *h)
{
	struct rpc_call *c = map_get(&p->calls, h->id);
	char msg[RPC_MAX_TEXT + 1];

	if (!c)
		return 0; /* timed out or cancelled already */
	if ((h->kind == RPC_END) != (c->stream != 0))
		return -SHOAL_EPROTO;
	memcpy(msg, h->text, h->text_len);
	msg[h->text_len] = '\0';
	finish_call(c, h->status, msg, h->body, h->body_len);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Connection glue                                                           */

static void on_msg(struct wire_conn *conn, const uint8_t *data, size_t len)
{
	struct rpc_peer *p = conn->data;
	struct rpc_hdr h;
	int rv;

	if (p->closing)
		return;
	p->last_rx = uv_now(conn->loop);
	rv = parse_hdr(data, len, &h);
	if (rv == 0) {
		switch (h.kind) {
		case RPC_REQ:
			rv = handle_req(p, &h);
			break;
		case RPC_RESP:
		case RPC_END:
			rv = handle_answer(p, &h);
			break;
		case RPC_DATA:
			rv = handle_data(p, &h);
			break;
		case RPC_CREDIT:
			rv = handle_credit(p, &h);
			break;
		case RPC_CANCEL: {
			struct rpc_req *req = map_get(&p->reqs, h.id);
			if (req)
				cancel_req(req);
			break;
		}
		case RPC_PING:
			send_msg(p, RPC_PONG, 0, 0, 0, NULL, NULL, 0);
			break;
		case RPC_PONG:
			break;
		}
	}
	if (rv && rv != -SHOAL_ECLOSED) {
		log_warn("rpc", "protocol violation, closing peer=%s kind=%u", conn->peer,
			 len ? data[0] : 0);
		rpc_peer_close(p, rv);
	}
}

static void timer_close_cb(uv_handle_t *h)
{
	struct rpc_peer *p = h->data;

	if (p->on_close)
		p->on_close(p, p->close_reason);
	map_free(&p->calls);
	map_free(&p->reqs);
	buf_free(&p->scratch);
	free(p);
}

static void on_close(struct wire_conn *conn, int reason)
{
	struct rpc_peer *p = conn->data;
	struct rpc_req *req;
	size_t it = 0;

	p->closing = 1;
	if (!p->close_reason)
		p->close_reason = reason;
	p->conn = NULL;
	while (p->calls_head)
		finish_call(p->calls_head, -SHOAL_ECLOSED, "connection closed", NULL, 0);
	/* Detach incoming requests: handlers finish them on their own time. */
	while (map_next(&p->reqs, &it, NULL, (void **) &req)) {
		req->peer = NULL;
		cancel_req(req);
	}
	map_free(&p->reqs);
	uv_close((uv_handle_t *) &p->timer, timer_close_cb);
}

struct rpc_peer *rpc_peer_new(struct wire_conn *conn, const struct rpc_method *methods,
			      size_t n_methods, rpc_peer_close_cb close_cb, void *data)
{
	struct rpc_peer *p = xcalloc(1, sizeof(*p));

	p->conn = conn;
	p->methods = methods;
	p->n_methods = n_methods;
	p->on_close = close_cb;
	p->data = data;
	p->keepalive_ms = RPC_DEFAULT_KEEPALIVE_MS;
	p->last_rx = uv_now(conn->loop);
	uv_timer_init(conn->loop, &p->timer);
	p->timer.data = p;
	conn->data = p;
	conn->on_msg = on_msg;
	conn->on_close = on_close;
	arm_timer(p);
	return p;
}

void rpc_peer_set_keepalive(struct rpc_peer *p, uint64_t ms)
{
	p->keepalive_ms = ms;
	if (p->conn)
		arm_timer(p);
}

void rpc_peer_close(struct rpc_peer *p, int reason)
{
	if (p->closing || !p->conn)
		return;
	p->close_reason = reason;
	wire_close(p->conn, reason);
	/* on_close above finishes the teardown from wire's close callback. */
}

/* ------------------------------------------------------------------------ */
/* Record streams                                                            */

void rpc_outq_record(struct rpc_outq *o, const void *rec, size_t len)
{
	buf_append_be32(&o->q, (uint32_t) len);
	buf_append(&o->q, rec, len);
}

void rpc_outq_raw(struct rpc_outq *o, const void *data, size_t len)
{
	buf_append(&o->q, data, len);
}

size_t rpc_outq_pending(const struct rpc_outq *o)
{
	return o->q.len - o->off;
}

int rpc_outq_pump(struct rpc_req *req, struct rpc_outq *o)
{
	while (o->off < o->q.len) {
		size_t n = o->q.len - o->off;
		int rv;

		if (n > RPC_OUTQ_CHUNK)
			n = RPC_OUTQ_CHUNK;
		if (n > req->credit)
			n = req->credit;
		if (n == 0)
			return 0; /* on_writable resumes */
		rv = rpc_stream_send(req, o->q.data + o->off, n);
		if (rv == -EAGAIN)
			return 0;
		if (rv)
			return rv;
		o->off += n;
	}
	o->q.len = o->off = 0;
	return 0;
}

void rpc_outq_free(struct rpc_outq *o)
{
	buf_free(&o->q);
	o->off = 0;
}

int rpc_records_feed(struct buf *in, const uint8_t *data, size_t len, size_t max,
		     int (*cb)(void *arg, const uint8_t *rec, size_t len), void *arg)
{
	buf_append(in, data, len);
	while (in->len >= 4) {
		uint32_t n = buf_get_be32(in->data);
		int rv;

		if (n > max)
			return -EMSGSIZE;
		if (in->len < 4 + (size_t) n)
			return 0;
		rv = cb(arg, in->data + 4, n);
		buf_consume(in, 4 + (size_t) n);
		if (rv)
			return rv;
	}
	return 0;
}
