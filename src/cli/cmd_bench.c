/*
 * teavec bench: the benchmark workloads on anyone's fvecs files, through
 * the public API only (bench/run.sh runs it beside LanceDB on the same
 * files).
 *
 * Row i of the base file becomes id "id<i>", text "text <i>", path
 * "src/p<i % 100>.md" (each value 1% of the rows) and metadata
 * {"cat": "c<i % 10>", "half": <i % 2>} (10% and 50%). Workloads: ingest in
 * batches of 10,000 (automatic indexing off, so that ingest is measured
 * alone; peak RSS), the vector index build, Q single-threaded top-k
 * queries exact and through the index (p50, p99, recall@k against the
 * ground truth), the same filtered at 1%, 10% and 50% (recall against the
 * exact filtered answer), upserts of 1,000 rows (half new) x 5, cold start
 * (a fresh process opens the database and answers one query, median of
 * 5), bytes on disk. The ground truth (exact top-k row numbers, .ivecs)
 * is read from --gt when it holds enough queries, else computed by exact
 * search and written there; the filtered ones go beside it as
 * <gt>-path.ivecs, -cat, -half.
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

#include "cli/cli.h"
#include "teavec.h"
#include "util/common.h"

#define COLL "bench"

typedef struct bopts {
	const char *base, *queries, *gt, *db, *metric;
	int k, nq, json;
	long nprobes, refine, partitions, sub_vectors; /* 0 = automatic */
	long cold; /* >= 0: the cold-start child, answering query #cold */
} bopts;

typedef struct fvecs {
	FILE *f;
	size_t n, dim;
} fvecs;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: teavec bench --base F.fvecs --queries F.fvecs [--gt F.ivecs] [--metric "
	        "cosine|l2|dot]\n"
	        "                    [-k 10] [--nq 1000] [--db DIR] [--json]\n"
	        "Runs the benchmark workloads on fvecs files (int32 dim, then dim float32, per "
	        "vector):\n"
	        "ingest (batches of 10,000), index build, exact and indexed top-k queries (p50, p99,\n"
	        "recall@k), filtered queries at 1%%, 10%%, 50%%, upserts of 1,000 rows, cold start "
	        "and bytes\non disk. Exact ground truth is read from --gt, or computed and written "
	        "there.\n"
	        "  --db DIR     database to create (default: a temporary directory, removed after)\n"
	        "  --nprobes N, --refine N, --partitions N, --sub-vectors M\n"
	        "               index settings instead of the automatic ones\n");
}

static int open_fvecs(fvecs *v, const char *path)
{
	struct stat st;
	int32_t d;
	if (!(v->f = fopen(path, "rb")) || fstat(fileno(v->f), &st) || fread(&d, 4, 1, v->f) != 1 ||
	    d < 1 || d > 65536 || st.st_size % (4 * ((off_t)d + 1))) {
		fprintf(stderr, "teavec bench: %s: not an fvecs file\n", path);
		if (v->f)
			fclose(v->f);
		v->f = NULL;
		return -1;
	}
	v->dim = (size_t)d;
	v->n = (size_t)st.st_size / (4 * (v->dim + 1));
	return 0;
}

/* Rows [from, from + n) into out (n x dim). */
static int read_rows(fvecs *v, size_t from, size_t n, float *out)
{
	float *raw = malloc(n * (v->dim + 1) * 4);
	int rc = 0;
	if (!raw || fseeko(v->f, (off_t)(from * (v->dim + 1) * 4), SEEK_SET) ||
	    fread(raw, (v->dim + 1) * 4, n, v->f) != n)
		rc = -1;
	for (size_t i = 0; !rc && i < n; i++)
		memcpy(out + i * v->dim, raw + i * (v->dim + 1) + 1, v->dim * 4);
	free(raw);
	return rc;
}

static tv_store *open_db(const char *db, const bopts *o)
{
	char *st = tv_sprintf("{\"lancedb_path\": \"%s\", \"metric\": \"%s\", \"index_partitions\": %ld, "
	                      "\"index_sub_vectors\": %ld}",
	                      db, o->metric, o->partitions, o->sub_vectors);
	tv_store *s = NULL;
	if (!st || tv_store_open(&s, "lancedb", st))
		fprintf(stderr, "teavec bench: %s\n", tv_last_errmsg());
	free(st);
	return s;
}

/* Upserts rows [from, from + n) of the base file (row numbers wrap). */
static int add_rows(tv_store *s, fvecs *v, size_t from, size_t n, int round, double *secs)
{
	tv_record *r = calloc(n, sizeof *r);
	float *vec = malloc(n * v->dim * sizeof *vec);
	char(*ids)[24] = calloc(n, 24), (*txt)[32] = calloc(n, 32), (*pth)[24] = calloc(n, 24),
	(*meta)[40] = calloc(n, 40);
	int rc = -1;
	double t;
	if (!r || !vec || !ids || !txt || !pth || !meta)
		goto done;
	for (size_t i = 0; i < n;) {
		size_t at = (from + i) % v->n, run = TV_MIN(n - i, v->n - at);
		if (read_rows(v, at, run, vec + i * v->dim))
			goto done;
		i += run;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = from + i;
		snprintf(ids[i], 24, "id%zu", k);
		snprintf(txt[i], 32, "text %zu r%d", k, round);
		snprintf(pth[i], 24, "src/p%zu.md", k % 100);
		snprintf(meta[i], 40, "{\"cat\": \"c%zu\", \"half\": %zu}", k % 10, k % 2);
		r[i] = (tv_record){ids[i], txt[i], pth[i], meta[i], vec + i * v->dim};
	}
	t = tv_monotonic_s();
	rc = tv_store_add(s, COLL, r, n, v->dim, NULL);
	*secs = tv_monotonic_s() - t;
	if (rc)
		fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
done:
	free(r);
	free(vec);
	free(ids);
	free(txt);
	free(pth);
	free(meta);
	return rc;
}

/* One query; its ms, and the row numbers of the results into got (k). */
static long g_nprobes, g_refine; /* --nprobes, --refine */

static double query(tv_store *s, const float *q, size_t dim, int k, int exact, const char *where,
                    int *got, int *failed)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	double t = tv_monotonic_s();
	qq.vector = q;
	qq.dim = dim;
	qq.k = k;
	qq.collection = COLL;
	qq.exact = exact;
	qq.where = where;
	qq.nprobes = (int)g_nprobes;
	qq.refine_factor = (int)g_refine;
	if (tv_store_query(s, &qq, &r)) {
		fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
		*failed = 1;
		return 0;
	}
	t = (tv_monotonic_s() - t) * 1e3;
	for (int i = 0; got && i < k; i++)
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

/* nq queries; recall against gt (k per query, -1 = none) when given. */
static run run_queries(tv_store *s, const float *qs, size_t dim, int nq, int k, int exact,
                       const char *where, const int *gt, int *failed)
{
	double *lat = malloc((size_t)nq * sizeof *lat);
	int *got = malloc((size_t)k * sizeof *got);
	size_t hit = 0, want = 0;
	run r = {0, 0, 1};
	for (int i = 0; lat && got && i < nq && !*failed; i++) {
		lat[i] = query(s, qs + (size_t)i * dim, dim, k, exact, where, got, failed);
		for (int a = 0; gt && a < k; a++) {
			if (gt[i * k + a] < 0)
				continue;
			want++;
			for (int b = 0; b < k; b++)
				hit += got[b] == gt[i * k + a];
		}
	}
	if (lat && nq > 0 && !*failed) {
		qsort(lat, (size_t)nq, sizeof *lat, cmpd);
		r.p50 = lat[nq / 2];
		r.p99 = lat[(size_t)nq * 99 / 100];
		r.recall = want ? (double)hit / (double)want : 1.0;
	}
	free(lat);
	free(got);
	return r;
}

/* The exact answers (row numbers) of nq queries: read from path when it
 * holds them, else computed and written there (path may be NULL). */
static int *ground_truth(tv_store *s, const char *path, const float *qs, size_t dim, int nq,
                         int k, const char *where, int *failed)
{
	int *gt = malloc((size_t)nq * (size_t)k * sizeof *gt);
	FILE *f;
	if (!gt)
		return NULL;
	if (path && (f = fopen(path, "rb"))) {
		int i = 0;
		for (; i < nq; i++) {
			int32_t kk;
			if (fread(&kk, 4, 1, f) != 1 || kk != k ||
			    fread(gt + (size_t)i * k, 4, (size_t)k, f) != (size_t)k)
				break;
		}
		fclose(f);
		if (i == nq)
			return gt;
	}
	for (int i = 0; i < nq && !*failed; i++)
		query(s, qs + (size_t)i * dim, dim, k, 1, where, gt + (size_t)i * k, failed);
	if (path && !*failed && (f = fopen(path, "wb"))) {
		int32_t kk = k;
		for (int i = 0; i < nq; i++) {
			fwrite(&kk, 4, 1, f);
			fwrite(gt + (size_t)i * k, 4, (size_t)k, f);
		}
		fclose(f);
	}
	return gt;
}

static int parse(int argc, char **argv, bopts *o)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},    {"queries", required_argument, NULL, 'q'},
		{"gt", required_argument, NULL, 'g'},      {"metric", required_argument, NULL, 'm'},
		{"db", required_argument, NULL, 'd'},      {"nq", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
		{"cold", required_argument, NULL, 'c'},    {"nprobes", required_argument, NULL, 'P'},
		{"refine", required_argument, NULL, 'R'},  {"partitions", required_argument, NULL, 'L'},
		{"sub-vectors", required_argument, NULL, 'M'}, {NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	tv_metric m;
	memset(o, 0, sizeof *o);
	o->metric = "cosine";
	o->k = 10;
	o->nq = 1000;
	o->cold = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->base = optarg; break;
		case 'q': o->queries = optarg; break;
		case 'g': o->gt = optarg; break;
		case 'd': o->db = optarg; break;
		case 'j': o->json = 1; break;
		case 'm':
			if (tv_metric_parse(&m, optarg)) {
				fprintf(stderr, "teavec bench: --metric: expected cosine, l2 or dot\n");
				return -1;
			}
			o->metric = optarg;
			break;
		case 'k':
		case 'n':
		case 'c':
		case 'P':
		case 'R':
		case 'L':
		case 'M': {
			long v = strtol(optarg, &end, 10);
			if (*end || v < (c == 'c' ? 0 : 1) || v > 1000000) {
				fprintf(stderr, "teavec bench: %s: expected a number, got '%s'\n",
				        c == 'k' ? "-k" : c == 'n' ? "--nq" : c == 'c' ? "--cold" : "an index option",
				        optarg);
				return -1;
			}
			if (c == 'k')
				o->k = (int)v;
			else if (c == 'n')
				o->nq = (int)v;
			else if (c == 'c')
				o->cold = v;
			else if (c == 'P')
				o->nprobes = v;
			else if (c == 'R')
				o->refine = v;
			else if (c == 'L')
				o->partitions = v;
			else
				o->sub_vectors = v;
			break;
		}
		case 'h': usage(stdout); return -2;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || !o->queries || (!o->base && o->cold < 0) || (o->cold >= 0 && !o->db)) {
		fprintf(stderr, "teavec bench: --base and --queries are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The cold-start child: open, answer one query, exit. */
static int cold(const bopts *o)
{
	fvecs qv;
	float *q;
	int failed = 0;
	tv_store *s;
	if (open_fvecs(&qv, o->queries))
		return TV_EXIT_RUNTIME;
	q = malloc(qv.dim * sizeof *q);
	if (!q || read_rows(&qv, (size_t)o->cold % qv.n, 1, q) || !(s = open_db(o->db, o))) {
		free(q);
		fclose(qv.f);
		return TV_EXIT_RUNTIME;
	}
	query(s, q, qv.dim, o->k, 0, NULL, NULL, &failed);
	tv_store_close(s);
	free(q);
	fclose(qv.f);
	return failed ? TV_EXIT_RUNTIME : TV_EXIT_OK;
}

/* Median ms of 5 fresh processes answering one query each. */
static double cold_start(const bopts *o, const char *self, const char *db)
{
	double ms[5];
	for (int r = 0; r < 5; r++) {
		char arg[16], kk[16];
		double t0 = tv_monotonic_s();
		pid_t pid;
		snprintf(arg, sizeof arg, "%d", r);
		snprintf(kk, sizeof kk, "%d", o->k);
		if ((pid = fork()) == 0) {
			execl(self, "teavec", "bench", "--cold", arg, "--db", db, "--queries", o->queries,
			      "--metric", o->metric, "-k", kk, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		ms[r] = (tv_monotonic_s() - t0) * 1e3;
	}
	qsort(ms, 5, sizeof *ms, cmpd);
	return ms[2];
}

static const struct {
	const char *name, *where, *suffix;
} filters[] = {
	{"path_1pct", "path = 'src/p17.md'", "-path"},
	{"meta_10pct", "metadata.cat = 'c3'", "-cat"},
	{"meta_50pct", "metadata.half = 1", "-half"},
};

/* "<gt without .ivecs><suffix>.ivecs" */
static char *beside(const char *gt, const char *suffix)
{
	size_t n = strlen(gt);
	if (n > 6 && !strcmp(gt + n - 6, ".ivecs"))
		n -= 6;
	return tv_sprintf("%.*s%s.ivecs", (int)n, gt, suffix);
}

int tv_cmd_bench(int argc, char **argv)
{
	bopts o;
	fvecs bv = {0}, qv = {0};
	float *qs = NULL;
	char tmpl[] = "/tmp/teavec-bench.XXXXXX", *stats = NULL, *gtpath = NULL;
	const char *db = NULL;
	int failed = 0, *gt = NULL, rc = parse(argc, argv, &o), nq;
	double ingest = 0, build = 0, up[5] = {0}, cold_ms, t = 0;
	run exact = {0}, idx = {0}, fex[3] = {{0}}, fix[3] = {{0}};
	struct rusage ru;
	json_t *out = NULL, *st;
	if (rc)
		return rc == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	g_nprobes = o.nprobes;
	g_refine = o.refine;
	if (o.cold >= 0)
		return cold(&o);
	if (open_fvecs(&bv, o.base) || open_fvecs(&qv, o.queries))
		goto fail;
	if (bv.dim != qv.dim) {
		fprintf(stderr, "teavec bench: %s has dimension %zu, %s %zu\n", o.base, bv.dim,
		        o.queries, qv.dim);
		goto fail;
	}
	nq = (int)TV_MIN((size_t)o.nq, qv.n);
	if (!(qs = malloc((size_t)nq * qv.dim * sizeof *qs)) || read_rows(&qv, 0, (size_t)nq, qs))
		goto fail;
	if (!(db = o.db) && !(db = mkdtemp(tmpl))) {
		perror("teavec bench: temporary directory");
		goto fail;
	}
	{
		tv_store *s = open_db(db, &o);
		if (!s)
			goto fail;
		/* ingest: the index is built once afterwards, timed on its own */
		if (tv_store_set_auto_index(s, COLL, 0))
			failed = 1;
		for (size_t i = 0; i < bv.n && !failed; i += 10000) {
			if (add_rows(s, &bv, i, TV_MIN((size_t)10000, bv.n - i), 0, &t))
				failed = 1;
			ingest += t;
		}
		getrusage(RUSAGE_SELF, &ru);
		gt = failed ? NULL : ground_truth(s, o.gt, qs, qv.dim, nq, o.k, NULL, &failed);
		t = tv_monotonic_s();
		if (!failed && tv_store_reindex(s, COLL)) {
			fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
			failed = 1;
		}
		build = tv_monotonic_s() - t;
		if (!failed) {
			exact = run_queries(s, qs, qv.dim, nq, o.k, 1, NULL, gt, &failed);
			idx = run_queries(s, qs, qv.dim, nq, o.k, 0, NULL, gt, &failed);
		}
		for (size_t f = 0; f < 3 && !failed; f++) {
			int *fgt;
			free(gtpath);
			gtpath = o.gt ? beside(o.gt, filters[f].suffix) : NULL;
			fgt = ground_truth(s, gtpath, qs, qv.dim, nq, o.k, filters[f].where, &failed);
			fex[f] = run_queries(s, qs, qv.dim, nq, o.k, 1, filters[f].where, fgt, &failed);
			fix[f] = run_queries(s, qs, qv.dim, nq, o.k, 0, filters[f].where, fgt, &failed);
			free(fgt);
		}
		for (int r = 0; r < 5 && !failed; r++) { /* 1,000 rows: 500 existing, 500 new */
			if (add_rows(s, &bv, bv.n - 500 + (size_t)r * 1000, 1000, r + 1, &t))
				failed = 1;
			up[r] = t * 1e3;
		}
		if (!failed && tv_store_stats(s, COLL, &stats))
			failed = 1;
		tv_store_close(s);
	}
	if (failed)
		goto fail;
	qsort(up, 5, sizeof *up, cmpd);
	cold_ms = cold_start(&o, "/proc/self/exe", db);
	st = json_loads(stats, 0, NULL);
	out = json_pack("{s:s,s:s,s:I,s:I,s:s,s:i,s:i,s:f,s:f,s:f,s:{s:f,s:f,s:f},s:{s:f,s:f,s:f},"
	                "s:o,s:f,s:f,s:I,s:O?,s:{s:I,s:I}}",
	                "system", "teavec", "version", tv_libversion(), "rows", (json_int_t)bv.n, "dim",
	                (json_int_t)bv.dim, "metric", o.metric, "k", o.k, "queries", nq,
	                "ingest_rows_per_s", (double)bv.n / ingest, "peak_rss_mb",
	                ru.ru_maxrss / 1024.0, "index_build_s", build, "exact", "p50_ms", exact.p50,
	                "p99_ms", exact.p99, "recall", exact.recall, "index", "p50_ms", idx.p50,
	                "p99_ms", idx.p99, "recall", idx.recall, "filtered", json_object(),
	                "upsert_1000_median_ms", up[2], "cold_start_ms", cold_ms, "disk_bytes",
	                json_integer_value(json_object_get(st, "bytes")), "index_stats",
	                json_object_get(st, "index"), "query_settings", "nprobes",
	                (json_int_t)o.nprobes, "refine_factor", (json_int_t)o.refine);
	for (size_t f = 0; f < 3; f++)
		json_object_set_new(json_object_get(out, "filtered"), filters[f].name,
		                    json_pack("{s:s,s:f,s:f,s:f,s:f}", "where", filters[f].where,
		                              "exact_p50_ms", fex[f].p50, "index_p50_ms", fix[f].p50,
		                              "index_recall", fix[f].recall, "exact_recall",
		                              fex[f].recall));
	json_decref(st);
	if (o.json) {
		char *j = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		puts(j);
		free(j);
	} else {
		printf("%zu x %zu, %s, k = %d, %d queries\n", bv.n, bv.dim, o.metric, o.k, nq);
		printf("  ingest               %10.0f rows/s   peak RSS %.1f MB\n", (double)bv.n / ingest,
		       ru.ru_maxrss / 1024.0);
		printf("  index build          %10.2f s\n", build);
		printf("  exact                p50 %8.3f ms  p99 %8.3f ms  recall@%d %.4f\n", exact.p50,
		       exact.p99, o.k, exact.recall);
		printf("  indexed              p50 %8.3f ms  p99 %8.3f ms  recall@%d %.4f\n", idx.p50,
		       idx.p99, o.k, idx.recall);
		for (size_t f = 0; f < 3; f++)
			printf("  %-20s exact p50 %8.3f ms  indexed p50 %8.3f ms  recall@%d %.4f\n",
			       filters[f].where, fex[f].p50, fix[f].p50, o.k, fix[f].recall);
		printf("  upsert 1,000 rows    %10.1f ms (median of 5)\n", up[2]);
		printf("  cold start           %10.1f ms (median of 5)\n", cold_ms);
		printf("  on disk              %10.1f MB\n",
		       (double)json_integer_value(json_object_get(out, "disk_bytes")) / 1e6);
	}
	rc = TV_EXIT_OK;
	goto done;
fail:
	rc = TV_EXIT_RUNTIME;
done:
	if (!o.db && db == tmpl) {
		char *cmd = tv_sprintf("rm -rf '%s'", tmpl);
		if (cmd && system(cmd)) { /* best effort */ }
		free(cmd);
	}
	json_decref(out);
	free(stats);
	free(gtpath);
	free(gt);
	free(qs);
	if (bv.f)
		fclose(bv.f);
	if (qv.f)
		fclose(qv.f);
	return rc;
}
