/* Shared code of `shoal secret` and `shoal config` (see swobj.h). */
#include "cli/swobj.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/format.h"
#include "cli/template.h"
#include "cli/units.h"

/* ------------------------------------------------------------------------ */
/* base64                                                                    */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cli_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *s = xmalloc((len + 2) / 3 * 4 + 1), *o = s;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned) p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned) p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return s;
}

int cli_base64_decode(const char *s, struct buf *out)
{
	unsigned v = 0;
	int bits = 0;

	for (; *s && *s != '='; s++) {
		const char *c = memchr(b64, *s, 64);

		if (!c)
			return -EINVAL;
		v = (v << 6) | (unsigned) (c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_u8(out, (uint8_t) (v >> bits));
		}
	}
	buf_append_u8(out, '\0');
	out->len--;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Labels and data                                                           */

int cli_swobj_check_labels(struct cli_ctx *ctx, const struct cli_strv *labels)
{
	for (size_t i = 0; i < labels->n; i++) {
		const char *v = labels->v[i], *k = v, *eq = strchr(v, '=');
		size_t klen = eq ? (size_t) (eq - v) : strlen(v);
		const char *why = NULL;
		CLI_AUTO_FREE char *msg = NULL;

		while (klen > 0 && isspace((unsigned char) *k)) {
			k++;
			klen--;
		}
		if (klen == 0) {
			if (asprintf(&msg, "invalid label '%s': empty name", v) < 0)
				abort();
		} else {
			for (size_t j = 0; j < klen && !why; j++)
				if (isspace((unsigned char) k[j]))
					why = "contains whitespaces";
			if (why && asprintf(&msg, "label '%.*s' %s", (int) klen, k, why) < 0)
				abort();
		}
		if (msg) {
			ctx->exit_code = 125;
			return cli_errorf(ctx, -EINVAL,
					  "invalid argument \"%s\" for \"-l, --label\" flag: %s\n"
					  "See '%s --help'.",
					  v, msg, ctx->path);
		}
	}
	return 0;
}

json_t *cli_swobj_labels(const struct cli_strv *labels)
{
	json_t *m = json_object();

	for (size_t i = 0; i < labels->n; i++) {
		const char *v = labels->v[i], *eq;
		CLI_AUTO_FREE char *key = NULL;

		while (isspace((unsigned char) *v))
			v++;
		eq = strchr(v, '=');
		key = eq ? strndup(v, (size_t) (eq - v)) : xstrdup(v);
		if (!key)
			abort();
		json_object_set_new(m, key, json_string(eq ? eq + 1 : ""));
	}
	return m;
}

/* Go's syscall error strings are strerror() in lower case. */
static const char *go_errstr(int err, char *out, size_t n)
{
	snprintf(out, n, "%s", strerror(err));
	if (out[0])
		out[0] = (char) tolower((unsigned char) out[0]);
	return out;
}

int cli_swobj_read_data(struct cli_ctx *ctx, const char *file, size_t limit, const char *noun,
			struct buf *out)
{
	char chunk[8192], e[128];
	int fd = -1;
	FILE *in = NULL;

	if (!*file)
		return cli_errorf(ctx, -EINVAL, "%s file is required", noun);
	if (strcmp(file, "-") == 0) {
		in = ctx->in;
	} else {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_errorf(ctx, -errno, "error reading from %s: open %s: %s", file,
					  file, go_errstr(errno, e, sizeof(e)));
	}
	while (out->len < limit) {
		size_t want = limit - out->len < sizeof(chunk) ? limit - out->len : sizeof(chunk);
		ssize_t n;

		if (in) {
			n = (ssize_t) fread(chunk, 1, want, in);
			if (n == 0 && ferror(in)) {
				return cli_errorf(ctx, -EIO,
						  "error reading from STDIN: read %s: %s",
						  "/dev/stdin", go_errstr(EIO, e, sizeof(e)));
			}
		} else {
			n = read(fd, chunk, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;

				close(fd);
				return cli_errorf(ctx, -err, "error reading from %s: read %s: %s",
						  file, file, go_errstr(err, e, sizeof(e)));
			}
		}
		if (n == 0)
			break;
		buf_append(out, chunk, (size_t) n);
	}
	if (fd >= 0)
		close(fd);
	if (out->len == 0)
		return cli_errorf(ctx, -EINVAL, "error reading from %s: data is empty",
				  in ? "STDIN" : file);
	return 0;
}

int cli_swobj_create(struct cli_ctx *ctx, const struct cli_swobj_kind *k, json_t *spec)
{
	CLI_AUTO_FREE char *path = NULL;
	CLI_AUTO_JSON json_t *reply = NULL;
	int rc;

	if (asprintf(&path, "%s/create", k->api) < 0)
		abort();
	if ((rc = cli_api(ctx, "POST", path, NULL, spec, &reply)))
		return rc;
	fprintf(ctx->out, "%s\n", cli_json_str(reply, "ID"));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Pretty helpers                                                            */

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void cli_swobj_print_labels(FILE *f, json_t *labels)
{
	size_t n = json_object_size(labels), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *key;
	json_t *v;

	json_object_foreach(labels, key, v) keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; i < n; i++) {
		const char *val = cli_json_str(labels, keys[i]);

		fprintf(f, "\n - %s%s%s", keys[i], *val ? "=" : "", val);
	}
	free(keys);
}

void cli_swobj_pretty_time(const char *rfc3339, char *out, size_t n)
{
	size_t l;

	cli_time_go_string(*rfc3339 ? rfc3339 : "0001-01-01T00:00:00Z", out, n);
	/* capitalizeFirst: first byte upper, the rest lower. */
	l = strlen(out);
	for (size_t i = 0; i < l; i++)
		out[i] = (char) (i == 0 && l > 1 ? toupper((unsigned char) out[i])
						 : tolower((unsigned char) out[i]));
}

/* ------------------------------------------------------------------------ */
/* ls                                                                        */

struct sort_ent {
	json_t *obj;
	size_t idx;
};

static int cmp_name(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	int c =
	    cli_natural_cmp(cli_json_str(x->obj, "Spec.Name"), cli_json_str(y->obj, "Spec.Name"));

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static json_t *ago(const struct cli_ctx *ctx, const char *ts)
{
	int64_t t = 0;
	int off;
	char d[64], s[80];

	if (cli_time_parse(*ts ? ts : "0001-01-01T00:00:00Z", &t, &off))
		t = 0;
	cli_human_duration(cli_now_ns(ctx) - t, d, sizeof(d));
	snprintf(s, sizeof(s), "%s ago", d);
	return json_string(s);
}

/* "k=v" joined by ",", keys sorted (docker's map order is random). */
static json_t *joined_labels(json_t *labels)
{
	size_t n = json_object_size(labels), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	struct buf b = BUF_INIT;
	const char *key;
	json_t *v, *s;

	json_object_foreach(labels, key, v) keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 0; i < n; i++) {
		const char *val = cli_json_str(labels, keys[i]);

		if (i)
			buf_append_u8(&b, ',');
		buf_append(&b, keys[i], strlen(keys[i]));
		buf_append_u8(&b, '=');
		buf_append(&b, val, strlen(val));
	}
	s = json_stringn(b.len ? (char *) b.data : "", b.len);
	buf_free(&b);
	free(keys);
	return s;
}

/* One row as docker's secretContext/configContext (keys sorted like
 * encoding/json writes a map). */
static json_t *obj_row(const struct cli_ctx *ctx, const struct cli_swobj_kind *k, json_t *o)
{
	json_t *row = json_object();

	json_object_set_new(row, "CreatedAt", ago(ctx, cli_json_str(o, "CreatedAt")));
	if (k->has_driver)
		json_object_set_new(row, "Driver",
				    json_string(cli_json_str(o, "Spec.Driver.Name")));
	json_object_set_new(row, "ID", json_string(cli_json_str(o, "ID")));
	json_object_set_new(row, "Labels", joined_labels(cli_json_path(o, "Spec.Labels")));
	json_object_set_new(row, "Name", json_string(cli_json_str(o, "Spec.Name")));
	json_object_set_new(row, "UpdatedAt", ago(ctx, cli_json_str(o, "UpdatedAt")));
	return row;
}

int cli_swobj_ls(struct cli_ctx *ctx, const struct cli_swobj_kind *k, int argc, char **argv)
{
	int quiet = 0, rc;
	const char *format = "";
	CLI_AUTO_STRV struct cli_strv filters = {0};
	CLI_AUTO_JSON json_t *list = NULL;
	CLI_AUTO_JSON json_t *rows = NULL;
	CLI_AUTO_JSON json_t *header = NULL;
	struct sort_ent *ents;
	size_t n;
	struct cli_flag flags[] = {
	    {"filter", 'f', CLI_FLAG_FILTER, &filters, "Filter output based on conditions provided",
	     NULL, NULL, 0},
	    {"format", 0, CLI_FLAG_STRING, &format, CLI_FORMAT_HELP, NULL, NULL, 0},
	    {"quiet", 'q', CLI_FLAG_BOOL, &quiet, "Only display IDs", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 0, 0)))
		return rc > 0 ? 0 : rc;
	if ((rc = cli_api_list(ctx, k->api, &filters, NULL, &list)))
		return rc;
	if (!*format || strcmp(format, "table") == 0)
		format = quiet ? "{{.ID}}" : k->table_format;

	n = json_array_size(list);
	ents = xcalloc(n ? n : 1, sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		ents[i].obj = json_array_get(list, i);
		ents[i].idx = i;
	}
	qsort(ents, n, sizeof(*ents), cmp_name);
	rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, obj_row(ctx, k, ents[i].obj));
	free(ents);
	header =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID", "Name", "NAME", "Driver", "DRIVER",
		      "CreatedAt", "CREATED", "UpdatedAt", "UPDATED", "Labels", "LABELS");
	return cli_format_list(ctx, format, rows, header);
}

/* ------------------------------------------------------------------------ */
/* inspect, rm                                                               */

/* "<api>/<escaped ref>". Caller frees. */
static char *obj_path(const struct cli_swobj_kind *k, const char *ref)
{
	CLI_AUTO_FREE char *prefix = NULL;

	if (asprintf(&prefix, "%s/", k->api) < 0)
		abort();
	return cli_api_path(prefix, ref, NULL);
}

static int fetch_obj(struct cli_ctx *ctx, const char *ref, json_t **obj, const void *arg)
{
	CLI_AUTO_FREE char *path = obj_path(arg, ref);
	int rc = cli_api(ctx, "GET", path, NULL, NULL, obj);

	if (rc == 0 && !json_is_object(*obj))
		rc = cli_errorf(ctx, -EPROTO, "unexpected reply to GET %s: expected an object",
				path);
	return rc;
}

static void pretty_obj(FILE *f, json_t *obj, const void *arg)
{
	const struct cli_swobj_kind *k = arg;

	k->pretty(f, obj);
	fputc('\n', f);
}

int cli_swobj_inspect(struct cli_ctx *ctx, const struct cli_swobj_kind *k, int argc, char **argv)
{
	/* docker wraps every secret/config inspect failure in a status-1 error. */
	const struct cli_inspect_ops ops = {fetch_obj, pretty_obj, k, 0, 1};

	return cli_inspect_refs(ctx, argc, argv, &ops);
}

int cli_swobj_rm(struct cli_ctx *ctx, const struct cli_swobj_kind *k, int argc, char **argv)
{
	CLI_AUTO_FREE char *prefix = NULL;
	struct cli_flag flags[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL, 0}};
	int rc;

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	if (asprintf(&prefix, "%s/", k->api) < 0)
		abort();
	return cli_api_remove_refs(ctx, argc, argv, prefix, NULL);
}
