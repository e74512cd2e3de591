/*
 * k-means under squared L2, the trainer of both quantizers of the IVF_PQ
 * index: the coarse one (k = partitions, full dimension; BLAS sgemm when
 * built with OpenBLAS, else our SIMD kernels) and the product quantizer's
 * (k = 256 per sub-vector of a few dimensions; a transposed-codebook loop
 * the compiler vectorizes for AVX-512 / AVX2 / baseline, chosen at run
 * time).
 */
#ifndef TV_INDEX_KMEANS_H
#define TV_INDEX_KMEANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Trains k centroids c (k x d) on n points x (n x d, n >= 1): k-means++
 * seeding (on a subsample of at most 16k + 1024 points; for the product
 * quantizer's small case, k <= 256 and d <= 32, a seeded random sample),
 * then iters Lloyd rounds;
 * a cluster left empty is re-seeded by splitting the largest one. With
 * n < k the extra centroids repeat points. Deterministic for a given seed
 * and thread count. TV_ENOMEM or 0. */
int tv_kmeans(const float *x, size_t n, size_t d, size_t k, unsigned iters, uint64_t seed,
              float *c);
/* iters more Lloyd rounds from the centroids in c (as tv_kmeans left them). */
int tv_kmeans_more(const float *x, size_t n, size_t d, size_t k, unsigned iters, uint64_t seed,
                   float *c);

/* assign[i] = the centroid nearest to point i (ties: the lowest index);
 * dist (may be NULL) receives the squared distances. Uses both cores. */
int tv_kmeans_assign(const float *x, size_t n, size_t d, const float *c, size_t k,
                     uint32_t *assign, float *dist);

/* Whether tv_kmeans_assign may use bf16 dot products where the CPU has
 * them (default on; the result is the same float32 argmin either way).
 * For tests and measurements; not thread-safe. */
void tv_kmeans_set_bf16(bool on);

/* out[i * nb + j] = <a_i, b_j> for na rows a and nb rows b of d floats;
 * one thread (BLAS sgemm when available, else the SIMD kernels). */
void tv_kmeans_dots(const float *a, size_t na, const float *b, size_t nb, size_t d, float *out);

/* For the product quantizer: the nearest of 256 centroids to x (dsub
 * floats), given the codebook transposed (dsub x 256) and the centroids'
 * squared norms. */
uint8_t tv_kmeans_nearest256(const float *x, const float *cbt, const float *cbnorm,
                             uint32_t dsub);

/* Product-quantizer codebooks laid out for encoding whole vectors: sub-
 * vectors in groups of 16 (m rounded up; the padding is zero), per group
 * and codeword j, the codeword's dsub values for the 16 sub-vectors
 * interleaved, [group][j][t][16], and their squared norms [group][j][16].
 * Built from codebooks (m x 256 x dsub) into caller storage of
 * tv_pq_lanes_size(m, dsub) floats. */
size_t tv_pq_lanes_size(uint32_t m, uint32_t dsub);
void tv_pq_lanes(const float *codebooks, uint32_t m, uint32_t dsub, float *lanes);

/* code[s] = the nearest codeword of sub-vector s of r (m x dsub floats),
 * s < m, with lanes from tv_pq_lanes. One SIMD lane per sub-vector: no
 * reduction across lanes. Only for the widths tv_pq_encode_width accepts
 * (1, 2, 4, 8: what the defaults choose); others, one sub-vector at a time
 * with tv_kmeans_nearest256. */
bool tv_pq_encode_width(uint32_t dsub);
void tv_pq_encode(const float *r, const float *lanes, uint32_t m, uint32_t dsub, uint8_t *code);
/* The same for n rows (n x m*dsub floats; codes n x m): several rows per
 * pass over the codebooks where the SIMD kernels allow. The index encodes
 * with this; tv_pq_encode is the portable path it falls back to, kept
 * callable so that tests compare the two on any CPU. */
void tv_pq_encode_rows(const float *r, size_t n, const float *lanes, uint32_t m, uint32_t dsub,
                       uint8_t *codes);

#endif
