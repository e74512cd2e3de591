/*
 * bench_kernels: the distance kernels against this machine's memory
 * bandwidth.
 *
 *   bench_kernels [--n ROWS] [--dim D] [--queries Q] [--json]
 *
 * Prints (1) single-core memory bandwidth from a plain streaming read of a
 * 1 GiB buffer (best of 5), (2) each kernel set's scan throughput in GB/s
 * of vectors for dot_batch / l2sq_batch / dot_sq_batch over ROWS x D
 * (default 100,000 x 384), (3) exact cosine top-10 latency over the same
 * matrix through tv_vec_distances + tv_topk_push_array (the memory store's
 * path), with the bandwidth bound (bytes / bandwidth) beside it.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "vec/vec.h"

static double now(void) { return tv_monotonic_s(); }

/* A streaming read the compiler cannot skip: sum of 64-bit words with 4
 * independent accumulators. */
static double membw_gbs(size_t bytes)
{
	uint64_t *buf = malloc(bytes), sink = 0;
	size_t n = bytes / 8;
	double best = 0;
	memset(buf, 1, bytes);
	for (int rep = 0; rep < 5; rep++) {
		uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		double t = now();
		for (size_t i = 0; i + 4 <= n; i += 4) {
			s0 += buf[i];
			s1 += buf[i + 1];
			s2 += buf[i + 2];
			s3 += buf[i + 3];
		}
		t = now() - t;
		sink += s0 + s1 + s2 + s3;
		if (bytes / t / 1e9 > best)
			best = bytes / t / 1e9;
	}
	free(buf);
	if (sink == 42)
		puts("");
	return best;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"n", required_argument, NULL, 'n'},
	                                     {"dim", required_argument, NULL, 'd'},
	                                     {"queries", required_argument, NULL, 'q'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	static const char *sets[] = {"scalar", "avx2", "avx512", "neon"};
	size_t n = 100000, dim = 384, nq = 50;
	int json = 0, c;
	float *base, *inv, *q, *out, *sq;
	double bw, bytes, lat[1000];
	while ((c = getopt_long(argc, argv, "n:d:q:j", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'd': dim = strtoul(optarg, NULL, 10); break;
		case 'q': nq = strtoul(optarg, NULL, 10); break;
		case 'j': json = 1; break;
		default: fprintf(stderr, "usage: bench_kernels [--n N] [--dim D] [--queries Q] [--json]\n"); return 2;
		}
	}
	if (nq > 1000)
		nq = 1000;
	base = malloc(n * dim * sizeof *base);
	inv = malloc(n * sizeof *inv);
	out = malloc(n * sizeof *out);
	sq = malloc(n * sizeof *sq);
	q = malloc(dim * sizeof *q);
	srand(1);
	for (size_t i = 0; i < n * dim; i++)
		base[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	for (size_t i = 0; i < n; i++)
		inv[i] = 1.0f / tv_vec_norm(base + i * dim, dim);
	for (size_t i = 0; i < dim; i++)
		q[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	bytes = (double)n * dim * sizeof(float);
	bw = membw_gbs((size_t)1 << 30);
	if (!json)
		printf("single-core memory bandwidth (streaming read, 1 GiB): %.2f GB/s\n"
		       "matrix: %zu x %zu float32 = %.1f MB; bandwidth bound per scan: %.2f ms\n\n"
		       "%-8s %14s %14s %14s\n",
		       bw, n, dim, bytes / 1e6, bytes / bw / 1e6, "kernels", "dot GB/s", "l2sq GB/s",
		       "dot+sq GB/s");
	else
		printf("{\"membw_gbs\": %.3f, \"rows\": %zu, \"dim\": %zu, \"kernels\": [", bw, n, dim);
	for (size_t s = 0, first = 1; s < TV_ARRAY_LEN(sets); s++) {
		const tv_kernels *k = tv_vec_kernels_named(sets[s]);
		double best[3] = {0, 0, 0};
		if (!k)
			continue;
		for (int rep = 0; rep < 5; rep++) {
			double t = now();
			k->dot_batch(q, base, n, dim, out);
			t = now() - t;
			best[0] = TV_MAX(best[0], bytes / t / 1e9);
			t = now();
			k->l2sq_batch(q, base, n, dim, out);
			t = now() - t;
			best[1] = TV_MAX(best[1], bytes / t / 1e9);
			t = now();
			k->dot_sq_batch(q, base, n, dim, out, sq);
			t = now() - t;
			best[2] = TV_MAX(best[2], bytes / t / 1e9);
		}
		if (json)
			printf("%s{\"name\": \"%s\", \"dot_gbs\": %.3f, \"l2sq_gbs\": %.3f, "
			       "\"dot_sq_gbs\": %.3f}",
			       first ? "" : ", ", sets[s], best[0], best[1], best[2]);
		else
			printf("%-8s %14.2f %14.2f %14.2f\n", sets[s], best[0], best[1], best[2]);
		first = 0;
	}
	/* exact cosine top-10, the memory store's path: blocks of 1024 rows */
	for (size_t r = 0; r < nq; r++) {
		tv_topk t;
		float qi;
		double t0;
		q[r % dim] += 0.01f;
		qi = 1.0f / tv_vec_norm(q, dim);
		tv_topk_init(&t, 10);
		t0 = now();
		for (size_t off = 0; off < n; off += 1024) {
			size_t len = TV_MIN((size_t)1024, n - off);
			tv_vec_distances(TV_METRIC_COSINE, q, qi, base + off * dim, inv + off, len, dim,
			                 out);
			tv_topk_push_array(&t, out, len, off);
		}
		tv_topk_sort(&t);
		lat[r] = (now() - t0) * 1e3;
		tv_topk_free(&t);
	}
	qsort(lat, nq, sizeof lat[0], cmp_double);
	if (json)
		printf("], \"kernels_in_use\": \"%s\", \"exact_top10_p50_ms\": %.3f, "
		       "\"exact_top10_p99_ms\": %.3f, \"bandwidth_bound_ms\": %.3f}\n",
		       tv_simd_name(), lat[nq / 2], lat[(nq * 99) / 100], bytes / bw / 1e6);
	else
		printf("\nexact cosine top-10 over %zu x %zu (%s, one core): p50 %.2f ms, p99 %.2f ms\n"
		       "bandwidth bound %.2f ms -> %.0f%% of single-core memory bandwidth\n",
		       n, dim, tv_simd_name(), lat[nq / 2], lat[(nq * 99) / 100], bytes / bw / 1e6,
		       100.0 * (bytes / bw / 1e6) / lat[nq / 2]);
	free(base);
	free(inv);
	free(out);
	free(sq);
	free(q);
	return 0;
}
