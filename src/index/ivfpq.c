/*
 * IVF_PQ: training, encoding, the index file, and the approximate search.
 *
 * File layout (little-endian; every section starts on a 64-byte boundary
 * so that a mapped file gives aligned arrays):
 *
 *   offset size  field
 *   0      8     magic "TVIVFPQ1"
 *   8      4     header size (128)
 *   12     4     metric (0 cosine, 1 l2, 2 dot)
 *   16     4     dim
 *   20     4     nlist
 *   24     4     m (sub-vectors; dim % m == 0)
 *   28     4     bits per code (8)
 *   32     8     table version the index was built or extended at
 *   40     8     trained_rows (table rows when the quantizers were trained)
 *   48     8     nentries
 *   56     8     nfrags
 *   64     8     offset of frags      nfrags x {u64 fragment id, u64 physical rows}, ids ascending
 *   72     8     offset of centroids  nlist x dim f32
 *   80     8     offset of codebooks  m x 256 x (dim/m) f32
 *   88     8     offset of parts      (nlist + 1) x u64: partition p is entries [parts[p], parts[p+1])
 *   96     8     offset of addrs      nentries x u64 row address (fragment id << 32 | offset)
 *   104    8     offset of codes      nentries x m u8
 *   112    8     offset of terms      nentries x f32 (l2 only; 0 = absent)
 *   120    8     checksum: tv_hash64_seed chained over bytes [0, 120) and
 *                [128, 192), frags, centroids, codebooks and parts (the bulk -
 *                addrs, codes, terms - is not read at open; every address is
 *                checked against the fragment list when used)
 *   128    4     nprobes: partitions a query probes by default, calibrated at
 *                build time (0 = not calibrated)
 *   132    60    reserved, zero
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivfpq.h"
#include "index/kmeans.h"
#include "util/common.h"
#include "util/parallel.h"

#define HDR 192
#define QUICK_MIN_ROWS 4096 /* training rows from which a quick look pays */
#define QUICK_QUERIES 50
#define ALIGN 64
#define CAL_QUERIES 100 /* recall calibration queries */
#define CAL_K 10        /* ... and their neighbours */
#define CAL_RECALL 0.98 /* the recall@10 the default probes reach on them */
#define MAGIC "TVIVFPQ1"

struct tv_ivfpq_builder {
	tv_metric metric;
	uint32_t dim, nlist, m, dsub;
	uint64_t trained_rows;
	float *centroids, *codebooks;
	float *cbt; /* m x dsub x 256: codebooks transposed, for encoding */
	float *cbn; /* m x 256: squared norms of the codewords */
	float *lanes; /* the same for tv_pq_encode_rows, when the width allows */
	uint32_t *part;
	uint64_t *addr;
	uint8_t *codes;
	float *terms;
	size_t n, cap;
	uint64_t *frags; /* pairs */
	size_t nfrags, capfrags;
	uint64_t *parts; /* once sorted: partition offsets (nlist + 1) */
	uint32_t nprobes; /* calibrated default, 0 = none */
	/* recall calibration: training rows as queries, and their exact
	 * nearest neighbours among the rows added since (see
	 * tv_ivfpq_builder_calibrate) */
	float *calq;   /* ncal x dim, normalized when cosine */
	tv_topk *calgt; /* ncal */
	uint32_t ncal;
	double recall; /* calibrated: recall@10 of the default probes, or -1 */
};

void tv_ivfpq_defaults(tv_ivfpq_params *p, uint64_t n, uint32_t dim)
{
	if (!p->nlist) {
		uint64_t s = (uint64_t)llround(sqrt((double)n));
		p->nlist = (uint32_t)TV_MAX(1, TV_MIN(s, TV_MIN((uint64_t)65536, n / 32 ? n / 32 : 1)));
	}
	if (!p->m) {
		/* sub-vectors of 8 dimensions above 256 dimensions, of 4 up to
		 * 256, of 2 up to 128 (fewer code bytes lose too much of a small
		 * vector for re-ranking to recover: at 1M x 128, 32-byte codes
		 * gave recall@10 0.75, 64-byte 0.98), else what divides */
		static const uint32_t ds[] = {8, 4, 2, 1};
		for (size_t i = dim > 256 ? 0 : dim > 128 ? 1 : 2; i < TV_ARRAY_LEN(ds); i++)
			if (dim % ds[i] == 0) {
				p->m = dim / ds[i];
				break;
			}
	}
	if (!p->iters)
		p->iters = 12;
	if (!p->sample)
		p->sample = (uint32_t)TV_MAX(16384, TV_MIN((uint64_t)1 << 30, 32 * (uint64_t)p->nlist));
}

static void normalize(float *x, uint32_t d)
{
	float nr = tv_vec_norm(x, d);
	if (nr > 0)
		for (uint32_t i = 0; i < d; i++)
			x[i] /= nr;
}

void tv_ivfpq_builder_free(tv_ivfpq_builder *b)
{
	if (!b)
		return;
	free(b->centroids);
	free(b->codebooks);
	free(b->cbt);
	free(b->cbn);
	free(b->lanes);
	free(b->part);
	free(b->addr);
	free(b->codes);
	free(b->terms);
	free(b->frags);
	free(b->parts);
	free(b->calq);
	for (uint32_t i = 0; b->calgt && i < b->ncal; i++)
		tv_topk_free(&b->calgt[i]);
	free(b->calgt);
	free(b);
}

/* Drops the calibration queries (entries were added without vectors). */
static void drop_calibration(tv_ivfpq_builder *b)
{
	free(b->calq);
	for (uint32_t i = 0; b->calgt && i < b->ncal; i++)
		tv_topk_free(&b->calgt[i]);
	free(b->calgt);
	b->calq = NULL;
	b->calgt = NULL;
	b->ncal = 0;
}

/* The encoding tables derived from the codebooks. */
static int derive(tv_ivfpq_builder *b)
{
	size_t ds = b->dsub;
	if (!(b->cbt = tv_mallocarray((size_t)b->m * 256 * ds, sizeof *b->cbt)) ||
	    !(b->cbn = tv_mallocarray((size_t)b->m * 256, sizeof *b->cbn)))
		return TV_ENOMEM;
	for (size_t s = 0; s < b->m; s++)
		for (size_t j = 0; j < 256; j++) {
			const float *w = b->codebooks + (s * 256 + j) * ds;
			float nn = 0;
			for (size_t t = 0; t < ds; t++) {
				b->cbt[(s * ds + t) * 256 + j] = w[t];
				nn += w[t] * w[t];
			}
			b->cbn[s * 256 + j] = nn;
		}
	if (tv_pq_encode_width(b->dsub)) {
		if (!(b->lanes = tv_mallocarray(tv_pq_lanes_size(b->m, b->dsub), sizeof *b->lanes)))
			return TV_ENOMEM;
		tv_pq_lanes(b->codebooks, b->m, b->dsub, b->lanes);
	}
	return 0;
}

static tv_ivfpq_builder *builder_new(tv_metric metric, uint32_t dim, uint32_t nlist, uint32_t m)
{
	tv_ivfpq_builder *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->metric = metric;
	b->dim = dim;
	b->nlist = nlist;
	b->m = m;
	b->dsub = dim / m;
	b->recall = -1;
	b->centroids = tv_mallocarray((size_t)nlist * dim, sizeof *b->centroids);
	b->codebooks = tv_mallocarray((size_t)m * 256 * b->dsub, sizeof *b->codebooks);
	if (!b->centroids || !b->codebooks) {
		tv_ivfpq_builder_free(b);
		return NULL;
	}
	return b;
}

/* Trains the product quantizer on residuals r (n x dim), one sub-vector
 * at a time (each k-means assignment uses both cores). */
static int train_pq(tv_ivfpq_builder *b, const float *r, size_t n, unsigned iters, uint64_t seed)
{
	size_t ds = b->dsub;
	float *sub = tv_mallocarray(n * ds, sizeof *sub);
	int rc = 0;
	if (!sub)
		return TV_ENOMEM;
	for (size_t s = 0; s < b->m && !rc; s++) {
		for (size_t i = 0; i < n; i++)
			memcpy(sub + i * ds, r + i * b->dim + s * ds, ds * sizeof *sub);
		rc = tv_kmeans(sub, n, ds, 256, iters, seed + s + 1, b->codebooks + s * 256 * ds);
	}
	free(sub);
	return rc;
}

/* The partitions a query must probe by default: over up to maxq sample
 * rows as queries, the rank (by centroid distance) of the partition of
 * each of their 10 nearest other sample rows; the 99th percentile of those
 * ranks, + 1. Neighbours in the sample are farther apart than in the whole
 * table, so this errs towards probing more; 99% of the coarse recall
 * leaves room for what the codes lose before re-ranking. */
static uint32_t calibrate(const tv_ivfpq_builder *b, const float *xs, size_t n,
                          const uint32_t *as, size_t maxq)
{
	const tv_kernels *kk = tv_vec_kernels();
	size_t nq = TV_MIN(n / 2, maxq), nr = 0;
	float *d = tv_mallocarray(n, sizeof *d), *cd = tv_mallocarray(b->nlist, sizeof *cd);
	uint32_t *ranks = tv_mallocarray(nq * 10 + 1, sizeof *ranks), p = b->nlist;
	if (nq < 10 || b->nlist == 1 || !d || !cd || !ranks)
		goto done;
	for (size_t i = 0; i < nq; i++) {
		size_t qi = i * n / nq;
		const float *q = xs + qi * b->dim;
		tv_topk top;
		if (b->metric == TV_METRIC_L2) {
			kk->l2sq_batch(q, xs, n, b->dim, d);
			kk->l2sq_batch(q, b->centroids, b->nlist, b->dim, cd);
		} else { /* cosine rows are normalized here: both rank by -dot */
			kk->dot_batch(q, xs, n, b->dim, d);
			kk->dot_batch(q, b->centroids, b->nlist, b->dim, cd);
			for (size_t j = 0; j < n; j++)
				d[j] = -d[j];
			for (uint32_t j = 0; j < b->nlist; j++)
				cd[j] = -cd[j];
		}
		d[qi] = INFINITY;
		if (tv_topk_init(&top, 10))
			goto done;
		tv_topk_push_array(&top, d, n, 0);
		for (size_t a = 0; a < top.n; a++) {
			float mine = cd[as[top.id[a]]];
			uint32_t r = 0;
			for (uint32_t j = 0; j < b->nlist; j++)
				r += cd[j] < mine;
			ranks[nr++] = r;
		}
		tv_topk_free(&top);
	}
	if (nr) {
		uint32_t *cnt = calloc((size_t)b->nlist + 1, sizeof *cnt);
		size_t need = (nr * 99 + 99) / 100, seen = 0;
		if (!cnt)
			goto done;
		for (size_t i = 0; i < nr; i++)
			cnt[TV_MIN(ranks[i], b->nlist)]++;
		for (p = 0; p < b->nlist && seen + cnt[p] < need; p++)
			seen += cnt[p];
		p = TV_MIN(p + 1, b->nlist);
		free(cnt);
	}
done:
	free(d);
	free(cd);
	free(ranks);
	return p;
}

bool tv_ivfpq_builder_useful(const tv_ivfpq_builder *b)
{
	return b->nprobes * 2 <= b->nlist;
}

int tv_ivfpq_train_inplace(tv_ivfpq_builder **out, float *xs, size_t n, uint32_t dim,
                           tv_metric metric, const tv_ivfpq_params *params,
                           uint64_t trained_rows, tv_err *err)
{
	tv_ivfpq_params p = *params;
	tv_ivfpq_builder *b = NULL;
	uint32_t *as = NULL;
	size_t npq;
	double t0;
	bool looked;
	int rc = TV_ENOMEM;
	*out = NULL;
	tv_ivfpq_defaults(&p, n, dim);
	if (n == 0 || dim == 0 || p.m == 0 || dim % p.m)
		return tv_err_set(err, TV_EINVAL,
		                  "index: %u sub-vectors do not divide dimension %u (or no rows)", p.m,
		                  dim);
	if (p.nlist > n)
		p.nlist = (uint32_t)n;
	if (!(b = builder_new(metric, dim, p.nlist, p.m)) || !(as = tv_mallocarray(n, sizeof *as)))
		goto fail;
	b->trained_rows = trained_rows;
	if (metric == TV_METRIC_COSINE)
		for (size_t i = 0; i < n; i++)
			normalize(xs + i * dim, dim);
	t0 = tv_trace(NULL, 0);
	if ((looked = n >= QUICK_MIN_ROWS && p.iters > 1)) {
		/* a quick look first: one k-means round, calibrated on fewer
		 * queries. Data it finds needing over 3/4 of the partitions
		 * probed has no cluster structure for them to use (lexical hash
		 * embeddings: 90%, where clustered and real data sets need 2-4%
		 * at this point); the full training would not make its index
		 * useful and costs 12 rounds. Otherwise the training goes on
		 * from there (the look's round is its first). */
		if ((rc = tv_kmeans(xs, n, dim, p.nlist, 1, p.seed, b->centroids)) ||
		    (rc = tv_kmeans_assign(xs, n, dim, b->centroids, p.nlist, as, NULL)))
			goto fail;
		b->nprobes = calibrate(b, xs, n, as, QUICK_QUERIES);
		t0 = tv_trace("index: quick look", t0);
		if ((uint64_t)b->nprobes * 4 > (uint64_t)b->nlist * 3) {
			free(as);
			*out = b;
			return 0;
		}
	}
	if ((rc = looked ? tv_kmeans_more(xs, n, dim, p.nlist, p.iters - 1, p.seed, b->centroids)
	                 : tv_kmeans(xs, n, dim, p.nlist, p.iters, p.seed, b->centroids)) ||
	    (rc = tv_kmeans_assign(xs, n, dim, b->centroids, p.nlist, as, NULL)))
		goto fail;
	t0 = tv_trace("index: coarse k-means", t0);
	b->nprobes = calibrate(b, xs, n, as, 200);
	t0 = tv_trace("index: calibration", t0);
	if (!tv_ivfpq_builder_useful(b)) {
		/* the partitions do not separate the data (no cluster structure,
		 * e.g. lexical hash embeddings): no codes, searches stay exact */
		free(as);
		*out = b;
		return 0;
	}
	/* queries for the recall calibration: 100 sample rows (strided, as the
	 * sample is random), searched for among all rows as they are added */
	if ((b->ncal = (uint32_t)TV_MIN(n / 4, (size_t)CAL_QUERIES)) > 0) {
		if (!(b->calq = tv_mallocarray(b->ncal, (size_t)dim * sizeof *b->calq)) ||
		    !(b->calgt = calloc(b->ncal, sizeof *b->calgt)))
			goto fail;
		for (uint32_t i = 0; i < b->ncal; i++) {
			memcpy(b->calq + (size_t)i * dim, xs + (i * n / b->ncal) * dim, dim * sizeof *xs);
			if (tv_topk_init(&b->calgt[i], CAL_K))
				goto fail;
		}
	}
	/* residuals in place; the product quantizer learns from at most 8k
	 * (32 per codeword: more bought no recall on bench/ivf.sh's data) */
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < dim; t++)
			xs[i * dim + t] -= b->centroids[(size_t)as[i] * dim + t];
	npq = TV_MIN(n, (size_t)8192);
	if (npq < n) /* a strided subset: the caller's sample is already random */
		for (size_t i = 0; i < npq; i++)
			memmove(xs + i * dim, xs + (i * n / npq) * dim, dim * sizeof *xs);
	if ((rc = train_pq(b, xs, npq, p.iters, p.seed)) || (rc = derive(b)))
		goto fail;
	tv_trace("index: product quantizer", t0);
	free(as);
	*out = b;
	return 0;
fail:
	free(as);
	tv_ivfpq_builder_free(b);
	return TV_ENOMEM_SET(err, "index training");
}

int tv_ivfpq_train(tv_ivfpq_builder **out, const float *x, size_t n, uint32_t dim,
                   tv_metric metric, const tv_ivfpq_params *params, uint64_t trained_rows,
                   tv_err *err)
{
	float *xs = tv_mallocarray(n, (size_t)dim * sizeof *xs);
	int rc;
	*out = NULL;
	if (!xs)
		return TV_ENOMEM_SET(err, "index training");
	memcpy(xs, x, n * dim * sizeof *xs);
	rc = tv_ivfpq_train_inplace(out, xs, n, dim, metric, params, trained_rows, err);
	free(xs);
	return rc;
}

int tv_ivfpq_builder_from(tv_ivfpq_builder **out, const tv_ivfpq *ix, tv_err *err)
{
	tv_ivfpq_builder *b = builder_new(ix->metric, ix->dim, ix->nlist, ix->m);
	*out = NULL;
	if (!b)
		return TV_ENOMEM_SET(err, "index");
	b->trained_rows = ix->trained_rows;
	b->nprobes = ix->nprobes;
	memcpy(b->centroids, ix->centroids, (size_t)ix->nlist * ix->dim * sizeof(float));
	memcpy(b->codebooks, ix->codebooks, (size_t)ix->m * 256 * ix->dsub * sizeof(float));
	if (derive(b)) {
		tv_ivfpq_builder_free(b);
		return TV_ENOMEM_SET(err, "index");
	}
	*out = b;
	return 0;
}

uint64_t tv_ivfpq_builder_entries(const tv_ivfpq_builder *b) { return b->n; }

static int reserve(tv_ivfpq_builder *b, size_t more)
{
	size_t need = b->n + more, cap = b->cap;
	void *p;
	free(b->parts); /* entries change: sorted again when written */
	b->parts = NULL;
	if (need <= cap)
		return 0;
	while (cap < need)
		cap = cap ? cap * 2 : 4096;
	if (!(p = tv_reallocarray(b->part, cap, sizeof *b->part)))
		return TV_ENOMEM;
	b->part = p;
	if (!(p = tv_reallocarray(b->addr, cap, sizeof *b->addr)))
		return TV_ENOMEM;
	b->addr = p;
	if (!(p = tv_reallocarray(b->codes, cap, b->m)))
		return TV_ENOMEM;
	b->codes = p;
	if (b->metric == TV_METRIC_L2) {
		if (!(p = tv_reallocarray(b->terms, cap, sizeof *b->terms)))
			return TV_ENOMEM;
		b->terms = p;
	}
	b->cap = cap;
	return 0;
}

typedef struct truth_job {
	tv_ivfpq_builder *b;
	const float *x;        /* block, normalized when cosine */
	const float *xn;       /* l2: squared norms of the block's rows */
	const uint64_t *addrs; /* their addresses */
	size_t nb;
	bool nomem;
} truth_job;

/* The calibration queries [lo, hi) against one block of rows: their exact
 * nearest rows so far, a row identical to the query (itself) excluded. */
static void truth_range(void *ctx, size_t lo, size_t hi)
{
	truth_job *j = ctx;
	tv_ivfpq_builder *b = j->b;
	float *g = tv_mallocarray((hi - lo) * j->nb, sizeof *g);
	if (!g) {
		j->nomem = true;
		return;
	}
	tv_kmeans_dots(b->calq + lo * b->dim, hi - lo, j->x, j->nb, b->dim, g);
	for (size_t q = lo; q < hi; q++) {
		const float *qv = b->calq + q * b->dim, *row = g + (q - lo) * j->nb;
		float self = -tv_kernels_scalar.dot(qv, qv, b->dim);
		float near = self + 1e-4f * fabsf(self) + 1e-6f;
		tv_topk *top = &b->calgt[q];
		for (size_t i = 0; i < j->nb; i++) {
			float d = j->xn ? j->xn[i] - 2.0f * row[i] : -row[i];
			if (d >= tv_topk_worst(top))
				continue;
			if (d <= near && !memcmp(qv, j->x + i * b->dim, b->dim * sizeof *qv))
				continue;
			tv_topk_push(top, d, j->addrs[i]);
		}
	}
	free(g);
}

typedef struct encode_job {
	tv_ivfpq_builder *b;
	const float *x; /* block, normalized when cosine */
	size_t at;      /* first entry of the block */
	bool nomem;
} encode_job;

/* Residual codes (and the l2 term) of the block's vectors [lo, hi), in
 * sub-blocks whose residuals stay in cache. */
static void encode_range(void *ctx, size_t lo, size_t hi)
{
	encode_job *j = ctx;
	tv_ivfpq_builder *b = j->b;
	size_t ds = b->dsub, sub = 64;
	float *r = tv_mallocarray(sub, b->dim * sizeof *r);
	if (!r) {
		j->nomem = true;
		return;
	}
	for (size_t i0 = lo; i0 < hi; i0 += sub) {
		size_t ns = TV_MIN(sub, hi - i0);
		for (size_t i = i0; i < i0 + ns; i++) {
			const float *c = b->centroids + (size_t)b->part[j->at + i] * b->dim;
			const float *xi = j->x + i * b->dim;
			float *ri = r + (i - i0) * b->dim;
			for (size_t t = 0; t < b->dim; t++)
				ri[t] = xi[t] - c[t];
		}
		if (b->lanes)
			tv_pq_encode_rows(r, ns, b->lanes, b->m, b->dsub, b->codes + (j->at + i0) * b->m);
		for (size_t i = i0; i < i0 + ns; i++) {
			size_t e = j->at + i;
			const float *c = b->centroids + (size_t)b->part[e] * b->dim, *ri = r + (i - i0) * b->dim;
			uint8_t *code = b->codes + e * b->m;
			float term = 0;
			for (size_t s = 0; s < b->m; s++) {
				if (!b->lanes)
					code[s] = tv_kmeans_nearest256(ri + s * ds, b->cbt + s * ds * 256,
					                               b->cbn + s * 256, (uint32_t)ds);
				if (b->terms) {
					const float *w = b->codebooks + (s * 256 + code[s]) * ds;
					for (size_t t = 0; t < ds; t++)
						term += 2.0f * c[s * ds + t] * w[t] + w[t] * w[t];
				}
			}
			if (b->terms)
				b->terms[e] = term;
		}
	}
	free(r);
}

typedef struct norm_job {
	const float *x;
	float *out;
	uint32_t dim;
} norm_job;

/* out = x normalized, rows [lo, hi) */
static void norm_range(void *ctx, size_t lo, size_t hi)
{
	norm_job *j = ctx;
	for (size_t i = lo; i < hi; i++) {
		const float *x = j->x + i * j->dim;
		float *o = j->out + i * j->dim, nr = tv_vec_norm(x, j->dim);
		for (uint32_t t = 0; t < j->dim; t++)
			o[t] = nr > 0 ? x[t] / nr : x[t];
	}
}

int tv_ivfpq_builder_add(tv_ivfpq_builder *b, const float *x, size_t n, const uint64_t *addrs,
                         tv_err *err)
{
	const size_t blk = 8192;
	float *buf = NULL;
	int rc = 0;
	if (!tv_ivfpq_builder_useful(b))
		return 0; /* an index that only records coverage */
	if (reserve(b, n) ||
	    (b->metric == TV_METRIC_COSINE && !(buf = tv_mallocarray(TV_MIN(n, blk), b->dim * sizeof *buf))))
		return TV_ENOMEM_SET(err, "index entries");
	for (size_t i0 = 0; i0 < n && !rc; i0 += blk) {
		size_t nb = TV_MIN(blk, n - i0);
		const float *xb = x + i0 * b->dim;
		encode_job j = {b, xb, b->n, false};
		if (buf) {
			norm_job nj = {xb, buf, b->dim};
			tv_parallel_for(nb, 1024, norm_range, &nj);
			j.x = buf;
		}
		if (tv_kmeans_assign(j.x, nb, b->dim, b->centroids, b->nlist, b->part + b->n, NULL)) {
			rc = TV_ENOMEM_SET(err, "index assignment");
			break;
		}
		tv_parallel_for(nb, 512, encode_range, &j);
		if (j.nomem) {
			rc = TV_ENOMEM_SET(err, "index encoding");
			break;
		}
		if (b->ncal) {
			truth_job tj = {b, j.x, NULL, addrs + i0, nb, false};
			float *xn = NULL;
			if (b->metric == TV_METRIC_L2) {
				if (!(xn = tv_mallocarray(nb, sizeof *xn))) {
					rc = TV_ENOMEM_SET(err, "index calibration");
					break;
				}
				for (size_t i = 0; i < nb; i++)
					xn[i] = tv_kernels_scalar.dot(j.x + i * b->dim, j.x + i * b->dim, b->dim);
				tj.xn = xn;
			}
			tv_parallel_for(b->ncal, 16, truth_range, &tj);
			free(xn);
			if (tj.nomem) {
				rc = TV_ENOMEM_SET(err, "index calibration");
				break;
			}
		}
		memcpy(b->addr + b->n, addrs + i0, nb * sizeof *addrs);
		b->n += nb;
	}
	free(buf);
	return rc;
}

int tv_ivfpq_builder_copy(tv_ivfpq_builder *b, const tv_ivfpq *ix,
                          bool (*keep)(void *ctx, uint64_t frag_id), void *ctx, tv_err *err)
{
	uint64_t cached = UINT64_MAX;
	bool cached_keep = false;
	if (reserve(b, ix->nentries))
		return TV_ENOMEM_SET(err, "index entries");
	drop_calibration(b); /* entries without their vectors */
	for (uint32_t p = 0; p < ix->nlist; p++)
		for (uint64_t e = ix->parts[p]; e < ix->parts[p + 1]; e++) {
			uint64_t fid = ix->addrs[e] >> 32;
			if (fid != cached) {
				cached = fid;
				cached_keep = keep(ctx, fid);
			}
			if (!cached_keep)
				continue;
			b->part[b->n] = p;
			b->addr[b->n] = ix->addrs[e];
			memcpy(b->codes + b->n * b->m, ix->codes + e * ix->m, b->m);
			if (b->terms)
				b->terms[b->n] = ix->terms[e];
			b->n++;
		}
	return 0;
}

int tv_ivfpq_builder_cover(tv_ivfpq_builder *b, uint64_t frag_id, uint64_t rows, tv_err *err)
{
	if (b->nfrags == b->capfrags) {
		size_t cap = b->capfrags ? b->capfrags * 2 : 64;
		uint64_t *v = tv_reallocarray(b->frags, cap, 2 * sizeof *v);
		if (!v)
			return TV_ENOMEM_SET(err, "index fragments");
		b->frags = v;
		b->capfrags = cap;
	}
	if (b->nfrags && b->frags[2 * (b->nfrags - 1)] >= frag_id)
		return tv_err_set(err, TV_EINVAL, "index: fragments must be covered in ascending order");
	b->frags[2 * b->nfrags] = frag_id;
	b->frags[2 * b->nfrags + 1] = rows;
	b->nfrags++;
	return 0;
}

/* ---- the file ------------------------------------------------------- */

static uint64_t align_up(uint64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct layout {
	uint64_t off[7], size[7], total;
} layout;
enum { S_FRAGS, S_CENT, S_CB, S_PARTS, S_ADDRS, S_CODES, S_TERMS };

/* Section sizes and offsets; false on overflow. */
static bool plan(layout *L, uint64_t nfrags, uint32_t nlist, uint32_t dim, uint32_t m,
                 uint64_t n, bool terms)
{
	uint64_t at = HDR;
	uint64_t sz[7];
	if (__builtin_mul_overflow(nfrags, 16, &sz[S_FRAGS]) ||
	    __builtin_mul_overflow((uint64_t)nlist * dim, 4, &sz[S_CENT]) ||
	    __builtin_mul_overflow((uint64_t)256 * dim, 4, &sz[S_CB]) ||
	    __builtin_mul_overflow((uint64_t)nlist + 1, 8, &sz[S_PARTS]) ||
	    __builtin_mul_overflow(n, 8, &sz[S_ADDRS]) || __builtin_mul_overflow(n, m, &sz[S_CODES]) ||
	    __builtin_mul_overflow(n, terms ? 4 : 0, &sz[S_TERMS]))
		return false;
	for (int i = 0; i < 7; i++) {
		if (i == S_TERMS && !terms) {
			L->off[i] = L->size[i] = 0;
			continue;
		}
		at = align_up(at);
		L->off[i] = at;
		L->size[i] = sz[i];
		if (__builtin_add_overflow(at, sz[i], &at) || at > (UINT64_MAX >> 2))
			return false;
	}
	L->total = at;
	return true;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint64_t checksum(const uint8_t *hdr, const void *frags, uint64_t nf, const void *cent,
                         uint64_t nc, const void *cb, uint64_t ncb, const void *parts,
                         uint64_t np)
{
	uint64_t h = tv_hash64_seed(hdr, 120, 0x1f2e3d4c5b6a7988ull);
	h = tv_hash64_seed(hdr + 128, HDR - 128, h);
	h = tv_hash64_seed(frags, nf, h);
	h = tv_hash64_seed(cent, nc, h);
	h = tv_hash64_seed(cb, ncb, h);
	return tv_hash64_seed(parts, np, h);
}

static int write_section(tv_wfile *w, uint64_t *at, uint64_t off, const void *data, size_t n,
                         tv_err *err)
{
	static const uint8_t zero[ALIGN];
	int rc;
	if (off > *at && (rc = tv_wfile_write(w, zero, (size_t)(off - *at), err)))
		return rc;
	*at = off + n;
	return n ? tv_wfile_write(w, data, n, err) : 0;
}

/* Orders the entries by partition (a stable counting sort) and fills
 * b->parts; a no-op when already done. */
static int sort_entries(tv_ivfpq_builder *b)
{
	uint64_t *parts, *next, *addrs = NULL;
	uint32_t *part = NULL;
	uint8_t *codes = NULL;
	float *terms = NULL;
	if (b->parts)
		return 0;
	parts = calloc((size_t)b->nlist + 1, sizeof *parts);
	next = tv_mallocarray((size_t)b->nlist + 1, sizeof *next);
	if (!parts || !next ||
	    (b->n && (!(addrs = tv_mallocarray(b->n, sizeof *addrs)) ||
	              !(part = tv_mallocarray(b->n, sizeof *part)) ||
	              !(codes = tv_mallocarray(b->n, b->m)) ||
	              (b->terms && !(terms = tv_mallocarray(b->n, sizeof *terms)))))) {
		free(parts);
		free(next);
		free(addrs);
		free(part);
		free(codes);
		free(terms);
		return TV_ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++)
		parts[b->part[i] + 1]++;
	for (uint32_t p = 0; p < b->nlist; p++)
		parts[p + 1] += parts[p];
	memcpy(next, parts, ((size_t)b->nlist + 1) * sizeof *next);
	for (size_t i = 0; i < b->n; i++) {
		uint64_t e = next[b->part[i]]++;
		part[e] = b->part[i];
		addrs[e] = b->addr[i];
		memcpy(codes + e * b->m, b->codes + i * b->m, b->m);
		if (terms)
			terms[e] = b->terms[i];
	}
	free(next);
	free(b->part);
	free(b->addr);
	free(b->codes);
	free(b->terms);
	b->part = part;
	b->addr = addrs;
	b->codes = codes;
	b->terms = terms;
	b->cap = b->n;
	b->parts = parts;
	return 0;
}

/* ---- query tables (search and calibration) ---------------------------- */

/* qn = q (normalized for cosine); cd[p] = the query's distance to
 * centroid p (-dot for cosine and dot); T[s][j] = <q_s, codeword j of s>. */
static void query_tables(tv_metric metric, uint32_t dim, uint32_t nlist, uint32_t m,
                         const float *centroids, const float *codebooks, const float *q,
                         float *qn, float *cd, float *T)
{
	const tv_kernels *kk = tv_vec_kernels();
	uint32_t ds = dim / m;
	memcpy(qn, q, dim * sizeof *qn);
	if (metric == TV_METRIC_COSINE)
		normalize(qn, dim);
	if (metric == TV_METRIC_L2) {
		kk->l2sq_batch(qn, centroids, nlist, dim, cd);
	} else {
		kk->dot_batch(qn, centroids, nlist, dim, cd);
		for (uint32_t p = 0; p < nlist; p++)
			cd[p] = -cd[p];
	}
	for (uint32_t s = 0; s < m; s++)
		kk->dot_batch(qn + (size_t)s * ds, codebooks + (size_t)s * 256 * ds, 256, ds,
		              T + (size_t)s * 256);
}

/* An entry of partition p scores probe_base + probe_scale * adc (+ its
 * term for l2): see the metric table in ivfpq.h. */
static inline float probe_base(tv_metric metric, float cdp)
{
	return metric == TV_METRIC_COSINE ? 1.0f + cdp : cdp;
}

static inline float probe_scale(tv_metric metric)
{
	return metric == TV_METRIC_L2 ? -2.0f : -1.0f;
}

/* sum_s T[s][code[s]], four independent chains for the out-of-order core */
static inline float adc(const float *T, const uint8_t *c, uint32_t m)
{
	float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	uint32_t s = 0;
	for (; s + 4 <= m; s += 4) {
		a0 += T[(size_t)s * 256 + c[s]];
		a1 += T[(size_t)(s + 1) * 256 + c[s + 1]];
		a2 += T[(size_t)(s + 2) * 256 + c[s + 2]];
		a3 += T[(size_t)(s + 3) * 256 + c[s + 3]];
	}
	for (; s < m; s++)
		a0 += T[(size_t)s * 256 + c[s]];
	return (a0 + a1) + (a2 + a3);
}

/* ---- recall calibration --------------------------------------------------- */

typedef struct cal_job {
	tv_ivfpq_builder *b;
	size_t ncand;   /* candidates a search re-ranks */
	uint32_t maxp;  /* partitions tried */
	uint32_t *hits; /* ncal x maxp: neighbours among the candidates after p + 1 probes */
	bool nomem;
} cal_job;

static void cal_range(void *ctx, size_t lo, size_t hi)
{
	cal_job *j = ctx;
	tv_ivfpq_builder *b = j->b;
	float *qn = tv_mallocarray(b->dim + b->nlist + (size_t)b->m * 256, sizeof *qn), *cd, *T;
	tv_topk order = {0}, cand = {0};
	if (!qn || tv_topk_init(&order, b->nlist) || tv_topk_init(&cand, j->ncand)) {
		j->nomem = true;
		goto done;
	}
	cd = qn + b->dim;
	T = cd + b->nlist;
	for (size_t q = lo; q < hi; q++) {
		const tv_topk *gt = &b->calgt[q];
		uint32_t *hits = j->hits + q * j->maxp, h = 0;
		query_tables(b->metric, b->dim, b->nlist, b->m, b->centroids, b->codebooks,
		             b->calq + q * b->dim, qn, cd, T);
		order.n = cand.n = 0;
		tv_topk_push_array(&order, cd, b->nlist, 0);
		tv_topk_sort(&order);
		for (uint32_t pi = 0; pi < j->maxp; pi++) {
			uint32_t p = (uint32_t)order.id[pi];
			float base = probe_base(b->metric, cd[p]), scale = probe_scale(b->metric);
			if (h < gt->n) {
				for (uint64_t e = b->parts[p]; e < b->parts[p + 1]; e++) {
					float d = base + scale * adc(T, b->codes + e * b->m, b->m);
					if (b->terms)
						d += b->terms[e];
					if (d < tv_topk_worst(&cand))
						tv_topk_push(&cand, d, b->addr[e]);
				}
				h = 0;
				for (size_t g = 0; g < gt->n; g++)
					for (size_t c = 0; c < cand.n; c++)
						if (cand.id[c] == gt->id[g]) {
							h++;
							break;
						}
			}
			hits[pi] = h;
		}
	}
done:
	tv_topk_free(&order);
	tv_topk_free(&cand);
	free(qn);
}

int tv_ivfpq_builder_calibrate(tv_ivfpq_builder *b, size_t ncand, tv_err *err)
{
	cal_job j = {b, TV_MAX(ncand, 1), 0, NULL, false};
	uint64_t total = 0;
	if (!b->ncal || !tv_ivfpq_builder_useful(b))
		return 0;
	for (uint32_t q = 0; q < b->ncal; q++)
		total += b->calgt[q].n;
	if (!total)
		return 0;
	if (sort_entries(b))
		return TV_ENOMEM_SET(err, "index calibration");
	j.maxp = TV_MIN(b->nlist, TV_MAX(4 * b->nprobes, 32));
	if (!(j.hits = tv_mallocarray(b->ncal, j.maxp * sizeof *j.hits)))
		return TV_ENOMEM_SET(err, "index calibration");
	tv_parallel_for(b->ncal, 4, cal_range, &j);
	if (j.nomem) {
		free(j.hits);
		return TV_ENOMEM_SET(err, "index calibration");
	}
	/* the fewest probes reaching the target; if none does (codes too
	 * coarse for the candidates re-ranked: more probes only add
	 * competitors), the fewest reaching the best recall seen */
	for (uint32_t p = 0, bestp = 0; p < j.maxp; p++) {
		uint64_t found = 0;
		for (uint32_t q = 0; q < b->ncal; q++)
			found += j.hits[(size_t)q * j.maxp + p];
		if ((double)found / (double)total > b->recall) {
			b->recall = (double)found / (double)total;
			bestp = p;
		}
		if ((double)found >= CAL_RECALL * (double)total || p + 1 == j.maxp) {
			p = (double)found >= CAL_RECALL * (double)total ? p : bestp;
			b->nprobes = TV_MAX(b->nprobes, p + 1);
			break;
		}
	}
	free(j.hits);
	drop_calibration(b);
	return 0;
}

double tv_ivfpq_builder_recall(const tv_ivfpq_builder *b) { return b->recall; }
uint32_t tv_ivfpq_builder_probes(const tv_ivfpq_builder *b) { return b->nprobes; }

int tv_ivfpq_builder_write(tv_ivfpq_builder *b, tv_io *io, const char *path,
                           uint64_t table_version, tv_err *err)
{
	uint8_t hdr[HDR] = {0};
	layout L;
	uint64_t at = HDR;
	tv_wfile *w = NULL;
	int rc;
	if (!plan(&L, b->nfrags, b->nlist, b->dim, b->m, b->n, b->terms != NULL))
		return tv_err_set(err, TV_ENOMEM, "%s: index too large", path);
	if (sort_entries(b))
		return TV_ENOMEM_SET(err, "index file");
	memcpy(hdr, MAGIC, 8);
	put32(hdr + 8, HDR);
	put32(hdr + 12, (uint32_t)b->metric);
	put32(hdr + 16, b->dim);
	put32(hdr + 20, b->nlist);
	put32(hdr + 24, b->m);
	put32(hdr + 28, 8);
	put64(hdr + 32, table_version);
	put64(hdr + 40, b->trained_rows);
	put64(hdr + 48, b->n);
	put64(hdr + 56, b->nfrags);
	for (int i = 0; i < 7; i++)
		put64(hdr + 64 + 8 * i, L.off[i]);
	put32(hdr + 128, b->nprobes);
	put64(hdr + 120, checksum(hdr, b->frags, L.size[S_FRAGS], b->centroids, L.size[S_CENT],
	                          b->codebooks, L.size[S_CB], b->parts, L.size[S_PARTS]));
	if ((rc = tv_io_open_write(io, path, &w, err)))
		return rc;
	if ((rc = tv_wfile_write(w, hdr, HDR, err)) ||
	    (rc = write_section(w, &at, L.off[S_FRAGS], b->frags, L.size[S_FRAGS], err)) ||
	    (rc = write_section(w, &at, L.off[S_CENT], b->centroids, L.size[S_CENT], err)) ||
	    (rc = write_section(w, &at, L.off[S_CB], b->codebooks, L.size[S_CB], err)) ||
	    (rc = write_section(w, &at, L.off[S_PARTS], b->parts, L.size[S_PARTS], err)) ||
	    (rc = write_section(w, &at, L.off[S_ADDRS], b->addr, L.size[S_ADDRS], err)) ||
	    (rc = write_section(w, &at, L.off[S_CODES], b->codes, L.size[S_CODES], err)) ||
	    (b->terms && (rc = write_section(w, &at, L.off[S_TERMS], b->terms, L.size[S_TERMS], err)))) {
		tv_wfile_abort(w);
		return rc;
	}
	return tv_wfile_commit(w, TV_IO_PUT_IF_ABSENT, err);
}

void tv_ivfpq_close(tv_ivfpq *ix)
{
	if (!ix)
		return;
	tv_rfile_close(ix->rf);
	free(ix->buf);
	free(ix->path);
	free(ix);
}

static int corrupt(tv_ivfpq *ix, tv_err *err, const char *what)
{
	int rc = tv_err_set(err, TV_ECORRUPT,
	                    "%s: corrupt vector index (%s); `teavec optimize` rebuilds it", ix->path,
	                    what);
	tv_ivfpq_close(ix);
	return rc;
}

/* Checks the header fields and the small sections (see the file comment). */
static int validate(tv_ivfpq *ix, const uint8_t *base, uint64_t size, tv_err *err)
{
	const uint8_t *h = base;
	layout L;
	uint32_t bits;
	if (memcmp(h, MAGIC, 8) || get32(h + 8) != HDR)
		return corrupt(ix, err, "not a teavec IVF_PQ index file");
	ix->metric = (tv_metric)get32(h + 12);
	ix->dim = get32(h + 16);
	ix->nlist = get32(h + 20);
	ix->m = get32(h + 24);
	bits = get32(h + 28);
	ix->table_version = get64(h + 32);
	ix->trained_rows = get64(h + 40);
	ix->nentries = get64(h + 48);
	ix->nfrags = get64(h + 56);
	ix->nprobes = get32(h + 128);
	if (get32(h + 12) > 2 || bits != 8 || !ix->dim || ix->dim > 65536 || !ix->nlist ||
	    ix->nlist > 1u << 20 || !ix->m || ix->dim % ix->m || ix->nentries > size ||
	    ix->nfrags > size)
		return corrupt(ix, err, "bad header");
	ix->dsub = ix->dim / ix->m;
	if (!plan(&L, ix->nfrags, ix->nlist, ix->dim, ix->m, ix->nentries,
	          ix->metric == TV_METRIC_L2) ||
	    L.total > size)
		return corrupt(ix, err, "truncated");
	for (int i = 0; i < 7; i++)
		if (get64(h + 64 + 8 * i) != L.off[i])
			return corrupt(ix, err, "bad section offsets");
	ix->frags = (const uint64_t *)(base + L.off[S_FRAGS]);
	ix->centroids = (const float *)(base + L.off[S_CENT]);
	ix->codebooks = (const float *)(base + L.off[S_CB]);
	ix->parts = (const uint64_t *)(base + L.off[S_PARTS]);
	ix->addrs = (const uint64_t *)(base + L.off[S_ADDRS]);
	ix->codes = base + L.off[S_CODES];
	ix->terms = L.off[S_TERMS] ? (const float *)(base + L.off[S_TERMS]) : NULL;
	if (get64(h + 120) != checksum(h, ix->frags, L.size[S_FRAGS], ix->centroids,
	                               L.size[S_CENT], ix->codebooks, L.size[S_CB], ix->parts,
	                               L.size[S_PARTS]))
		return corrupt(ix, err, "checksum mismatch");
	if (ix->parts[0] != 0 || ix->parts[ix->nlist] != ix->nentries)
		return corrupt(ix, err, "bad partition table");
	for (uint32_t p = 0; p < ix->nlist; p++)
		if (ix->parts[p] > ix->parts[p + 1])
			return corrupt(ix, err, "bad partition table");
	for (uint64_t i = 1; i < ix->nfrags; i++)
		if (ix->frags[2 * i] <= ix->frags[2 * (i - 1)])
			return corrupt(ix, err, "fragments out of order");
	return 0;
}

int tv_ivfpq_open(tv_ivfpq **out, tv_io *io, const char *path, tv_err *err)
{
	tv_ivfpq *ix = calloc(1, sizeof *ix);
	const uint8_t *base;
	int rc;
	*out = NULL;
	if (!ix || !(ix->path = tv_sprintf("%s/%s", io->root, path))) {
		free(ix);
		return TV_ENOMEM_SET(err, "index");
	}
	if ((rc = tv_io_open_read(io, path, &ix->rf, err))) {
		tv_ivfpq_close(ix);
		return rc;
	}
	if (ix->rf->size < HDR)
		return corrupt(ix, err, "truncated");
	if (ix->rf->map && ((uintptr_t)ix->rf->map % 8) == 0) {
		base = ix->rf->map;
	} else { /* object storage: the whole file (it is compact: m bytes a row) */
		if (ix->rf->size > SIZE_MAX || !(ix->buf = malloc(ix->rf->size))) {
			tv_ivfpq_close(ix);
			return TV_ENOMEM_SET(err, "index");
		}
		if ((rc = tv_rfile_read(ix->rf, 0, ix->rf->size, ix->buf, err))) {
			tv_ivfpq_close(ix);
			return rc;
		}
		base = ix->buf;
	}
	if ((rc = validate(ix, base, ix->rf->size, err)))
		return rc;
	*out = ix;
	return 0;
}

long tv_ivfpq_find_frag(const tv_ivfpq *ix, uint64_t frag_id)
{
	size_t lo = 0, hi = ix->nfrags;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ix->frags[2 * mid] < frag_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->nfrags && ix->frags[2 * lo] == frag_id ? (long)lo : -1;
}

/* ---- search ------------------------------------------------------------ */

int tv_ivfpq_search(const tv_ivfpq *ix, const float *q, size_t nprobes, bool filtered,
                    tv_topk *cand, bool (*accept)(void *ctx, uint64_t addr), void *ctx,
                    tv_err *err)
{
	size_t dim = ix->dim, limit, seen = 0, kept = 0;
	float *qn = tv_mallocarray(dim + ix->nlist + (size_t)ix->m * 256, sizeof *qn);
	float *cd, *T;
	tv_topk probe;
	if (!qn)
		return TV_ENOMEM_SET(err, "search");
	cd = qn + dim;
	T = cd + ix->nlist;
	query_tables(ix->metric, (uint32_t)dim, ix->nlist, ix->m, ix->centroids, ix->codebooks, q, qn,
	             cd, T);
	nprobes = TV_MAX(1, TV_MIN(nprobes, ix->nlist));
	limit = filtered ? SIZE_MAX : nprobes;
	if (tv_topk_init(&probe, filtered ? ix->nlist : nprobes)) {
		free(qn);
		return TV_ENOMEM_SET(err, "search");
	}
	tv_topk_push_array(&probe, cd, ix->nlist, 0);
	tv_topk_sort(&probe);
	for (size_t pi = 0; pi < probe.n && pi < limit; pi++) {
		uint32_t p = (uint32_t)probe.id[pi];
		float base = probe_base(ix->metric, cd[p]), scale = probe_scale(ix->metric);
		for (uint64_t e = ix->parts[p]; e < ix->parts[p + 1]; e++) {
			float d = base + scale * adc(T, ix->codes + e * ix->m, ix->m);
			if (ix->terms)
				d += ix->terms[e];
			if (seen < 1024) { /* measuring how many rows accept() keeps */
				bool ok = accept(ctx, ix->addrs[e]);
				seen++;
				kept += ok;
				if (ok && d < tv_topk_worst(cand))
					tv_topk_push(cand, d, ix->addrs[e]);
			} else if (d < tv_topk_worst(cand) && accept(ctx, ix->addrs[e])) {
				tv_topk_push(cand, d, ix->addrs[e]);
			}
		}
		if (filtered && seen >= 1024 && limit == SIZE_MAX) {
			/* a filter keeping a fraction f of the rows: probe 1/f times
			 * as many partitions, so as many passing rows are weighed */
			double f = kept ? (double)kept / (double)seen : 1.0 / 1024;
			limit = (size_t)TV_MIN((double)ix->nlist, ceil((double)nprobes / f));
		}
	}
	tv_topk_free(&probe);
	free(qn);
	return 0;
}
