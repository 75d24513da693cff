/* `shoal image ...`: load, ls, pull, rm, inspect -- docker's image commands
 * against the node's image store.
 *
 * Registry credentials for `pull`: --user/--password, or the environment
 * (SHOAL_REGISTRY_USER, SHOAL_REGISTRY_PASSWORD); they travel to the daemon
 * in X-Registry-Auth as the docker CLI sends them (base64url JSON). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/flag.h"
#include "cli/format.h"
#include "cli/units.h"
#include "common/err.h"

#define MAX_LOAD_ARCHIVE (2048ull << 20)

/* go-units HumanSizeWithPrecision(size, 3): decimal units, "2.14MB". */
static void human_size(double size, char *out, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	size_t i = 0;

	while (size >= 1000 && i + 1 < sizeof(units) / sizeof(units[0])) {
		size /= 1000;
		i++;
	}
	snprintf(out, len, "%.3g%s", size, units[i]);
}

/* Prints a daemon JSON message stream; an error message ends it. */
static int print_stream(struct cli_ctx *ctx, const struct buf *body, int show_status)
{
	const char *p = body->len ? (const char *) body->data : "";

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t) (nl - p) : strlen(p);
		CLI_AUTO_JSON json_t *m = json_loadb(p, n, 0, NULL);
		const char *err = cli_json_str(m, "errorDetail.message");

		if (!*err)
			err = cli_json_str(m, "error");
		if (*err)
			return cli_errorf(ctx, -SHOAL_EREMOTE, "%s", err);
		if (*cli_json_str(m, "stream"))
			fputs(cli_json_str(m, "stream"), ctx->out);
		else if (show_status && *cli_json_str(m, "status")) {
			const char *id = cli_json_str(m, "id");
			fprintf(ctx->out, "%s%s%s\n", id, *id ? ": " : "",
				cli_json_str(m, "status"));
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

static int image_load(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *input = "";
	int quiet = 0, rc;
	CLI_AUTO_BUF struct buf data = BUF_INIT;
	CLI_AUTO_BUF struct buf body = BUF_INIT;
	struct cli_flag flags[] = {
	    {"input", 'i', CLI_FLAG_STRING, &input, "Read from tar archive file, instead of STDIN",
	     NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Suppress the load output", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};
	FILE *f;

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if (!*input && isatty(fileno(ctx->in)))
		return cli_errorf(ctx, -EINVAL, "requested load from stdin, but stdin is empty");
	f = *input ? fopen(input, "rb") : ctx->in;
	if (!f)
		return cli_errorf(ctx, -errno, "open %s: %s", input, strerror(errno));
	for (;;) {
		uint8_t *p = buf_reserve(&data, 1 << 20);
		size_t n = fread(p, 1, 1 << 20, f);
		data.len += n;
		if (n == 0 || data.len > MAX_LOAD_ARCHIVE)
			break;
	}
	if (*input)
		fclose(f);
	if (data.len > MAX_LOAD_ARCHIVE)
		return cli_errorf(ctx, -EMSGSIZE, "image archive larger than %llu bytes",
				  (unsigned long long) MAX_LOAD_ARCHIVE);
	if (data.len == 0)
		return cli_errorf(ctx, -EINVAL, "requested load from stdin, but stdin is empty");
	struct cli_http_req req = {.method = "POST",
				   .path = "/images/load",
				   .query = quiet ? "quiet=1" : "quiet=0",
				   .body = data.data,
				   .body_len = data.len,
				   .content_type = "application/x-tar"};
	if ((rc = cli_api_raw(ctx, &req, &body)))
		return rc;
	return print_stream(ctx, &body, 0);
}

/* ------------------------------------------------------------------------ */

static void add_row(json_t *rows, json_t *img, const char *repo, const char *tag,
		    const char *digest, int no_trunc, int64_t now_ns)
{
	const char *id = cli_json_str(img, "Id");
	int64_t created = cli_json_int(img, "Created");
	char since[64], ago[80], size[32], short_id[16];

	cli_human_duration(now_ns - created * 1000000000LL, since, sizeof(since));
	snprintf(ago, sizeof(ago), "%s ago", since);
	human_size((double) cli_json_int(img, "Size"), size, sizeof(size));
	snprintf(short_id, sizeof(short_id), "%.12s", strncmp(id, "sha256:", 7) ? id : id + 7);
	json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "Repository", repo,
					      "Tag", tag, "ID", no_trunc ? id : short_id,
					      "CreatedSince", ago, "Size", size, "Digest", digest,
					      "CreatedAt", (json_int_t) created));
}

static int image_ls(struct cli_ctx *ctx, int argc, char **argv)
{
	int quiet = 0, no_trunc = 0, all = 0, digests = 0, rc;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_FREE char *fjson = NULL;
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	CLI_AUTO_JSON json_t *list = NULL;
	CLI_AUTO_JSON json_t *rows = json_array();
	CLI_AUTO_JSON json_t *header = NULL;
	CLI_AUTO_FREE char *fmt = NULL;
	struct cli_flag flags[] = {
	    {"all", 'a', CLI_FLAG_BOOL, &all, "Show all images", NULL, NULL, 0},
	    {"digests", 0, CLI_FLAG_BOOL, &digests, "Show digests", NULL, NULL, 0},
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, CLI_FORMAT_HELP, NULL, NULL, 0},
	    {"no-trunc", 0, CLI_FLAG_BOOL, &no_trunc, "Don't truncate output", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only show image IDs", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};
	size_t i;
	json_t *img;

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 1)))
		return rc > 0 ? 0 : rc;
	if (argc == 1) {
		char *f = NULL;
		if (asprintf(&f, "reference=%s", argv[0]) < 0)
			abort();
		cli_strv_push(&filters, f);
		free(f);
	}
	fjson = cli_api_filters(&filters);
	if (fjson)
		cli_http_query_add(&q, "filters", fjson);
	buf_append_u8(&q, '\0');
	if ((rc = cli_api(ctx, "GET", "/images/json", (char *) q.data, NULL, &list)))
		return rc;
	if (!json_is_array(list))
		return cli_errorf(ctx, -EPROTO, "unexpected reply to GET /images/json");
	json_array_foreach(list, i, img)
	{
		json_t *tags = json_object_get(img, "RepoTags"), *t;
		size_t k;
		int any = 0;

		json_array_foreach(tags, k, t)
		{
			const char *s = json_string_value(t), *colon = strrchr(s, ':');
			char repo[600];
			if (!colon || strchr(colon, '/'))
				continue;
			snprintf(repo, sizeof(repo), "%.*s", (int) (colon - s), s);
			add_row(rows, img, repo, colon + 1, "<none>", no_trunc, cli_now_ns(ctx));
			any = 1;
		}
		if (!any)
			add_row(rows, img, "<none>", "<none>", "<none>", no_trunc, cli_now_ns(ctx));
	}
	if (quiet && (!*format || strcmp(format, "table") == 0)) {
		/* One line per image, as docker -q prints. */
		CLI_AUTO_JSON json_t *seen = json_object();
		json_array_foreach(rows, i, img)
		{
			const char *id = cli_json_str(img, "ID");
			if (!json_object_get(seen, id)) {
				json_object_set_new(seen, id, json_true());
				fprintf(ctx->out, "%s\n", id);
			}
		}
		return 0;
	}
	if (!*format || strcmp(format, "table") == 0)
		format =
		    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";
	fmt = cli_format_unescape(format);
	header = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Repository", "REPOSITORY", "Tag",
			   "TAG", "ID", "IMAGE ID", "CreatedSince", "CREATED", "Size", "SIZE",
			   "Digest", "DIGEST", "CreatedAt", "CREATED AT");
	return cli_format_list(ctx, fmt, rows, header);
}

/* ------------------------------------------------------------------------ */

static char *auth_header(const char *user, const char *password)
{
	CLI_AUTO_JSON json_t *j = NULL;
	CLI_AUTO_FREE char *s = NULL;
	char *enc, *out = NULL;
	size_t cap;

	if (!user || !*user)
		return NULL;
	j = json_pack("{s:s,s:s}", "username", user, "password", password ? password : "");
	s = json_dumps(j, JSON_COMPACT);
	cap = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE);
	enc = xmalloc(cap);
	sodium_bin2base64(enc, cap, (const unsigned char *) s, strlen(s),
			  sodium_base64_VARIANT_URLSAFE);
	if (asprintf(&out, "X-Registry-Auth: %s\r\n", enc) < 0)
		abort();
	free(enc);
	return out;
}

static int image_pull(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *user = getenv("SHOAL_REGISTRY_USER"), *password = NULL;
	const char *pw_env = getenv("SHOAL_REGISTRY_PASSWORD");
	int quiet = 0, rc;
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	CLI_AUTO_BUF struct buf body = BUF_INIT;
	CLI_AUTO_FREE char *name = NULL;
	CLI_AUTO_FREE char *hdr = NULL;
	const char *tag = "", *last, *at, *colon;
	struct cli_flag flags[] = {
	    {"password", 0, CLI_FLAG_STRING, &password,
	     "Registry password (default $SHOAL_REGISTRY_PASSWORD)", NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Suppress verbose output", NULL, NULL, 0},
	    {"user", 'u', CLI_FLAG_STRING, &user,
	     "Registry username (default $SHOAL_REGISTRY_USER)", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, 1)))
		return rc > 0 ? 0 : rc;
	if (!password)
		password = pw_env;
	name = xstrdup(argv[0]);
	last = strrchr(name, '/') ? strrchr(name, '/') : name;
	at = strchr(name, '@');
	colon = strchr(last, ':');
	if (at) {
		*(char *) at = '\0';
		tag = at + 1;
	} else if (colon) {
		*(char *) colon = '\0';
		tag = colon + 1;
	} else {
		tag = "latest";
		if (!quiet)
			fprintf(ctx->out, "Using default tag: latest\n");
	}
	cli_http_query_add(&q, "fromImage", name);
	cli_http_query_add(&q, "tag", tag);
	buf_append_u8(&q, '\0');
	hdr = auth_header(user, password);
	struct cli_http_req req = {
	    .method = "POST", .path = "/images/create", .query = (char *) q.data, .headers = hdr};
	if ((rc = cli_api_raw(ctx, &req, &body)))
		return rc;
	if ((rc = print_stream(ctx, &body, !quiet)))
		return rc;
	/* docker ends with the full normalized reference. */
	{
		const char *first = strchr(name, '/');
		int has_domain = first && (memchr(name, '.', (size_t) (first - name)) ||
					   memchr(name, ':', (size_t) (first - name)) ||
					   strncmp(name, "localhost/", 10) == 0);
		fprintf(ctx->out, "%s%s%s%s%s\n", has_domain ? "" : "docker.io/",
			has_domain || first ? "" : "library/", name, at ? "@" : ":", tag);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

static int image_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	int force = 0, no_prune = 0, rc, failed = 0;
	CLI_AUTO_BUF struct buf errs = BUF_INIT;
	struct cli_flag flags[] = {
	    {"force", 'f', CLI_FLAG_BOOL, &force, "Force removal of the image", NULL, NULL, 0},
	    {"no-prune", 0, CLI_FLAG_BOOL, &no_prune, "Do not delete untagged parents", NULL, NULL,
	     0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	for (int i = 0; i < argc; i++) {
		CLI_AUTO_FREE char *path = cli_api_path("/images/", argv[i], NULL);
		CLI_AUTO_JSON json_t *out = NULL;
		json_t *e;
		size_t k;

		rc = cli_api(ctx, "DELETE", path, force ? "force=1" : NULL, NULL, &out);
		if (rc) {
			cli_errs_add(&errs, NULL, cli_error_msg(ctx));
			failed = 1;
			continue;
		}
		json_array_foreach(out, k, e)
		{
			if (*cli_json_str(e, "Untagged"))
				fprintf(ctx->out, "Untagged: %s\n", cli_json_str(e, "Untagged"));
			if (*cli_json_str(e, "Deleted"))
				fprintf(ctx->out, "Deleted: %s\n", cli_json_str(e, "Deleted"));
		}
	}
	return failed ? cli_errs_fail(ctx, &errs, -SHOAL_EREMOTE) : 0;
}

/* ------------------------------------------------------------------------ */

static int fetch_image(struct cli_ctx *ctx, const char *ref, json_t **obj, const void *arg)
{
	CLI_AUTO_FREE char *path = cli_api_path("/images/", ref, "/json");

	return cli_api(ctx, "GET", path, NULL, NULL, obj);
}

static int image_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_inspect_ops ops = {.fetch = fetch_image};

	return cli_inspect_refs(ctx, argc, argv, &ops);
}

const struct cli_cmd cli_image_cmds[] = {
    {"inspect", image_inspect, "inspect [OPTIONS] IMAGE [IMAGE...]", NULL,
     "Display detailed information on one or more images", NULL},
    {"load", image_load, "load [OPTIONS]", NULL, "Load an image from a tar archive or STDIN", NULL},
    {"ls", image_ls, "ls [OPTIONS] [REPOSITORY[:TAG]]", NULL, "List images", "list"},
    {"pull", image_pull, "pull [OPTIONS] NAME[:TAG|@DIGEST]", NULL,
     "Download an image from a registry", NULL},
    {"rm", image_rm, "rm [OPTIONS] IMAGE [IMAGE...]", NULL, "Remove one or more images", "remove"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

int cli_images_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return image_ls(ctx, argc, argv);
}
