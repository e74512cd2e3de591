/* io/local: a file written in pieces of every size (gathered small ones,
 * large ones split into 1 MiB writes) reads back byte for byte, and the
 * publishing rules: nothing visible before commit, put-if-absent refuses an
 * existing name, abort leaves nothing. */
#include <dirent.h>
#include <stdint.h>

#include "io/io.h"
#include "teavec.h"
#include "tv_test.h"

/* Entries of dir whose name contains part. */
static int entries_with(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strstr(e->d_name, part) != NULL;
	closedir(d);
	return n;
}

static void test_pieces_of_every_size_read_back_exactly(void)
{
	/* sizes around the 64 KiB gather buffer and the 1 MiB write piece */
	static const size_t sizes[] = {1,           100,         (64u << 10) - 1, 64u << 10,
	                               3,           (1u << 20) - 7, 1u << 20,    (1u << 20) + 1,
	                               5,           (5u << 20) + 4093, 17,      (3u << 20)};
	char dir[4096];
	size_t total = 0, at = 0, n = 0;
	uint8_t *src, *back = NULL;
	tv_io *io = NULL;
	tv_wfile *w = NULL;
	tv_err err;
	char path[4200];
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		total += sizes[i];
	snprintf(dir, sizeof dir, "%s", tv_test_tmpdir("io_local_pieces"));
	REQUIRE((src = malloc(total)));
	for (size_t i = 0; i < total; i++) /* no period that a piece size divides */
		src[i] = (uint8_t)((i * 2654435761u) >> 13);
	REQUIRE(tv_io_open(&io, dir, &err) == 0);
	REQUIRE(tv_io_open_write(io, "sub/data.bin", &w, &err) == 0);
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		CHECK(tv_wfile_write(w, src + at, sizes[i], &err) == 0);
		at += sizes[i];
	}
	CHECK_EQ_INT(w->written, total);
	snprintf(path, sizeof path, "%s/sub/data.bin", dir);
	CHECK(access(path, F_OK) != 0); /* not visible before commit */
	snprintf(path, sizeof path, "%s/sub", dir);
	CHECK_EQ_INT(entries_with(path, ".tmp-"), 1);
	REQUIRE(tv_wfile_commit(w, 0, &err) == 0);
	REQUIRE(tv_io_read_all(io, "sub/data.bin", &back, &n, &err) == 0);
	CHECK_EQ_INT(n, total);
	CHECK(n == total && memcmp(back, src, total) == 0);
	CHECK_EQ_INT(entries_with(path, ".tmp-"), 0);
	free(back);
	free(src);
	tv_io_free(io);
}

static void test_put_if_absent_and_abort_publish_nothing_wrong(void)
{
	const char *dir = tv_test_tmpdir("io_local_publish");
	size_t big = (2u << 20) + 5, n = 0;
	uint8_t *a = malloc(big), *b = malloc(big), *back = NULL;
	tv_io *io = NULL;
	tv_wfile *w = NULL;
	tv_err err;
	REQUIRE(a && b);
	memset(a, 0x11, big);
	memset(b, 0x22, big);
	REQUIRE(tv_io_open(&io, dir, &err) == 0);
	CHECK(tv_io_put(io, "v/1.manifest", a, big, TV_IO_PUT_IF_ABSENT, &err) == 0);
	/* the second writer of the same name loses, and the first one's bytes stay */
	CHECK_EQ_INT(tv_io_put(io, "v/1.manifest", b, big, TV_IO_PUT_IF_ABSENT, &err), TV_EEXISTS);
	CHECK(strstr(err.msg, "1.manifest") != NULL);
	REQUIRE(tv_io_read_all(io, "v/1.manifest", &back, &n, &err) == 0);
	CHECK(n == big && memcmp(back, a, big) == 0);
	free(back);
	/* an aborted large write leaves neither the file nor its temporary */
	REQUIRE(tv_io_open_write(io, "v/2.manifest", &w, &err) == 0);
	CHECK(tv_wfile_write(w, b, big, &err) == 0);
	tv_wfile_abort(w);
	{
		char path[4200];
		snprintf(path, sizeof path, "%s/v", dir);
		CHECK_EQ_INT(entries_with(path, "2.manifest"), 0);
		CHECK_EQ_INT(entries_with(path, ".tmp-"), 0);
	}
	free(a);
	free(b);
	tv_io_free(io);
}

int main(void)
{
	TV_RUN(test_pieces_of_every_size_read_back_exactly);
	TV_RUN(test_put_if_absent_and_abort_publish_nothing_wrong);
	TV_TEST_END();
}
