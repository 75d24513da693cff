/* OCI runtime config for a task, as Docker would run its container:
 * process (args, env, user, cwd, capabilities, rlimits), hostname, cgroup,
 * namespaces, resources, masked paths; mounts are in mounts.c. */
#include "worker/executor/exec_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SEC	     1000000000LL

/* ------------------------------------------------------------ signals */

static const struct {
	const char *name;
	int num;
} signals[] = {
    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"IOT", SIGIOT},	     {"BUS", SIGBUS},
    {"FPE", SIGFPE},	   {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},	   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},	   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},	   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int exec_signal_parse(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	if (*s >= '0' && *s <= '9') {
		v = strtol(s, &end, 10);
		return *end || v < 1 || v > SIGRTMAX ? -EINVAL : (int) v;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].num;
	if (!strncasecmp(s, "RTMIN", 5)) {
		v = 0;
		if (s[5] == '+') {
			v = strtol(s + 6, &end, 10);
			if (*end || end == s + 6)
				return -EINVAL;
		} else if (s[5]) {
			return -EINVAL;
		}
		return SIGRTMIN + v > SIGRTMAX || v < 0 ? -EINVAL : SIGRTMIN + (int) v;
	}
	return -EINVAL;
}

/* ------------------------------------------------------- capabilities */

static const char *const all_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define N_CAPS (sizeof(all_caps) / sizeof(all_caps[0]))

/* Docker's default set (moby oci/caps/defaults.go). */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",	   "CAP_AUDIT_WRITE",
};

/* Index of a capability name ("net_admin", "CAP_NET_ADMIN"), -1 unknown. */
static int cap_index(const char *name)
{
	char full[64];

	snprintf(full, sizeof(full), "%s%s", strncasecmp(name, "CAP_", 4) ? "CAP_" : "", name);
	for (size_t i = 0; i < N_CAPS; i++)
		if (!strcasecmp(full, all_caps[i]))
			return (int) i;
	return -1;
}

static int caps_json(const Shoal__ContainerSpec *cs, json_t *process, char *err, size_t errlen)
{
	int on[N_CAPS] = {0}, drop_all = 0;
	json_t *list, *caps;

	for (size_t i = 0; i < cs->n_capability_drop; i++)
		if (!strcasecmp(cs->capability_drop[i], "ALL"))
			drop_all = 1;
	if (!drop_all)
		for (size_t i = 0; i < sizeof(default_caps) / sizeof(default_caps[0]); i++)
			on[cap_index(default_caps[i])] = 1;
	for (size_t i = 0; i < cs->n_capability_add; i++) {
		int k;

		if (!strcasecmp(cs->capability_add[i], "ALL")) {
			for (size_t j = 0; j < N_CAPS; j++)
				on[j] = 1;
			continue;
		}
		if ((k = cap_index(cs->capability_add[i])) < 0)
			return exec_fail(err, errlen, -EINVAL,
					 "unknown capability \"%s\" in cap-add",
					 cs->capability_add[i]);
		on[k] = 1;
	}
	for (size_t i = 0; i < cs->n_capability_drop; i++) {
		int k;

		if (!strcasecmp(cs->capability_drop[i], "ALL"))
			continue;
		if ((k = cap_index(cs->capability_drop[i])) < 0)
			return exec_fail(err, errlen, -EINVAL,
					 "unknown capability \"%s\" in cap-drop",
					 cs->capability_drop[i]);
		/* An explicit add wins over a drop of the same capability. */
		int added = 0;
		for (size_t j = 0; j < cs->n_capability_add; j++)
			added |= cap_index(cs->capability_add[j]) == k;
		if (!added)
			on[k] = 0;
	}
	list = json_array();
	for (size_t i = 0; i < N_CAPS; i++)
		if (on[i])
			json_array_append_new(list, json_string(all_caps[i]));
	caps = json_object();
	json_object_set(caps, "bounding", list);
	json_object_set(caps, "effective", list);
	json_object_set(caps, "permitted", list);
	json_object_set_new(process, "capabilities", caps);
	json_decref(list);
	return 0;
}

/* ---------------------------------------------------------- env, args */

/* Replaces the entry with the same name, appends a new one, or (an entry
 * without '=') removes it: Docker's ReplaceOrAppendEnvValues. */
static void env_set(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t) (eq - kv) : strlen(kv);
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (!strncmp(s, kv, klen) && (s[klen] == '=' || s[klen] == '\0')) {
			if (eq)
				json_array_set_new(env, i, json_string(kv));
			else
				json_array_remove(env, i);
			return;
		}
	}
	if (eq)
		json_array_append_new(env, json_string(kv));
}

static int env_json(const struct exec_spec_in *in, const char *hostname, json_t *process, char *err,
		    size_t errlen)
{
	const Shoal__ContainerSpec *cs = in->t->spec->container;
	json_t *env = json_array();
	char host[128];

	json_array_append_new(env, json_string(DEFAULT_PATH));
	snprintf(host, sizeof(host), "HOSTNAME=%s", hostname);
	json_array_append_new(env, json_string(host));
	for (size_t i = 0; i < in->img->n_env; i++)
		env_set(env, in->img->env[i]);
	for (size_t i = 0; i < cs->n_env; i++) {
		if (!cs->env[i][0] || cs->env[i][0] == '=') {
			json_decref(env);
			return exec_fail(err, errlen, -EINVAL, "env entry \"%s\" has no name",
					 cs->env[i]);
		}
		env_set(env, cs->env[i]);
	}
	json_object_set_new(process, "env", env);
	return 0;
}

/* Docker via swarmkit: a spec command replaces the entrypoint and its args
 * replace the cmd (even when empty); args alone replace the cmd. */
static int args_json(const struct exec_spec_in *in, json_t *process, char *err, size_t errlen)
{
	const Shoal__ContainerSpec *cs = in->t->spec->container;
	const struct exec_image *img = in->img;
	char *const *ep = img->entrypoint, *const *cmd = img->cmd;
	size_t n_ep = img->n_entrypoint, n_cmd = img->n_cmd;
	json_t *args = json_array();

	if (cs->n_command) {
		ep = cs->command;
		n_ep = cs->n_command;
		cmd = cs->args;
		n_cmd = cs->n_args;
	} else if (cs->n_args) {
		cmd = cs->args;
		n_cmd = cs->n_args;
	}
	for (size_t i = 0; i < n_ep; i++)
		json_array_append_new(args, json_string(ep[i]));
	for (size_t i = 0; i < n_cmd; i++)
		json_array_append_new(args, json_string(cmd[i]));
	if (json_array_size(args) == 0) {
		json_decref(args);
		return exec_fail(err, errlen, -EINVAL,
				 "no command specified: the image has no entrypoint or cmd and "
				 "the task has no command or args");
	}
	json_object_set_new(process, "args", args);
	return 0;
}

/* ----------------------------------------------------------- hostname */

/* Expands Docker's hostname templates ({{.Service.Name}}, {{.Task.Slot}},
 * ...) into out; otherwise the first 12 characters of the task id. */
static int hostname_resolve(const struct exec_spec_in *in, char *out, size_t outlen, char *err,
			    size_t errlen)
{
	const Shoal__Task *t = in->t;
	const char *h = t->spec->container->hostname;
	size_t n = 0;
	char slot[24], tname[256];

	if (!h || !*h) {
		snprintf(out, outlen, "%.12s", t->meta->id);
		return 0;
	}
	snprintf(slot, sizeof(slot), "%llu", (unsigned long long) t->slot);
	if (t->annotations && t->annotations->name && t->annotations->name[0])
		snprintf(tname, sizeof(tname), "%s", t->annotations->name);
	else
		snprintf(tname, sizeof(tname), "%s.%s.%s",
			 t->service_annotations ? t->service_annotations->name : "",
			 t->slot ? slot : t->node_id, t->meta->id);
	while (*h) {
		const char *val = NULL, *close;
		char key[64];
		size_t klen;

		if (strncmp(h, "{{", 2)) {
			if (n + 1 >= outlen)
				goto toolong;
			out[n++] = *h++;
			continue;
		}
		close = strstr(h, "}}");
		if (!close)
			return exec_fail(err, errlen, -EINVAL, "hostname template \"%s\": no }}",
					 t->spec->container->hostname);
		h += 2;
		while (*h == ' ')
			h++;
		klen = (size_t) (close - h);
		while (klen && h[klen - 1] == ' ')
			klen--;
		snprintf(key, sizeof(key), "%.*s", (int) (klen < 63 ? klen : 63), h);
		if (!strcmp(key, ".Service.ID"))
			val = t->service_id;
		else if (!strcmp(key, ".Service.Name"))
			val = t->service_annotations ? t->service_annotations->name : "";
		else if (!strcmp(key, ".Task.ID"))
			val = t->meta->id;
		else if (!strcmp(key, ".Task.Name"))
			val = tname;
		else if (!strcmp(key, ".Task.Slot"))
			val = slot;
		else if (!strcmp(key, ".Node.ID"))
			val = in->c && in->c->node_id ? in->c->node_id : t->node_id;
		else if (!strcmp(key, ".Node.Hostname"))
			val = in->c ? in->c->node_hostname : NULL;
		if (!val)
			return exec_fail(err, errlen, -EINVAL,
					 "hostname template: unknown placeholder \"%s\"", key);
		for (; *val; val++) {
			if (n + 1 >= outlen)
				goto toolong;
			out[n++] = *val;
		}
		h = close + 2;
	}
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] == '/' || out[i] == ' ' || out[i] == '\n')
			return exec_fail(err, errlen, -EINVAL, "hostname \"%s\" is invalid", out);
	if (n == 0)
		return exec_fail(err, errlen, -EINVAL, "hostname is empty");
	return 0;
toolong:
	return exec_fail(err, errlen, -EINVAL, "hostname \"%s\" is longer than %zu characters",
			 t->spec->container->hostname, outlen - 1);
}

/* ----------------------------------------------------- limits, health */

static const char *const rlimits[] = {
    "AS",   "CORE",   "CPU",   "DATA", "FSIZE",	 "LOCKS",  "MEMLOCK",	 "MSGQUEUE",
    "NICE", "NOFILE", "NPROC", "RSS",  "RTPRIO", "RTTIME", "SIGPENDING", "STACK",
};

static int rlimits_json(const Shoal__ContainerSpec *cs, json_t *process, char *err, size_t errlen)
{
	json_t *arr;

	if (!cs->n_ulimits)
		return 0;
	arr = json_array();
	json_object_set_new(process, "rlimits", arr);
	for (size_t i = 0; i < cs->n_ulimits; i++) {
		const Shoal__ContainerSpec__Ulimit *u = cs->ulimits[i];
		char type[32];
		int ok = 0;

		for (size_t j = 0; j < sizeof(rlimits) / sizeof(rlimits[0]); j++)
			if (u->name && !strcasecmp(u->name, rlimits[j])) {
				snprintf(type, sizeof(type), "RLIMIT_%s", rlimits[j]);
				ok = 1;
			}
		if (!ok)
			return exec_fail(err, errlen, -EINVAL, "unknown ulimit \"%s\"",
					 u->name ? u->name : "");
		if (u->soft < 0 || u->hard < 0 || u->soft > u->hard)
			return exec_fail(err, errlen, -EINVAL,
					 "ulimit %s: soft %lld must be <= hard %lld", u->name,
					 (long long) u->soft, (long long) u->hard);
		json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "type", type, "soft",
						     (json_int_t) u->soft, "hard",
						     (json_int_t) u->hard));
	}
	return 0;
}

/* Docker: spec test [] inherits the image's, ["NONE"] disables; zero
 * durations inherit the image's, then the defaults 30 s, 30 s, 0, 3. */
static int health_resolve(const struct exec_spec_in *in, struct exec_spec_out *out, char *err,
			  size_t errlen)
{
	const Shoal__HealthConfig *h = in->t->spec->container->healthcheck;
	const struct exec_health *ih = &in->img->health;
	char *const *test = ih->test;
	size_t n = ih->n_test, k = 0;
	char **argv;

	if (h && h->n_test) {
		test = h->test;
		n = h->n_test;
	}
	if (!n || !strcmp(test[0], "NONE"))
		return 0;
	if (strcmp(test[0], "CMD") && strcmp(test[0], "CMD-SHELL"))
		return exec_fail(
		    err, errlen, -EINVAL,
		    "healthcheck test must start with NONE, CMD or CMD-SHELL, not \"%s\"", test[0]);
	if (n < 2 || (!strcmp(test[0], "CMD-SHELL") && n != 2))
		return exec_fail(err, errlen, -EINVAL, "healthcheck %s needs %s", test[0],
				 strcmp(test[0], "CMD") ? "exactly one command string"
							: "a command");
	argv = calloc(n + 3, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	if (!strcmp(test[0], "CMD-SHELL")) {
		argv[k++] = strdup("/bin/sh");
		argv[k++] = strdup("-c");
	}
	for (size_t i = 1; i < n; i++)
		argv[k++] = strdup(test[i]);
	out->health_argv = argv;
	out->shim.has_health = 1;
#define PICK(f, d) (h && h->f > 0 ? h->f : ih->f > 0 ? ih->f : (d))
	out->shim.health_interval = PICK(interval, 30 * SEC);
	out->shim.health_timeout = PICK(timeout, 30 * SEC);
	out->shim.health_start_period = PICK(start_period, 0);
	out->shim.health_retries = PICK(retries, 3);
#undef PICK
	return 0;
}

static json_t *device_rule(const char *type, int major, int minor, const char *access)
{
	json_t *d = json_pack("{s:b,s:s}", "allow", 1, "access", access);

	json_object_set_new(d, "type", json_string(type));
	if (major >= 0)
		json_object_set_new(d, "major", json_integer(major));
	if (minor >= 0)
		json_object_set_new(d, "minor", json_integer(minor));
	return d;
}

static int resources_json(const Shoal__TaskSpec *ts, json_t *lx, char *err, size_t errlen)
{
	json_t *res = json_object(), *dev = json_array();
	const Shoal__Resources *lim = ts->resources ? ts->resources->limits : NULL;
	const Shoal__Resources *rsv = ts->resources ? ts->resources->reservations : NULL;

	/* Docker's default device cgroup: deny all, allow mknod and the basics. */
	json_array_append_new(dev, json_pack("{s:b,s:s}", "allow", 0, "access", "rwm"));
	json_array_append_new(dev, device_rule("c", -1, -1, "m"));
	json_array_append_new(dev, device_rule("b", -1, -1, "m"));
	json_array_append_new(dev, device_rule("c", 1, 3, "rwm"));    /* null */
	json_array_append_new(dev, device_rule("c", 1, 8, "rwm"));    /* random */
	json_array_append_new(dev, device_rule("c", 1, 7, "rwm"));    /* full */
	json_array_append_new(dev, device_rule("c", 5, 0, "rwm"));    /* tty */
	json_array_append_new(dev, device_rule("c", 1, 5, "rwm"));    /* zero */
	json_array_append_new(dev, device_rule("c", 1, 9, "rwm"));    /* urandom */
	json_array_append_new(dev, device_rule("c", 136, -1, "rwm")); /* pts */
	json_array_append_new(dev, device_rule("c", 5, 2, "rwm"));    /* ptmx */
	json_array_append_new(dev, device_rule("c", 10, 200, "rwm")); /* tun */
	json_object_set_new(res, "devices", dev);
	json_object_set_new(lx, "resources", res);
	if (lim && lim->memory_bytes < 0)
		return exec_fail(err, errlen, -EINVAL, "limits.memory_bytes is negative");
	if ((lim && lim->memory_bytes > 0) || (rsv && rsv->memory_bytes > 0)) {
		json_t *mem = json_object();

		if (lim && lim->memory_bytes > 0) {
			if (lim->memory_bytes < 6 * 1024 * 1024)
				return exec_fail(
				    err, errlen, -EINVAL,
				    "limits.memory_bytes %lld is below the minimum 6 MiB",
				    (long long) lim->memory_bytes);
			json_object_set_new(mem, "limit", json_integer(lim->memory_bytes));
		}
		if (rsv && rsv->memory_bytes > 0)
			json_object_set_new(mem, "reservation", json_integer(rsv->memory_bytes));
		json_object_set_new(res, "memory", mem);
	}
	if (lim && lim->nano_cpus) {
		int64_t period = 100000, quota;

		if (lim->nano_cpus < 0)
			return exec_fail(err, errlen, -EINVAL, "limits.nano_cpus is negative");
		quota = lim->nano_cpus * period / SEC;
		if (quota < 1000)
			return exec_fail(err, errlen, -EINVAL,
					 "limits.nano_cpus %lld is below the minimum 0.01 CPU",
					 (long long) lim->nano_cpus);
		json_object_set_new(res, "cpu",
				    json_pack("{s:I,s:I}", "quota", (json_int_t) quota, "period",
					      (json_int_t) period));
	}
	if (lim && lim->pids) {
		if (lim->pids < 0)
			return exec_fail(err, errlen, -EINVAL, "limits.pids is negative");
		json_object_set_new(res, "pids",
				    json_pack("{s:I}", "limit", (json_int_t) lim->pids));
	}
	return 0;
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static int linux_json(const struct exec_spec_in *in, json_t *config, char *err, size_t errlen)
{
	static const char *const ns[] = {"pid", "network", "ipc", "uts", "mount"};
	/* Docker's defaults (moby oci/defaults.go). */
	static const char *const masked[] = {
	    "/proc/asound",
	    "/proc/acpi",
	    "/proc/kcore",
	    "/proc/keys",
	    "/proc/latency_stats",
	    "/proc/timer_list",
	    "/proc/timer_stats",
	    "/proc/sched_debug",
	    "/proc/scsi",
	    "/sys/firmware",
	    "/sys/devices/virtual/powercap",
	};
	static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					 "/proc/sysrq-trigger"};
	const Shoal__ContainerSpec *cs = in->t->spec->container;
	json_t *lx = json_object(), *nss = json_array();
	char cg[128];
	int rc;

	json_object_set_new(config, "linux", lx);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		json_array_append_new(nss, json_pack("{s:s}", "type", ns[i]));
	json_object_set_new(lx, "namespaces", nss);
	/* Absolute: a relative path would nest under shoald's own cgroup. */
	snprintf(cg, sizeof(cg), "/shoal/%s", in->t->meta->id);
	json_object_set_new(lx, "cgroupsPath", json_string(cg));
	json_object_set_new(lx, "maskedPaths", strings(masked, sizeof(masked) / sizeof(masked[0])));
	json_object_set_new(lx, "readonlyPaths", strings(ro, sizeof(ro) / sizeof(ro[0])));
	if ((rc = resources_json(in->t->spec, lx, err, errlen)))
		return rc;
	if (cs->n_sysctls) {
		json_t *sys = json_object();

		for (size_t i = 0; i < cs->n_sysctls; i++) {
			const char *k = cs->sysctls[i]->key;

			if (!k || !*k || strchr(k, '/') || strstr(k, ".."))
				return exec_fail(err, errlen, -EINVAL,
						 "sysctl name \"%s\" is invalid", k ? k : "");
			json_object_set_new(sys, k, json_string(cs->sysctls[i]->value));
		}
		json_object_set_new(lx, "sysctl", sys);
	}
	return 0;
}

/* ---------------------------------------------------------- assemble */

static int process_json(const struct exec_spec_in *in, struct exec_spec_out *out, json_t *process,
			char *err, size_t errlen)
{
	const Shoal__ContainerSpec *cs = in->t->spec->container;
	const char *user = cs->user && *cs->user ? cs->user : in->img->user;
	const char *wd = cs->dir && *cs->dir ? cs->dir : in->img->workdir;
	uint32_t uid, gid, *gids = NULL;
	size_t n_gids = 0;
	json_t *u;
	int rc;

	json_object_set_new(process, "terminal", json_false());
	if ((rc = args_json(in, process, err, errlen)) ||
	    (rc = env_json(in, out->hostname, process, err, errlen)) ||
	    (rc = caps_json(cs, process, err, errlen)) ||
	    (rc = rlimits_json(cs, process, err, errlen)))
		return rc;
	rc = exec_user_resolve(in->rootfd, user, cs->groups, cs->n_groups, &uid, &gid, &gids,
			       &n_gids, err, errlen);
	if (rc)
		return rc;
	u = json_pack("{s:I,s:I}", "uid", (json_int_t) uid, "gid", (json_int_t) gid);
	if (n_gids) {
		json_t *a = json_array();

		for (size_t i = 0; i < n_gids; i++)
			json_array_append_new(a, json_integer(gids[i]));
		json_object_set_new(u, "additionalGids", a);
	}
	free(gids);
	json_object_set_new(process, "user", u);
	if (!wd || !*wd)
		wd = "/";
	if (exec_clean_path(wd, out->workdir, sizeof(out->workdir)))
		return exec_fail(err, errlen, -EINVAL,
				 "working directory \"%s\" must be an absolute path without ..",
				 wd);
	json_object_set_new(process, "cwd", json_string(out->workdir));
	return 0;
}

int exec_spec_build(const struct exec_spec_in *in, struct exec_spec_out *out, char *err,
		    size_t errlen)
{
	const Shoal__Task *t = in->t;
	const Shoal__ContainerSpec *cs;
	const char *sig;
	json_t *config, *process, *mounts;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!t || !t->meta || !exec_id_valid(t->meta->id))
		return exec_fail(err, errlen, -EINVAL, "task id is missing or invalid");
	if (!t->spec || !(cs = t->spec->container))
		return exec_fail(err, errlen, -EINVAL, "task %s has no container spec",
				 t->meta->id);
	if (cs->tty)
		return exec_fail(err, errlen, -ENOSYS, "tty: true is not supported yet");
	if (cs->init)
		return exec_fail(err, errlen, -ENOSYS, "init: true is not supported yet");
	sig = cs->stop_signal && *cs->stop_signal ? cs->stop_signal : in->img->stop_signal;
	out->shim.stop_signal = sig && *sig ? exec_signal_parse(sig) : SIGTERM;
	if (out->shim.stop_signal < 0)
		return exec_fail(err, errlen, -EINVAL, "stop signal \"%s\" is invalid", sig);

	config = json_object();
	out->config = config;
	json_object_set_new(config, "ociVersion", json_string("1.0.2"));
	process = json_object();
	json_object_set_new(config, "process", process);
	json_object_set_new(config, "root",
			    json_pack("{s:s,s:b}", "path", "rootfs", "readonly", cs->read_only));
	if ((rc = hostname_resolve(in, out->hostname, sizeof(out->hostname), err, errlen)))
		goto fail;
	json_object_set_new(config, "hostname", json_string(out->hostname));
	if ((rc = process_json(in, out, process, err, errlen)) ||
	    (rc = linux_json(in, config, err, errlen)) ||
	    (rc = health_resolve(in, out, err, errlen)))
		goto fail;
	mounts = json_array();
	json_object_set_new(config, "mounts", mounts);
	if ((rc = exec_spec_mounts(in, mounts, err, errlen)))
		goto fail;
	out->hosts = exec_hosts_content(cs, err, errlen);
	out->resolv = exec_resolv_content(cs, err, errlen);
	if (!out->hosts || !out->resolv) {
		rc = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	exec_spec_out_free(out);
	return rc;
}

void exec_spec_out_free(struct exec_spec_out *out)
{
	json_decref(out->config);
	out->config = NULL;
	free(out->hosts);
	free(out->resolv);
	out->hosts = out->resolv = NULL;
	if (out->health_argv)
		for (char **p = out->health_argv; *p; p++)
			free(*p);
	free(out->health_argv);
	out->health_argv = NULL;
}
