/* Run-time choice of the kernel set, and the metric-level helpers built on
 * it. Platform detection lives here and nowhere else. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec.h"

#if defined(__x86_64__) || defined(_M_X64)
extern const tv_kernels tv_kernels_avx2;
extern const tv_kernels tv_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const tv_kernels tv_kernels_neon;
#endif

const tv_kernels *tv_vec_kernels_named(const char *name)
{
	if (!name || !strcmp(name, "scalar"))
		return &tv_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
	__builtin_cpu_init();
	if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma"))
		return &tv_kernels_avx2;
	if (!strcmp(name, "avx512") &&
	    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &tv_kernels_avx512;
#endif
#if defined(__aarch64__)
	if (!strcmp(name, "neon"))
		return &tv_kernels_neon;
#endif
	return NULL;
}

static const tv_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
	static const char *order[] = {"avx512", "avx2", "neon"};
	const char *force = getenv("TEAVEC_SIMD");
	if (force && (chosen = tv_vec_kernels_named(force)))
		return;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if ((chosen = tv_vec_kernels_named(order[i])))
			return;
	chosen = &tv_kernels_scalar;
}

const tv_kernels *tv_vec_kernels(void)
{
	pthread_once(&chosen_once, choose);
	return chosen;
}

static bool bf16_ok;
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;

static void bf16_choose(void)
{
#if defined(__x86_64__) || defined(_M_X64)
	__builtin_cpu_init();
	bf16_ok = __builtin_cpu_supports("avx512bf16") && tv_vec_kernels() == &tv_kernels_avx512;
#endif
}

bool tv_bf16_supported(void)
{
	pthread_once(&bf16_once, bf16_choose);
	return bf16_ok;
}

const char *tv_simd_name(void) { return tv_vec_kernels()->name; }

float tv_vec_norm(const float *x, size_t d)
{
	return sqrtf(tv_vec_kernels()->dot(x, x, d));
}

static float cosine_from(float dot, float inv_a, float inv_b)
{
	float c;
	if (inv_a == 0.0f || inv_b == 0.0f)
		return 1.0f;
	c = dot * inv_a * inv_b;
	/* rounding can push |c| a hair past 1 */
	if (c > 1.0f)
		c = 1.0f;
	else if (c < -1.0f)
		c = -1.0f;
	return 1.0f - c;
}

static float inv_of(float norm) { return norm > 0.0f ? 1.0f / norm : 0.0f; }

float tv_distance(tv_metric metric, const float *a, const float *b, size_t dim)
{
	const tv_kernels *k = tv_vec_kernels();
	switch (metric) {
	case TV_METRIC_L2: return k->l2sq(a, b, dim);
	case TV_METRIC_DOT: return -k->dot(a, b, dim);
	case TV_METRIC_COSINE:
	default:
		return cosine_from(k->dot(a, b, dim), inv_of(sqrtf(k->dot(a, a, dim))),
		                   inv_of(sqrtf(k->dot(b, b, dim))));
	}
}

void tv_vec_distances(tv_metric metric, const float *q, float q_inv_norm,
                      const float *base, const float *inv_norms, size_t n,
                      size_t d, float *out)
{
	const tv_kernels *k = tv_vec_kernels();
	switch (metric) {
	case TV_METRIC_L2:
		k->l2sq_batch(q, base, n, d, out);
		return;
	case TV_METRIC_DOT:
		k->dot_batch(q, base, n, d, out);
		for (size_t i = 0; i < n; i++)
			out[i] = -out[i];
		return;
	case TV_METRIC_COSINE:
	default:
		if (inv_norms) {
			k->dot_batch(q, base, n, d, out);
			for (size_t i = 0; i < n; i++)
				out[i] = cosine_from(out[i], q_inv_norm, inv_norms[i]);
		} else {
			/* sq in chunks on the stack: no allocation on the hot path */
			float sq[256];
			for (size_t off = 0; off < n; off += 256) {
				size_t m = n - off < 256 ? n - off : 256;
				k->dot_sq_batch(q, base + off * d, m, d, out + off, sq);
				for (size_t i = 0; i < m; i++)
					out[off + i] = cosine_from(out[off + i], q_inv_norm,
					                           inv_of(sqrtf(sq[i])));
			}
		}
		return;
	}
}

const char *tv_metric_name(tv_metric metric)
{
	switch (metric) {
	case TV_METRIC_L2: return "l2";
	case TV_METRIC_DOT: return "dot";
	case TV_METRIC_COSINE:
	default: return "cosine";
	}
}

int tv_metric_parse(tv_metric *out, const char *name)
{
	if (!name)
		return TV_EINVAL;
	if (!strcmp(name, "cosine"))
		*out = TV_METRIC_COSINE;
	else if (!strcmp(name, "l2") || !strcmp(name, "euclidean"))
		*out = TV_METRIC_L2;
	else if (!strcmp(name, "dot"))
		*out = TV_METRIC_DOT;
	else
		return TV_EINVAL;
	return 0;
}
