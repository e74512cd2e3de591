/*
 * Collections as Lance tables (format 2.0): a snapshot of one version,
 * scans over its live rows, and atomic commits of upserts and deletes.
 *
 * Columns are found by name (id, text, path, metadata, vector), so tables
 * written by LanceDB or TEA's Python store, which order columns
 * differently or lack `path`, are read as well as our own.
 */
#ifndef TV_TABLE_H
#define TV_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "index/ivfpq.h"
#include "io/io.h"
#include "store/store.h"

typedef struct tv_table tv_table;

enum { TV_COL_ID, TV_COL_TEXT, TV_COL_PATH, TV_COL_META, TV_COL_VEC, TV_NCOLS };

/* Opens "<dir>" (e.g. "docs.lance", relative to io's root) at version
 * (0 = latest). TV_ENOTFOUND when there is no such table. */
int tv_table_open(tv_table **out, tv_io *io, const char *dir, uint64_t version, tv_err *err);
void tv_table_close(tv_table *t);
/* Moves t to the newest version, keeping what unchanged fragments had
 * computed (open files, columns, norms, filter indexes, the id index). */
int tv_table_refresh(tv_table *t, tv_err *err);
uint64_t tv_table_version(const tv_table *t);
/* True when t certainly holds the table's newest version, found with two
 * stat(2) calls on local disk (the next version's manifest absent, this
 * version's there and the same file) where listing _versions/ costs a
 * stat per entry: about 40 us, a fifth of an indexed query. False means
 * "list to know": a newer version, the table dropped or replaced, or
 * object storage (no cheap check). */
bool tv_table_surely_latest(tv_table *t);
uint32_t tv_table_dim(const tv_table *t);
uint64_t tv_table_rows(const tv_table *t); /* live rows */
size_t tv_table_fragments(const tv_table *t);

/* One live row as a scan sees it. Strings are borrowed until the next
 * call on the table. */
typedef struct tv_table_row {
	tv_row_view v;
	const float *vector;
	uint64_t addr; /* (fragment index << 32) | row offset */
} tv_table_row;

/* How a search uses the vector index. */
typedef struct tv_table_search_opts {
	bool exact;        /* ignore the index */
	int nprobes;       /* partitions to probe; 0 = automatic */
	int refine_factor; /* re-rank refine_factor * k candidates exactly; 0 = automatic */
} tv_table_search_opts;

/* Top-k over live rows passing filter (may be NULL): *addrs and *dists
 * (caller frees) receive up to k entries, nearest first, with exact
 * distances. Uses the IVF_PQ index for the fragments it covers (unless
 * o->exact or the table has fewer than 256 rows) and searches the others
 * exactly. o may be NULL (automatic). An index built for another metric
 * is TV_EINVAL; a damaged one TV_ECORRUPT naming its file. */
int tv_table_search(tv_table *t, const float *q, tv_metric metric, size_t k,
                    const tv_filter *filter, const tv_table_search_opts *o, uint64_t **addrs,
                    float **dists, size_t *n, tv_err *err);

/* The vector index as the current version sees it. */
typedef struct tv_table_index_info {
	bool present;
	tv_metric metric;
	uint32_t nlist, m;
	uint32_t nprobes;       /* partitions a query probes by default */
	bool codes;             /* false: the data has no cluster structure the
	                         * partitions could use; searches are exact */
	uint64_t entries;       /* rows encoded (deleted ones included) */
	uint64_t trained_rows;  /* table rows when it was trained */
	uint64_t built_version; /* version it was built or extended at */
	uint64_t indexed_rows;  /* live rows of covered fragments */
	uint64_t unindexed_rows;
	uint64_t bytes;
	char file[96];          /* under <table>/_teavec/ */
} tv_table_index_info;
int tv_table_index_stat(tv_table *t, tv_table_index_info *info, tv_err *err);

enum {
	TV_INDEX_AUTO,     /* after writes: build at 256 rows, fold in or retrain when due */
	TV_INDEX_OPTIMIZE, /* fold in every unindexed row; retrain when due */
	TV_INDEX_REBUILD   /* train afresh */
};
enum { TV_INDEX_NONE, TV_INDEX_BUILT, TV_INDEX_FOLDED };
/* Brings the vector index up to date for metric (see the modes); params
 * may be NULL (defaults). *did (may be NULL) receives TV_INDEX_*. */
int tv_table_index_update(tv_table *t, tv_metric metric, const tv_ivfpq_params *params,
                          int mode, int *did, tv_err *err);
/* The row at addr (from a search or scan). Its strings come from columns
 * already loaded, else are read for this row alone. */
int tv_table_row_at(tv_table *t, uint64_t addr, tv_table_row *row, tv_err *err);
/* Before reading many rows: loads the string columns of the fragments
 * holding at least 1/16 of their rows among addrs (one read of a column
 * beats that many single-row reads). */
int tv_table_rows_prepare(tv_table *t, const uint64_t *addrs, size_t n, tv_err *err);
/* Live rows passing filter (NULL = all), through the fragments' equality
 * indexes as a scan would. */
int tv_table_count(tv_table *t, const tv_filter *filter, uint64_t *out, tv_err *err);

/* Creates the table (if absent) and upserts rows in ONE commit: rows
 * whose id exists are deleted (deletion files) and all rows appended as a
 * new fragment, in one transaction, so no reader ever sees an id missing.
 * Retries against concurrent writers (bounded), else TV_ECONFLICT. On
 * success t is at the new version. t may be NULL-opened via
 * tv_table_upsert_new when the table does not exist yet. */
int tv_table_upsert(tv_table *t, const tv_row *rows, size_t n, tv_err *err);
/* The same, and in the same commit also deletes the rows passing where
 * (evaluated against the version the commit lands on, so a rebase after a
 * lost race re-evaluates it). *deleted (may be NULL) receives how many
 * rows passed where. n may be 0: an atomic delete-where. */
int tv_table_upsert_where(tv_table *t, const tv_row *rows, size_t n, const tv_filter *where,
                          size_t *deleted, tv_err *err);
/* Addresses of the live rows passing filter (NULL = all), in storage
 * order, at most limit (0 = all); caller frees *addrs. */
int tv_table_scan(tv_table *t, const tv_filter *filter, size_t limit, uint64_t **addrs,
                  size_t *n, tv_err *err);
/* Creates "<dir>" with our schema for dim-dimensional vectors and the
 * first rows, or upserts into it if it appeared meanwhile. */
int tv_table_create(tv_table **out, tv_io *io, const char *dir, const tv_row *rows, size_t n,
                    uint32_t dim, tv_err *err);
/* Deletes rows by id in one commit; *deleted receives how many went. */
int tv_table_delete_ids(tv_table *t, const char *const *ids, size_t n, size_t *deleted,
                        tv_err *err);

/* Commits a new version holding only rows, with our schema for
 * dim-dimensional vectors (a Lance Overwrite: the dimension may change;
 * older versions stay readable; the new version has no vector index). */
int tv_table_overwrite(tv_table *t, const tv_row *rows, size_t n, uint32_t dim, tv_err *err);

/* Commits a new version whose content equals version's (a Lance Restore);
 * older and newer versions stay readable. */
int tv_table_restore(tv_table *t, uint64_t version, tv_err *err);

/* Compaction: rewrites the live rows of fragments with fewer than
 * small_rows rows or with deleted rows into one new fragment (a Lance
 * Rewrite; new fragment ids, old data files untouched, so any index
 * LanceDB built stays correct and searches the new fragment exactly).
 * Does nothing unless at least min_fragments qualify (or, when
 * min_fragments <= 2 as for an explicit optimize, one has many deleted
 * rows). *rewritten receives how many fragments were merged. */
int tv_table_compact(tv_table *t, uint64_t small_rows, size_t min_fragments, size_t *rewritten,
                     tv_err *err);

/* Cleanup: removes the manifests of versions that are neither among the
 * newest `keep` nor younger than older_than_s seconds, then every data,
 * deletion and transaction file that no remaining version references and
 * that is itself older than older_than_s (so files of a commit still in
 * flight survive). Never touches _indices/ or what the latest version uses.
 * *removed receives the number of files removed. */
int tv_table_cleanup(tv_table *t, size_t keep, int64_t older_than_s, size_t *removed,
                     tv_err *err);

/* Versions of the table, ascending (caller frees). */
int tv_table_versions(tv_io *io, const char *dir, uint64_t **v, size_t *n, tv_err *err);

#endif
