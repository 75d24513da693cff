/* Fixture shared by test_ctl.c and test_ctl_services.c: the controlapi on a real store, with a
 * proposer that applies each batch at once (as a single-node Raft would, synchronously), and
 * call() to run one method and capture its single reply. */
#ifndef SHOAL_TESTS_UNIT_TEST_CTL_H
#define SHOAL_TESTS_UNIT_TEST_CTL_H

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "manager/controlapi/ctl.h"
#include "proto/control.pb-c.h"

static struct store *st;
static uint64_t next_index;
static struct ctl c;

/* Applies `b` at the next index (timestamps follow the index) and reports it applied. */
static int sync_propose(void *ctx, Shoal__StoreActionBatch *b, ctl_done_cb cb, void *arg)
{
	struct store_result res;

	(void) ctx;
	b->timestamp = 1700000000000000000LL + (int64_t) next_index;
	cr_assert_eq(store_apply_batch(st, b, ++next_index, &res), 0);
	cb(arg, 0, &res);
	return 0;
}

struct reply {
	int called;
	int status;
	char msg[512];
	uint8_t body[65536];
	size_t len;
};

static void on_reply(void *arg, int status, const char *msg, const uint8_t *body, size_t len)
{
	struct reply *r = arg;

	r->called++;
	r->status = status;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	cr_assert_leq(len, sizeof(r->body));
	if (len)
		memcpy(r->body, body, len);
	r->len = len;
}

/* Packs `m`, calls `method` and asserts it replied exactly once (synchronously). */
static inline struct reply call(const char *method, const ProtobufCMessage *m)
{
	struct reply r = {0};
	uint8_t *buf = malloc(protobuf_c_message_get_packed_size(m) + 1);
	size_t len = protobuf_c_message_pack(m, buf);

	ctl_call(&c, method, buf, len, on_reply, &r);
	free(buf);
	cr_assert_eq(r.called, 1, "%s replied %d times", method, r.called);
	return r;
}

/* A fresh empty store and a ctl on it (from a suite's .init); ctl_fixture_fini frees it. */
static inline void ctl_fixture_init(void)
{
	cr_assert_geq(sodium_init(), 0);
	log_set_level(LOG_LERROR);
	st = store_new();
	next_index = 0;
	memset(&c, 0, sizeof(c));
	c.store = st;
	c.proposer.propose = sync_propose;
}

static inline void ctl_fixture_fini(void)
{
	store_free(st);
}

#endif
