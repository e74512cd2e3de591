/*
 * Filters: one AST, two front ends (a SQL WHERE subset, TEA dict filters),
 * one evaluator. Owned by the query layer; both store backends and every
 * search path (exact and indexed) use it.
 *
 * Semantics follow SQL three-valued logic: a missing metadata key or a NULL
 * column is NULL, a comparison with NULL is unknown, and only rows for which
 * the whole filter is TRUE match.
 */
#ifndef TV_QUERY_FILTER_H
#define TV_QUERY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/common.h"
#include "util/err.h"

typedef struct tv_filter tv_filter;

/* The columns of a row as the evaluator sees them. Strings need not be
 * NUL-terminated (lengths given); a NULL pointer is SQL NULL. metadata is
 * the row's metadata JSON object text; metadata_obj, when not NULL, is the
 * same object already parsed and is used instead of the text. */
typedef struct tv_row_view {
	const char *id;
	size_t id_len;
	const char *text;
	size_t text_len;
	const char *path;
	size_t path_len;
	const char *metadata;
	size_t metadata_len;
	const json_t *metadata_obj;
} tv_row_view;

/* Parses a SQL WHERE expression. Errors are TV_EINVAL with a message like
 * "filter: expected ')' at column 17". */
int tv_filter_parse_sql(tv_filter **out, const char *sql, tv_err *err);
/* Compiles a TEA dict filter ({"lang": "en", "year_gte": 2020,
 * "tag_in": ["a", "b"]}); keys are metadata keys, except id/text/path. */
int tv_filter_from_dict(tv_filter **out, const json_t *dict, tv_err *err);
/* Same, from JSON text. */
int tv_filter_from_dict_json(tv_filter **out, const char *json, tv_err *err);
/* a AND b; takes ownership of both (either may be NULL). */
tv_filter *tv_filter_and(tv_filter *a, tv_filter *b);
void tv_filter_free(tv_filter *f);

/* For the planner: when the filter (through its top-level ANDs) requires
 * `path`, `id` or a top-level metadata key to equal one of a few string
 * values (`path = 'a'`, `lang IN ('en', 'fr')`, dict {"lang": "en"}),
 * describes that constraint so a search can visit only those rows; the
 * whole filter must still be applied to them. Pointers borrow from f. */
#define TV_FILTER_EQ_MAX 1024
typedef struct tv_filter_eq {
	enum { TV_EQ_PATH, TV_EQ_ID, TV_EQ_META } column;
	const char *key; /* TV_EQ_META: the metadata key */
	size_t n;
	bool whole; /* the filter is exactly this constraint (no other AND terms) */
	const char *vals[TV_FILTER_EQ_MAX];
	size_t lens[TV_FILTER_EQ_MAX];
} tv_filter_eq;
bool tv_filter_equality(const tv_filter *f, tv_filter_eq *out);

/* The value of top-level key in a JSON object text: 1 and the string (escapes
 * decoded into scratch when needed) when it is a string, 0 when the key is
 * absent or null (or the text is not JSON), -1 for any other type. */
int tv_filter_json_string(const char *json, size_t len, const char *key, const char **val,
                           size_t *vlen, tv_buf *scratch);

/* The columns a filter reads (TV_FILTER_COL_* bits; 0 for NULL or a
 * filter of literals only), so that a scan loads no other. */
enum { TV_FILTER_COL_ID = 1, TV_FILTER_COL_TEXT = 2, TV_FILTER_COL_PATH = 4, TV_FILTER_COL_META = 8 };
unsigned tv_filter_columns(const tv_filter *f);

/* True when the filter is TRUE for the row. */
bool tv_filter_matches(const tv_filter *f, const tv_row_view *row);

#endif
