/*
 * bench_store: teavec's lancedb store on clustered data, workload by
 * workload, through the public API only. bench/run.sh runs it and the
 * LanceDB driver (bench/lancedb_driver.mjs) on the same files.
 *
 *   bench_store DATA_DIR DB_DIR [--n ROWS] [--dim D] [--queries Q] [--gen-only]
 *
 * Writes DATA_DIR/base.fvecs, DATA_DIR/queries.fvecs (standard fvecs:
 * i32 dim then dim float32 per vector) if missing: 1,000 Gaussian centres,
 * point = centre + noise, normalised, seeded. Row i has id "id<i>", text
 * "text <i>", path "src/p<i % 100>.md" (1% each), metadata {"cat": "c<i%10>"}.
 * Prints one JSON object.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "teavec.h"
#include "util/common.h"

static uint64_t rng = 12345;
static size_t nbase = 1; /* rows in base.fvecs: "new" upsert rows reuse their vectors */
static FILE *basef;      /* base vectors are read per batch: RSS is the store's own */
static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static void normalize(float *v, size_t d)
{
	double s = 0;
	for (size_t i = 0; i < d; i++)
		s += (double)v[i] * v[i];
	s = s > 0 ? 1.0 / sqrt(s) : 0;
	for (size_t i = 0; i < d; i++)
		v[i] = (float)(v[i] * s);
}

static int write_fvecs(const char *path, const float *v, size_t n, size_t d)
{
	FILE *f = fopen(path, "wb");
	int32_t dd = (int32_t)d;
	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++) {
		fwrite(&dd, 4, 1, f);
		fwrite(v + i * d, 4, d, f);
	}
	return fclose(f);
}

static float *read_fvecs(const char *path, size_t *n, size_t d)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	float *v;
	if (!f || fstat(fileno(f), &st))
		return NULL;
	*n = (size_t)st.st_size / (4 * (d + 1));
	v = malloc(*n * d * sizeof *v);
	for (size_t i = 0; i < *n; i++) {
		int32_t dd;
		if (fread(&dd, 4, 1, f) != 1 || (size_t)dd != d || fread(v + i * d, 4, d, f) != d) {
			fclose(f);
			free(v);
			return NULL;
		}
	}
	fclose(f);
	return v;
}

static void gen(const char *dir, size_t n, size_t nq, size_t d)
{
	float *c = malloc(1000 * d * sizeof *c), *b = malloc(n * d * sizeof *b),
	      *q = malloc(nq * d * sizeof *q);
	char path[4096];
	for (size_t i = 0; i < 1000 * d; i++)
		c[i] = gauss();
	for (size_t i = 0; i < n + nq; i++) {
		float *v = i < n ? b + i * d : q + (i - n) * d;
		size_t k = (size_t)(urand() * 1000) % 1000;
		for (size_t j = 0; j < d; j++)
			v[j] = c[k * d + j] + 0.35f * gauss();
		normalize(v, d);
	}
	mkdir(dir, 0777); /* the parent must exist (bench/run.sh makes it) */
	snprintf(path, sizeof path, "%s/base.fvecs", dir);
	write_fvecs(path, b, n, d);
	snprintf(path, sizeof path, "%s/queries.fvecs", dir);
	write_fvecs(path, q, nq, d);
	free(c);
	free(b);
	free(q);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static tv_store *open_db(const char *db)
{
	char *s = tv_sprintf("{\"lancedb_path\": \"%s\"}", db);
	tv_store *st = NULL;
	if (tv_store_open(&st, "lancedb", s)) {
		fprintf(stderr, "bench_store: %s\n", tv_last_errmsg());
		exit(1);
	}
	free(s);
	return st;
}

/* A batch of rows from..from+n-1 (vectors read from base.fvecs, wrapping). */
typedef struct batch {
	tv_record *r;
	float *vec;
	char (*ids)[24], (*txt)[32], (*pth)[24], (*meta)[32];
	size_t n;
} batch;

static int prep(batch *b, size_t from, size_t n, size_t d, int round)
{
	float *raw = malloc(n * (d + 1) * 4);
	b->n = n;
	b->r = calloc(n, sizeof *b->r);
	b->vec = malloc(n * d * sizeof *b->vec);
	b->ids = calloc(n, 24);
	b->txt = calloc(n, 32);
	b->pth = calloc(n, 24);
	b->meta = calloc(n, 32);
	for (size_t i = 0; i < n;) { /* contiguous runs of the file */
		size_t k = (from + i) % nbase, run = TV_MIN(n - i, nbase - k);
		if (fseeko(basef, (off_t)(k * (d + 1) * 4), SEEK_SET) ||
		    fread(raw, (d + 1) * 4, run, basef) != run) {
			free(raw);
			return -1;
		}
		for (size_t j = 0; j < run; j++)
			memcpy(b->vec + (i + j) * d, raw + j * (d + 1) + 1, d * 4);
		i += run;
	}
	free(raw);
	for (size_t i = 0; i < n; i++) {
		size_t k = from + i;
		snprintf(b->ids[i], 24, "id%zu", k);
		snprintf(b->txt[i], 32, "text %zu r%d", k, round);
		snprintf(b->pth[i], 24, "src/p%zu.md", k % 100);
		snprintf(b->meta[i], 32, "{\"cat\": \"c%zu\"}", k % 10);
		b->r[i] = (tv_record){b->ids[i], b->txt[i], b->pth[i], b->meta[i], b->vec + i * d};
	}
	return 0;
}

static void batch_free(batch *b)
{
	free(b->r);
	free(b->vec);
	free(b->ids);
	free(b->txt);
	free(b->pth);
	free(b->meta);
}

/* Adds a batch; returns the seconds tv_store_add took, or -1. */
static double add_rows(tv_store *s, size_t from, size_t n, size_t d, int round)
{
	batch b;
	double t;
	int rc;
	if (prep(&b, from, n, d, round))
		return -1;
	t = tv_monotonic_s();
	rc = tv_store_add(s, "bench", b.r, n, d, NULL);
	t = tv_monotonic_s() - t;
	if (rc)
		fprintf(stderr, "bench_store: %s\n", tv_store_errmsg(s));
	batch_free(&b);
	return rc ? -1 : t;
}

static double query_ms(tv_store *s, const float *q, size_t d, const char *where, size_t *nres)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	double t = tv_monotonic_s();
	qq.vector = q;
	qq.dim = d;
	qq.k = 10;
	qq.collection = "bench";
	qq.where = where;
	qq.exact = 1; /* the exact workloads; bench/ivf.sh measures the index */
	if (tv_store_query(s, &qq, &r)) {
		fprintf(stderr, "bench_store: %s\n", tv_store_errmsg(s));
		exit(1);
	}
	t = (tv_monotonic_s() - t) * 1e3;
	if (nres)
		*nres = r->n;
	tv_results_free(r);
	return t;
}

static void pct(double *v, size_t n, double *p50, double *p99)
{
	qsort(v, n, sizeof *v, cmpd);
	*p50 = v[n / 2];
	*p99 = v[n * 99 / 100];
}

static long du(const char *dir)
{
	char cmd[4200];
	long kb = 0;
	FILE *p;
	snprintf(cmd, sizeof cmd, "du -sb '%s' 2>/dev/null", dir);
	if ((p = popen(cmd, "r"))) {
		if (fscanf(p, "%ld", &kb) != 1)
			kb = 0;
		pclose(p);
	}
	return kb;
}

int main(int argc, char **argv)
{
	size_t n = 100000, d = 384, nq = 200, nb, nqq;
	const char *data, *db;
	char path[4096];
	float *qs;
	int c;
	static const struct option opts[] = {{"n", 1, NULL, 'n'}, {"dim", 1, NULL, 'd'},
	                                     {"queries", 1, NULL, 'q'}, {"cold", 1, NULL, 'c'},
	                                     {"gen-only", 0, NULL, 'g'}, {NULL, 0, NULL, 0}};
	int gen_only = 0;
	const char *cold = NULL;
	while ((c = getopt_long(argc, argv, "n:d:q:c:", opts, NULL)) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 'd')
			d = strtoul(optarg, NULL, 10);
		else if (c == 'q')
			nq = strtoul(optarg, NULL, 10);
		else if (c == 'c')
			cold = optarg;
		else if (c == 'g')
			gen_only = 1;
		else
			return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: bench_store DATA_DIR DB_DIR [--n N] [--dim D] [--queries Q]\n");
		return 2;
	}
	data = argv[optind];
	db = argv[optind + 1];
	snprintf(path, sizeof path, "%s/queries.fvecs", data);
	if (cold) { /* a fresh process: open the table and answer one query */
		tv_store *s;
		if (!(qs = read_fvecs(path, &nqq, d)))
			return 1;
		s = open_db(db);
		query_ms(s, qs + (size_t)atoi(cold) * d, d, NULL, NULL);
		tv_store_close(s);
		free(qs);
		return 0;
	}
	snprintf(path, sizeof path, "%s/base.fvecs", data);
	if (access(path, R_OK))
		gen(data, n, nq, d);
	if (gen_only)
		return 0;
	{
		struct stat st;
		if (!(basef = fopen(path, "rb")) || fstat(fileno(basef), &st)) {
			fprintf(stderr, "bench_store: cannot read %s\n", path);
			return 1;
		}
		nb = (size_t)st.st_size / (4 * (d + 1));
	}
	if (nb == 0) {
		fprintf(stderr, "bench_store: cannot read %s (dimension %zu?)\n", path, d);
		return 1;
	}
	snprintf(path, sizeof path, "%s/queries.fvecs", data);
	qs = read_fvecs(path, &nqq, d);
	nbase = nb;
	{
		tv_store *s;
		double t0, ingest, lat[1000], p50, p99, fp50, fp99, mp50, mp99, up[5], cold_ms[5];
		size_t nres = 0, fres = 0;
		struct rusage ru;
		char rmcmd[4200];
		snprintf(rmcmd, sizeof rmcmd, "rm -rf '%s'", db);
		if (system(rmcmd)) { /* best effort */ }
		s = open_db(db);
		ingest = 0;
		for (size_t i = 0; i < nb; i += 10000) {
			double t = add_rows(s, i, TV_MIN((size_t)10000, nb - i), d, 0);
			if (t < 0)
				return 1;
			ingest += t;
		}
		ingest = (double)nb / ingest;
		getrusage(RUSAGE_SELF, &ru);
		nq = TV_MIN(TV_MIN(nqq, nq), (size_t)1000);
		for (size_t i = 0; i < nq; i++)
			lat[i] = query_ms(s, qs + i * d, d, NULL, &nres);
		pct(lat, nq, &p50, &p99);
		for (size_t i = 0; i < nq; i++)
			lat[i] = query_ms(s, qs + i * d, d, "path = 'src/p17.md'", &fres);
		pct(lat, nq, &fp50, &fp99);
		for (size_t i = 0; i < nq; i++)
			lat[i] = query_ms(s, qs + i * d, d, "metadata.cat = 'c3'", NULL);
		pct(lat, nq, &mp50, &mp99);
		for (int r = 0; r < 5; r++) { /* 1,000 rows: 500 existing, 500 new */
			double t = add_rows(s, nb - 500 + (size_t)r * 1000, 1000, d, r + 1);
			if (t < 0)
				return 1;
			up[r] = t * 1e3;
		}
		tv_store_close(s);
		for (int r = 0; r < 5; r++) {
			char arg[16], dims[16];
			pid_t pid;
			snprintf(arg, sizeof arg, "%d", r);
			snprintf(dims, sizeof dims, "%zu", d);
			t0 = tv_monotonic_s();
			if ((pid = fork()) == 0) {
				execl("/proc/self/exe", argv[0], "--cold", arg, "--dim", dims, data, db,
				      (char *)NULL);
				_exit(127);
			}
			waitpid(pid, NULL, 0);
			cold_ms[r] = (tv_monotonic_s() - t0) * 1e3;
		}
		qsort(cold_ms, 5, sizeof *cold_ms, cmpd);
		printf("{\"system\": \"teavec\", \"rows\": %zu, \"dim\": %zu, \"metric\": \"cosine\", "
		       "\"ingest_rows_per_s\": %.0f, \"peak_rss_mb\": %.1f, "
		       "\"exact_p50_ms\": %.2f, \"exact_p99_ms\": %.2f, "
		       "\"path_filter_1pct_p50_ms\": %.2f, \"path_filter_1pct_p99_ms\": %.2f, "
		       "\"meta_filter_10pct_p50_ms\": %.2f, \"meta_filter_10pct_p99_ms\": %.2f, "
		       "\"upsert_1000_ms\": [%.1f, %.1f, %.1f, %.1f, %.1f], \"cold_start_ms\": %.1f, "
		       "\"disk_bytes\": %ld, \"results\": %zu, \"filtered_results\": %zu}\n",
		       nb, d, ingest, ru.ru_maxrss / 1024.0, p50, p99, fp50, fp99, mp50, mp99, up[0], up[1],
		       up[2], up[3], up[4], cold_ms[2], du(db), nres, fres);
	}
	fclose(basef);
	free(qs);
	return 0;
}
