/*
 * Distance kernels and top-k selection on float32 vectors.
 *
 * A kernel set (tv_kernels) is a table of function pointers; one exists per
 * instruction set (scalar reference, AVX2+FMA, AVX-512, NEON), each in its
 * own file compiled with its own flags, and tv_vec_kernels() picks the best
 * one this CPU runs, once. All entry points accept any dimension >= 1 and
 * unaligned pointers.
 *
 * Distances: cosine = 1 - dot/(|a||b|) (1 when either norm is 0),
 * l2 = squared euclidean, dot = -dot, so that smaller is always nearer.
 */
#ifndef TV_VEC_H
#define TV_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "teavec.h"

typedef struct tv_kernels {
	const char *name;
	/* sum a[i]*b[i] */
	float (*dot)(const float *a, const float *b, size_t d);
	/* sum (a[i]-b[i])^2 */
	float (*l2sq)(const float *a, const float *b, size_t d);
	/* out[i] = dot(q, base + i*d) for i < n (rows contiguous) */
	void (*dot_batch)(const float *q, const float *base, size_t n, size_t d, float *out);
	/* out[i] = l2sq(q, base + i*d) */
	void (*l2sq_batch)(const float *q, const float *base, size_t n, size_t d, float *out);
	/* dots[i] = dot(q, x_i) and sq[i] = dot(x_i, x_i) in one pass over the
	 * rows: the cosine scan when row norms are not stored */
	void (*dot_sq_batch)(const float *q, const float *base, size_t n, size_t d,
	                     float *dots, float *sq);
	/* Product-quantizer codes of n rows r (n x m*dsub floats): codes[i*m
	 * + s] = the nearest of sub-vector s's 256 codewords, from lanes as
	 * index/kmeans.h's tv_pq_lanes lays them out, for dsub 1, 2, 4 or 8.
	 * NULL where the generic loop of index/kmeans.c serves. */
	void (*pq_encode_rows)(const float *r, size_t n, const float *lanes, uint32_t m,
	                       uint32_t dsub, uint8_t *codes);
} tv_kernels;

/* The fastest kernel set this CPU supports (chosen once; thread-safe). The
 * environment variable TEAVEC_SIMD=scalar|avx2|avx512|neon forces one, if
 * the CPU has it. */
const tv_kernels *tv_vec_kernels(void);
/* A kernel set by name, or NULL if not compiled in or not supported by this
 * CPU. Used by tests to compare every path with the scalar one. */
const tv_kernels *tv_vec_kernels_named(const char *name);

extern const tv_kernels tv_kernels_scalar;

/* |x|; 0 for a zero vector. */
float tv_vec_norm(const float *x, size_t d);

/* Distances from q to n contiguous rows under metric. inv_norms, when not
 * NULL, holds 1/|x_i| (0 for zero rows) for cosine and saves a pass.
 * q_inv_norm is 1/|q| (0 if q is zero); only cosine reads it. */
void tv_vec_distances(tv_metric metric, const float *q, float q_inv_norm,
                      const float *base, const float *inv_norms, size_t n,
                      size_t d, float *out);

/* bf16 dot products (AVX512_BF16, src/vec/kernels_avx512bf16.c) for the
 * nearest-centroid search of index training and encoding, which re-checks
 * in float32 what bf16 rounding could misorder (index/kmeans.c). Rows go
 * TV_BF16_ROWS at a time against centroids padded to TV_BF16_PAD(k); a
 * bf16 pair (dimensions 2p, 2p+1, the odd last one padded with 0) is one
 * uint32. Call the others only when tv_bf16_supported(). */
#define TV_BF16_ROWS 8
#define TV_BF16_PAD(k) (((k) + 31) / 32 * 32)
/* This CPU has AVX512_BF16 and TEAVEC_SIMD does not name a lesser kernel
 * set (chosen once). */
bool tv_bf16_supported(void);
/* uint32 words of tv_bf16_pack_cols' output */
size_t tv_bf16_cols_words(size_t k, size_t d);
/* k centroids (k x d floats) -> blocks of 16: [k/16][pair][16] */
void tv_bf16_pack_cols(const float *c, size_t k, size_t d, uint32_t *cp);
/* nr <= TV_BF16_ROWS rows -> [TV_BF16_ROWS][pair], missing rows zero */
void tv_bf16_pack_rows(const float *x, size_t nr, size_t d, uint32_t *xb);
/* out[r * TV_BF16_PAD(k) + j] = bf16 dot of row r and centroid j
 * (padding centroids give 0) */
void tv_bf16_dots(const uint32_t *xb, const uint32_t *cp, size_t k, size_t d, float *out);
/* The centroids j < TV_BF16_PAD(k) (padding has cn = +inf) whose score
 * interval [s_j - slack cnorm_j, s_j + slack cnorm_j], s_j = cn_j - 2 g_j,
 * reaches below every interval's top, in ascending order into cand (room
 * for TV_BF16_PAD(k)); returns their number (none for a row whose scores
 * are all NaN). */
size_t tv_bf16_candidates(const float *g, const float *cn, const float *cnorm, size_t k,
                          float slack, uint32_t *cand);

/* Top-k smallest distances, as a bounded max-heap. */
typedef struct tv_topk {
	size_t k, n;
	float *dist;
	uint64_t *id;
} tv_topk;

int tv_topk_init(tv_topk *t, size_t k);
void tv_topk_free(tv_topk *t);
/* Current admission threshold: a distance must be < this to enter
 * (+inf until k items are held). */
static inline float tv_topk_worst(const tv_topk *t)
{
	return t->n < t->k ? __builtin_inff() : t->dist[0];
}
void tv_topk_push(tv_topk *t, float dist, uint64_t id);
/* Pushes dists[i] with id id_base + i, skipping quickly what cannot enter. */
void tv_topk_push_array(tv_topk *t, const float *dists, size_t n, uint64_t id_base);
/* Sorts the held items nearest first (ties by id) in place; the heap is
 * then no longer a heap: call only once, at the end. */
void tv_topk_sort(tv_topk *t);

#endif
