/* Both VectorStores (memory and lancedb) through the public API, with the
 * same test code: TEA semantics of add / query / delete / count, bad input
 * rejected whole, dict and SQL filters, state save and restore. Expected
 * results come from a brute-force reference computed here in double
 * precision. The lancedb runs use a fresh directory per store. */
#include <float.h>
#include <stdint.h>

#include "teavec.h"
#include "tv_test.h"

#define DIM 16

static uint64_t rng_state = 42;
static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng_state >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

static void rand_vec(float *v, size_t d)
{
	for (size_t i = 0; i < d; i++)
		v[i] = frand();
}

static double ref_cos_dist(const float *a, const float *b, size_t d)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < d; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	if (aa == 0 || bb == 0)
		return 1.0;
	return 1.0 - ab / (sqrt(aa) * sqrt(bb));
}

static const char *backend = "memory";

static tv_store *open_mem(void)
{
	tv_store *s = NULL;
	char settings[4200];
	int rc;
	snprintf(settings, sizeof settings, "{\"lancedb_path\": \"%s\"}", tv_test_tmpdir("store"));
	rc = tv_store_open(&s, backend, settings);
	if (rc)
		fprintf(stderr, "open: %s\n", tv_last_errmsg());
	return s;
}

/* Adds n rows "id<i>" with random vectors (kept in vecs) and metadata
 * {"n": i, "even": bool, "tag": "t<i%3>"}. */
static int add_rows(tv_store *s, const char *coll, size_t n, float *vecs)
{
	tv_record *r = calloc(n, sizeof *r);
	char (*ids)[32] = calloc(n, 32), (*meta)[96] = calloc(n, 96);
	size_t stored = 0;
	int rc;
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], 32, "id%zu", i);
		snprintf(meta[i], 96, "{\"n\": %zu, \"even\": %s, \"tag\": \"t%zu\"}", i,
		         i % 2 ? "false" : "true", i % 3);
		rand_vec(vecs + i * DIM, DIM);
		r[i].id = ids[i];
		r[i].text = ids[i];
		r[i].path = i % 2 ? "odd.txt" : NULL;
		r[i].metadata = meta[i];
		r[i].vector = vecs + i * DIM;
	}
	rc = tv_store_add(s, coll, r, n, DIM, &stored);
	if (!rc && stored != n)
		rc = -100;
	free(r);
	free(ids);
	free(meta);
	return rc;
}

static tv_results *query(tv_store *s, const char *coll, const float *q, int k,
                         const char *filter_json)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *res = NULL;
	qq.vector = q;
	qq.dim = DIM;
	qq.k = k;
	qq.collection = coll;
	qq.filter_json = filter_json;
	if (tv_store_query(s, &qq, &res))
		fprintf(stderr, "query: %s\n", tv_store_errmsg(s));
	return res;
}

static void test_query_returns_nearest_first_with_tea_score(void)
{
	enum { N = 500 };
	float *vecs = malloc(N * DIM * sizeof *vecs), q[DIM];
	double best[N];
	tv_store *s = open_mem();
	tv_results *res;
	REQUIRE(s);
	REQUIRE(add_rows(s, "docs", N, vecs) == 0);
	rand_vec(q, DIM);
	for (size_t i = 0; i < N; i++)
		best[i] = ref_cos_dist(q, vecs + i * DIM, DIM);
	res = query(s, "docs", q, 10, NULL);
	REQUIRE(res && res->n == 10);
	for (size_t i = 0; i < res->n; i++) {
		int idx = atoi(res->items[i].id + 2);
		size_t better = 0;
		for (size_t j = 0; j < N; j++)
			if (best[j] < best[idx] - 1e-6)
				better++;
		CHECK_MSG(better <= i, "result %zu (%s) has %zu strictly better rows", i,
		          res->items[i].id, better);
		CHECK_NEAR(res->items[i].score, 1.0 - best[idx], 1e-5);
		CHECK_NEAR(res->items[i].distance, best[idx], 1e-5);
		if (i)
			CHECK(res->items[i].score <= res->items[i - 1].score);
		CHECK(res->items[i].vector == NULL);
		CHECK_EQ_STR(res->items[i].text, res->items[i].id);
	}
	tv_results_free(res);
	tv_store_close(s);
	free(vecs);
}

static void test_upsert_replaces_row_and_last_duplicate_in_batch_wins(void)
{
	float v1[DIM], v2[DIM], v3[DIM];
	tv_record r[3] = {{"a", "first", NULL, "{\"v\":1}", v1},
	                  {"b", "bee", NULL, NULL, v2},
	                  {"a", "second", "p.md", "{\"v\":2}", v3}};
	tv_store *s = open_mem();
	tv_results *res;
	size_t n = 0;
	REQUIRE(s);
	rand_vec(v1, DIM);
	rand_vec(v2, DIM);
	rand_vec(v3, DIM);
	CHECK_EQ_INT(tv_store_add(s, NULL, r, 3, DIM, &n), 0);
	CHECK_EQ_INT(n, 3);
	tv_store_count(s, NULL, &n);
	CHECK_EQ_INT(n, 2);
	res = query(s, NULL, v3, 1, NULL);
	REQUIRE(res && res->n == 1);
	CHECK_EQ_STR(res->items[0].id, "a");
	CHECK_EQ_STR(res->items[0].text, "second");
	CHECK_EQ_STR(res->items[0].path, "p.md");
	CHECK_EQ_STR(res->items[0].metadata, "{\"v\":2}");
	CHECK_NEAR(res->items[0].score, 1.0, 1e-6);
	tv_results_free(res);
	/* re-use id "b" in a later batch: replaced, not duplicated */
	r[1].text = "bee2";
	CHECK_EQ_INT(tv_store_add(s, NULL, &r[1], 1, DIM, NULL), 0);
	tv_store_count(s, NULL, &n);
	CHECK_EQ_INT(n, 2);
	res = query(s, NULL, v2, 1, NULL);
	REQUIRE(res && res->n == 1);
	CHECK_EQ_STR(res->items[0].text, "bee2");
	tv_results_free(res);
	tv_store_close(s);
}

static void expect_rejected(tv_store *s, tv_record *r, size_t n, size_t dim, const char *needle)
{
	size_t before = 0, after = 0;
	int rc;
	tv_store_count(s, "c", &before);
	rc = tv_store_add(s, "c", r, n, dim, NULL);
	CHECK_EQ_INT(rc, TV_EINVAL);
	CHECK_MSG(strstr(tv_store_errmsg(s), needle) != NULL, "message '%s' lacks '%s'",
	          tv_store_errmsg(s), needle);
	tv_store_count(s, "c", &after);
	CHECK_EQ_INT(after, before);
}

static void test_bad_rows_rejected_whole_with_field_and_index(void)
{
	float good[3][DIM], bad[DIM], small[4];
	char longid[1100];
	tv_store *s = open_mem();
	tv_record r[3];
	REQUIRE(s);
	for (int i = 0; i < 3; i++)
		rand_vec(good[i], DIM);
	rand_vec(bad, DIM);
	r[0] = (tv_record){"x0", "t", NULL, NULL, good[0]};
	r[1] = (tv_record){"x1", "t", NULL, NULL, good[1]};
	r[2] = (tv_record){"x2", "t", NULL, NULL, bad};
	bad[7] = NAN;
	expect_rejected(s, r, 3, DIM, "rows[2].vector[7] is NaN");
	bad[7] = INFINITY;
	expect_rejected(s, r, 3, DIM, "rows[2].vector[7] is infinite");
	bad[7] = 0.5f;
	r[1].id = "";
	expect_rejected(s, r, 3, DIM, "rows[1].id: empty");
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	r[1].id = longid;
	expect_rejected(s, r, 3, DIM, "rows[1].id");
	r[1].id = "bad\xff";
	expect_rejected(s, r, 3, DIM, "rows[1].id: invalid UTF-8 at byte 3");
	r[1].id = "x1";
	r[0].text = "\xc3\x28";
	expect_rejected(s, r, 3, DIM, "rows[0].text: invalid UTF-8");
	r[0].text = "t";
	r[2].metadata = "[1,2]";
	expect_rejected(s, r, 3, DIM, "rows[2].metadata: expected a JSON object");
	r[2].metadata = "{\"a\":";
	expect_rejected(s, r, 3, DIM, "rows[2].metadata: invalid JSON");
	r[2].metadata = NULL;
	r[0].text = NULL;
	expect_rejected(s, r, 3, DIM, "rows[0].text: missing");
	r[0].text = "t";
	/* valid now; then a dimension mismatch against the collection */
	CHECK_EQ_INT(tv_store_add(s, "c", r, 3, DIM, NULL), 0);
	rand_vec(small, 4);
	r[0].vector = small;
	expect_rejected(s, r, 1, 4, "dimension 4 does not match collection 'c' (dimension 16)");
	expect_rejected(s, r, 1, 0, "dimension must be");
	tv_store_close(s);
}

static void test_query_argument_errors(void)
{
	float v[DIM];
	tv_store *s = open_mem();
	tv_query q = TV_QUERY_INIT;
	tv_results *res = NULL;
	REQUIRE(s);
	rand_vec(v, DIM);
	q.vector = v;
	q.dim = DIM;
	q.k = 0;
	CHECK_EQ_INT(tv_store_query(s, &q, &res), TV_EINVAL);
	CHECK(strstr(tv_store_errmsg(s), "k must be") != NULL);
	q.k = -3;
	CHECK_EQ_INT(tv_store_query(s, &q, &res), TV_EINVAL);
	q.k = 3;
	v[0] = NAN;
	CHECK_EQ_INT(tv_store_query(s, &q, &res), TV_EINVAL);
	CHECK(strstr(tv_store_errmsg(s), "query[0].vector[0] is NaN") != NULL);
	v[0] = 1;
	q.collection = "bad/name";
	CHECK_EQ_INT(tv_store_query(s, &q, &res), TV_EINVAL);
	q.collection = "unknown";
	CHECK_EQ_INT(tv_store_query(s, &q, &res), 0);
	REQUIRE(res);
	CHECK_EQ_INT(res->n, 0);
	tv_results_free(res);
	tv_store_close(s);
}

static void test_collections_are_isolated(void)
{
	float va[10 * DIM], vb[10 * DIM];
	tv_store *s = open_mem();
	tv_results *res;
	char **names;
	size_t n;
	REQUIRE(s);
	REQUIRE(add_rows(s, "a", 10, va) == 0);
	REQUIRE(add_rows(s, "b", 5, vb) == 0);
	tv_store_count(s, "a", &n);
	CHECK_EQ_INT(n, 10);
	tv_store_count(s, "b", &n);
	CHECK_EQ_INT(n, 5);
	res = query(s, "b", va + 7 * DIM, 20, NULL);
	REQUIRE(res);
	CHECK_EQ_INT(res->n, 5);
	tv_results_free(res);
	CHECK_EQ_INT(tv_store_collections(s, &names, &n), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_EQ_STR(names[0], "a");
		CHECK_EQ_STR(names[1], "b");
	}
	tv_strings_free(names, n);
	tv_store_close(s);
}

static void test_delete_removes_rows_and_keeps_others_findable(void)
{
	enum { N = 50 };
	float vecs[N * DIM];
	const char *del[] = {"id3", "id0", "missing", "id49"};
	tv_store *s = open_mem();
	size_t gone = 0, n = 0;
	REQUIRE(s);
	REQUIRE(add_rows(s, "d", N, vecs) == 0);
	CHECK_EQ_INT(tv_store_delete(s, "d", del, 4, &gone), 0);
	CHECK_EQ_INT(gone, 3);
	tv_store_count(s, "d", &n);
	CHECK_EQ_INT(n, N - 3);
	for (size_t i = 0; i < N; i++) {
		tv_results *res = query(s, "d", vecs + i * DIM, 1, NULL);
		char want[16];
		snprintf(want, sizeof want, "id%zu", i);
		REQUIRE(res && res->n == 1);
		if (i == 3 || i == 0 || i == 49)
			CHECK(strcmp(res->items[0].id, want) != 0);
		else
			CHECK_EQ_STR(res->items[0].id, want);
		tv_results_free(res);
	}
	tv_store_close(s);
}

static size_t count_matches(tv_store *s, const char *filter)
{
	float q[DIM] = {1};
	tv_results *res = query(s, "f", q, 1000, filter);
	size_t n = res ? res->n : (size_t)-1;
	tv_results_free(res);
	return n;
}

static void test_dict_filters_on_metadata(void)
{
	enum { N = 30 };
	float vecs[N * DIM];
	tv_store *s = open_mem();
	REQUIRE(s);
	REQUIRE(add_rows(s, "f", N, vecs) == 0);
	CHECK_EQ_INT(count_matches(s, "{\"tag\": \"t1\"}"), 10);
	CHECK_EQ_INT(count_matches(s, "{\"even\": true}"), 15);
	CHECK_EQ_INT(count_matches(s, "{\"n_gt\": 20}"), 9);
	CHECK_EQ_INT(count_matches(s, "{\"n_gte\": 20}"), 10);
	CHECK_EQ_INT(count_matches(s, "{\"n_lt\": 5}"), 5);
	CHECK_EQ_INT(count_matches(s, "{\"n_lte\": 5}"), 6);
	CHECK_EQ_INT(count_matches(s, "{\"n_ne\": 5}"), 29);
	CHECK_EQ_INT(count_matches(s, "{\"tag_in\": [\"t0\", \"t2\"]}"), 20);
	CHECK_EQ_INT(count_matches(s, "{\"tag_in\": [\"t0\"], \"n_lt\": 10}"), 4);
	CHECK_EQ_INT(count_matches(s, "{\"missing\": 1}"), 0);
	CHECK_EQ_INT(count_matches(s, "{}"), N);
	tv_store_close(s);
}

/* Selective filters (which the lancedb store answers from per-fragment
 * equality indexes) return exactly the matching live rows. */
static size_t sel_count(tv_store *s, const char *where, const char *dict, char *seen)
{
	float q[DIM] = {1};
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	size_t n;
	qq.vector = q;
	qq.dim = DIM;
	qq.k = 1000;
	qq.collection = "sel";
	qq.where = where;
	qq.filter_json = dict;
	if (tv_store_query(s, &qq, &r)) {
		fprintf(stderr, "%s\n", tv_store_errmsg(s));
		return (size_t)-1;
	}
	memset(seen, 0, 400);
	for (size_t i = 0; i < r->n; i++)
		seen[atoi(r->items[i].id + 2)]++;
	n = r->n;
	tv_results_free(r);
	return n;
}

static void test_selective_filters_return_exactly_the_matching_rows(void)
{
	enum { N = 400 };
	static float vecs[N * DIM];
	static char ids[N][16], paths[N][16], metas[N][64];
	static tv_record recs[N];
	const char *del[] = {"id7", "id57", "id3"};
	char seen[N];
	tv_store *s = open_mem();
	size_t bad = 0, n;
	REQUIRE(s);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], 16, "id%d", i);
		snprintf(paths[i], 16, "p%d.md", i % 50);
		if (i % 5 == 0)
			snprintf(metas[i], 64, "{\"g\": \"g%d\", \"tags\": [\"a\", \"z%d\"]}", i % 40, i);
		else
			snprintf(metas[i], 64, "{\"g\": \"g%d\", \"tags\": \"b\"}", i % 40);
		rand_vec(vecs + i * DIM, DIM);
		recs[i] = (tv_record){ids[i], "t", paths[i], metas[i], vecs + i * DIM};
	}
	/* two batches: two fragments in the lancedb store */
	REQUIRE(tv_store_add(s, "sel", recs, 200, DIM, NULL) == 0);
	REQUIRE(tv_store_add(s, "sel", recs + 200, 200, DIM, NULL) == 0);
	REQUIRE(tv_store_delete(s, "sel", del, 3, NULL) == 0);
	n = sel_count(s, "path = 'p7.md'", NULL, seen);
	for (int i = 0; i < N; i++)
		bad += seen[i] != (i % 50 == 7 && i != 7 && i != 57);
	CHECK_EQ_INT(n, 6);
	n = sel_count(s, "path IN ('p1.md', 'p3.md') AND text = 't'", NULL, seen);
	for (int i = 0; i < N; i++)
		bad += seen[i] != ((i % 50 == 1 || i % 50 == 3) && i != 3);
	CHECK_EQ_INT(n, 15);
	n = sel_count(s, NULL, "{\"g\": \"g3\"}", seen);
	for (int i = 0; i < N; i++)
		bad += seen[i] != (i % 40 == 3 && i != 3);
	CHECK_EQ_INT(n, 9);
	/* a key whose values include lists: contains-semantics, never the index */
	n = sel_count(s, "tags = 'z35'", NULL, seen);
	CHECK_EQ_INT(n, 1);
	CHECK(seen[35] == 1);
	n = sel_count(s, "id = 'id9'", NULL, seen);
	CHECK(n == 1 && seen[9] == 1);
	n = sel_count(s, "path = 'nowhere'", NULL, seen);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(bad, 0);
	tv_store_close(s);
}

static void test_count_and_delete_where_use_the_same_filters(void)
{
	enum { N = 60 };
	float vecs[N * DIM];
	tv_store *s = open_mem();
	size_t n = 0, gone = 0;
	REQUIRE(s);
	REQUIRE(add_rows(s, "w", N, vecs) == 0);
	CHECK_EQ_INT(tv_store_count_where(s, "w", "tag = 't1'", NULL, &n), 0);
	CHECK_EQ_INT(n, 20);
	CHECK_EQ_INT(tv_store_count_where(s, "w", "n >= 10", "{\"even\": true}", &n), 0);
	CHECK_EQ_INT(n, 25);
	CHECK_EQ_INT(tv_store_count_where(s, "w", NULL, NULL, &n), 0);
	CHECK_EQ_INT(n, N);
	CHECK_EQ_INT(tv_store_count_where(s, "w", "n >", NULL, &n), TV_EINVAL);
	CHECK_EQ_INT(tv_store_delete_where(s, "w", NULL, NULL, &gone), TV_EINVAL);
	CHECK_EQ_INT(tv_store_delete_where(s, "w", "tag = 't1' AND n < 30", NULL, &gone), 0);
	CHECK_EQ_INT(gone, 10);
	tv_store_count(s, "w", &n);
	CHECK_EQ_INT(n, N - 10);
	CHECK_EQ_INT(tv_store_count_where(s, "w", "tag = 't1'", NULL, &n), 0);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(tv_store_delete_where(s, "w", "TRUE", NULL, &gone), 0);
	CHECK_EQ_INT(gone, N - 10);
	CHECK_EQ_INT(tv_store_count_where(s, "nope", "TRUE", NULL, &n), 0);
	CHECK_EQ_INT(n, 0);
	tv_store_close(s);
}

/* tv_store_replace swaps the rows passing a filter for new ones (how the
 * indexer replaces a file's chunks); tv_store_get lists rows by filter. */
static void test_replace_swaps_the_filtered_rows_in_one_step(void)
{
	enum { N = 30 };
	float vecs[N * DIM], nv[3 * DIM];
	tv_record r[3];
	tv_results *got = NULL;
	tv_store *s = open_mem();
	size_t n = 0, gone = 0;
	REQUIRE(s);
	REQUIRE(add_rows(s, "r", N, vecs) == 0);
	/* the odd rows have path odd.txt: replace them by three new rows, one of
	 * which reuses an existing id of an even row (upsert) */
	for (int i = 0; i < 3; i++) {
		rand_vec(nv + i * DIM, DIM);
		r[i].id = i == 2 ? "id4" : i ? "new1" : "new0";
		r[i].text = "new";
		r[i].path = "odd.txt";
		r[i].metadata = "{\"v\": 2}";
		r[i].vector = nv + i * DIM;
	}
	CHECK_EQ_INT(tv_store_replace(s, "r", "path = 'odd.txt'", NULL, r, 3, DIM, &gone), 0);
	CHECK_EQ_INT(gone, N / 2);
	CHECK_EQ_INT(tv_store_count(s, "r", &n), 0);
	CHECK_EQ_INT(n, N / 2 + 2); /* evens (id4 replaced in place) + new0, new1 */
	CHECK_EQ_INT(tv_store_get(s, "r", "path = 'odd.txt'", NULL, 0, 1, &got), 0);
	REQUIRE(got);
	CHECK_EQ_INT(got->n, 3);
	for (size_t i = 0; i < got->n; i++) {
		CHECK_EQ_STR(got->items[i].text, "new");
		/* lancedb keeps the text as given, memory its canonical form */
		CHECK(!strcmp(got->items[i].metadata, "{\"v\":2}") ||
		      !strcmp(got->items[i].metadata, "{\"v\": 2}"));
		CHECK(got->items[i].vector != NULL);
		CHECK_EQ_INT(got->items[i].score == 0.0f, 1);
	}
	tv_results_free(got);
	/* a limit, a dict filter, an unknown collection */
	CHECK_EQ_INT(tv_store_get(s, "r", NULL, "{\"even\": true}", 4, 0, &got), 0);
	CHECK_EQ_INT(got->n, 4);
	CHECK(got->items[0].vector == NULL);
	tv_results_free(got);
	CHECK_EQ_INT(tv_store_get(s, "nope", NULL, NULL, 0, 0, &got), 0);
	CHECK_EQ_INT(got->n, 0);
	tv_results_free(got);
	/* a bad filter changes nothing and says where */
	CHECK_EQ_INT(tv_store_replace(s, "r", "path = ", NULL, r, 3, DIM, &gone), TV_EINVAL);
	CHECK(strstr(tv_store_errmsg(s), "column") != NULL);
	/* n = 0: an atomic delete-where */
	CHECK_EQ_INT(tv_store_replace(s, "r", "path = 'odd.txt'", NULL, NULL, 0, 0, &gone), 0);
	CHECK_EQ_INT(gone, 3);
	CHECK_EQ_INT(tv_store_count(s, "r", &n), 0);
	CHECK_EQ_INT(n, N / 2 - 1);
	tv_store_close(s);
}

static void test_state_round_trip_reproduces_queries_exactly(void)
{
	enum { N = 200 };
	float *vecs = malloc(N * DIM * sizeof *vecs), q[DIM];
	tv_store *s = open_mem(), *t = open_mem();
	char *state = NULL, *state2 = NULL;
	REQUIRE(s && t);
	REQUIRE(add_rows(s, "x", N, vecs) == 0);
	REQUIRE(add_rows(s, "y", 7, vecs) == 0);
	CHECK_EQ_INT(tv_store_get_state(s, &state), 0);
	REQUIRE(state);
	CHECK_EQ_INT(tv_store_restore_state(t, state), 0);
	CHECK_EQ_INT(tv_store_get_state(t, &state2), 0);
	REQUIRE(state2);
	for (int round = 0; round < 20; round++) {
		tv_results *a, *b;
		rand_vec(q, DIM);
		a = query(s, "x", q, 10, round % 2 ? "{\"even\": false}" : NULL);
		b = query(t, "x", q, 10, round % 2 ? "{\"even\": false}" : NULL);
		REQUIRE(a && b && a->n == b->n);
		for (size_t i = 0; i < a->n; i++) {
			CHECK_EQ_STR(a->items[i].id, b->items[i].id);
			CHECK_EQ_STR(a->items[i].metadata, b->items[i].metadata);
			CHECK(memcmp(&a->items[i].score, &b->items[i].score, sizeof(float)) == 0);
		}
		tv_results_free(a);
		tv_results_free(b);
	}
	free(state);
	free(state2);
	tv_store_close(s);
	tv_store_close(t);
	free(vecs);
}

static void test_bad_state_leaves_store_unchanged(void)
{
	float vecs[5 * DIM];
	tv_store *s = open_mem();
	size_t n = 0;
	REQUIRE(s);
	REQUIRE(add_rows(s, "keep", 5, vecs) == 0);
	CHECK_EQ_INT(tv_store_restore_state(s, "{\"collections\": {\"z\": {\"dim\": 2, "
	                                       "\"ids\": [\"a\"], \"texts\": [\"t\"], "
	                                       "\"embeddings\": [[1]]}}}"),
	             TV_EINVAL);
	CHECK(strstr(tv_store_errmsg(s), "collections.z.embeddings[0]") != NULL);
	CHECK_EQ_INT(tv_store_restore_state(s, "{\"collections\": {\"z\": {\"dim\": 1, "
	                                       "\"ids\": [\"a\"], \"texts\": [\"t\"], "
	                                       "\"embeddings\": [[1e999]]}}}"),
	             TV_EINVAL);
	CHECK_EQ_INT(tv_store_restore_state(s, "not json"), TV_EINVAL);
	CHECK_EQ_INT(tv_store_restore_state(s, "{\"type\": \"lancedb\", \"collections\": {}}"),
	             TV_EINVAL);
	tv_store_count(s, "keep", &n);
	CHECK_EQ_INT(n, 5);
	tv_store_close(s);
}

static void test_include_embeddings_returns_stored_vector(void)
{
	float vecs[3 * DIM];
	tv_store *s = open_mem();
	tv_query q = TV_QUERY_INIT;
	tv_results *res = NULL;
	REQUIRE(s);
	REQUIRE(add_rows(s, "e", 3, vecs) == 0);
	q.vector = vecs + DIM;
	q.dim = DIM;
	q.k = 1;
	q.collection = "e";
	q.include_embeddings = 1;
	CHECK_EQ_INT(tv_store_query(s, &q, &res), 0);
	REQUIRE(res && res->n == 1 && res->items[0].vector);
	CHECK(memcmp(res->items[0].vector, vecs + DIM, DIM * sizeof(float)) == 0);
	tv_results_free(res);
	tv_store_close(s);
}

static void test_factory_names_unknown_backend(void)
{
	tv_store *s = NULL;
	CHECK_EQ_INT(tv_store_open(&s, "redis", NULL), TV_EUNSUPPORTED);
	CHECK(s == NULL);
	CHECK(strstr(tv_last_errmsg(), "unknown vector_store 'redis'") != NULL);
	CHECK_EQ_INT(tv_store_open(&s, "memory", "{bad"), TV_EINVAL);
	CHECK_EQ_INT(tv_store_open(&s, "memory", "{\"metric\": \"hamming\"}"), TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "hamming") != NULL);
	CHECK_EQ_STR(tv_errstr(TV_ECORRUPT), "TV_ECORRUPT: corrupt data");
	CHECK_EQ_STR(tv_libversion(), TV_VERSION);
	CHECK_EQ_INT(tv_libversion_number(), TV_VERSION_NUMBER);
}

/* Batches of 4,096 rows or more are checked on several threads: the error
 * still names the first bad row, whichever thread meets it, and nothing is
 * stored. Also: a non-finite value is found wherever it sits in a vector
 * (the check works in blocks of 16 with a tail). */
static void test_bad_rows_in_a_big_batch_name_the_first(void)
{
	enum { N = 6000, D = 37 };
	static const char *threads[] = {"1", "2", "4"};
	static const int at[] = {0, 15, 16, 31, 32, 36};
	tv_store *s = open_mem();
	tv_record *r = calloc(N, sizeof *r);
	char (*ids)[16] = calloc(N, 16);
	float *v = calloc((size_t)N * D, sizeof *v);
	char msg[128];
	size_t n = 0;
	REQUIRE(s && r && ids && v);
	rand_vec(v, (size_t)N * D);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "b%d", i);
		r[i] = (tv_record){ids[i], "t", NULL, NULL, v + (size_t)i * D};
	}
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		setenv("TEAVEC_THREADS", threads[t], 1);
		r[4100].id = ""; /* both halves hold a bad row */
		v[(size_t)5000 * D + 3] = NAN;
		expect_rejected(s, r, N, D, "rows[4100].id: empty");
		v[(size_t)10 * D + 20] = INFINITY; /* now the first half holds the first */
		expect_rejected(s, r, N, D, "rows[10].vector[20] is infinite");
		v[(size_t)10 * D + 20] = 0.25f;
		v[(size_t)5000 * D + 3] = 0.25f;
		r[4100].id = ids[4100];
		for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
			float keep = v[(size_t)5999 * D + at[k]];
			v[(size_t)5999 * D + at[k]] = k % 2 ? -INFINITY : NAN;
			snprintf(msg, sizeof msg, "rows[5999].vector[%d] is %s", at[k],
			         k % 2 ? "infinite" : "NaN");
			expect_rejected(s, r, N, D, msg);
			v[(size_t)5999 * D + at[k]] = keep;
		}
	}
	unsetenv("TEAVEC_THREADS");
	CHECK_EQ_INT(tv_store_add(s, "c", r, N, D, NULL), 0);
	tv_store_count(s, "c", &n);
	CHECK_EQ_INT(n, N);
	free(r);
	free(ids);
	free(v);
	tv_store_close(s);
}

static void run_common(void)
{
	TV_RUN(test_query_returns_nearest_first_with_tea_score);
	TV_RUN(test_upsert_replaces_row_and_last_duplicate_in_batch_wins);
	TV_RUN(test_bad_rows_rejected_whole_with_field_and_index);
	TV_RUN(test_bad_rows_in_a_big_batch_name_the_first);
	TV_RUN(test_query_argument_errors);
	TV_RUN(test_collections_are_isolated);
	TV_RUN(test_delete_removes_rows_and_keeps_others_findable);
	TV_RUN(test_dict_filters_on_metadata);
	TV_RUN(test_include_embeddings_returns_stored_vector);
	TV_RUN(test_selective_filters_return_exactly_the_matching_rows);
	TV_RUN(test_count_and_delete_where_use_the_same_filters);
	TV_RUN(test_replace_swaps_the_filtered_rows_in_one_step);
}

int main(void)
{
	printf("-- memory\n");
	run_common();
	TV_RUN(test_state_round_trip_reproduces_queries_exactly);
	TV_RUN(test_bad_state_leaves_store_unchanged);
	TV_RUN(test_factory_names_unknown_backend);
	printf("-- lancedb\n");
	backend = "lancedb";
	run_common();
	TV_TEST_END();
}
