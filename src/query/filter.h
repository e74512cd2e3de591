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

/* True when the filter is TRUE for the row. */
bool tv_filter_matches(const tv_filter *f, const tv_row_view *row);

#endif
