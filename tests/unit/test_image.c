/* worker/image: references, loading docker save and OCI archives, digest
 * and diff_id checks, runtime info, concurrent unpacking, remove/untag. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/xattr.h>

#include "test_image.h"

static char dir[64];
static char tar_path[128];
static struct img_store *st;
static char err[IMG_ERRMSG_LEN];

static int used_flag;
static int in_use(void *arg, const char *id)
{
	return used_flag;
}

static void setup(void)
{
	struct img_store_opts o = {.in_use = in_use};
	char root[128];

	snprintf(dir, sizeof(dir), "/tmp/shoal-img-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/store", dir);
	snprintf(tar_path, sizeof(tar_path), "%s/in.tar", dir);
	used_flag = 0;
	cr_assert_eq(img_store_open(root, &o, &st, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	img_store_close(st);
	img_rm_rf(dir);
}

TestSuite(image, .init = setup, .fini = teardown, .timeout = 60);

static const struct tent base_files[] = {
    {'d', "./bin", NULL, 0, 0755},
    {'f', "./bin/hello", "#!/bin/sh\necho hi\n", 0, 0755},
    {'d', "etc", NULL, 0, 0},
    {'f', "etc/passwd", "root:x:0:0::/:/bin/sh\n", 0, 0},
    {'l', "etc/link", "../bin/hello", 0, 0},
    {'h', "etc/passwd2", "etc/passwd", 0, 0},
    {'p', "etc/fifo", NULL, 0, 0},
    {'d', "d", NULL, 0, 0},
    {'f', "d/old", "old", 0, 0},
    {'f', "gone", "x", 0, 0},
};

static char *read_text(const char *path)
{
	char *s = NULL;
	size_t n;

	if (img_read_file(path, 1 << 20, &s, &n) != 0)
		return NULL;
	return s;
}

/* ---- references -------------------------------------------------------- */

Test(image, ref_table)
{
	static const struct {
		const char *in, *full, *familiar;
	} ok[] = {
	    {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
	    {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
	    {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
	    {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
	    {"index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x"},
	    {"team/app:v1", "docker.io/team/app:v1", "team/app:v1"},
	    {"host:5000/team/app:tag", "host:5000/team/app:tag", "host:5000/team/app:tag"},
	    {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
	    {"127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest",
	     "127.0.0.1:5000/busybox:latest"},
	    {"a.b/c_d.e__f-g--h", "a.b/c_d.e__f-g--h:latest", "a.b/c_d.e__f-g--h:latest"},
	    {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "docker.io/library/"
	     "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	    {"h:1/x:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "h:1/x:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "h:1/x:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"", "empty"},
	    {"Busybox", "must be lowercase"},
	    {"busybox:", "invalid tag"},
	    {"busybox:-x", "invalid tag"},
	    {"bu--sy_.box", "invalid name"},
	    {"a//b", "invalid name"},
	    {"busybox@sha256:123", "invalid digest"},
	    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     "64-byte hexadecimal"},
	    {"host:port/x", "invalid domain"},
	    {"x/", "invalid name"},
	};
	struct img_ref r;
	char out[600];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(img_ref_parse(ok[i].in, &r, err, sizeof(err)), 0, "%s: %s", ok[i].in,
			     err);
		img_ref_full(&r, out, sizeof(out));
		cr_expect_str_eq(out, ok[i].full, "%s", ok[i].in);
		img_ref_familiar(&r, out, sizeof(out));
		cr_expect_str_eq(out, ok[i].familiar, "%s", ok[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_expect_eq(img_ref_parse(bad[i].in, &r, err, sizeof(err)), -EINVAL, "%s",
			     bad[i].in);
		cr_expect(strstr(err, bad[i].why), "%s: got \"%s\"", bad[i].in, err);
	}
}

/* ---- load ------------------------------------------------------------------ */

static void load_ok(const char *want_line)
{
	char **lines = NULL;

	cr_assert_eq(img_load_path(st, tar_path, &lines, err, sizeof(err)), 0, "%s", err);
	cr_assert(lines && lines[0]);
	cr_expect_str_eq(lines[0], want_line);
	img_strv_free(lines);
}

static void load_fails(int code, const char *why)
{
	char **lines = NULL;
	int rv;

	err[0] = 0;
	rv = img_load_path(st, tar_path, &lines, err, sizeof(err));
	cr_expect_eq(rv, code, "rv %d (%s), want %d", rv, err, code);
	cr_expect(strstr(err, why), "error \"%s\" lacks \"%s\"", err, why);
	cr_expect_null(lines);
}

Test(image, load_docker_save_and_runtime)
{
	struct tlayer l = layer_make(base_files, sizeof(base_files) / sizeof(base_files[0]), 0);
	struct img_runtime rt;
	struct img_info *list;
	size_t n;
	struct stat sb;
	char p[512], *s;

	docker_archive(tar_path, &l, 1, "[\"busybox:latest\",\"me/app:1\"]", NULL);
	load_ok("Loaded image: busybox:latest");
	cr_assert_eq(img_get_runtime(st, "busybox", &rt, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(rt.cmd[0], "sh");
	cr_expect_str_eq(rt.env[0], "PATH=/bin");
	cr_expect_str_eq(rt.working_dir, "/w");
	cr_expect_str_eq(rt.stop_signal, "SIGQUIT");
	cr_expect_str_eq(rt.exposed_ports[0], "80/tcp");
	cr_expect_str_eq(rt.health.test[1], "true");
	cr_expect_eq(rt.health.interval_ns, 5000000000);
	cr_expect_eq(rt.health.retries, 3);
	cr_assert_eq(rt.n_layers, 1);
	snprintf(p, sizeof(p), "%s/bin/hello", rt.layers[0]);
	cr_assert_eq(stat(p, &sb), 0, "%s missing", p);
	cr_expect_eq(sb.st_mode & 07777, 0755);
	s = read_text(p);
	cr_expect_str_eq(s, "#!/bin/sh\necho hi\n");
	free(s);
	snprintf(p, sizeof(p), "%s/etc/link", rt.layers[0]);
	cr_assert_eq(lstat(p, &sb), 0);
	cr_expect(S_ISLNK(sb.st_mode));
	snprintf(p, sizeof(p), "%s/etc/passwd2", rt.layers[0]);
	cr_assert_eq(stat(p, &sb), 0);
	cr_expect_eq(sb.st_nlink, 2);
	snprintf(p, sizeof(p), "%s/etc/fifo", rt.layers[0]);
	cr_assert_eq(lstat(p, &sb), 0);
	cr_expect(S_ISFIFO(sb.st_mode));
	img_runtime_free(&rt);

	cr_assert_eq(img_list(st, &list, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(list[0].repo_tags[0], "docker.io/library/busybox:latest");
	cr_expect_str_eq(list[0].repo_tags[1], "docker.io/me/app:1");
	cr_expect_eq(list[0].created, 1704164645);
	cr_expect_gt(list[0].size, 0);
	cr_expect(img_digest_valid(list[0].manifest));
	/* Lookups: name:tag, full ref, id, unique id prefix. */
	const char *refs[] = {
	    "me/app:1", "docker.io/library/busybox:latest", list[0].id, list[0].id + 7, "", NULL};
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%.10s", list[0].id + 7);
	refs[4] = prefix;
	for (size_t i = 0; refs[i]; i++) {
		struct img_info info;
		cr_assert_eq(img_inspect(st, refs[i], &info, err, sizeof(err)), 0, "%s: %s",
			     refs[i], err);
		cr_expect_str_eq(info.id, list[0].id);
		cr_expect(json_is_object(info.config));
		img_info_free(&info);
	}
	img_info_free_array(list, n);
	struct img_info info;
	cr_expect_eq(img_inspect(st, "nope", &info, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "No such image: nope");
	buf_free(&l.blob);
}

Test(image, load_oci_gzip_two_layers_with_whiteouts)
{
	static const struct tent upper[] = {
	    {'f', ".wh.gone", "", 0, 0},
	    {'d', "d", NULL, 0, 0},
	    {'f', "d/.wh..wh..opq", "", 0, 0},
	    {'f', "d/new", "new", 0, 0},
	};
	struct tlayer l[2] = {
	    layer_make(base_files, sizeof(base_files) / sizeof(base_files[0]), 1),
	    layer_make(upper, 4, 1),
	};
	struct img_runtime rt;
	struct stat sb;
	char p[512], x[4] = "";

	oci_archive(tar_path, l, 2, "registry.local:5000/team/web:v2", 0);
	load_ok("Loaded image: registry.local:5000/team/web:v2");
	cr_assert_eq(img_get_runtime(st, "registry.local:5000/team/web:v2", &rt, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(rt.n_layers, 2);
	snprintf(p, sizeof(p), "%s/gone", rt.layers[1]);
	cr_assert_eq(lstat(p, &sb), 0, "whiteout missing");
	cr_expect(S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0));
	snprintf(p, sizeof(p), "%s/.wh.gone", rt.layers[1]);
	cr_expect_neq(lstat(p, &sb), 0, "the .wh. file itself must not be extracted");
	snprintf(p, sizeof(p), "%s/d", rt.layers[1]);
	cr_expect_eq(getxattr(p, "trusted.overlay.opaque", x, sizeof(x)), 1);
	cr_expect_eq(x[0], 'y');
	snprintf(p, sizeof(p), "%s/d/.wh..wh..opq", rt.layers[1]);
	cr_expect_neq(lstat(p, &sb), 0);
	img_runtime_free(&rt);
	/* Loading again is cheap and idempotent. */
	load_ok("Loaded image: registry.local:5000/team/web:v2");
	buf_free(&l[0].blob);
	buf_free(&l[1].blob);
}

Test(image, digest_mismatch_refused)
{
	struct tlayer l = layer_make(base_files, 4, 1);

	oci_archive(tar_path, &l, 1, "x:1", 1);
	load_fails(-EBADMSG, "digest mismatch");
	buf_free(&l.blob);
}

Test(image, missing_blob_refused)
{
	struct tlayer l = layer_make(base_files, 4, 1);

	oci_archive(tar_path, &l, 1, "x:1", 2);
	load_fails(-ENOENT, "is missing from the archive");
	buf_free(&l.blob);
}

Test(image, diff_id_mismatch_refused)
{
	struct tlayer l = layer_make(base_files, 4, 0);
	struct stat sb;
	char p[256];

	docker_archive(tar_path, &l, 1, "[\"x:1\"]",
		       "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	load_fails(-EBADMSG, "diff_id mismatch");
	snprintf(p, sizeof(p), "%s/store/layers/%s", dir, l.diff_id + 7);
	cr_expect_neq(stat(p, &sb), 0, "a rejected layer must not stay");
	buf_free(&l.blob);
}

Test(image, non_json_manifest_refused)
{
	struct tfile f[1] = {tf("manifest.json", "this is not json", 16)};

	archive_files(tar_path, f, 1);
	tfiles_free(f, 1);
	load_fails(-EINVAL, "manifest.json is not a JSON array");
}

Test(image, not_an_image_archive_refused)
{
	struct tfile f[1] = {tf("hello.txt", "hi", 2)};

	archive_files(tar_path, f, 1);
	tfiles_free(f, 1);
	load_fails(-EINVAL, "neither manifest.json nor index.json");
}

Test(image, archive_entry_escaping_refused)
{
	struct tfile f[1] = {tf("../manifest.json", "[]", 2)};

	archive_files(tar_path, f, 1);
	tfiles_free(f, 1);
	load_fails(-EPERM, "escapes the archive root");
}

/* ---- remove ---------------------------------------------------------------- */

Test(image, remove_untags_then_deletes)
{
	struct tlayer l = layer_make(base_files, 4, 0);
	char **u = NULL, **d = NULL, p[256], id[72];
	struct img_info info;
	struct stat sb;

	docker_archive(tar_path, &l, 1, "[\"busybox:latest\",\"busybox:two\"]", NULL);
	load_ok("Loaded image: busybox:latest");
	cr_assert_eq(img_inspect(st, "busybox", &info, err, sizeof(err)), 0);
	snprintf(id, sizeof(id), "%s", info.id);
	img_info_free(&info);

	/* By id with two tags: conflict. */
	cr_expect_eq(img_remove(st, id, 0, &u, &d, err, sizeof(err)), -EEXIST);
	cr_expect(strstr(err, "must be forced") && strstr(err, "multiple repositories"), "%s", err);
	/* Untag one: the image stays. */
	cr_assert_eq(img_remove(st, "busybox:two", 0, &u, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(u[0], "busybox:two");
	cr_expect_null(d);
	img_strv_free(u);
	/* The last tag of an image a task uses: conflict unless forced. */
	used_flag = 1;
	cr_expect_eq(img_remove(st, "busybox", 0, &u, &d, err, sizeof(err)), -EEXIST);
	cr_expect(strstr(err, "a task is using"), "%s", err);
	cr_assert_eq(img_remove(st, "busybox", 1, &u, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(u[0], "busybox:latest");
	cr_assert(d);
	cr_expect_str_eq(d[0], id);
	img_strv_free(u);
	img_strv_free(d);
	cr_expect_eq(img_inspect(st, id, &info, err, sizeof(err)), -ENOENT);
	snprintf(p, sizeof(p), "%s/store/layers/%s", dir, l.diff_id + 7);
	cr_expect_neq(stat(p, &sb), 0, "layer dir must go with the image");
	snprintf(p, sizeof(p), "%s/store/blobs/sha256/%s", dir, id + 7);
	cr_expect_neq(stat(p, &sb), 0, "config blob must go with the image");
	cr_expect_eq(img_remove(st, "busybox", 0, NULL, NULL, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "No such image: busybox");
	buf_free(&l.blob);
}

Test(image, shared_layer_survives_removal_of_one_image)
{
	struct tlayer l = layer_make(base_files, 4, 0);
	static const struct tent more[] = {{'f', "more", "m", 0, 0}};
	struct tlayer l2[2] = {layer_make(base_files, 4, 0), layer_make(more, 1, 0)};
	struct img_runtime rt;

	docker_archive(tar_path, &l, 1, "[\"a:1\"]", NULL);
	load_ok("Loaded image: a:1");
	docker_archive(tar_path, l2, 2, "[\"b:1\"]", NULL);
	load_ok("Loaded image: b:1");
	cr_assert_eq(img_remove(st, "a:1", 0, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img_get_runtime(st, "b:1", &rt, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rt.n_layers, 2);
	img_runtime_free(&rt);
	buf_free(&l.blob);
	buf_free(&l2[0].blob);
	buf_free(&l2[1].blob);
}

/* ---- concurrency ----------------------------------------------------------- */

static void *load_thread(void *arg)
{
	char e[IMG_ERRMSG_LEN], **lines = NULL;
	intptr_t rv = img_load_path(st, arg, &lines, e, sizeof(e));

	img_strv_free(lines);
	return (void *) rv;
}

Test(image, concurrent_loads_of_the_same_layer)
{
	struct tlayer l = layer_make(base_files, sizeof(base_files) / sizeof(base_files[0]), 1);
	pthread_t t[4];
	char paths[4][160], p[256];
	struct img_runtime rt;
	void *rv;

	for (int i = 0; i < 4; i++) {
		char tag[32];
		snprintf(paths[i], sizeof(paths[i]), "%s/in%d.tar", dir, i);
		snprintf(tag, sizeof(tag), "[\"c:%d\"]", i);
		docker_archive(paths[i], &l, 1, tag, NULL);
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, load_thread, paths[i]);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rv);
		cr_expect_eq((intptr_t) rv, 0, "thread %d failed", i);
	}
	cr_assert_eq(img_get_runtime(st, "c:3", &rt, err, sizeof(err)), 0, "%s", err);
	snprintf(p, sizeof(p), "%s/bin/hello", rt.layers[0]);
	char *s = read_text(p);
	cr_expect_str_eq(s, "#!/bin/sh\necho hi\n");
	free(s);
	img_runtime_free(&rt);
	/* No staging left behind. */
	snprintf(p, sizeof(p), "%s/store/tmp", dir);
	DIR *dp = opendir(p);
	struct dirent *de;
	int left = 0;
	while (dp && (de = readdir(dp)))
		left += de->d_name[0] != '.';
	if (dp)
		closedir(dp);
	cr_expect_eq(left, 0, "tmp/ not empty");
	buf_free(&l.blob);
}

/* ---- a real image ----------------------------------------------------------- */

Test(image, mkimage_busybox_loads, .timeout = 120)
{
	const char *tool = "/work/shared/tools/mkimage-busybox.sh";
	char cmd[512], p[512];
	struct img_runtime rt;
	struct stat sb;

	if (access(tool, X_OK) != 0 || access("/bin/busybox", X_OK) != 0)
		cr_skip_test("mkimage-busybox.sh or busybox-static missing");
	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", tool, tar_path);
	cr_assert_eq(system(cmd), 0, "mkimage-busybox.sh failed");
	load_ok("Loaded image: busybox:latest");
	cr_assert_eq(img_get_runtime(st, "busybox:latest", &rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rt.n_layers, 1);
	snprintf(p, sizeof(p), "%s/bin/busybox", rt.layers[0]);
	cr_expect_eq(stat(p, &sb), 0);
	cr_expect(sb.st_mode & 0100);
	snprintf(p, sizeof(p), "%s/bin/sh", rt.layers[0]);
	cr_expect_eq(lstat(p, &sb), 0);
	cr_expect(S_ISLNK(sb.st_mode));
	snprintf(p, sizeof(p), "%s/tmp", rt.layers[0]);
	cr_expect_eq(stat(p, &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, 01777);
	cr_expect_str_eq(rt.cmd[0], "sh");
	img_runtime_free(&rt);
}
