/*
 * The filter language against a reference: each case pairs a SQL WHERE
 * expression with a plain C predicate over the row struct below, written
 * independently of the parser and evaluator (SQL NULL rules spelled out by
 * hand). Every case runs on the raw metadata JSON text and on the parsed
 * object; both must give the reference's row set.
 */
#include <jansson.h>

#include "query/filter.h"
#include "query/filter_int.h"
#include "tv_test.h"
#include "util/common.h"

typedef struct row {
	const char *id, *path, *text;
	int has_lang;     /* key present */
	const char *lang; /* NULL with has_lang = JSON null */
	int has_year;
	long year;
	int has_score;
	double score;
	int has_flag, flag;
	const char *tags; /* JSON array text or NULL (absent) */
} row;

static const row rows[] = {
	{"r0", "docs/a.md", "hello world", 1, "en", 1, 2019, 1, 0.5, 1, 1, "[\"x\",\"y\"]"},
	{"r1", "docs/b.md", "bonjour", 1, "fr", 1, 2020, 1, 1.5, 1, 0, "[\"y\"]"},
	{"r2", "src/main.c", "int main", 1, "en", 1, 2021, 0, 0, 0, 0, NULL},
	{"r3", NULL, "no path", 1, NULL, 1, 2022, 1, -2.0, 1, 1, "[]"},
	{"r4", "docs/c d.md", "space", 0, NULL, 0, 0, 1, 3.25, 0, 0, "[\"z\"]"},
	{"r5", "src/util.c", "util", 1, "de", 1, 2020, 1, 0.5, 1, 0, NULL},
	{"r6", "docs/x_y.md", "under_score", 1, "en", 1, 2018, 0, 0, 1, 1, "[\"x\"]"},
	{"r7", "README", "readme", 1, "EN", 1, 2024, 1, 10, 0, 0, NULL},
	{"r8", "docs/100%.md", "percent", 1, "es", 0, 0, 1, 0, 1, 0, "[\"x\",\"z\"]"},
	{"r9", "src/π.c", "unicode π", 1, "el", 1, 2020, 1, 2.5, 1, 1, NULL},
	{"r10", "a'b.txt", "it's", 1, "en", 1, 2019, 1, 7, 0, 0, NULL},
	{"r11", "docs/deep/e.md", "deep", 1, "fr", 1, 2023, 1, -1, 1, 1, "[\"y\",\"z\"]"},
	{"r12", "x;--.sql", "drop", 1, "en", 1, 2020, 0, 0, 0, 0, NULL},
	{"r13", "docs/f.md", "", 0, NULL, 1, 2017, 1, 0.25, 1, 0, NULL},
	{"r14", "src/g.c", "g", 1, "fr", 0, 0, 0, 0, 0, 0, "[\"x\"]"},
	{"r15", "docs/h.md", "h", 1, "en", 1, 2021, 1, 5.5, 1, 1, NULL},
	{"r16", "docs/i.md", "i", 1, "", 1, 2022, 1, 1, 0, 0, NULL},
	{"r17", "src/j.h", "j", 1, "de", 1, 2018, 1, 4, 1, 0, "[\"w\"]"},
	{"r18", "docs/k.md", "k", 1, "en", 1, 2025, 1, 9, 1, 1, NULL},
	{"r19", "k.md", "k2", 1, "it", 1, 2020, 1, 8, 0, 0, NULL},
};
#define NROWS (sizeof rows / sizeof rows[0])

/* Reference helpers: 1 only when the SQL condition is TRUE. */
#define LANG_IS(v) (r->has_lang && r->lang && !strcmp(r->lang, v))
#define LANG_NN (r->has_lang && r->lang)
#define YEAR (r->year)
#define HY (r->has_year)
#define SC (r->score)
#define HS (r->has_score)
#define HF (r->has_flag)
#define PATH_IS(v) (r->path && !strcmp(r->path, v))
#define HASTAG(t) (r->tags && strstr(r->tags, "\"" t "\""))
#define PFX(s, p) (!strncmp(s, p, strlen(p)))
#define SFX(s, x) (strlen(s) >= strlen(x) && !strcmp(s + strlen(s) - strlen(x), x))

typedef int (*pred)(const row *r);
#define P(name, expr) static int name(const row *r) { (void)r; return (expr); }

P(p_lang_en, LANG_IS("en"))
P(p_lang_ne_en, LANG_NN && strcmp(r->lang, "en") != 0)
P(p_lang_ne2, LANG_NN && strcmp(r->lang, "en") != 0)
P(p_year_gt, HY && YEAR > 2020)
P(p_year_ge, HY && YEAR >= 2020)
P(p_year_lt, HY && YEAR < 2020)
P(p_year_le, HY && YEAR <= 2020)
P(p_year_eq, HY && YEAR == 2020)
P(p_year_ne, HY && YEAR != 2020)
P(p_and, LANG_IS("en") && HY && YEAR >= 2020)
P(p_or, LANG_IS("fr") || (HY && YEAR > 2022))
P(p_not_lang, LANG_NN && strcmp(r->lang, "en") != 0)
P(p_in, LANG_IS("en") || LANG_IS("fr"))
P(p_not_in, LANG_NN && !LANG_IS("en") && !LANG_IS("fr"))
P(p_in_null, LANG_IS("en"))
P(p_not_in_null, 0)
P(p_is_null, !LANG_NN)
P(p_is_not_null, LANG_NN)
P(p_path_null, r->path == NULL)
P(p_path_nn, r->path != NULL)
P(p_like_docs, r->path && PFX(r->path, "docs/"))
P(p_like_md, r->path && SFX(r->path, ".md"))
P(p_not_like_md, r->path && !SFX(r->path, ".md"))
P(p_like_mid, r->path && strstr(r->path, "/d") != NULL)
P(p_like_one, PATH_IS("src/main.c") || PATH_IS("src/util.c"))
P(p_like_pi, PATH_IS("src/π.c") || PATH_IS("src/g.c"))
P(p_like_pct_lit, r->path && strstr(r->path, "%") != NULL)
P(p_like_us_lit, r->path && strstr(r->path, "_") != NULL)
P(p_like_all, r->path != NULL)
P(p_like_empty, r->path && !*r->path)
P(p_between, HY && YEAR >= 2019 && YEAR <= 2021)
P(p_not_between, HY && (YEAR < 2019 || YEAR > 2021))
P(p_score_real, HS && SC > 1.0)
P(p_score_int, HS && SC >= 1)
P(p_score_neg, HS && SC < 0)
P(p_score_eq, HS && SC == 0.5)
P(p_flag_t, HF && r->flag)
P(p_flag_f, HF && !r->flag)
P(p_flag_ne_t, HF && !r->flag)
P(p_tag_x, HASTAG("x"))
P(p_tag_ne_x, r->tags && !HASTAG("x"))
P(p_tag_in, HASTAG("y") || HASTAG("w"))
P(p_id_eq, !strcmp(r->id, "r3"))
P(p_id_in, !strcmp(r->id, "r1") || !strcmp(r->id, "r2") || !strcmp(r->id, "r19"))
P(p_id_gt, strcmp(r->id, "r5") > 0)
P(p_text_like, strstr(r->text, "o") != NULL)
P(p_text_empty, !*r->text)
P(p_text_quote, !strcmp(r->text, "it's"))
P(p_path_quote, PATH_IS("a'b.txt"))
P(p_path_inject, PATH_IS("x;--.sql"))
P(p_path_space, PATH_IS("docs/c d.md"))
P(p_none, 0)
P(p_all, 1)
P(p_lang_str_vs_num, 0)
P(p_year_vs_str, 0)
P(p_missing, 0)
P(p_missing_nn, 0)
P(p_missing_null, 1)
P(p_not_missing, 0)
P(p_or_unknown, LANG_IS("en"))
P(p_and_unknown_false, 0)
P(p_not_and, !(LANG_IS("en")) && LANG_NN)
P(p_nested, (LANG_IS("en") || LANG_IS("fr")) && HY && YEAR >= 2020 && r->path && PFX(r->path, "docs/"))
P(p_complex, (HS && SC > 2) || (HF && r->flag && HY && YEAR < 2020))
P(p_lang_lt, LANG_NN && strcmp(r->lang, "en") < 0)
P(p_lang_ge, LANG_NN && strcmp(r->lang, "es") >= 0)
P(p_lang_empty, LANG_IS(""))
P(p_case, LANG_IS("EN"))
P(p_yr_in, HY && (YEAR == 2018 || YEAR == 2025))
P(p_yr_in_real, HY && YEAR == 2020)
P(p_score_between, HS && SC >= 0.5 && SC <= 4)
P(p_lang_between, LANG_NN && strcmp(r->lang, "de") >= 0 && strcmp(r->lang, "es") <= 0)
P(p_not_not, LANG_IS("en"))
P(p_year_ne_or_null, HY && YEAR != 2020)
P(p_path_eq_text, 0)
P(p_id_ne_r0, strcmp(r->id, "r0") != 0)
P(p_like_ci, 0)
P(p_path_k, r->path && (PATH_IS("k.md") || PATH_IS("docs/k.md")))
P(p_like_k, r->path && SFX(r->path, "k.md"))
P(p_true_and_en, LANG_IS("en"))
P(p_false_or_fr, LANG_IS("fr"))
P(p_flag_bare, HF && r->flag)
P(p_not_flag_bare, HF && !r->flag)
P(p_year_float, HY && YEAR > 2020)
P(p_between_rev, 0)
P(p_in_mixed, LANG_IS("en") || (HY && YEAR == 2024))
P(p_text_like_us, strstr(r->text, "_") != NULL)
P(p_text_like_u, r->text && strlen(r->text) == 1)
P(p_text_gt, strcmp(r->text, "k") > 0)
P(p_tag_in_none, 0)
P(p_deep_or, LANG_IS("de") || LANG_IS("it") || LANG_IS("el") || LANG_IS("es"))
P(p_lang_ne_null_semantics, LANG_NN && !LANG_IS("fr"))
P(p_score_ne, HS && SC != 0.5)
P(p_year_le_score, 0)
P(p_meta_bracket, LANG_IS("en"))
P(p_json_extract, LANG_IS("fr"))
P(p_json_extract_year, HY && YEAR > 2021)
P(p_quoted_ident, LANG_IS("de"))
P(p_meta_dot, HY && YEAR == 2017)
P(p_id_like, PFX(r->id, "r1"))
P(p_id_not_like, !PFX(r->id, "r1"))
P(p_is_not_null_and, LANG_NN && HY && YEAR < 2019)
P(p_in_single, LANG_IS("it"))
P(p_nested_eq, 1)
P(p_like_bs_pct, r->path && strstr(r->path, "%") != NULL)
P(p_like_bs_us, r->path && strstr(r->path, "_") != NULL)
P(p_like_noesc, 0)
P(p_id_in_dup, !strcmp(r->id, "r1") || !strcmp(r->id, "r2"))
P(p_not_between_null, HY && YEAR > 2019)
P(p_between_null, 0)
P(p_tags_not_in, r->tags && !HASTAG("x"))
P(p_tags_not_in2, r->tags && !HASTAG("x") && !HASTAG("z"))
P(p_true_or_unknown, 1)
P(p_false_and_unknown, 0)
P(p_not_false_and_unknown, 1)
P(p_not_true_and_unknown, 0)
P(p_excluded_middle, 0)
P(p_self_eq, LANG_NN)
P(p_lit_lit, 1)
P(p_score_gt_neg, HS && SC > -1.5)
P(p_score_ge_neg, HS && SC >= -2)
P(p_year_exp, HY && YEAR == 2020)
P(p_score_eq_int, HS && SC == 1)
P(p_missing_not_in, 0)
P(p_not_missing_null, 0)
P(p_kw_case, LANG_IS("en") && HY && !(YEAR < 2020))
P(p_path_not_in, r->path && !PATH_IS("k.md") && !PATH_IS("README"))
P(p_flag_in_bool, HF && r->flag)
P(p_or_null_or, LANG_IS("fr") || LANG_IS("it"))
P(p_text_between, strcmp(r->text, "a") >= 0 && strcmp(r->text, "i") <= 0)
P(p_score_ne_year, 0)
P(p_in_col, r->path && (!strcmp(r->path, r->text) || PATH_IS("README")))

typedef struct fcase {
	const char *sql;
	pred ref;
} fcase;

static const fcase cases[] = {
	{"lang = 'en'", p_lang_en},
	{"lang != 'en'", p_lang_ne_en},
	{"lang <> 'en'", p_lang_ne2},
	{"year > 2020", p_year_gt},
	{"year >= 2020", p_year_ge},
	{"year < 2020", p_year_lt},
	{"year <= 2020", p_year_le},
	{"year = 2020", p_year_eq},
	{"year != 2020", p_year_ne},
	{"lang = 'en' AND year >= 2020", p_and},
	{"lang = 'fr' OR year > 2022", p_or},
	{"NOT lang = 'en'", p_not_lang},
	{"lang IN ('en', 'fr')", p_in},
	{"lang NOT IN ('en', 'fr')", p_not_in},
	{"lang IN ('en', NULL)", p_in_null},
	{"lang NOT IN ('en', NULL)", p_not_in_null},
	{"lang IS NULL", p_is_null},
	{"lang IS NOT NULL", p_is_not_null},
	{"path IS NULL", p_path_null},
	{"path IS NOT NULL", p_path_nn},
	{"path LIKE 'docs/%'", p_like_docs},
	{"path LIKE '%.md'", p_like_md},
	{"path NOT LIKE '%.md'", p_not_like_md},
	{"path LIKE '%/d%'", p_like_mid},
	{"path LIKE 'src/____.c'", p_like_one},
	{"path LIKE 'src/_.c'", p_like_pi},
	{"path LIKE '%!%%' ESCAPE '!'", p_like_pct_lit},
	{"path LIKE '%\\_%' ESCAPE '\\'", p_like_us_lit},
	{"path LIKE '%'", p_like_all},
	{"path LIKE ''", p_like_empty},
	{"year BETWEEN 2019 AND 2021", p_between},
	{"year NOT BETWEEN 2019 AND 2021", p_not_between},
	{"score > 1.0", p_score_real},
	{"score >= 1", p_score_int},
	{"score < 0", p_score_neg},
	{"score = 0.5", p_score_eq},
	{"flag = TRUE", p_flag_t},
	{"flag = false", p_flag_f},
	{"flag != true", p_flag_ne_t},
	{"tags = 'x'", p_tag_x},
	{"tags != 'x'", p_tag_ne_x},
	{"tags IN ('y', 'w')", p_tag_in},
	{"id = 'r3'", p_id_eq},
	{"id IN ('r1', 'r2', 'r19', 'nope')", p_id_in},
	{"id > 'r5'", p_id_gt},
	{"text LIKE '%o%'", p_text_like},
	{"text = ''", p_text_empty},
	{"text = 'it''s'", p_text_quote},
	{"path = 'a''b.txt'", p_path_quote},
	{"path = 'x;--.sql'", p_path_inject},
	{"path = 'docs/c d.md'", p_path_space},
	{"FALSE", p_none},
	{"TRUE", p_all},
	{"lang = 5", p_lang_str_vs_num},
	{"year = '2020'", p_year_vs_str},
	{"missing = 1", p_missing},
	{"missing != 1", p_missing_nn},
	{"missing IS NULL", p_missing_null},
	{"NOT (missing = 1)", p_not_missing},
	{"lang = 'en' OR missing = 1", p_or_unknown},
	{"missing = 1 AND lang = 'zz'", p_and_unknown_false},
	{"NOT (lang = 'en')", p_not_and},
	{"(lang = 'en' OR lang = 'fr') AND year >= 2020 AND path LIKE 'docs/%'", p_nested},
	{"score > 2 OR (flag = true AND year < 2020)", p_complex},
	{"lang < 'en'", p_lang_lt},
	{"lang >= 'es'", p_lang_ge},
	{"lang = ''", p_lang_empty},
	{"lang = 'EN'", p_case},
	{"year IN (2018, 2025)", p_yr_in},
	{"year IN (2020.0)", p_yr_in_real},
	{"score BETWEEN 0.5 AND 4", p_score_between},
	{"lang BETWEEN 'de' AND 'es'", p_lang_between},
	{"NOT NOT lang = 'en'", p_not_not},
	{"year <> 2020", p_year_ne_or_null},
	{"path = text", p_path_eq_text},
	{"id != 'r0'", p_id_ne_r0},
	{"path LIKE 'DOCS/%'", p_like_ci},
	{"path IN ('k.md', 'docs/k.md')", p_path_k},
	{"path LIKE '%k.md'", p_like_k},
	{"TRUE AND lang = 'en'", p_true_and_en},
	{"FALSE OR lang = 'fr'", p_false_or_fr},
	{"flag", p_flag_bare},
	{"NOT flag", p_not_flag_bare},
	{"year > 2020.5", p_year_float},
	{"year BETWEEN 2021 AND 2019", p_between_rev},
	{"lang IN ('en') OR year IN (2024)", p_in_mixed},
	{"text LIKE '%\\_%' ESCAPE '\\'", p_text_like_us},
	{"text LIKE '_'", p_text_like_u},
	{"text > 'k'", p_text_gt},
	{"tags IN ('none')", p_tag_in_none},
	{"lang = 'de' OR lang = 'it' OR lang = 'el' OR lang = 'es'", p_deep_or},
	{"lang != 'fr'", p_lang_ne_null_semantics},
	{"score != 0.5", p_score_ne},
	{"year <= score", p_year_le_score},
	{"metadata['lang'] = 'en'", p_meta_bracket},
	{"json_extract(metadata, '$.lang') = 'fr'", p_json_extract},
	{"json_extract(metadata, '$.year') > 2021", p_json_extract_year},
	{"\"lang\" = 'de'", p_quoted_ident},
	{"metadata.year = 2017", p_meta_dot},
	{"id LIKE 'r1%'", p_id_like},
	{"id NOT LIKE 'r1%'", p_id_not_like},
	{"lang IS NOT NULL AND year < 2019", p_is_not_null_and},
	{"lang IN ('it')", p_in_single},
	{"  lang   =   'en'  ", p_lang_en},
	{"LANG = 'en' and Year >= 2020", p_none},
	{"lang = 'en' and year >= 2020", p_and},
	/* quoting of names: backticks (LanceDB's), double quotes, brackets */
	{"`lang` = 'de'", p_quoted_ident},
	{"metadata.`lang` = 'en'", p_meta_bracket},
	{"metadata[\"lang\"] = 'en'", p_meta_bracket},
	{"metadata['nested']['a']['b'] = 'c\"q'", p_nested_eq},
	{"nested.a.b = 'c\"q'", p_nested_eq},
	{"json_extract(metadata, '$.nested.a.b') LIKE 'c%'", p_nested_eq},
	{"json_extract(metadata, '$[\"nested\"].a') IS NOT NULL", p_nested_eq},
	/* LIKE without ESCAPE: \% and \_ are literal (LanceDB's rule) */
	{"path LIKE '%\\%%'", p_like_bs_pct},
	{"path LIKE '%\\_%'", p_like_bs_us},
	{"path LIKE '%\\%%' ESCAPE ''", p_like_noesc},
	{"id IN ('r1', 'r2', 'r1', 'r2')", p_id_in_dup},
	/* three-valued logic */
	{"year NOT BETWEEN NULL AND 2019", p_not_between_null},
	{"year BETWEEN NULL AND 3000", p_between_null},
	{"tags NOT IN ('x')", p_tags_not_in},
	{"tags NOT IN ('x', 'z')", p_tags_not_in2},
	{"TRUE OR missing = 1", p_true_or_unknown},
	{"FALSE AND missing = 1", p_false_and_unknown},
	{"NOT (FALSE AND missing = 1)", p_not_false_and_unknown},
	{"NOT (TRUE AND missing = 1)", p_not_true_and_unknown},
	{"missing = 1 OR NOT missing = 1", p_excluded_middle},
	{"lang = lang", p_self_eq},
	{"1 = 1 AND 'a' < 'b'", p_lit_lit},
	{"missing NOT IN ('a')", p_missing_not_in},
	{"NOT missing IS NULL", p_not_missing_null},
	/* numbers: negative, exponents, integers against reals */
	{"score > -1.5", p_score_gt_neg},
	{"score >= -2", p_score_ge_neg},
	{"year = 2.02e3", p_year_exp},
	{"score = 1", p_score_eq_int},
	{"lang in ('en') and not year < 2020", p_kw_case},
	{"path NOT IN ('k.md', 'README')", p_path_not_in},
	{"flag IN (true)", p_flag_in_bool},
	{"lang = 'fr' OR NULL OR lang = 'it'", p_or_null_or},
	{"text BETWEEN 'a' AND 'i'", p_text_between},
	{"score <> year AND score = year", p_score_ne_year},
	{"path IN (text, 'README')", p_in_col},
};

static char *row_meta(const row *r)
{
	json_t *o = json_object();
	char *s;
	if (r->has_lang)
		json_object_set_new(o, "lang", r->lang ? json_string(r->lang) : json_null());
	if (r->has_year)
		json_object_set_new(o, "year", json_integer(r->year));
	if (r->has_score)
		json_object_set_new(o, "score", json_real(r->score));
	if (r->has_flag)
		json_object_set_new(o, "flag", json_boolean(r->flag));
	if (r->tags)
		json_object_set_new(o, "tags", json_loads(r->tags, 0, NULL));
	json_object_set_new(o, "nested", json_pack("{s:{s:s}}", "a", "b", "c\"q"));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void view(const row *r, const char *meta, const json_t *obj, tv_row_view *v)
{
	memset(v, 0, sizeof *v);
	v->id = r->id;
	v->id_len = strlen(r->id);
	v->text = r->text;
	v->text_len = strlen(r->text);
	v->path = r->path;
	v->path_len = r->path ? strlen(r->path) : 0;
	v->metadata = meta;
	v->metadata_len = strlen(meta);
	v->metadata_obj = obj;
}

static void test_sql_cases_match_reference_on_text_and_parsed_metadata(void)
{
	char *meta[NROWS];
	json_t *obj[NROWS];
	size_t mismatches = 0;
	for (size_t i = 0; i < NROWS; i++) {
		meta[i] = row_meta(&rows[i]);
		obj[i] = json_loads(meta[i], 0, NULL);
	}
	printf("  %zu expressions x %zu rows\n", TV_ARRAY_LEN(cases), NROWS);
	for (size_t c = 0; c < TV_ARRAY_LEN(cases); c++) {
		tv_filter *f = NULL;
		tv_err err = {0};
		if (tv_filter_parse_sql(&f, cases[c].sql, &err)) {
			CHECK_MSG(0, "parse '%s': %s", cases[c].sql, err.msg);
			continue;
		}
		for (size_t i = 0; i < NROWS; i++) {
			tv_row_view v1, v2;
			int want = cases[c].ref(&rows[i]) != 0;
			view(&rows[i], meta[i], NULL, &v1);
			view(&rows[i], meta[i], obj[i], &v2);
			if (tv_filter_matches(f, &v1) != want || tv_filter_matches(f, &v2) != want) {
				mismatches++;
				fprintf(stderr, "  '%s' on %s: want %d, text %d, parsed %d\n", cases[c].sql,
				        rows[i].id, want, tv_filter_matches(f, &v1), tv_filter_matches(f, &v2));
			}
		}
		tv_filter_free(f);
	}
	CHECK_EQ_INT(mismatches, 0);
	for (size_t i = 0; i < NROWS; i++) {
		free(meta[i]);
		json_decref(obj[i]);
	}
}

/* Structural equality of two ASTs (the dict front end must build what the
 * SQL parser builds for the equivalent expression). */
static bool opnd_equal(const tv_opnd *a, const tv_opnd *b)
{
	if (a->kind != b->kind || a->nkeys != b->nkeys)
		return false;
	for (size_t i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i], b->keys[i]))
			return false;
	if (a->kind != TV_O_LIT)
		return true;
	if (a->lit.type != b->lit.type)
		return false;
	switch (a->lit.type) {
	case TV_V_BOOL: return a->lit.b == b->lit.b;
	case TV_V_INT: return a->lit.i == b->lit.i;
	case TV_V_REAL: return a->lit.r == b->lit.r;
	case TV_V_STR: return a->lit.len == b->lit.len && !memcmp(a->lit.s, b->lit.s, a->lit.len);
	default: return true;
	}
}

static bool ast_equal(const tv_node *a, const tv_node *b)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind || a->negated != b->negated || a->nlist != b->nlist ||
	    a->escape != b->escape || (a->kind == TV_N_CMP && a->op != b->op))
		return false;
	if (!opnd_equal(&a->a, &b->a) || !opnd_equal(&a->b, &b->b) || !opnd_equal(&a->c, &b->c))
		return false;
	for (size_t i = 0; i < a->nlist; i++)
		if (!opnd_equal(&a->list[i], &b->list[i]))
			return false;
	return ast_equal(a->l, b->l) && ast_equal(a->r, b->r);
}

/* Dict filters compile to the very AST of their SQL equivalents, and so
 * select the same rows; the rows are also checked against the reference
 * predicates, independently of the engine. */
static void test_dict_and_sql_front_ends_agree(void)
{
	static const struct {
		const char *dict, *sql;
		pred ref; /* NULL: no reference predicate for this one */
	} pairs[] = {
		{"{\"lang\": \"en\"}", "lang = 'en'", p_lang_en},
		{"{\"lang\": \"en\", \"year_gte\": 2020}", "lang = 'en' AND year >= 2020", p_and},
		{"{\"year_gt\": 2020}", "year > 2020", p_year_gt},
		{"{\"year_lt\": 2020}", "year < 2020", p_year_lt},
		{"{\"year_lte\": 2020}", "year <= 2020", p_year_le},
		{"{\"year_gte\": 2020}", "year >= 2020", p_year_ge},
		{"{\"year_ne\": 2020}", "year != 2020", p_year_ne},
		{"{\"year\": 2020}", "year = 2020", p_year_eq},
		{"{\"lang_ne\": \"en\"}", "lang != 'en'", p_lang_ne_en},
		{"{\"lang_in\": [\"en\", \"fr\"]}", "lang IN ('en', 'fr')", p_in},
		{"{\"lang_in\": [\"en\", null]}", "lang IN ('en', NULL)", p_in_null},
		{"{\"lang_in\": [\"it\"]}", "lang IN ('it')", p_in_single},
		{"{\"year_in\": [2018, 2025]}", "year IN (2018, 2025)", p_yr_in},
		{"{\"year_in\": [2020.0]}", "year IN (2020.0)", p_yr_in_real},
		{"{\"tags\": \"x\"}", "tags = 'x'", p_tag_x},
		{"{\"tags_ne\": \"x\"}", "tags != 'x'", p_tag_ne_x},
		{"{\"tags_in\": [\"y\", \"w\"]}", "tags IN ('y', 'w')", p_tag_in},
		{"{\"flag\": true}", "flag = TRUE", p_flag_t},
		{"{\"flag\": false}", "flag = FALSE", p_flag_f},
		{"{\"flag_ne\": true}", "flag != TRUE", p_flag_ne_t},
		{"{\"score_gt\": 1.0}", "score > 1.0", p_score_real},
		{"{\"score_gte\": 1}", "score >= 1", p_score_int},
		{"{\"score_lt\": 0}", "score < 0", p_score_neg},
		{"{\"score\": 0.5}", "score = 0.5", p_score_eq},
		{"{\"score_gte\": 0.5, \"score_lte\": 4}", "score >= 0.5 AND score <= 4",
		 p_score_between},
		{"{\"path\": \"docs/a.md\"}", "path = 'docs/a.md'", NULL},
		{"{\"path\": \"a'b.txt\"}", "path = 'a''b.txt'", p_path_quote},
		{"{\"path\": \"x;--.sql\"}", "path = 'x;--.sql'", p_path_inject},
		{"{\"path_in\": [\"k.md\", \"docs/k.md\"]}", "path IN ('k.md', 'docs/k.md')", p_path_k},
		{"{\"id\": \"r3\"}", "id = 'r3'", p_id_eq},
		{"{\"id_in\": [\"r1\", \"r2\", \"r19\", \"nope\"]}",
		 "id IN ('r1', 'r2', 'r19', 'nope')", p_id_in},
		{"{\"id_in\": [\"r1\", \"r2\", \"r1\"]}", "id IN ('r1', 'r2')", p_id_in_dup},
		{"{\"id_ne\": \"r0\"}", "id != 'r0'", p_id_ne_r0},
		{"{\"text\": \"it's\"}", "text = 'it''s'", p_text_quote},
		{"{\"text\": \"\"}", "text = ''", p_text_empty},
		{"{\"lang\": null}", "lang IS NULL", p_is_null},
		{"{\"lang_ne\": null}", "lang IS NOT NULL", p_is_not_null},
		{"{\"path\": null}", "path IS NULL", p_path_null},
		{"{\"missing\": 1}", "missing = 1", p_missing},
		{"{\"missing_ne\": 1}", "missing != 1", p_missing_nn},
		{"{\"lang\": 5}", "lang = 5", p_lang_str_vs_num},
		{"{\"year\": \"2020\"}", "year = '2020'", p_year_vs_str},
		{"{\"lang\": \"EN\"}", "lang = 'EN'", p_case},
		{"{\"lang\": \"\"}", "lang = ''", p_lang_empty},
		{"{\"lang_lt\": \"en\"}", "lang < 'en'", p_lang_lt},
		{"{\"lang_gte\": \"es\"}", "lang >= 'es'", p_lang_ge},
		{"{\"lang_in\": [\"en\"], \"year_in\": [2024]}", "lang IN ('en') AND year IN (2024)",
		 NULL},
		{"{\"lang\": \"en\", \"year_gt\": 2018, \"path_in\": [\"docs/a.md\", \"docs/h.md\"]}",
		 "lang = 'en' AND year > 2018 AND path IN ('docs/a.md', 'docs/h.md')", NULL},
	};
	char *meta[NROWS];
	for (size_t i = 0; i < NROWS; i++)
		meta[i] = row_meta(&rows[i]);
	printf("  %zu dict filters x %zu rows\n", TV_ARRAY_LEN(pairs), NROWS);
	for (size_t c = 0; c < TV_ARRAY_LEN(pairs); c++) {
		tv_filter *d = NULL, *s = NULL;
		tv_err err = {0};
		CHECK_MSG(tv_filter_from_dict_json(&d, pairs[c].dict, &err) == 0, "%s: %s", pairs[c].dict,
		          err.msg);
		CHECK_MSG(tv_filter_parse_sql(&s, pairs[c].sql, &err) == 0, "%s: %s", pairs[c].sql,
		          err.msg);
		if (!d || !s) {
			tv_filter_free(d);
			tv_filter_free(s);
			continue;
		}
		CHECK_MSG(ast_equal(d->root, s->root), "%s and %s compile to different ASTs",
		          pairs[c].dict, pairs[c].sql);
		for (size_t i = 0; i < NROWS; i++) {
			tv_row_view v;
			int dm, sm;
			view(&rows[i], meta[i], NULL, &v);
			dm = tv_filter_matches(d, &v);
			sm = tv_filter_matches(s, &v);
			CHECK_MSG(dm == sm, "%s vs %s on %s", pairs[c].dict, pairs[c].sql, rows[i].id);
			if (pairs[c].ref)
				CHECK_MSG(dm == (pairs[c].ref(&rows[i]) != 0), "%s on %s: want %d",
				          pairs[c].dict, rows[i].id, pairs[c].ref(&rows[i]) != 0);
		}
		tv_filter_free(d);
		tv_filter_free(s);
	}
	/* {} is no filter at all: every row */
	{
		tv_filter *d = NULL;
		tv_err err = {0};
		tv_row_view v;
		CHECK_EQ_INT(tv_filter_from_dict_json(&d, "{}", &err), 0);
		view(&rows[3], meta[3], NULL, &v);
		CHECK(tv_filter_matches(d, &v));
		tv_filter_free(d);
	}
	for (size_t i = 0; i < NROWS; i++)
		free(meta[i]);
}

static void expect_error(const char *sql, const char *needle)
{
	tv_filter *f = NULL;
	tv_err err = {0};
	int rc = tv_filter_parse_sql(&f, sql, &err);
	CHECK_MSG(rc == TV_EINVAL && f == NULL, "'%s' parsed", sql);
	CHECK_MSG(strstr(err.msg, needle) != NULL, "'%s': message '%s' lacks '%s'", sql, err.msg,
	          needle);
	tv_filter_free(f);
}

static void test_syntax_errors_name_column_and_expectation(void)
{
	expect_error("(lang = 'en' AND year > 2020", "expected ')' at column 29");
	expect_error("lang = 'en", "unterminated string starting at column 8");
	expect_error("", "empty filter");
	expect_error("   ", "empty filter");
	expect_error("lang =", "expected a value or a column at column 7");
	expect_error("lang = 'en' year", "expected AND, OR or the end of the filter at column 13");
	expect_error("foo(lang) = 1", "unknown function foo at column 1");
	expect_error("lang IS 'x'", "expected NULL after IS at column 9");
	expect_error("lang NOT = 'x'", "expected IN, LIKE or BETWEEN after NOT");
	expect_error("year BETWEEN 1 OR 2", "expected AND in BETWEEN at column 16");
	expect_error("lang IN 'en'", "expected '(' after IN at column 9");
	expect_error("lang IN ('en' 'fr')", "expected ',' or ')' at column 15");
	expect_error("metadata = 1", "metadata needs a key");
	expect_error("json_extract(text, '$.a') = 1", "expected metadata as json_extract");
	expect_error("json_extract(metadata, 'a') = 1", "json path must start with '$'");
	expect_error("lang = 'x' ESCAPE", "expected AND, OR or the end");
	expect_error("lang # 1", "unexpected character at column 6");
	expect_error("lang LIKE 'a' ESCAPE 'ab'", "escape must be one ASCII character");
	expect_error("AND lang = 1", "expected a value or a column, not AND at column 1");
	expect_error("\xff = 1", "not valid UTF-8");
	/* more of what the parser expects, and where */
	expect_error("metadata['a' = 1", "expected ']' at column 14");
	expect_error("metadata[a] = 1", "expected a quoted key inside [ ] at column 10");
	expect_error("metadata. = 1", "expected a key name after '.' at column 11");
	expect_error("`lang = 'en'", "unterminated quoted name starting at column 1");
	expect_error("lang LIKE 'a' ESCAPE x", "expected one escape character in quotes");
	expect_error("year BETWEEN 1", "expected AND in BETWEEN at column 15");
	expect_error("lang IN ()", "expected a value or a column at column 10");
	expect_error("year > 1e", "malformed number at column 8");
	expect_error("year > 1.2.3", "malformed number at column 8");
	expect_error("(a = 1) OR (b = 2", "expected ')' at column 18 (to close the '(' at column 12)");
	expect_error("lang = 'en' AND", "expected a value or a column at column 16");
	expect_error("lang IS NOT 'x'", "expected NULL after IS at column 13");
	expect_error("json_extract(metadata '$.a') = 1", "expected ',' at column 23");
	expect_error("json_extract(metadata, '$.a' = 1", "expected ')' at column 30");
	expect_error("json_extract(metadata, '$.a[0]') = 1", "bad json path");
	expect_error("json_extract(metadata, '$') = 1", "json path names no key");
	/* an unknown function is an error, never a filter that matches nothing */
	expect_error("lower(path) = 'x'", "unknown function lower at column 1");
	expect_error("year > 1 AND array_has_any(tags, 'x')",
	             "unknown function array_has_any at column 14 (the only function is json_extract)");
	expect_error("metadata.tags.contains('x')", "unknown function tags.contains at column 1");
	expect_error("\"f\"(1) = 1", "unknown function f at column 1");
	/* an error inside an IN list item leaks nothing (found by the fuzzer) */
	expect_error("a IN (1, j.k \x12)", "unexpected character at column 14");
	expect_error("a IN (metadata['x'] #)", "unexpected character at column 21");
	/* columns count characters, not bytes */
	expect_error("'\xc3\xa9\xc3\xa9' = 'x' AND", "expected a value or a column at column 15");
	expect_error("\xcf\x80 = 'x' year", "expected AND, OR or the end of the filter at column 9");
}

/* LIKE: wildcards, LanceDB's backslash rule without ESCAPE, an explicit
 * escape character, ESCAPE '' (none), code points for '_'. */
static void test_like_patterns_and_escapes(void)
{
	static const struct {
		const char *text, *pattern, *escape;
		int want;
	} cs[] = {
		{"a%b", "a\\%b", NULL, 1},
		{"axb", "a\\%b", NULL, 0},
		{"a_b", "a\\_b", NULL, 1},
		{"axb", "a\\_b", NULL, 0},
		{"a\\b", "a\\b", NULL, 1},      /* a backslash before b is itself */
		{"a\\", "a\\", NULL, 1},        /* so is a trailing one */
		{"a\\%", "a\\\\%", NULL, 1},    /* \\ is a backslash, then \% a literal % */
		{"a\\xyz", "a\\\\%", NULL, 0},
		{"a\\xyz", "a\\%", "", 1},        /* ESCAPE '': the backslash is itself, % a wildcard */
		{"a%", "a\\%", "", 0},
		{"100%", "100!%", "!", 1},
		{"1000", "100!%", "!", 0},
		{"a!b", "a!!b", "!", 1},
		{"\xc3\xa9t\xc3\xa9", "_t_", NULL, 1}, /* '_' is one code point */
		{"\xc3\xa9t\xc3\xa9", "__t__", NULL, 0},
		{"abcabd", "%ab_", NULL, 1},
		{"abcabd", "a%c%d", NULL, 1},
		{"abcabd", "a%c%c", NULL, 0},
		{"", "%", NULL, 1},
		{"", "_", NULL, 0},
		{"x", "", NULL, 0},
		{"line1\nline2", "line1%line2", NULL, 1}, /* % spans newlines */
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(cs); i++) {
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_row_view v = {0};
		char sql[256];
		snprintf(sql, sizeof sql, "text LIKE '%s'%s%s%s", cs[i].pattern,
		         cs[i].escape ? " ESCAPE '" : "", cs[i].escape ? cs[i].escape : "",
		         cs[i].escape ? "'" : "");
		if (tv_filter_parse_sql(&f, sql, &err)) {
			CHECK_MSG(0, "%s: %s", sql, err.msg);
			continue;
		}
		v.id = "x";
		v.id_len = 1;
		v.text = cs[i].text;
		v.text_len = strlen(cs[i].text);
		v.metadata = "{}";
		v.metadata_len = 2;
		CHECK_MSG(tv_filter_matches(f, &v) == cs[i].want, "'%s' LIKE '%s' ESCAPE %s: want %d",
		          cs[i].text, cs[i].pattern, cs[i].escape ? cs[i].escape : "(none)", cs[i].want);
		tv_filter_free(f);
	}
}

/* Numbers compare by value: integers exactly, integers against reals
 * exactly, integers beyond 64 bits as reals. */
static void test_numbers_compare_exactly(void)
{
	static const struct {
		const char *meta, *sql;
		int want;
	} cs[] = {
		{"{\"a\":9007199254740993}", "a > 9007199254740992.0", 1},
		{"{\"a\":9007199254740993}", "a = 9007199254740992.0", 0},
		{"{\"a\":9007199254740993}", "a = 9007199254740993", 1},
		{"{\"a\":9007199254740992.0}", "a < 9007199254740993", 1},
		{"{\"a\":9223372036854775807}", "a < 9223372036854775808.0", 1},
		{"{\"a\":-9223372036854775808}", "a = -9223372036854775808", 1},
		{"{\"a\":-9223372036854775808}", "a >= -9223372036854775808.0", 1},
		{"{\"a\":3}", "a = 3.0", 1},
		{"{\"a\":3}", "a < 3.5", 1},
		{"{\"a\":-3}", "a > -3.5", 1},
		{"{\"a\":-3}", "a < -2.5", 1},
		{"{\"a\":2.5}", "a BETWEEN 2 AND 3", 1},
		{"{\"a\":1e2}", "a = 100", 1},
		{"{\"a\":0.1}", "a = 0.1", 1},
		{"{\"a\":-0}", "a = 0", 1},
		{"{\"a\":true}", "a = 1", 0},   /* booleans are not numbers */
		{"{\"a\":\"5\"}", "a = 5", 0}, /* nor are strings */
		{"{\"a\":\"5\"}", "a != 5", 0},
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(cs); i++) {
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_row_view v = {0};
		json_t *obj = json_loads(cs[i].meta, 0, NULL);
		if (tv_filter_parse_sql(&f, cs[i].sql, &err)) {
			CHECK_MSG(0, "%s: %s", cs[i].sql, err.msg);
			json_decref(obj);
			continue;
		}
		v.id = "x";
		v.id_len = 1;
		v.text = "";
		v.metadata = cs[i].meta;
		v.metadata_len = strlen(cs[i].meta);
		CHECK_MSG(tv_filter_matches(f, &v) == cs[i].want, "%s on %s (text)", cs[i].sql,
		          cs[i].meta);
		if (obj) { /* the parsed reading agrees */
			v.metadata_obj = obj;
			CHECK_MSG(tv_filter_matches(f, &v) == cs[i].want, "%s on %s (parsed)", cs[i].sql,
			          cs[i].meta);
		}
		json_decref(obj);
		tv_filter_free(f);
	}
	/* beyond 64 bits (as LanceDB or another writer may store): a real, not
	 * a clamped integer */
	{
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_row_view v = {0};
		REQUIRE(tv_filter_parse_sql(&f, "a > 9223372036854775807", &err) == 0);
		v.id = "x";
		v.id_len = 1;
		v.text = "";
		v.metadata = "{\"a\":100000000000000000000}";
		v.metadata_len = strlen(v.metadata);
		CHECK(tv_filter_matches(f, &v));
		tv_filter_free(f);
	}
}

static void test_deep_nesting_is_an_error_not_a_crash(void)
{
	char *s = malloc(300000);
	size_t n = 0;
	for (int i = 0; i < 50000; i++)
		s[n++] = '(';
	memcpy(s + n, "a = 1", 5);
	n += 5;
	for (int i = 0; i < 50000; i++)
		s[n++] = ')';
	s[n] = 0;
	expect_error(s, "nests too deeply");
	n = 0;
	for (int i = 0; i < 50000; i++) {
		memcpy(s + n, "NOT ", 4);
		n += 4;
	}
	memcpy(s + n, "a = 1", 6);
	expect_error(s, "nests too deeply");
	free(s);
}

static void test_dict_errors_name_the_key(void)
{
	tv_filter *f = NULL;
	tv_err err = {0};
	CHECK_EQ_INT(tv_filter_from_dict_json(&f, "{\"tag_in\": \"a\"}", &err), TV_EINVAL);
	CHECK(strstr(err.msg, "'tag_in'") != NULL);
	CHECK_EQ_INT(tv_filter_from_dict_json(&f, "{\"x\": {\"a\": 1}}", &err), TV_EINVAL);
	CHECK(strstr(err.msg, "'x'") != NULL);
	CHECK_EQ_INT(tv_filter_from_dict_json(&f, "{\"x\": [1, 2]}", &err), TV_EINVAL);
	CHECK(strstr(err.msg, "_in suffix") != NULL);
	CHECK_EQ_INT(tv_filter_from_dict_json(&f, "[1]", &err), TV_EINVAL);
	CHECK_EQ_INT(tv_filter_from_dict_json(&f, "{\"x\": ", &err), TV_EINVAL);
	CHECK(f == NULL);
}

/* Values that look like SQL injection are plain literals. */
static void test_injection_looking_values_are_literals(void)
{
	static const char *vals[] = {"x' OR '1'='1", "a\"b", "1; DROP TABLE t", "-- c", "100%",
	                             "\xe2\x80\x8b\xc3\xbf\xf0\x9f\x98\x80", "\\", "'"};
	for (size_t i = 0; i < TV_ARRAY_LEN(vals); i++) {
		json_t *d = json_pack("{s:s}", "id", vals[i]);
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_row_view v = {0};
		char other[64];
		REQUIRE(tv_filter_from_dict(&f, d, &err) == 0);
		v.id = vals[i];
		v.id_len = strlen(vals[i]);
		v.text = "";
		v.metadata = "{}";
		v.metadata_len = 2;
		CHECK_MSG(tv_filter_matches(f, &v), "id %s", vals[i]);
		snprintf(other, sizeof other, "%s!", vals[i]);
		v.id = other;
		v.id_len = strlen(other);
		CHECK(!tv_filter_matches(f, &v));
		tv_filter_free(f);
		json_decref(d);
	}
}

static void test_metadata_text_edge_cases(void)
{
	static const struct {
		const char *meta, *sql;
		int want;
	} cs[] = {
		{"{\"a\":\"x\\\"y\"}", "a = 'x\"y'", 1},
		{"{\"a\":\"\\u00e9\"}", "a = '\xc3\xa9'", 1},
		{"{\"a\":\"\\ud83d\\ude00\"}", "a = '\xf0\x9f\x98\x80'", 1},
		{"{\"b\":{\"c\":[1,{\"d\":2}]},\"a\":3}", "a = 3", 1},
		{"{\"a\\u0062\":5}", "ab = 5", 1},
		{"{\"n\":{\"a\":{\"b\":\"deep\"}}}", "json_extract(metadata, '$.n.a.b') = 'deep'", 1},
		{"{\"n\":{\"a\":1}}", "metadata.n.a = 1", 1},
		{"{\"a\":1e2}", "a = 100", 1},
		{"{\"a\":-0.5}", "a < 0", 1},
		{"{\"a\":", "a = 1", 0},           /* truncated JSON: missing */
		/* the scanner stops at the value it needs: damage after it is not seen */
		{"{\"a\":1", "a = 1", 1},
		{"{\"b\":1", "a IS NULL", 1},
		{"not json", "a IS NULL", 1},
		{"{\"a\":\"\\x\"}", "a IS NULL", 1}, /* bad escape: missing */
		{"{\"a\":[1,2,3]}", "a = 2", 1},
		{"{\"a\":[1,2,3]}", "a > 2", 0},
		{"{\"a\":{}}", "a = 1", 0},
		{"{\"a\":{}}", "a IS NOT NULL", 1},
		{"{\"a\":null}", "a IS NULL", 1},
		{"{\"a\":true,\"a\":false}", "a = true", 1}, /* first occurrence */
		{"", "a IS NULL", 1},
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(cs); i++) {
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_row_view v = {0};
		REQUIRE(tv_filter_parse_sql(&f, cs[i].sql, &err) == 0);
		v.id = "x";
		v.id_len = 1;
		v.text = "";
		v.metadata = cs[i].meta;
		v.metadata_len = strlen(cs[i].meta);
		CHECK_MSG(tv_filter_matches(f, &v) == cs[i].want, "%s on %s", cs[i].sql, cs[i].meta);
		tv_filter_free(f);
	}
}

/* The raw-JSON scanner (lancedb rows) and the parsed object (memory rows)
 * read every document jansson accepts alike: deep nesting before the key,
 * numbers with many digits, escapes, arrays of containers. */
static void test_raw_and_parsed_metadata_agree(void)
{
	static const char *const sqls[] = {"a = 1", "a > 0.5", "a IS NULL", "b = 'x'",
	                                   "b IN (2, 'x')", "c.d = 1", "a BETWEEN 0 AND 2"};
	char *docs[8];
	size_t nd = 0;
	tv_buf b = {0};
	/* a value nested 100 and 2000 deep before the key */
	for (int depth = 100; depth <= 2000; depth += 1900) {
		b.len = 0;
		tv_buf_printf(&b, "{\"x\":");
		for (int i = 0; i < depth; i++)
			tv_buf_printf(&b, "%s", i % 2 ? "{\"k\":" : "[");
		tv_buf_printf(&b, "1");
		for (int i = depth - 1; i >= 0; i--)
			tv_buf_printf(&b, "%s", i % 2 ? "}" : "]");
		tv_buf_printf(&b, ",\"a\":1,\"b\":\"x\",\"c\":{\"d\":1}}");
		docs[nd++] = tv_strdup(b.data);
	}
	/* 80 significant digits */
	docs[nd++] = tv_strdup("{\"a\":1.0000000000000000000000000000000000000000000000000000000000000000000000000001}");
	docs[nd++] = tv_strdup("{\"a\":100000000000000000000000000000000000000000000000000000000000000000000000000e-76}");
	docs[nd++] = tv_strdup("{\"b\":[[\"x\"],{\"x\":1},\"x\"],\"a\":1e-400}");
	docs[nd++] = tv_strdup("{\"\\u0061\":1,\"b\":\"\\u0078\",\"c\":{\"d\":1.0}}");
	tv_buf_free(&b);
	for (size_t d = 0; d < nd; d++) {
		json_error_t je;
		json_t *obj = json_loads(docs[d], JSON_REJECT_DUPLICATES, &je);
		CHECK_MSG(obj != NULL, "document %zu: %s", d, je.text);
		for (size_t q = 0; obj && q < TV_ARRAY_LEN(sqls); q++) {
			tv_filter *f = NULL;
			tv_err err = {0};
			tv_row_view v = {0};
			bool text, parsed;
			REQUIRE(tv_filter_parse_sql(&f, sqls[q], &err) == 0);
			v.id = "x";
			v.id_len = 1;
			v.text = "";
			v.metadata = docs[d];
			v.metadata_len = strlen(docs[d]);
			text = tv_filter_matches(f, &v);
			v.metadata_obj = obj;
			parsed = tv_filter_matches(f, &v);
			CHECK_MSG(text == parsed, "'%s' on document %zu: text %d, parsed %d", sqls[q], d,
			          text, parsed);
			tv_filter_free(f);
		}
		json_decref(obj);
		free(docs[d]);
	}
}

/* What the planner reads off a filter: the equality constraint an index
 * can serve (values once each, only through top-level ANDs, only string
 * values) and the columns a scan must load. */
static void test_planner_view_of_filters(void)
{
	static const struct {
		const char *sql;
		int eq;       /* -1: none, else the tv_filter_eq column */
		const char *key;
		size_t n;
		int whole;
		unsigned cols;
	} cs[] = {
		{"path = 'a'", TV_EQ_PATH, NULL, 1, 1, TV_FILTER_COL_PATH},
		{"'a' = path", TV_EQ_PATH, NULL, 1, 1, TV_FILTER_COL_PATH},
		{"path IN ('a', 'b', 'a', 'c', 'b')", TV_EQ_PATH, NULL, 3, 1, TV_FILTER_COL_PATH},
		{"id IN ('x')", TV_EQ_ID, NULL, 1, 1, TV_FILTER_COL_ID},
		{"lang = 'en'", TV_EQ_META, "lang", 1, 1, TV_FILTER_COL_META},
		{"metadata['a b'] = 'x'", TV_EQ_META, "a b", 1, 1, TV_FILTER_COL_META},
		{"year > 2000 AND (lang = 'en' OR text = 'x') AND path = 'p'", TV_EQ_PATH, NULL, 1, 0,
		 TV_FILTER_COL_META | TV_FILTER_COL_TEXT | TV_FILTER_COL_PATH},
		{"a.b = 'x'", -1, NULL, 0, 0, TV_FILTER_COL_META},       /* nested: no index */
		{"lang = 5", -1, NULL, 0, 0, TV_FILTER_COL_META},        /* not a string */
		{"lang IN ('en', 5)", -1, NULL, 0, 0, TV_FILTER_COL_META},
		{"lang != 'en'", -1, NULL, 0, 0, TV_FILTER_COL_META},
		{"lang NOT IN ('en')", -1, NULL, 0, 0, TV_FILTER_COL_META},
		{"NOT path = 'a'", -1, NULL, 0, 0, TV_FILTER_COL_PATH},
		{"path = 'a' OR path = 'b'", -1, NULL, 0, 0, TV_FILTER_COL_PATH},
		{"text = 'a'", -1, NULL, 0, 0, TV_FILTER_COL_TEXT},
		{"path = text", -1, NULL, 0, 0, TV_FILTER_COL_PATH | TV_FILTER_COL_TEXT},
		{"TRUE", -1, NULL, 0, 0, 0},
		{"'a' IN (id, 'b')", -1, NULL, 0, 0, TV_FILTER_COL_ID},
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(cs); i++) {
		tv_filter *f = NULL;
		tv_err err = {0};
		tv_filter_eq eq;
		bool got;
		REQUIRE(tv_filter_parse_sql(&f, cs[i].sql, &err) == 0);
		got = tv_filter_equality(f, &eq);
		CHECK_MSG(got == (cs[i].eq >= 0), "%s: equality %d", cs[i].sql, got);
		if (got && cs[i].eq >= 0) {
			CHECK_MSG((int)eq.column == cs[i].eq && eq.n == cs[i].n && eq.whole == cs[i].whole,
			          "%s: column %d n %zu whole %d", cs[i].sql, (int)eq.column, eq.n, eq.whole);
			CHECK(!cs[i].key || (eq.key && !strcmp(eq.key, cs[i].key)));
			for (size_t a = 0; a < eq.n; a++)
				for (size_t b = a + 1; b < eq.n; b++)
					CHECK_MSG(eq.lens[a] != eq.lens[b] || memcmp(eq.vals[a], eq.vals[b], eq.lens[a]),
					          "%s: value %zu listed twice", cs[i].sql, a);
		}
		CHECK_MSG(tv_filter_columns(f) == cs[i].cols, "%s: columns %u", cs[i].sql,
		          tv_filter_columns(f));
		tv_filter_free(f);
	}
	CHECK_EQ_INT(tv_filter_columns(NULL), 0);
}

static void test_and_combines_where_and_dict(void)
{
	tv_filter *a = NULL, *b = NULL, *ab;
	tv_err err = {0};
	tv_row_view v = {0};
	REQUIRE(tv_filter_parse_sql(&a, "year > 2000", &err) == 0);
	REQUIRE(tv_filter_from_dict_json(&b, "{\"lang\": \"en\"}", &err) == 0);
	ab = tv_filter_and(a, b);
	v.id = "x";
	v.id_len = 1;
	v.text = "";
	v.metadata = "{\"year\": 2001, \"lang\": \"en\"}";
	v.metadata_len = strlen(v.metadata);
	CHECK(tv_filter_matches(ab, &v));
	v.metadata = "{\"year\": 2001, \"lang\": \"fr\"}";
	v.metadata_len = strlen(v.metadata);
	CHECK(!tv_filter_matches(ab, &v));
	tv_filter_free(ab);
	CHECK(tv_filter_and(NULL, NULL) == NULL);
}

int main(void)
{
	TV_RUN(test_sql_cases_match_reference_on_text_and_parsed_metadata);
	TV_RUN(test_dict_and_sql_front_ends_agree);
	TV_RUN(test_syntax_errors_name_column_and_expectation);
	TV_RUN(test_like_patterns_and_escapes);
	TV_RUN(test_numbers_compare_exactly);
	TV_RUN(test_deep_nesting_is_an_error_not_a_crash);
	TV_RUN(test_dict_errors_name_the_key);
	TV_RUN(test_injection_looking_values_are_literals);
	TV_RUN(test_metadata_text_edge_cases);
	TV_RUN(test_raw_and_parsed_metadata_agree);
	TV_RUN(test_planner_view_of_filters);
	TV_RUN(test_and_combines_where_and_dict);
	TV_TEST_END();
}
