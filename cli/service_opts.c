/* Flag values -> Engine API JSON, as docker's opts package parses them
 * (PortOpt, MountOpt, SecretOpt/ConfigOpt, NetworkOpt, placement
 * preferences, extra hosts, NanoCPUs, MemBytes, env files). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/service.h"

/* Splits a CSV record on commas (docker reads these with encoding/csv;
 * quoted fields keep their commas). Returns the fields in `out`. */
static void csv_fields(const char *v, struct cli_strv *out)
{
	struct buf cur = BUF_INIT;
	int quoted = 0;

	for (const char *p = v;; p++) {
		if (*p == '"') {
			if (quoted && p[1] == '"') {
				buf_append_u8(&cur, '"');
				p++;
			} else {
				quoted = !quoted;
			}
			continue;
		}
		if (!*p || (*p == ',' && !quoted)) {
			buf_append_u8(&cur, '\0');
			cli_strv_push(out, (char *) cur.data);
			buf_reset(&cur);
			if (!*p)
				break;
			continue;
		}
		buf_append_u8(&cur, (uint8_t) *p);
	}
	buf_free(&cur);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char) tolower((unsigned char) *s);
}

/* strconv.ParseUint(s, 10, bits) without Go's message. */
static int parse_u(const char *s, int base, uint64_t max, uint64_t *out, const char **why)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!*s || !isdigit((unsigned char) *s)) {
		*why = "invalid syntax";
		return -EINVAL;
	}
	v = strtoull(s, &end, base);
	if (*end) {
		*why = "invalid syntax";
		return -EINVAL;
	}
	if (errno == ERANGE || v > max) {
		*why = "value out of range";
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ports                                                                     */

/* nat.ParsePortRange: "80" or "8000-8010". */
static int port_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	char a[32];
	const char *dash = strchr(s, '-'), *why;

	if (strlen(s) >= sizeof(a))
		return -EINVAL;
	if (!dash) {
		if (parse_u(s, 10, 65535, lo, &why))
			return -EINVAL;
		*hi = *lo;
		return 0;
	}
	snprintf(a, sizeof(a), "%.*s", (int) (dash - s), s);
	if (parse_u(a, 10, 65535, lo, &why) || parse_u(dash + 1, 10, 65535, hi, &why) || *hi < *lo)
		return -EINVAL;
	return 0;
}

static json_t *port_json(const char *proto, uint64_t target, uint64_t published, const char *mode)
{
	json_t *p = json_pack("{s:s,s:I}", "Protocol", proto, "TargetPort", (json_int_t) target);

	if (published)
		json_object_set_new(p, "PublishedPort", json_integer((json_int_t) published));
	json_object_set_new(p, "PublishMode", json_string(mode));
	return p;
}

static int short_port(const char *v, json_t *arr, char *err, size_t n)
{
	char spec[128], *proto = "tcp", *slash, *parts[3];
	uint64_t cs, ce, hs = 0, he = 0;
	int np = 0;

	if (strlen(v) >= sizeof(spec)) {
		snprintf(err, n, "invalid port spec: %s", v);
		return -EINVAL;
	}
	snprintf(spec, sizeof(spec), "%s", v);
	slash = strrchr(spec, '/');
	if (slash) {
		*slash = '\0';
		proto = slash + 1;
		lower(proto);
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) {
			snprintf(err, n, "invalid proto: %s", proto);
			return -EINVAL;
		}
	}
	for (char *p = spec, *c; np < 3; p = c + 1) {
		parts[np++] = p;
		c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
	}
	if (np == 3 && strchr(parts[2], ':')) {
		snprintf(err, n, "invalid port format for --publish: %s", v);
		return -EINVAL;
	}
	if (np == 3 && *parts[0]) {
		snprintf(err, n, "hostip is not supported");
		return -EINVAL;
	}
	const char *cport = parts[np - 1], *hport = np >= 2 ? parts[np - 2] : "";

	if (!*cport) {
		snprintf(err, n, "no port specified: %s<empty>", v);
		return -EINVAL;
	}
	if (port_range(cport, &cs, &ce)) {
		snprintf(err, n, "invalid containerPort: %s", cport);
		return -EINVAL;
	}
	if (*hport && port_range(hport, &hs, &he)) {
		snprintf(err, n, "invalid hostPort: %s", hport);
		return -EINVAL;
	}
	if (*hport && ce - cs != he - hs && ce != cs) {
		snprintf(err, n, "invalid ranges specified for container and host Ports: %s and %s",
			 cport, hport);
		return -EINVAL;
	}
	if (ce == cs && he > hs) {
		for (uint64_t p = hs; p <= he; p++)
			json_array_append_new(arr, port_json(proto, cs, p, "ingress"));
		return 0;
	}
	for (uint64_t i = 0; i <= ce - cs; i++)
		json_array_append_new(arr,
				      port_json(proto, cs + i, *hport ? hs + i : 0, "ingress"));
	return 0;
}

/* PortOpt's long syntax is chosen when the value holds "word=word". */
static int is_long_syntax(const char *v)
{
	for (const char *eq = strchr(v, '='); eq; eq = strchr(eq + 1, '='))
		if (eq > v && (isalnum((unsigned char) eq[-1]) || eq[-1] == '_') &&
		    (isalnum((unsigned char) eq[1]) || eq[1] == '_'))
			return 1;
	return 0;
}

static int long_port(const char *v, json_t *arr, char *err, size_t n)
{
	CLI_AUTO_STRV struct cli_strv fields = {0};
	const char *proto = "", *mode = "", *why;
	uint64_t target = 0, published = 0;
	char *f;

	csv_fields(v, &fields);
	for (size_t i = 0; i < fields.n; i++) {
		char *eq;

		f = fields.v[i];
		lower(f);
		eq = strchr(f, '=');
		if (!eq || eq == f) {
			snprintf(err, n, "invalid field: %s", f);
			return -EINVAL;
		}
		*eq = '\0';
		if (!strcmp(f, "protocol")) {
			if (strcmp(eq + 1, "tcp") && strcmp(eq + 1, "udp") &&
			    strcmp(eq + 1, "sctp")) {
				snprintf(err, n, "invalid protocol value '%s'", eq + 1);
				return -EINVAL;
			}
			proto = eq + 1;
		} else if (!strcmp(f, "mode")) {
			if (strcmp(eq + 1, "ingress") && strcmp(eq + 1, "host")) {
				snprintf(
				    err, n,
				    "invalid publish mode value (%s): must be either 'ingress' or "
				    "'host'",
				    eq + 1);
				return -EINVAL;
			}
			mode = eq + 1;
		} else if (!strcmp(f, "target") || !strcmp(f, "published")) {
			uint64_t *dst = f[0] == 't' ? &target : &published;

			if (parse_u(eq + 1, 10, 65535, dst, &why)) {
				snprintf(err, n,
					 "invalid %s port (%s): value must be an integer: %s",
					 f[0] == 't' ? "target" : "published", eq + 1, why);
				return -EINVAL;
			}
		} else {
			snprintf(err, n, "invalid field key: %s", f);
			return -EINVAL;
		}
	}
	if (!target) {
		snprintf(err, n, "missing mandatory field 'target'");
		return -EINVAL;
	}
	json_array_append_new(
	    arr, port_json(*proto ? proto : "tcp", target, published, *mode ? mode : "ingress"));
	return 0;
}

int cli_svc_port(const char *v, json_t **out, char *err, size_t errlen)
{
	json_t *arr = json_array();
	int rc =
	    is_long_syntax(v) ? long_port(v, arr, err, errlen) : short_port(v, arr, err, errlen);

	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Mounts                                                                    */

static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False", NULL};

	for (size_t i = 0; t[i]; i++) {
		if (!strcmp(s, t[i]))
			return *out = 1, 0;
		if (!strcmp(s, f[i]))
			return *out = 0, 0;
	}
	return -EINVAL;
}

int cli_svc_mount(const char *v, json_t **out, char *err, size_t n)
{
	CLI_AUTO_STRV struct cli_strv fields = {0};
	CLI_AUTO_JSON json_t *m = json_object();
	json_t *vol = NULL, *bind = NULL, *tmpfs = NULL;
	char type[32] = "volume";
	int ro = 0, b;

	csv_fields(v, &fields);
	for (size_t i = 0; i < fields.n; i++) {
		char *key = fields.v[i], *eq = strchr(key, '='), *val;

		if (eq)
			*eq = '\0';
		lower(key);
		val = eq ? eq + 1 : NULL;
		if (!val) {
			if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
				ro = 1;
			} else if (!strcmp(key, "volume-nocopy")) {
				if (!vol)
					vol = json_object();
				json_object_set_new(vol, "NoCopy", json_true());
			} else {
				snprintf(err, n, "invalid field '%s' must be a key=value pair",
					 key);
				goto fail;
			}
			continue;
		}
		if (!strcmp(key, "type")) {
			snprintf(type, sizeof(type), "%s", val);
			lower(type);
		} else if (!strcmp(key, "source") || !strcmp(key, "src")) {
			char cwd[PATH_MAX];

			if ((!strcmp(val, ".") || !strncmp(val, "./", 2)) &&
			    getcwd(cwd, sizeof(cwd))) {
				CLI_AUTO_FREE char *abs = NULL;

				if (asprintf(&abs, "%s%s%s", cwd, val[1] ? "/" : "",
					     val[1] ? val + 2 : "") < 0)
					abort();
				json_object_set_new(m, "Source", json_string(abs));
			} else {
				json_object_set_new(m, "Source", json_string(val));
			}
		} else if (!strcmp(key, "target") || !strcmp(key, "dst") ||
			   !strcmp(key, "destination")) {
			json_object_set_new(m, "Target", json_string(val));
		} else if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
			if (parse_bool(val, &ro)) {
				snprintf(err, n, "invalid value for %s: %s", key, val);
				goto fail;
			}
		} else if (!strcmp(key, "consistency")) {
			lower(val);
			json_object_set_new(m, "Consistency", json_string(val));
		} else if (!strcmp(key, "bind-propagation")) {
			if (!bind)
				bind = json_object();
			lower(val);
			json_object_set_new(bind, "Propagation", json_string(val));
		} else if (!strcmp(key, "bind-nonrecursive")) {
			if (parse_bool(val, &b)) {
				snprintf(err, n, "invalid value for %s: %s", key, val);
				goto fail;
			}
			if (!bind)
				bind = json_object();
			if (b)
				json_object_set_new(bind, "NonRecursive", json_true());
		} else if (!strncmp(key, "volume-", 7)) {
			json_t *dc;

			if (!vol)
				vol = json_object();
			dc = json_object_get(vol, "DriverConfig");
			if (!dc)
				json_object_set_new(vol, "DriverConfig", dc = json_object());
			if (!strcmp(key, "volume-nocopy")) {
				if (parse_bool(val, &b)) {
					snprintf(err, n, "invalid value for volume-nocopy: %s",
						 val);
					goto fail;
				}
				json_object_set_new(vol, "NoCopy", json_boolean(b));
			} else if (!strcmp(key, "volume-label") || !strcmp(key, "volume-opt")) {
				int label = key[7] == 'l';
				json_t *map =
				    json_object_get(label ? vol : dc, label ? "Labels" : "Options");
				char *e = strchr(val, '=');

				if (!map)
					json_object_set_new(label ? vol : dc,
							    label ? "Labels" : "Options",
							    map = json_object());
				if (e)
					*e = '\0';
				if (*val)
					json_object_set_new(map, val, json_string(e ? e + 1 : ""));
			} else if (!strcmp(key, "volume-driver")) {
				json_object_set_new(dc, "Name", json_string(val));
			} else if (!strcmp(key, "volume-subpath")) {
				json_object_set_new(vol, "Subpath", json_string(val));
			} else {
				snprintf(err, n, "unexpected key '%s' in '%s=%s'", key, key, val);
				goto fail;
			}
		} else if (!strcmp(key, "tmpfs-size") || !strcmp(key, "tmpfs-mode")) {
			int64_t size = 0;
			uint64_t mode = 0;
			const char *why;

			if (!tmpfs)
				tmpfs = json_object();
			if (key[6] == 's' ? cli_svc_ram_bytes(val, &size, err, n)
					  : parse_u(val, 8, 0xffffffffu, &mode, &why)) {
				snprintf(err, n, "invalid value for %s: %s", key, val);
				goto fail;
			}
			if (key[6] == 's')
				json_object_set_new(tmpfs, "SizeBytes", json_integer(size));
			else
				json_object_set_new(tmpfs, "Mode", json_integer((json_int_t) mode));
		} else {
			snprintf(err, n, "unexpected key '%s' in '%s=%s'", key, key, val);
			goto fail;
		}
	}
	if (!json_object_get(m, "Target")) {
		snprintf(err, n, "target is required");
		goto fail;
	}
	if ((vol && strcmp(type, "volume")) || (bind && strcmp(type, "bind")) ||
	    (tmpfs && strcmp(type, "tmpfs"))) {
		snprintf(err, n, "cannot mix '%s-*' options with mount type '%s'",
			 vol	? "volume"
			 : bind ? "bind"
				: "tmpfs",
			 type);
		goto fail;
	}
	if (strcmp(type, "volume") && strcmp(type, "bind") && strcmp(type, "tmpfs") &&
	    strcmp(type, "npipe") && strcmp(type, "cluster")) {
		snprintf(err, n, "invalid mount type '%s': must be bind, volume or tmpfs", type);
		goto fail;
	}
	json_object_set_new(m, "Type", json_string(type));
	if (ro)
		json_object_set_new(m, "ReadOnly", json_true());
	if (vol)
		json_object_set_new(m, "VolumeOptions", vol);
	if (bind)
		json_object_set_new(m, "BindOptions", bind);
	if (tmpfs)
		json_object_set_new(m, "TmpfsOptions", tmpfs);
	*out = json_incref(m);
	return 0;
fail:
	json_decref(vol);
	json_decref(bind);
	json_decref(tmpfs);
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Secrets, configs, networks, preferences, hosts                            */

int cli_svc_file_ref(const char *v, int is_config, json_t **out, char *err, size_t n)
{
	CLI_AUTO_STRV struct cli_strv fields = {0};
	const char *source = "", *target = "", *uid = "0", *gid = "0", *why;
	uint64_t mode = 0444;
	json_t *ref;

	csv_fields(v, &fields);
	if (fields.n == 1 && !strchr(fields.v[0], '=')) {
		source = target = fields.v[0];
	} else {
		for (size_t i = 0; i < fields.n; i++) {
			char *key = fields.v[i], *eq = strchr(key, '=');

			if (!eq) {
				snprintf(err, n, "invalid field '%s' must be a key=value pair",
					 key);
				return -EINVAL;
			}
			*eq = '\0';
			lower(key);
			if (!strcmp(key, "source") || !strcmp(key, "src"))
				source = eq + 1;
			else if (!strcmp(key, "target"))
				target = eq + 1;
			else if (!strcmp(key, "uid"))
				uid = eq + 1;
			else if (!strcmp(key, "gid"))
				gid = eq + 1;
			else if (!strcmp(key, "mode")) {
				if (parse_u(eq + 1, 0, 0xffffffffu, &mode, &why)) {
					snprintf(
					    err, n,
					    "invalid mode specified: strconv.ParseUint: parsing "
					    "\"%s\": %s",
					    eq + 1, why);
					return -EINVAL;
				}
			} else {
				snprintf(err, n, "invalid field in %s request: %s",
					 is_config ? "config" : "secret", key);
				return -EINVAL;
			}
		}
	}
	if (!*source) {
		snprintf(err, n, "source is required");
		return -EINVAL;
	}
	ref = json_object();
	json_object_set_new(ref, "File",
			    json_pack("{s:s,s:s,s:s,s:I}", "Name", *target ? target : source, "UID",
				      uid, "GID", gid, "Mode", (json_int_t) mode));
	json_object_set_new(ref, is_config ? "ConfigName" : "SecretName", json_string(source));
	*out = ref;
	return 0;
}

int cli_svc_network(const char *v, json_t **out, char *err, size_t n)
{
	CLI_AUTO_STRV struct cli_strv fields = {0};
	json_t *att = json_object();

	if (!strchr(v, '=')) {
		json_object_set_new(att, "Target", json_string(v));
		*out = att;
		return 0;
	}
	csv_fields(v, &fields);
	for (size_t i = 0; i < fields.n; i++) {
		char *key = fields.v[i], *eq = strchr(key, '=');

		if (!eq) {
			snprintf(err, n, "invalid field %s", key);
			goto fail;
		}
		*eq = '\0';
		lower(key);
		if (!strcmp(key, "name")) {
			json_object_set_new(att, "Target", json_string(eq + 1));
		} else if (!strcmp(key, "alias")) {
			json_t *a = json_object_get(att, "Aliases");

			if (!a)
				json_object_set_new(att, "Aliases", a = json_array());
			json_array_append_new(a, json_string(eq + 1));
		} else if (!strcmp(key, "driver-opt")) {
			json_t *o = json_object_get(att, "DriverOpts");
			char *e = strchr(eq + 1, '=');

			if (!e) {
				snprintf(err, n, "invalid driver-opt %s: must be key=value",
					 eq + 1);
				goto fail;
			}
			*e = '\0';
			if (!o)
				json_object_set_new(att, "DriverOpts", o = json_object());
			json_object_set_new(o, eq + 1, json_string(e + 1));
		} else {
			snprintf(err, n, "invalid field key %s", key);
			goto fail;
		}
	}
	if (!*cli_json_str(att, "Target")) {
		snprintf(err, n, "network name/id is not specified");
		goto fail;
	}
	*out = att;
	return 0;
fail:
	json_decref(att);
	return -EINVAL;
}

int cli_svc_pref(const char *v, json_t **out, char *err, size_t n)
{
	const char *eq = strchr(v, '=');

	if (!eq || eq == v) {
		snprintf(err, n, "placement preference must be of the format \"<strategy>=<arg>\"");
		return -EINVAL;
	}
	if (strncmp(v, "spread", 6) || eq - v != 6) {
		snprintf(err, n, "unsupported placement preference %.*s (only spread is supported)",
			 (int) (eq - v), v);
		return -EINVAL;
	}
	*out = json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor", eq + 1);
	return 0;
}

int cli_svc_host(const char *v, char **out, char *err, size_t n)
{
	const char *sep = strchr(v, ':');
	const char *eq = strchr(v, '=');
	unsigned char a[16];

	/* docker accepts host=ip too (the IP may hold colons then). */
	if (eq && (!sep || eq < sep))
		sep = eq;
	if (!sep || sep == v) {
		snprintf(err, n, "bad format for add-host: \"%s\"", v);
		return -EINVAL;
	}
	if (strcmp(sep + 1, "host-gateway") && inet_pton(AF_INET, sep + 1, a) != 1 &&
	    inet_pton(AF_INET6, sep + 1, a) != 1) {
		snprintf(err, n, "invalid IP address in add-host: \"%s\"", sep + 1);
		return -EINVAL;
	}
	if (asprintf(out, "%s %.*s", sep + 1, (int) (sep - v), v) < 0)
		abort();
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Resources                                                                 */

int cli_svc_nano_cpus(const char *v, int64_t *out, char *err, size_t n)
{
	const char *p = v, *dot;
	int64_t whole = 0, frac = 0;
	int digits = 0;

	if (*p == '+')
		p++;
	dot = strchr(p, '.');
	if (!*p || (p[0] == '.' && !p[1]) ||
	    strspn(p, "0123456789") != (dot ? (size_t) (dot - p) : strlen(p)) ||
	    (dot && strspn(dot + 1, "0123456789") != strlen(dot + 1)))
		goto bad;
	for (; *p && *p != '.'; p++) {
		if (whole > INT64_MAX / 10 / 1000000000)
			goto bad;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.')
		for (p++; *p; p++, digits++) {
			if (digits >= 9) {
				if (*p != '0') {
					snprintf(err, n, "value is too precise");
					return -EINVAL;
				}
				continue;
			}
			frac = frac * 10 + (*p - '0');
		}
	for (; digits < 9; digits++)
		frac *= 10;
	*out = whole * 1000000000 + frac;
	return 0;
bad:
	snprintf(err, n, "failed to parse %s as a rational number", v);
	return -EINVAL;
}

int cli_svc_ram_bytes(const char *v, int64_t *out, char *err, size_t n)
{
	const char *p = v;
	char *end;
	double num;
	int64_t mult = 1;

	if (!isdigit((unsigned char) *p))
		goto bad;
	num = strtod(p, &end);
	p = end;
	if (*p == ' ')
		p++;
	if (*p && strchr("kKmMgGtTpP", *p)) {
		switch (tolower((unsigned char) *p)) {
		case 'k':
			mult = 1LL << 10;
			break;
		case 'm':
			mult = 1LL << 20;
			break;
		case 'g':
			mult = 1LL << 30;
			break;
		case 't':
			mult = 1LL << 40;
			break;
		default:
			mult = 1LL << 50;
		}
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		goto bad;
	*out = (int64_t) (num * (double) mult);
	return 0;
bad:
	snprintf(err, n, "invalid size: '%s'", v);
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Environment                                                               */

static void env_add(struct cli_strv *out, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t kl = eq ? (size_t) (eq - kv) : strlen(kv);

	/* makeEnv: a later K=V replaces earlier values of K. */
	for (size_t i = 0; i < out->n;) {
		if (strcmp(out->v[i], kv) != 0 && !strncmp(out->v[i], kv, kl) &&
		    out->v[i][kl] == '=') {
			free(out->v[i]);
			memmove(&out->v[i], &out->v[i + 1], (out->n - i) * sizeof(char *));
			out->n--;
			continue;
		}
		i++;
	}
	cli_strv_push(out, kv);
}

static void env_value(struct cli_strv *out, const char *v)
{
	const char *val;

	if (strchr(v, '=') || !(val = getenv(v))) {
		env_add(out, v);
		return;
	}
	CLI_AUTO_FREE char *kv = NULL;

	if (asprintf(&kv, "%s=%s", v, val) < 0)
		abort();
	env_add(out, kv);
}

int cli_svc_env(const struct cli_strv *files, const struct cli_strv *env, struct cli_strv *out,
		char *err, size_t errlen)
{
	for (size_t i = 0; i < files->n; i++) {
		FILE *f = fopen(files->v[i], "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		if (!f) {
			int e = errno;
			char why[128];

			snprintf(why, sizeof(why), "%s", strerror(e));
			why[0] = (char) tolower((unsigned char) why[0]);
			snprintf(err, errlen, "open %s: %s", files->v[i], why);
			return -e;
		}
		while ((len = getline(&line, &cap, f)) >= 0) {
			char *l = line, *eq;

			while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r'))
				l[--len] = '\0';
			while (*l == ' ' || *l == '\t')
				l++;
			if (!*l || *l == '#')
				continue;
			eq = strchr(l, '=');
			if (strcspn(l, " \t") < (eq ? (size_t) (eq - l) : strlen(l))) {
				snprintf(err, errlen, "variable '%.*s' contains whitespaces",
					 (int) (eq ? eq - l : (ssize_t) strlen(l)), l);
				free(line);
				fclose(f);
				return -EINVAL;
			}
			env_value(out, l);
		}
		free(line);
		fclose(f);
	}
	for (size_t i = 0; i < env->n; i++)
		env_value(out, env->v[i]);
	return 0;
}
