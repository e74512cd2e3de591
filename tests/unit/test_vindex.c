/* The vector index as the lancedb store uses it (table/vindex.c): built
 * automatically at 256 rows, exact for what it does not cover, deleted
 * rows never returned, persistent, metric checked, damage reported and
 * repaired by a rebuild, folded in by optimize, filtered searches. */
#include <dirent.h>

#include "teavec.h"
#include "tv_test.h"

#define DIM 32

static char root[4096];
static const char *metric = "cosine";

static tv_store *open_db(void)
{
	char settings[4400];
	tv_store *s = NULL;
	snprintf(settings, sizeof settings, "{\"lancedb_path\": \"%s\", \"metric\": \"%s\"}", root,
	         metric);
	if (tv_store_open(&s, "lancedb", settings))
		fprintf(stderr, "open: %s\n", tv_last_errmsg());
	return s;
}

static uint64_t rng = 5;
static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static float centres[50 * DIM];

static void init_centres(void)
{
	for (size_t i = 0; i < 50 * DIM; i++)
		centres[i] = gauss();
}

/* Row i: near centre i % 50, path "p<i % 20>.md", metadata {"half": i % 2}. */
static void vec_of(long i, float *v)
{
	uint64_t save = rng;
	rng = (uint64_t)i * 7919 + 13;
	for (int j = 0; j < DIM; j++)
		v[j] = centres[(i % 50) * DIM + j] + 0.3f * gauss();
	rng = save;
}

static int add(tv_store *s, long first, long n)
{
	tv_record *r = calloc((size_t)n, sizeof *r);
	float *v = malloc((size_t)n * DIM * sizeof *v);
	char(*ids)[24] = calloc((size_t)n, 24), (*paths)[24] = calloc((size_t)n, 24),
	(*meta)[24] = calloc((size_t)n, 24);
	int rc;
	for (long i = 0; i < n; i++) {
		snprintf(ids[i], 24, "id%ld", first + i);
		snprintf(paths[i], 24, "p%ld.md", (first + i) % 20);
		snprintf(meta[i], 24, "{\"half\": %ld}", (first + i) % 2);
		vec_of(first + i, v + i * DIM);
		r[i] = (tv_record){ids[i], "t", paths[i], meta[i], v + i * DIM};
	}
	rc = tv_store_add(s, "c", r, (size_t)n, DIM, NULL);
	if (rc)
		fprintf(stderr, "add: %s\n", tv_store_errmsg(s));
	free(r);
	free(v);
	free(ids);
	free(paths);
	free(meta);
	return rc;
}

static tv_results *query(tv_store *s, const float *q, int k, int exact, const char *where)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	qq.vector = q;
	qq.dim = DIM;
	qq.k = k;
	qq.collection = "c";
	qq.exact = exact;
	qq.where = where;
	if (tv_store_query(s, &qq, &r))
		fprintf(stderr, "query: %s\n", tv_store_errmsg(s));
	return r;
}

/* A number from the stats JSON: "key": N, looked up textually (the key
 * names are unique in the document). -1 when absent. */
static long stat_of(tv_store *s, const char *key)
{
	char *j = NULL, pat[64];
	const char *p;
	long v = -1;
	if (tv_store_stats(s, "c", &j))
		return -2;
	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(j, pat)))
		v = strtol(p + strlen(pat), NULL, 10);
	free(j);
	return v;
}

static void fresh(const char *tag)
{
	snprintf(root, sizeof root, "%s", tv_test_tmpdir(tag));
	metric = "cosine";
}

static void test_index_is_built_when_the_table_reaches_256_rows(void)
{
	tv_store *s;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 200) == 0);
	REQUIRE(add(s, 200, 55) == 0);
	CHECK_EQ_INT(stat_of(s, "rows"), 255);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), -1); /* "index": null */
	REQUIRE(add(s, 255, 1) == 0);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 256);
	CHECK_EQ_INT(stat_of(s, "unindexed_rows"), 0);
	CHECK(stat_of(s, "partitions") >= 1);
	tv_store_close(s);
}

/* recall@10 of default (indexed) queries against exact ones */
static double recall(tv_store *s, int nq, const char *where)
{
	int hit = 0, want = 0;
	for (int i = 0; i < nq; i++) {
		float q[DIM];
		tv_results *a, *e;
		vec_of(100000 + i, q);
		a = query(s, q, 10, 0, where);
		e = query(s, q, 10, 1, where);
		if (!a || !e)
			return 0;
		for (size_t x = 0; x < e->n; x++) {
			want++;
			for (size_t y = 0; y < a->n; y++)
				hit += !strcmp(e->items[x].id, a->items[y].id);
		}
		tv_results_free(a);
		tv_results_free(e);
	}
	return want ? (double)hit / want : 0;
}

static void test_default_queries_reach_high_recall_on_clustered_data(void)
{
	tv_store *s;
	double r;
	fresh("vix");
	REQUIRE((s = open_db()));
	for (long i = 0; i < 8000; i += 2000)
		REQUIRE(add(s, i, 2000) == 0);
	CHECK_EQ_INT(tv_store_optimize(s, "c"), 0);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 8000);
	r = recall(s, 100, NULL);
	CHECK_MSG(r >= 0.95, "recall@10 %.3f < 0.95", r);
	/* a filter in a table this small is searched exactly */
	r = recall(s, 50, "metadata.half = 1");
	CHECK_MSG(r == 1.0, "filtered recall@10 %.3f < 1", r);
	tv_store_close(s);
}

/* Above 32,768 rows, a filter keeping half the rows (and an equality
 * selecting more than 8,192) goes through the index, applied to its
 * candidates with the probes widened. */
static void test_wide_filters_in_a_big_table_go_through_the_index(void)
{
	tv_store *s;
	double r;
	fresh("vix");
	REQUIRE((s = open_db()));
	for (long i = 0; i < 40000; i += 10000)
		REQUIRE(add(s, i, 10000) == 0);
	CHECK_EQ_INT(tv_store_optimize(s, "c"), 0);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 40000);
	r = recall(s, 40, "metadata.half = 1");
	CHECK_MSG(r >= 0.95, "filtered recall@10 %.3f < 0.95", r);
	r = recall(s, 40, "path IN ('p0.md', 'p1.md', 'p2.md', 'p3.md', 'p4.md', 'p5.md', "
	                  "'p6.md', 'p7.md', 'p8.md', 'p9.md')");
	CHECK_MSG(r >= 0.95, "equality-filtered recall@10 %.3f < 0.95", r);
	/* an equality selecting 4,000 rows (10%, at most 8,192) is exact */
	r = recall(s, 40, "path IN ('p0.md', 'p1.md')");
	CHECK_MSG(r == 1.0, "selected-rows recall@10 %.3f < 1", r);
	tv_store_close(s);
}

static void test_rows_added_after_the_index_are_found_at_once(void)
{
	tv_store *s;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 1000) == 0);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 1000);
	REQUIRE(add(s, 5000, 20) == 0); /* too few to fold in automatically */
	CHECK_EQ_INT(stat_of(s, "unindexed_rows"), 20);
	for (long i = 5000; i < 5020; i++) {
		float q[DIM];
		char want[24];
		tv_results *r;
		vec_of(i, q);
		snprintf(want, sizeof want, "id%ld", i);
		r = query(s, q, 1, 0, NULL);
		REQUIRE(r && r->n == 1);
		CHECK_EQ_STR(r->items[0].id, want);
		tv_results_free(r);
	}
	CHECK_EQ_INT(tv_store_optimize(s, "c"), 0);
	CHECK_EQ_INT(stat_of(s, "unindexed_rows"), 0);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 1020);
	tv_store_close(s);
}

static void test_deleted_rows_are_never_returned(void)
{
	tv_store *s;
	float q[DIM];
	tv_results *r;
	const char *gone[5];
	char buf[5][24];
	size_t deleted = 0;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 2000) == 0);
	vec_of(7, q);
	REQUIRE((r = query(s, q, 5, 0, NULL)) && r->n == 5);
	for (int i = 0; i < 5; i++) {
		snprintf(buf[i], sizeof buf[i], "%s", r->items[i].id);
		gone[i] = buf[i];
	}
	tv_results_free(r);
	REQUIRE(tv_store_delete(s, "c", gone, 5, &deleted) == 0);
	CHECK_EQ_INT(deleted, 5);
	REQUIRE((r = query(s, q, 40, 0, NULL)));
	CHECK_EQ_INT(r->n, 40);
	for (size_t i = 0; i < r->n; i++)
		for (int j = 0; j < 5; j++)
			CHECK_MSG(strcmp(r->items[i].id, gone[j]), "deleted %s returned", gone[j]);
	tv_results_free(r);
	/* an upsert of an indexed id: only the new row comes back */
	REQUIRE(add(s, 8, 1) == 0);
	vec_of(8, q);
	REQUIRE((r = query(s, q, 10, 0, NULL)));
	for (size_t i = 0, seen = 0; i < r->n; i++)
		if (!strcmp(r->items[i].id, "id8"))
			CHECK_EQ_INT(++seen, 1);
	tv_results_free(r);
	tv_store_close(s);
}

static void test_reopening_gives_identical_results(void)
{
	tv_store *s;
	tv_results *a[10], *b;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 3000) == 0);
	for (int i = 0; i < 10; i++) {
		float q[DIM];
		vec_of(200000 + i, q);
		a[i] = query(s, q, 10, 0, NULL);
	}
	tv_store_close(s);
	REQUIRE((s = open_db()));
	for (int i = 0; i < 10; i++) {
		float q[DIM];
		vec_of(200000 + i, q);
		b = query(s, q, 10, 0, NULL);
		REQUIRE(a[i] && b && a[i]->n == b->n);
		for (size_t j = 0; j < b->n; j++) {
			CHECK_EQ_STR(a[i]->items[j].id, b->items[j].id);
			CHECK(a[i]->items[j].distance == b->items[j].distance);
		}
		tv_results_free(a[i]);
		tv_results_free(b);
	}
	tv_store_close(s);
}

static void test_a_query_with_another_metric_is_refused(void)
{
	tv_store *s;
	float q[DIM];
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 600) == 0);
	tv_store_close(s);
	metric = "l2";
	REQUIRE((s = open_db()));
	vec_of(3, q);
	qq.vector = q;
	qq.dim = DIM;
	qq.k = 3;
	qq.collection = "c";
	CHECK_EQ_INT(tv_store_query(s, &qq, &r), TV_EINVAL);
	CHECK_MSG(strstr(tv_store_errmsg(s), "cosine") && strstr(tv_store_errmsg(s), "l2"),
	          "message: %s", tv_store_errmsg(s));
	/* writes do not silently switch the index to l2 */
	REQUIRE(add(s, 600, 600) == 0);
	CHECK_EQ_INT(tv_store_query(s, &qq, &r), TV_EINVAL);
	/* an exact query still answers; a rebuild makes l2 the index's metric */
	qq.exact = 1;
	CHECK_EQ_INT(tv_store_query(s, &qq, &r), 0);
	CHECK(r && r->n == 3 && !strcmp(r->items[0].id, "id3"));
	tv_results_free(r);
	CHECK_EQ_INT(tv_store_reindex(s, "c"), 0);
	qq.exact = 0;
	r = NULL;
	CHECK_EQ_INT(tv_store_query(s, &qq, &r), 0);
	CHECK(r && r->n == 3 && !strcmp(r->items[0].id, "id3"));
	tv_results_free(r);
	tv_store_close(s);
}

/* The index file under c.lance/_teavec/ (name into out). */
static int index_file(char *out, size_t n)
{
	char dir[4200];
	struct dirent *e;
	size_t dl;
	DIR *d;
	int found = 0;
	snprintf(dir, sizeof dir, "%s/c.lance/_teavec", root);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "ivfpq-", 6)) {
			dl = strlen(dir);
			if (dl + 2 + strlen(e->d_name) <= n) {
				memcpy(out, dir, dl);
				out[dl] = '/';
				strcpy(out + dl + 1, e->d_name);
			}
			found++;
		}
	closedir(d);
	return found;
}

static void test_a_damaged_index_is_reported_and_a_rebuild_repairs_it(void)
{
	tv_store *s;
	char path[4400];
	float q[DIM];
	tv_results *r;
	FILE *f;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 1000) == 0);
	tv_store_close(s);
	REQUIRE(index_file(path, sizeof path) == 1);
	REQUIRE((f = fopen(path, "r+b")));
	fseek(f, 200, SEEK_SET); /* inside the centroids */
	fputc(0x7f, f);
	fclose(f);
	REQUIRE((s = open_db()));
	vec_of(1, q);
	{
		tv_query qq = TV_QUERY_INIT;
		tv_results *bad = NULL;
		qq.vector = q;
		qq.dim = DIM;
		qq.k = 3;
		qq.collection = "c";
		CHECK_EQ_INT(tv_store_query(s, &qq, &bad), TV_ECORRUPT);
		CHECK_MSG(strstr(tv_store_errmsg(s), strrchr(path, '/') + 1),
		          "message does not name the file: %s", tv_store_errmsg(s));
	}
	CHECK_EQ_INT(tv_store_optimize(s, "c"), 0); /* optimize rebuilds it */
	REQUIRE((r = query(s, q, 3, 0, NULL)));
	CHECK(r->n == 3 && !strcmp(r->items[0].id, "id1"));
	tv_results_free(r);
	CHECK_EQ_INT(index_file(path, sizeof path), 1); /* the damaged one is gone */
	tv_store_close(s);
}

static void test_the_index_follows_growth_and_old_versions_still_search(void)
{
	tv_store *s;
	char *state = NULL;
	float q[DIM];
	tv_results *r;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 300) == 0);
	CHECK_EQ_INT(stat_of(s, "trained_rows"), 300);
	REQUIRE(tv_store_get_state(s, &state) == 0);
	REQUIRE(add(s, 300, 1200) == 0); /* 4x: retrained */
	CHECK_EQ_INT(stat_of(s, "trained_rows"), 1500);
	CHECK_EQ_INT(stat_of(s, "indexed_rows"), 1500);
	/* back to the 300-row version: its rows are found, the later ones not */
	REQUIRE(tv_store_restore_state(s, state) == 0);
	CHECK_EQ_INT(stat_of(s, "rows"), 300);
	vec_of(1400, q);
	REQUIRE((r = query(s, q, 5, 0, NULL)));
	for (size_t i = 0; i < r->n; i++)
		CHECK(atol(r->items[i].id + 2) < 300);
	tv_results_free(r);
	vec_of(250, q);
	REQUIRE((r = query(s, q, 1, 0, NULL)));
	CHECK(r->n == 1 && !strcmp(r->items[0].id, "id250"));
	tv_results_free(r);
	free(state);
	tv_store_close(s);
}

static void test_selective_filters_are_exact(void)
{
	tv_store *s;
	float q[DIM];
	tv_results *a, *e;
	fresh("vix");
	REQUIRE((s = open_db()));
	REQUIRE(add(s, 0, 4000) == 0);
	vec_of(33, q);
	/* 5% of the rows: the index is skipped, the answer is the exact one */
	a = query(s, q, 10, 0, "path = 'p3.md'");
	e = query(s, q, 10, 1, "path = 'p3.md'");
	REQUIRE(a && e && a->n == 10 && e->n == 10);
	for (size_t i = 0; i < 10; i++) {
		CHECK_EQ_STR(a->items[i].id, e->items[i].id);
		CHECK_EQ_STR(a->items[i].path, "p3.md");
	}
	tv_results_free(a);
	tv_results_free(e);
	tv_store_close(s);
}

/* Uniform random vectors: no cluster structure for partitions to use. */
static void test_data_without_clusters_gets_an_exact_index(void)
{
	tv_store *s;
	tv_record r[2000];
	static float v[2000 * DIM];
	static char ids[2000][16];
	char *st = NULL;
	float q[DIM];
	tv_results *res;
	tv_query qq = TV_QUERY_INIT;
	fresh("vix");
	REQUIRE((s = open_db()));
	for (int i = 0; i < 2000; i++) {
		for (int j = 0; j < DIM; j++)
			v[i * DIM + j] = (float)urand() - 0.5f;
		snprintf(ids[i], sizeof ids[i], "u%d", i);
		r[i] = (tv_record){ids[i], "", NULL, NULL, v + i * DIM};
	}
	REQUIRE(tv_store_add(s, "c", r, 2000, DIM, NULL) == 0);
	REQUIRE(tv_store_stats(s, "c", &st) == 0);
	CHECK_MSG(strstr(st, "exact (no cluster structure)"), "stats: %s", st);
	free(st);
	/* even an explicit nprobes answers exactly: the index holds no codes */
	memcpy(q, v + 1234 * DIM, sizeof q);
	qq.vector = q;
	qq.dim = DIM;
	qq.k = 1;
	qq.collection = "c";
	qq.nprobes = 1;
	REQUIRE(tv_store_query(s, &qq, &res) == 0);
	CHECK(res->n == 1 && !strcmp(res->items[0].id, "u1234"));
	tv_results_free(res);
	tv_store_close(s);
	/* and another metric is no error for an index without codes */
	metric = "l2";
	REQUIRE((s = open_db()));
	REQUIRE(tv_store_query(s, &qq, &res) == 0);
	CHECK(res->n == 1 && !strcmp(res->items[0].id, "u1234"));
	tv_results_free(res);
	tv_store_close(s);
}

int main(void)
{
	init_centres();
	TV_RUN(test_index_is_built_when_the_table_reaches_256_rows);
	TV_RUN(test_default_queries_reach_high_recall_on_clustered_data);
	TV_RUN(test_rows_added_after_the_index_are_found_at_once);
	TV_RUN(test_deleted_rows_are_never_returned);
	TV_RUN(test_reopening_gives_identical_results);
	TV_RUN(test_a_query_with_another_metric_is_refused);
	TV_RUN(test_a_damaged_index_is_reported_and_a_rebuild_repairs_it);
	TV_RUN(test_the_index_follows_growth_and_old_versions_still_search);
	TV_RUN(test_selective_filters_are_exact);
	TV_RUN(test_wide_filters_in_a_big_table_go_through_the_index);
	TV_RUN(test_data_without_clusters_gets_an_exact_index);
	TV_TEST_END();
}
