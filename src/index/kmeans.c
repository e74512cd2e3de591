/* k-means: seeded sample start, Lloyd rounds, empty-cluster splitting. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "index/kmeans.h"
#include "util/common.h"
#include "util/parallel.h"
#include "vec/vec.h"

#if TV_HAVE_BLAS
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#endif

#if defined(__x86_64__) && !defined(__clang_analyzer__)
#define TV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TV_CLONES
#endif

/* splitmix64: the seeded generator of samples and perturbations */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The nearest of 256 codewords (cbt: dsub x 256, transposed; cbnorm: their
 * squared norms) to x. 16 codewords at a time, their partial sums kept in
 * registers across the sub-vector's dimensions. The argmin is branch-free:
 * a squared distance (>= 0) has IEEE bits that order like unsigned
 * integers, so with its low 8 bits replaced by the codeword's number one
 * unsigned minimum per lane finds distance and codeword together (ties,
 * and distances within 2^-15 of each other, go to the lower number).
 * Inlined with a constant dsub for the common widths, so the compiler
 * unrolls the inner loop and keeps the sums in registers (the generic
 * loop spilled them: 2.5x slower at dsub 2). */
static inline __attribute__((always_inline)) uint8_t
nearest256_ds(const float *x, const float *cbt, const float *cbnorm, uint32_t dsub)
{
	uint32_t um[16], m;
	float xn = 0, xv[16];
	for (uint32_t t = 0; t < dsub; t++) {
		xn += x[t] * x[t];
		xv[t & 15] = -2.0f * x[t];
	}
	for (int l = 0; l < 16; l++)
		um[l] = UINT32_MAX;
	for (int j0 = 0; j0 < 256; j0 += 16) {
		float a[16];
		for (int l = 0; l < 16; l++)
			a[l] = cbnorm[j0 + l] + xn;
		for (uint32_t t = 0; t < dsub; t++) {
			const float *row = cbt + (size_t)t * 256 + j0;
			const float v = dsub <= 16 ? xv[t & 15] : -2.0f * x[t];
			for (int l = 0; l < 16; l++)
				a[l] += v * row[l];
		}
		for (int l = 0; l < 16; l++) {
			float d = a[l] > 0.0f ? a[l] : 0.0f;
			uint32_t u;
			memcpy(&u, &d, sizeof u);
			u = (u & ~0xffu) | (uint32_t)(j0 + l);
			um[l] = u < um[l] ? u : um[l];
		}
	}
	/* a halving tree, not a loop over the lanes: the loop was scalar and
	 * cost as much as the 16 rounds above */
	for (int w = 8; w > 0; w /= 2)
		for (int l = 0; l < w; l++)
			um[l] = um[l + w] < um[l] ? um[l + w] : um[l];
	m = um[0];
	return (uint8_t)(m & 0xff);
}

/* Multiversioned (one clone per instruction set, picked by an ifunc at
 * load time); static because clang names the ifunc of an exported clone
 * differently from what other files call. */
TV_CLONES
static uint8_t nearest256(const float *x, const float *cbt, const float *cbnorm, uint32_t dsub)
{
	switch (dsub) {
	case 1: return nearest256_ds(x, cbt, cbnorm, 1);
	case 2: return nearest256_ds(x, cbt, cbnorm, 2);
	case 4: return nearest256_ds(x, cbt, cbnorm, 4);
	case 8: return nearest256_ds(x, cbt, cbnorm, 8);
	default: return nearest256_ds(x, cbt, cbnorm, dsub);
	}
}

uint8_t tv_kmeans_nearest256(const float *x, const float *cbt, const float *cbnorm, uint32_t dsub)
{
	return nearest256(x, cbt, cbnorm, dsub);
}

/* ---- product-quantizer encoding, one lane per sub-vector -------------- */

size_t tv_pq_lanes_size(uint32_t m, uint32_t dsub)
{
	return (size_t)(m + 15) / 16 * 256 * 16 * ((size_t)dsub + 1);
}

void tv_pq_lanes(const float *codebooks, uint32_t m, uint32_t dsub, float *lanes)
{
	size_t groups = (m + 15) / 16, per = (size_t)256 * 16 * (dsub + 1);
	for (size_t g = 0; g < groups; g++)
		for (size_t j = 0; j < 256; j++) {
			float *v = lanes + g * per + j * 16 * (dsub + 1), *nn = v + (size_t)dsub * 16;
			for (size_t l = 0; l < 16; l++) {
				size_t s = g * 16 + l;
				const float *w = codebooks + (s * 256 + j) * dsub;
				nn[l] = 0;
				for (size_t t = 0; t < dsub; t++) {
					v[t * 16 + l] = s < m ? w[t] : 0.0f;
					nn[l] += s < m ? w[t] * w[t] : 0.0f;
				}
			}
		}
}

/* One group of 16 sub-vectors: a running minimum per lane over the 256
 * codewords, with the codeword's number in the low 8 bits of the distance
 * (as in nearest256_ds). lane: [j][t][16] values then [16] norms per j. */
static inline __attribute__((always_inline)) void
encode_group(const float *r, const float *lane, uint32_t dsub, uint32_t live, uint8_t *code)
{
	float xv[16 * 16], xn[16];
	uint32_t um[16];
	for (uint32_t l = 0; l < 16; l++) {
		xn[l] = 0;
		um[l] = UINT32_MAX;
		for (uint32_t t = 0; t < dsub; t++) {
			float x = l < live ? r[l * dsub + t] : 0.0f;
			xv[t * 16 + l] = -2.0f * x;
			xn[l] += x * x;
		}
	}
	for (uint32_t j = 0; j < 256; j++) {
		const float *v = lane + (size_t)j * 16 * (dsub + 1), *nn = v + (size_t)dsub * 16;
		float a[16];
		for (int l = 0; l < 16; l++)
			a[l] = nn[l] + xn[l];
		for (uint32_t t = 0; t < dsub; t++)
			for (int l = 0; l < 16; l++)
				a[l] += xv[t * 16 + l] * v[t * 16 + l];
		for (int l = 0; l < 16; l++) {
			float d = a[l] > 0.0f ? a[l] : 0.0f;
			uint32_t u;
			memcpy(&u, &d, sizeof u);
			u = (u & ~0xffu) | j;
			um[l] = u < um[l] ? u : um[l];
		}
	}
	for (uint32_t l = 0; l < live; l++)
		code[l] = (uint8_t)(um[l] & 0xff);
}

static inline __attribute__((always_inline)) void
encode_ds(const float *r, const float *lanes, uint32_t m, uint32_t dsub, uint8_t *code)
{
	size_t per = (size_t)256 * 16 * (dsub + 1);
	for (uint32_t g = 0; g * 16 < m; g++)
		encode_group(r + (size_t)g * 16 * dsub, lanes + g * per, dsub, TV_MIN(16, m - g * 16),
		             code + g * 16);
}

TV_CLONES
static void pq_encode(const float *r, const float *lanes, uint32_t m, uint32_t dsub, uint8_t *code)
{
	switch (dsub) {
	case 1: encode_ds(r, lanes, m, 1, code); break;
	case 2: encode_ds(r, lanes, m, 2, code); break;
	case 4: encode_ds(r, lanes, m, 4, code); break;
	case 8: encode_ds(r, lanes, m, 8, code); break;
	default: /* wider sub-vectors: see tv_pq_encode_width */
		break;
	}
}

bool tv_pq_encode_width(uint32_t dsub)
{
	return dsub == 1 || dsub == 2 || dsub == 4 || dsub == 8;
}

void tv_pq_encode(const float *r, const float *lanes, uint32_t m, uint32_t dsub, uint8_t *code)
{
	pq_encode(r, lanes, m, dsub, code);
}

void tv_pq_encode_rows(const float *r, size_t n, const float *lanes, uint32_t m, uint32_t dsub,
                       uint8_t *codes)
{
	const tv_kernels *kk = tv_vec_kernels();
	if (kk->pq_encode_rows) {
		kk->pq_encode_rows(r, n, lanes, m, dsub, codes);
		return;
	}
	for (size_t i = 0; i < n; i++)
		pq_encode(r + i * m * dsub, lanes, m, dsub, codes + i * m);
}

/* ---- assignment ------------------------------------------------------ */

typedef struct assign_job {
	const float *x, *c, *cn;
	size_t d, k;
	uint32_t *assign;
	float *dist;
	float *cbt; /* small path: transposed centroids (d x 256), k <= 256 */
	size_t n, nb; /* BLAS path: points, and points per block */
	bool nomem;
	/* bf16 path: packed centroids, their norms padded with +inf / 0 to
	 * TV_BF16_PAD(k), and the rounding bound (see assign_bf16) */
	const uint32_t *cp;
	const float *cnp, *cnorm;
	float kappa;
} assign_job;

/* Small path (k <= 256, d <= 32): the PQ trainer's case. */
static void assign_small(void *ctx, size_t b, size_t e)
{
	assign_job *j = ctx;
	for (size_t i = b; i < e; i++) {
		const float *xi = j->x + i * j->d;
		uint8_t a = nearest256(xi, j->cbt, j->cn, (uint32_t)j->d);
		j->assign[i] = a;
		if (j->dist)
			j->dist[i] = tv_kernels_scalar.l2sq(xi, j->c + (size_t)a * j->d, j->d);
	}
}

/* argmin_j |c_j|^2 - 2 <x, c_j> from a row of dot products, ties to the
 * lowest j: a vectorized pass for the minimum (16 lanes, then a halving
 * tree), a second for its first position. (Tracking positions in the first
 * pass made the compiler keep both arrays in memory: 3x slower.) */
TV_CLONES
static uint32_t argmin_row(const float *g, const float *cn, size_t k, float *best_out)
{
	float bv[16], best;
	size_t j = 0;
	for (int l = 0; l < 16; l++)
		bv[l] = INFINITY;
	for (; j + 16 <= k; j += 16)
		for (int l = 0; l < 16; l++) {
			float v = cn[j + l] - 2.0f * g[j + l];
			bv[l] = v < bv[l] ? v : bv[l];
		}
	for (int w = 8; w > 0; w /= 2)
		for (int l = 0; l < w; l++)
			bv[l] = bv[l + w] < bv[l] ? bv[l + w] : bv[l];
	best = bv[0];
	for (; j < k; j++) {
		float v = cn[j] - 2.0f * g[j];
		best = v < best ? v : best;
	}
	*best_out = best;
	for (j = 0; j + 16 <= k; j += 16) {
		int hit = 0;
		for (int l = 0; l < 16; l++)
			hit |= cn[j + l] - 2.0f * g[j + l] == best;
		if (hit)
			break;
	}
	for (; j < k; j++)
		if (cn[j] - 2.0f * g[j] == best)
			return (uint32_t)j;
	{ /* not found again (all NaN, or a compiler that rounded the two
	   * passes differently): the plain loop */
		uint32_t b = 0;
		best = INFINITY;
		for (j = 0; j < k; j++) {
			float v = cn[j] - 2.0f * g[j];
			if (v < best) {
				best = v;
				b = (uint32_t)j;
			}
		}
		*best_out = best;
		return b;
	}
}

#if TV_HAVE_BLAS
/* OpenBLAS is loaded on first use (dlopen), not linked: relocating it cost
 * every teavec process some 10 ms at start, though only index training and
 * encoding use it. Without it, the SIMD kernels do the same work, slower.
 * Its threads would spin (sched_yield) between our many mid-sized calls,
 * so it runs single-threaded and we split the work across cores, one sgemm
 * per block per thread. (Process-wide: an application using OpenBLAS too
 * gets single-threaded calls; libteavec parallelizes its own.) */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void (*blas_sgemm)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
                          blasint, blasint, blasint, float, const float *, blasint,
                          const float *, blasint, float, float *, blasint);

static void blas_load(void)
{
	static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
	void (*set_threads)(int) = NULL;
	for (size_t i = 0; i < TV_ARRAY_LEN(names) && !blas_sgemm; i++) {
		void *so = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (!so)
			continue;
		*(void **)&blas_sgemm = dlsym(so, "cblas_sgemm");
		*(void **)&set_threads = dlsym(so, "openblas_set_num_threads");
		if (!blas_sgemm || !set_threads) {
			blas_sgemm = NULL;
			dlclose(so);
		}
	}
	if (blas_sgemm)
		set_threads(1);
}

/* Blocks [b, e) of nb points against all centroids: one sgemm each, then
 * the argmin of each row. */
static void assign_blas(void *ctx, size_t b, size_t e)
{
	assign_job *j = ctx;
	float *g = tv_mallocarray(j->nb * j->k, sizeof *g);
	if (!g) {
		j->nomem = true;
		return;
	}
	for (size_t blk = b; blk < e; blk++) {
		size_t at = blk * j->nb, m = TV_MIN(j->nb, j->n - at);
		blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)j->k, (int)j->d, 1.0f,
		            j->x + at * j->d, (int)j->d, j->c, (int)j->d, 0.0f, g, (int)j->k);
		for (size_t i = 0; i < m; i++) {
			float best;
			j->assign[at + i] = argmin_row(g + i * j->k, j->cn, j->k, &best);
			if (j->dist) {
				const float *xi = j->x + (at + i) * j->d;
				j->dist[at + i] = fmaxf(0.0f, best + tv_kernels_scalar.dot(xi, xi, j->d));
			}
		}
	}
	free(g);
}
#endif

#if defined(__x86_64__)
static bool bf16_allowed = true;

void tv_kmeans_set_bf16(bool on) { bf16_allowed = on; }

/* The exact (float32) winner among a row's candidates, or over all k
 * centroids when there are none (a NaN or infinite row). */
static uint32_t recheck(const assign_job *j, const float *xi, const uint32_t *cand, size_t nc,
                        float *best_out)
{
	const tv_kernels *kk = tv_vec_kernels();
	uint32_t b = 0;
	float best = INFINITY;
	for (size_t t = 0; t < (nc ? nc : j->k); t++) {
		uint32_t c = nc ? cand[t] : (uint32_t)t;
		float v = j->cn[c] - 2.0f * kk->dot(xi, j->c + (size_t)c * j->d, j->d);
		if (v < best || (!nc && t == 0)) {
			best = v;
			b = c;
		}
	}
	*best_out = best;
	return b;
}

/* Rows in blocks of TV_BF16_ROWS [b, e): bf16 scores s'_j = |c_j|^2 -
 * 2 <x, c_j>' for every centroid, then the exact score of each centroid
 * the rounding could have put out of order. With x and c_j rounded to 8
 * significant bits and the products summed in float32, |s'_j - s_j| <=
 * E_j = kappa |x| |c_j| (kappa from tv_kmeans_assign; a few more ulps for
 * the subtraction are in it). The true nearest centroid j* has s'_j* -
 * E_j* <= s_j* <= s_i <= s'_i + E_i for every i, so it is among the
 * candidates {j : s'_j - E_j <= min_i (s'_i + E_i)}: usually one or two,
 * scored again in float32. The result is the float32 argmin, as the other
 * paths compute it. */
static void assign_bf16(void *ctx, size_t b, size_t e)
{
	assign_job *j = ctx;
	size_t kp = TV_BF16_PAD(j->k), dp = (j->d + 1) / 2;
	const tv_kernels *kk = tv_vec_kernels();
	uint32_t *xb = tv_mallocarray(TV_BF16_ROWS * dp, sizeof *xb);
	uint32_t *cand = tv_mallocarray(kp, sizeof *cand);
	float *g = tv_mallocarray(TV_BF16_ROWS * kp, sizeof *g);
	if (!xb || !cand || !g) {
		j->nomem = true;
		goto done;
	}
	for (size_t blk = b; blk < e; blk++) {
		size_t at = blk * TV_BF16_ROWS, nr = TV_MIN(TV_BF16_ROWS, j->n - at);
		tv_bf16_pack_rows(j->x + at * j->d, nr, j->d, xb);
		tv_bf16_dots(xb, j->cp, j->k, j->d, g);
		for (size_t r = 0; r < nr; r++) {
			const float *xi = j->x + (at + r) * j->d, *gr = g + r * kp;
			float xx = kk->dot(xi, xi, j->d), best;
			size_t nc = tv_bf16_candidates(gr, j->cnp, j->cnorm, j->k,
			                               j->kappa * sqrtf(xx), cand);
			j->assign[at + r] = recheck(j, xi, cand, nc, &best);
			if (j->dist)
				j->dist[at + r] = fmaxf(0.0f, best + xx);
		}
	}
done:
	free(xb);
	free(cand);
	free(g);
}

static int assign_with_bf16(assign_job *j)
{
	size_t kp = TV_BF16_PAD(j->k), dp = (j->d + 1) / 2;
	uint32_t *cp = tv_mallocarray(tv_bf16_cols_words(j->k, j->d), sizeof *cp);
	float *cnp = tv_mallocarray(kp, sizeof *cnp), *cnorm = tv_mallocarray(kp, sizeof *cnorm);
	/* rounding x and c to bf16 (unit roundoff u = 2^-8) moves each product
	 * by at most (2u + u^2) of it; float32 sums of dp pairs add dp 2^-24 of
	 * the sum of |products|, which is <= |x| |c| (Cauchy-Schwarz): twice
	 * that for -2 <x, c>, 2^-21 more for the rounding of 2 <x, c> in the
	 * score, 1% slack for the norms' own rounding. (The rounding of
	 * |c|^2 - 2 <x, c> relative to |c|^2 is every float32 path's too: two
	 * scores within it are a tie, which may go either way.) */
	double u = 1.0 / 256, rel = (2 * u + u * u) * (1 + dp * 0x1p-24) + dp * 0x1p-24;
	int rc = TV_ENOMEM;
	if (!cp || !cnp || !cnorm)
		goto done;
	tv_bf16_pack_cols(j->c, j->k, j->d, cp);
	for (size_t t = 0; t < kp; t++) {
		cnp[t] = t < j->k ? j->cn[t] : INFINITY;
		cnorm[t] = t < j->k ? sqrtf(j->cn[t]) * 1.01f : 0.0f;
	}
	j->cp = cp;
	j->cnp = cnp;
	j->cnorm = cnorm;
	j->kappa = (float)((2 * rel + 0x1p-21) * 1.01);
	tv_parallel_for((j->n + TV_BF16_ROWS - 1) / TV_BF16_ROWS, 16, assign_bf16, j);
	rc = j->nomem ? TV_ENOMEM : 0;
done:
	free(cp);
	free(cnp);
	free(cnorm);
	return rc;
}
#else
void tv_kmeans_set_bf16(bool on) { (void)on; }
#endif

static void assign_kernels(void *ctx, size_t b, size_t e)
{
	assign_job *j = ctx;
	const tv_kernels *kk = tv_vec_kernels();
	float *g = malloc(j->k * sizeof *g), best, one;
	for (size_t i = b; i < e; i++) {
		const float *xi = j->x + i * j->d;
		if (g) {
			kk->dot_batch(xi, j->c, j->k, j->d, g);
			j->assign[i] = argmin_row(g, j->cn, j->k, &best);
		} else { /* no memory for a row: one centroid at a time */
			j->assign[i] = 0;
			best = INFINITY;
			for (size_t t = 0; t < j->k; t++) {
				one = j->cn[t] - 2.0f * kk->dot(xi, j->c + t * j->d, j->d);
				if (one < best) {
					best = one;
					j->assign[i] = (uint32_t)t;
				}
			}
		}
		if (j->dist)
			j->dist[i] = fmaxf(0.0f, best + kk->dot(xi, xi, j->d));
	}
	free(g);
}

int tv_kmeans_assign(const float *x, size_t n, size_t d, const float *c, size_t k,
                     uint32_t *assign, float *dist)
{
	assign_job j = {x, c, NULL, d, k, assign, dist, NULL, n, 0, false, NULL, NULL, NULL, 0};
	float *cn = tv_mallocarray(k, sizeof *cn);
	if (!cn)
		return TV_ENOMEM;
	for (size_t i = 0; i < k; i++)
		cn[i] = tv_kernels_scalar.dot(c + i * d, c + i * d, d);
	j.cn = cn;
	if (k <= 256 && d <= 32) {
		float pad[256];
		if (!(j.cbt = tv_mallocarray(d * 256, sizeof *j.cbt))) {
			free(cn);
			return TV_ENOMEM;
		}
		for (size_t t = 0; t < d; t++)
			for (size_t i = 0; i < 256; i++)
				j.cbt[t * 256 + i] = i < k ? c[i * d + t] : 0.0f;
		/* centroids past k never win */
		for (size_t i = 0; i < 256; i++)
			pad[i] = i < k ? cn[i] : INFINITY;
		j.cn = pad;
		tv_parallel_for(n, 1024, assign_small, &j);
		free(j.cbt);
		free(cn);
		return 0;
	}
#if defined(__x86_64__)
	/* from 16 centroids: below that the candidates' re-check is most of
	 * the work */
	if (bf16_allowed && k >= 16 && tv_bf16_supported()) {
		int rc = assign_with_bf16(&j);
		free(cn);
		return rc;
	}
#endif
#if TV_HAVE_BLAS
	pthread_once(&blas_once, blas_load);
	if (blas_sgemm) {
		j.nb = TV_MAX(1, TV_MIN(n, (size_t)(1u << 20) / k));
		tv_parallel_for((n + j.nb - 1) / j.nb, 1, assign_blas, &j);
		free(cn);
		return j.nomem ? TV_ENOMEM : 0;
	}
#endif
	tv_parallel_for(n, 256, assign_kernels, &j);
	free(cn);
	return 0;
}

void tv_kmeans_dots(const float *a, size_t na, const float *b, size_t nb, size_t d, float *out)
{
#if TV_HAVE_BLAS
	pthread_once(&blas_once, blas_load);
	if (blas_sgemm && na && nb) {
		blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d, 1.0f, a,
		           (int)d, b, (int)d, 0.0f, out, (int)nb);
		return;
	}
#endif
	for (size_t i = 0; i < na; i++)
		tv_vec_kernels()->dot_batch(a + i * d, b, nb, d, out + i * nb);
}

/* ---- training --------------------------------------------------------- */

typedef struct seed_job {
	const float *xs, *c;
	size_t d;
	float *mind;     /* squared distance to the nearest centre so far */
	uint32_t *near;  /* ... and its number */
	const float *dcc; /* squared distances from the new centre to each centre */
	uint32_t j;      /* the new centre's number */
} seed_job;

/* mind[i] = min(mind[i], |xs_i - c|^2) over [lo, hi), skipping the points
 * the new centre c cannot be nearer to: when |c - c_near|^2 >= 4 mind,
 * |x - c| >= |c - c_near| - |x - c_near| >= |x - c_near| (the triangle
 * inequality). On clustered data most points are skipped once the first
 * centres are down. */
static void seed_range(void *ctx, size_t lo, size_t hi)
{
	seed_job *j = ctx;
	const tv_kernels *kk = tv_vec_kernels();
	for (size_t i = lo; i < hi; i++) {
		float v;
		if (j->dcc[j->near[i]] >= 4.0f * j->mind[i])
			continue;
		v = kk->l2sq(j->c, j->xs + i * j->d, j->d);
		if (v < j->mind[i]) {
			j->mind[i] = v;
			j->near[i] = j->j;
		}
	}
}

/* k-means++ seeding (D^2 sampling) on at most 16k + 1024 of the points
 * (a seeded subsample): each next centre is a point drawn with probability
 * proportional to its squared distance to the nearest centre so far. */
static int seed_plusplus(const float *x, size_t n, size_t d, size_t k, uint64_t *seed, float *c)
{
	size_t ns = TV_MIN(n, 16 * k + 1024);
	float *mind = tv_mallocarray(ns, sizeof *mind), *dcc = tv_mallocarray(k, sizeof *dcc);
	uint32_t *near = calloc(ns, sizeof *near);
	const tv_kernels *kk = tv_vec_kernels();
	const float *xs = x;
	float *own = NULL;
	seed_job sj = {0};
	int rc = TV_ENOMEM;
	if (!mind || !dcc || !near)
		goto done;
	if (ns < n) { /* a strided subsample from a random start */
		size_t off = (size_t)(next_rand(seed) % n);
		if (!(own = tv_mallocarray(ns, d * sizeof *own)))
			goto done;
		for (size_t i = 0; i < ns; i++)
			memcpy(own + i * d, x + ((off + i * (n / ns)) % n) * d, d * sizeof *own);
		xs = own;
	}
	memcpy(c, xs + (size_t)(next_rand(seed) % ns) * d, d * sizeof *c);
	kk->l2sq_batch(c, xs, ns, d, mind);
	sj.xs = xs;
	sj.d = d;
	sj.mind = mind;
	sj.near = near;
	sj.dcc = dcc;
	for (size_t j = 1; j < k; j++) {
		double total = 0, r;
		size_t at = ns - 1;
		for (size_t i = 0; i < ns; i++)
			total += mind[i];
		r = (double)(next_rand(seed) >> 11) / 9007199254740992.0 * total;
		for (size_t i = 0; i < ns; i++) {
			if (r < mind[i]) {
				at = i;
				break;
			}
			r -= mind[i];
		}
		if (total <= 0) /* every point is a centre already: repeat them */
			at = j % ns;
		memcpy(c + j * d, xs + at * d, d * sizeof *c);
		kk->l2sq_batch(c + j * d, c, j, d, dcc);
		sj.c = c + j * d;
		sj.j = (uint32_t)j;
		seed_range(&sj, 0, ns); /* mostly skips: threads would cost more */
	}
	rc = 0;
done:
	free(own);
	free(mind);
	free(dcc);
	free(near);
	return rc;
}

/* Re-seeds empty clusters by splitting a large one: the empty centroid
 * becomes a slightly perturbed copy of it, and the pair moves apart in
 * the next round. */
static void split_empty(float *c, size_t d, size_t k, size_t *count, size_t n, uint64_t *seed)
{
	for (size_t j = 0; j < k; j++) {
		size_t big;
		if (count[j])
			continue;
		do /* pick a cluster with probability ~ its size */
			big = (size_t)(next_rand(seed) % k);
		while ((double)(next_rand(seed) % 1000000) / 1e6 >=
		       (double)(count[big] > 1 ? count[big] - 1 : 0) / (double)(n - k + 1e-9));
		for (size_t t = 0; t < d; t++) {
			float eps = (t % 2 ? 1.0f : -1.0f) / 1024.0f;
			c[j * d + t] = c[big * d + t] * (1.0f + eps);
			c[big * d + t] *= 1.0f - eps;
		}
		count[j] = count[big] / 2;
		count[big] -= count[j];
	}
}

static int kmeans_run(const float *x, size_t n, size_t d, size_t k, unsigned iters, uint64_t seed,
                      float *c, bool seeded)
{
	size_t *count = tv_mallocarray(k, sizeof *count);
	uint32_t *assign = tv_mallocarray(n, sizeof *assign);
	double *sum = tv_mallocarray(k * d, sizeof *sum);
	uint64_t s = seed ^ 0x7465617665632021ull;
	int rc = TV_ENOMEM;
	if (!count || !assign || !sum)
		goto done;
	if (n <= k) { /* every point is its own centroid (repeated to fill k) */
		for (size_t j = 0; j < k; j++)
			memcpy(c + j * d, x + (j % n) * d, d * sizeof *c);
		rc = 0;
		goto done;
	}
	if (seeded) {
		/* continuing from the caller's centroids */
	} else if (k <= 256 && d <= 32) {
		/* the product quantizer's codebooks: a random sample of the
		 * points is start enough (a poor local minimum costs a little
		 * code quality, never a lost partition) */
		for (size_t j = 0; j < k; j++)
			memcpy(c + j * d, x + (size_t)(next_rand(&s) % n) * d, d * sizeof *c);
	} else if ((rc = seed_plusplus(x, n, d, k, &s, c))) {
		goto done;
	}
	for (unsigned it = 0; it < iters; it++) {
		if ((rc = tv_kmeans_assign(x, n, d, c, k, assign, NULL)))
			goto done;
		memset(sum, 0, k * d * sizeof *sum);
		memset(count, 0, k * sizeof *count);
		for (size_t i = 0; i < n; i++) {
			double *sj = sum + (size_t)assign[i] * d;
			const float *xi = x + i * d;
			count[assign[i]]++;
			for (size_t t = 0; t < d; t++)
				sj[t] += xi[t];
		}
		for (size_t j = 0; j < k; j++)
			if (count[j])
				for (size_t t = 0; t < d; t++)
					c[j * d + t] = (float)(sum[j * d + t] / (double)count[j]);
		split_empty(c, d, k, count, n, &s);
	}
done:
	free(count);
	free(assign);
	free(sum);
	return rc;
}

int tv_kmeans(const float *x, size_t n, size_t d, size_t k, unsigned iters, uint64_t seed,
              float *c)
{
	return kmeans_run(x, n, d, k, iters, seed, c, false);
}

int tv_kmeans_more(const float *x, size_t n, size_t d, size_t k, unsigned iters, uint64_t seed,
                   float *c)
{
	return kmeans_run(x, n, d, k, iters, seed, c, true);
}
