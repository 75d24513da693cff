/* Engine API calls on top of cli/http.c, with the docker client's error
 * wording, plus JSON helpers the commands share.
 *
 * A reply with status >= 400 becomes the command's error:
 *   Error response from daemon: <message>
 * (the JSON "message" for `Content-Type: application/json`, else the trimmed
 * body), exactly as the moby client words it. */
#ifndef SHOAL_CLI_API_H
#define SHOAL_CLI_API_H

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/flag.h"

/* Locals released when they go out of scope (crun style). */
static inline void cli_cleanup_json(json_t **p)
{
	json_decref(*p);
}
static inline void cli_cleanup_free(void *p)
{
	free(*(void **) p);
}
static inline void cli_cleanup_buf(struct buf *b)
{
	buf_free(b);
}
static inline void cli_cleanup_strv(struct cli_strv *s)
{
	cli_strv_free(s);
}
#define CLI_AUTO_JSON __attribute__((cleanup(cli_cleanup_json)))
#define CLI_AUTO_FREE __attribute__((cleanup(cli_cleanup_free)))
#define CLI_AUTO_BUF  __attribute__((cleanup(cli_cleanup_buf)))
#define CLI_AUTO_STRV __attribute__((cleanup(cli_cleanup_strv)))

/* Performs `method path?query` with `body` (borrowed, NULL for none) and, when
 * `out` is not NULL, decodes the reply into *out (new reference; NULL for an
 * empty body). Returns 0, or a negative code with the error set: connection
 * errors, "Error response from daemon: ..." for status >= 400
 * (-SHOAL_EREMOTE; ctx->last_status tells which), or undecodable JSON. */
int cli_api(struct cli_ctx *ctx, const char *method, const char *path, const char *query,
	    json_t *body, json_t **out);

/* Performs `req` as is and hands back the raw reply body in *body (caller
 * frees with buf_free; NUL-terminated). Status >= 400 becomes the daemon's
 * error as for cli_api. */
int cli_api_raw(struct cli_ctx *ctx, const struct cli_http_req *req, struct buf *body);

/* Returns "<prefix><escaped id><suffix>", e.g. ("/nodes/", id, "/update").
 * Caller frees. */
char *cli_api_path(const char *prefix, const char *id, const char *suffix);

/* `rm REF...` of docker's object commands: DELETE <prefix><escaped ref>
 * [?query] for each reference in order, printing each one removed; the
 * errors are joined one a line and returned as -EIO. */
int cli_api_remove_refs(struct cli_ctx *ctx, int argc, char **argv, const char *prefix,
			const char *query);

/* A list call: GET <path>?filters=<JSON of filters> (left out when there
 * are none), then `query` ("status=true", already encoded; NULL for none).
 * *out gets the reply (new reference), which must be a JSON array: else
 * -EPROTO "unexpected reply to GET <path>: expected an array". Other errors
 * as for cli_api. */
int cli_api_list(struct cli_ctx *ctx, const char *path, const struct cli_strv *filters,
		 const char *query, json_t **out);

/* Encodes docker list filters ("key=value" strings) as the API's JSON:
 * {"key":{"value":true}} with keys sorted. Returns NULL when there are none;
 * otherwise the caller frees. */
char *cli_api_filters(const struct cli_strv *filters);

/* Looks up a dotted path ("Spec.Role") in a JSON object; NULL if absent. */
json_t *cli_json_path(json_t *root, const char *path);
/* String at path, or "" when absent or not a string. Borrowed. */
const char *cli_json_str(json_t *root, const char *path);
/* Integer at path, or 0. */
int64_t cli_json_int(json_t *root, const char *path);
/* Truthiness at path (true, non-zero, non-empty). */
int cli_json_bool(json_t *root, const char *path);
/* Returns the object at path, creating empty objects along the way (an
 * existing null is replaced). Borrowed. */
json_t *cli_json_object_at(json_t *root, const char *path);

#endif
