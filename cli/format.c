/* Tables, list formats and inspect output as docker prints them. */
#include "cli/format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/flag.h"
#include "cli/template.h"

/* ------------------------------------------------------------------------ */
/* Elastic tabstops (Go's text/tabwriter, left-aligned, space padding)      */

struct tw_cell {
	size_t off, size;
	int width; /* in runes */
};

struct tw_line {
	struct tw_cell *cells;
	size_t n;
	int newline; /* the line ended with '\n' */
};

struct tw_state {
	const char *text;
	struct tw_line *lines;
	size_t nlines;
	int *widths;
	size_t nwidths;
	int minwidth, padding;
	FILE *out;
};

void cli_tabw_init(struct cli_tabw *tw, int minwidth, int padding)
{
	tw->minwidth = minwidth;
	tw->padding = padding;
	tw->text = (struct buf) BUF_INIT;
}

void cli_tabw_write(struct cli_tabw *tw, const char *s, size_t n)
{
	buf_append(&tw->text, s, n);
}

void cli_tabw_printf(struct cli_tabw *tw, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* OOM, as xmalloc does */
	buf_append(&tw->text, s, (size_t) n);
	free(s);
}

static int rune_width(const char *s, size_t n)
{
	int w = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			w++;
	return w;
}

static void add_cell(struct tw_line *l, const char *text, size_t off, size_t size)
{
	l->cells = xrealloc(l->cells, (l->n + 1) * sizeof(*l->cells));
	l->cells[l->n].off = off;
	l->cells[l->n].size = size;
	l->cells[l->n].width = rune_width(text + off, size);
	l->n++;
}

/* Splits the text into lines of cells: every '\t' ends a cell; the text
 * after the last tab is the line's trailing cell (not part of a column). */
static void split_lines(struct tw_state *st, size_t len)
{
	size_t start = 0;

	while (start < len) {
		const char *nl = memchr(st->text + start, '\n', len - start);
		size_t end = nl ? (size_t) (nl - st->text) : len, c = start;
		struct tw_line *l;

		st->lines = xrealloc(st->lines, (st->nlines + 1) * sizeof(*st->lines));
		l = &st->lines[st->nlines++];
		memset(l, 0, sizeof(*l));
		l->newline = nl != NULL;
		for (size_t i = start; i < end; i++)
			if (st->text[i] == '\t') {
				add_cell(l, st->text, c, i - c);
				c = i + 1;
			}
		/* An unterminated last line keeps its trailing text only if any. */
		if (nl || c < end)
			add_cell(l, st->text, c, end - c);
		start = end + 1;
	}
}

static void pad(FILE *out, int n)
{
	for (; n > 0; n--)
		fputc(' ', out);
}

static void write_lines(struct tw_state *st, size_t l0, size_t l1)
{
	for (size_t i = l0; i < l1; i++) {
		const struct tw_line *l = &st->lines[i];

		for (size_t j = 0; j < l->n; j++) {
			const struct tw_cell *c = &l->cells[j];

			fwrite(st->text + c->off, 1, c->size, st->out);
			if (j < st->nwidths)
				pad(st->out, st->widths[j] - c->width);
		}
		if (l->newline)
			fputc('\n', st->out);
	}
}

/* Formats lines [l0, l1): each maximal run of consecutive lines that have a
 * tab-terminated cell in the current column forms a block whose width is its
 * widest cell plus padding; inner columns are formatted recursively. */
static void format_block(struct tw_state *st, size_t l0, size_t l1)
{
	size_t column = st->nwidths;

	for (size_t this = l0; this < l1; this ++) {
		int width = st->minwidth;

		if (column + 1 >= st->lines[this].n)
			continue;
		write_lines(st, l0, this);
		l0 = this;
		for (; this < l1; this ++) {
			const struct tw_line *l = &st->lines[this];

			if (column + 1 >= l->n)
				break;
			if (l->cells[column].width + st->padding > width)
				width = l->cells[column].width + st->padding;
		}
		st->widths = xrealloc(st->widths, (st->nwidths + 1) * sizeof(*st->widths));
		st->widths[st->nwidths++] = width;
		format_block(st, l0, this);
		st->nwidths--;
		l0 = this;
		if (this >= l1)
			break;
	}
	write_lines(st, l0, l1);
}

void cli_tabw_flush(struct cli_tabw *tw, FILE *out)
{
	struct tw_state st = {.text = (const char *) tw->text.data,
			      .minwidth = tw->minwidth,
			      .padding = tw->padding,
			      .out = out};

	split_lines(&st, tw->text.len);
	format_block(&st, 0, st.nlines);
	for (size_t i = 0; i < st.nlines; i++)
		free(st.lines[i].cells);
	free(st.lines);
	free(st.widths);
	buf_free(&tw->text);
}

/* ------------------------------------------------------------------------ */
/* List formats                                                              */

char *cli_format_unescape(const char *format)
{
	size_t n = strlen(format), o = 0;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (format[i] == '\\' && (format[i + 1] == 't' || format[i + 1] == 'n')) {
			s[o++] = format[i + 1] == 't' ? '\t' : '\n';
			i++;
		} else {
			s[o++] = format[i];
		}
	}
	s[o] = '\0';
	return s;
}

/* strings.Trim(s, " ") into a fresh string. */
static char *trim_spaces(const char *s)
{
	size_t n;

	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	return strndup(s, n) ?: (abort(), NULL);
}

static int template_error(struct cli_ctx *ctx, const char *err)
{
	return cli_errorf(ctx, -EINVAL, "template parsing error: %s", err);
}

int cli_format_list(struct cli_ctx *ctx, const char *format, json_t *rows, json_t *header)
{
	int table = strncmp(format, "table", 5) == 0;
	char *trimmed, *src, err[256];
	struct cli_tmpl *t = NULL;
	struct buf out = BUF_INIT;
	json_t *row;
	size_t i;
	int rc = 0;

	if (table)
		trimmed = trim_spaces(format + 5);
	else if (strcmp(format, "json") == 0)
		trimmed = xstrdup("{{json .}}");
	else
		trimmed = trim_spaces(format);
	src = cli_format_unescape(trimmed);
	free(trimmed);
	if (cli_tmpl_parse(src, &t, err, sizeof(err))) {
		free(src);
		return template_error(ctx, err);
	}
	free(src);
	json_array_foreach(rows, i, row)
	{
		if (cli_tmpl_exec(t, row, &out, err, sizeof(err))) {
			rc = template_error(ctx, err);
			goto done;
		}
		buf_append_u8(&out, '\n');
	}
	if (table) {
		struct cli_tabw tw;
		struct buf head = BUF_INIT;

		/* The header is the same template run over the column titles. */
		if (cli_tmpl_exec(t, header, &head, err, sizeof(err))) {
			buf_free(&head);
			rc = template_error(ctx, err);
			goto done;
		}
		cli_tabw_init(&tw, 10, 3);
		cli_tabw_write(&tw, (char *) head.data, head.len);
		cli_tabw_write(&tw, "\n", 1);
		cli_tabw_write(&tw, (char *) out.data, out.len);
		cli_tabw_flush(&tw, ctx->out);
		buf_free(&head);
	} else if (out.len) {
		fwrite(out.data, 1, out.len, ctx->out);
	}
done:
	buf_free(&out);
	cli_tmpl_free(t);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Inspect                                                                   */

int cli_format_inspect(struct cli_ctx *ctx, const char *format, json_t *items)
{
	struct cli_tmpl *t = NULL;
	struct buf out = BUF_INIT;
	char err[256], *s;
	json_t *item;
	size_t i;

	if (!format || !*format || strcmp(format, "json") == 0) {
		int compact = format && *format;

		if (json_array_size(items) == 0) {
			fputs("[]\n", ctx->out);
			return 0;
		}
		s = json_dumps(items, compact ? JSON_COMPACT : JSON_INDENT(4));
		if (!s)
			return cli_errorf(ctx, -ENOMEM, "cannot encode inspect output");
		fprintf(ctx->out, "%s\n", s);
		free(s);
		return 0;
	}
	s = cli_format_unescape(format);
	if (cli_tmpl_parse(s, &t, err, sizeof(err))) {
		free(s);
		ctx->exit_code = 64;
		return template_error(ctx, err);
	}
	free(s);
	json_array_foreach(items, i, item)
	{
		if (cli_tmpl_exec(t, item, &out, err, sizeof(err))) {
			cli_tmpl_free(t);
			buf_free(&out);
			return template_error(ctx, err);
		}
		buf_append_u8(&out, '\n');
	}
	cli_tmpl_free(t);
	if (out.len)
		fwrite(out.data, 1, out.len, ctx->out);
	else
		fputc('\n', ctx->out);
	buf_free(&out);
	return 0;
}

int cli_inspect_refs(struct cli_ctx *ctx, int argc, char **argv, const struct cli_inspect_ops *ops)
{
	const char *format = "";
	int pretty = 0, rc;
	CLI_AUTO_JSON json_t *items = NULL;
	CLI_AUTO_BUF struct buf errs = BUF_INIT;
	struct cli_flag flags[] = {
	    {"format", 'f', CLI_FLAG_STRING, &format, CLI_INSPECT_FORMAT_HELP, NULL, NULL, 0},
	    {"pretty", 0, CLI_FLAG_BOOL, &pretty,
	     "Print the information in a human friendly format", NULL, NULL, 0},
	    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
	};

	if ((rc = cli_cmd_parse(ctx, flags, &argc, argv, 1, CLI_ARGS_ANY)))
		return rc > 0 ? 0 : rc;
	if (pretty)
		format = "pretty";
	if (strncmp(format, "pretty", 6) == 0 && strcmp(format, "pretty") != 0)
		return cli_errorf(ctx, -EINVAL,
				  "cannot supply extra formatting options to the pretty template");
	if (*format && strcmp(format, "json") && strcmp(format, "pretty")) {
		/* docker rejects a bad template before fetching anything. */
		CLI_AUTO_FREE char *src = cli_format_unescape(format);
		struct cli_tmpl *t = NULL;
		char err[256];

		if (cli_tmpl_parse(src, &t, err, sizeof(err))) {
			if (ops->template_error_exit)
				ctx->exit_code = ops->template_error_exit;
			return cli_errorf(ctx, -EINVAL, "template parsing error: %s", err);
		}
		cli_tmpl_free(t);
	}

	items = json_array();
	for (int i = 0; i < argc; i++) {
		json_t *obj = NULL;

		if ((rc = ops->fetch(ctx, argv[i], &obj, ops->arg))) {
			json_decref(obj);
			/* The pretty template stops at the first error, printing nothing. */
			if (strcmp(format, "pretty") == 0)
				return rc;
			cli_errs_add(&errs, NULL, cli_error_msg(ctx));
			continue;
		}
		json_array_append_new(items, obj);
	}
	if (strcmp(format, "pretty") == 0) {
		size_t i;
		json_t *obj;

		json_array_foreach(items, i, obj) ops->pretty(ctx->out, obj, ops->arg);
		return 0;
	}
	rc = cli_format_inspect(ctx, format, items);
	if (ops->always_exit1)
		ctx->exit_code = 1;
	if (rc == 0 && errs.len)
		rc = cli_errs_fail(ctx, &errs, -ENOENT);
	return rc;
}
