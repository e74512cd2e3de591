/* AVX2 + FMA kernels (compiled with -mavx2 -mfma, chosen at run time).
 * Four 8-lane accumulators hide the FMA latency; the tail (d % 8) is done
 * with a masked load, so any dimension and any alignment works. Batch
 * kernels process four rows per pass over the query so the query stays in
 * registers/L1 and four independent dependency chains are in flight. */
#include <immintrin.h>

#include "vec/vec.h"

static inline float hsum(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

static inline __m256i tail_mask(size_t r)
{
	static const int m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
	return _mm256_loadu_si256((const __m256i *)(m + 8 - r));
}

static float dot_avx2(const float *a, const float *b, size_t d)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	for (; i + 32 <= d; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= d; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	if (i < d) {
		__m256i m = tail_mask(d - i);
		s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float l2sq_avx2(const float *a, const float *b, size_t d)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, e;
	size_t i = 0;
	for (; i + 32 <= d; i += 32) {
		e = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(e, e, s0);
		e = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		s1 = _mm256_fmadd_ps(e, e, s1);
		e = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		s2 = _mm256_fmadd_ps(e, e, s2);
		e = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
		s3 = _mm256_fmadd_ps(e, e, s3);
	}
	for (; i + 8 <= d; i += 8) {
		e = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(e, e, s0);
	}
	if (i < d) {
		__m256i m = tail_mask(d - i);
		e = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_fmadd_ps(e, e, s1);
	}
	return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Four rows at a time against one query: each query load feeds 4 FMAs. */
static void dot4(const float *q, const float *x, size_t d, float *out)
{
	const float *x0 = x, *x1 = x + d, *x2 = x + 2 * d, *x3 = x + 3 * d;
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, qv;
	size_t i = 0;
	for (; i + 8 <= d; i += 8) {
		qv = _mm256_loadu_ps(q + i);
		s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x0 + i), s0);
		s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x1 + i), s1);
		s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x2 + i), s2);
		s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(x3 + i), s3);
	}
	if (i < d) {
		__m256i m = tail_mask(d - i);
		qv = _mm256_maskload_ps(q + i, m);
		s0 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(x0 + i, m), s0);
		s1 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(x1 + i, m), s1);
		s2 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(x2 + i, m), s2);
		s3 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(x3 + i, m), s3);
	}
	out[0] = hsum(s0);
	out[1] = hsum(s1);
	out[2] = hsum(s2);
	out[3] = hsum(s3);
}

static void dot_batch_avx2(const float *q, const float *base, size_t n, size_t d, float *out)
{
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		dot4(q, base + i * d, d, out + i);
	for (; i < n; i++)
		out[i] = dot_avx2(q, base + i * d, d);
}

static void l2sq4(const float *q, const float *x, size_t d, float *out)
{
	const float *x0 = x, *x1 = x + d, *x2 = x + 2 * d, *x3 = x + 3 * d;
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, qv, e;
	size_t i = 0;
	for (; i + 8 <= d; i += 8) {
		qv = _mm256_loadu_ps(q + i);
		e = _mm256_sub_ps(qv, _mm256_loadu_ps(x0 + i));
		s0 = _mm256_fmadd_ps(e, e, s0);
		e = _mm256_sub_ps(qv, _mm256_loadu_ps(x1 + i));
		s1 = _mm256_fmadd_ps(e, e, s1);
		e = _mm256_sub_ps(qv, _mm256_loadu_ps(x2 + i));
		s2 = _mm256_fmadd_ps(e, e, s2);
		e = _mm256_sub_ps(qv, _mm256_loadu_ps(x3 + i));
		s3 = _mm256_fmadd_ps(e, e, s3);
	}
	if (i < d) {
		__m256i m = tail_mask(d - i);
		qv = _mm256_maskload_ps(q + i, m);
		e = _mm256_sub_ps(qv, _mm256_maskload_ps(x0 + i, m));
		s0 = _mm256_fmadd_ps(e, e, s0);
		e = _mm256_sub_ps(qv, _mm256_maskload_ps(x1 + i, m));
		s1 = _mm256_fmadd_ps(e, e, s1);
		e = _mm256_sub_ps(qv, _mm256_maskload_ps(x2 + i, m));
		s2 = _mm256_fmadd_ps(e, e, s2);
		e = _mm256_sub_ps(qv, _mm256_maskload_ps(x3 + i, m));
		s3 = _mm256_fmadd_ps(e, e, s3);
	}
	out[0] = hsum(s0);
	out[1] = hsum(s1);
	out[2] = hsum(s2);
	out[3] = hsum(s3);
}

static void l2sq_batch_avx2(const float *q, const float *base, size_t n, size_t d, float *out)
{
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		l2sq4(q, base + i * d, d, out + i);
	for (; i < n; i++)
		out[i] = l2sq_avx2(q, base + i * d, d);
}

/* dot(q, x) and dot(x, x) of two rows in one pass. */
static void dot_sq2(const float *q, const float *x0, const float *x1, size_t d, float *dots,
                    float *sq)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, qv, v0, v1;
	size_t i = 0;
	for (; i + 8 <= d; i += 8) {
		qv = _mm256_loadu_ps(q + i);
		v0 = _mm256_loadu_ps(x0 + i);
		v1 = _mm256_loadu_ps(x1 + i);
		a0 = _mm256_fmadd_ps(qv, v0, a0);
		b0 = _mm256_fmadd_ps(v0, v0, b0);
		a1 = _mm256_fmadd_ps(qv, v1, a1);
		b1 = _mm256_fmadd_ps(v1, v1, b1);
	}
	if (i < d) {
		__m256i m = tail_mask(d - i);
		qv = _mm256_maskload_ps(q + i, m);
		v0 = _mm256_maskload_ps(x0 + i, m);
		v1 = _mm256_maskload_ps(x1 + i, m);
		a0 = _mm256_fmadd_ps(qv, v0, a0);
		b0 = _mm256_fmadd_ps(v0, v0, b0);
		a1 = _mm256_fmadd_ps(qv, v1, a1);
		b1 = _mm256_fmadd_ps(v1, v1, b1);
	}
	dots[0] = hsum(a0);
	sq[0] = hsum(b0);
	dots[1] = hsum(a1);
	sq[1] = hsum(b1);
}

static void dot_sq_batch_avx2(const float *q, const float *base, size_t n, size_t d,
                              float *dots, float *sq)
{
	size_t i = 0;
	for (; i + 2 <= n; i += 2)
		dot_sq2(q, base + i * d, base + (i + 1) * d, d, dots + i, sq + i);
	for (; i < n; i++) {
		dots[i] = dot_avx2(q, base + i * d, d);
		sq[i] = dot_avx2(base + i * d, base + i * d, d);
	}
}

const tv_kernels tv_kernels_avx2 = {
	"avx2", dot_avx2, l2sq_avx2, dot_batch_avx2, l2sq_batch_avx2, dot_sq_batch_avx2, NULL,
};
