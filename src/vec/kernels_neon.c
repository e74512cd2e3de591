/* NEON kernels for arm64 (always present there, so no run-time check
 * beyond the architecture). Four 4-lane accumulators; scalar tail. */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "vec/vec.h"

static float dot_neon(const float *a, const float *b, size_t d)
{
	float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	float s;
	for (; i + 16 <= d; i += 16) {
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
		s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
		s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
	}
	for (; i + 4 <= d; i += 4)
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
	s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < d; i++)
		s += a[i] * b[i];
	return s;
}

static float l2sq_neon(const float *a, const float *b, size_t d)
{
	float32x4_t s0 = vdupq_n_f32(0), s1 = s0, e;
	size_t i = 0;
	float s;
	for (; i + 8 <= d; i += 8) {
		e = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
		s0 = vfmaq_f32(s0, e, e);
		e = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		s1 = vfmaq_f32(s1, e, e);
	}
	for (; i + 4 <= d; i += 4) {
		e = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
		s0 = vfmaq_f32(s0, e, e);
	}
	s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; i < d; i++)
		s += (a[i] - b[i]) * (a[i] - b[i]);
	return s;
}

static void dot_batch_neon(const float *q, const float *base, size_t n, size_t d, float *out)
{
	for (size_t r = 0; r < n; r++)
		out[r] = dot_neon(q, base + r * d, d);
}

static void l2sq_batch_neon(const float *q, const float *base, size_t n, size_t d, float *out)
{
	for (size_t r = 0; r < n; r++)
		out[r] = l2sq_neon(q, base + r * d, d);
}

static void dot_sq_batch_neon(const float *q, const float *base, size_t n, size_t d,
                              float *dots, float *sq)
{
	for (size_t r = 0; r < n; r++) {
		dots[r] = dot_neon(q, base + r * d, d);
		sq[r] = dot_neon(base + r * d, base + r * d, d);
	}
}

const tv_kernels tv_kernels_neon = {
	"neon", dot_neon, l2sq_neon, dot_batch_neon, l2sq_batch_neon, dot_sq_batch_neon, NULL,
};
#else
/* ISO C forbids an empty translation unit. */
typedef int tv_kernels_neon_unused;
#endif
