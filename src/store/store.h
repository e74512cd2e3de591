/*
 * The VectorStore protocol (TEA's add / query / get_state / restore_state,
 * plus delete and count) as a vtable, and what all backends share.
 *
 * The public tv_store_* functions (store/store.c) validate arguments once
 * (dimensions, finite components, id length and UTF-8, metadata JSON,
 * filters) and then call the backend, so a backend receives only valid,
 * normalised input:
 *   - rows[] deduplicated by id (the last occurrence of an id wins),
 *   - each row's metadata checked: its JSON text as given in metadata_text
 *     ("{}" when absent) and, unless the backend declares
 *     metadata_text_only, parsed (json_t object, never NULL),
 *   - the query's filters compiled into one tv_filter (or NULL).
 */
#ifndef TV_STORE_H
#define TV_STORE_H

#include <jansson.h>

#include "query/filter.h"
#include "teavec.h"
#include "util/err.h"

/* A validated row: borrowed strings, parsed metadata (borrowed; NULL
 * for a backend that declares metadata_text_only). */
typedef struct tv_row {
	const char *id;
	size_t id_len;
	const char *text;
	size_t text_len;
	const char *path; /* may be NULL */
	size_t path_len;
	json_t *metadata;     /* object, or NULL (metadata_text_only) */
	const char *metadata_text; /* the metadata's JSON text as given */
	const float *vector;
} tv_row;

/* A validated query. */
typedef struct tv_search {
	const char *collection;
	const float *vector;
	size_t dim;
	size_t k;
	const tv_filter *filter; /* NULL = all rows */
	bool include_embeddings;
	bool exact;
	int nprobes, refine_factor;
} tv_search;

typedef struct tv_store_methods {
	const char *type;
	/* upserts rows; with replace, the rows passing it are deleted in the
	 * same atomic step (*deleted, may be NULL, receives how many passed) */
	int (*add)(tv_store *s, const char *collection, const tv_row *rows, size_t n,
	           size_t dim, const tv_filter *replace, size_t *deleted);
	int (*query)(tv_store *s, const tv_search *q, tv_results *out);
	int (*remove)(tv_store *s, const char *collection, const char *const *ids, size_t n,
	              size_t *deleted);
	int (*count)(tv_store *s, const char *collection, size_t *out);
	/* how many rows pass filter (count-where; delete-where is add with
	 * n = 0 and replace = the filter) */
	int (*count_where)(tv_store *s, const char *collection, const tv_filter *filter,
	                   size_t *out);
	/* the collection's rows become rows (the dimension may change) */
	int (*overwrite)(tv_store *s, const char *collection, const tv_row *rows, size_t n,
	                 size_t dim);
	/* rows passing filter in storage order, at most limit (0 = all) */
	int (*scan)(tv_store *s, const char *collection, const tv_filter *filter, size_t limit,
	            bool include_embeddings, tv_results *out);
	int (*get_state)(tv_store *s, json_t **out);
	int (*restore_state)(tv_store *s, const json_t *state);
	int (*collections)(tv_store *s, char ***names, size_t *n);
	int (*optimize)(tv_store *s, const char *collection); /* may be NULL */
	int (*versions)(tv_store *s, const char *collection, json_t **out); /* may be NULL */
	int (*checkout)(tv_store *s, const char *collection, uint64_t version); /* may be NULL */
	void (*free)(tv_store *s);
	/* {"fragments", "version", "bytes", "index": {...}} beyond rows/dim (may be NULL) */
	int (*stats)(tv_store *s, const char *collection, json_t *out);
	int (*reindex)(tv_store *s, const char *collection); /* may be NULL */
	int (*set_auto_index)(tv_store *s, const char *collection, bool on); /* may be NULL */
	/* rows reach add/overwrite with metadata NULL: only metadata_text is
	 * read (validated all the same) */
	bool metadata_text_only;
} tv_store_methods;

struct tv_store {
	const tv_store_methods *m;
	tv_err err;
};

/* Backend constructors. settings is the settings.rag object (may be NULL). */
int tv_store_memory_new(tv_store **out, const json_t *settings, tv_err *err);
int tv_store_lancedb_new(tv_store **out, const json_t *settings, tv_err *err);

/* Fills a tv_result's strings from a row (copies); vector copied when
 * include is set. Returns TV_ENOMEM on failure. */
int tv_result_fill(tv_result *r, const char *id, size_t id_len, const char *text,
                   size_t text_len, const char *path, size_t path_len,
                   const char *metadata, size_t metadata_len, const float *vector,
                   size_t dim, bool include, float distance);

/* Collection name check shared by backends: 1..128 of [A-Za-z0-9_.-],
 * not "." or "..". */
int tv_collection_name_check(const char *name, tv_err *err);

#endif
