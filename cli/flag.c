/* Flag parsing and help output with pflag/cobra semantics (see flag.h). */
#include "cli/flag.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/units.h"

void cli_strv_push(struct cli_strv *s, const char *str)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

void cli_strv_free(struct cli_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

struct cli_flag *cli_flag_get(struct cli_flag *flags, const char *name)
{
	for (struct cli_flag *f = flags; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

void cli_quote(struct buf *b, const char *s)
{
	buf_append_u8(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_append_u8(b, '\\');
		buf_append_u8(b, (uint8_t) *s);
	}
	buf_append_u8(b, '"');
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Formats strconv's error: `strconv.ParseInt: parsing "x": invalid syntax`. */
static void strconv_error(char *err, size_t errlen, const char *fn, const char *s, int range)
{
	struct buf b = BUF_INIT;

	cli_quote(&b, s);
	snprintf(err, errlen, "strconv.%s: parsing %.*s: %s", fn, (int) b.len, (char *) b.data,
		 range ? "value out of range" : "invalid syntax");
	buf_free(&b);
}

static int parse_int64(const char *s, int64_t *out, char *err, size_t errlen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (!*s || *end || isspace((unsigned char) *s)) {
		strconv_error(err, errlen, "ParseInt", s, 0);
		return -EINVAL;
	}
	if (errno == ERANGE) {
		strconv_error(err, errlen, "ParseInt", s, 1);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!*s || !isdigit((unsigned char) *s)) {
		strconv_error(err, errlen, "ParseUint", s, 0);
		return -EINVAL;
	}
	v = strtoull(s, &end, 0);
	if (*end) {
		strconv_error(err, errlen, "ParseUint", s, 0);
		return -EINVAL;
	}
	if (errno == ERANGE || v > max) {
		strconv_error(err, errlen, "ParseUint", s, 1);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return s;
}

/* docker's FilterOpt: "Name = value" -> "name=value"; "" is ignored. */
static int parse_filter(const char *in, struct cli_strv *out, char *err, size_t errlen)
{
	char *copy, *eq, *name, *val;
	struct buf b = BUF_INIT;

	if (!*in)
		return 0;
	if (!strchr(in, '=')) {
		snprintf(err, errlen, "bad format of filter (expected name=value)");
		return -EINVAL;
	}
	copy = xstrdup(in);
	eq = strchr(copy, '=');
	*eq = '\0';
	name = trim(copy);
	val = trim(eq + 1);
	for (char *p = name; *p; p++)
		*p = (char) tolower((unsigned char) *p);
	buf_append(&b, name, strlen(name));
	buf_append_u8(&b, '=');
	buf_append(&b, val, strlen(val));
	buf_append_u8(&b, '\0');
	cli_strv_push(out, (char *) b.data);
	buf_free(&b);
	free(copy);
	return 0;
}

/* One CIDR, masked to its network like Go's net.ParseCIDR + IPNet.String(). */
static int parse_cidr(const char *in, struct cli_strv *out, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 8], text[INET6_ADDRSTRLEN + 8];
	unsigned char addr[16];
	const char *slash = strchr(in, '/');
	char *end;
	long bits;
	int af, len;

	if (!slash || (size_t) (slash - in) >= sizeof(host))
		goto bad;
	memcpy(host, in, (size_t) (slash - in));
	host[slash - in] = '\0';
	af = strchr(host, ':') ? AF_INET6 : AF_INET;
	len = af == AF_INET ? 4 : 16;
	if (inet_pton(af, host, addr) != 1 || !isdigit((unsigned char) slash[1]))
		goto bad;
	bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 0 || bits > len * 8)
		goto bad;
	for (int i = 0; i < len; i++) {
		int keep = (int) bits - i * 8;

		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (unsigned char) (0xff << (8 - keep));
	}
	inet_ntop(af, addr, text, sizeof(text));
	snprintf(host, sizeof(host), "/%ld", bits);
	strncat(text, host, sizeof(text) - strlen(text) - 1);
	cli_strv_push(out, text);
	return 0;
bad:
	snprintf(err, errlen, "invalid CIDR address: %s", in);
	return -EINVAL;
}

static int parse_ipnets(const char *in, struct cli_strv *out, char *err, size_t errlen)
{
	char *copy = xstrdup(in), *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save))
		rc = parse_cidr(trim(tok), out, err, errlen);
	free(copy);
	return rc;
}

int cli_parse_node_addr(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	char host[CLI_ADDR_MAX] = "", port[16] = "";
	const char *s = in, *colon;

	if (strncmp(s, "tcp://", 6) == 0)
		s += 6;
	else if (strstr(s, "://")) {
		snprintf(err, errlen, "invalid bind address (%s): unsupported proto '%.*s'", in,
			 (int) (strstr(s, "://") - s), s);
		return -EINVAL;
	}
	if (strchr(s, '/')) {
		snprintf(err, errlen,
			 "invalid bind address (%s): should not contain a path element", in);
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':') || (size_t) (end - s) >= sizeof(host))
			goto bad_port;
		memcpy(host, s + 1, (size_t) (end - s - 1));
		host[end - s - 1] = '\0';
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			goto bad_port;
		size_t hl = colon ? (size_t) (colon - s) : strlen(s);

		if (hl >= sizeof(host))
			goto bad_port;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (colon) {
		if (strlen(colon + 1) >= sizeof(port) ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			goto bad_port;
		snprintf(port, sizeof(port), "%s", colon + 1);
		if (port[0] && atoi(port) == 0) {
			snprintf(err, errlen, "invalid bind address (%s): invalid port: %s", in,
				 port);
			return -EINVAL;
		}
	}
	if (!host[0])
		snprintf(host, sizeof(host), "0.0.0.0");
	if (!port[0])
		snprintf(port, sizeof(port), "2377");
	if (strchr(host, ':'))
		snprintf(out, outlen, "[%s]:%s", host, port);
	else
		snprintf(out, outlen, "%s:%s", host, port);
	return 0;
bad_port:
	snprintf(err, errlen,
		 "invalid bind address (%s): parse \"tcp://%s\": invalid port \"%s\" after host",
		 in, s, strrchr(s, ':') ? strrchr(s, ':') : "");
	return -EINVAL;
}

/* Stores `value` into the flag; on error writes the reason into err. */
static int set_value(struct cli_flag *f, const char *value, char *err, size_t errlen)
{
	uint64_t u;
	int rc = 0;

	switch (f->type) {
	case CLI_FLAG_BOOL:
		rc = parse_bool(value, f->value);
		if (rc)
			strconv_error(err, errlen, "ParseBool", value, 0);
		break;
	case CLI_FLAG_STRING:
		*(const char **) f->value = value;
		break;
	case CLI_FLAG_INT64:
		rc = parse_int64(value, f->value, err, errlen);
		break;
	case CLI_FLAG_UINT32:
		rc = parse_uint(value, UINT32_MAX, &u, err, errlen);
		if (!rc)
			*(uint32_t *) f->value = (uint32_t) u;
		break;
	case CLI_FLAG_UINT64:
		rc = parse_uint(value, UINT64_MAX, f->value, err, errlen);
		break;
	case CLI_FLAG_DURATION:
		rc = cli_duration_parse(value, f->value, err, errlen);
		break;
	case CLI_FLAG_LIST:
		cli_strv_push(f->value, value);
		break;
	case CLI_FLAG_FILTER:
		rc = parse_filter(value, f->value, err, errlen);
		break;
	case CLI_FLAG_NODE_ADDR:
		rc = cli_parse_node_addr(value, f->value, CLI_ADDR_MAX, err, errlen);
		break;
	case CLI_FLAG_IPNET:
		rc = parse_ipnets(value, f->value, err, errlen);
		break;
	}
	if (rc == 0)
		f->changed = 1;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

static int flag_error(struct cli_ctx *ctx, const char *fmt, const char *a, char c)
{
	char msg[512];

	/* The formats are the fixed pflag messages below, never user input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (c)
		snprintf(msg, sizeof(msg), fmt, c, a);
	else
		snprintf(msg, sizeof(msg), fmt, a);
#pragma GCC diagnostic pop
	ctx->exit_code = 125;
	return cli_errorf(ctx, -EINVAL, "%s\nSee '%s --help'.", msg, ctx->path);
}

static int invalid_value(struct cli_ctx *ctx, const struct cli_flag *f, const char *value,
			 const char *why)
{
	struct buf b = BUF_INIT, n = BUF_INIT;
	char name[128];
	int rc;

	if (f->shorthand)
		snprintf(name, sizeof(name), "-%c, --%s", f->shorthand, f->name);
	else
		snprintf(name, sizeof(name), "--%s", f->name);
	cli_quote(&b, value);
	cli_quote(&n, name);
	ctx->exit_code = 125;
	rc = cli_errorf(ctx, -EINVAL, "invalid argument %.*s for %.*s flag: %s\nSee '%s --help'.",
			(int) b.len, (char *) b.data, (int) n.len, (char *) n.data, why, ctx->path);
	buf_free(&b);
	buf_free(&n);
	return rc;
}

static struct cli_flag *find_short(struct cli_flag *flags, char c)
{
	for (struct cli_flag *f = flags; f && f->name; f++)
		if (f->shorthand == c)
			return f;
	return NULL;
}

int cli_flags_parse(struct cli_ctx *ctx, struct cli_flag *flags, int *argc, char **argv)
{
	char why[512];
	int n = *argc, npos = 0, i;

	for (i = 0; i < n; i++) {
		char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (i++; i < n; i++)
				argv[npos++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			argv[npos++] = a;
			continue;
		}
		if (a[1] == '-') {
			char *name = a + 2, *eq = strchr(name, '=');
			size_t nl = eq ? (size_t) (eq - name) : strlen(name);
			struct cli_flag *f = NULL;
			char nbuf[128];

			snprintf(nbuf, sizeof(nbuf), "%.*s", (int) nl, name);
			f = cli_flag_get(flags, nbuf);
			if (!f && strcmp(nbuf, "help") == 0) {
				cli_print_help(ctx, flags, ctx->out);
				return 1;
			}
			if (!f)
				return flag_error(ctx, "unknown flag: --%s", nbuf, 0);
			if (f->type == CLI_FLAG_BOOL && !eq) {
				*(int *) f->value = 1;
				f->changed = 1;
				continue;
			}
			const char *value = eq ? eq + 1 : NULL;

			if (!value) {
				if (i + 1 >= n)
					return flag_error(ctx, "flag needs an argument: --%s", nbuf,
							  0);
				value = argv[++i];
			}
			if (set_value(f, value, why, sizeof(why)))
				return invalid_value(ctx, f, value, why);
			continue;
		}
		/* Shorthand cluster: "-q", "-qa", "-fname=x", "-f x". */
		for (char *c = a + 1; *c; c++) {
			struct cli_flag *f = find_short(flags, *c);
			const char *value;

			if (!f && *c == 'h') {
				cli_print_help(ctx, flags, ctx->out);
				return 1;
			}
			if (!f)
				return flag_error(ctx, "unknown shorthand flag: '%c' in %s", a, *c);
			if (f->type == CLI_FLAG_BOOL) {
				if (c[1] == '=') {
					if (set_value(f, c + 2, why, sizeof(why)))
						return invalid_value(ctx, f, c + 2, why);
					break;
				}
				*(int *) f->value = 1;
				f->changed = 1;
				continue;
			}
			if (c[1]) {
				value = c[1] == '=' ? c + 2 : c + 1;
			} else {
				if (i + 1 >= n)
					return flag_error(ctx, "flag needs an argument: '%c' in %s",
							  a, *c);
				value = argv[++i];
			}
			if (set_value(f, value, why, sizeof(why)))
				return invalid_value(ctx, f, value, why);
			break;
		}
	}
	argv[npos] = NULL;
	*argc = npos;
	return 0;
}

int cli_cmd_parse(struct cli_ctx *ctx, struct cli_flag *flags, int *argc, char **argv, int min,
		  int max)
{
	int rc = cli_flags_parse(ctx, flags, argc, argv);

	if (rc)
		return rc;
	if (max == CLI_ARGS_ANY)
		return cli_args_min(ctx, *argc, min);
	if (min == max)
		return min == 0 ? cli_args_none(ctx, *argc) : cli_args_exact(ctx, *argc, min);
	return cli_args_range(ctx, *argc, min, max);
}

/* ------------------------------------------------------------------------ */
/* Help                                                                      */

static const char *type_word(const struct cli_flag *f)
{
	if (f->varname)
		return f->varname;
	switch (f->type) {
	case CLI_FLAG_BOOL:
		return "";
	case CLI_FLAG_STRING:
		return "string";
	case CLI_FLAG_INT64:
		return "int";
	case CLI_FLAG_UINT32:
		return "uint32";
	case CLI_FLAG_UINT64:
		return "uint";
	case CLI_FLAG_DURATION:
		return "duration";
	case CLI_FLAG_LIST:
		return "list";
	case CLI_FLAG_FILTER:
		return "filter";
	case CLI_FLAG_NODE_ADDR:
		return "node-addr";
	case CLI_FLAG_IPNET:
		return "ipNetSlice";
	}
	return "";
}

static int cmp_flag_ptr(const void *a, const void *b)
{
	const struct cli_flag *const *fa = a, *const *fb = b;

	return strcmp((*fa)->name, (*fb)->name);
}

/* pflag's "  -q, --quiet" / "      --name type" column. */
static int flag_head(const struct cli_flag *fl, char *out, size_t n)
{
	const char *tw = type_word(fl);

	if (fl->shorthand)
		return snprintf(out, n, "  -%c, --%s%s%s", fl->shorthand, fl->name, *tw ? " " : "",
				tw);
	return snprintf(out, n, "      --%s%s%s", fl->name, *tw ? " " : "", tw);
}

static void print_flags(const struct cli_flag *flags, FILE *f)
{
	const struct cli_flag **sorted;
	size_t n = 0, width = 0;
	char head[160];

	for (const struct cli_flag *fl = flags; fl && fl->name; fl++)
		n++;
	if (!n)
		return;
	sorted = xcalloc(n, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &flags[i];
	qsort(sorted, n, sizeof(*sorted), cmp_flag_ptr);
	for (size_t i = 0; i < n; i++) {
		const struct cli_flag *fl = sorted[i];
		int len = flag_head(fl, head, sizeof(head));

		if ((size_t) len > width)
			width = (size_t) len;
	}
	fprintf(f, "\nOptions:\n");
	for (size_t i = 0; i < n; i++) {
		const struct cli_flag *fl = sorted[i];
		int len = flag_head(fl, head, sizeof(head));

		fprintf(f, "%s%*s", head, (int) (width - (size_t) len) + 3, "");
		/* Continuation lines of a usage line up under its first line. */
		for (const char *u = fl->usage; *u; u++) {
			fputc(*u, f);
			if (*u == '\n')
				fprintf(f, "%*s", (int) width + 3, "");
		}
		if (fl->def && fl->type == CLI_FLAG_STRING)
			fprintf(f, " (default \"%s\")", fl->def);
		else if (fl->def)
			fprintf(f, " (default %s)", fl->def);
		fputc('\n', f);
	}
	free(sorted);
}

void cli_print_help(struct cli_ctx *ctx, const struct cli_flag *flags, FILE *f)
{
	const struct cli_cmd *cmd = ctx->cmd;
	const char *sp;

	if (!cmd)
		return;
	/* cobra's Use line: the parent path plus the command's own Use. */
	sp = strrchr(ctx->path, ' ');
	if (cmd->sub)
		fprintf(f, "\nUsage:  %s COMMAND\n\n%s\n", ctx->path, cmd->short_help);
	else
		fprintf(f, "\nUsage:  %.*s%s\n\n%s\n", sp ? (int) (sp - ctx->path + 1) : 0,
			ctx->path, cmd->usage, cmd->short_help);
	if (cmd->alias)
		fprintf(f, "\nAliases:\n  %s, %.*s%s\n", ctx->path,
			sp ? (int) (sp - ctx->path + 1) : 0, ctx->path, cmd->alias);
	if (cmd->sub) {
		size_t pad = 11;

		for (const struct cli_cmd *c = cmd->sub; c->name; c++)
			if (strlen(c->name) > pad)
				pad = strlen(c->name);
		fprintf(f, "\nCommands:\n");
		for (const struct cli_cmd *c = cmd->sub; c->name; c++)
			fprintf(f, "  %-*s %s\n", (int) pad, c->name, c->short_help);
		fprintf(f, "\nRun '%s COMMAND --help' for more information on a command.\n",
			ctx->path);
		return;
	}
	print_flags(flags, f);
}
