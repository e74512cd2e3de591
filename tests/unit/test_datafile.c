#define _GNU_SOURCE
/* Lance 2.0 data files: the spec's byte-level walk-through reproduced,
 * round trips across pages, and hostile bytes. Files live in memory
 * through small tv_wfile / tv_rfile implementations (mapped or not). */
#include <stdint.h>

#include "table/datafile.h"
#include "tv_test.h"
#include "util/common.h"

extern size_t tv_datafile__page_bytes;

/* ---- in-memory files ------------------------------------------------ */

typedef struct memw {
	tv_wfile base;
	tv_buf buf;
} memw;

static int mw_write(tv_wfile *w, const void *d, size_t n, tv_err *e)
{
	(void)e;
	return tv_buf_append(&((memw *)w)->buf, d, n);
}

typedef struct memr {
	tv_rfile base;
	const uint8_t *data;
} memr;

static int mr_read(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *e)
{
	(void)e;
	memcpy(dst, ((memr *)f)->data + off, n);
	return 0;
}

static tv_io_methods mem_methods;

static void mem_init(void)
{
	mem_methods.name = "mem";
	mem_methods.write = mw_write;
	mem_methods.read_at = mr_read;
}

static void memr_init(memr *r, const uint8_t *data, size_t n, int mapped)
{
	memset(r, 0, sizeof *r);
	r->base.path = "mem.lance";
	r->base.size = n;
	r->base.map = mapped ? data : NULL;
	r->base.m = &mem_methods;
	r->data = data;
}

static int write_file(const tv_lance_schema *s, const tv_col_in *cols, uint64_t n, tv_buf *out)
{
	memw w;
	uint64_t size = 0;
	tv_err err = {0};
	int rc;
	memset(&w, 0, sizeof w);
	w.base.m = &mem_methods;
	rc = tv_datafile_write(&w.base, s, cols, n, &size, &err);
	if (rc)
		fprintf(stderr, "write: %s\n", err.msg);
	else if (size != w.buf.len)
		rc = -100;
	*out = w.buf;
	return rc;
}

/* ---- the spec's walk-through (LANCE-FORMAT.md 4.8) -------------------- */

static tv_lance_field f_id = {0, -1, "id", "string", true, 2};
static tv_lance_field f_text = {1, -1, "text", "string", true, 2};
static tv_lance_field f_vec = {2, -1, "vector", "fixed_size_list:float:4", true, 1};
static tv_lance_field f_meta = {3, -1, "metadata", "string", true, 2};

static uint64_t u64at(const tv_buf *b, size_t off)
{
	uint64_t v;
	memcpy(&v, b->data + off, 8);
	return v;
}

static void test_writer_reproduces_lancedb_file_byte_for_byte(void)
{
	tv_lance_field fields[4] = {f_id, f_text, f_vec, f_meta};
	tv_lance_schema s = {fields, 4};
	const char *ids[] = {"a", "b", "c"}, *texts[] = {"hello", "world", "foo"},
	           *metas[] = {"m1", "m2", "m3"};
	size_t idl[] = {1, 1, 1}, tl[] = {5, 5, 3}, ml[] = {2, 2, 2};
	float v[12];
	tv_col_in cols[4] = {{TV_COL_UTF8, ids, idl, NULL, 0},
	                     {TV_COL_UTF8, texts, tl, NULL, 0},
	                     {TV_COL_F32_VEC, NULL, NULL, v, 4},
	                     {TV_COL_UTF8, metas, ml, NULL, 0}};
	/* column 0's metadata as LANCE-FORMAT.md 4.8 decodes it */
	static const char col0[] =
		"\x0a\x29\x12\x27\x0a\x25\x0a\x1f/lance.encodings.ColumnEncoding\x12\x02\x0a\x00"
		"\x12\x4e\x0a\x02\x00\x40\x12\x02\x18\x03\x18\x03\x22\x42\x12\x40\x0a\x3e\x0a\x1e"
		"/lance.encodings.ArrayEncoding\x12\x1c\x32\x1a\x0a\x0c\x12\x0a\x0a\x08\x0a\x06\x0a"
		"\x04\x08\x40\x12\x00\x12\x08\x0a\x06\x08\x08\x12\x02\x08\x01\x18\x04";
	static const uint8_t vec_enc[] = {0x12, 0x16, 0x0a, 0x14, 0x0a, 0x12, 0x1a, 0x10, 0x08,
	                                  0x04, 0x12, 0x0c, 0x12, 0x0a, 0x0a, 0x08, 0x0a, 0x06,
	                                  0x0a, 0x04, 0x08, 0x20, 0x12, 0x00};
	tv_buf b;
	for (int i = 0; i < 12; i++)
		v[i] = (float)(i + 1);
	REQUIRE(write_file(&s, cols, 3, &b) == 0);
	CHECK_EQ_INT(b.len, 1215);
	if (b.len != 1215)
		goto done;
	CHECK(u64at(&b, 0) == 1 && u64at(&b, 8) == 2 && u64at(&b, 16) == 3);
	CHECK(b.data[24] == 'H' && b.data[63] == 'H');
	CHECK(!memcmp(b.data + 0x40, "abc", 3));
	CHECK(u64at(&b, 0x80) == 5 && u64at(&b, 0x88) == 10 && u64at(&b, 0x90) == 13);
	CHECK(!memcmp(b.data + 0xc0, "helloworldfoo", 13));
	CHECK(!memcmp(b.data + 0x100, v, 48));
	CHECK(!memcmp(b.data + 0x180, "m1m2m3", 6));
	CHECK(!memcmp(b.data + 0x1c0, "\x0a\x97\x01", 3));
	CHECK(!memcmp(b.data + 0x1c0 + 154, "\x10\x03", 2));
	CHECK(!memcmp(b.data + 604, col0, sizeof col0 - 1));
	CHECK(memmem(b.data + 852, 118, vec_enc, sizeof vec_enc) != NULL);
	{
		static const uint64_t table[] = {604, 123, 727, 125, 852, 118, 970, 125, 448, 156};
		for (int i = 0; i < 10; i++)
			CHECK_EQ_INT(u64at(&b, 1095 + 8 * (size_t)i), table[i]);
	}
	CHECK(u64at(&b, 1175) == 604 && u64at(&b, 1183) == 1095 && u64at(&b, 1191) == 1159);
	CHECK(!memcmp(b.data + 1199, "\x01\x00\x00\x00\x04\x00\x00\x00\x00\x00\x03\x00LANC", 12));
done:
	tv_buf_free(&b);
}

/* ---- round trips ---------------------------------------------------- */

static uint64_t rng = 99;
static uint32_t rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng >> 33);
}

typedef struct each_ctx {
	const char **str;
	const size_t *len;
	size_t lo, seen, bad;
} each_ctx;

static int each_check(void *ctx, uint64_t row, const char *p, size_t n)
{
	each_ctx *c = ctx;
	const char *want = c->str[row];
	if (row != c->lo + c->seen ||
	    (want == NULL ? p != NULL : (!p || n != c->len[row] || memcmp(p, want, n))))
		c->bad++;
	c->seen++;
	return 0;
}

static void check_read_back(tv_buf *b, int mapped, size_t n, const char **str, const size_t *len,
                            const float *vec, uint32_t dim)
{
	memr r;
	tv_datafile *df = NULL;
	tv_err err = {0};
	memr_init(&r, (const uint8_t *)b->data, b->len, mapped);
	REQUIRE(tv_datafile_open(&df, &r.base, &err) == 0);
	CHECK_EQ_INT(tv_datafile_rows(df), n);
	CHECK_EQ_INT(tv_datafile_columns(df), 2);
	CHECK_EQ_STR(tv_datafile_schema(df)->fields[1].name, "vector");
	/* whole column and a few sub-ranges crossing page boundaries */
	for (int t = 0; t < 6; t++) {
		size_t lo = t == 0 ? 0 : rnd() % n, cnt = t == 0 ? n : 1 + rnd() % (n - lo);
		tv_strcol sc;
		const float *vp;
		float *own;
		uint8_t *valid = malloc(cnt);
		size_t bad = 0;
		REQUIRE(tv_datafile_read_strings(df, 0, lo, cnt, &sc, &err) == 0);
		for (size_t i = 0; i < cnt; i++) {
			const char *want = str[lo + i];
			int isnull = sc.valid && !sc.valid[i];
			size_t got = (size_t)(sc.offsets[i + 1] - sc.offsets[i]);
			if (want == NULL ? !isnull : (isnull || got != len[lo + i] ||
			                              memcmp(sc.data + sc.offsets[i], want, got)))
				bad++;
		}
		CHECK_MSG(bad == 0, "%zu bad strings in %zu+%zu (mapped %d)", bad, lo, cnt, mapped);
		/* the page-at-a-time scan sees the same strings, in order */
		{
			each_ctx ec = {str, len, lo, 0, 0};
			REQUIRE(tv_datafile_each_string(df, 0, lo, cnt, each_check, &ec, &err) == 0);
			CHECK_EQ_INT(ec.seen, cnt);
			CHECK_MSG(ec.bad == 0, "each_string: %zu bad in %zu+%zu", ec.bad, lo, cnt);
		}
		tv_strcol_free(&sc);
		REQUIRE(tv_datafile_read_vectors(df, 1, lo, cnt, dim, &vp, &own, valid, &err) == 0);
		CHECK(memcmp(vp, vec + lo * dim, cnt * dim * sizeof(float)) == 0);
		CHECK(valid[0] == 1);
		free(own);
		free(valid);
	}
	tv_datafile_close(df);
}

static void test_round_trip_across_pages_with_nulls(void)
{
	enum { N = 3000, DIM = 7 };
	tv_lance_field fields[2] = {{0, -1, "s", "string", true, 2},
	                            {1, -1, "vector", "fixed_size_list:float:7", true, 1}};
	tv_lance_schema s = {fields, 2};
	static const char *str[N];
	static size_t len[N];
	static char pool[N][40];
	static float vec[N * DIM];
	tv_col_in cols[2] = {{TV_COL_UTF8, str, len, NULL, 0}, {TV_COL_F32_VEC, NULL, NULL, vec, DIM}};
	size_t saved = tv_datafile__page_bytes;
	tv_buf b;
	for (size_t i = 0; i < N; i++) {
		int kind = (int)(rnd() % 10);
		len[i] = kind == 0 ? 0 : rnd() % 39;
		for (size_t j = 0; j < len[i]; j++)
			pool[i][j] = (char)('a' + rnd() % 26);
		if (kind == 1)
			memcpy(pool[i], "\xcf\x80", len[i] = 2);
		str[i] = (i >= 1000 && i < 1400) || kind == 2 ? NULL : pool[i]; /* an all-null page */
	}
	for (size_t i = 0; i < N * DIM; i++)
		vec[i] = (float)(int)(rnd() % 2000) / 7.0f;
	tv_datafile__page_bytes = 4096; /* many pages */
	REQUIRE(write_file(&s, cols, N, &b) == 0);
	tv_datafile__page_bytes = saved;
	check_read_back(&b, 1, N, str, len, vec, DIM);
	check_read_back(&b, 0, N, str, len, vec, DIM);
	tv_buf_free(&b);
}

static void test_zero_copy_vectors_point_into_the_map(void)
{
	tv_lance_field fields[1] = {{0, -1, "vector", "fixed_size_list:float:3", true, 1}};
	tv_lance_schema s = {fields, 1};
	float vec[30];
	tv_col_in cols[1] = {{TV_COL_F32_VEC, NULL, NULL, vec, 3}};
	tv_buf b;
	memr r;
	tv_datafile *df;
	tv_err err = {0};
	const float *vp;
	float *own;
	for (int i = 0; i < 30; i++)
		vec[i] = (float)i;
	REQUIRE(write_file(&s, cols, 10, &b) == 0);
	memr_init(&r, (const uint8_t *)b.data, b.len, 1);
	REQUIRE(tv_datafile_open(&df, &r.base, &err) == 0);
	CHECK_EQ_INT(tv_datafile_read_vectors(df, 0, 2, 5, 3, &vp, &own, NULL, &err), 0);
	CHECK(own == NULL);
	CHECK((const char *)vp == b.data + 6 * sizeof(float));
	CHECK_EQ_INT(tv_datafile_read_vectors(df, 0, 0, 1, 4, &vp, &own, NULL, &err), TV_ECORRUPT);
	CHECK(strstr(err.msg, "dimension 3, expected 4") != NULL);
	tv_datafile_close(df);
	tv_buf_free(&b);
}

/* Reads everything a damaged file lets us open; must never crash. */
static void read_all(const uint8_t *d, size_t n, int *opened)
{
	memr r;
	tv_datafile *df = NULL;
	tv_err err = {0};
	memr_init(&r, d, n, 1);
	if (tv_datafile_open(&df, &r.base, &err))
		return;
	(*opened)++;
	for (uint32_t c = 0; c < tv_datafile_columns(df); c++) {
		tv_strcol sc;
		const float *vp;
		float *own = NULL;
		if (tv_datafile_read_strings(df, c, 0, tv_datafile_rows(df), &sc, &err) == 0)
			tv_strcol_free(&sc);
		if (tv_datafile_rows(df) < 100000 &&
		    tv_datafile_read_vectors(df, c, 0, tv_datafile_rows(df), 4, &vp, &own, NULL, &err) == 0)
			free(own);
	}
	tv_datafile_close(df);
}

static void test_truncated_and_flipped_files_never_crash(void)
{
	tv_lance_field fields[4] = {f_id, f_text, f_vec, f_meta};
	tv_lance_schema s = {fields, 4};
	const char *ids[] = {"a", NULL, "c"}, *texts[] = {"hello", "world", "foo"},
	           *metas[] = {"m1", "m2", "m3"};
	size_t idl[] = {1, 0, 1}, tl[] = {5, 5, 3}, ml[] = {2, 2, 2};
	float v[12] = {0};
	tv_col_in cols[4] = {{TV_COL_UTF8, ids, idl, NULL, 0}, {TV_COL_UTF8, texts, tl, NULL, 0},
	                     {TV_COL_F32_VEC, NULL, NULL, v, 4}, {TV_COL_UTF8, metas, ml, NULL, 0}};
	tv_buf b;
	int opened = 0, truncated_opened = 0;
	REQUIRE(write_file(&s, cols, 3, &b) == 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, b.data, cut);
		read_all(c, cut, &truncated_opened);
		free(c);
	}
	CHECK_EQ_INT(truncated_opened, 0);
	for (size_t at = 448; at < b.len; at++) {
		for (int bit = 0; bit < 8; bit += 3) {
			uint8_t *c = malloc(b.len);
			memcpy(c, b.data, b.len);
			c[at] ^= (uint8_t)(1u << bit);
			read_all(c, b.len, &opened);
			free(c);
		}
	}
	printf("  %d of %zu damaged metadata variants still opened (and were read safely)\n", opened,
	       (b.len - 448) * 3);
	tv_buf_free(&b);
}

static void test_newer_format_versions_are_refused_clearly(void)
{
	tv_lance_field fields[1] = {{0, -1, "vector", "fixed_size_list:float:3", true, 1}};
	tv_lance_schema s = {fields, 1};
	float vec[3] = {1, 2, 3};
	tv_col_in cols[1] = {{TV_COL_F32_VEC, NULL, NULL, vec, 3}};
	tv_buf b;
	memr r;
	tv_datafile *df = NULL;
	tv_err err = {0};
	REQUIRE(write_file(&s, cols, 1, &b) == 0);
	memcpy(b.data + b.len - 8, "\x02\x00\x02\x00", 4);
	memr_init(&r, (const uint8_t *)b.data, b.len, 1);
	CHECK_EQ_INT(tv_datafile_open(&df, &r.base, &err), TV_EUNSUPPORTED);
	CHECK_MSG(strstr(err.msg, "version 2.2 is not supported") != NULL, "%s", err.msg);
	tv_buf_free(&b);
}

int main(void)
{
	mem_init();
	TV_RUN(test_writer_reproduces_lancedb_file_byte_for_byte);
	TV_RUN(test_round_trip_across_pages_with_nulls);
	TV_RUN(test_zero_copy_vectors_point_into_the_map);
	TV_RUN(test_truncated_and_flipped_files_never_crash);
	TV_RUN(test_newer_format_versions_are_refused_clearly);
	TV_TEST_END();
}
