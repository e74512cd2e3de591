/* Internals shared by table.c (snapshots, reads) and commit.c (writes). */
#ifndef TV_TABLE_INT_H
#define TV_TABLE_INT_H

#include <roaring/roaring.h>

#include "index/ivfpq.h"
#include "table/datafile.h"
#include "table/manifest.h"
#include "table/table.h"
#include "util/common.h"
#include "util/strmap.h"

/* Rows of a fragment grouped by the string value of one column or
 * metadata key, built on the first selective equality filter on it. */
/* A table gets its vector index at this many live rows; below, search is exact. */
#define TV_INDEX_MIN_ROWS 256
/* A filtered search is exact when an equality filter selects at most
 * TV_FILTER_EXACT_ROWS rows (visiting them costs about what probing the
 * index would), and for any filter in a table of at most
 * TV_FILTER_EXACT_TABLE rows (a scan of 32,768 rows of 384 dimensions
 * takes about 1 ms). Through the index, a filter that leaves few rows near
 * the query loses recall: at 20,000 rows, 10% filters reached 0.65 and 50%
 * filters 0.92 with the default probes; at 100,000, 0.96-1.0. */
#define TV_FILTER_EXACT_ROWS 8192
#define TV_FILTER_EXACT_TABLE 32768

typedef struct tv_eqidx {
	int column;        /* tv_filter_eq column */
	char *key;         /* metadata key, or NULL */
	bool unusable;     /* some value is not a string (e.g. a list) */
	tv_strmap map;     /* value -> group */
	tv_buf arena;      /* the distinct values */
	uint64_t *goff;    /* per group: offset in arena */
	uint32_t *glen;
	uint32_t *gstart;  /* ngroups + 1 */
	uint32_t *rows;    /* row offsets, grouped */
	size_t ngroups;
} tv_eqidx;

typedef struct tv_frag {
	Lance__Table__DataFragment *pb; /* borrowed from the manifest */
	uint64_t id, rows;              /* physical rows */
	int file[TV_NCOLS];             /* index in pb->files, -1 absent */
	uint32_t col[TV_NCOLS];         /* column index in that file */
	roaring_bitmap_t *deleted;      /* NULL = none */
	tv_rfile **rf;                  /* per data file, opened lazily */
	tv_datafile **df;
	tv_strcol str[TV_NCOLS];        /* loaded lazily (strings only) */
	float *inv_norm;                /* 1/|v| per row, computed on first search */
	tv_eqidx **eq;                   /* equality indexes built so far */
	size_t neq;
	bool indexed;                   /* covered by t->ix (same id and rows) */
	bool loaded[TV_NCOLS];
} tv_frag;

struct tv_table {
	tv_io *io;
	char *dir;
	tv_naming naming;
	tv_manifest mf;
	uint64_t version;
	/* this version's manifest file, kept open on local disk (NULL
	 * elsewhere): tv_table_surely_latest */
	tv_rfile *mf_pin;
	uint32_t dim;
	int32_t field[TV_NCOLS]; /* field ids, -1 absent */
	tv_frag *frags;
	size_t nfrags;
	uint64_t live;
	/* id -> (fragment id << 32 | offset), kept across versions by this
	 * handle: fragments are immutable, so only fragments not seen before
	 * are read; an entry whose fragment is gone or whose row is deleted
	 * counts as absent (checked on lookup). */
	tv_strmap ids;
	tv_buf id_arena;       /* the id strings */
	uint64_t *ent_off;     /* per entry: offset in id_arena */
	uint32_t *ent_len;
	uint64_t *ent_addr;
	size_t nent, capent;
	uint64_t *seen_frags;  /* fragment ids already in the index, sorted */
	size_t nseen;
	/* older live rows of ids another writer repeated (LanceDB does not
	 * keep ids unique): (entry, row) pairs, sorted by entry when
	 * dups_sorted; an upsert of the id replaces them all */
	struct tv_id_dup *dups;
	size_t ndups, capdups;
	bool dups_sorted;
	unsigned probe_scans;  /* small upserts answered by a scan instead (commit.c) */
	float *rowbuf; /* one vector, for rows of unmapped files */
	tv_strcol rowstr[TV_COL_VEC]; /* one row's strings of columns not loaded */
	/* Our IVF_PQ index (vindex.c): the one chosen for this version, or
	 * NULL; ix_version is the version it was chosen for (0 = not yet). A
	 * damaged index file is remembered in ix_err and reported by searches
	 * until a rebuild replaces it. */
	tv_ivfpq *ix;
	char *ix_name;
	uint64_t ix_version;
	tv_err ix_err;
};

/* Equality indexes (eqindex.c): the fragment's index for eq's column,
 * built on first use; *out NULL when it cannot serve (non-string values). */
int tv_eqidx_get(tv_frag *f, const tv_filter_eq *eq, tv_eqidx **out);
/* For each value of eq: lists[i] and counts[i]; returns the total. */
size_t tv_eqidx_rows(const tv_eqidx *x, const tv_filter_eq *eq, const uint32_t **lists,
                     size_t *counts);
void tv_eqidx_free(tv_eqidx *x);

int tv_table__load(tv_table *t, uint64_t version, tv_err *err);
void tv_table__unload(tv_table *t);
/* Loads version (0 = newest) keeping what unchanged fragments computed. */
int tv_table__reload(tv_table *t, uint64_t version, tv_err *err);
int tv_table__strings(tv_table *t, tv_frag *f, int c, tv_err *err);
int tv_table__build_ids(tv_table *t, tv_err *err);
void tv_table__ids_free(tv_table *t);
/* After loading a version in place of the fragments old: drops the id
 * index if a row it may have indexed as deleted, or a fragment it indexed
 * and saw go, is live again (a restore, here or by another writer), or a
 * fragment id now names other files (the table removed and made again). */
void tv_table__ids_reloaded(tv_table *t, const tv_frag *old, size_t nold);
/* The two fragments list the same data files (and row count). */
bool tv_table__same_files(const Lance__Table__DataFragment *a, const Lance__Table__DataFragment *b);
bool tv_table__is_deleted(const tv_frag *f, uint64_t off);
int tv_table__datafile(tv_table *t, tv_frag *f, int file, tv_datafile **out, tv_err *err);
void tv_table__view(tv_frag *f, uint64_t off, tv_row_view *v);
/* Loads the string columns filter reads (NULL: none), and no other. */
int tv_table__filter_cols(tv_table *t, tv_frag *f, const tv_filter *filter, tv_err *err);
/* Rows of a selectivity sample (about 1,024, one per stratum, deleted
 * rows skipped) and how many of them pass filter. */
int tv_table__filter_sample(tv_table *t, const tv_filter *filter, uint64_t *seen,
                            uint64_t *hits, tv_err *err);
/* Rows per chunk of vectors read at once (8 MiB). */
uint64_t tv_table__chunk_rows(uint32_t dim);
/* Exact search of fragment fi into top (d: tv_table__chunk_rows floats). */
int tv_table__search_frag(tv_table *t, size_t fi, const float *q, float qinv, tv_metric metric,
                          const tv_filter *filter, tv_topk *top, float *d, tv_err *err);
/* The snapshot position of fragment id, or -1. */
long tv_table__frag_pos(const tv_table *t, uint64_t id);

/* Removes the files of _teavec/ that ours() recognises and whose names
 * sort before name (or equal it, when inclusive); best effort (vindex.c). */
void tv_table__sidecar_remove_older(tv_table *t, bool (*ours)(const char *name),
                                    const char *name, bool inclusive);

/* The id file (idfile.c): _teavec/ids-<version>.idx, a persisted index
 * from id to row addresses that a new handle's small upserts use instead
 * of scanning every id; written by such a scan in tables of at least
 * TV_IDFILE_MIN_ROWS live rows. */
#define TV_IDFILE_MIN_ROWS 65536
/* Calls hit(ctx, fi, off) for every live row holding one of the ids in the
 * fragments the newest id file covers, and sets covered[fi] (t->nfrags
 * entries) for those. TV_ENOTFOUND: no usable file (none, damaged, or
 * covering under 3/4 of the live rows); hits already made are right. */
int tv_table__idfile_lookup(tv_table *t, const char *const *ids, const size_t *lens, size_t n,
                            bool *covered, int (*hit)(void *ctx, size_t fi, uint32_t off),
                            void *ctx, tv_err *err);
/* Writes the id file of this version from (hash, address) of every row
 * of its fragments, deleted or not; best effort (a cache: a failure leaves
 * none). */
void tv_table__idfile_write(tv_table *t, const uint64_t *hashes, const uint64_t *addrs, size_t n);
/* Lookups answered through an id file in this process (for tests). */
extern unsigned long tv_table__idfile_lookups;

/* Tests only: milliseconds a threaded upsert waits between writing its
 * data file and syncing it, widening the window in which the manifest
 * must wait for the file (0: none). */
extern unsigned tv_table__sync_pause_ms;

/* The vector index (vindex.c). */
/* Chooses this version's index (lists _teavec/ once per version). */
int tv_table__index_attach(tv_table *t, tv_err *err);
void tv_table__index_free(tv_table *t);
/* Searches the indexed fragments approximately (re-ranked exactly) into
 * top; *used is false when the index cannot serve (none, too small). */
int tv_table__index_search(tv_table *t, const float *q, tv_metric metric, size_t k,
                           const tv_filter *filter, const tv_table_search_opts *o,
                           tv_topk *top, bool *used, tv_err *err);

#endif
