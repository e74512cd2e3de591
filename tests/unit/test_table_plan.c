/* What a search reads (table/table.c). The planner's selectivity sample:
 * a filter kept by a few percent of the rows is searched exactly, any
 * other through the index, so the sample must not alias with periodic
 * data nor count deleted rows. Results: a row's strings are read for that
 * row, and a filter loads only the columns it names, so a query never
 * copies a whole text column. */
#include "io/io.h"
#include "query/filter.h"
#include "table/table_int.h"
#include "teavec.h"
#include "tv_test.h"

#define DIM 8
#define ROWS 4096

static char root[4096];

static tv_store *open_db(void)
{
	char settings[4400];
	tv_store *s = NULL;
	snprintf(settings, sizeof settings, "{\"lancedb_path\": \"%s\"}", root);
	if (tv_store_open(&s, "lancedb", settings))
		fprintf(stderr, "open: %s\n", tv_last_errmsg());
	return s;
}

/* Rows 0..ROWS-1 in four commits, metadata {"half": i % 2, "tag": "t<i % 100>"}. */
static int fill(tv_store *s)
{
	static tv_record r[ROWS];
	static float v[ROWS * DIM];
	static char ids[ROWS][16], meta[ROWS][48];
	for (int i = 0; i < ROWS; i++) {
		for (int j = 0; j < DIM; j++)
			v[i * DIM + j] = (float)((i * 31 + j * 7) % 97) / 97.0f + (float)j;
		snprintf(ids[i], sizeof ids[i], "r%d", i);
		snprintf(meta[i], sizeof meta[i], "{\"half\": %d, \"tag\": \"t%d\"}", i % 2, i % 100);
		r[i] = (tv_record){ids[i], "", NULL, meta[i], v + i * DIM};
	}
	for (int b = 0; b < 4; b++)
		if (tv_store_add(s, "c", r + b * (ROWS / 4), ROWS / 4, DIM, NULL))
			return -1;
	return 0;
}

/* The share of the sample passing where (-1 on error); *seen its size. */
static double share(const char *where, uint64_t *seen)
{
	tv_io *io = NULL;
	tv_table *t = NULL;
	tv_filter *f = NULL;
	tv_err err = {0};
	uint64_t hits = 0;
	double out = -1;
	*seen = 0;
	if (!tv_io_local_open(&io, root, &err) && !tv_table_open(&t, io, "c.lance", 0, &err) &&
	    !tv_filter_parse_sql(&f, where, &err) &&
	    !tv_table__filter_sample(t, f, seen, &hits, &err) && *seen)
		out = (double)hits / (double)*seen;
	else
		fprintf(stderr, "%s: %s\n", where, err.msg);
	tv_filter_free(f);
	tv_table_close(t);
	tv_io_free(io);
	return out;
}

static void test_periodic_values_are_sampled_at_their_share(void)
{
	tv_store *s;
	uint64_t seen;
	double h;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("plan"));
	REQUIRE((s = open_db()));
	REQUIRE(fill(s) == 0);
	tv_store_close(s);
	/* ROWS / 1024 = 4: rows at evenly spaced positions would all be even */
	h = share("metadata.half = 1", &seen);
	CHECK_MSG(h > 0.4 && h < 0.6, "half = 1 sampled at %.3f of %lu rows", h,
	          (unsigned long)seen);
	CHECK(seen >= 1000 && seen <= 1100);
	h = share("metadata.half = 0", &seen);
	CHECK_MSG(h > 0.4 && h < 0.6, "half = 0 sampled at %.3f", h);
	/* 1%: selective (at most 2% of the sample) */
	h = share("metadata.tag = 't7'", &seen);
	CHECK_MSG(h >= 0 && h <= 0.02, "tag = 't7' sampled at %.3f", h);
	h = share("metadata.tag LIKE 't%'", &seen);
	CHECK_MSG(h == 1.0, "every row has a tag, sampled %.3f", h);
}

static void test_deleted_rows_are_not_sampled(void)
{
	tv_store *s;
	size_t gone = 0;
	uint64_t seen;
	double h;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("plan"));
	REQUIRE((s = open_db()));
	REQUIRE(fill(s) == 0);
	REQUIRE(tv_store_delete_where(s, "c", "metadata.half = 0", NULL, &gone) == 0);
	CHECK(gone == ROWS / 2);
	tv_store_close(s);
	h = share("metadata.half = 1", &seen);
	CHECK_MSG(h == 1.0, "only odd rows are live, sampled %.3f", h);
	CHECK_MSG(seen >= 400 && seen <= 1100, "%lu rows sampled", (unsigned long)seen);
}

static void test_results_read_their_rows_and_filters_their_columns(void)
{
	tv_store *s;
	tv_io *io = NULL;
	tv_table *t = NULL;
	tv_filter *f = NULL;
	tv_err err = {0};
	float q[DIM] = {0};
	uint64_t *addrs = NULL;
	float *dists = NULL;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("plan"));
	REQUIRE((s = open_db()));
	REQUIRE(fill(s) == 0);
	tv_store_close(s);
	REQUIRE(tv_io_local_open(&io, root, &err) == 0);
	REQUIRE(tv_table_open(&t, io, "c.lance", 0, &err) == 0);
	q[0] = 1.0f;
	REQUIRE(tv_table_search(t, q, TV_METRIC_COSINE, 5, NULL, NULL, &addrs, &dists, &n, &err) == 0);
	CHECK(n == 5);
	for (size_t i = 0; i < n; i++) {
		tv_table_row r;
		long row;
		REQUIRE(tv_table_row_at(t, addrs[i], &r, &err) == 0);
		/* the row's own strings: id "r<i>", no path, its metadata */
		CHECK(r.v.id_len > 1 && r.v.id[0] == 'r');
		row = strtol(r.v.id + 1, NULL, 10);
		{
			char want[48];
			snprintf(want, sizeof want, "{\"half\": %ld, \"tag\": \"t%ld\"}", row % 2, row % 100);
			CHECK_MSG(r.v.metadata_len == strlen(want) && !memcmp(r.v.metadata, want, strlen(want)),
			          "row %ld: %.*s", row, (int)r.v.metadata_len, r.v.metadata);
		}
		CHECK(r.v.path == NULL && r.v.text_len == 0);
	}
	for (size_t fi = 0; fi < t->nfrags; fi++)
		for (int c = 0; c < TV_COL_VEC; c++)
			CHECK_MSG(!t->frags[fi].loaded[c], "fragment %zu column %d loaded whole", fi, c);
	free(addrs);
	free(dists);
	/* a metadata filter loads the metadata column, and only it */
	REQUIRE(tv_filter_parse_sql(&f, "metadata.half = 1", &err) == 0);
	REQUIRE(tv_table_search(t, q, TV_METRIC_COSINE, 5, f, NULL, &addrs, &dists, &n, &err) == 0);
	CHECK(n == 5);
	for (size_t fi = 0; fi < t->nfrags; fi++) {
		CHECK(!t->frags[fi].loaded[TV_COL_ID] && !t->frags[fi].loaded[TV_COL_TEXT]);
		CHECK(!t->frags[fi].loaded[TV_COL_PATH]);
	}
	for (size_t i = 0; i < n; i++) {
		tv_table_row r;
		REQUIRE(tv_table_row_at(t, addrs[i], &r, &err) == 0);
		CHECK(strtol(r.v.id + 1, NULL, 10) % 2 == 1);
	}
	free(addrs);
	free(dists);
	tv_filter_free(f);
	tv_table_close(t);
	tv_io_free(io);
}

int main(void)
{
	TV_RUN(test_periodic_values_are_sampled_at_their_share);
	TV_RUN(test_deleted_rows_are_not_sampled);
	TV_RUN(test_results_read_their_rows_and_filters_their_columns);
	TV_TEST_END();
}
