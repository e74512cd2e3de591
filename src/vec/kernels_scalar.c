/* Scalar reference kernels: the definition every SIMD path is tested
 * against. Four accumulators let the compiler pipeline without reordering
 * the sum in ways that differ wildly from the SIMD versions. */
#include "vec/vec.h"

static float dot_scalar(const float *a, const float *b, size_t d)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= d; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < d; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static float l2sq_scalar(const float *a, const float *b, size_t d)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= d; i += 4) {
		float e0 = a[i] - b[i], e1 = a[i + 1] - b[i + 1];
		float e2 = a[i + 2] - b[i + 2], e3 = a[i + 3] - b[i + 3];
		s0 += e0 * e0;
		s1 += e1 * e1;
		s2 += e2 * e2;
		s3 += e3 * e3;
	}
	for (; i < d; i++) {
		float e = a[i] - b[i];
		s0 += e * e;
	}
	return (s0 + s1) + (s2 + s3);
}

static void dot_batch_scalar(const float *q, const float *base, size_t n, size_t d, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = dot_scalar(q, base + i * d, d);
}

static void l2sq_batch_scalar(const float *q, const float *base, size_t n, size_t d, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = l2sq_scalar(q, base + i * d, d);
}

static void dot_sq_batch_scalar(const float *q, const float *base, size_t n, size_t d,
                                float *dots, float *sq)
{
	for (size_t i = 0; i < n; i++) {
		const float *x = base + i * d;
		dots[i] = dot_scalar(q, x, d);
		sq[i] = dot_scalar(x, x, d);
	}
}

const tv_kernels tv_kernels_scalar = {
	"scalar", dot_scalar, l2sq_scalar, dot_batch_scalar, l2sq_batch_scalar,
	dot_sq_batch_scalar, NULL,
};
