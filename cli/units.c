/* Go and go-units formats the docker CLI prints and parses (see units.h). */
#include "cli/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"

#define NS_PER_US  1000ull
#define NS_PER_MS  1000000ull
#define NS_PER_SEC 1000000000ull
#define NS_PER_MIN (60ull * NS_PER_SEC)
#define NS_PER_H   (60ull * NS_PER_MIN)
#define BIT63	   (1ull << 63)

/* ------------------------------------------------------------------------ */
/* Go durations                                                              */

/* Go's time.quote(): double quotes, '"' and '\' escaped, bytes outside
 * printable ASCII as \xHH. */
static void go_quote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	buf_append_u8(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x80 || c < ' ') {
			uint8_t e[4] = {'\\', 'x', (uint8_t) hex[c >> 4], (uint8_t) hex[c & 15]};

			buf_append(b, e, 4);
			continue;
		}
		if (c == '"' || c == '\\')
			buf_append_u8(b, '\\');
		buf_append_u8(b, c);
	}
	buf_append_u8(b, '"');
}

static int duration_error(char *err, size_t errlen, const char *what, const char *unit,
			  size_t unit_len, const char *orig)
{
	struct buf b = BUF_INIT;

	buf_append(&b, "time: ", 6);
	buf_append(&b, what, strlen(what));
	if (unit) {
		go_quote(&b, unit, unit_len);
		buf_append(&b, " in duration ", 13);
	}
	go_quote(&b, orig, strlen(orig));
	snprintf(err, errlen, "%.*s", (int) b.len, (char *) b.data);
	buf_free(&b);
	return -EINVAL;
}

static const struct {
	const char *name;
	uint64_t ns;
} duration_units[] = {
    {"ns", 1},
    {"us", NS_PER_US},
    {"\xc2\xb5s", NS_PER_US}, /* U+00B5 micro sign */
    {"\xce\xbcs", NS_PER_US}, /* U+03BC Greek small mu */
    {"ms", NS_PER_MS},
    {"s", NS_PER_SEC},
    {"m", NS_PER_MIN},
    {"h", NS_PER_H},
};

int cli_duration_parse(const char *orig, int64_t *out, char *err, size_t errlen)
{
	const char *s = orig;
	uint64_t d = 0;
	int neg = 0;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*s == '\0')
		return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
	while (*s) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		int pre = 0, post = 0, overflow = 0;
		size_t ul = 0;

		if (!(*s == '.' || isdigit((unsigned char) *s)))
			return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
		for (; isdigit((unsigned char) *s); s++, pre = 1) {
			if (v > BIT63 / 10)
				return duration_error(err, errlen, "invalid duration ", NULL, 0,
						      orig);
			v = v * 10 + (uint64_t) (*s - '0');
			if (v > BIT63)
				return duration_error(err, errlen, "invalid duration ", NULL, 0,
						      orig);
		}
		if (*s == '.') {
			/* Digits past what fits are dropped, as Go does. */
			for (s++; isdigit((unsigned char) *s); s++, post = 1) {
				uint64_t y;

				if (overflow)
					continue;
				if (f > (BIT63 - 1) / 10) {
					overflow = 1;
					continue;
				}
				y = f * 10 + (uint64_t) (*s - '0');
				if (y > BIT63) {
					overflow = 1;
					continue;
				}
				f = y;
				scale *= 10;
			}
		}
		if (!pre && !post)
			return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
		while (s[ul] && s[ul] != '.' && !isdigit((unsigned char) s[ul]))
			ul++;
		if (ul == 0)
			return duration_error(err, errlen, "missing unit in duration ", NULL, 0,
					      orig);
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
			if (strlen(duration_units[i].name) == ul &&
			    memcmp(duration_units[i].name, s, ul) == 0)
				unit = duration_units[i].ns;
		if (!unit)
			return duration_error(err, errlen, "unknown unit ", s, ul, orig);
		s += ul;
		if (v > BIT63 / unit)
			return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
		v *= unit;
		if (f > 0) {
			v += (uint64_t) ((double) f * ((double) unit / scale));
			if (v > BIT63)
				return duration_error(err, errlen, "invalid duration ", NULL, 0,
						      orig);
		}
		d += v;
		if (d > BIT63)
			return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
	}
	if (neg) {
		*out = d == BIT63 ? INT64_MIN : -(int64_t) d;
		return 0;
	}
	if (d > BIT63 - 1)
		return duration_error(err, errlen, "invalid duration ", NULL, 0, orig);
	*out = (int64_t) d;
	return 0;
}

/* Appends "<int>[.<frac without trailing zeros>]" of v / 10^prec. */
static void append_frac(struct buf *b, uint64_t v, int prec)
{
	uint64_t div = 1;
	char tmp[32];
	int n;

	for (int i = 0; i < prec; i++)
		div *= 10;
	n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long) (v / div));
	buf_append(b, tmp, (size_t) n);
	if (prec > 0 && v % div) {
		n = snprintf(tmp, sizeof(tmp), ".%0*llu", prec, (unsigned long long) (v % div));
		while (n > 1 && tmp[n - 1] == '0')
			n--;
		buf_append(b, tmp, (size_t) n);
	}
}

void cli_duration_string(int64_t ns, char *out, size_t outlen)
{
	uint64_t u = ns < 0 ? -(uint64_t) ns : (uint64_t) ns;
	struct buf b = BUF_INIT;
	char tmp[64];

	if (ns < 0)
		buf_append_u8(&b, '-');
	if (u == 0) {
		buf_append(&b, "0s", 2);
	} else if (u < NS_PER_US) {
		append_frac(&b, u, 0);
		buf_append(&b, "ns", 2);
	} else if (u < NS_PER_MS) {
		append_frac(&b, u, 3);
		buf_append(&b, "\xc2\xb5s", 3);
	} else if (u < NS_PER_SEC) {
		append_frac(&b, u, 6);
		buf_append(&b, "ms", 2);
	} else {
		uint64_t secs = u / NS_PER_SEC, mins = secs / 60;

		if (mins >= 60)
			snprintf(tmp, sizeof(tmp), "%lluh%llum", (unsigned long long) (mins / 60),
				 (unsigned long long) (mins % 60));
		else if (mins > 0)
			snprintf(tmp, sizeof(tmp), "%llum", (unsigned long long) mins);
		else
			tmp[0] = '\0';
		buf_append(&b, tmp, strlen(tmp));
		append_frac(&b, (secs % 60) * NS_PER_SEC + u % NS_PER_SEC, 9);
		buf_append_u8(&b, 's');
	}
	snprintf(out, outlen, "%.*s", (int) b.len, (char *) b.data);
	buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* go-units                                                                  */

void cli_human_duration(int64_t ns, char *out, size_t outlen)
{
	double d = (double) ns;
	long long seconds = (long long) (d / 1e9);
	long long minutes, hours;

	if (seconds < 1) {
		snprintf(out, outlen, "Less than a second");
		return;
	}
	if (seconds == 1) {
		snprintf(out, outlen, "1 second");
		return;
	}
	if (seconds < 60) {
		snprintf(out, outlen, "%lld seconds", seconds);
		return;
	}
	minutes = (long long) (d / 6e10);
	if (minutes == 1) {
		snprintf(out, outlen, "About a minute");
		return;
	}
	if (minutes < 60) {
		snprintf(out, outlen, "%lld minutes", minutes);
		return;
	}
	hours = (long long) (d / 3.6e12 + 0.5);
	if (hours == 1)
		snprintf(out, outlen, "About an hour");
	else if (hours < 48)
		snprintf(out, outlen, "%lld hours", hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, outlen, "%lld days", hours / 24);
	else if (hours < 24 * 30 * 2)
		snprintf(out, outlen, "%lld weeks", hours / 24 / 7);
	else if (hours < 24 * 365 * 2)
		snprintf(out, outlen, "%lld months", hours / 24 / 30);
	else
		snprintf(out, outlen, "%lld years", (long long) (d / 3.6e12) / 24 / 365);
}

void cli_bytes_size(double size, char *out, size_t outlen)
{
	static const char *const abbrs[] = {"B",   "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB", "ZiB", "YiB"};
	size_t i = 0;

	while (size >= 1024.0 && i < sizeof(abbrs) / sizeof(abbrs[0]) - 1) {
		size /= 1024.0;
		i++;
	}
	snprintf(out, outlen, "%.4g%s", size, abbrs[i]);
}

/* ------------------------------------------------------------------------ */
/* Timestamps                                                                */

struct rfc3339 {
	struct tm tm;
	long nsec;
	int offset; /* seconds east of UTC */
	int utc;    /* written with 'Z' */
};

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char) (*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int parse_rfc3339(const char *s, struct rfc3339 *t)
{
	int y, mo, d, h, mi, sec;

	memset(t, 0, sizeof(*t));
	if (parse_digits(&s, 4, &y) || *s++ != '-' || parse_digits(&s, 2, &mo) || *s++ != '-' ||
	    parse_digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' '))
		return -EINVAL;
	s++;
	if (parse_digits(&s, 2, &h) || *s++ != ':' || parse_digits(&s, 2, &mi) || *s++ != ':' ||
	    parse_digits(&s, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (*s == '.') {
		int digits = 0;

		for (s++; isdigit((unsigned char) *s); s++, digits++)
			if (digits < 9)
				t->nsec = t->nsec * 10 + (*s - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 9; digits++)
			t->nsec *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		t->utc = 1;
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, oh, om;

		s++;
		if (parse_digits(&s, 2, &oh) || *s++ != ':' || parse_digits(&s, 2, &om))
			return -EINVAL;
		t->offset = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	t->tm.tm_year = y - 1900;
	t->tm.tm_mon = mo - 1;
	t->tm.tm_mday = d;
	t->tm.tm_hour = h;
	t->tm.tm_min = mi;
	t->tm.tm_sec = sec;
	return 0;
}

int cli_time_parse(const char *s, int64_t *unix_ns, int *offset_s)
{
	struct rfc3339 t;
	time_t secs;

	if (parse_rfc3339(s, &t))
		return -EINVAL;
	secs = timegm(&t.tm) - t.offset;
	/* Go's zero time (year 1, what the API says for "never") and anything
	 * else beyond int64 nanoseconds (years 1678..2262) mean no time. */
	if (secs <= INT64_MIN / (int64_t) NS_PER_SEC || secs >= INT64_MAX / (int64_t) NS_PER_SEC)
		*unix_ns = 0;
	else
		*unix_ns = (int64_t) secs * (int64_t) NS_PER_SEC + t.nsec;
	if (offset_s)
		*offset_s = t.offset;
	return 0;
}

int cli_time_go_string(const char *s, char *out, size_t outlen)
{
	struct rfc3339 t;
	char frac[16] = "", zone[16];
	int off;

	if (parse_rfc3339(s, &t)) {
		snprintf(out, outlen, "%s", s);
		return -EINVAL;
	}
	if (t.nsec) {
		int n = snprintf(frac, sizeof(frac), ".%09ld", t.nsec);

		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	off = t.offset < 0 ? -t.offset : t.offset;
	snprintf(zone, sizeof(zone), "%c%02d%02d", t.offset < 0 ? '-' : '+', off / 3600,
		 (off / 60) % 60);
	snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d%s %s %s", t.tm.tm_year + 1900,
		 t.tm.tm_mon + 1, t.tm.tm_mday, t.tm.tm_hour, t.tm.tm_min, t.tm.tm_sec, frac, zone,
		 t.utc ? "UTC" : zone);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Natural order                                                             */

static int natural_less(const char *a, const char *b)
{
	size_t i = 0, j = 0, la = strlen(a), lb = strlen(b);

	while (i < la && j < lb) {
		int da = isdigit((unsigned char) a[i]), db = isdigit((unsigned char) b[j]);

		if (da != db)
			return da; /* digits sort before other characters */
		if (!da) {
			if (a[i] != b[j])
				return (unsigned char) a[i] < (unsigned char) b[j];
			i++;
			j++;
			continue;
		}
		/* Both at a run of digits: compare by value, then by zero count. */
		while (i < la && a[i] == '0')
			i++;
		while (j < lb && b[j] == '0')
			j++;
		size_t nza = i, nzb = j;

		while (i < la && isdigit((unsigned char) a[i]))
			i++;
		while (j < lb && isdigit((unsigned char) b[j]))
			j++;
		if (i - nza != j - nzb)
			return i - nza < j - nzb;
		int c = memcmp(a + nza, b + nzb, i - nza);

		if (c != 0)
			return c < 0;
		if (nza != nzb)
			return nza < nzb;
	}
	return la < lb;
}

int cli_natural_cmp(const char *a, const char *b)
{
	if (natural_less(a, b))
		return -1;
	if (natural_less(b, a))
		return 1;
	return 0;
}
