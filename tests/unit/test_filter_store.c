/*
 * Filters through the public API, on both backends (memory and lancedb),
 * against references computed here from the generated rows, never by the
 * engine:
 *   - values that look like SQL (quotes, ;, --, %, _, backslashes, odd
 *     UTF-8) in ids, texts, paths and metadata, through add, upsert, get,
 *     delete, replace, count-where, delete-where and queries, with SQL and
 *     dict filters: they are only ever literals;
 *   - the SQL and dict front ends select the same rows of a table, by
 *     get, count-where, query and delete-where;
 *   - the prefilter planner: k results whenever k rows match, on a table
 *     with an IVF_PQ index, for filters keeping 0.2% to 50% of the rows,
 *     exactly k rows, fewer than k, and matches the probed partitions do
 *     not hold; selective filters are answered exactly.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "teavec.h"
#include "tv_test.h"

#define DIM 16
#define TV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TV_MIN(a, b) ((a) < (b) ? (a) : (b))

static const char *backend = "memory";

static tv_store *open_store(void)
{
	json_t *js = json_pack("{s:s}", "lancedb_path", tv_test_tmpdir("fstore"));
	char *settings = json_dumps(js, JSON_COMPACT);
	tv_store *s = NULL;
	if (tv_store_open(&s, backend, settings))
		fprintf(stderr, "open %s: %s\n", backend, tv_last_errmsg());
	free(settings);
	json_decref(js);
	return s;
}

static uint64_t rng = 99;
static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void)
{
	return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
}

/* A SQL string literal for v: quoted, every ' doubled (the one escaping
 * rule of the language; nothing else is special inside quotes). */
static char *sql_lit(const char *v)
{
	size_t n = strlen(v), k = 0;
	char *o = malloc(2 * n + 3);
	o[k++] = '\'';
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\'')
			o[k++] = '\'';
		o[k++] = v[i];
	}
	o[k++] = '\'';
	o[k] = 0;
	return o;
}

static char *sql_eq(const char *col, const char *v)
{
	char *l = sql_lit(v), *s = malloc(strlen(col) + strlen(l) + 8);
	sprintf(s, "%s = %s", col, l);
	free(l);
	return s;
}

static char *dict1(const char *key, const char *v)
{
	json_t *d = json_pack("{s:s}", key, v);
	char *s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}

static size_t count_where(tv_store *s, const char *coll, const char *where, const char *dict)
{
	size_t n = 0;
	if (tv_store_count_where(s, coll, where, dict, &n)) {
		fprintf(stderr, "count_where %s / %s: %s\n", where ? where : "-", dict ? dict : "-",
		        tv_store_errmsg(s));
		return (size_t)-1;
	}
	return n;
}

/* ---- injection-looking values --------------------------------------- */

static const char *const odd[] = {
	"x' OR '1'='1",
	"a\"b",
	"1; DROP TABLE t; --",
	"-- c",
	"100%",
	"50_%",
	"\\",
	"'",
	"''",
	"\\'; --",
	"%'; DELETE FROM docs WHERE '1' = '1",
	"\xc3\xa9\xe2\x80\x8b\xc3\xbf\xf0\x9f\x98\x80", /* é, zero-width space, ÿ, an emoji */
	"\xe2\x80\xae\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",  /* right-to-left override, Hebrew */
	"tab\there\nnewline",
	"[\"not\", \"a list\"]",
	"{\"not\": \"an object\"}",
	"NULL",
	"true",
	"$.a",
	"`lang`",
	"metadata['x']",
	"json_extract(metadata, '$.v')",
};
#define NODD (sizeof odd / sizeof odd[0])

static void test_odd_values_are_only_ever_literals(void)
{
	tv_store *s = open_store();
	tv_record recs[2 * NODD];
	char *metas[2 * NODD], decoy_ids[NODD][16];
	float vecs[2 * NODD * DIM];
	size_t n, gone;
	tv_results *r = NULL;
	REQUIRE(s);
	for (size_t i = 0; i < 2 * NODD; i++) {
		json_t *m;
		for (int j = 0; j < DIM; j++)
			vecs[i * DIM + j] = gauss();
		if (i < NODD) {
			m = json_pack("{s:s,s:i,s:[s]}", "v", odd[i], "k", (int)i, "tags", odd[i]);
			recs[i] = (tv_record){odd[i], odd[i], odd[i], NULL, vecs + i * DIM};
		} else { /* a decoy beside each: what a broken quoting would hit */
			snprintf(decoy_ids[i - NODD], 16, "decoy%zu", i - NODD);
			m = json_pack("{s:s,s:i}", "v", "decoy", "k", (int)i);
			recs[i] = (tv_record){decoy_ids[i - NODD], "decoy", "1", NULL, vecs + i * DIM};
		}
		metas[i] = json_dumps(m, JSON_COMPACT);
		recs[i].metadata = metas[i];
		json_decref(m);
	}
	REQUIRE(tv_store_add(s, "odd", recs, NODD, DIM, NULL) == 0);
	REQUIRE(tv_store_add(s, "odd", recs + NODD, NODD, DIM, NULL) == 0); /* a second fragment */
	CHECK_EQ_INT(count_where(s, "odd", NULL, NULL), 2 * NODD);
	for (size_t i = 0; i < NODD; i++) {
		static const char *const cols[] = {"id", "text", "path", "v", "metadata.v",
		                                   "metadata['v']", "json_extract(metadata, '$.v')",
		                                   "tags"};
		static const char *const keys[] = {"id", "text", "path", "v", "tags"};
		for (size_t c = 0; c < TV_ARRAY_LEN(cols); c++) {
			char *w = sql_eq(cols[c], odd[i]);
			CHECK_MSG(count_where(s, "odd", w, NULL) == 1, "%s", w);
			free(w);
		}
		for (size_t c = 0; c < TV_ARRAY_LEN(keys); c++) {
			char *d = dict1(keys[c], odd[i]);
			CHECK_MSG(count_where(s, "odd", NULL, d) == 1, "%s", d);
			free(d);
		}
		{ /* get returns the row itself, byte for byte */
			char *d = dict1("id", odd[i]);
			CHECK_EQ_INT(tv_store_get(s, "odd", NULL, d, 0, 0, &r), 0);
			CHECK(r && r->n == 1 && !strcmp(r->items[0].id, odd[i]) &&
			      !strcmp(r->items[0].text, odd[i]) && r->items[0].path &&
			      !strcmp(r->items[0].path, odd[i]));
			tv_results_free(r);
			r = NULL;
			free(d);
		}
		{ /* a query with the value as a filter finds exactly its row */
			tv_query q = TV_QUERY_INIT;
			char *w = sql_eq("path", odd[i]);
			q.vector = vecs;
			q.dim = DIM;
			q.k = 5;
			q.collection = "odd";
			q.where = w;
			CHECK_EQ_INT(tv_store_query(s, &q, &r), 0);
			CHECK(r && r->n == 1 && !strcmp(r->items[0].id, odd[i]));
			tv_results_free(r);
			r = NULL;
			free(w);
		}
	}
	{ /* all of them in one IN list, SQL and dict */
		size_t len = 16;
		char *w;
		json_t *lst = json_array(), *d;
		char *dj;
		for (size_t i = 0; i < NODD; i++)
			len += 2 * strlen(odd[i]) + 4;
		w = malloc(len);
		strcpy(w, "id IN (");
		for (size_t i = 0; i < NODD; i++) {
			char *l = sql_lit(odd[i]);
			strcat(w, l);
			strcat(w, i + 1 < NODD ? ", " : ")");
			free(l);
			json_array_append_new(lst, json_string(odd[i]));
		}
		d = json_pack("{s:o}", "path_in", lst);
		dj = json_dumps(d, JSON_COMPACT);
		CHECK_EQ_INT(count_where(s, "odd", w, NULL), NODD);
		CHECK_EQ_INT(count_where(s, "odd", NULL, dj), NODD);
		CHECK_EQ_INT(count_where(s, "odd", w, dj), NODD);
		free(w);
		free(dj);
		json_decref(d);
	}
	/* upsert: same ids, new texts; the decoys untouched */
	for (size_t i = 0; i < NODD; i++)
		recs[i].text = "upserted";
	REQUIRE(tv_store_add(s, "odd", recs, NODD, DIM, NULL) == 0);
	CHECK_EQ_INT(count_where(s, "odd", NULL, NULL), 2 * NODD);
	CHECK_EQ_INT(count_where(s, "odd", "text = 'upserted'", NULL), NODD);
	CHECK_EQ_INT(count_where(s, "odd", "text = 'decoy'", NULL), NODD);
	/* delete by id (a direct id path), the even ones */
	{
		const char *ids[NODD];
		size_t k = 0;
		for (size_t i = 0; i < NODD; i += 2)
			ids[k++] = odd[i];
		CHECK_EQ_INT(tv_store_delete(s, "odd", ids, k, &gone), 0);
		CHECK_EQ_INT(gone, k);
		for (size_t i = 0; i < NODD; i++) {
			char *w = sql_eq("id", odd[i]);
			CHECK_MSG(count_where(s, "odd", w, NULL) == (i % 2 ? 1u : 0u), "%s", w);
			free(w);
		}
	}
	/* replace by a dict filter on path: the row goes, a new one comes */
	{
		tv_record nr = {"replacement", "new", odd[1], "{\"v\": \"new\"}", vecs};
		char *d = dict1("path", odd[1]);
		CHECK_EQ_INT(tv_store_replace(s, "odd", NULL, d, &nr, 1, DIM, &gone), 0);
		CHECK_EQ_INT(gone, 1);
		CHECK_EQ_INT(count_where(s, "odd", NULL, d), 1);
		CHECK_EQ_INT(count_where(s, "odd", "id = 'replacement'", d), 1);
		free(d);
	}
	/* delete-where by SQL and by dict, one value each, from the odd ones */
	for (size_t i = 3; i < NODD; i += 2) {
		char *f = (i / 2) % 2 ? sql_eq("v", odd[i]) : dict1("v", odd[i]);
		bool is_sql = (i / 2) % 2;
		CHECK_EQ_INT(tv_store_delete_where(s, "odd", is_sql ? f : NULL, is_sql ? NULL : f,
		                                   &gone),
		             0);
		CHECK_MSG(gone == 1, "delete_where %s deleted %zu", f, gone);
		free(f);
	}
	/* what is left: the decoys and the replacement */
	n = count_where(s, "odd", NULL, NULL);
	CHECK_EQ_INT(n, NODD + 1);
	CHECK_EQ_INT(count_where(s, "odd", "v = 'decoy'", NULL), NODD);
	for (size_t i = 0; i < 2 * NODD; i++)
		free(metas[i]);
	tv_store_close(s);
}

/* ---- both front ends over one table ---------------------------------- */

#define NT 600

static const char *const langs[] = {"en", "fr", "de", "es"};

/* Row i of the table: id "d<i>"; path NULL every 7th, else
 * "dir<i%3>/f<i%10>.md"; metadata lang (missing every 11th, null every
 * 13th), year 2015 + i%10, score (i%17)/4, flag i%3 == 0, tags (odd rows)
 * ["t<i%5>", "t<(i+1)%5>"]. */
typedef struct trow {
	bool has_path, has_lang, lang_null, has_tags;
	char path[32];
	const char *lang;
	int year;
	double score;
	bool flag;
	int t1, t2;
} trow;

static trow gen(int i)
{
	trow r;
	memset(&r, 0, sizeof r);
	r.has_path = i % 7 != 0;
	snprintf(r.path, sizeof r.path, "dir%d/f%d.md", i % 3, i % 10);
	r.has_lang = i % 11 != 0;
	r.lang_null = r.has_lang && i % 13 == 0;
	r.lang = langs[i % 4];
	r.year = 2015 + i % 10;
	r.score = (i % 17) / 4.0;
	r.flag = i % 3 == 0;
	r.has_tags = i % 2;
	r.t1 = i % 5;
	r.t2 = (i + 1) % 5;
	return r;
}

static int add_table(tv_store *s, const char *coll)
{
	static tv_record recs[NT];
	static char ids[NT][16], *metas[NT];
	static float vecs[NT * DIM];
	int rc = 0;
	for (int i = 0; i < NT; i++) {
		trow r = gen(i);
		json_t *m = json_pack("{s:i,s:f,s:b}", "year", r.year, "score", r.score, "flag", r.flag);
		if (r.has_lang)
			json_object_set_new(m, "lang", r.lang_null ? json_null() : json_string(r.lang));
		if (r.has_tags) {
			char a[8], b[8];
			snprintf(a, sizeof a, "t%d", r.t1);
			snprintf(b, sizeof b, "t%d", r.t2);
			json_object_set_new(m, "tags", json_pack("[s,s]", a, b));
		}
		metas[i] = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		snprintf(ids[i], sizeof ids[i], "d%d", i);
		for (int j = 0; j < DIM; j++)
			vecs[i * DIM + j] = gauss();
		recs[i] = (tv_record){ids[i], "t", NULL, metas[i], vecs + i * DIM};
	}
	/* three batches (three fragments for lancedb), then deletions */
	for (int b = 0; b < 3 && !rc; b++) {
		for (int i = b * NT / 3; i < (b + 1) * NT / 3; i++)
			recs[i].path = gen(i).has_path ? strdup(gen(i).path) : NULL;
		rc = tv_store_add(s, coll, recs + b * NT / 3, NT / 3, DIM, NULL);
		for (int i = b * NT / 3; i < (b + 1) * NT / 3; i++)
			free((char *)recs[i].path);
	}
	for (int i = 0; i < NT; i++)
		free(metas[i]);
	if (!rc) {
		const char *del[] = {"d5", "d250", "d599", "d42"};
		rc = tv_store_delete(s, coll, del, 4, NULL);
	}
	return rc;
}

static bool deleted_row(int i) { return i == 5 || i == 250 || i == 599 || i == 42; }

#define LANG_IS(v) (r.has_lang && !r.lang_null && !strcmp(r.lang, v))
#define LANG_NN (r.has_lang && !r.lang_null)
#define HAS_TAG(t) (r.has_tags && (r.t1 == (t) || r.t2 == (t)))
#define PATH_IS(v) (r.has_path && !strcmp(r.path, v))

typedef bool (*tpred)(int i, trow r);
#define TP(name, expr) static bool name(int i, trow r) { (void)i; (void)r; return (expr); }

TP(q_lang_en, LANG_IS("en"))
TP(q_fr_2020, LANG_IS("fr") && r.year >= 2020)
TP(q_year_in, r.year == 2016 || r.year == 2019)
TP(q_tag2, HAS_TAG(2))
TP(q_tag_ne2, r.has_tags && !HAS_TAG(2))
TP(q_tags_in, HAS_TAG(0) || HAS_TAG(4))
TP(q_path, PATH_IS("dir1/f4.md"))
TP(q_path_in, PATH_IS("dir1/f4.md") || PATH_IS("dir2/f5.md") || PATH_IS("dir0/f0.md"))
TP(q_lang_ne, LANG_NN && strcmp(r.lang, "en"))
TP(q_lang_null, !LANG_NN)
TP(q_lang_nn, LANG_NN)
TP(q_flag, r.flag)
TP(q_score_lt, r.score < 1.5)
TP(q_score_range, r.score >= 1 && r.score <= 2.5)
TP(q_ids, i == 1 || i == 2 || i == 250 || i == 333)
TP(q_path_null, !r.has_path)
TP(q_year_ne, r.year != 2017)
TP(q_three, LANG_IS("de") && r.year > 2018 && r.flag)
TP(q_lang_in_null, LANG_IS("es"))

static const struct {
	const char *dict, *sql;
	tpred ref;
} fpairs[] = {
	{"{\"lang\": \"en\"}", "lang = 'en'", q_lang_en},
	{"{\"lang\": \"fr\", \"year_gte\": 2020}", "metadata.lang = 'fr' AND year >= 2020", q_fr_2020},
	{"{\"year_in\": [2016, 2019]}", "year IN (2016, 2019)", q_year_in},
	{"{\"tags\": \"t2\"}", "tags = 't2'", q_tag2},
	{"{\"tags_ne\": \"t2\"}", "tags <> 't2'", q_tag_ne2},
	{"{\"tags_in\": [\"t0\", \"t4\"]}", "tags IN ('t0', 't4')", q_tags_in},
	{"{\"path\": \"dir1/f4.md\"}", "path = 'dir1/f4.md'", q_path},
	{"{\"path_in\": [\"dir1/f4.md\", \"dir2/f5.md\", \"dir0/f0.md\", \"dir1/f4.md\"]}",
	 "path IN ('dir1/f4.md', 'dir2/f5.md', 'dir0/f0.md')", q_path_in},
	{"{\"lang_ne\": \"en\"}", "lang != 'en'", q_lang_ne},
	{"{\"lang\": null}", "lang IS NULL", q_lang_null},
	{"{\"lang_ne\": null}", "json_extract(metadata, '$.lang') IS NOT NULL", q_lang_nn},
	{"{\"flag\": true}", "flag", q_flag},
	{"{\"score_lt\": 1.5}", "score < 1.5", q_score_lt},
	{"{\"score_gte\": 1, \"score_lte\": 2.5}", "score BETWEEN 1 AND 2.5", q_score_range},
	{"{\"id_in\": [\"d1\", \"d2\", \"d250\", \"d333\", \"nope\"]}",
	 "id IN ('d1', 'd2', 'd250', 'd333', 'nope')", q_ids},
	{"{\"path\": null}", "path IS NULL", q_path_null},
	{"{\"year_ne\": 2017}", "NOT year = 2017", q_year_ne},
	{"{\"lang\": \"de\", \"year_gt\": 2018, \"flag\": true}",
	 "`lang` = 'de' AND year > 2018 AND flag = TRUE", q_three},
	{"{\"lang_in\": [\"es\", null]}", "lang IN ('es', NULL)", q_lang_in_null},
};

/* The ids a result holds, as a membership array over the table. */
static bool ids_of(const tv_results *r, bool *in)
{
	memset(in, 0, NT * sizeof *in);
	for (size_t i = 0; r && i < r->n; i++) {
		int k = atoi(r->items[i].id + 1);
		if (k < 0 || k >= NT || in[k])
			return false; /* out of range or listed twice */
		in[k] = true;
	}
	return r != NULL;
}

static void test_both_front_ends_select_the_same_rows_of_a_table(void)
{
	static bool want[NT], got[NT];
	tv_store *s = open_store();
	float q[DIM] = {0};
	REQUIRE(s);
	REQUIRE(add_table(s, "t") == 0);
	q[0] = 1;
	for (size_t c = 0; c < TV_ARRAY_LEN(fpairs); c++) {
		size_t nwant = 0;
		for (int i = 0; i < NT; i++)
			nwant += want[i] = !deleted_row(i) && fpairs[c].ref(i, gen(i));
		for (int fe = 0; fe < 2; fe++) {
			const char *w = fe ? NULL : fpairs[c].sql, *d = fe ? fpairs[c].dict : NULL;
			const char *what = fe ? d : w;
			tv_results *r = NULL;
			tv_query qq = TV_QUERY_INIT;
			CHECK_MSG(count_where(s, "t", w, d) == nwant, "%s: count %zu, want %zu", what,
			          count_where(s, "t", w, d), nwant);
			CHECK_EQ_INT(tv_store_get(s, "t", w, d, 0, 0, &r), 0);
			CHECK_MSG(ids_of(r, got) && !memcmp(got, want, sizeof want), "%s: get", what);
			tv_results_free(r);
			r = NULL;
			qq.vector = q;
			qq.dim = DIM;
			qq.k = NT;
			qq.collection = "t";
			qq.where = w;
			qq.filter_json = d;
			CHECK_EQ_INT(tv_store_query(s, &qq, &r), 0);
			CHECK_MSG(ids_of(r, got) && !memcmp(got, want, sizeof want), "%s: query", what);
			tv_results_free(r);
			r = NULL;
			/* a limit keeps the first rows in storage order (lancedb's is
			 * insertion order; the memory store moves its last row into the
			 * hole a delete leaves, so there only membership is checked) */
			if (nwant > 3 && strcmp(backend, "lancedb")) {
				bool sub = true;
				CHECK_EQ_INT(tv_store_get(s, "t", w, d, 3, 0, &r), 0);
				CHECK(r && r->n == 3);
				for (size_t k = 0; r && k < r->n; k++)
					sub &= want[atoi(r->items[k].id + 1)];
				CHECK_MSG(sub, "%s: limit 3 returned a row that does not match", what);
				tv_results_free(r);
				r = NULL;
			} else if (nwant > 3) {
				size_t k = 0;
				CHECK_EQ_INT(tv_store_get(s, "t", w, d, 3, 0, &r), 0);
				CHECK(r && r->n == 3);
				for (int i = 0; r && i < NT && k < 3; i++)
					if (want[i]) {
						char id[16];
						snprintf(id, sizeof id, "d%d", i);
						CHECK_MSG(!strcmp(r->items[k].id, id), "%s: limit 3: %s at %zu, want %s",
						          what, r->items[k].id, k, id);
						k++;
					}
				tv_results_free(r);
				r = NULL;
			}
		}
	}
	tv_store_close(s);
}

/* delete-where through each front end removes exactly the reference's
 * rows, in one step, and count-where agrees before and after. */
static void test_delete_where_removes_exactly_the_matching_rows(void)
{
	static const size_t pick[] = {0, 3, 6, 9, 12, 17};
	for (size_t p = 0; p < TV_ARRAY_LEN(pick); p++) {
		for (int fe = 0; fe < 2; fe++) {
			size_t c = pick[p], nwant = 0, gone = 0, left = 0;
			tv_store *s = open_store();
			const char *w = fe ? NULL : fpairs[c].sql, *d = fe ? fpairs[c].dict : NULL;
			tv_results *r = NULL;
			REQUIRE(s);
			REQUIRE(add_table(s, "t") == 0);
			for (int i = 0; i < NT; i++)
				nwant += !deleted_row(i) && fpairs[c].ref(i, gen(i));
			CHECK_EQ_INT(tv_store_delete_where(s, "t", w, d, &gone), 0);
			CHECK_MSG(gone == nwant, "%s: deleted %zu, want %zu", fe ? d : w, gone, nwant);
			CHECK_EQ_INT(count_where(s, "t", w, d), 0);
			CHECK_EQ_INT(count_where(s, "t", NULL, NULL), NT - 4 - nwant);
			CHECK_EQ_INT(tv_store_get(s, "t", NULL, NULL, 0, 0, &r), 0);
			for (size_t k = 0; r && k < r->n; k++) {
				int i = atoi(r->items[k].id + 1);
				left += !deleted_row(i) && !fpairs[c].ref(i, gen(i));
			}
			CHECK_EQ_INT(left, NT - 4 - nwant);
			tv_results_free(r);
			/* again: nothing left to delete, no error */
			CHECK_EQ_INT(tv_store_delete_where(s, "t", w, d, &gone), 0);
			CHECK_EQ_INT(gone, 0);
			tv_store_close(s);
		}
	}
	{ /* errors: no filter, a bad one, an unknown function; nothing deleted */
		tv_store *s = open_store();
		size_t gone = 7;
		REQUIRE(s);
		REQUIRE(add_table(s, "t") == 0);
		CHECK_EQ_INT(tv_store_delete_where(s, "t", NULL, NULL, &gone), TV_EINVAL);
		CHECK_EQ_INT(tv_store_delete_where(s, "t", "lang = ", NULL, &gone), TV_EINVAL);
		CHECK(strstr(tv_store_errmsg(s), "at column 8") != NULL);
		CHECK_EQ_INT(tv_store_delete_where(s, "t", "lower(lang) = 'en'", NULL, &gone), TV_EINVAL);
		CHECK(strstr(tv_store_errmsg(s), "unknown function lower") != NULL);
		CHECK_EQ_INT(tv_store_count_where(s, "t", "year >", NULL, &gone), TV_EINVAL);
		CHECK_EQ_INT(tv_store_delete_where(s, "t", NULL, "{\"lang\": {\"x\": 1}}", &gone),
		             TV_EINVAL);
		CHECK_EQ_INT(count_where(s, "t", NULL, NULL), NT - 4);
		/* a missing collection: nothing to count or delete */
		CHECK_EQ_INT(count_where(s, "nope", "TRUE", NULL), 0);
		CHECK_EQ_INT(tv_store_delete_where(s, "nope", "TRUE", NULL, &gone), 0);
		CHECK_EQ_INT(gone, 0);
		tv_store_close(s);
	}
}

/* ---- prefilter planning ----------------------------------------------- */

#define NP 4000
#define NC 50
static float centres[NC * DIM];

/* Row i: near centre i % NC; metadata {"n": i, "c": i % NC, "g":
 * "g<i % 100>"}; path "p<i % 40>.md". */
static void pvec(long i, float *v)
{
	uint64_t save = rng;
	rng = (uint64_t)i * 7919 + 13;
	for (int j = 0; j < DIM; j++)
		v[j] = centres[(i % NC) * DIM + j] + 0.3f * gauss();
	rng = save;
}

static int add_clustered(tv_store *s)
{
	tv_record *r = calloc(NP, sizeof *r);
	float *v = malloc((size_t)NP * DIM * sizeof *v);
	char(*ids)[16] = calloc(NP, 16), (*paths)[16] = calloc(NP, 16), (*meta)[64] = calloc(NP, 64);
	int rc;
	for (long i = 0; i < NP; i++) {
		snprintf(ids[i], 16, "r%ld", i);
		snprintf(paths[i], 16, "p%ld.md", i % 40);
		snprintf(meta[i], 64, "{\"n\": %ld, \"c\": %ld, \"g\": \"g%ld\"}", i, i % NC, i % 100);
		pvec(i, v + i * DIM);
		r[i] = (tv_record){ids[i], "t", paths[i], meta[i], v + i * DIM};
	}
	rc = tv_store_add(s, "p", r, NP / 2, DIM, NULL);
	if (!rc)
		rc = tv_store_add(s, "p", r + NP / 2, NP / 2, DIM, NULL);
	if (!rc)
		rc = tv_store_optimize(s, "p"); /* every row under the index */
	free(r);
	free(v);
	free(ids);
	free(paths);
	free(meta);
	return rc;
}

typedef bool (*ppred)(long i);
static bool f_n_lt_8(long i) { return i < 8; }
static bool f_n_lt_60(long i) { return i < 60; }       /* 1.5% */
static bool f_n_lt_120(long i) { return i < 120; }     /* 3% */
static bool f_exact_k(long i) { return i >= 1000 && i < 1010; }
static bool f_c_ge_35(long i) { return i % NC >= 35; } /* 30% */
static bool f_c_lt_15(long i) { return i % NC < 15; }  /* 30% */
static bool f_half(long i) { return i >= NP / 2; }     /* 50% */
static bool f_g3(long i) { return i % 100 == 1 || i % 100 == 2 || i % 100 == 3; } /* 3% */
static bool f_c7(long i) { return i % NC == 7; }       /* 2% */
static bool f_path(long i) { return i % 40 == 9; }     /* 2.5% */
static bool f_ids(long i) { return i == 3 || i == 77 || i == 1234 || i == 3999; }
static bool f_none(long i) { (void)i; return false; }

static const struct {
	const char *where;
	ppred ref;
	int k;
	int nprobes;
	bool exact_plan; /* the planner answers it exactly: results equal the exact search */
} pcases[] = {
	{"n < 8", f_n_lt_8, 10, 0, true},
	{"n < 60", f_n_lt_60, 10, 0, true},
	{"n < 120", f_n_lt_120, 10, 0, false},
	{"n >= 1000 AND n < 1010", f_exact_k, 10, 0, true},
	{"c >= 35", f_c_ge_35, 10, 0, false},
	{"c >= 35", f_c_ge_35, 10, 1, false}, /* the probed partitions hold none */
	{"c < 15", f_c_lt_15, 10, 0, false},
	{"n >= 2000", f_half, 10, 0, false},
	{"g IN ('g1', 'g2', 'g3')", f_g3, 10, 0, false},
	{"c = 7", f_c7, 50, 0, false},
	{"metadata.c = 7", f_c7, 80, 1, false}, /* k = every match */
	{"path = 'p9.md'", f_path, 10, 0, false},
	{"id IN ('r3', 'r77', 'r1234', 'r3999')", f_ids, 10, 0, true},
	{"n > 5000", f_none, 10, 0, true},
};

static tv_results *pquery(tv_store *s, const float *q, int k, const char *where, int exact,
                          int nprobes)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	qq.vector = q;
	qq.dim = DIM;
	qq.k = k;
	qq.collection = "p";
	qq.where = where;
	qq.exact = exact;
	qq.nprobes = nprobes;
	if (tv_store_query(s, &qq, &r))
		fprintf(stderr, "query %s: %s\n", where, tv_store_errmsg(s));
	return r;
}

static void test_prefilter_returns_k_whenever_k_rows_match(void)
{
	tv_store *s = open_store();
	char *st = NULL;
	REQUIRE(s);
	REQUIRE(add_clustered(s) == 0);
	if (!strcmp(backend, "lancedb")) { /* the point: an index that partitions */
		REQUIRE(tv_store_stats(s, "p", &st) == 0);
		CHECK_MSG(strstr(st, "\"search\":\"ivf_pq\"") && strstr(st, "\"unindexed_rows\":0"),
		          "stats: %s", st);
		free(st);
	}
	for (size_t c = 0; c < TV_ARRAY_LEN(pcases); c++) {
		size_t matches = 0, hit = 0, want_total = 0;
		for (long i = 0; i < NP; i++)
			matches += pcases[c].ref(i);
		for (int qi = 0; qi < 12; qi++) {
			float q[DIM];
			size_t want = TV_MIN((size_t)pcases[c].k, matches);
			tv_results *a, *e;
			pvec(100000 + qi * 50, q); /* near centre 0 */
			if (qi % 2)
				pvec(100000 + qi * 37 + 1, q);
			a = pquery(s, q, pcases[c].k, pcases[c].where, 0, pcases[c].nprobes);
			e = pquery(s, q, pcases[c].k, pcases[c].where, 1, 0);
			if (!a || !e) {
				CHECK(0);
				tv_results_free(a);
				tv_results_free(e);
				continue;
			}
			CHECK_MSG(a->n == want, "'%s' (k %d, nprobes %d): %zu results, %zu rows match",
			          pcases[c].where, pcases[c].k, pcases[c].nprobes, a->n, matches);
			CHECK_EQ_INT(e->n, want);
			for (size_t x = 0; x < a->n; x++)
				CHECK_MSG(pcases[c].ref(atol(a->items[x].id + 1)), "'%s': %s does not match",
				          pcases[c].where, a->items[x].id);
			for (size_t x = 0; x < e->n; x++) {
				bool found = false;
				for (size_t y = 0; y < a->n && !found; y++)
					found = !strcmp(e->items[x].id, a->items[y].id);
				hit += found;
			}
			want_total += e->n;
			if (pcases[c].exact_plan)
				for (size_t x = 0; x < a->n && x < e->n; x++)
					CHECK_MSG(!strcmp(a->items[x].id, e->items[x].id),
					          "'%s': result %zu is %s, the exact search's %s", pcases[c].where,
					          x, a->items[x].id, e->items[x].id);
			tv_results_free(a);
			tv_results_free(e);
		}
		{
			double recall = want_total ? (double)hit / (double)want_total : 1.0;
			printf("  %-40s k %3d nprobes %d: %4zu rows match, recall@k %.3f\n",
			       pcases[c].where, pcases[c].k, pcases[c].nprobes, matches, recall);
			CHECK_MSG(recall >= (pcases[c].exact_plan ? 1.0 : 0.9), "'%s': recall %.3f",
			          pcases[c].where, recall);
		}
	}
	tv_store_close(s);
}

static void run_all(void)
{
	TV_RUN(test_odd_values_are_only_ever_literals);
	TV_RUN(test_both_front_ends_select_the_same_rows_of_a_table);
	TV_RUN(test_delete_where_removes_exactly_the_matching_rows);
	TV_RUN(test_prefilter_returns_k_whenever_k_rows_match);
}

int main(void)
{
	tv_store *probe = NULL;
	for (size_t i = 0; i < NC * DIM; i++)
		centres[i] = gauss();
	printf("-- memory\n");
	run_all();
	if (tv_store_open(&probe, "lancedb", "{\"lancedb_path\": \"/nonexistent-teavec\"}") ==
	    TV_EUNSUPPORTED) {
		printf("-- lancedb: not built, skipped\n");
		TV_TEST_END();
	}
	tv_store_close(probe);
	printf("-- lancedb\n");
	backend = "lancedb";
	run_all();
	TV_TEST_END();
}
