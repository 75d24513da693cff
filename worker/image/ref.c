/* img ref: Docker image references (distribution/reference's grammar and
 * normalization to docker.io/library/...). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "worker/image/img.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN  "index.docker.io"
#define OFFICIAL_REPO  "library/"

int img_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (const char *p = s + 7; *p; p++)
		if (!isdigit((unsigned char) *p) && !(*p >= 'a' && *p <= 'f'))
			return 0;
	return 1;
}

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static int component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return 0;
	while (i < n) {
		if (is_alnum_lower(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_alnum_lower(s[j]))
			j++;
		size_t len = j - i;
		const char *sep = s + i;
		int ok = (len == 1 && (*sep == '.' || *sep == '_')) ||
			 (len == 2 && sep[0] == '_' && sep[1] == '_');
		if (!ok) {
			ok = 1;
			for (size_t k = 0; k < len; k++)
				ok &= sep[k] == '-';
		}
		if (!ok)
			return 0;
		i = j;
	}
	return 1;
}

/* host[:port], host = labels of [a-zA-Z0-9-] separated by dots, or [v6]. */
static int domain_valid(const char *s, size_t n)
{
	const char *colon = NULL;
	size_t hn;

	if (n == 0)
		return 0;
	if (s[0] == '[') {
		const char *end = memchr(s, ']', n);
		if (!end)
			return 0;
		for (const char *p = s + 1; p < end; p++)
			if (!isxdigit((unsigned char) *p) && *p != ':')
				return 0;
		hn = (size_t) (end - s) + 1;
	} else {
		colon = memchr(s, ':', n);
		hn = colon ? (size_t) (colon - s) : n;
		if (hn == 0 || s[0] == '-' || s[hn - 1] == '-' || s[0] == '.' || s[hn - 1] == '.')
			return 0;
		for (size_t i = 0; i < hn; i++)
			if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '.')
				return 0;
	}
	if (hn < n) {
		if (s[hn] != ':' || hn + 1 == n)
			return 0;
		for (size_t i = hn + 1; i < n; i++)
			if (!isdigit((unsigned char) s[i]))
				return 0;
	}
	return 1;
}

static int tag_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(isalnum((unsigned char) s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

int img_ref_parse(const char *s, struct img_ref *out, char *errmsg, size_t errlen)
{
	char name[512], *at, *colon, *slash;
	const char *rest;
	size_t dn;

	memset(out, 0, sizeof(*out));
	if (!s || !*s) {
		err_why(errmsg, errlen, "invalid reference format: empty reference");
		return -EINVAL;
	}
	if (strlen(s) >= sizeof(name)) {
		err_why(errmsg, errlen, "invalid reference format: reference is too long");
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%s", s);
	at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!img_digest_valid(at + 1)) {
			err_why(errmsg, errlen,
				"invalid reference format: \"%s\" has an invalid digest (want "
				"sha256:<64 lowercase hex>)",
				s);
			return -EINVAL;
		}
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_valid(colon + 1)) {
			err_why(errmsg, errlen, "invalid reference format: invalid tag in \"%s\"",
				s);
			return -EINVAL;
		}
		snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	}
	if (strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64) {
		err_why(errmsg, errlen,
			"invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
			name);
		return -EINVAL;
	}
	/* splitDockerDomain: the first component is a domain when it has a
	 * dot or a colon, is "localhost", or has upper-case letters. */
	slash = strchr(name, '/');
	dn = slash ? (size_t) (slash - name) : 0;
	if (slash && (memchr(name, '.', dn) || memchr(name, ':', dn) ||
		      (dn == 9 && strncmp(name, "localhost", 9) == 0) || ({
			      int up = 0;
			      for (size_t i = 0; i < dn; i++)
				      up |= isupper((unsigned char) name[i]);
			      up;
		      }))) {
		if (!domain_valid(name, dn)) {
			err_why(errmsg, errlen,
				"invalid reference format: invalid domain in \"%s\"", s);
			return -EINVAL;
		}
		snprintf(out->domain, sizeof(out->domain), "%.*s", (int) dn, name);
		rest = slash + 1;
	} else {
		snprintf(out->domain, sizeof(out->domain), "%s", DEFAULT_DOMAIN);
		rest = name;
	}
	if (strcmp(out->domain, LEGACY_DOMAIN) == 0)
		snprintf(out->domain, sizeof(out->domain), "%s", DEFAULT_DOMAIN);
	for (const char *p = rest; *p; p++) {
		if (isupper((unsigned char) *p)) {
			err_why(errmsg, errlen,
				"invalid reference format: repository name (%s) must be lowercase",
				rest);
			return -EINVAL;
		}
	}
	for (const char *p = rest;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t) (e - p) : strlen(p);
		if (!component_valid(p, n)) {
			err_why(errmsg, errlen, "invalid reference format: invalid name \"%s\"", s);
			return -EINVAL;
		}
		if (!e)
			break;
		p = e + 1;
	}
	if (strcmp(out->domain, DEFAULT_DOMAIN) == 0 && !strchr(rest, '/'))
		snprintf(out->path, sizeof(out->path), "%s%s", OFFICIAL_REPO, rest);
	else
		snprintf(out->path, sizeof(out->path), "%s", rest);
	if (strlen(out->domain) + 1 + strlen(out->path) > 255) {
		err_why(errmsg, errlen,
			"invalid reference format: repository name must not be "
			"more than 255 characters");
		return -EINVAL;
	}
	if (!out->tag[0] && !out->digest[0])
		snprintf(out->tag, sizeof(out->tag), "latest");
	return 0;
}

void img_ref_name(const struct img_ref *r, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", r->domain, r->path);
}

void img_ref_full(const struct img_ref *r, char *out, size_t len)
{
	snprintf(out, len, "%s/%s%s%s%s%s", r->domain, r->path, r->tag[0] ? ":" : "", r->tag,
		 r->digest[0] ? "@" : "", r->digest);
}

void img_ref_familiar(const struct img_ref *r, char *out, size_t len)
{
	const char *path = r->path;
	int official = strcmp(r->domain, DEFAULT_DOMAIN) == 0;

	if (official && strncmp(path, OFFICIAL_REPO, strlen(OFFICIAL_REPO)) == 0 &&
	    !strchr(path + strlen(OFFICIAL_REPO), '/'))
		path += strlen(OFFICIAL_REPO);
	snprintf(out, len, "%s%s%s%s%s%s%s", official ? "" : r->domain, official ? "" : "/", path,
		 r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);
}

void img_ref_familiar_str(const char *full, char *out, size_t len)
{
	struct img_ref r;

	if (img_ref_parse(full, &r, NULL, 0) != 0) {
		snprintf(out, len, "%s", full);
		return;
	}
	img_ref_familiar(&r, out, len);
}
