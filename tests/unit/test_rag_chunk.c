/* rag/chunk.c and rag/walk.c: chunk boundaries and line numbers, binary
 * detection, UTF-8 repair, globs, and walking a tree with extension
 * filters, skipped VCS directories and a symbolic link loop. */
#include <stdint.h>

#include "rag/chunk.h"
#include "rag/walk.h"
#include "util/common.h"
#include "tv_test.h"

static char *slice(const char *t, const tv_chunk *c)
{
	static char buf[8192];
	snprintf(buf, sizeof buf, "%.*s", (int)c->len, t + c->off);
	return buf;
}

static void test_line_chunks_skip_blank_lines_and_keep_line_numbers(void)
{
	const char *t = "alpha\r\n\n   \n  beta  \ngamma";
	tv_chunk *c;
	size_t n;
	REQUIRE(tv_chunk_text(t, strlen(t), TV_CHUNK_LINE, 0, &c, &n) == 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_STR(slice(t, &c[0]), "alpha");
	CHECK_EQ_INT(c[0].start_line, 1);
	CHECK_EQ_STR(slice(t, &c[1]), "beta");
	CHECK_EQ_INT(c[1].start_line, 4);
	CHECK_EQ_INT(c[1].end_line, 4);
	CHECK_EQ_STR(slice(t, &c[2]), "gamma");
	CHECK_EQ_INT(c[2].start_line, 5);
	free(c);
}

static void test_paragraphs_span_their_lines(void)
{
	const char *t = "\n\nTitle line\nsecond line\n\n\nNext para\n  indented\n\n";
	tv_chunk *c;
	size_t n;
	REQUIRE(tv_chunk_text(t, strlen(t), TV_CHUNK_PARAGRAPH, 0, &c, &n) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(slice(t, &c[0]), "Title line\nsecond line");
	CHECK_EQ_INT(c[0].start_line, 3);
	CHECK_EQ_INT(c[0].end_line, 4);
	CHECK_EQ_STR(slice(t, &c[1]), "Next para\n  indented");
	CHECK_EQ_INT(c[1].start_line, 7);
	CHECK_EQ_INT(c[1].end_line, 8);
	free(c);
	REQUIRE(tv_chunk_text(t, strlen(t), TV_CHUNK_DOCUMENT, 0, &c, &n) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(c[0].start_line, 3);
	CHECK_EQ_INT(c[0].end_line, 8);
	free(c);
	REQUIRE(tv_chunk_text(" \n\t\n", 4, TV_CHUNK_PARAGRAPH, 0, &c, &n) == 0);
	CHECK_EQ_INT(n, 0);
	free(c);
}

static void test_long_paragraphs_split_under_the_limit_on_utf8_boundaries(void)
{
	char t[4096];
	size_t k = 0, n, total = 0;
	tv_chunk *c;
	/* ten lines of 30 bytes, then one 200-byte line of 2-byte characters */
	for (int i = 0; i < 10; i++)
		k += (size_t)snprintf(t + k, sizeof t - k, "line %02d abcdefghijklmnopqrstu\n", i);
	for (int i = 0; i < 100; i++) {
		t[k++] = (char)0xC3;
		t[k++] = (char)0xA9; /* é */
	}
	t[k] = 0;
	REQUIRE(tv_chunk_text(t, k, TV_CHUNK_PARAGRAPH, 64, &c, &n) == 0);
	CHECK(n >= 5);
	for (size_t i = 0; i < n; i++) {
		CHECK(c[i].len <= 64);
		CHECK(tv_utf8_valid(t + c[i].off, c[i].len, NULL));
		CHECK(c[i].start_line <= c[i].end_line);
		total += c[i].len;
	}
	CHECK_EQ_INT(c[0].start_line, 1);
	CHECK_EQ_INT(c[n - 1].end_line, 11);
	CHECK(total >= 10 * 29 + 200);
	free(c);
}

static void test_binary_detection(void)
{
	char b[100];
	CHECK(!tv_text_is_binary("plain text\n\twith tabs", 21));
	CHECK(tv_text_is_binary("a\0b", 3));
	for (int i = 0; i < 100; i++)
		b[i] = (char)(i % 2 ? 'x' : 3);
	CHECK(tv_text_is_binary(b, 100));
	CHECK(!tv_text_is_binary("caf\xC3\xA9 na\xC3\xAFve", 12));
}

static void test_invalid_utf8_is_replaced_and_counted(void)
{
	char *out;
	size_t n, bad;
	/* a stray continuation byte, a truncated 3-byte sequence, an overlong '/' */
	const char in[] = "ok \x80 then \xE2\x82 and \xC0\xAF end";
	REQUIRE(tv_utf8_repair(in, sizeof in - 1, &out, &n, &bad) == 0);
	CHECK_EQ_INT(bad, 4);
	REQUIRE(out);
	CHECK(tv_utf8_valid(out, n, NULL));
	CHECK_EQ_STR(out, "ok \xEF\xBF\xBD then \xEF\xBF\xBD and \xEF\xBF\xBD\xEF\xBF\xBD end");
	free(out);
	REQUIRE(tv_utf8_repair("fine", 4, &out, &n, &bad) == 0);
	CHECK_EQ_INT(bad, 0);
	CHECK(out == NULL);
}

/* ASCII is skipped 8 bytes at a time: a bad byte at any offset of a long
 * ASCII run is still found where it is. */
static void test_utf8_bad_byte_found_at_every_offset(void)
{
	char buf[64];
	for (size_t at = 0; at < 40; at++) {
		size_t bad = 999;
		memset(buf, 'a', sizeof buf);
		buf[at] = (char)0xC3; /* a lead byte without its continuation */
		buf[at + 1] = 'x';
		CHECK_MSG(!tv_utf8_valid(buf, sizeof buf, &bad) && bad == at, "at %zu: %zu", at, bad);
		buf[at + 1] = (char)0xA9; /* now a whole character */
		CHECK_MSG(tv_utf8_valid(buf, sizeof buf, NULL), "at %zu", at);
	}
}

static void test_globs(void)
{
	CHECK(tv_glob_match("**/*", "a.md"));
	CHECK(tv_glob_match("**/*", "x/y/a.md"));
	CHECK(tv_glob_match("*.md", "x/y/a.md")); /* no '/': the name only */
	CHECK(!tv_glob_match("*.md", "x/y/a.txt"));
	CHECK(tv_glob_match("docs/**/*.md", "docs/a.md"));
	CHECK(tv_glob_match("docs/**/*.md", "docs/x/y/a.md"));
	CHECK(!tv_glob_match("docs/**/*.md", "src/a.md"));
	CHECK(!tv_glob_match("docs/*.md", "docs/x/a.md"));
	CHECK(tv_glob_match("src/?.[ch]", "src/a.c"));
	CHECK(!tv_glob_match("src/?.[ch]", "src/ab.c"));
	CHECK(tv_glob_match("**/test_*.c", "tests/unit/test_x.c"));
}

static void put(const char *dir, const char *rel, const char *text)
{
	char p[4300];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_walk_filters_recurses_and_survives_a_symlink_loop(void)
{
	const char *d = tv_test_tmpdir("walk");
	char p[4300], q[13000];
	const char *exts[] = {"MD", ".txt"};
	tv_walk w = {0};
	tv_walk_opts o = {"**/*", true, exts, 2};
	tv_err err = {0};
	snprintf(p, sizeof p, "%s/sub/deeper", d);
	REQUIRE(system(NULL) != 0);
	snprintf(q, sizeof q, "mkdir -p '%s' '%s/.git' && ln -s .. '%s/sub/deeper/up'", p, d, d);
	REQUIRE(system(q) == 0);
	put(d, "a.md", "a");
	put(d, "b.TXT", "b");
	put(d, "c.c", "c");
	put(d, "sub/deeper/d.Md", "d");
	put(d, ".git/config.txt", "vcs");
	REQUIRE(tv_walk_add(&w, d, &o, &err) == 0);
	snprintf(q, sizeof q, "%s/missing", d);
	REQUIRE(tv_walk_add(&w, q, &o, &err) == 0); /* noted, not fatal */
	snprintf(q, sizeof q, "%s/c.c", d);
	REQUIRE(tv_walk_add(&w, q, &o, &err) == 0); /* a named file ignores the filters */
	tv_walk_finish(&w);
	CHECK_EQ_INT(w.n, 4);
	if (w.n == 4) {
		snprintf(q, sizeof q, "%s/a.md", d);
		CHECK_EQ_STR(w.files[0].path, q);
		snprintf(q, sizeof q, "%s/sub/deeper/d.Md", d);
		CHECK_EQ_STR(w.files[3].path, q);
		CHECK_EQ_INT(w.files[0].size, 1);
		CHECK(w.files[0].mtime_ns > 0);
	}
	/* the loop and the missing path are reported */
	REQUIRE(w.errors);
	CHECK_EQ_INT(json_array_size(w.errors), 2);
	{
		char *s = json_dumps(w.errors, 0);
		CHECK(strstr(s, "loop") != NULL);
		CHECK(strstr(s, "No such file") != NULL);
		free(s);
	}
	tv_walk_free(&w);
	/* not recursive, a pattern with a directory part */
	o.recursive = false;
	o.nexts = 0;
	REQUIRE(tv_walk_add(&w, d, &o, &err) == 0);
	tv_walk_finish(&w);
	CHECK_EQ_INT(w.n, 3);
	tv_walk_free(&w);
	o.recursive = true;
	o.pattern = "sub/**/*.Md";
	REQUIRE(tv_walk_add(&w, d, &o, &err) == 0);
	tv_walk_finish(&w);
	CHECK_EQ_INT(w.n, 1);
	tv_walk_free(&w);
}

int main(void)
{
	TV_RUN(test_line_chunks_skip_blank_lines_and_keep_line_numbers);
	TV_RUN(test_paragraphs_span_their_lines);
	TV_RUN(test_long_paragraphs_split_under_the_limit_on_utf8_boundaries);
	TV_RUN(test_binary_detection);
	TV_RUN(test_invalid_utf8_is_replaced_and_counted);
	TV_RUN(test_utf8_bad_byte_found_at_every_offset);
	TV_RUN(test_globs);
	TV_RUN(test_walk_filters_recurses_and_survives_a_symlink_loop);
	TV_TEST_END();
}
