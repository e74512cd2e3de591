/*
 * bench_ivf: teavec's IVF_PQ index through the public API, on fvecs files.
 * bench/ivf.sh runs it and the LanceDB driver (bench/lancedb_ivf.mjs) on
 * the same files.
 *
 *   bench_ivf DATA_DIR DB_DIR --dim D [--metric cosine|l2|dot] [--queries Q]
 *
 * DATA_DIR holds base.fvecs and queries.fvecs; gt.ivecs (exact top-10 row
 * numbers per query, by our exact search) is computed and written there
 * if missing. Ingests all rows (batches of 10,000, automatic indexing off
 * so that the build is timed alone), builds the index (tv_store_reindex),
 * then runs Q queries with k = 10 single-threaded, with the automatic
 * settings and with a sweep of nprobes. Prints one JSON object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "teavec.h"
#include "util/common.h"

static size_t dim;
static const char *metric = "cosine";

static float *read_fvecs(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	float *v;
	if (!f || fstat(fileno(f), &st)) {
		fprintf(stderr, "bench_ivf: cannot read %s\n", path);
		exit(1);
	}
	*n = (size_t)st.st_size / (4 * (dim + 1));
	v = malloc(*n * dim * sizeof *v);
	for (size_t i = 0; i < *n; i++) {
		int32_t dd;
		if (fread(&dd, 4, 1, f) != 1 || (size_t)dd != dim || fread(v + i * dim, 4, dim, f) != dim) {
			fprintf(stderr, "bench_ivf: %s: not %zu-dimensional fvecs\n", path, dim);
			exit(1);
		}
	}
	fclose(f);
	return v;
}

static tv_store *open_db(const char *db)
{
	char *s = tv_sprintf("{\"lancedb_path\": \"%s\", \"metric\": \"%s\", \"auto_index\": false}",
	                     db, metric);
	tv_store *st = NULL;
	if (tv_store_open(&st, "lancedb", s)) {
		fprintf(stderr, "bench_ivf: %s\n", tv_last_errmsg());
		exit(1);
	}
	free(s);
	return st;
}

static void die(tv_store *s)
{
	fprintf(stderr, "bench_ivf: %s\n", tv_store_errmsg(s));
	exit(1);
}

static void ingest(tv_store *s, const float *base, size_t n)
{
	size_t b = 10000;
	tv_record *r = calloc(b, sizeof *r);
	char(*ids)[24] = calloc(b, 24);
	for (size_t i0 = 0; i0 < n; i0 += b) {
		size_t m = TV_MIN(b, n - i0);
		for (size_t i = 0; i < m; i++) {
			snprintf(ids[i], 24, "id%zu", i0 + i);
			r[i] = (tv_record){ids[i], "", NULL, NULL, base + (i0 + i) * dim};
		}
		if (tv_store_add(s, "bench", r, m, dim, NULL))
			die(s);
	}
	free(r);
	free(ids);
}

/* One query: ms, and the row numbers of the top 10 into got. */
static double query(tv_store *s, const float *q, int exact, int nprobes, int refine, int *got)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	double t = tv_monotonic_s();
	qq.vector = q;
	qq.dim = dim;
	qq.k = 10;
	qq.collection = "bench";
	qq.exact = exact;
	qq.nprobes = nprobes;
	qq.refine_factor = refine;
	if (tv_store_query(s, &qq, &r))
		die(s);
	t = (tv_monotonic_s() - t) * 1e3;
	for (int i = 0; i < 10; i++)
		got[i] = i < (int)r->n ? atoi(r->items[i].id + 2) : -1;
	tv_results_free(r);
	return t;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct run {
	double p50, p99, recall;
} run;

static run run_queries(tv_store *s, const float *qs, size_t nq, const int *gt, int exact,
                       int nprobes, int refine)
{
	double *lat = malloc(nq * sizeof *lat);
	size_t hit = 0;
	run r;
	for (size_t i = 0; i < nq; i++) {
		int got[10];
		lat[i] = query(s, qs + i * dim, exact, nprobes, refine, got);
		for (int a = 0; a < 10; a++)
			for (int b = 0; b < 10; b++)
				hit += got[a] >= 0 && got[a] == gt[i * 10 + b];
	}
	qsort(lat, nq, sizeof *lat, cmpd);
	r.p50 = lat[nq / 2];
	r.p99 = lat[nq * 99 / 100];
	r.recall = (double)hit / (double)(nq * 10);
	free(lat);
	return r;
}

/* gt.ivecs: exact top-10 row numbers of each query (our exact search). */
static int *ground_truth(tv_store *s, const char *data, const float *qs, size_t nq)
{
	char path[4096];
	int *gt = malloc(nq * 10 * sizeof *gt);
	FILE *f;
	snprintf(path, sizeof path, "%s/gt.ivecs", data);
	if ((f = fopen(path, "rb"))) {
		size_t i = 0;
		for (; i < nq; i++) {
			int32_t k;
			if (fread(&k, 4, 1, f) != 1 || k != 10 || fread(gt + i * 10, 4, 10, f) != 10)
				break;
		}
		fclose(f);
		if (i == nq)
			return gt;
	}
	fprintf(stderr, "bench_ivf: computing exact ground truth for %zu queries\n", nq);
	for (size_t i = 0; i < nq; i++)
		query(s, qs + i * dim, 1, 0, 0, gt + i * 10);
	if ((f = fopen(path, "wb"))) {
		int32_t k = 10;
		for (size_t i = 0; i < nq; i++) {
			fwrite(&k, 4, 1, f);
			fwrite(gt + i * 10, 4, 10, f);
		}
		fclose(f);
	}
	return gt;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dim", 1, NULL, 'd'}, {"queries", 1, NULL, 'q'},
	                                     {"metric", 1, NULL, 'm'}, {NULL, 0, NULL, 0}};
	size_t nq = 1000, nb, nqq;
	float *base, *qs;
	char path[4096], *stats = NULL;
	int c, *gt;
	double t, build;
	tv_store *s;
	run def, ex, sweep[6];
	static const int probes[6] = {4, 8, 16, 32, 64, 128};
	while ((c = getopt_long(argc, argv, "d:q:m:", opts, NULL)) != -1) {
		if (c == 'd')
			dim = strtoul(optarg, NULL, 10);
		else if (c == 'q')
			nq = strtoul(optarg, NULL, 10);
		else if (c == 'm')
			metric = optarg;
		else
			return 2;
	}
	if (argc - optind != 2 || !dim) {
		fprintf(stderr, "usage: bench_ivf DATA_DIR DB_DIR --dim D [--metric M] [--queries Q]\n");
		return 2;
	}
	snprintf(path, sizeof path, "%s/base.fvecs", argv[optind]);
	base = read_fvecs(path, &nb);
	snprintf(path, sizeof path, "%s/queries.fvecs", argv[optind]);
	qs = read_fvecs(path, &nqq);
	nq = TV_MIN(nq, nqq);
	snprintf(path, sizeof path, "rm -rf '%s'", argv[optind + 1]);
	if (system(path)) { /* best effort */ }
	s = open_db(argv[optind + 1]);
	ingest(s, base, nb);
	gt = ground_truth(s, argv[optind], qs, nq);
	t = tv_monotonic_s();
	if (tv_store_reindex(s, "bench"))
		die(s);
	build = tv_monotonic_s() - t;
	if (tv_store_stats(s, "bench", &stats))
		die(s);
	ex = run_queries(s, qs, nq, gt, 1, 0, 0);
	def = run_queries(s, qs, nq, gt, 0, 0, 0);
	for (int i = 0; i < 6; i++)
		sweep[i] = run_queries(s, qs, nq, gt, 0, probes[i], 0);
	printf("{\"system\": \"teavec\", \"rows\": %zu, \"dim\": %zu, \"metric\": \"%s\", "
	       "\"queries\": %zu, \"build_s\": %.2f, \"exact_p50_ms\": %.3f, "
	       "\"default_p50_ms\": %.3f, \"default_p99_ms\": %.3f, \"default_recall\": %.4f, "
	       "\"stats\": %s, \"sweep\": [",
	       nb, dim, metric, nq, build, ex.p50, def.p50, def.p99, def.recall, stats);
	for (int i = 0; i < 6; i++)
		printf("%s{\"nprobes\": %d, \"p50_ms\": %.3f, \"recall\": %.4f}", i ? ", " : "", probes[i],
		       sweep[i].p50, sweep[i].recall);
	printf("]}\n");
	free(stats);
	tv_store_close(s);
	free(base);
	free(qs);
	free(gt);
	return 0;
}
