/* Mounts of a task's OCI config (Docker's defaults, /etc files, secrets,
 * user mounts) and the generated /etc/hosts and /etc/resolv.conf. */
#include "worker/executor/exec_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static json_t *mnt(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *o = json_array();
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		json_array_append_new(o, json_string(p));
	return json_pack("{s:s,s:s,s:s,s:o}", "destination", dst, "type", type, "source", src,
			 "options", o);
}

static int depth(const char *p)
{
	int d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int volume_name_valid(const char *s)
{
	char c0 = s[0];

	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9')))
		return 0;
	return exec_id_valid(s);
}

static const char *propagation(const Shoal__Mount *m)
{
	static const char *const names[] = {"rprivate", "private", "rshared",
					    "shared",	"rslave",  "slave"};
	int p = m->bind_options ? (int) m->bind_options->propagation : 0;

	return p >= 0 && p < 6 ? names[p] : "rprivate";
}

/* One user mount -> OCI mount; creates named volume directories. */
static json_t *user_mount(const struct exec_spec_in *in, const Shoal__Mount *m, size_t idx,
			  const char *dst, char *err, size_t errlen, int *rc)
{
	char opts[256], src[4096], name[128];
	struct stat st;

	*rc = -EINVAL;
	switch (m->type) {
	case SHOAL__MOUNT__TYPE__BIND:
		if (!m->source || m->source[0] != '/') {
			exec_fail(err, errlen, -EINVAL,
				  "invalid mount config for type \"bind\": source \"%s\" must be "
				  "an absolute path",
				  m->source ? m->source : "");
			return NULL;
		}
		if (stat(m->source, &st) < 0) {
			exec_fail(err, errlen, -EINVAL,
				  "invalid mount config for type \"bind\": bind source path does "
				  "not exist: %s",
				  m->source);
			return NULL;
		}
		snprintf(opts, sizeof(opts), "%s,%s%s",
			 m->bind_options && m->bind_options->non_recursive ? "bind" : "rbind",
			 propagation(m), m->read_only ? ",ro" : "");
		*rc = 0;
		return mnt(dst, "bind", m->source, opts);
	case SHOAL__MOUNT__TYPE__VOLUME:
		if (m->source && m->source[0]) {
			if (!volume_name_valid(m->source)) {
				exec_fail(
				    err, errlen, -EINVAL,
				    "volume name \"%s\" is invalid: use [a-zA-Z0-9][a-zA-Z0-9_.-]*",
				    m->source);
				return NULL;
			}
			snprintf(name, sizeof(name), "%s", m->source);
		} else {
			/* Anonymous: one per task and mount. */
			snprintf(name, sizeof(name), "%s-%zu", in->t->meta->id, idx);
		}
		if (m->volume_options && m->volume_options->driver_config &&
		    m->volume_options->driver_config->name &&
		    m->volume_options->driver_config->name[0] &&
		    strcmp(m->volume_options->driver_config->name, "local")) {
			exec_fail(err, errlen, -ENOSYS, "volume driver \"%s\" is not supported",
				  m->volume_options->driver_config->name);
			*rc = -ENOSYS;
			return NULL;
		}
		snprintf(src, sizeof(src), "%s/%s/_data", in->volume_root, name);
		if ((*rc = exec_mkdir_p(src, 0755))) {
			exec_fail(err, errlen, *rc, "creating volume %s: %s", src, strerror(-*rc));
			return NULL;
		}
		snprintf(opts, sizeof(opts), "rbind,rprivate%s", m->read_only ? ",ro" : "");
		*rc = 0;
		return mnt(dst, "bind", src, opts);
	case SHOAL__MOUNT__TYPE__TMPFS: {
		const Shoal__Mount__TmpfsOptions *t = m->tmpfs_options;
		int n = snprintf(opts, sizeof(opts), "nosuid,nodev,noexec,rprivate,mode=%o",
				 t && t->mode ? t->mode & 07777 : 01777);

		if (t && t->size_bytes < 0) {
			exec_fail(err, errlen, -EINVAL, "tmpfs size of %s is negative", dst);
			return NULL;
		}
		if (t && t->size_bytes > 0)
			snprintf(opts + n, sizeof(opts) - (size_t) n, ",size=%lld",
				 (long long) t->size_bytes);
		if (m->read_only)
			strncat(opts, ",ro", sizeof(opts) - strlen(opts) - 1);
		*rc = 0;
		return mnt(dst, "tmpfs", "tmpfs", opts);
	}
	default:
		exec_fail(err, errlen, -EINVAL, "mount type %d is not supported on Linux",
			  (int) m->type);
		return NULL;
	}
}

struct entry {
	json_t *m;
	int depth;
	const char *dst;
};

int exec_spec_mounts(const struct exec_spec_in *in, json_t *mounts, char *err, size_t errlen)
{
	const Shoal__ContainerSpec *cs = in->t->spec->container;
	size_t n = 0, cap = 3 + in->n_files + cs->n_mounts;
	struct entry *e = calloc(cap, sizeof(*e));
	char src[4096], dst[4096];
	int rc = 0;

	if (!e)
		return -ENOMEM;
	json_array_append_new(mounts, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(
	    mounts, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts,
			      mnt("/dev/pts", "devpts", "devpts",
				  "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts, mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(mounts,
			      mnt("/sys/fs/cgroup", "cgroup", "cgroup", "ro,nosuid,noexec,nodev"));
	json_array_append_new(mounts,
			      mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(
	    mounts, mnt("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));

	static const char *const etc[] = {"resolv.conf", "hostname", "hosts"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(src, sizeof(src), "%s/%s", in->bundle, etc[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", etc[i]);
		e[n].m = mnt(dst, "bind", src, "rbind,rprivate");
		e[n].dst = json_string_value(json_object_get(e[n].m, "destination"));
		e[n].depth = 2;
		n++;
	}
	for (size_t i = 0; i < in->n_files; i++) {
		if (exec_clean_path(in->files[i].target, dst, sizeof(dst)) || !strcmp(dst, "/")) {
			rc = exec_fail(err, errlen, -EINVAL,
				       "secret/config target \"%s\" must be an absolute file path "
				       "without ..",
				       in->files[i].target ? in->files[i].target : "");
			goto out;
		}
		snprintf(src, sizeof(src), "%s/secrets/%zu", in->bundle, i);
		e[n].m = mnt(dst, "bind", src, "bind,rprivate,ro,nosuid,nodev,noexec");
		e[n].dst = json_string_value(json_object_get(e[n].m, "destination"));
		e[n].depth = depth(dst);
		n++;
	}
	for (size_t i = 0; i < cs->n_mounts; i++) {
		const Shoal__Mount *m = cs->mounts[i];

		if (!m->target || exec_clean_path(m->target, dst, sizeof(dst)) ||
		    !strcmp(dst, "/")) {
			rc = exec_fail(
			    err, errlen, -EINVAL,
			    "invalid mount config: target \"%s\" must be an absolute path "
			    "other than / and without ..",
			    m->target ? m->target : "");
			goto out;
		}
		e[n].m = user_mount(in, m, i, dst, err, errlen, &rc);
		if (!e[n].m)
			goto out;
		e[n].dst = json_string_value(json_object_get(e[n].m, "destination"));
		e[n].depth = depth(dst);
		n++;
	}
	for (size_t i = 3; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(e[i].dst, e[j].dst)) {
				rc = exec_fail(err, errlen, -EINVAL, "duplicate mount point: %s",
					       e[i].dst);
				goto out;
			}
	/* Parents before children, otherwise in order (stable insertion sort). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && e[j - 1].depth > e[j].depth; j--) {
			struct entry x = e[j];

			e[j] = e[j - 1];
			e[j - 1] = x;
		}
	for (size_t i = 0; i < n; i++) {
		json_array_append(mounts, e[i].m);
	}
out:
	for (size_t i = 0; i < n; i++)
		json_decref(e[i].m);
	free(e);
	return rc;
}

static int line_ok(const char *s)
{
	return s && !strchr(s, '\n') && !strchr(s, '\r');
}

char *exec_hosts_content(const Shoal__ContainerSpec *cs, char *err, size_t errlen)
{
	size_t cap = 256, n;
	char *buf;

	for (size_t i = 0; i < cs->n_hosts; i++) {
		if (!line_ok(cs->hosts[i])) {
			exec_fail(err, errlen, -EINVAL, "hosts entry \"%s\" holds a newline",
				  cs->hosts[i] ? cs->hosts[i] : "");
			return NULL;
		}
		cap += strlen(cs->hosts[i]) + 1;
	}
	buf = malloc(cap);
	if (!buf)
		return NULL;
	n = (size_t) snprintf(buf, cap,
			      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
			      "ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
			      "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
	for (size_t i = 0; i < cs->n_hosts; i++)
		n += (size_t) snprintf(buf + n, cap - n, "%s\n", cs->hosts[i]);
	return buf;
}

/* No host resolvers ever: the task's DNS config, else the embedded DNS
 * address the overlay serves (127.0.0.11), as Docker on swarm networks. */
char *exec_resolv_content(const Shoal__ContainerSpec *cs, char *err, size_t errlen)
{
	const Shoal__ContainerSpec__DNSConfig *d = cs->dns_config;
	size_t cap = 128, n = 0;
	char *buf;

	if (!d || !d->n_nameservers)
		return strdup("nameserver 127.0.0.11\noptions ndots:0\n");
	for (size_t i = 0; i < d->n_nameservers; i++)
		cap += strlen(d->nameservers[i]) + 16;
	for (size_t i = 0; i < d->n_search; i++)
		cap += strlen(d->search[i]) + 1;
	for (size_t i = 0; i < d->n_options; i++)
		cap += strlen(d->options[i]) + 1;
	for (size_t i = 0; i < d->n_nameservers; i++)
		if (!line_ok(d->nameservers[i]) || strchr(d->nameservers[i], ' ')) {
			exec_fail(err, errlen, -EINVAL, "dns nameserver \"%s\" is invalid",
				  d->nameservers[i]);
			return NULL;
		}
	for (size_t i = 0; i < d->n_search; i++)
		if (!line_ok(d->search[i])) {
			exec_fail(err, errlen, -EINVAL, "dns search entry holds a newline");
			return NULL;
		}
	for (size_t i = 0; i < d->n_options; i++)
		if (!line_ok(d->options[i])) {
			exec_fail(err, errlen, -EINVAL, "dns option holds a newline");
			return NULL;
		}
	buf = malloc(cap);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < d->n_nameservers; i++)
		n += (size_t) snprintf(buf + n, cap - n, "nameserver %s\n", d->nameservers[i]);
	if (d->n_search) {
		n += (size_t) snprintf(buf + n, cap - n, "search");
		for (size_t i = 0; i < d->n_search; i++)
			n += (size_t) snprintf(buf + n, cap - n, " %s", d->search[i]);
		n += (size_t) snprintf(buf + n, cap - n, "\n");
	}
	if (d->n_options) {
		n += (size_t) snprintf(buf + n, cap - n, "options");
		for (size_t i = 0; i < d->n_options; i++)
			n += (size_t) snprintf(buf + n, cap - n, " %s", d->options[i]);
		n += (size_t) snprintf(buf + n, cap - n, "\n");
	}
	return buf;
}
