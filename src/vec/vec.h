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
