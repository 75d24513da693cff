/* worker/image: hostile layers are refused with a clear message and write
 * nothing outside the store: `..`, absolute names, writes through a
 * symlink, hard links out, device nodes, huge entry headers, gzip bombs,
 * too many entries, truncated tars. */
#include <errno.h>

#include "test_image.h"

static char dir[64], tar_path[128], outside[128];
static struct img_store *st;
static char err[IMG_ERRMSG_LEN];

static void setup(void)
{
	struct img_store_opts o = {
	    .limits = {.max_entry_bytes = 1 << 20, .max_layer_bytes = 2 << 20, .max_entries = 100}};
	char root[128];

	snprintf(dir, sizeof(dir), "/tmp/shoal-imgh-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/store", dir);
	snprintf(tar_path, sizeof(tar_path), "%s/in.tar", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	cr_assert_eq(mkdir(outside, 0755), 0);
	cr_assert_eq(img_store_open(root, &o, &st, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	img_store_close(st);
	img_rm_rf(dir);
}

TestSuite(image_hostile, .init = setup, .fini = teardown, .timeout = 60);

/* Loads an image whose only layer is `tar` (config diff_id correct), and
 * expects refusal with `why`. */
static void refuse_layer(struct buf *tar, int gzip, int code, const char *why)
{
	struct tlayer l;
	char **lines = NULL;
	int rv;

	img_hash_buf(tar->data, tar->len, l.diff_id);
	l.blob = gzip ? gz_build(tar) : *tar;
	img_hash_buf(l.blob.data, l.blob.len, l.digest);
	docker_archive(tar_path, &l, 1, "[\"evil:1\"]", NULL);
	err[0] = 0;
	rv = img_load_path(st, tar_path, &lines, err, sizeof(err));
	cr_expect_eq(rv, code, "rv %d (%s), want %d", rv, err, code);
	cr_expect(strstr(err, why), "error \"%s\" lacks \"%s\"", err, why);
	cr_expect_null(lines);
	if (gzip)
		buf_free(&l.blob);
	buf_free(tar);
	/* Nothing staged survives a refusal, nothing reached `outside`. */
	char p[256];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/pwned", outside);
	cr_expect_neq(lstat(p, &sb), 0, "wrote outside the layer");
	struct img_info info;
	cr_expect_eq(img_inspect(st, "evil:1", &info, err, sizeof(err)), -ENOENT);
}

static void refuse(const struct tent *e, size_t n, const char *why)
{
	struct buf b = tar_build(e, n);

	refuse_layer(&b, 0, -EPERM, why);
}

Test(image_hostile, dotdot)
{
	struct tent e[] = {{'f', "a/../../pwned", "x", 0, 0}};

	refuse(e, 1, "path escapes the layer root");
}

Test(image_hostile, absolute)
{
	char name[160];
	snprintf(name, sizeof(name), "%s/pwned", outside);
	struct tent e[] = {{'f', name, "x", 0, 0}};

	refuse(e, 1, "path escapes the layer root");
}

Test(image_hostile, write_through_symlink)
{
	struct tent e[] = {{'l', "a", outside, 0, 0}, {'f', "a/pwned", "x", 0, 0}};

	refuse(e, 2, "refusing to write through a symlink");
}

Test(image_hostile, write_through_relative_symlink_dir)
{
	struct tent e[] = {{'d', "d", NULL, 0, 0},
			   {'l', "d/up", "../../../../../../..", 0, 0},
			   {'f', "d/up/pwned", "x", 0, 0}};

	refuse(e, 3, "refusing to write through a symlink");
}

Test(image_hostile, hardlink_outside)
{
	struct tent e[] = {{'h', "x", "../../etc/passwd", 0, 0}};

	refuse(e, 1, "hard link target escapes the layer");
}

Test(image_hostile, hardlink_through_symlink)
{
	struct tent e[] = {{'l', "a", "/etc", 0, 0}, {'h', "x", "a/passwd", 0, 0}};

	refuse(e, 2, "refusing to write through a symlink");
}

Test(image_hostile, char_device)
{
	struct tent e[] = {{'c', "dev/mem", NULL, 0, 0}};

	refuse(e, 1, "device nodes are not allowed");
}

Test(image_hostile, malformed_whiteout)
{
	struct tent e[] = {{'f', ".wh...", "", 0, 0}};

	refuse(e, 1, "malformed whiteout");
}

/* A ustar header claiming `size` (octal text) with no data behind it. */
static struct buf raw_header(const char *name, const char *size_octal)
{
	struct buf b = BUF_INIT;
	uint8_t h[512] = {0};
	unsigned sum = 0;

	snprintf((char *) h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *) h + 124, 12, "%s", size_octal);
	memcpy(h + 136, "14000000000", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *) h + 148, 8, "%06o", sum);
	buf_append(&b, h, 512);
	memset(h, 0, sizeof(h));
	buf_append(&b, h, 512);
	buf_append(&b, h, 512);
	return b;
}

Test(image_hostile, oversized_entry_header)
{
	struct buf b = raw_header("big", "77777777777");

	refuse_layer(&b, 0, -EMSGSIZE, "entry size exceeds the per-file bound");
}

Test(image_hostile, gzip_bomb_bounded)
{
	/* 5 x 512 KiB of zeros: each file within the per-file bound, the
	 * layer (2 MiB bound) not; gzipped it is a few KiB. */
	static char zeros[512 << 10];
	struct tent e[5];
	char names[5][8];

	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof(names[i]), "z%d", i);
		e[i] = (struct tent){'f', names[i], zeros, sizeof(zeros), 0};
	}
	struct buf b = tar_build(e, 5);
	refuse_layer(&b, 1, -EMSGSIZE, "uncompressed layer exceeds");
}

Test(image_hostile, too_many_entries)
{
	struct tent e[150];
	char names[150][8];

	for (int i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		e[i] = (struct tent){'f', names[i], "x", 0, 0};
	}
	struct buf b = tar_build(e, 150);
	refuse_layer(&b, 0, -EMSGSIZE, "more than 100 entries");
}

Test(image_hostile, truncated_tar)
{
	static char data[4096];
	struct tent e[] = {{'f', "big", data, sizeof(data), 0}};
	struct buf b;

	memset(data, 'a', sizeof(data));
	b = tar_build(e, 1);
	b.len = 512 + 1000;
	refuse_layer(&b, 0, -EINVAL, "Truncated");
}
