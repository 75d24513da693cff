/* Unit tests for worker/executor's OCI config generation (no root needed):
 * args resolution, env merge, users and groups, mounts, secrets targets,
 * limits, hostname, capabilities, signals, hostile inputs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/executor/exec_int.h"

static char tmp[64], rootfs[128], volumes[128];
static int rootfd = -1;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(p);
}

static void put(const char *rel, const char *content)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", rootfs, rel);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
}

static void setup(void)
{
	char p[256];

	snprintf(tmp, sizeof(tmp), "/tmp/test_exec.XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
	snprintf(volumes, sizeof(volumes), "%s/volumes", tmp);
	snprintf(p, sizeof(p), "%s/etc", rootfs);
	cr_assert_eq(mkdir(rootfs, 0755), 0);
	cr_assert_eq(mkdir(p, 0755), 0);
	put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
	put("etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nextra:x:77:\n");
	rootfd = open(rootfs, O_PATH | O_DIRECTORY);
	cr_assert_geq(rootfd, 0);
}

static void teardown(void)
{
	if (rootfd >= 0)
		close(rootfd);
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(exec, .init = setup, .fini = teardown, .timeout = 30);

struct fixture {
	Shoal__Task t;
	Shoal__Meta meta;
	Shoal__TaskSpec spec;
	Shoal__ContainerSpec cs;
	Shoal__ResourceRequirements rr;
	Shoal__Resources lim;
	struct exec_image img;
	struct exec_config c;
	struct exec_spec_out out;
	char err[512];
};

static void fx_init(struct fixture *f)
{
	static char *ep[] = {"/entry"};
	static char *cmd[] = {"default-arg"};
	static char *env[] = {"PATH=/bin", "A=image", "B=image"};

	memset(f, 0, sizeof(*f));
	shoal__task__init(&f->t);
	shoal__meta__init(&f->meta);
	shoal__task_spec__init(&f->spec);
	shoal__container_spec__init(&f->cs);
	f->meta.id = "abcdefghijklmnopqrstuvwxy";
	f->t.meta = &f->meta;
	f->t.spec = &f->spec;
	f->spec.container = &f->cs;
	f->img = (struct exec_image){
	    .entrypoint = ep, .n_entrypoint = 1, .cmd = cmd, .n_cmd = 1, .env = env, .n_env = 3};
	f->c = (struct exec_config){.exec_root = "/run/x", .log_root = "/var/x"};
}

static int fx_build(struct fixture *f, const struct exec_file *files, size_t n)
{
	struct exec_spec_in in = {.t = &f->t,
				  .img = &f->img,
				  .files = files,
				  .n_files = n,
				  .c = &f->c,
				  .bundle = "/run/x/tasks/T",
				  .rootfd = rootfd,
				  .volume_root = volumes};

	return exec_spec_build(&in, &f->out, f->err, sizeof(f->err));
}

static char *args_of(struct fixture *f)
{
	static char buf[512];
	json_t *a = json_object_get(json_object_get(f->out.config, "process"), "args");
	size_t i, n = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(a, i, v) n +=
	    (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", json_string_value(v));
	return buf;
}

Test(exec, args_resolution_table)
{
	struct fixture f;
	char *command[] = {"/bin/cmd", "-x"};
	char *args[] = {"a1", "a2"};

	fx_init(&f); /* image only */
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_str_eq(args_of(&f), "/entry default-arg");
	exec_spec_out_free(&f.out);

	fx_init(&f); /* args replace cmd, keep entrypoint */
	f.cs.args = args;
	f.cs.n_args = 2;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_str_eq(args_of(&f), "/entry a1 a2");
	exec_spec_out_free(&f.out);

	fx_init(&f); /* command replaces entrypoint and drops the image cmd */
	f.cs.command = command;
	f.cs.n_command = 2;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_str_eq(args_of(&f), "/bin/cmd -x");
	exec_spec_out_free(&f.out);

	fx_init(&f); /* command + args */
	f.cs.command = command;
	f.cs.n_command = 2;
	f.cs.args = args;
	f.cs.n_args = 2;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_str_eq(args_of(&f), "/bin/cmd -x a1 a2");
	exec_spec_out_free(&f.out);

	fx_init(&f); /* nothing at all */
	f.img.n_entrypoint = f.img.n_cmd = 0;
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, "no command") != NULL, "%s", f.err);
}

Test(exec, env_merge_spec_wins_and_hostname)
{
	struct fixture f;
	char *env[] = {"B=spec", "C=spec", "A"};
	json_t *e;

	fx_init(&f);
	f.cs.env = env;
	f.cs.n_env = 3;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	e = json_object_get(json_object_get(f.out.config, "process"), "env");
	char *s = json_dumps(e, JSON_COMPACT);
	cr_expect_str_eq(s, "[\"PATH=/bin\",\"HOSTNAME=abcdefghijkl\",\"B=spec\",\"C=spec\"]");
	free(s);
	cr_expect_str_eq(json_string_value(json_object_get(f.out.config, "hostname")),
			 "abcdefghijkl");
	cr_expect_str_eq(f.out.hostname, "abcdefghijkl");
	exec_spec_out_free(&f.out);
}

Test(exec, hostname_templates)
{
	struct fixture f;
	Shoal__Annotations sa;

	fx_init(&f);
	shoal__annotations__init(&sa);
	sa.name = "web";
	f.t.service_annotations = &sa;
	f.t.slot = 3;
	f.cs.hostname = "{{.Service.Name}}-{{ .Task.Slot }}";
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_str_eq(f.out.hostname, "web-3");
	exec_spec_out_free(&f.out);
	f.cs.hostname = "{{.Nope}}";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, ".Nope") != NULL, "%s", f.err);
}

static json_t *user_of(struct fixture *f)
{
	return json_object_get(json_object_get(f->out.config, "process"), "user");
}

Test(exec, user_lookup)
{
	struct fixture f;
	char *groups[] = {"extra", "9"};

	fx_init(&f);
	f.cs.user = "app";
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	char *s = json_dumps(user_of(&f), JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect_str_eq(s, "{\"additionalGids\":[50],\"gid\":1001,\"uid\":1000}");
	free(s);
	exec_spec_out_free(&f.out);

	fx_init(&f);
	f.cs.user = "1000:extra";
	f.cs.groups = groups;
	f.cs.n_groups = 2;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	s = json_dumps(user_of(&f), JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect_str_eq(s, "{\"additionalGids\":[50,77,9],\"gid\":77,\"uid\":1000}");
	free(s);
	exec_spec_out_free(&f.out);

	fx_init(&f); /* numeric, unknown to passwd: Docker allows it, gid 0 */
	f.img.user = "4242";
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_eq(json_integer_value(json_object_get(user_of(&f), "uid")), 4242);
	cr_expect_eq(json_integer_value(json_object_get(user_of(&f), "gid")), 0);
	exec_spec_out_free(&f.out);

	fx_init(&f);
	f.img.user = "ghost";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect_str_eq(f.err, "image user \"ghost\" not found in /etc/passwd");
	fx_init(&f);
	f.cs.user = "app:nogroup";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect_str_eq(f.err, "group \"nogroup\" not found in /etc/group");
}

Test(exec, user_lookup_stays_in_the_rootfs)
{
	struct fixture f;
	char p[256];

	/* An absolute symlink must resolve inside the rootfs, not on the host. */
	snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(symlink("/etc/passwd", p), 0);
	fx_init(&f);
	f.cs.user = "root";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL, "host /etc/passwd was read");
}

static json_t *find_mount(struct fixture *f, const char *dst)
{
	json_t *m = json_object_get(f->out.config, "mounts"), *v;
	size_t i;

	json_array_foreach(
	    m, i,
	    v) if (!strcmp(json_string_value(json_object_get(v, "destination")), dst)) return v;
	return NULL;
}

static char *opts_of(json_t *m)
{
	static char buf[256];

	char *s = json_dumps(json_object_get(m, "options"), JSON_COMPACT);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

Test(exec, mounts_secrets_and_defaults)
{
	struct fixture f;
	Shoal__Mount b, v, t;
	Shoal__Mount__TmpfsOptions to;
	Shoal__Mount *ms[] = {&b, &v, &t};
	struct exec_file files[] = {{.target = "/run/secrets/db"}, {.target = "//cfg/./app.conf"}};
	char p[256];
	struct stat st;

	fx_init(&f);
	shoal__mount__init(&b);
	shoal__mount__init(&v);
	shoal__mount__init(&t);
	shoal__mount__tmpfs_options__init(&to);
	b.type = SHOAL__MOUNT__TYPE__BIND;
	b.source = tmp;
	b.target = "/data/host";
	b.read_only = 1;
	v.type = SHOAL__MOUNT__TYPE__VOLUME;
	v.source = "myvol";
	v.target = "/data";
	t.type = SHOAL__MOUNT__TYPE__TMPFS;
	t.target = "/scratch";
	t.tmpfs_options = &to;
	to.size_bytes = 1048576;
	to.mode = 0700;
	f.cs.mounts = ms;
	f.cs.n_mounts = 3;
	cr_assert_eq(fx_build(&f, files, 2), 0, "%s", f.err);

	cr_expect_str_eq(opts_of(find_mount(&f, "/data/host")), "[\"rbind\",\"rprivate\",\"ro\"]");
	cr_expect_str_eq(json_string_value(json_object_get(find_mount(&f, "/data/host"), "source")),
			 tmp);
	snprintf(p, sizeof(p), "%s/myvol/_data", volumes);
	cr_expect_str_eq(json_string_value(json_object_get(find_mount(&f, "/data"), "source")), p);
	cr_expect_eq(stat(p, &st), 0, "volume dir created");
	cr_expect_str_eq(
	    opts_of(find_mount(&f, "/scratch")),
	    "[\"nosuid\",\"nodev\",\"noexec\",\"rprivate\",\"mode=700\",\"size=1048576\"]");
	cr_expect_str_eq(
	    json_string_value(json_object_get(find_mount(&f, "/run/secrets/db"), "source")),
	    "/run/x/tasks/T/secrets/0");
	cr_expect_str_eq(opts_of(find_mount(&f, "/run/secrets/db")),
			 "[\"bind\",\"rprivate\",\"ro\",\"nosuid\",\"nodev\",\"noexec\"]");
	cr_expect_not_null(find_mount(&f, "/cfg/app.conf"), "target normalized");
	cr_expect_not_null(find_mount(&f, "/etc/resolv.conf"));
	cr_expect_not_null(find_mount(&f, "/etc/hosts"));
	cr_expect_str_eq(opts_of(find_mount(&f, "/sys")),
			 "[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]");
	cr_expect_not_null(find_mount(&f, "/dev/shm"));
	cr_expect_not_null(find_mount(&f, "/sys/fs/cgroup"));
	/* Parents before children: /data before /data/host. */
	json_t *m = json_object_get(f.out.config, "mounts"), *x;
	size_t i, at_data = 0, at_host = 0;
	json_array_foreach(m, i, x)
	{
		const char *d = json_string_value(json_object_get(x, "destination"));
		if (!strcmp(d, "/data"))
			at_data = i;
		if (!strcmp(d, "/data/host"))
			at_host = i;
	}
	cr_expect_lt(at_data, at_host);
	cr_expect_str_eq(f.out.resolv, "nameserver 127.0.0.11\noptions ndots:0\n");
	cr_expect(strstr(f.out.hosts, "127.0.0.1\tlocalhost\n") != NULL);
	exec_spec_out_free(&f.out);
}

Test(exec, hostile_mount_and_secret_targets)
{
	struct fixture f;
	Shoal__Mount m;
	Shoal__Mount *ms[] = {&m};
	const char *bad_targets[] = {"relative/path", "/a/../../etc", "/", ""};
	const char *bad_secrets[] = {"/run/secrets/../../etc/shadow", "db", "/", "/x/.."};

	for (size_t i = 0; i < 4; i++) {
		fx_init(&f);
		shoal__mount__init(&m);
		m.type = SHOAL__MOUNT__TYPE__TMPFS;
		m.target = (char *) bad_targets[i];
		f.cs.mounts = ms;
		f.cs.n_mounts = 1;
		cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL, "target %s accepted", bad_targets[i]);
		cr_expect(strstr(f.err, "target") != NULL, "%s", f.err);
	}
	for (size_t i = 0; i < 4; i++) {
		struct exec_file file = {.target = bad_secrets[i]};
		fx_init(&f);
		cr_expect_eq(fx_build(&f, &file, 1), -EINVAL, "secret %s accepted", bad_secrets[i]);
	}
	fx_init(&f); /* bind with a relative or missing source */
	shoal__mount__init(&m);
	m.type = SHOAL__MOUNT__TYPE__BIND;
	m.source = "rel";
	m.target = "/x";
	f.cs.mounts = ms;
	f.cs.n_mounts = 1;
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	m.source = "/no/such/dir/anywhere";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, "does not exist") != NULL, "%s", f.err);
	m.type = SHOAL__MOUNT__TYPE__VOLUME; /* volume names cannot escape */
	m.source = "../../etc";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	/* Duplicates. */
	Shoal__Mount m2;
	Shoal__Mount *ms2[] = {&m, &m2};
	shoal__mount__init(&m2);
	m.type = m2.type = SHOAL__MOUNT__TYPE__TMPFS;
	m2.target = "/x/";
	f.cs.mounts = ms2;
	f.cs.n_mounts = 2;
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, "duplicate mount point") != NULL, "%s", f.err);
}

Test(exec, limits_caps_cgroup_namespaces)
{
	struct fixture f;
	char *add[] = {"NET_ADMIN"}, *drop[] = {"cap_mknod", "ALL"};
	json_t *lx, *res;

	fx_init(&f);
	shoal__resource_requirements__init(&f.rr);
	shoal__resources__init(&f.lim);
	f.rr.limits = &f.lim;
	f.spec.resources = &f.rr;
	f.lim.memory_bytes = 64 << 20;
	f.lim.nano_cpus = 1500000000;
	f.lim.pids = 100;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	lx = json_object_get(f.out.config, "linux");
	res = json_object_get(lx, "resources");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
		     64 << 20);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
		     150000);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")),
		     100000);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")),
		     100);
	cr_expect_str_eq(json_string_value(json_object_get(lx, "cgroupsPath")),
			 "/shoal/abcdefghijklmnopqrstuvwxy");
	char *ns = json_dumps(json_object_get(lx, "namespaces"), JSON_COMPACT);
	cr_expect_str_eq(ns, "[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
			     "{\"type\":\"uts\"},{\"type\":\"mount\"}]");
	free(ns);
	json_t *caps = json_object_get(
	    json_object_get(json_object_get(f.out.config, "process"), "capabilities"), "bounding");
	cr_expect_eq(json_array_size(caps), 14, "Docker's 14 default capabilities");
	exec_spec_out_free(&f.out);

	fx_init(&f); /* drop ALL + add one */
	f.cs.capability_add = add;
	f.cs.n_capability_add = 1;
	f.cs.capability_drop = drop;
	f.cs.n_capability_drop = 2;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	char *s =
	    json_dumps(json_object_get(json_object_get(json_object_get(f.out.config, "process"),
						       "capabilities"),
				       "effective"),
		       JSON_COMPACT);
	cr_expect_str_eq(s, "[\"CAP_NET_ADMIN\"]");
	free(s);
	exec_spec_out_free(&f.out);

	fx_init(&f);
	char *bogus[] = {"CAP_FLY"};
	f.cs.capability_add = bogus;
	f.cs.n_capability_add = 1;
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, "CAP_FLY") != NULL);

	fx_init(&f);
	shoal__resource_requirements__init(&f.rr);
	shoal__resources__init(&f.lim);
	f.rr.limits = &f.lim;
	f.spec.resources = &f.rr;
	f.lim.nano_cpus = 1000; /* far below 0.01 CPU */
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	cr_expect(strstr(f.err, "nano_cpus") != NULL, "%s", f.err);
}

Test(exec, signals_health_and_unsupported)
{
	struct fixture f;
	Shoal__HealthConfig hc;
	char *test[] = {"CMD-SHELL", "curl -f localhost"};
	char *none[] = {"NONE"};
	char *img_test[] = {"CMD", "/bin/check", "--fast"};

	cr_expect_eq(exec_signal_parse("SIGTERM"), SIGTERM);
	cr_expect_eq(exec_signal_parse("kill"), SIGKILL);
	cr_expect_eq(exec_signal_parse("10"), 10);
	cr_expect_eq(exec_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
	cr_expect_eq(exec_signal_parse("SIGNOPE"), -EINVAL);
	cr_expect_eq(exec_signal_parse("0"), -EINVAL);

	fx_init(&f);
	f.img.stop_signal = "SIGQUIT";
	f.img.health = (struct exec_health){.test = img_test, .n_test = 3, .retries = 5};
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_eq(f.out.shim.stop_signal, SIGQUIT);
	cr_expect_eq(f.out.shim.has_health, 1);
	cr_expect_str_eq(f.out.health_argv[0], "/bin/check");
	cr_expect_str_eq(f.out.health_argv[1], "--fast");
	cr_expect_null(f.out.health_argv[2]);
	cr_expect_eq(f.out.shim.health_interval, 30000000000LL);
	cr_expect_eq(f.out.shim.health_retries, 5);
	exec_spec_out_free(&f.out);

	shoal__health_config__init(&hc);
	hc.test = test;
	hc.n_test = 2;
	hc.interval = 1000000000;
	f.cs.healthcheck = &hc;
	f.cs.stop_signal = "USR1";
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_eq(f.out.shim.stop_signal, SIGUSR1);
	cr_expect_str_eq(f.out.health_argv[0], "/bin/sh");
	cr_expect_str_eq(f.out.health_argv[2], "curl -f localhost");
	cr_expect_eq(f.out.shim.health_interval, 1000000000LL);
	cr_expect_eq(f.out.shim.health_retries, 5, "retries inherited from the image");
	exec_spec_out_free(&f.out);

	hc.test = none;
	hc.n_test = 1;
	cr_assert_eq(fx_build(&f, NULL, 0), 0, "%s", f.err);
	cr_expect_null(f.out.health_argv);
	exec_spec_out_free(&f.out);

	f.cs.stop_signal = "SIGBOGUS";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
	f.cs.stop_signal = NULL;
	f.cs.tty = 1;
	cr_expect_eq(fx_build(&f, NULL, 0), -ENOSYS);
	f.cs.tty = 0;
	f.meta.id = "../../etc";
	cr_expect_eq(fx_build(&f, NULL, 0), -EINVAL);
}

Test(exec, clean_path)
{
	char out[64];

	cr_assert_eq(exec_clean_path("//a/./b//", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/a/b");
	cr_expect_eq(exec_clean_path("/a/../b", out, sizeof(out)), -EINVAL);
	cr_expect_eq(exec_clean_path("a/b", out, sizeof(out)), -EINVAL);
	cr_expect_eq(exec_clean_path("/..", out, sizeof(out)), -EINVAL);
	cr_assert_eq(exec_clean_path("/", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "/");
}
