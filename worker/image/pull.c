/* img pull: the Registry HTTP API v2 client (libcurl).
 *
 * GET /v2/<name>/manifests/<tag|digest> with the Docker schema 2 and OCI
 * media types (lists and indexes resolve to linux/amd64), then the config
 * and layer blobs, each verified against its digest. Authentication
 * follows the registry's 401 challenge: Basic with the given credentials,
 * or Bearer through the token endpoint of `WWW-Authenticate: Bearer
 * realm=..,service=..,scope=..` (with basic credentials or an identity
 * token when given). localhost, 127.0.0.0/8 and the store's insecure
 * registries are reached over plain HTTP, everything else over HTTPS. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "worker/image/img_int.h"

#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " IMG_MT_DOCKER_MANIFEST ", " IMG_MT_DOCKER_LIST ", " IMG_MT_OCI_MANIFEST         \
	", " IMG_MT_OCI_INDEX

struct pull {
	struct img_store *s;
	struct img_ref ref;
	const struct img_auth *auth;
	char base[600]; /* "https://registry-1.docker.io/v2/library/busybox" */
	char *bearer;	/* token for this repository */
	int use_basic;	/* the registry asked for Basic */
	time_t deadline;
	img_progress_fn progress;
	void *progress_arg;
	char *err;
	size_t errlen;
};

struct resp {
	long status;
	struct buf body; /* when fd < 0 */
	int fd;		 /* blob download target, or -1 */
	uint64_t len, max;
	struct img_hash h;
	char *www_auth, *content_type, *digest;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void resp_free(struct resp *r)
{
	buf_free(&r->body);
	free(r->www_auth);
	free(r->content_type);
	free(r->digest);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (r->len + len > r->max)
		return 0; /* curl fails the transfer: bounded */
	r->len += len;
	img_hash_update(&r->h, p, len);
	if (r->fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t w = write(r->fd, p + done, len - done);
			if (w <= 0)
				return 0;
			done += (size_t) w;
		}
	} else {
		buf_append(&r->body, p, len);
	}
	return len;
}

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *v, *end = line + len;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return strndup(v, (size_t) (end - v));
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	char *v;

	/* A redirect starts a new header block: keep only the last one's. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		free(r->www_auth);
		free(r->content_type);
		free(r->digest);
		r->www_auth = r->content_type = r->digest = NULL;
	}
	if ((v = header_value(p, len, "WWW-Authenticate"))) {
		free(r->www_auth);
		r->www_auth = v;
	} else if ((v = header_value(p, len, "Content-Type"))) {
		free(r->content_type);
		r->content_type = v;
	} else if ((v = header_value(p, len, "Docker-Content-Digest"))) {
		free(r->digest);
		r->digest = v;
	}
	return len;
}

/* One GET (or POST with `form`) with `auth_header` (may be NULL). */
static int http(struct pull *p, const char *url, const char *accept, const char *auth_header,
		const char *userpwd, const char *form, struct resp *r)
{
	CURL *c;
	struct curl_slist *hdrs = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	long left = (long) (p->deadline - time(NULL));
	CURLcode cc;

	pthread_once(&curl_once, curl_init_once);
	if (left <= 0) {
		err_why(p->err, p->errlen, "pull timed out");
		return -ETIMEDOUT;
	}
	img_hash_init(&r->h);
	c = curl_easy_init();
	if (!c)
		abort();
	if (accept)
		hdrs = curl_slist_append(hdrs, accept);
	if (auth_header)
		hdrs = curl_slist_append(hdrs, auth_header);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, left);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	if (userpwd) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}
	if (form)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (cc == CURLE_WRITE_ERROR && r->len >= r->max) {
		err_why(p->err, p->errlen, "%s: response larger than %llu bytes", url,
			(unsigned long long) r->max);
		return -EMSGSIZE;
	}
	if (cc != CURLE_OK) {
		err_why(p->err, p->errlen, "cannot reach %s: %s", url,
			ebuf[0] ? ebuf : curl_easy_strerror(cc));
		return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Auth                                                                      */

/* Value of key="..." in a challenge, or NULL (caller frees). */
static char *challenge_param(const char *ch, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = ch; (p = strcasestr(p, key)); p += kl) {
		if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=' && p[kl + 1] == '"') {
			const char *v = p + kl + 2, *e = strchr(v, '"');
			return e ? strndup(v, (size_t) (e - v)) : NULL;
		}
	}
	return NULL;
}

static char *userpwd(const struct img_auth *a)
{
	char *s = NULL;

	if (!a || !a->username || !*a->username)
		return NULL;
	if (asprintf(&s, "%s:%s", a->username, a->password ? a->password : "") < 0)
		abort();
	return s;
}

static int fetch_token(struct pull *p, const char *challenge)
{
	char *realm = challenge_param(challenge, "realm");
	char *service = challenge_param(challenge, "service");
	char *scope = challenge_param(challenge, "scope");
	char *url = NULL, *up = userpwd(p->auth), *form = NULL;
	struct resp r = {.fd = -1, .max = p->s->lim.max_json};
	CURL *c = curl_easy_init();
	char *es = scope ? curl_easy_escape(c, scope, 0) : NULL;
	char *esv = service ? curl_easy_escape(c, service, 0) : NULL;
	json_t *j = NULL;
	const char *tok;
	int rv;

	if (!realm || strncmp(realm, "http", 4) != 0) {
		err_why(p->err, p->errlen,
			"registry sent a bearer challenge without a usable realm");
		rv = -EPROTO;
		goto out;
	}
	if (p->auth && p->auth->identity_token && *p->auth->identity_token) {
		char *rt = curl_easy_escape(c, p->auth->identity_token, 0);
		if (asprintf(&form,
			     "grant_type=refresh_token&client_id=shoal&refresh_token=%s&service=%s"
			     "&scope=%s",
			     rt, esv ? esv : "", es ? es : "") < 0)
			abort();
		curl_free(rt);
		url = strdup(realm);
		free(up);
		up = NULL;
	} else if (asprintf(&url, "%s%sservice=%s%s%s", realm, strchr(realm, '?') ? "&" : "?",
			    esv ? esv : "", es ? "&scope=" : "", es ? es : "") < 0) {
		abort();
	}
	rv = http(p, url, NULL, NULL, up, form, &r);
	if (rv)
		goto out;
	if (r.status == 401 || r.status == 403) {
		err_why(p->err, p->errlen, "unauthorized: %s",
			up ? "incorrect username or password" : "authentication required");
		rv = -EACCES;
		goto out;
	}
	j = json_loadb((const char *) r.body.data, r.body.len, 0, NULL);
	tok = json_string_value(json_object_get(j, "token"))
		  ?: json_string_value(json_object_get(j, "access_token"));
	if (r.status != 200 || !tok) {
		err_why(p->err, p->errlen, "token endpoint %s answered %ld without a token", realm,
			r.status);
		rv = -EPROTO;
		goto out;
	}
	free(p->bearer);
	p->bearer = strdup(tok);
out:
	json_decref(j);
	resp_free(&r);
	curl_free(es);
	curl_free(esv);
	curl_easy_cleanup(c);
	free(realm);
	free(service);
	free(scope);
	free(url);
	free(up);
	free(form);
	return rv;
}

/* The registry's own error text ({"errors":[{"message":..}]}), or "". */
static const char *registry_msg(struct resp *r, char *out, size_t len)
{
	json_t *j = json_loadb((const char *) r->body.data, r->body.len, 0, NULL);
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *m = json_string_value(json_object_get(e, "message"));

	snprintf(out, len, "%s%s%s", code ? code : "", code && m ? ": " : "", m ? m : "");
	json_decref(j);
	return out;
}

/* GET with the registry's auth dance. */
static int get(struct pull *p, const char *url, const char *accept, struct resp *r)
{
	char *hdr = NULL, *up = NULL;
	int rv;

	for (int attempt = 0; attempt < 3; attempt++) {
		free(hdr);
		free(up);
		hdr = up = NULL;
		if (p->auth && p->auth->registry_token && *p->auth->registry_token && !p->bearer)
			p->bearer = strdup(p->auth->registry_token);
		if (p->bearer && asprintf(&hdr, "Authorization: Bearer %s", p->bearer) < 0)
			abort();
		if (p->use_basic)
			up = userpwd(p->auth);
		resp_free(r);
		memset(&r->body, 0, sizeof(r->body));
		r->www_auth = r->content_type = r->digest = NULL;
		r->len = 0;
		if (r->fd >= 0 && (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0)) {
			rv = -EIO;
			break;
		}
		rv = http(p, url, accept, hdr, up, NULL, r);
		if (rv || r->status != 401)
			break;
		if (attempt == 2 || !r->www_auth || p->use_basic || (p->bearer && attempt > 0)) {
			char m[300];
			registry_msg(r, m, sizeof(m));
			err_why(p->err, p->errlen, "unauthorized: %s",
				p->auth && p->auth->username && *p->auth->username
				    ? "incorrect username or password"
				    : (*m ? m : "authentication required"));
			rv = -EACCES;
			break;
		}
		if (strncasecmp(r->www_auth, "Basic", 5) == 0) {
			if (!p->auth || !p->auth->username || !*p->auth->username) {
				err_why(p->err, p->errlen,
					"unauthorized: authentication required (no credentials "
					"given for %s)",
					p->ref.domain);
				rv = -EACCES;
				break;
			}
			p->use_basic = 1;
		} else if (strncasecmp(r->www_auth, "Bearer", 6) == 0) {
			rv = fetch_token(p, r->www_auth);
			if (rv)
				break;
		} else {
			err_why(p->err, p->errlen, "registry asks for unsupported auth \"%s\"",
				r->www_auth);
			rv = -EACCES;
			break;
		}
	}
	free(hdr);
	free(up);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Endpoints                                                                 */

static int plain_http(const struct img_store *s, const char *domain)
{
	char host[256];
	const char *colon = strrchr(domain, ':');

	snprintf(host, sizeof(host), "%.*s",
		 colon && domain[0] != '[' ? (int) (colon - domain) : (int) strlen(domain), domain);
	if (strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	    strcmp(domain, "[::1]") == 0 || strncmp(domain, "[::1]:", 6) == 0)
		return 1;
	for (size_t i = 0; s->insecure && s->insecure[i]; i++)
		if (strcmp(s->insecure[i], domain) == 0 || strcmp(s->insecure[i], host) == 0)
			return 1;
	return 0;
}

static int pull_init(struct pull *p, struct img_store *s, const char *ref,
		     const struct img_auth *auth, char *errmsg, size_t errlen)
{
	const char *host;
	int rv;

	memset(p, 0, sizeof(*p));
	p->s = s;
	p->auth = auth;
	p->err = errmsg;
	p->errlen = errlen;
	p->deadline = time(NULL) + (time_t) s->lim.max_pull_seconds;
	rv = img_ref_parse(ref, &p->ref, errmsg, errlen);
	if (rv)
		return rv;
	host = strcmp(p->ref.domain, "docker.io") == 0 ? "registry-1.docker.io" : p->ref.domain;
	snprintf(p->base, sizeof(p->base), "%s://%s/v2/%s",
		 plain_http(s, p->ref.domain) ? "http" : "https", host, p->ref.path);
	return 0;
}

static int is_list(const char *mt)
{
	return mt && (strcmp(mt, IMG_MT_DOCKER_LIST) == 0 || strcmp(mt, IMG_MT_OCI_INDEX) == 0);
}

/* Fetches manifest `what` (tag or digest) into r, verified. */
static int get_manifest(struct pull *p, const char *what, struct resp *r, char digest[72])
{
	char url[800], m[300];
	int rv;

	snprintf(url, sizeof(url), "%s/manifests/%s", p->base, what);
	r->fd = -1;
	r->max = p->s->lim.max_json;
	rv = get(p, url, ACCEPT_MANIFESTS, r);
	if (rv)
		return rv;
	if (r->status == 404) {
		err_why(p->err, p->errlen, "manifest for %s/%s:%s not found: %s", p->ref.domain,
			p->ref.path, what, registry_msg(r, m, sizeof(m)));
		return -ENOENT;
	}
	if (r->status != 200) {
		err_why(p->err, p->errlen, "registry answered %ld for manifest %s: %s", r->status,
			what, registry_msg(r, m, sizeof(m)));
		return -EIO;
	}
	img_hash_final(&r->h, digest);
	if ((img_digest_valid(what) && strcmp(what, digest) != 0) ||
	    (r->digest && img_digest_valid(r->digest) && strcmp(r->digest, digest) != 0)) {
		err_why(p->err, p->errlen, "manifest digest mismatch: expected %s, content is %s",
			img_digest_valid(what) ? what : r->digest, digest);
		return -EBADMSG;
	}
	return 0;
}

/* Downloads blob `digest` of `size` bytes into the store unless present. */
static int get_blob(struct pull *p, const char *digest, int64_t size)
{
	char url[800], got[72], *tmp = NULL;
	struct resp r = {0};
	int rv;

	if (img_blob_exists(p->s, digest))
		return 0;
	if (size < 0 || (uint64_t) size > p->s->lim.max_archive) {
		err_why(p->err, p->errlen, "blob %s: size %lld out of bounds", digest,
			(long long) size);
		return -EMSGSIZE;
	}
	r.fd = img_tmp_file(p->s, &tmp);
	if (r.fd < 0) {
		err_why(p->err, p->errlen, "cannot create a temp file: %s", err_str(r.fd));
		return r.fd;
	}
	r.max = size ? (uint64_t) size : p->s->lim.max_archive;
	snprintf(url, sizeof(url), "%s/blobs/%s", p->base, digest);
	rv = get(p, url, NULL, &r);
	if (rv == 0 && r.status != 200) {
		err_why(p->err, p->errlen, "registry answered %ld for blob %s", r.status, digest);
		rv = r.status == 404 ? -ENOENT : -EIO;
	}
	if (rv == 0) {
		img_hash_final(&r.h, got);
		if (strcmp(got, digest) != 0 || (size && r.len != (uint64_t) size)) {
			err_why(p->err, p->errlen, "blob digest mismatch: expected %s, got %s",
				digest, got);
			rv = -EBADMSG;
		}
	}
	close(r.fd);
	if (rv == 0)
		rv = img_blob_commit(p->s, tmp, digest);
	else
		unlink(tmp);
	free(tmp);
	resp_free(&r);
	return rv;
}

static void progress(struct pull *p, const char *status, const char *digest)
{
	char id[13];

	if (!p->progress)
		return;
	if (digest)
		snprintf(id, sizeof(id), "%.12s", digest + 7);
	p->progress(p->progress_arg, status, digest ? id : NULL);
}

/* Resolves the top manifest and, for a list, the linux/amd64 one. */
static int resolve(struct pull *p, struct resp *top, char top_digest[72], struct resp *m,
		   char m_digest[72], json_t **mj)
{
	const char *what = p->ref.digest[0] ? p->ref.digest : p->ref.tag;
	json_t *j;
	int rv = get_manifest(p, what, top, top_digest);

	if (rv)
		return rv;
	j = json_loadb((const char *) top->body.data, top->body.len, 0, NULL);
	if (!json_is_object(j)) {
		err_why(p->err, p->errlen, "manifest %s is not a JSON object", what);
		json_decref(j);
		return -EINVAL;
	}
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	if (!mt)
		mt = top->content_type;
	if (is_list(mt) || json_is_array(json_object_get(j, "manifests"))) {
		json_t *d, *pick = NULL;
		size_t i;
		json_array_foreach(json_object_get(j, "manifests"), i, d)
		{
			json_t *pl = json_object_get(d, "platform");
			const char *os = json_string_value(json_object_get(pl, "os"));
			const char *ar = json_string_value(json_object_get(pl, "architecture"));
			if (!pick && os && ar && strcmp(os, "linux") == 0 &&
			    strcmp(ar, "amd64") == 0)
				pick = d;
		}
		const char *d2 = json_string_value(json_object_get(pick, "digest"));
		if (!img_digest_valid(d2)) {
			err_why(
			    p->err, p->errlen,
			    "no matching manifest for linux/amd64 in the manifest list entries");
			json_decref(j);
			return -ENOENT;
		}
		char want[72];
		snprintf(want, sizeof(want), "%s", d2);
		json_decref(j);
		rv = get_manifest(p, want, m, m_digest);
		if (rv)
			return rv;
		j = json_loadb((const char *) m->body.data, m->body.len, 0, NULL);
	} else {
		snprintf(m_digest, 72, "%s", top_digest);
		buf_append(&m->body, top->body.data, top->body.len);
		m->content_type = top->content_type ? strdup(top->content_type) : NULL;
	}
	if (!json_is_object(j) || json_integer_value(json_object_get(j, "schemaVersion")) != 2) {
		err_why(p->err, p->errlen, "unsupported manifest (need schema 2 or OCI)");
		json_decref(j);
		return -EINVAL;
	}
	*mj = j;
	return 0;
}

int img_pull(struct img_store *s, const char *ref, const struct img_auth *auth,
	     img_progress_fn progress_cb, void *progress_arg, char **full, char *errmsg,
	     size_t errlen)
{
	struct pull p;
	struct resp top = {0}, m = {0};
	char top_digest[72], m_digest[72], name[600], tagged[700], repo_digest[800], fam[700];
	json_t *mj = NULL, *cfg = NULL, *layers, *diff_ids;
	struct img_new_layer *nl = NULL;
	const char *cdigest;
	size_t n = 0, pinned = 0;
	int rv, fresh = 0;

	if (full)
		*full = NULL;
	rv = pull_init(&p, s, ref, auth, errmsg, errlen);
	if (rv)
		return rv;
	p.progress = progress_cb;
	p.progress_arg = progress_arg;
	img_ref_name(&p.ref, name, sizeof(name));
	img_ref_full(&p.ref, tagged, sizeof(tagged));
	if (p.progress) {
		char line[600];
		snprintf(line, sizeof(line), "Pulling from %s", p.ref.path);
		p.progress(p.progress_arg, line, p.ref.digest[0] ? p.ref.digest : p.ref.tag);
	}
	rv = resolve(&p, &top, top_digest, &m, m_digest, &mj);
	if (rv)
		goto out;
	cdigest = json_string_value(json_object_get(json_object_get(mj, "config"), "digest"));
	layers = json_object_get(mj, "layers");
	if (!img_digest_valid(cdigest) || !json_is_array(layers)) {
		err_why(errmsg, errlen, "manifest has no valid config or layers");
		rv = -EINVAL;
		goto out;
	}
	n = json_array_size(layers);
	nl = xcalloc(n + 1, sizeof(*nl));
	img_pin(s, cdigest);
	fresh = !img_blob_exists(s, cdigest);
	rv = get_blob(&p, cdigest,
		      json_integer_value(json_object_get(json_object_get(mj, "config"), "size")));
	if (rv)
		goto out_unpin;
	{
		char *cp = img_blob_path(s, cdigest);
		rv = img_read_json(cp, s->lim.max_json, "image config", &cfg, errmsg, errlen);
		free(cp);
		if (rv)
			goto out_unpin;
	}
	diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(layers, i);
		const char *ld = json_string_value(json_object_get(d, "digest"));
		const char *diff = json_string_value(json_array_get(diff_ids, i));

		if (!img_digest_valid(ld)) {
			err_why(errmsg, errlen, "manifest layer %zu has no valid digest", i);
			rv = -EINVAL;
			goto out_unpin;
		}
		snprintf(nl[i].digest, sizeof(nl[i].digest), "%s", ld);
		nl[i].size = json_integer_value(json_object_get(d, "size"));
		nl[i].media_type = xstrdup(json_string_value(json_object_get(d, "mediaType"))
					       ?: IMG_MT_OCI_LAYER_GZ);
		img_pin(s, ld);
		pinned = i + 1;
		if (img_digest_valid(diff) && img_layer_exists(s, diff)) {
			progress(&p, "Already exists", ld);
			continue;
		}
		fresh = 1;
		progress(&p, "Pulling fs layer", ld);
		rv = get_blob(&p, ld, nl[i].size);
		if (rv)
			goto out_unpin;
		progress(&p, "Download complete", ld);
	}
	snprintf(repo_digest, sizeof(repo_digest), "%s@%s", name, top_digest);
	{
		const char *tags[1] = {tagged};
		rv = img_commit(s, cdigest, nl, n, (const char *) m.body.data, m.body.len,
				json_string_value(json_object_get(mj, "mediaType"))
				    ?: (m.content_type ? m.content_type : IMG_MT_OCI_MANIFEST),
				tags, p.ref.digest[0] ? 0 : 1, repo_digest, errmsg, errlen);
	}
	if (rv)
		goto out_unpin;
	for (size_t i = 0; i < n; i++)
		progress(&p, "Pull complete", nl[i].digest);
	if (p.progress) {
		char line[900];
		snprintf(line, sizeof(line), "Digest: %s", top_digest);
		p.progress(p.progress_arg, line, NULL);
		img_ref_familiar(&p.ref, fam, sizeof(fam));
		snprintf(line, sizeof(line), "Status: %s for %s",
			 fresh ? "Downloaded newer image" : "Image is up to date", fam);
		p.progress(p.progress_arg, line, NULL);
	}
	if (full)
		*full = xstrdup(tagged);
	log_info("image", "image pulled ref=%s digest=%s", tagged, top_digest);
out_unpin:
	img_unpin(s, cdigest);
	for (size_t i = 0; i < pinned; i++)
		img_unpin(s, nl[i].digest);
out:
	for (size_t i = 0; nl && i < n; i++)
		free(nl[i].media_type);
	free(nl);
	json_decref(mj);
	json_decref(cfg);
	resp_free(&top);
	resp_free(&m);
	free(p.bearer);
	return rv;
}

int img_remote_descriptor(struct img_store *s, const char *ref, const struct img_auth *auth,
			  char **media_type, char **digest, int64_t *size, char *errmsg,
			  size_t errlen)
{
	struct pull p;
	struct resp r = {0};
	char d[72];
	int rv = pull_init(&p, s, ref, auth, errmsg, errlen);

	if (rv)
		return rv;
	rv = get_manifest(&p, p.ref.digest[0] ? p.ref.digest : p.ref.tag, &r, d);
	if (rv == 0) {
		json_t *j = json_loadb((const char *) r.body.data, r.body.len, 0, NULL);
		const char *mt = json_string_value(json_object_get(j, "mediaType"));
		*media_type = xstrdup(mt	       ? mt
				      : r.content_type ? r.content_type
						       : IMG_MT_OCI_MANIFEST);
		*digest = xstrdup(d);
		*size = (int64_t) r.len;
		json_decref(j);
	}
	resp_free(&r);
	free(p.bearer);
	return rv;
}

int img_auth_decode(const char *header, struct img_auth *out, json_t **owner, char *errmsg,
		    size_t errlen)
{
	static const int variants[] = {
	    sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	    sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	size_t len = header ? strlen(header) : 0, bin_len = 0;
	unsigned char *bin;
	json_t *j = NULL;
	int ok = 0;

	memset(out, 0, sizeof(*out));
	*owner = NULL;
	if (len == 0)
		return 0;
	if (len > 65536) {
		err_why(errmsg, errlen, "X-Registry-Auth is too long");
		return -EINVAL;
	}
	bin = xmalloc(len + 1);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]) && !ok; i++)
		ok = sodium_base642bin(bin, len, header, len, NULL, &bin_len, NULL, variants[i]) ==
		     0;
	if (ok)
		j = json_loadb((const char *) bin, bin_len, 0, NULL);
	free(bin);
	if (!json_is_object(j)) {
		err_why(errmsg, errlen, "X-Registry-Auth is not base64url-encoded JSON");
		json_decref(j);
		return -EINVAL;
	}
	out->username = json_string_value(json_object_get(j, "username"));
	out->password = json_string_value(json_object_get(j, "password"));
	out->identity_token = json_string_value(json_object_get(j, "identitytoken"));
	out->registry_token = json_string_value(json_object_get(j, "registrytoken"));
	*owner = j;
	return 0;
}
