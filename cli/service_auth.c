/* `--with-registry-auth` of `service create/update`: the X-Registry-Auth header the docker CLI
 * sends (command.RetrieveAuthTokenFromImage): the credentials stored for the image's registry
 * in the docker config file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), as
 * base64url JSON {"username","password","serveraddress"[,"identitytoken"]}; without any
 * (no file, no entry, or a credential helper, which shoal does not run), the empty auth "{}". */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/service.h"

#define DOCKER_HUB_ADDR "https://index.docker.io/v1/"

/* The registry host of an image reference: its first component when that looks like a host
 * (has '.' or ':', or is localhost), else Docker Hub ("docker.io"). */
static void image_host(const char *image, char *out, size_t n)
{
	size_t l = strcspn(image, "/");

	if (image[l] == '/' && (memchr(image, '.', l) || memchr(image, ':', l) ||
				(l == 9 && !strncmp(image, "localhost", 9))))
		snprintf(out, n, "%.*s", (int) l, image);
	else
		snprintf(out, n, "docker.io");
}

/* docker's ConvertToHostname, with Docker Hub's aliases folded into "docker.io". */
static void key_host(const char *key, char *out, size_t n)
{
	if (!strncmp(key, "http://", 7))
		key += 7;
	else if (!strncmp(key, "https://", 8))
		key += 8;
	snprintf(out, n, "%.*s", (int) strcspn(key, "/"), key);
	if (!strcmp(out, "index.docker.io") || !strcmp(out, "registry-1.docker.io"))
		snprintf(out, n, "docker.io");
}

static json_t *load_config(void)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char path[4096];

	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/config.json", dir);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.docker/config.json", home);
	else
		return NULL;
	return json_load_file(path, 0, NULL);
}

/* The credentials of `entry` into `auth` (username, password, identitytoken). */
static void fill_auth(json_t *auth, json_t *entry)
{
	const char *b64 = cli_json_str(entry, "auth");
	const char *user = cli_json_str(entry, "username");
	const char *pass = cli_json_str(entry, "password");
	const char *tok = cli_json_str(entry, "identitytoken");
	unsigned char dec[1024];
	size_t len = 0;

	if (*b64 && sodium_base642bin(dec, sizeof(dec) - 1, b64, strlen(b64), NULL, &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) == 0) {
		char *colon;

		dec[len] = '\0';
		colon = strchr((char *) dec, ':');
		if (colon) {
			*colon = '\0';
			user = (char *) dec;
			pass = colon + 1;
		}
		json_object_set_new(auth, "username", json_string(user));
		json_object_set_new(auth, "password", json_string(pass));
		sodium_memzero(dec, sizeof(dec));
	} else if (*user) {
		json_object_set_new(auth, "username", json_string(user));
		json_object_set_new(auth, "password", json_string(pass));
	}
	if (*tok)
		json_object_set_new(auth, "identitytoken", json_string(tok));
}

char *cli_svc_registry_auth(const char *image)
{
	CLI_AUTO_JSON json_t *cfg = load_config();
	CLI_AUTO_JSON json_t *auth = json_object();
	CLI_AUTO_FREE char *s = NULL;
	char host[256], kh[256], *enc, *out;
	const char *key;
	json_t *entry;
	size_t cap;

	image_host(image, host, sizeof(host));
	json_object_foreach(json_object_get(cfg, "auths"), key, entry)
	{
		key_host(key, kh, sizeof(kh));
		if (strcmp(kh, host) != 0 || !json_is_object(entry))
			continue;
		fill_auth(auth, entry);
		if (json_object_size(auth))
			json_object_set_new(
			    auth, "serveraddress",
			    json_string(strcmp(host, "docker.io") ? host : DOCKER_HUB_ADDR));
		break;
	}
	s = json_dumps(auth, JSON_COMPACT);
	cap = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE);
	enc = xmalloc(cap);
	sodium_bin2base64(enc, cap, (const unsigned char *) s, strlen(s),
			  sodium_base64_VARIANT_URLSAFE);
	sodium_memzero(s, strlen(s));
	if (asprintf(&out, "X-Registry-Auth: %s\r\n", enc) < 0)
		abort();
	free(enc);
	return out;
}

int cli_svc_api_headers(struct cli_ctx *ctx, const char *method, const char *path,
			const char *query, json_t *body, const char *headers, json_t **out)
{
	struct cli_http_req req = {.method = method, .path = path, .query = query};
	CLI_AUTO_BUF struct buf reply = BUF_INIT;
	CLI_AUTO_FREE char *payload = NULL;
	json_error_t jerr;
	int rc;

	if (!headers)
		return cli_api(ctx, method, path, query, body, out);
	*out = NULL;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload)
			return cli_errorf(ctx, -ENOMEM, "cannot encode request body");
		req.body = payload;
		req.body_len = strlen(payload);
	}
	req.headers = headers;
	if ((rc = cli_api_raw(ctx, &req, &reply)))
		return rc;
	if (!reply.len)
		return 0;
	*out = json_loadb((const char *) reply.data, reply.len, JSON_DECODE_ANY, &jerr);
	if (!*out)
		return cli_errorf(ctx, -EPROTO, "cannot decode the reply to %s %s: %s", method,
				  path, jerr.text);
	return 0;
}
