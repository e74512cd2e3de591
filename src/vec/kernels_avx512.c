/* AVX-512 kernels (F/BW/DQ/VL, chosen at run time). 16 lanes; the tail
 * uses a lane mask, so any dimension and alignment works. */
#include <immintrin.h>

#include "vec/vec.h"

static inline __mmask16 tail(size_t r) { return (__mmask16)((1u << r) - 1u); }

static float dot_avx512(const float *a, const float *b, size_t d)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	for (; i + 64 <= d; i += 64) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= d; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < d) {
		__mmask16 m = tail(d - i);
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i),
		                     s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float l2sq_avx512(const float *a, const float *b, size_t d)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = s0, e;
	size_t i = 0;
	for (; i + 32 <= d; i += 32) {
		e = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(e, e, s0);
		e = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		s1 = _mm512_fmadd_ps(e, e, s1);
	}
	for (; i + 16 <= d; i += 16) {
		e = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(e, e, s0);
	}
	if (i < d) {
		__mmask16 m = tail(d - i);
		e = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(e, e, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void dot_batch_avx512(const float *q, const float *base, size_t n, size_t d, float *out)
{
	size_t r = 0;
	for (; r + 4 <= n; r += 4) {
		const float *x0 = base + r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
		__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, qv;
		size_t i = 0;
		for (; i + 16 <= d; i += 16) {
			qv = _mm512_loadu_ps(q + i);
			s0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x0 + i), s0);
			s1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x1 + i), s1);
			s2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x2 + i), s2);
			s3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(x3 + i), s3);
		}
		if (i < d) {
			__mmask16 m = tail(d - i);
			qv = _mm512_maskz_loadu_ps(m, q + i);
			s0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x0 + i), s0);
			s1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x1 + i), s1);
			s2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x2 + i), s2);
			s3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, x3 + i), s3);
		}
		out[r] = _mm512_reduce_add_ps(s0);
		out[r + 1] = _mm512_reduce_add_ps(s1);
		out[r + 2] = _mm512_reduce_add_ps(s2);
		out[r + 3] = _mm512_reduce_add_ps(s3);
	}
	for (; r < n; r++)
		out[r] = dot_avx512(q, base + r * d, d);
}

static void l2sq_batch_avx512(const float *q, const float *base, size_t n, size_t d, float *out)
{
	for (size_t r = 0; r < n; r++)
		out[r] = l2sq_avx512(q, base + r * d, d);
}

static void dot_sq_batch_avx512(const float *q, const float *base, size_t n, size_t d,
                                float *dots, float *sq)
{
	for (size_t r = 0; r < n; r++) {
		const float *x = base + r * d;
		__m512 a = _mm512_setzero_ps(), b = a, v;
		size_t i = 0;
		for (; i + 16 <= d; i += 16) {
			v = _mm512_loadu_ps(x + i);
			a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), v, a);
			b = _mm512_fmadd_ps(v, v, b);
		}
		if (i < d) {
			__mmask16 m = tail(d - i);
			v = _mm512_maskz_loadu_ps(m, x + i);
			a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), v, a);
			b = _mm512_fmadd_ps(v, v, b);
		}
		dots[r] = _mm512_reduce_add_ps(a);
		sq[r] = _mm512_reduce_add_ps(b);
	}
}

/* Product-quantizer encoding, nr rows of one group of 16 sub-vectors at a
 * time: one lane per sub-vector, a running minimum per lane over the 256
 * codewords with the codeword's number in the low 8 bits of the
 * (non-negative) distance, so that one unsigned minimum keeps both. Each
 * codeword's values are loaded once for the nr rows, whose state stays in
 * registers: at 1M x 128 this took encoding from 25% to 16% of the index
 * build's CPU time against a row at a time (a group's codebook is 48 KB at
 * dsub 2, about an L1 cache). */
static inline __attribute__((always_inline)) void
pq_rows(const float *r, size_t rs, const float *lane, uint32_t dsub, uint32_t live,
        uint8_t *code, size_t cs, int nr)
{
	__m512 xv[4][8], xn[4];
	__m512i um[4], jv = _mm512_setzero_si512();
	const __m512i one = _mm512_set1_epi32(1), keep = _mm512_set1_epi32((int)~0xffu);
	const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
	for (int q = 0; q < nr; q++) {
		float tmp[8 * 16] = {0};
		for (uint32_t l = 0; l < live; l++)
			for (uint32_t t = 0; t < dsub; t++)
				tmp[t * 16 + l] = r[q * rs + l * dsub + t];
		xn[q] = zero;
#pragma GCC unroll 8
		for (uint32_t t = 0; t < dsub; t++) {
			__m512 x = _mm512_loadu_ps(tmp + t * 16);
			xn[q] = _mm512_fmadd_ps(x, x, xn[q]);
			xv[q][t] = _mm512_mul_ps(x, _mm512_set1_ps(-2.0f));
		}
		um[q] = _mm512_set1_epi32(-1);
	}
	for (uint32_t j = 0; j < 256; j++) {
		const float *v = lane + (size_t)j * 16 * (dsub + 1);
		__m512 vt[8], nn = _mm512_loadu_ps(v + dsub * 16);
#pragma GCC unroll 8
		for (uint32_t t = 0; t < dsub; t++)
			vt[t] = _mm512_loadu_ps(v + t * 16);
#pragma GCC unroll 4
		for (int q = 0; q < nr; q++) {
			__m512 a = _mm512_add_ps(nn, xn[q]);
#pragma GCC unroll 8
			for (uint32_t t = 0; t < dsub; t++)
				a = _mm512_fmadd_ps(xv[q][t], vt[t], a);
			a = _mm512_max_ps(a, zero);
			/* (a & ~0xff) | j */
			um[q] = _mm512_min_epu32(
			    um[q], _mm512_ternarylogic_epi32(_mm512_castps_si512(a), keep, jv, 0xea));
		}
		jv = _mm512_add_epi32(jv, one);
	}
#pragma GCC unroll 4
	for (int q = 0; q < nr; q++) {
		uint32_t out[16];
		_mm512_storeu_si512(out, um[q]);
		for (uint32_t l = 0; l < live; l++)
			code[q * cs + l] = (uint8_t)(out[l] & 0xff);
	}
}

/* Rows in fours (twos at dsub 4 and 8, for the registers), group by group
 * so that a group's codebook stays in cache across the rows. */
static inline __attribute__((always_inline)) void
pq_rows_ds(const float *r, size_t n, const float *lanes, uint32_t m, uint32_t dsub,
           uint8_t *codes, int nr)
{
	size_t per = (size_t)256 * 16 * (dsub + 1), rs = (size_t)m * dsub;
	for (uint32_t g = 0; g * 16 < m; g++) {
		uint32_t live = m - g * 16 < 16 ? m - g * 16 : 16;
		const float *lane = lanes + g * per;
		size_t i = 0;
		for (; i + (size_t)nr <= n; i += (size_t)nr)
			pq_rows(r + i * rs + g * 16 * dsub, rs, lane, dsub, live, codes + i * m + g * 16, m,
			        nr);
		for (; i < n; i++)
			pq_rows(r + i * rs + g * 16 * dsub, rs, lane, dsub, live, codes + i * m + g * 16, m,
			        1);
	}
}

static void pq_encode_rows_avx512(const float *r, size_t n, const float *lanes, uint32_t m,
                                  uint32_t dsub, uint8_t *codes)
{
	switch (dsub) { /* constant widths: loops unrolled, values in registers */
	case 1: pq_rows_ds(r, n, lanes, m, 1, codes, 4); break;
	case 2: pq_rows_ds(r, n, lanes, m, 2, codes, 4); break;
	case 4: pq_rows_ds(r, n, lanes, m, 4, codes, 2); break;
	case 8: pq_rows_ds(r, n, lanes, m, 8, codes, 2); break;
	default: break;
	}
}

const tv_kernels tv_kernels_avx512 = {
	"avx512",          dot_avx512,         l2sq_avx512,
	dot_batch_avx512,  l2sq_batch_avx512,  dot_sq_batch_avx512,
	pq_encode_rows_avx512,
};
