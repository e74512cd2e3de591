/*
 * teavec: the RAG vector layer of The Edge Agent, in C.
 *
 * One public header. Conventions (see docs/ARCHITECTURE.md):
 *
 *  - Handles are opaque (tv_store, ...). Names are tv_<object>_<verb>.
 *  - Every fallible call returns an int: 0 (TV_OK) or a negative TV_E* code.
 *    tv_errstr(code) names the code; the handle's message (tv_store_errmsg)
 *    says what was wrong and where. Constructors, which have no handle yet,
 *    leave their message in a thread-local slot read by tv_last_errmsg().
 *  - Out-parameters come first. What a call returns through **out belongs
 *    to the caller and is released by the matching tv_*_free/close; every
 *    free/close accepts NULL.
 *  - Strings are UTF-8 and NUL-terminated. Vectors are float32, dimension
 *    given explicitly.
 *  - Options structs carry a version field and are initialised with their
 *    *_INIT macro, so fields can be added without breaking callers.
 *  - A handle may be used by one thread at a time; distinct handles are
 *    independent.
 */
#ifndef TEAVEC_H
#define TEAVEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version -------------------------------------------------------- */

#define TV_VERSION_MAJOR 0
#define TV_VERSION_MINOR 1
#define TV_VERSION_PATCH 0
#define TV_VERSION "0.1.0"
/* major * 1000000 + minor * 1000 + patch, for compile-time comparisons. */
#define TV_VERSION_NUMBER 1000

/* The version of the library actually linked, e.g. "0.1.0". Static string. */
const char *tv_libversion(void);
/* TV_VERSION_NUMBER of the library actually linked. */
int tv_libversion_number(void);

/* ---- Status codes --------------------------------------------------- */

#define TV_OK 0
#define TV_EINVAL (-1)       /* bad argument or input: names the field and index */
#define TV_ENOTFOUND (-2)    /* no such collection, version, file, key */
#define TV_ECORRUPT (-3)     /* stored bytes fail a check: names the file */
#define TV_EIO (-4)          /* read/write/network failure: names the path */
#define TV_EPERM (-5)        /* permission denied or read-only: names the path */
#define TV_ECONFLICT (-6)    /* lost a commit race after bounded retries */
#define TV_ENOMEM (-7)       /* out of memory or size overflow */
#define TV_EUNSUPPORTED (-8) /* a format, feature or backend we do not have */
#define TV_EEXISTS (-9)      /* the thing to be created is already there */

/* A short constant name for a status code: "TV_EINVAL: invalid argument". */
const char *tv_errstr(int code);
/* The message of the last failed call on this thread that had no handle to
 * keep it (constructors such as tv_store_open). Valid until the next teavec
 * call on this thread. Never NULL. */
const char *tv_last_errmsg(void);

/* ---- Vectors -------------------------------------------------------- */

typedef enum tv_metric {
	TV_METRIC_COSINE = 0, /* distance 1 - cos(a, b); a zero vector is at distance 1 */
	TV_METRIC_L2 = 1,     /* squared euclidean distance */
	TV_METRIC_DOT = 2     /* distance -dot(a, b) */
} tv_metric;

/* Distance between a and b under metric, computed by the fastest kernel this
 * CPU has (chosen once, at first use). */
float tv_distance(tv_metric metric, const float *a, const float *b, size_t dim);
/* Name of the kernel set in use: "avx512", "avx2", "neon" or "scalar". */
const char *tv_simd_name(void);
/* "cosine" / "l2" / "dot" and back; tv_metric_parse returns TV_EINVAL for
 * an unknown name. */
const char *tv_metric_name(tv_metric metric);
int tv_metric_parse(tv_metric *out, const char *name);

/* ---- Records and queries -------------------------------------------- */

/* One row handed to tv_store_add. All pointers are borrowed for the call. */
typedef struct tv_record {
	const char *id;       /* required, 1..1024 bytes of valid UTF-8 */
	const char *text;     /* required (may be ""), valid UTF-8 */
	const char *path;     /* source file, or NULL */
	const char *metadata; /* a JSON object as text, or NULL for {} */
	const float *vector;  /* dim finite floats */
} tv_record;

#define TV_QUERY_VERSION 1
typedef struct tv_query {
	int version;             /* TV_QUERY_VERSION */
	const float *vector;     /* the query embedding */
	size_t dim;              /* its dimension */
	int k;                   /* results wanted, >= 1 */
	const char *collection;  /* NULL means "default" */
	const char *where;       /* SQL WHERE subset, or NULL */
	const char *filter_json; /* TEA dict filter as a JSON object, or NULL */
	int include_embeddings;  /* copy each result's vector into the result */
	int exact;               /* bypass any vector index: exact search */
	int nprobes;             /* index partitions to probe; 0 = automatic */
	int refine_factor;       /* re-rank refine_factor * k candidates; 0 = automatic */
} tv_query;
#define TV_QUERY_INIT {TV_QUERY_VERSION, NULL, 0, 5, NULL, NULL, NULL, 0, 0, 0, 0}

/* One search result. score = 1 - cosine distance for TEA (for other metrics
 * 1 - distance); distance is the metric's own distance. */
typedef struct tv_result {
	char *id;
	char *text;
	char *path;     /* NULL when the row has none */
	char *metadata; /* JSON object text, never NULL */
	float score;
	float distance;
	float *vector;  /* dim floats when include_embeddings, else NULL */
} tv_result;

typedef struct tv_results {
	size_t n;      /* number of results, best first */
	size_t dim;    /* dimension of the vectors, if any */
	tv_result *items;
} tv_results;

/* Releases a result set returned by tv_store_query. NULL is a no-op. */
void tv_results_free(tv_results *r);

/* ---- VectorStore ---------------------------------------------------- */

typedef struct tv_store tv_store;

/* Opens a vector store. type is "memory" or "lancedb"; settings is a JSON
 * object of the TEA settings.rag keys the backend reads (for lancedb:
 * {"lancedb_path": "~/.tea/vectors/"}), or NULL for the defaults.
 * An unknown type, or one not compiled into this build, is TV_EUNSUPPORTED
 * with a message that says how to get it (tv_last_errmsg). */
int tv_store_open(tv_store **out, const char *type, const char *settings);
/* Closes the store and frees everything it owns. NULL is a no-op. */
void tv_store_close(tv_store *s);
/* The backend's type name ("memory", "lancedb"). */
const char *tv_store_type(const tv_store *s);
/* The message of the last failed call on s; "" if none. Valid until the
 * next call on s. */
const char *tv_store_errmsg(const tv_store *s);

/* Upserts n rows of dimension dim into collection (NULL = "default"),
 * creating it if needed. A row whose id exists replaces it; within the
 * batch a repeated id keeps the last row. All rows or none: on any error
 * the store is unchanged. *stored (may be NULL) receives n. */
int tv_store_add(tv_store *s, const char *collection, const tv_record *rows,
                 size_t n, size_t dim, size_t *stored);

/* Replaces, in ONE atomic step (one commit for lancedb), the rows passing
 * a filter with new rows: the rows passing where / filter_json (either may
 * be NULL; both NULL = none) are deleted and rows are upserted as by
 * tv_store_add. No reader ever sees the old rows gone and the new ones
 * absent, or both. This is how the indexer swaps a file's chunks.
 * n may be 0 (an atomic delete-where). *deleted (may be NULL) receives how
 * many rows passed the filter. */
int tv_store_replace(tv_store *s, const char *collection, const char *where,
                     const char *filter_json, const tv_record *rows, size_t n, size_t dim,
                     size_t *deleted);

/* Replaces the whole content of collection by rows, in one commit (for
 * lancedb a new version: older ones stay readable, and dim may differ from
 * the old dimension; the vector index is rebuilt). Creates the collection
 * if needed; n may be 0 (dim must still be given). */
int tv_store_overwrite(tv_store *s, const char *collection, const tv_record *rows, size_t n,
                       size_t dim);

/* Rows of collection passing a filter (where / filter_json, both NULL =
 * all), in storage order, at most limit of them (0 = no limit); score and
 * distance are 0. An unknown collection gives an empty set. */
int tv_store_get(tv_store *s, const char *collection, const char *where,
                 const char *filter_json, size_t limit, int include_embeddings,
                 tv_results **out);

/* The k nearest rows of q->collection to q->vector that pass the filters,
 * best first. An unknown collection gives an empty result set. */
int tv_store_query(tv_store *s, const tv_query *q, tv_results **out);

/* Deletes the rows with these ids; ids not present are ignored.
 * *deleted (may be NULL) receives how many rows went. */
int tv_store_delete(tv_store *s, const char *collection, const char *const *ids,
                    size_t n, size_t *deleted);

/* Number of rows in collection (0 for an unknown collection). */
int tv_store_count(tv_store *s, const char *collection, size_t *out);

/* Rows of collection passing a filter (where: SQL WHERE subset, or
 * filter_json: a TEA dict filter; either may be NULL; both NULL = all;
 * both given: both must hold). The same engine and semantics as queries
 * (README "Filters"); a bad filter is TV_EINVAL with its column. */
int tv_store_count_where(tv_store *s, const char *collection, const char *where,
                         const char *filter_json, size_t *out);
/* Deletes the rows passing the filter, in one commit that evaluates the
 * filter on the version it lands on; at least one of where / filter_json
 * must be given (use a filter of TRUE to empty it). *deleted (may be NULL)
 * receives how many rows went. A bad filter deletes nothing. */
int tv_store_delete_where(tv_store *s, const char *collection, const char *where,
                          const char *filter_json, size_t *deleted);

/* The store's state as a JSON document (caller frees with free()). For the
 * memory store it holds every collection; for lancedb the path and each
 * collection's version. */
int tv_store_get_state(tv_store *s, char **json_out);
/* Returns the store to a state from tv_store_get_state. */
int tv_store_restore_state(tv_store *s, const char *json);

/* Brings collection's search structures up to date: builds or extends the
 * vector index (lancedb), compacts small fragments and cleans up old
 * versions per the store's policy. The memory store has nothing to do.
 * NULL collection = every collection. */
int tv_store_optimize(tv_store *s, const char *collection);

/* Automatic vector-index upkeep after writes (on by default: the index
 * is built when a collection reaches 256 rows, then extended and
 * retrained as it grows), turned off or on for collection, for this
 * handle only. A bulk load turns it off, writes, and turns it on again:
 * turning it on brings the index up to date at once, so it is built once
 * instead of after every batch. The memory store has no index: a no-op. */
int tv_store_set_auto_index(tv_store *s, const char *collection, int on);

/* Rebuilds collection's vector index from scratch (lancedb store): new
 * partitions and codebooks trained on the current rows, for the store's
 * metric and index settings. The memory store has none: a no-op. */
int tv_store_reindex(tv_store *s, const char *collection);

/* What a collection holds, as a JSON object (caller frees with free()):
 *   {"collection": "docs", "rows": 1200, "dim": 256, "version": 7,
 *    "fragments": 3, "bytes": 2211840,
 *    "index": {"type": "IVF_PQ", "metric": "cosine", "partitions": 35,
 *              "sub_vectors": 32, "indexed_rows": 1100, "unindexed_rows": 100,
 *              "trained_rows": 1024, "built_version": 5, "bytes": 73984,
 *              "file": "ivfpq-....idx"}}
 * "index" is null when there is none; the memory store gives collection,
 * rows and index only. An unknown collection has 0 rows. */
int tv_store_stats(tv_store *s, const char *collection, char **json_out);

/* The versions of a collection (lancedb store), oldest first, as a JSON
 * array (caller frees with free()):
 *   [{"version": 3, "timestamp": "2026-11-24T22:50:01Z", "operation": "update"}, ...]
 * The memory store has no versions: TV_EUNSUPPORTED. */
int tv_store_versions(tv_store *s, const char *collection, char **json_out);
/* Pins collection at version for reading (0 = follow the newest again);
 * while pinned, writes to it are TV_EINVAL. Other processes' commits do
 * not move a pinned collection. Memory store: TV_EUNSUPPORTED. */
int tv_store_checkout(tv_store *s, const char *collection, uint64_t version);

/* Names of the collections, sorted; free with tv_strings_free. */
int tv_store_collections(tv_store *s, char ***names_out, size_t *n_out);
void tv_strings_free(char **v, size_t n);

/* ---- Embedders ------------------------------------------------------ */

typedef struct tv_embedder tv_embedder;

/* Opens an embedder from TEA settings.rag keys (JSON object text, or NULL
 * for the default): embedding_provider ("hash", the built-in default;
 * "static", "openai" and "ollama" where built), embedding_model,
 * embedding_dimensions, openai_base_url, ollama_base_url,
 * embedding_model_path, openai_api_key (else $OPENAI_API_KEY).
 * The hash embedder is lexical, not semantic: it hashes normalised word
 * unigrams and bigrams into embedding_dimensions (default 256) signed
 * buckets with sublinear term frequency, L2-normalised; texts sharing
 * words are near, synonyms are not. Errors: TV_EINVAL naming the key,
 * TV_EUNSUPPORTED for a provider not built (tv_last_errmsg). */
int tv_embedder_open(tv_embedder **out, const char *settings);
/* Frees the embedder. NULL is a no-op. */
void tv_embedder_free(tv_embedder *e);
/* Dimension of the vectors it produces. */
size_t tv_embedder_dim(const tv_embedder *e);
/* A string naming provider, model and dimension ("hash:v1:256"), stored by
 * the indexer to notice an embedder change. Valid while e lives. */
const char *tv_embedder_id(const tv_embedder *e);
/* Embeds n texts into out (n * dim floats, row-major). All or nothing. */
int tv_embedder_embed(tv_embedder *e, const char *const *texts, size_t n, float *out);
/* Message of the last failed call on e; "" if none. */
const char *tv_embedder_errmsg(const tv_embedder *e);

#ifdef __cplusplus
}
#endif
#endif /* TEAVEC_H */
