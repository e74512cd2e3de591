/* Every SIMD kernel set against the scalar reference, metric helpers and
 * top-k selection.
 *
 * Tolerance: SIMD sums in a different order than the scalar loop, so
 * results differ by rounding. For a sum of d products the error of either
 * order is bounded by about d * eps * sum|a_i b_i|; we allow
 * 4 * d * eps * sum|a_i b_i| + tiny (denormals) relative to that magnitude,
 * computed in double here. */
#include <float.h>
#include <stdint.h>

#include "tv_test.h"
#include "util/common.h"
#include "vec/vec.h"

static uint64_t rng = 7;
static float frand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng >> 40) & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f;
}

static const char *sets[] = {"avx2", "avx512", "neon"};

static double abs_dot(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t i = 0; i < d; i++)
		s += fabs((double)a[i] * b[i]);
	return s;
}

static double abs_l2(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t i = 0; i < d; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s;
}

static int close_enough(float got, float want, double mag, size_t d)
{
	double tol = 4.0 * (double)d * FLT_EPSILON * mag + 1e-30;
	return fabs((double)got - (double)want) <= tol;
}

/* Fills a and b (dimension d) by pattern: 0 random, 1 zeros, 2 denormals,
 * 3 large magnitudes, 4 mixed tiny and huge. */
static void fill(float *a, float *b, size_t d, int pattern)
{
	for (size_t i = 0; i < d; i++) {
		switch (pattern) {
		case 1: a[i] = 0; b[i] = frand(); break;
		case 2: a[i] = frand() * 1e-39f; b[i] = frand() * 1e-39f; break;
		case 3: a[i] = frand() * 1e15f; b[i] = frand() * 1e15f; break;
		case 4: a[i] = (i % 2) ? frand() * 1e-30f : frand() * 1e10f; b[i] = frand(); break;
		default: a[i] = frand(); b[i] = frand(); break;
		}
	}
}

static void compare_pair(const tv_kernels *k, const float *a, const float *b, size_t d,
                         size_t *bad)
{
	const tv_kernels *s = &tv_kernels_scalar;
	if (!close_enough(k->dot(a, b, d), s->dot(a, b, d), abs_dot(a, b, d), d))
		(*bad)++;
	if (!close_enough(k->l2sq(a, b, d), s->l2sq(a, b, d), abs_l2(a, b, d), d))
		(*bad)++;
}

static void test_simd_single_pair_matches_scalar_for_all_dims(void)
{
	float *buf_a = malloc(2100 * sizeof(float)), *buf_b = malloc(2100 * sizeof(float));
	size_t tested = 0;
	for (size_t s = 0; s < TV_ARRAY_LEN(sets); s++) {
		const tv_kernels *k = tv_vec_kernels_named(sets[s]);
		size_t bad = 0;
		if (!k)
			continue;
		tested++;
		for (size_t d = 1; d <= 2048; d += (d < 80 ? 1 : d < 520 ? 7 : 61)) {
			for (int pat = 0; pat < 5; pat++) {
				/* offset by one float: unaligned pointers */
				float *a = buf_a + (d & 1), *b = buf_b + 1;
				fill(a, b, d, pat);
				compare_pair(k, a, b, d, &bad);
			}
		}
		CHECK_MSG(bad == 0, "%s: %zu mismatches with scalar", sets[s], bad);
	}
	printf("  kernel sets compared with scalar: %zu (best here: %s)\n", tested,
	       tv_vec_kernels()->name);
	free(buf_a);
	free(buf_b);
}

static void test_simd_batches_match_scalar_for_odd_sizes(void)
{
	static const size_t dims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 128, 384, 385};
	static const size_t ns[] = {0, 1, 2, 3, 4, 5, 7, 9, 33};
	for (size_t s = 0; s < TV_ARRAY_LEN(sets); s++) {
		const tv_kernels *k = tv_vec_kernels_named(sets[s]);
		size_t bad = 0;
		if (!k)
			continue;
		for (size_t di = 0; di < TV_ARRAY_LEN(dims); di++) {
			for (size_t ni = 0; ni < TV_ARRAY_LEN(ns); ni++) {
				size_t d = dims[di], n = ns[ni];
				float *q = malloc((d + 1) * sizeof *q), *base = malloc((n * d + 1) * sizeof *base);
				float o1[40], o2[40], s1[40], s2[40];
				for (size_t i = 0; i <= d; i++)
					q[i] = frand();
				for (size_t i = 0; i <= n * d; i++)
					base[i] = frand();
				k->dot_batch(q + 1, base + 1, n, d, o1);
				tv_kernels_scalar.dot_batch(q + 1, base + 1, n, d, o2);
				for (size_t i = 0; i < n; i++)
					bad += !close_enough(o1[i], o2[i], abs_dot(q + 1, base + 1 + i * d, d), d);
				k->l2sq_batch(q + 1, base + 1, n, d, o1);
				tv_kernels_scalar.l2sq_batch(q + 1, base + 1, n, d, o2);
				for (size_t i = 0; i < n; i++)
					bad += !close_enough(o1[i], o2[i], abs_l2(q + 1, base + 1 + i * d, d), d);
				k->dot_sq_batch(q + 1, base + 1, n, d, o1, s1);
				tv_kernels_scalar.dot_sq_batch(q + 1, base + 1, n, d, o2, s2);
				for (size_t i = 0; i < n; i++) {
					const float *x = base + 1 + i * d;
					bad += !close_enough(o1[i], o2[i], abs_dot(q + 1, x, d), d);
					bad += !close_enough(s1[i], s2[i], abs_dot(x, x, d), d);
				}
				free(q);
				free(base);
			}
		}
		CHECK_MSG(bad == 0, "%s: %zu batch mismatches", sets[s], bad);
	}
}

static void test_metric_distances(void)
{
	float a[5] = {1, 0, 0, 0, 0}, b[5] = {0, 1, 0, 0, 0}, z[5] = {0};
	float base[15], out[3], inv[3];
	tv_metric m;
	CHECK_NEAR(tv_distance(TV_METRIC_COSINE, a, a, 5), 0.0, 1e-7);
	CHECK_NEAR(tv_distance(TV_METRIC_COSINE, a, b, 5), 1.0, 1e-7);
	CHECK_NEAR(tv_distance(TV_METRIC_COSINE, a, z, 5), 1.0, 0);
	CHECK_NEAR(tv_distance(TV_METRIC_L2, a, b, 5), 2.0, 1e-7);
	CHECK_NEAR(tv_distance(TV_METRIC_DOT, a, a, 5), -1.0, 1e-7);
	for (int i = 0; i < 5; i++) {
		a[i] = frand();
		base[i] = a[i] * 3.0f;   /* same direction */
		base[5 + i] = -a[i];     /* opposite */
		base[10 + i] = 0;        /* zero row */
	}
	tv_vec_distances(TV_METRIC_COSINE, a, 1.0f / tv_vec_norm(a, 5), base, NULL, 3, 5, out);
	CHECK_NEAR(out[0], 0.0, 1e-6);
	CHECK_NEAR(out[1], 2.0, 1e-6);
	CHECK_NEAR(out[2], 1.0, 0);
	for (int i = 0; i < 3; i++) {
		float nrm = tv_vec_norm(base + 5 * i, 5);
		inv[i] = nrm > 0 ? 1.0f / nrm : 0.0f;
	}
	tv_vec_distances(TV_METRIC_COSINE, a, 1.0f / tv_vec_norm(a, 5), base, inv, 3, 5, out);
	CHECK_NEAR(out[0], 0.0, 1e-6);
	CHECK_NEAR(out[1], 2.0, 1e-6);
	CHECK_NEAR(out[2], 1.0, 0);
	CHECK(out[0] >= 0.0f); /* clamped: rounding never gives a negative distance */
	CHECK_EQ_INT(tv_metric_parse(&m, "l2"), 0);
	CHECK_EQ_INT(m, TV_METRIC_L2);
	CHECK_EQ_INT(tv_metric_parse(&m, "hamming"), TV_EINVAL);
	CHECK_EQ_STR(tv_metric_name(TV_METRIC_DOT), "dot");
}

static int cmp_pair(const void *a, const void *b)
{
	const float *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void test_topk_equals_full_sort_with_ties_by_id(void)
{
	enum { N = 5000 };
	static float pairs[N][2], d[N];
	for (size_t k = 0; k <= 40; k += (k < 12 ? 1 : 7)) {
		tv_topk t, t2;
		for (size_t i = 0; i < N; i++) {
			d[i] = (float)(int)(frand() * 50); /* many ties */
			pairs[i][0] = d[i];
			pairs[i][1] = (float)i;
		}
		qsort(pairs, N, sizeof pairs[0], cmp_pair);
		REQUIRE(tv_topk_init(&t, k) == 0);
		REQUIRE(tv_topk_init(&t2, k) == 0);
		for (size_t i = 0; i < N; i++)
			tv_topk_push(&t, d[i], i);
		tv_topk_push_array(&t2, d, N, 0);
		tv_topk_sort(&t);
		tv_topk_sort(&t2);
		CHECK_EQ_INT(t.n, k);
		for (size_t i = 0; i < t.n; i++) {
			CHECK(t.dist[i] == pairs[i][0] && t.id[i] == (uint64_t)pairs[i][1]);
			CHECK(t2.dist[i] == t.dist[i] && t2.id[i] == t.id[i]);
		}
		tv_topk_free(&t);
		tv_topk_free(&t2);
	}
}

static void test_topk_with_k_larger_than_n(void)
{
	float d[3] = {3, 1, 2};
	tv_topk t;
	REQUIRE(tv_topk_init(&t, 10) == 0);
	tv_topk_push_array(&t, d, 3, 100);
	CHECK(isinf(tv_topk_worst(&t)));
	tv_topk_sort(&t);
	CHECK_EQ_INT(t.n, 3);
	CHECK_EQ_INT(t.id[0], 101);
	CHECK_EQ_INT(t.id[1], 102);
	CHECK_EQ_INT(t.id[2], 100);
	tv_topk_free(&t);
}

int main(void)
{
	TV_RUN(test_simd_single_pair_matches_scalar_for_all_dims);
	TV_RUN(test_simd_batches_match_scalar_for_odd_sizes);
	TV_RUN(test_metric_distances);
	TV_RUN(test_topk_equals_full_sort_with_ties_by_id);
	TV_RUN(test_topk_with_k_larger_than_n);
	TV_TEST_END();
}
