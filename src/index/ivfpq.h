/*
 * The IVF_PQ vector index: an inverted file of `nlist` partitions (coarse
 * k-means centroids) whose entries are product-quantized residuals (`m`
 * sub-vectors, 8-bit codes, 256 centroids each), searched by asymmetric
 * distance (a lookup table per query) over the `nprobes` nearest
 * partitions, then re-ranked exactly by the caller.
 *
 * One index is one immutable file (format below and in docs/FORMAT.md),
 * memory-mapped when local. Entries are row addresses
 * (fragment id << 32 | row offset) of a Lance table, so an index stays
 * valid at every version that still has those fragments; it lists the
 * fragments it covers (id, physical rows), and the caller searches the
 * others exactly.
 *
 * Metrics: cosine (vectors normalized before training and encoding), l2,
 * dot. Every metric is one table of <q_s, codeword> per query:
 *   cosine: 1 - (<q,c> + sum_s T[s][code_s])
 *   dot:     -(<q,c> + sum_s T[s][code_s])
 *   l2:     |q-c|^2 - 2 sum_s T[s][code_s] + e,  e = 2<c,r> + |r|^2 stored
 *           per entry (r the decoded residual)
 * so a probe costs m lookups per entry whatever the metric.
 */
#ifndef TV_INDEX_IVFPQ_H
#define TV_INDEX_IVFPQ_H

#include <stdbool.h>
#include <stdint.h>

#include "io/io.h"
#include "teavec.h"
#include "util/err.h"
#include "vec/vec.h"

typedef struct tv_ivfpq_params {
	uint32_t nlist;  /* partitions; 0 = about sqrt(rows) */
	uint32_t m;      /* sub-vectors; 0 = dim / 8 above 256 dimensions, dim / 4
	                  * above 128, else dim / 2 (or 1-dimensional ones) */
	uint32_t iters;  /* k-means rounds of both quantizers; 0 = 12 */
	uint32_t sample; /* training rows at most; 0 = max(64 * nlist, 16384) */
	uint64_t seed;   /* builds are reproducible for a seed */
} tv_ivfpq_params;

/* A loaded (or freshly written) index. Read-only; its arrays point into
 * the mapped file. */
typedef struct tv_ivfpq {
	char *path;            /* for messages */
	tv_metric metric;
	uint32_t dim, nlist, m, dsub;
	uint64_t table_version; /* the version it was built or extended at */
	uint64_t trained_rows;  /* rows in the table when the quantizers were trained */
	uint64_t nentries, nfrags;
	uint32_t nprobes;       /* default, calibrated by training (0 = none); over
	                         * nlist / 2 means the index keeps no codes */
	const uint64_t *frags;  /* nfrags pairs (fragment id, physical rows), ids ascending */
	const float *centroids; /* nlist x dim */
	const float *codebooks; /* m x 256 x dsub */
	const uint64_t *parts;  /* nlist + 1 entry offsets */
	const uint64_t *addrs;  /* nentries row addresses, grouped by partition */
	const uint8_t *codes;   /* nentries x m */
	const float *terms;     /* nentries (l2), else NULL */
	/* private */
	tv_rfile *rf;
	uint8_t *buf; /* whole file when the backend cannot map */
} tv_ivfpq;

/* Defaults for n rows of dimension dim (fills the zero fields of *p). */
void tv_ivfpq_defaults(tv_ivfpq_params *p, uint64_t n, uint32_t dim);

/* A builder: trained quantizers plus the entries added so far. */
typedef struct tv_ivfpq_builder tv_ivfpq_builder;

/* Trains on n sample vectors (the caller samples; n >= 1). */
int tv_ivfpq_train(tv_ivfpq_builder **out, const float *x, size_t n, uint32_t dim,
                   tv_metric metric, const tv_ivfpq_params *p, uint64_t trained_rows,
                   tv_err *err);
/* The same, using x as its working memory (no copy of the sample: x's
 * contents are unspecified afterwards). */
int tv_ivfpq_train_inplace(tv_ivfpq_builder **out, float *x, size_t n, uint32_t dim,
                           tv_metric metric, const tv_ivfpq_params *p, uint64_t trained_rows,
                           tv_err *err);
/* A builder with ix's quantizers and none of its entries (fold-in). */
int tv_ivfpq_builder_from(tv_ivfpq_builder **out, const tv_ivfpq *ix, tv_err *err);
/* Encodes n vectors (n x dim) with their row addresses. */
int tv_ivfpq_builder_add(tv_ivfpq_builder *b, const float *x, size_t n, const uint64_t *addrs,
                         tv_err *err);
/* Copies ix's entries of the fragments keep() accepts (ix must be the
 * index the builder came from). One pass over ix. */
int tv_ivfpq_builder_copy(tv_ivfpq_builder *b, const tv_ivfpq *ix,
                          bool (*keep)(void *ctx, uint64_t frag_id), void *ctx, tv_err *err);
/* Entries added so far. */
uint64_t tv_ivfpq_builder_entries(const tv_ivfpq_builder *b);
/* Declares a covered fragment (call in ascending id order). */
int tv_ivfpq_builder_cover(tv_ivfpq_builder *b, uint64_t frag_id, uint64_t rows, tv_err *err);
/* Whether probing beats an exact scan: false when training found that
 * queries would have to probe over half the partitions (data without
 * cluster structure). Such an index keeps no codes; it records which
 * fragments were looked at, and searches stay exact. */
bool tv_ivfpq_builder_useful(const tv_ivfpq_builder *b);
/* Sets the default probes to the fewest partitions whose search (ncand
 * candidates by code distance, which the caller re-ranks exactly) finds
 * 98% of the 10 nearest rows of 100 training rows taken as queries (their
 * exact neighbours were computed while the rows were added), but never
 * fewer than the coarse calibration of training chose. This measures what
 * the codes lose, not only the partitions. A no-op when entries were
 * copied from another index (no vectors: the probes stay as they were).
 * Call after the last add. */
int tv_ivfpq_builder_calibrate(tv_ivfpq_builder *b, size_t ncand, tv_err *err);
/* The recall@10 the calibration measured at the chosen probes, or -1. */
double tv_ivfpq_builder_recall(const tv_ivfpq_builder *b);
/* The default probes chosen so far. */
uint32_t tv_ivfpq_builder_probes(const tv_ivfpq_builder *b);
/* Writes the index to path (created only if absent). */
int tv_ivfpq_builder_write(tv_ivfpq_builder *b, tv_io *io, const char *path,
                           uint64_t table_version, tv_err *err);
void tv_ivfpq_builder_free(tv_ivfpq_builder *b);

/* Opens an index file; TV_ECORRUPT naming it when anything is off. */
int tv_ivfpq_open(tv_ivfpq **out, tv_io *io, const char *path, tv_err *err);
void tv_ivfpq_close(tv_ivfpq *ix);
/* The position of fragment id in ix->frags, or -1. */
long tv_ivfpq_find_frag(const tv_ivfpq *ix, uint64_t frag_id);

/* Approximate search: the estimated distances of the entries of the
 * nprobes partitions nearest to q go into cand (its k = how many
 * candidates to keep), skipping entries accept() refuses (deleted rows,
 * fragments gone, filtered out). accept is called for the first 1,024
 * entries, then only for those that would enter cand. With filtered, the
 * share of those first entries accept() keeps, f, scales the partitions
 * probed to nprobes / f (a filter keeping half the rows probes twice as
 * many). Returns 0 or TV_ENOMEM. */
int tv_ivfpq_search(const tv_ivfpq *ix, const float *q, size_t nprobes, bool filtered,
                    tv_topk *cand, bool (*accept)(void *ctx, uint64_t addr), void *ctx,
                    tv_err *err);

#endif
