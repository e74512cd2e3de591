/* The IVF_PQ module on its own: k-means, training, encoding, the index
 * file (reproducible, checked on open), and approximate search. */
#include "index/ivfpq.h"
#include "index/kmeans.h"
#include "teavec.h"
#include "tv_test.h"
#include "util/common.h"
#include "vec/vec.h"

#define D 32

static uint64_t rng = 99;
static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

/* n points around nc Gaussian centres (spread 1), noise sigma. */
static float *clustered(size_t n, size_t nc, float sigma)
{
	float *c = malloc(nc * D * sizeof *c), *x = malloc(n * D * sizeof *x);
	for (size_t i = 0; i < nc * D; i++)
		c[i] = gauss();
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)(urand() * (double)nc) % nc;
		for (size_t j = 0; j < D; j++)
			x[i * D + j] = c[k * D + j] + sigma * gauss();
	}
	free(c);
	return x;
}

static void test_kmeans_finds_well_separated_clusters(void)
{
	/* 4 clusters far apart in 40 dimensions (the coarse quantizer's
	 * k-means++ path): every point's centroid is its cluster's mean */
	enum { N = 400, DD = 40 };
	float *x = malloc(N * DD * sizeof *x), c[4 * DD];
	uint32_t a[N];
	for (size_t i = 0; i < N; i++)
		for (size_t t = 0; t < DD; t++)
			x[i * DD + t] = (t == 0 ? (float)(i % 4 / 2) * 100 : t == 1 ? (float)(i % 2) * 100 : 0) +
			                gauss();
	REQUIRE(tv_kmeans(x, N, DD, 4, 20, 1, c) == 0);
	REQUIRE(tv_kmeans_assign(x, N, DD, c, 4, a, NULL) == 0);
	for (size_t i = 4; i < N; i++)
		CHECK_MSG(a[i] == a[i % 4], "point %zu in cluster %u, its group's first in %u", i, a[i],
		          a[i % 4]);
	for (int j = 0; j < 4; j++) {
		CHECK_NEAR(c[a[j] * DD], (float)(j / 2) * 100, 1.0);
		CHECK_NEAR(c[a[j] * DD + 1], (float)(j % 2) * 100, 1.0);
	}
	free(x);
}

static void test_kmeans_with_fewer_points_than_clusters_keeps_every_point(void)
{
	float x[3 * 2] = {1, 2, 3, 4, 5, 6}, c[8 * 2];
	uint32_t a[3];
	REQUIRE(tv_kmeans(x, 3, 2, 8, 10, 7, c) == 0);
	REQUIRE(tv_kmeans_assign(x, 3, 2, c, 8, a, NULL) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_NEAR(c[2 * a[i]], x[2 * i], 0);
		CHECK_NEAR(c[2 * a[i] + 1], x[2 * i + 1], 0);
	}
}

/* The nearest centroid by the double-precision distance, and the gap to
 * the second nearest (relative to the nearest's distance plus |x|^2). */
static uint32_t nearest_exact(const float *x, const float *c, size_t k, size_t d, double *gap)
{
	double best = INFINITY, second = INFINITY, xx = 0;
	uint32_t b = 0;
	for (size_t t = 0; t < d; t++)
		xx += (double)x[t] * x[t];
	for (size_t j = 0; j < k; j++) {
		double s = 0;
		for (size_t t = 0; t < d; t++) {
			double e = (double)x[t] - c[j * d + t];
			s += e * e;
		}
		if (s < best) {
			second = best;
			best = s;
			b = (uint32_t)j;
		} else if (s < second) {
			second = s;
		}
	}
	*gap = (second - best) / (best + xx + 1e-30);
	return b;
}

/* tv_kmeans_assign with and without bf16 dot products (where the CPU has
 * them: the bf16 path re-checks in float32 what rounding could misorder)
 * against double precision: the same centroid whenever the two nearest
 * are not tied to float32 precision, and never a farther one by more
 * than that. The points sit near the midpoints between centroid pairs,
 * where bf16 rounding alone would pick the wrong one; dimensions odd and
 * even, centroid counts that do and do not fill a block of 32, scales
 * far from 1. */
static void test_assign_bf16_is_the_exact_argmin(void)
{
	static const size_t dims[] = {7, 32, 128, 384}, ks[] = {16, 45, 256, 1000};
	static const float scales[] = {1.0f, 1e-3f, 1e3f};
	for (size_t di = 0; di < TV_ARRAY_LEN(dims); di++)
		for (size_t ki = 0; ki < TV_ARRAY_LEN(ks); ki++) {
			size_t d = dims[di], k = ks[ki], n = 600, tied = 0;
			float sc = scales[(di + ki) % TV_ARRAY_LEN(scales)];
			float *c = malloc(k * d * sizeof *c), *x = malloc(n * d * sizeof *x);
			float *dist = malloc(n * sizeof *dist);
			uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
			REQUIRE(c && x && dist && a && b);
			for (size_t i = 0; i < k * d; i++)
				c[i] = sc * gauss();
			for (size_t i = 0; i < n; i++) {
				size_t p = i % k, q = (i * 7 + 1) % k;
				float w = 0.5f + (float)(i % 3) * 1e-4f;
				for (size_t t = 0; t < d; t++)
					x[i * d + t] = w * c[p * d + t] + (1 - w) * c[q * d + t] +
					               (i % 5 == 0 ? sc * 0.3f * gauss() : 0.0f);
			}
			tv_kmeans_set_bf16(true);
			REQUIRE(tv_kmeans_assign(x, n, d, c, k, a, dist) == 0);
			tv_kmeans_set_bf16(false);
			REQUIRE(tv_kmeans_assign(x, n, d, c, k, b, NULL) == 0);
			tv_kmeans_set_bf16(true);
			for (size_t i = 0; i < n; i++) {
				double gap, got = 0, want = 0;
				uint32_t e = nearest_exact(x + i * d, c, k, d, &gap);
				for (size_t t = 0; t < d; t++) {
					double u = (double)x[i * d + t] - c[a[i] * d + t];
					double v = (double)x[i * d + t] - c[e * d + t];
					got += u * u;
					want += v * v;
				}
				if (gap > 1e-5) {
					CHECK_MSG(a[i] == e, "d %zu k %zu point %zu: centroid %u, nearest %u", d, k,
					          i, a[i], e);
					CHECK_MSG(b[i] == e, "d %zu k %zu point %zu (float32 path): %u, nearest %u",
					          d, k, i, b[i], e);
				} else {
					tied++;
				}
				CHECK_MSG(got <= want * (1 + 1e-5) + 1e-30, "d %zu k %zu point %zu: %g > %g", d,
				          k, i, got, want);
				CHECK_MSG(fabs(dist[i] - got) <= 1e-3 * (got + sc * sc * (double)d),
				          "d %zu k %zu point %zu: distance %g, exact %g", d, k, i, dist[i], got);
			}
			CHECK_MSG(tied < n / 2, "d %zu k %zu: %zu of %zu points tied", d, k, tied, n);
			free(c);
			free(x);
			free(dist);
			free(a);
			free(b);
		}
}

/* The bf16 kernel itself against double precision, within the bound the
 * assignment relies on: 2 (2u + u^2) |x| |c| + float32 summation, u = 2^-8. */
static void test_bf16_dots_within_their_bound(void)
{
	enum { K = 70, DD = 131 };
	float c[K * DD], x[TV_BF16_ROWS * DD], *out = malloc(TV_BF16_ROWS * TV_BF16_PAD(K) * sizeof *out);
	uint32_t *cp = malloc(tv_bf16_cols_words(K, DD) * sizeof *cp), xb[TV_BF16_ROWS * (DD + 1) / 2];
	if (!tv_bf16_supported()) {
		printf("  (skipped: this CPU has no AVX512_BF16)\n");
		free(out);
		free(cp);
		return;
	}
	REQUIRE(out && cp);
	for (size_t i = 0; i < K * DD; i++)
		c[i] = gauss();
	for (size_t i = 0; i < TV_BF16_ROWS * DD; i++)
		x[i] = gauss();
	tv_bf16_pack_cols(c, K, DD, cp);
	tv_bf16_pack_rows(x, 5, DD, xb); /* 5 rows, 3 padding */
	tv_bf16_dots(xb, cp, K, DD, out);
	for (size_t r = 0; r < TV_BF16_ROWS; r++)
		for (size_t j = 0; j < TV_BF16_PAD(K); j++) {
			double e = 0, xn = 0, cn = 0, u = 1.0 / 256;
			for (size_t t = 0; r < 5 && j < K && t < DD; t++) {
				e += (double)x[r * DD + t] * c[j * DD + t];
				xn += (double)x[r * DD + t] * x[r * DD + t];
				cn += (double)c[j * DD + t] * c[j * DD + t];
			}
			CHECK_MSG(fabs(out[r * TV_BF16_PAD(K) + j] - e) <=
			              ((2 * u + u * u) + DD * 0x1p-24) * sqrt(xn * cn) + 1e-30,
			          "row %zu centroid %zu: %g, exact %g", r, j, out[r * TV_BF16_PAD(K) + j], e);
		}
	free(out);
	free(cp);
}

static void test_nearest256_matches_brute_force(void)
{
	float cb[256 * 4], cbt[4 * 256], cbn[256], x[4];
	for (int j = 0; j < 256; j++) {
		cbn[j] = 0;
		for (int t = 0; t < 4; t++) {
			cb[j * 4 + t] = cbt[t * 256 + j] = gauss();
			cbn[j] += cb[j * 4 + t] * cb[j * 4 + t];
		}
	}
	for (int r = 0; r < 200; r++) {
		int best = 0;
		for (int t = 0; t < 4; t++)
			x[t] = gauss();
		for (int j = 1; j < 256; j++)
			if (tv_kernels_scalar.l2sq(x, cb + j * 4, 4) < tv_kernels_scalar.l2sq(x, cb + best * 4, 4))
				best = j;
		CHECK_EQ_INT(tv_kmeans_nearest256(x, cbt, cbn, 4), best);
	}
}

/* The whole-vector encoder (one lane per sub-vector) against brute force,
 * for every width it takes and sub-vector counts that do not fill the
 * last group of 16, a row at a time and 7 rows at once (the SIMD kernel's
 * rows in fours or twos, and a remainder); and nearest256 at widths the
 * encoder leaves to it. */
static void test_pq_encode_matches_brute_force(void)
{
	static const uint32_t widths[] = {1, 2, 3, 4, 8, 12}, ms[] = {1, 5, 16, 37};
	enum { ROWS = 7 };
	for (size_t wi = 0; wi < TV_ARRAY_LEN(widths); wi++)
		for (size_t mi = 0; mi < TV_ARRAY_LEN(ms); mi++) {
			uint32_t ds = widths[wi], m = ms[mi];
			float *cb = malloc((size_t)m * 256 * ds * sizeof *cb);
			float *lanes = malloc(tv_pq_lanes_size(m, ds) * sizeof *lanes);
			float *r = malloc((size_t)ROWS * m * ds * sizeof *r);
			float cbt[12 * 256], cbn[256];
			uint8_t code[ROWS * 64], one[64];
			REQUIRE(cb && lanes && r);
			for (size_t i = 0; i < (size_t)m * 256 * ds; i++)
				cb[i] = gauss();
			tv_pq_lanes(cb, m, ds, lanes);
			for (size_t i = 0; i < (size_t)ROWS * m * ds; i++)
				r[i] = gauss();
			if (tv_pq_encode_width(ds))
				tv_pq_encode_rows(r, ROWS, lanes, m, ds, code);
			for (int row = 0; row < ROWS; row++) {
				const float *rr = r + (size_t)row * m * ds;
				if (tv_pq_encode_width(ds))
					tv_pq_encode(rr, lanes, m, ds, one);
				for (uint32_t s = 0; s < m; s++) {
					const float *x = rr + s * ds, *w = cb + (size_t)s * 256 * ds;
					float best = INFINITY, got, got1;
					uint8_t c, c1;
					for (int j = 0; j < 256; j++) {
						cbn[j] = tv_kernels_scalar.dot(w + j * ds, w + j * ds, ds);
						for (uint32_t t = 0; t < ds; t++)
							cbt[t * 256 + j] = w[j * ds + t];
						best = fminf(best, tv_kernels_scalar.l2sq(x, w + j * ds, ds));
					}
					c = tv_pq_encode_width(ds) ? code[row * m + s]
					                           : tv_kmeans_nearest256(x, cbt, cbn, ds);
					c1 = tv_pq_encode_width(ds) ? one[s] : c;
					got = tv_kernels_scalar.l2sq(x, w + c * ds, ds);
					got1 = tv_kernels_scalar.l2sq(x, w + c1 * ds, ds);
					/* equal up to the 2^-15 the argmin trick allows */
					CHECK_MSG(got <= best * (1 + 1e-4f) + 1e-6f,
					          "width %u m %u row %d sub-vector %u: %g, nearest %g", ds, m, row, s,
					          got, best);
					CHECK_MSG(got1 <= best * (1 + 1e-4f) + 1e-6f,
					          "width %u m %u row %d sub-vector %u (one row): %g, nearest %g", ds,
					          m, row, s, got1, best);
				}
			}
			free(cb);
			free(lanes);
			free(r);
		}
}

static tv_io *io_at(const char *dir)
{
	tv_io *io = NULL;
	tv_err err;
	if (tv_io_open(&io, dir, &err))
		fprintf(stderr, "io: %s\n", err.msg);
	return io;
}

/* Builds an index of x (n rows of fragment 0) and writes it to name. */
static int build(tv_io *io, const char *name, const float *x, size_t n, tv_metric metric,
                 uint32_t nlist, uint64_t seed)
{
	tv_ivfpq_params p = {nlist, 0, 0, 0, seed};
	tv_ivfpq_builder *b = NULL;
	uint64_t *addrs = malloc(n * sizeof *addrs);
	tv_err err;
	int rc;
	for (size_t i = 0; i < n; i++)
		addrs[i] = i;
	if (!(rc = tv_ivfpq_train(&b, x, n, D, metric, &p, n, &err)) &&
	    !(rc = tv_ivfpq_builder_add(b, x, n, addrs, &err)) &&
	    !(rc = tv_ivfpq_builder_cover(b, 0, n, &err)))
		rc = tv_ivfpq_builder_write(b, io, name, 1, &err);
	if (rc && rc != TV_EEXISTS)
		fprintf(stderr, "build: %s\n", err.msg);
	tv_ivfpq_builder_free(b);
	free(addrs);
	return rc;
}

static bool all_rows(void *ctx, uint64_t addr)
{
	(void)ctx;
	(void)addr;
	return true;
}

static bool even_rows(void *ctx, uint64_t addr)
{
	(void)ctx;
	return addr % 2 == 0;
}

static size_t recall_cand = 100;

/* recall@10 of the index's 100 (recall_cand) candidates re-ranked exactly,
 * over nq queries, against brute force; only rows accept() takes count. */
static double recall(const tv_ivfpq *ix, const float *x, size_t n, const float *qs, size_t nq,
                     tv_metric metric, size_t nprobes, bool (*acc)(void *, uint64_t))
{
	size_t hit = 0, want = 0;
	for (size_t qi = 0; qi < nq; qi++) {
		const float *q = qs + qi * D;
		tv_topk cand, exact, top;
		tv_err err;
		tv_topk_init(&cand, recall_cand);
		tv_topk_init(&exact, 10);
		tv_topk_init(&top, 10);
		if (tv_ivfpq_search(ix, q, nprobes, acc == even_rows, &cand, acc, NULL, &err))
			fprintf(stderr, "search: %s\n", err.msg);
		for (size_t i = 0; i < cand.n; i++)
			tv_topk_push(&top, tv_distance(metric, q, x + cand.id[i] * D, D), cand.id[i]);
		for (size_t i = 0; i < n; i++)
			if (acc(NULL, i))
				tv_topk_push(&exact, tv_distance(metric, q, x + i * D, D), i);
		for (size_t a = 0; a < exact.n; a++) {
			want++;
			for (size_t b = 0; b < top.n; b++)
				hit += exact.id[a] == top.id[b];
		}
		tv_topk_free(&cand);
		tv_topk_free(&exact);
		tv_topk_free(&top);
	}
	return (double)hit / (double)want;
}

static void test_search_recall_for_every_metric(void)
{
	const char *dir = tv_test_tmpdir("ivfpq");
	size_t n = 6000, nq = 50;
	float *x = clustered(n + nq, 64, 0.25f);
	tv_io *io = io_at(dir);
	REQUIRE(io);
	for (int m = 0; m < 3; m++) {
		tv_ivfpq *ix = NULL;
		tv_err err;
		char name[32];
		double r;
		snprintf(name, sizeof name, "m%d.idx", m);
		REQUIRE(build(io, name, x, n, (tv_metric)m, 64, 1) == 0);
		REQUIRE(tv_ivfpq_open(&ix, io, name, &err) == 0);
		CHECK_EQ_INT(ix->nentries, n);
		CHECK_EQ_INT(ix->nlist, 64);
		CHECK_EQ_INT(ix->m, D / 2); /* 32 dimensions: 2 per sub-vector */
		CHECK_EQ_INT(ix->metric, m);
		CHECK_EQ_INT(ix->terms != NULL, m == TV_METRIC_L2);
		r = recall(ix, x, n, x + n * D, nq, (tv_metric)m, 16, all_rows);
		CHECK_MSG(r >= 0.95, "%s: recall@10 %.3f < 0.95", tv_metric_name((tv_metric)m), r);
		/* refused rows never come back, and the rest are still found */
		r = recall(ix, x, n, x + n * D, nq, (tv_metric)m, 16, even_rows);
		CHECK_MSG(r >= 0.95, "%s, odd rows refused: recall@10 %.3f", tv_metric_name((tv_metric)m),
		          r);
		tv_ivfpq_close(ix);
	}
	tv_io_free(io);
	free(x);
}

static bool every_frag(void *ctx, uint64_t fid)
{
	(void)ctx;
	(void)fid;
	return true;
}

/* The recall calibration picks default probes that reach recall@10 >= 0.98
 * on its own queries (training rows), which carries over to fresh queries;
 * with codes too coarse to reach it, it reports the recall it measured and
 * does not probe more than the best recall needs; entries copied from
 * another index (no vectors) leave the probes as they were. */
static void test_recall_calibration_sets_probes_that_hold_on_fresh_queries(void)
{
	const char *dir = tv_test_tmpdir("ivfpq");
	size_t n = 5000, nq = 30;
	float *x = clustered(n + nq, 60, 0.35f);
	uint64_t *addrs = malloc(n * sizeof *addrs);
	tv_io *io = io_at(dir);
	REQUIRE(io && addrs);
	for (size_t i = 0; i < n; i++)
		addrs[i] = i;
	for (int c = 0; c < 4; c++) {
		/* metrics with fine codes (8 x 4 dimensions, 100 candidates), and
		 * coarse (2 x 16 dimensions, 12 candidates for 10) */
		tv_metric metric = (tv_metric)(c % 3);
		bool coarse = c == 3;
		tv_ivfpq_params p = {80, coarse ? 2 : 8, 0, 0, 5};
		size_t ncand = coarse ? 12 : 100;
		tv_ivfpq_builder *b = NULL, *f = NULL;
		tv_ivfpq *ix = NULL;
		tv_err err;
		char name[32];
		uint32_t before;
		double r, rmax;
		snprintf(name, sizeof name, "cal%d.idx", c);
		REQUIRE(tv_ivfpq_train(&b, x, n, D, metric, &p, n, &err) == 0);
		REQUIRE(tv_ivfpq_builder_useful(b));
		CHECK(tv_ivfpq_builder_recall(b) < 0);
		before = tv_ivfpq_builder_probes(b);
		REQUIRE(tv_ivfpq_builder_add(b, x, n, addrs, &err) == 0);
		REQUIRE(tv_ivfpq_builder_calibrate(b, ncand, &err) == 0);
		CHECK(tv_ivfpq_builder_probes(b) >= before);
		CHECK_MSG(coarse ? tv_ivfpq_builder_recall(b) < 0.98 : tv_ivfpq_builder_recall(b) >= 0.98,
		          "%s: calibrated recall %.3f at %u probes", tv_metric_name(metric),
		          tv_ivfpq_builder_recall(b), tv_ivfpq_builder_probes(b));
		REQUIRE(tv_ivfpq_builder_cover(b, 0, n, &err) == 0);
		REQUIRE(tv_ivfpq_builder_write(b, io, name, 1, &err) == 0);
		REQUIRE(tv_ivfpq_open(&ix, io, name, &err) == 0);
		CHECK_EQ_INT(ix->nprobes, tv_ivfpq_builder_probes(b));
		recall_cand = ncand;
		r = recall(ix, x, n, x + n * D, nq, metric, ix->nprobes, all_rows);
		rmax = recall(ix, x, n, x + n * D, nq, metric, 32, all_rows);
		recall_cand = 100;
		if (!coarse)
			CHECK_MSG(r >= 0.95, "%s: recall@10 %.3f at the calibrated %u probes",
			          tv_metric_name(metric), r, ix->nprobes);
		else /* the best it can do, or close */
			CHECK_MSG(r >= rmax - 0.03, "coarse: recall@10 %.3f at %u probes, %.3f at 32", r,
			          ix->nprobes, rmax);
		/* a fold-in copy has no vectors: calibration leaves its probes */
		REQUIRE(tv_ivfpq_builder_from(&f, ix, &err) == 0);
		REQUIRE(tv_ivfpq_builder_copy(f, ix, every_frag, NULL, &err) == 0);
		REQUIRE(tv_ivfpq_builder_calibrate(f, ncand, &err) == 0);
		CHECK_EQ_INT(tv_ivfpq_builder_probes(f), ix->nprobes);
		CHECK(tv_ivfpq_builder_recall(f) < 0);
		tv_ivfpq_builder_free(f);
		tv_ivfpq_close(ix);
		tv_ivfpq_builder_free(b);
	}
	tv_io_free(io);
	free(addrs);
	free(x);
}

/* Enough rows for the quick look: uniform data (no structure) is found
 * without a use for partitions, clustered data still gets its codes. */
static void test_the_quick_look_tells_structure_from_none(void)
{
	size_t n = 8192;
	float *u = malloc(n * D * sizeof *u), *c = clustered(n, 64, 0.25f);
	tv_ivfpq_params p = {0};
	tv_ivfpq_builder *b = NULL;
	tv_err err;
	for (size_t i = 0; i < n * D; i++)
		u[i] = (float)urand() - 0.5f;
	p.seed = 3;
	REQUIRE(tv_ivfpq_train(&b, u, n, D, TV_METRIC_COSINE, &p, n, &err) == 0);
	CHECK(!tv_ivfpq_builder_useful(b));
	tv_ivfpq_builder_free(b);
	REQUIRE(tv_ivfpq_train(&b, c, n, D, TV_METRIC_COSINE, &p, n, &err) == 0);
	CHECK(tv_ivfpq_builder_useful(b));
	tv_ivfpq_builder_free(b);
	free(u);
	free(c);
}

static void test_probing_every_partition_finds_the_exact_neighbour(void)
{
	const char *dir = tv_test_tmpdir("ivfpq");
	size_t n = 3000;
	float *x = clustered(n, 30, 0.3f);
	tv_io *io = io_at(dir);
	tv_ivfpq *ix = NULL;
	tv_err err;
	REQUIRE(io && build(io, "a.idx", x, n, TV_METRIC_L2, 40, 3) == 0);
	REQUIRE(tv_ivfpq_open(&ix, io, "a.idx", &err) == 0);
	/* each row queried by itself: with all partitions probed its own entry
	 * is among the 10 best estimates */
	for (size_t i = 0; i < n; i += 97) {
		tv_topk cand;
		bool found = false;
		tv_topk_init(&cand, 10);
		tv_ivfpq_search(ix, x + i * D, ix->nlist, false, &cand, all_rows, NULL, &err);
		for (size_t j = 0; j < cand.n; j++)
			found |= cand.id[j] == i;
		CHECK_MSG(found, "row %zu not among its own 10 nearest estimates", i);
		tv_topk_free(&cand);
	}
	tv_ivfpq_close(ix);
	tv_io_free(io);
	free(x);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*n ? *n : 1);
	if (fread(b, 1, *n, f) != *n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static void test_builds_are_reproducible_for_a_seed(void)
{
	const char *dir = tv_test_tmpdir("ivfpq");
	char pa[4200], pb[4200], pc[4200], *a, *b, *c;
	size_t na = 0, nb = 0, nc = 0, n = 2000;
	float *x = clustered(n, 20, 0.3f);
	tv_io *io = io_at(dir);
	REQUIRE(io);
	REQUIRE(build(io, "a.idx", x, n, TV_METRIC_COSINE, 16, 42) == 0);
	REQUIRE(build(io, "b.idx", x, n, TV_METRIC_COSINE, 16, 42) == 0);
	REQUIRE(build(io, "c.idx", x, n, TV_METRIC_COSINE, 16, 43) == 0);
	snprintf(pa, sizeof pa, "%s/a.idx", dir);
	snprintf(pb, sizeof pb, "%s/b.idx", dir);
	snprintf(pc, sizeof pc, "%s/c.idx", dir);
	a = slurp(pa, &na);
	b = slurp(pb, &nb);
	c = slurp(pc, &nc);
	REQUIRE(a && b && c);
	CHECK(na == nb && memcmp(a, b, na) == 0);
	CHECK(na != nc || memcmp(a, c, na) != 0); /* another seed, another index */
	free(a);
	free(b);
	free(c);
	/* an existing name is never overwritten */
	CHECK_EQ_INT(build(io, "a.idx", x, n, TV_METRIC_COSINE, 16, 42), TV_EEXISTS);
	tv_io_free(io);
	free(x);
}

static void damage(const char *path, long off, int byte)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, SEEK_SET);
	fputc(byte, f);
	fclose(f);
}

static void test_damaged_files_are_corrupt_naming_the_file(void)
{
	const char *dir = tv_test_tmpdir("ivfpq");
	static const long offs[] = {0, 20, 64, 130, 200, 300};
	char path[4200], name[16];
	size_t n = 1000;
	float *x = clustered(n, 10, 0.3f);
	tv_io *io = io_at(dir);
	REQUIRE(io);
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		tv_ivfpq *ix = NULL;
		tv_err err;
		int rc;
		snprintf(name, sizeof name, "d%zu.idx", i);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		REQUIRE(build(io, name, x, n, TV_METRIC_COSINE, 8, 1) == 0);
		damage(path, offs[i], 0x5a);
		rc = tv_ivfpq_open(&ix, io, name, &err);
		CHECK_MSG(rc == TV_ECORRUPT, "byte %ld: rc %d", offs[i], rc);
		CHECK_MSG(strstr(err.msg, name) != NULL, "message does not name the file: %s", err.msg);
		tv_ivfpq_close(ix);
	}
	{ /* truncated */
		tv_ivfpq *ix = NULL;
		tv_err err;
		REQUIRE(build(io, "t.idx", x, n, TV_METRIC_COSINE, 8, 1) == 0);
		snprintf(path, sizeof path, "%s/t.idx", dir);
		CHECK(truncate(path, 1000) == 0);
		CHECK_EQ_INT(tv_ivfpq_open(&ix, io, "t.idx", &err), TV_ECORRUPT);
		CHECK(strstr(err.msg, "truncated") != NULL);
	}
	tv_io_free(io);
	free(x);
}

int main(void)
{
	TV_RUN(test_kmeans_finds_well_separated_clusters);
	TV_RUN(test_kmeans_with_fewer_points_than_clusters_keeps_every_point);
	TV_RUN(test_assign_bf16_is_the_exact_argmin);
	TV_RUN(test_bf16_dots_within_their_bound);
	TV_RUN(test_nearest256_matches_brute_force);
	TV_RUN(test_pq_encode_matches_brute_force);
	TV_RUN(test_recall_calibration_sets_probes_that_hold_on_fresh_queries);
	TV_RUN(test_search_recall_for_every_metric);
	TV_RUN(test_the_quick_look_tells_structure_from_none);
	TV_RUN(test_probing_every_partition_finds_the_exact_neighbour);
	TV_RUN(test_builds_are_reproducible_for_a_seed);
	TV_RUN(test_damaged_files_are_corrupt_naming_the_file);
	TV_TEST_END();
}
