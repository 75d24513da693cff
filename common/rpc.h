/* rpc: requests, responses and server-pushed streams over a wire_conn.
 *
 * Both ends of a connection are peers: either may call methods the other
 * registered. Every message starts with a fixed header:
 *
 *     u8 kind | u8 flags | u16 text_len | i32 status | u64 id | text | body
 *
 *   REQ     id, text = method name, body = request; flags RPC_F_STREAM asks
 *           for a stream answer
 *   RESP    id, status (0 or a negative shoal/errno code), text = message
 *   DATA    id, body = one stream chunk (server -> caller)
 *   END     id, status, text: the stream is over
 *   CREDIT  id, body = u32 bytes the caller has consumed (flow control)
 *   CANCEL  id: the caller gives up on a call or stream
 *   PING / PONG   keepalive
 *
 * Flow control: a stream starts with RPC_STREAM_WINDOW bytes of credit. The
 * server may send DATA only within its credit; the caller returns credit as
 * its data callback consumes chunks, unless it paused the call. A slow reader
 * therefore holds at most one window in flight, never unbounded memory.
 *
 * Timeouts: unary calls fail with -SHOAL_ETIMEDOUT after their deadline.
 * Keepalive: after `keepalive_ms` of silence a PING goes out; after three
 * silent periods the connection is closed with -SHOAL_ETIMEDOUT. */
#ifndef SHOAL_COMMON_RPC_H
#define SHOAL_COMMON_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/map.h"
#include "common/wire.h"

#define RPC_HDR_LEN		 16u
#define RPC_STREAM_WINDOW	 (1u << 20)
#define RPC_MAX_CHUNK		 (256u * 1024u)
#define RPC_DEFAULT_KEEPALIVE_MS 5000u
#define RPC_MAX_TEXT		 1024u

enum rpc_kind {
	RPC_REQ = 1,
	RPC_RESP,
	RPC_DATA,
	RPC_END,
	RPC_CREDIT,
	RPC_CANCEL,
	RPC_PING,
	RPC_PONG,
};

#define RPC_F_STREAM 0x01u

struct rpc_peer;
struct rpc_req;
struct rpc_call;

/* Server side: handles one incoming request. The handler (now or later)
 * must finish it with rpc_reply (unary) or rpc_stream_end (stream); that
 * frees `req`. `body` is valid only during the call. */
typedef void (*rpc_handler_fn)(struct rpc_req *req, const uint8_t *body, size_t len);
/* Server side stream: credit arrived, more data may be sent. */
typedef void (*rpc_writable_cb)(struct rpc_req *req);
/* Server side: the caller cancelled or the connection died. The handler
 * still finishes the request (rpc_reply/rpc_stream_end just free it then). */
typedef void (*rpc_cancel_cb)(struct rpc_req *req);

/* Caller side: the answer. status is 0, the remote's negative code (with its
 * message in `msg`), -SHOAL_ETIMEDOUT, -SHOAL_ECLOSED or -ECANCELED. For
 * streams this is the END. `body`/`msg` valid only during the call. The call
 * is freed when this returns. */
typedef void (*rpc_reply_cb)(struct rpc_call *call, int status, const char *msg,
			     const uint8_t *body, size_t len);
/* Caller side stream chunk; `data` valid only during the call. */
typedef void (*rpc_data_cb)(struct rpc_call *call, const uint8_t *data, size_t len);
/* The peer's connection is gone; last callback, the peer is freed after. */
typedef void (*rpc_peer_close_cb)(struct rpc_peer *p, int reason);

struct rpc_method {
	const char *name;
	rpc_handler_fn fn;
	uint32_t flags; /* RPC_F_STREAM for stream methods */
};

struct rpc_req {
	void *data;	       /* handler's state */
	struct rpc_peer *peer; /* NULL once the connection is gone */
	uint64_t id;
	const struct rpc_method *method;
	int cancelled;
	uint32_t credit; /* stream bytes we may still send */
	rpc_writable_cb on_writable;
	rpc_cancel_cb on_cancel;
};

struct rpc_call {
	void *data; /* caller's state */
	struct rpc_peer *peer;
	uint64_t id;
	uint64_t deadline; /* uv_now ms; 0 = none */
	int stream;
	int paused;
	uint32_t unacked; /* bytes consumed, credit not yet returned */
	rpc_reply_cb on_reply;
	rpc_data_cb on_data;
	struct rpc_call *prev, *next; /* outstanding list */
};

struct rpc_peer {
	void *data; /* owner's state */
	struct wire_conn *conn;
	const struct rpc_method *methods;
	size_t n_methods;
	struct map calls; /* id -> struct rpc_call*, outgoing */
	struct map reqs;  /* id -> struct rpc_req*, incoming */
	struct rpc_call *calls_head;
	uint64_t next_id;
	uv_timer_t timer;
	uint64_t keepalive_ms;
	uint64_t last_rx; /* uv_now of the last message received */
	int pinged;
	int closing;
	int close_reason;
	rpc_peer_close_cb on_close;
	struct buf scratch;
};

/* Wraps an open connection (taking it over: its msg/close callbacks are the
 * peer's from now on; conn->data points at the peer). `methods` (may be
 * NULL) is borrowed and must outlive the peer. Returns the peer, which is
 * freed after its close callback. */
struct rpc_peer *rpc_peer_new(struct wire_conn *conn, const struct rpc_method *methods,
			      size_t n_methods, rpc_peer_close_cb on_close, void *data);
/* Sets the keepalive period (0 disables). */
void rpc_peer_set_keepalive(struct rpc_peer *p, uint64_t ms);
/* Closes the connection: every outstanding call fails with -SHOAL_ECLOSED
 * and every incoming request is cancelled. Idempotent. */
void rpc_peer_close(struct rpc_peer *p, int reason);

/* Sends a unary request. `timeout_ms` 0 means no deadline. On success the
 * call is owned by the peer until `cb` runs; *out (may be NULL) gets it.
 * Returns 0 or a negative code (then `cb` never runs). */
int rpc_call(struct rpc_peer *p, const char *method, const void *body, size_t len,
	     uint64_t timeout_ms, rpc_reply_cb cb, void *data, struct rpc_call **out);
/* Opens a stream: `on_data` gets each chunk, `on_end` the final status. */
int rpc_stream_open(struct rpc_peer *p, const char *method, const void *body, size_t len,
		    rpc_data_cb on_data, rpc_reply_cb on_end, void *data, struct rpc_call **out);
/* Cancels an outstanding call or stream: its callback runs with -ECANCELED. */
void rpc_call_cancel(struct rpc_call *call);
/* Pauses/resumes returning credit for a stream (a slow consumer). */
void rpc_call_pause(struct rpc_call *call);
void rpc_call_resume(struct rpc_call *call);

/* Answers a unary request and frees `req`. */
int rpc_reply(struct rpc_req *req, int status, const char *msg, const void *body, size_t len);
/* Sends one stream chunk (len <= RPC_MAX_CHUNK). Returns 0, -EAGAIN when
 * the caller's credit does not cover it (wait for on_writable), -EMSGSIZE,
 * or -SHOAL_ECLOSED/-ECANCELED when nobody listens any more. */
int rpc_stream_send(struct rpc_req *req, const void *data, size_t len);
/* Ends a stream with a status and frees `req`. */
int rpc_stream_end(struct rpc_req *req, int status, const char *msg);

/* ---- record streams ----
 * A stream of records of any size: each record is a u32 big-endian length
 * then its bytes, cut into chunks wherever credit and RPC_MAX_CHUNK allow. */

/* What a server stream has queued and not yet sent. */
struct rpc_outq {
	struct buf q;
	size_t off; /* bytes of q already sent */
};

/* Appends one record to the queue (copied). */
void rpc_outq_record(struct rpc_outq *o, const void *rec, size_t len);
/* Appends raw stream bytes (already framed records, e.g. relayed). */
void rpc_outq_raw(struct rpc_outq *o, const void *data, size_t len);
/* Bytes queued and not yet sent. */
size_t rpc_outq_pending(const struct rpc_outq *o);
/* Sends what the caller's credit allows. Returns 0 (all sent, or waiting for
 * on_writable) or the error of rpc_stream_send (the stream is dead). */
int rpc_outq_pump(struct rpc_req *req, struct rpc_outq *o);
void rpc_outq_free(struct rpc_outq *o);

/* Reassembles records from stream chunks: `in` keeps a partial record
 * between calls. Calls `cb` for each complete record (borrowed); a non-zero
 * return from cb stops and is returned. Returns 0, cb's value, or -EMSGSIZE
 * for a record longer than `max`. */
int rpc_records_feed(struct buf *in, const uint8_t *data, size_t len, size_t max,
		     int (*cb)(void *arg, const uint8_t *rec, size_t len), void *arg);

#endif
