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

const tv_kernels tv_kernels_avx512 = {
	"avx512", dot_avx512, l2sq_avx512, dot_batch_avx512, l2sq_batch_avx512, dot_sq_batch_avx512,
};
